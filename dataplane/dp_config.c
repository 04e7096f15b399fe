/* SPDX-License-Identifier: MIT */
/*
 * dp_config.c - reads conf/sluice.conf and the per-worker files under its cores directory
 * with inih, through one table of keys {section, name, kind, destination, bounds}.
 *
 * Public functions (dp_config.h): dp_conf_defaults, dp_conf_load, dp_conf_free,
 * dp_conf_reloadable. dp_conf_finish (flags and cross-key checks) is in dp_conf_finish.c.
 *
 * The global file may hold every section except [worker]; a core file may hold the worker
 * sections ([worker], [listen], [limits], [timeouts], [buffers], [spool]) and starts from the
 * values of the global file. In each file, the first [listen] address replaces the inherited
 * list; later ones add to it.
 *
 * Errors: the first error of a file is reported as "FILE:LINE: [section] key: reason"; the
 * return value is -EINVAL (bad content) or -errno from opening the file. inih itself only says
 * "line N is not valid", so lines are counted here by the reader handed to ini_parse_stream().
 */
#include <dirent.h>
#include <sched.h>
#include <errno.h>
#include <ini.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dataplane/dp_config.h"

enum key_kind { K_U32, K_SIZE32, K_SIZE64, K_MS32, K_STR, K_FN };
enum key_base { B_CONF, B_SMTP, B_WORKER, B_SPOOL };

struct parse_ctx;
typedef int (*key_fn)(struct parse_ctx *p, const char *v, char *why, size_t whylen);

struct key_def {
	const char *section;
	const char *name;
	uint8_t kind;
	uint8_t base;
	uint8_t worker; /* allowed in core files */
	size_t off;
	size_t size; /* K_STR: capacity */
	uint64_t min, max;
	key_fn fn;
};

struct parse_ctx {
	struct dp_conf *c;
	struct dp_worker_conf *wc;
	const char *path;
	FILE *f;
	int line;
	int too_long;
	int is_core;
	int listen_reset;
	int failed;
	char *err;
	size_t errlen;
};

static int fn_backend(struct parse_ctx *p, const char *v, char *why, size_t n)
{
	if (strcmp(v, "uring") == 0)
		p->c->backend = DP_BACKEND_URING;
	else if (strcmp(v, "dpdk") == 0)
		p->c->backend = DP_BACKEND_DPDK;
	else
		return snprintf(why, n, "'%s' is not uring or dpdk", v), -EINVAL;
	return 0;
}

static int fn_log(struct parse_ctx *p, const char *v, char *why, size_t n)
{
	if (strcmp(v, "stderr") == 0)
		p->c->log_target = DP_LOG_STDERR;
	else if (strcmp(v, "syslog") == 0)
		p->c->log_target = DP_LOG_SYSLOG;
	else
		return snprintf(why, n, "'%s' is not stderr or syslog", v), -EINVAL;
	return 0;
}

static int fn_log_level(struct parse_ctx *p, const char *v, char *why, size_t n)
{
	static const char *const names[] = {"error", "warning", "info", "debug"};

	for (unsigned i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		if (strcmp(v, names[i]) == 0) {
			p->c->log_level = (uint8_t)i;
			return 0;
		}
	}
	return snprintf(why, n, "'%s' is not error, warning, info or debug", v), -EINVAL;
}

static int fn_metrics(struct parse_ctx *p, const char *v, char *why, size_t n)
{
	if (*v == '\0' || strcmp(v, "off") == 0) {
		p->c->metrics_on = 0;
		return 0;
	}
	if (dp_addr_parse(&p->c->metrics, v) != 0)
		return snprintf(why, n, "'%s' is not ADDR:PORT", v), -EINVAL;
	p->c->metrics_on = 1;
	return 0;
}

static const struct {
	const char *name;
	uint32_t bit;
} cap_names[] = {
    {"pipelining", SMTP_CAP_PIPELINING},
    {"size", SMTP_CAP_SIZE},
    {"8bitmime", SMTP_CAP_8BITMIME},
    {"chunking", SMTP_CAP_CHUNKING},
    {"binarymime", SMTP_CAP_BINARYMIME},
    {"smtputf8", SMTP_CAP_SMTPUTF8},
    {"enhancedstatuscodes", SMTP_CAP_ENHANCEDSTATUSCODES},
};

