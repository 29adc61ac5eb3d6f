// SPDX-License-Identifier: GPL-2.0-only
/*
 * Connection owners in the compiled datapath (bpf/owner_maps.h,
 * bpf/ct_events.h): a connection with a packet tracked at egress (sent by
 * this host) is marked XCT_CT_LOCAL, a forwarded one is not; while owners
 * are recorded, a local connection's DESTROY carries its owner and its
 * deletion removes the owner, and a forwarded connection's end looks no
 * owner up (an owner planted under its key stays, and its DESTROY has
 * none); with owners not recorded, nothing is looked up at all.
 */
#include <errno.h>
#include <string.h>
#include <time.h>
#include <bpf/libbpf.h>
#include <bpf/bpf.h>

#include "fixture.h"
#include "xct/owner.h"

/* The one event in the ring: its size and, when owned, its owner. */
struct owned_read {
	int n;
	size_t size;
	struct xct_ct_event ev;
	struct xct_owner owner;
};

static int on_event(void *ctx, void *data, size_t size)
{
	struct owned_read *r = ctx;

	r->n++;
	r->size = size;
	memcpy(&r->ev, data, sizeof(r->ev));
	if (size == sizeof(struct xct_ct_event_owned))
		memcpy(&r->owner, (const char *)data + offsetof(struct xct_ct_event_owned, owner),
		       sizeof(r->owner));
	return 0;
}

static struct owned_read read_events(struct fixture *fx)
{
	struct owned_read r;
	struct ring_buffer *rb;

	memset(&r, 0, sizeof(r));
	rb = ring_buffer__new(bpf_map__fd(fx->skel->maps.xct_ct_events), on_event, &r, NULL);
	if (!rb) {
		CHECK_FAIL("cannot open xct_ct_events: %s", strerror(errno));
		return r;
	}
	ring_buffer__consume(rb);
	ring_buffer__free(rb);
	return r;
}

static void owners_on(struct fixture *fx, __u32 on)
{
	struct xct_owner_ctl c = {.on = on};
	__u32 zero = 0;

	if (bpf_map_update_elem(bpf_map__fd(fx->skel->maps.xct_owner_ctl), &zero, &c, BPF_ANY))
		CHECK_FAIL("cannot write xct_owner_ctl: %s", strerror(errno));
}

/* An owner filed under f's key, as the owner programs file one. */
static void plant_owner(struct fixture *fx, const struct flow *f, __u32 pid)
{
	struct xct_owner o;
	struct xct_ct_key key;
	__u8 side;

	memset(&o, 0, sizeof(o));
	o.pid = o.tgid = pid;
	o.uid = o.gid = 1000;
	o.cookie = 77;
	o.how = XCT_OWNER_CONNECT;
	memcpy(o.comm, "owner-test", 11);
	flow_key(f, &key, &side);
	if (bpf_map_update_elem(bpf_map__fd(fx->skel->maps.xct_owner), &key, &o, BPF_ANY))
		CHECK_FAIL("cannot file an owner: %s", strerror(errno));
}

static int owner_filed(struct fixture *fx, const struct flow *f)
{
	struct xct_owner o;
	struct xct_ct_key key;
	__u8 side;

	flow_key(f, &key, &side);
	return bpf_map_lookup_elem(bpf_map__fd(fx->skel->maps.xct_owner), &key, &o) == 0;
}

static int ctl_delete(struct fixture *fx, const struct flow *f)
{
	struct xct_ctl_ct_msg m = {.hdr.cmd = XCT_CTL_CT_DELETE}, out = {.hdr.ret = -1};
	__u8 side;

	flow_key(f, &m.key, &side);
	CHECK_EQ(run_prog(fx->skel->progs.xct_ctl, &m, sizeof(m), NULL, &out, sizeof(out)),
		 XDP_PASS);
	return out.hdr.ret;
}

