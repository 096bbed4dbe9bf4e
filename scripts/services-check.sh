#!/usr/bin/env bash
# Checks that scripts/services.sh works from a checkout its servers' user cannot enter (as
# root, PostgreSQL runs as `postgres`): copies the script into a fresh mode-700 folder, runs
# up (twice), status and down there on ports of its own, checks that both servers answered
# and that down left nothing behind, the cluster's folder outside the checkout included.
# It cleans up also when a step fails, and leaves the servers of this checkout alone.
#
# Usage: scripts/services-check.sh
# Ports: IOBENCH_CHECK_PG_PORT (default 54339), IOBENCH_CHECK_REDIS_PORT (default 63809).
set -euo pipefail
cd "$(dirname "$0")/.."

export IOBENCH_PG_PORT="${IOBENCH_CHECK_PG_PORT:-54339}"
export IOBENCH_REDIS_PORT="${IOBENCH_CHECK_REDIS_PORT:-63809}"

fail() {
  echo "error: services-check: $*" >&2
  exit 1
}
port_busy() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
for port in "$IOBENCH_PG_PORT" "$IOBENCH_REDIS_PORT"; do
  port_busy "$port" && fail "port $port is in use; set IOBENCH_CHECK_PG_PORT / IOBENCH_CHECK_REDIS_PORT"
done

d=$(mktemp -d) # mode 700: no one but us can enter it
chmod 700 "$d"
copy="$d/iobench"
mkdir -p "$copy/scripts"
cp scripts/services.sh "$copy/scripts/"
services() { "$copy/scripts/services.sh" "$@"; }
pg_home() { cat "$copy/.services/pg-data-path" 2>/dev/null || true; }
home=""

cleanup() {
  local rc=$? pgdata bin
  trap - EXIT INT TERM HUP
  [[ -n "$home" ]] || home=$(pg_home)
  if [[ -d "$copy/.services" ]]; then
    services down >/dev/null 2>&1 || true
  fi
  # Should down have failed: stop what still runs, remove what is left.
  pgdata="$copy/.services/pg"
  [[ -n "$home" ]] && pgdata="$home/pg"
  bin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1 || true)
  if [[ -f "$pgdata/postmaster.pid" && -n "$bin" ]]; then
    if [[ $(id -u) -eq 0 ]]; then
      (cd / && runuser -u postgres -- "$bin/pg_ctl" -D "$pgdata" -m immediate -w stop) >/dev/null 2>&1 || true
    else
      "$bin/pg_ctl" -D "$pgdata" -m immediate -w stop >/dev/null 2>&1 || true
    fi
  fi
  if [[ -f "$copy/.services/redis/redis.pid" ]]; then
    redis-cli -h 127.0.0.1 -p "$IOBENCH_REDIS_PORT" shutdown nosave >/dev/null 2>&1 || true
  fi
  if [[ "$(basename "$home")" == iobench-pg-* ]]; then rm -rf "$home"; fi
  rm -rf "$d"
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 1' INT TERM HUP

services up >/dev/null
services up >/dev/null # a second time: finds the running servers
home=$(pg_home)
if [[ $(id -u) -eq 0 ]]; then
  [[ -n "$home" ]] || fail "no .services/pg-data-path after up as root"
  [[ "$home" != "$d"/* ]] || fail "the cluster lives in the checkout: $home"
  [[ "$(stat -c '%U %a' "$home")" == "postgres 700" ]] ||
    fail "$home is $(stat -c '%U %a' "$home"), not postgres 700"
fi
status=$(services status)
[[ "$status" == *"postgres  running"* && "$status" == *"redis     running"* ]] ||
  fail "status says: $status"
pg_isready -q -h 127.0.0.1 -p "$IOBENCH_PG_PORT" || fail "postgres does not answer on $IOBENCH_PG_PORT"
[[ "$(psql -h 127.0.0.1 -p "$IOBENCH_PG_PORT" -U iobench -d iobench -tAc 'select 1')" == 1 ]] ||
  fail "select 1 failed on $IOBENCH_PG_PORT"
[[ "$(redis-cli -h 127.0.0.1 -p "$IOBENCH_REDIS_PORT" ping)" == PONG ]] ||
  fail "redis does not answer on $IOBENCH_REDIS_PORT"

services down >/dev/null
[[ ! -e "$copy/.services" ]] || fail "down left $copy/.services"
[[ -z "$home" || ! -e "$home" ]] || fail "down left $home"
for port in "$IOBENCH_PG_PORT" "$IOBENCH_REDIS_PORT"; do
  for _ in $(seq 1 20); do
    port_busy "$port" || continue 2
    sleep 0.1
  done
  fail "something still listens on $port after down"
done
echo "services.sh works from a mode-700 checkout (ports $IOBENCH_PG_PORT, $IOBENCH_REDIS_PORT${home:+; cluster was in $home})"
