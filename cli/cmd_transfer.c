/*-------------------------------------------------------------------------
 *
 * cmd_transfer.c
 *	  globalkv load / globalkv export: documents in and out of a namespace
 *	  as JSON lines, {"key": "...", "value": ..., "ttl": seconds}.
 *
 * load reads the file in batches of BATCH_LINES lines and sends each to
 * kv.load_lines on the node (sql/udfs/load_lines), which parses and checks
 * every line and puts the good ones with kv.put_many -- the server splits
 * each batch by the node holding each key.  --jobs N (default 4) loads on
 * N connections at once, each line on the one its key hashes to (Lane), so
 * a key's lines keep their order.  Bad lines come back with their number
 * and why; they are reported on stderr and skipped, or, with
 * --stop-on-error, stop the load after the batch that held the first one
 * (each batch is one transaction: nothing of a batch is half-written; the
 * other connections' batches already sent finish).  Progress (lines,
 * documents/s) goes to stderr every second.
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
#include <strings.h>
#include <time.h>

#include "libpq-fe.h"

#include "cli_common.h"
#include "cmd_transfer.h"
#include "globalkv_client.h"

#define BATCH_LINES 5000
#define EXIT_BAD_LINES 1
#define EXIT_ERROR 2

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

/*
 * A lane: one connection and the batch being built for it.  Lines go to
 * lane hash(key) % jobs, so a key's lines always travel on one connection,
 * one batch after the other: a later line can never be written before an
 * earlier one, and two lanes never wait on each other's row locks.  While
 * a lane's batch runs on the server, the file is read on and the other
 * lanes' batches are built and sent.
 */
typedef struct Lane
{
	PGconn	   *conn;
	char	   *array;			/* the text[] literal being built */
	size_t		len,
				cap;
	long	   *lines;			/* file line of each element being built */
	long		n;
	long	   *sent_lines;		/* ... of the batch in flight */
	long		sent_n;
	bool		busy;			/* a batch is in flight */
} Lane;

/*
 * LaneCollect waits for the lane's batch in flight, if any, and reports its
 * bad lines with their numbers in the file.  Returns how many lines were
 * bad, -1 on an error.
 */
static long
LaneCollect(Lane *lane)
{
	PGresult   *res;
	PGresult   *last = NULL;
	long		bad = 0;

	if (!lane->busy)
		return 0;
	lane->busy = false;
	while ((res = PQgetResult(lane->conn)) != NULL)
	{
		if (last != NULL && PQresultStatus(last) == PGRES_FATAL_ERROR)
			PQclear(res);		/* keep the first error */
		else
		{
			PQclear(last);
			last = res;
		}
	}
	if (last == NULL || PQresultStatus(last) != PGRES_TUPLES_OK)
	{
		print_server_error(lane->conn, last, NULL);
		PQclear(last);
		return -1;
	}
	bad = PQntuples(last);
	for (long r = 0; r < bad; r++)
	{
		long		pos = atol(PQgetvalue(last, r, 0));

		fprintf(stderr, "line %ld: %s\n", pos >= 1 && pos <= lane->sent_n ? lane->sent_lines[pos - 1] : -1,
				PQgetvalue(last, r, 1));
	}
	PQclear(last);
	return bad;
}

/*
 * LaneSend sends the batch built in the lane (after collecting the one in
 * flight, whose bad lines are added to *bad).  Returns false on an error.
 */
static bool
LaneSend(Lane *lane, const char *ns, long *bad)
{
	long		b = LaneCollect(lane);
	long	   *swap;

	if (b < 0)
		return false;
	*bad += b;
	if (lane->n == 0)
		return true;
	lane->array[lane->len] = '}';
	lane->array[lane->len + 1] = '\0';
	if (!PQsendQueryParams(lane->conn, "SELECT line, error FROM kv.load_lines($1, 1, $2::text[])",
						   2, NULL, (const char *const[]) {ns, lane->array}, NULL, NULL, 0))
	{
		fprintf(stderr, "%s: %s", CLI_PROGNAME, PQerrorMessage(lane->conn));
		return false;
	}
	lane->busy = true;
	swap = lane->sent_lines;
	lane->sent_lines = lane->lines;
	lane->lines = swap;
	lane->sent_n = lane->n;
	lane->n = 0;
	lane->len = 0;
	return true;
}

