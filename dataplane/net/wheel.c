/* SPDX-License-Identifier: MIT */
/*
 * wheel.c - hashed timer wheel: see wheel.h for the contract.
 *
 * Public: net_wheel_init, net_wheel_free, net_wheel_insert, net_wheel_cancel,
 * net_wheel_advance. Memory: one uint32_t per slot, taken at init.
 */
#include <errno.h>
#include <stdlib.h>

#include "dataplane/net/wheel.h"

int net_wheel_init(struct net_wheel *w, uint32_t slots, void *base, size_t stride, uint32_t now)
{
	uint32_t n = 16;

	while (n < slots && n < (1u << 24))
		n <<= 1;
	w->slots = calloc(n, sizeof(*w->slots));
	if (!w->slots)
		return -ENOMEM;
	w->mask = n - 1;
	w->now = now;
	w->cursor = 0;
	w->count = 0;
	w->base = base;
	w->stride = stride;
	return 0;
}

void net_wheel_free(struct net_wheel *w)
{
	free(w->slots);
	w->slots = NULL;
}

void net_wheel_cancel(struct net_wheel *w, uint32_t id)
{
	struct net_tnode *n = net_wheel_node(w, id);

	if (!net_wheel_linked(n))
		return;
	if (w->cursor == id)
		w->cursor = n->next;
	if (n->prev)
		net_wheel_node(w, n->prev)->next = n->next;
	else
		w->slots[n->expire & w->mask] = n->next;
	if (n->next)
		net_wheel_node(w, n->next)->prev = n->prev;
	n->next = 0;
	n->prev = NET_TNODE_UNLINKED;
	w->count--;
}

void net_wheel_insert(struct net_wheel *w, uint32_t id, uint32_t expire)
{
	struct net_tnode *n = net_wheel_node(w, id);
	uint32_t *head;

	net_wheel_cancel(w, id);
	if ((int32_t)(expire - w->now) <= 0)
		expire = w->now + 1;
	n->expire = expire;
	head = &w->slots[expire & w->mask];
	n->prev = 0;
	n->next = *head;
	if (*head)
		net_wheel_node(w, *head)->prev = id;
	*head = id;
	w->count++;
}

/* Fire the due nodes of one slot. New nodes go to list heads, behind the scan. */
static void wheel_slot(struct net_wheel *w, uint32_t slot, void (*fire)(void *, uint32_t),
                       void *arg)
{
	uint32_t id = w->slots[slot];

	while (id) {
		struct net_tnode *n = net_wheel_node(w, id);

		w->cursor = n->next;
		if ((int32_t)(n->expire - w->now) <= 0) {
			net_wheel_cancel(w, id);
			fire(arg, id);
		}
		id = w->cursor;
	}
	w->cursor = 0;
}

void net_wheel_advance(struct net_wheel *w, uint32_t now, void (*fire)(void *arg, uint32_t id),
                       void *arg)
{
	uint32_t old = w->now;
	uint32_t steps = now - old;

	if ((int32_t)steps <= 0)
		return;
	if (steps > w->mask + 1)
		steps = w->mask + 1;
	w->now = now;
	for (uint32_t i = 1; i <= steps; i++)
		wheel_slot(w, (old + i) & w->mask, fire, arg);
}
