#!/usr/bin/env bash
# End to end: init → dev-cert → serve (HTTPS, port 0) → world apply of the demo
# world twice (the second run creates nothing) → a few CLI twins, through a
# profile written by `login` → SIGTERM.
set -euo pipefail
bin=$1
world=$2
dir=$(mktemp -d)
server_pid=
cleanup() {
  if [ -n "$server_pid" ] && kill -0 "$server_pid" 2>/dev/null; then
    kill -TERM "$server_pid"
    wait "$server_pid" || true
  fi
  rm -rf "$dir"
}
trap cleanup EXIT
fail() {
  echo "FAIL: $*"
  [ -f "$dir/serve.log" ] && tail -20 "$dir/serve.log"
  exit 1
}
source "$(dirname "$0")/lib.sh"
export STACKBILL_PROFILE="$dir/profile.json"
unset STACKBILL_ENDPOINT STACKBILL_TOKEN STACKBILL_CA_FILE

sb_init_store

"$bin" serve --db "$store" --port 0 --port-file "$dir/port" \
  --tls-cert "$dir/tls/cert.pem" --tls-key "$dir/tls/key.pem" >"$dir/serve.log" 2>&1 &
server_pid=$!
sb_wait_for_port "$dir/port" "$server_pid" 30 serve
endpoint="https://127.0.0.1:$(cat "$dir/port")"

sb_login "$endpoint"
[ "$(stat -c %a "$STACKBILL_PROFILE")" = 600 ] || fail "profile mode is not 600"

first=$("$bin" world apply "$world") || fail "first world apply failed: $first"
echo "$first"
grep -q '^created   registration contoso-stack1' <<<"$first" || fail "stack 1 not registered"
grep -q '^created   customer subscription Woodgrove on Litware' <<<"$first" ||
  fail "Woodgrove not registered on stack 2"
grep -q 'activation key for stack stack2' <<<"$first" || fail "no activation key printed"
grep -Eq 'token for registrar@IURContosoCSP.onmicrosoft.com: sbt_' <<<"$first" ||
  fail "no token printed for the registrar"

audit_entries() {
  local out
  out=$("$bin" audit list) || fail "audit list"
  grep -c '"action"' <<<"$out"
}
before=$(audit_entries)
second=$("$bin" world apply "$world") || fail "second world apply failed: $second"
after=$(audit_entries)
[ "$before" = "$after" ] || fail "the second apply wrote $((after - before)) audit entries"
echo "audit entries before and after the second apply: $before, $after"
grep -Eq '^world demo: 0 created, [1-9][0-9]* unchanged' <<<"$second" ||
  fail "second apply changed something: $(tail -1 <<<"$second")"
grep -q 'Secrets issued' <<<"$second" && fail "second apply issued secrets"

# CLI twins through the profile. (Output is captured before grep -q reads it:
# with pipefail, a grep that stops early would fail the writer with SIGPIPE.)
expect() {  # expect PATTERN WHAT COMMAND...
  local pattern=$1 what=$2 out
  shift 2
  out=$("$bin" "$@") || fail "$what: stackbill $* failed"
  grep -Eq -- "$pattern" <<<"$out" || fail "$what: no /$pattern/ in: $(head -c 600 <<<"$out")"
}
expect '"parentPartnerId": "tailspin"' "partner show" partner show litware
expect '"id": "proseware"' "partner list" partner list
expect '^USD +proseware +indirectReseller' "partner list as a table" partner list -o table
expect '"multiTenant": true' "stack list" stack list
# The APSS subscription the registrar owns, as the first run reported it.
apss=$(sed -n 's|^created   role Owner at /subscriptions/\([0-9a-f-]*\) for registrar@.*|\1|p' <<<"$first")
[ -n "$apss" ] || fail "no Owner role for the registrar in the first run"
expect '"offerType": "APSS"' "subscription show" subscription show "$apss"
expect "\"subscriptionId\": \"$apss\"" "subscription list" subscription list
expect '"name": "contoso-stack1"' "registration list" registration list --subscription "$apss"
cs=$("$bin" customer-subscription list --subscription "$apss" --resource-group azurestack \
  --registration contoso-stack1) || fail "customer-subscription list"
[ "$(grep -c '"tenantId"' <<<"$cs")" = 2 ] || fail "expected 2 customer subscriptions: $cs"
expect '"action"' "audit list" audit list --first-page-only

