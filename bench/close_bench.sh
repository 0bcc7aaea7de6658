#!/usr/bin/env bash
# bench/close_bench.sh [CUSTOMERS] [VMS] [ESTIMATES]
#
# The billing close at scale (SPEC §5, docs/PERFORMANCE.md): a world of
# CUSTOMERS customers of one CSP on one stack (bench/big_world.sh, default
# 3,000: about 10.2 million records for November 2026 at VMS=1) is loaded by
# bench/query_bench.sh into a kept SQLite store (serve with --auto-close off,
# so nothing closes the month while it is forwarded); then, over HTTPS on
# loopback as a PlatformAdmin:
#   * GET /v1/invoices/estimate?partnerId=bigcsp&period=2026-11, ESTIMATES
#     times (default 5): p50 and the slowest;
#   * POST /v1/billingPeriods/2026-11/close once (the time of the close), and
#     again (idempotent: nothing issued, the same invoice);
# and checks that the invoice's total equals the estimate's.
# BENCH_DIR=DIR keeps the world and the loaded store in DIR (a later run
# measures the store again without loading it — but a closed month stays
# closed: give a new DIR). Prints one JSON line on stdout. Needs the release
# build, curl and jq. No test asserts a time.
set -euo pipefail
cd "$(dirname "$0")/.."
customers=${1:-3000}
vms=${2:-1}
estimates=${3:-5}
bin=$PWD/build/release/src/cmd/stackbill/stackbill
[ -x "$bin" ] || { echo "bench: build the release binary first (scripts/build release)" >&2; exit 1; }
if [ -n "${BENCH_DIR:-}" ]; then
  mkdir -p "$BENCH_DIR" && dir=$(cd "$BENCH_DIR" && pwd)
else
  dir=$(mktemp -d "${TMPDIR:-/tmp}/close-bench.XXXXXX")
fi
server_pid=
cleanup() {
  [ -n "$server_pid" ] && kill -TERM "$server_pid" 2>/dev/null && wait "$server_pid" 2>/dev/null || true
  [ -n "${BENCH_DIR:-}" ] || rm -rf "$dir"
}
trap cleanup EXIT
fail() { echo "bench: $*" >&2; exit 1; }
[ -f "$dir/world.json" ] || bench/big_world.sh "$customers" >"$dir/world.json"
mkdir -p "$dir/store"
# (query_bench's own exit status is that of its stopped serve: its JSON line
# is what tells that it loaded and measured.)
SERVE_ARGS="--auto-close off" BENCH_DIR="$dir/store" WORLD="$dir/world.json" \
  bench/query_bench.sh "$vms" 20 >"$dir/query.json" || true
jq -e '.records > 0' "$dir/query.json" >/dev/null || fail "query_bench.sh loaded nothing"

# The kept store, served again (query_bench stopped its serve).
store=$dir/store
export STACKBILL_PROFILE="$store/profile.json"
rm -f "$store/port"
"$bin" serve --db "$store/s.db" --port 0 --port-file "$store/port" --auto-close off \
  --tls-cert "$store/tls/cert.pem" --tls-key "$store/tls/key.pem" >"$dir/serve.log" 2>&1 &
server_pid=$!
for _ in $(seq 1 600); do [ -s "$store/port" ] && break; sleep 0.1; done
[ -s "$store/port" ] || fail "serve did not start: $(cat "$dir/serve.log")"
endpoint="https://127.0.0.1:$(cat "$store/port")"
token=$(cat "$store/admin_token")
request() {  # METHOD PATH OUT: prints time_total (s); the body goes to OUT
  local body=()
  [ "$1" = POST ] && body=(-H 'Content-Type: application/json' --data-binary '')
  curl -s --cacert "$store/tls/cert.pem" -H "Authorization: Bearer $token" -X "$1" "${body[@]}" \
    -o "$3" -w '%{time_total}\n' "$endpoint$2"
}
records=$(jq .records "$dir/query.json")
: >"$dir/estimate.times"
for ((i = 0; i < estimates; i++)); do
  request GET "/v1/invoices/estimate?partnerId=bigcsp&period=2026-11" "$dir/estimate.json" \
    >>"$dir/estimate.times"
done
jq -e '.total' "$dir/estimate.json" >/dev/null || fail "no estimate: $(head -c 300 "$dir/estimate.json")"
close_s=$(request POST /v1/billingPeriods/2026-11/close "$dir/close.json")
jq -e '.newlyClosed' "$dir/close.json" >/dev/null || fail "the close failed: $(head -c 300 "$dir/close.json")"
again_s=$(request POST /v1/billingPeriods/2026-11/close "$dir/again.json")
jq -e '.newlyClosed == false' "$dir/again.json" >/dev/null || fail "the second close issued again"
[ "$(jq -c .invoices "$dir/close.json")" = "$(jq -c .invoices "$dir/again.json")" ] ||
  fail "the second close answered other invoices"
estimate_total=$(jq -r .total "$dir/estimate.json")
invoice_total=$(jq -r '.invoices[] | select(.billTo.partnerId == "bigcsp") | .total' "$dir/close.json")
[ "$estimate_total" = "$invoice_total" ] ||
  fail "the estimate ($estimate_total) is not the invoice ($invoice_total)"
lines=$(jq '.lines | length' "$dir/estimate.json")
ms() { awk '{printf "%.0f", $1 * 1000}'; }
p50=$(sort -n "$dir/estimate.times" | awk '{v[NR] = $1} END {printf "%.0f", v[int((NR + 1) / 2)] * 1000}')
max=$(sort -n "$dir/estimate.times" | tail -1 | ms)
printf '{"customers":%d,"records":%d,"invoice_lines":%d,"total":"%s","estimate_p50_ms":%s,"estimate_max_ms":%s,"close_ms":%s,"close_again_ms":%s}\n' \
  "$customers" "$records" "$lines" "$invoice_total" "$p50" "$max" \
  "$(ms <<<"$close_s")" "$(ms <<<"$again_s")"
