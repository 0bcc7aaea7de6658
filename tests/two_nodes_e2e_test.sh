#!/usr/bin/env bash
# End to end (issue 9, multi-node): two `serve` nodes on one store (a
# PostgreSQL database with STACKBILL_TEST_BACKEND=postgres, else one SQLite
# file) stay correct together:
#   - started at the same moment with automatic close on, exactly one of them
#     closes last month, and its invoice numbers run without a gap;
#   - a token revoked through one node fails at once on the other;
#   - an activation key rotated through one node works at once on the other,
#     where the old one keeps working for its grace period (SPEC §3.1).
# Usage: two_nodes_e2e_test.sh STACKBILL_BINARY WORLD_FILE
set -euo pipefail
bin=$1
world=$2
# shellcheck source=lib.sh
source "$(dirname "$0")/lib.sh"
sb_nodes_test

status_of() {  # node token method path [body file]: the HTTP status; the body in $dir/body
  curl -sS -o "$dir/body" -w '%{http_code}' --cacert "$dir/tls/cert.pem" \
    -H "Authorization: Bearer $2" -X "$3" ${5:+-H "Content-Type: application/x-ndjson"} \
    ${5:+--data-binary "@$5"} "$(sb_node_url "$1")$4"
}

sb_init_store
# init fills only a new store: a second one on the same store is refused
# (on PostgreSQL before anything is migrated into the database).
if "$bin" init --db "$store" >/dev/null 2>"$dir/init2.err"; then fail "a second init succeeded"; fi
grep -q "already exists\|is not empty" "$dir/init2.err" || fail "second init: $(cat "$dir/init2.err")"

# Last month's first three days, through node a with automatic close off.
sb_node_start a --auto-close off
sb_node_wait a
sb_login "$(sb_node_url a)"
applied=$("$bin" world apply "$world") || fail "world apply failed: $applied"
last=$(date -u -d "$(date -u +%Y-%m-01) -1 month" +%Y-%m)
endpoint=$(sb_node_url a)
sb_forward_window "$world" "$last-01T00:00:00Z" "$last-04T00:00:00Z" last "$applied"
sb_node_stop a

# Both nodes at once, automatic close on with no grace: each tries to close
# every ended month as it starts; the store lets one of them do it.
sb_node_start a --auto-close-grace 0
sb_node_start b --auto-close-grace 0
sb_node_wait a
sb_node_wait b
for ((i = 0; i < 300; i++)); do
  grep -q "closed billing period $last automatically" "$dir"/serve-*.log && break
  sleep 0.1
done
sleep 1  # time for a second (wrong) close to be logged, were there one
closers=$(grep -l "closed billing period $last automatically" "$dir"/serve-*.log | wc -l || true)
[ "$closers" = 1 ] || fail "$closers nodes logged closing $last (expected exactly one)"
[ "$(status_of b "$admin_token" GET "/v1/billingPeriods/$last/export")" = 200 ] ||
  fail "the export through node b: $(cat "$dir/body")"
numbers=$(jq -r '.invoices[].number' "$dir/body")
count=$(wc -l <<<"$numbers")
[ "$count" -ge 2 ] || fail "last month has $count invoices"
year=$(date -u +%Y)
expected=$(for ((n = 1; n <= count; n++)); do printf 'SB-%s-%06d\n' "$year" "$n"; done)
[ "$numbers" = "$expected" ] || fail "invoice numbers are not gap-free: $numbers"
echo "one node closed $last: $count invoices, numbered without a gap"

# A token revoked through node a fails at once on node b.
me=$(status_of a "$admin_token" GET /v1/me) && [ "$me" = 200 ] || fail "GET /v1/me: $me"
principal=$(jq -r .principalId "$dir/body")
minted=$("$bin" token create --principal "$principal" --endpoint "$(sb_node_url a)") ||
  fail "token create failed: $minted"
token=$(jq -r .token <<<"$minted")
token_id=$(jq -r .id <<<"$minted")
[ "$(status_of b "$token" GET /v1/me)" = 200 ] || fail "the new token fails on node b"
"$bin" token revoke "$token_id" --endpoint "$(sb_node_url a)" >/dev/null || fail "token revoke failed"
[ "$(status_of b "$token" GET /v1/me)" = 401 ] || fail "the revoked token still works on node b"
echo "a token revoked through node a fails at once on node b"

# An activation key rotated through node a works at once on node b; the old
# one too, for its 24 h grace (SPEC §3.1).
line=$(grep 'activation key for stack stack1 ' <<<"$applied") || fail "no key for stack1"
cloud=$(sed -n 's/.*(cloud \([0-9a-f-]*\)).*/\1/p' <<<"$line")
old_key=${line##*: }
# The current hour (its end within the accepted future skew): always in the
# open month, even in the first hours of a month.
hour=$(date -u -d "@$(($(date -u +%s) / 3600 * 3600))" +%Y-%m-%dT%H:%M:%SZ)
next=$(date -u -d "@$(($(date -u +%s) / 3600 * 3600 + 3600))" +%Y-%m-%dT%H:%M:%SZ)
record() {  # id
  printf '{"id":"%s","tenantId":"7d0a3c1e-1b2c-4d5e-8f90-a1b2c3d4e5f6","subscriptionId":"9a000000-0000-0000-0000-000000000001","meterId":"FAB6EB84-500B-4A09-A8CA-7358F8BBAEA5","quantity":1,"usageStartTime":"%s","usageEndTime":"%s"}\n' \
    "$1" "$hour" "$next" >"$dir/$1.ndjson"
}
record before
[ "$(status_of b "$old_key" POST "/v1/stacks/$cloud/usage" "$dir/before.ndjson")" = 200 ] ||
  fail "the first key fails on node b: $(cat "$dir/body")"
rotated=$("$bin" registration activation-key --subscription 22fca121-1e42-8594-8183-9212904a37e8 \
  --resource-group azurestack --name contoso-stack1 --endpoint "$(sb_node_url a)") ||
  fail "rotating the activation key failed: $rotated"
new_key=$(jq -r .activationKey <<<"$rotated")
[ -n "$new_key" ] && [ "$new_key" != null ] && [ "$new_key" != "$old_key" ] ||
  fail "no new key: $rotated"
record after
[ "$(status_of b "$new_key" POST "/v1/stacks/$cloud/usage" "$dir/after.ndjson")" = 200 ] ||
  fail "the new key fails on node b: $(cat "$dir/body")"
[ "$(jq .accepted "$dir/body")" = 1 ] || fail "the new key's record: $(cat "$dir/body")"
record graced
[ "$(status_of b "$old_key" POST "/v1/stacks/$cloud/usage" "$dir/graced.ndjson")" = 200 ] ||
  fail "the old key fails on node b within its grace: $(cat "$dir/body")"
echo "a key rotated through node a works at once on node b (the old one within its grace)"
echo PASS
