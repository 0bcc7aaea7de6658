# shellcheck shell=bash
# bench/baseline/pg_server.sh: sourced by bench/pg_baseline.sh and
# bench/baseline/postgresql.sh; not run on its own. A throw-away PostgreSQL 15 server
# for one benchmark run: initdb in a fresh directory, a free port on
# 127.0.0.1, default durability. The caller defines log MESSAGE and die
# MESSAGE, has `set -euo pipefail`, and calls pg_server_traps before
# pg_server_init.
#
#   pg_server_traps         the EXIT/INT/TERM traps: kill the PIDs in session_pids,
#                           stop the server, its log's tail on failure, remove pg_tmp.
#   pg_server_init PREFIX   makes pg_tmp=$(mktemp -d ${TMPDIR:-/tmp}/PREFIX.XXXXXX) and
#                           pgdata=$pg_tmp/pgdata; as root, initdb/pg_ctl/postgres run as
#                           the `postgres` user (as_pg) and it owns pg_tmp. Refuses a
#                           tmpfs (fsync would cost nothing) unless PG_BASELINE_ALLOW_TMPFS=1.
#   pg_server_start CONF    initdb, the settings below plus CONF (postgresql.conf lines),
#                           start; exports PGHOST, PGPORT, PGUSER=bench, PGDATABASE=bench
#                           (created) and a UTC session.
#   pg_server_stop          stops the server when it was started (a warning if it cannot).
#   psql_ ARGS…             psql without ~/.psqlrc, quiet, stopping at the first error.
#   pg_server_log_tail      the server log's last lines on stderr.

pgbin=/usr/lib/postgresql/15/bin
pg_tmp=
pgdata=
pg_port=
pg_server_started=0

as_pg() { "$@"; }

pg_server_init() {
  local tool
  for tool in initdb pg_ctl postgres psql; do
    [[ -x $pgbin/$tool ]] ||
      die "PostgreSQL 15 not found: $pgbin/$tool is missing (apt-get install postgresql-15)"
  done
  pg_tmp=$(mktemp -d "${TMPDIR:-/tmp}/$1.XXXXXX")
  pgdata=$pg_tmp/pgdata
  if [[ $(id -u) -eq 0 ]]; then
    id postgres >/dev/null 2>&1 || die "running as root, but there is no 'postgres' user to run the server"
    chown postgres: "$pg_tmp"
    as_pg() { runuser -u postgres -- "$@"; }
    as_pg test -w "$pg_tmp" || die "user postgres cannot write to $pg_tmp (is a parent directory closed?)"
  fi
  local fs_type
  fs_type=$(stat -f -c %T "$pg_tmp")
  if [[ $fs_type == tmpfs || $fs_type == ramfs ]]; then
    [[ ${PG_BASELINE_ALLOW_TMPFS:-0} == 1 ]] ||
      die "$pg_tmp is on $fs_type, where fsync costs nothing; set TMPDIR to a directory on disk (or PG_BASELINE_ALLOW_TMPFS=1)"
    log "warning: $pg_tmp is on $fs_type: fsync is free, the figures are not like-for-like"
  fi
}

pg_server_start() {
  local p try
  p=$((20000 + RANDOM % 40000))
  for ((try = 0; try < 200; try++)); do
    if ! (echo >"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then
      pg_port=$p
      break
    fi
    p=$((p >= 60000 ? 20000 : p + 1))
  done
  [[ -n $pg_port ]] || die "no free TCP port found on 127.0.0.1"

  log "initdb in $pgdata"
  (cd "$pg_tmp" && as_pg "$pgbin/initdb" -D "$pgdata" -U bench --auth=trust -E UTF8 --locale=C \
    --no-instructions >"$pg_tmp/initdb.log" 2>&1) || {
    cat "$pg_tmp/initdb.log" >&2
    die "initdb failed"
  }
  as_pg mkdir "$pg_tmp/sock"
  local socket_dir=${pg_tmp//\'/\'\'}/sock
  cat >>"$pgdata/postgresql.conf" <<EOF

# bench/baseline/pg_server.sh: default durability
listen_addresses = '127.0.0.1'
port = $pg_port
unix_socket_directories = '$socket_dir'
fsync = on
synchronous_commit = on
full_page_writes = on
timezone = 'UTC'
datestyle = 'iso, ymd'
$1
EOF

  log "starting PostgreSQL 15 on 127.0.0.1:$pg_port"
  pg_server_started=1
  (cd "$pg_tmp" && as_pg "$pgbin/pg_ctl" -D "$pgdata" -l "$pg_tmp/server.log" -w -t 60 start >/dev/null) ||
    die "the server did not start"

  export PGHOST=127.0.0.1 PGPORT=$pg_port PGUSER=bench PGDATABASE=bench
  export PGTZ=UTC PGDATESTYLE=ISO PGCLIENTENCODING=UTF8 PGOPTIONS=
  unset PGSERVICE PGSERVICEFILE PGPASSFILE PGSSLMODE PGHOSTADDR
  psql_ -d postgres -c "CREATE DATABASE bench"
}

psql_() { "$pgbin/psql" -X -q -v ON_ERROR_STOP=1 "$@"; }

pg_server_stop() {
  if ((pg_server_started)); then
    (cd "$pg_tmp" && as_pg "$pgbin/pg_ctl" -D "$pgdata" -m fast -w stop >/dev/null 2>&1) ||
      log "warning: could not stop the server in $pgdata"
    pg_server_started=0
  fi
}

pg_server_log_tail() {
  if [[ -n $pg_tmp && -f $pg_tmp/server.log ]]; then
    log "server log (last lines):"
    tail -n 20 "$pg_tmp/server.log" >&2 || true
  fi
}

session_pids=()
pg_server_cleanup() {
  local rc=$?
  trap - EXIT INT TERM
  for pid in "${session_pids[@]}"; do
    kill "$pid" 2>/dev/null || true
  done
  pg_server_stop
  ((rc == 0)) || pg_server_log_tail
  [[ -z $pg_tmp ]] || rm -rf "$pg_tmp"
  exit "$rc"
}

pg_server_traps() {
  trap pg_server_cleanup EXIT
  trap 'exit 130' INT
  trap 'exit 143' TERM
}
