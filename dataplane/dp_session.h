/* SPDX-License-Identifier: MIT */
/*
 * dp_session.h - the parts of the per-connection SMTP glue (dp_session.c) that the worker
 * core (dp_worker.c) calls; the transport-facing half is in dp_transport.h.
 *
 *   dp_sess_run(w, c)           c left the run queue: it was unblocked (a decision arrived,
 *                               output drained, receive buffers came back); continue.
 *   dp_sess_flush(w, c)         c left the send queue: hand replies to the transport, or
 *                               close once the last reply is out.
 *   dp_sess_timer(w, t)         the timer of a connection fired (dp_timer_fn).
 *   dp_sess_shutdown(w, c, f)   shutdown: end idle sessions with 421 now, busy ones after
 *                               their transaction; f = 1: end every session now; f = 2:
 *                               close the socket whatever is in flight.
 *   dp_sess_ensure_bits(cfg)    the decision bits the glue relies on (SMTP_DECIDE_RCPT).
 *   dp_sess_spool_retry(w, c)   c waited for room in the spool (EAGAIN): try again; c
 *                               queues itself again if there is still no room.
 *
 * Any of these may end in dp_sess_released() and free c: callers do not touch c afterwards.
 */
#ifndef SLUICE_DATAPLANE_DP_SESSION_H
#define SLUICE_DATAPLANE_DP_SESSION_H

struct dp_worker;
struct dp_conn;
struct dp_timer;
struct smtp_config;

void dp_sess_run(struct dp_worker *w, struct dp_conn *c);
void dp_sess_flush(struct dp_worker *w, struct dp_conn *c);
void dp_sess_timer(void *worker, struct dp_timer *t);
void dp_sess_shutdown(struct dp_worker *w, struct dp_conn *c, int force);
void dp_sess_ensure_bits(struct smtp_config *cfg);
void dp_sess_spool_retry(struct dp_worker *w, struct dp_conn *c);

#endif
