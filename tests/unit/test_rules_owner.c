// SPDX-License-Identifier: GPL-2.0-only
/*
 * Owner rules in the rules-file parser (src/rules/parse.c): meta skuid,
 * meta skgid and socket cgroupv2 in nft's forms (ids, ranges, names
 * resolved from the system's databases, lists, negation), kept apart from
 * the filter rules, and every match an owner rule cannot decide refused
 * with its line and column.
 */
#include <errno.h>
#include <stdbool.h>
#include <string.h>

#include "check.h"
#include "rules/ruleset.h"
#include "rules_check.h"

#define T_FILE "o.rules"

#define PARSE_OK(text, rs)	    RULES_OK(T_FILE, text, rs)
#define CHECK_PERR(text, l, c, m) RULES_ERR(T_FILE, text, l, c, m)

TEST(rules_owner_uid_forms)
{
	struct xct_ruleset rs;
	const struct xct_rule *r;

	PARSE_OK("accept tcp dport 22\n"
		 "reject meta skuid 1000\n"
		 "drop meta skuid != 0\n"
		 "accept meta skuid { 1000, 1001, \"daemon\", 2000-2999 }\n"
		 "drop meta skuid root daddr 192.0.2.0/24 dport 443\n",
		 &rs);
	CHECK_EQ(rs.n_rules, 1);
	CHECK_EQ(rs.n_owner_rules, 4);
	r = &rs.owner_rules[0];
	CHECK_EQ(r->action, XCT_ACTION_REJECT);
	CHECK(r->skuid.present && !r->skuid.negate && !r->skgid.present);
	CHECK_EQ(r->skuid.n, 1);
	CHECK_EQ(r->skuid.list[0].lo, 1000);
	CHECK_EQ(r->skuid.list[0].hi, 1000);
	CHECK_EQ(r->loc.line, 2);
	CHECK_STR(r->text, "reject meta skuid 1000");
	r = &rs.owner_rules[1];
	CHECK(r->skuid.negate);
	CHECK_EQ(r->skuid.list[0].lo, 0);
	r = &rs.owner_rules[2];
	CHECK_EQ(r->skuid.n, 4);
	CHECK_EQ(r->skuid.list[1].lo, 1001);
	CHECK_EQ(r->skuid.list[2].lo, 1); /* daemon */
	CHECK_EQ(r->skuid.list[3].lo, 2000);
	CHECK_EQ(r->skuid.list[3].hi, 2999);
	r = &rs.owner_rules[3];
	CHECK_EQ(r->skuid.list[0].lo, 0);
	CHECK(r->daddr.present && r->dport.present);
	CHECK_EQ(r->dport.list[0].lo, 443);
	xct_ruleset_free(&rs);
}

TEST(rules_owner_gid_and_cgroup)
{
	struct xct_ruleset rs;
	const struct xct_rule *r;

	PARSE_OK("drop meta skgid nogroup udp\n"
		 "reject socket cgroupv2 level 2 \"system.slice/sshd.service\" tcp\n"
		 "accept socket cgroupv2 level 1 != /user.slice/ meta skuid 1000-1999\n",
		 &rs);
	CHECK_EQ(rs.n_owner_rules, 3);
	r = &rs.owner_rules[0];
	CHECK(r->skgid.present);
	CHECK_EQ(r->skgid.list[0].lo, 65534);
	CHECK(r->has_proto);
	r = &rs.owner_rules[1];
	CHECK(r->cgroup.present && !r->cgroup.negate);
	CHECK_EQ(r->cgroup.level, 2);
	CHECK_STR(r->cgroup.path, "system.slice/sshd.service");
	CHECK_EQ(r->cgroup.loc.line, 2);
	CHECK_EQ(r->cgroup.loc.col, 32);
	r = &rs.owner_rules[2];
	CHECK(r->cgroup.negate);
	CHECK_STR(r->cgroup.path, "user.slice");
	CHECK(r->skuid.present);
	CHECK_EQ(r->skuid.list[0].hi, 1999);
	xct_ruleset_free(&rs);
}

