#!/usr/bin/env bash
# ----------------------------------------------------------------------
# test/sh/missing_packages.sh -- tests of the set-up logic in test/lib.sh
#
# sm_missing_packages and sm_ensure_packages decide what the README's two
# commands install on a fresh machine.  A machine that already has the
# package hides a wrong decision, so these tests build fake root trees
# (an empty machine, a database server without the server headers, a
# complete one) and check what is found missing and what apt-get is asked
# to install.  Prints TAP ("ok N - ...").
# ----------------------------------------------------------------------
set -u
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/../tap.sh"
check() { tap_is "$@"; }   # check NAME EXPECTED ACTUAL

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# put FILE... under ROOT
plant() {
    local root=$1 f
    shift
    for f in "$@"; do mkdir -p "$(dirname "$root$f")" && : >"$root$f"; done
}

missing() { sm_missing_packages "$1" | sort -u | tr '\n' ' ' | sed 's/ $//'; }

# Sections 1 to 5 for every supported major: the same files, each under
# its major's directories.
for m in $(sm_all_majors); do
    PG_MAJOR=$m
    tmp_m=$tmp/$m
    mkdir -p "$tmp_m"
    # What Debian's postgresql-N, postgresql-client-N and the rest ship that
    # the build looks at, by package (postgresql-server-dev-N: the headers).
    server_files=(/usr/lib/postgresql/$m/bin/postgres
                  /usr/share/postgresql/$m/extension/dblink.control)
    client_files=(/usr/lib/postgresql/$m/bin/pg_config
                  /usr/lib/postgresql/$m/lib/pgxs/src/makefiles/pgxs.mk
                  /usr/lib/postgresql/$m/lib/pgxs/src/test/regress/pg_regress
                  /usr/lib/postgresql/$m/lib/pgxs/src/test/isolation/pg_isolation_regress
                  /usr/lib/postgresql/$m/lib/pgxs/src/test/perl/PostgreSQL/Test/Cluster.pm)
    dev_files=(/usr/include/postgresql/$m/server/postgres.h /usr/bin/clang-14)
    tool_files=(/usr/bin/make /usr/bin/gcc /usr/bin/prove /usr/share/perl5/IPC/Run.pm)
    # what building the Debian package needs (dpkg-dev, debhelper, pg_buildext's
    # debhelper sequence, and postgresql-all for the build-time check)
    pkg_files=(/usr/bin/dpkg-buildpackage /usr/bin/dh /usr/bin/dh_pgxs_test
               /usr/share/doc/postgresql-all/copyright)
    global=/usr/lib/postgresql/$m/lib/pgxs/src/Makefile.global

    # 1. an empty machine needs everything
    empty=$tmp_m/empty
    mkdir -p "$empty"
    check "empty machine: everything is missing" \
        "debhelper dpkg-dev gcc libipc-run-perl make perl postgresql-$m postgresql-all postgresql-contrib postgresql-server-dev-$m postgresql-server-dev-all" \
        "$(missing "$empty")"

    # 1b. the demo (SM_BUILD_ONLY=1) on an empty machine: the server, the
    # headers and the compiler, no test or packaging tool
    check "the demo on an empty machine: server, contrib, headers, make, gcc" \
        "gcc make postgresql-$m postgresql-contrib postgresql-server-dev-$m" \
        "$(SM_BUILD_ONLY=1 missing "$empty")"

    # 2. a database server: server, client and contrib, no server headers
    db=$tmp_m/dbserver
    plant "$db" "${server_files[@]}" "${client_files[@]}" "${tool_files[@]}" "${pkg_files[@]}"
    printf 'with_llvm\t= yes\nCLANG = /usr/bin/clang-14\n' >"$db$global"
    check "database server without headers: postgresql-server-dev-$m" \
        "clang-14 postgresql-server-dev-$m" "$(missing "$db")"

    # 3. the same with the headers
    full=$tmp_m/full
    cp -a "$db" "$full"
    plant "$full" "${dev_files[@]}"
    check "complete machine: nothing is missing" "" "$(missing "$full")"

    # 3b. a build machine without the packaging tools gets them
    nopkg=$tmp_m/nopkg
    cp -a "$full" "$nopkg"
    for f in "${pkg_files[@]}"; do rm "$nopkg$f"; done
    check "without the packaging tools: dpkg-dev, debhelper, pg_buildext's sequence, postgresql-all" \
        "debhelper dpkg-dev postgresql-all postgresql-server-dev-all" "$(missing "$nopkg")"

    # 3c. the demo (SM_BUILD_ONLY=1) on a database server without any
    # test or packaging tool installs only what it builds with
    demo=$tmp_m/demo
    cp -a "$db" "$demo"
    for f in "${pkg_files[@]}" /usr/bin/prove /usr/share/perl5/IPC/Run.pm; do rm "$demo$f"; done
    check "the demo on a database server: only the headers (and clang)" \
        "clang-14 postgresql-server-dev-$m" "$(SM_BUILD_ONLY=1 missing "$demo")"
    check "the test suite on that server: also the test and packaging tools" \
        "clang-14 debhelper dpkg-dev libipc-run-perl perl postgresql-all postgresql-server-dev-$m postgresql-server-dev-all" \
        "$(missing "$demo")"

    # 4. headers present, PGXS built without LLVM: no clang needed
    nollvm=$tmp_m/nollvm
    cp -a "$full" "$nollvm"
    rm "$nollvm/usr/bin/clang-14"
    printf 'with_llvm\t= no\n' >"$nollvm$global"
    check "PGXS without LLVM needs no clang" "" "$(missing "$nollvm")"

    # 5. each needed file, removed alone, is found missing
    for f in "${server_files[@]}" "${client_files[@]}" "${dev_files[@]}" "${tool_files[@]}" \
        "${pkg_files[@]}"; do
        one=$tmp_m/one
        rm -rf "$one"
        cp -a "$full" "$one"
        rm "$one$f"
        got=$(missing "$one")
        tap_ok "without $f something is found missing (${got:-nothing})" [ -n "$got" ]
    done
done

# Section 6 for the default major, with the trees the loop left behind
m=$SM_DEFAULT_MAJOR
PG_MAJOR=$m
tmp_m=$tmp/$m
db=$tmp_m/dbserver
full=$tmp_m/full
dev_files=(/usr/include/postgresql/$m/server/postgres.h /usr/bin/clang-14)

# 6. sm_ensure_packages asks apt-get for exactly what is missing, and
# fails when the install did not bring the files
apt_log=$tmp_m/apt.log
sm_as_root() {
    echo "$*" >>"$apt_log"
    case "$*" in
    *"apt-get install"*) [ -n "${FAKE_INSTALL:-}" ] && plant "$ensure" "${dev_files[@]}" ;;
    esac
    return 0
}
ensure=$tmp_m/ensure
cp -a "$db" "$ensure"
: >"$apt_log"
FAKE_INSTALL=1 sm_ensure_packages "$ensure" >/dev/null 2>&1
rc=$?
check "ensure on a database server succeeds once the headers are installed" 0 $rc
check "ensure installs the server headers" 1 \
    "$(grep -c "apt-get install -y -qq clang-14 postgresql-server-dev-$m" "$apt_log")"

rm -rf "$ensure"
cp -a "$db" "$ensure"
: >"$apt_log"
sm_ensure_packages "$ensure" >/dev/null 2>&1
check "ensure fails when the install did not bring the headers" 1 $?

: >"$apt_log"
sm_ensure_packages "$full" >/dev/null 2>&1
rc=$?
check "ensure on a complete machine installs nothing" "0 0" "$rc $(wc -l <"$apt_log")"

tap_done
