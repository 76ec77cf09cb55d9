#!/usr/bin/env bash
# ----------------------------------------------------------------------
# test/bench/restore_bench.sh -- restore_events benchmark
#
# Run with: bash test/bench/run.sh restore_bench [N]   (N defaults to 1e6)
#
# One throwaway durable cluster (see run.sh), one backup database holding
# N events of about 250 bytes, restored in the same run by:
#   1. the reference slate restore_events ($REFERENCE/slate_source.sql),
#   2. schema_mgr's restore_events into a fresh source store,
#   3. a binary COPY pipe (psql | psql) into a table with the same seven
#      indexes, and into a primary-key-only table with the six secondary
#      indexes built afterwards (the ceiling),
# and the peak private memory of the restoring backend (max RssAnon, and
# VmHWM which also counts the shared buffers it touched) for schema_mgr
# restoring 100,000 and N events, sampled from /proc while it runs.
# All the databases live on the same server; dblink connects over the
# Unix socket.  Prints times and ratios; asserts nothing.
# ----------------------------------------------------------------------
set -euo pipefail

N=${1:-1000000}
PSQL="$BINDIR/psql -X -q -v ON_ERROR_STOP=1"
CONN="host=$PGHOST port=$PGPORT user=$PGUSER"

now() { date +%s.%N; }
elapsed() { printf "%.2f" "$(echo "$2 - $1" | bc)"; }
ratio() { printf "%.2f" "$(echo "scale=4; $1 / $2" | bc)"; }

