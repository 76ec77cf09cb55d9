# ----------------------------------------------------------------------
# 038_events_logical_replication.pl -- a source store cannot be the target
# of a logical replication subscription: the apply worker runs in replica
# mode, where an ordinary trigger is silent, and a replicated row would
# take an id that insert_events assigns itself.  The guard fires in every
# mode, so the subscription's rows are refused and the store's own
# sequence stays whole; a destination store is the subscriber's table.
# ----------------------------------------------------------------------
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $pub = PostgreSQL::Test::Cluster->new('publisher');
$pub->init(allows_streaming => 'logical');
$pub->start;
my $sub = PostgreSQL::Test::Cluster->new('subscriber');
$sub->init;
$sub->start;

$pub->safe_psql('postgres', q{
	CREATE EXTENSION schema_mgr;
	SELECT create_event_store('source');
	SELECT insert_events($$($1[1], $2, '{"from": "publisher"}')$$);
	CREATE PUBLICATION events_pub FOR TABLE events;
});
$sub->safe_psql('postgres', q{
	CREATE EXTENSION schema_mgr;
	SELECT create_event_store('source');
	CREATE SCHEMA backup;
	SELECT create_event_store('destination', 'backup');
});
my $connstr = $pub->connstr . ' dbname=postgres';

# into the source store: refused, however often the worker retries
my $offset = -s $sub->logfile;
$sub->safe_psql('postgres',
	"CREATE SUBSCRIPTION into_source CONNECTION '$connstr' PUBLICATION events_pub");
ok($sub->wait_for_log(qr/cannot insert into event store "public.events" directly/, $offset),
	'the apply worker cannot write into a source store');
is($sub->safe_psql('postgres', 'SELECT count(*) FROM events'), '0',
	'no replicated row in the source store');
is($sub->safe_psql('postgres',
	q{SELECT first_id FROM append_events(ARRAY['{"from": "subscriber"}']::jsonb[])}),
	'1', 'the store keeps its own gapless sequence');
$sub->safe_psql('postgres', q{
	ALTER SUBSCRIPTION into_source DISABLE;
	ALTER SUBSCRIPTION into_source SET (slot_name = NONE);
	DROP SUBSCRIPTION into_source;
});
$pub->safe_psql('postgres', q{SELECT pg_drop_replication_slot('into_source')});

# into a destination store: what a subscriber uses
$sub->safe_psql('postgres', q{
	DROP TABLE events;
	ALTER TABLE backup.events SET SCHEMA public;
});
$sub->safe_psql('postgres',
	"CREATE SUBSCRIPTION into_dest CONNECTION '$connstr' PUBLICATION events_pub");
$sub->wait_for_subscription_sync($pub, 'into_dest');
$pub->safe_psql('postgres', q{SELECT insert_events($$($1[1], $2, '{"n": 2}')$$)});
$pub->wait_for_catchup('into_dest');
is($sub->safe_psql('postgres', 'SELECT string_agg(id::text, \',\' ORDER BY id) FROM events'),
	'1,2', 'a destination store receives the replicated events');

$sub->stop;
$pub->stop;
done_testing();
