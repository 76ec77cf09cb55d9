#!/usr/bin/env bash
# ----------------------------------------------------------------------
# test/sh/released_scripts.sh -- released install scripts never change
#
# schema_mgr--1.0.sql is what every 1.0 user installed.  Its checksum is
# recorded here; a change to SQL objects belongs in the next upgrade script.
# Also checks that the control file's default_version is reachable from
# 1.0 through upgrade scripts, each guarded by the \echo line.  Prints TAP.
# ----------------------------------------------------------------------
set -u
cd "$(dirname "$0")/../.." || exit 1

n=0
fails=0
ok() { n=$((n + 1)); echo "ok $n - $1"; }
not_ok() { n=$((n + 1)); echo "not ok $n - $1"; fails=$((fails + 1)); }

released="schema_mgr--1.0.sql 376239766348b38d6a01a54c3545f550128110f97cadb1cb98f954567a852533"
set -- $released
while [ $# -ge 2 ]; do
    file=$1 sum=$2
    shift 2
    if [ "$(sha256sum "$file" 2>/dev/null | cut -d' ' -f1)" = "$sum" ]; then
        ok "$file is unchanged since its release"
    else
        not_ok "$file changed after its release: put the change in the next upgrade script"
    fi
done

default=$(sed -nE "s/^default_version[[:space:]]*=[[:space:]]*'([^']*)'.*/\1/p" schema_mgr.control)
version=1.0
while [ "$version" != "$default" ]; do
    next=$(ls schema_mgr--"$version"--*.sql 2>/dev/null | sed -E "s/^schema_mgr--$version--(.*)\.sql$/\1/" | head -1)
    if [ -z "$next" ]; then
        not_ok "no upgrade script leads from $version towards $default"
        break
    fi
    script=schema_mgr--$version--$next.sql
    if grep -q '^\\echo Use "ALTER EXTENSION schema_mgr UPDATE TO '"'$next'"'" to load this file. \\quit$' "$script"; then
        ok "$script is guarded against psql"
    else
        not_ok "$script lacks the \\echo ... \\quit guard line"
    fi
    version=$next
done
[ "$version" = "$default" ] && ok "default_version $default is reached from 1.0"

echo "1..$n"
[ "$fails" = 0 ]
