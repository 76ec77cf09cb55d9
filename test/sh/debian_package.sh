#!/usr/bin/env bash
# ----------------------------------------------------------------------
# test/sh/debian_package.sh -- the Debian package, built and installed
#
# Builds the packages as a DBA would (dpkg-buildpackage -us -uc -b, which
# also runs the build-time check of debian/rules), without root, in a
# copy of the tree, under a login name other than "postgres", as build
# servers do.  The build-time check's temporary cluster (pg_virtualenv)
# names its superuser after $USER, so the tests meet a superuser of
# another name, whom only a password lets in over TCP: peer authentication
# on the socket is for the OS user that runs the cluster, here still
# "postgres" (the stricter case: a builder whose OS user has that name too
# gets in on the socket as well).  Checks the package of PostgreSQL
# $PG_MAJOR: its name, version, dependencies and exact file list.  Then
# installs it with dpkg -x into a clean copy of the PostgreSQL installation
# (every schema_mgr file removed first), starts a throwaway cluster on it,
# and uses what the package brought: CREATE EXTENSION, the packaged loader
# applying a directory of migrations, and events synced and compared
# between two databases over dblink.  Prints TAP.
# ----------------------------------------------------------------------
set -u
HERE=$(cd "$(dirname "$0")" && pwd)
. "$HERE/../lib.sh"
. "$HERE/../tap.sh"
. "$HERE/../deb.sh"

# ---------------------------------------------------------------- outside
# A copy of the tree and of PostgreSQL, handed to the user that may run
# initdb; the test itself runs there.
if [ "${1:-}" != "--inside" ]; then
    WORK=$(mktemp -d /tmp/schema_mgr_deb.XXXXXX)
    trap 'rm -rf "$WORK"' EXIT
    sm_prepare_work "$HERE/../.." "$WORK"
    sm_as_run_user bash "$WORK/src/test/sh/debian_package.sh" --inside "$WORK"
    exit $?
fi

# ----------------------------------------------------------------- inside
WORK=$2
m=$PG_MAJOR
prefix=$WORK/pg
bindir=$(sm_private_bindir "$WORK")
src=$WORK/src
pkg=postgresql-$m-schema-mgr

# 1. a clean PostgreSQL: no schema_mgr file from an earlier make install
find "$prefix" -name 'schema_mgr*' -prune -exec rm -rf {} +
tap_is "the copy of PostgreSQL $m has no schema_mgr file before the package" "" \
    "$(find "$prefix" -name 'schema_mgr*')"

# 2. the build, as the DBA runs it, without root, under another login name
for tool in dpkg-buildpackage dh pg_buildext dh_pgxs_test pg_virtualenv; do
    command -v "$tool" >/dev/null || tap_bail "$tool is installed (test/lib.sh installs it)"
done
builder=sm_builder
tap_is "the build-time check's cluster has a superuser named after \$USER ($builder)" \
    "$builder" "$(cd "$WORK" && env -u PGHOST -u PGPORT -u PGDATABASE -u PGUSER \
        USER=$builder LOGNAME=$builder pg_virtualenv -v "$m" \
        psql -X -At -c "SELECT 'superuser: ' || rolname FROM pg_roles WHERE oid = 10" 2>&1 |
        sed -n 's/^superuser: //p')"
USER=$builder LOGNAME=$builder sm_deb_build "$src" "$WORK/build.log"
rc=$?
if [ $rc != 0 ]; then
    grep -E '\.\.\. FAILED' "$WORK/build.log" | sed 's/^/# /'
    tail -40 "$WORK/build.log" | sed 's/^/# /'
    tap_bail "dpkg-buildpackage -us -uc -b succeeds as $builder (exit $rc)"
fi
tap_is "dpkg-buildpackage -us -uc -b succeeds without root, as $builder" 0 $rc

version=$(cd "$src" && dpkg-parsechangelog -S Version)
arch=$(dpkg --print-architecture)
# a package for each major, from the oldest of debian/pgversions on, whose
# server headers are installed
oldest=$(sm_deb_oldest_major "$src")
majors=$(dpkg-query -W -f '${db:Status-Status} ${Package}\n' 'postgresql-server-dev-[1-9]*' |
    sed -n 's/^installed postgresql-server-dev-//p' | awk -v min="$oldest" '$1 >= min' | sort -n)
tap_is "the build-time check passed pg_regress and the isolation specs for each major" \
    $((2 * $(wc -w <<<"$majors"))) "$(grep -cE '^(# )? *All [0-9]+ tests passed' "$WORK/build.log")"
expected=$(for v in $majors; do
    echo "postgresql-$v-schema-mgr-dbgsym_${version}_$arch.deb"
    echo "postgresql-$v-schema-mgr_${version}_$arch.deb"
done | sort)
tap_is "one package (and its debug symbols) per PostgreSQL major: $(echo $majors)" \
    "$expected" "$(cd "$WORK" && ls -1 ./*.deb | sed 's|^\./||' | sort)"
deb=$WORK/${pkg}_${version}_$arch.deb
[ -f "$deb" ] || tap_bail "$pkg is built"

# 3. the package: name, version, dependencies, files
tap_is "package name" "$pkg" "$(dpkg-deb -f "$deb" Package)"
tap_is "package version is the changelog's" "$version" "$(dpkg-deb -f "$deb" Version)"
default_version=$(sm_default_version "$src")
tap_is "the upstream version is the extension's default_version $default_version" \
    "$(sm_release_version "$src")" "${version%-*}"
