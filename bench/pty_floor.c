/*
 * pty-floor: the least a process can spend on a meter's frames. It waits in
 * epoll for the pty and reads what came, nothing else: no decoding, no
 * MQTT. scripts/bench_daemon.py feeds it the same simulated day as
 * kaifa-meterd, through the same kind of pty, so that the daemon's figure
 * (daemon_cpu_s_per_day) can be read against what one wake-up and one read
 * per frame cost on the machine at hand.
 *
 * Usage: pty-floor PTY. It reads until SIGTERM, then prints
 * "reads N bytes B" to stdout and exits 0; its CPU time is read from
 * /proc by the caller.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>
#include <sysexits.h>
#include <unistd.h>

static volatile sig_atomic_t stop;

static void on_term(int sig)
{
        (void)sig;
        stop = 1;
}

int main(int argc, char **argv)
{
        if (argc != 2) {
                fprintf(stderr, "usage: pty-floor PTY\n");
                return EX_USAGE;
        }
        int fd = open(argv[1], O_RDONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
        int ep = epoll_create1(EPOLL_CLOEXEC);
        struct epoll_event want = {.events = EPOLLIN};
        if (fd < 0 || ep < 0 || epoll_ctl(ep, EPOLL_CTL_ADD, fd, &want) < 0) {
                fprintf(stderr, "pty-floor: %s: %s\n", argv[1], strerror(errno));
                return EX_NOINPUT;
        }
        struct sigaction sa = {.sa_handler = on_term};
        sigaction(SIGTERM, &sa, NULL);
        unsigned long long reads = 0, bytes = 0;
        char buf[4096];
        while (!stop) {
                struct epoll_event got;
                if (epoll_wait(ep, &got, 1, -1) <= 0)
                        continue; /* EINTR: the SIGTERM */
                ssize_t n = read(fd, buf, sizeof(buf));
                if (n > 0) {
                        reads++;
                        bytes += (unsigned long long)n;
                } else if (n == 0 || (errno != EAGAIN && errno != EINTR)) {
                        break; /* the pty's other side is gone */
                }
        }
        printf("reads %llu bytes %llu\n", reads, bytes);
        return 0;
}
