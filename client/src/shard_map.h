/*-------------------------------------------------------------------------
 *
 * shard_map.h
 *	  The shard map as libglobalkv holds it (shard_map.c): parsing the text
 *	  of kv.shard_map(), choosing nodes, building node connection options.
 *	  Internal (not installed); the unit tests use it directly.
 *
 * client/src/shard_map.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef GKV_SHARD_MAP_H
#define GKV_SHARD_MAP_H

#include <stddef.h>

/* more zones than this are never tried in one call */
#define GKV_MAX_CANDIDATES 64

typedef struct gkv_map_node
{
	int			id;
	char		name[64];
	char		zone[64];
	char		host[256];		/* "" : the seed's */
	char		port[16];		/* "" : the seed's */
	char		dbname[64];		/* "" : the seed's */
} gkv_map_node;

typedef struct gkv_map
{
	int			nshards;
	char		zone[64];		/* zone of the node that answered ("" if none) */
	int			nnodes;
	gkv_map_node *nodes;
	int			nzones;
	char		(*zones)[64];	/* zones that have nodes, in name order */
	int		   *holder;			/* [shard * nzones + zone]: node index */
} gkv_map;

/* 0 and *out on success; -1, *out NULL and a message in err otherwise */
extern int	gkv_map_parse(const char *text, gkv_map **out, char *err, size_t errlen);
extern void gkv_map_free(gkv_map *map);
extern int	gkv_map_zone_index(const gkv_map *map, const char *zone);

/*
 * Node indexes that may serve the shard, best first: its holder in 'zone',
 * then its holders in the other zones, those in zone_order first (in that
 * order) and the rest by name; nodes with down[index] set are left out
 * (down may be NULL).  Returns how many were written to out (<= max).
 */
extern int	gkv_map_candidates(const gkv_map *map, int shard, const char *zone,
							   const char *zone_order, const unsigned char *down,
							   int *out, int max);

/*
 * libpq keywords/values (NULL-terminated, malloc'd; free with
 * gkv_conninfo_free) to reach a node: the seed's options, the node's host,
 * port and database from the map when not empty (but the seed's socket
 * directory is kept for a node on a loopback address), and the seed's
 * "options" followed by -c globalkv.routing=direct.  On failure err says
 * why without quoting the seed (it may hold a password).
 */
extern int	gkv_node_conninfo(const char *seed, const gkv_map_node *node,
							  char ***keywords, char ***values, char *err, size_t errlen);
extern void gkv_conninfo_free(char **keywords, char **values);

#endif							/* GKV_SHARD_MAP_H */