SIX_INDEXES="
CREATE INDEX events_event_entityname ON events ((event #>> '{entityName}'));
CREATE INDEX events_event_operation ON events ((event #>> '{operation}'));
CREATE INDEX events_event_propertyname ON events ((event #>> '{propertyName}'));
CREATE INDEX events_event_entityid ON events ((event #>> '{entityId}'));
CREATE INDEX events_event_metadata_command ON events ((event #>> '{metadata, command}'));
CREATE INDEX events_ts ON events (ts);"

# make_backup DB N: a slate backup database with events 1..N
make_backup() {
    $PSQL -c "CREATE DATABASE $1"
    $PSQL -d "$1" <<SQL
CREATE TABLE events (id bigint NOT NULL, ts timestamptz NOT NULL, event jsonb NOT NULL,
                     CONSTRAINT events_pkey PRIMARY KEY (id));
\set n $2
\i $SRC/test/fixtures/events/backup_rows.sql
$SIX_INDEXES
VACUUM ANALYZE events;
SQL
}

# new_store DB: a database with dblink, schema_mgr and an empty source store
new_store() {
    $PSQL -c "CREATE DATABASE $1"
    $PSQL -d "$1" -c "CREATE EXTENSION dblink" -c "CREATE EXTENSION schema_mgr" \
        -c "SELECT create_event_store('source')" >/dev/null
}

# sample_memory APPNAME OUTFILE: in the background, find the backend of
# APPNAME and record the largest RssAnon and VmHWM (kB) it reaches
sample_memory() {
    local app=$1 out=$2 pid="" anon=0 hwm=0 a h
    for _ in $(seq 1 200); do
        pid=$($PSQL -At -c "SELECT pid FROM pg_stat_activity WHERE application_name = '$app' LIMIT 1")
        [ -n "$pid" ] && break
        sleep 0.05
    done
    [ -n "$pid" ] || { echo "0 0" >"$out"; return; }
    while [ -r "/proc/$pid/status" ]; do
        a=$(awk '/^RssAnon:/ {print $2}' "/proc/$pid/status" 2>/dev/null || echo 0)
        h=$(awk '/^VmHWM:/ {print $2}' "/proc/$pid/status" 2>/dev/null || echo 0)
        [ -n "$a" ] && [ "$a" -gt "$anon" ] && anon=$a
        [ -n "$h" ] && [ "$h" -gt "$hwm" ] && hwm=$h
        echo "$anon $hwm" >"$out"
        sleep 0.1
    done
}

# timed_restore APPNAME DB SQL: run SQL in DB as APPNAME, sampling its
# memory; prints "seconds anon_kB hwm_kB"
timed_restore() {
    local app=$1 db=$2 sql=$3 t0 t1 mem="$WORK/mem.$1"
    sample_memory "$app" "$mem" &
    local sampler=$!
    t0=$(now)
    PGAPPNAME=$app $PSQL -d "$db" -c "SET client_min_messages = warning" -c "$sql" >/dev/null
    t1=$(now)
    wait $sampler || true
    echo "$(elapsed "$t0" "$t1") $(cat "$mem")"
}

echo "== restore benchmark: $N events"
t0=$(now)
make_backup bk "$N"
make_backup bk100k 100000
echo "backup databases built in $(elapsed "$t0" "$(now)") s;" \
    "event size: $($PSQL -d bk -At -c "SELECT round(avg(length(event::text))) || ' bytes of text, ' || round(avg(pg_column_size(event))) || ' bytes of jsonb' FROM events")"
$PSQL -c "CHECKPOINT"

# 1. the reference
$PSQL -c "CREATE DATABASE ref"
$PSQL -d ref -f "$REFERENCE/slate_source.sql" >/dev/null
$PSQL -c "CHECKPOINT"
read -r t_ref anon_ref hwm_ref < <(timed_restore ref_restore ref \
    "SELECT * FROM restore_events(fromHost := '$PGHOST', fromDatabase := 'bk port=$PGPORT', fromDatabaseUser := '$PGUSER', fromDatabasePassword := 'unused')")
echo "reference restore_events:           $t_ref s   (max RssAnon ${anon_ref} kB, VmHWM ${hwm_ref} kB)"

# 2. schema_mgr
new_store sm
$PSQL -c "CHECKPOINT"
read -r t_sm anon_sm hwm_sm < <(timed_restore sm_restore sm \
    "SELECT * FROM restore_events_from('$CONN dbname=bk')")
echo "schema_mgr restore_events:          $t_sm s   (max RssAnon ${anon_sm} kB, VmHWM ${hwm_sm} kB)"
$PSQL -d sm -At -c "SELECT 'restored: ' || count(*) || ' events, max id ' || max(id) FROM events"

# 3. COPY pipes
$PSQL -c "CREATE DATABASE cp_full" -c "CREATE DATABASE cp_pk"
$PSQL -d cp_full -c "CREATE TABLE events (id bigint NOT NULL, ts timestamptz NOT NULL, event jsonb NOT NULL, CONSTRAINT events_pkey PRIMARY KEY (id)); $SIX_INDEXES"
$PSQL -d cp_pk -c "CREATE TABLE events (id bigint NOT NULL, ts timestamptz NOT NULL, event jsonb NOT NULL, CONSTRAINT events_pkey PRIMARY KEY (id))"
$PSQL -c "CHECKPOINT"
t0=$(now)
$PSQL -d bk -c "COPY (SELECT id, ts, event FROM events ORDER BY id) TO STDOUT (FORMAT binary)" |
    $PSQL -d cp_full -c "COPY events FROM STDIN (FORMAT binary)"
t_cp_full=$(elapsed "$t0" "$(now)")
echo "COPY pipe into the indexed table:   $t_cp_full s"
$PSQL -c "CHECKPOINT"
t0=$(now)
$PSQL -d bk -c "COPY (SELECT id, ts, event FROM events ORDER BY id) TO STDOUT (FORMAT binary)" |
    $PSQL -d cp_pk -c "COPY events FROM STDIN (FORMAT binary)"
t_cp_load=$(elapsed "$t0" "$(now)")
$PSQL -d cp_pk -c "$SIX_INDEXES"
t_cp_pk=$(elapsed "$t0" "$(now)")
echo "COPY pipe, PK only, then 6 indexes: $t_cp_pk s (load $t_cp_load s)"

# 4. memory at 100k and N events.  The index builds at the end sort with
# up to maintenance_work_mem (512MB here), which is bounded by that
# setting, not by the streaming: these two runs cap it at its minimum, 1MB, so that
# what is left is the memory of the restore itself.
new_store sm100k
new_store smmem
read -r t_sm100 anon_sm100 hwm_sm100 < <(timed_restore sm_restore100k sm100k \
    "SET maintenance_work_mem = '1MB'; SELECT * FROM restore_events_from('$CONN dbname=bk100k')")
read -r t_smN anon_smN hwm_smN < <(timed_restore sm_restoreN smmem \
    "SET maintenance_work_mem = '1MB'; SELECT * FROM restore_events_from('$CONN dbname=bk')")

echo
echo "== results ($N events)"
printf '%-44s %8s s\n' "reference restore_events" "$t_ref"
printf '%-44s %8s s   ratio to reference %s (target <= 0.50)\n' \
    "schema_mgr restore_events" "$t_sm" "$(ratio "$t_sm" "$t_ref")"
printf '%-44s %8s s   schema_mgr / this = %s\n' \
    "binary COPY pipe into the indexed table" "$t_cp_full" "$(ratio "$t_sm" "$t_cp_full")"
printf '%-44s %8s s   schema_mgr / this = %s\n' \
    "binary COPY pipe, PK only, + 6 indexes" "$t_cp_pk" "$(ratio "$t_sm" "$t_cp_pk")"
echo
echo "== peak memory of the restoring backend (kB; RssAnon = private, VmHWM includes shared buffers touched)"
printf '%-52s RssAnon %8s   VmHWM %8s   (%s s)\n' "schema_mgr, 100000 events, maintenance_work_mem 1MB" "$anon_sm100" "$hwm_sm100" "$t_sm100"
printf '%-52s RssAnon %8s   VmHWM %8s   (%s s)\n' "schema_mgr, $N events, maintenance_work_mem 1MB" "$anon_smN" "$hwm_smN" "$t_smN"
printf '%-52s RssAnon %8s   VmHWM %8s\n' "schema_mgr, $N events, timed run (512MB)" "$anon_sm" "$hwm_sm"
printf '%-52s RssAnon %8s   VmHWM %8s\n' "reference, $N events" "$anon_ref" "$hwm_ref"
