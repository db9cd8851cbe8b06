/*-------------------------------------------------------------------------
 *
 * shard_map.c
 *	  The shard map of libglobalkv: parsing, node choice, connection
 *	  options.  No server needed, so it is unit-tested on its own
 *	  (test/unit/test_client.c).
 *
 * The text format (docs/routing.md): lines of tab-separated fields,
 *
 *	globalkv shard map 1
 *	shards	S
 *	zone	<zone of the answering node>
 *	node	id	name	zone	host	port	dbname
 *	placement	shard	zone	node_id
 *
 * Unknown line kinds are ignored, and so are fields after the known ones,
 * so that a later server can add both without breaking this library.
 * Everything the library relies on is checked: a map it accepts names a
 * node for every (shard, zone with nodes), so routing never has to cope
 * with a hole.
 *
 * client/src/shard_map.c
 *
 *-------------------------------------------------------------------------
 */
#define _POSIX_C_SOURCE 200809L
#include "shard_map.h"

#include "gkv_hash.h"

#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "libpq-fe.h"

#define MAP_HEADER "globalkv shard map 1"
/* a sanity bound, above the server's 4096, so a later server may grow */
#define MAX_SHARDS 65536
#define MAX_FIELDS 16

static int
fail(char *err, size_t errlen, const char *fmt,...)
{
	va_list		ap;

	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
	return -1;
}

/* splits line (modified) at tabs into at most max fields; returns how many */
static int
split(char *line, char **fields, int max)
{
	int			n = 0;

	fields[n++] = line;
	for (char *p = line; *p && n < max; p++)
		if (*p == '\t')
		{
			*p = '\0';
			fields[n++] = p + 1;
		}
	return n;
}

/* a decimal number 0..INT_MAX, digits only */
static int
parse_int(const char *s, int *v)
{
	long long	l = 0;

	if (*s == '\0')
		return -1;
	for (; *s; s++)
	{
		if (*s < '0' || *s > '9')
			return -1;
		l = l * 10 + (*s - '0');
		if (l > 2147483647LL)
			return -1;
	}
	*v = (int) l;
	return 0;
}

static int
copy_field(char *dst, size_t size, const char *src)
{
	size_t		len = strlen(src);

	if (len >= size)
		return -1;
	memcpy(dst, src, len + 1);
	return 0;
}

int
gkv_map_zone_index(const gkv_map *map, const char *zone)
{
	for (int i = 0; i < map->nzones; i++)
		if (strcmp(map->zones[i], zone) == 0)
			return i;
	return -1;
}

static int
node_index(const gkv_map *map, int id)
{
	for (int i = 0; i < map->nnodes; i++)
		if (map->nodes[i].id == id)
			return i;
	return -1;
}

static int
zone_cmp(const void *a, const void *b)
{
	return strcmp((const char *) a, (const char *) b);
}

void
gkv_map_free(gkv_map *map)
{
	if (map == NULL)
		return;
	free(map->nodes);
	free(map->zones);
	free(map->holder);
	free(map);
}

/* is the line of this kind ("kind" or "kind\t...")? */
static bool
line_kind(const char *line, const char *kind)
{
	size_t		n = strcspn(line, "\t");

	return n == strlen(kind) && strncmp(line, kind, n) == 0;
}

