/* SPDX-License-Identifier: MIT */
/*
 * compile.c - rule sets: load (parse, plan, compile or take from the cache), reference
 * counting, information, and the reload helper.
 *
 * Planning groups the rules by field into Hyperscan databases, in this order: client, helo,
 * mail, rcpt, any header line, one per header name (in order of first use), body. Block mode
 * for all but the body, which is compiled in streaming mode so that a match may span any
 * number of pol_tx_data() calls. Every pattern has HS_FLAG_SINGLEMATCH (a rule matches or it
 * does not: callbacks per scan are bounded by the number of rules); block-mode patterns may
 * match the empty value (HS_FLAG_ALLOWEMPTY). Match ids are rule indices (file order).
 *
 * The cache key is a hash of everything the compiler sees (format version, Hyperscan version,
 * this host's platform, every database's mode, expressions, flags and ids): comments and
 * reply texts do not invalidate it, moving a rule does.
 *
 * Public functions: pol_rules_load(), pol_rules_load_mem(), pol_rules_get(), pol_rules_put(),
 * pol_rules_info(), pol_reload(). Errors: see policy.h; a compile error names the file, the
 * line, the rule and the pattern. A rule set is immutable once returned; the last
 * pol_rules_put() frees it.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "policy/policy-int.h"

#define POL_FILE_MAX   (64u << 20)
#define POL_KEY_FORMAT "sluice-policy-db-1"

static double now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static void rules_free(struct pol_rules *r)
{
	for (uint32_t i = 0; i < r->ndb; i++)
		hs_free_database(r->db[i].hs);
	hs_free_scratch(r->proto);
	free(r->db);
	free(r->rule);
	free(r->hdr);
	free(r->hslot);
	pol_arena_free(&r->arena);
	free(r);
}

struct pol_rules *pol_rules_get(struct pol_rules *r)
{
	atomic_fetch_add_explicit(&r->refs, 1, memory_order_relaxed);
	return r;
}

void pol_rules_put(struct pol_rules *r)
{
	if (r && atomic_fetch_sub_explicit(&r->refs, 1, memory_order_acq_rel) == 1)
		rules_free(r);
}

/* Database of a rule, from the first database of each field. */
static uint32_t db_slot(const struct pol_rule *ru, const int32_t *base)
{
	if (ru->field == POL_F_HDR_NAMED)
		return (uint32_t)base[POL_F_HDR_NAMED] + ru->hdr;
	return (uint32_t)base[ru->field];
}

/* Group the rules into databases; fill fdb, hdr[].db, min_hdr, min_body, max_env, words. */
static int plan(struct pol_rules *r)
{
	uint32_t count[POL_F__COUNT] = {0};
	int32_t base[POL_F__COUNT];
	uint32_t n = 0;

	for (uint32_t i = 0; i < r->nrules; i++)
		count[r->rule[i].field]++;
	for (unsigned f = 0; f < POL_F__COUNT; f++) {
		r->fdb[f] = -1;
		base[f] = (int32_t)n;
		if (f == POL_F_HDR_NAMED)
			n += r->nhdr;
		else if (count[f])
			r->fdb[f] = (int32_t)n++;
	}
	r->ndb = n;
	r->db = calloc(n ? n : 1, sizeof(*r->db));
	if (!r->db)
		return -ENOMEM;
	for (uint32_t h = 0; h < r->nhdr; h++)
		r->hdr[h].db = (uint32_t)base[POL_F_HDR_NAMED] + h;
	for (uint32_t i = 0; i < r->nrules; i++)
		r->db[db_slot(&r->rule[i], base)].n++;
	for (uint32_t d = 0; d < n; d++) {
		if (!(r->db[d].ids = pol_arena_alloc(&r->arena, r->db[d].n * sizeof(uint32_t) + 1)))
			return -ENOMEM;
		r->db[d].n = 0;
	}
	r->min_hdr = r->min_body = POL_NONE;
	for (uint32_t i = 0; i < r->nrules; i++) {
		const struct pol_rule *ru = &r->rule[i];
		struct pol_db *d = &r->db[db_slot(ru, base)];

		d->field = ru->field;
		d->stream = ru->field == POL_F_BODY;
		d->hdr = ru->hdr;
		d->ids[d->n++] = i;
		if ((ru->field == POL_F_HEADER || ru->field == POL_F_HDR_NAMED) &&
		    r->min_hdr == POL_NONE)
			r->min_hdr = i;
		if (ru->field == POL_F_BODY && r->min_body == POL_NONE)
			r->min_body = i;
		if (ru->field <= POL_F_RCPT && d->n > r->max_env)
			r->max_env = d->n;
	}
	r->words = (r->nrules + 63) / 64;
	return 0;
}

