/*
 * test_client.c -- unit tests of libglobalkv that need no node at all:
 * the key hash through the public API (the shared vectors), shard map
 * parsing, the owner and failover order, node connection options, and
 * the error paths of connecting.  Routing against stand-in nodes is in
 * test_routing.c.  Output is TAP: "ok N - ..." / "not ok N - ...".
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "globalkv_client.h"
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
"future-kind\twhatever\tmore\n"
"\n"
"placement\t0\tzone1\t1\n" "placement\t1\tzone1\t2\n" "placement\t2\tzone1\t1\n" "placement\t3\tzone1\t2\n"
"placement\t0\tzone2\t3\n" "placement\t1\tzone2\t3\n" "placement\t2\tzone2\t3\n" "placement\t3\tzone2\t3\n"
"placement\t0\tzone3\t4\n" "placement\t1\tzone3\t4\n" "placement\t2\tzone3\t4\n" "placement\t3\tzone3\t4\n";

/* does parsing fail, with a message containing the given text? */
static int
rejects(const char *text, const char *expect_in_message)
{
	gkv_map    *map = (gkv_map *) 1;
	char		err[256] = "";
	int			rc = gkv_map_parse(text, &map, err, sizeof(err));

	if (rc == 0 || map != NULL || strstr(err, expect_in_message) == NULL)
		printf("#   parse gave rc %d, message \"%s\"\n", rc, err);
	if (rc == 0)
		gkv_map_free(map);
	return rc != 0 && map == NULL && strstr(err, expect_in_message) != NULL;
}

/* GoodMap with one piece replaced (the piece must be there) */
static int
rejects_changed(const char *from, const char *to, const char *expect_in_message)
{
	const char *p = strstr(GoodMap, from);
	char	   *text;
	int			r;

	if (p == NULL || asprintf(&text, "%.*s%s%s", (int) (p - GoodMap), GoodMap, to, p + strlen(from)) < 0)
		return 0;
	r = rejects(text, expect_in_message);
	free(text);
	return r;
}

static int
accepts_changed(const char *from, const char *to)
{
	const char *p = strstr(GoodMap, from);
	char	   *text;
	gkv_map    *map = NULL;
	char		err[256] = "";
	int			rc;

	if (p == NULL || asprintf(&text, "%.*s%s%s", (int) (p - GoodMap), GoodMap, to, p + strlen(from)) < 0)
		return 0;
	rc = gkv_map_parse(text, &map, err, sizeof(err));
	if (rc != 0)
		printf("#   rejected: %s\n", err);
	gkv_map_free(map);
	free(text);
	return rc == 0;
}

/* the value of a keyword in a keywords/values list, or NULL */
static const char *
kv_get(char **k, char **v, const char *keyword)
{
	for (int i = 0; k && k[i]; i++)
		if (strcmp(k[i], keyword) == 0)
			return v[i];
	return NULL;
}

static int
same(const char *a, const char *b)
{
	return a && b && strcmp(a, b) == 0;
}

static void
hash_vectors(const char *path)
{
	FILE	   *f = fopen(path, "r");
	char		line[1024];
	int			n = 0,
				bad = 0;

	if (f == NULL)
	{
		check(0, "the hash vectors file opens");
		return;
	}
	while (fgets(line, sizeof(line), f))
	{
		char	   *fld[6];
		int			nf = 0;
		char	   *p = line;

		if (line[0] == '#' || line[0] == '\n')
			continue;
		line[strcspn(line, "\n")] = '\0';
		while (nf < 6)
		{
			fld[nf++] = p;
			if ((p = strchr(p, '\t')) == NULL)
				break;
			*p++ = '\0';
		}
		if (nf != 6)
		{
			bad++;
			continue;
		}
		n++;
		if (gkv_key_hash32(fld[0], fld[1]) != (uint32_t) strtoul(fld[2], NULL, 10) ||
			gkv_key_shard(fld[0], fld[1], 1) != atoi(fld[3]) ||
			gkv_key_shard(fld[0], fld[1], 16) != atoi(fld[4]) ||
			gkv_key_shard(fld[0], fld[1], 64) != atoi(fld[5]))
		{
			printf("#   mismatch for (%s, %s)\n", fld[0], fld[1]);
			bad++;
		}
	}
	fclose(f);
	check(n >= 100 && bad == 0, "gkv_key_hash32 and gkv_key_shard (1/16/64 shards) match every shared vector");
	check(gkv_key_shard("a", "b", 0) == -1 && gkv_key_shard(NULL, "b", 4) == -1,
		  "gkv_key_shard refuses a shard count below 1 and a NULL namespace");
}

