#!/usr/bin/env bash
# ----------------------------------------------------------------------
# examples/demo.sh -- schema_mgr's main job, end to end
#
# Installs what is missing, builds and installs schema_mgr into the system's
# PostgreSQL 15, starts a throwaway cluster (as "postgres" when run as root)
# and runs examples/demo.sql: migrations of a real application schema
# applied (and a second run applying nothing), events inserted into a
# gapless event log, synced to a backup and restored after a "disaster".
# The cluster is removed at the end.
# ----------------------------------------------------------------------
set -euo pipefail
SRC=$(cd "$(dirname "$0")/.." && pwd)
. "$SRC/test/lib.sh"

SM_BUILD_ONLY=1 sm_ensure_packages
echo "== building and installing schema_mgr"
make -s -C "$SRC" PG_CONFIG="$PG_BINDIR/pg_config" >/dev/null
sm_as_root make -s -C "$SRC" PG_CONFIG="$PG_BINDIR/pg_config" install >/dev/null

WORK=$(mktemp -d /tmp/schema_mgr_demo.XXXXXX)
chmod 755 "$WORK"
[ "$(id -u)" = 0 ] && chown postgres: "$WORK"
cleanup() {
    sm_as_run_user "$PG_BINDIR/pg_ctl" -D "$WORK/data" -m fast -w stop \
        >/dev/null 2>&1 || true
    rm -rf "$WORK"
}
trap cleanup EXIT
# the cluster's user ("postgres" when root runs this) may not be able to
# read the checkout (root's home is private): it runs in WORK and reads
# copies there
cp "$SRC/test/lib.sh" "$SRC/examples/demo.sql" "$WORK/"
chmod 644 "$WORK/lib.sh" "$WORK/demo.sql"
cd "$WORK"

echo "== starting a throwaway cluster in $WORK"
sm_as_run_user bash -c ". '$WORK/lib.sh' && sm_start_cluster \
    '$PG_BINDIR' '$WORK/data' '$WORK' '$WORK/postgres.log'"

echo "== preparing the io.Manager chain with schema_mgr_load_dir"
"$SRC/bin/schema_mgr_load_dir" iomanager "$SRC/test/fixtures/iomanager" \
    >"$WORK/iomanager.psql"
chmod 644 "$WORK/iomanager.psql"

echo "== running examples/demo.sql"
echo
sm_as_run_user env PGHOST="$WORK" PGPORT=5432 PGUSER=postgres PATH="$PG_BINDIR:$PATH" \
    psql -X -q -v ON_ERROR_STOP=1 -v srcdir="$SRC" -v sockdir="$WORK" \
    -v loadfile="$WORK/iomanager.psql" \
    -d postgres -f "$WORK/demo.sql"
