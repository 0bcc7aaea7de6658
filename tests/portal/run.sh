#!/usr/bin/env bash
# The portal's browser tests (issue 10): one real `stackbill serve` with the
# demo world (data/worlds/demo.json) applied through the API, three days of
# last month's usage forwarded and that month closed (an invoice), today's
# first hours forwarded (a month-to-date estimate), and a customer named like
# an XSS probe; then every *.test.mjs here drives the portal in Debian's
# Chromium (headless) through playwright-core. Screenshots of the main pages
# go to $PORTAL_SCREENSHOTS when set (docs/img/ is made so).
# Usage: run.sh PATH_TO_STACKBILL PORTAL_DIR
set -euo pipefail
bin=$(realpath "$1")
portal_dir=$(realpath "$2")
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
"$root/scripts/npm-ci-if-needed" "$here"
chromium=${CHROMIUM:-/usr/bin/chromium}
[ -x "$chromium" ] || { echo "run.sh: $chromium is missing (scripts/setup installs Debian's chromium)" >&2; exit 1; }

source "$root/tests/lib.sh"
sb_one_server_test
sb_init_store
sb_serve --auto-close off --portal-dir "$portal_dir"
sb_login "$endpoint" >/dev/null

applied=$("$bin" world apply "$root/data/worlds/demo.json")
token_of() { sed -n "s/^ *token for $1: \([^ ]*\) .*/\1/p" <<<"$applied"; }
last=$(date -u -d "$(date -u +%Y-%m-01) -1 month" +%Y-%m)
this=$(date -u +%Y-%m)
today=$(date -u +%Y-%m-%d)
hour=$(date -u +%H)
sb_forward_window "$root/data/worlds/demo.json" "$last-01T00:00:00Z" "$last-04T00:00:00Z" last "$applied"
"$bin" period close "$last" >/dev/null
# This month's first hours (at least one: the hour that has ended).
this_has_usage=1
if [ "$today" = "$this-01" ] && [ "$hour" = 00 ]; then
  echo "run.sh: the month began less than an hour ago; its estimate is empty" >&2
  this_has_usage=0
else
  end="$this-01T01:00:00Z"
  [ "$today" != "$this-01" ] && end="$this-02T00:00:00Z"
  sb_forward_window "$root/data/worlds/demo.json" "$this-01T00:00:00Z" "$end" this "$applied"
fi

platform_token=$(token_of operator@operations.stackbill.local)
partner_token=$(token_of admin@ContosoCSP.onmicrosoft.com)
customer_token=$(token_of it@fabrikam.onmicrosoft.com)
cd "$here"
STACKBILL_ENDPOINT=$endpoint CHROMIUM=$chromium NODE_EXTRA_CA_CERTS=$dir/tls/cert.pem \
  PLATFORM_TOKEN=$platform_token PARTNER_TOKEN=$partner_token CUSTOMER_TOKEN=$customer_token \
  LAST_MONTH=$last THIS_MONTH=$this THIS_MONTH_HAS_USAGE=$this_has_usage \
  node --test ./*.test.mjs
# The server never logs a token the browser sent.
for token in "$platform_token" "$partner_token" "$customer_token"; do
  ! grep -qF "$token" "$dir/serve.log" || fail "serve.log holds a token"
done
