# shellcheck shell=bash
# shellcheck disable=SC2034,SC2154  # variables shared with the script that sources this
# bench/baseline/common.sh: sourced by the baseline engine scripts (sqlite.sh,
# postgresql.sh, duckdb.sh); not run on its own. The caller sets `engine` (its name
# for messages) and has `set -euo pipefail`.
#
# After `baseline_args "$@"`:
#   data_dir, ref_dir      the arguments, as absolute paths
#   stack_dirs[]           DATA_DIR's sub-folders that hold a cloud-id file
#   stack_clouds[]         their cloud GUIDs, lower-case 8-4-4-4-12
#   ndjson_files[]         every usage-*.ndjson (also *.ndjson) file, by stack then name
#   file_clouds[]          the cloud GUID of each of those files
#   period, period_start, period_end
#                          the billing month (PERIOD, default 2026-11, the month the
#                          benchmark worlds simulate) and its bounds in Unix seconds (UTC)

log() { echo "$engine: $*" >&2; }
die() {
  log "error: $*"
  exit 1
}

# now: wall-clock seconds with nanoseconds; elapsed T0 T1: T1 − T0, 3 decimals.
now() { date +%s.%N; }
elapsed() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.3f", b - a }'; }

# A GUID in any spelling (case, hyphens, braces) as lower-case 8-4-4-4-12.
normal_guid() {
  local h
  h=$(tr -d '{}\-[:space:]' <<<"$1" | tr 'A-F' 'a-f')
  [[ $h =~ ^[0-9a-f]{32}$ ]] || return 1
  printf '%s-%s-%s-%s-%s\n' "${h:0:8}" "${h:8:4}" "${h:12:4}" "${h:16:4}" "${h:20:12}"
}

baseline_args() {
  [[ $# -eq 2 ]] || {
    echo "usage: $0 DATA_DIR REF_DIR" >&2
    exit 2
  }
  [[ -d $1 ]] || die "no such directory: $1"
  [[ -d $2 ]] || die "no such directory: $2"
  data_dir=$(cd "$1" && pwd)
  ref_dir=$(cd "$2" && pwd)
  local f
  for f in subscribers registrations customer_subscriptions subscriptions subscription_owners \
    partner_parents partners prices currencies; do
    [[ -f $ref_dir/$f.csv ]] || die "$ref_dir/$f.csv is missing (bench/baseline/reference.sh makes it)"
  done
  stack_dirs=() stack_clouds=() ndjson_files=() file_clouds=()
  local d cloud
  for d in "$data_dir"/*/; do
    d=${d%/}
    [[ -f $d/cloud-id ]] || continue
    cloud=$(normal_guid "$(head -n 1 "$d/cloud-id")") || die "$d/cloud-id: not a GUID"
    stack_dirs+=("$d")
    stack_clouds+=("$cloud")
    for f in "$d"/*.ndjson; do
      [[ -f $f ]] || continue
      ndjson_files+=("$f")
      file_clouds+=("$cloud")
    done
  done
  ((${#stack_dirs[@]} > 0)) || die "no stack folders (with a cloud-id file) in $data_dir"
  ((${#ndjson_files[@]} > 0)) || die "no *.ndjson files under $data_dir"
  period=${PERIOD:-2026-11}
  [[ $period =~ ^[0-9]{4}-(0[1-9]|1[0-2])$ ]] || die "PERIOD must be YYYY-MM, not '$period'"
  period_start=$(date -u -d "$period-01T00:00:00Z" +%s)
  period_end=$(date -u -d "$period-01 +1 month" +%s)
}

# The JSON line every engine prints: result_json RECORDS STORED INVOICES_JSON
# (load_s … total_s are read from the variables of those names).
result_json() {
  printf '{"engine":"%s","period":"%s","records":%d,"stored":%d,"load_s":%s,"resend_s":%s,"route_s":%s,"aggregate_s":%s,"price_s":%s,"total_s":%s,"invoices":%s}\n' \
    "$engine" "$period" "$1" "$2" "$load_s" "$resend_s" "$route_s" "$aggregate_s" "$price_s" \
    "$total_s" "$3"
}
