/*
 * The PostgreSQL sink (see postgresql.h): readings become rows of the
 * original tool's table, queued and written over an asynchronous libpq
 * connection that never makes the caller wait.
 *
 * State machine: WAIT (no connection; retry at next_attempt) -> CONNECTING
 * (PQconnectPoll driven by socket readiness) -> READY (connected, nothing in
 * flight) <-> BUSY (one INSERT sent, waiting for its result). A lost
 * connection at any point goes back to WAIT with the row still at the head
 * of the queue, so nothing is lost unless the queue overflows. Rows the
 * server refuses for their data (SQLSTATE classes 22, 23) are dropped and
 * counted; any other error is treated like a lost connection and retried.
 *
 * libpq itself is not linked but loaded with dlopen() the first time a sink
 * (or initdb, or a conninfo check) needs it: it brings about 20 libraries
 * (Kerberos, LDAP, GnuTLS, ...) whose start-up code and text a daemon without
 * [postgresql] would otherwise page in (about 3 MB of private memory) and
 * every CLI run would load. libpq-fe.h still gives the types; every call goes
 * through the table pq (pq.PQexec(...)).
 */
#include "sinks/postgresql.h"

#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <libpq-fe.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "util/log.h"

/* ---- libpq, loaded on first use ---------------------------------------- */

#define LIBPQ_SONAME "libpq.so.5"

/* Every libpq function this file calls. */
#define PQ_FUNCTIONS(X)                                                                            \
        X(PQclear) X(PQconnectPoll) X(PQconnectStartParams) X(PQconnectdbParams)                   \
        X(PQconninfoFree) X(PQconninfoParse) X(PQconsumeInput) X(PQdb) X(PQerrorMessage)           \
        X(PQescapeIdentifier) X(PQexec) X(PQexecParams) X(PQfinish) X(PQflush) X(PQfreemem)        \
        X(PQgetResult) X(PQgetvalue) X(PQisBusy) X(PQnotifies) X(PQntuples)                        \
        X(PQresultErrorField) X(PQresultErrorMessage) X(PQresultStatus) X(PQsendQueryParams)       \
        X(PQsetNoticeProcessor) X(PQsetnonblocking) X(PQsocket) X(PQstatus) X(PQuser)

/* Filled once by pq_load() and never emptied (libpq stays loaded). The sinks
 * are opened from one thread only (the daemon's loop, the CLI's main). */
static struct {
#define PQ_POINTER(name) __typeof__(name) *name;
        PQ_FUNCTIONS(PQ_POINTER)
#undef PQ_POINTER
} pq;
static bool pq_loaded;

/* Loads libpq and resolves pq. Returns 0, or -ELIBACC with dlerror()'s
 * reason in err. A failure is not remembered: once libpq5 is installed the
 * next attempt (the daemon's SIGHUP) succeeds. */
