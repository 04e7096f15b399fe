/* SPDX-License-Identifier: MIT */
/*
 * spool.h - the durable spool: per-core append-only segment files written through io_uring
 * with group commit, crash recovery, and a reader for downstream consumers.
 *
 * This header is the contract between the spool and its embedders (the per-core engine loop,
 * the sluice-spool tool, tests). Writer side, per core, no locks:
 *
 *	spool_writer_open(&w, &cfg, core_id, ring);
 *	m = spool_msg_begin(&w, &env);         // envelope known at DATA / first BDAT
 *	spool_msg_append(&w, m, p, n);         // body spans as they arrive (copied, streamed)
 *	spool_msg_commit(&w, m, cb, arg);      // cb(arg, 0, queue_id) only after the flush
 *	                                       // that covers the whole record has completed
 *	spool_msg_commit_meta(&w, m, &meta, cb, arg); // or: with the end-of-data verdict
 *	spool_msg_abort(&w, m);                // RSET / disconnect / rejected: never visible
 *	// in the core's loop:
 *	spool_writer_poll(&w, now_us);         // submits due batches (size or age)
 *	spool_writer_cqe(&w, cqe);             // for every CQE with SPOOL_UD_IS(user_data)
 *
 * The ring is shared with the embedder's network I/O: the spool tags every SQE's user_data
 * with SPOOL_UD_TAG in its low 3 bits; the embedder must never use that tag for its own SQEs
 * and hands every CQE carrying it to spool_writer_cqe().
 *
 * Callbacks: cb may be called from spool_writer_cqe() or spool_writer_poll(), never from
 * inside spool_msg_commit(). result is 0, -EIO (any write or flush failure: reply 451 4.3.0),
 * or -ENOSPC (disk full or quota: reply 452 4.3.1). The callback may call any spool_msg_*
 * function for other messages; m is freed once cb returns.
 *
 * Errors: functions return 0 or -errno; spool_msg_begin() returns NULL with errno set
 * (ENOSPC while the spool is over quota or full: reply 452 4.3.1 to MAIL; EIO while no segment
 * can be opened; EAGAIN when every batch buffer is in flight or the message pool is empty;
 * E2BIG when the envelope does not fit in one batch buffer).
 *
 * Back-pressure: memory is fixed at open (cfg.batch_buffers buffers of cfg.batch_bytes, a pool
 * of cfg.max_messages messages). spool_msg_append() copies the span into the filling batch and
 * returns 0; when every buffer is in flight it returns -EAGAIN and consumes nothing: keep the
 * span, stop reading that connection, and retry after the next spool CQE (rare: it means the
 * disk is slower than the network). After a write or flush failure has hit a message, append
 * returns 0 and discards the bytes; the error is reported once, through the commit callback.
 *
 * Time: now_us is a monotonic clock in microseconds (CLOCK_MONOTONIC); records placed between
 * two polls are stamped with the last poll's now_us. The spool calls io_uring_submit() itself
 * after queueing SQEs (up to 3 per batch, at most cfg.batch_buffers batches in flight), so do
 * not call spool functions between io_uring_get_sqe() and the end of preparing that SQE. It
 * never waits on the ring except in spool_writer_close(), and never marks CQEs seen (the
 * embedder does, after spool_writer_cqe()).
 *
 * Reader side (any process, no locks; the writer may be running): spool_reader_open() scans the
 * segments, verifies every CRC and builds an index of committed messages; see below.
 */
#ifndef SLUICE_SPOOL_SPOOL_H
#define SLUICE_SPOOL_SPOOL_H

#include <netinet/in.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

struct io_uring;
struct io_uring_cqe;

#define SPOOL_UD_TAG       1ull
#define SPOOL_UD_MASK      7ull
#define SPOOL_UD_IS(ud)    (((ud)&SPOOL_UD_MASK) == SPOOL_UD_TAG)
#define SPOOL_QUEUE_ID_MAX 32 /* including the NUL */

struct spool_config {
	char dir[4096];        /* spool root; segments in DIR/core-N/ */
	uint64_t segment_size; /* rotate after this many bytes (default 64 MiB) */
	uint64_t batch_bytes;  /* flush when a batch holds this much (default 1 MiB) */
	uint32_t batch_usec;   /* or when its oldest record waited this long (default 500) */
	uint64_t quota_bytes;  /* 0 = none; past it: ENOSPC */
	uint32_t max_messages; /* in-flight messages per core (pool size) */
	char hostname[256];    /* "by" in the Received: header */
	/* Added after the first draft; spool_config_defaults() fills them. */
	uint32_t batch_buffers;  /* batch buffers per core, >= 2 (default 8); see append */
	uint32_t recheck_usec;   /* while full or over quota, re-check this often (1 s) */
	uint64_t min_free_bytes; /* the disk counts as full below this (default 64 MiB) */
};

