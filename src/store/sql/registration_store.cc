#include <optional>

#include "core/error.h"
#include "store/sql/area_stores.h"
#include "store/sql/codec.h"
#include "store/sql/versioning.h"

namespace stackbill::sql {
namespace {

constexpr VersionedTable kSubscribers = {
    .table = "stack_subscribers",
    .key_columns = "cloud_id, local_subscription_id",
    .key_condition = "cloud_id = ? AND local_subscription_id = ?",
    .value_column = "tenant_id",
};

constexpr std::string_view kNameCondition =
    "subscription_id = ? AND resource_group_key = ? AND name_key = ?";

constexpr std::string_view kRegistrationColumns =
    "subscription_id, resource_group, name, cloud_id, object_id, billing_model, multi_tenant, "
    "usage_reporting_enabled, agreement_number, ms_asset_tag, tags, from_s, from_ns, to_s, to_ns";

constexpr std::string_view kCustomerSubscriptionColumns =
    "subscription_id, resource_group, name, cloud_id, customer_subscription_id, tenant_id, "
    "from_s, from_ns, to_s, to_ns";

constexpr std::string_view kSubscriberColumns =
    "cloud_id, local_subscription_id, tenant_id, from_s, from_ns, to_s, to_ns";

constexpr std::string_view kStackColumns =
    "cloud_id, deployment_directory_id, billing_model, usage_reporting_enabled, multi_tenant";

constexpr std::string_view kActivationKeyColumns =
    "hash, cloud_id, created_s, created_ns, expires_s, expires_ns";

std::vector<SqlValue> NameKey(const RegistrationName& name) {
  return {GuidValue(name.subscription_id), Lower(name.resource_group), Lower(name.name)};
}

bool SameName(const RegistrationName& a, const RegistrationName& b) {
  return a.subscription_id == b.subscription_id &&
         Lower(a.resource_group) == Lower(b.resource_group) && Lower(a.name) == Lower(b.name);
}

// Everything but validity and the case of the name.
bool SameTerms(Registration a, Registration b) {
  a.valid = b.valid = Validity();
  a.name = b.name;
  return a == b;
}

std::string Describe(const RegistrationName& name) {
  return Cat("registration ", name.subscription_id.ToString(), "/", name.resource_group, "/",
             name.name);
}

absl::Status RegistrationNotFound(const RegistrationName& name) {
  return NotFoundError("RegistrationNotFound", Cat(Describe(name), " not found"));
}

Registration ReadRegistration(Statement& stmt) {
  Registration r;
  r.name.subscription_id = stmt.ReadGuid();
  r.name.resource_group = stmt.ReadText();
  r.name.name = stmt.ReadText();
  r.cloud_id = stmt.ReadGuid();
  r.object_id = stmt.ReadGuid();
  r.billing_model = ReadEnum<BillingModel>(stmt);
  r.multi_tenant = stmt.ReadBool();
  r.usage_reporting_enabled = stmt.ReadBool();
  r.agreement_number = stmt.ReadOptionalText();
  r.ms_asset_tag = stmt.ReadOptionalText();
  const std::string tags = stmt.ReadText();
  if (auto decoded = DecodeTags(tags)) {
    r.tags = std::move(*decoded);
  } else {
    stmt.Corrupt("tags", tags);
  }
  r.valid = ReadValidity(stmt);
  return r;
}

CustomerSubscription ReadCustomerSubscription(Statement& stmt) {
  CustomerSubscription cs;
  cs.registration.subscription_id = stmt.ReadGuid();
  cs.registration.resource_group = stmt.ReadText();
  cs.registration.name = stmt.ReadText();
  cs.cloud_id = stmt.ReadGuid();
  cs.customer_subscription_id = stmt.ReadGuid();
  cs.tenant_id = stmt.ReadGuid();
  cs.valid = ReadValidity(stmt);
  return cs;
}

StackSubscriber ReadSubscriber(Statement& stmt) {
  StackSubscriber subscriber;
  subscriber.cloud_id = stmt.ReadGuid();
  subscriber.local_subscription_id = stmt.ReadGuid();
  subscriber.tenant_id = stmt.ReadGuid();
  subscriber.valid = ReadValidity(stmt);
  return subscriber;
}

Stack ReadStack(Statement& stmt) {
  Stack stack;
  stack.cloud_id = stmt.ReadGuid();
  stack.deployment_directory_id = stmt.ReadGuid();
  stack.billing_model = ReadEnum<BillingModel>(stmt);
  stack.usage_reporting_enabled = stmt.ReadBool();
  stack.multi_tenant = stmt.ReadBool();
  return stack;
}

BillingModelApproval ReadApproval(Statement& stmt) {
  BillingModelApproval approval;
  approval.cloud_id = stmt.ReadGuid();
  approval.billing_model = ReadEnum<BillingModel>(stmt);
  approval.agreement_number = stmt.ReadOptionalText();
  approval.ms_asset_tag = stmt.ReadOptionalText();
  return approval;
}

PartnerParentLink ReadParentLink(Statement& stmt) {
  PartnerParentLink link;
  link.partner_id = stmt.ReadText();
  link.parent_partner_id = stmt.ReadOptionalText();
  link.valid = ReadValidity(stmt);
  return link;
}

SubscriptionOwnership ReadOwnership(Statement& stmt) {
  SubscriptionOwnership owner;
  owner.subscription_id = stmt.ReadGuid();
  owner.partner_id = stmt.ReadOptionalText();
  owner.valid = ReadValidity(stmt);
  return owner;
}

ActivationKeyRecord ReadActivationKey(Statement& stmt) {
  ActivationKeyRecord key;
  key.hash = stmt.ReadBlob();
  key.cloud_id = stmt.ReadGuid();
  key.created_at = stmt.ReadTime();
  key.expires_at = stmt.ReadOptionalTime();
  return key;
}

// Runs `sql` with `values` and appends every row, read by `read`, to `out`.
template <typename T, typename ReadFn>
absl::Status ReadAll(Connection& c, std::string_view sql, const std::vector<SqlValue>& values,
                     ReadFn read, std::vector<T>& out) {
  STACKBILL_ASSIGN_OR_RETURN(Statement stmt, c.Prepare(sql));
  stmt.BindValues(values);
  while (true) {
    STACKBILL_ASSIGN_OR_RETURN(bool row, stmt.Step());
    if (!row) return absl::OkStatus();
    out.push_back(read(stmt));
    STACKBILL_RETURN_IF_ERROR(stmt.read_status());
  }
}

// Like ReadAll, for at most one row.
template <typename T, typename ReadFn>
absl::StatusOr<std::optional<T>> ReadOne(Connection& c, std::string_view sql,
                                         const std::vector<SqlValue>& values, ReadFn read) {
  STACKBILL_ASSIGN_OR_RETURN(Statement stmt, c.Prepare(sql));
  stmt.BindValues(values);
  STACKBILL_ASSIGN_OR_RETURN(bool row, stmt.Step());
  if (!row) return std::optional<T>();
  T value = read(stmt);
  STACKBILL_RETURN_IF_ERROR(stmt.read_status());
  return std::optional<T>(std::move(value));
}

absl::StatusOr<std::optional<Registration>> LoadLive(Connection& c, const RegistrationName& name) {
  return ReadOne<Registration>(c,
                               Cat("SELECT ", kRegistrationColumns, " FROM registrations WHERE ",
                                   kNameCondition, " AND to_s IS NULL"),
                               NameKey(name), ReadRegistration);
}

absl::StatusOr<std::optional<Registration>> LoadLiveByCloud(Connection& c, const Guid& cloud_id) {
  return ReadOne<Registration>(c,
                               Cat("SELECT ", kRegistrationColumns,
                                   " FROM registrations WHERE cloud_id = ? AND to_s IS NULL"),
                               {GuidValue(cloud_id)}, ReadRegistration);
}

// The latest end of an ended version matching `condition`, if any.
absl::StatusOr<std::optional<Timestamp>> LatestEnd(Connection& c, std::string_view condition,
                                                   const std::vector<SqlValue>& values) {
  return ReadOne<Timestamp>(c,
                            Cat("SELECT to_s, to_ns FROM registrations WHERE ", condition,
                                " AND to_s IS NOT NULL ORDER BY to_s DESC, to_ns DESC "
                                "LIMIT 1"),
                            values, [](Statement& s) { return s.ReadTime(); });
}

absl::Status InsertRegistration(Connection& c, const Registration& r) {
  STACKBILL_ASSIGN_OR_RETURN(
      Statement insert,
      c.Prepare(Cat("INSERT INTO registrations (resource_group_key, name_key, ",
                    kRegistrationColumns,
                    ") VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)")));
  insert.BindText(Lower(r.name.resource_group))
      .BindText(Lower(r.name.name))
      .BindGuid(r.name.subscription_id)
      .BindText(r.name.resource_group)
      .BindText(r.name.name)
      .BindGuid(r.cloud_id)
      .BindGuid(r.object_id);
  BindEnum(insert, r.billing_model);
  insert.BindBool(r.multi_tenant)
      .BindBool(r.usage_reporting_enabled)
      .BindOptionalText(r.agreement_number)
      .BindOptionalText(r.ms_asset_tag)
      .BindText(EncodeTags(r.tags));
  BindValidity(insert, r.valid);
  return insert.Run();
}

// Ends a live registration at `at` together with its customer subscriptions
// still in force (ending at their start any that would start later).
absl::StatusOr<Registration> EndLive(Connection& c, Registration live, Timestamp at) {
  if (at < live.valid.from) return VersionOutOfOrder(Describe(live.name), at, live.valid.from);
  std::vector<SqlValue> key = NameKey(live.name);
  STACKBILL_ASSIGN_OR_RETURN(Statement end,
                             c.Prepare(Cat("UPDATE registrations SET to_s = ?, to_ns = ? WHERE ",
                                           kNameCondition, " AND to_s IS NULL")));
  end.BindTime(at).BindValues(key);
  STACKBILL_RETURN_IF_ERROR(end.Run());
  STACKBILL_ASSIGN_OR_RETURN(
      Statement end_customers,
      c.Prepare(Cat("UPDATE customer_subscriptions SET "
                    "to_s = CASE WHEN (from_s, from_ns) > (?1, ?2) THEN from_s ELSE ?1 END, "
                    "to_ns = CASE WHEN (from_s, from_ns) > (?1, ?2) THEN from_ns ELSE ?2 END "
                    "WHERE subscription_id = ?3 AND resource_group_key = ?4 AND name_key = ?5 "
                    "AND to_s IS NULL")));
  end_customers.BindTime(at).BindValues(key);
  STACKBILL_RETURN_IF_ERROR(end_customers.Run());
  live.valid.to = at;
  return live;
}

class SqlRegistrationStore final : public RegistrationStore {
 public:
  explicit SqlRegistrationStore(Database& database) : db_(database) {}

