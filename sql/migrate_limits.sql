--
-- Limits and blame: hints that can be followed at the largest version, and
-- failures of schema_mgr's own bookkeeping not blamed on a statement.
-- (Lock table limits: test/t/025_migrate_limits.pl.)
--
CREATE EXTENSION schema_mgr;

-- an out-of-order migration under the largest version there is
SELECT register_migration('lim', 9223372036854775807, 'last', 'SELECT 1');
SELECT component, version, outcome FROM apply_migrations('lim');
SELECT register_migration('lim', 5, 'late', 'SELECT 5');
SELECT component, version, outcome FROM apply_migrations('lim');

-- the history refuses the row: the error says it happened while recording
ALTER TABLE schema_version ADD CONSTRAINT no_boom
    CHECK (description OPERATOR(pg_catalog.<>) 'boom');
SELECT register_migration('rec', 1, 'boom', 'CREATE TABLE rec_t (a int)');
DO $$
DECLARE
    msg text;
    ctx text;
BEGIN
    PERFORM * FROM apply_migrations('rec');
EXCEPTION WHEN check_violation THEN
    GET STACKED DIAGNOSTICS msg = MESSAGE_TEXT, ctx = PG_EXCEPTION_CONTEXT;
    RAISE NOTICE 'error: %', msg;
    RAISE NOTICE 'where: %', (SELECT string_agg(l, ' / ')
                              FROM regexp_split_to_table(ctx, E'\n') l
                              WHERE l LIKE '%migration "rec"%');
END
$$;
SELECT component, version, outcome, error FROM apply_migrations('rec', dry_run => true);
ALTER TABLE schema_version DROP CONSTRAINT no_boom;
SELECT to_regclass('rec_t') AS rolled_back;

SET schema_mgr.allow_drop = on;
DROP EXTENSION schema_mgr;
RESET schema_mgr.allow_drop;
