#!/usr/bin/env bash
# bench/baseline/sqlite.sh DATA_DIR REF_DIR
#
# The SQLite baseline of bench/run (issue 8): "the hand-written way" a CSP
# would meter and invoice a month without stackbill — a pipeline of SQL
# scripts run by the stock `sqlite3` command-line shell (3.40, Debian), with
# its built-in JSON functions and decimal extension, and nothing else.
#
# DATA_DIR is `stackbill simulate --out`'s folder (DATA_DIR/<stack>/cloud-id
# and usage-*.ndjson); REF_DIR is bench/baseline/reference.sh's CSV export of
# the same world's store. PERIOD (default 2026-11) is the month invoiced.
#
# Timed phases (each a separate `sqlite3` run on one database file):
#   load      per NDJSON file, in one transaction: `.import` of the raw lines
#             into a TEMP staging table, then the JSON parsed with
#             json ->/->> into a second TEMP staging table (GUIDs normalised
#             to lower-case 8-4-4-4-12, times to Unix seconds, `quantity` from
#             the TEXT of the JSON number via `->`, never a REAL), then
#             INSERT … ON CONFLICT DO NOTHING into usage_records, keyed on the
#             natural identity (cloud, usageStartTime, local subscription,
#             meter, resourceUri, usageEndTime) — WITHOUT ROWID, the key
#             leading with the usage time as stackbill's identity does.
#   resend    the whole load again: every record a duplicate; the row count
#             must not change (checked).
#   route     per record, lookups on [valid_from, valid_to) of the exported
#             history (indexed; the version in force that started last, as
#             core/history.cc picks it): the tenant from the record or the
#             stack subscriber mapping, the registration, the customer
#             subscription for (registration, tenant) when R5 allows it, else
#             the default subscription (R4/R7); zero-rated when the
#             registration's model is Development or Ruggedized (R9) -> table
#             routed.
#   aggregate per (billed subscription, meter, zero-rated) of PERIOD by
#             usageStartTime, decimal_sum -> table month_usage.
#   price     bill-to party (R8: direct-billed offers to themselves, else the
#             top of the owner partner's roll-up chain, recursive CTE, as of
#             the period start), currency, the sheet version in force (the
#             partner's override meter by meter, else the offer's list price,
#             APSS priced as CSP), billable = max(0, total − included), the
#             graduated tiers (services/rating.cc ApplyTiers), exact products
#             with decimal_mul, one ROUND HALF-EVEN per line to the currency's
#             minor unit (core/decimal.cc RoundHalfEven), zero-rated lines 0,
#             invoice total = Σ rounded lines -> table invoice_lines.
# total_s = load + route + aggregate + price (the month, once, from files to
# invoices); resend_s is reported apart.
#
# Why it is fair: durable like stackbill (WAL; synchronous=FULL by default —
# stackbill's `serve` itself runs synchronous=NORMAL, SQLITE_SYNC=NORMAL
# matches it; one commit per file, as a loader that can resume would do), the
# same 256 MiB page cache and 1 GiB mmap as stackbill's writer, JSON parsed
# inside the timed path as stackbill parses it, exact decimals throughout
# (SQLite's own decimal functions — never REAL; its decimal_cmp is not used:
# in 3.40 it orders "1.50" above "1.5"). What it leaves out, which favours it:
# validation and quarantine (unknown meters, tenants, bad windows), the
# content hash and conflict detection, secondary indexes, rollups, HTTP/TLS,
# and a chain that changes inside the month (bill-to is taken at the period
# start; stackbill splits such a month).
#
# Progress on stderr; one JSON line on stdout (see common.sh result_json).
# The database lives in a fresh directory under ${TMPDIR:-/tmp}, removed on
# exit (KEEP_DB=1 keeps it and prints where). Needs the sqlite3 CLI, 3.38 or
# later (JSON -> and ->>, unixepoch; Debian 12 has 3.40).
set -euo pipefail
engine=sqlite
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=bench/baseline/common.sh
source "$here/common.sh"
baseline_args "$@"
command -v sqlite3 >/dev/null || die "the sqlite3 CLI is required (apt-get install sqlite3)"
sync_mode=${SQLITE_SYNC:-FULL}
[[ $sync_mode == FULL || $sync_mode == NORMAL ]] || die "SQLITE_SYNC: FULL or NORMAL"

