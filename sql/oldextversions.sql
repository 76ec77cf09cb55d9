--
-- Upgrades.  A 1.0 installation in use (two migration chains, a baseline,
-- a source and a destination event store) is updated with ALTER EXTENSION
-- UPDATE; its history, registry and events are all still there and every
-- function still works on them.  Then a fresh CREATE EXTENSION of the
-- current version is compared with the updated one, catalog by catalog.
--
-- run as a superuser of the test's own, so that the roles it shows are the
-- same whatever the cluster's bootstrap superuser is called
CREATE ROLE sm_admin SUPERUSER;
SET SESSION AUTHORIZATION sm_admin;
CREATE EXTENSION schema_mgr VERSION '1.0';
SELECT extversion FROM pg_extension WHERE extname = 'schema_mgr';

-- a 1.0 installation in use
SELECT register_migration('shop', 1, 'create orders',
                          'CREATE TABLE orders (id bigint PRIMARY KEY)');
SELECT register_migration('shop', 2, 'add total',
                          'ALTER TABLE orders ADD COLUMN total numeric');
SELECT register_migration('billing', 1, 'create invoices',
                          'CREATE TABLE invoices (id bigint PRIMARY KEY)');
SELECT component, version, outcome FROM apply_migrations();
SELECT register_migration('billing', 2, 'add invoices.due',
                          'ALTER TABLE invoices ADD COLUMN due date');
CREATE TABLE legacy_made_by_hand (id int);
-- registered by roles that still exist at the update, and by one that not
CREATE ROLE sm_old_deployer;
CREATE ROLE sm_gone;
GRANT EXECUTE ON FUNCTION register_migration(text, bigint, text, text) TO sm_old_deployer, sm_gone;
GRANT CREATE ON SCHEMA public TO sm_old_deployer, sm_gone;
SET ROLE sm_old_deployer;
SELECT register_migration('team', 1, 'create team', 'CREATE TABLE public.team (id int)');
RESET ROLE;
SET ROLE sm_gone;
SELECT register_migration('team', 2, 'add name', 'ALTER TABLE public.team ADD name text');
RESET ROLE;
REVOKE EXECUTE ON FUNCTION register_migration(text, bigint, text, text) FROM sm_old_deployer;
DROP OWNED BY sm_gone;
DROP ROLE sm_gone;
SELECT register_migration('legacy', 1, 'made by hand', 'CREATE TABLE legacy_made_by_hand (id int)');
SELECT * FROM baseline('legacy', 1);
-- 1.0 took component names of any length (1.1 refuses new ones over 200
-- bytes, which messages could not show whole): one registered by 1.0
SELECT register_migration('long', 1, 'long name', 'SELECT 1');
UPDATE migration SET component = repeat('l', 201) WHERE component = 'long';
SELECT create_event_store('source');
SELECT insert_events($$($1[1], $2, '{"entityName": "order", "operation": "create"}'),
                       ($1[2], $2, '{"entityName": "order", "operation": "pay"}')$$);
SELECT first_id, last_id FROM insert_events(ARRAY['{"entityName": "order"}']::jsonb[]);
CREATE SCHEMA backup;
SELECT create_event_store('destination', 'backup', notify => 'none');
INSERT INTO backup.events SELECT * FROM events;
CREATE TEMP TABLE history_before AS
    SELECT component, version, description, applied_at, checksum, applied_by, kind
    FROM schema_version;
CREATE TEMP TABLE events_before AS SELECT * FROM events;
-- the 1.0 directory loader skips a file it cannot interpret, with a notice
\getenv abs_srcdir PG_ABS_SRCDIR
\set fixtures :abs_srcdir '/test/fixtures'
SELECT * FROM register_migrations_from_directory('loaded', :'fixtures' || '/events');

ALTER EXTENSION schema_mgr UPDATE;
SELECT extversion FROM pg_extension WHERE extname = 'schema_mgr';
-- and so does its two-argument form after the update
SELECT * FROM register_migrations_from_directory('loaded', :'fixtures' || '/events');
-- the long component can still be named
SELECT register_migration(repeat('l', 201), 2, 'longer', 'SELECT 2');
SELECT version, status FROM migration_status(repeat('l', 201));
-- (and it leaves, to keep the listings below short)
DELETE FROM migration WHERE component = repeat('l', 201);
DELETE FROM component WHERE component = repeat('l', 201);

-- nothing was lost
SELECT count(*) AS history_lost FROM (
    SELECT component, version, description, applied_at, checksum, applied_by, kind
    FROM history_before
    EXCEPT
    SELECT component, version, description, applied_at, checksum, applied_by, kind
    FROM schema_version) lost;
