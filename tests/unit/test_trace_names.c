// SPDX-License-Identifier: GPL-2.0-only
/*
 * Unit tests of xct trace's naming (src/trace/names.c, explain.c): the
 * kallsyms symboliser on a crafted file (unsorted input, data symbols
 * skipped, offsets into the last symbol at or below, nothing below the
 * first, kptr_restrict's zeros refused), and the BTF enum resolver both on
 * a BTF built here (values known) and on the running kernel's, where
 * NO_SOCKET and NETFILTER_DROP must resolve to the values its BTF gives.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>
#include <bpf/btf.h>

#include "check.h"
#include "trace/explain.h"
#include "trace/names.h"

static char *write_temp(const char *text)
{
	static char path[64];
	FILE *f;
	int fd;

	snprintf(path, sizeof(path), "/tmp/xct-unit-ksyms.XXXXXX");
	fd = mkstemp(path);
	if (fd < 0)
		return NULL;
	f = fdopen(fd, "w");
	fputs(text, f);
	fclose(f);
	return path;
}

TEST(ksyms_symbolise_sorted_lookup)
{
	/* Out of order on purpose; 'D' and 'b' are data, not code. */
	char *path = write_temp("ffffffff81002000 T tcp_v4_rcv\n"
				"ffffffff81000000 T _stext\n"
				"ffffffff81001000 t nf_hook_slow\n"
				"ffffffff81001800 D some_data\n"
				"ffffffff81003000 T udp_rcv\t[udp]\n"
				"ffffffff81001400 b bss_thing\n");
	struct xct_ksyms k;
	char buf[128];
	__u64 off = 0;

	if (!path) {
		CHECK_FAIL("mkstemp: %s", strerror(errno));
		return;
	}
	CHECK_EQ(xct_ksyms_load(&k, path), 0);
	unlink(path);
	CHECK_EQ(k.n, 4);
	CHECK_STR(xct_ksym_format(&k, 0xffffffff81002091ULL, buf, sizeof(buf)), "tcp_v4_rcv+0x91");
	/* A data symbol between two functions does not claim the address. */
	CHECK_STR(xct_ksym_format(&k, 0xffffffff81001900ULL, buf, sizeof(buf)),
		  "nf_hook_slow+0x900");
	CHECK_STR(xct_ksym_format(&k, 0xffffffff81001000ULL, buf, sizeof(buf)), "nf_hook_slow+0x0");
	CHECK_STR(xct_ksym_format(&k, 0xffffffff81003010ULL, buf, sizeof(buf)), "udp_rcv+0x10");
	CHECK_STR(xct_ksym_format(&k, 0xffffffff80000000ULL, buf, sizeof(buf)),
		  "0xffffffff80000000");
	CHECK_STR(xct_ksym_format(&k, 0, buf, sizeof(buf)), "0x0");
	CHECK(xct_ksym_find(&k, 0xffffffff81000fffULL, &off) != NULL);
	CHECK_EQ(off, 0xfff);
	xct_ksyms_free(&k);
}

TEST(ksyms_refuse_restricted_addresses)
{
	char *path = write_temp("0000000000000000 T _stext\n0000000000000000 T tcp_v4_rcv\n");
	struct xct_ksyms k;

	if (!path) {
		CHECK_FAIL("mkstemp: %s", strerror(errno));
		return;
	}
	CHECK_EQ(xct_ksyms_load(&k, path), -EPERM);
	unlink(path);
	CHECK_EQ(xct_ksyms_load(&k, "/nonexistent/kallsyms"), -ENOENT);
}

TEST(btf_enum_names_from_a_built_btf)
{
	struct btf *btf = btf__new_empty();
	struct xct_enum_names e;
	__s64 v = -1;
	int id;

	if (!btf) {
		CHECK_FAIL("btf__new_empty");
		return;
	}
	id = btf__add_enum(btf, "skb_drop_reason", 4);
	CHECK(id > 0);
	/* Deliberately not the kernel's numbers: nothing may be assumed. */
	btf__add_enum_value(btf, "SKB_DROP_REASON_NETFILTER_DROP", 40);
	btf__add_enum_value(btf, "SKB_DROP_REASON_NO_SOCKET", 7);
	btf__add_enum_value(btf, "SKB_CONSUMED", 1);
	CHECK_EQ(xct_enum_load(&e, btf, "skb_drop_reason", "SKB_DROP_REASON_"), 0);
	CHECK_EQ(e.n, 3);
	CHECK_STR(xct_enum_name(&e, 7), "NO_SOCKET");
	CHECK_STR(xct_enum_name(&e, 40), "NETFILTER_DROP");
	CHECK_STR(xct_enum_name(&e, 1), "SKB_CONSUMED"); /* no prefix to strip */
	CHECK(xct_enum_name(&e, 8) == NULL);
	CHECK_EQ(xct_enum_value(&e, "no_socket", &v), 0);
	CHECK_EQ(v, 7);
	CHECK_EQ(xct_enum_value(&e, "SKB_DROP_REASON_NETFILTER_DROP", &v), 0);
	CHECK_EQ(v, 40);
	CHECK_EQ(xct_enum_value(&e, "NOT_A_REASON", &v), -ENOENT);
	xct_enum_free(&e);
	CHECK_EQ(xct_enum_load(&e, btf, "sk_rst_reason", "SK_RST_REASON_"), -ENOENT);
	btf__free(btf);
}

