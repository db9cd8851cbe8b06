/*-------------------------------------------------------------------------
 *
 * globalkv_client.h
 *	  libglobalkv: the C client library of globalkv.
 *
 * A gkv_conn knows the parade's shard map (kv.shard_map() of any node)
 * and sends each call straight to the node holding the key's shard in
 * the caller's zone, over one cached libpq connection per node, each
 * statement prepared once per connection.  Those connections run with
 * globalkv.routing = direct: a node that no longer holds the shard
 * answers GK017 and the library re-reads the map and tries again (3
 * times at most).
 *
 * Failover: when a node cannot be reached (the connection fails, or
 * breaks), it is skipped for opts.down_ms and the call goes to the same
 * shard's holder in the next zone of the failover order (opts.zone_order,
 * then the other zones by name).  put, get, delete and the batches are
 * idempotent at the data level and are simply sent again.  A
 * patch_numeric whose request may have reached a node that then failed
 * is NOT sent again, since it would count twice: it fails with SQLSTATE
 * 08007 (outcome unknown) naming the node.  No holder reachable in any
 * zone: GK018.
 *
 * Threads: a gkv_conn and everything it returns belong to one thread at
 * a time (libpq connections are not shared); use one gkv_conn per thread.
 * The library has no global mutable state, so separate gkv_conns may be
 * used concurrently.
 *
 * Errors: every function returning int returns 0 on success and -1 on
 * failure with *err filled (err may be NULL).  A node's error keeps its
 * SQLSTATE, message, detail and hint, and err->node names the node.
 * Messages never contain a password.
 *
 * Link with `pkg-config --cflags --libs globalkv`.
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

/* only these symbols are exported by libglobalkv.so */
#if defined(__GNUC__)
#define GKV_API __attribute__((visibility("default")))
#else
#define GKV_API
#endif

typedef struct gkv_conn gkv_conn;

typedef struct gkv_error
{
	char		sqlstate[6];	/* the node's SQLSTATE, or the library's (below) */
	char		node[64];		/* the node that failed, "" when none did */
	char		message[512];	/* one line */
	char		detail[256];	/* the node's detail, "" when none */
	char		hint[256];		/* the node's hint, "" when none */
} gkv_error;

/*
 * SQLSTATEs the library itself reports:
 *	08001  no seed could be reached / a connection string is invalid
 *	08007  patch_numeric sent to a node that then failed: outcome unknown
 *	08P01  a node answered something the library cannot read (bad map...)
 *	GK003  a NULL key (GK004: a NULL value) in a batch
 *	GK009  an invalid argument (NULL pointer, negative count)
 *	GK018  no node holding the key's shard can be reached, in any zone
 */

typedef struct gkv_options
{
	const char *zone;			/* the caller's zone; NULL: the zone of the seed
								 * that answered */
	const char *zone_order;		/* failover zones, nearest first,
								 * comma-separated; unlisted zones follow by
								 * name; NULL: by name */
	int			down_ms;		/* how long an unreachable node is skipped
								 * (<= 0: 2000) */
} gkv_options;

/* the result of a put: "INSERT", "UPDATE" or "CONFLICT" */
typedef char gkv_put_result[16];

/*
 * Connects to the first reachable seed (libpq connection strings, tried in
 * order) and loads the shard map from it.  The options of the seed that
 * answered (user, password, passfile, sslmode, ...) are used for every
 * node; host, port and database come from the map when it names them.
 * When the seed is a Unix-socket directory and a node's host is a
 * loopback address, the socket directory is kept (a local parade, whose
 * nodes share it).  opts may be NULL.  Returns NULL on failure.
 */
extern GKV_API gkv_conn *gkv_connect(const char *const *seeds, int nseeds,
									 const gkv_options *opts, gkv_error *err);
/* closes every connection and frees everything; conn may be NULL */
extern GKV_API void gkv_close(gkv_conn *conn);
/* re-reads the shard map from any reachable node (then the seeds) */
extern GKV_API int gkv_refresh_map(gkv_conn *conn, gkv_error *err);

/*
 * Documents are JSON text.  Invalid JSON is reported by the node (GK004,
 * GK006 for offsets), as kv.put does for text.
 *
 * gkv_put: policy is an expiry policy name (NULL: "NO_EXPIRE").
 * result may be NULL.
 */
extern GKV_API int gkv_put(gkv_conn *conn, const char *ns, const char *key, const char *json,
						   const char *policy, gkv_put_result result, gkv_error *err);
/* gkv_put_ttl: the document expires ttl_seconds from now */
extern GKV_API int gkv_put_ttl(gkv_conn *conn, const char *ns, const char *key, const char *json,
							   long long ttl_seconds, gkv_put_result result, gkv_error *err);
/* *json: the document (free with gkv_free), or NULL when there is none */
extern GKV_API int gkv_get(gkv_conn *conn, const char *ns, const char *key, char **json,
						   gkv_error *err);
