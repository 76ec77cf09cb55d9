/*-------------------------------------------------------------------------
 *
 * compat_input.c
 *	  jsonb input that hands back invalid input instead of throwing it, on
 *	  every major.
 *
 * From PostgreSQL 16 on, an input function reports invalid input as a soft
 * error into an ErrorSaveContext: nothing to catch, no subtransaction, and
 * nothing on the valid path beyond the call itself.  On 15 the error is
 * caught and flushed instead, without a subtransaction; that is sound only
 * because jsonb input touches nothing but memory and the caller throws an
 * error of its own at once (see sm_jsonb_in in util.c), so no work goes on
 * after the catch.  Errors that are not data exceptions (a cancel, out of
 * memory, a string too long for jsonb) are thrown as they came, on every
 * major.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "fmgr.h"
#include "utils/fmgrprotos.h"

#if PG_VERSION_NUM >= 160000
#include "nodes/miscnodes.h"
#endif

#include "compat.h"

ErrorData *
sm_jsonb_in_safe(char *str, Datum *result)
{
#if PG_VERSION_NUM >= 160000
	ErrorSaveContext escontext = {T_ErrorSaveContext};

	escontext.details_wanted = true;
	if (DirectInputFunctionCallSafe(jsonb_in, str, InvalidOid, -1,
									(Node *) &escontext, result))
		return NULL;
	if (ERRCODE_TO_CATEGORY(escontext.error_data->sqlerrcode) != ERRCODE_DATA_EXCEPTION)
		ThrowErrorData(escontext.error_data);
	return escontext.error_data;
#else
	MemoryContext cxt = CurrentMemoryContext;
	ErrorData  *volatile error = NULL;

	PG_TRY();
	{
		*result = DirectFunctionCall1(jsonb_in, CStringGetDatum(str));
	}
	PG_CATCH();
	{
		MemoryContextSwitchTo(cxt);
		error = CopyErrorData();
		if (ERRCODE_TO_CATEGORY(error->sqlerrcode) != ERRCODE_DATA_EXCEPTION)
			PG_RE_THROW();
		FlushErrorState();
	}
	PG_END_TRY();
	return error;
#endif
}
