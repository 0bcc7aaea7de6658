#!/usr/bin/env bash
# End to end (R10, R11, issue 9): two `stackbill serve` processes on ONE store
# (a SQLite file, or a PostgreSQL database with STACKBILL_TEST_BACKEND=postgres)
# receive overlapping usage batches at the same time — every batch sent to
# both, twice — and every record is counted exactly once. Then a bad line is
# quarantined alone, a body over the records limit is 413, another stack's
# key is 403, and a JSON page that does not parse is 400 naming the byte.
# Usage: usage_two_serve_e2e_test.sh STACKBILL_BINARY WORLD_FILE [RECORDS]
set -euo pipefail
bin=$1
world=$2
records=${3:-4000}
batch=500
# shellcheck source=lib.sh
source "$(dirname "$0")/lib.sh"
sb_nodes_test

sb_init_store

sb_node_start a --max-usage-records 1000
sb_node_start b --max-usage-records 1000
sb_node_wait a
sb_node_wait b
url_a=$(sb_node_url a)
url_b=$(sb_node_url b)

sb_login "$url_a"
applied=$("$bin" world apply "$world") || fail "world apply failed: $applied"
key_line() { grep "activation key for stack $1 " <<<"$applied" || fail "no key for $1"; }
cloud1=$(key_line stack1 | sed -n 's/.*(cloud \([0-9a-f-]*\)).*/\1/p')
key1=$(key_line stack1 | sed -n 's/.*: \([^ ]*\)$/\1/p')
key2=$(key_line stack2 | sed -n 's/.*: \([^ ]*\)$/\1/p')
[ -n "$cloud1" ] && [ -n "$key1" ] && [ -n "$key2" ] || fail "cannot read the activation keys"

# Records of an unregistered tenant (routed to the default subscription),
# hourly over the last days, meter Base VM Size Hours of the built-in catalogue.
meter=FAB6EB84-500B-4A09-A8CA-7358F8BBAEA5
tenant=7d0a3c1e-1b2c-4d5e-8f90-a1b2c3d4e5f6
sub=9a000000-0000-0000-0000-000000000001
base=$(($(date -u +%s) / 3600 * 3600 - 96 * 3600))
hours=()
for ((h = 0; h <= 90; h++)); do hours+=("$(date -u -d "@$((base + h * 3600))" +%Y-%m-%dT%H:%M:%SZ)"); done
make_batch() {  # first count file
  local i start end
  for ((i = $1; i < $1 + $2; i++)); do
    start=${hours[$((i % 90))]}
    end=${hours[$((i % 90 + 1))]}
    printf '{"id":"rec-%d","tenantId":"%s","subscriptionId":"%s","meterId":"%s","quantity":%d.25,"usageStartTime":"%s","usageEndTime":"%s"}\n' \
      "$i" "$tenant" "$sub" "$meter" $((i % 7)) "$start" "$end"
  done >"$3"
}
post() {  # url key file [content-type] → response body on stdout, status in $dir/status
  curl -sS --cacert "$dir/tls/cert.pem" -o - -w '\n%{http_code}' \
    -H "Authorization: Bearer $2" -H "Content-Type: ${4:-application/x-ndjson}" \
    --data-binary "@$3" "$1/v1/stacks/$cloud1/usage"
}

# Overlapping batches: batch k holds records [k*batch/2, k*batch/2 + batch).
echo "sending $records records in overlapping batches of $batch to both servers, twice"
files=()
for ((first = 0; first < records; first += batch / 2)); do
  count=$batch
  ((first + count > records)) && count=$((records - first))
  make_batch "$first" "$count" "$dir/batch-$first.ndjson"
  files+=("$dir/batch-$first.ndjson")
done
n=0
for round in 1 2; do
  for f in "${files[@]}"; do
    post "$url_a" "$key1" "$f" >"$dir/resp-$n-a" &
    post "$url_b" "$key1" "$f" >"$dir/resp-$n-b" &
    n=$((n + 1))
  done
done
wait_jobs=$(jobs -p | grep -v -e "${node_pid[a]}" -e "${node_pid[b]}" || true)
for job in $wait_jobs; do wait "$job" || fail "a curl failed"; done

accepted=0
duplicates=0
for r in "$dir"/resp-*; do
  [ "$(tail -n1 "$r")" = 200 ] || fail "a batch was answered $(tail -n1 "$r"): $(head -c 300 "$r")"
  body=$(head -n -1 "$r")
  accepted=$((accepted + $(jq .accepted <<<"$body")))
  duplicates=$((duplicates + $(jq .duplicates <<<"$body")))
  [ "$(jq .quarantined <<<"$body")" = 0 ] || fail "records were quarantined: $body"
done
echo "accepted $accepted, duplicates $duplicates over $n batches x 2 servers"
[ "$accepted" = "$records" ] || fail "accepted $accepted records, expected exactly $records"
stored=$(sb_sql "SELECT count(*) FROM usage_records")
[ "$stored" = "$records" ] || fail "the store holds $stored records, expected $records"
stack=$(curl -sS --cacert "$dir/tls/cert.pem" -H "Authorization: Bearer $admin_token" \
  "$url_b/v1/stacks/$cloud1")
