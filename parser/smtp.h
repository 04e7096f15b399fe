/* SPDX-License-Identifier: MIT */
/*
 * smtp.h - the SMTP protocol engine: bytes in; replies, events and body spans out.
 *
 * The engine does no I/O and never allocates. The embedder (a transport: kernel sockets, the
 * DPDK TCP path, a test harness) owns:
 *   - one struct smtp_config, shared read-only by every session of a core;
 *   - one struct smtp_session per connection, zero-initialisable, passed to every call;
 *   - its receive buffer: smtp_input() consumes a prefix of it and the embedder keeps the
 *     unconsumed tail, appends newly received bytes and calls again;
 *   - one struct smtp_io per call: a reply buffer the engine appends to and an event array.
 *
 * Calling pattern:
 *
 *	smtp_session_start(&s, &cfg, &io);          // queues the 220 greeting
 *	for (;;) {
 *		n = smtp_input(&s, &cfg, buf, len, &io); // consumes n bytes of buf
 *		handle io.ev[0 .. io.nev); io.nev = 0;
 *		if (io.flush) send io.reply[0 .. io.reply_len), io.reply_len = 0, io.flush = 0;
 *		switch (smtp_state_of(&s)) {
 *		case SMTP_WAIT:   ... later: smtp_resolve(&s, &cfg, &verdict, &io); break;
 *		case SMTP_CLOSED: send what is left, close the connection; return;
 *		default:          drop n bytes, receive more if n == 0 or all consumed; break;
 *		}
 *	}
 *
 * smtp_input() stops and returns early when: the input holds no further complete unit of work
 * (it then needs more bytes), the event array has fewer than 2 free slots, the reply buffer
 * has less than SMTP_REPLY_MAX bytes free (it then sets io->flush: send, then call again
 * even if it returned 0), a decision is pending (state SMTP_WAIT), or the session closed.
 * It never reads past in[len - 1] and never writes past io->reply[io->reply_cap - 1]. Before
 * smtp_session_start() (state SMTP_CONNECTED) it does nothing. The receive buffer must be able
 * to hold cfg.max_line bytes: an incomplete command line is left unconsumed until its LF.
 *
 * Pointers inside events (addresses, HELO names, body spans) point into the input buffer the
 * caller passed, or at static constants; they stay valid until the caller discards or moves
 * those input bytes. An embedder that must keep them (the spool) copies them.
 *
 * Protocol choices (details in the .c files):
 *   - Only CRLF ends a command line. A line ended by a bare LF is consumed and answered
 *     "500 5.5.2 Syntax error: command line must end with <CR><LF>"; a CR or NUL inside a line
 *     gets 500 5.5.2 too. A line longer than cfg.max_line is consumed to its LF and answered
 *     once "500 5.5.6 Line too long"; its tail is never read as a command.
 *   - Enhanced status codes (RFC 3463) are on every 2xx/4xx/5xx reply when
 *     SMTP_CAP_ENHANCEDSTATUSCODES is set, after HELO as after EHLO, except the 220 greeting
 *     and the 250 reply to HELO/EHLO (RFC 2034).
 *   - DATA: only <CRLF>.<CRLF> ends the message. Bare CR/LF: reject mode reads to the end and
 *     answers one "550 5.5.2" (SMTP_EV_REJECTED); normalize mode stores them as CRLF. Long
 *     text lines: accepted unless cfg.max_text_line is set (then 550 5.6.0 at the end).
 *     Oversize: 552 5.3.4 at the end. One reply per message, whatever the split.
 *   - Body text pipelined before the 354: if DATA is accepted it is the message; if DATA is
 *     refused (503, or 554 when every RCPT was refused) its lines are read as commands, as
 *     RFC 2920 requires, each bad one answered 500 and counted towards cfg.max_errors.
 *   - BDAT: a chunk whose size parses is always consumed, even when refused (503 out of
 *     sequence, 502 without CHUNKING, 552 over the size limit), so chunk bytes are never
 *     commands; a BDAT whose size does not parse gets 501 and closes (framing is lost).
 *   - Counted errors (cfg.max_errors): syntax and sequence errors (500-504, 553, 555); not
 *     452 (too many recipients), 552, 554 no valid recipients, nor embedder verdicts. When
 *     the limit is reached the error reply is followed by "421 4.7.0" and the session closes.
 *
 * Errors: smtp_input() returns the number of bytes consumed (>= 0); protocol errors are SMTP
 * replies, never return codes. smtp_resolve() returns 0; -EINVAL when no decision is pending
 * or the verdict code is not 0, 2xx, 4xx or 5xx; -ENOSPC when io has fewer than 2 free event
 * slots or SMTP_REPLY_MAX free reply bytes (nothing changed: drain io and call again).
 */
