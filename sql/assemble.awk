# sql/assemble.awk -- build an install or upgrade script from its source.
#
#   awk -v target=build/sql/X.sql -v depfile=build/sql/.deps/X.d \
#       -f sql/assemble.awk sql/X.sql > build/sql/X.sql
#
# Every line that is exactly  #include "path"  is replaced by the file at
# path (relative to the directory of the file holding the line; included
# files may include others); every other line is copied unchanged, byte for
# byte.  Not cpp: cpp drops /* */ comments, squeezes runs of blanks (inside
# function bodies too) and trips over apostrophes in -- comments.  Any other
# cpp directive (#define, #if, ...) is refused rather than passed through.
#
# depfile receives make dependencies, like cpp -MMD -MP: target depends on
# every file read, and each included file gets an empty rule so that
# removing one does not break make.

function dirname(p) {
    return (p ~ /\//) ? substr(p, 1, match(p, /\/[^\/]*$/) - 1) : "."
}

function fail(msg) {
    print "assemble.awk: " msg > "/dev/stderr"
    failed = 1
    exit 1
}

function emit(file, depth,    line, n, rc, path) {
    if (depth > 10)
        fail(file ": #include nested more than 10 deep (an include cycle?)")
    n = 0
    while ((rc = (getline line < file)) > 0) {
        n++
        if (line ~ /^#include "[^"]+"$/) {
            path = substr(line, 11, length(line) - 11)
            path = dirname(file) "/" path
            deps[++ndeps] = path
            emit(path, depth + 1)
        } else if (line ~ /^#[ \t]*(include|define|undef|if|ifdef|ifndef|elif|else|endif|error|warning|pragma|line)([^A-Za-z0-9_]|$)/) {
            fail(file ":" n ": only lines of the form #include \"file\" are understood: " line)
        } else {
            print line
        }
    }
    if (rc < 0)
        fail("cannot read " file)
    if (n == 0)
        fail(file " is empty")
    close(file)
}

BEGIN {
    if (ARGC != 2 || target == "" || depfile == "")
        fail("usage: awk -v target=OUT -v depfile=OUT.d -f assemble.awk SOURCE > OUT")
    ndeps = 0
    emit(ARGV[1], 0)
    printf "%s: %s", target, ARGV[1] > depfile
    for (i = 1; i <= ndeps; i++)
        printf " %s", deps[i] > depfile
    printf "\n" > depfile
    for (i = 1; i <= ndeps; i++)
        printf "%s:\n", deps[i] > depfile
    close(depfile)
    exit 0
}
