#!/usr/bin/env bash
# Starts, stops and inspects a project-local PostgreSQL 15 server (Debian's packages):
# no system service, all data under .local/postgres. Usage:
#   deploy/local/postgres.sh start|stop|status|url|psql ARGS…
# Environment: SWITCHBOARD_POSTGRES_PORT (55432). The server listens on 127.0.0.1 only,
# with a role and database `switchboard` (password `switchboard`); `url` prints the
# SWITCHBOARD_DATABASE value that reaches it. PostgreSQL refuses to run as root: as
# root, the server runs as the `postgres` user the package created.
set -euo pipefail

root=$(cd "$(dirname "$0")/../.." && pwd)
bin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)
[ -n "$bin" ] || { echo "PostgreSQL server not installed (apt-get install postgresql)" >&2; exit 1; }
base="$root/.local/postgres"
data="$base/data"
port="${SWITCHBOARD_POSTGRES_PORT:-55432}"
url="postgres://switchboard:switchboard@127.0.0.1:$port/switchboard?sslmode=disable"

as_owner() {
  if [ "$(id -u)" -eq 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

running() { as_owner "$bin/pg_ctl" -D "$data" status >/dev/null 2>&1; }

start() {
  mkdir -p "$base"
  if [ "$(id -u)" -eq 0 ]; then chown postgres: "$base"; fi
  if [ ! -f "$data/PG_VERSION" ]; then
    local pwfile="$base/.pw"
    echo switchboard > "$pwfile"
    if [ "$(id -u)" -eq 0 ]; then chown postgres: "$pwfile"; fi
    as_owner "$bin/initdb" -D "$data" -U switchboard --pwfile="$pwfile" --auth=scram-sha-256 \
      --encoding=UTF8 --locale=C.UTF-8 >/dev/null
    rm -f "$pwfile"
    cat >> "$data/postgresql.conf" <<CONF
listen_addresses = '127.0.0.1'
port = $port
unix_socket_directories = '$base'
max_connections = 300
shared_buffers = 256MB
# A development server: a crash may lose the last transactions, never corrupt the data.
synchronous_commit = off
fsync = on
log_min_duration_statement = 1000
CONF
  fi
  if running; then echo "postgres already running on $port"; return; fi
  as_owner "$bin/pg_ctl" -D "$data" -l "$base/server.log" -w -t 60 start >/dev/null
  PGPASSWORD=switchboard "$bin/psql" -h 127.0.0.1 -p "$port" -U switchboard -d postgres -tAc \
    "SELECT 1 FROM pg_database WHERE datname = 'switchboard'" | grep -q 1 \
    || PGPASSWORD=switchboard "$bin/createdb" -h 127.0.0.1 -p "$port" -U switchboard switchboard
  echo "postgres running on 127.0.0.1:$port ($url)"
}

case "${1:-}" in
  start) start ;;
  stop) if running; then as_owner "$bin/pg_ctl" -D "$data" -m fast -w stop >/dev/null; fi; echo "postgres stopped" ;;
  status) if running; then echo "running on $port"; else echo "stopped"; exit 3; fi ;;
  url) echo "$url" ;;
  psql) shift; PGPASSWORD=switchboard exec "$bin/psql" -h 127.0.0.1 -p "$port" -U switchboard -d switchboard "$@" ;;
  *) echo "usage: $0 start|stop|status|url|psql ARGS…" >&2; exit 2 ;;
esac