static void compute_key(struct pol_rules *r)
{
	struct pol_hash h;
	hs_platform_info_t plat;
	const char *ver = hs_version();

	memset(&plat, 0, sizeof(plat));
	hs_populate_platform(&plat);
	pol_hash_init(&h, 0x51u);
	pol_hash_update(&h, POL_KEY_FORMAT, sizeof(POL_KEY_FORMAT));
	pol_hash_update(&h, ver, strlen(ver) + 1);
	pol_hash_u32(&h, plat.tune);
	pol_hash_update(&h, &plat.cpu_features, sizeof(plat.cpu_features));
	pol_hash_u32(&h, r->ndb);
	for (uint32_t d = 0; d < r->ndb; d++) {
		const struct pol_db *db = &r->db[d];

		pol_hash_u32(&h, db->field);
		pol_hash_u32(&h, db->stream);
		pol_hash_u32(&h, db->n);
		for (uint32_t k = 0; k < db->n; k++) {
			const struct pol_rule *ru = &r->rule[db->ids[k]];

			pol_hash_u32(&h, db->ids[k]);
			pol_hash_u32(&h, ru->hsflags);
			pol_hash_update(&h, ru->expr, strlen(ru->expr) + 1);
		}
	}
	pol_hash_final(&h, r->key);
	memcpy(&r->key64, r->key, sizeof(r->key64));
	r->key64 |= 1; /* never 0: a zeroed struct pol_conn refers to no rule set */
}

static const char *field_name(const struct pol_rules *r, const struct pol_db *d)
{
	static const char *const names[] = {"client", "helo", "mail", "rcpt",
	                                    "header", NULL,   "body"};

	return d->field == POL_F_HDR_NAMED ? r->hdr[d->hdr].name : names[d->field];
}

static int compile_db(struct pol_rules *r, struct pol_db *d, struct pol_error *err)
{
	const char **expr = malloc(d->n * sizeof(*expr));
	unsigned *flags = malloc(d->n * sizeof(*flags));
	unsigned *ids = malloc(d->n * sizeof(*ids));
	hs_compile_error_t *ce = NULL;
	hs_error_t e = HS_NOMEM;

	if (expr && flags && ids) {
		for (uint32_t k = 0; k < d->n; k++) {
			expr[k] = r->rule[d->ids[k]].expr;
			flags[k] = r->rule[d->ids[k]].hsflags;
			ids[k] = d->ids[k];
		}
		e = hs_compile_multi(expr, flags, ids, d->n,
		                     d->stream ? HS_MODE_STREAM : HS_MODE_BLOCK, NULL, &d->hs, &ce);
	}
	free(expr);
	free(flags);
	free(ids);
	if (e == HS_SUCCESS)
		return 0;
	if (!ce) {
		pol_err(err, "%s: out of memory compiling the %s rules", r->name, field_name(r, d));
		return -ENOMEM;
	}
	if (ce->expression >= 0 && (uint32_t)ce->expression < d->n) {
		const struct pol_rule *ru = &r->rule[d->ids[ce->expression]];

		const char *why = ce->message;

		if (!strncmp(why, "Pattern matches empty buffer", 28))
			why = "it matches the empty string, which a body pattern may not";
		pol_err(err, "%s:%u: rule '%s': cannot compile pattern %s: %s", r->name, ru->line,
		        ru->id, ru->src, why);
	} else {
		pol_err(err, "%s: cannot compile the %u %s rules together: %s", r->name, d->n,
		        field_name(r, d), ce->message);
	}
	hs_free_compile_error(ce);
	return -EINVAL;
}

/* Scratch prototype and sizes, once the databases are there. */
static int finish(struct pol_rules *r, struct pol_error *err)
{
	for (uint32_t d = 0; d < r->ndb; d++) {
		size_t sz = 0;

		if (hs_alloc_scratch(r->db[d].hs, &r->proto) != HS_SUCCESS) {
			pol_err(err, "%s: cannot allocate Hyperscan scratch", r->name);
			return -ENOMEM;
		}
		hs_database_size(r->db[d].hs, &sz);
		r->db_bytes += sz;
		if (r->db[d].stream)
			hs_stream_size(r->db[d].hs, &r->stream_bytes);
	}
	return 0;
}