static void
parsing(void)
{
	gkv_map    *map = NULL;
	char		err[256];

	check(gkv_map_parse(GoodMap, &map, err, sizeof(err)) == 0 && map != NULL,
		  "a valid map parses (an unknown line kind and an empty line are ignored)");
	check(map && map->nshards == 4 && map->nnodes == 4 && map->nzones == 3 &&
		  strcmp(map->zone, "zone1") == 0 && strcmp(map->zones[2], "zone3") == 0,
		  "shards, nodes, zones (by name) and the answering zone are read");
	check(map && strcmp(map->nodes[map->holder[1 * 3 + 0]].name, "n2") == 0 &&
		  strcmp(map->nodes[map->holder[2 * 3 + 1]].name, "n3") == 0,
		  "placements: shard 1 of zone1 on n2, shard 2 of zone2 on n3");
	check(map && strcmp(map->nodes[3].host, "") == 0 && strcmp(map->nodes[2].dbname, "db3") == 0,
		  "host, port and database are kept as given, empty included");
	gkv_map_free(map);

	check(accepts_changed("node\t3\tn3\tzone2\t10.0.0.3\t5503\tdb3",
						  "node\t3\tn3\tzone2\t10.0.0.3\t5503\tdb3\tfuture-field"),
		  "extra fields after the known ones are ignored");
	check(rejects("shards\t4\nzone\tz\n", "not a globalkv shard map"), "a missing header is rejected");
	check(rejects("globalkv shard map 2\nshards\t4\n", "not a globalkv shard map"),
		  "a header of another format version is rejected");
	check(rejects("", "empty"), "an empty map is rejected");
	check(rejects("globalkv shard map 1\nzone\tz\n", "no shard count"), "a map without a shard count is rejected");
	check(rejects_changed("shards\t4", "shards\tfour", "bad shard count"), "a non-numeric shard count is rejected");
	check(rejects_changed("shards\t4", "shards\t0", "bad shard count"), "a shard count of 0 is rejected");
	check(rejects_changed("shards\t4", "shards\t-4", "bad shard count"), "a negative shard count is rejected");
	check(rejects_changed("node\t2\tn2", "node\tx2\tn2", "bad node id"), "a bad node id is rejected");
	check(rejects_changed("\t5502\t", "\t55o2\t", "bad port"), "a bad port is rejected");
	check(rejects_changed("node\t2\tn2\tzone1", "node\t2\t\tzone1", "bad node name"), "an empty node name is rejected");
	check(rejects_changed("node\t2\tn2", "node\t1\tn2", "listed twice"), "a node listed twice is rejected");
	check(rejects_changed("\t5502\tpostgres\n", "\t5502\n", "7 fields"), "a short node line is rejected");
	check(rejects_changed("placement\t3\tzone1\t2\n", "", "shard 3 has no placement in zone \"zone1\""),
		  "a (shard, zone) without a placement is rejected");
	check(rejects_changed("placement\t3\tzone1\t2", "placement\t3\tzone1\t9", "node 9, which is not in the map"),
		  "a placement naming an unknown node is rejected");
	check(rejects_changed("placement\t3\tzone1\t2", "placement\t3\tzone1\t3", "of another zone"),
		  "a placement on a node of another zone is rejected");
	check(rejects_changed("placement\t3\tzone1\t2", "placement\t3\tzone9\t2", "which has no node"),
		  "a placement in a zone without nodes is rejected");
	check(rejects_changed("placement\t3\tzone1\t2", "placement\t7\tzone1\t2", "the map has 4 shards"),
		  "a placement of a shard out of range is rejected");
	check(rejects_changed("placement\t3\tzone1\t2", "placement\tthree\tzone1\t2", "bad number"),
		  "a placement with a bad number is rejected");
	check(rejects_changed("placement\t3\tzone1\t2", "placement\t3\tzone1", "4 fields"),
		  "a short placement line is rejected");
	check(rejects_changed("placement\t3\tzone1\t2", "placement\t3\tzone1\t2\nplacement\t3\tzone1\t1",
						  "two placements"), "two different placements of one (shard, zone) are rejected");
	check(accepts_changed("placement\t3\tzone1\t2", "placement\t3\tzone1\t2\nplacement\t3\tzone1\t2"),
		  "a placement repeated identically is harmless");
	check(rejects_changed("shards\t4", "shards\t4\nnode\t9\tn9\tzone1\t127.0.0.1\t1",
						  "line 3: a node line has 7 fields, not 6"), "messages give the line number");
}

