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
# pgbench inserts one row per transaction; the rate is read off the id
# sequence (blocked inserts take no id).  For each form the script prints
# how long the build took, the insert rate in the 5 seconds before it and
# during it, the ratio during/before, and the longest time during the build
# in which no insert got through (sampled every 0.1 s or so).
# ----------------------------------------------------------------------
set -uo pipefail
ROWS=${ROWS:-1000000}
CLIENTS=${CLIENTS:-2}
PSQL=(psql -X -q -v ON_ERROR_STOP=1 -At)
PGBENCH=${BINDIR:+$BINDIR/}pgbench
DIR=$(mktemp -d)
trap 'rm -rf "$DIR"' EXIT
echo 'INSERT INTO load (v) VALUES ((random() * 1000000)::int);' > "$DIR/insert.sql"

now() { date +%s.%N; }
ids() { "${PSQL[@]}" -d bench_cic -c 'SELECT last_value FROM load_id_seq'; }

measure() {	# measure FORM SQL MIGRATION
    local form=$1 sql=$2 pid cpid ta sa t0 s0 t1 s1
    "${PSQL[@]}" -d postgres -c "SET client_min_messages = warning" -c "DROP DATABASE IF EXISTS bench_cic" -c "CREATE DATABASE bench_cic"
    "${PSQL[@]}" -d bench_cic -c "SET client_min_messages = warning" \
        -c "CREATE EXTENSION schema_mgr" \
        -c "CREATE TABLE load (id bigserial PRIMARY KEY, v int)" \
        -c "INSERT INTO load (v) SELECT (random() * 1000000)::int FROM generate_series(1, $ROWS)" \
        -c "VACUUM ANALYZE load" \
        -c "SELECT register_migration('bench', 1, 'index v', \$\$$3\$\$)" >/dev/null
    "$PGBENCH" -n -c "$CLIENTS" -T 600 -f "$DIR/insert.sql" bench_cic > /dev/null 2>&1 &
    pid=$!
    sleep 2
    ta=$(now); sa=$(ids)
    sleep 5
    t0=$(now); s0=$(ids)
    "${PSQL[@]}" -d bench_cic -c "SET client_min_messages = warning" -c "$sql" > /dev/null &
    cpid=$!
    : > "$DIR/samples"
    while kill -0 $cpid 2>/dev/null; do
        echo "$(now) $(ids)" >> "$DIR/samples"
        sleep 0.1
    done
    wait $cpid
    t1=$(now); s1=$(ids)
    echo "$t1 $s1" >> "$DIR/samples"
    kill -TERM $pid; wait $pid 2>/dev/null
    awk -v form="$form" -v ta="$ta" -v sa="$sa" -v t0="$t0" -v s0="$s0" -v t1="$t1" -v s1="$s1" '
        { if (NR > 1 && $2 == last) { if ($1 - since > stall) stall = $1 - since }
          else since = $1
          last = $2 }
        END { before = (s0 - sa) / (t0 - ta); during = (s1 - s0) / (t1 - t0)
              printf "%-44s build %5.1f s  before %6.0f rows/s  during %6.0f rows/s  ratio %.2f  longest stall %4.1f s\n",
                     form, t1 - t0, before, during, during / before, stall }' "$DIR/samples"
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