/* a node line: f[1..6] = id, name, zone, host, port, dbname */
static int
add_node(gkv_map *map, int *cap, char **f, int n, int lineno, char *err, size_t errlen)
{
	gkv_map_node nd;

	memset(&nd, 0, sizeof(nd));
	if (n < 7)
		return fail(err, errlen, "line %d: a node line has 7 fields, not %d", lineno, n);
	if (parse_int(f[1], &nd.id) != 0 || nd.id < 1)
		return fail(err, errlen, "line %d: bad node id \"%.20s\"", lineno, f[1]);
	if (copy_field(nd.name, sizeof(nd.name), f[2]) != 0 || nd.name[0] == '\0')
		return fail(err, errlen, "line %d: bad node name", lineno);
	if (copy_field(nd.zone, sizeof(nd.zone), f[3]) != 0 || nd.zone[0] == '\0')
		return fail(err, errlen, "line %d: bad zone name of node %d", lineno, nd.id);
	if (copy_field(nd.host, sizeof(nd.host), f[4]) != 0 ||
		copy_field(nd.port, sizeof(nd.port), f[5]) != 0 ||
		copy_field(nd.dbname, sizeof(nd.dbname), f[6]) != 0)
		return fail(err, errlen, "line %d: host, port or database of node %d too long", lineno, nd.id);
	if (nd.port[0] && parse_int(nd.port, &(int) {0}) != 0)
		return fail(err, errlen, "line %d: bad port \"%.20s\" of node %d", lineno, nd.port, nd.id);
	if (node_index(map, nd.id) >= 0)
		return fail(err, errlen, "line %d: node %d listed twice", lineno, nd.id);
	if (map->nnodes == *cap)
	{
		int			newcap = *cap ? *cap * 2 : 8;
		gkv_map_node *nodes = realloc(map->nodes, sizeof(gkv_map_node) * newcap);
		char		(*zones)[64];

		if (nodes == NULL)
			return fail(err, errlen, "out of memory");
		map->nodes = nodes;
		zones = realloc(map->zones, sizeof(*map->zones) * newcap);
		if (zones == NULL)
			return fail(err, errlen, "out of memory");
		map->zones = zones;
		*cap = newcap;
	}
	map->nodes[map->nnodes++] = nd;
	/* a node adds at most one zone, so zones never outgrows nodes */
	if (gkv_map_zone_index(map, nd.zone) < 0)
		memcpy(map->zones[map->nzones++], nd.zone, sizeof(nd.zone));
	return 0;
}

/* a placement line: f[1..3] = shard, zone, node id */
static int
add_placement(gkv_map *map, char **f, int n, int lineno, char *err, size_t errlen)
{
	int			shard,
				id,
				z,
				ni,
			   *slot;

	if (n < 4)
		return fail(err, errlen, "line %d: a placement line has 4 fields, not %d", lineno, n);
	if (parse_int(f[1], &shard) != 0 || parse_int(f[3], &id) != 0)
		return fail(err, errlen, "line %d: bad number in a placement line", lineno);
	if (shard >= map->nshards)
		return fail(err, errlen, "line %d: placement of shard %d, but the map has %d shards",
					lineno, shard, map->nshards);
	if ((ni = node_index(map, id)) < 0)
		return fail(err, errlen, "line %d: placement on node %d, which is not in the map", lineno, id);
	if ((z = gkv_map_zone_index(map, f[2])) < 0)
		return fail(err, errlen, "line %d: placement in zone \"%.60s\", which has no node", lineno, f[2]);
	if (strcmp(map->nodes[ni].zone, f[2]) != 0)
		return fail(err, errlen, "line %d: placement of shard %d in zone \"%.60s\" on node %d of another zone",
					lineno, shard, f[2], id);
	slot = &map->holder[shard * map->nzones + z];
	if (*slot >= 0 && *slot != ni)
		return fail(err, errlen, "line %d: shard %d has two placements in zone \"%.60s\"",
					lineno, shard, f[2]);
	*slot = ni;
	return 0;
}

