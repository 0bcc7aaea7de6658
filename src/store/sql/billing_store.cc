// Price sheets and billing periods with their invoices: one file, because
// closing a period locks the price sheets it used in the same transaction.

#include <set>

#include "core/error.h"
#include "store/sql/area_stores.h"
#include "store/sql/codec.h"

namespace stackbill::sql {
namespace {

constexpr std::string_view kAdjustmentColumns =
    "id, period_year, period_month, subscription_id, meter_id, amount, currency, reason, "
    "actor_principal_id, created_s, created_ns";

constexpr std::string_view kSheetKeyCondition =
    "owner_kind = ? AND owner_id = ? AND currency = ? AND effective_s = ? AND effective_ns = ?";

std::string OwnerId(const PriceSheetOwner& owner) {
  return owner.kind == PriceSheetOwner::Kind::kOffer ? std::string(EnumToCode(owner.offer_type))
                                                     : owner.partner_id;
}

std::vector<SqlValue> SheetKey(const PriceSheetKey& key) {
  return {std::string(EnumToCode(key.owner.kind)), OwnerId(key.owner), key.currency,
          std::int64_t{key.effective_date.unix_seconds()},
          std::int64_t{key.effective_date.nanos()}};
}

std::string Describe(const PriceSheetKey& key) {
  return Cat("price sheet ", key.owner.ToString(), "/", key.currency, "/",
             key.effective_date.ToString());
}

absl::Status SheetNotFound(const PriceSheetKey& key) {
  return NotFoundError("PriceSheetNotFound", Cat(Describe(key), " not found"));
}

// Reads owner_kind, owner_id, currency, effective_s, effective_ns, locked_s,
// locked_ns.
PriceSheet ReadSheetHeader(Statement& stmt) {
  PriceSheet sheet;
  const auto kind = ReadEnum<PriceSheetOwner::Kind>(stmt);
  const std::string owner_id = stmt.ReadText();
  if (kind == PriceSheetOwner::Kind::kOffer) {
    auto offer = EnumFromCode<OfferType>(owner_id);
    if (!offer) stmt.Corrupt("offer type", owner_id);
    sheet.key.owner = PriceSheetOwner::Offer(offer.value_or(OfferType::kCsp));
  } else if (kind == PriceSheetOwner::Kind::kCustomers) {
    sheet.key.owner = PriceSheetOwner::Customers(owner_id);
  } else {
    sheet.key.owner = PriceSheetOwner::Partner(owner_id);
  }
  sheet.key.currency = stmt.ReadText();
  sheet.key.effective_date = stmt.ReadTime();
  sheet.locked_at = stmt.ReadOptionalTime();
  if (stmt.IsNull()) {
    stmt.Skip();
  } else {
    sheet.markup = stmt.ReadDecimal<MarkupTraits>();
  }
  return sheet;
}

constexpr std::string_view kSheetColumns =
    "sheet_id, owner_kind, owner_id, currency, effective_s, effective_ns, locked_s, locked_ns, "
    "markup";

absl::Status LoadSheetMeters(Connection& c, std::int64_t sheet_id, PriceSheet& sheet) {
  STACKBILL_ASSIGN_OR_RETURN(
      Statement stmt, c.Prepare("SELECT meter_id, rates, included_quantity FROM price_sheet_meters "
                                "WHERE sheet_id = ? ORDER BY meter_id"));
  stmt.BindInt(sheet_id);
  while (true) {
    STACKBILL_ASSIGN_OR_RETURN(bool row, stmt.Step());
    if (!row) return absl::OkStatus();
    MeterPrice price;
    price.meter_id = stmt.ReadGuid();
    const std::string rates = stmt.ReadText();
    if (auto tiers = DecodePriceTiers(rates)) {
      price.tiers = std::move(*tiers);
    } else {
      stmt.Corrupt("meter rates", rates);
    }
    price.included_quantity = stmt.ReadDecimal<QuantityTraits>();
    STACKBILL_RETURN_IF_ERROR(stmt.read_status());
    sheet.meters.push_back(std::move(price));
  }
}

// Locks a sheet from `at` on unless it is locked already. NotFound for an
// unknown key.
absl::Status LockSheet(Connection& c, const PriceSheetKey& key, Timestamp at) {
  STACKBILL_ASSIGN_OR_RETURN(
      Statement lock, c.Prepare(Cat("UPDATE price_sheets SET locked_s = ?, locked_ns = ? WHERE ",
                                    kSheetKeyCondition, " AND locked_s IS NULL")));
  lock.BindTime(at).BindValues(SheetKey(key));
  STACKBILL_RETURN_IF_ERROR(lock.Run());
  if (c.changes() > 0) return absl::OkStatus();
  STACKBILL_ASSIGN_OR_RETURN(
      bool exists,
      RowExists(c, Cat("SELECT 1 FROM price_sheets WHERE ", kSheetKeyCondition), SheetKey(key)));
  return exists ? absl::OkStatus() : SheetNotFound(key);
}

class SqlPriceSheetStore final : public PriceSheetStore {
 public:
  explicit SqlPriceSheetStore(Database& database) : db_(database) {}

