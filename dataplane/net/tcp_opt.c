/* SPDX-License-Identifier: MIT */
/*
 * tcp_opt.c - TCP options: parse received options, write the options of our segments.
 *
 * Internal (net_impl.h): tcp_opts_parse, tcp_opts_syn, tcp_opts_len, tcp_opts_write,
 * tcp_mss_clamp.
 *
 * Parsing never reads past the option area and always advances: EOL ends it, NOP is one byte,
 * every other option needs a length byte inside the area with 2 <= length <= bytes left. A
 * length of 0 or 1, or one that runs past the end, makes the whole segment malformed
 * (-EINVAL: the caller drops and counts it; RFC 9293 3.1 asks to be prepared for these).
 * Options with the right kind but the wrong length are ignored, as are unknown kinds. MSS,
 * window scale and SACK-permitted count only on SYN segments (RFC 7323 2.2, RFC 2018).
 *
 * Written: MSS, SACK-permitted, timestamps and window scale on SYNs (at most 20 bytes);
 * timestamps and up to 3 (4 without timestamps) SACK blocks on other segments.
 */
#include "dataplane/net/net_impl.h"

enum {
	OPT_EOL = 0,
	OPT_NOP = 1,
	OPT_MSS = 2,
	OPT_WS = 3,
	OPT_SACKOK = 4,
	OPT_SACK = 5,
	OPT_TS = 8
};

int tcp_opts_parse(const uint8_t *p, uint32_t len, bool syn, struct tcp_opts *o)
{
	uint32_t i = 0;

	memset(o, 0, sizeof(*o));
	while (i < len) {
		uint8_t kind = p[i], olen;

		if (kind == OPT_EOL)
			break;
		if (kind == OPT_NOP) {
			i++;
			continue;
		}
		if (len - i < 2)
			return -EINVAL;
		olen = p[i + 1];
		if (olen < 2 || olen > len - i)
			return -EINVAL;
		if (kind == OPT_MSS && olen == 4 && syn) {
			o->has |= TO_MSS;
			o->mss = net_rd16(p + i + 2);
		} else if (kind == OPT_WS && olen == 3 && syn) {
			o->has |= TO_WS;
			o->wscale = p[i + 2] > TCP_WSCALE_MAX ? TCP_WSCALE_MAX : p[i + 2];
		} else if (kind == OPT_SACKOK && olen == 2 && syn) {
			o->has |= TO_SACKOK;
		} else if (kind == OPT_SACK && olen >= 10 && (olen - 2) % 8 == 0) {
			o->has |= TO_SACK; /* blocks are not used by our sender (NewReno) */
		} else if (kind == OPT_TS && olen == 10) {
			o->has |= TO_TS;
			o->tsval = net_rd32(p + i + 2);
			o->tsecr = net_rd32(p + i + 6);
		}
		i += olen;
	}
	return 0;
}

uint16_t tcp_mss_clamp(const struct tcp_opts *o)
{
	if (!(o->has & TO_MSS))
		return TCP_MSS_DEFAULT;
	return o->mss < TCP_MSS_FLOOR ? TCP_MSS_FLOOR : o->mss;
}

static uint8_t *put_ts(uint8_t *p, uint32_t tsval, uint32_t tsecr)
{
	p[0] = OPT_TS;
	p[1] = 10;
	net_wr32(p + 2, tsval);
	net_wr32(p + 6, tsecr);
	return p + 10;
}

/* SYN / SYN-ACK options; wscale < 0 leaves window scaling out. Returns the length (<= 20). */
uint32_t tcp_opts_syn(uint8_t *p, uint16_t mss, int wscale, bool sack, bool ts, uint32_t tsval,
                      uint32_t tsecr)
{
	uint8_t *q = p;

	*q++ = OPT_MSS;
	*q++ = 4;
	net_wr16(q, mss);
	q += 2;
	if (ts) {
		if (sack) {
			*q++ = OPT_SACKOK;
			*q++ = 2;
		} else {
			*q++ = OPT_NOP;
			*q++ = OPT_NOP;
		}
		q = put_ts(q, tsval, tsecr);
	} else if (sack) {
		*q++ = OPT_NOP;
		*q++ = OPT_NOP;
		*q++ = OPT_SACKOK;
		*q++ = 2;
	}
	if (wscale >= 0) {
		*q++ = OPT_NOP;
		*q++ = OPT_WS;
		*q++ = 3;
		*q++ = (uint8_t)wscale;
	}
	return (uint32_t)(q - p);
}

static uint32_t sack_room(const struct tcp_conn *c)
{
	return (c->flags & TF_TS) ? 3 : 4;
}

uint32_t tcp_opts_len(const struct net_core *nc, const struct tcp_conn *c, bool with_sack)
{
	uint32_t n = (c->flags & TF_TS) ? 12 : 0;

	if (with_sack && (c->flags & TF_SACK)) {
		uint32_t blk[8];
		uint32_t nb = tcp_sack_blocks(nc, c, blk, sack_room(c));

		if (nb)
			n += 4 + 8 * nb;
	}
	return n;
}

uint32_t tcp_opts_write(const struct net_core *nc, const struct tcp_conn *c, uint8_t *p,
                        bool with_sack)
{
	uint8_t *q = p;

	if (c->flags & TF_TS) {
		*q++ = OPT_NOP;
		*q++ = OPT_NOP;
		q = put_ts(q, tcp_ts_now(nc, c), c->ts_recent);
	}
	if (with_sack && (c->flags & TF_SACK)) {
		uint32_t blk[8];
		uint32_t nb = tcp_sack_blocks(nc, c, blk, sack_room(c));

		if (nb) {
			*q++ = OPT_NOP;
			*q++ = OPT_NOP;
			*q++ = OPT_SACK;
			*q++ = (uint8_t)(2 + 8 * nb);
			for (uint32_t i = 0; i < nb; i++) {
				net_wr32(q, blk[2 * i]);
				net_wr32(q + 4, blk[2 * i + 1]);
				q += 8;
			}
		}
	}
	return (uint32_t)(q - p);
}
