/* SPDX-License-Identifier: MIT */
/*
 * batch.c - group commit: sealing batches, submitting them as one linked chain
 * (write -> fdatasync [-> directory fsync]) on the shared ring, handling their completions,
 * acknowledging them in generation order, and failing the messages a failure touches.
 *
 * Internal to the writer (writer-t.h). Rules:
 *   - A message's callback runs only after the batch holding its commit marker, and every
 *     earlier batch, completed their write and flush (and the directory fsync of a new segment).
 *   - A short write, -EAGAIN or -EINTR is resubmitted for the rest; the flush after it runs
 *     again. The batch owns its buffer until its last CQE.
 *   - A write or flush error is never retried: the segment is sealed (no further batches),
 *     every batch on it not yet acknowledged fails, and so does every message with records in
 *     those batches. The segment is truncated to its last acknowledged batch once drained.
 *   - Callbacks run from spool_run_callbacks() only (end of spool_writer_cqe() and poll).
 */
#include <errno.h>
#include <liburing.h>
#include <string.h>
#include <time.h>

#include "spool/writer-t.h"

static int result_of(int err)
{
	if (err == 0)
		return 0;
	return err == -ENOSPC || err == -EDQUOT ? -ENOSPC : -EIO;
}

void spool_batch_reset(struct spool_writer *w, struct spool_batch *b, uint64_t gen)
{
	(void)w;
	b->len = 0;
	b->gen = gen;
	b->first_us = 0;
	b->state = B_FILLING;
	b->seg_start = 0;
	b->ops_inflight = 0;
	b->write_done = b->fsync_done = b->dirsync_done = 0;
	b->retries = 0;
	b->resubmit = 0;
	b->err = 0;
	b->seg = NULL;
	b->off = 0;
	b->wlen = b->written = 0;
	b->ncommit = 0;
	b->commits = NULL;
	b->commits_tail = &b->commits;
	b->last_is_data = 0;
	for (int k = 0; k < 3; k++) {
		b->ops[k].b = b;
		b->ops[k].kind = (uint8_t)k;
	}
}

void spool_batch_seal_filling(struct spool_writer *w)
{
	struct spool_batch *b;

	if (w->fill_gen - w->ack_gen >= w->nbatch)
		return;
	b = batch_at(w, w->fill_gen);
	if (b->state != B_FILLING || b->len == 0)
		return;
	b->state = B_SEALED;
	w->fill_gen++;
}

/* --- submission --------------------------------------------------------------------------- */

static void set_ud(struct io_uring_sqe *sqe, struct spool_op *op)
{
	io_uring_sqe_set_data64(sqe, (uint64_t)(uintptr_t)op | SPOOL_UD_TAG);
}

/* Queues the chain for the ops still to run; the caller made sure 3 SQEs are free. */
static int prep_ops(struct spool_writer *w, struct spool_batch *b)
{
	const uint8_t *base = b->seg_start ? b->mem : b->mem + SEG_HEADROOM;
	int dir = b->seg_start && !b->dirsync_done;
	struct io_uring_sqe *sqe;
	int n = 0;

	if (!b->write_done) {
		sqe = io_uring_get_sqe(w->ring);
		io_uring_prep_write(sqe, b->seg->fd, base + b->written,
		                    (unsigned)(b->wlen - b->written), b->off + b->written);
		sqe->flags |= IOSQE_IO_LINK;
		set_ud(sqe, &b->ops[OP_WRITE]);
		w->st.writes++;
		n++;
	}
	if (!b->fsync_done) {
		sqe = io_uring_get_sqe(w->ring);
		io_uring_prep_fsync(sqe, b->seg->fd, IORING_FSYNC_DATASYNC);
		if (dir)
			sqe->flags |= IOSQE_IO_LINK;
		set_ud(sqe, &b->ops[OP_FSYNC]);
		n++;
	}
	if (dir) {
		sqe = io_uring_get_sqe(w->ring);
		io_uring_prep_fsync(sqe, w->dirfd, 0);
		set_ud(sqe, &b->ops[OP_DIRSYNC]);
		n++;
	}
	b->ops_inflight = (uint8_t)n;
	return n;
}

static uint64_t realtime_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

