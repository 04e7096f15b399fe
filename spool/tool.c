/* SPDX-License-Identifier: MIT */
/*
 * tool.c - sluice-spool: inspect and export a spool.
 *
 *	sluice-spool [--spool DIR] list [--json]
 *	sluice-spool [--spool DIR] cat ID
 *	sluice-spool [--spool DIR] export OUTDIR [--maildir]
 *	sluice-spool [--spool DIR] verify
 *	sluice-spool [--spool DIR] stats
 *
 * The spool is --spool DIR, else $SLUICE_SPOOL, else ./spool. Read-only except export (which
 * writes only under OUTDIR); safe while the writer runs (it sees a snapshot; a torn tail in a
 * segment being written is reported by verify). Exit status: 0 success; 1 a problem found
 * (verify), an unknown id, an I/O error; 2 usage.
 *
 * export writes OUTDIR/ID.eml (the stored octets, Received: included) and OUTDIR/ID.json (the
 * envelope, as in list --json). With --maildir, OUTDIR becomes a Maildir (tmp/, new/, cur/)
 * and each message goes to new/ as TIME.ID.HOST with "Return-Path: <from>" first and CRLF line
 * ends turned into LF (the Maildir convention); files are written in tmp/ and renamed.
 * Quarantined messages (commit-time flag) go to OUTDIR/quarantine/ instead (a Maildir of its
 * own with --maildir). list shows " verdict=V" and " quarantine" when set.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "spool/format.h"
#include "spool/tool.h"

#define IOBUF (64u << 10)

static int usage(void)
{
	fputs("usage: sluice-spool [--spool DIR] list [--json]\n"
	      "       sluice-spool [--spool DIR] cat ID\n"
	      "       sluice-spool [--spool DIR] export OUTDIR [--maildir]\n"
	      "       sluice-spool [--spool DIR] verify\n"
	      "       sluice-spool [--spool DIR] stats\n"
	      "The spool is --spool DIR, else $SLUICE_SPOOL, else ./spool.\n",
	      stderr);
	return 2;
}

/* Prints a field for the text listing: printable ASCII as is, other octets as \xNN. */
static void text_str(FILE *f, struct spool_str s)
{
	for (size_t i = 0; i < s.n; i++) {
		unsigned char c = (unsigned char)s.p[i];

		if (c >= 0x21 && c < 0x7f && c != '\\')
			fputc(c, f);
		else
			fprintf(f, "\\x%02x", c);
	}
}

static int cmd_list(struct spool_reader *r, int json)
{
	size_t n = spool_reader_count(r);

	if (json)
		fputs(n ? "[\n" : "[", stdout);
	for (size_t i = 0; i < n; i++) {
		const struct spool_entry *e = spool_reader_entry(r, i);
		char t[64], client[96];

		if (json) {
			tool_json_entry(stdout, e);
			fputs(i + 1 < n ? ",\n" : "\n", stdout);
			continue;
		}
		spool_rfc3339(t, sizeof(t), e->env.recv_time_us);
		tool_client(client, sizeof(client), e);
		printf("%s %s %llu %s <", e->queue_id, t, (unsigned long long)e->size, client);
		text_str(stdout, e->env.mail_from);
		fputs("> ->", stdout);
		for (uint32_t k = 0; k < e->env.nrcpt; k++) {
			fputs(k ? ", <" : " <", stdout);
			text_str(stdout, e->env.rcpt[k]);
			fputc('>', stdout);
		}
		if (e->env.verdict.n) {
			fputs(" verdict=", stdout);
			text_str(stdout, e->env.verdict);
		}
		fputs(e->quarantine ? " quarantine\n" : "\n", stdout);
	}
	if (json)
		fputs("]\n", stdout);
	return 0;
}

/* Copies message e to fd; with lf, CRLF becomes LF. Returns 0 or -errno. */
static int copy_msg(struct spool_reader *r, const struct spool_entry *e, int fd, int lf)
{
	static char buf[IOBUF];
	uint64_t off = 0;
	int held_cr = 0;

	while (off < e->size) {
		long got = spool_reader_read(r, e, off, buf, sizeof(buf));
		size_t k = 0;

		if (got <= 0)
			return got < 0 ? (int)got : -EIO;
		off += (uint64_t)got;
		if (lf) { /* CRLF -> LF, a CR held back across reads */
			for (long i = 0; i < got; i++) {
				if (held_cr && buf[i] != '\n')
					buf[k++] = '\r';
				held_cr = buf[i] == '\r';
				if (!held_cr)
					buf[k++] = buf[i];
			}
		} else {
			k = (size_t)got;
		}
		for (size_t w = 0; w < k;) {
			ssize_t n = write(fd, buf + w, k - w);

			if (n < 0 && errno == EINTR)
				continue;
			if (n < 0)
				return -errno;
			w += (size_t)n;
		}
	}
	if (held_cr && write(fd, "\r", 1) != 1)
		return -EIO;
	return 0;
}