TEST(owner_local_mark_only_with_an_egress_packet)
{
	struct flow fwd = make_flow(XCT_IPPROTO_UDP, "10.0.0.1", 40000, "10.0.9.9", 53);
	struct flow loc = make_flow(XCT_IPPROTO_UDP, "10.0.0.2", 40001, "10.0.9.9", 53);
	struct flow rf = reverse(&fwd);
	struct packet q_fwd = udp_packet(&fwd, 20), a_fwd = udp_packet(&rf, 20);
	struct packet q_loc = udp_packet(&loc, 20);
	struct xct_ct_entry e;
	struct fixture fx;

	if (!fixture_setup(&fx, 0))
		return;
	/* Forwarded: both directions arrive by XDP. */
	xdp_in(&fx, &q_fwd);
	xdp_in(&fx, &a_fwd);
	CHECK_EQ(get_entry(&fx, &fwd, &e), 0);
	CHECK_EQ(e.status, XCT_CT_SEEN_REPLY);
	/* Sent by this host: its first packet leaves by TC egress. */
	tc_out(&fx, &q_loc);
	CHECK_EQ(get_entry(&fx, &loc, &e), 0);
	CHECK_EQ(e.status, XCT_CT_LOCAL);
	fixture_teardown(&fx);
}

TEST(owner_local_connection_destroy_carries_owner_and_removes_it)
{
	struct flow c = make_flow(XCT_IPPROTO_TCP, "10.0.0.1", 40000, "10.0.0.2", 80);
	struct owned_read r;
	struct fixture fx;

	if (!fixture_setup(&fx, 0))
		return;
	owners_on(&fx, 1);
	tcp_handshake(&fx, &c); /* its SYN/ACK leaves by TC egress */
	plant_owner(&fx, &c, 4242);
	ct_events_subscribe(&fx);
	read_events(&fx);
	CHECK_EQ(ctl_delete(&fx, &c), 0);
	r = read_events(&fx);
	CHECK_EQ(r.n, 1);
	CHECK_EQ(r.ev.type, XCT_CTE_DESTROY);
	CHECK_EQ(r.size, sizeof(struct xct_ct_event_owned));
	CHECK_EQ(r.owner.tgid, 4242);
	CHECK_EQ(r.owner.uid, 1000);
	CHECK_EQ(r.owner.cookie, 77);
	CHECK(!strcmp(r.owner.comm, "owner-test"));
	/* The event's status is the kernel's: the mark stays inside. */
	CHECK_EQ(r.ev.status, XCT_CT_SEEN_REPLY | XCT_CT_ASSURED);
	CHECK(!owner_filed(&fx, &c));
	fixture_teardown(&fx);
}

TEST(owner_forwarded_connection_end_looks_nothing_up)
{
	struct flow c = make_flow(XCT_IPPROTO_UDP, "10.0.0.1", 40000, "10.0.9.9", 53);
	struct flow s = reverse(&c);
	struct packet q = udp_packet(&c, 20), a = udp_packet(&s, 20);
	struct owned_read r;
	struct fixture fx;

	if (!fixture_setup(&fx, 0))
		return;
	owners_on(&fx, 1);
	xdp_in(&fx, &q);
	xdp_in(&fx, &a);
	/* Planted: a forwarded connection never has one, so whatever is
	 * under its key is not its owner, and is neither shown nor
	 * removed. */
	plant_owner(&fx, &c, 4243);
	ct_events_subscribe(&fx);
	CHECK_EQ(ctl_delete(&fx, &c), 0);
	r = read_events(&fx);
	CHECK_EQ(r.n, 1);
	CHECK_EQ(r.ev.type, XCT_CTE_DESTROY);
	CHECK_EQ(r.size, sizeof(struct xct_ct_event));
	CHECK(owner_filed(&fx, &c));
	fixture_teardown(&fx);
}

TEST(owner_not_recorded_local_end_looks_nothing_up)
{
	struct flow c = make_flow(XCT_IPPROTO_UDP, "10.0.0.2", 40001, "10.0.9.9", 53);
	struct packet q = udp_packet(&c, 20);
	struct owned_read r;
	struct fixture fx;

	if (!fixture_setup(&fx, 0))
		return;
	tc_out(&fx, &q);
	plant_owner(&fx, &c, 4244);
	ct_events_subscribe(&fx);
	read_events(&fx);
	CHECK_EQ(ctl_delete(&fx, &c), 0);
	r = read_events(&fx);
	CHECK_EQ(r.n, 1);
	CHECK_EQ(r.size, sizeof(struct xct_ct_event));
	CHECK(owner_filed(&fx, &c));
	fixture_teardown(&fx);
}

/* A record under f's key made at ns (CLOCK_MONOTONIC) by socket cookie. */
static void plant_owner_at(struct fixture *fx, const struct flow *f, __u64 cookie, __u64 ns)
{
	struct xct_owner o;
	struct xct_ct_key key;
	__u8 side;

	memset(&o, 0, sizeof(o));
	o.cookie = cookie;
	o.time_ns = ns;
	o.how = XCT_OWNER_CONNECT;
	flow_key(f, &key, &side);
	if (bpf_map_update_elem(bpf_map__fd(fx->skel->maps.xct_owner), &key, &o, BPF_ANY))
		CHECK_FAIL("cannot file an owner: %s", strerror(errno));
}

