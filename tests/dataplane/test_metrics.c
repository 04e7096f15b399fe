/* SPDX-License-Identifier: MIT */
/*
 * test_metrics.c - the Prometheus exposition of dataplane/dp_metrics.c: counters of two
 * workers summed, labelled series, the cumulative commit-latency histogram, -ENOSPC for a
 * buffer too small, and (with libmicrohttpd) GET /metrics over HTTP on loopback.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include "dataplane/dp_metrics.h"
#include "dataplane/dp_worker.h"
#include "tests/dataplane/dp_test.h"

static struct dp_worker *wk[2];

static void fill(void)
{
	for (int i = 0; i < 2; i++) {
		wk[i] = aligned_alloc(DP_CACHELINE, sizeof(struct dp_worker));
		REQUIRE(wk[i], "alloc");
		memset(wk[i], 0, sizeof(struct dp_worker));
	}
	wk[0]->cnt.conn_accepted = 5;
	wk[1]->cnt.conn_accepted = 2;
	wk[0]->cnt.conn_closed = 4;
	wk[1]->cnt.conn_closed = 1;
	wk[0]->cnt.msg_queued = 3;
	wk[1]->cnt.msg_queued = 2;
	wk[1]->cnt.msg_tempfail = 1;
	wk[0]->cnt.replies[2] = 10;
	wk[1]->cnt.replies[5] = 1;
	wk[0]->cnt.commit_hist[0] = 1;               /* <= 50 us */
	wk[1]->cnt.commit_hist[4] = 2;               /* <= 1 ms */
	wk[0]->cnt.commit_hist[DP_HIST_BUCKETS] = 1; /* > 1 s */
	wk[0]->cnt.commit_count = 4;
	wk[0]->cnt.commit_sum_us = 2500000;
}

static void test_render(void)
{
	static char buf[65536];
	int n = dp_metrics_render(wk, 2, buf, sizeof(buf));
	static const char *const want[] = {
	    ("# TYPE sluice_connections_accepted_total counter\n"
	     "sluice_connections_accepted_total 7\n"),
	    "sluice_connections_open 2\n",
	    "sluice_messages_total{result=\"queued\"} 5\n",
	    "sluice_messages_total{result=\"tempfail\"} 1\n",
	    "sluice_replies_total{class=\"2xx\"} 10\n",
	    "sluice_replies_total{class=\"5xx\"} 1\n",
	    "sluice_spool_commit_seconds_bucket{le=\"5e-05\"} 1\n",
	    "sluice_spool_commit_seconds_bucket{le=\"0.0005\"} 1\n",
	    "sluice_spool_commit_seconds_bucket{le=\"0.001\"} 3\n",
	    "sluice_spool_commit_seconds_bucket{le=\"1\"} 3\n",
	    "sluice_spool_commit_seconds_bucket{le=\"+Inf\"} 4\n",
	    "sluice_spool_commit_seconds_sum 2.500000\n",
	    "sluice_spool_commit_seconds_count 4\n",
	    "sluice_worker_connections_open{worker=\"0\"} 1\n",
	    "sluice_worker_connections_open{worker=\"1\"} 1\n",
	};

	REQUIRE(n > 0, "render %d", n);
	buf[n] = '\0';
	for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++)
		CHECK(strstr(buf, want[i]), "missing:\n%s", want[i]);
	CHECK(dp_metrics_render(wk, 2, buf, 200) == -ENOSPC, "small buffer");
}

static int free_port(void)
{
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t len = sizeof(a);
	int fd = socket(AF_INET, SOCK_STREAM, 0), port = -1;

	if (fd >= 0 && bind(fd, (struct sockaddr *)&a, sizeof(a)) == 0 &&
	    getsockname(fd, (struct sockaddr *)&a, &len) == 0)
		port = ntohs(a.sin_port);
	close(fd);
	return port;
}

static void test_http(void)
{
	struct dp_metrics_srv srv = {0};
	struct dp_addr addr;
	char text[64], err[256], buf[65536];
	size_t got = 0;
	ssize_t n;
	int fd, port = free_port(), rc;
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	static const char req[] = "GET /metrics HTTP/1.0\r\nHost: x\r\n\r\n";

	snprintf(text, sizeof(text), "127.0.0.1:%d", port);
	REQUIRE(dp_addr_parse(&addr, text) == 0, "addr");
	rc = dp_metrics_start(&srv, &addr, wk, 2, err, sizeof(err));
	if (rc == -ENOTSUP) {
		printf("note: built without libmicrohttpd; HTTP part skipped\n");
		return;
	}
	REQUIRE(rc == 0, "start: %s", err);
	fd = socket(AF_INET, SOCK_STREAM, 0);
	a.sin_port = htons((uint16_t)port);
	REQUIRE(connect(fd, (struct sockaddr *)&a, sizeof(a)) == 0, "connect");
	REQUIRE(write(fd, req, sizeof(req) - 1) == (ssize_t)sizeof(req) - 1, "write");
	while ((n = read(fd, buf + got, sizeof(buf) - 1 - got)) > 0)
		got += (size_t)n;
	buf[got] = '\0';
	close(fd);
	CHECK(strncmp(buf, "HTTP/1.0 200", 12) == 0 || strncmp(buf, "HTTP/1.1 200", 12) == 0,
	      "status: %.40s", buf);
	CHECK(strstr(buf, "text/plain; version=0.0.4"), "content type");
	CHECK(strstr(buf, "\nsluice_connections_accepted_total 7\n"), "body");
	dp_metrics_stop(&srv);
}

int main(void)
{
	fill();
	test_render();
	test_http();
	free(wk[0]);
	free(wk[1]);
	return dp_test_finish("test_metrics");
}
