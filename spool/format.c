/* SPDX-License-Identifier: MIT */
/*
 * format.c - encoding and decoding of spool records (layout in format.h and
 * docs/SPOOL-FORMAT.md): record headers and their CRC, the segment header, the commit marker,
 * and the envelope carried by a BEGIN record.
 *
 * Encoders write into caller-sized memory (size first, then encode). Decoders take a buffer
 * and its length, never allocate, never read outside it, and return 0 or -EINVAL.
 */
#include <errno.h>
#include <string.h>

#include "spool/format.h"

uint32_t spool_rec_crc(const uint8_t *h, uint32_t payload_crc)
{
	return spool_crc32c(payload_crc, h + 4, SPOOL_REC_HDR - 4);
}

size_t spool_rec_seal(uint8_t *h, unsigned type, uint32_t key, uint32_t len)
{
	h[4] = (uint8_t)type;
	h[5] = 0;
	spool_put16(h + 6, 0);
	spool_put32(h + 8, len);
	spool_put32(h + 12, key);
	spool_put32(h, spool_rec_crc(h, spool_crc32c(0, h + SPOOL_REC_HDR, len)));
	return SPOOL_REC_HDR + (size_t)len;
}

int spool_rec_hdr_decode(const uint8_t *h, struct spool_rec_hdr *out)
{
	out->crc = spool_get32(h);
	out->type = h[4];
	out->flags = h[5];
	out->zero = spool_get16(h + 6);
	out->len = spool_get32(h + 8);
	out->key = spool_get32(h + 12);
	if (out->type == 0 || out->type > SPOOL_REC_TYPE_MAX || out->flags != 0 || out->zero != 0)
		return -EINVAL;
	if (out->len > SPOOL_REC_MAX)
		return -EINVAL;
	return 0;
}

int spool_rec_check(const uint8_t *h, const struct spool_rec_hdr *hdr)
{
	uint32_t c = spool_crc32c(0, h + SPOOL_REC_HDR, hdr->len);

	return spool_rec_crc(h, c) == hdr->crc ? 0 : -EINVAL;
}

void spool_seg_hdr_encode(uint8_t *p, const struct spool_seg_hdr *sh)
{
	memcpy(p, SPOOL_SEG_MAGIC, 8);
	spool_put32(p + 8, sh->version);
	spool_put32(p + 12, sh->core);
	spool_put64(p + 16, sh->seq);
	spool_put64(p + 24, sh->epoch_us);
	spool_put64(p + 32, sh->created_us);
}

int spool_seg_hdr_decode(const uint8_t *p, size_t n, struct spool_seg_hdr *sh)
{
	if (n < SPOOL_SEG_HDR_LEN || memcmp(p, SPOOL_SEG_MAGIC, 8) != 0)
		return -EINVAL;
	sh->version = spool_get32(p + 8);
	sh->core = spool_get32(p + 12);
	sh->seq = spool_get64(p + 16);
	sh->epoch_us = spool_get64(p + 24);
	sh->created_us = spool_get64(p + 32);
	return sh->version >= SPOOL_FORMAT_MIN && sh->version <= SPOOL_FORMAT_VERSION ? 0 : -EINVAL;
}

void spool_commit_encode(uint8_t *p, uint64_t size, uint32_t crc)
{
	spool_put64(p, size);
	spool_put32(p + 8, crc);
	spool_put32(p + 12, 0);
}

int spool_commit_decode(const uint8_t *p, size_t n, uint64_t *size, uint32_t *crc)
{
	if (n < SPOOL_COMMIT_LEN)
		return -EINVAL;
	*size = spool_get64(p);
	*crc = spool_get32(p + 8);
	return 0;
}

/* --- envelope ---------------------------------------------------------------------------- */

static size_t client_len(const struct sockaddr_storage *ss)
{
	if (ss->ss_family == AF_INET)
		return 4 + 4;
	if (ss->ss_family == AF_INET6)
		return 4 + 16;
	return 4;
}

