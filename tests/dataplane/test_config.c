/* SPDX-License-Identifier: MIT */
/*
 * test_config.c - configuration of dataplane/dp_config.c, dp_conf_finish.c and dp_flags.c:
 * built-in defaults, a global file with every section, per-core files and their inheritance,
 * command-line flags over files, and errors that must name file, line and key.
 */
#include <errno.h>
#include <limits.h>
#include <sys/stat.h>

#include "dataplane/dp_config.h"
#include "tests/dataplane/dp_test.h"

static char dir[256];

static void path_of(char *out, size_t len, const char *name)
{
	snprintf(out, len, "%s/%s", dir, name);
}

static int load(struct dp_conf *c, const char *name, const char *text, char *err, size_t errlen)
{
	char p[512];

	path_of(p, sizeof(p), name);
	dp_test_write(p, text);
	dp_conf_defaults(c);
	err[0] = '\0';
	return dp_conf_load(c, p, err, errlen);
}

static int finish(struct dp_conf *c, int argc, char **argv, char *err, size_t errlen)
{
	struct dp_flags f;
	int rc = dp_flags_parse(&f, argc, argv, err, errlen);

	if (rc)
		return rc;
	return dp_conf_finish(c, &f, err, errlen);
}

static void test_defaults(void)
{
	struct dp_conf c;
	char err[512], *argv[] = {"sluiced"};
	int rc;

	dp_conf_defaults(&c);
	rc = finish(&c, 1, argv, err, sizeof(err));
	REQUIRE(rc == 0, "finish: %s", err);
	CHECK(c.nworkers == 1, "workers %u", c.nworkers);
	CHECK(c.w[0].nlisten == 1 && strcmp(c.w[0].listen[0].text, "127.0.0.1:2525") == 0,
	      "listen %s", c.w[0].listen[0].text);
	CHECK(strcmp(c.w[0].spool.dir, "spool") == 0, "spool %s", c.w[0].spool.dir);
	CHECK(c.w[0].cpu == 0, "cpu %d", c.w[0].cpu);
	CHECK(c.smtp.hostname[0] != '\0', "hostname empty");
	CHECK(strcmp(c.w[0].spool.hostname, c.smtp.hostname) == 0, "spool hostname %s",
	      c.w[0].spool.hostname);
	CHECK(c.shutdown_timeout_ms == 10000, "shutdown %u", c.shutdown_timeout_ms);
	CHECK(c.w[0].limits.cmd_timeout_ms == 300000, "command timeout %u",
	      c.w[0].limits.cmd_timeout_ms);
	CHECK(c.w[0].limits.data_timeout_ms == 180000, "data timeout %u",
	      c.w[0].limits.data_timeout_ms);
	CHECK(c.backend == DP_BACKEND_URING && c.log_target == DP_LOG_STDERR, "backend/log");
	CHECK(c.user[0] == '\0' && !c.metrics_on, "user/metrics");
	dp_conf_free(&c);
}

static const char full[] = "; the global file\n"
                           "[sluice]\n"
                           "hostname = mx.example.net\n"
                           "user = mail\n"
                           "workers = 2\n"
                           "shutdown_timeout = 3s\n"
                           "log = syslog\n"
                           "log_level = debug\n"
                           "metrics = 127.0.0.1:9125\n"
                           "[smtp]\n"
                           "capabilities = pipelining, size 8bitmime\n"
                           "max_message_size = 25M\n"
                           "max_recipients = 500\n"
                           "max_errors = 5\n"
                           "max_line = 2k\n"
                           "vrfy = 550\n"
                           "bare_newline = normalize\n"
                           "[listen]\n"
                           "address = 127.0.0.1:25\n"
                           "address = [::1]:25\n"
                           "[limits]\n"
                           "max_connections = 300\n"
                           "max_connections_per_client = 4\n"
                           "[timeouts]\n"
                           "command = 2m\n"
                           "data = 90s\n"
                           "session = 0\n"
                           "min_data_rate = 1k\n"
                           "[buffers]\n"
                           "recv_buffers = 64\n"
                           "recv_buffer_size = 8k\n"
                           "conn_rx_size = 16k\n"
                           "[spool]\n"
                           "dir = /var/spool/sluice\n"
                           "batch_usec = 250\n"
                           "batch_bytes = 256k\n";

