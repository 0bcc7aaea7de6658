#!/usr/bin/env bash
# bench/pg_baseline.sh DATA_DIR [SESSIONS]
#
# The PostgreSQL baseline for the ingest benchmark: how fast a stock
# PostgreSQL 15 takes the same usage records through the classic bulk-load
# pipeline, "COPY into a staging table, then INSERT ... ON CONFLICT DO NOTHING
# into a table keyed on the record identity".
#
# DATA_DIR holds one sub-folder per stack, each with a `cloud-id` file (the
# stack's cloud GUID) and NDJSON files `*.ndjson` of usage records. SESSIONS
# (default 4) is the number of concurrent client sessions.
#
# What is measured (the timed part): SESSIONS concurrent psql sessions over TCP
# to 127.0.0.1, each running one transaction
#     BEGIN; TRUNCATE staging_i; COPY staging_i FROM STDIN;
#     INSERT INTO usage_records SELECT ... FROM staging_i ON CONFLICT DO NOTHING;
#     COMMIT;
# Wall time runs from the start of the first session to the end of the last.
# The COPY parses every field into its SQL type (uuid, numeric(25,10),
# timestamptz), the INSERT computes the identity (the first 16 bytes of the
# SHA-256 of the natural key) and dedupes against the primary key. Then the
# whole data set is sent again (a full resend: every row conflicts), which
# measures the cost of dedupe alone.
#
# Why it is like-for-like with the system under test:
#  * durability: default fsync=on, synchronous_commit=on, full_page_writes=on;
#    a COMMIT that returned survives kill -9, as the system's acknowledged
#    records do. The final table is a normal (logged) table; only the staging
#    tables are UNLOGGED, which is what a real bulk loader would do.
#  * dedupe: PRIMARY KEY (cloud_id, identity), identity from the natural key
#    (subscriptionId, meterId, resourceUri, usageStartTime, usageEndTime), as
#    the system's UNIQUE (cloud_id, identity). The key's parts are joined
#    with a NUL byte as bytea (PostgreSQL text cannot hold chr(0), so
#    concat_ws(chr(0), ...) is not possible), which no part can contain.
#  * exactness: quantity goes into numeric(25,10) from the exact text of the
#    JSON number, never through floating point.
#  * the data goes over a TCP connection, and the server parses it.
# What is NOT included, and favours PostgreSQL: the JSON parsing (done
# untimed, before, into COPY text files), validation, tenant resolution and
# routing, the content hash, and the system's secondary indexes.
#
# The records are split into SESSIONS parts by a hash of their identity, so
# that duplicates always fall in the same session: concurrent transactions
# never wait on (or deadlock over) each other's uncommitted keys — PostgreSQL's
# best case.
#
# Server settings beyond the defaults (modest): shared_buffers=256MB (default
# 128MB) and max_wal_size=4GB (default 1GB, so no checkpoint is forced in the
# middle of a run); everything else, autovacuum included, is default. Between
# the runs (untimed) the script runs VACUUM ANALYZE and CHECKPOINT, so the
# resend starts from a clean, checkpointed table.
#
# The server runs in a fresh directory under ${TMPDIR:-/tmp} (set TMPDIR to put
# it on the same disk as the system under test's store; a tmpfs would make
# fsync free and the comparison meaningless, and is refused unless
# PG_BASELINE_ALLOW_TMPFS=1). As root, initdb/pg_ctl run as the `postgres`
# user. The server is stopped and the directory removed on exit, also on
# failure.
#
# Output: progress on stderr; on stdout one JSON line
#   {"system":"postgresql-copy-on-conflict","sessions":N,"records":R,
#    "seconds":S,"records_per_second":X,"resend_seconds":S2,
#    "resend_records_per_second":X2,"stored":C}
# where records counts the records sent (duplicates inside the data set
# included) and stored the rows in usage_records, which must equal the number
# of distinct (cloud, identity) keys in the data.
#
# Needs: PostgreSQL 15 in /usr/lib/postgresql/15/bin, jq (1.6 is fine), perl.

set -euo pipefail

usage() {
  echo "usage: $0 DATA_DIR [SESSIONS]" >&2
  exit 2
}
log() { echo "pg_baseline: $*" >&2; }
die() {
  log "error: $*"
  exit 1
}