-- the history log starts with the 1.0 history, row for row
SELECT count(*) AS log_missing FROM (
    SELECT component, version, description, applied_at, checksum, applied_by,
           CASE kind WHEN 'run' THEN 'apply' ELSE kind END
    FROM history_before
    EXCEPT
    SELECT component, version, description, performed_at, checksum, performed_by, action
    FROM migration_history) missing;
SELECT action, count(*) FROM migration_history GROUP BY 1 ORDER BY 1;
SELECT count(*) AS events_lost FROM (
    SELECT * FROM events_before EXCEPT SELECT * FROM events) lost;
SELECT count(*) AS backup_rows FROM backup.events;
SELECT relid, kind, notify FROM event_store ORDER BY relid::text;
-- 1.0 stores commit as they did
SELECT relid, commit_mode FROM event_store ORDER BY relid::text;
-- the DROP guard fires in replica mode too
SELECT evtenabled FROM pg_event_trigger WHERE evtname = 'schema_mgr_guard_drop';

-- components got owners (their earliest registrant that still exists),
-- registrants their oids (a role that no longer exists has none)
SELECT component, owner_name, owner = owner_name::regrole AS same_role
FROM component ORDER BY component;
SELECT m.component, m.version, m.registered_by, m.registrant IS NOT NULL AS known,
       m.registrant IS NOT DISTINCT FROM r.oid AS same_role
FROM migration m LEFT JOIN pg_roles r ON r.rolname = m.registered_by
ORDER BY m.component, m.version;

-- and everything still works on the old data
SELECT component, version, status FROM migration_status() ORDER BY 1, 2;
-- a superuser applies a less privileged role's migration once it approved
-- it; one whose registrant is gone needs an approval whoever applies it
SELECT component, version, outcome FROM apply_migrations();
SELECT approve_migration('team', 1, checksum) FROM migration_sql('team') WHERE version = 1;
SELECT component, version, outcome FROM apply_migrations();
SELECT approve_migration('team', 2, checksum) FROM migration_sql('team') WHERE version = 2;
SELECT component, version, outcome FROM apply_migrations();
SELECT current_version('billing'), current_version('shop'), current_version('legacy');
SELECT component, version, outcome FROM apply_migrations();
SELECT register_migration('shop', 2, 'add total',
                          'ALTER TABLE orders ADD COLUMN total numeric');
-- a chain of the 1.0 registry applies one transaction per migration
SELECT register_migration('shop', 3, 'add placed_at',
                          'ALTER TABLE orders ADD COLUMN placed_at timestamptz');
SELECT register_migration('shop', 4, 'index placed_at',
                          'CREATE INDEX ON orders (placed_at)');
CALL apply_migrations_stepwise('shop');
SELECT version, status FROM migration_status('shop');
-- 1.0 migrations get undo SQL and are reverted; repeatable migrations
SELECT register_migration('shop', 4, 'index placed_at',
                          'CREATE INDEX ON orders (placed_at)',
                          undo => 'DROP INDEX orders_placed_at_idx');
SELECT version, outcome FROM revert_migrations('shop', 3);
SELECT register_migration('shop', NULL, 'order view', 'CREATE VIEW order_ids AS SELECT id FROM orders');
SELECT component, version, description, outcome FROM apply_migrations('shop');
SELECT version, description, status, repeatable, has_undo FROM migration_info('shop');
SELECT component, version, name, action FROM migration_history
WHERE id > (SELECT max(id) - 4 FROM migration_history) ORDER BY id;
SELECT insert_events($$($1[1], $2, '{"entityName": "order", "operation": "ship"}')$$);
SELECT first_id, last_id FROM append_events(ARRAY['{"after": "update"}']::jsonb[]);
-- and a 1.0 store can be switched to grouped commits and back
SELECT set_event_store_commit('events', 'grouped');
SELECT first_id, last_id FROM append_events(ARRAY['{"after": "grouped"}']::jsonb[]);
SELECT set_event_store_commit('events', 'durable');
SELECT array_agg(id ORDER BY id) AS ids FROM events;
DELETE FROM events WHERE id = 1;
-- a 1.0 store gets no view "id" from the update (it would become a member
-- of the extension); the one statement the README gives makes it, and it
-- shows the next id
SELECT to_regclass('public.id') AS id_view;
CREATE VIEW public.id AS SELECT event_store_next_id('public.events') AS id;
SELECT id FROM id;
DROP VIEW public.id;
-- the 1.0 store's guard now fires in replica mode too
SELECT tgname, tgenabled, tgfoid::regproc FROM pg_trigger WHERE tgrelid = 'events'::regclass ORDER BY 1;
SET session_replication_role = replica;
INSERT INTO events VALUES (100, now(), '{}');
RESET session_replication_role;

