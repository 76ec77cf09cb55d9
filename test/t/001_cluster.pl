# The TAP harness starts a cluster and can load schema_mgr.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = PostgreSQL::Test::Cluster->new('main');
$node->init;
$node->start;
$node->safe_psql('postgres', 'CREATE EXTENSION schema_mgr');
is($node->safe_psql('postgres',
	"SELECT e.extversion = a.default_version FROM pg_extension e
	 JOIN pg_available_extensions a ON a.name = e.extname
	 WHERE e.extname = 'schema_mgr'"),
	't', 'extension created at the default version');
$node->stop;
done_testing();
