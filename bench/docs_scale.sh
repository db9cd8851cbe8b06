#!/usr/bin/env bash
# bench/docs_scale.sh -- kv.docs at scale, against postgres_fdw and a plain
# table, measured as a user meets it (issue #10, performance).
#
# A parade of one zone with three nodes, made by `globalkv parade create
# --zones 1 --nodes-per-zone 3` with its defaults (durable commits, 16 shards
# spread over the three nodes).  BENCH_DOCS order documents go into namespace
# 'o' through `INSERT INTO kv.docs ... SELECT` (batches of BENCH_BATCH rows,
# BENCH_LOAD_SESSIONS sessions at once), customer documents into 'c':
#
#   o: key 'o'||i, {"customer": "c"||(i % BENCH_DISTINCT), "g": i % 100, "n": i}   i = 1..BENCH_DOCS
#   c: key 'c'||i, {"name": "customer "||i, "tier": i % 3}                        i = 0..BENCH_DISTINCT/10-1
#
# The same rows go into two baselines on the same machine, in the same run:
#   fdw   -- "the pg_shard way": on node1 `fdw_docs` PARTITION BY HASH (key),
#            3 partitions, each a postgres_fdw foreign table (servers with
#            async_capable 'true', batch_size 1000, over TCP 127.0.0.1 like
#            globalkv's own node-to-node connections) on a plain table
#            `fdw_part` of node1, node2 and node3; filled through fdw_docs, so
#            PostgreSQL routes the rows; queried with
#            enable_partitionwise_aggregate = on;
#   plain -- one plain table `plain_docs` on node1.
# All tables have the primary key (namespace, key) the shard tables have.
#
# Queries, each through kv.docs on node1, fdw_docs and plain_docs: count(*),
# sum over a JSON field with GROUP BY (100 groups), count(DISTINCT) of the
# customer (BENCH_DISTINCT values), a join of the orders with the customers
# on a document field, ORDER BY ... LIMIT 10.  Each is timed in one psql
# session (\timing): one warm-up, then the best of BENCH_RUNS runs.  Every
# answer is compared with the others and with the answer computed from
# generate_series alone: a difference prints a MISMATCH line.  Ratios
# fdw_ms / docs_ms and plain_ms / docs_ms (> 1: kv.docs faster), with the
# targets of issue #10 (count(DISTINCT) and the join >= 3x fdw, count(*)
# and GROUP BY >= 1.0x fdw).  Before the queries: VACUUM (ANALYZE) of every
# table on every node (the shard tables included), ANALYZE fdw_docs, and a
# CHECKPOINT.  Then the peak memory (VmHWM, and VmHWM minus the shared and
# file pages it touched) of the node1 backend running count(DISTINCT) and
# the join, each in a fresh session, for kv.docs, fdw and plain; count(DISTINCT)
# at two numbers of distinct values (BENCH_DISTINCT, and BENCH_DISTINCT/10
# as 'c' || ((value->>'n')::int % (BENCH_DISTINCT/10))::text); for kv.docs
# also the peak of the node-to-node backends that did the work, and the
# statements they ran (pg_stat_activity).  The report ends with the share of
# the CPUs other processes of the machine used while the queries ran, and
# names the globalkv.so the nodes loaded (a parade whose nodes loaded
# different builds -- a reinstall during `parade create` -- is made again).
#
# Memory: as of 2026-12-04 a kv.docs backend receiving rows from the nodes
# peaks at ~2.2 KB per row, and count(DISTINCT) and the join make each of the
# three nodes receive every order: ~2.2 GB per node at 1,000,000 documents,
# ~6.5 GB expected at the default 3,000,000 -- past the default
# BENCH_MEM_LIMIT_MB on a 24 GB machine, where those two queries would then
# fail with "out of memory" (reported as ERROR and MISMATCH lines).
#
# Environment:
#   BENCH_DOCS            order documents                    (default 3000000)
#   BENCH_DISTINCT        distinct customers                 (default 1000000, at most BENCH_DOCS)
#   BENCH_BATCH           rows per INSERT statement          (default 200000)
#   BENCH_LOAD_SESSIONS   sessions loading kv.docs at once   (default 4)
#   BENCH_RUNS            timed runs per query               (default 3)
#   BENCH_DEADLINE        seconds after which the run gives up (default 1800)
#   BENCH_MEM_LIMIT_MB    address space of each server process (ulimit -v;
#                         default a fifth of the RAM): a query that would grow
#                         past it fails with "out of memory" instead of calling
#                         the kernel's OOM killer onto a shared machine (the
#                         kv.docs fan-out peaks at ~2 KB per row it receives)
#   BENCH_KEEP=1          keep the (stopped) parade directory
#   GLOBALKV              the CLI (default: globalkv in PATH, else cli/globalkv)
# Run as root (the CLI then runs the servers as user globalkv) or as the user
# that should own the servers.  Report: bench/results/docs_scale-<stamp>.txt,
# everything else (load progress, EXPLAIN ANALYZE, every timing) in the .log.
# Exit status 0; 3 when some answer differed or some query failed (MISMATCH
# lines); anything else when the run itself failed or hit its deadline.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(dirname "$HERE")
PG_CONFIG=${PG_CONFIG:-/usr/lib/postgresql/15/bin/pg_config}
PGBIN=$("$PG_CONFIG" --bindir)
GKV=${GLOBALKV:-$(command -v globalkv || echo "$ROOT/cli/globalkv")}
DOCS=${BENCH_DOCS:-3000000}
DISTINCT=${BENCH_DISTINCT:-1000000}
BATCH=${BENCH_BATCH:-200000}
SESSIONS=${BENCH_LOAD_SESSIONS:-4}
RUNS=${BENCH_RUNS:-3}
DEADLINE=${BENCH_DEADLINE:-1800}
MEMLIMIT=${BENCH_MEM_LIMIT_MB:-$(awk '/^MemTotal:/ { printf "%d", $2 / 1024 / 5 }' /proc/meminfo)}
for v in DOCS DISTINCT BATCH SESSIONS RUNS DEADLINE MEMLIMIT; do
	if ! [[ ${!v} =~ ^[1-9][0-9]*$ ]]; then
		echo "docs_scale bench: BENCH_$v must be a positive integer, not '${!v}'" >&2
		exit 2
	fi
