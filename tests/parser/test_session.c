/* SPDX-License-Identifier: MIT */
/*
 * test_session.c - the session engine, command by command and reply code by reply code.
 *
 * Table-driven (smtp_cases.h): every case runs fed all at once, one byte per call, in an
 * irregular pattern, and with a two-slot event array, and must give identical replies and
 * events each time. Covers every command, every RFC 5321 4.2 reply code the engine produces
 * (220 221 214 250 252 354 421 452 500 501 502 503 504 550 552 553 554 555), and those that
 * only an embedder verdict produces (251 450 451 452 550 551 552 553 554) through
 * smtp_resolve(). 211 (system status) has no command here: the engine offers none.
 * Then smtp_session_end(), smtp_resolve() misuse and the session size.
 */
#include <errno.h>

#include "tests/parser/smtp_cases.h"

#define EHLO  "EHLO c.example\r\n"
#define MAILF "MAIL FROM:<a@b.example>\r\n"
#define RCPTT "RCPT TO:<c@d.example>\r\n"
#define MSG   "DATA\r\nHello\r\n.\r\n"
#define TX    MAILF RCPTT MSG
#define R_TX  "250 2.1.0,250 2.1.5,354,250 2.0.0"
#define X10   "xxxxxxxxxx"
#define X100  X10 X10 X10 X10 X10 X10 X10 X10 X10 X10

