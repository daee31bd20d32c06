/*
 * SIGINT and SIGTERM for the commands (see stop.h): a flag, and a ticker
 * that keeps interrupting blocking calls once it is set, so the flag is
 * seen within a tick however the command was waiting when it came.
 */
#include "cli/stop.h"

#include <errno.h>
#include <signal.h>
#include <time.h>

#define TICK_NS 10000000L /* 10 ms: well inside the 100 ms a stop may take */

static volatile sig_atomic_t stop_requested;
static volatile sig_atomic_t have_ticker;
static timer_t ticker;

/* Only there to interrupt the call the command is blocked in (EINTR). */
static void on_tick(int sig)
{
        (void)sig;
}

static void on_stop(int sig)
{
        (void)sig;
        int saved_errno = errno;
        if (!stop_requested && have_ticker) {
                /* timer_settime() is async-signal-safe (POSIX), setitimer() is not */
                struct itimerspec every = {.it_interval = {0, TICK_NS}, .it_value = {0, TICK_NS}};
                timer_settime(ticker, 0, &every, NULL);
        }
        stop_requested = 1;
        errno = saved_errno;
}

int km_stop_install(void)
{
        sigset_t stop_signals;
        sigemptyset(&stop_signals);
        sigaddset(&stop_signals, SIGINT);
        sigaddset(&stop_signals, SIGTERM);
        sigaddset(&stop_signals, SIGALRM);

        /* sa_flags without SA_RESTART: a blocking call returns EINTR. */
        struct sigaction tick = {.sa_handler = on_tick};
        sigemptyset(&tick.sa_mask);
        struct sigaction stop = {.sa_handler = on_stop, .sa_mask = stop_signals};
        if (sigaction(SIGALRM, &tick, NULL) < 0 || sigaction(SIGINT, &stop, NULL) < 0 ||
            sigaction(SIGTERM, &stop, NULL) < 0)
                return -errno;

        struct sigevent ev = {.sigev_notify = SIGEV_SIGNAL, .sigev_signo = SIGALRM};
        if (timer_create(CLOCK_MONOTONIC, &ev, &ticker) < 0)
                return -errno;
        have_ticker = 1;
        return sigprocmask(SIG_UNBLOCK, &stop_signals, NULL) < 0 ? -errno : 0;
}

bool km_stop_requested(void)
{
        return stop_requested != 0;
}
