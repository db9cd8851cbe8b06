/*
 * lag_probe.c -- visible replication lag, measured the way a client meets
 * it (issue #8); used by bench/outside_in.sh, see bench/README.md.
 *
 *   lag_probe -w CONNINFO -r CONNINFO [-r CONNINFO ...] [-T seconds]
 *             [-R probes/s] [-n namespace] [-t timeout_s] [-P poll_us]
 *             [-i run-id] [-o per-probe.csv]
 *
 * One writer connection puts probe keys "probe:<run-id>:<n>" at a steady
 * rate (-R, default 50/s) for -T seconds (default 10) with
 *     SELECT kv.put(<namespace>, $1, $2::jsonb, 'NO_EXPIRE')
 * and one thread per reader connection polls that reader with
 *     SELECT key FROM kv.get_many(<namespace>, $1::text[]) WHERE value IS NOT NULL
 * over every probe it has not seen yet, oldest first.  The lag of a probe
 * at a reader is the time from the RETURN of its put (CLOCK_MONOTONIC
 * right after PQexecParams returned) to the return of the first poll of
 * that reader that found it.  A probe a reader has not seen -t seconds
 * (default 10) after its put returned is lost there.
 *
 * All connections are opened, warmed (one put and one get_many each: the
 * first API call of a backend is not what this measures) and prepared
 * before the first probe, and stay open.  A reader polls at most once per
 * -P microseconds (default 500) and only while it has probes outstanding,
 * so the resolution is ~0.5 ms plus one round trip without hammering the
 * nodes under test; it also polls probes whose put has not returned yet,
 * so a probe visible before its put returns gets a lag <= 0.
 *
 * Every loop is bounded: the writer by -T, the readers by the probe
 * timeout and by a hard deadline (T + timeout + 5 s); every statement
 * by statement_timeout = 5 s.  PGOPTIONS applies to all connections
 * (e.g. -c synchronous_commit=off for the writer's puts).
 *
 * Output, for humans then for scripts (times in ms):
 *   PUT n=.. failed=.. p50=.. p90=.. p99=.. max=.. behind=..
 *   LAG reader=<node name> n=<seen> lost=.. p50=.. p90=.. p99=.. max=.. burst=.. polls=.. rtt=..
 * "burst" is the largest number of probes one poll saw for the first time
 * (stalls followed by bursts are what issue #8 describes); "behind" counts
 * puts sent later than their schedule because the previous put was slow.
 * Exit status: 0 when the run completed (lost probes are a result, not an
 * error), 1 on a connection or setup failure, 2 on bad arguments.
 *
 * Build: make -C bench lag_probe  (C11, libpq, pthreads).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <libpq-fe.h>

#define MAX_READERS 16
#define MAX_BATCH 256		/* probes asked for in one get_many */
#define STMT_TIMEOUT "5s"

/* probe states, written by the writer thread */
enum
{
	P_UNSENT = 0,
	P_SENT,						/* put sent, not returned: readers poll it already */
	P_DONE,						/* put returned OK: t_ret is valid */
	P_FAILED					/* put failed: nobody polls it */
};

typedef struct Probe
{
	_Atomic int state;
	double		t_send;			/* seconds, CLOCK_MONOTONIC */
	double		t_ret;
} Probe;

typedef struct Reader
{
	const char *conninfo;
	char		name[64];
	PGconn	   *conn;
	pthread_t	thread;
	double	   *seen;			/* per probe: first sighting, 0 = not yet, < 0 = lost */
	long		nseen;
	long		nlost;
	long		polls;
	long		errors;
	long		max_burst;
	double		rtt_sum;
	bool		gave_up;		/* connection broke: the rest counts as lost */
} Reader;

static const char *Namespace = "bench";
static const char *RunId;
static double Seconds = 10;
static double Rate = 50;
static double Timeout = 10;
static double PollInterval = 0.0005;
static const char *CsvPath;

static Probe *Probes;
static long MaxProbes;
static _Atomic long NSent;		/* probes 0..NSent-1 have left P_UNSENT */
static _Atomic bool WriterDone;
static double HardDeadline;

static Reader Readers[MAX_READERS];
static int NReaders;

static pthread_mutex_t Mutex = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t Cond;