done
((DISTINCT > DOCS)) && DISTINCT=$DOCS
CUSTOMERS=$((DISTINCT / 10))
((CUSTOMERS >= 1)) || CUSTOMERS=1
DISTINCT2=$((DISTINCT / 10))			# the second point of the memory measure
((DISTINCT2 >= 1)) || DISTINCT2=1
# a quick run: spread the rows over the loading sessions all the same
PER=$(((DOCS + SESSIONS - 1) / SESSIONS))
((BATCH > PER)) && BATCH=$PER
[ -x "$GKV" ] || { echo "docs_scale bench: no globalkv CLI (set GLOBALKV)" >&2; exit 2; }

STAMP=$(date +%Y%m%d-%H%M%S)
mkdir -p "$HERE/results"
REPORT="$HERE/results/docs_scale-$STAMP.txt"
LOG="$HERE/results/docs_scale-$STAMP.log"
: >"$REPORT"
: >"$LOG"

if [ "$(id -u)" = 0 ]; then
	AS=(runuser -u globalkv --)		# what the CLI runs the servers as
else
	AS=()
fi

DIR=$(mktemp -d /tmp/gkv-bench-docs-scale.XXXXXX)
chmod 755 "$DIR"
W=$(mktemp -d /tmp/gkv-bench-docs-scale-work.XXXXXX)
WATCHDOG=
BGPIDS=

log() { printf '[docs_scale %s] %s\n' "$(date +%H:%M:%S)" "$*" | tee -a "$LOG" >&2; }
report() { echo "$*" | tee -a "$REPORT"; }

# a free port base: three consecutive ports nobody listens on (bounded tries)
listening() { ss -Htln 2>/dev/null | awk '{print $4}' | sed 's/.*://' ; }
PORT=
for _ in $(seq 1 20); do
	p=$((20000 + RANDOM % 20000))
	used=$(listening)
	if ! grep -qxE "$p|$((p + 1))|$((p + 2))" <<<"$used"; then PORT=$p; break; fi
done
[ -n "$PORT" ] || { echo "docs_scale bench: no free ports found" >&2; exit 1; }
PORTS=("$PORT" $((PORT + 1)) $((PORT + 2)))

