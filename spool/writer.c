/* SPDX-License-Identifier: MIT */
/*
 * writer.c - the per-core spool writer's API: open/close, the message calls (begin, append,
 * commit, abort), the poll entry points, and record placement into the filling batch.
 *
 * Public: everything under "Writer side" in spool.h. Internal: spool_rec_place(),
 * spool_place_end(), spool_msg_free() for batch.c. Submission, completion, failure handling
 * and callbacks live in batch.c; segment files, recovery and space checks in segment.c; the
 * types and the batch/segment life cycle are described in writer-t.h.
 *
 * Memory: everything is allocated in spool_writer_open() (batch buffers, message pool) and
 * freed in spool_writer_close(). Nothing here blocks or allocates afterwards.
 */
#include <errno.h>
#include <fcntl.h>
#include <liburing.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "spool/writer-t.h"

#define MIN_CAP   (256u << 10) /* batch buffer capacity, whatever batch_bytes says */
#define MIN_PIECE 512          /* smallest data record worth starting at a batch's end */

void spool_panic(const char *file, int line, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "spool: panic at %s:%d: ", file, line);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	abort();
}

void spool_config_defaults(struct spool_config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	snprintf(cfg->dir, sizeof(cfg->dir), "spool");
	cfg->segment_size = 64ull << 20;
	cfg->batch_bytes = 1ull << 20;
	cfg->batch_usec = 500;
	cfg->quota_bytes = 0;
	cfg->max_messages = 1024;
	if (gethostname(cfg->hostname, sizeof(cfg->hostname) - 1) != 0 || !cfg->hostname[0])
		snprintf(cfg->hostname, sizeof(cfg->hostname), "localhost");
	cfg->batch_buffers = 8;
	cfg->recheck_usec = 1000000;
	cfg->min_free_bytes = 64ull << 20;
}

static uint64_t realtime_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

/* --- placement ---------------------------------------------------------------------------- */

/* The filling batch, or NULL when every buffer is sealed or in flight. */
static struct spool_batch *filling(struct spool_writer *w)
{
	struct spool_batch *b;

	if (w->fill_gen - w->ack_gen >= w->nbatch)
		return NULL;
	b = batch_at(w, w->fill_gen);
	if (b->state == B_FREE)
		spool_batch_reset(w, b, w->fill_gen);
	return b;
}

/* Octets a new record can carry without -EAGAIN: room now, plus the free buffers. */
static size_t room_for_data(struct spool_writer *w)
{
	struct spool_batch *b = filling(w);
	uint64_t busy = w->fill_gen - w->ack_gen + 1;
	size_t room = 0;

	if (!b)
		return 0;
	if (w->cap - b->len > SPOOL_REC_HDR + MIN_PIECE)
		room = w->cap - b->len - SPOOL_REC_HDR - MIN_PIECE;
	return room + (size_t)(w->nbatch - busy) * (w->cap - SPOOL_REC_HDR);
}

uint8_t *spool_rec_place(struct spool_writer *w, struct spool_msg *m, size_t payload)
{
	size_t need = SPOOL_REC_HDR + payload;
	struct spool_batch *b = filling(w);
	uint8_t *h;

	if (!b || need > w->cap)
		return NULL;
	if (w->cap - b->len < need) {
		spool_batch_seal_filling(w);
		b = filling(w);
		if (!b)
			return NULL;
	}
	if (b->len == 0)
		b->first_us = w->now_us;
	h = b->mem + SEG_HEADROOM + b->len;
	b->last_off = b->len;
	b->last_is_data = 0;
	b->len += need;
	w->used_bytes += need;
	if (m)
		m->last_gen = b->gen;
	return h;
}

/* After placing: a batch that reached batch_bytes is sealed and submitted at once. */
static void size_trigger(struct spool_writer *w)
{
	struct spool_batch *b = filling(w);

	if (b && b->len >= w->cfg.batch_bytes) {
		spool_batch_seal_filling(w);
		spool_batch_submit_ready(w);
	}
}

