#!/usr/bin/env bash
# test/unit/check_arrows.sh -- the allowed arrows between the extension's
# rooms (src/README.md) are kept: every src/ file and every header under
# src/include/globalkv/ includes only the headers of its own room and of
# rooms below it.  One "ok"/"not ok" line per file; exits 1 on a violation.
set -u
SRC=$(cd "$(dirname "${BASH_SOURCE[0]}")/../../src" && pwd)

# rank of each room, lowest first (src/README.md, "Allowed arrows")
rank_of_room() {
    case "$1" in
        base) echo 0 ;;
        clock) echo 1 ;;
        metrics) echo 2 ;;
        metadata) echo 3 ;;
        storage) echo 4 ;;
        connection) echo 5 ;;
        routing | replication) echo 6 ;;
        distributed | expiry | operations | monitoring) echo 7 ;;
        commands) echo 8 ;;
        entry) echo 9 ;;
        *) echo "unknown room $1" >&2; echo 99 ;;
    esac
}

# the room whose interface a globalkv header is
room_of_header() {
    case "$1" in
        utils.h | guc.h | errcodes.h) echo base ;;
        clock.h) echo clock ;;
        metrics.h) echo metrics ;;
        catalog.h) echo metadata ;;
        storage.h) echo storage ;;
        connection.h) echo connection ;;
        routing.h) echo routing ;;
        replication.h | pull_format.h) echo replication ;;
        expiry.h) echo expiry ;;
        distributed.h) echo distributed ;;
        operations.h) echo operations ;;
        monitoring.h) echo monitoring ;;
        *) echo unknown ;;
    esac
}

# the room a file belongs to
room_of_file() {
    local rel=${1#"$SRC"/}
    case "$rel" in
        include/globalkv/*) room_of_header "$(basename "$rel")" ;;
        globalkv.c) echo entry ;;
        guc.c | utils/* | common/*) echo base ;;
        *) echo "${rel%%/*}" ;;
    esac
}

n=0
failed=0
while IFS= read -r file; do
    room=$(room_of_file "$file")
    rank=$(rank_of_room "$room")
    bad=""
    while IFS= read -r hdr; do
        [ -z "$hdr" ] && continue
        to=$(room_of_header "$hdr")
        to_rank=$(rank_of_room "$to")
        # same rank is allowed only inside one room (routing and replication are
        # side by side, and so are expiry and operations)
        if [ "$to_rank" -gt "$rank" ] || { [ "$to_rank" -eq "$rank" ] && [ "$to" != "$room" ]; }; then
            bad="$bad globalkv/$hdr"
        fi
    done < <(sed -n 's/^#include "globalkv\/\([a-z_]*\.h\)".*/\1/p' "$file")
    if grep -q '^#include "\.\./' "$file"; then
        bad="$bad (a ../ include path)"
    fi
    n=$((n + 1))
    if [ -n "$bad" ]; then
        echo "not ok $n - ${file#"$SRC"/} ($room) includes$bad"
        failed=1
    else
        echo "ok $n - ${file#"$SRC"/} ($room) includes only its own and lower rooms"
    fi
done < <(find "$SRC" -name '*.c' -o -name '*.h' | sort)
[ "$n" -gt 0 ] || { echo "not ok - no source files found under $SRC"; exit 1; }
exit $failed
