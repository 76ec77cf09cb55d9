#!/usr/bin/perl
# ----------------------------------------------------------------------
# test/pgxn_meta.pl -- check a META.json against the PGXN Meta Spec 1.0
#
#   perl test/pgxn_meta.pl [--root DIR] META.json
#
# Checks what the spec (https://pgxn.org/meta/spec.txt) requires of a
# distribution's metadata: the required keys, no keys the spec does not
# define (custom keys start with "x_"), and the form of every value
# (Terms, SemVer versions, version ranges, licence names, paths, URIs,
# e-mail addresses, tags, prereq phases and relationships).  With
# --root, the paths it names (provides file and docfile, no_index) must
# exist under DIR.  Prints one line per problem ("PATH: PROBLEM") and
# exits 1 when there is any; prints nothing and exits 0 otherwise.
# Uses only Perl's core modules, so it runs wherever the TAP tests do.
# ----------------------------------------------------------------------
use strict;
use warnings;
use B ();
use JSON::PP ();

my $root;
if (@ARGV && $ARGV[0] eq '--root') {
    shift @ARGV;
    $root = shift @ARGV;
}
die "usage: $0 [--root DIR] META.json\n" unless @ARGV == 1;

my $file = $ARGV[0];
open my $fh, '<:raw', $file or die "$file: $!\n";
my $text = do { local $/; <$fh> };
close $fh;

my @problems;
sub problem { push @problems, ($_[0] eq "" ? "/" : $_[0]) . ": $_[1]" }

my $meta = eval { JSON::PP->new->utf8->decode($text) };
if (!defined $meta) {
    print "$file: not JSON: $@";
    exit 1;
}

# ---------------------------------------------------------------- types
sub is_object { ref $_[0] eq 'HASH' }
sub is_array  { ref $_[0] eq 'ARRAY' }

# a JSON string, not a number, boolean, null, object or array
sub is_string {
    my $v = shift;
    return 0 if !defined $v || ref $v;
    my $flags = B::svref_2object(\$v)->FLAGS;
    return ($flags & B::SVp_POK) ? 1 : 0;
}

sub is_number {
    my $v = shift;
    return defined $v && !ref $v && !is_string($v);
}

my $semver = qr/(?:0|[1-9]\d*)\.(?:0|[1-9]\d*)\.(?:0|[1-9]\d*)
                (?:-(?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*)
                    (?:\.(?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*))*)?
                (?:\+[0-9a-zA-Z-]+(?:\.[0-9a-zA-Z-]+)*)?/x;

my %licenses = map { $_ => 1 } qw(
    agpl_3 apache_1_1 apache_2_0 artistic_1 artistic_2 bsd freebsd gfdl_1_2
    gfdl_1_3 gpl_1 gpl_2 gpl_3 lgpl_2_1 lgpl_3_0 mit mozilla_1_0 mozilla_1_1
    openssl perl_5 postgresql qpl_1_0 ssleay sun zlib open_source restricted
    unrestricted unknown);

# ------------------------------------------------------------- checkers
sub custom_key { $_[0] =~ /^[xX]_./ }

# Keys of an object: every required one present, no unknown ones.
sub keys_ok {
    my ($where, $obj, $required, @allowed) = @_;
    my %allowed = map { $_ => 1 } @$required, @allowed;
    for my $k (@$required) {
        problem($where, "required key \"$k\" is missing") unless exists $obj->{$k};
    }
    for my $k (sort keys %$obj) {
        problem("$where/$k", "not a key of the spec (custom keys start with x_)")
            unless $allowed{$k} || custom_key($k);
    }
}

sub string_ok {
    my ($where, $v) = @_;
    return 1 if is_string($v) && length $v;
    problem($where, "must be a non-empty string");
    return 0;
}

sub term_ok {
    my ($where, $v) = @_;
    return unless string_ok($where, $v);
    problem($where, "\"$v\" is not a Term (two or more characters, no slash, "
        . "backslash, space or control character)")
        unless $v =~ m{^[^/\\\s\p{Cntrl}]{2,}$};
}

