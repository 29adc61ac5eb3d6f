// SPDX-License-Identifier: GPL-2.0-only
/*
 * Which process owns each local connection: cgroup and sockops programs that
 * xct attach-cgroup attaches to a cgroup v2 (include/xct/owner.h says what
 * is recorded).  Every record is made in the owner's own context, where
 * bpf_get_current_*() names the thread making the call:
 *
 *   sockops TCP_CONNECT_CB     connect() of a TCP socket, its local port
 *                              already chosen: the connecting thread, filed
 *                              under the connection's key before its SYN
 *                              leaves
 *   cgroup/post_bind4/6        bind(): the thread that binds a port, whose
 *                              owner the connections accepted on it get
 *   sockops PASSIVE_ESTABLISHED_CB  a connection accepted on a listener: runs
 *                              in softirq (on loopback, in the client's own
 *                              syscall), so current is nobody's; the owner
 *                              is the listener's, from its bind
 *   cgroup/connect4/6,         connect() and sendmsg() of a UDP socket: its
 *   cgroup/sendmsg4/6          owner under the socket's cookie; and the owner
 *                              rules, which refuse with ECONNREFUSED or EPERM
 *   cgroup_skb/egress          a UDP socket's datagram: files the owner under
 *                              the connection's key, now that the source
 *                              address the route chose is known
 *   cgroup/sock_release        close(): forgets the socket's records
 *
 * None of these runs for forwarded traffic, which has no socket; the
 * datapath (xct.bpf.c) only removes an owner with its entry.  Sockets of
 * other network namespaces than the instance's are left alone: a cgroup
 * holds processes of any namespace.
 */
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/in.h>
#include <linux/ip.h>
#include <linux/ipv6.h>
#include <linux/udp.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

#include "owner_maps.h"
#include "policy_ctl.h"

#define AF_INET	 2
#define AF_INET6 10

static __always_inline void owner_count(__u32 slot)
{
	__u64 *c = bpf_map_lookup_elem(&xct_owner_stats, &slot);

	if (c)
		*c += 1;
}

/* The instance's control word, when this socket is of its namespace. */
static __always_inline const struct xct_owner_ctl *owner_ctl(__u64 netns_cookie)
{
	__u32 zero = 0;
	const struct xct_owner_ctl *c = bpf_map_lookup_elem(&xct_owner_ctl, &zero);

	if (!c || !c->on || c->netns_cookie != netns_cookie)
		return 0;
	return c;
}

/* The calling thread as a socket's owner. */
static __always_inline void owner_current(struct xct_owner *o, __u64 cookie, __u8 how)
{
	__u64 id = bpf_get_current_pid_tgid();
	__u64 ug = bpf_get_current_uid_gid();

	__builtin_memset(o, 0, sizeof(*o));
	o->cookie = cookie;
	o->time_ns = bpf_ktime_get_ns();
	o->cgroup_id = bpf_get_current_cgroup_id();
	o->pid = (__u32)id;
	o->tgid = (__u32)(id >> 32);
	o->uid = (__u32)ug;
	o->gid = (__u32)(ug >> 32);
	bpf_get_current_comm(o->comm, sizeof(o->comm));
	o->how = how;
}

/* An IPv6 socket's address, as the table keys it: an IPv4-mapped address
 * (a dual-stack socket talking IPv4) is the IPv4 connection it is. */
static __always_inline __u8 owner_addr6(const __u32 *w, union xct_addr *a)
{
	__builtin_memset(a, 0, sizeof(*a));
	if (w[0] == 0 && w[1] == 0 && w[2] == bpf_htonl(0xffff)) {
		a->v4 = w[3];
		return AF_INET;
	}
	a->v6[0] = w[0];
	a->v6[1] = w[1];
	a->v6[2] = w[2];
	a->v6[3] = w[3];
	return AF_INET6;
}

/* ---- TCP: connect and accept ---- */

