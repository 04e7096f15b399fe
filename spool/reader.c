/* SPDX-License-Identifier: MIT */
/*
 * reader.c - the spool reader's index: lists DIR/core-N/NNNNNN.seg, scans every segment with
 * CRC checks (scan.c), reassembles messages from their records by key, and keeps those whose
 * commit marker is present and matches their length and whole-message CRC.
 *
 * Public: spool_reader_open(), spool_reader_close(), spool_reader_count(), spool_reader_entry(),
 * spool_reader_find(), spool_reader_stats(), spool_reader_problem*(), spool_reader_cores(),
 * spool_reader_core_stats() (spool.h). Reading, consumption and retention are in retention.c.
 *
 * Rules: a segment's first record must be its header; a header with a new writer epoch ends
 * every message still open from the previous epoch (that writer is gone). Records after the
 * first invalid one in a segment are not read (the writer never writes past a bad record, so
 * anything there is torn or damaged). Data or markers for unknown keys are ignored (their
 * beginning was cut with a failed batch). Problems are recorded as text; only I/O errors and
 * ENOMEM make open fail.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "spool/reader-t.h"
#include "spool/scan.h"

void r_problem(struct spool_reader *r, const char *fmt, ...)
{
	char **np = realloc(r->problems, (r->nprob + 1) * sizeof(*np));
	va_list ap;

	if (!np)
		return;
	r->problems = np;
	va_start(ap, fmt);
	if (vasprintf(&np[r->nprob], fmt, ap) >= 0)
		r->nprob++;
	va_end(ap);
}

void r_entry_free(struct r_entry *e)
{
	if (!e)
		return;
	free(e->raw);
	free(e->meta_raw);
	free(e->rcpt);
	free(e->rcpt_params);
	free(e->ext);
	free(e);
}

/* --- pending messages, by key ------------------------------------------------------------- */

static struct r_entry **slot(struct spool_reader *r, uint32_t key)
{
	struct r_entry **pp = &r->pending[key % R_HASH];

	while (*pp && (*pp)->key != key)
		pp = &(*pp)->hnext;
	return pp;
}

static struct r_entry *take(struct spool_reader *r, uint32_t key)
{
	struct r_entry **pp = slot(r, key), *e = *pp;

	if (e)
		*pp = e->hnext;
	return e;
}

/* Ends every pending message; live ones (current epoch) pin their first segment. */
static void drop_pending(struct spool_reader *r, struct r_core *c, int live)
{
	for (size_t i = 0; i < R_HASH; i++) {
		struct r_entry *e = r->pending[i], *next;

		for (; e; e = next) {
			next = e->hnext;
			if (live && e->pub.first_seg < c->live_min_seg)
				c->live_min_seg = e->pub.first_seg;
			r->st.pending++;
			r_entry_free(e);
		}
		r->pending[i] = NULL;
	}
}

/* --- records ------------------------------------------------------------------------------ */

static int on_begin(struct spool_reader *r, struct r_core *c, const struct r_seg *sg,
                    const struct spool_scan *s)
{
	struct r_entry *e = calloc(1, sizeof(*e)), *old;
	uint32_t nr = 0;

	if (!e)
		return -ENOMEM;
	if (spool_env_count_rcpt(s->payload, s->hdr.len, &nr) != 0)
		goto bad;
	e->raw = malloc(s->hdr.len ? s->hdr.len : 1);
	e->rcpt = calloc(nr ? nr : 1, sizeof(*e->rcpt));
	e->rcpt_params = calloc(nr ? nr : 1, sizeof(*e->rcpt_params));
	if (!e->raw || !e->rcpt || !e->rcpt_params) {
		r_entry_free(e);
		return -ENOMEM;
	}
	memcpy(e->raw, s->payload, s->hdr.len);
	if (spool_env_decode(e->raw, s->hdr.len, &e->pub.env, e->rcpt, e->rcpt_params, nr,
	                     e->pub.queue_id, &e->pub.received_len) != 0)
		goto bad;
	e->key = s->hdr.key;
	e->epoch = c->last_epoch;
	e->pub.core = c->id;
	e->pub.first_seg = sg->seq;
	e->core_idx = (unsigned)(c - r->cores);
	if ((old = take(r, e->key)) != NULL) {
		r->st.pending++;
		r_entry_free(old);
	}
	e->hnext = r->pending[e->key % R_HASH];
	r->pending[e->key % R_HASH] = e;
	return 0;
bad:
	r_problem(r, "core-%u/%s@%llu: malformed envelope", c->id, sg->name,
	          (unsigned long long)s->rec_off);
	r->st.corrupt++;
	r_entry_free(e);
	return 0;
}

