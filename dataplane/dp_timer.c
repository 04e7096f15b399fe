/* SPDX-License-Identifier: MIT */
/*
 * dp_timer.c - the hashed timer wheel of dp_timer.h.
 *
 * A timer due at tick T sits in slot T % DP_WHEEL_SLOTS; a bitmap marks non-empty slots so
 * that finding the next wake-up scans 16 words, not 1024 lists. Expiry walks the slots of the
 * ticks that completed since the last call (at most one revolution), so a timer fires at most
 * one tick after it is due, never before; in each slot, the list is moved
 * to a local head first, then entries are taken one at a time: due ones fire, the others go
 * back. Taking one at a time keeps the walk safe when a callback cancels or re-arms timers.
 */
#include <stddef.h>

#include "dataplane/dp_timer.h"

#define SLOT_MASK (DP_WHEEL_SLOTS - 1)

static void list_init(struct dp_timer *h)
{
	h->next = h;
	h->prev = h;
}

static void bit_set(struct dp_wheel *w, uint32_t s)
{
	w->bits[s / 64] |= 1ull << (s % 64);
}

static void bit_update(struct dp_wheel *w, uint32_t s)
{
	if (w->slot[s].next == &w->slot[s])
		w->bits[s / 64] &= ~(1ull << (s % 64));
}

void dp_wheel_init(struct dp_wheel *w, uint64_t now_ms, uint32_t tick_ms)
{
	w->tick_ms = tick_ms ? tick_ms : 1;
	w->tick = now_ms / w->tick_ms;
	if (w->tick)
		w->tick--; /* the current tick is not complete yet */
	w->armed = 0;
	for (uint32_t i = 0; i < DP_WHEEL_SLOTS / 64; i++)
		w->bits[i] = 0;
	for (uint32_t i = 0; i < DP_WHEEL_SLOTS; i++)
		list_init(&w->slot[i]);
}

static void unlink_timer(struct dp_timer *t)
{
	t->prev->next = t->next;
	t->next->prev = t->prev;
	t->next = NULL;
	t->prev = NULL;
}

static void link_timer(struct dp_wheel *w, struct dp_timer *t)
{
	uint64_t tick = t->expires / w->tick_ms;
	uint32_t s;
	struct dp_timer *h;

	if (tick <= w->tick)
		tick = w->tick + 1; /* overdue: the next expiry call fires it */
	s = (uint32_t)(tick & SLOT_MASK);
	h = &w->slot[s];
	t->slot = s;
	t->next = h;
	t->prev = h->prev;
	h->prev->next = t;
	h->prev = t;
	bit_set(w, s);
}

void dp_timer_cancel(struct dp_wheel *w, struct dp_timer *t)
{
	if (!t->next)
		return;
	unlink_timer(t);
	bit_update(w, t->slot);
	w->armed--;
}

void dp_timer_arm(struct dp_wheel *w, struct dp_timer *t, uint64_t expires_ms)
{
	dp_timer_cancel(w, t);
	t->expires = expires_ms;
	link_timer(w, t);
	w->armed++;
}

/* Fire the due timers of slot s; returns the number fired, stops at budget. */
static unsigned expire_slot(struct dp_wheel *w, uint32_t s, uint64_t now_ms, unsigned budget,
                            dp_timer_fn fn, void *arg)
{
	struct dp_timer local, *h = &w->slot[s];
	unsigned fired = 0;

	if (h->next == h)
		return 0;
	/* Move the whole list to a local head, then take entries one at a time. */
	local.next = h->next;
	local.prev = h->prev;
	local.next->prev = &local;
	local.prev->next = &local;
	list_init(h);
	while (local.next != &local) {
		struct dp_timer *t = local.next;

		unlink_timer(t);
		if (t->expires > now_ms || fired == budget) {
			/* not due (a later revolution) or out of budget: back into its slot */
			link_timer(w, t);
			continue;
		}
		w->armed--;
		fired++;
		fn(arg, t); /* may free t's owner or re-arm t */
	}
	bit_update(w, s);
	return fired;
}

unsigned dp_wheel_expire(struct dp_wheel *w, uint64_t now_ms, unsigned max, dp_timer_fn fn,
                         void *arg)
{
	uint64_t target = now_ms / w->tick_ms; /* ticks before this one are complete */
	unsigned fired = 0;

	if (target == 0)
		return 0;
	target--;
	if (target <= w->tick)
		return 0;
	if (target - w->tick > DP_WHEEL_SLOTS)
		w->tick = target - DP_WHEEL_SLOTS; /* one revolution covers every slot */
	while (w->tick < target && fired < max) {
		uint32_t s = (uint32_t)((w->tick + 1) & SLOT_MASK);

		fired += expire_slot(w, s, now_ms, max - fired, fn, arg);
		if (fired == max)
			break; /* the rest of this slot is handled next call */
		w->tick++;
	}
	return fired;
}

uint64_t dp_wheel_next_ms(const struct dp_wheel *w, uint64_t now_ms)
{
	uint64_t start = w->tick + 1;

	if (w->armed == 0)
		return UINT64_MAX;
	for (uint32_t i = 0; i < DP_WHEEL_SLOTS; i++) {
		uint32_t s = (uint32_t)((start + i) & SLOT_MASK);
		uint64_t bits = w->bits[s / 64] >> (s % 64);

		if (bits == 0) { /* skip to the next word */
			i += 63 - (s % 64);
			continue;
		}
		if (bits & 1) {
			uint64_t due = (start + i + 1) * w->tick_ms; /* when that tick completes */

			return due > now_ms ? due - now_ms : 0;
		}
	}
	return UINT64_MAX;
}
