#!/usr/bin/env bash
# ----------------------------------------------------------------------
# test/bench/cic_under_load.sh -- writer throughput while an index is built
# on a table under an insert load, by a non-transactional migration
# (CREATE INDEX CONCURRENTLY, CALL apply_migrations_stepwise()) and, as the
# reference, by an ordinary migration (CREATE INDEX, apply_migrations()).
# Run through test/bench/run.sh (PGHOST, PGPORT, BINDIR set).
#
#   ROWS     rows in the table before the build (1000000)
#   CLIENTS  pgbench insert clients (2)
#
# pgbench inserts one row per transaction and reports its rate every
# second; for each form the script prints the mean rate in the seconds
# before the build, during it, and the ratio during/before.
# ----------------------------------------------------------------------
set -uo pipefail
ROWS=${ROWS:-1000000}
CLIENTS=${CLIENTS:-2}
PSQL=(psql -X -q -v ON_ERROR_STOP=1 -At)
PGBENCH=${BINDIR:+$BINDIR/}pgbench
DIR=$(mktemp -d)
trap 'rm -rf "$DIR"' EXIT
echo 'INSERT INTO load (v) VALUES ((random() * 1000000)::int);' > "$DIR/insert.sql"

measure() {	# measure FORM SQL
    local form=$1 sql=$2 pid t0 t1
    "${PSQL[@]}" -d postgres -c "DROP DATABASE IF EXISTS bench_cic" -c "CREATE DATABASE bench_cic"
    "${PSQL[@]}" -d bench_cic -c "SET client_min_messages = warning" \
        -c "CREATE EXTENSION schema_mgr" \
        -c "CREATE TABLE load (id bigserial PRIMARY KEY, v int)" \
        -c "INSERT INTO load (v) SELECT (random() * 1000000)::int FROM generate_series(1, $ROWS)" \
        -c "VACUUM ANALYZE load" \
        -c "SELECT register_migration('bench', 1, 'index v', \$\$$3\$\$)" >/dev/null
    "$PGBENCH" -n -c "$CLIENTS" -T 600 -P 1 --progress-timestamp -f "$DIR/insert.sql" \
        bench_cic 2> "$DIR/progress" > /dev/null &
    pid=$!
    sleep 6
    t0=$(date +%s.%N)
    "${PSQL[@]}" -d bench_cic -c "SET client_min_messages = warning" -c "$sql" > /dev/null
    t1=$(date +%s.%N)
    sleep 3
    kill -INT $pid; wait $pid 2>/dev/null
    awk -v t0="$t0" -v t1="$t1" -v form="$form" '
        /^progress: / { t = $2 + 0; tps = $4 + 0
            if (t < t0 - 0.5 && t > t0 - 5.5) { b += tps; nb++ }
            else if (t > t0 + 0.5 && t < t1 + 0.5) { d += tps; nd++ } }
        END { before = nb ? b / nb : 0; during = nd ? d / nd : 0
              printf "%-44s build %6.1f s  before %8.0f tps  during %8.0f tps  ratio %.2f\n",
                     form, t1 - t0, before, during, before ? during / before : 0 }' "$DIR/progress"
    "${PSQL[@]}" -d postgres -c "DROP DATABASE bench_cic"
}

echo "rows $ROWS, $CLIENTS insert clients"
measure 'CREATE INDEX CONCURRENTLY (no-transaction)' \
    'CALL apply_migrations_stepwise()' \
    "-- schema_mgr:no-transaction
CREATE INDEX CONCURRENTLY load_v ON load (v)"
measure 'CREATE INDEX (ordinary migration)' \
    'SELECT count(*) FROM apply_migrations()' \
    'CREATE INDEX load_v ON load (v)'
