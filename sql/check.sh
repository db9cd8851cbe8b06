#!/bin/sh
# sql/check.sh BUILDDIR -- the rules of sql/README.md that a machine can
# check, run by every build (the Makefile's build/sql/.checked) once the
# scripts are assembled in BUILDDIR (build/sql):
#
#  1. sql/udfs/<f>/latest.sql (and sql/views/<v>/latest.sql) is identical
#     to the highest <version>.sql beside it;
#  2. every <version>.sql is #included by some script, and no script
#     includes a latest.sql (it changes with every version);
#  3. a released script never changes: the assembled scripts listed in
#     sql/released.sha256 still have the checksums recorded there.
#
# Run from the top of the tree.  Prints every problem, exits 1 if any.
set -u
BUILD=${1:?usage: sh sql/check.sh BUILDDIR}
bad=0
problem() { echo "sql/check.sh: $*" >&2; bad=1; }

for dir in sql/udfs/*/ sql/views/*/; do
    [ -d "$dir" ] || continue
    dir=${dir%/}
    highest=$(ls "$dir" | grep '\.sql$' | grep -vx 'latest\.sql' | sed 's/\.sql$//' | sort -V | tail -n 1)
    if [ -z "$highest" ]; then
        problem "$dir has no <version>.sql"
    elif [ ! -f "$dir/latest.sql" ]; then
        problem "$dir/latest.sql is missing: cp $dir/$highest.sql $dir/latest.sql"
    elif ! cmp -s "$dir/$highest.sql" "$dir/latest.sql"; then
        problem "$dir/latest.sql differs from $highest.sql, the highest version: cp $dir/$highest.sql $dir/latest.sql"
    fi
done

# the .d files written by sql/assemble.awk list every file each script read
deps=$(cat "$BUILD"/.deps/*.d 2>/dev/null)
[ -n "$deps" ] || problem "no dependency files in $BUILD/.deps: assemble the scripts first"
for f in sql/udfs/*/*.sql sql/views/*/*.sql; do
    [ -f "$f" ] || continue
    case $f in
    */latest.sql)
        if printf '%s\n' "$deps" | grep -Fqx "$f:"; then
            problem "a script includes $f: include the version file, latest.sql changes with every version"
        fi ;;
    *)
        if ! printf '%s\n' "$deps" | grep -Fqx "$f:"; then
            problem "$f is not #included by any sql/globalkv--*.sql: a version file nobody installs"
        fi ;;
    esac
done

# released scripts, as assembled: "<sha256>  <file name in BUILDDIR>"
if [ -f sql/released.sha256 ]; then
    while read -r sum name; do
        case $sum in ''|'#'*) continue ;; esac
        if [ ! -f "$BUILD/$name" ]; then
            problem "$name was released (sql/released.sha256) but is not built: its source sql/$name is gone"
        elif [ "$(sha256sum <"$BUILD/$name" | cut -d' ' -f1)" != "$sum" ]; then
            problem "$BUILD/$name is not the script that was released: a released script never changes," \
                "nor does a udfs/ or views/ file it includes (sql/README.md); put the change in a new version"
        fi
    done <sql/released.sha256
else
    problem "sql/released.sha256 is missing"
fi
exit $bad
