/*-------------------------------------------------------------------------
 *
 * test_hash.c
 *	  Unit tests of the key hash and shard mapping (src/common/gkv_hash.c),
 *	  without a server.  Built with AddressSanitizer and UBSan.
 *
 * 1. MurmurHash3 x86_32 against the algorithm's published reference values,
 *    so the core is the real Murmur3, not merely self-consistent.
 * 2. Every vector of test/vectors/hash_vectors.txt: the same file is checked
 *    against the server's kv.key_shard() by the regression suite, so the
 *    extension, this code and the client library cannot drift apart.
 * 3. The shard mapping covers the 32-bit space in S equal, contiguous
 *    ranges, matching globalkv.shards.hash_min/hash_max.
 *
 * Output is TAP: "ok N - ..." / "not ok N - ...".
 *
 * test/unit/test_hash.c
 *
 *-------------------------------------------------------------------------
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gkv_hash.h"

static int	test_no = 0;
static int	failures = 0;

static void
check(int cond, const char *what)
{
	test_no++;
	if (!cond)
		failures++;
	printf("%s %d - %s\n", cond ? "ok" : "not ok", test_no, what);
}

static void
reference_values(void)
{
	static const struct
	{
		const char *input;
		uint32_t	seed;
		uint32_t	expected;
	}			ref[] = {
		{"", 0, 0x00000000u},
		{"", 1, 0x514e28b7u},
		{"", 0xffffffffu, 0x81f16f39u},
		{"hello", 0, 0x248bfa47u},
		{"hello, world", 0, 0x149bbb7fu},
		{"The quick brown fox jumps over the lazy dog", 0, 0x2e4ff723u},
		{"aaaa", 0x9747b28cu, 0x5a97808au},
		{"abc", 0, 0xb3dd93fau},
	};
	char		what[160];

	for (size_t i = 0; i < sizeof(ref) / sizeof(ref[0]); i++)
	{
		uint32_t	h = gkv_murmur3_32(ref[i].input, strlen(ref[i].input), ref[i].seed);

		snprintf(what, sizeof(what), "murmur3_32(\"%s\", seed %" PRIu32 ") = %08" PRIx32,
				 ref[i].input, ref[i].seed, ref[i].expected);
		check(h == ref[i].expected, what);
	}
}

static void
streaming_matches_concatenation(void)
{
	/* gkv_key_hash(ns, key) == murmur3(ns || 0x00 || key) for every split */
	const char *text = "namespace-xyz";
	int			ok = 1;

	for (size_t split = 0; split <= strlen(text); split++)
	{
		char		buf[64];
		size_t		len = strlen(text);

		memcpy(buf, text, split);
		buf[split] = '\0';
		memcpy(buf + split + 1, text + split, len - split);
		if (gkv_key_hash(text, split, text + split, len - split) !=
			gkv_murmur3_32(buf, len + 1, 0))
			ok = 0;
	}
	check(ok, "key hash equals murmur3 of namespace || NUL || key at every split");
}

static void
vectors(const char *path)
{
	FILE	   *f = fopen(path, "r");
	char		line[1024];
	int			n = 0,
				bad = 0;
	char		what[256];

	if (f == NULL)
	{
		check(0, "open test vectors");
		return;
	}
	while (fgets(line, sizeof(line), f))
	{
		char	   *fields[6];
		char	   *p = line;
		int			nf = 0;

		if (line[0] == '#' || line[0] == '\n')
			continue;
		line[strcspn(line, "\n")] = '\0';
		while (nf < 6)
		{
			fields[nf++] = p;
			p = strchr(p, '\t');
			if (p == NULL)
				break;
			*p++ = '\0';
		}
		if (nf != 6)
		{
			bad++;
			continue;
		}
		{
			uint32_t	h = gkv_key_hash(fields[0], strlen(fields[0]), fields[1], strlen(fields[1]));
			uint32_t	want = (uint32_t) strtoul(fields[2], NULL, 10);

			if (h != want || gkv_shard_for_hash(h, 1) != atoi(fields[3]) ||
				gkv_shard_for_hash(h, 16) != atoi(fields[4]) ||
				gkv_shard_for_hash(h, 64) != atoi(fields[5]))
			{
				bad++;
				fprintf(stdout, "# mismatch for (%s, %s): got %" PRIu32 "\n", fields[0], fields[1], h);
			}
		}
		n++;
	}
	fclose(f);
	snprintf(what, sizeof(what), "%d shared hash vectors match (hash, shard of 1/16/64)", n);
	check(n >= 100 && bad == 0, what);
}

static void
shard_ranges(void)
{
	static const int counts[] = {1, 2, 3, 16, 64, 1000, 4096};

	for (size_t c = 0; c < sizeof(counts) / sizeof(counts[0]); c++)
	{
		int			s = counts[c];
		int			ok = 1;
		char		what[128];

		/* the ranges of globalkv.create_shard_table: [ceil(i*2^32/S), ceil((i+1)*2^32/S)-1] */
		for (int i = 0; i < s; i++)
		{
			uint64_t	lo = ((uint64_t) i * 4294967296ull + s - 1) / s;
			uint64_t	hi = ((uint64_t) (i + 1) * 4294967296ull + s - 1) / s - 1;

			if (gkv_shard_for_hash((uint32_t) lo, s) != i ||
				gkv_shard_for_hash((uint32_t) hi, s) != i ||
				(lo > 0 && gkv_shard_for_hash((uint32_t) (lo - 1), s) != i - 1))
				ok = 0;
		}
		if (gkv_shard_for_hash(0, s) != 0 || gkv_shard_for_hash(UINT32_MAX, s) != s - 1)
			ok = 0;
		snprintf(what, sizeof(what), "%d shards: contiguous equal ranges matching hash_min/hash_max", s);
		check(ok, what);
	}
}

int
main(int argc, char **argv)
{
	const char *path = argc > 1 ? argv[1] : "../vectors/hash_vectors.txt";

	reference_values();
	streaming_matches_concatenation();
	vectors(path);
	shard_ranges();
	printf("1..%d\n", test_no);
	return failures == 0 ? 0 : 1;
}
