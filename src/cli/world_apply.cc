#include "cli/world_apply.h"

#include <fmt/format.h>

#include <map>
#include <optional>

#include "cli/api_commands.h"
#include "core/error.h"
#include "http/client.h"
#include "wire/registration_token.h"

namespace stackbill {
namespace {

using Json = nlohmann::json;

std::string WithApiVersion(const std::string& target) {
  return fmt::format("{}?api-version={}", target, kAzureStackApiVersion);
}

class Applier {
 public:
  Applier(const World& world, WorldApi& api, WorldApplyReport& report)
      : world_(world), api_(api), report_(report) {}

  absl::Status Run() {
    for (const auto& partner : world_.partners) {
      if (auto s = ApplyPartner(partner); !s.ok()) {
        return Annotate(s, fmt::format("partner {}", partner.id));
      }
    }
    for (const auto& directory : world_.directories) {
      if (auto s = ApplyDirectory(directory); !s.ok()) {
        return Annotate(s, fmt::format("directory {}", directory.domains.front()));
      }
    }
    for (const auto& subscription : world_.subscriptions) {
      if (auto s = ApplySubscription(subscription); !s.ok()) {
        return Annotate(s, fmt::format("subscription {}", subscription.display_name));
      }
    }
    for (const auto& principal : world_.principals) {
      if (auto s = ApplyPrincipal(principal); !s.ok()) {
        return Annotate(s, fmt::format("principal {}", principal.name));
      }
    }
    for (const auto& registration : world_.registrations) {
      if (auto s = ApplyRegistration(registration); !s.ok()) {
        return Annotate(s, fmt::format("registration {}", registration.name));
      }
    }
    for (const auto& stack : world_.stacks) {
      if (auto s = ApplyStack(stack); !s.ok()) {
        return Annotate(s, fmt::format("stack {}", stack.name));
      }
    }
    for (const auto& sheet : world_.price_sheets) {
      if (auto s = ApplyPriceSheet(sheet); !s.ok()) {
        return Annotate(s, fmt::format("price sheet {} {} {}", SheetOwner(sheet), sheet.currency,
                                       sheet.effective_date));
      }
    }
    RevokeTemporaryTokens();
    return absl::OkStatus();
  }

  void RevokeTemporaryTokens() {
    for (const auto& id : temporary_token_ids_) {
      auto revoked = api_.Call("DELETE", "/v1/tokens/" + UrlEncode(id), nullptr, "");
      if (!revoked.ok()) {
        report_.notes.push_back(
            fmt::format("could not revoke temporary token {}: {}", id, Message(revoked.status())));
      }
    }
    temporary_token_ids_.clear();
  }

 private:
  // The object at `target`, or nullopt when the server says it does not
  // exist (or cannot be read back by GET, in which case create decides).
  absl::StatusOr<std::optional<Json>> Find(const std::string& target,
                                           const std::string& token = "") {
    auto found = api_.Call("GET", target, nullptr, token);
    if (found.ok()) return std::optional<Json>(*std::move(found));
    if (found.status().code() == absl::StatusCode::kNotFound ||
        ErrorCode(found.status()) == "MethodNotAllowed") {
      return std::optional<Json>();
    }
    return found.status();
  }

  // Creates with `method`; a 409 means someone (an earlier run) made it.
  absl::StatusOr<std::optional<Json>> Create(const std::string& method, const std::string& target,
                                             const Json& body, const std::string& token = "") {
    auto created = api_.Call(method, target, &body, token);
    if (created.ok()) return std::optional<Json>(*std::move(created));
    if (created.status().code() == absl::StatusCode::kAlreadyExists) {
      return std::optional<Json>();
    }
    return created.status();
  }

  void Unchanged(const std::string& what) {
    ++report_.unchanged;
    report_.lines.push_back("unchanged " + what);
  }
  void Created(const std::string& what) {
    ++report_.created;
    report_.lines.push_back("created   " + what);
  }

  // Records the outcome of Create for `what`.
  void Outcome(const std::optional<Json>& created, const std::string& what) {
    if (created) {
      Created(what);
    } else {
      Unchanged(what + " (409: already there)");
    }
  }

