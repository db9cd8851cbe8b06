/*-------------------------------------------------------------------------
 *
 * remote.c
 *	  libpq connections from a globalkv process to another node, without
 *	  ever blocking uninterruptibly on the network.
 *
 * Connecting and every query go through libpq's asynchronous API and wait
 * with WaitLatchOrSocket, so SIGTERM, SIGHUP and postmaster death are
 * handled while a peer is slow or unreachable.  A failed remote command is
 * re-raised locally with the remote SQLSTATE, message, detail and hint, and
 * a context line naming the node.  The PGresult is freed on every path.
 * Connection strings are never logged: they may hold a password.
 *
 * src/connection/remote.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "libpq-fe.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "storage/latch.h"
#include "utils/memutils.h"
#include "utils/timestamp.h"


#include "globalkv/connection.h"

/*
 * WaitForSocket waits until the socket is readable/writable, the latch is
 * set, or timeout_ms passes; handles interrupts.  Returns false on timeout.
 */
static bool
WaitForSocket(PGconn *conn, int events, long timeout_ms)
{
	int			rc;

	rc = WaitLatchOrSocket(MyLatch,
						   WL_LATCH_SET | WL_EXIT_ON_PM_DEATH | events |
						   (timeout_ms >= 0 ? WL_TIMEOUT : 0),
						   PQsocket(conn), timeout_ms, PG_WAIT_EXTENSION);
	if (rc & WL_LATCH_SET)
	{
		ResetLatch(MyLatch);
		CHECK_FOR_INTERRUPTS();
	}
	return (rc & WL_TIMEOUT) == 0;
}

/*
 * GkvRemoteConnect opens a connection to node 'node_name'; raises an ERROR
 * if that fails within timeout_ms.  The caller owns the connection and must
 * PQfinish it (GkvRemoteDisconnect).
 */
PGconn *
GkvRemoteConnect(const char *conninfo, const char *node_name,
				 const char *application_name, const char *options, long timeout_ms)
{
	/* options (server settings) come after dbname: they override the conninfo's */
	const char *keys[] = {"dbname", "application_name", "connect_timeout",
	options ? "options" : NULL, NULL};
	const char *vals[] = {conninfo, application_name, "10", options, NULL};
	PGconn	   *conn;
	TimestampTz deadline = TimestampTzPlusMilliseconds(GetCurrentTimestamp(), timeout_ms);

	/* dbname=<conninfo> with expand_dbname: the conninfo wins where it says */
	conn = PQconnectStartParams(keys, vals, 1);
	if (conn == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_OUT_OF_MEMORY),
				 errmsg("out of memory while connecting to node \"%s\"", node_name)));
	/* an interrupt while waiting must not leak the half-open connection */
	PG_TRY();
	{
		for (;;)
		{
			PostgresPollingStatusType st = PQconnectPoll(conn);
			int			events;

			if (st == PGRES_POLLING_OK)
				break;
			if (st == PGRES_POLLING_FAILED || PQstatus(conn) == CONNECTION_BAD)
				ereport(ERROR,
						(errcode(ERRCODE_SQLCLIENT_UNABLE_TO_ESTABLISH_SQLCONNECTION),
						 errmsg("could not connect to node \"%s\"", node_name),
						 errdetail_internal("%s", pchomp(PQerrorMessage(conn)))));
			events = (st == PGRES_POLLING_READING) ? WL_SOCKET_READABLE : WL_SOCKET_WRITEABLE;
			if (GetCurrentTimestamp() >= deadline ||
				!WaitForSocket(conn, events,
							   TimestampDifferenceMilliseconds(GetCurrentTimestamp(), deadline)))
				ereport(ERROR,
						(errcode(ERRCODE_SQLCLIENT_UNABLE_TO_ESTABLISH_SQLCONNECTION),
						 errmsg("timed out connecting to node \"%s\"", node_name)));
		}
	}
	PG_CATCH();
	{
		PQfinish(conn);
		PG_RE_THROW();
	}
	PG_END_TRY();
	if (PQsetnonblocking(conn, 1) != 0)
	{
		PQfinish(conn);
		ereport(ERROR,
				(errcode(ERRCODE_CONNECTION_FAILURE),
				 errmsg("could not set the connection to node \"%s\" non-blocking", node_name)));
	}
	return conn;
}

void
GkvRemoteDisconnect(PGconn *conn)
{
	if (conn != NULL)
		PQfinish(conn);
}

/*
 * ThrowRemoteError re-raises a failed result as a local ERROR, with the
 * remote SQLSTATE.  Frees the result.
 */
static void
ThrowRemoteError(PGresult *res, PGconn *conn, const char *node_name)
{
	const char *sqlstate = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
	const char *primary = res ? PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY) : NULL;
	const char *detail = res ? PQresultErrorField(res, PG_DIAG_MESSAGE_DETAIL) : NULL;
	const char *hint = res ? PQresultErrorField(res, PG_DIAG_MESSAGE_HINT) : NULL;
	int			code = ERRCODE_CONNECTION_FAILURE;
	char	   *msg,
			   *det,
			   *hnt;

	if (sqlstate && strlen(sqlstate) == 5)
		code = MAKE_SQLSTATE(sqlstate[0], sqlstate[1], sqlstate[2], sqlstate[3], sqlstate[4]);
	msg = pstrdup(primary ? primary : pchomp(PQerrorMessage(conn)));
	det = detail ? pstrdup(detail) : NULL;
	hnt = hint ? pstrdup(hint) : NULL;
	if (res)
		PQclear(res);
	ereport(ERROR,
			(errcode(code),
			 errmsg_internal("%s", msg),
			 det ? errdetail_internal("%s", det) : 0,
			 hnt ? errhint("%s", hnt) : 0,
			 errcontext("remote command on node \"%s\"", node_name)));
}

