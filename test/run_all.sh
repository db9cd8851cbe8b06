#!/usr/bin/env bash
# test/run_all.sh -- every globalkv test suite, behind `make test`.
#
# As root (CI, a fresh Debian 12 machine): installs the Debian packages it
# needs, creates the unprivileged user "globalkv" (PostgreSQL refuses to run
# as root), copies the tree to a directory that user can read, builds there,
# installs the extension into the system PostgreSQL 15 as root, and runs the
# suites as that user.  As a normal user: builds and installs in place (the
# PostgreSQL directories must be writable, or sudo must work without a
# password) and runs the suites.
#
# Suites: unit (standalone C, with ASan/UBSan), regress (pg_regress),
# isolation (pg_isolation_regress), tap (PostgreSQL::Test::Cluster).  Each
# test case counts once; the last line is "N passed, M failed", and the exit
# status is non-zero when anything failed or no test ran.
set -u -o pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
PG_CONFIG=${PG_CONFIG:-/usr/lib/postgresql/15/bin/pg_config}
TEST_USER=${GLOBALKV_TEST_USER:-globalkv}
WORK=${GLOBALKV_TEST_DIR:-/tmp/globalkv-test}

log() { printf '==> %s\n' "$*"; }

if [ "$(id -u)" = 0 ] && [ -z "${GLOBALKV_TEST_INNER:-}" ]; then
    bash "$ROOT/scripts/install-deps.sh" || { echo "could not install packages"; echo "0 passed, 1 failed"; exit 1; }
    id "$TEST_USER" >/dev/null 2>&1 || useradd --system --create-home --shell /bin/bash "$TEST_USER"
    log "copying the tree to $WORK/src for user $TEST_USER"
    rm -rf "$WORK"
    mkdir -p "$WORK"
    cp -a "$ROOT" "$WORK/src"
    rm -rf "$WORK/src/.git"
    make -C "$WORK/src" -s clean >/dev/null 2>&1 || true
    chown -R "$TEST_USER" "$WORK"
    log "building"
    runuser -u "$TEST_USER" -- make -C "$WORK/src" -s PG_CONFIG="$PG_CONFIG" all >"$WORK/build.log" 2>&1 ||
        { cat "$WORK/build.log"; echo "0 passed, 1 failed"; exit 1; }
    make -C "$WORK/src" -s PG_CONFIG="$PG_CONFIG" install >>"$WORK/build.log" 2>&1 ||
        { cat "$WORK/build.log"; echo "0 passed, 1 failed"; exit 1; }
    exec runuser -u "$TEST_USER" -- env GLOBALKV_TEST_INNER=1 PG_CONFIG="$PG_CONFIG" \
        GLOBALKV_TEST_DIR="$WORK" bash "$WORK/src/test/run_all.sh" "$@"
fi

cd "$ROOT"
if [ -z "${GLOBALKV_TEST_INNER:-}" ]; then
    log "building and installing"
    make -s PG_CONFIG="$PG_CONFIG" all || { echo "0 passed, 1 failed"; exit 1; }
    if ! make -s PG_CONFIG="$PG_CONFIG" install 2>/dev/null; then
        sudo -n make -s PG_CONFIG="$PG_CONFIG" install ||
            { echo "cannot install into $($PG_CONFIG --pkglibdir): run as root"; echo "0 passed, 1 failed"; exit 1; }
    fi
fi

BINDIR=$($PG_CONFIG --bindir)
PGXS_SRC=$(dirname "$(dirname "$($PG_CONFIG --pgxs)")")
export PATH="$BINDIR:$PATH"
export PG_REGRESS="$PGXS_SRC/test/regress/pg_regress"
export TMPDIR=/tmp
RESULTS=$(mktemp -d /tmp/gkv-results.XXXXXX)
PASSED=0
FAILED=0

count() {  # count SUITE PASSED FAILED
    printf '%-10s %4d passed, %d failed\n' "$1" "$2" "$3" >>"$RESULTS/summary"
    PASSED=$((PASSED + $2))
    FAILED=$((FAILED + $3))
}

