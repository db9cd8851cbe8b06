/*-------------------------------------------------------------------------
 *
 * cmd_shard.c
 *	  globalkv shard move SHARD --to NODE [--rollback] -d CONNINFO
 *	  globalkv rebalance [--zone ZONE] -d CONNINFO
 *
 * A shard move takes one placement to another node of its zone while
 * writes go on (docs/shard-moves.md):
 *
 *	1. prepare   the target records the move and pulls the shard from the
 *				 source with the replication pull itself, from cursor 0;
 *	2. copy      we show progress until the target is nearly caught up;
 *	3. fence     on the source, in a transaction we keep open, writes to
 *				 the shard are blocked (reads go on) and the target pulls
 *				 the rest; then the target takes the source's cursors and
 *				 the placement, the source gets the new placement, and the
 *				 fence ends: writers waiting on it are forwarded to the
 *				 target.  The time the fence stands is the write stall;
 *	4. drain     writes that reached the source after the switch (a node
 *				 with a stale catalog) are pulled by the target;
 *	5. cleanup   the move is marked complete and the source forgets the
 *				 shard.
 *
 * Every step can be repeated: running the same move again resumes it from
 * what the catalog says, and --rollback undoes a move that has not
 * switched.  If this process dies, the fence ends with its connection.
 *
 * Nodes are reached with the caller's connection options (-d) and the
 * node's port and database from the catalog; the host too, unless -d
 * names a Unix-socket directory (a local parade, where every node listens
 * in the same directory).
 *
 * cli/cmd_shard.c
 *
 *-------------------------------------------------------------------------
 */
#define _GNU_SOURCE
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "cli_common.h"
#include "cmd_shard.h"

#define MAX_NODES 256
#define FENCE_ATTEMPTS 5
#define FENCE_CATCH_UP_MS 5000
#define COPY_STALL_MS 60000

typedef struct Node
{
	int			id;
	char		name[64];
	char		zone[64];
	char	   *conninfo;		/* how this tool reaches it */
	PGconn	   *conn;
} Node;

static Node Nodes[MAX_NODES];
static int	NumNodes = 0;

static double
now_ms(void)
{
	struct timeval tv;

	gettimeofday(&tv, NULL);
	return tv.tv_sec * 1000.0 + tv.tv_usec / 1000.0;
}

/* the value of keyword in a parsed conninfo, or NULL */
static const char *
ci_value(PQconninfoOption *opts, const char *keyword)
{
	for (PQconninfoOption *o = opts; o && o->keyword; o++)
		if (strcmp(o->keyword, keyword) == 0 && o->val && o->val[0])
			return o->val;
	return NULL;
}

/*
 * node_conninfo: the caller's options, with the node's port and database
 * (and host, unless the caller connects through a socket directory).
 */
static char *
node_conninfo(const char *seed, const char *node_ci)
{
	char	   *err = NULL;
	PQconninfoOption *s = PQconninfoParse(seed, &err);
	PQconninfoOption *n = PQconninfoParse(node_ci, &err);
	const char *seed_host;
	char	   *out = NULL;
	size_t		len = 0;
	FILE	   *f;

	if (s == NULL || n == NULL)
		die("invalid connection string: %s", err ? err : "?");
	seed_host = ci_value(s, "host");
	f = open_memstream(&out, &len);
	for (PQconninfoOption *o = s; o->keyword; o++)
	{
		const char *v = o->val;

		if (strcmp(o->keyword, "port") == 0 || strcmp(o->keyword, "dbname") == 0 ||
			((strcmp(o->keyword, "host") == 0 || strcmp(o->keyword, "hostaddr") == 0) &&
			 !(seed_host && seed_host[0] == '/')))
			v = ci_value(n, o->keyword) ? ci_value(n, o->keyword) : v;
		if (v == NULL || v[0] == '\0')
			continue;
		fprintf(f, "%s='", o->keyword);
		for (const char *c = v; *c; c++)
		{
			if (*c == '\'' || *c == '\\')
				fputc('\\', f);
			fputc(*c, f);
		}
		fputs("' ", f);
	}
	fclose(f);
	PQconninfoFree(s);
	PQconninfoFree(n);
	return out;
}

