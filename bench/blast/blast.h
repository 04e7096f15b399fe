/* SPDX-License-Identifier: MIT */
/*
 * blast.h - types shared by the parts of sluice-blast: configuration (opts.c), the run
 * shared read-only by all threads (main.c), per-thread state and counters (loop.c), SMTP client
 * sessions (session.c) and the report (report.c).
 *
 * Ownership: struct blast_run is written by the main thread before the workers start and is
 * read-only afterwards, except the stop/abort flags (atomic). Each struct blast_thread belongs
 * to its worker; its counters are stored with relaxed atomic stores so the main thread may read
 * them for the progress line, and its histograms are read only after the worker has ended.
 *
 * Errors follow the project rule: 0 or -errno.
 */
#ifndef SLUICE_BENCH_BLAST_BLAST_H
#define SLUICE_BENCH_BLAST_BLAST_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/socket.h>

#include "body.h"
#include "dist.h"
#include "hist.h"
#include "reply.h"
#include "transport.h"

#define BLAST_MAX_THREADS 64
#define BLAST_PATTERN_MAX 200
#define BLAST_SAMPLES     4
#define BLAST_SAMPLE_LEN  120

/* An address pattern: prefix, optional %d, suffix. */
struct blast_pattern {
	char pre[BLAST_PATTERN_MAX];
	char post[BLAST_PATTERN_MAX];
	unsigned pre_len;
	unsigned post_len;
	bool has_num;
};

struct blast_conf {
	const char *target;
	struct sockaddr_storage addr;
	socklen_t addr_len;
	unsigned sessions;
	unsigned threads;
	uint64_t messages; /* 0: unlimited (then duration is set) */
	double duration;   /* seconds, 0: none */
	double rate;       /* messages/s in total, 0: closed loop */
	unsigned per_conn; /* messages per connection, 0: unlimited */
	bool pipelining;
	bool bdat;
	bool helo;
	bool json;
	int progress; /* -1 auto (stderr is a tty), 0 off, 1 on */
	unsigned rcpts;
	unsigned addrs;
	const char *ehlo;
	struct blast_pattern from;
	struct blast_pattern to;
	const char *size_spec;
	struct blast_dist size;
	unsigned pool;
	unsigned pool_mb;
	unsigned pct_8bit;
	unsigned pct_utf8;
	unsigned pct_attach;
	unsigned pct_dots;
	uint64_t seed;
	double timeout;
	const char *verify;
	unsigned ring_entries;
};

enum blast_err {
	BLAST_ERR_REFUSED,
	BLAST_ERR_UNREACHABLE,
	BLAST_ERR_ADDRNOTAVAIL,
	BLAST_ERR_CONNECT,
	BLAST_ERR_TIMEOUT_CONNECT,
	BLAST_ERR_TIMEOUT_GREETING,
	BLAST_ERR_TIMEOUT_EHLO,
	BLAST_ERR_TIMEOUT_MAIL,
	BLAST_ERR_TIMEOUT_DATA,
	BLAST_ERR_TIMEOUT_QUIT,
	BLAST_ERR_RESET,
	BLAST_ERR_EOF,
	BLAST_ERR_GARBAGE,
	BLAST_ERR_LINE_TOO_LONG,
	BLAST_ERR_UNSOLICITED,
	BLAST_ERR_SEND,
	BLAST_ERR_RECV,
	BLAST_ERR_LOCAL,
	BLAST_ERR_NO_CHUNKING,
	BLAST_ERR_REJ_GREETING,
	BLAST_ERR_REJ_EHLO,
	BLAST_ERR_REJ_MAIL,
	BLAST_ERR_REJ_RCPT,
	BLAST_ERR_REJ_DATA,
	BLAST_ERR_REJ_EOD,
	BLAST_ERR_REJ_RSET,
	BLAST_ERR_STOPPED,
	BLAST_ERR_COUNT,
};

extern const char *const blast_err_names[BLAST_ERR_COUNT];

enum blast_lat {
	BLAST_LAT_CONNECT, /* connect submitted -> 220 */
	BLAST_LAT_MAIL,    /* MAIL submitted -> 250 */
	BLAST_LAT_EOD,     /* end of data submitted -> 250 */
	BLAST_LAT_TOTAL,   /* intended start (open loop) or MAIL (closed loop) -> final 250 */
	BLAST_LAT_COUNT,
};

