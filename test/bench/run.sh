#!/usr/bin/env bash
# ----------------------------------------------------------------------
# test/bench/run.sh NAME [args...]
#
# Runs the benchmark test/bench/NAME.sh against a throwaway cluster with
# schema_mgr built and installed into a private copy of PostgreSQL (the same
# set-up as test/run_tests.sh).  The benchmark script gets PGHOST, PGPORT,
# BINDIR (PostgreSQL binaries), WORK (scratch space) and SRC (the source
# tree, with ../shared beside it when present) in its environment.
# ----------------------------------------------------------------------
set -uo pipefail
SRC=$(cd "$(dirname "$0")/../.." && pwd)
. "$SRC/test/lib.sh"

if [ "${1:-}" != "--inside" ]; then
    [ $# -ge 1 ] || { echo "usage: $0 NAME [args...]" >&2; exit 2; }
    [ -f "$SRC/test/bench/$1.sh" ] || { echo "no benchmark test/bench/$1.sh" >&2; exit 2; }
    sm_ensure_packages || exit 1
    WORK=$(mktemp -d /tmp/schema_mgr_bench.XXXXXX)
    sm_prepare_work "$SRC" "$WORK"
    # the reference implementation, for side-by-side runs
    if [ -d "$SRC/../shared/reference" ]; then
        cp -a "$SRC/../shared/reference" "$WORK/reference"
        [ "$(id -u)" = 0 ] && chown -R postgres: "$WORK/reference"
    fi
    sm_as_run_user bash "$WORK/src/test/bench/run.sh" --inside "$WORK" "$@"
    rc=$?
    rm -rf "$WORK"
    exit $rc
fi

WORK=$2
NAME=$3
shift 3
export WORK BINDIR
BINDIR=$(sm_private_bindir "$WORK")
export PATH="$BINDIR:$PATH"
sm_build_install "$WORK" "$WORK/build.log" || { cat "$WORK/build.log"; exit 1; }
# benchmark settings: a realistic, durable server (fsync and synchronous
# commit stay on), sized for this 2-core machine
sm_start_cluster "$BINDIR" "$WORK/data" "$WORK" "$WORK/postgres.log" \
    "shared_buffers = '1GB'" "max_wal_size = '8GB'" "checkpoint_timeout = '30min'" \
    "work_mem = '64MB'" "maintenance_work_mem = '512MB'" ||
    { cat "$WORK/postgres.log"; exit 1; }
trap 'sm_stop_cluster "$BINDIR" "$WORK/data"' EXIT
export PGHOST=$WORK PGPORT=5432 PGDATABASE=postgres PGUSER=postgres
export SRC="$WORK/src" REFERENCE="$WORK/reference"
bash "$WORK/src/test/bench/$NAME.sh" "$@"