/* "pipelining size 8bitmime" (spaces or commas), "all" or "none". */
static int fn_caps(struct parse_ctx *p, const char *v, char *why, size_t n)
{
	char word[32];
	uint32_t caps = 0;

	while (*v) {
		size_t len = strcspn(v, " ,\t");
		unsigned i;

		if (len == 0) {
			v++;
			continue;
		}
		if (len >= sizeof(word))
			return snprintf(why, n, "unknown capability '%.*s'", (int)len, v), -EINVAL;
		memcpy(word, v, len);
		word[len] = '\0';
		v += len;
		if (strcasecmp(word, "all") == 0) {
			caps |= SMTP_CAP_ALL;
			continue;
		}
		if (strcasecmp(word, "none") == 0)
			continue;
		for (i = 0; i < sizeof(cap_names) / sizeof(cap_names[0]); i++)
			if (strcasecmp(word, cap_names[i].name) == 0)
				break;
		if (i == sizeof(cap_names) / sizeof(cap_names[0]))
			return snprintf(why, n, "unknown capability '%s'", word), -EINVAL;
		caps |= cap_names[i].bit;
	}
	if ((caps & SMTP_CAP_BINARYMIME) && !(caps & SMTP_CAP_CHUNKING))
		return snprintf(why, n, "binarymime needs chunking"), -EINVAL;
	p->c->smtp.caps = caps;
	return 0;
}

static int parse_code(const char *v, const uint16_t *allowed, unsigned nallowed, uint16_t *out)
{
	uint64_t x;

	if (dp_parse_u64(v, &x) != 0)
		return -EINVAL;
	for (unsigned i = 0; i < nallowed; i++) {
		if (x == allowed[i]) {
			*out = (uint16_t)x;
			return 0;
		}
	}
	return -EINVAL;
}

static int fn_vrfy(struct parse_ctx *p, const char *v, char *why, size_t n)
{
	static const uint16_t ok[] = {252, 502, 550};

	if (parse_code(v, ok, 3, &p->c->smtp.vrfy_code) != 0)
		return snprintf(why, n, "'%s' is not 252, 502 or 550", v), -EINVAL;
	return 0;
}

static int fn_expn(struct parse_ctx *p, const char *v, char *why, size_t n)
{
	static const uint16_t ok[] = {252, 502, 550};

	if (parse_code(v, ok, 3, &p->c->smtp.expn_code) != 0)
		return snprintf(why, n, "'%s' is not 252, 502 or 550", v), -EINVAL;
	return 0;
}

static int fn_bare(struct parse_ctx *p, const char *v, char *why, size_t n)
{
	if (strcmp(v, "reject") == 0)
		p->c->smtp.bare_newline = SMTP_BARE_REJECT;
	else if (strcmp(v, "normalize") == 0)
		p->c->smtp.bare_newline = SMTP_BARE_NORMALIZE;
	else
		return snprintf(why, n, "'%s' is not reject or normalize", v), -EINVAL;
	return 0;
}

static int fn_listen(struct parse_ctx *p, const char *v, char *why, size_t n)
{
	struct dp_worker_conf *wc = p->wc;

	if (p->listen_reset) {
		wc->nlisten = 0;
		p->listen_reset = 0;
	}
	if (wc->nlisten == DP_LISTEN_MAX)
		return snprintf(why, n, "more than %d addresses", DP_LISTEN_MAX), -EINVAL;
	if (dp_addr_parse(&wc->listen[wc->nlisten], v) != 0)
		return snprintf(why, n, "'%s' is not ADDR:PORT (IPv6 as [ADDR]:PORT)", v), -EINVAL;
	wc->nlisten++;
	return 0;
}

static int fn_cpu(struct parse_ctx *p, const char *v, char *why, size_t n)
{
	uint64_t x;

	if (strcmp(v, "none") == 0 || strcmp(v, "-1") == 0) {
		p->wc->cpu = -1;
		return 0;
	}
	if (dp_parse_u64(v, &x) != 0 || x >= CPU_SETSIZE)
		return snprintf(why, n, "'%s' is not a CPU number or none", v), -EINVAL;
	p->wc->cpu = (int)x;
	return 0;
}

