#!/usr/bin/env bash
# bench/baseline/postgresql.sh DATA_DIR REF_DIR
#
# The PostgreSQL baseline of bench/run (issue 8): "the hand-written way" a CSP
# would meter and invoice a month without stackbill — SQL scripts run by psql
# against a stock PostgreSQL 15, with default durability.
#
# DATA_DIR is `stackbill simulate --out`'s folder (DATA_DIR/<stack>/cloud-id
# and usage-*.ndjson); REF_DIR is bench/baseline/reference.sh's CSV export of
# the same world's store. PERIOD (default 2026-11) is the month invoiced;
# PG_SESSIONS (default 2, the machine's cores) concurrent psql sessions load
# the files, dealt round-robin (a record's natural key names its usage day,
# so one key is only ever in one file: sessions never wait on each other).
#
# Timed phases:
#   load      per NDJSON file, in one transaction of its session: TRUNCATE an
#             UNLOGGED staging table with one jsonb column, COPY the raw lines
#             into it (the server parses the JSON — inside the timed path, as
#             stackbill parses it; `quantity` becomes jsonb's exact numeric,
#             never a float), then INSERT … ON CONFLICT DO NOTHING into the
#             logged usage_records, PRIMARY KEY (cloud, usageStartTime, local
#             subscription, meter, resourceUri, usageEndTime) — uuid columns
#             (any GUID spelling is normalised by uuid's input), timestamptz,
#             numeric quantity.
#   resend    the whole load again: every record a duplicate; the row count
#             must not change (checked).
#   route     interval joins on the exported history: the tenant (record, or
#             stack subscriber in force at usageStartTime), the registration
#             in force, the customer subscription in force for (registration,
#             tenant) when R5 allows it, else the default subscription
#             (R4/R7); zero-rated when the model is Development or Ruggedized
#             (R9) -> table routed. The joins are equi-joins (hash joins) with
#             [valid_from, valid_to) filters, the R5 condition folded into the
#             join key beforehand (a LEFT JOIN whose ON mixes both sides' other
#             conditions becomes a nested loop in DuckDB): stackbill's versions
#             of one key do not overlap, and a routed count above the stored
#             one fails the run.
#   aggregate per (billed subscription, meter, zero-rated) of PERIOD by
#             usageStartTime, sum(numeric) -> table month_usage.
#   price     bill-to (R8: direct-billed offers to themselves, else the top of
#             the owner partner's roll-up chain, recursive CTE, as of the
#             period start), currency, the sheet version in force (partner
#             override meter by meter, else the offer's list; APSS as CSP),
#             billable = greatest(0, total − included), graduated tiers
#             (services/rating.cc ApplyTiers), exact numeric products, one
#             ROUND HALF-EVEN per line (PostgreSQL's round() rounds half away
#             from zero, so it is written out), zero-rated lines 0, invoice
#             total = Σ rounded lines -> table invoice_lines.
# total_s = load + route + aggregate + price; resend_s is reported apart.
#
# Why it is fair: default fsync/synchronous_commit/full_page_writes (a
# committed file survives power loss), a logged keyed table, only staging
# UNLOGGED, as a real bulk loader does; shared_buffers=256MB (stackbill's
# writer cache) and max_wal_size=4GB, else defaults (autovacuum included).
# What it leaves out, which favours it: validation and quarantine, content
# hashes and conflict detection, secondary indexes and rollups, HTTP/TLS, and
# a roll-up chain that changes inside the month (bill-to at the period start).
#
# Progress on stderr; one JSON line on stdout (common.sh result_json). The
# server runs in a fresh directory under ${TMPDIR:-/tmp} (bench/baseline/
# pg_server.sh: as the postgres user when root), stopped and removed on exit,
# also on failure. Needs PostgreSQL 15 in /usr/lib/postgresql/15/bin and jq.
set -euo pipefail
engine=postgresql
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=bench/baseline/common.sh
source "$here/common.sh"
# shellcheck source=bench/baseline/pg_server.sh
source "$here/pg_server.sh"
baseline_args "$@"
sessions=${PG_SESSIONS:-2}
[[ $sessions =~ ^[1-9][0-9]*$ ]] || die "PG_SESSIONS must be a positive integer, not '$sessions'"