/*
 * LineKey returns the decoded "key" member of a JSON line's top-level
 * object (malloc'd), NULL when it has none or is not an object -- such a
 * line goes to lane 0, where the server names what is wrong with it.  A
 * scanner, not a parser: it only has to find the key, the server checks
 * everything.
 */
static const char *
SkipString(const char *p)
{
	for (p++; *p && *p != '"'; p++)
		if (*p == '\\' && p[1])
			p++;
	return *p == '"' ? p + 1 : NULL;
}

/* skips one JSON value at p; returns where it ends, NULL if malformed */
static const char *
SkipValue(const char *p)
{
	int			depth = 0;

	for (;;)
	{
		while (*p == ' ' || *p == '\t' || *p == '\r' || *p == '\n')
			p++;
		if (*p == '\0')
			return NULL;
		if (*p == '"')
		{
			if ((p = SkipString(p)) == NULL)
				return NULL;
		}
		else if (*p == '{' || *p == '[')
		{
			depth++;
			p++;
			continue;
		}
		else if (*p == '}' || *p == ']')
		{
			if (depth == 0)
				return NULL;
			depth--;
			p++;
		}
		else if (depth > 0)
		{
			p++;				/* , : and scalars inside a container */
			continue;
		}
		else
			while (*p && *p != ',' && *p != '}' && *p != ' ' && *p != '\t')
				p++;
		if (depth == 0)
		{
			while (*p == ' ' || *p == '\t')
				p++;
			return p;
		}
	}
}

static void
PutUtf8(char **out, unsigned long c)
{
	unsigned char *o = (unsigned char *) *out;

	if (c < 0x80)
		*o++ = (unsigned char) c;
	else if (c < 0x800)
	{
		*o++ = 0xC0 | (c >> 6);
		*o++ = 0x80 | (c & 0x3F);
	}
	else if (c < 0x10000)
	{
		*o++ = 0xE0 | (c >> 12);
		*o++ = 0x80 | ((c >> 6) & 0x3F);
		*o++ = 0x80 | (c & 0x3F);
	}
	else
	{
		*o++ = 0xF0 | (c >> 18);
		*o++ = 0x80 | ((c >> 12) & 0x3F);
		*o++ = 0x80 | ((c >> 6) & 0x3F);
		*o++ = 0x80 | (c & 0x3F);
	}
	*out = (char *) o;
}

/* decodes the JSON string at p (at its opening quote); NULL if malformed */
static char *
DecodeString(const char *p)
{
	const char *end = SkipString(p);
	char	   *out,
			   *o;

	if (end == NULL || (out = malloc(end - p + 4)) == NULL)
		return NULL;
	o = out;
	for (p++; *p != '"'; p++)
	{
		if (*p != '\\')
		{
			*o++ = *p;
			continue;
		}
		p++;
		switch (*p)
		{
			case 'b': *o++ = '\b'; break;
			case 'f': *o++ = '\f'; break;
			case 'n': *o++ = '\n'; break;
			case 'r': *o++ = '\r'; break;
			case 't': *o++ = '\t'; break;
			case 'u':
				{
					unsigned long c,
								lo;

					if (sscanf(p + 1, "%4lx", &c) != 1)
						goto bad;
					p += 4;
					if (c >= 0xD800 && c <= 0xDBFF && p[1] == '\\' && p[2] == 'u' &&
						sscanf(p + 3, "%4lx", &lo) == 1 && lo >= 0xDC00 && lo <= 0xDFFF)
					{
						c = 0x10000 + ((c - 0xD800) << 10) + (lo - 0xDC00);
						p += 6;
					}
					if (c == 0)
						goto bad;	/* not a key the server takes anyway */
					PutUtf8(&o, c);
					break;
				}
			default:
				*o++ = *p;		/* \" \\ \/ */
		}
	}
	*o = '\0';
	return out;
bad:
	free(out);
	return NULL;
}

static char *
LineKey(const char *p)
{
	while (*p == ' ' || *p == '\t')
		p++;
	if (*p++ != '{')
		return NULL;
	for (;;)
	{
		bool		is_key;

		while (*p == ' ' || *p == '\t')
			p++;
		if (*p != '"')
			return NULL;
		is_key = strncmp(p, "\"key\"", 5) == 0;
		if ((p = SkipString(p)) == NULL)
			return NULL;
		while (*p == ' ' || *p == '\t')
			p++;
		if (*p++ != ':')
			return NULL;
		while (*p == ' ' || *p == '\t')
			p++;
		if (is_key)
			return *p == '"' ? DecodeString(p) : NULL;
		if ((p = SkipValue(p)) == NULL || *p != ',')
			return NULL;
		p++;
	}
}

