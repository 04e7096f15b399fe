/* SPDX-License-Identifier: MIT */
/*
 * reader-t.h - internal types of the spool reader (reader.c builds the index, retention.c
 * reads messages, tracks consumption, saves checkpoints and deletes consumed segments).
 *
 * The index holds, per core, the segment list and the committed messages in commit order;
 * each message keeps its envelope (a private copy of its BEGIN payload) and the list of file
 * extents that hold its octets.
 */
#ifndef SLUICE_SPOOL_READER_T_H
#define SLUICE_SPOOL_READER_T_H

#include <stdint.h>

#include "spool/format.h"
#include "spool/spool.h"

struct r_extent {
	uint32_t seg; /* index in its core's segment list */
	uint32_t len;
	uint64_t off;     /* file offset */
	uint64_t msg_off; /* offset in the message */
};

struct r_entry {
	struct spool_entry pub;        /* first: the public view */
	uint8_t *raw;                  /* BEGIN payload */
	uint8_t *meta_raw;             /* META payload (version 2), or NULL */
	struct spool_commit_meta meta; /* strings point into meta_raw */
	struct spool_str *rcpt, *rcpt_params;
	struct r_extent *ext;
	uint32_t next, ext_cap;
	uint32_t key;
	unsigned core_idx;
	uint64_t epoch;
	struct r_entry *hnext; /* pending hash chain */
};

struct r_seg {
	uint64_t seq;
	uint64_t size;
	uint64_t epoch;
	char name[40];
};

struct r_core {
	unsigned id;
	struct r_seg *segs;
	size_t nseg;
	size_t first_entry, nentry; /* range in spool_reader.entries */
	uint64_t ck_seq, ck_off;    /* checkpoint: consumed up to here */
	uint64_t last_epoch;
	uint64_t live_min_seg; /* oldest segment a live uncommitted message started in */
	uint64_t bytes;
};

#define R_HASH 1024

struct spool_reader {
	char dir[4096];
	struct r_core *cores;
	size_t ncore;
	struct r_entry **entries;
	size_t n, cap;
	size_t cursor; /* spool_reader_next() */
	char **problems;
	size_t nprob;
	struct spool_reader_stats st;
	struct r_entry *pending[R_HASH];
	int fd; /* cached segment descriptor */
	unsigned fd_core;
	uint32_t fd_seg;
};

void r_problem(struct spool_reader *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void r_entry_free(struct r_entry *e);
int r_load_checkpoint(struct spool_reader *r, struct r_core *c);

#endif
