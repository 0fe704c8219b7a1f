/*
 * vn-route: installs the routes of a configuration over rtnetlink, all from ONE process
 * (the init's vn_apply, docs/guest-contract.md "Configuration").
 *
 *   vn-route FILE
 *
 * FILE has one route per line, as vn_apply plans them:
 *   <destination> <next-hop>
 * destination: an address with prefix length (a.b.c.d/p or an IPv6 address/p), or `default` or
 * `default6` (prefix length 0); next hop: an address. The family is the next hop's (like the init's
 * `ip -4|-6 route add <destination> via <next-hop>`), and the destination must be of the same family.
 * Every route is added like busybox `ip route add`: main table, protocol boot, scope universe,
 * unicast, the kernel's default metric, refused when the same route exists (NLM_F_EXCL).
 *
 * Every line is tried, in order; a line that is malformed or that the kernel refuses prints
 *   "vn-route: line <n>: <why>"                 on stderr, then
 *   "error: cannot add route <dst> via <nh>"    on stdout (the init's message for a failed route;
 *                                               default6 is named default there, as the init did),
 * and the next line is tried. Exit code 0 when every route was added, 1 when any line failed,
 * 2 when FILE cannot be read or the netlink socket cannot be opened (nothing is added then).
 *
 * Why: under TCG a busybox `ip route add` process per route (fork + exec) costs about 2 ms of guest
 * CPU; a router of a ring of 64 has 62 routes. This adds them with two system calls each.
 * Built into /bin/vn-probe (one static binary; /bin/vn-route is a link to it, see images/router/build.sh);
 * with -DVN_ROUTE_STANDALONE it builds on its own.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include "vn-decimal.h"

int vn_route_main(int argc, char **argv);

#define MAX_LINE 256   /* longer lines are refused (an IPv6 route is at most 43 + 1 + 39 characters) */
#define MAX_ROUTES 100000

struct route {
	int family;
	unsigned char dst[16];
	int dst_len;
	unsigned char gw[16];
};

/* Decimal 0..hi without sign or leading zeros; -1 when not. */
static int prefix_len(const char *s, int hi)
{
	int v;
	return parse_int(s, 0, hi, &v) ? -1 : v;
}

/* Parses "<dst> <nh>" into r; on error writes why into err and returns -1. */
static int parse_route(char *dst, char *nh, struct route *r, char *err, size_t errlen)
{
	memset(r, 0, sizeof *r);
	if (strlen(nh) <= 39 && inet_pton(AF_INET, nh, r->gw) == 1)
		r->family = AF_INET;
	else if (strlen(nh) <= 39 && inet_pton(AF_INET6, nh, r->gw) == 1)
		r->family = AF_INET6;
	else {
		snprintf(err, errlen, "bad next hop '%s'", nh);
		return -1;
	}
	if (strcmp(dst, "default") == 0 || strcmp(dst, "default6") == 0) {
		r->dst_len = 0;
		return 0;
	}
	char *slash = strchr(dst, '/');
	if (!slash || slash == dst || strlen(dst) > 43) {
		snprintf(err, errlen, "bad destination '%s' (address/prefix, default or default6)", dst);
		return -1;
	}
	*slash = '\0';
	int ok6 = inet_pton(AF_INET6, dst, r->dst) == 1;
	int ok4 = !ok6 && inet_pton(AF_INET, dst, r->dst) == 1;
	int len = prefix_len(slash + 1, r->family == AF_INET ? 32 : 128);
	*slash = '/';
	if (!ok4 && !ok6) {
		snprintf(err, errlen, "bad destination '%s' (address/prefix, default or default6)", dst);
		return -1;
	}
	if ((ok4 ? AF_INET : AF_INET6) != r->family) {
		snprintf(err, errlen, "destination '%s' and next hop '%s' are of different address families", dst, nh);
		return -1;
	}
	if (len < 0) {
		snprintf(err, errlen, "bad prefix length in '%s' (0..%d)", dst, r->family == AF_INET ? 32 : 128);
		return -1;
	}
	r->dst_len = len;
	return 0;
}

static void add_attr(struct nlmsghdr *n, size_t cap, int type, const void *data, size_t len)
{
	struct rtattr *a = (struct rtattr *)((char *)n + NLMSG_ALIGN(n->nlmsg_len));
	size_t need = NLMSG_ALIGN(n->nlmsg_len) + RTA_LENGTH(len);
	if (need > cap)
		abort(); /* cannot happen: the buffer fits both attributes */
	a->rta_type = (unsigned short)type;
	a->rta_len = (unsigned short)RTA_LENGTH(len);
	memcpy(RTA_DATA(a), data, len);
	n->nlmsg_len = (unsigned int)(NLMSG_ALIGN(n->nlmsg_len) + RTA_ALIGN(RTA_LENGTH(len)));
}