#define CONF(f)  B_CONF, 0, offsetof(struct dp_conf, f), sizeof(((struct dp_conf *)0)->f)
#define SMTP(f)  B_SMTP, 0, offsetof(struct smtp_config, f), sizeof(((struct smtp_config *)0)->f)
#define WORK(f)  B_WORKER, 1, offsetof(struct dp_worker_conf, f), 0
#define LIMIT(f) B_WORKER, 1, offsetof(struct dp_worker_conf, limits.f), 0
#define SPOOL(f) B_SPOOL, 1, offsetof(struct spool_config, f), sizeof(((struct spool_config *)0)->f)
#define FN_G     B_CONF, 0, 0, 0
#define FN_W     B_WORKER, 1, 0, 0
#define U32MAX   UINT32_MAX
#define MS_MAX   (24ull * 3600 * 1000)

static const struct key_def keys[] = {
    {"sluice", "hostname", K_STR, SMTP(hostname), 1, 0, NULL},
    {"sluice", "user", K_STR, CONF(user), 0, 0, NULL},
    {"sluice", "backend", K_FN, FN_G, 0, 0, fn_backend},
    {"sluice", "workers", K_U32, CONF(workers), 1, DP_WORKERS_MAX, NULL},
    {"sluice", "cores", K_STR, CONF(cores_dir), 0, 0, NULL},
    {"sluice", "shutdown_timeout", K_MS32, CONF(shutdown_timeout_ms), 0, MS_MAX, NULL},
    {"sluice", "log", K_FN, FN_G, 0, 0, fn_log},
    {"sluice", "log_level", K_FN, FN_G, 0, 0, fn_log_level},
    {"sluice", "syslog_socket", K_STR, CONF(syslog_socket), 1, 0, NULL},
    {"sluice", "metrics", K_FN, FN_G, 0, 0, fn_metrics},
    {"smtp", "capabilities", K_FN, FN_G, 0, 0, fn_caps},
    {"smtp", "max_message_size", K_SIZE64, SMTP(max_message_size), 0, UINT64_MAX, NULL},
    {"smtp", "max_recipients", K_U32, SMTP(max_recipients), 1, 100000, NULL},
    {"smtp", "max_errors", K_U32, SMTP(max_errors), 0, U32MAX, NULL},
    {"smtp", "max_line", K_SIZE32, SMTP(max_line), SMTP_LINE_MIN, 65536, NULL},
    {"smtp", "max_text_line", K_SIZE32, SMTP(max_text_line), 0, U32MAX, NULL},
    {"smtp", "vrfy", K_FN, FN_G, 0, 0, fn_vrfy},
    {"smtp", "expn", K_FN, FN_G, 0, 0, fn_expn},
    {"smtp", "bare_newline", K_FN, FN_G, 0, 0, fn_bare},
    {"worker", "cpu", K_FN, FN_W, 0, 0, fn_cpu},
    {"listen", "address", K_FN, FN_W, 0, 0, fn_listen},
    {"limits", "max_connections", K_U32, LIMIT(max_conns), 1, 1u << 20, NULL},
    {"limits", "max_connections_per_client", K_U32, LIMIT(max_conns_per_client), 0, U32MAX, NULL},
    {"timeouts", "command", K_MS32, LIMIT(cmd_timeout_ms), 1000, MS_MAX, NULL},
    {"timeouts", "data", K_MS32, LIMIT(data_timeout_ms), 1000, MS_MAX, NULL},
    {"timeouts", "session", K_MS32, LIMIT(session_timeout_ms), 0, MS_MAX, NULL},
    {"timeouts", "min_data_rate", K_SIZE32, LIMIT(min_data_rate), 0, U32MAX, NULL},
    {"timeouts", "min_data_rate_grace", K_MS32, LIMIT(min_data_rate_grace_ms), 0, MS_MAX, NULL},
    {"buffers", "ring_entries", K_U32, WORK(ring_entries), 64, 32768, NULL},
    {"buffers", "recv_buffers", K_U32, WORK(recv_buffers), 16, 32768, NULL},
    {"buffers", "recv_buffer_size", K_SIZE32, WORK(recv_buffer_size), 512, 1u << 20, NULL},
    {"buffers", "conn_rx_size", K_SIZE32, WORK(conn_rx_size), 2048, 16u << 20, NULL},
    {"buffers", "conn_tx_size", K_SIZE32, WORK(conn_tx_size), 2 * SMTP_REPLY_MAX, 1u << 20, NULL},
    {"buffers", "envelope_size", K_SIZE32, WORK(envelope_size), 1024, 16u << 20, NULL},
    {"spool", "dir", K_STR, SPOOL(dir), 1, 0, NULL},
    {"spool", "segment_size", K_SIZE64, SPOOL(segment_size), 1u << 16, UINT64_MAX, NULL},
    {"spool", "batch_bytes", K_SIZE64, SPOOL(batch_bytes), 1, UINT64_MAX, NULL},
    {"spool", "batch_usec", K_U32, SPOOL(batch_usec), 0, 10000000, NULL},
    {"spool", "quota", K_SIZE64, SPOOL(quota_bytes), 0, UINT64_MAX, NULL},
    {"spool", "max_messages", K_U32, SPOOL(max_messages), 1, 1u << 20, NULL},
    {"spool", "batch_buffers", K_U32, SPOOL(batch_buffers), 2, 1024, NULL},
    {"spool", "recheck_usec", K_U32, SPOOL(recheck_usec), 1000, 3600000000u, NULL},
    {"spool", "min_free", K_SIZE64, SPOOL(min_free_bytes), 0, UINT64_MAX, NULL},
    /* [policy]: the rules file (docs/POLICY.md) and the compiled-database cache */
    {"policy", "rules", K_STR, CONF(policy_rules), 1, 0, NULL},
    {"policy", "cache_dir", K_STR, CONF(policy_cache_dir), 1, 0, NULL},
    /* [dpdk]: the DPDK backend; values are checked when it starts (dataplane/dpdk/) */
    {"dpdk", "eal_args", K_STR, CONF(dpdk.eal_args), 0, 0, NULL},
    {"dpdk", "port", K_STR, CONF(dpdk.port), 1, 0, NULL},
    {"dpdk", "address", K_STR, CONF(dpdk.address), 0, 0, NULL},
    {"dpdk", "netmask", K_STR, CONF(dpdk.netmask), 1, 0, NULL},
    {"dpdk", "gateway", K_STR, CONF(dpdk.gateway), 0, 0, NULL},
};

