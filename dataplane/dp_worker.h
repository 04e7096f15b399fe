/* SPDX-License-Identifier: MIT */
/*
 * dp_worker.h - the per-core context (struct dp_worker), the connection slot (struct dp_conn)
 * and the per-core counters. One worker per core, shared-nothing: everything a worker touches
 * in its loop is reached from its own struct dp_worker, passed as the first argument.
 *
 * Public functions (dp_worker.c):
 *   dp_worker_init / dp_worker_fini   allocate and free the per-core pools (from config);
 *   dp_worker_setup                   on the worker thread: ring, spool writer, transport;
 *   dp_conn_alloc / dp_conn_free      connection slots from the pool;
 *   dp_worker_runq_push, dp_worker_txq_push, dp_worker_run_queue, dp_worker_flush;
 *   dp_worker_clock                   read the clock (once per loop pass);
 *   dp_worker_tick                    timers, control requests, shutdown progress;
 *   dp_worker_wait_ms                 how long the loop may sleep;
 *   dp_worker_done                    shutdown finished.
 *
 * Ownership: the worker owns its pools, its ring, its spool writer and its counters; the
 * metrics thread only reads counters (relaxed atomic loads). The main thread talks to a
 * worker only through dp_worker_request() (an atomic word plus an eventfd).
 */
#ifndef SLUICE_DATAPLANE_DP_WORKER_H
#define SLUICE_DATAPLANE_DP_WORKER_H

#include <liburing.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdint.h>

#include "dataplane/dp_config.h"
#include "dataplane/dp_limit.h"
#include "dataplane/dp_log.h"
#include "dataplane/dp_timer.h"
#include "dataplane/dp_transport.h"
#include "parser/smtp.h"
#include "policy/policy.h"
#include "spool/spool.h"

#define DP_CACHELINE 64
#define DP_EVENTS    32  /* protocol events per smtp_input() call */
#define DP_CQE_BATCH 256 /* completions drained per loop pass */
#define DP_RUN_BATCH 256 /* unblocked connections processed per loop pass */
#define DP_TIMER_MS  100 /* timer wheel tick */

/*
 * user_data of our SQEs: a pointer (8-byte aligned) or a payload, with the kind in the low 3
 * bits. Kind 1 is SPOOL_UD_TAG and is never used here.
 */
enum dp_ud {
	DP_UD_MISC = 0,   /* payload << 8 | sub << 3: see enum dp_ud_misc */
	DP_UD_ACCEPT = 2, /* struct dp_listener * */
	DP_UD_RECV = 3,   /* struct dp_conn * */
	DP_UD_SEND = 4,   /* struct dp_conn * */
	DP_UD_CLOSE = 5,  /* struct dp_conn * */
	DP_UD_CTL = 6,    /* struct dp_worker * */
	DP_UD_LOG = 7,    /* struct dp_log * */
};
enum dp_ud_misc { DP_MISC_IGNORE = 0, DP_MISC_REJECT = 1 };
#define DP_UD(ptr, kind) ((uint64_t)(uintptr_t)(ptr) | (uint64_t)(kind))
#define DP_UD_KIND(ud)   ((unsigned)((ud)&7u))
#define DP_UD_PTR(ud)    ((void *)(uintptr_t)((ud) & ~7ull))

enum dp_conn_flag {
	DP_C_OPEN = 1u << 0,           /* slot in use */
	DP_C_WANT_READ = 1u << 1,      /* glue wants input */
	DP_C_RECV = 1u << 2,           /* transport: receive armed */
	DP_C_RECV_CANCEL = 1u << 3,    /* transport: cancel of the receive in flight */
	DP_C_SENDING = 1u << 4,        /* transport: a send in flight */
	DP_C_FLUSH = 1u << 5,          /* replies must go out (engine's io.flush) */
	DP_C_COMMIT = 1u << 6,         /* spool commit in flight: slot outlives the socket */
	DP_C_CLOSING = 1u << 7,        /* ending: no more input processed */
	DP_C_CLOSED = 1u << 8,         /* transport released the socket */
	DP_C_RUNQ = 1u << 9,           /* on the run queue */
	DP_C_TXQ = 1u << 10,           /* on the send queue */
	DP_C_DRAIN = 1u << 11,         /* shutdown: end after the current transaction */
	DP_C_EOF = 1u << 12,           /* peer closed its side */
	DP_C_TX_SKIP = 1u << 13,       /* transaction failed before END: answer with tx_code */
	DP_C_TXN = 1u << 14,           /* MAIL seen: a transaction is open (for the log) */
	DP_C_TP_CLOSE = 1u << 15,      /* transport close() called */
	DP_C_SPOOL_WAIT = 1u << 16,    /* on the spool wait queue: the spool said EAGAIN */
	DP_C_BEGIN_PENDING = 1u << 17, /* spool_msg_begin() to retry */
	DP_C_END_PENDING = 1u << 18,   /* end of message seen while body bytes wait in spill */
	DP_C_POL_DONE = 1u << 19,      /* pol_tx_data() said the rest cannot change the verdict */
};

