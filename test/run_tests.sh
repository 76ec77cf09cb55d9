#!/usr/bin/env bash
# ----------------------------------------------------------------------
# test/run_tests.sh [sh] [regress] [isolation] [tap]
#
# The whole test suite (or the named parts of it): installs missing
# packages, builds schema_mgr with -Werror, installs it into a private copy
# of the PostgreSQL installation (no root needed, nothing on the system is
# touched), starts a throwaway cluster and runs the shell tests (test/sh/:
# set-up logic, release scripts, Debian package and PGXN metadata),
# pg_regress (sql/), the isolation specs (test/isolation/specs/) and the
# TAP tests (test/t/).
# Ends with "N passed, M failed" and exits non-zero on any failure.
#
# As root it runs the build and the clusters as the "postgres" user, since
# initdb refuses to run as root.  Filters: REGRESS="a b", ISOLATION="x",
# PROVE_TESTS="test/t/010_x.pl" limit a part to the named tests.
# ----------------------------------------------------------------------
set -uo pipefail

SRC=$(cd "$(dirname "$0")/.." && pwd)
. "$SRC/test/lib.sh"

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
    sm_as_run_user env SLATE_REFERENCE="$ref" SLATE_REPLICATOR_DIR="$rep" \
        bash "$WORK/src/test/run_tests.sh" --inside "$WORK" "$@"
    rc=$?
    if [ $rc = 0 ]; then rm -rf "$WORK"; else echo "(work tree kept in $WORK)"; fi
    exit $rc
fi

# ----------------------------------------------------------------- inside
WORK=$2
shift 2
SUITES=("$@")
[ ${#SUITES[@]} -eq 0 ] && SUITES=(sh regress isolation tap)
BINDIR=$(sm_private_bindir "$WORK")
export PG_CONFIG="$BINDIR/pg_config"
export PATH="$BINDIR:$PATH"
cd "$WORK/src" || exit 1

passed=0
failed=0

echo "== building"
if ! sm_build_install "$WORK" "$WORK/build.log"; then
    cat "$WORK/build.log"
    echo "0 passed, 1 failed"
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
    ok=$(grep -cE '^(ok|test|     |    ).* \.\.\. ok' "$out" || true)
    bad=$(grep -cE '\.\.\. (FAILED|failed)' "$out" || true)
    passed=$((passed + ok))
    failed=$((failed + bad))
    [ "$bad" = 0 ] && grep -qE '(tests|test) passed|All [0-9]+ tests' "$out" && return 0
    [ "$bad" = 0 ] && [ "$ok" -gt 0 ] && return 0
    [ "$bad" = 0 ] && failed=$((failed + 1))   # the driver itself failed
    return 1
}

for suite in "${SUITES[@]}"; do
    case $suite in
    sh)
        echo "== shell tests (test/sh/)"
        for t in test/sh/*.sh; do
            bash "$t" >"$WORK/sh.out" 2>&1
            rc=$?
            grep -E '^not ok|^#' "$WORK/sh.out" | sed "s|^|$(basename "$t"): |"
            n_ok=$(grep -cE '^ok ' "$WORK/sh.out" || true)
            n_bad=$(grep -cE '^not ok ' "$WORK/sh.out" || true)
            if [ $rc != 0 ] && [ "$n_bad" = 0 ]; then n_bad=1; fi
            echo "$(basename "$t") ... $n_ok ok, $n_bad failed"
            passed=$((passed + n_ok))
            failed=$((failed + n_bad))
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
            make -s PG_CONFIG="$PG_CONFIG" installcheck REGRESS= ISOLATION= \
                PROVE_TESTS="$t" PROVE_FLAGS="-I test/t -v" \
                >"$WORK/tap.out" 2>&1
            rc=$?
            grep -E '^(ok|not ok|#   Failed|# Looks like|1\.\.0 # SKIP)' "$WORK/tap.out" |
                sed "s|^|$(basename "$t"): |" | grep -v '^.*: ok' || true
            n_ok=$(grep -cE '^ok ' "$WORK/tap.out" || true)
            n_bad=$(grep -cE '^not ok ' "$WORK/tap.out" || true)
            if [ $rc != 0 ] && [ "$n_bad" = 0 ]; then n_bad=1; fi
            echo "$(basename "$t") ... $n_ok ok, $n_bad failed"
            passed=$((passed + n_ok))
            failed=$((failed + n_bad))
            if [ "$n_bad" != 0 ]; then
                tail -50 "$WORK/tap.out"
                for f in tmp_check/log/regress_log_*; do
                    [ -f "$f" ] && { echo "== $f"; tail -80 "$f"; }
                done
            fi
        done
        ;;
    *)
        echo "unknown suite: $suite (sh, regress, isolation, tap)" >&2
        failed=$((failed + 1))
        ;;
    esac
done

echo
echo "$passed passed, $failed failed"
[ "$failed" = 0 ]