  absl::StatusOr<bool> PutPriceSheet(const PriceSheet& sheet) override {
    STACKBILL_RETURN_IF_ERROR(Validate(sheet));
    bool created = false;
    STACKBILL_RETURN_IF_ERROR(db_.Write([&](Connection& c) -> absl::Status {
      const PriceSheetKey& key = sheet.key;
      const bool of_partner = key.owner.kind != PriceSheetOwner::Kind::kOffer;
      if (of_partner) {
        STACKBILL_ASSIGN_OR_RETURN(bool partner, RowExists(c, "SELECT 1 FROM partners WHERE id = ?",
                                                           {key.owner.partner_id}));
        if (!partner) {
          return NotFoundError("PartnerNotFound",
                               Cat("partner ", key.owner.partner_id, " not found"));
        }
      }
      STACKBILL_ASSIGN_OR_RETURN(
          Statement find,
          c.Prepare(Cat("SELECT sheet_id, locked_s FROM price_sheets WHERE ", kSheetKeyCondition)));
      find.BindValues(SheetKey(key));
      STACKBILL_ASSIGN_OR_RETURN(bool exists, find.Step());
      std::int64_t sheet_id = 0;
      if (exists) {
        sheet_id = find.ReadInt();
        const bool locked = !find.IsNull();
        find.Reset();
        if (locked) {
          return FailedPreconditionError(
              store_errors::kPriceSheetLocked,
              Cat(Describe(key), " is locked: a closed billing period used it"));
        }
        STACKBILL_RETURN_IF_ERROR(
            c.Run("DELETE FROM price_sheet_meters WHERE sheet_id = ?", {sheet_id}));
        STACKBILL_RETURN_IF_ERROR(c.Run("UPDATE price_sheets SET markup = ? WHERE sheet_id = ?",
                                        {MarkupValue(sheet), sheet_id}));
      } else {
        STACKBILL_ASSIGN_OR_RETURN(
            Statement insert,
            c.Prepare("INSERT INTO price_sheets (owner_kind, owner_id, currency, effective_s, "
                      "effective_ns, partner_id, markup) VALUES (?, ?, ?, ?, ?, ?, ?) "
                      "RETURNING sheet_id"));
        insert.BindValues(SheetKey(key));
        if (of_partner) {
          insert.BindText(key.owner.partner_id);
        } else {
          insert.BindNull();
        }
        insert.BindValue(MarkupValue(sheet));
        STACKBILL_ASSIGN_OR_RETURN(sheet_id, RunReturningId(insert));
        created = true;
      }
      STACKBILL_ASSIGN_OR_RETURN(
          Statement meter,
          c.Prepare("INSERT INTO price_sheet_meters (sheet_id, meter_id, rates, included_quantity) "
                    "VALUES (?, ?, ?, ?)"));
      for (const MeterPrice& price : sheet.meters) {
        meter.Reset();
        meter.BindInt(sheet_id)
            .BindGuid(price.meter_id)
            .BindText(EncodePriceTiers(price.tiers))
            .BindDecimal(price.included_quantity);
        STACKBILL_RETURN_IF_ERROR(meter.Run());
      }
      return absl::OkStatus();
    }));
    return created;
  }