static void test_full_file(void)
{
	struct dp_conf c;
	char err[512], *argv[] = {"sluiced"};

	REQUIRE(load(&c, "full.conf", full, err, sizeof(err)) == 0, "load: %s", err);
	REQUIRE(finish(&c, 1, argv, err, sizeof(err)) == 0, "finish: %s", err);
	CHECK(strcmp(c.smtp.hostname, "mx.example.net") == 0, "hostname %s", c.smtp.hostname);
	CHECK(strcmp(c.user, "mail") == 0, "user %s", c.user);
	CHECK(c.nworkers == 2 && c.w[1].cpu == 1, "workers %u", c.nworkers);
	CHECK(c.shutdown_timeout_ms == 3000, "shutdown %u", c.shutdown_timeout_ms);
	CHECK(c.log_target == DP_LOG_SYSLOG && c.log_level == DP_LOG_DEBUG, "log");
	CHECK(c.metrics_on && strcmp(c.metrics.text, "127.0.0.1:9125") == 0, "metrics");
	CHECK(c.smtp.caps == (SMTP_CAP_PIPELINING | SMTP_CAP_SIZE | SMTP_CAP_8BITMIME), "caps %x",
	      c.smtp.caps);
	CHECK(c.smtp.max_message_size == 25u << 20, "max size");
	CHECK(c.smtp.max_recipients == 500 && c.smtp.max_errors == 5, "recipients/errors");
	CHECK(c.smtp.max_line == 2048 && c.smtp.vrfy_code == 550, "line/vrfy");
	CHECK(c.smtp.bare_newline == SMTP_BARE_NORMALIZE, "bare newline");
	for (unsigned i = 0; i < 2; i++) {
		const struct dp_worker_conf *w = &c.w[i];

		CHECK(w->nlisten == 2 && strcmp(w->listen[1].text, "[::1]:25") == 0, "listen");
		CHECK(w->limits.max_conns == 300 && w->limits.max_conns_per_client == 4, "limits");
		CHECK(w->limits.cmd_timeout_ms == 120000 && w->limits.data_timeout_ms == 90000,
		      "timeouts");
		CHECK(w->limits.session_timeout_ms == 0 && w->limits.min_data_rate == 1024, "rate");
		CHECK(w->recv_buffers == 64 && w->recv_buffer_size == 8192, "buffers");
		CHECK(strcmp(w->spool.dir, "/var/spool/sluice") == 0, "spool dir %s", w->spool.dir);
		CHECK(w->spool.batch_usec == 250 && w->spool.batch_bytes == 256 * 1024, "batch");
		CHECK(strcmp(w->spool.hostname, "mx.example.net") == 0, "spool hostname");
	}
	dp_conf_free(&c);
}

/* [policy]: off by default; rules and cache_dir from the file; --policy overrides rules. */
static void test_policy(void)
{
	static const char text[] = "[policy]\nrules = /etc/sluice/a.rules\n"
	                           "cache_dir = /var/cache/sluice\n";
	struct dp_conf c;
	char err[512], *argv[] = {"sluiced"}, *argv2[] = {"sluiced", "--policy", "/tmp/b.rules"};

	dp_conf_defaults(&c);
	REQUIRE(finish(&c, 1, argv, err, sizeof(err)) == 0, "finish: %s", err);
	CHECK(c.policy_rules[0] == '\0' && c.policy_cache_dir[0] == '\0', "policy off by default");
	dp_conf_free(&c);
	REQUIRE(load(&c, "policy.conf", text, err, sizeof(err)) == 0, "load: %s", err);
	REQUIRE(finish(&c, 1, argv, err, sizeof(err)) == 0, "finish: %s", err);
	CHECK(strcmp(c.policy_rules, "/etc/sluice/a.rules") == 0, "rules %s", c.policy_rules);
	CHECK(strcmp(c.policy_cache_dir, "/var/cache/sluice") == 0, "cache %s", c.policy_cache_dir);
	dp_conf_free(&c);
	REQUIRE(load(&c, "policy.conf", text, err, sizeof(err)) == 0, "load: %s", err);
	REQUIRE(finish(&c, 3, argv2, err, sizeof(err)) == 0, "finish: %s", err);
	CHECK(strcmp(c.policy_rules, "/tmp/b.rules") == 0, "--policy: rules %s", c.policy_rules);
	dp_conf_free(&c);
	REQUIRE(load(&c, "policy2.conf", "[policy]\nrules =\n", err, sizeof(err)) != 0,
	        "an empty rules value is refused");
	CHECK(strstr(err, "rules") != NULL, "error names the key: %s", err);
	dp_conf_free(&c);
}

