#pragma once

// Subcommands of the `stackbill` binary. Each Register* adds one subcommand to
// the CLI11 app; the callback runs it and sets `exit_code`.

#include <CLI/CLI.hpp>

namespace stackbill {

void RegisterVersionCommand(CLI::App& app, int& exit_code);
void RegisterInitCommand(CLI::App& app, int& exit_code);
void RegisterBackupCommand(CLI::App& app, int& exit_code);
void RegisterMetersCommand(CLI::App& app, int& exit_code);
void RegisterServeCommand(CLI::App& app, int& exit_code);
void RegisterDevCertCommand(CLI::App& app, int& exit_code);
void RegisterLoginCommand(CLI::App& app, int& exit_code);
void RegisterApiCommands(CLI::App& app, int& exit_code);
void RegisterWorldCommand(CLI::App& app, int& exit_code);
void RegisterSimulateCommand(CLI::App& app, int& exit_code);
void RegisterForwardCommand(CLI::App& app, int& exit_code);

}  // namespace stackbill
