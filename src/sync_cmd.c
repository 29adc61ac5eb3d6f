// SPDX-License-Identifier: GPL-2.0-only
/*
 * xct sync commit / xct sync flush: the HA peer's connections that xctd
 * keeps in its external cache (xctd --sync-peer, src/daemon/sync.c), put
 * into the table on failover or dropped, as conntrackd -c and -f do.  The
 * work is xctd's, which holds the cache; this command asks for it over
 * xctd's socket and waits for the answer, so that a keepalived notify
 * script returns once the table holds the connections.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "daemon/stream.h"
#include "daemon/wire.h"
#include "xct.h"

static const char sync_usage[] =
	"Usage: xct sync commit\n"
	"       xct sync flush\n"
	"\n"
	"The connections of the HA peer that xctd --sync-peer keeps, as conntrackd\n"
	"keeps its peer's in the external cache.\n"
	"\n"
	"commit puts them into the table, each with the timeout it had left when\n"
	"the peer last spoke of it, less the time since (60 s when none is left):\n"
	"for the backup taking over, as conntrackd -c.  TCP connections are tracked\n"
	"liberally until both directions have been seen, since their windows were\n"
	"not replicated.  A connection the table has already is left as it is.\n"
	"The cache is kept.\n"
	"\n"
	"flush empties the cache, as conntrackd -f external.\n"
	"\n"
	"Both are done by xctd, through its socket (--socket); exit status 1 when\n"
	"no xctd answers or it does not sync.\n"
	"\n"
	"Examples:\n"
	"  xct sync commit\n"
	"  xct -j sync commit\n";

static void print_result(const char *what, const struct xctd_sync_result *r)
{
	if (xct_opts.json) {
		printf("{\"%s\":{\"cached\":%llu,\"committed\":%llu,\"liberal\":%llu,"
		       "\"exists\":%llu,\"nat_clash\":%llu,\"failed\":%llu}}\n",
		       what, (unsigned long long)r->cached, (unsigned long long)r->committed,
		       (unsigned long long)r->liberal, (unsigned long long)r->exists,
		       (unsigned long long)r->nat_clash, (unsigned long long)r->failed);
		return;
	}
	if (!strcmp(what, "flush")) {
		printf("flushed %llu connections from the external cache\n",
		       (unsigned long long)r->cached);
		return;
	}
	printf("committed %llu of %llu connections (%llu TCP, relearning their windows); "
	       "%llu already in the table, %llu with a translated tuple taken, %llu refused "
	       "(table full)\n",
	       (unsigned long long)r->committed, (unsigned long long)r->cached,
	       (unsigned long long)r->liberal, (unsigned long long)r->exists,
	       (unsigned long long)r->nat_clash, (unsigned long long)r->failed);
}

int cmd_sync(int argc, char **argv)
{
	struct xct_stream_paths paths;
	struct xctd_sync_result r;
	__u32 flags;

	if (argc < 2 || !strcmp(argv[1], "help") || !strcmp(argv[1], "--help") ||
	    !strcmp(argv[1], "-h")) {
		fputs(sync_usage, argc < 2 ? stderr : stdout);
		return argc < 2 ? XCT_EXIT_USAGE : XCT_EXIT_OK;
	}
	if (!strcmp(argv[1], "commit"))
		flags = XCTD_HELLO_SYNC_COMMIT;
	else if (!strcmp(argv[1], "flush"))
		flags = XCTD_HELLO_SYNC_FLUSH;
	else
		return xct_usage_error("sync: unknown command '%s' (commit, flush)", argv[1]);
	if (argc > 2 && (!strcmp(argv[2], "--help") || !strcmp(argv[2], "-h"))) {
		fputs(sync_usage, stdout);
		return XCT_EXIT_OK;
	}
	if (argc > 2)
		return xct_usage_error("sync %s takes no arguments ('%s')", argv[1], argv[2]);
	if (xct_require_root())
		return XCT_EXIT_RUNTIME;
	if (xctd_sync_request(xct_cli_stream_paths(&paths), flags, &r))
		return XCT_EXIT_RUNTIME;
	print_result(argv[1], &r);
	return XCT_EXIT_OK;
}
