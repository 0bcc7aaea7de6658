#!/usr/bin/env bash
# bench/ingest_e2e.sh [VMS] [FORWARDERS]
#
# The whole-system ingest benchmark (docs/PERFORMANCE.md): a simulated month
# of the demo world (VMS VMs per stack-local subscription, default 70: about
# 1.0M records on stacks 1 and 2) forwarded over HTTPS by FORWARDERS (default
# 4) concurrent `stackbill forward --once` processes — stack 1's and stack 2's
# files split between two forwarders each — to one `stackbill serve` on the
# embedded SQLite store, dedupe on (every record's identity checked, R11),
# durability as shipped (an acknowledged record survives kill -9, R10).
#
# Untimed, as the baseline's conversion into COPY files is: the forwarders
# take their inboxes into their durable spools (`forward --spool-only`).
# Timed: from starting the forwarders on their spools to the last one
# exiting, every record acknowledged; records/s = records stored / that time.
# Then the same files are forwarded again (every record a duplicate), once
# end to end (inbox → spool → server, "resend_with_spooling") and once from
# the spools ("resend").
#
# In the same run, on the same records and the same disk, the PostgreSQL
# baseline (bench/pg_baseline.sh: COPY into staging, INSERT … ON CONFLICT DO
# NOTHING into a table keyed on the identity, FORWARDERS sessions), twice:
# with the primary key alone, and with the secondary indexes stackbill's own
# table carries (like for like).
#
# SKIP_BASELINE=1 skips the PostgreSQL part (for quick iterations);
# PERF_OUT=FILE records a whole-machine `perf record -a -g` of the timed first
# load (perf report -i FILE --sort comm,dso).
# Needs the release build (scripts/build release) and PostgreSQL 15 binaries
# (scripts/setup installs them). Prints one JSON line per system on stdout.
set -euo pipefail
cd "$(dirname "$0")/.."
vms=${1:-70}
forwarders=${2:-4}
bin=$PWD/build/release/src/cmd/stackbill/stackbill
[ -x "$bin" ] || { echo "bench: build the release binary first (scripts/build release)" >&2; exit 1; }
dir=$(mktemp -d "${TMPDIR:-/tmp}/ingest-e2e.XXXXXX")
server_pid=
cleanup() {
  [ -n "$server_pid" ] && kill -TERM "$server_pid" 2>/dev/null && wait "$server_pid" 2>/dev/null
  rm -rf "$dir"
}
trap cleanup EXIT
export STACKBILL_PROFILE="$dir/profile.json"
unset STACKBILL_ENDPOINT STACKBILL_TOKEN STACKBILL_CA_FILE
now() { date +%s.%N; }

fail() { echo "bench: $*" >&2; exit 1; }
source tests/lib.sh
sb_init_store
sb_serve
sb_login "$endpoint"
applied=$("$bin" world apply data/worlds/demo.json)

echo "bench: simulating (VMs per local subscription: $vms)" >&2
"$bin" simulate --world data/worlds/demo.json --month 2026-11 --seed 11 --vms "$vms" \
  --out "$dir/usage" --quiet >/dev/null
rm -rf "$dir/usage/stack3-lab"  # the two multi-tenant stacks carry the load
records=$(cat "$dir"/usage/*/usage-*.ndjson | wc -l)

# Forwarder k of stack s takes every other file of s.
declare -a fw_stack fw_cloud
k=0
for stack in stack1 stack2; do
  line=$(grep "activation key for stack $stack " <<<"$applied")
  cloud=$(sed -n 's/.*(cloud \([0-9a-f-]*\)).*/\1/p' <<<"$line")
  (umask 077 && printf '%s\n' "${line##*: }" >"$dir/$stack.key")
  for ((j = 0; j < forwarders / 2; j++)); do
    fw_stack[k]=$stack
    fw_cloud[k]=$cloud
    k=$((k + 1))
  done
done
stage() {  # copy the files into the inboxes, untimed
  for ((i = 0; i < k; i++)); do mkdir -p "$dir/inbox-$i"; done
  for stack in stack1 stack2; do
    local n=0 first=-1
    for ((i = 0; i < k; i++)); do [ "${fw_stack[i]}" = "$stack" ] && [ $first -lt 0 ] && first=$i; done
    for f in "$dir/usage/$stack"/usage-*.ndjson; do
      cp "$f" "$dir/inbox-$((first + n % (forwarders / 2)))/"
      n=$((n + 1))
    done
  done
}
run() {  # extra forward flags…
  local start end pids=()
  start=$(now)
  for ((i = 0; i < k; i++)); do
    "$bin" forward --server "$endpoint" --ca-file "$dir/tls/cert.pem" --cloud-id "${fw_cloud[i]}" \
      --key-file "$dir/${fw_stack[i]}.key" --state "$dir/state-$i" --inbox "$dir/inbox-$i" \
      --once --progress-seconds 3600 --batch "${BATCH:-20000}" "$@" 2>>"$dir/forward-$i.log" &
    pids+=($!)
  done
  for pid in "${pids[@]}"; do wait "$pid"; done
  end=$(now)
  echo "$start $end"
}

echo "bench: $records records, $k forwarders, HTTPS, SQLite store" >&2
# Untimed, like the baseline's conversion to COPY files: the forwarders take
# their inboxes into their spools. Timed: sending the spools.
stage
read -r s0 s1 < <(run --spool-only)
perf_pid=
if [ -n "${PERF_OUT:-}" ]; then  # profile the whole machine during the timed first load
  perf record -a -g -F 499 -o "$PERF_OUT" 2>"$dir/perf.log" &
  perf_pid=$!
fi
read -r t0 t1 < <(run)
[ -n "$perf_pid" ] && kill -INT "$perf_pid" && wait "$perf_pid" || true
stored=$("$bin" usage totals | jq .records)
# End to end: inbox files to acknowledged records, spooling included.
"$bin" usage totals >/dev/null
stage
read -r e0 e1 < <(run)
[ "$("$bin" usage totals | jq .records)" -eq "$stored" ] || { echo "bench: the resend changed the totals" >&2; exit 1; }
stage
read -r u0 u1 < <(run --spool-only)
read -r t2 t3 < <(run)
awk -v r="$records" -v s="$stored" -v f="$k" -v a="$t0" -v b="$t1" -v c="$t2" -v d="$t3" \
    -v p="$(echo "$s1 - $s0" | awk '{print $1 - $3}')" -v e="$(echo "$e1 - $e0" | awk '{print $1 - $3}')" 'BEGIN {
  printf "{\"system\":\"stackbill-forward-https-sqlite\",\"forwarders\":%d,\"records\":%d,\"stored\":%d,", f, r, s
  printf "\"seconds\":%.3f,\"records_per_second\":%.0f,", b - a, s / (b - a)
  printf "\"resend_seconds\":%.3f,\"resend_records_per_second\":%.0f,", d - c, r / (d - c)
  printf "\"spool_seconds\":%.3f,\"resend_with_spooling_seconds\":%.3f,\"resend_with_spooling_records_per_second\":%.0f}\n", p, e, r / e
}'
kill -TERM "$server_pid" && wait "$server_pid" 2>/dev/null || true
server_pid=

if [ "${SKIP_BASELINE:-}" = 1 ]; then exit 0; fi
echo "bench: the PostgreSQL baseline on the same records" >&2
bench/pg_baseline.sh "$dir/usage" "$forwarders"
PG_BASELINE_SCHEMA=store-indexes bench/pg_baseline.sh "$dir/usage" "$forwarders"