SEC("sockops")
int xct_owner_sockops(struct bpf_sock_ops *ops)
{
	struct xct_owner_listen_key lk;
	union xct_addr l, r;
	struct xct_ct_key key;
	struct xct_owner o, *lo;
	__u32 w[4];
	__u16 lport, rport;
	__u8 family;

	if (ops->op != BPF_SOCK_OPS_TCP_CONNECT_CB &&
	    ops->op != BPF_SOCK_OPS_PASSIVE_ESTABLISHED_CB)
		return 1;
	if (!owner_ctl(bpf_get_netns_cookie(ops)))
		return 1;
	if (ops->family == AF_INET) {
		__builtin_memset(&l, 0, sizeof(l));
		__builtin_memset(&r, 0, sizeof(r));
		l.v4 = ops->local_ip4;
		r.v4 = ops->remote_ip4;
		family = AF_INET;
	} else if (ops->family == AF_INET6) {
		w[0] = ops->local_ip6[0];
		w[1] = ops->local_ip6[1];
		w[2] = ops->local_ip6[2];
		w[3] = ops->local_ip6[3];
		family = owner_addr6(w, &l);
		w[0] = ops->remote_ip6[0];
		w[1] = ops->remote_ip6[1];
		w[2] = ops->remote_ip6[2];
		w[3] = ops->remote_ip6[3];
		owner_addr6(w, &r);
	} else {
		return 1;
	}
	/* local_port is in host order; remote_port holds the network-order
	 * port in its upper half on a little-endian machine, as ntohl says. */
	lport = bpf_htons((__u16)ops->local_port);
	rport = bpf_htons((__u16)bpf_ntohl(ops->remote_port));
	xct_owner_key(family, IPPROTO_TCP, &l, lport, &r, rport, &key);

	if (ops->op == BPF_SOCK_OPS_TCP_CONNECT_CB) {
		owner_current(&o, bpf_get_socket_cookie(ops), XCT_OWNER_CONNECT);
	} else {
		/* The listener bound to this address, or to every address. */
		__builtin_memset(&lk, 0, sizeof(lk));
		lk.addr = l;
		lk.port = lport;
		lk.family = family;
		lk.proto = IPPROTO_TCP;
		lo = bpf_map_lookup_elem(&xct_owner_listen, &lk);
		if (!lo) {
			__builtin_memset(&lk.addr, 0, sizeof(lk.addr));
			lo = bpf_map_lookup_elem(&xct_owner_listen, &lk);
		}
		if (!lo && family == AF_INET && ops->family == AF_INET6) {
			/* A dual-stack listener, bound to :: */
			lk.family = AF_INET6;
			lo = bpf_map_lookup_elem(&xct_owner_listen, &lk);
		}
		if (!lo) {
			owner_count(XCT_OWNER_S_NO_LISTENER);
			return 1;
		}
		__builtin_memcpy(&o, lo, sizeof(o));
		o.cookie = bpf_get_socket_cookie(ops);
		o.time_ns = bpf_ktime_get_ns();
		o.how = XCT_OWNER_LISTENER;
	}
	if (bpf_map_update_elem(&xct_owner, &key, &o, BPF_ANY)) {
		owner_count(XCT_OWNER_S_FULL);
		return 1;
	}
	owner_count(XCT_OWNER_S_RECORDED);
	/* Alive until sock_release: the collector sweeps the record of a
	 * connection no entry holds once its socket is gone. */
	bpf_map_update_elem(&xct_owner_sock, &o.cookie, &o, BPF_ANY);
	return 1;
}

/*
 * The listening key of each bound socket, kept with the socket: at
 * release, the kernel shows a cgroup/sock_release program neither the
 * socket's address nor its port (only post_bind programs may read them),
 * so the key its bind filed the owner under is found here.
 */
struct {
	__uint(type, BPF_MAP_TYPE_SK_STORAGE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, int);
	__type(value, struct xct_owner_listen_key);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} xct_owner_bound SEC(".maps");

/* The listening key of a socket post_bind4 (v6 0) or post_bind6 (v6 1)
 * describes: each may read only its own family's address. */
static __always_inline void owner_bound_key(const struct bpf_sock *sk, int v6,
					    struct xct_owner_listen_key *lk)
{
	__u32 w[4];

	__builtin_memset(lk, 0, sizeof(*lk));
	if (v6) {
		w[0] = sk->src_ip6[0];
		w[1] = sk->src_ip6[1];
		w[2] = sk->src_ip6[2];
		w[3] = sk->src_ip6[3];
		lk->family = owner_addr6(w, &lk->addr);
	} else {
		lk->family = AF_INET;
		lk->addr.v4 = sk->src_ip4;
	}
	lk->port = bpf_htons((__u16)sk->src_port);
	lk->proto = (__u8)sk->protocol;
}