size_t spool_env_size(const struct spool_envelope *env, const char *queue_id, uint32_t received_len)
{
	size_t n = 0;

	(void)received_len;
	n += SPOOL_ENV_FIELD_HDR + strlen(queue_id);
	n += SPOOL_ENV_FIELD_HDR + 8;
	n += SPOOL_ENV_FIELD_HDR + client_len(&env->client);
	n += SPOOL_ENV_FIELD_HDR + env->client_name.n;
	n += SPOOL_ENV_FIELD_HDR + env->helo.n;
	n += SPOOL_ENV_FIELD_HDR + 1;
	n += SPOOL_ENV_FIELD_HDR + env->mail_from.n;
	n += SPOOL_ENV_FIELD_HDR + env->mail_params.n;
	for (uint32_t i = 0; i < env->nrcpt; i++) {
		n += SPOOL_ENV_FIELD_HDR + env->rcpt[i].n;
		if (env->rcpt_params && env->rcpt_params[i].n > 0)
			n += SPOOL_ENV_FIELD_HDR + env->rcpt_params[i].n;
	}
	n += SPOOL_ENV_FIELD_HDR + env->verdict.n;
	n += SPOOL_ENV_FIELD_HDR + env->tags.n;
	n += SPOOL_ENV_FIELD_HDR + 4;
	return n;
}

static uint8_t *put_field(uint8_t *p, unsigned tag, const void *v, size_t n)
{
	spool_put16(p, (uint16_t)tag);
	spool_put32(p + 2, (uint32_t)n);
	if (n > 0)
		memcpy(p + SPOOL_ENV_FIELD_HDR, v, n);
	return p + SPOOL_ENV_FIELD_HDR + n;
}

static uint8_t *put_client(uint8_t *p, const struct sockaddr_storage *ss)
{
	uint8_t v[20] = {0};
	size_t n = client_len(ss);

	if (ss->ss_family == AF_INET) {
		const struct sockaddr_in *in = (const struct sockaddr_in *)ss;

		v[0] = 4;
		memcpy(v + 2, &in->sin_port, 2); /* network order, as in the sockaddr */
		memcpy(v + 4, &in->sin_addr, 4);
	} else if (ss->ss_family == AF_INET6) {
		const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)ss;

		v[0] = 6;
		memcpy(v + 2, &in6->sin6_port, 2);
		memcpy(v + 4, &in6->sin6_addr, 16);
	}
	return put_field(p, SPOOL_ENV_CLIENT, v, n);
}

void spool_env_encode(uint8_t *p, const struct spool_envelope *env, const char *queue_id,
                      uint32_t received_len)
{
	uint8_t u[8];

	p = put_field(p, SPOOL_ENV_QUEUE_ID, queue_id, strlen(queue_id));
	spool_put64(u, env->recv_time_us);
	p = put_field(p, SPOOL_ENV_RECV_TIME, u, 8);
	p = put_client(p, &env->client);
	p = put_field(p, SPOOL_ENV_CLIENT_NAME, env->client_name.p, env->client_name.n);
	p = put_field(p, SPOOL_ENV_HELO, env->helo.p, env->helo.n);
	u[0] = (uint8_t)((env->ehlo ? 1 : 0) | (env->tls ? 2 : 0));
	p = put_field(p, SPOOL_ENV_FLAGS, u, 1);
	p = put_field(p, SPOOL_ENV_MAIL_FROM, env->mail_from.p, env->mail_from.n);
	p = put_field(p, SPOOL_ENV_MAIL_PARAMS, env->mail_params.p, env->mail_params.n);
	for (uint32_t i = 0; i < env->nrcpt; i++) {
		p = put_field(p, SPOOL_ENV_RCPT, env->rcpt[i].p, env->rcpt[i].n);
		if (env->rcpt_params && env->rcpt_params[i].n > 0)
			p = put_field(p, SPOOL_ENV_RCPT_PARAMS, env->rcpt_params[i].p,
			              env->rcpt_params[i].n);
	}
	p = put_field(p, SPOOL_ENV_VERDICT, env->verdict.p, env->verdict.n);
	p = put_field(p, SPOOL_ENV_TAGS, env->tags.p, env->tags.n);
	spool_put32(u, received_len);
	put_field(p, SPOOL_ENV_RECEIVED_LEN, u, 4);
}