  absl::StatusOr<PriceSheet> GetPriceSheet(const PriceSheetKey& key) override {
    std::optional<PriceSheet> sheet;
    STACKBILL_RETURN_IF_ERROR(db_.Read([&](Connection& c) -> absl::Status {
      STACKBILL_ASSIGN_OR_RETURN(
          Statement stmt, c.Prepare(Cat("SELECT ", kSheetColumns, " FROM price_sheets WHERE ",
                                        kSheetKeyCondition)));
      stmt.BindValues(SheetKey(key));
      STACKBILL_ASSIGN_OR_RETURN(bool row, stmt.Step());
      if (!row) return absl::OkStatus();
      const std::int64_t sheet_id = stmt.ReadInt();
      sheet = ReadSheetHeader(stmt);
      STACKBILL_RETURN_IF_ERROR(stmt.read_status());
      return LoadSheetMeters(c, sheet_id, *sheet);
    }));
    if (!sheet) return SheetNotFound(key);
    return *sheet;
  }

  absl::StatusOr<std::vector<PriceSheet>> ListPriceSheets(const PriceSheetFilter& filter) override {
    Where where;
    if (filter.owner) {
      where.Add("owner_kind = ? AND owner_id = ?",
                {std::string(EnumToCode(filter.owner->kind)), OwnerId(*filter.owner)});
    }
    if (filter.currency) where.Add("currency = ?", {*filter.currency});
    std::vector<PriceSheet> sheets;
    STACKBILL_RETURN_IF_ERROR(db_.Read([&](Connection& c) -> absl::Status {
      std::vector<std::int64_t> ids;
      {
        STACKBILL_ASSIGN_OR_RETURN(
            Statement stmt,
            c.Prepare(Cat("SELECT ", kSheetColumns, " FROM price_sheets", where.Sql(),
                          " ORDER BY owner_kind, owner_id, currency, effective_s, "
                          "effective_ns")));
        stmt.BindValues(where.values());
        while (true) {
          STACKBILL_ASSIGN_OR_RETURN(bool row, stmt.Step());
          if (!row) break;
          ids.push_back(stmt.ReadInt());
          sheets.push_back(ReadSheetHeader(stmt));
          STACKBILL_RETURN_IF_ERROR(stmt.read_status());
        }
      }
      for (std::size_t i = 0; i < ids.size(); ++i) {
        STACKBILL_RETURN_IF_ERROR(LoadSheetMeters(c, ids[i], sheets[i]));
      }
      return absl::OkStatus();
    }));
    return sheets;
  }

  absl::Status LockPriceSheet(const PriceSheetKey& key, Timestamp at) override {
    return db_.Write([&](Connection& c) { return LockSheet(c, key, at); });
  }

 private:
  static SqlValue MarkupValue(const PriceSheet& sheet) {
    if (!sheet.markup) return SqlValue();
    return sheet.markup->ToString();
  }

  static absl::Status Validate(const PriceSheet& sheet) {
    if (sheet.markup && sheet.key.owner.kind != PriceSheetOwner::Kind::kCustomers) {
      return absl::InvalidArgumentError(
          Cat(Describe(sheet.key), ": only a customer price sheet has a markup"));
    }
    if (sheet.markup && *sheet.markup < Markup::FromInteger(-1).value()) {
      return absl::InvalidArgumentError(
          Cat(Describe(sheet.key), ": a markup below -1 would make prices negative"));
    }
    std::set<Guid> seen;
    for (const MeterPrice& price : sheet.meters) {
      const std::string what = Cat(Describe(sheet.key), ": meter ", price.meter_id.ToString());
      if (!seen.insert(price.meter_id).second) {
        return absl::InvalidArgumentError(Cat(what, " is listed twice"));
      }
      if (price.tiers.empty()) return absl::InvalidArgumentError(Cat(what, " has no rates"));
      for (std::size_t i = 1; i < price.tiers.size(); ++i) {
        if (!(price.tiers[i - 1].start < price.tiers[i].start)) {
          return absl::InvalidArgumentError(Cat(what, ": tier starts must strictly increase"));
        }
      }
    }
    return absl::OkStatus();
  }

