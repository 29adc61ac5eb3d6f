/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The journal lines of rules with 'log', as nftables' log statement writes
 * them to the kernel's log: each packet a rule logs (xct events' stream)
 * becomes one syslog message of facility daemon at the rule's level, the
 * rule's prefix and then nf_log's KEY=VALUE fields that xct's event
 * carries (IN= OUT= SRC= DST= LEN= PROTO= SPT= DPT=, or TYPE= CODE= for
 * ICMP), so that what reads nft's log lines reads these.  The prefix and
 * level are read back from the rule's text, which the datapath keeps
 * beside the rule (xct_rule_text), once per ruleset load.
 */
#ifndef XCT_DAEMON_RULELOG_H
#define XCT_DAEMON_RULELOG_H

#include <stdbool.h>
#include <stddef.h>
#include <linux/types.h>

#include "rules/ruleset.h"
#include "xct/abi.h"

struct xctd_rulelog_rule {
	__u32 line;
	int level;
	char prefix[XCT_LOG_PREFIX_MAX + 1];
};

struct xctd_rulelog {
	bool on;
	const char *pin_path;
	__u64 serial; /* the ruleset load the rules below are of; 0: none read */
	struct xctd_rulelog_rule *rules;
	size_t n;
	__u64 written; /* lines sent to syslog */
	__u64 unknown; /* events of a rule no longer loaded: written without a prefix */
};

/* The line for one event (prefix and interface name as found), without a
 * newline; its length, as snprintf's. */
int xctd_rulelog_format(char *buf, size_t len, const char *prefix, const char *ifname,
			const struct xct_event *ev);

/* One event of the events stream: a rule's log is written to syslog. */
void xctd_rulelog_event(struct xctd_rulelog *l, const void *data, size_t size);

void xctd_rulelog_free(struct xctd_rulelog *l);

#endif /* XCT_DAEMON_RULELOG_H */
