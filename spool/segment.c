/* SPDX-License-Identifier: MIT */
/*
 * segment.c - the writer's segment files: creating the next one, closing (and, after a
 * failure, truncating) the current one, start-up recovery of the core's directory, and the
 * periodic free-space and quota check.
 *
 * Recovery (spool_seg_recover, at open): segment numbers continue after the highest found;
 * the writer epoch is made later than every epoch in the core's segment headers (so queue ids
 * never repeat, even if the clock stepped back); the last segment, the only one a crash can
 * leave torn, is scanned with CRC checks and truncated to its last complete record (removed
 * if nothing valid remains), then flushed. Earlier segments are final and are left alone:
 * the reader verifies them.
 *
 * Blocking calls happen here only at open, when a segment is created or closed (once per
 * segment_size octets) and in the space check (once per recheck_usec).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include "spool/scan.h"
#include "spool/writer-t.h"

/* "000123.seg" -> 123; -1 for anything else. */
static long long seg_number(const char *name)
{
	char *end;
	long long v;

	if (name[0] < '0' || name[0] > '9')
		return -1;
	v = strtoll(name, &end, 10);
	return strcmp(end, ".seg") == 0 && v >= 0 ? v : -1;
}

int spool_seg_create(struct spool_writer *w)
{
	struct spool_seg *seg = &w->seg;
	char name[32];
	int fd = -1;

	for (int tries = 0; tries < 16 && fd < 0; tries++) {
		snprintf(name, sizeof(name), "%06llu.seg", (unsigned long long)w->next_seq++);
		fd = openat(w->dirfd, name, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0640);
		if (fd < 0 && errno != EEXIST)
			return -errno;
	}
	if (fd < 0)
		return -EEXIST;
	memset(seg, 0, sizeof(*seg));
	seg->fd = fd;
	seg->open = 1;
	seg->seq = w->next_seq - 1;
	w->st.segments++;
	return 0;
}

void spool_seg_finish(struct spool_writer *w)
{
	struct spool_seg *seg = &w->seg;

	if (!seg->open)
		return;
	if (seg->broken && ftruncate(seg->fd, (off_t)seg->durable) == 0)
		fsync(seg->fd); /* best effort: what is cut was never acknowledged */
	close(seg->fd);
	seg->fd = -1;
	seg->open = 0;
}

/* The epoch in a segment's header, or 0. */
static uint64_t seg_epoch(int dirfd, const char *name)
{
	uint8_t buf[SEG_HEADROOM];
	struct spool_rec_hdr h;
	struct spool_seg_hdr sh;
	int fd = openat(dirfd, name, O_RDONLY | O_CLOEXEC);
	ssize_t r;

	if (fd < 0)
		return 0;
	r = pread(fd, buf, sizeof(buf), 0);
	close(fd);
	if (r != (ssize_t)sizeof(buf) || spool_rec_hdr_decode(buf, &h) != 0 ||
	    h.type != SPOOL_REC_SEGMENT || spool_rec_check(buf, &h) != 0 ||
	    spool_seg_hdr_decode(buf + SPOOL_REC_HDR, h.len, &sh) != 0)
		return 0;
	return sh.epoch_us;
}

/* Cuts the torn tail of the core's newest segment; removes it if nothing valid is left. */
static int cut_tail(struct spool_writer *w, const char *name)
{
	struct spool_scan s;
	int fd = openat(w->dirfd, name, O_RDWR | O_CLOEXEC), rc;

	if (fd < 0)
		return -errno;
	if ((rc = spool_scan_init(&s, fd)) == 0) {
		while ((rc = spool_scan_next(&s)) > 0) {
			if (s.rec_off == 0 && s.hdr.type != SPOOL_REC_SEGMENT) {
				s.off = 0; /* not a segment: nothing in it is ours to trust */
				s.bad = SPOOL_SCAN_CORRUPT;
				break;
			}
		}
	}
	if (rc == 0 && s.bad) {
		if (s.off == 0) {
			rc = unlinkat(w->dirfd, name, 0) == 0 ? 0 : -errno;
		} else if (ftruncate(fd, (off_t)s.off) != 0 || fdatasync(fd) != 0) {
			rc = -errno;
		}
		if (rc == 0 && fsync(w->dirfd) != 0)
			rc = -errno;
	}
	spool_scan_free(&s);
	close(fd);
	return rc;
}

int spool_seg_recover(struct spool_writer *w)
{
	int fd = dup(w->dirfd), rc = 0;
	DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
	long long max = 0;
	struct dirent *de;
	char last[256] = "";

	if (!d) {
		if (fd >= 0)
			close(fd);
		return -errno;
	}
	while ((de = readdir(d)) != NULL) {
		long long v = seg_number(de->d_name);
		uint64_t e;

		if (v < 0)
			continue;
		e = seg_epoch(w->dirfd, de->d_name);
		if (e >= w->epoch_us)
			w->epoch_us = e + 1;
		if (v >= max) {
			max = v;
			snprintf(last, sizeof(last), "%s", de->d_name);
		}
	}
	closedir(d);
	if (last[0])
		rc = cut_tail(w, last);
	w->next_seq = (uint64_t)max + 1;
	return rc;
}

static uint64_t dir_bytes(int dirfd)
{
	DIR *d = fdopendir(dirfd);
	struct dirent *de;
	uint64_t sum = 0;
	struct stat st;

	if (!d) {
		close(dirfd);
		return 0;
	}
	while ((de = readdir(d)) != NULL)
		if (seg_number(de->d_name) >= 0 && fstatat(dirfd, de->d_name, &st, 0) == 0)
			sum += (uint64_t)st.st_size;
	closedir(d);
	return sum;
}

uint64_t spool_dir_usage(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	uint64_t sum = 0;

	if (!d)
		return 0;
	while ((de = readdir(d)) != NULL) {
		int fd;

		if (strncmp(de->d_name, "core-", 5) != 0)
			continue;
		fd = openat(dirfd(d), de->d_name, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (fd >= 0)
			sum += dir_bytes(fd);
	}
	closedir(d);
	return sum;
}

void spool_space_check(struct spool_writer *w)
{
	struct statvfs sv;
	int low = 0, over = 0;

	if (statvfs(w->path, &sv) == 0)
		low = (uint64_t)sv.f_bavail * sv.f_frsize < w->cfg.min_free_bytes;
	if (w->cfg.quota_bytes) {
		uint64_t pending = 0;

		for (uint64_t g = w->submit_gen; g <= w->fill_gen && g - w->ack_gen < w->nbatch;
		     g++)
			if (batch_at(w, g)->state == B_SEALED || batch_at(w, g)->state == B_FILLING)
				pending += batch_at(w, g)->len;
		w->used_bytes = spool_dir_usage(w->cfg.dir) + pending;
		over = w->used_bytes >= w->cfg.quota_bytes;
	}
	w->full = low || over;
	w->down = 0; /* the next submission tries to open a segment again */
}