  absl::StatusOr<Stack> GetStack(const Guid& cloud_id) override {
    std::optional<Stack> stack;
    STACKBILL_RETURN_IF_ERROR(db_.Read([&](Connection& c) -> absl::Status {
      STACKBILL_ASSIGN_OR_RETURN(
          stack, ReadOne<Stack>(c, Cat("SELECT ", kStackColumns, " FROM stacks WHERE cloud_id = ?"),
                                {GuidValue(cloud_id)}, ReadStack));
      return absl::OkStatus();
    }));
    if (!stack) return StackNotFound(cloud_id);
    return *stack;
  }

  absl::StatusOr<std::vector<Stack>> ListStacks() override {
    std::vector<Stack> stacks;
    STACKBILL_RETURN_IF_ERROR(db_.Read([&](Connection& c) {
      return ReadAll(c, Cat("SELECT ", kStackColumns, " FROM stacks ORDER BY cloud_id"), {},
                     ReadStack, stacks);
    }));
    return stacks;
  }

  absl::Status PutBillingModelApproval(const BillingModelApproval& approval) override {
    return db_.Write([&](Connection& c) -> absl::Status {
      STACKBILL_ASSIGN_OR_RETURN(
          Statement put,
          c.Prepare("INSERT INTO billing_model_approvals "
                    "(cloud_id, billing_model, agreement_number, ms_asset_tag) VALUES (?, ?, ?, ?) "
                    "ON CONFLICT (cloud_id) DO UPDATE SET billing_model = excluded.billing_model, "
                    "agreement_number = excluded.agreement_number, "
                    "ms_asset_tag = excluded.ms_asset_tag"));
      put.BindGuid(approval.cloud_id);
      BindEnum(put, approval.billing_model);
      put.BindOptionalText(approval.agreement_number).BindOptionalText(approval.ms_asset_tag);
      return put.Run();
    });
  }

