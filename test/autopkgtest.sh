#!/usr/bin/env bash
# ----------------------------------------------------------------------
# test/autopkgtest.sh -- the packages' autopkgtest (debian/tests/), here
#
# Builds the packages (without the build-time check), then, in a private
# mount namespace where /usr, /etc and /var are overlays, installs them
# with dpkg -i and runs every test of debian/tests/control from the top
# of a copy of the tree, as root, as autopkgtest does.  The machine
# itself is left as it was: the overlays vanish with the namespace.
# Needs root.  Ends with "N passed, M failed" (one per autopkgtest).
# ----------------------------------------------------------------------
set -uo pipefail
SRC=$(cd "$(dirname "$0")/.." && pwd)
. "$SRC/test/lib.sh"
. "$SRC/test/deb.sh"

# ---------------------------------------------------------------- outside
if [ "${1:-}" != "--inside" ]; then
    if [ "$(id -u)" != 0 ]; then
        echo "$0: needs root, to install the packages in a private mount namespace" >&2
        exit 2
    fi
    sm_ensure_packages || exit 1
    WORK=$(mktemp -d /tmp/schema_mgr_autopkgtest.XXXXXX)
    sm_prepare_work "$SRC" "$WORK"
    echo "== building the packages"
    if ! sm_as_run_user env DEB_BUILD_OPTIONS=nocheck bash -c \
        '. "$1/test/lib.sh"; . "$1/test/deb.sh"; sm_deb_build "$1" "$2" -Pnocheck' \
        _ "$WORK/src" "$WORK/build.log"; then
        tail -40 "$WORK/build.log"
        echo "0 passed, 1 failed"
        exit 1
    fi
    unshare --mount bash "$WORK/src/test/autopkgtest.sh" --inside "$WORK"
    rc=$?
    if [ $rc = 0 ]; then rm -rf "$WORK"; else echo "(work tree kept in $WORK)"; fi
    exit $rc
fi

# ----------------------------------------------------------------- inside
WORK=$2
mount --make-rprivate / || exit 1
for dir in /usr /etc /var; do
    mkdir -p "$WORK/overlay$dir/upper" "$WORK/overlay$dir/work"
    mount -t overlay overlay \
        -o "lowerdir=$dir,upperdir=$WORK/overlay$dir/upper,workdir=$WORK/overlay$dir/work" \
        "$dir" || { echo "could not mount an overlay on $dir"; echo "0 passed, 1 failed"; exit 1; }
done

echo "== installing $(cd "$WORK" && ls postgresql-*-schema-mgr_*.deb | tr '\n' ' ')"
if ! dpkg -i "$WORK"/postgresql-*-schema-mgr_*.deb >"$WORK/dpkg.log" 2>&1; then
    cat "$WORK/dpkg.log"
    echo "0 passed, 1 failed"
    exit 1
fi

passed=0
failed=0
for t in $(sed -n 's/^Tests:[[:space:]]*//p' "$WORK/src/debian/tests/control"); do
    echo "== autopkgtest $t"
    (cd "$WORK/src" && AUTOPKGTEST_TMP=$(mktemp -d) "debian/tests/$t") >"$WORK/$t.log" 2>&1
    rc=$?
    grep -E '^(### |# Failed|not ok|Result|.*\.\.\. (FAILED|failed)|Can.t locate| All [0-9]+ tests passed)' \
        "$WORK/$t.log"
    if [ $rc = 0 ]; then
        echo "$t ... ok"
        passed=$((passed + 1))
    else
        echo "$t ... FAILED (exit $rc, log: $WORK/$t.log)"
        failed=$((failed + 1))
    fi
done

echo
echo "$passed passed, $failed failed"
[ "$failed" = 0 ]
