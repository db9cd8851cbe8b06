/*-------------------------------------------------------------------------
 *
 * cli_common.h
 *	  Helpers shared by the commands of the globalkv CLI (cli_common.c):
 *	  errors, connections, queries and tables.
 *
 * Only helpers belong here, never a command: the commands' entry points
 * are in their own headers (cmd_*.h), so that a command file cannot come
 * to depend on another command, or on main.c, by way of this header.
 *
 * cli/cli_common.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef GKV_CLI_COMMON_H
#define GKV_CLI_COMMON_H

#include "libpq-fe.h"

/* the name every message of the tool starts with */
#define CLI_PROGNAME "globalkv"

/* print "globalkv: <message>" to stderr and exit 1 */
extern void die(const char *fmt,...) __attribute__((format(printf, 1, 2), noreturn));
extern PGconn *connect_or_die(const char *conninfo);
/* run a statement with text parameters; dies with the server's error */
extern PGresult *query(PGconn *conn, const char *sql, int nparams, const char *const *params);
extern void print_table(PGresult *res);
extern void print_server_error(PGconn *conn, const PGresult *res, const char *where);
/* a monotonic clock, in seconds: for rates and progress */
extern double cli_seconds(void);
/* growing text buffers (*buf realloc'd, NUL-terminated) */
extern void cli_append(char **buf, size_t *len, size_t *cap, const char *str);
extern void cli_append_json_string(char **buf, size_t *len, size_t *cap, const char *str);

#endif							/* GKV_CLI_COMMON_H */