  absl::StatusOr<BillingModelApproval> GetBillingModelApproval(const Guid& cloud_id) override {
    std::optional<BillingModelApproval> approval;
    STACKBILL_RETURN_IF_ERROR(db_.Read([&](Connection& c) -> absl::Status {
      STACKBILL_ASSIGN_OR_RETURN(
          approval, ReadOne<BillingModelApproval>(
                        c,
                        "SELECT cloud_id, billing_model, agreement_number, ms_asset_tag "
                        "FROM billing_model_approvals WHERE cloud_id = ?",
                        {GuidValue(cloud_id)}, ReadApproval));
      return absl::OkStatus();
    }));
    if (!approval) {
      return NotFoundError("ApprovalNotFound",
                           Cat("cloud ", cloud_id.ToString(), " has no billing-model approval"));
    }
    return *approval;
  }

  absl::StatusOr<PutRegistrationResult> PutRegistration(const Registration& registration,
                                                        const Stack& stack) override {
    if (registration.valid.to) {
      return absl::InvalidArgumentError(
          Cat(Describe(registration.name), ": a new version cannot have an end"));
    }
    if (stack.cloud_id != registration.cloud_id) {
      return absl::InvalidArgumentError(
          Cat(Describe(registration.name), ": the stack's cloudId ", stack.cloud_id.ToString(),
              " is not the registration's ", registration.cloud_id.ToString()));
    }
    const Timestamp from = registration.valid.from;
    PutRegistrationResult result;
    STACKBILL_RETURN_IF_ERROR(db_.Write([&](Connection& c) -> absl::Status {
      STACKBILL_ASSIGN_OR_RETURN(bool subscription,
                                 RowExists(c, "SELECT 1 FROM subscriptions WHERE id = ?",
                                           {GuidValue(registration.name.subscription_id)}));
      if (!subscription) {
        return NotFoundError(
            "SubscriptionNotFound",
            Cat("subscription ", registration.name.subscription_id.ToString(), " not found"));
      }
      STACKBILL_ASSIGN_OR_RETURN(std::optional<Registration> live, LoadLive(c, registration.name));
      STACKBILL_ASSIGN_OR_RETURN(std::optional<Registration> holder,
                                 LoadLiveByCloud(c, registration.cloud_id));
      if (holder && !SameName(holder->name, registration.name)) {
        return AlreadyExistsError(
            store_errors::kCloudAlreadyRegistered,
            Cat("Cloud identifier ", registration.cloud_id.ToString(), " is already registered"));
      }
      if (live && live->cloud_id != registration.cloud_id) {
        return FailedPreconditionError(
            store_errors::kRegistrationCloudIdMismatch,
            Cat(Describe(registration.name), " is registered for cloud ", live->cloud_id.ToString(),
                ", not ", registration.cloud_id.ToString()));
      }
      STACKBILL_RETURN_IF_ERROR(UpsertStack(c, stack));
      if (live && SameTerms(*live, registration)) {
        result.registration = *live;
        return absl::OkStatus();
      }
      if (live && from < live->valid.from) {
        return VersionOutOfOrder(Describe(registration.name), from, live->valid.from);
      }
      if (!live) {
        STACKBILL_ASSIGN_OR_RETURN(std::optional<Timestamp> name_end,
                                   LatestEnd(c, kNameCondition, NameKey(registration.name)));
        STACKBILL_ASSIGN_OR_RETURN(
            std::optional<Timestamp> cloud_end,
            LatestEnd(c, "cloud_id = ?", {GuidValue(registration.cloud_id)}));
        for (const auto& end : {name_end, cloud_end}) {
          if (end && *end > from) return VersionOutOfOrder(Describe(registration.name), from, *end);
        }
      }
      Registration next = registration;
      if (live) {
        // Keep the name as first written; ARM compares it case-insensitively.
        next.name = live->name;
        if (from == live->valid.from) {
          STACKBILL_RETURN_IF_ERROR(
              c.Run(Cat("DELETE FROM registrations WHERE ", kNameCondition, " AND to_s IS NULL"),
                    NameKey(live->name)));
        } else {
          STACKBILL_ASSIGN_OR_RETURN(
              Statement end, c.Prepare(Cat("UPDATE registrations SET to_s = ?, to_ns = ? WHERE ",
                                           kNameCondition, " AND to_s IS NULL")));
          end.BindTime(from).BindValues(NameKey(live->name));
          STACKBILL_RETURN_IF_ERROR(end.Run());
          result.previous = *live;
          result.previous->valid.to = from;
        }
      }
      STACKBILL_RETURN_IF_ERROR(InsertRegistration(c, next));
      result.registration = next;
      result.created = !live;
      return absl::OkStatus();
    }));
    return result;
  }

