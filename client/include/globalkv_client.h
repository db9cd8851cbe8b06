/*-------------------------------------------------------------------------
 *
 * globalkv_client.h
 *	  libglobalkv: the C client library of globalkv.
 *
 * A gkv_conn knows the parade's shard map (kv.shard_map() of any node)
 * and sends each call straight to the node holding the key's shard in
 * the caller's zone, over one cached libpq connection per node.  Those
 * connections run with globalkv.routing = direct: a node that no longer
 * holds the shard answers GK017 and the library refreshes its map and
 * tries again.  When a node cannot be reached, the call goes to the same
 * shard's holder in the next zone of the failover order; a patch_numeric
 * whose request may have reached a node that then failed is not repeated
 * (SQLSTATE 08007), since it is not idempotent.
 *
 * A gkv_conn is not thread-safe: use one per thread.  Every function
 * returning int returns 0 on success and -1 on failure, with *err filled
 * (err may be NULL).
 *
 * client/include/globalkv_client.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef GLOBALKV_CLIENT_H
#define GLOBALKV_CLIENT_H

#include <stdint.h>

#ifdef __cplusplus
extern "C"
{
#endif

typedef struct gkv_conn gkv_conn;

typedef struct gkv_error
{
	char		sqlstate[6];	/* the node's SQLSTATE, or one of libpq's */
	char		node[64];		/* the node that failed, when one did */
	char		message[512];
} gkv_error;

typedef struct gkv_options
{
	const char *zone;			/* the caller's zone; NULL: the first seed's */
	const char *zone_order;		/* failover zones, nearest first, comma-separated */
	int			down_ms;		/* how long an unreachable node is skipped (0: 2000) */
} gkv_options;

/* the result of a put: "INSERT", "UPDATE" or "CONFLICT" */
typedef char gkv_put_result[16];

/*
 * Connects to the first reachable seed (libpq connection strings; their
 * user, password, passfile, sslmode... are used for every node) and loads
 * the shard map.  Returns NULL on failure.
 */
extern gkv_conn *gkv_connect(const char *const *seeds, int nseeds, const gkv_options *opts,
							 gkv_error *err);
extern void gkv_close(gkv_conn *conn);
extern int	gkv_refresh_map(gkv_conn *conn, gkv_error *err);

/* policy: an expiry policy name (NULL: "NO_EXPIRE", as kv.put) */
extern int	gkv_put(gkv_conn *conn, const char *ns, const char *key, const char *json,
					const char *policy, gkv_put_result result, gkv_error *err);
/* *json: the document (free with gkv_free), or NULL when there is none */
extern int	gkv_get(gkv_conn *conn, const char *ns, const char *key, char **json, gkv_error *err);
/* *deleted: 1 when a live document was deleted */
extern int	gkv_delete(gkv_conn *conn, const char *ns, const char *key, int *deleted,
					   gkv_error *err);
/* *doc: the document after the patch (free with gkv_free) */
extern int	gkv_patch_numeric(gkv_conn *conn, const char *ns, const char *key,
							  const char *offsets, const char *policy, char **doc,
							  gkv_error *err);
/* keys split by node and sent to all nodes at once; results in the caller's order */
extern int	gkv_put_many(gkv_conn *conn, const char *ns, int n, const char *const *keys,
						 const char *const *values, const char *policy,
						 gkv_put_result *results, gkv_error *err);
/* values[i]: the document of keys[i] (free each with gkv_free), or NULL */
extern int	gkv_get_many(gkv_conn *conn, const char *ns, int n, const char *const *keys,
						 char **values, gkv_error *err);
extern void gkv_free(void *p);

/* the key hash and shard (the extension's, see docs/routing.md) */
extern uint32_t gkv_key_hash32(const char *ns, const char *key);
extern int	gkv_shard_of(const gkv_conn *conn, const char *ns, const char *key);
extern int	gkv_shard_count(const gkv_conn *conn);
/* the name of the node holding the shard in the caller's zone ("" if none) */
extern const char *gkv_shard_holder(const gkv_conn *conn, int shard);
/* number of times the map was loaded (1 after connect) */
extern int	gkv_map_loads(const gkv_conn *conn);

#ifdef __cplusplus
}
#endif

#endif							/* GLOBALKV_CLIENT_H */