void spool_config_defaults(struct spool_config *cfg);

/* The envelope of one message, as the protocol engine saw it. Strings need not be NUL-ended. */
struct spool_str {
	const char *p;
	size_t n;
};

struct spool_envelope {
	struct sockaddr_storage client; /* address and port */
	struct spool_str client_name;   /* reverse DNS name, or empty */
	struct spool_str helo;
	uint8_t ehlo; /* EHLO (1) or HELO (0): "with ESMTP" / "with SMTP" */
	uint8_t tls;
	struct spool_str mail_from;   /* reverse-path without <>, "" for null */
	struct spool_str mail_params; /* raw ESMTP parameters */
	uint32_t nrcpt;
	const struct spool_str *rcpt;        /* nrcpt forward-paths without <> */
	const struct spool_str *rcpt_params; /* nrcpt raw parameter strings (may be NULL) */
	struct spool_str verdict;            /* policy verdict, e.g. "accept" */
	struct spool_str tags;               /* policy tags / rule ids, comma-separated */
	uint64_t recv_time_us;               /* CLOCK_REALTIME, microseconds */
};

struct spool_writer;
struct spool_msg;

typedef void (*spool_commit_cb)(void *arg, int result, const char *queue_id);

int spool_writer_open(struct spool_writer **w, const struct spool_config *cfg, unsigned core,
                      struct io_uring *ring);
/*
 * Submit everything pending, wait for every completion, close files. Callbacks still fire;
 * messages still open are aborted. Waits on the ring itself and consumes (drops) CQEs that are
 * not the spool's: stop the embedder's own I/O first, or drive the loop until
 * spool_writer_idle(). Returns 0, or -EIO if any write or flush failed during the writer's life.
 */
int spool_writer_close(struct spool_writer *w);

struct spool_msg *spool_msg_begin(struct spool_writer *w, const struct spool_envelope *env);
const char *spool_msg_queue_id(const struct spool_msg *m);
int spool_msg_append(struct spool_writer *w, struct spool_msg *m, const void *p, size_t n);
int spool_msg_commit(struct spool_writer *w, struct spool_msg *m, spool_commit_cb cb, void *arg);

/*
 * What is known only at the end of the message (the body verdict): it replaces the envelope's
 * verdict and tags for readers; headers (CRLF-ended lines, may be empty) are shown right after
 * the Received: field; quarantine marks the message to be kept apart.
 */
struct spool_commit_meta {
	struct spool_str verdict;
	struct spool_str tags;
	struct spool_str headers;
	uint8_t quarantine;
};
/*
 * spool_msg_commit() preceded by a META record holding meta (meta NULL: same as commit). Like
 * append, -EAGAIN when no buffer has room (nothing done: retry after the next spool CQE);
 * -E2BIG when meta exceeds 64 KiB; -EINVAL when m is not open.
 */
int spool_msg_commit_meta(struct spool_writer *w, struct spool_msg *m,
                          const struct spool_commit_meta *meta, spool_commit_cb cb, void *arg);
void spool_msg_abort(struct spool_writer *w, struct spool_msg *m);

/* Submit due batches; returns the number of SQEs submitted or -errno. */
int spool_writer_poll(struct spool_writer *w, uint64_t now_us);
/* Microseconds until the next batch is due (for the loop's wait timeout); UINT64_MAX if idle. */
uint64_t spool_writer_next_due(const struct spool_writer *w, uint64_t now_us);
void spool_writer_cqe(struct spool_writer *w, const struct io_uring_cqe *cqe);

/* True when nothing is filling, queued or in flight (the loop may stop driving the ring). */
int spool_writer_idle(const struct spool_writer *w);

struct spool_writer_stats {
	uint64_t batches;        /* batches submitted */
	uint64_t fsyncs;         /* fdatasync of segment files completed */
	uint64_t dir_fsyncs;     /* directory fsyncs completed */
	uint64_t writes;         /* write SQEs, resubmissions included */
	uint64_t short_writes;   /* writes resubmitted after a short count or EAGAIN */
	uint64_t bytes;          /* bytes written to segments */
	uint64_t committed;      /* callbacks with 0 */
	uint64_t failed;         /* callbacks with an error */
	uint64_t aborted;        /* spool_msg_abort() */
	uint64_t segments;       /* segment files created */
	uint64_t flush_errors;   /* write or flush failures (each seals a segment) */
	uint64_t max_batch_msgs; /* most commits covered by one flush */
};
void spool_writer_stats(const struct spool_writer *w, struct spool_writer_stats *st);