struct bad_case {
	const char *text;
	const char *want; /* after "PATH:" */
};

static void test_errors(void)
{
	char longline[400];
	static struct bad_case c[] = {
	    {"[smtp]\nmax_line = 100\n", "2: [smtp] max_line: 100 is outside 512..65536"},
	    {"[smtp]\n\nfoo = 1\n", "3: [smtp] foo: unknown key"},
	    {"[nope]\nx = 1\n", "2: [nope] x: unknown section"},
	    {"[worker]\ncpu = 1\n", "2: [worker] cpu: only allowed in a core file"},
	    {"[sluice]\nworkers = zero\n", "2: [sluice] workers: 'zero' is not an unsigned"},
	    {"[sluice]\nworkers = 0\n", "2: [sluice] workers: 0 is outside 1..256"},
	    {"[timeouts]\ncommand = 5 minutes\n", "2: [timeouts] command: '5 minutes' is not a "
	                                          "duration"},
	    {"[listen]\naddress = ::1:25\n", "2: [listen] address: '::1:25' is not ADDR:PORT"},
	    {"[smtp]\ncapabilities = pipelining, foo\n",
	     "2: [smtp] capabilities: unknown capability 'foo'"},
	    {"; c\n\n[sluice]\nbackend = xdp\n", "4: [sluice] backend: 'xdp' is not uring"},
	    {"[sluice]\nthis line has no equals sign\n", "2: not a [section] or key = value"},
	    {"[spool]\ndir =\n", "2: [spool] dir: value is empty"},
	    {"[smtp]\nbare_newline = strip\n", "2: [smtp] bare_newline: 'strip' is not reject"},
	    {"[spool]\nbatch_bytes = 0\n", "2: [spool] batch_bytes: 0 is outside"},
	    {NULL, "3: line longer than 199 characters"},
	};

	memset(longline, 0, sizeof(longline));
	snprintf(longline, sizeof(longline), "[sluice]\nhostname = a\nuser = %0300d\n", 7);
	c[sizeof(c) / sizeof(c[0]) - 1].text = longline;
	for (size_t i = 0; i < sizeof(c) / sizeof(c[0]); i++) {
		struct dp_conf conf;
		char err[512], want[600], p[512];
		int rc = load(&conf, "bad.conf", c[i].text, err, sizeof(err));

		path_of(p, sizeof(p), "bad.conf");
		snprintf(want, sizeof(want), "%s:%s", p, c[i].want);
		CHECK(rc == -EINVAL, "case %zu: rc %d", i, rc);
		CHECK(strncmp(err, want, strlen(want)) == 0, "case %zu:\n  got  %s\n  want %s", i,
		      err, want);
		dp_conf_free(&conf);
	}
}

static void mkdir_or_die(const char *p)
{
	if (mkdir(p, 0755) != 0 && errno != EEXIST) {
		perror(p);
		exit(1);
	}
}