  Database& db_;
};

// ---------------------------------------------------------------------------

constexpr std::string_view kInvoiceColumns =
    "id, number, period_year, period_month, bill_to_kind, bill_to_partner_id, "
    "bill_to_subscription_id, currency, issued_s, issued_ns, total";

constexpr std::string_view kLineColumns =
    "subscription_id, subscription_name, customer_directory_id, customer_name, tenant_id, "
    "reseller_partner_id, reseller_name, meter_id, meter_name, unit, quantity, "
    "included_quantity, tiers, amount, late_year, late_month, zero_rated, unpriced, adjustment, "
    "description";

YearMonth ReadYearMonth(Statement& stmt) {
  const std::int64_t year = stmt.ReadInt();
  const std::int64_t month = stmt.ReadInt();
  if (year < 1 || year > 9999 || month < 1 || month > 12) {
    stmt.Corrupt("year-month", Cat(year, "-", month));
    return YearMonth();
  }
  return YearMonth(static_cast<int>(year), static_cast<int>(month));
}

Invoice ReadInvoiceHeader(Statement& stmt) {
  Invoice invoice;
  invoice.id = stmt.ReadGuid();
  invoice.number = stmt.ReadText();
  invoice.period = ReadYearMonth(stmt);
  invoice.bill_to = ReadBillTo(stmt);
  invoice.currency = stmt.ReadText();
  invoice.issued_at = stmt.ReadTime();
  invoice.total = stmt.ReadDecimal<AmountTraits>();
  return invoice;
}

InvoiceLine ReadLine(Statement& stmt) {
  InvoiceLine line;
  line.subscription_id = stmt.ReadGuid();
  line.subscription_name = stmt.ReadText();
  line.customer_directory_id = stmt.ReadOptionalGuid();
  line.customer_name = stmt.ReadText();
  line.tenant_id = stmt.ReadOptionalGuid();
  line.reseller_partner_id = stmt.ReadOptionalText();
  line.reseller_name = stmt.ReadText();
  line.meter_id = stmt.ReadOptionalGuid();
  line.meter_name = stmt.ReadText();
  line.unit = stmt.ReadText();
  line.quantity = stmt.ReadDecimal<QuantityTraits>();
  line.included_quantity = stmt.ReadDecimal<QuantityTraits>();
  const std::string tiers = stmt.ReadText();
  if (auto decoded = DecodeAppliedTiers(tiers)) {
    line.tiers = std::move(*decoded);
  } else {
    stmt.Corrupt("applied tiers", tiers);
  }
  line.amount = stmt.ReadDecimal<AmountTraits>();
  if (stmt.IsNull()) {
    stmt.Skip(2);
  } else {
    line.late_usage_month = ReadYearMonth(stmt);
  }
  line.zero_rated = stmt.ReadBool();
  line.unpriced = stmt.ReadBool();
  line.adjustment = stmt.ReadBool();
  line.description = stmt.ReadText();
  return line;
}

// Reads the invoices matching `where` (on the invoices table), with their
// lines, ordered by number.
absl::Status LoadInvoices(Connection& c, const Where& where, std::vector<Invoice>& out) {
  {
    STACKBILL_ASSIGN_OR_RETURN(
        Statement stmt, c.Prepare(Cat("SELECT ", kInvoiceColumns, " FROM invoices", where.Sql(),
                                      " ORDER BY issue_year, sequence")));
    stmt.BindValues(where.values());
    while (true) {
      STACKBILL_ASSIGN_OR_RETURN(bool row, stmt.Step());
      if (!row) break;
      out.push_back(ReadInvoiceHeader(stmt));
      STACKBILL_RETURN_IF_ERROR(stmt.read_status());
    }
  }
  STACKBILL_ASSIGN_OR_RETURN(Statement lines,
                             c.Prepare(Cat("SELECT ", kLineColumns,
                                           " FROM invoice_lines WHERE invoice_id = ? "
                                           "ORDER BY line_no")));
  for (Invoice& invoice : out) {
    lines.Reset();
    lines.BindGuid(invoice.id);
    while (true) {
      STACKBILL_ASSIGN_OR_RETURN(bool row, lines.Step());
      if (!row) break;
      invoice.lines.push_back(ReadLine(lines));
      STACKBILL_RETURN_IF_ERROR(lines.read_status());
    }
  }
  return absl::OkStatus();
}

Where PeriodWhere(YearMonth period) {
  Where where;
  where.Add("period_year = ? AND period_month = ?",
            {std::int64_t{period.year()}, std::int64_t{period.month()}});
  return where;
}

class SqlBillingStore final : public BillingStore {
 public:
  explicit SqlBillingStore(Database& database) : db_(database) {}

