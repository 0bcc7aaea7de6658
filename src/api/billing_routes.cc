// SPEC §5, §6.1 and §7 billing over BillingService: /v1/priceSheets,
// /v1/billingPeriods (and their close), /v1/adjustments, /v1/invoices (JSON
// and CSV, their reconciliation), /v1/invoices/estimate and the Microsoft.Commerce
// RateCard.
// Decimals are JSON strings in /v1 answers (JSON numbers in the RateCard);
// in requests a decimal may be a JSON string or a JSON number, read from its
// digits, never through a double (R14). Authorisation lives in the service.

#include <fmt/format.h>

#include <array>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "api/api.h"
#include "api/json_body.h"
#include "api/request_params.h"
#include "core/abseil_compat.h"
#include "core/csv.h"
#include "core/error.h"
#include "core/status_macros.h"
#include "http/arm.h"
#include "services/billing_service.h"
#include "wire/json_syntax.h"

namespace stackbill {
namespace {

constexpr std::string_view kCommerceApiVersion = "2015-06-01-preview";

// ---------------------------------------------------------------------------
// Requests

template <typename Decimal>
absl::StatusOr<Decimal> DecimalMember(const nlohmann::json& value, std::string_view path) {
  if (!value.is_string()) {
    return InvalidArgumentError("InvalidRequestContent",
                                fmt::format("'{}' must be a decimal number or string", path));
  }
  absl::StatusOr<Decimal> parsed = Decimal::Parse(value.get<std::string>());
  if (!parsed.ok()) return Annotate(parsed.status(), fmt::format("'{}'", path));
  return parsed;
}

// {"meters":[{"meterId","meterRates":{"0":"0.008","1000":"0.006"},"includedQuantity":"0"}]}
// A customer price sheet may leave 'meters' out (a markup alone).
absl::StatusOr<std::vector<MeterPrice>> ParseSheetMeters(const nlohmann::json& body,
                                                         bool optional) {
  auto meters = body.find("meters");
  if (optional && (meters == body.end() || meters->is_null())) return std::vector<MeterPrice>();
  if (meters == body.end() || !meters->is_array()) {
    return InvalidArgumentError("MissingRequiredProperty", "'meters' (an array) is required");
  }
  std::vector<MeterPrice> prices;
  for (std::size_t i = 0; i < meters->size(); ++i) {
    const nlohmann::json& m = (*meters)[i];
    const std::string path = fmt::format("meters[{}]", i);
    if (!m.is_object()) {
      return InvalidArgumentError("InvalidRequestContent",
                                  fmt::format("'{}' must be an object", path));
    }
    MeterPrice price;
    STACKBILL_ASSIGN_OR_RETURN(price.meter_id, RequiredGuid(m, "meterId", path + ".meterId"));
    auto rates = m.find("meterRates");
    if (rates == m.end() || !rates->is_object() || rates->empty()) {
      return InvalidArgumentError(
          "MissingRequiredProperty",
          fmt::format("'{}.meterRates' (an object of tier start → unit price) is required", path));
    }
    for (const auto& [start_text, unit] : rates->items()) {
      const std::string rate_path = fmt::format("{}.meterRates.{}", path, start_text);
      absl::StatusOr<Quantity> start = Quantity::Parse(start_text);
      if (!start.ok()) return Annotate(start.status(), fmt::format("'{}'", rate_path));
      if (start->IsNegative()) {
        return InvalidArgumentError("InvalidPrice",
                                    fmt::format("'{}': a tier cannot start below 0", rate_path));
      }
      STACKBILL_ASSIGN_OR_RETURN(UnitPrice unit_price, DecimalMember<UnitPrice>(unit, rate_path));
      if (unit_price.IsNegative()) {
        return InvalidArgumentError(
            "InvalidPrice", fmt::format("'{}': a unit price cannot be negative", rate_path));
      }
      price.tiers.push_back({*start, unit_price});
    }
    std::sort(price.tiers.begin(), price.tiers.end(),
              [](const PriceTier& a, const PriceTier& b) { return a.start < b.start; });
    for (std::size_t t = 1; t < price.tiers.size(); ++t) {
      if (price.tiers[t].start == price.tiers[t - 1].start) {
        return InvalidArgumentError("InvalidPrice",
                                    fmt::format("'{}.meterRates' names the tier {} twice", path,
                                                price.tiers[t].start.ToString()));
      }
    }
    if (auto included = m.find("includedQuantity"); included != m.end() && !included->is_null()) {
      STACKBILL_ASSIGN_OR_RETURN(price.included_quantity,
                                 DecimalMember<Quantity>(*included, path + ".includedQuantity"));
      if (price.included_quantity.IsNegative()) {
        return InvalidArgumentError("InvalidPrice",
                                    fmt::format("'{}.includedQuantity' cannot be negative", path));
      }
    }
    for (const MeterPrice& earlier : prices) {
      if (earlier.meter_id == price.meter_id) {
        return InvalidArgumentError(
            "InvalidPrice", fmt::format("meter {} is priced twice", price.meter_id.ToString()));
      }
    }
    prices.push_back(std::move(price));
  }
  return prices;
}

absl::StatusOr<Timestamp> EffectiveDate(std::string_view text) {
  absl::StatusOr<Timestamp> date = Timestamp::Parse(fmt::format("{}T00:00:00Z", text));
  if (text.size() != 10 || !date.ok()) {
    return InvalidArgumentError(
        "InvalidEffectiveDate",
        fmt::format("effectiveDate '{}' is not a date of the form YYYY-MM-DD", text));
  }
  return date;
}

absl::StatusOr<std::string> CurrencyParam(std::string_view text) {
  if (!LookupCurrency(text).ok()) {
    return InvalidArgumentError(
        "UnsupportedCurrency",
        fmt::format("currency '{}' is not supported (ISO 4217, e.g. USD)", text));
  }
  return std::string(text);
}

absl::StatusOr<YearMonth> PeriodOf(std::string_view text, std::string_view what) {
  absl::StatusOr<YearMonth> period = YearMonth::Parse(text);
  if (!period.ok()) return Annotate(period.status(), std::string(what));
  return period;
}

// The optional ?period=YYYY-MM.
absl::StatusOr<std::optional<YearMonth>> PeriodQuery(const RequestContext& ctx) {
  std::optional<std::string_view> text = ctx.request.Query("period");
  if (!text) return std::optional<YearMonth>();
  STACKBILL_ASSIGN_OR_RETURN(YearMonth period, PeriodOf(*text, "query parameter 'period'"));
  return std::optional<YearMonth>(period);
}

// ?partnerId= or ?subscriptionId=: whose invoices.
absl::StatusOr<std::optional<BillTo>> BillToQuery(const RequestContext& ctx) {
  std::optional<std::string_view> partner = ctx.request.Query("partnerId");
  STACKBILL_ASSIGN_OR_RETURN(std::optional<Guid> subscription, GuidQuery(ctx, "subscriptionId"));
  if (partner && subscription) {
    return InvalidArgumentError("InvalidQueryParameter",
                                "give partnerId or subscriptionId, not both");
  }
  if (partner)
    return std::optional<BillTo>(BillTo{BillTo::Kind::kPartner, std::string(*partner), Guid()});
  if (subscription) {
    return std::optional<BillTo>(BillTo{BillTo::Kind::kSubscription, "", *subscription});
  }
  return std::optional<BillTo>();
}

// The RateCard's $filter (SPEC §7): `Name eq 'value'` terms joined by `and`,
// nothing else (Azure supports only eq and and); names case-insensitive, a
// quote inside a value doubled (OData); all four of OfferDurableId,
// Currency, Locale and RegionInfo required, each once.
struct RateCardFilter {
  OfferType offer = OfferType::kCsp;
  std::string currency;
  std::string locale;
  std::string region;
};

absl::StatusOr<RateCardFilter> ParseRateCardFilter(std::string_view text) {
  auto invalid = [](std::string detail) {
    return InvalidArgumentError(
        "InvalidFilter",
        fmt::format("$filter: {}; expected OfferDurableId eq '…' and Currency eq '…' and "
                    "Locale eq '…' and RegionInfo eq '…'",
                    detail));
  };
  std::size_t at = 0;
  auto skip_spaces = [&] {
    while (at < text.size() && text[at] == ' ') ++at;
  };
  auto word = [&] {
    skip_spaces();
    const std::size_t from = at;
    while (at < text.size() && text[at] != ' ' && text[at] != '\'') ++at;
    return text.substr(from, at - from);
  };
  std::map<std::string, std::string> terms;  // lower-case name → value
  while (true) {
    const std::string_view name = word();
    if (name.empty()) return invalid("a term's name is missing");
    if (!absl::EqualsIgnoreCase(AbslView(word()), "eq")) {
      return invalid(fmt::format("'{}' must be followed by eq (the only comparison)", name));
    }
    skip_spaces();
    if (at >= text.size() || text[at] != '\'') {
      return invalid(fmt::format("the value of {} must be quoted ('…')", name));
    }
    std::string value;
    for (++at;; ++at) {
      if (at >= text.size()) return invalid(fmt::format("the value of {} is not closed", name));
      if (text[at] == '\'') {
        if (at + 1 < text.size() && text[at + 1] == '\'') {
          value.push_back('\'');
          ++at;
          continue;
        }
        ++at;
        break;
      }
      value.push_back(text[at]);
    }
    std::string key = absl::AsciiStrToLower(AbslView(name));
    if (key != "offerdurableid" && key != "currency" && key != "locale" && key != "regioninfo") {
      return invalid(fmt::format("unknown property '{}'", name));
    }
    if (!terms.emplace(std::move(key), std::move(value)).second) {
      return invalid(fmt::format("{} is given twice", name));
    }
    const std::string_view next = word();
    if (next.empty()) break;
    if (!absl::EqualsIgnoreCase(AbslView(next), "and")) {
      return invalid(fmt::format("'{}' where and was expected (the only logical operator)", next));
    }
  }
  for (std::string_view required : {"offerdurableid", "currency", "locale", "regioninfo"}) {
    if (!terms.contains(std::string(required))) {
      return invalid("all four of OfferDurableId, Currency, Locale and RegionInfo are required");
    }
  }
  RateCardFilter filter;
  absl::StatusOr<OfferType> offer = ParseOfferDurableId(terms["offerdurableid"]);
  if (!offer.ok()) return invalid(std::string(offer.status().message()));
  filter.offer = *offer;
  STACKBILL_ASSIGN_OR_RETURN(filter.currency, CurrencyParam(terms["currency"]));
  filter.locale = terms["locale"];
  filter.region = terms["regioninfo"];
  return filter;
}

// ---------------------------------------------------------------------------
// Answers

// A RateCard as Azure's ResourceRateCardInfo, PascalCase, written without a
// DOM so that tier starts, prices and included quantities are JSON numbers
// printed from their exact decimal text (R14). Meter names are the
// catalogue's whatever the Locale; Azure Stack meters have no region, tags or
// subcategory, so those are empty.
std::string RateCardJson(const std::vector<RateCardEntry>& card, const RateCardFilter& filter) {
  std::string body = "{\"OfferTerms\":[],\"Meters\":[";
  for (std::size_t i = 0; i < card.size(); ++i) {
    const RateCardEntry& e = card[i];
    if (i > 0) body.push_back(',');
    body.append("{\"EffectiveDate\":\"")
        .append(e.effective_date.ToString())
        .append("\",\"IncludedQuantity\":")
        .append(e.price.included_quantity.ToString())
        .append(",\"MeterCategory\":");
    AppendJsonString(e.meter ? e.meter->category : "", body);
    body.append(",\"MeterId\":\"").append(e.price.meter_id.ToString()).append("\",\"MeterName\":");
    AppendJsonString(e.meter ? e.meter->name : "", body);
    body.append(",\"MeterRates\":{");
    for (std::size_t t = 0; t < e.price.tiers.size(); ++t) {
      if (t > 0) body.push_back(',');
      AppendJsonString(e.price.tiers[t].start.ToString(), body);
      body.push_back(':');
      body.append(e.price.tiers[t].unit_price.ToString());
    }
    body.append("},\"MeterRegion\":\"\",\"MeterSubCategory\":\"\",\"MeterTags\":[],\"Unit\":");
    AppendJsonString(e.meter ? e.meter->unit : "", body);
    body.push_back('}');
  }
  body.append("],\"Currency\":");
  AppendJsonString(filter.currency, body);
  body.append(",\"Locale\":");
  AppendJsonString(filter.locale, body);
  body.append(",\"IsTaxIncluded\":false}");
  return body;
}

nlohmann::json SheetJson(const PriceSheet& sheet) {
  nlohmann::json owner;
  switch (sheet.key.owner.kind) {
    case PriceSheetOwner::Kind::kOffer:
      owner = {{"offerType", ToString(sheet.key.owner.offer_type)}};
      break;
    case PriceSheetOwner::Kind::kPartner:
      owner = {{"partnerId", sheet.key.owner.partner_id}};
      break;
    case PriceSheetOwner::Kind::kCustomers:
      owner = {{"customersOf", sheet.key.owner.partner_id}};
      break;
  }
  nlohmann::json meters = nlohmann::json::array();
  for (const MeterPrice& m : sheet.meters) {
    nlohmann::json rates = nlohmann::json::object();
    for (const PriceTier& t : m.tiers) rates[t.start.ToString()] = t.unit_price.ToString();
    meters.push_back({{"meterId", m.meter_id.ToString()},
                      {"meterRates", std::move(rates)},
                      {"includedQuantity", m.included_quantity.ToString()}});
  }
  return {
      {"owner", std::move(owner)},
      {"currency", sheet.key.currency},
      {"effectiveDate", sheet.key.effective_date.ToString().substr(0, 10)},
      {"locked", sheet.locked_at.has_value()},
      {"lockedAt",
       sheet.locked_at ? nlohmann::json(sheet.locked_at->ToString()) : nlohmann::json(nullptr)},
      {"markup", sheet.markup ? nlohmann::json(sheet.markup->ToString()) : nlohmann::json(nullptr)},
      {"meters", std::move(meters)}};
}

nlohmann::json OptionalGuidJson(const std::optional<Guid>& guid) {
  return guid ? nlohmann::json(guid->ToString()) : nlohmann::json(nullptr);
}

int MinorUnits(const std::string& currency) {
  absl::StatusOr<Currency> c = LookupCurrency(currency);
  return c.ok() ? c->minor_units : 2;
}

nlohmann::json BillToJson(const BillTo& bill_to) {
  if (bill_to.kind == BillTo::Kind::kPartner) return {{"partnerId", bill_to.partner_id}};
  return {{"subscriptionId", bill_to.subscription_id.ToString()}};
}

std::vector<std::string> LineFlags(const InvoiceLine& line) {
  std::vector<std::string> flags;
  if (line.late_usage_month) flags.emplace_back("Late");
  if (line.zero_rated) flags.emplace_back("ZeroRated");
  if (line.unpriced) flags.emplace_back("Unpriced");
  if (line.adjustment) flags.emplace_back("Adjustment");
  return flags;
}

// Subtotals per customer (the customer directory; "" for lines without).
absl::StatusOr<nlohmann::json> CustomerSubtotals(const Invoice& invoice, int digits) {
  std::map<std::pair<std::string, std::string>, Amount> subtotals;
  for (const InvoiceLine& line : invoice.lines) {
    const std::string id = line.customer_directory_id ? line.customer_directory_id->ToString() : "";
    Amount& subtotal = subtotals[{line.customer_name, id}];
    STACKBILL_ASSIGN_OR_RETURN(subtotal, subtotal.Add(line.amount));
  }
  nlohmann::json customers = nlohmann::json::array();
  for (const auto& [key, subtotal] : subtotals) {
    customers.push_back(
        {{"customerId", key.second.empty() ? nlohmann::json(nullptr) : nlohmann::json(key.second)},
         {"customerName", key.first},
         {"subtotal", subtotal.ToString(digits)}});
  }
  return customers;
}

// JSON written without a DOM: an invoice of a partner with thousands of
// customers has tens of thousands of lines, and building them as
// nlohmann::json objects cost more than rating them (docs/PERFORMANCE.md,
// "The billing close"). Keys come in the order nlohmann's std::map would
// print them (alphabetical), so the bytes are what the DOM used to print.
void AppendJsonNullOr(const std::optional<std::string>& text, std::string& out) {
  if (text) {
    AppendJsonString(*text, out);
  } else {
    out += "null";
  }
}

std::optional<std::string> GuidText(const std::optional<Guid>& guid) {
  return guid ? std::optional(guid->ToString()) : std::nullopt;
}

// The lines of an invoice, an estimate or a statement, numbered from 1, as
// a JSON array.
void AppendLinesJson(const std::vector<InvoiceLine>& lines, int digits, std::string& out) {
  out += '[';
  int line_no = 0;
  for (const InvoiceLine& line : lines) {
    if (line_no > 0) out += ',';
    out += "{\"amount\":";
    AppendJsonString(line.amount.ToString(digits), out);
    out += ",\"customerId\":";
    AppendJsonNullOr(GuidText(line.customer_directory_id), out);
    out += ",\"customerName\":";
    AppendJsonString(line.customer_name, out);
    out += ",\"description\":";
    AppendJsonString(line.description, out);
    out += ",\"flags\":[";
    bool first_flag = true;
    for (const std::string& flag : LineFlags(line)) {
      if (!first_flag) out += ',';
      first_flag = false;
      AppendJsonString(flag, out);
    }
    out += "],\"includedQuantity\":";
    AppendJsonString(line.included_quantity.ToString(), out);
    out += ",\"lateUsageMonth\":";
    AppendJsonNullOr(
        line.late_usage_month ? std::optional(line.late_usage_month->ToString()) : std::nullopt,
        out);
    fmt::format_to(std::back_inserter(out), ",\"lineNo\":{},\"meterId\":", ++line_no);
    AppendJsonNullOr(GuidText(line.meter_id), out);
    out += ",\"meterName\":";
    AppendJsonString(line.meter_name, out);
    out += ",\"quantity\":";
    AppendJsonString(line.quantity.ToString(), out);
    out += ",\"resellerId\":";
    AppendJsonNullOr(line.reseller_partner_id, out);
    out += ",\"resellerName\":";
    AppendJsonString(line.reseller_name, out);
    out += ",\"subscriptionId\":";
    AppendJsonString(line.subscription_id.ToString(), out);
    out += ",\"subscriptionName\":";
    AppendJsonString(line.subscription_name, out);
    out += ",\"tenantId\":";
    AppendJsonNullOr(GuidText(line.tenant_id), out);
    out += ",\"tiers\":[";
    bool first_tier = true;
    for (const AppliedTier& t : line.tiers) {
      if (!first_tier) out += ',';
      first_tier = false;
      out += "{\"amount\":";
      AppendJsonString(t.amount.ToString(), out);
      out += ",\"quantity\":";
      AppendJsonString(t.quantity.ToString(), out);
      out += ",\"start\":";
      AppendJsonString(t.start.ToString(), out);
      out += ",\"unitPrice\":";
      AppendJsonString(t.unit_price.ToString(), out);
      out += '}';
    }
    out += "],\"unit\":";
    AppendJsonString(line.unit, out);
    out += '}';
  }
  out += ']';
}

// An invoice (or an estimate: no id, number or issue time) as a JSON object.
absl::Status AppendInvoiceJson(const Invoice& invoice, std::string& out) {
  const int digits = MinorUnits(invoice.currency);
  STACKBILL_ASSIGN_OR_RETURN(nlohmann::json customers, CustomerSubtotals(invoice, digits));
  const bool issued = !invoice.number.empty();
  out.reserve(out.size() + 640 * invoice.lines.size());  // a line is 550–650 bytes
  out += "{\"billTo\":";
  out += BillToJson(invoice.bill_to).dump();
  out += ",\"currency\":";
  AppendJsonString(invoice.currency, out);
  out += ",\"customers\":";
  out += customers.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  out += ",\"id\":";
  AppendJsonNullOr(issued ? std::optional(invoice.id.ToString()) : std::nullopt, out);
  out += ",\"issuedAt\":";
  AppendJsonNullOr(issued ? std::optional(invoice.issued_at.ToString()) : std::nullopt, out);
  out += ",\"lines\":";
  AppendLinesJson(invoice.lines, digits, out);
  out += ",\"number\":";
  AppendJsonNullOr(issued ? std::optional(invoice.number) : std::nullopt, out);
  out += ",\"period\":";
  AppendJsonString(invoice.period.ToString(), out);
  out += ",\"total\":";
  AppendJsonString(invoice.total.ToString(digits), out);
  out += '}';
  return absl::OkStatus();
}

// The invoice's lines as CSV, one row per line; text cells neutralised
// against spreadsheet formulas (core/csv.h).
constexpr std::array<std::string_view, 18> kLineCsvColumns = {
    "lineNo",         "subscriptionId", "subscriptionName", "customerId", "customerName",
    "tenantId",       "resellerId",     "resellerName",     "meterId",    "meterName",
    "unit",           "quantity",       "includedQuantity", "amount",     "currency",
    "lateUsageMonth", "flags",          "description"};

// The CSV header of `prefix` columns then the line columns.
void AppendLineCsvHeader(std::string& out, std::vector<std::string> prefix) {
  for (std::string_view column : kLineCsvColumns) prefix.emplace_back(column);
  AppendCsvLine(out, prefix);
}

// One row per line: the `prefix` cells, then the line's. Text cells are
// neutralised against spreadsheet formulas (core/csv.h).
void AppendLineCsvRows(std::string& out, const std::vector<std::string>& prefix,
                       const std::vector<InvoiceLine>& lines, const std::string& currency) {
  const int digits = MinorUnits(currency);
  int line_no = 0;
  auto guid = [](const std::optional<Guid>& g) { return g ? g->ToString() : std::string(); };
  for (const InvoiceLine& line : lines) {
    std::string flags;
    for (const std::string& f : LineFlags(line)) flags += (flags.empty() ? "" : " ") + f;
    std::vector<std::string> cells = prefix;
    cells.insert(
        cells.end(),
        {std::to_string(++line_no), line.subscription_id.ToString(),
         CsvText(line.subscription_name), guid(line.customer_directory_id),
         CsvText(line.customer_name), guid(line.tenant_id),
         CsvText(line.reseller_partner_id.value_or("")), CsvText(line.reseller_name),
         guid(line.meter_id), CsvText(line.meter_name), CsvText(line.unit),
         line.quantity.ToString(), line.included_quantity.ToString(), line.amount.ToString(digits),
         currency, line.late_usage_month ? line.late_usage_month->ToString() : "", CsvText(flags),
         CsvText(line.description)});
    AppendCsvLine(out, cells);
  }
}

// The invoice's lines as CSV, one row per line.
std::string InvoiceCsv(const Invoice& invoice) {
  std::string out;
  AppendLineCsvHeader(out, {"invoiceNumber", "period"});
  AppendLineCsvRows(out, {CsvText(invoice.number), invoice.period.ToString()}, invoice.lines,
                    invoice.currency);
  return out;
}

// The format query parameter of an export: json (the default) or csv.
absl::StatusOr<bool> WantsCsv(const RequestContext& ctx) {
  const std::string_view format = ctx.request.Query("format").value_or("json");
  if (format != "csv" && format != "json") {
    return InvalidArgumentError("InvalidFormat",
                                fmt::format("format '{}' is not json or csv", format));
  }
  return format == "csv";
}

HttpResponse CsvResponse(std::string body) {
  HttpResponse response;
  response.content_type = "text/csv; charset=utf-8";
  response.body = std::move(body);
  return response;
}

absl::StatusOr<HttpResponse> InvoiceResponse(const RequestContext& ctx, const Invoice& invoice) {
  STACKBILL_ASSIGN_OR_RETURN(const bool csv, WantsCsv(ctx));
  if (csv) return CsvResponse(InvoiceCsv(invoice));
  std::string body;
  STACKBILL_RETURN_IF_ERROR(AppendInvoiceJson(invoice, body));
  return HttpResponse::Json(200, std::move(body));
}

// The reconciliation export (SPEC §5): a row per line × day × stack ×
// tenant × resource with its allocated amount; CSV cells neutralised.
absl::StatusOr<HttpResponse> ReconciliationResponse(const RequestContext& ctx,
                                                    const Reconciliation& r) {
  STACKBILL_ASSIGN_OR_RETURN(const bool csv, WantsCsv(ctx));
  const Invoice& invoice = r.invoice;
  const int digits = MinorUnits(invoice.currency);
  auto guid = [](const std::optional<Guid>& g) { return g ? g->ToString() : std::string(); };
  auto flags_of = [](const InvoiceLine& line, const ReconciliationRow& row) {
    std::vector<std::string> flags = LineFlags(line);
    if (row.summary) flags.emplace_back("Summary");
    return flags;
  };
  if (csv) {
    std::string out;
    AppendCsvLine(
        out, {"invoiceNumber", "period", "lineNo", "subscriptionId", "customerId", "customerName",
              "resellerId", "meterId", "meterName", "unit", "day", "cloudId", "tenantId",
              "resourceUri", "quantity", "amount", "currency", "flags"});
    for (const ReconciliationRow& row : r.rows) {
      const InvoiceLine& line = invoice.lines[row.line_index];
      std::string flags;
      for (const std::string& f : flags_of(line, row)) flags += (flags.empty() ? "" : " ") + f;
      AppendCsvLine(
          out,
          {CsvText(invoice.number), invoice.period.ToString(), std::to_string(row.line_index + 1),
           line.subscription_id.ToString(), guid(line.customer_directory_id),
           CsvText(line.customer_name), CsvText(line.reseller_partner_id.value_or("")),
           guid(line.meter_id), CsvText(line.meter_name), CsvText(line.unit),
           row.day ? row.day->ToString().substr(0, 10) : "", guid(row.cloud_id),
           guid(row.tenant_id), CsvText(row.resource_uri.value_or("")), row.quantity.ToString(),
           row.amount.ToString(digits), invoice.currency, CsvText(flags)});
    }
    return CsvResponse(std::move(out));
  }
  nlohmann::json rows = nlohmann::json::array();
  for (const ReconciliationRow& row : r.rows) {
    const InvoiceLine& line = invoice.lines[row.line_index];
    auto optional = [](const std::optional<std::string>& text) {
      return text ? nlohmann::json(*text) : nlohmann::json(nullptr);
    };
    rows.push_back({{"lineNo", row.line_index + 1},
                    {"subscriptionId", line.subscription_id.ToString()},
                    {"customerId", OptionalGuidJson(line.customer_directory_id)},
                    {"customerName", line.customer_name},
                    {"resellerId", optional(line.reseller_partner_id)},
                    {"meterId", OptionalGuidJson(line.meter_id)},
                    {"meterName", line.meter_name},
                    {"day", row.day ? nlohmann::json(row.day->ToString().substr(0, 10))
                                    : nlohmann::json(nullptr)},
                    {"cloudId", OptionalGuidJson(row.cloud_id)},
                    {"tenantId", OptionalGuidJson(row.tenant_id)},
                    {"resourceUri", optional(row.resource_uri)},
                    {"quantity", row.quantity.ToString()},
                    {"amount", row.amount.ToString(digits)},
                    {"flags", flags_of(line, row)}});
  }
  return JsonResponse(200, {{"invoiceId", invoice.id.ToString()},
                            {"number", invoice.number},
                            {"period", invoice.period.ToString()},
                            {"currency", invoice.currency},
                            {"total", invoice.total.ToString(digits)},
                            {"rows", std::move(rows)}});
}

// Customer statements (SPEC §5 re-billing) as JSON or CSV.
absl::StatusOr<HttpResponse> StatementsResponse(const RequestContext& ctx,
                                                const std::vector<Statement>& statements) {
  STACKBILL_ASSIGN_OR_RETURN(const bool csv, WantsCsv(ctx));
  if (csv) {
    std::string out;
    AppendLineCsvHeader(out, {"partnerId", "period"});
    for (const Statement& st : statements) {
      AppendLineCsvRows(out, {CsvText(st.partner_id), st.period.ToString()}, st.lines, st.currency);
    }
    return CsvResponse(std::move(out));
  }
  std::string body = "{\"value\":[";
  for (std::size_t i = 0; i < statements.size(); ++i) {
    const Statement& st = statements[i];
    const int digits = MinorUnits(st.currency);
    if (i > 0) body += ',';
    body += "{\"asOf\":";
    AppendJsonString(st.as_of.ToString(), body);
    body += ",\"currency\":";
    AppendJsonString(st.currency, body);
    body += ",\"customerId\":";
    AppendJsonString(st.customer_directory_id.ToString(), body);
    body += ",\"customerName\":";
    AppendJsonString(st.customer_name, body);
    body += ",\"lines\":";
    AppendLinesJson(st.lines, digits, body);
    body += ",\"partnerId\":";
    AppendJsonString(st.partner_id, body);
    body += ",\"period\":";
    AppendJsonString(st.period.ToString(), body);
    body += st.period_closed ? ",\"periodState\":\"Closed\"" : ",\"periodState\":\"Open\"";
    body += ",\"priceSheet\":";
    if (st.price_sheet) {
      body += "{\"currency\":";
      AppendJsonString(st.price_sheet->currency, body);
      body += ",\"effectiveDate\":";
      AppendJsonString(st.price_sheet->effective_date.ToString().substr(0, 10), body);
      body += '}';
    } else {
      body += "null";
    }
    body += ",\"total\":";
    AppendJsonString(st.total.ToString(digits), body);
    body += '}';
  }
  body += "]}";
  return HttpResponse::Json(200, std::move(body));
}

// The stable per-period export (SPEC §5): every line of the period's
// invoices, by invoice number then line.
absl::StatusOr<HttpResponse> PeriodExportResponse(const RequestContext& ctx, YearMonth period,
                                                  const std::vector<Invoice>& invoices) {
  STACKBILL_ASSIGN_OR_RETURN(const bool csv, WantsCsv(ctx));
  if (csv) {
    std::string out;
    AppendLineCsvHeader(out, {"invoiceNumber", "invoiceId", "period", "issuedAt", "billTo"});
    for (const Invoice& invoice : invoices) {
      AppendLineCsvRows(out,
                        {CsvText(invoice.number), invoice.id.ToString(), invoice.period.ToString(),
                         invoice.issued_at.ToString(), CsvText(invoice.bill_to.ToString())},
                        invoice.lines, invoice.currency);
    }
    return CsvResponse(std::move(out));
  }
  std::string body = "{\"invoices\":[";
  for (std::size_t i = 0; i < invoices.size(); ++i) {
    if (i > 0) body += ',';
    STACKBILL_RETURN_IF_ERROR(AppendInvoiceJson(invoices[i], body));
  }
  body += "],\"period\":";
  AppendJsonString(period.ToString(), body);
  body += '}';
  return HttpResponse::Json(200, std::move(body));
}

nlohmann::json PeriodJson(const BillingPeriodState& p) {
  return {
      {"period", p.period.ToString()},
      {"start", p.period.Start().ToString()},
      {"end", p.period.End().ToString()},
      {"state", p.closed_at ? "Closed" : "Open"},
      {"closedAt", p.closed_at ? nlohmann::json(p.closed_at->ToString()) : nlohmann::json(nullptr)},
      {"autoCloseAt", p.auto_close_at.ToString()},
      {"invoices", p.invoices}};
}

nlohmann::json Values(nlohmann::json items) { return nlohmann::json{{"value", std::move(items)}}; }

}  // namespace

absl::Status AddBillingRoutes(Router& router, const std::shared_ptr<BillingService>& billing) {
  std::vector<Route> routes;
  auto add = [&](std::string method, std::string pattern, std::string name, RouteHandler handler) {
    routes.push_back(Route{.method = std::move(method),
                           .pattern = std::move(pattern),
                           .authentication = Authentication::kPrincipal,
                           .name = std::move(name),
                           .handler = std::move(handler)});
  };

  // --- price sheets ----------------------------------------------------------
  auto put_sheet = [billing](const RequestContext& ctx,
                             PriceSheetOwner owner) -> absl::StatusOr<HttpResponse> {
    STACKBILL_ASSIGN_OR_RETURN(nlohmann::json body,
                               ParseJsonObjectWithNumberText(ctx.request.body));
    PriceSheet sheet;
    sheet.key.owner = std::move(owner);
    STACKBILL_ASSIGN_OR_RETURN(sheet.key.currency, CurrencyParam(ctx.Param("currency")));
    STACKBILL_ASSIGN_OR_RETURN(sheet.key.effective_date, EffectiveDate(ctx.Param("effectiveDate")));
    const bool customers = sheet.key.owner.kind == PriceSheetOwner::Kind::kCustomers;
    STACKBILL_ASSIGN_OR_RETURN(sheet.meters, ParseSheetMeters(body, customers));
    if (auto markup = body.find("markup"); markup != body.end() && !markup->is_null()) {
      if (!customers) {
        return InvalidArgumentError("InvalidRequestContent",
                                    "'markup' belongs to a customer price sheet "
                                    "(/v1/priceSheets/customers/…) only");
      }
      STACKBILL_ASSIGN_OR_RETURN(sheet.markup, DecimalMember<Markup>(*markup, "markup"));
    }
    STACKBILL_ASSIGN_OR_RETURN(bool created, billing->PutPriceSheet(ctx.caller, ctx.now, sheet));
    return JsonResponse(created ? 201 : 200, SheetJson(sheet));
  };
  add("PUT", "/v1/priceSheets/offers/{offerType}/{currency}/{effectiveDate}",
      "priceSheets.putOffer",
      [put_sheet](const RequestContext& ctx) -> absl::StatusOr<HttpResponse> {
        absl::StatusOr<OfferType> offer = ParseOfferType(ctx.Param("offerType"));
        if (!offer.ok()) return Annotate(offer.status(), "path parameter 'offerType'");
        return put_sheet(ctx, PriceSheetOwner::Offer(*offer));
      });
  add("PUT", "/v1/priceSheets/partners/{partnerId}/{currency}/{effectiveDate}",
      "priceSheets.putPartner",
      [put_sheet](const RequestContext& ctx) -> absl::StatusOr<HttpResponse> {
        return put_sheet(ctx, PriceSheetOwner::Partner(std::string(ctx.Param("partnerId"))));
      });
  add("PUT", "/v1/priceSheets/customers/{partnerId}/{currency}/{effectiveDate}",
      "priceSheets.putCustomers",
      [put_sheet](const RequestContext& ctx) -> absl::StatusOr<HttpResponse> {
        return put_sheet(ctx, PriceSheetOwner::Customers(std::string(ctx.Param("partnerId"))));
      });
  add("GET", "/v1/priceSheets", "priceSheets.list",
      [billing](const RequestContext& ctx) -> absl::StatusOr<HttpResponse> {
        PriceSheetFilter filter;
        if (auto c = ctx.request.Query("currency")) filter.currency = std::string(*c);
        if (auto p = ctx.request.Query("partnerId")) {
          filter.owner = PriceSheetOwner::Partner(std::string(*p));
        } else if (auto c = ctx.request.Query("customersOf")) {
          filter.owner = PriceSheetOwner::Customers(std::string(*c));
        } else if (auto o = ctx.request.Query("offerType")) {
          absl::StatusOr<OfferType> offer = ParseOfferType(*o);
          if (!offer.ok()) return Annotate(offer.status(), "query parameter 'offerType'");
          filter.owner = PriceSheetOwner::Offer(*offer);
        }
        STACKBILL_ASSIGN_OR_RETURN(std::vector<PriceSheet> sheets,
                                   billing->ListPriceSheets(ctx.caller, ctx.now, filter));
        nlohmann::json items = nlohmann::json::array();
        for (const PriceSheet& s : sheets) items.push_back(SheetJson(s));
        return JsonResponse(200, Values(std::move(items)));
      });

  // --- billing periods -----------------------------------------------------
  add("GET", "/v1/billingPeriods", "billingPeriods.list",
      [billing](const RequestContext& ctx) -> absl::StatusOr<HttpResponse> {
        STACKBILL_ASSIGN_OR_RETURN(std::vector<BillingPeriodState> periods,
                                   billing->ListPeriods(ctx.caller, ctx.now));
        nlohmann::json items = nlohmann::json::array();
        for (const BillingPeriodState& p : periods) items.push_back(PeriodJson(p));
        return JsonResponse(200, Values(std::move(items)));
      });
  add("POST", "/v1/billingPeriods/{period}/close", "billingPeriods.close",
      [billing](const RequestContext& ctx) -> absl::StatusOr<HttpResponse> {
        STACKBILL_ASSIGN_OR_RETURN(YearMonth period,
                                   PeriodOf(ctx.Param("period"), "path parameter 'period'"));
        STACKBILL_ASSIGN_OR_RETURN(nlohmann::json body, ParseJsonObject(ctx.request.body, true));
        CloseOptions options;
        if (auto allow = body.find("allowUnpriced"); allow != body.end() && !allow->is_null()) {
          if (!allow->is_boolean()) {
            return InvalidArgumentError("InvalidRequestContent",
                                        "'allowUnpriced' must be true or false");
          }
          options.allow_unpriced = allow->get<bool>();
        }
        STACKBILL_ASSIGN_OR_RETURN(ClosePeriodResult closed,
                                   billing->ClosePeriod(ctx.caller, ctx.now, period, options));
        nlohmann::json invoices = nlohmann::json::array();
        for (const Invoice& invoice : closed.invoices) {
          invoices.push_back({{"id", invoice.id.ToString()},
                              {"number", invoice.number},
                              {"billTo", BillToJson(invoice.bill_to)},
                              {"currency", invoice.currency},
                              {"lines", invoice.lines.size()},
                              {"total", invoice.total.ToString(MinorUnits(invoice.currency))}});
        }
        return JsonResponse(200, {{"period", period.ToString()},
                                  {"state", "Closed"},
                                  {"closedAt", closed.period.closed_at->ToString()},
                                  {"newlyClosed", closed.newly_closed},
                                  {"invoices", std::move(invoices)}});
      });

  add("GET", "/v1/billingPeriods/{period}/export", "billingPeriods.export",
      [billing](const RequestContext& ctx) -> absl::StatusOr<HttpResponse> {
        STACKBILL_ASSIGN_OR_RETURN(YearMonth period,
                                   PeriodOf(ctx.Param("period"), "path parameter 'period'"));
        STACKBILL_ASSIGN_OR_RETURN(std::optional<BillTo> bill_to, BillToQuery(ctx));
        STACKBILL_ASSIGN_OR_RETURN(std::vector<Invoice> invoices,
                                   billing->ExportPeriod(ctx.caller, ctx.now, period, bill_to));
        return PeriodExportResponse(ctx, period, invoices);
      });

  // --- partner re-billing (SPEC §5) ------------------------------------------
  add("GET", "/v1/statements", "statements.list",
      [billing](const RequestContext& ctx) -> absl::StatusOr<HttpResponse> {
        std::optional<std::string_view> partner = ctx.request.Query("partnerId");
        if (!partner || partner->empty()) {
          return InvalidArgumentError("MissingQueryParameter",
                                      "give partnerId: whose customers' statements");
        }
        STACKBILL_ASSIGN_OR_RETURN(std::optional<YearMonth> period, PeriodQuery(ctx));
        STACKBILL_ASSIGN_OR_RETURN(std::optional<Guid> customer, GuidQuery(ctx, "customerId"));
        STACKBILL_ASSIGN_OR_RETURN(
            std::vector<Statement> statements,
            billing->Statements(ctx.caller, ctx.now, std::string(*partner),
                                period.value_or(YearMonth::Of(ctx.now)), customer));
        return StatementsResponse(ctx, statements);
      });

  // --- adjustments -----------------------------------------------------------
  add("POST", "/v1/adjustments", "adjustments.create",
      [billing](const RequestContext& ctx) -> absl::StatusOr<HttpResponse> {
        STACKBILL_ASSIGN_OR_RETURN(nlohmann::json body,
                                   ParseJsonObjectWithNumberText(ctx.request.body));
        Adjustment a;
        STACKBILL_ASSIGN_OR_RETURN(a.subscription_id,
                                   RequiredGuid(body, "subscriptionId", "subscriptionId"));
        STACKBILL_ASSIGN_OR_RETURN(std::string period, RequiredString(body, "period", "period"));
        STACKBILL_ASSIGN_OR_RETURN(a.period, PeriodOf(period, "'period'"));
        STACKBILL_ASSIGN_OR_RETURN(a.meter_id, OptionalGuid(body, "meterId", "meterId"));
        auto amount = body.find("amount");
        if (amount == body.end() || amount->is_null()) {
          return InvalidArgumentError("MissingRequiredProperty", "'amount' is required");
        }
        STACKBILL_ASSIGN_OR_RETURN(a.amount, DecimalMember<Amount>(*amount, "amount"));
        STACKBILL_ASSIGN_OR_RETURN(a.currency, RequiredString(body, "currency", "currency"));
        STACKBILL_ASSIGN_OR_RETURN(a.reason, RequiredString(body, "reason", "reason"));
        STACKBILL_ASSIGN_OR_RETURN(Adjustment added,
                                   billing->AddAdjustment(ctx.caller, ctx.now, std::move(a)));
        return JsonResponse(201, {{"id", added.id.ToString()},
                                  {"subscriptionId", added.subscription_id.ToString()},
                                  {"period", added.period.ToString()},
                                  {"meterId", OptionalGuidJson(added.meter_id)},
                                  {"amount", added.amount.ToString(MinorUnits(added.currency))},
                                  {"currency", added.currency},
                                  {"reason", added.reason},
                                  {"createdAt", added.created_at.ToString()}});
      });

  // --- invoices --------------------------------------------------------------
  add("GET", "/v1/invoices", "invoices.list",
      [billing](const RequestContext& ctx) -> absl::StatusOr<HttpResponse> {
        InvoiceFilter filter;
        STACKBILL_ASSIGN_OR_RETURN(filter.period, PeriodQuery(ctx));
        STACKBILL_ASSIGN_OR_RETURN(filter.bill_to, BillToQuery(ctx));
        STACKBILL_ASSIGN_OR_RETURN(std::vector<Invoice> invoices,
                                   billing->ListInvoices(ctx.caller, ctx.now, filter));
        nlohmann::json items = nlohmann::json::array();
        for (const Invoice& invoice : invoices) {
          items.push_back({{"id", invoice.id.ToString()},
                           {"number", invoice.number},
                           {"period", invoice.period.ToString()},
                           {"billTo", BillToJson(invoice.bill_to)},
                           {"currency", invoice.currency},
                           {"issuedAt", invoice.issued_at.ToString()},
                           {"lines", invoice.lines.size()},
                           {"total", invoice.total.ToString(MinorUnits(invoice.currency))}});
        }
        return JsonResponse(200, Values(std::move(items)));
      });
  add("GET", "/v1/invoices/estimate", "invoices.estimate",
      [billing](const RequestContext& ctx) -> absl::StatusOr<HttpResponse> {
        STACKBILL_ASSIGN_OR_RETURN(std::optional<BillTo> bill_to, BillToQuery(ctx));
        if (!bill_to) {
          return InvalidArgumentError("MissingQueryParameter",
                                      "give partnerId or subscriptionId: whose estimate");
        }
        STACKBILL_ASSIGN_OR_RETURN(std::optional<YearMonth> period, PeriodQuery(ctx));
        STACKBILL_ASSIGN_OR_RETURN(Invoice estimate,
                                   billing->Estimate(ctx.caller, ctx.now, *bill_to,
                                                     period.value_or(YearMonth::Of(ctx.now))));
        return InvoiceResponse(ctx, estimate);
      });
  add("GET", "/v1/invoices/{invoiceId}/reconciliation", "invoices.reconciliation",
      [billing](const RequestContext& ctx) -> absl::StatusOr<HttpResponse> {
        STACKBILL_ASSIGN_OR_RETURN(Reconciliation r,
                                   billing->Reconcile(ctx.caller, ctx.now, ctx.Param("invoiceId")));
        return ReconciliationResponse(ctx, r);
      });
  add("GET", "/v1/invoices/{invoiceId}", "invoices.get",
      [billing](const RequestContext& ctx) -> absl::StatusOr<HttpResponse> {
        STACKBILL_ASSIGN_OR_RETURN(
            Invoice invoice, billing->GetInvoice(ctx.caller, ctx.now, ctx.Param("invoiceId")));
        return InvoiceResponse(ctx, invoice);
      });

  // --- Microsoft.Commerce RateCard (SPEC §7) --------------------------------
  add("GET", "/subscriptions/{subscriptionId}/providers/Microsoft.Commerce/RateCard",
      "commerce.rateCard", [billing](const RequestContext& ctx) -> absl::StatusOr<HttpResponse> {
        STACKBILL_RETURN_IF_ERROR(CheckApiVersion(ctx.request, {kCommerceApiVersion}).status());
        STACKBILL_ASSIGN_OR_RETURN(const Guid subscription, GuidParam(ctx, "subscriptionId"));
        std::optional<std::string_view> text = ctx.request.Query("$filter");
        if (!text || text->empty()) {
          return InvalidArgumentError("InvalidFilter",
                                      "$filter is required: OfferDurableId eq '…' and Currency eq "
                                      "'…' and Locale eq '…' and RegionInfo eq '…'");
        }
        STACKBILL_ASSIGN_OR_RETURN(const RateCardFilter filter, ParseRateCardFilter(*text));
        STACKBILL_ASSIGN_OR_RETURN(
            const std::vector<RateCardEntry> card,
            billing->RateCard(ctx.caller, ctx.now, subscription, filter.offer, filter.currency));
        return HttpResponse::Json(200, RateCardJson(card, filter));
      });

  for (Route& route : routes) STACKBILL_RETURN_IF_ERROR(router.Add(std::move(route)));
  return absl::OkStatus();
}

}  // namespace stackbill