pg_server_traps

pg_server_init baseline-postgresql
work=$pg_tmp/work
mkdir "$work"
chmod 755 "$work"
pg_server_start "
# bench/baseline/postgresql.sh: modest memory
shared_buffers = 256MB
max_wal_size = 4GB"
sq() { printf "'%s'" "${1//\'/\'\'}"; }

# --- Schema and reference data (untimed) ----------------------------------
{
  cat <<'EOF'
CREATE TABLE usage_records (
  cloud_id        uuid NOT NULL,
  usage_start     timestamptz NOT NULL,
  subscription_id uuid NOT NULL,
  meter_id        uuid NOT NULL,
  resource_uri    text NOT NULL,
  usage_end       timestamptz NOT NULL,
  tenant_id       uuid,
  quantity        numeric NOT NULL,
  instance_data   text NOT NULL,
  PRIMARY KEY (cloud_id, usage_start, subscription_id, meter_id, resource_uri, usage_end)
);
CREATE TABLE subscribers (cloud_id uuid, local_subscription_id uuid, tenant_id uuid,
                          valid_from bigint, valid_to bigint);
CREATE TABLE registrations (registration_key text, cloud_id uuid, default_subscription_id uuid,
                            billing_model text, multi_tenant int, valid_from bigint,
                            valid_to bigint);
CREATE TABLE customer_subscriptions (registration_key text, cloud_id uuid, tenant_id uuid,
                                     customer_subscription_id uuid, valid_from bigint,
                                     valid_to bigint);
CREATE TABLE subscriptions (subscription_id uuid PRIMARY KEY, offer_type text, partner_id text,
                            billing_currency text);
CREATE TABLE subscription_owners (subscription_id uuid, partner_id text, valid_from bigint,
                                  valid_to bigint);
CREATE TABLE partner_parents (partner_id text, parent_partner_id text, valid_from bigint,
                              valid_to bigint);
CREATE TABLE partners (partner_id text PRIMARY KEY, billing_currency text);
CREATE TABLE prices (owner_kind text, owner_id text, currency text, effective_from bigint,
                     meter_id uuid, included_quantity numeric, tier_start numeric,
                     unit_price numeric);
CREATE TABLE currencies (code text PRIMARY KEY, minor_units int);
EOF
  for t in subscribers registrations customer_subscriptions subscriptions subscription_owners \
    partner_parents partners prices currencies; do
    printf '\\copy %s FROM %s WITH (FORMAT csv, HEADER true)\n' "$t" "$(sq "$ref_dir/$t.csv")"
  done
  cat <<'EOF'
CREATE INDEX ON subscribers (cloud_id, local_subscription_id);
CREATE INDEX ON customer_subscriptions (registration_key, tenant_id);
ANALYZE;
EOF
  for ((i = 1; i <= sessions; i++)); do
    echo "CREATE UNLOGGED TABLE staging_$i (j jsonb);"
  done
} | psql_

records=0
for f in "${ndjson_files[@]}"; do
  records=$((records + $(grep -c . "$f" || true)))
done
log "${#ndjson_files[@]} NDJSON files of ${#stack_dirs[@]} stack(s), $records records; $sessions session(s)"

# --- Load -----------------------------------------------------------------
# COPY in CSV mode with a quote and a delimiter that JSON text cannot hold
# takes each line verbatim (the text format would read JSON's backslashes as
# its own escapes).
for ((i = 1; i <= sessions; i++)); do
  : >"$work/session-$i.sql"
done
for k in "${!ndjson_files[@]}"; do
  i=$((k % sessions + 1))
  cat >>"$work/session-$i.sql" <<EOF