/*
 * Test hook: the next CQE of the given kind completes with err (-EIO, -ENOSPC) instead of its
 * real result; SPOOL_FAULT_SHORT reports the next write as short by half (it is resubmitted).
 */
enum spool_fault {
	SPOOL_FAULT_WRITE = 1,
	SPOOL_FAULT_FSYNC = 2,
	SPOOL_FAULT_SHORT = 3,
};
void spool_writer_inject(struct spool_writer *w, enum spool_fault where, int err);

/* CRC32C (Castagnoli), zlib-style chaining: crc = spool_crc32c(spool_crc32c(0, a), b). */
uint32_t spool_crc32c(uint32_t crc, const void *p, size_t n);

/*
 * Reader. spool_reader_open() scans DIR/core-N/NNNNNN.seg, verifies every record's CRC and each
 * message's length and whole-message CRC, and indexes the committed messages (commit marker
 * present, every chunk intact), per core in commit order. The index is a snapshot: reopen to
 * see newer messages. Problems found (torn tails, corrupt records) are counted and described;
 * they never make open fail (only I/O errors and ENOMEM do).
 *
 * Consumption: spool_reader_next() walks the messages not yet consumed; spool_reader_consume()
 * marks one; spool_reader_checkpoint() saves, per core, the position up to which every message
 * is consumed (DIR/core-N/consumed, replaced atomically) and deletes the segments that hold
 * only consumed messages and that the writer has left (a later segment exists).
 */
struct spool_reader;

struct spool_entry {
	char queue_id[SPOOL_QUEUE_ID_MAX];
	unsigned core;
	uint64_t size;                  /* octets of the stored message: Received: + added + DATA */
	uint32_t crc;                   /* CRC32C of the DATA octets (added headers excluded) */
	uint32_t received_len;          /* octets of the Received: field at the start */
	uint32_t added_len;             /* octets of added headers after it (META), in size */
	uint8_t quarantine;             /* META: keep apart */
	struct spool_envelope env;      /* strings point into reader memory, valid until close */
	uint64_t first_seg, commit_seg; /* segment numbers of its first record and commit marker */
	uint64_t commit_end;            /* file offset just past the commit marker */
	uint8_t consumed;
};

struct spool_reader_stats {
	uint64_t segments, seg_bytes, records, messages, msg_bytes;
	uint64_t pending; /* begun, not committed (in progress, failed or torn off) */
	uint64_t aborted;
	uint64_t torn;    /* segments ending in an incomplete record */
	uint64_t corrupt; /* CRC or framing errors, commit markers that do not match */
};

int spool_reader_open(struct spool_reader **r, const char *dir);
void spool_reader_close(struct spool_reader *r);
size_t spool_reader_count(const struct spool_reader *r);
const struct spool_entry *spool_reader_entry(const struct spool_reader *r, size_t i);
const struct spool_entry *spool_reader_find(const struct spool_reader *r, const char *queue_id);
/* Copies up to n message octets from offset off; returns the count (0 at the end) or -errno. */
long spool_reader_read(struct spool_reader *r, const struct spool_entry *e, uint64_t off, void *buf,
                       size_t n);
/* The next unconsumed message after the last one returned, or NULL at the end. */
const struct spool_entry *spool_reader_next(struct spool_reader *r);
int spool_reader_consume(struct spool_reader *r, const struct spool_entry *e);
/* Saves checkpoints; with delete_segments, removes fully consumed segments. Returns the count
 * of segments deleted, or -errno. */
int spool_reader_checkpoint(struct spool_reader *r, int delete_segments);
void spool_reader_stats(const struct spool_reader *r, struct spool_reader_stats *st);
/* Problems found by the scan, one line each ("core-0/000003.seg@4096: CRC mismatch"). */
size_t spool_reader_problem_count(const struct spool_reader *r);
const char *spool_reader_problem(const struct spool_reader *r, size_t i);
/* Cores present, and segments per core (for stats). */
unsigned spool_reader_cores(const struct spool_reader *r, unsigned *core_ids, unsigned max);
void spool_reader_core_stats(const struct spool_reader *r, unsigned core, uint64_t *segments,
                             uint64_t *bytes, uint64_t *messages);

#endif
