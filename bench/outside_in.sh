#!/usr/bin/env bash
# bench/outside_in.sh -- globalkv measured the way a user meets it (issue #8);
# see bench/README.md, section "Outside in".
#
# Parades made by `globalkv parade create` with its DEFAULTS (durable
# commits: synchronous_commit stays on in postgresql.conf), ordinary
# clients (pgbench, and bench/lag_probe on libpq) over TCP 127.0.0.1 as a
# password role that is only granted globalkv_client, every figure a ratio
# to a baseline measured in the same run on the same node:
#
#  a. new connection per call: pgbench -C -M simple, c=1 and c=4, kv.get vs
#     a raw primary-key SELECT and kv.put vs the raw upsert (bench_raw, the
#     docs/ANCHORS.md shape), on a standalone node (a parade of one zone,
#     `globalkv parade create --zones 1`) and on node1 of a 3-zone parade
#     (target >= 0.9);
#  b. long-lived connections, -M prepared, on node1 of the 3-zone parade:
#     kv.put vs raw upsert at c=4 with synchronous_commit on (the default)
#     and off (PGOPTIONS, both sides) (target >= 0.8); kv.get vs raw select
#     at c=1 and c=4 (target >= 1.0);
#  c. visible lag: bench/lag_probe puts 50 probes/s into node1 and polls
#     node2 and node3 with kv.get_many until each probe shows up there,
#     from the return of its put to its first sighting; idle, then while
#     pgbench writes kv.put into node1 at -R 1000 and -R 5000 (c=4, random
#     keys over the preloaded ones), with durable commits and again with
#     synchronous_commit=off for pgbench and the probe (target p99 <= 15 ms);
#  d. idle CPU: once the parade has settled, the CPU time (utime + stime
#     from /proc/<pid>/stat) and wake-ups (context switches) of every
#     process of each node over BENCH_IDLE_SECONDS, per kind of process
#     (ps title) (target: ~0 for globalkv's workers).
#
# Environment:
#   BENCH_QUICK=1         smoke test: ~1.5 minutes (short runs, fewer keys)
#   BENCH_KEYS            preloaded keys                  (default 100000; quick 50000)
#   BENCH_CONN_SECONDS    seconds per pgbench -C run      (default 5; quick 2)
#   BENCH_SECONDS         seconds per long-lived run      (default 10; quick 2)
#   BENCH_LAG_SECONDS     seconds per lag run             (default 12; quick 4)
#   BENCH_LAG_RATES       pgbench writes/s of part c      (default "1000 5000")
#   BENCH_LAG_SYNC        synchronous_commit of part c    (default "on off")
#   BENCH_PROBE_RATE      lag_probe probes/s              (default 50)
#   BENCH_IDLE_SECONDS    sampling window of part d       (default 10; quick 4)
#   BENCH_SINGLE=0        skip the standalone node of part a
#   BENCH_DEADLINE        seconds after which the run gives up (default 720; quick 300)
#   BENCH_KEEP=1          keep the parade directories (stopped) and work files
#   GLOBALKV              the CLI   (default: globalkv in PATH, else cli/globalkv)
#
# Run as root (the CLI then runs the servers as user globalkv; the clients
# run as root and log in over TCP with a password) or as the user that
# should own the servers.  Parades live in mktemp dirs under /tmp on free
# ports of 127.0.0.1 and are stopped on exit, whatever happens; every wait
# has a timeout and a watchdog ends the run after BENCH_DEADLINE seconds.
# A full run takes about 4.5-5 minutes on 2 CPUs (quick: ~1.5-2).  Report: bench/results/
# outside-in-<timestamp>.txt, pgbench and lag_probe output in the .log.

set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(dirname "$HERE")
PG_CONFIG=${PG_CONFIG:-/usr/lib/postgresql/15/bin/pg_config}
PGBIN=${PG_BINDIR:-$("$PG_CONFIG" --bindir)}
GKV=${GLOBALKV:-$(command -v globalkv || echo "$ROOT/cli/globalkv")}

if [ "${BENCH_QUICK:-0}" = 1 ]; then
	KEYS=${BENCH_KEYS:-50000}
	SECS_C=${BENCH_CONN_SECONDS:-2}
	SECS_B=${BENCH_SECONDS:-2}
	SECS_LAG=${BENCH_LAG_SECONDS:-4}
	IDLE_SECS=${BENCH_IDLE_SECONDS:-4}
	WARM=1
	DEADLINE=${BENCH_DEADLINE:-300}
	MODE=quick
else
	KEYS=${BENCH_KEYS:-100000}
	SECS_C=${BENCH_CONN_SECONDS:-5}
	SECS_B=${BENCH_SECONDS:-10}
	SECS_LAG=${BENCH_LAG_SECONDS:-12}
	IDLE_SECS=${BENCH_IDLE_SECONDS:-10}
	WARM=2
	DEADLINE=${BENCH_DEADLINE:-720}
	MODE=full
fi
LAG_RATES=${BENCH_LAG_RATES:-"1000 5000"}
LAG_SYNC=${BENCH_LAG_SYNC:-"on off"}
PROBE_RATE=${BENCH_PROBE_RATE:-50}
PROBE_TIMEOUT=10
SINGLE=${BENCH_SINGLE:-1}
CHUNK=10000
NS=bench
ROLE=gkvbench