depends=$(dpkg-deb -f "$deb" Depends | tr ',' '\n' | sed 's/^ *//; s/ .*//')
for dep in "postgresql-$m" "postgresql-contrib-$m"; do
    tap_is "depends on $dep" "$dep" "$(grep -x -- "$dep" <<<"$depends")"
done

lib=/usr/lib/postgresql/$m
ext=/usr/share/postgresql/$m/extension
want=$( {
    echo "$lib/bin/schema_mgr_load_dir"
    echo "$lib/lib/schema_mgr.so"
    echo "$ext/schema_mgr.control"
    (cd "$src" && ls schema_mgr--*.sql) | sed "s|^|$ext/|"
    echo "/usr/share/doc/$pkg/README.md.gz"
    echo "/usr/share/doc/$pkg/changelog.Debian.gz"
    echo "/usr/share/doc/$pkg/copyright"
    # LLVM bitcode, when this PostgreSQL was built for JIT
    if grep -qE '^with_llvm[[:space:]]*=[[:space:]]*yes' "$lib/lib/pgxs/src/Makefile.global"; then
        echo "$lib/lib/bitcode/schema_mgr.index.bc"
        (cd "$src" && ls src/*.c) | sed "s|^\(.*\)\.c$|$lib/lib/bitcode/schema_mgr/\1.bc|"
    fi
} | sort)
tap_is "the package holds the extension, its scripts, the loader and the docs, nothing else" \
    "$want" "$(dpkg-deb -c "$deb" | grep -v '^d' | sed -E 's|.* \./|/|' | sort)"
tap_is "the loader is executable" "-rwxr-xr-x" \
    "$(dpkg-deb -c "$deb" | grep " \./${lib#/}/bin/schema_mgr_load_dir$" | cut -c1-10)"

# 4. installed into the clean PostgreSQL, on a throwaway cluster
export PATH="$bindir:$PATH" PGHOST=$WORK PGPORT=5432 PGUSER=postgres PGDATABASE=postgres
unset PG_CONFIG
sm_start_cluster "$bindir" "$WORK/data" "$WORK" "$WORK/postgres.log" ||
    { sed 's/^/# /' "$WORK/postgres.log"; tap_bail "a throwaway cluster starts"; }
trap 'sm_stop_cluster "$bindir" "$WORK/data"' EXIT
sql() { psql -X -q -At -v ON_ERROR_STOP=1 "$@" 2>&1; }

tap_is "before the package, the cluster offers no schema_mgr" 0 \
    "$(sql -c "SELECT count(*) FROM pg_available_extensions WHERE name = 'schema_mgr'")"
dpkg -x "$deb" "$prefix"
same=yes
for f in schema_mgr.control schema_mgr--*.sql; do
    cmp -s "$src/$f" "$prefix$ext/$f" || same="no: $f"
done
tap_is "the packaged control file and scripts are the tree's" yes "$same"
tap_is "after dpkg -x, schema_mgr $default_version is available" "$default_version" \
    "$(sql -c "SELECT default_version FROM pg_available_extensions WHERE name = 'schema_mgr'")"
tap_is "CREATE EXTENSION schema_mgr installs $default_version" "$default_version" \
    "$(sql -c 'CREATE EXTENSION dblink' -c 'CREATE EXTENSION schema_mgr' \
        -c "SELECT extversion FROM pg_extension WHERE extname = 'schema_mgr'")"

# the packaged loader applies a directory of migrations
mkdir "$WORK/migrations"
echo 'CREATE TABLE orders (id bigint PRIMARY KEY, total numeric);' \
    >"$WORK/migrations/V1__create_orders.sql"
echo 'ALTER TABLE orders ADD COLUMN placed_at timestamptz;' \
    >"$WORK/migrations/V2__add_orders_placed_at.sql"
"$prefix$lib/bin/schema_mgr_load_dir" -a shop "$WORK/migrations" >"$WORK/load.sql"
tap_is "the packaged loader registers and applies the files" "shop|2|applied|applied" \
    "$(sql -f "$WORK/load.sql" >/dev/null &&
        sql -c "SELECT 'shop', current_version('shop'),
                       string_agg(status, '|' ORDER BY version)
                  FROM migration_status('shop')" | tr -s '|')"
tap_is "the migrations ran" "placed_at" \
    "$(sql -c "SELECT attname FROM pg_attribute
                WHERE attrelid = 'orders'::regclass AND attnum = 3")"

# events, synced to a backup database and compared, over dblink
tap_is "append_events allocates ids 1 and 2" "1|2" \
    "$(sql -c "SELECT create_event_store('source')" >/dev/null &&
        sql -c "SELECT first_id, last_id FROM append_events(
                    ARRAY['{\"entityName\": \"order\"}', '{\"entityName\": \"payment\"}']::jsonb[])")"
conn="host=$WORK port=5432 dbname=postgres user=postgres"
sql -c 'CREATE DATABASE backup' >/dev/null
tap_is "sync_events copies both events over dblink" "2|2" \
    "$(sql -d backup -c 'CREATE EXTENSION dblink' -c 'CREATE EXTENSION schema_mgr' \
        -c "SELECT create_event_store('destination')" >/dev/null &&
        sql -d backup -c "SELECT rows_copied, max_id FROM sync_events('$conn')")"
tap_is "compare_events finds the two stores equal" "t|2|2" \
    "$(sql -d backup -c "SELECT equal, local_max_id, remote_max_id FROM compare_events('$conn')")"

tap_done