  absl::StatusOr<Registration> GetRegistration(const RegistrationName& name) override {
    std::optional<Registration> live;
    STACKBILL_RETURN_IF_ERROR(db_.Read([&](Connection& c) -> absl::Status {
      STACKBILL_ASSIGN_OR_RETURN(live, LoadLive(c, name));
      return absl::OkStatus();
    }));
    if (!live) return RegistrationNotFound(name);
    return *live;
  }

  absl::StatusOr<Registration> FindRegistrationByCloud(const Guid& cloud_id) override {
    std::optional<Registration> live;
    STACKBILL_RETURN_IF_ERROR(db_.Read([&](Connection& c) -> absl::Status {
      STACKBILL_ASSIGN_OR_RETURN(live, LoadLiveByCloud(c, cloud_id));
      return absl::OkStatus();
    }));
    if (!live) return CloudNotRegistered(cloud_id);
    return *live;
  }

  absl::StatusOr<std::vector<Registration>> ListRegistrations(
      const RegistrationFilter& filter) override {
    if (filter.resource_group && !filter.subscription_id) {
      return absl::InvalidArgumentError("a resource group filter needs a subscription");
    }
    Where where;
    where.Add("to_s IS NULL");
    if (filter.subscription_id)
      where.Add("subscription_id = ?", {GuidValue(*filter.subscription_id)});
    if (filter.resource_group) {
      where.Add("resource_group_key = ?", {Lower(*filter.resource_group)});
    }
    std::vector<Registration> registrations;
    STACKBILL_RETURN_IF_ERROR(db_.Read([&](Connection& c) {
      return ReadAll(c,
                     Cat("SELECT ", kRegistrationColumns, " FROM registrations", where.Sql(),
                         " ORDER BY subscription_id, resource_group_key, name_key"),
                     where.values(), ReadRegistration, registrations);
    }));
    return registrations;
  }

  absl::StatusOr<std::vector<Registration>> ListRegistrationVersions(
      const RegistrationName& name) override {
    std::vector<Registration> versions;
    STACKBILL_RETURN_IF_ERROR(db_.Read([&](Connection& c) {
      return ReadAll(c,
                     Cat("SELECT ", kRegistrationColumns, " FROM registrations WHERE ",
                         kNameCondition, " ORDER BY from_s, from_ns"),
                     NameKey(name), ReadRegistration, versions);
    }));
    return versions;
  }

  absl::StatusOr<Registration> EndRegistration(const RegistrationName& name,
                                               Timestamp at) override {
    Registration ended;
    STACKBILL_RETURN_IF_ERROR(db_.Write([&](Connection& c) -> absl::Status {
      STACKBILL_ASSIGN_OR_RETURN(std::optional<Registration> live, LoadLive(c, name));
      if (!live) return RegistrationNotFound(name);
      STACKBILL_ASSIGN_OR_RETURN(ended, EndLive(c, *std::move(live), at));
      return absl::OkStatus();
    }));
    return ended;
  }

  absl::StatusOr<Registration> ReleaseCloudClaim(const Guid& cloud_id, Timestamp at) override {
    Registration ended;
    STACKBILL_RETURN_IF_ERROR(db_.Write([&](Connection& c) -> absl::Status {
      STACKBILL_ASSIGN_OR_RETURN(std::optional<Registration> live, LoadLiveByCloud(c, cloud_id));
      if (!live) return CloudNotRegistered(cloud_id);
      STACKBILL_ASSIGN_OR_RETURN(ended, EndLive(c, *std::move(live), at));
      return absl::OkStatus();
    }));
    return ended;
  }

