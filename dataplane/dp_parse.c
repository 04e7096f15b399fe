/* SPDX-License-Identifier: MIT */
/*
 * dp_parse.c - value parsers shared by the configuration files and the command line:
 * socket addresses ("127.0.0.1:2525", "[::1]:2525", "*:25", "[::]:25"), unsigned integers,
 * sizes with binary suffixes (k, M, G) and durations (ms, s, m, h; a bare number is seconds).
 *
 * Public functions (dp_config.h): dp_addr_parse, dp_addr_format, dp_parse_u64, dp_parse_size,
 * dp_parse_duration_ms.
 *
 * Errors: 0, or -EINVAL for text that is not a value of the kind, -ERANGE for a value that
 * does not fit. Outputs are written only on success. No allocation.
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "dataplane/dp_config.h"

int dp_parse_u64(const char *s, uint64_t *out)
{
	uint64_t v = 0;

	if (*s == '\0')
		return -EINVAL;
	for (; *s; s++) {
		unsigned d;

		if (!isdigit((unsigned char)*s))
			return -EINVAL;
		d = (unsigned)(*s - '0');
		if (v > (UINT64_MAX - d) / 10)
			return -ERANGE;
		v = v * 10 + d;
	}
	*out = v;
	return 0;
}

/* Split "123abc" into the number and its suffix; the suffix is matched by the caller. */
static int parse_num_suffix(const char *s, uint64_t *num, const char **suffix)
{
	char digits[24];
	size_t n = 0;

	while (isdigit((unsigned char)s[n]))
		n++;
	if (n == 0 || n >= sizeof(digits))
		return n == 0 ? -EINVAL : -ERANGE;
	memcpy(digits, s, n);
	digits[n] = '\0';
	*suffix = s + n;
	return dp_parse_u64(digits, num);
}

static int scale(uint64_t v, uint64_t mul, uint64_t *out)
{
	if (v > UINT64_MAX / mul)
		return -ERANGE;
	*out = v * mul;
	return 0;
}

int dp_parse_size(const char *s, uint64_t *out)
{
	const char *suf;
	uint64_t v, mul;
	int rc = parse_num_suffix(s, &v, &suf);

	if (rc)
		return rc;
	if (*suf == '\0')
		mul = 1;
	else if (strcasecmp(suf, "k") == 0 || strcasecmp(suf, "KiB") == 0)
		mul = 1024;
	else if (strcasecmp(suf, "M") == 0 || strcasecmp(suf, "MiB") == 0)
		mul = 1024 * 1024;
	else if (strcasecmp(suf, "G") == 0 || strcasecmp(suf, "GiB") == 0)
		mul = 1024ull * 1024 * 1024;
	else
		return -EINVAL;
	return scale(v, mul, out);
}

int dp_parse_duration_ms(const char *s, uint64_t *out)
{
	const char *suf;
	uint64_t v, mul;
	int rc = parse_num_suffix(s, &v, &suf);

	if (rc)
		return rc;
	if (*suf == '\0' || strcmp(suf, "s") == 0)
		mul = 1000;
	else if (strcmp(suf, "ms") == 0)
		mul = 1;
	else if (strcmp(suf, "m") == 0 || strcmp(suf, "min") == 0)
		mul = 60 * 1000;
	else if (strcmp(suf, "h") == 0)
		mul = 3600 * 1000;
	else
		return -EINVAL;
	return scale(v, mul, out);
}

static int parse_port(const char *s, uint16_t *port)
{
	uint64_t v;

	if (dp_parse_u64(s, &v) != 0 || v > 65535)
		return -EINVAL;
	*port = (uint16_t)v;
	return 0;
}

int dp_addr_parse(struct dp_addr *a, const char *text)
{
	char host[INET6_ADDRSTRLEN + 1];
	const char *colon, *hs = text;
	size_t hl;
	uint16_t port;

	if (text[0] == '[') {
		const char *close = strchr(text, ']');

		if (!close || close[1] != ':')
			return -EINVAL;
		hs = text + 1;
		hl = (size_t)(close - hs);
		colon = close + 1;
	} else {
		colon = strrchr(text, ':');
		if (!colon || strchr(text, ':') != colon)
			return -EINVAL; /* IPv6 needs brackets */
		hl = (size_t)(colon - text);
	}
	if (hl == 0 || hl >= sizeof(host) || parse_port(colon + 1, &port) != 0)
		return -EINVAL;
	memcpy(host, hs, hl);
	host[hl] = '\0';

	memset(a, 0, sizeof(*a));
	if (text[0] == '[') {
		struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&a->ss;

		s6->sin6_family = AF_INET6;
		s6->sin6_port = htons(port);
		if (inet_pton(AF_INET6, host, &s6->sin6_addr) != 1)
			return -EINVAL;
		a->len = sizeof(*s6);
	} else {
		struct sockaddr_in *s4 = (struct sockaddr_in *)&a->ss;

		s4->sin_family = AF_INET;
		s4->sin_port = htons(port);
		if (strcmp(host, "*") == 0)
			s4->sin_addr.s_addr = htonl(INADDR_ANY);
		else if (inet_pton(AF_INET, host, &s4->sin_addr) != 1)
			return -EINVAL;
		a->len = sizeof(*s4);
	}
	dp_addr_format((const struct sockaddr *)&a->ss, a->text, sizeof(a->text));
	return 0;
}

void dp_addr_format(const struct sockaddr *sa, char *out, size_t outlen)
{
	char host[INET6_ADDRSTRLEN];

	if (sa->sa_family == AF_INET) {
		const struct sockaddr_in *s4 = (const struct sockaddr_in *)sa;

		inet_ntop(AF_INET, &s4->sin_addr, host, sizeof(host));
		snprintf(out, outlen, "%s:%u", host, ntohs(s4->sin_port));
	} else if (sa->sa_family == AF_INET6) {
		const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)sa;

		inet_ntop(AF_INET6, &s6->sin6_addr, host, sizeof(host));
		snprintf(out, outlen, "[%s]:%u", host, ntohs(s6->sin6_port));
	} else {
		snprintf(out, outlen, "unknown");
	}
}
