// The usage queries of SPEC §7 over the rollups (UsageQueryService):
//  * GET /subscriptions/{sub}/providers/Microsoft.Commerce/UsageAggregates
//    (api-version 2015-06-01-preview), as Azure's Commerce API, with the
//    `timeType=Usage` extension;
//  * GET /v1/usage for partners and PlatformAdmins: any window, by usage or
//    reported time, grouped as asked, JSON or CSV, paged.
// Commerce quantities are JSON numbers printed exactly (never through a
// double); /v1/usage gives them as decimal strings, as /v1/usage/totals does.

#include <fmt/format.h>

#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/container/node_hash_map.h"
#include "absl/strings/ascii.h"
#include "absl/strings/str_split.h"
#include "api/api.h"
#include "api/continuation_token.h"
#include "api/request_params.h"
#include "core/abseil_compat.h"
#include "core/csv.h"
#include "core/error.h"
#include "core/status_macros.h"
#include "http/arm.h"
#include "services/access_tokens.h"
#include "services/usage_query_service.h"
#include "wire/json_syntax.h"

namespace stackbill {
namespace {

using Service = std::shared_ptr<UsageQueryService>;
using Tokens = std::shared_ptr<const ContinuationTokens>;
using MeterIndex = absl::flat_hash_map<Guid, const Meter*>;

constexpr std::string_view kCommerceApiVersion = "2015-06-01-preview";
constexpr std::size_t kCommercePageSize = 1000;
// /v1/usage pages by offset, each page summing the whole window again: a
// month of thousands of subscriptions comes whole in one $top=100000 page.
constexpr int kMaxV1UsageTop = 100000;

MeterIndex IndexMeters(const std::vector<Meter>& meters) {
  MeterIndex index;
  for (const Meter& m : meters) index.emplace(m.meter_id, &m);
  return index;
}

// Azure's way of writing a time in usage answers: "2026-11-01T00:00:00+00:00".
std::string AzureTime(Timestamp t) {
  std::string text = t.ToString();
  if (!text.empty() && text.back() == 'Z') text.replace(text.size() - 1, 1, "+00:00");
  return text;
}

// The query parameter `name`, treating an empty value as absent (Azure's
// clients send `aggregationGranularity=` and `subscriberId=`).
std::optional<std::string_view> NonEmptyQuery(const RequestContext& context,
                                              std::string_view name) {
  std::optional<std::string_view> value = context.request.Query(name);
  if (value && value->empty()) return std::nullopt;
  return value;
}

absl::StatusOr<Timestamp> RequiredTime(const RequestContext& context, std::string_view name) {
  std::optional<std::string_view> text = NonEmptyQuery(context, name);
  if (!text) {
    return InvalidArgumentError("InvalidProperty",
                                fmt::format("the query parameter '{}' is required", name));
  }
  absl::StatusOr<Timestamp> t = Timestamp::Parse(*text);
  if (!t.ok()) {
    return InvalidArgumentError("InvalidProperty",
                                fmt::format("'{}' must be an ISO 8601 time: '{}'", name, *text));
  }
  return *t;
}

absl::StatusOr<bool> BoolQuery(const RequestContext& context, std::string_view name,
                               bool default_value) {
  std::optional<std::string_view> text = NonEmptyQuery(context, name);
  if (!text) return default_value;
  const std::string lower = absl::AsciiStrToLower(std::string(*text));
  if (lower == "true") return true;
  if (lower == "false") return false;
  return InvalidArgumentError("InvalidProperty",
                              fmt::format("'{}' must be true or false: '{}'", name, *text));
}

// --- Commerce UsageAggregates ---------------------------------------------

struct CommerceQuery {
  Timestamp start;
  Timestamp end;
  bool hourly = false;
  bool show_details = true;
  bool by_usage_time = false;
  std::string continuation_token;

