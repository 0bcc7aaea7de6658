// The CLI twins of the management API (SPEC §6.1) and of the
// Microsoft.AzureStack calls (SPEC §3): `stackbill <noun> <verb> …`. Each
// verb builds one request from its flags, sends it with the endpoint and
// token from flags, environment or profile (profile.h), and prints the JSON
// answer; an error answer prints "code: message" and exits 1.

#include "cli/api_commands.h"

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <charconv>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iostream>
#include <map>
#include <memory>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include "cli/commands.h"
#include "cli/profile.h"
#include "core/error.h"
#include "core/status_macros.h"
#include "http/client.h"
#include "services/access_tokens.h"

namespace stackbill {
namespace {

// The flags of one verb, by name, plus the connection flags.
struct Fields {
  ConnectionFlags connection;
  std::map<std::string, std::string> values;
  std::map<std::string, std::vector<std::string>> lists;
  bool first_page_only = false;
  std::string output = "json";

  const std::string& Get(const std::string& key) const {
    static const std::string kEmpty;
    auto it = values.find(key);
    return it == values.end() ? kEmpty : it->second;
  }
  std::string Segment(const std::string& key) const { return UrlEncode(Get(key)); }
  // Sets body[json_key] to the flag's value when it was given.
  void CopyTo(nlohmann::json& body, const std::string& key, const char* json_key) const {
    if (!Get(key).empty()) body[json_key] = Get(key);
  }
};

struct ApiRequest {
  std::string method;
  std::string target;
  std::optional<nlohmann::json> body;
  bool paged = false;  // a list: follow nextLink and print the merged value
  // A body sent as it is, with its media type, instead of `body` (NDJSON
  // usage; JSON whose numbers must keep their digits).
  std::optional<std::string> text_body = std::nullopt;
  std::string content_type = "application/json";
  // Print the answer's body as it came (e.g. CSV) instead of as JSON.
  bool raw_answer = false;
};

using RequestBuilder = std::function<absl::StatusOr<ApiRequest>(const Fields&)>;

// The path and query of an absolute nextLink, sent to our own endpoint (the
// server builds nextLink from its public base URL, which may name another
// host for the same service).
std::string TargetOf(const std::string& link) {
  const auto scheme = link.find("://");
  if (scheme == std::string::npos) return link;
  const auto path = link.find('/', scheme + 3);
  return path == std::string::npos ? "/" : link.substr(path);
}

absl::StatusOr<nlohmann::json> Execute(HttpClient& client, const ApiRequest& request) {
  if (request.text_body) {
    return client.CallWithText(request.method, request.target, *request.text_body,
                               request.content_type);
  }
  const nlohmann::json* body = request.body ? &*request.body : nullptr;
  auto first = client.Call(request.method, request.target, body);
  if (!first.ok() || !request.paged || !first->is_object() || !first->contains("value")) {
    return first;
  }
  nlohmann::json merged = {{"value", (*first)["value"]}};
  nlohmann::json page = *std::move(first);
  // A bound on pages guards against a server that links a page to itself.
  for (int pages = 1; pages < 10000; ++pages) {
    if (!page.contains("nextLink") || !page["nextLink"].is_string()) break;
    const std::string link = page["nextLink"].get<std::string>();
    if (link.empty()) break;
    auto next = client.Call("GET", TargetOf(link));
    if (!next.ok()) return next.status();
    page = *std::move(next);
    if (page.contains("value") && page["value"].is_array()) {
      for (auto& item : page["value"]) merged["value"].push_back(std::move(item));
    }
  }
  return merged;
}

std::string Cell(const nlohmann::json& value) {
  if (value.is_string()) return value.get<std::string>();
  if (value.is_null()) return "-";
  return value.dump();
}

// A compact view: a list as one row per item with the items' scalar fields as
// columns; an object as "key: value" lines of its scalar fields.
void PrintTable(const nlohmann::json& answer) {
  if (!answer.is_object()) return PrintJson(answer);
  if (!answer.contains("value") || !answer["value"].is_array()) {
    for (const auto& [key, value] : answer.items()) {
      if (!value.is_structured()) std::cout << key << ": " << Cell(value) << "\n";
    }
    return;
  }
  const nlohmann::json& items = answer["value"];
  std::vector<std::string> columns;
  for (const auto& item : items) {
    if (!item.is_object()) continue;
    for (const auto& [key, value] : item.items()) {
      if (!value.is_structured() &&
          std::find(columns.begin(), columns.end(), key) == columns.end()) {
        columns.push_back(key);
      }
    }
  }
  std::vector<std::size_t> widths;
  widths.reserve(columns.size());
  for (const auto& column : columns) widths.push_back(column.size());
  std::vector<std::vector<std::string>> rows;
  for (const auto& item : items) {
    std::vector<std::string> row;
    for (std::size_t i = 0; i < columns.size(); ++i) {
      row.push_back(item.is_object() && item.contains(columns[i]) ? Cell(item[columns[i]]) : "");
      widths[i] = std::max(widths[i], row.back().size());
    }
    rows.push_back(std::move(row));
  }
  auto print_row = [&widths](const std::vector<std::string>& row) {
    std::string line;
    for (std::size_t i = 0; i < row.size(); ++i) {
      line += i + 1 == row.size() ? row[i] : fmt::format("{:<{}}  ", row[i], widths[i]);
    }
    line.erase(line.find_last_not_of(' ') + 1);
    std::cout << line << "\n";
  };
  print_row(columns);
  for (const auto& row : rows) print_row(row);
  std::cout << fmt::format("{} item(s)\n", items.size());
}

class Noun {
 public:
  Noun(CLI::App& app, const std::string& name, const std::string& description, int& exit_code)
      : command_(*app.add_subcommand(name, description)), exit_code_(exit_code) {
    command_.require_subcommand(1);
  }
  // More verbs for a command registered elsewhere (e.g. `meters`).
  Noun(CLI::App& existing, int& exit_code) : command_(existing), exit_code_(exit_code) {}

  CLI::App& command() { return command_; }