BEGIN;
TRUNCATE staging_$i;
\\copy staging_$i FROM $(sq "${ndjson_files[$k]}") WITH (FORMAT csv, QUOTE E'\\x01', DELIMITER E'\\x02')
INSERT INTO usage_records (cloud_id, usage_start, subscription_id, meter_id, resource_uri,
                           usage_end, tenant_id, quantity, instance_data)
SELECT $(sq "${file_clouds[$k]}")::uuid, (j ->> 'usageStartTime')::timestamptz,
       (j ->> 'subscriptionId')::uuid, (j ->> 'meterId')::uuid,
       coalesce(CASE jsonb_typeof(j -> 'instanceData')
                  WHEN 'string' THEN (j ->> 'instanceData')::jsonb
                  ELSE j -> 'instanceData' END -> 'Microsoft.Resources' ->> 'resourceUri', ''),
       (j ->> 'usageEndTime')::timestamptz, (j ->> 'tenantId')::uuid,
       (j ->> 'quantity')::numeric, j ->> 'instanceData'
FROM staging_$i
ON CONFLICT DO NOTHING;
COMMIT;
EOF
done

# run_sessions: the sessions' files concurrently; sets elapsed_s.
run_sessions() {
  local t0 t1 i rc=0
  psql_ -c "CHECKPOINT"
  session_pids=()
  t0=$(now)
  for ((i = 1; i <= sessions; i++)); do
    psql_ -f "$work/session-$i.sql" >"$work/session-$i.out" 2>&1 &
    session_pids+=("$!")
  done
  for i in "${!session_pids[@]}"; do
    if ! wait "${session_pids[$i]}"; then
      rc=1
      log "session $((i + 1)) failed:"
      cat "$work/session-$((i + 1)).out" >&2
    fi
  done
  t1=$(now)
  session_pids=()
  ((rc == 0)) || die "a session failed"
  elapsed_s=$(elapsed "$t0" "$t1")
}
count() { psql_ -A -t -c "SELECT count(*) FROM $1"; }

log "load"
run_sessions
load_s=$elapsed_s
stored=$(count usage_records)
log "load: $load_s s, $stored rows stored"

psql_ -c "VACUUM (ANALYZE) usage_records"  # untimed, as bench/pg_baseline.sh does
log "resend (every record a duplicate)"
run_sessions
resend_s=$elapsed_s
again=$(count usage_records)
((again == stored)) || die "the resend changed usage_records: $stored rows before, $again after"
log "resend: $resend_s s, still $again rows"

# timed_sql PHASE SQL: runs SQL in one session; sets elapsed_s, prints its output.
timed_sql() {
  local t0 t1
  log "$1"
  t0=$(now)
  psql_ -A -t -c "$2"
  t1=$(now)
  elapsed_s=$(elapsed "$t0" "$t1")
}

# --- Route ----------------------------------------------------------------
timed_sql route "
CREATE TABLE routed AS
WITH tenant AS (  -- the record's tenant, else the stack subscriber's in force
  SELECT u.cloud_id, u.usage_start, u.meter_id, u.quantity,
         coalesce(u.tenant_id, s.tenant_id) AS tenant_id
  FROM usage_records u
  LEFT JOIN subscribers s
    ON s.cloud_id = u.cloud_id AND s.local_subscription_id = u.subscription_id
   AND to_timestamp(s.valid_from) <= u.usage_start AND u.usage_start < to_timestamp(s.valid_to)),
registration AS (  -- R5: the key that finds customer subscriptions, NULL when not allowed
  SELECT r.*,
         CASE WHEN r.multi_tenant = 1 AND r.billing_model <> 'Capacity'
                   AND d.offer_type IN ('CSP', 'APSS')
              THEN r.registration_key END AS customers_key
  FROM registrations r JOIN subscriptions d ON d.subscription_id = r.default_subscription_id)
SELECT t.usage_start,
       coalesce(c.customer_subscription_id, r.default_subscription_id)  -- R4, R7
         AS billed_subscription_id,
       t.meter_id,
       r.billing_model IN ('Development', 'Ruggedized') AS zero_rated,  -- R9
       t.quantity