static double
mono(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void
sleep_until(double t)
{
	struct timespec ts;

	ts.tv_sec = (time_t) t;
	ts.tv_nsec = (long) ((t - (double) ts.tv_sec) * 1e9);
	if (ts.tv_nsec >= 1000000000L)
		ts.tv_nsec = 999999999L;
	while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR)
		;
}

static void
die(const char *fmt, const char *arg)
{
	fprintf(stderr, "lag_probe: ");
	fprintf(stderr, fmt, arg);
	fprintf(stderr, "\n");
	exit(1);
}

/*
 * Open a connection with a connect timeout (unless the conninfo sets its
 * own: later keywords win, and the expanded conninfo comes last) and a
 * statement timeout, so that no call can hang the run.
 */
static PGconn *
open_conn(const char *conninfo)
{
	const char *const keys[] = {"connect_timeout", "fallback_application_name", "dbname", NULL};
	const char *const vals[] = {"10", "lag_probe", conninfo, NULL};
	PGconn	   *c = PQconnectdbParams(keys, vals, 1);
	PGresult   *r;

	if (PQstatus(c) != CONNECTION_OK)
		die("could not connect: %s", PQerrorMessage(c));
	r = PQexec(c, "SET statement_timeout = '" STMT_TIMEOUT "'");
	if (PQresultStatus(r) != PGRES_COMMAND_OK)
		die("SET statement_timeout failed: %s", PQerrorMessage(c));
	PQclear(r);
	return c;
}

static void
prepare(PGconn *c, const char *name, const char *sql, int nparams)
{
	PGresult   *r = PQprepare(c, name, sql, nparams, NULL);

	if (PQresultStatus(r) != PGRES_COMMAND_OK)
		die("prepare failed: %s", PQerrorMessage(c));
	PQclear(r);
}

static void
probe_key(char *buf, size_t len, long n)
{
	snprintf(buf, len, "probe:%s:%ld", RunId, n);
}

/* ------------------------------------------------------------------ */
/* Readers                                                            */
/* ------------------------------------------------------------------ */

static void *
reader_main(void *arg)
{
	Reader	   *rd = arg;
	long		lo = 0;			/* every probe below lo is seen or lost here */
	double		last_poll = 0;
	char	   *arr = malloc(MAX_BATCH * 80 + 4);
	long		batch[MAX_BATCH];

	for (;;)
	{
		double		now = mono();
		long		sent = atomic_load_explicit(&NSent, memory_order_acquire);
		int			nb = 0;
		bool		advancing = true;

		if (now > HardDeadline)
			break;

		/* outstanding probes, oldest first; retire the timed-out ones */
		for (long i = lo; i < sent && nb < MAX_BATCH; i++)
		{
			int			st = atomic_load_explicit(&Probes[i].state, memory_order_acquire);

			if (rd->seen[i] != 0 || st == P_FAILED)
			{
				if (advancing)
					lo = i + 1;
				continue;
			}
			if (st == P_DONE && now - Probes[i].t_ret > Timeout)
			{
				rd->seen[i] = -1;
				rd->nlost++;
				if (advancing)
					lo = i + 1;
				continue;
			}
			advancing = false;
			batch[nb++] = i;
		}

		if (nb == 0)
		{
			struct timespec ts;
			double		until = now + 0.005;

			if (atomic_load(&WriterDone) && lo >= atomic_load(&NSent))
				break;
			/* nothing to poll: sleep until the writer sends the next probe */
			ts.tv_sec = (time_t) until;
			ts.tv_nsec = (long) ((until - (double) ts.tv_sec) * 1e9);
			pthread_mutex_lock(&Mutex);
			if (atomic_load(&NSent) == sent && !atomic_load(&WriterDone))
				pthread_cond_timedwait(&Cond, &Mutex, &ts);
			pthread_mutex_unlock(&Mutex);
			continue;
		}

		/* at most one poll per PollInterval: sub-ms resolution, bounded load */
		if (now < last_poll + PollInterval)
			sleep_until(last_poll + PollInterval);

		{
			size_t		off = 0;
			const char *params[2];
			PGresult   *r;
			double		t_q,
						t_r;
			long		fresh = 0;

			arr[off++] = '{';
			for (int k = 0; k < nb; k++)
			{
				char		key[64];

				probe_key(key, sizeof(key), batch[k]);
				off += (size_t) sprintf(arr + off, "%s\"%s\"", k ? "," : "", key);
			}
			arr[off++] = '}';
			arr[off] = '\0';
			params[0] = Namespace;
			params[1] = arr;

			t_q = mono();
			last_poll = t_q;
			r = PQexecPrepared(rd->conn, "get", 2, params, NULL, NULL, 0);
			t_r = mono();
			rd->polls++;
			rd->rtt_sum += t_r - t_q;
			if (PQresultStatus(r) != PGRES_TUPLES_OK)
			{
				if (rd->errors++ < 3)
					fprintf(stderr, "lag_probe: %s: poll failed: %s", rd->name, PQerrorMessage(rd->conn));
				PQclear(r);
				if (PQstatus(rd->conn) == CONNECTION_BAD)
				{
					rd->gave_up = true;
					break;
				}
				sleep_until(mono() + 0.01);
				continue;
			}
			for (int row = 0; row < PQntuples(r); row++)
			{
				const char *k = PQgetvalue(r, row, 0);
				const char *colon = strrchr(k, ':');
				long		i = colon ? strtol(colon + 1, NULL, 10) : -1;

				if (i >= 0 && i < MaxProbes && rd->seen[i] == 0)
				{
					rd->seen[i] = t_r;
					rd->nseen++;
					fresh++;
				}
			}
			if (fresh > rd->max_burst)
				rd->max_burst = fresh;
			PQclear(r);
		}
	}

	/* whatever is still outstanding (hard deadline, broken connection) is lost */
	for (long i = 0; i < atomic_load(&NSent); i++)
		if (rd->seen[i] == 0 && atomic_load(&Probes[i].state) != P_FAILED)
		{
			rd->seen[i] = -1;
			rd->nlost++;
		}
	free(arr);
	return NULL;
}