  absl::Status ApplyPartner(const WorldPartner& partner) {
    const std::string what =
        fmt::format("partner {} ({}, {})", partner.id, partner.name, ToString(partner.kind));
    auto found = Find("/v1/partners/" + UrlEncode(partner.id));
    if (!found.ok()) return found.status();
    if (*found) {
      Unchanged(what);
      return absl::OkStatus();
    }
    Json body = {{"id", partner.id},
                 {"name", partner.name},
                 {"kind", ToString(partner.kind)},
                 {"billingCurrency", partner.billing_currency}};
    if (partner.parent_partner_id) body["parentPartnerId"] = *partner.parent_partner_id;
    auto created = Create("POST", "/v1/partners", body);
    if (!created.ok()) return created.status();
    Outcome(*created, what);
    return absl::OkStatus();
  }

  absl::Status ApplyDirectory(const WorldDirectory& directory) {
    const std::string id = directory.id.ToString();
    const std::string what = fmt::format("directory {} ({})", directory.domains.front(), id);
    auto found = Find("/v1/directories/" + id);
    if (!found.ok()) return found.status();
    if (*found) {
      Unchanged(what);
      return absl::OkStatus();
    }
    Json body = {
        {"id", id}, {"displayName", directory.display_name}, {"domains", directory.domains}};
    if (directory.owner_partner_id) body["ownerPartnerId"] = *directory.owner_partner_id;
    auto created = Create("POST", "/v1/directories", body);
    if (!created.ok()) return created.status();
    Outcome(*created, what);
    return absl::OkStatus();
  }

  absl::Status ApplySubscription(const WorldSubscription& subscription) {
    const std::string id = subscription.id.ToString();
    const std::string what = fmt::format("subscription {} ({}, {})", subscription.display_name,
                                         ToString(subscription.offer_type), id);
    auto found = Find("/v1/subscriptions/" + id);
    if (!found.ok()) return found.status();
    if (*found) {
      Unchanged(what);
      return absl::OkStatus();
    }
    Json body = {{"subscriptionId", id},
                 {"offerType", ToString(subscription.offer_type)},
                 {"directoryId", subscription.directory_id.ToString()},
                 {"displayName", subscription.display_name}};
    if (subscription.partner_id) body["partnerId"] = *subscription.partner_id;
    if (subscription.billing_currency) body["billingCurrency"] = *subscription.billing_currency;
    auto created = Create("POST", "/v1/subscriptions", body);
    if (!created.ok()) return created.status();
    Outcome(*created, what);
    return absl::OkStatus();
  }

  static std::string Lower(std::string text) {
    for (char& c : text) {
      if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
    }
    return text;
  }

  // The objectId of an existing principal: by the file's objectId, else by
  // name among its directory's principals.
  absl::StatusOr<std::optional<std::string>> FindPrincipal(const WorldPrincipal& principal) {
    if (principal.object_id) {
      auto found = Find("/v1/principals/" + principal.object_id->ToString());
      if (!found.ok()) return found.status();
      if (*found) return std::optional<std::string>(principal.object_id->ToString());
      return std::optional<std::string>();
    }
    std::string target = fmt::format("/v1/principals?directoryId={}&name={}",
                                     principal.directory_id.ToString(), UrlEncode(principal.name));
    auto page = Find(target);
    if (!page.ok()) return page.status();
    while (*page && (*page)->is_object()) {
      const Json& json = **page;
      if (json.contains("value") && json["value"].is_array()) {
        for (const auto& item : json["value"]) {
          if (item.is_object() && item.value("name", "") != "" &&
              Lower(item.value("name", "")) == Lower(principal.name) &&
              item.value("directoryId", principal.directory_id.ToString()) ==
                  principal.directory_id.ToString()) {
            return std::optional<std::string>(item.value("objectId", ""));
          }
        }
      }
      if (!json.contains("nextLink") || !json["nextLink"].is_string()) break;
      std::string link = json["nextLink"].get<std::string>();
      const auto scheme = link.find("://");
      if (scheme != std::string::npos) link = link.substr(link.find('/', scheme + 3));
      page = Find(link);
      if (!page.ok()) return page.status();
    }
    return std::optional<std::string>();
  }

