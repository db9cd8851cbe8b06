/*-------------------------------------------------------------------------
 *
 * gkv_hash.h
 *	  The key hash and the key -> shard mapping, shared verbatim by the
 *	  server extension and the C client library.
 *
 * The hash is MurmurHash3 (x86, 32-bit variant, seed 0) over the bytes
 *
 *		namespace || 0x00 || key
 *
 * (neither a namespace nor a PostgreSQL text value can contain a NUL byte,
 * so the separator makes the encoding unambiguous).  A parade of S shards
 * splits the 32-bit hash space into S equal token ranges; shard i holds the
 * hashes h with floor(h * S / 2^32) = i.  Both definitions are part of the
 * on-disk and on-wire contract: changing either moves every document.  The
 * test vectors in test/vectors/hash_vectors.txt pin them down.
 *
 * This file must compile without postgres.h.
 *
 * src/common/gkv_hash.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef GKV_HASH_H
#define GKV_HASH_H

#include <stddef.h>
#include <stdint.h>

extern uint32_t gkv_murmur3_32(const void *data, size_t len, uint32_t seed);
extern uint32_t gkv_key_hash(const char *ns, size_t nslen,
							 const char *key, size_t keylen);

/*
 * gkv_zone_rank: the place of a zone in a failover order (a comma-separated
 * list of zone names, nearest first; blanks around names ignored).  Listed
 * zones rank by position; the others after them, by name_index (their
 * position in name order).  Shared for the same reason as the hash: the
 * server's forwarding and the client library fail over alike.
 */
extern int	gkv_zone_rank(const char *zone, const char *zone_order, int name_index);

/*
 * gkv_sort_zones_by_rank sorts order[0 .. n-1], zone indexes, by their
 * gkv_zone_rank (name_of gives a zone's name); stable, so zones of equal
 * rank keep the caller's order.  The one failover order of the server and
 * the client library.
 */
extern void gkv_sort_zones_by_rank(int *order, int n, const char *zone_order,
								   const char *(*name_of) (int zone, const void *arg),
								   const void *arg);

/* shard index (0 .. nshards-1) of a key hash */
static inline int
gkv_shard_for_hash(uint32_t hash, int nshards)
{
	return (int) (((uint64_t) hash * (uint64_t) nshards) >> 32);
}

#endif							/* GKV_HASH_H */
