/* SPDX-License-Identifier: MIT */
/*
 * dp_config.h - the daemon's configuration: the global file (conf/sluice.conf), one file per
 * worker (conf/cores/ *.conf) and command-line flags, merged into one struct dp_conf.
 *
 * Order of precedence, lowest first: built-in defaults; the global file; the worker's own
 * file under the cores directory; command-line flags. Every key and its default is listed in
 * docs/CONFIG.md.
 *
 * Public functions:
 *   dp_conf_defaults()   fill a dp_conf with built-in defaults (no file read);
 *   dp_conf_load()       read the global file and the core files it points at;
 *   dp_conf_finish()     apply flags, size the worker array, check cross-key constraints;
 *   dp_conf_free()       release the worker array;
 *   dp_addr_parse()      "1.2.3.4:25", "[::1]:2525" -> sockaddr; dp_addr_format() back.
 *
 * Errors: functions return 0 or -errno and write one human-readable message into the caller's
 * err buffer, naming file, line and key ("conf/sluice.conf:12: [smtp] max_line: ..."). Nothing
 * is printed here. The struct owns its workers array (dp_conf_free).
 *
 * Limits: DP_LISTEN_MAX addresses per worker, DP_WORKERS_MAX workers, lines of the files at
 * most 199 characters (inih's line buffer; longer lines are an error, not truncated).
 */
#ifndef SLUICE_DATAPLANE_DP_CONFIG_H
#define SLUICE_DATAPLANE_DP_CONFIG_H

#include <limits.h>
#include <stdint.h>
#include <sys/socket.h>

#include "parser/smtp.h"
#include "spool/spool.h"

#define DP_LISTEN_MAX  16
#define DP_WORKERS_MAX 256
#define DP_ADDR_TEXT   64 /* "[ffff:...:ffff]:65535" and a NUL */
#define DP_USER_MAX    64

enum dp_backend { DP_BACKEND_URING = 0, DP_BACKEND_DPDK = 1 };
enum dp_log_target { DP_LOG_STDERR = 0, DP_LOG_SYSLOG = 1 };
enum dp_log_level { DP_LOG_ERROR = 0, DP_LOG_WARNING, DP_LOG_INFO, DP_LOG_DEBUG };

struct dp_addr {
	struct sockaddr_storage ss;
	socklen_t len;
	char text[DP_ADDR_TEXT];
};

/* Limits and timeouts: reloadable on SIGHUP (see docs/CONFIG.md). Times in milliseconds. */
struct dp_limits {
	uint32_t max_conns;              /* open connections per worker */
	uint32_t max_conns_per_client;   /* per worker and client address; 0 = no limit */
	uint32_t cmd_timeout_ms;         /* idle between commands (and waiting to send) */
	uint32_t data_timeout_ms;        /* idle inside DATA / BDAT */
	uint32_t session_timeout_ms;     /* whole connection; 0 = none */
	uint32_t min_data_rate;          /* bytes/s averaged over a DATA body; 0 = none */
	uint32_t min_data_rate_grace_ms; /* the rate is enforced after this much of DATA */
};

/* What one worker (one core) runs with. */
struct dp_worker_conf {
	char file[PATH_MAX]; /* its core file, or "" */
	int cpu;             /* CPU to pin to; -1 = not pinned */
	unsigned nlisten;
	struct dp_addr listen[DP_LISTEN_MAX];
	struct dp_limits limits;
	uint32_t ring_entries;     /* io_uring submission queue size */
	uint32_t recv_buffers;     /* provided receive buffers (power of two) */
	uint32_t recv_buffer_size; /* bytes each */
	uint32_t conn_rx_size;     /* per-connection receive buffer (unconsumed input) */
	uint32_t conn_tx_size;     /* per-connection reply buffer */
	uint32_t envelope_size;    /* per-connection copy of HELO, MAIL, RCPT strings */
	struct spool_config spool;
};

/* [dpdk]: the DPDK backend (docs/CONFIG.md); strings are parsed by dataplane/dpdk/. */
struct dp_dpdk_conf {
	char eal_args[192]; /* extra EAL arguments, split on spaces */
	char port[192];     /* device: vdev args ("net_af_packet0,iface=eth1") or a PCI address */
	char address[16];   /* IPv4 of the port; "" = the first [listen] address */
	char netmask[16];   /* default 255.255.255.0 */
	char gateway[16];   /* "" = every peer on-link */
};

struct dp_conf {
	char file[PATH_MAX];      /* global file read, or "" */
	char cores_dir[PATH_MAX]; /* resolved directory of core files, or "" */
	uint8_t backend;          /* enum dp_backend */
	uint8_t log_target;       /* enum dp_log_target */
	uint8_t log_level;        /* enum dp_log_level */
	uint8_t metrics_on;
	char user[DP_USER_MAX]; /* "" = see docs/CONFIG.md ("nobody" when root) */
	char syslog_socket[108];
	uint32_t shutdown_timeout_ms;
	unsigned workers; /* 0 = one per core file, or 1 */
	struct dp_addr metrics;
	struct smtp_config smtp;
	struct dp_dpdk_conf dpdk;
	char policy_rules[PATH_MAX];     /* [policy] rules: the rules file; "" = policy off */
	char policy_cache_dir[PATH_MAX]; /* [policy] cache_dir: compiled databases; "" = none */
	struct dp_worker_conf wdef;      /* worker defaults (global file) */
	unsigned nworkers;
	struct dp_worker_conf *w; /* nworkers entries, after dp_conf_finish() */
};

/* Command-line overrides; unset fields stay zero / empty. */
struct dp_flags {
	char config[PATH_MAX];
	unsigned nlisten;
	struct dp_addr listen[DP_LISTEN_MAX];
	char spool[sizeof(((struct spool_config *)0)->dir)];
	unsigned workers;
	char hostname[SMTP_HOSTNAME_MAX + 1];
	uint64_t max_message_size;
	uint8_t have_max_message_size;
	int8_t backend; /* -1 = not given */
	uint8_t have_metrics;
	struct dp_addr metrics;
	char user[DP_USER_MAX];
	uint8_t have_user;
	char policy[PATH_MAX]; /* --policy FILE */
};

void dp_conf_defaults(struct dp_conf *c);
int dp_conf_load(struct dp_conf *c, const char *path, char *err, size_t errlen);
int dp_conf_finish(struct dp_conf *c, const struct dp_flags *f, char *err, size_t errlen);
void dp_conf_free(struct dp_conf *c);

/* Copy the reloadable settings of src into dst (both finished configurations). */
void dp_conf_reloadable(struct dp_conf *dst, const struct dp_conf *src);

/* Parse "flags" from argv. Returns 0, 1 when --help/--version printed, or -EINVAL (err set). */
int dp_flags_parse(struct dp_flags *f, int argc, char **argv, char *err, size_t errlen);

int dp_addr_parse(struct dp_addr *a, const char *text);
void dp_addr_format(const struct sockaddr *sa, char *out, size_t outlen);

/* Value parsers shared by the config reader and flags: 0 or -EINVAL / -ERANGE. */
int dp_parse_u64(const char *s, uint64_t *out);
int dp_parse_size(const char *s, uint64_t *out);        /* 10k, 64M, 1G (powers of 1024) */
int dp_parse_duration_ms(const char *s, uint64_t *out); /* 250ms, 30s, 5m, 1h; bare = s */

#endif
