#!/usr/bin/env bash
# bench/query_bench.sh [VMS] [REQUESTS]
#
# Usage-query latencies over HTTPS with keep-alive on loopback (SPEC §7,
# docs/PERFORMANCE.md). A simulated month of a world — WORLD (default the
# demo world, whose lab stack is left out; bench/big_world.sh makes one with
# thousands of customers) with VMS VMs per stack-local subscription (default
# 80: about 1.1M records for the demo world) — is forwarded (one forwarder
# per stack) to one `stackbill serve` on the embedded SQLite store; then
#   * one 1,000-item page of a month of Daily UsageAggregates, with details,
#     for the subscription with the most usage — REQUESTS times (default 200)
#     on one connection: p50 and p99;
#   * a month of GET /v1/usage grouped by subscription and meter over the
#     whole store, in one page ($top=100000), V1_REQUESTS times (default
#     20): p50, p99 and the slowest.
# PERF_OUT=FILE records `perf record -g` of serve during the page requests.
# BENCH_DIR=DIR keeps the loaded store in DIR, and a later run with the same
# DIR (and world) measures it again without loading it (the store is
# rebuilt when DIR holds none).
# SERVE_ARGS adds flags to serve (bench/close_bench.sh: --auto-close off).
# Prints one JSON line on stdout. Needs the release build, curl and jq.
set -euo pipefail
cd "$(dirname "$0")/.."
vms=${1:-80}
requests=${2:-200}
bin=$PWD/build/release/src/cmd/stackbill/stackbill
[ -x "$bin" ] || { echo "bench: build the release binary first (scripts/build release)" >&2; exit 1; }
if [ -n "${BENCH_DIR:-}" ]; then
  mkdir -p "$BENCH_DIR" && dir=$(cd "$BENCH_DIR" && pwd)
else
  dir=$(mktemp -d "${TMPDIR:-/tmp}/query-bench.XXXXXX")
fi
server_pid=
cleanup() {
  [ -n "$server_pid" ] && kill -TERM "$server_pid" 2>/dev/null && wait "$server_pid" 2>/dev/null || true
  [ -n "${BENCH_DIR:-}" ] || rm -rf "$dir"
}
trap cleanup EXIT
export STACKBILL_PROFILE="$dir/profile.json"
unset STACKBILL_ENDPOINT STACKBILL_TOKEN STACKBILL_CA_FILE
fail() { echo "bench: $*" >&2; exit 1; }
source tests/lib.sh
world=${WORLD:-data/worlds/demo.json}
month=2026-11
if [ -f "$dir/loaded" ]; then
  echo "bench: measuring the store already loaded in $dir" >&2
  admin_token=$(cat "$dir/admin_token")
  store=$dir/s.db
  sb_serve ${SERVE_ARGS:-}
  sb_login "$endpoint"
else
  [ -z "$(ls -A "$dir")" ] || fail "$dir holds something other than a loaded store: empty it first"
  sb_init_store
  (umask 077 && printf '%s\n' "$admin_token" >"$dir/admin_token")
  sb_serve ${SERVE_ARGS:-}
  sb_login "$endpoint"
  applied=$("$bin" world apply "$world")
  echo "bench: simulating $month (VMs per local subscription: $vms) and forwarding it" >&2
  "$bin" simulate --world "$world" --month "$month" --seed 11 --vms "$vms" \
    --out "$dir/usage" --quiet >/dev/null
  rm -rf "$dir/usage/stack3-lab"  # the demo world's lab stack
  pids=()
  load_start=$SECONDS
  for stack_dir in "$dir"/usage/*/; do
    stack=$(basename "$stack_dir")
    line=$(grep "activation key for stack $stack " <<<"$applied")
    cloud=$(sed -n 's/.*(cloud \([0-9a-f-]*\)).*/\1/p' <<<"$line")
    (umask 077 && printf '%s\n' "${line##*: }" >"$dir/$stack.key")
    mkdir -p "$dir/inbox-$stack" && mv "$dir/usage/$stack"/usage-*.ndjson "$dir/inbox-$stack/"
    "$bin" forward --server "$endpoint" --ca-file "$dir/tls/cert.pem" --cloud-id "$cloud" \
      --key-file "$dir/$stack.key" --state "$dir/state-$stack" --inbox "$dir/inbox-$stack" \
      --once --progress-seconds 3600 2>>"$dir/forward.log" &
    pids+=($!)
  done
  for pid in "${pids[@]}"; do wait "$pid"; done
  load_seconds=$((SECONDS - load_start))
  echo "bench: forwarded in $load_seconds s" >&2
  rm -rf "$dir"/usage "$dir"/inbox-*
  touch "$dir/loaded"
