#!/usr/bin/env bash
# ----------------------------------------------------------------------
# test/run_tests.sh [--major N|"N M"|all] [sh] [regress] [isolation] [tap]
#                   [upgrade]
#
# The whole test suite (or the named parts of it): installs missing
# packages, builds schema_mgr with -Werror, installs it into a private copy
# of the PostgreSQL installation (no root needed, nothing on the system is
# touched), starts a throwaway cluster and runs the shell tests (test/sh/:
# set-up logic, release scripts, Debian package and PGXN metadata),
# pg_regress (sql/), the isolation specs (test/isolation/specs/) and the
# TAP tests (test/t/).
# Ends with "N passed, M failed" (after "K skipped" when tests were
# skipped, each shown with its reason) and exits non-zero on any failure.
#
# It tests PostgreSQL 15, this machine's own, unless --major (or the
# PG_MAJORS variable) names other majors or "all" (see SM_MAJORS_TABLE in
# test/lib.sh).  A major of another Debian suite runs in a chroot of that
# suite, built once into /var/cache/schema_mgr/chroots and reused, where
# this same script runs; several majors end with one line per major and
# the total.  In the chroot of SM_UPGRADE_TO (17) the whole suite also
# runs the "upgrade" part: test/upgrade/, pg_upgrade from 15.
#
# As root it runs the build and the clusters as the "postgres" user, since
# initdb refuses to run as root.  Filters: REGRESS="a b", ISOLATION="x",
# PROVE_TESTS="test/t/010_x.pl" limit a part to the named tests.
# ----------------------------------------------------------------------
set -uo pipefail

SRC=$(cd "$(dirname "$0")/.." && pwd)
. "$SRC/test/lib.sh"

