#!/usr/bin/env bash
# bench/sharding.sh -- sharding, routing and shard-move benchmark (issue #4);
# see bench/README.md.  One local parade of 1 zone x 2 nodes, 2 shards.
#
#  1. both shards on node1; batch-load 2 x BENCH_ROWS documents through
#     libglobalkv (bench/gkv_load.c) -- all to one node;
#  2. baseline: pgbench kv.put on node1, which holds every key;
#  3. move shard 1 (~BENCH_ROWS documents) to node2 with `globalkv shard
#     move` while pgbench writes 500/s through node1: the move's time, the
#     fence it reports, and the longest pgbench transaction during it (the
#     write stall a client sees);
#  4. (a) kv.put through libglobalkv, straight to each key's node;
#     (b) kv.put via server-side forwarding: pgbench on both nodes, half the
#     calls forwarded -- both as ratios to the baseline;
#  5. batch put of BENCH_ROWS fresh documents through libglobalkv, split
#     over both nodes.
#
# Environment: BENCH_ROWS (default 1000000), BENCH_SECONDS (10),
# BENCH_CLIENTS (4), BENCH_PORT (first of 2 ports; default a free one),
# BENCH_KEEP=1 keeps the parade directory.  Run as root (servers run as
# user globalkv) or as the user that should own them.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(dirname "$HERE")
PG_CONFIG=${PG_CONFIG:-/usr/lib/postgresql/15/bin/pg_config}
PGBIN=$("$PG_CONFIG" --bindir)
GKV=${GLOBALKV:-$(command -v globalkv || echo "$ROOT/cli/globalkv")}
ROWS=${BENCH_ROWS:-1000000}
SECS=${BENCH_SECONDS:-10}
CLIENTS=${BENCH_CLIENTS:-4}
HALF=$(( CLIENTS / 2 > 0 ? CLIENTS / 2 : 1 ))

WORK=$(mktemp -d /tmp/gkv-shbench.XXXXXX)
chmod 755 "$WORK"
AS=()
if [ "$(id -u)" = 0 ]; then
	id globalkv >/dev/null 2>&1 || useradd --system --create-home --shell /bin/bash globalkv
	chown globalkv "$WORK"
	AS=(runuser -u globalkv --)
fi
as() { "${AS[@]}" "$@"; }

if [ -n "${BENCH_PORT:-}" ]; then PORT=$BENCH_PORT; else
	PORT=$(( 20000 + RANDOM % 20000 ))
	while (exec 3<>/dev/tcp/127.0.0.1/$PORT) 2>/dev/null || (exec 3<>/dev/tcp/127.0.0.1/$((PORT + 1))) 2>/dev/null; do
		PORT=$(( PORT + 2 ))
	done
fi
P=$WORK/p
S1="host=$P port=$PORT user=postgres dbname=postgres"
S2="host=$P port=$((PORT + 1)) user=postgres dbname=postgres"
TS=$(date -u +%Y%m%dT%H%M%SZ)
mkdir -p "$HERE/results"
OUT=$HERE/results/sharding-$TS.txt
LOG=$HERE/results/sharding-$TS.log

cleanup() {
	as "$GKV" parade stop --dir "$P" >/dev/null 2>&1 || true
	[ "${BENCH_KEEP:-0}" = 1 ] || rm -rf "$WORK"
}
trap cleanup EXIT

say() { echo "$*" | tee -a "$OUT"; }
q() { as "$PGBIN/psql" -X -At -v ON_ERROR_STOP=1 -d "$1" -c "$2"; }

cc -std=c11 -O2 -pthread -I"$ROOT/client/include" -I"$("$PG_CONFIG" --includedir)" \
	-o "$WORK/gkv_load" "$HERE/gkv_load.c" "$ROOT/client/libglobalkv.a" -lpq
chmod 755 "$WORK/gkv_load"

say "globalkv sharding benchmark, $TS, 1 zone x 2 nodes, 2 shards, $(nproc) CPUs"
as "$GKV" parade create --dir "$P" --zones 1 --nodes-per-zone 2 --shards 2 --port-base "$PORT" >>"$LOG" 2>&1
for s in "$S1" "$S2"; do
	q "$s" "ALTER SYSTEM SET synchronous_commit = off" >/dev/null
	# diagnostics: lock waits over 50 ms go to the server logs
	q "$s" "ALTER SYSTEM SET log_lock_waits = on" >/dev/null
	q "$s" "ALTER SYSTEM SET deadlock_timeout = '50ms'" >/dev/null
	q "$s" "SELECT pg_reload_conf()" >/dev/null
	q "$s" "SELECT kv.set_placement(1, 1)" >/dev/null     # node1 holds every key
