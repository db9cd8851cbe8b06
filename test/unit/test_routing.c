/*
 * test_routing.c -- libglobalkv's routing against stand-in nodes
 * (fake_node.c): which node each call reaches, failover to the next zone,
 * 08007 instead of a repeated patch_numeric, GK017 map refreshes, batches
 * split by node and sent in parallel, errors keeping the node's SQLSTATE
 * and naming the node.  No PostgreSQL server needed.
 *
 * The parade: 4 shards; zone1 holds shards 0 and 2 on n1, 1 and 3 on n2;
 * zone2 holds every shard on n3, zone3 on n4.
 *
 * Output is TAP: "ok N - ..." / "not ok N - ...".
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>

#include "globalkv_client.h"
#include "fake_node.h"

static int	test_no = 0;
static int	failures = 0;

static void
check(int cond, const char *what)
{
	test_no++;
	printf("%s %d - %s\n", cond ? "ok" : "not ok", test_no, what);
	fflush(stdout);
	if (!cond)
		failures++;
}

static void
diag(const gkv_error *e)
{
	printf("#   error %s node \"%s\": %s\n", e->sqlstate, e->node, e->message);
}

static fake_node n1,
			n2,
			n3,
			n4;

/* the map text, with zone1's placements of shards 0/2 and 1/3 given */
static void
make_map(char *buf, size_t size, int holder02, int holder13)
{
	snprintf(buf, size,
			 "globalkv shard map 1\n"
			 "shards\t4\n"
			 "zone\tzone1\n"
			 "node\t1\tn1\tzone1\t127.0.0.1\t%d\tdb_n1\n"
			 "node\t2\tn2\tzone1\t127.0.0.1\t%d\tdb_n2\n"
			 "node\t3\tn3\tzone2\t127.0.0.1\t%d\tdb_n3\n"
			 "node\t4\tn4\tzone3\t127.0.0.1\t%d\tdb_n4\n"
			 "placement\t0\tzone1\t%d\nplacement\t1\tzone1\t%d\n"
			 "placement\t2\tzone1\t%d\nplacement\t3\tzone1\t%d\n"
			 "placement\t0\tzone2\t3\nplacement\t1\tzone2\t3\nplacement\t2\tzone2\t3\nplacement\t3\tzone2\t3\n"
			 "placement\t0\tzone3\t4\nplacement\t1\tzone3\t4\nplacement\t2\tzone3\t4\nplacement\t3\tzone3\t4\n",
			 n1.port, n2.port, n3.port, n4.port, holder02, holder13, holder02, holder13);
}

static void
seed_of(char *buf, size_t size, int port)
{
	/* no password: the stand-ins trust; no TLS/GSS negotiation to fake */
	snprintf(buf, size, "host=127.0.0.1 port=%d user=tester dbname=seeddb sslmode=disable "
			 "gssencmode=disable connect_timeout=5", port);
}

static gkv_conn *
connect_to(int port, const char *zone, const char *zone_order, int down_ms, gkv_error *e)
{
	char		seed[256];
	gkv_options o = {zone, zone_order, down_ms};

	seed_of(seed, sizeof(seed), port);
	return gkv_connect((const char *const[]) {seed}, 1, &o, e);
}

/* the first key k<i> whose shard (of 4) is one of the two given */
static const char *
key_on(char *buf, int s1, int s2, int skip)
{
	for (int i = 0;; i++)
	{
		int			s;

		sprintf(buf, "k%d", i);
		s = gkv_key_shard("ns", buf, 4);
		if ((s == s1 || s == s2) && skip-- == 0)
			return buf;
	}
}

static int
has(const char *s, const char *part)
{
	return s && strstr(s, part) != NULL;
}

static double
ms_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000.0 + ts.tv_nsec / 1e6;
}