static int build(struct pol_rules *r, const char *text, size_t len, const struct pol_load_opts *opt,
                 struct pol_error *err)
{
	const char *dir = opt ? opt->cache_dir : NULL;
	int rc;

	if ((rc = pol_parse(r, r->name, text, len, err)))
		return rc;
	if ((rc = plan(r))) {
		pol_err(err, "%s: out of memory", r->name);
		return rc;
	}
	compute_key(r);
	r->cache = POL_CACHE_OFF;
	if (dir) {
		rc = pol_cache_load(r, dir);
		r->cache = rc == 0         ? POL_CACHE_HIT
		           : rc == -ENOENT ? POL_CACHE_MISS
		                           : POL_CACHE_REBUILT;
	}
	if (r->cache != POL_CACHE_HIT) {
		for (uint32_t d = 0; d < r->ndb; d++)
			if ((rc = compile_db(r, &r->db[d], err)))
				return rc;
		if (dir && pol_cache_store(r, dir) != 0)
			r->cache = POL_CACHE_UNWRITABLE;
	}
	return finish(r, err);
}

int pol_rules_load_mem(const char *name, const char *text, size_t len,
                       const struct pol_load_opts *opt, struct pol_rules **out,
                       struct pol_error *err)
{
	double t0 = now_ms();
	struct pol_rules *r;
	int rc;

	*out = NULL;
	if (hs_valid_platform() != HS_SUCCESS) {
		pol_err(err, "%s: this CPU cannot run Hyperscan (SSSE3 needed)", name);
		return -ENOTSUP;
	}
	if (!(r = calloc(1, sizeof(*r)))) {
		pol_err(err, "%s: out of memory", name);
		return -ENOMEM;
	}
	atomic_init(&r->refs, 1);
	if (!(r->name = pol_arena_strndup(&r->arena, name, strlen(name)))) {
		rules_free(r);
		pol_err(err, "%s: out of memory", name);
		return -ENOMEM;
	}
	if ((rc = build(r, text, len, opt, err))) {
		rules_free(r);
		return rc;
	}
	r->load_ms = now_ms() - t0;
	*out = r;
	return 0;
}

int pol_rules_load(const char *path, const struct pol_load_opts *opt, struct pol_rules **out,
                   struct pol_error *err)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	struct stat st;
	char *buf = NULL;
	size_t got = 0;
	int rc = 0;

	*out = NULL;
	if (fd < 0 || fstat(fd, &st) != 0) {
		rc = -errno;
		pol_err(err, "%s: cannot open the rules file: %s", path, strerror(errno));
		goto out;
	}
	if (!S_ISREG(st.st_mode) || (uint64_t)st.st_size > POL_FILE_MAX) {
		pol_err(err, "%s: not a regular file of at most %u MiB", path, POL_FILE_MAX >> 20);
		rc = -EINVAL;
		goto out;
	}
	if (!(buf = malloc((size_t)st.st_size + 1))) {
		pol_err(err, "%s: out of memory", path);
		rc = -ENOMEM;
		goto out;
	}
	while (got < (size_t)st.st_size) {
		ssize_t k = read(fd, buf + got, (size_t)st.st_size - got);

		if (k < 0 && errno == EINTR)
			continue;
		if (k <= 0) {
			rc = k < 0 ? -errno : -EIO;
			pol_err(err, "%s: cannot read the rules file: %s", path, strerror(-rc));
			goto out;
		}
		got += (size_t)k;
	}
	rc = pol_rules_load_mem(path, buf, got, opt, out, err);
out:
	if (fd >= 0)
		close(fd);
	free(buf);
	return rc;
}

void pol_rules_info(const struct pol_rules *r, struct pol_rules_info *info)
{
	memset(info, 0, sizeof(*info));
	info->nrules = r->nrules;
	info->ndb = r->ndb;
	info->cache = r->cache;
	pol_db_hex_key(r, info->key);
	info->db_bytes = r->db_bytes;
	info->stream_bytes = r->stream_bytes;
	info->load_ms = r->load_ms;
}

int pol_reload(const char *path, const struct pol_load_opts *opt, struct pol_mailbox *mbs,
               unsigned nmb, struct pol_rules **current, struct pol_error *err)
{
	struct pol_rules *r;
	int rc = pol_rules_load(path, opt, &r, err);

	if (rc)
		return rc; /* the cores keep what they have */
	for (unsigned i = 0; i < nmb; i++)
		pol_mailbox_post(&mbs[i], r);
	pol_rules_put(*current);
	*current = r;
	return 0;
}
