#include "services/billing_service.h"

#include <fmt/format.h>

#include <algorithm>
#include <map>
#include <numeric>
#include <optional>
#include <set>
#include <tuple>
#include <utility>

#include "absl/container/flat_hash_map.h"
#include "core/allocation.h"
#include "core/error.h"
#include "core/rules.h"
#include "core/status_macros.h"
#include "services/access_tokens.h"
#include "services/audit.h"
#include "services/rating.h"

namespace stackbill {
namespace {

// ---------------------------------------------------------------------------
// A month's usage, classified.

// (bill-to, billed subscription, meter, zero-rated).
using UsageKey = std::tuple<std::string, Guid, Guid, bool>;
struct ClassifiedUsage {
  BillTo bill_to;
  Quantity quantity;
};
using MonthUsage = std::map<UsageKey, ClassifiedUsage>;

// (billed subscription, meter, zero-rated): the ledger's key.
using LedgerKey = std::tuple<Guid, Guid, bool>;

Timestamp CeilToHour(Timestamp t) {
  const Timestamp floor = t.TruncateToHour();
  return floor == t ? t : floor.AddHours(1);
}

// The instants inside `month` where a fact deciding bill-to or zero rating
// changes, rounded up to the hour, with the month's bounds: the pieces
// between two cuts are classified once.
std::vector<Timestamp> Cuts(const History& history, YearMonth month) {
  const Timestamp start = month.Start(), end = month.End();
  std::vector<Timestamp> cuts{start, end};
  auto add = [&](const Validity& v) {
    for (const std::optional<Timestamp>& t : {std::optional<Timestamp>(v.from), v.to}) {
      if (t && start < *t && *t < end) cuts.push_back(std::min(CeilToHour(*t), end));
    }
  };
  for (const auto& link : history.partner_parents) add(link.valid);
  for (const auto& owner : history.subscription_owners) add(owner.valid);
  for (const auto& registration : history.registrations) add(registration.valid);
  std::sort(cuts.begin(), cuts.end());
  cuts.erase(std::unique(cuts.begin(), cuts.end()), cuts.end());
  return cuts;
}

bool ZeroRatedAt(const HistoryView& view, Guid cloud_id, Timestamp t) {
  const Registration* registration = view.RegistrationAt(cloud_id, t);
  if (registration == nullptr) registration = view.FirstRegistration(cloud_id);
  return registration != nullptr && IsZeroRated(registration->billing_model);
}

absl::StatusOr<Quantity> AddQuantity(Quantity a, Quantity b) { return a.Add(b); }

// The usage of `month` by usage time per (bill-to, subscription, meter,
// zero-rated), of `subscriptions` only when given.
absl::StatusOr<MonthUsage> ClassifyMonth(Store& store, const HistorySnapshot& snapshot,
                                         YearMonth month,
                                         const std::optional<std::vector<Guid>>& subscriptions) {
  MonthUsage usage;
  const std::vector<Timestamp> cuts = Cuts(snapshot.history, month);
  for (std::size_t i = 0; i + 1 < cuts.size(); ++i) {
    UsageAggregateFilter filter{.basis = UsageTimeBasis::kUsage,
                                .from = cuts[i],
                                .to = cuts[i + 1],
                                .granularity = UsageGranularity::kMonth,
                                .billed_subscription_ids = subscriptions,
                                .by_subscription = true,
                                .by_meter = true,
                                .by_stack = true};
    STACKBILL_ASSIGN_OR_RETURN(std::vector<UsageAggregate> aggregates,
                               store.usage().AggregateUsage(filter));
    absl::flat_hash_map<Guid, BillTo> bill_to_of;
    for (const UsageAggregate& a : aggregates) {
      const Guid subscription = *a.billed_subscription_id;
      auto found = bill_to_of.find(subscription);
      if (found == bill_to_of.end()) {
        STACKBILL_ASSIGN_OR_RETURN(BillTo bill_to, BillToAt(snapshot.view, subscription, cuts[i]));
        found = bill_to_of.emplace(subscription, std::move(bill_to)).first;
      }
      const bool zero = ZeroRatedAt(snapshot.view, *a.cloud_id, cuts[i]);
      ClassifiedUsage& entry =
          usage[UsageKey{found->second.ToString(), subscription, *a.meter_id, zero}];
      entry.bill_to = found->second;
      STACKBILL_ASSIGN_OR_RETURN(entry.quantity, AddQuantity(entry.quantity, a.quantity));
    }
  }
  return usage;
}

// ---------------------------------------------------------------------------
// Lines.

// What a line is built from before it is named and rounded.
struct DraftLine {
  BillTo bill_to{};
  Guid subscription_id{};
  std::optional<Guid> meter_id{};
  Quantity quantity{};
  Quantity included_quantity{};
  std::vector<AppliedTier> tiers{};
  Amount exact_amount{};
  std::optional<YearMonth> late_usage_month{};
  bool zero_rated = false;
  bool unpriced = false;
  bool adjustment = false;
  std::string description{};
};

// A meter without a price, for MissingPrice.
struct MissingPrice {
  Guid meter_id;
  std::string currency;
  std::string offer;
  friend auto operator<=>(const MissingPrice&, const MissingPrice&) = default;
};

// Names and prices shared by every line of one build.
class LineFactory {
 public:
  LineFactory(const HistorySnapshot& snapshot, const std::vector<PriceSheet>& sheets,
              const std::vector<Meter>& meters, const std::vector<Directory>& directories)
      : snapshot_(snapshot), sheets_(sheets) {
    for (const Meter& m : meters) meters_.emplace(m.meter_id, &m);
    for (const Directory& d : directories) directories_.emplace(d.id, d.display_name);
    for (const Registration& r : snapshot.history.registrations) {
      default_subscriptions_.insert(r.name.subscription_id);
    }
  }

  absl::StatusOr<std::string> CurrencyOf(const BillTo& bill_to) const {
    std::optional<std::string> currency;
    if (bill_to.kind == BillTo::Kind::kPartner) {
      if (const Partner* p = snapshot_.view.FindPartner(bill_to.partner_id)) {
        currency = p->billing_currency;
      }
    } else if (const Subscription* s = snapshot_.view.FindSubscription(bill_to.subscription_id)) {
      currency = s->billing_currency;
    }
    if (!currency || currency->empty()) {
      return FailedPreconditionError("MissingBillingCurrency",
                                     fmt::format("{} has no billing currency", bill_to.ToString()));
    }
    return *currency;
  }

  const PriceBook& BookFor(YearMonth month) {
    auto it = books_.find(month);
    if (it == books_.end()) it = books_.emplace(month, PriceBook(sheets_, month)).first;
    return it->second;
  }

