#!/usr/bin/env bash
# bench/pg_backend.sh SIZE_DIR
#
# stackbill on its PostgreSQL backend (issue 9), for bench/run: the same
# world and usage as the size's SQLite runs (SIZE_DIR/world.json, usage/,
# simulated.json, written by bench/run), forwarded over HTTPS by 4
# `stackbill forward` processes to 1 and then 2 `serve` nodes on one
# PostgreSQL 15 database (a throw-away server with default durability:
# fsync and synchronous_commit on, like the baselines). With 2 nodes each
# forwarder is given both URLs, starting on a different one, and spreads its
# batches over them.
#
# Untimed: the world applied to a template database (each run starts from a
# copy of it), the forwarders' spools filled. Timed: from starting the
# forwarders on their spools to the last one exiting, every record
# acknowledged and counted once (checked against the simulator).
#
# Where the time goes: the CPU seconds of the serve nodes and of the
# PostgreSQL server's processes over the timed part, next to its wall time
# (the machine has 2 cores: db + serve CPU near 2 × wall means the cores are
# the limit, and the database's share says how much of it is PostgreSQL's).
#
# Prints one JSON object on stdout: {"nodes_1": {…}, "nodes_2": {…}}, each
# with ingest_s, rps, serve_cpu_s and db_cpu_s.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
sdir=$(cd "${1:?usage: bench/pg_backend.sh SIZE_DIR}" && pwd)
bin=$root/build/release/src/cmd/stackbill/stackbill
[ -x "$bin" ] || { echo "pg_backend: build the release binary first" >&2; exit 1; }
log() { echo "pg_backend: $*" >&2; }
die() {
  log "error: $*"
  exit 1
}
fail() { die "$@"; }
now() { date +%s.%N; }
since() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.3f", b - a }'; }
# shellcheck source=baseline/pg_server.sh
source bench/baseline/pg_server.sh
# shellcheck source=../tests/lib.sh
source tests/lib.sh
pg_server_traps
pg_server_init stackbill-pg-backend
pg_server_start "max_connections = 100"
server_url="postgresql://$PGUSER@127.0.0.1:$PGPORT"
dir=$pg_tmp
export STACKBILL_PROFILE="$dir/profile.json"
unset STACKBILL_ENDPOINT STACKBILL_TOKEN STACKBILL_CA_FILE
records=$(jq .records "$sdir/simulated.json")

# The PostgreSQL server's processes: the postmaster and its children.
db_pids() {
  local postmaster
  postmaster=$(head -1 "$pgdata/postmaster.pid")
  echo "$postmaster" $(pgrep -P "$postmaster")
}

# The template: the world applied once (untimed).
psql_ -c "CREATE DATABASE sb_base"
"$bin" init --db "$server_url/sb_base" >"$dir/init.out" 2>>"$dir/serve.log" || die "init failed"
admin_token=$(sed -n 's/^token: *//p' "$dir/init.out")
"$bin" dev-cert --out-dir "$dir/tls" >/dev/null 2>&1 || die "dev-cert failed"
store=$server_url/sb_base
sb_serve --auto-close off
server_pid_base=$server_pid
session_pids+=("$server_pid")
sb_login "$endpoint"
log "world apply (untimed)"
applied=$("$bin" world apply "$sdir/world.json") || die "world apply failed"
line=$(grep "activation key for stack bigstack " <<<"$applied") || die "no key for bigstack"
cloud=$(sed -n 's/.*(cloud \([0-9a-f-]*\)).*/\1/p' <<<"$line")
(umask 077 && printf '%s\n' "${line##*: }" >"$dir/bigstack.key")
kill -TERM "$server_pid_base" && wait "$server_pid_base" 2>/dev/null || true
server_pid=

run_nodes() {  # NODES OUT: writes the run's JSON to OUT (in this shell: the trap sees its PIDs)
  local nodes=$1 forwarders=4 i n f pids=() node_pids=() urls=() start ingest_s
  local db=sb_nodes_$nodes serve0 db0
  psql_ -c "CREATE DATABASE $db TEMPLATE sb_base"
  store=$server_url/$db
  for ((i = 0; i < nodes; i++)); do
    rm -f "$dir/port-$i"
    "$bin" serve --db "$store" --port 0 --port-file "$dir/port-$i" --auto-close off \
      --tls-cert "$dir/tls/cert.pem" --tls-key "$dir/tls/key.pem" >>"$dir/serve-$i.log" 2>&1 &
    node_pids+=($!)
    session_pids+=($!)
    sb_wait_for_port "$dir/port-$i" "${node_pids[i]}" 60 "serve $i"
    urls+=("https://127.0.0.1:$(cat "$dir/port-$i")")
  done
  for ((i = 0; i < forwarders; i++)); do rm -rf "$dir/inbox-$i" "$dir/state-$i"; mkdir -p "$dir/inbox-$i"; done
  n=0
  for f in "$sdir"/usage/bigstack/usage-*.ndjson; do
    cp "$f" "$dir/inbox-$((n % forwarders))/"
    n=$((n + 1))
  done
  forward_all() {
    pids=()
    for ((i = 0; i < forwarders; i++)); do
      # Forwarder i starts on node i mod nodes and takes the others in turn.
      local servers=() j
      for ((j = 0; j < nodes; j++)); do servers+=("${urls[$(((i + j) % nodes))]}"); done
      "$bin" forward --server "$(IFS=,; echo "${servers[*]}")" --ca-file "$dir/tls/cert.pem" \
        --cloud-id "$cloud" --key-file "$dir/bigstack.key" --state "$dir/state-$i" \
        --inbox "$dir/inbox-$i" --once --progress-seconds 3600 "$@" 2>>"$dir/forward-$i.log" &
      pids+=($!)
      session_pids+=($!)
    done
    for pid in "${pids[@]}"; do wait "$pid" || die "a forwarder failed: $(tail -3 "$dir"/forward-*.log)"; done
  }
  forward_all --spool-only
  serve0=$(sb_cpu_seconds "${node_pids[@]}")
  db0=$(sb_cpu_seconds $(db_pids))
  start=$(now)
  forward_all
  ingest_s=$(since "$start")
  local serve_cpu db_cpu stored
  serve_cpu=$(awk -v a="$serve0" -v b="$(sb_cpu_seconds "${node_pids[@]}")" 'BEGIN { printf "%.2f", b - a }')
  db_cpu=$(awk -v a="$db0" -v b="$(sb_cpu_seconds $(db_pids))" 'BEGIN { printf "%.2f", b - a }')
  stored=$("$bin" usage totals --endpoint "${urls[0]}" | jq .records) || die "usage totals failed"
  [ "$stored" -eq "$records" ] || die "$nodes node(s): stored $stored of $records records"
  for pid in "${node_pids[@]}"; do kill -TERM "$pid" && wait "$pid" 2>/dev/null || true; done
  log "$nodes node(s): $records records in $ingest_s s (serve CPU $serve_cpu s, PostgreSQL CPU $db_cpu s)"
  jq -n --argjson s "$ingest_s" --argjson r "$records" --argjson serve "$serve_cpu" \
    --argjson db "$db_cpu" '{ingest_s: $s, rps: ($r / $s | floor), serve_cpu_s: $serve, db_cpu_s: $db}' \
    >"$2"
}

run_nodes 1 "$dir/nodes-1.json"
run_nodes 2 "$dir/nodes-2.json"
jq -n --slurpfile one "$dir/nodes-1.json" --slurpfile two "$dir/nodes-2.json" \
  '{nodes_1: $one[0], nodes_2: $two[0]}'