# stack token → registration put/show/activation-key/delete; R3 as "code: message".
cloud1=$(sed -n 's/^created   registration contoso-stack1 of stack stack1 (cloud \([0-9a-f-]*\)).*/\1/p' <<<"$first")
[ -n "$cloud1" ] || fail "no cloudId for stack 1 in the first run"
"$bin" stack token --cloud-id "$cloud1" --billing-model PayAsYouUse --multi-tenant \
  --out "$dir/stack1.token" 2>/dev/null || fail "stack token"
[ "$(stat -c %a "$dir/stack1.token")" = 600 ] || fail "token file mode is not 600"
if "$bin" registration put --subscription "$apss" --resource-group other --name again \
  --registration-token-file "$dir/stack1.token" >/dev/null 2>"$dir/err"; then
  fail "registering stack 1 twice worked"
fi
grep -q '^CloudAlreadyRegistered: ' "$dir/err" || fail "R3 error not printed: $(cat "$dir/err")"
"$bin" stack token --cloud-id 3b7c6a2e-0d5f-4c1a-9e8b-7f6a5d4c3b2a --billing-model PayAsYouUse \
  --out "$dir/stack3.token" 2>/dev/null || fail "stack token 3"
expect '"cloudId": "3b7c6a2e-0d5f-4c1a-9e8b-7f6a5d4c3b2a"' "registration put" registration put \
  --subscription "$apss" --resource-group rg3 --name stack3 \
  --registration-token "$(cat "$dir/stack3.token")"
expect '"name": "stack3"' "registration show" registration show --subscription "$apss" \
  --resource-group rg3 --name stack3
expect '"activationKey": "' "registration activation-key" registration activation-key \
  --subscription "$apss" --resource-group rg3 --name stack3
"$bin" registration delete --subscription "$apss" --resource-group rg3 --name stack3 \
  >/dev/null || fail "registration delete"

# Identity twins: directory, principal, token, role.
expect '"id": "0f0e0d0c-0b0a-4908-8706-050403020100"' "directory create" directory create \
  --id 0f0e0d0c-0b0a-4908-8706-050403020100 --display-name Scratch --domain scratch.example
expect 'scratch.example' "directory show" directory show 0f0e0d0c-0b0a-4908-8706-050403020100
expect 'scratch.example' "directory list" directory list
principal=$("$bin" principal create --directory 0f0e0d0c-0b0a-4908-8706-050403020100 \
  --name bot@scratch.example --kind servicePrincipal) || fail "principal create"
object_id=$(sed -n 's/.*"objectId": "\([0-9a-f-]*\)".*/\1/p' <<<"$principal")
[ -n "$object_id" ] || fail "principal create printed no objectId: $principal"
expect '"name": "bot@scratch.example"' "principal show" principal show "$object_id"
expect '"role": "Reader"' "role assign" role assign --id scratch-reader --principal "$object_id" \
  --role Reader --scope "/subscriptions/$apss"
expect 'scratch-reader' "role list" role list --principal "$object_id"
"$bin" role remove scratch-reader >/dev/null || fail "role remove"
minted=$("$bin" token create --principal "$object_id" --expires-in-hours 1) || fail "token create"
token_id=$(sed -n 's/.*"id": "\([^"]*\)".*/\1/p' <<<"$minted")
bot_token=$(sed -n 's/.*"token": "\([^"]*\)".*/\1/p' <<<"$minted")
"$bin" token revoke "$token_id" >/dev/null || fail "token revoke"
if "$bin" stack list --token "$bot_token" 2>/dev/null; then fail "a revoked token worked"; fi
expect '"billingModel": "Ruggedized"' "stack approve" stack approve \
  9c8b7a6f-5e4d-4c3b-8a29-180716253443 --billing-model Ruggedized

# Errors print "code: message" and exit 1.
if "$bin" partner show no-such-partner 2>"$dir/err"; then fail "showing a missing partner worked"; fi
grep -Eq '^[A-Za-z]+: ' "$dir/err" || fail "error not as code: message: $(cat "$dir/err")"
if "$bin" partner list --token sbt_wrong 2>"$dir/err"; then fail "a wrong token worked"; fi

kill -TERM "$server_pid"
wait "$server_pid" || fail "serve did not exit cleanly on SIGTERM"
server_pid=
echo "PASS"
