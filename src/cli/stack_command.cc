// `stackbill stack token`: the stack side of registration — writes the
// registration token of SPEC §3.1 that a registrant PUTs.

#include <fcntl.h>
#include <fmt/format.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <iostream>
#include <memory>

#include "cli/api_commands.h"
#include "core/entities.h"
#include "core/error.h"
#include "core/guid.h"
#include "services/access_tokens.h"
#include "wire/registration_token.h"

namespace stackbill {
namespace {

struct StackTokenArgs {
  std::string cloud_id;
  std::string billing_model;
  std::string usage_reporting;  // "on", "off" or empty: the model's default
  std::string agreement_number;
  std::string asset_tag;
  std::string deployment_directory_id;
  bool multi_tenant = false;
  std::string object_id;
  std::string out;
};

absl::StatusOr<RegistrationToken> TokenFromArgs(const StackTokenArgs& args) {
  RegistrationToken token;
  auto cloud_id = Guid::Parse(args.cloud_id);
  if (!cloud_id.ok()) return Annotate(cloud_id.status(), "--cloud-id");
  token.cloud_id = *cloud_id;
  auto model = ParseBillingModel(args.billing_model);
  if (!model.ok()) return Annotate(model.status(), "--billing-model");
  token.billing_model = *model;
  // Azure Stack's defaults (SPEC §3.1): Capacity and Custom off, others on.
  token.usage_reporting_enabled =
      *model != BillingModel::kCapacity && *model != BillingModel::kCustom;
  if (args.usage_reporting == "on") token.usage_reporting_enabled = true;
  if (args.usage_reporting == "off") token.usage_reporting_enabled = false;
  if (!args.agreement_number.empty()) token.agreement_number = args.agreement_number;
  if (!args.asset_tag.empty()) token.ms_asset_tag = args.asset_tag;
  if (!args.deployment_directory_id.empty()) {
    auto directory = Guid::Parse(args.deployment_directory_id);
    if (!directory.ok()) return Annotate(directory.status(), "--deployment-directory-id");
    token.deployment_directory_id = *directory;
  }
  token.multi_tenant = args.multi_tenant;
  if (!args.object_id.empty()) {
    auto object_id = Guid::Parse(args.object_id);
    if (!object_id.ok()) return Annotate(object_id.status(), "--object-id");
    token.object_id = *object_id;
  } else {
    auto object_id = NewRandomGuid();
    if (!object_id.ok()) return object_id.status();
    token.object_id = *object_id;
  }
  token.issuer = "stackbill";
  token.version = "1.0";
  return token;
}

absl::Status WriteTokenFile(const std::string& path, const std::string& text) {
  // The token lets whoever holds it register the stack: 0600 like every secret.
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) return absl::InternalError(fmt::format("{}: {}", path, std::strerror(errno)));
  const std::string line = text + "\n";
  std::size_t written = 0;
  while (written < line.size()) {
    const ssize_t n = ::write(fd, line.data() + written, line.size() - written);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      ::close(fd);
      return absl::InternalError(fmt::format("{}: {}", path, std::strerror(errno)));
    }
    written += static_cast<std::size_t>(n);
  }
  ::close(fd);
  return absl::OkStatus();
}

}  // namespace

void AddStackTokenCommand(CLI::App& stack, int& exit_code) {
  auto args = std::make_shared<StackTokenArgs>();
  auto* command = stack.add_subcommand(
      "token", "Write the stack's registration token (SPEC §3.1) for a registrant to PUT");
  command->add_option("--cloud-id", args->cloud_id, "The stack's cloudId (GUID)")->required();
  command
      ->add_option("--billing-model", args->billing_model,
                   "PayAsYouUse, Capacity, Development, Custom or Ruggedized")
      ->required();
  command
      ->add_option("--usage-reporting", args->usage_reporting,
                   "on or off (default: the billing model's)")
      ->check(CLI::IsMember({"on", "off"}));
  command->add_option("--agreement-number", args->agreement_number, "Capacity's agreement number");
  command->add_option("--asset-tag", args->asset_tag, "Custom's asset tag (msAssetTag)");
  command->add_option("--deployment-directory-id", args->deployment_directory_id,
                      "The directory the stack is deployed in");
  command->add_flag("--multi-tenant", args->multi_tenant, "The stack is multi-tenant");
  command->add_option("--object-id", args->object_id, "objectId (default: a random GUID)");
  command->add_option("--out", args->out, "Write the token to this file (mode 0600)");
  command->callback([args, &exit_code] {
    exit_code = 1;
    auto token = TokenFromArgs(*args);
    if (!token.ok()) return PrintError(token.status());
    const std::string text = EncodeRegistrationToken(*token);
    if (args->out.empty()) {
      std::cout << text << "\n";
    } else {
      if (auto status = WriteTokenFile(args->out, text); !status.ok()) {
        return PrintError(status);
      }
      std::cerr << "registration token for cloud " << token->cloud_id.ToString() << " written to "
                << args->out << "\n";
    }
    exit_code = 0;
  });
}

}  // namespace stackbill