  absl::StatusOr<BillingPeriodRecord> GetBillingPeriod(YearMonth period) override {
    BillingPeriodRecord record{period, std::nullopt};
    STACKBILL_RETURN_IF_ERROR(db_.Read([&](Connection& c) -> absl::Status {
      STACKBILL_ASSIGN_OR_RETURN(record.closed_at, ClosedAt(c, period));
      return absl::OkStatus();
    }));
    return record;
  }

  absl::StatusOr<std::vector<BillingPeriodRecord>> ListClosedBillingPeriods() override {
    std::vector<BillingPeriodRecord> periods;
    STACKBILL_RETURN_IF_ERROR(db_.Read([&](Connection& c) -> absl::Status {
      STACKBILL_ASSIGN_OR_RETURN(
          Statement stmt, c.Prepare("SELECT year, month, closed_s, closed_ns FROM billing_periods "
                                    "ORDER BY year, month"));
      while (true) {
        STACKBILL_ASSIGN_OR_RETURN(bool row, stmt.Step());
        if (!row) return absl::OkStatus();
        BillingPeriodRecord record;
        record.period = ReadYearMonth(stmt);
        record.closed_at = stmt.ReadTime();
        STACKBILL_RETURN_IF_ERROR(stmt.read_status());
        periods.push_back(record);
      }
    }));
    return periods;
  }

  absl::StatusOr<ClosePeriodResult> ClosePeriod(const ClosePeriodRequest& request) override {
    STACKBILL_RETURN_IF_ERROR(Validate(request));
    ClosePeriodResult result;
    result.period.period = request.period;
    STACKBILL_RETURN_IF_ERROR(db_.Write([&](Connection& c) -> absl::Status {
      result.invoices.clear();
      STACKBILL_ASSIGN_OR_RETURN(std::optional<Timestamp> closed_at, ClosedAt(c, request.period));
      if (closed_at) {
        result.period.closed_at = closed_at;
        result.newly_closed = false;
        return LoadInvoices(c, PeriodWhere(request.period), result.invoices);
      }
      STACKBILL_RETURN_IF_ERROR(CheckOrder(c, request.period));
      STACKBILL_RETURN_IF_ERROR(c.Run(
          "INSERT INTO billing_periods (year, month, closed_s, closed_ns) VALUES (?, ?, ?, ?)",
          {std::int64_t{request.period.year()}, std::int64_t{request.period.month()},
           std::int64_t{request.closed_at.unix_seconds()},
           std::int64_t{request.closed_at.nanos()}}));
      for (const PriceSheetKey& key : request.price_sheets_to_lock) {
        STACKBILL_RETURN_IF_ERROR(LockSheet(c, key, request.closed_at));
      }
      // Numbers continue the year's sequence inside this transaction, so a
      // failed close consumes none and numbers stay gap-free.
      const int year = YearMonth::Of(request.closed_at).year();
      STACKBILL_ASSIGN_OR_RETURN(std::int64_t sequence, LastSequence(c, year));
      for (Invoice invoice : request.invoices) {
        invoice.number = FormatInvoiceNumber(year, ++sequence);
        invoice.issued_at = request.closed_at;
        STACKBILL_RETURN_IF_ERROR(InsertInvoice(c, invoice, year, sequence));
        result.invoices.push_back(std::move(invoice));
      }
      STACKBILL_RETURN_IF_ERROR(
          c.Run("INSERT INTO invoice_sequences (year, last_sequence) VALUES (?, ?) "
                "ON CONFLICT (year) DO UPDATE SET last_sequence = excluded.last_sequence",
                {std::int64_t{year}, sequence}));
      STACKBILL_RETURN_IF_ERROR(WriteLedger(c, request.billed));
      result.period.closed_at = request.closed_at;
      result.newly_closed = true;
      return absl::OkStatus();
    }));
    return result;
  }

  absl::StatusOr<Invoice> GetInvoice(const Guid& id) override {
    Where where;
    where.Add("id = ?", {GuidValue(id)});
    return LoadOne(where, [&] {
      return NotFoundError("InvoiceNotFound", Cat("invoice ", id.ToString(), " not found"));
    });
  }

