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

# Install what is missing: server headers with PGXS, contrib (dblink), the
# TAP framework's IPC::Run, and a compiler.
sm_ensure_packages() {
    local missing=()
    [ -x "$PG_BINDIR/pg_config" ] &&
        [ -f "/usr/lib/postgresql/$PG_MAJOR/lib/pgxs/src/makefiles/pgxs.mk" ] ||
        missing+=("postgresql-server-dev-$PG_MAJOR")
    [ -f "/usr/share/postgresql/$PG_MAJOR/extension/dblink.control" ] ||
        missing+=(postgresql-contrib)
    perl -MIPC::Run -e 1 2>/dev/null || missing+=(libipc-run-perl)
    command -v make >/dev/null || missing+=(make)
    command -v gcc >/dev/null || missing+=(gcc)
    if [ ${#missing[@]} -gt 0 ]; then
        echo "== installing ${missing[*]}"
        sm_as_root apt-get update -qq &&
            sm_as_root env DEBIAN_FRONTEND=noninteractive \
                apt-get install -y -qq "${missing[@]}" >/dev/null ||
            { echo "could not install ${missing[*]}" >&2; return 1; }
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
