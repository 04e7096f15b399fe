/* SPDX-License-Identifier: MIT */
/*
 * policy.h - the policy engine: rules from a file (docs/POLICY.md), compiled into Hyperscan
 * databases, applied to the envelope, the header lines and the body as they stream in.
 *
 * Objects and who owns them:
 *   struct pol_rules    an immutable compiled rule set. Built by pol_rules_load() on any thread,
 *                       shared read-only by every core, reference-counted (get/put are atomic).
 *   struct pol_core     one per core: the core's Hyperscan scratch (hs_clone_scratch), its pool
 *                       of transactions, its counters. Used by one thread only.
 *   struct pol_mailbox  one per core: hands a new rule set from any thread to the core.
 *   struct pol_conn     one per connection, owned by the embedder, zero-initialised.
 *   struct pol_tx       one per transaction (MAIL FROM .. end of data), from the core's pool.
 *
 * Policy off costs nothing: an embedder started without a rules file keeps its per-core
 * struct pol_core pointer NULL and never calls into this library.
 *
 * Calling pattern (one core; every call takes the core's context first):
 *
 *	start-up:   pol_rules_load(path, &opt, &rules, &err);  pol_core_create(&pc, rules, &cfg);
 *	reload:     pol_reload(path, &opt, mailboxes, ncores, &current, &err)  (any thread)
 *	loop pass:  if (pol_mailbox_pending(&mb)) pol_core_sync(pc, &mb);     (a safe point)
 *	connect:    struct pol_conn conn = {0};  pol_conn_client(pc, &conn, sa, &v);
 *	HELO/EHLO:  pol_conn_helo(pc, &conn, name, len, &v);
 *	MAIL:       pol_tx_begin(pc, &conn, reverse_path, len, &tx, &v);
 *	RCPT:       pol_tx_rcpt(pc, tx, forward_path, len, &v);                (each)
 *	DATA/BDAT:  pol_tx_data(pc, tx, span, n);   (every message span, as the engine emits them)
 *	end:        pol_tx_end(pc, tx, &v);  pol_tx_headers(..);  pol_tx_rule_ids(..);
 *	always:     pol_tx_release(pc, tx);     (after the verdict, on RSET, error, disconnect)
 *
 * Every verdict answers at once: v.code == 0 means "go on" (send the usual success reply);
 * v.code != 0 means refuse with v.code, v.enh, v.text (they map onto struct smtp_verdict).
 * At end of data v.action also says what to do with an accepted message (store, discard,
 * quarantine) and v.tagged whether pol_tx_headers() has header lines to add.
 *
 * Semantics (docs/POLICY.md): the rules are walked in file order; a rule counts as matched if
 * its pattern matched its field anywhere in the connection or transaction; score and tag
 * rules accumulate; the first matched terminal rule (accept, reject, tempfail, discard,
 * quarantine) decides and stops the walk. Refusals at connect/HELO/MAIL/RCPT are decided when
 * the value arrives, from what has matched so far. With no terminal rule the score thresholds
 * decide.
 *
 * Lifetimes: strings in a verdict point into the rule set. For pol_tx_* verdicts they stay
 * valid until pol_tx_release(); for pol_conn_* verdicts until the next pol_core_sync().
 * Pointers passed in (values, spans) are only read during the call; nothing is kept.
 *
 * Errors: functions return 0 or -errno. Loading fills struct pol_error with one line naming
 * the file, the line and what is wrong. The per-core functions never allocate except
 * pol_core_create/sync/destroy (and pol_tx_release after a rule set change).
 *
 * Limits: header fields longer than the rule set's header_max are matched on their first
 * header_max octets (counted in pol_stats.header_truncated); envelope values on their first
 * 4096; at most POL_CONN_CARRY score/tag matches of the connection stage are carried into
 * its transactions.
 */
#ifndef SLUICE_POLICY_POLICY_H
#define SLUICE_POLICY_POLICY_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/types.h>

#define POL_CONN_CARRY 8   /* connection-stage score/tag matches carried into transactions */
#define POL_ERROR_MAX  512 /* struct pol_error message, including the NUL */
#define POL_DONE       1   /* pol_tx_data(): the rest of the message cannot change the verdict */
#define POL_NONE       UINT32_MAX

struct pol_rules;
struct pol_core;
struct pol_tx;

/* What a verdict asks for. Rules also have "tag" and "score", which never decide alone. */
enum pol_action {
	POL_PASS = 0,   /* no terminal rule, under the thresholds: go on / store normally */
	POL_ACCEPT,     /* an accept rule (allowlist) decided: go on / store normally */
	POL_REJECT,     /* refuse with a 5xx reply (code/enh/text) */
	POL_TEMPFAIL,   /* refuse with a 4xx reply (code/enh/text) */
	POL_DISCARD,    /* answer 250, store nothing */
	POL_QUARANTINE, /* answer 250, store in the spool's quarantine area */
};

