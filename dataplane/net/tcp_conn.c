/* SPDX-License-Identifier: MIT */
/*
 * tcp_conn.c - the connection table and the life of a connection object: allocation from the
 * per-core pool, the keyed hash table, per-connection timers on the wheel, the flush list,
 * event delivery to the application, release.
 *
 * Internal (net_impl.h): tcp_table_init, tcp_table_free, tcp_lookup, tcp_conn_new,
 * tcp_conn_free, tcp_release, tcp_set_state, tcp_enter_time_wait, tcp_timer_set,
 * tcp_app_release, tcp_timer_clear, tcp_timers_run, tcp_flush_add, tcp_flush_run, tcp_deliver,
 * tcp_ts_now, tcp_check.
 *
 * Timers: each connection has three deadlines (t_rexmit: RTO, SYN retransmission or persist;
 * t_delack; t_misc: TIME_WAIT or FIN_WAIT_2) and one wheel node set to the earliest armed one,
 * so an idle connection costs no timer at all and arming is O(1).
 *
 * Flush list: connections with output or events pending at the end of a pass (nc->flush_head,
 * linked by fnext). A connection freed while on the list stays linked (its fnext/in_flush
 * survive reuse) and is skipped when CLOSED, so freeing never walks the list.
 *
 * Callbacks: tcp_release() and tcp_deliver() call the application, which may call tcp_*()
 * on any connection; tcp_release() frees the connection unless it stays in TIME_WAIT, so
 * callers must not touch c after tcp_release() unless they check c->state first.
 */
#include "dataplane/net/net_impl.h"

int tcp_table_init(struct net_core *nc)
{
	uint32_t n = nc->cfg.max_conns, b = 16;

	nc->conns = calloc((size_t)n + 1, sizeof(*nc->conns));
	nc->conn_free = calloc(n, sizeof(*nc->conn_free));
	while (b < n)
		b <<= 1;
	nc->hash = calloc(b, sizeof(*nc->hash));
	if (!nc->conns || !nc->conn_free || !nc->hash)
		return -ENOMEM;
	nc->hash_mask = b - 1;
	for (uint32_t i = 0; i <= n; i++)
		nc->conns[i].tn.prev = NET_TNODE_UNLINKED;
	for (uint32_t i = 0; i < n; i++)
		nc->conn_free[i] = n - i;
	nc->nfree = n;
	return net_wheel_init(&nc->wheel, nc->cfg.wheel_slots, &nc->conns[0].tn,
	                      sizeof(struct tcp_conn), 0);
}

void tcp_table_free(struct net_core *nc)
{
	net_wheel_free(&nc->wheel);
	free(nc->conns);
	free(nc->conn_free);
	free(nc->hash);
	nc->conns = NULL;
	nc->conn_free = NULL;
	nc->hash = NULL;
}

static uint32_t bucket(const struct net_core *nc, uint32_t lip, uint16_t lport, uint32_t rip,
                       uint16_t rport)
{
	uint32_t k[3] = {lip, rip, ((uint32_t)lport << 16) | rport};

	return (uint32_t)net_siphash(nc->hkey, k, sizeof(k)) & nc->hash_mask;
}

struct tcp_conn *tcp_lookup(struct net_core *nc, uint32_t lip, uint16_t lport, uint32_t rip,
                            uint16_t rport)
{
	uint32_t id = nc->hash[bucket(nc, lip, lport, rip, rport)];

	while (id) {
		struct tcp_conn *c = &nc->conns[id];

		if (c->rport == rport && c->rip == rip && c->lport == lport && c->lip == lip)
			return c;
		id = c->hnext;
	}
	return NULL;
}