static int on_data(struct spool_reader *r, uint32_t segi, const struct spool_scan *s)
{
	struct r_entry *e = *slot(r, s->hdr.key);
	struct r_extent *x;

	if (!e || s->hdr.len == 0)
		return 0;
	if (e->next == e->ext_cap) {
		uint32_t cap = e->ext_cap ? 2 * e->ext_cap : 8;
		struct r_extent *nx = realloc(e->ext, cap * sizeof(*nx));

		if (!nx)
			return -ENOMEM;
		e->ext = nx;
		e->ext_cap = cap;
	}
	x = &e->ext[e->next++];
	x->seg = segi;
	x->len = s->hdr.len;
	x->off = s->rec_off + SPOOL_REC_HDR;
	x->msg_off = e->pub.size;
	e->pub.size += s->hdr.len;
	e->pub.crc = spool_crc32c(e->pub.crc, s->payload, s->hdr.len);
	return 0;
}

static int on_meta(struct spool_reader *r, struct r_core *c, const struct r_seg *sg,
                   const struct spool_scan *s)
{
	struct r_entry *e = *slot(r, s->hdr.key);
	uint8_t *copy;

	if (!e)
		return 0;
	copy = malloc(s->hdr.len ? s->hdr.len : 1);
	if (!copy)
		return -ENOMEM;
	memcpy(copy, s->payload, s->hdr.len);
	free(e->meta_raw);
	e->meta_raw = copy;
	if (spool_meta_decode(copy, s->hdr.len, &e->meta) == 0)
		return 0;
	r_problem(r, "core-%u/%s@%llu: malformed commit metadata of %s", c->id, sg->name,
	          (unsigned long long)s->rec_off, e->pub.queue_id);
	r->st.corrupt++;
	r_entry_free(take(r, s->hdr.key));
	return 0;
}

/* The commit-time metadata replaces the envelope's verdict and tags; headers count in size. */
static void apply_meta(struct r_entry *e)
{
	if (!e->meta_raw)
		return;
	e->pub.env.verdict = e->meta.verdict;
	e->pub.env.tags = e->meta.tags;
	e->pub.quarantine = e->meta.quarantine;
	e->pub.added_len = (uint32_t)e->meta.headers.n;
	e->pub.size += e->meta.headers.n;
}

static int add_entry(struct spool_reader *r, struct r_entry *e)
{
	if (r->n == r->cap) {
		size_t cap = r->cap ? 2 * r->cap : 64;
		struct r_entry **ne = realloc(r->entries, cap * sizeof(*ne));

		if (!ne)
			return -ENOMEM;
		r->entries = ne;
		r->cap = cap;
	}
	r->entries[r->n++] = e;
	r->st.messages++;
	r->st.msg_bytes += e->pub.size;
	return 0;
}

static int on_commit(struct spool_reader *r, struct r_core *c, const struct r_seg *sg,
                     const struct spool_scan *s)
{
	struct r_entry *e = take(r, s->hdr.key);
	uint64_t size;
	uint32_t crc;

	if (!e)
		return 0;
	if (spool_commit_decode(s->payload, s->hdr.len, &size, &crc) != 0 || size != e->pub.size ||
	    crc != e->pub.crc || e->pub.received_len > size) {
		r_problem(r, "core-%u/%s@%llu: commit marker of %s does not match its data", c->id,
		          sg->name, (unsigned long long)s->rec_off, e->pub.queue_id);
		r->st.corrupt++;
		r_entry_free(e);
		return 0;
	}
	apply_meta(e);
	e->pub.commit_seg = sg->seq;
	e->pub.commit_end = s->off;
	if (sg->seq < c->ck_seq || (sg->seq == c->ck_seq && s->off <= c->ck_off))
		e->pub.consumed = 1;
	return add_entry(r, e) == 0 ? 0 : (r_entry_free(e), -ENOMEM);
}

/* The segment header: first record only; a new epoch ends the previous writer's messages. */
static int on_header(struct spool_reader *r, struct r_core *c, struct r_seg *sg,
                     const struct spool_scan *s)
{
	struct spool_seg_hdr sh;

	if (s->hdr.type != SPOOL_REC_SEGMENT ||
	    spool_seg_hdr_decode(s->payload, s->hdr.len, &sh) != 0 || sh.core != c->id) {
		r_problem(r, "core-%u/%s: no valid segment header", c->id, sg->name);
		r->st.corrupt++;
		return -1;
	}
	sg->epoch = sh.epoch_us;
	if (sh.epoch_us != c->last_epoch) {
		drop_pending(r, c, 0);
		c->last_epoch = sh.epoch_us;
	}
	return 0;
}