[[ $# -ge 1 && $# -le 2 ]] || usage
data_dir=$1
sessions=${2:-4}
# PG_BASELINE_SCHEMA: primary-key (the table keyed on the identity alone) or
# store-indexes (plus the three secondary indexes of stackbill's own table).
schema=${PG_BASELINE_SCHEMA:-primary-key}
case $schema in primary-key | store-indexes) ;; *) die "PG_BASELINE_SCHEMA: primary-key or store-indexes" ;; esac
[[ $sessions =~ ^[1-9][0-9]*$ ]] || die "SESSIONS must be a positive integer, not '$sessions'"
[[ -d $data_dir ]] || die "no such directory: $data_dir"

# shellcheck source=bench/baseline/pg_server.sh
source "$(dirname "$0")/baseline/pg_server.sh"
command -v jq >/dev/null || die "jq is required"
command -v perl >/dev/null || die "perl is required"

# The stacks: every sub-folder with a cloud-id file.
stack_dirs=()
for d in "$data_dir"/*/; do
  d=${d%/}
  [[ -f $d/cloud-id ]] || {
    log "skipping $d: no cloud-id file"
    continue
  }
  stack_dirs+=("$d")
done
((${#stack_dirs[@]} > 0)) || die "no stack folders (with a cloud-id file) in $data_dir"

# --- The temporary directory, the server's user, the cleanup ---------------

pg_server_traps
pg_server_init pg_baseline
tmp=$pg_tmp

# --- Untimed preparation: NDJSON -> COPY text files, one per session --------
#
# jq 1.6 reads JSON numbers as doubles, so the first stage (perl) rewrites the
# "quantity": NUMBER member into "__pg_baseline_quantity": "NUMBER" (its exact
# digits, as a string) before jq sees it; jq refuses a record that still has a
# top-level "quantity" (not a number, or a nested key was rewritten) or has no
# rewritten one. The first stage also injects the stack's cloud id. jq then
# decodes the strings, reads resourceUri out of instanceData and writes @tsv,
# which escapes \ TAB LF CR exactly as COPY's text format wants. The last stage
# (perl) sets an absent tenantId to \N, normalises the natural key as the
# server will (GUIDs in any spelling, times to UTC microseconds), counts the
# distinct keys and deals each record to a session by the key's hash.

log "converting ${#stack_dirs[@]} stack folder(s) from $data_dir into $sessions session file(s)"
prep_start=$(date +%s.%N)

# shellcheck disable=SC2016  # perl and jq programs, not shell
inject_perl='
use strict; use warnings;
my $n = 0;
for my $dir (@ARGV) {
  open my $c, "<", "$dir/cloud-id" or die "$dir/cloud-id: $!\n";
  my $cloud = <$c> // ""; close $c;
  $cloud =~ s/^\s+|\s+$//g;
  $cloud =~ /^\{?[0-9A-Fa-f]{8}-?(?:[0-9A-Fa-f]{4}-?){3}[0-9A-Fa-f]{12}\}?$/
    or die "$dir/cloud-id: not a GUID: \"$cloud\"\n";
  my @files = sort glob("\Q$dir\E/*.ndjson");
  warn "pg_baseline: warning: no *.ndjson files in $dir\n" unless @files;
  for my $f (@files) {
    open my $in, "<", $f or die "$f: $!\n";
    while (my $line = <$in>) {
      $line =~ s/\r?\n\z//;
      next if $line =~ /^\s*$/;
      # The top-level "quantity": a key can only follow { or , outside a string.
      $line =~ s/([{,]\s*)"quantity"(\s*:\s*)(-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][-+]?[0-9]+)?)(?=\s*[,}])/$1"__pg_baseline_quantity"$2"$3"/;
      $line =~ s/^\s*\{/{"__pg_baseline_cloud":"$cloud",/ or die "$f:$.: not a JSON object\n";
      print $line, "\n";
      $n++;
    }
    close $in;
  }
}
'
# shellcheck disable=SC2016
tsv_jq='
def str(k): if (.[k] | type) == "string" then .[k]
            else error("record without a string \(k): \(tojson)") end;
[ .__pg_baseline_cloud,
  (if .tenantId == null then "" else str("tenantId") end),
  str("subscriptionId"),
  str("meterId"),
  (if has("quantity") or (has("__pg_baseline_quantity") | not)
   then error("quantity is not a plain top-level JSON number: \(tojson)")
   else .__pg_baseline_quantity end),
  str("usageStartTime"),
  str("usageEndTime"),
  (str("instanceData") | fromjson | .["Microsoft.Resources"].resourceUri // ""
   | if type == "string" then . else error("resourceUri is not a string") end),
  .instanceData
] | @tsv
'
# shellcheck disable=SC2016
split_perl='
use strict; use warnings;
use Digest::MD5 qw(md5);
use Time::Local qw(timegm_modern);
my ($prefix, $sessions, $stats) = @ARGV;
my @out;
for my $i (1 .. $sessions) {
  open $out[$i - 1], ">", "$prefix$i.tsv" or die "$prefix$i.tsv: $!\n";
}
my (%seen, %times, $records, $distinct);
sub guid { my $g = lc shift; $g =~ tr/{}-//d; return $g }
# A time as the server reads it: UTC (no zone means the session zone, UTC),
# microseconds, rounded.
sub utc {
  my $s = shift;
  return $times{$s} //= do {
    $s =~ /^(\d{4})-(\d\d)-(\d\d)[Tt ](\d\d):(\d\d):(\d\d)(?:\.(\d+))?(?:([Zz])|([-+])(\d\d)(?::?(\d\d))?)?$/
      or die "not an ISO 8601 time: $s\n";
    my $t = timegm_modern($6, $5, $4, $3, $2 - 1, $1);
    $t -= ($9 eq "+" ? 1 : -1) * ($10 * 3600 + ($11 // 0) * 60) if defined $9;
    my $us = 0;
    if (defined $7) { my $f = substr($7 . "0000000", 0, 7); $us = int((substr($f, 0, 6) * 10 + substr($f, 6, 1) + 5) / 10) }
    $t * 1000000 + $us;
  };
}
while (my $line = <STDIN>) {
  chomp $line;
  my @f = split /\t/, $line, -1;
  @f == 9 or die "internal: expected 9 fields, got " . scalar(@f) . "\n";
  $f[1] = "\\N" if $f[1] eq "";
  my $key = md5(join "\0", guid($f[0]), guid($f[2]), guid($f[3]), $f[7], utc($f[5]), utc($f[6]));
  $records++;
  $distinct++ unless $seen{$key}++;
  print { $out[unpack("N", $key) % $sessions] } join("\t", @f), "\n";
}
close $_ or die "write: $!\n" for @out;
open my $st, ">", $stats or die "$stats: $!\n";
printf $st "%d %d\n", $records // 0, $distinct // 0;
close $st;
'

perl -e "$inject_perl" "${stack_dirs[@]}" |
  jq -r "$tsv_jq" |
  perl -e "$split_perl" "$tmp/session-" "$sessions" "$tmp/stats"
read -r records distinct <"$tmp/stats"
((records > 0)) || die "no records in $data_dir"
prep_end=$(date +%s.%N)
log "$records records ($distinct distinct) converted in $(awk -v a="$prep_start" -v b="$prep_end" 'BEGIN { printf "%.1f", b - a }') s"
for ((i = 1; i <= sessions; i++)); do
  log "  session $i: $(wc -l <"$tmp/session-$i.tsv") records"
done

# --- The server ----------------------------------------------------------

sq() { printf "'%s'" "${1//\'/\'\'}"; }
pg_server_start "
# pg_baseline.sh: modest memory
shared_buffers = 256MB
max_wal_size = 4GB"
log "schema: $schema"

# --- Schema --------------------------------------------------------------

{
  cat <<'EOF'
CREATE TABLE usage_records (
  cloud_id        uuid NOT NULL,
  identity        bytea NOT NULL,
  tenant_id       uuid,
  subscription_id uuid NOT NULL,
  meter_id        uuid NOT NULL,
  quantity        numeric(25,10) NOT NULL,
  usage_start     timestamptz NOT NULL,
  usage_end       timestamptz NOT NULL,
  resource_uri    text NOT NULL,
  instance_data   text NOT NULL,
  reported_at     timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (cloud_id, identity)
);
EOF
  if [ "$schema" = store-indexes ]; then
    # The secondary indexes stackbill's usage_records carries (by billed
    # subscription and usage start, by reported time, by cloud and usage
    # start), which its queries and re-routing need; the subscription stands
    # in for the billed one.
    cat <<'EOF'
CREATE INDEX usage_by_billed_subscription ON usage_records (subscription_id, usage_start);
CREATE INDEX usage_by_reported ON usage_records (reported_at);
CREATE INDEX usage_by_cloud_start ON usage_records (cloud_id, usage_start);
EOF
  fi
  for ((i = 1; i <= sessions; i++)); do
    cat <<EOF
CREATE UNLOGGED TABLE staging_$i (
  cloud_id uuid, tenant_id uuid, subscription_id uuid, meter_id uuid,
  quantity numeric(25,10), usage_start timestamptz, usage_end timestamptz,
  resource_uri text, instance_data text
);
EOF
  done
} | psql_

for ((i = 1; i <= sessions; i++)); do
  cat >"$tmp/session-$i.sql" <<EOF
BEGIN;
TRUNCATE staging_$i;
\\copy staging_$i FROM $(sq "$tmp/session-$i.tsv")
INSERT INTO usage_records (cloud_id, identity, tenant_id, subscription_id, meter_id,
                           quantity, usage_start, usage_end, resource_uri, instance_data)
SELECT cloud_id,
       substring(sha256(convert_to(subscription_id::text, 'UTF8') || '\\x00'::bytea ||
                        convert_to(meter_id::text, 'UTF8') || '\\x00'::bytea ||
                        convert_to(resource_uri, 'UTF8') || '\\x00'::bytea ||
                        convert_to(usage_start::text, 'UTF8') || '\\x00'::bytea ||
                        convert_to(usage_end::text, 'UTF8')) FROM 1 FOR 16),
       tenant_id, subscription_id, meter_id, quantity, usage_start, usage_end,
       resource_uri, instance_data
FROM staging_$i
ON CONFLICT DO NOTHING;
COMMIT;
EOF
done

# --- Timed part ----------------------------------------------------------

# Runs the SESSIONS sessions concurrently; sets elapsed to the wall seconds.
elapsed=
run_sessions() {
  local t0 t1 i rc=0
  psql_ -c "CHECKPOINT" >&2
  session_pids=()
  t0=$(date +%s.%N)
  for ((i = 1; i <= sessions; i++)); do
    psql_ -f "$tmp/session-$i.sql" >"$tmp/session-$i.out" 2>&1 &
    session_pids+=("$!")
  done
  for i in "${!session_pids[@]}"; do
    if ! wait "${session_pids[$i]}"; then
      rc=1
      log "session $((i + 1)) failed:"
      cat "$tmp/session-$((i + 1)).out" >&2
    fi
  done
  t1=$(date +%s.%N)
  session_pids=()
  ((rc == 0)) || die "a session failed"
  elapsed=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.3f", b - a }')
}
rate() { awk -v n="$records" -v s="$1" 'BEGIN { printf "%.0f", (s > 0 ? n / s : 0) }'; }
stored_rows() { psql_ -A -t -c "SELECT count(*) FROM usage_records"; }

# timed_run N WHAT: one timed pass of every session; sets elapsed and checks
# that the table holds each distinct record once.
timed_run() {
  log "run $1: $sessions session(s), $records records$2"
  run_sessions
  local rows
  rows=$(stored_rows)
  log "run $1: $elapsed s, $(rate "$elapsed") records/s, $rows rows stored"
  ((rows == distinct)) || die "after run $1 usage_records holds $rows rows, the data has $distinct distinct records"
  stored=$rows
}

timed_run 1 ""
seconds=$elapsed
psql_ -c "VACUUM (ANALYZE) usage_records"
timed_run 2 " (full resend, every row conflicts)"
resend_seconds=$elapsed

printf '{"system":"postgresql-copy-on-conflict","schema":"%s","sessions":%d,"records":%d,"seconds":%s,"records_per_second":%s,"resend_seconds":%s,"resend_records_per_second":%s,"stored":%d}\n' \
  "$schema" "$sessions" "$records" "$seconds" "$(rate "$seconds")" "$resend_seconds" "$(rate "$resend_seconds")" "$stored"