/* Fields every envelope has; RECEIVED_LEN is written last, so a cut envelope lacks it. */
#define ENV_REQUIRED                                                                               \
	(1u << SPOOL_ENV_QUEUE_ID | 1u << SPOOL_ENV_RECV_TIME | 1u << SPOOL_ENV_CLIENT |           \
	 1u << SPOOL_ENV_FLAGS | 1u << SPOOL_ENV_MAIL_FROM | 1u << SPOOL_ENV_RECEIVED_LEN)

/* Iterates fields: returns 1 with *tag, *v, *vn set; 0 at the end; -EINVAL if truncated. */
static int next_field(const uint8_t *p, size_t n, size_t *pos, unsigned *tag, const uint8_t **v,
                      size_t *vn)
{
	size_t left = n - *pos;
	uint32_t len;

	if (left == 0)
		return 0;
	if (left < SPOOL_ENV_FIELD_HDR)
		return -EINVAL;
	*tag = spool_get16(p + *pos);
	len = spool_get32(p + *pos + 2);
	if (left - SPOOL_ENV_FIELD_HDR < len)
		return -EINVAL;
	*v = p + *pos + SPOOL_ENV_FIELD_HDR;
	*vn = len;
	*pos += SPOOL_ENV_FIELD_HDR + len;
	return 1;
}

int spool_env_count_rcpt(const uint8_t *p, size_t n, uint32_t *nrcpt)
{
	size_t pos = 0, vn;
	const uint8_t *v;
	unsigned tag;
	int rc;

	*nrcpt = 0;
	while ((rc = next_field(p, n, &pos, &tag, &v, &vn)) > 0)
		if (tag == SPOOL_ENV_RCPT)
			(*nrcpt)++;
	return rc;
}

static int get_client(const uint8_t *v, size_t vn, struct sockaddr_storage *ss)
{
	memset(ss, 0, sizeof(*ss));
	if (vn < 4)
		return -EINVAL;
	if (v[0] == 4 && vn == 8) {
		struct sockaddr_in *in = (struct sockaddr_in *)ss;

		in->sin_family = AF_INET;
		memcpy(&in->sin_port, v + 2, 2);
		memcpy(&in->sin_addr, v + 4, 4);
	} else if (v[0] == 6 && vn == 20) {
		struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)ss;

		in6->sin6_family = AF_INET6;
		memcpy(&in6->sin6_port, v + 2, 2);
		memcpy(&in6->sin6_addr, v + 4, 16);
	} else if (v[0] != 0 || vn != 4) {
		return -EINVAL;
	}
	return 0;
}

static void set_str(struct spool_str *s, const uint8_t *v, size_t vn)
{
	s->p = (const char *)v;
	s->n = vn;
}

/* One field into env; recipients are handled by the caller. */
static int get_scalar(struct spool_envelope *env, unsigned tag, const uint8_t *v, size_t vn,
                      char *queue_id, uint32_t *received_len)
{
	switch (tag) {
	case SPOOL_ENV_QUEUE_ID:
		if (vn == 0 || vn >= SPOOL_QUEUE_ID_MAX || memchr(v, 0, vn))
			return -EINVAL;
		memcpy(queue_id, v, vn);
		queue_id[vn] = 0;
		return 0;
	case SPOOL_ENV_RECV_TIME:
		if (vn != 8)
			return -EINVAL;
		env->recv_time_us = spool_get64(v);
		return 0;
	case SPOOL_ENV_CLIENT:
		return get_client(v, vn, &env->client);
	case SPOOL_ENV_CLIENT_NAME:
		return set_str(&env->client_name, v, vn), 0;
	case SPOOL_ENV_HELO:
		return set_str(&env->helo, v, vn), 0;
	case SPOOL_ENV_FLAGS:
		if (vn != 1)
			return -EINVAL;
		env->ehlo = v[0] & 1;
		env->tls = (v[0] >> 1) & 1;
		return 0;
	case SPOOL_ENV_MAIL_FROM:
		return set_str(&env->mail_from, v, vn), 0;
	case SPOOL_ENV_MAIL_PARAMS:
		return set_str(&env->mail_params, v, vn), 0;
	case SPOOL_ENV_VERDICT:
		return set_str(&env->verdict, v, vn), 0;
	case SPOOL_ENV_TAGS:
		return set_str(&env->tags, v, vn), 0;
	case SPOOL_ENV_RECEIVED_LEN:
		if (vn != 4)
			return -EINVAL;
		*received_len = spool_get32(v);
		return 0;
	default:
		return 0; /* unknown: skipped (a later minor version may add fields) */
	}
}