  // Adds a verb whose options `add_options` declares into the verb's Fields.
  void Verb(const std::string& name, const std::string& description,
            const std::function<void(CLI::App&, Fields&)>& add_options, RequestBuilder build) {
    auto fields = std::make_shared<Fields>();  // shared with the callback, which outlives us
    CLI::App& verb = *command_.add_subcommand(name, description);
    add_options(verb, *fields);
    AddConnectionOptions(verb, fields->connection);
    verb.add_option("-o,--output", fields->output, "json, or table (scalar fields only)")
        ->check(CLI::IsMember({"json", "table"}))
        ->capture_default_str();
    int& exit_code = exit_code_;
    verb.callback([fields, build = std::move(build), &exit_code] {
      exit_code = 1;
      auto request = build(*fields);
      if (!request.ok()) return PrintError(request.status());
      auto client = ConnectFromFlags(fields->connection);
      if (!client.ok()) return PrintError(client.status());
      if (request->raw_answer) {
        auto response = (*client)->Send(request->method, request->target, std::nullopt);
        if (!response.ok()) return PrintError(response.status());
        if (response->status < 200 || response->status > 299) {
          return PrintError(StatusFromErrorResponse(*response));
        }
        std::cout << response->body;
        exit_code = 0;
        return;
      }
      auto answer = Execute(**client, *request);
      if (!answer.ok()) return PrintError(answer.status());
      if (answer->is_null()) {
        // Nothing to print (e.g. a DELETE's empty answer).
      } else if (fields->output == "table") {
        PrintTable(*answer);
      } else {
        PrintJson(*answer);
      }
      exit_code = 0;
    });
  }