  absl::StatusOr<PutCustomerSubscriptionResult> PutCustomerSubscription(
      const CustomerSubscription& cs) override {
    if (cs.valid.to) {
      return absl::InvalidArgumentError(Cat("customer subscription ",
                                            cs.customer_subscription_id.ToString(),
                                            ": a new version cannot have an end"));
    }
    const Timestamp from = cs.valid.from;
    PutCustomerSubscriptionResult result;
    STACKBILL_RETURN_IF_ERROR(db_.Write([&](Connection& c) -> absl::Status {
      STACKBILL_ASSIGN_OR_RETURN(std::optional<Registration> registration,
                                 LoadLive(c, cs.registration));
      if (!registration) return RegistrationNotFound(cs.registration);
      STACKBILL_ASSIGN_OR_RETURN(bool known,
                                 RowExists(c, "SELECT 1 FROM subscriptions WHERE id = ?",
                                           {GuidValue(cs.customer_subscription_id)}));
      if (!known) {
        return NotFoundError(
            "SubscriptionNotFound",
            Cat("subscription ", cs.customer_subscription_id.ToString(), " not found"));
      }
      const std::vector<SqlValue> key = NameKey(registration->name);
      // Every version of this tenant or this customer subscription in force
      // at or after `from`.
      std::vector<CustomerSubscription> overlapping;
      std::vector<SqlValue> values = key;
      values.push_back(GuidValue(cs.tenant_id));
      values.push_back(GuidValue(cs.customer_subscription_id));
      values.push_back(std::int64_t{from.unix_seconds()});
      values.push_back(std::int64_t{from.nanos()});
      STACKBILL_RETURN_IF_ERROR(
          ReadAll(c,
                  Cat("SELECT ", kCustomerSubscriptionColumns,
                      " FROM customer_subscriptions WHERE ", kNameCondition,
                      " AND (tenant_id = ? OR customer_subscription_id = ?) "
                      "AND (to_s IS NULL OR (to_s, to_ns) > (?, ?)) ORDER BY from_s, from_ns"),
                  values, ReadCustomerSubscription, overlapping));

      const CustomerSubscription* same = nullptr;
      bool was_live = false;
      for (const auto& v : overlapping) {
        if (v.valid.IsOpen() && v.customer_subscription_id == cs.customer_subscription_id) {
          was_live = true;
          if (v.tenant_id == cs.tenant_id) same = &v;
        }
      }
      if (same != nullptr && same->valid.from <= from) {
        result.customer_subscription = *same;
        return absl::OkStatus();
      }
      const std::string what =
          Cat(Describe(registration->name), ": customer subscription ",
              cs.customer_subscription_id.ToString(), " for tenant ", cs.tenant_id.ToString());
      for (const auto& v : overlapping) {
        if (&v != same && v.valid.from >= from) return VersionOutOfOrder(what, from, v.valid.from);
      }
      for (const auto& v : overlapping) {
        if (&v == same) continue;
        STACKBILL_ASSIGN_OR_RETURN(
            Statement end,
            c.Prepare(Cat("UPDATE customer_subscriptions SET to_s = ?, to_ns = ? WHERE ",
                          kNameCondition,
                          " AND customer_subscription_id = ? AND from_s = ? "
                          "AND from_ns = ?")));
        end.BindTime(from)
            .BindValues(key)
            .BindGuid(v.customer_subscription_id)
            .BindTime(v.valid.from);
        STACKBILL_RETURN_IF_ERROR(end.Run());
        CustomerSubscription ended = v;
        ended.valid.to = from;
        result.ended.push_back(std::move(ended));
      }
      CustomerSubscription next;
      next.registration = registration->name;
      next.cloud_id = registration->cloud_id;
      next.customer_subscription_id = cs.customer_subscription_id;
      next.tenant_id = cs.tenant_id;
      next.valid.from = from;
      if (same != nullptr) {
        // An effectiveFrom correction: the version in force starts earlier.
        STACKBILL_ASSIGN_OR_RETURN(
            Statement move,
            c.Prepare(Cat("UPDATE customer_subscriptions SET from_s = ?, from_ns = ? "
                          "WHERE ",
                          kNameCondition, " AND customer_subscription_id = ? AND to_s IS NULL")));
        move.BindTime(from).BindValues(key).BindGuid(cs.customer_subscription_id);
        STACKBILL_RETURN_IF_ERROR(move.Run());
      } else {
        STACKBILL_ASSIGN_OR_RETURN(
            Statement insert,
            c.Prepare("INSERT INTO customer_subscriptions (resource_group_key, name_key, "
                      "subscription_id, resource_group, name, cloud_id, customer_subscription_id, "
                      "tenant_id, from_s, from_ns, to_s, to_ns) "
                      "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, NULL, NULL)"));
        insert.BindText(Lower(next.registration.resource_group))
            .BindText(Lower(next.registration.name))
            .BindGuid(next.registration.subscription_id)
            .BindText(next.registration.resource_group)
            .BindText(next.registration.name)
            .BindGuid(next.cloud_id)
            .BindGuid(next.customer_subscription_id)
            .BindGuid(next.tenant_id)
            .BindTime(from);
        STACKBILL_RETURN_IF_ERROR(insert.Run());
      }
      result.customer_subscription = std::move(next);
      result.created = !was_live;
      return absl::OkStatus();
    }));
    return result;
  }