int spool_env_decode(const uint8_t *p, size_t n, struct spool_envelope *env, struct spool_str *rcpt,
                     struct spool_str *rcpt_params, uint32_t cap, char queue_id[SPOOL_QUEUE_ID_MAX],
                     uint32_t *received_len)
{
	size_t pos = 0, vn;
	const uint8_t *v;
	unsigned tag;
	uint32_t nr = 0, seen = 0;
	int rc;

	memset(env, 0, sizeof(*env));
	queue_id[0] = 0;
	*received_len = 0;
	env->rcpt = rcpt;
	env->rcpt_params = rcpt_params;
	while ((rc = next_field(p, n, &pos, &tag, &v, &vn)) > 0) {
		if (tag < 32)
			seen |= 1u << tag;
		if (tag == SPOOL_ENV_RCPT) {
			if (nr < cap) {
				set_str(&rcpt[nr], v, vn);
				if (rcpt_params)
					set_str(&rcpt_params[nr], v + vn, 0);
			}
			nr++;
		} else if (tag == SPOOL_ENV_RCPT_PARAMS) {
			if (nr == 0)
				return -EINVAL;
			if (nr <= cap && rcpt_params)
				set_str(&rcpt_params[nr - 1], v, vn);
		} else if (get_scalar(env, tag, v, vn, queue_id, received_len) != 0) {
			return -EINVAL;
		}
	}
	if (rc < 0 || (seen & ENV_REQUIRED) != ENV_REQUIRED)
		return -EINVAL;
	env->nrcpt = nr;
	return 0;
}

/* --- META records (version 2) ------------------------------------------------------------ */

size_t spool_meta_size(const struct spool_commit_meta *meta)
{
	return 4 * SPOOL_ENV_FIELD_HDR + meta->verdict.n + meta->tags.n + meta->headers.n + 1;
}

void spool_meta_encode(uint8_t *p, const struct spool_commit_meta *meta)
{
	uint8_t flags = meta->quarantine ? 1 : 0;

	p = put_field(p, SPOOL_META_VERDICT, meta->verdict.p, meta->verdict.n);
	p = put_field(p, SPOOL_META_TAGS, meta->tags.p, meta->tags.n);
	p = put_field(p, SPOOL_META_HEADERS, meta->headers.p, meta->headers.n);
	put_field(p, SPOOL_META_FLAGS, &flags, 1);
}

int spool_meta_decode(const uint8_t *p, size_t n, struct spool_commit_meta *meta)
{
	size_t pos = 0, vn;
	const uint8_t *v;
	unsigned tag;
	int rc;

	memset(meta, 0, sizeof(*meta));
	while ((rc = next_field(p, n, &pos, &tag, &v, &vn)) > 0) {
		if (tag == SPOOL_META_VERDICT)
			set_str(&meta->verdict, v, vn);
		else if (tag == SPOOL_META_TAGS)
			set_str(&meta->tags, v, vn);
		else if (tag == SPOOL_META_HEADERS)
			set_str(&meta->headers, v, vn);
		else if (tag == SPOOL_META_FLAGS && vn == 1)
			meta->quarantine = v[0] & 1;
		else if (tag == SPOOL_META_FLAGS)
			return -EINVAL;
	}
	return rc < 0 ? -EINVAL : 0;
}
