#!/usr/bin/env bash
# bench/load.sh -- `globalkv load` into a parade made with its defaults
# (issue #11: >= 150,000 documents/s), beside the fastest way PostgreSQL
# itself takes the same file (COPY into a plain table, parsing each line as
# jsonb), measured in the same run on the same node.
#
#   BENCH_DOCS    documents in the file        (default 500000)
#   BENCH_ZONES   zones of the parade          (default 2)
#   GLOBALKV      the CLI                      (default: globalkv in PATH)
#
# Run as root (the servers then run as user globalkv) or as the servers'
# user.  The parade lives in a mktemp dir on a free port and is stopped on
# exit.  Report: bench/results/load-<timestamp>.txt.  ~1 minute.

set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
DOCS=${BENCH_DOCS:-500000}
ZONES=${BENCH_ZONES:-2}
NAME=load PORT_FROM=17400
. "$HERE/parade_env.sh"

# session documents of ~150 bytes, as in docs/ANCHORS.md
FILE=$WORK/docs.jsonl
awk -v n="$DOCS" 'BEGIN { for (i = 0; i < n; i++)
	printf "{\"key\": \"user:%d:session\", \"value\": {\"user\": %d, \"cart\": [%d, %d], \"theme\": \"dark\", \"seen\": \"2026-12-04T21:00:00Z\", \"pad\": \"%s\"}}\n",
		i, i, i % 97, i % 89, "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx" }' >"$FILE"
chmod 644 "$FILE"

# baseline: COPY of the same lines into a plain table, each parsed as jsonb
psql_ -c "CREATE TABLE bench_copy (doc jsonb)"
t0=$(date +%s.%N)
psql_ -c "\\copy bench_copy FROM '$FILE' WITH (FORMAT csv, QUOTE E'\\x01', DELIMITER E'\\x02')"
t1=$(date +%s.%N)
copy_rate=$(awk -v n="$DOCS" -v a="$t0" -v b="$t1" 'BEGIN { printf "%.0f", n / (b - a) }')
psql_ -c "DROP TABLE bench_copy"

psql_ -c "SELECT kv.create_namespace('bench_load')" >/dev/null
"${AS[@]}" "$GKV" load -d "$CI" bench_load "$FILE" --jobs "${BENCH_JOBS:-4}" >"$WORK/load.out" 2>"$WORK/load.err" ||
	{ cat "$WORK/load.out" "$WORK/load.err" >&2; exit 1; }
load_rate=$(sed -n 's/.*(\([0-9]*\) documents\/s).*/\1/p' "$WORK/load.out")
loaded=$(psql_ -c "SELECT count(*) FROM kv.docs WHERE namespace = 'bench_load'")
[ "$loaded" = "$DOCS" ] || { echo "load bench: $loaded documents readable, expected $DOCS" >&2; exit 1; }

mkdir -p "$HERE/results"
REPORT=$HERE/results/load-$(date -u +%Y%m%dT%H%M%SZ).txt
{
	echo "globalkv load, $DOCS documents, parade of $ZONES zones x 1 node (defaults: durable commits, TLS), $(date -u)"
	printf '  %-52s %8s docs/s\n' "COPY into a plain jsonb table (baseline)" "$copy_rate"
	printf '  %-52s %8s docs/s  target >= 150000  %s\n' "globalkv load (JSON lines)" "$load_rate" \
		"$(awk -v v="$load_rate" 'BEGIN { print (v >= 150000 ? "met" : "MISSED") }')"
	printf '  %-52s %8s\n' "ratio load / COPY" "$(awk -v a="$load_rate" -v b="$copy_rate" 'BEGIN { printf "%.2f", a / b }')"
} | tee "$REPORT"