  absl::StatusOr<CustomerSubscription> GetCustomerSubscription(
      const RegistrationName& registration, const Guid& customer_subscription_id) override {
    std::optional<CustomerSubscription> cs;
    STACKBILL_RETURN_IF_ERROR(db_.Read([&](Connection& c) -> absl::Status {
      STACKBILL_ASSIGN_OR_RETURN(cs, LoadLiveCustomer(c, registration, customer_subscription_id));
      return absl::OkStatus();
    }));
    if (!cs) return CustomerSubscriptionNotFound(registration, customer_subscription_id);
    return *cs;
  }

  absl::StatusOr<std::vector<CustomerSubscription>> ListCustomerSubscriptions(
      const RegistrationName& registration) override {
    return ListCustomers(registration, " AND to_s IS NULL");
  }

  absl::StatusOr<std::vector<CustomerSubscription>> ListCustomerSubscriptionVersions(
      const RegistrationName& registration) override {
    return ListCustomers(registration, "");
  }

  absl::StatusOr<CustomerSubscription> EndCustomerSubscription(const RegistrationName& registration,
                                                               const Guid& customer_subscription_id,
                                                               Timestamp at) override {
    std::optional<CustomerSubscription> cs;
    STACKBILL_RETURN_IF_ERROR(db_.Write([&](Connection& c) -> absl::Status {
      STACKBILL_ASSIGN_OR_RETURN(cs, LoadLiveCustomer(c, registration, customer_subscription_id));
      if (!cs) return absl::OkStatus();
      if (at < cs->valid.from) {
        return VersionOutOfOrder(Cat(Describe(registration), ": customer subscription ",
                                     customer_subscription_id.ToString()),
                                 at, cs->valid.from);
      }
      STACKBILL_ASSIGN_OR_RETURN(
          Statement end,
          c.Prepare(Cat("UPDATE customer_subscriptions SET to_s = ?, to_ns = ? WHERE ",
                        kNameCondition, " AND customer_subscription_id = ? AND to_s IS NULL")));
      end.BindTime(at).BindValues(NameKey(registration)).BindGuid(customer_subscription_id);
      STACKBILL_RETURN_IF_ERROR(end.Run());
      cs->valid.to = at;
      return absl::OkStatus();
    }));
    if (!cs) return CustomerSubscriptionNotFound(registration, customer_subscription_id);
    return *cs;
  }

  absl::StatusOr<bool> PutStackSubscriber(const StackSubscriber& subscriber) override {
    if (subscriber.valid.to) {
      return absl::InvalidArgumentError("a new stack subscriber version cannot have an end");
    }
    bool changed = false;
    STACKBILL_RETURN_IF_ERROR(db_.Write([&](Connection& c) -> absl::Status {
      STACKBILL_RETURN_IF_ERROR(CheckStack(c, subscriber.cloud_id));
      STACKBILL_ASSIGN_OR_RETURN(
          changed,
          StartVersion(
              c, kSubscribers,
              {GuidValue(subscriber.cloud_id), GuidValue(subscriber.local_subscription_id)},
              GuidValue(subscriber.tenant_id), subscriber.valid.from,
              DescribeSubscriber(subscriber.cloud_id, subscriber.local_subscription_id)));
      return absl::OkStatus();
    }));
    return changed;
  }

  absl::StatusOr<StackSubscriber> GetStackSubscriber(const Guid& cloud_id,
                                                     const Guid& local_subscription_id) override {
    std::optional<StackSubscriber> subscriber;
    STACKBILL_RETURN_IF_ERROR(db_.Read([&](Connection& c) -> absl::Status {
      STACKBILL_ASSIGN_OR_RETURN(subscriber,
                                 LoadLiveSubscriber(c, cloud_id, local_subscription_id));
      return absl::OkStatus();
    }));
    if (!subscriber) return SubscriberNotFound(cloud_id, local_subscription_id);
    return *subscriber;
  }

  absl::StatusOr<std::vector<StackSubscriber>> ListStackSubscribers(const Guid& cloud_id) override {
    std::vector<StackSubscriber> subscribers;
    STACKBILL_RETURN_IF_ERROR(db_.Read([&](Connection& c) {
      return ReadAll(c,
                     Cat("SELECT ", kSubscriberColumns,
                         " FROM stack_subscribers WHERE cloud_id = ? AND to_s IS NULL "
                         "ORDER BY local_subscription_id"),
                     {GuidValue(cloud_id)}, ReadSubscriber, subscribers);
    }));
    return subscribers;
  }

  absl::StatusOr<StackSubscriber> EndStackSubscriber(const Guid& cloud_id,
                                                     const Guid& local_subscription_id,
                                                     Timestamp at) override {
    std::optional<StackSubscriber> subscriber;
    STACKBILL_RETURN_IF_ERROR(db_.Write([&](Connection& c) -> absl::Status {
      STACKBILL_ASSIGN_OR_RETURN(subscriber,
                                 LoadLiveSubscriber(c, cloud_id, local_subscription_id));
      if (!subscriber) return absl::OkStatus();
      STACKBILL_RETURN_IF_ERROR(EndVersion(c, kSubscribers,
                                           {GuidValue(cloud_id), GuidValue(local_subscription_id)},
                                           at, DescribeSubscriber(cloud_id, local_subscription_id))
                                    .status());
      subscriber->valid.to = at;
      return absl::OkStatus();
    }));
    if (!subscriber) return SubscriberNotFound(cloud_id, local_subscription_id);
    return *subscriber;
  }