sub version_ok {
    my ($where, $v) = @_;
    return unless string_ok($where, $v);
    problem($where, "\"$v\" is not a semantic version (MAJOR.MINOR.PATCH)")
        unless $v =~ /^$semver$/;
}

sub range_ok {
    my ($where, $v) = @_;
    return if is_number($v) && $v == 0;
    if (!is_string($v)) {
        problem($where, "a version range must be a string or 0");
        return;
    }
    my $one = qr/(?:(?:[=!]=|[<>]=?)\s*)?$semver/;
    problem($where, "\"$v\" is not a version range (\"0\", \"1.2.0\", \">= 1.2.0, < 2.0.0\")")
        unless $v eq '0' || $v =~ /^$one(?:,\s*$one)*$/;
}

sub path_ok {
    my ($where, $v) = @_;
    return unless string_ok($where, $v);
    if (length $v < 2 || $v =~ m{^/} || $v =~ m{\\} || $v =~ m{(?:^|/)\.\.(?:/|$)}) {
        problem($where, "\"$v\" is not a relative path in Unix form");
    } elsif (defined $root && !-e "$root/$v") {
        problem($where, "\"$v\" does not exist in the distribution");
    }
}

sub uri_ok {
    my ($where, $v) = @_;
    return unless string_ok($where, $v);
    problem($where, "\"$v\" is not a URI") unless $v =~ m{^[A-Za-z][A-Za-z0-9+.-]*:\S+$};
}

sub email_ok {
    my ($where, $v) = @_;
    return unless string_ok($where, $v);
    problem($where, "\"$v\" is not an e-mail address")
        unless $v =~ /^[^@\s<>]+@[^@\s<>]+\.[^@\s<>]+$/;
}

sub object_ok {
    my ($where, $v) = @_;
    return 1 if is_object($v) && %$v;
    problem($where, "must be a non-empty object");
    return 0;
}

sub strings_ok {    # a non-empty string or a non-empty array of them
    my ($where, $v, $each) = @_;
    if (is_array($v)) {
        problem($where, "must not be empty") unless @$v;
        $each->("$where/$_", $v->[$_]) for 0 .. $#$v;
    } else {
        $each->($where, $v);
    }
}

# ------------------------------------------------------------ the spec
if (!is_object($meta)) {
    print "$file: the document must be a JSON object\n";
    exit 1;
}

keys_ok('', $meta,
    [qw(name version abstract maintainer license provides meta-spec)],
    qw(description generated_by tags no_index prereqs release_status resources));

term_ok('/name', $meta->{name}) if exists $meta->{name};
version_ok('/version', $meta->{version}) if exists $meta->{version};
for my $k (qw(abstract description generated_by)) {
    string_ok("/$k", $meta->{$k}) if exists $meta->{$k};
}
strings_ok('/maintainer', $meta->{maintainer}, \&string_ok) if exists $meta->{maintainer};

if (exists $meta->{license}) {
    my $l = $meta->{license};
    if (is_object($l)) {
        object_ok('/license', $l);
        uri_ok("/license/$_", $l->{$_}) for sort keys %$l;
    } else {
        strings_ok('/license', $l, sub {
            my ($where, $v) = @_;
            problem($where, (defined $v && !ref $v ? "\"$v\"" : 'the value')
                . ' is not a licence name of the spec (postgresql, mit, bsd, ..., unknown)')
                unless is_string($v) && $licenses{$v};
        });
    }
}

if (exists $meta->{provides} && object_ok('/provides', $meta->{provides})) {
    for my $ext (sort keys %{ $meta->{provides} }) {
        my $w = "/provides/$ext";
        my $e = $meta->{provides}{$ext};
        term_ok($w, $ext);
        next unless object_ok($w, $e);
        keys_ok($w, $e, [qw(file version)], qw(abstract docfile));
        path_ok("$w/file", $e->{file}) if exists $e->{file};
        version_ok("$w/version", $e->{version}) if exists $e->{version};
        string_ok("$w/abstract", $e->{abstract}) if exists $e->{abstract};
        path_ok("$w/docfile", $e->{docfile}) if exists $e->{docfile};
    }
}

