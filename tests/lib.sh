# Shared set-up of the shell end-to-end tests and benchmarks, sourced by them.
# The caller sets $bin (the stackbill binary) and $dir (its temporary
# directory), defines fail MESSAGE, and exports STACKBILL_PROFILE.

# A new store at $dir/s.db and a development certificate in $dir/tls; sets
# admin_token to the first PlatformAdmin's token.
sb_init_store() {
  admin_token=$("$bin" init --db "$dir/s.db" | sed -n 's/^token: *//p')
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

# sb_serve [SERVE_FLAGS…]: `serve` on $dir/s.db over HTTPS on a free port
# (log in $dir/serve.log); sets server_pid and endpoint once it listens.
sb_serve() {
  rm -f "$dir/port"
  "$bin" serve --db "$dir/s.db" --port 0 --port-file "$dir/port" \
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
