#!/usr/bin/env bash
# End to end: `stackbill init` on a fresh file prints a token once, creates the
# store with mode 0600, refuses to run twice, and `meters list` reads it back.
set -euo pipefail
bin=$1
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
fail() { echo "FAIL: $*"; exit 1; }

out=$("$bin" init --db "$dir/s.db" --admin-name root@platform.example)
echo "$out"
grep -Eq '^token: +sbt_[A-Za-z0-9_-]{43}$' <<<"$out" || fail "init printed no token"
grep -q 'root@platform.example' <<<"$out" || fail "init did not name the admin"
[ "$(stat -c %a "$dir/s.db")" = 600 ] || fail "store file mode is $(stat -c %a "$dir/s.db"), not 600"
token=$(sed -n 's/^token: *//p' <<<"$out")
grep -q "$token" "$dir/s.db" && fail "the plaintext token is in the database"

if "$bin" init --db "$dir/s.db" 2>"$dir/err"; then fail "a second init succeeded"; fi
grep -q "already exists" "$dir/err" || fail "second init did not say why: $(cat "$dir/err")"

meters=$("$bin" meters list --db "$dir/s.db")
grep -q 'fab6eb84-500b-4a09-a8ca-7358f8bbaea5  Compute' <<<"$meters" || fail "Base VM meter missing"
grep -q '^85 of 85 meters$' <<<"$meters" || fail "expected 85 meters: $(tail -1 <<<"$meters")"

if "$bin" meters list --db "$dir/missing.db" 2>/dev/null; then fail "listing a missing store succeeded"; fi
echo "PASS"