static int scan_segment(struct spool_reader *r, struct r_core *c, uint32_t segi, int fd)
{
	struct r_seg *sg = &c->segs[segi];
	struct spool_scan s;
	int rc;

	if ((rc = spool_scan_init(&s, fd)) != 0)
		return rc;
	sg->size = s.size;
	while ((rc = spool_scan_next(&s)) > 0) {
		r->st.records++;
		if (s.rec_off == 0) {
			if (on_header(r, c, sg, &s) != 0) {
				rc = 0;
				break;
			}
			continue;
		}
		switch (s.hdr.type) {
		case SPOOL_REC_BEGIN:
			rc = on_begin(r, c, sg, &s);
			break;
		case SPOOL_REC_DATA:
			rc = on_data(r, segi, &s);
			break;
		case SPOOL_REC_COMMIT:
			rc = on_commit(r, c, sg, &s);
			break;
		case SPOOL_REC_META:
			rc = on_meta(r, c, sg, &s);
			break;
		case SPOOL_REC_ABORT:
			r_entry_free(take(r, s.hdr.key));
			r->st.aborted++;
			break;
		default:
			r_problem(r, "core-%u/%s@%llu: segment header inside a segment", c->id,
			          sg->name, (unsigned long long)s.rec_off);
			r->st.corrupt++;
			break;
		}
		if (rc < 0)
			break;
	}
	if (rc == 0 && s.bad) {
		r_problem(r, "core-%u/%s@%llu: %s: %s", c->id, sg->name, (unsigned long long)s.off,
		          s.bad == SPOOL_SCAN_TORN ? "torn tail" : "corrupt", s.why);
		if (s.bad == SPOOL_SCAN_TORN)
			r->st.torn++;
		else
			r->st.corrupt++;
	}
	spool_scan_free(&s);
	return rc;
}

/* --- directories -------------------------------------------------------------------------- */

static int cmp_seg(const void *a, const void *b)
{
	const struct r_seg *x = a, *y = b;

	return x->seq < y->seq ? -1 : x->seq > y->seq;
}

static int list_segments(struct r_core *c, const char *path)
{
	DIR *d = opendir(path);
	struct dirent *de;
	size_t cap = 0;

	if (!d)
		return -errno;
	while ((de = readdir(d)) != NULL) {
		char *end;
		unsigned long long v = strtoull(de->d_name, &end, 10);

		if (de->d_name[0] < '0' || de->d_name[0] > '9' || strcmp(end, ".seg") != 0 ||
		    strlen(de->d_name) >= sizeof(c->segs[0].name))
			continue;
		if (c->nseg == cap) {
			struct r_seg *ns;

			cap = cap ? 2 * cap : 16;
			if (!(ns = realloc(c->segs, cap * sizeof(*ns)))) {
				closedir(d);
				return -ENOMEM;
			}
			c->segs = ns;
		}
		memset(&c->segs[c->nseg], 0, sizeof(c->segs[0]));
		c->segs[c->nseg].seq = v;
		snprintf(c->segs[c->nseg].name, sizeof(c->segs[0].name), "%s", de->d_name);
		c->nseg++;
	}
	closedir(d);
	if (c->nseg)
		qsort(c->segs, c->nseg, sizeof(*c->segs), cmp_seg);
	return 0;
}

static int scan_core(struct spool_reader *r, struct r_core *c)
{
	char path[4200];
	int rc;

	snprintf(path, sizeof(path), "%s/core-%u", r->dir, c->id);
	c->live_min_seg = UINT64_MAX;
	c->first_entry = r->n;
	if ((rc = list_segments(c, path)) != 0 || (rc = r_load_checkpoint(r, c)) != 0)
		return rc;
	for (uint32_t i = 0; i < c->nseg && rc == 0; i++) {
		char p[4300];
		int fd;

		snprintf(p, sizeof(p), "%s/%s", path, c->segs[i].name);
		if ((fd = open(p, O_RDONLY | O_CLOEXEC)) < 0) {
			if (errno == ENOENT)
				continue; /* deleted by a consumer meanwhile */
			return -errno;
		}
		rc = scan_segment(r, c, i, fd);
		close(fd);
		c->bytes += c->segs[i].size;
		r->st.segments++;
		r->st.seg_bytes += c->segs[i].size;
	}
	drop_pending(r, c, 1);
	c->nentry = r->n - c->first_entry;
	return rc;
}

