/*
 * The PostgreSQL sink and the JSON-lines file of kaifa-meterd, in the
 * daemon's sd-event loop.
 *
 * PostgreSQL, as src/sinks/postgresql.h asks: an io source on
 * km_sink_postgresql_fd() for km_sink_postgresql_events(), dropped and added
 * again whenever the fd or km_sink_postgresql_fd_generation() changes (libpq
 * replaces its socket while connecting, possibly under the same number) and
 * disabled while there is no fd; a one-shot timer from
 * km_sink_postgresql_timeout_ms(); both re-synced right after every call
 * into the sink, before any other code can open a file descriptor. A server
 * that is down costs nothing but a retry timer: rows wait in the sink's
 * bounded queue.
 *
 * A sink replaced on SIGHUP (new settings) is not thrown away with its
 * queue: it "retires", writing what it holds for up to 5 s beside the new
 * one. On SIGTERM both get at most 500 ms.
 *
 * The file: one compact JSON object per frame (the JSON sink, exactly what
 * `kaifa-meter parse-file --compact` prints), appended and flushed per
 * frame, reopened on every SIGHUP so that logrotate can move it away. A file
 * that cannot be opened or written is logged once, and the meter reading
 * goes on.
 */
#include "daemon/outputs.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdio_ext.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/stat.h>
#include <unistd.h>

#include "sinks/json.h"
#include "sinks/postgresql.h"
#include "util/log.h"

#define USEC_PER_MSEC UINT64_C(1000)
#define TIMER_ACCURACY (1 * USEC_PER_MSEC)
/* how long a replaced sink may keep writing its queue after a reload */
#define RETIRE_USEC (5000 * USEC_PER_MSEC)
/* how long the sink may write its queue after SIGTERM */
#define STOP_DRAIN_USEC (500 * USEC_PER_MSEC)

/* The settings a sink was opened with, to tell whether a reload changes them. */
typedef struct pg_settings {
        char *s[7]; /* conninfo, dbname, user, host, port, password_file, table */
        int queue_size;
        struct stat pw; /* the password file as it was (a new password means a new sink) */
        bool have_pw;
} pg_settings;

typedef struct pgconn {
        kmd_outputs *o;
        km_sink *sink;
        pg_settings set;
        sd_event_source *io;
        int io_fd;
        uint64_t io_gen;
        sd_event_source *timer;
        sd_event_source *deadline; /* retiring or stopping: close when it fires */
        const char *role;          /* "" or " (replaced)" in log lines */
} pgconn;

struct kmd_outputs {
        sd_event *ev;
        void (*changed)(void *userdata);
        void *userdata;
        bool stopping;

        pgconn *pg;     /* the sink of the running configuration */
        bool pg_wanted; /* [postgresql] is configured (pg may still be NULL: cannot start) */
        pgconn *pg_old; /* the one it replaced, still writing its queue */

        char *path; /* [file] */
        FILE *file;
        km_sink *json;
        int file_err; /* last logged problem, 0 = none */
};

/* ---- PostgreSQL --------------------------------------------------------- */

static void pg_sync(pgconn *p);

static void settings_free(pg_settings *s)
{
        for (size_t i = 0; i < 7; i++) {
                free(s->s[i]);
                s->s[i] = NULL;
        }
}

static int settings_from(const km_config *cfg, pg_settings *ret)
{
        const char *v[7] = {cfg->postgresql.conninfo, cfg->postgresql.dbname, cfg->postgresql.user,
                            cfg->postgresql.host,     cfg->postgresql.port,   cfg->postgresql.password_file,
                            cfg->postgresql.table};
        memset(ret, 0, sizeof(*ret));
        for (size_t i = 0; i < 7; i++)
                if (v[i] && !(ret->s[i] = strdup(v[i]))) {
                        settings_free(ret);
                        return -ENOMEM;
                }
        ret->queue_size = cfg->postgresql.queue_size;
        ret->have_pw = v[5] && stat(v[5], &ret->pw) == 0;
        return 0;
}