static int pq_load(char *err, size_t err_size)
{
        if (pq_loaded)
                return 0;
        void *lib = dlopen(LIBPQ_SONAME, RTLD_NOW | RTLD_LOCAL);
        if (!lib) {
                const char *why = dlerror();
                snprintf(err, err_size, "%s", why ? why : LIBPQ_SONAME ": cannot load");
                return -ELIBACC;
        }
        const char *missing = NULL;
        /* POSIX makes dlsym()'s void * convertible to a function pointer. */
#define PQ_RESOLVE(name)                                                                           \
        if (!missing && !(pq.name = (__typeof__(pq.name))dlsym(lib, #name)))                       \
                missing = #name;
        PQ_FUNCTIONS(PQ_RESOLVE)
#undef PQ_RESOLVE
        if (missing) {
                snprintf(err, err_size, "%s has no %s (too old?)", LIBPQ_SONAME, missing);
                memset(&pq, 0, sizeof pq);
                dlclose(lib);
                return -ELIBACC;
        }
        pq_loaded = true;
        return 0;
}

/* pq_load(), and the one line that says what to do when it fails. */
static int pq_need(void)
{
        char why[256];
        int r = pq_load(why, sizeof why);
        if (r < 0)
                km_log_error("PostgreSQL output needs libpq: install the libpq5 package (%s)", why);
        return r;
}

#define N_PARAMS 21
#define N_NUMBERS 14
#define TS_MAX 32
#define BACKOFF_FIRST_MS 500
#define CONNECT_TIMEOUT_MS 10000
#define QUERY_TIMEOUT_MS 30000

/* Numeric columns, in table order, and the reading names they come from. */
static const char *const number_names[N_NUMBERS] = {
        "power_active_import", "power_active_export", "power_reactive_import", "power_reactive_export",
        "phase_current_l1",    "phase_current_l2",    "phase_current_l3",
        "phase_voltage_l1",    "phase_voltage_l2",    "phase_voltage_l3",
        "energy_active_cum_import",   "energy_active_cum_export",
        "energy_reactive_cum_import", "energy_reactive_cum_export",
};

#define COLUMNS                                                                                    \
        "savetime, meter_ts, obis_version, meter_id, meter_type, items_count, "                    \
        "pwr_act_pos, pwr_act_neg, pwr_react_pos, pwr_react_neg, il1, il2, il3, "                  \
        "uln1, uln2, uln3, meter_ts2, "                                                            \
        "energy_act_pos, energy_act_neg, energy_react_pos, energy_react_neg"

#define TABLE_DEFINITION                                                                           \
        "id serial primary key, savetime timestamptz, meter_ts timestamp, obis_version text, "    \
        "meter_id text, meter_type text, items_count integer, pwr_act_pos double precision, "      \
        "pwr_act_neg double precision, pwr_react_pos double precision, "                           \
        "pwr_react_neg double precision, il1 double precision, il2 double precision, "             \
        "il3 double precision, uln1 double precision, uln2 double precision, "                     \
        "uln3 double precision, meter_ts2 timestamp, energy_act_pos double precision, "            \
        "energy_act_neg double precision, energy_react_pos double precision, "                     \
        "energy_react_neg double precision"

/* One queued row, compact: about 400 bytes. Empty strings are NULLs. */
typedef struct pg_row {
        char savetime[TS_MAX];
        char meter_ts[TS_MAX];
        char meter_ts2[TS_MAX];
        char obis_version[KM_TEXT_MAX + 1];
        char meter_id[KM_TEXT_MAX + 1];
        char meter_type[KM_TEXT_MAX + 1];
        int items_count;
        uint16_t has_number; /* bit i: numbers[i] is present */
        double numbers[N_NUMBERS];
} pg_row;

typedef enum pg_state { ST_WAIT, ST_CONNECTING, ST_READY, ST_BUSY } pg_state;

typedef struct pg_sink {
        km_sink base;
        /* connection parameters, NULL-terminated pairs for PQconnectStartParams */
        const char *keys[10];
        const char *values[10];
        char *strings[10]; /* owned copies behind values[] */
        char *table;
        char *insert_sql;     /* built on the first connection (the quoting needs one) */
        size_t queue_max;
        unsigned retry_max_ms;

        PGconn *conn;
        pg_state state;
        PostgresPollingStatusType polling;
        bool want_write;
        int64_t next_attempt; /* ms, monotonic: WAIT */
        int64_t deadline;     /* ms, monotonic: CONNECTING and BUSY */
        unsigned backoff_ms;
        bool failing;         /* a connection problem was logged and not yet cleared */
        bool insert_failing;  /* an INSERT error was logged; cleared by the next success */
        bool acknowledged;    /* the INSERT in flight got COMMAND_OK: written once the query ends */
        uint64_t fd_generation; /* bumped whenever the socket may have changed */

        pg_row *ring;
        size_t cap, head, count;
        uint64_t dropped_logged;
        km_pg_stats stats;
} pg_sink;

static int64_t now_ms(void)
{
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* libpq messages end with a newline (sometimes two lines): keep the first. */
static const char *one_line(const char *msg, char *buf, size_t size)
{
        snprintf(buf, size, "%s", msg && *msg ? msg : "unknown error");
        buf[strcspn(buf, "\n")] = '\0';
        return buf;
}

/* ---- rows ------------------------------------------------------------ */

static bool datetime_valid(const km_datetime *dt)
{
        return dt->year != 0xFFFF && dt->month >= 1 && dt->month <= 12 && dt->day >= 1 &&
               dt->day <= 31 && dt->hour < 24 && dt->minute < 60 && dt->second < 60;
}

/* "2017-01-18 15:00:00" (wall clock, as the table's timestamp columns hold
 * it), or "" when the meter left a field unspecified. */
static void format_timestamp(const km_datetime *dt, char *buf, size_t size)
{
        if (!datetime_valid(dt)) {
                buf[0] = '\0';
                return;
        }
        int n = snprintf(buf, size, "%04u-%02u-%02u %02u:%02u:%02u", dt->year, dt->month, dt->day,
                         dt->hour, dt->minute, dt->second);
        if (dt->hundredths < 100 && n > 0 && (size_t)n < size)
                snprintf(buf + n, size - (size_t)n, ".%02u", dt->hundredths);
}

static void format_savetime(char *buf, size_t size)
{
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        struct tm tm;
        gmtime_r(&ts.tv_sec, &tm);
        size_t n = strftime(buf, size, "%Y-%m-%d %H:%M:%S", &tm);
        snprintf(buf + n, size - n, ".%06ld+00", (long)(ts.tv_nsec / 1000) % 1000000);
}

/* Text as the server will take it: printable ASCII, the rest '?'. */
static void copy_text(const km_reading *r, const char *name, char *buf, size_t size)
{
        const km_value *v = km_reading_find(r, name);
        buf[0] = '\0';
        if (!v || v->kind != KM_VALUE_TEXT)
                return;
        size_t n = v->text_len < size - 1 ? v->text_len : size - 1;
        for (size_t i = 0; i < n; i++) {
                unsigned char c = (unsigned char)v->text[i];
                buf[i] = c >= 0x20 && c < 0x7F ? (char)c : '?';
        }
        buf[n] = '\0';
}

/* The value in the unit the meter counts in: W, var, A, V, Wh, varh. */
static bool base_number(const km_value *v, double *ret)
{
        if (v->kind != KM_VALUE_NUMBER && v->kind != KM_VALUE_FLOAT)
                return false;
        double x = km_value_number(v);
        if (v->unit == KM_UNIT_KWH || v->unit == KM_UNIT_KVARH || v->unit == KM_UNIT_KVAH)
                x *= 1000;
        *ret = x;
        return true;
}

static void fill_row(const km_reading *r, pg_row *row)
{
        memset(row, 0, sizeof *row);
        format_savetime(row->savetime, sizeof row->savetime);
        if (r->has_clock)
                format_timestamp(&r->clock, row->meter_ts, sizeof row->meter_ts);
        const km_value *ts = km_reading_find(r, "meter_timestamp");
        if (ts && ts->kind == KM_VALUE_DATETIME)
                format_timestamp(&ts->datetime, row->meter_ts2, sizeof row->meter_ts2);
        copy_text(r, "obis_version", row->obis_version, sizeof row->obis_version);
        copy_text(r, "meter_id", row->meter_id, sizeof row->meter_id);
        copy_text(r, "meter_type", row->meter_type, sizeof row->meter_type);
        row->items_count = (int)r->n_values;
        for (int i = 0; i < N_NUMBERS; i++) {
                const km_value *v = km_reading_find(r, number_names[i]);
                if (v && base_number(v, &row->numbers[i]))
                        row->has_number |= (uint16_t)(1u << i);
        }
}

/* ---- queue ----------------------------------------------------------- */

static int queue_grow(pg_sink *s)
{
        size_t cap = s->cap ? s->cap * 2 : 64;
        if (cap > s->queue_max)
                cap = s->queue_max;
        pg_row *ring = calloc(cap, sizeof *ring);
        if (!ring)
                return -ENOMEM;
        for (size_t i = 0; i < s->count; i++)
                ring[i] = s->ring[(s->head + i) % s->cap];
        free(s->ring);
        s->ring = ring;
        s->cap = cap;
        s->head = 0;
        return 0;
}

static pg_row *queue_head(pg_sink *s)
{
        return &s->ring[s->head];
}

static void queue_pop(pg_sink *s)
{
        s->head = (s->head + 1) % s->cap;
        s->count--;
}

static void log_drop(pg_sink *s)
{
        uint64_t d = s->stats.dropped;
        if (d == 1 || d - s->dropped_logged >= 1000) {
                km_log_warning("postgresql: queue full (%zu rows), dropping the oldest (%llu dropped so far)",
                               s->queue_max, (unsigned long long)d);
                s->dropped_logged = d;
        }
}

/* Returns the slot for a new row. When the queue is full the oldest row is
 * dropped, except the one in flight, which its result will pop: the row in
 * flight then moves one slot on over the dropped one (libpq holds its own
 * copy of the parameters already). */
static pg_row *queue_push(pg_sink *s)
{
        if (s->count == s->cap && s->cap < s->queue_max && queue_grow(s) < 0 && s->cap == 0)
                return NULL;
        if (s->count == s->cap) {
                if (s->state == ST_BUSY && s->count == 1)
                        return NULL; /* the only row is in flight: drop the new one */
                size_t next = (s->head + 1) % s->cap;
                if (s->state == ST_BUSY)
                        s->ring[next] = s->ring[s->head];
                s->head = next;
                s->count--;
                s->stats.dropped++;
                log_drop(s);
        }
        pg_row *row = &s->ring[(s->head + s->count) % s->cap];
        s->count++;
        return row;
}

/* ---- connection ------------------------------------------------------ */

/* The INSERT, with the table name quoted by the server's rules. */
static char *insert_statement(PGconn *conn, const char *table)
{
        char *quoted = pq.PQescapeIdentifier(conn, table, strlen(table));
        if (!quoted)
                return NULL;
        static const char head[] = "INSERT INTO ";
        static const char tail[] = " (" COLUMNS ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, "
                                   "$10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21)";
        size_t size = sizeof head + strlen(quoted) + sizeof tail;
        char *sql = malloc(size);
        if (sql) {
                strcpy(sql, head);
                strcat(sql, quoted);
                strcat(sql, tail);
        }
        pq.PQfreemem(quoted);
        return sql;
}

static void schedule_retry(pg_sink *s, bool immediately)
{
        int64_t wait = immediately ? 0 : s->backoff_ms;
        s->next_attempt = now_ms() + wait;
        if (!immediately) {
                s->backoff_ms *= 2;
                if (s->backoff_ms > s->retry_max_ms)
                        s->backoff_ms = s->retry_max_ms;
        }
}

static void drop_connection(pg_sink *s, const char *what, bool immediately)
{
        char line[256];
        const char *err = one_line(s->conn ? pq.PQerrorMessage(s->conn) : NULL, line, sizeof line);
        if (!s->failing)
                km_log_warning("postgresql: %s: %s; %zu rows queued, retrying", what, err, s->count);
        else
                km_log_debug("postgresql: %s: %s", what, err);
        s->failing = true;
        s->acknowledged = false; /* no ReadyForQuery: the row goes again */
        pq.PQfinish(s->conn);
        s->conn = NULL;
        s->state = ST_WAIT;
        s->want_write = false;
        s->stats.connected = false;
        s->fd_generation++;
        schedule_retry(s, immediately);
}

/* Server notices (and the FATAL a shutting-down server sends) go to the
 * log at debug level instead of libpq's default, a bare line on stderr. */
static void on_notice(void *arg, const char *message)
{
        char line[256];
        (void)arg;
        km_log_debug("postgresql: server says: %s", one_line(message, line, sizeof line));
}

static void start_connect(pg_sink *s)
{
        s->conn = pq.PQconnectStartParams(s->keys, s->values, 1);
        if (!s->conn || pq.PQstatus(s->conn) == CONNECTION_BAD) {
                drop_connection(s, "cannot connect", false);
                return;
        }
        pq.PQsetNoticeProcessor(s->conn, on_notice, NULL);
        s->fd_generation++;
        s->state = ST_CONNECTING;
        s->polling = PGRES_POLLING_WRITING;
        s->deadline = now_ms() + CONNECT_TIMEOUT_MS;
}

static void connected(pg_sink *s)
{
        if (pq.PQsetnonblocking(s->conn, 1) != 0) {
                drop_connection(s, "cannot make the connection non-blocking", false);
                return;
        }
        if (!s->insert_sql && !(s->insert_sql = insert_statement(s->conn, s->table))) {
                drop_connection(s, "cannot quote the table name", false);
                return;
        }
        s->state = ST_READY;
        s->stats.connected = true;
        s->stats.connects++;
        s->backoff_ms = BACKOFF_FIRST_MS;
        if (s->failing && s->insert_failing)
                km_log_debug("postgresql: connected again, retrying the insert");
        else if (s->failing)
                km_log_info("postgresql: connected to database %s as %s again, writing %zu queued rows",
                            pq.PQdb(s->conn), pq.PQuser(s->conn), s->count);
        else
                km_log_info("postgresql: connected to database %s as %s", pq.PQdb(s->conn), pq.PQuser(s->conn));
        s->failing = false;
}

/* Non-blocking readiness check of the connection's socket. */
static bool ready(pg_sink *s, short events)
{
        struct pollfd p = {.fd = pq.PQsocket(s->conn), .events = events};
        if (p.fd < 0)
                return false;
        return poll(&p, 1, 0) == 1 && (p.revents & (events | POLLERR | POLLHUP));
}

static bool step_connecting(pg_sink *s)
{
        if (now_ms() >= s->deadline) {
                drop_connection(s, "connection timed out", false);
                return true;
        }
        short ev = s->polling == PGRES_POLLING_READING ? POLLIN : POLLOUT;
        if (!ready(s, ev))
                return false;
        s->polling = pq.PQconnectPoll(s->conn);
        s->fd_generation++; /* libpq may open another socket while trying the next address */
        if (s->polling == PGRES_POLLING_OK)
                connected(s);
        else if (s->polling == PGRES_POLLING_FAILED)
                drop_connection(s, "cannot connect", false);
        return true;
}

/* ---- inserting ------------------------------------------------------- */

static bool send_head(pg_sink *s)
{
        const pg_row *row = queue_head(s);
        char numbers[N_NUMBERS][32], items[16];
        const char *params[N_PARAMS];
        params[0] = row->savetime;
        params[1] = row->meter_ts[0] ? row->meter_ts : NULL;
        params[2] = row->obis_version[0] ? row->obis_version : NULL;
        params[3] = row->meter_id[0] ? row->meter_id : NULL;
        params[4] = row->meter_type[0] ? row->meter_type : NULL;
        snprintf(items, sizeof items, "%d", row->items_count);
        params[5] = items;
        for (int i = 0; i < N_NUMBERS; i++) {
                snprintf(numbers[i], sizeof numbers[i], "%.17g", row->numbers[i]);
                const char *p = row->has_number & (1u << i) ? numbers[i] : NULL;
                params[i < 10 ? 6 + i : 7 + i] = p; /* meter_ts2 sits between uln3 and the energies */
        }
        params[16] = row->meter_ts2[0] ? row->meter_ts2 : NULL;

        if (!pq.PQsendQueryParams(s->conn, s->insert_sql, N_PARAMS, NULL, params, NULL, NULL, 0)) {
                drop_connection(s, "cannot send", true);
                return true;
        }
        s->state = ST_BUSY;
        s->deadline = now_ms() + QUERY_TIMEOUT_MS;
        int f = pq.PQflush(s->conn);
        if (f < 0)
                drop_connection(s, "cannot send", true);
        s->want_write = f == 1;
        return true;
}

/* Notices server messages and closed connections while idle. */
static bool step_ready(pg_sink *s)
{
        if (ready(s, POLLIN)) {
                if (!pq.PQconsumeInput(s->conn) || pq.PQstatus(s->conn) == CONNECTION_BAD) {
                        drop_connection(s, "connection lost", true);
                        return true;
                }
                PGnotify *n;
                while ((n = pq.PQnotifies(s->conn)))
                        pq.PQfreemem(n);
        }
        if (s->count == 0)
                return false;
        return send_head(s);
}

static bool data_error(const PGresult *res)
{
        const char *state = pq.PQresultErrorField(res, PG_DIAG_SQLSTATE);
        return state && (strncmp(state, "22", 2) == 0 || strncmp(state, "23", 2) == 0);
}

/* The INSERT in flight is over (PQgetResult() said NULL on a good
 * connection): the row leaves the queue if it was acknowledged. */
static void insert_done(pg_sink *s)
{
        if (!s->acknowledged)
                return;
        s->acknowledged = false;
        queue_pop(s);
        s->stats.inserted++;
        if (s->insert_failing)
                km_log_info("postgresql: inserting works again");
        s->insert_failing = false;
}

/* Handles one result of the INSERT in flight. Returns false if the
 * connection must be dropped. */
static bool handle_result(pg_sink *s, PGresult *res, bool *retry)
{
        char line[256];
        ExecStatusType st = pq.PQresultStatus(res);
        if (st == PGRES_COMMAND_OK) {
                /* Not yet written: the server sends CommandComplete after the
                 * Execute and commits at the Sync after it. A fast shutdown
                 * between the two ends the backend with "terminating
                 * connection due to administrator command" and rolls the row
                 * back, so it leaves the queue only at the query's end. */
                s->acknowledged = true;
                return true;
        }
        s->acknowledged = false;
        const char *err = one_line(pq.PQresultErrorMessage(res), line, sizeof line);
        if (data_error(res)) {
                km_log_warning("postgresql: row refused, dropped: %s", err);
                queue_pop(s);
                s->stats.failed++;
                return true;
        }
        if (!s->insert_failing)
                km_log_warning("postgresql: insert failed: %s; %zu rows queued, retrying", err, s->count);
        s->insert_failing = true;
        s->failing = true;
        *retry = true;
        return true;
}

static bool step_busy(pg_sink *s)
{
        if (now_ms() >= s->deadline) {
                drop_connection(s, "no answer from the server", false);
                return true;
        }
        if (s->want_write && ready(s, POLLOUT)) {
                int f = pq.PQflush(s->conn);
                if (f < 0) {
                        drop_connection(s, "cannot send", true);
                        return true;
                }
                s->want_write = f == 1;
        }
        if (ready(s, POLLIN) && !pq.PQconsumeInput(s->conn)) {
                drop_connection(s, "connection lost", true);
                return true;
        }
        bool retry = false;
        while (!pq.PQisBusy(s->conn)) {
                PGresult *res = pq.PQgetResult(s->conn);
                if (!res) {
                        if (pq.PQstatus(s->conn) == CONNECTION_BAD) {
                                drop_connection(s, "connection lost", true);
                        } else if (retry) {
                                /* an error that is not the row's fault: start over later */
                                pq.PQfinish(s->conn);
                                s->conn = NULL;
                                s->state = ST_WAIT;
                                s->stats.connected = false;
                                s->fd_generation++;
                                schedule_retry(s, false);
                        } else {
                                insert_done(s);
                                s->state = ST_READY;
                        }
                        return true;
                }
                handle_result(s, res, &retry);
                pq.PQclear(res);
        }
        if (pq.PQstatus(s->conn) == CONNECTION_BAD) {
                drop_connection(s, "connection lost", true);
                return true;
        }
        return false;
}

static bool step(pg_sink *s)
{
        switch (s->state) {
        case ST_WAIT:
                if (now_ms() < s->next_attempt)
                        return false;
                start_connect(s);
                return true;
        case ST_CONNECTING:
                return step_connecting(s);
        case ST_READY:
                return step_ready(s);
        case ST_BUSY:
                return step_busy(s);
        }
        return false;
}

/* ---- km_sink interface ------------------------------------------------ */

static pg_sink *pg(km_sink *s)
{
        return (pg_sink *)s;
}

void km_sink_postgresql_process(km_sink *sink)
{
        pg_sink *s = pg(sink);
        /* bounded: a fast local server could otherwise keep us here for a long backlog */
        for (int i = 0; i < 256 && step(s); i++)
                ;
}

static int pg_reading(km_sink *sink, const km_event *ev)
{
        pg_sink *s = pg(sink);
        if (!ev->reading)
                return 0;
        pg_row *row = queue_push(s);
        if (!row) {
                s->stats.dropped++;
                log_drop(s);
                return 0;
        }
        fill_row(ev->reading, row);
        s->stats.queued++;
        km_sink_postgresql_process(sink);
        return 0;
}

static void pg_close(km_sink *sink)
{
        pg_sink *s = pg(sink);
        if (s->count)
                km_log_warning("postgresql: %zu rows not written", s->count);
        if (s->stats.dropped)
                km_log_warning("postgresql: %llu rows were dropped because the queue was full",
                               (unsigned long long)s->stats.dropped);
        pq.PQfinish(s->conn);
        for (size_t i = 0; i < sizeof s->strings / sizeof s->strings[0]; i++)
                free(s->strings[i]);
        free(s->table);
        free(s->insert_sql);
        free(s->ring);
        free(s);
}

int km_sink_postgresql_fd(km_sink *sink)
{
        pg_sink *s = pg(sink);
        return s->conn && s->state != ST_WAIT ? pq.PQsocket(s->conn) : -1;
}

uint64_t km_sink_postgresql_fd_generation(km_sink *sink)
{
        return pg(sink)->fd_generation;
}

short km_sink_postgresql_events(km_sink *sink)
{
        pg_sink *s = pg(sink);
        switch (s->state) {
        case ST_CONNECTING:
                return s->polling == PGRES_POLLING_READING ? POLLIN : POLLOUT;
        case ST_READY:
                return POLLIN;
        case ST_BUSY:
                return (short)(POLLIN | (s->want_write ? POLLOUT : 0));
        default:
                return 0;
        }
}

int km_sink_postgresql_timeout_ms(km_sink *sink)
{
        pg_sink *s = pg(sink);
        int64_t at;
        if (s->state == ST_WAIT)
                at = s->next_attempt;
        else if (s->state == ST_CONNECTING || s->state == ST_BUSY)
                at = s->deadline;
        else
                return s->count ? 0 : -1;
        int64_t left = at - now_ms();
        return left < 0 ? 0 : left > 60000 ? 60000 : (int)left;
}

bool km_sink_postgresql_idle(km_sink *sink)
{
        return pg(sink)->count == 0;
}

void km_sink_postgresql_stats(km_sink *sink, km_pg_stats *ret_stats)
{
        pg_sink *s = pg(sink);
        *ret_stats = s->stats;
        ret_stats->pending = s->count;
}

int km_sink_postgresql_drain(km_sink *sink, int timeout_ms)
{
        int64_t end = now_ms() + timeout_ms;
        for (;;) {
                km_sink_postgresql_process(sink);
                if (km_sink_postgresql_idle(sink))
                        return 0;
                int64_t left = end - now_ms();
                if (left <= 0)
                        return -ETIMEDOUT;
                int wait = km_sink_postgresql_timeout_ms(sink);
                if (wait < 0 || wait > left)
                        wait = (int)left;
                struct pollfd p = {.fd = km_sink_postgresql_fd(sink),
                                   .events = km_sink_postgresql_events(sink)};
                if (p.fd < 0 || p.events == 0)
                        poll(NULL, 0, wait);
                else
                        poll(&p, 1, wait);
        }
}

/* ---- options ------------------------------------------------------------ */

static int read_password(const char *path, char **ret)
{
        int fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0)
                return -errno;
        FILE *f = fdopen(fd, "r");
        if (!f) {
                int r = -errno;
                close(fd);
                return r;
        }
        char line[1024];
        if (!fgets(line, sizeof line, f))
                line[0] = '\0';
        fclose(f);
        line[strcspn(line, "\r\n")] = '\0';
        *ret = strdup(line);
        return *ret ? 0 : -ENOMEM;
}

static int add_param(pg_sink *s, size_t *n, const char *key, const char *value)
{
        if (!value || !*value)
                return 0;
        char *copy = strdup(value);
        if (!copy)
                return -ENOMEM;
        s->keys[*n] = key;
        s->values[*n] = copy;
        s->strings[*n] = copy;
        (*n)++;
        return 0;
}

/* Fills the keyword/value arrays: the connection string first (expanded by
 * libpq), then the parts that override it. */
static int build_params(pg_sink *s, const km_pg_options *opt)
{
        size_t n = 0;
        char *password = NULL;
        int r = 0;
        if (opt->password_file && *opt->password_file && (r = read_password(opt->password_file, &password)) < 0)
                return r;
        if ((r = add_param(s, &n, "dbname", opt->conninfo)) < 0 ||
            (r = add_param(s, &n, "dbname", opt->dbname)) < 0 ||
            (r = add_param(s, &n, "user", opt->user)) < 0 ||
            (r = add_param(s, &n, "host", opt->host)) < 0 ||
            (r = add_param(s, &n, "port", opt->port)) < 0 ||
            (r = add_param(s, &n, "password", password)) < 0 ||
            (r = add_param(s, &n, "application_name", "kaifa-meter")) < 0 ||
            (r = add_param(s, &n, "connect_timeout", "10")) < 0) {
                free(password);
                return r;
        }
        free(password);
        s->keys[n] = NULL;
        s->values[n] = NULL;
        return 0;
}

static bool table_name_valid(const char *table)
{
        return table && *table && strlen(table) < 64;
}

int km_sink_postgresql_open(const km_pg_options *opt, km_sink **ret_sink)
{
        if (!table_name_valid(opt->table))
                return -EINVAL;
        int r = pq_need();
        if (r < 0)
                return r;
        pg_sink *s = calloc(1, sizeof *s);
        if (!s)
                return -ENOMEM;
        s->base = (km_sink){.name = "postgresql", .reading = pg_reading, .close = pg_close};
        s->queue_max = opt->queue_max ? opt->queue_max : KM_PG_QUEUE_DEFAULT;
        s->retry_max_ms = 1000 * (opt->retry_max_s ? opt->retry_max_s : KM_PG_RETRY_MAX_DEFAULT);
        s->backoff_ms = BACKOFF_FIRST_MS;
        s->state = ST_WAIT;
        r = build_params(s, opt);
        if (r == 0 && !(s->table = strdup(opt->table)))
                r = -ENOMEM;
        if (r == 0)
                r = queue_grow(s);
        if (r < 0) {
                pg_close(&s->base);
                return r;
        }
        km_sink_postgresql_process(&s->base);
        *ret_sink = &s->base;
        return 0;
}

/* ---- initdb ------------------------------------------------------------ */

int km_pg_initdb(const km_pg_options *opt, FILE *msg)
{
        char line[256];
        if (!table_name_valid(opt->table)) {
                km_log_error("a table name of 1 to 63 characters is needed");
                return -EINVAL;
        }
        int r = pq_need();
        if (r < 0)
                return r;
        pg_sink params = {0};
        r = build_params(&params, opt);
        if (r < 0) {
                km_log_error("cannot read the password file %s: %s", opt->password_file, strerror(-r));
                return r;
        }
        char *quoted = NULL, *create = NULL;
        PGconn *conn = pq.PQconnectdbParams(params.keys, params.values, 1);
        if (!conn) {
                r = -ENOMEM;
                goto out;
        }
        if (pq.PQstatus(conn) != CONNECTION_OK) {
                km_log_error("cannot connect to PostgreSQL: %s",
                     one_line(pq.PQerrorMessage(conn), line, sizeof line));
                r = -ECONNREFUSED;
                goto out;
        }
        quoted = pq.PQescapeIdentifier(conn, opt->table, strlen(opt->table));
        if (!quoted) {
                r = -ENOMEM;
                goto out;
        }
        const char *exists_params[1] = {quoted};
        PGresult *res = pq.PQexecParams(conn, "SELECT to_regclass($1) IS NOT NULL", 1, NULL,
                                     exists_params, NULL, NULL, 0);
        bool exists = pq.PQresultStatus(res) == PGRES_TUPLES_OK && pq.PQntuples(res) == 1 &&
                      strcmp(pq.PQgetvalue(res, 0, 0), "t") == 0;
        bool checked = pq.PQresultStatus(res) == PGRES_TUPLES_OK;
        if (!checked)
                km_log_error("cannot look for table %s: %s", quoted,
                             one_line(pq.PQresultErrorMessage(res), line, sizeof line));
        pq.PQclear(res);
        if (!checked) {
                r = -EIO;
                goto out;
        }
        if (exists) {
                fprintf(msg, "Table %s already exists.\n", quoted);
                goto out;
        }
        size_t size = strlen(quoted) + sizeof(TABLE_DEFINITION) + 64;
        create = malloc(size);
        if (!create) {
                r = -ENOMEM;
                goto out;
        }
        snprintf(create, size, "CREATE TABLE IF NOT EXISTS %s (" TABLE_DEFINITION ")", quoted);
        res = pq.PQexec(conn, create);
        if (pq.PQresultStatus(res) == PGRES_COMMAND_OK) {
                fprintf(msg, "Created table %s.\n", quoted);
        } else {
                km_log_error("cannot create table %s: %s", quoted,
                             one_line(pq.PQresultErrorMessage(res), line, sizeof line));
                r = -EIO;
        }
        pq.PQclear(res);
out:
        pq.PQfinish(conn);
        free(create);
        pq.PQfreemem(quoted);
        for (size_t i = 0; i < sizeof params.strings / sizeof params.strings[0]; i++)
                free(params.strings[i]);
        return r;
}

int km_pg_conninfo_check(const char *conninfo, char *err, size_t err_size)
{
        char why[256];
        if (pq_load(why, sizeof why) < 0)
                return 0; /* not checkable here; opening the sink says what is missing */
        char *msg = NULL;
        PQconninfoOption *opts = pq.PQconninfoParse(conninfo, &msg);
        if (opts) {
                pq.PQconninfoFree(opts);
                return 0;
        }
        if (err_size > 0) {
                snprintf(err, err_size, "%s", msg ? msg : "out of memory");
                err[strcspn(err, "\n")] = '\0';
        }
        pq.PQfreemem(msg);
        return -EINVAL;
}
