/* SPDX-License-Identifier: MIT */
/*
 * test_headers.c - the header section (policy/message.c): unfolding, field names, the end of
 * the header section, malformed lines, the header_max limit.
 *
 * Table of messages, each with the rule ids it must match. Every message is fed whole, at
 * every single split point, at every pair of split points (short ones) and byte by byte:
 * the result must not depend on where the spans end. Cases: fields folded over several lines
 * (CRLF + SP / HTAB), a match across a fold, bare LF line ends, WSP before the colon, empty
 * values, repeated fields, names in any case, a line without a colon (the body starts
 * there), a continuation line with no field before it, a bare CR at a line start, a message
 * that ends inside the header section, a bare CR inside a value; then a field longer than
 * header_max (matched on its first header_max octets, counted).
 *
 * The last line says "N passed, M failed"; exit status 0 when all pass.
 */
#include "tests/policy/tpol.h"

static const char rules_text[] = "set header_max 1000\n"
                                 "rule fold subject /^part one part two\\tpart three$/ tag\n"
                                 "rule across subject /buy now/i tag\n"
                                 "rule line header /^Subject: part one part two/ tag\n"
                                 "rule empty subject /^$/ tag\n"
                                 "rule wsp header:X-Space /^spaced$/ tag\n"
                                 "rule second header:Received /from second/ tag\n"
                                 "rule case header:x-mixed-case /^yes$/ tag\n"
                                 "rule any-body body /not a header/ tag\n"
                                 "rule hdr-in-body header /^After: bogus/ tag\n"
                                 "rule body-after body /After: bogus/ tag\n"
                                 "rule cr-val subject /^a\\rb$/ tag\n"
                                 "rule last header:X-Last /^end$/ tag\n"
                                 "rule cont body /^ leading continuation/ tag\n"
                                 "rule long-early header:X-Long /EARLY/ tag\n"
                                 "rule long-late header:X-Long /LATE/ tag\n"
                                 "rule bodyword body \"bodyword\" tag\n"
                                 "rule crstart body /^\\rX: y/ tag\n";

struct hcase {
	const char *msg;
	const char *want;
};

static const struct hcase cases[] = {
    {"Subject: part one\r\n part two\r\n\tpart three\r\n\r\nbodyword\r\n", "fold,line,bodyword"},
    {"Subject: part one\n part two\n\tpart three\n\nbodyword\n", "fold,line,bodyword"},
    {"From: x\r\nSubject: please BUY\r\n NOW\r\n\r\n", "across"},
    {"Subject:\r\n\r\nx\r\n", "empty"},
    {"Subject:   \r\n\r\nx\r\n", "empty"},
    {"X-Space \t: spaced\r\n\r\n", "wsp"},
    {"Received: from first\r\nReceived: from second\r\n\r\n", "second"},
    {"X-MIXED-CASE: yes\r\n\r\n", "case"},
    {"From: x\r\nthis is not a header\r\nAfter: bogus\r\n\r\n", "any-body,body-after"},
    {"From: x\r\n\r\nAfter: bogus\r\n", "body-after"},
    {"Subject: a\rb\r\n\r\n", "cr-val"},
    {"From: x\r\nX-Last: end", "last"},
    {"From: x\r\nX-Last: end\r\n", "last"},
    {" leading continuation\r\nSubject:\r\n\r\n", "cont"},
    {"From: x\r\n\rX: y\r\n", "crstart"},
    {"NoColonAtAll", ""},
    {"Subject: bodyword\r\n\r\n", ""},
};

/* One transaction over msg in spans ending at cuts[]. */
static void run(struct pol_core *c, const char *msg, size_t n, const size_t *cuts, unsigned ncut,
                char *ids, size_t cap)
{
	tp_run(c, "s@x", msg, n, cuts, ncut, &(struct pol_verdict){0}, ids, cap);
}

static void test_table(struct pol_core *c)
{
	for (size_t k = 0; k < sizeof(cases) / sizeof(cases[0]); k++) {
		const char *m = cases[k].msg;
		size_t n = strlen(m), cuts[256];
		unsigned bad = 0, runs = 0;
		char ids[512];

		run(c, m, n, NULL, 0, ids, sizeof(ids));
		CHECK(!strcmp(ids, cases[k].want), "case %zu whole: '%s', want '%s'", k, ids,
		      cases[k].want);
		for (size_t a = 0; a <= n; a++) {
			cuts[0] = a;
			run(c, m, n, cuts, 1, ids, sizeof(ids));
			bad += strcmp(ids, cases[k].want) != 0;
			runs++;
			for (size_t b = a; b <= n && n < 80; b++) {
				cuts[1] = b;
				run(c, m, n, cuts, 2, ids, sizeof(ids));
				bad += strcmp(ids, cases[k].want) != 0;
				runs++;
			}
		}
		for (size_t i = 0; i + 1 < n; i++)
			cuts[i] = i + 1;
		run(c, m, n, cuts, n ? (unsigned)n - 1 : 0, ids, sizeof(ids));
		bad += strcmp(ids, cases[k].want) != 0;
		CHECK(bad == 0, "case %zu: %u of %u split ways differ", k, bad, runs + 1);
	}
}

static void test_long(struct pol_core *c)
{
	char msg[8192];
	size_t n = 0;
	char ids[512];
	uint64_t before = pol_core_stats(c)->header_truncated;

	n += (size_t)sprintf(msg + n, "X-Long: EARLY");
	for (int i = 0; i < 100; i++) /* folded over 100 lines: 4,000 bytes unfolded */
		n += (size_t)sprintf(msg + n, "\r\n\tfiller %02d filler filler fill", i);
	n += (size_t)sprintf(msg + n, " LATE\r\nSubject:\r\n\r\nbodyword\r\n");
	run(c, msg, n, NULL, 0, ids, sizeof(ids));
	CHECK(!strcmp(ids, "empty,long-early,bodyword"),
	      "a field longer than header_max is matched on its first 1000 octets: '%s'", ids);
	CHECK(pol_core_stats(c)->header_truncated == before + 1, "and counted as truncated");
}

int main(void)
{
	struct pol_rules *r = tp_load(rules_text);
	struct pol_core *c = tp_core(r, 1);

	test_table(c);
	test_long(c);
	pol_core_destroy(c);
	pol_rules_put(r);
	return tp_summary();
}
