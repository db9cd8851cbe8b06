/*
 * fuzz_shard_map.c -- libFuzzer target: libglobalkv's reading of a node's
 * reply to kv.shard_map() (client/src/shard_map.c), and everything the
 * library then does with a map it accepted: zone lookups, the candidates
 * of every shard in every zone (with some nodes down), and the connection
 * options of every node built on a seed.  A node is not trusted to send a
 * well-formed map: whatever it sends must be refused or used without a
 * memory error, a leak or undefined behaviour (built with ASan and UBSan).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "shard_map.h"

int			LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char	   *text = malloc(size + 1);
	char		err[256];
	gkv_map    *map = NULL;

	if (text == NULL)
		return 0;
	memcpy(text, data, size);
	text[size] = '\0';
	if (gkv_map_parse(text, &map, err, sizeof(err)) == 0)
	{
		unsigned char *down = calloc(map->nnodes + 1, 1);
		int			cand[GKV_MAX_CANDIDATES];

		for (int i = 0; i < map->nnodes; i += 2)
			down[i] = 1;
		for (int z = -1; z < map->nzones; z++)
		{
			const char *zone = z < 0 ? "no-such-zone" : map->zones[z];

			(void) gkv_map_zone_index(map, zone);
			for (int s = -1; s <= map->nshards && s < 4096; s++)
			{
				int			n = gkv_map_candidates(map, s, zone, "zone2,zone1", NULL, cand, GKV_MAX_CANDIDATES);

				for (int i = 0; i < n; i++)
					if (cand[i] < 0 || cand[i] >= map->nnodes)
						abort();	/* a candidate must be a node of the map */
				(void) gkv_map_candidates(map, s, zone, NULL, down, cand, 3);
			}
		}
		for (int i = 0; i < map->nnodes; i++)
		{
			char	  **keywords,
					  **values;

			if (gkv_node_conninfo("host=/tmp port=5432 dbname=seed user=u options='-c x=y'", &map->nodes[i],
								  &keywords, &values, err, sizeof(err)) == 0)
				gkv_conninfo_free(keywords, values);
		}
		free(down);
		gkv_map_free(map);
	}
	free(text);
	return 0;
}
