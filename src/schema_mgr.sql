-- schema_mgr install script, assembled by the Makefile from src/*.sql.
\echo Use "CREATE EXTENSION schema_mgr" to load this file. \quit