done
q "$S1" "SELECT kv.create_namespace('bench')" >/dev/null
for _ in $(seq 100); do [ "$(q "$S2" "SELECT count(*) FROM kv.namespaces WHERE name = 'bench'")" = 1 ] && break; sleep 0.1; done

# 1. preload through the library (one holder)
R=$(as "$WORK/gkv_load" batch "$S1" bench 1 $((2 * ROWS)) 10000)
say "preload, one holder:     $(echo "$R" | awk '{printf "%d documents in %.1f s: %d documents/s", $2, $3, $4}')"
q "$S1" "VACUUM ANALYZE" >/dev/null; q "$S1" "CHECKPOINT" >/dev/null

DOC=$(q "$S1" "SELECT kv.get('bench', '1')::text")
PGB=(as "$PGBIN/pgbench" -n -M prepared -f "$HERE/kv_put.sql" -D "nkeys=$((2 * ROWS))" -D "doc=$DOC" -U postgres -h "$P" postgres)
tps() { grep -oE 'tps = [0-9.]+' | head -1 | awk '{print $3}'; }

# 2. baseline
BASE=$("${PGB[@]}" -p "$PORT" -c "$CLIENTS" -j 2 -T "$SECS" 2>>"$LOG" | tee -a "$LOG" | tps)
say "baseline kv.put, node1 holds every key, pgbench c=$CLIENTS: $BASE tps"

# 3. move shard 1 under writes
MOVE_T=$(( 20 + ROWS / 40000 ))
( cd "$WORK" && "${PGB[@]}" -p "$PORT" -c 2 -j 2 -R 500 -T "$MOVE_T" -l --log-prefix="$WORK/movelog" >>"$LOG" 2>&1 ) &
PGB_PID=$!
sleep 2
T0=$(date +%s.%N)
as "$GKV" shard move 1 --to node2 -d "$S1" | while IFS= read -r l; do echo "$(date +%s.%N) $l"; done | tee -a "$LOG" >"$WORK/move.out"
T1=$(date +%s.%N)
wait $PGB_PID || true
ROWS_MOVED=$(grep -oE 'moved to node2: [0-9]+ rows' "$WORK/move.out" | grep -oE '[0-9]+ rows' | awk '{print $1}')
FENCE=$(grep -oE 'writes were blocked for [0-9]+ ms' "$WORK/move.out" | grep -oE '[0-9]+' | head -1)
MAXLAT=$(cat "$WORK"/movelog.* 2>/dev/null | awk '{ if ($3 > m) m = $3 } END { printf "%.0f", m / 1000 }')
say "$(printf 'shard move, %s rows under 500 writes/s: %.1f s; fence %s ms; longest write during the run %s ms' \
	"$ROWS_MOVED" "$(awk -v a="$T0" -v b="$T1" 'BEGIN{print b - a}')" "$FENCE" "$MAXLAT")"

# 4. (a) library direct, (b) server-side forwarding
q "$S1" "VACUUM" >/dev/null; q "$S2" "VACUUM" >/dev/null
A=$(as "$WORK/gkv_load" put "$S1" bench $((2 * ROWS)) "$SECS" "$CLIENTS" | awk '{print $4}')
( "${PGB[@]}" -p "$PORT" -c "$HALF" -j 1 -T "$SECS" 2>>"$LOG" | tee -a "$LOG" | tps >"$WORK/b1" ) &
( "${PGB[@]}" -p "$((PORT + 1))" -c "$HALF" -j 1 -T "$SECS" 2>>"$LOG" | tee -a "$LOG" | tps >"$WORK/b2" ) &
wait
B=$(awk -v a="$(cat "$WORK/b1")" -v b="$(cat "$WORK/b2")" 'BEGIN{print a + b}')
say "$(printf '(a) kv.put via libglobalkv, %d clients: %.0f calls/s = %.2f x baseline (target >= 0.95)' "$CLIENTS" "$A" "$(awk -v a="$A" -v b="$BASE" 'BEGIN{print a / b}')")"
say "$(printf '(b) kv.put via forwarding, pgbench %d+%d clients on both nodes: %.0f tps = %.2f x baseline (target >= 0.6)' "$HALF" "$HALF" "$B" "$(awk -v a="$B" -v b="$BASE" 'BEGIN{print a / b}')")"

# 5. batch of fresh keys over both nodes
R=$(as "$WORK/gkv_load" batch "$S1" bench $((2 * ROWS + 1)) "$ROWS" 10000)
say "batch put, two holders:  $(echo "$R" | awk '{printf "%d documents in %.1f s: %d documents/s (target >= 150000)", $2, $3, $4}')"
say "(report: $OUT; details: $LOG)"
