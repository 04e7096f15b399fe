/* SPDX-License-Identifier: MIT */
/*
 * dp_timer.h - a per-core hashed timer wheel for connection timeouts.
 *
 * One wheel per worker, DP_WHEEL_SLOTS slots of tick_ms each; a timer is an intrusive node
 * embedded in its owner (the connection). Arming and cancelling are O(1) list operations;
 * timers further out than one revolution stay in their slot and are skipped until due. The
 * loop calls dp_wheel_expire() once per pass with the pass's clock and sleeps at most
 * dp_wheel_next_ms() — no system call per connection.
 *
 * Functions: dp_wheel_init, dp_timer_arm, dp_timer_cancel, dp_wheel_expire, dp_wheel_next_ms.
 * Times are milliseconds of a monotonic clock. The callback of dp_wheel_expire() may re-arm
 * or cancel any timer, including the one that fired, and may free its owner after cancelling.
 * No allocation; not thread-safe (one wheel per core).
 */
#ifndef SLUICE_DATAPLANE_DP_TIMER_H
#define SLUICE_DATAPLANE_DP_TIMER_H

#include <stdint.h>

#define DP_WHEEL_SLOTS 1024u

struct dp_timer {
	struct dp_timer *next, *prev; /* NULL when not armed */
	uint64_t expires;             /* ms */
	uint32_t slot;
};

struct dp_wheel {
	uint64_t tick; /* last tick processed */
	uint32_t tick_ms;
	uint32_t armed;                       /* timers armed */
	uint64_t bits[DP_WHEEL_SLOTS / 64];   /* non-empty slots */
	struct dp_timer slot[DP_WHEEL_SLOTS]; /* list heads (circular, sentinel) */
};

typedef void (*dp_timer_fn)(void *arg, struct dp_timer *t);

void dp_wheel_init(struct dp_wheel *w, uint64_t now_ms, uint32_t tick_ms);
void dp_timer_arm(struct dp_wheel *w, struct dp_timer *t, uint64_t expires_ms);
void dp_timer_cancel(struct dp_wheel *w, struct dp_timer *t);

static inline int dp_timer_armed(const struct dp_timer *t)
{
	return t->next != 0;
}

/* Fire at most max timers due at now_ms; returns how many fired. */
unsigned dp_wheel_expire(struct dp_wheel *w, uint64_t now_ms, unsigned max, dp_timer_fn fn,
                         void *arg);

/* Milliseconds until the next slot with timers is due (0 if overdue); UINT64_MAX if none. */
uint64_t dp_wheel_next_ms(const struct dp_wheel *w, uint64_t now_ms);

#endif
