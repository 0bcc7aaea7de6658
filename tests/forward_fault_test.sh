#!/usr/bin/env bash
# Fault tests of forwarding (SPEC §4.1, R10, R11): a simulated month of the
# demo world (about RECORDS records) goes through one `stackbill forward` per
# stack to a real `stackbill serve` over HTTPS, while
#   server     the server is killed with SIGKILL at random moments (KILLS
#              times, at least 10) and restarted on the same port;
#   forwarder  every forwarder is killed with SIGKILL at random moments (KILLS
#              times) and restarted on its spool;
#   storm      two forwarders per stack send the same files, every batch
#              three times.
# At the end the server's totals per billed subscription and meter
# (`stackbill usage totals`) must equal the simulator's exactly: every record
# counted once, none lost, none twice.
# Usage: forward_fault_test.sh MODE STACKBILL_BINARY WORLD_FILE [RECORDS] [KILLS]
set -euo pipefail
mode=$1
bin=$2
world=$3
records=${4:-100000}
kills=${5:-10}
dir=$(mktemp -d)
server_pid=
forwarder_pids=()

stop_all() {
  for pid in "${forwarder_pids[@]}" $server_pid; do
    kill -KILL "$pid" 2>/dev/null || true
  done
  wait 2>/dev/null || true
}
cleanup() {
  stop_all
  rm -rf "$dir"
}
trap cleanup EXIT
fail() {
  echo "FAIL: $*"
  for log in "$dir"/serve.log "$dir"/forward-*.log; do
    [ -f "$log" ] && { echo "--- $log"; tail -15 "$log"; }
  done
  exit 1
}
source "$(dirname "$0")/lib.sh"
export STACKBILL_PROFILE="$dir/profile.json"
unset STACKBILL_ENDPOINT STACKBILL_TOKEN STACKBILL_CA_FILE

sb_init_store

port=0
start_serve() {
  rm -f "$dir/port"
  "$bin" serve --db "$store" --port "$port" --port-file "$dir/port" \
    --tls-cert "$dir/tls/cert.pem" --tls-key "$dir/tls/key.pem" >>"$dir/serve.log" 2>&1 &
  server_pid=$!
  sb_wait_for_port "$dir/port" "$server_pid" 60 serve
  port=$(cat "$dir/port")
}
start_serve
endpoint="https://127.0.0.1:$port"
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
if [ "$mode" = storm ]; then
  copies=3
  instances=(a b)
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
  "$bin" forward --server "$endpoint" --ca-file "$dir/tls/cert.pem" \
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
      kill -KILL "$server_pid"
      wait "$server_pid" 2>/dev/null || true
      done_kills=$((done_kills + 1))
      start_serve
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
echo PASS
