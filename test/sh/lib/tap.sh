# ----------------------------------------------------------------------
# test/sh/lib/tap.sh -- TAP output for the shell tests in test/sh/
#
# check NAME EXPECTED ACTUAL prints "ok N - NAME", or "not ok" with both
# values; tap_done prints the plan and fails when any check failed.
# ----------------------------------------------------------------------
n=0
fails=0

check() {
    n=$((n + 1))
    if [ "$2" = "$3" ]; then
        echo "ok $n - $1"
    else
        echo "not ok $n - $1"
        echo "#   expected: '$2'"
        echo "#        got: '$3'"
        fails=$((fails + 1))
    fi
}

tap_done() {
    echo "1..$n"
    [ "$fails" = 0 ]
}
