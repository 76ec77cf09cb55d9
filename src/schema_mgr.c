/*-------------------------------------------------------------------------
 *
 * schema_mgr.c
 *	  Module entry point: the library magic block and _PG_init, which lets
 *	  each concern define its configuration parameters.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "fmgr.h"
#include "utils/guc.h"

#include "schema_mgr.h"

PG_MODULE_MAGIC;

void		_PG_init(void);

void
_PG_init(void)
{
	migrate_init();
	events_init();
	restore_init();

	/* a misspelled schema_mgr.* setting is an error, not a placeholder */
	MarkGUCPrefixReserved("schema_mgr");
}
