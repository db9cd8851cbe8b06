#!/usr/bin/env bash
# bench/run.sh -- globalkv benchmark driver (`make bench`); see bench/README.md.
#
# One fresh PostgreSQL 15 instance, one run: preload N keys into a raw table
# (the docs/ANCHORS.md baseline shape) and into globalkv, then alternate
# pgbench runs raw / kv / raw / kv ... and report kv/raw ratios measured in
# the same run on the same instance, plus the batch-put rate against COPY.
#
# Environment:
#   BENCH_SECONDS   seconds per pgbench run           (default 10; quick 3)
#   BENCH_QUICK=1   smoke test: 100k keys, 3 s runs, smaller batch phase
#   BENCH_KEYS      preloaded keys                    (default 1000000; quick 100000)
#   BENCH_CLIENTS   client counts                     (default "1 4")
#   BENCH_CHUNK     documents per kv.put_many call    (default 10000)
#   BENCH_BATCH     fresh keys per batch round, 2 rounds (default 100000; quick 20000)
#   PG_BINDIR       PostgreSQL binaries               (default: pg_config --bindir of PG15)
#   BENCH_KEEP=1    keep the temp dir (data dir, server log) for inspection
#
# Run as root: the server, psql and pgbench run as user globalkv (created if
# missing).  Run as any other user: they run as that user.

set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
PG_CONFIG=${PG_CONFIG:-/usr/lib/postgresql/15/bin/pg_config}
PGBIN=${PG_BINDIR:-$("$PG_CONFIG" --bindir)}

QUICK=${BENCH_QUICK:-0}
if [ "$QUICK" = 1 ]; then
	NKEYS=${BENCH_KEYS:-100000}
	SECS=${BENCH_SECONDS:-3}
	NBATCH=${BENCH_BATCH:-20000}
	MODE=quick
else
	NKEYS=${BENCH_KEYS:-1000000}
	SECS=${BENCH_SECONDS:-10}
	NBATCH=${BENCH_BATCH:-100000}
	MODE=full
fi
CLIENTS=${BENCH_CLIENTS:-"1 4"}
CHUNK=${BENCH_CHUNK:-10000}
DB=globalkv_bench
NS=bench

for v in NKEYS SECS NBATCH CHUNK; do
	if ! [[ ${!v} =~ ^[1-9][0-9]*$ ]]; then
		echo "bench: $v must be a positive integer, not '${!v}'" >&2
		exit 2
	fi
done