static bool settings_same(const pg_settings *a, const pg_settings *b)
{
        for (size_t i = 0; i < 7; i++)
                if ((a->s[i] == NULL) != (b->s[i] == NULL) || (a->s[i] && strcmp(a->s[i], b->s[i]) != 0))
                        return false;
        if (a->queue_size != b->queue_size || a->have_pw != b->have_pw)
                return false;
        return !a->have_pw || (a->pw.st_ino == b->pw.st_ino && a->pw.st_dev == b->pw.st_dev &&
                               a->pw.st_size == b->pw.st_size && a->pw.st_mtim.tv_sec == b->pw.st_mtim.tv_sec &&
                               a->pw.st_mtim.tv_nsec == b->pw.st_mtim.tv_nsec);
}

static void pg_free(pgconn *p)
{
        if (!p)
                return;
        /* the io source goes first: its fd is closed with the sink */
        p->io = sd_event_source_disable_unref(p->io);
        p->timer = sd_event_source_disable_unref(p->timer);
        p->deadline = sd_event_source_disable_unref(p->deadline);
        km_sink_close(p->sink); /* logs rows not written */
        settings_free(&p->set);
        free(p);
}

/* Closes a sink that was replaced or is stopping, and tells the daemon. */
static void pg_finish(pgconn *p)
{
        kmd_outputs *o = p->o;
        if (o->pg == p)
                o->pg = NULL;
        if (o->pg_old == p)
                o->pg_old = NULL;
        if (km_sink_postgresql_idle(p->sink))
                km_log_debug("postgresql%s: all rows written; closing", p->role);
        pg_free(p);
        if (o->stopping && o->changed)
                o->changed(o->userdata);
}

/* After any work: a sink that is going away and has nothing left is closed. */
static void pg_after(pgconn *p)
{
        if (p->deadline && km_sink_postgresql_idle(p->sink))
                pg_finish(p);
        else
                pg_sync(p);
}

static int on_pg_io(sd_event_source *s, int fd, uint32_t revents, void *userdata)
{
        (void)s;
        (void)fd;
        (void)revents;
        pgconn *p = userdata;
        km_sink_postgresql_process(p->sink);
        pg_after(p);
        return 0;
}

static int on_pg_timer(sd_event_source *s, uint64_t usec, void *userdata)
{
        (void)s;
        (void)usec;
        pgconn *p = userdata;
        km_sink_postgresql_process(p->sink);
        pg_after(p);
        return 0;
}

static int on_pg_deadline(sd_event_source *s, uint64_t usec, void *userdata)
{
        (void)s;
        (void)usec;
        pgconn *p = userdata;
        km_log_warning("postgresql%s: no more time to write the queue (%s)", p->role,
                       p->o->stopping ? "0.5 s after SIGTERM" : "5 s after the reload");
        pg_finish(p); /* logs how many rows were not written */
        return 0;
}

/* Keeps the io source and the timer in step with the sink (see the top). */
static void pg_sync(pgconn *p)
{
        sd_event *ev = p->o->ev;
        int fd = km_sink_postgresql_fd(p->sink);
        uint64_t gen = km_sink_postgresql_fd_generation(p->sink);
        short want = km_sink_postgresql_events(p->sink);
        if (p->io && (fd < 0 || fd != p->io_fd || gen != p->io_gen)) {
                p->io = sd_event_source_disable_unref(p->io);
                p->io_fd = -1;
        }
        if (fd >= 0 && !p->io) {
                int r = sd_event_add_io(ev, &p->io, fd, EPOLLIN, on_pg_io, p);
                if (r < 0)
                        km_log_error("postgresql: cannot watch the socket: %s", strerror(-r));
                p->io_fd = r < 0 ? -1 : fd;
                p->io_gen = gen;
        }
        if (p->io) {
                uint32_t events = ((want & POLLIN) ? EPOLLIN : 0) | ((want & POLLOUT) ? EPOLLOUT : 0);
                if (events) {
                        sd_event_source_set_io_events(p->io, events);
                        sd_event_source_set_enabled(p->io, SD_EVENT_ON);
                } else {
                        sd_event_source_set_enabled(p->io, SD_EVENT_OFF);
                }
        }
        int ms = km_sink_postgresql_timeout_ms(p->sink);
        if (ms < 0) {
                if (p->timer)
                        sd_event_source_set_enabled(p->timer, SD_EVENT_OFF);
                return;
        }
        uint64_t delay = (uint64_t)ms * USEC_PER_MSEC;
        if (!p->timer) {
                if (sd_event_add_time_relative(ev, &p->timer, CLOCK_MONOTONIC, delay, TIMER_ACCURACY, on_pg_timer,
                                               p) < 0)
                        km_log_error("postgresql: cannot add a timer");
                return;
        }
        sd_event_source_set_time_relative(p->timer, delay);
        sd_event_source_set_enabled(p->timer, SD_EVENT_ONESHOT);
}

