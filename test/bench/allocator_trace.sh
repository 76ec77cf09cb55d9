#!/usr/bin/env bash
# ----------------------------------------------------------------------
# test/bench/allocator_trace.sh -- where a store's serialised section goes
#
# Run with:  bash test/bench/run.sh allocator_trace
#
# Ids are handed out in commit order, so the writers of a store hold its
# allocator lock one after another.  This runs pgbench with one ~250-byte
# event per call against a store in each commit mode at several client
# counts, with schema_mgr.trace_allocator on, and prints per transaction
# (means, microseconds, read off the server log as each pgbench run's
# backends exit): the wait for the lock, the insert (lock granted until
# insert_events has written), the rest of the statement until the commit
# begins, the commit until the lock is released (the WAL flush included in
# 'durable' mode only), the time between two hand-offs (1 / rate), and what
# is left of it: the hand-off itself, from one writer's release to the next
# one running with the lock.
# Environment: DURATION (seconds per run, default 6), SCALING (client
# counts, default "1 8 32 64"), MODES (default "durable grouped"),
# EVENTS (events per call, default 1),
# PROTOCOL (pgbench's query protocol, default simple; extended is what
# drivers that send parameters use).
# ----------------------------------------------------------------------
set -euo pipefail
: "${PGHOST:?}" "${WORK:?}" "${SRC:?}"
DURATION=${DURATION:-6}
SCALING=${SCALING:-1 8 32 64}
MODES=${MODES:-durable grouped}
PROTOCOL=${PROTOCOL:-simple}
EVENTS=${EVENTS:-1}
LOG=$WORK/postgres.log
D=$WORK/allocator_trace
mkdir -p "$D"
psql_q() { psql -X -q -v ON_ERROR_STOP=1 "$@"; }

dropdb --if-exists bench_trace
createdb bench_trace
psql_q -d bench_trace -c "CREATE EXTENSION schema_mgr" \
    -c "SELECT create_event_store('source')" \
    -c "ALTER DATABASE bench_trace SET schema_mgr.trace_allocator = on" >/dev/null
. "$SRC/test/bench/event_workload.sh"
if [ "$PROTOCOL" = simple ]; then
    printf '%s\nSELECT insert_events($q$%s$q$);\n' "$header" "$(tuples "$EVENTS")" >"$D/one.sql"
else
    # pgbench would send :e and :c as parameters of the statement; the
    # values vary on the server instead
    printf 'SELECT insert_events(pg_catalog.format($q$%s$q$, (random() * 1e8)::int, pg_backend_pid()));\n' \
        "$(tuples "$EVENTS" | sed 's/:e/%1$s/g; s/:c/%2$s/g')" >"$D/one.sql"
fi

# the trace lines the backends of the last run wrote, as weighted means
trace_means() {
    sed -n 's/.*allocator trace: \([0-9]*\) transactions appended events; mean waiting \([0-9.]*\) us, writing \([0-9.]*\) us, until commit \([0-9.]*\) us, committing \([0-9.]*\) us.*/\1 \2 \3 \4 \5/p' "$LOG" |
        tail -n +"$1" |
        awk '{ n += $1; for (i = 2; i <= 5; i++) s[i] += $1 * $i }
             END { if (n == 0) { print "no trace"; exit 1 }
                   printf "%d %.1f %.1f %.1f %.1f\n", n, s[2] / n, s[3] / n, s[4] / n, s[5] / n }'
}
echo "$EVENTS event(s) per call; times in microseconds per transaction"
printf '%-8s %-7s %9s %9s %9s %9s %10s %9s %9s\n' mode clients events/s waiting writing "to commit" committing between hand-off
for mode in $MODES; do
    psql_q -d bench_trace -c "SELECT set_event_store_commit('events', '$mode')" >/dev/null
    for c in $SCALING; do
        before=$(grep -c 'allocator trace:' "$LOG" || true)
        tps=$(pgbench -n -M "$PROTOCOL" -T "$DURATION" -c "$c" -j $((c < 2 ? c : 2)) -f "$D/one.sql" bench_trace 2>"$D/err" |
              sed -n 's/^tps = \([0-9.]*\) .*/\1/p' | head -1)
        [ -n "$tps" ] || { cat "$D/err" >&2; exit 1; }
        # the backends log as they exit, just after pgbench disconnects
        for _ in $(seq 50); do
            [ "$(grep -c 'allocator trace:' "$LOG" || true)" -ge $((before + c)) ] && break
            sleep 0.1
        done
        means=$(trace_means $((before + 1))) ||
            { echo "no allocator trace in the server log:" >&2; tail -5 "$LOG" >&2; exit 1; }
        read -r n wait write until commit <<<"$means"
        awk -v m="$mode" -v c="$c" -v t="$tps" -v ev="$EVENTS" -v w="$wait" -v wr="$write" -v u="$until" -v cm="$commit" 'BEGIN {
            between = 1e6 / t
            printf "%-8s %-7s %9.0f %9.1f %9.1f %9.1f %10.1f %9.1f %9.1f\n", m, c, t * ev, w, wr, u, cm, between, between - wr - u - cm }'
    done
done
psql_q -d bench_trace -At -c "SELECT 'bench_trace: ' || count(*) || ' events, ids 1..' || max(id) ||
    CASE WHEN count(*) = max(id) THEN ' gapless' ELSE ' GAPS' END FROM events"
