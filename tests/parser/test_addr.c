/* SPDX-License-Identifier: MIT */
/*
 * test_addr.c - RFC 5321 Path syntax (parser/addr.c), table-driven.
 *
 * Valid and invalid dot-strings, quoted strings, domains, IPv4 and IPv6 address literals,
 * source routes, the null path and <Postmaster>, UTF-8 (well-formed and not), and the length
 * limits of RFC 5321 4.5.3.1: local part 64, domain 255, path 256 octets.
 */
#include <stdio.h>
#include <string.h>

#include "parser/addr.h"

#define NP (SMTP_PATH_NULL_OK | SMTP_PATH_POSTMASTER_OK)

struct pcase {
	const char *in;
	unsigned flags;
	int rc;
	const char *mbox; /* expected mailbox when rc == 0 */
	int utf8, postmaster;
};

static const struct pcase pcases[] = {
    {"<a@b.example>", 0, 0, "a@b.example"},
    {"<a@b.example> SIZE=1", 0, 0, "a@b.example"},
    {"<>", SMTP_PATH_NULL_OK, 0, ""},
    {"<>", SMTP_PATH_POSTMASTER_OK, SMTP_PATH_NULL, NULL},
    {"<Postmaster>", SMTP_PATH_POSTMASTER_OK, 0, "Postmaster", 0, 1},
    {"<pOsTmAsTeR>", SMTP_PATH_POSTMASTER_OK, 0, "pOsTmAsTeR", 0, 1},
    {"<Postmaster>", SMTP_PATH_NULL_OK, SMTP_PATH_SYNTAX, NULL},
    {"<postmaster@d.example>", NP, 0, "postmaster@d.example", 0, 0},
    {"<@r.example:Postmaster>", NP, SMTP_PATH_SYNTAX, NULL},
    {"<@a.example,@b.example:u@c.example>", 0, 0, "u@c.example"},
    {"<@a.example:u@c.example>", 0, 0, "u@c.example"},
    {"<\"a b\"@c.example>", 0, 0, "\"a b\"@c.example"},
    {"<\"a\\\"b\\\\\"@c>", 0, 0, "\"a\\\"b\\\\\"@c"},
    {"<\"\"@c>", 0, 0, "\"\"@c"},
    {"<a.b.c@d>", 0, 0, "a.b.c@d"},
    {"<a+tag@d-e.f>", 0, 0, "a+tag@d-e.f"},
    {"<!#$%&'*+-/=?^_`{|}~@d>", 0, 0, "!#$%&'*+-/=?^_`{|}~@d"},
    {"<a@1.2.3.4>", 0, 0, "a@1.2.3.4"},
    {"<a@[1.2.3.4]>", 0, 0, "a@[1.2.3.4]"},
    {"<a@[255.255.255.255]>", 0, 0, "a@[255.255.255.255]"},
    {"<a@[001.002.003.004]>", 0, 0, "a@[001.002.003.004]"},
    {"<a@[IPv6:::1]>", 0, 0, "a@[IPv6:::1]"},
    {"<a@[ipv6:::]>", 0, 0, "a@[ipv6:::]"},
    {"<a@[IPv6:2001:db8::]>", 0, 0, "a@[IPv6:2001:db8::]"},
    {"<a@[IPv6:2001:DB8:0:0:8:800:200C:417A]>", 0, 0, "a@[IPv6:2001:DB8:0:0:8:800:200C:417A]"},
    {"<a@[IPv6:1:2:3::6:7]>", 0, 0, "a@[IPv6:1:2:3::6:7]"},
    {"<a@[IPv6:1:2:3:4:5:6:1.2.3.4]>", 0, 0, "a@[IPv6:1:2:3:4:5:6:1.2.3.4]"},
    {"<a@[IPv6:::ffff:10.0.0.1]>", 0, 0, "a@[IPv6:::ffff:10.0.0.1]"},
    {"<a@[IPv6:1:2:3:4::10.0.0.1]>", 0, 0, "a@[IPv6:1:2:3:4::10.0.0.1]"},
    {"<j\xc3\xb6rg@\xc3\xa9xample.org>", 0, 0, "j\xc3\xb6rg@\xc3\xa9xample.org", 1},
    {"<\"\xe2\x82\xac\"@d>", 0, 0, "\"\xe2\x82\xac\"@d", 1},
    {"<\xf0\x9f\x98\x80@d>", 0, 0, "\xf0\x9f\x98\x80@d", 1},

    {"a@b.example", NP, SMTP_PATH_SYNTAX},
    {"", NP, SMTP_PATH_SYNTAX},
    {"<", NP, SMTP_PATH_SYNTAX},
    {"<a@b", NP, SMTP_PATH_SYNTAX},
    {"<a@b.example", NP, SMTP_PATH_SYNTAX},
    {"<a>", NP, SMTP_PATH_SYNTAX},
    {"<@b>", NP, SMTP_PATH_SYNTAX},
    {"<a@>", NP, SMTP_PATH_SYNTAX},
    {"<@>", NP, SMTP_PATH_SYNTAX},
    {"<.a@b>", NP, SMTP_PATH_SYNTAX},
    {"<a.@b>", NP, SMTP_PATH_SYNTAX},
    {"<a..b@b>", NP, SMTP_PATH_SYNTAX},
    {"<a b@c>", NP, SMTP_PATH_SYNTAX},
    {"<a(comment)@c>", NP, SMTP_PATH_SYNTAX},
    {"<a@b@c>", NP, SMTP_PATH_SYNTAX},
    {"<a@-b.example>", NP, SMTP_PATH_SYNTAX},
    {"<a@b-.example>", NP, SMTP_PATH_SYNTAX},
    {"<a@b..example>", NP, SMTP_PATH_SYNTAX},
    {"<a@b.example.>", NP, SMTP_PATH_SYNTAX},
    {"<a@.b.example>", NP, SMTP_PATH_SYNTAX},
    {"<a@b_c.example>", NP, SMTP_PATH_SYNTAX},
    {"<a@[1.2.3]>", NP, SMTP_PATH_SYNTAX},
    {"<a@[1.2.3.256]>", NP, SMTP_PATH_SYNTAX},
    {"<a@[1.2.3.4.5]>", NP, SMTP_PATH_SYNTAX},
    {"<a@[1.2.3.0004]>", NP, SMTP_PATH_SYNTAX},
    {"<a@[1..3.4]>", NP, SMTP_PATH_SYNTAX},
    {"<a@[]>", NP, SMTP_PATH_SYNTAX},
    {"<a@[1.2.3.4>", NP, SMTP_PATH_SYNTAX},
    {"<a@[1.2.3.4]x>", NP, SMTP_PATH_SYNTAX},
    {"<a@[IPv6:1:2:3:4:5:6:7]>", NP, SMTP_PATH_SYNTAX},
    {"<a@[IPv6:1:2:3:4:5:6:7:8:9]>", NP, SMTP_PATH_SYNTAX},
    {"<a@[IPv6:1::2::3]>", NP, SMTP_PATH_SYNTAX},
    {"<a@[IPv6:1:2:3:4:5:6:7::]>", NP, SMTP_PATH_SYNTAX},
    {"<a@[IPv6:12345::]>", NP, SMTP_PATH_SYNTAX},
    {"<a@[IPv6::1]>", NP, SMTP_PATH_SYNTAX},
    {"<a@[IPv6:1:]>", NP, SMTP_PATH_SYNTAX},
    {"<a@[IPv6:g::1]>", NP, SMTP_PATH_SYNTAX},
    {"<a@[IPv6:1:2:3:4:5:6:7:1.2.3.4]>", NP, SMTP_PATH_SYNTAX},
    {"<a@[IPv6:1:2:3:4:5::1.2.3.4]>", NP, SMTP_PATH_SYNTAX},
    {"<a@[IPv6:::1.2.3]>", NP, SMTP_PATH_SYNTAX},
    {"<a@[IPv6:1.2.3.4]>", NP, SMTP_PATH_SYNTAX},
    {"<a@[tag:foo]>", NP, SMTP_PATH_SYNTAX},
    {"<a@[IPv4:1.2.3.4]>", NP, SMTP_PATH_SYNTAX},
    {"<\"open@b>", NP, SMTP_PATH_SYNTAX},
    {"<\"a\\\x01\"@b>", NP, SMTP_PATH_SYNTAX},
    {"<\"a\x7f\"@b>", NP, SMTP_PATH_SYNTAX},
    {"<\"a\"b@c>", NP, SMTP_PATH_SYNTAX},
    {"<@a.example,u@c.example>", NP, SMTP_PATH_SYNTAX},
    {"<@a.example,@b.example>", NP, SMTP_PATH_SYNTAX},
    {"<@[1.2.3.4]:u@c>", NP, SMTP_PATH_SYNTAX},
    {"<a\x01@b>", NP, SMTP_PATH_SYNTAX},
    {"<a@b\x01>", NP, SMTP_PATH_SYNTAX},
    {"<\xc3@b>", NP, SMTP_PATH_BAD_UTF8},
    {"<a@b\xc3>", NP, SMTP_PATH_BAD_UTF8},
    {"<\xc0\xaf@b>", NP, SMTP_PATH_BAD_UTF8},
    {"<\xe0\x80\xaf@b>", NP, SMTP_PATH_BAD_UTF8},
    {"<\xed\xa0\x80@b>", NP, SMTP_PATH_BAD_UTF8},
    {"<\xf4\x90\x80\x80@b>", NP, SMTP_PATH_BAD_UTF8},
    {"<\xf5\x80\x80\x80@b>", NP, SMTP_PATH_BAD_UTF8},
    {"<\xff@b>", NP, SMTP_PATH_BAD_UTF8},
    {"<\x80@b>", NP, SMTP_PATH_BAD_UTF8},
};

