/* SPDX-License-Identifier: MIT */
/*
 * dp_log.c - the double-buffered, io_uring-written log of dp_log.h.
 *
 * The in-flight half is owned by the kernel until its last completion arrives (its bytes are
 * not touched until then); partial writes to stderr are resubmitted from where they stopped.
 * A failed write drops the rest of that half (counted): logging must never stop the loop.
 */
#include <errno.h>
#include <liburing.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "dataplane/dp_config.h"
#include "dataplane/dp_log.h"
#include "dataplane/dp_worker.h"

static const char *const level_name[] = {"error", "warning", "info", "debug"};

int dp_log_init(struct dp_log *l, unsigned id, int fd, int is_syslog, int level)
{
	memset(l, 0, sizeof(*l));
	l->buf[0] = malloc(2 * DP_LOG_BUF);
	if (!l->buf[0])
		return -ENOMEM;
	l->buf[1] = l->buf[0] + DP_LOG_BUF;
	l->fd = fd;
	l->syslog = (uint8_t)is_syslog;
	l->level = (uint8_t)level;
	l->id = id;
	l->pid = (int)getpid();
	return 0;
}

void dp_log_fini(struct dp_log *l)
{
	free(l->buf[0]);
	l->buf[0] = l->buf[1] = NULL;
}

static int prefix(const struct dp_log *l, uint64_t real_us, int level, char *p, size_t cap)
{
	struct tm tm;
	time_t s = (time_t)(real_us / 1000000);

	if (l->syslog) /* facility mail (2), severity error 3 / warning 4 / info 6 / debug 7 */
		return snprintf(p, cap, "<%d>sluiced[%d]: w%u ",
		                16 + (level == 0   ? 3
		                      : level == 1 ? 4
		                      : level == 2 ? 6
		                                   : 7),
		                l->pid, l->id);
	gmtime_r(&s, &tm);
	return snprintf(p, cap, "%04d-%02d-%02dT%02d:%02d:%02d.%03uZ sluiced[w%u] %s ",
	                tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min,
	                tm.tm_sec, (unsigned)(real_us / 1000 % 1000), l->id, level_name[level & 3]);
}

void dp_log_printf(struct dp_log *l, uint64_t real_us, int level, const char *fmt, ...)
{
	uint32_t used = l->len[l->cur];
	size_t room = DP_LOG_BUF - used;
	char *p = l->buf[l->cur] + used;
	va_list ap;
	int a, b;

	if (level > l->level)
		return;
	a = prefix(l, real_us, level, p, room);
	if (a < 0 || (size_t)a >= room)
		goto drop;
	va_start(ap, fmt);
	b = vsnprintf(p + a, room - (size_t)a, fmt, ap);
	va_end(ap);
	if (b < 0 || (size_t)b >= room - (size_t)a - 1) /* keep room for the newline */
		goto drop;
	p[a + b] = '\n';
	l->len[l->cur] = used + (uint32_t)a + (uint32_t)b + 1;
	return;
drop:
	l->dropped++;
}

static int queue_write(struct dp_log *l, struct io_uring *ring, const char *p, uint32_t n)
{
	struct io_uring_sqe *sqe = io_uring_get_sqe(ring);

	if (!sqe)
		return -EBUSY;
	if (l->syslog)
		io_uring_prep_send(sqe, l->fd, p, n, MSG_DONTWAIT | MSG_NOSIGNAL);
	else
		io_uring_prep_write(sqe, l->fd, p, n, (uint64_t)-1);
	io_uring_sqe_set_data64(sqe, DP_UD(l, DP_UD_LOG));
	l->inflight++;
	return 0;
}

int dp_log_flush(struct dp_log *l, struct io_uring *ring)
{
	unsigned half = l->cur;
	const char *p = l->buf[half];
	uint32_t n = l->len[half], off = 0;
	int queued = 0;

	if (l->inflight || n == 0)
		return 0;
	if (!l->syslog) {
		if (queue_write(l, ring, p, n) != 0)
			return 0; /* no SQE now: next pass */
		queued = 1;
	} else {
		while (off < n) { /* one datagram per line, without the newline */
			const char *nl = memchr(p + off, '\n', n - off);
			uint32_t len = (uint32_t)(nl - (p + off));

			if (queue_write(l, ring, p + off, len) != 0) {
				l->dropped++; /* the rest of the lines of this half */
				break;
			}
			queued++;
			off += len + 1;
		}
		if (queued == 0)
			return 0;
	}
	l->flight_off = 0;
	l->cur ^= 1;
	l->len[l->cur] = 0;
	return queued;
}

void dp_log_cqe(struct dp_log *l, struct io_uring *ring, const struct io_uring_cqe *cqe)
{
	unsigned half = l->cur ^ 1;

	l->inflight--;
	if (!l->syslog && cqe->res > 0) {
		l->flight_off += (uint32_t)cqe->res;
		if (l->flight_off < l->len[half] &&
		    queue_write(l, ring, l->buf[half] + l->flight_off,
		                l->len[half] - l->flight_off) == 0)
			return;
	} else if (cqe->res < 0) {
		l->dropped++;
	}
	if (l->inflight == 0)
		l->len[half] = 0;
}