/* *deleted (may be NULL): 1 when a live document was deleted */
extern GKV_API int gkv_delete(gkv_conn *conn, const char *ns, const char *key, int *deleted,
							  gkv_error *err);

/*
 * gkv_touch: kv.touch -- the live document now expires ttl_seconds from
 * now; *touched (may be NULL) is 0 when it was missing, deleted or expired
 * (nothing written).  gkv_get_and_touch: the same, *json the document
 * (free with gkv_free), NULL when there was none.
 */
extern GKV_API int gkv_touch(gkv_conn *conn, const char *ns, const char *key,
							 long long ttl_seconds, int *touched, gkv_error *err);
extern GKV_API int gkv_get_and_touch(gkv_conn *conn, const char *ns, const char *key,
									 long long ttl_seconds, char **json, gkv_error *err);

/*
 * gkv_patch_numeric: kv.patch_numeric; *doc (may be NULL) is the document
 * after the patch (free with gkv_free).  Not repeated on another node once
 * the request may have been sent: see 08007 above.
 */
extern GKV_API int gkv_patch_numeric(gkv_conn *conn, const char *ns, const char *key,
									 const char *offsets, const char *policy, char **doc,
									 gkv_error *err);

/*
 * Batches: the keys are split by the node holding them, every node's part
 * is sent before any answer is read (the nodes work in parallel), and the
 * results come back in the caller's order.  A key may repeat; the later
 * value wins, as on the server.  When a call fails, parts sent to other
 * nodes may have taken effect (put_many is idempotent: send it again).
 *
 * gkv_put_many: results (n entries, may be NULL) receives each key's result.
 */
extern GKV_API int gkv_put_many(gkv_conn *conn, const char *ns, int n, const char *const *keys,
								const char *const *values, const char *policy,
								gkv_put_result *results, gkv_error *err);
/*
 * gkv_get_many: values (n entries) receives the document of keys[i] (free
 * each with gkv_free) or NULL; all NULL when the call fails.
 */
extern GKV_API int gkv_get_many(gkv_conn *conn, const char *ns, int n, const char *const *keys,
								char **values, gkv_error *err);

/*
 * gkv_scan: kv.scan -- at most page_size documents whose key starts with
 * prefix, after after_key (NULL: from the first), in key order, across the
 * zone.  keys and values (page_size entries each, the caller's) receive *n
 * keys and documents (free each with gkv_free); fewer than page_size (0 at
 * the end) means there are no more.  To go on, pass the last key as
 * after_key.
 */
extern GKV_API int gkv_scan(gkv_conn *conn, const char *ns, const char *prefix,
							const char *after_key, int page_size, char **keys, char **values,
							int *n, gkv_error *err);

/*
 * gkv_changes: kv.changes -- the namespace's changes in the connection's
 * zone since cursor (NULL: from the beginning), waiting up to wait_ms when
 * there are none.  *changes (free with gkv_free_changes) receives *n
 * changes, value NULL for a delete; *next_cursor (free with gkv_free) the
 * cursor of the next call.  Store it with what you did with the changes.
 */
typedef struct gkv_change
{
	char	   *key;
	char	   *value;			/* JSON text, NULL: deleted */
	char	   *version;
	char	   *expires_at;		/* NULL: does not expire */
} gkv_change;

extern GKV_API int gkv_changes(gkv_conn *conn, const char *ns, const char *cursor, int max_rows,
							   int wait_ms, gkv_change **changes, int *n, char **next_cursor,
							   gkv_error *err);
extern GKV_API void gkv_free_changes(gkv_change *changes, int n);

/* frees what the library returned */
extern GKV_API void gkv_free(void *p);

/*
 * Introspection.  The key hash and its shard are the extension's own
 * (docs/routing.md): the same source file is compiled into both.
 */
extern GKV_API uint32_t gkv_key_hash32(const char *ns, const char *key);
/* the shard of a key among nshards (>= 1) shards */
extern GKV_API int gkv_key_shard(const char *ns, const char *key, int nshards);
/* the shard of a key in conn's map */
extern GKV_API int gkv_shard_of(const gkv_conn *conn, const char *ns, const char *key);
extern GKV_API int gkv_shard_count(const gkv_conn *conn);
/* the caller's zone (valid while conn is open) */
extern GKV_API const char *gkv_zone(const gkv_conn *conn);

/*
 * The node holding a shard in the caller's zone: its name ("" when the
 * zone holds none, or the shard is out of range; valid until the next
 * call on conn) and its id (0 then).
 */
extern GKV_API const char *gkv_shard_holder(const gkv_conn *conn, int shard);
extern GKV_API int gkv_shard_holder_id(const gkv_conn *conn, int shard);

/* how many times the map was loaded (1 after gkv_connect) */
extern GKV_API int gkv_map_loads(const gkv_conn *conn);

#ifdef __cplusplus
}
#endif

#endif							/* GLOBALKV_CLIENT_H */
