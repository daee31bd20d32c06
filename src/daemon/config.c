/*
 * Reads the daemon's INI file with inih, driven by two tables: the known
 * sections and the known keys (section, name, parser, field offset, default
 * text). inih is fed through a line reader of our own so that every message
 * carries the right line number, and so that a section header is checked
 * even when the section is empty. The first problem wins; the caller prints
 * it as "FILE:LINE: message" and exits 78.
 */
#include "daemon/config.h"
#include "sinks/postgresql.h"

#include <errno.h>
#include <ini.h>
#include <limits.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <fcntl.h>
#include <glob.h>
#include <libgen.h>
#include <unistd.h>

#include "derived/localtime.h"
#include "util/log.h"

/* Drop-in files read after the main file, at most */
#define DROPINS_MAX 64
#define METERS_MAX 4096
#define METER_NAME_MAX 32

/* Longest line accepted; inih's own buffer is INI_MAX_LINE (200) in Debian's build. */
#define LINE_MAX_CHARS (INI_MAX_LINE - 3)

typedef struct parse_ctx parse_ctx;
/* A key parser: value in, field written, or a message returned. */
typedef const char *(*key_parser)(parse_ctx *c, const char *value, void *field, const void *arg);

typedef struct key_def {
        const char *section;
        const char *name;
        key_parser parse;
        size_t offset;
        const void *arg;
        const char *def; /* default, as it would be written in the file */
} key_def;

typedef struct int_range {
        long min, max;
} int_range;

/* Where a key or section was set: file (index into parse_ctx.files) and
 * line; line 0 = not set. */
typedef struct where {
        int file, line;
} where;

typedef where key_lines[64];

struct parse_ctx {
        km_config *cfg;
        bool defaults;    /* the parsers are setting the defaults, not a file's values */
        const char *name; /* file name for messages */
        FILE *file;       /* reading a file, or */
        const char *text; /* reading a string */
        const char *files[DROPINS_MAX + 1]; /* names of the files read so far */
        int n_files;
        int line;
        bool line_has_nul;
        char section[64];
        bool section_known;
        km_meter_config *m;   /* the meter of the current section, NULL for others */
        size_t m_index;
        key_lines key_at;     /* where each key of a shared section was set */
        key_lines *meter_key_at; /* the same for each meter's keys, parallel to cfg->meters */
        where section_at[16]; /* each known section's first header */
        bool plain_meter;     /* [serial] or [meter] was seen */
        int err_file;
        int err_line;
        char err[KM_CONFIG_ERR_MAX];
        char msgbuf[256];
};

/* ---- parsers ---------------------------------------------------------- */

