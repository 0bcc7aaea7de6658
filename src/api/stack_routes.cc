// The /v1 stack endpoints of SPEC §6.1: stack status, the PlatformAdmin's
// billing-model approval (R9) and claim release (R3), and the stack
// subscriber mapping of SPEC §4 (by the stack's own activation key or a
// PartnerAdmin). The rules run in RegistrationService.

#include <fmt/format.h>

#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "api/api.h"
#include "api/json_body.h"
#include "api/request_params.h"
#include "core/error.h"
#include "http/arm.h"
#include "services/registration_service.h"

namespace stackbill {
namespace {

using Service = std::shared_ptr<RegistrationService>;  // shared by the handlers' copies

nlohmann::json ApprovalJson(const BillingModelApproval& approval) {
  nlohmann::json body = {{"cloudId", approval.cloud_id.ToString()},
                         {"billingModel", std::string(ToString(approval.billing_model))}};
  if (approval.agreement_number) body["agreementNumber"] = *approval.agreement_number;
  if (approval.ms_asset_tag) body["msAssetTag"] = *approval.ms_asset_tag;
  return body;
}

nlohmann::json StackJson(const StackStatus& status) {
  const Stack& stack = status.stack;
  nlohmann::json body = {
      {"cloudId", stack.cloud_id.ToString()},
      {"deploymentDirectoryId", stack.deployment_directory_id.ToString()},
      {"billingModel", std::string(ToString(stack.billing_model))},
      {"usageReportingEnabled", stack.usage_reporting_enabled},
      {"multiTenant", stack.multi_tenant},
      {"state", status.registration ? "Registered" : "NotRegistered"},
      {"registration", nullptr},
      {"approval", nullptr},
      // Forwarding health (SPEC §4): the last accepted usage and the count.
      {"lastUsageReceivedAt", status.ingest
                                  ? nlohmann::json(status.ingest->last_received_at.ToString())
                                  : nlohmann::json(nullptr)},
      {"usageRecordsAccepted", status.ingest ? status.ingest->accepted : 0},
      {"quarantineCount", status.pending_quarantine},
  };
  if (const std::optional<Registration>& r = status.registration) {
    body["registration"] = {
        {"id", r->name.ResourceId()},
        {"name", r->name.name},
        {"subscriptionId", r->name.subscription_id.ToString()},
        {"resourceGroup", r->name.resource_group},
        {"objectId", r->object_id.ToString()},
        {"billingModel", std::string(ToString(r->billing_model))},
        {"validFrom", r->valid.from.ToString()},
    };
  }
  if (status.approval) body["approval"] = ApprovalJson(*status.approval);
  return body;
}

RouteHandler ListStacks(const Service& service, int page_size) {
  return [service, page_size](const RequestContext& context) -> absl::StatusOr<HttpResponse> {
    absl::StatusOr<std::vector<StackStatus>> stacks =
        service->ListStacks(context.caller, context.now);
    if (!stacks.ok()) return stacks.status();
    absl::StatusOr<OffsetPage> page =
        PageByOffset(context.request, context.public_base_url, stacks->size(), page_size, {});
    if (!page.ok()) return page.status();
    nlohmann::json value = nlohmann::json::array();
    for (std::size_t i = page->begin; i < page->end; ++i) value.push_back(StackJson((*stacks)[i]));
    nlohmann::json body = {{"value", std::move(value)}};
    if (page->next_link) body["nextLink"] = *page->next_link;
    return JsonResponse(200, body);
  };
}

RouteHandler GetStack(const Service& service) {
  return [service](const RequestContext& context) -> absl::StatusOr<HttpResponse> {
    absl::StatusOr<Guid> cloud_id = GuidParam(context, "cloudId");
    if (!cloud_id.ok()) return cloud_id.status();
    absl::StatusOr<StackStatus> stack = service->GetStack(context.caller, *cloud_id, context.now);
    if (!stack.ok()) return stack.status();
    return JsonResponse(200, StackJson(*stack));
  };
}

RouteHandler PutApproval(const Service& service) {
  return [service](const RequestContext& context) -> absl::StatusOr<HttpResponse> {
    absl::StatusOr<Guid> cloud_id = GuidParam(context, "cloudId");
    if (!cloud_id.ok()) return cloud_id.status();
    absl::StatusOr<nlohmann::json> body = ParseJsonObject(context.request.body);
    if (!body.ok()) return body.status();
    absl::StatusOr<std::string> model_text = RequiredString(*body, "billingModel", "billingModel");
    if (!model_text.ok()) return model_text.status();
    absl::StatusOr<BillingModel> model = ParseBillingModel(*model_text);
    if (!model.ok()) return Annotate(model.status(), "'billingModel'");
    absl::StatusOr<std::optional<std::string>> agreement =
        OptionalString(*body, "agreementNumber", "agreementNumber");
    if (!agreement.ok()) return agreement.status();
    absl::StatusOr<std::optional<std::string>> asset_tag =
        OptionalString(*body, "msAssetTag", "msAssetTag");
    if (!asset_tag.ok()) return asset_tag.status();
    BillingModelApproval approval;
    approval.cloud_id = *cloud_id;
    approval.billing_model = *model;
    approval.agreement_number = *std::move(agreement);
    approval.ms_asset_tag = *std::move(asset_tag);
    absl::StatusOr<BillingModelApproval> stored =
        service->PutApproval(context.caller, approval, context.now);
    if (!stored.ok()) return stored.status();
    return JsonResponse(200, ApprovalJson(*stored));
  };
}

RouteHandler ReleaseClaim(const Service& service) {
  return [service](const RequestContext& context) -> absl::StatusOr<HttpResponse> {
    absl::StatusOr<Guid> cloud_id = GuidParam(context, "cloudId");
    if (!cloud_id.ok()) return cloud_id.status();
    absl::StatusOr<Registration> ended =
        service->ReleaseClaim(context.caller, *cloud_id, context.now);
    if (!ended.ok()) return ended.status();
    return JsonResponse(200, {{"cloudId", cloud_id->ToString()},
                              {"registration", ended->name.ResourceId()},
                              {"releasedAt", context.now.ToString()}});
  };
}

RouteHandler PutSubscriber(const Service& service) {
  return [service](const RequestContext& context) -> absl::StatusOr<HttpResponse> {
    absl::StatusOr<Guid> cloud_id = GuidParam(context, "cloudId");
    if (!cloud_id.ok()) return cloud_id.status();
    absl::StatusOr<Guid> subscription_id = GuidParam(context, "subscriptionId");
    if (!subscription_id.ok()) return subscription_id.status();
    absl::StatusOr<nlohmann::json> body = ParseJsonObject(context.request.body);
    if (!body.ok()) return body.status();
    absl::StatusOr<Guid> tenant_id = RequiredGuid(*body, "tenantId", "tenantId");
    if (!tenant_id.ok()) return tenant_id.status();
    absl::StatusOr<StackSubscriber> subscriber = service->PutStackSubscriber(
        context.caller, *cloud_id, *subscription_id, *tenant_id, context.now);
    if (!subscriber.ok()) return subscriber.status();
    return JsonResponse(200, {{"cloudId", subscriber->cloud_id.ToString()},
                              {"subscriptionId", subscriber->local_subscription_id.ToString()},
                              {"tenantId", subscriber->tenant_id.ToString()},
                              {"validFrom", subscriber->valid.from.ToString()}});
  };
}

}  // namespace

absl::Status AddStackRoutes(Router& router, Store& store, const ApiOptions& options) {
  return AddStackRoutes(router, std::make_shared<RegistrationService>(store, options.registrations),
                        options);
}

absl::Status AddStackRoutes(Router& router, const std::shared_ptr<RegistrationService>& service,
                            const ApiOptions& options) {
  if (options.page_size < 1) {
    return absl::InvalidArgumentError("ApiOptions.page_size must be at least 1");
  }
  std::vector<Route> routes = {
      {"GET", "/v1/stacks", Authentication::kPrincipal, "stacks.list",
       ListStacks(service, options.page_size)},
      {"GET", "/v1/stacks/{cloudId}", Authentication::kPrincipal, "stacks.get", GetStack(service)},
      {"PUT", "/v1/stacks/{cloudId}/approval", Authentication::kPrincipal, "stacks.approval.put",
       PutApproval(service)},
      {"DELETE", "/v1/stacks/{cloudId}/claim", Authentication::kPrincipal, "stacks.claim.delete",
       ReleaseClaim(service)},
      {"PUT", "/v1/stacks/{cloudId}/subscribers/{subscriptionId}",
       Authentication::kPrincipalOrStackKey, "stacks.subscribers.put", PutSubscriber(service)},
  };
  for (Route& route : routes) {
    if (absl::Status status = router.Add(std::move(route)); !status.ok()) return status;
  }
  return absl::OkStatus();
}

}  // namespace stackbill
