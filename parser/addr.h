/* SPDX-License-Identifier: MIT */
/*
 * addr.h - RFC 5321 path syntax (4.1.2), private to the protocol engine.
 *
 * smtp_path_parse() reads "<...>" at the start of a buffer: the null path "<>" (when allowed),
 * an optional source route (accepted and dropped), a local part (dot-string or quoted-string)
 * and a domain or address literal ([IPv4] or [IPv6:...], both validated), or "<Postmaster>"
 * (any case, when allowed). Non-ASCII octets are accepted where RFC 6531 allows UTF-8 (atext,
 * qtext, domain labels) when the whole path is well-formed UTF-8; out->utf8 tells the caller,
 * which refuses them without the SMTPUTF8 parameter. Limits (RFC 5321 4.5.3.1): local part 64
 * octets, domain 255, path 256 including the angle brackets and the source route.
 *
 * Returns 0 or a negative enum smtp_path_err. Never reads outside p[0 .. n).
 */
#ifndef SLUICE_PARSER_ADDR_H
#define SLUICE_PARSER_ADDR_H

#include <stddef.h>
#include <stdint.h>

#define SMTP_LOCAL_MAX  64
#define SMTP_DOMAIN_MAX 255
#define SMTP_PATH_MAX   256

enum smtp_path_flag {
	SMTP_PATH_NULL_OK = 1u << 0,       /* "<>" allowed (reverse-path) */
	SMTP_PATH_POSTMASTER_OK = 1u << 1, /* "<Postmaster>" allowed (forward-path) */
};

enum smtp_path_err {
	SMTP_PATH_OK = 0,
	SMTP_PATH_SYNTAX = -1,
	SMTP_PATH_TOO_LONG = -2,
	SMTP_PATH_BAD_UTF8 = -3,
	SMTP_PATH_NULL = -4, /* "<>" where it is not allowed */
};

struct smtp_path {
	const char *mbox; /* mailbox without brackets and source route; "" for "<>" */
	size_t mbox_len;
	size_t used; /* octets consumed, through the closing '>' */
	uint8_t is_null;
	uint8_t postmaster;
	uint8_t utf8; /* contains non-ASCII octets (well-formed UTF-8) */
};

int smtp_path_parse(const char *p, size_t n, unsigned flags, struct smtp_path *out);

/* Length of the domain at the start of p (0 if none); labels of letters, digits, hyphens. */
size_t smtp_domain_span(const char *p, size_t n);

/* 1 if p[0 .. n) is the inside of an address literal (without the brackets) we accept. */
int smtp_addr_literal_valid(const char *p, size_t n);

/* 1 if p[0 .. n) is well-formed UTF-8 (RFC 3629: no overlongs, surrogates, > U+10FFFF). */
int smtp_utf8_valid(const char *p, size_t n);

#endif