static int cmd_cat(struct spool_reader *r, const char *id)
{
	const struct spool_entry *e = spool_reader_find(r, id);
	int rc;

	if (!e) {
		fprintf(stderr, "sluice-spool: no committed message %s\n", id);
		return 1;
	}
	if ((rc = copy_msg(r, e, STDOUT_FILENO, 0)) != 0) {
		fprintf(stderr, "sluice-spool: cat %s: %s\n", id, strerror(-rc));
		return 1;
	}
	return 0;
}

static int write_file(struct spool_reader *r, const struct spool_entry *e, const char *path,
                      int maildir)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0640), rc = 0;

	if (fd < 0)
		return -errno;
	if (maildir) {
		FILE *f = fdopen(dup(fd), "w");

		if (!f) {
			close(fd);
			return -errno;
		}
		fputs("Return-Path: <", f);
		fwrite(e->env.mail_from.p, 1, e->env.mail_from.n, f);
		fputs(">\n", f);
		if (fclose(f) != 0)
			rc = -errno;
	}
	if (rc == 0)
		rc = copy_msg(r, e, fd, maildir);
	if (rc == 0 && fsync(fd) != 0)
		rc = -errno;
	close(fd);
	return rc;
}

static int export_one(struct spool_reader *r, const struct spool_entry *e, const char *top,
                      int maildir)
{
	char p[4500], q[4500], host[256] = "localhost", dir[4200];
	FILE *f;
	int rc;

	snprintf(dir, sizeof(dir), e->quarantine ? "%s/quarantine" : "%s", top);

	if (maildir) {
		gethostname(host, sizeof(host) - 1);
		for (char *c = host; *c; c++)
			if (*c == '/' || *c == ':')
				*c = '_';
		snprintf(p, sizeof(p), "%s/tmp/%llu.%s.%s", dir,
		         (unsigned long long)(e->env.recv_time_us / 1000000), e->queue_id, host);
		snprintf(q, sizeof(q), "%s/new/%llu.%s.%s", dir,
		         (unsigned long long)(e->env.recv_time_us / 1000000), e->queue_id, host);
		if ((rc = write_file(r, e, p, 1)) != 0)
			return rc;
		return rename(p, q) == 0 ? 0 : -errno;
	}
	snprintf(p, sizeof(p), "%s/%s.eml", dir, e->queue_id);
	if ((rc = write_file(r, e, p, 0)) != 0)
		return rc;
	snprintf(p, sizeof(p), "%s/%s.json", dir, e->queue_id);
	if (!(f = fopen(p, "w")))
		return -errno;
	tool_json_entry(f, e);
	fputc('\n', f);
	return fclose(f) == 0 ? 0 : -errno;
}

/* Creates dir (and tmp/, new/, cur/ for a Maildir); 0 or 1 after printing why. */
static int make_out_dir(const char *dir, int maildir)
{
	static const char *const sub[] = {"tmp", "new", "cur"};
	char p[4300];

	if (mkdir(dir, 0750) != 0 && errno != EEXIST) {
		fprintf(stderr, "sluice-spool: %s: %s\n", dir, strerror(errno));
		return 1;
	}
	for (int i = 0; maildir && i < 3; i++) {
		snprintf(p, sizeof(p), "%s/%s", dir, sub[i]);
		if (mkdir(p, 0750) != 0 && errno != EEXIST) {
			fprintf(stderr, "sluice-spool: %s: %s\n", p, strerror(errno));
			return 1;
		}
	}
	return 0;
}

static int cmd_export(struct spool_reader *r, const char *dir, int maildir)
{
	char p[4200];
	size_t n = spool_reader_count(r), nq = 0;

	if (make_out_dir(dir, maildir) != 0)
		return 1;
	for (size_t i = 0; i < n; i++)
		nq += spool_reader_entry(r, i)->quarantine;
	snprintf(p, sizeof(p), "%s/quarantine", dir);
	if (nq && make_out_dir(p, maildir) != 0)
		return 1;
	for (size_t i = 0; i < n; i++) {
		const struct spool_entry *e = spool_reader_entry(r, i);
		int rc = export_one(r, e, dir, maildir);

		if (rc != 0) {
			fprintf(stderr, "sluice-spool: export %s: %s\n", e->queue_id,
			        strerror(-rc));
			return 1;
		}
	}
	fprintf(stderr, "exported %zu messages to %s\n", n, dir);
	return 0;
}