# --------------------------------------------------------- several majors
if [ "${1:-}" != "--inside" ]; then
    spec=${PG_MAJORS:-}
    parts=()
    while [ $# -gt 0 ]; do
        case $1 in
        --major) spec=${2:-}; shift 2 || shift ;;
        --major=*) spec=${1#--major=}; shift ;;
        *) parts+=("$1"); shift ;;
        esac
    done
    majors=$(sm_select_majors "$spec") || exit 2
    # shellcheck disable=SC2086
    set -- $majors
    if [ $# -gt 1 ] || ! sm_runs_natively "$1"; then
        total_ok=0 total_bad=0 total_skip=0 summary="" out=$(mktemp)
        for m in "$@"; do
            echo "==== PostgreSQL $m"
            sm_run_major "$SRC" "$m" "${parts[@]}" | tee "$out"
            rc=${PIPESTATUS[0]}
            read -r ok bad skip <<<"$(sm_read_summary "$out")"
            ok=${ok:-0} bad=${bad:-0} skip=${skip:-0}
            # a run that failed without saying so counts as one failure
            if [ "$rc" != 0 ] && [ "$bad" = 0 ]; then bad=1; fi
            total_ok=$((total_ok + ok)) total_bad=$((total_bad + bad))
            total_skip=$((total_skip + skip))
            summary="$summary
PostgreSQL $m: $ok passed, $bad failed, $skip skipped"
        done
        rm -f "$out"
        echo "$summary"
        sm_summary "$total_ok" "$total_bad" "$total_skip"
        [ "$total_bad" = 0 ]
        exit
    fi
    PG_MAJOR=$1 PG_BINDIR=/usr/lib/postgresql/$1/bin
    set -- "${parts[@]}"
fi

# ---------------------------------------------------------------- outside
if [ "${1:-}" != "--inside" ]; then
    sm_ensure_packages || exit 1
    WORK=$(mktemp -d /tmp/schema_mgr_test.XXXXXX)
    sm_prepare_work "$SRC" "$WORK"
    # the slate reference, beside the tree, for the side-by-side test
    ref=""
    if [ -f "$SRC/../shared/reference/slate_source.sql" ]; then
        cp "$SRC/../shared/reference/slate_source.sql" "$WORK/slate_source.sql"
        chmod 644 "$WORK/slate_source.sql"
        ref="$WORK/slate_source.sql"
    fi
    # the real slate replicator and its harness, for test/t/050_*
    rep=""
    if [ -x "$SRC/../shared/clients/slate-replicator/run.sh" ]; then
        rep=$(cd "$SRC/../shared/clients/slate-replicator" && pwd)
    fi
    sm_as_run_user env SLATE_REFERENCE="$ref" SLATE_REPLICATOR_DIR="$rep" PG_MAJOR="$PG_MAJOR" \
        bash "$WORK/src/test/run_tests.sh" --inside "$WORK" "$@"
    rc=$?
    if [ $rc = 0 ]; then rm -rf "$WORK"; else echo "(work tree kept in $WORK)"; fi
    exit $rc
fi

# ----------------------------------------------------------------- inside
WORK=$2
shift 2
SUITES=("$@")
if [ ${#SUITES[@]} -eq 0 ]; then
    SUITES=(sh regress isolation tap)
    # with an older major at hand, pg_upgrade from it too
    [ -n "${SM_OLD_INSTALL:-}" ] && SUITES+=(upgrade)
fi
BINDIR=$(sm_private_bindir "$WORK")
export PG_CONFIG="$BINDIR/pg_config"
export PATH="$BINDIR:$PATH"
cd "$WORK/src" || exit 1

passed=0
failed=0
skipped=0

echo "== building"
if ! sm_build_install "$WORK" "$WORK/build.log"; then
    cat "$WORK/build.log"
    sm_summary 0 1 0
    exit 1
fi

echo "== starting a throwaway cluster"
sm_start_cluster "$BINDIR" "$WORK/data" "$WORK" "$WORK/postgres.log" \
    "max_prepared_transactions = 10" || { cat "$WORK/postgres.log"; exit 1; }
trap 'sm_stop_cluster "$BINDIR" "$WORK/data"' EXIT
export PGHOST=$WORK PGPORT=5432 PGDATABASE=postgres PGUSER=postgres

# count "... ok" / "... FAILED" lines of pg_regress-style output
count_regress() {
    local out=$1 ok bad
    # up to 15 "test name ... ok", from 16 on TAP: "ok 1 - name"
    ok=$(grep -cE '^(ok|test|     |    ).* \.\.\. ok|^ok [0-9]+ ' "$out" || true)
    bad=$(grep -cE '\.\.\. (FAILED|failed)|^not ok [0-9]+ ' "$out" || true)
    passed=$((passed + ok))
    failed=$((failed + bad))
    [ "$bad" = 0 ] && grep -qE '(tests|test) passed|All [0-9]+ tests' "$out" && return 0
    [ "$bad" = 0 ] && [ "$ok" -gt 0 ] && return 0
    [ "$bad" = 0 ] && failed=$((failed + 1))   # the driver itself failed
    return 1
}

# add_tap: add the counts of the last sm_tap_report to the run's
add_tap() {
    passed=$((passed + SM_TAP_OK))
    failed=$((failed + SM_TAP_FAILED))
    skipped=$((skipped + SM_TAP_SKIPPED))
}

# run_tap FILE: one TAP test through make installcheck, as packagers run it
run_tap() {
    local t=$1 rc f
    make -s PG_CONFIG="$PG_CONFIG" installcheck REGRESS= ISOLATION= \
        PROVE_TESTS="$t" PROVE_FLAGS="-v" \
        >"$WORK/tap.out" 2>&1
    rc=$?
    sm_tap_report "$(basename "$t")" "$WORK/tap.out" "$rc" '^#   Failed|^# Looks like'
    add_tap
    if [ "$SM_TAP_FAILED" != 0 ]; then
        tail -50 "$WORK/tap.out"
        for f in tmp_check/log/regress_log_*; do
            [ -f "$f" ] && { echo "== $f"; tail -80 "$f"; }
        done
    fi
}

for suite in "${SUITES[@]}"; do
    case $suite in
    sh)
        echo "== shell tests (test/sh/)"
        for t in test/sh/*.sh; do
            bash "$t" >"$WORK/sh.out" 2>&1
            rc=$?
            sm_tap_report "$(basename "$t")" "$WORK/sh.out" "$rc" '^#'
            add_tap
        done
        ;;
    regress)
        echo "== pg_regress"
        make -s PG_CONFIG="$PG_CONFIG" installcheck ISOLATION= TAP_TESTS= \
            ${REGRESS:+REGRESS="$REGRESS"} 2>&1 | tee "$WORK/regress.out"
        if ! count_regress "$WORK/regress.out"; then
            echo "== regression.diffs"
            cat regression.diffs 2>/dev/null
        fi
        ;;
    isolation)
        echo "== isolation"
        make -s PG_CONFIG="$PG_CONFIG" installcheck REGRESS= TAP_TESTS= \
            ${ISOLATION:+ISOLATION="$ISOLATION"} 2>&1 | tee "$WORK/isolation.out"
        if ! count_regress "$WORK/isolation.out"; then
            echo "== output_iso/regression.diffs"
            cat output_iso/regression.diffs 2>/dev/null
        fi
        ;;
    tap)
        echo "== TAP"
        for t in ${PROVE_TESTS:-$(ls test/t/*.pl 2>/dev/null)}; do
            run_tap "$t"
        done
        ;;
    upgrade)
        echo "== pg_upgrade from ${SM_OLD_INSTALL:-(no older major given)}"
        if [ -z "${SM_OLD_INSTALL:-}" ]; then
            echo "the upgrade part needs SM_OLD_INSTALL (run_tests.sh --major $SM_UPGRADE_TO)"
            failed=$((failed + 1))
        else
            for t in test/upgrade/*.pl; do
                run_tap "$t"
            done
        fi
        ;;
    *)
        echo "unknown suite: $suite (sh, regress, isolation, tap, upgrade)" >&2
        failed=$((failed + 1))
        ;;
    esac
done

echo
sm_summary "$passed" "$failed" "$skipped"
[ "$failed" = 0 ]
