#!/usr/bin/env bash
# tests/postgres/server.sh start DIR | stop DIR
#
# A throw-away PostgreSQL 15 server for the PostgreSQL store tests (the ctest
# fixture postgres_server: src/store/postgres/CMakeLists.txt).
#
#   start DIR  initdb in a new directory under ${TMPDIR:-/tmp} (named in
#              DIR/server-dir: the build tree may lie under a directory the
#              `postgres` user cannot enter, such as /root) with trust
#              authentication, superuser `stackbill`, UTF8, locale C, settings
#              for tests (no fsync: a crash of the machine loses the test data,
#              which is thrown away anyway), listening on 127.0.0.1 only, on a
#              free port, its socket beside the data; creates the database
#              stackbill_test and writes its URI,
#              postgresql://stackbill@127.0.0.1:PORT/stackbill_test, to DIR/dsn
#              (last, so that DIR/dsn means "ready"). A server left running by
#              an earlier start with this DIR is stopped first.
#   stop DIR   stops the server (pg_ctl -m fast) and removes its directory and
#              DIR. Nothing to do when DIR does not exist.
#
# DIR is ours while it holds the marker file .stackbill-postgres-test: the
# script refuses to reuse or remove a directory without it that is not empty.
# As root, initdb and pg_ctl run as the `postgres` user (initdb refuses root),
# which then owns the server's directory.
#
# Environment: STACKBILL_PGBIN overrides /usr/lib/postgresql/15/bin.
set -euo pipefail

pgbin=${STACKBILL_PGBIN:-/usr/lib/postgresql/15/bin}
marker=.stackbill-postgres-test

log() { printf 'postgres server: %s\n' "$*" >&2; }
die() {
  log "error: $*"
  exit 1
}

usage() { die "usage: $0 start DIR | stop DIR"; }

as_pg() { "$@"; }
if [[ $(id -u) -eq 0 ]]; then
  as_pg() { runuser -u postgres -- "$@"; }
fi

# Whether DIR may be used (created, reused, removed) by this script.
is_ours() {
  local dir=$1
  [[ ! -e $dir ]] && return 0
  [[ -d $dir ]] || return 1
  [[ -e $dir/$marker ]] && return 0
  [[ -z $(ls -A "$dir") ]]
}

# The server's own directory of DIR ("" when none was made).
server_dir() { cat "$1/server-dir" 2>/dev/null || true; }

# Stops the server of DIR, if one runs.
stop_server() {
  local data
  data=$(server_dir "$1")
  [[ -n $data && -f $data/pgdata/postmaster.pid ]] || return 0
  (cd "$data" && as_pg "$pgbin/pg_ctl" -D "$data/pgdata" -m fast -w -t 60 stop >/dev/null 2>&1) ||
    (cd "$data" && as_pg "$pgbin/pg_ctl" -D "$data/pgdata" -m immediate -w -t 60 stop >/dev/null 2>&1) ||
    [[ ! -f $data/pgdata/postmaster.pid ]] ||
    die "could not stop the server in $data/pgdata"
}

# Stops the server of DIR and removes its directory and DIR.
remove() {
  local data
  stop_server "$1"
  data=$(server_dir "$1")
  [[ -z $data || ! -e $data/$marker ]] || rm -rf "$data"
  rm -rf "$1"
}

# A TCP port on 127.0.0.1 that nothing accepts connections on (a race with
# other processes remains: start tries again on another port).
free_port() {
  local p try
  p=$((20000 + RANDOM % 40000))
  for ((try = 0; try < 200; try++)); do
    if ! (echo >"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then
      echo "$p"
      return 0
    fi
    p=$((p >= 60000 ? 20000 : p + 1))
  done
  return 1
}

start() {
  local dir=$1 tool
  for tool in initdb pg_ctl postgres createdb; do
    [[ -x $pgbin/$tool ]] ||
      die "PostgreSQL 15 not found: $pgbin/$tool is missing (apt-get install postgresql-15)"
  done
  is_ours "$dir" || die "$dir exists and was not made by this script; refusing to use it"
  if [[ -e $dir ]]; then
    log "removing the earlier server of $dir"
    remove "$dir"
  fi
  mkdir -p "$dir"
  dir=$(cd "$dir" && pwd)
  touch "$dir/$marker"
  local data
  data=$(mktemp -d "${TMPDIR:-/tmp}/stackbill-postgres-test.XXXXXX")
  touch "$data/$marker"
  echo "$data" >"$dir/server-dir"
  if [[ $(id -u) -eq 0 ]]; then
    id postgres >/dev/null 2>&1 || die "running as root, but there is no 'postgres' user"
    chown postgres: "$data"
    as_pg test -w "$data" || die "user postgres cannot write to $data (is a parent directory closed?)"
  fi

  (cd "$data" && as_pg "$pgbin/initdb" -D "$data/pgdata" -U stackbill --auth=trust -E UTF8 \
    --locale=C --no-instructions >"$dir/initdb.log" 2>&1) || {
    cat "$dir/initdb.log" >&2
    die "initdb failed"
  }
  as_pg mkdir "$data/sock"
  # A Unix socket path is limited to 107 bytes; the tests connect over TCP,
  # so a deep TMPDIR goes without a socket.
  local socket_dir=$data/sock
  ((${#socket_dir} <= 90)) || socket_dir=
  cat >>"$data/pgdata/postgresql.conf" <<EOF

# tests/postgres/server.sh: a throw-away server for tests
listen_addresses = '127.0.0.1'
unix_socket_directories = '${socket_dir//\'/\'\'}'
fsync = off
synchronous_commit = off
full_page_writes = off
max_connections = 200
timezone = 'UTC'
EOF

  local port='' try
  for ((try = 0; try < 5; try++)); do
    port=$(free_port) || die "no free TCP port found on 127.0.0.1"
    # The last `port` line of postgresql.conf wins.
    echo "port = $port" >>"$data/pgdata/postgresql.conf"
    if (cd "$data" && as_pg "$pgbin/pg_ctl" -D "$data/pgdata" -l "$data/server.log" -w -t 60 \
      start >/dev/null 2>&1 </dev/null); then
      break
    fi
    stop_server "$dir"
    port=
  done
  if [[ -z $port ]]; then
    tail -n 20 "$data/server.log" >&2 || true
    die "the server did not start"
  fi
  PGCONNECT_TIMEOUT=10 "$pgbin/createdb" -h 127.0.0.1 -p "$port" -U stackbill -w stackbill_test || {
    stop_server "$dir"
    die "could not create the database stackbill_test"
  }
  echo "postgresql://stackbill@127.0.0.1:$port/stackbill_test" >"$dir/dsn.tmp"
  mv "$dir/dsn.tmp" "$dir/dsn"
  log "PostgreSQL 15 on 127.0.0.1:$port ($dir)"
}

stop() {
  local dir=$1
  [[ -e $dir ]] || return 0
  is_ours "$dir" || die "$dir was not made by this script; refusing to remove it"
  remove "$dir"
  log "stopped ($dir)"
}

[[ $# -eq 2 && -n $2 ]] || usage
case $1 in
  start) start "$2" ;;
  stop) stop "$2" ;;
  *) usage ;;
esac
