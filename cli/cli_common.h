/*-------------------------------------------------------------------------
 *
 * cli_common.h
 *	  Helpers shared by the globalkv command's source files (globalkv.c).
 *
 * cli/cli_common.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef GKV_CLI_COMMON_H
#define GKV_CLI_COMMON_H

#include <stdbool.h>

#include "libpq-fe.h"

/* print "globalkv: <message>" to stderr and exit 1 */
extern void die(const char *fmt,...) __attribute__((format(printf, 1, 2), noreturn));
extern PGconn *connect_or_die(const char *conninfo);
/* run a statement with text parameters; dies with the server's error */
extern PGresult *query(PGconn *conn, const char *sql, int nparams, const char *const *params);
extern void print_table(PGresult *res);
extern char *path_join(const char *a, const char *b);

/* cmd_shard.c */
extern int	shard_command(int nargs, char **args, const char *conninfo, const char *to_node,
						  bool rollback);
extern int	rebalance_command(const char *conninfo, const char *zone);

/* cmd_data.c: see cmd_data.h */

#endif							/* GKV_CLI_COMMON_H */
