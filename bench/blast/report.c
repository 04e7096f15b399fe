/* SPDX-License-Identifier: MIT */
/*
 * report.c - sluice-blast's output: the final report as text or as one JSON object, and the
 * live progress line.
 *
 * Units: rates per second of elapsed time (start of traffic to the last message's completion);
 * MB is 10^6 bytes of message (unstuffed, headers included) for accepted messages; latencies are
 * reported in microseconds (JSON) or milliseconds (text). The progress line reads other threads'
 * counters with relaxed atomic loads and is therefore approximate by a few messages.
 */
#include "blast.h"

#include <string.h>

const char *const blast_err_names[BLAST_ERR_COUNT] = {
    [BLAST_ERR_REFUSED] = "refused",
    [BLAST_ERR_UNREACHABLE] = "unreachable",
    [BLAST_ERR_ADDRNOTAVAIL] = "addr_not_avail",
    [BLAST_ERR_CONNECT] = "connect_other",
    [BLAST_ERR_TIMEOUT_CONNECT] = "timeout_connect",
    [BLAST_ERR_TIMEOUT_GREETING] = "timeout_greeting",
    [BLAST_ERR_TIMEOUT_EHLO] = "timeout_ehlo",
    [BLAST_ERR_TIMEOUT_MAIL] = "timeout_mail",
    [BLAST_ERR_TIMEOUT_DATA] = "timeout_data",
    [BLAST_ERR_TIMEOUT_QUIT] = "timeout_quit",
    [BLAST_ERR_RESET] = "reset",
    [BLAST_ERR_EOF] = "eof",
    [BLAST_ERR_GARBAGE] = "garbage",
    [BLAST_ERR_LINE_TOO_LONG] = "line_too_long",
    [BLAST_ERR_UNSOLICITED] = "unsolicited",
    [BLAST_ERR_SEND] = "send",
    [BLAST_ERR_RECV] = "recv",
    [BLAST_ERR_LOCAL] = "local",
    [BLAST_ERR_NO_CHUNKING] = "no_chunking",
    [BLAST_ERR_REJ_GREETING] = "rejected_greeting",
    [BLAST_ERR_REJ_EHLO] = "rejected_ehlo",
    [BLAST_ERR_REJ_MAIL] = "rejected_mail",
    [BLAST_ERR_REJ_RCPT] = "rejected_rcpt",
    [BLAST_ERR_REJ_DATA] = "rejected_data",
    [BLAST_ERR_REJ_EOD] = "rejected_eod",
    [BLAST_ERR_REJ_RSET] = "rejected_rset",
    [BLAST_ERR_STOPPED] = "stopped",
};

static const char *const lat_names[BLAST_LAT_COUNT] = {"connect->220", "MAIL->250", "EOD->250",
                                                       "total"};
static const char *const lat_keys[BLAST_LAT_COUNT] = {"connect", "mail", "eod", "total"};
static const double lat_pcts[] = {50.0, 90.0, 99.0, 99.9};

static double per_s(uint64_t n, double elapsed)
{
	return elapsed > 0 ? (double)n / elapsed : 0.0;
}

static void report_describe(FILE *f, const struct blast_run *run)
{
	const struct blast_conf *c = run->conf;
	char size[128];

	blast_dist_describe(&c->size, size, sizeof(size));
	fprintf(f, "sluice-blast %s: ", c->target);
	if (c->rate > 0)
		fprintf(f, "open loop %.0f msg/s, up to ", c->rate);
	else
		fprintf(f, "closed loop, ");
	fprintf(f, "%u sessions on %u thread%s, ", c->sessions, c->threads,
	        c->threads > 1 ? "s" : "");
	if (c->per_conn == 0)
		fprintf(f, "persistent connections, ");
	else
		fprintf(f, "%u msg/connection, ", c->per_conn);
	fprintf(f, "%s%s, %s, %u rcpt\n", c->helo ? "HELO" : "EHLO",
	        c->pipelining ? " + PIPELINING" : "", c->bdat ? "BDAT" : "DATA", c->rcpts);
	fprintf(f, "  messages    %s; pool of %u, mean %.0f bytes, %u lines begin with '.'\n", size,
	        run->pool.n, run->pool.n ? (double)run->pool.msg_bytes / run->pool.n : 0.0,
	        run->pool.dot_lines);
}

