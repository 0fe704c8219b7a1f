/*
 * vn-probe: the router image's prober for the guest command `probe` (docs/guest-contract.md).
 *
 *   vn-probe COUNT DEADLINE ADDR...
 *
 * Sends COUNT ICMP/ICMPv6 echo requests (56 data bytes, like busybox ping) to every ADDR, one round
 * to all addresses every 0.2 s, from ONE process with one raw socket per family, and answers one
 * line per address in the order asked:
 *   "<addr> ok <avg-rtt-ms>"   at least one reply came back (average of the replies, 3 decimals)
 *   "<addr> lost"             no reply within DEADLINE seconds (also: no route, send error)
 * It ends as soon as every address has answered every request sent to it, else at DEADLINE.
 * Exit code 0 when every address answered, 1 otherwise, 2 on bad arguments (nothing is sent then).
 *
 * Why: under TCG a busybox ping process per address (fork + exec + socket + exit) costs about 4 ms
 * of guest CPU; one process for the whole request costs that once.
 * Replies are matched by echo identifier (per socket: this process's pid) and sequence number
 * (address index * 16 + round), like ping, not by source address.
 * Built static (gcc -static) by images/router/build.sh; no dependencies. The same binary is
 * /bin/vn-route (images/router/vn-route.c): one static C library in the image, not two.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/icmp6.h>
#include <netinet/in.h>
#include <netinet/ip.h>
#include <netinet/ip_icmp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "vn-decimal.h"

#ifndef ICMP_FILTER
#define ICMP_FILTER 1 /* linux/icmp.h; that header clashes with netinet/ip_icmp.h */
struct icmp_filter {
	unsigned int data;
};
#endif

#define MAX_ADDRS 64
#define MAX_COUNT 10
#define MAX_DEADLINE 30
#define INTERVAL_NS 200000000LL /* 0.2 s between rounds, like ping -i 0.2 */
#define DATALEN 56

struct target {
	const char *text;
	int family;
	struct sockaddr_storage sa;
	socklen_t salen;
	int sent, received, failed;
	long long sent_at[MAX_COUNT];
	long long rtt_sum_us;
	unsigned char seen[MAX_COUNT];
};

static struct target targets[MAX_ADDRS];
static int ntargets;

static long long now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static unsigned short checksum(const void *data, size_t len)
{
	const unsigned char *p = data;
	unsigned long sum = 0;
	for (; len > 1; len -= 2, p += 2)
		sum += (p[0] << 8) | p[1];
	if (len)
		sum += p[0] << 8;
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return htons((unsigned short)~sum);
}

static void send_round(int fd4, int fd6, unsigned short id, int round)
{
	unsigned char pkt[8 + DATALEN];
	for (int i = 0; i < ntargets; i++) {
		struct target *t = &targets[i];
		if (t->failed)
			continue;
		int fd = t->family == AF_INET ? fd4 : fd6;
		memset(pkt, 0, sizeof pkt);
		pkt[0] = t->family == AF_INET ? ICMP_ECHO : ICMP6_ECHO_REQUEST;
		unsigned short seq = htons((unsigned short)(i * 16 + round));
		memcpy(pkt + 4, &id, 2);
		memcpy(pkt + 6, &seq, 2);
		for (int k = 0; k < DATALEN; k++)
			pkt[8 + k] = (unsigned char)k;
		if (t->family == AF_INET) {
			unsigned short c = checksum(pkt, sizeof pkt);
			memcpy(pkt + 2, &c, 2);
		} /* ICMPv6: the kernel computes the checksum of a raw IPPROTO_ICMPV6 socket */
		t->sent_at[round] = now_ns();
		if (sendto(fd, pkt, sizeof pkt, 0, (struct sockaddr *)&t->sa, t->salen) < 0) {
			if (errno == EAGAIN || errno == ENOBUFS || errno == EINTR)
				t->sent++; /* counted as sent and lost, like ping */
			else
				t->failed = 1; /* no route, unreachable: lost at once */
			continue;
		}
		t->sent++;
	}
}

/* Handles one echo reply (ICMP header at p); ignores anything that is not ours. */
static void on_reply(const unsigned char *p, size_t len, unsigned char want_type, unsigned short id, long long at)
{
	if (len < 8 || p[0] != want_type || memcmp(p + 4, &id, 2) != 0)
		return;
	unsigned short seq;
	memcpy(&seq, p + 6, 2);
	seq = ntohs(seq);
	int i = seq / 16, round = seq % 16;
	if (i >= ntargets || round >= MAX_COUNT)
		return;
	struct target *t = &targets[i];
	if ((t->family == AF_INET) != (want_type == ICMP_ECHOREPLY) || round >= t->sent || t->seen[round])
		return;
	t->seen[round] = 1;
	t->received++;
	t->rtt_sum_us += (at - t->sent_at[round]) / 1000;
}

static void drain(int fd, int family, unsigned short id)
{
	unsigned char buf[1500];
	for (;;) {
		ssize_t n = recv(fd, buf, sizeof buf, MSG_DONTWAIT);
		if (n < 0)
			return;
		long long at = now_ns();
		if (family == AF_INET) {
			/* A raw IPv4 socket gets the IP header too. */
			if (n < 20)
				continue;
			size_t hl = (size_t)(buf[0] & 0x0f) * 4;
			if ((size_t)n < hl + 8)
				continue;
			on_reply(buf + hl, (size_t)n - hl, ICMP_ECHOREPLY, id, at);
		} else {
			on_reply(buf, (size_t)n, ICMP6_ECHO_REPLY, id, at);
		}
	}
}

