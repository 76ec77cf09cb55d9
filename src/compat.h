/*-------------------------------------------------------------------------
 *
 * compat.h
 *	  What differs between the PostgreSQL majors schema_mgr supports (15 to
 *	  19), in one place.
 *
 * Each difference is a wrapper named after the server function it stands
 * for, with the oldest major's arguments, so a call site reads the same on
 * every major and the version guards live here alone.  schema_mgr.h
 * includes it.
 *
 *-------------------------------------------------------------------------
 */
#ifndef SM_COMPAT_H
#define SM_COMPAT_H

#include "postgres.h"

#if PG_VERSION_NUM >= 160000
#include "catalog/pg_class_d.h"	/* RelationRelationId */
#include "catalog/pg_namespace_d.h"	/* NamespaceRelationId */
#include "varatt.h"				/* VARDATA_ANY and friends moved here */
#endif

/*
 * The wrappers are macros, so this header pulls in nothing else: the
 * headers the wrapped function needs are the call site's, as before.
 */

/*
 * A function that never returns: before the declaration from 18 on (where
 * pg_attribute_noreturn() is gone); gcc and clang take the attribute there
 * on older majors too.
 */
#if PG_VERSION_NUM >= 180000
#define sm_noreturn pg_noreturn
#else
#define sm_noreturn pg_attribute_noreturn()
#endif

/* privilege and ownership checks became generic in 16 */
#if PG_VERSION_NUM >= 160000
#define sm_namespace_aclcheck(nspoid, roleid, mode) \
	object_aclcheck(NamespaceRelationId, (nspoid), (roleid), (mode))
#define sm_proc_aclcheck(procoid, roleid, mode) \
	object_aclcheck(ProcedureRelationId, (procoid), (roleid), (mode))
#define sm_class_ownercheck(relid, roleid) \
	object_ownercheck(RelationRelationId, (relid), (roleid))
#else
#define sm_namespace_aclcheck(nspoid, roleid, mode) \
	pg_namespace_aclcheck((nspoid), (roleid), (mode))
#define sm_proc_aclcheck(procoid, roleid, mode) \
	pg_proc_aclcheck((procoid), (roleid), (mode))
#define sm_class_ownercheck(relid, roleid) \
	pg_class_ownercheck((relid), (roleid))
#endif

/* 16 added soft error reporting; schema_mgr wants the hard error */
#if PG_VERSION_NUM >= 160000
#define sm_stringToQualifiedNameList(string) \
	stringToQualifiedNameList((string), NULL)
#else
#define sm_stringToQualifiedNameList(string) \
	stringToQualifiedNameList(string)
#endif

/* 18 can return a deferrable primary key; schema_mgr wants immediate ones */
#if PG_VERSION_NUM >= 180000
#define sm_RelationGetPrimaryKeyIndex(rel) \
	RelationGetPrimaryKeyIndex((rel), false)
#else
#define sm_RelationGetPrimaryKeyIndex(rel) \
	RelationGetPrimaryKeyIndex(rel)
#endif

/* index scans gained instrumentation in 18 and flags in 19 */
#if PG_VERSION_NUM >= 190000
#define sm_index_beginscan(heap, index, snapshot, nkeys, norderbys) \
	index_beginscan((heap), (index), (snapshot), NULL, (nkeys), (norderbys), 0)
#elif PG_VERSION_NUM >= 180000
#define sm_index_beginscan(heap, index, snapshot, nkeys, norderbys) \
	index_beginscan((heap), (index), (snapshot), NULL, (nkeys), (norderbys))
#else
#define sm_index_beginscan(heap, index, snapshot, nkeys, norderbys) \
	index_beginscan((heap), (index), (snapshot), (nkeys), (norderbys))
#endif

/* 19 takes an array's element type when iteration starts, not per element */
#if PG_VERSION_NUM >= 190000
#define sm_array_iter_setup(it, a, elmlen, elmbyval, elmalign) \
	array_iter_setup((it), (a), (elmlen), (elmbyval), (elmalign))
#define sm_array_iter_next(it, isnull, i, elmlen, elmbyval, elmalign) \
	array_iter_next((it), (isnull), (i))
#else
#define sm_array_iter_setup(it, a, elmlen, elmbyval, elmalign) \
	array_iter_setup((it), (a))
#define sm_array_iter_next(it, isnull, i, elmlen, elmbyval, elmalign) \
	array_iter_next((it), (isnull), (i), (elmlen), (elmbyval), (elmalign))
#endif

/*
 * CLUSTER parses to a RepackStmt from 19 on (as REPACK does; VACUUM FULL
 * is still a VacuumStmt); in both the relation is NULL when no table is
 * named.
 */
#if PG_VERSION_NUM >= 190000
#define T_SmClusterStmt T_RepackStmt
#define SmClusterStmt RepackStmt
#else
#define T_SmClusterStmt T_ClusterStmt
#define SmClusterStmt ClusterStmt
#endif

/* PortalRun lost its run_once argument in 18 */
#if PG_VERSION_NUM >= 180000
#define sm_PortalRun(portal, count, isTopLevel, dest, altdest, qc) \
	PortalRun((portal), (count), (isTopLevel), (dest), (altdest), (qc))
#else
#define sm_PortalRun(portal, count, isTopLevel, dest, altdest, qc) \
	PortalRun((portal), (count), (isTopLevel), true, (dest), (altdest), (qc))
#endif

/* standard_conforming_strings can only be on from 19 on */
#if PG_VERSION_NUM >= 190000
#define sm_standard_conforming_strings true
#else
#define sm_standard_conforming_strings standard_conforming_strings
#endif

/*
 * compat_connect.c: dblink ignores connect_timeout from 16 on; arm a
 * deadline of the connection's own connect_timeout around dblink_connect,
 * and learn after it (failed: whether it failed) whether the deadline
 * cut it short.
 */
extern void sm_connect_deadline_arm(const char *connstr);
extern bool sm_connect_deadline_disarm(bool failed);

/*
 * compat_input.c: the jsonb of JSON text str, into *result; or, when str is
 * not valid JSON, a copy of PostgreSQL's error (a data exception), which the
 * caller must turn into an error of its own at once: from 16 on it is a
 * soft error, but on 15 it was caught without a subtransaction.
 */
extern ErrorData *sm_jsonb_in_safe(char *str, Datum *result);

#endif							/* SM_COMPAT_H */
