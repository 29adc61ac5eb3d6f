/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * xct's metrics in the Prometheus text exposition format, for xct metrics
 * (node_exporter's textfile collector) and xctd's /metrics.
 */
#ifndef XCT_METRICS_H
#define XCT_METRICS_H

#include <stdio.h>

#include "daemon/daemon.h"

#define XCT_METRICS_CONTENT_TYPE "text/plain; version=0.0.4; charset=utf-8"

struct xctd_sync_report;

/* Writes every metric of the xct under pin_path, and xctd's own when st
 * is given, its sync link's when st->sync is.  0, or -errno after a
 * message (nothing written) when xct is not attached there. */
int xct_metrics_write(FILE *f, const char *pin_path, const struct xctd_stats *st);

#endif /* XCT_METRICS_H */
