/*
 * gkv_load.c -- load generator over libglobalkv for bench/sharding.sh.
 *
 *   gkv_load batch SEED NS FIRST COUNT CHUNK
 *       puts keys FIRST..FIRST+COUNT-1 with gkv_put_many in chunks; prints
 *       "batch <docs> <seconds> <docs/s>"
 *   gkv_load put SEED NS NKEYS SECONDS CLIENTS
 *       CLIENTS threads, each with its own gkv_conn, gkv_put of random keys
 *       1..NKEYS for SECONDS; prints "put <calls> <seconds> <calls/s>"
 *
 * Documents are the same ~150-byte JSON as bench/run.sh's kv scripts.
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "globalkv_client.h"

static const char *Doc =
"{\"city\": \"Lisbon\", \"note\": \"benchmark document of about 150 bytes\", "
"\"plan\": \"pro\", \"user\": \"user-000001\", \"email\": \"u1@example.com\", "
"\"views\": 12, \"clicks\": 3}";

static double
now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static gkv_conn *
connect_or_exit(const char *seed)
{
	gkv_error	err;
	gkv_conn   *c = gkv_connect((const char *const[]) {seed}, 1, NULL, &err);

	if (c == NULL)
	{
		fprintf(stderr, "gkv_load: %s: %s\n", err.sqlstate, err.message);
		exit(1);
	}
	return c;
}

typedef struct Worker
{
	const char *seed;
	const char *ns;
	long		nkeys;
	double		until;
	long		calls;
	unsigned	rnd;
} Worker;

static void *
put_worker(void *arg)
{
	Worker	   *w = arg;
	gkv_conn   *c = connect_or_exit(w->seed);
	gkv_error	err;
	char		key[32];

	while (now_s() < w->until)
	{
		snprintf(key, sizeof(key), "%ld", (long) (rand_r(&w->rnd) % w->nkeys) + 1);
		if (gkv_put(c, w->ns, key, Doc, "NO_EXPIRE", NULL, &err) != 0)
		{
			fprintf(stderr, "gkv_load: put: %s: %s (%s)\n", err.sqlstate, err.message, err.node);
			exit(2);
		}
		w->calls++;
	}
	gkv_close(c);
	return NULL;
}

int
main(int argc, char **argv)
{
	if (argc == 7 && strcmp(argv[1], "batch") == 0)
	{
		gkv_conn   *c = connect_or_exit(argv[2]);
		long		first = atol(argv[4]),
					count = atol(argv[5]);
		int			chunk = atoi(argv[6]);
		char	  **keys = malloc(sizeof(char *) * chunk);
		const char **docs = malloc(sizeof(char *) * chunk);
		gkv_error	err;
		double		t0 = now_s(),
					t;

		for (int i = 0; i < chunk; i++)
		{
			keys[i] = malloc(24);
			docs[i] = Doc;
		}
		for (long k = first; k < first + count; k += chunk)
		{
			int			n = (int) (first + count - k < chunk ? first + count - k : chunk);

			for (int i = 0; i < n; i++)
				snprintf(keys[i], 24, "%ld", k + i);
			if (gkv_put_many(c, argv[3], n, (const char *const *) keys, docs, "NO_EXPIRE", NULL, &err) != 0)
			{
				fprintf(stderr, "gkv_load: put_many: %s: %s (%s)\n", err.sqlstate, err.message, err.node);
				return 2;
			}
		}
		t = now_s() - t0;
		printf("batch %ld %.2f %.0f\n", count, t, count / t);
		gkv_close(c);
		return 0;
	}
	if (argc == 7 && strcmp(argv[1], "put") == 0)
	{
		int			clients = atoi(argv[6]);
		Worker	   *w = calloc(clients, sizeof(Worker));
		pthread_t  *th = calloc(clients, sizeof(pthread_t));
		double		t0 = now_s();
		long		total = 0;

		for (int i = 0; i < clients; i++)
		{
			w[i].seed = argv[2];
			w[i].ns = argv[3];
			w[i].nkeys = atol(argv[4]);
			w[i].until = t0 + atof(argv[5]);
			w[i].rnd = 12345 + i;
			pthread_create(&th[i], NULL, put_worker, &w[i]);
		}
		for (int i = 0; i < clients; i++)
		{
			pthread_join(th[i], NULL);
			total += w[i].calls;
		}
		printf("put %ld %.2f %.0f\n", total, now_s() - t0, total / (now_s() - t0));
		return 0;
	}
	fprintf(stderr, "usage: gkv_load batch SEED NS FIRST COUNT CHUNK | put SEED NS NKEYS SECONDS CLIENTS\n");
	return 1;
}
