/*-------------------------------------------------------------------------
 *
 * cmd_data.c
 *	  globalkv put | get | delete | shard-of, through libglobalkv, as any
 *	  user of the client library would.
 *
 * cli/cmd_data.c
 *
 *-------------------------------------------------------------------------
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli_common.h"
#include "globalkv_client.h"

static void
fail(const gkv_error *err)
{
	fprintf(stderr, "globalkv: ERROR %s: %s%s%s%s\n", err->sqlstate, err->message,
			err->node[0] ? " (node \"" : "", err->node, err->node[0] ? "\")" : "");
	exit(2);
}

int
data_command(int nargs, char **args, const char *conninfo, const char *zone, long ttl)
{
	gkv_options opts = {zone, NULL, 0};
	gkv_error	err;
	gkv_conn   *conn = gkv_connect((const char *const[]) {conninfo}, 1, &opts, &err);
	int			rc = 0;

	if (conn == NULL)
		fail(&err);
	if (strcmp(args[0], "put") == 0 && nargs == 4)
	{
		gkv_put_result result;

		if (ttl > 0)
		{
			/* the library puts by policy; a TTL put goes to the seed, which routes it */
			PGconn	   *pg = connect_or_die(conninfo);
			char		sql_ttl[32];
			PGresult   *res;

			snprintf(sql_ttl, sizeof(sql_ttl), "%ld", ttl);
			res = query(pg, "SELECT kv.put($1, $2, $3::text, $4::bigint)", 4,
						(const char *const[]) {args[1], args[2], args[3], sql_ttl});
			printf("%s\n", PQgetvalue(res, 0, 0));
			PQclear(res);
			PQfinish(pg);
		}
		else if (gkv_put(conn, args[1], args[2], args[3], NULL, result, &err) != 0)
			fail(&err);
		else
			printf("%s\n", result);
	}
	else if (strcmp(args[0], "get") == 0 && nargs == 3)
	{
		char	   *doc;

		if (gkv_get(conn, args[1], args[2], &doc, &err) != 0)
			fail(&err);
		if (doc)
			printf("%s\n", doc);
		rc = doc ? 0 : 3;		/* 3: no such document, like grep's "no match" */
		gkv_free(doc);
	}
	else if (strcmp(args[0], "delete") == 0 && nargs == 3)
	{
		int			deleted;

		if (gkv_delete(conn, args[1], args[2], &deleted, &err) != 0)
			fail(&err);
		printf("%s\n", deleted ? "DELETED" : "NOT FOUND");
	}
	else if (strcmp(args[0], "shard-of") == 0 && nargs >= 3)
	{
		for (int i = 2; i < nargs; i++)
		{
			int			shard = gkv_shard_of(conn, args[1], args[i]);

			printf("%s\t%u\t%d\t%s\n", args[i], gkv_key_hash32(args[1], args[i]), shard,
				   gkv_shard_holder(conn, shard));
		}
	}
	else
	{
		gkv_close(conn);
		die("wrong arguments for \"%s\" (see globalkv --help)", args[0]);
	}
	gkv_close(conn);
	return rc;
}
