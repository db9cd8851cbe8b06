/*-------------------------------------------------------------------------
 *
 * cmd_data.c
 *	  globalkv put | get | delete | shard-of, through libglobalkv, as any
 *	  user of the client library would: the -d nodes are seeds for the
 *	  shard map, and each call goes to the node holding the key in the
 *	  caller's zone (--zone, else the zone of the seed that answered).
 *
 * Exit status, as before the library: 0 done, 1 usage or connection
 * failure, 2 an error from a node (printed with its SQLSTATE), 3 get found
 * no document.
 *
 * cli/cmd_data.c
 *
 *-------------------------------------------------------------------------
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli_common.h"
#include "cmd_data.h"
#include "globalkv_client.h"

/* prints the error the way query() prints a server's, and exits */
static void
fail(const gkv_error *err, int status)
{
	fprintf(stderr, "globalkv: ERROR %s: %s\n", err->sqlstate, err->message);
	if (err->detail[0])
		fprintf(stderr, "  detail: %s\n", err->detail);
	if (err->hint[0])
		fprintf(stderr, "  hint: %s\n", err->hint);
	if (err->node[0])
		fprintf(stderr, "  node: %s\n", err->node);
	exit(status);
}

int
data_command(int nargs, char **args, const char *const *seeds, int nseeds, const char *zone, long ttl)
{
	const char *cmd = args[0];
	gkv_options opts = {zone, NULL, 0};
	gkv_error	err;
	gkv_conn   *conn;
	int			rc = 0;

	/* arguments first: no connection for a typo */
	if (!((strcmp(cmd, "put") == 0 && nargs == 4) ||
		  ((strcmp(cmd, "get") == 0 || strcmp(cmd, "delete") == 0) && nargs == 3) ||
		  (strcmp(cmd, "shard-of") == 0 && nargs >= 3)))
		die("wrong arguments for \"%s\" (see globalkv --help)", cmd);
	if (ttl < 0)
		die("--ttl must be positive");

	conn = gkv_connect(seeds, nseeds, &opts, &err);
	if (conn == NULL)
	{
		/* no map: a connection failure (1), or a seed's own error (2) */
		fail(&err, strncmp(err.sqlstate, "08", 2) == 0 ? 1 : 2);
	}

	if (strcmp(cmd, "put") == 0)
	{
		gkv_put_result result;
		int			r = ttl > 0 ? gkv_put_ttl(conn, args[1], args[2], args[3], ttl, result, &err)
			: gkv_put(conn, args[1], args[2], args[3], NULL, result, &err);

		if (r != 0)
			fail(&err, 2);
		printf("%s\n", result);
	}
	else if (strcmp(cmd, "get") == 0)
	{
		char	   *doc;

		if (gkv_get(conn, args[1], args[2], &doc, &err) != 0)
			fail(&err, 2);
		if (doc)
			printf("%s\n", doc);
		rc = doc ? 0 : 3;		/* 3: no such document, like grep's "no match" */
		gkv_free(doc);
	}
	else if (strcmp(cmd, "delete") == 0)
	{
		int			deleted;

		if (gkv_delete(conn, args[1], args[2], &deleted, &err) != 0)
			fail(&err, 2);
		printf("%s\n", deleted ? "DELETED" : "NOT FOUND");
	}
	else
	{
		/* shard-of: from the map alone, no call to any node */
		for (int i = 2; i < nargs; i++)
		{
			int			shard = gkv_shard_of(conn, args[1], args[i]);

			printf("%s\t%u\t%d\t%s\n", args[i], (unsigned) gkv_key_hash32(args[1], args[i]), shard,
				   gkv_shard_holder(conn, shard));
		}
	}
	gkv_close(conn);
	return rc;
}
