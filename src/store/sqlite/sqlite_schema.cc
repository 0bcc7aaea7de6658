// The SQLite schema as an ordered list of migrations. Never edit a migration
// that has shipped: append a new one. Column encodings are described in
// sqlite_database.h; `*_s`/`*_ns` pairs are one Timestamp, a NULL `to_s`
// marks the version in force.

#include <array>
#include <span>
#include <string_view>

#include "store/sqlite/sqlite_database.h"

namespace stackbill::sqlite {
namespace {

constexpr std::string_view kVersion1 = R"sql(
CREATE TABLE partners (
  id               TEXT NOT NULL PRIMARY KEY,
  name             TEXT NOT NULL,
  kind             TEXT NOT NULL,
  billing_currency TEXT NOT NULL
);

CREATE TABLE partner_parent_links (
  partner_id        TEXT NOT NULL REFERENCES partners (id),
  parent_partner_id TEXT REFERENCES partners (id),
  from_s INTEGER NOT NULL, from_ns INTEGER NOT NULL,
  to_s   INTEGER,          to_ns   INTEGER,
  PRIMARY KEY (partner_id, from_s, from_ns)
);

CREATE TABLE directories (
  id               BLOB NOT NULL PRIMARY KEY,
  display_name     TEXT NOT NULL,
  owner_partner_id TEXT REFERENCES partners (id)
);

-- domain_key is the lower-cased domain: unique across directories.
CREATE TABLE directory_domains (
  domain_key   TEXT NOT NULL PRIMARY KEY,
  domain       TEXT NOT NULL,
  directory_id BLOB NOT NULL REFERENCES directories (id),
  position     INTEGER NOT NULL
);
CREATE INDEX directory_domains_by_directory ON directory_domains (directory_id, position);

CREATE TABLE principals (
  object_id    BLOB NOT NULL PRIMARY KEY,
  directory_id BLOB NOT NULL REFERENCES directories (id),
  name         TEXT NOT NULL,
  name_key     TEXT NOT NULL,
  kind         TEXT NOT NULL,
  UNIQUE (directory_id, name_key)
);

-- Bearer tokens: only the hash of the secret is stored.
CREATE TABLE tokens (
  id           TEXT NOT NULL PRIMARY KEY,
  principal_id BLOB NOT NULL REFERENCES principals (object_id),
  hash         BLOB NOT NULL UNIQUE,
  created_s INTEGER NOT NULL, created_ns INTEGER NOT NULL,
  expires_s INTEGER NOT NULL, expires_ns INTEGER NOT NULL,
  revoked_s INTEGER,          revoked_ns INTEGER
);
CREATE INDEX tokens_by_principal ON tokens (principal_id);

CREATE TABLE role_assignments (
  id           TEXT NOT NULL PRIMARY KEY,
  principal_id BLOB NOT NULL REFERENCES principals (object_id),
  role         TEXT NOT NULL,
  scope        TEXT NOT NULL
);
CREATE INDEX role_assignments_by_principal ON role_assignments (principal_id);

CREATE TABLE subscriptions (
  id               BLOB NOT NULL PRIMARY KEY,
  offer_type       TEXT NOT NULL,
  directory_id     BLOB NOT NULL REFERENCES directories (id),
  partner_id       TEXT REFERENCES partners (id),
  billing_currency TEXT,
  display_name     TEXT NOT NULL,
  state            TEXT NOT NULL
);
CREATE INDEX subscriptions_by_partner ON subscriptions (partner_id);
CREATE INDEX subscriptions_by_directory ON subscriptions (directory_id);

CREATE TABLE subscription_owners (
  subscription_id BLOB NOT NULL REFERENCES subscriptions (id),
  partner_id      TEXT REFERENCES partners (id),
  from_s INTEGER NOT NULL, from_ns INTEGER NOT NULL,
  to_s   INTEGER,          to_ns   INTEGER,
  PRIMARY KEY (subscription_id, from_s, from_ns)
);

CREATE TABLE stacks (
  cloud_id                BLOB NOT NULL PRIMARY KEY,
  deployment_directory_id BLOB NOT NULL,
  billing_model           TEXT NOT NULL,
  usage_reporting_enabled INTEGER NOT NULL,
  multi_tenant            INTEGER NOT NULL
);

CREATE TABLE billing_model_approvals (
  cloud_id         BLOB NOT NULL PRIMARY KEY,
  billing_model    TEXT NOT NULL,
  agreement_number TEXT,
  ms_asset_tag     TEXT
);

-- A registration is keyed by its default subscription and the lower-cased
-- resource group and name (ARM compares them case-insensitively).
CREATE TABLE registrations (
  subscription_id         BLOB NOT NULL REFERENCES subscriptions (id),
  resource_group_key      TEXT NOT NULL,
  name_key                TEXT NOT NULL,
  resource_group          TEXT NOT NULL,
  name                    TEXT NOT NULL,
  cloud_id                BLOB NOT NULL REFERENCES stacks (cloud_id),
  object_id               BLOB NOT NULL,
  billing_model           TEXT NOT NULL,
  multi_tenant            INTEGER NOT NULL,
  usage_reporting_enabled INTEGER NOT NULL,
  agreement_number        TEXT,
  ms_asset_tag            TEXT,
  tags                    TEXT NOT NULL,
  from_s INTEGER NOT NULL, from_ns INTEGER NOT NULL,
  to_s   INTEGER,          to_ns   INTEGER,
  PRIMARY KEY (subscription_id, resource_group_key, name_key, from_s, from_ns)
);
CREATE UNIQUE INDEX registrations_live_by_name
  ON registrations (subscription_id, resource_group_key, name_key) WHERE to_s IS NULL;
-- R3: the live registration of a cloudId is its claim; there is at most one.
CREATE UNIQUE INDEX registrations_live_by_cloud ON registrations (cloud_id) WHERE to_s IS NULL;
CREATE INDEX registrations_by_cloud ON registrations (cloud_id, from_s, from_ns);

CREATE TABLE customer_subscriptions (
  subscription_id          BLOB NOT NULL,
  resource_group_key       TEXT NOT NULL,
  name_key                 TEXT NOT NULL,
  resource_group           TEXT NOT NULL,
  name                     TEXT NOT NULL,
  customer_subscription_id BLOB NOT NULL REFERENCES subscriptions (id),
  tenant_id                BLOB NOT NULL,
  cloud_id                 BLOB NOT NULL,
  from_s INTEGER NOT NULL, from_ns INTEGER NOT NULL,
  to_s   INTEGER,          to_ns   INTEGER,
  PRIMARY KEY (subscription_id, resource_group_key, name_key, customer_subscription_id,
               from_s, from_ns)
);
CREATE INDEX customer_subscriptions_by_tenant
  ON customer_subscriptions (subscription_id, resource_group_key, name_key, tenant_id);

CREATE TABLE stack_subscribers (
  cloud_id              BLOB NOT NULL REFERENCES stacks (cloud_id),
  local_subscription_id BLOB NOT NULL,
  tenant_id             BLOB NOT NULL,
  from_s INTEGER NOT NULL, from_ns INTEGER NOT NULL,
  to_s   INTEGER,          to_ns   INTEGER,
  PRIMARY KEY (cloud_id, local_subscription_id, from_s, from_ns)
);

CREATE TABLE activation_keys (
  hash      BLOB NOT NULL PRIMARY KEY,
  cloud_id  BLOB NOT NULL REFERENCES stacks (cloud_id),
  created_s INTEGER NOT NULL, created_ns INTEGER NOT NULL,
  expires_s INTEGER,          expires_ns INTEGER
);
CREATE INDEX activation_keys_by_cloud ON activation_keys (cloud_id);

CREATE TABLE meters (
  meter_id          BLOB NOT NULL PRIMARY KEY,
  name              TEXT NOT NULL,
  category          TEXT NOT NULL,
  unit              TEXT NOT NULL,
  commerce_meter_id BLOB,
  custom            INTEGER NOT NULL
);

-- Accepted usage. UNIQUE (cloud_id, identity) is the dedupe key of R11: an
-- INSERT … ON CONFLICT DO NOTHING either stores a record or proves it a
-- duplicate, atomically, whoever else writes the same identity. quantity is
-- canonical decimal text and is never summed in SQL (R14).
CREATE TABLE usage_records (
  seq                     INTEGER PRIMARY KEY,
  cloud_id                BLOB NOT NULL,
  identity                BLOB NOT NULL,
  content_hash            BLOB NOT NULL,
  record_id               TEXT NOT NULL,
  tenant_id               BLOB NOT NULL,
  local_subscription_id   BLOB NOT NULL,
  meter_id                BLOB NOT NULL,
  quantity                TEXT NOT NULL,
  usage_start_s INTEGER NOT NULL, usage_start_ns INTEGER NOT NULL,
  usage_end_s   INTEGER NOT NULL, usage_end_ns   INTEGER NOT NULL,
  resource_uri            TEXT NOT NULL,
  instance_data           TEXT NOT NULL,
  billed_subscription_id  BLOB NOT NULL,
  bill_to_kind            TEXT NOT NULL,
  bill_to_partner_id      TEXT NOT NULL,
  bill_to_subscription_id BLOB NOT NULL,
  routing_reason          TEXT NOT NULL,
  reported_s INTEGER NOT NULL, reported_ns INTEGER NOT NULL,
  UNIQUE (cloud_id, identity)
);
CREATE INDEX usage_by_billed_subscription
  ON usage_records (billed_subscription_id, usage_start_s, usage_start_ns);
CREATE INDEX usage_by_reported ON usage_records (reported_s, reported_ns);

CREATE TABLE quarantine (
  id          INTEGER PRIMARY KEY,
  cloud_id    BLOB NOT NULL,
  received_s  INTEGER NOT NULL, received_ns INTEGER NOT NULL,
  code        TEXT NOT NULL,
  message     TEXT NOT NULL,
  raw_text    BLOB NOT NULL,
  record_id   TEXT NOT NULL,
  replayed_s  INTEGER,          replayed_ns INTEGER
);
CREATE INDEX quarantine_by_cloud ON quarantine (cloud_id, id);
CREATE INDEX quarantine_pending_by_cloud ON quarantine (cloud_id) WHERE replayed_s IS NULL;

-- Price sheet versions; owner_id is an offer-type code or a partner id
-- (partner_id repeats the latter so that it references partners).
CREATE TABLE price_sheets (
  sheet_id     INTEGER PRIMARY KEY,
  owner_kind   TEXT NOT NULL,
  owner_id     TEXT NOT NULL,
  partner_id   TEXT REFERENCES partners (id),
  currency     TEXT NOT NULL,
  effective_s  INTEGER NOT NULL, effective_ns INTEGER NOT NULL,
  locked_s     INTEGER,          locked_ns    INTEGER,
  UNIQUE (owner_kind, owner_id, currency, effective_s, effective_ns)
);

CREATE TABLE price_sheet_meters (
  sheet_id          INTEGER NOT NULL REFERENCES price_sheets (sheet_id),
  meter_id          BLOB NOT NULL,
  rates             TEXT NOT NULL,
  included_quantity TEXT NOT NULL,
  PRIMARY KEY (sheet_id, meter_id)
);

CREATE TRIGGER price_sheet_meters_locked_insert BEFORE INSERT ON price_sheet_meters
  WHEN (SELECT locked_s FROM price_sheets WHERE sheet_id = NEW.sheet_id) IS NOT NULL
  BEGIN SELECT RAISE(ABORT, 'price sheet is locked'); END;
CREATE TRIGGER price_sheet_meters_locked_delete BEFORE DELETE ON price_sheet_meters
  WHEN (SELECT locked_s FROM price_sheets WHERE sheet_id = OLD.sheet_id) IS NOT NULL
  BEGIN SELECT RAISE(ABORT, 'price sheet is locked'); END;
CREATE TRIGGER price_sheet_meters_locked_update BEFORE UPDATE ON price_sheet_meters
  WHEN (SELECT locked_s FROM price_sheets WHERE sheet_id = OLD.sheet_id) IS NOT NULL
  BEGIN SELECT RAISE(ABORT, 'price sheet is locked'); END;

-- A row exists once a period is closed.
CREATE TABLE billing_periods (
  year     INTEGER NOT NULL,
  month    INTEGER NOT NULL,
  closed_s INTEGER NOT NULL, closed_ns INTEGER NOT NULL,
  PRIMARY KEY (year, month)
);

-- The last invoice sequence number issued per year of issue.
CREATE TABLE invoice_sequences (
  year          INTEGER NOT NULL PRIMARY KEY,
  last_sequence INTEGER NOT NULL
);

CREATE TABLE invoices (
  id                      BLOB NOT NULL PRIMARY KEY,
  number                  TEXT NOT NULL UNIQUE,
  issue_year              INTEGER NOT NULL,
  sequence                INTEGER NOT NULL,
  period_year             INTEGER NOT NULL,
  period_month            INTEGER NOT NULL,
  bill_to_kind            TEXT NOT NULL,
  bill_to_partner_id      TEXT NOT NULL,
  bill_to_subscription_id BLOB NOT NULL,
  currency                TEXT NOT NULL,
  issued_s INTEGER NOT NULL, issued_ns INTEGER NOT NULL,
  total                   TEXT NOT NULL,
  UNIQUE (issue_year, sequence)
);
CREATE INDEX invoices_by_period ON invoices (period_year, period_month);

CREATE TABLE invoice_lines (
  invoice_id            BLOB NOT NULL REFERENCES invoices (id),
  line_no               INTEGER NOT NULL,
  subscription_id       BLOB NOT NULL,
  subscription_name     TEXT NOT NULL,
  customer_directory_id BLOB,
  customer_name         TEXT NOT NULL,
  tenant_id             BLOB,
  reseller_partner_id   TEXT,
  reseller_name         TEXT NOT NULL,
  meter_id              BLOB,
  meter_name            TEXT NOT NULL,
  unit                  TEXT NOT NULL,
  quantity              TEXT NOT NULL,
  included_quantity     TEXT NOT NULL,
  tiers                 TEXT NOT NULL,
  amount                TEXT NOT NULL,
  late_year             INTEGER,
  late_month            INTEGER,
  zero_rated            INTEGER NOT NULL,
  unpriced              INTEGER NOT NULL,
  adjustment            INTEGER NOT NULL,
  description           TEXT NOT NULL,
  PRIMARY KEY (invoice_id, line_no)
);

CREATE TRIGGER invoices_immutable_update BEFORE UPDATE ON invoices
  BEGIN SELECT RAISE(ABORT, 'invoices are immutable'); END;
CREATE TRIGGER invoices_immutable_delete BEFORE DELETE ON invoices
  BEGIN SELECT RAISE(ABORT, 'invoices are immutable'); END;
CREATE TRIGGER invoice_lines_immutable_update BEFORE UPDATE ON invoice_lines
  BEGIN SELECT RAISE(ABORT, 'invoices are immutable'); END;
CREATE TRIGGER invoice_lines_immutable_delete BEFORE DELETE ON invoice_lines
  BEGIN SELECT RAISE(ABORT, 'invoices are immutable'); END;

CREATE TABLE audit_log (
  id                 INTEGER PRIMARY KEY,
  at_s INTEGER NOT NULL, at_ns INTEGER NOT NULL,
  actor_principal_id BLOB NOT NULL,
  actor_directory_id BLOB NOT NULL,
  action             TEXT NOT NULL,
  resource           TEXT NOT NULL,
  partner_id         TEXT,
  before_json        TEXT NOT NULL,
  after_json         TEXT NOT NULL
);
CREATE INDEX audit_log_by_partner ON audit_log (partner_id, id);

CREATE TRIGGER audit_log_append_only_update BEFORE UPDATE ON audit_log
  BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
CREATE TRIGGER audit_log_append_only_delete BEFORE DELETE ON audit_log
  BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
)sql";

constexpr std::string_view kVersion2 = R"sql(
-- Usage ingestion (SPEC §4).
--
-- history_version is bumped, by the triggers below, whenever a fact that
-- routing or tenant resolution reads changes. An ingest transaction routes
-- with a cached history and commits only if the version is still the one it
-- routed with (R13: routing depends on the history alone, whatever the node).
CREATE TABLE history_version (
  id      INTEGER PRIMARY KEY CHECK (id = 1),
  version INTEGER NOT NULL
);
INSERT INTO history_version (id, version) VALUES (1, 0);

-- A change of registrations, customer subscriptions, partner links or
-- subscription ownership leaves a marker: stored usage of that cloud (NULL:
-- every cloud) dated from from_s on may route differently now. Markers are
-- written in the changing transaction, so a crash cannot lose a re-route;
-- the re-route pass deletes them once done.
CREATE TABLE reroute_markers (
  id       INTEGER PRIMARY KEY,
  cloud_id BLOB,
  from_s   INTEGER NOT NULL
);

CREATE TRIGGER partners_history_insert AFTER INSERT ON partners
  BEGIN UPDATE history_version SET version = version + 1; END;
CREATE TRIGGER partners_history_update AFTER UPDATE ON partners
  BEGIN UPDATE history_version SET version = version + 1; END;
CREATE TRIGGER partners_history_delete AFTER DELETE ON partners
  BEGIN UPDATE history_version SET version = version + 1; END;
CREATE TRIGGER partner_parent_links_history_insert AFTER INSERT ON partner_parent_links
  BEGIN UPDATE history_version SET version = version + 1; END;
CREATE TRIGGER partner_parent_links_history_update AFTER UPDATE ON partner_parent_links
  BEGIN UPDATE history_version SET version = version + 1; END;
CREATE TRIGGER partner_parent_links_history_delete AFTER DELETE ON partner_parent_links
  BEGIN UPDATE history_version SET version = version + 1; END;
CREATE TRIGGER subscriptions_history_insert AFTER INSERT ON subscriptions
  BEGIN UPDATE history_version SET version = version + 1; END;
CREATE TRIGGER subscriptions_history_update AFTER UPDATE ON subscriptions
  BEGIN UPDATE history_version SET version = version + 1; END;
CREATE TRIGGER subscriptions_history_delete AFTER DELETE ON subscriptions
  BEGIN UPDATE history_version SET version = version + 1; END;
CREATE TRIGGER subscription_owners_history_insert AFTER INSERT ON subscription_owners
  BEGIN UPDATE history_version SET version = version + 1; END;
CREATE TRIGGER subscription_owners_history_update AFTER UPDATE ON subscription_owners
  BEGIN UPDATE history_version SET version = version + 1; END;
CREATE TRIGGER subscription_owners_history_delete AFTER DELETE ON subscription_owners
  BEGIN UPDATE history_version SET version = version + 1; END;
CREATE TRIGGER stacks_history_insert AFTER INSERT ON stacks
  BEGIN UPDATE history_version SET version = version + 1; END;
CREATE TRIGGER stacks_history_update AFTER UPDATE ON stacks
  BEGIN UPDATE history_version SET version = version + 1; END;
CREATE TRIGGER stacks_history_delete AFTER DELETE ON stacks
  BEGIN UPDATE history_version SET version = version + 1; END;
CREATE TRIGGER registrations_history_insert AFTER INSERT ON registrations
  BEGIN UPDATE history_version SET version = version + 1; END;
CREATE TRIGGER registrations_history_update AFTER UPDATE ON registrations
  BEGIN UPDATE history_version SET version = version + 1; END;
CREATE TRIGGER registrations_history_delete AFTER DELETE ON registrations
  BEGIN UPDATE history_version SET version = version + 1; END;
CREATE TRIGGER customer_subscriptions_history_insert AFTER INSERT ON customer_subscriptions
  BEGIN UPDATE history_version SET version = version + 1; END;
CREATE TRIGGER customer_subscriptions_history_update AFTER UPDATE ON customer_subscriptions
  BEGIN UPDATE history_version SET version = version + 1; END;
CREATE TRIGGER customer_subscriptions_history_delete AFTER DELETE ON customer_subscriptions
  BEGIN UPDATE history_version SET version = version + 1; END;
CREATE TRIGGER stack_subscribers_history_insert AFTER INSERT ON stack_subscribers
  BEGIN UPDATE history_version SET version = version + 1; END;
CREATE TRIGGER stack_subscribers_history_update AFTER UPDATE ON stack_subscribers
  BEGIN UPDATE history_version SET version = version + 1; END;
CREATE TRIGGER stack_subscribers_history_delete AFTER DELETE ON stack_subscribers
  BEGIN UPDATE history_version SET version = version + 1; END;

CREATE TRIGGER registrations_reroute_insert AFTER INSERT ON registrations
  BEGIN INSERT INTO reroute_markers (cloud_id, from_s) VALUES (NEW.cloud_id, NEW.from_s); END;
CREATE TRIGGER registrations_reroute_update AFTER UPDATE ON registrations
  BEGIN
    INSERT INTO reroute_markers (cloud_id, from_s)
    SELECT NEW.cloud_id, m FROM (SELECT min(
      CASE WHEN OLD.from_s IS NOT NEW.from_s OR OLD.from_ns IS NOT NEW.from_ns
           THEN min(OLD.from_s, NEW.from_s) ELSE 9223372036854775807 END,
      CASE WHEN OLD.to_s IS NOT NEW.to_s OR OLD.to_ns IS NOT NEW.to_ns
           THEN min(coalesce(OLD.to_s, 9223372036854775807), coalesce(NEW.to_s, 9223372036854775807)) ELSE 9223372036854775807 END) AS m)
    WHERE m < 9223372036854775807;
  END;
CREATE TRIGGER customer_subscriptions_reroute_insert AFTER INSERT ON customer_subscriptions
  BEGIN INSERT INTO reroute_markers (cloud_id, from_s) VALUES (NEW.cloud_id, NEW.from_s); END;
CREATE TRIGGER customer_subscriptions_reroute_update AFTER UPDATE ON customer_subscriptions
  BEGIN
    INSERT INTO reroute_markers (cloud_id, from_s)
    SELECT NEW.cloud_id, m FROM (SELECT min(
      CASE WHEN OLD.from_s IS NOT NEW.from_s OR OLD.from_ns IS NOT NEW.from_ns
           THEN min(OLD.from_s, NEW.from_s) ELSE 9223372036854775807 END,
      CASE WHEN OLD.to_s IS NOT NEW.to_s OR OLD.to_ns IS NOT NEW.to_ns
           THEN min(coalesce(OLD.to_s, 9223372036854775807), coalesce(NEW.to_s, 9223372036854775807)) ELSE 9223372036854775807 END) AS m)
    WHERE m < 9223372036854775807;
  END;
CREATE TRIGGER partner_parent_links_reroute_insert AFTER INSERT ON partner_parent_links
  BEGIN INSERT INTO reroute_markers (cloud_id, from_s) VALUES (NULL, NEW.from_s); END;
CREATE TRIGGER partner_parent_links_reroute_update AFTER UPDATE ON partner_parent_links
  BEGIN
    INSERT INTO reroute_markers (cloud_id, from_s)
    SELECT NULL, m FROM (SELECT min(
      CASE WHEN OLD.from_s IS NOT NEW.from_s OR OLD.from_ns IS NOT NEW.from_ns
           THEN min(OLD.from_s, NEW.from_s) ELSE 9223372036854775807 END,
      CASE WHEN OLD.to_s IS NOT NEW.to_s OR OLD.to_ns IS NOT NEW.to_ns
           THEN min(coalesce(OLD.to_s, 9223372036854775807), coalesce(NEW.to_s, 9223372036854775807)) ELSE 9223372036854775807 END) AS m)
    WHERE m < 9223372036854775807;
  END;
CREATE TRIGGER subscription_owners_reroute_insert AFTER INSERT ON subscription_owners
  BEGIN INSERT INTO reroute_markers (cloud_id, from_s) VALUES (NULL, NEW.from_s); END;
CREATE TRIGGER subscription_owners_reroute_update AFTER UPDATE ON subscription_owners
  BEGIN
    INSERT INTO reroute_markers (cloud_id, from_s)
    SELECT NULL, m FROM (SELECT min(
      CASE WHEN OLD.from_s IS NOT NEW.from_s OR OLD.from_ns IS NOT NEW.from_ns
           THEN min(OLD.from_s, NEW.from_s) ELSE 9223372036854775807 END,
      CASE WHEN OLD.to_s IS NOT NEW.to_s OR OLD.to_ns IS NOT NEW.to_ns
           THEN min(coalesce(OLD.to_s, 9223372036854775807), coalesce(NEW.to_s, 9223372036854775807)) ELSE 9223372036854775807 END) AS m)
    WHERE m < 9223372036854775807;
  END;

-- R11: a PlatformAdmin's replacement of a stored record's content, with what
-- it replaced (the billing close turns closed-period differences into
-- adjustments).
CREATE TABLE usage_supersessions (
  id                         INTEGER PRIMARY KEY,
  cloud_id                   BLOB NOT NULL,
  identity                   BLOB NOT NULL,
  at_s INTEGER NOT NULL, at_ns INTEGER NOT NULL,
  actor_principal_id         BLOB NOT NULL,
  reason                     TEXT NOT NULL,
  old_meter_id               BLOB NOT NULL,
  old_quantity               TEXT NOT NULL,
  old_usage_start_s INTEGER NOT NULL, old_usage_start_ns INTEGER NOT NULL,
  old_billed_subscription_id BLOB NOT NULL,
  old_content_hash           BLOB NOT NULL,
  new_quantity               TEXT NOT NULL
);
CREATE INDEX usage_supersessions_by_record ON usage_supersessions (cloud_id, identity, id);

-- Per stack: when usage last arrived and how many records were accepted
-- (GET /v1/stacks).
CREATE TABLE stack_ingest_stats (
  cloud_id    BLOB NOT NULL PRIMARY KEY,
  last_s      INTEGER NOT NULL, last_ns INTEGER NOT NULL,
  accepted    INTEGER NOT NULL
);

CREATE INDEX usage_by_cloud_start ON usage_records (cloud_id, usage_start_s);
CREATE INDEX quarantine_by_code ON quarantine (code, id);
)sql";

