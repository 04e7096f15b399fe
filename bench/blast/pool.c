/* SPDX-License-Identifier: MIT */
/*
 * pool.c - builds the start-up message pool and formats the per-message header block
 * (contract in body.h).
 *
 * The pool is one arena: each entry is generated unstuffed into a scratch buffer, checksummed,
 * then copied (dot-stuffed and terminated for DATA) into the arena. Generation stops early when
 * the arena passes conf->mem_max with at least BLAST_POOL_MIN entries built. Entry 0 is always
 * plain 7-bit, so every class list is non-empty.
 */
#include "body.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "reply.h"

#define BLAST_POOL_MIN 16
#define POOL_ENTRY_MIN 400

static unsigned pool_flags(const struct blast_pool_conf *c, unsigned i, size_t len,
                           struct blast_rng *r)
{
	unsigned f = 0;

	if (i == 0)
		return 0;
	if (blast_rng_below(r, 100) < c->pct_utf8)
		f = BLAST_BODY_UTF8HDR | BLAST_BODY_8BIT;
	else if (blast_rng_below(r, 100) < c->pct_8bit)
		f = BLAST_BODY_8BIT;
	if (len >= 4096 && blast_rng_below(r, 100) < c->pct_attach)
		f |= BLAST_BODY_ATTACH;
	return f;
}

static int pool_reserve(struct blast_pool *p, size_t *cap, size_t need)
{
	char *m;
	size_t ncap = *cap;

	if (need <= *cap - p->mem_len)
		return 0;
	while (ncap - p->mem_len < need)
		ncap = ncap < ((size_t)1 << 20) ? ((size_t)1 << 21) : ncap * 2;
	m = realloc(p->mem, ncap);
	if (m == NULL)
		return -ENOMEM;
	p->mem = m;
	*cap = ncap;
	return 0;
}

/* Generates entry i into scratch and appends it to the arena; data holds an offset until the
 * arena stops moving. */
static int pool_add(struct blast_pool *p, const struct blast_pool_conf *c, unsigned i,
                    char *scratch, size_t len, size_t *cap, struct blast_rng *r)
{
	struct blast_body *b = &p->bodies[i];
	size_t off, n, tries;
	bool bol = true;

	b->flags = pool_flags(c, i, len, r);
	for (tries = 0; (off = blast_gen_message(scratch, len, b->flags, c->pct_dots, r)) == 0;)
		if (++tries == 8)
			return -EINVAL;
	b->sum = blast_crc32(0, scratch + off, len - off);
	b->msg_len = len + c->hdr_len;
	for (n = 0; n < len; n++)
		p->dot_lines += (n == 0 || scratch[n - 1] == '\n') && scratch[n] == '.';
	n = c->stuffed ? blast_dot_stuffed_len(scratch, len, &bol) + 3 : len;
	if (pool_reserve(p, cap, n) != 0)
		return -ENOMEM;
	bol = true;
	if (c->stuffed) {
		size_t w = blast_dot_stuff(p->mem + p->mem_len, scratch, len, &bol);

		memcpy(p->mem + p->mem_len + w, ".\r\n", 3);
	} else {
		memcpy(p->mem + p->mem_len, scratch, len);
	}
	b->data = (const char *)(uintptr_t)p->mem_len;
	b->len = n;
	p->mem_len += n;
	p->msg_bytes += b->msg_len;
	return 0;
}

static int pool_classes(struct blast_pool *p)
{
	unsigned i, k;

	for (k = 0; k < BLAST_POOL_NCLASS; k++) {
		p->idx[k] = calloc(p->n, sizeof(unsigned));
		if (p->idx[k] == NULL)
			return -ENOMEM;
	}
	for (i = 0; i < p->n; i++) {
		unsigned f = p->bodies[i].flags;

		p->bodies[i].data = p->mem + (uintptr_t)p->bodies[i].data;
		p->idx[BLAST_POOL_ALL][p->nidx[BLAST_POOL_ALL]++] = i;
		if (!(f & BLAST_BODY_UTF8HDR))
			p->idx[BLAST_POOL_NO_UTF8][p->nidx[BLAST_POOL_NO_UTF8]++] = i;
		if (!(f & BLAST_BODY_8BIT))
			p->idx[BLAST_POOL_7BIT][p->nidx[BLAST_POOL_7BIT]++] = i;
	}
	return 0;
}

