/* SPDX-License-Identifier: MIT */
/*
 * test_bdat.c - BDAT (RFC 3030 CHUNKING) through the session engine.
 *
 * Binary-safe chunks passed through raw (no unstuffing, no terminator search), "BDAT n LAST",
 * "BDAT 0 LAST", the per-chunk "250 2.0.0 n octets received", DATA after BDAT (503), BDAT out
 * of sequence (503 with the chunk consumed, never executed), unparsable sizes (501 and close),
 * chunks over the size limit (552 with the payload consumed), CHUNKING switched off. Every
 * case also runs split one byte per call and in irregular pieces (smtp_cases.h), so chunks
 * arriving across many smtp_input() calls are covered throughout.
 */
#include "tests/parser/smtp_cases.h"

#define EHLO  "EHLO c.example\r\n"
#define MAILF "MAIL FROM:<a@b.example>\r\n"
#define RCPTT "RCPT TO:<c@d.example>\r\n"
#define ENV   EHLO MAILF RCPTT
#define R_ENV "220,250,250 2.1.0,250 2.1.5"
#define EV_ENV                                                                                     \
	"HELO c.example 1\nMAIL <a@b.example> [] body=0 utf8=0 size=0\nRCPT <c@d.example> []\n"

/* A chunk whose bytes look like a DATA terminator and commands: must stay data. */
#define EVIL "x\r\n.\r\nMAIL FROM:<evil@x>\r\n\r\n.\r\n"

static const struct h_case cases[] = {
    {"one LAST chunk", NULL, ENV "BDAT 5 LAST\r\nHello", R_ENV ",250 2.0.0",
     EV_ENV "DATA\nBODY Hello\nEND 5\nRESOLVE 0\n", "250 2.0.0 Ok: queued as Q1\r\n", SMTP_READY},
    {"three chunks", NULL, ENV "BDAT 3\r\nabcBDAT 4\r\ndefgBDAT 0 LAST\r\nQUIT\r\n",
     R_ENV ",250 2.0.0,250 2.0.0,250 2.0.0,221 2.0.0",
     EV_ENV "DATA\nBODY abcdefg\nEND 7\nRESOLVE 0\nCLOSE 221\n",
     "250 2.0.0 3 octets received\r\n250 2.0.0 4 octets received\r\n", SMTP_CLOSED},
    {"BDAT 0 LAST alone", NULL, ENV "BDAT 0 LAST\r\n", R_ENV ",250 2.0.0",
     EV_ENV "DATA\nEND 0\nRESOLVE 0\n", NULL, SMTP_READY},
    {"BDAT 0 then LAST", NULL, ENV "BDAT 0\r\nBDAT 2 last\r\nab", R_ENV ",250 2.0.0,250 2.0.0",
     EV_ENV "DATA\nBODY ab\nEND 2\nRESOLVE 0\n", "0 octets received", SMTP_READY},
    {"binary chunk is raw",
     NULL,
     ENV "BDAT 38 LAST\r\n" EVIL "\0\xff\x01"
         "abcd",
     R_ENV ",250 2.0.0",
     EV_ENV "DATA\nBODY x\\r\\n.\\r\\nMAIL FROM:<evil@x>\\r\\n\\r\\n.\\r\\n\\x00\\xff\\x01abcd\n"
            "END 38\nRESOLVE 0\n",
     NULL,
     SMTP_READY,
     {{0}},
     0,
     sizeof(ENV "BDAT 38 LAST\r\n" EVIL "\0\xff\x01"
                "abcd") -
         1},
    {"BINARYMIME with BDAT",
     NULL,
     EHLO "MAIL FROM:<a@b> BODY=BINARYMIME\r\n" RCPTT "BDAT 3 LAST\r\n\0\0\0",
     "220,250,250 2.1.0,250 2.1.5,250 2.0.0",
     NULL,
     NULL,
     SMTP_READY,
     {{0}},
     0,
     sizeof(EHLO "MAIL FROM:<a@b> BODY=BINARYMIME\r\n" RCPTT "BDAT 3 LAST\r\n") + 2},
    {"DATA after BDAT", NULL, ENV "BDAT 3\r\nabcDATA\r\nBDAT 1 LAST\r\nd",
     R_ENV ",250 2.0.0,503 5.5.1,250 2.0.0", EV_ENV "DATA\nBODY abcd\nEND 4\nRESOLVE 0\n",
     "DATA not allowed after BDAT", SMTP_READY},
    {"RCPT after BDAT", NULL, ENV "BDAT 1\r\na" RCPTT, R_ENV ",250 2.0.0,503 5.5.1", NULL, NULL,
     SMTP_RCPT},
    {"RSET between chunks aborts", NULL, ENV "BDAT 1\r\naRSET\r\nBDAT 1 LAST\r\nb",
     R_ENV ",250 2.0.0,250 2.0.0,503 5.5.1", EV_ENV "DATA\nBODY a\nABORT\n", NULL, SMTP_READY},
    {"BDAT before MAIL: chunk consumed, not executed", NULL,
     EHLO "BDAT 14\r\nMAIL FROM:<>\r\nNOOP\r\n", "220,250,503 5.5.1,250 2.0.0",
     "HELO c.example 1\n", "need MAIL", SMTP_READY},
    {"BDAT before HELO", NULL, "BDAT 6 LAST\r\nQUIT\r\nNOOP\r\n", "220,503 5.5.1,250 2.0.0", "",
     "send HELO", SMTP_GREETED},
    {"BDAT before RCPT", NULL, EHLO MAILF "BDAT 6\r\nRSET\r\n" RCPTT "BDAT 1 LAST\r\nz",
     "220,250,250 2.1.0,503 5.5.1,250 2.1.5,250 2.0.0", NULL, "need RCPT", SMTP_READY},
    {"BDAT with every recipient refused",
     "decide=4",
     EHLO MAILF RCPTT "BDAT 4 LAST\r\nQUIT",
     "220,250,250 2.1.0,550 5.1.1,554 5.5.1",
     NULL,
     NULL,
     SMTP_MAIL,
     {{550, NULL, NULL}},
     1},
    {"unparsable size closes", NULL, ENV "BDAT x\r\nNOOP\r\n", R_ENV ",501 5.5.4",
     EV_ENV "ABORT\nCLOSE 501\n", "Syntax: BDAT size [LAST]", SMTP_CLOSED},
    {"missing size closes", NULL, EHLO "BDAT\r\nNOOP\r\n", "220,250,501 5.5.4", NULL, NULL,
     SMTP_CLOSED},
    {"junk after size closes", NULL, EHLO "BDAT 5 FIRST\r\nNOOP\r\n", "220,250,501 5.5.4", NULL,
     NULL, SMTP_CLOSED},
    {"size glued to junk closes", NULL, EHLO "BDAT 5LAST\r\nabcde", "220,250,501 5.5.4", NULL, NULL,
     SMTP_CLOSED},
    {"negative size closes", NULL, EHLO "BDAT -5\r\n", "220,250,501 5.5.4", NULL, NULL,
     SMTP_CLOSED},
    {"oversized number closes", NULL, EHLO "BDAT 123456789012345678901\r\n", "220,250,501 5.5.4",
     NULL, NULL, SMTP_CLOSED},
    {"chunk over the size limit", "max_size=10", ENV "BDAT 11 LAST\r\n0123456789ANOOP\r\n",
     R_ENV ",552 5.3.4,250 2.0.0", EV_ENV "REJECTED 552\n", NULL, SMTP_READY},
    {"second chunk over the size limit", "max_size=10",
     ENV "BDAT 6\r\n012345BDAT 6\r\n6789abBDAT 3 LAST\r\nxyzNOOP\r\n",
     R_ENV ",250 2.0.0,552 5.3.4,503 5.5.1,250 2.0.0", EV_ENV "DATA\nREJECTED 552\n", NULL,
     SMTP_READY},
    {"chunks exactly at the size limit", "max_size=10", ENV "BDAT 6\r\n012345BDAT 4 LAST\r\n6789",
     R_ENV ",250 2.0.0,250 2.0.0", EV_ENV "DATA\nBODY 0123456789\nEND 10\nRESOLVE 0\n", NULL,
     SMTP_READY},
    {"CHUNKING off: chunk consumed", "caps_off=0x18", ENV "BDAT 6 LAST\r\nQUIT\r\nNOOP\r\n",
     R_ENV ",502 5.5.1,250 2.0.0", EV_ENV, NULL, SMTP_RCPT},
    {"END verdict 451 after BDAT",
     NULL,
     ENV "BDAT 2 LAST\r\nhi" MAILF,
     R_ENV ",451 4.3.0,250 2.1.0",
     NULL,
     NULL,
     SMTP_MAIL,
     {{451, NULL, NULL}},
     1},
    {"bare LF inside a chunk is data", NULL, ENV "BDAT 7 LAST\r\na\nb\rc\n.", R_ENV ",250 2.0.0",
     EV_ENV "DATA\nBODY a\\nb\\rc\\n.\nEND 7\nRESOLVE 0\n", NULL, SMTP_READY},
    {"two transactions by BDAT", NULL, ENV "BDAT 1 LAST\r\na" MAILF RCPTT "BDAT 1 LAST\r\nb",
     R_ENV ",250 2.0.0,250 2.1.0,250 2.1.5,250 2.0.0",
     EV_ENV "DATA\nBODY a\nEND 1\nRESOLVE 0\nMAIL <a@b.example> [] body=0 utf8=0 size=0\n"
            "RCPT <c@d.example> []\nDATA\nBODY b\nEND 1\nRESOLVE 0\n",
     "queued as Q2", SMTP_READY},
};

