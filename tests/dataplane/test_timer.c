/* SPDX-License-Identifier: MIT */
/*
 * test_timer.c - the timer wheel of dataplane/dp_timer.c against a reference model: random
 * arm / re-arm / cancel over several revolutions, expiry never early and nothing due in a
 * completed tick left behind by an expiry call, callbacks that re-arm and cancel other timers,
 * bounded expiry batches, and dp_wheel_next_ms().
 */
#include <stdint.h>

#include "dataplane/dp_timer.h"
#include "tests/dataplane/dp_test.h"

#define N    512
#define TICK 100

struct item {
	struct dp_timer t;
	uint64_t due;   /* model: 0 = not armed */
	uint64_t fired; /* time it fired */
	int nfired;
};

static struct item items[N];
static uint64_t now;
static uint64_t rng = 88172645463325252ull;

static uint64_t rnd(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return rng;
}

struct ctx {
	struct dp_wheel *w;
	int mode; /* 1: the callback re-arms its timer once, 2: it also cancels another one */
};

static void fire(void *arg, struct dp_timer *t)
{
	struct ctx *c = arg;
	struct item *it = (struct item *)t;

	CHECK(it->due != 0, "fired while not armed (item %ld)", (long)(it - items));
	CHECK(now >= it->due, "fired early: now %llu due %llu", (unsigned long long)now,
	      (unsigned long long)it->due);
	CHECK(!dp_timer_armed(t), "still linked in its callback");
	it->due = 0;
	it->fired = now;
	it->nfired++;
	if (c->mode >= 1 && it->nfired == 1) {
		it->due = now + 1 + rnd() % 5000;
		dp_timer_arm(c->w, t, it->due);
	}
	if (c->mode == 2) {
		struct item *o = &items[rnd() % N];

		if (o != it) {
			dp_timer_cancel(c->w, &o->t);
			o->due = 0;
		}
	}
}

static void run_random(int mode, uint64_t span)
{
	static struct dp_wheel w;
	struct ctx c = {&w, mode};
	unsigned armed;

	now = 1000000;
	memset(items, 0, sizeof(items));
	dp_wheel_init(&w, now, TICK);
	for (int step = 0; step < 20000; step++) {
		struct item *it = &items[rnd() % N];
		unsigned op = rnd() % 10;

		if (op < 6) {
			it->due = now + rnd() % span;
			dp_timer_arm(&w, &it->t, it->due);
		} else if (op < 7) {
			dp_timer_cancel(&w, &it->t);
			it->due = 0;
		} else {
			uint64_t next = dp_wheel_next_ms(&w, now);

			now += 1 + rnd() % 700;
			CHECK(next == UINT64_MAX || next <= span + TICK, "next %llu",
			      (unsigned long long)next);
			dp_wheel_expire(&w, now, N, fire, &c);
			for (int i = 0; i < N; i++) /* nothing due in a completed tick is left */
				CHECK(items[i].due == 0 || items[i].due >= now / TICK * TICK,
				      "late: item %d due %llu now %llu", i,
				      (unsigned long long)items[i].due, (unsigned long long)now);
		}
		armed = 0;
		for (int i = 0; i < N; i++)
			armed += items[i].due != 0;
		CHECK(w.armed == armed, "armed count %u, model %u", w.armed, armed);
		if (dp_test_failures > 20)
			exit(1);
	}
	/* Everything armed fires within its due time plus a tick, in bounded batches. */
	while (w.armed) {
		now += TICK;
		dp_wheel_expire(&w, now, 7, fire, &c);
		if (now > 10000000000ull)
			break;
	}
	for (int i = 0; i < N; i++)
		CHECK(items[i].due == 0, "item %d never fired", i);
}

static void test_next(void)
{
	static struct dp_wheel w;
	struct dp_timer a = {0}, b = {0};

	dp_wheel_init(&w, 5000, TICK);
	CHECK(dp_wheel_next_ms(&w, 5000) == UINT64_MAX, "empty wheel");
	dp_timer_arm(&w, &a, 5000 + 250000); /* two revolutions and more away */
	CHECK(dp_wheel_next_ms(&w, 5000) <= 250000, "next %llu",
	      (unsigned long long)dp_wheel_next_ms(&w, 5000));
	dp_timer_arm(&w, &b, 5350);
	CHECK(dp_wheel_next_ms(&w, 5000) == 400, "next %llu", /* the end of its tick */
	      (unsigned long long)dp_wheel_next_ms(&w, 5000));
	dp_timer_cancel(&w, &b);
	dp_timer_cancel(&w, &b); /* twice is harmless */
	CHECK(w.armed == 1, "armed %u", w.armed);
	dp_timer_arm(&w, &b, 100); /* in the past: due at the next expiry */
	CHECK(dp_wheel_next_ms(&w, 5000) <= 2 * TICK, "overdue next %llu",
	      (unsigned long long)dp_wheel_next_ms(&w, 5000));
}

int main(void)
{
	test_next();
	run_random(0, 3000);   /* within one revolution */
	run_random(0, 400000); /* several revolutions */
	run_random(1, 200000); /* callbacks re-arm */
	run_random(2, 200000); /* callbacks cancel others */
	return dp_test_finish("test_timer");
}