static int cmp_core(const void *a, const void *b)
{
	const struct r_core *x = a, *y = b;

	return x->id < y->id ? -1 : x->id > y->id;
}

static int list_cores(struct spool_reader *r)
{
	DIR *d = opendir(r->dir);
	struct dirent *de;
	size_t cap = 0;

	if (!d)
		return -errno;
	while ((de = readdir(d)) != NULL) {
		char *end;
		unsigned long v;

		if (strncmp(de->d_name, "core-", 5) != 0 || de->d_name[5] < '0' ||
		    de->d_name[5] > '9')
			continue;
		v = strtoul(de->d_name + 5, &end, 10);
		if (*end || v > 65535)
			continue;
		if (r->ncore == cap) {
			struct r_core *nc;

			cap = cap ? 2 * cap : 8;
			if (!(nc = realloc(r->cores, cap * sizeof(*nc)))) {
				closedir(d);
				return -ENOMEM;
			}
			r->cores = nc;
		}
		memset(&r->cores[r->ncore], 0, sizeof(r->cores[0]));
		r->cores[r->ncore++].id = (unsigned)v;
	}
	closedir(d);
	if (r->ncore)
		qsort(r->cores, r->ncore, sizeof(*r->cores), cmp_core);
	return 0;
}

int spool_reader_open(struct spool_reader **out, const char *dir)
{
	struct spool_reader *r = calloc(1, sizeof(*r));
	int rc;

	*out = NULL;
	if (!r)
		return -ENOMEM;
	r->fd = -1;
	snprintf(r->dir, sizeof(r->dir), "%s", dir);
	rc = list_cores(r);
	for (size_t i = 0; i < r->ncore && rc == 0; i++)
		rc = scan_core(r, &r->cores[i]);
	if (rc != 0) {
		spool_reader_close(r);
		return rc;
	}
	*out = r;
	return 0;
}

void spool_reader_close(struct spool_reader *r)
{
	if (!r)
		return;
	for (size_t i = 0; i < R_HASH; i++) {
		struct r_entry *e = r->pending[i], *next;

		for (; e; e = next) {
			next = e->hnext;
			r_entry_free(e);
		}
	}
	for (size_t i = 0; i < r->n; i++)
		r_entry_free(r->entries[i]);
	for (size_t i = 0; i < r->ncore; i++)
		free(r->cores[i].segs);
	for (size_t i = 0; i < r->nprob; i++)
		free(r->problems[i]);
	if (r->fd >= 0)
		close(r->fd);
	free(r->problems);
	free(r->entries);
	free(r->cores);
	free(r);
}

size_t spool_reader_count(const struct spool_reader *r)
{
	return r->n;
}

const struct spool_entry *spool_reader_entry(const struct spool_reader *r, size_t i)
{
	return i < r->n ? &r->entries[i]->pub : NULL;
}

const struct spool_entry *spool_reader_find(const struct spool_reader *r, const char *queue_id)
{
	for (size_t i = 0; i < r->n; i++)
		if (strcmp(r->entries[i]->pub.queue_id, queue_id) == 0)
			return &r->entries[i]->pub;
	return NULL;
}

void spool_reader_stats(const struct spool_reader *r, struct spool_reader_stats *st)
{
	*st = r->st;
}

size_t spool_reader_problem_count(const struct spool_reader *r)
{
	return r->nprob;
}

const char *spool_reader_problem(const struct spool_reader *r, size_t i)
{
	return i < r->nprob ? r->problems[i] : NULL;
}

unsigned spool_reader_cores(const struct spool_reader *r, unsigned *ids, unsigned max)
{
	unsigned n = 0;

	for (size_t i = 0; i < r->ncore && n < max; i++)
		ids[n++] = r->cores[i].id;
	return (unsigned)r->ncore;
}

void spool_reader_core_stats(const struct spool_reader *r, unsigned core, uint64_t *segments,
                             uint64_t *bytes, uint64_t *messages)
{
	*segments = *bytes = *messages = 0;
	for (size_t i = 0; i < r->ncore; i++) {
		if (r->cores[i].id != core)
			continue;
		*segments = r->cores[i].nseg;
		*bytes = r->cores[i].bytes;
		*messages = r->cores[i].nentry;
	}
}