struct tcp_conn *tcp_conn_new(struct net_core *nc, uint32_t lip, uint16_t lport, uint32_t rip,
                              uint16_t rport)
{
	struct tcp_conn *c;
	uint32_t id, b, fnext;
	uint8_t in_flush;

	if (!nc->nfree) {
		nc->cnt.tcp_conn_full++;
		return NULL;
	}
	id = nc->conn_free[--nc->nfree];
	c = &nc->conns[id];
	fnext = c->fnext;
	in_flush = c->in_flush;
	memset(c, 0, sizeof(*c));
	c->fnext = fnext;
	c->in_flush = in_flush;
	c->tn.prev = NET_TNODE_UNLINKED;
	c->lip = lip;
	c->lport = lport;
	c->rip = rip;
	c->rport = rport;
	b = bucket(nc, lip, lport, rip, rport);
	c->hnext = nc->hash[b];
	nc->hash[b] = id;
	nc->nconns++;
	return c;
}

void tcp_conn_free(struct net_core *nc, struct tcp_conn *c)
{
	uint32_t id = tcp_cid(nc, c);
	uint32_t *pp = &nc->hash[bucket(nc, c->lip, c->lport, c->rip, c->rport)];

	if (c->state == TCP_CLOSED)
		NET_PANIC("double free of connection %u", id);
	while (*pp && *pp != id)
		pp = &nc->conns[*pp].hnext;
	if (*pp != id)
		NET_PANIC("connection %u not in its bucket", id);
	*pp = c->hnext;
	tcp_set_state(nc, c, TCP_CLOSED);
	net_wheel_cancel(&nc->wheel, id);
	tcp_rx_drop_all(nc, c);
	if (c->txb)
		net_pool_put(&nc->txpool, c->txb);
	c->txb = 0;
	c->flags = 0;
	nc->conn_free[nc->nfree++] = id;
	nc->nconns--;
}

void tcp_set_state(struct net_core *nc, struct tcp_conn *c, uint8_t st)
{
	if (c->listener && c->state == TCP_SYN_RCVD)
		nc->lst[c->listener - 1].syn_rcvd--;
	if (c->listener && st == TCP_SYN_RCVD)
		nc->lst[c->listener - 1].syn_rcvd++;
	c->state = st;
}

/* Give the handle back to the application (once). */
void tcp_app_release(struct net_core *nc, struct tcp_conn *c, int reason)
{
	if (!(c->flags & TF_APP))
		return;
	c->flags &= ~TF_APP;
	nc->cnt.tcp_closed++;
	nc->ops->closed(nc->app, c, reason); /* may call tcp_*() on other connections */
}

void tcp_release(struct net_core *nc, struct tcp_conn *c, int reason)
{
	tcp_app_release(nc, c, reason);
	if (c->state != TCP_TIME_WAIT && c->state != TCP_CLOSED)
		tcp_conn_free(nc, c);
}

static bool rx_pending(const struct net_core *nc, const struct tcp_conn *c)
{
	const struct tcp_rxbuf *rb = tcp_rxbuf(nc, c);

	return rb && rb->tail > rb->head && !(c->flags & TF_RX_SHUT);
}

/*
 * TIME_WAIT keeps the tuple, no buffers and no application, except that an application that
 * only shut down its side keeps its handle (and the bytes it has not consumed yet) until it
 * consumes them or calls tcp_close(); flush_one() then gives the handle back.
 */
void tcp_enter_time_wait(struct net_core *nc, struct tcp_conn *c)
{
	tcp_set_state(nc, c, TCP_TIME_WAIT);
	tcp_timer_clear(nc, c, TF_T_REXMIT | TF_T_DELACK);
	c->flags &= ~(TF_PERSIST | TF_RECOVERY | TF_RTT | TF_RECV_DUE | TF_EOF_DUE);
	if (c->txb)
		net_pool_put(&nc->txpool, c->txb);
	c->txb = 0;
	tcp_timer_set(nc, c, TF_T_MISC, nc->cfg.time_wait_ms);
	if ((c->flags & TF_APP) && rx_pending(nc, c))
		return;
	tcp_rx_drop_all(nc, c);
	tcp_app_release(nc, c, 0);
}