/* "pass", "accept", "reject", "tempfail", "discard", "quarantine" (for logs and the spool). */
const char *pol_action_name(enum pol_action a);

struct pol_verdict {
	uint8_t action;    /* enum pol_action */
	uint8_t tagged;    /* end of data: pol_tx_headers() has lines to add */
	uint16_t code;     /* 0: the usual success reply; else refuse with code/enh/text */
	const char *enh;   /* enhanced status code ("5.7.1") when code != 0, else NULL */
	const char *text;  /* reply text when code != 0, else NULL */
	const char *rule;  /* id of the deciding rule; NULL when none (thresholds, no match) */
	int32_t score;     /* thousandths of a point, from the score rules walked */
	uint32_t nmatched; /* rules walked that matched (end of data), for logs */
};

struct pol_error {
	char msg[POL_ERROR_MAX];
};

/* ---- Rule sets (any thread) ---- */

struct pol_load_opts {
	const char *cache_dir; /* compiled databases are cached here; NULL: no cache */
};

enum pol_cache_status {
	POL_CACHE_OFF = 0,    /* no cache_dir */
	POL_CACHE_HIT,        /* databases loaded from the cache file */
	POL_CACHE_MISS,       /* compiled, cache file written */
	POL_CACHE_REBUILT,    /* cache file unreadable or corrupt: ignored, compiled, rewritten */
	POL_CACHE_UNWRITABLE, /* compiled; the cache file could not be written (not fatal) */
};

struct pol_rules_info {
	uint32_t nrules;
	uint32_t ndb;        /* Hyperscan databases (one per field in use) */
	uint8_t cache;       /* enum pol_cache_status */
	char key[33];        /* hex hash of the compile input: the cache key */
	size_t db_bytes;     /* total size of the databases */
	size_t stream_bytes; /* per-transaction body stream state */
	double load_ms;      /* parse + compile or cache load */
};

/*
 * Parse and compile a rules file, or load its databases from opt->cache_dir. On error returns
 * -EINVAL (syntax, compile), -ENOENT/-EACCES/... (file), -ENOMEM, -ENOTSUP (CPU unsupported),
 * with err->msg naming the file, the line and the problem. *out holds one reference.
 */
int pol_rules_load(const char *path, const struct pol_load_opts *opt, struct pol_rules **out,
                   struct pol_error *err);
/* The same from a buffer; name is used in messages. */
int pol_rules_load_mem(const char *name, const char *text, size_t len,
                       const struct pol_load_opts *opt, struct pol_rules **out,
                       struct pol_error *err);
struct pol_rules *pol_rules_get(struct pol_rules *r);
/* Drop a reference; the last one frees the rule set (on whichever thread drops it). */
void pol_rules_put(struct pol_rules *r);
void pol_rules_info(const struct pol_rules *r, struct pol_rules_info *info);

/* ---- Handing a new rule set to a core ---- */

struct pol_mailbox {
	_Atomic(struct pol_rules *) next; /* a rule set the core has not taken yet, or NULL */
	char pad[64 - sizeof(void *)];
} __attribute__((aligned(64)));

/* Before first use (or zeroed memory, e.g. from calloc, which reads as an empty mailbox). */
static inline void pol_mailbox_init(struct pol_mailbox *mb)
{
	atomic_init(&mb->next, NULL);
}

/* Any thread: offer r to the core (takes its own reference; replaces an untaken offer). */
void pol_mailbox_post(struct pol_mailbox *mb, struct pol_rules *r);
/* Core thread: take the offer (the reference passes to the caller) or NULL. */
struct pol_rules *pol_mailbox_take(struct pol_mailbox *mb);

/* Core thread, once per loop pass: a relaxed load, nothing else. */
static inline int pol_mailbox_pending(struct pol_mailbox *mb)
{
	return atomic_load_explicit(&mb->next, memory_order_relaxed) != NULL;
}

/*
 * Load path; on success offer the new set to every mailbox and replace *current (its old
 * reference is dropped). On failure nothing changes: the cores keep the old rules, and the
 * error says why. Any thread, one reload at a time.
 */
int pol_reload(const char *path, const struct pol_load_opts *opt, struct pol_mailbox *mbs,
               unsigned nmb, struct pol_rules **current, struct pol_error *err);

/* ---- Per core ---- */

struct pol_core_config {
	uint32_t max_tx; /* transactions in flight on this core (pool size), default 1024 */
};

void pol_core_config_defaults(struct pol_core_config *cfg);

/* Allocate the core's context for rules (takes its own reference). 0 or -ENOMEM/-EINVAL. */
int pol_core_create(struct pol_core **out, struct pol_rules *rules,
                    const struct pol_core_config *cfg);
/* Every transaction must have been released. Drops the core's references. */
void pol_core_destroy(struct pol_core *c);

