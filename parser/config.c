/* SPDX-License-Identifier: MIT */
/*
 * config.c - defaults of struct smtp_config (the engine's configuration, smtp.h).
 *
 * Defaults and why:
 *   hostname          "localhost"   the embedder sets the real name
 *   caps              all           PIPELINING SIZE 8BITMIME CHUNKING BINARYMIME SMTPUTF8
 *                                   ENHANCEDSTATUSCODES
 *   decide            none          HELO/MAIL/RCPT answered by the engine; END always waits
 *   max_message_size  50 MiB        octets after unstuffing; advertised as SIZE
 *   max_recipients    100           RFC 5321 4.5.3.1.8 minimum; then 452 4.5.3
 *   max_errors        20            counted error replies, then 421 4.7.0 and close
 *   max_line          2048          command line incl. CRLF (RFC minimum 512; extensions such
 *                                   as SIZE and SMTPUTF8 lengthen MAIL lines)
 *   max_text_line     0             no limit on DATA lines: real mail has lines over 1000
 *                                   octets and refusing it helps nobody; set 1000 to refuse
 *                                   such messages with 550 5.6.0 after reading them
 *   vrfy_code         252           RFC 5321 7.3: answer without disclosing
 *   expn_code         502           lists are not expanded
 *   bare_newline      reject        a message with bare CR or LF gets 550 5.5.2
 *
 * Public function: smtp_config_defaults(). It cannot fail.
 */
#include <string.h>

#include "parser/smtp.h"

void smtp_config_defaults(struct smtp_config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	memcpy(cfg->hostname, "localhost", sizeof("localhost"));
	cfg->caps = SMTP_CAP_ALL;
	cfg->decide = 0;
	cfg->max_message_size = 50u * 1024 * 1024;
	cfg->max_recipients = 100;
	cfg->max_errors = 20;
	cfg->max_line = 2048;
	cfg->max_text_line = 0;
	cfg->vrfy_code = 252;
	cfg->expn_code = 502;
	cfg->bare_newline = SMTP_BARE_REJECT;
}