  absl::Status RotateActivationKey(const ActivationKeyRecord& key,
                                   Timestamp previous_expire_at) override {
    if (key.hash.empty()) return absl::InvalidArgumentError("an activation key needs a hash");
    return db_.Write([&](Connection& c) -> absl::Status {
      STACKBILL_RETURN_IF_ERROR(CheckStack(c, key.cloud_id));
      STACKBILL_ASSIGN_OR_RETURN(
          bool taken,
          RowExists(c, "SELECT 1 FROM activation_keys WHERE hash = ?", {BlobValue(key.hash)}));
      if (taken) {
        return AlreadyExistsError("ActivationKeyAlreadyExists",
                                  "an activation key with this hash already exists");
      }
      STACKBILL_RETURN_IF_ERROR(ExpireKeys(c, key.cloud_id, previous_expire_at));
      STACKBILL_ASSIGN_OR_RETURN(
          Statement insert, c.Prepare(Cat("INSERT INTO activation_keys (", kActivationKeyColumns,
                                          ") VALUES (?, ?, ?, ?, ?, ?)")));
      insert.BindBlob(key.hash)
          .BindGuid(key.cloud_id)
          .BindTime(key.created_at)
          .BindOptionalTime(key.expires_at);
      return insert.Run();
    });
  }

  absl::StatusOr<ActivationKeyRecord> FindActivationKeyByHash(std::string_view hash,
                                                              Timestamp now) override {
    std::optional<ActivationKeyRecord> key;
    STACKBILL_RETURN_IF_ERROR(db_.Read([&](Connection& c) -> absl::Status {
      STACKBILL_ASSIGN_OR_RETURN(
          key, ReadOne<ActivationKeyRecord>(
                   c, Cat("SELECT ", kActivationKeyColumns, " FROM activation_keys WHERE hash = ?"),
                   {BlobValue(hash)}, ReadActivationKey));
      return absl::OkStatus();
    }));
    if (!key || !key->IsActiveAt(now)) {
      return NotFoundError(store_errors::kInvalidActivationKey,
                           "no active activation key has this hash");
    }
    return *key;
  }

  absl::Status ExpireActivationKeys(const Guid& cloud_id, Timestamp at) override {
    return db_.Write([&](Connection& c) { return ExpireKeys(c, cloud_id, at); });
  }

  absl::StatusOr<History> LoadHistory() override {
    History history;
    STACKBILL_RETURN_IF_ERROR(db_.Read([&](Connection& c) -> absl::Status {
      STACKBILL_RETURN_IF_ERROR(
          ReadAll(c, Cat("SELECT ", kPartnerColumns, " FROM partners ORDER BY id"), {}, ReadPartner,
                  history.partners));
      STACKBILL_RETURN_IF_ERROR(
          ReadAll(c,
                  "SELECT partner_id, parent_partner_id, from_s, from_ns, to_s, to_ns "
                  "FROM partner_parent_links ORDER BY partner_id, from_s, from_ns",
                  {}, ReadParentLink, history.partner_parents));
      STACKBILL_RETURN_IF_ERROR(
          ReadAll(c, Cat("SELECT ", kSubscriptionColumns, " FROM subscriptions ORDER BY id"), {},
                  ReadSubscription, history.subscriptions));
      STACKBILL_RETURN_IF_ERROR(
          ReadAll(c,
                  "SELECT subscription_id, partner_id, from_s, from_ns, to_s, to_ns "
                  "FROM subscription_owners ORDER BY subscription_id, from_s, from_ns",
                  {}, ReadOwnership, history.subscription_owners));
      STACKBILL_RETURN_IF_ERROR(
          ReadAll(c, Cat("SELECT ", kStackColumns, " FROM stacks ORDER BY cloud_id"), {}, ReadStack,
                  history.stacks));
      STACKBILL_RETURN_IF_ERROR(
          ReadAll(c,
                  "SELECT cloud_id, billing_model, agreement_number, ms_asset_tag "
                  "FROM billing_model_approvals ORDER BY cloud_id",
                  {}, ReadApproval, history.approvals));
      STACKBILL_RETURN_IF_ERROR(ReadAll(c,
                                        Cat("SELECT ", kRegistrationColumns,
                                            " FROM registrations ORDER BY subscription_id, "
                                            "resource_group_key, name_key, from_s, from_ns"),
                                        {}, ReadRegistration, history.registrations));
      STACKBILL_RETURN_IF_ERROR(
          ReadAll(c,
                  Cat("SELECT ", kCustomerSubscriptionColumns,
                      " FROM customer_subscriptions ORDER BY subscription_id, "
                      "resource_group_key, name_key, customer_subscription_id, from_s, "
                      "from_ns"),
                  {}, ReadCustomerSubscription, history.customer_subscriptions));
      STACKBILL_RETURN_IF_ERROR(ReadAll(c,
                                        Cat("SELECT ", kSubscriberColumns,
                                            " FROM stack_subscribers ORDER BY cloud_id, "
                                            "local_subscription_id, from_s, from_ns"),
                                        {}, ReadSubscriber, history.stack_subscribers));
      STACKBILL_ASSIGN_OR_RETURN(history.version, ReadHistoryVersion(c));
      return absl::OkStatus();
    }));
    return history;
  }