  // The parameters a continuation token is bound to, canonical.
  std::string Canonical(const Guid& subscription) const {
    return fmt::format("{}|{}|{}|{}|{}|{}", subscription.ToString(), start.ToString(),
                       end.ToString(), hourly ? "Hourly" : "Daily", show_details,
                       by_usage_time ? "Usage" : "Reported");
  }
};

absl::StatusOr<CommerceQuery> ParseCommerceQuery(const RequestContext& context,
                                                 std::string_view start_name,
                                                 std::string_view end_name) {
  CommerceQuery q;
  STACKBILL_ASSIGN_OR_RETURN(q.start, RequiredTime(context, start_name));
  STACKBILL_ASSIGN_OR_RETURN(q.end, RequiredTime(context, end_name));
  if (std::optional<std::string_view> g = NonEmptyQuery(context, "aggregationGranularity")) {
    const std::string lower = absl::AsciiStrToLower(std::string(*g));
    if (lower != "daily" && lower != "hourly") {
      return InvalidArgumentError(
          "InvalidAggregationGranularity",
          fmt::format("aggregationGranularity must be Daily or Hourly, not '{}'", *g));
    }
    q.hourly = lower == "hourly";
  }
  STACKBILL_ASSIGN_OR_RETURN(q.show_details, BoolQuery(context, "showDetails", true));
  if (std::optional<std::string_view> t = NonEmptyQuery(context, "timeType")) {
    const std::string lower = absl::AsciiStrToLower(std::string(*t));
    if (lower != "reported" && lower != "usage") {
      return InvalidArgumentError("InvalidProperty",
                                  fmt::format("timeType must be Reported or Usage, not '{}'", *t));
    }
    q.by_usage_time = lower == "usage";
  }
  if (q.end > context.now) {
    return InvalidArgumentError(
        "RequestEndTimeIsInFuture",
        fmt::format("{} ({}) is in the future", end_name, q.end.ToString()));
  }
  if (q.start >= q.end) {
    return InvalidArgumentError("InvalidProperty",
                                fmt::format("{} must be before {}", start_name, end_name));
  }
  const bool aligned = q.hourly
                           ? q.start.IsHourAligned() && q.end.IsHourAligned()
                           : q.start == q.start.TruncateToDay() && q.end == q.end.TruncateToDay();
  if (!aligned) {
    return InvalidArgumentError("InvalidProperty",
                                fmt::format("with {} granularity, {} and {} must fall on {} (UTC)",
                                            q.hourly ? "Hourly" : "Daily", start_name, end_name,
                                            q.hourly ? "the hour" : "midnight"));
  }
  if (std::optional<std::string_view> token = NonEmptyQuery(context, "continuationToken")) {
    q.continuation_token = std::string(*token);
  }
  return q;
}

// What a continuation token is bound to: the caller (by the token) and the
// query's canonical parameters.
std::string Binding(const CommerceQuery& query, const Guid& subscription,
                    std::string_view binding) {
  return query.Canonical(subscription) + "|" + std::string(binding);
}

// A page's start as a token's payload: the last item's key.
std::string EncodeKey(const UsageAggregateKey& k) {
  nlohmann::json j = {{"s", k.start.unix_seconds()}};
  for (const auto& [name, id] :
       {std::pair{"b", &k.billed_subscription_id}, std::pair{"t", &k.tenant_id},
        std::pair{"m", &k.meter_id}, std::pair{"c", &k.cloud_id},
        std::pair{"l", &k.local_subscription_id}}) {
    if (*id) j[name] = (*id)->ToString();
  }
  if (k.resource_uri) j["r"] = *k.resource_uri;
  return j.dump();
}

absl::StatusOr<UsageAggregateKey> DecodeKey(std::string_view payload) {
  const nlohmann::json j = nlohmann::json::parse(payload, nullptr, false);
  const absl::Status invalid =
      InvalidArgumentError("InvalidContinuationToken", "the continuation token is malformed");
  if (!j.is_object() || !j.contains("s") || !j["s"].is_number_integer()) return invalid;
  UsageAggregateKey k;
  k.start = Timestamp::FromUnixSeconds(j["s"].get<std::int64_t>());
  for (const auto& [name, id] :
       {std::pair{"b", &k.billed_subscription_id}, std::pair{"t", &k.tenant_id},
        std::pair{"m", &k.meter_id}, std::pair{"c", &k.cloud_id},
        std::pair{"l", &k.local_subscription_id}}) {
    if (!j.contains(name)) continue;
    if (!j[name].is_string()) return invalid;
    absl::StatusOr<Guid> guid = Guid::Parse(j[name].get<std::string>());
    if (!guid.ok()) return invalid;
    *id = *guid;
  }
  if (j.contains("r")) {
    if (!j["r"].is_string()) return invalid;
    k.resource_uri = j["r"].get<std::string>();
  }
  return k;
}

// Where the page asked for starts: after the key its verified token carries.
absl::Status ApplyContinuation(const RequestContext& context, const ContinuationTokens& tokens,
                               const CommerceQuery& query, const Guid& subscription,
                               std::string_view binding, UsageAggregateFilter& filter) {
  filter.limit = kCommercePageSize + 1;  // one more: is there a next page?
  if (query.continuation_token.empty()) return absl::OkStatus();
  STACKBILL_ASSIGN_OR_RETURN(
      const std::string payload,
      tokens.Verify(context.caller.principal_id, Binding(query, subscription, binding),
                    query.continuation_token));
  STACKBILL_ASSIGN_OR_RETURN(filter.after, DecodeKey(payload));
  return absl::OkStatus();
}

// One page of aggregates as an ARM list — the store's answer after the
// token's key, one more than a page when more remain — with a nextLink that
// carries every parameter and the next token.
absl::StatusOr<HttpResponse> CommercePage(
    const RequestContext& context, const ContinuationTokens& tokens, const CommerceQuery& query,
    const Guid& scope_subscription, std::string_view collection, std::string_view binding,
    const std::vector<UsageAggregate>& items, UsageQueryService& service,
    const std::vector<std::pair<std::string, std::string>>& parameters) {
  STACKBILL_ASSIGN_OR_RETURN(std::shared_ptr<const std::vector<Meter>> catalogue, service.Meters());
  const MeterIndex meters = IndexMeters(*catalogue);
  const std::string bound = Binding(query, scope_subscription, binding);
  const std::size_t end = std::min(items.size(), kCommercePageSize);
  const std::string granularity = query.hourly ? "Hourly" : "Daily";
  // Written without a DOM: a page is a thousand items (strings escaped by
  // AppendJsonString, the quantity as its exact decimal text).
  const std::string type(collection.substr(0, collection.size() - 1));  // "…/UsageAggregate"
  const std::string id_prefix =
      fmt::format("/subscriptions/{}/providers/{}/", scope_subscription.ToString(), collection);
  std::string body = "{\"value\":[";
  body.reserve(end * 1024);
  // Texts that items share — GUIDs, a day's times, a resource's hash —
  // formatted once a page (a node map: the references below stay valid).
  absl::node_hash_map<Guid, std::string> guids;
  auto guid_text = [&guids](const Guid& g) -> const std::string& {
    auto [it, inserted] = guids.try_emplace(g);
    if (inserted) it->second = g.ToString();
    return it->second;
  };
  absl::flat_hash_map<std::string, std::string> resource_hashes;
  std::optional<Timestamp> day;
  std::string day_prefix;  // "2026-11-01T00": the start's hour, for the name
  std::string start_text;
  std::string end_text;
  std::string name;
  for (std::size_t i = 0; i < end; ++i) {
    const UsageAggregate& a = items[i];
    const Guid subscription =
        a.local_subscription_id.value_or(a.billed_subscription_id.value_or(scope_subscription));
    const Meter* meter = nullptr;
    if (auto it = meters.find(*a.meter_id); it != meters.end()) meter = it->second;
    if (day != a.start) {
      day = a.start;
      day_prefix = a.start.ToString().substr(0, 13);
      start_text = AzureTime(a.start);
      end_text = AzureTime(a.end);
    }
    const std::string& meter_text = guid_text(*a.meter_id);
    const std::string& subscription_text = guid_text(subscription);
    // A name unique within the answer: granularity, start, meter, subscription
    // and (with details) the resource.
    name.assign(granularity).append("_").append(day_prefix).append("_").append(meter_text);
    name.append("_").append(subscription_text);
    if (a.resource_uri) {
      auto [it, inserted] = resource_hashes.try_emplace(*a.resource_uri);
      if (inserted) it->second = StrongETag(*a.resource_uri).substr(1, 16);
      name.append("_").append(it->second);
    }
    if (i > 0) body.push_back(',');
    body += "{\"id\":";
    AppendJsonString(id_prefix + name, body);
    body += ",\"name\":";
    AppendJsonString(name, body);
    body += ",\"type\":";
    AppendJsonString(type, body);
    body.append(",\"properties\":{\"subscriptionId\":\"")
        .append(subscription_text)
        .append("\",\"usageStartTime\":\"")
        .append(start_text)
        .append("\",\"usageEndTime\":\"")
        .append(end_text)
        .append("\",\"meterName\":");
    AppendJsonString(meter != nullptr ? meter->name : "", body);
    body += ",\"meterCategory\":";
    AppendJsonString(meter != nullptr ? meter->category : "", body);
    body += ",\"unit\":";
    AppendJsonString(meter != nullptr ? meter->unit : "", body);
    body += ",\"infoFields\":{}";
    if (a.resource_uri) {
      body += ",\"instanceData\":";
      AppendJsonString(a.instance_data, body);
    }
    body.append(",\"meterId\":\"")
        .append(meter_text)
        .append("\",\"quantity\":")
        .append(a.quantity.ToString())
        .append("}}");
  }
  body += "]";
  if (end < items.size()) {
    std::vector<std::pair<std::string, std::string>> next = parameters;
    next.emplace_back("continuationToken",
                      tokens.Issue(context.caller.principal_id, bound,
                                   EncodeKey(UsageAggregateKey::Of(items[end - 1]))));
    body += ",\"nextLink\":" +
            nlohmann::json(NextLink(context.public_base_url, context.request.path, next)).dump();
  }
  body += "}";
  return HttpResponse::Json(200, std::move(body));
}

// The filter both Commerce APIs start from: the query's window, basis and
// granularity, per meter; each adds its own dimensions.
UsageAggregateFilter CommerceFilter(const CommerceQuery& q) {
  return {.basis = q.by_usage_time ? UsageTimeBasis::kUsage : UsageTimeBasis::kReported,
          .from = q.start,
          .to = q.end,
          .granularity = q.hourly ? UsageGranularity::kHour : UsageGranularity::kDay,
          .by_meter = true};
}

std::vector<std::pair<std::string, std::string>> CommerceParameters(const CommerceQuery& q,
                                                                    std::string_view start_name,
                                                                    std::string_view end_name) {
  std::vector<std::pair<std::string, std::string>> p = {
      {"api-version", std::string(kCommerceApiVersion)},
      {std::string(start_name), q.start.ToString()},
      {std::string(end_name), q.end.ToString()},
      {"aggregationGranularity", q.hourly ? "Hourly" : "Daily"},
      {"showDetails", q.show_details ? "true" : "false"}};
  if (q.by_usage_time) p.emplace_back("timeType", "Usage");
  return p;
}

RouteHandler UsageAggregates(const Service& service, const Tokens& tokens) {
  return [service, tokens](const RequestContext& context) -> absl::StatusOr<HttpResponse> {
    STACKBILL_RETURN_IF_ERROR(CheckApiVersion(context.request, {kCommerceApiVersion}).status());
    STACKBILL_ASSIGN_OR_RETURN(const Guid subscription, GuidParam(context, "subscriptionId"));
    STACKBILL_ASSIGN_OR_RETURN(const CommerceQuery query,
                               ParseCommerceQuery(context, "reportedStartTime", "reportedEndTime"));
    UsageAggregateFilter filter = CommerceFilter(query);
    filter.by_subscription = true;
    filter.by_resource = query.show_details;
    STACKBILL_RETURN_IF_ERROR(
        ApplyContinuation(context, *tokens, query, subscription, "commerce", filter));
    STACKBILL_ASSIGN_OR_RETURN(
        const std::vector<UsageAggregate> items,
        service->SubscriptionUsage(context.caller, subscription, filter, context.now));
    return CommercePage(context, *tokens, query, subscription, "Microsoft.Commerce/UsageAggregates",
                        "commerce", items, *service,
                        CommerceParameters(query, "reportedStartTime", "reportedEndTime"));
  };
}

// The Azure Stack provider usage API (Microsoft.Commerce.Admin): the stack
// operator's view of every tenant's usage on its stacks, per tenant
// subscription and resource, with Azure Stack's error codes (NoApiVersion
// for a missing api-version).
RouteHandler SubscriberUsageAggregates(const Service& service, const Tokens& tokens) {
  return [service, tokens](const RequestContext& context) -> absl::StatusOr<HttpResponse> {
    absl::StatusOr<std::string> version = CheckApiVersion(context.request, {kCommerceApiVersion});
    if (!version.ok()) {
      if (ErrorCode(version.status()) == "MissingApiVersionParameter") {
        return InvalidArgumentError("NoApiVersion", "the api-version query parameter is required");
      }
      return version.status();
    }
    STACKBILL_ASSIGN_OR_RETURN(const Guid subscription, GuidParam(context, "subscriptionId"));
    STACKBILL_ASSIGN_OR_RETURN(const CommerceQuery query,
                               ParseCommerceQuery(context, "reportedStartTime", "reportedEndTime"));
    UsageAggregateFilter filter = CommerceFilter(query);
    filter.by_local_subscription = true;
    filter.by_resource = true;  // the provider API always lists instances
    std::vector<std::pair<std::string, std::string>> parameters =
        CommerceParameters(query, "reportedStartTime", "reportedEndTime");
    std::string binding = "provider";
    if (std::optional<std::string_view> subscriber = NonEmptyQuery(context, "subscriberId")) {
      absl::StatusOr<Guid> id = Guid::Parse(*subscriber);
      if (!id.ok()) {
        return InvalidArgumentError("InvalidProperty",
                                    fmt::format("'subscriberId' is not a GUID: '{}'", *subscriber));
      }
      filter.local_subscription_ids = std::vector<Guid>{*id};
      parameters.emplace_back("subscriberId", id->ToString());
      binding += "|" + id->ToString();
    }
    STACKBILL_RETURN_IF_ERROR(
        ApplyContinuation(context, *tokens, query, subscription, binding, filter));
    STACKBILL_ASSIGN_OR_RETURN(
        const std::vector<UsageAggregate> items,
        service->ProviderUsage(context.caller, subscription, filter, context.now));
    return CommercePage(context, *tokens, query, subscription,
                        "Microsoft.Commerce.Admin/subscriberUsageAggregates", binding, items,
                        *service, parameters);
  };
}

// --- /v1/usage --------------------------------------------------------------

struct V1Query {
  UsageAggregateFilter filter;
  bool csv = false;
};

absl::StatusOr<V1Query> ParseV1Query(const RequestContext& context) {
  V1Query q;
  UsageAggregateFilter& f = q.filter;
  f.basis = UsageTimeBasis::kUsage;
  if (std::optional<std::string_view> t = context.request.Query("timeType")) {
    if (*t == "reported") {
      f.basis = UsageTimeBasis::kReported;
    } else if (*t != "usage") {
      return InvalidArgumentError("InvalidTimeType",
                                  fmt::format("timeType must be usage or reported, not '{}'", *t));
    }
  }
  f.granularity = UsageGranularity::kDay;
  if (std::optional<std::string_view> g = context.request.Query("granularity")) {
    if (*g == "hour") {
      f.granularity = UsageGranularity::kHour;
    } else if (*g == "month") {
      f.granularity = UsageGranularity::kMonth;
    } else if (*g != "day") {
      return InvalidArgumentError(
          "InvalidGranularity",
          fmt::format("granularity must be hour, day or month, not '{}'", *g));
    }
  }
  // Default window: the current month so far, to the end of this hour.
  STACKBILL_ASSIGN_OR_RETURN(std::optional<Timestamp> from, TimeQuery(context, "from"));
  STACKBILL_ASSIGN_OR_RETURN(std::optional<Timestamp> to, TimeQuery(context, "to"));
  f.from = from.value_or(context.now.TruncateToMonth());
  f.to = to.value_or(context.now.TruncateToHour().AddHours(1));
  const std::string_view group_by = context.request.Query("groupBy").value_or("subscription,meter");
  for (absl::string_view piece : absl::StrSplit(AbslView(group_by), ',', absl::SkipEmpty())) {
    const std::string dim(piece);
    if (dim == "subscription") {
      f.by_subscription = true;
    } else if (dim == "tenant") {
      f.by_tenant = true;
    } else if (dim == "meter") {
      f.by_meter = true;
    } else if (dim == "resource") {
      f.by_resource = true;
    } else if (dim == "stack") {
      f.by_stack = true;
    } else {
      return InvalidArgumentError(
          "InvalidGroupBy",
          fmt::format("groupBy takes subscription, tenant, meter, resource and stack, not '{}'",
                      dim));
    }
  }
  STACKBILL_ASSIGN_OR_RETURN(std::optional<Guid> subscription,
                             GuidQuery(context, "subscriptionId"));
  if (subscription) f.billed_subscription_ids = std::vector<Guid>{*subscription};
  STACKBILL_ASSIGN_OR_RETURN(std::optional<Guid> cloud, GuidQuery(context, "cloudId"));
  if (cloud) f.cloud_ids = std::vector<Guid>{*cloud};
  const std::string_view format = context.request.Query("format").value_or("json");
  if (format != "json" && format != "csv") {
    return InvalidArgumentError("InvalidFormat",
                                fmt::format("format must be json or csv, not '{}'", format));
  }
  q.csv = format == "csv";
  return q;
}

std::string V1Csv(const std::vector<UsageAggregate>& items, std::size_t begin, std::size_t end,
                  const UsageAggregateFilter& f, const MeterIndex& meters) {
  std::vector<std::string> header = {"usageStartTime", "usageEndTime"};
  if (f.by_subscription) header.emplace_back("subscriptionId");
  if (f.by_tenant) header.emplace_back("tenantId");
  if (f.by_meter) {
    for (const char* h : {"meterId", "meterName", "meterCategory", "unit"}) header.emplace_back(h);
  }
  if (f.by_stack) header.emplace_back("cloudId");
  if (f.by_resource) {
    header.emplace_back("resourceUri");
    header.emplace_back("instanceData");
  }
  header.emplace_back("quantity");
  header.emplace_back("records");
  std::string out;
  AppendCsvLine(out, header);
  for (std::size_t i = begin; i < end; ++i) {
    const UsageAggregate& a = items[i];
    std::vector<std::string> cells = {a.start.ToString(), a.end.ToString()};
    if (a.billed_subscription_id) cells.push_back(a.billed_subscription_id->ToString());
    if (a.tenant_id) cells.push_back(a.tenant_id->ToString());
    if (a.meter_id) {
      const auto it = meters.find(*a.meter_id);
      const Meter* m = it != meters.end() ? it->second : nullptr;
      cells.push_back(a.meter_id->ToString());
      cells.push_back(CsvText(m != nullptr ? m->name : ""));
      cells.push_back(CsvText(m != nullptr ? m->category : ""));
      cells.push_back(CsvText(m != nullptr ? m->unit : ""));
    }
    if (a.cloud_id) cells.push_back(a.cloud_id->ToString());
    if (a.resource_uri) {
      cells.push_back(CsvText(*a.resource_uri));
      cells.push_back(CsvText(a.instance_data));
    }
    cells.push_back(a.quantity.ToString());
    cells.push_back(std::to_string(a.records));
    AppendCsvLine(out, cells);
  }
  return out;
}

RouteHandler V1Usage(const Service& service) {
  return [service](const RequestContext& context) -> absl::StatusOr<HttpResponse> {
    STACKBILL_ASSIGN_OR_RETURN(const V1Query query, ParseV1Query(context));
    STACKBILL_ASSIGN_OR_RETURN(const std::vector<UsageAggregate> items,
                               service->QueryUsage(context.caller, query.filter, context.now));
    STACKBILL_ASSIGN_OR_RETURN(std::shared_ptr<const std::vector<Meter>> meters, service->Meters());
    const MeterIndex index = IndexMeters(*meters);
    STACKBILL_ASSIGN_OR_RETURN(const int page_size, PageSize(context, kMaxTop, kMaxV1UsageTop));
    // Every parameter again on the nextLink: the next page is the same query.
    std::vector<std::pair<std::string, std::string>> parameters;
    for (const char* name : {"from", "to", "timeType", "granularity", "groupBy", "subscriptionId",
                             "cloudId", "format", "$top"}) {
      if (auto value = context.request.Query(name)) parameters.emplace_back(name, *value);
    }
    if (!context.request.Query("from"))
      parameters.emplace_back("from", query.filter.from.ToString());
    if (!context.request.Query("to")) parameters.emplace_back("to", query.filter.to.ToString());
    STACKBILL_ASSIGN_OR_RETURN(OffsetPage page,
                               PageByOffset(context.request, context.public_base_url, items.size(),
                                            page_size, std::move(parameters)));
    if (query.csv) {
      HttpResponse response =
          HttpResponse::Json(200, V1Csv(items, page.begin, page.end, query.filter, index));
      response.content_type = "text/csv; charset=utf-8";
      if (page.next_link)
        response.headers.emplace_back("Link", "<" + *page.next_link + ">; rel=\"next\"");
      return response;
    }
    std::string body = "{\"value\":[";
    for (std::size_t i = page.begin; i < page.end; ++i) {
      const UsageAggregate& a = items[i];
      nlohmann::json item = {{"usageStartTime", a.start.ToString()},
                             {"usageEndTime", a.end.ToString()}};
      if (a.billed_subscription_id) item["subscriptionId"] = a.billed_subscription_id->ToString();
      if (a.tenant_id) item["tenantId"] = a.tenant_id->ToString();
      if (a.meter_id) {
        item["meterId"] = a.meter_id->ToString();
        if (auto it = index.find(*a.meter_id); it != index.end()) {
          item["meterName"] = it->second->name;
          item["meterCategory"] = it->second->category;
          item["unit"] = it->second->unit;
        }
      }
      if (a.cloud_id) item["cloudId"] = a.cloud_id->ToString();
      if (a.resource_uri) {
        item["resourceUri"] = *a.resource_uri;
        item["instanceData"] = a.instance_data;
      }
      // Exact decimal text, as /v1/usage/totals gives it: any JSON reader
      // keeps every digit.
      item["quantity"] = a.quantity.ToString();
      item["records"] = a.records;
      if (i > page.begin) body.push_back(',');
      body += item.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
    }
    body += "]";
    if (page.next_link) body += ",\"nextLink\":" + nlohmann::json(*page.next_link).dump();
    body += "}";
    return HttpResponse::Json(200, std::move(body));
  };
}

}  // namespace

absl::Status AddUsageQueryRoutes(Router& router, Store& store) {
  // The signing key of continuation tokens: one for every node on the store.
  STACKBILL_ASSIGN_OR_RETURN(const MintedSecret candidate, MintSecret("sbc_"));
  STACKBILL_ASSIGN_OR_RETURN(std::string key, store.identity().ServerSecret(
                                                  "continuation-token-key", candidate.plaintext));
  auto tokens = std::make_shared<const ContinuationTokens>(std::move(key));
  auto service = std::make_shared<UsageQueryService>(store);
  std::vector<Route> routes = {
      {"GET", "/subscriptions/{subscriptionId}/providers/Microsoft.Commerce/UsageAggregates",
       Authentication::kPrincipal, "commerce.usageAggregates", UsageAggregates(service, tokens)},
      {"GET",
       "/subscriptions/{subscriptionId}/providers/Microsoft.Commerce.Admin/"
       "subscriberUsageAggregates",
       Authentication::kPrincipal, "commerce.subscriberUsageAggregates",
       SubscriberUsageAggregates(service, tokens)},
      {"GET", "/v1/usage", Authentication::kPrincipal, "usage.query", V1Usage(service)},
  };
  for (Route& route : routes) {
    STACKBILL_RETURN_IF_ERROR(router.Add(std::move(route)));
  }
  return absl::OkStatus();
}

}  // namespace stackbill
