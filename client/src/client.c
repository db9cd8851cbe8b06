/*-------------------------------------------------------------------------
 *
 * client.c
 *	  libglobalkv: calls routed by the client to the node holding the key.
 *
 * See client/include/globalkv_client.h for the contract.  One libpq
 * connection per node, opened on first use, with each statement prepared
 * once on it.  A node that cannot be reached is skipped for down_ms.
 *
 * What may be sent twice: put, get, delete, put_many and get_many leave
 * the same data however often they run, so any failure moves them on to
 * the next zone.  patch_numeric adds: once libpq has handed its request to
 * the socket, a broken connection leaves its outcome unknown and the call
 * fails with 08007 rather than risking a second increment elsewhere.
 *
 * client/src/client.c
 *
 *-------------------------------------------------------------------------
 */
#define _POSIX_C_SOURCE 200809L
#include "globalkv_client.h"

#include <poll.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "libpq-fe.h"
#include "gkv_hash.h"
#include "shard_map.h"

/* GK017 answers followed by a map refresh, per call */
#define STALE_RETRIES 3
#define DEFAULT_DOWN_MS 2000

/*
 * The statements, prepared on a connection at first use.  Documents and
 * offsets go as text, so that invalid JSON is reported by globalkv (GK004,
 * GK006) as for any text caller; a jsonb parameter would be rejected by
 * PostgreSQL's input function (22P02) before globalkv sees it.
 */
enum
{
	ST_PUT, ST_PUT_TTL, ST_GET, ST_DELETE, ST_PATCH, ST_PUT_MANY, ST_GET_MANY, ST_TOUCH,
	ST_GET_AND_TOUCH, ST_SCAN, ST_CHANGES, NUM_STATEMENTS
};
static const char *const StatementSql[NUM_STATEMENTS] = {
	"SELECT kv.put($1::text, $2::text, $3::text, $4::text)",
	"SELECT kv.put($1::text, $2::text, $3::text, $4::bigint)",
	"SELECT kv.get($1::text, $2::text)",
	"SELECT kv.delete($1::text, $2::text)",
	"SELECT kv.patch_numeric($1::text, $2::text, $3::text, $4::text)",
	"SELECT key, result FROM kv.put_many($1::text, $2::text[], $3::text[], $4::text)",
	"SELECT key, value FROM kv.get_many($1::text, $2::text[])",
	"SELECT kv.touch($1::text, $2::text, $3::bigint)",
	"SELECT kv.get_and_touch($1::text, $2::text, $3::bigint)",
	"SELECT key, value FROM kv.scan($1::text, $2::text, $3::text, $4::integer)",
	"SELECT key, value, version, expires_at, next_cursor FROM kv.changes($1::text, $2::text, $3::integer, $4::integer)",
};
static const char *const StatementName[NUM_STATEMENTS] = {
	"gkv_put", "gkv_put_ttl", "gkv_get", "gkv_delete", "gkv_patch", "gkv_put_many", "gkv_get_many",
	"gkv_touch", "gkv_get_and_touch", "gkv_scan", "gkv_changes",
};

typedef struct node_conn
{
	PGconn	   *pg;
	unsigned	prepared;		/* bit per statement */
	double		down_until;		/* monotonic ms; skipped until then */
} node_conn;

struct gkv_conn
{
	char	  **seeds;			/* every seed: map sources of last resort */
	int			nseeds;
	int			seed_used;		/* the seed whose options every node gets */
	char	   *zone;			/* the caller's */
	char	   *zone_order;
	int			down_ms;
	gkv_map    *map;
	node_conn  *nodes;			/* parallel to map->nodes */
	unsigned char *down;		/* scratch: down flags of the current call */
	int			map_loads;
};

/* ----------------------------------------------------------------
 * Errors
 * ----------------------------------------------------------------
 */

static double
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000.0 + ts.tv_nsec / 1e6;
}

/*
 * copies src to dst as one line: libpq's multi-line messages (a line per
 * host tried, an indented hint) become "first; second"
 */
static void
one_line(char *dst, size_t size, const char *src)
{
	size_t		o = 0;
	size_t		len = strlen(src);

	while (len > 0 && (src[len - 1] == '\n' || src[len - 1] == ' ' || src[len - 1] == '\t'))
		len--;
	for (size_t i = 0; i < len && o + 1 < size; i++)
	{
		if (src[i] == '\n')
		{
			while (i + 1 < len && (src[i + 1] == ' ' || src[i + 1] == '\t'))
				i++;
			if (o + 3 < size)
			{
				dst[o++] = ';';
				dst[o++] = ' ';
			}
		}
		else
			dst[o++] = src[i] == '\t' ? ' ' : src[i];
	}
	dst[o] = '\0';
}

static int
set_error(gkv_error *err, const char *sqlstate, const char *node, const char *fmt,...)
	__attribute__((format(printf, 4, 5)));

static int
set_error(gkv_error *err, const char *sqlstate, const char *node, const char *fmt,...)
{
	va_list		ap;
	char		buf[sizeof(err->message)];

	if (err == NULL)
		return -1;
	snprintf(err->sqlstate, sizeof(err->sqlstate), "%s", sqlstate);
	snprintf(err->node, sizeof(err->node), "%s", node ? node : "");
	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	one_line(err->message, sizeof(err->message), buf);
	err->detail[0] = '\0';
	err->hint[0] = '\0';
	return -1;
}

/* a libpq connection failure, with the node (or seed) named in the message */
static void
connect_error(gkv_error *err, PGconn *pg, const char *node, bool is_seed)
{
	set_error(err, "08001", node, is_seed ? "could not connect to %s: %s" : "could not connect to node \"%s\": %s",
			  node, pg ? PQerrorMessage(pg) : "out of memory");
}

/*
 * A node's error: its SQLSTATE, message, detail and hint.  libpq's own
 * errors (a lost connection) carry no SQLSTATE: 08006 then.
 */