struct blast_counters {
	uint64_t msg_ok;
	uint64_t msg_fail;
	uint64_t bytes_ok;   /* message bytes (unstuffed) of accepted messages */
	uint64_t bytes_sent; /* bytes written to the transport */
	uint64_t conn_ok;
	uint64_t conn_fail;
	uint64_t conn_open;
	uint64_t replies[6]; /* by first digit */
	uint64_t rcpt_ok;
	uint64_t fallback_pipelining;
	uint64_t unsent; /* open loop: due messages never started */
	uint64_t err[BLAST_ERR_COUNT];
};

/* Shared by all threads, read-only while they run (except the flags). */
struct blast_run {
	struct blast_conf *conf;
	struct blast_pool pool;
	struct blast_hdr_tmpl hdr;
	uint32_t run_id;
	uint64_t t0; /* CLOCK_MONOTONIC ns when traffic starts */
	uint64_t timeout_ns;
	int stop;  /* atomic: stop starting messages and drain */
	int abort; /* atomic: close everything now */
	int verify_fd;
	pthread_t main_thread;
	pthread_barrier_t start;
	char ehlo_cmd[300];
	unsigned ehlo_len;
	char helo_cmd[300];
	unsigned helo_len;
};

enum blast_phase {
	BLAST_PH_FREE,
	BLAST_PH_CONNECTING,
	BLAST_PH_GREETING,
	BLAST_PH_EHLO,
	BLAST_PH_HELO,
	BLAST_PH_IDLE,
	BLAST_PH_TXN,
	BLAST_PH_RSET,
	BLAST_PH_QUIT,
	BLAST_PH_CLOSING,
	BLAST_PH_BACKOFF,
	BLAST_PH_LINGER, /* 221 read, waiting briefly for the server to close first */
};

/* Intrusive FIFO of sessions that all wait the same duration: the head expires first. */
struct blast_tlist {
	struct blast_sess *head;
	struct blast_sess *tail;
	uint64_t span_ns;
};

struct blast_sess {
	struct blast_conn conn;
	struct blast_sess *tnext;
	struct blast_sess *tprev;
	struct blast_tlist *tlist;
	struct blast_sess *snext; /* free stack */
	struct blast_sess *inext; /* idle stack (entries are dropped lazily, see loop.c) */
	uint64_t deadline;
	uint8_t phase;
	uint8_t send_busy;
	uint8_t deferred;    /* control command waiting for the send slot: 'R'SET, 'Q'UIT */
	uint8_t quit_queued; /* QUIT went out behind the last message */
	uint8_t pipelining;  /* effective for this connection */
	uint8_t have_msg;    /* a message is claimed for this session */
	uint8_t failed;      /* the current transaction failed */
	uint8_t in_idle;     /* on the idle stack */
	uint8_t counted;     /* counted in conn_open */
	uint8_t conn_failed; /* the connection attempt failed: back off before the next */
	unsigned ext;
	unsigned pool_class;
	unsigned steps;
	unsigned sent;
	unsigned got;
	unsigned rcpt_ok;
	unsigned on_conn;
	uint64_t seq;
	const struct blast_body *body;
	uint64_t t_start;
	uint64_t t_connect;
	uint64_t t_mail;
	uint64_t t_eod;
	struct blast_reply_parser rp;
	char id[BLAST_ID_LEN];
	char *tx;
	unsigned tx_cap;
	unsigned tx_len;
};

