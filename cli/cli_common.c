/*-------------------------------------------------------------------------
 *
 * cli_common.c
 *	  Helpers shared by the commands of the globalkv CLI: how the tool
 *	  fails (die, and query's report of a server error with its SQLSTATE),
 *	  how it connects, and how it prints a result.
 *
 * Every command reports errors the same way and with the same exit
 * status (1 for usage and connection problems, 2 for a server error), so
 * that scripts can tell them apart whichever command they run; that is
 * why these live in one place.  Nothing here knows of a command.
 *
 * cli/cli_common.c
 *
 *-------------------------------------------------------------------------
 */
#define _POSIX_C_SOURCE 200809L
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <string.h>

#include "cli_common.h"

void
die(const char *fmt,...)
{
	va_list		ap;

	fprintf(stderr, "%s: ", CLI_PROGNAME);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(1);
}

PGconn *
connect_or_die(const char *conninfo)
{
	PGconn	   *conn = PQconnectdb(conninfo);

	if (PQstatus(conn) != CONNECTION_OK)
		die("could not connect: %s", PQerrorMessage(conn));
	return conn;
}

/*
 * query runs a parameterized statement; on error prints the server's
 * message with its SQLSTATE and exits.
 */
/*
 * print_server_error: a failed statement on stderr, with its SQLSTATE,
 * detail and hint ("on WHERE" when given).
 */
void
print_server_error(PGconn *conn, const PGresult *res, const char *where)
{
	const char *state = PQresultErrorField(res, PG_DIAG_SQLSTATE);
	const char *primary = PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY);
	const char *detail = PQresultErrorField(res, PG_DIAG_MESSAGE_DETAIL);
	const char *hint = PQresultErrorField(res, PG_DIAG_MESSAGE_HINT);

	fprintf(stderr, "%s: ERROR %s%s%s: %s\n", CLI_PROGNAME, state ? state : "?????",
			where ? " on " : "", where ? where : "",
			primary ? primary : PQerrorMessage(conn));
	if (detail)
		fprintf(stderr, "  detail: %s\n", detail);
	if (hint)
		fprintf(stderr, "  hint: %s\n", hint);
}

PGresult *
query(PGconn *conn, const char *sql, int nparams, const char *const *params)
{
	PGresult   *res = PQexecParams(conn, sql, nparams, NULL, params, NULL, NULL, 0);
	ExecStatusType st = PQresultStatus(res);

	if (st != PGRES_TUPLES_OK && st != PGRES_COMMAND_OK)
	{
		print_server_error(conn, res, NULL);
		PQclear(res);
		PQfinish(conn);
		exit(2);
	}
	return res;
}

/* print a result as an aligned table */
void
print_table(PGresult *res)
{
	int			nf = PQnfields(res),
				nt = PQntuples(res);
	int		   *w = calloc(nf, sizeof(int));

	for (int f = 0; f < nf; f++)
	{
		w[f] = strlen(PQfname(res, f));
		for (int t = 0; t < nt; t++)
		{
			int			l = PQgetisnull(res, t, f) ? 0 : strlen(PQgetvalue(res, t, f));

			if (l > w[f])
				w[f] = l > 60 ? 60 : l;
		}
	}
	for (int f = 0; f < nf; f++)
		printf("%s%-*s", f ? "  " : "  ", w[f], PQfname(res, f));
	printf("\n");
	for (int f = 0; f < nf; f++)
	{
		printf("  ");
		for (int i = 0; i < w[f]; i++)
			putchar('-');
	}
	printf("\n");
	for (int t = 0; t < nt; t++)
	{
		for (int f = 0; f < nf; f++)
			printf("  %-*.*s", w[f], w[f], PQgetisnull(res, t, f) ? "" : PQgetvalue(res, t, f));
		printf("\n");
	}
	free(w);
}

double
cli_seconds(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* appends str to a growing buffer */
void
cli_append(char **buf, size_t *len, size_t *cap, const char *str)
{
	size_t		n = strlen(str);

	if (*len + n + 1 > *cap)
	{
		*cap = (*len + n + 1) * 2;
		if ((*buf = realloc(*buf, *cap)) == NULL)
			die("out of memory");
	}
	memcpy(*buf + *len, str, n + 1);
	*len += n;
}

/* appends str to buf as a JSON string */
void
cli_append_json_string(char **buf, size_t *len, size_t *cap, const char *str)
{
	size_t		n = strlen(str);

	if (*len + 6 * n + 3 > *cap)
	{
		*cap = (*len + 6 * n + 3) * 2;
		if ((*buf = realloc(*buf, *cap)) == NULL)
			die("out of memory");
	}
	(*buf)[(*len)++] = '"';
	for (const unsigned char *p = (const unsigned char *) str; *p; p++)
	{
		if (*p == '"' || *p == '\\')
		{
			(*buf)[(*len)++] = '\\';
			(*buf)[(*len)++] = (char) *p;
		}
		else if (*p < 0x20)
			*len += sprintf(*buf + *len, "\\u%04x", *p);
		else
			(*buf)[(*len)++] = (char) *p;
	}
	(*buf)[(*len)++] = '"';
	(*buf)[*len] = '\0';
}