static void
error_from_result(gkv_error *err, PGresult *res, PGconn *pg, const char *node)
{
	const char *state = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
	const char *msg = res ? PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY) : NULL;
	const char *detail = res ? PQresultErrorField(res, PG_DIAG_MESSAGE_DETAIL) : NULL;
	const char *hint = res ? PQresultErrorField(res, PG_DIAG_MESSAGE_HINT) : NULL;

	if (err == NULL)
		return;
	if (msg)
		set_error(err, state ? state : "08006", node, "%s", msg);
	else
	{
		const char *text = res ? PQresultErrorMessage(res) : "";

		if (text[0] == '\0')
			text = pg ? PQerrorMessage(pg) : "no answer";
		set_error(err, state ? state : "08006", node, "node \"%s\": %s", node, text);
	}
	one_line(err->detail, sizeof(err->detail), detail ? detail : "");
	one_line(err->hint, sizeof(err->hint), hint ? hint : "");
}

/* does this failure mean the node is gone (as opposed to refusing the call)? */
static bool
connection_lost(PGresult *res, PGconn *pg)
{
	const char *state = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;

	if (res == NULL || PQstatus(pg) != CONNECTION_OK)
		return true;
	/* connection exceptions; shutting down, crashed, starting up */
	return state && (strncmp(state, "08", 2) == 0 || strcmp(state, "57P01") == 0 ||
					 strcmp(state, "57P02") == 0 || strcmp(state, "57P03") == 0);
}

/* ----------------------------------------------------------------
 * Nodes and the map
 * ----------------------------------------------------------------
 */

static void
drop_connection(node_conn *n)
{
	if (n->pg)
		PQfinish(n->pg);
	n->pg = NULL;
	n->prepared = 0;
}

static void
mark_down(gkv_conn *c, int i)
{
	drop_connection(&c->nodes[i]);
	c->nodes[i].down_until = now_ms() + c->down_ms;
}

static void
close_nodes(gkv_conn *c)
{
	for (int i = 0; c->nodes && c->map && i < c->map->nnodes; i++)
		drop_connection(&c->nodes[i]);
	free(c->nodes);
	free(c->down);
	c->nodes = NULL;
	c->down = NULL;
}

/* installs a freshly parsed map; keeps connections to nodes still in it */
static int
install_map(gkv_conn *c, gkv_map *map, gkv_error *err)
{
	node_conn  *nodes = calloc(map->nnodes + 1, sizeof(node_conn));
	unsigned char *down = calloc(map->nnodes + 1, 1);

	if (nodes == NULL || down == NULL)
	{
		free(nodes);
		free(down);
		gkv_map_free(map);
		return set_error(err, "53200", NULL, "out of memory");
	}
	for (int i = 0; c->map && i < c->map->nnodes; i++)
	{
		const gkv_map_node *old = &c->map->nodes[i];

		for (int j = 0; j < map->nnodes; j++)
			if (map->nodes[j].id == old->id && strcmp(map->nodes[j].host, old->host) == 0 &&
				strcmp(map->nodes[j].port, old->port) == 0 &&
				strcmp(map->nodes[j].dbname, old->dbname) == 0)
			{
				nodes[j] = c->nodes[i];
				c->nodes[i].pg = NULL;
				break;
			}
	}
	close_nodes(c);
	gkv_map_free(c->map);
	c->map = map;
	c->nodes = nodes;
	c->down = down;
	c->map_loads++;
	return 0;
}

/*
 * A node that is not part of a parade holds every shard itself
 * (kv.shard_map() lists no node then): the map becomes that one node,
 * reached with the seed's own host, port and database.
 */
static int
standalone_map(gkv_map *map, const char *label)
{
	map->nodes = calloc(1, sizeof(gkv_map_node));
	map->zones = calloc(1, sizeof(*map->zones));
	free(map->holder);
	map->holder = calloc((size_t) map->nshards, sizeof(int));
	if (map->nodes == NULL || map->zones == NULL || map->holder == NULL)
		return -1;
	map->nnodes = 1;
	map->nzones = 1;
	snprintf(map->nodes[0].name, sizeof(map->nodes[0].name), "%s", label);
	memcpy(map->nodes[0].zone, map->zone, sizeof(map->zone));
	memcpy(map->zones[0], map->zone, sizeof(map->zone));
	return 0;					/* holder: all 0, the one node */
}

static int
load_map_from(gkv_conn *c, PGconn *pg, const char *node, gkv_error *err)
{
	PGresult   *res = PQexec(pg, "SELECT kv.shard_map()");
	gkv_map    *map;
	char		perr[256];

	if (PQresultStatus(res) != PGRES_TUPLES_OK || PQntuples(res) != 1 || PQgetisnull(res, 0, 0))
	{
		if (PQresultStatus(res) == PGRES_TUPLES_OK)
			set_error(err, "08P01", node, "node \"%s\" returned no shard map", node);
		else
			error_from_result(err, res, pg, node);
		PQclear(res);
		return -1;
	}
	if (gkv_map_parse(PQgetvalue(res, 0, 0), &map, perr, sizeof(perr)) != 0)
	{
		PQclear(res);
		return set_error(err, "08P01", node, "bad shard map from node \"%s\": %s", node, perr);
	}
	PQclear(res);
	if (map->nnodes == 0 && standalone_map(map, node) != 0)
	{
		gkv_map_free(map);
		return set_error(err, "53200", node, "out of memory");
	}
	if (c->zone == NULL)
	{
		/* no zone option: the zone of the node that answered first */
		if (map->zone[0] == '\0' && c->map == NULL && map->nzones > 1)
		{
			gkv_map_free(map);
			return set_error(err, "08P01", node, "the shard map of \"%s\" names no zone: pass the zone option", node);
		}
		if ((c->zone = strdup(map->zone)) == NULL)
		{
			gkv_map_free(map);
			return set_error(err, "53200", node, "out of memory");
		}
	}
	return install_map(c, map, err);
}

/*
 * An idle connection has nothing to read unless the server said goodbye
 * (a restart, an administrator's termination): reconnecting then, before
 * anything is sent, keeps such a node in use and a patch_numeric safe.
 */
static bool
idle_connection_stale(PGconn *pg)
{
	struct pollfd p = {.fd = PQsocket(pg), .events = POLLIN};

	return p.fd < 0 || poll(&p, 1, 0) != 0;
}

