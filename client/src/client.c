/*-------------------------------------------------------------------------
 *
 * client.c
 *	  libglobalkv: calls routed by the client to the node holding the key.
 *
 * See client/include/globalkv_client.h for the contract.  One libpq
 * connection per node, opened on first use, with each statement prepared
 * once.  A node that cannot be reached is skipped for down_ms.
 *
 * client/src/client.c
 *
 *-------------------------------------------------------------------------
 */
#define _GNU_SOURCE
#include "globalkv_client.h"

#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "libpq-fe.h"
#include "gkv_hash.h"
#include "shard_map.h"

#define STALE_RETRIES 3

/* the statements, prepared on a connection at first use */
enum
{
	ST_PUT, ST_GET, ST_DELETE, ST_PATCH, ST_PUT_MANY, ST_GET_MANY, NUM_STATEMENTS
};
static const char *const StatementSql[NUM_STATEMENTS] = {
	"SELECT kv.put($1::text, $2::text, $3::jsonb, $4::text)",
	"SELECT kv.get($1::text, $2::text)",
	"SELECT kv.delete($1::text, $2::text)",
	"SELECT kv.patch_numeric($1::text, $2::text, $3::jsonb, $4::text)",
	"SELECT key, result FROM kv.put_many($1::text, $2::text[], $3::jsonb[], $4::text)",
	"SELECT key, value::text FROM kv.get_many($1::text, $2::text[])",
};

typedef struct node_conn
{
	PGconn	   *pg;
	unsigned	prepared;		/* bit per statement */
	double		down_until;
} node_conn;

struct gkv_conn
{
	char	   *seed;			/* the seed that answered: options for every node */
	char	   *zone;
	char	   *zone_order;
	int			down_ms;
	gkv_map    *map;
	node_conn  *nodes;			/* parallel to map->nodes */
	unsigned char *down;
	int			map_loads;
};

static double
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000.0 + ts.tv_nsec / 1e6;
}

static int
set_error(gkv_error *err, const char *sqlstate, const char *node, const char *fmt,...)
{
	va_list		ap;

	if (err == NULL)
		return -1;
	snprintf(err->sqlstate, sizeof(err->sqlstate), "%s", sqlstate ? sqlstate : "");
	snprintf(err->node, sizeof(err->node), "%s", node ? node : "");
	va_start(ap, fmt);
	vsnprintf(err->message, sizeof(err->message), fmt, ap);
	va_end(ap);
	return -1;
}

static void
error_from_result(gkv_error *err, PGresult *res, PGconn *pg, const char *node)
{
	const char *state = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
	const char *msg = res ? PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY) : NULL;
	char		buf[512];

	snprintf(buf, sizeof(buf), "%s", msg ? msg : (pg ? PQerrorMessage(pg) : "no result"));
	buf[strcspn(buf, "\n")] = '\0';
	set_error(err, state ? state : "08006", node, "%s", buf);
}

static void
close_nodes(gkv_conn *c)
{
	if (c->map == NULL)
		return;
	for (int i = 0; i < c->map->nnodes; i++)
		if (c->nodes[i].pg)
			PQfinish(c->nodes[i].pg);
	free(c->nodes);
	free(c->down);
	c->nodes = NULL;
	c->down = NULL;
}

/* installs a freshly parsed map; keeps connections to nodes still in it */
static void
install_map(gkv_conn *c, gkv_map *map)
{
	node_conn  *nodes = calloc(map->nnodes + 1, sizeof(node_conn));

	for (int i = 0; c->map && i < c->map->nnodes; i++)
	{
		int			keep = -1;

		for (int j = 0; j < map->nnodes; j++)
			if (map->nodes[j].id == c->map->nodes[i].id &&
				strcmp(map->nodes[j].host, c->map->nodes[i].host) == 0 &&
				strcmp(map->nodes[j].port, c->map->nodes[i].port) == 0)
				keep = j;
		if (keep >= 0)
		{
			nodes[keep] = c->nodes[i];
			c->nodes[i].pg = NULL;
		}
	}
	close_nodes(c);
	gkv_map_free(c->map);
	c->map = map;
	c->nodes = nodes;
	c->down = calloc(map->nnodes + 1, 1);
	c->map_loads++;
}