static const struct h_case cases[] = {
    {"plain transaction", NULL, EHLO TX "QUIT\r\n", "220,250," R_TX ",221 2.0.0",
     "HELO c.example 1\n"
     "MAIL <a@b.example> [] body=0 utf8=0 size=0\n"
     "RCPT <c@d.example> []\n"
     "DATA\n"
     "BODY Hello\\r\\n\n"
     "END 7\n"
     "RESOLVE 0\n"
     "CLOSE 221\n",
     "250 2.0.0 Ok: queued as Q1\r\n", SMTP_CLOSED},
    {"HELO", NULL, "HELO c.example\r\n" TX, "220,250," R_TX, NULL, "250 localhost\r\n", SMTP_READY},
    {"verbs are case-insensitive", NULL,
     "eHlO c\r\nmail from:<a@b>\r\nRcPt To:<c@d>\r\ndata\r\nx\r\n.\r\nquit\r\n",
     "220,250," R_TX ",221 2.0.0", NULL, NULL, SMTP_CLOSED},
    {"EHLO advertises", NULL, EHLO, "220,250", NULL,
     "250-localhost\r\n250-PIPELINING\r\n250-SIZE 52428800\r\n250-8BITMIME\r\n"
     "250-CHUNKING\r\n250-BINARYMIME\r\n250-SMTPUTF8\r\n250 ENHANCEDSTATUSCODES\r\n",
     SMTP_READY},
    {"EHLO without capabilities", "caps_off=0x7f", EHLO MAILF, "220,250,250", NULL,
     "250 localhost\r\n250 Ok\r\n", SMTP_MAIL},
    {"EHLO without PIPELINING and SIZE", "caps_off=3", EHLO, "220,250", NULL,
     "250-localhost\r\n250-8BITMIME\r\n", -1},
    {"EHLO needs a name", NULL, "EHLO\r\nHELO\r\n", "220,501 5.5.4,501 5.5.4", NULL, NULL,
     SMTP_GREETED},
    {"NOOP with or without argument", NULL, "NOOP\r\nNOOP anything at all\r\n",
     "220,250 2.0.0,250 2.0.0", NULL, NULL, SMTP_GREETED},
    {"DATA RSET QUIT take no argument", NULL, EHLO MAILF RCPTT "DATA x\r\nRSET x\r\nQUIT x\r\n",
     "220,250,250 2.1.0,250 2.1.5,501 5.5.4,501 5.5.4,501 5.5.4", NULL, NULL, SMTP_RCPT},
    {"HELP", NULL, "HELP\r\nHELP mail\r\nHELP frobnicate\r\n", "220,214 2.0.0,214 2.0.0,504 5.5.4",
     NULL, "214-2.0.0 Commands:", SMTP_GREETED},
    {"VRFY default 252", NULL, "VRFY user\r\nVRFY\r\n", "220,252 2.0.0,501 5.5.4", NULL, NULL, -1},
    {"VRFY 502", "vrfy=502", "VRFY user\r\n", "220,502 5.5.1", NULL, NULL, -1},
    {"VRFY 550", "vrfy=550", "VRFY user\r\n", "220,550 5.7.1", NULL, NULL, -1},
    {"EXPN default 502", NULL, "EXPN list\r\n", "220,502 5.5.1", NULL, NULL, -1},
    {"EXPN 252", "expn=252", "EXPN list\r\n", "220,252 2.0.0", NULL, NULL, -1},
    {"not offered: STARTTLS AUTH ETRN ATRN", NULL,
     "STARTTLS\r\nAUTH PLAIN AGEAYg==\r\nETRN example.org\r\natrn\r\n",
     "220,502 5.5.1,502 5.5.1,502 5.5.1,502 5.5.1", NULL, "Error: command not available", -1},
    {"obsolete: SAML SEND SOML TURN", NULL,
     "SAML FROM:<a@b>\r\nSEND FROM:<a@b>\r\nSOML FROM:<a@b>\r\nTURN\r\n",
     "220,502 5.5.1,502 5.5.1,502 5.5.1,502 5.5.1", NULL, "not implemented", -1},
    {"unknown command keeps the session", NULL, "FOO bar\r\nMAILX\r\nNOOP\r\n",
     "220,500 5.5.2,500 5.5.2,250 2.0.0", NULL, NULL, SMTP_GREETED},
    {"RSET before HELO", NULL, "RSET\r\n", "220,250 2.0.0", NULL, NULL, SMTP_GREETED},
    {"MAIL before HELO", NULL, MAILF RCPTT "DATA\r\n", "220,503 5.5.1,503 5.5.1,503 5.5.1", "",
     NULL, SMTP_GREETED},
    {"RCPT before MAIL", NULL, EHLO RCPTT, "220,250,503 5.5.1", NULL, NULL, SMTP_READY},
    {"DATA before MAIL", NULL, EHLO "DATA\r\n", "220,250,503 5.5.1", NULL, "need MAIL", SMTP_READY},
    {"DATA before RCPT", NULL, EHLO MAILF "DATA\r\n", "220,250,250 2.1.0,503 5.5.1", NULL,
     "need RCPT", SMTP_MAIL},
    {"nested MAIL", NULL, EHLO MAILF MAILF, "220,250,250 2.1.0,503 5.5.1", NULL, NULL, SMTP_MAIL},
    {"MAIL syntax", NULL,
     EHLO "MAIL TO:<a@b>\r\nMAIL FROM:a@b\r\nMAIL FROM:<a@b\r\nMAIL FROM:<a@b> FOO=1\r\n"
          "MAIL FROM:<a@b> SIZE=x\r\nMAIL FROM:<a@b>x\r\n",
     "220,250,501 5.5.4,501 5.1.7,501 5.1.7,555 5.5.4,501 5.5.4,501 5.5.4", "HELO c.example 1\n",
     NULL, SMTP_READY},
    {"MAIL with space after colon and params", NULL,
     EHLO "MAIL FROM: <a@b.example> SIZE=100 BODY=8BITMIME\r\n", "220,250,250 2.1.0",
     "HELO c.example 1\nMAIL <a@b.example> [SIZE=100 BODY=8BITMIME] body=2 utf8=0 size=100\n", NULL,
     SMTP_MAIL},
    {"null reverse-path", NULL, EHLO "MAIL FROM:<>\r\n" RCPTT, "220,250,250 2.1.0,250 2.1.5",
     "HELO c.example 1\nMAIL <> [] body=0 utf8=0 size=0\nRCPT <c@d.example> []\n", NULL, SMTP_RCPT},
    {"null forward-path", NULL, EHLO MAILF "RCPT TO:<>\r\n", "220,250,250 2.1.0,501 5.1.3", NULL,
     NULL, SMTP_MAIL},
    {"source route dropped", NULL, EHLO MAILF "RCPT TO:<@r1.example,@r2.example:c@d.example>\r\n",
     "220,250,250 2.1.0,250 2.1.5", NULL, NULL, SMTP_RCPT},
    {"Postmaster in any case", "decide=4",
     EHLO MAILF "RCPT TO:<Postmaster>\r\nRCPT TO:<pOSTMASTER>\r\n",
     "220,250,250 2.1.0,250 2.1.5,250 2.1.5", NULL, NULL, SMTP_RCPT},
    {"SIZE over the limit", "max_size=1000",
     EHLO "MAIL FROM:<a@b> SIZE=1001\r\nMAIL FROM:<a@b> SIZE=1000\r\n",
     "220,250,552 5.3.4,250 2.1.0", NULL, NULL, SMTP_MAIL},
    {"SIZE overflow", "max_size=1000",
     EHLO
     "MAIL FROM:<a@b> SIZE=99999999999999999999\r\nMAIL FROM:<a@b> SIZE=123456789012345678901\r\n",
     "220,250,552 5.3.4,501 5.5.4", NULL, NULL, SMTP_READY},
    {"UTF-8 address needs SMTPUTF8", NULL,
     EHLO "MAIL FROM:<j\xc3\xb6rg@b.example>\r\nMAIL FROM:<j\xc3\xb6rg@b.example> SMTPUTF8\r\n"
          "RCPT TO:<\xe7\x94\xa8\xe6\x88\xb7@\xe4\xbe\x8b\xe5\xad\x90.example>\r\n",
     "220,250,553 5.6.7,250 2.1.0,250 2.1.5", NULL, NULL, SMTP_RCPT},
    {"UTF-8 recipient without SMTPUTF8", NULL, EHLO MAILF "RCPT TO:<j\xc3\xb6rg@b.example>\r\n",
     "220,250,250 2.1.0,553 5.6.7", NULL, NULL, SMTP_MAIL},
    {"malformed UTF-8 address", NULL,
     EHLO "MAIL FROM:<j\xc3(rg@b.example> SMTPUTF8\r\nMAIL FROM:<\xed\xa0\x80@b> SMTPUTF8\r\n",
     "220,250,501 5.1.7,501 5.1.7", NULL, NULL, SMTP_READY},
    {"SMTPUTF8 not offered", "caps_off=0x20", EHLO "MAIL FROM:<a@b> SMTPUTF8\r\n",
     "220,250,555 5.5.4", NULL, NULL, SMTP_READY},
    {"too many errors", "max_errors=3", "FOO\r\nBAR\r\nBAZ\r\nNOOP\r\n",
     "220,500 5.5.2,500 5.5.2,500 5.5.2,421 4.7.0", "CLOSE 421\n",
     "421 4.7.0 localhost Error: too many errors\r\n", SMTP_CLOSED},
    {"too many errors aborts the transaction", "max_errors=2", EHLO MAILF "FOO\r\nBAR\r\n",
     "220,250,250 2.1.0,500 5.5.2,500 5.5.2,421 4.7.0", NULL, NULL, SMTP_CLOSED},
    {"recipient limit", "max_rcpt=2",
     EHLO MAILF RCPTT "RCPT TO:<e@d.example>\r\nRCPT TO:<f@d.example>\r\n" MSG,
     "220,250,250 2.1.0,250 2.1.5,250 2.1.5,452 4.5.3,354,250 2.0.0",
     "HELO c.example 1\nMAIL <a@b.example> [] body=0 utf8=0 size=0\nRCPT <c@d.example> []\n"
     "RCPT <e@d.example> []\nDATA\nBODY Hello\\r\\n\nEND 7\nRESOLVE 0\n",
     NULL, SMTP_READY},
    {"512-octet NOOP line", "max_line=512", "NOOP " X100 X100 X100 X100 X100 "12345\r\nNOOP\r\n",
     "220,250 2.0.0,250 2.0.0", NULL, NULL, -1},
    {"513-octet line is too long", "max_line=512",
     "NOOP " X100 X100 X100 X100 X100 "123456\r\nNOOP\r\n", "220,500 5.5.6,250 2.0.0", NULL,
     "500 5.5.6 Line too long\r\n", -1},
    {"long line tail is not a command", "max_line=512",
     "NOOP " X100 X100 X100 X100 X100 X100 "QUIT\r\nNOOP\r\n", "220,500 5.5.6,250 2.0.0", NULL,
     NULL, SMTP_GREETED},
    {"bare LF ends no command", NULL, "NOOP\nNOOP\r\nQUIT\n", "220,500 5.5.2,250 2.0.0,500 5.5.2",
     NULL, "must end with <CR><LF>", SMTP_GREETED},
    {"bare CR inside a command", NULL, "NOOP\rQUIT\r\nNOOP\r\n", "220,500 5.5.2,250 2.0.0", NULL,
     NULL, SMTP_GREETED},
    {"NUL inside a command",
     NULL,
     "NO\0OP\r\nNOOP\r\n",
     "220,500 5.5.2,250 2.0.0",
     NULL,
     NULL,
     SMTP_GREETED,
     {{0}},
     0,
     sizeof("NO\0OP\r\nNOOP\r\n") - 1},
    {"EHLO resets the transaction", NULL, EHLO MAILF RCPTT EHLO MAILF,
     "220,250,250 2.1.0,250 2.1.5,250,250 2.1.0",
     "HELO c.example 1\nMAIL <a@b.example> [] body=0 utf8=0 size=0\nRCPT <c@d.example> []\n"
     "ABORT\nHELO c.example 1\nMAIL <a@b.example> [] body=0 utf8=0 size=0\n",
     NULL, SMTP_MAIL},
    {"RSET aborts", NULL, EHLO MAILF "RSET\r\nRSET\r\n", "220,250,250 2.1.0,250 2.0.0,250 2.0.0",
     "HELO c.example 1\nMAIL <a@b.example> [] body=0 utf8=0 size=0\nABORT\n", NULL, SMTP_READY},
    {"QUIT aborts", NULL, EHLO MAILF RCPTT "QUIT\r\nNOOP\r\n",
     "220,250,250 2.1.0,250 2.1.5,221 2.0.0",
     "HELO c.example 1\nMAIL <a@b.example> [] body=0 utf8=0 size=0\nRCPT <c@d.example> []\n"
     "ABORT\nCLOSE 221\n",
     NULL, SMTP_CLOSED},
    {"message over the size limit", "max_size=10",
     EHLO MAILF RCPTT "DATA\r\n0123456789A\r\n.\r\n" TX,
     "220,250,250 2.1.0,250 2.1.5,354,552 5.3.4," R_TX,
     "HELO c.example 1\nMAIL <a@b.example> [] body=0 utf8=0 size=0\nRCPT <c@d.example> []\n"
     "DATA\nREJECTED 552\n"
     "MAIL <a@b.example> [] body=0 utf8=0 size=0\nRCPT <c@d.example> []\nDATA\n"
     "BODY Hello\\r\\n\nEND 7\nRESOLVE 0\n",
     NULL, SMTP_READY},
    {"message at the size limit", "max_size=7", EHLO TX, "220,250," R_TX, NULL, NULL, SMTP_READY},
    {"long text line refused", "max_text_line=1000",
     EHLO MAILF RCPTT "DATA\r\n" X100 X100 X100 X100 X100 X100 X100 X100 X100 X100 "\r\n.\r\n",
     "220,250,250 2.1.0,250 2.1.5,354,550 5.6.0", NULL, NULL, SMTP_READY},
    {"998-octet text line accepted", "max_text_line=1000",
     EHLO MAILF RCPTT
     "DATA\r\n" X100 X100 X100 X100 X100 X100 X100 X100 X100 X10 X10 X10 X10 X10 X10 X10 X10 X10
     "xxxxxxxx\r\n.\r\n",
     "220,250,250 2.1.0,250 2.1.5,354,250 2.0.0", NULL, NULL, SMTP_READY},
    {"long text line accepted by default", NULL,
     EHLO MAILF RCPTT "DATA\r\n" X100 X100 X100 X100 X100 X100 X100 X100 X100 X100 "\r\n.\r\n",
     "220,250,250 2.1.0,250 2.1.5,354,250 2.0.0", NULL, NULL, SMTP_READY},
    /* regression (fuzzing): the refusal chosen depended on how the input was split */
    {"regress_refusal_depends_on_split", "max_size=100 max_text_line=50",
     EHLO MAILF RCPTT "DATA\r\n" X100 X100 "\r\n.\r\n", "220,250,250 2.1.0,250 2.1.5,354,552 5.3.4",
     NULL, NULL, SMTP_READY},
    {"regress_refusal_depends_on_split, bare LF first", "max_size=100 max_text_line=50",
     EHLO MAILF RCPTT "DATA\r\n" X100 X100 "\n\r\n.\r\n",
     "220,250,250 2.1.0,250 2.1.5,354,550 5.5.2", NULL, NULL, SMTP_READY},
    {"dot-stuffing removed", NULL, EHLO MAILF RCPTT "DATA\r\n..a\r\n.\r\n",
     "220,250,250 2.1.0,250 2.1.5,354,250 2.0.0",
     "HELO c.example 1\nMAIL <a@b.example> [] body=0 utf8=0 size=0\nRCPT <c@d.example> []\n"
     "DATA\nBODY .a\\r\\n\nEND 4\nRESOLVE 0\n",
     NULL, SMTP_READY},
    {"empty message", NULL, EHLO MAILF RCPTT "DATA\r\n.\r\n",
     "220,250,250 2.1.0,250 2.1.5,354,250 2.0.0",
     "HELO c.example 1\nMAIL <a@b.example> [] body=0 utf8=0 size=0\nRCPT <c@d.example> []\n"
     "DATA\nEND 0\nRESOLVE 0\n",
     NULL, SMTP_READY},
    {"BODY values", NULL,
     EHLO "MAIL FROM:<a@b> BODY=7BIT\r\nRSET\r\nMAIL FROM:<a@b> BODY=8bitmime\r\nRSET\r\n"
          "MAIL FROM:<a@b> BODY=FOO\r\nMAIL FROM:<a@b> BODY=BINARYMIME\r\n" RCPTT "DATA\r\n",
     "220,250,250 2.1.0,250 2.0.0,250 2.1.0,250 2.0.0,501 5.5.4,250 2.1.0,250 2.1.5,503 5.5.1",
     NULL, "BINARYMIME requires BDAT", SMTP_RCPT},
    {"RCPT parameters are not offered", NULL, EHLO MAILF "RCPT TO:<c@d> NOTIFY=NEVER\r\n",
     "220,250,250 2.1.0,555 5.5.4", NULL, NULL, SMTP_MAIL},
    {"replies without enhanced codes", "caps_off=0x40", EHLO TX "FOO\r\nQUIT\r\n",
     "220,250,250,250,354,250,500,221", NULL, "250 Ok: queued as Q1\r\n", SMTP_CLOSED},

    /* decisions */
    {"HELO decided: refused, then accepted",
     "decide=1",
     EHLO MAILF EHLO MAILF,
     "220,550 5.7.1,503 5.5.1,250,250 2.1.0",
     "HELO c.example 1\nRESOLVE 550\nHELO c.example 1\nRESOLVE 0\n"
     "MAIL <a@b.example> [] body=0 utf8=0 size=0\n",
     NULL,
     SMTP_MAIL,
     {{550, NULL, NULL}},
     1},
    {"MAIL refused 450: no transaction",
     "decide=2",
     EHLO MAILF RCPTT MAILF,
     "220,250,450 4.2.0,503 5.5.1,250 2.1.0",
     NULL,
     NULL,
     SMTP_MAIL,
     {{450, NULL, NULL}},
     1},
    {"MAIL refused 553 with text",
     "decide=2",
     EHLO MAILF,
     "220,250,553 5.1.7",
     NULL,
     "553 5.1.7 Sender rejected\r\n",
     SMTP_READY,
     {{553, NULL, "Sender rejected"}},
     1},
    {"RCPT verdicts 550 551 251 450 452",
     "decide=4",
     EHLO MAILF RCPTT RCPTT RCPTT RCPTT RCPTT MSG,
     "220,250,250 2.1.0,550 5.1.1,551 5.1.6,251 2.1.5,450 4.2.0,452 4.3.1,354,250 2.0.0",
     NULL,
     "551 5.1.6 User not local; please try <c@e.example>\r\n",
     SMTP_READY,
     {{550, NULL, NULL},
      {551, NULL, "User not local; please try <c@e.example>"},
      {251, NULL, "User not local; will forward"},
      {450, NULL, NULL},
      {452, NULL, NULL}},
     5},
    {"all recipients refused: DATA 554",
     "decide=4",
     EHLO MAILF RCPTT "DATA\r\nHello\r\n.\r\n",
     "220,250,250 2.1.0,550 5.1.1,554 5.5.1,500 5.5.2,500 5.5.2",
     NULL,
     "no valid recipients",
     SMTP_MAIL,
     {{550, NULL, NULL}},
     1},
    {"END verdict 451",
     NULL,
     EHLO TX,
     "220,250,250 2.1.0,250 2.1.5,354,451 4.3.0",
     NULL,
     NULL,
     SMTP_READY,
     {{451, NULL, NULL}},
     1},
    {"END verdict 452 then 554 then 550 then 552",
     NULL,
     EHLO TX TX TX TX,
     "220,250,250 2.1.0,250 2.1.5,354,452 4.3.1,250 2.1.0,250 2.1.5,354,554 5.7.1,"
     "250 2.1.0,250 2.1.5,354,550 5.7.1,250 2.1.0,250 2.1.5,354,552 5.3.4",
     NULL,
     NULL,
     SMTP_READY,
     {{452, NULL, NULL}, {554, NULL, NULL}, {550, "5.7.1", "Spam"}, {552, NULL, NULL}},
     4},
    {"multi-line verdict text",
     NULL,
     EHLO TX,
     "220,250,250 2.1.0,250 2.1.5,354,550 5.7.0",
     NULL,
     "550-5.7.0 first line\r\n550 5.7.0 second line\r\n",
     SMTP_READY,
     {{550, "5.7.0", "first line\nsecond line"}},
     1},
    {"verdict enhanced code of the wrong class",
     NULL,
     EHLO TX,
     "220,250,250 2.1.0,250 2.1.5,354,451 4.3.0",
     NULL,
     NULL,
     SMTP_READY,
     {{451, "5.1.1", "x"}},
     1},
    {"verdict text with CR LF cannot inject",
     NULL,
     EHLO TX,
     "220,250,250 2.1.0,250 2.1.5,354,554 5.7.1",
     NULL,
     "554 5.7.1 a?250 ok\r\n",
     SMTP_READY,
     {{554, NULL, "a\r250 ok"}},
     1},
    {"421 verdict closes",
     "decide=4",
     EHLO MAILF RCPTT RCPTT,
     "220,250,250 2.1.0,421 4.3.0",
     "HELO c.example 1\nMAIL <a@b.example> [] body=0 utf8=0 size=0\nRCPT <c@d.example> []\n"
     "RESOLVE 421\nABORT\nCLOSE 421\n",
     "421 4.3.0 localhost",
     SMTP_CLOSED,
     {{421, NULL, NULL}},
     1},
    {"pipelined input waits for decisions", "decide=7", EHLO TX "QUIT\r\n",
     "220,250," R_TX ",221 2.0.0",
     "HELO c.example 1\nRESOLVE 0\nMAIL <a@b.example> [] body=0 utf8=0 size=0\nRESOLVE 0\n"
     "RCPT <c@d.example> []\nRESOLVE 0\nDATA\nBODY Hello\\r\\n\nEND 7\nRESOLVE 0\nCLOSE 221\n",
     NULL, SMTP_CLOSED},
};

