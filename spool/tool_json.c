/* SPDX-License-Identifier: MIT */
/*
 * tool_json.c - JSON output for sluice-spool: one message's envelope as an object.
 *
 * Strings: envelope fields are octets, not necessarily UTF-8. Well-formed UTF-8 sequences
 * (no overlong forms, no surrogates, nothing above U+10FFFF) are copied as they are; '"' and
 * '\' are escaped; control octets and DEL become \b \f \n \r \t or \u00XX; every other octet
 * that is not part of well-formed UTF-8 becomes \u00XX with XX its value (so an invalid octet
 * 0xE9 reads back as U+00E9: decoders that need the exact octets map U+0080..U+00FF back to
 * one octet where the source field is known to be invalid UTF-8). The output is always valid
 * UTF-8 and valid JSON.
 *
 * Object keys: id, core, time (RFC 3339 UTC), time_us, client ("IP:port", "[IPv6]:port"),
 * client_name, helo, ehlo, tls, from, mail_params, recipients (array), rcpt_params (array,
 * same order), size (octets stored, Received: included), received_len, verdict, tags, quarantine.
 */
#include <string.h>

#include "spool/format.h"
#include "spool/tool.h"

/* Length of the well-formed UTF-8 sequence at p (n octets left), or 0. */
static size_t utf8_len(const unsigned char *p, size_t n)
{
	unsigned c = p[0];
	size_t len;
	uint32_t cp;

	if (c < 0xc2 || c > 0xf4)
		return 0;
	len = c < 0xe0 ? 2 : c < 0xf0 ? 3 : 4;
	if (n < len)
		return 0;
	cp = c & (0xff >> (len + 1));
	for (size_t i = 1; i < len; i++) {
		if ((p[i] & 0xc0) != 0x80)
			return 0;
		cp = cp << 6 | (p[i] & 0x3f);
	}
	if ((len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000) || cp > 0x10ffff ||
	    (cp >= 0xd800 && cp <= 0xdfff))
		return 0;
	return len;
}

void tool_json_str(FILE *f, const char *s, size_t n)
{
	const unsigned char *p = (const unsigned char *)s;

	fputc('"', f);
	for (size_t i = 0; i < n;) {
		unsigned c = p[i];
		size_t k;

		if (c == '"' || c == '\\') {
			fputc('\\', f);
			fputc((int)c, f);
		} else if (c == '\n') {
			fputs("\\n", f);
		} else if (c == '\r') {
			fputs("\\r", f);
		} else if (c == '\t') {
			fputs("\\t", f);
		} else if (c == '\b') {
			fputs("\\b", f);
		} else if (c == '\f') {
			fputs("\\f", f);
		} else if (c < 0x20 || c == 0x7f) {
			fprintf(f, "\\u%04x", c);
		} else if (c < 0x80) {
			fputc((int)c, f);
		} else if ((k = utf8_len(p + i, n - i)) > 0) {
			fwrite(p + i, 1, k, f);
			i += k;
			continue;
		} else {
			fprintf(f, "\\u%04x", c);
		}
		i++;
	}
	fputc('"', f);
}

static void key_str(FILE *f, const char *key, struct spool_str s)
{
	fprintf(f, ",\"%s\":", key);
	tool_json_str(f, s.p ? s.p : "", s.p ? s.n : 0);
}

void tool_client(char *out, size_t cap, const struct spool_entry *e)
{
	char a[64];

	spool_addr_str(a, sizeof(a), &e->env.client, 0);
	if (e->env.client.ss_family == AF_INET6 && strchr(a, ':'))
		snprintf(out, cap, "[%s]:%u", a, spool_addr_port(&e->env.client));
	else if (e->env.client.ss_family == AF_INET || e->env.client.ss_family == AF_INET6)
		snprintf(out, cap, "%s:%u", a, spool_addr_port(&e->env.client));
	else
		snprintf(out, cap, "unknown");
}

void tool_json_entry(FILE *f, const struct spool_entry *e)
{
	const struct spool_envelope *env = &e->env;
	char t[64], client[96];

	spool_rfc3339(t, sizeof(t), env->recv_time_us);
	tool_client(client, sizeof(client), e);
	fputs("{\"id\":", f);
	tool_json_str(f, e->queue_id, strlen(e->queue_id));
	fprintf(f, ",\"core\":%u,\"time\":\"%s\",\"time_us\":%llu,\"client\":\"%s\"", e->core, t,
	        (unsigned long long)env->recv_time_us, client);
	key_str(f, "client_name", env->client_name);
	key_str(f, "helo", env->helo);
	fprintf(f, ",\"ehlo\":%s,\"tls\":%s", env->ehlo ? "true" : "false",
	        env->tls ? "true" : "false");
	key_str(f, "from", env->mail_from);
	key_str(f, "mail_params", env->mail_params);
	fputs(",\"recipients\":[", f);
	for (uint32_t i = 0; i < env->nrcpt; i++) {
		if (i)
			fputc(',', f);
		tool_json_str(f, env->rcpt[i].p, env->rcpt[i].n);
	}
	fputs("],\"rcpt_params\":[", f);
	for (uint32_t i = 0; i < env->nrcpt; i++) {
		if (i)
			fputc(',', f);
		tool_json_str(f, env->rcpt_params[i].p ? env->rcpt_params[i].p : "",
		              env->rcpt_params[i].p ? env->rcpt_params[i].n : 0);
	}
	fprintf(f, "],\"size\":%llu,\"received_len\":%u", (unsigned long long)e->size,
	        e->received_len);
	key_str(f, "verdict", env->verdict);
	key_str(f, "tags", env->tags);
	fprintf(f, ",\"quarantine\":%s", e->quarantine ? "true" : "false");
	fputc('}', f);
}
