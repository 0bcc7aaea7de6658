#!/usr/bin/env bash
# bench/baseline/check.sh [WORLD_FILE [VMS]]
#
# Checks that the hand-written baselines (sqlite.sh, postgresql.sh,
# duckdb.sh) bill exactly what stackbill bills. For each world: a month
# (November 2026, seed 1) simulated with `stackbill simulate`; a fresh
# stackbill store with the world applied (`serve --auto-close off` on a free
# port, as tests/lib.sh does); every stack's usage forwarded to it (one
# `stackbill forward --once` per stack, on copies of the files); the month
# closed (`period close`, with --allow-unpriced only when the close asks for
# it) and its invoices read with `invoice list`; the store's reference data
# exported (reference.sh); then each baseline run on the same files and
# reference data. Fails unless every baseline's invoices — bill-to party,
# currency, number of lines and total — equal stackbill's exactly, and
# prints them with the baselines' phase times (small data: the times only
# show that everything runs).
#
# Without arguments, two worlds:
#   * data/worlds/demo.json (partners with resellers and a partner price
#     override, an APSS default subscription, unregistered tenants on the
#     default subscriptions, a zero-rated Development stack whose records
#     carry tenantId);
#   * "demo-plus", derived from it here: Adventure Works registered from
#     2026-11-16T10:30:00Z (mid-month and mid-hour: its usage before goes to
#     the default subscription, after to its own), and a single-tenant stack
#     registered under Trey Research's PayAsYouGo subscription (a
#     direct-billed invoice priced from the PayAsYouGo list).
# With WORLD_FILE, that world only, with VMS VMs per stack-local subscription
# (default: the simulator's, 3); e.g. bench/big_world.sh 200 > w.json &&
# bench/baseline/check.sh w.json 1.
#
# BASELINES (default "sqlite postgresql duckdb") picks the engines. Work in a
# fresh directory under ${TMPDIR:-/tmp}, removed on exit (KEEP=1 keeps it).
# Needs the release build, jq, sqlite3, PostgreSQL 15 and Node.js 20.
set -euo pipefail
cd "$(dirname "$0")/../.."
root=$PWD
bin=$root/build/release/src/cmd/stackbill/stackbill
[[ -x $bin ]] || {
  echo "check: build the release binary first (scripts/build release)" >&2
  exit 1
}
[[ $# -le 2 ]] || {
  echo "usage: $0 [WORLD_FILE [VMS]]" >&2
  exit 2
}
baselines=${BASELINES:-sqlite postgresql duckdb}
work=$(mktemp -d "${TMPDIR:-/tmp}/baseline-check.XXXXXX")
server_pid=
cleanup() {
  if [[ -n $server_pid ]]; then
    kill -TERM "$server_pid" 2>/dev/null && wait "$server_pid" 2>/dev/null
  fi
  if [[ ${KEEP:-0} == 1 ]]; then
    echo "check: kept $work" >&2
  else
    rm -rf "$work"
  fi
}
trap cleanup EXIT
unset STACKBILL_ENDPOINT STACKBILL_TOKEN STACKBILL_CA_FILE
fail() {
  echo "check: $*" >&2
  exit 1
}
note() { echo "check: $*" >&2; }
# shellcheck source=tests/lib.sh
source tests/lib.sh
month=2026-11

# The invoices as the baselines print them, sorted: [{billTo, currency, lines, total}].
normalise='[.[] | {billTo, currency, lines, total}] | sort_by(.billTo, .currency)'

# check_world NAME WORLD_FILE [VMS]
check_world() {
  local name=$1 world=$2 vms_args=()
  [[ -n ${3:-} ]] && vms_args=(--vms "$3")
  dir=$work/$name
  mkdir -p "$dir"
  export STACKBILL_PROFILE="$dir/profile.json"

  note "$name: simulating $month"
  "$bin" simulate --world "$world" --month "$month" --seed 1 "${vms_args[@]}" \
    --out "$dir/usage" --quiet >/dev/null

  note "$name: a fresh store, the world applied"
  sb_init_store
  sb_serve --auto-close off
  sb_login "$endpoint"
  local applied stack_dir stack line cloud pids=() pid
  applied=$("$bin" world apply "$world")

  note "$name: forwarding"
  for stack_dir in "$dir"/usage/*/; do
    stack=$(basename "$stack_dir")
    line=$(grep "activation key for stack $stack " <<<"$applied") ||
      fail "$name: world apply printed no activation key for stack $stack"
    cloud=$(sed -n 's/.*(cloud \([0-9a-f-]*\)).*/\1/p' <<<"$line")
    (umask 077 && printf '%s\n' "${line##*: }" >"$dir/$stack.key")
    mkdir -p "$dir/inbox-$stack"
    cp "$stack_dir"/*.ndjson "$dir/inbox-$stack/"
    "$bin" forward --server "$endpoint" --ca-file "$dir/tls/cert.pem" --cloud-id "$cloud" \
      --key-file "$dir/$stack.key" --state "$dir/state-$stack" --inbox "$dir/inbox-$stack" \
      --once --progress-seconds 3600 2>>"$dir/forward.log" &
    pids+=($!)
  done
  for pid in "${pids[@]}"; do
    wait "$pid" || fail "$name: a forwarder failed: $(tail -3 "$dir/forward.log")"
  done
  grep -h 'forward: done' "$dir/forward.log" | sed "s/^/check: $name: /" >&2
  if grep -q 'quarantined [1-9]' "$dir/forward.log"; then
    fail "$name: stackbill quarantined records: the baselines would not see the same usage"
  fi

  note "$name: closing $month"
  if ! "$bin" period close "$month" >"$dir/close.json" 2>"$dir/close.err"; then
    grep -q MissingPrice "$dir/close.err" || fail "$name: the close failed: $(cat "$dir/close.err")"
    note "$name: the close needs --allow-unpriced: $(cat "$dir/close.err")"
    "$bin" period close "$month" --allow-unpriced >"$dir/close.json"
  fi
  "$bin" invoice list --period "$month" |
    jq -c "[.value[] | {billTo: (if .billTo.partnerId then \"partner:\(.billTo.partnerId)\"
                                 else \"subscription:\(.billTo.subscriptionId)\" end),
                        currency, lines, total}] | $normalise" >"$dir/stackbill.json"
  kill -TERM "$server_pid"
  wait "$server_pid" 2>/dev/null || true
  server_pid=

  bench/baseline/reference.sh "$dir/s.db" "$dir/ref" 2>/dev/null
  local engine ok=1 got
  printf '\n%s: stackbill\n' "$name" >&2
  jq -r '.[] | "  \(.billTo)  \(.currency)  \(.lines) lines  \(.total)"' "$dir/stackbill.json" >&2
  for engine in $baselines; do
    note "$name: the $engine baseline"
    "bench/baseline/$engine.sh" "$dir/usage" "$dir/ref" >"$dir/$engine.json" 2>"$dir/$engine.log" ||
      fail "$name: the $engine baseline failed: $(tail -5 "$dir/$engine.log")"
    got=$(jq -c ".invoices | $normalise" "$dir/$engine.json")
    jq -r '"  \(.engine): load \(.load_s) s, resend \(.resend_s) s, route \(.route_s) s, aggregate \(.aggregate_s) s, price \(.price_s) s; \(.stored) rows"' \
      "$dir/$engine.json" >&2
    if [[ $got == "$(cat "$dir/stackbill.json")" ]]; then
      note "$name: $engine: the same invoices, to the cent"
    else
      ok=0
      note "$name: $engine DISAGREES:"
      jq -r '.[] | "  \(.billTo)  \(.currency)  \(.lines) lines  \(.total)"' <<<"$got" >&2
    fi
  done
  ((ok)) || fail "$name: a baseline's invoices differ from stackbill's"
  echo >&2
}

if [[ $# -ge 1 ]]; then
  [[ -f $1 ]] || fail "no such world file: $1"
  check_world "$(basename "$1" .json)" "$(cd "$(dirname "$1")" && pwd)/$(basename "$1")" "${2:-}"
else
  check_world demo "$root/data/worlds/demo.json"
  jq '(.registrations[] | select(.name == "contoso-stack1") | .customerSubscriptions) +=
        [{"subscription": "Adventure Works on Contoso", "effectiveFrom": "2026-11-16T10:30:00Z"}]
      | .principals += [{"name": "owner@treyresearch.onmicrosoft.com",
                         "directory": "treyresearch.onmicrosoft.com",
                         "roles": [{"role": "Owner", "subscription": "Trey Research pay-as-you-go"}]}]
      | .stacks += [{"name": "stack4-trey", "deploymentDirectory": "treyresearch.onmicrosoft.com",
                     "billingModel": "PayAsYouUse",
                     "subscribers": [{"name": "trey-prod", "tenant": "treyresearch.onmicrosoft.com"}]}]
      | .registrations += [{"name": "trey-stack4", "resourceGroup": "azurestack",
                            "stack": "stack4-trey", "subscription": "Trey Research pay-as-you-go",
                            "registeredBy": "owner@treyresearch.onmicrosoft.com"}]' \
    data/worlds/demo.json >"$work/demo-plus.json"
  check_world demo-plus "$work/demo-plus.json"
fi
note "every baseline agrees with stackbill"
