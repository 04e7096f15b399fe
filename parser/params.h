/* SPDX-License-Identifier: MIT */
/*
 * params.h - ESMTP parameters of MAIL and RCPT (RFC 5321 4.1.2 Mail-parameters), private to
 * the protocol engine.
 *
 * Both functions take the text after the path (either empty or starting with a space) and
 * return SMTP_R_NONE, or the canned reply to send: SMTP_R_PARAM_SYNTAX (501) for malformed
 * text, a duplicate, or a bad value; SMTP_R_PARAM_UNKNOWN (555) for a parameter that is not
 * recognised or whose extension is not advertised (cfg.caps). SIZE is parsed without overflow:
 * 1 to 20 digits, saturating at UINT64_MAX; comparing it with the limit is the caller's job.
 */
#ifndef SLUICE_PARSER_PARAMS_H
#define SLUICE_PARSER_PARAMS_H

#include <stddef.h>
#include <stdint.h>

#include "parser/session-int.h"

struct smtp_mail_params {
	uint64_t size; /* SIZE=, 0 if absent */
	uint8_t body;  /* enum smtp_body_type, SMTP_BODY_NONE if absent */
	uint8_t utf8;  /* SMTPUTF8 given */
	uint8_t has_size;
};

enum smtp_rid smtp_mail_params(const char *p, size_t n, uint32_t caps,
                               struct smtp_mail_params *out);
enum smtp_rid smtp_rcpt_params(const char *p, size_t n, uint32_t caps);

/* Decimal digits, 1 to 20, saturating. Returns the digits read (0 = none or too many). */
size_t smtp_parse_u64(const char *p, size_t n, uint64_t *v);

#endif