static void text_counts(FILE *f, const struct blast_run *run, const struct blast_result *r)
{
	const struct blast_counters *c = &r->c;

	fprintf(f, "  result      %llu ok, %llu failed", (unsigned long long)c->msg_ok,
	        (unsigned long long)c->msg_fail);
	if (run->conf->rate > 0 || c->unsent > 0)
		fprintf(f, ", %llu unsent (due or claimed, never started)",
		        (unsigned long long)c->unsent);
	fprintf(f, " in %.3f s\n", r->elapsed);
	fprintf(f, "  rate        %.1f msg/s, %.2f MB/s of messages, %.2f MB/s on the wire\n",
	        per_s(c->msg_ok, r->elapsed), per_s(c->bytes_ok, r->elapsed) / 1e6,
	        per_s(c->bytes_sent, r->elapsed) / 1e6);
	fprintf(f, "  connections %llu ok, %llu failed\n", (unsigned long long)c->conn_ok,
	        (unsigned long long)c->conn_fail);
	fprintf(f, "  replies     2xx %llu  3xx %llu  4xx %llu  5xx %llu\n",
	        (unsigned long long)c->replies[2], (unsigned long long)c->replies[3],
	        (unsigned long long)c->replies[4], (unsigned long long)c->replies[5]);
}

static void text_errors(FILE *f, const struct blast_result *r)
{
	const struct blast_counters *c = &r->c;
	unsigned i, nerr = 0;

	fprintf(f, "  errors     ");
	for (i = 0; i < BLAST_ERR_COUNT; i++) {
		if (c->err[i] == 0)
			continue;
		fprintf(f, " %s %llu", blast_err_names[i], (unsigned long long)c->err[i]);
		nerr++;
	}
	fprintf(f, "%s\n", nerr == 0 ? " none" : "");
	for (i = 0; i < r->nsamples; i++)
		fprintf(f, "  %-12s%s\n", i == 0 ? "rejections" : "", r->samples[i]);
	if (c->fallback_pipelining)
		fprintf(f, "  note        %llu sessions without PIPELINING (not offered)\n",
		        (unsigned long long)c->fallback_pipelining);
}

void blast_report_text(FILE *f, const struct blast_run *run, const struct blast_result *r)
{
	uint64_t done = r->c.msg_ok + r->c.msg_fail;
	unsigned i, j;

	report_describe(f, run);
	text_counts(f, run, r);
	text_errors(f, r);
	fprintf(f, "  latency ms         p50       p90       p99     p99.9       max     count\n");
	for (i = 0; i < BLAST_LAT_COUNT; i++) {
		const struct blast_hist *h = &r->lat[i];

		fprintf(f, "  %-14s", lat_names[i]);
		for (j = 0; j < sizeof(lat_pcts) / sizeof(lat_pcts[0]); j++)
			fprintf(f, "%10.3f", (double)blast_hist_percentile(h, lat_pcts[j]) / 1e6);
		fprintf(f, "%10.3f%10llu\n", (double)h->max / 1e6, (unsigned long long)h->count);
	}
	fprintf(f, "  cpu         user %.3f s, sys %.3f s: %.2f us per message\n", r->cpu_user,
	        r->cpu_sys, done ? (r->cpu_user + r->cpu_sys) * 1e6 / (double)done : 0.0);
}

/* A JSON string; samples and names hold printable ASCII only (see blast_sample). */
static void json_str(FILE *f, const char *s)
{
	fputc('"', f);
	for (; *s; s++) {
		if (*s == '"' || *s == '\\')
			fputc('\\', f);
		fputc((unsigned char)*s < 0x20 || (unsigned char)*s > 0x7e ? '?' : *s, f);
	}
	fputc('"', f);
}

static void json_hist(FILE *f, const char *key, const struct blast_hist *h)
{
	unsigned j;

	fprintf(f, "\"%s\":{\"count\":%llu", key, (unsigned long long)h->count);
	for (j = 0; j < sizeof(lat_pcts) / sizeof(lat_pcts[0]); j++)
		fprintf(f, ",\"p%g\":%.1f", lat_pcts[j],
		        (double)blast_hist_percentile(h, lat_pcts[j]) / 1e3);
	fprintf(f, ",\"max\":%.1f,\"mean\":%.1f}", (double)h->max / 1e3, blast_hist_mean(h) / 1e3);
}

static void json_conf(FILE *f, const struct blast_run *run)
{
	const struct blast_conf *c = run->conf;
	char size[128];

	blast_dist_describe(&c->size, size, sizeof(size));
	fprintf(f, "\"target\":");
	json_str(f, c->target);
	fprintf(f,
	        ",\"mode\":\"%s\",\"rate_target\":%.3f,\"sessions\":%u,\"threads\":%u,"
	        "\"per_conn\":%u,\"pipelining\":%s,\"bdat\":%s,\"helo\":%s,\"rcpts\":%u,"
	        "\"size\":\"%s\",\"pool\":{\"messages\":%u,\"mean_bytes\":%.1f,"
	        "\"dot_lines\":%u},\"run_id\":\"%08x\",",
	        c->rate > 0 ? "open" : "closed", c->rate, c->sessions, c->threads, c->per_conn,
	        c->pipelining ? "true" : "false", c->bdat ? "true" : "false",
	        c->helo ? "true" : "false", c->rcpts, size, run->pool.n,
	        run->pool.n ? (double)run->pool.msg_bytes / run->pool.n : 0.0, run->pool.dot_lines,
	        run->run_id);
}

