/* SPDX-License-Identifier: MIT */
/*
 * format.h - the on-disk format of spool segments (docs/SPOOL-FORMAT.md, version 2; version 1
 * segments are still read).
 *
 * A segment is a sequence of records. Each record is a 16-byte header followed by its payload:
 *
 *	0  u32 crc	CRC32C of the payload followed by header bytes 4..15
 *	4  u8  type	enum spool_rec_type
 *	5  u8  flags	0
 *	6  u16 zero	0
 *	8  u32 len	payload octets, at most SPOOL_REC_MAX
 *	12 u32 key	message key (unique per writer epoch); 0 for segment records
 *
 * All integers little-endian. The CRC covers the payload first so that a data record can grow
 * in place while its header is rewritten. No byte of a payload is interpreted as a separator:
 * every field is length-prefixed, so no content can forge a record.
 *
 * Public helpers (format.c): record header encode/decode and CRC, segment header, envelope
 * encode/size/decode, commit marker, META (commit-time metadata) encode/size/decode. Decoders
 * never allocate and never read past their input; they return 0 or -EINVAL (malformed).
 */
#ifndef SLUICE_SPOOL_FORMAT_H
#define SLUICE_SPOOL_FORMAT_H

#include <stddef.h>
#include <stdint.h>

#include "spool/spool.h"

#define SPOOL_FORMAT_VERSION 2 /* written; version 1 segments are still read */
#define SPOOL_FORMAT_MIN     1
#define SPOOL_REC_HDR        16
#define SPOOL_REC_MAX        (16u << 20)
#define SPOOL_SEG_MAGIC      "SLUICESP"
#define SPOOL_SEG_HDR_LEN    40 /* payload of SPOOL_REC_SEGMENT */
#define SPOOL_COMMIT_LEN     16 /* payload of SPOOL_REC_COMMIT */

enum spool_rec_type {
	SPOOL_REC_SEGMENT = 1, /* first record of every segment */
	SPOOL_REC_BEGIN = 2,   /* envelope of a message */
	SPOOL_REC_DATA = 3,    /* next octets of a message */
	SPOOL_REC_COMMIT = 4,  /* total length and CRC32C of the message: it is complete */
	SPOOL_REC_ABORT = 5,   /* the message will never be committed */
	SPOOL_REC_META = 6,    /* version 2: commit-time verdict, tags, added headers, flags */
	SPOOL_REC_TYPE_MAX = 6,
};

/* Envelope fields inside a BEGIN record: u16 tag, u32 length, value. Unknown tags are skipped. */
enum spool_env_tag {
	SPOOL_ENV_QUEUE_ID = 1,
	SPOOL_ENV_RECV_TIME = 2, /* u64 microseconds since the epoch */
	SPOOL_ENV_CLIENT = 3,    /* u8 family (4, 6, 0), u8 0, u16 port, 4 or 16 address octets */
	SPOOL_ENV_CLIENT_NAME = 4,
	SPOOL_ENV_HELO = 5,
	SPOOL_ENV_FLAGS = 6, /* u8: bit 0 EHLO, bit 1 TLS */
	SPOOL_ENV_MAIL_FROM = 7,
	SPOOL_ENV_MAIL_PARAMS = 8,
	SPOOL_ENV_RCPT = 9,
	SPOOL_ENV_RCPT_PARAMS = 10, /* parameters of the RCPT just before */
	SPOOL_ENV_VERDICT = 11,
	SPOOL_ENV_TAGS = 12,
	SPOOL_ENV_RECEIVED_LEN =
	    13, /* u32: octets of the Received: field the message starts with */
};
#define SPOOL_ENV_FIELD_HDR 6

/* Fields of a META record (same framing as the envelope); verdict and tags reuse 11 and 12. */
enum spool_meta_tag {
	SPOOL_META_VERDICT = 11,
	SPOOL_META_TAGS = 12,
	SPOOL_META_HEADERS = 14, /* CRLF-ended header lines placed after the Received: field */
	SPOOL_META_FLAGS = 15,   /* u8: bit 0 quarantine */
};
#define SPOOL_META_MAX (64u << 10) /* largest META payload */

/* META payload: its size, its encoding, and its decoding (strings point into p). */
size_t spool_meta_size(const struct spool_commit_meta *meta);
void spool_meta_encode(uint8_t *p, const struct spool_commit_meta *meta);
int spool_meta_decode(const uint8_t *p, size_t n, struct spool_commit_meta *meta);

