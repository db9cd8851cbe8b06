/*-------------------------------------------------------------------------
 *
 * cmd_node.c
 *	  globalkv node add: a real machine joins a real parade in one command.
 *
 *	  globalkv node add -d NEW --seed SEED --id N --name NAME --zone ZONE
 *	                    --reach CONNINFO [--create-login ROLE] [--timeout S]
 *
 * 1. both ends run the same globalkv version (the new node has CREATE
 *    EXTENSION globalkv done, with globalkv in shared_preload_libraries);
 * 2. the new node is not in another parade already;
 * 3. with --create-login ROLE, the login the parade's nodes will use on the
 *    new node is created there, in globalkv_replication and
 *    globalkv_client, with the password from $GLOBALKV_PEER_PASSWORD (never
 *    from the command line, never logged);
 * 4. the new node gets its identity, learns the seed (the seed's own entry,
 *    copied from the seed's catalog), and the seed learns the new node
 *    (--reach: how the parade's nodes connect to it); catalog replication
 *    tells every other node;
 * 5. it waits until the new node pulls from every node of the parade and
 *    has caught up with each, printing the progress every second.
 * Exit status 0 when joined and caught up, 2 on an error or the timeout.
 *
 * cli/cmd_node.c
 *
 *-------------------------------------------------------------------------
 */
#define _GNU_SOURCE
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "libpq-fe.h"

#include "cli_common.h"
#include "cmd_node.h"

#define EXIT_ERROR 2

static PGconn *Seed = NULL;
static PGconn *New = NULL;

static int
Fail(const char *fmt, const char *a, const char *b)
{
	fprintf(stderr, "%s: ", CLI_PROGNAME);
	fprintf(stderr, fmt, a ? a : "", b ? b : "");
	fputc('\n', stderr);
	if (Seed)
		PQfinish(Seed);
	if (New)
		PQfinish(New);
	return EXIT_ERROR;
}

/* runs a statement; NULL (and the error on stderr) when it fails */
static PGresult *
Run(PGconn *conn, const char *where, const char *sql, int n, const char *const *params)
{
	PGresult   *res = PQexecParams(conn, sql, n, NULL, params, NULL, NULL, 0);
	ExecStatusType st = PQresultStatus(res);

	if (st != PGRES_TUPLES_OK && st != PGRES_COMMAND_OK)
	{
		print_server_error(conn, res, where);
		PQclear(res);
		return NULL;
	}
	return res;
}

static char *
Value(PGconn *conn, const char *where, const char *sql, int n, const char *const *params, bool *failed)
{
	PGresult   *res = Run(conn, where, sql, n, params);
	char	   *v = NULL;

	*failed = res == NULL;
	if (res && PQntuples(res) > 0 && !PQgetisnull(res, 0, 0))
		v = strdup(PQgetvalue(res, 0, 0));
	if (res)
		PQclear(res);
	return v;
}