static void json_counts(FILE *f, const struct blast_result *r)
{
	const struct blast_counters *c = &r->c;
	unsigned i;

	fprintf(f, "\"elapsed_s\":%.6f,\"messages\":{\"ok\":%llu,\"failed\":%llu,\"unsent\":%llu},",
	        r->elapsed, (unsigned long long)c->msg_ok, (unsigned long long)c->msg_fail,
	        (unsigned long long)c->unsent);
	fprintf(f, "\"msgs_per_s\":%.1f,\"mb_per_s\":%.3f,\"wire_mb_per_s\":%.3f,",
	        per_s(c->msg_ok, r->elapsed), per_s(c->bytes_ok, r->elapsed) / 1e6,
	        per_s(c->bytes_sent, r->elapsed) / 1e6);
	fprintf(f, "\"bytes_ok\":%llu,\"bytes_sent\":%llu,\"rcpt_ok\":%llu,",
	        (unsigned long long)c->bytes_ok, (unsigned long long)c->bytes_sent,
	        (unsigned long long)c->rcpt_ok);
	fprintf(f, "\"connections\":{\"ok\":%llu,\"failed\":%llu},", (unsigned long long)c->conn_ok,
	        (unsigned long long)c->conn_fail);
	fprintf(f, "\"replies\":{\"2xx\":%llu,\"3xx\":%llu,\"4xx\":%llu,\"5xx\":%llu},",
	        (unsigned long long)c->replies[2], (unsigned long long)c->replies[3],
	        (unsigned long long)c->replies[4], (unsigned long long)c->replies[5]);
	fprintf(f, "\"errors\":{");
	for (i = 0; i < BLAST_ERR_COUNT; i++)
		fprintf(f, "%s\"%s\":%llu", i ? "," : "", blast_err_names[i],
		        (unsigned long long)c->err[i]);
	fprintf(f, "},\"reject_samples\":[");
	for (i = 0; i < r->nsamples; i++) {
		if (i)
			fputc(',', f);
		json_str(f, r->samples[i]);
	}
	fprintf(f, "],\"fallback_pipelining\":%llu,", (unsigned long long)c->fallback_pipelining);
}

void blast_report_json(FILE *f, const struct blast_run *run, const struct blast_result *r)
{
	uint64_t done = r->c.msg_ok + r->c.msg_fail;
	unsigned i;

	fputc('{', f);
	json_conf(f, run);
	json_counts(f, r);
	fprintf(f, "\"latency_us\":{");
	for (i = 0; i < BLAST_LAT_COUNT; i++) {
		if (i)
			fputc(',', f);
		json_hist(f, lat_keys[i], &r->lat[i]);
	}
	fprintf(f, "},\"cpu\":{\"user_s\":%.6f,\"sys_s\":%.6f,\"us_per_msg\":%.3f}}\n", r->cpu_user,
	        r->cpu_sys, done ? (r->cpu_user + r->cpu_sys) * 1e6 / (double)done : 0.0);
}

#define LOAD(x) __atomic_load_n(&(x), __ATOMIC_RELAXED)

void blast_progress(FILE *f, struct blast_thread *ths, unsigned n, double elapsed,
                    struct blast_counters *prev, double dt)
{
	uint64_t ok = 0, fail = 0, bytes = 0, open = 0, errs = 0;
	unsigned i, e;

	for (i = 0; i < n; i++) {
		ok += LOAD(ths[i].c.msg_ok);
		fail += LOAD(ths[i].c.msg_fail);
		bytes += LOAD(ths[i].c.bytes_ok);
		open += LOAD(ths[i].c.conn_open);
		for (e = 0; e < BLAST_ERR_COUNT; e++)
			errs += LOAD(ths[i].c.err[e]);
	}
	fprintf(
	    f,
	    "\r%7.1fs %10.0f msg/s %8.2f MB/s  ok %llu  failed %llu  errors %llu  open %llu\033[K",
	    elapsed, dt > 0 ? (double)(ok - prev->msg_ok) / dt : 0.0,
	    dt > 0 ? (double)(bytes - prev->bytes_ok) / dt / 1e6 : 0.0, (unsigned long long)ok,
	    (unsigned long long)fail, (unsigned long long)errs, (unsigned long long)open);
	fflush(f);
	prev->msg_ok = ok;
	prev->bytes_ok = bytes;
}
