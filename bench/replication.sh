#!/usr/bin/env bash
# bench/replication.sh -- globalkv replication benchmark; see bench/README.md.
#
# One local 3-zone parade (`globalkv parade create`), one run, three parts:
#
#  1. catch-up: the apply throughput of one peer stream.  node2 and node3
#     stop pulling (globalkv.debug_block_pull_from), BENCH_ROWS documents are
#     bulk-loaded into node1, then node2 alone is let go and timed until it
#     holds them all (target >= 100,000 rows/s; pglogical 54-59k).
#  2. lag: pgbench writes at a steady 1,000 and 5,000 writes/s into node1
#     (synchronous_commit off, then on).  The figure that counts is the
#     "visible lag (client-measured)", p50/p99/max per destination: during
#     each pgbench run (from 1 s after its start to ~1 s before its end)
#     bench/lag_probe, a separate client, puts 50 probes/s into node1 on a
#     warm connection and polls node2 and node3 on warm connections of their
#     own until each probe shows up; a probe's lag is from the return of its
#     put to the return of the first read in that zone that sees it (target
#     p99 <= 15 ms; pglogical ~210 ms).  The probe logs in like an
#     application: TCP 127.0.0.1, role gkvbench (password, only a member of
#     globalkv_client), with the run's synchronous_commit.  Beside it,
#     labelled "internal: stored seq - write time": every pgbench document
#     carries its write time, and each row's lag on node2 and node3 is
#     (seq >> 16) - write time, seq being the receiving node's clock when it
#     STORED the row (not when a reader could see it).
#  3. sustained rate: kv.put tps on node1 with nobody pulling (the
#     single-node maximum, measured before and after), then pgbench at
#     fractions of it with replication running: the highest rate at which
#     the other zones' lag stays bounded, as a ratio to the single-node
#     maximum (target >= 0.8; pglogical 0.5-0.6); and pgbench unthrottled
#     with replication running, also with two zones only (as pglogical was
#     measured).
#  Diagnostics (BENCH_DIAG=1, the default): parts 2 and 3 again with only
#  the direct links node1 -> node2 and node1 -> node3 (no row travels back
#  to its origin, none reaches a node twice), to show what that traffic
#  costs.  What the processes wait for during the unthrottled run, and the
#  CPU of each node and kind of process during every run, go to the .log.
#
# Environment:
#   BENCH_QUICK=1       smoke test: 100k rows, 4 s runs, rates 40 80 %
#   BENCH_ROWS          rows of the catch-up, and keys of parts 2-3 (default 1000000)
#   BENCH_SECONDS       seconds per pgbench run            (default 10; quick 4)
#   BENCH_LAG_RATES     writes/s of part 2                 (default "1000 5000")
#   BENCH_LAG_SYNC      synchronous_commit values for part 2 (default "off on")
#   BENCH_RATES_PCT     part 3 steps, % of the single-node max (default "30 40 50 60 80 100")
#   BENCH_LAG_BOUND_MS  a step is bounded when the p99 lag of the rows written
#                       in its last 2 s stays below this   (default 1000)
#   BENCH_CLIENTS       pgbench clients, parts 2-3         (default 4; -j 2)
#   BENCH_CHUNK         documents per kv.put_many call     (default 10000)
#   BENCH_PORT          first of 3 ports                   (default: a free one)
#   BENCH_DIAG=0        skip the direct-links diagnostics  (saves ~40 s)
#   BENCH_KEEP=1        keep the parade directory (stopped) for inspection
#   BENCH_DEADLINE      seconds after which the run gives up (default 900)
#   GLOBALKV            the CLI                            (default: globalkv in PATH, else cli/globalkv)
#
# Run as root (the servers then run as user globalkv: the CLI does that) or
# as the user that should own the servers.  The parade is stopped on exit,
# whatever happens; the run is bounded (every wait has a timeout, and a
# watchdog ends the run after BENCH_DEADLINE seconds).  A full run takes
# about 6 minutes on 2 CPUs.

set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
PG_CONFIG=${PG_CONFIG:-/usr/lib/postgresql/15/bin/pg_config}
PGBIN=${PG_BINDIR:-$("$PG_CONFIG" --bindir)}
GKV=${GLOBALKV:-$(command -v globalkv || echo "$HERE/../cli/globalkv")}

if [ "${BENCH_QUICK:-0}" = 1 ]; then
	ROWS=${BENCH_ROWS:-100000}
	SECS=${BENCH_SECONDS:-4}
	RATES_PCT=${BENCH_RATES_PCT:-"40 80"}
	MODE=quick
else
	ROWS=${BENCH_ROWS:-1000000}
	SECS=${BENCH_SECONDS:-10}
	RATES_PCT=${BENCH_RATES_PCT:-"30 40 50 60 80 100"}
	MODE=full
fi
LAG_RATES=${BENCH_LAG_RATES:-"1000 5000"}
LAG_SYNC=${BENCH_LAG_SYNC:-"off on"}
BOUND_MS=${BENCH_LAG_BOUND_MS:-1000}
CLIENTS=${BENCH_CLIENTS:-4}
CHUNK=${BENCH_CHUNK:-10000}
TAIL_MS=2000
PROBE_RATE=50		# lag_probe probes/s (part 2)
PROBE_TIMEOUT=10	# a probe not seen within this many s is lost
PROBE_ROLE=gkvbench	# the probe's login: a password role, member of globalkv_client only
DEADLINE=${BENCH_DEADLINE:-900}

for v in ROWS SECS BOUND_MS CLIENTS CHUNK DEADLINE; do
	if ! [[ ${!v} =~ ^[1-9][0-9]*$ ]]; then
		echo "replication bench: $v must be a positive integer, not '${!v}'" >&2
		exit 2
	fi
done
[ -x "$GKV" ] || { echo "replication bench: no globalkv CLI (make install, or set GLOBALKV)" >&2; exit 2; }

