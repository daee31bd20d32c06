/*
 * State file format, version 1 (text, one field a line):
 *
 *   kaifa-meterd-state 1
 *   tz Europe/Oslo
 *   <name> <value>...          the km_energy fields, in a fixed order
 *   cap <mday> <has> <wh> <hour_start>   one line per day of the month
 *   check <fnv1a-64 of every byte above, hex>
 *
 * The fixed field order is the schema: a file that does not follow it
 * exactly is corrupt, and a new field means a new version.
 */
#include "derived/state_file.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <libgen.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define MAGIC "kaifa-meterd-state"
#define STATE_MAX 8192

typedef struct buf {
        char data[STATE_MAX];
        size_t len;
        bool overflow;
} buf;

static void put(buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void put(buf *b, const char *fmt, ...)
{
        va_list ap;
        va_start(ap, fmt);
        int n = vsnprintf(b->data + b->len, sizeof(b->data) - b->len, fmt, ap);
        va_end(ap);
        if (n < 0 || (size_t)n >= sizeof(b->data) - b->len)
                b->overflow = true;
        else
                b->len += (size_t)n;
}

static uint64_t fnv1a(const char *p, size_t n)
{
        uint64_t h = 0xcbf29ce484222325ULL;
        for (size_t i = 0; i < n; i++) {
                h ^= (unsigned char)p[i];
                h *= 0x100000001b3ULL;
        }
        return h;
}

static void put_pair(buf *b, const char *name, const double v[2])
{
        put(b, "%s %a %a\n", name, v[0], v[1]);
}

static void render(buf *b, const km_energy *e, const char *tz_name)
{
        put(b, "%s %d\ntz %s\n", MAGIC, KM_STATE_VERSION, tz_name);
        put(b, "sample %d %" PRId64 "\n", e->have_sample, e->sample_t);
        put_pair(b, "sample_w", e->sample_w);
        put(b, "hour %" PRId64 "\n", e->hour_start);
        put_pair(b, "hour_ws", e->hour_ws);
        put(b, "day %" PRId64 " %" PRId64 " %d\n", e->day_start, e->day_end, e->day_mday);
        put(b, "month %" PRId64 " %" PRId64 "\n", e->month_start, e->month_end);
        put_pair(b, "day_wh", e->day_wh);
        put(b, "pending %d %" PRId64 " %d\n", e->pending, e->pending_start, e->pending_mday);
        put_pair(b, "pending_ws", e->pending_ws);
        put(b, "reg %d %" PRId64 "\n", e->have_reg, e->reg_t);
        put_pair(b, "reg_wh", e->reg_wh);
        put(b, "last %d %" PRId64 "\n", e->have_last, e->last_start);
        put_pair(b, "last_wh", e->last_wh);
        for (int i = 0; i < KM_CAP_DAYS; i++) {
                const km_cap_day *d = &e->cap.day[i];
                put(b, "cap %d %d %a %" PRId64 "\n", i + 1, d->has, d->wh, d->hour_start);
        }
        uint64_t h = fnv1a(b->data, b->len);
        put(b, "check %016" PRIx64 "\n", h);
}

static int write_all(int fd, const char *p, size_t n)
{
        while (n > 0) {
                ssize_t w = write(fd, p, n);
                if (w < 0 && errno == EINTR)
                        continue;
                if (w <= 0)
                        return w < 0 ? -errno : -EIO;
                p += w;
                n -= (size_t)w;
        }
        return 0;
}

static void fsync_dir(const char *path)
{
        char copy[4096];
        snprintf(copy, sizeof(copy), "%s", path);
        int fd = open(dirname(copy), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (fd >= 0) {
                fsync(fd);
                close(fd);
        }
}

int km_state_save(const char *path, const km_energy *e, const char *tz_name)
{
        static buf b; /* 8 KB: off the stack; the daemon is single-threaded */
        b.len = 0;
        b.overflow = false;
        render(&b, e, tz_name);
        if (b.overflow)
                return -EMSGSIZE;
        char tmp[4096];
        if (snprintf(tmp, sizeof(tmp), "%s.tmp", path) >= (int)sizeof(tmp))
                return -ENAMETOOLONG;
        int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
        if (fd < 0)
                return -errno;
        int r = write_all(fd, b.data, b.len);
        if (r == 0 && fsync(fd) < 0)
                r = -errno;
        if (close(fd) < 0 && r == 0)
                r = -errno;
        if (r == 0 && rename(tmp, path) < 0)
                r = -errno;
        if (r < 0) {
                unlink(tmp);
                return r;
        }
        fsync_dir(path);
        return 0;
}

/* ---- reading ----------------------------------------------------------- */

typedef struct reader {
        char *p; /* the next line */
        bool bad;
} reader;

/* The next line (NUL-terminated in place), or "" past the end. */
static char *line(reader *rd)
{
        char *l = rd->p;
        char *nl = strchr(l, '\n');
        if (!nl) {
                rd->bad = true;
                return l + strlen(l);
        }
        *nl = '\0';
        rd->p = nl + 1;
        return l;
}

/* The rest of the line after "name ", or NULL when the line is another. */
static const char *field(reader *rd, const char *name)
{
        const char *l = line(rd);
        size_t n = strlen(name);
        if (strncmp(l, name, n) != 0 || l[n] != ' ') {
                rd->bad = true;
                return NULL;
        }
        return l + n + 1;
}

static void scan_pair(reader *rd, const char *name, double v[2])
{
        char tail;
        const char *rest = field(rd, name);
        if (!rest || sscanf(rest, "%la %la%c", &v[0], &v[1], &tail) != 2)
                rd->bad = true;
}

static void scan_flag_time(reader *rd, const char *name, bool *flag, int64_t *t)
{
        char tail;
        int f = 0;
        const char *rest = field(rd, name);
        if (!rest || sscanf(rest, "%d %" SCNd64 "%c", &f, t, &tail) != 2 || (f != 0 && f != 1))
                rd->bad = true;
        *flag = f == 1;
}

static void parse_body(reader *rd, km_energy *e)
{
        char tail;
        scan_flag_time(rd, "sample", &e->have_sample, &e->sample_t);
        scan_pair(rd, "sample_w", e->sample_w);
        if (sscanf(line(rd), "hour %" SCNd64 "%c", &e->hour_start, &tail) != 1)
                rd->bad = true;
        scan_pair(rd, "hour_ws", e->hour_ws);
        if (sscanf(line(rd), "day %" SCNd64 " %" SCNd64 " %d%c", &e->day_start, &e->day_end, &e->day_mday,
                   &tail) != 3)
                rd->bad = true;
        if (sscanf(line(rd), "month %" SCNd64 " %" SCNd64 "%c", &e->month_start, &e->month_end, &tail) != 2)
                rd->bad = true;
        scan_pair(rd, "day_wh", e->day_wh);
        int pending = 0;
        if (sscanf(line(rd), "pending %d %" SCNd64 " %d%c", &pending, &e->pending_start, &e->pending_mday,
                   &tail) != 3 || (pending != 0 && pending != 1))
                rd->bad = true;
        e->pending = pending == 1;
        scan_pair(rd, "pending_ws", e->pending_ws);
        scan_flag_time(rd, "reg", &e->have_reg, &e->reg_t);
        scan_pair(rd, "reg_wh", e->reg_wh);
        scan_flag_time(rd, "last", &e->have_last, &e->last_start);
        scan_pair(rd, "last_wh", e->last_wh);
        for (int i = 0; i < KM_CAP_DAYS && !rd->bad; i++) {
                km_cap_day *d = &e->cap.day[i];
                int mday = 0, has = 0;
                if (sscanf(line(rd), "cap %d %d %la %" SCNd64 "%c", &mday, &has, &d->wh, &d->hour_start, &tail) !=
                            4 || mday != i + 1 || (has != 0 && has != 1))
                        rd->bad = true;
                d->has = has == 1;
        }
        if (e->day_mday < 0 || e->day_mday > KM_CAP_DAYS || e->pending_mday < 0 || e->pending_mday > KM_CAP_DAYS)
                rd->bad = true;
}

static int read_file(const char *path, char *data, size_t size, size_t *ret_len)
{
        int fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0)
                return -errno;
        size_t len = 0;
        for (;;) {
                ssize_t n = read(fd, data + len, size - 1 - len);
                if (n < 0 && errno == EINTR)
                        continue;
                if (n < 0) {
                        int r = -errno;
                        close(fd);
                        return r;
                }
                if (n == 0)
                        break;
                len += (size_t)n;
                if (len == size - 1) {
                        close(fd);
                        return -EBADMSG; /* larger than any state file */
                }
        }
        close(fd);
        data[len] = '\0';
        *ret_len = len;
        return 0;
}

int km_state_load(const char *path, const char *tz_name, km_energy *ret_e)
{
        static char data[STATE_MAX + 1];
        size_t len;
        int r = read_file(path, data, sizeof(data), &len);
        if (r < 0)
                return r;
        if (memchr(data, '\0', len))
                return -EBADMSG;
        /* the check line covers every byte before it */
        char *check = strstr(data, "\ncheck ");
        uint64_t want;
        char tail;
        if (!check || sscanf(check + 7, "%16" SCNx64 "%c", &want, &tail) != 2 || tail != '\n' ||
            check + 7 + 17 != data + len)
                return -EBADMSG;
        if (fnv1a(data, (size_t)(check + 1 - data)) != want)
                return -EBADMSG;
        reader rd = {.p = data};
        int version = 0;
        if (sscanf(line(&rd), MAGIC " %d%c", &version, &tail) != 1)
                return -EBADMSG;
        if (version != KM_STATE_VERSION)
                return -EPROTO;
        const char *tz = line(&rd);
        if (strncmp(tz, "tz ", 3) != 0)
                return -EBADMSG;
        if (strcmp(tz + 3, tz_name) != 0)
                return -ESTALE;
        km_energy e;
        km_energy_init(&e);
        parse_body(&rd, &e);
        if (rd.bad || strncmp(rd.p, "check ", 6) != 0)
                return -EBADMSG;
        *ret_e = e;
        return 0;
}

const char *km_state_strerror(int r)
{
        switch (r) {
        case -ENOENT: return "does not exist yet";
        case -EPROTO: return "has another format version";
        case -ESTALE: return "was written for another time zone";
        case -EBADMSG: return "is corrupt";
        default: return strerror(-r);
        }
}
