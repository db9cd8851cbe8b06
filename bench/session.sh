#!/usr/bin/env bash
# bench/session.sh -- the session-store calls of issue #13, each against the
# call it must keep up with, in the same run on node1 of a parade made with
# `globalkv parade create` defaults (durable commits, TLS between nodes):
#
#  a. kv.touch and kv.get_and_touch vs kv.put of the same keys (pgbench,
#     -M prepared, c=4, random keys over the preloaded ones)
#     target >= 0.9 x kv.put;
#  b. a page of 100 keys of one user's prefix out of BENCH_DOCS documents
#     (kv.scan('user:<u>:')) vs kv.get_many of the same 100 keys
#     (pgbench c=1, random user) target: scan latency <= 2 x get_many;
#  c. the change feed under the node's full write rate: `globalkv watch`
#     follows the namespace from node1 while pgbench runs kv.put (c=4); the
#     write rate beside it, and, once the writes stop, how long until the
#     watcher prints the next write -- it has caught up with the whole run by
#     then (target: keeps up, <= 1 s).
#
#   BENCH_DOCS     preloaded documents (default 1000000: 10,000 users x 100)
#   BENCH_ZONES    zones of the parade  (default 2)
#   BENCH_SECONDS  seconds per pgbench run (default 10)
#
# Run as root (servers as user globalkv) or as the servers' user.  The parade
# lives in a mktemp dir on free ports and is stopped on exit.  Report:
# bench/results/session-<timestamp>.txt.  ~2 minutes with the defaults.

set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
DOCS=${BENCH_DOCS:-1000000}
ZONES=${BENCH_ZONES:-2}
SECS=${BENCH_SECONDS:-10}
USERS=$((DOCS / 100))
NAME=session PORT_FROM=17600
. "$HERE/parade_env.sh"

# users' session documents: keys user:<u>:<nn>, 100 per user, ~150 bytes
psql_ -c "SELECT kv.create_namespace('sess')" >/dev/null
psql_ -c "SELECT count(*) FROM generate_series(0, $USERS - 1, 100) b,
            LATERAL kv.put_many('sess',
              ARRAY(SELECT 'user:' || u || ':' || lpad(i::text, 2, '0')
                      FROM generate_series(b, least(b + 99, $USERS - 1)) u, generate_series(0, 99) i),
              ARRAY(SELECT jsonb_build_object('user', u, 'item', i, 'cart', jsonb_build_array(u % 97, i),
                                              'theme', 'dark', 'pad', repeat('x', 60))
                      FROM generate_series(b, least(b + 99, $USERS - 1)) u, generate_series(0, 99) i),
              3600)" >/dev/null
psql_ -c "VACUUM ANALYZE" >/dev/null

cat >"$WORK/put.sql" <<EOF
\set u random(0, $USERS - 1)
\set i random(0, 99)
SELECT kv.put('sess', 'user:' || :u || ':' || lpad(:i::text, 2, '0'), '{"user": 1, "theme": "dark", "pad": "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"}', 3600);
EOF
cat >"$WORK/touch.sql" <<EOF
\set u random(0, $USERS - 1)
\set i random(0, 99)
SELECT kv.touch('sess', 'user:' || :u || ':' || lpad(:i::text, 2, '0'), 3600);
EOF
cat >"$WORK/get_and_touch.sql" <<EOF
\set u random(0, $USERS - 1)
\set i random(0, 99)
SELECT kv.get_and_touch('sess', 'user:' || :u || ':' || lpad(:i::text, 2, '0'), 3600);
EOF
cat >"$WORK/scan.sql" <<EOF
\set u random(0, $USERS - 1)
SELECT count(*) FROM kv.scan('sess', 'user:' || :u || ':', NULL, 100);
EOF
cat >"$WORK/get_many.sql" <<EOF
\set u random(0, $USERS - 1)
SELECT count(*) FROM kv.get_many('sess', ARRAY(SELECT 'user:' || :u || ':' || lpad(i::text, 2, '0') FROM generate_series(0, 99) i));
EOF
chmod 644 "$WORK"/*.sql

# tps of a pgbench run: script, clients
tps() {
	"${AS[@]}" "$PGBIN/pgbench" -n -M prepared -c "$2" -j "$2" -T "$SECS" -f "$WORK/$1.sql" "$CI" 2>&1 |
		sed -n 's/^tps = \([0-9.]*\).*/\1/p'
}
# mean latency in ms of a pgbench run: script, clients
lat() {
	"${AS[@]}" "$PGBIN/pgbench" -n -M prepared -c "$2" -j "$2" -T "$SECS" -f "$WORK/$1.sql" "$CI" 2>&1 |
		sed -n 's/^latency average = \([0-9.]*\) ms.*/\1/p'
}

