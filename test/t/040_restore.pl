# restore_events across two clusters on loopback: a full restore (slate's
# named-parameter call and the password-free forms), every refused
# precondition, wrong connection details without leaking the password, a
# cancel midway that leaves the target empty, and the next id afterwards.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use SchemaMgrTest;

my $N = 300000;
my $password = 'Pa55-w0rd_not-in-logs';
my $wrong_password = 'Wr0ng-pa55_not-in-logs';
my $uri_password = 'Ur1-pa55_not-in-logs';

my $backup = sm_new_node('backup');
my $target = sm_new_node('target');
my $bport = $backup->port;

# the backup server: a slate backup database, and some broken ones
sm_make_backup($backup, 'backup', $N);
sm_make_backup($backup, 'gap', 10);
$backup->safe_psql('gap', 'DELETE FROM events WHERE id = 4; INSERT INTO events SELECT 11, ts, event FROM events WHERE id = 10');
sm_make_backup($backup, 'dup', 10, pk => 0);
$backup->safe_psql('dup', 'DELETE FROM events WHERE id = 10; INSERT INTO events SELECT 10, ts, event FROM events WHERE id = 5; UPDATE events SET id = 10 WHERE id = 9 AND false');
# ids 1..9 and a second 5: count 10 <> max 9 is caught already, so make
# count = max with a duplicate: 1..8, 5 again, 10
$backup->safe_psql('dup', 'DELETE FROM events WHERE id = 9; INSERT INTO events SELECT 10, ts, event FROM events WHERE id = 1 LIMIT 1');
sm_make_backup($backup, 'nullid', 3, pk => 0);
$backup->safe_psql('nullid', 'ALTER TABLE events ALTER id DROP NOT NULL; INSERT INTO events SELECT NULL, ts, event FROM events WHERE id = 1');
sm_make_backup($backup, 'nullts', 3);
$backup->safe_psql('nullts', 'ALTER TABLE events ALTER ts DROP NOT NULL; UPDATE events SET ts = NULL WHERE id = 2');
sm_make_backup($backup, 'nullevent', 3);
$backup->safe_psql('nullevent', 'ALTER TABLE events ALTER event DROP NOT NULL; UPDATE events SET event = NULL WHERE id >= 2');
sm_make_backup($backup, 'empty', 0);
$backup->safe_psql('postgres', "CREATE ROLE bob LOGIN PASSWORD '$password'");
for my $db (qw(backup gap dup nullid nullts nullevent empty))
{
	$backup->safe_psql($db, 'GRANT SELECT ON events TO bob');
}
sm_set_password_auth($backup, 'bob');

is($backup->safe_psql('dup', 'SELECT count(*), min(id), max(id), count(DISTINCT id) FROM events'),
	'10|1|10|9', 'the duplicate backup has count = max and min 1');

# ---------------------------------------------------------------- restore
sm_new_store_db($target, 'restored', 'source');

my ($ret, $out, $err) = $target->psql('restored', qq{
LISTEN eventsinsert;
SELECT rows_restored, next_insert_id FROM restore_events(
  fromHost := '127.0.0.1', fromDatabase := 'backup',
  fromDatabaseUser := 'bob', fromDatabasePassword := '$password',
  fromPort := $bport);
});
is($ret, 0, 'slate-style named call succeeds');
is($out, "$N|" . ($N + 1), 'rows_restored and next_insert_id');
unlike($out, qr/Asynchronous notification/, 'no notifications while restoring');
like($err, qr/NOTICE:  restored 100000 of $N events/, 'progress notices');
is($target->safe_psql('restored', 'SELECT count(*), min(id), max(id) FROM events'),
	"$N|1|$N", 'the store holds 1..N');
is($target->safe_psql('restored',
	"SELECT count(*) FROM pg_indexes WHERE tablename = 'events' AND schemaname = 'public'"),
	'7', 'primary key and the six slate indexes are all there');
is($target->safe_psql('restored',
	"SELECT equal, local_max_id, remote_max_id FROM compare_events('"
	  . sm_tcp_connstr($backup, 'backup') . "')"),
	"t|$N|$N", 'compare_events finds the restored store equal to the backup');
is($target->safe_psql('restored',
	q{SELECT first_id, last_id FROM append_events(ARRAY['{"after": "restore"}'::jsonb, '{"n": 2}'])}),
	($N + 1) . '|' . ($N + 2), 'the next inserted event gets id N+1');

# ---------------------------------------------------------------- refused
sub restore_error
{
	my ($db, $connstr) = @_;
	my ($r, $o, $e) = $target->psql($db,
		"SELECT * FROM restore_events_from('$connstr')");
	return $e;
}