#ifndef SLUICE_PARSER_SMTP_H
#define SLUICE_PARSER_SMTP_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "parser/dscan.h"

#define SMTP_REPLY_MAX    1024 /* the longest reply the engine queues in one step (EHLO) */
#define SMTP_LINE_MIN     512  /* RFC 5321 4.5.3.1.4: command line incl. CRLF */
#define SMTP_HOSTNAME_MAX 255

/* Capabilities advertised in the EHLO reply (smtp_config.caps). */
enum smtp_cap {
	SMTP_CAP_PIPELINING = 1u << 0,
	SMTP_CAP_SIZE = 1u << 1,
	SMTP_CAP_8BITMIME = 1u << 2,
	SMTP_CAP_CHUNKING = 1u << 3,
	SMTP_CAP_BINARYMIME = 1u << 4,
	SMTP_CAP_SMTPUTF8 = 1u << 5,
	SMTP_CAP_ENHANCEDSTATUSCODES = 1u << 6,
	SMTP_CAP_ALL = (1u << 7) - 1,
};

/* Which events wait for smtp_resolve() (smtp_config.decide). Message end always waits. */
enum smtp_decide {
	SMTP_DECIDE_HELO = 1u << 0,
	SMTP_DECIDE_MAIL = 1u << 1,
	SMTP_DECIDE_RCPT = 1u << 2,
};

enum smtp_bare_newline { SMTP_BARE_REJECT = 0, SMTP_BARE_NORMALIZE = 1 };

struct smtp_config {
	char hostname[SMTP_HOSTNAME_MAX + 1]; /* in 220 greeting, EHLO reply, 221 */
	uint32_t caps;                        /* enum smtp_cap bits */
	uint32_t decide;                      /* enum smtp_decide bits */
	uint64_t max_message_size;            /* octets after unstuffing; SIZE n; 0 = no limit */
	uint32_t max_recipients;              /* per transaction (100 by default); 0 = no limit */
	uint32_t max_errors;    /* error replies per session, then 421; 0 = no limit */
	uint32_t max_line;      /* command line incl. CRLF, >= SMTP_LINE_MIN */
	uint32_t max_text_line; /* DATA line incl. CRLF; 0 = no limit (default) */
	uint16_t vrfy_code;     /* 252, 502 or 550 */
	uint16_t expn_code;     /* 502 (default), 252 or 550 */
	uint8_t bare_newline;   /* enum smtp_bare_newline */
};

/* Fill cfg with the defaults (listed in parser/config.c). */
void smtp_config_defaults(struct smtp_config *cfg);

enum smtp_state {
	SMTP_CONNECTED = 0, /* zero-initialised, before smtp_session_start() */
	SMTP_GREETED,       /* waiting for HELO/EHLO */
	SMTP_READY,         /* HELO/EHLO done, no transaction */
	SMTP_MAIL,          /* MAIL accepted, no recipient yet */
	SMTP_RCPT,          /* at least one recipient */
	SMTP_DATA,          /* inside DATA, scanning the body */
	SMTP_BDAT,          /* inside a BDAT chunk */
	SMTP_WAIT,          /* a decision is pending: see smtp_resolve() */
	SMTP_CLOSED,        /* 221 or 421 queued: flush the reply, then close */
};