/* Places up to n octets of m's data as one record (or grows the last one); returns octets. */
static size_t place_data(struct spool_writer *w, struct spool_msg *m, const void *p, size_t n)
{
	struct spool_batch *b = filling(w);
	size_t k;
	uint8_t *h;

	if (!b)
		return 0;
	if (b->last_is_data && b->last_key == m->key && b->len < w->cap) {
		k = n < w->cap - b->len ? n : w->cap - b->len;
		h = b->mem + SEG_HEADROOM + b->last_off;
		memcpy(b->mem + SEG_HEADROOM + b->len, p, k);
		b->last_crc = spool_crc32c(b->last_crc, p, k);
		spool_put32(h + 8, spool_get32(h + 8) + (uint32_t)k);
		spool_put32(h, spool_rec_crc(h, b->last_crc));
		b->len += k;
		w->used_bytes += k;
		m->last_gen = b->gen;
		return k;
	}
	if (w->cap - b->len < SPOOL_REC_HDR + MIN_PIECE && w->cap - b->len < SPOOL_REC_HDR + n) {
		spool_batch_seal_filling(w);
		if (!(b = filling(w)))
			return 0;
	}
	k = w->cap - b->len - SPOOL_REC_HDR;
	k = n < k ? n : k;
	h = spool_rec_place(w, m, k);
	memcpy(h + SPOOL_REC_HDR, p, k);
	spool_rec_seal(h, SPOOL_REC_DATA, m->key, (uint32_t)k);
	b->last_is_data = 1;
	b->last_key = m->key;
	b->last_crc = spool_crc32c(0, p, k);
	return k;
}

/* Appends message octets (the caller checked room_for_data()). */
static void put_data(struct spool_writer *w, struct spool_msg *m, const void *p, size_t n)
{
	const char *c = p;

	m->crc = spool_crc32c(m->crc, p, n);
	m->size += n;
	while (n > 0) {
		size_t k = place_data(w, m, c, n);

		if (k == 0)
			PANIC("no room for %zu octets after the room check", n);
		c += k;
		n -= k;
		size_trigger(w);
	}
}

/* --- messages ----------------------------------------------------------------------------- */

void spool_msg_free(struct spool_writer *w, struct spool_msg *m)
{
	m->state = MSG_FREE;
	m->cb = NULL;
	m->arg = NULL;
	m->next = w->free_msgs;
	w->free_msgs = m;
}

const char *spool_msg_queue_id(const struct spool_msg *m)
{
	return m->qid;
}

static int over_quota(struct spool_writer *w, size_t more)
{
	return w->cfg.quota_bytes &&
	       (w->used_bytes >= w->cfg.quota_bytes || w->cfg.quota_bytes - w->used_bytes < more);
}

struct spool_msg *spool_msg_begin(struct spool_writer *w, const struct spool_envelope *env)
{
	struct spool_msg *m = w->free_msgs;
	size_t envlen, rlen;
	uint8_t *h;

	if (w->full || over_quota(w, 0)) {
		w->full = 1;
		return errno = ENOSPC, NULL;
	}
	if (w->down)
		return errno = EIO, NULL;
	if (!m)
		return errno = EAGAIN, NULL;
	spool_queue_id(m->qid, w->epoch_us, w->core, w->counter);
	rlen = spool_received(w->scratch, sizeof(w->scratch), env, w->cfg.hostname, m->qid);
	envlen = spool_env_size(env, m->qid, (uint32_t)rlen);
	if (envlen + rlen + 2 * SPOOL_REC_HDR + MIN_PIECE > w->cap)
		return errno = E2BIG, NULL;
	if (room_for_data(w) < envlen + rlen + 2 * SPOOL_REC_HDR)
		return errno = EAGAIN, NULL;
	w->free_msgs = m->next;
	w->counter++;
	if (++w->next_key == 0)
		w->next_key = 1;
	m->key = w->next_key;
	m->state = MSG_OPEN;
	m->aborting = 0;
	m->err = 0;
	m->size = 0;
	m->crc = 0;
	m->next = NULL;
	h = spool_rec_place(w, m, envlen);
	if (!h)
		PANIC("no room for a %zu-octet envelope after the room check", envlen);
	m->first_gen = m->last_gen;
	spool_env_encode(h + SPOOL_REC_HDR, env, m->qid, (uint32_t)rlen);
	spool_rec_seal(h, SPOOL_REC_BEGIN, m->key, (uint32_t)envlen);
	put_data(w, m, w->scratch, rlen);
	return m;
}