static pgconn *pg_open(kmd_outputs *o, const km_config *cfg)
{
        pgconn *p = calloc(1, sizeof(*p));
        if (!p || settings_from(cfg, &p->set) < 0) {
                free(p);
                km_log_error("postgresql: out of memory");
                return NULL;
        }
        p->o = o;
        p->io_fd = -1;
        p->role = "";
        const km_config *c = cfg;
        km_pg_options opt = {
                .conninfo = c->postgresql.conninfo,
                .dbname = c->postgresql.dbname,
                .user = c->postgresql.user,
                .host = c->postgresql.host,
                .port = c->postgresql.port,
                .password_file = c->postgresql.password_file,
                .table = c->postgresql.table,
                .queue_max = (size_t)c->postgresql.queue_size,
        };
        int r = km_sink_postgresql_open(&opt, &p->sink);
        if (r < 0) {
                km_log_error("postgresql: cannot start: %s%s%s; no rows are stored until SIGHUP", strerror(-r),
                             c->postgresql.password_file ? " (password file " : "",
                             c->postgresql.password_file ? "?)" : "");
                settings_free(&p->set);
                free(p);
                return NULL;
        }
        km_log_info("postgresql: one row per frame into table \"%s\" (queue of %d rows)", c->postgresql.table,
                    c->postgresql.queue_size);
        pg_sync(p);
        return p;
}

/* The sink goes away once idle, or when delay has passed. */
static void pg_wind_down(pgconn *p, uint64_t delay, const char *role)
{
        p->role = role;
        if (km_sink_postgresql_idle(p->sink)) {
                pg_finish(p);
                return;
        }
        km_pg_stats st;
        km_sink_postgresql_stats(p->sink, &st);
        km_log_info("postgresql%s: writing %zu queued rows (at most %" PRIu64 " ms)", role, st.pending,
                    delay / USEC_PER_MSEC);
        if (p->deadline) {
                uint64_t left = 0;
                sd_event_source_get_time(p->deadline, &left);
                uint64_t now = 0;
                sd_event_now(p->o->ev, CLOCK_MONOTONIC, &now);
                if (left > now && left - now <= delay)
                        return; /* an earlier deadline stays */
                p->deadline = sd_event_source_disable_unref(p->deadline);
        }
        if (sd_event_add_time_relative(p->o->ev, &p->deadline, CLOCK_MONOTONIC, delay, TIMER_ACCURACY,
                                       on_pg_deadline, p) < 0)
                pg_finish(p);
}

static void pg_configure(kmd_outputs *o, const km_config *cfg)
{
        if (o->pg && cfg->postgresql.enabled) {
                pg_settings next;
                if (settings_from(cfg, &next) == 0) {
                        bool same = settings_same(&o->pg->set, &next);
                        settings_free(&next);
                        if (same)
                                return; /* keep the connection and the queue */
                }
        }
        if (o->pg) {
                /* one replaced sink at a time: an older one is closed now */
                if (o->pg_old)
                        pg_finish(o->pg_old);
                o->pg_old = o->pg;
                o->pg = NULL;
                pg_wind_down(o->pg_old, RETIRE_USEC, " (previous settings)");
        }
        o->pg_wanted = cfg->postgresql.enabled;
        if (cfg->postgresql.enabled)
                o->pg = pg_open(o, cfg);
}

/* ---- the JSON-lines file ----------------------------------------------- */

static void file_close(kmd_outputs *o)
{
        km_sink_close(o->json);
        o->json = NULL;
        if (o->file)
                fclose(o->file);
        o->file = NULL;
}

/* Opened without ever blocking (a FIFO without reader fails instead of
 * waiting), appended to, created 0640 (the unit's UMask makes it 0600). */