work=$(mktemp -d "${TMPDIR:-/tmp}/baseline-sqlite.XXXXXX")
cleanup() {
  if [[ ${KEEP_DB:-0} == 1 ]]; then
    log "kept $work/usage.db"
  else
    rm -rf "$work"
  fi
}
trap cleanup EXIT
db=$work/usage.db

# run_sql FILE: one sqlite3 session on the database with the settings of
# every phase, stopping at the first error.
run_sql() {
  {
    printf '.output /dev/null\nPRAGMA synchronous = %s;\nPRAGMA cache_size = -262144;\n' "$sync_mode"
    printf 'PRAGMA mmap_size = 1073741824;\nPRAGMA temp_store = FILE;\n.output stdout\n'
    cat "$1"
  } | sqlite3 -bail -batch "$db"
}
sq() { printf "'%s'" "${1//\'/\'\'}"; }

# --- Schema and reference data (untimed) ----------------------------------
cat >"$work/schema.sql" <<'EOF'
PRAGMA journal_mode = WAL;
CREATE TABLE usage_records (
  cloud_id        TEXT NOT NULL,
  usage_start     INTEGER NOT NULL,
  subscription_id TEXT NOT NULL,
  meter_id        TEXT NOT NULL,
  resource_uri    TEXT NOT NULL,
  usage_end       INTEGER NOT NULL,
  tenant_id       TEXT,
  quantity        TEXT NOT NULL,
  instance_data   TEXT NOT NULL,
  PRIMARY KEY (cloud_id, usage_start, subscription_id, meter_id, resource_uri, usage_end)
) WITHOUT ROWID;
CREATE TABLE subscribers (cloud_id TEXT, local_subscription_id TEXT, tenant_id TEXT,
                          valid_from INTEGER, valid_to INTEGER);
CREATE INDEX subscribers_key ON subscribers (cloud_id, local_subscription_id, valid_from);
CREATE TABLE registrations (id INTEGER PRIMARY KEY, registration_key TEXT, cloud_id TEXT,
                            default_subscription_id TEXT, billing_model TEXT,
                            multi_tenant INTEGER, valid_from INTEGER, valid_to INTEGER);
CREATE TABLE customer_subscriptions (registration_key TEXT, cloud_id TEXT, tenant_id TEXT,
                                     customer_subscription_id TEXT, valid_from INTEGER,
                                     valid_to INTEGER);
CREATE INDEX customer_subscriptions_key
  ON customer_subscriptions (registration_key, tenant_id, valid_from);
CREATE TABLE subscriptions (subscription_id TEXT PRIMARY KEY, offer_type TEXT, partner_id TEXT,
                            billing_currency TEXT);
CREATE TABLE subscription_owners (subscription_id TEXT, partner_id TEXT, valid_from INTEGER,
                                  valid_to INTEGER);
CREATE INDEX subscription_owners_key ON subscription_owners (subscription_id, valid_from);
CREATE TABLE partner_parents (partner_id TEXT, parent_partner_id TEXT, valid_from INTEGER,
                              valid_to INTEGER);
CREATE TABLE partners (partner_id TEXT PRIMARY KEY, billing_currency TEXT);
CREATE TABLE prices (owner_kind TEXT, owner_id TEXT, currency TEXT, effective_from INTEGER,
                     meter_id TEXT, included_quantity TEXT, tier_start TEXT, unit_price TEXT);