  absl::Status ApplyPrincipal(const WorldPrincipal& principal) {
    auto existing = FindPrincipal(principal);
    if (!existing.ok()) return existing.status();
    std::string object_id;
    if (*existing && !(*existing)->empty()) {
      object_id = **existing;
      Unchanged(fmt::format("principal {} ({})", principal.name, object_id));
    } else {
      Json body = {{"directoryId", principal.directory_id.ToString()},
                   {"name", principal.name},
                   {"kind", ToString(principal.kind)}};
      if (principal.object_id) body["objectId"] = principal.object_id->ToString();
      auto created = api_.Call("POST", "/v1/principals", &body, "");
      if (!created.ok()) return created.status();
      if (!created->is_object() || !created->contains("objectId") ||
          !(*created)["objectId"].is_string()) {
        return absl::InternalError("POST /v1/principals answered without an objectId");
      }
      object_id = (*created)["objectId"].get<std::string>();
      Created(fmt::format("principal {} ({})", principal.name, object_id));
      if (principal.issue_token) {
        const Json no_options = Json::object();
        auto token = api_.Call("POST", "/v1/principals/" + object_id + "/tokens", &no_options, "");
        if (!token.ok()) return Annotate(token.status(), "token");
        const std::string secret = token->value("token", "");
        tokens_[object_id] = secret;
        report_.secrets.push_back(fmt::format("token for {}: {} (expires {})", principal.name,
                                              secret, token->value("expiresAt", "?")));
      }
    }
    object_ids_[Lower(principal.name)] = object_id;
    for (const auto& role : principal.roles) {
      const Guid id = DerivedGuid(
          world_.name, "role-assignment",
          fmt::format("{}|{}|{}", Lower(principal.name), ToString(role.role), role.scope));
      const std::string target = "/v1/roleAssignments/" + id.ToString();
      const std::string what =
          fmt::format("role {} at {} for {}", ToString(role.role), role.scope, principal.name);
      auto found = Find(target);
      if (!found.ok()) return Annotate(found.status(), what);
      if (*found) {
        Unchanged(what);
        continue;
      }
      Json body = {
          {"principalId", object_id}, {"role", ToString(role.role)}, {"scope", role.scope}};
      auto created = Create("PUT", target, body);
      if (!created.ok()) return Annotate(created.status(), what);
      Outcome(*created, what);
    }
    return absl::OkStatus();
  }

  // A token to act as principal `name` (empty name: the admin, token "").
  absl::StatusOr<std::string> TokenFor(const std::string& name) {
    if (name.empty()) return std::string();
    auto id = object_ids_.find(Lower(name));
    if (id == object_ids_.end()) {
      return absl::InternalError(fmt::format("principal {} was not applied", name));
    }
    if (auto it = tokens_.find(id->second); it != tokens_.end()) return it->second;
    Json body = {{"expiresInHours", 1}};
    auto token = api_.Call("POST", "/v1/principals/" + id->second + "/tokens", &body, "");
    if (!token.ok()) return Annotate(token.status(), "temporary token for " + name);
    tokens_[id->second] = token->value("token", "");
    temporary_token_ids_.push_back(token->value("id", ""));
    return tokens_[id->second];
  }

  absl::Status Approve(const WorldStack& stack) {
    Json body = {{"billingModel", ToString(stack.billing_model)}};
    if (stack.agreement_number) body["agreementNumber"] = *stack.agreement_number;
    if (stack.asset_tag) body["msAssetTag"] = *stack.asset_tag;
    auto approved =
        api_.Call("PUT", "/v1/stacks/" + stack.cloud_id.ToString() + "/approval", &body, "");
    if (!approved.ok()) return Annotate(approved.status(), "approval");
    Created(fmt::format("approval of {} for stack {}", ToString(stack.billing_model), stack.name));
    approved_.insert({stack.name, true});
    return absl::OkStatus();
  }

