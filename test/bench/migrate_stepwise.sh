#!/usr/bin/env bash
# ----------------------------------------------------------------------
# test/bench/migrate_stepwise.sh -- chains that one transaction cannot
# apply, applied with apply_migrations() (one transaction) and with CALL
# apply_migrations_stepwise() (one transaction per migration).  Run through
# test/bench/run.sh (PGHOST, PGPORT set; default max_locks_per_transaction).
#
#   enum:   ALTER TYPE ... ADD VALUE, then a migration that uses the value
#   tables: N CREATE TABLE migrations (N=20000 unless TABLES is set)
#
# Prints, per chain and form, the outcome (applied count or the error) and
# the wall-clock time.
# ----------------------------------------------------------------------
set -uo pipefail
N=${TABLES:-20000}
PSQL=(psql -X -q -v ON_ERROR_STOP=1)

run() {		# run DB FORM SQL: print the outcome and the time
    local db=$1 form=$2 sql=$3 t0 t1 out rc
    t0=$(date +%s.%N)
    out=$("${PSQL[@]}" -At -d "$db" -c "$sql" 2>&1)
    rc=$?
    t1=$(date +%s.%N)
    if [ $rc = 0 ]; then out="applied $(echo "$out" | tail -1)"; else
        out="failed: $(echo "$out" | grep -m1 ERROR | cut -c1-90)"; fi
    printf '%-8s %-28s %8.1f s  %s\n' "$db" "$form" "$(echo "$t1 - $t0" | bc)" "$out"
}

setup() {	# setup DB: a fresh database with the chain registered
    "${PSQL[@]}" -d postgres -c "DROP DATABASE IF EXISTS $1" -c "CREATE DATABASE $1"
    "${PSQL[@]}" -d "$1" -c "SET client_min_messages = warning" \
        -c "CREATE EXTENSION schema_mgr" -c "$2" >/dev/null
}

ENUM="SELECT register_migration('mood', 1, 'type', \$\$CREATE TYPE mood AS ENUM ('sad')\$\$),
             register_migration('mood', 2, 'add', \$\$ALTER TYPE mood ADD VALUE 'happy'\$\$),
             register_migration('mood', 3, 'use', \$\$CREATE TABLE p (m mood DEFAULT 'happy')\$\$)"
TABLES="SELECT count(register_migration('tables', g, 'table ' || g,
                                         'CREATE TABLE t' || g || ' (a int PRIMARY KEY)'))
        FROM generate_series(1, $N) g"

echo "max_locks_per_transaction = $("${PSQL[@]}" -At -d postgres -c 'SHOW max_locks_per_transaction')"
for chain in enum tables; do
    [ $chain = enum ] && reg=$ENUM || reg=$TABLES
    setup bench_$chain "$reg"
    run bench_$chain 'apply_migrations()' 'SELECT count(*) FROM apply_migrations()'
    setup bench_$chain "$reg"
    run bench_$chain 'apply_migrations_stepwise()' 'CALL apply_migrations_stepwise()'
    "${PSQL[@]}" -d postgres -c "DROP DATABASE bench_$chain"
done
