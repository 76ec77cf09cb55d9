# ----------------------------------------------------------------------
# test/lib.sh -- set-up shared by test/run_tests.sh and examples/demo.sh
#
# Installs the Debian packages schema_mgr needs when they are missing,
# picks the unprivileged user that runs clusters (initdb refuses root),
# and starts/stops throwaway clusters.
# ----------------------------------------------------------------------

PG_MAJOR=15
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
        # the Debian package's build (test/sh/debian_package.sh)
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
    if [ -z "$root" ]; then
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
    if git -C "$src" rev-parse --is-inside-work-tree >/dev/null 2>&1; then
        (cd "$src" && git ls-files -co --exclude-standard -z |
            xargs -0 cp --parents -t "$work/src" 2>/dev/null)
    else
        cp -a "$src/." "$work/src/"
    fi
    cp -a "/usr/lib/postgresql/$PG_MAJOR" "$work/pg/usr/lib/postgresql/"
    cp -a "/usr/share/postgresql/$PG_MAJOR" "$work/pg/usr/share/postgresql/"
    cp -a /usr/include/postgresql "$work/pg/usr/include/"
    if [ "$(id -u)" = 0 ]; then chown -R postgres: "$work"; fi
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
