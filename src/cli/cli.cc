#include "cli/cli.h"

#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include "cli/commands.h"

namespace stackbill {

int RunCli(int argc, char** argv) {
  // Logs go to stderr so that stdout carries only a command's result (a
  // token, a table) and can be piped.
  spdlog::set_default_logger(spdlog::stderr_color_mt("stackbill"));
  spdlog::set_pattern("%Y-%m-%dT%H:%M:%S.%eZ %^%l%$ %v", spdlog::pattern_time_type::utc);

  CLI::App app(
      "stackbill meters and bills multi-tenant Azure-Stack-style clouds for a Cloud Solution "
      "Provider: stacks forward hourly usage, registrations route it to the subscriptions that "
      "pay, and stackbill rates it and invoices the CSP partner.",
      "stackbill");
  app.require_subcommand(1);
  app.footer("Run 'stackbill COMMAND --help' for a command's options. Docs: README.md, docs/.");
  int exit_code = 0;
  RegisterVersionCommand(app, exit_code);
  RegisterInitCommand(app, exit_code);
  RegisterBackupCommand(app, exit_code);
  RegisterMetersCommand(app, exit_code);
  RegisterServeCommand(app, exit_code);
  RegisterDevCertCommand(app, exit_code);
  RegisterLoginCommand(app, exit_code);
  RegisterApiCommands(app, exit_code);
  RegisterWorldCommand(app, exit_code);
  RegisterSimulateCommand(app, exit_code);
  RegisterForwardCommand(app, exit_code);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    const int code = app.exit(e);
    return code == 0 ? 0 : 2;
  }
  return exit_code;
}

}  // namespace stackbill
