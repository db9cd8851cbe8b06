/*-------------------------------------------------------------------------
 *
 * cmd_verify.c
 *	  globalkv verify / globalkv repair: kv.verify and kv.repair on one
 *	  node (src/operations/anti_entropy.c), with their NOTICEs as progress
 *	  on stderr, a table of what was compared, and an exit status scripts
 *	  can test: 0 in sync, 1 differing copies (verify), 2 an error.
 *
 * cli/cmd_verify.c
 *
 *-------------------------------------------------------------------------
 */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "libpq-fe.h"

#include "cli_common.h"
#include "cmd_verify.h"

#define EXIT_DIFFER 1
#define EXIT_ERROR 2

/* progress: the server's NOTICE per shard, as it comes */
static void
ShowProgress(void *arg, const PGresult *res)
{
	const char *msg = PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY);

	(void) arg;
	if (msg)
		fprintf(stderr, "%s\n", msg);
}

int
verify_command(const char *conninfo, bool repair, const char *shard, const char *peer)
{
	PGconn	   *conn = PQconnectdb(conninfo);
	PGresult   *res;
	const char *params[2] = {shard, peer};
	long long	differing = 0;
	int			nrows;

	if (PQstatus(conn) != CONNECTION_OK)
	{
		fprintf(stderr, "%s: could not connect: %s", CLI_PROGNAME, PQerrorMessage(conn));
		PQfinish(conn);
		return EXIT_ERROR;
	}
	PQsetNoticeReceiver(conn, ShowProgress, NULL);
	if (peer != NULL)
	{
		/* a node name or id */
		res = PQexecParams(conn,
						   "SELECT node_id FROM globalkv.nodes WHERE NOT dropped"
						   " AND (node_name = $1 OR node_id::text = $1)",
						   1, NULL, (const char *const[]) {peer}, NULL, NULL, 0);
		if (PQresultStatus(res) != PGRES_TUPLES_OK || PQntuples(res) != 1)
		{
			fprintf(stderr, "%s: no node named \"%s\"%s%s", CLI_PROGNAME, peer,
					PQresultStatus(res) == PGRES_TUPLES_OK ? "\n" : ": ",
					PQresultStatus(res) == PGRES_TUPLES_OK ? "" : PQerrorMessage(conn));
			PQclear(res);
			PQfinish(conn);
			return EXIT_ERROR;
		}
		params[1] = strdup(PQgetvalue(res, 0, 0));
		PQclear(res);
	}
	res = PQexecParams(conn,
					   repair ? "SELECT * FROM kv.repair($1::int, $2::int)"
					   : "SELECT * FROM kv.verify($1::int, $2::int)",
					   2, NULL, params, NULL, NULL, 0);
	if (PQresultStatus(res) != PGRES_TUPLES_OK)
	{
		print_server_error(conn, res, NULL);
		PQclear(res);
		PQfinish(conn);
		return EXIT_ERROR;
	}
	nrows = PQntuples(res);
	print_table(res);
	for (int r = 0; r < nrows; r++)
		differing += atoll(PQgetvalue(res, r, PQfnumber(res, "differing_keys")));
	if (nrows == 0)
		printf("nothing to compare: this node holds no shard that another zone holds%s\n",
			   shard || peer ? " (with --shard/--peer as given)" : "");
	else if (repair)
		printf("%lld differing keys repaired; run globalkv verify to check\n", differing);
	else
		printf(differing == 0 ? "in sync\n" : "%lld differing keys\n", differing);
	PQclear(res);
	PQfinish(conn);
	return (!repair && differing > 0) ? EXIT_DIFFER : 0;
}
