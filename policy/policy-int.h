/* SPDX-License-Identifier: MIT */
/*
 * policy-int.h - the policy engine's internal types, shared by the files of policy/ only.
 *
 * A rule set (struct pol_rules) is built once by parse.c (rules, settings, strings in an
 * arena) and compile.c (one Hyperscan database per field in use, a prototype scratch), then
 * never written again: every core reads it without locks. Rule indices are file order and are
 * the Hyperscan match ids; "the walk" visits matched rules in that order.
 *
 * The per-core context (struct pol_core) and the transactions of its pool (struct pol_tx) are
 * touched by one thread only.
 */
#ifndef SLUICE_POLICY_POLICY_INT_H
#define SLUICE_POLICY_POLICY_INT_H

#include <hs.h>
#include <stdatomic.h>
#include <stdint.h>

#include "policy/policy.h"

/* ---- Small support: arena (arena.c) and 128-bit hash (hash.c) ---- */

struct pol_arena_blk;

/* Strings and arrays of a rule set; freed all at once. Allocations never move. */
struct pol_arena {
	struct pol_arena_blk *head;
};

void *pol_arena_alloc(struct pol_arena *a, size_t n);
char *pol_arena_strndup(struct pol_arena *a, const char *s, size_t n);
void pol_arena_free(struct pol_arena *a);

struct pol_hash {
	uint64_t h1, h2;
	uint64_t total;
	uint8_t buf[16];
	unsigned nbuf;
};

void pol_hash_init(struct pol_hash *h, uint64_t seed);
void pol_hash_update(struct pol_hash *h, const void *p, size_t n);
void pol_hash_final(struct pol_hash *h, uint8_t out[16]);
void pol_hash_u32(struct pol_hash *h, uint32_t v);

/* ---- Rules ---- */

enum pol_field {
	POL_F_CLIENT = 0,
	POL_F_HELO,
	POL_F_MAIL,
	POL_F_RCPT,
	POL_F_HEADER,    /* any header line, "Name: value" unfolded */
	POL_F_HDR_NAMED, /* the value of header fields of one name (Subject is one) */
	POL_F_BODY,
	POL_F__COUNT,
};

/* Rule actions; the terminal ones equal their enum pol_action value. */
enum pol_rule_action {
	POL_RA_ACCEPT = POL_ACCEPT,
	POL_RA_REJECT = POL_REJECT,
	POL_RA_TEMPFAIL = POL_TEMPFAIL,
	POL_RA_DISCARD = POL_DISCARD,
	POL_RA_QUARANTINE = POL_QUARANTINE,
	POL_RA_TAG,
	POL_RA_SCORE,
};

static inline int pol_ra_terminal(unsigned a)
{
	return a >= POL_RA_ACCEPT && a <= POL_RA_QUARANTINE;
}

struct pol_rule {
	const char *id;   /* [A-Za-z0-9._:-]{1,64} */
	const char *expr; /* the Hyperscan expression (literals escaped) */
	const char *src;  /* the pattern as written, for messages */
	const char *enh;  /* reply enhanced code or NULL (reject/tempfail) */
	const char *text; /* reply text or NULL (reject/tempfail) */
	const char *tag;  /* "Name: value" or NULL (tag: the id goes into the policy header) */
	uint32_t line;
	uint32_t hsflags;
	uint32_t hdr;   /* POL_F_HDR_NAMED: index into pol_rules.hdr */
	int32_t score;  /* POL_RA_SCORE: thousandths */
	uint16_t code;  /* reply code or 0 (stage default) */
	uint8_t action; /* enum pol_rule_action */
	uint8_t field;  /* enum pol_field */
};

/* One Hyperscan database: the rules of one field (or of one header name). */
struct pol_db {
	uint8_t field;  /* enum pol_field */
	uint8_t stream; /* HS_MODE_STREAM (body) or block */
	uint32_t hdr;   /* POL_F_HDR_NAMED: header index */
	uint32_t n;
	uint32_t *ids; /* rule indices, ascending */
	hs_database_t *hs;
};

struct pol_hdr_name {
	const char *name; /* as first written */
	uint32_t len;
	uint32_t db;
};

struct pol_settings {
	uint8_t has_reject_score;
	uint8_t has_tag_score;
	uint16_t reject_code;
	int32_t reject_score; /* thousandths */
	int32_t tag_score;
	const char *reject_enh;
	const char *reject_text;
	const char *tag_header;    /* line added at tag_score */
	const char *policy_header; /* name of the header listing tag rule ids */
	const char *score_header;  /* name of the header carrying the score at tag_score */
	uint32_t header_max;       /* header field buffer, octets */
};

#define POL_HEADER_MAX_DEFAULT 16384u
#define POL_HEADER_MAX_MIN     1000u
#define POL_HEADER_MAX_MAX     (1u << 20)
#define POL_NAME_MAX           255u /* a longer header "name" is not a header */

struct pol_rules {
	atomic_uint refs;
	const char *name; /* file name, for messages */
	struct pol_rule *rule;
	uint32_t nrules;
	uint32_t rule_cap;
	struct pol_db *db;
	uint32_t ndb;
	int32_t fdb[POL_F__COUNT]; /* database per field (not HDR_NAMED), -1: none */
	struct pol_hdr_name *hdr;
	uint32_t nhdr;
	uint32_t hdr_cap;
	uint32_t *hslot; /* open addressing: header index + 1, 0 = empty */
	uint32_t hmask;
	struct pol_settings set;
	uint32_t min_hdr;  /* lowest rule index of any header rule, or POL_NONE */
	uint32_t min_body; /* lowest rule index of a body rule, or POL_NONE */
	uint32_t max_env;  /* most rules in one envelope database */
	uint32_t words;    /* 64-bit words of a matched-rules bitset */
	hs_scratch_t *proto;
	uint8_t key[16];
	uint64_t key64; /* never 0 */
	uint8_t cache;  /* enum pol_cache_status */
	size_t db_bytes;
	size_t stream_bytes;
	double load_ms;
	struct pol_arena arena;
};

