#include "core/error.h"
#include "store/sql/area_stores.h"
#include "store/sql/codec.h"
#include "store/sql/versioning.h"

namespace stackbill::sql {
namespace {

constexpr VersionedTable kParentLinks = {
    .table = "partner_parent_links",
    .key_columns = "partner_id",
    .key_condition = "partner_id = ?",
    .value_column = "parent_partner_id",
};

constexpr VersionedTable kOwners = {
    .table = "subscription_owners",
    .key_columns = "subscription_id",
    .key_condition = "subscription_id = ?",
    .value_column = "partner_id",
};

SqlValue OptionalText(const std::optional<std::string>& text) {
  return text ? SqlValue(*text) : SqlValue(nullptr);
}

absl::Status PartnerNotFound(std::string_view id) {
  return NotFoundError("PartnerNotFound", Cat("partner ", id, " not found"));
}

absl::Status SubscriptionNotFound(const Guid& id) {
  return NotFoundError("SubscriptionNotFound", Cat("subscription ", id.ToString(), " not found"));
}

absl::Status CheckPartner(Connection& c, std::string_view id) {
  STACKBILL_ASSIGN_OR_RETURN(bool exists,
                             RowExists(c, "SELECT 1 FROM partners WHERE id = ?", {TextValue(id)}));
  return exists ? absl::OkStatus() : PartnerNotFound(id);
}

absl::Status CheckOptionalPartner(Connection& c, const std::optional<PartnerId>& id) {
  return id ? CheckPartner(c, *id) : absl::OkStatus();
}

absl::Status CheckSubscription(Connection& c, const Guid& id) {
  STACKBILL_ASSIGN_OR_RETURN(
      bool exists, RowExists(c, "SELECT 1 FROM subscriptions WHERE id = ?", {GuidValue(id)}));
  return exists ? absl::OkStatus() : SubscriptionNotFound(id);
}

absl::Status CheckDirectory(Connection& c, const Guid& id) {
  STACKBILL_ASSIGN_OR_RETURN(
      bool exists, RowExists(c, "SELECT 1 FROM directories WHERE id = ?", {GuidValue(id)}));
  return exists
             ? absl::OkStatus()
             : NotFoundError("DirectoryNotFound", Cat("directory ", id.ToString(), " not found"));
}

absl::Status InvalidSelfParent(std::string_view id) {
  return absl::InvalidArgumentError(Cat("partner ", id, " cannot be its own parent"));
}

class SqlPartyStore final : public PartyStore {
 public:
  explicit SqlPartyStore(Database& database) : db_(database) {}

  absl::Status CreatePartner(const Partner& partner, const std::optional<PartnerId>& parent,
                             Timestamp at) override {
    if (parent && *parent == partner.id) return InvalidSelfParent(partner.id);
    return db_.Write([&](Connection& c) -> absl::Status {
      STACKBILL_ASSIGN_OR_RETURN(bool exists,
                                 RowExists(c, "SELECT 1 FROM partners WHERE id = ?", {partner.id}));
      if (exists) {
        return AlreadyExistsError("PartnerAlreadyExists",
                                  Cat("partner ", partner.id, " already exists"));
      }
      STACKBILL_RETURN_IF_ERROR(CheckOptionalPartner(c, parent));
      STACKBILL_ASSIGN_OR_RETURN(
          Statement insert,
          c.Prepare("INSERT INTO partners (name, kind, billing_currency, id) VALUES (?, ?, ?, ?)"));
      BindPartnerFields(insert, partner);
      STACKBILL_RETURN_IF_ERROR(insert.Run());
      return StartVersion(c, kParentLinks, {partner.id}, OptionalText(parent), at,
                          Cat("partner ", partner.id, " parent"))
          .status();
    });
  }

  absl::Status UpdatePartner(const Partner& partner) override {
    return db_.Write([&](Connection& c) -> absl::Status {
      STACKBILL_ASSIGN_OR_RETURN(
          Statement update,
          c.Prepare("UPDATE partners SET name = ?, kind = ?, billing_currency = ? WHERE id = ?"));
      BindPartnerFields(update, partner);
      STACKBILL_RETURN_IF_ERROR(update.Run());
      return c.changes() == 0 ? PartnerNotFound(partner.id) : absl::OkStatus();
    });
  }

  absl::StatusOr<Partner> GetPartner(std::string_view id) override {
    std::optional<Partner> partner;
    STACKBILL_RETURN_IF_ERROR(db_.Read([&](Connection& c) -> absl::Status {
      STACKBILL_ASSIGN_OR_RETURN(Statement stmt, c.Prepare(Cat("SELECT ", kPartnerColumns,
                                                               " FROM partners WHERE id = ?")));
      stmt.BindText(id);
      STACKBILL_ASSIGN_OR_RETURN(bool row, stmt.Step());
      if (!row) return absl::OkStatus();
      partner = ReadPartner(stmt);
      return stmt.read_status();
    }));
    if (!partner) return PartnerNotFound(id);
    return *partner;
  }

