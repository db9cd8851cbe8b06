/*-------------------------------------------------------------------------
 *
 * shard_map.c
 *	  The shard map of libglobalkv: parsing, node choice, connection
 *	  options.  No server needed, so it is unit-tested on its own.
 *
 * The text format (docs/routing.md): lines of tab-separated fields,
 *
 *	globalkv shard map 1
 *	shards	S
 *	zone	<zone of the answering node>
 *	node	id	name	zone	host	port	dbname
 *	placement	shard	zone	node_id
 *
 * Unknown line kinds are ignored, so later versions can add some.
 *
 * client/src/shard_map.c
 *
 *-------------------------------------------------------------------------
 */
#define _GNU_SOURCE
#include "shard_map.h"

#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "libpq-fe.h"

static int
fail(char *err, size_t errlen, const char *fmt,...)
{
	va_list		ap;

	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
	return -1;
}

/* splits line (modified) at tabs into at most max fields */
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

static int
parse_int(const char *s, int *v)
{
	char	   *end;
	long		l = strtol(s, &end, 10);

	if (*s == '\0' || *end != '\0' || l < 0 || l > 2147483647L)
		return -1;
	*v = (int) l;
	return 0;
}

static int
copy_field(char *dst, size_t size, const char *src)
{
	if (strlen(src) >= size)
		return -1;
	strcpy(dst, src);
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

int
gkv_map_parse(const char *text, gkv_map **out, char *err, size_t errlen)
{
	char	   *copy = strdup(text ? text : "");
	char	   *save = NULL;
	char	   *line;
	gkv_map    *map = calloc(1, sizeof(gkv_map));
	int			lineno = 0;
	int			rc = 0;
	int			cap = 0;
	char	   *placements = NULL;	/* second pass: need every node and zone first */
	size_t		plen = 0;
	FILE	   *pf = open_memstream(&placements, &plen);

	*out = NULL;
	map->nshards = -1;
	for (line = strtok_r(copy, "\n", &save); line && rc == 0; line = strtok_r(NULL, "\n", &save))
	{
		char	   *f[8];
		int			n;

		lineno++;
		if (lineno == 1)
		{
			if (strcmp(line, "globalkv shard map 1") != 0)
				rc = fail(err, errlen, "not a globalkv shard map (first line \"%.40s\")", line);
			continue;
		}
		if (strncmp(line, "placement\t", 10) == 0)
		{
			fprintf(pf, "%s\n", line);
			continue;
		}
		n = split(line, f, 8);
		if (strcmp(f[0], "shards") == 0)
		{
			if (n != 2 || parse_int(f[1], &map->nshards) != 0 || map->nshards < 1 || map->nshards > 4096)
				rc = fail(err, errlen, "line %d: bad shard count", lineno);
		}
		else if (strcmp(f[0], "zone") == 0)
		{
			if (n != 2 || copy_field(map->zone, sizeof(map->zone), f[1]) != 0)
				rc = fail(err, errlen, "line %d: bad zone line", lineno);
		}
		else if (strcmp(f[0], "node") == 0)
		{
			gkv_map_node *nd;

			if (n != 7)
			{
				rc = fail(err, errlen, "line %d: a node line has 7 fields, not %d", lineno, n);
				break;
			}
			if (map->nnodes == cap)
			{
				cap = cap ? cap * 2 : 8;
				map->nodes = realloc(map->nodes, sizeof(gkv_map_node) * cap);
				map->zones = realloc(map->zones, sizeof(*map->zones) * cap);
			}
			nd = &map->nodes[map->nnodes];
			memset(nd, 0, sizeof(*nd));
			if (parse_int(f[1], &nd->id) != 0 || nd->id < 1 ||
				copy_field(nd->name, sizeof(nd->name), f[2]) != 0 ||
				copy_field(nd->zone, sizeof(nd->zone), f[3]) != 0 || nd->zone[0] == '\0' ||
				copy_field(nd->host, sizeof(nd->host), f[4]) != 0 ||
				copy_field(nd->port, sizeof(nd->port), f[5]) != 0 ||
				copy_field(nd->dbname, sizeof(nd->dbname), f[6]) != 0)
				rc = fail(err, errlen, "line %d: bad node line", lineno);
			else if (node_index(map, nd->id) >= 0)
				rc = fail(err, errlen, "line %d: node %d listed twice", lineno, nd->id);
			else
			{
				map->nnodes++;
				if (gkv_map_zone_index(map, nd->zone) < 0)
					strcpy(map->zones[map->nzones++], nd->zone);
			}
		}
		/* anything else: a later version's line kind */
	}
	fclose(pf);
	if (rc == 0 && lineno == 0)
		rc = fail(err, errlen, "empty shard map");
	if (rc == 0 && map->nshards < 1)
		rc = fail(err, errlen, "the shard map has no shard count");
	if (rc == 0)
	{
		qsort(map->zones, map->nzones, sizeof(*map->zones), zone_cmp);
		map->holder = malloc(sizeof(int) * ((size_t) map->nshards * (map->nzones ? map->nzones : 1)));
		for (int i = 0; i < map->nshards * map->nzones; i++)
			map->holder[i] = -1;
		save = NULL;
		for (line = strtok_r(placements, "\n", &save); line && rc == 0; line = strtok_r(NULL, "\n", &save))
		{
			char	   *f[5];
			int			shard,
						id,
						z,
						ni;

			if (split(line, f, 5) != 4 || parse_int(f[1], &shard) != 0 || parse_int(f[3], &id) != 0)
				rc = fail(err, errlen, "bad placement line \"%.60s\"", line);
			else if (shard >= map->nshards)
				rc = fail(err, errlen, "placement of shard %d, but the map has %d shards", shard, map->nshards);
			else if ((z = gkv_map_zone_index(map, f[2])) < 0)
				rc = fail(err, errlen, "placement in zone \"%.60s\", which has no node", f[2]);
			else if ((ni = node_index(map, id)) < 0)
				rc = fail(err, errlen, "placement on node %d, which is not in the map", id);
			else if (strcmp(map->nodes[ni].zone, f[2]) != 0)
				rc = fail(err, errlen, "placement of shard %d in zone \"%.60s\" on node %d of another zone",
						  shard, f[2], id);
			else
				map->holder[shard * map->nzones + z] = ni;
		}
		for (int s = 0; rc == 0 && s < map->nshards; s++)
			for (int z = 0; rc == 0 && z < map->nzones; z++)
				if (map->holder[s * map->nzones + z] < 0)
					rc = fail(err, errlen, "shard %d has no placement in zone \"%s\"", s, map->zones[z]);
	}
	free(placements);
	free(copy);
	if (rc != 0)
	{
		gkv_map_free(map);
		return -1;
	}
	*out = map;
	return 0;
}

/* rank of a zone in the failover order: listed zones first */
static int
zone_rank(const char *zone, const char *order, int name_index)
{
	int			rank = 0;
	size_t		len = strlen(zone);

	for (const char *p = order; p && *p;)
	{
		const char *end = strchr(p, ',');
		size_t		n = end ? (size_t) (end - p) : strlen(p);

		while (n > 0 && *p == ' ')
			p++, n--;
		while (n > 0 && p[n - 1] == ' ')
			n--;
		if (n == len && strncmp(p, zone, n) == 0)
			return rank;
		rank++;
		p = end ? end + 1 : NULL;
	}
	return 10000 + name_index;
}

int
gkv_map_candidates(const gkv_map *map, int shard, const char *zone, const char *zone_order,
				   const unsigned char *down, int *out, int max)
{
	int			n = 0;
	int			order[GKV_MAX_CANDIDATES];
	int			nz = 0;
	int			home = gkv_map_zone_index(map, zone ? zone : "");

	if (shard < 0 || shard >= map->nshards)
		return 0;
	if (home >= 0)
		order[nz++] = home;
	for (int z = 0; z < map->nzones && nz < GKV_MAX_CANDIDATES; z++)
		if (z != home)
			order[nz++] = z;
	/* sort all but the home zone by failover rank */
	for (int i = (home >= 0) + 1; i < nz; i++)
		for (int j = i; j > (home >= 0) &&
			 zone_rank(map->zones[order[j]], zone_order, order[j]) <
			 zone_rank(map->zones[order[j - 1]], zone_order, order[j - 1]); j--)
		{
			int			t = order[j];

			order[j] = order[j - 1];
			order[j - 1] = t;
		}
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

int
gkv_node_conninfo(const char *seed, const gkv_map_node *node, char ***keywords,
				  char ***values, char *err, size_t errlen)
{
	char	   *perr = NULL;
	PQconninfoOption *opts = PQconninfoParse(seed, &perr);
	const char *seed_host = NULL;
	int			n = 0,
				cap = 0;
	char	  **k = NULL,
			  **v = NULL;

	if (opts == NULL)
	{
		fail(err, errlen, "invalid seed connection string: %s", perr ? perr : "out of memory");
		if (perr)
			PQfreemem(perr);
		return -1;
	}
	for (PQconninfoOption *o = opts; o->keyword; o++)
		if (strcmp(o->keyword, "host") == 0 && o->val)
			seed_host = o->val;
	for (PQconninfoOption *o = opts; o->keyword; o++)
		cap++;
	k = calloc(cap + 2, sizeof(char *));
	v = calloc(cap + 2, sizeof(char *));
	for (PQconninfoOption *o = opts; o->keyword; o++)
	{
		const char *val = o->val;
		bool		local_socket = seed_host && seed_host[0] == '/';

		if (strcmp(o->keyword, "port") == 0 && node->port[0])
			val = node->port;
		else if (strcmp(o->keyword, "dbname") == 0 && node->dbname[0])
			val = node->dbname;
		else if (strcmp(o->keyword, "host") == 0 && node->host[0] && !local_socket)
			val = node->host;
		else if (strcmp(o->keyword, "hostaddr") == 0 && node->host[0] && !local_socket)
			val = NULL;			/* the map's host replaces the seed's address */
		else if (strcmp(o->keyword, "options") == 0)
			continue;			/* set below */
		if (val == NULL || val[0] == '\0')
			continue;
		k[n] = strdup(o->keyword);
		v[n++] = strdup(val);
	}
	k[n] = strdup("options");
	v[n++] = strdup("-c globalkv.routing=direct");
	PQconninfoFree(opts);
	*keywords = k;
	*values = v;
	return 0;
}