int
gkv_map_parse(const char *text, gkv_map **out, char *err, size_t errlen)
{
	char	   *copy = NULL;
	char	  **lines = NULL;
	int			nlines = 0;
	gkv_map    *map = NULL;
	int			cap = 0;
	int			rc = 0;

	*out = NULL;
	if (text == NULL || text[0] == '\0')
		return fail(err, errlen, "empty shard map");
	copy = strdup(text);
	map = calloc(1, sizeof(gkv_map));
	/* at most one line per newline, plus the last */
	{
		size_t		maxlines = 2;

		for (const char *p = text; *p; p++)
			maxlines += *p == '\n';
		lines = calloc(maxlines, sizeof(char *));
	}
	if (copy == NULL || map == NULL || lines == NULL)
	{
		rc = fail(err, errlen, "out of memory");
		goto done;
	}
	for (char *p = copy, *next; p; p = next)
	{
		next = strchr(p, '\n');
		if (next)
			*next++ = '\0';
		lines[nlines++] = p;
	}
	if (strcmp(lines[0], MAP_HEADER) != 0)
	{
		rc = fail(err, errlen, "not a globalkv shard map (first line \"%.40s\", expected \"" MAP_HEADER "\")",
				  lines[0]);
		goto done;
	}
	map->nshards = -1;

	/* pass 1: everything but placements, which need every node and zone */
	for (int i = 1; i < nlines && rc == 0; i++)
	{
		char	   *f[MAX_FIELDS];
		int			n;

		if (lines[i][0] == '\0' || line_kind(lines[i], "placement"))
			continue;
		n = split(lines[i], f, MAX_FIELDS);
		if (strcmp(f[0], "shards") == 0)
		{
			if (n < 2 || parse_int(f[1], &map->nshards) != 0 ||
				map->nshards < 1 || map->nshards > MAX_SHARDS)
				rc = fail(err, errlen, "line %d: bad shard count \"%.20s\"", i + 1, n < 2 ? "" : f[1]);
		}
		else if (strcmp(f[0], "zone") == 0)
		{
			if (n < 2 || copy_field(map->zone, sizeof(map->zone), f[1]) != 0)
				rc = fail(err, errlen, "line %d: bad zone line", i + 1);
		}
		else if (strcmp(f[0], "node") == 0)
			rc = add_node(map, &cap, f, n, i + 1, err, errlen);
		/* anything else: a later version's line kind */
	}
	if (rc == 0 && map->nshards < 1)
		rc = fail(err, errlen, "the shard map has no shard count");
	if (rc != 0)
		goto done;

	if (map->nzones > 1)
		qsort(map->zones, map->nzones, sizeof(*map->zones), zone_cmp);
	map->holder = malloc(sizeof(int) * (size_t) map->nshards * (size_t) (map->nzones ? map->nzones : 1));
	if (map->holder == NULL)
	{
		rc = fail(err, errlen, "out of memory");
		goto done;
	}
	for (int i = 0; i < map->nshards * map->nzones; i++)
		map->holder[i] = -1;

	/* pass 2: placements */
	for (int i = 1; i < nlines && rc == 0; i++)
	{
		char	   *f[MAX_FIELDS];

		if (line_kind(lines[i], "placement"))
			rc = add_placement(map, f, split(lines[i], f, MAX_FIELDS), i + 1, err, errlen);
	}
	for (int s = 0; rc == 0 && s < map->nshards; s++)
		for (int z = 0; rc == 0 && z < map->nzones; z++)
			if (map->holder[s * map->nzones + z] < 0)
				rc = fail(err, errlen, "shard %d has no placement in zone \"%s\"", s, map->zones[z]);

done:
	free(lines);
	free(copy);
	if (rc != 0)
	{
		gkv_map_free(map);
		return -1;
	}
	*out = map;
	return 0;
}

/* a zone's name, for gkv_sort_zones_by_rank */
static const char *
MapZoneName(int zone, const void *arg)
{
	return ((const gkv_map *) arg)->zones[zone];
}

int
gkv_map_candidates(const gkv_map *map, int shard, const char *zone, const char *zone_order,
				   const unsigned char *down, int *out, int max)
{
	int			n = 0;
	int			order[GKV_MAX_CANDIDATES];
	int			nz = 0;
	int			home = gkv_map_zone_index(map, zone ? zone : "");
	int			first_sorted;

	if (shard < 0 || shard >= map->nshards)
		return 0;
	if (home >= 0)
		order[nz++] = home;
	first_sorted = nz;
	for (int z = 0; z < map->nzones && nz < GKV_MAX_CANDIDATES; z++)
		if (z != home)
			order[nz++] = z;
	/* the other zones in failover order */
	gkv_sort_zones_by_rank(order + first_sorted, nz - first_sorted, zone_order, MapZoneName, map);
	for (int i = 0; i < nz && n < max; i++)
	{
		int			ni = map->holder[shard * map->nzones + order[i]];

		if (ni >= 0 && !(down && down[ni]))
			out[n++] = ni;
	}
	return n;
}

void
gkv_conninfo_free(char **keywords, char **values)
{
	for (int i = 0; keywords && keywords[i]; i++)
	{
		free(keywords[i]);
		free(values[i]);
	}
	free(keywords);
	free(values);
}

/*
 * a node registered on a loopback address runs on this machine; a seed
 * reached through a socket directory is on this machine too
 */
static bool
is_loopback(const char *host)
{
	return strcmp(host, "localhost") == 0 || strcmp(host, "::1") == 0 ||
		strncmp(host, "127.", 4) == 0;
}

