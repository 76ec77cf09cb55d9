/*-------------------------------------------------------------------------
 *
 * migrate.c
 *	  (placeholder until this concern lands)
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "schema_mgr.h"

void
migrate_init(void)
{
}
