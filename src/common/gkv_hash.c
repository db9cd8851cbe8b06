/*-------------------------------------------------------------------------
 *
 * gkv_hash.c
 *	  MurmurHash3 x86_32 and the (namespace, key) hash built on it.
 *
 * Written from the published description of the algorithm (Austin
 * Appleby's MurmurHash3, public domain).  Blocks are read byte by byte in
 * little-endian order, so the result does not depend on the host's byte
 * order or alignment rules: clients on any platform agree with the server.
 *
 * The (namespace, key) hash streams both strings through one Murmur state,
 * as if they had been concatenated with a NUL separator, without building
 * the concatenation: the hot path of every call never allocates for it.
 *
 * src/common/gkv_hash.c
 *
 *-------------------------------------------------------------------------
 */
#include <string.h>

#include "gkv_hash.h"

#define GKV_MURMUR_C1 0xcc9e2d51u
#define GKV_MURMUR_C2 0x1b873593u

static inline uint32_t
rotl32(uint32_t x, int r)
{
	return (x << r) | (x >> (32 - r));
}

static inline uint32_t
fmix32(uint32_t h)
{
	h ^= h >> 16;
	h *= 0x85ebca6bu;
	h ^= h >> 13;
	h *= 0xc2b2ae35u;
	h ^= h >> 16;
	return h;
}

static inline uint32_t
mix_block(uint32_t h, uint32_t k)
{
	k *= GKV_MURMUR_C1;
	k = rotl32(k, 15);
	k *= GKV_MURMUR_C2;
	h ^= k;
	h = rotl32(h, 13);
	return h * 5 + 0xe6546b64u;
}

/*
 * Streaming state: full 4-byte blocks are mixed as soon as they are
 * complete; up to three pending bytes wait in 'tail'.
 */
typedef struct MurmurStream
{
	uint32_t	h;
	uint32_t	tail;
	int			ntail;
	size_t		total;
} MurmurStream;

static void
stream_feed(MurmurStream *s, const unsigned char *p, size_t len)
{
	s->total += len;
	while (len > 0 && s->ntail > 0)
	{
		s->tail |= (uint32_t) *p++ << (8 * s->ntail);
		len--;
		if (++s->ntail == 4)
		{
			s->h = mix_block(s->h, s->tail);
			s->tail = 0;
			s->ntail = 0;
		}
	}
	while (len >= 4)
	{
		uint32_t	k = (uint32_t) p[0] | ((uint32_t) p[1] << 8) |
			((uint32_t) p[2] << 16) | ((uint32_t) p[3] << 24);

		s->h = mix_block(s->h, k);
		p += 4;
		len -= 4;
	}
	while (len > 0)
	{
		s->tail |= (uint32_t) *p++ << (8 * s->ntail);
		s->ntail++;
		len--;
	}
}

static uint32_t
stream_finish(MurmurStream *s)
{
	uint32_t	h = s->h;

	if (s->ntail > 0)
	{
		uint32_t	k = s->tail;

		k *= GKV_MURMUR_C1;
		k = rotl32(k, 15);
		k *= GKV_MURMUR_C2;
		h ^= k;
	}
	h ^= (uint32_t) s->total;
	return fmix32(h);
}

uint32_t
gkv_murmur3_32(const void *data, size_t len, uint32_t seed)
{
	MurmurStream s = {seed, 0, 0, 0};

	stream_feed(&s, (const unsigned char *) data, len);
	return stream_finish(&s);
}

uint32_t
gkv_key_hash(const char *ns, size_t nslen, const char *key, size_t keylen)
{
	static const unsigned char separator = 0;
	MurmurStream s = {0, 0, 0, 0};

	stream_feed(&s, (const unsigned char *) ns, nslen);
	stream_feed(&s, &separator, 1);
	stream_feed(&s, (const unsigned char *) key, keylen);
	return stream_finish(&s);
}

int
gkv_zone_rank(const char *zone, const char *zone_order, int name_index)
{
	int			rank = 0;
	size_t		len = strlen(zone);

	for (const char *p = zone_order; p && *p;)
	{
		const char *end = strchr(p, ',');
		size_t		n = end ? (size_t) (end - p) : strlen(p);

		while (n > 0 && *p == ' ')
			p++, n--;
		while (n > 0 && p[n - 1] == ' ')
			n--;
		if (n == len && strncmp(p, zone, n) == 0)
			return rank;
		rank++;
		p = end ? end + 1 : NULL;
	}
	return 1000000 + name_index;
}

void
gkv_sort_zones_by_rank(int *order, int n, const char *zone_order,
					   const char *(*name_of) (int zone, const void *arg), const void *arg)
{
	/* insertion sort: a handful of zones */
	for (int i = 1; i < n; i++)
		for (int j = i; j > 0 &&
			 gkv_zone_rank(name_of(order[j], arg), zone_order, order[j]) <
			 gkv_zone_rank(name_of(order[j - 1], arg), zone_order, order[j - 1]); j--)
		{
			int			t = order[j];

			order[j] = order[j - 1];
			order[j - 1] = t;
		}
}