static const char *msg(parse_ctx *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static const char *msg(parse_ctx *c, const char *fmt, ...)
{
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(c->msgbuf, sizeof(c->msgbuf), fmt, ap);
        va_end(ap);
        return c->msgbuf;
}

static const char *set_string(char **field, const char *value)
{
        char *copy = strdup(value);
        if (!copy)
                return "out of memory";
        free(*field);
        *field = copy;
        return NULL;
}

/* Well-formed UTF-8 (no overlong forms, no surrogates, at most U+10FFFF):
 * what MQTT requires of topics, client ids and user names, and what JSON
 * documents (discovery) must carry. */
static bool valid_utf8(const char *s)
{
        const unsigned char *p = (const unsigned char *)s;
        while (*p) {
                unsigned c = *p++;
                int more;
                unsigned cp, min;
                if (c < 0x80)
                        continue;
                if (c >= 0xC2 && c <= 0xDF)
                        more = 1, cp = c & 0x1F, min = 0x80;
                else if (c >= 0xE0 && c <= 0xEF)
                        more = 2, cp = c & 0x0F, min = 0x800;
                else if (c >= 0xF0 && c <= 0xF4)
                        more = 3, cp = c & 0x07, min = 0x10000;
                else
                        return false;
                for (int i = 0; i < more; i++, p++) {
                        if ((*p & 0xC0) != 0x80)
                                return false;
                        cp = (cp << 6) | (*p & 0x3F);
                }
                if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
                        return false;
        }
        return true;
}

/* Any text; empty means "not set" (NULL). */
static const char *parse_string(parse_ctx *c, const char *value, void *field, const void *arg)
{
        (void)c;
        (void)arg;
        char **f = field;
        if (!*value) {
                free(*f);
                *f = NULL;
                return NULL;
        }
        return set_string(f, value);
}

/* Text that goes into MQTT or JSON as it is: UTF-8. */
static const char *parse_utf8(parse_ctx *c, const char *value, void *field, const void *arg)
{
        if (!valid_utf8(value))
                return msg(c, "not valid UTF-8 (save the file as UTF-8)");
        return parse_string(c, value, field, arg);
}

static const char *parse_nonempty(parse_ctx *c, const char *value, void *field, const void *arg)
{
        (void)arg;
        if (!*value)
                return msg(c, "a value is required");
        return set_string(field, value);
}

static const char *parse_int(parse_ctx *c, const char *value, void *field, const void *arg)
{
        const int_range *r = arg;
        char *end;
        errno = 0;
        long v = strtol(value, &end, 10);
        if (!*value || *end || errno)
                return msg(c, "'%s' is not a whole number", value);
        if (v < r->min || v > r->max)
                return msg(c, "%ld is out of range (%ld to %ld)", v, r->min, r->max);
        *(int *)field = (int)v;
        return NULL;
}

static const char *parse_baud(parse_ctx *c, const char *value, void *field, const void *arg)
{
        static const int rates[] = {300, 600, 1200, 2400, 4800, 9600, 19200, 38400, 57600, 115200};
        static const int_range any = {1, INT_MAX};
        (void)arg;
        const char *m = parse_int(c, value, field, &any);
        if (m)
                return m;
        for (size_t i = 0; i < sizeof(rates) / sizeof(rates[0]); i++)
                if (*(int *)field == rates[i])
                        return NULL;
        return msg(c, "%s is not a supported baud rate (300 to 115200; HAN ports use 2400)", value);
}

static const char *parse_bool(parse_ctx *c, const char *value, void *field, const void *arg)
{
        static const char *const yes[] = {"yes", "true", "on", "1"};
        static const char *const no[] = {"no", "false", "off", "0"};
        (void)arg;
        for (size_t i = 0; i < 4; i++) {
                if (strcasecmp(value, yes[i]) == 0) {
                        *(bool *)field = true;
                        return NULL;
                }
                if (strcasecmp(value, no[i]) == 0) {
                        *(bool *)field = false;
                        return NULL;
                }
        }
        return msg(c, "'%s' is not a boolean (yes/no, true/false, on/off, 1/0)", value);
}

static const char *parse_parity(parse_ctx *c, const char *value, void *field, const void *arg)
{
        (void)field;
        (void)arg;
        if (strcasecmp(value, "auto") == 0) {
                c->m->serial.parity_auto = true;
                return NULL;
        }
        if (strcasecmp(value, "even") == 0 || strcasecmp(value, "none") == 0 ||
            strcasecmp(value, "odd") == 0) {
                km_parity p;
                if (km_parity_parse(value, &p) < 0)
                        return msg(c, "'%s' is not a parity", value);
                c->m->serial.parity = p;
                c->m->serial.parity_auto = false;
                return NULL;
        }
        return msg(c, "'%s' is not a parity (auto, even, none, odd)", value);
}

static const char *parse_transport(parse_ctx *c, const char *value, void *field, const void *arg)
{
        (void)field;
        (void)arg;
        c->m->serial.hex = strcasecmp(value, "hex") == 0;
        if (c->m->serial.hex) {
                c->m->serial.transport = KM_TRANSPORT_AUTO;
                return NULL;
        }
        if (!km_transport_from_name(value, &c->m->serial.transport))
                return msg(c, "'%s' is not a transport (auto, hdlc, mbus, raw, p1, hex)", value);
        return NULL;
}

const char *km_meter_list_name(km_meter_list l)
{
        return l ? l->name : "auto";
}

/* [meter] timezone: a tzdata zone that exists here. */
static const char *parse_timezone(parse_ctx *c, const char *value, void *field, const void *arg)
{
        (void)arg;
        int r = km_tz_check(value);
        /* the default without tzdata: the daemon says so at start and
         * publishes no derived values; a zone written in the file must exist */
        if (r == -ENOENT && c->defaults)
                return set_string(field, value);
        if (r == -EINVAL)
                return msg(c, "'%s' is not a time zone name (a tzdata name such as Europe/Oslo)", value);
        if (r < 0)
                return msg(c, "no time zone '%s' in /usr/share/zoneinfo (install tzdata, or use a name such as "
                              "Europe/Oslo)", value);
        return set_string(field, value);
}

/* [capacity] steps: "0-2, 2-5, ..." in kW, ascending and contiguous. */
static const char *parse_cap_steps(parse_ctx *c, const char *value, void *field, const void *arg)
{
        (void)arg;
        int bad;
        if (km_cap_parse_steps(value, &c->cfg->capacity.steps, &bad) < 0)
                return msg(c, "step %d of '%s' is not right: give kW ranges 'low-high' separated by commas, "
                              "ascending, each starting where the one before ends (at most %d)",
                           bad, value, KM_CAP_MAX_STEPS);
        return set_string(field, value);
}

/* "auto" or a family of the decoder's table, which names the choices. */
static const char *parse_list(parse_ctx *c, const char *value, void *field, const void *arg)
{
        (void)arg;
        if (strcasecmp(value, "auto") == 0) {
                *(km_meter_list *)field = NULL;
                return NULL;
        }
        km_meter_list fam = km_family_by_name(value);
        if (fam) {
                *(km_meter_list *)field = fam;
                return NULL;
        }
        char names[256] = "auto";
        for (size_t i = 0; i < km_family_count(); i++) {
                size_t used = strlen(names);
                snprintf(names + used, sizeof(names) - used, ", %s", km_family_get(i)->name);
        }
        return msg(c, "'%s' is not a meter list (%s)", value, names);
}

/* [mqtt] tls: auto (on when cafile is set), or a boolean. */
static const char *parse_tls(parse_ctx *c, const char *value, void *field, const void *arg)
{
        bool on;
        if (strcasecmp(value, "auto") == 0) {
                *(int *)field = -1;
                return NULL;
        }
        if (parse_bool(c, value, &on, arg))
                return msg(c, "'%s' is not auto or a boolean (yes/no, true/false, on/off, 1/0)", value);
        *(int *)field = on;
        return NULL;
}

bool km_config_mqtt_tls(const km_config *cfg)
{
        return cfg->mqtt.tls > 0 || (cfg->mqtt.tls < 0 && cfg->mqtt.cafile);
}

static const char *parse_level(parse_ctx *c, const char *value, void *field, const void *arg)
{
        (void)arg;
        int l = km_log_level_parse(value);
        if (l < 0)
                return msg(c, "'%s' is not a log level (debug, info, notice, warning, error)", value);
        *(int *)field = l;
        return NULL;
}

/* An MQTT topic prefix: no wildcards, no empty levels at either end. */
static const char *parse_topic(parse_ctx *c, const char *value, void *field, const void *arg)
{
        (void)arg;
        if (!*value)
                return msg(c, "a topic prefix is required");
        if (!valid_utf8(value))
                return msg(c, "the topic prefix is not valid UTF-8 (MQTT topics must be)");
        if (strpbrk(value, "+#"))
                return msg(c, "'%s' contains an MQTT wildcard (+ or #)", value);
        if (value[0] == '/' || value[strlen(value) - 1] == '/')
                return msg(c, "'%s' must not start or end with '/'", value);
        for (const char *p = value; *p; p++)
                if ((unsigned char)*p < 0x20 || *p == 0x7f)
                        return msg(c, "topic prefix contains a control character");
        return set_string(field, value);
}

/* A device id used as one topic level: letters, digits, '_' and '-'. */
static const char *parse_topic_level(parse_ctx *c, const char *value, void *field, const void *arg)
{
        if (strlen(value) > 63)
                return msg(c, "'%s' is longer than 63 characters", value);
        for (const char *p = value; *p; p++)
                if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') || *p == '_' ||
                      *p == '-'))
                        return msg(c, "'%s': use only letters, digits, '_' and '-' (it is an MQTT topic level)", value);
        return parse_string(c, value, field, arg);
}

static const char *parse_client_id(parse_ctx *c, const char *value, void *field, const void *arg)
{
        if (strlen(value) > 64)
                return msg(c, "client_id is longer than 64 characters");
        if (!valid_utf8(value))
                return msg(c, "client_id is not valid UTF-8");
        for (const char *p = value; *p; p++)
                if ((unsigned char)*p <= 0x20 || *p == 0x7f)
                        return msg(c, "client_id contains a space or control character");
        return parse_string(c, value, field, arg);
}

/* Opens a file the daemon reads at start (TLS material, passwords): it
 * must be a regular file of at most max_size bytes, readable now. Returns
 * the open stream, or NULL with the message in *ret_msg. */
static FILE *open_small_file(parse_ctx *c, const char *path, off_t max_size, const char **ret_msg)
{
        int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
        struct stat st;
        if (fd < 0 || fstat(fd, &st) < 0) {
                *ret_msg = msg(c, "%s: %s", path, strerror(errno));
                if (fd >= 0)
                        close(fd);
                return NULL;
        }
        if (!S_ISREG(st.st_mode) || st.st_size > max_size) {
                *ret_msg = S_ISDIR(st.st_mode)  ? msg(c, "%s is a directory, not a file", path)
                           : !S_ISREG(st.st_mode) ? msg(c, "%s is not a regular file (a device, FIFO or socket)", path)
                                                  : msg(c, "%s is too big (%lld bytes; at most %lld)", path,
                                                        (long long)st.st_size, (long long)max_size);
                close(fd);
                return NULL;
        }
        FILE *f = fdopen(fd, "re");
        if (!f) {
                *ret_msg = msg(c, "%s: %s", path, strerror(errno));
                close(fd);
        }
        return f;
}

#define PEM_MAX_SIZE (1024 * 1024)
#define PASSWORD_FILE_MAX_SIZE 4096

/* TLS material (cafile, certfile, keyfile): a readable regular PEM file,
 * checked now rather than at the first TLS handshake. */
