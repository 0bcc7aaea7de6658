// `stackbill dev-cert`: a self-signed certificate and key for localhost
// (SPEC §8), for `serve --tls-cert/--tls-key` and clients' --ca-file.

#include <spdlog/spdlog.h>

#include <filesystem>
#include <iostream>

#include "cli/commands.h"
#include "cli/store_options.h"
#include "core/error.h"
#include "http/dev_cert.h"

namespace stackbill {

void RegisterDevCertCommand(CLI::App& app, int& exit_code) {
  struct Args {
    std::string out_dir;
    bool force = false;
  };
  auto args = std::make_shared<Args>();
  auto* command = app.add_subcommand(
      "dev-cert",
      "Write a self-signed development certificate (cert.pem) and key (key.pem, mode 0600) "
      "for localhost, 127.0.0.1 and ::1, valid for one year");
  command->add_option("--out-dir", args->out_dir, "Directory to write cert.pem and key.pem to")
      ->required();
  command->add_flag("--force", args->force, "Replace existing files");
  command->callback([args, &exit_code] {
    const auto certificate = MakeDevCertificate(WallClockNow());
    if (!certificate.ok()) {
      spdlog::error("dev-cert: {}", Message(certificate.status()));
      exit_code = 1;
      return;
    }
    if (absl::Status written = WriteDevCertificate(*certificate, args->out_dir, args->force);
        !written.ok()) {
      spdlog::error("dev-cert: {}", Message(written));
      exit_code = 1;
      return;
    }
    const std::filesystem::path dir(args->out_dir);
    std::cout << "certificate: " << (dir / "cert.pem").string() << "\n"
              << "key:         " << (dir / "key.pem").string() << "\n"
              << "Clients trust it with --ca-file " << (dir / "cert.pem").string() << "\n";
    exit_code = 0;
  });
}

}  // namespace stackbill
