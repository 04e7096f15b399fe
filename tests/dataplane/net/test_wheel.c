/* SPDX-License-Identifier: MIT */
/*
 * test_wheel.c - the hashed timer wheel against a naive model: random inserts, re-inserts,
 * cancels and advances (one tick or large jumps, beyond one revolution), callbacks that
 * re-arm themselves and cancel the node the scan visits next.
 */
#include "dataplane/net/wheel.h"
#include "tests/dataplane/net/nettest.h"

#define N 200

struct obj {
	uint64_t pad;
	struct net_tnode tn;
	int armed;
	uint32_t due;
	int fired;
};

static struct obj objs[N + 1];
static struct net_wheel w;
static uint32_t now_tick;
static int errors, cancel_next;
static uint32_t rng = 99;

static uint32_t rnd(uint32_t n)
{
	rng = rng * 1664525u + 1013904223u;
	return (rng >> 8) % n;
}

static void fire(void *arg, uint32_t id)
{
	struct obj *o = &objs[id];

	(void)arg;
	if (!o->armed || (int32_t)(o->due - now_tick) > 0)
		errors++;
	o->armed = 0;
	o->fired++;
	if (cancel_next && w.cursor) { /* cancel whatever the scan visits next */
		objs[w.cursor].armed = 0;
		net_wheel_cancel(&w, w.cursor);
	}
	if (rnd(4) == 0) { /* periodic: re-arm from inside the callback */
		o->due = now_tick + 1 + rnd(3000);
		o->armed = 1;
		net_wheel_insert(&w, id, o->due);
	}
}

/* Nodes that disagree with the model: due but not fired, or linked state wrong. */
static int model_errors(void)
{
	int bad = 0;

	for (int i = 1; i <= N; i++) {
		if (objs[i].armed && (int32_t)(objs[i].due - now_tick) <= 0)
			bad++; /* due but not fired */
		if (objs[i].armed != net_wheel_linked(&objs[i].tn))
			bad++;
	}
	return bad;
}

static void run(int jumps)
{
	int bad = 0;

	memset(objs, 0, sizeof(objs));
	for (int i = 0; i <= N; i++)
		objs[i].tn.prev = NET_TNODE_UNLINKED;
	now_tick = 0xfffff000u; /* wraps during the run */
	CHECK(net_wheel_init(&w, 256, &objs[0].tn, sizeof(struct obj), now_tick) == 0, "init");
	for (int step = 0; step < 20000; step++) {
		uint32_t id = 1 + rnd(N), op = rnd(10);

		if (op < 5) {
			objs[id].due = now_tick + rnd(2000); /* may be beyond one revolution */
			objs[id].armed = 1;
			net_wheel_insert(&w, id, objs[id].due);
			if (objs[id].due == now_tick)
				objs[id].due =
				    now_tick + 1; /* a past tick fires at the next advance */
		} else if (op < 7) {
			objs[id].armed = 0;
			net_wheel_cancel(&w, id);
		} else {
			uint32_t d = jumps ? 1 + rnd(900) : 1;

			cancel_next = rnd(5) == 0;
			now_tick += d;
			net_wheel_advance(&w, now_tick, fire, NULL);
			bad += model_errors();
		}
	}
	CHECK(bad == 0, "%s: %d disagreements with the model", jumps ? "jumps" : "ticks", bad);
	CHECK(errors == 0, "%d early or unarmed fires", errors);
	{
		uint32_t linked = 0;

		for (int i = 1; i <= N; i++)
			linked += net_wheel_linked(&objs[i].tn) ? 1 : 0;
		CHECK(linked == w.count, "count %u vs %u", w.count, linked);
	}
	net_wheel_free(&w);
}

int main(void)
{
	run(0);
	run(1);
	return nt_report();
}
