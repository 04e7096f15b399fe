/* SPDX-License-Identifier: MIT */
/*
 * test_parse.c - the rules file syntax (policy/parse.c) and compile errors (policy/compile.c).
 *
 *   1. table of broken files: each must fail with -EINVAL and a message that starts with
 *      "test.rules:LINE:" and says what is wrong (a fragment of it is checked);
 *   2. patterns Hyperscan cannot run without backtracking (back-references, look-around) are
 *      refused at load time, naming the file, line, rule and pattern;
 *   3. valid files: comments, blank lines, CRLF, tabs, every field and action, settings,
 *      decimal and negative scores, escapes in literals; a missing file names its path;
 *   4. random mutations of a valid file (bytes flipped, inserted, deleted, lines cut), each
 *      ending at a PROT_NONE page: every one loads or fails with -EINVAL and a message that
 *      starts with "test.rules:", and a loaded set scans a message without trouble.
 *
 * The seed is printed; SLUICE_SEED=<n> changes it.
 *
 * The last line says "N passed, M failed"; exit status 0 when all pass.
 */
#include <errno.h>

#include "tests/common/guard.h"
#include "tests/policy/tpol.h"

struct bad {
	const char *text;
	unsigned line;
	const char *want; /* fragment of the message */
};

static const struct bad bad_cases[] = {
    {"frobnicate x\n", 1, "expected 'rule' or 'set'"},
    {"# ok\n\nrule a body \"x\"\n", 3, "a rule is: rule ID FIELD PATTERN ACTION"},
    {"rule a bdy \"x\" tag\n", 1, "unknown field bdy"},
    {"rule a header: \"x\" tag\n", 1, "unknown field header:"},
    {"rule a! body \"x\" tag\n", 1, "rule id a!"},
    {"rule a body \"x\" tag\nrule b body \"y\" tag\nrule a body \"z\" tag\n", 3,
     "duplicate rule id 'a' (first defined at line 1)"},
    {"rule a body \"x tag\n", 1, "unterminated string"},
    {"rule a body /x tag\n", 1, "unterminated regex"},
    {"rule a body \"\\q\" tag\n", 1, "unknown escape \\q"},
    {"rule a body \"\\x4\" tag\n", 1, "\\x needs two hex digits"},
    {"rule a body /x/z tag\n", 1, "unknown flag 'z' after a regex"},
    {"rule a body \"x\"m tag\n", 1, "unknown flag 'm' after a literal"},
    {"rule a body x tag\n", 1, "pattern must be /regex/flags or \"literal\""},
    {"rule a body \"\" tag\n", 1, "empty pattern"},
    {"rule a body \"x\" zap\n", 1, "unknown action zap"},
    {"rule a body \"x\" accept now\n", 1, "unexpected now after the action"},
    {"rule a body \"x\" reject 450\n", 1, "reply code '450' must be 5xx"},
    {"rule a body \"x\" tempfail 550\n", 1, "reply code '550' must be 4xx"},
    {"rule a body \"x\" reject 550 4.7.1\n", 1, "enhanced status code '4.7.1' must be 5.x.y"},
    {"rule a body \"x\" reject 550 5.7.1 \"bad\\r\\ntext\"\n", 1, "reply text must be printable"},
    {"rule a body \"x\" score\n", 1, "score needs a number"},
    {"rule a body \"x\" score 1.2345\n", 1, "bad number '1.2345'"},
    {"rule a body \"x\" score 2000000\n", 1, "bad number"},
    {"rule a body \"x\" score 1.\n", 1, "bad number"},
    {"rule a body \"x\" tag \"NoColon\"\n", 1, "the tag must be a quoted \"Name: value\""},
    {"rule a body \"x\"\"y\" tag\n", 1, "expected a space after"},
    {"set colour blue\n", 1, "unknown setting 'colour'"},
    {"set tag_score 5\nset tag_score 6\n", 2, "'tag_score' is already set at line 1"},
    {"set header_max 10\n", 1, "header_max must be 1000 to 1048576"},
    {"set policy_header \"X: y\"\n", 1, "policy_header must be a header name"},
    {"set reject_reply\n", 1, "a setting is: set KEY VALUE"},
    {"rule a body \"x\" tag\x01\n", 1, "control character 0x01"},
    /* compile errors: file, line, rule, pattern */
    {"rule ok body /fine/ tag\nrule a body /(ab/ tag\n", 2,
     "rule 'a': cannot compile pattern /(ab/"},
    {"\nrule br body /(a)\\1/ tag\n", 2, "rule 'br': cannot compile pattern /(a)\\1/"},
    {"rule la body /foo(?=bar)/ tag\n", 1, "rule 'la': cannot compile pattern /foo(?=bar)/"},
    {"rule lb subject /(?<!x)y/ tag\n", 1, "rule 'lb': cannot compile pattern /(?<!x)y/"},
    {"rule e body /x*/ tag\n", 1, "rule 'e': cannot compile pattern /x*/"},
};