TEST(rules_owner_value_errors)
{
	CHECK_PERR("drop meta skuid nosuchuser_xct", 1, 17,
		   "unknown user 'nosuchuser_xct' (no such name in the password database)");
	CHECK_PERR("drop meta skgid \"nosuchgroup_xct\"", 1, 17,
		   "unknown group 'nosuchgroup_xct' (no such name in the group database)");
	CHECK_PERR("drop meta skuid 2000-1000", 1, 17,
		   "user id range 2000-1000 is reversed (did you mean 1000-2000?)");
	CHECK_PERR("drop meta skuid 4294967295", 1, 17,
		   "user id 4294967295 is out of range (0-4294967294)");
	CHECK_PERR("drop meta skuid 10x", 1, 17,
		   "expected a user id, an id range or a user name after 'skuid', got '10x'");
	CHECK_PERR("drop meta skuid", 1, 16,
		   "expected a user id, an id range or a user name after 'skuid', got end of file");
	CHECK_PERR("drop meta skuid 1 meta skuid 2", 1, 24, "'meta skuid' given twice");
	CHECK_PERR("set s { 10.0.0.1 }\ndrop meta skuid @s", 2, 17,
		   "'meta skuid' takes ids and names, not a set ('@s')");
	CHECK_PERR("drop skuid 1000", 1, 6, "'skuid' must follow 'meta' (meta skuid 1000)");
	CHECK_PERR("drop socket cgroup", 1, 13, "expected 'cgroupv2' after 'socket', got 'cgroup'");
	CHECK_PERR(
		"drop socket cgroupv2 \"a\"", 1, 22,
		"expected 'level' after 'cgroupv2' (socket cgroupv2 level 1 \"PATH\"), got '\"a\"'");
	CHECK_PERR(
		"drop socket cgroupv2 level 0 \"a\"", 1, 28,
		"cgroup level 0 is the root, which every process is under: give a level of 1 or more");
	CHECK_PERR("drop socket cgroupv2 level 256 \"a\"", 1, 28,
		   "cgroup level 256 is out of range (1-255)");
	CHECK_PERR("drop socket cgroupv2 level 1 \"a/b\"", 1, 30,
		   "cgroup 'a/b' is at level 2, not 1 (the level counts the path's components: "
		   "socket cgroupv2 level 2 \"a/b\")");
	CHECK_PERR("drop socket cgroupv2 level 2 \"a/../b\"", 1, 30,
		   "'.' and '..' are not allowed in a cgroup path: '\"a/../b\"'");
	CHECK_PERR("drop socket cgroupv2 level 1 \"\"", 1, 30,
		   "empty cgroup path (the root is level 0, which every process is under)");
}

TEST(rules_owner_undecidable_matches)
{
	CHECK_PERR("drop iif eth0 meta skuid 1000", 1, 6,
		   "'meta skuid' cannot be used with 'iif': an arriving or forwarded packet has no "
		   "owner (an owner rule decides the connections this host's processes open)");
	CHECK_PERR("drop meta skgid 1000 oif eth0", 1, 22,
		   "'meta skgid' cannot be used with 'oif': an owner rule is decided at connect(), "
		   "before the route chooses the interface");
	CHECK_PERR("drop meta skuid 1000 saddr 10.0.0.1", 1, 22,
		   "'saddr' cannot be used with 'meta skuid': an owner rule is decided once, at a "
		   "connection's connect() or first sendmsg(), before its source address and port "
		   "are chosen");
	CHECK_PERR(
		"drop ct state new socket cgroupv2 level 1 \"a\"", 1, 6,
		"'ct state' cannot be used with 'socket cgroupv2': an owner rule is decided "
		"once, at a connection's connect() or first sendmsg(), before any packet is sent");
	CHECK_PERR(
		"drop meta skuid 1 tcp flags syn", 1, 19,
		"'tcp flags' cannot be used with 'meta skuid': an owner rule is decided once, at "
		"a connection's connect() or first sendmsg(), before any packet is sent");
	CHECK_PERR("drop meta skuid 1 limit 1/second", 1, 19,
		   "'limit' cannot be used with 'meta skuid': an owner rule is decided once, at a "
		   "connection's connect() or first sendmsg(), before any packet is sent");
	CHECK_PERR("drop meta skuid 1 icmp", 1, 11,
		   "'meta skuid' decides tcp and udp connections, but the rule matches 'icmp'");
	CHECK_PERR("notrack meta skuid 1", 1, 14,
		   "'meta skuid' cannot be used with 'notrack' (an owner rule accepts, drops or "
		   "rejects)");
	CHECK_PERR("set web { 80 }\ndrop meta skuid 1 dport @web", 2, 11,
		   "'dport @web' cannot be used with 'meta skuid': an owner rule takes the ports "
		   "written in it, not a set that changes while it runs");
	CHECK_PERR(
		"drop meta skuid 1 daddr != { 10.0.0.1, 10.0.0.2 }", 1, 11,
		"'daddr != { ... }' cannot be used with 'meta skuid': give one address or prefix "
		"after '!='");
	CHECK_PERR("masquerade oif eth0 meta skuid 1", 1, 26,
		   "'meta skuid' cannot be used with 'masquerade'");
}
