/*-------------------------------------------------------------------------
 *
 * cmd_status.c
 *	  globalkv status -d CONNINFO
 *
 * What one node knows, as tables: itself, the parade, the placements per
 * node (with the moves under way), its replication from each peer, and
 * its operation counters.  Everything comes from the kv views of the node
 * named by -d, in one connection; a node's view of the others is what
 * replication has told it, so running status on two nodes can differ
 * while a change travels.
 *
 * cli/cmd_status.c
 *
 *-------------------------------------------------------------------------
 */
#define _POSIX_C_SOURCE 200809L
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli_common.h"
#include "cmd_status.h"

/* PrintStatus prints one picture of the node; its operation counters in *ops */
static void
PrintStatus(PGconn *conn, double *ops, int nops)
{
	PGresult   *res;

	res = query(conn, "SELECT node_id, node_name, zone_name, shard_count FROM kv.node", 0, NULL);
	printf("This node\n");
	print_table(res);
	PQclear(res);
	res = query(conn, "SELECT node_id, node_name, zone_name, is_local FROM kv.nodes ORDER BY zone_name, node_id",
				0, NULL);
	printf("\nParade\n");
	print_table(res);
	PQclear(res);
	res = query(conn, "SELECT p.zone_name, p.node_name, count(*) AS shards,"
				"       string_agg(p.shard_id::text, ',' ORDER BY p.shard_id) AS shard_ids,"
				"       coalesce(string_agg(p.shard_id || '->' || p.moving_to || ' (' || p.move_state || ')', ', ')"
				"                FILTER (WHERE p.moving_to IS NOT NULL), '') AS moving"
				"  FROM kv.placements p GROUP BY p.zone_name, p.node_name ORDER BY 1, 2", 0, NULL);
	printf("\nPlacements per node\n");
	print_table(res);
	PQclear(res);
	res = query(conn,
				"SELECT peer_node_id AS peer, peer_name, connected, lag_ms, lag_rows, rows_applied,"
				"       conflicts, max_clock_skew_ms AS clock_skew_ms,"
				"       to_char(last_contact, 'HH24:MI:SS.MS') AS last_contact,"
				"       coalesce(last_error, '') AS last_error"
				"  FROM kv.replication_status ORDER BY peer_node_id", 0, NULL);
	printf("\nReplication (this node pulling from each peer)\n");
	print_table(res);
	PQclear(res);
	res = query(conn, "SELECT puts, gets, deletes, patches, conflicts, expired_rows,"
				" replicated_rows, replication_conflicts FROM kv.stats", 0, NULL);
	printf("\nOperations since start\n");
	print_table(res);
	for (int i = 0; i < nops && i < PQnfields(res); i++)
		ops[i] = atof(PQgetvalue(res, 0, i));
	PQclear(res);
}

/* the counters of kv.stats that get a rate: puts .. replicated_rows */
#define RATE_COLUMNS 8

int
status_command(const char *conninfo, int watch_seconds, int count)
{
	static const char *const names[RATE_COLUMNS] = {
		"puts", "gets", "deletes", "patches", "conflicts", "expired", "replicated", "repl_conflicts"
	};
	PGconn	   *conn = connect_or_die(conninfo);
	double		ops[RATE_COLUMNS] = {0},
				before[RATE_COLUMNS] = {0};
	double		then = 0;
	bool		tty = isatty(fileno(stdout));

	if (watch_seconds <= 0)
	{
		PrintStatus(conn, ops, RATE_COLUMNS);
		PQfinish(conn);
		return 0;
	}

	/* --watch: refreshed in place every watch_seconds, as top does */
	for (int round = 1; count == 0 || round <= count; round++)
	{
		double		now;
		time_t		wall = time(NULL);
		char		stamp[16];

		strftime(stamp, sizeof(stamp), "%H:%M:%S", localtime(&wall));
		if (tty)
			printf("\033[H\033[2J");	/* home, clear */
		printf("globalkv status, every %d s, %s%s\n\n", watch_seconds, stamp,
			   count == 0 ? " (Ctrl-C to stop)" : "");
		PrintStatus(conn, ops, RATE_COLUMNS);
		now = cli_seconds();
		printf("\nPer second");
		if (then == 0)
			printf(" (from the next refresh on)\n");
		else
		{
			printf(" over the last %.1f s:", now - then);
			for (int i = 0; i < RATE_COLUMNS; i++)
				printf(" %s %.0f%s", names[i], (ops[i] - before[i]) / (now - then),
					   i < RATE_COLUMNS - 1 ? "," : "");
			printf("\n");
		}
		fflush(stdout);
		memcpy(before, ops, sizeof(ops));
		then = now;
		if (count == 0 || round < count)
			sleep((unsigned) watch_seconds);
	}
	PQfinish(conn);
	return 0;
}