static void
load_nodes(const char *seed)
{
	PGconn	   *conn = connect_or_die(seed);
	PGresult   *res = query(conn, "SELECT node_id, node_name, zone_name, conninfo"
							" FROM kv.nodes_admin ORDER BY node_id", 0, NULL);

	NumNodes = 0;
	for (int i = 0; i < PQntuples(res) && NumNodes < MAX_NODES; i++)
	{
		Node	   *n = &Nodes[NumNodes++];

		n->id = atoi(PQgetvalue(res, i, 0));
		snprintf(n->name, sizeof(n->name), "%s", PQgetvalue(res, i, 1));
		snprintf(n->zone, sizeof(n->zone), "%s", PQgetvalue(res, i, 2));
		n->conninfo = node_conninfo(seed, PQgetvalue(res, i, 3));
		n->conn = NULL;
	}
	PQclear(res);
	PQfinish(conn);
	if (NumNodes == 0)
		die("the node named by -d is not part of a parade");
}

static Node *
find_node(const char *name_or_id)
{
	for (int i = 0; i < NumNodes; i++)
		if (strcmp(Nodes[i].name, name_or_id) == 0 || atoi(name_or_id) == Nodes[i].id)
			return &Nodes[i];
	die("no node \"%s\" in the parade", name_or_id);
}

static Node *
node_by_id(int id)
{
	for (int i = 0; i < NumNodes; i++)
		if (Nodes[i].id == id)
			return &Nodes[i];
	die("node %d is not in the parade", id);
}

static PGconn *
conn_of(Node *n)
{
	if (n->conn == NULL)
		n->conn = connect_or_die(n->conninfo);
	return n->conn;
}

/* run a one-value query; returns a malloc'd copy of the value ("" if NULL) */
static char *
value(PGconn *conn, const char *sql, int nparams, const char *const *params)
{
	PGresult   *res = query(conn, sql, nparams, params);
	char	   *v = strdup(PQntuples(res) > 0 && !PQgetisnull(res, 0, 0) ? PQgetvalue(res, 0, 0) : "");

	PQclear(res);
	return v;
}

/* copy one catalog row (placements or shard_moves) from one node to another */
static void
copy_catalog_row(Node *from, Node *to, const char *tbl, const char *key, PGconn *to_conn)
{
	PGresult   *res = query(conn_of(from), "SELECT val, hlc, origin FROM globalkv.catalog_row($1, $2)",
							2, (const char *const[]) {tbl, key});
	const char *params[5] = {tbl, key,
		PQgetisnull(res, 0, 0) ? NULL : PQgetvalue(res, 0, 0),
	PQgetvalue(res, 0, 1), PQgetvalue(res, 0, 2)};

	PQclear(query(to_conn ? to_conn : conn_of(to),
				  "SELECT globalkv.apply_catalog_row($1, $2, $3::jsonb, $4::bigint, $5::int)",
				  5, params));
	PQclear(res);
}

/* the shard's last change sequence on a node */
static int64_t
shard_last_seq(Node *n, const char *shard)
{
	char	   *t = value(conn_of(n), "SELECT table_name FROM globalkv.shards WHERE shard_id = $1::int",
						  1, (const char *const[]) {shard});
	char	   *sql;
	char	   *v;
	int64_t		r;
	PGresult   *res;

	res = query(conn_of(n), "SELECT format('SELECT coalesce(max(seq), 0) FROM globalkv_data.%I', $1::text)",
				1, (const char *const[]) {t});
	sql = strdup(PQgetvalue(res, 0, 0));
	PQclear(res);
	v = value(conn_of(n), sql, 0, NULL);
	r = strtoll(v, NULL, 10);
	free(v);
	free(sql);
	free(t);
	return r;
}

/* the target's cursor on the source for the shard */
static int64_t
target_cursor(Node *target, const char *shard)
{
	char	   *v = value(conn_of(target), "SELECT source_cursor FROM globalkv.move_progress($1::int)",
						  1, (const char *const[]) {shard});
	int64_t		r = strtoll(v, NULL, 10);

	free(v);
	return r;
}

static int64_t
target_cursor_on(Node *target, Node *source, const char *shard)
{
	char		src[16];
	char	   *v;
	int64_t		r;

	snprintf(src, sizeof(src), "%d", source->id);
	v = value(conn_of(target), "SELECT coalesce(max(cursor), 0) FROM globalkv.peer_cursors"
			  " WHERE peer_node_id = $1::int AND shard_id = $2::int",
			  2, (const char *const[]) {src, shard});
	r = strtoll(v, NULL, 10);
	free(v);
	return r;
}

