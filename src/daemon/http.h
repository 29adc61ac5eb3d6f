/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * xctd's metrics endpoint: GET /metrics over HTTP/1.1, one request per
 * connection, the Prometheus text format (src/metrics.c).
 */
#ifndef XCT_DAEMON_HTTP_H
#define XCT_DAEMON_HTTP_H

#include "daemon/daemon.h"

/* A listening TCP socket on ADDR:PORT ([ADDR]:PORT for IPv6), or -errno
 * after a message. */
int xctd_http_listen(const char *addr);

struct xctd_sync_report;

/* Accepts one connection on lsock and answers its request; sync, the
 * sync link's counters, NULL without one. */
void xctd_http_serve(int lsock, const char *pin_path, const struct xctd_stream_stats *st,
		     const struct xctd_sync_report *sync);

#endif /* XCT_DAEMON_HTTP_H */