const char *smtp_state_name(enum smtp_state st);

/*
 * Events, in the order the client's commands produce them. A transaction is open from
 * SMTP_EV_MAIL until SMTP_EV_ABORT, SMTP_EV_REJECTED, or the verdict on SMTP_EV_END (or a
 * refusing verdict on SMTP_EV_MAIL itself, which the embedder gave, so no ABORT follows).
 */
enum smtp_event_type {
	SMTP_EV_HELO,     /* str = name (first word, printable ASCII); arg = 1 for EHLO */
	SMTP_EV_MAIL,     /* str = reverse-path without <> ("" for null), source route dropped;
	                     params; body, utf8, size from BODY=, SMTPUTF8, SIZE= */
	SMTP_EV_RCPT,     /* str = forward-path without <>; params; arg = 1 for <Postmaster>
	                     (never waits for a decision: always accepted) */
	SMTP_EV_DATA,     /* body begins (DATA got 354, or first accepted BDAT chunk) */
	SMTP_EV_BODY,     /* str, len = a span of message bytes (DATA: unstuffed; BDAT: raw) */
	SMTP_EV_END,      /* message complete, size = its octets; the session waits for
	                     smtp_resolve() */
	SMTP_EV_ABORT,    /* transaction dropped (RSET, HELO/EHLO, QUIT, 421, close): discard */
	SMTP_EV_REJECTED, /* message refused by the engine after reading it (bare CR/LF, size,
	                     long line; or a BDAT chunk over the size limit, possibly before any
	                     SMTP_EV_DATA): arg = reply code; the transaction is over, discard */
	SMTP_EV_CLOSE,    /* the session ended (QUIT, 421, framing lost, smtp_session_end());
	                     arg = reply code (0 if none) */
};

enum smtp_body_type {
	SMTP_BODY_NONE = 0,
	SMTP_BODY_7BIT,
	SMTP_BODY_8BITMIME,
	SMTP_BODY_BINARYMIME
};

struct smtp_event {
	uint8_t type; /* enum smtp_event_type */
	uint8_t body; /* MAIL: enum smtp_body_type */
	uint8_t utf8; /* MAIL: SMTPUTF8 given */
	uint8_t pad;
	uint32_t arg;    /* see the event list */
	const char *str; /* see the event list; not NUL-terminated */
	size_t len;
	const char *params; /* MAIL/RCPT: raw ESMTP parameter text after the path, may be "" */
	size_t params_len;
	uint64_t size; /* MAIL: SIZE= value, 0 if absent; END: message octets */
};

struct smtp_io {
	char *reply;      /* reply bytes are appended here */
	size_t reply_cap; /* must be >= SMTP_REPLY_MAX */
	size_t reply_len;
	struct smtp_event *ev;
	unsigned ev_cap; /* must be >= 2 */
	unsigned nev;
	/*
	 * Set (never cleared) by the engine when the queued replies must be sent now: RFC 2920
	 * lets a server hold replies while it consumes more pipelined input, but not while it waits
	 * for input, for a decision, or before closing. The embedder sends and clears it.
	 */
	int flush;
};

/*
 * A decision for the pending event. code == 0 means the default success reply (250, or for
 * SMTP_EV_END "250 2.0.0 Ok: queued as <queue_id>"). Otherwise code is the reply code, enh the
 * enhanced status ("4.3.0"; NULL, malformed or of another class picks one from the code) and
 * text the reply text (NULL picks a default; '\n' separates the lines of a multi-line reply;
 * octets other than printable ASCII are sent as '?'). A 2xx code accepts (251 for RCPT, for
 * example). For SMTP_EV_MAIL a 4xx/5xx verdict means no transaction; for SMTP_EV_RCPT the
 * recipient is not added; for SMTP_EV_HELO the client must greet again; for SMTP_EV_END the
 * message is discarded. 421 also closes the session (SMTP_EV_ABORT if open, SMTP_EV_CLOSE).
 */
