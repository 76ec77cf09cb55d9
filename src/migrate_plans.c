/*-------------------------------------------------------------------------
 *
 * migrate_plans.c
 *	  The text of the internal queries of the migrations concern, one per
 *	  PlanId: prepared once by mig_run_plan() (migrate.c) and kept.
 *
 * %1$s is the quoted schema of the extension.  Every name is qualified and
 * every operator is pg_catalog's, so the queries do not depend on the
 * search_path; user values are always parameters.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/pg_type.h"

#include "schema_mgr.h"
#include "migrate.h"

/*
 * Pending rows under the lock; extra: registrant, approved_by, approver.
 * Without their SQL (NULL in column 4): each migration's is read when it is
 * checked and when it runs (P_MIGRATION_SQL), so that memory is bounded by
 * the largest migration rather than by all of them.
 */
#define PENDING_ROWS_SQL(extra) \
		"SELECT m.component, m.version, m.description, NULL::pg_catalog.text, m.checksum, " \
		"       s.version IS NOT NULL, s.checksum, " \
		"       (SELECT pg_catalog.max(h.version) FROM %1$s.schema_version h " \
		"        WHERE h.component OPERATOR(pg_catalog.=) m.component), " \
		"       m.registered_by::pg_catalog.text, " extra " " \
		"FROM %1$s.migration m " \
		"LEFT JOIN %1$s.schema_version s " \
		"  ON s.component OPERATOR(pg_catalog.=) m.component " \
		" AND s.version OPERATOR(pg_catalog.=) m.version " \
		"WHERE m.applied_checksum IS DISTINCT FROM m.checksum " \
		"AND m.component OPERATOR(pg_catalog.=) ANY ($1) " \
		"AND m.version OPERATOR(pg_catalog.<=) $2 " \
		"ORDER BY m.component COLLATE \"C\", m.version"

/*
 * A registry row out of line with the history (m and s joined on component
 * and version): marked applied without a history row, or not marked though
 * the history has its SQL.
 */
#define REPAIR_OUT_OF_LINE \
		"((s.version IS NULL AND m.applied_checksum IS NOT NULL) OR " \
		" (s.version IS NOT NULL AND m.applied_checksum IS DISTINCT FROM m.checksum " \
		"  AND (s.checksum IS NULL OR s.checksum OPERATOR(pg_catalog.=) m.checksum)))"

/*
 * The status of every registered or applied version (m and s full-joined
 * on component and version); extra: more columns, more: more rows.
 */
#define STATUS_SQL(extra, more) \
		"SELECT * FROM (" \
		"SELECT COALESCE(m.component, s.component) AS component, " \
		"       COALESCE(m.version, s.version) AS version, " \
		"       COALESCE(m.description, s.description) AS description, " \
		"       CASE WHEN s.version IS NULL THEN " \
		"              CASE WHEN m.applied_checksum IS NOT DISTINCT FROM m.checksum " \
		"                   THEN 'unrecorded' " \
		"                   WHEN m.version OPERATOR(pg_catalog.<) " \
		"                   (SELECT pg_catalog.max(h.version) FROM %1$s.schema_version h " \
		"                    WHERE h.component OPERATOR(pg_catalog.=) m.component) " \
		"                   THEN 'out of order' ELSE 'pending' END " \
		"            WHEN m.version IS NULL THEN " \
		"              CASE WHEN s.kind OPERATOR(pg_catalog.=) 'baseline' " \
		"                   THEN 'baselined' ELSE 'missing' END " \
		"            WHEN s.checksum IS NOT NULL " \
		"             AND s.checksum OPERATOR(pg_catalog.<>) m.checksum THEN 'changed' " \
		"            WHEN s.kind OPERATOR(pg_catalog.=) 'baseline' THEN 'baselined' " \
		"            ELSE 'applied' END, " \
		"       COALESCE(s.checksum, m.checksum), s.applied_at, s.applied_by, " \
		"       s.execution_time" extra " " \
		"FROM %1$s.migration m " \
		"FULL JOIN %1$s.schema_version s " \
		"  ON s.component OPERATOR(pg_catalog.=) m.component " \
		" AND s.version OPERATOR(pg_catalog.=) m.version " \
		"WHERE $1 IS NULL OR COALESCE(m.component, s.component) OPERATOR(pg_catalog.=) $1 " \
		more \
		") st ORDER BY st.component COLLATE \"C\", st.version, " \
		"st.description COLLATE \"C\""

