# ----------------------------------------------------------------------
# test/deb.sh -- the Debian packages and the release version, for the tests
#
# Shared by test/sh/debian_package.sh (build, check, install into a
# throwaway prefix), test/autopkgtest.sh (debian/tests/ against the
# installed packages) and test/sh/pgxn_meta.sh.
# ----------------------------------------------------------------------

# sm_deb_build SRC LOG [dpkg-buildpackage options...]
# Build the binary packages from SRC, a copy of the tree (dpkg-buildpackage
# writes into it and puts the packages in its parent directory), as the
# calling user, away from the cluster the caller's environment may name.
sm_deb_build() {
    local src=$1 log=$2
    shift 2
    (cd "$src" && env -u PGHOST -u PGPORT -u PGDATABASE -u PGUSER -u PG_CONFIG \
        HOME="$(dirname "$src")" \
        DEB_BUILD_OPTIONS="${DEB_BUILD_OPTIONS:+$DEB_BUILD_OPTIONS }parallel=2" \
        dpkg-buildpackage -us -uc -b "$@") >"$log" 2>&1
}

# sm_deb_oldest_major SRC: the oldest PostgreSQL major debian/pgversions
# builds for ("15+": 15)
sm_deb_oldest_major() {
    grep -vE '^(#|$)' "$1/debian/pgversions" | sed 's/+$//' | sort -n | head -1
}

# sm_default_version SRC: the control file's default_version
sm_default_version() {
    sed -nE "s/^default_version[[:space:]]*=[[:space:]]*'([^']*)'.*/\1/p" \
        "$1/schema_mgr.control"
}

# sm_release_version SRC: the control file's default_version as the
# three-part version META.json and the Debian package give it (1.1: 1.1.0)
sm_release_version() {
    local v
    v=$(sm_default_version "$1")
    while [ "$(tr -cd . <<<"$v" | wc -c)" -lt 2 ]; do v=$v.0; done
    echo "$v"
}
