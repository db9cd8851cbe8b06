#!/usr/bin/env bash
# scripts/demo.sh -- `make demo`: builds and installs globalkv, creates a
# local 3-zone parade with `globalkv parade create`, and runs a demo
# workload across the zones: a write in one zone read back in the others,
# one counter incremented concurrently in all three zones, a conflict
# resolved the same way everywhere, and a key expiring everywhere at once.
# The parade keeps running afterwards; the last lines say how to use and
# stop it.
#
# Runs as root (the servers then run as the unprivileged user "globalkv")
# or as a normal user with the Debian packages already installed.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
PG_CONFIG=${PG_CONFIG:-/usr/lib/postgresql/15/bin/pg_config}
DIR=${GLOBALKV_DEMO_DIR:-/tmp/globalkv-parade}
ZONES=3

if [ "$(id -u)" = 0 ]; then
    bash "$ROOT/scripts/install-deps.sh"
    make -C "$ROOT" -s PG_CONFIG="$PG_CONFIG" all install >/dev/null
else
    make -C "$ROOT" -s PG_CONFIG="$PG_CONFIG" all >/dev/null
    make -C "$ROOT" -s PG_CONFIG="$PG_CONFIG" install >/dev/null 2>&1 ||
        sudo -n make -C "$ROOT" -s PG_CONFIG="$PG_CONFIG" install >/dev/null
fi
make -C "$ROOT/bench" -s PG_CONFIG="$PG_CONFIG" lag_probe >/dev/null
GKV=$(command -v globalkv || echo "$ROOT/cli/globalkv")
PSQL="$($PG_CONFIG --bindir)/psql"

# a fresh parade on three free ports
if [ -f "$DIR/parade.conf" ]; then
    "$GKV" parade stop --dir "$DIR" >/dev/null 2>&1 || true
fi
rm -rf "$DIR"
PORT=${GLOBALKV_DEMO_PORT:-}
if [ -z "$PORT" ]; then
    for p in $(seq 54330 3 54600); do
        free=1
        for q in $p $((p + 1)) $((p + 2)); do
            (exec 3<>"/dev/tcp/127.0.0.1/$q") 2>/dev/null && free=0
        done
        [ $free = 1 ] && { PORT=$p; break; }
    done
fi
"$GKV" parade create --dir "$DIR" --zones $ZONES --port-base "$PORT"

z() { # z ZONE SQL: run SQL on the node of zone ZONE
    "$PSQL" "host=$DIR port=$((PORT + $1 - 1)) user=postgres dbname=postgres" -XAtq -v ON_ERROR_STOP=1 -c "$2"
}
show() { printf '    %-8s %s\n' "$1" "$2"; }
# wait_all SQL: poll every zone until SQL is true there, bounded
wait_all() {
    for zone in $(seq 1 $ZONES); do
        for _ in $(seq 1 300); do
            [ "$(z "$zone" "$1")" = t ] && break
            sleep 0.02
        done
    done
}

echo
echo "--- a namespace created in zone1 exists everywhere"
z 1 "SELECT kv.create_namespace('shop')" >/dev/null
wait_all "SELECT count(*) = 1 FROM kv.namespaces WHERE name = 'shop'"
for zone in 1 2 3; do show "zone$zone" "$(z $zone "SELECT string_agg(name, ', ' ORDER BY name) FROM kv.namespaces")"; done

echo
echo "--- write in zone1, read back in zone2 and zone3"
z 1 "SELECT kv.put('shop', 'user:42', '{\"name\": \"Ada\", \"plan\": \"pro\"}')" >/dev/null
wait_all "SELECT kv.get('shop', 'user:42') IS NOT NULL"
for zone in 1 2 3; do show "zone$zone" "$(z $zone "SELECT kv.get('shop', 'user:42')")"; done
# the delay a reader sees: a client puts probe keys in zone1 on a warm
# connection, other clients poll zone2 and zone3 until each appears
echo "    replication delay, put returning in zone1 -> first read that sees it (200 probes, 100/s):"
LAG_OUT=$("$ROOT/bench/lag_probe" -w "host=$DIR port=$PORT user=postgres dbname=postgres" \
    -r "host=$DIR port=$((PORT + 1)) user=postgres dbname=postgres" \
    -r "host=$DIR port=$((PORT + 2)) user=postgres dbname=postgres" \
    -n shop -T 2 -R 100 -i demo 2>&1) || { echo "$LAG_OUT"; exit 1; }