/* the connection to node index i, opened if needed; NULL when unreachable */
static PGconn *
node_pg(gkv_conn *c, int i, gkv_error *err)
{
	node_conn  *n = &c->nodes[i];
	const char *name = c->map->nodes[i].name;
	char	  **k,
			  **v;
	char		cerr[256];

	if (n->pg && PQstatus(n->pg) == CONNECTION_OK && !idle_connection_stale(n->pg))
		return n->pg;
	drop_connection(n);
	if (n->down_until > now_ms())
	{
		set_error(err, "08001", name, "node \"%s\" was unreachable less than %d ms ago", name, c->down_ms);
		return NULL;
	}
	if (gkv_node_conninfo(c->seeds[c->seed_used], &c->map->nodes[i], &k, &v, cerr, sizeof(cerr)) != 0)
	{
		set_error(err, "08001", name, "node \"%s\": %s", name, cerr);
		n->down_until = now_ms() + c->down_ms;
		return NULL;
	}
	n->pg = PQconnectdbParams((const char *const *) k, (const char *const *) v, 0);
	gkv_conninfo_free(k, v);
	if (PQstatus(n->pg) != CONNECTION_OK)
	{
		connect_error(err, n->pg, name, false);
		mark_down(c, i);
		return NULL;
	}
	return n->pg;
}

static int
ensure_prepared(gkv_conn *c, int i, int st, gkv_error *err)
{
	PGresult   *res;

	if (c->nodes[i].prepared & (1u << st))
		return 0;
	res = PQprepare(c->nodes[i].pg, StatementName[st], StatementSql[st], 0, NULL);
	if (PQresultStatus(res) != PGRES_COMMAND_OK)
	{
		error_from_result(err, res, c->nodes[i].pg, c->map->nodes[i].name);
		PQclear(res);
		return -1;
	}
	PQclear(res);
	c->nodes[i].prepared |= 1u << st;
	return 0;
}

/* the outcome of the statement sent on pg: its first error, else its last result */
static PGresult *
collect(PGconn *pg)
{
	PGresult   *keep = NULL,
			   *res;

	while ((res = PQgetResult(pg)) != NULL)
	{
		if (keep && PQresultStatus(keep) == PGRES_FATAL_ERROR)
			PQclear(res);
		else
		{
			PQclear(keep);
			keep = res;
		}
	}
	return keep;
}

static void
refresh_down_flags(gkv_conn *c)
{
	double		t = now_ms();

	for (int i = 0; i < c->map->nnodes; i++)
		c->down[i] = c->nodes[i].down_until > t;
}

static int
no_holder_error(gkv_error *err, const gkv_error *last, bool have_last, const char *what)
{
	if (have_last)
		return set_error(err, "GK018", last->node, "no node holding %s can be reached; last: %s",
						 what, last->message);
	return set_error(err, "GK018", NULL, "no node holding %s can be reached (every holder was unreachable "
					 "moments ago)", what);
}

/*
 * After GK017: the map of the node that refused (it is at least as new as
 * the refusal), or of any node.
 */
static int
refresh_after_stale(gkv_conn *c, PGconn *pg, const char *node, gkv_error *err)
{
	char		name[64];

	/* node points into the map that a successful load frees */
	snprintf(name, sizeof(name), "%s", node);
	if (pg && PQstatus(pg) == CONNECTION_OK && load_map_from(c, pg, name, err) == 0)
		return 0;
	return gkv_refresh_map(c, err);
}

/*
 * call: runs statement st for one key on the node holding its shard,
 * failing over and refreshing the map as the header describes.  Returns
 * the one-row result (PQclear it) or NULL with *err set.
 */
static PGresult *
call(gkv_conn *c, int st, const char *ns, const char *key, int nparams,
	 const char *const *params, bool idempotent, gkv_error *err)
{
	int			stale = 0;
	gkv_error	last = {0};
	bool		have_last = false;

	for (;;)
	{
		int			shard = gkv_shard_of(c, ns, key);
		int			cand[GKV_MAX_CANDIDATES];
		int			n;
		bool		refreshed = false;
		char		what[32];

		refresh_down_flags(c);
		n = gkv_map_candidates(c->map, shard, c->zone, c->zone_order, c->down, cand, GKV_MAX_CANDIDATES);
		for (int ci = 0; ci < n && !refreshed; ci++)
		{
			int			i = cand[ci];
			const char *name = c->map->nodes[i].name;
			PGconn	   *pg = node_pg(c, i, &last);
			PGresult   *res;
			const char *state;

			if (pg == NULL)
			{
				have_last = true;
				continue;		/* nothing sent: the next zone */
			}
			if (ensure_prepared(c, i, st, &last) != 0)
			{
				if (PQstatus(pg) == CONNECTION_OK)
				{
					/* the node refuses the statement itself: no use elsewhere */
					if (err)
						*err = last;
					return NULL;
				}
				mark_down(c, i);
				have_last = true;
				continue;		/* the call itself was not sent */
			}
			if (!PQsendQueryPrepared(pg, StatementName[st], nparams, params, NULL, NULL, 0))
			{
				/* libpq could not hand the request over: it never ran */
				error_from_result(&last, NULL, pg, name);
				mark_down(c, i);
				have_last = true;
				continue;
			}
			res = collect(pg);
			if (PQresultStatus(res) == PGRES_TUPLES_OK)
			{
				if (PQntuples(res) == 1 && PQnfields(res) == 1)
					return res;
				set_error(err, "08P01", name, "node \"%s\" answered %d rows of %d columns, not one value",
						  name, PQntuples(res), PQnfields(res));
				PQclear(res);
				return NULL;
			}
			state = PQresultErrorField(res, PG_DIAG_SQLSTATE);
			if (state && strcmp(state, "GK017") == 0 && stale < STALE_RETRIES)
			{
				/* that node holds the shard no more: re-read the map, try again */
				PQclear(res);
				stale++;
				if (refresh_after_stale(c, pg, name, err) != 0)
					return NULL;
				refreshed = true;
				continue;
			}
			if (connection_lost(res, pg))
			{
				error_from_result(&last, res, pg, name);
				PQclear(res);
				mark_down(c, i);
				if (!idempotent)
				{
					set_error(err, "08007", last.node,
							  "lost the connection to node \"%s\" after sending the call: it may or may not "
							  "have taken effect, so it was not repeated elsewhere (%s)", last.node, last.message);
					return NULL;
				}
				have_last = true;
				continue;
			}
			error_from_result(err, res, pg, name);
			PQclear(res);
			return NULL;
		}
		if (!refreshed)
		{
			snprintf(what, sizeof(what), "shard %d", shard);
			no_holder_error(err, &last, have_last, what);
			return NULL;
		}
	}
}

