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
#include <stdio.h>

#include "cli_common.h"
#include "cmd_status.h"

int
status_command(const char *conninfo)
{
	PGconn	   *conn = connect_or_die(conninfo);
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
	PQclear(res);
	PQfinish(conn);
	return 0;
}