constexpr std::string_view kVersion3 = R"sql(
-- Billing-model approvals are part of the history (LoadHistory returns them):
-- changing one changes the history version too.
CREATE TRIGGER billing_model_approvals_history_insert AFTER INSERT ON billing_model_approvals
  BEGIN UPDATE history_version SET version = version + 1; END;
CREATE TRIGGER billing_model_approvals_history_update AFTER UPDATE ON billing_model_approvals
  BEGIN UPDATE history_version SET version = version + 1; END;
CREATE TRIGGER billing_model_approvals_history_delete AFTER DELETE ON billing_model_approvals
  BEGIN UPDATE history_version SET version = version + 1; END;

-- A change at the start of the version in force replaces its value in place
-- (same from and to): usage from that start on may route differently, so a
-- changed parent or owner leaves a marker from the version's start.
DROP TRIGGER partner_parent_links_reroute_update;
CREATE TRIGGER partner_parent_links_reroute_update AFTER UPDATE ON partner_parent_links
  BEGIN
    INSERT INTO reroute_markers (cloud_id, from_s)
    SELECT NULL, m FROM (SELECT min(
      CASE WHEN OLD.from_s IS NOT NEW.from_s OR OLD.from_ns IS NOT NEW.from_ns
                OR OLD.parent_partner_id IS NOT NEW.parent_partner_id
           THEN min(OLD.from_s, NEW.from_s) ELSE 9223372036854775807 END,
      CASE WHEN OLD.to_s IS NOT NEW.to_s OR OLD.to_ns IS NOT NEW.to_ns
           THEN min(coalesce(OLD.to_s, 9223372036854775807), coalesce(NEW.to_s, 9223372036854775807)) ELSE 9223372036854775807 END) AS m)
    WHERE m < 9223372036854775807;
  END;