# the data is thrown away: an immediate stop (no shutdown checkpoint), then
# the CLI's stop, then SIGQUIT/SIGKILL to a postmaster of ours still running
stop_parade() {
	local n pm pms=() i
	for n in 1 2 3; do
		pm=$(head -n1 "$DIR/node$n/postmaster.pid" 2>/dev/null) || continue
		pms+=("$pm")
		"${AS[@]}" "$PGBIN/pg_ctl" -D "$DIR/node$n" -m immediate -w -t 30 stop >/dev/null 2>&1 || true
	done
	"$GKV" parade stop --dir "$DIR" >/dev/null 2>&1 || true
	for pm in "${pms[@]+"${pms[@]}"}"; do
		for i in 1 2 3 4 5 6 7 8 9 10; do
			tr '\0' ' ' <"/proc/$pm/cmdline" 2>/dev/null | grep -qF -- "-D $DIR/node" || break
			((i == 1)) && kill -QUIT "$pm" 2>/dev/null
			((i == 10)) && kill -KILL "$pm" 2>/dev/null
			sleep 0.5
		done
	done
	return 0
}
cleanup() {
	local rc=$? x
	trap - EXIT INT TERM
	[ -n "$WATCHDOG" ] && kill "$WATCHDOG" 2>/dev/null || true
	for x in $BGPIDS; do kill "$x" 2>/dev/null || true; done
	if [ "$rc" != 0 ] && [ "$rc" != 3 ] && [ -f "$DIR/node1/server.log" ]; then
		echo "---- last lines of node1's server.log ----" >&2
		tail -n 8 "$DIR/node1/server.log" >&2 || true
	fi
	stop_parade
	cd /
	if [ "${BENCH_KEEP:-0}" = 1 ]; then
		echo "docs_scale bench: kept the parade in $DIR and the work files in $W" >&2
	else
		rm -rf "$DIR" "$W"
	fi
	if [ "$rc" = 3 ]; then
		echo "docs_scale bench: finished with MISMATCH lines (exit 3)" >&2
	elif [ "$rc" != 0 ]; then
		echo "docs_scale bench: failed (exit $rc); report so far: $REPORT, log: $LOG" >&2
	fi
	exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
# the watchdog: at the deadline it tells the script to stop and stops the
# servers, so that a client waiting on them returns at once
(
	trap 'kill "$sp" 2>/dev/null; exit 0' TERM
	sleep "$DEADLINE" &
	sp=$!
	wait "$sp"
	echo "docs_scale bench: still running after ${DEADLINE}s, giving up" >&2
	kill -TERM $$
	stop_parade
) &
WATCHDOG=$!

T0=$SECONDS
# psql on node N (1-based) over its unix socket, as the superuser
psqln() { local n=$1; shift; "$PGBIN/psql" -X -v ON_ERROR_STOP=1 -h "$DIR" -p "${PORTS[n - 1]}" -U postgres -d postgres "$@"; }
q1() { psqln 1 -Atq "$@"; }
# run a client in the background and wait for it: the wait builtin, unlike
# a foreground command, lets the TERM of the watchdog through at once
bg() { "$@" & local p=$!; BGPIDS="$BGPIDS $p"; wait "$p"; }
fdiv() { awk -v a="$1" -v b="$2" -v f="${3:-%.2f}" 'BEGIN { if (a ~ /^[0-9.]+$/ && b ~ /^[0-9.]+$/ && b + 0 > 0) printf f, a / b; else print "n/a" }'; }
# cpu_snap: jiffies of the machine (all CPUs), busy ones, and the parade's
# and this script's (live children plus the reaped ones' cutime/cstime)
proc_jiffies() { awk '{ sub(/^.*\) /, ""); print $12 + $13 + ($14 + $15) * '"${2:-1}"' }' "/proc/$1/stat" 2>/dev/null || echo 0; }
cpu_snap() {
	local u n s i io irq sirq st ours=0 pm c
	read -r _ u n s i io irq sirq st _ </proc/stat
	for pm in $(for c in "$DIR"/node*/postmaster.pid; do head -n1 "$c" 2>/dev/null; done); do
		ours=$((ours + $(proc_jiffies "$pm")))
		for c in $(pgrep -P "$pm"); do ours=$((ours + $(proc_jiffies "$c" 0))); done
	done
	ours=$((ours + $(proc_jiffies $$)))
	echo "$((u + n + s + i + io + irq + sirq + st)) $((u + n + s + irq + sirq + st)) $ours"
}
verdict() { awk -v v="$1" -v t="$2" 'BEGIN { if (v !~ /^[0-9.]+$/) print "n/a"; else if (v + 0 >= t) print "met"; else print "MISSED" }'; }

# ---------------------------------------------------------------------------
# the parade
# ---------------------------------------------------------------------------
SO=$("$PG_CONFIG" --pkglibdir)/globalkv.so
# the md5 of the globalkv.so node N's postmaster loaded (the file may have
# been reinstalled since: read through /proc/PID/map_files, as root)
loaded_so() {
	local pm range
	pm=$(head -n1 "$DIR/node$1/postmaster.pid")
	range=$(awk '/globalkv\.so/ { print $1; exit }' "/proc/$pm/maps" 2>/dev/null || true)
	{ [ -n "$range" ] && md5sum <"/proc/$pm/map_files/$range" 2>/dev/null || echo "unknown"; } | cut -c1-12
}
# globalkv is reinstalled now and then while benchmarks run: a parade whose
# nodes loaded different builds is made again (three tries)
for try in 1 2 3; do
	log "parade of 1 zone x 3 nodes in $DIR, ports ${PORTS[*]}"
	bg bash -c 'ulimit -v $(($1 * 1024)) && shift && exec "$@"' limit "$MEMLIMIT" \
		"$GKV" parade create --dir "$DIR" --zones 1 --nodes-per-zone 3 --port-base "$PORT" >>"$LOG" 2>&1
	LOADED="$(loaded_so 1) $(loaded_so 2) $(loaded_so 3)"
	[ "$(tr ' ' '\n' <<<"$LOADED" | sort -u | wc -l)" = 1 ] && [ "${LOADED%% *}" != unknown ] && break
	log "the nodes loaded different builds of globalkv.so ($LOADED): making the parade again"
	((try < 3)) || { echo "docs_scale bench: globalkv.so keeps changing, giving up" >&2; exit 1; }
	stop_parade
	rm -rf "$DIR"
	mkdir -p "$DIR"
	chmod 755 "$DIR"
done
PMLIMIT=$(awk '/^Max address space/ { print ($5 == "unlimited") ? "unlimited" : int($5 / 1048576) " MB" }' \
	"/proc/$(head -n1 "$DIR/node1/postmaster.pid")/limits")
SO_MD5=${LOADED%% *}
report "kv.docs at scale (bench/docs_scale.sh), $(date -u +%FT%TZ), $(nproc) CPUs, load $(cut -d' ' -f1-3 /proc/loadavg)"
report "parade: 1 zone x 3 nodes, globalkv parade create defaults (durable commits, shared_buffers 128MB, work_mem 4MB, jit on); globalkv.so loaded by the 3 nodes: md5 $SO_MD5 (the installed file: $(md5sum "$SO" | cut -c1-12), $(date -u -r "$SO" +%FT%TZ))"
report "every server process limited to $MEMLIMIT MB of address space (ulimit -v, BENCH_MEM_LIMIT_MB; node1's postmaster has $PMLIMIT)"
report "data: $DOCS order documents in 'o' ({customer: c<i % $DISTINCT>, g: i % 100, n: i}), $CUSTOMERS customers in 'c'"
PL=$(q1 -F' ' -c "SELECT node_name, count(*) FROM kv.placements GROUP BY 1 ORDER BY 1")
report "shards per node (kv.placements): $(echo "$PL" | paste -sd, | sed 's/,/, /g')"
if [ "$(echo "$PL" | awk '$2 > 0' | wc -l)" != 3 ]; then
	report "ERROR: the three nodes do not all hold shards"
	exit 1
fi

# ---------------------------------------------------------------------------
# loading kv.docs
# ---------------------------------------------------------------------------
gen_orders() { # FROM TO: the order rows i = FROM..TO
	echo "SELECT 'o'::text, 'o' || i, jsonb_build_object('customer', 'c' || (i % $DISTINCT), 'g', i % 100, 'n', i) FROM generate_series($1, $2) i"
}
gen_customers() {
	echo "SELECT 'c'::text, 'c' || i, jsonb_build_object('name', 'customer ' || i, 'tier', i % 3) FROM generate_series(0, $((CUSTOMERS - 1))) i"
}
q1 -c "SELECT kv.create_namespace('o')" -c "SELECT kv.create_namespace('c')" >>"$LOG"

NBATCH=$(((DOCS + BATCH - 1) / BATCH))
log "loading $DOCS documents into kv.docs: $NBATCH statements of <= $BATCH rows, $SESSIONS sessions at once"
load_worker() { # WORKER: batches WORKER, WORKER + SESSIONS, ...
	local b a z t
	for ((b = $1; b < NBATCH; b += SESSIONS)); do
		a=$((b * BATCH + 1)); z=$(((b + 1) * BATCH)); ((z > DOCS)) && z=$DOCS
		t=$SECONDS
		q1 -c "INSERT INTO kv.docs (namespace, key, value) $(gen_orders $a $z)" >>"$LOG" 2>&1 || return 1
		log "  kv.docs batch $((b + 1))/$NBATCH (rows $a..$z) in $((SECONDS - t)) s"
	done
}
TL=$(date +%s.%N)
WPIDS=()
for ((s = 0; s < SESSIONS && s < NBATCH; s++)); do
	load_worker "$s" &
	WPIDS+=($!)
	BGPIDS="$BGPIDS $!"
done
LOADFAIL=0
for p in "${WPIDS[@]}"; do wait "$p" || LOADFAIL=1; done
((LOADFAIL == 0)) || { report "ERROR: loading kv.docs failed (see $LOG)"; exit 1; }
bg q1 -c "INSERT INTO kv.docs (namespace, key, value) $(gen_customers)" >>"$LOG" 2>&1
TL=$(awk -v a="$TL" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }')
# every statement has committed on every node when it returns; check it
# all arrived (bounded wait), and how it spread over the nodes
N=
for _ in $(seq 1 30); do
	N=$(q1 -c "SELECT count(*) FROM kv.docs WHERE namespace = 'o'")
	[ "$N" = "$DOCS" ] && break
	sleep 2
done
NC=$(q1 -c "SELECT count(*) FROM kv.docs WHERE namespace = 'c'")
PERNODE=""
for n in 1 2 3; do
	PERNODE="$PERNODE node$n $(psqln $n -Atq -c "SET globalkv.docs_scope = node" -c "SELECT count(*) FROM kv.docs WHERE namespace = 'o'")"
done
report "load through kv.docs: $((DOCS + CUSTOMERS)) documents in $TL s ($(fdiv $((DOCS + CUSTOMERS)) "$TL" %.0f) docs/s, $SESSIONS sessions, INSERT ... SELECT of <= $BATCH rows); kv.docs counts $N orders, $NC customers; orders per node:$PERNODE"
if [ "$N" != "$DOCS" ] || [ "$NC" != "$CUSTOMERS" ]; then
	report "MISMATCH load: kv.docs holds $N orders (expected $DOCS) and $NC customers (expected $CUSTOMERS)"
fi

# ---------------------------------------------------------------------------
# the baselines: postgres_fdw over the three nodes, a plain table on node1
# ---------------------------------------------------------------------------
log "baselines: fdw_part on every node, fdw_docs and plain_docs on node1"
FDWPW=$(head -c 18 /dev/urandom | base64 | tr -dc 'A-Za-z0-9')
for n in 1 2 3; do
	psqln $n -q -c "SET log_statement = 'none'" \
		-c "CREATE ROLE fdw_bench LOGIN PASSWORD '$FDWPW'" \
		-c "CREATE TABLE fdw_part (namespace text NOT NULL, key text NOT NULL, value jsonb)" \
		-c "GRANT SELECT, INSERT ON fdw_part TO fdw_bench" >>"$LOG" 2>&1
done
{
	echo "CREATE EXTENSION postgres_fdw;"
	echo "CREATE TABLE fdw_docs (namespace text NOT NULL, key text NOT NULL, value jsonb) PARTITION BY HASH (key);"
	for n in 1 2 3; do
		echo "CREATE SERVER n$n FOREIGN DATA WRAPPER postgres_fdw OPTIONS (host '127.0.0.1', port '${PORTS[n - 1]}', dbname 'postgres', async_capable 'true', batch_size '1000');"
		echo "SET log_statement = 'none';"
		echo "CREATE USER MAPPING FOR postgres SERVER n$n OPTIONS (user 'fdw_bench', password '$FDWPW');"
		echo "CREATE FOREIGN TABLE fdw_docs_p$n PARTITION OF fdw_docs FOR VALUES WITH (MODULUS 3, REMAINDER $((n - 1))) SERVER n$n OPTIONS (table_name 'fdw_part');"
	done
	echo "CREATE TABLE plain_docs (namespace text NOT NULL, key text NOT NULL, value jsonb);"
} >"$W/fdw.sql"
bg q1 -f "$W/fdw.sql" >>"$LOG" 2>&1

TF=$(date +%s.%N)
for ((b = 0; b < NBATCH; b++)); do
	a=$((b * BATCH + 1)); z=$(((b + 1) * BATCH)); ((z > DOCS)) && z=$DOCS
	bg q1 -c "INSERT INTO fdw_docs $(gen_orders $a $z)" >>"$LOG" 2>&1
	log "  fdw_docs batch $((b + 1))/$NBATCH (rows $a..$z)"
done
bg q1 -c "INSERT INTO fdw_docs $(gen_customers)" >>"$LOG" 2>&1
for n in 1 2 3; do
	bg psqln $n -q -c "ALTER TABLE fdw_part ADD PRIMARY KEY (namespace, key)" >>"$LOG" 2>&1
done
TF=$(awk -v a="$TF" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }')
TP=$(date +%s.%N)
bg q1 -c "INSERT INTO plain_docs $(gen_orders 1 "$DOCS")" -c "INSERT INTO plain_docs $(gen_customers)" \
	-c "ALTER TABLE plain_docs ADD PRIMARY KEY (namespace, key)" >>"$LOG" 2>&1
TP=$(awk -v a="$TP" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }')
FPN=""
for n in 1 2 3; do FPN="$FPN node$n $(psqln $n -Atq -c "SELECT count(*) FROM fdw_part WHERE namespace = 'o'")"; done
report "load of fdw_docs through postgres_fdw (batch_size 1000, with its primary keys): $TF s; of plain_docs: $TP s; fdw orders per node:$FPN"

# the same housekeeping for every table: VACUUM ANALYZE on every node (the
# shard tables in globalkv_data, fdw_part, plain_docs), ANALYZE of the foreign
# partitions on node1, then a CHECKPOINT so that no checkpoint of the load
# runs during the measures
log "VACUUM ANALYZE and CHECKPOINT on every node"
TV=$SECONDS
for n in 1 2 3; do
	bg psqln $n -q -c "VACUUM (ANALYZE)" -c "CHECKPOINT" >>"$LOG" 2>&1
done
bg q1 -c "ANALYZE fdw_docs" >>"$LOG" 2>&1
report "VACUUM (ANALYZE) of every table on the three nodes (shard tables of globalkv_data included), ANALYZE fdw_docs on node1, CHECKPOINT: done, $((SECONDS - TV)) s"
report "set-up took $((SECONDS - T0)) s"

# ---------------------------------------------------------------------------
# the answers, computed from generate_series alone
# ---------------------------------------------------------------------------
NAMES=(count groupby distinct join topn)
declare -A QUERY LABEL TARGET ORDERED
QUERY[count]="SELECT count(*) FROM @T@ WHERE namespace = 'o'"
QUERY[groupby]="SELECT value->>'g', sum((value->>'n')::numeric) FROM @T@ WHERE namespace = 'o' GROUP BY 1"
QUERY[distinct]="SELECT count(DISTINCT value->>'customer') FROM @T@ WHERE namespace = 'o'"
QUERY[join]="SELECT count(*) FROM @T@ o JOIN @T@ c ON c.namespace = 'c' AND c.key = o.value->>'customer' WHERE o.namespace = 'o'"
QUERY[topn]="SELECT key FROM @T@ WHERE namespace = 'o' ORDER BY (value->>'n')::int DESC LIMIT 10"
LABEL=([count]="count(*)" [groupby]="GROUP BY g, sum(n)" [distinct]="count(DISTINCT customer)" [join]="join o-c on customer" [topn]="ORDER BY n DESC LIMIT 10")
TARGET=([count]=1.0 [groupby]=1.0 [distinct]=3.0 [join]=3.0 [topn]=)
ORDERED=([topn]=1)
declare -A TRUTH
TRUTH[count]="SELECT count(*) FROM generate_series(1, $DOCS) i"
TRUTH[groupby]="SELECT (i % 100)::text, sum(i::numeric) FROM generate_series(1, $DOCS) i GROUP BY 1"
TRUTH[distinct]="SELECT count(DISTINCT i % $DISTINCT) FROM generate_series(1, $DOCS) i"
TRUTH[join]="SELECT count(*) FROM generate_series(1, $DOCS) i WHERE i % $DISTINCT < $CUSTOMERS"
TRUTH[topn]="SELECT 'o' || i FROM generate_series(1, $DOCS) i ORDER BY i DESC LIMIT 10"
norm() { if [ -n "${ORDERED[$1]:-}" ]; then cat "$2"; else LC_ALL=C sort "$2"; fi; }
for q in "${NAMES[@]}"; do
	bg q1 -c "${TRUTH[$q]}" >"$W/ans-$q-truth.raw" 2>>"$LOG"
	norm "$q" "$W/ans-$q-truth.raw" >"$W/ans-$q-truth"
done

# ---------------------------------------------------------------------------
# the queries
# ---------------------------------------------------------------------------
TARGETS=(docs fdw plain)
declare -A TABLE SETUP
TABLE=([docs]=kv.docs [fdw]=fdw_docs [plain]=plain_docs)
SETUP=([docs]="" [fdw]="SET enable_partitionwise_aggregate = on;" [plain]="")
sqlof() { local s=${QUERY[$1]}; echo "${s//@T@/${TABLE[$2]}}"; }

# EXPLAIN ANALYZE into the log (kv.docs' count(DISTINCT) and GROUP BY), and
# the plans of the baselines
echo "==== EXPLAIN (ANALYZE, VERBOSE) on kv.docs" >>"$LOG"
for q in distinct groupby; do
	echo "---- $(sqlof $q docs)" >>"$LOG"
	bg q1 -c "EXPLAIN (ANALYZE, VERBOSE) $(sqlof $q docs)" >>"$LOG" 2>&1 || echo "(EXPLAIN failed)" >>"$LOG"
done
echo "==== EXPLAIN of the baselines" >>"$LOG"
for q in "${NAMES[@]}"; do
	for t in fdw plain; do
		echo "---- $t: $(sqlof $q $t)" >>"$LOG"
		printf '%s\nEXPLAIN %s;\n' "${SETUP[$t]}" "$(sqlof $q $t)" >"$W/explain.sql"
		bg q1 -f "$W/explain.sql" >>"$LOG" 2>&1 || echo "(EXPLAIN failed)" >>"$LOG"
	done
done

# time_query Q T: one session -- a warm-up whose answer is kept, then RUNS
# runs; prints the best time in ms (ERROR when the session failed)
time_query() {
	local q=$1 t=$2 s f r
	s=$(sqlof "$q" "$t")
	f="$W/time-$q-$t.sql"
	{
		echo "${SETUP[$t]}"
		echo '\timing on'
		echo "\\o $W/ans-$q-$t.raw"
		echo "$s;"
		echo '\o /dev/null'
		for ((r = 0; r < RUNS; r++)); do echo "$s;"; done
	} >"$f"
	if ! bg q1 -f "$f" >"$W/time-$q-$t.out" 2>"$W/err-time-$q-$t"; then
		cat "$W/err-time-$q-$t" >>"$LOG"
		echo "ERROR"
		return
	fi
	cat "$W/err-time-$q-$t" >>"$LOG"
	echo "$t $q: $(grep '^Time:' "$W/time-$q-$t.out" | sed 's/^Time: \([0-9.]*\) ms.*/\1/' | paste -sd' ') ms (warm-up first)" >>"$LOG"
	grep '^Time:' "$W/time-$q-$t.out" | sed 's/^Time: \([0-9.]*\) ms.*/\1/' | tail -n "$RUNS" | sort -n | head -1
}

CPU0=$(cpu_snap)
report ""
report "queries on node1, best of $RUNS runs after a warm-up in one psql session, ms; ratio = baseline ms / kv.docs ms (> 1: kv.docs faster)"
printf '%-28s %10s %10s %10s  %9s %-13s %10s  %s\n' query kv.docs fdw plain fdw/docs "(target)" plain/docs answers | tee -a "$REPORT"
MISMATCHES=()
declare -A MS
for q in "${NAMES[@]}"; do
	for t in "${TARGETS[@]}"; do
		log "timing $t: $(sqlof $q $t)"
		MS[$q.$t]=$(time_query "$q" "$t")
	done
	# the answers: each against the one from generate_series
	ok=same
	for t in "${TARGETS[@]}"; do
		if [ "${MS[$q.$t]}" = ERROR ] || [ ! -f "$W/ans-$q-$t.raw" ]; then
			ok=ERROR
			MISMATCHES+=("MISMATCH $q: ${TABLE[$t]} failed ($(grep -m1 -o 'ERROR: .*' "$W/err-time-$q-$t" 2>/dev/null || echo 'see the log')): $(sqlof $q $t)")
			continue
		fi
		norm "$q" "$W/ans-$q-$t.raw" >"$W/ans-$q-$t"
		if ! cmp -s "$W/ans-$q-$t" "$W/ans-$q-truth"; then
			ok=DIFFERENT
			MISMATCHES+=("MISMATCH $q: ${TABLE[$t]} answered [$(head -c 300 "$W/ans-$q-$t" | paste -sd' ')] ($(wc -l <"$W/ans-$q-$t") rows), expected [$(head -c 300 "$W/ans-$q-truth" | paste -sd' ')] ($(wc -l <"$W/ans-$q-truth") rows): $(sqlof $q $t)")
			{ echo "---- MISMATCH $q, $t against generate_series:"; diff "$W/ans-$q-truth" "$W/ans-$q-$t" | head -50; } >>"$LOG" || true
		fi
	done
	if [ "$ok" = same ]; then
		if [ "$(wc -l <"$W/ans-$q-truth")" = 1 ]; then ok="same: $(cat "$W/ans-$q-truth")"; else ok="same: $(wc -l <"$W/ans-$q-truth") rows"; fi
	fi
	RF=$(fdiv "${MS[$q.fdw]}" "${MS[$q.docs]}")
	RP=$(fdiv "${MS[$q.plain]}" "${MS[$q.docs]}")
	if [ -n "${TARGET[$q]}" ]; then TG=">= ${TARGET[$q]} $(verdict "$RF" "${TARGET[$q]}")"; else TG="(none)"; fi
	printf '%-28s %10s %10s %10s  %9s %-13s %10s  %s\n' "${LABEL[$q]}" "${MS[$q.docs]}" "${MS[$q.fdw]}" "${MS[$q.plain]}" "$RF" "$TG" "$RP" "$ok" | tee -a "$REPORT"
done
for q in "${NAMES[@]}"; do report "  ${LABEL[$q]}: $(sqlof $q docs)"; done

# ---------------------------------------------------------------------------
# peak memory of the backend running count(DISTINCT)
# ---------------------------------------------------------------------------
# mem_query T DISTINCTS: a fresh session on node1 -- its VmHWM before, the
# query, its VmHWM after, read by a shell (\!) while the session stays open;
# for kv.docs also the VmHWM of the node-to-node backends that served it
# (fragments, buckets: every node's 'globalkv router of node N' sessions)
export GKV_PGBIN=$PGBIN GKV_DIR=$DIR GKV_PORTS="${PORTS[*]}" GKV_FRAGLOG=$W/mem-fragments.log
cat >"$W/mem-helper.sh" <<'EOF'
#!/usr/bin/env bash
# mem-helper.sh TAG PID: VmHWM, RssShmem and RssFile (kB) of node1's backend
# PID and, after the query, of every node-to-node backend ("globalkv router
# of node N", on any node) started since PID's session began: the ones that
# served its query.  The shared memory and file pages a process touched stay
# in its RSS, so VmHWM - RssShmem - RssFile read afterwards is a close
# estimate of its peak private memory.
hwm() { awk '/^(VmHWM|RssShmem|RssFile):/ { v[$1] = $2 } END { print v["VmHWM:"] + 0, v["RssShmem:"] + 0, v["RssFile:"] + 0 }' "/proc/$1/status" 2>/dev/null || echo 0 0 0; }
sq() { "$GKV_PGBIN/psql" -XAtq -h "$GKV_DIR" -p "$1" -U postgres -d postgres -c "$2"; }
echo "$1 self $(hwm "$2")"
[ "$1" = after ] || exit 0
set -- $1 $2 $GKV_PORTS
start=$(sq "$3" "SELECT backend_start FROM pg_stat_activity WHERE pid = $2")
for port in $GKV_PORTS; do
	from="FROM pg_stat_activity WHERE application_name LIKE 'globalkv router of node %' AND backend_start >= '$start'"
	for p in $(sq "$port" "SELECT pid $from"); do
		echo "$1 router$port $(hwm "$p")"
	done
	sq "$port" "SELECT 'port $port, ' || application_name || ', pid ' || pid || ': ' || left(query, 400) $from" >>"$GKV_FRAGLOG"
done
EOF
chmod 755 "$W/mem-helper.sh"
MEMNAMES=(d1 d2 join)
declare -A MEMQ MEMLABEL MEMEXP
MEMQ[d1]=${QUERY[distinct]}
MEMQ[d2]="SELECT count(DISTINCT 'c' || ((value->>'n')::int % $DISTINCT2)::text) FROM @T@ WHERE namespace = 'o'"
MEMQ[join]=${QUERY[join]}
MEMLABEL=([d1]="count(DISTINCT value->>'customer'), $DISTINCT values" [d2]="count(DISTINCT 'c' || ((value->>'n')::int % $DISTINCT2)::text), $DISTINCT2 values" [join]="the join")
MEMEXP=([d1]=$DISTINCT [d2]=$DISTINCT2 [join]=$(cat "$W/ans-join-truth"))
mem_query() { # T NAME
	local t=$1 k=$2 s f
	s=${MEMQ[$k]//@T@/${TABLE[$t]}}
	f="$W/mem-$t-$k.sql"
	{
		echo "${SETUP[$t]}"
		echo 'SELECT pg_backend_pid() AS pid \gset'
		echo '\setenv GKV_PID :pid'
		echo "\\! $W/mem-helper.sh before \$GKV_PID"
		echo "\\o $W/mem-$t-$k.ans"
		echo "$s;"
		echo '\o'
		echo "\\! $W/mem-helper.sh after \$GKV_PID"
	} >"$f"
	: >"$W/mem-fragments.log"
	if ! bg q1 -f "$f" >"$W/mem-$t-$k.out" 2>"$W/err-mem-$t-$k"; then
		cat "$W/err-mem-$t-$k" >>"$LOG"
		echo "ERROR"
		return
	fi
	cat "$W/err-mem-$t-$k" >>"$LOG"
	{ echo "---- memory $t $s"; cat "$W/mem-$t-$k.out" "$W/mem-fragments.log"; } >>"$LOG"
	cp "$W/mem-fragments.log" "$W/mem-fragments-$t-$k.log"
	# before-HWM after-HWM after-private routers router-max-HWM router-max-private router-sum-private (MB)
	awk '$1 == "before" && $2 == "self" { b = $3 }
	     $1 == "after" && $2 == "self" { a = $3; ap = $3 - $4 - $5 }
	     $1 == "after" && $2 ~ /^router/ { n++; p = $3 - $4 - $5; s += p; if ($3 > m) m = $3; if (p > mp) mp = p }
	     END { printf "%.0f %.0f %.0f %d %.0f %.0f %.0f\n", b / 1024, a / 1024, ap / 1024, n, m / 1024, mp / 1024, s / 1024 }' "$W/mem-$t-$k.out"
}
report ""
report "peak RSS (VmHWM of /proc/PID/status, read by \\! while the session stays open) of node1's backend running the query, a fresh"
report "session each: before the query -> after; 'private': VmHWM - RssShmem - RssFile afterwards (without the shared buffers it touched), MB"
for k in "${MEMNAMES[@]}"; do
	report "  ${MEMLABEL[$k]}:"
	for t in docs fdw plain; do
		log "memory $t: ${MEMQ[$k]//@T@/${TABLE[$t]}}"
		r=$(mem_query "$t" "$k")
		if [ "$r" = ERROR ]; then
			report "    $(printf '%-10s' "${TABLE[$t]}") $(grep -m1 -o 'ERROR: .*' "$W/err-mem-$t-$k" 2>/dev/null || echo 'ERROR (see the log)')"
			MISMATCHES+=("MISMATCH memory query failed on ${TABLE[$t]}: ${MEMQ[$k]//@T@/${TABLE[$t]}}")
			continue
		fi
		read -r b a ap n m mp s <<<"$r"
		ans=$(tr -d '\n' <"$W/mem-$t-$k.ans" 2>/dev/null || true)
		line="    $(printf '%-10s' "${TABLE[$t]}") VmHWM $b -> $a MB, private $ap MB"
		[ "$t" = docs ] && line="$line; its $n node-to-node backends (fragments, buckets, on the 3 nodes): VmHWM max $m MB, private max $mp MB, private sum $s MB"
		report "$line (answer $ans)"
		[ "$ans" = "${MEMEXP[$k]}" ] || MISMATCHES+=("MISMATCH memory query on ${TABLE[$t]}: ${MEMQ[$k]//@T@/${TABLE[$t]}} answered '$ans', expected ${MEMEXP[$k]}")
	done
done
# what the node-to-node sessions ran for kv.docs (pg_stat_activity)
for k in d1 join; do
	[ -s "$W/mem-fragments-docs-$k.log" ] || continue
	report "  what kv.docs' $([ $k = join ] && echo join || echo "count(DISTINCT)") ran between the nodes (the last statement of each node-to-node session, count x text):"
	sed 's/^port [0-9]*, globalkv router of node [0-9]*, pid [0-9]*: //' "$W/mem-fragments-docs-$k.log" |
		cut -c1-200 | sort | uniq -c | sed 's/^ */    /' | tee -a "$REPORT"
done
read -r t0 b0 o0 <<<"$CPU0"
read -r t1 b1 o1 <<<"$(cpu_snap)"
OTHER=$(awk -v t=$((t1 - t0)) -v o=$((b1 - b0 - (o1 - o0))) 'BEGIN { v = t > 0 ? 100 * o / t : 0; if (v < 0) v = 0; printf "%.1f", v }')
report ""
report "other processes of the machine used $OTHER % of its CPUs while the queries ran$(awk -v v="$OTHER" 'BEGIN { if (v >= 10) print " -- WARNING: the timings shared the machine" }')"

# ---------------------------------------------------------------------------
report ""
if ((${#MISMATCHES[@]})); then
	for m in "${MISMATCHES[@]}"; do report "$m"; done
else
	report "answers: kv.docs, fdw_docs and plain_docs gave the same answers as generate_series for every query"
fi
NOW_MD5=$(md5sum "$SO" | cut -c1-12)
[ "$NOW_MD5" = "$SO_MD5" ] || report "note: globalkv.so was reinstalled during the run (now $NOW_MD5); the servers kept the one they loaded, $SO_MD5"
report "total $((SECONDS - T0)) s; load at the end $(cut -d' ' -f1-3 /proc/loadavg)"
echo "report: $REPORT   log: $LOG"
# exit 3: the run finished, but some answer differed or some query failed
((${#MISMATCHES[@]} == 0)) || exit 3
