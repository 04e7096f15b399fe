/* SPDX-License-Identifier: MIT */
/*
 * wheel.h - a hashed timer wheel (Varghese and Lauck, scheme 6) with O(1) insert and cancel.
 *
 * Nodes live inside the caller's objects, which sit in one array: node id i is found at
 * base + i * stride (+ the node's offset inside the object, folded into base). Id 0 is never
 * used. Each slot holds an unsorted doubly linked list of the nodes whose expiry tick maps to
 * it; a node further away than one revolution stays in its slot and is skipped until due.
 *
 * net_wheel_advance() moves the wheel to `now` and calls fire(arg, id) for every due node,
 * after unlinking it. The callback may insert or cancel any node, including the one the scan
 * visits next (the wheel keeps its cursor valid across cancel).
 *
 * Ticks are abstract (the stack uses milliseconds) and wrap; expiries are compared as signed
 * 32-bit differences, so no timer may be set more than 2^31 ticks ahead.
 */
#ifndef SLUICE_DATAPLANE_NET_WHEEL_H
#define SLUICE_DATAPLANE_NET_WHEEL_H

#include <stddef.h>
#include <stdint.h>

#define NET_TNODE_UNLINKED 0xffffffffu

struct net_tnode {
	uint32_t next, prev; /* ids; prev == NET_TNODE_UNLINKED when not in the wheel */
	uint32_t expire;
};

struct net_wheel {
	uint32_t *slots; /* head id per slot */
	uint32_t mask;   /* slots - 1 */
	uint32_t now;    /* last tick processed */
	uint32_t cursor; /* next node of an ongoing scan, 0 = none */
	uint32_t count;  /* nodes linked */
	char *base;      /* &node of id 0 */
	size_t stride;
};

/* slots is rounded up to a power of two; 0 or -ENOMEM. */
int net_wheel_init(struct net_wheel *w, uint32_t slots, void *base, size_t stride, uint32_t now);
void net_wheel_free(struct net_wheel *w);

static inline struct net_tnode *net_wheel_node(const struct net_wheel *w, uint32_t id)
{
	return (struct net_tnode *)(void *)(w->base + (size_t)id * w->stride);
}

static inline int net_wheel_linked(const struct net_tnode *n)
{
	return n->prev != NET_TNODE_UNLINKED;
}

/* Schedule id at tick `expire` (a past tick fires at the next advance). Re-schedules if linked. */
void net_wheel_insert(struct net_wheel *w, uint32_t id, uint32_t expire);
void net_wheel_cancel(struct net_wheel *w, uint32_t id);
void net_wheel_advance(struct net_wheel *w, uint32_t now, void (*fire)(void *arg, uint32_t id),
                       void *arg);

#endif
