#pragma once

// The `stackbill` command line: parses arguments, wires the chosen store
// backend and runs one subcommand. The only place that names a backend.

namespace stackbill {

// Runs the command line; returns the process exit code (0 success, 1 the
// command failed, 2 bad usage).
int RunCli(int argc, char** argv);

}  // namespace stackbill