/* The sender's sequence invariants (checked after every segment and output in debug builds). */
void tcp_check(const struct net_core *nc, const struct tcp_conn *c)
{
	(void)nc;
	if (c->state == TCP_CLOSED || c->state == TCP_LISTEN)
		return;
	NET_ASSERT_HOT(SEQ_LEQ(c->snd_una, c->snd_nxt));
	NET_ASSERT_HOT(SEQ_LEQ(c->snd_nxt, c->snd_max));
	NET_ASSERT_HOT(!tcp_synced(c) || c->state == TCP_TIME_WAIT ||
	               c->snd_max - c->snd_una <= tcp_txlen(nc, c) + !!(c->flags & TF_FIN_Q));
	NET_ASSERT_HOT(tcp_txlen(nc, c) <= nc->cfg.tx_buf_size);
}

uint32_t tcp_ts_now(const struct net_core *nc, const struct tcp_conn *c)
{
	return nc->now_ms + c->ts_off;
}

/* ---- timers ---- */

static void timer_update(struct net_core *nc, struct tcp_conn *c)
{
	uint32_t id = tcp_cid(nc, c), due = 0;
	bool any = false;
	const struct {
		uint32_t flag;
		uint32_t at;
	} t[3] = {{TF_T_REXMIT, c->t_rexmit}, {TF_T_DELACK, c->t_delack}, {TF_T_MISC, c->t_misc}};

	for (int i = 0; i < 3; i++) {
		if (!(c->flags & t[i].flag))
			continue;
		if (!any || SEQ_LT(t[i].at, due))
			due = t[i].at;
		any = true;
	}
	if (!any)
		net_wheel_cancel(&nc->wheel, id);
	else if (!net_wheel_linked(&c->tn) || c->tn.expire != due)
		net_wheel_insert(&nc->wheel, id, due);
}

void tcp_timer_set(struct net_core *nc, struct tcp_conn *c, uint32_t which, uint32_t ms)
{
	uint32_t at = nc->now_ms + (ms ? ms : 1);

	if (which & TF_T_REXMIT)
		c->t_rexmit = at;
	if (which & TF_T_DELACK)
		c->t_delack = at;
	if (which & TF_T_MISC)
		c->t_misc = at;
	c->flags |= which;
	timer_update(nc, c);
}

void tcp_timer_clear(struct net_core *nc, struct tcp_conn *c, uint32_t which)
{
	c->flags &= ~which;
	timer_update(nc, c);
}

static bool due(const struct net_core *nc, const struct tcp_conn *c, uint32_t flag, uint32_t at)
{
	return (c->flags & flag) && TIME_GEQ(nc->now_ms, at);
}

static void misc_expired(struct net_core *nc, struct tcp_conn *c)
{
	if (c->state == TCP_TIME_WAIT) {
		tcp_app_release(nc, c, 0); /* a half-closed application that never read the rest */
		if (c->state == TCP_TIME_WAIT)
			tcp_conn_free(nc, c);
	} else if (c->state == TCP_FIN_WAIT_2) {
		nc->cnt.tcp_timeouts++;
		tcp_release(nc, c, 0);
	}
}

static void timer_fire(void *arg, uint32_t id)
{
	struct net_core *nc = arg;
	struct tcp_conn *c = &nc->conns[id];

	if (due(nc, c, TF_T_DELACK, c->t_delack)) {
		c->flags &= ~TF_T_DELACK;
		c->flags |= TF_ACKNOW;
		tcp_flush_add(nc, c);
	}
	if (due(nc, c, TF_T_MISC, c->t_misc)) {
		c->flags &= ~TF_T_MISC;
		misc_expired(nc, c);
		if (c->state == TCP_CLOSED)
			return;
	}
	if (due(nc, c, TF_T_REXMIT, c->t_rexmit)) {
		c->flags &= ~TF_T_REXMIT;
		if (c->flags & TF_PERSIST)
			tcp_persist_expired(nc, c);
		else
			tcp_rto_expired(nc, c);
		if (c->state == TCP_CLOSED)
			return;
	}
	timer_update(nc, c);
}

void tcp_timers_run(struct net_core *nc)
{
	net_wheel_advance(&nc->wheel, nc->now_ms, timer_fire, nc);
}

