# ----------------------------------------------------------------------
# test/tap.sh -- TAP output for the shell tests in test/sh/
#
# Source it, call tap_is / tap_ok for each assertion, end with tap_done:
# "ok N - name" or "not ok N - name" with the difference as "#" lines,
# then the plan, and an exit status that says whether all passed.
# ----------------------------------------------------------------------

tap_n=0
tap_fails=0

# tap_is NAME EXPECTED ACTUAL
tap_is() {
    tap_n=$((tap_n + 1))
    if [ "$2" = "$3" ]; then
        echo "ok $tap_n - $1"
    else
        echo "not ok $tap_n - $1"
        echo "#   expected: '$2'"
        echo "#        got: '$3'"
        tap_fails=$((tap_fails + 1))
    fi
}

# tap_ok NAME COMMAND...: passes when COMMAND succeeds
tap_ok() {
    local name=$1
    shift
    tap_n=$((tap_n + 1))
    if "$@"; then
        echo "ok $tap_n - $name"
    else
        echo "not ok $tap_n - $name"
        tap_fails=$((tap_fails + 1))
    fi
}

# tap_bail REASON: stop the test here (a step the rest depends on failed)
tap_bail() {
    tap_n=$((tap_n + 1))
    echo "not ok $tap_n - $1"
    echo "1..$tap_n"
    exit 1
}

tap_done() {
    echo "1..$tap_n"
    [ "$tap_fails" = 0 ]
}