static const char *parse_pem_file(parse_ctx *c, const char *value, void *field, const void *arg)
{
        if (!*value)
                return parse_string(c, value, field, arg);
        const char *m = NULL;
        FILE *f = open_small_file(c, value, PEM_MAX_SIZE, &m);
        if (!f)
                return m;
        char line[256];
        bool pem = false;
        while (!pem && fgets(line, sizeof(line), f))
                pem = strncmp(line, "-----BEGIN ", 11) == 0;
        fclose(f);
        explicit_bzero(line, sizeof(line));
        if (!pem)
                return msg(c, "%s is not a PEM file (no '-----BEGIN' line)", value);
        return parse_string(c, value, field, arg);
}

/* [postgresql] password_file: a readable regular file of a few bytes (the
 * sink reads its first line at start). */
static const char *parse_secret_file(parse_ctx *c, const char *value, void *field, const void *arg)
{
        if (!*value)
                return parse_string(c, value, field, arg);
        const char *m = NULL;
        FILE *f = open_small_file(c, value, PASSWORD_FILE_MAX_SIZE, &m);
        if (!f)
                return m;
        fclose(f);
        return parse_string(c, value, field, arg);
}

/* password_file: the password is its first line (without the newline). */
static const char *parse_password_file(parse_ctx *c, const char *value, void *field, const void *arg)
{
        (void)arg;
        if (!*value)
                return NULL;
        const char *m = NULL;
        FILE *f = open_small_file(c, value, PASSWORD_FILE_MAX_SIZE, &m);
        if (!f)
                return m;
        char buf[512];
        size_t n = fread(buf, 1, sizeof(buf) - 1, f);
        fclose(f);
        buf[n] = '\0';
        size_t len = strcspn(buf, "\r\n"); /* stops at a NUL too */
        const char *zero = memchr(buf, '\0', n);
        bool nul = zero && (size_t)(zero - buf) == len; /* the first line ends at a NUL */
        buf[len] = '\0';
        if (n == 0)
                return msg(c, "%s: the file is empty", value);
        if (nul) {
                explicit_bzero(buf, sizeof(buf));
                return msg(c, "%s: the first line contains a NUL byte", value);
        }
        if (!*buf)
                return msg(c, "%s: the first line is empty", value);
        m = set_string(&c->cfg->mqtt.password, buf);
        explicit_bzero(buf, sizeof(buf));
        return m ? m : set_string(field, value);
}

/* [meter] key and auth_key: 32 hex digits. The message never quotes the
 * value (handler_fn wipes its copy of the line). */
static const char *parse_key_hex(parse_ctx *c, const char *value, void *field, const void *arg)
{
        (void)field;
        bool auth = arg != NULL;
        km_key *k = &c->m->meter.key;
        char why[160];
        if (!*value)
                return NULL;
        if (km_key_parse_hex(value, auth ? k->ak : k->ek, why, sizeof(why)) < 0)
                return msg(c, "%s", why);
        if (auth)
                k->has_ak = true;
        else
                k->has_ek = true;
        return NULL;
}

/* [meter] key_file: EK=/AK= lines, read now so that a bad one is a config
 * error ("FILE:LINE: [meter] key_file: KEYFILE:LINE: reason"). */
static const char *parse_key_file(parse_ctx *c, const char *value, void *field, const void *arg)
{
        (void)arg;
        if (!*value)
                return NULL;
        km_key k;
        char why[200];
        if (km_key_file_load(value, &k, why, sizeof(why)) < 0)
                return msg(c, "%s", why);
        c->m->meter.key = k;
        explicit_bzero(&k, sizeof(k));
        return set_string(field, value);
}

/* [postgresql] port: a TCP port number, kept as text for libpq. */
static const char *parse_pg_port(parse_ctx *c, const char *value, void *field, const void *arg)
{
        static const int_range r = {1, 65535};
        int port;
        (void)arg;
        const char *m = parse_int(c, value, &port, &r);
        return m ? m : set_string(field, value);
}

/* [postgresql] table: quoted as an identifier by the sink, so any text of
 * 1 to 63 bytes (PostgreSQL's NAMEDATALEN - 1) will do. */
static const char *parse_pg_table(parse_ctx *c, const char *value, void *field, const void *arg)
{
        (void)arg;
        if (!*value)
                return msg(c, "a table name is required");
        if (strlen(value) > 63)
                return msg(c, "'%.20s...' is longer than 63 bytes (PostgreSQL's limit for names)", value);
        for (const char *p = value; *p; p++)
                if ((unsigned char)*p < 0x20 || *p == 0x7f)
                        return msg(c, "the table name contains a control character");
        return set_string(field, value);
}

/* [postgresql] conninfo: checked by libpq's own parser now, not at the first
 * connection attempt. */
static const char *parse_pg_conninfo(parse_ctx *c, const char *value, void *field, const void *arg)
{
        (void)arg;
        char why[160];
        if (*value && km_pg_conninfo_check(value, why, sizeof(why)) < 0)
                return msg(c, "bad connection string: %s", why);
        return set_string(field, value);
}

/* The nearest existing directory of path (path itself excluded) is on a
 * read-only file system: the file can never be created or written. Under
 * the packaged unit everything but its state and logs directories is. */
static bool on_readonly_fs(const char *path)
{
        char dir[PATH_MAX];
        snprintf(dir, sizeof(dir), "%s", path);
        struct statvfs vfs;
        for (;;) {
                char *slash = strrchr(dir, '/');
                if (!slash)
                        return false;
                slash[slash == dir ? 1 : 0] = '\0';
                if (statvfs(dir, &vfs) == 0)
                        return (vfs.f_flag & ST_RDONLY) != 0;
                if (slash == dir)
                        return false;
        }
}

/* [file] path, if it exists: a regular file we may append to that holds
 * JSON lines already (empty, or its first byte is '{'), so that a typo
 * never appends to /etc/shadow or a device. A missing file is fine: it is
 * created at start (its directory may be made by systemd's LogsDirectory=
 * only then), and a missing directory is a logged error at run time. */
static const char *check_appendable(parse_ctx *c, const char *path)
{
        struct stat st;
        if (stat(path, &st) < 0) {
                if (errno != ENOENT)
                        return msg(c, "%s: %s", path, strerror(errno));
                if (on_readonly_fs(path))
                        return msg(c, "%s: cannot be created: read-only file system", path);
                return NULL;
        }
        if (S_ISDIR(st.st_mode))
                return msg(c, "'%s' names a directory, not a file", path);
        if (!S_ISREG(st.st_mode))
                return msg(c, "%s is not a regular file (a device, FIFO or socket); give a file to append to", path);
        if (faccessat(AT_FDCWD, path, W_OK, AT_EACCESS) < 0)
                return msg(c, "%s is not writable: %s", path, strerror(errno));
        int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
        if (fd < 0)
                return msg(c, "%s: %s", path, strerror(errno));
        char first = 0;
        ssize_t n = read(fd, &first, 1);
        close(fd);
        if (n < 0)
                return msg(c, "%s: %s", path, strerror(errno));
        if (n == 1 && first != '{')
                return msg(c, "%s is not a JSON-lines file (it does not start with '{'); refusing to append to it",
                           path);
        return NULL;
}

