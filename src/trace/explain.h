/* SPDX-License-Identifier: GPL-2.0-only */
/* Short explanations of the kernel's drop and reset reasons, by name. */
#ifndef XCT_TRACE_EXPLAIN_H
#define XCT_TRACE_EXPLAIN_H

/* The explanation of a drop reason ("NO_SOCKET"), or NULL. */
const char *xct_drop_explain(const char *name);

/* The explanation of a reset reason, or NULL. */
const char *xct_reset_explain(const char *name);

/* A kernel socket state (TCP_ESTABLISHED...) without its prefix. */
const char *xct_tcp_sk_state_name(int state);

#endif /* XCT_TRACE_EXPLAIN_H */
