#!/usr/bin/env bash
# Calibrates iobench's database clients against the servers' own benchmark clients, on the
# same servers and at the same concurrency:
#   redis     iobench `redis` set-get      vs  redis-benchmark -t set,get -P 1
#   postgres  iobench `postgres` point-select vs pgbench -M prepared with the same query
# and prints one table: the reference's ops/s, iobench's best model's ops/s, their ratio.
#
# One iobench op of set-get is a SET and a GET; redis-benchmark times them separately, so
# its reference for one op is a SET plus a GET: 1 / (1/set_rps + 1/get_rps).
# iobench runs with a pool of C connections (pool_min = pool_max = C), as the reference
# clients hold C connections.
#
# Usage: scripts/peers.sh [CONCURRENCY]      (default 50; needs scripts/services.sh up)
set -euo pipefail
cd "$(dirname "$0")/.."

C="${1:-50}"
SECS="${PEERS_SECS:-5}"
PG_PORT="${IOBENCH_PG_PORT:-54329}"
REDIS_PORT="${IOBENCH_REDIS_PORT:-63799}"
PG_URL="${IOBENCH_POSTGRES_URL:-postgres://iobench@127.0.0.1:$PG_PORT/iobench}"
ROWS=10000

status=$(scripts/services.sh status)
if [[ "$status" != *"postgres  running"* || "$status" != *"redis     running"* ]]; then
  echo "error: the database servers are not running; start them with scripts/services.sh up" >&2
  exit 1
fi
for tool in redis-benchmark pgbench; do
  command -v "$tool" >/dev/null 2>&1 || { echo "error: $tool not found (scripts/services.sh up installs it)" >&2; exit 1; }
done

cargo build --release --quiet
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

cat >"$work/peers.toml" <<EOF
name = "peers"
description = "iobench's database clients at the reference clients' concurrency"
[run]
trials = 3
warmup = "1s"
duration = "${SECS}s"
concurrency = [$C]
models = ["threads", "thread-pool", "tokio-current-thread", "async-std", "smol",
          "tokio-multi-thread", "async-processes"]

[[workload]]
kind = "redis"
command = "set-get"
value_size = "3B"
pool_min = $C
pool_max = $C

[[workload]]
kind = "postgres"
query = "point-select"
rows = $ROWS
pool_min = $C
pool_max = $C
EOF

echo "== iobench (3 trials of ${SECS}s per model, C = $C)"
./target/release/iobench run "$work/peers.toml" --out "$work/run" >"$work/iobench.log" 2>&1 ||
  { cat "$work/iobench.log" >&2; exit 1; }

best() {
  python3 - "$work/run/summary.json" "$1" <<'EOF'
import json, sys
cells = [c for c in json.load(open(sys.argv[1]))["cells"] if c["workload"] == sys.argv[2] and c["status"] == "ok"]
b = max(cells, key=lambda c: c["throughput_ops_per_sec"]["median"])
print(f'{b["throughput_ops_per_sec"]["median"]:.0f} {b["model"]}')
EOF
}
read -r redis_ops redis_model < <(best redis)
read -r pg_ops pg_model < <(best postgres)

echo "== redis-benchmark -t set,get -P 1 -c $C -d 3"
rb=$(redis-benchmark -h 127.0.0.1 -p "$REDIS_PORT" -t set,get -P 1 -c "$C" -d 3 -n $((C * 4000)) -q 2>/dev/null | tr '\r' '\n')
echo "$rb" | grep -E "^(SET|GET):.*requests per second" || true
set_rps=$(echo "$rb" | awk -F'[: ]+' '/^SET:.*requests per second/ {print $2}' | tail -n 1)
get_rps=$(echo "$rb" | awk -F'[: ]+' '/^GET:.*requests per second/ {print $2}' | tail -n 1)

echo "== pgbench -M prepared -c $C -j 2 -T $SECS (point-select on iobench_points_$ROWS)"
cat >"$work/point.sql" <<EOF
\\set id random(1, $ROWS)
SELECT val FROM iobench_points_$ROWS WHERE id = :id;
EOF
pg=$(pgbench -n -M prepared -c "$C" -j 2 -T "$SECS" -f "$work/point.sql" "$PG_URL" 2>&1)
echo "$pg" | grep -E "^tps" || { echo "$pg" >&2; exit 1; }
pg_tps=$(echo "$pg" | awk '/^tps/ {print $3; exit}')

python3 - "$set_rps" "$get_rps" "$redis_ops" "$redis_model" "$pg_tps" "$pg_ops" "$pg_model" "$C" <<'EOF'
import sys
set_rps, get_rps, r_ops, r_model, pg_tps, pg_ops, pg_model, c = sys.argv[1:]
pair = 1 / (1 / float(set_rps) + 1 / float(get_rps))
print()
print(f"| workload (C = {c}) | reference | reference ops/s | iobench best model | iobench ops/s | ratio |")
print("|---|---|---|---|---|---|")
print(f"| redis set-get | redis-benchmark SET {float(set_rps):,.0f}/s + GET {float(get_rps):,.0f}/s | {pair:,.0f} | {r_model} | {float(r_ops):,.0f} | {float(r_ops) / pair:.2f} |")
print(f"| postgres point-select | pgbench -M prepared | {float(pg_tps):,.0f} | {pg_model} | {float(pg_ops):,.0f} | {float(pg_ops) / float(pg_tps):.2f} |")
EOF