int
main(void)
{
	char		map[8192];
	char		ka[16],
				ka2[16],
				kb[16],
				kb2[16];
	gkv_error	e;
	gkv_conn   *c;
	char	   *doc = NULL;

	if (fake_listen(&n1, "n1") || fake_listen(&n2, "n2") || fake_listen(&n3, "n3") || fake_listen(&n4, "n4"))
	{
		check(0, "stand-in nodes listen on 127.0.0.1");
		return 1;
	}
	make_map(map, sizeof(map), 1, 2);
	snprintf(n1.sh->map, sizeof(n1.sh->map), "%s", map);
	snprintf(n2.sh->map, sizeof(n2.sh->map), "%s", map);
	snprintf(n3.sh->map, sizeof(n3.sh->map), "%s", map);
	snprintf(n4.sh->map, sizeof(n4.sh->map), "%s", map);
	fake_start(&n1);
	fake_start(&n2);
	fake_start(&n3);
	fake_start(&n4);
	key_on(ka, 0, 2, 0);		/* on n1 in zone1 */
	key_on(ka2, 0, 2, 1);
	key_on(kb, 1, 3, 0);		/* on n2 in zone1 */
	key_on(kb2, 1, 3, 1);

	/* ---- connecting, the map, introspection ---- */
	{
		char		dead[256],
					live[256];

		seed_of(dead, sizeof(dead), 1);
		seed_of(live, sizeof(live), n1.port);
		c = gkv_connect((const char *const[]) {dead, live}, 2, NULL, &e);
		check(c != NULL, "connect: an unreachable first seed is skipped, the second answers");
		if (c == NULL)
		{
			diag(&e);
			return 1;
		}
	}
	check(strcmp(gkv_zone(c), "zone1") == 0 && gkv_map_loads(c) == 1 && gkv_shard_count(c) == 4,
		  "the caller's zone is the answering seed's; the map is loaded once");
	check(gkv_shard_of(c, "ns", ka) == gkv_key_shard("ns", ka, 4) &&
		  strcmp(gkv_shard_holder(c, gkv_shard_of(c, "ns", ka)), "n1") == 0 &&
		  strcmp(gkv_shard_holder(c, gkv_shard_of(c, "ns", kb)), "n2") == 0 && gkv_shard_holder_id(c, 1) == 2,
		  "shard holders in the caller's zone, by name and id");
	check(strcmp(gkv_shard_holder(c, 4), "") == 0 && gkv_shard_holder_id(c, -1) == 0,
		  "no holder for a shard out of range");

	/* ---- each call goes to the holder in the caller's zone ---- */
	{
		gkv_put_result r = "";
		int			deleted = 0;

		check(gkv_put(c, "ns", ka, "{\"a\": 1}", NULL, r, &e) == 0 && strcmp(r, "INSERT") == 0 &&
			  n1.sh->executes[K_PUT] == 1 && n2.sh->executes[K_PUT] == 0 && n3.sh->executes[K_PUT] == 0,
			  "put goes to n1, the holder of its shard in zone1, only");
		check(gkv_get(c, "ns", kb, &doc, &e) == 0 && has(doc, "\"node\": \"n2\"") && has(doc, kb),
			  "get of a key of n2 is answered by n2");
		gkv_free(doc);
		doc = NULL;
		check(gkv_delete(c, "ns", kb, &deleted, &e) == 0 && deleted == 1 && n2.sh->executes[K_DELETE] == 1,
			  "delete goes to n2");
		for (int i = 0; i < 3; i++)
		{
			gkv_get(c, "ns", kb, &doc, &e);
			gkv_free(doc);
			doc = NULL;
		}
		check(n2.sh->prepares[K_GET] == 1 && n2.sh->executes[K_GET] == 4 && n2.sh->connections == 1,
			  "one connection per node, each statement prepared once on it");
		check(n1.sh->direct == n1.sh->connections && n2.sh->direct == n2.sh->connections &&
			  n2.sh->connections > 0, "every connection asks for globalkv.routing=direct");
		check(strcmp(n2.sh->dbname, "db_n2") == 0 && strcmp(n2.sh->user, "tester") == 0,
			  "database from the map, user from the seed");
	}

	/* ---- touch, scan, the change feed ---- */
	{
		int			touched = -1;
		char	   *keys[4],
				   *vals[4];
		int			n = -1;
		gkv_change *ch = NULL;
		char	   *next = NULL;

		check(gkv_touch(c, "ns", kb, 60, &touched, &e) == 0 && touched == 1 &&
			  n2.sh->executes[K_TOUCH] == 1 && n1.sh->executes[K_TOUCH] == 0,
			  "touch goes to the key's holder and reports the touch");
		check(gkv_get_and_touch(c, "ns", ka, 60, &doc, &e) == 0 && has(doc, "\"node\": \"n1\"") &&
			  n1.sh->executes[K_GET_AND_TOUCH] == 1, "get_and_touch returns the document from the holder");
		gkv_free(doc);
		doc = NULL;
		check(gkv_touch(c, "ns", NULL, 60, &touched, &e) != 0 && strcmp(e.sqlstate, "GK003") == 0,
			  "touch of a NULL key is refused before anything is sent");
		check(gkv_scan(c, "ns", "u:", NULL, 4, keys, vals, &n, &e) == 0 && n == 4 &&
			  strcmp(keys[0], "u:000") == 0 && strcmp(keys[3], "u:003") == 0 && has(vals[3], "\"i\": 3"),
			  "scan: a page of 4 keys, in order, with their documents");
		for (int i = 0; i < n; i++)
		{
			gkv_free(keys[i]);
			gkv_free(vals[i]);
		}
		check(gkv_scan(c, "ns", "u:", "u:007", 4, keys, vals, &n, &e) == 0 && n == 2 &&
			  strcmp(keys[1], "u:009") == 0, "scan after a key: the rest, fewer than a page at the end");
		for (int i = 0; i < n; i++)
		{
			gkv_free(keys[i]);
			gkv_free(vals[i]);
		}
		check(gkv_scan(c, "ns", "u:", NULL, 0, keys, vals, &n, &e) != 0 && strcmp(e.sqlstate, "GK009") == 0,
			  "scan with a page size of 0 is refused");
		check(gkv_changes(c, "ns", NULL, 100, 0, &ch, &n, &next, &e) == 0 && n == 2 &&
			  strcmp(ch[0].key, "a") == 0 && has(ch[0].value, "\"v\": 1") && strcmp(ch[0].version, "7:1") == 0 &&
			  strcmp(ch[1].key, "b") == 0 && ch[1].value == NULL && next && strcmp(next, "c1") == 0,
			  "changes: the changes (a delete with no value) and the next cursor");
		gkv_free_changes(ch, n);
		gkv_free(next);
		check(gkv_changes(c, "ns", "c1", 100, 0, &ch, &n, &next, &e) == 0 && n == 0 && next &&
			  strcmp(next, "c1") == 0, "changes from the last cursor: none, the cursor again");
		gkv_free_changes(ch, n);
		gkv_free(next);
	}

	/* ---- a node's own error: kept, named, not failed over ---- */
	n2.sh->error_on = KBIT(K_GET);
	check(gkv_get(c, "ns", kb, &doc, &e) != 0 && strcmp(e.sqlstate, "GK001") == 0 &&
		  strcmp(e.node, "n2") == 0 && has(e.message, "namespace \"nope\" does not exist") &&
		  n3.sh->executes[K_GET] == 0 && doc == NULL,
		  "a node's error keeps its SQLSTATE and message, names the node, and is not retried elsewhere");
	n2.sh->error_on = 0;

	/* ---- GK017: the map is re-read from the refusing node, the call retried ---- */
	{
		char		map2[8192];
		int			before = gkv_map_loads(c);

		make_map(map2, sizeof(map2), 2, 2);	/* every zone1 shard now on n2 */
		snprintf(n1.sh->map, sizeof(n1.sh->map), "%s", map2);
		n1.sh->stale_on = KBIT(K_GET);
		check(gkv_get(c, "ns", ka, &doc, &e) == 0 && has(doc, "\"node\": \"n2\"") &&
			  gkv_map_loads(c) == before + 1 && strcmp(gkv_shard_holder(c, gkv_shard_of(c, "ns", ka)), "n2") == 0,
			  "GK017: the map is refreshed and the call served by the new holder");
		gkv_free(doc);
		doc = NULL;

		/* a node that keeps refusing: 3 refreshes, then its GK017 */
		snprintf(n2.sh->map, sizeof(n2.sh->map), "%s", map2);
		n2.sh->stale_on = KBIT(K_GET);
		before = gkv_map_loads(c);
		check(gkv_get(c, "ns", ka, &doc, &e) != 0 && strcmp(e.sqlstate, "GK017") == 0 &&
			  strcmp(e.node, "n2") == 0 && gkv_map_loads(c) == before + 3,
			  "GK017 over and over: 3 refreshes, then the node's GK017");
		n2.sh->stale_on = 0;
		n1.sh->stale_on = 0;
		snprintf(n1.sh->map, sizeof(n1.sh->map), "%s", map);
		snprintf(n2.sh->map, sizeof(n2.sh->map), "%s", map);
		check(gkv_refresh_map(c, &e) == 0 && strcmp(gkv_shard_holder(c, gkv_shard_of(c, "ns", ka)), "n1") == 0,
			  "gkv_refresh_map reads the current map");
	}

	/* ---- batches: split by node, sent in parallel, caller's order ---- */
	{
		const char *keys[5] = {ka, kb, ka2, kb2, ka};
		const char *vals[5] = {"{\"v\": 1}", "{\"v\": 2}", "{\"v\": 3}", "{\"v\": 4}", "{\"v\": 5}"};
		gkv_put_result res[5];
		char	   *got[5];
		char		expect_n1[128];
		int			p1 = n1.sh->executes[K_PUT_MANY],
					p2 = n2.sh->executes[K_PUT_MANY];
		int			order_ok = 1;
		double		t0;

		snprintf(expect_n1, sizeof(expect_n1), "{\"%s\",\"%s\",\"%s\"}", ka, ka2, ka);
		check(gkv_put_many(c, "ns", 5, keys, vals, NULL, res, &e) == 0 &&
			  strcmp(res[0], "INSERT") == 0 && strcmp(res[1], "UPDATE") == 0 && strcmp(res[2], "INSERT") == 0 &&
			  strcmp(res[3], "UPDATE") == 0 && strcmp(res[4], "INSERT") == 0,
			  "put_many: results in the caller's order (n1 says INSERT, n2 UPDATE)");
		check(n1.sh->executes[K_PUT_MANY] == p1 + 1 && n2.sh->executes[K_PUT_MANY] == p2 + 1 &&
			  strcmp(n1.sh->last_keys, expect_n1) == 0,
			  "put_many: one statement per node, a repeated key sent twice in order");
		check(gkv_get_many(c, "ns", 5, keys, got, &e) == 0, "get_many succeeds");
		for (int k = 0; k < 5; k++)
		{
			const char *holder = k == 1 || k == 3 ? "\"node\": \"n2\"" : "\"node\": \"n1\"";

			order_ok &= has(got[k], keys[k]) && has(got[k], holder);
			gkv_free(got[k]);
		}
		check(order_ok, "get_many: each document from its holder, in the caller's order");

		/* both nodes take 300 ms: in parallel the batch takes ~300, not 600 */
		n1.sh->delay_ms = 300;
		n2.sh->delay_ms = 300;
		t0 = ms_now();
		check(gkv_get_many(c, "ns", 5, keys, got, &e) == 0 && ms_now() - t0 < 550,
			  "get_many sends to every node before reading any answer");
		for (int k = 0; k < 5; k++)
			gkv_free(got[k]);
		n1.sh->delay_ms = 0;
		n2.sh->delay_ms = 0;

		check(gkv_put_many(c, "ns", 2, (const char *const[]) {ka, NULL}, vals, NULL, res, &e) != 0 &&
			  strcmp(e.sqlstate, "GK003") == 0, "a NULL key in a batch: GK003");
		check(gkv_get_many(c, "ns", -1, keys, got, &e) != 0 && strcmp(e.sqlstate, "GK009") == 0,
			  "a negative key count: GK009");
		check(gkv_get_many(c, "ns", 0, keys, got, &e) == 0, "an empty batch is fine");

		/* a node dying mid-batch: its keys go to zone2's holder */
		n2.sh->die_on = KBIT(K_PUT_MANY);
		p1 = n3.sh->executes[K_PUT_MANY];
		check(gkv_put_many(c, "ns", 5, keys, vals, NULL, res, &e) == 0 && strcmp(res[1], "INSERT") == 0 &&
			  strcmp(res[0], "INSERT") == 0 && n3.sh->executes[K_PUT_MANY] == p1 + 1,
			  "put_many: the keys of a node that died go to the next zone");
		n2.sh->die_on = 0;
		gkv_close(c);
	}

	/* ---- failover of idempotent calls ---- */
	c = connect_to(n1.port, NULL, NULL, 60000, &e);
	n2.sh->die_on = KBIT(K_GET);
	{
		int			n3_before = n3.sh->executes[K_GET];
		int			n2_conns;

		check(c && gkv_get(c, "ns", kb, &doc, &e) == 0 && has(doc, "\"node\": \"n3\"") &&
			  n3.sh->executes[K_GET] == n3_before + 1,
			  "get: n2 drops the connection, zone2 (next by name) answers");
		gkv_free(doc);
		doc = NULL;
		n2_conns = n2.sh->connections;
		check(c && gkv_get(c, "ns", kb, &doc, &e) == 0 && has(doc, "\"node\": \"n3\"") &&
			  n2.sh->connections == n2_conns, "a node marked down is not tried again meanwhile");
		gkv_free(doc);
		doc = NULL;
		gkv_close(c);

		c = connect_to(n1.port, "zone1", "zone3, zone2", 0, &e);
		check(c && gkv_get(c, "ns", kb, &doc, &e) == 0 && has(doc, "\"node\": \"n4\""),
			  "zone_order decides the next zone (zone3 before zone2)");
		gkv_free(doc);
		doc = NULL;
		gkv_close(c);
	}
	n2.sh->die_on = 0;

	/* ---- patch_numeric is never sent twice ---- */
	c = connect_to(n1.port, NULL, NULL, 0, &e);
	n2.sh->die_on = KBIT(K_PATCH);
	check(c && gkv_patch_numeric(c, "ns", kb, "{\"n\": 1}", NULL, &doc, &e) != 0 &&
		  strcmp(e.sqlstate, "08007") == 0 && strcmp(e.node, "n2") == 0 && has(e.message, "\"n2\"") &&
		  doc == NULL && n2.sh->executes[K_PATCH] == 1,
		  "patch_numeric lost after sending: 08007 naming the node");
	check(n3.sh->executes[K_PATCH] == 0 && n4.sh->executes[K_PATCH] == 0,
		  "... and it was not repeated on any other node");
	gkv_close(c);
	n2.sh->die_on = 0;

	/* a cached connection to a node that then died: nothing was sent, so the patch moves on */
	c = connect_to(n1.port, NULL, NULL, 0, &e);
	check(c && gkv_get(c, "ns", kb, &doc, &e) == 0 && has(doc, "\"node\": \"n2\""), "n2 serves again");
	gkv_free(doc);
	doc = NULL;
	fake_stop(&n2);
	{
		struct timespec ts = {0, 100 * 1000000L};

		nanosleep(&ts, NULL);	/* let the closed connection reach us */
	}
	check(c && gkv_patch_numeric(c, "ns", kb, "{\"n\": 1}", NULL, &doc, &e) == 0 &&
		  has(doc, "\"node\": \"n3\"") && n3.sh->executes[K_PATCH] == 1,
		  "patch_numeric when the holder is gone before sending: served by the next zone");
	gkv_free(doc);
	doc = NULL;
	gkv_close(c);

	/* ---- no holder reachable ---- */
	fake_stop(&n3);
	fake_stop(&n4);
	c = connect_to(n1.port, NULL, NULL, 0, &e);
	check(c && gkv_get(c, "ns", kb, &doc, &e) != 0 && strcmp(e.sqlstate, "GK018") == 0 &&
		  has(e.message, "n4") && strcmp(e.node, "n4") == 0 && doc == NULL,
		  "no holder of the shard in any zone: GK018 naming the last node tried");
	check(c && gkv_patch_numeric(c, "ns", kb, "{\"n\": 1}", NULL, &doc, &e) != 0 &&
		  strcmp(e.sqlstate, "GK018") == 0, "... patch_numeric too (never sent: not 08007)");
	gkv_close(c);

	/* ---- a seed that is not part of a parade serves every shard itself ---- */
	snprintf(n1.sh->map, sizeof(n1.sh->map), "globalkv shard map 1\nshards\t16\nzone\tsolo\n");
	c = connect_to(n1.port, NULL, NULL, 0, &e);
	check(c && gkv_get(c, "ns", kb, &doc, &e) == 0 && has(doc, "\"node\": \"n1\"") &&
		  strcmp(gkv_shard_holder(c, 5), "seed 1") == 0 && strcmp(n1.sh->dbname, "seeddb") == 0,
		  "a lone node (no node lines) is used for every shard, with the seed's options");
	gkv_free(doc);
	doc = NULL;
	gkv_close(c);

	/* ---- a bad map, a node without the extension ---- */
	snprintf(n1.sh->map, sizeof(n1.sh->map), "globalkv shard map 1\nshards\tmany\n");
	c = connect_to(n1.port, NULL, NULL, 0, &e);
	check(c == NULL && strcmp(e.sqlstate, "08P01") == 0 && has(e.message, "bad shard count") &&
		  strcmp(e.node, "seed 1") == 0, "a malformed map: 08P01 with the parser's reason, naming the seed");
	n1.sh->map[0] = '\0';
	c = connect_to(n1.port, NULL, NULL, 0, &e);
	check(c == NULL && strcmp(e.sqlstate, "42883") == 0 && has(e.message, "kv.shard_map"),
		  "a seed without kv.shard_map(): the node's own error");

	fake_stop(&n1);
	printf("1..%d\n", test_no);
	printf("# routing tests: %d failed\n", failures);
	return failures ? 1 : 0;
}