log() { printf '[bench %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
now() { date +%s.%N; }

# ---------------------------------------------------------------------------
# Who runs PostgreSQL
# ---------------------------------------------------------------------------
if [ "$(id -u)" = 0 ]; then
	PGOSUSER=globalkv
	if ! id "$PGOSUSER" >/dev/null 2>&1; then
		log "creating user $PGOSUSER"
		useradd --system --user-group --no-create-home --shell /usr/sbin/nologin "$PGOSUSER"
	fi
	AS=(runuser -u "$PGOSUSER" --)
else
	PGOSUSER=$(id -un)
	AS=()
fi

TMP=$(mktemp -d "${TMPDIR:-/tmp}/globalkv-bench.XXXXXX")
chmod 700 "$TMP"
[ "$(id -u)" = 0 ] && chown "$PGOSUSER": "$TMP"
cd "$TMP"		# a directory the server user can enter
DATA=$TMP/data
SERVERLOG=$TMP/server.log
PORT=
STARTED=0

cleanup() {
	local rc=$?
	trap - EXIT INT TERM
	if [ "$STARTED" = 1 ]; then
		# immediate: the data directory is thrown away, a shutdown
		# checkpoint of up to 1 GB of dirty buffers would only cost time
		"${AS[@]}" "$PGBIN/pg_ctl" -D "$DATA" -m immediate -w stop >/dev/null 2>&1 || true
	fi
	if [ "$rc" != 0 ] && [ -f "$SERVERLOG" ]; then
		echo "---- last lines of the server log ($SERVERLOG) ----" >&2
		tail -n 30 "$SERVERLOG" >&2 || true
	fi
	cd /
	if [ "${BENCH_KEEP:-0}" = 1 ]; then
		log "kept $TMP"
	else
		rm -rf "$TMP"
	fi
	exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# the pgbench scripts, readable by the server user
cp "$HERE"/raw_*.sql "$HERE"/kv_*.sql "$HERE"/setup.sql "$TMP"/
[ "$(id -u)" = 0 ] && chown "$PGOSUSER": "$TMP"/*.sql

# ---------------------------------------------------------------------------
# Instance
# ---------------------------------------------------------------------------
log "initdb in $DATA ($MODE mode: $NKEYS keys, ${SECS}s per run, clients: $CLIENTS)"
"${AS[@]}" "$PGBIN/initdb" -D "$DATA" -U "$PGOSUSER" --auth=trust -E UTF8 --no-locale \
	--no-instructions >"$TMP/initdb.log" 2>&1 || { cat "$TMP/initdb.log" >&2; exit 1; }
cat >>"$DATA/postgresql.conf" <<EOF

# bench/run.sh
listen_addresses = '127.0.0.1'
unix_socket_directories = '$TMP'
shared_buffers = 1GB
synchronous_commit = off
shared_preload_libraries = 'globalkv'
globalkv.database = '$DB'
max_connections = 40
# no checkpoint in the middle of a run: run.sh checkpoints before each run
max_wal_size = 16GB
checkpoint_timeout = 30min
EOF

port_in_use() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
base=$((20000 + (RANDOM * 32768 + RANDOM) % 40000))
for ((i = 0; i < 40; i++)); do
	p=$((base + i * 7))
	port_in_use "$p" && continue
	if "${AS[@]}" "$PGBIN/pg_ctl" -D "$DATA" -l "$SERVERLOG" -o "-p $p" -w -t 120 start >/dev/null 2>&1; then
		PORT=$p
		STARTED=1
		break
	fi
	# lost a race for the port, or a real failure: try the next port only
	# if the log says the address was taken
	grep -q 'could not bind\|Address already in use' "$SERVERLOG" 2>/dev/null || exit 1
done
[ -n "$PORT" ] || { echo "bench: no free port found" >&2; exit 1; }
log "server up on 127.0.0.1:$PORT (pid $(head -n1 "$DATA/postmaster.pid"))"

CONN=(-h 127.0.0.1 -p "$PORT" -U "$PGOSUSER")
psql_() { "${AS[@]}" "$PGBIN/psql" "${CONN[@]}" -X -q -v ON_ERROR_STOP=1 "$@"; }
psqldb() { psql_ -d "$DB" "$@"; }
val() { psqldb -At -c "$1"; }

psql_ -d postgres -c "CREATE DATABASE $DB"
psqldb -f "$TMP/setup.sql" >/dev/null
DOC=$(val "SELECT bench_doc(0)::text")
DOCLEN=$(val "SELECT avg(length(bench_doc(g)::text))::int FROM generate_series(1, 1000) g")
PGVER=$(val "SHOW server_version")

# ---------------------------------------------------------------------------
# Preload
# ---------------------------------------------------------------------------
log "preloading $NKEYS keys into bench_raw (INSERT ... SELECT)"
t0=$(now)
psqldb -c "INSERT INTO bench_raw SELECT '$NS', g::text, now(), 1, bench_doc(g) FROM generate_series(1, $NKEYS) g"
t1=$(now)
RAW_PRELOAD=$(awk -v n="$NKEYS" -v a="$t0" -v b="$t1" 'BEGIN { printf "%.0f", n / (b - a) }')
psqldb -c CHECKPOINT

log "preloading $NKEYS keys into kv (kv.put_many, chunks of $CHUNK)"
{
	for ((lo = 1; lo <= NKEYS; lo += CHUNK)); do
		hi=$((lo + CHUNK - 1))
		((hi > NKEYS)) && hi=$NKEYS
		echo "SELECT count(*) FROM kv.put_many('$NS'," \
			"ARRAY(SELECT g::text FROM generate_series($lo, $hi) g)," \
			"ARRAY(SELECT bench_doc(g) FROM generate_series($lo, $hi) g), 'NO_EXPIRE');"
	done
} >"$TMP/preload_kv.sql"
t0=$(now)
psqldb -At -f "$TMP/preload_kv.sql" >"$TMP/preload_kv.out"
t1=$(now)
KV_PRELOAD=$(awk -v n="$NKEYS" -v a="$t0" -v b="$t1" 'BEGIN { printf "%.0f", n / (b - a) }')
got=$(awk '{ s += $1 } END { print s + 0 }' "$TMP/preload_kv.out")
[ "$got" = "$NKEYS" ] || { echo "bench: kv.put_many preload wrote $got of $NKEYS" >&2; exit 1; }
[ -n "$(val "SELECT kv.get('$NS', '$NKEYS')")" ] || { echo "bench: kv.get after preload found nothing" >&2; exit 1; }
log "preload: raw INSERT...SELECT $RAW_PRELOAD rows/s, kv.put_many $KV_PRELOAD docs/s"
psqldb -c "VACUUM ANALYZE" -c CHECKPOINT

# ---------------------------------------------------------------------------
# pgbench runs, raw and kv alternating
# ---------------------------------------------------------------------------
declare -A TPS LAT
FAILED=0
DETAILS=$TMP/details.txt
: >"$DETAILS"

# bench <name> <script> <clients>
bench() {
	local name=$1 script=$2 c=$3 out rc=0 tps lat
	psqldb -c VACUUM -c CHECKPOINT
	out=$("${AS[@]}" "$PGBIN/pgbench" "${CONN[@]}" -M prepared -n -T "$SECS" -j 2 -c "$c" \
		-D nkeys="$NKEYS" -D doc="$DOC" -f "$TMP/$script" "$DB" 2>&1) || rc=$?
	tps=$(sed -n 's/^tps = \([0-9.]*\) .*/\1/p' <<<"$out" | head -n1)
	lat=$(sed -n 's/^latency average = \([0-9.]*\) ms.*/\1/p' <<<"$out" | head -n1)
	{
		echo "==== $name c=$c ($script, exit $rc)"
		echo "$out"
		echo
	} >>"$DETAILS"
	if [ "$rc" != 0 ] || [ -z "$tps" ] || grep -q 'aborted\|^number of failed transactions: [1-9]' <<<"$out"; then
		FAILED=1
		log "$name c=$c FAILED (exit $rc):"
		grep -m3 -i 'error\|aborted\|failed' <<<"$out" >&2 || true
		tps=${tps:-0}
	fi
	TPS[$name,$c]=${tps%.*}
	LAT[$name,$c]=${lat:-?}
	log "$(printf '%-16s c=%s %8s tps  %s ms' "$name" "$c" "${TPS[$name,$c]}" "${LAT[$name,$c]}")"
}

for c in $CLIENTS; do
	bench raw_upsert raw_upsert.sql "$c"
	bench kv_put kv_put.sql "$c"
	bench raw_select raw_select.sql "$c"
	bench kv_get kv_get.sql "$c"
	bench raw_upsert2 raw_upsert.sql "$c"
	bench kv_patch kv_patch_numeric.sql "$c"
done

# ---------------------------------------------------------------------------
# Batch put over fresh keys vs COPY of the same rows, 2 alternating rounds.
# Both are fed from files by the client, as an application would send them.
# ---------------------------------------------------------------------------
psqldb -c VACUUM -c CHECKPOINT
KV_BATCH_T=0
COPY_BATCH_T=0
for round in 1 2; do
	first=$((NKEYS + (round - 1) * NBATCH + 1))
	last=$((first + NBATCH - 1))
	log "batch round $round: keys $first..$last"
	psqldb -At -c "
		SELECT format('SELECT count(*) FROM kv.put_many(%L, %L::text[], %L::jsonb[], %L);',
		              '$NS', array_agg(g::text ORDER BY g), array_agg(bench_doc(g) ORDER BY g), 'NO_EXPIRE')
		  FROM generate_series($first, $last) g
		 GROUP BY (g - $first) / $CHUNK ORDER BY (g - $first) / $CHUNK" >"$TMP/batch_kv.sql"
	psqldb -c "COPY (SELECT '$NS', g::text, now(), 1, bench_doc(g) FROM generate_series($first, $last) g) TO STDOUT" \
		>"$TMP/batch_copy.dat"
	psqldb -c CHECKPOINT
	t0=$(now)
	psqldb -At -f - <"$TMP/batch_kv.sql" >"$TMP/batch_kv.out"
	t1=$(now)
	got=$(awk '{ s += $1 } END { print s + 0 }' "$TMP/batch_kv.out")
	[ "$got" = "$NBATCH" ] || { echo "bench: kv.put_many batch wrote $got of $NBATCH" >&2; exit 1; }
	KV_BATCH_T=$(awk -v s="$KV_BATCH_T" -v a="$t0" -v b="$t1" 'BEGIN { print s + b - a }')
	psqldb -c CHECKPOINT
	t0=$(now)
	psqldb -c "COPY bench_raw FROM STDIN" <"$TMP/batch_copy.dat"
	t1=$(now)
	COPY_BATCH_T=$(awk -v s="$COPY_BATCH_T" -v a="$t0" -v b="$t1" 'BEGIN { print s + b - a }')
done
KV_BATCH=$(awk -v n="$NBATCH" -v t="$KV_BATCH_T" 'BEGIN { printf "%.0f", 2 * n / t }')
COPY_BATCH=$(awk -v n="$NBATCH" -v t="$COPY_BATCH_T" 'BEGIN { printf "%.0f", 2 * n / t }')
STATS=$(psqldb -c "SELECT puts, gets, patches, inserts, updates, conflicts FROM kv.stats")

# ---------------------------------------------------------------------------
# Report
# ---------------------------------------------------------------------------
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "n/a" }'; }
verdict() { awk -v r="$1" -v t="$2" 'BEGIN { if (r == "n/a") print "n/a"; else if (r + 0 >= t) print "met"; else print "MISSED" }'; }