  absl::StatusOr<Invoice> GetInvoiceByNumber(std::string_view number) override {
    Where where;
    where.Add("number = ?", {TextValue(number)});
    return LoadOne(where, [&] {
      return NotFoundError("InvoiceNotFound", Cat("invoice ", number, " not found"));
    });
  }

  absl::StatusOr<std::vector<Invoice>> ListInvoices(const InvoiceFilter& filter) override {
    Where where;
    if (filter.period) {
      where.Add("period_year = ? AND period_month = ?",
                {std::int64_t{filter.period->year()}, std::int64_t{filter.period->month()}});
    }
    if (filter.bill_to) {
      where.Add("bill_to_kind = ? AND bill_to_partner_id = ? AND bill_to_subscription_id = ?",
                {std::string(EnumToCode(filter.bill_to->kind)), filter.bill_to->partner_id,
                 GuidValue(filter.bill_to->subscription_id)});
    }
    std::vector<Invoice> invoices;
    STACKBILL_RETURN_IF_ERROR(
        db_.Read([&](Connection& c) { return LoadInvoices(c, where, invoices); }));
    return invoices;
  }

  absl::StatusOr<std::vector<BilledUsage>> ListBilledUsage(YearMonth from, YearMonth to) override {
    std::vector<BilledUsage> rows;
    STACKBILL_RETURN_IF_ERROR(db_.Read([&](Connection& c) -> absl::Status {
      STACKBILL_ASSIGN_OR_RETURN(
          Statement stmt,
          c.Prepare("SELECT usage_year, usage_month, billed_subscription_id, meter_id, zero_rated, "
                    "quantity FROM billed_usage WHERE (usage_year, usage_month) >= (?, ?) AND "
                    "(usage_year, usage_month) <= (?, ?) ORDER BY usage_year, usage_month, "
                    "billed_subscription_id, meter_id, zero_rated"));
      stmt.BindInt(from.year()).BindInt(from.month()).BindInt(to.year()).BindInt(to.month());
      while (true) {
        STACKBILL_ASSIGN_OR_RETURN(bool row, stmt.Step());
        if (!row) return absl::OkStatus();
        BilledUsage billed;
        billed.usage_month = ReadYearMonth(stmt);
        billed.billed_subscription_id = stmt.ReadGuid();
        billed.meter_id = stmt.ReadGuid();
        billed.zero_rated = stmt.ReadBool();
        billed.quantity = stmt.ReadDecimal<QuantityTraits>();
        STACKBILL_RETURN_IF_ERROR(stmt.read_status());
        rows.push_back(billed);
      }
    }));
    return rows;
  }

  absl::Status AddAdjustment(const Adjustment& adjustment) override {
    if (adjustment.reason.empty()) {
      return absl::InvalidArgumentError("an adjustment needs a reason");
    }
    return db_.Write([&](Connection& c) -> absl::Status {
      STACKBILL_ASSIGN_OR_RETURN(std::optional<Timestamp> closed_at,
                                 ClosedAt(c, adjustment.period));
      if (closed_at) {
        return FailedPreconditionError(store_errors::kPeriodClosed,
                                       Cat("billing period ", adjustment.period.ToString(),
                                           " is closed: adjust the next open period instead"));
      }
      STACKBILL_ASSIGN_OR_RETURN(bool taken, RowExists(c, "SELECT 1 FROM adjustments WHERE id = ?",
                                                       {GuidValue(adjustment.id)}));
      if (taken) {
        return AlreadyExistsError("AdjustmentAlreadyExists",
                                  Cat("adjustment ", adjustment.id.ToString(), " already exists"));
      }
      STACKBILL_ASSIGN_OR_RETURN(Statement insert,
                                 c.Prepare(Cat("INSERT INTO adjustments (", kAdjustmentColumns,
                                               ") VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)")));
      insert.BindGuid(adjustment.id)
          .BindInt(adjustment.period.year())
          .BindInt(adjustment.period.month())
          .BindGuid(adjustment.subscription_id)
          .BindOptionalGuid(adjustment.meter_id)
          .BindDecimal(adjustment.amount)
          .BindText(adjustment.currency)
          .BindText(adjustment.reason)
          .BindGuid(adjustment.actor_principal_id)
          .BindTime(adjustment.created_at);
      return insert.Run();
    });
  }

