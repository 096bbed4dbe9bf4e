#!/usr/bin/env bash
# The database servers of the postgres and redis workloads: a private PostgreSQL cluster and
# a private Redis, on loopback, on ports no system server uses, with their data in
# .services/ under the project (ignored by git). Nothing outside that folder is touched.
#
# Usage: scripts/services.sh up|down|status
#   up      install PostgreSQL and Redis from Debian's packages when missing (as root, or
#           through sudo), create the cluster and config on first use, start both, wait
#           until each answers, print the URLs. Running it twice is fine.
#   down    stop both and remove .services/
#   status  say what runs, and where
#
# Ports: IOBENCH_PG_PORT (default 54329), IOBENCH_REDIS_PORT (default 63799). iobench's own
# defaults for IOBENCH_POSTGRES_URL and IOBENCH_REDIS_URL point at these.
set -euo pipefail
cd "$(dirname "$0")/.."

DATA="$PWD/.services"
PG_PORT="${IOBENCH_PG_PORT:-54329}"
REDIS_PORT="${IOBENCH_REDIS_PORT:-63799}"
PG_URL="postgres://iobench@127.0.0.1:$PG_PORT/iobench"
REDIS_URL="redis://127.0.0.1:$REDIS_PORT/"

pg_bin() {
  local d
  d=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1 || true)
  [[ -n "$d" && -x "$d/initdb" ]] && echo "$d"
}

as_root() {
  if [[ $(id -u) -eq 0 ]]; then
    "$@"
  elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
    sudo "$@"
  else
    return 1
  fi
}

install_missing() {
  local pkgs=()
  pg_bin >/dev/null || pkgs+=(postgresql postgresql-contrib)
  command -v redis-server >/dev/null 2>&1 || pkgs+=(redis-server)
  command -v redis-benchmark >/dev/null 2>&1 || pkgs+=(redis-tools)
  ((${#pkgs[@]})) || return 0
  echo "installing ${pkgs[*]} (Debian packages)"
  if ! as_root apt-get update -qq ||
    ! as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${pkgs[@]}" >/dev/null; then
    echo "error: cannot install ${pkgs[*]}; run: sudo apt-get install -y ${pkgs[*]}" >&2
    exit 1
  fi
}

# PostgreSQL refuses to run as root: as root, the cluster belongs to the `postgres` user.
as_pg() {
  if [[ $(id -u) -eq 0 ]]; then
    runuser -u postgres -- "$@"
  else
    "$@"
  fi
}

pg_running() { [[ -f "$DATA/pg/PG_VERSION" ]] && as_pg "$(pg_bin)/pg_ctl" -D "$DATA/pg" status >/dev/null 2>&1; }
redis_running() { [[ "$(redis-cli -h 127.0.0.1 -p "$REDIS_PORT" ping 2>/dev/null)" == "PONG" ]]; }

pg_up() {
  local bin
  bin=$(pg_bin)
  mkdir -p "$DATA"
  if [[ ! -f "$DATA/pg/PG_VERSION" ]]; then
    mkdir -p "$DATA/pg" "$DATA/pg-run"
    [[ $(id -u) -eq 0 ]] && chown postgres: "$DATA/pg" "$DATA/pg-run"
    chmod 700 "$DATA/pg"
    as_pg "$bin/initdb" -D "$DATA/pg" -U iobench --auth=trust -E UTF8 >"$DATA/initdb.log" 2>&1 ||
      { cat "$DATA/initdb.log" >&2; exit 1; }
    cat >>"$DATA/pg/postgresql.conf" <<EOF

# iobench: a private cluster on loopback
listen_addresses = '127.0.0.1'
port = $PG_PORT
unix_socket_directories = '$DATA/pg-run'
max_connections = 600
shared_buffers = 128MB
EOF
  fi
  if ! pg_running; then
    as_pg "$bin/pg_ctl" -D "$DATA/pg" -l "$DATA/pg/server.log" -w -t 60 start >/dev/null ||
      { tail -n 20 "$DATA/pg/server.log" >&2; exit 1; }
  fi
  for _ in $(seq 1 100); do
    "$bin/pg_isready" -q -h 127.0.0.1 -p "$PG_PORT" && break
    sleep 0.1
  done
  if ! psql -h 127.0.0.1 -p "$PG_PORT" -U iobench -d postgres -tAc \
    "select 1 from pg_database where datname = 'iobench'" | grep -q 1; then
    psql -q -h 127.0.0.1 -p "$PG_PORT" -U iobench -d postgres -c "create database iobench"
  fi
}

redis_up() {
  mkdir -p "$DATA/redis"
  cat >"$DATA/redis/redis.conf" <<EOF
bind 127.0.0.1
port $REDIS_PORT
dir $DATA/redis
daemonize yes
pidfile $DATA/redis/redis.pid
logfile $DATA/redis/redis.log
save ""
appendonly no
maxclients 10000
EOF
  redis_running || redis-server "$DATA/redis/redis.conf"
  for _ in $(seq 1 100); do
    redis_running && return 0
    sleep 0.1
  done
  echo "error: redis did not answer on port $REDIS_PORT; see $DATA/redis/redis.log" >&2
  exit 1
}

status() {
  if pg_bin >/dev/null && pg_running; then
    echo "postgres  running  $PG_URL"
  else
    echo "postgres  stopped  (scripts/services.sh up)"
  fi
  if command -v redis-cli >/dev/null 2>&1 && redis_running; then
    echo "redis     running  $REDIS_URL"
  else
    echo "redis     stopped  (scripts/services.sh up)"
  fi
}

case "${1:-}" in
up)
  install_missing
  pg_up
  redis_up
  echo "IOBENCH_POSTGRES_URL=$PG_URL"
  echo "IOBENCH_REDIS_URL=$REDIS_URL"
  ;;
down)
  if pg_bin >/dev/null && pg_running; then
    as_pg "$(pg_bin)/pg_ctl" -D "$DATA/pg" -m fast -w stop >/dev/null || true
  fi
  if command -v redis-cli >/dev/null 2>&1 && redis_running; then
    redis-cli -h 127.0.0.1 -p "$REDIS_PORT" shutdown nosave >/dev/null 2>&1 || true
  fi
  rm -rf "$DATA"
  echo "services stopped; $DATA removed"
  ;;
status)
  status
  ;;
*)
  echo "usage: scripts/services.sh up|down|status" >&2
  exit 2
  ;;
esac