static int cmd_verify(struct spool_reader *r)
{
	struct spool_reader_stats st;
	size_t np = spool_reader_problem_count(r);

	spool_reader_stats(r, &st);
	for (size_t i = 0; i < np; i++)
		printf("%s\n", spool_reader_problem(r, i));
	printf("%llu segments, %llu records, %llu committed messages (%llu octets): %s\n",
	       (unsigned long long)st.segments, (unsigned long long)st.records,
	       (unsigned long long)st.messages, (unsigned long long)st.msg_bytes,
	       np ? "PROBLEMS FOUND" : "all CRCs valid");
	if (np)
		printf("%llu corrupt, %llu torn\n", (unsigned long long)st.corrupt,
		       (unsigned long long)st.torn);
	return np ? 1 : 0;
}

static int cmd_stats(struct spool_reader *r)
{
	struct spool_reader_stats st;
	unsigned ids[1024], n = spool_reader_cores(r, ids, 1024);
	size_t consumed = 0;

	spool_reader_stats(r, &st);
	for (unsigned i = 0; i < n && i < 1024; i++) {
		uint64_t segs, bytes, msgs;

		spool_reader_core_stats(r, ids[i], &segs, &bytes, &msgs);
		printf("core-%u: %llu segments, %llu octets, %llu messages\n", ids[i],
		       (unsigned long long)segs, (unsigned long long)bytes,
		       (unsigned long long)msgs);
	}
	for (size_t i = 0; i < spool_reader_count(r); i++)
		consumed += spool_reader_entry(r, i)->consumed;
	printf("total: %llu segments, %llu octets; %llu messages (%llu octets), %zu consumed; "
	       "%llu uncommitted, %llu aborted; %llu torn, %llu corrupt\n",
	       (unsigned long long)st.segments, (unsigned long long)st.seg_bytes,
	       (unsigned long long)st.messages, (unsigned long long)st.msg_bytes, consumed,
	       (unsigned long long)st.pending, (unsigned long long)st.aborted,
	       (unsigned long long)st.torn, (unsigned long long)st.corrupt);
	return 0;
}

struct args {
	const char *spool, *cmd, *arg;
	int json, maildir;
};

static int parse(int argc, char **argv, struct args *a)
{
	memset(a, 0, sizeof(*a));
	a->spool = getenv("SLUICE_SPOOL");
	if (!a->spool || !*a->spool)
		a->spool = "spool";
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--spool") == 0 && i + 1 < argc)
			a->spool = argv[++i];
		else if (strncmp(argv[i], "--spool=", 8) == 0)
			a->spool = argv[i] + 8;
		else if (strcmp(argv[i], "--json") == 0)
			a->json = 1;
		else if (strcmp(argv[i], "--maildir") == 0)
			a->maildir = 1;
		else if (argv[i][0] == '-' && argv[i][1])
			return -1;
		else if (!a->cmd)
			a->cmd = argv[i];
		else if (!a->arg)
			a->arg = argv[i];
		else
			return -1;
	}
	return a->cmd ? 0 : -1;
}

int main(int argc, char **argv)
{
	struct spool_reader *r;
	struct args a;
	int rc;

	if (parse(argc, argv, &a) != 0)
		return usage();
	if ((strcmp(a.cmd, "cat") == 0 || strcmp(a.cmd, "export") == 0) != (a.arg != NULL))
		return usage();
	if ((rc = spool_reader_open(&r, a.spool)) != 0) {
		fprintf(stderr, "sluice-spool: %s: %s\n", a.spool, strerror(-rc));
		return 1;
	}
	if (strcmp(a.cmd, "list") == 0)
		rc = cmd_list(r, a.json);
	else if (strcmp(a.cmd, "cat") == 0)
		rc = cmd_cat(r, a.arg);
	else if (strcmp(a.cmd, "export") == 0)
		rc = cmd_export(r, a.arg, a.maildir);
	else if (strcmp(a.cmd, "verify") == 0)
		rc = cmd_verify(r);
	else if (strcmp(a.cmd, "stats") == 0)
		rc = cmd_stats(r);
	else
		rc = usage();
	spool_reader_close(r);
	if (fflush(stdout) != 0 && rc == 0)
		rc = 1;
	return rc;
}
