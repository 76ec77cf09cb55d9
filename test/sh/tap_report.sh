#!/usr/bin/env bash
# ----------------------------------------------------------------------
# test/sh/tap_report.sh -- the runner tells a skipped test from an empty
# one, says why each skip happened, and counts it as neither passed nor
# failed
#
# Small fake tests -- one that skips all, one that skips some, one that
# fails, one that runs nothing -- go through `make installcheck` with
# `PROVE_FLAGS=-v`, as the runner runs the TAP tests (no cluster needed:
# none of them connects), or are read as the TAP a shell test prints;
# sm_tap_report (test/lib.sh) turns each into the lines the runner shows,
# and the summary line stays what .ci/run and the per-major totals parse.
# Prints TAP.
# ----------------------------------------------------------------------
set -u
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/../tap.sh"
check() { tap_is "$@"; }   # check NAME EXPECTED ACTUAL
cd "$(dirname "$0")/../.." || exit 1
PG_CONFIG=${PG_CONFIG:-/usr/lib/postgresql/$PG_MAJOR/bin/pg_config}

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# run_fake NAME: the fake Perl test $tmp/NAME through make installcheck,
# as run_tests.sh runs each TAP test; its output in $tmp/NAME.out
run_fake() {
    make -s PG_CONFIG="$PG_CONFIG" installcheck REGRESS= ISOLATION= \
        PROVE_TESTS="$tmp/$1" PROVE_FLAGS="-v" >"$tmp/$1.out" 2>&1
}

# report NAME RC [DIAG]: what the runner prints for NAME, then the counts
report() {
    sm_tap_report "$1" "$tmp/$1.out" "$2" "${3:-^#   Failed}"
    echo "counts: $SM_TAP_OK $SM_TAP_FAILED $SM_TAP_SKIPPED"
}

# 1. a test that skips all it has, as 035 and 050 do without ../shared
cat >"$tmp/skip_all.pl" <<'EOF'
use strict;
use warnings;
use Test::More;
plan skip_all => 'the reference is not beside the checkout';
EOF
run_fake skip_all.pl
rc=$?
check "a test that skips all: prove succeeds" 0 "$rc"
out=$(report skip_all.pl "$rc")
check "a test that skips all is shown skipped, with its reason" \
    "skip_all.pl ... skipped: the reference is not beside the checkout
counts: 0 0 1" "$out"

# 2. a test that skips some of its tests
cat >"$tmp/skip_some.pl" <<'EOF'
use strict;
use warnings;
use Test::More;
ok(1, 'first');
SKIP:
{
	skip 'needs /proc/self/status', 2;
	ok(1, 'second');
	ok(1, 'third');
}
ok(1, 'fourth');
done_testing();
EOF
run_fake skip_some.pl
rc=$?
out=$(report skip_some.pl "$rc")
check "skipped tests are shown with their reason, and not counted as passed" \
    "skip_some.pl: ok 2 # skip needs /proc/self/status
skip_some.pl: ok 3 # skip needs /proc/self/status
skip_some.pl ... 2 ok, 0 failed, 2 skipped
counts: 2 0 2" "$out"

# 3. a failure is still a failure, with its diagnostics, beside a skip
cat >"$tmp/fails.pl" <<'EOF'
use strict;
use warnings;
use Test::More;
SKIP: { skip 'not here', 1; ok(1, 'skipped'); }
is(1, 2, 'one is two');
done_testing();
EOF
run_fake fails.pl
rc=$?
check "a failing test: prove fails" yes "$([ "$rc" != 0 ] && echo yes || echo no)"
out=$(report fails.pl "$rc")
# prove shows the test's stderr (the diagnostics) where it arrives: sorted
check "a failure is counted failed and shown, with its diagnostics" \
    "counts: 0 1 1
fails.pl ... 0 ok, 1 failed, 1 skipped
fails.pl: #   Failed test 'one is two'
fails.pl: not ok 2 - one is two
fails.pl: ok 1 # skip not here" "$(echo "$out" | LC_ALL=C sort)"

# 4. a test that dies before any test, with no reason to skip
cat >"$tmp/dies.pl" <<'EOF'
use strict;
use warnings;
use Test::More;
die "no cluster\n";
EOF
run_fake dies.pl
rc=$?
out=$(report dies.pl "$rc")
check "a test that dies before its first test is one failure" \
    "counts: 0 1 0" "$(echo "$out" | tail -1)"

# 5. shell tests print TAP themselves (test/tap.sh)
printf '1..0 # SKIP no Debian packaging tools here\n' >"$tmp/sh_skip.sh.out"
out=$(report sh_skip.sh 0 '^#')
check "a shell test that skips all, with its reason" \
    "sh_skip.sh ... skipped: no Debian packaging tools here
counts: 0 0 1" "$out"
printf '1..0\n' >"$tmp/sh_skip_bare.sh.out"
out=$(report sh_skip_bare.sh 0 '^#')
check "a skip with no reason says so" \
    "sh_skip_bare.sh ... skipped: (no reason given)
counts: 0 0 1" "$out"
printf 'ok 1 - a\nok 2 # SKIP no network\n1..2\n' >"$tmp/sh_some.sh.out"
out=$(report sh_some.sh 0 '^#')
check "a shell test's skipped test, with its reason" \
    "sh_some.sh: ok 2 # SKIP no network
sh_some.sh ... 1 ok, 0 failed, 1 skipped
counts: 1 0 1" "$out"
: >"$tmp/sh_empty.sh.out"
out=$(report sh_empty.sh 0 '^#')
check "a test that ran nothing and gave no reason is a failure, not a skip" \
    "sh_empty.sh: no test ran, and no reason to skip was given
sh_empty.sh ... 0 ok, 1 failed, 0 skipped
counts: 0 1 0" "$out"
printf 'ok 1 - a\n1..1\n' >"$tmp/sh_exit.sh.out"
out=$(report sh_exit.sh 3 '^#')
check "a test whose command failed without a failed test is one failure" \
    "sh_exit.sh: exited with status 3
sh_exit.sh ... 1 ok, 1 failed, 0 skipped
counts: 1 1 0" "$out"

# 6. the summary line: its skipped count, read back as the per-major
# totals and .ci/run read it; a line of the old form still reads
sm_summary 12 0 3 >"$tmp/summary"
check "the summary: its skipped count, then the line CI reads" "3 skipped
12 passed, 0 failed" "$(cat "$tmp/summary")"
sm_summary 5 1 0 >"$tmp/summary0"
check "the summary without skips is the one line" "5 passed, 1 failed" "$(cat "$tmp/summary0")"
check "the last line matches what .ci/run reads" "12 passed, 0 failed" \
    "$(grep -E "$SM_SUMMARY_RE" "$tmp/summary")"
check "the summary line is read back" "12 0 3" "$(sm_read_summary "$tmp/summary")"
printf '== TAP\n7 passed, 1 failed\nnot a summary\n' >"$tmp/old_summary"
check "a summary without skips reads as none skipped" "7 1 0" \
    "$(sm_read_summary "$tmp/old_summary")"
printf '2 skipped\n4 passed, 0 failed\n== next\n9 passed, 0 failed\n' >"$tmp/two_summaries"
check "a skipped count belongs to the summary it precedes" "9 0 0" \
    "$(sm_read_summary "$tmp/two_summaries")"
printf 'no summary here\n' >"$tmp/no_summary"
check "no summary line reads as nothing" "" "$(sm_read_summary "$tmp/no_summary")"

tap_done