/* ----------------------------------------------------------------
 * Connecting
 * ----------------------------------------------------------------
 */

gkv_conn *
gkv_connect(const char *const *seeds, int nseeds, const gkv_options *opts, gkv_error *err)
{
	gkv_conn   *c;
	gkv_error	last = {0};

	if (seeds == NULL || nseeds < 1)
		return set_error(err, "08001", NULL, "no seed node given"), NULL;
	for (int s = 0; s < nseeds; s++)
		if (seeds[s] == NULL)
			return set_error(err, "GK009", NULL, "seed %d is NULL", s + 1), NULL;
	c = calloc(1, sizeof(gkv_conn));
	if (c == NULL || (c->seeds = calloc(nseeds, sizeof(char *))) == NULL)
	{
		free(c);
		return set_error(err, "53200", NULL, "out of memory"), NULL;
	}
	c->nseeds = nseeds;
	c->down_ms = opts && opts->down_ms > 0 ? opts->down_ms : DEFAULT_DOWN_MS;
	c->zone = opts && opts->zone ? strdup(opts->zone) : NULL;
	c->zone_order = strdup(opts && opts->zone_order ? opts->zone_order : "");
	for (int s = 0; s < nseeds; s++)
		c->seeds[s] = strdup(seeds[s]);
	for (int s = 0; s < nseeds; s++)
	{
		gkv_map_node no_node;
		char	  **k,
				  **v;
		char		cerr[256];
		PGconn	   *pg;
		char		label[32];

		snprintf(label, sizeof(label), "seed %d", s + 1);
		if (c->seeds[s] == NULL || c->zone_order == NULL || (opts && opts->zone && c->zone == NULL))
		{
			set_error(&last, "53200", NULL, "out of memory");
			break;
		}
		/* the seed as given, with direct routing like every connection */
		memset(&no_node, 0, sizeof(no_node));
		if (gkv_node_conninfo(c->seeds[s], &no_node, &k, &v, cerr, sizeof(cerr)) != 0)
		{
			set_error(&last, "08001", label, "%s: %s", label, cerr);
			continue;
		}
		pg = PQconnectdbParams((const char *const *) k, (const char *const *) v, 0);
		gkv_conninfo_free(k, v);
		if (PQstatus(pg) != CONNECTION_OK)
		{
			connect_error(&last, pg, label, true);
			PQfinish(pg);
			continue;
		}
		c->seed_used = s;
		if (load_map_from(c, pg, label, &last) == 0)
		{
			PQfinish(pg);
			return c;
		}
		PQfinish(pg);
	}
	if (err)
	{
		*err = last;
		if (nseeds > 1)
			set_error(err, last.sqlstate, last.node, "none of the %d seeds answered; last: %s", nseeds,
					  last.message);
	}
	gkv_close(c);
	return NULL;
}

void
gkv_close(gkv_conn *c)
{
	if (c == NULL)
		return;
	close_nodes(c);
	gkv_map_free(c->map);
	for (int s = 0; s < c->nseeds; s++)
		free(c->seeds[s]);
	free(c->seeds);
	free(c->zone);
	free(c->zone_order);
	free(c);
}

int
gkv_refresh_map(gkv_conn *c, gkv_error *err)
{
	gkv_error	last = {0};
	bool		have_last = false;

	if (c == NULL)
		return set_error(err, "GK009", NULL, "no connection");
	/* the nodes first: they are the parade as last seen */
	refresh_down_flags(c);
	for (int i = 0; i < c->map->nnodes; i++)
	{
		PGconn	   *pg;
		char		name[64];

		if (c->down[i])
			continue;
		snprintf(name, sizeof(name), "%s", c->map->nodes[i].name);
		pg = node_pg(c, i, &last);
		have_last = true;
		if (pg && load_map_from(c, pg, name, &last) == 0)
			return 0;
	}
	for (int s = 0; s < c->nseeds; s++)
	{
		char	  **k,
				  **v;
		char		cerr[256];
		gkv_map_node no_node;
		PGconn	   *pg;
		char		label[32];
		int			rc;

		snprintf(label, sizeof(label), "seed %d", s + 1);
		memset(&no_node, 0, sizeof(no_node));
		have_last = true;
		if (gkv_node_conninfo(c->seeds[s], &no_node, &k, &v, cerr, sizeof(cerr)) != 0)
		{
			set_error(&last, "08001", label, "%s: %s", label, cerr);
			continue;
		}
		pg = PQconnectdbParams((const char *const *) k, (const char *const *) v, 0);
		gkv_conninfo_free(k, v);
		if (PQstatus(pg) != CONNECTION_OK)
		{
			connect_error(&last, pg, label, true);
			PQfinish(pg);
			continue;
		}
		rc = load_map_from(c, pg, label, &last);
		PQfinish(pg);
		if (rc == 0)
			return 0;
	}
	if (!have_last)
		set_error(&last, "GK018", NULL, "no node to ask");
	return set_error(err, last.sqlstate, last.node, "could not re-read the shard map: %s", last.message);
}

/* ----------------------------------------------------------------
 * Introspection
 * ----------------------------------------------------------------
 */

void
gkv_free(void *p)
{
	free(p);
}

uint32_t
gkv_key_hash32(const char *ns, const char *key)
{
	return gkv_key_hash(ns, strlen(ns), key, strlen(key));
}

int
gkv_key_shard(const char *ns, const char *key, int nshards)
{
	if (ns == NULL || key == NULL || nshards < 1)
		return -1;
	return gkv_shard_for_hash(gkv_key_hash32(ns, key), nshards);
}

