// The Microsoft.AzureStack resource provider of SPEC §3: registrations,
// getactivationkey and customerSubscriptions, shaped as the 2017-06-01 specs
// in reference/azure-specs/azurestack/ and their examples (2022-06-01 has the
// same schemas). Handlers check the request's shape and api-version, then
// hand over to RegistrationService, which runs the rules in SPEC's order.

#include <fmt/format.h>

#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/strings/match.h"
#include "api/api.h"
#include "api/json_body.h"
#include "core/abseil_compat.h"
#include "core/error.h"
#include "http/arm.h"
#include "services/registration_service.h"
#include "wire/registration_token.h"

namespace stackbill {
namespace {

constexpr std::string_view kRegistrationType = "Microsoft.AzureStack/registrations";
constexpr std::string_view kCustomerSubscriptionType =
    "Microsoft.AzureStack/registrations/customerSubscriptions";
constexpr std::string_view kRegistrationsPath =
    "/subscriptions/{subscriptionId}/resourceGroups/{resourceGroup}/providers/"
    "Microsoft.AzureStack/registrations";
constexpr std::string_view kRegistrationPath =
    "/subscriptions/{subscriptionId}/resourceGroups/{resourceGroup}/providers/"
    "Microsoft.AzureStack/registrations/{registrationName}";

absl::StatusOr<std::string> ApiVersion(const HttpRequest& request) {
  return CheckApiVersion(request, {"2017-06-01", "2022-06-01"});
}

absl::StatusOr<Guid> SubscriptionIdParam(const RequestContext& context) {
  const std::string& text = context.Param("subscriptionId");
  absl::StatusOr<Guid> id = Guid::Parse(text);
  if (!id.ok()) {
    return InvalidArgumentError(
        "InvalidSubscriptionId",
        fmt::format("The provided subscription identifier '{}' is malformed or invalid.", text));
  }
  return *id;
}

absl::StatusOr<RegistrationName> RegistrationNameParam(const RequestContext& context) {
  absl::StatusOr<Guid> subscription_id = SubscriptionIdParam(context);
  if (!subscription_id.ok()) return subscription_id.status();
  return RegistrationName{.subscription_id = *subscription_id,
                          .resource_group = context.Param("resourceGroup"),
                          .name = context.Param("registrationName")};
}

nlohmann::json RegistrationJson(const Registration& registration) {
  nlohmann::json body = {
      {"id", registration.name.ResourceId()},
      {"name", registration.name.name},
      {"type", kRegistrationType},
      {"location", "global"},
      {"properties",
       {{"objectId", registration.object_id.ToString()},
        {"cloudId", registration.cloud_id.ToString()},
        {"billingModel", std::string(ToString(registration.billing_model))}}},
  };
  if (!registration.tags.empty()) body["tags"] = registration.tags;
  // The version's identity and terms: a new version gets a new ETag.
  body["etag"] = StrongETag(body.dump() + registration.valid.from.ToString());
  return body;
}

nlohmann::json CustomerSubscriptionJson(const CustomerSubscription& cs) {
  const std::string id = cs.customer_subscription_id.ToString();
  nlohmann::json body = {
      {"id", fmt::format("{}/customerSubscriptions/{}", cs.registration.ResourceId(), id)},
      {"name", fmt::format("{}/{}", cs.registration.name, id)},
      {"type", kCustomerSubscriptionType},
      {"properties", {{"tenantId", cs.tenant_id.ToString()}}},
  };
  body["etag"] = StrongETag(body.dump() + cs.valid.from.ToString());
  return body;
}

// The body of a registration PUT or PATCH (RegistrationParameter):
// `location` ("global", any case) and `properties.registrationToken` are
// required; `tags` is an optional map of strings.
absl::StatusOr<RegistrationRequest> ParseRegistrationBody(const RequestContext& context) {
  absl::StatusOr<nlohmann::json> body = ParseJsonObject(context.request.body);
  if (!body.ok()) return body.status();
  absl::StatusOr<std::optional<std::string>> location =
      OptionalString(*body, "location", "location");
  if (!location.ok()) return location.status();
  if (!location->has_value()) {
    return InvalidArgumentError("LocationRequired",
                                "The location property is required for this definition.");
  }
  if (!absl::EqualsIgnoreCase(AbslView(**location), "global")) {
    return InvalidArgumentError(
        "LocationNotAvailableForResourceType",
        fmt::format("The provided location '{}' is not available for resource type '{}'. List "
                    "of available regions for the resource type is 'global'.",
                    **location, kRegistrationType));
  }
  auto properties = body->find("properties");
  if (properties == body->end() || properties->is_null()) {
    return InvalidArgumentError("MissingRequiredProperty", "'properties' is required");
  }
  if (!properties->is_object()) {
    return InvalidArgumentError("InvalidRequestContent", "'properties' must be an object");
  }
  absl::StatusOr<std::string> token =
      RequiredString(*properties, "registrationToken", "properties.registrationToken");
  if (!token.ok()) return token.status();
  absl::StatusOr<RegistrationName> name = RegistrationNameParam(context);
  if (!name.ok()) return name.status();
  RegistrationRequest request{
      .name = *std::move(name), .registration_token = *std::move(token), .tags = std::nullopt};
  if (auto tags = body->find("tags"); tags != body->end() && !tags->is_null()) {
    if (!tags->is_object()) {
      return InvalidArgumentError("InvalidRequestContent", "'tags' must be an object");
    }
    std::map<std::string, std::string> parsed;
    for (const auto& [key, value] : tags->items()) {
      if (!value.is_string()) {
        return InvalidArgumentError("InvalidRequestContent",
                                    fmt::format("'tags.{}' must be a string", key));
      }
      parsed[key] = value.get<std::string>();
    }
    request.tags = std::move(parsed);
  }
  return request;
}

absl::StatusOr<std::optional<Timestamp>> ParseCorrectionTime(std::optional<std::string_view> text,
                                                             std::string_view field,
                                                             std::string_view error_code) {
  if (!text.has_value()) return std::optional<Timestamp>();
  absl::StatusOr<Timestamp> parsed = Timestamp::Parse(*text);
  if (!parsed.ok()) {
    return InvalidArgumentError(error_code, fmt::format("'{}' is not an ISO 8601 date and time: {}",
                                                        field, Message(parsed.status())));
  }
  return std::optional<Timestamp>(*parsed);
}

// The handlers share one service; std::function copies each lambda, hence
// shared ownership.
using Service = std::shared_ptr<RegistrationService>;

RouteHandler PutRegistration(const Service& service, bool patch) {
  return [service, patch](const RequestContext& context) -> absl::StatusOr<HttpResponse> {
    if (absl::StatusOr<std::string> v = ApiVersion(context.request); !v.ok()) return v.status();
    absl::StatusOr<RegistrationRequest> request = ParseRegistrationBody(context);
    if (!request.ok()) return request.status();
    if (patch) {
      absl::StatusOr<Registration> updated =
          service->PatchRegistration(context.caller, *request, context.now);
      if (!updated.ok()) return updated.status();
      return JsonResponse(200, RegistrationJson(*updated));
    }
    absl::StatusOr<RegistrationPutResult> result =
        service->PutRegistration(context.caller, *request, context.now);
    if (!result.ok()) return result.status();
    const nlohmann::json body = RegistrationJson(result->registration);
    return JsonResponse(result->created ? 201 : 200, body, body["etag"].get<std::string>());
  };
}

RouteHandler GetRegistration(const Service& service) {
  return [service](const RequestContext& context) -> absl::StatusOr<HttpResponse> {
    if (absl::StatusOr<std::string> v = ApiVersion(context.request); !v.ok()) return v.status();
    absl::StatusOr<RegistrationName> name = RegistrationNameParam(context);
    if (!name.ok()) return name.status();
    absl::StatusOr<Registration> registration =
        service->GetRegistration(context.caller, *name, context.now);
    if (!registration.ok()) return registration.status();
    const nlohmann::json body = RegistrationJson(*registration);
    return JsonResponse(200, body, body["etag"].get<std::string>());
  };
}

RouteHandler DeleteRegistration(const Service& service) {
  return [service](const RequestContext& context) -> absl::StatusOr<HttpResponse> {
    if (absl::StatusOr<std::string> v = ApiVersion(context.request); !v.ok()) return v.status();
    absl::StatusOr<RegistrationName> name = RegistrationNameParam(context);
    if (!name.ok()) return name.status();
    absl::StatusOr<bool> deleted = service->DeleteRegistration(context.caller, *name, context.now);
    if (!deleted.ok()) return deleted.status();
    return HttpResponse::Empty(*deleted ? 200 : 204);
  };
}

RouteHandler ListRegistrations(const Service& service, int page_size, bool by_resource_group) {
  return [service, page_size,
          by_resource_group](const RequestContext& context) -> absl::StatusOr<HttpResponse> {
    absl::StatusOr<std::string> version = ApiVersion(context.request);
    if (!version.ok()) return version.status();
    absl::StatusOr<Guid> subscription_id = SubscriptionIdParam(context);
    if (!subscription_id.ok()) return subscription_id.status();
    std::optional<std::string> resource_group;
    if (by_resource_group) resource_group = context.Param("resourceGroup");
    absl::StatusOr<std::vector<Registration>> registrations =
        service->ListRegistrations(context.caller, *subscription_id, resource_group, context.now);
    if (!registrations.ok()) return registrations.status();
    absl::StatusOr<OffsetPage> window =
        PageByOffset(context.request, context.public_base_url, registrations->size(), page_size,
                     {{"api-version", *version}});
    if (!window.ok()) return window.status();
    nlohmann::json value = nlohmann::json::array();
    for (std::size_t i = window->begin; i < window->end; ++i) {
      value.push_back(RegistrationJson((*registrations)[i]));
    }
    nlohmann::json body = {{"value", std::move(value)}};
    if (window->next_link) body["nextLink"] = *window->next_link;
    return JsonResponse(200, body);
  };
}

RouteHandler GetActivationKey(const Service& service) {
  return [service](const RequestContext& context) -> absl::StatusOr<HttpResponse> {
    if (absl::StatusOr<std::string> v = ApiVersion(context.request); !v.ok()) return v.status();
    absl::StatusOr<RegistrationName> name = RegistrationNameParam(context);
    if (!name.ok()) return name.status();
    absl::StatusOr<std::string> key = service->GetActivationKey(context.caller, *name, context.now);
    if (!key.ok()) return key.status();
    HttpResponse response = JsonResponse(200, {{"activationKey", *key}});
    response.headers.emplace_back("Cache-Control", "no-store");
    return response;
  };
}

// The body of a customer subscription PUT: `properties.tenantId` and, for a
// PlatformAdmin's correction, `properties.effectiveFrom`.
absl::StatusOr<CustomerSubscriptionRequest> ParseCustomerSubscriptionBody(
    const RequestContext& context) {
  absl::StatusOr<nlohmann::json> body = ParseJsonObject(context.request.body);
  if (!body.ok()) return body.status();
  auto properties = body->find("properties");
  if (properties == body->end() || properties->is_null()) {
    return InvalidArgumentError("MissingRequiredProperty", "'properties' is required");
  }
  if (!properties->is_object()) {
    return InvalidArgumentError("InvalidRequestContent", "'properties' must be an object");
  }
  absl::StatusOr<Guid> tenant_id = RequiredGuid(*properties, "tenantId", "properties.tenantId");
  if (!tenant_id.ok()) return tenant_id.status();
  absl::StatusOr<std::optional<std::string>> effective_from_text =
      OptionalString(*properties, "effectiveFrom", "properties.effectiveFrom");
  if (!effective_from_text.ok()) return effective_from_text.status();
  std::optional<std::string_view> effective_from_view;
  if (*effective_from_text) effective_from_view = **effective_from_text;
  absl::StatusOr<std::optional<Timestamp>> effective_from =
      ParseCorrectionTime(effective_from_view, "properties.effectiveFrom", "InvalidEffectiveFrom");
  if (!effective_from.ok()) return effective_from.status();
  absl::StatusOr<RegistrationName> name = RegistrationNameParam(context);
  if (!name.ok()) return name.status();
  return CustomerSubscriptionRequest{
      .registration = *std::move(name),
      .customer_subscription_id = context.Param("customerSubscriptionName"),
      .tenant_id = *tenant_id,
      .effective_from = *effective_from};
}

RouteHandler PutCustomerSubscription(const Service& service) {
  return [service](const RequestContext& context) -> absl::StatusOr<HttpResponse> {
    if (absl::StatusOr<std::string> v = ApiVersion(context.request); !v.ok()) return v.status();
    absl::StatusOr<CustomerSubscriptionRequest> request = ParseCustomerSubscriptionBody(context);
    if (!request.ok()) return request.status();
    absl::StatusOr<CustomerSubscription> cs =
        service->PutCustomerSubscription(context.caller, *std::move(request), context.now);
    if (!cs.ok()) return cs.status();
    // The SDK accepts only 200, created or not (SPEC §3).
    const nlohmann::json response = CustomerSubscriptionJson(*cs);
    return JsonResponse(200, response, response["etag"].get<std::string>());
  };
}

// SPEC §3's check order: request shape, api-version and token syntax answer
// (400) before authentication and role. These run in the router before it
// authenticates; the handlers parse the same request again for their values.
enum class Body { kNone, kRegistration, kCustomerSubscription };

RouteValidator ValidateShape(Body body) {
  return [body](const RequestContext& context) -> absl::Status {
    if (absl::StatusOr<std::string> v = ApiVersion(context.request); !v.ok()) return v.status();
    if (absl::StatusOr<Guid> id = SubscriptionIdParam(context); !id.ok()) return id.status();
    switch (body) {
      case Body::kNone:
        return absl::OkStatus();
      case Body::kRegistration: {
        absl::StatusOr<RegistrationRequest> request = ParseRegistrationBody(context);
        if (!request.ok()) return request.status();
        return DecodeRegistrationToken(request->registration_token).status();
      }
      case Body::kCustomerSubscription:
        return ParseCustomerSubscriptionBody(context).status();
    }
    return absl::OkStatus();
  };
}

RouteHandler GetCustomerSubscription(const Service& service) {
  return [service](const RequestContext& context) -> absl::StatusOr<HttpResponse> {
    if (absl::StatusOr<std::string> v = ApiVersion(context.request); !v.ok()) return v.status();
    absl::StatusOr<RegistrationName> name = RegistrationNameParam(context);
    if (!name.ok()) return name.status();
    absl::StatusOr<CustomerSubscription> cs = service->GetCustomerSubscription(
        context.caller, *name, context.Param("customerSubscriptionName"), context.now);
    if (!cs.ok()) return cs.status();
    const nlohmann::json response = CustomerSubscriptionJson(*cs);
    return JsonResponse(200, response, response["etag"].get<std::string>());
  };
}

RouteHandler DeleteCustomerSubscription(const Service& service) {
  return [service](const RequestContext& context) -> absl::StatusOr<HttpResponse> {
    if (absl::StatusOr<std::string> v = ApiVersion(context.request); !v.ok()) return v.status();
    absl::StatusOr<std::optional<Timestamp>> effective_to = ParseCorrectionTime(
        context.request.Query("effectiveTo"), "effectiveTo", "InvalidEffectiveTo");
    if (!effective_to.ok()) return effective_to.status();
    absl::StatusOr<RegistrationName> name = RegistrationNameParam(context);
    if (!name.ok()) return name.status();
    absl::StatusOr<bool> deleted = service->DeleteCustomerSubscription(
        context.caller, *name, context.Param("customerSubscriptionName"), *effective_to,
        context.now);
    if (!deleted.ok()) return deleted.status();
    return HttpResponse::Empty(*deleted ? 200 : 204);
  };
}

RouteHandler ListCustomerSubscriptions(const Service& service, int page_size) {
  return [service, page_size](const RequestContext& context) -> absl::StatusOr<HttpResponse> {
    absl::StatusOr<std::string> version = ApiVersion(context.request);
    if (!version.ok()) return version.status();
    absl::StatusOr<RegistrationName> name = RegistrationNameParam(context);
    if (!name.ok()) return name.status();
    absl::StatusOr<std::vector<CustomerSubscription>> list =
        service->ListCustomerSubscriptions(context.caller, *name, context.now);
    if (!list.ok()) return list.status();
    absl::StatusOr<OffsetPage> window =
        PageByOffset(context.request, context.public_base_url, list->size(), page_size,
                     {{"api-version", *version}});
    if (!window.ok()) return window.status();
    nlohmann::json value = nlohmann::json::array();
    for (std::size_t i = window->begin; i < window->end; ++i) {
      value.push_back(CustomerSubscriptionJson((*list)[i]));
    }
    nlohmann::json body = {{"value", std::move(value)}};
    if (window->next_link) body["nextLink"] = *window->next_link;
    return JsonResponse(200, body);
  };
}

}  // namespace

absl::Status AddAzureStackRoutes(Router& router, Store& store, const ApiOptions& options) {
  return AddAzureStackRoutes(
      router, std::make_shared<RegistrationService>(store, options.registrations), options);
}

absl::Status AddAzureStackRoutes(Router& router,
                                 const std::shared_ptr<RegistrationService>& service,
                                 const ApiOptions& options) {
  if (options.page_size < 1) {
    return absl::InvalidArgumentError("ApiOptions.page_size must be at least 1");
  }
  const std::string registrations(kRegistrationsPath);
  const std::string registration(kRegistrationPath);
  const std::string customers = registration + "/customerSubscriptions";
  const std::string customer = customers + "/{customerSubscriptionName}";
  std::vector<Route> routes = {
      {"GET", "/subscriptions/{subscriptionId}/providers/Microsoft.AzureStack/registrations",
       Authentication::kPrincipal, "registrations.listBySubscription",
       ListRegistrations(service, options.page_size, false), ValidateShape(Body::kNone)},
      {"GET", registrations, Authentication::kPrincipal, "registrations.list",
       ListRegistrations(service, options.page_size, true), ValidateShape(Body::kNone)},
      {"PUT", registration, Authentication::kPrincipal, "registrations.put",
       PutRegistration(service, false), ValidateShape(Body::kRegistration)},
      {"PATCH", registration, Authentication::kPrincipal, "registrations.patch",
       PutRegistration(service, true), ValidateShape(Body::kRegistration)},
      {"GET", registration, Authentication::kPrincipal, "registrations.get",
       GetRegistration(service), ValidateShape(Body::kNone)},
      {"DELETE", registration, Authentication::kPrincipal, "registrations.delete",
       DeleteRegistration(service), ValidateShape(Body::kNone)},
      {"POST", registration + "/getactivationkey", Authentication::kPrincipal,
       "registrations.getActivationKey", GetActivationKey(service), ValidateShape(Body::kNone)},
      {"GET", customers, Authentication::kPrincipal, "customerSubscriptions.list",
       ListCustomerSubscriptions(service, options.page_size), ValidateShape(Body::kNone)},
      {"PUT", customer, Authentication::kPrincipal, "customerSubscriptions.put",
       PutCustomerSubscription(service), ValidateShape(Body::kCustomerSubscription)},
      {"GET", customer, Authentication::kPrincipal, "customerSubscriptions.get",
       GetCustomerSubscription(service), ValidateShape(Body::kNone)},
      {"DELETE", customer, Authentication::kPrincipal, "customerSubscriptions.delete",
       DeleteCustomerSubscription(service), ValidateShape(Body::kNone)},
  };
  for (Route& route : routes) {
    if (absl::Status status = router.Add(std::move(route)); !status.ok()) return status;
  }
  return absl::OkStatus();
}

}  // namespace stackbill