/* ------------------------------------------------------------------ */
/* Report                                                             */
/* ------------------------------------------------------------------ */

static int
cmp_double(const void *a, const void *b)
{
	double		x = *(const double *) a,
				y = *(const double *) b;

	return (x > y) - (x < y);
}

/* nearest-rank percentile of a sorted array */
static double
pct(const double *v, long n, double p)
{
	long		k;

	if (n == 0)
		return 0;
	k = (long) (p / 100.0 * n + 0.999999) - 1;
	if (k < 0)
		k = 0;
	if (k >= n)
		k = n - 1;
	return v[k];
}

static void
usage(void)
{
	fprintf(stderr,
			"usage: lag_probe -w CONNINFO -r CONNINFO [-r CONNINFO ...] [-T seconds] [-R probes/s]\n"
			"                 [-n namespace] [-t timeout_s] [-P poll_us] [-i run-id] [-o file.csv]\n");
	exit(2);
}

int
main(int argc, char **argv)
{
	const char *writer_ci = NULL;
	PGconn	   *w;
	PGresult   *r;
	char		runbuf[32];
	double	   *putlat,
			   *lags;
	long		nput = 0,
				nfailed = 0,
				behind = 0;
	double		t0;
	int			opt;
	pthread_condattr_t ca;

	while ((opt = getopt(argc, argv, "w:r:T:R:n:t:P:i:o:h")) != -1)
	{
		switch (opt)
		{
			case 'w':
				writer_ci = optarg;
				break;
			case 'r':
				if (NReaders == MAX_READERS)
					usage();
				Readers[NReaders++].conninfo = optarg;
				break;
			case 'T':
				Seconds = atof(optarg);
				break;
			case 'R':
				Rate = atof(optarg);
				break;
			case 'n':
				Namespace = optarg;
				break;
			case 't':
				Timeout = atof(optarg);
				break;
			case 'P':
				PollInterval = atof(optarg) / 1e6;
				break;
			case 'i':
				RunId = optarg;
				break;
			case 'o':
				CsvPath = optarg;
				break;
			default:
				usage();
		}
	}
	if (writer_ci == NULL || NReaders == 0 || Seconds <= 0 || Seconds > 3600 || Rate <= 0 ||
		Rate > 10000 || Timeout <= 0 || Timeout > 600 || PollInterval < 0 || PollInterval > 1)
		usage();
	if (RunId == NULL)
	{
		/* distinct per run, so that probes of earlier runs never count */
		snprintf(runbuf, sizeof(runbuf), "%lx%x", (unsigned long) time(NULL), (unsigned) getpid());
		RunId = runbuf;
	}
	for (const char *p = RunId; *p; p++)
		if (!((*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || *p == '-' || *p == '_'))
			die("the run id must be letters, digits, - or _, not \"%s\"", RunId);

	MaxProbes = (long) (Seconds * Rate) + 2;
	Probes = calloc((size_t) MaxProbes, sizeof(Probe));
	putlat = calloc((size_t) MaxProbes, sizeof(double));
	lags = calloc((size_t) MaxProbes, sizeof(double));
	if (!Probes || !putlat || !lags)
		die("out of memory%s", "");

	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&Cond, &ca);

	/* connect, prepare and warm every connection before the first probe */
	w = open_conn(writer_ci);
	prepare(w, "put", "SELECT kv.put($1, $2, $3::jsonb, 'NO_EXPIRE')", 3);
	{
		char		key[64];
		const char *params[3] = {Namespace, key, "{\"probe\": \"warm-up\"}"};

		snprintf(key, sizeof(key), "probe:%s:warm", RunId);
		r = PQexecPrepared(w, "put", 3, params, NULL, NULL, 0);
		if (PQresultStatus(r) != PGRES_TUPLES_OK)
			die("warm-up put failed: %s", PQerrorMessage(w));
		PQclear(r);
	}
	for (int i = 0; i < NReaders; i++)
	{
		Reader	   *rd = &Readers[i];
		const char *params[2] = {Namespace, "{\"probe:warm\"}"};

		rd->conn = open_conn(rd->conninfo);
		rd->seen = calloc((size_t) MaxProbes, sizeof(double));
		if (!rd->seen)
			die("out of memory%s", "");
		prepare(rd->conn, "get", "SELECT key FROM kv.get_many($1, $2::text[]) WHERE value IS NOT NULL", 2);
		r = PQexecPrepared(rd->conn, "get", 2, params, NULL, NULL, 0);
		if (PQresultStatus(r) != PGRES_TUPLES_OK)
			die("warm-up get_many failed: %s", PQerrorMessage(rd->conn));
		PQclear(r);
		r = PQexec(rd->conn, "SELECT node_name FROM kv.node");
		if (PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1)
			snprintf(rd->name, sizeof(rd->name), "%s", PQgetvalue(r, 0, 0));
		else
			snprintf(rd->name, sizeof(rd->name), "reader%d", i + 1);
		PQclear(r);
	}

	t0 = mono();
	HardDeadline = t0 + Seconds + Timeout + 5;
	for (int i = 0; i < NReaders; i++)
		if (pthread_create(&Readers[i].thread, NULL, reader_main, &Readers[i]) != 0)
			die("could not start a reader thread%s", "");

	/* the writer: probe n is due at t0 + n / Rate, sent late if a put was slow */
	for (long n = 0; n < MaxProbes; n++)
	{
		double		due = t0 + n / Rate;
		char		key[64],
					val[96];
		const char *params[3] = {Namespace, key, val};
		double		now;

		if (due >= t0 + Seconds)
			break;
		now = mono();
		if (now < due)
			sleep_until(due);
		else if (now > due + 1 / Rate)
			behind++;
		probe_key(key, sizeof(key), n);
		snprintf(val, sizeof(val), "{\"probe\": %ld, \"run\": \"%s\"}", n, RunId);

		Probes[n].t_send = mono();
		atomic_store_explicit(&Probes[n].state, P_SENT, memory_order_release);
		atomic_store_explicit(&NSent, n + 1, memory_order_release);
		pthread_mutex_lock(&Mutex);
		pthread_cond_broadcast(&Cond);
		pthread_mutex_unlock(&Mutex);

		r = PQexecPrepared(w, "put", 3, params, NULL, NULL, 0);
		Probes[n].t_ret = mono();
		if (PQresultStatus(r) == PGRES_TUPLES_OK)
		{
			putlat[nput++] = Probes[n].t_ret - Probes[n].t_send;
			atomic_store_explicit(&Probes[n].state, P_DONE, memory_order_release);
		}
		else
		{
			if (nfailed++ < 3)
				fprintf(stderr, "lag_probe: put failed: %s", PQerrorMessage(w));
			atomic_store_explicit(&Probes[n].state, P_FAILED, memory_order_release);
		}
		PQclear(r);
		if (PQstatus(w) == CONNECTION_BAD)
			break;
	}
	atomic_store(&WriterDone, true);
	pthread_mutex_lock(&Mutex);
	pthread_cond_broadcast(&Cond);
	pthread_mutex_unlock(&Mutex);
	for (int i = 0; i < NReaders; i++)
		pthread_join(Readers[i].thread, NULL);

	/* report */
	qsort(putlat, (size_t) nput, sizeof(double), cmp_double);
	printf("lag_probe run %s: %ld probes into namespace %s over %.1f s (%.0f/s), probe timeout %.0f s, poll every >= %.0f us\n",
		   RunId, (long) atomic_load(&NSent), Namespace, Seconds, Rate, Timeout, PollInterval * 1e6);
	printf("  put latency ms: p50 %.2f  p90 %.2f  p99 %.2f  max %.2f  (%ld failed, %ld sent behind schedule)\n",
		   pct(putlat, nput, 50) * 1e3, pct(putlat, nput, 90) * 1e3, pct(putlat, nput, 99) * 1e3,
		   pct(putlat, nput, 100) * 1e3, nfailed, behind);
	printf("PUT n=%ld failed=%ld p50=%.3f p90=%.3f p99=%.3f max=%.3f behind=%ld\n", nput, nfailed,
		   pct(putlat, nput, 50) * 1e3, pct(putlat, nput, 90) * 1e3, pct(putlat, nput, 99) * 1e3,
		   pct(putlat, nput, 100) * 1e3, behind);
	for (int i = 0; i < NReaders; i++)
	{
		Reader	   *rd = &Readers[i];
		long		n = 0;
		double		rtt = rd->polls ? rd->rtt_sum / rd->polls * 1e3 : 0;

		for (long p = 0; p < atomic_load(&NSent); p++)
			if (rd->seen[p] > 0 && atomic_load(&Probes[p].state) == P_DONE)
				lags[n++] = rd->seen[p] - Probes[p].t_ret;
		qsort(lags, (size_t) n, sizeof(double), cmp_double);
		printf("  %s: %ld seen, %ld lost; lag ms p50 %.2f  p90 %.2f  p99 %.2f  max %.2f; "
			   "largest burst %ld; %ld polls, %.2f ms each%s\n",
			   rd->name, n, rd->nlost, pct(lags, n, 50) * 1e3, pct(lags, n, 90) * 1e3,
			   pct(lags, n, 99) * 1e3, pct(lags, n, 100) * 1e3, rd->max_burst, rd->polls, rtt,
			   rd->gave_up ? " (connection lost)" : "");
		printf("LAG reader=%s n=%ld lost=%ld p50=%.3f p90=%.3f p99=%.3f max=%.3f burst=%ld polls=%ld rtt=%.3f\n",
			   rd->name, n, rd->nlost, pct(lags, n, 50) * 1e3, pct(lags, n, 90) * 1e3,
			   pct(lags, n, 99) * 1e3, pct(lags, n, 100) * 1e3, rd->max_burst, rd->polls, rtt);
	}

	if (CsvPath)
	{
		FILE	   *f = fopen(CsvPath, "w");

		if (f == NULL)
			die("could not write %s", CsvPath);
		fprintf(f, "probe,sent_ms,put_ms");
		for (int i = 0; i < NReaders; i++)
			fprintf(f, ",lag_ms_%s", Readers[i].name);
		fprintf(f, "\n");
		for (long p = 0; p < atomic_load(&NSent); p++)
		{
			bool		ok = atomic_load(&Probes[p].state) == P_DONE;

			fprintf(f, "%ld,%.3f,", p, (Probes[p].t_send - t0) * 1e3);
			if (ok)
				fprintf(f, "%.3f", (Probes[p].t_ret - Probes[p].t_send) * 1e3);
			else
				fprintf(f, "failed");
			for (int i = 0; i < NReaders; i++)
			{
				double		s = Readers[i].seen[p];

				if (!ok)
					fprintf(f, ",");
				else if (s > 0)
					fprintf(f, ",%.3f", (s - Probes[p].t_ret) * 1e3);
				else
					fprintf(f, ",lost");
			}
			fprintf(f, "\n");
		}
		fclose(f);
	}

	PQfinish(w);
	for (int i = 0; i < NReaders; i++)
		PQfinish(Readers[i].conn);
	return 0;
}