int
gkv_shard_of(const gkv_conn *c, const char *ns, const char *key)
{
	return c ? gkv_key_shard(ns, key, c->map->nshards) : -1;
}

int
gkv_shard_count(const gkv_conn *c)
{
	return c ? c->map->nshards : -1;
}

const char *
gkv_zone(const gkv_conn *c)
{
	return c && c->zone ? c->zone : "";
}

static int
holder_index(const gkv_conn *c, int shard)
{
	int			z;

	if (c == NULL || shard < 0 || shard >= c->map->nshards)
		return -1;
	z = gkv_map_zone_index(c->map, c->zone ? c->zone : "");
	return z < 0 ? -1 : c->map->holder[shard * c->map->nzones + z];
}

const char *
gkv_shard_holder(const gkv_conn *c, int shard)
{
	int			i = holder_index(c, shard);

	return i < 0 ? "" : c->map->nodes[i].name;
}

int
gkv_shard_holder_id(const gkv_conn *c, int shard)
{
	int			i = holder_index(c, shard);

	return i < 0 ? 0 : c->map->nodes[i].id;
}

int
gkv_map_loads(const gkv_conn *c)
{
	return c ? c->map_loads : 0;
}

/* ----------------------------------------------------------------
 * Single-key calls
 * ----------------------------------------------------------------
 */

static int
check_key(gkv_conn *c, const char *ns, const char *key, gkv_error *err)
{
	if (c == NULL || ns == NULL)
		return set_error(err, "GK009", NULL, "invalid argument: %s is NULL", c ? "the namespace" : "the connection");
	if (key == NULL)
		return set_error(err, "GK003", NULL, "invalid key: NULL");
	return 0;
}

static char *
dup_value(PGresult *res, int row, int col, bool *oom)
{
	char	   *s;

	if (PQgetisnull(res, row, col))
		return NULL;
	s = strdup(PQgetvalue(res, row, col));
	if (s == NULL)
		*oom = true;
	return s;
}

int
gkv_put(gkv_conn *c, const char *ns, const char *key, const char *json, const char *policy,
		gkv_put_result result, gkv_error *err)
{
	const char *p[4] = {ns, key, json, policy ? policy : "NO_EXPIRE"};
	PGresult   *res;

	if (check_key(c, ns, key, err) != 0)
		return -1;
	if (json == NULL)
		return set_error(err, "GK004", NULL, "invalid document: NULL");
	if ((res = call(c, ST_PUT, ns, key, 4, p, true, err)) == NULL)
		return -1;
	if (result)
		snprintf(result, sizeof(gkv_put_result), "%s", PQgetvalue(res, 0, 0));
	PQclear(res);
	return 0;
}

int
gkv_put_ttl(gkv_conn *c, const char *ns, const char *key, const char *json, long long ttl_seconds,
			gkv_put_result result, gkv_error *err)
{
	char		ttl[24];
	const char *p[4] = {ns, key, json, ttl};
	PGresult   *res;

	if (check_key(c, ns, key, err) != 0)
		return -1;
	if (json == NULL)
		return set_error(err, "GK004", NULL, "invalid document: NULL");
	snprintf(ttl, sizeof(ttl), "%lld", ttl_seconds);
	if ((res = call(c, ST_PUT_TTL, ns, key, 4, p, true, err)) == NULL)
		return -1;
	if (result)
		snprintf(result, sizeof(gkv_put_result), "%s", PQgetvalue(res, 0, 0));
	PQclear(res);
	return 0;
}

int
gkv_get(gkv_conn *c, const char *ns, const char *key, char **json, gkv_error *err)
{
	const char *p[2] = {ns, key};
	PGresult   *res;
	bool		oom = false;

	if (json == NULL)
		return set_error(err, "GK009", NULL, "invalid argument: the result pointer is NULL");
	*json = NULL;
	if (check_key(c, ns, key, err) != 0 || (res = call(c, ST_GET, ns, key, 2, p, true, err)) == NULL)
		return -1;
	*json = dup_value(res, 0, 0, &oom);
	PQclear(res);
	return oom ? set_error(err, "53200", NULL, "out of memory") : 0;
}

int
gkv_delete(gkv_conn *c, const char *ns, const char *key, int *deleted, gkv_error *err)
{
	const char *p[2] = {ns, key};
	PGresult   *res;

	if (check_key(c, ns, key, err) != 0 || (res = call(c, ST_DELETE, ns, key, 2, p, true, err)) == NULL)
		return -1;
	if (deleted)
		*deleted = strcmp(PQgetvalue(res, 0, 0), "t") == 0;
	PQclear(res);
	return 0;
}

/*
 * touch_call runs kv.touch (json == NULL) or kv.get_and_touch.  A touch sets
 * the expiry, it does not extend it: repeating it elsewhere is harmless.
 */
static int
touch_call(gkv_conn *c, const char *ns, const char *key, long long ttl_seconds,
		   int *touched, char **json, gkv_error *err)
{
	char		ttl[32];
	const char *p[3] = {ns, key, ttl};
	PGresult   *res;
	bool		oom = false;

	if (json)
		*json = NULL;
	snprintf(ttl, sizeof(ttl), "%lld", ttl_seconds);
	if (check_key(c, ns, key, err) != 0 ||
		(res = call(c, json ? ST_GET_AND_TOUCH : ST_TOUCH, ns, key, 3, p, true, err)) == NULL)
		return -1;
	if (json)
	{
		*json = dup_value(res, 0, 0, &oom);
		if (touched)
			*touched = !PQgetisnull(res, 0, 0);
	}
	else if (touched)
		*touched = strcmp(PQgetvalue(res, 0, 0), "t") == 0;
	PQclear(res);
	return oom ? set_error(err, "53200", NULL, "out of memory (the touch was applied)") : 0;
}

int
gkv_touch(gkv_conn *c, const char *ns, const char *key, long long ttl_seconds, int *touched,
		  gkv_error *err)
{
	return touch_call(c, ns, key, ttl_seconds, touched, NULL, err);
}