static void test_bad(void)
{
	for (size_t i = 0; i < sizeof(bad_cases) / sizeof(bad_cases[0]); i++) {
		const struct bad *b = &bad_cases[i];
		struct pol_rules *r = NULL;
		struct pol_error err = {{0}};
		char prefix[64];
		int rc = pol_rules_load_mem("test.rules", b->text, strlen(b->text), NULL, &r, &err);

		snprintf(prefix, sizeof(prefix), "test.rules:%u: ", b->line);
		CHECK(rc == -EINVAL && !r, "case %zu: rc %d", i, rc);
		CHECK(!strncmp(err.msg, prefix, strlen(prefix)) && strstr(err.msg, b->want),
		      "case %zu: message '%s' (want '%s' ... '%s')", i, err.msg, prefix, b->want);
		pol_rules_put(r);
	}
}

static void test_good(void)
{
	static const char text[] = "# comment line\r\n"
	                           "\r\n"
	                           "   \t  # indented comment\n"
	                           "set reject_score 12.5\n"
	                           "set tag_score -0.5\n"
	                           "set reject_reply 554 5.7.0 \"Go away\"\n"
	                           "set tag_header \"X-Spam: yes\"\n"
	                           "set policy_header X-Policy\n"
	                           "set score_header X-Score\n"
	                           "set header_max 2000\n"
	                           "rule\tr1\tclient\t/^10\\./\taccept   # trailing comment\r\n"
	                           "rule r2 helo /x/i reject\n"
	                           "rule r3 mail /x/m tempfail 421\n"
	                           "rule r4 rcpt /x/s discard\n"
	                           "rule r5 header /x/u quarantine\n"
	                           "rule r6 header:List-Id \"x\"i tag \"X-List: yes\"\n"
	                           "rule r7 subject \"a\\\"b\\\\c\\x41\\t\" score -2.25\n"
	                           "rule r8 body /\\/path\\// reject 550 5.7.1\n"
	                           "rule r9 body \"\\r\\n.\\r\\n\" score +3\n"
	                           "rule r10.x_y:z-w header:SUBJECT \"s\" tag\n";
	struct pol_rules *r = NULL;
	struct pol_error err = {{0}};
	struct pol_rules_info info;
	int rc = pol_rules_load_mem("good.rules", text, strlen(text), NULL, &r, &err);

	CHECK(rc == 0 && r, "valid file loads: %s", err.msg);
	if (!r)
		return;
	pol_rules_info(r, &info);
	/* client helo mail rcpt header, List-Id, Subject, body */
	CHECK(info.nrules == 10 && info.ndb == 8, "10 rules in 8 databases: %u %u", info.nrules,
	      info.ndb);
	CHECK(info.cache == POL_CACHE_OFF && strlen(info.key) == 32 && info.stream_bytes > 0,
	      "info");
	pol_rules_put(r);

	rc = pol_rules_load_mem("empty.rules", "", 0, NULL, &r, &err);
	CHECK(rc == 0 && r, "an empty file is an empty rule set");
	if (r) {
		pol_rules_info(r, &info);
		CHECK(info.nrules == 0 && info.ndb == 0, "no databases");
		pol_rules_put(r);
	}
	rc = pol_rules_load("/nonexistent/dir/sluice.rules", NULL, &r, &err);
	CHECK(rc == -ENOENT && strstr(err.msg, "/nonexistent/dir/sluice.rules: cannot open"),
	      "missing file: %d %s", rc, err.msg);
}

