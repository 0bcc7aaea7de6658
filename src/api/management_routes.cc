// SPEC §6.1 identity and parties: the /v1 management routes over
// IdentityService. Handlers parse the request (JSON with duplicate keys
// refused, GUIDs in any form), call the service with the authenticated caller,
// and answer camelCase JSON with lower-case GUIDs. Authorisation lives in the
// service; every route here needs a principal's bearer token.

#include <fmt/format.h>

#include <cstdint>
#include <limits>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "api/api.h"
#include "api/json_body.h"
#include "api/request_params.h"
#include "core/error.h"
#include "http/arm.h"
#include "services/identity_service.h"

namespace stackbill {
namespace {

// The largest page a client may ask for with $top.

absl::StatusOr<Guid> PathGuid(const RequestContext& ctx, std::string_view name) {
  absl::StatusOr<Guid> guid = Guid::Parse(ctx.Param(name));
  if (!guid.ok()) return Annotate(guid.status(), fmt::format("path parameter '{}'", name));
  return guid;
}

absl::StatusOr<std::optional<Guid>> QueryGuid(const RequestContext& ctx, std::string_view name) {
  std::optional<std::string_view> text = ctx.request.Query(name);
  if (!text) return std::optional<Guid>();
  absl::StatusOr<Guid> guid = Guid::Parse(*text);
  if (!guid.ok()) return Annotate(guid.status(), fmt::format("query parameter '{}'", name));
  return std::optional<Guid>(*guid);
}

absl::StatusOr<std::vector<std::string>> RequiredStringArray(const nlohmann::json& object,
                                                             std::string_view key) {
  auto it = object.find(key);
  if (it == object.end() || it->is_null()) {
    return InvalidArgumentError("MissingRequiredProperty", fmt::format("'{}' is required", key));
  }
  if (!it->is_array()) {
    return InvalidArgumentError("InvalidRequestContent",
                                fmt::format("'{}' must be an array of strings", key));
  }
  std::vector<std::string> values;
  for (const nlohmann::json& item : *it) {
    if (!item.is_string()) {
      return InvalidArgumentError("InvalidRequestContent",
                                  fmt::format("'{}' must be an array of strings", key));
    }
    values.push_back(item.get<std::string>());
  }
  return values;
}

// An optional whole JSON number. Values beyond int64 are reported as the
// largest int64, so that range checks downstream refuse them.
absl::StatusOr<std::optional<std::int64_t>> OptionalInteger(const nlohmann::json& object,
                                                            std::string_view key) {
  auto it = object.find(key);
  if (it == object.end() || it->is_null()) return std::optional<std::int64_t>();
  if (it->is_number_unsigned()) {
    const auto value = it->get<std::uint64_t>();
    constexpr auto kMax = static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max());
    return std::optional<std::int64_t>(value > kMax ? std::numeric_limits<std::int64_t>::max()
                                                    : static_cast<std::int64_t>(value));
  }
  if (it->is_number_integer()) return std::optional<std::int64_t>(it->get<std::int64_t>());
  return InvalidArgumentError("InvalidRequestContent",
                              fmt::format("'{}' must be a whole number", key));
}

// Parses `text` as a member of an enum with `parse`, naming `key` on failure.
template <typename Parse>
auto ParseMember(Parse parse, const std::string& text, std::string_view key)
    -> decltype(parse(text)) {
  auto value = parse(text);
  if (!value.ok()) return Annotate(value.status(), fmt::format("'{}'", key));
  return value;
}

nlohmann::json ValueList(nlohmann::json items) {
  return nlohmann::json{{"value", std::move(items)}};
}

// Adds `route` to the router, keeping the first failure.
class RouteAdder {
 public:
  explicit RouteAdder(Router& router) : router_(router) {}
  void Add(std::string method, std::string pattern, std::string name, RouteHandler handler) {
    if (!status_.ok()) return;
    status_ = router_.Add(Route{.method = std::move(method),
                                .pattern = std::move(pattern),
                                .authentication = Authentication::kPrincipal,
                                .name = std::move(name),
                                .handler = std::move(handler)});
  }
  absl::Status status() const { return status_; }

