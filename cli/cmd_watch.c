/*-------------------------------------------------------------------------
 *
 * cmd_watch.c
 *	  globalkv watch -d CONNINFO [-d CONNINFO..] NAMESPACE [--after CURSOR]
 *	  [--count N] [--timeout SECONDS] [--zone ZONE]: follows the change
 *	  feed (kv.changes through libglobalkv's gkv_changes, docs/api.md
 *	  "Change feed") of a zone -- one JSON line per change on stdout
 *	  ({"key", "value", "version", "expires_at"}; value null for a delete),
 *	  and after each batch the cursor to resume from on stderr ("cursor
 *	  <text>").  Each call waits up to 10 s on the server for something
 *	  new, so an idle feed costs one request per 10 s.  Stops once --count
 *	  changes were printed (asking for no more than are missing; with
 *	  several nodes in the zone a last batch may hold a few more, all
 *	  printed), after --timeout seconds, or never.
 *
 * cli/cmd_watch.c
 *
 *-------------------------------------------------------------------------
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli_common.h"
#include "cmd_watch.h"
#include "globalkv_client.h"

#define WATCH_BATCH 1000
#define WATCH_WAIT_MS 10000

static void
print_change(const gkv_change *c)
{
	char	   *line = NULL;
	size_t		len = 0,
				cap = 0;

	cli_append(&line, &len, &cap, "{\"key\": ");
	cli_append_json_string(&line, &len, &cap, c->key);
	cli_append(&line, &len, &cap, ", \"value\": ");
	cli_append(&line, &len, &cap, c->value ? c->value : "null");
	cli_append(&line, &len, &cap, ", \"version\": ");
	cli_append_json_string(&line, &len, &cap, c->version);
	cli_append(&line, &len, &cap, ", \"expires_at\": ");
	if (c->expires_at)
		cli_append_json_string(&line, &len, &cap, c->expires_at);
	else
		cli_append(&line, &len, &cap, "null");
	cli_append(&line, &len, &cap, "}");
	puts(line);
	free(line);
}

int
watch_command(const char *const *seeds, int nseeds, const char *zone, const char *ns,
			  const char *cursor, long count, int timeout_s)
{
	gkv_options opts = {zone, NULL, 0};
	gkv_error	err;
	gkv_conn   *conn = gkv_connect(seeds, nseeds, &opts, &err);
	char	   *cur = cursor ? strdup(cursor) : NULL;
	long		seen = 0;
	double		start = cli_seconds();
	int			rc = 0;

	if (conn == NULL)
	{
		fprintf(stderr, "%s: ERROR %s: %s\n", CLI_PROGNAME, err.sqlstate, err.message);
		return strncmp(err.sqlstate, "08", 2) == 0 ? 1 : 2;
	}
	for (;;)
	{
		double		left = timeout_s > 0 ? timeout_s - (cli_seconds() - start) : WATCH_WAIT_MS / 1000.0;
		int			wait_ms = left * 1000 < WATCH_WAIT_MS ? (int) (left * 1000) : WATCH_WAIT_MS;
		/* never more than --count asks for, so the cursor covers only what was printed */
		int			batch = count > 0 && count - seen < WATCH_BATCH ? (int) (count - seen) : WATCH_BATCH;
		gkv_change *changes;
		int			n;
		char	   *next;

		if (left <= 0)
			break;
		if (gkv_changes(conn, ns, cur, batch, wait_ms, &changes, &n, &next, &err) != 0)
		{
			fprintf(stderr, "%s: ERROR %s: %s\n", CLI_PROGNAME, err.sqlstate, err.message);
			rc = 2;
			break;
		}
		for (int i = 0; i < n; i++)
			print_change(&changes[i]);
		seen += n;
		gkv_free_changes(changes, n);
		if (next)
		{
			free(cur);
			cur = next;
		}
		fflush(stdout);
		fprintf(stderr, "cursor %s\n", cur ? cur : "");
		if (count > 0 && seen >= count)
			break;
	}
	free(cur);
	gkv_close(conn);
	return rc;
}
