/* SPDX-License-Identifier: MIT */
/*
 * test_session_variants.c - the session gives identical replies and events with every DATA
 * scanner variant (scalar, SSE4.2, AVX2, AVX-512: whatever smtp_scan_impls() says this CPU runs).
 *
 * The variant is chosen once per process (smtp_scan_select(), forced by SLUICE_SCAN), so the
 * test runs itself once per variant ("--child": run the corpus, print every reply stream and
 * event log) and compares each child's output with the scalar one's. The corpus: fixed
 * sessions (stuffing, smuggling vectors, long lines, BDAT) and pseudo-random messages rich in
 * CR, LF and dots, in reject and normalize mode, fed in pseudo-random pieces.
 */
#include <sys/wait.h>
#include <unistd.h>

#include "tests/parser/smtp_cases.h"

#define ENV "EHLO c\r\nMAIL FROM:<a@b>\r\nRCPT TO:<c@d>\r\nDATA\r\n"

static const char *const fixed[] = {
    ENV "Subject: x\r\n\r\n..a\r\n.b\r\n..\r\n.\r\nQUIT\r\n",
    ENV "a\n.\nMAIL FROM:<e@f>\r\nRCPT TO:<g@h>\r\nDATA\r\nx\r\n.\r\nQUIT\r\n",
    ENV "a\r.\r\nb\r\n.\r\n",
    ENV "a\r\n.\rb\r\n.\r\n",
    ENV "\r\n\r\n\r\r\r\n\n\n.\r\n",
    ENV ".\r\n",
    ENV "..\r\n.\r\n",
    ENV "x\r\n..\r\n\r\n.\r\n",
    "EHLO c\r\nMAIL FROM:<a@b>\r\nRCPT TO:<c@d>\r\nBDAT 9 LAST\r\n\r\n.\r\n\n.\n\rQUIT\r\n",
};

static uint64_t rng_state;

static uint32_t rng(void)
{
	rng_state = rng_state * 6364136223846793005ull + 1442695040888963407ull;
	return (uint32_t)(rng_state >> 33);
}

/* A message body biased towards the bytes the scanner cares about. */
static size_t random_session(char *out, size_t cap)
{
	static const char alphabet[] = "\r\n.\r\n.ab \r\n\r\n..x\n\r";
	size_t n = 0, body = rng() % (cap - 200);

	n += (size_t)sprintf(out, ENV);
	for (size_t i = 0; i < body; i++) {
		uint32_t r = rng();

		if (r % 4 == 0)
			out[n++] = alphabet[(r >> 8) % (sizeof(alphabet) - 1)];
		else if (r % 97 == 1 && n > 2 && out[n - 1] == '\n' && out[n - 2] == '\r')
			out[n++] = '.', out[n++] = '\r', out[n++] = '\n'; /* an early end */
		else
			out[n++] = (char)('A' + (r >> 8) % 26);
	}
	n += (size_t)sprintf(out + n, "\r\n.\r\nQUIT\r\n");
	return n;
}

static int child_bad;

static void dump(const char *in, size_t len, const char *cfgspec, const size_t *pattern,
                 unsigned np, unsigned ev_cap)
{
	struct smtp_config cfg;
	struct h_opts o;
	struct h_result r;

	h_cfg_apply(&cfg, cfgspec);
	memset(&o, 0, sizeof(o));
	o.cfg = &cfg;
	o.pattern = pattern;
	o.npattern = np;
	o.ev_cap = ev_cap;
	h_run(in, len, &o, &r);
	printf("== %s err=%s state=%u\n", cfgspec ? cfgspec : "default", r.err, r.state);
	if (r.err[0]) {
		fprintf(stderr, "child: %s\n", r.err);
		child_bad = 1;
	}
	fwrite(r.replies, 1, r.rlen, stdout);
	fwrite(r.log, 1, r.llen, stdout);
	h_free(&r);
}

