/*-------------------------------------------------------------------------
 *
 * schema_mgr.h
 *	  Declarations shared by the schema_mgr source files.
 *
 * Each concern lives in its own file: migrate.c (migrations and version
 * tracking), checksum.c (normalised SHA-256 of migration SQL), events.c
 * (gapless event stores), restore.c (dblink restore, sync, compare) and
 * util.c (helpers used by more than one of them).  schema_mgr.c is the
 * module entry point.
 *
 *-------------------------------------------------------------------------
 */
#ifndef SCHEMA_MGR_H
#define SCHEMA_MGR_H

#include "postgres.h"

#include "fmgr.h"
#include "storage/lock.h"

/*
 * Advisory lock space.  Every lock schema_mgr takes is a transaction-scoped
 * advisory lock whose first key is one of these constants, so the locks are
 * easy to tell apart in pg_locks (locktype = 'advisory', classid = key) and
 * do not collide with an application's own advisory locks on small numbers.
 */
#define SM_LOCK_MIGRATIONS	0x534D4D47	/* 'SMMG': one per migration chain */
#define SM_LOCK_EVENTS		0x534D4556	/* 'SMEV': one per event store */

/* schema_mgr.c: module initialisation, one hook per concern */
extern void migrate_init(void);
extern void events_init(void);
extern void restore_init(void);

/* util.c */
extern char *sm_extension_schema(void);
extern char *sm_function_schema(FunctionCallInfo fcinfo);
extern int	sm_push_search_path(void);
extern void sm_pop_search_path(int nest_level);
extern void sm_advisory_locktag(LOCKTAG *tag, uint32 key1, uint32 key2);

#endif							/* SCHEMA_MGR_H */
