/*-------------------------------------------------------------------------
 *
 * compat_connect.c
 *	  connect_timeout for dblink connections on every major.
 *
 * On PostgreSQL 15 dblink_connect waits in libpq's PQconnectdb, which
 * gives up after the connection's connect_timeout.  From 16 on dblink polls
 * the socket itself (interruptibly) and nothing looks at connect_timeout,
 * so a host that accepts the TCP connection and then says nothing would
 * hold the call until it is cancelled.  remote_connect arms this deadline
 * around dblink_connect: when the connection's own connect_timeout passes,
 * the attempt is cancelled, and remote_connect reports it as libpq reports
 * an expired connect_timeout.  On 15 both calls do nothing.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "compat.h"

#if PG_VERSION_NUM >= 160000

#include "commands/defrem.h"
#include "foreign/foreign.h"
#include "libpq-fe.h"
#include "miscadmin.h"
#include "storage/latch.h"
#include "utils/timeout.h"

static TimeoutId deadline_id = MAX_TIMEOUTS;	/* registered on first use */
static volatile sig_atomic_t deadline_passed = false;

/* the timeout's handler: cancel what is waiting, as a cancel request does */
static void
deadline_handler(void)
{
	deadline_passed = true;
	QueryCancelPending = true;
	InterruptPending = true;
	SetLatch(MyLatch);
}

/* libpq's reading of a connect_timeout value: whole seconds, at least 2 */
static int
timeout_seconds(const char *value)
{
	int			secs = atoi(value);

	if (secs <= 0)
		return 0;
	return secs < 2 ? 2 : secs;
}

/*
 * The connect_timeout the connection will have.  dblink takes the string
 * as the name of a foreign server when one has that name, else as a
 * connection string or URI (where libpq keeps the last value of a keyword).
 */
static int
effective_connect_timeout(const char *connstr)
{
	ForeignServer *server = GetForeignServerByName(connstr, true);
	PQconninfoOption *opts;
	PQconninfoOption *opt;
	char	   *err = NULL;
	int			secs = 0;

	if (server != NULL)
	{
		ListCell   *lc;

		foreach(lc, server->options)
		{
			DefElem    *def = lfirst_node(DefElem, lc);

			if (strcmp(def->defname, "connect_timeout") == 0)
				secs = timeout_seconds(defGetString(def));
		}
		return secs;
	}
	opts = PQconninfoParse(connstr, &err);
	if (opts == NULL)
	{
		/* dblink reports the bad string */
		if (err != NULL)
			PQfreemem(err);
		return 0;
	}
	for (opt = opts; opt->keyword != NULL; opt++)
		if (strcmp(opt->keyword, "connect_timeout") == 0 && opt->val != NULL)
			secs = timeout_seconds(opt->val);
	PQconninfoFree(opts);
	return secs;
}

void
sm_connect_deadline_arm(const char *connstr)
{
	int			secs = effective_connect_timeout(connstr);

	deadline_passed = false;
	if (secs == 0)
		return;
	if (deadline_id == MAX_TIMEOUTS)
		deadline_id = RegisterTimeout(USER_TIMEOUT, deadline_handler);
	enable_timeout_after(deadline_id, secs * 1000);
}

bool
sm_connect_deadline_disarm(bool failed)
{
	if (deadline_id != MAX_TIMEOUTS)
		disable_timeout(deadline_id, false);
	if (deadline_passed && !failed)
	{
		/* connected just in time: the cancel is no longer wanted */
		QueryCancelPending = false;
		return false;
	}
	return deadline_passed;
}

#else							/* PG_VERSION_NUM < 160000 */

void
sm_connect_deadline_arm(const char *connstr)
{
}

bool
sm_connect_deadline_disarm(bool failed)
{
	return false;
}

#endif
