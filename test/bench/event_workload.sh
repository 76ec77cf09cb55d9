# ----------------------------------------------------------------------
# test/bench/event_workload.sh -- the events the event-store benchmarks
# append (sourced by events_pgbench.sh and allocator_trace.sh)
#
# One ~250-byte event of realistic JSON: pgbench's :e (random) and :c
# (client id) and the event's number k in its call make the indexed
# values vary.
# ----------------------------------------------------------------------
event() {
    local k=$1
    printf '{"entityName": "Person", "entityId": "p-:e-%s-:c", "operation": "propertyChanged", "propertyName": "address.city", "value": "Springfield :e", "metadata": {"command": "updatePersonAddress", "initiator": {"id": "user-:c", "name": "bench"}, "correlationId": "c-:e-%s"}}' "$k" "$k"
}
tuples() {   # slate's text list of n events, for insert_events
    local n=$1 k sep=""
    for ((k = 1; k <= n; k++)); do
        printf '%s($1[%d], $2, '"'"'%s'"'"')' "$sep" "$k" "$(event "$k")"
        sep=", "
    done
}
values() {   # the VALUES list of n events, for a plain INSERT
    local n=$1 k sep=""
    for ((k = 1; k <= n; k++)); do
        printf "%s('%s')" "$sep" "$(event "$k")"
        sep=", "
    done
}
# the pgbench variables the events use
header='\set e random(1, 100000000)
\set c :client_id'