log() { printf '[repl %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
nowms() { date +%s%3N; }
fdiv() { awk -v a="$1" -v b="$2" -v f="${3:-%.0f}" 'BEGIN { if (b > 0) printf f, a / b; else print "n/a" }'; }

# ---------------------------------------------------------------------------
# The parade, and its teardown
# ---------------------------------------------------------------------------
if [ "$(id -u)" = 0 ]; then
	PGOSUSER=globalkv
	AS=(runuser -u "$PGOSUSER" --)
else
	PGOSUSER=$(id -un)
	AS=()
fi

# short: the directory holds the unix sockets (the CLI allows 70 bytes)
DIR=$(mktemp -d /tmp/gkvrepl.XXXXXX)
WORK=$(mktemp -d "${TMPDIR:-/tmp}/gkvrepl-work.XXXXXX")
# the client that measures visible lag (part 2)
make -C "$HERE" -s PG_CONFIG="$PG_CONFIG" lag_probe >/dev/null ||
	{ echo "replication bench: could not build bench/lag_probe" >&2; exit 1; }
CREATED=0
WATCHDOG=
PROBE_PID=

stop_parade() {
	[ "$CREATED" = 1 ] || return 0
	if [ "${BENCH_KEEP:-0}" = 1 ]; then
		"$GKV" parade stop --dir "$DIR" >/dev/null 2>&1 || true
	else
		# the data is thrown away: no shutdown checkpoint of 3 x 1 GB of buffers
		for n in 1 2 3; do
			[ -f "$DIR/node$n/postmaster.pid" ] &&
				{ "${AS[@]}" "$PGBIN/pg_ctl" -D "$DIR/node$n" -m immediate -w -t 30 stop >/dev/null 2>&1 || true; }
		done
		"$GKV" parade stop --dir "$DIR" >/dev/null 2>&1 || true
	fi
}

cleanup() {
	local rc=$?
	trap - EXIT INT TERM
	[ -n "$WATCHDOG" ] && kill "$WATCHDOG" 2>/dev/null || true
	# the lag_probe of an interrupted part 2 run (timeout passes the signal on)
	[ -n "$PROBE_PID" ] && kill "$PROBE_PID" 2>/dev/null || true
	if [ "$rc" != 0 ]; then
		for n in 1 2 3; do
			if [ -f "$DIR/node$n/server.log" ]; then
				echo "---- last lines of node$n's server log ----" >&2
				tail -n 8 "$DIR/node$n/server.log" >&2 || true
			fi
		done
	fi
	stop_parade
	cd /
	if [ "${BENCH_KEEP:-0}" = 1 ]; then
		log "kept the parade in $DIR (stopped; start with: $GKV parade start --dir $DIR), work files in $WORK"
	else
		rm -rf "$DIR" "$WORK"
	fi
	exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
# the watchdog: a subshell that ends its own sleep when it is told to stop
(
	trap 'kill "$sp" 2>/dev/null; exit 0' TERM
	sleep "$DEADLINE" &
	sp=$!
	wait "$sp"
	echo "replication bench: still running after ${DEADLINE}s, giving up" >&2
	kill -TERM $$
) &
WATCHDOG=$!

port_in_use() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
ports_free() { ! port_in_use "$1" && ! port_in_use $(($1 + 1)) && ! port_in_use $(($1 + 2)); }

LOAD0=$(cut -d' ' -f1-3 /proc/loadavg)
PORT=
for _ in 1 2 3 4; do
	if [ -n "${BENCH_PORT:-}" ]; then
		p=$BENCH_PORT
	else
		p=$((20000 + (RANDOM * 32768 + RANDOM) % 40000))
		ports_free "$p" || continue
	fi
	log "creating a 3-zone parade in $DIR on ports $p-$((p + 2))"
	CREATED=1
	if "$GKV" parade create --dir "$DIR" --zones 3 --port-base "$p" >"$WORK/create.log" 2>&1; then
		PORT=$p
		break
	fi
	cat "$WORK/create.log" >&2
	stop_parade
	CREATED=0
	[ -n "${BENCH_PORT:-}" ] && break
	# lost a race for a port: start over in a fresh directory
	rm -rf "$DIR"
	DIR=$(mktemp -d /tmp/gkvrepl.XXXXXX)
done
[ -n "$PORT" ] || { echo "replication bench: could not create the parade" >&2; exit 1; }

port_of() { echo $((PORT + $1 - 1)); }
export PGOPTIONS="-c statement_timeout=400s" PGCONNECT_TIMEOUT=10
q() { # q NODE SQL...: run SQL on a node, unaligned output
	local n=$1
	shift
	"$PGBIN/psql" "host=$DIR port=$(port_of "$n") user=postgres dbname=postgres" -X -A -t -q \
		-v ON_ERROR_STOP=1 "$@"
}
qc() { q "$1" -c "$2"; }

# block NODE "PEER,PEER" / unblock NODE: the debug setting, then a reload
block() { qc "$1" "ALTER SYSTEM SET globalkv.debug_block_pull_from = '$2'" && qc "$1" "SELECT pg_reload_conf()" >/dev/null; }
unblock() { qc "$1" "ALTER SYSTEM RESET globalkv.debug_block_pull_from" && qc "$1" "SELECT pg_reload_conf()" >/dev/null; }
wait_blocked() { # wait_blocked NODE "{PEERS}"
	[ "$(qc "$1" "SELECT bench.wait_blocked('$2', 30000)")" = t ] ||
		{ echo "replication bench: node$1 did not stop pulling from $2 within 30 s" >&2; exit 1; }
}

# topology NAME: which links replicate; sets LINKS ("node:peer,peer ..."
# = who pulls from whom), the spec quiesce waits on.
#   mesh    every node pulls from both others (the parade as created)
#   direct  node2 and node3 pull from node1 only: no row returns to its
#           origin, none reaches a node twice (diagnostic)
#   2zones  node1 and node2 pull from each other, node3 is cut off
#   none    nobody pulls from anybody
topology() {
	local spec n blocked
	case $1 in
	mesh) spec="1: 2: 3:" ; LINKS="1:2,3 2:1,3 3:1,2" ;;
	direct) spec="1:2,3 2:3 3:2" ; LINKS="2:1 3:1" ;;
	2zones) spec="1:3 2:3 3:1,2" ; LINKS="1:2 2:1" ;;
	none) spec="1:2,3 2:1,3 3:1,2" ; LINKS="" ;;
	*) echo "replication bench: no topology $1" >&2; exit 2 ;;
	esac
	TOPOLOGY=$1
	for x in $spec; do
		n=${x%%:*}
		blocked=${x#*:}
		if [ -n "$blocked" ]; then block "$n" "$blocked"; else unblock "$n"; fi
	done
	for x in $spec; do
		n=${x%%:*}
		blocked=${x#*:}
		[ -z "$blocked" ] || wait_blocked "$n" "{$blocked}"
	done
}

# quiesce [TIMEOUT_S]: wait until every link of LINKS has brought over
# everything its source stores, and nothing new has been stored meanwhile
# (relayed rows get a new seq where they land: repeat until the highest
# seqs stay put).
quiesce() {
	local timeout=${1:-120} t0 prev="" cur n x peers targets p
	local -A S
	t0=$(date +%s)
	while :; do
		cur=""
		for n in 1 2 3; do
			S[$n]=$(qc "$n" "SELECT bench.max_seq()")
			cur="$cur ${S[$n]}"
		done
		[ "$cur" = "$prev" ] && return 0
		prev=$cur
		for x in $LINKS; do
			n=${x%%:*}
			peers=${x#*:}
			targets=""
			for p in ${peers//,/ }; do targets="$targets${targets:+,}${S[$p]}"; done
			if [ -z "$(qc "$n" "SELECT bench.wait_cursors('{$peers}', '{$targets}', $((timeout * 1000)))")" ]; then
				echo "replication bench: node$n did not catch up with node(s) $peers within ${timeout}s" >&2
				"$GKV" status -d "host=$DIR port=$(port_of "$n") user=postgres dbname=postgres" >&2 || true
				exit 1
			fi
		done
		if (($(date +%s) - t0 > timeout)); then
			echo "replication bench: the parade did not settle within ${timeout}s" >&2
			exit 1
		fi
	done
}
LINKS="1:2,3 2:1,3 3:1,2"
TOPOLOGY=mesh

deadlocks() { cat "$DIR"/node*/server.log 2>/dev/null | grep -c 'deadlock detected' || true; }

# ---------------------------------------------------------------------------
# CPU accounting (clock ticks), per node and per kind of process, to show
# where the machine's CPUs go: all three zones share them here.
# ---------------------------------------------------------------------------
HZ=$(getconf CLK_TCK)
NCPU=$(nproc)
ticks() { [ -r "/proc/$1/stat" ] && sed 's/.*) //' "/proc/$1/stat" | awk -v c="${2:-0}" '{ print $12 + $13 + (c ? $14 + $15 : 0) }' || echo 0; }
# cpu_now: one "name value" pair per line: busy and total (machine), self
# (this script and its reaped children: pgbench, psql), nN (node N: its
# postmaster with all its children, reaped ones included), and one
# "pid:N:kind" per live child of node N, kind = apply (apply workers),
# serve (backends serving the peers' pulls) or other.
cpu_now() {
	local busy total n pm pid args kind all t
	read -r busy total < <(awk '/^cpu / { print $2 + $3 + $4 + $7 + $8, $2 + $3 + $4 + $5 + $6 + $7 + $8 + $9 }' /proc/stat)
	echo "busy $busy"
	echo "total $total"
	echo "self $(ticks $$ 1)"
	for n in 1 2 3; do
		pm=$(head -n1 "$DIR/node$n/postmaster.pid" 2>/dev/null || echo 0)
		all=$(ticks "$pm" 1)
		while read -r pid args; do
			[ -n "$pid" ] || continue
			t=$(ticks "$pid")
			all=$((all + t))
			case $args in
			*"globalkv apply from"*) kind=apply ;;
			*globalkv_repl*) kind=serve ;;
			*) kind=other ;;
			esac
			echo "pid:$n:$kind:$pid $t"
		done < <(ps -o pid=,args= --ppid "$pm" 2>/dev/null || true)
		echo "n$n $all"
	done
}
# cpu_report BEFORE AFTER: percent of one CPU over the interval:
# "n1 n1apply n1serve n2 n2apply n2serve n3 n3apply n3serve client other";
# a process that started meanwhile counts in full, one that ended counts
# in its node's total only.
cpu_report() {
	awk -v hz="$HZ" -v ncpu="$NCPU" '
		FNR == 1 { f++ }
		f == 1 { b[$1] = $2; next }
		{ a[$1] = $2 }
		END {
			wall = (a["total"] - b["total"]) / ncpu / hz
			if (wall <= 0) wall = 1e-9
			for (k in a) if (k ~ /^pid:/) {
				split(k, p, ":")
				d[p[2], p[3]] += a[k] - ((k in b) ? b[k] : 0)
			}
			ours = a["self"] - b["self"]
			for (n = 1; n <= 3; n++) { node[n] = a["n" n] - b["n" n]; ours += node[n] }
			other = a["busy"] - b["busy"] - ours
			if (other < 0) other = 0
			pct = 100 / hz / wall
			printf "%.0f %.0f %.0f %.0f %.0f %.0f %.0f %.0f %.0f %.0f %.0f\n",
				node[1] * pct, d[1, "apply"] * pct, d[1, "serve"] * pct,
				node[2] * pct, d[2, "apply"] * pct, d[2, "serve"] * pct,
				node[3] * pct, d[3, "apply"] * pct, d[3, "serve"] * pct,
				(a["self"] - b["self"]) * pct, other * pct
		}' <(echo "$1") <(echo "$2")
}
# columns of cpu_report: n1 n1apply n1serve n2 n2apply n2serve n3 n3apply n3serve client other
cpu_short() { read -r c1 a1 s1 c2 a2 s2 c3 a3 s3 cl ot <<<"$1"; echo "$c1/$c2/$c3/$cl/$ot"; }
# us_per_write CPU_LINE TPS: CPU microseconds per write of node1/node2/node3
us_per_write() {
	awk -v tps="$2" '{ if (tps > 0) printf "%.0f/%.0f/%.0f", $1 * 1e4 / tps, $4 * 1e4 / tps, $7 * 1e4 / tps; else print "n/a" }' <<<"$1"
}
cpu_long() {
	read -r c1 a1 s1 c2 a2 s2 c3 a3 s3 cl ot <<<"$1"
	echo "node1 $c1% (apply $a1%, serving pulls $s1%), node2 $c2% (apply $a2%, serving $s2%)," \
		"node3 $c3% (apply $a3%, serving $s3%), pgbench+psql $cl%, other processes $ot% (100% = one CPU, $NCPU CPUs)"
}

