# ----------------------------------------------------------------------
# 034_events_standby.pl -- a hot standby has the events (and the guard),
# and refuses insert_events with a clear error instead of failing somewhere
# inside.
# ----------------------------------------------------------------------
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $primary = PostgreSQL::Test::Cluster->new('primary');
$primary->init(allows_streaming => 1);
$primary->start;
$primary->safe_psql('postgres', q{
	CREATE EXTENSION schema_mgr;
	SELECT create_event_store('source');
	SELECT insert_events($$($1[1], $2, '{"n": 1}'), ($1[2], $2, '{"n": 2}')$$);
});
$primary->backup('b');
my $standby = PostgreSQL::Test::Cluster->new('standby');
$standby->init_from_backup($primary, 'b', has_streaming => 1);
$standby->start;

$primary->safe_psql('postgres',
	q{SELECT last_id FROM append_events(ARRAY['{"n": 3}']::jsonb[])});
$primary->wait_for_catchup($standby);

is($standby->safe_psql('postgres', 'SELECT count(*), max(id) FROM events'),
	'3|3', 'the standby has the events');
my ($ret, $out, $err) = $standby->psql('postgres',
	q{SELECT insert_events($$($1[1], $2, '{}')$$)});
like($err, qr/ERROR:  cannot insert events during recovery/,
	'insert_events on a standby: clear error');
($ret, $out, $err) = $standby->psql('postgres',
	q{SELECT * FROM append_events(ARRAY['{}']::jsonb[])});
like($err, qr/ERROR:  cannot insert events during recovery/,
	'the typed call too');
is($primary->safe_psql('postgres',
	q{SELECT first_id FROM append_events(ARRAY['{"n": 4}']::jsonb[])}), '4',
	'the primary carries on');

$standby->stop;
$primary->stop;
done_testing();