# only=SUITE[,SUITE] runs a subset: e.g. `make test only=tap`
want() { [ -z "${only:-}" ] || [[ ",$only," == *",$1,"* ]]; }

# ---- unit: standalone C tests (no server), with sanitizers ----------------
if want unit; then
    log "unit tests"
    if make -s -C test/unit run >"$RESULTS/unit.log" 2>&1; then :; fi
    cat "$RESULTS/unit.log"
    p=$(grep -cE '^ok ' "$RESULTS/unit.log")
    f=$(grep -cE '^not ok ' "$RESULTS/unit.log")
    grep -q '^unit: all done' "$RESULTS/unit.log" || f=$((f + 1))
    count unit "$p" "$f"
fi

# ---- regress and isolation: against temporary instances ------------------
run_pg_regress() {  # run_pg_regress SUITE DRIVER DIR
    local suite=$1 driver=$2 dir=$3
    local tests
    tests=$(sed -n 's/^test: //p' "$dir/schedule")
    rm -rf "$dir/output" "$dir/tmp_instance"
    mkdir -p "$dir/output"
    log "$suite tests"
    "$driver" --bindir="$BINDIR" --inputdir="$dir" --outputdir="$dir/output" \
        --temp-instance="$dir/tmp_instance" --temp-config=test/regress/globalkv.conf \
        --load-extension=globalkv $tests >"$RESULTS/$suite.log" 2>&1
    cat "$RESULTS/$suite.log"
    local p f
    p=$(grep -cE '\.\.\. ok' "$RESULTS/$suite.log")
    # every scheduled test that did not print "ok" failed, whatever it printed
    # (a missing expected file makes pg_regress print neither ok nor FAILED)
    f=$(( $(echo "$tests" | wc -w) - p ))
    if [ -s "$dir/output/regression.diffs" ]; then
        log "$suite differences:"
        head -200 "$dir/output/regression.diffs"
    fi
    count "$suite" "$p" "$f"
}
want regress && run_pg_regress regress "$PG_REGRESS" test/regress
want isolation && run_pg_regress isolation "$PGXS_SRC/test/isolation/pg_isolation_regress" test/isolation

# ---- tap: multi-node and worker tests ----------------------------------------
if want tap; then
    log "TAP tests"
    rm -rf test/tap/tmp_check
    p=0
    f=0
    for t in test/tap/t/*.pl; do
        [ -e "$t" ] || continue
        case "$(basename "$t")" in *"${TAP_ONLY:-}"*) ;; *) continue ;; esac
        name=$(basename "$t" .pl)
        TESTDIR="$ROOT/test/tap" PG_REGRESS="$PG_REGRESS" \
            timeout 600 perl -I "$PGXS_SRC/test/perl" -I test/tap "$t" \
            >"$RESULTS/tap-$name.log" 2>&1
        rc=$?
        tp=$(grep -cE '^ok [0-9]+' "$RESULTS/tap-$name.log")
        tf=$(grep -cE '^not ok [0-9]+' "$RESULTS/tap-$name.log")
        if [ $rc -ne 0 ] && [ "$tf" -eq 0 ]; then tf=1; fi
        printf '  %-32s %3d passed, %d failed\n' "$name" "$tp" "$tf"
        if [ "$tf" -ne 0 ]; then
            grep -E '^(not ok|#)' "$RESULTS/tap-$name.log" | head -40
            tail -20 "$RESULTS/tap-$name.log"
            for l in test/tap/tmp_check/log/*"${name}"*.log; do
                [ -e "$l" ] && { echo "--- $l"; tail -30 "$l"; }
            done
        fi
        p=$((p + tp))
        f=$((f + tf))
    done
    count tap "$p" "$f"
fi

echo
cat "$RESULTS/summary"
rm -rf "$RESULTS"
if [ "$PASSED" -eq 0 ]; then FAILED=$((FAILED + 1)); fi
echo "$PASSED passed, $FAILED failed"
[ "$FAILED" -eq 0 ]
