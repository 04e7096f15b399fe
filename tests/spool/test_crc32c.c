/* SPDX-License-Identifier: MIT */
/*
 * test_crc32c.c - CRC32C (spool/crc32c*.c): known vectors (RFC 3720 B.4 and others) for every
 * variant, chaining, and the SSE4.2 variant against the table-driven one on random buffers of
 * random lengths and alignments (long enough for the 3-way interleaved loop).
 */
#include "spool/crc32c.h"
#include "tests/spool/spool_test.h"

struct vec {
	const char *name;
	uint8_t data[64];
	size_t n;
	uint32_t crc;
};

static uint64_t rng = 0x9E3779B97F4A7C15ull;

static uint64_t rnd(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return rng;
}

typedef uint32_t (*crc_fn)(uint32_t, const void *, size_t);

static void check_vectors(const char *variant, crc_fn f)
{
	static struct vec v[6];
	const char *s1 = "123456789", *s2 = "The quick brown fox jumps over the lazy dog";

	v[0] = (struct vec){"123456789", {0}, 9, 0xE3069283};
	memcpy(v[0].data, s1, 9);
	v[1] = (struct vec){"32 zeros", {0}, 32, 0x8A9136AA};
	v[2] = (struct vec){"32 x 0xff", {0}, 32, 0x62A8AB43};
	memset(v[2].data, 0xff, 32);
	v[3] = (struct vec){"0..31", {0}, 32, 0x46DD794E};
	v[4] = (struct vec){"31..0", {0}, 32, 0x113FDB5C};
	for (int i = 0; i < 32; i++) {
		v[3].data[i] = (uint8_t)i;
		v[4].data[i] = (uint8_t)(31 - i);
	}
	v[5] = (struct vec){"quick brown fox", {0}, strlen(s2), 0x22620404};
	memcpy(v[5].data, s2, strlen(s2));
	for (int i = 0; i < 6; i++)
		CHECK(f(0, v[i].data, v[i].n) == v[i].crc, "%s %s: %08x != %08x", variant,
		      v[i].name, f(0, v[i].data, v[i].n), v[i].crc);
	CHECK(f(0, "", 0) == 0, "%s: empty", variant);
}

static void check_chaining(const char *variant, crc_fn f)
{
	static uint8_t buf[70000];

	for (size_t i = 0; i < sizeof(buf); i++)
		buf[i] = (uint8_t)rnd();
	for (int t = 0; t < 200; t++) {
		size_t n = rnd() % sizeof(buf), k = n ? rnd() % n : 0;

		CHECK(f(f(0, buf, k), buf + k, n - k) == f(0, buf, n), "%s: chaining %zu/%zu",
		      variant, k, n);
	}
}

static void check_differential(void)
{
	static uint8_t buf[100000];

	for (size_t i = 0; i < sizeof(buf); i++)
		buf[i] = (uint8_t)rnd();
	for (int t = 0; t < 3000; t++) {
		size_t off = rnd() % 64, n;
		uint32_t seed = (uint32_t)rnd();

		switch (t % 3) {
		case 0:
			n = rnd() % 64;
			break;
		case 1:
			n = rnd() % 20000;
			break;
		default:
			n = rnd() % (sizeof(buf) - 64);
			break;
		}
		CHECK(spool_crc32c_hw(seed, buf + off, n) == spool_crc32c_sw(seed, buf + off, n),
		      "hw != sw at offset %zu length %zu", off, n);
	}
	/* exactly at the 3-way loop's boundaries */
	for (size_t n = 3 * 4096 - 9; n < 3 * 4096 + 9; n++)
		CHECK(spool_crc32c_hw(0, buf, n) == spool_crc32c_sw(0, buf, n), "boundary %zu", n);
	for (size_t n = 6 * 4096 - 3; n < 6 * 4096 + 3; n++)
		CHECK(spool_crc32c_hw(0, buf, n) == spool_crc32c_sw(0, buf, n), "boundary %zu", n);
}

int main(void)
{
	check_vectors("table", spool_crc32c_sw);
	check_vectors("dispatch", spool_crc32c);
	check_chaining("table", spool_crc32c_sw);
	check_chaining("dispatch", spool_crc32c);
	if (spool_crc32c_hw_ok()) {
		check_vectors("sse4.2", spool_crc32c_hw);
		check_chaining("sse4.2", spool_crc32c_hw);
		check_differential();
	} else {
		printf("no SSE4.2 on this CPU: the hardware variant was not tested\n");
	}
	return t_report();
}
