/*-------------------------------------------------------------------------
 *
 * cmd_transfer.c
 *	  globalkv load / globalkv export: documents in and out of a namespace
 *	  as JSON lines, {"key": "...", "value": ..., "ttl": seconds}.
 *
 * load reads the file in batches of BATCH_LINES lines and sends each to
 * kv.load_lines on the node (sql/udfs/load_lines), which parses and checks
 * every line and puts the good ones with kv.put_many -- the server splits
 * each batch by the node holding each key.  Bad lines come back with
 * their number and why; they are reported on stderr and skipped, or, with
 * --stop-on-error, stop the load after the batch that held the first one
 * (each batch is one transaction: nothing of a batch is half-written).
 * Progress (lines, documents/s) goes to stderr every second.
 *
 * export reads kv.docs (each node's part in one snapshot: consistent per
 * shard) in single-row mode, so neither side holds the namespace in
 * memory, and writes one JSON line per live document, with the remaining
 * ttl for documents that expire.  load takes its output back.
 *
 * cli/cmd_transfer.c
 *
 *-------------------------------------------------------------------------
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "libpq-fe.h"

#include "cli_common.h"
#include "cmd_transfer.h"

#define BATCH_LINES 5000
#define EXIT_BAD_LINES 1
#define EXIT_ERROR 2

static double
Seconds(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static PGconn *
Connect(const char *conninfo)
{
	PGconn	   *conn = PQconnectdb(conninfo);

	if (PQstatus(conn) != CONNECTION_OK)
	{
		fprintf(stderr, "%s: could not connect: %s", CLI_PROGNAME, PQerrorMessage(conn));
		PQfinish(conn);
		return NULL;
	}
	return conn;
}

static void
ServerError(PGconn *conn, PGresult *res)
{
	const char *state = PQresultErrorField(res, PG_DIAG_SQLSTATE);

	fprintf(stderr, "%s: ERROR %s: %s", CLI_PROGNAME, state ? state : "?????", PQerrorMessage(conn));
}

/*
 * The lines of a batch, as a text[] literal being built in *buf: "{" and
 * each line quoted, separated by commas; SendBatch closes it.
 */
static void
AppendArrayElement(char **buf, size_t *len, size_t *cap, const char *line, size_t n)
{
	size_t		need = *len + 2 * n + 8;

	if (need > *cap)
	{
		*cap = need * 2;
		*buf = realloc(*buf, *cap);
		if (*buf == NULL)
			die("out of memory");
	}
	if (*len == 0)
		(*buf)[(*len)++] = '{';
	else
		(*buf)[(*len)++] = ',';
	(*buf)[(*len)++] = '"';
	for (size_t i = 0; i < n; i++)
	{
		if (line[i] == '"' || line[i] == '\\')
			(*buf)[(*len)++] = '\\';
		(*buf)[(*len)++] = line[i];
	}
	(*buf)[(*len)++] = '"';
}

/* sends one batch; returns how many lines were bad, -1 on an error */
static long
SendBatch(PGconn *conn, const char *ns, long first_line, char *array, size_t len)
{
	char		first[32];
	PGresult   *res;
	long		bad;

	array[len] = '}';
	array[len + 1] = '\0';
	snprintf(first, sizeof(first), "%ld", first_line);
	res = PQexecParams(conn, "SELECT line, error FROM kv.load_lines($1, $2::bigint, $3::text[])",
					   3, NULL, (const char *const[]) {ns, first, array}, NULL, NULL, 0);
	if (PQresultStatus(res) != PGRES_TUPLES_OK)
	{
		ServerError(conn, res);
		PQclear(res);
		return -1;
	}
	bad = PQntuples(res);
	for (long r = 0; r < bad; r++)
		fprintf(stderr, "line %s: %s\n", PQgetvalue(res, r, 0), PQgetvalue(res, r, 1));
	PQclear(res);
	return bad;
}