  absl::StatusOr<std::vector<Adjustment>> ListAdjustments(YearMonth period) override {
    std::vector<Adjustment> adjustments;
    STACKBILL_RETURN_IF_ERROR(db_.Read([&](Connection& c) -> absl::Status {
      STACKBILL_ASSIGN_OR_RETURN(Statement stmt,
                                 c.Prepare(Cat("SELECT ", kAdjustmentColumns,
                                               " FROM adjustments WHERE period_year = ? AND "
                                               "period_month = ? ORDER BY rowid")));
      stmt.BindInt(period.year()).BindInt(period.month());
      while (true) {
        STACKBILL_ASSIGN_OR_RETURN(bool row, stmt.Step());
        if (!row) return absl::OkStatus();
        Adjustment a;
        a.id = stmt.ReadGuid();
        a.period = ReadYearMonth(stmt);
        a.subscription_id = stmt.ReadGuid();
        a.meter_id = stmt.ReadOptionalGuid();
        a.amount = stmt.ReadDecimal<AmountTraits>();
        a.currency = stmt.ReadText();
        a.reason = stmt.ReadText();
        a.actor_principal_id = stmt.ReadGuid();
        a.created_at = stmt.ReadTime();
        STACKBILL_RETURN_IF_ERROR(stmt.read_status());
        adjustments.push_back(std::move(a));
      }
    }));
    return adjustments;
  }

 private:
  static absl::Status Validate(const ClosePeriodRequest& request) {
    std::set<Guid> ids;
    for (const Invoice& invoice : request.invoices) {
      const std::string what = Cat("invoice ", invoice.id.ToString());
      if (invoice.lines.empty()) {
        return absl::InvalidArgumentError(Cat(what, " has no lines"));
      }
      if (invoice.period != request.period) {
        return absl::InvalidArgumentError(
            Cat(what, " is for ", invoice.period.ToString(), ", not ", request.period.ToString()));
      }
      if (!ids.insert(invoice.id).second) {
        return absl::InvalidArgumentError(Cat(what, " is listed twice"));
      }
    }
    return absl::OkStatus();
  }

  static absl::StatusOr<std::optional<Timestamp>> ClosedAt(Connection& c, YearMonth period) {
    STACKBILL_ASSIGN_OR_RETURN(
        Statement stmt,
        c.Prepare("SELECT closed_s, closed_ns FROM billing_periods WHERE year = ? AND month = ?"));
    stmt.BindInt(period.year()).BindInt(period.month());
    STACKBILL_ASSIGN_OR_RETURN(bool row, stmt.Step());
    if (!row) return std::optional<Timestamp>();
    const Timestamp closed = stmt.ReadTime();
    STACKBILL_RETURN_IF_ERROR(stmt.read_status());
    return std::optional<Timestamp>(closed);
  }

  static absl::Status CheckOrder(Connection& c, YearMonth period) {
    STACKBILL_ASSIGN_OR_RETURN(
        Statement stmt,
        c.Prepare(
            "SELECT year, month FROM billing_periods ORDER BY year DESC, month DESC LIMIT 1"));
    STACKBILL_ASSIGN_OR_RETURN(bool row, stmt.Step());
    if (!row) return absl::OkStatus();
    const YearMonth last = ReadYearMonth(stmt);
    STACKBILL_RETURN_IF_ERROR(stmt.read_status());
    if (period == last.Next()) return absl::OkStatus();
    return FailedPreconditionError(
        store_errors::kPeriodsCloseInOrder,
        Cat("billing period ", period.ToString(), " cannot close: the last closed period is ",
            last.ToString(), " and periods close in order"));
  }

  static absl::StatusOr<std::int64_t> LastSequence(Connection& c, int year) {
    STACKBILL_ASSIGN_OR_RETURN(
        Statement stmt, c.Prepare("SELECT last_sequence FROM invoice_sequences WHERE year = ?"));
    stmt.BindInt(year);
    STACKBILL_ASSIGN_OR_RETURN(bool row, stmt.Step());
    return row ? stmt.ReadInt() : 0;
  }

