/* SPDX-License-Identifier: MIT */
/*
 * verify.c - the --verify list: one line per accepted message, "ID QUEUEID\n" (QUEUEID is the
 * token after "queued as " in the final 250 reply, or "-"), so a checker can compare what the
 * server acknowledged with what its spool holds.
 *
 * Each thread collects lines in its own 64 KiB buffer and appends it with one write(2) when it
 * is nearly full and at the end (the file is opened O_APPEND, so whole buffers from different
 * threads never interleave inside a line). That is one page-cache write per ~800 messages,
 * the only plain system call the loop makes. Errors: blast_verify_flush returns 0 or -errno.
 */
#include "blast.h"

#include <errno.h>
#include <string.h>
#include <unistd.h>

int blast_verify_flush(struct blast_thread *th)
{
	size_t off = 0;

	while (off < th->vlen) {
		ssize_t n = write(th->run->verify_fd, th->vbuf + off, th->vlen - off);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			th->vlen = 0;
			return n < 0 ? -errno : -EIO;
		}
		off += (size_t)n;
	}
	th->vlen = 0;
	return 0;
}

void blast_verify_add(struct blast_thread *th, const char *id, const char *qid, size_t qlen)
{
	size_t need;

	if (qlen > 64)
		qlen = 64;
	need = BLAST_ID_LEN + 1 + qlen + 1;
	if (need > th->vcap - th->vlen && blast_verify_flush(th) != 0)
		BLAST_ERR(th, BLAST_ERR_LOCAL);
	memcpy(th->vbuf + th->vlen, id, BLAST_ID_LEN);
	th->vbuf[th->vlen + BLAST_ID_LEN] = ' ';
	memcpy(th->vbuf + th->vlen + BLAST_ID_LEN + 1, qid, qlen);
	th->vbuf[th->vlen + need - 1] = '\n';
	th->vlen += need;
}