/* Gives b its segment and file offset; the first batch of a segment carries its header. */
static void assign(struct spool_writer *w, struct spool_batch *b)
{
	struct spool_seg *seg = &w->seg;

	b->seg = seg;
	b->seg_start = seg->alloc == 0;
	b->wlen = b->len;
	if (b->seg_start) {
		struct spool_seg_hdr sh = {SPOOL_FORMAT_VERSION, w->core, seg->seq, w->epoch_us,
		                           realtime_us()};

		spool_seg_hdr_encode(b->mem + SPOOL_REC_HDR, &sh);
		spool_rec_seal(b->mem, SPOOL_REC_SEGMENT, 0, SPOOL_SEG_HDR_LEN);
		b->wlen += SEG_HEADROOM;
	}
	b->off = seg->alloc;
	b->written = 0;
	seg->alloc += b->wlen;
	seg->inflight++;
	seg->last_gen = b->gen;
	b->state = B_INFLIGHT;
	w->st.batches++;
	if (seg->alloc >= w->cfg.segment_size)
		seg->closing = 1; /* rotate: the next segment opens once this one drains */
}

static int sq_room(struct spool_writer *w)
{
	if (io_uring_sq_space_left(w->ring) >= 3)
		return 1;
	io_uring_submit(w->ring);
	return io_uring_sq_space_left(w->ring) >= 3;
}

int spool_batch_submit_ready(struct spool_writer *w)
{
	int n = 0, rc;

	for (uint64_t g = w->ack_gen; g < w->submit_gen; g++) {
		struct spool_batch *b = batch_at(w, g);

		if (!b->resubmit)
			continue;
		if (!sq_room(w))
			goto out;
		b->resubmit = 0;
		n += prep_ops(w, b);
	}
	while (w->submit_gen < w->fill_gen) {
		struct spool_batch *b = batch_at(w, w->submit_gen);

		if (!w->seg.open) {
			if (w->down)
				break;
			if ((rc = spool_seg_create(w)) != 0) {
				w->down = rc;
				w->full = result_of(rc) == -ENOSPC;
				w->recheck_at = w->now_us + w->cfg.recheck_usec;
				spool_discard_unsubmitted(w, rc);
				break;
			}
		}
		if (w->seg.closing || !sq_room(w))
			break;
		assign(w, b);
		n += prep_ops(w, b);
		w->submit_gen++;
	}
out:
	if (n > 0)
		io_uring_submit(w->ring);
	return n;
}

/* --- failure ------------------------------------------------------------------------------ */

void spool_fail_range(struct spool_writer *w, uint64_t a, uint64_t bgen, int err)
{
	err = result_of(err);
	for (uint32_t i = 0; i < w->cfg.max_messages; i++) {
		struct spool_msg *m = &w->msgs[i];
		int overlap = m->first_gen <= bgen && m->last_gen >= a;

		if (!overlap || m->err)
			continue;
		if (m->state == MSG_OPEN || (m->state == MSG_WAIT_END && !m->aborting)) {
			m->err = err;
		} else if (m->state == MSG_COMMITTING && m->commit_gen > bgen) {
			/* its marker waits in a later batch: turn it into an abort record */
			uint8_t *h = batch_at(w, m->commit_gen)->mem + SEG_HEADROOM + m->commit_off;

			m->err = err;
			spool_rec_seal(h, SPOOL_REC_ABORT, m->key, SPOOL_COMMIT_LEN);
		}
	}
}

void spool_discard_unsubmitted(struct spool_writer *w, int err)
{
	err = result_of(err);
	for (uint64_t g = w->submit_gen; g <= w->fill_gen && g - w->ack_gen < w->nbatch; g++) {
		struct spool_batch *b = batch_at(w, g);
		struct spool_msg *m = b->commits, *next;

		if (b->state != B_SEALED && b->state != B_FILLING)
			continue;
		b->commits = NULL;
		b->state = B_FREE;
		for (; m; m = next) {
			next = m->next;
			spool_done_push(w, m, err);
		}
	}
	for (uint32_t i = 0; i < w->cfg.max_messages; i++) {
		struct spool_msg *m = &w->msgs[i];

		if ((m->state == MSG_OPEN || (m->state == MSG_WAIT_END && !m->aborting)) &&
		    !m->err && m->last_gen >= w->submit_gen)
			m->err = err;
	}
	w->fill_gen = w->submit_gen;
}

static void batch_failed(struct spool_writer *w, struct spool_batch *b, int err)
{
	struct spool_seg *seg = b->seg;

	if (!b->err)
		b->err = err;
	if (seg->broken)
		return;
	seg->broken = err;
	seg->closing = 1;
	w->st.flush_errors++;
	if (result_of(err) == -ENOSPC) {
		w->full = 1;
		w->recheck_at = w->now_us + w->cfg.recheck_usec;
	}
	spool_fail_range(w, w->ack_gen, seg->last_gen, err);
}

/* --- completion --------------------------------------------------------------------------- */

void spool_done_push(struct spool_writer *w, struct spool_msg *m, int result)
{
	m->state = MSG_DONE;
	m->result = result;
	m->next = NULL;
	*w->done_tail = m;
	w->done_tail = &m->next;
}

