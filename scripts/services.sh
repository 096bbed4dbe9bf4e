#!/usr/bin/env bash
# The database servers of the postgres and redis workloads: a private PostgreSQL cluster and
# a private Redis, on loopback, on ports no system server uses.
#
# Where their data lives:
#   redis     .services/redis/ under the project (ignored by git); it runs as you.
#   postgres  as a normal user, .services/pg/ (data and server.log), .services/pg-run/
#             (socket) and .services/initdb.log. As root, PostgreSQL runs as the `postgres`
#             user, who may not be able to enter the checkout (e.g. under /root, mode 700):
#             then those same files live in a folder of their own outside it,
#             /var/tmp/iobench-pg-<port>-<hash of the checkout>.XXXXXX (or under
#             ${TMPDIR:-/tmp} when /var/tmp does not do), owned by postgres, mode 700; its
#             path is recorded in .services/pg-data-path, so that up, status and down find it.
# Nothing else is touched.
#
# Usage: scripts/services.sh up|down|status
#   up      install PostgreSQL and Redis from Debian's packages when missing (as root, or
#           through sudo), create the cluster and config on first use, start both, wait
#           until each answers, print the URLs. Running it twice is fine.
#   down    stop both and remove .services/ (and the cluster's folder outside it, if any)
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
# As root: where .services/ records the cluster's folder outside the checkout.
PG_RECORD="$DATA/pg-data-path"
# The cluster's folder: pg/ (data, server.log), pg-run/ (socket), initdb.log. Set by
# pg_home_find or pg_home_make: $DATA itself unless root.
PG_HOME=""

pg_bin() {
  local d
  d=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1 || true)
  [[ -n "$d" && -x "$d/initdb" ]] && echo "$d"
}

is_root() { [[ $(id -u) -eq 0 ]]; }

as_root() {
  if is_root; then
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

# PostgreSQL refuses to run as root: as root, the cluster belongs to the `postgres` user. Its
# programs complain when they cannot get back to their working directory, the checkout, which
# that user may not be able to enter: they run from / (every path given them is absolute).
as_pg() {
  if is_root; then
    (cd / && runuser -u postgres -- "$@")
  else
    "$@"
  fi
}

# As root, the cluster's folder lies outside the checkout, under the first of these where the
# postgres user can create one: /var/tmp is on disk on most systems (/tmp is often a tmpfs,
# which would flatter the postgres workloads) and survives reboots, as .services/ does.
PG_HOME_PARENTS=(/var/tmp "${TMPDIR:-/tmp}" /tmp)

# The start of the folder's name, keyed to the checkout and the port; mktemp -d adds the rest.
pg_home_prefix() {
  local key
  key=$(printf '%s:%s' "$(pwd -P)" "$PG_PORT" | sha256sum | cut -c1-12)
  echo "iobench-pg-$PG_PORT-$key."
}

# Whether $1 is a cluster folder of this script's making (down removes it).
pg_home_ok() {
  [[ -d "$1" && ! -L "$1" && "$(basename "$1")" == iobench-pg-* && "$(stat -c %U "$1")" == postgres ]]
}

# Sets PG_HOME to the cluster's folder, if there is one yet.
pg_home_find() {
  PG_HOME=""
  if ! is_root; then
    PG_HOME="$DATA"
    return 0
  fi
  local p="" parent
  [[ -f "$PG_RECORD" ]] && p=$(<"$PG_RECORD")
  if [[ -n "$p" ]] && pg_home_ok "$p"; then
    PG_HOME="$p"
    return 0
  fi
  # No record (.services/ removed by hand?): this checkout's folder for this port, if any.
  for parent in "${PG_HOME_PARENTS[@]}"; do
    for p in "$parent/$(pg_home_prefix)"*; do
      if pg_home_ok "$p"; then
        PG_HOME="$p"
        return 0
      fi
    done
  done
  return 1
}

# Sets PG_HOME to the cluster's folder, made (empty, owned by postgres, mode 700) when missing.
pg_home_make() {
  mkdir -p "$DATA"
  if pg_home_find; then
    if is_root; then echo "$PG_HOME" >"$PG_RECORD"; fi
    return 0
  fi
  local parent
  for parent in "${PG_HOME_PARENTS[@]}"; do
    if PG_HOME=$(as_pg mktemp -d "$parent/$(pg_home_prefix)XXXXXX" 2>/dev/null); then
      chmod 700 "$PG_HOME"
      echo "$PG_HOME" >"$PG_RECORD"
      return 0
    fi
  done
  echo "error: the postgres user cannot create a folder in any of ${PG_HOME_PARENTS[*]}" >&2
  exit 1
}

pg_running() { [[ -n "$PG_HOME" && -f "$PG_HOME/pg/PG_VERSION" ]] && as_pg "$(pg_bin)/pg_ctl" -D "$PG_HOME/pg" status >/dev/null 2>&1; }
redis_running() { [[ "$(redis-cli -h 127.0.0.1 -p "$REDIS_PORT" ping 2>/dev/null)" == "PONG" ]]; }

pg_up() {
  local bin
  bin=$(pg_bin)
  pg_home_make
  if [[ ! -f "$PG_HOME/pg/PG_VERSION" ]]; then
    mkdir -p "$PG_HOME/pg" "$PG_HOME/pg-run"
    if is_root; then chown postgres: "$PG_HOME/pg" "$PG_HOME/pg-run"; fi
    chmod 700 "$PG_HOME/pg"
    as_pg "$bin/initdb" -D "$PG_HOME/pg" -U iobench --auth=trust -E UTF8 >"$PG_HOME/initdb.log" 2>&1 ||
      { cat "$PG_HOME/initdb.log" >&2; exit 1; }
    cat >>"$PG_HOME/pg/postgresql.conf" <<EOF

# iobench: a private cluster on loopback
listen_addresses = '127.0.0.1'
port = $PG_PORT
unix_socket_directories = '$PG_HOME/pg-run'
max_connections = 600
shared_buffers = 128MB
EOF
  fi
  if ! pg_running; then
    as_pg "$bin/pg_ctl" -D "$PG_HOME/pg" -l "$PG_HOME/pg/server.log" -w -t 60 start >/dev/null ||
      { tail -n 20 "$PG_HOME/pg/server.log" >&2; exit 1; }
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
  pg_home_find || true
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
  pg_home_find || true
  if pg_bin >/dev/null && pg_running; then
    as_pg "$(pg_bin)/pg_ctl" -D "$PG_HOME/pg" -m fast -w stop >/dev/null || true
  fi
  if command -v redis-cli >/dev/null 2>&1 && redis_running; then
    redis-cli -h 127.0.0.1 -p "$REDIS_PORT" shutdown nosave >/dev/null 2>&1 || true
  fi
  removed="$DATA"
  if [[ -n "$PG_HOME" && "$PG_HOME" != "$DATA" ]]; then
    rm -rf "$PG_HOME"
    removed="$DATA and $PG_HOME"
  fi
  rm -rf "$DATA"
  echo "services stopped; $removed removed"
  ;;
status)
  status
  ;;
*)
  echo "usage: scripts/services.sh up|down|status" >&2
  exit 2
  ;;
esac