/* ---- flush list and delivery ---- */

void tcp_flush_add(struct net_core *nc, struct tcp_conn *c)
{
	uint32_t id = tcp_cid(nc, c);

	if (c->in_flush)
		return;
	c->in_flush = 1;
	c->fnext = 0;
	if (nc->flush_tail)
		nc->conns[nc->flush_tail].fnext = id;
	else
		nc->flush_head = id;
	nc->flush_tail = id;
}

/* Offer received bytes, then end-of-file, then writability, to the application. */
void tcp_deliver(struct net_core *nc, struct tcp_conn *c)
{
	if ((c->flags & TF_RECV_DUE) && (c->flags & TF_APP) && !(c->flags & TF_RX_SHUT)) {
		const struct tcp_rxbuf *rb = tcp_rxbuf(nc, c);

		c->flags &= ~TF_RECV_DUE;
		if (rb && rb->tail > rb->head) {
			size_t len = rb->tail - rb->head;
			size_t n = nc->ops->recv(nc->app, c, rb->data + rb->head, len);

			/* the callback may have closed or aborted c: then its data is gone */
			if (c->state != TCP_CLOSED && !(c->flags & TF_RX_SHUT)) {
				if (n)
					tcp_rx_consume(nc, c, (uint32_t)(n < len ? n : len));
				else
					tcp_rx_shrink(nc, c);
			}
		}
	}
	c->flags &= ~TF_RECV_DUE;
	if ((c->flags & TF_EOF_DUE) && (c->flags & TF_APP) && !(c->flags & TF_RX_SHUT) &&
	    !(c->flags & TF_RELEASE)) {
		c->flags &= ~TF_EOF_DUE;
		if (nc->ops->eof)
			nc->ops->eof(nc->app, c);
	}
	if ((c->flags & TF_WANT_WRITE) && (c->flags & TF_APP) && !(c->flags & TF_WRITE_SHUT) &&
	    !(c->flags & TF_RELEASE) && tcp_send_space(nc, c) > 0) {
		c->flags &= ~TF_WANT_WRITE;
		if (nc->ops->writable)
			nc->ops->writable(nc->app, c);
	}
}

static void flush_one(struct net_core *nc, struct tcp_conn *c)
{
	if (c->flags & TF_RELEASE) {
		if (c->flags & TF_SEND_RST)
			tcp_send_rst(nc, c);
		tcp_release(nc, c, -ECONNABORTED);
		return;
	}
	if (c->state == TCP_FIN_WAIT_2 && (c->flags & TF_RX_SHUT) && (c->flags & TF_APP)) {
		/* closed after a shutdown whose FIN is already acknowledged */
		tcp_timer_set(nc, c, TF_T_MISC, nc->cfg.fin_wait2_ms);
		tcp_app_release(nc, c, 0);
	}
	if (c->state == TCP_TIME_WAIT && (c->flags & TF_APP) && !rx_pending(nc, c)) {
		/* the half-closed application consumed the rest, or closed */
		tcp_rx_drop_all(nc, c);
		tcp_app_release(nc, c, 0);
		return;
	}
	tcp_deliver(nc, c);
	if (c->state != TCP_CLOSED && !(c->flags & TF_RELEASE))
		tcp_output(nc, c);
}

void tcp_flush_run(struct net_core *nc)
{
	/* two rounds: events raised by callbacks of the first round go out in this pass too */
	for (int round = 0; round < 2 && nc->flush_head; round++) {
		uint32_t last = nc->flush_tail;

		for (;;) {
			uint32_t id = nc->flush_head;
			struct tcp_conn *c;

			if (!id)
				break;
			c = &nc->conns[id];
			nc->flush_head = c->fnext;
			if (!nc->flush_head)
				nc->flush_tail = 0;
			c->in_flush = 0;
			c->fnext = 0;
			if (c->state != TCP_CLOSED)
				flush_one(nc, c);
			if (id == last)
				break;
		}
	}
}
