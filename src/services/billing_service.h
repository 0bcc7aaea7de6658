#pragma once

// BillingService: price sheets, billing periods and invoices (SPEC §5, §6.1,
// R8, R9, R12, R14) — the use cases behind /v1/priceSheets,
// /v1/billingPeriods, /v1/invoices and /v1/adjustments, with their
// authorisation.
//
// How a period's invoices are built (Build below), from the store's rollups
// and never from raw records:
//  * The period is cut at every instant inside it where a fact that decides
//    billing changes (a partner's parent, a subscription's owner, a stack's
//    registration), rounded up to the hour since records are hourly; within
//    a piece nothing changes, so its usage per (billed subscription, meter,
//    stack) is classified once: bill-to party (R8, BillToAt) and zero rating
//    (R9, the registration's billing model).
//  * A line per (subscription, meter) is rated over the period's total with
//    the price in force (a partner override first), rounded once (R14);
//    zero-rated usage gets its own line at zero.
//  * Every closed month before it is compared with the ledger of what closes
//    billed (BillingStore::ListBilledUsage): more usage now is a late line at
//    that month's prices, rated marginally (R12); less (or any change where a
//    record of that month was superseded after its close, R11) is an
//    automatic adjustment, rated the same way. The close writes the ledger in
//    its own transaction, so usage arriving while a close runs is billed by
//    the next close: nothing lost, nothing billed twice.
//  * PlatformAdmins' adjustments of the period are added as they are.
// Invoices go to the bill-to party in its currency; an invoice without lines
// is not issued.

#include <chrono>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "core/access.h"
#include "core/time.h"
#include "services/history_cache.h"
#include "store/store.h"

namespace stackbill {

// Product error codes of billing.
namespace billing_errors {
inline constexpr std::string_view kMissingPrice = "MissingPrice";
inline constexpr std::string_view kPeriodNotEnded = "PeriodNotEnded";
inline constexpr std::string_view kInvalidAdjustment = "InvalidAdjustment";
inline constexpr std::string_view kInvoiceNotFound = "InvoiceNotFound";
inline constexpr std::string_view kPeriodNotClosed = "PeriodNotClosed";
}  // namespace billing_errors

struct BillingOptions {
  // How long after a month ends it closes by itself (SPEC §5: 72 h).
  std::chrono::seconds auto_close_grace = std::chrono::hours(72);
  bool auto_close = true;
};

// A billing period as GET /v1/billingPeriods shows it.
struct BillingPeriodState {
  YearMonth period;
  std::optional<Timestamp> closed_at;  // empty: open
  Timestamp auto_close_at;             // the month's end + the grace
  std::size_t invoices = 0;            // issued by its close
};

struct CloseOptions {
  // Bill meters without a price as zero-rated lines flagged Unpriced instead
  // of failing with MissingPrice (SPEC §5).
  bool allow_unpriced = false;
};

// One meter of a RateCard (SPEC §7): its price in force and the metadata of
// the meter catalogue (empty when the catalogue lacks the meter).
struct RateCardEntry {
  MeterPrice price;
  Timestamp effective_date;  // of the sheet version the price comes from
  std::optional<Meter> meter;
};

// One row of an invoice's reconciliation export (SPEC §5): a line's usage
// per day, stack, tenant and resource, with its share of the line's rounded
// amount (largest remainder: the rows sum exactly to the line). Late lines,
// adjustments and lines whose usage can no longer be told apart from the
// rollups (usage of the month that arrived after its close) have one row,
// with no day, stack or resource, flagged `summary`.
struct ReconciliationRow {
  std::size_t line_index = 0;  // into the invoice's lines
  std::optional<Timestamp> day;
  std::optional<Guid> cloud_id;
  std::optional<Guid> tenant_id;
  std::optional<std::string> resource_uri;
  Quantity quantity;
  Amount amount;
  bool summary = false;
};

struct Reconciliation {
  Invoice invoice;
  std::vector<ReconciliationRow> rows;  // in line order, then day, stack, tenant, resource
};

// A customer statement (SPEC §5 re-billing): one customer's usage of a
// period on the subscriptions a partner owned while it was used, rated at
// the partner's customer prices (its customer price sheet in the partner's
// billing currency: explicit prices, else the list × (1 + markup); without a
// sheet, the list) — lines in the invoice's shape, each rounded once (R14),
// total = Σ lines. Statements are computed from the usage as it stands at
// `as_of`: usage of the month that arrives late shows in that month's
// statement (the partner's own invoice carries it as a late line);
// adjustments stay between the platform and the partner.
struct Statement {
  PartnerId partner_id;
  Guid customer_directory_id;
  std::string customer_name;
  YearMonth period;
  std::string currency;
  bool period_closed = false;
  Timestamp as_of;
  std::optional<PriceSheetKey> price_sheet;  // the customer sheet in force, if any
  std::vector<InvoiceLine> lines;
  Amount total;
};

class BillingService {
 public:
  BillingService(Store& store, BillingOptions options);

  // --- price sheets (PlatformAdmin writes; PartnerAdmins read the lists and
  // their own overrides; a partner's customer sheet is written and read by
  // its own PartnerAdmins and PlatformAdmins, CheckRebillingAccess) --------
  // Creates or replaces a version; true when created. FailedPrecondition /
  // PriceSheetLocked once a closed period used it (a close locks the
  // customer sheets in force for its period too, so that statements of a
  // closed month keep their prices). Audited.
  absl::StatusOr<bool> PutPriceSheet(const Caller& caller, Timestamp now, const PriceSheet& sheet);
  absl::StatusOr<std::vector<PriceSheet>> ListPriceSheets(const Caller& caller, Timestamp now,
                                                          const PriceSheetFilter& filter);