  absl::Status ApplyRegistration(const WorldRegistration& registration) {
    const WorldStack& stack = *world_.FindStack(registration.stack);
    const std::string path = RegistrationPath(registration.subscription_id.ToString(),
                                              registration.resource_group, registration.name);
    const std::string what = fmt::format("registration {} of stack {} (cloud {})",
                                         registration.name, stack.name, stack.cloud_id.ToString());
    auto found = Find(WithApiVersion(path));
    if (!found.ok()) return found.status();
    if (*found) {
      const std::string cloud = (**found).contains("properties")
                                    ? (**found)["properties"].value("cloudId", "")
                                    : std::string();
      if (!cloud.empty() && Lower(cloud) != stack.cloud_id.ToString()) {
        return FailedPreconditionError("WorldConflict",
                                       fmt::format("exists for another cloud {}", cloud));
      }
      if (stack.approved) {
        // Registered, so the approval it needed (R9) is in place.
        Unchanged(
            fmt::format("approval of {} for stack {}", ToString(stack.billing_model), stack.name));
      }
      Unchanged(what);
    } else {
      if (stack.approved) {
        if (auto s = Approve(stack); !s.ok()) return s;
      }
      auto token = TokenFor(registration.registered_by);
      if (!token.ok()) return token.status();
      Json body = {{"location", "global"},
                   {"properties", {{"registrationToken", RegistrationTokenOf(stack)}}}};
      auto created = Create("PUT", WithApiVersion(path), body, *token);
      if (!created.ok()) return created.status();
      Outcome(*created,
              what + (registration.registered_by.empty() ? std::string()
                                                         : " by " + registration.registered_by));
      if (*created && registration.activation_key) {
        auto key = api_.Call("POST", WithApiVersion(path + "/getactivationkey"), nullptr, *token);
        if (!key.ok()) return Annotate(key.status(), "getactivationkey");
        report_.secrets.push_back(fmt::format("activation key for stack {} (cloud {}): {}",
                                              stack.name, stack.cloud_id.ToString(),
                                              key->value("activationKey", "")));
      }
    }
    for (const auto& customer : registration.customer_subscriptions) {
      const std::string id = customer.subscription_id.ToString();
      const std::string target =
          WithApiVersion(fmt::format("{}/customerSubscriptions/{}", path, id));
      const std::string customer_what = fmt::format("customer subscription {} ({}) on {}",
                                                    customer.display_name, id, registration.name);
      auto existing = Find(target);
      if (!existing.ok()) return Annotate(existing.status(), customer_what);
      if (*existing && (**existing).contains("properties") &&
          Lower((**existing)["properties"].value("tenantId", "")) ==
              customer.tenant_id.ToString()) {
        Unchanged(customer_what);
        continue;
      }
      // effectiveFrom is the PlatformAdmin's extension (SPEC §3): sent as the
      // admin who runs apply, not as the registrant.
      auto token = customer.effective_from ? absl::StatusOr<std::string>(std::string())
                                           : TokenFor(registration.registered_by);
      if (!token.ok()) return token.status();
      Json body = {{"properties", {{"tenantId", customer.tenant_id.ToString()}}}};
      if (customer.effective_from) {
        body["properties"]["effectiveFrom"] = customer.effective_from->ToString();
      }
      auto created = Create("PUT", target, body, *token);
      if (!created.ok()) return Annotate(created.status(), customer_what);
      Outcome(*created, customer_what);
    }
    return absl::OkStatus();
  }

  std::string RegistrationTokenOf(const WorldStack& stack) const {
    RegistrationToken token;
    token.cloud_id = stack.cloud_id;
    token.object_id = stack.object_id;
    token.billing_model = stack.billing_model;
    token.usage_reporting_enabled =
        stack.usage_reporting.value_or(stack.billing_model != BillingModel::kCapacity &&
                                       stack.billing_model != BillingModel::kCustom);
    token.agreement_number = stack.agreement_number;
    token.ms_asset_tag = stack.asset_tag;
    token.deployment_directory_id = stack.deployment_directory_id;
    token.multi_tenant = stack.multi_tenant;
    token.issuer = "stackbill world apply";
    token.version = "1.0";
    return EncodeRegistrationToken(token);
  }

