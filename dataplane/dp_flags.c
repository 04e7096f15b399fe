/* SPDX-License-Identifier: MIT */
/*
 * dp_flags.c - the sluiced command line: parses flags into struct dp_flags (applied over the
 * configuration files by dp_conf_finish) and prints --help and --version.
 *
 * Public function (dp_config.h): dp_flags_parse.
 *
 * Errors: -EINVAL with a message naming the flag; 1 when --help or --version was printed (the
 * caller exits 0). No file is read here.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "dataplane/dp_config.h"

#ifndef SLUICE_VERSION
#define SLUICE_VERSION "unknown"
#endif

static const char usage[] =
    "Usage: sluiced [OPTIONS]\n"
    "Sluice SMTP ingestion daemon (kernel sockets + io_uring backend).\n"
    "\n"
    "  --config FILE            global configuration file (default: none, built-in values)\n"
    "  --listen ADDR:PORT       listen address; repeatable; IPv6 as [::1]:2525\n"
    "                           (default 127.0.0.1:2525)\n"
    "  --spool DIR              spool directory (default ./spool)\n"
    "  --workers N              worker threads, one per core (default: one per core file,\n"
    "                           else 1)\n"
    "  --hostname NAME          name in the greeting and Received: (default: gethostname)\n"
    "  --max-message-size BYTES largest message accepted (suffixes k, M, G)\n"
    "  --backend uring|dpdk     packet I/O backend (default uring)\n"
    "  --metrics ADDR:PORT      serve Prometheus metrics over HTTP on this address\n"
    "  --user NAME              user to run as after binding when started as root\n"
    "  --policy FILE            policy rules file (docs/POLICY.md); default: policy off\n"
    "                           (default nobody; '-' keeps the current user)\n"
    "  --help                   this text\n"
    "  --version                print the version\n"
    "\n"
    "Signals: TERM/INT drain and exit 0; HUP reloads limits, timeouts, protocol settings\n"
    "and the log level. Keys and defaults: docs/CONFIG.md.\n";

enum {
	OPT_CONFIG = 256,
	OPT_LISTEN,
	OPT_SPOOL,
	OPT_WORKERS,
	OPT_HOSTNAME,
	OPT_MAXSIZE,
	OPT_BACKEND,
	OPT_METRICS,
	OPT_USER,
	OPT_POLICY,
	OPT_HELP,
	OPT_VERSION,
};

static const struct option options[] = {
    {"config", required_argument, NULL, OPT_CONFIG},
    {"listen", required_argument, NULL, OPT_LISTEN},
    {"spool", required_argument, NULL, OPT_SPOOL},
    {"workers", required_argument, NULL, OPT_WORKERS},
    {"hostname", required_argument, NULL, OPT_HOSTNAME},
    {"max-message-size", required_argument, NULL, OPT_MAXSIZE},
    {"backend", required_argument, NULL, OPT_BACKEND},
    {"metrics", required_argument, NULL, OPT_METRICS},
    {"user", required_argument, NULL, OPT_USER},
    {"policy", required_argument, NULL, OPT_POLICY},
    {"help", no_argument, NULL, OPT_HELP},
    {"version", no_argument, NULL, OPT_VERSION},
    {NULL, 0, NULL, 0},
};

static int copy_str(char *dst, size_t cap, const char *v, const char *flag, char *err,
                    size_t errlen)
{
	size_t len = strlen(v);

	if (len == 0 || len >= cap)
		return snprintf(err, errlen, "--%s: %s", flag, len ? "too long" : "empty"), -EINVAL;
	memcpy(dst, v, len + 1);
	return 0;
}

static int one_flag(struct dp_flags *f, int opt, const char *v, char *err, size_t errlen)
{
	uint64_t x;

	switch (opt) {
	case OPT_CONFIG:
		return copy_str(f->config, sizeof(f->config), v, "config", err, errlen);
	case OPT_LISTEN:
		if (f->nlisten == DP_LISTEN_MAX)
			return snprintf(err, errlen, "--listen: more than %d", DP_LISTEN_MAX),
			       -EINVAL;
		if (dp_addr_parse(&f->listen[f->nlisten], v) != 0)
			return snprintf(err, errlen, "--listen: '%s' is not ADDR:PORT", v), -EINVAL;
		f->nlisten++;
		return 0;
	case OPT_SPOOL:
		return copy_str(f->spool, sizeof(f->spool), v, "spool", err, errlen);
	case OPT_WORKERS:
		if (dp_parse_u64(v, &x) != 0 || x < 1 || x > DP_WORKERS_MAX)
			return snprintf(err, errlen, "--workers: '%s' is not 1..%d", v,
			                DP_WORKERS_MAX),
			       -EINVAL;
		f->workers = (unsigned)x;
		return 0;
	case OPT_HOSTNAME:
		return copy_str(f->hostname, sizeof(f->hostname), v, "hostname", err, errlen);
	case OPT_MAXSIZE:
		if (dp_parse_size(v, &f->max_message_size) != 0)
			return snprintf(err, errlen, "--max-message-size: '%s' is not a size", v),
			       -EINVAL;
		f->have_max_message_size = 1;
		return 0;
	case OPT_BACKEND:
		if (strcmp(v, "uring") == 0)
			f->backend = DP_BACKEND_URING;
		else if (strcmp(v, "dpdk") == 0)
			f->backend = DP_BACKEND_DPDK;
		else
			return snprintf(err, errlen, "--backend: '%s' is not uring or dpdk", v),
			       -EINVAL;
		return 0;
	case OPT_METRICS:
		if (dp_addr_parse(&f->metrics, v) != 0)
			return snprintf(err, errlen, "--metrics: '%s' is not ADDR:PORT", v),
			       -EINVAL;
		f->have_metrics = 1;
		return 0;
	case OPT_USER:
		f->have_user = 1;
		return copy_str(f->user, sizeof(f->user), v, "user", err, errlen);
	case OPT_POLICY:
		return copy_str(f->policy, sizeof(f->policy), v, "policy", err, errlen);
	default:
		return snprintf(err, errlen, "unknown option (see --help)"), -EINVAL;
	}
}

int dp_flags_parse(struct dp_flags *f, int argc, char **argv, char *err, size_t errlen)
{
	int opt, rc;

	memset(f, 0, sizeof(*f));
	f->backend = -1;
	optind = 1;
	opterr = 0;
	while ((opt = getopt_long(argc, argv, "", options, NULL)) != -1) {
		if (opt == OPT_HELP) {
			fputs(usage, stdout);
			return 1;
		}
		if (opt == OPT_VERSION) {
			printf("sluiced %s (backends: uring)\n", SLUICE_VERSION);
			return 1;
		}
		if (opt == '?' || opt == ':') {
			snprintf(err, errlen, "%s: unknown option or missing value (see --help)",
			         argv[optind - 1]);
			return -EINVAL;
		}
		rc = one_flag(f, opt, optarg, err, errlen);
		if (rc)
			return rc;
	}
	if (optind < argc)
		return snprintf(err, errlen, "unexpected argument '%s'", argv[optind]), -EINVAL;
	return 0;
}
