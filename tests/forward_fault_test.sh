#!/usr/bin/env bash
# Fault tests of forwarding (SPEC §4.1, R10, R11): a simulated month of the
# demo world (about RECORDS records) goes through one `stackbill forward` per
# stack to a real `stackbill serve` over HTTPS, while
#   server     the server is killed with SIGKILL at random moments (KILLS
#              times, at least 10) and restarted on the same port;
#   forwarder  every forwarder is killed with SIGKILL at random moments (KILLS
#              times) and restarted on its spool;
#   storm      two forwarders per stack send the same files, every batch
#              three times;
#   nodes      two `serve` nodes on the one store (issue 9: with
#              STACKBILL_TEST_BACKEND=postgres, a PostgreSQL database), two
#              forwarders per stack sending the same files, every batch twice,
#              one starting on each node and spreading over both; the nodes
#              are killed with SIGKILL in turn (KILLS times) and restarted.
# At the end the server's totals per billed subscription and meter
# (`stackbill usage totals`) must equal the simulator's exactly: every record
# counted once, none lost, none twice. In mode nodes the month is then closed
# through one node while the other serves, and its invoices must equal, line
# for line and to the cent, those of the same usage forwarded once to a
# single serve on a new SQLite store.
# Usage: forward_fault_test.sh MODE STACKBILL_BINARY WORLD_FILE [RECORDS] [KILLS]
set -euo pipefail
mode=$1
bin=$2
world=$3
records=${4:-100000}
kills=${5:-10}
dir=$(mktemp -d)
root_dir=$dir
declare -A server_pid_of port_of
forwarder_pids=()

stop_all() {
  for pid in "${forwarder_pids[@]}" "${server_pid_of[@]}"; do
    kill -KILL "$pid" 2>/dev/null || true
  done
  wait 2>/dev/null || true
}
cleanup() {
  stop_all
  rm -rf "$root_dir"
}
trap cleanup EXIT
fail() {
  echo "FAIL: $*"
  for log in "$dir"/serve*.log "$dir"/forward-*.log; do
    [ -f "$log" ] && { echo "--- $log"; tail -15 "$log"; }
  done
  exit 1
}
source "$(dirname "$0")/lib.sh"
export STACKBILL_PROFILE="$dir/profile.json"
unset STACKBILL_ENDPOINT STACKBILL_TOKEN STACKBILL_CA_FILE

sb_init_store

nodes=(a)
[ "$mode" = nodes ] && nodes=(a b)
start_serve() {  # node: on its port once it has one; auto-close off (the test closes)
  rm -f "$dir/port-$1"
  "$bin" serve --db "$store" --port "${port_of[$1]:-0}" --port-file "$dir/port-$1" \
    --tls-cert "$dir/tls/cert.pem" --tls-key "$dir/tls/key.pem" --auto-close off \
    >>"$dir/serve-$1.log" 2>&1 &
  server_pid_of[$1]=$!
  sb_wait_for_port "$dir/port-$1" "${server_pid_of[$1]}" 60 "serve $1"
  port_of[$1]=$(cat "$dir/port-$1")
}
kill_serve() {  # node
  kill -KILL "${server_pid_of[$1]}"
  wait "${server_pid_of[$1]}" 2>/dev/null || true
}
for node in "${nodes[@]}"; do start_serve "$node"; done
endpoint="https://127.0.0.1:${port_of[a]}"
sb_login "$endpoint"
applied=$("$bin" world apply "$world") || fail "world apply failed: $applied"

# About 1,850 records per VM-month and 1,440 per storage account over the
# demo world's eight stack-local subscriptions.
vms=$(((records / 8 - 1440) / 1850))
[ "$vms" -ge 1 ] || vms=1
"$bin" simulate --world "$world" --month 2026-11 --seed 7 --vms "$vms" --out "$dir/usage" \
  --summary "$dir/simulated.json" --quiet >/dev/null || fail "simulate failed"
total=$(jq .records "$dir/simulated.json")
echo "simulated $total records ($vms VMs per local subscription)"

stacks=()
declare -A cloud_of
while read -r line; do
  stack=$(sed -n 's/^ *activation key for stack \([^ ]*\) .*/\1/p' <<<"$line")
  [ -d "$dir/usage/$stack" ] || continue
  cloud_of[$stack]=$(sed -n 's/.*(cloud \([0-9a-f-]*\)).*/\1/p' <<<"$line")
  (umask 077 && printf '%s\n' "${line##*: }" >"$dir/$stack.key")
  stacks+=("$stack")