/* One received-and-accepted recipient, stored from the end of the envelope area down. */
struct dp_rcpt_rec {
	uint32_t off, len, poff, plen;
};

struct dp_conn {
	struct smtp_session smtp;
	struct dp_worker *w;
	uint32_t flags; /* enum dp_conn_flag */
	uint32_t idx;
	int fd;
	uint32_t refs; /* transport operations in flight */
	/* input not yet consumed by the engine */
	char *rx;
	uint32_t rx_len, rx_cap;
	/* replies: [tx_off, tx_flight) in flight, [tx_flight, tx_len) queued */
	char *tx;
	uint32_t tx_off, tx_flight, tx_len, tx_cap;
	/* body bytes the spool could not take yet (EAGAIN), in order */
	char *spill;
	uint32_t spill_len, spill_cap;
	/* envelope copies: strings grow up from env[0], recipient records down from the end */
	char *env;
	uint32_t env_cap, env_used, env_tx; /* env_tx: start of the transaction's strings */
	uint32_t nrcpt;
	uint32_t helo_len;
	uint32_t from_off, from_len, fparam_off, fparam_len;
	uint8_t ehlo;
	uint8_t rcpt_refused; /* dp_env_rcpt() found no room: refuse with 452 */
	uint16_t tx_code;     /* DP_C_TX_SKIP: 451 or 452 */
	struct spool_msg *msg;
	uint64_t msg_size;
	/* policy (w->pol != NULL only): the connection stage, the open transaction */
	struct pol_conn pol_conn;
	struct pol_tx *pol_tx; /* from MAIL until the verdict, RSET, error or close */
	uint8_t pol_action;    /* enum pol_action of the last end-of-data verdict, for the log */
	/* times, ms of the worker's monotonic clock */
	uint64_t t_open, t_active, t_data, t_tx, t_commit;
	uint64_t data_bytes;
	struct dp_timer timer;
	struct dp_conn *run_next, *tx_next, *spool_next;
	struct sockaddr_storage peer;
	struct dp_limit_key key;
	char peer_text[DP_ADDR_TEXT];
} __attribute__((aligned(DP_CACHELINE)));

#define DP_HIST_BUCKETS 14

/* Written only by the worker (relaxed atomic stores), read by the metrics thread. */
struct dp_counters {
	uint64_t conn_accepted, conn_closed, conn_refused_limit, conn_refused_client;
	uint64_t timeout_idle, timeout_session, timeout_rate, rx_overflow, spool_waits;
	uint64_t msg_queued, msg_tempfail, msg_rejected, msg_aborted;
	uint64_t msg_bytes, rcpts, bytes_in, bytes_out;
	uint64_t replies[6]; /* by first digit 0..5 */
	uint64_t log_dropped;
	uint64_t commit_hist[DP_HIST_BUCKETS + 1]; /* microseconds; last = +Inf */
	uint64_t commit_sum_us, commit_count;
} __attribute__((aligned(DP_CACHELINE)));

/* Upper bounds of the commit latency buckets, microseconds. */
extern const uint64_t dp_hist_bounds_us[DP_HIST_BUCKETS];

/* An impossible state: report where and abort, in every build. */
#define DP_PANIC(...) dp_panic(__FILE__, __LINE__, __VA_ARGS__)
void dp_panic(const char *file, int line, const char *fmt, ...)
    __attribute__((noreturn, format(printf, 3, 4)));

#define DP_COUNT(w, field, n)                                                                      \
	__atomic_store_n(&(w)->cnt.field, (w)->cnt.field + (uint64_t)(n), __ATOMIC_RELAXED)

/* DP_REQ_POLICY only wakes the worker: a new rule set waits in its mailbox. */
enum dp_request { DP_REQ_STOP = 1u << 0, DP_REQ_RELOAD = 1u << 1, DP_REQ_POLICY = 1u << 2 };

/* Reloadable settings handed from the main thread to a worker on SIGHUP. */
struct dp_reload {
	struct smtp_config smtp;
	struct dp_limits limits;
	uint8_t log_level;
	uint32_t shutdown_timeout_ms;
};