-- The updated installation and a fresh one have the same objects with the
-- same definitions: every member of the extension, described from the
-- catalogs.
CREATE TEMP VIEW extension_objects AS
WITH members AS (
    SELECT d.classid, d.objid
    FROM pg_depend d JOIN pg_extension e ON d.refobjid = e.oid
    WHERE d.refclassid = 'pg_extension'::regclass AND d.deptype = 'e'
      AND e.extname = 'schema_mgr')
SELECT pg_describe_object(m.classid, m.objid, 0) AS object,
       CASE m.classid
       WHEN 'pg_proc'::regclass THEN
           (SELECT pg_get_functiondef(p.oid) || coalesce(p.proacl::text, '')
            FROM pg_proc p WHERE p.oid = m.objid)
       WHEN 'pg_class'::regclass THEN
           (SELECT c.relkind::text || coalesce(c.relacl::text, '') || coalesce(
                (SELECT string_agg(a.attname || ' ' || format_type(a.atttypid, a.atttypmod)
                        || CASE WHEN a.attnotnull THEN ' not null' ELSE '' END
                        || coalesce(' default ' || pg_get_expr(ad.adbin, ad.adrelid), '')
                        || a.attgenerated::text, ', ' ORDER BY a.attnum)
                 FROM pg_attribute a
                 LEFT JOIN pg_attrdef ad ON ad.adrelid = a.attrelid AND ad.adnum = a.attnum
                 WHERE a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped), '')
                || coalesce((SELECT string_agg(pg_get_indexdef(i.indexrelid), '; ' ORDER BY pg_get_indexdef(i.indexrelid))
                             FROM pg_index i WHERE i.indrelid = c.oid), '')
                || coalesce((SELECT string_agg(pg_get_constraintdef(k.oid), '; ' ORDER BY pg_get_constraintdef(k.oid))
                             FROM pg_constraint k WHERE k.conrelid = c.oid), '')
                || coalesce((SELECT string_agg(pg_get_triggerdef(t.oid), '; ' ORDER BY pg_get_triggerdef(t.oid))
                             FROM pg_trigger t WHERE t.tgrelid = c.oid), '')
                || coalesce(pg_get_viewdef(c.oid), '')
            FROM pg_class c WHERE c.oid = m.objid)
       WHEN 'pg_event_trigger'::regclass THEN
           (SELECT t.evtevent || ' ' || t.evtfoid::regprocedure || ' ' || t.evtenabled::text
                   || coalesce(t.evttags::text, '')
            FROM pg_event_trigger t WHERE t.oid = m.objid)
       WHEN 'pg_type'::regclass THEN
           (SELECT format_type(t.oid, NULL) || t.typtype::text FROM pg_type t WHERE t.oid = m.objid)
       ELSE '' END AS definition
FROM members m
UNION ALL
SELECT 'extension configuration',
       (SELECT string_agg(c.relname || coalesce(' ' || cond, ''), ', ' ORDER BY c.relname)
        FROM pg_extension e,
             unnest(e.extconfig, e.extcondition) AS x(cfg, cond)
             JOIN pg_class c ON c.oid = x.cfg
        WHERE e.extname = 'schema_mgr');

CREATE TEMP TABLE updated_objects AS SELECT * FROM extension_objects;
SELECT count(*) > 20 AS has_objects FROM updated_objects;
SET client_min_messages = warning;
SET schema_mgr.allow_drop = on;
DROP EXTENSION schema_mgr CASCADE;
RESET schema_mgr.allow_drop;
RESET client_min_messages;
CREATE EXTENSION schema_mgr;
SELECT extversion FROM pg_extension WHERE extname = 'schema_mgr';
SELECT 'only after update' AS side, * FROM
    (SELECT * FROM updated_objects EXCEPT SELECT * FROM extension_objects) a
UNION ALL
SELECT 'only when fresh', * FROM
    (SELECT * FROM extension_objects EXCEPT SELECT * FROM updated_objects) b;

-- clean up
SET schema_mgr.allow_drop = on;
DROP EXTENSION schema_mgr;
RESET schema_mgr.allow_drop;
DROP VIEW order_ids, extension_objects;
DROP TABLE history_before, events_before, updated_objects;
DROP TABLE events, backup.events, orders, invoices, legacy_made_by_hand, team;
REVOKE ALL ON SCHEMA public FROM sm_old_deployer;
DROP ROLE sm_old_deployer;
DROP SCHEMA backup;
RESET SESSION AUTHORIZATION;
DROP ROLE sm_admin;
