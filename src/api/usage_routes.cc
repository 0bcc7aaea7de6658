// The usage endpoints of SPEC §4 and §6.1: ingestion by a stack's activation
// key, the quarantine and its replay, custom meters, and a PlatformAdmin's
// supersede of a stored record (R11). The rules run in IngestService.

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
#include "services/ingest_service.h"
#include "wire/usage_parser.h"

namespace stackbill {
namespace {

using Service = std::shared_ptr<IngestService>;  // shared by the handlers' copies

nlohmann::json ErrorsJson(const std::vector<IngestError>& errors, std::string_view index_key) {
  nlohmann::json out = nlohmann::json::array();
  for (const IngestError& e : errors) {
    out.push_back({{std::string(index_key), e.index},
                   {"id", e.id.empty() ? nlohmann::json(nullptr) : nlohmann::json(e.id)},
                   {"code", e.code},
                   {"message", e.message}});
  }
  return out;
}

nlohmann::json QuarantineJson(const QuarantineEntry& e) {
  return {{"id", e.id},
          {"cloudId", e.cloud_id.ToString()},
          {"receivedAt", e.received_at.ToString()},
          {"code", e.code},
          {"message", e.message},
          // Raw bytes need not be UTF-8; invalid sequences are replaced.
          {"rawText", e.raw_text},
          {"recordId", e.record_id.empty() ? nlohmann::json(nullptr) : nlohmann::json(e.record_id)},
          {"replayedAt",
           e.replayed_at ? nlohmann::json(e.replayed_at->ToString()) : nlohmann::json(nullptr)}};
}

nlohmann::json MeterJson(const Meter& m) {
  return {{"meterId", m.meter_id.ToString()},
          {"name", m.name},
          {"category", m.category},
          {"unit", m.unit},
          {"commerceMeterId", m.commerce_meter_id ? nlohmann::json(m.commerce_meter_id->ToString())
                                                  : nlohmann::json(nullptr)},
          {"custom", m.custom}};
}

std::string Dump(const nlohmann::json& body) {
  return body.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

// The quarantine filter of a GET's query or a replay's body fields.
absl::StatusOr<QuarantineFilter> FilterFromQuery(const RequestContext& context) {
  QuarantineFilter filter;
  absl::StatusOr<std::optional<Guid>> cloud = GuidQuery(context, "cloudId");
  if (!cloud.ok()) return cloud.status();
  filter.cloud_id = *cloud;
  if (std::optional<std::string_view> code = context.request.Query("code")) {
    filter.code = std::string(*code);
  }
  absl::StatusOr<std::optional<Timestamp>> from = TimeQuery(context, "from");
  if (!from.ok()) return from.status();
  absl::StatusOr<std::optional<Timestamp>> to = TimeQuery(context, "to");
  if (!to.ok()) return to.status();
  filter.received_from = *from;
  filter.received_to = *to;
  if (std::optional<std::string_view> replayed = context.request.Query("includeReplayed")) {
    if (*replayed != "true" && *replayed != "false") {
      return InvalidArgumentError("InvalidRequestContent", "'includeReplayed' is true or false");
    }
    filter.include_replayed = *replayed == "true";
  }
  return filter;
}

RouteHandler PostUsage(const Service& service) {
  return [service](const RequestContext& context) -> absl::StatusOr<HttpResponse> {
    absl::StatusOr<Guid> cloud_id = GuidParam(context, "cloudId");
    if (!cloud_id.ok()) return cloud_id.status();
    const std::string_view content_type = context.request.Header("content-type").value_or("");
    absl::StatusOr<IngestSummary> summary =
        service->Ingest(context.caller, *cloud_id, content_type, context.request.body, context.now);
    if (!summary.ok()) return summary.status();
    nlohmann::json body = {{"accepted", summary->accepted},
                           {"duplicates", summary->duplicates},
                           {"quarantined", summary->quarantined},
                           {"errors", ErrorsJson(summary->errors, "index")},
                           {"errorsNotShown", summary->errors_not_shown}};
    return HttpResponse::Json(200, Dump(body));
  };
}

RouteHandler ListQuarantine(const Service& service, int page_size) {
  return [service, page_size](const RequestContext& context) -> absl::StatusOr<HttpResponse> {
    absl::StatusOr<int> limit = PageSize(context, page_size);
    if (!limit.ok()) return limit.status();
    absl::StatusOr<QuarantineFilter> filter = FilterFromQuery(context);
    if (!filter.ok()) return filter.status();
    const std::string cursor(context.request.Query("$skiptoken").value_or(""));
    absl::StatusOr<Page<QuarantineEntry>> page = service->ListQuarantine(
        context.caller, *filter, {.cursor = cursor, .limit = *limit}, context.now);
    if (!page.ok()) return page.status();
    nlohmann::json items = nlohmann::json::array();
    for (const QuarantineEntry& e : page->items) items.push_back(QuarantineJson(e));
    nlohmann::json body = {{"value", std::move(items)}};
    if (!page->next_cursor.empty()) {
      // Every filter parameter again, then the cursor: the next page is the
      // same query (and is authorised again).
      std::vector<std::pair<std::string, std::string>> query;
      for (const char* name : {"cloudId", "code", "from", "to", "includeReplayed", "$top"}) {
        if (auto value = context.request.Query(name)) query.emplace_back(name, std::string(*value));
      }
      query.emplace_back("$skiptoken", page->next_cursor);
      body["nextLink"] = NextLink(context.public_base_url, "/v1/quarantine", query);
    }
    return HttpResponse::Json(200, Dump(body));
  };
}

RouteHandler UsageTotals(const Service& service) {
  return [service](const RequestContext& context) -> absl::StatusOr<HttpResponse> {
    UsageFilter filter;
    absl::StatusOr<std::optional<Guid>> cloud = GuidQuery(context, "cloudId");
    if (!cloud.ok()) return cloud.status();
    filter.cloud_id = *cloud;
    absl::StatusOr<std::optional<Timestamp>> from = TimeQuery(context, "from");
    if (!from.ok()) return from.status();
    absl::StatusOr<std::optional<Timestamp>> to = TimeQuery(context, "to");
    if (!to.ok()) return to.status();
    filter.usage_start_from = *from;
    filter.usage_start_to = *to;
    absl::StatusOr<std::vector<UsageTotal>> totals = service->UsageTotals(context.caller, filter);
    if (!totals.ok()) return totals.status();
    nlohmann::json value = nlohmann::json::array();
    std::int64_t records = 0;
    for (const UsageTotal& t : *totals) {
      records += t.records;
      value.push_back({{"subscriptionId", t.billed_subscription_id.ToString()},
                       {"meterId", t.meter_id.ToString()},
                       {"records", t.records},
                       {"quantity", t.quantity.ToString()}});
    }
    return HttpResponse::Json(200, Dump({{"records", records}, {"value", std::move(value)}}));
  };
}

RouteHandler Replay(const Service& service) {
  return [service](const RequestContext& context) -> absl::StatusOr<HttpResponse> {
    absl::StatusOr<nlohmann::json> body = ParseJsonObject(context.request.body);
    if (!body.ok()) return body.status();
    ReplayRequest request;
    if (auto ids = body->find("ids"); ids != body->end()) {
      if (!ids->is_array() || ids->empty()) {
        return InvalidArgumentError("InvalidRequestContent",
                                    "'ids' must be a non-empty array of quarantine entry ids");
      }
      for (const nlohmann::json& id : *ids) {
        if (!id.is_number_integer() || id.get<std::int64_t>() < 1) {
          return InvalidArgumentError("InvalidRequestContent",
                                      "'ids' must hold positive whole numbers");
        }
        request.ids.push_back(id.get<std::int64_t>());
      }
    }
    absl::StatusOr<std::optional<Guid>> cloud = OptionalGuid(*body, "cloudId", "cloudId");
    if (!cloud.ok()) return cloud.status();
    request.filter.cloud_id = *cloud;
    absl::StatusOr<std::optional<std::string>> code = OptionalString(*body, "code", "code");
    if (!code.ok()) return code.status();
    request.filter.code = *code;
    for (const auto& [key, slot] :
         {std::pair{"from", &request.filter.received_from}, {"to", &request.filter.received_to}}) {
      absl::StatusOr<std::optional<std::string>> text = OptionalString(*body, key, key);
      if (!text.ok()) return text.status();
      if (!*text) continue;
      absl::StatusOr<Timestamp> t = Timestamp::Parse(**text);
      if (!t.ok()) {
        return InvalidArgumentError("InvalidTime",
                                    fmt::format("'{}' must be an RFC 3339 time", key));
      }
      *slot = *t;
    }
    if (auto limit = body->find("limit"); limit != body->end()) {
      if (!limit->is_number_integer() || limit->get<std::int64_t>() < 1 ||
          limit->get<std::int64_t>() > 100000) {
        return InvalidArgumentError("InvalidRequestContent",
                                    "'limit' must be a whole number from 1 to 100000");
      }
      request.limit = limit->get<std::size_t>();
    }
    if (!request.ids.empty() && (request.filter.cloud_id || request.filter.code ||
                                 request.filter.received_from || request.filter.received_to)) {
      return InvalidArgumentError("InvalidRequestContent",
                                  "give either 'ids' or a filter (cloudId, code, from, to)");
    }
    absl::StatusOr<ReplayResult> result = service->Replay(context.caller, request, context.now);
    if (!result.ok()) return result.status();
    nlohmann::json out = {{"replayed", result->replayed},
                          {"accepted", result->accepted},
                          {"stillFailing", result->still_failing},
                          {"errors", ErrorsJson(result->errors, "quarantineId")}};
    return HttpResponse::Json(200, Dump(out));
  };
}

RouteHandler ListMeters(Store& store) {
  return [&store](const RequestContext&) -> absl::StatusOr<HttpResponse> {
    absl::StatusOr<std::vector<Meter>> meters = store.meters().ListMeters();
    if (!meters.ok()) return meters.status();
    nlohmann::json items = nlohmann::json::array();
    for (const Meter& m : *meters) items.push_back(MeterJson(m));
    return JsonResponse(200, {{"value", std::move(items)}});
  };
}

RouteHandler PostMeter(const Service& service) {
  return [service](const RequestContext& context) -> absl::StatusOr<HttpResponse> {
    absl::StatusOr<nlohmann::json> body = ParseJsonObject(context.request.body);
    if (!body.ok()) return body.status();
    Meter meter;
    absl::StatusOr<Guid> id = RequiredGuid(*body, "meterId", "meterId");
    if (!id.ok()) return id.status();
    meter.meter_id = *id;
    absl::StatusOr<std::string> name = RequiredString(*body, "name", "name");
    if (!name.ok()) return name.status();
    meter.name = *std::move(name);
    absl::StatusOr<std::string> unit = RequiredString(*body, "unit", "unit");
    if (!unit.ok()) return unit.status();
    meter.unit = *std::move(unit);
    absl::StatusOr<std::optional<std::string>> category =
        OptionalString(*body, "category", "category");
    if (!category.ok()) return category.status();
    meter.category = category->value_or("Custom");
    absl::StatusOr<std::optional<Guid>> commerce =
        OptionalGuid(*body, "commerceMeterId", "commerceMeterId");
    if (!commerce.ok()) return commerce.status();
    meter.commerce_meter_id = *commerce;
    absl::StatusOr<Meter> created = service->CreateMeter(context.caller, meter, context.now);
    if (!created.ok()) return created.status();
    return JsonResponse(201, MeterJson(*created));
  };
}

RouteHandler Supersede(const Service& service) {
  return [service](const RequestContext& context) -> absl::StatusOr<HttpResponse> {
    absl::StatusOr<Guid> cloud_id = GuidParam(context, "cloudId");
    if (!cloud_id.ok()) return cloud_id.status();
    absl::StatusOr<SupersedeBody> body = ParseSupersedeBody(context.request.body);
    if (!body.ok()) return body.status();
    absl::StatusOr<SupersedeResult> result =
        service->Supersede(context.caller,
                           SupersedeRequest{.cloud_id = *cloud_id,
                                            .record_text = std::move(body->record_text),
                                            .reason = std::move(body->reason)},
                           context.now);
    if (!result.ok()) return result.status();
    const auto record = [](const UsageRecord& r) {
      return nlohmann::json{
          {"id", r.record_id.empty() ? nlohmann::json(nullptr) : nlohmann::json(r.record_id)},
          {"tenantId", r.tenant_id.ToString()},
          {"subscriptionId", r.local_subscription_id.ToString()},
          {"meterId", r.meter_id.ToString()},
          {"quantity", r.quantity.ToString()},
          {"usageStartTime", r.usage_start.ToString()},
          {"usageEndTime", r.usage_end.ToString()},
          {"billedSubscriptionId", r.routing.billed_subscription_id.ToString()},
          {"routingReason", std::string(ToString(r.routing.reason))},
          {"reportedTime", r.reported_time.ToString()}};
    };
    return JsonResponse(200,
                        {{"before", record(result->before)}, {"after", record(result->after)}});
  };
}

}  // namespace

absl::Status AddUsageRoutes(Router& router, Store& store, const Service& service,
                            const ApiOptions& options) {
  if (options.page_size < 1) {
    return absl::InvalidArgumentError("ApiOptions.page_size must be at least 1");
  }
  std::vector<Route> routes = {
      {"POST", "/v1/stacks/{cloudId}/usage", Authentication::kStackKey, "usage.post",
       PostUsage(service), nullptr, options.max_usage_body_bytes},
      {"POST", "/v1/stacks/{cloudId}/usage/supersede", Authentication::kPrincipal,
       "usage.supersede", Supersede(service)},
      {"GET", "/v1/quarantine", Authentication::kPrincipal, "quarantine.list",
       ListQuarantine(service, options.page_size)},
      {"POST", "/v1/quarantine/replay", Authentication::kPrincipal, "quarantine.replay",
       Replay(service)},
      {"GET", "/v1/usage/totals", Authentication::kPrincipal, "usage.totals", UsageTotals(service)},
      {"GET", "/v1/meters", Authentication::kPrincipal, "meters.list", ListMeters(store)},
      {"POST", "/v1/meters", Authentication::kPrincipal, "meters.post", PostMeter(service)},
  };
  for (Route& route : routes) {
    if (absl::Status status = router.Add(std::move(route)); !status.ok()) return status;
  }
  return absl::OkStatus();
}

}  // namespace stackbill