DROP TRIGGER subscription_owners_reroute_update;
CREATE TRIGGER subscription_owners_reroute_update AFTER UPDATE ON subscription_owners
  BEGIN
    INSERT INTO reroute_markers (cloud_id, from_s)
    SELECT NULL, m FROM (SELECT min(
      CASE WHEN OLD.from_s IS NOT NEW.from_s OR OLD.from_ns IS NOT NEW.from_ns
                OR OLD.partner_id IS NOT NEW.partner_id
           THEN min(OLD.from_s, NEW.from_s) ELSE 9223372036854775807 END,
      CASE WHEN OLD.to_s IS NOT NEW.to_s OR OLD.to_ns IS NOT NEW.to_ns
           THEN min(coalesce(OLD.to_s, 9223372036854775807), coalesce(NEW.to_s, 9223372036854775807)) ELSE 9223372036854775807 END) AS m)
    WHERE m < 9223372036854775807;
  END;
)sql";

constexpr std::string_view kVersion4 = R"sql(
-- A resent bad record is not quarantined twice (R11): the pending entry with
-- the same raw text is found through this index.
CREATE INDEX quarantine_pending_by_text ON quarantine (cloud_id, raw_text)
  WHERE replayed_s IS NULL;
)sql";

constexpr std::string_view kVersion5 = R"sql(
-- Natural-key identities lead with their usage hour (core/usage_identity.h),
-- so that one stack's hour of records lands together in the UNIQUE
-- (cloud_id, identity) index. Rewrites the identities stored before, and the
-- supersessions that name them, with stackbill_stamp_usage_hour (registered
-- by Migrate). Identities from a record's id are unchanged.
UPDATE usage_supersessions
   SET identity = stackbill_stamp_usage_hour(identity,
         (SELECT r.usage_start_s FROM usage_records r
           WHERE r.cloud_id = usage_supersessions.cloud_id
             AND r.identity = usage_supersessions.identity))
 WHERE EXISTS (SELECT 1 FROM usage_records r
                WHERE r.cloud_id = usage_supersessions.cloud_id
                  AND r.identity = usage_supersessions.identity
                  AND r.record_id = '');
