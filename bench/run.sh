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
#   BENCH_WARMUP    seconds of unrecorded warm-up per script (default 3; quick 1)
#   BENCH_ROUNDS    passes over all runs, tps averaged (default 1; each adds ~2 min)
#   BENCH_RETRY_OTHER  re-run a raw/kv pair when other processes took this % of
#                   the CPUs during it (default 10; at most 2 re-runs per pair)
#   BENCH_BUDGET    seconds after which no pair is re-run (default 330; quick 120)
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
	WARMUP=${BENCH_WARMUP:-1}
	BUDGET=${BENCH_BUDGET:-120}
	MODE=quick
else
	NKEYS=${BENCH_KEYS:-1000000}
	SECS=${BENCH_SECONDS:-10}
	NBATCH=${BENCH_BATCH:-100000}
	WARMUP=${BENCH_WARMUP:-3}
	BUDGET=${BENCH_BUDGET:-330}
	MODE=full
fi
CLIENTS=${BENCH_CLIENTS:-"1 4"}
ROUNDS=${BENCH_ROUNDS:-1}
RETRY_OTHER=${BENCH_RETRY_OTHER:-10}
RETRIES=0
CHUNK=${BENCH_CHUNK:-10000}
DB=globalkv_bench
NS=bench

for v in NKEYS SECS NBATCH CHUNK ROUNDS WARMUP BUDGET RETRY_OTHER; do
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
LOAD0=$(cut -d' ' -f1-3 /proc/loadavg)
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
# no checkpoint after the one that follows the preload (a full run writes
# ~3 GB of WAL), and keep WAL segments for reuse rather than create new ones
max_wal_size = 16GB
min_wal_size = 4GB
checkpoint_timeout = 30min
EOF

port_in_use() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
base=$((20000 + (RANDOM * 32768 + RANDOM) % 40000))
for ((i = 0; i < 40; i++)); do
	p=$((base + i * 7))
	port_in_use "$p" && continue
	STARTED=1	# from here on, cleanup tries to stop it
	rm -f "$SERVERLOG"
	if "${AS[@]}" "$PGBIN/pg_ctl" -D "$DATA" -l "$SERVERLOG" -o "-p $p" -w -t 120 start >"$TMP/pg_ctl.out" 2>&1; then
		PORT=$p
		break
	fi
	# lost a race for the port, or a real failure: try the next port only
	# if the log says the address was taken
	grep -q 'could not bind\|Address already in use' "$SERVERLOG" 2>/dev/null || { cat "$TMP/pg_ctl.out" >&2; exit 1; }
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
# what the server loaded (the source tree may have moved on since make install)
SOFILE=$("$PG_CONFIG" --pkglibdir)/globalkv.so
SOID="$(md5sum "$SOFILE" | cut -c1-12), installed $(date -r "$SOFILE" '+%Y-%m-%d %H:%M:%S')"

# ---------------------------------------------------------------------------
# Preload.  The documents are generated once into an unlogged staging table
# (not timed: bench_doc() costs ~4 us a call, as much as the write itself),
# and both preloads read them from there.
# ---------------------------------------------------------------------------
NSRC=$((NKEYS + 2 * NBATCH))
log "generating $NSRC documents into a staging table (not timed)"
psqldb -c "CREATE UNLOGGED TABLE bench_src AS
             SELECT g, g::text AS key, bench_doc(g) AS doc FROM generate_series(1, $NSRC) g" \
       -c "ALTER TABLE bench_src ADD PRIMARY KEY (g)" -c "VACUUM ANALYZE bench_src" -c CHECKPOINT

log "preloading $NKEYS keys into bench_raw (one INSERT ... SELECT)"
t0=$(now)
psqldb -c "INSERT INTO bench_raw SELECT '$NS', key, now(), 1, doc FROM bench_src WHERE g <= $NKEYS ORDER BY g"
t1=$(now)
RAW_PRELOAD=$(awk -v n="$NKEYS" -v a="$t0" -v b="$t1" 'BEGIN { printf "%.0f", n / (b - a) }')
psqldb -c CHECKPOINT