int spool_msg_append(struct spool_writer *w, struct spool_msg *m, const void *p, size_t n)
{
	if (m->state != MSG_OPEN)
		return -EINVAL;
	if (m->err || n == 0)
		return 0; /* failed: the error comes through the commit callback */
	if (over_quota(w, n)) {
		w->full = 1;
		m->err = -ENOSPC;
		return 0;
	}
	if (n > room_for_data(w))
		return n > (size_t)(w->nbatch - 1) * (w->cap - SPOOL_REC_HDR) ? -E2BIG : -EAGAIN;
	put_data(w, m, p, n);
	return 0;
}

/* Places m's end record (commit marker, or abort record); -EAGAIN when no buffer has room. */
int spool_place_end(struct spool_writer *w, struct spool_msg *m)
{
	int commit = !m->aborting && !m->err;
	uint8_t *h = spool_rec_place(w, NULL, commit ? SPOOL_COMMIT_LEN : 0);
	struct spool_batch *b;

	if (!h)
		return -EAGAIN;
	b = filling(w);
	if (!commit) {
		spool_rec_seal(h, SPOOL_REC_ABORT, m->key, 0);
		if (m->aborting)
			spool_msg_free(w, m);
		else
			spool_done_push(w, m, m->err);
		size_trigger(w);
		return 0;
	}
	spool_commit_encode(h + SPOOL_REC_HDR, m->size, m->crc);
	spool_rec_seal(h, SPOOL_REC_COMMIT, m->key, SPOOL_COMMIT_LEN);
	m->state = MSG_COMMITTING;
	m->commit_gen = b->gen;
	m->commit_off = (size_t)(h - (b->mem + SEG_HEADROOM));
	m->next = NULL;
	*b->commits_tail = m;
	b->commits_tail = &m->next;
	b->ncommit++;
	size_trigger(w);
	return 0;
}

static void end_or_wait(struct spool_writer *w, struct spool_msg *m)
{
	if (!w->wait_head && spool_place_end(w, m) == 0)
		return;
	m->state = MSG_WAIT_END;
	m->next = NULL;
	*w->wait_tail = m;
	w->wait_tail = &m->next;
}

int spool_msg_commit(struct spool_writer *w, struct spool_msg *m, spool_commit_cb cb, void *arg)
{
	if (m->state != MSG_OPEN)
		return -EINVAL;
	m->cb = cb;
	m->arg = arg;
	end_or_wait(w, m);
	return 0;
}

void spool_msg_abort(struct spool_writer *w, struct spool_msg *m)
{
	if (m->state != MSG_OPEN)
		return;
	m->aborting = 1;
	w->st.aborted++;
	end_or_wait(w, m);
}

/* --- loop entry points -------------------------------------------------------------------- */

int spool_writer_poll(struct spool_writer *w, uint64_t now_us)
{
	struct spool_batch *b;
	int n;

	w->now_us = now_us;
	if (now_us >= w->recheck_at) {
		spool_space_check(w);
		w->recheck_at = now_us + w->cfg.recheck_usec;
	}
	b = filling(w);
	if (b && b->len > 0 && now_us - b->first_us >= w->cfg.batch_usec)
		spool_batch_seal_filling(w);
	spool_place_waiting(w);
	n = spool_batch_submit_ready(w);
	spool_run_callbacks(w);
	return n;
}