static void *key_dest(struct parse_ctx *p, const struct key_def *k)
{
	switch (k->base) {
	case B_CONF:
		return (char *)p->c + k->off;
	case B_SMTP:
		return (char *)&p->c->smtp + k->off;
	case B_WORKER:
		return (char *)p->wc + k->off;
	default:
		return (char *)&p->wc->spool + k->off;
	}
}

static int set_number(struct parse_ctx *p, const struct key_def *k, const char *v, char *why,
                      size_t n)
{
	uint64_t x;
	int rc;

	if (k->kind == K_U32)
		rc = dp_parse_u64(v, &x);
	else if (k->kind == K_MS32)
		rc = dp_parse_duration_ms(v, &x);
	else
		rc = dp_parse_size(v, &x);
	if (rc != 0) {
		snprintf(why, n, "'%s' is not %s", v,
		         k->kind == K_MS32  ? "a duration (e.g. 30s, 250ms, 5m)"
		         : k->kind == K_U32 ? "an unsigned number"
		                            : "a size (e.g. 4096, 64k, 10M)");
		return -EINVAL;
	}
	if (x < k->min || x > k->max) {
		snprintf(why, n, "%s is outside %llu..%llu%s", v, (unsigned long long)k->min,
		         (unsigned long long)k->max, k->kind == K_MS32 ? " ms" : "");
		return -ERANGE;
	}
	if (k->kind == K_SIZE64)
		*(uint64_t *)key_dest(p, k) = x;
	else
		*(uint32_t *)key_dest(p, k) = (uint32_t)x;
	return 0;
}

static int set_key(struct parse_ctx *p, const struct key_def *k, const char *v, char *why, size_t n)
{
	size_t len;

	switch (k->kind) {
	case K_FN:
		return k->fn(p, v, why, n);
	case K_STR:
		len = strlen(v);
		if (len >= k->size || len < k->min) {
			snprintf(why, n,
			         len ? "value longer than %zu characters" : "value is empty",
			         k->size - 1);
			return -EINVAL;
		}
		memcpy(key_dest(p, k), v, len + 1);
		return 0;
	default:
		return set_number(p, k, v, why, n);
	}
}

