#!/usr/bin/env bash
# ----------------------------------------------------------------------
# test/bench/migrate_noop.sh -- cost of apply_migrations() with nothing
# pending, for 100, 1,000 and 10,000 applied migrations spread over 10
# chains.  Run through test/bench/run.sh (PGHOST, PGPORT set).
#
# Prints, per size: the server-side time per call (a loop of calls inside
# one DO block, timed with clock_timestamp()) and the client-observed
# latency (pgbench, one call per transaction, over the Unix socket), right
# after applying (the partial index still holds the applied rows' dead
# entries) and after VACUUM (what autovacuum soon does).
# The no-op is one probe of a partial index that holds only pending rows,
# so the figures should not grow with the number applied.
# ----------------------------------------------------------------------
set -euo pipefail
CALLS=${CALLS:-2000}
PSQL=(psql -X -q -v ON_ERROR_STOP=1)

printf '%-10s %-16s %-22s %-22s\n' applied state 'server us/call' 'client ms/call (pgbench)'
for n in 100 1000 10000; do
    db=bench_noop_$n
    "${PSQL[@]}" -d postgres -c "CREATE DATABASE $db"
    "${PSQL[@]}" -d $db <<SQL >/dev/null
SET client_min_messages = warning;
CREATE EXTENSION schema_mgr;
SELECT count(register_migration('chain_' || (i % 10), i, 'migration ' || i,
                                 'SELECT ' || i))
FROM generate_series(1, $n) AS i;
SELECT count(*) FROM apply_migrations();
SQL
    measure() {
        local server client
        server=$("${PSQL[@]}" -At -d $db <<SQL 2>&1 | sed -n 's/.*per_call_us=//p'
DO \$\$
DECLARE
    t0 timestamptz;
    n int := $CALLS;
BEGIN
    SET LOCAL client_min_messages = warning;
    PERFORM apply_migrations();
    t0 := clock_timestamp();
    FOR i IN 1..n LOOP
        PERFORM apply_migrations();
    END LOOP;
    SET LOCAL client_min_messages = notice;
    RAISE NOTICE 'per_call_us=%',
        round((extract(epoch FROM clock_timestamp() - t0) * 1e6 / n)::numeric, 1);
END
\$\$;
SQL
)
        client=$(pgbench -n -t "$CALLS" -f "$WORK/noop.sql" $db 2>/dev/null |
            sed -n 's/^latency average = \([0-9.]*\) ms/\1/p')
        printf '%-10s %-16s %-22s %-22s\n' "$n" "$1" "$server" "$client"
    }
    echo "SET client_min_messages = warning; SELECT apply_migrations();" >"$WORK/noop.sql"
    measure "just applied"
    "${PSQL[@]}" -d $db -c "VACUUM migration"
    measure "after vacuum"
    # the plan of the no-op probe, once
    if [ $n = 10000 ]; then
        echo
        echo "no-op probe plan with $n applied:"
        "${PSQL[@]}" -d $db -c "EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF, SUMMARY OFF)
            SELECT 1 FROM migration WHERE applied_checksum IS DISTINCT FROM checksum
            AND version <= 9223372036854775807 ORDER BY component, version LIMIT 1"
    fi
done