if (exists $meta->{'meta-spec'} && object_ok('/meta-spec', $meta->{'meta-spec'})) {
    my $m = $meta->{'meta-spec'};
    keys_ok('/meta-spec', $m, ['version'], 'url');
    problem('/meta-spec/version', 'must be "1.0.x": this is Meta Spec 1.0')
        unless is_string($m->{version}) && $m->{version} =~ /^1\.0\.\d+$/;
    problem('/meta-spec/url', 'must be https://pgxn.org/meta/spec.txt')
        if exists $m->{url} && !(is_string($m->{url})
            && $m->{url} =~ m{^https?://pgxn\.org/meta/spec\.txt$});
}

if (exists $meta->{tags}) {
    my $t = $meta->{tags};
    if (!is_array($t) || !@$t) {
        problem('/tags', 'must be a non-empty array');
    } else {
        for my $i (0 .. $#$t) {
            problem("/tags/$i", 'a tag is a string of 2 to 255 characters without '
                . 'slash, backslash or control character')
                unless is_string($t->[$i]) && $t->[$i] =~ m{^[^/\\\p{Cntrl}]{2,255}$};
        }
    }
}

if (exists $meta->{no_index} && object_ok('/no_index', $meta->{no_index})) {
    my $n = $meta->{no_index};
    keys_ok('/no_index', $n, [], qw(file directory));
    problem('/no_index', 'needs "file" or "directory"')
        unless exists $n->{file} || exists $n->{directory};
    for my $k (grep { exists $n->{$_} } qw(file directory)) {
        strings_ok("/no_index/$k", $n->{$k}, \&path_ok);
    }
}

if (exists $meta->{prereqs} && object_ok('/prereqs', $meta->{prereqs})) {
    my $p = $meta->{prereqs};
    keys_ok('/prereqs', $p, [], qw(configure build test runtime develop));
    for my $phase (grep { !custom_key($_) } sort keys %$p) {
        my $w = "/prereqs/$phase";
        next unless object_ok($w, $p->{$phase});
        keys_ok($w, $p->{$phase}, [], qw(requires recommends suggests conflicts));
        for my $rel (grep { !custom_key($_) } sort keys %{ $p->{$phase} }) {
            my $r = $p->{$phase}{$rel};
            next unless object_ok("$w/$rel", $r);
            for my $dep (sort keys %$r) {
                term_ok("$w/$rel", $dep);
                range_ok("$w/$rel/$dep", $r->{$dep});
            }
        }
    }
}

if (exists $meta->{release_status}) {
    problem('/release_status', 'must be stable, testing or unstable')
        unless is_string($meta->{release_status})
            && $meta->{release_status} =~ /^(?:stable|testing|unstable)$/;
}

if (exists $meta->{resources} && object_ok('/resources', $meta->{resources})) {
    my $r = $meta->{resources};
    keys_ok('/resources', $r, [], qw(homepage bugtracker repository));
    uri_ok('/resources/homepage', $r->{homepage}) if exists $r->{homepage};
    if (exists $r->{bugtracker} && object_ok('/resources/bugtracker', $r->{bugtracker})) {
        my $b = $r->{bugtracker};
        keys_ok('/resources/bugtracker', $b, [], qw(web mailto));
        problem('/resources/bugtracker', 'needs "web" or "mailto"')
            unless exists $b->{web} || exists $b->{mailto};
        uri_ok('/resources/bugtracker/web', $b->{web}) if exists $b->{web};
        email_ok('/resources/bugtracker/mailto', $b->{mailto}) if exists $b->{mailto};
    }
    if (exists $r->{repository} && object_ok('/resources/repository', $r->{repository})) {
        my $s = $r->{repository};
        keys_ok('/resources/repository', $s, [], qw(url web type));
        problem('/resources/repository', 'needs "url" or "web"')
            unless exists $s->{url} || exists $s->{web};
        uri_ok("/resources/repository/$_", $s->{$_}) for grep { exists $s->{$_} } qw(url web);
        problem('/resources/repository/type', 'must be a lower-case word such as "git"')
            if exists $s->{type} && !(is_string($s->{type}) && $s->{type} =~ /^[a-z]+$/);
    }
}

print "$file: $_\n" for @problems;
exit(@problems ? 1 : 0);
