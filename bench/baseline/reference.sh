#!/usr/bin/env bash
# bench/baseline/reference.sh STORE_DB OUT_DIR
#
# Exports the reference data that the hand-written baselines (sqlite.sh,
# postgresql.sh, duckdb.sh) need from a stackbill SQLite store, after `stackbill world
# apply`, into small CSV files in OUT_DIR. Untimed: a CSP that bills with SQL
# scripts keeps this data too (its CRM, its registration records); the
# benchmark measures what is done with the usage, not how the reference data
# got there. The store is opened read-only (a 10 GB loaded store is fine).
#
# Encodings, the same in every file (each file has a header line):
#   * GUIDs as lower-case 8-4-4-4-12 text (the store keeps 16-byte BLOBs);
#   * times as integer Unix seconds, rounded UP from the store's (seconds,
#     nanoseconds) pair, so that for a whole-second usage time t,
#     "from <= t < to" holds exactly when stackbill's Validity::Contains does;
#     an open end (NULL) is 253402300800 (year 10000);
#   * decimals as the store's canonical text.
#
# The lookup semantics of core/history.cc are encoded here, once, so that the
# pipelines only do interval joins "valid_from <= usage_start < valid_to":
#   * stack subscribers, subscription owners and partner parent links are
#     "in force, or else the earliest version when the time precedes it"
#     (InForceOrEarliest): the earliest version of each key gets valid_from
#     -62135596800 (year 1);
#   * a registration covers all usage of its stack dated before its first
#     version (core/routing.cc RegistrationForUsage): the same, per cloud;
#   * customer subscriptions are in force only inside [from, to) (R7).
# Rules (R5 multi-tenancy, R8 roll-up, R9 zero rating, PricedAs, which price
# sheet version is in force) are NOT resolved here: the pipelines do that.
#
# Files (columns):
#   subscribers.csv        cloud_id, local_subscription_id, tenant_id, valid_from, valid_to
#   registrations.csv      registration_key, cloud_id, default_subscription_id, billing_model,
#                          multi_tenant (0/1), valid_from, valid_to
#   customer_subscriptions.csv
#                          registration_key, cloud_id, tenant_id, customer_subscription_id,
#                          valid_from, valid_to
#   subscriptions.csv      subscription_id, offer_type, partner_id, billing_currency
#   subscription_owners.csv subscription_id, partner_id, valid_from, valid_to
#   partner_parents.csv    partner_id, parent_partner_id (empty: none), valid_from, valid_to
#   partners.csv           partner_id, billing_currency
#   prices.csv             owner_kind (offer|partner), owner_id, currency, effective_from,
#                          meter_id, included_quantity, tier_start, unit_price (one row a tier)
#   currencies.csv         code, minor_units (the currencies that partners and
#                          subscriptions bill in; ISO 4217 as core/decimal.cc)
set -euo pipefail

