#include <sqlite3.h>

#include <iostream>

#include "cli/commands.h"

namespace stackbill {

void RegisterVersionCommand(CLI::App& app, int& exit_code) {
  auto* command = app.add_subcommand("version", "Print stackbill's version and its libraries'");
  command->callback([&exit_code] {
    std::cout << "stackbill " << STACKBILL_VERSION << "\n"
              << "sqlite " << sqlite3_libversion() << "\n";
    exit_code = 0;
  });
}

}  // namespace stackbill