void spool_run_callbacks(struct spool_writer *w)
{
	struct spool_msg *m;

	if (w->in_callbacks)
		return;
	w->in_callbacks = 1;
	while ((m = w->done_head) != NULL) {
		w->done_head = m->next;
		if (!w->done_head)
			w->done_tail = &w->done_head;
		if (m->result == 0)
			w->st.committed++;
		else
			w->st.failed++;
		if (m->cb)
			m->cb(m->arg, m->result, m->qid);
		spool_msg_free(w, m); /* the callback may not touch m after it returns */
	}
	w->in_callbacks = 0;
}

void spool_place_waiting(struct spool_writer *w)
{
	struct spool_msg *m;

	while ((m = w->wait_head) != NULL) {
		struct spool_msg *next = m->next;

		if (spool_place_end(w, m) != 0)
			break;
		w->wait_head = next;
		if (!next)
			w->wait_tail = &w->wait_head;
	}
}

static void ack_ready(struct spool_writer *w)
{
	while (w->ack_gen < w->submit_gen) {
		struct spool_batch *b = batch_at(w, w->ack_gen);
		struct spool_seg *seg = b->seg;
		struct spool_msg *m, *next;
		int err;

		if (b->state != B_DONE)
			break;
		err = b->err ? b->err : seg->broken;
		if (!err) {
			seg->durable = b->off + b->wlen;
			w->st.bytes += b->wlen;
			if (b->ncommit > w->st.max_batch_msgs)
				w->st.max_batch_msgs = b->ncommit;
		}
		m = b->commits;
		b->commits = NULL;
		b->state = B_FREE;
		seg->inflight--;
		w->ack_gen++;
		for (; m; m = next) {
			next = m->next;
			spool_done_push(w, m, err ? result_of(err) : m->err);
		}
		if (seg->closing && seg->inflight == 0)
			spool_seg_finish(w);
	}
	spool_place_waiting(w);
	spool_batch_submit_ready(w);
}

static int injected(struct spool_writer *w, unsigned kind, int res)
{
	int *f = w->inject;

	if (kind == OP_WRITE && f[SPOOL_FAULT_WRITE]) {
		res = f[SPOOL_FAULT_WRITE];
		f[SPOOL_FAULT_WRITE] = 0;
	} else if (kind == OP_WRITE && f[SPOOL_FAULT_SHORT] && res > 1) {
		res /= 2;
		f[SPOOL_FAULT_SHORT] = 0;
	} else if (kind == OP_FSYNC && f[SPOOL_FAULT_FSYNC]) {
		res = f[SPOOL_FAULT_FSYNC];
		f[SPOOL_FAULT_FSYNC] = 0;
	}
	return res;
}

static void write_result(struct spool_writer *w, struct spool_batch *b, int res)
{
	if (res >= 0) {
		b->written += (size_t)res;
		if (b->written >= b->wlen) {
			b->write_done = 1;
			return;
		}
		w->st.short_writes++;
		if (res == 0 && ++b->retries > 8)
			batch_failed(w, b, -EIO);
		return;
	}
	if (res == -EAGAIN || res == -EINTR || res == -ECANCELED) {
		if (res != -ECANCELED)
			w->st.short_writes++;
		if (++b->retries > 64)
			batch_failed(w, b, -EIO);
		return;
	}
	batch_failed(w, b, res);
}

static void flush_result(struct spool_writer *w, struct spool_batch *b, unsigned kind, int res)
{
	if (res == 0) {
		if (kind == OP_FSYNC) {
			b->fsync_done = 1;
			w->st.fsyncs++;
		} else {
			b->dirsync_done = 1;
			w->st.dir_fsyncs++;
		}
		return;
	}
	if (res == -ECANCELED)
		return; /* never ran (the write before it was short): runs after the rest */
	batch_failed(w, b, res);
}

void spool_batch_cqe(struct spool_writer *w, struct spool_op *op, int res)
{
	struct spool_batch *b = op->b;

	if (b->state != B_INFLIGHT || b->ops_inflight == 0)
		PANIC("CQE for batch %llu in state %u", (unsigned long long)b->gen, b->state);
	b->ops_inflight--;
	res = injected(w, op->kind, res);
	if (op->kind == OP_WRITE)
		write_result(w, b, res);
	else
		flush_result(w, b, op->kind, res);
	if (b->ops_inflight > 0)
		return;
	if (!b->err && !(b->write_done && b->fsync_done && (!b->seg_start || b->dirsync_done))) {
		if (!b->write_done)
			b->fsync_done = b->dirsync_done = 0; /* must follow the rest of the write */
		b->resubmit = 1;
		spool_batch_submit_ready(w);
		return;
	}
	b->state = B_DONE;
	ack_ready(w);
}
