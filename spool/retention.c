/* SPDX-License-Identifier: MIT */
/*
 * retention.c - the consumer side of the reader: reading a message's octets, walking the
 * messages not yet consumed, per-core checkpoints, and deleting consumed segments.
 *
 * Public: spool_reader_read(), spool_reader_next(), spool_reader_consume(),
 * spool_reader_checkpoint() (spool.h).
 *
 * Checkpoint file DIR/core-N/consumed: one line "sluice-spool-checkpoint 1 SEQ OFFSET\n":
 * every message whose commit marker ends at or before (segment SEQ, OFFSET) is consumed. It is
 * replaced atomically (write to consumed.tmp, fsync, rename, fsync the directory).
 *
 * A segment is deleted only when (1) a later segment exists: the writer creates segment N+1
 * only after every write to N has completed, so N is final; (2) every committed message with
 * a record in it is consumed; and (3) no message of the live writer (the newest epoch) that
 * started in it or earlier is still open. Consumption is at least once: messages consumed out
 * of order are not in the checkpoint until every earlier one is.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "spool/reader-t.h"

#define CK_NAME "consumed"
#define CK_TAG  "sluice-spool-checkpoint 1"

int r_load_checkpoint(struct spool_reader *r, struct r_core *c)
{
	char p[4200], buf[128];
	unsigned long long seq, off;
	ssize_t n;
	int fd;

	snprintf(p, sizeof(p), "%s/core-%u/" CK_NAME, r->dir, c->id);
	if ((fd = open(p, O_RDONLY | O_CLOEXEC)) < 0)
		return errno == ENOENT ? 0 : -errno;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n < 0)
		return -errno;
	buf[n] = 0;
	if (sscanf(buf, CK_TAG " %llu %llu", &seq, &off) != 2) {
		r_problem(r, "core-%u/" CK_NAME ": unreadable checkpoint (ignored)", c->id);
		return 0;
	}
	c->ck_seq = seq;
	c->ck_off = off;
	return 0;
}

static int save_checkpoint(struct spool_reader *r, struct r_core *c)
{
	char dir[4200], tmp[4300], dst[4300], line[128];
	int fd, len, rc = 0;

	snprintf(dir, sizeof(dir), "%s/core-%u", r->dir, c->id);
	snprintf(tmp, sizeof(tmp), "%s/" CK_NAME ".tmp", dir);
	snprintf(dst, sizeof(dst), "%s/" CK_NAME, dir);
	len = snprintf(line, sizeof(line), CK_TAG " %llu %llu\n", (unsigned long long)c->ck_seq,
	               (unsigned long long)c->ck_off);
	if ((fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0640)) < 0)
		return -errno;
	if (write(fd, line, (size_t)len) != len || fsync(fd) != 0)
		rc = errno ? -errno : -EIO;
	close(fd);
	if (rc == 0 && rename(tmp, dst) != 0)
		rc = -errno;
	if (rc == 0 && (fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) >= 0) {
		if (fsync(fd) != 0)
			rc = -errno;
		close(fd);
	}
	return rc;
}

static struct r_entry *entry_of(const struct spool_entry *e)
{
	return (struct r_entry *)e; /* pub is the first member */
}

static int seg_fd(struct spool_reader *r, unsigned core_idx, uint32_t seg)
{
	char p[4300];

	if (r->fd >= 0 && r->fd_core == core_idx && r->fd_seg == seg)
		return r->fd;
	if (r->fd >= 0)
		close(r->fd);
	snprintf(p, sizeof(p), "%s/core-%u/%s", r->dir, r->cores[core_idx].id,
	         r->cores[core_idx].segs[seg].name);
	r->fd = open(p, O_RDONLY | O_CLOEXEC);
	r->fd_core = core_idx;
	r->fd_seg = seg;
	return r->fd < 0 ? -errno : r->fd;
}

