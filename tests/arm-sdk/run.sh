#!/usr/bin/env bash
# Runs the Azure SDK conformance tests (every *.test.mjs here) against one real
# `stackbill serve`: init → dev-cert → serve (HTTPS, port 0) → node --test → SIGTERM.
# Usage: run.sh PATH_TO_STACKBILL
set -euo pipefail
bin=$(realpath "$1")
here=$(cd "$(dirname "$0")" && pwd)
"$here/../../scripts/npm-ci-if-needed" "$here"
dir=$(mktemp -d)
pid=
cleanup() { [ -n "$pid" ] && kill -TERM "$pid" 2>/dev/null && wait "$pid" 2>/dev/null; rm -rf "$dir"; }
trap cleanup EXIT

fail() {
  echo "FAIL: $*"
  exit 1
}
# shellcheck source=../lib.sh
source "$here/../lib.sh"
sb_new_store
token=$("$bin" init --db "$store" | sed -n 's/^token: *//p')
"$bin" dev-cert --out-dir "$dir" >/dev/null
"$bin" serve --db "$store" --bind 127.0.0.1 --port 0 --port-file "$dir/port" --page-size 2 \
  --tls-cert "$dir/cert.pem" --tls-key "$dir/key.pem" 2>"$dir/serve.log" &
pid=$!
for _ in $(seq 1 200); do [ -s "$dir/port" ] && break; sleep 0.05; done
[ -s "$dir/port" ] || { echo "serve did not start:"; cat "$dir/serve.log"; exit 1; }
port=$(cat "$dir/port")

cd "$here"
STACKBILL_ENDPOINT="https://localhost:$port" STACKBILL_TOKEN="$token" \
  NODE_EXTRA_CA_CERTS="$dir/cert.pem" node --test ./*.test.mjs