/*
 * At a safe point of the core's loop (not inside a pol_ call): take the mailbox's rule set.
 * New transactions use it; transactions in flight finish on the set they began with.
 * Returns 1 if swapped, 0 if nothing was pending, -ENOMEM (scratch or pool could not be
 * grown: the old rules stay) or -EBUSY (too many older sets still in flight: the offer is put
 * back, retry on a later pass).
 */
int pol_core_sync(struct pol_core *c, struct pol_mailbox *mb);
/* The same with a rule set in hand; consumes the caller's reference on success and -ENOMEM. */
int pol_core_swap(struct pol_core *c, struct pol_rules *r);
/* The rule set new connections and transactions use (borrowed). */
const struct pol_rules *pol_core_rules(const struct pol_core *c);

/* Per-core counters; sum them across cores to report. */
struct pol_stats {
	uint64_t values;           /* envelope values evaluated */
	uint64_t tx;               /* transactions begun */
	uint64_t tx_busy;          /* MAIL refused because the pool was empty */
	uint64_t header_fields;    /* header fields scanned */
	uint64_t header_truncated; /* of which longer than header_max */
	uint64_t body_bytes;       /* body bytes scanned in streaming mode */
	uint64_t scan_bytes;       /* every byte handed to Hyperscan */
	uint64_t scan_calls;       /* Hyperscan scan calls */
	uint64_t matches;          /* match callbacks */
	uint64_t skipped_bytes;    /* message bytes not scanned: verdict already fixed */
	uint64_t hs_errors;        /* unexpected Hyperscan errors (the verdict became tempfail) */
	uint64_t swaps;            /* rule sets taken over */
	uint64_t pool_lost;        /* pool entries lost to allocation failures after a swap */
	uint64_t carry_overflow;   /* connection-stage matches beyond POL_CONN_CARRY */
};

const struct pol_stats *pol_core_stats(const struct pol_core *c);

/* ---- Per connection ---- */

/* Embedder-owned, zero-initialised; 56 bytes. Opaque: only pol_conn_* touch it. */
struct pol_conn {
	uint64_t rules_key; /* rule set the fields below refer to; 0: none yet */
	uint32_t best;      /* terminal rule of the connection stage, or POL_NONE */
	uint32_t client_best;
	uint32_t carry[POL_CONN_CARRY]; /* score/tag rules matched by client and HELO */
	uint8_t ncarry;
	uint8_t nclient; /* carry[0..nclient) came from the client address */
	uint8_t refused; /* the client address was refused: 1 reject, 2 tempfail */
	uint8_t pad;
};

/* At connect: the client address (AF_INET or AF_INET6) as text, "192.0.2.1" / "2001:db8::1". */
int pol_conn_client(struct pol_core *c, struct pol_conn *conn, const struct sockaddr *sa,
                    struct pol_verdict *v);
/* At each HELO/EHLO (a new one replaces the previous name's matches). */
int pol_conn_helo(struct pol_core *c, struct pol_conn *conn, const char *name, size_t len,
                  struct pol_verdict *v);

/* ---- Per transaction ---- */

/*
 * At MAIL FROM (reverse-path without <>, "" for the null sender). conn may be NULL (no
 * connection stage). On v.code == 0 *txp is a transaction to use and release; otherwise
 * *txp is NULL and MAIL is refused with v. Returns 0, -EBUSY when the pool is empty (v then
 * holds 451 4.3.2), or -EIO on a Hyperscan error (v holds 451 4.3.0).
 */
int pol_tx_begin(struct pol_core *c, const struct pol_conn *conn, const char *mail, size_t len,
                 struct pol_tx **txp, struct pol_verdict *v);
/* At each RCPT TO (forward-path without <>). v.code != 0 refuses this recipient only. */
int pol_tx_rcpt(struct pol_core *c, struct pol_tx *tx, const char *rcpt, size_t len,
                struct pol_verdict *v);
/*
 * A span of the message (header section and body, unstuffed, as the engine emits it), in
 * order, split anywhere. Returns 0, or POL_DONE when the rest cannot change the verdict (the
 * embedder may stop calling until pol_tx_end()).
 */
int pol_tx_data(struct pol_core *c, struct pol_tx *tx, const char *p, size_t n);
/* End of data: the final verdict, before anything is committed. Call at most once. */
int pol_tx_end(struct pol_core *c, struct pol_tx *tx, struct pol_verdict *v);
/*
 * After pol_tx_end(): the header lines to add ("Name: value\r\n" each) / the ids of the rules
 * walked that matched, comma-separated, in file order (for logs and the spool envelope).
 * Return the length written (a NUL follows), or -ENOSPC if cap is too small.
 */
ssize_t pol_tx_headers(const struct pol_tx *tx, char *buf, size_t cap);
ssize_t pol_tx_rule_ids(const struct pol_tx *tx, char *buf, size_t cap);
/* Always, exactly once per transaction: after the verdict, on RSET, error or disconnect. */
void pol_tx_release(struct pol_core *c, struct pol_tx *tx);

#endif