static void
failover_order(void)
{
	gkv_map    *map = NULL;
	char		err[256];
	int			cand[8];
	int			n;
	unsigned char down[4] = {0, 0, 0, 0};

	if (gkv_map_parse(GoodMap, &map, err, sizeof(err)) != 0)
	{
		check(0, "the map for the failover tests parses");
		return;
	}
	n = gkv_map_candidates(map, 1, "zone1", "", down, cand, 8);
	check(n == 3 && cand[0] == 1 && cand[1] == 2 && cand[2] == 3,
		  "owner: the holder in the caller's zone, then the other zones by name");
	n = gkv_map_candidates(map, 0, "zone2", NULL, down, cand, 8);
	check(n == 3 && cand[0] == 2 && cand[1] == 0 && cand[2] == 3, "from zone2: n3, then zone1, then zone3");
	n = gkv_map_candidates(map, 1, "zone1", "zone3, zone2", down, cand, 8);
	check(n == 3 && cand[0] == 1 && cand[1] == 3 && cand[2] == 2, "zone_order decides the failover order");
	n = gkv_map_candidates(map, 1, "zone1", "zone3", down, cand, 8);
	check(n == 3 && cand[1] == 3 && cand[2] == 2, "zones not in zone_order follow those listed");
	down[1] = 1;
	n = gkv_map_candidates(map, 1, "zone1", "zone3,zone2", down, cand, 8);
	check(n == 2 && cand[0] == 3 && cand[1] == 2, "a node marked down is skipped");
	n = gkv_map_candidates(map, 0, "zone1", "zone3,zone2", down, cand, 8);
	check(n == 3 && cand[0] == 0, "... only for the shards it holds");
	down[2] = down[3] = 1;
	n = gkv_map_candidates(map, 1, "zone1", "", down, cand, 8);
	check(n == 0, "every holder down: no candidate");
	memset(down, 0, sizeof(down));
	n = gkv_map_candidates(map, 1, "zone9", "zone3", down, cand, 8);
	check(n == 3 && cand[0] == 3 && cand[1] == 1 && cand[2] == 2,
		  "a caller's zone without nodes: zone_order, then by name");
	n = gkv_map_candidates(map, 9, "zone1", "", down, cand, 8);
	check(n == 0, "no candidate for a shard out of range");
	gkv_map_free(map);
}