  static absl::Status InsertInvoice(Connection& c, const Invoice& invoice, int year,
                                    std::int64_t sequence) {
    STACKBILL_ASSIGN_OR_RETURN(
        bool taken, RowExists(c, "SELECT 1 FROM invoices WHERE id = ?", {GuidValue(invoice.id)}));
    if (taken) {
      return AlreadyExistsError("InvoiceAlreadyExists",
                                Cat("invoice ", invoice.id.ToString(), " already exists"));
    }
    STACKBILL_ASSIGN_OR_RETURN(
        Statement header,
        c.Prepare(Cat("INSERT INTO invoices (issue_year, sequence, ", kInvoiceColumns,
                      ") VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)")));
    header.BindInt(year)
        .BindInt(sequence)
        .BindGuid(invoice.id)
        .BindText(invoice.number)
        .BindInt(invoice.period.year())
        .BindInt(invoice.period.month());
    BindBillTo(header, invoice.bill_to);
    header.BindText(invoice.currency).BindTime(invoice.issued_at).BindDecimal(invoice.total);
    STACKBILL_RETURN_IF_ERROR(header.Run());
    STACKBILL_ASSIGN_OR_RETURN(
        Statement insert,
        c.Prepare(Cat("INSERT INTO invoice_lines (invoice_id, line_no, ", kLineColumns,
                      ") VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, "
                      "?, ?, ?)")));
    std::int64_t line_no = 0;
    for (const InvoiceLine& line : invoice.lines) {
      insert.Reset();
      insert.BindGuid(invoice.id)
          .BindInt(line_no++)
          .BindGuid(line.subscription_id)
          .BindText(line.subscription_name)
          .BindOptionalGuid(line.customer_directory_id)
          .BindText(line.customer_name)
          .BindOptionalGuid(line.tenant_id)
          .BindOptionalText(line.reseller_partner_id)
          .BindText(line.reseller_name)
          .BindOptionalGuid(line.meter_id)
          .BindText(line.meter_name)
          .BindText(line.unit)
          .BindDecimal(line.quantity)
          .BindDecimal(line.included_quantity)
          .BindText(EncodeAppliedTiers(line.tiers))
          .BindDecimal(line.amount);
      if (line.late_usage_month) {
        insert.BindInt(line.late_usage_month->year()).BindInt(line.late_usage_month->month());
      } else {
        insert.BindNull().BindNull();
      }
      insert.BindBool(line.zero_rated)
          .BindBool(line.unpriced)
          .BindBool(line.adjustment)
          .BindText(line.description);
      STACKBILL_RETURN_IF_ERROR(insert.Run());
    }
    return absl::OkStatus();
  }

  static absl::Status WriteLedger(Connection& c, const std::vector<BilledUsage>& billed) {
    if (billed.empty()) return absl::OkStatus();
    STACKBILL_ASSIGN_OR_RETURN(
        Statement upsert,
        c.Prepare("INSERT INTO billed_usage (usage_year, usage_month, billed_subscription_id, "
                  "meter_id, zero_rated, quantity) VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT "
                  "(usage_year, usage_month, billed_subscription_id, meter_id, zero_rated) DO "
                  "UPDATE SET quantity = excluded.quantity"));
    for (const BilledUsage& row : billed) {
      upsert.Reset();
      upsert.BindInt(row.usage_month.year())
          .BindInt(row.usage_month.month())
          .BindGuid(row.billed_subscription_id)
          .BindGuid(row.meter_id)
          .BindBool(row.zero_rated)
          .BindDecimal(row.quantity);
      STACKBILL_RETURN_IF_ERROR(upsert.Run());
    }
    return absl::OkStatus();
  }

  template <typename NotFoundFn>
  absl::StatusOr<Invoice> LoadOne(const Where& where, NotFoundFn not_found) {
    std::vector<Invoice> invoices;
    STACKBILL_RETURN_IF_ERROR(
        db_.Read([&](Connection& c) { return LoadInvoices(c, where, invoices); }));
    if (invoices.empty()) return not_found();
    return std::move(invoices.front());
  }

  Database& db_;
};

}  // namespace

std::unique_ptr<PriceSheetStore> NewSqlPriceSheetStore(Database& database) {
  return std::make_unique<SqlPriceSheetStore>(database);
}

std::unique_ptr<BillingStore> NewSqlBillingStore(Database& database) {
  return std::make_unique<SqlBillingStore>(database);
}

}  // namespace stackbill::sql