FROM tenant t
JOIN registration r
  ON r.cloud_id = t.cloud_id
 AND to_timestamp(r.valid_from) <= t.usage_start AND t.usage_start < to_timestamp(r.valid_to)
LEFT JOIN customer_subscriptions c
  ON c.registration_key = r.customers_key AND c.tenant_id = t.tenant_id
 AND to_timestamp(c.valid_from) <= t.usage_start AND t.usage_start < to_timestamp(c.valid_to)"
route_s=$elapsed_s
routed=$(count routed)
log "route: $route_s s, $routed records routed"
((routed <= stored)) || die "routing matched $((routed - stored)) records twice: overlapping versions in the reference data"
((routed == stored)) || log "warning: $((stored - routed)) records have no registration in force"

# --- Aggregate ------------------------------------------------------------
timed_sql aggregate "
CREATE TABLE month_usage AS
SELECT billed_subscription_id, meter_id, zero_rated, sum(quantity) AS total
FROM routed
WHERE usage_start >= to_timestamp($period_start) AND usage_start < to_timestamp($period_end)
GROUP BY billed_subscription_id, meter_id, zero_rated"
aggregate_s=$elapsed_s
log "aggregate: $aggregate_s s, $(count month_usage) keys"

# --- Price ----------------------------------------------------------------
ps=$period_start
timed_sql price "
CREATE TABLE invoice_lines AS
WITH RECURSIVE
owner AS (  -- the owner partner as of the period start (HistoryView::OwnerPartnerAt)
  SELECT s.subscription_id, s.offer_type, nullif(s.billing_currency, '') AS currency,
         s.offer_type IN ('PayAsYouGo', 'EnterpriseAgreement', 'DevTest') AS direct,
         nullif(coalesce((SELECT coalesce(o.partner_id, '') FROM subscription_owners o
                          WHERE o.subscription_id = s.subscription_id
                            AND o.valid_from <= $ps AND $ps < o.valid_to
                          ORDER BY o.valid_from DESC LIMIT 1), s.partner_id), '') AS partner_id
  FROM subscriptions s
  WHERE s.subscription_id IN (SELECT billed_subscription_id FROM month_usage)),
chain (subscription_id, partner_id, depth) AS (  -- R8: the roll-up chain
  SELECT subscription_id, partner_id, 0 FROM owner WHERE NOT direct AND partner_id IS NOT NULL
  UNION ALL
  SELECT c.subscription_id, nullif(p.parent_partner_id, ''), c.depth + 1
  FROM chain c JOIN partner_parents p
    ON p.partner_id = c.partner_id AND p.valid_from <= $ps AND $ps < p.valid_to
  WHERE c.depth < 64 AND nullif(p.parent_partner_id, '') IS NOT NULL),
top AS (
  SELECT DISTINCT ON (subscription_id) subscription_id, partner_id FROM chain
  ORDER BY subscription_id, depth DESC),
bill AS (
  SELECT o.subscription_id,
         CASE WHEN o.direct THEN 'subscription:' || o.subscription_id
              ELSE 'partner:' || t.partner_id END AS bill_to,
         CASE WHEN o.direct THEN NULL ELSE t.partner_id END AS bill_partner,
         CASE WHEN o.direct THEN o.currency ELSE p.billing_currency END AS currency,
         CASE o.offer_type WHEN 'APSS' THEN 'CSP' ELSE o.offer_type END AS priced_as
  FROM owner o LEFT JOIN top t USING (subscription_id)
  LEFT JOIN partners p ON p.partner_id = t.partner_id),
in_force AS (  -- per (owner, currency), the version in force at the period start
  SELECT f.* FROM prices f
  JOIN (SELECT owner_kind, owner_id, currency, max(effective_from) AS effective_from FROM prices
        WHERE effective_from <= $ps GROUP BY owner_kind, owner_id, currency) v
  USING (owner_kind, owner_id, currency, effective_from)),
