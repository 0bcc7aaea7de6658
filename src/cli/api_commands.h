#pragma once

// Shared pieces of the commands that talk to stackbill's HTTP API (the CLI
// twins of SPEC §6.1, `stack token`, `world apply`).

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

#include "absl/status/status.h"

namespace stackbill {

// The api-version the CLI sends on Microsoft.AzureStack paths.
inline constexpr std::string_view kAzureStackApiVersion = "2017-06-01";

// The ARM path of a registration (no query).
std::string RegistrationPath(std::string_view subscription_id, std::string_view resource_group,
                             std::string_view name);

// Prints `status` to stderr as "code: message" (the ARM error code when the
// status carries one, else the canonical code's name).
void PrintError(const absl::Status& status);

// Prints a JSON result to stdout, indented.
void PrintJson(const nlohmann::json& value);

// Adds `stack token` to the `stack` command (stack_command.cc).
void AddStackTokenCommand(CLI::App& stack, int& exit_code);

}  // namespace stackbill