int
gkv_get_and_touch(gkv_conn *c, const char *ns, const char *key, long long ttl_seconds,
				  char **json, gkv_error *err)
{
	if (json == NULL)
		return set_error(err, "GK009", NULL, "invalid argument: the result pointer is NULL");
	return touch_call(c, ns, key, ttl_seconds, NULL, json, err);
}

int
gkv_patch_numeric(gkv_conn *c, const char *ns, const char *key, const char *offsets,
				  const char *policy, char **doc, gkv_error *err)
{
	const char *p[4] = {ns, key, offsets, policy ? policy : "NO_EXPIRE"};
	PGresult   *res;
	bool		oom = false;
	char	   *value;

	if (doc)
		*doc = NULL;
	if (check_key(c, ns, key, err) != 0)
		return -1;
	if (offsets == NULL)
		return set_error(err, "GK006", NULL, "invalid offsets: NULL");
	if ((res = call(c, ST_PATCH, ns, key, 4, p, false, err)) == NULL)
		return -1;
	value = doc ? dup_value(res, 0, 0, &oom) : NULL;
	PQclear(res);
	if (doc)
		*doc = value;
	/* the patch did happen: say so even if the copy failed */
	return oom ? set_error(err, "53200", NULL, "out of memory (the patch was applied)") : 0;
}

/* ----------------------------------------------------------------
 * Batches
 * ----------------------------------------------------------------
 */

typedef struct strbuf
{
	char	   *data;
	size_t		len,
				cap;
	bool		oom;
} strbuf;

static void
buf_putc(strbuf *b, char ch)
{
	if (b->oom)
		return;
	if (b->len + 2 > b->cap)
	{
		size_t		cap = b->cap ? b->cap * 2 : 256;
		char	   *data = realloc(b->data, cap);

		if (data == NULL)
		{
			b->oom = true;
			return;
		}
		b->data = data;
		b->cap = cap;
	}
	b->data[b->len++] = ch;
	b->data[b->len] = '\0';
}

/* appends s as a quoted element of an array literal */
static void
array_elem(strbuf *b, const char *s)
{
	if (b->len > 1)
		buf_putc(b, ',');
	buf_putc(b, '"');
	for (; *s; s++)
	{
		if (*s == '"' || *s == '\\')
			buf_putc(b, '\\');
		buf_putc(b, *s);
	}
	buf_putc(b, '"');
}

typedef enum
{
	GROUP_UNSENT, GROUP_SENT
} group_state;

/*
 * Sends the keys of one node as one statement.  Returns 0 when sent;
 * -1 when the node is unreachable (marked down, *last set) or -2 when the
 * node refuses the statement (*err set).
 */
static int
send_group(gkv_conn *c, int i, int st, const char *ns, int n, const char *const *keys,
		   const char *const *values, const char *policy, const int *node_of,
		   gkv_error *last, gkv_error *err)
{
	PGconn	   *pg = node_pg(c, i, last);
	strbuf		kb = {0},
				vb = {0};
	const char *p[4];
	int			sent;

	if (pg == NULL)
		return -1;
	if (ensure_prepared(c, i, st, last) != 0)
	{
		if (PQstatus(pg) == CONNECTION_OK)
		{
			if (err)
				*err = *last;
			return -2;
		}
		mark_down(c, i);
		return -1;
	}
	buf_putc(&kb, '{');
	buf_putc(&vb, '{');
	for (int k = 0; k < n; k++)
		if (node_of[k] == i)
		{
			array_elem(&kb, keys[k]);
			if (values)
				array_elem(&vb, values[k]);
		}
	buf_putc(&kb, '}');
	buf_putc(&vb, '}');
	if (kb.oom || vb.oom)
	{
		free(kb.data);
		free(vb.data);
		set_error(err, "53200", NULL, "out of memory");
		return -2;
	}
	p[0] = ns;
	p[1] = kb.data;
	p[2] = vb.data;
	p[3] = policy ? policy : "NO_EXPIRE";
	sent = PQsendQueryPrepared(pg, StatementName[st], values ? 4 : 2, p, NULL, NULL, 0);
	free(kb.data);
	free(vb.data);
	if (!sent)
	{
		error_from_result(last, NULL, pg, c->map->nodes[i].name);
		mark_down(c, i);
		return -1;
	}
	return 0;
}

/*
 * Takes one node's rows: one per key sent, in the order sent (the
 * server's contract, duplicates included), each naming its key.
 */
static int
take_rows(gkv_conn *c, int i, PGresult *res, int n, const char *const *keys, const int *node_of,
		  char **out, bool *done, gkv_error *err)
{
	int			row = 0;
	int			expect = 0;
	bool		oom = false;
	const char *name = c->map->nodes[i].name;

	for (int k = 0; k < n; k++)
		expect += node_of[k] == i;
	if (PQntuples(res) != expect || PQnfields(res) != 2)
		return set_error(err, "08P01", name, "node \"%s\" answered %d rows for %d keys", name,
						 PQntuples(res), expect);
	for (int k = 0; k < n; k++)
		if (node_of[k] == i)
		{
			if (strcmp(PQgetvalue(res, row, 0), keys[k]) != 0)
				return set_error(err, "08P01", name, "node \"%s\" answered for key \"%.40s\" where \"%.40s\" was due",
								 name, PQgetvalue(res, row, 0), keys[k]);
			free(out[k]);
			out[k] = dup_value(res, row++, 1, &oom);
			done[k] = true;
		}
	return oom ? set_error(err, "53200", NULL, "out of memory") : 0;
}

/*
 * batch: keys grouped by the node holding them, one statement per node,
 * all sent before any answer is read.  out[k]: column 2 of key k's row.
 * Groups whose node fails go to the next zone in the next round (batches
 * are idempotent); GK017 refreshes the map.  Each round either finishes
 * every key, or marks a node down, or refreshes the map, so the rounds
 * are bounded.
 */