DETAILS=$WORK/details.txt
: >"$DETAILS"
# vacuum_all: VACUUM every node at once (before each pgbench run, so that
# no run inherits the dead rows of the one before, and autovacuum has
# less reason to start during a run)
vacuum_all() {
	local n p pids=()
	for n in 1 2 3; do
		qc "$n" "VACUUM" &
		pids+=($!)
	done
	for p in "${pids[@]}"; do wait "$p"; done
}
# pgbench_run NAME PGBENCH-ARGS...: runs pgbench against node1 with
# repl_put.sql; sets TPS, PGB_FAILED, CPU_LINE (cpu_report) and T_A, T_B
# (unix ms just before and after).
pgbench_run() {
	local name=$1 out rc=0 c0 c1
	shift
	[ "${NOVACUUM:-0}" = 1 ] || vacuum_all
	c0=$(cpu_now)
	T_A=$(nowms)
	out=$(timeout $((SECS + 120)) "$PGBIN/pgbench" -h "$DIR" -p "$PORT" -U postgres -n -M prepared \
		-c "$CLIENTS" -j 2 -T "$SECS" -D nkeys="$ROWS" -f "$HERE/repl_put.sql" "$@" postgres 2>&1) || rc=$?
	T_B=$(nowms)
	# a lag_probe running alongside (part 2) ends about when pgbench does:
	# wait for it here, so that its CPU counts as ours (client), not "other"
	[ -z "$PROBE_PID" ] || wait "$PROBE_PID" || PROBE_RC=$?
	sleep 0.2	# let the postmaster reap the backends
	c1=$(cpu_now)
	CPU_LINE=$(cpu_report "$c0" "$c1")
	OTHER_MAX=$(awk -v a="${OTHER_MAX:-0}" -v b="${CPU_LINE##* }" 'BEGIN { print (b > a) ? b : a }')
	TPS=$(sed -n 's/^tps = \([0-9.]*\) .*/\1/p' <<<"$out" | head -n1)
	TPS=${TPS%.*}
	PGB_FAILED=0
	if [ "$rc" != 0 ] || [ -z "$TPS" ] || grep -q 'aborted\|^number of failed transactions: [1-9]' <<<"$out"; then
		PGB_FAILED=1
		log "pgbench $name FAILED (exit $rc):"
		grep -m3 -i 'error\|aborted\|failed' <<<"$out" >&2 || true
		TPS=${TPS:-0}
	fi
	{
		echo "==== $name (pgbench $*, exit $rc)"
		echo "CPU: $(cpu_long "$CPU_LINE")"
		echo "$out"
		echo
	} >>"$DETAILS"
}