static __always_inline int owner_bind(struct bpf_sock *sk, int v6)
{
	struct xct_owner_listen_key lk, *kept;
	struct xct_owner o;

	if (!owner_ctl(bpf_get_netns_cookie(sk)))
		return 1;
	if (sk->protocol != IPPROTO_TCP && sk->protocol != IPPROTO_UDP)
		return 1;
	owner_bound_key(sk, v6, &lk);
	owner_current(&o, bpf_get_socket_cookie(sk), XCT_OWNER_BIND);
	if (bpf_map_update_elem(&xct_owner_listen, &lk, &o, BPF_ANY)) {
		owner_count(XCT_OWNER_S_FULL);
	} else {
		kept = bpf_sk_storage_get(&xct_owner_bound, sk, 0, BPF_SK_STORAGE_GET_F_CREATE);
		if (kept)
			__builtin_memcpy(kept, &lk, sizeof(lk));
	}
	/* A bound UDP socket owns the datagrams it sends too. */
	if (sk->protocol == IPPROTO_UDP) {
		o.how = XCT_OWNER_SEND;
		bpf_map_update_elem(&xct_owner_sock, &o.cookie, &o, BPF_ANY);
	}
	return 1;
}

SEC("cgroup/post_bind4")
int xct_owner_bind4(struct bpf_sock *sk)
{
	return owner_bind(sk, 0);
}

SEC("cgroup/post_bind6")
int xct_owner_bind6(struct bpf_sock *sk)
{
	return owner_bind(sk, 1);
}

SEC("cgroup/sock_release")
int xct_owner_sock_release(struct bpf_sock *sk)
{
	struct xct_owner_listen_key *lk;
	struct xct_owner *lo;
	__u64 cookie;

	if (sk->protocol != IPPROTO_TCP && sk->protocol != IPPROTO_UDP)
		return 1;
	cookie = bpf_get_socket_cookie(sk);
	bpf_map_delete_elem(&xct_owner_sock, &cookie);
	/* A listener's record goes with it, unless another socket has
	 * bound the port since (SO_REUSEPORT, or a restart that won the
	 * race): that one's is left. */
	lk = bpf_sk_storage_get(&xct_owner_bound, sk, 0, 0);
	if (!lk)
		return 1;
	lo = bpf_map_lookup_elem(&xct_owner_listen, lk);
	if (lo && lo->cookie == cookie)
		bpf_map_delete_elem(&xct_owner_listen, lk);
	return 1;
}

/* ---- Owner rules, and UDP's owner, at connect() and sendmsg() ---- */

/* The walk of the owner rules by bpf_loop: a counted for loop here is
 * rewritten by clang into a form whose counter the verifier cannot bound
 * ("infinite loop detected"). */
struct owner_rules_walk {
	struct xct_owner_attempt a;
	__u32 base; /* the active generation's first rule */
	__u32 n;
	__u32 verdict; /* of the first rule that matches; 0: none did */
};

/* bpf_loop step: does rule i decide?  The first that matches does. */
static long owner_rule_step(__u32 i, void *ctx)
{
	struct owner_rules_walk *w = ctx;
	const struct xct_owner_rule *r;
	__u32 k = w->base + i;
	__u64 cg = 0;

	if (i >= w->n)
		return 1;
	r = bpf_map_lookup_elem(&xct_owner_rules, &k);
	if (!r)
		return 1;
	if (r->match & XCT_OM_CGROUP)
		cg = bpf_get_current_ancestor_cgroup_id(r->cg_level);
	if (!xct_owner_rule_match(r, &w->a, cg))
		return 0;
	w->verdict = r->verdict;
	return 1;
}

/*
 * The error the owner rules of the running generation give an attempt, 0
 * to let it go ahead (none matches, or an accept rule does).  xct rules
 * clear stops them with the filter rules (loaded is 0).
 */
static __always_inline int owner_rules_errno(const struct xct_owner_ctl *c,
					     const struct xct_owner_attempt *a)
{
	const struct xct_policy_ctl *pc;
	struct owner_rules_walk w;
	__u32 zero = 0, gen;

	pc = bpf_map_lookup_elem(&xct_policy_ctl, &zero);
	if (!pc || !pc->loaded)
		return 0;
	gen = pc->active_gen & 1;
	if (!c->n_rules[gen])
		return 0;
	__builtin_memset(&w, 0, sizeof(w));
	w.a = *a;
	w.base = gen * XCT_OWNER_RULES_MAX;
	w.n = c->n_rules[gen];
	bpf_loop(XCT_OWNER_RULES_MAX, owner_rule_step, &w, 0);
	return xct_owner_verdict_errno((__u8)w.verdict, a->proto);
}