/* Reads the DATA octets (the message without added headers) from offset off. */
static long read_data(struct spool_reader *r, struct r_entry *e, uint64_t off, void *buf, size_t n)
{
	uint32_t lo = 0, hi = e->next;
	size_t done = 0;

	if (off >= e->pub.size - e->pub.added_len || n == 0)
		return 0;
	while (hi - lo > 1) { /* last extent starting at or before off */
		uint32_t mid = lo + (hi - lo) / 2;

		if (e->ext[mid].msg_off <= off)
			lo = mid;
		else
			hi = mid;
	}
	for (uint32_t i = lo; i < e->next && done < n; i++) {
		const struct r_extent *x = &e->ext[i];
		uint64_t skip = off + done - x->msg_off;
		size_t k = x->len - skip < n - done ? (size_t)(x->len - skip) : n - done;
		int fd = seg_fd(r, e->core_idx, x->seg);
		ssize_t got;

		if (fd < 0)
			return fd;
		got = pread(fd, (char *)buf + done, k, (off_t)(x->off + skip));
		if (got < 0)
			return -errno;
		if ((size_t)got != k)
			return -EIO; /* the segment shrank or was deleted */
		done += k;
	}
	return (long)done;
}

/*
 * The stored message is the Received: field, then the added headers of the META record (held
 * in memory), then the rest of the DATA octets.
 */
long spool_reader_read(struct spool_reader *r, const struct spool_entry *pe, uint64_t off,
                       void *buf, size_t n)
{
	struct r_entry *e = entry_of(pe);
	uint64_t rl = pe->received_len, al = pe->added_len;
	size_t done = 0;
	long got;

	while (done < n && off < pe->size) {
		size_t want = n - done;

		if (off < rl) {
			want = rl - off < want ? (size_t)(rl - off) : want;
			got = read_data(r, e, off, (char *)buf + done, want);
		} else if (off - rl < al) {
			want = al - (off - rl) < want ? (size_t)(al - (off - rl)) : want;
			memcpy((char *)buf + done, e->meta.headers.p + (off - rl), want);
			got = (long)want;
		} else {
			got = read_data(r, e, off - al, (char *)buf + done, want);
		}
		if (got < 0)
			return got;
		if (got == 0)
			break;
		done += (size_t)got;
		off += (uint64_t)got;
	}
	return (long)done;
}

const struct spool_entry *spool_reader_next(struct spool_reader *r)
{
	while (r->cursor < r->n) {
		struct r_entry *e = r->entries[r->cursor++];

		if (!e->pub.consumed)
			return &e->pub;
	}
	return NULL;
}

int spool_reader_consume(struct spool_reader *r, const struct spool_entry *e)
{
	(void)r;
	entry_of(e)->pub.consumed = 1;
	return 0;
}

/* Advances c's checkpoint over its consumed prefix; returns 1 if it moved. */
static int advance(struct spool_reader *r, struct r_core *c)
{
	int moved = 0;

	for (size_t i = c->first_entry; i < c->first_entry + c->nentry; i++) {
		struct spool_entry *e = &r->entries[i]->pub;

		if (!e->consumed)
			break;
		if (e->commit_seg > c->ck_seq ||
		    (e->commit_seg == c->ck_seq && e->commit_end > c->ck_off)) {
			c->ck_seq = e->commit_seg;
			c->ck_off = e->commit_end;
			moved = 1;
		}
	}
	return moved;
}

/* Deletes c's segments that nothing unconsumed or live needs; returns the count. */
static int delete_consumed(struct spool_reader *r, struct r_core *c)
{
	uint64_t keep;
	int n = 0;

	if (c->nseg < 2)
		return 0;
	keep = c->segs[c->nseg - 1].seq; /* the newest may still be written */
	if (c->live_min_seg < keep)
		keep = c->live_min_seg;
	for (size_t i = c->first_entry; i < c->first_entry + c->nentry; i++) {
		struct spool_entry *e = &r->entries[i]->pub;

		if (!e->consumed && e->first_seg < keep)
			keep = e->first_seg;
	}
	for (size_t i = 0; i < c->nseg && c->segs[i].seq < keep; i++) {
		char p[4300];

		if (c->segs[i].size == UINT64_MAX)
			continue; /* already deleted */
		snprintf(p, sizeof(p), "%s/core-%u/%s", r->dir, c->id, c->segs[i].name);
		if (unlink(p) != 0 && errno != ENOENT)
			return -errno;
		c->segs[i].size = UINT64_MAX;
		n++;
	}
	return n;
}

int spool_reader_checkpoint(struct spool_reader *r, int delete_segments)
{
	int total = 0, rc;

	for (size_t i = 0; i < r->ncore; i++) {
		struct r_core *c = &r->cores[i];

		if (advance(r, c) && (rc = save_checkpoint(r, c)) != 0)
			return rc;
		if (delete_segments) {
			if ((rc = delete_consumed(r, c)) < 0)
				return rc;
			total += rc;
		}
	}
	return total;
}
