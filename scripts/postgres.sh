#!/usr/bin/env bash
# A local PostgreSQL 15 with pgvector for the PostgreSQL engine, its tests and benches.
#
#   scripts/postgres.sh start     install (as root), build pgvector, start; last line: the database URL
#   scripts/postgres.sh replica   a streaming replica of it on another port; last line: its URL
#   scripts/postgres.sh stop      stop both
#
# Data under data/postgres/ (PGROOT overrides), on 127.0.0.1, a free port, trust auth on loopback
# only. pgvector is not in Debian 12: it is built from Debian's own source package of trixie,
# fetched through a private apt directory so the machine's sources stay as they are.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT="${PGROOT:-$PWD/data/postgres}"
PGBIN="$(ls -d /usr/lib/postgresql/15/bin 2>/dev/null || true)"
DB=schutting

log() { echo "postgres: $*" >&2; }

as_owner() {  # run a server command as the cluster's owner (postgres when we are root)
  if [ "$(id -u)" = "0" ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

install_server() {
  # pg_config ships with the client package: the server headers (postgresql-server-dev-15) are
  # checked by their own file, or a machine with only the server fails to build pgvector
  if [ -x "$PGBIN/pg_ctl" ] && [ -x /usr/lib/postgresql/15/bin/pg_config ] \
     && [ -f "$(/usr/lib/postgresql/15/bin/pg_config --includedir-server)/postgres.h" ] \
     && command -v dpkg-source >/dev/null && command -v make >/dev/null && command -v gcc >/dev/null; then return; fi
  if [ "$(id -u)" != "0" ]; then
    log "PostgreSQL 15 is not installed; as root: apt-get install postgresql-15 postgresql-server-dev-15 dpkg-dev build-essential"
    exit 2
  fi
  log "installing postgresql-15 and postgresql-server-dev-15"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql-15 postgresql-server-dev-15 dpkg-dev build-essential >/dev/null
  PGBIN=/usr/lib/postgresql/15/bin
}

mirror() {  # the Debian mirror this machine is configured with
  local uri
  uri="$(grep -h -m1 -E '^URIs: .*/debian/?$' /etc/apt/sources.list.d/*.sources 2>/dev/null | head -1 | awk '{print $2}')"
  if [ -z "$uri" ]; then
    uri="$(grep -h -m1 -E '^deb .*/debian/? ' /etc/apt/sources.list 2>/dev/null | awk '{print $2}')"
  fi
  echo "${uri:-http://deb.debian.org/debian}"
}

install_pgvector() {
  local share; share="$("$PGBIN/pg_config" --sharedir)"
  if [ -f "$share/extension/vector.control" ]; then return; fi
  if [ "$(id -u)" != "0" ]; then
    log "pgvector is not installed; run 'make postgres' once as root"
    exit 2
  fi
  local apt="$ROOT/apt" build="$ROOT/build"
  mkdir -p "$apt/lists/partial" "$apt/archives/partial" "$build"
  echo "deb-src [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] $(mirror) trixie main" > "$apt/sources.list"
  local opts=(-o "Dir::Etc::SourceList=$apt/sources.list" -o "Dir::Etc::SourceParts=-"
              -o "Dir::State::Lists=$apt/lists" -o "Dir::Cache::Archives=$apt/archives" -o "APT::Sandbox::User=root")
  log "fetching pgvector's Debian source package (trixie) from $(mirror)"
  apt-get "${opts[@]}" update -qq
  (cd "$build" && rm -rf pgvector-* && apt-get "${opts[@]}" source -qq pgvector >/dev/null)
  local src; src="$(ls -d "$build"/pgvector-*/ | head -1)"
  log "building $(basename "$src")"
  make -s -C "$src" PG_CONFIG="$PGBIN/pg_config" OPTFLAGS="" >/dev/null
  make -s -C "$src" PG_CONFIG="$PGBIN/pg_config" install >/dev/null
}

free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

running() {  # $1: data dir
  [ -f "$1/postmaster.pid" ] && as_owner "$PGBIN/pg_ctl" -D "$1" status >/dev/null 2>&1
}

init_cluster() {  # $1: data dir
  local data="$1"
  mkdir -p "$(dirname "$data")"
  [ "$(id -u)" = "0" ] && chown postgres "$(dirname "$data")"
  as_owner "$PGBIN/initdb" -D "$data" -U postgres -A trust -E UTF8 --locale=C.UTF-8 >/dev/null
  cat >> "$data/postgresql.conf" <<CONF
# over-de-schutting: modest settings for a shared 2-core machine (memory: set at start)
listen_addresses = '127.0.0.1'
unix_socket_directories = ''
work_mem = 16MB
maintenance_work_mem = 256MB
max_connections = 100
max_wal_senders = 4
wal_level = replica
hot_standby = on
synchronous_commit = off
fsync = on
logging_collector = off
CONF
  echo "host replication postgres 127.0.0.1/32 trust" >> "$data/pg_hba.conf"
}

memory_settings() {
  # What PostgreSQL's docs advise for a dedicated server: shared_buffers a quarter of the
  # memory (at most 8 GB here), the planner told the page cache holds half; PG_SHARED_BUFFERS
  # overrides (e.g. 1GB on a machine shared with other work). At 1M passages the vector and GIN
  # indexes (~1.5 GB) then stay in shared buffers: with initdb's 128MB every search re-read
  # thousands of pages from the OS cache. Memory is only taken as pages are used.
  # JIT off: searches are short queries, and compiling cost 50-300 ms where a plan's estimate
  # passed jit_above_cost.
  local mb; mb=$(( $(awk '/MemTotal/ {print $2}' /proc/meminfo) / 1024 ))
  local share=$(( mb / 4 > 8192 ? 8192 : mb / 4 ))
  echo "-c shared_buffers=${PG_SHARED_BUFFERS:-${share}MB} -c effective_cache_size=$(( mb / 2 ))MB -c jit=off"
}

start_cluster() {  # $1: data dir; prints the port
  local data="$1" port
  if running "$data"; then
    sed -n 4p "$data/postmaster.pid"; return
  fi
  port="$(free_port)"
  as_owner "$PGBIN/pg_ctl" -D "$data" -l "$data/server.log" -o "-p $port $(memory_settings)" -w -t 60 start >/dev/null
  echo "$port"
}

start() {
  install_server
  install_pgvector
  mkdir -p "$ROOT"
  [ -f "$ROOT/data/PG_VERSION" ] || init_cluster "$ROOT/data"
  local port; port="$(start_cluster "$ROOT/data")"
  local psql=("$PGBIN/psql" -h 127.0.0.1 -p "$port" -U postgres -qAt)
  if [ -z "$("${psql[@]}" -d postgres -c "SELECT 1 FROM pg_database WHERE datname = '$DB'")" ]; then
    "${psql[@]}" -d postgres -c "CREATE DATABASE $DB" >/dev/null
  fi
  PGOPTIONS="-c client_min_messages=warning" "${psql[@]}" -d "$DB" -c "CREATE EXTENSION IF NOT EXISTS vector" >/dev/null
  echo "postgresql://postgres@127.0.0.1:$port/$DB"
}

replica() {
  local primary; primary="$(start | tail -1)"
  local pport="${primary##*:}"; pport="${pport%%/*}"
  local data="$ROOT/replica"
  # Always a fresh standby: one left from an earlier run may have fallen behind WAL the primary
  # no longer keeps, or follow a primary that has since moved to another port.
  if running "$data"; then as_owner "$PGBIN/pg_ctl" -D "$data" -m fast -w stop >/dev/null; fi
  rm -rf "$data"
  mkdir -p "$data"; [ "$(id -u)" = "0" ] && chown postgres "$data"; chmod 700 "$data"
  as_owner "$PGBIN/pg_basebackup" -h 127.0.0.1 -p "$pport" -U postgres -D "$data" -R -X stream >/dev/null
  local port; port="$(start_cluster "$data")"
  echo "postgresql://postgres@127.0.0.1:$port/$DB"
}

stop() {
  for data in "$ROOT/replica" "$ROOT/data"; do
    if running "$data"; then as_owner "$PGBIN/pg_ctl" -D "$data" -m fast -w stop >/dev/null; log "stopped $data"; fi
  done
}

case "${1:-start}" in
  start) start ;;
  replica) replica ;;
  stop) stop ;;
  *) echo "usage: $0 start|replica|stop" >&2; exit 2 ;;
esac