  // --- periods ---------------------------------------------------------------
  // From the first month with usage (or the first closed) to the current
  // month, oldest first. PlatformAdmins and PartnerAdmins.
  absl::StatusOr<std::vector<BillingPeriodState>> ListPeriods(const Caller& caller, Timestamp now);
  // PlatformAdmin. Idempotent: closing a closed period returns what its close
  // issued. FailedPrecondition / PeriodNotEnded before the month's end;
  // PeriodsCloseInOrder when an earlier month is open (the first close must
  // be of the first month with usage); MissingPrice naming the meters unless
  // allow_unpriced. Audited.
  absl::StatusOr<ClosePeriodResult> ClosePeriod(const Caller& caller, Timestamp now,
                                                YearMonth period, const CloseOptions& options);
  // Closes, in order, every period whose grace has passed (serve calls it
  // every minute unless auto_close is off). Returns the closes it made; stops
  // at the first that fails (e.g. MissingPrice) and returns that error.
  absl::StatusOr<std::vector<ClosePeriodResult>> AutoClose(Timestamp now);
  // The period the next close would be of; nullopt when there is no usage
  // and nothing closed.
  absl::StatusOr<std::optional<YearMonth>> NextPeriodToClose(Timestamp now);

  // --- invoices --------------------------------------------------------------
  // Invoices the caller may read (CheckInvoiceAccess), of `filter`.
  absl::StatusOr<std::vector<Invoice>> ListInvoices(const Caller& caller, Timestamp now,
                                                    const InvoiceFilter& filter);
  // By id or number. NotFound / InvoiceNotFound also when not visible.
  absl::StatusOr<Invoice> GetInvoice(const Caller& caller, Timestamp now, std::string_view id);
  // The stable export of a closed period for accounting systems (SPEC §5):
  // the invoices its close issued that the caller may read (of `bill_to`
  // only when given), by number — immutable, so every export of a period is
  // the same. FailedPrecondition / PeriodNotClosed for an open period (read
  // its estimate); PermissionDenied / AuthorizationFailed for principals
  // that are neither PartnerAdmins nor PlatformAdmins.
  absl::StatusOr<std::vector<Invoice>> ExportPeriod(const Caller& caller, Timestamp now,
                                                    YearMonth period,
                                                    const std::optional<BillTo>& bill_to);
  // The reconciliation export of an invoice (by id or number), readable as
  // the invoice is. OutOfRange when an allocation does not fit (R14).
  absl::StatusOr<Reconciliation> Reconcile(const Caller& caller, Timestamp now,
                                           std::string_view id);
  // The running estimate of an open period for one bill-to party, in the
  // invoice's shape without a number (lines may be empty). Unpriced meters
  // are flagged rather than refused. FailedPrecondition / PeriodClosed for a
  // closed period.
  absl::StatusOr<Invoice> Estimate(const Caller& caller, Timestamp now, const BillTo& bill_to,
                                   YearMonth period);

  // The RateCard of a subscription (SPEC §7): the prices in force for the
  // current month of `offer`'s list in `currency`, with the bill-to
  // partner's overrides in their place when `offer` is the list the
  // subscription is priced from (the prices its usage is rated at). Visible
  // as its Commerce usage is (CheckBillingDataAccess: the bill-to chain and
  // PlatformAdmins; a direct-billed subscription's Owners and Readers).
  absl::StatusOr<std::vector<RateCardEntry>> RateCard(const Caller& caller, Timestamp now,
                                                      Guid subscription, OfferType offer,
                                                      std::string_view currency);

  // --- partner re-billing (SPEC §5) -------------------------------------------
  // The statements of `partner`'s customers for `period` (one customer's
  // only when `customer` is given), ordered by customer name. Readable by
  // PlatformAdmins and that partner's own PartnerAdmins (CheckRebillingAccess:
  // not the partners above it, never a customer directory). InexactMarkup
  // when a marked-up price needs more than 10 fractional digits.
  absl::StatusOr<std::vector<Statement>> Statements(const Caller& caller, Timestamp now,
                                                    const PartnerId& partner, YearMonth period,
                                                    const std::optional<Guid>& customer);

  // PlatformAdmin: a credit or debit on an open period's invoice for a
  // subscription, with a reason; its currency must be the bill-to party's
  // and have at most its minor unit's digits (InvalidArgument /
  // InvalidAdjustment). Audited.
  absl::StatusOr<Adjustment> AddAdjustment(const Caller& caller, Timestamp now,
                                           Adjustment adjustment);

  // The invoices a close of `period` would issue now, for every party (or
  // only `only`), with the close request (ledger, sheets to lock) filled in
  // when `request` is given. No authorisation: for the routes above and
  // tests.
  absl::StatusOr<std::vector<Invoice>> Build(YearMonth period, const CloseOptions& options,
                                             const std::optional<BillTo>& only,
                                             ClosePeriodRequest* request);

 private:
  absl::StatusOr<std::optional<YearMonth>> FirstUsageMonth(Timestamp now);
  absl::StatusOr<ClosePeriodResult> Close(Timestamp now, YearMonth period,
                                          const CloseOptions& options);

  Store& store_;
  BillingOptions options_;
  HistoryCache history_;
};

}  // namespace stackbill