  // The meter's price for `subscription` billed to `bill_to` in `month`.
  std::optional<ResolvedPrice> PriceOf(const BillTo& bill_to, Guid subscription,
                                       const std::string& currency, Guid meter, YearMonth month,
                                       std::string* offer_name) {
    const Subscription* s = snapshot_.view.FindSubscription(subscription);
    const OfferType offer = s != nullptr ? s->offer_type : OfferType::kCsp;
    *offer_name = std::string(ToString(offer));
    std::optional<PartnerId> partner;
    if (bill_to.kind == BillTo::Kind::kPartner) partner = bill_to.partner_id;
    return BookFor(month).Find(offer, partner, currency, meter);
  }

  // Names the line at `at` (the period's start) and rounds it once (R14).
  absl::StatusOr<InvoiceLine> Finish(const DraftLine& draft, const Currency& currency,
                                     Timestamp at) const {
    InvoiceLine line;
    line.subscription_id = draft.subscription_id;
    const Subscription* s = snapshot_.view.FindSubscription(draft.subscription_id);
    if (s != nullptr) {
      line.subscription_name = s->display_name;
      line.customer_directory_id = s->directory_id;
      if (auto it = directories_.find(s->directory_id); it != directories_.end()) {
        line.customer_name = it->second;
      }
      if (!default_subscriptions_.contains(s->id)) line.tenant_id = s->directory_id;
      const std::optional<PartnerId> owner = snapshot_.view.OwnerPartnerAt(s->id, at);
      if (owner &&
          !(draft.bill_to.kind == BillTo::Kind::kPartner && draft.bill_to.partner_id == *owner)) {
        line.reseller_partner_id = *owner;
        if (const Partner* p = snapshot_.view.FindPartner(*owner)) line.reseller_name = p->name;
      }
    }
    line.meter_id = draft.meter_id;
    if (draft.meter_id) {
      if (auto it = meters_.find(*draft.meter_id); it != meters_.end()) {
        line.meter_name = it->second->name;
        line.unit = it->second->unit;
      }
    }
    line.quantity = draft.quantity;
    line.included_quantity = draft.included_quantity;
    line.tiers = draft.tiers;
    STACKBILL_ASSIGN_OR_RETURN(line.amount, RoundToCurrency(draft.exact_amount, currency));
    line.late_usage_month = draft.late_usage_month;
    line.zero_rated = draft.zero_rated;
    line.unpriced = draft.unpriced;
    line.adjustment = draft.adjustment;
    line.description = draft.description;
    return line;
  }

  std::string MeterName(Guid meter) const {
    auto it = meters_.find(meter);
    return it == meters_.end() ? meter.ToString() : it->second->name;
  }

