# bench/parade_env.sh -- sourced by bench/load.sh and bench/session.sh: a
# parade of $ZONES zones x 1 node made by `globalkv parade create` with its
# defaults, in a mktemp dir ($WORK/parade) on free ports of 127.0.0.1,
# stopped and removed on exit.  Sets PGBIN, GKV, AS (run as the servers'
# user), WORK, DIR, CI (node1's connection string) and psql_.
#   usage: ZONES=2 PORT_FROM=17400 NAME=load . bench/parade_env.sh

PGBIN=$(/usr/lib/postgresql/15/bin/pg_config --bindir)
GKV=${GLOBALKV:-$(command -v globalkv || echo "$(dirname "$HERE")/cli/globalkv")}
AS=()
[ "$(id -u)" = 0 ] && AS=(runuser -u globalkv --)

WORK=$(mktemp -d "/tmp/gkv-$NAME-bench.XXXXXX")
chmod 755 "$WORK"
[ "$(id -u)" = 0 ] && chown globalkv "$WORK"
DIR=$WORK/parade
cleanup() {
	"${AS[@]}" "$GKV" parade stop --dir "$DIR" >/dev/null 2>&1 || true
	rm -rf "$WORK"
}
trap cleanup EXIT

# a free base port: ZONES consecutive ports, and their metrics ports (+1000)
PORT=
for base in $(seq "$PORT_FROM" 20 $((PORT_FROM + 1000))); do
	free=1
	for ((i = 0; i < ZONES; i++)); do
		if (exec 3<>"/dev/tcp/127.0.0.1/$((base + i))") 2>/dev/null ||
			(exec 3<>"/dev/tcp/127.0.0.1/$((base + 1000 + i))") 2>/dev/null; then
			free=0
		fi
	done
	if ((free)); then PORT=$base; break; fi
done
[ -n "$PORT" ] || { echo "$NAME bench: no free ports" >&2; exit 1; }

"${AS[@]}" "$GKV" parade create --dir "$DIR" --zones "$ZONES" --port-base "$PORT" >"$WORK/create.log" 2>&1 ||
	{ cat "$WORK/create.log" >&2; exit 1; }
CI="host=$DIR port=$PORT user=postgres dbname=postgres"
psql_() { "${AS[@]}" "$PGBIN/psql" "$CI" -X -qAt -v ON_ERROR_STOP=1 "$@"; }