UPDATE usage_records SET identity = stackbill_stamp_usage_hour(identity, usage_start_s)
 WHERE record_id = '';
)sql";

constexpr std::string_view kVersion6 = R"sql(
-- Usage rollups (SPEC §7; store/sqlite/sqlite_usage_rollups.h): usage_records
-- summed per billed subscription, reported and usage bucket (hours since the
-- epoch in the *_hours tables, days in the *_days tables), meter, stack,
-- tenant and stack-local subscription, and per resource by day. Per resource
-- by the hour the hourly records are their own rollup, read through
-- usage_by_billed_subscription (usage time) and usage_by_billed_reported
-- (reported time), which replaces usage_by_reported: every index of
-- usage_records costs each ingested record. Written in the transaction that writes the records
-- (ingest, re-route, supersede); quantity is canonical decimal text, summed
-- in C++ (R14). A database that held usage before is built from
-- usage_records once, when it is next opened (usage_rollup_state.built = 0).
CREATE TABLE usage_rollup_hours (
  billed_subscription_id BLOB NOT NULL,
  reported_bucket        INTEGER NOT NULL,
  usage_bucket           INTEGER NOT NULL,
  meter_id               BLOB NOT NULL,
  cloud_id               BLOB NOT NULL,
  tenant_id              BLOB NOT NULL,
  local_subscription_id  BLOB NOT NULL,
  quantity               TEXT NOT NULL,
  records                INTEGER NOT NULL,
  PRIMARY KEY (billed_subscription_id, reported_bucket, usage_bucket, meter_id, cloud_id,
               tenant_id, local_subscription_id)
) WITHOUT ROWID;
CREATE INDEX usage_rollup_hours_by_usage
  ON usage_rollup_hours (billed_subscription_id, usage_bucket);
