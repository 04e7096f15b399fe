/* SPDX-License-Identifier: MIT */
/*
 * test_params.c - ESMTP parameters of MAIL and RCPT (parser/params.c), table-driven.
 *
 * SIZE (digits only, overflow-safe, at most 20 digits), BODY=7BIT|8BITMIME|BINARYMIME,
 * SMTPUTF8, duplicates, malformed keywords and values (501), unknown parameters and
 * parameters of extensions that are not advertised (555), RCPT parameters (none offered).
 */
#include <stdio.h>
#include <string.h>

#include "parser/params.h"

#define ALL      SMTP_CAP_ALL
#define NO_CHUNK (SMTP_CAP_ALL & ~SMTP_CAP_CHUNKING)
#define NO_8BIT  (SMTP_CAP_ALL & ~SMTP_CAP_8BITMIME)
#define NO_UTF8  (SMTP_CAP_ALL & ~SMTP_CAP_SMTPUTF8)
#define NO_SIZE  (SMTP_CAP_ALL & ~SMTP_CAP_SIZE)
#define NO_MIME  (SMTP_CAP_ALL & ~(SMTP_CAP_8BITMIME | SMTP_CAP_BINARYMIME))

struct mcase {
	const char *in;
	uint32_t caps;
	enum smtp_rid rid;
	uint64_t size;
	unsigned body, utf8;
};

static const struct mcase mcases[] = {
    {"", ALL, SMTP_R_NONE},
    {" SIZE=100", ALL, SMTP_R_NONE, 100},
    {" size=0", ALL, SMTP_R_NONE, 0},
    {" SIZE=18446744073709551615", ALL, SMTP_R_NONE, UINT64_MAX},
    {" SIZE=18446744073709551616", ALL, SMTP_R_NONE, UINT64_MAX},
    {" SIZE=99999999999999999999", ALL, SMTP_R_NONE, UINT64_MAX},
    {" SIZE=00000000000000000001", ALL, SMTP_R_NONE, 1},
    {" SIZE=123456789012345678901", ALL, SMTP_R_PARAM_SYNTAX},
    {" SIZE=", ALL, SMTP_R_PARAM_SYNTAX},
    {" SIZE", ALL, SMTP_R_PARAM_SYNTAX},
    {" SIZE=1x", ALL, SMTP_R_PARAM_SYNTAX},
    {" SIZE=-1", ALL, SMTP_R_PARAM_SYNTAX},
    {" SIZE=+1", ALL, SMTP_R_PARAM_SYNTAX},
    {" SIZE=1 SIZE=2", ALL, SMTP_R_PARAM_SYNTAX},
    {" SIZE=100", NO_SIZE, SMTP_R_PARAM_UNKNOWN},
    {" BODY=7BIT", ALL, SMTP_R_NONE, 0, SMTP_BODY_7BIT},
    {" BODY=8BITMIME", ALL, SMTP_R_NONE, 0, SMTP_BODY_8BITMIME},
    {" body=binarymime", ALL, SMTP_R_NONE, 0, SMTP_BODY_BINARYMIME},
    {" BODY=BINARYMIME", NO_CHUNK, SMTP_R_PARAM_UNKNOWN},
    {" BODY=8BITMIME", NO_8BIT, SMTP_R_PARAM_UNKNOWN},
    {" BODY=7BIT", NO_8BIT, SMTP_R_NONE, 0, SMTP_BODY_7BIT},
    {" BODY=7BIT", NO_MIME, SMTP_R_PARAM_UNKNOWN},
    {" BODY=FOO", ALL, SMTP_R_PARAM_SYNTAX},
    {" BODY=8BITMIMEX", ALL, SMTP_R_PARAM_SYNTAX},
    {" BODY", ALL, SMTP_R_PARAM_SYNTAX},
    {" BODY=7BIT BODY=7BIT", ALL, SMTP_R_PARAM_SYNTAX},
    {" SMTPUTF8", ALL, SMTP_R_NONE, 0, 0, 1},
    {" smtputf8", ALL, SMTP_R_NONE, 0, 0, 1},
    {" SMTPUTF8=yes", ALL, SMTP_R_PARAM_SYNTAX},
    {" SMTPUTF8 SMTPUTF8", ALL, SMTP_R_PARAM_SYNTAX},
    {" SMTPUTF8", NO_UTF8, SMTP_R_PARAM_UNKNOWN},
    {" SIZE=5 BODY=8BITMIME SMTPUTF8", ALL, SMTP_R_NONE, 5, SMTP_BODY_8BITMIME, 1},
    {"   SIZE=5    BODY=7BIT  ", ALL, SMTP_R_NONE, 5, SMTP_BODY_7BIT},
    {" FOO=bar", ALL, SMTP_R_PARAM_UNKNOWN},
    {" FOO", ALL, SMTP_R_PARAM_UNKNOWN},
    {" X-FOO-1=a+b", ALL, SMTP_R_PARAM_UNKNOWN},
    {" AUTH=<>", ALL, SMTP_R_PARAM_UNKNOWN},
    {" RET=HDRS", ALL, SMTP_R_PARAM_UNKNOWN},
    {" FOO=1 SIZE=x", ALL, SMTP_R_PARAM_UNKNOWN},
    {" SIZE=x FOO=1", ALL, SMTP_R_PARAM_SYNTAX},
    {"SIZE=1", ALL, SMTP_R_PARAM_SYNTAX},
    {" =1", ALL, SMTP_R_PARAM_SYNTAX},
    {" -FOO", ALL, SMTP_R_PARAM_SYNTAX},
    {" FOO_BAR", ALL, SMTP_R_PARAM_SYNTAX},
    {" SIZE=a=b", ALL, SMTP_R_PARAM_SYNTAX},
    {" FOO=", ALL, SMTP_R_PARAM_SYNTAX},
    {" FOO=a\x7f", ALL, SMTP_R_PARAM_SYNTAX},
    {" FOO=\xc3\xa9", ALL, SMTP_R_PARAM_SYNTAX},
    {" SIZE=1\t", ALL, SMTP_R_PARAM_SYNTAX},
};