/* [file] path: absolute, so that it does not depend on the working directory. */
static const char *parse_abs_path(parse_ctx *c, const char *value, void *field, const void *arg)
{
        (void)arg;
        if (!*value)
                return msg(c, "a file name is required");
        if (value[0] != '/')
                return msg(c, "'%s' is not an absolute path", value);
        if (value[strlen(value) - 1] == '/')
                return msg(c, "'%s' names a directory, not a file", value);
        const char *m = check_appendable(c, value);
        return m ? m : set_string(field, value);
}

const char *km_meter_config_topic(const km_meter_config *m)
{
        const char *port = m->serial.port;
        size_t n = strlen(KM_MQTT_SOURCE_PREFIX);
        return port && strncmp(port, KM_MQTT_SOURCE_PREFIX, n) == 0 ? port + n : NULL;
}

/* [serial] port: a device, tcp://host:port, a file or FIFO, or
 * mqtt://TOPIC (raw frames on the [mqtt] broker; + and # allowed). */
static const char *parse_port(parse_ctx *c, const char *value, void *field, const void *arg)
{
        size_t n = strlen(KM_MQTT_SOURCE_PREFIX);
        if (strncmp(value, KM_MQTT_SOURCE_PREFIX, n) == 0) {
                const char *topic = value + n;
                if (!*topic)
                        return msg(c, "mqtt:// needs a topic (mqtt://tibber/raw: a topic on the [mqtt] broker)");
                if (!valid_utf8(topic))
                        return msg(c, "the topic is not valid UTF-8 (MQTT topics must be)");
                for (const char *p = topic; *p; p++)
                        if ((unsigned char)*p < 0x20 || *p == 0x7f)
                                return msg(c, "the topic contains a control character");
        }
        return parse_nonempty(c, value, field, arg);
}

/* ---- the tables ------------------------------------------------------- */

static const char *const sections[] = {"serial", "meter", "capacity", "mqtt", "homeassistant", "postgresql", "file",
                                       "log"};
#define SECTION_LIST "[serial] [meter] [meter.NAME] [capacity] [mqtt] [homeassistant] [postgresql] [file] [log]"
#define METER_SECTION_PREFIX "meter."


static const int_range r_port = {1, 65535};
static const int_range r_keepalive = {5, 3600};
static const int_range r_qos = {0, 2};
static const int_range r_data_bits = {7, 8};
static const int_range r_queue = {10, 1000000};
static const int_range r_pg_queue = {10, 1000000};
static const int_range r_stale = {5, 86400};
static const int_range r_id_wait = {0, 3600};

/* shared keys: a field of km_config; [serial] and [meter] keys: of the
 * meter's km_meter_config */
#define F(field) offsetof(km_config, field)
#define M(field) offsetof(km_meter_config, field)

static const key_def keys[] = {
        {"serial", "port", parse_port, M(serial.port), NULL, "/dev/ttyUSB0"},
        {"serial", "baud", parse_baud, M(serial.baud), NULL, "2400"},
        {"serial", "parity", parse_parity, 0, NULL, "auto"},
        {"serial", "data_bits", parse_int, M(serial.data_bits), &r_data_bits, "8"},
        {"serial", "transport", parse_transport, 0, NULL, "auto"},
        {"meter", "list", parse_list, M(meter.list), NULL, "auto"},
        {"meter", "name", parse_utf8, M(meter.name), NULL, ""},
        {"meter", "id", parse_topic_level, M(meter.id), NULL, ""},
        {"meter", "stale_after", parse_int, M(meter.stale_after), &r_stale, "60"},
        {"meter", "id_wait", parse_int, M(meter.id_wait), &r_id_wait, "25"},
        {"meter", "key", parse_key_hex, 0, NULL, ""},
        {"meter", "auth_key", parse_key_hex, 0, "auth", ""},
        {"meter", "key_file", parse_key_file, M(meter.key_file), NULL, ""},
        {"meter", "timezone", parse_timezone, M(meter.timezone), NULL, "Europe/Oslo"},
        {"capacity", "enabled", parse_bool, F(capacity.enabled), NULL, "yes"},
        {"capacity", "steps", parse_cap_steps, F(capacity.steps_text), NULL, KM_CAP_STEPS_DEFAULT},
        {"mqtt", "host", parse_nonempty, F(mqtt.host), NULL, "localhost"},
        {"mqtt", "port", parse_int, F(mqtt.port), &r_port, ""},
        {"mqtt", "client_id", parse_client_id, F(mqtt.client_id), NULL, ""},
        {"mqtt", "username", parse_utf8, F(mqtt.username), NULL, ""},
        {"mqtt", "password", parse_string, F(mqtt.password), NULL, ""},
        {"mqtt", "password_file", parse_password_file, F(mqtt.password_file), NULL, ""},
        {"mqtt", "tls", parse_tls, F(mqtt.tls), NULL, "auto"},
        {"mqtt", "cafile", parse_pem_file, F(mqtt.cafile), NULL, ""},
        {"mqtt", "certfile", parse_pem_file, F(mqtt.certfile), NULL, ""},
        {"mqtt", "keyfile", parse_pem_file, F(mqtt.keyfile), NULL, ""},
        {"mqtt", "keepalive", parse_int, F(mqtt.keepalive), &r_keepalive, "60"},
        {"mqtt", "qos", parse_int, F(mqtt.qos), &r_qos, "1"},
        {"mqtt", "measurement_qos", parse_int, F(mqtt.measurement_qos), &r_qos, "0"},
        {"mqtt", "prefix", parse_topic, F(mqtt.prefix), NULL, "kaifa"},
        {"mqtt", "queue_limit", parse_int, F(mqtt.queue_limit), &r_queue, "10000"},
        {"homeassistant", "discovery", parse_bool, F(homeassistant.discovery), NULL, "yes"},
        {"homeassistant", "discovery_prefix", parse_topic, F(homeassistant.discovery_prefix), NULL,
         "homeassistant"},
        {"homeassistant", "legacy_reactive", parse_bool, F(homeassistant.legacy_reactive), NULL, "no"},
        {"postgresql", "conninfo", parse_pg_conninfo, F(postgresql.conninfo), NULL, ""},
        {"postgresql", "dbname", parse_string, F(postgresql.dbname), NULL, ""},
        {"postgresql", "user", parse_string, F(postgresql.user), NULL, ""},
        {"postgresql", "host", parse_string, F(postgresql.host), NULL, ""},
        {"postgresql", "port", parse_pg_port, F(postgresql.port), NULL, ""},
        {"postgresql", "password_file", parse_secret_file, F(postgresql.password_file), NULL, ""},
        {"postgresql", "table", parse_pg_table, F(postgresql.table), NULL, ""},
        {"postgresql", "queue_size", parse_int, F(postgresql.queue_size), &r_pg_queue, "10000"},
        {"file", "path", parse_abs_path, F(file.path), NULL, ""},
        {"log", "level", parse_level, F(log.level), NULL, "info"},
};

#define N_KEYS (sizeof(keys) / sizeof(keys[0]))
#define N_SECTIONS (sizeof(sections) / sizeof(sections[0]))

_Static_assert(N_KEYS <= 64, "parse_ctx.key_line is too small");
_Static_assert(N_SECTIONS <= 16, "parse_ctx.section_line is too small");

