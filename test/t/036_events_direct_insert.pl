# ----------------------------------------------------------------------
# 036_events_direct_insert.pl -- restore_events may write a source store
# directly (bypassing the allocator), but only while it runs: in the same
# transaction, after the call returns or fails, a plain INSERT into the
# store is refused again by the guard, and insert_events continues the
# sequence.
# ----------------------------------------------------------------------
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use SchemaMgrTest;

my $node = sm_new_node('direct');
sm_make_backup($node, 'backup', 5);
sm_new_store_db($node, 'target', 'source');
# a store whose own constraint refuses the backup's third row: the restore
# passes its checks and fails while it copies the rows
sm_new_store_db($node, 'target2', 'source');
$node->safe_psql('target2',
	'ALTER TABLE events ADD CONSTRAINT not_three CHECK (id OPERATOR(pg_catalog.<>) 3)');
my $backup = sm_tcp_connstr($node, 'backup');

# In one transaction: CALL (a restore), then a direct INSERT into the
# store, then insert_events.  Returns psql's stdout and stderr.
sub call_then_insert
{
	my ($db, $call) = @_;
	my ($ret, $out, $err) = $node->psql($db, qq{
BEGIN;
$call;
SAVEPOINT s;
INSERT INTO events SELECT coalesce(max(id), 0) + 1, now(), '{"direct": true}' FROM events;
ROLLBACK TO SAVEPOINT s;
SELECT first_id FROM append_events(ARRAY['{"by": "insert_events"}']::jsonb[]);
COMMIT;
}, on_error_stop => 0);
	return ($out, $err);
}

my $guard = qr/cannot insert into event store "public.events" directly/;
my $contents = "SELECT count(*), max(id), count(*) FILTER (WHERE event ? 'direct') FROM events";

# after a successful restore
my ($out, $err) = call_then_insert('target',
	"SELECT rows_restored FROM restore_events_from('$backup')");
like($err, $guard, 'a direct INSERT after restore_events in the same transaction is refused');
is($out, "5\n6", 'restore returned 5 rows, insert_events continued at 6');
is($node->safe_psql('target', $contents), '6|6|0',
	'the store holds 1..6 and no directly inserted row');

# after a restore that failed midway, its error caught by the caller
($out, $err) = call_then_insert('target2', qq{DO \$\$
BEGIN
  PERFORM * FROM restore_events_from('$backup');
EXCEPTION WHEN OTHERS THEN
  RAISE NOTICE 'restore failed: %', SQLERRM;
END \$\$});
like($err, qr/NOTICE:  restore failed: .*"not_three"/, 'the restore failed while copying rows');
like($err, $guard, 'a direct INSERT after a failed restore_events in the same transaction is refused');
is($out, '1', 'insert_events starts at 1');
is($node->safe_psql('target2', $contents), '1|1|0',
	'the store holds only the event of insert_events');

$node->stop;
done_testing();