like(restore_error('restored', sm_tcp_connstr($backup, 'backup')),
	qr/event store "public.events" is not empty/, 'restore into a non-empty store is refused');

sm_new_store_db($target, 'fresh', 'source');
like(restore_error('fresh', sm_tcp_connstr($backup, 'gap')),
	qr/the backup's event ids are not 1 to 10.*ids from 1 to 11/s, 'a backup with a gap is refused');
like(restore_error('fresh', sm_tcp_connstr($backup, 'dup')),
	qr/the backup has duplicate event ids.*10 events but only 9 distinct ids/s,
	'a backup with a duplicate id is refused');
like(restore_error('fresh', sm_tcp_connstr($backup, 'nullid')),
	qr/the backup has events without an id/, 'a backup with a null id is refused');
like(restore_error('fresh', sm_tcp_connstr($backup, 'nullts')),
	qr/ERROR:  the event with id 2 in the backup database has a null ts\n.*DETAIL:  Table public.events in the backup database has 1 row with a null ts\.\n.*HINT:  Correct that event/s,
	'a backup with a null ts is refused, naming the id and the column');
like(restore_error('fresh', sm_tcp_connstr($backup, 'nullevent')),
	qr/ERROR:  the event with id 2 in the backup database has a null event\n.*DETAIL:  Table public.events in the backup database has 2 rows with a null event\./s,
	'a backup with a null event is refused, naming the first id');
like(restore_error('fresh', sm_tcp_connstr($backup, 'empty')),
	qr/the backup has no events/, 'an empty backup is refused');
like(restore_error('fresh', sm_tcp_connstr($backup, 'backup') . "' , remote_table := 'nope"),
	qr/table "nope" does not exist in the backup database/, 'a missing remote table is named');
is($target->safe_psql('fresh', 'SELECT count(*) FROM events'), '0',
	'nothing was written by the refused restores');

# ------------------------------------------- connection errors, no password
sub slate_call
{
	my (%a) = @_;
	my ($r, $o, $e) = $target->psql('fresh', qq{
SELECT * FROM restore_events(fromHost := '$a{host}', fromDatabase := '$a{db}',
  fromDatabaseUser := '$a{user}', fromDatabasePassword := '$a{pw}',
  fromPort := $a{port})});
	return $e;
}

my %good = (host => '127.0.0.1', db => 'backup', user => 'bob', pw => $password, port => $bport);
$err = slate_call(%good, pw => $wrong_password);
like($err, qr/could not connect to the backup database \(host "127.0.0.1", port $bport, database "backup", user "bob"\)/,
	'wrong password: says which server, database and user');
like($err, qr/password authentication failed for user "bob"/, 'wrong password: says why');
like($err, qr/HINT:  Check the user name and the password/, 'wrong password: hint');
unlike($err, qr/\Q$wrong_password\E/, 'wrong password: not in the error');
like($err, qr/08001/, 'wrong password: SQLSTATE 08001') if $err =~ /08001/;

$err = slate_call(%good, db => 'nosuchdb');
like($err, qr/database "nosuchdb" does not exist.*Check the database name/s, 'wrong database is said clearly');
$err = slate_call(%good, user => 'nosuchuser');
like($err, qr/user "nosuchuser"/, 'wrong user is named');
my $closed_port = PostgreSQL::Test::Cluster::get_free_port();
$err = slate_call(%good, port => $closed_port);
like($err, qr/Connection refused.*Check the host name and port/s, 'wrong host or port is said clearly');
$err = slate_call(%good, host => 'no-such-host.invalid');
like($err, qr/no-such-host.invalid.*Check the host name/s, 'unknown host is said clearly');

# a value cannot smuggle in another connection keyword
$err = slate_call(%good, db => 'backup dbname=gap sslmode=disable');
like($err, qr/database "backup dbname=gap sslmode=disable" does not exist/,
	'the slate form quotes each value as a whole');

# a host that accepts the TCP connection and then says nothing: the
# connection string form gives up after connect_timeout (15 s unless the
# string sets it), as the slate form does, rather than hang uncancellably
use IO::Socket::INET;
my $silent_port = PostgreSQL::Test::Cluster::get_free_port();
my $silent = IO::Socket::INET->new(LocalAddr => '127.0.0.1', LocalPort => $silent_port,
	Proto => 'tcp', Listen => 5, ReuseAddr => 1) or die "listen: $!";
($ret, $out, $err) = $target->psql('fresh',
	"SELECT * FROM restore_events_from('host=127.0.0.1 port=$silent_port dbname=backup')",
	timeout => 90);
like($err, qr/could not connect to the backup database.*timeout expired/s,
	'a silent host: the connection attempt times out');
close($silent);

# errors before connecting do not log the statement (with its password) either
like(slate_call(%good, host => ''), qr/fromHost must not be empty/, 'argument error in the slate form');
($ret, $out, $err) = $target->psql('restored', qq{
SELECT * FROM restore_events(fromHost := '127.0.0.1', fromDatabase := 'backup',
  fromDatabaseUser := 'bob', fromDatabasePassword := '$password', fromPort := $bport)});
like($err, qr/is not empty/, 'precondition error in the slate form');

# the password-free form with a password in the connection string: scrubbed
$err = restore_error('fresh', sm_tcp_connstr($backup, 'backup', user => 'bob', password => $wrong_password));
like($err, qr/password authentication failed/, 'connection string form: reason given');
unlike($err, qr/\Q$wrong_password\E/, 'connection string form: password not in the error');

# a password in a URI (parameter or userinfo), and argument errors raised
# before connecting: no error logs the statement, which holds the password
my $uri = "postgresql://bob\@127.0.0.1:$bport/backup";
like(restore_error('restored', "$uri?password=$uri_password"),
	qr/is not empty/, 'URI with a password parameter: precondition error');
($ret, $out, $err) = $target->psql('fresh', "SELECT * FROM restore_events_from('"
	  . sm_tcp_connstr($backup, 'backup', user => 'bob', password => $uri_password)
	  . "', remote_table := 'a.b.c')");
like($err, qr/remote_table is not a valid table name/, 'connection string form: argument error');
($ret, $out, $err) = $target->psql('fresh',
	"SELECT * FROM compare_events('postgresql://bob:$uri_password\@127.0.0.1:$bport/backup', remote_table := '')");
like($err, qr/remote_table must not be empty/, 'URI with userinfo: argument error');

# --------------------------------------- password-free: a foreign server
sm_new_store_db($target, 'viaserver', 'source');
$target->safe_psql('viaserver', qq{
CREATE SERVER backup_srv FOREIGN DATA WRAPPER dblink_fdw
  OPTIONS (host '127.0.0.1', port '$bport', dbname 'backup');
CREATE USER MAPPING FOR PUBLIC SERVER backup_srv OPTIONS (user 'bob', password '$password');
CREATE ROLE restorer LOGIN;
GRANT USAGE ON FOREIGN SERVER backup_srv TO restorer;
GRANT INSERT ON events TO restorer;
});
($ret, $out, $err) = $target->psql('viaserver',
	"SET ROLE restorer; SELECT * FROM restore_events_from('backup_srv')");
like($err, qr/permission denied for function restore_events_from/,
	'restore_events_from is not executable by PUBLIC');
$target->safe_psql('viaserver', 'GRANT EXECUTE ON FUNCTION restore_events_from(text, regclass, text) TO restorer');
# a restore reads the store too: INSERT alone is not enough
($ret, $out, $err) = $target->psql('viaserver',
	"SET ROLE restorer; SELECT * FROM restore_events_from('backup_srv')");
like($err, qr/permission denied for table events/, 'a restore needs SELECT on the store as well as INSERT');
$target->safe_psql('viaserver', 'GRANT SELECT ON events TO restorer');
is($target->safe_psql('viaserver',
	"SET ROLE restorer; SELECT * FROM restore_events_from('backup_srv')"),
	"$N|" . ($N + 1), 'a granted non-superuser restores through a foreign server and user mapping');
is($target->safe_psql('viaserver', 'SELECT count(*), max(id) FROM events'), "$N|$N",
	'restored through the foreign server');
# comparing only reads the store
$target->safe_psql('viaserver', q{
CREATE ROLE checker LOGIN;
GRANT USAGE ON FOREIGN SERVER backup_srv TO checker;
GRANT SELECT ON events TO checker;
GRANT EXECUTE ON FUNCTION compare_events(text, regclass, text) TO checker;
});
is($target->safe_psql('viaserver',
	"SET ROLE checker; SELECT equal, local_max_id FROM compare_events('backup_srv')"),
	"t|$N", 'a role with SELECT on the store may compare it');

# ------------------------------------- named store, qualified remote table
sm_make_backup($backup, 'small', 1000);
$backup->safe_psql('small', 'CREATE SCHEMA arch; ALTER TABLE events SET SCHEMA arch');
$target->safe_psql('postgres', 'CREATE DATABASE named');
$target->safe_psql('named', q{
CREATE EXTENSION dblink; CREATE EXTENSION schema_mgr;
CREATE SCHEMA a; CREATE SCHEMA b;
SELECT create_event_store('source', 'a'); SELECT create_event_store('source', 'b');
});
like(restore_error('named', sm_tcp_connstr($backup, 'small')),
	qr/more than one source event store exists in this database.*HINT:  Name the store with the store argument/s,
	'with two source stores the store must be named');
is($target->safe_psql('named', "SELECT * FROM restore_events_from('"
	  . sm_tcp_connstr($backup, 'small') . "', 'b.events', remote_table := 'arch.events')"),
	'1000|1001', 'restore into a named store from a qualified remote table');
is($target->safe_psql('named', 'SELECT (SELECT count(*) FROM a.events), (SELECT count(*) FROM b.events)'),
	'0|1000', 'only the named store was written');
is($target->safe_psql('named', q{SELECT first_id FROM append_events(ARRAY['{}'::jsonb], 'b.events')}),
	'1001', 'the named store continues at N+1');

# ------------------------- indexes come back exactly as they were
# The load drops and rebuilds the store's indexes; one in a tablespace of
# its own, one with a comment, a storage parameter, a commented primary
# key and the caller's default_tablespace must not change any of them.
my $tsdir = PostgreSQL::Test::Utils::tempdir();
$target->safe_psql('postgres', "CREATE TABLESPACE elsewhere LOCATION '$tsdir'");
sm_new_store_db($target, 'indexes', 'source');
$target->safe_psql('indexes', q{
CREATE INDEX events_ts_elsewhere ON events (ts) TABLESPACE elsewhere;
CREATE INDEX events_ff ON events (id DESC) WITH (fillfactor = 70);
COMMENT ON INDEX events_ff IS 'an index with a comment';
COMMENT ON CONSTRAINT events_pkey ON events IS 'the primary key';
});
my $index_sql = q{
SELECT string_agg(c.relname || ' ' || coalesce(t.spcname, '-') || ' ' || pg_get_indexdef(c.oid)
                  || ' ' || coalesce(obj_description(c.oid, 'pg_class'), '-'), E'\n' ORDER BY c.relname)
       || E'\n' || (SELECT string_agg(conname || ' ' || coalesce(obj_description(oid, 'pg_constraint'), '-'), ',')
                    FROM pg_constraint WHERE conrelid = 'events'::regclass)
FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid
LEFT JOIN pg_tablespace t ON t.oid = c.reltablespace
WHERE i.indrelid = 'events'::regclass};
my $indexes_before = $target->safe_psql('indexes', $index_sql);
is($target->safe_psql('indexes', "SET default_tablespace = elsewhere; SET client_min_messages = warning;
SELECT * FROM restore_events_from('" . sm_tcp_connstr($backup, 'small') . "', remote_table := 'arch.events')"),
	'1000|1001', 'restore into a store with extra indexes');
is($target->safe_psql('indexes', $index_sql), $indexes_before,
	'names, definitions, tablespaces and comments of the indexes are unchanged');

# ------------------------------------- post-conditions after the copy
# a trigger on the store that skips rows: refused (a BEFORE INSERT row
# trigger could change what is stored), the restore leaves nothing behind
sm_new_store_db($target, 'skipping', 'source');
$target->safe_psql('skipping', q{
CREATE FUNCTION skip_even() RETURNS trigger LANGUAGE plpgsql AS
$$BEGIN IF NEW.id % 2 = 0 THEN RETURN NULL; END IF; RETURN NEW; END$$;
CREATE TRIGGER skip_even BEFORE INSERT ON events FOR EACH ROW EXECUTE FUNCTION skip_even();
});
($ret, $out, $err) = $target->psql('skipping', "SELECT * FROM restore_events_from('"
	  . sm_tcp_connstr($backup, 'small') . "', remote_table := 'arch.events')");
like($err, qr/event store "public.events" has a trigger that can change the events written to it.*Trigger "skip_even"/ms,
	'a BEFORE INSERT row trigger that could skip or change rows is refused before anything is copied');
is($target->safe_psql('skipping', 'SELECT count(*) FROM events'), '0',
	'a restore that fails its post-conditions leaves the store empty');

# ------------------------------------------------------- cancel midway
sm_new_store_db($target, 'cancelled', 'source');
my $bg = $target->background_psql('cancelled', on_error_stop => 0);
$bg->query_safe('SET schema_mgr.restore_batch_size = 100');
my $bpid = $bg->query_safe('SELECT pg_backend_pid()');
$bg->query_until(qr/started/, "\\echo started\nSELECT * FROM restore_events_from('"
	  . sm_tcp_connstr($backup, 'backup') . "');\n");
# wait until rows are arriving (the store's allocator lock is held and
# the backup serves the restoring connection), then cancel
$target->poll_query_until('cancelled', qq{
SELECT count(*) > 0 FROM pg_locks
WHERE pid = $bpid AND locktype = 'advisory' AND classid = x'534D4556'::int::oid})
  or die 'the restore did not start';
$backup->poll_query_until('backup',
	"SELECT count(*) > 0 FROM pg_stat_activity WHERE datname = 'backup' AND application_name = 'schema_mgr'")
  or die 'the backup is not being read';
sleep(1);
$target->safe_psql('postgres', "SELECT pg_cancel_backend($bpid)");
($out, $ret) = $bg->query('SELECT count(*) FROM events');
like($bg->{stderr}, qr/canceling statement due to user request/, 'the restore was cancelled');
is($out, '0', 'a cancelled restore leaves the target empty');
$bg->{stderr} = '';
is($bg->query_safe('SELECT coalesce(array_length(dblink_get_connections(), 1), 0)'), '0',
	'the dblink connection was closed');
$backup->poll_query_until('backup',
	"SELECT count(*) = 0 FROM pg_stat_activity WHERE datname = 'backup' AND pid <> pg_backend_pid()")
  or fail('the remote session was not closed');
$bg->query_safe('RESET schema_mgr.restore_batch_size');
$bg->query_safe('SET client_min_messages = warning');
is($bg->query_safe("SELECT * FROM restore_events_from('" . sm_tcp_connstr($backup, 'backup') . "')"),
	"$N|" . ($N + 1), 'the same store restores fine after the cancel');
$bg->quit;

# ------------------------------------ a backup that ends idle transactions
# A backup server may end sessions that stay idle in a transaction (here
# after 1 s).  The restore keeps its one remote transaction open while this
# side rebuilds the indexes, which takes minutes for a large store, and
# then checks the first and last rows against the backup: that wait must
# not cost the restore its connection.  An event trigger holds the restore
# in the rebuild until the remote session has been idle well past the
# backup's timeout.
sm_make_backup($backup, 'idle', 1000);
$backup->safe_psql('postgres',
	"ALTER DATABASE idle SET idle_in_transaction_session_timeout = '1s'");
sm_new_store_db($target, 'slowindex', 'source');
$target->safe_psql('slowindex', q{
CREATE FUNCTION hold_ddl() RETURNS event_trigger LANGUAGE plpgsql AS
  $$BEGIN PERFORM pg_advisory_xact_lock(4242); END$$;
CREATE EVENT TRIGGER hold_ddl ON ddl_command_start
  WHEN TAG IN ('CREATE INDEX') EXECUTE FUNCTION hold_ddl();
});
my $holder = $target->background_psql('slowindex');
$holder->query_safe('SELECT pg_advisory_lock(4242)');
$bg = $target->background_psql('slowindex', on_error_stop => 0);
$bg->query_safe('SET client_min_messages = warning');
$bg->query_until(qr/started/, "\\echo started\nSELECT * FROM restore_events_from('"
	  . sm_tcp_connstr($backup, 'idle') . "');\n");
$target->poll_query_until('slowindex',
	"SELECT count(*) > 0 FROM pg_locks WHERE locktype = 'advisory' AND objid = 4242 AND NOT granted")
  or die 'the restore did not reach the index rebuild';
$backup->poll_query_until('idle', q{
SELECT count(*) = 0
       OR bool_and(state = 'idle in transaction' AND now() - state_change > interval '3 s')
FROM pg_stat_activity WHERE datname = 'idle' AND application_name = 'schema_mgr'})
  or die 'the remote session did not go idle';
$holder->query_safe('SELECT pg_advisory_unlock(4242)');
$out = $bg->query('SELECT count(*), max(id) FROM events');
is($bg->{stderr}, '', 'a restore outlasting the backup\'s idle_in_transaction_session_timeout succeeds');
is($out, "1000|1001\n1000|1000", 'and restores every event');
$bg->quit;
$holder->quit;

# ------------------------------------------------- no password in any log
for my $node ($backup, $target)
{
	my $log = slurp_file($node->logfile);
	unlike($log, qr/\Q$password\E/, $node->name . ': the password is not in the server log');
	unlike($log, qr/\Q$wrong_password\E/, $node->name . ': the wrong password is not in the server log');
	unlike($log, qr/\Q$uri_password\E/, $node->name . ': the URI password is not in the server log');
}

$backup->stop;
$target->stop;
done_testing();