# ---------------------------------------------------------------------------
# Setup: bigger buffers, no checkpoint during the run, asynchronous commit
# ---------------------------------------------------------------------------
for n in 1 2 3; do
	qc "$n" "ALTER SYSTEM SET shared_buffers = '1GB'"
	qc "$n" "ALTER SYSTEM SET synchronous_commit = 'off'"
	qc "$n" "ALTER SYSTEM SET max_wal_size = '16GB'"
	qc "$n" "ALTER SYSTEM SET checkpoint_timeout = '30min'"
done
log "restarting the parade with shared_buffers=1GB synchronous_commit=off max_wal_size=16GB"
"$GKV" parade stop --dir "$DIR" >"$WORK/restart.log" 2>&1
"$GKV" parade start --dir "$DIR" >>"$WORK/restart.log" 2>&1 || { cat "$WORK/restart.log" >&2; exit 1; }
for n in 1 2 3; do
	q "$n" -f "$HERE/repl_setup.sql" >/dev/null
done
# part 2's lag_probe connects like an application: TCP 127.0.0.1 (the
# parade's listen_addresses), scram password (its pg_hba), a role that is
# only a member of globalkv_client
PW=$(head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n' | cut -c1-24)
printf '127.0.0.1:*:postgres:%s:%s\n' "$PROBE_ROLE" "$PW" >"$WORK/pgpass"
chmod 600 "$WORK/pgpass"
for n in 1 2 3; do
	qc "$n" "CREATE ROLE $PROBE_ROLE LOGIN PASSWORD '$PW' IN ROLE globalkv_client" >/dev/null
done
tcp() { echo "host=127.0.0.1 port=$(port_of "$1") user=$PROBE_ROLE dbname=postgres"; }
PGVER=$(qc 1 "SHOW server_version")
SOFILE=$("$PG_CONFIG" --pkglibdir)/globalkv.so
SOID="$(md5sum "$SOFILE" | cut -c1-12), installed $(date -r "$SOFILE" '+%Y-%m-%d %H:%M:%S')"
BATCH_ROWS=$(qc 2 "SHOW globalkv.replication_batch_rows")
REPL_WAIT=$(qc 2 "SHOW globalkv.replication_wait")

# ---------------------------------------------------------------------------
# Part 1: catch-up of one peer stream
# ---------------------------------------------------------------------------
# node2 and node3 stop pulling from node1, and node3 from node2 too (so
# that node2 serves no relay while it is timed); node1 stops pulling from
# node2 (the rows coming back to their origin, which change nothing there,
# would share the CPUs with the stream being timed).
block 2 1
block 3 1,2
block 1 2
wait_blocked 2 '{1}'
wait_blocked 3 '{1,2}'
wait_blocked 1 '{2}'

log "part 1: bulk loading $ROWS documents into node1 (kv.put_many, chunks of $CHUNK)"
DOCEXPR="jsonb_build_object('clicks', 0, 'views', 100 + g % 900, 'user', 'user-' || lpad(g::text, 10, '0'),
 'email', 'u' || lpad(g::text, 10, '0') || '@example.com',
 'city', (ARRAY['Berlin', 'Lisbon', 'Nagoya', 'Denver'])[1 + g % 4], 'plan', 'premium', 'note', 'lorem ipsum')"
for ((lo = 1; lo <= ROWS; lo += CHUNK)); do
	hi=$((lo + CHUNK - 1))
	((hi > ROWS)) && hi=$ROWS
	echo "SELECT count(*) FROM kv.put_many('DEFAULT', ARRAY(SELECT 'k' || g FROM generate_series($lo, $hi) g),
	      ARRAY(SELECT $DOCEXPR FROM generate_series($lo, $hi) g));"
done >"$WORK/load.sql"
t0=$(nowms)
q 1 -f "$WORK/load.sql" >"$WORK/load.out"
t1=$(nowms)
got=$(awk '{ s += $1 } END { print s + 0 }' "$WORK/load.out")
[ "$got" = "$ROWS" ] || { echo "replication bench: kv.put_many loaded $got of $ROWS" >&2; exit 1; }
LOAD_RATE=$(fdiv "$ROWS" "$(((t1 - t0)))e-3")
log "loaded: $LOAD_RATE docs/s"

