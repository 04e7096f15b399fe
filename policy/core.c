/* SPDX-License-Identifier: MIT */
/*
 * core.c - the per-core context: Hyperscan scratch, the transaction pool, rule set swaps and
 * the mailbox that hands a new rule set to a core.
 *
 * Scratch: cloned from the rule set's prototype (hs_clone_scratch) at creation. A swap clones
 * the core's scratch and grows the clone for the new databases (hs_alloc_scratch keeps a
 * scratch valid for every database it was valid for), so transactions still running on an
 * older set keep working; only then is the old scratch freed. Nothing else shares it.
 *
 * Pool: max_tx entries allocated at creation, each with its body stream (hs_open_stream, kept
 * open and reset between transactions), its matched-rules bitset and its header buffer. Free
 * entries are always built for the current set: a swap rebuilds the free ones; an entry of an
 * older set is rebuilt when it is released. pol_tx_begin() therefore never allocates.
 *
 * Rule set lifetime on a core: the core holds one reference to its current set and one to
 * each of at most POL_RETIRED_MAX older sets that still have transactions in flight on this
 * core (counted here, without atomics); the reference is dropped when the count reaches 0.
 * Atomic operations happen only on swaps and in the mailbox.
 *
 * Public functions: pol_core_config_defaults, pol_core_create, pol_core_destroy,
 * pol_core_swap, pol_core_sync, pol_core_rules, pol_core_stats, pol_mailbox_post,
 * pol_mailbox_take, pol_tx_release. Errors: 0 / -ENOMEM / -EBUSY as policy.h says.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "policy/policy-int.h"

#define POL_MAX_TX_DEFAULT 1024u

void pol_core_config_defaults(struct pol_core_config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->max_tx = POL_MAX_TX_DEFAULT;
}

/* One pool entry built for r: the struct, its bitset and header buffer in one block. */
static struct pol_tx *tx_new(struct pol_core *c, struct pol_rules *r)
{
	size_t words = r->words ? r->words : 1;
	struct pol_tx *tx = calloc(1, sizeof(*tx) + words * sizeof(uint64_t) + r->set.header_max +
	                                  POL_OVERREAD); /* the header buffer is padded */

	if (!tx)
		return NULL;
	tx->core = c;
	tx->rules = r;
	tx->matched = (uint64_t *)(void *)(tx + 1);
	tx->hbuf = (char *)(tx->matched + words);
	tx->hcap = r->set.header_max;
	if (r->fdb[POL_F_BODY] >= 0 &&
	    hs_open_stream(r->db[r->fdb[POL_F_BODY]].hs, 0, &tx->stream) != HS_SUCCESS) {
		free(tx);
		return NULL;
	}
	return tx;
}

static void tx_free(struct pol_tx *tx)
{
	if (tx->stream)
		hs_close_stream(tx->stream, NULL, NULL, NULL);
	free(tx);
}

/* Build n entries for r into a list; returns how many were built. */
static uint32_t pool_build(struct pol_core *c, struct pol_rules *r, uint32_t n,
                           struct pol_tx **list)
{
	uint32_t built = 0;

	*list = NULL;
	for (uint32_t i = 0; i < n; i++) {
		struct pol_tx *tx = tx_new(c, r);

		if (!tx)
			continue;
		tx->next = *list;
		*list = tx;
		built++;
	}
	return built;
}

static void pool_free_list(struct pol_tx *tx)
{
	while (tx) {
		struct pol_tx *next = tx->next;

		tx_free(tx);
		tx = next;
	}
}

int pol_core_create(struct pol_core **out, struct pol_rules *rules,
                    const struct pol_core_config *cfg)
{
	struct pol_core_config def;
	struct pol_core *c;

	*out = NULL;
	if (!cfg) {
		pol_core_config_defaults(&def);
		cfg = &def;
	}
	if (!rules || cfg->max_tx == 0)
		return -EINVAL;
	c = aligned_alloc(64, (sizeof(*c) + 63) & ~(size_t)63);
	if (!c)
		return -ENOMEM;
	memset(c, 0, sizeof(*c));
	c->rules = pol_rules_get(rules);
	c->ev_cap = rules->max_env ? rules->max_env : 1;
	c->ev = malloc(c->ev_cap * sizeof(*c->ev));
	c->bounce = calloc(1, POL_BOUNCE);
	if (!c->ev || !c->bounce ||
	    (rules->proto && hs_clone_scratch(rules->proto, &c->scratch) != HS_SUCCESS)) {
		pol_core_destroy(c);
		return -ENOMEM;
	}
	c->pool = pool_build(c, rules, cfg->max_tx, &c->free);
	if (c->pool != cfg->max_tx) {
		pol_core_destroy(c);
		return -ENOMEM;
	}
	*out = c;
	return 0;
}

void pol_core_destroy(struct pol_core *c)
{
	if (!c)
		return;
	pool_free_list(c->free);
	for (unsigned i = 0; i < POL_RETIRED_MAX; i++)
		pol_rules_put(c->old[i].r);
	pol_rules_put(c->rules);
	hs_free_scratch(c->scratch);
	free(c->ev);
	free(c->bounce);
	free(c);
}