static bool is_meter_section(const char *section)
{
        return strncmp(section, METER_SECTION_PREFIX, strlen(METER_SECTION_PREFIX)) == 0;
}

/* A key of one meter ([serial] and [meter] keys), kept per meter. */
static bool is_meter_key(size_t k)
{
        return strcmp(keys[k].section, "serial") == 0 || strcmp(keys[k].section, "meter") == 0;
}

/* [meter.NAME] takes the keys of [serial] and of [meter]. */
static int key_index(const char *section, const char *name)
{
        bool meter = is_meter_section(section);
        for (size_t i = 0; i < N_KEYS; i++) {
                bool in = meter ? is_meter_key(i) : strcmp(keys[i].section, section) == 0;
                if (in && strcmp(keys[i].name, name) == 0)
                        return (int)i;
        }
        return -1;
}

static int section_index(const char *name)
{
        for (size_t i = 0; i < N_SECTIONS; i++)
                if (strcmp(sections[i], name) == 0)
                        return (int)i;
        return -1;
}

/* "host port client_id ...": the keys of a section, for messages. */
static const char *known_keys(const char *section, char *buf, size_t size)
{
        size_t n = 0;
        bool meter = is_meter_section(section);
        buf[0] = '\0';
        for (size_t i = 0; i < N_KEYS && n < size; i++)
                if (meter ? is_meter_key(i) : strcmp(keys[i].section, section) == 0)
                        n += (size_t)snprintf(buf + n, size - n, "%s%s", n ? " " : "", keys[i].name);
        return buf;
}

/* ---- inih glue -------------------------------------------------------- */

static void vfail_at(parse_ctx *c, int file, int line, const char *fmt, va_list ap)
        __attribute__((format(printf, 4, 0)));
static void vfail_at(parse_ctx *c, int file, int line, const char *fmt, va_list ap)
{
        if (c->err_line || c->err[0])
                return; /* the first problem wins */
        c->err_file = file < 0 ? 0 : file;
        c->err_line = line;
        vsnprintf(c->err, sizeof(c->err), fmt, ap);
        if (!c->err[0])
                snprintf(c->err, sizeof(c->err), "error");
}

/* A problem on a line of the file being read (line 0: of no line). */
static void fail(parse_ctx *c, int line, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void fail(parse_ctx *c, int line, const char *fmt, ...)
{
        va_list ap;
        va_start(ap, fmt);
        vfail_at(c, c->n_files - 1, line, fmt, ap);
        va_end(ap);
}

/* A problem found after reading, at the line where a key was set. */
static void fail_at(parse_ctx *c, where w, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void fail_at(parse_ctx *c, where w, const char *fmt, ...)
{
        va_list ap;
        va_start(ap, fmt);
        vfail_at(c, w.line ? w.file : c->n_files - 1, w.line, fmt, ap);
        va_end(ap);
}

static bool read_line(parse_ctx *c, char *line, size_t size, bool *ret_long)
{
        size_t n = 0;
        int ch;
        *ret_long = false;
        c->line_has_nul = false;
        for (;;) {
                if (c->file)
                        ch = getc(c->file);
                else
                        ch = *c->text ? (unsigned char)*c->text++ : EOF;
                if (ch == EOF) {
                        if (n == 0)
                                return false;
                        break;
                }
                if (ch == '\0')
                        c->line_has_nul = true;
                if (n + 1 < size)
                        line[n++] = (char)ch;
                else if (ch != '\n')
                        *ret_long = true;
                if (ch == '\n')
                        break;
        }
        line[n] = '\0';
        return true;
}

static void meter_defaults(parse_ctx *c, km_meter_config *m);

/* Makes the meter of a section current, adding it the first time (the
 * plain [serial] + [meter] sections are the meter named "meter"). */
static bool select_meter(parse_ctx *c, const char *name)
{
        size_t len = strlen(name);
        if (len == 0 || len > METER_NAME_MAX) {
                fail(c, c->line, "[meter.NAME]: the name must have 1 to %d characters", METER_NAME_MAX);
                return false;
        }
        for (const char *p = name; *p; p++)
                if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') || *p == '_' ||
                      *p == '-')) {
                        fail(c, c->line, "[meter.%s]: use only letters, digits, '_' and '-' in the name", name);
                        return false;
                }
        km_config *cfg = c->cfg;
        for (size_t i = 0; i < cfg->n_meters; i++)
                if (strcmp(cfg->meters[i].section, name) == 0) {
                        c->m = &cfg->meters[i];
                        c->m_index = i;
                        return true;
                }
        if (cfg->n_meters >= METERS_MAX) {
                fail(c, c->line, "more than %d meters", METERS_MAX);
                return false;
        }
        km_meter_config *meters = realloc(cfg->meters, (cfg->n_meters + 1) * sizeof(*meters));
        key_lines *at = meters ? realloc(c->meter_key_at, (cfg->n_meters + 1) * sizeof(*at)) : NULL;
        if (meters)
                cfg->meters = meters;
        if (at)
                c->meter_key_at = at;
        km_meter_config *m = meters ? &meters[cfg->n_meters] : NULL;
        if (!at || !(m->section = strdup(name))) {
                fail(c, c->line, "out of memory");
                return false;
        }
        memset(&at[cfg->n_meters], 0, sizeof(at[0]));
        c->m_index = cfg->n_meters++;
        c->m = m;
        meter_defaults(c, m);
        return true;
}

/* Checks a "[section]" line as it passes, so empty unknown sections fail too. */
static void check_section_line(parse_ctx *c, const char *line)
{
        while (*line == ' ' || *line == '\t')
                line++;
        if (*line != '[')
                return;
        const char *end = strchr(line, ']');
        if (!end) {
                fail(c, c->line, "syntax error: '[' without ']'");
                return;
        }
        const char *start = line + 1;
        while (start < end && (*start == ' ' || *start == '\t'))
                start++;
        size_t len = (size_t)(end - start);
        while (len > 0 && (start[len - 1] == ' ' || start[len - 1] == '\t'))
                len--;
        if (len >= sizeof(c->section))
                len = sizeof(c->section) - 1;
        memcpy(c->section, start, len);
        c->section[len] = '\0';
        c->m = NULL;
        if (is_meter_section(c->section)) {
                c->section_known = select_meter(c, c->section + strlen(METER_SECTION_PREFIX));
                return;
        }
        int i = section_index(c->section);
        c->section_known = i >= 0;
        if (!c->section_known) {
                fail(c, c->line, "unknown section [%s] (known: " SECTION_LIST ")", c->section);
                return;
        }
        if (!c->section_at[i].line)
                c->section_at[i] = (where){c->n_files - 1, c->line};
        if (strcmp(c->section, "serial") == 0 || strcmp(c->section, "meter") == 0) {
                c->plain_meter = true;
                select_meter(c, "meter");
        }
}