struct dp_worker {
	unsigned id;
	const struct dp_transport_ops *tp;
	void *tp_priv;
	struct dp_worker_conf wc; /* this worker's own copy */
	struct smtp_config smtp;  /* shared read-only by this core's sessions */
	struct dp_limits limits;
	uint32_t shutdown_timeout_ms;
	struct io_uring ring;
	int ring_ok;
	struct spool_writer *spool;
	/* connections */
	struct dp_conn *conns;
	uint32_t nconns, nopen, commits;
	struct dp_conn *free_list;
	char *slab;
	size_t slab_len;
	struct dp_conn *runq, **runq_tail;
	struct dp_conn *txq, **txq_tail;
	struct dp_conn *spoolq, **spoolq_tail; /* waiting for room in the spool, in order */
	uint8_t spool_progress;                /* a spool CQE arrived this pass */
	struct dp_wheel *wheel;
	struct dp_limit clients;
	struct smtp_event ev[DP_EVENTS];
	struct spool_str *scratch_rcpt, *scratch_param;
	uint32_t scratch_cap;
	/* clock of the current pass */
	uint64_t now_ms, now_us, real_us;
	/* shutdown */
	uint8_t stopping, done, listeners_closed;
	uint64_t stop_deadline, force_deadline;
	/* control from the main thread */
	int ctl_fd;
	uint64_t ctl_buf;
	uint32_t ctl_req;         /* atomic: enum dp_request bits */
	struct dp_reload *reload; /* atomic: handed over with DP_REQ_RELOAD */
	uint32_t inflight_misc;   /* control, accept, cancel, reject operations in flight */
	int lfd[DP_LISTEN_MAX];   /* listening sockets bound by the main thread, or -1 */
	unsigned phase;           /* shutdown: 0 drain, 1 ended sessions, 2 cut sockets */
	struct dp_log log;
	/* policy: NULL = off (one pointer check per hook); the mailbox is owned by the daemon */
	struct pol_core *pol;
	struct pol_mailbox *pol_mb;
	pthread_t thread;
	int cpu_pinned;
	struct dp_counters cnt;
} __attribute__((aligned(DP_CACHELINE)));

int dp_worker_init(struct dp_worker *w, unsigned id, const struct dp_conf *conf,
                   const struct dp_transport_ops *tp);
void dp_worker_fini(struct dp_worker *w);
/* Before the worker thread starts: turn policy on with rules (its own core and reference). */
int dp_worker_policy(struct dp_worker *w, struct pol_rules *rules, struct pol_mailbox *mb);
int dp_worker_setup(struct dp_worker *w, int log_fd, char *err, size_t errlen);

/* An SQE from the worker's ring (submitting first if the queue is full), or NULL. */
struct io_uring_sqe *dp_worker_sqe(struct dp_worker *w);

struct dp_conn *dp_conn_alloc(struct dp_worker *w);
void dp_conn_free(struct dp_worker *w, struct dp_conn *c);

void dp_worker_runq_push(struct dp_worker *w, struct dp_conn *c);
void dp_worker_txq_push(struct dp_worker *w, struct dp_conn *c);
unsigned dp_worker_run_queue(struct dp_worker *w, unsigned max);
void dp_worker_spoolq_push(struct dp_worker *w, struct dp_conn *c);
void dp_worker_spoolq_remove(struct dp_worker *w, struct dp_conn *c);
/* Retry the connections waiting for the spool (after spool completions, or when it is idle). */
void dp_worker_spool_retry(struct dp_worker *w);
void dp_worker_flush(struct dp_worker *w);
void dp_worker_clock(struct dp_worker *w);
void dp_worker_tick(struct dp_worker *w);
uint64_t dp_worker_wait_ms(const struct dp_worker *w);

static inline int dp_worker_done(const struct dp_worker *w)
{
	return w->done;
}

/* Main thread side: post a request (and for reload, the new settings; the worker frees it). */
int dp_worker_request(struct dp_worker *w, uint32_t req, struct dp_reload *r);
/* Worker side: handle posted requests (called when the control eventfd fires). */
void dp_worker_control(struct dp_worker *w);
/*
 * Worker side: handle a completion every backend shares — spool (SPOOL_UD_TAG: commit callbacks
 * run from here), control, log — and count any other kind as a finished miscellaneous request.
 * Backends handle their own kinds first and pass the rest here.
 */
void dp_worker_cqe(struct dp_worker *w, const struct io_uring_cqe *cqe);

/* Sum counters of n workers into out (for metrics). */
void dp_counters_sum(struct dp_worker *const *w, unsigned n, struct dp_counters *out);

#endif