static void
conninfo(void)
{
	gkv_map_node remote = {3, "n3", "zone2", "10.0.0.3", "5503", "db3"};
	gkv_map_node local = {1, "n1", "zone1", "127.0.0.1", "5501", "postgres"};
	gkv_map_node bare = {4, "n4", "zone3", "", "", ""};
	char	  **k,
			  **v;
	char		err[256];
	int			rc;

	rc = gkv_node_conninfo("host=seedhost hostaddr=192.0.2.1 port=1 user=app password=s3cret dbname=x "
						   "sslmode=require options='-c search_path=app'", &remote, &k, &v, err, sizeof(err));
	check(rc == 0, "node options build");
	if (rc == 0)
	{
		check(same(kv_get(k, v, "host"), "10.0.0.3") && same(kv_get(k, v, "port"), "5503") &&
			  same(kv_get(k, v, "dbname"), "db3"), "host, port and database come from the map");
		check(kv_get(k, v, "hostaddr") == NULL, "the seed's hostaddr is dropped for another host");
		check(same(kv_get(k, v, "user"), "app") && same(kv_get(k, v, "password"), "s3cret") &&
			  same(kv_get(k, v, "sslmode"), "require"), "user, password and sslmode come from the seed");
		check(same(kv_get(k, v, "options"), "-c search_path=app -c globalkv.routing=direct"),
			  "the seed's options are kept and direct routing appended");
		gkv_conninfo_free(k, v);
	}
	rc = gkv_node_conninfo("postgresql://app:pw@seedhost:7/seeddb?connect_timeout=3", &bare, &k, &v, err, sizeof(err));
	check(rc == 0 && same(kv_get(k, v, "host"), "seedhost") && same(kv_get(k, v, "port"), "7") &&
		  same(kv_get(k, v, "dbname"), "seeddb") && same(kv_get(k, v, "connect_timeout"), "3") &&
		  same(kv_get(k, v, "options"), "-c globalkv.routing=direct"),
		  "a URI seed; empty map fields take the seed's values");
	if (rc == 0)
		gkv_conninfo_free(k, v);
	rc = gkv_node_conninfo("host=/tmp/parade port=1 user=app", &local, &k, &v, err, sizeof(err));
	check(rc == 0 && same(kv_get(k, v, "host"), "/tmp/parade") && same(kv_get(k, v, "port"), "5501"),
		  "a seed's socket directory is kept for a node on a loopback address (a local parade)");
	if (rc == 0)
		gkv_conninfo_free(k, v);
	rc = gkv_node_conninfo("host=/tmp/parade port=1 user=app", &remote, &k, &v, err, sizeof(err));
	check(rc == 0 && same(kv_get(k, v, "host"), "10.0.0.3"), "... but not for a node on another machine");
	if (rc == 0)
		gkv_conninfo_free(k, v);

	rc = gkv_node_conninfo("host='unterminated password=hunter2", &local, &k, &v, err, sizeof(err));
	check(rc != 0 && strstr(err, "invalid connection string") != NULL && strstr(err, "hunter2") == NULL,
		  "a malformed seed is reported without quoting it");
	rc = gkv_node_conninfo("user=app password=hun ter2", &local, &k, &v, err, sizeof(err));
	check(rc != 0 && strstr(err, "ter2") == NULL && strstr(err, "missing \"=\"") != NULL,
		  "libpq's quoted pieces (maybe of a password) are left out of the message");
}

static void
connecting(void)
{
	gkv_error	e;
	gkv_conn   *c;
	const char *pw_seeds[] = {
		"host=127.0.0.1 port=1 user=app password=hunter2 connect_timeout=2",
		"host=127.0.0.1 port=9 user=app password=hunter2 connect_timeout=2",
	};
	char	   *doc = (char *) 1;

	c = gkv_connect(NULL, 0, NULL, &e);
	check(c == NULL && strcmp(e.sqlstate, "08001") == 0 && strstr(e.message, "no seed") != NULL,
		  "no seed: 08001, a clear error");
	c = gkv_connect((const char *const[]) {"port=1", NULL}, 2, NULL, &e);
	check(c == NULL && strcmp(e.sqlstate, "GK009") == 0, "a NULL seed: GK009");
	c = gkv_connect(pw_seeds, 1, NULL, &e);
	check(c == NULL && strcmp(e.sqlstate, "08001") == 0 && strcmp(e.node, "seed 1") == 0 &&
		  strstr(e.message, "seed 1") != NULL && strstr(e.message, "port 1 failed") != NULL,
		  "one unreachable seed: 08001, the message names the seed and libpq's reason");
	c = gkv_connect(pw_seeds, 2, NULL, &e);
	check(c == NULL && strcmp(e.sqlstate, "08001") == 0, "all seeds unreachable: SQLSTATE 08001");
	check(strcmp(e.node, "seed 2") == 0 && strstr(e.message, "none of the 2 seeds") != NULL &&
		  strstr(e.message, "seed 2") != NULL, "the error names the seed that failed last");
	check(strstr(e.message, "hunter2") == NULL && strstr(e.detail, "hunter2") == NULL,
		  "the password never appears in an error");
	c = gkv_connect((const char *const[]) {"host='oops password=hunter2"}, 1, NULL, &e);
	check(c == NULL && strcmp(e.node, "seed 1") == 0 && strstr(e.message, "hunter2") == NULL,
		  "a malformed seed: reported by number, not quoted");
	check(gkv_get(NULL, "ns", "k", &doc, &e) != 0 && strcmp(e.sqlstate, "GK009") == 0 && doc == NULL,
		  "a call without a connection: GK009, and no document");
	gkv_close(NULL);
}

int
main(int argc, char **argv)
{
	hash_vectors(argc > 1 ? argv[1] : "../vectors/hash_vectors.txt");
	parsing();
	failover_order();
	conninfo();
	connecting();
	printf("1..%d\n", test_no);
	printf("# client tests: %d failed\n", failures);
	return failures ? 1 : 0;
}
