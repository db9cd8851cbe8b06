/*-------------------------------------------------------------------------
 *
 * cmd_shard.c
 *	  globalkv shard move SHARD --to NODE [--rollback] -d CONNINFO
 *	  globalkv rebalance [--zone ZONE] -d CONNINFO
 *
 * A shard move is driven by the server: these commands call
 * kv.move_shard on the node named by -d, which reaches the source and the
 * target itself with the catalog's connection strings and reports its
 * progress as NOTICEs (docs/shard-moves.md, src/operations/shard_move.c).
 * Here we only print those as they come, and the result.  Running the same
 * command again resumes an interrupted move; --rollback undoes one that
 * has not switched.  If this process dies, the server finds its client
 * gone within a second and stops the move; the fence ends with it.
 *
 * rebalance chooses the moves -- one shard at a time from the node of the
 * zone with the most to the one with the fewest -- and makes each with
 * kv.move_shard.
 *
 * cli/cmd_shard.c
 *
 *-------------------------------------------------------------------------
 */
#define _POSIX_C_SOURCE 200809L
#include <ctype.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli_common.h"
#include "cmd_shard.h"

#define MAX_ZONE_NODES 256

/* the server's NOTICEs are the move's progress: one line each, as they come */
static void
print_notice(void *arg, const PGresult *res)
{
	const char *severity = PQresultErrorField(res, PG_DIAG_SEVERITY_NONLOCALIZED);
	const char *message = PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY);
	const char *detail = PQresultErrorField(res, PG_DIAG_MESSAGE_DETAIL);

	if (message == NULL)
		return;
	if (severity != NULL && strcmp(severity, "NOTICE") != 0 && strcmp(severity, "INFO") != 0)
	{
		fprintf(stderr, "%s: %s: %s\n", CLI_PROGNAME, severity, message);
		return;
	}
	printf("    %s\n", message);
	if (detail != NULL)
		printf("      (%s)\n", detail);
	fflush(stdout);
}

static void
sleep_ms(long ms)
{
	struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};

	nanosleep(&ts, NULL);
}

/* a node name or id (--to) as the id; dies when the parade has no such node */
static int
node_id_of(PGconn *conn, const char *name_or_id)
{
	PGresult   *res;
	int			id;
	bool		digits = name_or_id[0] != '\0';

	for (const char *c = name_or_id; *c; c++)
		digits = digits && isdigit((unsigned char) *c);
	if (digits)
		return atoi(name_or_id);
	res = query(conn, "SELECT node_id FROM kv.nodes WHERE node_name = $1", 1,
				(const char *const[]) {name_or_id});
	if (PQntuples(res) == 0)
		die("no node \"%s\" in the parade", name_or_id);
	id = atoi(PQgetvalue(res, 0, 0));
	PQclear(res);
	return id;
}

/* one move through kv.move_shard on conn; prints its progress and result */
static void
move_shard(PGconn *conn, int shard, int target, bool rollback)
{
	char		s[16],
				t[16];
	PGresult   *res;

	snprintf(s, sizeof(s), "%d", shard);
	snprintf(t, sizeof(t), "%d", target);
	res = query(conn, "SELECT * FROM kv.move_shard($1::integer, $2::integer, $3::boolean)", 3,
				(const char *const[]) {s, t, rollback ? "true" : "false"});
	print_table(res);
	PQclear(res);
	fflush(stdout);
}

int
shard_command(int nargs, char **args, const char *conninfo, const char *to_node, bool rollback)
{
	PGconn	   *conn;

	if (nargs != 3 || strcmp(args[1], "move") != 0)
		die("usage: globalkv shard move SHARD --to NODE [--rollback] -d CONNINFO");
	if (to_node == NULL)
		die("shard move needs --to NODE (a node name or id)");
	conn = connect_or_die(conninfo);
	PQsetNoticeReceiver(conn, print_notice, NULL);
	move_shard(conn, atoi(args[2]), node_id_of(conn, to_node), rollback);
	PQfinish(conn);
	return 0;
}

/*
 * rebalance: spread the shards of a zone evenly over its nodes, moving as
 * few as possible -- one shard at a time from the node with the most to
 * the node with the fewest, until they differ by at most one.
 */
int
rebalance_command(const char *conninfo, const char *zone)
{
	PGconn	   *conn = connect_or_die(conninfo);
	PGresult   *res;
	int			nmoves = 0;

	PQsetNoticeReceiver(conn, print_notice, NULL);
	if (zone == NULL)
	{
		res = query(conn, "SELECT zone_name FROM kv.node", 0, NULL);
		zone = strdup(PQgetvalue(res, 0, 0));
		PQclear(res);
	}
	for (;;)
	{
		int			most = -1,
					fewest = -1;
		int			shard = -1;
		int			ids[MAX_ZONE_NODES];
		int			count[MAX_ZONE_NODES];
		int			n;
		char		s[16],
					t[16];

		/* shards per node of the zone, in node order (ties go to the first) */
		res = query(conn, "SELECT n.node_id, count(p.shard_id) FROM kv.nodes n"
					" LEFT JOIN kv.placements p ON p.node_id = n.node_id AND p.zone_name = n.zone_name"
					" WHERE n.zone_name = $1 GROUP BY n.node_id ORDER BY n.node_id",
					1, (const char *const[]) {zone});
		n = PQntuples(res) < MAX_ZONE_NODES ? PQntuples(res) : MAX_ZONE_NODES;
		for (int i = 0; i < n; i++)
		{
			ids[i] = atoi(PQgetvalue(res, i, 0));
			count[i] = atoi(PQgetvalue(res, i, 1));
			if (most < 0 || count[i] > count[most])
				most = i;
			if (fewest < 0 || count[i] < count[fewest])
				fewest = i;
		}
		PQclear(res);
		if (most < 0)
			die("zone \"%s\" has no nodes", zone);
		if (count[most] - count[fewest] <= 1)
			break;
		snprintf(s, sizeof(s), "%d", ids[most]);
		res = query(conn, "SELECT max(shard_id) FROM kv.placements WHERE zone_name = $1 AND node_id = $2::integer",
					2, (const char *const[]) {zone, s});
		shard = atoi(PQgetvalue(res, 0, 0));
		PQclear(res);
		move_shard(conn, shard, ids[fewest], false);
		nmoves++;

		/*
		 * The -d node learns the switch through replication, unless it was
		 * the source or the target: count again once it has.
		 */
		snprintf(s, sizeof(s), "%d", shard);
		snprintf(t, sizeof(t), "%d", ids[fewest]);
		for (int wait = 0; wait < 100; wait++)
		{
			bool		known;

			res = query(conn, "SELECT 1 FROM kv.placements WHERE shard_id = $1::integer AND zone_name = $2"
						" AND node_id = $3::integer", 3, (const char *const[]) {s, zone, t});
			known = PQntuples(res) > 0;
			PQclear(res);
			if (known)
				break;
			sleep_ms(100);
		}
	}
	printf("==> zone %s is balanced (%d move%s)\n", zone, nmoves, nmoves == 1 ? "" : "s");
	res = query(conn, "SELECT node_name, count(*) AS shards FROM kv.placements WHERE zone_name = $1"
				" GROUP BY node_name ORDER BY node_name", 1, (const char *const[]) {zone});
	print_table(res);
	PQclear(res);
	PQfinish(conn);
	return 0;
}