STAMP=$(date +%Y%m%d-%H%M%S)
COMMIT=$(git -C "$HERE/.." rev-parse --short HEAD 2>/dev/null || echo unknown)
DIRTY=$(git -C "$HERE/.." status --porcelain -- src sql 2>/dev/null | wc -l)
{
	echo "globalkv benchmark  $(date '+%Y-%m-%d %H:%M:%S %Z')  mode=$MODE"
	echo "commit $COMMIT$([ "$DIRTY" -gt 0 ] && echo " (+$DIRTY uncommitted changes in src/ sql/)")," \
		"PostgreSQL $PGVER, $(nproc) CPUs, load average at end: $(cut -d' ' -f1-3 /proc/loadavg)"
	echo "one instance: shared_buffers=1GB synchronous_commit=off fsync=on, locale C;" \
		"VACUUM + CHECKPOINT before every run"
	echo "$NKEYS preloaded keys, uniform random keys, ${DOCLEN}-byte JSON documents;" \
		"pgbench TCP 127.0.0.1 -M prepared -n -T $SECS -j 2"
	echo
	printf '%-32s %3s %10s %10s %7s %8s  %s\n' "measure (kv vs raw)" "c" "raw tps" "kv tps" "kv/raw" "target" ""
	for c in $CLIENTS; do
		for m in "kv.put / raw upsert|raw_upsert|kv_put|1.0" \
			"kv.get / raw PK select|raw_select|kv_get|1.0" \
			"kv.patch_numeric / raw upsert|raw_upsert2|kv_patch|0.9"; do
			IFS='|' read -r label raw kv target <<<"$m"
			r=$(ratio "${TPS[$kv,$c]}" "${TPS[$raw,$c]}")
			printf '%-32s %3s %10s %10s %7s %8s  %s\n' "$label" "$c" "${TPS[$raw,$c]}" "${TPS[$kv,$c]}" \
				"$r" ">= $target" "$(verdict "$r" "$target")"
		done
	done
	echo
	r=$(ratio "$KV_PRELOAD" 150000)
	printf '%-52s %10s docs/s   target >= 150000  %s\n' \
		"batch put, preload $NKEYS (kv.put_many x $CHUNK)" "$KV_PRELOAD" "$(verdict "$r" 1)"
	printf '%-52s %10s rows/s\n' "raw preload, one INSERT ... SELECT" "$RAW_PRELOAD"
	r=$(ratio "$KV_BATCH" 150000)
	printf '%-52s %10s docs/s   target >= 150000  %s\n' \
		"batch put, $((2 * NBATCH)) fresh keys (kv.put_many x $CHUNK)" "$KV_BATCH" "$(verdict "$r" 1)"
	printf '%-52s %10s rows/s\n' "COPY FROM STDIN of the same rows into bench_raw" "$COPY_BATCH"
	printf '%-52s %10s          (ANCHORS: 150k/COPY ~ 0.75)\n' "batch put / COPY" "$(ratio "$KV_BATCH" "$COPY_BATCH")"
	echo
	[ "$FAILED" = 1 ] && echo "SOME RUNS FAILED: see the pgbench output in the .log file" && echo
	echo "kv.stats at the end:"
	echo "$STATS"
} >"$TMP/report.txt"

mkdir -p "$HERE/results"
cp "$TMP/report.txt" "$HERE/results/$STAMP.txt"
cp "$DETAILS" "$HERE/results/$STAMP.log"
echo
cat "$TMP/report.txt"
echo
echo "written to bench/results/$STAMP.txt (pgbench output: bench/results/$STAMP.log)"
[ "$FAILED" = 0 ]