[[ $# -eq 2 ]] || {
  echo "usage: $0 STORE_DB OUT_DIR" >&2
  exit 2
}
db=$1
out=$2
[[ -f $db ]] || {
  echo "reference: no such store: $db" >&2
  exit 1
}
command -v sqlite3 >/dev/null || {
  echo "reference: the sqlite3 CLI is required" >&2
  exit 1
}
mkdir -p "$out"

# guid EXPR: the SQL for a 16-byte BLOB as lower-case 8-4-4-4-12 text.
guid() {
  local h="hex($1)"
  printf "lower(substr(%s,1,8)||'-'||substr(%s,9,4)||'-'||substr(%s,13,4)||'-'||substr(%s,17,4)||'-'||substr(%s,21,12))" \
    "$h" "$h" "$h" "$h" "$h"
}
# ceil_s S NS: a (seconds, nanoseconds) pair rounded up to whole seconds.
ceil_s() { printf "(%s + (%s > 0))" "$1" "$2"; }
# open_end S NS: the same for an end that may be NULL (in force).
open_end() { printf "coalesce(%s + (%s > 0), 253402300800)" "$1" "$2"; }
# from_or_earliest S NS KEY…: valid_from, with the earliest version of KEY
# extended back to year 1 (InForceOrEarliest).
from_or_earliest() {
  local s=$1 ns=$2
  shift 2
  local key
  key=$(
    IFS=,
    echo "$*"
  )
  printf "CASE WHEN row_number() OVER (PARTITION BY %s ORDER BY %s, %s) = 1 THEN -62135596800 ELSE %s END" \
    "$key" "$s" "$ns" "$(ceil_s "$s" "$ns")"
}

export_csv() { # FILE SQL
  sqlite3 -readonly -bail -csv -header "$db" "$2" >"$out/$1"
}

export_csv subscribers.csv "
SELECT $(guid cloud_id) AS cloud_id, $(guid local_subscription_id) AS local_subscription_id,
       $(guid tenant_id) AS tenant_id,
       $(from_or_earliest from_s from_ns cloud_id local_subscription_id) AS valid_from,
       $(open_end to_s to_ns) AS valid_to
FROM stack_subscribers ORDER BY 1, 2, 4"

export_csv registrations.csv "
SELECT $(guid subscription_id) || '/' || resource_group_key || '/' || name_key AS registration_key,
       $(guid cloud_id) AS cloud_id, $(guid subscription_id) AS default_subscription_id,
       billing_model, multi_tenant,
       $(from_or_earliest from_s from_ns cloud_id) AS valid_from,
       $(open_end to_s to_ns) AS valid_to
FROM registrations ORDER BY 2, 6"

export_csv customer_subscriptions.csv "
SELECT $(guid subscription_id) || '/' || resource_group_key || '/' || name_key AS registration_key,
       $(guid cloud_id) AS cloud_id, $(guid tenant_id) AS tenant_id,
       $(guid customer_subscription_id) AS customer_subscription_id,
       $(ceil_s from_s from_ns) AS valid_from, $(open_end to_s to_ns) AS valid_to
FROM customer_subscriptions ORDER BY 1, 3, 5"

export_csv subscriptions.csv "
SELECT $(guid id) AS subscription_id, offer_type, coalesce(partner_id, '') AS partner_id,
       coalesce(billing_currency, '') AS billing_currency
FROM subscriptions ORDER BY 1"

export_csv subscription_owners.csv "
SELECT $(guid subscription_id) AS subscription_id, coalesce(partner_id, '') AS partner_id,
       $(from_or_earliest from_s from_ns subscription_id) AS valid_from,
       $(open_end to_s to_ns) AS valid_to
FROM subscription_owners ORDER BY 1, 3"

export_csv partner_parents.csv "
SELECT partner_id, coalesce(parent_partner_id, '') AS parent_partner_id,
       $(from_or_earliest from_s from_ns partner_id) AS valid_from,
       $(open_end to_s to_ns) AS valid_to
FROM partner_parent_links ORDER BY 1, 3"

export_csv partners.csv "SELECT id AS partner_id, billing_currency FROM partners ORDER BY 1"

# price_sheet_meters.rates is 'START:PRICE START:PRICE …' (sqlite_codec.cc).
export_csv prices.csv "
WITH RECURSIVE tiers(sheet_id, meter_id, rest, tier) AS (
  SELECT sheet_id, meter_id, rates || ' ', NULL FROM price_sheet_meters
  UNION ALL
  SELECT sheet_id, meter_id, substr(rest, instr(rest, ' ') + 1), substr(rest, 1, instr(rest, ' ') - 1)
  FROM tiers WHERE rest <> ''
)
SELECT s.owner_kind, s.owner_id, s.currency, $(ceil_s s.effective_s s.effective_ns) AS effective_from,
       $(guid t.meter_id) AS meter_id, m.included_quantity,
       substr(t.tier, 1, instr(t.tier, ':') - 1) AS tier_start,
       substr(t.tier, instr(t.tier, ':') + 1) AS unit_price
FROM tiers t
JOIN price_sheets s USING (sheet_id)
JOIN price_sheet_meters m ON m.sheet_id = t.sheet_id AND m.meter_id = t.meter_id
WHERE t.tier IS NOT NULL AND t.tier <> '' AND s.owner_kind IN ('offer', 'partner')
ORDER BY 1, 2, 3, 4, 5, decimal(tier_start) COLLATE decimal"

export_csv currencies.csv "
SELECT code, CASE WHEN code IN ('CLP', 'ISK', 'JPY', 'KRW') THEN 0
                  WHEN code IN ('BHD', 'JOD', 'KWD', 'OMR') THEN 3 ELSE 2 END AS minor_units
FROM (SELECT billing_currency AS code FROM partners
      UNION SELECT billing_currency FROM subscriptions WHERE billing_currency IS NOT NULL)
ORDER BY 1"

for f in subscribers registrations customer_subscriptions subscriptions subscription_owners \
  partner_parents partners prices currencies; do
  echo "reference: $f.csv: $(($(wc -l <"$out/$f.csv") - 1)) rows" >&2
done
