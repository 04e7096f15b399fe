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
 * (ENOSPC while the spool is over quota or full: reply 452 4.3.1 to MAIL).
 */
#ifndef SLUICE_SPOOL_SPOOL_H
#define SLUICE_SPOOL_SPOOL_H

#include <netinet/in.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

struct io_uring;
struct io_uring_cqe;

#define SPOOL_UD_TAG	  1ull
#define SPOOL_UD_MASK	  7ull
#define SPOOL_UD_IS(ud)	  (((ud) & SPOOL_UD_MASK) == SPOOL_UD_TAG)
#define SPOOL_QUEUE_ID_MAX 32 /* including the NUL */

struct spool_config {
	char dir[4096];		  /* spool root; segments in DIR/core-N/ */
	uint64_t segment_size;	  /* rotate after this many bytes (default 64 MiB) */
	uint64_t batch_bytes;	  /* flush when a batch holds this much (default 1 MiB) */
	uint32_t batch_usec;	  /* or when its oldest record waited this long (default 500) */
	uint64_t quota_bytes;	  /* 0 = none; past it: ENOSPC */
	uint32_t max_messages;	  /* in-flight messages per core (pool size) */
	char hostname[256];	  /* "by" in the Received: header */
};

void spool_config_defaults(struct spool_config *cfg);

/* The envelope of one message, as the protocol engine saw it. Strings need not be NUL-ended. */
struct spool_str {
	const char *p;
	size_t n;
};

struct spool_envelope {
	struct sockaddr_storage client; /* address and port */
	struct spool_str client_name;	/* reverse DNS name, or empty */
	struct spool_str helo;
	uint8_t ehlo;			/* EHLO (1) or HELO (0): "with ESMTP" / "with SMTP" */
	uint8_t tls;
	struct spool_str mail_from;	/* reverse-path without <>, "" for null */
	struct spool_str mail_params;	/* raw ESMTP parameters */
	uint32_t nrcpt;
	const struct spool_str *rcpt;	/* nrcpt forward-paths without <> */
	const struct spool_str *rcpt_params; /* nrcpt raw parameter strings (may be NULL) */
	struct spool_str verdict;	/* policy verdict, e.g. "accept" */
	struct spool_str tags;		/* policy tags / rule ids, comma-separated */
	uint64_t recv_time_us;		/* CLOCK_REALTIME, microseconds */
};

struct spool_writer;
struct spool_msg;

typedef void (*spool_commit_cb)(void *arg, int result, const char *queue_id);

int spool_writer_open(struct spool_writer **w, const struct spool_config *cfg, unsigned core,
		      struct io_uring *ring);
/* Submit everything pending, wait for every completion, close files. Callbacks still fire. */
int spool_writer_close(struct spool_writer *w);

struct spool_msg *spool_msg_begin(struct spool_writer *w, const struct spool_envelope *env);
const char *spool_msg_queue_id(const struct spool_msg *m);
int spool_msg_append(struct spool_writer *w, struct spool_msg *m, const void *p, size_t n);
int spool_msg_commit(struct spool_writer *w, struct spool_msg *m, spool_commit_cb cb, void *arg);
void spool_msg_abort(struct spool_writer *w, struct spool_msg *m);

/* Submit due batches; returns the number of SQEs submitted or -errno. */
int spool_writer_poll(struct spool_writer *w, uint64_t now_us);
/* Microseconds until the next batch is due (for the loop's wait timeout); UINT64_MAX if idle. */
uint64_t spool_writer_next_due(const struct spool_writer *w, uint64_t now_us);
void spool_writer_cqe(struct spool_writer *w, const struct io_uring_cqe *cqe);

#endif
