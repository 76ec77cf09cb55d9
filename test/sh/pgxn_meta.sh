#!/usr/bin/env bash
# ----------------------------------------------------------------------
# test/sh/pgxn_meta.sh -- META.json, the PGXN distribution metadata
#
# META.json must satisfy the PGXN Meta Spec 1.0 (test/pgxn_meta.pl checks
# it) and agree with the rest of the tree: the distribution version with
# the Debian package's upstream version, the extension version with the
# control file's default_version, the oldest PostgreSQL it requires with
# debian/pgversions.  The checker itself must reject what the spec
# forbids, or a passing META.json would prove nothing.  Prints TAP.
# ----------------------------------------------------------------------
set -u
SRC=$(cd "$(dirname "$0")/../.." && pwd)
. "$SRC/test/tap.sh"
. "$SRC/test/deb.sh"

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
meta=$SRC/META.json
validate() { perl "$SRC/test/pgxn_meta.pl" --root "$SRC" "$@"; }
field() { perl -MJSON::PP -e 'local $/; my $m = decode_json(<STDIN>);
    for (split m{/}, $ARGV[0]) { $m = ref $m eq "ARRAY" ? $m->[$_] : $m->{$_} }
    print ref $m eq "ARRAY" ? join(" ", @$m) : $m' "$1" <"$meta"; }

# 1. META.json follows the spec
out=$(validate "$meta" 2>&1)
tap_is "META.json follows the PGXN Meta Spec" "" "$out"

# 2. and agrees with the tree
tap_is "provides schema_mgr at the control file's default_version" \
    "$(sm_release_version "$SRC")" "$(field provides/schema_mgr/version)"
tap_is "the distribution version is the extension version" \
    "$(field provides/schema_mgr/version)" "$(field version)"
deb_version=$(sed -nE '1s/^[^ ]+ \(([^)]*)-[^-)]*\).*/\1/p' "$SRC/debian/changelog")
tap_is "the Debian package's upstream version is the distribution version" \
    "$(field version)" "$deb_version"
oldest=$(sm_deb_oldest_major "$SRC")
tap_is "requires PostgreSQL from the oldest major debian/pgversions builds for" \
    ">= $oldest.0.0" "$(field prereqs/runtime/requires/PostgreSQL)"
tap_is "the supported majors start at that major" \
    "$oldest" "$(field x_postgresql_majors/0)"
tap_is "the extension's file is the control file" \
    "schema_mgr.control" "$(field provides/schema_mgr/file)"

# 3. the checker rejects what the spec forbids: each edit of META.json
# (a Perl expression on $m) must be refused with the given complaint
rejects() {   # rejects NAME PERL-EDIT EXPECTED-COMPLAINT
    perl -MJSON::PP -e 'local $/; my $m = decode_json(<STDIN>); eval $ARGV[0];
        die $@ if $@; print JSON::PP->new->canonical->encode($m)' "$2" \
        <"$meta" >"$tmp/META.json" || { tap_is "$1" "an edited META.json" "perl failed"; return; }
    local out rc
    out=$(validate "$tmp/META.json" 2>&1)
    rc=$?
    if [ $rc = 1 ] && grep -qF -- "$3" <<<"$out"; then
        tap_is "$1" x x
    else
        tap_is "$1" "exit 1 with: $3" "exit $rc with: $out"
    fi
}
rejects "the checker refuses a missing licence" 'delete $m->{license}' \
    '/: required key "license" is missing'
rejects "the checker refuses a version that is not SemVer" '$m->{version} = "1.1"' \
    '/version: "1.1" is not a semantic version'
rejects "the checker refuses a version given as a number" '$m->{version} = 1.1' \
    '/version: must be a non-empty string'
rejects "the checker refuses a key the spec does not define" '$m->{platforms} = ["linux"]' \
    '/platforms: not a key of the spec'
rejects "the checker refuses a licence the spec does not name" '$m->{license} = "GPL"' \
    '/license: "GPL" is not a licence name'
rejects "the checker refuses an extension file that is not there" \
    '$m->{provides}{schema_mgr}{file} = "sql/schema_mgr.sql"' \
    '/provides/schema_mgr/file: "sql/schema_mgr.sql" does not exist'
rejects "the checker refuses an extension without a version" \
    'delete $m->{provides}{schema_mgr}{version}' \
    '/provides/schema_mgr: required key "version" is missing'
rejects "the checker refuses a version range that is not one" \
    '$m->{prereqs}{runtime}{requires}{PostgreSQL} = "15+"' \
    '/prereqs/runtime/requires/PostgreSQL: "15+" is not a version range'
rejects "the checker refuses an unknown prereq phase" '$m->{prereqs}{install} = {requires => {dblink => 0}}' \
    '/prereqs/install: not a key of the spec'
rejects "the checker refuses a Meta Spec version other than 1.0.x" '$m->{"meta-spec"}{version} = "2.0.0"' \
    '/meta-spec/version: must be "1.0.x"'
rejects "the checker refuses a tag with a slash" 'push @{$m->{tags}}, "ci/cd"' \
    'a tag is a string of 2 to 255 characters'
rejects "the checker refuses a bug tracker address that is not one" \
    '$m->{resources}{bugtracker}{mailto} = "maintainers"' \
    '/resources/bugtracker/mailto: "maintainers" is not an e-mail address'
rejects "the checker refuses a name with a space" '$m->{name} = "schema mgr"' \
    '/name: "schema mgr" is not a Term'

tap_done