/*
 * What tells a prepared statement from one prepared in its place under the
 * same name: its text and when it was prepared.
 */
#define SM_PREPARED_KEY \
	"ROW(p.name, p.statement, p.prepare_time)::pg_catalog.text"

const MigPlanDef mig_plan_defs[NUM_PLANS] = {
	[P_PENDING_ANY] = {
		"SELECT component, version FROM %1$s.migration "
		"WHERE applied_checksum IS DISTINCT FROM checksum "
		"AND version OPERATOR(pg_catalog.<=) $1 "
		"ORDER BY component COLLATE \"C\", version LIMIT 1",
	1, {INT8OID}},
	[P_PENDING_ONE] = {
		"SELECT component, version FROM %1$s.migration "
		"WHERE applied_checksum IS DISTINCT FROM checksum "
		"AND component OPERATOR(pg_catalog.=) $1 "
		"AND version OPERATOR(pg_catalog.<=) $2 "
		"ORDER BY version LIMIT 1",
	2, {TEXTOID, INT8OID}},
	[P_COMPONENT_EXISTS] = {
		"SELECT 1 FROM %1$s.migration WHERE component OPERATOR(pg_catalog.=) $1 "
		"UNION ALL "
		"SELECT 1 FROM %1$s.schema_version WHERE component OPERATOR(pg_catalog.=) $1 "
		"LIMIT 1",
	1, {TEXTOID}},
	/* 1.1: a component may have only repeatable migrations */
	[P_COMPONENT_EXISTS_ALL] = {
		"SELECT 1 FROM %1$s.migration WHERE component OPERATOR(pg_catalog.=) $1 "
		"UNION ALL "
		"SELECT 1 FROM %1$s.schema_version WHERE component OPERATOR(pg_catalog.=) $1 "
		"UNION ALL "
		"SELECT 1 FROM %1$s.repeatable_migration "
		"WHERE component OPERATOR(pg_catalog.=) $1 "
		"LIMIT 1",
	1, {TEXTOID}},
	[P_PENDING_COMPONENTS] = {
		"SELECT DISTINCT component COLLATE \"C\" FROM %1$s.migration "
		"WHERE applied_checksum IS DISTINCT FROM checksum "
		"AND ($1 IS NULL OR component OPERATOR(pg_catalog.=) $1) "
		"AND version OPERATOR(pg_catalog.<=) $2 "
		"ORDER BY 1",
	2, {TEXTOID, INT8OID}},
	[P_PENDING_ROWS] = {
		PENDING_ROWS_SQL("NULL::pg_catalog.oid, NULL::pg_catalog.text, NULL::pg_catalog.oid"),
	2, {TEXTARRAYOID, INT8OID}},
	/* with 1.1's registrant and approval */
	[P_PENDING_ROWS_OWNERS] = {
		PENDING_ROWS_SQL("m.registrant, "
						 "CASE WHEN m.approved_checksum OPERATOR(pg_catalog.=) m.checksum "
						 "THEN m.approved_by::pg_catalog.text END, m.approver"),
	2, {TEXTARRAYOID, INT8OID}},
	[P_INSERT_HISTORY] = {
		"INSERT INTO %1$s.schema_version (component, version, description, "
		" applied_at, checksum, applied_by, execution_time, kind) "
		"VALUES ($1, $2, $3, $4, $5, $6::pg_catalog.name, $7, $8)",
	8, {TEXTOID, INT8OID, TEXTOID, TIMESTAMPTZOID, TEXTOID, TEXTOID,
		INTERVALOID, TEXTOID}},
	[P_MARK_APPLIED] = {
		"UPDATE %1$s.migration SET applied_checksum = $3 "
		"WHERE component OPERATOR(pg_catalog.=) $1 "
		"AND version OPERATOR(pg_catalog.=) $2",
	3, {TEXTOID, INT8OID, TEXTOID}},
	[P_REG_LOOKUP] = {
		"SELECT m.checksum, m.description, s.version IS NOT NULL, s.checksum, "
		"       (SELECT pg_catalog.max(b.version) FROM %1$s.schema_version b "
		"        WHERE b.component OPERATOR(pg_catalog.=) $1 "
		"        AND b.kind OPERATOR(pg_catalog.=) 'baseline') "
		"FROM (SELECT) AS dummy "
		"LEFT JOIN %1$s.migration m ON m.component OPERATOR(pg_catalog.=) $1 "
		"     AND m.version OPERATOR(pg_catalog.=) $2 "
		"LEFT JOIN %1$s.schema_version s ON s.component OPERATOR(pg_catalog.=) $1 "
		"     AND s.version OPERATOR(pg_catalog.=) $2",
	2, {TEXTOID, INT8OID}},
	[P_REG_INSERT] = {
		"INSERT INTO %1$s.migration (component, version, description, sql, "
		" registered_by, applied_checksum) "
		"VALUES ($1, $2, $3, $4, $5::pg_catalog.name, "
		" CASE WHEN $6 THEN %1$s.migration_checksum($4) END)",
	6, {TEXTOID, INT8OID, TEXTOID, TEXTOID, TEXTOID, BOOLOID}},
	[P_REG_UPDATE] = {
		"UPDATE %1$s.migration SET description = $3, sql = $4, "
		" registered_by = $5::pg_catalog.name, registered_at = pg_catalog.now(), "
		" applied_checksum = CASE WHEN $6 THEN %1$s.migration_checksum($4) END "
		"WHERE component OPERATOR(pg_catalog.=) $1 "
		"AND version OPERATOR(pg_catalog.=) $2",
	6, {TEXTOID, INT8OID, TEXTOID, TEXTOID, TEXTOID, BOOLOID}},
	[P_REG_DESCRIPTION] = {
		"UPDATE %1$s.migration SET description = $3 "
		"WHERE component OPERATOR(pg_catalog.=) $1 "
		"AND version OPERATOR(pg_catalog.=) $2",
	3, {TEXTOID, INT8OID, TEXTOID}},
	[P_BASELINE_ROWS] = {
		"SELECT version, description, checksum FROM %1$s.migration "
		"WHERE component OPERATOR(pg_catalog.=) $1 "
		"AND version OPERATOR(pg_catalog.<=) $2 ORDER BY version",
	2, {TEXTOID, INT8OID}},
	[P_CURRENT_VERSION] = {
		"SELECT pg_catalog.max(version) FROM %1$s.schema_version "
		"WHERE component OPERATOR(pg_catalog.=) $1",
	1, {TEXTOID}},
	[P_STATUS] = {
		STATUS_SQL("", ""),
	1, {TEXTOID}},
	/* 1.1: repeatable migrations (version NULL) and undo SQL too */
	[P_INFO] = {
		STATUS_SQL(", false, m.undo_sql IS NOT NULL",
				   "UNION ALL "
				   "SELECT r.component, NULL, r.name, "
				   "       CASE WHEN r.applied_checksum IS NULL THEN 'pending' "
				   "            WHEN r.applied_checksum OPERATOR(pg_catalog.=) r.checksum "
				   "            THEN 'applied' ELSE 'changed' END, "
				   "       r.checksum, r.applied_at, r.applied_by, r.execution_time, "
				   "       true, false "
				   "FROM %1$s.repeatable_migration r "
				   "WHERE $1 IS NULL OR r.component OPERATOR(pg_catalog.=) $1 "),
	1, {TEXTOID}},

	[P_HISTORY_ROWS] = {
		"SELECT pg_catalog.count(*) FROM %1$s.schema_version",
	0, {InvalidOid}},
	/* relations and types of the temporary schema $1 not among $2 */
	[P_TEMP_OBJECTS] = {
		"SELECT o.oid, o.name FROM ("
		" SELECT 1 AS kind, c.oid, c.relname::pg_catalog.text AS name"
		" FROM pg_catalog.pg_class c"
		" WHERE c.relnamespace OPERATOR(pg_catalog.=) $1"
		" UNION ALL"
		" SELECT 2, t.oid, t.typname::pg_catalog.text FROM pg_catalog.pg_type t"
		" WHERE t.typnamespace OPERATOR(pg_catalog.=) $1"
		" AND t.typrelid OPERATOR(pg_catalog.=) 0"
		" AND t.typelem OPERATOR(pg_catalog.=) 0) o "
		"WHERE o.oid OPERATOR(pg_catalog.<>) ALL ($2) ORDER BY o.kind, o.name",
	2, {OIDOID, OIDARRAYOID}},
	/*
	 * What of the session could run code later: its cursors (those that
	 * pg_cursors shows), its prepared statements (names, and keys in the
	 * same order), the tables with deferrable triggers other than those of
	 * foreign keys (which check as the table's owner)
	 */
	[P_SESSION_STATE] = {
		"SELECT ARRAY(SELECT c.name FROM pg_catalog.pg_cursors c), "
		"ARRAY(SELECT p.name FROM pg_catalog.pg_prepared_statements p "
		"      ORDER BY p.name COLLATE \"C\"), "
		"ARRAY(SELECT " SM_PREPARED_KEY " FROM pg_catalog.pg_prepared_statements p "
		"      ORDER BY p.name COLLATE \"C\"), "
		"ARRAY(SELECT DISTINCT t.tgrelid FROM pg_catalog.pg_trigger t "
		"      JOIN pg_catalog.pg_constraint k "
		"        ON k.oid OPERATOR(pg_catalog.=) t.tgconstraint "
		"      WHERE t.tgdeferrable "
		"        AND k.contype OPERATOR(pg_catalog.<>) 'f')",
	0, {InvalidOid}},
	[P_MIGRATION_SQL] = {
		"SELECT sql FROM %1$s.migration "
		"WHERE component OPERATOR(pg_catalog.=) $1 "
		"AND version OPERATOR(pg_catalog.=) $2",
	2, {TEXTOID, INT8OID}},
	[P_MAY_READ_SQL] = {
		"SELECT pg_catalog.has_function_privilege($1, "
		"'%1$s.migration_sql(pg_catalog.text)', 'EXECUTE')",
	1, {OIDOID}},
	/* registry rows out of line with the history */
	[P_REPAIR_COMPONENTS] = {
		"SELECT DISTINCT m.component COLLATE \"C\" FROM %1$s.migration m "
		"LEFT JOIN %1$s.schema_version s "
		"  ON s.component OPERATOR(pg_catalog.=) m.component "
		" AND s.version OPERATOR(pg_catalog.=) m.version "
		"WHERE ($1 IS NULL OR m.component OPERATOR(pg_catalog.=) $1) "
		"AND " REPAIR_OUT_OF_LINE " ORDER BY 1",
	1, {TEXTOID}},
	[P_REPAIR] = {
		"WITH unmarked AS ("
		" UPDATE %1$s.migration m SET applied_checksum = NULL "
		" WHERE m.component OPERATOR(pg_catalog.=) ANY ($1) "
		" AND m.applied_checksum IS NOT NULL "
		" AND NOT EXISTS (SELECT FROM %1$s.schema_version s "
		"  WHERE s.component OPERATOR(pg_catalog.=) m.component "
		"  AND s.version OPERATOR(pg_catalog.=) m.version) "
		" RETURNING m.component, m.version, 'pending again'::pg_catalog.text AS action), "
		"marked AS ("
		" UPDATE %1$s.migration m SET applied_checksum = m.checksum "
		" FROM %1$s.schema_version s "
		" WHERE s.component OPERATOR(pg_catalog.=) m.component "
		" AND s.version OPERATOR(pg_catalog.=) m.version "
		" AND m.component OPERATOR(pg_catalog.=) ANY ($1) "
		" AND m.applied_checksum IS DISTINCT FROM m.checksum "
		" AND (s.checksum IS NULL OR s.checksum OPERATOR(pg_catalog.=) m.checksum) "
		" RETURNING m.component, m.version, 'marked applied'::pg_catalog.text) "
		"SELECT * FROM (SELECT * FROM unmarked UNION ALL SELECT * FROM marked) r "
		"ORDER BY r.component COLLATE \"C\", r.version",
	1, {TEXTARRAYOID}},
	[P_COMPONENT_OWNER] = {
		"SELECT owner, owner_name::pg_catalog.text FROM %1$s.component "
		"WHERE component OPERATOR(pg_catalog.=) $1",
	1, {TEXTOID}},
	[P_COMPONENT_CREATE] = {
		"INSERT INTO %1$s.component (component, owner, owner_name) "
		"VALUES ($1, $2, $3::pg_catalog.name) ON CONFLICT (component) DO NOTHING",
	3, {TEXTOID, OIDOID, TEXTOID}},
	[P_COMPONENT_SET_OWNER] = {
		"UPDATE %1$s.component SET owner = $2, owner_name = $3::pg_catalog.name "
		"WHERE component OPERATOR(pg_catalog.=) $1",
	3, {TEXTOID, OIDOID, TEXTOID}},
	[P_REG_IDENTITY] = {
		"SELECT registrant, registered_by::pg_catalog.text FROM %1$s.migration "
		"WHERE component OPERATOR(pg_catalog.=) $1 "
		"AND version OPERATOR(pg_catalog.=) $2",
	2, {TEXTOID, INT8OID}},
	/* a new registrant's SQL needs a new approval */
	[P_SET_REGISTRANT] = {
		"UPDATE %1$s.migration SET registrant = $3, approved_checksum = NULL, "
		" approved_undo_checksum = NULL, "
		" approver = NULL, approved_by = NULL, approved_at = NULL "
		"WHERE component OPERATOR(pg_catalog.=) $1 "
		"AND version OPERATOR(pg_catalog.=) $2",
	3, {TEXTOID, INT8OID, OIDOID}},
	/* other undo SQL by a role with the registrant's privileges */
	[P_VOID_APPROVAL] = {
		"UPDATE %1$s.migration SET approved_checksum = NULL, "
		" approved_undo_checksum = NULL, "
		" approver = NULL, approved_by = NULL, approved_at = NULL "
		"WHERE component OPERATOR(pg_catalog.=) $1 "
		"AND version OPERATOR(pg_catalog.=) $2",
	2, {TEXTOID, INT8OID}},
	/*
	 * the registered checksums, whether applied, and the approval that
	 * holds for the current SQL (and undo SQL), if any
	 */
	[P_APPROVE_LOOKUP] = {
		"SELECT m.checksum, s.version IS NOT NULL, m.undo_checksum, "
		"       COALESCE(m.approved_checksum OPERATOR(pg_catalog.=) m.checksum, "
		"                false), "
		"       m.approver, m.approved_by::pg_catalog.text, "
		"       m.approved_at::pg_catalog.text, "
		"       CASE WHEN m.approved_undo_checksum OPERATOR(pg_catalog.=) m.undo_checksum "
		"            THEN m.approved_undo_checksum END "
		"FROM %1$s.migration m "
		"LEFT JOIN %1$s.schema_version s "
		"  ON s.component OPERATOR(pg_catalog.=) m.component "
		" AND s.version OPERATOR(pg_catalog.=) m.version "
		"WHERE m.component OPERATOR(pg_catalog.=) $1 "
		"AND m.version OPERATOR(pg_catalog.=) $2",
	2, {TEXTOID, INT8OID}},
	/* an approval and its row in the history log, in one statement */
	[P_APPROVE] = {
		"WITH a AS ("
		" UPDATE %1$s.migration SET approved_checksum = $3, approver = $4, "
		"  approved_by = $5::pg_catalog.name, approved_at = pg_catalog.now(), "
		"  approved_undo_checksum = $6 "
		" WHERE component OPERATOR(pg_catalog.=) $1 "
		" AND version OPERATOR(pg_catalog.=) $2 "
		" RETURNING description) "
		"INSERT INTO %1$s.migration_history (component, version, action, "
		" description, checksum, undo_checksum, performed_by) "
		"SELECT $1, $2, 'approve', a.description, $3, $6, $5::pg_catalog.name "
		"FROM a",
	6, {TEXTOID, INT8OID, TEXTOID, OIDOID, TEXTOID, TEXTOID}},

	/*
	 * 1.1: the history log beside schema_version.  A row of schema_version
	 * and its log row are written by one statement.
	 */
	[P_INSERT_HISTORY_LOGGED] = {
		"WITH v AS ("
		" INSERT INTO %1$s.schema_version (component, version, description, "
		"  applied_at, checksum, applied_by, execution_time, kind) "
		" VALUES ($1, $2, $3, $4, $5, $6::pg_catalog.name, $7, $8)) "
		"INSERT INTO %1$s.migration_history (component, version, action, "
		" description, checksum, performed_at, performed_by, execution_time) "
		"VALUES ($1, $2, CASE WHEN $8 OPERATOR(pg_catalog.=) 'baseline' "
		" THEN 'baseline' ELSE 'apply' END, $3, $5, $4, $6::pg_catalog.name, $7)",
	8, {TEXTOID, INT8OID, TEXTOID, TIMESTAMPTZOID, TEXTOID, TEXTOID,
		INTERVALOID, TEXTOID}},
	/* a revert or a repeatable migration's apply */
	[P_HISTORY_LOG] = {
		"INSERT INTO %1$s.migration_history (component, version, name, action, "
		" description, checksum, performed_at, performed_by, execution_time) "
		"VALUES ($1, $2, $3, $4, $5, $6, $7, $8::pg_catalog.name, $9)",
	9, {TEXTOID, INT8OID, TEXTOID, TEXTOID, TEXTOID, TEXTOID, TIMESTAMPTZOID,
		TEXTOID, INTERVALOID}},
	/*
	 * schema_version's rows; when it is empty (all reverted), the log's,
	 * but for approvals, which changed nothing in the database
	 */
	[P_HISTORY_ROWS_LOGGED] = {
		"SELECT CASE WHEN v.n OPERATOR(pg_catalog.>) 0 THEN v.n ELSE "
		" (SELECT pg_catalog.count(*) FROM %1$s.migration_history "
		"  WHERE action OPERATOR(pg_catalog.<>) 'approve') END "
		"FROM (SELECT pg_catalog.count(*) AS n FROM %1$s.schema_version) v",
	0, {InvalidOid}},

	/* undo SQL */
	[P_REG_UNDO_LOOKUP] = {
		"SELECT undo_checksum FROM %1$s.migration "
		"WHERE component OPERATOR(pg_catalog.=) $1 "
		"AND version OPERATOR(pg_catalog.=) $2",
	2, {TEXTOID, INT8OID}},
	[P_REG_SET_UNDO] = {
		"UPDATE %1$s.migration SET undo_sql = $3 "
		"WHERE component OPERATOR(pg_catalog.=) $1 "
		"AND version OPERATOR(pg_catalog.=) $2",
	3, {TEXTOID, INT8OID, TEXTOID}},
	[P_UNDO_SQL] = {
		"SELECT undo_sql FROM %1$s.migration "
		"WHERE component OPERATOR(pg_catalog.=) $1 "
		"AND version OPERATOR(pg_catalog.=) $2",
	2, {TEXTOID, INT8OID}},

	/*
	 * What reverting a component to version $2 takes back, the last
	 * applied first (a version applied out of order, after a higher one,
	 * may depend on it): the history's rows above it with their registry
	 * rows (registered, checksums, undo) and who vouches for the undo.
	 * The last applied is the one whose latest apply (or baseline) has the
	 * highest migration_history id: the order of the applies themselves,
	 * which a server clock stepped back would not keep in applied_at.
	 */
	[P_REVERT_ROWS] = {
		"SELECT s.version, s.description, s.kind, s.checksum, "
		"       m.version IS NOT NULL, m.checksum, m.undo_checksum, "
		"       m.registered_by::pg_catalog.text, m.registrant, "
		"       CASE WHEN m.approved_checksum OPERATOR(pg_catalog.=) m.checksum "
		"             AND m.approved_undo_checksum OPERATOR(pg_catalog.=) m.undo_checksum "
		"            THEN m.approved_by::pg_catalog.text END, m.approver "
		"FROM %1$s.schema_version s "
		"LEFT JOIN %1$s.migration m "
		"  ON m.component OPERATOR(pg_catalog.=) s.component "
		" AND m.version OPERATOR(pg_catalog.=) s.version "
		"WHERE s.component OPERATOR(pg_catalog.=) $1 "
		"AND s.version OPERATOR(pg_catalog.>) $2 "
		"ORDER BY (SELECT pg_catalog.max(h.id) FROM %1$s.migration_history h "
		"          WHERE h.component OPERATOR(pg_catalog.=) s.component "
		"          AND h.version OPERATOR(pg_catalog.=) s.version "
		"          AND h.action OPERATOR(pg_catalog.=) "
		"              ANY (ARRAY['apply', 'baseline'])) DESC NULLS LAST, "
		"         s.applied_at DESC, s.version DESC",
	2, {TEXTOID, INT8OID}},
	/* the history's trigger makes the registry row pending again */
	[P_FORGET] = {
		"DELETE FROM %1$s.schema_version "
		"WHERE component OPERATOR(pg_catalog.=) $1 "
		"AND version OPERATOR(pg_catalog.=) $2",
	2, {TEXTOID, INT8OID}},

	/* repeatable migrations */
	/* the registered checksum and registrant; the approval that holds */
	[P_REP_LOOKUP] = {
		"SELECT checksum, registrant, registered_by::pg_catalog.text, "
		"       COALESCE(approved_checksum OPERATOR(pg_catalog.=) checksum, false), "
		"       approver, approved_by::pg_catalog.text, "
		"       approved_at::pg_catalog.text "
		"FROM %1$s.repeatable_migration "
		"WHERE component OPERATOR(pg_catalog.=) $1 "
		"AND name OPERATOR(pg_catalog.=) $2",
	2, {TEXTOID, TEXTOID}},
	[P_REP_INSERT] = {
		"INSERT INTO %1$s.repeatable_migration (component, name, sql, "
		" registered_by, registrant) "
		"VALUES ($1, $2, $3, $4::pg_catalog.name, $5)",
	5, {TEXTOID, TEXTOID, TEXTOID, TEXTOID, OIDOID}},
	/* new SQL: a new registrant, any approval void */
	[P_REP_UPDATE] = {
		"UPDATE %1$s.repeatable_migration SET sql = $3, "
		" registered_by = $4::pg_catalog.name, registrant = $5, "
		" registered_at = pg_catalog.now(), approved_checksum = NULL, "
		" approver = NULL, approved_by = NULL, approved_at = NULL "
		"WHERE component OPERATOR(pg_catalog.=) $1 "
		"AND name OPERATOR(pg_catalog.=) $2",
	5, {TEXTOID, TEXTOID, TEXTOID, TEXTOID, OIDOID}},
	[P_REP_APPROVE] = {
		"WITH a AS ("
		" UPDATE %1$s.repeatable_migration SET approved_checksum = $3, "
		"  approver = $4, approved_by = $5::pg_catalog.name, "
		"  approved_at = pg_catalog.now() "
		" WHERE component OPERATOR(pg_catalog.=) $1 "
		" AND name OPERATOR(pg_catalog.=) $2 "
		" RETURNING name) "
		"INSERT INTO %1$s.migration_history (component, name, action, "
		" description, checksum, performed_by) "
		"SELECT $1, a.name, 'approve', a.name, $3, $5::pg_catalog.name "
		"FROM a",
	5, {TEXTOID, TEXTOID, TEXTOID, OIDOID, TEXTOID}},
	/*
	 * 1.1's no-op apply_migrations(): is a version up to the target or a
	 * repeatable migration pending, of any component or of one?  One
	 * statement probing both partial indexes (and no parameter that a
	 * custom plan would fold: the plan is generic, planned once).
	 */
	[P_PENDING_PROBE_ANY] = {
		"SELECT 1 FROM ("
		" (SELECT 1 FROM %1$s.migration "
		"  WHERE applied_checksum IS DISTINCT FROM checksum "
		"  AND version OPERATOR(pg_catalog.<=) $1 LIMIT 1) "
		" UNION ALL "
		" (SELECT 1 FROM %1$s.repeatable_migration "
		"  WHERE applied_checksum IS DISTINCT FROM checksum LIMIT 1)) x "
		"LIMIT 1",
	1, {INT8OID}},
	[P_PENDING_PROBE_ONE] = {
		"SELECT 1 FROM ("
		" (SELECT 1 FROM %1$s.migration "
		"  WHERE applied_checksum IS DISTINCT FROM checksum "
		"  AND component OPERATOR(pg_catalog.=) $1 "
		"  AND version OPERATOR(pg_catalog.<=) $2 LIMIT 1) "
		" UNION ALL "
		" (SELECT 1 FROM %1$s.repeatable_migration "
		"  WHERE applied_checksum IS DISTINCT FROM checksum "
		"  AND component OPERATOR(pg_catalog.=) $1 LIMIT 1)) x "
		"LIMIT 1",
	2, {TEXTOID, INT8OID}},
	[P_REP_PENDING_ANY] = {
		"SELECT component, name FROM %1$s.repeatable_migration "
		"WHERE applied_checksum IS DISTINCT FROM checksum "
		"ORDER BY component COLLATE \"C\", name COLLATE \"C\" LIMIT 1",
	0, {InvalidOid}},
	[P_REP_PENDING_ONE] = {
		"SELECT component, name FROM %1$s.repeatable_migration "
		"WHERE applied_checksum IS DISTINCT FROM checksum "
		"AND component OPERATOR(pg_catalog.=) $1 "
		"ORDER BY name COLLATE \"C\" LIMIT 1",
	1, {TEXTOID}},

	/*
	 * The components with pending work: versions up to $2 (unless $4 names
	 * one repeatable migration), repeatable migrations when $3 (all of
	 * them, or the one $4 names).
	 */
	[P_PENDING_COMPONENTS_ALL] = {
		"SELECT DISTINCT x.component COLLATE \"C\" FROM ("
		" SELECT component FROM %1$s.migration "
		" WHERE applied_checksum IS DISTINCT FROM checksum "
		" AND ($1 IS NULL OR component OPERATOR(pg_catalog.=) $1) "
		" AND version OPERATOR(pg_catalog.<=) $2 AND $4 IS NULL "
		" UNION ALL "
		" SELECT component FROM %1$s.repeatable_migration "
		" WHERE applied_checksum IS DISTINCT FROM checksum "
		" AND ($1 IS NULL OR component OPERATOR(pg_catalog.=) $1) "
		" AND $3 AND ($4 IS NULL OR name OPERATOR(pg_catalog.=) $4)) x "
		"ORDER BY 1",
	4, {TEXTOID, INT8OID, BOOLOID, TEXTOID}},
	[P_REP_PENDING_ROWS] = {
		"SELECT component, name, checksum, registered_by::pg_catalog.text, "
		"       registrant, "
		"       CASE WHEN approved_checksum OPERATOR(pg_catalog.=) checksum "
		"            THEN approved_by::pg_catalog.text END, approver "
		"FROM %1$s.repeatable_migration "
		"WHERE applied_checksum IS DISTINCT FROM checksum "
		"AND component OPERATOR(pg_catalog.=) ANY ($1) "
		"AND ($2 IS NULL OR name OPERATOR(pg_catalog.=) $2) "
		"ORDER BY component COLLATE \"C\", name COLLATE \"C\"",
	2, {TEXTARRAYOID, TEXTOID}},
	[P_REP_SQL] = {
		"SELECT sql FROM %1$s.repeatable_migration "
		"WHERE component OPERATOR(pg_catalog.=) $1 "
		"AND name OPERATOR(pg_catalog.=) $2",
	2, {TEXTOID, TEXTOID}},
	[P_REP_MARK_APPLIED] = {
		"UPDATE %1$s.repeatable_migration SET applied_checksum = $3, "
		" applied_at = $4, applied_by = $5::pg_catalog.name, execution_time = $6 "
		"WHERE component OPERATOR(pg_catalog.=) $1 "
		"AND name OPERATOR(pg_catalog.=) $2",
	6, {TEXTOID, TEXTOID, TEXTOID, TIMESTAMPTZOID, TEXTOID, INTERVALOID}},
	/* non-transactional migrations: is this one marked? (the start of it) */
	[P_NOTX_PROBE] = {
		"SELECT pg_catalog.left(sql, 256), pg_catalog.octet_length(sql) "
		"       OPERATOR(pg_catalog.>) pg_catalog.octet_length(pg_catalog.left(sql, 256)) "
		"FROM %1$s.migration "
		"WHERE component OPERATOR(pg_catalog.=) $1 "
		"AND version OPERATOR(pg_catalog.=) $2",
	2, {TEXTOID, INT8OID}},
	/* pending ones that may be marked (mig_no_transaction() decides) */
	[P_NOTX_CANDIDATES] = {
		"SELECT component, version, sql FROM %1$s.migration "
		"WHERE applied_checksum IS DISTINCT FROM checksum "
		"AND ($1 IS NULL OR component OPERATOR(pg_catalog.=) $1) "
		"AND pg_catalog.strpos(pg_catalog.left(sql, 64), '" MIG_NOTX_MARKER "') "
		"    OPERATOR(pg_catalog.>) 0 "
		"ORDER BY component COLLATE \"C\", version",
	1, {TEXTOID}},
	/* the invalid indexes of a table */
	[P_INVALID_INDEXES] = {
		"SELECT i.indexrelid, c.relname::pg_catalog.text "
		"FROM pg_catalog.pg_index i "
		"JOIN pg_catalog.pg_class c ON c.oid OPERATOR(pg_catalog.=) i.indexrelid "
		"WHERE i.indrelid OPERATOR(pg_catalog.=) $1 AND NOT i.indisvalid "
		"ORDER BY c.relname COLLATE \"C\"",
	1, {OIDOID}},
};
