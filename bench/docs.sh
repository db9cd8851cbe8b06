#!/usr/bin/env bash
# bench/docs.sh -- kv.docs measured as a user meets it (issue #10).
#
# A parade of one zone with two nodes, made by `globalkv parade create` with
# its defaults (durable commits), the shards spread over both nodes; every
# client is pgbench -M prepared over the unix socket of node1, c=4, random
# keys over BENCH_KEYS preloaded documents.  Ratios in the same run:
#
#  a. point query: SELECT value FROM kv.docs WHERE namespace = 'b' AND key = $1
#     against SELECT kv.get('b', $1) -- half the keys are held by node2, so
#     half the calls of both are forwarded (target: latency <= 1.2x kv.get,
#     i.e. tps ratio >= 0.83);
#  b. fan-out: count(*), sum over a JSON field with GROUP BY (both pushed
#     down: each node aggregates its rows), ORDER BY ... LIMIT 10 (each
#     node sends its first 10) and count(DISTINCT) (not pushed down: every
#     row's value travels), through kv.docs on node1 against the same query
#     on a plain table holding the same rows on node1 -- the best of five
#     runs in one session, milliseconds, and plain / kv.docs (>1: kv.docs
#     faster, its two nodes working in parallel).
#
# Environment: BENCH_KEYS (default 100000), BENCH_SECONDS (default 10),
# BENCH_DEADLINE (default 600), GLOBALKV (the CLI).  Run as root or as the
# user that should own the servers.  Report: bench/results/docs-<timestamp>.txt
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(dirname "$HERE")
PG_CONFIG=${PG_CONFIG:-/usr/lib/postgresql/15/bin/pg_config}
PGBIN=$("$PG_CONFIG" --bindir)
GKV=${GLOBALKV:-$(command -v globalkv || echo "$ROOT/cli/globalkv")}
KEYS=${BENCH_KEYS:-100000}
SECONDS_PER_RUN=${BENCH_SECONDS:-10}
DEADLINE=${BENCH_DEADLINE:-600}
STAMP=$(date +%Y%m%d-%H%M%S)
mkdir -p "$HERE/results"
REPORT="$HERE/results/docs-$STAMP.txt"
LOG="$HERE/results/docs-$STAMP.log"

DIR=$(mktemp -d /tmp/gkv-bench-docs.XXXXXX)
chmod 755 "$DIR"
PORT=$((20000 + RANDOM % 20000))
cleanup() {
    "$GKV" parade stop --dir "$DIR" >/dev/null 2>&1 || true
    rm -rf "$DIR"
}
trap cleanup EXIT
( sleep "$DEADLINE"; echo "bench/docs.sh: deadline of $DEADLINE s reached" >&2; kill -TERM $$ ) &
WATCHDOG=$!
trap 'kill $WATCHDOG 2>/dev/null || true; cleanup' EXIT

report() { echo "$*" | tee -a "$REPORT"; }

"$GKV" parade create --dir "$DIR" --zones 1 --nodes-per-zone 2 --port-base "$PORT" >>"$LOG" 2>&1
SOCK="$DIR"
psql1() { "$PGBIN/psql" -XAtq -h "$SOCK" -p "$PORT" -U postgres -d postgres "$@"; }

report "kv.docs benchmark $(date -u +%FT%TZ), 1 zone x 2 nodes, $KEYS keys, pgbench -M prepared c=4 ${SECONDS_PER_RUN}s"
psql1 -c "SELECT kv.create_namespace('b')" >/dev/null
psql1 -c "INSERT INTO kv.docs (namespace, key, value)
          SELECT 'b', 'k' || i, jsonb_build_object('g', i % 100, 'n', i) FROM generate_series(1, $KEYS) i" >>"$LOG" 2>&1
psql1 -c "CREATE TABLE plain AS SELECT 'b'::text AS namespace, 'k' || i AS key,
          jsonb_build_object('g', i % 100, 'n', i) AS value FROM generate_series(1, $KEYS) i;
          ALTER TABLE plain ADD PRIMARY KEY (namespace, key); ANALYZE plain" >>"$LOG" 2>&1
report "node2 holds $(psql1 -c "SELECT count(*) FROM kv.placements WHERE NOT is_local") of $(psql1 -c "SELECT count(*) FROM kv.placements") shards"

W=$(mktemp -d)
cat >"$W/get.sql" <<EOF
\set k random(1, $KEYS)
SELECT kv.get('b', 'k' || :k);
EOF
cat >"$W/docs.sql" <<EOF
\set k random(1, $KEYS)
SELECT value FROM kv.docs WHERE namespace = 'b' AND key = 'k' || :k;
EOF
tps() {
    "$PGBIN/pgbench" -n -h "$SOCK" -p "$PORT" -U postgres -M prepared -c 4 -j 2 -T "$SECONDS_PER_RUN" \
        -f "$1" postgres 2>>"$LOG" | tee -a "$LOG" | sed -n 's/^tps = \([0-9.]*\).*/\1/p'
}
GET=$(tps "$W/get.sql")
DOCS=$(tps "$W/docs.sql")
GET2=$(tps "$W/get.sql")
report "a. point query: kv.get $GET / $GET2 tps, kv.docs $DOCS tps, ratio $(echo "scale=2; $DOCS * 2 / ($GET + $GET2)" | bc) (target >= 0.83)"

# the best of 5 runs in one session (its connections to node2 already open)
ms() {
    psql1 -c '\timing on' -c "$1" -c "$1" -c "$1" -c "$1" -c "$1" -c "$1" 2>&1 |
        sed -n 's/^Time: \([0-9.]*\) ms.*/\1/p' | tail -5 | sort -n | head -1
}
for q in "SELECT count(*) FROM %s WHERE namespace = 'b'" \
         "SELECT value->>'g', sum((value->>'n')::numeric) FROM %s WHERE namespace = 'b' GROUP BY 1" \
         "SELECT key FROM %s WHERE namespace = 'b' ORDER BY (value->>'n')::int DESC LIMIT 10" \
         "SELECT count(DISTINCT value->>'n') FROM %s WHERE namespace = 'b'"; do
    D=$(ms "$(printf "$q" kv.docs)")
    P=$(ms "$(printf "$q" plain)")
    report "b. $(printf "$q" T): kv.docs $D ms, plain table $P ms, ratio $(echo "scale=2; $P / $D" | bc)"
done
rm -rf "$W"
echo "report: $REPORT"
