/* SPDX-License-Identifier: MIT */
/*
 * arena.c - the rule set's string and array arena: blocks that never move, freed at once.
 *
 * pol_arena_alloc() returns n bytes aligned to 16 (zeroed), pol_arena_strndup() a NUL-ended
 * copy; both return NULL when malloc fails. A request larger than the block size gets a block
 * of its own. Used while a rule set is built, on one thread; pol_arena_free() frees it all.
 */
#include <stdlib.h>
#include <string.h>

#include "policy/policy-int.h"

#define POL_ARENA_BLOCK (64u * 1024u)

struct pol_arena_blk {
	struct pol_arena_blk *next;
	size_t used;
	size_t cap;
	_Alignas(16) unsigned char mem[];
};

void *pol_arena_alloc(struct pol_arena *a, size_t n)
{
	struct pol_arena_blk *b = a->head;
	size_t need = (n + 15) & ~(size_t)15;

	if (need < n)
		return NULL;
	if (!b || b->cap - b->used < need) {
		size_t cap = need > POL_ARENA_BLOCK ? need : POL_ARENA_BLOCK;

		b = calloc(1, sizeof(*b) + cap);
		if (!b)
			return NULL;
		b->cap = cap;
		if (a->head && need > POL_ARENA_BLOCK) {
			/* keep filling the current block: put the big one behind it */
			b->next = a->head->next;
			a->head->next = b;
		} else {
			b->next = a->head;
			a->head = b;
		}
	}
	void *p = b->mem + b->used;

	b->used += need;
	return p;
}

char *pol_arena_strndup(struct pol_arena *a, const char *s, size_t n)
{
	char *p = pol_arena_alloc(a, n + 1);

	if (!p)
		return NULL;
	memcpy(p, s, n);
	p[n] = '\0';
	return p;
}

void pol_arena_free(struct pol_arena *a)
{
	struct pol_arena_blk *b = a->head;

	while (b) {
		struct pol_arena_blk *next = b->next;

		free(b);
		b = next;
	}
	a->head = NULL;
}
