# ----------------------------------------------------------------------
# test/lib.sh -- set-up shared by test/run_tests.sh and examples/demo.sh
#
# Installs the Debian packages schema_mgr needs when they are missing,
# picks the unprivileged user that runs clusters (initdb refuses root),
# starts/stops throwaway clusters, and reads the tests' TAP output into
# what the runner reports: passed, failed and skipped, with the reasons.
# ----------------------------------------------------------------------

# The supported majors and the Debian suite that ships each one: this
# machine's own (Debian 12) runs natively; every other major runs in a
# chroot of its suite, since its binaries need that suite's libc.
SM_MAJORS_TABLE="15 bookworm
17 trixie
18 sid
19 experimental"
SM_DEFAULT_MAJOR=15
# pg_upgrade is tested from the default major to this one, in its chroot
SM_UPGRADE_TO=17
SM_MIRROR=${SM_MIRROR:-http://deb.debian.org/debian}
# chroots are built once per machine and reused
SM_CHROOT_CACHE=${SM_CHROOT_CACHE:-/var/cache/schema_mgr/chroots}

PG_MAJOR=${PG_MAJOR:-$SM_DEFAULT_MAJOR}
PG_BINDIR=/usr/lib/postgresql/$PG_MAJOR/bin

sm_as_root() {
    if [ "$(id -u)" = 0 ]; then
        "$@"
    else
        sudo "$@"
    fi
}

# sm_missing_packages [ROOT]
# Print, one per line, the Debian packages that ship a file the build and
# the tests need and that is absent under ROOT (default: this machine).
# Each check names the file itself, never a neighbour: on Debian pg_config
# and pgxs.mk come from postgresql-client-N, the server headers from
# postgresql-server-dev-N, so the presence of one says nothing of the other.
sm_missing_packages() {
    local root=${1:-} m=$PG_MAJOR
    local lib=$root/usr/lib/postgresql/$m
    local pgxs=$lib/lib/pgxs/src
    local need=(
        "$lib/bin/postgres postgresql-$m"
        "$root/usr/share/postgresql/$m/extension/dblink.control postgresql-contrib"
        "$root/usr/include/postgresql/$m/server/postgres.h postgresql-server-dev-$m"
        "$lib/bin/pg_config postgresql-server-dev-$m"
        "$pgxs/makefiles/pgxs.mk postgresql-server-dev-$m"
        "$pgxs/test/regress/pg_regress postgresql-server-dev-$m"
        "$pgxs/test/isolation/pg_isolation_regress postgresql-server-dev-$m"
        "$pgxs/test/perl/PostgreSQL/Test/Cluster.pm postgresql-server-dev-$m"
        "$root/usr/bin/make make"
        "$root/usr/bin/gcc gcc"
    )
    # the test suite: TAP, and the Debian package's build
    # (test/sh/debian_package.sh); SM_BUILD_ONLY=1 (examples/demo.sh) skips
    # these, so the demo installs on a database server only what it builds with
    [ "${SM_BUILD_ONLY:-}" = 1 ] || need+=(
        "$root/usr/bin/prove perl"
        "$root/usr/bin/dpkg-buildpackage dpkg-dev"
        "$root/usr/bin/dh debhelper"
        "$root/usr/bin/dh_pgxs_test postgresql-server-dev-all"
        "$root/usr/share/doc/postgresql-all/copyright postgresql-all"
    )
    local entry file pkg
    for entry in "${need[@]}"; do
        file=${entry% *} pkg=${entry##* }
        [ -e "$file" ] || echo "$pkg"
    done
    # PGXS compiles LLVM bitcode with the clang it was configured with
    if [ -f "$pgxs/Makefile.global" ] &&
        grep -qE '^with_llvm[[:space:]]*=[[:space:]]*yes' "$pgxs/Makefile.global"; then
        local clang
        clang=$(sed -nE 's/^CLANG[[:space:]]*=[[:space:]]*//p' "$pgxs/Makefile.global")
        [ -n "$clang" ] && [ ! -e "$root$clang" ] && basename "$clang"
    fi
    # the TAP framework needs IPC::Run, wherever perl finds it
    if [ "${SM_BUILD_ONLY:-}" = 1 ]; then
        :
    elif [ -z "$root" ]; then
        perl -MIPC::Run -e 1 2>/dev/null || echo libipc-run-perl
    else
        [ -e "$root/usr/share/perl5/IPC/Run.pm" ] || echo libipc-run-perl
    fi
}

# sm_ensure_packages [ROOT]
# Install what is missing, then check that it is really there.
sm_ensure_packages() {
    local root=${1:-} missing
    missing=$(sm_missing_packages "$root" | sort -u | tr '\n' ' ')
    [ -z "${missing// /}" ] && return 0
    echo "== installing $missing"
    # shellcheck disable=SC2086
    sm_as_root apt-get update -qq &&
        sm_as_root env DEBIAN_FRONTEND=noninteractive \
            apt-get install -y -qq $missing >/dev/null ||
        { echo "could not install $missing" >&2; return 1; }
    missing=$(sm_missing_packages "$root" | sort -u | tr '\n' ' ')
    if [ -n "${missing// /}" ]; then
        echo "still missing after installing: $missing" >&2
        return 1
    fi
}

# The user that runs clusters: ourselves, or "postgres" when we are root.
sm_run_user() {
    if [ "$(id -u)" = 0 ]; then echo postgres; else id -un; fi
}

# Run a command as the cluster user.
sm_as_run_user() {
    if [ "$(id -u)" = 0 ]; then
        runuser -u postgres -- "$@"
    else
        "$@"
    fi
}

# sm_start_cluster BINDIR DATADIR SOCKDIR LOGFILE [postgres -c options...]
# A throwaway cluster listening only on a Unix socket in SOCKDIR, so it never
# collides with another cluster on this machine.  Its superuser is always
# "postgres" (connect with PGUSER=postgres), whoever runs it, so expected
# test output does not depend on the login name.  Must run as the run user.
sm_start_cluster() {
    local bindir=$1 data=$2 sock=$3 log=$4
    shift 4
    "$bindir/initdb" -D "$data" -U postgres -A trust -E UTF8 --locale=C.UTF-8 \
        >/dev/null ||
        return 1
    {
        echo "listen_addresses = ''"
        echo "unix_socket_directories = '$sock'"
        echo "port = 5432"
        echo "max_connections = 100"
        echo "fsync = on"
        for opt in "$@"; do echo "$opt"; done
    } >>"$data/postgresql.conf"
    "$bindir/pg_ctl" -D "$data" -l "$log" -w start >/dev/null
}

sm_stop_cluster() {
    "$1/pg_ctl" -D "$2" -m fast -w stop >/dev/null 2>&1 || true
}

# sm_prepare_work SRC WORK
# Copy the source tree (tracked and untracked, not ignored files) to
# WORK/src and the PostgreSQL installation to WORK/pg: PostgreSQL finds its
# share, lib and include directories relative to its binaries, so schema_mgr
# can be installed into that copy without root and without touching the
# system.  Hands WORK to the run user.
sm_prepare_work() {
    local src=$1 work=$2
    mkdir -p "$work/src" "$work/pg/usr/lib/postgresql" \
        "$work/pg/usr/share/postgresql" "$work/pg/usr/include"
    sm_copy_tree "$src" "$work/src"
    cp -a "/usr/lib/postgresql/$PG_MAJOR" "$work/pg/usr/lib/postgresql/"
    cp -a "/usr/share/postgresql/$PG_MAJOR" "$work/pg/usr/share/postgresql/"
    cp -a /usr/include/postgresql "$work/pg/usr/include/"
    if [ "$(id -u)" = 0 ]; then chown -R postgres: "$work"; fi
}

# sm_copy_tree SRC DEST: the source tree's tracked and untracked, not
# ignored files (all of them outside a git checkout) into DEST
sm_copy_tree() {
    mkdir -p "$2"
    if git -C "$1" rev-parse --is-inside-work-tree >/dev/null 2>&1; then
        (cd "$1" && git ls-files -co --exclude-standard -z |
            xargs -0 cp --parents -t "$2" 2>/dev/null)
    else
        cp -a "$1/." "$2/"
    fi
}

# sm_private_bindir WORK: the bin directory of the private copy
sm_private_bindir() {
    echo "$1/pg/usr/lib/postgresql/$PG_MAJOR/bin"
}

# sm_build_install WORK LOG: build schema_mgr in WORK/src and install it into
# the private copy.  Run as the run user.
sm_build_install() {
    local pgc
    pgc="$(sm_private_bindir "$1")/pg_config"
    (cd "$1/src" && make -s -j2 PG_CONFIG="$pgc" && make -s PG_CONFIG="$pgc" install) \
        >"$2" 2>&1
}

# ------------------------------------------------------------ other majors

# sm_all_majors: every supported major, in order
sm_all_majors() {
    echo "$SM_MAJORS_TABLE" | awk '{ print $1 }' | tr '\n' ' ' | sed 's/ $//'
}

# sm_suite_of MAJOR: the Debian suite that ships MAJOR (fails if none)
sm_suite_of() {
    local s
    s=$(echo "$SM_MAJORS_TABLE" | awk -v m="$1" '$1 == m { print $2 }')
    [ -n "$s" ] && echo "$s"
}

# sm_select_majors SPEC: the majors SPEC names ("15 17", "all"), checked;
# empty SPEC is the default major.
sm_select_majors() {
    local spec=${1:-$SM_DEFAULT_MAJOR} m out=""
    [ "$spec" = all ] && spec=$(sm_all_majors)
    for m in ${spec//,/ }; do
        if ! sm_suite_of "$m" >/dev/null; then
            echo "unsupported major: $m (supported: $(sm_all_majors))" >&2
            return 1
        fi
        out="$out $m"
    done
    echo "${out# }"
}

# sm_runs_natively MAJOR [ROOT]: MAJOR runs on this machine itself (its
# suite is this machine's, or we are inside the chroot built for it).
sm_runs_natively() {
    local root=${2:-} codename
    [ "$(cat "$root/etc/schema_mgr_major" 2>/dev/null)" = "$1" ] && return 0
    codename=$(. "$root/etc/os-release" 2>/dev/null && echo "${VERSION_CODENAME:-}")
    [ -n "$codename" ] && [ "$(sm_suite_of "$1")" = "$codename" ]
}

# sm_chroot_dir MAJOR: where the chroot for MAJOR lives
sm_chroot_dir() {
    echo "$SM_CHROOT_CACHE/pg$1"
}

# sm_chroot_recipe MAJOR: what the chroot for MAJOR is built from, one
# line; a chroot whose stamp differs is rebuilt.  The server, contrib and
# server headers come from the major's own suite (experimental is a
# layer over sid); the compiler and make (build-essential, which the
# Debian package's build also requires) and the TAP framework are the base
# set; what sm_missing_packages then finds missing (clang for the bitcode,
# the packaging tools) is added.
sm_chroot_recipe() {
    local m=$1 suite base
    suite=$(sm_suite_of "$m") || return 1
    base=$suite
    [ "$suite" = experimental ] && base=sid
    echo "base=$base target=$suite mirror=$SM_MIRROR" \
        "packages=postgresql-$m,postgresql-server-dev-$m" \
        "tools=build-essential,perl,libipc-run-perl,ca-certificates"
}

# sm_chroot_fresh MAJOR: the cached chroot exists and matches its recipe
sm_chroot_fresh() {
    local dir
    dir=$(sm_chroot_dir "$1")
    [ -f "$dir/etc/schema_mgr_chroot" ] &&
        [ "$(cat "$dir/etc/schema_mgr_chroot")" = "$(sm_chroot_recipe "$1")" ] &&
        [ -z "$(PG_MAJOR=$1 sm_missing_packages "$dir")" ]
}

# sm_ensure_chroot MAJOR: reuse the cached chroot, or (re)build it
sm_ensure_chroot() {
    local m=$1 dir recipe base target tools tmp missing
    sm_chroot_fresh "$m" && return 0
    dir=$(sm_chroot_dir "$m")
    recipe=$(sm_chroot_recipe "$m") || return 1
    base=$(echo "$recipe" | sed -E 's/.*base=([^ ]*).*/\1/')
    target=$(echo "$recipe" | sed -E 's/.*target=([^ ]*).*/\1/')
    tools=$(echo "$recipe" | sed -E 's/.*tools=([^ ]*).*/\1/')
    echo "== building the PostgreSQL $m chroot ($target) in $dir"
    local started=$SECONDS
    command -v mmdebstrap >/dev/null || sm_ensure_tool mmdebstrap || return 1
    tmp="$dir.new"
    sm_as_root rm -rf "$tmp" "$dir"
    sm_as_root mkdir -p "$(dirname "$dir")"
    local sources=("deb $SM_MIRROR $base main")
    [ "$target" != "$base" ] && sources+=("deb $SM_MIRROR $target main")
    # a mirror may serve a frozen snapshot whose Release files have
    # passed their Valid-Until date: accept them (signatures still count)
    sm_as_root mmdebstrap --quiet --mode=root --variant=apt \
        --aptopt='Acquire::Check-Valid-Until "false"' \
        --include="$tools" "$base" "$tmp" "${sources[@]}" ||
        { echo "could not bootstrap $base" >&2; return 1; }
    # the server and its headers from the target suite, then whatever
    # else the build needs that the bootstrap did not bring
    sm_chroot_apt "$tmp" -t "$target" "postgresql-$m" "postgresql-server-dev-$m" ||
        return 1
    missing=$(PG_MAJOR=$m sm_missing_packages "$tmp" | sed "s/^postgresql-contrib$/postgresql-$m/" |
        sort -u | tr '\n' ' ')
    if [ -n "${missing// /}" ]; then
        # shellcheck disable=SC2086
        sm_chroot_apt "$tmp" -t "$target" $missing || return 1
    fi
    sm_as_root rm -rf "$tmp/var/cache/apt/archives/"*.deb
    echo "$m" | sm_as_root tee "$tmp/etc/schema_mgr_major" >/dev/null
    echo "$recipe" | sm_as_root tee "$tmp/etc/schema_mgr_chroot" >/dev/null
    sm_as_root mv "$tmp" "$dir"
    echo "== built the PostgreSQL $m chroot in $((SECONDS - started)) s"
    missing=$(PG_MAJOR=$m sm_missing_packages "$dir" | tr '\n' ' ')
    if [ -n "${missing// /}" ]; then
        echo "the PostgreSQL $m chroot still lacks: $missing" >&2
        return 1
    fi
}

# sm_chroot_apt ROOT ARGS...: apt-get install inside ROOT
sm_chroot_apt() {
    local root=$1
    shift
    # the bootstrap leaves no package lists behind
    sm_in_chroot "$root" sh -c 'apt-get update -qq &&
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
            --no-install-recommends "$@"' sh "$@" >/dev/null ||
        { echo "could not install $* in $root" >&2; return 1; }
}

# sm_ensure_tool PACKAGE: install a tool on this machine
sm_ensure_tool() {
    sm_as_root apt-get update -qq &&
        sm_as_root env DEBIAN_FRONTEND=noninteractive \
            apt-get install -y -qq "$1" >/dev/null
}

# sm_in_chroot ROOT COMMAND...: run COMMAND (as root) inside ROOT, with
# /dev and /proc mounted in a private mount namespace that vanishes with it
sm_in_chroot() {
    local root=$1
    shift
    sm_as_root unshare --mount --propagation private -- bash -c '
        root=$1; shift
        mount --rbind /dev "$root/dev" && mount -t proc proc "$root/proc" &&
            exec chroot "$root" "$@"' bash "$root" "$@"
}

# sm_run_major SRC MAJOR [PARTS...]: the suite for MAJOR, here when it runs
# natively, else by this same runner inside the major's chroot (built or
# reused), from a copy of the source tree.  The filters REGRESS, ISOLATION
# and PROVE_TESTS are passed on.
sm_run_major() {
    local src=$1 m=$2 root box rc var lock rep_cache pass=()
    shift 2
    if sm_runs_natively "$m"; then
        bash "$src/test/run_tests.sh" --major "$m" "$@"
        return
    fi
    # one run builds a chroot while no other uses it; runs share it
    sm_as_root mkdir -p "$SM_CHROOT_CACHE" &&
        sm_as_root touch "$SM_CHROOT_CACHE/pg$m.lock" &&
        sm_as_root chmod 666 "$SM_CHROOT_CACHE/pg$m.lock" &&
        exec {lock}<"$SM_CHROOT_CACHE/pg$m.lock" || return 1
    flock -x "$lock"
    sm_ensure_chroot "$m" || { sm_summary 0 1 0; return 1; }
    flock -s "$lock"
    root=$(sm_chroot_dir "$m")
    box=$(sm_as_root mktemp -d "$root/tmp/schema_mgr_src.XXXXXX") || return 1
    sm_copy_tree "$src" "$box/src"
    # the slate reference, where the runner looks for it beside the tree
    if [ -f "$src/../shared/reference/slate_source.sql" ]; then
        mkdir -p "$box/shared/reference"
        cp "$src/../shared/reference/slate_source.sql" "$box/shared/reference/"
    fi
    # the slate replicator's harness, and the Node 12 and pg 4 it installed
    # from npm on this machine (the chroot has no npm): test/t/050
    if [ -x "$src/../shared/clients/slate-replicator/run.sh" ]; then
        mkdir -p "$box/shared/clients"
        cp -a "$src/../shared/clients/slate-replicator" "$box/shared/clients/"
        rep_cache=${SLATE_REP_CACHE:-/tmp/slate_replicator_cache}
        if compgen -G "$rep_cache/deps-*/.ok" >/dev/null; then
            mkdir -p "$box/replicator_cache"
            cp -a "$rep_cache"/deps-* "$box/replicator_cache/"
            pass+=("SLATE_REP_CACHE=${box#"$root"}/replicator_cache")
        fi
    fi
    chmod -R a+rX "$box"
    # the default major's installation for the pg_upgrade test
    if [ "$m" = "$SM_UPGRADE_TO" ] && sm_wants_part upgrade "$@"; then
        sm_prepare_old_install "$src" "$box/old" "$root" ||
            { sm_as_root rm -rf "$box"; sm_summary 0 1 0; return 1; }
        pass+=("SM_OLD_INSTALL=${box#"$root"}/old/pg/usr/lib/postgresql/$SM_DEFAULT_MAJOR")
    fi
    for var in REGRESS ISOLATION PROVE_TESTS; do
        [ -n "${!var+set}" ] && pass+=("$var=${!var}")
    done
    echo "== in the chroot $root"
    sm_in_chroot "$root" env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME=/root \
        LANG=C.UTF-8 "${pass[@]}" \
        bash "${box#"$root"}/src/test/run_tests.sh" --major "$m" "$@"
    rc=$?
    sm_as_root rm -rf "$box"
    exec {lock}<&-
    return $rc
}

# sm_wants_part PART [PARTS...]: PART is among PARTS, or PARTS is empty
# (the whole suite)
sm_wants_part() {
    local want=$1 p
    shift
    [ $# -eq 0 ] && return 0
    for p in "$@"; do [ "$p" = "$want" ] && return 0; done
    return 1
}

# sm_prepare_old_install SRC WORK ROOT: this machine's own major, with
# schema_mgr built and installed, as a private copy in WORK (under the
# chroot ROOT) that pg_upgrade can run from inside ROOT.  The libraries
# its binaries need and ROOT lacks (another suite ships other sonames,
# e.g. ICU) are copied into its lib directory, where the TAP framework
# puts LD_LIBRARY_PATH for an older installation.
sm_prepare_old_install() {
    local src=$1 work=$2 root=$3 inst pass missing so path
    PG_MAJOR=$SM_DEFAULT_MAJOR sm_ensure_packages || return 1
    PG_MAJOR=$SM_DEFAULT_MAJOR sm_prepare_work "$src" "$work"
    if ! PG_MAJOR=$SM_DEFAULT_MAJOR sm_build_install "$work" "$work/build.log"; then
        cat "$work/build.log"
        return 1
    fi
    inst=$work/pg/usr/lib/postgresql/$SM_DEFAULT_MAJOR
    for pass in 1 2 3 4; do
        missing=$(for f in "$inst"/bin/* "$inst"/lib/*.so; do
            sm_as_root chroot "$root" env LD_LIBRARY_PATH="${inst#"$root"}/lib" \
                ldd "${f#"$root"}" 2>/dev/null
        done | awk '/not found/ { print $1 }' | sort -u)
        [ -z "$missing" ] && break
        for so in $missing; do
            path=$(ldconfig -p | awk -v so="$so" '$1 == so && /x86-64/ { print $NF; exit }')
            if [ -z "$path" ]; then
                echo "$so, needed by PostgreSQL $SM_DEFAULT_MAJOR, is not on this machine" >&2
                return 1
            fi
            cp -L "$path" "$inst/lib/"
        done
    done
    chmod -R a+rX "$work"
}

# ------------------------------------------------------- reading TAP output

# The runner's last line stays "N passed, M failed" (what .ci/run, CI
# and packagers' scripts read); when tests were skipped, a line "K skipped"
# comes just before it.
SM_SUMMARY_RE='^[0-9]+ passed, [0-9]+ failed$'

# sm_summary PASSED FAILED SKIPPED
sm_summary() {
    [ "$3" = 0 ] || echo "$3 skipped"
    echo "$1 passed, $2 failed"
}

# sm_read_summary FILE: "PASSED FAILED SKIPPED" of the last summary in
# FILE (SKIPPED from its "K skipped" line, 0 without one), nothing when it
# has none
sm_read_summary() {
    awk '/^[0-9]+ skipped$/ { s = $1; next }
         /^[0-9]+ passed, [0-9]+ failed$/ { ok = $1; bad = $3; sk = (s == "" ? 0 : s); s = ""; found = 1 }
         END { if (found) print ok, bad, sk }' "$1"
}

# sm_tap_report NAME FILE RC DIAG
# FILE holds the TAP output of the test NAME, as the test printed it or as
# `prove -v` shows it; its command exited with RC.  Prints, each prefixed
# with "NAME: ", the failed tests, the lines matching the extended regular
# expression DIAG (diagnostics worth showing), every skipped test with its
# reason, then one line "NAME ... N ok, M failed, K skipped", or
# "NAME ... skipped: REASON" for a test that skipped all it had.  Sets
# SM_TAP_OK, SM_TAP_FAILED and SM_TAP_SKIPPED: a test skipped is neither
# passed nor failed; a test that skipped all counts as one skipped; a
# test that ran nothing and gave no reason to skip, or whose command
# failed without a failed test, counts as one failed.
sm_tap_report() {
    local name=$1 out=$2 rc=$3 diag=$4 reason
    local skip_re='^ok [0-9]+[^#]*# *[Ss][Kk][Ii][Pp]'
    # a plan of no tests skips all: "1..0 # SKIP reason" as the test
    # prints it, "t.pl .. skipped: reason" as prove shows it
    local all_re='^1\.\.0([^0-9]|$)|^[^[:space:]]+ \.+ skipped: '
    SM_TAP_OK=$(grep -cE '^ok [0-9]+' "$out")
    SM_TAP_SKIPPED=$(grep -cE "$skip_re" "$out")
    SM_TAP_OK=$((SM_TAP_OK - SM_TAP_SKIPPED))
    SM_TAP_FAILED=$(grep -cE '^not ok [0-9]+' "$out")
    grep -E "^not ok [0-9]+|$diag|$skip_re" "$out" | sed "s|^|$name: |"
    if [ "$rc" != 0 ] && [ "$SM_TAP_FAILED" = 0 ]; then
        echo "$name: exited with status $rc"
        SM_TAP_FAILED=1
    fi
    if [ "$SM_TAP_OK" = 0 ] && [ "$SM_TAP_FAILED" = 0 ] && [ "$SM_TAP_SKIPPED" = 0 ]; then
        if grep -qE "$all_re" "$out"; then
            reason=$(sed -nE 's/^1\.\.0[[:space:]]*(#[[:space:]]*[Ss][Kk][Ii][Pp][^[:space:]]*)?[[:space:]]*//p
                s/^[^[:space:]]+ \.+ skipped: //p' "$out" | head -1)
            SM_TAP_SKIPPED=1
            echo "$name ... skipped: ${reason:-(no reason given)}"
            return 0
        fi
        echo "$name: no test ran, and no reason to skip was given"
        SM_TAP_FAILED=1
    fi
    echo "$name ... $SM_TAP_OK ok, $SM_TAP_FAILED failed, $SM_TAP_SKIPPED skipped"
}
