/*-------------------------------------------------------------------------
 *
 * cmd_data.c
 *	  globalkv put | get | delete | touch | scan | shard-of, through
 *	  libglobalkv, as any
 *	  user of the client library would: the -d nodes are seeds for the
 *	  shard map, and each call goes to the node holding the key in the
 *	  caller's zone (--zone, else the zone of the seed that answered).
 *
 * Exit status, as before the library: 0 done, 1 usage or connection
 * failure, 2 an error from a node (printed with its SQLSTATE), 3 get or
 * touch found no document.
 *
 * cli/cmd_data.c
 *
 *-------------------------------------------------------------------------
 */
#define _GNU_SOURCE
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

/*
 * scan_pages prints key<TAB>document for every document whose key starts
 * with prefix, page after page (each page one kv.scan), at most 'count'
 * (0: all); the output streams, the memory is one page.
 */
#define SCAN_PAGE 1000

static int
scan_pages(gkv_conn *conn, const char *ns, const char *prefix, const char *after, long count)
{
	char	   *keys[SCAN_PAGE];
	char	   *values[SCAN_PAGE];
	char	   *last = after ? strdup(after) : NULL;
	long		printed = 0;
	gkv_error	err;

	for (;;)
	{
		int			page = count > 0 && count - printed < SCAN_PAGE ? (int) (count - printed) : SCAN_PAGE;
		int			n;

		if (page == 0)
			break;
		if (gkv_scan(conn, ns, prefix, last, page, keys, values, &n, &err) != 0)
			fail(&err, 2);
		for (int i = 0; i < n; i++)
		{
			printf("%s\t%s\n", keys[i], values[i]);
			gkv_free(values[i]);
			if (i < n - 1)
				gkv_free(keys[i]);
		}
		printed += n;
		if (n > 0)
		{
			free(last);
			last = keys[n - 1];
		}
		if (n < page)
			break;
	}
	free(last);
	return 0;
}

int
data_command(int nargs, char **args, const char *const *seeds, int nseeds, const DataOptions *o)
{
	const char *cmd = args[0];
	gkv_options opts = {o->zone, NULL, 0};
	long		ttl = o->ttl;
	gkv_error	err;
	gkv_conn   *conn;
	int			rc = 0;

	/* arguments first: no connection for a typo */
	if (!((strcmp(cmd, "put") == 0 && nargs == 4) ||
		  ((strcmp(cmd, "get") == 0 || strcmp(cmd, "delete") == 0 || strcmp(cmd, "scan") == 0) &&
		   nargs == 3) ||
		  (strcmp(cmd, "touch") == 0 && nargs == 3 && ttl > 0) ||
		  (strcmp(cmd, "shard-of") == 0 && nargs >= 3)))
		die("wrong arguments for \"%s\" (see globalkv --help)", cmd);
	if (ttl < 0)
		die("--ttl must be positive");
	if (o->count < 0)
		die("--count must be positive");

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
	else if (strcmp(cmd, "touch") == 0)
	{
		int			touched;

		if (gkv_touch(conn, args[1], args[2], ttl, &touched, &err) != 0)
			fail(&err, 2);
		printf("%s\n", touched ? "TOUCHED" : "NOT FOUND");
		rc = touched ? 0 : 3;
	}
	else if (strcmp(cmd, "scan") == 0)
		rc = scan_pages(conn, args[1], args[2], o->after, o->count);
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