struct blast_thread {
	unsigned id;
	pthread_t tid;
	struct blast_run *run;
	const struct blast_conf *conf;
	struct blast_tp tp;
	struct blast_sess *sess;
	unsigned nsess;
	unsigned active;         /* sessions not FREE */
	struct blast_sess *idle; /* open loop: connected, waiting for a message */
	struct blast_sess *free; /* not connected */
	struct blast_tlist timers;
	struct blast_tlist backoff;
	struct blast_tlist linger;
	uint64_t **stamps;
	unsigned nstamps;
	unsigned stamp_cap;
	struct blast_rng rng;
	uint64_t now;
	uint64_t budget; /* messages this thread may start (UINT64_MAX: unlimited) */
	uint64_t claimed;
	uint64_t next_seq;
	double period_ns; /* open loop */
	uint64_t t_end;   /* duration end, or UINT64_MAX */
	uint64_t t_drain; /* when stopping: abort what is left at this time */
	uint64_t t_hard;  /* after an abort: give up waiting for closes */
	uint64_t t_last;  /* time of the last message completion */
	bool stopping;
	int result;
	struct blast_counters c;
	struct blast_hist lat[BLAST_LAT_COUNT];
	char samples[BLAST_SAMPLES][BLAST_SAMPLE_LEN]; /* first 4xx/5xx replies, for the report */
	unsigned nsamples;
	char *vbuf; /* verify lines */
	size_t vlen;
	size_t vcap;
	uint64_t t0;
	int done; /* atomic: the worker has finished */
} __attribute__((aligned(64)));

/* Counters are written by their thread only; relaxed stores let the main thread read them. */
#define BLAST_ADD(th, field, n)                                                                    \
	__atomic_store_n(&(th)->c.field, (th)->c.field + (uint64_t)(n), __ATOMIC_RELAXED)
#define BLAST_ERR(th, e) BLAST_ADD(th, err[e], 1)

uint64_t blast_now_ns(void);

/* Decimal digits of v at dst (at most 20); returns the count. */
static inline unsigned blast_fmt_u64(char *dst, uint64_t v)
{
	char tmp[20];
	unsigned n = 0, i;

	do {
		tmp[n++] = (char)('0' + v % 10);
		v /= 10;
	} while (v != 0);
	for (i = 0; i < n; i++)
		dst[i] = tmp[n - 1 - i];
	return n;
}

/* loop.c */
int blast_thread_init(struct blast_thread *th, struct blast_run *run, unsigned id);
void blast_thread_free(struct blast_thread *th);
void *blast_thread_main(void *arg);
bool blast_claim(struct blast_thread *th);
void blast_stamp(struct blast_thread *th, uint64_t *slot);
void blast_timer_arm(struct blast_thread *th, struct blast_tlist *l, struct blast_sess *s);
void blast_timer_disarm(struct blast_sess *s);
void blast_loop_ready(struct blast_thread *th, struct blast_sess *s);
void blast_loop_closed(struct blast_thread *th, struct blast_sess *s);

/* session.c */
int blast_sess_alloc(struct blast_thread *th, struct blast_sess *s);
void blast_sess_connect(struct blast_thread *th, struct blast_sess *s);
void blast_sess_begin(struct blast_thread *th, struct blast_sess *s);
void blast_sess_event(struct blast_thread *th, struct blast_sess *s, const struct blast_ev *ev);
void blast_sess_expire(struct blast_thread *th, struct blast_sess *s);
void blast_sess_quit(struct blast_thread *th, struct blast_sess *s);
void blast_sess_close(struct blast_thread *th, struct blast_sess *s);
void blast_sess_abort(struct blast_thread *th, struct blast_sess *s, enum blast_err e);
const char *blast_phase_name(unsigned phase);

/* verify.c */
void blast_verify_add(struct blast_thread *th, const char *id, const char *qid, size_t qlen);
int blast_verify_flush(struct blast_thread *th);

/* opts.c */
int blast_opts_parse(struct blast_conf *conf, int argc, char **argv);
void blast_usage(FILE *f);
int blast_pattern_parse(struct blast_pattern *p, const char *s);
unsigned blast_pattern_expand(const struct blast_pattern *p, char *dst, uint64_t n);

/* report.c */
struct blast_result {
	struct blast_counters c;
	struct blast_hist lat[BLAST_LAT_COUNT];
	char samples[2 * BLAST_SAMPLES][BLAST_SAMPLE_LEN];
	unsigned nsamples;
	double elapsed;
	double cpu_user;
	double cpu_sys;
};

void blast_report_text(FILE *f, const struct blast_run *run, const struct blast_result *r);
void blast_report_json(FILE *f, const struct blast_run *run, const struct blast_result *r);
void blast_progress(FILE *f, struct blast_thread *ths, unsigned n, double elapsed,
                    struct blast_counters *prev, double dt);

#endif
