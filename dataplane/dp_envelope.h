/* SPDX-License-Identifier: MIT */
/*
 * dp_envelope.h - per-connection copies of the envelope (HELO name, reverse-path, recipients
 * with their ESMTP parameters) kept from the protocol events until the spool takes them at
 * DATA, and the one-line transaction log.
 *
 * The protocol engine's event strings point into the receive buffer and die when that input is
 * consumed; these functions copy them into the connection's envelope area (c->env, sized
 * envelope_size): strings from the front, fixed-size recipient records from the back.
 *
 * Functions: dp_env_helo, dp_env_mail, dp_env_rcpt (0, or -ENOSPC when the area is full: the
 * recipient is refused with 452 4.5.3), dp_env_build (fills a spool_envelope whose arrays live
 * in the worker's scratch space: valid until the next call), dp_env_reset (end of a
 * transaction), dp_env_log (the transaction's log line; with policy on it ends in
 * "policy=ACTION"), dp_env_last_rcpt / dp_env_rcpt_drop (the recipient just added, for a
 * policy decision on it), dp_env_log_policy (the end-of-data verdict line: action, deciding
 * rule, score and the ids of the matched rules, which the spool envelope does not carry yet).
 */
#ifndef SLUICE_DATAPLANE_DP_ENVELOPE_H
#define SLUICE_DATAPLANE_DP_ENVELOPE_H

#include <stddef.h>

struct dp_worker;
struct dp_conn;
struct smtp_event;
struct spool_envelope;

void dp_env_helo(struct dp_conn *c, const struct smtp_event *ev);
void dp_env_mail(struct dp_conn *c, const struct smtp_event *ev);
int dp_env_rcpt(struct dp_worker *w, struct dp_conn *c, const struct smtp_event *ev);
void dp_env_build(struct dp_worker *w, struct dp_conn *c, struct spool_envelope *env);
void dp_env_reset(struct dp_conn *c);
void dp_env_log(struct dp_worker *w, struct dp_conn *c, const char *queue_id, const char *verdict);
int dp_env_last_rcpt(struct dp_conn *c, const char **p, size_t *n);
void dp_env_rcpt_drop(struct dp_conn *c);
struct pol_tx;
struct pol_verdict;
void dp_env_log_policy(struct dp_worker *w, struct dp_conn *c, const struct pol_tx *tx,
                       const struct pol_verdict *v);

#endif