static void test_cores_and_flags(void)
{
	struct dp_conf c;
	char err[512], p[512];
	char *argv[] = {
	    "sluiced",  "--workers",      "3",           "--listen", "[::1]:2700",
	    "--listen", "127.0.0.1:2701", "--spool",     "/tmp/x",   "--max-message-size",
	    "10M",      "--hostname",     "flag.example"};

	path_of(p, sizeof(p), "multi");
	mkdir_or_die(p);
	path_of(p, sizeof(p), "multi/cores");
	mkdir_or_die(p);
	path_of(p, sizeof(p), "multi/cores/b.conf");
	dp_test_write(p, "[limits]\nmax_connections = 7\n");
	path_of(p, sizeof(p), "multi/cores/a.conf");
	dp_test_write(p, "[worker]\ncpu = 1\n[listen]\naddress = 127.0.0.1:2600\n");
	path_of(p, sizeof(p), "multi/cores/README");
	dp_test_write(p, "not a core file\n");
	path_of(p, sizeof(p), "multi/cores/.hidden.conf");
	dp_test_write(p, "[nope]\n");

	REQUIRE(load(&c, "multi/g.conf",
	             "[listen]\naddress = 127.0.0.1:2500\n[limits]\n"
	             "max_connections = 50\n",
	             err, sizeof(err)) == 0,
	        "load: %s", err);
	REQUIRE(c.nworkers == 2, "core files read: %u", c.nworkers);
	{
		char *argv0[] = {"sluiced"};

		REQUIRE(finish(&c, 1, argv0, err, sizeof(err)) == 0, "finish: %s", err);
	}
	CHECK(strstr(c.w[0].file, "cores/a.conf") != NULL, "sorted: %s", c.w[0].file);
	CHECK(c.w[0].cpu == 1 && c.w[1].cpu == 1, "cpu %d %d", c.w[0].cpu, c.w[1].cpu);
	CHECK(c.w[0].nlisten == 1 && strcmp(c.w[0].listen[0].text, "127.0.0.1:2600") == 0,
	      "core listen %s", c.w[0].listen[0].text);
	CHECK(c.w[1].nlisten == 1 && strcmp(c.w[1].listen[0].text, "127.0.0.1:2500") == 0,
	      "inherited listen %s", c.w[1].listen[0].text);
	CHECK(c.w[0].limits.max_conns == 50 && c.w[1].limits.max_conns == 7, "limits %u %u",
	      c.w[0].limits.max_conns, c.w[1].limits.max_conns);
	dp_conf_free(&c);

	REQUIRE(load(&c, "multi/g.conf", "[limits]\nmax_connections = 50\n", err, sizeof(err)) == 0,
	        "load: %s", err);
	REQUIRE(finish(&c, sizeof(argv) / sizeof(argv[0]), argv, err, sizeof(err)) == 0,
	        "finish with flags: %s", err);
	CHECK(c.nworkers == 3, "--workers 3: %u", c.nworkers);
	CHECK(c.w[2].cpu == 2 && c.w[2].file[0] == '\0', "third worker from defaults");
	CHECK(c.w[2].limits.max_conns == 50, "third worker inherits the global file");
	for (unsigned i = 0; i < 3; i++) {
		CHECK(c.w[i].nlisten == 2 && strcmp(c.w[i].listen[0].text, "[::1]:2700") == 0 &&
		          strcmp(c.w[i].listen[1].text, "127.0.0.1:2701") == 0,
		      "--listen replaces worker %u", i);
		CHECK(strcmp(c.w[i].spool.dir, "/tmp/x") == 0, "--spool worker %u", i);
		CHECK(strcmp(c.w[i].spool.hostname, "flag.example") == 0, "spool hostname");
	}
	CHECK(c.smtp.max_message_size == 10u << 20, "--max-message-size");
	CHECK(strcmp(c.smtp.hostname, "flag.example") == 0, "--hostname");
	dp_conf_free(&c);

	/* An error in a core file names that file. */
	path_of(p, sizeof(p), "multi/cores/b.conf");
	dp_test_write(p, "[limits]\nmax_connections = 7\n[sluice]\nhostname = x\n");
	CHECK(load(&c, "multi/g.conf", "", err, sizeof(err)) == -EINVAL, "core file error");
	CHECK(strstr(err, "cores/b.conf:4: [sluice] hostname: only allowed in the global file"),
	      "core error: %s", err);
	dp_conf_free(&c);

	/* An explicit cores directory must exist. */
	CHECK(load(&c, "multi/g.conf", "[sluice]\ncores = missing\n", err, sizeof(err)) == -ENOENT,
	      "missing cores dir");
	CHECK(strstr(err, "missing: cannot open the cores directory"), "%s", err);
	dp_conf_free(&c);
}

static void test_flag_errors(void)
{
	static const struct {
		const char *args[4];
		const char *want;
	} c[] = {
	    {{"--workers", "0"}, "--workers: '0' is not 1..256"},
	    {{"--listen", "localhost:25"}, "--listen: 'localhost:25' is not ADDR:PORT"},
	    {{"--backend", "xdp"}, "--backend: 'xdp' is not uring or dpdk"},
	    {{"--max-message-size", "lots"}, "--max-message-size: 'lots' is not a size"},
	    {{"--bogus"}, "--bogus: unknown option"},
	    {{"--spool"}, "--spool: unknown option or missing value"},
	    {{"extra"}, "unexpected argument 'extra'"},
	};

	for (size_t i = 0; i < sizeof(c) / sizeof(c[0]); i++) {
		char *argv[6] = {"sluiced"};
		int argc = 1;
		struct dp_flags f;
		char err[256] = "";

		for (int k = 0; k < 4 && c[i].args[k]; k++)
			argv[argc++] = (char *)c[i].args[k];
		CHECK(dp_flags_parse(&f, argc, argv, err, sizeof(err)) == -EINVAL, "case %zu", i);
		CHECK(strstr(err, c[i].want) != NULL, "case %zu: %s", i, err);
	}
}

