# ----------------------------------------------------------------------
# 050_slate_replicator.pl -- the real, unchanged slate replicator
# (elm-slate/replicator with db-events and db-utils) replicates from a
# schema_mgr source store into a plain slate destination database.
#
# The harness (run.sh, in the shared clients folder beside the checkout,
# passed in as SLATE_REPLICATOR_DIR by test/run_tests.sh) installs Node 12
# and pg 4 from npm on first use, inserts events with slate's call string
# before and while the replicator runs, and compares the destination with
# the source row by row.  It runs first against slate's own SQL (which
# validates the harness), then against schema_mgr.  Network: loopback
# only (the replicator's pg 4 connects over TCP to 127.0.0.1).
# ----------------------------------------------------------------------
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use File::Path ();

my $dir = $ENV{SLATE_REPLICATOR_DIR} // '';
plan skip_all => 'the slate replicator harness (../shared/clients/slate-replicator beside the checkout) is not there'
  unless $dir ne '' && -x "$dir/run.sh";
# what the harness installed from npm, where test/lib.sh copies it into
# the chroot of another major
my $cache = $ENV{SLATE_REP_CACHE} // '/tmp/slate_replicator_cache';
plan skip_all => 'npm is not installed: the harness installs the replicator\'s Node and pg from npm'
  unless system('npm --version >/dev/null 2>&1') == 0 || glob("$cache/deps-*/.ok");

my $node = PostgreSQL::Test::Cluster->new('slate');
$node->init;
# pg 4 knows trust and md5 only; TCP on the loopback interface alone
$node->append_conf('postgresql.conf', "listen_addresses = '127.0.0.1'");
$node->append_conf('pg_hba.conf', 'host all all 127.0.0.1/32 trust');
$node->start;

for my $target ('reference', 'schema_mgr')
{
	my ($stdout, $stderr);
	local $ENV{TARGET} = $target;
	local $ENV{PGHOST} = $node->host;
	local $ENV{PGPORT} = $node->port;
	local $ENV{PGUSER} = scalar getpwuid($>);
	local $ENV{REPLICATOR_HOST} = '127.0.0.1';
	# npm's own cache beside the harness's, whatever HOME says
	local $ENV{npm_config_cache} = "$cache/npm-cache";
	local $ENV{SLATE_REP_CACHE} = $cache;
	my $ok = IPC::Run::run([ "$dir/run.sh" ], '>', \$stdout, '2>', \$stderr);
	note("run.sh TARGET=$target:\n$stdout$stderr");
	my ($summary) = $stdout =~ /^(\d+ passed, \d+ failed)$/m;
	ok($ok && defined $summary && $summary =~ /, 0 failed$/,
		"slate replicator from a $target source: " . ($summary // 'no summary'))
	  or diag(join("\n", grep { /^(FAIL|    \|)/ } split /\n/, $stdout));
	# the harness leaves its scratch directory behind; keep it only on failure
	my ($scratch) = $stdout =~ m{work dir: (/tmp/slate_rep_run\.\S+)};
	File::Path::rmtree($scratch) if $ok && defined $scratch;
}

$node->stop;
done_testing();