line AS MATERIALIZED (
  SELECT row_number() OVER (ORDER BY m.billed_subscription_id, m.meter_id, m.zero_rated)
           AS line_id,
         m.billed_subscription_id, m.meter_id, m.zero_rated,
         m.total, b.bill_to, b.currency,
         CASE WHEN m.zero_rated THEN NULL
              WHEN EXISTS (SELECT 1 FROM in_force f
                           WHERE f.owner_kind = 'partner' AND f.owner_id = b.bill_partner
                             AND f.currency = b.currency AND f.meter_id = m.meter_id)
                THEN 'partner'
              WHEN EXISTS (SELECT 1 FROM in_force f
                           WHERE f.owner_kind = 'offer' AND f.owner_id = b.priced_as
                             AND f.currency = b.currency AND f.meter_id = m.meter_id)
                THEN 'offer' END AS price_kind,
         b.bill_partner, b.priced_as
  FROM month_usage m JOIN bill b ON b.subscription_id = m.billed_subscription_id
  WHERE m.total <> 0),  -- a zero total makes no line
tier AS (
  SELECT l.line_id, f.tier_start, f.unit_price,
         lead(f.tier_start) OVER (PARTITION BY l.line_id ORDER BY f.tier_start) AS next_start,
         greatest(l.total - f.included_quantity, 0) AS billable
  FROM line l JOIN in_force f
    ON f.owner_kind = l.price_kind
   AND f.owner_id = CASE l.price_kind WHEN 'partner' THEN l.bill_partner ELSE l.priced_as END
   AND f.currency = l.currency AND f.meter_id = l.meter_id),
tier_amount AS (  -- the tier's part of [0, billable): [start, min(billable, next start))
  SELECT line_id,
         greatest(coalesce(least(billable, next_start), billable) - tier_start, 0) * unit_price
           AS amount
  FROM tier),
exact AS (
  SELECT l.line_id, l.bill_to, l.currency, l.zero_rated, l.price_kind IS NULL AS unpriced,
         coalesce(a.amount, 0) AS amount, c.minor_units AS m
  FROM line l JOIN currencies c ON c.code = l.currency
  LEFT JOIN (SELECT line_id, sum(amount) AS amount FROM tier_amount GROUP BY line_id) a
    ON a.line_id = l.line_id),
split AS (  -- RoundHalfEven to m fractional digits (amounts are >= 0)
  SELECT *, trunc(amount, m) AS kept, (amount - trunc(amount, m)) * 10 ^ m::numeric AS dropped
  FROM exact)
SELECT line_id, bill_to, currency, zero_rated, unpriced, amount AS exact_amount,
       round(CASE WHEN dropped > 0.5 OR (dropped = 0.5 AND mod(kept * 10 ^ m::numeric, 2) = 1)
                  THEN kept + 1 / 10 ^ m::numeric ELSE kept END, m) AS amount
FROM split;
SELECT coalesce(json_agg(json_build_object('billTo', bill_to, 'currency', currency,
                                           'lines', lines, 'total', total::text)
                         ORDER BY bill_to, currency), '[]')
FROM (SELECT bill_to, currency, count(*) AS lines, sum(amount) AS total
      FROM invoice_lines GROUP BY bill_to, currency) i" >"$work/invoices.json"
price_s=$elapsed_s
invoices=$(tr -d '\n' <"$work/invoices.json")
unpriced=$(psql_ -A -t -c "SELECT count(*) FROM invoice_lines WHERE unpriced AND NOT zero_rated")
((unpriced == 0)) || log "warning: $unpriced lines have no price (billed as 0, as --allow-unpriced)"
log "price: $price_s s, $(count invoice_lines) lines"

total_s=$(awk -v a="$load_s" -v b="$route_s" -v c="$aggregate_s" -v d="$price_s" \
  'BEGIN { printf "%.3f", a + b + c + d }')
# One line, as every engine prints it (json_agg puts spaces after separators).
result_json "$records" "$stored" "$(jq -c . <<<"$invoices")"