static void test_finish_errors(void)
{
	struct dp_conf c;
	char err[512];
	char *dpdk[] = {"sluiced", "--backend", "dpdk"};
	char *none[] = {"sluiced"};

	dp_conf_defaults(&c);
	CHECK(finish(&c, 3, dpdk, err, sizeof(err)) == -EINVAL, "dpdk without a port accepted");
	CHECK(strstr(err, "backend dpdk: [dpdk] port is not set"), "%s", err);
	dp_conf_free(&c);

	REQUIRE(load(&c, "small.conf", "[buffers]\nconn_rx_size = 8k\n", err, sizeof(err)) == 0,
	        "%s", err);
	CHECK(finish(&c, 1, none, err, sizeof(err)) == -EINVAL, "small rx accepted");
	CHECK(strstr(err, "small.conf: [buffers] conn_rx_size: 8192 is less than "
	                  "recv_buffer_size (16384) + [smtp] max_line"),
	      "%s", err);
	dp_conf_free(&c);

	REQUIRE(load(&c, "pow.conf", "[buffers]\nrecv_buffers = 100\n", err, sizeof(err)) == 0,
	        "%s", err);
	CHECK(finish(&c, 1, none, err, sizeof(err)) == -EINVAL, "100 buffers accepted");
	CHECK(strstr(err, "recv_buffers: 100 is not a power of two"), "%s", err);
	dp_conf_free(&c);
}

static void test_reloadable(void)
{
	struct dp_conf a, b;
	char err[512], *none[] = {"sluiced"};

	REQUIRE(load(&a, "r1.conf", "[sluice]\nhostname = one\n", err, sizeof(err)) == 0, "%s",
	        err);
	REQUIRE(finish(&a, 1, none, err, sizeof(err)) == 0, "%s", err);
	REQUIRE(load(&b, "r2.conf",
	             "[sluice]\nhostname = two\nlog_level = error\n[smtp]\nmax_recipients = 7\n"
	             "[limits]\nmax_connections = 9\n[spool]\ndir = /elsewhere\n",
	             err, sizeof(err)) == 0,
	        "%s", err);
	REQUIRE(finish(&b, 1, none, err, sizeof(err)) == 0, "%s", err);
	dp_conf_reloadable(&a, &b);
	CHECK(strcmp(a.smtp.hostname, "one") == 0, "hostname is not reloaded");
	CHECK(a.smtp.max_recipients == 7 && a.log_level == DP_LOG_ERROR, "smtp/log reloaded");
	CHECK(a.w[0].limits.max_conns == 9, "limits reloaded");
	CHECK(strcmp(a.w[0].spool.dir, "spool") == 0, "spool dir is not reloaded");
	dp_conf_free(&a);
	dp_conf_free(&b);
}

/* The files shipped in conf/ load and give what they say. */
static void test_shipped(const char *path)
{
	struct dp_conf c;
	char err[512], *none[] = {"sluiced"};

	dp_conf_defaults(&c);
	REQUIRE(dp_conf_load(&c, path, err, sizeof(err)) == 0, "%s", err);
	REQUIRE(finish(&c, 1, none, err, sizeof(err)) == 0, "%s", err);
	CHECK(c.nworkers == 2 && c.w[0].cpu == 0 && c.w[1].cpu == 1, "two pinned workers");
	CHECK(strcmp(c.w[1].listen[0].text, "127.0.0.1:2525") == 0, "listen");
	CHECK(strcmp(c.w[0].spool.dir, "spool") == 0, "spool");
	dp_conf_free(&c);
}

int main(int argc, char **argv)
{
	if (argc > 1)
		test_shipped(argv[1]);
	dp_test_tmpdir(dir, sizeof(dir), "config");
	test_defaults();
	test_full_file();
	test_policy();
	test_errors();
	test_cores_and_flags();
	test_flag_errors();
	test_finish_errors();
	test_reloadable();
	dp_test_rmtree(dir);
	return dp_test_finish("test_config");
}