/*
 * CsvRecord reads one CSV record (RFC 4180: fields in double quotes may
 * hold commas, newlines and "" for a quote) into fields[] (at most max);
 * returns how many fields, -1 at the end of the file.  *lineno counts the
 * file's lines; *first_line gets the record's first one.
 */
static int
CsvRecord(FILE *in, char **line, size_t *line_cap, long *lineno, long *first_line,
		  char **fields, int max)
{
	static char *field = NULL;
	static size_t field_cap = 0;
	size_t		flen = 0;
	int			nfields = 0;
	bool		quoted = false;
	ssize_t		n = getline(line, line_cap, in);
	const char *p;

	if (n < 0)
		return -1;
	(*lineno)++;
	*first_line = *lineno;
	p = *line;
	for (;;)
	{
		char		c = *p;

		if (flen + 2 > field_cap)
		{
			field_cap = (flen + 2) * 2 + 64;
			if ((field = realloc(field, field_cap)) == NULL)
				die("out of memory");
		}
		if (c == '\0')
		{
			if (quoted)
			{
				/* a quoted field goes on on the next line */
				if ((n = getline(line, line_cap, in)) < 0)
					quoted = false;
				else
				{
					(*lineno)++;
					p = *line;
					continue;
				}
			}
			c = '\n';
		}
		if (quoted)
		{
			if (c == '"' && p[1] == '"')
			{
				field[flen++] = '"';
				p += 2;
				continue;
			}
			if (c == '"')
				quoted = false;
			else
				field[flen++] = c;
			p++;
			continue;
		}
		if (c == '"' && flen == 0)
		{
			quoted = true;
			p++;
			continue;
		}
		if (c == ',' || c == '\n' || c == '\r')
		{
			field[flen] = '\0';
			if (nfields < max)
				fields[nfields] = strdup(field);
			nfields++;
			flen = 0;
			if (c != ',')
				return nfields;
			p++;
			continue;
		}
		field[flen++] = c;
		p++;
	}
}

