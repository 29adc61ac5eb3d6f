// SPDX-License-Identifier: GPL-2.0-only
/*
 * The xct.conf parser.  The format is INI-like, line by line: '#' starts a
 * comment (at the start of a line, or after white space), "key = value"
 * sets a key, "[section]" starts a section.  Keys before the first section
 * are global; "[interface NAME]" may repeat, once per interface.  Every
 * value is checked here, so a file that loads is one `xct up` can apply;
 * the first mistake is reported with its line and column, and nothing of
 * the file is kept.
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "zones.h"
#include "ct_format.h"
#include "xct/abi.h"

/* A configuration file is a page or two; anything this big is a mistake. */
#define XCT_CONFIG_FILE_MAX (1 << 20)

enum section {
	SEC_GLOBAL,
	SEC_INTERFACE,
	SEC_TIMEOUTS,
	SEC_DAEMON,
	SEC_SYNC,
};

/* Keys of the global, [daemon] and [sync] sections, for duplicate detection. */
enum key {
	KEY_PIN_PATH,
	KEY_RULES,
	KEY_TABLE_SIZE,
	KEY_EVENTS_RING_SIZE,
	KEY_STATE_FILE,
	KEY_SOCKET,
	KEY_METRICS_LISTEN,
	KEY_IPFIX_COLLECTOR,
	KEY_IPFIX_DOMAIN,
	KEY_FLOW_LOG,
	KEY_FLOW_LOG_MAX_SIZE,
	KEY_RULE_LOG,
	KEY_MODE,
	KEY_ZONE,
	KEY_SYNC_PEER,
	KEY_SYNC_LISTEN,
	KEY_SYNC_TRANSPORT,
	KEY_SYNC_MULTICAST,
	KEY_SYNC_INTERFACE,
	KEY_SYNC_MODE,
	KEY_SYNC_IGNORE,
	KEY_SYNC_STATE_ACCEPT,
	KEY_SYNC_COMMIT_ON_RECEIVE,
	KEY_MAX,
};

static const struct {
	const char *name;
	enum section sec;
} keys[KEY_MAX] = {
	[KEY_PIN_PATH] = {"pin-path", SEC_GLOBAL},
	[KEY_RULES] = {"rules", SEC_GLOBAL},
	[KEY_TABLE_SIZE] = {"table-size", SEC_GLOBAL},
	[KEY_EVENTS_RING_SIZE] = {"events-ring-size", SEC_GLOBAL},
	[KEY_STATE_FILE] = {"state-file", SEC_GLOBAL},
	[KEY_SOCKET] = {"socket", SEC_DAEMON},
	[KEY_METRICS_LISTEN] = {"metrics-listen", SEC_DAEMON},
	[KEY_IPFIX_COLLECTOR] = {"ipfix-collector", SEC_DAEMON},
	[KEY_IPFIX_DOMAIN] = {"ipfix-domain", SEC_DAEMON},
	[KEY_FLOW_LOG] = {"flow-log", SEC_DAEMON},
	[KEY_FLOW_LOG_MAX_SIZE] = {"flow-log-max-size", SEC_DAEMON},
	[KEY_RULE_LOG] = {"rule-log", SEC_DAEMON},
	[KEY_MODE] = {"mode", SEC_INTERFACE},
	[KEY_ZONE] = {"zone", SEC_INTERFACE},
	[KEY_SYNC_PEER] = {"peer", SEC_SYNC},
	[KEY_SYNC_LISTEN] = {"listen", SEC_SYNC},
	[KEY_SYNC_TRANSPORT] = {"transport", SEC_SYNC},
	[KEY_SYNC_MULTICAST] = {"multicast", SEC_SYNC},
	[KEY_SYNC_INTERFACE] = {"interface", SEC_SYNC},
	[KEY_SYNC_MODE] = {"mode", SEC_SYNC},
	[KEY_SYNC_IGNORE] = {"ignore-address", SEC_SYNC},
	[KEY_SYNC_STATE_ACCEPT] = {"state-accept", SEC_SYNC},
	[KEY_SYNC_COMMIT_ON_RECEIVE] = {"commit-on-receive", SEC_SYNC},
};

struct parser {
	const char *file;
	unsigned int line;
	const char *line_start;
	char *err;
	size_t errlen;
	struct xct_config *cfg;
	enum section sec;
	struct xct_config_iface *iface; /* the current [interface] */
	__u32 seen;			/* bit per enum key, reset per section */
};