 private:
  Router& router_;
  absl::Status status_;
};

}  // namespace

absl::Status AddManagementRoutes(Router& router, Store& store, const ApiOptions& options) {
  // IdentityService is stateless apart from its store reference; each handler
  // keeps a copy.
  const IdentityService service(store);
  const int page_size = options.page_size;
  RouteAdder routes(router);

  // --- directories ----------------------------------------------------------
  routes.Add("POST", "/v1/directories", "directories.create",
             [service](const RequestContext& ctx) -> absl::StatusOr<HttpResponse> {
               auto body = ParseJsonObject(ctx.request.body);
               if (!body.ok()) return body.status();
               auto id = OptionalGuid(*body, "id", "id");
               if (!id.ok()) return id.status();
               auto name = RequiredString(*body, "displayName", "displayName");
               if (!name.ok()) return name.status();
               auto domains = RequiredStringArray(*body, "domains");
               if (!domains.ok()) return domains.status();
               auto owner = OptionalString(*body, "ownerPartnerId", "ownerPartnerId");
               if (!owner.ok()) return owner.status();
               auto directory = service.CreateDirectory(ctx.caller, ctx.now,
                                                        {.id = *id,
                                                         .display_name = *std::move(name),
                                                         .domains = *std::move(domains),
                                                         .owner_partner_id = *std::move(owner)});
               if (!directory.ok()) return directory.status();
               return JsonResponse(201, DirectoryJson(*directory));
             });
  routes.Add("GET", "/v1/directories", "directories.list",
             [service](const RequestContext& ctx) -> absl::StatusOr<HttpResponse> {
               auto directories = service.ListDirectories(ctx.caller, ctx.now);
               if (!directories.ok()) return directories.status();
               nlohmann::json items = nlohmann::json::array();
               for (const Directory& d : *directories) items.push_back(DirectoryJson(d));
               return JsonResponse(200, ValueList(std::move(items)));
             });
  routes.Add("GET", "/v1/directories/{directoryId}", "directories.get",
             [service](const RequestContext& ctx) -> absl::StatusOr<HttpResponse> {
               auto id = PathGuid(ctx, "directoryId");
               if (!id.ok()) return id.status();
               auto directory = service.GetDirectory(ctx.caller, ctx.now, *id);
               if (!directory.ok()) return directory.status();
               return JsonResponse(200, DirectoryJson(*directory));
             });

  // --- principals and tokens ------------------------------------------------
  routes.Add("POST", "/v1/principals", "principals.create",
             [service](const RequestContext& ctx) -> absl::StatusOr<HttpResponse> {
               auto body = ParseJsonObject(ctx.request.body);
               if (!body.ok()) return body.status();
               auto object_id = OptionalGuid(*body, "objectId", "objectId");
               if (!object_id.ok()) return object_id.status();
               auto directory = RequiredGuid(*body, "directoryId", "directoryId");
               if (!directory.ok()) return directory.status();
               auto name = RequiredString(*body, "name", "name");
               if (!name.ok()) return name.status();
               auto kind_text = RequiredString(*body, "kind", "kind");
               if (!kind_text.ok()) return kind_text.status();
               auto kind = ParseMember(ParsePrincipalKind, *kind_text, "kind");
               if (!kind.ok()) return kind.status();
               auto principal = service.CreatePrincipal(ctx.caller, ctx.now,
                                                        {.object_id = *object_id,
                                                         .directory_id = *directory,
                                                         .name = *std::move(name),
                                                         .kind = *kind});
               if (!principal.ok()) return principal.status();
               return JsonResponse(201, PrincipalJson(*principal));
             });
  routes.Add("GET", "/v1/principals", "principals.list",
             [service](const RequestContext& ctx) -> absl::StatusOr<HttpResponse> {
               auto directory = QueryGuid(ctx, "directoryId");
               if (!directory.ok()) return directory.status();
               std::optional<std::string> name;
               if (auto n = ctx.request.Query("name")) name = std::string(*n);
               auto principals = service.ListPrincipals(ctx.caller, ctx.now, *directory, name);
               if (!principals.ok()) return principals.status();
               nlohmann::json items = nlohmann::json::array();
               for (const Principal& p : *principals) items.push_back(PrincipalJson(p));
               return JsonResponse(200, ValueList(std::move(items)));
             });
  routes.Add("GET", "/v1/principals/{objectId}", "principals.get",
             [service](const RequestContext& ctx) -> absl::StatusOr<HttpResponse> {
               auto id = PathGuid(ctx, "objectId");
               if (!id.ok()) return id.status();
               auto principal = service.GetPrincipal(ctx.caller, ctx.now, *id);
               if (!principal.ok()) return principal.status();
               return JsonResponse(200, PrincipalJson(*principal));
             });
  routes.Add("POST", "/v1/principals/{objectId}/tokens", "tokens.create",
             [service](const RequestContext& ctx) -> absl::StatusOr<HttpResponse> {
               auto id = PathGuid(ctx, "objectId");
               if (!id.ok()) return id.status();
               auto body = ParseJsonObject(ctx.request.body, /*allow_empty=*/true);
               if (!body.ok()) return body.status();
               auto hours = OptionalInteger(*body, "expiresInHours");
               if (!hours.ok()) return hours.status();
               auto token = service.MintToken(ctx.caller, ctx.now, *id, *hours);
               if (!token.ok()) return token.status();
               // The only place the secret is ever shown.
               return JsonResponse(201, {{"id", token->id},
                                         {"principalId", token->principal_id.ToString()},
                                         {"token", token->token},
                                         {"expiresAt", token->expires_at.ToString()}});
             });
  routes.Add("DELETE", "/v1/tokens/{tokenId}", "tokens.revoke",
             [service](const RequestContext& ctx) -> absl::StatusOr<HttpResponse> {
               auto token = service.RevokeToken(ctx.caller, ctx.now, ctx.Param("tokenId"));
               if (!token.ok()) return token.status();
               return JsonResponse(200, TokenJson(*token));
             });

  // --- partners -------------------------------------------------------------
  routes.Add("POST", "/v1/partners", "partners.create",
             [service](const RequestContext& ctx) -> absl::StatusOr<HttpResponse> {
               auto body = ParseJsonObject(ctx.request.body);
               if (!body.ok()) return body.status();
               auto id = OptionalString(*body, "id", "id");
               if (!id.ok()) return id.status();
               auto name = RequiredString(*body, "name", "name");
               if (!name.ok()) return name.status();
               auto kind_text = RequiredString(*body, "kind", "kind");
               if (!kind_text.ok()) return kind_text.status();
               auto kind = ParseMember(ParsePartnerKind, *kind_text, "kind");
               if (!kind.ok()) return kind.status();
               auto parent = OptionalString(*body, "parentPartnerId", "parentPartnerId");
               if (!parent.ok()) return parent.status();
               auto currency = RequiredString(*body, "billingCurrency", "billingCurrency");
               if (!currency.ok()) return currency.status();
               auto partner = service.CreatePartner(ctx.caller, ctx.now,
                                                    {.id = *std::move(id),
                                                     .name = *std::move(name),
                                                     .kind = *kind,
                                                     .parent_partner_id = *std::move(parent),
                                                     .billing_currency = *std::move(currency)});
               if (!partner.ok()) return partner.status();
               return JsonResponse(201, PartnerJson(*partner));
             });
  routes.Add("GET", "/v1/partners", "partners.list",
             [service](const RequestContext& ctx) -> absl::StatusOr<HttpResponse> {
               auto partners = service.ListPartners(ctx.caller, ctx.now);
               if (!partners.ok()) return partners.status();
               nlohmann::json items = nlohmann::json::array();
               for (const PartnerInfo& p : *partners) items.push_back(PartnerJson(p));
               return JsonResponse(200, ValueList(std::move(items)));
             });
  routes.Add("GET", "/v1/partners/{partnerId}", "partners.get",
             [service](const RequestContext& ctx) -> absl::StatusOr<HttpResponse> {
               auto partner = service.GetPartner(ctx.caller, ctx.now, ctx.Param("partnerId"));
               if (!partner.ok()) return partner.status();
               return JsonResponse(200, PartnerJson(*partner));
             });

  // --- subscriptions --------------------------------------------------------
  routes.Add("POST", "/v1/subscriptions", "subscriptions.create",
             [service](const RequestContext& ctx) -> absl::StatusOr<HttpResponse> {
               auto body = ParseJsonObject(ctx.request.body);
               if (!body.ok()) return body.status();
               auto id = OptionalGuid(*body, "subscriptionId", "subscriptionId");
               if (!id.ok()) return id.status();
               auto offer_text = RequiredString(*body, "offerType", "offerType");
               if (!offer_text.ok()) return offer_text.status();
               auto offer = ParseMember(ParseOfferType, *offer_text, "offerType");
               if (!offer.ok()) return offer.status();
               auto directory = RequiredGuid(*body, "directoryId", "directoryId");
               if (!directory.ok()) return directory.status();
               auto partner = OptionalString(*body, "partnerId", "partnerId");
               if (!partner.ok()) return partner.status();
               auto currency = OptionalString(*body, "billingCurrency", "billingCurrency");
               if (!currency.ok()) return currency.status();
               auto name = RequiredString(*body, "displayName", "displayName");
               if (!name.ok()) return name.status();
               auto subscription =
                   service.CreateSubscription(ctx.caller, ctx.now,
                                              {.id = *id,
                                               .offer_type = *offer,
                                               .directory_id = *directory,
                                               .partner_id = *std::move(partner),
                                               .billing_currency = *std::move(currency),
                                               .display_name = *std::move(name)});
               if (!subscription.ok()) return subscription.status();
               return JsonResponse(201, SubscriptionJson(*subscription));
             });
  routes.Add("GET", "/v1/subscriptions", "subscriptions.list",
             [service](const RequestContext& ctx) -> absl::StatusOr<HttpResponse> {
               std::optional<PartnerId> partner;
               if (auto p = ctx.request.Query("partnerId")) partner = std::string(*p);
               auto subscriptions = service.ListSubscriptions(ctx.caller, ctx.now, partner);
               if (!subscriptions.ok()) return subscriptions.status();
               nlohmann::json items = nlohmann::json::array();
               for (const Subscription& s : *subscriptions) items.push_back(SubscriptionJson(s));
               return JsonResponse(200, ValueList(std::move(items)));
             });
  routes.Add("GET", "/v1/subscriptions/{subscriptionId}", "subscriptions.get",
             [service](const RequestContext& ctx) -> absl::StatusOr<HttpResponse> {
               auto id = PathGuid(ctx, "subscriptionId");
               if (!id.ok()) return id.status();
               auto subscription = service.GetSubscription(ctx.caller, ctx.now, *id);
               if (!subscription.ok()) return subscription.status();
               return JsonResponse(200, SubscriptionJson(*subscription));
             });

  // --- role assignments -----------------------------------------------------
  routes.Add("PUT", "/v1/roleAssignments/{roleAssignmentId}", "roleAssignments.put",
             [service](const RequestContext& ctx) -> absl::StatusOr<HttpResponse> {
               auto body = ParseJsonObject(ctx.request.body);
               if (!body.ok()) return body.status();
               auto principal = RequiredGuid(*body, "principalId", "principalId");
               if (!principal.ok()) return principal.status();
               auto role_text = RequiredString(*body, "role", "role");
               if (!role_text.ok()) return role_text.status();
               auto role = ParseMember(ParseRole, *role_text, "role");
               if (!role.ok()) return role.status();
               auto scope = RequiredString(*body, "scope", "scope");
               if (!scope.ok()) return scope.status();
               auto outcome = service.PutRoleAssignment(ctx.caller, ctx.now,
                                                        {.id = ctx.Param("roleAssignmentId"),
                                                         .principal_id = *principal,
                                                         .role = *role,
                                                         .scope = *std::move(scope)});
               if (!outcome.ok()) return outcome.status();
               return JsonResponse(outcome->created ? 201 : 200,
                                   RoleAssignmentJson(outcome->assignment));
             });
  routes.Add("GET", "/v1/roleAssignments", "roleAssignments.list",
             [service](const RequestContext& ctx) -> absl::StatusOr<HttpResponse> {
               auto principal = QueryGuid(ctx, "principalId");
               if (!principal.ok()) return principal.status();
               auto assignments = service.ListRoleAssignments(ctx.caller, ctx.now, *principal);
               if (!assignments.ok()) return assignments.status();
               nlohmann::json items = nlohmann::json::array();
               for (const RoleAssignment& a : *assignments) items.push_back(RoleAssignmentJson(a));
               return JsonResponse(200, ValueList(std::move(items)));
             });
  routes.Add("GET", "/v1/roleAssignments/{roleAssignmentId}", "roleAssignments.get",
             [service](const RequestContext& ctx) -> absl::StatusOr<HttpResponse> {
               const std::string& id = ctx.Param("roleAssignmentId");
               auto assignments = service.ListRoleAssignments(ctx.caller, ctx.now, std::nullopt);
               if (!assignments.ok()) return assignments.status();
               for (const RoleAssignment& a : *assignments) {
                 if (a.id == id) return JsonResponse(200, RoleAssignmentJson(a));
               }
               return NotFoundError("RoleAssignmentNotFound",
                                    fmt::format("role assignment {} not found", id));
             });
  routes.Add("DELETE", "/v1/roleAssignments/{roleAssignmentId}", "roleAssignments.delete",
             [service](const RequestContext& ctx) -> absl::StatusOr<HttpResponse> {
               auto deleted =
                   service.DeleteRoleAssignment(ctx.caller, ctx.now, ctx.Param("roleAssignmentId"));
               if (!deleted.ok()) return deleted.status();
               return JsonResponse(200, RoleAssignmentJson(*deleted));
             });

  // --- audit ----------------------------------------------------------------
  // Who the token is: its principal, directory and role assignments (what a
  // client such as the portal shows and asks for).
  routes.Add("GET", "/v1/me", "me.get",
             [](const RequestContext& ctx) -> absl::StatusOr<HttpResponse> {
               nlohmann::json roles = nlohmann::json::array();
               for (const RoleAssignment& a : ctx.caller.roles) {
                 roles.push_back(RoleAssignmentJson(a));
               }
               return JsonResponse(200, {{"principalId", ctx.caller.principal_id.ToString()},
                                         {"directoryId", ctx.caller.directory_id.ToString()},
                                         {"roleAssignments", std::move(roles)}});
             });
  routes.Add("GET", "/v1/audit", "audit.list",
             [service, page_size](const RequestContext& ctx) -> absl::StatusOr<HttpResponse> {
               auto limit = PageSize(ctx, page_size);
               if (!limit.ok()) return limit.status();
               const std::string cursor(ctx.request.Query("$skiptoken").value_or(""));
               auto page =
                   service.ListAudit(ctx.caller, ctx.now, {.cursor = cursor, .limit = *limit});
               if (!page.ok()) return page.status();
               nlohmann::json items = nlohmann::json::array();
               for (const AuditEntry& e : page->items) items.push_back(AuditEntryJson(e));
               nlohmann::json body = ValueList(std::move(items));
               if (!page->next_cursor.empty()) {
                 std::vector<std::pair<std::string, std::string>> query;
                 if (ctx.request.Query("$top")) query.emplace_back("$top", std::to_string(*limit));
                 query.emplace_back("$skiptoken", page->next_cursor);
                 body["nextLink"] = NextLink(ctx.public_base_url, "/v1/audit", query);
               }
               return JsonResponse(200, body);
             });

  return routes.status();
}

}  // namespace stackbill