/* copy phase: show progress until the target is within ~1 s of the source */
static void
wait_for_copy(Node *source, Node *target, const char *shard)
{
	double		last_print = 0;
	double		last_progress = now_ms();
	int64_t		prev_cursor = -1;

	for (;;)
	{
		int64_t		last = shard_last_seq(source, shard);
		PGresult   *res = query(conn_of(target),
								"SELECT rows_copied, source_cursor FROM globalkv.move_progress($1::int)",
								1, (const char *const[]) {shard});
		long long	rows = atoll(PQgetvalue(res, 0, 0));
		int64_t		cursor = strtoll(PQgetvalue(res, 0, 1), NULL, 10);
		long long	behind_ms = cursor >= last ? 0 : (long long) ((last >> 16) - (cursor >> 16));

		PQclear(res);
		if (now_ms() - last_print > 1000 || cursor >= last || behind_ms < 500)
		{
			if (cursor == 0)
				printf("    copying: starting (%s has %lld rows of the shard so far)\n",
					   target->name, rows);
			else
				printf("    copying: %lld rows on %s, %lld ms behind %s\n",
					   rows, target->name, behind_ms, source->name);
			fflush(stdout);
			last_print = now_ms();
		}
		/* an empty shard (last = 0) has nothing to copy */
		if (cursor >= last || behind_ms < 500)
			return;
		if (cursor != prev_cursor)
		{
			prev_cursor = cursor;
			last_progress = now_ms();
		}
		else if (now_ms() - last_progress > COPY_STALL_MS)
			die("shard %s: %s has pulled nothing from %s for %d s (see globalkv status -d on %s); "
				"the move stays in its copy phase: run the same command to resume, or add --rollback",
				shard, target->name, source->name, COPY_STALL_MS / 1000, target->name);
		usleep(200 * 1000);
	}
}

/*
 * fence_and_switch: returns the stall in ms, or -1 when the target did not
 * catch up in time under the fence (the fence is lifted; try again).
 */
static double
fence_and_switch(Node *source, Node *target, const char *shard)
{
	PGconn	   *fence = connect_or_die(source->conninfo);
	PGresult   *res;
	int64_t		last;
	char	   *cursors;
	char		src[16];
	char	   *key;
	double		t0;

	snprintf(src, sizeof(src), "%d", source->id);

	/*
	 * Writers queue behind a fence that waits for its lock, so the fence
	 * waits at most 100 ms at a time (a background worker's pass over the
	 * shard) and tries again: a short stall, repeated, rather than a long one.
	 */
	for (int attempt = 0;; attempt++)
	{
		const char *state;

		PQclear(query(fence, "BEGIN", 0, NULL));
		PQclear(query(fence, "SET LOCAL lock_timeout = '100ms'", 0, NULL));
		t0 = now_ms();
		res = PQexecParams(fence, "SELECT last_seq, cursors FROM globalkv.move_fence($1::int)",
						   1, NULL, (const char *const[]) {shard}, NULL, NULL, 0);
		if (PQresultStatus(res) == PGRES_TUPLES_OK)
		{
			/* fenced: the rest of the switch may wait for catalog row locks */
			PQclear(query(fence, "SET LOCAL lock_timeout = '30s'", 0, NULL));
			break;
		}
		state = PQresultErrorField(res, PG_DIAG_SQLSTATE);
		if (state == NULL || strcmp(state, "55P03") != 0 || attempt == 100)
			die("shard %s: could not fence it on %s: %s", shard, source->name,
				PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY) ?
				PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY) : PQerrorMessage(fence));
		PQclear(res);
		PQclear(query(fence, "ROLLBACK", 0, NULL));
		usleep(50 * 1000);
	}
	last = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
	cursors = strdup(PQgetvalue(res, 0, 1));
	PQclear(res);
	while (target_cursor(target, shard) < last)
	{
		if (now_ms() - t0 > FENCE_CATCH_UP_MS)
		{
			PQclear(query(fence, "ROLLBACK", 0, NULL));
			PQfinish(fence);
			free(cursors);
			return -1;
		}
		usleep(2 * 1000);
	}
	key = value(conn_of(target), "SELECT globalkv.move_switch($1::int, $2::int, $3::jsonb)",
				3, (const char *const[]) {shard, src, cursors});
	copy_catalog_row(target, source, "placements", key, fence);
	copy_catalog_row(target, source, "shard_moves", key, fence);
	PQclear(query(fence, "COMMIT", 0, NULL));
	PQfinish(fence);
	free(cursors);
	free(key);
	return now_ms() - t0;
}