static unsigned passed, failed;

static void check_path(const char *in, size_t n, unsigned flags, int rc, const char *mbox, int utf8,
                       int pm, const char *label)
{
	struct smtp_path p;
	int got = smtp_path_parse(in, n, flags, &p);
	int ok = got == rc;

	if (ok && rc == 0) {
		ok = p.mbox_len == strlen(mbox) && memcmp(p.mbox, mbox, p.mbox_len) == 0 &&
		     p.utf8 == utf8 && p.postmaster == pm && p.used <= n && in[p.used - 1] == '>';
	}
	if (ok) {
		passed++;
		return;
	}
	failed++;
	fprintf(stderr, "FAIL path %s: rc %d (want %d) mbox \"%.*s\" utf8 %d pm %d\n", label, got,
	        rc, got == 0 ? (int)p.mbox_len : 0, got == 0 ? p.mbox : "", p.utf8, p.postmaster);
}

static void fill(char *p, char c, size_t n)
{
	memset(p, c, n);
}

/* Labels of 63 'd's separated by dots, total length n (n % 64 != 0 so it ends in a label). */
static size_t domain_of(char *out, size_t n)
{
	size_t w = 0;

	while (w < n) {
		size_t l = n - w > 63 ? 63 : n - w;

		fill(out + w, 'd', l);
		w += l;
		if (w < n)
			out[w++] = '.';
	}
	return w;
}