  static std::string SheetOwner(const WorldPriceSheet& sheet) {
    return sheet.offer ? fmt::format("offer {}", ToString(*sheet.offer))
                       : fmt::format("partner {}", *sheet.partner);
  }

  // PUT replaces a version until a closed period has used it (the same prices
  // again change nothing); a locked one the file would change is left as it
  // is, with a note.
  absl::Status ApplyPriceSheet(const WorldPriceSheet& sheet) {
    const std::string target =
        sheet.offer ? fmt::format("/v1/priceSheets/offers/{}/{}/{}", ToString(*sheet.offer),
                                  UrlEncode(sheet.currency), UrlEncode(sheet.effective_date))
                    : fmt::format("/v1/priceSheets/partners/{}/{}/{}", UrlEncode(*sheet.partner),
                                  UrlEncode(sheet.currency), UrlEncode(sheet.effective_date));
    const nlohmann::json body = {{"meters", sheet.meters}};
    auto put = api_.Call("PUT", target, &body, "");
    const std::string what = fmt::format("price sheet {} {} from {}", SheetOwner(sheet),
                                         sheet.currency, sheet.effective_date);
    if (!put.ok() && ErrorCode(put.status()) == "PriceSheetLocked") {
      report_.notes.push_back(what + " is locked (a closed period used it): left as it is");
      ++report_.unchanged;
      return absl::OkStatus();
    }
    if (!put.ok()) return put.status();
    ++report_.ensured;
    report_.lines.push_back("set " + what);
    return absl::OkStatus();
  }

  absl::Status ApplyStack(const WorldStack& stack) {
    const std::string cloud = stack.cloud_id.ToString();
    bool registered = false;
    for (const auto& registration : world_.registrations) {
      if (registration.stack == stack.name) registered = true;
    }
    // An approval for a stack that no registration in the file uses.
    if (stack.approved && !registered && !approved_.contains(stack.name)) {
      auto found = Find("/v1/stacks/" + cloud);
      if (!found.ok()) return found.status();
      const bool same =
          *found && (**found).contains("approval") && (**found)["approval"].is_object() &&
          (**found)["approval"].value("billingModel", "") == ToString(stack.billing_model);
      if (same) {
        Unchanged(
            fmt::format("approval of {} for stack {}", ToString(stack.billing_model), stack.name));
      } else if (auto s = Approve(stack); !s.ok()) {
        return s;
      }
    }
    for (const auto& subscriber : stack.subscribers) {
      const std::string target = fmt::format("/v1/stacks/{}/subscribers/{}", cloud,
                                             subscriber.local_subscription_id.ToString());
      const std::string what = fmt::format("subscriber {} ({}) on stack {}", subscriber.name,
                                           subscriber.local_subscription_id.ToString(), stack.name);
      // The API has no GET for one mapping; its PUT keeps an identical
      // mapping as it is, so sending it again changes nothing.
      Json body = {{"tenantId", subscriber.tenant_id.ToString()}};
      auto put = api_.Call("PUT", target, &body, "");
      if (!put.ok()) return Annotate(put.status(), what);
      ++report_.ensured;
      report_.lines.push_back("ensured   " + what);
    }
    return absl::OkStatus();
  }

  const World& world_;
  WorldApi& api_;
  WorldApplyReport& report_;
  std::map<std::string, std::string> object_ids_;  // lower-cased name → objectId
  std::map<std::string, std::string> tokens_;      // objectId → token usable in this run
  std::vector<std::string> temporary_token_ids_;
  std::map<std::string, bool> approved_;
};

}  // namespace

absl::Status ApplyWorld(const World& world, WorldApi& api, WorldApplyReport& report) {
  Applier applier(world, api, report);
  absl::Status status = applier.Run();
  if (!status.ok()) applier.RevokeTemporaryTokens();
  return status;
}

}  // namespace stackbill