static char *ini_reader_fn(char *str, int num, void *stream)
{
        parse_ctx *c = stream;
        char line[1024];
        bool too_long;
        if (!read_line(c, line, sizeof(line), &too_long))
                return NULL;
        c->line++;
        size_t len = strcspn(line, "\r\n");
        if (c->line_has_nul) {
                fail(c, c->line, "the line contains a NUL byte (is this a text file?)");
                snprintf(str, (size_t)num, "#\n");
                return str;
        }
        if (too_long || len > LINE_MAX_CHARS || len >= (size_t)num - 1) {
                fail(c, c->line, "line is too long (at most %d characters)", LINE_MAX_CHARS);
                /* hand inih a comment so it does not report the rest of the line */
                snprintf(str, (size_t)num, "#\n");
                return str;
        }
        /* Leading blanks are dropped: indentation is allowed, and inih never
         * sees a continuation line (multi-line values are not supported). */
        const char *start = line + strspn(line, " \t");
        check_section_line(c, start);
        if (*start == '[' && strchr(start, ']'))
                snprintf(str, (size_t)num, "[%s]\n", c->section); /* "[ meter ]" -> "[meter]" */
        else
                snprintf(str, (size_t)num, "%s", start);
        return str;
}

/* Strips one pair of surrounding double quotes: name = "My meter". */
static void unquote(char *s)
{
        size_t n = strlen(s);
        if (n >= 2 && s[0] == '"' && s[n - 1] == '"') {
                memmove(s, s + 1, n - 2);
                s[n - 2] = '\0';
        }
}

static int ini_handler_fn(void *user, const char *section, const char *name, const char *value)
{
        parse_ctx *c = user;
        if (!*section) {
                fail(c, c->line, "'%s' is outside of any section", name);
                return 0;
        }
        if (!c->section_known)
                return 0; /* already reported at the header */
        int k = key_index(section, name);
        if (k < 0) {
                char known[256];
                fail(c, c->line, "unknown key '%s' in [%s] (known: %s)", name, section,
                     known_keys(section, known, sizeof(known)));
                return 0;
        }
        where *at = is_meter_key((size_t)k) ? &c->meter_key_at[c->m_index][k] : &c->key_at[k];
        /* a drop-in may set a key again: the later file wins */
        if (at->line && at->file == c->n_files - 1) {
                fail(c, c->line, "'%s' in [%s] is set twice (first on line %d)", name, section, at->line);
                return 0;
        }
        *at = (where){c->n_files - 1, c->line};
        char v[INI_MAX_LINE];
        snprintf(v, sizeof(v), "%s", value);
        unquote(v);
        char *base = is_meter_key((size_t)k) ? (char *)c->m : (char *)c->cfg;
        const char *m = keys[k].parse(c, v, base + keys[k].offset, keys[k].arg);
        explicit_bzero(v, sizeof(v));
        if (m) {
                fail(c, c->line, "[%s] %s: %s", section, name, m);
                return 0;
        }
        return 1;
}

static where where_of(const parse_ctx *c, const char *section, const char *name)
{
        int k = key_index(section, name);
        return k >= 0 ? c->key_at[k] : (where){0, 0};
}

static where meter_where(const parse_ctx *c, size_t meter, const char *name)
{
        int k = key_index(METER_SECTION_PREFIX, name);
        return k >= 0 ? c->meter_key_at[meter][k] : (where){0, 0};
}

/* The one set later (files in order, then lines). */
static where later(where a, where b)
{
        if (!a.line)
                return b;
        if (!b.line)
                return a;
        return a.file > b.file || (a.file == b.file && a.line > b.line) ? a : b;
}

static void check_mqtt(parse_ctx *c)
{
        const km_config *cfg = c->cfg;
        where pw = where_of(c, "mqtt", "password"), pwf = where_of(c, "mqtt", "password_file");
        where ca = where_of(c, "mqtt", "cafile"), cert = where_of(c, "mqtt", "certfile");
        where key = where_of(c, "mqtt", "keyfile"), tls = where_of(c, "mqtt", "tls");

        if (pw.line && pwf.line && cfg->mqtt.password_file)
                fail_at(c, later(pw, pwf), "[mqtt] password and password_file are both set; keep one");
        else if ((pw.line || pwf.line) && cfg->mqtt.password && !cfg->mqtt.username)
                fail_at(c, later(pw, pwf), "[mqtt] a password needs a username");
        else if (!cfg->mqtt.certfile != !cfg->mqtt.keyfile)
                fail_at(c, later(cert, key), "[mqtt] certfile and keyfile go together; set both or neither");
        else if (cfg->mqtt.cafile && cfg->mqtt.tls == 0)
                fail_at(c, later(ca, tls), "[mqtt] cafile is set but tls = no; remove one of the two");
        else if (cfg->mqtt.certfile && !km_config_mqtt_tls(cfg))
                fail_at(c, later(cert, key),
                        "[mqtt] certfile needs TLS: cafile (the broker's CA certificate) or tls = yes");
}

static const char *meter_section_name(const km_meter_config *m, char *buf, size_t size)
{
        if (strcmp(m->section, "meter") == 0)
                snprintf(buf, size, "meter");
        else
                snprintf(buf, size, METER_SECTION_PREFIX "%s", m->section);
        return buf;
}

static void check_meters(parse_ctx *c)
{
        const km_config *cfg = c->cfg;
        for (size_t i = 0; i < cfg->n_meters; i++) {
                const km_meter_config *m = &cfg->meters[i];
                char sec[METER_NAME_MAX + 8];
                meter_section_name(m, sec, sizeof(sec));
                where mk = meter_where(c, i, "key"), mak = meter_where(c, i, "auth_key");
                where mkf = meter_where(c, i, "key_file");
                if (mkf.line && (mk.line || mak.line))
                        fail_at(c, later(mkf, later(mk, mak)), "[%s] key_file and key/auth_key are both set; keep one",
                                sec);
                else if (mak.line && !m->meter.key.has_ek)
                        fail_at(c, mak, "[%s] auth_key needs the encryption key too (key = ...)", sec);
                /* two readers of one port get half the bytes each */
                for (size_t j = 0; j < i; j++)
                        if (strcmp(cfg->meters[j].serial.port, m->serial.port) == 0 && !km_meter_config_topic(m)) {
                                char other[METER_NAME_MAX + 8];
                                fail_at(c, meter_where(c, i, "port"), "[%s] port %s is the port of [%s] too", sec,
                                        m->serial.port, meter_section_name(&cfg->meters[j], other, sizeof(other)));
                                break;
                        }
                if (cfg->meters[i].meter.id)
                        for (size_t j = 0; j < i; j++)
                                if (cfg->meters[j].meter.id && strcmp(cfg->meters[j].meter.id, m->meter.id) == 0) {
                                        fail_at(c, meter_where(c, i, "id"), "[%s] id %s is taken by another meter",
                                                sec, m->meter.id);
                                        break;
                                }
        }
}

/* Rules that involve more than one key, reported at the later line. */
static void check_combinations(parse_ctx *c)
{
        check_mqtt(c);
        check_meters(c);
        /* an output section names what it writes to */
        const km_config *cfg = c->cfg;
        where pg = c->section_at[section_index("postgresql")];
        where file = c->section_at[section_index("file")];
        c->cfg->postgresql.enabled = pg.line > 0;
        c->cfg->file.enabled = file.line > 0;
        if (pg.line && !cfg->postgresql.table)
                fail_at(c, pg, "[postgresql] table is required (the table made by `kaifa-meter initdb`)");
        else if (file.line && !cfg->file.path)
                fail_at(c, file, "[file] path is required");
}