CREATE TABLE currencies (code TEXT PRIMARY KEY, minor_units INTEGER);
EOF
{
  for t in subscribers customer_subscriptions subscriptions subscription_owners partner_parents \
    partners prices currencies; do
    printf '.import --csv --skip 1 %s %s\n' "$(sq "$ref_dir/$t.csv")" "$t"
  done
  # registrations gets a rowid of its own (the routing picks one version).
  printf '.import --csv %s registrations_csv\n' "$(sq "$ref_dir/registrations.csv")"
  cat <<'EOF'
INSERT INTO registrations (registration_key, cloud_id, default_subscription_id, billing_model,
                           multi_tenant, valid_from, valid_to)
  SELECT registration_key, cloud_id, default_subscription_id, billing_model,
         CAST(multi_tenant AS INTEGER), CAST(valid_from AS INTEGER), CAST(valid_to AS INTEGER)
  FROM registrations_csv;
DROP TABLE registrations_csv;
CREATE INDEX registrations_key ON registrations (cloud_id, valid_from);
ANALYZE;
EOF
} >>"$work/schema.sql"
run_sql "$work/schema.sql" >/dev/null

records=0
for f in "${ndjson_files[@]}"; do
  records=$((records + $(grep -c . "$f" || true)))
done
log "${#ndjson_files[@]} NDJSON files of ${#stack_dirs[@]} stack(s), $records records; database $db (synchronous=$sync_mode)"

# --- Load -----------------------------------------------------------------
# The hex digits of a GUID in any spelling; guid_text: 8-4-4-4-12 from them.
hex_of() { printf "lower(replace(replace(replace(%s, '-', ''), '{', ''), '}', ''))" "$1"; }
guid_text() {
  printf "substr(%s,1,8)||'-'||substr(%s,9,4)||'-'||substr(%s,13,4)||'-'||substr(%s,17,4)||'-'||substr(%s,21,12)" \
    "$1" "$1" "$1" "$1" "$1"
}
{
  cat <<'EOF'
CREATE TEMP TABLE staging_raw (line TEXT);
CREATE TEMP TABLE staging (subscription_hex TEXT, meter_hex TEXT, tenant_hex TEXT,
                           quantity TEXT, usage_start INTEGER, usage_end INTEGER,
                           resource_uri TEXT, instance_data TEXT);
.mode ascii
.separator "\037" "\n"
EOF
  for i in "${!ndjson_files[@]}"; do
    cat <<EOF
BEGIN;
.import --schema temp $(sq "${ndjson_files[$i]}") staging_raw
INSERT INTO temp.staging
SELECT $(hex_of "line ->> '\$.subscriptionId'"), $(hex_of "line ->> '\$.meterId'"),
       $(hex_of "line ->> '\$.tenantId'"),
       decimal(line -> '\$.quantity'),
       unixepoch(line ->> '\$.usageStartTime'), unixepoch(line ->> '\$.usageEndTime'),
       instance_data ->> '\$."Microsoft.Resources".resourceUri', instance_data
FROM (SELECT line, CASE json_type(line, '\$.instanceData')
                     WHEN 'text' THEN line ->> '\$.instanceData'
                     ELSE line -> '\$.instanceData' END AS instance_data
      FROM temp.staging_raw WHERE line <> '');
INSERT INTO usage_records (cloud_id, usage_start, subscription_id, meter_id, resource_uri,
                           usage_end, tenant_id, quantity, instance_data)
SELECT $(sq "${file_clouds[$i]}"), usage_start, $(guid_text subscription_hex),
       $(guid_text meter_hex), coalesce(resource_uri, ''), usage_end,
       CASE WHEN tenant_hex IS NOT NULL THEN $(guid_text tenant_hex) END,
       quantity, instance_data
FROM temp.staging WHERE true
ON CONFLICT DO NOTHING;
DELETE FROM temp.staging_raw;
DELETE FROM temp.staging;
COMMIT;
EOF
  done
} >"$work/load.sql"
stored_rows() { sqlite3 -batch "$db" "SELECT count(*) FROM usage_records"; }

log "load"
t0=$(now)
run_sql "$work/load.sql"
t1=$(now)
load_s=$(elapsed "$t0" "$t1")
stored=$(stored_rows)
log "load: $load_s s, $stored rows stored"