CREATE INDEX usage_rollup_hours_by_reported_time ON usage_rollup_hours (reported_bucket);
CREATE INDEX usage_rollup_hours_by_usage_time ON usage_rollup_hours (usage_bucket);

CREATE TABLE usage_rollup_days (
  billed_subscription_id BLOB NOT NULL,
  reported_bucket        INTEGER NOT NULL,
  usage_bucket           INTEGER NOT NULL,
  meter_id               BLOB NOT NULL,
  cloud_id               BLOB NOT NULL,
  tenant_id              BLOB NOT NULL,
  local_subscription_id  BLOB NOT NULL,
  quantity               TEXT NOT NULL,
  records                INTEGER NOT NULL,
  PRIMARY KEY (billed_subscription_id, reported_bucket, usage_bucket, meter_id, cloud_id,
               tenant_id, local_subscription_id)
) WITHOUT ROWID;
CREATE INDEX usage_rollup_days_by_usage ON usage_rollup_days (billed_subscription_id, usage_bucket);
CREATE INDEX usage_rollup_days_by_reported_time ON usage_rollup_days (reported_bucket);
CREATE INDEX usage_rollup_days_by_usage_time ON usage_rollup_days (usage_bucket);

CREATE TABLE usage_rollup_resource_days (
  billed_subscription_id BLOB NOT NULL,
  reported_bucket        INTEGER NOT NULL,
  usage_bucket           INTEGER NOT NULL,
  meter_id               BLOB NOT NULL,
  resource_uri           TEXT NOT NULL,
  cloud_id               BLOB NOT NULL,
  tenant_id              BLOB NOT NULL,
  local_subscription_id  BLOB NOT NULL,
  quantity               TEXT NOT NULL,
  records                INTEGER NOT NULL,
  instance_data          TEXT NOT NULL,
  PRIMARY KEY (billed_subscription_id, reported_bucket, usage_bucket, meter_id, resource_uri,
               cloud_id, tenant_id, local_subscription_id)
) WITHOUT ROWID;
CREATE INDEX usage_rollup_resource_days_by_usage
  ON usage_rollup_resource_days (billed_subscription_id, usage_bucket);