/* The defaults of the keys of one kind (shared, or one meter's). */
static int apply_defaults(parse_ctx *c, bool meter_keys, char *base)
{
        c->defaults = true;
        for (size_t i = 0; i < N_KEYS; i++) {
                if (is_meter_key(i) != meter_keys)
                        continue;
                if (!keys[i].def[0] && keys[i].parse != parse_nonempty && keys[i].parse != parse_port)
                        continue; /* not set */
                if (keys[i].parse(c, keys[i].def, base + keys[i].offset, keys[i].arg)) {
                        c->defaults = false;
                        return -ENOMEM;
                }
        }
        c->defaults = false;
        return 0;
}

static void meter_defaults(parse_ctx *c, km_meter_config *m)
{
        char *section = m->section;
        memset(m, 0, sizeof(*m));
        m->section = section;
        m->serial.parity_auto = true;
        m->serial.parity = KM_PARITY_EVEN;
        km_meter_config *cur = c->m;
        c->m = m;
        if (apply_defaults(c, true, (char *)m) < 0)
                fail(c, 0, "out of memory");
        c->m = cur;
}

static int shared_defaults(parse_ctx *c, km_config *cfg)
{
        memset(cfg, 0, sizeof(*cfg));
        c->cfg = cfg;
        return apply_defaults(c, false, (char *)cfg);
}

int km_config_defaults(km_config *cfg)
{
        parse_ctx c = {.name = "(defaults)"};
        if (shared_defaults(&c, cfg) < 0 || !select_meter(&c, "meter")) {
                free(c.meter_key_at);
                km_config_free(cfg);
                return -ENOMEM;
        }
        free(c.meter_key_at);
        return 0;
}

/* The systemd credentials (LoadCredential=kaifa-meter-key:/etc/...), read
 * when the file names no key: the recommended way, as the key then lives in
 * a file only root can read and is handed to the service alone. */
static void load_credentials(parse_ctx *c)
{
        if (c->cfg->n_meters != 1)
                return; /* several meters name their keys in their sections */
        km_meter_config *m = &c->cfg->meters[0];
        km_key *k = &m->meter.key;
        if (k->has_ek || k->has_ak)
                return;
        char why[KM_CONFIG_ERR_MAX - 16];
        bool found;
        if (km_key_credentials_load(getenv("CREDENTIALS_DIRECTORY"), k, &found, why, sizeof(why)) < 0) {
                fail(c, 0, "%s", why);
                return;
        }
        m->meter.key_from_credentials = found;
        if (found && k->has_ak && !k->has_ek)
                fail(c, 0, "credential " KM_CREDENTIAL_AUTH_KEY " needs " KM_CREDENTIAL_KEY " too");
}

/* Reads one file (c->file) or string (c->text) named name over c->cfg. */
static void parse_one(parse_ctx *c, const char *name)
{
        if (c->n_files > DROPINS_MAX)
                return;
        c->files[c->n_files++] = name;
        c->name = name;
        c->line = 0;
        c->section[0] = '\0';
        c->section_known = false;
        c->m = NULL;
        int line = ini_parse_stream(ini_reader_fn, c, ini_handler_fn, c);
        if (line > 0)
                fail(c, line, "syntax error: expected 'key = value', '[section]' or a comment");
        if (line < 0)
                fail(c, 0, "out of memory");
        if (c->file && ferror(c->file))
                fail(c, 0, "read error");
}

static bool failed(const parse_ctx *c)
{
        return c->err_line || c->err[0];
}

static void parse_path(parse_ctx *c, const char *path)
{
        FILE *f = fopen(path, "re");
        if (!f) {
                c->files[c->n_files++] = path;
                fail(c, 0, "cannot open: %s", strerror(errno));
                return;
        }
        c->file = f;
        parse_one(c, path);
        c->file = NULL;
        fclose(f);
}

/* the conf.d/NAME.conf files beside the main file, in name order, like systemd's
 * drop-ins: a package keeps the main file, each meter or override lives in
 * a file of its own. */
static void parse_dropins(parse_ctx *c, const char *path, glob_t *g)
{
        char *copy = strdup(path);
        if (!copy) {
                fail(c, 0, "out of memory");
                return;
        }
        char pattern[PATH_MAX];
        snprintf(pattern, sizeof(pattern), "%s/conf.d/*.conf", dirname(copy));
        free(copy);
        if (glob(pattern, 0, NULL, g) != 0)
                return; /* none */
        if (g->gl_pathc > DROPINS_MAX) {
                fail(c, 0, "more than %d files in %s", DROPINS_MAX, pattern);
                return;
        }
        for (size_t i = 0; i < g->gl_pathc && !failed(c); i++)
                parse_path(c, g->gl_pathv[i]);
}

/* After every file: the default meter when no section named one, the
 * checks across keys, the credentials; the message for the first problem. */
static int load_finish(parse_ctx *c, char *err, size_t err_size)
{
        km_config *cfg = c->cfg;
        if (!failed(c) && cfg->n_meters == 0)
                select_meter(c, "meter");
        if (!failed(c))
                check_combinations(c);
        if (!failed(c))
                load_credentials(c);
        free(c->meter_key_at);
        c->meter_key_at = NULL;
        if (!failed(c))
                return 0;
        const char *file = c->n_files > 0 ? c->files[c->err_file] : cfg->path;
        if (c->err_line > 0)
                snprintf(err, err_size, "%s:%d: %s", file, c->err_line, c->err);
        else
                snprintf(err, err_size, "%s: %s", file, c->err);
        km_config_free(cfg);
        return -EINVAL;
}

static int load_start(parse_ctx *c, km_config *ret_cfg, const char *name, char *err, size_t err_size)
{
        if (shared_defaults(c, ret_cfg) < 0 || !(ret_cfg->path = strdup(name))) {
                snprintf(err, err_size, "%s: out of memory", name);
                km_config_free(ret_cfg);
                return -ENOMEM;
        }
        return 0;
}

int km_config_load(const char *path, km_config *ret_cfg, char *err, size_t err_size)
{
        memset(ret_cfg, 0, sizeof(*ret_cfg));
        FILE *f = fopen(path, "re");
        if (!f) {
                int e = errno;
                snprintf(err, err_size, "%s: cannot open: %s", path, strerror(e));
                return -e;
        }
        fclose(f);
        parse_ctx c = {.name = path};
        int r = load_start(&c, ret_cfg, path, err, err_size);
        if (r < 0)
                return r;
        glob_t g = {0};
        parse_path(&c, path);
        if (!failed(&c))
                parse_dropins(&c, path, &g);
        r = load_finish(&c, err, err_size);
        globfree(&g);
        return r;
}

int km_config_load_string(const char *name, const char *text, km_config *ret_cfg, char *err,
                          size_t err_size)
{
        memset(ret_cfg, 0, sizeof(*ret_cfg));
        parse_ctx c = {.name = name, .text = text};
        int r = load_start(&c, ret_cfg, name, err, err_size);
        if (r < 0)
                return r;
        parse_one(&c, name);
        return load_finish(&c, err, err_size);
}

static void meter_config_free(km_meter_config *m)
{
        char **strings[] = {&m->section,    &m->serial.port,    &m->meter.name,
                            &m->meter.id,   &m->meter.key_file, &m->meter.timezone};
        explicit_bzero(&m->meter.key, sizeof(m->meter.key));
        for (size_t i = 0; i < sizeof(strings) / sizeof(strings[0]); i++) {
                free(*strings[i]);
                *strings[i] = NULL;
        }
}

