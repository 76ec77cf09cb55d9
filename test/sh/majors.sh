#!/usr/bin/env bash
# ----------------------------------------------------------------------
# test/sh/majors.sh -- tests of the per-major logic in test/lib.sh
#
# Which majors a run selects, which run on this machine and which in a
# chroot of their Debian suite, and when a cached chroot is reused or
# rebuilt.  Fake root trees stand in for machines and chroots, and the
# commands that would bootstrap a chroot are recorded instead of run, so
# the decisions are checked without a network or a cache.  Prints TAP.
# ----------------------------------------------------------------------
set -u
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/../tap.sh"
check() { tap_is "$@"; }   # check NAME EXPECTED ACTUAL


tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# 1. selection
check "all majors, in order" "15 17 18 19" "$(sm_all_majors)"
check "no selection is the default major" "$SM_DEFAULT_MAJOR" "$(sm_select_majors "")"
check "all" "15 17 18 19" "$(sm_select_majors all)"
check "a list, spaces or commas" "17 19" "$(sm_select_majors "17,19")"
sm_select_majors "15 16" >/dev/null 2>&1
check "an unsupported major is refused" 1 $?
check "suites" "bookworm trixie sid experimental" \
    "$(for m in 15 17 18 19; do sm_suite_of "$m"; done | tr '\n' ' ' | sed 's/ $//')"

# which parts a run wants: the whole suite, or the ones named
sm_wants_part upgrade; check "no parts named: the upgrade part runs" 0 $?
sm_wants_part upgrade regress upgrade; check "upgrade named: it runs" 0 $?
sm_wants_part upgrade regress tap; check "other parts named: it does not" 1 $?
check "pg_upgrade is tested from the default major to a chroot major" \
    "15 no" "$SM_DEFAULT_MAJOR $(sm_runs_natively "$SM_UPGRADE_TO" "$tmp/none" && echo yes || echo no)"

# 2. native or chroot: by the machine's codename, or the chroot's marker
machine() {   # machine ROOT CODENAME [MARKER]
    mkdir -p "$1/etc"
    echo "VERSION_CODENAME=$2" >"$1/etc/os-release"
    if [ -n "${3:-}" ]; then echo "$3" >"$1/etc/schema_mgr_major"; fi
}
natively() {  # the majors that run natively under ROOT
    local m out=""
    for m in $(sm_all_majors); do
        sm_runs_natively "$m" "$1" && out="$out $m"
    done
    echo "${out# }"
}
machine "$tmp/bookworm" bookworm
check "a Debian 12 machine runs 15 itself" 15 "$(natively "$tmp/bookworm")"
machine "$tmp/trixie" trixie 17
check "the trixie chroot runs 17 itself" 17 "$(natively "$tmp/trixie")"
machine "$tmp/sid" forky 18
check "the sid chroot runs 18 itself" 18 "$(natively "$tmp/sid")"
machine "$tmp/exp" forky 19
check "the experimental chroot runs 19 itself" 19 "$(natively "$tmp/exp")"
machine "$tmp/other" jammy
check "a machine of no listed suite runs none itself" "" "$(natively "$tmp/other")"

# 3. recipes: experimental is a layer over sid, the rest their own suite
recipe_field() { sm_chroot_recipe "$1" | sed -E "s/.*$2=([^ ]*).*/\1/"; }
check "17 from trixie" "trixie trixie" "$(recipe_field 17 base) $(recipe_field 17 target)"
check "19 from experimental over sid" "sid experimental" \
    "$(recipe_field 19 base) $(recipe_field 19 target)"
check "19's server packages" "postgresql-19,postgresql-server-dev-19" \
    "$(recipe_field 19 packages)"

# 4. the cache: reused when complete and of the same recipe, else rebuilt
SM_CHROOT_CACHE=$tmp/cache
m=17
dir=$(sm_chroot_dir $m)
check "the chroot lives in the cache" "$tmp/cache/pg17" "$dir"
# a fake chroot with every file sm_missing_packages looks for
complete_chroot() {
    local root=$1 f lib=/usr/lib/postgresql/$m pgxs=/usr/lib/postgresql/$m/lib/pgxs/src
    mkdir -p "$root/etc"
    for f in "$lib/bin/postgres" "$lib/bin/pg_config" \
        "/usr/share/postgresql/$m/extension/dblink.control" \
        "/usr/include/postgresql/$m/server/postgres.h" \
        "$pgxs/makefiles/pgxs.mk" "$pgxs/test/regress/pg_regress" \
        "$pgxs/test/isolation/pg_isolation_regress" \
        "$pgxs/test/perl/PostgreSQL/Test/Cluster.pm" \
        /usr/bin/prove /usr/bin/make /usr/bin/gcc /usr/share/perl5/IPC/Run.pm \
        /usr/bin/dpkg-buildpackage /usr/bin/dh /usr/bin/dh_pgxs_test \
        /usr/share/doc/postgresql-all/copyright; do
        mkdir -p "$(dirname "$root$f")" && : >"$root$f"
    done
}

# record what would run as root; "mmdebstrap" makes a complete chroot
log=$tmp/root.log
sm_as_root() {
    echo "$*" >>"$log"
    case $1 in
    mmdebstrap) complete_chroot "${@: -2:1}" ;;
    tee) command tee "${@:2}" ;;
    mv | rm | mkdir) command "$@" ;;
    esac
    return 0
}
sm_chroot_apt() { echo "apt $*" >>"$log"; }
mmdebstrap() { :; }

: >"$log"
sm_ensure_chroot $m >/dev/null 2>&1
rc=$?
check "a cold run builds the chroot" "0 1" "$rc $(grep -c '^mmdebstrap' "$log")"
check "the bootstrap is of the major's suite" 1 \
    "$(grep -c "^mmdebstrap .* trixie $dir.new deb $SM_MIRROR trixie main" "$log")"
check "the server comes from the target suite" 1 \
    "$(grep -c "^apt $dir.new -t trixie postgresql-17 postgresql-server-dev-17" "$log")"
check "the chroot is marked with its major and recipe" \
    "17|$(sm_chroot_recipe 17)" \
    "$(cat "$dir/etc/schema_mgr_major")|$(cat "$dir/etc/schema_mgr_chroot")"

: >"$log"
sm_ensure_chroot $m >/dev/null 2>&1
check "a warm run reuses it" "0 0" "$? $(wc -l <"$log")"

echo "base=old" >"$dir/etc/schema_mgr_chroot"
: >"$log"
sm_ensure_chroot $m >/dev/null 2>&1
check "a chroot of another recipe is rebuilt" "0 1" "$? $(grep -c '^mmdebstrap' "$log")"

rm "$dir/usr/include/postgresql/17/server/postgres.h"
: >"$log"
sm_ensure_chroot $m >/dev/null 2>&1
check "a chroot missing the server headers is rebuilt" "0 1" \
    "$? $(grep -c '^mmdebstrap' "$log")"

# a bootstrap that fails leaves no chroot behind to be taken as complete
rm -rf "$dir"
sm_as_root() {
    echo "$*" >>"$log"
    case $1 in
    mmdebstrap) return 1 ;;
    mv | rm | mkdir) command "$@" ;;
    esac
    return 0
}
sm_ensure_chroot $m >/dev/null 2>&1
rc=$?
check "a failed bootstrap fails and leaves no chroot" "1 no" \
    "$rc $([ -e "$dir" ] && echo yes || echo no)"

tap_done
