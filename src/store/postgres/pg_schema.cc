// The PostgreSQL schema as an ordered list of migrations: the PostgreSQL twin
// of the SQLite schema (store/sqlite/sqlite_schema.cc) at SQLite version 9.
// Version 1 here is the end state of SQLite's nine migrations, not their
// history. Both backends must keep the same table and column names, because
// store/sql/*.cc runs one SQL text on both: a change to one schema is a new
// migration in each.
//
// Types, from store/sql/database.h's encodings: Guids and other blobs are
// bytea; integers, `*_s`/`*_ns` timestamp pairs and 0/1 booleans are bigint;
// decimal quantities, prices, amounts and markups are numeric (read back as
// text and parsed by core/decimal.h, which takes trailing zeros); every other
// text is `text COLLATE "C"`, which compares and sorts bytewise like SQLite's
// BINARY whatever the database's locale (the rollup pages merge rows in C++
// string order: store/sql/usage_rollups.cc). SQLite's rowid aliases are
// identity columns.
//
// Where SQLite's schema does something PostgreSQL cannot, this one differs:
//   - adjustments.rowid: the shared SQL lists adjustments ORDER BY rowid
//     (their order of insertion, SQLite's implicit rowid); PostgreSQL has no
//     rowid, so an identity column of that name stands in for it.
//   - quarantine_pending_by_text is a hash index: a btree entry holds at most
//     ~2.7 kB and raw_text is a whole bad record.
//   - triggers are PL/pgSQL functions with the same effects and messages.

#include "store/postgres/pg_schema.h"

#include <array>