static void test_lengths(void)
{
	char in[700], mbox[700];
	size_t w;

	/* local part 64 ok, 65 too long */
	for (size_t local = 63; local <= 66; local++) {
		in[0] = '<';
		fill(in + 1, 'l', local);
		memcpy(in + 1 + local, "@d.example>", 11);
		w = 1 + local + 11;
		memcpy(mbox, in + 1, w - 2);
		mbox[w - 2] = '\0';
		check_path(in, w, 0, local <= 64 ? 0 : SMTP_PATH_TOO_LONG, mbox, 0, 0,
		           "local length");
	}
	/* quoted local part counts its quotes */
	in[0] = '<';
	in[1] = '"';
	fill(in + 2, 'q', 62);
	memcpy(in + 64, "\"@d>", 4);
	memcpy(mbox, in + 1, 66);
	mbox[66] = '\0';
	check_path(in, 68, 0, SMTP_PATH_OK, mbox, 0, 0, "quoted 64");
	in[64] = 'q';
	memcpy(in + 65, "\"@d>", 4);
	check_path(in, 69, 0, SMTP_PATH_TOO_LONG, NULL, 0, 0, "quoted 65");
	/* whole path: 256 ok, 257 too long ("<a@" + domain + ">") */
	for (size_t dom = 251; dom <= 254; dom++) {
		size_t dl;

		memcpy(in, "<a@", 3);
		dl = domain_of(in + 3, dom);
		in[3 + dl] = '>';
		w = 4 + dl;
		memcpy(mbox, in + 1, w - 2);
		mbox[w - 2] = '\0';
		check_path(in, w, 0, w <= 256 ? 0 : SMTP_PATH_TOO_LONG, mbox, 0, 0, "path length");
	}
	/* domain over 255 (257: 256 would end in a dot) */
	{
		size_t dl;

		memcpy(in, "<a@", 3);
		dl = domain_of(in + 3, 257);
		in[3 + dl] = '>';
		check_path(in, 4 + dl, 0, SMTP_PATH_TOO_LONG, NULL, 0, 0, "domain 257");
	}
	/* a label of 64 octets is no label */
	memcpy(in, "<a@", 3);
	fill(in + 3, 'e', 64);
	memcpy(in + 67, ".x>", 3);
	check_path(in, 70, 0, SMTP_PATH_SYNTAX, NULL, 0, 0, "label 64");
	/* a source route counts towards the path length */
	memcpy(in, "<@", 2);
	w = 2 + domain_of(in + 2, 250);
	memcpy(in + w, ":a@b>", 5);
	check_path(in, w + 5, 0, SMTP_PATH_TOO_LONG, NULL, 0, 0, "route length");
}