static int
load_map_from(gkv_conn *c, PGconn *pg, const char *node, gkv_error *err)
{
	PGresult   *res = PQexec(pg, "SELECT kv.shard_map()");
	gkv_map    *map;
	char		perr[256];

	if (PQresultStatus(res) != PGRES_TUPLES_OK || PQntuples(res) != 1)
	{
		error_from_result(err, res, pg, node);
		PQclear(res);
		return -1;
	}
	if (gkv_map_parse(PQgetvalue(res, 0, 0), &map, perr, sizeof(perr)) != 0)
	{
		PQclear(res);
		return set_error(err, "XX000", node, "bad shard map: %s", perr);
	}
	PQclear(res);
	if (map->nnodes == 0)
	{
		gkv_map_free(map);
		return set_error(err, "GK013", node, "the node is not part of a parade (its shard map has no node)");
	}
	install_map(c, map);
	if (c->zone == NULL)
		c->zone = strdup(map->zone);
	return 0;
}

/* the connection to node index i, opened if needed; NULL when unreachable */
static PGconn *
node_pg(gkv_conn *c, int i, gkv_error *err)
{
	node_conn  *n = &c->nodes[i];
	char	  **k,
			  **v;
	char		cerr[256];

	if (n->pg && PQstatus(n->pg) == CONNECTION_OK)
		return n->pg;
	if (n->pg)
	{
		PQfinish(n->pg);
		n->pg = NULL;
		n->prepared = 0;
	}
	if (n->down_until > now_ms())
	{
		set_error(err, "08001", c->map->nodes[i].name, "node \"%s\" is down", c->map->nodes[i].name);
		return NULL;
	}
	if (gkv_node_conninfo(c->seed, &c->map->nodes[i], &k, &v, cerr, sizeof(cerr)) != 0)
	{
		set_error(err, "08001", c->map->nodes[i].name, "%s", cerr);
		return NULL;
	}
	n->pg = PQconnectdbParams((const char *const *) k, (const char *const *) v, 0);
	gkv_conninfo_free(k, v);
	if (PQstatus(n->pg) != CONNECTION_OK)
	{
		error_from_result(err, NULL, n->pg, c->map->nodes[i].name);
		snprintf(err ? err->sqlstate : cerr, 6, "08001");
		PQfinish(n->pg);
		n->pg = NULL;
		n->down_until = now_ms() + c->down_ms;
		return NULL;
	}
	n->prepared = 0;
	return n->pg;
}