done < <(grep 'activation key for stack ' <<<"$applied")
[ ${#stacks[@]} -eq 3 ] || fail "expected 3 forwarding stacks, got ${#stacks[@]}"

copies=1
instances=(a)
servers_of_a=$endpoint
if [ "$mode" = storm ]; then
  copies=3
  instances=(a b)
elif [ "$mode" = nodes ]; then
  copies=2
  instances=(a b)
  servers_of_a="https://127.0.0.1:${port_of[a]},https://127.0.0.1:${port_of[b]}"
  servers_of_b="https://127.0.0.1:${port_of[b]},https://127.0.0.1:${port_of[a]}"
  cp -r "$dir/usage" "$dir/usage-reference"  # for the single-node reference run
fi
for stack in "${stacks[@]}"; do
  for inst in "${instances[@]}"; do
    mkdir -p "$dir/inbox-$stack-$inst"
    cp "$dir/usage/$stack"/usage-*.ndjson "$dir/inbox-$stack-$inst/"
  done
done
rm -rf "$dir/usage"  # the inboxes hold the copies; keep the disk footprint down

declare -A pid_of
start_forwarder() {  # stack instance (in this shell, so that `wait` sees it)
  local servers=$servers_of_a
  [ "$2" = b ] && [ "$mode" = nodes ] && servers=$servers_of_b
  "$bin" forward --server "$servers" --ca-file "$dir/tls/cert.pem" \
    --cloud-id "${cloud_of[$1]}" --key-file "$dir/$1.key" --state "$dir/state-$1-$2" \
    --inbox "$dir/inbox-$1-$2" --once --batch 2000 --send-copies "$copies" \
    --initial-backoff-ms 20 --max-backoff-ms 300 --poll-ms 50 --progress-seconds 3600 \
    >>"$dir/forward-$1-$2.log" 2>&1 &
  pid_of[$1-$2]=$!
}
start_forwarders() {
  forwarder_pids=()
  for stack in "${stacks[@]}"; do
    for inst in "${instances[@]}"; do
      start_forwarder "$stack" "$inst"
      forwarder_pids+=("${pid_of[$stack-$inst]}")
    done
  done
}
any_forwarder_running() {
  for pid in "${forwarder_pids[@]}"; do kill -0 "$pid" 2>/dev/null && return 0; done
  return 1
}
random_pause() {  # 0.1 .. 0.7 s
  sleep "0.$((RANDOM % 7 + 1))"
}

start_forwarders
done_kills=0
case $mode in
  server)
    while [ $done_kills -lt "$kills" ]; do
      random_pause
      any_forwarder_running || break
      kill_serve a
      done_kills=$((done_kills + 1))
      start_serve a
    done
    ;;
  nodes)
    while [ $done_kills -lt "$kills" ]; do
      random_pause
      any_forwarder_running || break
      node=${nodes[$((done_kills % 2))]}
      kill_serve "$node"
      done_kills=$((done_kills + 1))
      random_pause
      start_serve "$node"
    done
    ;;
  forwarder)
    while [ $done_kills -lt "$kills" ]; do
      random_pause
      any_forwarder_running || break
      for pid in "${forwarder_pids[@]}"; do kill -KILL "$pid" 2>/dev/null || true; done
      for pid in "${forwarder_pids[@]}"; do wait "$pid" 2>/dev/null || true; done
      done_kills=$((done_kills + 1))
      start_forwarders
    done
    ;;
  storm) ;;
  *) fail "unknown mode $mode" ;;
esac
[ "$mode" = storm ] || [ $done_kills -ge "$kills" ] ||
  fail "the forwarders finished after only $done_kills of $kills kills: use more records"

# Every forwarder runs to its end (exit 0) on the last start.
for key in "${!pid_of[@]}"; do
  wait "${pid_of[$key]}" || fail "forwarder $key exited with $?"
done
forwarder_pids=()

"$bin" usage totals >"$dir/server.json" || fail "usage totals failed"
if ! jq -e --slurpfile sim "$dir/simulated.json" '.value == $sim[0].value' "$dir/server.json" \
  >/dev/null; then
  jq -c '.value[]' "$dir/server.json" >"$dir/got"
  jq -c '.value[]' "$dir/simulated.json" >"$dir/want"
  diff "$dir/want" "$dir/got" | head -20
  fail "the server's totals differ from the simulator's"