static int
move_shard(int shard_id, Node *target, bool rollback)
{
	char		shard[16];
	char	   *state;
	Node	   *source;
	double		started = now_ms();
	double		stall = 0;
	char	   *key;
	PGresult   *res;
	long long	rows;

	snprintf(shard, sizeof(shard), "%d", shard_id);
	res = query(conn_of(target), "SELECT state, source_node, target_node FROM globalkv.move_progress($1::int)",
				1, (const char *const[]) {shard});
	state = strdup(PQgetvalue(res, 0, 0));
	if (strcmp(state, "none") != 0 && atoi(PQgetvalue(res, 0, 2)) != target->id)
		die("shard %d of zone %s is being moved to %s: finish that move first "
			"(globalkv shard move %d --to %s), or roll it back if it has not switched",
			shard_id, target->zone, node_by_id(atoi(PQgetvalue(res, 0, 2)))->name, shard_id,
			node_by_id(atoi(PQgetvalue(res, 0, 2)))->name);
	if (strcmp(state, "none") != 0)
		source = node_by_id(atoi(PQgetvalue(res, 0, 1)));
	else
	{
		char	   *holder = value(conn_of(target),
								   "SELECT node_id FROM kv.placements WHERE shard_id = $1::int AND zone_name = $2",
								   2, (const char *const[]) {shard, target->zone});

		if (holder[0] == '\0')
			die("shard %d does not exist", shard_id);
		source = node_by_id(atoi(holder));
		free(holder);
	}
	PQclear(res);
	if (asprintf(&key, "%d/%s", shard_id, target->zone) < 0)
		die("out of memory");

	if (rollback)
	{
		if (strcmp(state, "none") == 0)
		{
			printf("==> shard %d: no move to %s to roll back\n", shard_id, target->name);
			return 0;
		}
		PQclear(query(conn_of(target), "SELECT globalkv.move_abort($1::int)", 1,
					  (const char *const[]) {shard}));
		copy_catalog_row(target, source, "shard_moves", key, NULL);
		printf("==> shard %d: move from %s to %s rolled back; %s holds it\n",
			   shard_id, source->name, target->name, source->name);
		return 0;
	}
	if (source == target && strcmp(state, "none") == 0)
	{
		printf("==> shard %d of zone %s is already on %s\n", shard_id, target->zone, target->name);
		return 0;
	}

	printf("==> shard %d of zone %s: %s -> %s%s\n", shard_id, target->zone, source->name,
		   target->name, strcmp(state, "none") == 0 ? "" : " (resuming)");
	fflush(stdout);
	{
		char		src[16];

		snprintf(src, sizeof(src), "%d", source->id);
		free(state);
		state = value(conn_of(target), "SELECT globalkv.move_prepare($1::int, $2::int)",
					  2, (const char *const[]) {shard, src});
	}
	copy_catalog_row(target, source, "shard_moves", key, NULL);

	if (strcmp(state, "copying") == 0)
	{
		int			attempt;

		wait_for_copy(source, target, shard);
		for (attempt = 0; attempt < FENCE_ATTEMPTS; attempt++)
		{
			stall = fence_and_switch(source, target, shard);
			if (stall >= 0)
				break;
			printf("    %s did not catch up under the fence in %d ms; lifted it, trying again\n",
				   target->name, FENCE_CATCH_UP_MS);
			wait_for_copy(source, target, shard);
		}
		if (attempt == FENCE_ATTEMPTS)
			die("shard %d: the target could not catch up under the fence; the move stays in its copy phase "
				"(run the same command to resume, or add --rollback)", shard_id);
		printf("    switched: %s holds shard %d; writes were blocked for %.0f ms\n",
			   target->name, shard_id, stall);
	}
	else
	{
		/* resuming after the switch: make sure the source knows */
		copy_catalog_row(target, source, "placements", key, NULL);
		printf("    already switched; finishing\n");
	}
	fflush(stdout);

	/* drain: whatever reached the source after the switch */
	{
		char	   *d = value(conn_of(source), "SELECT globalkv.move_drain_point($1::int)",
							  1, (const char *const[]) {shard});
		int64_t		drain = strtoll(d, NULL, 10);
		double		t0 = now_ms();

		free(d);
		while (drain > 0 && target_cursor_on(target, source, shard) < drain)
		{
			if (now_ms() - t0 > 60000)
				die("shard %d: %s has not pulled the last changes from %s within 60 s; "
					"run the same command again to finish", shard_id, target->name, source->name);
			usleep(20 * 1000);
		}
	}
	PQclear(query(conn_of(target), "SELECT globalkv.move_complete($1::int)", 1,
				  (const char *const[]) {shard}));
	copy_catalog_row(target, source, "shard_moves", key, NULL);
	{
		char	   *n = value(conn_of(source), "SELECT globalkv.move_cleanup($1::int)", 1,
							  (const char *const[]) {shard});

		free(n);
	}
	res = query(conn_of(target), "SELECT format('SELECT count(*) FROM globalkv_data.%I', table_name)"
				" FROM globalkv.shards WHERE shard_id = $1::int", 1, (const char *const[]) {shard});
	{
		char	   *n = value(conn_of(target), PQgetvalue(res, 0, 0), 0, NULL);

		rows = atoll(n);
		free(n);
	}
	PQclear(res);
	printf("==> shard %d moved to %s: %lld rows (tombstones included) in %.1f s, longest write stall %.0f ms\n",
		   shard_id, target->name, rows, (now_ms() - started) / 1000.0, stall);
	fflush(stdout);
	free(key);
	free(state);
	return 0;
}