/*
 * libpq's parse errors quote pieces of the connection string, which may
 * be (part of) a password: quoted pieces longer than one character are
 * replaced by "...".
 */
static void
redact_quotes(char *dst, size_t size, const char *src)
{
	size_t		o = 0;

	for (const char *p = src; *p && o + 1 < size; p++)
	{
		const char *close = *p == '"' ? strchr(p + 1, '"') : NULL;

		if (close)
		{
			/* a quoted piece: kept when it is one character (libpq's "=") */
			const char *r = close - p == 2 ? p : "\"...\"";
			size_t		n = close - p == 2 ? 3 : 5;

			for (size_t i = 0; i < n && o + 1 < size; i++)
				dst[o++] = r[i];
			p = close;
		}
		else if (*p != '\n')
			dst[o++] = *p;
	}
	dst[o] = '\0';
}

int
gkv_node_conninfo(const char *seed, const gkv_map_node *node, char ***keywords,
				  char ***values, char *err, size_t errlen)
{
	char	   *perr = NULL;
	PQconninfoOption *opts = PQconninfoParse(seed, &perr);
	const char *seed_host = NULL;
	const char *seed_options = NULL;
	bool		keep_seed_host;
	int			n = 0,
				cap = 0;
	char	  **k,
			  **v;
	bool		oom = false;

	*keywords = NULL;
	*values = NULL;
	if (opts == NULL)
	{
		char		clean[256];

		redact_quotes(clean, sizeof(clean), perr ? perr : "out of memory");
		fail(err, errlen, "invalid connection string: %s", clean);
		if (perr)
			PQfreemem(perr);
		return -1;
	}
	for (PQconninfoOption *o = opts; o->keyword; o++)
	{
		cap++;
		if (strcmp(o->keyword, "host") == 0 && o->val && o->val[0])
			seed_host = o->val;
		if (strcmp(o->keyword, "options") == 0 && o->val && o->val[0])
			seed_options = o->val;
	}

	/*
	 * The map's host wins, except that a seed given as a socket directory
	 * keeps it for nodes on a loopback address: a local parade registers
	 * its nodes as 127.0.0.1 with password authentication for the node
	 * role, while the caller logs in over the shared socket directory.
	 */
	keep_seed_host = node->host[0] == '\0' ||
		(seed_host && (seed_host[0] == '/' || seed_host[0] == '@') && is_loopback(node->host));

	k = calloc(cap + 2, sizeof(char *));
	v = calloc(cap + 2, sizeof(char *));
	if (k == NULL || v == NULL)
		oom = true;
	for (PQconninfoOption *o = opts; o->keyword && !oom; o++)
	{
		const char *val = o->val;

		if (strcmp(o->keyword, "port") == 0 && node->port[0])
			val = node->port;
		else if (strcmp(o->keyword, "dbname") == 0 && node->dbname[0])
			val = node->dbname;
		else if (strcmp(o->keyword, "host") == 0 && !keep_seed_host)
			val = node->host;
		else if (strcmp(o->keyword, "hostaddr") == 0 && !keep_seed_host)
			val = NULL;			/* the seed's address is not the node's */
		else if (strcmp(o->keyword, "options") == 0)
			continue;			/* merged below */
		if (val == NULL || val[0] == '\0')
			continue;
		k[n] = strdup(o->keyword);
		v[n] = strdup(val);
		oom = k[n] == NULL || v[n] == NULL;
		n++;
	}
	if (!oom)
	{
		/* the seed's own options are kept; ours comes last, so it wins */
		const char *direct = "-c globalkv.routing=direct";
		size_t		len = (seed_options ? strlen(seed_options) + 1 : 0) + strlen(direct) + 1;

		k[n] = strdup("options");
		v[n] = malloc(len);
		if (k[n] && v[n])
			snprintf(v[n], len, "%s%s%s", seed_options ? seed_options : "", seed_options ? " " : "", direct);
		oom = k[n] == NULL || v[n] == NULL;
		n++;
	}
	PQconninfoFree(opts);
	if (oom)
	{
		if (k && v)
		{
			/* free what was allocated; the arrays are NULL-terminated by calloc */
			for (int i = 0; i < n; i++)
			{
				free(k[i]);
				free(v[i]);
			}
		}
		free(k);
		free(v);
		return fail(err, errlen, "out of memory");
	}
	*keywords = k;
	*values = v;
	return 0;
}
