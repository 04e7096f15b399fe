/* SPDX-License-Identifier: MIT */
/*
 * writer-t.h - internal types of the per-core spool writer (writer.c, batch.c, segment.c).
 *
 * Batches: cfg.batch_buffers buffers used as a ring in generation order. Generation g lives in
 * slot g % nbatch. With ack_gen <= submit_gen <= fill_gen:
 *	[ack_gen, submit_gen)	submitted (write -> fdatasync [-> dir fsync]), acknowledged in
 *				order once complete;
 *	[submit_gen, fill_gen)	sealed, waiting for a segment or for SQ space;
 *	fill_gen		filling (when its slot is free: fill_gen - ack_gen < nbatch).
 * A batch gets its segment and file offset only when it is submitted, so records never carry
 * offsets and a batch can fill while the next segment is being opened.
 *
 * Segments: at most one is current. A segment is closed (rotation, or a failure that seals it)
 * only after every batch submitted to it has completed; the next is created after that, so a
 * reader that sees segment N+1 knows segment N is final. A failed segment is truncated to the
 * end of its last acknowledged batch before it is closed (fsyncgate: data after a failed flush
 * is never trusted, and never shown).
 *
 * Messages: a fixed pool. A message's records may span batches and segments (the key ties
 * them); the reader reassembles them and checks the commit marker's length and CRC.
 */
#ifndef SLUICE_SPOOL_WRITER_T_H
#define SLUICE_SPOOL_WRITER_T_H

#include <stdint.h>

#include "spool/format.h"
#include "spool/spool.h"

#define PANIC(...)                                                                                 \
	do {                                                                                       \
		spool_panic(__FILE__, __LINE__, __VA_ARGS__);                                      \
	} while (0)
void spool_panic(const char *file, int line, const char *fmt, ...)
    __attribute__((noreturn, format(printf, 3, 4)));

#define SEG_HEADROOM (SPOOL_REC_HDR + SPOOL_SEG_HDR_LEN)

enum msg_state {
	MSG_FREE = 0,
	MSG_OPEN,       /* begun; appends go to disk */
	MSG_COMMITTING, /* commit marker placed in batch commit_gen */
	MSG_WAIT_END,   /* commit marker or abort record waits for a batch buffer */
	MSG_DONE,       /* on the done list: callback pending */
};

struct spool_msg {
	uint8_t state;
	uint8_t aborting; /* MSG_WAIT_END for an abort: freed without a callback */
	uint32_t key;
	int err; /* sticky: 0, -EIO, -ENOSPC */
	int result;
	char qid[SPOOL_QUEUE_ID_MAX];
	uint64_t size;
	uint32_t crc;
	uint64_t first_gen, last_gen, commit_gen;
	size_t commit_off; /* offset of the commit marker in its batch buffer */
	spool_commit_cb cb;
	void *arg;
	struct spool_msg *next; /* free list, batch commit list, wait list or done list */
};

enum op_kind { OP_WRITE = 0, OP_FSYNC = 1, OP_DIRSYNC = 2 };

/* One SQE's identity: user_data = (uintptr_t)op | SPOOL_UD_TAG. */
struct spool_op {
	struct spool_batch *b;
	uint8_t kind;
} __attribute__((aligned(8)));

enum batch_state { B_FREE = 0, B_FILLING, B_SEALED, B_INFLIGHT, B_DONE };

struct spool_batch {
	uint8_t *mem; /* SEG_HEADROOM + cap octets; records start at mem + SEG_HEADROOM */
	size_t len;   /* octets of records */
	uint64_t gen;
	uint64_t first_us;
	uint8_t state;
	uint8_t seg_start; /* first batch of its segment: header in the headroom, dir fsync */
	uint8_t ops_inflight;
	uint8_t write_done, fsync_done, dirsync_done;
	uint8_t retries;
	uint8_t resubmit; /* complete, with ops left to run: waits for SQ space */
	int err;
	struct spool_seg *seg;
	uint64_t off;     /* file offset of the first octet written */
	size_t wlen;      /* octets to write (records, plus the segment header if seg_start) */
	size_t written;   /* of wlen, confirmed */
	uint32_t ncommit; /* messages whose commit marker is here */
	struct spool_msg *commits, **commits_tail;
	/* the last record, when it is DATA of msg key last_key: it can grow in place */
	size_t last_off;
	uint32_t last_key, last_crc;
	uint8_t last_is_data;
	struct spool_op ops[3];
};

struct spool_seg {
	int fd;
	uint8_t open;
	uint8_t closing; /* no more batches: rotation or failure */
	int broken;      /* 0 or -errno: truncate to durable when drained */
	uint64_t seq;
	uint64_t alloc;    /* next offset to hand to a batch */
	uint64_t durable;  /* end of the last acknowledged batch */
	uint32_t inflight; /* batches submitted and not yet acknowledged */
	uint64_t last_gen; /* newest batch submitted to it */
};

struct spool_writer {
	struct spool_config cfg;
	unsigned core;
	struct io_uring *ring;
	int dirfd;            /* DIR/core-N */
	char path[4096 + 32]; /* DIR/core-N */
	uint64_t epoch_us;    /* queue ids and segment headers */
	uint64_t next_seq;    /* next segment number */
	uint64_t counter;     /* queue id counter */
	uint32_t next_key;
	uint64_t now_us; /* from the last poll */
	size_t cap;      /* batch buffer capacity (records) */
	uint32_t nbatch;
	struct spool_batch *batches;
	uint64_t ack_gen, submit_gen, fill_gen;
	struct spool_seg seg;
	struct spool_msg *msgs, *free_msgs;
	struct spool_msg *wait_head, **wait_tail; /* end records waiting for a buffer */
	struct spool_msg *done_head, **done_tail; /* callbacks to run */
	uint8_t in_callbacks;
	int down;            /* 0 or -errno: no segment can be opened; begin fails */
	uint8_t full;        /* disk full or over quota: begin fails with ENOSPC */
	uint64_t recheck_at; /* now_us of the next space check */
	uint64_t used_bytes; /* spool bytes on disk (last check) plus bytes placed since */
	int inject[4];       /* spool_writer_inject(): per enum spool_fault */
	struct spool_writer_stats st;
	char scratch[SPOOL_RECEIVED_MAX];
};

static inline struct spool_batch *batch_at(struct spool_writer *w, uint64_t gen)
{
	return &w->batches[gen % w->nbatch];
}

/* batch.c */
void spool_batch_reset(struct spool_writer *w, struct spool_batch *b, uint64_t gen);
int spool_batch_submit_ready(struct spool_writer *w);
void spool_batch_seal_filling(struct spool_writer *w);
void spool_batch_cqe(struct spool_writer *w, struct spool_op *op, int res);
void spool_fail_range(struct spool_writer *w, uint64_t a, uint64_t b, int err);
void spool_discard_unsubmitted(struct spool_writer *w, int err);
void spool_done_push(struct spool_writer *w, struct spool_msg *m, int result);
void spool_run_callbacks(struct spool_writer *w);
void spool_place_waiting(struct spool_writer *w);
/* writer.c */
uint8_t *spool_rec_place(struct spool_writer *w, struct spool_msg *m, size_t payload);
void spool_msg_free(struct spool_writer *w, struct spool_msg *m);
int spool_place_end(struct spool_writer *w, struct spool_msg *m);
/* segment.c */
int spool_seg_create(struct spool_writer *w);
void spool_seg_finish(struct spool_writer *w);
int spool_seg_recover(struct spool_writer *w);
uint64_t spool_dir_usage(const char *dir);
void spool_space_check(struct spool_writer *w);

#endif