# c. the feed under the full write rate (first, on a quiet node)
start_cursor=$(psql_ -c "SELECT next_cursor FROM kv.changes('sess', NULL, 100000, 0) WHERE key IS NULL")
while [ "$(psql_ -c "SELECT count(*) FROM kv.changes('sess', '$start_cursor', 100000, 0) WHERE key IS NOT NULL")" != 0 ]; do
	start_cursor=$(psql_ -c "SELECT next_cursor FROM kv.changes('sess', '$start_cursor', 100000, 0) WHERE key IS NULL")
done
"${AS[@]}" "$GKV" watch -d "$CI" sess --after "$start_cursor" --timeout $((SECS + 20)) >"$WORK/watch.out" 2>"$WORK/watch.err" &
WATCHER=$!
sleep 1
feed_tps=$(tps put 4)
at_end=$(wc -l <"$WORK/watch.out")
# the first write after the run: how long until the watcher prints it
t_end=$(date +%s.%N)
psql_ -c "SELECT kv.put('sess', 'zz:sentinel', '{\"last\": true}')" >/dev/null
caught=""
for _ in $(seq 1 200); do
	if grep -q '"zz:sentinel"' "$WORK/watch.out"; then caught=$(awk -v a="$t_end" -v b="$(date +%s.%N)" 'BEGIN { printf "%.2f", b - a }'); break; fi
	sleep 0.05
done
kill "$WATCHER" 2>/dev/null || true
wait "$WATCHER" 2>/dev/null || true

put=$(tps put 4)
touch_=$(tps touch 4)
gat=$(tps get_and_touch 4)
put2=$(tps put 4)
scan=$(lat scan 1)
many=$(lat get_many 1)
scan2=$(lat scan 1)
many2=$(lat get_many 1)

ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'; }
verdict() { awk -v v="$1" -v t="$2" -v d="$3" 'BEGIN { print ((d == "ge" ? v >= t : v <= t) ? "met" : "MISSED") }'; }
putavg=$(awk -v a="$put" -v b="$put2" 'BEGIN { printf "%.0f", (a + b) / 2 }')
scanavg=$(awk -v a="$scan" -v b="$scan2" 'BEGIN { printf "%.3f", (a + b) / 2 }')
manyavg=$(awk -v a="$many" -v b="$many2" 'BEGIN { printf "%.3f", (a + b) / 2 }')

mkdir -p "$HERE/results"
REPORT=$HERE/results/session-$(date -u +%Y%m%dT%H%M%SZ).txt
{
	echo "session calls, $DOCS documents ($USERS users x 100), node1 of $ZONES zones x 1 node (defaults), ${SECS}s runs, $(date -u)"
	printf '  %-44s %10s tps (two runs: %s, %s)\n' "kv.put, c=4" "$putavg" "$put" "$put2"
	printf '  %-44s %10s tps  ratio %s  target >= 0.9  %s\n' "kv.touch, c=4" "$touch_" \
		"$(ratio "$touch_" "$putavg")" "$(verdict "$(ratio "$touch_" "$putavg")" 0.9 ge)"
	printf '  %-44s %10s tps  ratio %s  target >= 0.9  %s\n' "kv.get_and_touch, c=4" "$gat" \
		"$(ratio "$gat" "$putavg")" "$(verdict "$(ratio "$gat" "$putavg")" 0.9 ge)"
	printf '  %-44s %10s ms (runs: %s, %s)\n' "kv.get_many of one user's 100 keys, c=1" "$manyavg" "$many" "$many2"
	printf '  %-44s %10s ms  ratio %s  target <= 2  %s\n' "kv.scan of one user's prefix, page 100, c=1" "$scanavg" \
		"$(ratio "$scanavg" "$manyavg")" "$(verdict "$(ratio "$scanavg" "$manyavg")" 2 le)"
	printf '  %-44s %10s tps; the watcher had printed %s changes when they stopped\n' "kv.put, c=4, while globalkv watch follows" "$feed_tps" "$at_end"
	printf '  %-44s %10s s  target: keeps up (<= 1 s)  %s\n' "change feed: the next write printed after" "${caught:-(>10)}" \
		"$( [ -n "$caught" ] && awk -v c="$caught" 'BEGIN { print (c <= 1.0 ? "met" : "MISSED") }' || echo MISSED)"
} | tee "$REPORT"