  absl::StatusOr<std::vector<Partner>> ListPartners() override {
    std::vector<Partner> partners;
    STACKBILL_RETURN_IF_ERROR(db_.Read([&](Connection& c) -> absl::Status {
      STACKBILL_ASSIGN_OR_RETURN(
          Statement stmt, c.Prepare(Cat("SELECT ", kPartnerColumns, " FROM partners ORDER BY id")));
      while (true) {
        STACKBILL_ASSIGN_OR_RETURN(bool row, stmt.Step());
        if (!row) return absl::OkStatus();
        partners.push_back(ReadPartner(stmt));
        STACKBILL_RETURN_IF_ERROR(stmt.read_status());
      }
    }));
    return partners;
  }

  absl::Status SetPartnerParent(std::string_view partner_id, const std::optional<PartnerId>& parent,
                                Timestamp at) override {
    if (parent && *parent == partner_id) return InvalidSelfParent(partner_id);
    return db_.Write([&](Connection& c) -> absl::Status {
      STACKBILL_RETURN_IF_ERROR(CheckPartner(c, partner_id));
      STACKBILL_RETURN_IF_ERROR(CheckOptionalPartner(c, parent));
      return StartVersion(c, kParentLinks, {TextValue(partner_id)}, OptionalText(parent), at,
                          Cat("partner ", partner_id, " parent"))
          .status();
    });
  }

  absl::StatusOr<std::vector<PartnerParentLink>> ListPartnerParentLinks(
      std::string_view partner_id) override {
    std::vector<PartnerParentLink> links;
    STACKBILL_RETURN_IF_ERROR(db_.Read([&](Connection& c) -> absl::Status {
      STACKBILL_RETURN_IF_ERROR(CheckPartner(c, partner_id));
      STACKBILL_ASSIGN_OR_RETURN(
          Statement stmt,
          c.Prepare("SELECT partner_id, parent_partner_id, from_s, from_ns, to_s, to_ns "
                    "FROM partner_parent_links WHERE partner_id = ? ORDER BY from_s, from_ns"));
      stmt.BindText(partner_id);
      while (true) {
        STACKBILL_ASSIGN_OR_RETURN(bool row, stmt.Step());
        if (!row) return absl::OkStatus();
        PartnerParentLink link;
        link.partner_id = stmt.ReadText();
        link.parent_partner_id = stmt.ReadOptionalText();
        link.valid = ReadValidity(stmt);
        STACKBILL_RETURN_IF_ERROR(stmt.read_status());
        links.push_back(std::move(link));
      }
    }));
    return links;
  }

  absl::Status CreateSubscription(const Subscription& subscription, Timestamp at) override {
    return db_.Write([&](Connection& c) -> absl::Status {
      STACKBILL_ASSIGN_OR_RETURN(
          bool exists,
          RowExists(c, "SELECT 1 FROM subscriptions WHERE id = ?", {GuidValue(subscription.id)}));
      if (exists) {
        return AlreadyExistsError(
            "SubscriptionAlreadyExists",
            Cat("subscription ", subscription.id.ToString(), " already exists"));
      }
      STACKBILL_RETURN_IF_ERROR(CheckDirectory(c, subscription.directory_id));
      STACKBILL_RETURN_IF_ERROR(CheckOptionalPartner(c, subscription.partner_id));
      STACKBILL_ASSIGN_OR_RETURN(Statement insert,
                                 c.Prepare(Cat("INSERT INTO subscriptions (", kSubscriptionColumns,
                                               ") VALUES (?, ?, ?, ?, ?, ?, ?)")));
      insert.BindGuid(subscription.id);
      BindEnum(insert, subscription.offer_type);
      insert.BindGuid(subscription.directory_id)
          .BindOptionalText(subscription.partner_id)
          .BindOptionalText(subscription.billing_currency)
          .BindText(subscription.display_name);
      BindEnum(insert, subscription.state);
      STACKBILL_RETURN_IF_ERROR(insert.Run());
      return StartVersion(c, kOwners, {GuidValue(subscription.id)},
                          OptionalText(subscription.partner_id), at,
                          Cat("subscription ", subscription.id.ToString(), " owner"))
          .status();
    });
  }

  absl::Status UpdateSubscription(const Subscription& subscription) override {
    return db_.Write([&](Connection& c) -> absl::Status {
      STACKBILL_ASSIGN_OR_RETURN(std::optional<Subscription> current,
                                 LoadSubscription(c, subscription.id));
      if (!current) return SubscriptionNotFound(subscription.id);
      if (current->partner_id != subscription.partner_id) {
        return absl::InvalidArgumentError(Cat("subscription ", subscription.id.ToString(),
                                              ": the owner partner changes only by a transfer"));
      }
      STACKBILL_RETURN_IF_ERROR(CheckDirectory(c, subscription.directory_id));
      STACKBILL_ASSIGN_OR_RETURN(
          Statement update,
          c.Prepare("UPDATE subscriptions SET offer_type = ?, directory_id = ?, "
                    "billing_currency = ?, display_name = ?, state = ? WHERE id = ?"));
      BindEnum(update, subscription.offer_type);
      update.BindGuid(subscription.directory_id)
          .BindOptionalText(subscription.billing_currency)
          .BindText(subscription.display_name);
      BindEnum(update, subscription.state);
      update.BindGuid(subscription.id);
      return update.Run();
    });
  }