log "resend (every record a duplicate)"
t0=$(now)
run_sql "$work/load.sql"
t1=$(now)
resend_s=$(elapsed "$t0" "$t1")
again=$(stored_rows)
((again == stored)) || die "the resend changed usage_records: $stored rows before, $again after"
log "resend: $resend_s s, still $again rows"

# --- Route ----------------------------------------------------------------
cat >"$work/route.sql" <<'EOF'
CREATE TABLE routed (usage_start INTEGER NOT NULL, billed_subscription_id TEXT NOT NULL,
                     meter_id TEXT NOT NULL, zero_rated INTEGER NOT NULL, quantity TEXT NOT NULL);
INSERT INTO routed
SELECT x.usage_start,
       coalesce(CASE WHEN r.multi_tenant = 1 AND r.billing_model <> 'Capacity'
                          AND ds.offer_type IN ('CSP', 'APSS')  -- R5
                     THEN (SELECT c.customer_subscription_id FROM customer_subscriptions c
                           WHERE c.registration_key = r.registration_key
                             AND c.tenant_id = x.tenant_id
                             AND c.valid_from <= x.usage_start AND x.usage_start < c.valid_to
                           ORDER BY c.valid_from DESC LIMIT 1) END,
                r.default_subscription_id),  -- R4, R7
       x.meter_id,
       r.billing_model IN ('Development', 'Ruggedized'),  -- R9
       x.quantity
FROM (SELECT u.usage_start, u.meter_id, u.quantity,
             coalesce(u.tenant_id,
                      (SELECT s.tenant_id FROM subscribers s
                       WHERE s.cloud_id = u.cloud_id AND s.local_subscription_id = u.subscription_id
                         AND s.valid_from <= u.usage_start AND u.usage_start < s.valid_to
                       ORDER BY s.valid_from DESC LIMIT 1)) AS tenant_id,
             (SELECT g.id FROM registrations g
              WHERE g.cloud_id = u.cloud_id
                AND g.valid_from <= u.usage_start AND u.usage_start < g.valid_to
              ORDER BY g.valid_from DESC LIMIT 1) AS registration_id
      FROM usage_records u) x
JOIN registrations r ON r.id = x.registration_id
JOIN subscriptions ds ON ds.subscription_id = r.default_subscription_id;
EOF
log "route"
t0=$(now)
run_sql "$work/route.sql"
t1=$(now)
route_s=$(elapsed "$t0" "$t1")
routed=$(sqlite3 -batch "$db" "SELECT count(*) FROM routed")
log "route: $route_s s, $routed records routed"
((routed == stored)) || log "warning: $((stored - routed)) records have no registration in force"

# --- Aggregate ------------------------------------------------------------
cat >"$work/aggregate.sql" <<EOF
CREATE TABLE month_usage (billed_subscription_id TEXT NOT NULL, meter_id TEXT NOT NULL,
                          zero_rated INTEGER NOT NULL, total TEXT NOT NULL,
                          PRIMARY KEY (billed_subscription_id, meter_id, zero_rated));
INSERT INTO month_usage
SELECT billed_subscription_id, meter_id, zero_rated, decimal_sum(quantity) AS total
FROM routed
WHERE usage_start >= $period_start AND usage_start < $period_end
GROUP BY billed_subscription_id, meter_id, zero_rated;
EOF
log "aggregate"
t0=$(now)
run_sql "$work/aggregate.sql"
t1=$(now)
aggregate_s=$(elapsed "$t0" "$t1")
log "aggregate: $aggregate_s s, $(sqlite3 -batch "$db" "SELECT count(*) FROM month_usage") keys"