/* smtp_session_end() and smtp_resolve() misuse: not table material. */
static int test_end(void)
{
	struct smtp_config cfg;
	struct smtp_session s;
	char rb[2048];
	struct smtp_event ev[4];
	struct smtp_io io = {rb, sizeof(rb), 0, ev, 4, 0, 0};
	struct smtp_verdict v = {0, NULL, NULL, NULL};
	const char *in = EHLO MAILF;
	size_t n;
	int ok = 1;

	smtp_config_defaults(&cfg);
	memset(&s, 0, sizeof(s));
	if (smtp_resolve(&s, &cfg, &v, &io) != -EINVAL)
		ok = 0, fprintf(stderr, "FAIL resolve before start\n");
	smtp_session_start(&s, &cfg, &io);
	n = smtp_input(&s, &cfg, in, strlen(in), &io);
	io.nev = 0;
	io.reply_len = 0;
	if (n != strlen(in) || s.state != SMTP_MAIL)
		ok = 0, fprintf(stderr, "FAIL session_end setup\n");
	if (smtp_resolve(&s, &cfg, &v, &io) != -EINVAL)
		ok = 0, fprintf(stderr, "FAIL resolve with nothing pending\n");
	smtp_session_end(&s, &cfg, 421, "4.4.2 Timeout exceeded", &io);
	if (io.nev != 2 || ev[0].type != SMTP_EV_ABORT || ev[1].type != SMTP_EV_CLOSE ||
	    ev[1].arg != 421 || s.state != SMTP_CLOSED || !io.flush)
		ok = 0, fprintf(stderr, "FAIL session_end events\n");
	if (io.reply_len != strlen("421 4.4.2 localhost Timeout exceeded\r\n") ||
	    memcmp(rb, "421 4.4.2 localhost Timeout exceeded\r\n", io.reply_len) != 0)
		ok = 0, fprintf(stderr, "FAIL session_end reply: %.*s\n", (int)io.reply_len, rb);
	io.nev = 0;
	io.reply_len = 0;
	if (smtp_input(&s, &cfg, in, strlen(in), &io) != 0 || io.nev || io.reply_len)
		ok = 0, fprintf(stderr, "FAIL input after close\n");
	smtp_session_end(&s, &cfg, 421, NULL, &io);
	if (io.nev || io.reply_len)
		ok = 0, fprintf(stderr, "FAIL session_end twice\n");

	/* shutdown without an open transaction, default text; silent end */
	memset(&s, 0, sizeof(s));
	smtp_session_start(&s, &cfg, &io);
	io.reply_len = 0;
	smtp_session_end(&s, &cfg, 421, "4.3.2 Shutting down", &io);
	if (io.nev != 1 || ev[0].type != SMTP_EV_CLOSE ||
	    memcmp(rb, "421 4.3.2 localhost Shutting down\r\n", io.reply_len) != 0)
		ok = 0, fprintf(stderr, "FAIL shutdown: %.*s\n", (int)io.reply_len, rb);
	io.nev = 0;
	io.reply_len = 0;
	memset(&s, 0, sizeof(s));
	smtp_session_start(&s, &cfg, &io);
	io.reply_len = 0;
	smtp_session_end(&s, &cfg, 0, NULL, &io);
	if (io.reply_len != 0 || io.nev != 1 || s.state != SMTP_CLOSED)
		ok = 0, fprintf(stderr, "FAIL silent end\n");

	/* a nearly full reply buffer still gets the closing reply; a bad code becomes 421 */
	memset(&s, 0, sizeof(s));
	io.nev = 0;
	smtp_session_start(&s, &cfg, &io);
	io.reply_len = sizeof(rb) - 40;
	smtp_session_end(&s, &cfg, 999, "4.3.2 Shutting down for maintenance now", &io);
	if (io.reply_len != sizeof(rb) ||
	    memcmp(rb + sizeof(rb) - 40, "421 4.3.2 localhost ", 20) != 0 ||
	    memcmp(rb + sizeof(rb) - 2, "\r\n", 2) != 0)
		ok = 0, fprintf(stderr, "FAIL session_end into a full buffer: %.*s\n", 40,
		                rb + sizeof(rb) - 40);

	/* a bad verdict code is refused and changes nothing */
	memset(&s, 0, sizeof(s));
	cfg.decide = SMTP_DECIDE_HELO;
	io.nev = 0;
	io.reply_len = 0;
	smtp_session_start(&s, &cfg, &io);
	smtp_input(&s, &cfg, EHLO, strlen(EHLO), &io);
	v.code = 354;
	if (smtp_resolve(&s, &cfg, &v, &io) != -EINVAL || s.state != SMTP_WAIT)
		ok = 0, fprintf(stderr, "FAIL 354 verdict accepted\n");
	v.code = 99;
	if (smtp_resolve(&s, &cfg, &v, &io) != -EINVAL)
		ok = 0, fprintf(stderr, "FAIL 99 verdict accepted\n");
	return ok;
}

int main(void)
{
	unsigned passed = 0, failed = 0;

	h_run_table(cases, sizeof(cases) / sizeof(cases[0]), &passed, &failed);
	if (test_end())
		passed++;
	else
		failed++;
	printf("sizeof(struct smtp_session) = %zu\n", sizeof(struct smtp_session));
	if (sizeof(struct smtp_session) > 128)
		failed++, fprintf(stderr, "FAIL session struct grew over 128 octets\n");
	else
		passed++;
	printf("%u passed, %u failed\n", passed, failed);
	return failed != 0;
}