struct rcase {
	const char *in;
	enum smtp_rid rid;
};

static const struct rcase rcases[] = {
    {"", SMTP_R_NONE},
    {"  ", SMTP_R_NONE},
    {" NOTIFY=NEVER", SMTP_R_PARAM_UNKNOWN},
    {" ORCPT=rfc822;a@b", SMTP_R_PARAM_UNKNOWN},
    {" SIZE=1", SMTP_R_PARAM_UNKNOWN},
    {" =x", SMTP_R_PARAM_SYNTAX},
    {"x", SMTP_R_PARAM_SYNTAX},
    {" A=", SMTP_R_PARAM_SYNTAX},
};

int main(void)
{
	unsigned passed = 0, failed = 0;

	for (size_t i = 0; i < sizeof(mcases) / sizeof(mcases[0]); i++) {
		const struct mcase *c = &mcases[i];
		struct smtp_mail_params mp;
		enum smtp_rid rid = smtp_mail_params(c->in, strlen(c->in), c->caps, &mp);

		if (rid == c->rid &&
		    (rid != SMTP_R_NONE ||
		     (mp.size == c->size && mp.body == c->body && mp.utf8 == c->utf8))) {
			passed++;
		} else {
			failed++;
			fprintf(stderr,
			        "FAIL mail \"%s\": rid %d (want %d) size %llu body %u utf8 %u\n",
			        c->in, rid, c->rid, (unsigned long long)mp.size, mp.body, mp.utf8);
		}
	}
	for (size_t i = 0; i < sizeof(rcases) / sizeof(rcases[0]); i++) {
		enum smtp_rid rid =
		    smtp_rcpt_params(rcases[i].in, strlen(rcases[i].in), SMTP_CAP_ALL);

		if (rid == rcases[i].rid) {
			passed++;
		} else {
			failed++;
			fprintf(stderr, "FAIL rcpt \"%s\": rid %d (want %d)\n", rcases[i].in, rid,
			        rcases[i].rid);
		}
	}
	printf("%u passed, %u failed\n", passed, failed);
	return failed != 0;
}