static int
batch(gkv_conn *c, int st, const char *ns, int n, const char *const *keys,
	  const char *const *values, const char *policy, char **out, gkv_error *err)
{
	int		   *node_of = malloc(sizeof(int) * (n + 1));
	bool	   *done = calloc(n + 1, sizeof(bool));
	int			ndone = 0;
	int			stale = 0;
	int			rounds = 0;
	int			rc = 0;
	gkv_error	last = {0};
	bool		have_last = false;

	if (node_of == NULL || done == NULL)
	{
		rc = set_error(err, "53200", NULL, "out of memory");
		goto out;
	}
	while (ndone < n)
	{
		int		   *groups = malloc(sizeof(int) * (c->map->nnodes + 1));
		group_state *state = calloc(c->map->nnodes + 1, sizeof(group_state));
		int			ngroups = 0;
		int			stale_node = -1;
		gkv_error	stale_err = {0};
		bool		failed = false;

		if (groups == NULL || state == NULL)
		{
			free(groups);
			free(state);
			rc = set_error(err, "53200", NULL, "out of memory");
			goto out;
		}
		if (++rounds > c->map->nnodes + STALE_RETRIES + 2)
		{
			free(groups);
			free(state);
			rc = no_holder_error(err, &last, have_last, "every key of the batch");
			goto out;
		}

		/* place every pending key on its best node that is not down */
		refresh_down_flags(c);
		for (int k = 0; k < n; k++)
		{
			int			cand[GKV_MAX_CANDIDATES];
			int			g;

			node_of[k] = -1;
			if (done[k])
				continue;
			if (gkv_map_candidates(c->map, gkv_shard_of(c, ns, keys[k]), c->zone, c->zone_order,
								   c->down, cand, GKV_MAX_CANDIDATES) == 0)
			{
				char		what[96];

				snprintf(what, sizeof(what), "the shard of key \"%.40s\"", keys[k]);
				free(groups);
				free(state);
				rc = no_holder_error(err, &last, have_last, what);
				goto out;
			}
			node_of[k] = cand[0];
			for (g = 0; g < ngroups && groups[g] != cand[0]; g++)
				;
			if (g == ngroups)
				groups[ngroups++] = cand[0];
		}

		/* send every group before reading any answer: the nodes work at once */
		for (int g = 0; g < ngroups && !failed; g++)
		{
			int			r = send_group(c, groups[g], st, ns, n, keys, values, policy, node_of, &last, err);

			if (r == 0)
				state[g] = GROUP_SENT;
			else if (r == -1)
				have_last = true;	/* unreachable: its keys go on next round */
			else
				failed = true;
		}

		/* collect (every sent group, even after a failure: the connections must be idle) */
		for (int g = 0; g < ngroups; g++)
		{
			int			i = groups[g];
			PGconn	   *pg = c->nodes[i].pg;
			const char *name = c->map->nodes[i].name;
			PGresult   *res;
			const char *sqlstate;

			if (state[g] != GROUP_SENT)
				continue;
			res = collect(pg);
			if (failed)
			{
				PQclear(res);
				continue;
			}
			if (PQresultStatus(res) == PGRES_TUPLES_OK)
			{
				if (take_rows(c, i, res, n, keys, node_of, out, done, err) != 0)
					failed = true;
				PQclear(res);
				continue;
			}
			sqlstate = PQresultErrorField(res, PG_DIAG_SQLSTATE);
			if (sqlstate && strcmp(sqlstate, "GK017") == 0)
			{
				/* its keys go again after a map refresh */
				error_from_result(&stale_err, res, pg, name);
				stale_node = i;
			}
			else if (connection_lost(res, pg))
			{
				error_from_result(&last, res, pg, name);
				have_last = true;
				mark_down(c, i);
			}
			else
			{
				error_from_result(err, res, pg, name);
				failed = true;
			}
			PQclear(res);
		}
		free(groups);
		free(state);
		if (failed)
		{
			rc = -1;
			goto out;
		}
		ndone = 0;
		for (int k = 0; k < n; k++)
			ndone += done[k];
		if (stale_node >= 0)
		{
			if (++stale > STALE_RETRIES)
			{
				if (err)
					*err = stale_err;
				rc = -1;
				goto out;
			}
			if (refresh_after_stale(c, c->nodes[stale_node].pg, c->map->nodes[stale_node].name, err) != 0)
			{
				rc = -1;
				goto out;
			}
		}
	}
out:
	free(node_of);
	free(done);
	return rc;
}

static int
check_batch(gkv_conn *c, const char *ns, int n, const char *const *keys, const char *const *values,
			bool need_values, gkv_error *err)
{
	if (c == NULL || ns == NULL || n < 0 || (n > 0 && keys == NULL) || (need_values && n > 0 && values == NULL))
		return set_error(err, "GK009", NULL, "invalid argument: %s",
						 c == NULL ? "the connection is NULL" : ns == NULL ? "the namespace is NULL" :
						 n < 0 ? "negative key count" : "NULL array");
	for (int k = 0; k < n; k++)
	{
		if (keys[k] == NULL)
			return set_error(err, "GK003", NULL, "invalid key: key %d of the batch is NULL", k + 1);
		if (need_values && values[k] == NULL)
			return set_error(err, "GK004", NULL, "invalid document: value %d of the batch is NULL", k + 1);
	}
	return 0;
}

int
gkv_put_many(gkv_conn *c, const char *ns, int n, const char *const *keys,
			 const char *const *values, const char *policy, gkv_put_result *results,
			 gkv_error *err)
{
	char	  **out;
	int			rc;

	if (check_batch(c, ns, n, keys, values, true, err) != 0)
		return -1;
	if ((out = calloc(n + 1, sizeof(char *))) == NULL)
		return set_error(err, "53200", NULL, "out of memory");
	rc = batch(c, ST_PUT_MANY, ns, n, keys, values, policy, out, err);
	for (int k = 0; k < n; k++)
	{
		if (rc == 0 && results)
			snprintf(results[k], sizeof(gkv_put_result), "%s", out[k] ? out[k] : "");
		free(out[k]);
	}
	free(out);
	return rc;
}

/*
 * zone_query runs statement st (a read of the whole zone: kv.scan,
 * kv.changes) on a node of the connection's zone -- any node answers for
 * the zone -- trying the nodes that hold route_key's shard, nearest zone
 * first, as a read would; it may be repeated elsewhere.  Returns the
 * result (PQclear it) or NULL with *err set.
 */