# --- Price ----------------------------------------------------------------
# Decimal signs without decimal_cmp (see the header): a decimal's text is
# negative when it starts with '-', positive when not and it has a digit 1-9.
is_neg() { printf "(substr(%s, 1, 1) = '-')" "$1"; }
is_pos() { printf "(substr(%s, 1, 1) <> '-' AND ltrim(%s, '0.') <> '')" "$1" "$1"; }
ps=$period_start
cat >"$work/price.sql" <<EOF
CREATE TABLE invoice_lines AS
WITH RECURSIVE
owner AS MATERIALIZED (  -- the owner partner as of the period start (HistoryView::OwnerPartnerAt)
  SELECT s.subscription_id, s.offer_type, nullif(s.billing_currency, '') AS currency,
         s.offer_type IN ('PayAsYouGo', 'EnterpriseAgreement', 'DevTest') AS direct,
         nullif(coalesce((SELECT o.partner_id FROM subscription_owners o
                          WHERE o.subscription_id = s.subscription_id
                            AND o.valid_from <= $ps AND $ps < o.valid_to
                          ORDER BY o.valid_from DESC LIMIT 1), s.partner_id), '') AS partner_id
  FROM subscriptions s
  WHERE s.subscription_id IN (SELECT billed_subscription_id FROM month_usage)),
chain (subscription_id, partner_id, depth) AS (  -- R8: the roll-up chain
  SELECT subscription_id, partner_id, 0 FROM owner WHERE NOT direct AND partner_id IS NOT NULL
  UNION ALL
  SELECT c.subscription_id,
         (SELECT nullif(p.parent_partner_id, '') FROM partner_parents p
          WHERE p.partner_id = c.partner_id AND p.valid_from <= $ps AND $ps < p.valid_to
          ORDER BY p.valid_from DESC LIMIT 1),
         c.depth + 1
  FROM chain c WHERE c.partner_id IS NOT NULL AND c.depth < 64),
top AS MATERIALIZED (  -- SQLite: the bare column comes from the row of max(depth)
  SELECT subscription_id, partner_id, max(depth) FROM chain WHERE partner_id IS NOT NULL
  GROUP BY subscription_id),
bill AS MATERIALIZED (
  SELECT o.subscription_id,
         CASE WHEN o.direct THEN 'subscription:' || o.subscription_id
              ELSE 'partner:' || t.partner_id END AS bill_to,
         CASE WHEN o.direct THEN NULL ELSE t.partner_id END AS bill_partner,
         CASE WHEN o.direct THEN o.currency ELSE p.billing_currency END AS currency,
         CASE o.offer_type WHEN 'APSS' THEN 'CSP' ELSE o.offer_type END AS priced_as
  FROM owner o LEFT JOIN top t USING (subscription_id)
  LEFT JOIN partners p ON p.partner_id = t.partner_id),
in_force AS MATERIALIZED (  -- per (owner, currency), the version in force at the period start
  SELECT f.* FROM prices f
  JOIN (SELECT owner_kind, owner_id, currency, max(effective_from) AS effective_from FROM prices
        WHERE effective_from <= $ps GROUP BY owner_kind, owner_id, currency)
  USING (owner_kind, owner_id, currency, effective_from)),
line AS MATERIALIZED (
  SELECT m.rowid AS line_id, m.billed_subscription_id, m.meter_id, m.zero_rated, m.total,
         b.bill_to, b.currency,
         CASE WHEN m.zero_rated THEN NULL
              WHEN EXISTS (SELECT 1 FROM in_force f
                           WHERE f.owner_kind = 'partner' AND f.owner_id = b.bill_partner
                             AND f.currency = b.currency AND f.meter_id = m.meter_id)
                THEN 'partner'
              WHEN EXISTS (SELECT 1 FROM in_force f
                           WHERE f.owner_kind = 'offer' AND f.owner_id = b.priced_as
                             AND f.currency = b.currency AND f.meter_id = m.meter_id)
                THEN 'offer' END AS price_kind,
         CASE WHEN m.zero_rated THEN NULL
              WHEN EXISTS (SELECT 1 FROM in_force f
                           WHERE f.owner_kind = 'partner' AND f.owner_id = b.bill_partner
                             AND f.currency = b.currency AND f.meter_id = m.meter_id)
                THEN b.bill_partner ELSE b.priced_as END AS price_owner
  FROM month_usage m JOIN bill b ON b.subscription_id = m.billed_subscription_id
  WHERE ltrim(m.total, '0.') <> ''),  -- a zero total makes no line
