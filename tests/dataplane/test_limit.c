/* SPDX-License-Identifier: MIT */
/*
 * test_limit.c - the per-client connection table of dataplane/dp_limit.c against a plain
 * array model under random increments and decrements (exercising backward-shift deletion in
 * long probe runs), and the key rules: IPv4 per address, IPv6 per /64, v4-mapped as IPv4.
 */
#include <arpa/inet.h>
#include <netinet/in.h>

#include "dataplane/dp_limit.h"
#include "tests/dataplane/dp_test.h"

#define KEYS 300

static void key4(struct dp_limit_key *k, const char *ip)
{
	struct sockaddr_in s = {.sin_family = AF_INET};

	inet_pton(AF_INET, ip, &s.sin_addr);
	dp_limit_key((struct sockaddr *)&s, k);
}

static void key6(struct dp_limit_key *k, const char *ip)
{
	struct sockaddr_in6 s = {.sin6_family = AF_INET6};

	inet_pton(AF_INET6, ip, &s.sin6_addr);
	dp_limit_key((struct sockaddr *)&s, k);
}

static void test_keys(void)
{
	struct dp_limit t;
	struct dp_limit_key a, b, c, d, e;

	REQUIRE(dp_limit_init(&t, 16) == 0, "init");
	key4(&a, "192.0.2.1");
	key4(&b, "192.0.2.2");
	key6(&c, "2001:db8:1:2::1");
	key6(&d, "2001:db8:1:2:ffff::9"); /* same /64 */
	key6(&e, "::ffff:192.0.2.1");     /* the IPv4 address a */
	CHECK(dp_limit_inc(&t, &a) == 1 && dp_limit_inc(&t, &b) == 1, "v4 per address");
	CHECK(dp_limit_inc(&t, &c) == 1 && dp_limit_inc(&t, &d) == 2, "v6 per /64");
	CHECK(dp_limit_inc(&t, &e) == 2, "v4-mapped counts as IPv4");
	dp_limit_dec(&t, &a);
	dp_limit_dec(&t, &e);
	CHECK(dp_limit_count(&t, &a) == 0 && t.used == 2, "back to zero: used %u", t.used);
	dp_limit_dec(&t, &a); /* below zero: ignored */
	CHECK(dp_limit_count(&t, &a) == 0, "no negative counts");
	dp_limit_free(&t);
}

static void test_model(void)
{
	struct dp_limit t;
	struct dp_limit_key k[KEYS];
	uint32_t model[KEYS] = {0}, total = 0;
	uint64_t r = 0x9e3779b97f4a7c15ull;

	REQUIRE(dp_limit_init(&t, 256) == 0, "init");
	for (int i = 0; i < KEYS; i++) {
		char ip[32];

		snprintf(ip, sizeof(ip), "10.%d.%d.%d", i % 3, i / 7, i % 251);
		key4(&k[i], ip);
	}
	for (int step = 0; step < 200000; step++) {
		int i;

		r ^= r << 13, r ^= r >> 7, r ^= r << 17;
		i = (int)(r % KEYS);
		if ((r >> 32) % 2 && total < 256) {
			CHECK(dp_limit_inc(&t, &k[i]) == ++model[i], "inc key %d", i);
			total++;
		} else if (model[i]) {
			dp_limit_dec(&t, &k[i]);
			model[i]--;
			total--;
		}
		if (step % 997 == 0)
			for (int j = 0; j < KEYS; j++)
				CHECK(dp_limit_count(&t, &k[j]) == model[j], "key %d: %u want %u",
				      j, dp_limit_count(&t, &k[j]), model[j]);
		if (dp_test_failures > 10)
			break;
	}
	dp_limit_free(&t);
}

int main(void)
{
	test_keys();
	test_model();
	return dp_test_finish("test_limit");
}