int
load_command(const char *conninfo, const char *ns, const char *file, bool stop_on_error)
{
	FILE	   *in = strcmp(file, "-") == 0 ? stdin : fopen(file, "r");
	PGconn	   *conn;
	char	   *line = NULL;
	size_t		line_cap = 0;
	ssize_t		n;
	char	   *array = NULL;
	size_t		len = 0,
				cap = 0;
	long		lineno = 0,
				batch_first = 1,
				in_batch = 0,
				bad = 0,
				blank = 0;
	double		start = Seconds(),
				last_progress = start;
	int			rc = 0;

	if (in == NULL)
	{
		fprintf(stderr, "%s: could not open %s\n", CLI_PROGNAME, file);
		return EXIT_ERROR;
	}
	if ((conn = Connect(conninfo)) == NULL)
		return EXIT_ERROR;
	while ((n = getline(&line, &line_cap, in)) >= 0)
	{
		lineno++;
		while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r'))
			line[--n] = '\0';
		if (strspn(line, " \t") == (size_t) n)
			blank++;			/* sent all the same: the server numbers lines by position */
		if (in_batch == 0)
		{
			len = 0;
			batch_first = lineno;
		}
		AppendArrayElement(&array, &len, &cap, line, (size_t) n);
		in_batch++;
		if (in_batch == BATCH_LINES)
		{
			long		b = SendBatch(conn, ns, batch_first, array, len);

			if (b < 0)
			{
				rc = EXIT_ERROR;
				break;
			}
			bad += b;
			in_batch = 0;
			if (b > 0 && stop_on_error)
				break;
		}
		if (Seconds() - last_progress >= 1.0)
		{
			last_progress = Seconds();
			fprintf(stderr, "%ld lines, %.0f lines/s\n", lineno, lineno / (last_progress - start));
		}
	}
	if (rc == 0 && in_batch > 0 && !(bad > 0 && stop_on_error))
	{
		long		b = SendBatch(conn, ns, batch_first, array, len);

		if (b < 0)
			rc = EXIT_ERROR;
		else
			bad += b;
	}
	if (rc == 0)
	{
		double		took = Seconds() - start;

		printf("%ld lines read, %ld loaded, %ld bad, %ld blank%s, in %.1f s (%.0f documents/s)\n",
			   lineno, lineno - bad - blank, bad, blank,
			   bad > 0 && stop_on_error ? " (stopped at the first batch with a bad line)" : "",
			   took, (lineno - bad - blank) / (took > 0 ? took : 1));
		rc = bad > 0 ? EXIT_BAD_LINES : 0;
	}
	else
		fprintf(stderr, "%s: the load stopped at line %ld; the batches before line %ld are loaded\n",
				CLI_PROGNAME, lineno, batch_first);
	free(line);
	free(array);
	if (in != stdin)
		fclose(in);
	PQfinish(conn);
	return rc;
}

int
export_command(const char *conninfo, const char *ns, const char *prefix)
{
	PGconn	   *conn;
	PGresult   *res;
	char	   *ns_lit,
			   *prefix_lit,
			   *sql;
	long		rows = 0;
	double		start = Seconds(),
				last_progress = start;
	int			rc = 0;

	if ((conn = Connect(conninfo)) == NULL)
		return EXIT_ERROR;
	/* literals, not parameters: kv.docs is planned with the values in sight */
	ns_lit = PQescapeLiteral(conn, ns, strlen(ns));
	prefix_lit = prefix ? PQescapeLiteral(conn, prefix, strlen(prefix)) : NULL;
	if (ns_lit == NULL || (prefix && prefix_lit == NULL))
		die("could not quote the namespace or prefix: %s", PQerrorMessage(conn));
	if (asprintf(&sql,
				 "SELECT (jsonb_build_object('key', key, 'value', value) ||"
				 "        CASE WHEN expires_at IS NULL THEN '{}'::jsonb"
				 "             ELSE jsonb_build_object('ttl', greatest(1, ceil(extract(epoch FROM expires_at - now())))::bigint)"
				 "        END)::text"
				 "  FROM kv.docs WHERE namespace = %s%s%s%s%s",
				 ns_lit,
				 prefix ? " AND left(key, length(" : "", prefix ? prefix_lit : "",
				 prefix ? ")) = " : "", prefix ? prefix_lit : "") < 0)
		die("out of memory");
	if (!PQsendQuery(conn, sql) || !PQsetSingleRowMode(conn))
	{
		fprintf(stderr, "%s: %s", CLI_PROGNAME, PQerrorMessage(conn));
		PQfinish(conn);
		return EXIT_ERROR;
	}
	while ((res = PQgetResult(conn)) != NULL)
	{
		ExecStatusType st = PQresultStatus(res);

		if (st == PGRES_SINGLE_TUPLE)
		{
			fputs(PQgetvalue(res, 0, 0), stdout);
			fputc('\n', stdout);
			rows++;
			if (rows % 10000 == 0 && Seconds() - last_progress >= 1.0)
			{
				last_progress = Seconds();
				fprintf(stderr, "%ld documents, %.0f/s\n", rows, rows / (last_progress - start));
			}
		}
		else if (st != PGRES_TUPLES_OK)
		{
			ServerError(conn, res);
			rc = EXIT_ERROR;
		}
		PQclear(res);
	}
	if (fflush(stdout) != 0)
	{
		fprintf(stderr, "%s: could not write the output\n", CLI_PROGNAME);
		rc = EXIT_ERROR;
	}
	if (rc == 0)
		fprintf(stderr, "%ld documents exported in %.1f s\n", rows, Seconds() - start);
	PQfreemem(ns_lit);
	if (prefix_lit)
		PQfreemem(prefix_lit);
	free(sql);
	PQfinish(conn);
	return rc;
}
