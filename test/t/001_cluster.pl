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
	"SELECT extversion FROM pg_extension WHERE extname = 'schema_mgr'"),
	'1.1', 'extension created at the default version');
$node->stop;
done_testing();