log "preloading $NKEYS keys into kv (kv.put_many, chunks of $CHUNK)"
{
	for ((lo = 1; lo <= NKEYS; lo += CHUNK)); do
		hi=$((lo + CHUNK - 1))
		((hi > NKEYS)) && hi=$NKEYS
		echo "SELECT count(*) FROM kv.put_many('$NS'," \
			"ARRAY(SELECT key FROM bench_src WHERE g BETWEEN $lo AND $hi ORDER BY g)," \
			"ARRAY(SELECT doc FROM bench_src WHERE g BETWEEN $lo AND $hi ORDER BY g), 'NO_EXPIRE');"
	done
} >"$TMP/preload_kv.sql"
t0=$(now)
psqldb -At -f - <"$TMP/preload_kv.sql" >"$TMP/preload_kv.out"
t1=$(now)
KV_PRELOAD=$(awk -v n="$NKEYS" -v a="$t0" -v b="$t1" 'BEGIN { printf "%.0f", n / (b - a) }')
got=$(awk '{ s += $1 } END { print s + 0 }' "$TMP/preload_kv.out")
[ "$got" = "$NKEYS" ] || { echo "bench: kv.put_many preload wrote $got of $NKEYS" >&2; exit 1; }
[ "$(val "SELECT kv.get('$NS', '$NKEYS') = bench_doc($NKEYS)")" = t ] ||
	{ echo "bench: kv.get after the preload does not return the document put" >&2; exit 1; }
log "preload: raw INSERT...SELECT $RAW_PRELOAD rows/s, kv.put_many $KV_PRELOAD docs/s"

# The batch phase's input, written now while the staging table exists: for
# each of 2 rounds of NBATCH fresh keys, the kv.put_many statements (array
# literals, as a client would send them) and COPY text of the same rows.
for round in 1 2; do
	first=$((NKEYS + (round - 1) * NBATCH + 1))
	last=$((first + NBATCH - 1))
	psqldb -At -c "
		SELECT format('SELECT count(*) FROM kv.put_many(%L, %L::text[], %L::jsonb[], %L);',
		              '$NS', array_agg(key ORDER BY g), array_agg(doc ORDER BY g), 'NO_EXPIRE')
		  FROM bench_src WHERE g BETWEEN $first AND $last
		 GROUP BY (g - $first) / $CHUNK ORDER BY (g - $first) / $CHUNK" >"$TMP/batch_kv.$round.sql"
	psqldb -c "COPY (SELECT '$NS', key, now(), 1, doc FROM bench_src
	                  WHERE g BETWEEN $first AND $last ORDER BY g) TO STDOUT" >"$TMP/batch_copy.$round.dat"
done
psqldb -c "DROP TABLE bench_src" -c "VACUUM ANALYZE" -c CHECKPOINT

# ---------------------------------------------------------------------------
# pgbench runs, raw and kv alternating
# ---------------------------------------------------------------------------
declare -A TPS FOREIGN CPU WAL
HZ=$(getconf CLK_TCK)
FAILED=0
DETAILS=$TMP/details.txt
: >"$DETAILS"
PMPID=$(head -n1 "$DATA/postmaster.pid")

# CPU accounting, in clock ticks, to tell how much of the machine other
# processes used during a run (these machines are shared: noise indicator).
# cpu_now prints: busy (user+nice+system of all CPUs), total, ours, where
# ours = this instance (postmaster, its children, reaped backends) plus what
# this script's reaped children (pgbench, psql) used.
ticks() { [ -r "/proc/$1/stat" ] && sed 's/.*) //' "/proc/$1/stat" | awk '{ print $12 + $13 + $14 + $15 }' || echo 0; }
cpu_now() {
	local busy total ours=0 p
	read -r busy total < <(awk '/^cpu / { print $2 + $3 + $4, $2 + $3 + $4 + $5 + $6 + $7 + $8 + $9 }' /proc/stat)
	for p in "$PMPID" $(pgrep -P "$PMPID" || true) $$; do
		ours=$((ours + $(ticks "$p")))
	done
	echo "$busy $total $ours"
}
# foreign_pct <cpu_now before> <cpu_now after>: % of all CPUs other processes used
foreign_pct() {
	local f
	f=$(awk -v b=$(($4 - $1)) -v t=$(($5 - $2)) -v o=$(($6 - $3)) \
		'BEGIN { f = t > 0 ? 100 * (b - o) / t : 0; printf "%.0f", f < 0 ? 0 : f }')
	echo "$f"
}