namespace stackbill::postgres {
namespace {

constexpr std::string_view kVersion1 = R"sql(
-- Parties -------------------------------------------------------------------

CREATE TABLE partners (
  id               text COLLATE "C" NOT NULL PRIMARY KEY,
  name             text COLLATE "C" NOT NULL,
  kind             text COLLATE "C" NOT NULL,
  billing_currency text COLLATE "C" NOT NULL
);

CREATE TABLE partner_parent_links (
  partner_id        text COLLATE "C" NOT NULL REFERENCES partners (id),
  parent_partner_id text COLLATE "C" REFERENCES partners (id),
  from_s bigint NOT NULL, from_ns bigint NOT NULL,
  to_s   bigint,          to_ns   bigint,
  PRIMARY KEY (partner_id, from_s, from_ns)
);

CREATE TABLE directories (
  id               bytea NOT NULL PRIMARY KEY,
  display_name     text COLLATE "C" NOT NULL,
  owner_partner_id text COLLATE "C" REFERENCES partners (id)
);

-- domain_key is the lower-cased domain: unique across directories.
CREATE TABLE directory_domains (
  domain_key   text COLLATE "C" NOT NULL PRIMARY KEY,
  domain       text COLLATE "C" NOT NULL,
  directory_id bytea NOT NULL REFERENCES directories (id),
  position     bigint NOT NULL
);
CREATE INDEX directory_domains_by_directory ON directory_domains (directory_id, position);

CREATE TABLE principals (
  object_id    bytea NOT NULL PRIMARY KEY,
  directory_id bytea NOT NULL REFERENCES directories (id),
  name         text COLLATE "C" NOT NULL,
  name_key     text COLLATE "C" NOT NULL,
  kind         text COLLATE "C" NOT NULL,
  UNIQUE (directory_id, name_key)
);

-- Bearer tokens: only the hash of the secret is stored.
CREATE TABLE tokens (
  id           text COLLATE "C" NOT NULL PRIMARY KEY,
  principal_id bytea NOT NULL REFERENCES principals (object_id),
  hash         bytea NOT NULL UNIQUE,
  created_s bigint NOT NULL, created_ns bigint NOT NULL,
  expires_s bigint NOT NULL, expires_ns bigint NOT NULL,
  revoked_s bigint,          revoked_ns bigint
);
CREATE INDEX tokens_by_principal ON tokens (principal_id);

CREATE TABLE role_assignments (
  id           text COLLATE "C" NOT NULL PRIMARY KEY,
  principal_id bytea NOT NULL REFERENCES principals (object_id),
  role         text COLLATE "C" NOT NULL,
  scope        text COLLATE "C" NOT NULL
);
CREATE INDEX role_assignments_by_principal ON role_assignments (principal_id);

CREATE TABLE subscriptions (
  id               bytea NOT NULL PRIMARY KEY,
  offer_type       text COLLATE "C" NOT NULL,
  directory_id     bytea NOT NULL REFERENCES directories (id),
  partner_id       text COLLATE "C" REFERENCES partners (id),
  billing_currency text COLLATE "C",
  display_name     text COLLATE "C" NOT NULL,
  state            text COLLATE "C" NOT NULL
);
CREATE INDEX subscriptions_by_partner ON subscriptions (partner_id);
CREATE INDEX subscriptions_by_directory ON subscriptions (directory_id);

CREATE TABLE subscription_owners (
  subscription_id bytea NOT NULL REFERENCES subscriptions (id),
  partner_id      text COLLATE "C" REFERENCES partners (id),
  from_s bigint NOT NULL, from_ns bigint NOT NULL,
  to_s   bigint,          to_ns   bigint,
  PRIMARY KEY (subscription_id, from_s, from_ns)
);

-- Stacks and registrations ------------------------------------------------

CREATE TABLE stacks (
  cloud_id                bytea NOT NULL PRIMARY KEY,
  deployment_directory_id bytea NOT NULL,
  billing_model           text COLLATE "C" NOT NULL,
  usage_reporting_enabled bigint NOT NULL,
  multi_tenant            bigint NOT NULL
);

CREATE TABLE billing_model_approvals (
  cloud_id         bytea NOT NULL PRIMARY KEY,
  billing_model    text COLLATE "C" NOT NULL,
  agreement_number text COLLATE "C",
  ms_asset_tag     text COLLATE "C"
);

-- A registration is keyed by its default subscription and the lower-cased
-- resource group and name (ARM compares them case-insensitively).
CREATE TABLE registrations (
  subscription_id         bytea NOT NULL REFERENCES subscriptions (id),
  resource_group_key      text COLLATE "C" NOT NULL,
  name_key                text COLLATE "C" NOT NULL,
  resource_group          text COLLATE "C" NOT NULL,
  name                    text COLLATE "C" NOT NULL,
  cloud_id                bytea NOT NULL REFERENCES stacks (cloud_id),
  object_id               bytea NOT NULL,
  billing_model           text COLLATE "C" NOT NULL,
  multi_tenant            bigint NOT NULL,
  usage_reporting_enabled bigint NOT NULL,
  agreement_number        text COLLATE "C",
  ms_asset_tag            text COLLATE "C",
  tags                    text COLLATE "C" NOT NULL,
  from_s bigint NOT NULL, from_ns bigint NOT NULL,
  to_s   bigint,          to_ns   bigint,
  PRIMARY KEY (subscription_id, resource_group_key, name_key, from_s, from_ns)
);
CREATE UNIQUE INDEX registrations_live_by_name
  ON registrations (subscription_id, resource_group_key, name_key) WHERE to_s IS NULL;
-- R3: the live registration of a cloudId is its claim; there is at most one.
CREATE UNIQUE INDEX registrations_live_by_cloud ON registrations (cloud_id) WHERE to_s IS NULL;
CREATE INDEX registrations_by_cloud ON registrations (cloud_id, from_s, from_ns);

CREATE TABLE customer_subscriptions (
  subscription_id          bytea NOT NULL,
  resource_group_key       text COLLATE "C" NOT NULL,
  name_key                 text COLLATE "C" NOT NULL,
  resource_group           text COLLATE "C" NOT NULL,
  name                     text COLLATE "C" NOT NULL,
  customer_subscription_id bytea NOT NULL REFERENCES subscriptions (id),
  tenant_id                bytea NOT NULL,
  cloud_id                 bytea NOT NULL,
  from_s bigint NOT NULL, from_ns bigint NOT NULL,
  to_s   bigint,          to_ns   bigint,
  PRIMARY KEY (subscription_id, resource_group_key, name_key, customer_subscription_id,
               from_s, from_ns)
);
CREATE INDEX customer_subscriptions_by_tenant
  ON customer_subscriptions (subscription_id, resource_group_key, name_key, tenant_id);

CREATE TABLE stack_subscribers (
  cloud_id              bytea NOT NULL REFERENCES stacks (cloud_id),
  local_subscription_id bytea NOT NULL,
  tenant_id             bytea NOT NULL,
  from_s bigint NOT NULL, from_ns bigint NOT NULL,
  to_s   bigint,          to_ns   bigint,
  PRIMARY KEY (cloud_id, local_subscription_id, from_s, from_ns)
);

CREATE TABLE activation_keys (
  hash      bytea NOT NULL PRIMARY KEY,
  cloud_id  bytea NOT NULL REFERENCES stacks (cloud_id),
  created_s bigint NOT NULL, created_ns bigint NOT NULL,
  expires_s bigint,          expires_ns bigint
);
CREATE INDEX activation_keys_by_cloud ON activation_keys (cloud_id);

CREATE TABLE meters (
  meter_id          bytea NOT NULL PRIMARY KEY,
  name              text COLLATE "C" NOT NULL,
  category          text COLLATE "C" NOT NULL,
  unit              text COLLATE "C" NOT NULL,
  commerce_meter_id bytea,
  custom            bigint NOT NULL
);

-- Usage ----------------------------------------------------------------------

-- Accepted usage. UNIQUE (cloud_id, identity) is the dedupe key of R11: an
-- INSERT … ON CONFLICT DO NOTHING either stores a record or proves it a
-- duplicate, atomically, whoever else writes the same identity. quantity is
-- never summed by SQL arithmetic (R14).
CREATE TABLE usage_records (
  seq                     bigint GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
  cloud_id                bytea NOT NULL,
  identity                bytea NOT NULL,
  content_hash            bytea NOT NULL,
  record_id               text COLLATE "C" NOT NULL,
  tenant_id               bytea NOT NULL,
  local_subscription_id   bytea NOT NULL,
  meter_id                bytea NOT NULL,
  quantity                numeric NOT NULL,
  usage_start_s bigint NOT NULL, usage_start_ns bigint NOT NULL,
  usage_end_s   bigint NOT NULL, usage_end_ns   bigint NOT NULL,
  resource_uri            text COLLATE "C" NOT NULL,
  instance_data           text COLLATE "C" NOT NULL,
  billed_subscription_id  bytea NOT NULL,
  bill_to_kind            text COLLATE "C" NOT NULL,
  bill_to_partner_id      text COLLATE "C" NOT NULL,
  bill_to_subscription_id bytea NOT NULL,
  routing_reason          text COLLATE "C" NOT NULL,
  reported_s bigint NOT NULL, reported_ns bigint NOT NULL,
  UNIQUE (cloud_id, identity)
);
-- The Commerce API's hourly per-resource aggregates read the records through
-- these two (SQLite's version-10 note).
CREATE INDEX usage_by_billed_subscription
  ON usage_records (billed_subscription_id, usage_start_s, usage_start_ns);
CREATE INDEX usage_by_billed_reported
  ON usage_records (billed_subscription_id, reported_s, reported_ns);
CREATE INDEX usage_by_cloud_start ON usage_records (cloud_id, usage_start_s);

CREATE TABLE quarantine (
  id          bigint GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
  cloud_id    bytea NOT NULL,
  received_s  bigint NOT NULL, received_ns bigint NOT NULL,
  code        text COLLATE "C" NOT NULL,
  message     text COLLATE "C" NOT NULL,
  raw_text    bytea NOT NULL,
  record_id   text COLLATE "C" NOT NULL,
  replayed_s  bigint,          replayed_ns bigint
);
CREATE INDEX quarantine_by_cloud ON quarantine (cloud_id, id);
CREATE INDEX quarantine_pending_by_cloud ON quarantine (cloud_id) WHERE replayed_s IS NULL;
CREATE INDEX quarantine_by_code ON quarantine (code, id);
-- A resent bad record is not quarantined twice (R11): the pending entry with
-- the same raw text is found through this index. SQLite's is a btree on
-- (cloud_id, raw_text); a PostgreSQL btree refuses entries over ~2.7 kB, a
-- hash index stores 4 bytes per entry and serves the same
-- `cloud_id = ? AND raw_text = ? AND replayed_s IS NULL`.
CREATE INDEX quarantine_pending_by_text ON quarantine USING hash (raw_text)
  WHERE replayed_s IS NULL;

-- R11: a PlatformAdmin's replacement of a stored record's content, with what
-- it replaced (the billing close turns closed-period differences into
-- adjustments).
CREATE TABLE usage_supersessions (
  id                         bigint GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
  cloud_id                   bytea NOT NULL,
  identity                   bytea NOT NULL,
  at_s bigint NOT NULL, at_ns bigint NOT NULL,
  actor_principal_id         bytea NOT NULL,
  reason                     text COLLATE "C" NOT NULL,
  old_meter_id               bytea NOT NULL,
  old_quantity               numeric NOT NULL,
  old_usage_start_s bigint NOT NULL, old_usage_start_ns bigint NOT NULL,
  old_billed_subscription_id bytea NOT NULL,
  old_content_hash           bytea NOT NULL,
  new_quantity               numeric NOT NULL
);
CREATE INDEX usage_supersessions_by_record ON usage_supersessions (cloud_id, identity, id);

-- Per stack: when usage last arrived and how many records were accepted
-- (GET /v1/stacks).
CREATE TABLE stack_ingest_stats (
  cloud_id    bytea NOT NULL PRIMARY KEY,
  last_s      bigint NOT NULL, last_ns bigint NOT NULL,
  accepted    bigint NOT NULL
);

-- Usage rollups (store/sql/usage_rollups.h), keyed time first; no secondary
-- index: every index costs each ingested record.
CREATE TABLE usage_rollup_hours (
  reported_bucket        bigint NOT NULL,
  usage_bucket           bigint NOT NULL,
  billed_subscription_id bytea NOT NULL,
  meter_id               bytea NOT NULL,
  cloud_id               bytea NOT NULL,
  tenant_id              bytea NOT NULL,
  local_subscription_id  bytea NOT NULL,
  quantity               numeric NOT NULL,
  records                bigint NOT NULL,
  PRIMARY KEY (reported_bucket, usage_bucket, billed_subscription_id, meter_id, cloud_id,
               tenant_id, local_subscription_id)
);

CREATE TABLE usage_rollup_days (
  reported_bucket        bigint NOT NULL,
  usage_bucket           bigint NOT NULL,
  billed_subscription_id bytea NOT NULL,
  meter_id               bytea NOT NULL,
  cloud_id               bytea NOT NULL,
  tenant_id              bytea NOT NULL,
  local_subscription_id  bytea NOT NULL,
  quantity               numeric NOT NULL,
  records                bigint NOT NULL,
  PRIMARY KEY (reported_bucket, usage_bucket, billed_subscription_id, meter_id, cloud_id,
               tenant_id, local_subscription_id)
);

CREATE TABLE usage_rollup_resource_days (
  reported_bucket        bigint NOT NULL,
  usage_bucket           bigint NOT NULL,
  billed_subscription_id bytea NOT NULL,
  meter_id               bytea NOT NULL,
  resource_uri           text COLLATE "C" NOT NULL,
  cloud_id               bytea NOT NULL,
  tenant_id              bytea NOT NULL,
  local_subscription_id  bytea NOT NULL,
  quantity               numeric NOT NULL,
  records                bigint NOT NULL,
  instance_data          text COLLATE "C" NOT NULL,
  PRIMARY KEY (reported_bucket, usage_bucket, billed_subscription_id, meter_id, resource_uri,
               cloud_id, tenant_id, local_subscription_id)
);

CREATE TABLE usage_rollup_months (
  reported_bucket        bigint NOT NULL,
  usage_bucket           bigint NOT NULL,
  billed_subscription_id bytea NOT NULL,
  meter_id               bytea NOT NULL,
  cloud_id               bytea NOT NULL,
  tenant_id              bytea NOT NULL,
  local_subscription_id  bytea NOT NULL,
  quantity               numeric NOT NULL,
  records                bigint NOT NULL,
  PRIMARY KEY (reported_bucket, usage_bucket, billed_subscription_id, meter_id, cloud_id,
               tenant_id, local_subscription_id)
);

-- The (reported, usage) bucket pairs that hold rows of each rollup (0 hours,
-- 1 days, 2 resource days, 3 months); a pair stays listed when its rows are
-- gone.
CREATE TABLE usage_rollup_buckets (
  rollup          bigint NOT NULL,
  reported_bucket bigint NOT NULL,
  usage_bucket    bigint NOT NULL,
  PRIMARY KEY (rollup, reported_bucket, usage_bucket)
);
CREATE INDEX usage_rollup_buckets_by_usage
  ON usage_rollup_buckets (rollup, usage_bucket, reported_bucket);

-- built = 0 asks the next open to build the rollups from usage_records
-- (BuildUsageRollupsIfNeeded). A new database has no records: built.
CREATE TABLE usage_rollup_state (
  id    bigint PRIMARY KEY CHECK (id = 1),
  built bigint NOT NULL
);
INSERT INTO usage_rollup_state (id, built) VALUES (1, 1);

-- The exact sum of two quantities for the rollups' UPSERT
-- (store/sql/usage_rollups.cc), as SQLite's C++ stackbill_quantity_add: an
-- error when the sum leaves Quantity's range (|sum| < 10^15, core/decimal.h),
-- which fails the statement, rather than a value no reader could parse.
CREATE FUNCTION stackbill_quantity_add(a numeric, b numeric) RETURNS numeric
  LANGUAGE plpgsql IMMUTABLE STRICT AS $$
DECLARE
  total numeric := a + b;
BEGIN
  IF abs(total) >= 1e15 THEN
    RAISE EXCEPTION 'stackbill_quantity_add: % is out of the range of a quantity', total
      USING ERRCODE = '22003';
  END IF;
  RETURN total;
END
$$;

-- Secrets of the server shared by every node (IdentityStore::ServerSecret).
CREATE TABLE server_secrets (
  name   text COLLATE "C" NOT NULL PRIMARY KEY,
  secret bytea NOT NULL
);

-- Refuses the change: a BEFORE trigger's function, with the message (the
-- same as SQLite's RAISE(ABORT, …)) as its argument.
CREATE FUNCTION stackbill_refuse() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION '%', TG_ARGV[0] USING ERRCODE = 'P0001';
END
$$;

-- Prices and billing ---------------------------------------------------------

-- Price sheet versions; owner_id is an offer-type code or a partner id
-- (partner_id repeats the latter so that it references partners). markup:
-- customer price sheets' markup over the list prices; NULL on other sheets.
CREATE TABLE price_sheets (
  sheet_id     bigint GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
  owner_kind   text COLLATE "C" NOT NULL,
  owner_id     text COLLATE "C" NOT NULL,
  partner_id   text COLLATE "C" REFERENCES partners (id),
  currency     text COLLATE "C" NOT NULL,
  effective_s  bigint NOT NULL, effective_ns bigint NOT NULL,
  locked_s     bigint,          locked_ns    bigint,
  markup       numeric,
  UNIQUE (owner_kind, owner_id, currency, effective_s, effective_ns)
);

-- rates: price tiers, "start:price …" (store/sql/codec.h).
CREATE TABLE price_sheet_meters (
  sheet_id          bigint NOT NULL REFERENCES price_sheets (sheet_id),
  meter_id          bytea NOT NULL,
  rates             text COLLATE "C" NOT NULL,
  included_quantity numeric NOT NULL,
  PRIMARY KEY (sheet_id, meter_id)
);

-- A locked sheet's meters can be neither added, changed nor removed.
CREATE FUNCTION stackbill_price_sheet_meters_locked() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  sheet bigint;
BEGIN
  IF TG_OP = 'INSERT' THEN
    sheet := NEW.sheet_id;
  ELSE
    sheet := OLD.sheet_id;
  END IF;
  IF (SELECT locked_s FROM price_sheets WHERE sheet_id = sheet) IS NOT NULL THEN
    RAISE EXCEPTION 'price sheet is locked' USING ERRCODE = 'P0001';
  END IF;
  IF TG_OP = 'DELETE' THEN
    RETURN OLD;
  END IF;
  RETURN NEW;
END
$$;
CREATE TRIGGER price_sheet_meters_locked BEFORE INSERT OR UPDATE OR DELETE ON price_sheet_meters
  FOR EACH ROW EXECUTE FUNCTION stackbill_price_sheet_meters_locked();
CREATE TRIGGER price_sheets_locked_markup BEFORE UPDATE OF markup ON price_sheets
  FOR EACH ROW WHEN (OLD.locked_s IS NOT NULL)
  EXECUTE FUNCTION stackbill_refuse('price sheet is locked');

-- A row exists once a period is closed.
CREATE TABLE billing_periods (
  year     bigint NOT NULL,
  month    bigint NOT NULL,
  closed_s bigint NOT NULL, closed_ns bigint NOT NULL,
  PRIMARY KEY (year, month)
);

-- The last invoice sequence number issued per year of issue.
CREATE TABLE invoice_sequences (
  year          bigint NOT NULL PRIMARY KEY,
  last_sequence bigint NOT NULL
);

CREATE TABLE invoices (
  id                      bytea NOT NULL PRIMARY KEY,
  number                  text COLLATE "C" NOT NULL UNIQUE,
  issue_year              bigint NOT NULL,
  sequence                bigint NOT NULL,
  period_year             bigint NOT NULL,
  period_month            bigint NOT NULL,
  bill_to_kind            text COLLATE "C" NOT NULL,
  bill_to_partner_id      text COLLATE "C" NOT NULL,
  bill_to_subscription_id bytea NOT NULL,
  currency                text COLLATE "C" NOT NULL,
  issued_s bigint NOT NULL, issued_ns bigint NOT NULL,
  total                   numeric NOT NULL,
  UNIQUE (issue_year, sequence)
);
CREATE INDEX invoices_by_period ON invoices (period_year, period_month);

-- tiers: applied tiers, "start:quantity:price:amount …" (store/sql/codec.h).
CREATE TABLE invoice_lines (
  invoice_id            bytea NOT NULL REFERENCES invoices (id),
  line_no               bigint NOT NULL,
  subscription_id       bytea NOT NULL,
  subscription_name     text COLLATE "C" NOT NULL,
  customer_directory_id bytea,
  customer_name         text COLLATE "C" NOT NULL,
  tenant_id             bytea,
  reseller_partner_id   text COLLATE "C",
  reseller_name         text COLLATE "C" NOT NULL,
  meter_id              bytea,
  meter_name            text COLLATE "C" NOT NULL,
  unit                  text COLLATE "C" NOT NULL,
  quantity              numeric NOT NULL,
  included_quantity     numeric NOT NULL,
  tiers                 text COLLATE "C" NOT NULL,
  amount                numeric NOT NULL,
  late_year             bigint,
  late_month            bigint,
  zero_rated            bigint NOT NULL,
  unpriced              bigint NOT NULL,
  adjustment            bigint NOT NULL,
  description           text COLLATE "C" NOT NULL,
  PRIMARY KEY (invoice_id, line_no)
);

CREATE TRIGGER invoices_immutable BEFORE UPDATE OR DELETE ON invoices
  FOR EACH ROW EXECUTE FUNCTION stackbill_refuse('invoices are immutable');
CREATE TRIGGER invoice_lines_immutable BEFORE UPDATE OR DELETE ON invoice_lines
  FOR EACH ROW EXECUTE FUNCTION stackbill_refuse('invoices are immutable');

-- What closed periods billed, per usage month, billed subscription, meter and
-- zero rating (BillingStore::ClosePeriod's ledger).
CREATE TABLE billed_usage (
  usage_year             bigint NOT NULL,
  usage_month            bigint NOT NULL,
  billed_subscription_id bytea NOT NULL,
  meter_id               bytea NOT NULL,
  zero_rated             bigint NOT NULL,
  quantity               numeric NOT NULL,
  PRIMARY KEY (usage_year, usage_month, billed_subscription_id, meter_id, zero_rated)
);

-- PlatformAdmins' credit and debit lines for an open period (SPEC §5).
-- rowid is their order of insertion, in which they are listed: SQLite's
-- implicit rowid, which the shared SQL names; the index lists a period's
-- adjustments in that order, as SQLite's (period_year, period_month) index
-- does with its implicit rowid.
CREATE TABLE adjustments (
  id                 bytea NOT NULL PRIMARY KEY,
  period_year        bigint NOT NULL,
  period_month       bigint NOT NULL,
  subscription_id    bytea NOT NULL,
  meter_id           bytea,
  amount             numeric NOT NULL,
  currency           text COLLATE "C" NOT NULL,
  reason             text COLLATE "C" NOT NULL,
  actor_principal_id bytea NOT NULL,
  created_s bigint NOT NULL, created_ns bigint NOT NULL,
  rowid              bigint GENERATED BY DEFAULT AS IDENTITY
);
CREATE INDEX adjustments_by_period ON adjustments (period_year, period_month, rowid);
CREATE TRIGGER adjustments_immutable BEFORE UPDATE OR DELETE ON adjustments
  FOR EACH ROW EXECUTE FUNCTION stackbill_refuse('adjustments are immutable');

-- Audit ----------------------------------------------------------------------

CREATE TABLE audit_log (
  id                 bigint GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
  at_s bigint NOT NULL, at_ns bigint NOT NULL,
  actor_principal_id bytea NOT NULL,
  actor_directory_id bytea NOT NULL,
  action             text COLLATE "C" NOT NULL,
  resource           text COLLATE "C" NOT NULL,
  partner_id         text COLLATE "C",
  before_json        text COLLATE "C" NOT NULL,
  after_json         text COLLATE "C" NOT NULL
);
CREATE INDEX audit_log_by_partner ON audit_log (partner_id, id);

CREATE TRIGGER audit_log_append_only BEFORE UPDATE OR DELETE ON audit_log
  FOR EACH ROW EXECUTE FUNCTION stackbill_refuse('the audit log is append-only');

-- History version and re-route markers ---------------------------------------

-- history_version is bumped, by the triggers below, whenever a fact that
-- routing or tenant resolution reads changes: once per row inserted, updated
-- or deleted, as SQLite's row triggers do. An ingest transaction routes with
-- a cached history and commits only if the version is still the one it
-- routed with (R13).
CREATE TABLE history_version (
  id      bigint PRIMARY KEY CHECK (id = 1),
  version bigint NOT NULL
);
INSERT INTO history_version (id, version) VALUES (1, 0);

CREATE FUNCTION stackbill_bump_history_version() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  UPDATE history_version SET version = version + 1;
  RETURN NULL;
END
$$;

CREATE TRIGGER partners_history AFTER INSERT OR UPDATE OR DELETE ON partners
  FOR EACH ROW EXECUTE FUNCTION stackbill_bump_history_version();
CREATE TRIGGER partner_parent_links_history AFTER INSERT OR UPDATE OR DELETE ON partner_parent_links
  FOR EACH ROW EXECUTE FUNCTION stackbill_bump_history_version();
CREATE TRIGGER subscriptions_history AFTER INSERT OR UPDATE OR DELETE ON subscriptions
  FOR EACH ROW EXECUTE FUNCTION stackbill_bump_history_version();
CREATE TRIGGER subscription_owners_history AFTER INSERT OR UPDATE OR DELETE ON subscription_owners
  FOR EACH ROW EXECUTE FUNCTION stackbill_bump_history_version();
CREATE TRIGGER stacks_history AFTER INSERT OR UPDATE OR DELETE ON stacks
  FOR EACH ROW EXECUTE FUNCTION stackbill_bump_history_version();
CREATE TRIGGER registrations_history AFTER INSERT OR UPDATE OR DELETE ON registrations
  FOR EACH ROW EXECUTE FUNCTION stackbill_bump_history_version();
CREATE TRIGGER customer_subscriptions_history
  AFTER INSERT OR UPDATE OR DELETE ON customer_subscriptions
  FOR EACH ROW EXECUTE FUNCTION stackbill_bump_history_version();
CREATE TRIGGER stack_subscribers_history AFTER INSERT OR UPDATE OR DELETE ON stack_subscribers
  FOR EACH ROW EXECUTE FUNCTION stackbill_bump_history_version();
-- Billing-model approvals are part of the history (LoadHistory returns them).
CREATE TRIGGER billing_model_approvals_history
  AFTER INSERT OR UPDATE OR DELETE ON billing_model_approvals
  FOR EACH ROW EXECUTE FUNCTION stackbill_bump_history_version();

-- A change of registrations, customer subscriptions, partner links or
-- subscription ownership leaves a marker: stored usage of that cloud (NULL:
-- every cloud) dated from from_s on may route differently now. Markers are
-- written in the changing transaction, so a crash cannot lose a re-route;
-- the re-route pass deletes them once done.
CREATE TABLE reroute_markers (
  id       bigint GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
  cloud_id bytea,
  from_s   bigint NOT NULL
);

-- Where usage may route differently after an update of a versioned row: the
-- earlier start when the start (or, with value_changed, the value) changed,
-- the earlier end (an open end counting as the greatest) when the end
-- changed, the least of those; NULL when neither changed. A change at the
-- start of the version in force replaces its value in place (same from and
-- to), hence value_changed.
CREATE FUNCTION stackbill_reroute_from(
    old_from_s bigint, old_from_ns bigint, old_to_s bigint, old_to_ns bigint,
    new_from_s bigint, new_from_ns bigint, new_to_s bigint, new_to_ns bigint,
    value_changed boolean) RETURNS bigint LANGUAGE sql IMMUTABLE AS $$
  SELECT NULLIF(LEAST(
    CASE WHEN old_from_s IS DISTINCT FROM new_from_s OR old_from_ns IS DISTINCT FROM new_from_ns
              OR value_changed
         THEN LEAST(old_from_s, new_from_s) ELSE 9223372036854775807 END,
    CASE WHEN old_to_s IS DISTINCT FROM new_to_s OR old_to_ns IS DISTINCT FROM new_to_ns
         THEN LEAST(coalesce(old_to_s, 9223372036854775807),
                    coalesce(new_to_s, 9223372036854775807))
         ELSE 9223372036854775807 END), 9223372036854775807)
$$;

-- registrations and customer_subscriptions: a marker for the row's cloud.
CREATE FUNCTION stackbill_reroute_cloud() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  m bigint;
BEGIN
  IF TG_OP = 'INSERT' THEN
    m := NEW.from_s;
  ELSE
    m := stackbill_reroute_from(OLD.from_s, OLD.from_ns, OLD.to_s, OLD.to_ns,
                                NEW.from_s, NEW.from_ns, NEW.to_s, NEW.to_ns, false);
  END IF;
  IF m IS NOT NULL THEN
    INSERT INTO reroute_markers (cloud_id, from_s) VALUES (NEW.cloud_id, m);
  END IF;
  RETURN NULL;
END
$$;
CREATE TRIGGER registrations_reroute AFTER INSERT OR UPDATE ON registrations
  FOR EACH ROW EXECUTE FUNCTION stackbill_reroute_cloud();
CREATE TRIGGER customer_subscriptions_reroute AFTER INSERT OR UPDATE ON customer_subscriptions
  FOR EACH ROW EXECUTE FUNCTION stackbill_reroute_cloud();

-- partner_parent_links: a marker for every cloud, also when the parent of
-- the version in force is replaced in place.
CREATE FUNCTION stackbill_partner_parent_links_reroute() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  m bigint;
BEGIN
  IF TG_OP = 'INSERT' THEN
    m := NEW.from_s;
  ELSE
    m := stackbill_reroute_from(
        OLD.from_s, OLD.from_ns, OLD.to_s, OLD.to_ns,
        NEW.from_s, NEW.from_ns, NEW.to_s, NEW.to_ns,
        OLD.parent_partner_id IS DISTINCT FROM NEW.parent_partner_id);
  END IF;
  IF m IS NOT NULL THEN
    INSERT INTO reroute_markers (cloud_id, from_s) VALUES (NULL, m);
  END IF;
  RETURN NULL;
END
$$;
CREATE TRIGGER partner_parent_links_reroute AFTER INSERT OR UPDATE ON partner_parent_links
  FOR EACH ROW EXECUTE FUNCTION stackbill_partner_parent_links_reroute();

-- subscription_owners: a marker for every cloud, also when the owner of the
-- version in force is replaced in place.
CREATE FUNCTION stackbill_subscription_owners_reroute() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  m bigint;
BEGIN
  IF TG_OP = 'INSERT' THEN
    m := NEW.from_s;
  ELSE
    m := stackbill_reroute_from(
        OLD.from_s, OLD.from_ns, OLD.to_s, OLD.to_ns,
        NEW.from_s, NEW.from_ns, NEW.to_s, NEW.to_ns,
        OLD.partner_id IS DISTINCT FROM NEW.partner_id);
  END IF;
  IF m IS NOT NULL THEN
    INSERT INTO reroute_markers (cloud_id, from_s) VALUES (NULL, m);
  END IF;
  RETURN NULL;
END
$$;
CREATE TRIGGER subscription_owners_reroute AFTER INSERT OR UPDATE ON subscription_owners
  FOR EACH ROW EXECUTE FUNCTION stackbill_subscription_owners_reroute();
)sql";

// Version 2: usage_records partitioned by month of usage_start_s (UTC), so
// that a month is one table to archive, drop or vacuum (docs/OPERATIONS.md).
// R11's dedupe key (cloud_id, identity) is global, and a unique index on a
// partitioned table must hold the partition key, so the key moves to
// usage_identities, unpartitioned: the ingest claims a record's identity
// there, drawing its seq, before it stores the record with that seq
// (store/sql/usage_store.cc, InsertRecordsInChunks), in set-based statements
// rather than a trigger per row. seq has no default: a record stored any
// other way, without its claim, fails. Partitions are made as usage arrives
// (Connection::PrepareUsageMonth, stackbill_usage_partition).
constexpr std::string_view kVersion2 = R"sql(
ALTER TABLE usage_records RENAME TO usage_records_v1;
ALTER TABLE usage_records_v1 DROP CONSTRAINT usage_records_pkey;
ALTER TABLE usage_records_v1 DROP CONSTRAINT usage_records_cloud_id_identity_key;
DROP INDEX usage_by_billed_subscription;
DROP INDEX usage_by_billed_reported;
DROP INDEX usage_by_cloud_start;

CREATE SEQUENCE usage_records_seq;

-- Every identity stored, with the seq of its record and the start of its
-- usage when first stored. Kept when a month's partition is dropped, so
-- that a late resend of a dropped record is still a duplicate (R11);
-- usage_start_s lets retention delete the identities of months past
-- --usage-max-age-days, which are refused as TooOld anyway.
CREATE TABLE usage_identities (
  cloud_id      bytea NOT NULL,
  identity      bytea NOT NULL,
  usage_start_s bigint NOT NULL,
  seq           bigint NOT NULL,
  PRIMARY KEY (cloud_id, identity)
);

CREATE TABLE usage_records (
  seq                     bigint NOT NULL,
  cloud_id                bytea NOT NULL,
  identity                bytea NOT NULL,
  content_hash            bytea NOT NULL,
  record_id               text COLLATE "C" NOT NULL,
  tenant_id               bytea NOT NULL,
  local_subscription_id   bytea NOT NULL,
  meter_id                bytea NOT NULL,
  quantity                numeric NOT NULL,
  usage_start_s bigint NOT NULL, usage_start_ns bigint NOT NULL,
  usage_end_s   bigint NOT NULL, usage_end_ns   bigint NOT NULL,
  resource_uri            text COLLATE "C" NOT NULL,
  instance_data           text COLLATE "C" NOT NULL,
  billed_subscription_id  bytea NOT NULL,
  bill_to_kind            text COLLATE "C" NOT NULL,
  bill_to_partner_id      text COLLATE "C" NOT NULL,
  bill_to_subscription_id bytea NOT NULL,
  routing_reason          text COLLATE "C" NOT NULL,
  reported_s bigint NOT NULL, reported_ns bigint NOT NULL,
  PRIMARY KEY (seq, usage_start_s)
) PARTITION BY RANGE (usage_start_s);
CREATE INDEX usage_by_identity ON usage_records (cloud_id, identity);
CREATE INDEX usage_by_billed_subscription
  ON usage_records (billed_subscription_id, usage_start_s, usage_start_ns);
CREATE INDEX usage_by_billed_reported
  ON usage_records (billed_subscription_id, reported_s, reported_ns);
CREATE INDEX usage_by_cloud_start ON usage_records (cloud_id, usage_start_s);

-- Makes the partition of usage_records for the UTC month that holds
-- `usage_start_s` unless it exists; returns the month's first second. Under
-- an advisory lock of its own (the one-key space, apart from the store's
-- two-key locks), so that nodes making one month at once make it once.
CREATE FUNCTION stackbill_usage_partition(usage_start_s bigint) RETURNS bigint
  LANGUAGE plpgsql AS $$
DECLARE
  month timestamp := date_trunc('month', to_timestamp(usage_start_s) AT TIME ZONE 'UTC');
  name text := format('%I.%I', current_schema(), 'usage_records_' || to_char(month, 'YYYY_MM'));
BEGIN
  IF to_regclass(name) IS NULL THEN
    -- After the wait the catalog is read afresh by CREATE's own lookup (not
    -- by to_regclass, whose cache an advisory lock does not refresh): IF NOT
    -- EXISTS skips a partition the node before made.
    PERFORM pg_advisory_xact_lock(hashtext(current_schema() || ' usage partitions'));
    EXECUTE format('CREATE TABLE IF NOT EXISTS %s PARTITION OF usage_records '
                   'FOR VALUES FROM (%s) TO (%s)',
                   name, extract(epoch FROM month)::bigint,
                   extract(epoch FROM month + interval '1 month')::bigint);
  END IF;
  RETURN extract(epoch FROM month)::bigint;
END
$$;

SELECT stackbill_usage_partition(s)
  FROM (SELECT DISTINCT usage_start_s - usage_start_s % 86400 AS s FROM usage_records_v1) AS days;
INSERT INTO usage_identities (cloud_id, identity, usage_start_s, seq)
  SELECT cloud_id, identity, usage_start_s, seq FROM usage_records_v1;
INSERT INTO usage_records
  SELECT * FROM usage_records_v1 ORDER BY seq;
SELECT setval('usage_records_seq', COALESCE(max(seq), 0) + 1, false) FROM usage_identities;
DROP TABLE usage_records_v1;
)sql";

constexpr std::array<std::string_view, 2> kMigrations = {kVersion1, kVersion2};

}  // namespace

std::span<const std::string_view> PostgresSchemaMigrations() { return kMigrations; }

}  // namespace stackbill::postgres