int
shard_command(int nargs, char **args, const char *conninfo, const char *to_node, bool rollback)
{
	if (nargs != 3 || strcmp(args[1], "move") != 0)
		die("usage: globalkv shard move SHARD --to NODE [--rollback] -d CONNINFO");
	if (to_node == NULL)
		die("shard move needs --to NODE (a node name or id)");
	load_nodes(conninfo);
	return move_shard(atoi(args[2]), find_node(to_node), rollback);
}

/*
 * rebalance: spread the shards of a zone evenly over its nodes, moving as
 * few as possible -- one shard at a time from the node with the most to
 * the node with the fewest, until they differ by at most one.
 */
int
rebalance_command(const char *conninfo, const char *zone)
{
	PGconn	   *conn;
	PGresult   *res;
	int			count[MAX_NODES] = {0};
	int			nmoves = 0;

	load_nodes(conninfo);
	conn = connect_or_die(conninfo);
	if (zone == NULL)
		zone = value(conn, "SELECT zone_name FROM kv.node", 0, NULL);
	for (;;)
	{
		int			most = -1,
					fewest = -1;
		int			shard = -1;

		for (int i = 0; i < NumNodes; i++)
			count[i] = 0;
		res = query(conn, "SELECT shard_id, node_id FROM kv.placements WHERE zone_name = $1"
					" ORDER BY shard_id DESC", 1, (const char *const[]) {zone});
		for (int r = 0; r < PQntuples(res); r++)
			for (int i = 0; i < NumNodes; i++)
				if (Nodes[i].id == atoi(PQgetvalue(res, r, 1)))
					count[i]++;
		for (int i = 0; i < NumNodes; i++)
		{
			if (strcmp(Nodes[i].zone, zone) != 0)
				continue;
			if (most < 0 || count[i] > count[most])
				most = i;
			if (fewest < 0 || count[i] < count[fewest])
				fewest = i;
		}
		if (most < 0)
			die("zone \"%s\" has no nodes", zone);
		if (count[most] - count[fewest] <= 1)
		{
			PQclear(res);
			break;
		}
		for (int r = 0; r < PQntuples(res) && shard < 0; r++)
			if (atoi(PQgetvalue(res, r, 1)) == Nodes[most].id)
				shard = atoi(PQgetvalue(res, r, 0));
		PQclear(res);
		move_shard(shard, &Nodes[fewest], false);
		nmoves++;
		PQfinish(conn);
		conn = connect_or_die(conninfo);
		/* the catalog on the -d node learns the switch through replication */
		for (int wait = 0; wait < 100; wait++)
		{
			char		s[16];
			char	   *holder;

			snprintf(s, sizeof(s), "%d", shard);
			holder = value(conn, "SELECT node_id FROM kv.placements WHERE shard_id = $1::int AND zone_name = $2",
						   2, (const char *const[]) {s, zone});
			if (atoi(holder) == Nodes[fewest].id)
			{
				free(holder);
				break;
			}
			free(holder);
			usleep(100 * 1000);
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