static int perr(struct parser *p, const char *at, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* "FILE:LINE:COLUMN: message", the column of at (1-based). */
static int perr(struct parser *p, const char *at, const char *fmt, ...)
{
	va_list ap;
	int n;

	n = snprintf(p->err, p->errlen, "%s:%u:%u: ", p->file, p->line,
		     (unsigned int)(at - p->line_start) + 1);
	if (n >= 0 && (size_t)n < p->errlen) {
		va_start(ap, fmt);
		vsnprintf(p->err + n, p->errlen - (size_t)n, fmt, ap);
		va_end(ap);
	}
	return -EINVAL;
}

int xct_tunable_by_name(const char *name)
{
	int i;

	for (i = 0; i < XCT_TUNABLE_MAX; i++)
		if (!strcmp(name, xct_tunable_info[i].name))
			return i;
	return -1;
}

const char *xct_config_mode_name(__u32 mode)
{
	switch (mode) {
	case XCT_MODE_NATIVE:
		return "native";
	case XCT_MODE_GENERIC:
		return "generic";
	case XCT_MODE_TC:
		return "tc";
	}
	return "none";
}

static void config_defaults(struct xct_config *cfg, const char *file)
{
	int i;

	memset(cfg, 0, sizeof(*cfg));
	snprintf(cfg->path, sizeof(cfg->path), "%s", file);
	snprintf(cfg->rules, sizeof(cfg->rules), "%s", XCT_CONFIG_RULES_DEFAULT);
	cfg->daemon.rule_log = -1;
	for (i = 0; i < XCT_TUNABLE_MAX; i++)
		cfg->tunables[i] = xct_tunable_info[i].def;
}

/* A decimal number in [min, max], as the whole value. */
static int parse_num(struct parser *p, const char *v, __u64 min, __u64 max, __u64 *out)
{
	unsigned long long n;
	char *end;

	if (!isdigit((unsigned char)*v))
		return perr(p, v, "'%s' is not a number", v);
	errno = 0;
	n = strtoull(v, &end, 10);
	if (*end)
		return perr(p, end, "'%s' is not a number", v);
	if (errno || n < min || n > max)
		return perr(p, v, "%s is out of range (%llu to %llu)", v, (unsigned long long)min,
			    (unsigned long long)max);
	*out = n;
	return 0;
}

/* A byte count with an optional K, M or G suffix (powers of 1024). */
static int parse_size(struct parser *p, const char *v, __u64 min, __u64 max, __u64 *out)
{
	static const char suffixes[] = "KMG";
	char buf[32];
	size_t len = strlen(v);
	const char *s;
	__u64 n;
	int shift = 0, err;

	if (len && len < sizeof(buf) &&
	    (s = strchr(suffixes, toupper((unsigned char)v[len - 1]))) && *s) {
		shift = 10 * (int)(s - suffixes + 1);
		memcpy(buf, v, len - 1);
		buf[len - 1] = '\0';
		err = parse_num(p, buf, 0, max >> shift, &n);
		if (err)
			return perr(p, v, "'%s' is not a size from %llu to %llu bytes", v,
				    (unsigned long long)min, (unsigned long long)max);
		n <<= shift;
	} else if (parse_num(p, v, 0, max, &n)) {
		return perr(p, v, "'%s' is not a size from %llu to %llu bytes", v,
			    (unsigned long long)min, (unsigned long long)max);
	}
	if (n < min)
		return perr(p, v, "'%s' is not a size from %llu to %llu bytes", v,
			    (unsigned long long)min, (unsigned long long)max);
	*out = n;
	return 0;
}

static int parse_path(struct parser *p, const char *v, char *out, size_t outlen)
{
	if (v[0] != '/')
		return perr(p, v, "'%s' is not an absolute path", v);
	if (strlen(v) >= outlen)
		return perr(p, v, "path too long");
	snprintf(out, outlen, "%s", v);
	return 0;
}

/* ADDR:PORT, an IPv4 address or a bracketed IPv6 one ([::1]:9100). */
static int parse_addr_port(struct parser *p, const char *v, char *out, size_t outlen)
{
	char host[INET6_ADDRSTRLEN + 2];
	unsigned char buf[16];
	const char *colon;
	size_t hlen;
	__u64 port;
	int af = AF_INET;

	if (v[0] == '[') {
		colon = strstr(v, "]:");
		if (!colon)
			return perr(p, v, "'%s' is not ADDR:PORT ([IPv6]:PORT for IPv6)", v);
		hlen = (size_t)(colon - v - 1);
		if (hlen >= sizeof(host))
			return perr(p, v + 1, "'%.*s' is not an IPv6 address", (int)hlen, v + 1);
		memcpy(host, v + 1, hlen);
		colon++;
		af = AF_INET6;
	} else {
		colon = strrchr(v, ':');
		if (!colon || strchr(v, ':') != colon)
			return perr(p, v, "'%s' is not ADDR:PORT ([IPv6]:PORT for IPv6)", v);
		hlen = (size_t)(colon - v);
		if (hlen >= sizeof(host))
			return perr(p, v, "'%.*s' is not an IPv4 address", (int)hlen, v);
		memcpy(host, v, hlen);
	}
	host[hlen] = '\0';
	if (inet_pton(af, host, buf) != 1)
		return perr(p, af == AF_INET6 ? v + 1 : v, "'%s' is not an %s address", host,
			    af == AF_INET6 ? "IPv6" : "IPv4");
	if (parse_num(p, colon + 1, 1, 65535, &port))
		return perr(p, colon + 1, "'%s' is not a port from 1 to 65535", colon + 1);
	if (strlen(v) >= outlen)
		return perr(p, v, "address too long");
	snprintf(out, outlen, "%s", v);
	return 0;
}

/* Whether ADDR:PORT (already checked) names a multicast group. */
static bool is_multicast(const char *v)
{
	char host[INET6_ADDRSTRLEN + 2];
	struct in6_addr a6;
	struct in_addr a4;
	size_t n;

	if (v[0] == '[') {
		n = (size_t)(strstr(v, "]:") - v - 1);
		memcpy(host, v + 1, n);
		host[n] = '\0';
		return inet_pton(AF_INET6, host, &a6) == 1 && IN6_IS_ADDR_MULTICAST(&a6);
	}
	n = (size_t)(strrchr(v, ':') - v);
	memcpy(host, v, n);
	host[n] = '\0';
	return inet_pton(AF_INET, host, &a4) == 1 && IN_MULTICAST(ntohl(a4.s_addr));
}

/* "ADDR[, ADDR...]": IPv4 or IPv6 addresses, each checked where it
 * stands in the line, at most XCT_CONFIG_SYNC_IGNORE_MAX. */
static int parse_ignore_list(struct parser *p, const char *v, struct xct_config_sync *sync)
{
	const char *a = v, *end;
	unsigned char buf[16];
	char addr[INET6_ADDRSTRLEN];
	size_t len;

	for (;;) {
		while (isspace((unsigned char)*a))
			a++;
		for (end = a; *end && *end != ',' && !isspace((unsigned char)*end); end++)
			;
		len = (size_t)(end - a);
		if (!len)
			return perr(p, a, "an address expected");
		if (len >= sizeof(addr))
			return perr(p, a, "'%.*s' is not an address", (int)len, a);
		memcpy(addr, a, len);
		addr[len] = '\0';
		if (inet_pton(AF_INET, addr, buf) != 1 && inet_pton(AF_INET6, addr, buf) != 1)
			return perr(p, a, "'%s' is not an address", addr);
		if (sync->n_ignore >= XCT_CONFIG_SYNC_IGNORE_MAX)
			return perr(p, a, "more than %d addresses", XCT_CONFIG_SYNC_IGNORE_MAX);
		memcpy(sync->ignore[sync->n_ignore++], addr, len + 1);
		while (isspace((unsigned char)*end))
			end++;
		if (!*end)
			return 0;
		if (*end != ',')
			return perr(p, end, "',' expected between addresses");
		a = end + 1;
	}
}

static int set_key(struct parser *p, const char *k, const char *v)
{
	struct xct_config *cfg = p->cfg;
	__u64 n;
	int key, t, err;

	if (p->sec == SEC_TIMEOUTS) {
		t = xct_tunable_by_name(k);
		if (t < 0)
			return perr(p, k,
				    "unknown timeout '%s' (the names of nf_conntrack's "
				    "sysctls, e.g. nf_conntrack_tcp_timeout_established)",
				    k);
		if (cfg->tunables_set & (1U << t))
			return perr(p, k, "'%s' given twice", k);
		err = parse_num(p, v, 0, xct_tunable_info[t].max, &n);
		if (err)
			return err;
		cfg->tunables[t] = (__u32)n;
		cfg->tunables_set |= 1U << t;
		return 0;
	}
	for (key = 0; key < KEY_MAX; key++)
		if (keys[key].sec == p->sec && !strcmp(k, keys[key].name))
			break;
	if (key == KEY_MAX) {
		switch (p->sec) {
		case SEC_GLOBAL:
			return perr(p, k,
				    "unknown key '%s' (pin-path, rules, table-size, "
				    "events-ring-size, state-file, or a [section])",
				    k);
		case SEC_INTERFACE:
			return perr(p, k, "unknown key '%s' in [interface] (mode)", k);
		case SEC_SYNC:
			return perr(p, k,
				    "unknown key '%s' in [sync] (peer, listen, transport, "
				    "multicast, interface, mode, ignore-address, state-accept, "
				    "commit-on-receive)",
				    k);
		default:
			return perr(p, k,
				    "unknown key '%s' in [daemon] (socket, metrics-listen, "
				    "ipfix-collector, ipfix-domain, flow-log, flow-log-max-size, "
				    "rule-log)",
				    k);
		}
	}
	if (p->seen & (1U << key))
		return perr(p, k, "'%s' given twice", k);
	p->seen |= 1U << key;
	/* Kept to be reported at the end if no peer comes. */
	if (p->sec == SEC_SYNC && key != KEY_SYNC_PEER && key != KEY_SYNC_MULTICAST &&
	    !cfg->sync.needs_peer) {
		cfg->sync.needs_peer = keys[key].name;
		cfg->sync.needs_peer_line = p->line;
		cfg->sync.needs_peer_column = (unsigned int)(k - p->line_start) + 1;
	}

	switch (key) {
	case KEY_PIN_PATH:
		return parse_path(p, v, cfg->pin_path, sizeof(cfg->pin_path));
	case KEY_RULES:
		return parse_path(p, v, cfg->rules, sizeof(cfg->rules));
	case KEY_STATE_FILE:
		return parse_path(p, v, cfg->state_file, sizeof(cfg->state_file));
	case KEY_TABLE_SIZE:
		/* The limits of xct attach --max-entries. */
		return parse_num(p, v, 1, 1U << 26, &cfg->table_size);
	case KEY_EVENTS_RING_SIZE:
		/* A ring buffer's size: a power of 2 of whole pages. */
		err = parse_size(p, v, 4096, 1U << 30, &n);
		if (err)
			return err;
		if (n & (n - 1))
			return perr(p, v, "'%s' is not a power of 2", v);
		cfg->events_ring_size = n;
		return 0;
	case KEY_SOCKET:
		return parse_path(p, v, cfg->daemon.socket, sizeof(cfg->daemon.socket));
	case KEY_METRICS_LISTEN:
		return parse_addr_port(p, v, cfg->daemon.metrics_listen,
				       sizeof(cfg->daemon.metrics_listen));
	case KEY_IPFIX_COLLECTOR:
		return parse_addr_port(p, v, cfg->daemon.ipfix_collector,
				       sizeof(cfg->daemon.ipfix_collector));
	case KEY_IPFIX_DOMAIN:
		err = parse_num(p, v, 0, 0xffffffffU, &n);
		cfg->daemon.ipfix_domain = (__u32)n;
		return err;
	case KEY_FLOW_LOG:
		if (!strcmp(v, "journal")) {
			snprintf(cfg->daemon.flow_log, sizeof(cfg->daemon.flow_log), "journal");
			return 0;
		}
		if (v[0] != '/')
			return perr(p, v, "'%s' is neither 'journal' nor an absolute path", v);
		return parse_path(p, v, cfg->daemon.flow_log, sizeof(cfg->daemon.flow_log));
	case KEY_FLOW_LOG_MAX_SIZE:
		return parse_size(p, v, 4096, 1ULL << 40, &cfg->daemon.flow_log_max_size);
	case KEY_RULE_LOG:
		if (strcmp(v, "journal") && strcmp(v, "off"))
			return perr(p, v, "'%s' is neither 'journal' nor 'off'", v);
		cfg->daemon.rule_log = !strcmp(v, "journal");
		return 0;
	case KEY_SYNC_PEER:
		return parse_addr_port(p, v, cfg->sync.peer, sizeof(cfg->sync.peer));
	case KEY_SYNC_LISTEN:
		cfg->sync.listen_line = p->line;
		cfg->sync.listen_column = (unsigned int)(k - p->line_start) + 1;
		return parse_addr_port(p, v, cfg->sync.listen, sizeof(cfg->sync.listen));
	case KEY_SYNC_TRANSPORT:
		if (strcmp(v, "udp") && strcmp(v, "tcp") && strcmp(v, "multicast"))
			return perr(p, v, "'%s' is not udp, tcp or multicast", v);
		cfg->sync.transport_line = p->line;
		cfg->sync.transport_column = (unsigned int)(k - p->line_start) + 1;
		snprintf(cfg->sync.transport, sizeof(cfg->sync.transport), "%s", v);
		return 0;
	case KEY_SYNC_MULTICAST:
		err = parse_addr_port(p, v, cfg->sync.multicast, sizeof(cfg->sync.multicast));
		if (err)
			return err;
		if (!is_multicast(v))
			return perr(p, v, "'%s' is not a multicast group", v);
		cfg->sync.multicast_line = p->line;
		cfg->sync.multicast_column = (unsigned int)(k - p->line_start) + 1;
		return 0;
	case KEY_SYNC_INTERFACE:
		if (strlen(v) >= IF_NAMESIZE)
			return perr(p, v, "'%s' is longer than an interface name can be (%d)", v,
				    IF_NAMESIZE - 1);
		if (strchr(v, '/') || strchr(v, ' ') || strchr(v, ':'))
			return perr(p, v, "'%s' is not an interface name", v);
		snprintf(cfg->sync.interface, sizeof(cfg->sync.interface), "%s", v);
		cfg->sync.interface_line = p->line;
		cfg->sync.interface_column = (unsigned int)(k - p->line_start) + 1;
		return 0;
	case KEY_SYNC_MODE:
		if (!strcmp(v, "notrack"))
			cfg->sync.mode = XCT_CONFIG_SYNC_MODE_NOTRACK;
		else if (!strcmp(v, "ftfw"))
			cfg->sync.mode = XCT_CONFIG_SYNC_MODE_FTFW;
		else
			return perr(p, v, "'%s' is not notrack or ftfw", v);
		return 0;
	case KEY_SYNC_IGNORE:
		return parse_ignore_list(p, v, &cfg->sync);
	case KEY_SYNC_COMMIT_ON_RECEIVE:
		if (!strcmp(v, "yes"))
			cfg->sync.commit_on_receive = XCT_CONFIG_SYNC_YES;
		else if (!strcmp(v, "no"))
			cfg->sync.commit_on_receive = XCT_CONFIG_SYNC_NO;
		else
			return perr(p, v, "'%s' is not yes or no", v);
		return 0;
	case KEY_SYNC_STATE_ACCEPT: {
		const char *bad;
		char why[256];

		if (xct_tcp_state_list(v, &cfg->sync.state_accept, &bad))
			return perr(p, bad, "%s", xct_tcp_state_list_error(bad, why, sizeof(why)));
		return 0;
	}
	case KEY_ZONE:
		if (xct_zone_parse(v, &p->iface->zone))
			return perr(p, v, "'%s' is not a zone, a number from 0 to %d", v,
				    XCT_ZONE_MAX);
		return 0;
	case KEY_MODE:
		if (!strcmp(v, "native"))
			p->iface->mode = XCT_MODE_NATIVE;
		else if (!strcmp(v, "generic"))
			p->iface->mode = XCT_MODE_GENERIC;
		else if (!strcmp(v, "tc"))
			p->iface->mode = XCT_MODE_TC;
		else
			return perr(p, v, "'%s' is not native, generic or tc", v);
		return 0;
	}
	return 0;
}

/* "[name]" or "[interface NAME]"; s points at '[' in a line with its
 * trailing white space cut. */
static int start_section(struct parser *p, char *s)
{
	struct xct_config *cfg = p->cfg;
	char *name = s + 1, *end, *arg;
	size_t i, len;

	end = strchr(name, ']');
	if (!end)
		return perr(p, s + strlen(s), "']' expected");
	if (end[1])
		return perr(p, end + 1, "unexpected '%s' after the section name", end + 1);
	*end = '\0';
	while (isspace((unsigned char)*name))
		name++;
	for (arg = name; *arg && !isspace((unsigned char)*arg); arg++)
		;
	len = (size_t)(arg - name);
	while (isspace((unsigned char)*arg))
		*arg++ = '\0';
	/* Cut white space before ']'. */
	for (end = arg + strlen(arg); end > arg && isspace((unsigned char)end[-1]);)
		*--end = '\0';
	name[len] = '\0';
	p->seen = 0;

	if (!strcmp(name, "interface")) {
		if (!*arg)
			return perr(p, s + 1, "[interface NAME]: which interface?");
		if (strlen(arg) >= IF_NAMESIZE)
			return perr(p, arg, "'%s' is longer than an interface name can be (%d)",
				    arg, IF_NAMESIZE - 1);
		for (i = 0; arg[i]; i++)
			if (arg[i] == '/' || isspace((unsigned char)arg[i]) || arg[i] == ':')
				return perr(p, arg + i, "'%s' is not an interface name", arg);
		for (i = 0; i < cfg->n_ifaces; i++)
			if (!strcmp(cfg->ifaces[i].name, arg))
				return perr(p, arg, "[interface %s] given twice (first on line %u)",
					    arg, cfg->ifaces[i].line);
		if (cfg->n_ifaces == XCT_CONFIG_MAX_IFACES)
			return perr(p, s, "more than %d interfaces", XCT_CONFIG_MAX_IFACES);
		p->iface = &cfg->ifaces[cfg->n_ifaces++];
		snprintf(p->iface->name, sizeof(p->iface->name), "%s", arg);
		p->iface->mode = XCT_MODE_NATIVE;
		p->iface->line = p->line;
		p->sec = SEC_INTERFACE;
		return 0;
	}
	if (*arg)
		return perr(p, arg, "[%s] takes no name", name);
	if (!strcmp(name, "timeouts")) {
		p->sec = SEC_TIMEOUTS;
	} else if (!strcmp(name, "daemon")) {
		p->sec = SEC_DAEMON;
	} else if (!strcmp(name, "sync")) {
		if (cfg->sync.line)
			return perr(p, name, "[sync] given twice (first on line %u)",
				    cfg->sync.line);
		cfg->sync.line = p->line;
		p->sec = SEC_SYNC;
	} else {
		return perr(p, name,
			    "unknown section '%s' (interface NAME, timeouts, daemon, sync)", name);
	}
	return 0;
}

static int parse_line(struct parser *p, char *s)
{
	char *k, *v, *end, *eq;

	while (isspace((unsigned char)*s))
		s++;
	/* A comment runs from '#' at the start or after white space. */
	for (end = s; *end; end++)
		if (*end == '#' && (end == s || isspace((unsigned char)end[-1]))) {
			*end = '\0';
			break;
		}
	while (end > s && isspace((unsigned char)end[-1]))
		*--end = '\0';
	if (!*s)
		return 0;
	if (*s == '[')
		return start_section(p, s);

	k = s;
	for (end = k; isalnum((unsigned char)*end) || *end == '-' || *end == '_'; end++)
		;
	if (end == k)
		return perr(p, k, "a key expected, or [section]");
	eq = end;
	while (isspace((unsigned char)*eq))
		eq++;
	if (*eq != '=')
		return perr(p, eq, "'=' expected after '%.*s'", (int)(end - k), k);
	*end = '\0';
	v = eq + 1;
	while (isspace((unsigned char)*v))
		v++;
	if (!*v)
		return perr(p, v, "'%s' needs a value", k);
	return set_key(p, k, v);
}

/* The [sync] link's keys together: a peer or a multicast group, the
 * group with its interface, a transport that fits. */
static int check_sync_link(const char *file, const struct xct_config_sync *c, char *err,
			   size_t errlen)
{
	bool mcast = !strcmp(c->transport, "multicast");

	if (c->multicast[0] && c->peer[0]) {
		snprintf(err, errlen,
			 "%s:%u:%u: 'multicast' in [sync] and 'peer': one or the other", file,
			 c->multicast_line, c->multicast_column);
		return -EINVAL;
	}
	if (c->multicast[0] && c->transport[0] && !mcast) {
		snprintf(err, errlen,
			 "%s:%u:%u: 'multicast' in [sync] is for transport = multicast", file,
			 c->multicast_line, c->multicast_column);
		return -EINVAL;
	}
	if (c->multicast[0] && c->listen[0]) {
		snprintf(err, errlen, "%s:%u:%u: 'listen' in [sync] is for udp and tcp", file,
			 c->listen_line, c->listen_column);
		return -EINVAL;
	}
	if (c->multicast[0] && !c->interface[0]) {
		snprintf(err, errlen, "%s:%u:%u: 'multicast' in [sync] needs an 'interface'", file,
			 c->multicast_line, c->multicast_column);
		return -EINVAL;
	}
	/* The link's details alone would sync with nobody. */
	if (!c->peer[0] && !c->multicast[0] && c->transport[0] && !mcast) {
		snprintf(err, errlen, "%s:%u:%u: 'transport' in [sync] needs a 'peer'", file,
			 c->transport_line, c->transport_column);
		return -EINVAL;
	}
	if (!c->peer[0] && !c->multicast[0] && c->interface[0] && !mcast) {
		snprintf(err, errlen,
			 "%s:%u:%u: 'interface' in [sync] needs a 'peer' or 'multicast'", file,
			 c->interface_line, c->interface_column);
		return -EINVAL;
	}
	if (mcast && !c->multicast[0]) {
		snprintf(err, errlen,
			 "%s:%u:%u: transport = multicast needs 'multicast = GROUP:PORT'", file,
			 c->transport_line, c->transport_column);
		return -EINVAL;
	}
	return 0;
}

int xct_config_parse(const char *file, const char *text, size_t len, struct xct_config *cfg,
		     char *err, size_t errlen)
{
	struct parser p = {.file = file, .err = err, .errlen = errlen, .cfg = cfg};
	char *copy, *line, *next;
	int ret = 0;

	config_defaults(cfg, file);
	if (errlen)
		err[0] = '\0';
	if (memchr(text, '\0', len)) {
		snprintf(err, errlen, "%s: a NUL byte: not a text file", file);
		return -EINVAL;
	}
	copy = malloc(len + 1);
	if (!copy) {
		snprintf(err, errlen, "%s: %s", file, strerror(ENOMEM));
		return -ENOMEM;
	}
	memcpy(copy, text, len);
	copy[len] = '\0';
	for (line = copy; line && !ret; line = next) {
		next = strchr(line, '\n');
		if (next)
			*next++ = '\0';
		/* CRLF files. */
		if (*line && line[strlen(line) - 1] == '\r')
			line[strlen(line) - 1] = '\0';
		p.line++;
		p.line_start = line;
		ret = parse_line(&p, line);
	}
	free(copy);
	/* The link's details first, then a key that needs a peer (a listening
	 * address, a mode, a filter alone would sync with nobody). */
	if (!ret)
		ret = check_sync_link(file, &cfg->sync, err, errlen);
	if (!ret && cfg->sync.needs_peer && !cfg->sync.peer[0] && !cfg->sync.multicast[0]) {
		snprintf(err, errlen, "%s:%u:%u: '%s' in [sync] needs a 'peer'", file,
			 cfg->sync.needs_peer_line, cfg->sync.needs_peer_column,
			 cfg->sync.needs_peer);
		ret = -EINVAL;
	}
	if (ret)
		config_defaults(cfg, file);
	return ret;
}

int xct_config_load(const char *path, struct xct_config *cfg, char *err, size_t errlen)
{
	size_t len = 0;
	char *buf;
	ssize_t r;
	int fd, ret;

	config_defaults(cfg, path);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		ret = -errno;
		snprintf(err, errlen, "cannot read %s: %s", path, strerror(-ret));
		return ret;
	}
	buf = malloc(XCT_CONFIG_FILE_MAX + 1);
	if (!buf) {
		close(fd);
		snprintf(err, errlen, "cannot read %s: %s", path, strerror(ENOMEM));
		return -ENOMEM;
	}
	while (len <= XCT_CONFIG_FILE_MAX &&
	       (r = read(fd, buf + len, XCT_CONFIG_FILE_MAX + 1 - len)) != 0) {
		if (r < 0) {
			if (errno == EINTR)
				continue;
			ret = -errno;
			snprintf(err, errlen, "cannot read %s: %s", path, strerror(-ret));
			goto out;
		}
		len += (size_t)r;
	}
	if (len > XCT_CONFIG_FILE_MAX) {
		ret = -EINVAL;
		snprintf(err, errlen, "%s: larger than %d bytes: not a configuration file", path,
			 XCT_CONFIG_FILE_MAX);
		goto out;
	}
	ret = xct_config_parse(path, buf, len, cfg, err, errlen);
out:
	free(buf);
	close(fd);
	return ret;
}