  absl::StatusOr<std::int64_t> HistoryVersion() override {
    std::int64_t version = 0;
    STACKBILL_RETURN_IF_ERROR(db_.Read([&](Connection& c) -> absl::Status {
      STACKBILL_ASSIGN_OR_RETURN(version, ReadHistoryVersion(c));
      return absl::OkStatus();
    }));
    return version;
  }

 private:
  static absl::Status StackNotFound(const Guid& cloud_id) {
    return NotFoundError("StackNotFound", Cat("stack ", cloud_id.ToString(), " not found"));
  }

  static absl::Status CloudNotRegistered(const Guid& cloud_id) {
    return NotFoundError("CloudNotRegistered",
                         Cat("cloud ", cloud_id.ToString(), " has no registration in force"));
  }

  static absl::Status CustomerSubscriptionNotFound(const RegistrationName& registration,
                                                   const Guid& id) {
    return NotFoundError(
        "CustomerSubscriptionNotFound",
        Cat(Describe(registration), ": customer subscription ", id.ToString(), " not found"));
  }

  static std::string DescribeSubscriber(const Guid& cloud_id, const Guid& local) {
    return Cat("stack ", cloud_id.ToString(), ": subscriber ", local.ToString());
  }

  static absl::Status SubscriberNotFound(const Guid& cloud_id, const Guid& local) {
    return NotFoundError("StackSubscriberNotFound",
                         Cat(DescribeSubscriber(cloud_id, local), " not found"));
  }

  static absl::Status CheckStack(Connection& c, const Guid& cloud_id) {
    STACKBILL_ASSIGN_OR_RETURN(bool exists, RowExists(c, "SELECT 1 FROM stacks WHERE cloud_id = ?",
                                                      {GuidValue(cloud_id)}));
    return exists ? absl::OkStatus() : StackNotFound(cloud_id);
  }

  static absl::Status UpsertStack(Connection& c, const Stack& stack) {
    STACKBILL_ASSIGN_OR_RETURN(
        Statement put,
        c.Prepare(Cat("INSERT INTO stacks (", kStackColumns,
                      ") VALUES (?, ?, ?, ?, ?) ON CONFLICT (cloud_id) DO UPDATE SET "
                      "deployment_directory_id = excluded.deployment_directory_id, "
                      "billing_model = excluded.billing_model, "
                      "usage_reporting_enabled = excluded.usage_reporting_enabled, "
                      "multi_tenant = excluded.multi_tenant")));
    put.BindGuid(stack.cloud_id).BindGuid(stack.deployment_directory_id);
    BindEnum(put, stack.billing_model);
    put.BindBool(stack.usage_reporting_enabled).BindBool(stack.multi_tenant);
    return put.Run();
  }

  static absl::Status ExpireKeys(Connection& c, const Guid& cloud_id, Timestamp at) {
    STACKBILL_ASSIGN_OR_RETURN(
        Statement expire,
        c.Prepare("UPDATE activation_keys SET expires_s = ?1, expires_ns = ?2 "
                  "WHERE cloud_id = ?3 AND (expires_s IS NULL OR (expires_s, expires_ns) > "
                  "(?1, ?2))"));
    expire.BindTime(at).BindGuid(cloud_id);
    return expire.Run();
  }

  static absl::StatusOr<std::optional<CustomerSubscription>> LoadLiveCustomer(
      Connection& c, const RegistrationName& registration, const Guid& id) {
    std::vector<SqlValue> values = NameKey(registration);
    values.push_back(GuidValue(id));
    return ReadOne<CustomerSubscription>(
        c,
        Cat("SELECT ", kCustomerSubscriptionColumns, " FROM customer_subscriptions WHERE ",
            kNameCondition, " AND customer_subscription_id = ? AND to_s IS NULL"),
        values, ReadCustomerSubscription);
  }

  static absl::StatusOr<std::optional<StackSubscriber>> LoadLiveSubscriber(Connection& c,
                                                                           const Guid& cloud_id,
                                                                           const Guid& local) {
    return ReadOne<StackSubscriber>(
        c,
        Cat("SELECT ", kSubscriberColumns,
            " FROM stack_subscribers WHERE cloud_id = ? AND local_subscription_id = ? "
            "AND to_s IS NULL"),
        {GuidValue(cloud_id), GuidValue(local)}, ReadSubscriber);
  }

  absl::StatusOr<std::vector<CustomerSubscription>> ListCustomers(
      const RegistrationName& registration, std::string_view live_only) {
    std::vector<CustomerSubscription> list;
    STACKBILL_RETURN_IF_ERROR(db_.Read([&](Connection& c) {
      return ReadAll(
          c,
          Cat("SELECT ", kCustomerSubscriptionColumns, " FROM customer_subscriptions WHERE ",
              kNameCondition, live_only, " ORDER BY customer_subscription_id, from_s, from_ns"),
          NameKey(registration), ReadCustomerSubscription, list);
    }));
    return list;
  }

  Database& db_;
};

}  // namespace

std::unique_ptr<RegistrationStore> NewSqlRegistrationStore(Database& database) {
  return std::make_unique<SqlRegistrationStore>(database);
}

}  // namespace stackbill::sql
