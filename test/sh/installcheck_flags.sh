#!/usr/bin/env bash
# ----------------------------------------------------------------------
# test/sh/installcheck_flags.sh -- `make installcheck` finds the TAP
# tests' shared module however it is called, and tests in UTF-8
# databases whatever the locale
#
# Packagers (pg_buildext, pgxn-tools) run plain `make installcheck`, often
# with their own PROVE_FLAGS; PGXS empties PROVE_FLAGS and sets
# PG_PROVE_FLAGS when it is included, so where the Makefile adds
# "-I test/t" decides whether `use SchemaMgrTest` works.  This looks at
# the prove command make would run (make -n) in each way it is called,
# then runs prove the same way on a test that only loads the module.
# Prints TAP.
# ----------------------------------------------------------------------
set -u
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/../tap.sh"
check() { tap_is "$@"; }   # check NAME EXPECTED ACTUAL
cd "$(dirname "$0")/../.." || exit 1
PG_CONFIG=${PG_CONFIG:-/usr/lib/postgresql/$PG_MAJOR/bin/pg_config}


# the prove command of `make installcheck` with the given make arguments
prove_line() {
    make -n installcheck PG_CONFIG="$PG_CONFIG" REGRESS= ISOLATION= "$@" 2>&1 |
        grep -E '(^|[ /])prove ' | head -1
}

has_include() {
    case " $1 " in
    *" -I test/t "*) echo yes ;;
    *) echo no ;;
    esac
}

line=$(prove_line)
check "plain make installcheck has a prove command" yes \
    "$([ -n "$line" ] && echo yes || echo no)"
check "plain make installcheck: prove -I test/t" yes "$(has_include "$line")"
line=$(prove_line PROVE_FLAGS=--verbose)
check "PROVE_FLAGS=--verbose keeps -I test/t" yes "$(has_include "$line")"
check "PROVE_FLAGS=--verbose is passed on" yes \
    "$(case $line in *--verbose*) echo yes ;; *) echo no ;; esac)"
line=$(prove_line PROVE_TESTS=test/t/040_restore.pl)
check "one test by PROVE_TESTS keeps -I test/t" yes "$(has_include "$line")"

# the include path really finds the module: prove with the flags make
# passes, on a test that loads the module as the TAP tests do
flags=$(make -s --no-print-directory -f - PG_CONFIG="$PG_CONFIG" print-flags <<'EOF'
include Makefile
print-flags:
	@echo $(PG_PROVE_FLAGS) $(PROVE_FLAGS)
EOF
)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cat >"$tmp/load.pl" <<'EOF'
use strict;
use warnings;
use SchemaMgrTest;
use Test::More;
pass('SchemaMgrTest loaded');
done_testing();
EOF
# shellcheck disable=SC2086
out=$(prove $flags "$tmp/load.pl" 2>&1)
check "prove with make's flags loads SchemaMgrTest" yes \
    "$(echo "$out" | grep -q '^Result: PASS' && echo yes || echo no)"
if ! echo "$out" | grep -q '^Result: PASS'; then
    echo "$out" | sed 's/^/#   /'
fi

# the tests need UTF-8 databases, and a fresh machine's locale is often
# "C", whose clusters are SQL_ASCII: pg_regress creates its database in
# UTF8, and the TAP tests' own clusters are UTF8 in a C locale too
line=$(make -n installcheck PG_CONFIG="$PG_CONFIG" ISOLATION= TAP_TESTS= 2>&1 |
    grep -E 'pg_regress' | head -1)
check "make installcheck: pg_regress --encoding=UTF8" yes \
    "$(case " $line " in *" --encoding=UTF8 "*) echo yes ;; *) echo no ;; esac)"
cat >"$tmp/encoding.pl" <<'EOF'
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use Test::More;
my $node = PostgreSQL::Test::Cluster->new('encoding');
$node->init;
$node->start;
is($node->safe_psql('postgres', 'SHOW server_encoding'), 'UTF8', 'server_encoding');
$node->stop;
done_testing();
EOF
out=$(env -u LANG -u LANGUAGE -u LC_CTYPE -u LC_COLLATE LC_ALL=C \
    make installcheck PG_CONFIG="$PG_CONFIG" REGRESS= ISOLATION= \
    PROVE_TESTS="$tmp/encoding.pl" 2>&1)
check "make installcheck in the C locale: the TAP tests' clusters are UTF8" yes \
    "$(echo "$out" | grep -q '^Result: PASS' && echo yes || echo no)"
if ! echo "$out" | grep -q '^Result: PASS'; then
    echo "$out" | tail -20 | sed 's/^/#   /'
fi

tap_done