uint64_t spool_writer_next_due(const struct spool_writer *w, uint64_t now_us)
{
	const struct spool_batch *b = NULL;
	uint64_t due = UINT64_MAX;

	if (w->done_head)
		return 0;
	if (w->submit_gen < w->fill_gen && !w->down && !(w->seg.open && w->seg.closing))
		return 0;
	if (w->fill_gen - w->ack_gen < w->nbatch)
		b = &w->batches[w->fill_gen % w->nbatch];
	if (b && b->state == B_FILLING && b->len > 0) {
		due = b->first_us + w->cfg.batch_usec;
		due = due <= now_us ? 0 : due - now_us;
	}
	if ((w->full || w->down) && w->recheck_at - now_us < due)
		due = w->recheck_at <= now_us ? 0 : w->recheck_at - now_us;
	return due;
}

void spool_writer_cqe(struct spool_writer *w, const struct io_uring_cqe *cqe)
{
	struct spool_op *op = (struct spool_op *)(uintptr_t)(cqe->user_data & ~SPOOL_UD_MASK);

	spool_batch_cqe(w, op, cqe->res);
	spool_run_callbacks(w);
}

int spool_writer_idle(const struct spool_writer *w)
{
	const struct spool_batch *b = &w->batches[w->fill_gen % w->nbatch];
	int filling_empty =
	    w->fill_gen - w->ack_gen >= w->nbatch || b->state != B_FILLING || b->len == 0;

	return w->ack_gen == w->submit_gen && w->submit_gen == w->fill_gen && filling_empty &&
	       !w->wait_head && !w->done_head;
}

void spool_writer_stats(const struct spool_writer *w, struct spool_writer_stats *st)
{
	*st = w->st;
}

void spool_writer_inject(struct spool_writer *w, enum spool_fault where, int err)
{
	if (where >= SPOOL_FAULT_WRITE && where <= SPOOL_FAULT_SHORT)
		w->inject[where] = err < 0 ? err : -EIO;
}

/* --- open and close ----------------------------------------------------------------------- */

static int check_config(struct spool_config *c)
{
	if (!c->dir[0] || c->max_messages == 0 || c->batch_buffers < 2)
		return -EINVAL;
	if (c->batch_bytes == 0)
		c->batch_bytes = 1;
	if (c->batch_bytes > SPOOL_REC_MAX)
		c->batch_bytes = SPOOL_REC_MAX;
	if (c->segment_size < 4096)
		c->segment_size = 4096;
	if (!c->hostname[0])
		snprintf(c->hostname, sizeof(c->hostname), "localhost");
	return 0;
}

static int alloc_pools(struct spool_writer *w)
{
	size_t memlen = (SEG_HEADROOM + w->cap + 4095) & ~(size_t)4095;

	w->batches = calloc(w->nbatch, sizeof(*w->batches));
	w->msgs = calloc(w->cfg.max_messages, sizeof(*w->msgs));
	if (!w->batches || !w->msgs)
		return -ENOMEM;
	for (uint32_t i = 0; i < w->nbatch; i++) {
		w->batches[i].mem = aligned_alloc(4096, memlen);
		if (!w->batches[i].mem)
			return -ENOMEM;
	}
	for (uint32_t i = w->cfg.max_messages; i-- > 0;)
		spool_msg_free(w, &w->msgs[i]);
	return 0;
}