/* Escapes in literals reach Hyperscan as the bytes they stand for. */
static void test_literal_bytes(void)
{
	struct pol_rules *r = tp_load("rule q body \"a\\\"b\\\\c\\x41\\t|(\" tag\n");
	struct pol_core *c = tp_core(r, 1);
	struct pol_verdict v;
	char ids[64];
	const char hit[] = "\r\nxx a\"b\\cA\t|( yy\r\n";
	const char miss[] = "\r\nxx a\"b\\cA |( yy\r\n";

	tp_run(c, "s@x", hit, sizeof(hit) - 1, NULL, 0, &v, ids, sizeof(ids));
	CHECK(!strcmp(ids, "q"), "escaped literal matches its bytes");
	tp_run(c, "s@x", miss, sizeof(miss) - 1, NULL, 0, &v, ids, sizeof(ids));
	CHECK(!strcmp(ids, ""), "and nothing else");
	pol_core_destroy(c);
	pol_rules_put(r);
}

static const char seed_text[] = "set reject_score 10\nset tag_header \"X-Spam: yes\"\n"
                                "rule a client /^10\\./ accept\n"
                                "rule b helo /x/i reject 550 5.7.1 \"Bad\"\n"
                                "rule c mail \"spam\" tempfail 451\n"
                                "rule d rcpt /^u[0-9]+@/ discard\n"
                                "rule e header:X-M /m{2,4}/ quarantine\n"
                                "rule f subject \"\\x41b\"i tag \"X-T: 1\"\n"
                                "rule g body /b\\s+c/s score 2.5\n"
                                "rule h header /^Rec/ tag\n";

static void test_mutations(void)
{
	struct tp_rng rng = {tp_seed()};
	struct guard_buf g;
	char buf[sizeof(seed_text) + 64];
	unsigned loaded = 0, bad = 0;
	const char alphabet[] = "rule set body \"/\\:x#\n\t 5.7.1 accept tag score i";

	if (guard_init(&g, sizeof(buf))) {
		CHECK(0, "guard_init");
		return;
	}
	for (unsigned it = 0; it < 600; it++) {
		size_t n = sizeof(seed_text) - 1;

		memcpy(buf, seed_text, n);
		for (unsigned k = 1 + (unsigned)tp_below(&rng, 4); k && n; k--) {
			size_t at = tp_below(&rng, n);
			char ch = alphabet[tp_below(&rng, sizeof(alphabet) - 1)];

			switch (tp_below(&rng, 4)) {
			case 0:
				buf[at] = ch;
				break;
			case 1: /* insert */
				if (n + 1 < sizeof(buf)) {
					memmove(buf + at + 1, buf + at, n - at);
					buf[at] = ch;
					n++;
				}
				break;
			case 2:
				memmove(buf + at, buf + at + 1, n - at - 1);
				n--;
				break;
			default:
				n = at;
				break; /* cut: no final newline, maybe mid-token */
			}
		}
		struct pol_rules *r = NULL;
		struct pol_error err = {{0}};
		int rc =
		    pol_rules_load_mem("test.rules", guard_copy(&g, buf, n), n, NULL, &r, &err);

		if (rc == 0) {
			struct pol_core *c = tp_core(r, 1);
			struct pol_verdict v;
			static const char msg[] = "X-M: mmm\r\nSubject: ab\r\n\r\nb  c\r\n";

			loaded++;
			tp_run(c, "spam@x", msg, sizeof(msg) - 1, NULL, 0, &v, NULL, 0);
			pol_core_destroy(c);
			pol_rules_put(r);
		} else if (rc != -EINVAL || strncmp(err.msg, "test.rules:", 11)) {
			bad++;
			fprintf(stderr, "mutation %u: rc %d '%s'\n", it, rc, err.msg);
		}
	}
	guard_free(&g);
	CHECK(bad == 0 && loaded > 0 && loaded < 600,
	      "600 mutated files: %u bad outcomes (%u loaded)", bad, loaded);
}

int main(void)
{
	test_bad();
	test_good();
	test_literal_bytes();
	test_mutations();
	return tp_summary();
}