fi
stored=$(jq .records "$dir/server.json")
[ "$stored" -eq "$total" ] || fail "stored $stored records of $total"
if ls "$dir"/state-*/rejected/*.ndjson >/dev/null 2>&1; then
  head -3 "$dir"/state-*/rejected/*.ndjson
  fail "records were quarantined"
fi
for stack in "${stacks[@]}"; do
  for inst in "${instances[@]}"; do
    [ -z "$(ls -A "$dir/inbox-$stack-$inst")" ] || fail "inbox $stack-$inst not drained"
  done
done
accepted=$(grep -h 'done: sent' "$dir"/forward-*.log | tail -n "${#pid_of[@]}" |
  sed -n 's/.*accepted \([0-9]*\),.*/\1/p' | awk '{s += $1} END {print s + 0}')
echo "mode $mode: $done_kills kills; $stored records stored = the simulator's $total;" \
  "last runs accepted $accepted"

if [ "$mode" = nodes ]; then
  # The month's invoices through node b, while node a serves too, …
  "$bin" period close 2026-11 --endpoint "https://127.0.0.1:${port_of[b]}" >/dev/null ||
    fail "closing 2026-11 failed"
  export_of() {  # endpoint token: the month's export without what differs between stores
    curl -sS --fail --cacert "$dir/tls/cert.pem" -H "Authorization: Bearer $2" \
      "$1/v1/billingPeriods/2026-11/export" |
      jq -S 'walk(if type == "object" then del(.id, .invoiceId, .issuedAt) else . end)'
  }
  export_of "https://127.0.0.1:${port_of[a]}" "$admin_token" >"$dir/invoices-nodes.json" ||
    fail "the export through node a failed"
  for node in "${nodes[@]}"; do kill -TERM "${server_pid_of[$node]}"; done
  wait "${server_pid_of[@]}" 2>/dev/null || true
  server_pid_of=()
  # … equal those of the same usage sent once to one serve on a new SQLite store.
  reference_dir=$dir
  dir=$dir/reference
  mkdir -p "$dir"
  export STACKBILL_PROFILE="$dir/profile.json"
  STACKBILL_TEST_BACKEND=sqlite sb_init_store
  start_serve reference
  sb_login "https://127.0.0.1:${port_of[reference]}"
  applied=$("$bin" world apply "$world") || fail "world apply on the reference failed: $applied"
  for stack in "${stacks[@]}"; do
    line=$(grep "activation key for stack $stack " <<<"$applied") || fail "no key for $stack"
    [ "$(sed -n 's/.*(cloud \([0-9a-f-]*\)).*/\1/p' <<<"$line")" = "${cloud_of[$stack]}" ] ||
      fail "the reference world gave stack $stack another cloud id"
    (umask 077 && printf '%s\n' "${line##*: }" >"$dir/$stack.key")
    "$bin" forward --server "https://127.0.0.1:${port_of[reference]}" \
      --ca-file "$dir/tls/cert.pem" --cloud-id "${cloud_of[$stack]}" \
      --key-file "$dir/$stack.key" --state "$dir/state-$stack" \
      --inbox "$reference_dir/usage-reference/$stack" --once --batch 5000 \
      --progress-seconds 3600 >>"$dir/forward.log" 2>&1 || fail "reference forward of $stack failed"
  done
  "$bin" period close 2026-11 >/dev/null || fail "closing the reference month failed"
  export_of "https://127.0.0.1:${port_of[reference]}" "$admin_token" >"$dir/invoices-single.json" ||
    fail "the reference export failed"
  lines=$(jq '[.invoices[].lines[]] | length' "$dir/invoices-single.json")
  [ "$lines" -gt 0 ] || fail "the reference month has no invoice lines"
  if ! cmp -s "$reference_dir/invoices-nodes.json" "$dir/invoices-single.json"; then
    diff "$dir/invoices-single.json" "$reference_dir/invoices-nodes.json" | head -20
    fail "the two nodes' invoices differ from the single-node SQLite ones"
  fi
  echo "invoices: $(jq '.invoices | length' "$dir/invoices-single.json") invoices, $lines lines," \
    "equal to the single-node SQLite run's"
  dir=$reference_dir
fi
echo PASS