struct smtp_verdict {
	uint16_t code;
	const char *enh;
	const char *text;
	const char *queue_id; /* SMTP_EV_END with code 0 */
};

/*
 * Per-connection state. Treat as opaque; zero-initialise, then smtp_session_start().
 * Its size stays small (no buffers): sessions are kept for 100,000 connections per core.
 */
struct smtp_session {
	uint8_t state;      /* enum smtp_state */
	uint8_t wait_for;   /* enum smtp_event_type being decided while SMTP_WAIT */
	uint8_t resume;     /* state to return to after a refused RCPT or a refused BDAT chunk */
	uint8_t ehlo;       /* EHLO (1) or HELO (0) seen last */
	uint8_t body;       /* BODY= of the transaction (enum smtp_body_type) */
	uint8_t utf8;       /* SMTPUTF8 of the transaction */
	uint8_t flags;      /* internal flags (transaction open, BDAT, discarding, ...) */
	uint8_t tx_error;   /* sticky error of the message or chunk being read (internal id) */
	uint32_t nrcpt;     /* accepted recipients in the transaction */
	uint32_t nerrors;   /* error replies so far */
	uint32_t scanned;   /* bytes of an incomplete command line already scanned */
	uint64_t size;      /* octets of the message so far */
	uint64_t declared;  /* SIZE= of the transaction */
	uint64_t chunk;     /* octets of the current BDAT chunk */
	uint64_t bdat_left; /* octets left in the current BDAT chunk */
	struct smtp_dscan dscan; /* DATA scanner state */
};

/* Queue the 220 greeting; the session is then SMTP_GREETED. */
void smtp_session_start(struct smtp_session *s, const struct smtp_config *cfg, struct smtp_io *io);

/*
 * Start a session refused at connect (policy): queue "554 <enh> <hostname> <text>" from v
 * (enh defaults to 5.7.1, text to "Access denied"; v may be NULL; v->code is not used: the
 * code is always 554). The session is SMTP_GREETED and, per RFC 5321 3.1, answers every
 * command except QUIT with "503 5.5.1 Error: connection refused, send QUIT" (BDAT's chunk is
 * still consumed); QUIT gets 221 and closes. No event is emitted. Errors count towards
 * max_errors as usual.
 */
void smtp_session_start_refused(struct smtp_session *s, const struct smtp_config *cfg,
                                const struct smtp_verdict *v, struct smtp_io *io);

/* Consume input; see the header comment. Returns bytes consumed. */
size_t smtp_input(struct smtp_session *s, const struct smtp_config *cfg, const char *in, size_t len,
                  struct smtp_io *io);

/* Answer the pending decision (state SMTP_WAIT); sets io->flush. See the header comment. */
int smtp_resolve(struct smtp_session *s, const struct smtp_config *cfg,
                 const struct smtp_verdict *v, struct smtp_io *io);

/*
 * The connection is ending without QUIT (peer closed, timeout, shutdown). Emits SMTP_EV_ABORT
 * if a transaction was open, then SMTP_EV_CLOSE (arg = code); with code != 0 queues
 * "<code> <enh> <hostname> <text>" (421 on shutdown or timeout); text may start with its own
 * enhanced code ("4.4.2 Timeout exceeded"), else one is picked from the code. The session is
 * then SMTP_CLOSED; calling it again does nothing. A code that is not 2xx/4xx/5xx becomes
 * 421. The reply is written even into less than SMTP_REPLY_MAX free bytes (its text cut if
 * need be). Needs 2 free event slots.
 */
void smtp_session_end(struct smtp_session *s, const struct smtp_config *cfg, uint16_t code,
                      const char *text, struct smtp_io *io);

static inline enum smtp_state smtp_state_of(const struct smtp_session *s)
{
	return (enum smtp_state)s->state;
}

#endif