static int handler(void *user, const char *section, const char *name, const char *value)
{
	struct parse_ctx *p = user;
	const struct key_def *k = NULL;
	char why[256];
	int section_known = 0;

	for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
		if (strcmp(keys[i].section, section) != 0)
			continue;
		section_known = 1;
		if (strcmp(keys[i].name, name) == 0) {
			k = &keys[i];
			break;
		}
	}
	if (!k)
		snprintf(why, sizeof(why), section_known ? "unknown key" : "unknown section");
	else if (p->is_core && !k->worker)
		snprintf(why, sizeof(why), "only allowed in the global file");
	else if (!p->is_core && strcmp(section, "worker") == 0)
		snprintf(why, sizeof(why), "only allowed in a core file");
	else if (set_key(p, k, value, why, sizeof(why)) == 0)
		return 1;
	if (!p->failed)
		snprintf(p->err, p->errlen, "%s:%d: [%s] %s: %s", p->path, p->line, section, name,
		         why);
	p->failed = 1;
	return 0;
}

/* fgets for inih that counts lines and notices lines longer than inih's buffer. */
static char *reader(char *str, int num, void *stream)
{
	struct parse_ctx *p = stream;
	char *r = fgets(str, num, p->f);
	size_t len;

	if (!r)
		return NULL;
	len = strlen(str);
	if (len > 0 && str[len - 1] == '\n') {
		p->line++;
		return r;
	}
	if (!feof(p->f)) { /* longer than the buffer: report, skip the rest of the line */
		int ch;

		p->line++;
		if (!p->too_long)
			p->too_long = p->line;
		while ((ch = fgetc(p->f)) != EOF && ch != '\n')
			;
		str[0] = '\0';
		return r;
	}
	p->line++;
	return r;
}

static int parse_file(struct parse_ctx *p, const char *path)
{
	int rc;

	p->path = path;
	p->line = 0;
	p->too_long = 0;
	p->listen_reset = 1;
	p->f = fopen(path, "r");
	if (!p->f) {
		rc = -errno;
		snprintf(p->err, p->errlen, "%s: cannot open: %s", path, strerror(errno));
		return rc;
	}
	rc = ini_parse_stream(reader, p, handler, p);
	fclose(p->f);
	if (p->too_long && (rc == 0 || p->too_long < rc) && !p->failed) {
		snprintf(p->err, p->errlen, "%s:%d: line longer than %d characters", path,
		         p->too_long, INI_MAX_LINE - 1);
		return -EINVAL;
	}
	if (rc != 0 && !p->failed)
		snprintf(p->err, p->errlen, "%s:%d: not a [section] or key = value line", path, rc);
	return rc == 0 && !p->failed ? 0 : -EINVAL;
}

void dp_conf_defaults(struct dp_conf *c)
{
	struct dp_worker_conf *w = &c->wdef;

	memset(c, 0, sizeof(*c));
	smtp_config_defaults(&c->smtp);
	c->smtp.hostname[0] = '\0'; /* gethostname() at finish unless set */
	c->backend = DP_BACKEND_URING;
	c->log_target = DP_LOG_STDERR;
	c->log_level = DP_LOG_INFO;
	snprintf(c->syslog_socket, sizeof(c->syslog_socket), "/dev/log");
	c->shutdown_timeout_ms = 10 * 1000;

	w->cpu = -2; /* -2: the worker's index, set at finish */
	w->limits.max_conns = 1024;
	w->limits.max_conns_per_client = 32;
	w->limits.cmd_timeout_ms = 300 * 1000;
	w->limits.data_timeout_ms = 180 * 1000;
	w->limits.session_timeout_ms = 3600 * 1000;
	w->limits.min_data_rate = 500;
	w->limits.min_data_rate_grace_ms = 30 * 1000;
	w->ring_entries = 1024;
	w->recv_buffers = 512;
	w->recv_buffer_size = 16 * 1024;
	w->conn_rx_size = 32 * 1024;
	w->conn_tx_size = 4 * 1024;
	w->envelope_size = 16 * 1024;
	spool_config_defaults(&w->spool);
	snprintf(w->spool.dir, sizeof(w->spool.dir), "spool");
	dp_addr_parse(&w->listen[0], "127.0.0.1:2525");
	w->nlisten = 1;
}

