#!/usr/bin/env bash
# bench/baseline/duckdb.sh DATA_DIR REF_DIR
#
# The DuckDB baseline of bench/run (issue 8), for reference: the same phases
# as sqlite.sh and postgresql.sh (load via a staging table into a table keyed
# on the natural identity with INSERT … ON CONFLICT DO NOTHING, resend,
# route, aggregate, price), in DuckDB's in-memory database through its
# official Node.js client (@duckdb/node-api, pinned in duckdb/package-lock.json).
# Not durable, so its load is NOT like-for-like with stackbill's or the other
# baselines' (no fsync, no WAL): it shows what an analytical engine does with
# the same SQL when durability costs nothing. duckdb/run.mjs says how the
# quantity is read exactly (DuckDB's JSON reader would pass it through a
# DOUBLE).
#
# Installs the client with `npm ci` from the committed lock into
# bench/baseline/duckdb/node_modules the first time (no global install).
# PERIOD (default 2026-11) is the month invoiced. Progress on stderr; one JSON
# line on stdout, as the other baselines print it. Needs Node.js 20 and npm.
set -euo pipefail
here=$(cd "$(dirname "$0")/duckdb" && pwd)
command -v node >/dev/null || {
  echo "duckdb: Node.js is required" >&2
  exit 1
}
if [[ ! -d $here/node_modules/@duckdb/node-api ]]; then
  echo "duckdb: npm ci (first run)" >&2
  (cd "$here" && npm ci --no-audit --no-fund --loglevel=error >&2)
fi
exec node "$here/run.mjs" "$@"