int blast_pool_init(struct blast_pool *p, const struct blast_pool_conf *c)
{
	struct blast_rng r;
	size_t cap = 0, scratch_len = 0;
	char *scratch = NULL;
	unsigned i;
	int err = 0;

	memset(p, 0, sizeof(*p));
	if (c->count == 0 || c->dist == NULL)
		return -EINVAL;
	p->bodies = calloc(c->count, sizeof(*p->bodies));
	if (p->bodies == NULL)
		return -ENOMEM;
	blast_rng_seed(&r, c->seed);
	for (i = 0; i < c->count && err == 0; i++) {
		uint64_t size = blast_dist_sample(c->dist, &r);
		size_t len = size > c->hdr_len + POOL_ENTRY_MIN ? (size_t)(size - c->hdr_len)
		                                                : POOL_ENTRY_MIN;

		if (len > scratch_len) {
			free(scratch);
			scratch_len = len;
			scratch = malloc(scratch_len);
			if (scratch == NULL) {
				err = -ENOMEM;
				break;
			}
		}
		err = pool_add(p, c, i, scratch, len, &cap, &r);
		p->n = i + 1;
		if (p->mem_len > c->mem_max && p->n >= BLAST_POOL_MIN)
			break;
	}
	free(scratch);
	if (err == 0)
		err = pool_classes(p);
	if (err != 0)
		blast_pool_free(p);
	return err;
}

void blast_pool_free(struct blast_pool *p)
{
	unsigned k;

	for (k = 0; k < BLAST_POOL_NCLASS; k++)
		free(p->idx[k]);
	free(p->bodies);
	free(p->mem);
	memset(p, 0, sizeof(*p));
}

enum blast_pool_class blast_pool_class_for(unsigned ext)
{
	if ((ext & BLAST_EXT_8BITMIME) && (ext & BLAST_EXT_SMTPUTF8))
		return BLAST_POOL_ALL;
	if (ext & BLAST_EXT_8BITMIME)
		return BLAST_POOL_NO_UTF8;
	return BLAST_POOL_7BIT;
}

static const char hex_digits[] = "0123456789abcdef";

void blast_msg_id(char *dst, uint32_t run_id, unsigned thread, uint64_t seq)
{
	int i;

	for (i = 7; i >= 0; i--, run_id >>= 4)
		dst[i] = hex_digits[run_id & 15];
	dst[8] = '.';
	dst[9] = (char)('0' + (thread / 10) % 10);
	dst[10] = (char)('0' + thread % 10);
	dst[11] = '.';
	for (i = 21; i >= 12; i--, seq /= 10)
		dst[i] = (char)('0' + seq % 10);
}

static int hdr_append(struct blast_hdr_tmpl *t, const char *s, size_t n)
{
	if (n > sizeof(t->buf) - t->len)
		return -EINVAL;
	memcpy(t->buf + t->len, s, n);
	t->len += n;
	return 0;
}

int blast_hdr_init(struct blast_hdr_tmpl *t, const char *domain)
{
	static const char id_pad[BLAST_ID_LEN] = "IIIIIIIIIIIIIIIIIIIIII";
	size_t i, dl = strlen(domain);
	int err = 0;

	memset(t, 0, sizeof(*t));
	if (dl == 0 || dl > 128)
		return -EINVAL;
	for (i = 0; i < dl; i++) {
		char c = domain[i];

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '.' || c == '-'))
			return -EINVAL;
	}
	err |= hdr_append(t, "Message-ID: <", 13);
	t->id_off[0] = t->len;
	err |= hdr_append(t, id_pad, BLAST_ID_LEN);
	err |= hdr_append(t, "@", 1);
	err |= hdr_append(t, domain, dl);
	err |= hdr_append(t, ">\r\nX-Blast-Id: ", 15);
	t->id_off[1] = t->len;
	err |= hdr_append(t, id_pad, BLAST_ID_LEN);
	err |= hdr_append(t, "\r\nX-Blast-Sum: crc32 ", 21);
	t->sum_off = t->len;
	err |= hdr_append(t, "00000000\r\n", 10);
	return err ? -EINVAL : 0;
}

void blast_hdr_fill(const struct blast_hdr_tmpl *t, char *dst, const char *id, uint32_t sum)
{
	int i;

	memcpy(dst, t->buf, t->len);
	memcpy(dst + t->id_off[0], id, BLAST_ID_LEN);
	memcpy(dst + t->id_off[1], id, BLAST_ID_LEN);
	for (i = 7; i >= 0; i--, sum >>= 4)
		dst[t->sum_off + (size_t)i] = hex_digits[sum & 15];
}
