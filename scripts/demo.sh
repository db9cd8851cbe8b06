#!/usr/bin/env bash
# scripts/demo.sh -- `make demo`: builds and installs globalkv, starts a local
# node with the extension loaded, and runs a short demo workload showing
# put, get, delete, patch_numeric counters and expiry.  The node keeps
# running afterwards; the last lines say how to connect and how to stop it.
#
# Runs as root (PostgreSQL then runs as the unprivileged user "globalkv") or
# as a normal user with the Debian packages already installed.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
PG_CONFIG=${PG_CONFIG:-/usr/lib/postgresql/15/bin/pg_config}
DEMO_DIR=${GLOBALKV_DEMO_DIR:-/tmp/globalkv-demo}
RUN_USER=${GLOBALKV_RUN_USER:-globalkv}

if [ "$(id -u)" = 0 ]; then
    bash "$ROOT/scripts/install-deps.sh"
    make -C "$ROOT" -s PG_CONFIG="$PG_CONFIG" all install >/dev/null
    id "$RUN_USER" >/dev/null 2>&1 || useradd --system --create-home --shell /bin/bash "$RUN_USER"
    as_user() { runuser -u "$RUN_USER" -- "$@"; }
else
    make -C "$ROOT" -s PG_CONFIG="$PG_CONFIG" all
    make -C "$ROOT" -s PG_CONFIG="$PG_CONFIG" install 2>/dev/null ||
        sudo -n make -C "$ROOT" -s PG_CONFIG="$PG_CONFIG" install
    as_user() { "$@"; }
fi
BIN=$($PG_CONFIG --bindir)

# a fresh node on a free port
if [ -f "$DEMO_DIR/data/postmaster.pid" ]; then
    as_user "$BIN/pg_ctl" -D "$DEMO_DIR/data" -m fast stop >/dev/null 2>&1 || true
fi
rm -rf "$DEMO_DIR"
mkdir -p "$DEMO_DIR"
[ "$(id -u)" = 0 ] && chown "$RUN_USER" "$DEMO_DIR"
PORT=${GLOBALKV_DEMO_PORT:-}
if [ -z "$PORT" ]; then
    for p in $(seq 54320 54399); do
        (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null || { PORT=$p; break; }
    done
fi
as_user "$BIN/initdb" -D "$DEMO_DIR/data" -U postgres -A trust >/dev/null
cat <<CONF | as_user tee -a "$DEMO_DIR/data/postgresql.conf" >/dev/null
shared_preload_libraries = 'globalkv'
globalkv.database = 'postgres'
globalkv.expiry_interval = 200ms
port = $PORT
listen_addresses = '127.0.0.1'
unix_socket_directories = '$DEMO_DIR'
CONF
as_user "$BIN/pg_ctl" -D "$DEMO_DIR/data" -l "$DEMO_DIR/node.log" -w start >/dev/null
CONN="host=127.0.0.1 port=$PORT user=postgres dbname=postgres"
as_user "$BIN/psql" "$CONN" -Xq -c 'CREATE EXTENSION globalkv'

echo "==> globalkv node running: $CONN"
echo "==> demo workload"
as_user "$BIN/psql" "$CONN" -X -v ON_ERROR_STOP=1 -f "$ROOT/scripts/demo.sql"
cat <<EOF2

The node keeps running.
  connect:  psql "$CONN"
  log:      $DEMO_DIR/node.log
  stop:     ${SUDO_HINT:-}$BIN/pg_ctl -D $DEMO_DIR/data stop$([ "$(id -u)" = 0 ] && echo "   (as user $RUN_USER: runuser -u $RUN_USER -- ...)")
EOF2