/*
 * GkvRemoteSend sends one statement without waiting for its result: the
 * prepared statement stmt_name when given (prepared with GkvRemotePrepare),
 * else sql.  Raises an ERROR (class 08) when it cannot be sent; in that
 * case the node did not receive a complete request.
 */
void
GkvRemoteSend(PGconn *conn, const char *node_name, const char *stmt_name,
			  const char *sql, int nparams, const char *const *values,
			  int resultFormat)
{
	int			ok;

	if (stmt_name != NULL)
		ok = PQsendQueryPrepared(conn, stmt_name, nparams, values, NULL, NULL, resultFormat);
	else
		ok = PQsendQueryParams(conn, sql, nparams, NULL, values, NULL, NULL, resultFormat);
	if (!ok)
		ThrowRemoteError(NULL, conn, node_name);

	/* flush the query out (non-blocking connection) */
	for (;;)
	{
		int			f = PQflush(conn);

		if (f == 0)
			break;
		if (f < 0)
			ThrowRemoteError(NULL, conn, node_name);
		(void) WaitForSocket(conn, WL_SOCKET_WRITEABLE | WL_SOCKET_READABLE, 1000);
		if (PQconsumeInput(conn) == 0)
			ThrowRemoteError(NULL, conn, node_name);
	}
}

/*
 * GkvRemoteReceive waits for the result of the statement sent last and
 * returns it (the caller PQclears it).  Raises an ERROR with the remote
 * SQLSTATE when the statement failed there, and with class 08 when the
 * connection broke or timeout_ms passed (then the outcome is unknown).
 * With timeout_ms < 0 it waits as long as the statement runs here
 * (statement_timeout and cancels still interrupt it).
 */
PGresult *
GkvRemoteReceive(PGconn *conn, const char *node_name, long timeout_ms)
{
	PGresult   *last = NULL;
	PGresult   *res;
	TimestampTz deadline = TimestampTzPlusMilliseconds(GetCurrentTimestamp(), Max(timeout_ms, 0));

	for (;;)
	{
		while (PQisBusy(conn))
		{
			if (timeout_ms >= 0 && GetCurrentTimestamp() >= deadline)
			{
				if (last)
					PQclear(last);
				ereport(ERROR,
						(errcode(ERRCODE_CONNECTION_FAILURE),
						 errmsg("node \"%s\" did not answer within %ld ms", node_name, timeout_ms)));
			}
			(void) WaitForSocket(conn, WL_SOCKET_READABLE, timeout_ms < 0 ? -1 :
								 TimestampDifferenceMilliseconds(GetCurrentTimestamp(), deadline) + 1);
			if (PQconsumeInput(conn) == 0)
			{
				if (last)
					PQclear(last);
				ThrowRemoteError(NULL, conn, node_name);
			}
		}
		res = PQgetResult(conn);
		if (res == NULL)
			break;
		if (last)
			PQclear(last);
		last = res;
	}
	if (last == NULL ||
		(PQresultStatus(last) != PGRES_TUPLES_OK && PQresultStatus(last) != PGRES_COMMAND_OK))
		ThrowRemoteError(last, conn, node_name);
	return last;
}

/* GkvRemotePrepare prepares sql as stmt_name on the connection. */
void
GkvRemotePrepare(PGconn *conn, const char *node_name, const char *stmt_name,
				 const char *sql, long timeout_ms)
{
	if (!PQsendPrepare(conn, stmt_name, sql, 0, NULL))
		ThrowRemoteError(NULL, conn, node_name);
	PQclear(GkvRemoteReceive(conn, node_name, timeout_ms));
}

/*
 * GkvRemoteQuery runs one parameterized statement and returns its result
 * (the caller PQclears it).  resultFormat 1 asks for binary columns.
 * Raises an ERROR on failure or when timeout_ms passes.
 */
PGresult *
GkvRemoteQuery(PGconn *conn, const char *node_name, const char *sql,
			   int nparams, const char *const *values, int resultFormat,
			   long timeout_ms)
{
	GkvRemoteSend(conn, node_name, NULL, sql, nparams, values, resultFormat);
	return GkvRemoteReceive(conn, node_name, timeout_ms);
}

/*
 * GkvRemoteCommandQuietly runs a command without raising an error and
 * without serving interrupts -- for cleanup while a (sub)transaction
 * aborts, where an ERROR is not allowed.  False when it failed, the
 * connection broke, or timeout_ms passed; the caller then drops the
 * connection.
 */
bool
GkvRemoteCommandQuietly(PGconn *conn, const char *sql, long timeout_ms)
{
	TimestampTz deadline = TimestampTzPlusMilliseconds(GetCurrentTimestamp(), timeout_ms);
	PGresult   *res;
	bool		ok = true;

	if (conn == NULL || !PQsendQuery(conn, sql))
		return false;
	for (;;)
	{
		int			f = PQflush(conn);

		if (f < 0 || GetCurrentTimestamp() >= deadline)
			return false;
		if (f == 0 && !PQisBusy(conn))
			break;
		(void) WaitLatchOrSocket(NULL, (f > 0 ? WL_SOCKET_WRITEABLE : 0) | WL_SOCKET_READABLE |
								 WL_TIMEOUT | WL_EXIT_ON_PM_DEATH, PQsocket(conn),
								 TimestampDifferenceMilliseconds(GetCurrentTimestamp(), deadline) + 1,
								 PG_WAIT_EXTENSION);
		if (!PQconsumeInput(conn))
			return false;
	}
	while ((res = PQgetResult(conn)) != NULL)
	{
		if (PQresultStatus(res) != PGRES_COMMAND_OK)
			ok = false;
		PQclear(res);
	}
	return ok;
}