static void file_open(kmd_outputs *o)
{
        errno = 0;
        int fd = open(o->path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOCTTY | O_NONBLOCK, 0640);
        FILE *f = fd >= 0 ? fdopen(fd, "a") : NULL;
        km_json_options jo = {.compact = true};
        if (f && km_sink_json_open(f, &jo, &o->json) == 0) {
                o->file = f;
                o->file_err = 0;
                km_log_info("%s: appending one JSON line per frame", o->path);
                return;
        }
        int e = errno ? errno : ENOMEM;
        if (f)
                fclose(f);
        else if (fd >= 0)
                close(fd);
        o->file_err = -e;
        km_log_error("%s: cannot open: %s; no JSON lines are written until SIGHUP", o->path, strerror(e));
}

static void file_configure(kmd_outputs *o, const km_config *cfg)
{
        file_close(o);
        free(o->path);
        o->path = NULL;
        if (!cfg->file.enabled)
                return;
        o->path = strdup(cfg->file.path);
        if (!o->path) {
                km_log_error("[file]: out of memory");
                return;
        }
        file_open(o);
}

static void file_reading(kmd_outputs *o, const km_event *ev)
{
        if (!o->json)
                return;
        int r = o->json->reading(o->json, ev);
        if (r < 0) {
                /* drop what stdio still holds of the failed line, so that the
                 * file never gets half a line; the next frame tries again */
                __fpurge(o->file);
                clearerr(o->file);
                if (r != o->file_err)
                        km_log_error("%s: cannot write: %s; frames are lost until it works again", o->path,
                                     strerror(-r));
                o->file_err = r;
        } else if (o->file_err) {
                km_log_notice("%s: writing again", o->path);
                o->file_err = 0;
        }
}

/* ---- the interface ------------------------------------------------------ */

int kmd_outputs_new(sd_event *ev, void (*changed)(void *userdata), void *userdata, kmd_outputs **ret)
{
        kmd_outputs *o = calloc(1, sizeof(*o));
        if (!o)
                return -ENOMEM;
        o->ev = ev;
        o->changed = changed;
        o->userdata = userdata;
        *ret = o;
        return 0;
}

void kmd_outputs_configure(kmd_outputs *o, const km_config *cfg)
{
        if (o->stopping)
                return;
        pg_configure(o, cfg);
        file_configure(o, cfg);
}

void kmd_outputs_reading(kmd_outputs *o, const km_event *ev)
{
        if (ev->kind != KM_EVENT_READING || o->stopping)
                return;
        if (o->pg) {
                o->pg->sink->reading(o->pg->sink, ev);
                pg_sync(o->pg); /* right away: the sink may have replaced its socket */
        }
        file_reading(o, ev);
}

void kmd_outputs_status(kmd_outputs *o, char *buf, size_t size)
{
        size_t n = strlen(buf);
        if (o->pg && n < size) {
                km_pg_stats st, old = {0};
                km_sink_postgresql_stats(o->pg->sink, &st);
                if (o->pg_old)
                        km_sink_postgresql_stats(o->pg_old->sink, &old);
                snprintf(buf + n, size - n, ", postgresql %s, %zu pending, %" PRIu64 " dropped",
                         st.connected ? "connected" : "disconnected", st.pending + old.pending,
                         st.dropped + st.failed);
                n = strlen(buf);
        } else if (o->pg_wanted && !o->stopping && n < size) {
                snprintf(buf + n, size - n, ", postgresql not started");
                n = strlen(buf);
        }
        if (o->path && o->file_err && n < size)
                snprintf(buf + n, size - n, ", file not writable");
}

void kmd_outputs_stop(kmd_outputs *o)
{
        if (o->stopping)
                return;
        o->stopping = true;
        file_close(o);
        if (o->pg_old)
                pg_wind_down(o->pg_old, STOP_DRAIN_USEC, o->pg_old->role);
        if (o->pg)
                pg_wind_down(o->pg, STOP_DRAIN_USEC, "");
}

bool kmd_outputs_stopped(const kmd_outputs *o)
{
        return !o || (o->stopping && !o->pg && !o->pg_old);
}

void kmd_outputs_free(kmd_outputs *o)
{
        if (!o)
                return;
        pg_free(o->pg_old);
        pg_free(o->pg);
        file_close(o);
        free(o->path);
        free(o);
}