log "part 1: node2 pulls the $ROWS rows from node1 (one stream)"
unblock_conf() { qc "$1" "ALTER SYSTEM RESET globalkv.debug_block_pull_from"; }
unblock_conf 2
c0=$(cpu_now)
IFS='|' read -r C_RELOAD C_FIRST C_DONE C_FIRSTROWS C_ROWS < <(qc 2 "SELECT * FROM bench.catchup('{1}', $ROWS, 300000)")
c1=$(cpu_now)
CATCHUP_CPU=$(cpu_report "$c0" "$c1")
[ -n "$C_DONE" ] || { echo "replication bench: node2 applied only $C_ROWS of $ROWS rows in 300 s" >&2; exit 1; }
IFS='|' read -r S_N S_FIRST S_LAST < <(qc 2 "SELECT * FROM bench.seq_span(1, 'k')")
[ "$S_N" = "$ROWS" ] || { echo "replication bench: node2 holds $S_N of the $ROWS rows" >&2; exit 1; }
# the rows' own stamps: from the first row stored to the last (+1 ms)
CATCHUP_RATE=$(fdiv "$ROWS" "$((S_LAST - S_FIRST + 1))e-3")
# polled: from the first commit to the last, rows after the first commit
CATCHUP_RATE_POLL=$(awk -v n="$((C_ROWS - C_FIRSTROWS))" -v a="$C_FIRST" -v b="$C_DONE" 'BEGIN { printf "%.0f", (b > a) ? n / (b - a) * 1000 : 0 }')
CATCHUP_TOTAL=$(awk -v a="$C_RELOAD" -v b="$C_DONE" 'BEGIN { printf "%.2f", (b - a) / 1000 }')
CATCHUP_START=$(awk -v a="$C_RELOAD" -v b="$C_FIRST" 'BEGIN { printf "%.0f", b - a }')
log "node2: $CATCHUP_RATE rows/s (stamps), $CATCHUP_RATE_POLL rows/s (polled), ${CATCHUP_TOTAL}s from the reload"

log "part 1: node3 pulls the same rows from node1 and node2 at once (two streams, relay)"
unblock 1
unblock_conf 3
c0=$(cpu_now)
IFS='|' read -r D_RELOAD D_FIRST D_DONE D_FIRSTROWS D_ROWS < <(qc 3 "SELECT * FROM bench.catchup('{1,2}', $ROWS, 300000)")
c1=$(cpu_now)
CATCHUP3_CPU=$(cpu_report "$c0" "$c1")
[ -n "$D_DONE" ] || { echo "replication bench: node3 applied only $D_ROWS of $ROWS rows in 300 s" >&2; exit 1; }
CATCHUP3_TOTAL=$(awk -v a="$D_RELOAD" -v b="$D_DONE" 'BEGIN { printf "%.2f", (b - a) / 1000 }')
CATCHUP3_RATE=$(fdiv "$ROWS" "$CATCHUP3_TOTAL")
read -r P1A P1C < <(qc 3 "SELECT sum(rows_applied) FILTER (WHERE peer_node_id = 1), sum(rows_applied) FILTER (WHERE peer_node_id = 2) FROM globalkv.replication_status()" | tr '|' ' ')
log "node3: $ROWS rows in ${CATCHUP3_TOTAL}s ($CATCHUP3_RATE rows/s); rows pulled from node1 $P1A, from node2 $P1C"
LINKS="1:2,3 2:1,3 3:1,2"
quiesce 300
DL_PART1=$(deadlocks)
log "part 1 done (apply deadlocks so far: $DL_PART1); VACUUM ANALYZE on every node"
for n in 1 2 3; do qc "$n" "ANALYZE"; done
vacuum_all
quiesce 60

# ---------------------------------------------------------------------------
# Part 2: lag at steady write rates
# ---------------------------------------------------------------------------
declare -a LAGROWS=()
# lagrun RATE SYNC: one pgbench run at RATE writes/s into node1 with
# lag_probe alongside (the visible lag on node2 and node3), then each
# pgbench row's stored-seq lag on node2 and node3 (internal).  Appends to
# LAGROWS: rate|sync|links|tps|zone|rows|expect|p50|p99|max|deadlocks|cpu|
# seen|lost|visible p50/p99/max
lagrun() {
	local rate=$1 sync=$2 n EXPECT dl0 dl V delay psecs
	local pout=$WORK/probe-$rate-$sync-$TOPOLOGY.txt
	log "part 2: $rate writes/s into node1 for ${SECS}s, synchronous_commit=$sync, links: $TOPOLOGY"
	dl0=$(deadlocks)
	vacuum_all
	# the visible lag: lag_probe starts 1 s into the pgbench run (pgbench's
	# connections have paid their first calls) and puts probes for SECS - 2 s
	# (its own connections are opened and warmed before the first probe)
	if ((SECS >= 3)); then delay=1 psecs=$((SECS - 2)); else delay=0 psecs=1; fi
	PROBE_RC=0
	(
		sleep "$delay"
		PGPASSFILE=$WORK/pgpass PGOPTIONS="-c synchronous_commit=$sync" exec timeout -k 5 \
			$((delay + psecs + PROBE_TIMEOUT + 30)) "$HERE/lag_probe" -w "$(tcp 1)" -r "$(tcp 2)" -r "$(tcp 3)" \
			-n DEFAULT -T "$psecs" -R "$PROBE_RATE" -t "$PROBE_TIMEOUT" -i "r$rate$sync$TOPOLOGY"
	) >"$pout" 2>&1 &
	PROBE_PID=$!
	# pgbench_run waits for the probe too
	PGOPTIONS="-c synchronous_commit=$sync" NOVACUUM=1 pgbench_run "lag R=$rate sync=$sync links=$TOPOLOGY" -R "$rate"
	PROBE_PID=
	{
		echo "==== lag_probe alongside lag R=$rate sync=$sync links=$TOPOLOGY (exit $PROBE_RC)"
		cat "$pout"
		echo
	} >>"$DETAILS"
	[ "$PROBE_RC" = 0 ] || log "  WARNING: lag_probe failed (exit $PROBE_RC): $(tail -n 2 "$pout" | tr '\n' ' ')"
	quiesce 120
	dl=$(($(deadlocks) - dl0))
	for n in 1 2 3; do
		IFS='|' read -r L_N L_P50 L_P99 L_MAX L_TN L_TP99 L_TMAX < <(qc "$n" "SELECT * FROM bench.lag($T_A, $T_B, $TAIL_MS)")
		[ "$n" = 1 ] && { EXPECT=$L_N; continue; }
		# the probe's LAG lines come in the order of its -r options: node2, node3
		V=$(awk -v want=$((n - 1)) '$1 == "LAG" && ++i == want {
			for (j = 2; j <= NF; j++) { split($j, kv, "="); f[kv[1]] = kv[2] }
			if (f["n"] > 0) printf "%s|%s|%.1f/%.1f/%.1f", f["n"], f["lost"], f["p50"], f["p99"], f["max"]
			else printf "0|%s|n/a", f["lost"] }' "$pout")
		[ -n "$V" ] || V="-|-|n/a"
		LAGROWS+=("$rate|$sync|$TOPOLOGY|$TPS|$n|$L_N|$EXPECT|$L_P50|$L_P99|$L_MAX|$dl|$(cpu_short "$CPU_LINE")|$V")
		log "  zone$n: visible lag (client-measured) p50/p99/max ${V##*|} ms, probes seen|lost ${V%|*};" \
			"internal (stored seq - write time): $L_N of $EXPECT rows, p50/p99/max $L_P50/$L_P99/$L_MAX ms"
	done
}
for sync in $LAG_SYNC; do
	for rate in $LAG_RATES; do
		lagrun "$rate" "$sync"
	done
