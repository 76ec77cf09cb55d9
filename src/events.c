/*-------------------------------------------------------------------------
 *
 * events.c
 *	  (placeholder until this concern lands)
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "schema_mgr.h"

void
events_init(void)
{
}
