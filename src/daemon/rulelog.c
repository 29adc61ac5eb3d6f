// SPDX-License-Identifier: GPL-2.0-only
/*
 * Rules' log statements to the journal (rulelog.h).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <limits.h>
#include <net/if.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <unistd.h>
#include <bpf/bpf.h>

#include "daemon/rulelog.h"
#include "xct/parse.h"
#include "xct/policy.h"

static const char *proto_word(__u8 proto, char *buf, size_t len)
{
	switch (proto) {
	case XCT_IPPROTO_TCP:
		return "TCP";
	case XCT_IPPROTO_UDP:
		return "UDP";
	case XCT_IPPROTO_ICMP:
		return "ICMP";
	case XCT_IPPROTO_ICMPV6:
		return "ICMPv6";
	}
	snprintf(buf, len, "%u", proto);
	return buf;
}

int xctd_rulelog_format(char *buf, size_t len, const char *prefix, const char *ifname,
			const struct xct_event *ev)
{
	char src[INET6_ADDRSTRLEN], dst[INET6_ADDRSTRLEN], pbuf[8];
	int af = ev->family == XCT_AF_INET6 ? AF_INET6 : AF_INET;
	bool out = ev->hook == XCT_HOOK_EGRESS;
	int n;

	inet_ntop(af, &ev->src, src, sizeof(src));
	inet_ntop(af, &ev->dst, dst, sizeof(dst));
	/* nf_log's order; its prefix is followed by IN= with nothing between. */
	n = snprintf(buf, len, "%sIN=%s OUT=%s SRC=%s DST=%s LEN=%u PROTO=%s", prefix,
		     out ? "" : ifname, out ? ifname : "", src, dst, ev->len,
		     proto_word(ev->proto, pbuf, sizeof(pbuf)));
	if (n < 0 || (size_t)n >= len)
		return n;
	if (ev->proto == XCT_IPPROTO_TCP || ev->proto == XCT_IPPROTO_UDP)
		n += snprintf(buf + n, len - n, " SPT=%u DPT=%u", ev->sport, ev->dport);
	else if (ev->proto == XCT_IPPROTO_ICMP || ev->proto == XCT_IPPROTO_ICMPV6)
		n += snprintf(buf + n, len - n, " TYPE=%u CODE=%u", ev->sport >> 8, ev->sport & 0xff);
	return n;
}

/* The pinned map name under the pin path, opened; -errno. */
static int pinned(const char *pin_path, const char *name)
{
	char path[PATH_MAX];
	int fd;

	snprintf(path, sizeof(path), "%s/%s", pin_path, name);
	fd = bpf_obj_get(path);
	return fd < 0 ? -errno : fd;
}

/* The prefixes and levels of the active ruleset's log rules, when the
 * ruleset changed since they were read. */
static void refresh(struct xctd_rulelog *l)
{
	struct xct_policy_ctl ctl;
	struct xctd_rulelog_rule *rules = NULL, r;
	__u32 zero = 0, gen, i;
	size_t n = 0;
	int ctl_fd, text_fd;

	ctl_fd = pinned(l->pin_path, "xct_policy_ctl");
	if (ctl_fd < 0)
		return;
	if (bpf_map_lookup_elem(ctl_fd, &zero, &ctl) || ctl.load_serial == l->serial) {
		close(ctl_fd);
		return;
	}
	close(ctl_fd);
	text_fd = pinned(l->pin_path, "xct_rule_text");
	if (text_fd < 0)
		return;
	gen = ctl.active_gen & 1;
	for (i = 0; i < ctl.gen[gen].n_rules && i < XCT_RULES_MAX - 1; i++) {
		__u32 key = gen << 16 | i;
		struct xct_rule_text t;
		void *grown;

		if (bpf_map_lookup_elem(text_fd, &key, &t))
			continue;
		t.text[sizeof(t.text) - 1] = '\0';
		if (xct_rule_log_options(t.text, r.prefix, sizeof(r.prefix), &r.level))
			continue;
		r.line = t.line;
		grown = realloc(rules, (n + 1) * sizeof(*rules));
		if (!grown)
			break;
		rules = grown;
		rules[n++] = r;
	}
	close(text_fd);
	free(l->rules);
	l->rules = rules;
	l->n = n;
	l->serial = ctl.load_serial;
}

static const struct xctd_rulelog_rule *find(const struct xctd_rulelog *l, __u32 line)
{
	size_t i;

	for (i = 0; i < l->n; i++)
		if (l->rules[i].line == line)
			return &l->rules[i];
	return NULL;
}

void xctd_rulelog_event(struct xctd_rulelog *l, const void *data, size_t size)
{
	const struct xct_event *ev = data;
	const struct xctd_rulelog_rule *r;
	char ifname[IF_NAMESIZE] = "?", line[512];

	if (!l->on || size < sizeof(*ev) || ev->type != XCT_EV_RULE_LOG)
		return;
	refresh(l);
	r = find(l, ev->line);
	if (!r)
		l->unknown++;
	if_indextoname(ev->ifindex, ifname);
	xctd_rulelog_format(line, sizeof(line), r ? r->prefix : "", ifname, ev);
	syslog(LOG_DAEMON | (r ? r->level : LOG_WARNING), "%s", line);
	l->written++;
}

void xctd_rulelog_free(struct xctd_rulelog *l)
{
	free(l->rules);
	l->rules = NULL;
	l->n = 0;
}
