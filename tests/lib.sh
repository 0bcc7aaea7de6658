# Shared set-up of the shell end-to-end tests and benchmarks, sourced by them.
# The caller sets $bin (the stackbill binary) and $dir (its temporary
# directory), defines fail MESSAGE, and exports STACKBILL_PROFILE.

# sb_new_store: sets store to a new store's location: the SQLite file
# $dir/s.db, or with STACKBILL_TEST_BACKEND=postgres a new, empty database on
# the test server (tests/postgres/server.sh, whose DSN is in the file
# $STACKBILL_TEST_POSTGRES_DSN_FILE; ctest's postgres_server fixture).
sb_new_store() {
  if [[ ${STACKBILL_TEST_BACKEND:-sqlite} == postgres ]]; then
    local server name
    [[ -s ${STACKBILL_TEST_POSTGRES_DSN_FILE:-} ]] ||
      fail "STACKBILL_TEST_BACKEND=postgres but no server DSN in STACKBILL_TEST_POSTGRES_DSN_FILE"
    server=$(<"$STACKBILL_TEST_POSTGRES_DSN_FILE")
    name=sb_$(date +%s%N)_$$
    psql -X -q -v ON_ERROR_STOP=1 -d "$server" -c "CREATE DATABASE $name" >/dev/null ||
      fail "cannot create the test database $name"
    store=${server%/*}/$name
  else
    store=$dir/s.db
  fi
}

# sb_sql QUERY: runs QUERY on $store and prints its rows, columns separated
# by '|' (sqlite3's and psql -A's default).
sb_sql() {
  if [[ $store == postgresql://* ]]; then
    psql -X -q -t -A -v ON_ERROR_STOP=1 -d "$store" -c "$1"
  else
    sqlite3 "$store" "$1"
  fi
}

# A new store (sb_new_store) and a development certificate in $dir/tls; sets
# admin_token to the first PlatformAdmin's token.
sb_init_store() {
  sb_new_store
  admin_token=$("$bin" init --db "$store" | sed -n 's/^token: *//p')
  [ -n "$admin_token" ] || fail "init printed no token"
  "$bin" dev-cert --out-dir "$dir/tls" >/dev/null 2>&1 || fail "dev-cert failed"
}

# sb_wait_for_port PORT_FILE PID SECONDS WHAT: waits, without fixed sleeps,
# until `serve` (process PID) has written its port file.
sb_wait_for_port() {
  local deadline=$((SECONDS + $3))
  until [ -s "$1" ]; do
    kill -0 "$2" 2>/dev/null || fail "$4 exited early"
    [ $SECONDS -lt $deadline ] || fail "$4 wrote no port file in $3 s"
    sleep 0.05
  done
}

# sb_serve [SERVE_FLAGS…]: `serve` on $store over HTTPS on a free port
# (log in $dir/serve.log); sets server_pid and endpoint once it listens.
sb_serve() {
  rm -f "$dir/port"
  "$bin" serve --db "$store" --port 0 --port-file "$dir/port" \
    --tls-cert "$dir/tls/cert.pem" --tls-key "$dir/tls/key.pem" "$@" >"$dir/serve.log" 2>&1 &
  server_pid=$!
  sb_wait_for_port "$dir/port" "$server_pid" 60 serve
  endpoint="https://127.0.0.1:$(cat "$dir/port")"
}

# sb_login ENDPOINT: the CLI profile for the PlatformAdmin at ENDPOINT.
sb_login() {
  "$bin" login --endpoint "$1" --token "$admin_token" --ca-file "$dir/tls/cert.pem" \
    >/dev/null || fail "login failed"
}

# sb_forward_window WORLD FROM TO NAME APPLIED [SUMMARY]: simulates WORLD's
# stacks over [FROM, TO) (seed 3) into $dir/NAME and forwards each stack's
# files to $endpoint with the activation keys in APPLIED (the output of
# `world apply`); each stack's forwarder keeps its state in $dir/fwd-NAME-STACK.
# SUMMARY, when given, receives the simulator's totals.
sb_forward_window() {
  local line stack cloud
  "$bin" simulate --world "$1" --from "$2" --to "$3" --seed 3 --out "$dir/$4" --quiet \
    ${6:+--summary "$6"} >/dev/null || fail "simulate $2..$3 failed"
  while read -r line; do
    stack=$(sed -n 's/^ *activation key for stack \([^ ]*\) .*/\1/p' <<<"$line")
    cloud=$(sed -n 's/.*(cloud \([0-9a-f-]*\)).*/\1/p' <<<"$line")
    [ -d "$dir/$4/$stack" ] || continue
    (umask 077 && printf '%s\n' "${line##*: }" >"$dir/$stack.key")
    "$bin" forward --server "$endpoint" --ca-file "$dir/tls/cert.pem" --cloud-id "$cloud" \
      --key-file "$dir/$stack.key" --state "$dir/fwd-$4-$stack" --inbox "$dir/$4/$stack" \
      --once --progress-seconds 3600 2>>"$dir/forward.log" || fail "forward of $stack failed"
  done < <(grep 'activation key for stack ' <<<"$5")
}

# sb_one_server_test: the frame of a test with one `serve` at a time: $dir (a
# new temporary directory, removed at exit once the server in $server_pid is
# stopped), fail MESSAGE (prints the server log's tail, exits 1), the CLI
# profile in $dir, and no STACKBILL_* endpoint or token from the environment.
sb_one_server_test() {
  dir=$(mktemp -d)
  server_pid=
  trap '[ -n "$server_pid" ] && kill -TERM "$server_pid" 2>/dev/null && wait "$server_pid" 2>/dev/null; rm -rf "$dir"' EXIT
  fail() {
    echo "FAIL: $*"
    [ -f "$dir/serve.log" ] && tail -20 "$dir/serve.log"
    exit 1
  }
  export STACKBILL_PROFILE="$dir/profile.json"
  unset STACKBILL_ENDPOINT STACKBILL_TOKEN STACKBILL_CA_FILE
}

# sb_nodes_test: the frame of a test of several `serve` nodes on one store
# ($store, from sb_init_store): $dir (a new temporary directory, removed at
# exit once every node still running is stopped), fail MESSAGE (prints each
# node's log tail, exits 1), the CLI profile in $dir, and no STACKBILL_*
# endpoint or token from the environment. The nodes:
#   sb_node_start NAME [SERVE_FLAGS…]  starts node NAME over HTTPS on a free
#                                      port (log in $dir/serve-NAME.log);
#   sb_node_wait NAME                  waits until it listens;
#   sb_node_url NAME                   its https:// URL (after sb_node_wait);
#   sb_node_stop NAME                  SIGTERM; fails unless it exits 0.
# ${node_pid[NAME]} is a running node's process id.
sb_nodes_test() {
  dir=$(mktemp -d)
  declare -gA node_pid=() node_port=()
  trap 'for p in "${node_pid[@]}"; do kill -TERM "$p" 2>/dev/null && wait "$p" 2>/dev/null || true; done; rm -rf "$dir"' EXIT
  fail() {
    local log
    echo "FAIL: $*"
    for log in "$dir"/serve-*.log; do
      [ -f "$log" ] && { echo "--- $log"; tail -20 "$log"; }
    done
    exit 1
  }
  export STACKBILL_PROFILE="$dir/profile.json"
  unset STACKBILL_ENDPOINT STACKBILL_TOKEN STACKBILL_CA_FILE
}
sb_node_start() {
  local name=$1
  shift
  rm -f "$dir/port-$name"
  "$bin" serve --db "$store" --port 0 --port-file "$dir/port-$name" \
    --tls-cert "$dir/tls/cert.pem" --tls-key "$dir/tls/key.pem" "$@" \
    >>"$dir/serve-$name.log" 2>&1 &
  node_pid[$name]=$!
}
sb_node_wait() {
  sb_wait_for_port "$dir/port-$1" "${node_pid[$1]}" 60 "serve $1"
  node_port[$1]=$(cat "$dir/port-$1")
}
sb_node_url() { echo "https://127.0.0.1:${node_port[$1]}"; }
sb_node_stop() {
  kill -TERM "${node_pid[$1]}"
  wait "${node_pid[$1]}" || fail "serve $1 exited with $?"
  unset "node_pid[$1]"
}

# CPU seconds (user + system) of the processes in PIDS… so far.
sb_cpu_seconds() {
  local pid ticks=0 stat fields
  for pid in "$@"; do
    stat=$(cat "/proc/$pid/stat" 2>/dev/null) || continue
    # After the command's ")": state is field 3, utime 14 and stime 15.
    read -ra fields <<<"${stat##*) }"
    ticks=$((ticks + fields[11] + fields[12]))
  done
  awk -v t="$ticks" -v hz="$(getconf CLK_TCK)" 'BEGIN { printf "%.2f", t / hz }'
}

# sb_children_cpu_seconds VAR: sets VAR to the CPU seconds (user + system) of
# this shell's children that have ended and been waited for, so far. Bash's
# `times` in this shell, not in a $(…) subshell, whose children are its own.
sb_children_cpu_seconds() {
  local file
  file=$(mktemp)
  times >"$file"
  printf -v "$1" '%s' "$(awk 'NR == 2 { for (i = 1; i <= 2; i++) { split($i, t, /[ms]/); sum += t[1] * 60 + t[2] } }
                              END { printf "%.2f", sum }' "$file")"
  rm -f "$file"
}
