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
# Suites: unit (standalone C, with ASan/UBSan), fuzz (libFuzzer targets in
# test/fuzz, FUZZ_SECONDS each), regress (pg_regress),
# isolation (pg_isolation_regress), tap (PostgreSQL::Test::Cluster).  Each
# test case counts once; the last line is "N passed, M failed, K skipped",
# and the exit status is non-zero when anything failed.  Nothing passes by
# accident: a regression or isolation test file missing from its schedule
# fails, a suite that ran no test fails, a TAP file that made no assertion
# fails, TAP skips are counted as skips (not passes), and no suite's count
# can go below zero to cancel another's failures.
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
SKIPPED=0

# count SUITE PASSED FAILED [SKIPPED]: a suite that ran nothing has failed,
# and a failure count never goes below zero (no suite's surplus of passes
# can cancel another's failures)
count() {
    local p=$2 f=$3 s=${4:-0}
    [ "$f" -lt 0 ] && f=1
    if [ "$p" -eq 0 ] && [ "$f" -eq 0 ]; then
        echo "suite $1 ran no test"
        f=1
    fi
    printf '%-10s %4d passed, %d failed, %d skipped\n' "$1" "$p" "$f" "$s" >>"$RESULTS/summary"
    PASSED=$((PASSED + p))
    FAILED=$((FAILED + f))
    SKIPPED=$((SKIPPED + s))
}

# unscheduled SUITE DIR PATTERN SUBDIR: a test file that exists but is not in the
# suite's schedule would never run -- each one counts as a failure
unscheduled() {  # unscheduled SUITE DIR PATTERN SUBDIR
    local suite=$1 dir=$2 pattern=$3 sub=$4 n=0 f name
    for f in "$dir/$sub"/$pattern; do
        [ -e "$f" ] || continue
        name=$(basename "$f"); name=${name%.*}
        if ! grep -qx "test: $name" "$dir/schedule"; then
            echo "$suite: $f is not in $dir/schedule"
            n=$((n + 1))
        fi
    done
    echo "$n" >"$RESULTS/unscheduled-$suite"
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

# ---- fuzz: libFuzzer targets, FUZZ_SECONDS (default 5) each ---------------
if want fuzz; then
    log "fuzz targets"
    if make -s -C test/fuzz run >"$RESULTS/fuzz.log" 2>&1; then :; fi
    cat "$RESULTS/fuzz.log"
    p=$(grep -cE '^fuzz_[a-z_]+: ok' "$RESULTS/fuzz.log")
    f=$(grep -cE '^fuzz_[a-z_]+: FAILED' "$RESULTS/fuzz.log")
    # every target must have run: one that did not build counts as failed
    n=$(sed -n 's/^TARGETS = //p' test/fuzz/Makefile | wc -w)
    [ $((p + f)) -lt "$n" ] && f=$((n - p))
    count fuzz "$p" "$f"
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
    [ "$f" -lt 0 ] && f=0
    f=$((f + $(cat "$RESULTS/unscheduled-$suite")))
    if [ -s "$dir/output/regression.diffs" ]; then
        log "$suite differences:"
        head -200 "$dir/output/regression.diffs"
    fi
    count "$suite" "$p" "$f"
}
unscheduled regress test/regress '*.sql' sql
unscheduled isolation test/isolation '*.spec' specs
want regress && run_pg_regress regress "$PG_REGRESS" test/regress
want isolation && run_pg_regress isolation "$PGXS_SRC/test/isolation/pg_isolation_regress" test/isolation

# ---- tap: multi-node and worker tests ----------------------------------------
if want tap; then
    log "TAP tests"
    rm -rf test/tap/tmp_check
    p=0
    f=0
    sk=0
    # test/chaos: the fault harness, run like the TAP tests (its own folder)
    for t in test/tap/t/*.pl test/chaos/t/*.pl; do
        [ -e "$t" ] || continue
        case "$(basename "$t")" in *"${TAP_ONLY:-}"*) ;; *) continue ;; esac
        name=$(basename "$t" .pl)
        TESTDIR="$ROOT/test/tap" PG_REGRESS="$PG_REGRESS" \
            timeout 600 perl -I "$PGXS_SRC/test/perl" -I test/tap -I test/chaos "$t" \
            >"$RESULTS/tap-$name.log" 2>&1
        rc=$?
        ts=$(grep -cE '^ok [0-9]+.*# *skip' "$RESULTS/tap-$name.log")
        tp=$(( $(grep -cE '^ok [0-9]+' "$RESULTS/tap-$name.log") - ts ))
        tf=$(grep -cE '^not ok [0-9]+' "$RESULTS/tap-$name.log")
        if [ $rc -ne 0 ] && [ "$tf" -eq 0 ]; then tf=1; fi
        # a file that ends without a single assertion has tested nothing
        if [ "$tp" -eq 0 ] && [ "$tf" -eq 0 ]; then
            echo "  $name made no assertion"
            tf=1
        fi
        printf '  %-32s %3d passed, %d failed, %d skipped\n' "$name" "$tp" "$tf" "$ts"
        if [ "$tf" -ne 0 ]; then
            grep -E '^(not ok|#)' "$RESULTS/tap-$name.log" | head -40
            tail -20 "$RESULTS/tap-$name.log"
            for l in test/tap/tmp_check/log/*"${name}"*.log; do
                [ -e "$l" ] && { echo "--- $l"; tail -30 "$l"; }
            done
        fi
        p=$((p + tp))
        f=$((f + tf))
        sk=$((sk + ts))
    done
    count tap "$p" "$f" "$sk"
fi

echo
cat "$RESULTS/summary"
rm -rf "$RESULTS"
if [ "$PASSED" -eq 0 ]; then FAILED=$((FAILED + 1)); fi
echo "$PASSED passed, $FAILED failed, $SKIPPED skipped"
[ "$FAILED" -eq 0 ]
