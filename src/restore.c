/*-------------------------------------------------------------------------
 *
 * restore.c
 *	  (placeholder until this concern lands)
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "schema_mgr.h"

void
restore_init(void)
{
}