void km_config_free(km_config *cfg)
{
        if (!cfg)
                return;
        for (size_t i = 0; i < cfg->n_meters; i++)
                meter_config_free(&cfg->meters[i]);
        free(cfg->meters);
        cfg->meters = NULL;
        cfg->n_meters = 0;
        char **strings[] = {
                &cfg->path,
                &cfg->mqtt.host,     &cfg->mqtt.client_id, &cfg->mqtt.username,
                &cfg->mqtt.password, &cfg->mqtt.password_file, &cfg->mqtt.cafile,
                &cfg->mqtt.certfile, &cfg->mqtt.keyfile,  &cfg->mqtt.prefix,
                &cfg->homeassistant.discovery_prefix,
                &cfg->postgresql.conninfo, &cfg->postgresql.dbname, &cfg->postgresql.user,
                &cfg->postgresql.host, &cfg->postgresql.port, &cfg->postgresql.password_file,
                &cfg->postgresql.table, &cfg->file.path, &cfg->capacity.steps_text,
        };
        for (size_t i = 0; i < sizeof(strings) / sizeof(strings[0]); i++) {
                if (*strings[i] && strings[i] == &cfg->mqtt.password)
                        explicit_bzero(*strings[i], strlen(*strings[i]));
                free(*strings[i]);
                *strings[i] = NULL;
        }
}

static const char *level_name(int level)
{
        switch (level) {
        case LOG_DEBUG: return "debug";
        case LOG_INFO: return "info";
        case LOG_NOTICE: return "notice";
        case LOG_WARNING: return "warning";
        case LOG_ERR: return "error";
        default: return "crit";
        }
}

/* "key = value", or "key =" for an unset value (no trailing blank). */
static void kv(FILE *f, const char *key, const char *value)
{
        if (value && *value)
                fprintf(f, "%s = %s\n", key, value);
        else
                fprintf(f, "%s =\n", key);
}

static void kv_int(FILE *f, const char *key, int value)
{
        fprintf(f, "%s = %d\n", key, value);
}

/* A connection string that carries a password ("password=..." or a URI
 * "postgresql://user:secret@host/db") is not printed. */
static bool conninfo_has_password(const char *ci)
{
        if (!ci)
                return false;
        if (strcasestr(ci, "password"))
                return true;
        const char *auth = strstr(ci, "://");
        if (!auth)
                return false;
        auth += 3;
        const char *at = strchr(auth, '@');
        const char *colon = strchr(auth, ':');
        return at && colon && colon < at;
}

static void dump_meter(const km_meter_config *m, FILE *f)
{
        bool plain = strcmp(m->section, "meter") == 0;
        if (plain)
                fprintf(f, "[serial]\n");
        else
                fprintf(f, "[" METER_SECTION_PREFIX "%s]\n", m->section);
        kv(f, "port", m->serial.port);
        kv_int(f, "baud", m->serial.baud);
        kv(f, "parity", m->serial.parity_auto ? "auto" : km_parity_name(m->serial.parity));
        kv_int(f, "data_bits", m->serial.data_bits);
        kv(f, "transport", m->serial.hex ? "hex" : km_transport_name(m->serial.transport));
        if (plain)
                fprintf(f, "\n[meter]\n");
        kv(f, "list", km_meter_list_name(m->meter.list));
        kv(f, "name", m->meter.name);
        kv(f, "id", m->meter.id);
        kv_int(f, "stale_after", m->meter.stale_after);
        kv_int(f, "id_wait", m->meter.id_wait);
        /* keys are never shown: only whether one is set, and where from */
        if (m->meter.key_file) {
                kv(f, "key_file", m->meter.key_file);
        } else if (m->meter.key_from_credentials) {
                fprintf(f, "# key and auth_key from the systemd credentials %s and %s\n", KM_CREDENTIAL_KEY,
                        KM_CREDENTIAL_AUTH_KEY);
        } else {
                kv(f, "key", m->meter.key.has_ek ? "********" : NULL);
                kv(f, "auth_key", m->meter.key.has_ak ? "********" : NULL);
        }
        kv(f, "timezone", m->meter.timezone);
}

void km_config_dump(const km_config *cfg, FILE *f)
{
        for (size_t i = 0; i < cfg->n_meters; i++) {
                if (i)
                        fprintf(f, "\n");
                dump_meter(&cfg->meters[i], f);
        }
        fprintf(f, "\n[capacity]\n");
        kv(f, "enabled", cfg->capacity.enabled ? "yes" : "no");
        kv(f, "steps", cfg->capacity.steps_text);
        fprintf(f, "\n[mqtt]\n");
        kv(f, "host", cfg->mqtt.host);
        if (cfg->mqtt.port)
                kv_int(f, "port", cfg->mqtt.port);
        else
                kv(f, "port", NULL);
        kv(f, "client_id", cfg->mqtt.client_id);
        kv(f, "username", cfg->mqtt.username);
        /* a password read from password_file was not written in the file */
        kv(f, "password", cfg->mqtt.password && !cfg->mqtt.password_file ? "********" : NULL);
        kv(f, "password_file", cfg->mqtt.password_file);
        kv(f, "tls", cfg->mqtt.tls < 0 ? "auto" : cfg->mqtt.tls ? "yes" : "no");
        kv(f, "cafile", cfg->mqtt.cafile);
        kv(f, "certfile", cfg->mqtt.certfile);
        kv(f, "keyfile", cfg->mqtt.keyfile);
        kv_int(f, "keepalive", cfg->mqtt.keepalive);
        kv_int(f, "qos", cfg->mqtt.qos);
        kv_int(f, "measurement_qos", cfg->mqtt.measurement_qos);
        kv(f, "prefix", cfg->mqtt.prefix);
        kv_int(f, "queue_limit", cfg->mqtt.queue_limit);
        fprintf(f, "\n[homeassistant]\n");
        kv(f, "discovery", cfg->homeassistant.discovery ? "yes" : "no");
        kv(f, "discovery_prefix", cfg->homeassistant.discovery_prefix);
        kv(f, "legacy_reactive", cfg->homeassistant.legacy_reactive ? "yes" : "no");
        if (cfg->postgresql.enabled) {
                fprintf(f, "\n[postgresql]\n");
                kv(f, "conninfo", conninfo_has_password(cfg->postgresql.conninfo) ? "********"
                                                                                  : cfg->postgresql.conninfo);
                kv(f, "dbname", cfg->postgresql.dbname);
                kv(f, "user", cfg->postgresql.user);
                kv(f, "host", cfg->postgresql.host);
                kv(f, "port", cfg->postgresql.port);
                kv(f, "password_file", cfg->postgresql.password_file);
                kv(f, "table", cfg->postgresql.table);
                kv_int(f, "queue_size", cfg->postgresql.queue_size);
        }
        if (cfg->file.enabled) {
                fprintf(f, "\n[file]\n");
                kv(f, "path", cfg->file.path);
        }
        fprintf(f, "\n[log]\n");
        kv(f, "level", level_name(cfg->log.level));
}