[ "$(jq .usageRecordsAccepted <<<"$stack")" = "$records" ] ||
  fail "GET /v1/stacks/{cloudId} counts $(jq .usageRecordsAccepted <<<"$stack")"
[ "$(jq -r .lastUsageReceivedAt <<<"$stack")" != null ] || fail "no lastUsageReceivedAt"

# A bad NDJSON line is quarantined alone; the rest is accepted (SPEC §4).
make_batch "$records" 2 "$dir/mixed.ndjson"
printf '{"id":"broken",\n' >>"$dir/mixed.ndjson"
out=$(post "$url_a" "$key1" "$dir/mixed.ndjson")
[ "$(tail -n1 <<<"$out")" = 200 ] || fail "mixed body: $out"
body=$(head -n -1 <<<"$out")
[ "$(jq .accepted <<<"$body")" = 2 ] && [ "$(jq .quarantined <<<"$body")" = 1 ] ||
  fail "mixed body: $body"
[ "$(jq -r '.errors[0].code' <<<"$body")" = MalformedRecord ] || fail "mixed body: $body"
quarantine=$(curl -sS --cacert "$dir/tls/cert.pem" -H "Authorization: Bearer $admin_token" \
  "$url_b/v1/quarantine?cloudId=$cloud1")
[ "$(jq -r '.value[0].rawText' <<<"$quarantine")" = '{"id":"broken",' ] ||
  fail "quarantine: $quarantine"

# More records than --max-usage-records: 413, nothing stored.
make_batch 900000 1001 "$dir/big.ndjson"
out=$(post "$url_a" "$key1" "$dir/big.ndjson")
[ "$(tail -n1 <<<"$out")" = 413 ] || fail "1001 records: $out"
grep -q TooManyRecords <<<"$out" || fail "1001 records: $out"

# Another stack's key: 403. A usage page that does not parse: 400 at a byte.
out=$(post "$url_b" "$key2" "$dir/mixed.ndjson")
[ "$(tail -n1 <<<"$out")" = 403 ] || fail "stack 2's key on stack 1: $out"
printf '{"value":[{"properties":{"id":1}' >"$dir/page.json"
out=$(post "$url_b" "$key1" "$dir/page.json" application/json)
[ "$(tail -n1 <<<"$out")" = 400 ] || fail "unparsable page: $out"
grep -q 'at byte' <<<"$out" || fail "unparsable page: $out"
stored=$(sb_sql "SELECT count(*) FROM usage_records")
[ "$stored" = $((records + 2)) ] || fail "the store holds $stored records after the refusals"

# The CLI twins: a stack sends a record of an unknown meter (quarantined), a
# PlatformAdmin adds the meter, the quarantine is replayed, a record superseded.
gpu=0E1F2A3B-4C5D-4E6F-8A9B-0C1D2E3F4A5B
printf '{"id":"gpu-1","tenantId":"%s","subscriptionId":"%s","meterId":"%s","quantity":3.000,"usageStartTime":"%s","usageEndTime":"%s"}\n' \
  "$tenant" "$sub" "$gpu" "${hours[0]}" "${hours[1]}" >"$dir/gpu.ndjson"
out=$("$bin" usage send "$cloud1" "$dir/gpu.ndjson" --token "$key1") || fail "usage send: $out"
[ "$(jq -r '.errors[0].code' <<<"$out")" = UnknownMeter ] || fail "usage send: $out"
out=$("$bin" quarantine list --cloud-id "$cloud1" --code UnknownMeter) || fail "quarantine list: $out"
[ "$(jq '.value | length' <<<"$out")" = 1 ] || fail "quarantine list: $out"
out=$("$bin" meters add --meter-id "$gpu" --name "GPU Hours" --unit Hours) || fail "meters add: $out"
[ "$(jq -r .custom <<<"$out")" = true ] || fail "meters add: $out"
out=$("$bin" quarantine replay --cloud-id "$cloud1" --code UnknownMeter) || fail "replay: $out"
[ "$(jq .accepted <<<"$out")" = 1 ] || fail "replay: $out"
out=$("$bin" quarantine list --cloud-id "$cloud1" --code UnknownMeter) || fail "quarantine list: $out"
[ "$(jq '.value | length' <<<"$out")" = 0 ] || fail "still quarantined after replay: $out"
sed 's/"quantity":3.000/"quantity":2.75/' "$dir/gpu.ndjson" >"$dir/gpu-fixed.json"
out=$("$bin" usage supersede "$cloud1" --record "$dir/gpu-fixed.json" --reason "GPU meter fix") ||
  fail "supersede: $out"
[ "$(jq -r .before.quantity <<<"$out") $(jq -r .after.quantity <<<"$out")" = "3 2.75" ] ||
  fail "supersede: $out"
out=$("$bin" usage supersede "$cloud1" --record "$dir/gpu-fixed.json" --reason "x" --token "$key1" 2>&1) &&
  fail "a stack key superseded a record: $out"

echo PASS
