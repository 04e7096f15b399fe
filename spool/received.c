/* SPDX-License-Identifier: MIT */
/*
 * received.c - the RFC 5321 trace field the spool prepends to every message, the dates it
 * needs, and queue ids.
 *
 *	Received: from HELO (CLIENT-NAME [IP])
 *		by HOSTNAME with ESMTP id QUEUEID
 *		for <rcpt>; Tue, 3 Nov 2026 12:00:00 +0000
 *
 * "for" appears only with exactly one recipient (RFC 5321 4.4: one forward-path). The protocol
 * is SMTP, ESMTP or ESMTPS (RFC 3848). Each clause goes on its own folded line; values are
 * cut to a length that keeps every line under 998 octets, and octets that could break the
 * field's syntax (controls, and parentheses and backslash in the comment, angle brackets in the
 * path) become '?'. Nothing here allocates. Limits: HELO, client name and hostname are cut to
 * 255 octets, the recipient to 512.
 *
 * Queue ids: base-32 (digits and capitals without I, L, O, U) of the writer epoch
 * (microseconds, 11 characters), the core (2) and a per-writer counter (7): 20 characters,
 * unique across cores and restarts because each writer's epoch is later than any epoch found
 * in its core's segments, and ordered by time within a core.
 */
#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "spool/format.h"

#define NAME_MAX_OUT 255
#define RCPT_MAX_OUT 512

static const char b32[] = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";

static char *put_b32(char *p, uint64_t v, int digits)
{
	for (int i = digits - 1; i >= 0; i--) {
		p[i] = b32[v & 31];
		v >>= 5;
	}
	return p + digits;
}

void spool_queue_id(char out[SPOOL_QUEUE_ID_MAX], uint64_t epoch_us, unsigned core,
                    uint64_t counter)
{
	char *p = out;

	p = put_b32(p, epoch_us, 11);
	p = put_b32(p, core, 2);
	p = put_b32(p, counter, 7);
	*p = 0;
}

unsigned spool_addr_port(const struct sockaddr_storage *ss)
{
	if (ss->ss_family == AF_INET)
		return ntohs(((const struct sockaddr_in *)ss)->sin_port);
	if (ss->ss_family == AF_INET6)
		return ntohs(((const struct sockaddr_in6 *)ss)->sin6_port);
	return 0;
}

size_t spool_addr_str(char *out, size_t cap, const struct sockaddr_storage *ss, int literal)
{
	char a[INET6_ADDRSTRLEN];
	const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)ss;
	int n;

	if (ss->ss_family == AF_INET) {
		inet_ntop(AF_INET, &((const struct sockaddr_in *)ss)->sin_addr, a, sizeof(a));
		n = snprintf(out, cap, "%s", a);
	} else if (ss->ss_family == AF_INET6 && IN6_IS_ADDR_V4MAPPED(&in6->sin6_addr)) {
		inet_ntop(AF_INET, in6->sin6_addr.s6_addr + 12, a, sizeof(a));
		n = snprintf(out, cap, "%s", a);
	} else if (ss->ss_family == AF_INET6) {
		inet_ntop(AF_INET6, &in6->sin6_addr, a, sizeof(a));
		n = snprintf(out, cap, "%s%s", literal ? "IPv6:" : "", a);
	} else {
		n = snprintf(out, cap, "unknown");
	}
	return n < 0 ? 0 : ((size_t)n < cap ? (size_t)n : cap - 1);
}

static const char wday[7][4] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
static const char mon[12][4] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};

size_t spool_rfc5322_date(char *out, size_t cap, uint64_t time_us)
{
	time_t t = (time_t)(time_us / 1000000);
	struct tm tm;
	int n;

	gmtime_r(&t, &tm);
	n = snprintf(out, cap, "%s, %d %s %04d %02d:%02d:%02d +0000", wday[tm.tm_wday % 7],
	             tm.tm_mday, mon[tm.tm_mon % 12], tm.tm_year + 1900, tm.tm_hour, tm.tm_min,
	             tm.tm_sec);
	return n < 0 ? 0 : ((size_t)n < cap ? (size_t)n : cap - 1);
}

size_t spool_rfc3339(char *out, size_t cap, uint64_t time_us)
{
	time_t t = (time_t)(time_us / 1000000);
	struct tm tm;
	int n;

	gmtime_r(&t, &tm);
	n = snprintf(out, cap, "%04d-%02d-%02dT%02d:%02d:%02d.%06uZ", tm.tm_year + 1900,
	             tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
	             (unsigned)(time_us % 1000000));
	return n < 0 ? 0 : ((size_t)n < cap ? (size_t)n : cap - 1);
}

/* A bounded writer over out[0 .. cap). */
struct outbuf {
	char *p;
	size_t n, cap;
};

static void put(struct outbuf *o, const char *s, size_t n)
{
	size_t room = o->cap - o->n;

	if (n > room)
		n = room;
	memcpy(o->p + o->n, s, n);
	o->n += n;
}

static void puts_(struct outbuf *o, const char *s)
{
	put(o, s, strlen(s));
}

/* Copies at most max octets of s, replacing those that the context forbids with '?'. */
static void put_clean(struct outbuf *o, struct spool_str s, size_t max, const char *forbid,
                      int allow_8bit)
{
	size_t n = s.n < max ? s.n : max;

	for (size_t i = 0; i < n && o->n < o->cap; i++) {
		unsigned char c = (unsigned char)s.p[i];
		int bad = c < 0x20 || c == 0x7f || (c >= 0x80 && !allow_8bit) ||
		          (c != 0 && strchr(forbid, c) != NULL);

		o->p[o->n++] = bad ? '?' : (char)c;
	}
}

size_t spool_received(char *out, size_t cap, const struct spool_envelope *env, const char *hostname,
                      const char *queue_id)
{
	struct outbuf o = {out, 0, cap - 1};
	struct spool_str host = {hostname, strlen(hostname)};
	char addr[INET6_ADDRSTRLEN + 8], date[64];
	const char *proto = !env->ehlo ? "SMTP" : env->tls ? "ESMTPS" : "ESMTP";

	puts_(&o, "Received: from ");
	if (env->helo.n > 0)
		put_clean(&o, env->helo, NAME_MAX_OUT, " ()\\;", 0);
	else
		puts_(&o, "unknown");
	puts_(&o, " (");
	if (env->client_name.n > 0)
		put_clean(&o, env->client_name, NAME_MAX_OUT, " ()\\[];", 0);
	else
		puts_(&o, "unknown");
	puts_(&o, " [");
	spool_addr_str(addr, sizeof(addr), &env->client, 1);
	puts_(&o, addr);
	puts_(&o, "])\r\n\tby ");
	put_clean(&o, host, NAME_MAX_OUT, " ()\\;", 0);
	puts_(&o, " with ");
	puts_(&o, proto);
	puts_(&o, " id ");
	puts_(&o, queue_id);
	if (env->nrcpt == 1) {
		puts_(&o, "\r\n\tfor <");
		put_clean(&o, env->rcpt[0], RCPT_MAX_OUT, "<>", 1);
		puts_(&o, ">; ");
	} else {
		puts_(&o, ";\r\n\t");
	}
	spool_rfc5322_date(date, sizeof(date), env->recv_time_us);
	puts_(&o, date);
	puts_(&o, "\r\n");
	out[o.n] = 0;
	return o.n;
}