static int make_dirs(struct spool_writer *w)
{
	int fd;

	if (mkdir(w->cfg.dir, 0750) != 0 && errno != EEXIST)
		return -errno;
	snprintf(w->path, sizeof(w->path), "%s/core-%u", w->cfg.dir, w->core);
	if (mkdir(w->path, 0750) == 0) {
		fd = open(w->cfg.dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (fd >= 0) {
			fsync(fd); /* the new core directory's entry */
			close(fd);
		}
	} else if (errno != EEXIST) {
		return -errno;
	}
	w->dirfd = open(w->path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	return w->dirfd < 0 ? -errno : 0;
}

static void free_writer(struct spool_writer *w)
{
	if (w->batches)
		for (uint32_t i = 0; i < w->nbatch; i++)
			free(w->batches[i].mem);
	free(w->batches);
	free(w->msgs);
	if (w->dirfd >= 0)
		close(w->dirfd);
	free(w);
}

int spool_writer_open(struct spool_writer **out, const struct spool_config *cfg, unsigned core,
                      struct io_uring *ring)
{
	struct spool_writer *w = aligned_alloc(64, (sizeof(*w) + 63) & ~(size_t)63);
	uint64_t now = realtime_us();
	int rc;

	*out = NULL;
	if (!w)
		return -ENOMEM;
	memset(w, 0, sizeof(*w));
	w->dirfd = -1;
	w->cfg = *cfg;
	w->core = core;
	w->ring = ring;
	w->seg.fd = -1;
	w->wait_tail = &w->wait_head;
	w->done_tail = &w->done_head;
	if ((rc = check_config(&w->cfg)) != 0)
		goto fail;
	w->cap = w->cfg.batch_bytes > MIN_CAP ? w->cfg.batch_bytes : MIN_CAP;
	w->nbatch = w->cfg.batch_buffers;
	if ((rc = alloc_pools(w)) != 0 || (rc = make_dirs(w)) != 0)
		goto fail;
	if ((rc = spool_seg_recover(w)) != 0)
		goto fail;
	if (w->epoch_us < now)
		w->epoch_us = now;
	w->used_bytes = spool_dir_usage(w->cfg.dir);
	*out = w;
	return 0;
fail:
	free_writer(w);
	return rc;
}

/* Drives the ring until everything placed is acknowledged or failed. */
static void drain(struct spool_writer *w)
{
	int stuck = 0;

	while (!spool_writer_idle(w)) {
		struct io_uring_cqe *cqe;
		unsigned head, n = 0;

		spool_batch_seal_filling(w);
		spool_place_waiting(w);
		spool_batch_submit_ready(w);
		spool_run_callbacks(w);
		if (spool_writer_idle(w))
			break;
		if (w->ack_gen == w->submit_gen) {
			/* nothing in flight and nothing can go: no segment can be opened */
			if (++stuck > 4)
				PANIC("spool writer cannot drain");
			spool_discard_unsubmitted(w, w->down ? w->down : -EIO);
			continue;
		}
		if (io_uring_submit_and_wait(w->ring, 1) < 0)
			continue;
		io_uring_for_each_cqe(w->ring, head, cqe)
		{
			uint64_t ud = cqe->user_data;

			if (SPOOL_UD_IS(ud))
				spool_batch_cqe(w,
				                (struct spool_op *)(uintptr_t)(ud & ~SPOOL_UD_MASK),
				                cqe->res);
			n++;
		}
		io_uring_cq_advance(w->ring, n);
		spool_run_callbacks(w);
	}
}

int spool_writer_close(struct spool_writer *w)
{
	int rc;

	for (uint32_t i = 0; i < w->cfg.max_messages; i++)
		if (w->msgs[i].state == MSG_OPEN)
			spool_msg_abort(w, &w->msgs[i]);
	drain(w);
	rc = w->st.flush_errors ? -EIO : 0;
	if (w->seg.open) {
		w->seg.closing = 1;
		spool_seg_finish(w);
	}
	free_writer(w);
	return rc;
}

int spool_msg_commit_meta(struct spool_writer *w, struct spool_msg *m,
                          const struct spool_commit_meta *meta, spool_commit_cb cb, void *arg)
{
	size_t len;
	uint8_t *h;

	if (!meta)
		return spool_msg_commit(w, m, cb, arg);
	if (m->state != MSG_OPEN)
		return -EINVAL;
	len = spool_meta_size(meta);
	if (len > SPOOL_META_MAX)
		return -E2BIG;
	if (!m->err) { /* after a failure the META is pointless: the commit reports the error */
		h = spool_rec_place(w, m, len);
		if (!h)
			return -EAGAIN;
		spool_meta_encode(h + SPOOL_REC_HDR, meta);
		spool_rec_seal(h, SPOOL_REC_META, m->key, (uint32_t)len);
	}
	return spool_msg_commit(w, m, cb, arg);
}