fi
"$bin" usage totals >"$dir/totals.json"
records=$(jq .records "$dir/totals.json")
subscription=$(jq -r '[.value[] | {s: .subscriptionId, r: .records}] | group_by(.s)
  | map({s: .[0].s, r: (map(.r) | add)}) | max_by(.r) | .s' "$dir/totals.json")
sub_records=$(jq --arg s "$subscription" '[.value[] | select(.subscriptionId == $s) | .records] | add' "$dir/totals.json")

token=$(jq -r .token "$STACKBILL_PROFILE")
from="$month-01T00:00:00Z"
to="$(date -u -d "$month-01 +1 month" +%Y-%m-01)T00:00:00Z"
commerce="$endpoint/subscriptions/$subscription/providers/Microsoft.Commerce/UsageAggregates?api-version=2015-06-01-preview&reportedStartTime=$from&reportedEndTime=$to&aggregationGranularity=Daily&showDetails=true&timeType=Usage"
v1="$endpoint/v1/usage?from=$from&to=$to&granularity=month&groupBy=subscription,meter&\$top=100000"
curl_times() {  # URL COUNT: one connection (keep-alive), one time_total per request
  local args=() i
  for ((i = 0; i < $2; i++)); do args+=(-o /dev/null "$1"); done
  curl -s --cacert "$dir/tls/cert.pem" -H "Authorization: Bearer $token" \
    -w '%{time_total}\n' "${args[@]}"
}
percentile() {  # P: of the numbers on stdin (seconds), in ms
  sort -n | awk -v p="$1" '{ v[NR] = $1 } END { i = int(NR * p / 100 + 0.999999); if (i < 1) i = 1; printf "%.2f", v[i] * 1000 }'
}
first=$(curl -s --cacert "$dir/tls/cert.pem" -H "Authorization: Bearer $token" "$commerce")
items=$(jq '.value | length' <<<"$first")
[ "$items" -gt 0 ] || fail "the UsageAggregates page is empty: $(head -c 300 <<<"$first")"
perf_pid=
if [ -n "${PERF_OUT:-}" ]; then  # profile serve while it answers the pages
  perf record -g -F 999 -p "$server_pid" -o "$PERF_OUT" 2>"$dir/perf.log" &
  perf_pid=$!
fi
curl_times "$commerce" "$requests" >"$dir/commerce.times"
[ -n "$perf_pid" ] && kill -INT "$perf_pid" && wait "$perf_pid" || true
curl_times "$v1" "${V1_REQUESTS:-20}" >"$dir/v1.times"
v1_body=$(curl -s --cacert "$dir/tls/cert.pem" -H "Authorization: Bearer $token" "$v1")
jq -e 'has("nextLink") | not' <<<"$v1_body" >/dev/null || fail "the month of /v1/usage is not one page"
v1_rows=$(jq '.value | length' <<<"$v1_body")
printf '{"load_seconds":%s,"records":%d,"subscription":"%s","subscription_records":%d,"page_items":%d,"page_p50_ms":%s,"page_p99_ms":%s,"v1_usage_rows":%d,"v1_usage_p50_ms":%s,"v1_usage_p99_ms":%s,"v1_usage_max_ms":%s}\n' \
  "${load_seconds:-null}" "$records" "$subscription" "$sub_records" "$items" \
  "$(percentile 50 <"$dir/commerce.times")" "$(percentile 99 <"$dir/commerce.times")" \
  "$v1_rows" "$(percentile 50 <"$dir/v1.times")" "$(percentile 99 <"$dir/v1.times")" \
  "$(percentile 100 <"$dir/v1.times")"
