# ----------------------------------------------------------------------
# 032_events_notify.pl -- what listeners on channel eventsinsert receive.
# Per row (the default): slate's payload, byte for byte, while it fits in
# NOTIFY's 8000 bytes; for bigger events the same object without "event"
# and with "truncated": true.  Per statement: one object with the id range.
# None: nothing.  No payload ever reaches 8000 bytes and a 1 MB event
# inserts fine.  Large calls (their notifications are queued apart, from
# the table once the call's own array is freed) send the same payloads,
# also from savepoints.
# ----------------------------------------------------------------------
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = PostgreSQL::Test::Cluster->new('notify');
$node->init;
$node->start;
$node->safe_psql('postgres', q{
	CREATE EXTENSION schema_mgr;
	SELECT create_event_store('source');
});

# run SQL in one session that LISTENs first; return the payloads received
sub payloads
{
	my ($sql, $db) = @_;
	my ($out, $err);
	$node->psql($db // 'postgres', "LISTEN eventsinsert;\n$sql\n",
		stdout => \$out, stderr => \$err, on_error_die => 1);
	my @p;
	while ($out =~ /Asynchronous notification "eventsinsert" with payload "(.*?)" received from server process/g)
	{
		push @p, $1;
	}
	return @p;
}

# 1: slate's payload, compared with what slate's trigger would have built
my @p = payloads(q{SELECT insert_events($$($1[1], $2, '{"entityName": "a", "n": 1}'), ($1[2], $2, '{"it''s": "q\"uoted"}')$$);});
is(scalar @p, 2, 'one notification per row');
my $slate = $node->safe_psql('postgres', q{
	SELECT string_agg(json_build_object('table', 'events', 'id', id, 'event', event)::text, E'\n' ORDER BY id)
	FROM events});
is(join("\n", @p), $slate, 'payloads are exactly slate\'s json_build_object text');

# 2: a 1 MB event, and events around the size limit
my $mb = 1024 * 1024;
@p = payloads(qq{SELECT last_id FROM append_events(ARRAY[
	jsonb_build_object('blob', repeat('x', $mb)),
	jsonb_build_object('blob', repeat('y', 7900)),
	jsonb_build_object('blob', repeat('z', 7940)),
	jsonb_build_object('blob', repeat('w', 7960)),
	'{"small": true}']);});
is(scalar @p, 5, 'five notifications for five events');
is($p[0], '{"table" : "events", "id" : 3, "truncated" : true}', '1 MB event: id only, marked truncated');
like($p[1], qr/^\{"table" : "events", "id" : 4, "event" : \{"blob": "y{7900}"\}\}$/, 'an event that fits is sent whole');
ok((grep { length($_) >= 8000 } @p) == 0, 'no payload reaches 8000 bytes');
ok((grep { /"truncated" : true/ } @p[2..3]) >= 1, 'an event just over the limit is truncated');
is($p[4], '{"table" : "events", "id" : 7, "event" : {"small": true}}', 'small events after a big one are whole');
is($node->safe_psql('postgres', "SELECT length(event ->> 'blob') FROM events WHERE id = 3"),
	$mb, 'the 1 MB event is stored whole');

# 3: nothing for a rolled-back insert
@p = payloads(q{BEGIN; SELECT insert_events($$($1[1], $2, '{}')$$); ROLLBACK;});
is(scalar @p, 0, 'no notification for a rolled-back insert');

# 4: per statement
$node->safe_psql('postgres', q{SELECT set_event_store_notify('events', 'statement')});
@p = payloads(q{SELECT insert_events($$($1[1], $2, '{}'), ($1[2], $2, '{}'), ($1[3], $2, '{}')$$);});
is_deeply(\@p, ['{"table" : "events", "id" : 8, "last_id" : 10, "count" : 3}'],
	'statement mode: one notification with the id range');

# 5: none
$node->safe_psql('postgres', q{SELECT set_event_store_notify('events', 'none')});
@p = payloads(q{SELECT insert_events($$($1[1], $2, '{}')$$);});
is(scalar @p, 0, 'none mode: no notification');

# 6: back to rows
$node->safe_psql('postgres', q{SELECT set_event_store_notify('events', 'row')});
@p = payloads(q{SELECT insert_events($$($1[1], $2, '{"n": 12}')$$);});
is_deeply(\@p, ['{"table" : "events", "id" : 12, "event" : {"n": 12}}'], 'row mode again');

# 7: the limit is in bytes: in UTF-8, 3990 two-byte characters (7980
# bytes) do not fit, 3900 (7800 bytes) do
$node->safe_psql('postgres', q{CREATE DATABASE utf8 ENCODING 'UTF8' LOCALE 'C' TEMPLATE template0});
$node->safe_psql('utf8', q{CREATE EXTENSION schema_mgr; SELECT create_event_store('source')});
local $ENV{PGCLIENTENCODING} = 'UTF8';
@p = payloads(q{SELECT last_id FROM append_events(ARRAY[
	jsonb_build_object('blob', repeat(U&'\00E9', 3990)),
	jsonb_build_object('blob', repeat(U&'\00E9', 3900))]);}, 'utf8');
is($p[0], '{"table" : "events", "id" : 1, "truncated" : true}',
	'7980 bytes of two-byte characters: truncated');
like($p[1], qr/^\{"table" : "events", "id" : 2, "event" : \{"blob": "(\xc3\xa9){3900}"\}\}$/,
	'7800 bytes of two-byte characters: sent whole');

# 8: large calls, whose payloads NOTIFY keeps in a context of their own
# and which are read back from the table when the call's array is freed:
# the text call, the typed call with an array read from a table (a copy
# of its own) and with an array given in the statement; in a savepoint
# that is released, and in one that is rolled back
my $before = $node->safe_psql('postgres', 'SELECT max(id) FROM events');
$node->safe_psql('postgres', q{CREATE TABLE big AS
	SELECT string_agg(format('($1[%s], $2, %L)', g, jsonb_build_object('n', g, 'pad', repeat('p', g))), ', ' ORDER BY g) AS v,
		array_agg(jsonb_build_object('m', g) ORDER BY g) AS a
	FROM generate_series(1, 300) g});
@p = payloads(q{
	SELECT insert_events(v) FROM big;
	SELECT last_id FROM big, append_events(big.a);
	BEGIN;
	SAVEPOINT s;
	SELECT last_id FROM append_events(ARRAY(SELECT jsonb_build_object('k', g) FROM generate_series(1, 100) g));
	RELEASE s;
	SAVEPOINT t;
	SELECT insert_events(v) FROM big;
	ROLLBACK TO t;
	COMMIT;});
$slate = $node->safe_psql('postgres', qq{
	SELECT string_agg(json_build_object('table', 'events', 'id', id, 'event', event)::text, E'\\n' ORDER BY id)
	FROM events WHERE id > $before});
is(scalar @p, 700, 'large calls: one notification per row, none from the rolled-back savepoint');
is(join("\n", @p), $slate, 'large calls: payloads are exactly slate\'s, in id order');

$node->stop;
done_testing();