tier AS (
  SELECT l.line_id, f.tier_start, f.unit_price,
         lead(f.tier_start) OVER (PARTITION BY l.line_id
                                  ORDER BY f.tier_start COLLATE decimal) AS next_start,
         CASE WHEN $(is_neg "decimal_sub(l.total, f.included_quantity)") THEN '0'
              ELSE decimal_sub(l.total, f.included_quantity) END AS billable
  FROM line l JOIN in_force f
    ON f.owner_kind = l.price_kind AND f.owner_id = l.price_owner
   AND f.currency = l.currency AND f.meter_id = l.meter_id),
tier_high AS (  -- the tier's part of [0, billable): [start, min(billable, next start))
  SELECT line_id, tier_start, unit_price,
         CASE WHEN next_start IS NULL OR $(is_neg "decimal_sub(billable, next_start)")
              THEN billable ELSE next_start END AS high
  FROM tier),
tier_amount AS (
  SELECT line_id,
         CASE WHEN $(is_pos "decimal_sub(high, tier_start)")
              THEN decimal_mul(decimal_sub(high, tier_start), unit_price) ELSE '0' END AS amount
  FROM tier_high),
exact AS (
  SELECT l.line_id, l.bill_to, l.currency, l.zero_rated, l.price_kind IS NULL AS unpriced,
         coalesce(a.amount, '0') AS amount, c.minor_units AS m
  FROM line l JOIN currencies c ON c.code = l.currency
  LEFT JOIN (SELECT line_id, decimal_sum(amount) AS amount FROM tier_amount GROUP BY line_id) a
    ON a.line_id = l.line_id),
split AS (  -- RoundHalfEven to m fractional digits, on the text (amounts are >= 0)
  SELECT line_id, bill_to, currency, zero_rated, unpriced, amount, m,
         CASE WHEN instr(amount, '.') > 0 THEN substr(amount, 1, instr(amount, '.') - 1)
              ELSE amount END AS ip,
         CASE WHEN instr(amount, '.') > 0 THEN substr(amount, instr(amount, '.') + 1)
              ELSE '' END || '0000000000' AS fp
  FROM exact),
digits AS (
  SELECT *, ip || CASE WHEN m > 0 THEN '.' || substr(fp, 1, m) ELSE '' END AS base,
         substr(fp, m + 1, 1) AS first_dropped, substr(fp, m + 2) AS rest,
         CASE WHEN m = 0 THEN substr(ip, -1) ELSE substr(fp, m, 1) END AS last_kept,
         CASE WHEN m = 0 THEN '1' ELSE '0.' || substr('000000000', 1, m - 1) || '1' END AS unit
  FROM split)
SELECT line_id, bill_to, currency, zero_rated, unpriced, amount AS exact_amount,
       CASE WHEN first_dropped > '5'
                 OR (first_dropped = '5'
                     AND (rtrim(rest, '0') <> '' OR last_kept IN ('1', '3', '5', '7', '9')))
            THEN decimal_add(base, unit) ELSE base END AS amount
FROM digits;
.mode list
SELECT coalesce(json_group_array(json_object('billTo', bill_to, 'currency', currency,
                                             'lines', lines, 'total', total)), '[]')
FROM (SELECT bill_to, currency, count(*) AS lines, decimal_sum(amount) AS total
      FROM invoice_lines GROUP BY bill_to, currency ORDER BY bill_to, currency);
EOF
log "price"
t0=$(now)
invoices=$(run_sql "$work/price.sql")
t1=$(now)
price_s=$(elapsed "$t0" "$t1")
unpriced=$(sqlite3 -batch "$db" "SELECT count(*) FROM invoice_lines WHERE unpriced AND NOT zero_rated")
((unpriced == 0)) || log "warning: $unpriced lines have no price (billed as 0, as --allow-unpriced)"
log "price: $price_s s, $(sqlite3 -batch "$db" "SELECT count(*) FROM invoice_lines") lines"

total_s=$(awk -v a="$load_s" -v b="$route_s" -v c="$aggregate_s" -v d="$price_s" \
  'BEGIN { printf "%.3f", a + b + c + d }')
result_json "$records" "$stored" "$invoices"