int
node_add_command(const NodeAddOptions *o)
{
	bool		failed;
	char	   *seed_version,
			   *new_version,
			   *existing;
	PGresult   *res;
	char		seed_id[16];
	char	   *seed_name,
			   *seed_zone,
			   *seed_conninfo;
	time_t		deadline;
	time_t		last_print = 0;
	bool		zone_had_nodes;

	if (!o->new_conninfo || !o->seed_conninfo || !o->id || !o->name || !o->zone || !o->reach)
		return Fail("node add needs -d NEW --seed SEED --id N --name NAME --zone ZONE --reach CONNINFO%s%s", NULL, NULL);
	Seed = PQconnectdb(o->seed_conninfo);
	if (PQstatus(Seed) != CONNECTION_OK)
		return Fail("could not connect to the seed: %s%s", PQerrorMessage(Seed), NULL);
	New = PQconnectdb(o->new_conninfo);
	if (PQstatus(New) != CONNECTION_OK)
		return Fail("could not connect to the new node: %s%s", PQerrorMessage(New), NULL);

	/* 1. the same version on both */
	seed_version = Value(Seed, "the seed", "SELECT extversion FROM pg_extension WHERE extname = 'globalkv'", 0, NULL, &failed);
	if (failed || seed_version == NULL)
		return Fail("globalkv is not installed on the seed%s%s", NULL, NULL);
	new_version = Value(New, "the new node", "SELECT extversion FROM pg_extension WHERE extname = 'globalkv'", 0, NULL, &failed);
	if (failed)
		return EXIT_ERROR;
	if (new_version == NULL)
		return Fail("globalkv is not installed on the new node: add globalkv to its shared_preload_libraries, "
					"restart it and run CREATE EXTENSION globalkv in the database of globalkv.database%s%s", NULL, NULL);
	if (strcmp(seed_version, new_version) != 0)
		return Fail("the seed runs globalkv %s, the new node %s: run ALTER EXTENSION globalkv UPDATE "
					"so that they run the same version", seed_version, new_version);
	printf("==> globalkv %s on the seed and on the new node\n", seed_version);

	/* 2. not in another parade */
	/* a fresh install knows no node; one in a parade knows itself at least */
	existing = Value(New, "the new node",
					 "SELECT n.node_id::text FROM kv.node n"
					 " WHERE EXISTS (SELECT 1 FROM globalkv.nodes WHERE NOT dropped)", 0, NULL, &failed);
	if (failed)
		return EXIT_ERROR;
	if (existing != NULL && strcmp(existing, o->id) != 0)
		return Fail("the new node is already in a parade, as node %s (asked for %s)", existing, o->id);
	res = Run(Seed, "the seed", "SELECT node_name FROM globalkv.nodes WHERE node_id = $1::int AND NOT dropped",
			  1, (const char *const[]) {o->id});
	if (res == NULL)
		return EXIT_ERROR;
	if (PQntuples(res) > 0 && strcmp(PQgetvalue(res, 0, 0), o->name) != 0)
	{
		int			rc = Fail("id %s is taken in the parade by node \"%s\"", o->id, PQgetvalue(res, 0, 0));

		return rc;
	}
	PQclear(res);

	/* 3. the login the peers will use there */
	if (o->create_login)
	{
		const char *password = getenv("GLOBALKV_PEER_PASSWORD");
		char	   *sql;

		if (password == NULL || password[0] == '\0')
			return Fail("--create-login %s needs the password in $GLOBALKV_PEER_PASSWORD%s", o->create_login, NULL);
		res = Run(New, "the new node", "SELECT 1 FROM pg_roles WHERE rolname = $1", 1, (const char *const[]) {o->create_login});
		if (res == NULL)
			return EXIT_ERROR;
		if (PQntuples(res) == 0)
		{
			char	   *role = PQescapeIdentifier(New, o->create_login, strlen(o->create_login));
			char	   *secret = PQescapeLiteral(New, password, strlen(password));

			PQclear(res);
			if (role == NULL || secret == NULL ||
				asprintf(&sql, "CREATE ROLE %s LOGIN PASSWORD %s IN ROLE globalkv_replication, globalkv_client",
						 role, secret) < 0)
				return Fail("could not quote the login or its password%s%s", NULL, NULL);
			PQfreemem(role);
			PQfreemem(secret);
			/* the statement holds the password: this session logs no statement */
			if ((res = Run(New, "the new node", "SET log_statement = 'none'", 0, NULL)) == NULL)
				return EXIT_ERROR;
			PQclear(res);
			if ((res = Run(New, "the new node", "SET log_min_duration_statement = -1", 0, NULL)) == NULL)
				return EXIT_ERROR;
			PQclear(res);
			/* nor the statement of an error */
			if ((res = Run(New, "the new node", "SET log_min_error_statement = panic", 0, NULL)) == NULL)
				return EXIT_ERROR;
			PQclear(res);
			res = Run(New, "the new node", sql, 0, NULL);
			free(sql);
			if (res == NULL)
				return EXIT_ERROR;
			printf("==> created the login %s on the new node\n", o->create_login);
		}
		else
			printf("==> the login %s exists on the new node\n", o->create_login);
		PQclear(res);
	}

	/* 4. identities, both ways (first: does the zone have nodes already?) */
	{
		char	   *n = Value(Seed, "the seed", "SELECT count(*) FROM globalkv.nodes WHERE zone_name = $1"
							  " AND node_id <> $2::int AND NOT dropped", 2,
							  (const char *const[]) {o->zone, o->id}, &failed);

		if (failed)
			return EXIT_ERROR;
		zone_had_nodes = n != NULL && atoi(n) > 0;
		free(n);
	}
	res = Run(Seed, "the seed", "SELECT node_id, node_name, zone_name, conninfo FROM globalkv.nodes"
			  " WHERE node_id = (SELECT node_id FROM globalkv.node)", 0, NULL);
	if (res == NULL)
		return EXIT_ERROR;
	if (PQntuples(res) != 1)
		return Fail("the seed is not a node of a parade (kv.set_node was never run there)%s%s", NULL, NULL);
	snprintf(seed_id, sizeof(seed_id), "%s", PQgetvalue(res, 0, 0));
	seed_name = strdup(PQgetvalue(res, 0, 1));
	seed_zone = strdup(PQgetvalue(res, 0, 2));
	seed_conninfo = strdup(PQgetvalue(res, 0, 3));
	PQclear(res);
	if (existing == NULL &&
		(res = Run(New, "the new node", "SELECT kv.set_node($1::int, $2, $3)", 3,
				   (const char *const[]) {o->id, o->name, o->zone})) == NULL)
		return EXIT_ERROR;
	if (existing == NULL)
		PQclear(res);
	if ((res = Run(New, "the new node", "SELECT kv.add_node($1::int, $2, $3, $4)", 4,
				   (const char *const[]) {seed_id, seed_name, seed_zone, seed_conninfo})) == NULL)
		return EXIT_ERROR;
	PQclear(res);
	if ((res = Run(Seed, "the seed", "SELECT kv.add_node($1::int, $2, $3, $4)", 4,
				   (const char *const[]) {o->id, o->name, o->zone, o->reach})) == NULL)
		return EXIT_ERROR;
	PQclear(res);
	printf("==> node %s (id %s) registered in zone %s through %s; the catalog tells the others\n",
		   o->name, o->id, o->zone, seed_name);

	/* 5. wait for the backfill */
	deadline = time(NULL) + o->timeout_s;
	for (;;)
	{
		char	   *peers = Value(Seed, "the seed", "SELECT count(*) - 1 FROM globalkv.nodes WHERE NOT dropped", 0, NULL, &failed);
		PGresult   *st;
		int			want = peers ? atoi(peers) : 0;
		int			connected = 0,
					caught_up = 0;
		long long	applied = 0,
					lag_ms = 0;

		free(peers);
		if (failed)
			return EXIT_ERROR;
		st = Run(New, "the new node",
				 "SELECT count(*) FILTER (WHERE connected),"
				 "       count(*) FILTER (WHERE connected AND lag_ms = 0 AND last_error IS NULL),"
				 "       coalesce(sum(rows_applied), 0), coalesce(max(lag_ms), 0)"
				 "  FROM kv.replication_status", 0, NULL);
		if (st == NULL)
			return EXIT_ERROR;
		connected = atoi(PQgetvalue(st, 0, 0));
		caught_up = atoi(PQgetvalue(st, 0, 1));
		applied = atoll(PQgetvalue(st, 0, 2));
		lag_ms = atoll(PQgetvalue(st, 0, 3));
		PQclear(st);
		if (want > 0 && caught_up >= want)
		{
			printf("==> node %s pulls from its %d peer%s and has caught up: %lld rows applied\n",
				   o->name, want, want == 1 ? "" : "s", applied);
			break;
		}
		if (time(NULL) >= deadline)
		{
			char		secs[16];

			snprintf(secs, sizeof(secs), "%d", o->timeout_s);
			return Fail("node add: the new node has not caught up within %s s%s; it goes on in the background: "
						"watch it with globalkv status", secs, "");
		}
		if (time(NULL) != last_print)
		{
			printf("    backfill: pulling from %d of %d peers, %lld rows applied, %lld ms behind\n",
				   connected, want, applied, lag_ms);
			fflush(stdout);
			last_print = time(NULL);
		}
		nanosleep(&(struct timespec) {0, 200 * 1000 * 1000}, NULL);
	}
	if (zone_had_nodes)
		printf("    it joined zone %s, which has nodes already: it holds no shard until\n"
			   "    globalkv rebalance --zone %s moves some onto it\n", o->zone, o->zone);
	PQfinish(Seed);
	PQfinish(New);
	return 0;
}