for v in KEYS SECS_C SECS_B SECS_LAG IDLE_SECS DEADLINE PROBE_RATE; do
	if ! [[ ${!v} =~ ^[1-9][0-9]*$ ]]; then
		echo "outside-in bench: $v must be a positive integer, not '${!v}'" >&2
		exit 2
	fi
done
((SECS_LAG >= 4)) || { echo "outside-in bench: BENCH_LAG_SECONDS must be at least 4" >&2; exit 2; }
[ -x "$GKV" ] || { echo "outside-in bench: no globalkv CLI (make install, or set GLOBALKV)" >&2; exit 2; }

log() { printf '[outside-in %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
die() { echo "outside-in bench: $*" >&2; exit 1; }
fdiv() { awk -v a="$1" -v b="$2" -v f="${3:-%.2f}" 'BEGIN { if (b + 0 > 0 && a != "") printf f, a / b; else print "n/a" }'; }
verdict() { awk -v v="$1" -v t="$2" -v dir="$3" 'BEGIN {
	if (v == "" || v == "n/a") { print "n/a"; exit }
	if ((dir == "ge" && v + 0 >= t) || (dir == "le" && v + 0 <= t)) print "met"; else print "MISSED" }'; }

if [ "$(id -u)" = 0 ]; then
	AS=(runuser -u globalkv --)	# what the CLI runs the servers as
else
	AS=()
fi

WORK=$(mktemp -d "${TMPDIR:-/tmp}/gkvoi-work.XXXXXX")
DETAILS=$WORK/details.log
: >"$DETAILS"
PARADES=()			# "dir:zones" of every parade this run created, for cleanup
WATCHDOG=

# stop_parade DIR ZONES: the data is thrown away, so an immediate stop (no
# shutdown checkpoint), then the CLI's stop for whatever is left
stop_parade() {
	local n pm pms=() i
	for ((n = 1; n <= $2; n++)); do
		pm=$(head -n1 "$1/node$n/postmaster.pid" 2>/dev/null) || continue
		pms+=("$pm")
		"${AS[@]}" "$PGBIN/pg_ctl" -D "$1/node$n" -m immediate -w -t 30 stop >/dev/null 2>&1 || true
	done
	"$GKV" parade stop --dir "$1" >/dev/null 2>&1 || true
	# a postmaster busy restarting after a crashed backend may ignore a
	# stop request: end it by its pid (ours: its command line names our dir)
	for pm in "${pms[@]+"${pms[@]}"}"; do
		for i in 1 2 3 4 5 6 7 8 9 10; do
			tr '\0' ' ' <"/proc/$pm/cmdline" 2>/dev/null | grep -qF -- "-D $1/node" || break
			((i == 1)) && kill -QUIT "$pm" 2>/dev/null
			((i == 10)) && kill -KILL "$pm" 2>/dev/null
			sleep 0.5
		done
	done
	return 0
}
forget_parade() { # forget_parade DIR: stop it, remove it, drop it from PARADES
	local x keep=()
	for x in "${PARADES[@]}"; do
		if [ "${x%:*}" = "$1" ]; then
			stop_parade "${x%:*}" "${x##*:}"
			[ "${BENCH_KEEP:-0}" = 1 ] || rm -rf "$1"
		else
			keep+=("$x")
		fi
	done
	PARADES=("${keep[@]+"${keep[@]}"}")
}

cleanup() {
	local rc=$? x
	trap - EXIT INT TERM
	[ -n "$WATCHDOG" ] && kill "$WATCHDOG" 2>/dev/null || true
	# background clients of an interrupted lag run
	for x in ${BGPIDS:-}; do kill "$x" 2>/dev/null || true; done
	for x in "${PARADES[@]+"${PARADES[@]}"}"; do
		if [ "$rc" != 0 ] && [ -f "${x%:*}/node1/server.log" ]; then
			echo "---- last lines of ${x%:*}/node1/server.log ----" >&2
			tail -n 8 "${x%:*}/node1/server.log" >&2 || true
		fi
		stop_parade "${x%:*}" "${x##*:}"
		[ "${BENCH_KEEP:-0}" = 1 ] || rm -rf "${x%:*}"
	done
	cd /
	if [ "${BENCH_KEEP:-0}" = 1 ]; then
		log "kept the work files in $WORK$( ((${#PARADES[@]})) && echo " and the (stopped) parades ${PARADES[*]}")"
	else
		rm -rf "$WORK"
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
	echo "outside-in bench: still running after ${DEADLINE}s, giving up" >&2
	kill -TERM $$
) &
WATCHDOG=$!

T_START=$SECONDS
LOAD0=$(cut -d' ' -f1-3 /proc/loadavg)
NCPU=$(nproc)
HZ=$(getconf CLK_TCK)

# ---------------------------------------------------------------------------
# lag_probe
# ---------------------------------------------------------------------------
PROBE=$HERE/lag_probe
if ! make -s -C "$HERE" lag_probe >>"$DETAILS" 2>&1; then
	# a read-only checkout: build it in the work dir
	PROBE=$WORK/lag_probe
	cc -std=c11 -O2 -Wall -I"$("$PG_CONFIG" --includedir)" -o "$PROBE" "$HERE/lag_probe.c" \
		-L"$("$PG_CONFIG" --libdir)" -lpq -pthread >>"$DETAILS" 2>&1 ||
		{ cat "$DETAILS" >&2; die "could not build lag_probe"; }
fi

# ---------------------------------------------------------------------------
# Clients.  Helpers (setup, settling) go over the unix socket as postgres,
# without JIT so that their own first calls cost little CPU; everything
# measured goes over TCP 127.0.0.1 as $ROLE with a password (scram, the
# parade's pg_hba), like an application.
# ---------------------------------------------------------------------------
PW=$(head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n' | cut -c1-24)
export PGPASSFILE=$WORK/pgpass
printf '127.0.0.1:*:postgres:%s:%s\n' "$ROLE" "$PW" >"$PGPASSFILE"
chmod 600 "$PGPASSFILE"
export PGCONNECT_TIMEOUT=10
unset PGOPTIONS

q() { # q DIR PORT SQL: one statement over the unix socket, unaligned output
	PGOPTIONS="-c jit=off -c statement_timeout=300s" "$PGBIN/psql" \
		"host=$1 port=$2 user=postgres dbname=postgres" -X -A -t -q -v ON_ERROR_STOP=1 -c "$3"
}
tcp() { echo "host=127.0.0.1 port=$1 user=$ROLE dbname=postgres"; }

port_in_use() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
ports_free() { # ports_free BASE COUNT
	local i
	for ((i = 0; i < $2; i++)); do port_in_use $(($1 + i)) && return 1; done
	return 0
}

# create_parade ZONES: a parade with the CLI's defaults; sets PDIR, PPORT
create_parade() {
	local z=$1 p d
	for _ in 1 2 3 4; do
		p=$((20000 + (RANDOM * 32768 + RANDOM) % 40000))
		ports_free "$p" "$z" || continue
		# short: the directory holds the unix sockets (the CLI allows 70 bytes)
		d=$(mktemp -d /tmp/gkvoi.XXXXXX)
		PARADES+=("$d:$z")
		log "creating a $z-zone parade (globalkv parade create defaults) in $d, ports $p-$((p + z - 1))"
		if "$GKV" parade create --dir "$d" --zones "$z" --port-base "$p" >>"$DETAILS" 2>&1; then
			PDIR=$d
			PPORT=$p
			return 0
		fi
		tail -n 5 "$DETAILS" >&2
		# lost a race for a port: start over in a fresh directory
		forget_parade "$d"
	done
	die "could not create a $z-zone parade"
}

# setup_parade DIR PORT ZONES: the client role on every node; on node1 the
# namespace, bench_raw (bench/setup.sql minus CREATE EXTENSION, which the
# parade did) and KEYS preloaded keys in both; waits until every other node
# holds the last key and replication is quiet.
setup_parade() {
	local dir=$1 port=$2 z=$3 n lo hi t0
	for ((n = 0; n < z; n++)); do
		q "$dir" $((port + n)) "CREATE ROLE $ROLE LOGIN PASSWORD '$PW' IN ROLE globalkv_client" >/dev/null
	done
	grep -v '^CREATE EXTENSION' "$HERE/setup.sql" |
		PGOPTIONS="-c jit=off" "$PGBIN/psql" "host=$dir port=$port user=postgres dbname=postgres" \
			-X -q -v ON_ERROR_STOP=1 -f - >/dev/null
	q "$dir" "$port" "GRANT SELECT, INSERT, UPDATE ON bench_raw TO $ROLE" >/dev/null
	q "$dir" "$port" "CREATE UNLOGGED TABLE bench_src AS
	                    SELECT g, g::text AS key, bench_doc(g) AS doc FROM generate_series(1, $KEYS) g" >/dev/null
	q "$dir" "$port" "INSERT INTO bench_raw SELECT '$NS', key, now(), 1, doc FROM bench_src ORDER BY g" >/dev/null
	for ((lo = 1; lo <= KEYS; lo += CHUNK)); do
		hi=$((lo + CHUNK - 1))
		((hi > KEYS)) && hi=$KEYS
		echo "SELECT count(*) FROM kv.put_many('$NS'," \
			"ARRAY(SELECT key FROM bench_src WHERE g BETWEEN $lo AND $hi ORDER BY g)," \
			"ARRAY(SELECT doc FROM bench_src WHERE g BETWEEN $lo AND $hi ORDER BY g), 'NO_EXPIRE');"
	done | PGOPTIONS="-c jit=off" "$PGBIN/psql" "host=$dir port=$port user=postgres dbname=postgres" \
		-X -q -A -t -v ON_ERROR_STOP=1 -f - >/dev/null
	[ "$(q "$dir" "$port" "SELECT kv.get('$NS', '$KEYS') IS NOT NULL")" = t ] || die "preload: kv.get of the last key failed"
	DOC=$(q "$dir" "$port" "SELECT bench_doc(0)::text")
	q "$dir" "$port" "DROP TABLE bench_src" >/dev/null
	q "$dir" "$port" "VACUUM ANALYZE" >/dev/null
	q "$dir" "$port" "CHECKPOINT" >/dev/null
	t0=$SECONDS
	for ((n = 1; n < z; n++)); do
		until [ "$(q "$dir" $((port + n)) "SELECT kv.get('$NS', '$KEYS') IS NOT NULL")" = t ]; do
			((SECONDS - t0 < 120)) || die "node$((n + 1)) did not receive the preload within 120 s"
			sleep 0.5
		done
	done
	((z == 1)) || settle "$dir" "$port" "$z" 120
}

# settle DIR PORT ZONES TIMEOUT_S: wait until no node of the parade has
# applied a replicated row for half a second (a backlog left by one run
# must not land in the next); bounded.
NOTSETTLED=0
settle() {
	local dir=$1 port=$2 z=$3 t0=$SECONDS prev="" cur n
	((z > 1)) || return 0
	while :; do
		cur=""
		for ((n = 0; n < z; n++)); do
			cur="$cur $(q "$dir" $((port + n)) "SELECT coalesce(sum(rows_applied + conflicts), 0) FROM kv.replication_status")"
		done
		[ "$cur" = "$prev" ] && return 0
		prev=$cur
		if ((SECONDS - t0 > $4)); then
			log "WARNING: the parade still replicates after $4 s; going on"
			NOTSETTLED=$((NOTSETTLED + 1))
			return 0
		fi
		sleep 0.5
	done
}

# ---------------------------------------------------------------------------
# CPU used by processes outside this benchmark while a figure is measured
# (other sessions run test suites on these machines): /proc/stat busy time
# minus the parades' processes (postmasters with their reaped children,
# and their live children) and this script with its reaped children
# (pgbench, lag_probe, psql).  One pass over /proc: cheap.
# ---------------------------------------------------------------------------
postmasters() {
	local x n
	for x in "${PARADES[@]+"${PARADES[@]}"}"; do
		for ((n = 1; n <= ${x##*:}; n++)); do
			head -n1 "${x%:*}/node$n/postmaster.pid" 2>/dev/null || true
		done
	done | tr '\n' ' '
}
cpu_snap() { # prints "busy total ours" in clock ticks
	{
		cat /proc/stat
		# processes come and go while cat reads: never an error
		cat /proc/[0-9]*/stat 2>/dev/null || true
	} | awk -v pms="$(postmasters)" -v self=$$ '
		BEGIN { n = split(pms, a, " "); for (i = 1; i <= n; i++) pm[a[i]] = 1 }
		$1 == "cpu" { busy = $2 + $3 + $4 + $7 + $8; total = $2 + $3 + $4 + $5 + $6 + $7 + $8 + $9; next }
		$1 ~ /^[0-9]+$/ {
			pid = $1
			line = $0
			sub(/^.*\) /, "", line)
			split(line, f, " ")
			if ((pid in pm) || pid == self) ours += f[12] + f[13] + f[14] + f[15]
			else if (f[2] in pm) ours += f[12] + f[13]
		}
		END { print busy, total, ours + 0 }'
}
other_pct() { # other_pct "BEFORE" "AFTER": % of all CPUs used by others
	awk -v b="$1" -v a="$2" 'BEGIN {
		split(b, x, " "); split(a, y, " ")
		t = y[2] - x[2]; o = (y[1] - x[1]) - (y[3] - x[3])
		if (o < 0) o = 0
		printf "%.0f", (t > 0) ? 100 * o / t : 0 }'
}
OTHER_MAX=0
note_other() { ((${1:-0} > OTHER_MAX)) && OTHER_MAX=$1; return 0; }

# ---------------------------------------------------------------------------
# pgbench
# ---------------------------------------------------------------------------
# pgb NAME PORT SCRIPT PGBENCH-ARGS...: one pgbench run over TCP as $ROLE,
# with PGOPTIONS=$COPTS; sets TPS (float), CONNMS (average connection time,
# -C only), FAILED (1 if the run failed or some transactions did), OTHER.
COPTS=
pgb() {
	local name=$1 port=$2 script=$3 out=$WORK/pgb.out b a rc limit
	shift 3
	limit=$((SECS_B + SECS_C + SECS_LAG + 60))
	b=$(cpu_snap)
	rc=0
	PGOPTIONS="$COPTS" timeout -k 5 "$limit" "$PGBIN/pgbench" -h 127.0.0.1 -p "$port" -U "$ROLE" -n \
		-D nkeys="$KEYS" -D doc="$DOC" -f "$HERE/$script" "$@" postgres >"$out" 2>&1 || rc=$?
	a=$(cpu_snap)
	pgb_parse "$name" "$port" "$script" "$rc" "$out" "$b" "$a" "$*"
}
pgb_parse() { # NAME PORT SCRIPT RC OUTFILE CPU_BEFORE CPU_AFTER ARGS
	local f
	TPS=$(awk '/^tps = / { print $3; exit }' "$5")
	CONNMS=$(awk '/^average connection time = / { print $5; exit }' "$5")
	f=$(awk '/^number of failed transactions:/ { print $5; exit }' "$5")
	OTHER=$(other_pct "$6" "$7")
	note_other "$OTHER"
	FAILED=0
	if [ "$4" != 0 ] || [ -z "$TPS" ] || [ "${f:-0}" != 0 ]; then
		FAILED=1
		log "  WARNING: $1 failed (pgbench exit $4, ${f:-?} failed transactions): see the .log"
	fi
	TPS=${TPS:-0}
	{
		echo "==== $1: pgbench -p $2 -f $3 $8  (PGOPTIONS='$COPTS', other processes ${OTHER}% of the CPUs)"
		cat "$5"
		echo
	} >>"$DETAILS"
}
ms_per_call() { awk -v c="$1" -v t="$2" 'BEGIN { if (t > 0) printf "%.2f", 1000 * c / t; else print "n/a" }'; }

# ---------------------------------------------------------------------------
# Part a: a new connection per call, on one node
# rows: where|measure|c|raw tps|kv tps|raw conn ms|kv conn ms|other%|failed
# ---------------------------------------------------------------------------
declare -a ROWS_A=()
conn_part() { # conn_part WHERE PORT
	local where=$1 port=$2 c j rt rc2 ro rf
	for c in 1 4; do
		j=$((c < 2 ? c : 2))
		for pair in "kv.get / raw PK select|simple_raw_select.sql|simple_kv_get.sql" \
			"kv.put / raw upsert|simple_raw_upsert.sql|simple_kv_put.sql"; do
			IFS='|' read -r what raw kv <<<"$pair"
			pgb "$where -C raw c=$c" "$port" "$raw" -C -M simple -T "$SECS_C" -c "$c" -j "$j"
			rt=$TPS rc2=$CONNMS ro=$OTHER rf=$FAILED
			pgb "$where -C kv c=$c" "$port" "$kv" -C -M simple -T "$SECS_C" -c "$c" -j "$j"
			ROWS_A+=("$where|$what|$c|$rt|$TPS|$rc2|$CONNMS|$ro/$OTHER|$((rf | FAILED))")
			log "  -C $what c=$c: raw $(fdiv "$rt" 1 %.1f) tps, kv $(fdiv "$TPS" 1 %.1f) tps ($(fdiv "$TPS" "$rt"))"
		done
	done
}

SOFILE=$("$PG_CONFIG" --pkglibdir)/globalkv.so
SOID="md5 $(md5sum "$SOFILE" | cut -c1-12), installed $(date -r "$SOFILE" '+%Y-%m-%d %H:%M:%S')"
# loaded_so DIR: md5 of the globalkv.so node1 of a parade loaded at start
# (other sessions reinstall it meanwhile): the mapped file itself where
# /proc lets us open it (root), else the installed file, read right away
loaded_so() {
	local pm range
	pm=$(head -n1 "$1/node1/postmaster.pid")
	range=$(awk '/globalkv\.so/ { print $1; exit }' "/proc/$pm/maps" 2>/dev/null || true)
	{ [ -n "$range" ] && md5sum <"/proc/$pm/map_files/$range" 2>/dev/null || md5sum <"$SOFILE"; } | cut -c1-12
}
log "$MODE run: $KEYS keys; -C runs ${SECS_C}s, long-lived runs ${SECS_B}s, lag runs ${SECS_LAG}s; globalkv.so $SOID"

if [ "$SINGLE" = 1 ]; then
	log "part a on a standalone node"
	create_parade 1
	SDIR=$PDIR
	SPORT=$PPORT
	SO_SINGLE=$(loaded_so "$SDIR")
	setup_parade "$SDIR" "$SPORT" 1
	conn_part "single node" "$SPORT"
	forget_parade "$SDIR"
fi

create_parade 3
MDIR=$PDIR
MPORT=$PPORT
PM1=$(head -n1 "$MDIR/node1/postmaster.pid")
SO_MULTI=$(loaded_so "$MDIR")
log "preloading $KEYS keys into node1 (kv.put_many x $CHUNK, and bench_raw) and waiting for node2, node3"
setup_parade "$MDIR" "$MPORT" 3
# the server's settings, not those of q's sessions (which turn JIT off)
CONF=$(PGOPTIONS= "$PGBIN/psql" "host=$MDIR port=$MPORT user=postgres dbname=postgres" -X -A -t -q -c "SELECT string_agg(name || '=' || current_setting(name), ' ' ORDER BY name) FROM pg_settings
	WHERE name IN ('synchronous_commit', 'fsync', 'jit', 'shared_buffers', 'wal_writer_delay', 'max_connections')")
PGVER=$(q "$MDIR" "$MPORT" "SHOW server_version")
msettle() { settle "$MDIR" "$MPORT" 3 "${1:-60}"; }

log "part a on node1 of the 3-zone parade"
conn_part "3-zone parade node1" "$MPORT"
msettle

# ---------------------------------------------------------------------------
# Part b: long-lived connections, -M prepared, node1 of the parade
# rows: measure|c|commits|raw tps|kv tps|other%|failed|target
# ---------------------------------------------------------------------------
declare -a ROWS_B=()
log "part b: long-lived connections on node1 (warm-up ${WARM}s per script)"
om=$OTHER_MAX	# the warm-up is not a figure: its disturbance does not count
for s in raw_upsert.sql kv_put.sql raw_select.sql kv_get.sql; do
	pgb "warm-up $s" "$MPORT" "$s" -M prepared -T "$WARM" -c 4 -j 2
done
OTHER_MAX=$om
msettle
for sync in on off; do
	if [ "$sync" = off ]; then COPTS="-c synchronous_commit=off"; else COPTS=; fi
	pgb "prepared raw upsert c=4 sync=$sync" "$MPORT" raw_upsert.sql -M prepared -T "$SECS_B" -c 4 -j 2
	rt=$TPS ro=$OTHER rf=$FAILED
	pgb "prepared kv.put c=4 sync=$sync" "$MPORT" kv_put.sql -M prepared -T "$SECS_B" -c 4 -j 2
	ROWS_B+=("kv.put / raw upsert|4|$sync|$rt|$TPS|$ro/$OTHER|$((rf | FAILED))|0.8")
	log "  kv.put / raw upsert c=4 synchronous_commit=$sync: raw $(fdiv "$rt" 1 %.0f), kv $(fdiv "$TPS" 1 %.0f) tps ($(fdiv "$TPS" "$rt"))"
	msettle
done
COPTS=
for c in 1 4; do
	j=$((c < 2 ? c : 2))
	pgb "prepared raw select c=$c" "$MPORT" raw_select.sql -M prepared -T "$SECS_B" -c "$c" -j "$j"
	rt=$TPS ro=$OTHER rf=$FAILED
	pgb "prepared kv.get c=$c" "$MPORT" kv_get.sql -M prepared -T "$SECS_B" -c "$c" -j "$j"
	ROWS_B+=("kv.get / raw PK select|$c|on|$rt|$TPS|$ro/$OTHER|$((rf | FAILED))|1.0")
	log "  kv.get / raw PK select c=$c: raw $(fdiv "$rt" 1 %.0f), kv $(fdiv "$TPS" 1 %.0f) tps ($(fdiv "$TPS" "$rt"))"
done

# ---------------------------------------------------------------------------
# Part c: visible lag, lag_probe writing into node1, reading node2 and node3
# rows: load|commits|pgbench tps|dest|n|lost|p50|p90|p99|max|burst|put p50|put p99|other%
# ---------------------------------------------------------------------------
declare -a ROWS_C=()
BGPIDS=
lagrun() { # lagrun RATE|idle SYNC
	local rate=$1 sync=$2 b a rc=0 prc=0 pid= out=$WORK/lag.out pout=$WORK/lagpgb.out tps="-" ptime
	if [ "$sync" = off ]; then COPTS="-c synchronous_commit=off"; else COPTS=; fi
	ptime=$((SECS_LAG - 2))
	b=$(cpu_snap)
	if [ "$rate" != idle ]; then
		PGOPTIONS="$COPTS" timeout -k 5 $((SECS_LAG + 60)) "$PGBIN/pgbench" -h 127.0.0.1 -p "$MPORT" -U "$ROLE" -n \
			-D nkeys="$KEYS" -D doc="$DOC" -f "$HERE/kv_put.sql" -M prepared -R "$rate" -c 4 -j 2 -T "$SECS_LAG" \
			postgres >"$pout" 2>&1 &
		pid=$!
		BGPIDS=$pid
		# let pgbench's connections pay their first calls before the probe starts
		sleep 1
	fi
	PGOPTIONS="$COPTS" timeout -k 5 $((ptime + PROBE_TIMEOUT + 30)) "$PROBE" -w "$(tcp "$MPORT")" \
		-r "$(tcp $((MPORT + 1)))" -r "$(tcp $((MPORT + 2)))" -n "$NS" -T "$ptime" -R "$PROBE_RATE" \
		-t "$PROBE_TIMEOUT" -o "$WORK/lag-$rate-$sync.csv" >"$out" 2>&1 || prc=$?
	if [ -n "$pid" ]; then
		wait "$pid" || rc=$?
		BGPIDS=
	fi
	a=$(cpu_snap)
	if [ -n "$pid" ]; then
		pgb_parse "lag load $rate/s sync=$sync" "$MPORT" kv_put.sql "$rc" "$pout" "$b" "$a" \
			"-M prepared -R $rate -c 4 -j 2 -T $SECS_LAG"
		tps=$(awk -v t="$TPS" 'BEGIN { printf "%.0f", t }')
	else
		OTHER=$(other_pct "$b" "$a")
		note_other "$OTHER"
	fi
	{
		echo "==== lag run: load $rate, synchronous_commit=$sync (lag_probe exit $prc; per-probe CSV lag-$rate-$sync.csv)"
		cat "$out"
		echo
	} >>"$DETAILS"
	[ "$prc" = 0 ] || log "  WARNING: lag_probe failed (exit $prc): $(tail -n 2 "$out" | tr '\n' ' ')"
	local put
	put=$(awk '/^PUT / { for (i = 2; i <= NF; i++) { split($i, kv, "="); v[kv[1]] = kv[2] }
		printf "%.2f|%.2f", v["p50"], v["p99"] }' "$out")
	[ -n "$put" ] || put="n/a|n/a"
	while read -r line; do
		ROWS_C+=("$(awk -v load="$rate" -v sync="$sync" -v tps="$tps" -v put="$put" -v other="$OTHER" '{
			for (i = 2; i <= NF; i++) { split($i, kv, "="); v[kv[1]] = kv[2] }
			printf "%s|%s|%s|%s|%s|%s|%.1f|%.1f|%.1f|%.1f|%s|%s|%s", load, sync, tps, v["reader"], v["n"], v["lost"],
				v["p50"], v["p90"], v["p99"], v["max"], v["burst"], put, other }' <<<"$line")")
	done < <(grep '^LAG ' "$out" || true)
	log "  lag, load $rate, synchronous_commit=$sync: $(grep '^LAG ' "$out" | awk '{ printf "%s %s %s %s; ", $2, $5, $7, $8 }')"
	COPTS=
}
log "part c: visible lag (lag_probe, $PROBE_RATE probes/s into node1, polling node2 and node3)"
msettle
lagrun idle on
for sync in $LAG_SYNC; do
	for rate in $LAG_RATES; do
		msettle
		lagrun "$rate" "$sync"
	done
done

# ---------------------------------------------------------------------------
# Part d: idle CPU per kind of process
# ---------------------------------------------------------------------------
log "part d: waiting for the parade to settle, then ${IDLE_SECS}s of idle CPU sampling"
msettle 90
sleep 2
# idle_snap: "node kind pid ticks ctxt-switches" for every process of every node
idle_snap() {
	local n pm pid args kind t c
	for n in 1 2 3; do
		pm=$(head -n1 "$MDIR/node$n/postmaster.pid" 2>/dev/null) || continue
		{
			echo "$pm postmaster"
			ps -o pid=,args= --ppid "$pm" 2>/dev/null || true
		} | while read -r pid args; do
			case $args in
			postmaster) kind=postmaster ;;
			*"globalkv apply from"*) kind="globalkv apply worker" ;;
			*"postgres: $ROLE "* | *"postgres: postgres "*) kind="client backend" ;;
			*"postgres: globalkv_repl "*) kind="peer pull backend (globalkv_repl)" ;;
			*) kind=$(sed -e 's/^postgres: //' -e 's/ *$//' -e 's/[0-9][0-9]*/N/g' <<<"$args") ;;
			esac
			[ -r "/proc/$pid/stat" ] || continue
			t=$(sed 's/.*) //' "/proc/$pid/stat" 2>/dev/null | awk '{ print $12 + $13 }') || continue
			c=$(awk '/ctxt_switches/ { s += $2 } END { print s + 0 }' "/proc/$pid/status" 2>/dev/null) || continue
			echo "$n|$kind|$pid|$t|$c"
		done
	done
}
I0=$(idle_snap)
IB=$(cpu_snap)
sleep "$IDLE_SECS"
I1=$(idle_snap)
IA=$(cpu_snap)
IDLE_OTHER=$(other_pct "$IB" "$IA")
# per node and kind: % of one core, wake-ups/s, number of processes
IDLE_TABLE=$(awk -F'|' -v hz="$HZ" -v secs="$IDLE_SECS" '
	FNR == 1 { f++ }
	f == 1 { t0[$3] = $4; c0[$3] = $5; next }
	{
		k = $2; n = $1; kinds[k] = 1
		dt = $4 - (($3 in t0) ? t0[$3] : 0); dc = $5 - (($3 in c0) ? c0[$3] : 0)
		cpu[k, n] += dt; cs[k, n] += dc; cnt[k, n]++
	}
	END {
		for (k in kinds) {
			line = k
			for (n = 1; n <= 3; n++)
				line = line sprintf("|%.2f|%.0f|%d", 100 * cpu[k, n] / hz / secs, cs[k, n] / secs, cnt[k, n])
			print line
		}
	}' <(echo "$I0") <(echo "$I1") | sort)

SO_REPLACED=0
grep -q 'globalkv\.so (deleted)' "/proc/$PM1/maps" 2>/dev/null && SO_REPLACED=1

# ---------------------------------------------------------------------------
# Report
# ---------------------------------------------------------------------------
STAMP=$(date +%Y%m%d-%H%M%S)
COMMIT=$(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo unknown)
DIRTY=$(git -C "$ROOT" status --porcelain -- src sql 2>/dev/null | wc -l)
{
	echo "globalkv outside-in benchmark  $(date '+%Y-%m-%d %H:%M:%S %Z')  mode=$MODE  ($((SECONDS - T_START)) s)"
	echo "commit $COMMIT$([ "$DIRTY" -gt 0 ] && echo " (+$DIRTY uncommitted changes in src/ sql/)"), installed globalkv.so $SOID"
	echo "globalkv.so the servers loaded: md5 $SO_MULTI (3-zone parade)$([ "$SINGLE" = 1 ] && echo ", $SO_SINGLE (single node)")"
	echo "PostgreSQL $PGVER, $NCPU CPUs, load average at start: $LOAD0, at end: $(cut -d' ' -f1-3 /proc/loadavg)"
	echo "parades made by \`globalkv parade create\` with its defaults; node1 runs with: $CONF"
	echo "clients: over TCP 127.0.0.1 as role $ROLE (password, scram-sha-256; member of globalkv_client only);"
	echo "$KEYS keys preloaded (150-byte documents, kv.put_many x $CHUNK, and the same rows in bench_raw on node1);"
	echo "keys uniformly random; 'other' = % of all CPUs used by processes outside this benchmark (raw run/kv run)"
	echo
	echo "a. New connection per call: pgbench -C -M simple -n -T $SECS_C, -j min(c,2), simple_*.sql"
	echo "   ms/call = 1000 x c / tps (connection, authentication and the call); extra = kv - raw"
	[ "$SINGLE" = 1 ] && echo "   single node = a parade of one zone (globalkv parade create --zones 1), measured before the 3-zone parade exists"
	printf '   %-20s %-23s %2s %9s %9s %7s %-6s  %9s %9s %8s  %-10s %s\n' "where" "measure" "c" "raw tps" "kv tps" \
		"kv/raw" "target" "raw ms" "kv ms" "extra ms" "conn ms" "other"
	for r in "${ROWS_A[@]}"; do
		IFS='|' read -r where what c rt kt rcm kcm oth fl <<<"$r"
		ratio=$(fdiv "$kt" "$rt")
		printf '   %-20s %-23s %2s %9.1f %9.1f %7s %-6s  %9s %9s %8s  %-10s %s%s\n' "$where" "$what" "$c" "$rt" "$kt" \
			"$ratio" ">=0.9 $(verdict "$ratio" 0.9 ge)" "$(ms_per_call "$c" "$rt")" "$(ms_per_call "$c" "$kt")" \
			"$(awk -v c="$c" -v a="$rt" -v b="$kt" 'BEGIN { if (a > 0 && b > 0) printf "%.2f", 1000 * c / b - 1000 * c / a; else print "n/a" }')" \
			"$(fdiv "${rcm:-0}" 1 %.1f)/$(fdiv "${kcm:-0}" 1 %.1f)" "$oth%" "$([ "$fl" = 1 ] && echo "  FAILED")"
	done
	echo
	echo "b. Long-lived connections, node1 of the 3-zone parade: pgbench -M prepared -n -T $SECS_B -j min(c,2)"
	echo "   (kv.put replicates to node2 and node3, which share the CPUs; the raw upsert does not replicate)"
	printf '   %-23s %2s %-19s %9s %9s %7s %-12s %s\n' "measure" "c" "synchronous_commit" "raw tps" "kv tps" "kv/raw" "target" "other"
	for r in "${ROWS_B[@]}"; do
		IFS='|' read -r what c sync rt kt oth fl tg <<<"$r"
		ratio=$(fdiv "$kt" "$rt")
		printf '   %-23s %2s %-19s %9.0f %9.0f %7s %-12s %s%s\n' "$what" "$c" "$sync$([ "$sync" = off ] && echo " (PGOPTIONS)")" \
			"$rt" "$kt" "$ratio" ">=$tg $(verdict "$ratio" "$tg" ge)" "$oth%" "$([ "$fl" = 1 ] && echo "  FAILED")"
	done
	echo
	echo "c. Visible lag: lag_probe puts $PROBE_RATE probes/s into node1 (kv.put, warm connection) and polls node2, node3"
	echo "   (kv.get_many of every unseen probe, at most every 0.5 ms); lag = first sighting - return of the put, ms;"
	echo "   load = pgbench kv.put into node1, -M prepared -c 4 -j 2 -R <rate>, random preloaded keys; commits = the"
	echo "   synchronous_commit of pgbench and the probe (the apply workers keep the parade's default);"
	echo "   burst = most probes first seen by one poll; lost = not seen within ${PROBE_TIMEOUT} s"
	printf '   %-6s %-7s %9s %-6s %6s %5s %7s %7s %8s %8s %-11s %5s %13s %s\n' "load" "commits" "achieved" "dest" "probes" \
		"lost" "p50" "p90" "p99" "max" "target" "burst" "put p50/p99" "other"
	for r in "${ROWS_C[@]}"; do
		IFS='|' read -r load sync tps dest n lost p50 p90 p99 max burst pp50 pp99 oth <<<"$r"
		printf '   %-6s %-7s %9s %-6s %6s %5s %7s %7s %8s %8s %-11s %5s %13s %s\n' "$load" "$sync" "$tps" "$dest" "$n" \
			"$lost" "$p50" "$p90" "$p99" "$max" "<=15 $(verdict "$p99" 15 le)" "$burst" "$pp50/$pp99" "$oth%"
	done
	echo
	echo "d. Idle 3-zone parade, ${IDLE_SECS} s after it settled: CPU per kind of process (% of one core, from"
	echo "   /proc/<pid>/stat utime+stime, ${HZ} ticks/s: resolution $(awk -v h="$HZ" -v s="$IDLE_SECS" 'BEGIN { printf "%.2f", 100 / h / s }') %)," \
		"wake-ups/s (context switches), processes"
	echo "   target: globalkv's workers ~0 (here: <= 0.1 % of a core per node); other processes: ${IDLE_OTHER}% of the CPUs"
	printf '   %-36s %-22s %-22s %-22s\n' "kind" "node1 %cpu wk/s n" "node2 %cpu wk/s n" "node3 %cpu wk/s n"
	while IFS='|' read -r kind c1 w1 n1 c2 w2 n2 c3 w3 n3; do
		[ -n "$kind" ] || continue
		printf '   %-36s %6s %6s %3s       %6s %6s %3s       %6s %6s %3s\n' "$kind" "$c1" "$w1" "$n1" "$c2" "$w2" "$n2" "$c3" "$w3" "$n3"
	done <<<"$IDLE_TABLE"
	GKV_IDLE=$(awk -F'|' '$1 ~ /globalkv/ { for (n = 0; n < 3; n++) s[n] += $(2 + 3 * n) }
		END { m = 0; for (n = 0; n < 3; n++) if (s[n] > m) m = s[n]; printf "%.2f", m }' <<<"$IDLE_TABLE")
	printf '   %-36s %s %% of a core on the busiest node  target <= 0.1  %s\n' "globalkv workers, sum per node" "$GKV_IDLE" \
		"$(verdict "$GKV_IDLE" 0.1 le)"
	echo
	[ "$SO_REPLACED" = 1 ] && echo "NOTE: globalkv.so was reinstalled while the 3-zone parade ran; it kept the one it loaded (md5 above)."
	((NOTSETTLED > 0)) && echo "NOTE: $NOTSETTLED time(s) the parade was still replicating when the next measurement started."
	((OTHER_MAX >= 10)) && echo "WARNING: other processes used up to $OTHER_MAX% of the CPUs during a measurement: those figures are disturbed."
	true
} >"$WORK/report.txt"

mkdir -p "$HERE/results"
cp "$WORK/report.txt" "$HERE/results/outside-in-$STAMP.txt"
cp "$DETAILS" "$HERE/results/outside-in-$STAMP.log"
for f in "$WORK"/lag-*.csv; do
	[ -f "$f" ] && cp "$f" "$HERE/results/outside-in-$STAMP-$(basename "$f")"
done
echo
cat "$WORK/report.txt"
echo "written to bench/results/outside-in-$STAMP.txt (pgbench and lag_probe output: .log, per-probe lags: -lag-*.csv)"