DROP INDEX usage_by_reported;
CREATE INDEX usage_by_billed_reported
  ON usage_records (billed_subscription_id, reported_s, reported_ns);

CREATE TABLE usage_rollup_state (
  id    INTEGER PRIMARY KEY CHECK (id = 1),
  built INTEGER NOT NULL
);
INSERT INTO usage_rollup_state (id, built) VALUES (1, 0);

-- Secrets of the server shared by every node (IdentityStore::ServerSecret),
-- e.g. the key that signs continuation tokens (SPEC §6).
CREATE TABLE server_secrets (
  name   TEXT NOT NULL PRIMARY KEY,
  secret BLOB NOT NULL
);
)sql";

constexpr std::string_view kVersion7 = R"sql(
-- The rollups keyed time first (store/sqlite/sqlite_usage_rollups.h): with
-- the billed subscription first, one hour of a stack with thousands of
-- subscriptions wrote a page of every rollup table and index per
-- subscription, a commit ~70 MB of WAL. Keyed (reported bucket, usage
-- bucket, subscription, …), an ingest writes where the newest buckets are,
-- and a subscription's rows are found by seeking (reported, usage,
-- subscription) for each bucket pair in the window: usage_rollup_buckets
-- lists the pairs that hold rows of each rollup (0 hours, 1 days, 2 resource
-- days, 3 months). No secondary index: every index costs each ingested record. Rebuilt
-- from usage_records when the database is next opened.
DROP TABLE usage_rollup_hours;
DROP TABLE usage_rollup_days;
DROP TABLE usage_rollup_resource_days;