  absl::StatusOr<Subscription> GetSubscription(const Guid& id) override {
    std::optional<Subscription> subscription;
    STACKBILL_RETURN_IF_ERROR(db_.Read([&](Connection& c) -> absl::Status {
      STACKBILL_ASSIGN_OR_RETURN(subscription, LoadSubscription(c, id));
      return absl::OkStatus();
    }));
    if (!subscription) return SubscriptionNotFound(id);
    return *subscription;
  }

  absl::StatusOr<std::vector<Subscription>> ListSubscriptions(
      const SubscriptionFilter& filter) override {
    Where where;
    if (filter.partner_id) where.Add("partner_id = ?", {*filter.partner_id});
    if (filter.directory_id) where.Add("directory_id = ?", {GuidValue(*filter.directory_id)});
    std::vector<Subscription> subscriptions;
    STACKBILL_RETURN_IF_ERROR(db_.Read([&](Connection& c) -> absl::Status {
      STACKBILL_ASSIGN_OR_RETURN(
          Statement stmt, c.Prepare(Cat("SELECT ", kSubscriptionColumns, " FROM subscriptions",
                                        where.Sql(), " ORDER BY id")));
      stmt.BindValues(where.values());
      while (true) {
        STACKBILL_ASSIGN_OR_RETURN(bool row, stmt.Step());
        if (!row) return absl::OkStatus();
        subscriptions.push_back(ReadSubscription(stmt));
        STACKBILL_RETURN_IF_ERROR(stmt.read_status());
      }
    }));
    return subscriptions;
  }

  absl::Status TransferSubscription(const Guid& subscription_id,
                                    const std::optional<PartnerId>& partner,
                                    Timestamp at) override {
    return db_.Write([&](Connection& c) -> absl::Status {
      STACKBILL_RETURN_IF_ERROR(CheckSubscription(c, subscription_id));
      STACKBILL_RETURN_IF_ERROR(CheckOptionalPartner(c, partner));
      STACKBILL_ASSIGN_OR_RETURN(
          bool changed,
          StartVersion(c, kOwners, {GuidValue(subscription_id)}, OptionalText(partner), at,
                       Cat("subscription ", subscription_id.ToString(), " owner")));
      if (!changed) return absl::OkStatus();
      return c.Run("UPDATE subscriptions SET partner_id = ? WHERE id = ?",
                   {OptionalText(partner), GuidValue(subscription_id)});
    });
  }

  absl::StatusOr<std::vector<SubscriptionOwnership>> ListSubscriptionOwnership(
      const Guid& subscription_id) override {
    std::vector<SubscriptionOwnership> owners;
    STACKBILL_RETURN_IF_ERROR(db_.Read([&](Connection& c) -> absl::Status {
      STACKBILL_RETURN_IF_ERROR(CheckSubscription(c, subscription_id));
      STACKBILL_ASSIGN_OR_RETURN(
          Statement stmt,
          c.Prepare("SELECT subscription_id, partner_id, from_s, from_ns, to_s, to_ns "
                    "FROM subscription_owners WHERE subscription_id = ? "
                    "ORDER BY from_s, from_ns"));
      stmt.BindGuid(subscription_id);
      while (true) {
        STACKBILL_ASSIGN_OR_RETURN(bool row, stmt.Step());
        if (!row) return absl::OkStatus();
        SubscriptionOwnership owner;
        owner.subscription_id = stmt.ReadGuid();
        owner.partner_id = stmt.ReadOptionalText();
        owner.valid = ReadValidity(stmt);
        STACKBILL_RETURN_IF_ERROR(stmt.read_status());
        owners.push_back(std::move(owner));
      }
    }));
    return owners;
  }

 private:
  static void BindPartnerFields(Statement& stmt, const Partner& partner) {
    stmt.BindText(partner.name);
    BindEnum(stmt, partner.kind);
    stmt.BindText(partner.billing_currency).BindText(partner.id);
  }

  static absl::StatusOr<std::optional<Subscription>> LoadSubscription(Connection& c,
                                                                      const Guid& id) {
    STACKBILL_ASSIGN_OR_RETURN(Statement stmt, c.Prepare(Cat("SELECT ", kSubscriptionColumns,
                                                             " FROM subscriptions WHERE id = ?")));
    stmt.BindGuid(id);
    STACKBILL_ASSIGN_OR_RETURN(bool row, stmt.Step());
    if (!row) return std::optional<Subscription>();
    Subscription subscription = ReadSubscription(stmt);
    STACKBILL_RETURN_IF_ERROR(stmt.read_status());
    return std::optional<Subscription>(std::move(subscription));
  }

  Database& db_;
};

}  // namespace

std::unique_ptr<PartyStore> NewSqlPartyStore(Database& database) {
  return std::make_unique<SqlPartyStore>(database);
}

}  // namespace stackbill::sql