int
load_command(const char *conninfo, const char *ns, const char *file, bool stop_on_error, bool csv,
			 int jobs)
{
	FILE	   *in = strcmp(file, "-") == 0 ? stdin : fopen(file, "r");
	Lane	   *lanes;
	char	   *line = NULL;
	size_t		line_cap = 0;
	char	   *json = NULL;
	size_t		json_len = 0,
				json_cap = 0;
	long		lineno = 0,
				records = 0,
				bad = 0,
				blank = 0;
	double		start = cli_seconds(),
				last_progress = start;
	int			rc = 0;
	size_t		flen = strlen(file);

	csv = csv || (flen > 4 && strcasecmp(file + flen - 4, ".csv") == 0);
	if (in == NULL)
	{
		fprintf(stderr, "%s: could not open %s\n", CLI_PROGNAME, file);
		return EXIT_ERROR;
	}
	lanes = calloc(jobs, sizeof(Lane));
	if (lanes == NULL)
		die("out of memory");
	for (int j = 0; j < jobs; j++)
	{
		if ((lanes[j].conn = Connect(conninfo)) == NULL)
			return EXIT_ERROR;
		lanes[j].lines = malloc(sizeof(long) * BATCH_LINES);
		lanes[j].sent_lines = malloc(sizeof(long) * BATCH_LINES);
		if (lanes[j].lines == NULL || lanes[j].sent_lines == NULL)
			die("out of memory");
	}
	for (;;)
	{
		long		record_line;
		const char *text;
		char	   *key = NULL;
		size_t		n;
		Lane	   *lane;

		if (!csv)
		{
			ssize_t		got = getline(&line, &line_cap, in);

			if (got < 0)
				break;
			record_line = ++lineno;
			while (got > 0 && (line[got - 1] == '\n' || line[got - 1] == '\r'))
				line[--got] = '\0';
			text = line;
			n = (size_t) got;
			if (jobs > 1)
				key = LineKey(text);
		}
		else
		{
			/* key,value[,ttl]: the value is JSON text, the key plain text */
			char	   *fields[4] = {NULL, NULL, NULL, NULL};
			int			nf = CsvRecord(in, &line, &line_cap, &lineno, &record_line, fields, 4);

			if (nf < 0)
				break;
			if (records == 0 && nf >= 2 && strcmp(fields[0], "key") == 0 && strcmp(fields[1], "value") == 0)
			{
				records++;
				blank++;		/* the header */
				continue;
			}
			json_len = 0;
			if (nf == 1 && fields[0][0] == '\0')
				text = "";		/* an empty line */
			else if (nf < 2 || nf > 3)
			{
				fprintf(stderr, "line %ld: expected key,value[,ttl] (%d fields)\n", record_line, nf);
				bad++;
				records++;
				for (int f = 0; f < nf && f < 4; f++)
					free(fields[f]);
				continue;
			}
			else
			{
				cli_append(&json, &json_len, &json_cap, "{\"key\": ");
				cli_append_json_string(&json, &json_len, &json_cap, fields[0]);
				cli_append(&json, &json_len, &json_cap, ", \"value\": ");
				cli_append(&json, &json_len, &json_cap, fields[1]);
				if (nf == 3 && fields[2][0] != '\0')
				{
					cli_append(&json, &json_len, &json_cap, ", \"ttl\": ");
					cli_append(&json, &json_len, &json_cap, fields[2]);
				}
				cli_append(&json, &json_len, &json_cap, "}");
				text = json;
				if (jobs > 1)
					key = strdup(fields[0]);
			}
			for (int f = 0; f < nf && f < 4; f++)
				free(fields[f]);
			records++;
			n = strlen(text);
		}
		if (strspn(text, " \t") == n)
			blank++;			/* sent all the same: the server numbers lines by position */
		lane = &lanes[key ? gkv_key_hash32(ns, key) % (unsigned) jobs : 0];
		free(key);
		AppendArrayElement(&lane->array, &lane->len, &lane->cap, text, n);
		lane->lines[lane->n++] = record_line;
		if (lane->n == BATCH_LINES)
		{
			if (!LaneSend(lane, ns, &bad))
			{
				rc = EXIT_ERROR;
				break;
			}
			if (bad > 0 && stop_on_error)
				break;
		}
		if (cli_seconds() - last_progress >= 1.0)
		{
			last_progress = cli_seconds();
			fprintf(stderr, "%ld lines, %.0f lines/s\n", lineno, lineno / (last_progress - start));
		}
	}
	/* the last batches, then every answer */
	for (int j = 0; j < jobs; j++)
	{
		if (rc == 0 && !(bad > 0 && stop_on_error))
		{
			if (!LaneSend(&lanes[j], ns, &bad))
				rc = EXIT_ERROR;
		}
	}
	for (int j = 0; j < jobs; j++)
	{
		long		b = LaneCollect(&lanes[j]);

		if (b < 0)
			rc = EXIT_ERROR;
		else
			bad += b;
	}
	if (rc == 0)
	{
		double		took = cli_seconds() - start;
		long		units = csv ? records : lineno;

		printf("%ld %s read, %ld loaded, %ld bad, %ld blank%s, in %.1f s (%.0f documents/s)\n",
			   units, csv ? "records" : "lines", units - bad - blank, bad, blank,
			   bad > 0 && stop_on_error ? " (stopped at the first batch with a bad line)" : "",
			   took, (units - bad - blank) / (took > 0 ? took : 1));
		rc = bad > 0 ? EXIT_BAD_LINES : 0;
	}
	else
		fprintf(stderr, "%s: the load stopped at line %ld; the batches before it are loaded\n",
				CLI_PROGNAME, lineno);
	free(line);
	free(json);
	for (int j = 0; j < jobs; j++)
	{
		free(lanes[j].array);
		free(lanes[j].lines);
		free(lanes[j].sent_lines);
		PQfinish(lanes[j].conn);
	}
	free(lanes);
	if (in != stdin)
		fclose(in);
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
	double		start = cli_seconds(),
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
			if (rows % 10000 == 0 && cli_seconds() - last_progress >= 1.0)
			{
				last_progress = cli_seconds();
				fprintf(stderr, "%ld documents, %.0f/s\n", rows, rows / (last_progress - start));
			}
		}
		else if (st != PGRES_TUPLES_OK)
		{
			print_server_error(conn, res, NULL);
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
		fprintf(stderr, "%ld documents exported in %.1f s\n", rows, cli_seconds() - start);
	PQfreemem(ns_lit);
	if (prefix_lit)
		PQfreemem(prefix_lit);
	free(sql);
	PQfinish(conn);
	return rc;
}