/* A large chunk fed in uneven pieces: the body must come out intact. */
static int test_large_chunk(void)
{
	const size_t body = 200000;
	char hdr[64];
	int hl = snprintf(hdr, sizeof(hdr), "BDAT %zu LAST\r\n", body);
	size_t pre = strlen(ENV), len = pre + (size_t)hl + body;
	char *in = malloc(len);
	static const size_t pattern[] = {1, 4096, 13, 65536, 3};
	struct smtp_config cfg;
	struct h_opts o;
	struct h_result r;
	int ok;

	memcpy(in, ENV, pre);
	memcpy(in + pre, hdr, (size_t)hl);
	for (size_t i = 0; i < body; i++)
		in[pre + (size_t)hl + i] = (char)(i * 7 + i / 251);
	smtp_config_defaults(&cfg);
	memset(&o, 0, sizeof(o));
	o.cfg = &cfg;
	o.pattern = pattern;
	o.npattern = 5;
	o.ev_cap = 3;
	h_run(in, len, &o, &r);
	/* the log holds the body escaped; count its octets from the END event instead */
	ok = !r.err[0] && r.state == SMTP_READY && memmem(r.log, r.llen, "END 200000\n", 11);
	if (!ok)
		fprintf(stderr, "FAIL large chunk: %s state %u\n", r.err, r.state);
	h_free(&r);
	free(in);
	return ok;
}

int main(void)
{
	unsigned passed = 0, failed = 0;

	h_run_table(cases, sizeof(cases) / sizeof(cases[0]), &passed, &failed);
	if (test_large_chunk())
		passed++;
	else
		failed++;
	printf("%u passed, %u failed\n", passed, failed);
	return failed != 0;
}
