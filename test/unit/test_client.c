/*
 * test_client.c -- unit tests of libglobalkv that need no server: the key
 * hash through the public API (shared vectors), shard map parsing, the
 * failover order, node connection options, and the error paths of
 * connecting.  Output is TAP: "ok N - ..." / "not ok N - ...".
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "globalkv_client.h"
#include "gkv_hash.h"
#include "shard_map.h"

static int	test_no = 0;
static int	failures = 0;

static void
check(int cond, const char *what)
{
	test_no++;
	printf("%s %d - %s\n", cond ? "ok" : "not ok", test_no, what);
	if (!cond)
		failures++;
}

static const char *GoodMap =
"globalkv shard map 1\n"
"shards\t4\n"
"zone\tzone1\n"
"node\t1\tn1\tzone1\t127.0.0.1\t5501\tpostgres\n"
"node\t2\tn2\tzone1\t127.0.0.1\t5502\tpostgres\n"
"node\t3\tn3\tzone2\t10.0.0.3\t5503\tdb3\n"
"node\t4\tn4\tzone3\t\t\t\n"
"future-kind\twhatever\n"
"placement\t0\tzone1\t1\n" "placement\t1\tzone1\t2\n" "placement\t2\tzone1\t1\n" "placement\t3\tzone1\t2\n"
"placement\t0\tzone2\t3\n" "placement\t1\tzone2\t3\n" "placement\t2\tzone2\t3\n" "placement\t3\tzone2\t3\n"
"placement\t0\tzone3\t4\n" "placement\t1\tzone3\t4\n" "placement\t2\tzone3\t4\n" "placement\t3\tzone3\t4\n";

static int
rejects(const char *text, const char *expect_in_message)
{
	gkv_map    *map = NULL;
	char		err[256] = "";
	int			rc = gkv_map_parse(text, &map, err, sizeof(err));

	gkv_map_free(map);
	return rc != 0 && map == NULL && strstr(err, expect_in_message) != NULL;
}

static char *
replace(const char *s, const char *from, const char *to)
{
	const char *p = strstr(s, from);
	char	   *out;

	if (p == NULL)
		return strdup(s);
	if (asprintf(&out, "%.*s%s%s", (int) (p - s), s, to, p + strlen(from)) < 0)
		abort();
	return out;
}

int
main(int argc, char **argv)
{
	FILE	   *f = fopen(argc > 1 ? argv[1] : "../vectors/hash_vectors.txt", "r");
	char		line[512];
	int			nvec = 0,
				hash_ok = 1;
	gkv_map    *map = NULL;
	char		err[256];
	int			cand[8];
	int			n;

	/* 1. the shared hash vectors, through the public API */
	if (f == NULL)
	{
		check(0, "hash vectors file opens");
		return 1;
	}
	while (fgets(line, sizeof(line), f))
	{
		char		ns[128],
					key[256];
		unsigned long h;
		int			s1,
					s16,
					s64;

		if (line[0] == '#' || sscanf(line, "%127[^\t]\t%255[^\t]\t%lu\t%d\t%d\t%d", ns, key, &h, &s1, &s16, &s64) != 6)
			continue;
		nvec++;
		if (gkv_key_hash32(ns, key) != (uint32_t) h ||
			gkv_shard_for_hash((uint32_t) h, 16) != s16 || gkv_shard_for_hash((uint32_t) h, 64) != s64)
			hash_ok = 0;
	}
	fclose(f);
	check(nvec >= 10 && hash_ok, "gkv_key_hash32 and the shard mapping match every shared test vector");

	/* 2. parsing */
	check(gkv_map_parse(GoodMap, &map, err, sizeof(err)) == 0 && map != NULL, "a valid map parses");
	check(map && map->nshards == 4 && map->nnodes == 4 && map->nzones == 3 &&
		  strcmp(map->zone, "zone1") == 0, "shards, nodes, zones and the answering zone are read");
	check(map && strcmp(map->nodes[map->holder[1 * 3 + 0]].name, "n2") == 0,
		  "shard 1 of zone1 is on n2");
	check(rejects("nonsense\nshards\t4\n", "not a globalkv shard map"), "a wrong header is rejected");
	check(rejects("", "shard map"), "an empty map is rejected");
	check(rejects("globalkv shard map 1\nzone\tz\n", "no shard count"), "a map without a shard count is rejected");
	{
		char	   *bad = replace(GoodMap, "shards\t4", "shards\tfour");

		check(rejects(bad, "bad shard count"), "a bad shard count is rejected");
		free(bad);
		bad = replace(GoodMap, "placement\t3\tzone1\t2\n", "");
		check(rejects(bad, "shard 3 has no placement in zone \"zone1\""), "a missing placement is rejected");
		free(bad);
		bad = replace(GoodMap, "placement\t3\tzone1\t2", "placement\t3\tzone1\t9");
		check(rejects(bad, "node 9, which is not in the map"), "a placement on an unknown node is rejected");
		free(bad);
		bad = replace(GoodMap, "placement\t3\tzone1\t2", "placement\t3\tzone1\t3");
		check(rejects(bad, "of another zone"), "a placement on a node of another zone is rejected");
		free(bad);
		bad = replace(GoodMap, "placement\t3\tzone1\t2", "placement\t7\tzone1\t2");
		check(rejects(bad, "the map has 4 shards"), "a placement of a shard out of range is rejected");
		free(bad);
		bad = replace(GoodMap, "node\t2\tn2", "node\t1\tn2");
		check(rejects(bad, "listed twice"), "a node listed twice is rejected");
		free(bad);
		bad = replace(GoodMap, "\t5502\tpostgres\n", "\t5502\n");
		check(rejects(bad, "7 fields"), "a short node line is rejected");
		free(bad);
	}

	/* 3. failover order */
	if (map)
	{
		unsigned char down[4] = {0, 0, 0, 0};

		n = gkv_map_candidates(map, 1, "zone1", "", down, cand, 8);
		check(n == 3 && cand[0] == 1 && cand[1] == 2 && cand[2] == 3,
			  "candidates: the zone's holder, then other zones by name");
		n = gkv_map_candidates(map, 1, "zone1", "zone3, zone2", down, cand, 8);
		check(n == 3 && cand[0] == 1 && cand[1] == 3 && cand[2] == 2, "zone_order decides the failover order");
		down[1] = 1;
		n = gkv_map_candidates(map, 1, "zone1", "zone3,zone2", down, cand, 8);
		check(n == 2 && cand[0] == 3 && cand[1] == 2, "a node marked down is skipped");
		n = gkv_map_candidates(map, 9, "zone1", "", down, cand, 8);
		check(n == 0, "no candidate for a shard out of range");
	}

	/* 4. node connection options */
	if (map)
	{
		char	  **k,
				  **v;
		int			host = 0,
					port = 0,
					opt = 0,
					pw = 0,
					user = 0;

		check(gkv_node_conninfo("host=seedhost port=1 user=app password=s3cret dbname=x", &map->nodes[2],
								&k, &v, err, sizeof(err)) == 0, "node options build");
		for (int i = 0; k[i]; i++)
		{
			host |= strcmp(k[i], "host") == 0 && strcmp(v[i], "10.0.0.3") == 0;
			port |= strcmp(k[i], "port") == 0 && strcmp(v[i], "5503") == 0;
			opt |= strcmp(k[i], "options") == 0 && strstr(v[i], "globalkv.routing=direct") != NULL;
			pw |= strcmp(k[i], "password") == 0 && strcmp(v[i], "s3cret") == 0;
			user |= strcmp(k[i], "user") == 0 && strcmp(v[i], "app") == 0;
		}
		check(host && port, "host and port come from the map");
		check(user && pw, "user and password come from the seed");
		check(opt, "every node connection asks for direct routing");
		gkv_conninfo_free(k, v);
		gkv_node_conninfo("host=/tmp/parade port=1 user=app", &map->nodes[0], &k, &v, err, sizeof(err));
		host = 0;
		for (int i = 0; k[i]; i++)
			host |= strcmp(k[i], "host") == 0 && strcmp(v[i], "/tmp/parade") == 0;
		check(host, "a seed's socket directory is kept (local parade)");
		gkv_conninfo_free(k, v);
		check(gkv_node_conninfo("host='unterminated", &map->nodes[0], &k, &v, err, sizeof(err)) != 0,
			  "a malformed seed is reported");
	}
	gkv_map_free(map);

	/* 5. connecting: error paths */
	{
		gkv_error	e;
		gkv_conn   *c = gkv_connect(NULL, 0, NULL, &e);

		check(c == NULL && strstr(e.message, "no seed") != NULL, "no seed: a clear error");
		c = gkv_connect((const char *const[]) {"host=127.0.0.1 port=1 user=app password=hunter2 connect_timeout=2",
		"host=127.0.0.1 port=9 user=app password=hunter2 connect_timeout=2"}, 2, NULL, &e);
		check(c == NULL && strcmp(e.sqlstate, "08001") == 0, "unreachable seeds: SQLSTATE 08001");
		check(strcmp(e.node, "seed 2") == 0, "the error names the seed that failed last");
		check(strstr(e.message, "hunter2") == NULL, "the password never appears in an error");
	}
	printf("# client tests: %d failed\n", failures);
	return failures ? 1 : 0;
}