/* Adds one route; 0 or an errno value. */
static int add_route(int fd, const struct route *r, unsigned int seq)
{
	union {
		struct nlmsghdr n;
		char buf[NLMSG_SPACE(sizeof(struct rtmsg)) + 2 * RTA_SPACE(16)];
	} req;
	memset(&req, 0, sizeof req);
	req.n.nlmsg_len = NLMSG_LENGTH(sizeof(struct rtmsg));
	req.n.nlmsg_type = RTM_NEWROUTE;
	req.n.nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK | NLM_F_CREATE | NLM_F_EXCL;
	req.n.nlmsg_seq = seq;
	struct rtmsg *rt = NLMSG_DATA(&req.n);
	rt->rtm_family = (unsigned char)r->family;
	rt->rtm_dst_len = (unsigned char)r->dst_len;
	rt->rtm_table = RT_TABLE_MAIN;
	rt->rtm_protocol = RTPROT_BOOT;
	rt->rtm_scope = RT_SCOPE_UNIVERSE;
	rt->rtm_type = RTN_UNICAST;
	size_t alen = r->family == AF_INET ? 4 : 16;
	if (r->dst_len > 0)
		add_attr(&req.n, sizeof req, RTA_DST, r->dst, alen);
	add_attr(&req.n, sizeof req, RTA_GATEWAY, r->gw, alen);

	struct sockaddr_nl kernel = { .nl_family = AF_NETLINK };
	if (sendto(fd, &req, req.n.nlmsg_len, 0, (struct sockaddr *)&kernel, sizeof kernel) < 0)
		return errno;
	for (;;) {
		union {
			struct nlmsghdr n;
			char buf[4096];
		} ans;
		ssize_t got = recv(fd, &ans, sizeof ans, 0);
		if (got < 0) {
			if (errno == EINTR)
				continue;
			return errno;
		}
		for (struct nlmsghdr *h = &ans.n; NLMSG_OK(h, (unsigned int)got); h = NLMSG_NEXT(h, got)) {
			if (h->nlmsg_seq != seq || h->nlmsg_type != NLMSG_ERROR)
				continue; /* not the answer to this request */
			if (h->nlmsg_len < NLMSG_LENGTH(sizeof(struct nlmsgerr)))
				return EPROTO;
			const struct nlmsgerr *e = NLMSG_DATA(h);
			return e->error < 0 ? -e->error : 0;
		}
	}
}

static void report(unsigned long n, const char *dst, const char *nh, const char *why)
{
	fprintf(stderr, "vn-route: line %lu: %s\n", n, why);
	fflush(stderr);
	/* The init's words: default6 is added as the IPv6 "default". */
	printf("error: cannot add route %s via %s\n", strcmp(dst, "default6") == 0 ? "default" : dst, nh);
	fflush(stdout);
}

int vn_route_main(int argc, char **argv)
{
	if (argc != 2) {
		fprintf(stderr, "usage: vn-route <file> (lines: <destination>|default|default6 <next-hop>)\n");
		return 2;
	}
	FILE *f = fopen(argv[1], "re");
	if (!f) {
		fprintf(stderr, "vn-route: cannot read %s: %s\n", argv[1], strerror(errno));
		return 2;
	}
	int fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
	struct sockaddr_nl local = { .nl_family = AF_NETLINK };
	/* Bounded: a kernel answer that never comes fails that route (EAGAIN) instead of hanging the boot. */
	struct timeval bound = { .tv_sec = 5 };
	if (fd < 0 || bind(fd, (struct sockaddr *)&local, sizeof local) < 0 ||
	    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &bound, sizeof bound) < 0) {
		fprintf(stderr, "vn-route: cannot open a netlink socket: %s\n", strerror(errno));
		if (fd >= 0)
			close(fd);
		fclose(f);
		return 2;
	}

	int rc = 0;
	unsigned long n = 0;
	char line[MAX_LINE + 2];
	while (fgets(line, sizeof line, f)) {
		n++;
		size_t len = strlen(line);
		int complete = len > 0 && line[len - 1] == '\n';
		if (!complete && !feof(f)) {
			/* longer than MAX_LINE: skip the rest of it */
			int c;
			while ((c = fgetc(f)) != EOF && c != '\n')
				;
			report(n, "?", "?", "line too long");
			rc = 1;
			continue;
		}
		if (complete)
			line[--len] = '\0';
		if (len > 0 && line[len - 1] == '\r')
			line[--len] = '\0';
		if (strlen(line) != len) {
			report(n, "?", "?", "NUL byte in the line");
			rc = 1;
			continue;
		}
		char *save = NULL;
		char *dst = strtok_r(line, " \t", &save);
		char *nh = dst ? strtok_r(NULL, " \t", &save) : NULL;
		char *more = nh ? strtok_r(NULL, " \t", &save) : NULL;
		if (!dst)
			continue; /* an empty line */
		if (!nh || more) {
			report(n, dst, nh ? nh : "", "usage: <destination>|default|default6 <next-hop>");
			rc = 1;
			continue;
		}
		if (n > MAX_ROUTES) {
			report(n, dst, nh, "more than 100000 routes");
			rc = 1;
			break;
		}
		struct route r;
		char why[160];
		if (parse_route(dst, nh, &r, why, sizeof why) < 0) {
			report(n, dst, nh, why);
			rc = 1;
			continue;
		}
		int err = add_route(fd, &r, (unsigned int)n);
		if (err) {
			snprintf(why, sizeof why, "RTNETLINK answers: %s", strerror(err));
			report(n, dst, nh, why);
			rc = 1;
		}
	}
	if (ferror(f)) {
		fprintf(stderr, "vn-route: reading %s failed\n", argv[1]);
		rc = 1;
	}
	fclose(f);
	close(fd);
	return rc;
}

#ifdef VN_ROUTE_STANDALONE
int main(int argc, char **argv)
{
	return vn_route_main(argc, argv);
}
#endif