 private:
  const HistorySnapshot& snapshot_;
  const std::vector<PriceSheet>& sheets_;
  absl::flat_hash_map<Guid, const Meter*> meters_;
  absl::flat_hash_map<Guid, std::string> directories_;
  std::set<Guid> default_subscriptions_;
  std::map<YearMonth, PriceBook> books_;
};

// Negates what a rating added: the same tiers, counted down.
RatedUsage Negated(RatedUsage rated) {
  rated.billable = rated.billable.Negate();
  for (AppliedTier& tier : rated.tiers) {
    tier.quantity = tier.quantity.Negate();
    tier.amount = tier.amount.Negate();
  }
  rated.amount = rated.amount.Negate();
  return rated;
}

// Sorts lines as an invoice prints them: by customer, subscription, meter;
// the period's own usage before late lines, adjustments last.
void SortLines(std::vector<InvoiceLine>& lines) {
  // The rank refers to the line's own fields (no copies), and the lines are
  // ordered by index, then moved once each: an invoice may have tens of
  // thousands of lines, each with several strings.
  using Rank =
      std::tuple<bool, const std::string&, const std::string&, const Guid&, bool, YearMonth,
                 const std::string&, const std::optional<Guid>&, bool, const std::string&>;
  auto rank = [&lines](std::size_t i) {
    const InvoiceLine& l = lines[i];
    return Rank(l.adjustment, l.customer_name, l.subscription_name, l.subscription_id,
                l.late_usage_month.has_value(), l.late_usage_month.value_or(YearMonth()),
                l.meter_name, l.meter_id, l.zero_rated, l.description);
  };
  std::vector<std::size_t> order(lines.size());
  std::iota(order.begin(), order.end(), std::size_t{0});
  std::stable_sort(order.begin(), order.end(),
                   [&](std::size_t a, std::size_t b) { return rank(a) < rank(b); });
  std::vector<InvoiceLine> sorted;
  sorted.reserve(lines.size());
  for (std::size_t i : order) sorted.push_back(std::move(lines[i]));
  lines = std::move(sorted);
}

std::string MissingPriceMessage(const std::set<MissingPrice>& missing, const LineFactory& names) {
  std::string text = "no price for ";
  bool first = true;
  for (const MissingPrice& m : missing) {
    if (!first) text += "; ";
    first = false;
    text += fmt::format("meter {} ({}) in {} for offer {}", m.meter_id.ToString(),
                        names.MeterName(m.meter_id), m.currency, m.offer);
  }
  return text + ": add the prices, or close with allowUnpriced";
}

nlohmann::json SheetJson(const PriceSheet& sheet) {
  nlohmann::json meters = nlohmann::json::array();
  for (const MeterPrice& m : sheet.meters) {
    nlohmann::json rates = nlohmann::json::object();
    for (const PriceTier& t : m.tiers) rates[t.start.ToString()] = t.unit_price.ToString();
    meters.push_back({{"meterId", m.meter_id.ToString()},
                      {"meterRates", std::move(rates)},
                      {"includedQuantity", m.included_quantity.ToString()}});
  }
  nlohmann::json json = {{"owner", sheet.key.owner.ToString()},
                         {"currency", sheet.key.currency},
                         {"effectiveDate", sheet.key.effective_date.ToString()},
                         {"meters", std::move(meters)}};
  if (sheet.markup) json["markup"] = sheet.markup->ToString();
  return json;
}

bool HasPartnerAdminRole(const Caller& caller) {
  return std::any_of(caller.roles.begin(), caller.roles.end(),
                     [](const RoleAssignment& r) { return r.role == Role::kPartnerAdmin; });
}

}  // namespace

BillingService::BillingService(Store& store, BillingOptions options)
    : store_(store), options_(options), history_(store, std::chrono::milliseconds(1000)) {}

// ---------------------------------------------------------------------------
// Price sheets

absl::StatusOr<bool> BillingService::PutPriceSheet(const Caller& caller, Timestamp now,
                                                   const PriceSheet& sheet) {
  if (sheet.key.owner.kind == PriceSheetOwner::Kind::kCustomers) {
    STACKBILL_ASSIGN_OR_RETURN(std::shared_ptr<const HistorySnapshot> snapshot,
                               history_.Current(false));
    STACKBILL_RETURN_IF_ERROR(
        CheckRebillingAccess(caller, snapshot->view, sheet.key.owner.partner_id, now));
  } else {
    STACKBILL_RETURN_IF_ERROR(CheckPlatformAdmin(caller));
    if (sheet.markup) {
      return InvalidArgumentError("InvalidPrice", "only a customer price sheet has a markup");
    }
  }
  if (sheet.markup && *sheet.markup < Markup::FromInteger(-1).value()) {
    return InvalidArgumentError(
        "InvalidPrice",
        fmt::format("markup {} is below -1: prices cannot be negative", sheet.markup->ToString()));
  }
  if (!LookupCurrency(sheet.key.currency).ok()) {
    return InvalidArgumentError("UnsupportedCurrency",
                                fmt::format("currency '{}' is not supported", sheet.key.currency));
  }
  STACKBILL_ASSIGN_OR_RETURN(std::vector<Meter> meters, store_.meters().ListMeters());
  std::set<Guid> known;
  for (const Meter& m : meters) known.insert(m.meter_id);
  for (const MeterPrice& m : sheet.meters) {
    if (!known.contains(m.meter_id)) {
      return InvalidArgumentError("UnknownMeter",
                                  fmt::format("meter {} is not known", m.meter_id.ToString()));
    }
  }
  std::optional<PriceSheet> before;
  if (auto old = store_.price_sheets().GetPriceSheet(sheet.key); old.ok()) before = *old;
  if (before) {
    // The same prices again (a world re-applied) change nothing, locked or
    // not, and are not audited.
    std::vector<MeterPrice> prices = sheet.meters;
    std::ranges::sort(prices, {}, &MeterPrice::meter_id);
    if (prices == before->meters && sheet.markup == before->markup) return false;
  }
  STACKBILL_ASSIGN_OR_RETURN(bool created, store_.price_sheets().PutPriceSheet(sheet));
  std::optional<PartnerId> partner;
  if (sheet.key.owner.kind != PriceSheetOwner::Kind::kOffer) partner = sheet.key.owner.partner_id;
  STACKBILL_RETURN_IF_ERROR(
      WriteAudit(store_, caller, now,
                 {.action = "priceSheet.put",
                  .resource = fmt::format("/v1/priceSheets/{}/{}/{}", sheet.key.owner.ToString(),
                                          sheet.key.currency, sheet.key.effective_date.ToString()),
                  .partner_id = partner,
                  .before = before ? SheetJson(*before) : nlohmann::json(nullptr),
                  .after = SheetJson(sheet)}));
  return created;
}

absl::StatusOr<std::vector<PriceSheet>> BillingService::ListPriceSheets(
    const Caller& caller, Timestamp now, const PriceSheetFilter& filter) {
  STACKBILL_ASSIGN_OR_RETURN(std::vector<PriceSheet> sheets,
                             store_.price_sheets().ListPriceSheets(filter));
  if (IsPlatformAdmin(caller)) return sheets;
  if (!HasPartnerAdminRole(caller)) {
    return PermissionDeniedError("AuthorizationFailed",
                                 "price sheets are read by PartnerAdmins and PlatformAdmins");
  }
  STACKBILL_ASSIGN_OR_RETURN(std::shared_ptr<const HistorySnapshot> snapshot,
                             history_.Current(false));
  std::vector<PriceSheet> visible;
  for (PriceSheet& sheet : sheets) {
    const PriceSheetOwner& owner = sheet.key.owner;
    const bool readable =
        owner.kind == PriceSheetOwner::Kind::kOffer ||
        (owner.kind == PriceSheetOwner::Kind::kPartner &&
         IsPartnerAdminOverPartner(caller, snapshot->view, owner.partner_id, now)) ||
        (owner.kind == PriceSheetOwner::Kind::kCustomers &&
         CheckRebillingAccess(caller, snapshot->view, owner.partner_id, now).ok());
    if (readable) visible.push_back(std::move(sheet));
  }
  return visible;
}

// ---------------------------------------------------------------------------
// Periods

absl::StatusOr<std::optional<YearMonth>> BillingService::FirstUsageMonth(Timestamp now) {
  UsageAggregateFilter filter{.basis = UsageTimeBasis::kUsage,
                              .from = YearMonth(1970, 1).Start(),
                              .to = YearMonth::Of(now).End(),
                              .granularity = UsageGranularity::kMonth};
  STACKBILL_ASSIGN_OR_RETURN(std::vector<UsageAggregate> months,
                             store_.usage().AggregateUsage(filter));
  for (const UsageAggregate& m : months) {
    if (m.records > 0) return std::optional<YearMonth>(YearMonth::Of(m.start));
  }
  return std::optional<YearMonth>();
}

absl::StatusOr<std::optional<YearMonth>> BillingService::NextPeriodToClose(Timestamp now) {
  STACKBILL_ASSIGN_OR_RETURN(std::vector<BillingPeriodRecord> closed,
                             store_.billing().ListClosedBillingPeriods());
  if (!closed.empty()) return std::optional<YearMonth>(closed.back().period.Next());
  return FirstUsageMonth(now);
}

absl::StatusOr<std::vector<BillingPeriodState>> BillingService::ListPeriods(const Caller& caller,
                                                                            Timestamp now) {
  if (!IsPlatformAdmin(caller) && !HasPartnerAdminRole(caller)) {
    return PermissionDeniedError("AuthorizationFailed",
                                 "billing periods are read by PartnerAdmins and PlatformAdmins");
  }
  STACKBILL_ASSIGN_OR_RETURN(std::vector<BillingPeriodRecord> closed,
                             store_.billing().ListClosedBillingPeriods());
  STACKBILL_ASSIGN_OR_RETURN(std::optional<YearMonth> first_usage, FirstUsageMonth(now));
  const YearMonth current = YearMonth::Of(now);
  YearMonth first = current;
  if (!closed.empty()) first = std::min(first, closed.front().period);
  if (first_usage) first = std::min(first, *first_usage);
  std::map<YearMonth, BillingPeriodRecord> closed_by_month;
  for (const BillingPeriodRecord& r : closed) closed_by_month.emplace(r.period, r);
  STACKBILL_ASSIGN_OR_RETURN(std::vector<Invoice> invoices, store_.billing().ListInvoices({}));
  std::map<YearMonth, std::size_t> issued;
  for (const Invoice& invoice : invoices) ++issued[invoice.period];
  std::vector<BillingPeriodState> periods;
  for (YearMonth m = first; m <= current; m = m.Next()) {
    BillingPeriodState state{.period = m,
                             .closed_at = std::nullopt,
                             .auto_close_at = m.End().AddSeconds(options_.auto_close_grace.count()),
                             .invoices = issued[m]};
    if (auto it = closed_by_month.find(m); it != closed_by_month.end()) {
      state.closed_at = it->second.closed_at;
    }
    periods.push_back(state);
  }
  return periods;
}

absl::StatusOr<ClosePeriodResult> BillingService::ClosePeriod(const Caller& caller, Timestamp now,
                                                              YearMonth period,
                                                              const CloseOptions& options) {
  STACKBILL_RETURN_IF_ERROR(CheckPlatformAdmin(caller));
  STACKBILL_ASSIGN_OR_RETURN(ClosePeriodResult result, Close(now, period, options));
  if (result.newly_closed) {
    nlohmann::json numbers = nlohmann::json::array();
    for (const Invoice& invoice : result.invoices) numbers.push_back(invoice.number);
    STACKBILL_RETURN_IF_ERROR(
        WriteAudit(store_, caller, now,
                   {.action = "billingPeriod.close",
                    .resource = fmt::format("/v1/billingPeriods/{}", period.ToString()),
                    .partner_id = std::nullopt,
                    .before = nullptr,
                    .after = {{"period", period.ToString()},
                              {"allowUnpriced", options.allow_unpriced},
                              {"invoices", std::move(numbers)}}}));
  }
  return result;
}

absl::StatusOr<ClosePeriodResult> BillingService::Close(Timestamp now, YearMonth period,
                                                        const CloseOptions& options) {
  STACKBILL_ASSIGN_OR_RETURN(BillingPeriodRecord record, store_.billing().GetBillingPeriod(period));
  if (!record.closed()) {
    if (now < period.End()) {
      return FailedPreconditionError(billing_errors::kPeriodNotEnded,
                                     fmt::format("billing period {} has not ended: it ends at {}",
                                                 period.ToString(), period.End().ToString()));
    }
    STACKBILL_ASSIGN_OR_RETURN(std::optional<YearMonth> next, NextPeriodToClose(now));
    if (next && *next < period) {
      return FailedPreconditionError(
          store_errors::kPeriodsCloseInOrder,
          fmt::format("billing period {} cannot close before {}: periods close in order",
                      period.ToString(), next->ToString()));
    }
  }
  ClosePeriodRequest request{.period = period, .closed_at = now};
  if (!record.closed()) {
    STACKBILL_ASSIGN_OR_RETURN(request.invoices, Build(period, options, std::nullopt, &request));
  }
  // The store closes it (or returns what an earlier close issued) in one
  // transaction; a concurrent close of the same period wins or loses whole.
  return store_.billing().ClosePeriod(request);
}

absl::StatusOr<std::vector<ClosePeriodResult>> BillingService::AutoClose(Timestamp now) {
  std::vector<ClosePeriodResult> closes;
  if (!options_.auto_close) return closes;
  while (true) {
    STACKBILL_ASSIGN_OR_RETURN(std::optional<YearMonth> next, NextPeriodToClose(now));
    if (!next || now < next->End().AddSeconds(options_.auto_close_grace.count())) return closes;
    STACKBILL_ASSIGN_OR_RETURN(ClosePeriodResult closed, Close(now, *next, CloseOptions{}));
    const bool newly = closed.newly_closed;
    closes.push_back(std::move(closed));
    if (!newly) return closes;
  }
}

// ---------------------------------------------------------------------------
// Building invoices

absl::StatusOr<std::vector<Invoice>> BillingService::Build(YearMonth period,
                                                           const CloseOptions& options,
                                                           const std::optional<BillTo>& only,
                                                           ClosePeriodRequest* request) {
  STACKBILL_ASSIGN_OR_RETURN(std::shared_ptr<const HistorySnapshot> snapshot,
                             history_.Current(true));
  STACKBILL_ASSIGN_OR_RETURN(std::vector<PriceSheet> sheets,
                             store_.price_sheets().ListPriceSheets({}));
  STACKBILL_ASSIGN_OR_RETURN(std::vector<Meter> meters, store_.meters().ListMeters());
  STACKBILL_ASSIGN_OR_RETURN(std::vector<Directory> directories,
                             store_.identity().ListDirectories());
  STACKBILL_ASSIGN_OR_RETURN(std::vector<BillingPeriodRecord> closed,
                             store_.billing().ListClosedBillingPeriods());
  LineFactory factory(*snapshot, sheets, meters, directories);

  // Only one party's subscriptions (an estimate): those billed to it at some
  // point of the period.
  std::optional<std::vector<Guid>> subscriptions;
  if (only) {
    subscriptions.emplace();
    const std::vector<Timestamp> cuts = Cuts(snapshot->history, period);
    for (const Subscription& s : snapshot->history.subscriptions) {
      for (std::size_t i = 0; i + 1 < cuts.size(); ++i) {
        auto bill_to = BillToAt(snapshot->view, s.id, cuts[i]);
        if (bill_to.ok() && *bill_to == *only) {
          subscriptions->push_back(s.id);
          break;
        }
      }
    }
  }
  auto wanted = [&](const BillTo& bill_to) { return !only || bill_to == *only; };

  std::vector<DraftLine> drafts;
  std::set<MissingPrice> missing;
  std::map<std::tuple<std::string, std::string, std::int64_t>, PriceSheetKey> used_sheets;
  // Rates `quantity` of a key (the period's own usage, or late usage on top
  // of `billed` of a closed month). A negative quantity is usage taken away
  // after a close: rated as the climb back down.
  auto rate = [&](DraftLine draft, YearMonth month, Quantity billed) -> absl::Status {
    if (draft.zero_rated) {
      drafts.push_back(std::move(draft));
      return absl::OkStatus();
    }
    STACKBILL_ASSIGN_OR_RETURN(std::string currency, factory.CurrencyOf(draft.bill_to));
    std::string offer;
    std::optional<ResolvedPrice> price = factory.PriceOf(draft.bill_to, draft.subscription_id,
                                                         currency, *draft.meter_id, month, &offer);
    if (!price) {
      if (!options.allow_unpriced) {
        missing.insert({*draft.meter_id, currency, offer});
        return absl::OkStatus();
      }
      draft.unpriced = true;
      drafts.push_back(std::move(draft));
      return absl::OkStatus();
    }
    used_sheets.emplace(std::make_tuple(price->sheet.owner.ToString(), price->sheet.currency,
                                        price->sheet.effective_date.unix_seconds()),
                        price->sheet);
    RatedUsage rated;
    if (draft.late_usage_month) {
      if (draft.quantity.IsNegative()) {
        STACKBILL_ASSIGN_OR_RETURN(Quantity now_total, billed.Add(draft.quantity));
        STACKBILL_ASSIGN_OR_RETURN(rated,
                                   RateLateUsage(price->price, now_total, draft.quantity.Negate()));
        rated = Negated(std::move(rated));
      } else {
        STACKBILL_ASSIGN_OR_RETURN(rated, RateLateUsage(price->price, billed, draft.quantity));
      }
    } else {
      STACKBILL_ASSIGN_OR_RETURN(rated, RateUsage(price->price, draft.quantity));
      draft.included_quantity = price->price.included_quantity;
    }
    draft.tiers = std::move(rated.tiers);
    draft.exact_amount = rated.amount;
    drafts.push_back(std::move(draft));
    return absl::OkStatus();
  };

  // 1. The period's own usage, per (subscription, meter, zero rating).
  STACKBILL_ASSIGN_OR_RETURN(MonthUsage own,
                             ClassifyMonth(store_, *snapshot, period, subscriptions));
  std::map<LedgerKey, Quantity> ledger;  // the close's ledger rows of `period`
  for (const auto& [key, usage] : own) {
    const auto& [bill_to_text, subscription, meter, zero] = key;
    Quantity& billed = ledger[LedgerKey{subscription, meter, zero}];
    STACKBILL_ASSIGN_OR_RETURN(billed, billed.Add(usage.quantity));
    if (!wanted(usage.bill_to) || usage.quantity.IsZero()) continue;
    // A subscription billed to two parties in one month (its chain changed)
    // has a line on each invoice, each rated on its own.
    STACKBILL_RETURN_IF_ERROR(rate(DraftLine{.bill_to = usage.bill_to,
                                             .subscription_id = subscription,
                                             .meter_id = meter,
                                             .quantity = usage.quantity,
                                             .zero_rated = zero},
                                   period, Quantity()));
  }
  if (request != nullptr) {
    for (const auto& [key, quantity] : ledger) {
      request->billed.push_back(BilledUsage{.usage_month = period,
                                            .billed_subscription_id = std::get<0>(key),
                                            .meter_id = std::get<1>(key),
                                            .zero_rated = std::get<2>(key),
                                            .quantity = quantity});
    }
  }

  // 2. Late usage and automatic adjustments of closed months (R12, R11),
  // only on the invoices of the next period to close.
  const bool next_to_close = closed.empty() ? true : closed.back().period.Next() == period;
  if (next_to_close && !closed.empty()) {
    STACKBILL_ASSIGN_OR_RETURN(
        std::vector<BilledUsage> billed_rows,
        store_.billing().ListBilledUsage(closed.front().period, closed.back().period));
    std::map<YearMonth, std::map<LedgerKey, Quantity>> billed_by_month;
    for (const BilledUsage& row : billed_rows) {
      billed_by_month[row.usage_month][LedgerKey{row.billed_subscription_id, row.meter_id,
                                                 row.zero_rated}] = row.quantity;
    }
    STACKBILL_ASSIGN_OR_RETURN(std::vector<UsageSupersession> supersessions,
                               store_.usage().ListSupersessions(std::nullopt));
    for (const BillingPeriodRecord& month : closed) {
      // Keys of this month with a record superseded after its close.
      std::set<std::pair<Guid, Guid>> superseded;
      for (const UsageSupersession& s : supersessions) {
        if (month.period.Contains(s.old_usage_start) && *month.closed_at <= s.at) {
          superseded.emplace(s.old_billed_subscription_id, s.old_meter_id);
        }
      }
      STACKBILL_ASSIGN_OR_RETURN(MonthUsage now_usage,
                                 ClassifyMonth(store_, *snapshot, month.period, subscriptions));
      std::map<LedgerKey, std::pair<BillTo, Quantity>> current;
      for (const auto& [key, usage] : now_usage) {
        auto& entry = current[LedgerKey{std::get<1>(key), std::get<2>(key), std::get<3>(key)}];
        entry.first = usage.bill_to;
        STACKBILL_ASSIGN_OR_RETURN(entry.second, entry.second.Add(usage.quantity));
      }
      std::map<LedgerKey, Quantity>& billed = billed_by_month[month.period];
      std::set<LedgerKey> keys;
      for (const auto& [key, q] : current) keys.insert(key);
      for (const auto& [key, q] : billed) {
        if (!subscriptions || std::find(subscriptions->begin(), subscriptions->end(),
                                        std::get<0>(key)) != subscriptions->end()) {
          keys.insert(key);
        }
      }
      for (const LedgerKey& key : keys) {
        const auto& [subscription, meter, zero] = key;
        const Quantity before = billed.contains(key) ? billed[key] : Quantity();
        BillTo bill_to;
        Quantity now_total;
        if (auto it = current.find(key); it != current.end()) {
          bill_to = it->second.first;
          now_total = it->second.second;
        } else {
          STACKBILL_ASSIGN_OR_RETURN(bill_to,
                                     BillToAt(snapshot->view, subscription, month.period.Start()));
        }
        STACKBILL_ASSIGN_OR_RETURN(Quantity delta, now_total.Subtract(before));
        if (delta.IsZero()) continue;
        if (request != nullptr) {
          request->billed.push_back(BilledUsage{.usage_month = month.period,
                                                .billed_subscription_id = subscription,
                                                .meter_id = meter,
                                                .zero_rated = zero,
                                                .quantity = now_total});
        }
        if (!wanted(bill_to)) continue;
        const bool adjustment =
            delta.IsNegative() || superseded.contains(std::make_pair(subscription, meter));
        std::string description;
        if (adjustment) {
          description =
              superseded.contains(std::make_pair(subscription, meter))
                  ? fmt::format("usage of {} corrected after its close: records superseded",
                                month.period.ToString())
                  : fmt::format("usage of {} moved after its close: records re-routed",
                                month.period.ToString());
        }
        STACKBILL_RETURN_IF_ERROR(rate(DraftLine{.bill_to = bill_to,
                                                 .subscription_id = subscription,
                                                 .meter_id = meter,
                                                 .quantity = delta,
                                                 .late_usage_month = month.period,
                                                 .zero_rated = zero,
                                                 .adjustment = adjustment,
                                                 .description = std::move(description)},
                                       month.period, before));
      }
    }
  }

  if (!missing.empty()) {
    return FailedPreconditionError(billing_errors::kMissingPrice,
                                   MissingPriceMessage(missing, factory));
  }

  // 3. PlatformAdmins' adjustments of the period.
  STACKBILL_ASSIGN_OR_RETURN(std::vector<Adjustment> adjustments,
                             store_.billing().ListAdjustments(period));
  for (const Adjustment& a : adjustments) {
    STACKBILL_ASSIGN_OR_RETURN(BillTo bill_to,
                               BillToAt(snapshot->view, a.subscription_id, period.Start()));
    if (!wanted(bill_to)) continue;
    drafts.push_back(DraftLine{.bill_to = bill_to,
                               .subscription_id = a.subscription_id,
                               .meter_id = a.meter_id,
                               .exact_amount = a.amount,
                               .adjustment = true,
                               .description = a.reason});
  }

  // 4. One invoice per party, lines named and rounded, total = Σ lines.
  std::map<std::string, Invoice> invoices;
  for (const DraftLine& draft : drafts) {
    STACKBILL_ASSIGN_OR_RETURN(std::string code, factory.CurrencyOf(draft.bill_to));
    STACKBILL_ASSIGN_OR_RETURN(Currency currency, LookupCurrency(code));
    STACKBILL_ASSIGN_OR_RETURN(InvoiceLine line, factory.Finish(draft, currency, period.Start()));
    Invoice& invoice = invoices[draft.bill_to.ToString()];
    if (invoice.lines.empty()) {
      invoice.period = period;
      invoice.bill_to = draft.bill_to;
      invoice.currency = code;
    }
    STACKBILL_ASSIGN_OR_RETURN(invoice.total, invoice.total.Add(line.amount));
    invoice.lines.push_back(std::move(line));
  }
  std::vector<Invoice> result;
  for (auto& [key, invoice] : invoices) {
    SortLines(invoice.lines);
    STACKBILL_ASSIGN_OR_RETURN(invoice.id, NewRandomGuid());
    result.push_back(std::move(invoice));
  }
  if (request != nullptr) {
    // The customer sheets in force for the period keep its statements'
    // prices once it is closed (SPEC §5 re-billing).
    const PriceBook& book = factory.BookFor(period);
    for (const PriceSheet& sheet : sheets) {
      if (sheet.key.owner.kind != PriceSheetOwner::Kind::kCustomers) continue;
      const PriceSheet* in_force = book.InForce(sheet.key.owner, sheet.key.currency);
      if (in_force != nullptr && in_force->key == sheet.key) {
        used_sheets.emplace(std::make_tuple(sheet.key.owner.ToString(), sheet.key.currency,
                                            sheet.key.effective_date.unix_seconds()),
                            sheet.key);
      }
    }
    for (auto& [key, sheet] : used_sheets) request->price_sheets_to_lock.push_back(sheet);
  }
  return result;
}

// ---------------------------------------------------------------------------
// Invoices

absl::StatusOr<std::vector<Invoice>> BillingService::ListInvoices(const Caller& caller,
                                                                  Timestamp now,
                                                                  const InvoiceFilter& filter) {
  STACKBILL_ASSIGN_OR_RETURN(std::vector<Invoice> invoices, store_.billing().ListInvoices(filter));
  if (IsPlatformAdmin(caller)) return invoices;
  STACKBILL_ASSIGN_OR_RETURN(std::shared_ptr<const HistorySnapshot> snapshot,
                             history_.Current(false));
  std::vector<Invoice> visible;
  for (Invoice& invoice : invoices) {
    if (CheckInvoiceAccess(caller, snapshot->view, invoice.bill_to, now).ok()) {
      visible.push_back(std::move(invoice));
    }
  }
  return visible;
}

absl::StatusOr<std::vector<Invoice>> BillingService::ExportPeriod(
    const Caller& caller, Timestamp now, YearMonth period, const std::optional<BillTo>& bill_to) {
  if (!IsPlatformAdmin(caller) && !HasPartnerAdminRole(caller)) {
    return PermissionDeniedError("AuthorizationFailed",
                                 "period exports are read by PartnerAdmins and PlatformAdmins");
  }
  STACKBILL_ASSIGN_OR_RETURN(BillingPeriodRecord record, store_.billing().GetBillingPeriod(period));
  if (!record.closed()) {
    return FailedPreconditionError(
        billing_errors::kPeriodNotClosed,
        fmt::format("billing period {} is open: only a closed period has a stable export (read "
                    "its estimate instead)",
                    period.ToString()));
  }
  STACKBILL_ASSIGN_OR_RETURN(std::vector<Invoice> invoices,
                             ListInvoices(caller, now, {.period = period, .bill_to = bill_to}));
  std::ranges::sort(invoices, {}, &Invoice::number);
  return invoices;
}

absl::StatusOr<Invoice> BillingService::GetInvoice(const Caller& caller, Timestamp now,
                                                   std::string_view id) {
  absl::StatusOr<Invoice> invoice;
  if (auto guid = Guid::Parse(id); guid.ok()) {
    invoice = store_.billing().GetInvoice(*guid);
  } else {
    invoice = store_.billing().GetInvoiceByNumber(id);
  }
  auto not_found = [&] {
    return NotFoundError(billing_errors::kInvoiceNotFound, fmt::format("invoice {} not found", id));
  };
  if (absl::IsNotFound(invoice.status())) return not_found();
  if (!invoice.ok()) return invoice.status();
  STACKBILL_ASSIGN_OR_RETURN(std::shared_ptr<const HistorySnapshot> snapshot,
                             history_.Current(false));
  if (!CheckInvoiceAccess(caller, snapshot->view, invoice->bill_to, now).ok()) return not_found();
  return invoice;
}

absl::StatusOr<Reconciliation> BillingService::Reconcile(const Caller& caller, Timestamp now,
                                                         std::string_view id) {
  STACKBILL_ASSIGN_OR_RETURN(Invoice invoice, GetInvoice(caller, now, id));
  STACKBILL_ASSIGN_OR_RETURN(Currency currency, LookupCurrency(invoice.currency));
  STACKBILL_ASSIGN_OR_RETURN(std::shared_ptr<const HistorySnapshot> snapshot,
                             history_.Current(false));
  // The period's usage per (subscription, meter, zero rating) and per (day,
  // stack, tenant, resource), of the pieces billed to this invoice's party —
  // cut where billing facts change, as the close classified it.
  using Detail = std::tuple<Timestamp, Guid, std::optional<Guid>, std::string>;
  std::map<LedgerKey, std::map<Detail, Quantity>> usage;
  std::vector<Guid> subscriptions;
  for (const InvoiceLine& line : invoice.lines) subscriptions.push_back(line.subscription_id);
  std::sort(subscriptions.begin(), subscriptions.end());
  subscriptions.erase(std::unique(subscriptions.begin(), subscriptions.end()), subscriptions.end());
  const std::vector<Timestamp> cuts = Cuts(snapshot->history, invoice.period);
  for (std::size_t i = 0; i + 1 < cuts.size(); ++i) {
    UsageAggregateFilter filter{.basis = UsageTimeBasis::kUsage,
                                .from = cuts[i],
                                .to = cuts[i + 1],
                                .granularity = UsageGranularity::kDay,
                                .billed_subscription_ids = subscriptions,
                                .by_subscription = true,
                                .by_tenant = true,
                                .by_meter = true,
                                .by_stack = true,
                                .by_resource = true};
    STACKBILL_ASSIGN_OR_RETURN(std::vector<UsageAggregate> aggregates,
                               store_.usage().AggregateUsage(filter));
    absl::flat_hash_map<Guid, bool> billed_here;
    for (const UsageAggregate& a : aggregates) {
      const Guid subscription = *a.billed_subscription_id;
      auto found = billed_here.find(subscription);
      if (found == billed_here.end()) {
        STACKBILL_ASSIGN_OR_RETURN(BillTo bill_to, BillToAt(snapshot->view, subscription, cuts[i]));
        found = billed_here.emplace(subscription, bill_to == invoice.bill_to).first;
      }
      if (!found->second) continue;
      const bool zero = ZeroRatedAt(snapshot->view, *a.cloud_id, cuts[i]);
      Quantity& q = usage[LedgerKey{subscription, *a.meter_id, zero}]
                         [Detail{a.start, *a.cloud_id, a.tenant_id, a.resource_uri.value_or("")}];
      STACKBILL_ASSIGN_OR_RETURN(q, AddQuantity(q, a.quantity));
    }
  }

  Reconciliation out;
  for (std::size_t index = 0; index < invoice.lines.size(); ++index) {
    const InvoiceLine& line = invoice.lines[index];
    const ReconciliationRow summary{.line_index = index,
                                    .day = std::nullopt,
                                    .cloud_id = std::nullopt,
                                    .tenant_id = line.tenant_id,
                                    .resource_uri = std::nullopt,
                                    .quantity = line.quantity,
                                    .amount = line.amount,
                                    .summary = true};
    auto detail = line.meter_id && !line.late_usage_month && !line.adjustment
                      ? usage.find(LedgerKey{line.subscription_id, *line.meter_id, line.zero_rated})
                      : usage.end();
    Quantity total;
    if (detail != usage.end()) {
      for (const auto& [key, q] : detail->second) {
        STACKBILL_ASSIGN_OR_RETURN(total, AddQuantity(total, q));
      }
    }
    if (detail == usage.end() || total != line.quantity) {
      out.rows.push_back(summary);
      continue;
    }
    std::vector<Quantity> weights;
    weights.reserve(detail->second.size());
    for (const auto& [key, q] : detail->second) weights.push_back(q);
    STACKBILL_ASSIGN_OR_RETURN(std::vector<Amount> shares,
                               AllocateLargestRemainder(line.amount, currency, weights));
    std::size_t k = 0;
    for (const auto& [key, q] : detail->second) {
      const auto& [day, cloud, tenant, resource] = key;
      out.rows.push_back(ReconciliationRow{
          .line_index = index,
          .day = day,
          .cloud_id = cloud,
          .tenant_id = tenant,
          .resource_uri = resource.empty() ? std::nullopt : std::optional<std::string>(resource),
          .quantity = q,
          .amount = shares[k++],
          .summary = false});
    }
  }
  out.invoice = std::move(invoice);
  return out;
}

absl::StatusOr<Invoice> BillingService::Estimate(const Caller& caller, Timestamp now,
                                                 const BillTo& bill_to, YearMonth period) {
  {
    STACKBILL_ASSIGN_OR_RETURN(std::shared_ptr<const HistorySnapshot> snapshot,
                               history_.Current(false));
    STACKBILL_RETURN_IF_ERROR(CheckInvoiceAccess(caller, snapshot->view, bill_to, now));
  }
  STACKBILL_ASSIGN_OR_RETURN(BillingPeriodRecord record, store_.billing().GetBillingPeriod(period));
  if (record.closed()) {
    return FailedPreconditionError(
        store_errors::kPeriodClosed,
        fmt::format("billing period {} is closed: read its invoices", period.ToString()));
  }
  STACKBILL_ASSIGN_OR_RETURN(std::vector<Invoice> invoices,
                             Build(period, CloseOptions{.allow_unpriced = true}, bill_to, nullptr));
  if (!invoices.empty()) return std::move(invoices.front());
  Invoice empty;
  empty.period = period;
  empty.bill_to = bill_to;
  STACKBILL_ASSIGN_OR_RETURN(std::shared_ptr<const HistorySnapshot> snapshot,
                             history_.Current(false));
  LineFactory factory(*snapshot, {}, {}, {});
  if (auto currency = factory.CurrencyOf(bill_to); currency.ok()) empty.currency = *currency;
  return empty;
}

// ---------------------------------------------------------------------------
// Partner re-billing

absl::StatusOr<std::vector<Statement>> BillingService::Statements(
    const Caller& caller, Timestamp now, const PartnerId& partner, YearMonth period,
    const std::optional<Guid>& customer) {
  STACKBILL_ASSIGN_OR_RETURN(std::shared_ptr<const HistorySnapshot> snapshot,
                             history_.Current(true));
  const HistoryView& view = snapshot->view;
  STACKBILL_RETURN_IF_ERROR(CheckRebillingAccess(caller, view, partner, now));
  const BillTo self{BillTo::Kind::kPartner, partner, Guid()};
  STACKBILL_ASSIGN_OR_RETURN(std::vector<PriceSheet> sheets,
                             store_.price_sheets().ListPriceSheets({}));
  STACKBILL_ASSIGN_OR_RETURN(std::vector<Meter> meters, store_.meters().ListMeters());
  STACKBILL_ASSIGN_OR_RETURN(std::vector<Directory> directories,
                             store_.identity().ListDirectories());
  STACKBILL_ASSIGN_OR_RETURN(BillingPeriodRecord record, store_.billing().GetBillingPeriod(period));
  LineFactory factory(*snapshot, sheets, meters, directories);
  STACKBILL_ASSIGN_OR_RETURN(const std::string currency_code, factory.CurrencyOf(self));
  STACKBILL_ASSIGN_OR_RETURN(const Currency currency, LookupCurrency(currency_code));
  const PriceBook& book = factory.BookFor(period);
  const PriceSheet* own_sheet = book.InForce(PriceSheetOwner::Customers(partner), currency_code);

  // The period's usage of the subscriptions the partner owned, piece by
  // piece (a subscription sold on mid-month is the partner's only while it
  // owned it), per (subscription, meter, zero rating).
  std::map<LedgerKey, Quantity> usage;
  const std::vector<Timestamp> cuts = Cuts(snapshot->history, period);
  for (std::size_t i = 0; i + 1 < cuts.size(); ++i) {
    std::vector<Guid> owned;
    for (const Subscription& s : snapshot->history.subscriptions) {
      if (view.OwnerPartnerAt(s.id, cuts[i]) == partner) owned.push_back(s.id);
    }
    if (owned.empty()) continue;
    UsageAggregateFilter filter{.basis = UsageTimeBasis::kUsage,
                                .from = cuts[i],
                                .to = cuts[i + 1],
                                .granularity = UsageGranularity::kMonth,
                                .billed_subscription_ids = std::move(owned),
                                .by_subscription = true,
                                .by_meter = true,
                                .by_stack = true};
    STACKBILL_ASSIGN_OR_RETURN(std::vector<UsageAggregate> aggregates,
                               store_.usage().AggregateUsage(filter));
    for (const UsageAggregate& a : aggregates) {
      const bool zero = ZeroRatedAt(view, *a.cloud_id, cuts[i]);
      Quantity& total = usage[LedgerKey{*a.billed_subscription_id, *a.meter_id, zero}];
      STACKBILL_ASSIGN_OR_RETURN(total, total.Add(a.quantity));
    }
  }

  std::map<Guid, Statement> by_customer;
  for (const auto& [key, quantity] : usage) {
    const auto& [subscription, meter, zero] = key;
    if (quantity.IsZero()) continue;
    DraftLine draft{.bill_to = self,
                    .subscription_id = subscription,
                    .meter_id = meter,
                    .quantity = quantity,
                    .zero_rated = zero};
    if (!zero) {
      const Subscription* s = view.FindSubscription(subscription);
      STACKBILL_ASSIGN_OR_RETURN(
          std::optional<MeterPrice> price,
          CustomerPrice(book, partner, s != nullptr ? s->offer_type : OfferType::kCsp,
                        currency_code, meter));
      if (price) {
        STACKBILL_ASSIGN_OR_RETURN(RatedUsage rated, RateUsage(*price, quantity));
        draft.included_quantity = price->included_quantity;
        draft.tiers = std::move(rated.tiers);
        draft.exact_amount = rated.amount;
      } else {
        draft.unpriced = true;
      }
    }
    STACKBILL_ASSIGN_OR_RETURN(InvoiceLine line, factory.Finish(draft, currency, period.Start()));
    // Lines of a default subscription (no tenant) are the stack operator's,
    // not a customer's.
    if (!line.tenant_id || (customer && *line.customer_directory_id != *customer)) continue;
    auto [it, inserted] = by_customer.try_emplace(*line.customer_directory_id);
    Statement& statement = it->second;
    if (inserted) {
      statement.partner_id = partner;
      statement.customer_directory_id = *line.customer_directory_id;
      statement.customer_name = line.customer_name;
      statement.period = period;
      statement.currency = currency_code;
      statement.period_closed = record.closed();
      statement.as_of = now;
      if (own_sheet != nullptr) statement.price_sheet = own_sheet->key;
    }
    STACKBILL_ASSIGN_OR_RETURN(statement.total, statement.total.Add(line.amount));
    statement.lines.push_back(std::move(line));
  }
  std::vector<Statement> statements;
  statements.reserve(by_customer.size());
  for (auto& [id, statement] : by_customer) {
    SortLines(statement.lines);
    statements.push_back(std::move(statement));
  }
  std::ranges::stable_sort(statements, {}, &Statement::customer_name);
  return statements;
}

absl::StatusOr<std::vector<RateCardEntry>> BillingService::RateCard(const Caller& caller,
                                                                    Timestamp now,
                                                                    Guid subscription,
                                                                    OfferType offer,
                                                                    std::string_view currency) {
  STACKBILL_ASSIGN_OR_RETURN(std::shared_ptr<const HistorySnapshot> snapshot,
                             history_.Current(false));
  STACKBILL_RETURN_IF_ERROR(CheckBillingDataAccess(caller, snapshot->view, subscription, now));
  const Subscription* s = snapshot->view.FindSubscription(subscription);
  std::optional<PartnerId> partner;
  if (s != nullptr && PricedAs(s->offer_type) == PricedAs(offer)) {
    STACKBILL_ASSIGN_OR_RETURN(BillTo bill_to, BillToAt(snapshot->view, subscription, now));
    if (bill_to.kind == BillTo::Kind::kPartner) partner = bill_to.partner_id;
  }
  STACKBILL_ASSIGN_OR_RETURN(
      std::vector<PriceSheet> sheets,
      store_.price_sheets().ListPriceSheets({.currency = std::string(currency)}));
  STACKBILL_ASSIGN_OR_RETURN(std::vector<Meter> meters, store_.meters().ListMeters());
  absl::flat_hash_map<Guid, const Meter*> catalogue;
  for (const Meter& m : meters) catalogue.emplace(m.meter_id, &m);
  const PriceBook book(sheets, YearMonth::Of(now));
  std::vector<RateCardEntry> card;
  for (ResolvedPrice& resolved : book.Sheet(offer, partner, currency)) {
    RateCardEntry entry{.price = std::move(resolved.price),
                        .effective_date = resolved.sheet.effective_date,
                        .meter = std::nullopt};
    if (auto it = catalogue.find(entry.price.meter_id); it != catalogue.end()) {
      entry.meter = *it->second;
    }
    card.push_back(std::move(entry));
  }
  return card;
}

absl::StatusOr<Adjustment> BillingService::AddAdjustment(const Caller& caller, Timestamp now,
                                                         Adjustment adjustment) {
  STACKBILL_RETURN_IF_ERROR(CheckPlatformAdmin(caller));
  if (adjustment.reason.empty()) {
    return InvalidArgumentError(billing_errors::kInvalidAdjustment, "an adjustment needs a reason");
  }
  STACKBILL_ASSIGN_OR_RETURN(std::shared_ptr<const HistorySnapshot> snapshot,
                             history_.Current(true));
  if (snapshot->view.FindSubscription(adjustment.subscription_id) == nullptr) {
    return NotFoundError(
        "SubscriptionNotFound",
        fmt::format("subscription {} not found", adjustment.subscription_id.ToString()));
  }
  STACKBILL_ASSIGN_OR_RETURN(BillTo bill_to, BillToAt(snapshot->view, adjustment.subscription_id,
                                                      adjustment.period.Start()));
  LineFactory factory(*snapshot, {}, {}, {});
  STACKBILL_ASSIGN_OR_RETURN(std::string code, factory.CurrencyOf(bill_to));
  if (code != adjustment.currency) {
    return InvalidArgumentError(billing_errors::kInvalidAdjustment,
                                fmt::format("the adjustment is in {}, but {} is billed in {}",
                                            adjustment.currency, bill_to.ToString(), code));
  }
  STACKBILL_ASSIGN_OR_RETURN(Currency currency, LookupCurrency(code));
  STACKBILL_ASSIGN_OR_RETURN(Amount rounded, RoundToCurrency(adjustment.amount, currency));
  if (rounded != adjustment.amount || adjustment.amount.IsZero()) {
    return InvalidArgumentError(
        billing_errors::kInvalidAdjustment,
        fmt::format("the amount {} must be non-zero with at most {} digits after the point in {}",
                    adjustment.amount.ToString(), currency.minor_units, code));
  }
  if (adjustment.meter_id) {
    STACKBILL_ASSIGN_OR_RETURN(std::vector<Meter> meters, store_.meters().ListMeters());
    if (std::none_of(meters.begin(), meters.end(),
                     [&](const Meter& m) { return m.meter_id == *adjustment.meter_id; })) {
      return InvalidArgumentError(
          "UnknownMeter", fmt::format("meter {} is not known", adjustment.meter_id->ToString()));
    }
  }
  STACKBILL_ASSIGN_OR_RETURN(adjustment.id, NewRandomGuid());
  adjustment.actor_principal_id = caller.principal_id;
  adjustment.created_at = now;
  STACKBILL_RETURN_IF_ERROR(store_.billing().AddAdjustment(adjustment));
  std::optional<PartnerId> partner;
  if (bill_to.kind == BillTo::Kind::kPartner) partner = bill_to.partner_id;
  STACKBILL_RETURN_IF_ERROR(WriteAudit(
      store_, caller, now,
      {.action = "adjustment.add",
       .resource = fmt::format("/v1/adjustments/{}", adjustment.id.ToString()),
       .partner_id = partner,
       .before = nullptr,
       .after = {{"subscriptionId", adjustment.subscription_id.ToString()},
                 {"period", adjustment.period.ToString()},
                 {"meterId", adjustment.meter_id ? nlohmann::json(adjustment.meter_id->ToString())
                                                 : nlohmann::json(nullptr)},
                 {"amount", adjustment.amount.ToString()},
                 {"currency", adjustment.currency},
                 {"reason", adjustment.reason}}}));
  return adjustment;
}

}  // namespace stackbill