done
if [ "${BENCH_DIAG:-1}" = 1 ]; then
	# diagnostic: the same without the rows that come back to node1 and the
	# relayed second copies (direct links node1 -> node2, node1 -> node3 only)
	topology direct
	quiesce 120
	for rate in $LAG_RATES; do
		lagrun "$rate" "${LAG_SYNC%% *}"
	done
	topology mesh
	quiesce 120
fi

# ---------------------------------------------------------------------------
# Part 3: single-node maximum, then increasing rates with replication
# ---------------------------------------------------------------------------
log "part 3: single-node kv.put maximum (nobody pulls from anybody)"
topology none
pgbench_run "single-node max"
MAX_TPS=$TPS
MAX_CPU=$CPU_LINE
[ "$PGB_FAILED" = 0 ] && [ "$MAX_TPS" -gt 0 ] || { echo "replication bench: the single-node run failed" >&2; exit 1; }
log "single-node max: $MAX_TPS tps; letting node2 and node3 catch up"
topology mesh
quiesce 300
DL_PART3=$(deadlocks)

# step NAME [pgbench args]: run, wait for the followers (node2 and node3
# where LINKS has them), measure each row's lag there.  Appends to STEPROWS:
# name|tps|failed|drain2|drain3|rows2|p99_2|max2|end2|rows3|p99_3|max3|end3|cpu
declare -a STEPROWS=()
step() {
	local name=$1 s1 d n sp=() row drains="" lags=""
	shift
	vacuum_all
	if [ "${SAMPLE:-0}" = 1 ]; then
		# what the backends and apply workers wait for, sampled every 50 ms
		for n in 1 2 3; do
			qc "$n" "SELECT * FROM bench.sample_waits($((SECS * 1000 - 500)), 50)" >"$WORK/waits.$n" &
			sp+=($!)
		done
	fi
	NOVACUUM=1 pgbench_run "$name" "$@"
	if [ "${SAMPLE:-0}" = 1 ]; then
		for n in "${sp[@]}"; do wait "$n"; done
		{
			echo "==== $name: what the processes were doing (pg_stat_activity every 50 ms: who|doing|samples|% of who's samples)"
			for n in 1 2 3; do
				echo "-- node$n"
				cat "$WORK/waits.$n"
			done
			echo
		} >>"$DETAILS"
	fi
	s1=$(qc 1 "SELECT bench.max_seq()")
	for n in 2 3; do
		if [[ " $LINKS " != *" $n:"* ]]; then
			drains="$drains|-"
			continue
		fi
		# drain: from pgbench's end until the follower's cursor passes
		# node1's last row (directly, or through the other follower)
		if [[ " $LINKS " == *" $n:1"* || " $LINKS " == *" $n:"*",1 "* ]]; then
			d=$(qc "$n" "SELECT bench.wait_cursors('{1}', '{$s1}', 120000)")
			d=$([ -n "$d" ] && awk -v a="$T_B" -v b="$d" 'BEGIN { x = b - a; printf "%.0f", x < 0 ? 0 : x }' || echo ">120000")
		else
			d="n/a"
		fi
		drains="$drains|$d"
	done
	quiesce 120
	for n in 2 3; do
		if [[ " $LINKS " != *" $n:"* ]]; then
			lags="$lags|-|-|-|-"
			continue
		fi
		IFS='|' read -r L_N L_P50 L_P99 L_MAX L_TN L_TP99 L_TMAX < <(qc "$n" "SELECT * FROM bench.lag($T_A, $T_B, $TAIL_MS)")
		lags="$lags|$L_N|$L_P99|$L_MAX|${L_TP99:-n/a}"
	done
	row="$name|$TPS|$PGB_FAILED$drains$lags|$CPU_LINE"
	STEPROWS+=("$row")
	log "  $name: $TPS tps; drain z2, z3, then rows|p99|max|end-p99 per zone: $(cut -d'|' -f4-13 <<<"$row")"
}

# rows pulled by all nodes, and rows that changed something, per write
traffic() {
	local a=0 c=0 n x y
	for n in 1 2 3; do
		IFS='|' read -r x y < <(qc "$n" "SELECT sum(rows_applied), sum(conflicts) FROM globalkv.replication_status()")
		a=$((a + x))
		c=$((c + y))
	done
	echo "$a $c $(qc 1 "SELECT puts FROM kv.stats")"
}
read -r TR_A0 TR_C0 TR_P0 < <(traffic)
for pct in $RATES_PCT; do
	rate=$((MAX_TPS * pct / 100))
	log "part 3: ${pct}% of the single-node max = $rate writes/s, replication on"
	step "$pct%" -R "$rate"
done
log "part 3: unthrottled, replication on"
SAMPLE=1 step "unthrottled"
read -r TR_A1 TR_C1 TR_P1 < <(traffic)
TR_PUTS=$((TR_P1 - TR_P0))
TR_PULLED=$(fdiv $((TR_A1 - TR_A0)) "$TR_PUTS" %.2f)
TR_USEFUL=$(fdiv $((TR_A1 - TR_A0 - (TR_C1 - TR_C0))) "$TR_PUTS" %.2f)
DL_END=$(deadlocks)

if [ "${BENCH_DIAG:-1}" = 1 ]; then
	log "part 3: unthrottled, direct links only (diagnostic)"
	topology direct
	quiesce 120
	step "unthrottled, direct"
fi
# the same with two zones (node3 cut off both ways), as pglogical was measured
log "part 3: unthrottled, two zones only (node3 cut off)"
topology 2zones
quiesce 120
step "unthrottled, 2 zones"
log "part 3: single-node maximum again (drift check)"
topology none
pgbench_run "single-node max again"
MAX2_TPS=$TPS
[ "$PGB_FAILED" = 0 ] || MAX2_TPS=0
if ((MAX2_TPS > 0)); then MAXREF=$(((MAX_TPS + MAX2_TPS) / 2)); else MAXREF=$MAX_TPS; fi
SO_REPLACED=0
grep -q 'globalkv\.so (deleted)' "/proc/$(head -n1 "$DIR/node1/postmaster.pid")/maps" 2>/dev/null && SO_REPLACED=1