static int name_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Sorted "*.conf" names in dir; *names freed by the caller (one block). */
static int list_core_files(const char *dir, char ***names, unsigned *n, char *err, size_t errlen)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	char **v;
	unsigned cnt = 0;

	*n = 0;
	if (!d) {
		int rc = -errno;

		snprintf(err, errlen, "%s: cannot open the cores directory: %s", dir,
		         strerror(errno));
		return rc;
	}
	v = calloc(DP_WORKERS_MAX, sizeof(*v) + NAME_MAX + 1);
	if (!v) {
		closedir(d);
		return -ENOMEM;
	}
	while ((de = readdir(d)) != NULL) {
		size_t len = strlen(de->d_name);

		if (de->d_name[0] == '.' || len < 6 || strcmp(de->d_name + len - 5, ".conf") != 0)
			continue;
		if (cnt == DP_WORKERS_MAX) {
			snprintf(err, errlen, "%s: more than %d core files", dir, DP_WORKERS_MAX);
			closedir(d);
			free(v);
			return -E2BIG;
		}
		v[cnt] = (char *)(v + DP_WORKERS_MAX) + (size_t)cnt * (NAME_MAX + 1);
		memcpy(v[cnt], de->d_name, len + 1);
		cnt++;
	}
	closedir(d);
	qsort(v, cnt, sizeof(*v), name_cmp);
	*names = v;
	*n = cnt;
	return 0;
}

static int load_cores(struct parse_ctx *p, const char *dir)
{
	struct dp_conf *c = p->c;
	char **names = NULL;
	unsigned n;
	int rc = list_core_files(dir, &names, &n, p->err, p->errlen);

	if (rc)
		return rc;
	c->w = n ? calloc(n, sizeof(*c->w)) : NULL;
	if (n && !c->w) {
		free(names);
		return -ENOMEM;
	}
	for (unsigned i = 0; i < n && rc == 0; i++) {
		struct dp_worker_conf *wc = &c->w[i];

		*wc = c->wdef;
		wc->cpu = (int)i;
		if ((size_t)snprintf(wc->file, sizeof(wc->file), "%s/%s", dir, names[i]) >=
		    sizeof(wc->file)) {
			snprintf(p->err, p->errlen, "%s/%s: path too long", dir, names[i]);
			rc = -ENAMETOOLONG;
			break;
		}
		p->wc = wc;
		p->is_core = 1;
		rc = parse_file(p, wc->file);
		c->nworkers = i + 1;
	}
	free(names);
	return rc;
}

int dp_conf_load(struct dp_conf *c, const char *path, char *err, size_t errlen)
{
	struct parse_ctx p = {.c = c, .wc = &c->wdef, .err = err, .errlen = errlen};
	char dir[PATH_MAX];
	const char *slash;
	int explicit_cores, rc;

	if (strlen(path) >= sizeof(c->file)) {
		snprintf(err, errlen, "%s: path too long", path);
		return -ENAMETOOLONG;
	}
	snprintf(c->file, sizeof(c->file), "%s", path);
	rc = parse_file(&p, path);
	if (rc)
		return rc;

	/* The cores directory is relative to the global file's directory. */
	explicit_cores = c->cores_dir[0] != '\0';
	slash = strrchr(path, '/');
	if (c->cores_dir[0] == '/')
		snprintf(dir, sizeof(dir), "%s", c->cores_dir);
	else if ((size_t)snprintf(dir, sizeof(dir), "%.*s%s", slash ? (int)(slash - path + 1) : 0,
	                          path, explicit_cores ? c->cores_dir : "cores") >= sizeof(dir))
		return snprintf(err, errlen, "%s: cores path too long", path), -ENAMETOOLONG;
	if (!explicit_cores) {
		DIR *d = opendir(dir);

		if (!d)
			return 0; /* no cores directory: workers from defaults */
		closedir(d);
	}
	snprintf(c->cores_dir, sizeof(c->cores_dir), "%s", dir);
	return load_cores(&p, dir);
}

void dp_conf_free(struct dp_conf *c)
{
	free(c->w);
	c->w = NULL;
	c->nworkers = 0;
}

void dp_conf_reloadable(struct dp_conf *dst, const struct dp_conf *src)
{
	char hostname[sizeof(dst->smtp.hostname)];

	/* The protocol settings, except the name the sessions already greeted with. */
	memcpy(hostname, dst->smtp.hostname, sizeof(hostname));
	dst->smtp = src->smtp;
	memcpy(dst->smtp.hostname, hostname, sizeof(hostname));
	dst->log_level = src->log_level;
	dst->shutdown_timeout_ms = src->shutdown_timeout_ms;
	for (unsigned i = 0; i < dst->nworkers && i < src->nworkers; i++)
		dst->w[i].limits = src->w[i].limits;
}