static int
ensure_prepared(gkv_conn *c, int i, int st, gkv_error *err)
{
	char		name[16];
	PGresult   *res;

	if (c->nodes[i].prepared & (1u << st))
		return 0;
	snprintf(name, sizeof(name), "gkv%d", st);
	res = PQprepare(c->nodes[i].pg, name, StatementSql[st], 0, NULL);
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

static void
mark_down(gkv_conn *c, int i)
{
	if (c->nodes[i].pg)
		PQfinish(c->nodes[i].pg);
	c->nodes[i].pg = NULL;
	c->nodes[i].prepared = 0;
	c->nodes[i].down_until = now_ms() + c->down_ms;
}

static bool
is_connection_failure(PGresult *res, PGconn *pg)
{
	const char *state = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;

	return PQstatus(pg) != CONNECTION_OK || (state && strncmp(state, "08", 2) == 0) ||
		(res == NULL);
}

/*
 * call: runs statement st for one key on the node holding its shard,
 * failing over and refreshing the map as the header describes.  Returns
 * the result (PQclear it) or NULL with *err set.
 */
static PGresult *
call(gkv_conn *c, int st, const char *ns, const char *key, int nparams,
	 const char *const *params, bool idempotent, gkv_error *err)
{
	int			shard = gkv_shard_of(c, ns, key);
	int			stale = 0;

	for (;;)
	{
		int			cand[GKV_MAX_CANDIDATES];
		int			n;
		double		t = now_ms();
		bool		retry_map = false;

		for (int i = 0; i < c->map->nnodes; i++)
			c->down[i] = c->nodes[i].down_until > t;
		n = gkv_map_candidates(c->map, shard, c->zone, c->zone_order, c->down, cand, GKV_MAX_CANDIDATES);
		if (n == 0)
			return set_error(err, "GK018", NULL, "no node holding shard %d can be reached", shard), NULL;
		for (int ci = 0; ci < n; ci++)
		{
			int			i = cand[ci];
			PGconn	   *pg = node_pg(c, i, err);
			PGresult   *res;
			char		name[16];
			const char *state;

			if (pg == NULL || ensure_prepared(c, i, st, err) != 0)
			{
				if (pg != NULL && PQstatus(pg) == CONNECTION_OK)
					return NULL;	/* a real error preparing */
				mark_down(c, i);
				continue;		/* not sent: the next candidate */
			}
			snprintf(name, sizeof(name), "gkv%d", st);
			res = PQexecPrepared(pg, name, nparams, params, NULL, NULL, 0);
			if (PQresultStatus(res) == PGRES_TUPLES_OK)
				return res;
			state = PQresultErrorField(res, PG_DIAG_SQLSTATE);
			if (state && strcmp(state, "GK017") == 0 && stale < STALE_RETRIES)
			{
				/* the node says another holds the shard: its map is newer */
				PQclear(res);
				stale++;
				if (load_map_from(c, pg, c->map->nodes[i].name, err) != 0)
					return NULL;
				retry_map = true;
				break;
			}
			if (is_connection_failure(res, pg))
			{
				error_from_result(err, res, pg, c->map->nodes[i].name);
				PQclear(res);
				mark_down(c, i);
				if (!idempotent)
					return set_error(err, "08007", c->map->nodes[i].name,
									 "lost the connection to node \"%s\" after sending the call; "
									 "it may or may not have taken effect", c->map->nodes[i].name), NULL;
				continue;
			}
			error_from_result(err, res, pg, c->map->nodes[i].name);
			PQclear(res);
			return NULL;
		}
		if (!retry_map)
			return NULL;		/* every candidate failed; err says the last */
	}
}

gkv_conn *
gkv_connect(const char *const *seeds, int nseeds, const gkv_options *opts, gkv_error *err)
{
	gkv_conn   *c;

	if (nseeds < 1 || seeds == NULL)
		return set_error(err, "08001", NULL, "no seed node given"), NULL;
	c = calloc(1, sizeof(gkv_conn));
	c->down_ms = opts && opts->down_ms > 0 ? opts->down_ms : 2000;
	c->zone = opts && opts->zone ? strdup(opts->zone) : NULL;
	c->zone_order = strdup(opts && opts->zone_order ? opts->zone_order : "");
	for (int s = 0; s < nseeds; s++)
	{
		gkv_map_node seed_node;
		char	  **k,
				  **v;
		char		cerr[256];
		PGconn	   *pg;
		char		label[64];

		memset(&seed_node, 0, sizeof(seed_node));
		snprintf(label, sizeof(label), "seed %d", s + 1);
		if (gkv_node_conninfo(seeds[s], &seed_node, &k, &v, cerr, sizeof(cerr)) != 0)
		{
			set_error(err, "08001", label, "%s", cerr);
			continue;
		}
		pg = PQconnectdbParams((const char *const *) k, (const char *const *) v, 0);
		gkv_conninfo_free(k, v);
		if (PQstatus(pg) != CONNECTION_OK)
		{
			error_from_result(err, NULL, pg, label);
			snprintf(err ? err->sqlstate : cerr, 6, "08001");
			PQfinish(pg);
			continue;
		}
		free(c->seed);
		c->seed = strdup(seeds[s]);
		if (load_map_from(c, pg, label, err) == 0)
		{
			PQfinish(pg);
			return c;
		}
		PQfinish(pg);
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
	free(c->seed);
	free(c->zone);
	free(c->zone_order);
	free(c);
}

int
gkv_refresh_map(gkv_conn *c, gkv_error *err)
{
	for (int i = 0; i < c->map->nnodes; i++)
	{
		PGconn	   *pg = node_pg(c, i, err);

		if (pg && load_map_from(c, pg, c->map->nodes[i].name, err) == 0)
			return 0;
	}
	return -1;
}

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
gkv_shard_of(const gkv_conn *c, const char *ns, const char *key)
{
	return gkv_shard_for_hash(gkv_key_hash32(ns, key), c->map->nshards);
}

int
gkv_shard_count(const gkv_conn *c)
{
	return c->map->nshards;
}

const char *
gkv_shard_holder(const gkv_conn *c, int shard)
{
	int			z = gkv_map_zone_index(c->map, c->zone ? c->zone : "");

	if (z < 0 || shard < 0 || shard >= c->map->nshards)
		return "";
	return c->map->nodes[c->map->holder[shard * c->map->nzones + z]].name;
}

int
gkv_map_loads(const gkv_conn *c)
{
	return c->map_loads;
}

static char *
dup_value(PGresult *res, int row, int col)
{
	return PQgetisnull(res, row, col) ? NULL : strdup(PQgetvalue(res, row, col));
}

int
gkv_put(gkv_conn *c, const char *ns, const char *key, const char *json, const char *policy,
		gkv_put_result result, gkv_error *err)
{
	const char *p[4] = {ns, key, json, policy ? policy : "NO_EXPIRE"};
	PGresult   *res = call(c, ST_PUT, ns, key, 4, p, true, err);

	if (res == NULL)
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
	PGresult   *res = call(c, ST_GET, ns, key, 2, p, true, err);

	if (res == NULL)
		return -1;
	*json = dup_value(res, 0, 0);
	PQclear(res);
	return 0;
}

int
gkv_delete(gkv_conn *c, const char *ns, const char *key, int *deleted, gkv_error *err)
{
	const char *p[2] = {ns, key};
	PGresult   *res = call(c, ST_DELETE, ns, key, 2, p, true, err);

	if (res == NULL)
		return -1;
	if (deleted)
		*deleted = strcmp(PQgetvalue(res, 0, 0), "t") == 0;
	PQclear(res);
	return 0;
}

int
gkv_patch_numeric(gkv_conn *c, const char *ns, const char *key, const char *offsets,
				  const char *policy, char **doc, gkv_error *err)
{
	const char *p[4] = {ns, key, offsets, policy ? policy : "NO_EXPIRE"};
	PGresult   *res = call(c, ST_PATCH, ns, key, 4, p, false, err);

	if (res == NULL)
		return -1;
	if (doc)
		*doc = dup_value(res, 0, 0);
	PQclear(res);
	return 0;
}

/* appends s to an array literal being built in f, quoted */
static void
array_elem(FILE *f, const char *s, bool first)
{
	if (!first)
		fputc(',', f);
	fputc('"', f);
	for (; *s; s++)
	{
		if (*s == '"' || *s == '\\')
			fputc('\\', f);
		fputc(*s, f);
	}
	fputc('"', f);
}

/*
 * batch: keys grouped by node, one statement per node, all sent before
 * any result is read.  out_col: per key, column 2 of its row.  Groups
 * whose node fails are resent to the next candidate (batches are
 * idempotent); GK017 refreshes the map.
 */
static int
batch(gkv_conn *c, int st, const char *ns, int n, const char *const *keys,
	  const char *const *values, const char *policy, char **out_col, gkv_error *err)
{
	int		   *node_of = malloc(sizeof(int) * (n + 1));
	bool	   *done = calloc(n + 1, sizeof(bool));
	int		   *attempt = calloc(n + 1, sizeof(int));
	int			rc = 0;
	int			rounds = 0;
	int			stale = 0;

	for (;;)
	{
		int			pending = 0;
		int		   *groups;
		int			ngroups = 0;
		bool	   *sent;
		bool		refresh = false;

		/* down nodes are not skipped here: attempt[k] steps through candidates */
		groups = malloc(sizeof(int) * (c->map->nnodes + 1));
		sent = calloc(c->map->nnodes + 1, sizeof(bool));
		for (int k = 0; k < n; k++)
		{
			int			cand[GKV_MAX_CANDIDATES];
			int			nc;
			int			g;

			node_of[k] = -1;
			if (done[k])
				continue;
			nc = gkv_map_candidates(c->map, gkv_shard_of(c, ns, keys[k]), c->zone, c->zone_order,
									NULL, cand, GKV_MAX_CANDIDATES);
			if (attempt[k] >= nc)
			{
				rc = set_error(err, "GK018", NULL, "no node holding the shard of key \"%.40s\" can be reached",
							   keys[k]);
				goto out;
			}
			node_of[k] = cand[attempt[k]];
			pending++;
			for (g = 0; g < ngroups; g++)
				if (groups[g] == node_of[k])
					break;
			if (g == ngroups)
				groups[ngroups++] = node_of[k];
		}
		if (pending == 0 || ++rounds > 16)
		{
			free(groups);
			free(sent);
			if (pending > 0)
				rc = set_error(err, "GK018", NULL, "the batch could not be placed");
			break;
		}
		for (int g = 0; g < ngroups; g++)
		{
			int			i = groups[g];
			PGconn	   *pg = node_pg(c, i, err);
			char	   *karr = NULL,
					   *varr = NULL;
			size_t		kl,
						vl;
			FILE	   *kf,
					   *vf;
			bool		first = true;
			char		name[16];
			const char *p[4];

			if (pg == NULL || ensure_prepared(c, i, st, err) != 0)
			{
				mark_down(c, i);
				for (int k = 0; k < n; k++)
					if (node_of[k] == i)
						attempt[k]++;
				continue;
			}
			kf = open_memstream(&karr, &kl);
			vf = open_memstream(&varr, &vl);
			fputc('{', kf);
			fputc('{', vf);
			for (int k = 0; k < n; k++)
				if (node_of[k] == i)
				{
					array_elem(kf, keys[k], first);
					if (values)
						array_elem(vf, values[k], first);
					first = false;
				}
			fputc('}', kf);
			fputc('}', vf);
			fclose(kf);
			fclose(vf);
			p[0] = ns;
			p[1] = karr;
			p[2] = varr;
			p[3] = policy ? policy : "NO_EXPIRE";
			snprintf(name, sizeof(name), "gkv%d", st);
			sent[g] = PQsendQueryPrepared(pg, name, values ? 4 : 2,
										  values ? p : (const char *const[]) {ns, karr}, NULL, NULL, 0);
			free(karr);
			free(varr);
			if (!sent[g])
			{
				mark_down(c, i);
				for (int k = 0; k < n; k++)
					if (node_of[k] == i)
						attempt[k]++;
			}
		}
		for (int g = 0; g < ngroups; g++)
		{
			int			i = groups[g];
			PGresult   *res,
					   *last = NULL;
			int			row = 0;
			const char *state;

			if (!sent[g])
				continue;
			while ((res = PQgetResult(c->nodes[i].pg)) != NULL)
			{
				if (last)
					PQclear(last);
				last = res;
			}
			if (last && PQresultStatus(last) == PGRES_TUPLES_OK)
			{
				for (int k = 0; k < n; k++)
					if (node_of[k] == i && row < PQntuples(last))
					{
						out_col[k] = dup_value(last, row++, 1);
						done[k] = true;
					}
				PQclear(last);
				continue;
			}
			state = last ? PQresultErrorField(last, PG_DIAG_SQLSTATE) : NULL;
			if (state && strcmp(state, "GK017") == 0)
			{
				/* that node's keys go again, after a map refresh */
				PQclear(last);
				refresh = true;
				continue;
			}
			if (is_connection_failure(last, c->nodes[i].pg))
			{
				error_from_result(err, last, c->nodes[i].pg, c->map->nodes[i].name);
				if (last)
					PQclear(last);
				mark_down(c, i);
				for (int k = 0; k < n; k++)
					if (node_of[k] == i)
						attempt[k]++;
				continue;
			}
			error_from_result(err, last, c->nodes[i].pg, c->map->nodes[i].name);
			PQclear(last);
			/* drain the other nodes before giving up */
			for (int h = g + 1; h < ngroups; h++)
				if (sent[h])
					while ((res = PQgetResult(c->nodes[groups[h]].pg)) != NULL)
						PQclear(res);
			rc = -1;
			free(groups);
			free(sent);
			goto out;
		}
		free(groups);
		free(sent);
		if (refresh && (++stale > STALE_RETRIES || gkv_refresh_map(c, err) != 0))
		{
			rc = -1;
			break;
		}
	}
out:
	free(node_of);
	free(done);
	free(attempt);
	return rc;
}

int
gkv_put_many(gkv_conn *c, const char *ns, int n, const char *const *keys,
			 const char *const *values, const char *policy, gkv_put_result *results,
			 gkv_error *err)
{
	char	  **out = calloc(n + 1, sizeof(char *));
	int			rc = batch(c, ST_PUT_MANY, ns, n, keys, values, policy, out, err);

	for (int k = 0; k < n; k++)
	{
		if (rc == 0 && results)
			snprintf(results[k], sizeof(gkv_put_result), "%s", out[k] ? out[k] : "");
		free(out[k]);
	}
	free(out);
	return rc;
}

int
gkv_get_many(gkv_conn *c, const char *ns, int n, const char *const *keys, char **values,
			 gkv_error *err)
{
	for (int k = 0; k < n; k++)
		values[k] = NULL;
	return batch(c, ST_GET_MANY, ns, n, keys, NULL, NULL, values, err);
}