# bench <name> <script> <clients>
bench() {
	local name=$1 script=$2 c=$3 out rc=0 tps lat b0 t0 o0 b1 t1 o1 foreign ntx wal cpu
	psqldb -c VACUUM -c "SELECT pg_stat_reset_shared('wal')" >/dev/null
	read -r b0 t0 o0 < <(cpu_now)
	out=$("${AS[@]}" "$PGBIN/pgbench" "${CONN[@]}" -M prepared -n -T "$SECS" -j 2 -c "$c" \
		-D nkeys="$NKEYS" -D doc="$DOC" -f "$TMP/$script" "$DB" 2>&1) || rc=$?
	tps=$(sed -n 's/^tps = \([0-9.]*\) .*/\1/p' <<<"$out" | head -n1)
	lat=$(sed -n 's/^latency average = \([0-9.]*\) ms.*/\1/p' <<<"$out" | head -n1)
	sleep 0.2	# let the postmaster reap the backends
	read -r b1 t1 o1 < <(cpu_now)
	foreign=$(foreign_pct "$b0" "$t0" "$o0" "$b1" "$t1" "$o1")
	ntx=$(sed -n 's/^number of transactions actually processed: \([0-9]*\).*/\1/p' <<<"$out" | head -n1)
	ntx=${ntx:-0}
	# CPU of this instance and pgbench per transaction, WAL per transaction
	cpu=$(awk -v o=$((o1 - o0)) -v hz="$HZ" -v n="$ntx" 'BEGIN { printf "%.0f", n ? o * 1e6 / hz / n : 0 }')
	wal=$(val "SELECT CASE WHEN $ntx > 0 THEN round(wal_bytes / $ntx) || ' ' || round(wal_fpi::numeric / $ntx, 2) ELSE '0 0' END FROM pg_stat_wal")
	{
		echo "==== round $ROUND: $name c=$c ($script, exit $rc; other processes used $foreign% of the CPUs;" \
			"CPU ${cpu} us/txn (server + pgbench); WAL bytes, full-page images per txn: $wal)"
		echo "$out"
		echo
	} >>"$DETAILS"
	if [ "$rc" != 0 ] || [ -z "$tps" ] || grep -q 'aborted\|^number of failed transactions: [1-9]' <<<"$out"; then
		FAILED=1
		log "$name c=$c FAILED (exit $rc):"
		grep -m3 -i 'error\|aborted\|failed' <<<"$out" >&2 || true
		tps=${tps:-0}
	fi
	R_TPS=${tps%.*} R_CPU=$cpu R_WAL=${wal%% *} R_FOREIGN=$foreign
	log "$(printf '%-12s c=%s %7s tps %6s ms %5s us CPU/txn %5s B WAL/txn %5s FPI/txn  other processes: %s%% CPU' \
		"$name" "$c" "$R_TPS" "${lat:-?}" "$cpu" "${wal%% *}" "${wal##* }" "$foreign")"
}

# pair <raw name> <raw script> <kv name> <kv script> <clients>: a raw run then
# a kv run.  When other processes took RETRY_OTHER % or more of the CPUs in
# either run, the pair is run again (at most twice, and only while the run
# stays within BUDGET seconds); the least disturbed attempt is kept.
pair() {
	local rn=$1 rs=$2 kn=$3 ks=$4 c=$5 attempt dist best=999 keep
	for ((attempt = 1; ; attempt++)); do
		bench "$rn" "$rs" "$c"
		local rt=$R_TPS rc_=$R_CPU rw=$R_WAL rf=$R_FOREIGN
		bench "$kn" "$ks" "$c"
		dist=$((rf > R_FOREIGN ? rf : R_FOREIGN))
		if ((dist < best)); then
			best=$dist
			keep="$rt $rc_ $rw $rf $R_TPS $R_CPU $R_WAL $R_FOREIGN"
		fi
		((dist < RETRY_OTHER)) && break
		if ((attempt > 2 || SECONDS + 2 * (SECS + 3) > BUDGET)); then
			log "pair $rn/$kn c=$c disturbed (other processes: $dist% CPU), no retry left: keeping the least disturbed attempt"
			break
		fi
		log "pair $rn/$kn c=$c disturbed (other processes: $dist% CPU): running it again"
		RETRIES=$((RETRIES + 1))
	done
	record "$rn" "$c" ${keep% * * * *}
	record "$kn" "$c" ${keep#* * * * }
}

# record <name> <clients> <tps> <cpu> <wal> <foreign>: over BENCH_ROUNDS
# rounds, mean tps and CPU, last WAL, highest share of other processes
record() {
	local name=$1 c=$2
	TPS[$name,$c]=$(( (${TPS[$name,$c]:-0} * (ROUND - 1) + $3) / ROUND ))
	CPU[$name,$c]=$(( (${CPU[$name,$c]:-0} * (ROUND - 1) + $4) / ROUND ))
	WAL[$name,$c]=$5
	FOREIGN[$name,$c]=$(($6 > ${FOREIGN[$name,$c]:-0} ? $6 : ${FOREIGN[$name,$c]:-0}))
}

# Warm-up, not recorded: every script once at 4 clients, so that every run
# finds its pages in shared buffers and already logged since the checkpoint
# after the preload (no run pays the full-page-image burst that follows a
# checkpoint, and none is interrupted by one: see max_wal_size above).
ROUND=0
for script in raw_upsert kv_put raw_select kv_get kv_patch_numeric; do
	log "warm-up: $script, ${WARMUP}s"
	"${AS[@]}" "$PGBIN/pgbench" "${CONN[@]}" -M prepared -n -T "$WARMUP" -j 2 -c 4 \
		-D nkeys="$NKEYS" -D doc="$DOC" -f "$TMP/$script.sql" "$DB" >"$TMP/warmup.out" 2>&1 ||
		{ cat "$TMP/warmup.out" >&2; FAILED=1; }
done

for ((ROUND = 1; ROUND <= ROUNDS; ROUND++)); do
	for c in $CLIENTS; do
		pair raw_upsert raw_upsert.sql kv_put kv_put.sql "$c"
		pair raw_select raw_select.sql kv_get kv_get.sql "$c"
		pair raw_upsert2 raw_upsert.sql kv_patch kv_patch_numeric.sql "$c"
	done
done

# ---------------------------------------------------------------------------
# Batch put over fresh keys vs COPY of the same rows, 2 alternating rounds.
# Both are fed from files by the client, as an application would send them.
# ---------------------------------------------------------------------------
KV_BATCH_T=0
COPY_BATCH_T=0
read -r bb0 bt0 bo0 < <(cpu_now)
for round in 1 2; do
	log "batch round $round: kv.put_many then COPY, $NBATCH fresh keys each"
	psqldb -c VACUUM
	t0=$(now)
	psqldb -At -f - <"$TMP/batch_kv.$round.sql" >"$TMP/batch_kv.out"
	t1=$(now)
	got=$(awk '{ s += $1 } END { print s + 0 }' "$TMP/batch_kv.out")
	[ "$got" = "$NBATCH" ] || { echo "bench: kv.put_many batch wrote $got of $NBATCH" >&2; exit 1; }
	KV_BATCH_T=$(awk -v s="$KV_BATCH_T" -v a="$t0" -v b="$t1" 'BEGIN { print s + b - a }')
	t0=$(now)
	psqldb -c "COPY bench_raw FROM STDIN" <"$TMP/batch_copy.$round.dat"
	t1=$(now)
	COPY_BATCH_T=$(awk -v s="$COPY_BATCH_T" -v a="$t0" -v b="$t1" 'BEGIN { print s + b - a }')
done
sleep 0.2
read -r bb1 bt1 bo1 < <(cpu_now)
FOREIGN[batch]=$(foreign_pct "$bb0" "$bt0" "$bo0" "$bb1" "$bt1" "$bo1")
KV_BATCH=$(awk -v n="$NBATCH" -v t="$KV_BATCH_T" 'BEGIN { printf "%.0f", 2 * n / t }')
COPY_BATCH=$(awk -v n="$NBATCH" -v t="$COPY_BATCH_T" 'BEGIN { printf "%.0f", 2 * n / t }')
SO_REPLACED=0
grep -q 'globalkv\.so (deleted)' "/proc/$PMPID/maps" 2>/dev/null && SO_REPLACED=1
STATS=$(psqldb -c "SELECT puts, gets, patches, inserts, updates, conflicts FROM kv.stats")

# ---------------------------------------------------------------------------
# Report
# ---------------------------------------------------------------------------
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "n/a" }'; }
verdict() { awk -v r="$1" -v t="$2" 'BEGIN { if (r == "n/a") print "n/a"; else if (r + 0 >= t) print "met"; else print "MISSED" }'; }

STAMP=$(date +%Y%m%d-%H%M%S)
COMMIT=$(git -C "$HERE/.." rev-parse --short HEAD 2>/dev/null || echo unknown)
DIRTY=$({ git -C "$HERE/.." status --porcelain -- src sql 2>/dev/null || true; } | wc -l)
FOREIGN_MAX=0
for k in "${!FOREIGN[@]}"; do
	if ((FOREIGN[$k] > FOREIGN_MAX)); then FOREIGN_MAX=${FOREIGN[$k]}; fi
done
{
	echo "globalkv benchmark  $(date '+%Y-%m-%d %H:%M:%S %Z')  mode=$MODE"
	echo "commit $COMMIT$([ "$DIRTY" -gt 0 ] && echo " (+$DIRTY uncommitted changes in src/ sql/)")," \
		"globalkv.so md5 $SOID"
	echo "PostgreSQL $PGVER, $(nproc) CPUs, load average at start: $LOAD0, at end: $(cut -d' ' -f1-3 /proc/loadavg)"
	echo "one instance: shared_buffers=1GB synchronous_commit=off fsync=on, locale C;" \
		"warm-up ${WARMUP}s per script, VACUUM before every run, no checkpoint after the preload"
	echo "$NKEYS preloaded keys, uniform random keys, ${DOCLEN}-byte JSON documents;" \
		"pgbench TCP 127.0.0.1 -M prepared -n -T $SECS -j 2$( ((ROUNDS > 1)) && echo "; tps: mean of $ROUNDS rounds")"
	echo
	printf '%-30s %2s %8s %8s %6s %7s %-6s %11s %11s %s\n' "measure (kv vs raw)" "c" "raw tps" "kv tps" \
		"kv/raw" "target" "" "us CPU/txn" "WAL B/txn" "other CPU"
	for c in $CLIENTS; do
		for m in "kv.put / raw upsert|raw_upsert|kv_put|1.0" \
			"kv.get / raw PK select|raw_select|kv_get|1.0" \
			"kv.patch_numeric / raw upsert|raw_upsert2|kv_patch|0.9"; do
			IFS='|' read -r label raw kv target <<<"$m"
			r=$(ratio "${TPS[$kv,$c]}" "${TPS[$raw,$c]}")
			printf '%-30s %2s %8s %8s %6s %7s %-6s %11s %11s %s\n' "$label" "$c" "${TPS[$raw,$c]}" "${TPS[$kv,$c]}" \
				"$r" ">= $target" "$(verdict "$r" "$target")" "${CPU[$raw,$c]}/${CPU[$kv,$c]}" \
				"${WAL[$raw,$c]}/${WAL[$kv,$c]}" "${FOREIGN[$raw,$c]}%/${FOREIGN[$kv,$c]}%"
		done
	done
	echo
	r=$(ratio "$KV_PRELOAD" 150000)
	printf '%-50s %8s docs/s  target >= 150000  %s\n' \
		"batch put, preload $NKEYS (kv.put_many x $CHUNK)" "$KV_PRELOAD" "$(verdict "$r" 1)"
	printf '%-50s %8s rows/s\n' "raw preload, one INSERT ... SELECT" "$RAW_PRELOAD"
	r=$(ratio "$KV_BATCH" 150000)
	printf '%-50s %8s docs/s  target >= 150000  %s\n' \
		"batch put, $((2 * NBATCH)) fresh keys (kv.put_many x $CHUNK)" "$KV_BATCH" "$(verdict "$r" 1)"
	printf '%-50s %8s rows/s\n' "COPY FROM STDIN of the same rows into bench_raw" "$COPY_BATCH"
	printf '%-50s %8s         (target 150k docs/s ~ 0.75 x COPY)\n' "batch put / COPY" \
		"$(ratio "$KV_BATCH" "$COPY_BATCH")"
	echo
	echo "raw/kv columns: us CPU/txn = CPU time of the instance and pgbench per transaction;" \
		"WAL B/txn = WAL bytes per transaction;"
	echo "other CPU = share of all CPUs used by processes outside this benchmark" \
		"(batch phase: ${FOREIGN[batch]}%); pairs re-run because of it: $RETRIES; total time ${SECONDS}s."
	if ((FOREIGN_MAX >= 10)); then
		echo "WARNING: other processes used up to $FOREIGN_MAX% of the CPUs during this run:" \
			"the figures are disturbed; rerun on an idle machine."
	fi
	[ "$SO_REPLACED" = 1 ] && echo "NOTE: globalkv.so was reinstalled during the run; the server used the one" \
		"it loaded at start (md5 above)."
	[ "$FAILED" = 1 ] && echo "SOME RUNS FAILED: see the pgbench output in the .log file"
	echo
	echo "kv.stats at the end:"
	echo "$STATS"
} >"$TMP/report.txt"

RESULTS=${BENCH_RESULTS:-$HERE/results}
if ! { mkdir -p "$RESULTS" && cp "$TMP/report.txt" "$RESULTS/$STAMP.txt"; } 2>/dev/null; then
	log "cannot write to $RESULTS; writing the results to ${TMPDIR:-/tmp} instead"
	RESULTS=${TMPDIR:-/tmp}
	cp "$TMP/report.txt" "$RESULTS/globalkv-bench-$STAMP.txt"
	STAMP=globalkv-bench-$STAMP
fi
cp "$DETAILS" "$RESULTS/$STAMP.log"
echo
cat "$TMP/report.txt"
echo
echo "written to $RESULTS/$STAMP.txt (pgbench output: $RESULTS/$STAMP.log)"
[ "$FAILED" = 0 ]