static __always_inline int owner_attempt(struct bpf_sock_addr *ctx, int v6)
{
	const struct xct_owner_ctl *c = owner_ctl(bpf_get_netns_cookie(ctx));
	struct xct_owner_attempt a;
	struct xct_owner o, *known;
	__u64 ug, cookie;
	__u32 w[4];
	int err;

	if (!c)
		return 1;
	__builtin_memset(&a, 0, sizeof(a));
	if (v6) {
		w[0] = ctx->user_ip6[0];
		w[1] = ctx->user_ip6[1];
		w[2] = ctx->user_ip6[2];
		w[3] = ctx->user_ip6[3];
		a.family = owner_addr6(w, &a.daddr);
	} else {
		a.family = AF_INET;
		a.daddr.v4 = ctx->user_ip4;
	}
	a.proto = (__u8)ctx->protocol;
	a.dport = bpf_ntohs((__u16)ctx->user_port);
	ug = bpf_get_current_uid_gid();
	a.uid = (__u32)ug;
	a.gid = (__u32)(ug >> 32);
	err = owner_rules_errno(c, &a);
	if (err) {
		owner_count(XCT_OWNER_S_REFUSED);
		/* Without it the caller gets EPERM. */
		bpf_set_retval(-err);
		return 0;
	}
	if (a.proto != IPPROTO_UDP)
		return 1;
	/* The first sender keeps the socket. */
	cookie = bpf_get_socket_cookie(ctx);
	known = bpf_map_lookup_elem(&xct_owner_sock, &cookie);
	if (known)
		return 1;
	owner_current(&o, cookie, XCT_OWNER_SEND);
	if (bpf_map_update_elem(&xct_owner_sock, &cookie, &o, BPF_NOEXIST))
		owner_count(XCT_OWNER_S_FULL);
	return 1;
}

SEC("cgroup/connect4")
int xct_owner_connect4(struct bpf_sock_addr *ctx)
{
	return owner_attempt(ctx, 0);
}

SEC("cgroup/connect6")
int xct_owner_connect6(struct bpf_sock_addr *ctx)
{
	return owner_attempt(ctx, 1);
}

SEC("cgroup/sendmsg4")
int xct_owner_sendmsg4(struct bpf_sock_addr *ctx)
{
	return owner_attempt(ctx, 0);
}

SEC("cgroup/sendmsg6")
int xct_owner_sendmsg6(struct bpf_sock_addr *ctx)
{
	return owner_attempt(ctx, 1);
}

/* ---- UDP: the owner under the connection's key, at its datagrams ---- */

SEC("cgroup_skb/egress")
int xct_owner_egress(struct __sk_buff *skb)
{
	union xct_addr s, d;
	struct xct_ct_key key;
	struct xct_owner o, *so;
	struct udphdr uh;
	__u64 cookie;
	__u32 l4;
	__u8 family;

	/* Data starts at the network header in a cgroup_skb program. */
	__builtin_memset(&s, 0, sizeof(s));
	__builtin_memset(&d, 0, sizeof(d));
	if (skb->protocol == bpf_htons(ETH_P_IP)) {
		struct iphdr ip;

		if (bpf_skb_load_bytes(skb, 0, &ip, sizeof(ip)) || ip.protocol != IPPROTO_UDP)
			return 1;
		if (ip.frag_off & bpf_htons(0x1fff)) /* a later fragment: no ports */
			return 1;
		s.v4 = ip.saddr;
		d.v4 = ip.daddr;
		l4 = (__u32)ip.ihl * 4;
		family = AF_INET;
	} else if (skb->protocol == bpf_htons(ETH_P_IPV6)) {
		struct ipv6hdr ip6;

		if (bpf_skb_load_bytes(skb, 0, &ip6, sizeof(ip6)) || ip6.nexthdr != IPPROTO_UDP)
			return 1;
		__builtin_memcpy(&s, &ip6.saddr, sizeof(s));
		__builtin_memcpy(&d, &ip6.daddr, sizeof(d));
		l4 = sizeof(ip6);
		family = AF_INET6;
	} else {
		return 1;
	}
	cookie = bpf_get_socket_cookie(skb);
	so = bpf_map_lookup_elem(&xct_owner_sock, &cookie);
	if (!so)
		return 1;
	if (bpf_skb_load_bytes(skb, l4, &uh, sizeof(uh)))
		return 1;
	xct_owner_key(family, IPPROTO_UDP, &s, uh.source, &d, uh.dest, &key);
	if (bpf_map_lookup_elem(&xct_owner, &key))
		return 1;
	__builtin_memcpy(&o, so, sizeof(o));
	if (bpf_map_update_elem(&xct_owner, &key, &o, BPF_NOEXIST))
		owner_count(XCT_OWNER_S_FULL);
	else
		owner_count(XCT_OWNER_S_RECORDED);
	return 1;
}

char LICENSE[] SEC("license") = "GPL";