/* Socket cookie is alive: in xct_owner_sock, as until its release. */
static void socket_alive(struct fixture *fx, __u64 cookie)
{
	struct xct_owner o = {.cookie = cookie};

	if (bpf_map_update_elem(bpf_map__fd(fx->skel->maps.xct_owner_sock), &cookie, &o, BPF_ANY))
		CHECK_FAIL("cannot file a socket: %s", strerror(errno));
}

static __u64 owner_stat(struct fixture *fx, __u32 slot)
{
	int ncpu = libbpf_num_possible_cpus(), i;
	__u64 v[512], sum = 0;

	if (ncpu > 512 ||
	    bpf_map_lookup_elem(bpf_map__fd(fx->skel->maps.xct_owner_stats), &slot, v))
		return (__u64)-1;
	for (i = 0; i < ncpu; i++)
		sum += v[i];
	return sum;
}

static __u64 mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (__u64)ts.tv_sec * 1000000000ULL + (__u64)ts.tv_nsec;
}

/*
 * The collector sweeps the owner records no entry holds: a released
 * socket's once past the grace, and any once older than the longest
 * timeout; a record an entry holds, a live socket's and a released one's
 * within the grace stay.  Counted as owner_swept.
 */
TEST(owner_sweep_records_no_entry_holds)
{
	struct flow held = make_flow(XCT_IPPROTO_TCP, "10.0.0.1", 40000, "10.0.0.2", 80);
	struct flow gone = make_flow(XCT_IPPROTO_TCP, "127.0.0.1", 40001, "127.0.0.1", 80);
	struct flow fresh = make_flow(XCT_IPPROTO_TCP, "127.0.0.1", 40002, "127.0.0.1", 80);
	struct flow alive = make_flow(XCT_IPPROTO_UDP, "127.0.0.1", 40003, "127.0.0.1", 53);
	struct xct_tunables tun = {};
	struct fixture fx;
	__u64 now = mono_ns(), old = now - 3 * XCT_OWNER_SWEEP_GRACE_NS;
	__u32 zero = 0;
	int i;

	if (!fixture_setup(&fx, 0))
		return;
	owners_on(&fx, 1);
	tcp_handshake(&fx, &held);
	plant_owner_at(&fx, &held, 1, old); /* released, but its entry holds it */
	plant_owner_at(&fx, &gone, 2, old);
	plant_owner_at(&fx, &fresh, 3, now);
	plant_owner_at(&fx, &alive, 4, old);
	socket_alive(&fx, 4);
	gc_run(&fx);
	CHECK(owner_filed(&fx, &held));
	CHECK(!owner_filed(&fx, &gone));
	CHECK(owner_filed(&fx, &fresh));
	CHECK(owner_filed(&fx, &alive));
	CHECK_EQ(owner_stat(&fx, XCT_OWNER_S_SWEPT), 1);

	/* Every timeout at 1 s: a live socket's record older than that goes;
	 * the held one stays with its entry (alive, 1 s old entries do not
	 * expire in the fixture's fixed clock). */
	for (i = 0; i < XCT_TUNABLE_MAX; i++)
		tun.v[i] = xct_tunable_default((enum xct_tunable)i);
	for (i = XCT_TUNABLE_GENERIC; i <= XCT_TUNABLE_ICMPV6; i++)
		tun.v[i] = 1;
	tun.written = XCT_TUNABLES_WRITTEN;
	CHECK_EQ(bpf_map_update_elem(bpf_map__fd(fx.skel->maps.data_xct_timeouts), &zero, &tun,
				     BPF_ANY),
		 0);
	gc_run(&fx);
	CHECK(!owner_filed(&fx, &alive));
	CHECK(owner_filed(&fx, &fresh)); /* younger than 1 s, still */
	CHECK_EQ(owner_stat(&fx, XCT_OWNER_S_SWEPT), 2);

	/* Owners not recorded: nothing is swept. */
	owners_on(&fx, 0);
	plant_owner_at(&fx, &gone, 2, old);
	gc_run(&fx);
	CHECK(owner_filed(&fx, &gone));
	fixture_teardown(&fx);
}