static PGresult *
zone_query(gkv_conn *c, int st, const char *ns, const char *route_key, int nparams,
		   const char *const *params, gkv_error *err)
{
	gkv_error	last = {0};
	bool		have_last = false;
	int			cand[GKV_MAX_CANDIDATES];
	int			ncand;

	refresh_down_flags(c);
	ncand = gkv_map_candidates(c->map, gkv_shard_of(c, ns, route_key), c->zone, c->zone_order, c->down,
							   cand, GKV_MAX_CANDIDATES);
	for (int ci = 0; ci < ncand; ci++)
	{
		int			i = cand[ci];
		PGconn	   *pg = node_pg(c, i, &last);
		PGresult   *res;

		if (pg == NULL || ensure_prepared(c, i, st, &last) != 0 ||
			!PQsendQueryPrepared(pg, StatementName[st], nparams, params, NULL, NULL, 0))
		{
			if (pg && PQstatus(pg) == CONNECTION_OK)
			{
				/* the node refuses the statement itself: no use elsewhere */
				if (err)
					*err = last;
				return NULL;
			}
			mark_down(c, i);
			have_last = true;
			continue;
		}
		res = collect(pg);
		if (PQresultStatus(res) == PGRES_TUPLES_OK)
			return res;
		error_from_result(&last, res, pg, c->map->nodes[i].name);
		PQclear(res);
		if (PQstatus(pg) == CONNECTION_OK)
		{
			if (err)
				*err = last;	/* the node's own answer: not a node problem */
			return NULL;
		}
		mark_down(c, i);
		have_last = true;
	}
	no_holder_error(err, &last, have_last, "the zone's documents");
	return NULL;
}

int
gkv_scan(gkv_conn *c, const char *ns, const char *prefix, const char *after_key, int page_size,
		 char **keys, char **values, int *n, gkv_error *err)
{
	char		size[16];
	const char *p[4] = {ns, prefix, after_key, size};
	PGresult   *res;
	bool		oom = false;
	int			rows;

	if (n == NULL || keys == NULL || values == NULL)
		return set_error(err, "GK009", NULL, "invalid argument: a result pointer is NULL");
	*n = 0;
	if (ns == NULL || prefix == NULL || page_size < 1)
		return set_error(err, "GK009", NULL, "invalid argument: namespace and prefix are required, page_size >= 1");
	snprintf(size, sizeof(size), "%d", page_size);
	if ((res = zone_query(c, ST_SCAN, ns, prefix, 4, p, err)) == NULL)
		return -1;
	rows = PQntuples(res) < page_size ? PQntuples(res) : page_size;
	for (int r = 0; r < rows; r++)
	{
		keys[r] = dup_value(res, r, 0, &oom);
		values[r] = dup_value(res, r, 1, &oom);
	}
	PQclear(res);
	if (oom)
	{
		for (int r = 0; r < rows; r++)
		{
			free(keys[r]);
			free(values[r]);
		}
		return set_error(err, "53200", NULL, "out of memory");
	}
	*n = rows;
	return 0;
}

void
gkv_free_changes(gkv_change *changes, int n)
{
	if (changes == NULL)
		return;
	for (int i = 0; i < n; i++)
	{
		free(changes[i].key);
		free(changes[i].value);
		free(changes[i].version);
		free(changes[i].expires_at);
	}
	free(changes);
}

int
gkv_changes(gkv_conn *c, const char *ns, const char *cursor, int max_rows, int wait_ms,
			gkv_change **changes, int *n, char **next_cursor, gkv_error *err)
{
	char		rows_s[16],
				wait_s[16];
	const char *p[4] = {ns, cursor, rows_s, wait_s};
	PGresult   *res;
	bool		oom = false;
	int			k = 0;

	if (changes == NULL || n == NULL || next_cursor == NULL)
		return set_error(err, "GK009", NULL, "invalid argument: a result pointer is NULL");
	*changes = NULL;
	*n = 0;
	*next_cursor = NULL;
	if (ns == NULL)
		return set_error(err, "GK009", NULL, "invalid argument: the namespace is required");
	snprintf(rows_s, sizeof(rows_s), "%d", max_rows);
	snprintf(wait_s, sizeof(wait_s), "%d", wait_ms);
	/* any node of the zone answers: route by the namespace alone */
	if ((res = zone_query(c, ST_CHANGES, ns, "", 4, p, err)) == NULL)
		return -1;
	*changes = calloc(PQntuples(res) + 1, sizeof(gkv_change));
	if (*changes == NULL)
		oom = true;
	for (int r = 0; r < PQntuples(res) && !oom; r++)
	{
		if (PQgetisnull(res, r, 0))
		{
			*next_cursor = dup_value(res, r, 4, &oom);
			continue;
		}
		(*changes)[k].key = dup_value(res, r, 0, &oom);
		(*changes)[k].value = dup_value(res, r, 1, &oom);
		(*changes)[k].version = dup_value(res, r, 2, &oom);
		(*changes)[k].expires_at = dup_value(res, r, 3, &oom);
		k++;
	}
	PQclear(res);
	if (oom)
	{
		gkv_free_changes(*changes, k);
		free(*next_cursor);
		*changes = NULL;
		*next_cursor = NULL;
		return set_error(err, "53200", NULL, "out of memory");
	}
	*n = k;
	return 0;
}

int
gkv_get_many(gkv_conn *c, const char *ns, int n, const char *const *keys, char **values,
			 gkv_error *err)
{
	int			rc;

	if (values == NULL && n > 0)
		return set_error(err, "GK009", NULL, "invalid argument: NULL array");
	for (int k = 0; k < n; k++)
		values[k] = NULL;
	if (check_batch(c, ns, n, keys, NULL, false, err) != 0)
		return -1;
	rc = batch(c, ST_GET_MANY, ns, n, keys, NULL, NULL, values, err);
	if (rc != 0)
		for (int k = 0; k < n; k++)
		{
			free(values[k]);
			values[k] = NULL;
		}
	return rc;
}
