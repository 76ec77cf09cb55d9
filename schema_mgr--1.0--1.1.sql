-- ----------------------------------------------------------------------
-- schema_mgr--1.0--1.1.sql
--	  Upgrade from 1.0 to 1.1.  A fresh CREATE EXTENSION schema_mgr runs
--	  schema_mgr--1.0.sql and then this script, so both paths end with the
--	  same objects (test: sql/oldextversions.sql).  Everything here must
--	  keep the data of a 1.0 installation working.
-- ----------------------------------------------------------------------
\echo Use "ALTER EXTENSION schema_mgr UPDATE TO '1.1'" to load this file. \quit

-- ----------------------------------------------------------------------
-- Migrations and version tracking
-- ----------------------------------------------------------------------

-- The DROP guard fires with session_replication_role = replica too: event
-- triggers enabled plain ORIGIN are skipped there, and SET
-- session_replication_role = replica; DROP EXTENSION schema_mgr would drop
-- the history unguarded.
ALTER EVENT TRIGGER schema_mgr_guard_drop ENABLE ALWAYS;


-- ----------------------------------------------------------------------
-- Event stores
-- ----------------------------------------------------------------------


-- ----------------------------------------------------------------------
-- Restore, sync and compare
-- ----------------------------------------------------------------------

