/*
 * vn-portwait: waits, without polling, until the host side of a virtio-serial port is connected.
 *
 *   vn-portwait FD TIMEOUT
 *
 * FD is the port, already open in the calling shell (the agent's `exec 3<>/dev/vportNpM`; a port can
 * be open only once in the guest, so the helper uses the inherited descriptor). Exit code 0 as soon
 * as a host is connected (at once when one already is), 1 when TIMEOUT seconds (1..3600) passed
 * without one, 2 on bad arguments or when FD cannot signal connections (the caller then polls).
 *
 * Why: with no host connected, a read of the port returns 0 at once and poll() reports POLLHUP at
 * once (drivers/char/virtio_console.c), so the agent had to poll: every 0.1 s for 3 s after each
 * disconnect, then every 0.5 s. Under TCG that polling was about 70 % of an idle router's host CPU
 * (0.31 % of a core per router with no host, 0.09 % with the channel held open; measured 2026-12-08)
 * and a new connection waited up to 0.5 s for the agent to notice it. The driver sends SIGIO to the
 * port's owner when the host opens or closes its side (send_sigio_to_port on VIRTIO_CONSOLE_PORT_OPEN)
 * or data arrives, so this helper sets O_ASYNC on the port and sleeps in sigtimedwait(SIGIO).
 * No race: SIGIO is blocked before O_ASYNC is set and before the connection is checked, so a
 * connection made in between stays pending and ends the wait at once. O_ASYNC and the owner are
 * cleared before exit (a later SIGIO must not reach a process that reuses this pid: its default
 * action terminates). Built static by images/router/build.sh; no dependencies.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <time.h>
#include <unistd.h>

#include "vn-decimal.h"

static long long now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* 1 when the host side is connected, 0 when not, -1 on error. */
static int host_connected(int fd)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };
	int n;
	do
		n = poll(&p, 1, 0);
	while (n < 0 && errno == EINTR);
	if (n < 0 || (p.revents & POLLNVAL))
		return -1;
	return (p.revents & POLLHUP) ? 0 : 1;
}

int main(int argc, char **argv)
{
	int fd, timeout, flags, rc;
	sigset_t io;
	long long deadline;

	if (argc != 3 || parse_int(argv[1], 0, 1023, &fd) || parse_int(argv[2], 1, 3600, &timeout))
		return 2;
	flags = fcntl(fd, F_GETFL);
	if (flags < 0)
		return 2;
	sigemptyset(&io);
	sigaddset(&io, SIGIO);
	if (sigprocmask(SIG_BLOCK, &io, NULL))
		return 2;
	if (fcntl(fd, F_SETOWN, getpid()) || fcntl(fd, F_SETFL, flags | O_ASYNC))
		rc = 2;
	else {
		deadline = now_ms() + timeout * 1000LL;
		for (;;) {
			int c = host_connected(fd);
			long long left;
			struct timespec ts;
			if (c != 0) {
				rc = c > 0 ? 0 : 2;
				break;
			}
			left = deadline - now_ms();
			if (left <= 0) {
				rc = 1;
				break;
			}
			ts.tv_sec = left / 1000;
			ts.tv_nsec = (left % 1000) * 1000000;
			/* SIGIO (connection change or data), the timeout (EAGAIN) or another signal: check again. */
			sigtimedwait(&io, NULL, &ts);
		}
	}
	fcntl(fd, F_SETFL, flags & ~O_ASYNC);
	fcntl(fd, F_SETOWN, 0);
	return rc;
}