/* A scratch valid for everything the current one is valid for, and for r. */
static int scratch_for(struct pol_core *c, const struct pol_rules *r, hs_scratch_t **out)
{
	hs_scratch_t *s = NULL;

	if (c->scratch && hs_clone_scratch(c->scratch, &s) != HS_SUCCESS)
		return -ENOMEM;
	for (uint32_t d = 0; d < r->ndb; d++) {
		if (hs_alloc_scratch(r->db[d].hs, &s) != HS_SUCCESS) {
			hs_free_scratch(s);
			return -ENOMEM;
		}
	}
	*out = s;
	return 0;
}

int pol_core_swap(struct pol_core *c, struct pol_rules *r)
{
	struct pol_rules *old = c->rules;
	struct pol_retired *slot = NULL;
	hs_scratch_t *s = NULL;
	struct pol_tx *list;
	uint32_t nfree = 0, built;

	if (r == old) {
		pol_rules_put(r);
		return 0;
	}
	for (unsigned i = 0; i < POL_RETIRED_MAX && !slot && c->ntx_cur; i++)
		slot = c->old[i].r ? NULL : &c->old[i];
	if (c->ntx_cur && !slot)
		return -EBUSY;
	if (r->max_env > c->ev_cap) {
		uint32_t *ev = realloc(c->ev, r->max_env * sizeof(*ev));

		if (!ev)
			goto nomem;
		c->ev = ev;
		c->ev_cap = r->max_env;
	}
	if (scratch_for(c, r, &s))
		goto nomem;
	for (struct pol_tx *tx = c->free; tx; tx = tx->next)
		nfree++;
	built = pool_build(c, r, nfree, &list);
	c->st.pool_lost += nfree - built;
	c->pool -= nfree - built;
	pool_free_list(c->free);
	c->free = list;
	hs_free_scratch(c->scratch);
	c->scratch = s;
	if (slot) {
		slot->r = old;
		slot->ntx = c->ntx_cur;
	} else {
		pol_rules_put(old);
	}
	c->rules = r;
	c->ntx_cur = 0;
	c->st.swaps++;
	return 1;
nomem:
	pol_rules_put(r);
	return -ENOMEM;
}

int pol_core_sync(struct pol_core *c, struct pol_mailbox *mb)
{
	struct pol_rules *r = pol_mailbox_take(mb);
	struct pol_rules *expected = NULL;
	int rc;

	if (!r)
		return 0;
	rc = pol_core_swap(c, r);
	if (rc == -EBUSY &&
	    !atomic_compare_exchange_strong_explicit(&mb->next, &expected, r, memory_order_acq_rel,
	                                             memory_order_relaxed))
		pol_rules_put(r); /* a newer set was posted meanwhile: it wins */
	return rc;
}

const struct pol_rules *pol_core_rules(const struct pol_core *c)
{
	return c->rules;
}

const struct pol_stats *pol_core_stats(const struct pol_core *c)
{
	return &c->st;
}

struct pol_tx *pol_pool_pop(struct pol_core *c)
{
	struct pol_tx *tx = c->free;

	if (!tx)
		return NULL;
	c->free = tx->next;
	tx->next = NULL;
	c->ntx_cur++;
	return tx;
}

/* A transaction of an older set ended: drop the set when it was the last on this core. */
static void retired_drop(struct pol_core *c, struct pol_rules *r)
{
	for (unsigned i = 0; i < POL_RETIRED_MAX; i++) {
		if (c->old[i].r == r) {
			if (--c->old[i].ntx == 0) {
				pol_rules_put(r);
				c->old[i].r = NULL;
			}
			return;
		}
	}
}

void pol_tx_release(struct pol_core *c, struct pol_tx *tx)
{
	struct pol_rules *r = tx->rules;

	if (tx->flags & POL_TX_DIRTY) /* closes the transaction's stream: no match is reported */
		hs_reset_stream(tx->stream, 0, NULL, NULL, NULL);
	tx->flags = 0;
	if (r == c->rules) {
		c->ntx_cur--;
		tx->next = c->free;
		c->free = tx;
		return;
	}
	tx_free(tx); /* its stream belongs to r's database: close it before r may go */
	retired_drop(c, r);
	tx = tx_new(c, c->rules);
	if (!tx) {
		c->pool--;
		c->st.pool_lost++;
		return;
	}
	tx->next = c->free;
	c->free = tx;
}

void pol_mailbox_post(struct pol_mailbox *mb, struct pol_rules *r)
{
	struct pol_rules *old =
	    atomic_exchange_explicit(&mb->next, pol_rules_get(r), memory_order_acq_rel);

	if (old)
		pol_rules_put(old);
}

struct pol_rules *pol_mailbox_take(struct pol_mailbox *mb)
{
	return atomic_exchange_explicit(&mb->next, NULL, memory_order_acquire);
}