echo "$LAG_OUT" | awk '/^LAG / {
    for (i = 2; i <= NF; i++) { split($i, kv, "="); v[kv[1]] = kv[2] }
    printf "    %-8s p50 %s ms, p99 %s ms, max %s ms (%s probes, %s lost)\n", v["reader"], v["p50"], v["p99"], v["max"], v["n"], v["lost"] }'

echo
echo "--- one counter, 1,000 increments in each zone at the same time"
for zone in 1 2 3; do
    z $zone "SELECT count(kv.patch_numeric('shop', 'page:home', '{\"hits\": 1, \"revenue\": 0.25}')) FROM generate_series(1, 1000)" >/dev/null &
done
wait
wait_all "SELECT (kv.get('shop', 'page:home')->>'hits')::int = 3000"
for zone in 1 2 3; do show "zone$zone" "$(z $zone "SELECT kv.get('shop', 'page:home')")"; done
echo "    (expected everywhere: {\"hits\": 3000, \"revenue\": 750.00}; no increment is lost)"

echo
echo "--- zone1 and zone2 write the same key at once: every zone keeps the same winner"
z 1 "SELECT kv.put('shop', 'cart:7', '{\"written_in\": \"zone1\"}')" >/dev/null &
z 2 "SELECT kv.put('shop', 'cart:7', '{\"written_in\": \"zone2\"}')" >/dev/null &
wait
wait_all "SELECT count(DISTINCT version) = 1 FROM kv.get_versioned('shop', 'cart:7')"
sleep 0.3
for zone in 1 2 3; do show "zone$zone" "$(z $zone "SELECT value || jsonb_build_object('version', version) FROM kv.get_versioned('shop', 'cart:7')")"; done

echo
echo "--- a session written in zone2 with a 3 second TTL expires everywhere at the same instant"
z 2 "SELECT kv.put('shop', 'session:abc', '{\"cart\": [1, 2, 3]}', 3)" >/dev/null
wait_all "SELECT kv.get('shop', 'session:abc') IS NOT NULL"
for zone in 1 2 3; do show "zone$zone" "$(z $zone "SELECT 'expires_at ' || expires_at FROM kv.get_versioned('shop', 'session:abc')")"; done
sleep 3.2
for zone in 1 2 3; do show "zone$zone" "$(z $zone "SELECT CASE WHEN kv.get('shop', 'session:abc') IS NULL THEN 'expired' ELSE 'still there' END")"; done

echo
echo "--- delete in zone3: gone everywhere"
z 3 "SELECT kv.delete('shop', 'user:42')" >/dev/null
wait_all "SELECT kv.get('shop', 'user:42') IS NULL"
for zone in 1 2 3; do show "zone$zone" "user:42 -> $(z $zone "SELECT coalesce(kv.get('shop', 'user:42')::text, 'NULL')")"; done

echo
echo "--- SQL over every document of a zone (kv.docs): written in zone1, queried in zone3"
z 1 "INSERT INTO kv.docs (namespace, key, value)
     SELECT 'shop', 'order:' || i, jsonb_build_object('customer', 'c' || (i % 4), 'total', i)
       FROM generate_series(1, 200) i" >/dev/null
wait_all "SELECT count(*) = 200 FROM kv.docs WHERE namespace = 'shop' AND key LIKE 'order:%'"
z 3 "SELECT value->>'customer' AS customer, count(*), sum((value->>'total')::int) AS total
       FROM kv.docs WHERE namespace = 'shop' AND key LIKE 'order:%' GROUP BY 1 ORDER BY 1" | sed 's/^/    zone3: /'
echo "    (expected: c0|50|5100, c1|50|4950, c2|50|5000, c3|50|5050 -- every order, whichever zone wrote it)"

echo
echo "--- status of zone1"
"$GKV" status -d "host=$DIR port=$PORT user=postgres dbname=postgres"

cat <<EOF2

The parade keeps running ($ZONES zones, ports $PORT-$((PORT + ZONES - 1))).
  try:     $GKV get -d "host=$DIR port=$((PORT + 1)) user=postgres" shop page:home
  psql:    $PSQL "host=$DIR port=$PORT user=postgres dbname=postgres"
  status:  $GKV status -d "host=$DIR port=$PORT user=postgres"
  stop:    $GKV parade stop --dir $DIR
EOF2