static int child(void)
{
	static char buf[40000];
	const char *want = getenv("SLUICE_SCAN");
	static const char *const cfgs[] = {NULL, "normalize", "max_text_line=40",
	                                   "normalize max_text_line=40 max_size=3000"};

	if (want == NULL || strcmp(smtp_scan_select()->name, want) != 0) {
		fprintf(stderr, "child: variant %s not selected\n", want ? want : "(none)");
		return 1;
	}
	for (size_t i = 0; i < sizeof(fixed) / sizeof(fixed[0]); i++)
		for (size_t c = 0; c < 4; c++)
			dump(fixed[i], strlen(fixed[i]), cfgs[c], NULL, 0, 0);
	rng_state = 12345;
	for (int i = 0; i < 300; i++) {
		size_t len = random_session(buf, sizeof(buf));
		size_t pattern[8];

		for (int k = 0; k < 8; k++)
			pattern[k] = 1 + rng() % (k < 4 ? 7 : 5000);
		dump(buf, len, cfgs[i % 4], i % 3 ? pattern : NULL, 8, i % 5 == 0 ? 2 : 0);
	}
	return child_bad;
}

/* Run ourselves with SLUICE_SCAN=name; collect stdout. */
static char *run_child(const char *self, const char *name, size_t *len)
{
	int fd[2];
	pid_t pid;
	size_t cap = 1 << 20, n = 0;
	char *out = malloc(cap);
	int status;

	if (pipe(fd) != 0)
		return NULL;
	pid = fork();
	if (pid == 0) {
		dup2(fd[1], 1);
		close(fd[0]);
		setenv("SLUICE_SCAN", name, 1);
		execl(self, self, "--child", (char *)NULL);
		_exit(127);
	}
	close(fd[1]);
	for (;;) {
		ssize_t k;

		if (cap - n < 65536)
			out = realloc(out, cap *= 2);
		k = read(fd[0], out + n, cap - n);
		if (k <= 0)
			break;
		n += (size_t)k;
	}
	close(fd[0]);
	waitpid(pid, &status, 0);
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
		free(out);
		return NULL;
	}
	*len = n;
	return out;
}

int main(int argc, char **argv)
{
	unsigned n, passed = 0, failed = 0;
	const struct smtp_scan_impl *impls = smtp_scan_impls(&n);
	char self[4096];
	ssize_t sl;
	char *ref = NULL;
	size_t rlen = 0;

	if (argc > 1 && strcmp(argv[1], "--child") == 0)
		return child();
	sl = readlink("/proc/self/exe", self, sizeof(self) - 1);
	if (sl <= 0) {
		printf("cannot find own executable: skipped\n");
		return 77;
	}
	self[sl] = '\0';
	for (unsigned i = 0; i < n; i++) {
		size_t len = 0;
		char *out = run_child(self, impls[i].name, &len);

		if (out == NULL) {
			fprintf(stderr, "FAIL variant %s: child failed\n", impls[i].name);
			failed++;
			continue;
		}
		if (i == 0) {
			ref = out, rlen = len;
			passed++;
			continue;
		}
		if (len != rlen || memcmp(out, ref, len) != 0) {
			size_t k = 0, h;

			while (k < len && k < rlen && out[k] == ref[k])
				k++;
			h = k; /* back to the start of the session ("== ...") */
			while (h > 0 && !(ref[h - 1] == '\n' && ref[h] == '=' && ref[h + 1] == '='))
				h--;
			fprintf(stderr,
			        "FAIL variant %s differs from %s at octet %zu\n"
			        "--- %s, from the session start\n%.*s\n--- %s, differing "
			        "part\n%.400s\n",
			        impls[i].name, impls[0].name, k, impls[0].name, (int)(k - h + 400),
			        ref + h, impls[i].name, out + k);
			failed++;
		} else {
			passed++;
		}
		printf("variant %s: %zu octets of replies and events\n", impls[i].name, len);
		free(out);
	}
	free(ref);
	printf("%u passed, %u failed\n", passed, failed);
	return failed != 0;
}
