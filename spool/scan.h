/* SPDX-License-Identifier: MIT */
/*
 * scan.h - sequential, verified reading of one segment file, shared by writer recovery and the
 * reader.
 *
 * spool_scan_next() returns each record whose framing and CRC are valid, in file order, and
 * stops at the first that is not: then s->bad says why (SPOOL_SCAN_TORN: the file ends inside
 * a record, or only zeros follow; SPOOL_SCAN_CORRUPT: anything else) and s->off is the end of
 * the valid prefix, where recovery cuts. Reads through a buffer that grows to the largest record
 * (at most SPOOL_REC_MAX); the record returned stays valid until the next call.
 * Errors: -errno from read/fstat, -ENOMEM.
 */
#ifndef SLUICE_SPOOL_SCAN_H
#define SLUICE_SPOOL_SCAN_H

#include "spool/format.h"

enum spool_scan_bad {
	SPOOL_SCAN_OK = 0,
	SPOOL_SCAN_TORN = 1,
	SPOOL_SCAN_CORRUPT = 2,
};

struct spool_scan {
	int fd;
	uint64_t size;    /* file size when the scan started */
	uint64_t off;     /* end of the valid records so far */
	uint64_t rec_off; /* offset of the current record */
	struct spool_rec_hdr hdr;
	const uint8_t *payload;
	int bad;
	const char *why;
	/* buffer: file bytes [buf_off, buf_off + buf_len) */
	uint8_t *buf;
	size_t cap, buf_len;
	uint64_t buf_off;
};

int spool_scan_init(struct spool_scan *s, int fd);
int spool_scan_next(struct spool_scan *s);
void spool_scan_free(struct spool_scan *s);

#endif