CREATE TABLE usage_rollup_hours (
  reported_bucket        INTEGER NOT NULL,
  usage_bucket           INTEGER NOT NULL,
  billed_subscription_id BLOB NOT NULL,
  meter_id               BLOB NOT NULL,
  cloud_id               BLOB NOT NULL,
  tenant_id              BLOB NOT NULL,
  local_subscription_id  BLOB NOT NULL,
  quantity               TEXT NOT NULL,
  records                INTEGER NOT NULL,
  PRIMARY KEY (reported_bucket, usage_bucket, billed_subscription_id, meter_id, cloud_id,
               tenant_id, local_subscription_id)
) WITHOUT ROWID;

CREATE TABLE usage_rollup_days (
  reported_bucket        INTEGER NOT NULL,
  usage_bucket           INTEGER NOT NULL,
  billed_subscription_id BLOB NOT NULL,
  meter_id               BLOB NOT NULL,
  cloud_id               BLOB NOT NULL,
  tenant_id              BLOB NOT NULL,
  local_subscription_id  BLOB NOT NULL,
  quantity               TEXT NOT NULL,
  records                INTEGER NOT NULL,
  PRIMARY KEY (reported_bucket, usage_bucket, billed_subscription_id, meter_id, cloud_id,
               tenant_id, local_subscription_id)
) WITHOUT ROWID;