# ---------------------------------------------------------------------------
# Report
# ---------------------------------------------------------------------------
verdict() { awk -v v="$1" -v t="$2" -v dir="$3" 'BEGIN {
	if (v == "" || v == "n/a") { print "n/a"; exit }
	if ((dir == "ge" && v + 0 >= t) || (dir == "le" && v + 0 <= t)) print "met"; else print "MISSED" }'; }
STAMP=$(date +%Y%m%d-%H%M%S)
COMMIT=$(git -C "$HERE/.." rev-parse --short HEAD 2>/dev/null || echo unknown)
DIRTY=$(git -C "$HERE/.." status --porcelain -- src sql 2>/dev/null | wc -l)
{
	echo "globalkv replication benchmark  $(date '+%Y-%m-%d %H:%M:%S %Z')  mode=$MODE"
	echo "commit $COMMIT$([ "$DIRTY" -gt 0 ] && echo " (+$DIRTY uncommitted changes in src/ sql/)"), globalkv.so md5 $SOID"
	echo "PostgreSQL $PGVER, $NCPU CPUs, load average at start: $LOAD0, at end: $(cut -d' ' -f1-3 /proc/loadavg)"
	echo "one local 3-zone parade (all nodes share the machine's CPUs): shared_buffers=1GB," \
		"synchronous_commit=off unless noted, replication_batch_rows=$BATCH_ROWS, replication_wait=$REPL_WAIT;"
	echo "VACUUM on every node before every pgbench run;"
	echo "pgbench over the unix socket, -M prepared -c $CLIENTS -j 2 -T $SECS, bench/repl_put.sql:" \
		"kv.put of 150-byte documents over $ROWS preloaded keys, uniform random"
	echo
	echo "1. Catch-up apply, one peer stream: node2 pulls $ROWS rows (150-byte documents) from node1"
	printf '   %-58s %9s rows/s  target >= 100000  %s\n' "first to last row stored on node2 (seq stamps)" \
		"$CATCHUP_RATE" "$(verdict "$CATCHUP_RATE" 100000 ge)"
	printf '   %-58s %9s rows/s\n' "first to last apply commit (polled every 2 ms)" "$CATCHUP_RATE_POLL"
	printf '   %-58s %9s s (first commit after %s ms)\n' "from the reload that unblocked node2 to all rows" \
		"$CATCHUP_TOTAL" "$CATCHUP_START"
	printf '   %-58s %s\n' "CPU meanwhile" "$(cpu_long "$CATCHUP_CPU")"
	printf '   %-58s %9s docs/s\n' "bulk load into node1 (kv.put_many x $CHUNK, not replicated)" "$LOAD_RATE"
	printf '   %-58s %9s rows/s (%s s; pulled %s rows from node1, %s from node2)\n' \
		"node3 then pulls the same rows from node1 and node2 at once" "$CATCHUP3_RATE" "$CATCHUP3_TOTAL" "$P1A" "$P1C"
	printf '   %-58s %s\n' "CPU meanwhile" "$(cpu_long "$CATCHUP3_CPU")"
	echo
	echo "2. Lag from a write in zone1 to zone2 / zone3 while pgbench writes into node1 at a steady rate (-R)"
	echo "   visible lag (client-measured) -- THE figure, target p99 <= 15 ms: bench/lag_probe, a separate client,"
	echo "   puts $PROBE_RATE probes/s into node1 (kv.put on a warm connection) and polls the zone (kv.get_many of every"
	echo "   unseen probe, at most every 0.5 ms, its own warm connection); a probe's lag = return of the first read in"
	echo "   the zone that sees it - return of its put (ms).  Over TCP 127.0.0.1 as role $PROBE_ROLE (password,"
	echo "   globalkv_client only), same synchronous_commit as pgbench, from 1 s after pgbench starts to ~1 s before"
	echo "   it ends; seen/lost = probes seen in the zone / not seen within $PROBE_TIMEOUT s"
	echo "   internal: stored seq - write time -- not what a client sees: per pgbench row written during the run,"
	echo "   (seq >> 16) - write time, seq = the zone's clock when it STORED the row (ms, 1 ms resolution; write time"
	echo "   = clock_timestamp() in the writing statement on node1); rows = rows found in the zone (/ written on node1)"
	echo "   links: mesh = the parade as created; direct = diagnostic, only node2 <- node1 and node3 <- node1 pull"
	echo "   deadlocks = \"deadlock detected\" errors in the server logs during the run (each costs >= deadlock_timeout, 1 s)"
	echo "   CPU%: node1/node2/node3/clients (pgbench, lag_probe, psql)/other processes, % of one CPU"
	printf '   %38s  %-48s  %s\n' "" "visible lag (client-measured), ms" "internal: stored seq - write time, ms"
	printf '   %7s %5s %7s %9s %5s  %5s %4s %22s %-14s  %13s %24s %9s  %s\n' "rate/s" "sync" "links" "achieved" "zone" \
		"seen" "lost" "p50/p99/max" "target" "rows" "p50/p99/max" "deadlocks" "CPU% n1/n2/n3/clients/other"
	for r in "${LAGROWS[@]}"; do
		IFS='|' read -r rate sync topo tps n rows expect p50 p99 max dl cpu seen lost vis <<<"$r"
		vp99=n/a
		[ "$vis" = n/a ] || vp99=$(cut -d/ -f2 <<<"$vis")
		printf '   %7s %5s %7s %9s %5s  %5s %4s %22s %-14s  %13s %24s %9s  %s\n' "$rate" "$sync" "$topo" "$tps" "$n" \
			"$seen" "$lost" "$vis" \
			"p99<=15 $([ "$topo" = mesh ] && verdict "$vp99" 15 le || echo "(diag)")" \
			"$rows$([ "$rows" != "$expect" ] && echo "/$expect")" "$p50/$p99/$max" "$dl" "$cpu"
	done
	echo
	echo "3. Sustained write rate in zone1 with bounded lag in zone2 and zone3"
	printf '   %-58s %9s tps  CPU: %s\n' "single-node kv.put, c=$CLIENTS, peers not pulling" "$MAX_TPS" \
		"$(cpu_long "$MAX_CPU")"
	printf '   %-58s %9s tps (measured after the steps; ratios below use the mean, %s)\n' \
		"the same again" "$MAX2_TPS" "$MAXREF"
	echo "   step: target rate as % of the first; drain = ms from pgbench's end until the zone's cursor for"
	echo "   node1 passed node1's last row; lag columns: per-row p99 / max over the run / p99 of the rows written"
	echo "   in the last $((TAIL_MS / 1000)) s (\"end\"); bounded = end p99 <= $BOUND_MS ms in every zone and no failures;"
	echo "   reached = achieved >= 95% of the target (if not, node1 itself could not write faster: the CPUs were"
	echo "   busy; the achieved rate is what counts).  \"direct\": only node2 <- node1 and node3 <- node1 pull (diagnostic);"
	echo "   \"2 zones\": node3 cut off, node1 <-> node2 (the setup pglogical's 0.5-0.6 was measured in)"
	echo "   CPU columns: % of one CPU used by node1/node2/node3/pgbench+psql/other processes, and CPU us per write on"
	echo "   node1/node2/node3"
	printf '   %-20s %7s %8s %7s %6s %13s %22s %22s %-8s %-19s %s\n' "step" "target" "achieved" "reached" "ratio" \
		"drain z2/z3" "zone2 p99/max/end" "zone3 p99/max/end" "bounded" "CPU%" "us/write"
	BEST=0
	BEST_STEP=none
	for r in "${STEPROWS[@]}"; do
		IFS='|' read -r name tps failed d2 d3 n2 p2 m2 e2 n3 p3 m3 e3 cpu <<<"$r"
		if [[ $name == unthrottled* ]]; then target="-"; else target=$((MAX_TPS * ${name%\%} / 100)); fi
		reached=$(awk -v t="$tps" -v tg="$target" 'BEGIN { print (tg == "-") ? "-" : (t >= 0.95 * tg) ? "yes" : "no" }')
		ok=$(awk -v e2="$e2" -v e3="$e3" -v b="$BOUND_MS" -v f="$failed" 'BEGIN {
			z2 = (e2 != "n/a" && e2 + 0 <= b); z3 = (e3 == "-" || (e3 != "n/a" && e3 + 0 <= b))
			print (f == 0 && z2 && z3) ? "yes" : "NO" }')
		if [ "$ok" = yes ] && [[ $name != *,* ]] && [ "$tps" -gt "$BEST" ]; then
			BEST=$tps
			BEST_STEP=$name
		fi
		printf '   %-20s %7s %8s %7s %6s %13s %22s %22s %-8s %-19s %s\n' "$name" "$target" "$tps" "$reached" \
			"$(fdiv "$tps" "$MAXREF" %.2f)" "$d2/$d3" "$p2/$m2/$e2" "$p3/$m3/$e3" "$ok" "$(cpu_short "$cpu")" \
			"$(us_per_write "$cpu" "$tps")"
		case $name in
		unthrottled) U_MESH="$tps|$cpu" ;;
		"unthrottled, direct") U_DIRECT="$tps|$cpu" ;;
		"unthrottled, 2 zones") U_2Z="$tps|$cpu" ;;
		esac
	done
	R=$(fdiv "$BEST" "$MAXREF" %.2f)
	printf '   %-58s %9s tps = %s x single-node (step %s)  target >= 0.8  %s\n' \
		"highest achieved rate with bounded lag, 3 zones (mesh)" "$BEST" "$R" "$BEST_STEP" "$(verdict "$R" 0.8 ge)"
	# node1's CPU per write, alone and with each topology: on dedicated
	# CPUs per zone, node1 could write at most (alone / with) of its max
	n1us() { awk -v tps="${1%%|*}" '{ if (tps > 0) printf "%.1f", $1 * 1e4 / tps; else print "n/a" }' <<<"${1#*|}"; }
	n1apply() { awk -v tps="${1%%|*}" '{ if (tps > 0) printf "%.1f/%.1f", $2 * 1e4 / tps, $3 * 1e4 / tps; else print "n/a" }' <<<"${1#*|}"; }
	US0=$(n1us "$MAX_TPS|$MAX_CPU")
	echo "   node1's CPU per write: ${US0} us alone; mesh $(n1us "${U_MESH:-0|}") us (apply of rows coming back/serving pulls:" \
		"$(n1apply "${U_MESH:-0|}") us); 2 zones $(n1us "${U_2Z:-0|}") us; direct $(n1us "${U_DIRECT:-0|}") us."
	echo "   With its own CPUs, node1 could then write at about $(fdiv "$US0" "$(n1us "${U_MESH:-0|}")" %.2f) (mesh)," \
		"$(fdiv "$US0" "$(n1us "${U_2Z:-0|}")" %.2f) (2 zones), $(fdiv "$US0" "$(n1us "${U_DIRECT:-0|}")" %.2f) (direct) of its single-node"
	echo "   rate (an estimate from the CPU figures; whether the followers keep up is a separate question)"
	echo "   replication traffic over the part 3 steps: $TR_PUTS kv.put on node1; per put, the apply workers of the"
	echo "   three nodes pulled $TR_PULLED rows, of which $TR_USEFUL changed something (the others: rows coming back"
	echo "   to their origin, or reaching a node a second time through the other peer; merged as conflicts)"
	echo
	echo "deadlocks between apply workers (server logs): $DL_PART1 in part 1, $((DL_PART3 - DL_PART1)) in part 2 and" \
		"the catch-up after the single-node run, $((DL_END - DL_PART3)) during the part 3 steps"
	echo "CPU% columns: share of one CPU used by node1 / node2 / node3 (all their processes) / pgbench and psql /"
	echo "processes outside this benchmark, over each pgbench run; per process kind in the .log file."
	[ "$SO_REPLACED" = 1 ] && echo "NOTE: globalkv.so was reinstalled during the run; the servers used the one they loaded at start (md5 above)."
	if ((${OTHER_MAX:-0} >= 20)); then
		echo "WARNING: other processes used up to $OTHER_MAX% of a CPU during a pgbench run: the figures are disturbed"
	fi
} >"$WORK/report.txt"

{
	echo
	echo "==== kv.replication_status at the end"
	for n in 1 2 3; do
		echo "-- node$n"
		qc "$n" "SELECT peer_node_id, connected, rows_applied, conflicts, batches, lag_ms, last_error FROM kv.replication_status ORDER BY 1"
	done
	echo
	echo "==== errors and warnings in the server logs"
	grep -h -E 'ERROR|WARNING|FATAL' "$DIR"/node*/server.log | sed 's/^[0-9-]* [0-9:.]* UTC //' |
		sed 's/\[[0-9]*\] //' | sort | uniq -c | sort -rn | head -n 30 || true
} >>"$DETAILS"

mkdir -p "$HERE/results"
cp "$WORK/report.txt" "$HERE/results/replication-$STAMP.txt"
cp "$DETAILS" "$HERE/results/replication-$STAMP.log"
echo
cat "$WORK/report.txt"
echo
echo "written to bench/results/replication-$STAMP.txt (pgbench output, CPU per process kind: bench/results/replication-$STAMP.log)"