TEST(btf_enum_names_of_the_running_kernel)
{
	struct btf *btf = btf__load_vmlinux_btf();
	struct xct_enum_names drops, rsts;
	const struct btf_enum *m;
	const struct btf_type *t;
	__s64 no_socket = -1, v;
	int id, i;

	if (!btf) {
		CHECK_FAIL("no kernel BTF: %s", strerror(errno));
		return;
	}
	/* The reference: the enum's own entry, read directly. */
	id = btf__find_by_name_kind(btf, "skb_drop_reason", BTF_KIND_ENUM);
	CHECK(id > 0);
	t = btf__type_by_id(btf, id);
	m = btf_enum(t);
	for (i = 0; i < btf_vlen(t); i++)
		if (!strcmp(btf__name_by_offset(btf, m[i].name_off), "SKB_DROP_REASON_NO_SOCKET"))
			no_socket = m[i].val;
	CHECK(no_socket > 0);
	CHECK_EQ(xct_enum_load(&drops, btf, "skb_drop_reason", "SKB_DROP_REASON_"), 0);
	CHECK_EQ(xct_enum_load(&rsts, btf, "sk_rst_reason", "SK_RST_REASON_"), 0);
	CHECK_STR(xct_enum_name(&drops, no_socket), "NO_SOCKET");
	CHECK_EQ(xct_enum_value(&drops, "NETFILTER_DROP", &v), 0);
	CHECK_STR(xct_enum_name(&drops, v), "NETFILTER_DROP");
	CHECK_EQ(xct_enum_value(&rsts, "TCP_ABORT_ON_CLOSE", &v), 0);
	CHECK_EQ(xct_enum_value(&rsts, "NO_SOCKET", &v), 0);
	CHECK_STR(xct_enum_name(&rsts, v), "NO_SOCKET");
	/* Every name of the common reasons has an explanation. */
	CHECK(xct_drop_explain("NO_SOCKET") != NULL);
	CHECK(xct_drop_explain("NETFILTER_DROP") != NULL);
	CHECK(xct_drop_explain("TCP_CSUM") != NULL);
	CHECK(xct_drop_explain("OTHERHOST") != NULL);
	CHECK(xct_drop_explain("IP_NOPROTO") != NULL);
	CHECK(xct_drop_explain("SOCKET_RCVBUFF") != NULL);
	CHECK(xct_drop_explain("TCP_INVALID_SEQUENCE") != NULL);
	CHECK(xct_reset_explain("TCP_ABORT_ON_CLOSE") != NULL);
	CHECK(xct_drop_explain("NO_SUCH_REASON") == NULL);
	/* ... and names the kernel has: a renamed reason would show here. */
	CHECK_EQ(xct_enum_value(&drops, "OTHERHOST", &v), 0);
	CHECK_EQ(xct_enum_value(&drops, "TCP_INVALID_SEQUENCE", &v), 0);
	CHECK_EQ(xct_enum_value(&drops, "SOCKET_RCVBUFF", &v), 0);
	xct_enum_free(&drops);
	xct_enum_free(&rsts);
	btf__free(btf);
}

TEST(tcp_socket_state_names)
{
	CHECK_STR(xct_tcp_sk_state_name(1), "ESTABLISHED");
	CHECK_STR(xct_tcp_sk_state_name(7), "CLOSE");
	CHECK_STR(xct_tcp_sk_state_name(10), "LISTEN");
	CHECK_STR(xct_tcp_sk_state_name(99), "UNKNOWN");
	CHECK_STR(xct_tcp_sk_state_name(-1), "UNKNOWN");
}
