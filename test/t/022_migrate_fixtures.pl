# Migrations: the fixture chains, loaded with bin/schema_mgr_load_dir from
# a client, build exactly the schema their original scripts build on an
# empty database; a second run applies nothing.  The loader registers any
# file content byte for byte.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use File::Temp qw(tempdir);

my $node = PostgreSQL::Test::Cluster->new('fixtures');
$node->init;
$node->start;

my $loader = 'bin/schema_mgr_load_dir';

sub load_dir
{
	my ($db, $component, $dir, @opts) = @_;
	my ($script, $stderr);
	IPC::Run::run([ 'sh', $loader, @opts, $component, $dir ],
		'>', \$script, '2>', \$stderr)
	  or die "loader failed: $stderr";
	my ($out, $err) = ('', '');
	IPC::Run::run([ 'psql', '-X', '-q', '-A', '-t', '-d', $node->connstr($db) ],
		'<', \$script, '>', \$out, '2>', \$err);
	return ($out, $err, $stderr);
}

# write_file(PATH, CONTENT): the bytes as given
sub write_file
{
	my ($path, $content) = @_;
	open(my $fh, '>:raw', $path) or die "could not write \"$path\": $!";
	print $fh $content;
	close $fh;
}

sub schema_dump
{
	my ($db) = @_;
	my $out = `pg_dump --schema-only --no-owner -n public -d '${\ $node->connstr($db)}'`;
	die "pg_dump failed" if $?;
	# keep the DDL, drop comments, blank lines and session settings
	my @lines = grep { !/^(--|SET |SELECT pg_catalog\.set_config|\\(un)?restrict )/ && /\S/ }
	  split /\n/, $out;
	return join("\n", @lines) . "\n";
}

foreach my $fixture (qw(iomanager flogo pgedge))
{
	my $ref = "ref_$fixture";
	my $chain = "chain_$fixture";
	$node->safe_psql('postgres', "CREATE DATABASE $ref");
	$node->safe_psql('postgres', "CREATE DATABASE $chain");

	$node->command_ok(
		[ 'psql', '-X', '-q', '-v', 'ON_ERROR_STOP=1', '-d', $node->connstr($ref),
		  '-f', "test/fixtures/reference/$fixture.sql" ],
		"$fixture: original script");

	$node->safe_psql($chain,
		'CREATE SCHEMA schema_mgr; CREATE EXTENSION schema_mgr SCHEMA schema_mgr');
	my ($out, $err) = load_dir($chain, $fixture, "test/fixtures/$fixture",
		'-s', 'schema_mgr', '-a');
	is($err, '', "$fixture: loaded and applied without errors");
	my $n = () = glob("test/fixtures/$fixture/V*.sql");
	is($node->safe_psql($chain,
		"SELECT count(*) FROM schema_mgr.schema_version WHERE kind = 'run'"),
		$n, "$fixture: all $n migrations applied");

	($out, $err) = load_dir($chain, $fixture, "test/fixtures/$fixture",
		'-s', 'schema_mgr', '-a');
	like($err, qr/no pending migrations for component "$fixture", nothing to apply/,
		"$fixture: second run applies nothing");
	unlike($out, qr/registered|replaced/, "$fixture: second run registers nothing");

	my $want = schema_dump($ref);
	my $got = schema_dump($chain);
	ok(length($want) > 200, "$fixture: reference schema is not empty");
	is($got, $want, "$fixture: chain builds the same schema as the original script");
}

# the client loader copes with any file content
my $dir = tempdir(CLEANUP => 1);
my $nasty = "\xEF\xBB\xBF-- it's \"quoted\" \\ and :'var' and \\! echo pwned\r\n"
  . "CREATE TABLE nasty (\"a'b\" text DEFAULT E'\\\\x' || \$q\$;\$q\$);\r\n"
  . "-- no newline at the end";
write_file("$dir/V1__nasty_content.sql", $nasty);
write_file("$dir/README.txt", "not a migration\n");
write_file("$dir/V2__second one.sql", "ALTER TABLE nasty ADD COLUMN b int;\n");

$node->safe_psql('postgres', 'CREATE EXTENSION schema_mgr');
my ($out, $err, $lerr) = load_dir('postgres', "it's \\ \"odd\"", $dir, '-i');
is($err, '', 'nasty files load without errors');
like($lerr, qr/ignoring "README.txt"/, 'loader ignores other files when asked, and says so');
my ($stored) = $node->safe_psql('postgres', q{
	SELECT encode(convert_to(sql, 'UTF8'), 'hex') FROM migration WHERE version = 1});
is($stored, unpack('H*', $nasty), 'file content registered byte for byte');
is($node->safe_psql('postgres', q{
	SELECT string_agg(component || '|' || description, ',' ORDER BY version) FROM migration}),
	"it's \\ \"odd\"|nasty content,it's \\ \"odd\"|second one",
	'component and descriptions survive quoting');
is($node->safe_psql('postgres', q{
	SELECT checksum = encode(sha256(convert_to(replace(substr(sql, 2), E'\r\n', E'\n'), 'UTF8')), 'hex')
	FROM migration WHERE version = 1}),
	't', 'checksum ignores the BOM and CRLF');
is($node->safe_psql('postgres',
	q{SELECT string_agg(version::text, ',') FROM apply_migrations()}),
	'1,2', 'nasty migrations apply');

# neither file names nor arguments can smuggle psql meta-commands into the
# loader's output: a name with a line break and a tab, a component with a
# line break and with a backslash sequence that sh's echo would expand
my $evil_dir = tempdir(CLEANUP => 1);
my $pwned = "$evil_dir/pwned";
write_file("$evil_dir/V1__a.sql\n\\! touch sm_loader_pwned\tx", "SELECT 1;\n");
write_file("$evil_dir/V2__b.sql", "SELECT 2;\n");
foreach my $component ("evil\n\\! touch $pwned\n", "evil\\n\\\\! touch $pwned")
{
	($out, $err, $lerr) = load_dir('postgres', $component, $evil_dir, '-a', '-i');
	is($err, '', 'hostile names load without errors');
	like($lerr, qr/ignoring "\?": its name contains control characters/,
		'loader ignores a file name with control characters, and says so');
}
ok(!-e $pwned && !-e 'sm_loader_pwned', 'no meta-command ran');
is($node->safe_psql('postgres', q{
	SELECT string_agg(version::text, ',' ORDER BY version) FROM migration
	WHERE component LIKE 'evil%'}),
	'2,2', 'only the well-named file was registered, under the exact component');

# both loaders read zero-padded versions the same way, however long
my $padded_dir = tempdir(CLEANUP => 1);
write_file("$padded_dir/$_", "SELECT 1;\n")
  foreach ('V0000000000000000001__padded.sql', 'V02__two.sql');
($out, $err, $lerr) = load_dir('postgres', 'padded_client', $padded_dir);
is($err, '', 'client loader reads zero-padded versions');
is($node->safe_psql('postgres', qq{
	SELECT string_agg(version || ':' || result, ',' ORDER BY version)
	FROM register_migrations_from_directory('padded_server', '$padded_dir')}),
	'1:registered,2:registered', 'server loader reads zero-padded versions');

$node->stop;
done_testing();
