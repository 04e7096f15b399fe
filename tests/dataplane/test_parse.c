/* SPDX-License-Identifier: MIT */
/*
 * test_parse.c - value parsers of dataplane/dp_parse.c: sizes, durations, integers and
 * socket addresses (IPv4, IPv6 in brackets, wildcard), table-driven, including the values
 * that must be refused and the ones at the edge of overflow.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "dataplane/dp_config.h"
#include "tests/dataplane/dp_test.h"

struct num_case {
	const char *in;
	int rc;
	uint64_t want;
};

static void test_sizes(void)
{
	static const struct num_case c[] = {
	    {"0", 0, 0},
	    {"4096", 0, 4096},
	    {"64k", 0, 65536},
	    {"64K", 0, 65536},
	    {"10M", 0, 10485760},
	    {"1G", 0, 1073741824},
	    {"2KiB", 0, 2048},
	    {"18446744073709551615", 0, UINT64_MAX},
	    {"18446744073709551616", -ERANGE, 0},
	    {"17179869184G", -ERANGE, 0},
	    {"", -EINVAL, 0},
	    {"k", -EINVAL, 0},
	    {"10 M", -EINVAL, 0},
	    {"-1", -EINVAL, 0},
	    {"10T", -EINVAL, 0},
	};

	for (size_t i = 0; i < sizeof(c) / sizeof(c[0]); i++) {
		uint64_t v = 12345;
		int rc = dp_parse_size(c[i].in, &v);

		CHECK(rc == c[i].rc, "size '%s': rc %d want %d", c[i].in, rc, c[i].rc);
		if (rc == 0)
			CHECK(v == c[i].want, "size '%s': %llu want %llu", c[i].in,
			      (unsigned long long)v, (unsigned long long)c[i].want);
		else
			CHECK(v == 12345, "size '%s': output written on error", c[i].in);
	}
}

static void test_durations(void)
{
	static const struct num_case c[] = {
	    {"30", 0, 30000},
	    {"30s", 0, 30000},
	    {"250ms", 0, 250},
	    {"5m", 0, 300000},
	    {"5min", 0, 300000},
	    {"2h", 0, 7200000},
	    {"0", 0, 0},
	    {"1d", -EINVAL, 0},
	    {"ms", -EINVAL, 0},
	    {"1.5s", -EINVAL, 0},
	    {"99999999999999999999", -ERANGE, 0},
	};

	for (size_t i = 0; i < sizeof(c) / sizeof(c[0]); i++) {
		uint64_t v = 0;
		int rc = dp_parse_duration_ms(c[i].in, &v);

		CHECK(rc == c[i].rc, "duration '%s': rc %d want %d", c[i].in, rc, c[i].rc);
		if (rc == 0)
			CHECK(v == c[i].want, "duration '%s': %llu want %llu", c[i].in,
			      (unsigned long long)v, (unsigned long long)c[i].want);
	}
}

struct addr_case {
	const char *in;
	int ok;
	int family;
	const char *text; /* canonical form */
};

static void test_addrs(void)
{
	static const struct addr_case c[] = {
	    {"127.0.0.1:2525", 1, AF_INET, "127.0.0.1:2525"},
	    {"0.0.0.0:25", 1, AF_INET, "0.0.0.0:25"},
	    {"*:25", 1, AF_INET, "0.0.0.0:25"},
	    {"[::1]:2525", 1, AF_INET6, "[::1]:2525"},
	    {"[::]:0", 1, AF_INET6, "[::]:0"},
	    {"[2001:db8::1]:587", 1, AF_INET6, "[2001:db8::1]:587"},
	    {"127.0.0.1:65535", 1, AF_INET, "127.0.0.1:65535"},
	    {"127.0.0.1:65536", 0, 0, NULL},
	    {"127.0.0.1", 0, 0, NULL},
	    {"127.0.0.1:", 0, 0, NULL},
	    {":25", 0, 0, NULL},
	    {"::1:25", 0, 0, NULL},
	    {"[::1]25", 0, 0, NULL},
	    {"[::1:25", 0, 0, NULL},
	    {"[127.0.0.1]:25", 0, 0, NULL},
	    {"localhost:25", 0, 0, NULL},
	    {"256.0.0.1:25", 0, 0, NULL},
	    {"1.2.3.4:2x", 0, 0, NULL},
	};

	for (size_t i = 0; i < sizeof(c) / sizeof(c[0]); i++) {
		struct dp_addr a;
		int rc = dp_addr_parse(&a, c[i].in);

		CHECK((rc == 0) == c[i].ok, "addr '%s': rc %d", c[i].in, rc);
		if (rc != 0 || !c[i].ok)
			continue;
		CHECK(a.ss.ss_family == c[i].family, "addr '%s': family %d", c[i].in,
		      a.ss.ss_family);
		CHECK(strcmp(a.text, c[i].text) == 0, "addr '%s': text '%s' want '%s'", c[i].in,
		      a.text, c[i].text);
		CHECK(a.len == (c[i].family == AF_INET ? sizeof(struct sockaddr_in)
		                                       : sizeof(struct sockaddr_in6)),
		      "addr '%s': length %u", c[i].in, (unsigned)a.len);
	}
}

int main(void)
{
	test_sizes();
	test_durations();
	test_addrs();
	return dp_test_finish("test_parse");
}