static void test_helpers(void)
{
	static const struct {
		const char *s;
		int valid;
	} lit[] = {
	    {"0.0.0.0", 1}, {"IPv6:::", 1}, {"IPv6:fe80::1:2", 1}, {"1.2.3.-4", 0}, {"IPv6:", 0},
	    {"IPv6", 0},    {"", 0},
	};

	for (size_t i = 0; i < sizeof(lit) / sizeof(lit[0]); i++) {
		if (smtp_addr_literal_valid(lit[i].s, strlen(lit[i].s)) == lit[i].valid) {
			passed++;
		} else {
			failed++;
			fprintf(stderr, "FAIL literal %s\n", lit[i].s);
		}
	}
	if (smtp_utf8_valid("", 0) &&
	    smtp_utf8_valid("abc\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80", 13) &&
	    !smtp_utf8_valid("\xe2\x82", 2) && !smtp_utf8_valid("\xf0\x9f\x98", 3) &&
	    smtp_utf8_valid("\xef\xbf\xbf", 3) && smtp_utf8_valid("\xf4\x8f\xbf\xbf", 4))
		passed++;
	else
		failed++, fprintf(stderr, "FAIL utf8 validator\n");
	if (smtp_domain_span("a.b c", 5) == 3 && smtp_domain_span("a-", 2) == 0 &&
	    smtp_domain_span("x", 1) == 1 && smtp_domain_span("", 0) == 0)
		passed++;
	else
		failed++, fprintf(stderr, "FAIL domain span\n");
}

int main(void)
{
	for (size_t i = 0; i < sizeof(pcases) / sizeof(pcases[0]); i++) {
		const struct pcase *c = &pcases[i];

		check_path(c->in, strlen(c->in), c->flags, c->rc, c->mbox, c->utf8, c->postmaster,
		           c->in);
	}
	test_lengths();
	test_helpers();
	printf("%u passed, %u failed\n", passed, failed);
	return failed != 0;
}
