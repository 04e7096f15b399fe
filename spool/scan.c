/* SPDX-License-Identifier: MIT */
/*
 * scan.c - verified sequential reading of a segment file (see scan.h).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "spool/scan.h"

#define SCAN_BUF (1u << 20)

int spool_scan_init(struct spool_scan *s, int fd)
{
	struct stat st;

	memset(s, 0, sizeof(*s));
	s->fd = fd;
	if (fstat(fd, &st) != 0)
		return -errno;
	s->size = (uint64_t)st.st_size;
	s->cap = SCAN_BUF;
	s->buf = malloc(s->cap);
	return s->buf ? 0 : -ENOMEM;
}

void spool_scan_free(struct spool_scan *s)
{
	free(s->buf);
	s->buf = NULL;
}

/* Makes file bytes [off, off + need) available in the buffer; need <= size - off. */
static int ensure(struct spool_scan *s, uint64_t off, size_t need)
{
	if (off >= s->buf_off && off - s->buf_off <= s->buf_len &&
	    s->buf_len - (off - s->buf_off) >= need)
		return 0;
	if (need > s->cap) {
		size_t cap = need + SCAN_BUF;
		uint8_t *nb = realloc(s->buf, cap);

		if (!nb)
			return -ENOMEM;
		s->buf = nb;
		s->cap = cap;
	}
	s->buf_off = off;
	s->buf_len = 0;
	while (s->buf_len < s->cap && s->buf_off + s->buf_len < s->size) {
		ssize_t r = pread(s->fd, s->buf + s->buf_len, s->cap - s->buf_len,
		                  (off_t)(s->buf_off + s->buf_len));

		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return -errno;
		if (r == 0)
			break;
		s->buf_len += (size_t)r;
	}
	return s->buf_len >= need ? 0 : -EIO; /* the file shrank under us */
}

/* True when every byte from off to the end of the file is zero. */
static int zero_tail(struct spool_scan *s, uint64_t off)
{
	while (off < s->size) {
		size_t n = s->size - off < SCAN_BUF ? (size_t)(s->size - off) : SCAN_BUF;

		if (ensure(s, off, n) != 0)
			return 0;
		for (size_t i = 0; i < n; i++)
			if (s->buf[off - s->buf_off + i] != 0)
				return 0;
		off += n;
	}
	return 1;
}

static int stop(struct spool_scan *s, int bad, const char *why)
{
	s->bad = bad;
	s->why = why;
	return 0;
}

int spool_scan_next(struct spool_scan *s)
{
	uint64_t off = s->off, left = s->size - s->off;
	const uint8_t *h;
	int rc;

	if (s->bad || left == 0)
		return 0;
	if (left < SPOOL_REC_HDR)
		return stop(s, SPOOL_SCAN_TORN, "file ends inside a record header");
	if ((rc = ensure(s, off, SPOOL_REC_HDR)) != 0)
		return rc;
	h = s->buf + (off - s->buf_off);
	if (spool_rec_hdr_decode(h, &s->hdr) != 0) {
		if (zero_tail(s, off))
			return stop(s, SPOOL_SCAN_TORN, "zero-filled tail");
		return stop(s, SPOOL_SCAN_CORRUPT, "invalid record header");
	}
	if (left - SPOOL_REC_HDR < s->hdr.len)
		return stop(s, SPOOL_SCAN_TORN, "file ends inside a record");
	if ((rc = ensure(s, off, SPOOL_REC_HDR + (size_t)s->hdr.len)) != 0)
		return rc;
	h = s->buf + (off - s->buf_off);
	if (spool_rec_check(h, &s->hdr) != 0) {
		if (left - SPOOL_REC_HDR == s->hdr.len)
			return stop(s, SPOOL_SCAN_TORN, "CRC mismatch in the last record");
		if (zero_tail(s, off + SPOOL_REC_HDR + s->hdr.len))
			return stop(s, SPOOL_SCAN_TORN, "CRC mismatch before a zero-filled tail");
		return stop(s, SPOOL_SCAN_CORRUPT, "CRC mismatch");
	}
	s->rec_off = off;
	s->payload = h + SPOOL_REC_HDR;
	s->off = off + SPOOL_REC_HDR + s->hdr.len;
	return 1;
}