 private:
  CLI::App& command_;
  int& exit_code_;
};

// Option helpers binding into Fields.
CLI::Option* Opt(CLI::App& verb, Fields& f, const std::string& flag, const std::string& key,
                 const std::string& description, bool required = false) {
  auto* option = verb.add_option(flag, f.values[key], description);
  if (required) option->required();
  return option;
}
CLI::Option* Arg(CLI::App& verb, Fields& f, const std::string& name, const std::string& key,
                 const std::string& description) {
  return verb.add_option(name, f.values[key], description)->required();
}

void NoOptions(CLI::App&, Fields&) {}

ApiRequest Get(std::string target, bool paged = false) {
  return {"GET", std::move(target), std::nullopt, paged};
}

// A GET of `target` with format=csv added to its query, its answer printed
// as it came.
ApiRequest CsvGet(std::string target) {
  target += target.find('?') == std::string::npos ? "?format=csv" : "&format=csv";
  ApiRequest request = Get(std::move(target));
  request.raw_answer = true;
  return request;
}

void RegisterDirectoryCommands(CLI::App& app, int& exit_code) {
  Noun noun(app, "directory", "Directories (identity realms, like Azure AD tenants)", exit_code);
  noun.Verb(
      "create", "Create a directory (POST /v1/directories)",
      [](CLI::App& v, Fields& f) {
        Opt(v, f, "--display-name", "displayName", "Display name", true);
        v.add_option("--domain", f.lists["domains"], "A domain (repeat for several)")->required();
        Opt(v, f, "--id", "id", "Directory GUID (default: chosen by the server)");
        Opt(v, f, "--owner-partner", "ownerPartnerId", "Partner that owns the directory");
      },
      [](const Fields& f) -> absl::StatusOr<ApiRequest> {
        nlohmann::json body = {{"displayName", f.Get("displayName")},
                               {"domains", f.lists.at("domains")}};
        f.CopyTo(body, "id", "id");
        f.CopyTo(body, "ownerPartnerId", "ownerPartnerId");
        return ApiRequest{"POST", "/v1/directories", body};
      });
  noun.Verb(
      "list", "List directories (GET /v1/directories)", NoOptions,
      [](const Fields&) -> absl::StatusOr<ApiRequest> { return Get("/v1/directories", true); });
  noun.Verb(
      "show", "Show a directory (GET /v1/directories/{id})",
      [](CLI::App& v, Fields& f) { Arg(v, f, "id", "id", "Directory GUID"); },
      [](const Fields& f) -> absl::StatusOr<ApiRequest> {
        return Get("/v1/directories/" + f.Segment("id"));
      });
}

void RegisterPrincipalCommands(CLI::App& app, int& exit_code) {
  Noun noun(app, "principal", "Principals (users and service principals)", exit_code);
  noun.Verb(
      "create", "Create a principal (POST /v1/principals)",
      [](CLI::App& v, Fields& f) {
        Opt(v, f, "--directory", "directoryId", "Directory GUID", true);
        Opt(v, f, "--name", "name", "User principal name", true);
        f.values["kind"] = "user";
        Opt(v, f, "--kind", "kind", "user or servicePrincipal")->capture_default_str();
      },
      [](const Fields& f) -> absl::StatusOr<ApiRequest> {
        nlohmann::json body = {{"directoryId", f.Get("directoryId")},
                               {"name", f.Get("name")},
                               {"kind", f.Get("kind")}};
        return ApiRequest{"POST", "/v1/principals", body};
      });
  noun.Verb(
      "show", "Show a principal (GET /v1/principals/{objectId})",
      [](CLI::App& v, Fields& f) { Arg(v, f, "object-id", "objectId", "Principal objectId"); },
      [](const Fields& f) -> absl::StatusOr<ApiRequest> {
        return Get("/v1/principals/" + f.Segment("objectId"));
      });
}

void RegisterTokenCommands(CLI::App& app, int& exit_code) {
  Noun noun(app, "token", "Bearer tokens of principals", exit_code);
  noun.Verb(
      "create", "Issue a token (POST /v1/principals/{objectId}/tokens); shown once",
      [](CLI::App& v, Fields& f) {
        Opt(v, f, "--principal", "principal", "objectId of the principal", true);
        Opt(v, f, "--expires-in-hours", "expiresInHours", "Lifetime in hours")
            ->check(CLI::PositiveNumber & CLI::TypeValidator<int>());
      },
      [](const Fields& f) -> absl::StatusOr<ApiRequest> {
        nlohmann::json body = nlohmann::json::object();
        if (const std::string& hours = f.Get("expiresInHours"); !hours.empty()) {
          int value = 0;
          std::from_chars(hours.data(), hours.data() + hours.size(), value);
          body["expiresInHours"] = value;
        }
        return ApiRequest{"POST", "/v1/principals/" + f.Segment("principal") + "/tokens", body};
      });
  noun.Verb(
      "revoke", "Revoke a token (DELETE /v1/tokens/{id})",
      [](CLI::App& v, Fields& f) { Arg(v, f, "id", "id", "Token id"); },
      [](const Fields& f) -> absl::StatusOr<ApiRequest> {
        return ApiRequest{"DELETE", "/v1/tokens/" + f.Segment("id"), std::nullopt};
      });
}

void RegisterPartnerCommands(CLI::App& app, int& exit_code) {
  Noun noun(app, "partner", "CSP partners (direct, indirect providers and resellers)", exit_code);
  noun.Verb(
      "create", "Create a partner (POST /v1/partners)",
      [](CLI::App& v, Fields& f) {
        Opt(v, f, "--name", "name", "Partner name", true);
        Opt(v, f, "--kind", "kind", "direct, indirectProvider or indirectReseller", true);
        Opt(v, f, "--billing-currency", "billingCurrency", "ISO 4217 code", true);
        Opt(v, f, "--id", "id", "Partner id (default: chosen by the server)");
        Opt(v, f, "--parent", "parentPartnerId", "Indirect provider of a reseller");
      },
      [](const Fields& f) -> absl::StatusOr<ApiRequest> {
        nlohmann::json body = {{"name", f.Get("name")},
                               {"kind", f.Get("kind")},
                               {"billingCurrency", f.Get("billingCurrency")}};
        f.CopyTo(body, "id", "id");
        f.CopyTo(body, "parentPartnerId", "parentPartnerId");
        return ApiRequest{"POST", "/v1/partners", body};
      });
  noun.Verb("list", "List partners (GET /v1/partners)", NoOptions,
            [](const Fields&) -> absl::StatusOr<ApiRequest> { return Get("/v1/partners", true); });
  noun.Verb(
      "show", "Show a partner (GET /v1/partners/{id})",
      [](CLI::App& v, Fields& f) { Arg(v, f, "id", "id", "Partner id"); },
      [](const Fields& f) -> absl::StatusOr<ApiRequest> {
        return Get("/v1/partners/" + f.Segment("id"));
      });
}

void RegisterSubscriptionCommands(CLI::App& app, int& exit_code) {
  Noun noun(app, "subscription", "Subscriptions (what usage is charged to)", exit_code);
  noun.Verb(
      "create", "Create a subscription (POST /v1/subscriptions)",
      [](CLI::App& v, Fields& f) {
        Opt(v, f, "--offer-type", "offerType",
            "CSP, APSS, PayAsYouGo, EnterpriseAgreement or DevTest", true);
        Opt(v, f, "--directory", "directoryId", "Directory GUID", true);
        Opt(v, f, "--display-name", "displayName", "Display name", true);
        Opt(v, f, "--id", "subscriptionId", "Subscription GUID (default: chosen by the server)");
        Opt(v, f, "--partner", "partnerId", "Owner partner (CSP, APSS)");
        Opt(v, f, "--billing-currency", "billingCurrency", "Currency (direct-billed offers)");
      },
      [](const Fields& f) -> absl::StatusOr<ApiRequest> {
        nlohmann::json body = {{"offerType", f.Get("offerType")},
                               {"directoryId", f.Get("directoryId")},
                               {"displayName", f.Get("displayName")}};
        f.CopyTo(body, "subscriptionId", "subscriptionId");
        f.CopyTo(body, "partnerId", "partnerId");
        f.CopyTo(body, "billingCurrency", "billingCurrency");
        return ApiRequest{"POST", "/v1/subscriptions", body};
      });
  noun.Verb(
      "list", "List subscriptions (GET /v1/subscriptions)", NoOptions,
      [](const Fields&) -> absl::StatusOr<ApiRequest> { return Get("/v1/subscriptions", true); });
  noun.Verb(
      "show", "Show a subscription (GET /v1/subscriptions/{id})",
      [](CLI::App& v, Fields& f) { Arg(v, f, "id", "id", "Subscription GUID"); },
      [](const Fields& f) -> absl::StatusOr<ApiRequest> {
        return Get("/v1/subscriptions/" + f.Segment("id"));
      });
}

void RegisterRoleCommands(CLI::App& app, int& exit_code) {
  Noun noun(app, "role", "Role assignments (PlatformAdmin, PartnerAdmin, Owner, Reader)",
            exit_code);
  noun.Verb(
      "assign", "Assign a role (PUT /v1/roleAssignments/{id})",
      [](CLI::App& v, Fields& f) {
        Opt(v, f, "--principal", "principalId", "objectId of the principal", true);
        Opt(v, f, "--role", "role", "PlatformAdmin, PartnerAdmin, Owner or Reader", true);
        Opt(v, f, "--scope", "scope", "/, /partners/{id} or /subscriptions/{id}", true);
        Opt(v, f, "--id", "id", "Assignment id (default: a random GUID)");
      },
      [](const Fields& f) -> absl::StatusOr<ApiRequest> {
        std::string id = f.Get("id");
        if (id.empty()) {
          auto random = NewRandomGuid();
          if (!random.ok()) return random.status();
          id = random->ToString();
        }
        nlohmann::json body = {{"principalId", f.Get("principalId")},
                               {"role", f.Get("role")},
                               {"scope", f.Get("scope")}};
        return ApiRequest{"PUT", "/v1/roleAssignments/" + UrlEncode(id), body};
      });
  noun.Verb(
      "list", "List role assignments (GET /v1/roleAssignments)",
      [](CLI::App& v, Fields& f) {
        Opt(v, f, "--principal", "principalId", "Only this principal's");
      },
      [](const Fields& f) -> absl::StatusOr<ApiRequest> {
        std::string target = "/v1/roleAssignments";
        if (!f.Get("principalId").empty()) target += "?principalId=" + f.Segment("principalId");
        return Get(target, true);
      });
  noun.Verb(
      "remove", "Remove a role assignment (DELETE /v1/roleAssignments/{id})",
      [](CLI::App& v, Fields& f) { Arg(v, f, "id", "id", "Assignment id"); },
      [](const Fields& f) -> absl::StatusOr<ApiRequest> {
        return ApiRequest{"DELETE", "/v1/roleAssignments/" + f.Segment("id"), std::nullopt};
      });
}

void RegisterAuditCommands(CLI::App& app, int& exit_code) {
  Noun noun(app, "audit", "The audit log", exit_code);
  noun.Verb(
      "list", "The audit log, newest first (GET /v1/audit)",
      [](CLI::App& v, Fields& f) {
        v.add_flag("--first-page-only", f.first_page_only, "Only the newest page");
      },
      [](const Fields& f) -> absl::StatusOr<ApiRequest> {
        return Get("/v1/audit", !f.first_page_only);
      });
}

// --subscription, --resource-group and --name of a registration.
void RegistrationOptions(CLI::App& v, Fields& f, bool with_name = true) {
  Opt(v, f, "--subscription", "subscription", "Default subscription GUID (R4)", true);
  Opt(v, f, "--resource-group", "resourceGroup", "Resource group", with_name);
  if (with_name) Opt(v, f, "--name", "name", "Registration name", true);
}

std::string RegistrationPathOf(const Fields& f) {
  return RegistrationPath(f.Get("subscription"), f.Get("resourceGroup"), f.Get("name"));
}

std::string WithApiVersion(const std::string& target) {
  return target + (target.find('?') == std::string::npos ? "?" : "&") +
         "api-version=" + std::string(kAzureStackApiVersion);
}

void RegisterRegistrationCommands(CLI::App& app, int& exit_code) {
  Noun noun(app, "registration", "Microsoft.AzureStack registrations (SPEC §3)", exit_code);
  noun.Verb(
      "put", "Create or update a registration with a registration token",
      [](CLI::App& v, Fields& f) {
        RegistrationOptions(v, f);
        auto* text = Opt(v, f, "--registration-token", "registrationToken",
                         "The token from 'stackbill stack token'");
        auto* file = Opt(v, f, "--registration-token-file", "registrationTokenFile",
                         "A file holding the token");
        text->excludes(file);
        f.values["location"] = "global";
        Opt(v, f, "--location", "location", "ARM location")->capture_default_str();
      },
      [](const Fields& f) -> absl::StatusOr<ApiRequest> {
        std::string token = f.Get("registrationToken");
        if (!f.Get("registrationTokenFile").empty()) {
          std::ifstream in(f.Get("registrationTokenFile"));
          if (!in) {
            return InvalidArgumentError(
                "InvalidArgument", fmt::format("cannot read {}", f.Get("registrationTokenFile")));
          }
          std::getline(in, token);
        }
        if (token.empty()) {
          return InvalidArgumentError("InvalidArgument",
                                      "give --registration-token or --registration-token-file");
        }
        nlohmann::json body = {{"location", f.Get("location")},
                               {"properties", {{"registrationToken", token}}}};
        return ApiRequest{"PUT", WithApiVersion(RegistrationPathOf(f)), body};
      });
  noun.Verb(
      "show", "Show a registration", [](CLI::App& v, Fields& f) { RegistrationOptions(v, f); },
      [](const Fields& f) -> absl::StatusOr<ApiRequest> {
        return Get(WithApiVersion(RegistrationPathOf(f)));
      });
  noun.Verb(
      "list", "List registrations of a subscription (or of one resource group)",
      [](CLI::App& v, Fields& f) { RegistrationOptions(v, f, /*with_name=*/false); },
      [](const Fields& f) -> absl::StatusOr<ApiRequest> {
        std::string target = "/subscriptions/" + f.Segment("subscription");
        if (!f.Get("resourceGroup").empty()) {
          target += "/resourceGroups/" + f.Segment("resourceGroup");
        }
        target += "/providers/Microsoft.AzureStack/registrations";
        return Get(WithApiVersion(target), true);
      });
  noun.Verb(
      "delete", "Delete a registration", [](CLI::App& v, Fields& f) { RegistrationOptions(v, f); },
      [](const Fields& f) -> absl::StatusOr<ApiRequest> {
        return ApiRequest{"DELETE", WithApiVersion(RegistrationPathOf(f)), std::nullopt};
      });
  noun.Verb(
      "activation-key", "Get (rotate) the stack's activation key (getactivationkey)",
      [](CLI::App& v, Fields& f) { RegistrationOptions(v, f); },
      [](const Fields& f) -> absl::StatusOr<ApiRequest> {
        return ApiRequest{"POST", WithApiVersion(RegistrationPathOf(f) + "/getactivationkey"),
                          std::nullopt};
      });
}

void RegisterCustomerSubscriptionCommands(CLI::App& app, int& exit_code) {
  Noun noun(app, "customer-subscription",
            "Customer subscriptions of a registration (SPEC §3, R5/R6)", exit_code);
  auto options = [](bool with_id) {
    return [with_id](CLI::App& v, Fields& f) {
      Opt(v, f, "--subscription", "subscription", "The registration's default subscription", true);
      Opt(v, f, "--resource-group", "resourceGroup", "Resource group", true);
      Opt(v, f, "--registration", "name", "Registration name", true);
      if (with_id) Opt(v, f, "--id", "id", "Customer's CSP subscription GUID", true);
    };
  };
  auto path = [](const Fields& f) {
    std::string target = RegistrationPathOf(f) + "/customerSubscriptions";
    if (!f.Get("id").empty()) target += "/" + f.Segment("id");
    return target;
  };
  noun.Verb(
      "put", "Map a customer's tenant to its CSP subscription",
      [options](CLI::App& v, Fields& f) {
        options(true)(v, f);
        Opt(v, f, "--tenant", "tenantId", "The customer's directory GUID", true);
      },
      [path](const Fields& f) -> absl::StatusOr<ApiRequest> {
        nlohmann::json body = {{"properties", {{"tenantId", f.Get("tenantId")}}}};
        return ApiRequest{"PUT", WithApiVersion(path(f)), body};
      });
  noun.Verb("show", "Show a customer subscription", options(true),
            [path](const Fields& f) -> absl::StatusOr<ApiRequest> {
              return Get(WithApiVersion(path(f)));
            });
  noun.Verb("list", "List a registration's customer subscriptions", options(false),
            [path](const Fields& f) -> absl::StatusOr<ApiRequest> {
              return Get(WithApiVersion(path(f)), true);
            });
  noun.Verb("delete", "Remove a customer subscription", options(true),
            [path](const Fields& f) -> absl::StatusOr<ApiRequest> {
              return ApiRequest{"DELETE", WithApiVersion(path(f)), std::nullopt};
            });
}

void RegisterStackCommands(CLI::App& app, int& exit_code) {
  Noun noun(app, "stack", "Stacks (clouds): tokens, approvals, claims, subscribers", exit_code);
  AddStackTokenCommand(noun.command(), exit_code);
  noun.Verb("list", "List stacks (GET /v1/stacks)", NoOptions,
            [](const Fields&) -> absl::StatusOr<ApiRequest> { return Get("/v1/stacks", true); });
  noun.Verb(
      "show", "Show a stack (GET /v1/stacks/{cloudId})",
      [](CLI::App& v, Fields& f) { Arg(v, f, "cloud-id", "cloudId", "The stack's cloudId"); },
      [](const Fields& f) -> absl::StatusOr<ApiRequest> {
        return Get("/v1/stacks/" + f.Segment("cloudId"));
      });
  noun.Verb(
      "approve", "Approve a billing model for a cloudId (PlatformAdmin, R9)",
      [](CLI::App& v, Fields& f) {
        Arg(v, f, "cloud-id", "cloudId", "The stack's cloudId");
        Opt(v, f, "--billing-model", "billingModel",
            "Capacity, Development, Custom, Ruggedized or PayAsYouUse", true);
        Opt(v, f, "--agreement-number", "agreementNumber", "Capacity's agreement number");
        Opt(v, f, "--asset-tag", "msAssetTag", "Custom's asset tag");
      },
      [](const Fields& f) -> absl::StatusOr<ApiRequest> {
        nlohmann::json body = {{"billingModel", f.Get("billingModel")}};
        f.CopyTo(body, "agreementNumber", "agreementNumber");
        f.CopyTo(body, "msAssetTag", "msAssetTag");
        return ApiRequest{"PUT", "/v1/stacks/" + f.Segment("cloudId") + "/approval", body};
      });
  noun.Verb(
      "release-claim", "Release a claimed cloudId (PlatformAdmin, R3)",
      [](CLI::App& v, Fields& f) { Arg(v, f, "cloud-id", "cloudId", "The stack's cloudId"); },
      [](const Fields& f) -> absl::StatusOr<ApiRequest> {
        return ApiRequest{"DELETE", "/v1/stacks/" + f.Segment("cloudId") + "/claim", std::nullopt};
      });
  noun.Verb(
      "subscriber", "Say which directory owns a stack-local subscription (SPEC §4)",
      [](CLI::App& v, Fields& f) {
        Arg(v, f, "cloud-id", "cloudId", "The stack's cloudId");
        Opt(v, f, "--subscription", "subscription", "The stack-local subscription GUID", true);
        Opt(v, f, "--tenant", "tenantId", "The owning directory GUID", true);
      },
      [](const Fields& f) -> absl::StatusOr<ApiRequest> {
        nlohmann::json body = {{"tenantId", f.Get("tenantId")}};
        return ApiRequest{
            "PUT",
            "/v1/stacks/" + f.Segment("cloudId") + "/subscribers/" + f.Segment("subscription"),
            body};
      });
}

// The contents of FILE, or of stdin for "-".
absl::StatusOr<std::string> ReadInput(const std::string& path) {
  std::stringstream text;
  if (path == "-") {
    text << std::cin.rdbuf();
    return text.str();
  }
  std::ifstream in(path, std::ios::binary);
  if (!in) return InvalidArgumentError("FileNotReadable", "cannot read " + path);
  text << in.rdbuf();
  return text.str();
}

// A flag's value as a whole number; InvalidArgument naming the flag otherwise.
absl::StatusOr<std::int64_t> WholeNumber(const std::string& text, std::string_view flag) {
  std::int64_t value = 0;
  const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (error != std::errc() || end != text.data() + text.size()) {
    return InvalidArgumentError("InvalidArgument",
                                fmt::format("{} takes whole numbers: {}", flag, text));
  }
  return value;
}

// "?k=v&…" of the flags given, in the order named.
std::string QueryOf(const Fields& f,
                    std::initializer_list<std::pair<const char*, const char*>> keys) {
  std::string query;
  for (const auto& [key, param] : keys) {
    if (f.Get(key).empty()) continue;
    query += (query.empty() ? "?" : "&") + std::string(param) + "=" + UrlEncode(f.Get(key));
  }
  return query;
}

void RegisterUsageCommands(CLI::App& app, int& exit_code) {
  Noun usage(app, "usage", "Usage records: send (as a stack), supersede (PlatformAdmin)",
             exit_code);
  usage.Verb(
      "send",
      "Send usage as a stack, with its activation key as --token (POST "
      "/v1/stacks/{cloudId}/usage; 'stackbill forward' is the durable way)",
      [](CLI::App& v, Fields& f) {
        Arg(v, f, "cloud-id", "cloudId", "The stack's cloudId");
        Arg(v, f, "file", "file", "NDJSON records or an Azure usage page (.json); - for stdin");
        Opt(v, f, "--format", "format", "ndjson or page (default: page for a .json file)")
            ->check(CLI::IsMember({"ndjson", "page"}));
      },
      [](const Fields& f) -> absl::StatusOr<ApiRequest> {
        absl::StatusOr<std::string> body = ReadInput(f.Get("file"));
        if (!body.ok()) return body.status();
        const bool page = f.Get("format") == "page" ||
                          (f.Get("format").empty() && f.Get("file").ends_with(".json"));
        return ApiRequest{.method = "POST",
                          .target = "/v1/stacks/" + f.Segment("cloudId") + "/usage",
                          .body = std::nullopt,
                          .text_body = *std::move(body),
                          .content_type = page ? "application/json" : "application/x-ndjson"};
      });
  usage.Verb(
      "supersede",
      "Replace a stored record's content, audited (PlatformAdmin, R11; POST "
      "/v1/stacks/{cloudId}/usage/supersede)",
      [](CLI::App& v, Fields& f) {
        Arg(v, f, "cloud-id", "cloudId", "The stack's cloudId");
        Opt(v, f, "--record", "record",
            "FILE holding the corrected record (one JSON object, the ingest format); - for stdin",
            true);
        Opt(v, f, "--reason", "reason", "Why (kept in the audit log)", true);
      },
      [](const Fields& f) -> absl::StatusOr<ApiRequest> {
        absl::StatusOr<std::string> record = ReadInput(f.Get("record"));
        if (!record.ok()) return record.status();
        // The record's text goes as it is: its quantity keeps its digits.
        std::string body = R"({"reason":)" + nlohmann::json(f.Get("reason")).dump() +
                           R"(,"record":)" + *record + "}";
        return ApiRequest{.method = "POST",
                          .target = "/v1/stacks/" + f.Segment("cloudId") + "/usage/supersede",
                          .body = std::nullopt,
                          .text_body = std::move(body)};
      });

  usage.Verb(
      "totals",
      "Stored usage per billed subscription and meter, counted and summed exactly "
      "(PlatformAdmin; GET /v1/usage/totals) — compare with `stackbill simulate --summary`",
      [](CLI::App& v, Fields& f) {
        Opt(v, f, "--cloud-id", "cloudId", "Only this stack's records");
        Opt(v, f, "--from", "from", "usageStartTime at or after (RFC 3339)");
        Opt(v, f, "--to", "to", "usageStartTime before (RFC 3339)");
      },
      [](const Fields& f) -> absl::StatusOr<ApiRequest> {
        return Get("/v1/usage/totals" +
                   QueryOf(f, {{"cloudId", "cloudId"}, {"from", "from"}, {"to", "to"}}));
      });

  usage.Verb(
      "query",
      "Usage summed per bucket and the dimensions asked for, from the rollups (partners and "
      "PlatformAdmins; GET /v1/usage); quantities exact",
      [](CLI::App& v, Fields& f) {
        Opt(v, f, "--from", "from", "Window start, whole UTC hour (default: this month's start)");
        Opt(v, f, "--to", "to", "Window end, exclusive (default: the end of this hour)");
        Opt(v, f, "--time-type", "timeType", "usage (default) or reported: what the window selects")
            ->check(CLI::IsMember({"usage", "reported"}));
        Opt(v, f, "--granularity", "granularity", "hour, day (default) or month")
            ->check(CLI::IsMember({"hour", "day", "month"}));
        Opt(v, f, "--group-by", "groupBy",
            "Comma list of subscription, tenant, meter, resource, stack (default: "
            "subscription,meter)");
        Opt(v, f, "--subscription", "subscriptionId", "Only usage billed to this subscription");
        Opt(v, f, "--cloud-id", "cloudId", "Only this stack's usage");
      },
      [](const Fields& f) -> absl::StatusOr<ApiRequest> {
        std::string query = QueryOf(f, {{"from", "from"},
                                        {"to", "to"},
                                        {"timeType", "timeType"},
                                        {"granularity", "granularity"},
                                        {"groupBy", "groupBy"},
                                        {"subscriptionId", "subscriptionId"},
                                        {"cloudId", "cloudId"}});
        // The largest page: each page sums the window again.
        query += (query.empty() ? "?" : "&") + std::string("$top=100000");
        return Get("/v1/usage" + query, true);
      });

  Noun quarantine(app, "quarantine", "Quarantined usage records (SPEC §4, R10)", exit_code);
  const auto filter_options = [](CLI::App& v, Fields& f) {
    Opt(v, f, "--cloud-id", "cloudId", "Only this stack's entries");
    Opt(v, f, "--code", "code", "Only this quarantine code (e.g. UnknownMeter)");
    Opt(v, f, "--from", "from", "Received at or after (RFC 3339)");
    Opt(v, f, "--to", "to", "Received before (RFC 3339)");
  };
  quarantine.Verb(
      "list", "Pending quarantined records, oldest first (GET /v1/quarantine)",
      [filter_options](CLI::App& v, Fields& f) {
        filter_options(v, f);
        v.add_flag("--include-replayed", f.first_page_only, "Also entries already replayed");
      },
      [](const Fields& f) -> absl::StatusOr<ApiRequest> {
        std::string query =
            QueryOf(f, {{"cloudId", "cloudId"}, {"code", "code"}, {"from", "from"}, {"to", "to"}});
        if (f.first_page_only)
          query += (query.empty() ? "?" : "&") + std::string("includeReplayed=true");
        return Get("/v1/quarantine" + query, true);
      });
  quarantine.Verb(
      "replay",
      "Run quarantined records through validation again once the cause is fixed (POST "
      "/v1/quarantine/replay)",
      [filter_options](CLI::App& v, Fields& f) {
        v.add_option("--id", f.lists["ids"], "An entry id (repeat for several)");
        filter_options(v, f);
        Opt(v, f, "--limit", "limit", "At most this many entries (default 10000)");
      },
      [](const Fields& f) -> absl::StatusOr<ApiRequest> {
        nlohmann::json body = nlohmann::json::object();
        auto ids = f.lists.find("ids");
        if (ids != f.lists.end() && !ids->second.empty()) {
          body["ids"] = nlohmann::json::array();
          for (const std::string& id : ids->second) {
            absl::StatusOr<std::int64_t> value = WholeNumber(id, "--id");
            if (!value.ok()) return value.status();
            body["ids"].push_back(*value);
          }
        }
        f.CopyTo(body, "cloudId", "cloudId");
        f.CopyTo(body, "code", "code");
        f.CopyTo(body, "from", "from");
        f.CopyTo(body, "to", "to");
        if (!f.Get("limit").empty()) {
          absl::StatusOr<std::int64_t> limit = WholeNumber(f.Get("limit"), "--limit");
          if (!limit.ok()) return limit.status();
          body["limit"] = *limit;
        }
        return ApiRequest{"POST", "/v1/quarantine/replay", body};
      });

  // `meters list` reads a store file; these two talk to the server.
  CLI::App* existing = nullptr;
  try {
    existing = app.get_subcommand("meters");
  } catch (const CLI::OptionNotFound&) {
    existing = nullptr;  // not registered in this binary: the verbs get their own command
  }
  Noun meters = existing != nullptr ? Noun(*existing, exit_code)
                                    : Noun(app, "meters", "The meter catalogue", exit_code);
  meters.Verb("show", "The server's meter catalogue (GET /v1/meters)", NoOptions,
              [](const Fields&) -> absl::StatusOr<ApiRequest> { return Get("/v1/meters"); });
  meters.Verb(
      "add", "Add a custom meter (PlatformAdmin; POST /v1/meters), the usual fix for UnknownMeter",
      [](CLI::App& v, Fields& f) {
        Opt(v, f, "--meter-id", "meterId", "The meter GUID the stacks report", true);
        Opt(v, f, "--name", "name", "Meter name", true);
        Opt(v, f, "--unit", "unit", "Unit (e.g. Hours, GB)", true);
        Opt(v, f, "--category", "category", "Category (default Custom)");
        Opt(v, f, "--commerce-meter-id", "commerceMeterId", "The Commerce meter GUID, if any");
      },
      [](const Fields& f) -> absl::StatusOr<ApiRequest> {
        nlohmann::json body = {
            {"meterId", f.Get("meterId")}, {"name", f.Get("name")}, {"unit", f.Get("unit")}};
        f.CopyTo(body, "category", "category");
        f.CopyTo(body, "commerceMeterId", "commerceMeterId");
        return ApiRequest{"POST", "/v1/meters", body};
      });
}

// SPEC §5 billing: price sheets, periods, invoices, adjustments.
void RegisterBillingCommands(CLI::App& app, int& exit_code) {
  Noun price(app, "price", "Price sheets: list prices per offer type, partner overrides (SPEC §5)",
             exit_code);
  price.Verb(
      "set",
      "Create or replace a price sheet version (PlatformAdmin; PUT /v1/priceSheets/…): one meter "
      "from flags, or every meter from --file",
      [](CLI::App& v, Fields& f) {
        Opt(v, f, "--offer", "offer",
            "Offer type's list: CSP, PayAsYouGo, EnterpriseAgreement, DevTest");
        Opt(v, f, "--partner", "partner", "A partner's overrides (instead of --offer)");
        Opt(v, f, "--customers-of", "customersOf",
            "A partner's customer price sheet for re-billing (the partner's own PartnerAdmins "
            "too): --markup over the list and/or explicit meters");
        Opt(v, f, "--markup", "markup",
            "With --customers-of: list price x (1 + MARKUP) for meters not given, e.g. 0.15");
        Opt(v, f, "--currency", "currency", "ISO 4217 currency (default USD)");
        Opt(v, f, "--effective-date", "effectiveDate",
            "YYYY-MM-DD (midnight UTC): applies from the first period starting on or after it",
            true);
        Opt(v, f, "--file", "file",
            R"(JSON {"meters":[{"meterId","meterRates":{"0":"0.008"},"includedQuantity":"0"}]}, sent as written ("-": stdin))");
        Opt(v, f, "--meter", "meter", "One meter's GUID (instead of --file)");
        v.add_option(
            "--rate", f.lists["rates"],
            "START=UNIT_PRICE, a graduated tier (repeat; e.g. --rate 0=0.008 --rate 1000=0.006)");
        Opt(v, f, "--included", "included", "Free units per subscription per period (default 0)");
      },
      [](const Fields& f) -> absl::StatusOr<ApiRequest> {
        const auto owners =
            std::ranges::count_if(std::array{"offer", "partner", "customersOf"},
                                  [&f](const char* key) { return !f.Get(key).empty(); });
        if (owners != 1) {
          return InvalidArgumentError("InvalidArgument",
                                      "give one of --offer, --partner or --customers-of");
        }
        const bool customers = !f.Get("customersOf").empty();
        if (!f.Get("markup").empty() && !customers) {
          return InvalidArgumentError("InvalidArgument", "--markup goes with --customers-of");
        }
        const std::string currency = f.Get("currency").empty() ? "USD" : f.Get("currency");
        std::string owner = fmt::format("offers/{}", f.Segment("offer"));
        if (!f.Get("partner").empty()) owner = fmt::format("partners/{}", f.Segment("partner"));
        if (customers) owner = fmt::format("customers/{}", f.Segment("customersOf"));
        const std::string target = fmt::format("/v1/priceSheets/{}/{}/{}", owner,
                                               UrlEncode(currency), f.Segment("effectiveDate"));
        if (!f.Get("file").empty()) {
          STACKBILL_ASSIGN_OR_RETURN(std::string text, ReadInput(f.Get("file")));
          return ApiRequest{"PUT", target, std::nullopt, false, std::move(text)};
        }
        if (customers && f.Get("meter").empty() && !f.Get("markup").empty()) {
          return ApiRequest{"PUT", target, nlohmann::json{{"markup", f.Get("markup")}}};
        }
        if (f.Get("meter").empty() || f.lists.at("rates").empty()) {
          return InvalidArgumentError(
              "InvalidArgument",
              "give --file, or --meter with at least one --rate (or --customers-of with --markup)");
        }
        nlohmann::json rates = nlohmann::json::object();
        for (const std::string& rate : f.lists.at("rates")) {
          const std::size_t eq = rate.find('=');
          if (eq == std::string::npos) {
            return InvalidArgumentError("InvalidArgument",
                                        "--rate takes START=UNIT_PRICE, got " + rate);
          }
          rates[rate.substr(0, eq)] = rate.substr(eq + 1);  // strings: exact decimals
        }
        nlohmann::json meter = {{"meterId", f.Get("meter")}, {"meterRates", std::move(rates)}};
        if (!f.Get("included").empty()) meter["includedQuantity"] = f.Get("included");
        nlohmann::json body = {{"meters", {std::move(meter)}}};
        if (!f.Get("markup").empty()) body["markup"] = f.Get("markup");
        return ApiRequest{"PUT", target, std::move(body)};
      });
  price.Verb(
      "list", "List price sheet versions (GET /v1/priceSheets)",
      [](CLI::App& v, Fields& f) {
        Opt(v, f, "--offer", "offerType", "Only this offer type's list");
        Opt(v, f, "--partner", "partnerId", "Only this partner's overrides");
        Opt(v, f, "--customers-of", "customersOf", "Only this partner's customer price sheet");
        Opt(v, f, "--currency", "currency", "Only this currency");
      },
      [](const Fields& f) -> absl::StatusOr<ApiRequest> {
        return Get("/v1/priceSheets" + QueryOf(f, {{"offerType", "offerType"},
                                                   {"partnerId", "partnerId"},
                                                   {"customersOf", "customersOf"},
                                                   {"currency", "currency"}}));
      });

  Noun period(app, "period", "Billing periods: calendar months in UTC (SPEC §5)", exit_code);
  period.Verb(
      "list", "Billing periods with their state (GET /v1/billingPeriods)", NoOptions,
      [](const Fields&) -> absl::StatusOr<ApiRequest> { return Get("/v1/billingPeriods"); });
  period.Verb(
      "close",
      "Close a month and issue its invoices, once (PlatformAdmin; POST "
      "/v1/billingPeriods/{YYYY-MM}/close)",
      [](CLI::App& v, Fields& f) {
        Arg(v, f, "period", "period", "The month, YYYY-MM");
        v.add_flag("--allow-unpriced", f.values["allowUnpriced"],
                   "Bill meters without a price as zero-rated lines flagged Unpriced instead of "
                   "failing with MissingPrice");
      },
      [](const Fields& f) -> absl::StatusOr<ApiRequest> {
        const bool allow = !f.Get("allowUnpriced").empty() && f.Get("allowUnpriced") != "0";
        return ApiRequest{"POST", "/v1/billingPeriods/" + f.Segment("period") + "/close",
                          nlohmann::json{{"allowUnpriced", allow}}};
      });
  period.Verb(
      "export",
      "Print every line of a closed month's invoices as CSV, by invoice number then line: the "
      "stable export for accounting systems (GET /v1/billingPeriods/{YYYY-MM}/export)",
      [](CLI::App& v, Fields& f) {
        Arg(v, f, "period", "period", "The closed month, YYYY-MM");
        Opt(v, f, "--partner", "partnerId", "Only the invoices billed to this partner");
        Opt(v, f, "--subscription", "subscriptionId",
            "Only the invoices billed to this direct-billed subscription");
      },
      [](const Fields& f) -> absl::StatusOr<ApiRequest> {
        return CsvGet(
            "/v1/billingPeriods/" + f.Segment("period") + "/export" +
            QueryOf(f, {{"partnerId", "partnerId"}, {"subscriptionId", "subscriptionId"}}));
      });

  Noun invoice(app, "invoice", "Invoices to CSP partners and direct-billed subscriptions",
               exit_code);
  auto whose = [](CLI::App& v, Fields& f) {
    Opt(v, f, "--partner", "partnerId", "Billed to this partner");
    Opt(v, f, "--subscription", "subscriptionId", "Billed to this direct-billed subscription");
    Opt(v, f, "--period", "period", "The month, YYYY-MM");
  };
  invoice.Verb("list", "List invoices (GET /v1/invoices)", whose,
               [](const Fields& f) -> absl::StatusOr<ApiRequest> {
                 return Get("/v1/invoices" + QueryOf(f, {{"partnerId", "partnerId"},
                                                         {"subscriptionId", "subscriptionId"},
                                                         {"period", "period"}}));
               });
  invoice.Verb(
      "show", "Show an invoice with its lines and subtotals (GET /v1/invoices/{id})",
      [](CLI::App& v, Fields& f) { Arg(v, f, "invoice", "id", "Invoice number or GUID"); },
      [](const Fields& f) -> absl::StatusOr<ApiRequest> {
        return Get("/v1/invoices/" + f.Segment("id"));
      });
  invoice.Verb(
      "export", "Print an invoice's lines as CSV (GET /v1/invoices/{id}?format=csv)",
      [](CLI::App& v, Fields& f) { Arg(v, f, "invoice", "id", "Invoice number or GUID"); },
      [](const Fields& f) -> absl::StatusOr<ApiRequest> {
        return CsvGet("/v1/invoices/" + f.Segment("id"));
      });
  invoice.Verb(
      "reconcile",
      "Print an invoice's reconciliation rows as CSV: per line, day, stack, tenant and resource, "
      "amounts allocated so rows sum to the lines (GET /v1/invoices/{id}/reconciliation)",
      [](CLI::App& v, Fields& f) { Arg(v, f, "invoice", "id", "Invoice number or GUID"); },
      [](const Fields& f) -> absl::StatusOr<ApiRequest> {
        return CsvGet("/v1/invoices/" + f.Segment("id") + "/reconciliation");
      });
  invoice.Verb(
      "estimate", "The running estimate of an open month (GET /v1/invoices/estimate)", whose,
      [](const Fields& f) -> absl::StatusOr<ApiRequest> {
        return Get("/v1/invoices/estimate" + QueryOf(f, {{"partnerId", "partnerId"},
                                                         {"subscriptionId", "subscriptionId"},
                                                         {"period", "period"}}));
      });

  Noun statement(app, "statement",
                 "A partner's statements to its own customers, at its customer prices (SPEC §5 "
                 "re-billing)",
                 exit_code);
  statement.Verb(
      "list",
      "One statement per customer of the partner for a month (GET /v1/statements; the "
      "partner's own PartnerAdmins and PlatformAdmins)",
      [](CLI::App& v, Fields& f) {
        Opt(v, f, "--partner", "partnerId", "The re-billing partner", true);
        Opt(v, f, "--period", "period", "The month, YYYY-MM (default: this month)");
        Opt(v, f, "--customer", "customerId", "Only this customer's directory (tenant) id");
        v.add_flag("--csv", f.values["csv"], "Print the statements' lines as CSV");
      },
      [](const Fields& f) -> absl::StatusOr<ApiRequest> {
        std::string target = "/v1/statements" + QueryOf(f, {{"partnerId", "partnerId"},
                                                            {"period", "period"},
                                                            {"customerId", "customerId"}});
        if (!f.Get("csv").empty() && f.Get("csv") != "0") return CsvGet(std::move(target));
        return Get(std::move(target));
      });

  Noun adjustment(app, "adjustment", "Credits and debits on an open period's invoice", exit_code);
  adjustment.Verb(
      "add", "Add an audited credit (negative) or debit (PlatformAdmin; POST /v1/adjustments)",
      [](CLI::App& v, Fields& f) {
        Opt(v, f, "--subscription", "subscriptionId", "The subscription it is for", true);
        Opt(v, f, "--period", "period", "The open month, YYYY-MM", true);
        Opt(v, f, "--amount", "amount", "Exact amount in the bill-to currency, e.g. -12.50", true);
        Opt(v, f, "--currency", "currency", "The bill-to party's currency", true);
        Opt(v, f, "--reason", "reason", "Why (required, audited)", true);
        Opt(v, f, "--meter", "meterId", "The meter it concerns, if any");
      },
      [](const Fields& f) -> absl::StatusOr<ApiRequest> {
        nlohmann::json body = {{"subscriptionId", f.Get("subscriptionId")},
                               {"period", f.Get("period")},
                               {"amount", f.Get("amount")},
                               {"currency", f.Get("currency")},
                               {"reason", f.Get("reason")}};
        f.CopyTo(body, "meterId", "meterId");
        return ApiRequest{"POST", "/v1/adjustments", body};
      });
}

}  // namespace

std::string RegistrationPath(std::string_view subscription_id, std::string_view resource_group,
                             std::string_view name) {
  return fmt::format(
      "/subscriptions/{}/resourceGroups/{}/providers/Microsoft.AzureStack/registrations/{}",
      UrlEncode(subscription_id), UrlEncode(resource_group), UrlEncode(name));
}

void PrintError(const absl::Status& status) {
  std::string code = ErrorCode(status);
  if (code.empty()) code = absl::StatusCodeToString(status.code());
  std::cerr << code << ": " << Message(status) << "\n";
}

void PrintJson(const nlohmann::json& value) { std::cout << value.dump(2) << "\n"; }

void RegisterLoginCommand(CLI::App& app, int& exit_code) {
  auto flags = std::make_shared<ConnectionFlags>();
  auto* login = app.add_subcommand(
      "login",
      "Save the endpoint, token and CA file in the profile (mode 0600) for later commands");
  login->add_option("--endpoint", flags->endpoint, "stackbill's URL, https://host:port")
      ->required();
  login->add_option("--token", flags->token, "Bearer token")->required();
  login->add_option("--ca-file", flags->ca_file, "PEM certificate to trust");
  login->add_option("--profile", flags->profile,
                    "Profile file (else STACKBILL_PROFILE, ~/.config/stackbill/profile.json)");
  login->callback([flags, &exit_code] {
    exit_code = 1;
    Profile profile{flags->endpoint, flags->token, flags->ca_file};
    if (!profile.ca_file.empty()) {
      std::error_code error;
      auto absolute = std::filesystem::absolute(profile.ca_file, error);
      if (!error) profile.ca_file = absolute.string();
    }
    // Refuse a profile that could never connect.
    HttpClientOptions options{profile.endpoint, profile.token, profile.ca_file};
    if (auto client = HttpClient::Create(options); !client.ok()) return PrintError(client.status());
    auto path = ProfilePath(flags->profile, ProcessEnvironment());
    if (!path.ok()) return PrintError(path.status());
    if (auto status = WriteProfile(*path, profile); !status.ok()) return PrintError(status);
    std::cout << "profile written: " << *path << "\n";
    exit_code = 0;
  });
}

void RegisterApiCommands(CLI::App& app, int& exit_code) {
  RegisterDirectoryCommands(app, exit_code);
  RegisterPrincipalCommands(app, exit_code);
  RegisterTokenCommands(app, exit_code);
  RegisterPartnerCommands(app, exit_code);
  RegisterSubscriptionCommands(app, exit_code);
  RegisterRoleCommands(app, exit_code);
  RegisterAuditCommands(app, exit_code);
  RegisterRegistrationCommands(app, exit_code);
  RegisterCustomerSubscriptionCommands(app, exit_code);
  RegisterStackCommands(app, exit_code);
  RegisterUsageCommands(app, exit_code);
  RegisterBillingCommands(app, exit_code);
}

}  // namespace stackbill