struct spool_rec_hdr {
	uint32_t crc;
	uint8_t type;
	uint8_t flags;
	uint16_t zero;
	uint32_t len;
	uint32_t key;
};

struct spool_seg_hdr {
	uint32_t version;
	uint32_t core;
	uint64_t seq;
	uint64_t epoch_us; /* the writer's epoch: unique per core and start */
	uint64_t created_us;
};

static inline void spool_put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
}

static inline void spool_put32(uint8_t *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static inline void spool_put64(uint8_t *p, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static inline uint16_t spool_get16(const uint8_t *p)
{
	return (uint16_t)(p[0] | (p[1] << 8));
}

static inline uint32_t spool_get32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static inline uint64_t spool_get64(const uint8_t *p)
{
	return (uint64_t)spool_get32(p) | (uint64_t)spool_get32(p + 4) << 32;
}

/* Writes a complete header at h (payload already at h + 16) and returns the record length. */
size_t spool_rec_seal(uint8_t *h, unsigned type, uint32_t key, uint32_t len);
/* Header CRC given the CRC of the payload (for records that grow in place). */
uint32_t spool_rec_crc(const uint8_t *h, uint32_t payload_crc);
/* Decodes and checks the fixed fields (not the CRC). */
int spool_rec_hdr_decode(const uint8_t *h, struct spool_rec_hdr *out);
/* Checks the CRC of a record whose payload follows h. */
int spool_rec_check(const uint8_t *h, const struct spool_rec_hdr *hdr);

void spool_seg_hdr_encode(uint8_t *p, const struct spool_seg_hdr *sh);
int spool_seg_hdr_decode(const uint8_t *p, size_t n, struct spool_seg_hdr *sh);

void spool_commit_encode(uint8_t *p, uint64_t size, uint32_t crc);
int spool_commit_decode(const uint8_t *p, size_t n, uint64_t *size, uint32_t *crc);

/* Envelope payload: its size, and its encoding into exactly that many octets. */
size_t spool_env_size(const struct spool_envelope *env, const char *queue_id,
                      uint32_t received_len);
void spool_env_encode(uint8_t *p, const struct spool_envelope *env, const char *queue_id,
                      uint32_t received_len);

/*
 * Decodes a BEGIN payload. Strings in env point into p. Recipients go to rcpt[] and
 * rcpt_params[] (capacity cap); env->nrcpt gets the real count, which may exceed cap (call
 * spool_env_count_rcpt() first to size the arrays). queue_id gets a NUL-ended copy.
 */
int spool_env_decode(const uint8_t *p, size_t n, struct spool_envelope *env, struct spool_str *rcpt,
                     struct spool_str *rcpt_params, uint32_t cap, char queue_id[SPOOL_QUEUE_ID_MAX],
                     uint32_t *received_len);
int spool_env_count_rcpt(const uint8_t *p, size_t n, uint32_t *nrcpt);

/* received.c: the trace field and queue ids. */
#define SPOOL_RECEIVED_MAX 4096
/* Writes the Received: field (CRLF-ended, folded) into out; returns its length (< cap). */
size_t spool_received(char *out, size_t cap, const struct spool_envelope *env, const char *hostname,
                      const char *queue_id);
/* RFC 5322 date-time in UTC ("Tue, 3 Nov 2026 12:00:00 +0000"); returns its length. */
size_t spool_rfc5322_date(char *out, size_t cap, uint64_t time_us);
/* RFC 3339 UTC ("2026-11-03T12:00:00.123456Z"); returns its length. */
size_t spool_rfc3339(char *out, size_t cap, uint64_t time_us);
/* Queue id from the writer epoch, core and counter: 20 characters of [0-9A-Z] minus ILOU. */
void spool_queue_id(char out[SPOOL_QUEUE_ID_MAX], uint64_t epoch_us, unsigned core,
                    uint64_t counter);
/* "1.2.3.4" or "IPv6:..." (for the trace field) or plain "::1"; "unknown" for AF_UNSPEC. */
size_t spool_addr_str(char *out, size_t cap, const struct sockaddr_storage *ss, int literal);
unsigned spool_addr_port(const struct sockaddr_storage *ss);

#endif
