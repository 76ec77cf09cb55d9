#!/usr/bin/env bash
# ----------------------------------------------------------------------
# test/bench/events_ddl.sh -- what schema_mgr's sql_drop trigger costs DDL
# that has nothing to do with event stores
#
# Run with:  bash test/bench/run.sh events_ddl
#
# The same pgbench script (create a table, drop one of its columns, drop
# it) runs in a database without schema_mgr (ddl_plain) and in one with
# schema_mgr in a schema of its own and two event stores (ddl_sm), as a
# role that may not use that schema, interleaved, best of ROUNDS runs of
# DURATION seconds each, and prints transactions/s and the ratio.
# ----------------------------------------------------------------------
set -euo pipefail
: "${PGHOST:?}" "${WORK:?}"
DURATION=${DURATION:-6}
ROUNDS=${ROUNDS:-4}
D=$WORK/ddl_bench
mkdir -p "$D"
psql_q() { psql -X -q -v ON_ERROR_STOP=1 "$@"; }

for db in ddl_plain ddl_sm; do
    dropdb --if-exists "$db"
    createdb "$db"
done
psql_q -d postgres -c "DROP ROLE IF EXISTS ddl_user" -c "CREATE ROLE ddl_user LOGIN"
for db in ddl_plain ddl_sm; do
    psql_q -d "$db" -c "GRANT CREATE ON SCHEMA public TO ddl_user"
done
psql_q -d ddl_sm -c "CREATE SCHEMA tools" -c "CREATE EXTENSION schema_mgr SCHEMA tools" \
    -c "SELECT tools.create_event_store('source', 'public')" \
    -c "CREATE SCHEMA backup" -c "SELECT tools.create_event_store('destination', 'backup')" >/dev/null
cat >"$D/ddl.sql" <<'SQL'
CREATE TABLE t_:client_id (a int, b int);
ALTER TABLE t_:client_id DROP COLUMN b;
DROP TABLE t_:client_id;
SQL

run() {
    pgbench -n -U ddl_user -T "$DURATION" -c 1 -f "$D/ddl.sql" "$1" 2>"$D/pgbench.err" |
        sed -n 's/^tps = \([0-9.]*\) .*/\1/p' | head -1
}
best_plain=0
best_sm=0
for ((r = 1; r <= ROUNDS; r++)); do
    v=$(run ddl_plain); best_plain=$(awk -v a="$v" -v b="$best_plain" 'BEGIN { print (a > b ? a : b) }')
    v=$(run ddl_sm); best_sm=$(awk -v a="$v" -v b="$best_sm" 'BEGIN { print (a > b ? a : b) }')
done
printf '%-52s %10.0f tps\n' "CREATE, DROP COLUMN, DROP TABLE without schema_mgr" "$best_plain"
printf '%-52s %10.0f tps\n' "the same with schema_mgr and two stores" "$best_sm"
awk -v a="$best_sm" -v b="$best_plain" 'BEGIN { printf "ratio: %.3f\n", a / b }'
psql_q -d ddl_sm -At -c "SELECT 'stores still registered: ' || count(*) FROM tools.event_store"