CREATE TABLE usage_rollup_resource_days (
  reported_bucket        INTEGER NOT NULL,
  usage_bucket           INTEGER NOT NULL,
  billed_subscription_id BLOB NOT NULL,
  meter_id               BLOB NOT NULL,
  resource_uri           TEXT NOT NULL,
  cloud_id               BLOB NOT NULL,
  tenant_id              BLOB NOT NULL,
  local_subscription_id  BLOB NOT NULL,
  quantity               TEXT NOT NULL,
  records                INTEGER NOT NULL,
  instance_data          TEXT NOT NULL,
  PRIMARY KEY (reported_bucket, usage_bucket, billed_subscription_id, meter_id, resource_uri,
               cloud_id, tenant_id, local_subscription_id)
) WITHOUT ROWID;

-- The same per reported and usage calendar month (months since 1970-01): a
-- month of thousands of subscriptions is one row per subscription and meter.
CREATE TABLE usage_rollup_months (
  reported_bucket        INTEGER NOT NULL,
  usage_bucket           INTEGER NOT NULL,
  billed_subscription_id BLOB NOT NULL,
  meter_id               BLOB NOT NULL,
  cloud_id               BLOB NOT NULL,
  tenant_id              BLOB NOT NULL,
  local_subscription_id  BLOB NOT NULL,
  quantity               TEXT NOT NULL,
  records                INTEGER NOT NULL,
  PRIMARY KEY (reported_bucket, usage_bucket, billed_subscription_id, meter_id, cloud_id,
               tenant_id, local_subscription_id)
) WITHOUT ROWID;

-- A pair stays listed when its rows are gone (re-routed, superseded): a seek
-- that finds nothing.
CREATE TABLE usage_rollup_buckets (
  rollup          INTEGER NOT NULL,
  reported_bucket INTEGER NOT NULL,
  usage_bucket    INTEGER NOT NULL,
  PRIMARY KEY (rollup, reported_bucket, usage_bucket)
) WITHOUT ROWID;
CREATE INDEX usage_rollup_buckets_by_usage
  ON usage_rollup_buckets (rollup, usage_bucket, reported_bucket);

UPDATE usage_rollup_state SET built = 0;
)sql";

constexpr std::string_view kVersion8 = R"sql(
-- What closed periods billed, per usage month, billed subscription, meter and
-- zero rating (BillingStore::ClosePeriod's ledger): a later close bills the
-- difference between a closed month's usage now and this (late usage,
-- superseded and re-routed records, R12), so nothing is billed twice or lost
-- whatever arrives while a close runs.
CREATE TABLE billed_usage (
  usage_year             INTEGER NOT NULL,
  usage_month            INTEGER NOT NULL,
  billed_subscription_id BLOB NOT NULL,
  meter_id               BLOB NOT NULL,
  zero_rated             INTEGER NOT NULL,
  quantity               TEXT NOT NULL,
  PRIMARY KEY (usage_year, usage_month, billed_subscription_id, meter_id, zero_rated)
) WITHOUT ROWID;

-- PlatformAdmins' credit and debit lines for an open period (SPEC §5).
CREATE TABLE adjustments (
  id                 BLOB NOT NULL PRIMARY KEY,
  period_year        INTEGER NOT NULL,
  period_month       INTEGER NOT NULL,
  subscription_id    BLOB NOT NULL,
  meter_id           BLOB,
  amount             TEXT NOT NULL,
  currency           TEXT NOT NULL,
  reason             TEXT NOT NULL,
  actor_principal_id BLOB NOT NULL,
  created_s INTEGER NOT NULL, created_ns INTEGER NOT NULL
);
CREATE INDEX adjustments_by_period ON adjustments (period_year, period_month);
CREATE TRIGGER adjustments_immutable_update BEFORE UPDATE ON adjustments
  BEGIN SELECT RAISE(ABORT, 'adjustments are immutable'); END;
CREATE TRIGGER adjustments_immutable_delete BEFORE DELETE ON adjustments
  BEGIN SELECT RAISE(ABORT, 'adjustments are immutable'); END;
)sql";

// Version 9: partners' customer price sheets for re-billing (SPEC §5):
// owner_kind 'customers' with the partner's id, and a markup over the list
// prices (decimal text; NULL on other sheets).
constexpr std::string_view kVersion9 = R"sql(
ALTER TABLE price_sheets ADD COLUMN markup TEXT;
CREATE TRIGGER price_sheets_locked_markup BEFORE UPDATE OF markup ON price_sheets
  WHEN OLD.locked_s IS NOT NULL
  BEGIN SELECT RAISE(ABORT, 'price sheet is locked'); END;
)sql";

// No version 10 drops usage_records' two per-subscription indexes, though it
// would make the ingest a quarter faster (docs/PERFORMANCE.md): the Commerce
// API's hourly per-resource aggregates (showDetails, its default), /v1/usage
// by resource and hour and mid-day reconciliation read the records through
// them (AggregateUsageRollups), and would scan the whole table without them.
constexpr std::array<std::string_view, 9> kMigrations = {kVersion1, kVersion2, kVersion3,
                                                         kVersion4, kVersion5, kVersion6,
                                                         kVersion7, kVersion8, kVersion9};

}  // namespace

std::span<const std::string_view> SchemaMigrations() { return kMigrations; }

}  // namespace stackbill::sqlite