/* parse.c: fill r->rule, r->hdr, r->set from the text. 0 or -EINVAL/-ENOMEM with err. */
int pol_parse(struct pol_rules *r, const char *name, const char *text, size_t len,
              struct pol_error *err);
/* parse.c: header index for a name (case-insensitive), or -1. */
int pol_hdr_find(const struct pol_rules *r, const char *name, size_t len);
/* cache.c: 0 when every database came from the cache file; -errno otherwise (r unchanged). */
int pol_cache_load(struct pol_rules *r, const char *dir);
int pol_cache_store(const struct pol_rules *r, const char *dir);
void pol_db_hex_key(const struct pol_rules *r, char out[33]);

void pol_err(struct pol_error *err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* ---- Per core ---- */

#define POL_RETIRED_MAX 4

/*
 * Hyperscan 5.4 may read up to one vector (64 bytes) past the end of the buffer it scans
 * (seen here on the AVX-512 paths, block and streaming mode). Harmless inside a mapping, a
 * crash when the bytes end just before an unmapped page. So no scan is handed bytes whose
 * over-read could cross into another 4 KiB page: such a tail is scanned from a padded copy.
 */
#define POL_OVERREAD 64u
#define POL_ENV_MAX  4096u /* envelope values are matched on their first 4096 octets */
#define POL_BOUNCE   (POL_ENV_MAX + POL_OVERREAD)

static inline int pol_tail_safe(const char *p, size_t n)
{
	uintptr_t last = (uintptr_t)p + n - 1;

	return n && (last >> 12) == ((last + POL_OVERREAD) >> 12);
}

extern const char pol_zero_pad[POL_OVERREAD]; /* what an empty value is scanned as */

struct pol_retired {
	struct pol_rules *r;
	uint32_t ntx; /* transactions of this core still on r */
};

struct pol_tx;

struct pol_core {
	struct pol_rules *rules; /* current: new connections and transactions */
	hs_scratch_t *scratch;   /* valid for rules and every retired set */
	struct pol_tx *free;     /* pool entries built for rules */
	uint32_t ntx_cur;        /* transactions in flight on rules */
	uint32_t pool;           /* entries owned: free + in flight */
	char *bounce;            /* POL_BOUNCE bytes: see POL_OVERREAD */
	uint32_t *ev;            /* matches of one envelope value */
	uint32_t ev_cap;
	uint32_t nev;
	struct pol_retired old[POL_RETIRED_MAX];
	struct pol_stats st;
} __attribute__((aligned(64)));

enum pol_hstate {
	POL_H_LINE = 0, /* at the start of a header-section line */
	POL_H_CR,       /* a CR at the start of a line */
	POL_H_NAME,     /* in a field name */
	POL_H_NAME_WSP, /* WSP between the name and the colon */
	POL_H_VALUE,    /* in a field body */
	POL_H_BODY,     /* past the header section */
};

enum {
	POL_TX_DONE = 1u << 0,  /* nothing later can change the verdict */
	POL_TX_DIRTY = 1u << 1, /* the body stream holds state */
	POL_TX_ERROR = 1u << 2, /* Hyperscan failed: the verdict is tempfail */
	POL_TX_ENDED = 1u << 3, /* pol_tx_end() ran */
	POL_TX_TRUNC = 1u << 4, /* the current header field overflowed hbuf */
	POL_TX_CR = 1u << 5,    /* a CR is pending inside a field body */
	POL_TX_HAVE = 1u << 6,  /* a field is complete but may still be folded */
};

struct pol_tx {
	struct pol_tx *next; /* free list */
	struct pol_core *core;
	struct pol_rules *rules; /* the set this entry is built for */
	hs_stream_t *stream;     /* body stream, NULL without body rules */
	uint64_t *matched;       /* rules->words */
	char *hbuf;              /* one unfolded header field */
	uint32_t hcap;
	uint32_t hlen;
	uint32_t name_len;
	uint32_t value_off;
	uint32_t best; /* lowest terminal rule matched, or POL_NONE */
	int32_t score;
	uint32_t nwalked;
	uint8_t hstate; /* enum pol_hstate */
	uint8_t flags;
	uint8_t action;       /* final, after pol_tx_end() */
	uint8_t score_tagged; /* tag_score reached */
};

enum pol_stage { POL_STAGE_CONNECT, POL_STAGE_COMMAND, POL_STAGE_DATA };

/* core.c */
struct pol_tx *pol_pool_pop(struct pol_core *c);
/* envelope.c */
void pol_verdict_clear(struct pol_verdict *v);
void pol_verdict_rule(struct pol_verdict *v, const struct pol_rules *r, uint32_t idx,
                      enum pol_stage st);
void pol_verdict_tempfail_error(struct pol_verdict *v);
/* message.c */
int pol_tx_on_match(unsigned int id, unsigned long long from, unsigned long long to,
                    unsigned int flags, void *ctx);
void pol_tx_check_done(struct pol_tx *tx);

static inline void pol_bit_set(uint64_t *w, uint32_t i)
{
	w[i >> 6] |= 1ull << (i & 63);
}

static inline int pol_bit_test(const uint64_t *w, uint32_t i)
{
	return (int)((w[i >> 6] >> (i & 63)) & 1);
}

#endif
