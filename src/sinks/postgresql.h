/*
 * The PostgreSQL sink: one row per decoded frame in the original Python
 * tool's table, written without ever blocking the reading of the meter.
 *
 * Rows are queued in memory (bounded; the oldest is dropped and counted when
 * full) and sent with libpq's asynchronous API over a non-blocking
 * connection. A server that is down or restarts is reconnected with backoff;
 * a row leaves the queue only once the server has confirmed its INSERT.
 *
 * The sink's reading() enqueues and makes what progress it can without
 * waiting. An event loop adds km_sink_postgresql_fd() for
 * km_sink_postgresql_events() and a timer of km_sink_postgresql_timeout_ms(),
 * and calls km_sink_postgresql_process() when either fires. The file
 * descriptor changes on reconnect, so ask for it again after every call
 * (see km_sink_postgresql_fd_generation()).
 * A CLI drains at exit: process() until idle(), bounded in time.
 *
 * This is the only file of the project that includes libpq-fe.h. libpq is
 * not linked: postgresql.c loads it (dlopen) the first time it is needed,
 * so programs that write no rows never map it or the libraries it brings.
 */
#ifndef KM_SINK_POSTGRESQL_H
#define KM_SINK_POSTGRESQL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "sinks/sink.h"

/* Default bound of the queue of rows waiting for the server: about 5.5
 * hours of Kaifa frames (one every 2 s), about 4 MB. */
#define KM_PG_QUEUE_DEFAULT 10000
/* Longest wait between two connection attempts, seconds. */
#define KM_PG_RETRY_MAX_DEFAULT 10

typedef struct km_pg_options {
        /* A libpq connection string or URI ("host=/run/postgresql dbname=power",
         * "postgresql://meter@localhost/power"); NULL or "" for none. The parts
         * below, when set, override what it says. */
        const char *conninfo;
        const char *dbname;
        const char *user;
        const char *host;          /* host name, IP address or unix socket directory */
        const char *port;
        /* A file whose first line is the password (not a .pgpass file);
         * NULL for none (libpq then uses PGPASSWORD or ~/.pgpass as usual). */
        const char *password_file;
        const char *table;         /* required; quoted as an identifier */
        size_t queue_max;          /* 0: KM_PG_QUEUE_DEFAULT */
        unsigned retry_max_s;      /* 0: KM_PG_RETRY_MAX_DEFAULT */
} km_pg_options;

typedef struct km_pg_stats {
        uint64_t queued;       /* rows accepted from readings */
        uint64_t inserted;     /* rows the server confirmed */
        uint64_t dropped;      /* oldest rows dropped because the queue was full */
        uint64_t failed;       /* rows the server refused for their data (never retried) */
        uint64_t connects;     /* successful connections */
        size_t pending;        /* rows waiting now (including one in flight) */
        bool connected;
} km_pg_stats;

/* Creates the sink. Connecting starts at once but does not wait: a server
 * that is down is not an error here. Returns 0, -EINVAL (no table, bad
 * options), -ENOMEM, -ELIBACC (libpq cannot be loaded; one line saying what
 * to install is logged), or the negative errno of reading password_file. */
int km_sink_postgresql_open(const km_pg_options *opt, km_sink **ret_sink);

/* The socket to watch, or -1 while there is none (waiting to retry). */
int km_sink_postgresql_fd(km_sink *s);

/* Changes whenever the socket may have been replaced, even by one with the
 * same number (libpq closes and opens sockets while connecting). An event
 * loop that registers the fd (epoll, sd-event) must drop its registration
 * and register km_sink_postgresql_fd() again when this value changes; a
 * poll() loop that asks for the fd every time can ignore it. */
uint64_t km_sink_postgresql_fd_generation(km_sink *s);

/* What to wait for on that socket: POLLIN and/or POLLOUT (poll.h), 0 for none. */
short km_sink_postgresql_events(km_sink *s);

/* Milliseconds until process() should be called even if the socket stays
 * quiet (retry backoff, connect timeout); -1 when only the socket matters. */
int km_sink_postgresql_timeout_ms(km_sink *s);

/* Does whatever can be done now without blocking: connects, sends the next
 * queued row, reads results. Safe to call at any time. */
void km_sink_postgresql_process(km_sink *s);

/* True when no row is waiting (all confirmed, failed or dropped). */
bool km_sink_postgresql_idle(km_sink *s);

/* Counters, e.g. for the daemon's STATUS= line. */
void km_sink_postgresql_stats(km_sink *s, km_pg_stats *ret_stats);

/* Processes until idle or until timeout_ms has passed, sleeping in poll().
 * For a CLI at end of input. Returns 0 when idle, -ETIMEDOUT otherwise. */
int km_sink_postgresql_drain(km_sink *s, int timeout_ms);

/* Checks a libpq connection string or URI without connecting. Returns 0, or
 * -EINVAL with libpq's reason (one line) in err. Returns 0 unchecked when
 * libpq cannot be loaded: opening the sink then says what is missing. */
int km_pg_conninfo_check(const char *conninfo, char *err, size_t err_size);

/* Creates the table if it is missing (blocking; for `kaifa-meter initdb`)
 * and writes one line to msg saying which happened. Returns 0 when the table
 * exists afterwards, -ECONNREFUSED when the server cannot be reached, -EIO
 * for an SQL error, -EINVAL for bad options, -ELIBACC when libpq cannot be
 * loaded; errors are logged (one line). */
int km_pg_initdb(const km_pg_options *opt, FILE *msg);

#endif
