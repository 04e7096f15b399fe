/* SPDX-License-Identifier: MIT */
/*
 * dp_log.h - per-core log output that never blocks the loop.
 *
 * A worker formats lines into the half of a double buffer being filled; once per loop pass
 * dp_log_flush() hands that half to the worker's io_uring (one write to stderr, or one send
 * per line to a connected syslog datagram socket) and fills the other half meanwhile. When
 * the half being filled is full while the other is still in flight, lines are dropped and
 * counted (dp_log.dropped), never waited for.
 *
 * Functions: dp_log_init, dp_log_fini, dp_log_printf, dp_log_flush, dp_log_cqe, dp_log_idle.
 * Line format, stderr: "2024-05-01T12:00:00.123Z sluiced[w0] LEVEL text"; syslog:
 * "<PRI>sluiced[pid]: w0 text" with facility mail. Not thread-safe: one per worker.
 */
#ifndef SLUICE_DATAPLANE_DP_LOG_H
#define SLUICE_DATAPLANE_DP_LOG_H

#include <stdint.h>

struct io_uring;
struct io_uring_cqe;

#define DP_LOG_BUF (256 * 1024)

struct dp_log {
	int fd;
	uint8_t syslog;
	uint8_t level; /* enum dp_log_level: lines above it are not formatted */
	uint8_t cur;   /* half being filled */
	unsigned id;   /* worker number */
	int pid;
	uint32_t len[2];
	uint32_t flight_off; /* stderr: bytes of the in-flight half written so far */
	uint32_t inflight;   /* SQEs in flight for the other half */
	uint64_t dropped;
	char *buf[2];
} __attribute__((aligned(8)));

int dp_log_init(struct dp_log *l, unsigned id, int fd, int is_syslog, int level);
void dp_log_fini(struct dp_log *l);
void dp_log_printf(struct dp_log *l, uint64_t real_us, int level, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* Submit the filled half if nothing is in flight; returns SQEs queued (not yet submitted). */
int dp_log_flush(struct dp_log *l, struct io_uring *ring);
void dp_log_cqe(struct dp_log *l, struct io_uring *ring, const struct io_uring_cqe *cqe);

static inline int dp_log_idle(const struct dp_log *l)
{
	return l->inflight == 0 && l->len[l->cur] == 0;
}

#endif