static int all_answered(int count)
{
	for (int i = 0; i < ntargets; i++)
		if (!targets[i].failed && targets[i].received < count)
			return 0;
	return 1;
}

/* vn-route.c, linked into this binary: run as /bin/vn-route (a link to vn-probe) it installs routes. */
int vn_route_main(int argc, char **argv);

int main(int argc, char **argv)
{
	const char *self = argc > 0 ? strrchr(argv[0], '/') : NULL;
	self = self ? self + 1 : argc > 0 ? argv[0] : "";
	if (strcmp(self, "vn-route") == 0)
		return vn_route_main(argc, argv);
	int count, deadline;
	if (argc < 4 || argc - 3 > MAX_ADDRS || parse_int(argv[1], 1, MAX_COUNT, &count) ||
	    parse_int(argv[2], 1, MAX_DEADLINE, &deadline)) {
		fprintf(stderr, "usage: vn-probe <count 1..%d> <deadline s 1..%d> <address>... (1..%d addresses)\n",
			MAX_COUNT, MAX_DEADLINE, MAX_ADDRS);
		return 2;
	}
	/* Bounded by itself (the agent runs it without a watchdog process): whatever blocks, SIGALRM ends
	 * the process 5 s after the deadline (default action: terminate; the agent reports code 124). */
	alarm(deadline + 5);
	int need4 = 0, need6 = 0;
	for (int i = 3; i < argc; i++) {
		struct target *t = &targets[ntargets++];
		t->text = argv[i];
		struct sockaddr_in *s4 = (struct sockaddr_in *)&t->sa;
		struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&t->sa;
		if (strlen(argv[i]) <= 39 && inet_pton(AF_INET, argv[i], &s4->sin_addr) == 1) {
			s4->sin_family = t->family = AF_INET;
			t->salen = sizeof *s4;
			need4 = 1;
		} else if (strlen(argv[i]) <= 39 && inet_pton(AF_INET6, argv[i], &s6->sin6_addr) == 1) {
			s6->sin6_family = t->family = AF_INET6;
			t->salen = sizeof *s6;
			need6 = 1;
		} else {
			fprintf(stderr, "vn-probe: '%s' is not an IP address\n", argv[i]);
			return 2;
		}
	}

	int fd4 = -1, fd6 = -1;
	unsigned short id = htons((unsigned short)getpid());
	if (need4) {
		fd4 = socket(AF_INET, SOCK_RAW, IPPROTO_ICMP);
		if (fd4 >= 0) {
			struct icmp_filter f = {.data = ~(1U << ICMP_ECHOREPLY)};
			setsockopt(fd4, SOL_RAW, ICMP_FILTER, &f, sizeof f);
		}
	}
	if (need6) {
		fd6 = socket(AF_INET6, SOCK_RAW, IPPROTO_ICMPV6);
		if (fd6 >= 0) {
			struct icmp6_filter f;
			ICMP6_FILTER_SETBLOCKALL(&f);
			ICMP6_FILTER_SETPASS(ICMP6_ECHO_REPLY, &f);
			setsockopt(fd6, IPPROTO_ICMPV6, ICMP6_FILTER, &f, sizeof f);
		}
	}
	for (int i = 0; i < ntargets; i++)
		if ((targets[i].family == AF_INET ? fd4 : fd6) < 0)
			targets[i].failed = 1; /* no socket: lost (ping would fail the same way) */
	int rcv = 256 * 1024;
	if (fd4 >= 0)
		setsockopt(fd4, SOL_SOCKET, SO_RCVBUF, &rcv, sizeof rcv);
	if (fd6 >= 0)
		setsockopt(fd6, SOL_SOCKET, SO_RCVBUF, &rcv, sizeof rcv);

	long long start = now_ns(), end = start + (long long)deadline * 1000000000LL;
	int rounds = 0;
	long long next = start;
	for (;;) {
		long long t = now_ns();
		if (rounds < count && t >= next) {
			send_round(fd4, fd6, id, rounds);
			rounds++;
			next += INTERVAL_NS;
		}
		if (all_answered(count) || t >= end)
			break;
		long long until = end;
		if (rounds < count && next < until)
			until = next;
		int ms = (int)((until - t + 999999) / 1000000);
		struct pollfd p[2];
		int np = 0;
		if (fd4 >= 0)
			p[np++] = (struct pollfd){.fd = fd4, .events = POLLIN};
		if (fd6 >= 0)
			p[np++] = (struct pollfd){.fd = fd6, .events = POLLIN};
		if (np == 0)
			break;
		if (poll(p, np, ms > 0 ? ms : 0) > 0) {
			if (fd4 >= 0)
				drain(fd4, AF_INET, id);
			if (fd6 >= 0)
				drain(fd6, AF_INET6, id);
		}
	}

	/* One write of the whole answer. */
	static char out[MAX_ADDRS * 64];
	size_t len = 0;
	int rc = 0;
	for (int i = 0; i < ntargets; i++) {
		struct target *t = &targets[i];
		if (t->received > 0) {
			long long avg = t->rtt_sum_us / t->received;
			len += (size_t)snprintf(out + len, sizeof out - len, "%s ok %lld.%03lld\n", t->text, avg / 1000,
						avg % 1000);
		} else {
			len += (size_t)snprintf(out + len, sizeof out - len, "%s lost\n", t->text);
			rc = 1;
		}
	}
	for (size_t off = 0; off < len;) {
		ssize_t w = write(1, out + off, len - off);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			return 1;
		}
		off += (size_t)w;
	}
	return rc;
}
