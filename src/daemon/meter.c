/*
 * One meter of kaifa-meterd (see meter.h). Its parts, in the order bytes
 * travel:
 *
 *   - the source: a port, pty, TCP serial server or FIFO is read when its fd
 *     is readable; a regular file (a replayed capture) is read in slices from
 *     a timer; an MQTT topic's messages are handed in by the manager. A port
 *     that is missing, vanishes or fails every read is reopened from a timer
 *     with backoff (0.5 s doubling to 30 s), reset only by a good frame, and
 *     each kind of failure is logged once;
 *   - parity auto (8E1, 8N1, 7E1 for DSMR 2.2/3) and a one-line hint when a
 *     fixed setting gives no valid frame;
 *   - the decoder, with the meter's keys for ciphered frames (a replay is
 *     dropped; a frame that cannot be opened is logged at most once a
 *     minute per cause);
 *   - the publisher: values, id, availability. Readings that carry no id
 *     wait at most id_wait; the meter goes offline after stale_after without
 *     a good frame. Both are one-shot timers: a silent meter costs no
 *     wake-ups.
 */
#include "daemon/meter.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/stat.h>
#include <time.h>

#include "daemon/loop.h"
#include "kaifa/hex.h"
#include "sources/parity_auto.h"
#include "sources/source.h"
#include "util/log.h"

#define SERIAL_BACKOFF_MIN (500 * USEC_PER_MSEC)
#define SERIAL_BACKOFF_MAX (30 * USEC_PER_SEC)
/* a fixed setting without one good frame in this many bytes gets a hint */
#define HINT_BYTES KM_PARITY_AUTO_MAX_BYTES
#define SECURITY_LOG_INTERVAL (60 * USEC_PER_SEC)
/* epoll cannot watch a regular file (it is always readable): a replayed
 * capture is read in slices of FILE_SLICE bytes every FILE_PACE_USEC, about
 * 50 kB/s, so a long capture does not arrive as one burst. */
#define FILE_SLICE 1024
#define FILE_PACE_USEC (20 * USEC_PER_MSEC)
/* the longest raw frame taken from an MQTT message (hex: twice this) */
#define MQTT_FRAME_MAX 8192

struct kmd_meter {
        const kmd_meter_env *env;
        const km_meter_config *mc;

        /* the source */
        km_source *src;
        sd_event_source *src_io;     /* readable fd (serial, pty, TCP, FIFO) */
        sd_event_source *src_pace;   /* regular file: read in slices from a timer */
        sd_event_source *src_timer;  /* reopen */
        kmd_backoff src_backoff;     /* reset by a good frame only */
        char src_problem[160];       /* last logged open/read problem, "" = none since a good frame */
        bool src_problem_open;       /* ... and it was an open failure (the port is back when it opens) */
        bool src_announced;          /* "reading" was logged for the open port */
        bool stopping;
        km_serial_params params;
        km_parity_auto pa;                      /* [serial] parity = auto */
        uint64_t nogood_frames0, nogood_bytes0; /* counters at the open or the last good frame */
        bool nogood_said;                       /* the "no valid frame" hint was logged */

        /* decoding */
        km_decoder *dec;
        km_session sec;        /* keys, replay window, counters */
        km_ratelimit sec_said; /* "cannot decrypt ..." at most once a minute */
        char system_title[17]; /* of ciphered frames (hex), "" if none seen */

        /* publishing */
        km_mqtt *mqtt;
        km_publisher *pub;
        int64_t last_frame;            /* realtime seconds of the last good frame */
        sd_event_source *stale_timer;  /* fires stale_after after the last good frame */
        uint64_t stale_due;            /* CLOCK_MONOTONIC usec: that moment (the timer may be armed earlier) */
        bool stale;                    /* marked offline: no good frame for stale_after */
        sd_event_source *id_timer;     /* fires id_wait after the first reading without an id */
};

static void serial_open(kmd_meter *m);

static const char *port(const kmd_meter *m)
{
        return m->mc->serial.port;
}

static void changed(kmd_meter *m)
{
        if (m->env->changed)
                m->env->changed(m->env->userdata);
}


/* ---- availability and identity ------------------------------------------ */

static int on_stale(sd_event_source *s, uint64_t usec, void *userdata)
{
        (void)s;
        (void)usec;
        kmd_meter *m = userdata;
        if (kmd_now_usec() < m->stale_due) {
                /* frames came since it was armed (kmd_timer_arm_lazy) */
                kmd_timer_arm_at(m->env->ev, &m->stale_timer, m->stale_due, on_stale, m);
                return 0;
        }
        if (m->stale || !m->pub || !km_publisher_meter_id(m->pub)[0])
                return 0;
        m->stale = true;
        km_log_warning("%s: no good frame for %d s; meter %s marked offline (check the cable and the meter's "
                       "HAN port)", port(m), m->mc->meter.stale_after, km_publisher_meter_id(m->pub));
        km_publisher_set_available(m->pub, false);
        changed(m);
        return 0;
}

/* A good frame: online again if it was stale; the stale timer starts over. */
static void meter_alive(kmd_meter *m)
{
        if (m->stale) {
                m->stale = false;
                km_log_notice("%s: frames again; meter %s online", port(m), km_publisher_meter_id(m->pub));
                km_publisher_set_available(m->pub, true);
        }
        m->stale_due = kmd_now_usec() + (uint64_t)m->mc->meter.stale_after * USEC_PER_SEC;
        kmd_timer_arm_lazy(m->env->ev, &m->stale_timer, m->stale_due, on_stale, m);
}

static int on_id_wait(sd_event_source *s, uint64_t usec, void *userdata)
{
        (void)s;
        (void)usec;
        kmd_meter *m = userdata;
        if (m->pub)
                km_publisher_stop_waiting(m->pub, m->system_title);
        changed(m);
        return 0;
}

/* The sender of ciphered frames ("KFM1020029802"), a name for a meter that
 * sends no id. */
static void note_system_title(kmd_meter *m, const km_event *ev)
{
        if (ev->security && ev->security->mode != KM_CIPHER_NONE)
                km_system_title_text(ev->security->system_title, m->system_title);
}

/* Logs a problem of the meter's port once per kind: not again while every
 * retry fails the same way, again after a good frame or another problem. */
static void source_problem(kmd_meter *m, bool at_open, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void source_problem(kmd_meter *m, bool at_open, const char *fmt, ...)
{
        char text[sizeof(m->src_problem)];
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(text, sizeof(text), fmt, ap);
        va_end(ap);
        if (strcmp(text, m->src_problem) != 0)
                km_log_warning("%s: %s", port(m), text);
        snprintf(m->src_problem, sizeof(m->src_problem), "%s", text);
        m->src_problem_open = at_open;
}

/* A good frame: the port works; the next failure starts the backoff anew
 * and is logged again. */
static void source_works(kmd_meter *m)
{
        if (!m->src_problem[0])
                return;
        if (!m->src_announced)
                km_log_notice("%s: receiving frames again", port(m));
        m->src_announced = true;
        m->src_problem[0] = '\0';
        kmd_backoff_reset(&m->src_backoff);
}

/* ---- encrypted meters ---------------------------------------------------- */

/* The keyring from the configuration (its keys are copied; the session
 * wipes them when cleared). The replay window survives a reload. */
static void security_configure(kmd_meter *m)
{
        km_keyring_clear(&m->sec.keyring);
        km_keyring_init(&m->sec.keyring);
        if (m->mc->meter.key.has_ek && km_keyring_set(&m->sec.keyring, NULL, &m->mc->meter.key) < 0)
                km_log_error("cannot hold the key"); /* cannot happen: one entry */
        km_keyring_security(&m->sec.keyring, &m->sec.sec); /* the pilot follows the key */
}

static bool is_security_status(km_status s)
{
        return s == KM_ERR_NO_KEY || s == KM_ERR_DECRYPT || s == KM_ERR_AUTH_FAILED || s == KM_ERR_REPLAY ||
               s == KM_ERR_CIPHER_HEADER;
}

static void security_reject(kmd_meter *m, km_status s, const km_security_info *info)
{
        uint64_t held = 0;
        if (!km_ratelimit_allow(&m->sec_said, info->system_title, s, kmd_now_usec(), &held))
                return;
        char msg[300];
        km_security_message(s, info, "[meter] key, key_file or the credential " KM_CREDENTIAL_KEY, msg, sizeof(msg));
        if (held)
                km_log_warning("%s (%" PRIu64 " more since the last message)", msg, held);
        else
                km_log_warning("%s", msg);
}

/* The event with its security details, for a ciphered APDU. */
static const km_event *security_event(kmd_meter *m, const km_event *ev, km_event *copy, km_security_info *info)
{
        km_status st;
        if (!km_session_take(&m->sec, info, &st))
                return ev;
        if (ev->kind == KM_EVENT_REJECT && is_security_status(ev->reject))
                security_reject(m, ev->reject, info);
        if (info->mode == KM_CIPHER_NONE)
                return ev;
        *copy = *ev;
        copy->security = info;
        return copy;
}

/* ---- decoding ------------------------------------------------------------ */

static void handle_event(kmd_meter *m, const km_event *event)
{
        km_event copy;
        km_security_info info;
        const km_event *ev = security_event(m, event, &copy, &info);
        if (ev->kind != KM_EVENT_READING)
                return;
        m->last_frame = (int64_t)time(NULL);
        source_works(m);
        note_system_title(m, ev);
        km_publish_result res = m->pub ? km_publisher_reading(m->pub, ev->reading) : KM_PUBLISH_DONE;
        if (res == KM_PUBLISH_HELD && !kmd_timer_pending(m->id_timer))
                kmd_timer_arm(m->env->ev, &m->id_timer, (uint64_t)m->mc->meter.id_wait * USEC_PER_SEC, on_id_wait, m);
        else if (res != KM_PUBLISH_HELD && m->pub && kmd_timer_pending(m->id_timer) && !km_publisher_waiting(m->pub))
                kmd_timer_off(m->id_timer); /* the id came: no wake-up for nothing */
        if (res == KM_PUBLISH_IGNORED)
                return;
        meter_alive(m);
        /* every frame of the configured family, held for MQTT or not */
        kmd_outputs_reading(m->env->out, ev);
}

static void on_event(const km_event *ev, void *userdata)
{
        handle_event(userdata, ev);
}

/* One piece of input: its frames' messages leave in one batch. */
static void feed(kmd_meter *m, const uint8_t *buf, size_t n)
{
        if (m->mqtt)
                km_mqtt_batch_begin(m->mqtt);
        km_decoder_feed(m->dec, buf, n, on_event, m);
        if (m->mqtt)
                km_mqtt_batch_end(m->mqtt);
}

/* A fresh decoder for the configured transport. */
static void decoder_reset(kmd_meter *m)
{
        km_decoder_options opt = {
                .transport = m->mc->serial.transport,
                .hex = m->mc->serial.hex ? KM_HEX_YES : KM_HEX_AUTO,
        };
        km_session_decoder_options(&m->sec, &opt); /* the security hook */
        km_decoder_init(m->dec, &opt);
}

/* Parity auto (sources/parity_auto.c): 8E1, 8N1, 7E1 (DSMR 2.2/3, when
 * data_bits is left at 8) in turn while no good frame comes; the first that
 * yields one stays. */
static void parity_check(kmd_meter *m)
{
        if (!m->mc->serial.parity_auto || !m->src || km_source_get_kind(m->src) != KM_SOURCE_SERIAL)
                return;
        km_parity_auto_step step = km_parity_auto_check(&m->pa, &m->dec->stats);
        char tried[4], next[4];
        km_serial_params_name(&m->pa.tried, tried);
        km_serial_params_name(&m->pa.params, next);
        switch (step) {
        case KM_PARITY_AUTO_WAIT:
                return;
        case KM_PARITY_AUTO_LOCKED:
                km_log_info("%s: parity %s gives good frames; keeping it (%s)", port(m),
                            km_parity_name(m->pa.params.parity), next);
                return;
        case KM_PARITY_AUTO_NEXT:
        case KM_PARITY_AUTO_CYCLE:
                break;
        }
        /* the first switch is news; later ones are the loop, summed up once
         * per cycle (back at 8E1) */
        int level = m->pa.switches == 1 ? LOG_INFO : LOG_DEBUG;
        if (m->pa.tried.data_bits != m->pa.params.data_bits)
                km_log(level, "%s: no good frame with %s; trying %s", port(m), tried, next);
        else
                km_log(level, "%s: no good frame with parity %s; trying %s", port(m),
                       km_parity_name(m->pa.tried.parity), km_parity_name(m->pa.params.parity));
        if (step == KM_PARITY_AUTO_CYCLE)
                km_log_warning("%s: no valid frame in %" PRIu64 " bytes at %d baud with 8E1, 8N1%s; check [serial] "
                               "baud (HAN ports send 2400, P1 115200) and the wiring; trying again",
                               port(m), m->pa.cycle_bytes, m->params.baud, m->pa.try_7e1 ? " or 7E1" : "");
        m->params = m->pa.params;
        int r = km_source_set_params(m->src, &m->params);
        if (r < 0)
                km_log_warning("%s: cannot set %s: %s", port(m), next, strerror(-r));
}

static char parity_letter(km_parity p)
{
        return p == KM_PARITY_EVEN ? 'E' : p == KM_PARITY_ODD ? 'O' : 'N';
}

/* A fixed setting that gives no frame at all: one line saying what to try,
 * once per open (again after a good frame). */
static void frame_hint(kmd_meter *m)
{
        const km_stats *s = &m->dec->stats;
        if (s->frames_good > m->nogood_frames0) {
                m->nogood_frames0 = s->frames_good;
                m->nogood_bytes0 = s->bytes_in;
                m->nogood_said = false;
                return;
        }
        if (m->nogood_said || s->bytes_in - m->nogood_bytes0 < HINT_BYTES)
                return;
        bool serial = m->src && km_source_get_kind(m->src) == KM_SOURCE_SERIAL;
        if (serial && m->mc->serial.parity_auto)
                return; /* parity_check() speaks for it */
        m->nogood_said = true;
        uint64_t n = s->bytes_in - m->nogood_bytes0;
        if (!serial) {
                km_log_warning("%s: no valid frame in %" PRIu64 " bytes; is it a meter's HAN/P1 stream? "
                               "[serial] transport = auto detects HDLC, M-Bus, raw APDUs and P1",
                               port(m), n);
                return;
        }
        const char *other = m->params.parity == KM_PARITY_NONE ? "even" : "none";
        km_log_warning("%s: no valid frame in %" PRIu64 " bytes at %d %d%c1: Kaifa and Aidon use 8E1, Kamstrup "
                       "8N1; try parity = %s (or auto), and check baud",
                       port(m), n, m->params.baud, m->params.data_bits, parity_letter(m->params.parity), other);
}

/* ---- the source ---------------------------------------------------------- */

static void serial_close(kmd_meter *m)
{
        m->src_io = sd_event_source_disable_unref(m->src_io);
        m->src_pace = sd_event_source_disable_unref(m->src_pace);
        km_source_close(m->src);
        m->src = NULL;
        /* a frame cut short by the loss is dropped; counters are kept */
        km_stats keep = m->dec->stats;
        decoder_reset(m);
        m->dec->stats = keep;
}

static int on_serial_retry(sd_event_source *s, uint64_t usec, void *userdata)
{
        (void)s;
        (void)usec;
        serial_open(userdata);
        return 0;
}

static void serial_retry_later(kmd_meter *m)
{
        uint64_t delay = kmd_backoff_next(&m->src_backoff);
        km_log_debug("%s: next try in %" PRIu64 " ms", port(m), delay / USEC_PER_MSEC);
        kmd_timer_arm(m->env->ev, &m->src_timer, delay, on_serial_retry, m);
}

static bool is_regular_file(const char *path)
{
        struct stat st;
        return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

/* End of input (0) or a read error (negative errno). */
static void serial_lost(kmd_meter *m, ssize_t r)
{
        km_source_kind kind = m->src ? km_source_get_kind(m->src) : KM_SOURCE_SERIAL;
        bool replay_done = kind == KM_SOURCE_FILE && is_regular_file(port(m));
        const char *gone = kind == KM_SOURCE_TCP    ? "connection closed"
                           : kind == KM_SOURCE_FILE ? "end of input (FIFO writer gone)"
                                                    : "closed or unplugged";
        serial_close(m);
        if (replay_done) {
                km_log_notice("%s: end of file; waiting for SIGHUP or SIGTERM", port(m));
                return;
        }
        source_problem(m, false, "%s; reopening with backoff (up to 30 s)", r == 0 ? gone : strerror((int)-r));
        serial_retry_later(m);
}

static int on_serial_io(sd_event_source *s, int fd, uint32_t revents, void *userdata)
{
        (void)s;
        (void)fd;
        kmd_meter *m = userdata;
        uint8_t buf[4096];
        bool got = false;
        for (int i = 0; i < 16 && m->src; i++) {
                ssize_t n = km_source_read(m->src, buf, sizeof(buf));
                if (n == -EAGAIN)
                        break;
                if (n == -EINTR)
                        continue;
                if (n <= 0) {
                        serial_lost(m, n);
                        break;
                }
                got = true;
                feed(m, buf, (size_t)n);
                if ((size_t)n < sizeof(buf))
                        break;
        }
        /* a hang-up with nothing to read would wake us forever */
        if (m->src && !got && (revents & (EPOLLHUP | EPOLLERR)))
                serial_lost(m, 0);
        parity_check(m);
        frame_hint(m);
        changed(m);
        return 0;
}

static int on_file_pace(sd_event_source *s, uint64_t usec, void *userdata)
{
        (void)usec;
        kmd_meter *m = userdata;
        uint8_t buf[FILE_SLICE];
        ssize_t n = km_source_read(m->src, buf, sizeof(buf));
        if (n == -EAGAIN || n == -EINTR)
                n = 1; /* try again at the next slice */
        else if (n <= 0)
                serial_lost(m, n);
        else
                feed(m, buf, (size_t)n);
        if (m->src_pace == s) {
                sd_event_source_set_time_relative(s, FILE_PACE_USEC);
                sd_event_source_set_enabled(s, SD_EVENT_ONESHOT);
        }
        changed(m);
        return 0;
}

/* What to do about a port that does not open. */
static const char *open_hint(int r)
{
        switch (r) {
        case -EACCES:
        case -EPERM:
                return " (the service user needs the port's group: dialout for USB adapters and UARTs, "
                       "usermod -aG dialout USER, or SupplementaryGroups=dialout in the unit)";
        case -ENOENT:
        case -ENODEV:
                return " (not plugged in? use the stable name from ls /dev/serial/by-id/)";
        case -EBUSY:
                return " (another program has it open: ModemManager, a getty, a second reader?)";
        default:
                return "";
        }
}

static void announce_open(kmd_meter *m)
{
        km_parity_auto_reopen(&m->pa, &m->dec->stats);
        m->nogood_frames0 = m->dec->stats.frames_good;
        m->nogood_bytes0 = m->dec->stats.bytes_in;
        m->nogood_said = false;
        /* Opened after a failed read (not after a failed open): it may fail
         * the same way again; the first good frame says it is back. */
        m->src_announced = !m->src_problem[0] || m->src_problem_open;
        if (!m->src_announced)
                return;
        if (km_source_get_kind(m->src) == KM_SOURCE_SERIAL)
                km_log_notice("%s: reading at %d baud, parity %s%s", port(m), m->params.baud,
                              km_parity_name(m->params.parity),
                              m->mc->serial.parity_auto && !m->pa.locked ? " (auto)" : "");
        else
                km_log_notice("%s: reading", port(m));
}

static void serial_open(kmd_meter *m)
{
        if (m->src || m->stopping || kmd_meter_topic(m))
                return;
        km_source *src = NULL;
        int r = km_source_open(port(m), &m->params, true, &src);
        if (r < 0) {
                source_problem(m, true, "cannot open: %s%s; retrying with backoff (up to 30 s)", strerror(-r),
                               open_hint(r));
                serial_retry_later(m);
                return;
        }
        r = sd_event_add_io(m->env->ev, &m->src_io, km_source_fd(src), EPOLLIN, on_serial_io, m);
        if (r == -EPERM) {
                m->src = src; /* a regular file */
                r = sd_event_add_time_relative(m->env->ev, &m->src_pace, CLOCK_MONOTONIC, 0, TIMER_ACCURACY,
                                               on_file_pace, m);
                m->src = NULL;
        }
        if (r < 0) {
                source_problem(m, true, "cannot watch: %s; retrying with backoff (up to 30 s)", strerror(-r));
                km_source_close(src);
                serial_retry_later(m);
                return;
        }
        m->src = src;
        announce_open(m);
}

static void params_from_config(kmd_meter *m)
{
        m->params = (km_serial_params)KM_SERIAL_PARAMS_DEFAULT;
        m->params.baud = m->mc->serial.baud;
        m->params.data_bits = m->mc->serial.data_bits;
        m->params.parity = m->mc->serial.parity_auto ? KM_PARITY_EVEN : m->mc->serial.parity;
        if (m->mc->serial.parity_auto) {
                km_parity_auto_init(&m->pa, &m->params, m->mc->serial.data_bits == 8, &m->dec->stats);
                m->params = m->pa.params;
        }
}

/* ---- an MQTT topic as the source ------------------------------------------ */

const char *kmd_meter_topic(const kmd_meter *m)
{
        return km_meter_config_topic(m->mc);
}

/* Hex text (a reader's raw-frame topic often carries "7ea0..."), with
 * blanks allowed between digits; anything else is the frame's bytes. */
static size_t payload_bytes(const char *payload, size_t len, uint8_t *out, size_t size)
{
        size_t n = 0, digits = 0;
        int hi = -1;
        for (size_t i = 0; i < len; i++) {
                int v = km_hex_digit((unsigned char)payload[i]);
                if (v < 0 && !strchr(" \t\r\n", payload[i]))
                        goto binary;
                if (v < 0)
                        continue;
                digits++;
                if (hi < 0) {
                        hi = v;
                        continue;
                }
                if (n < size)
                        out[n++] = (uint8_t)(hi << 4 | v);
                hi = -1;
        }
        if (digits >= 2 && hi < 0)
                return n;
binary:
        n = len < size ? len : size;
        memcpy(out, payload, n);
        return n;
}

static void mqtt_frame(kmd_meter *m, const char *payload, size_t len)
{
        _Static_assert(MQTT_FRAME_MAX <= 65536, "on the stack");
        uint8_t buf[MQTT_FRAME_MAX];
        size_t n = payload_bytes(payload, len, buf, sizeof(buf));
        if (n == 0)
                return;
        if (!m->src_announced) {
                km_log_notice("%s: receiving frames", port(m));
                m->src_announced = true;
        }
        feed(m, buf, n);
        frame_hint(m);
        changed(m);
}

/* ---- the meter ------------------------------------------------------------ */

static int publisher_create(kmd_meter *m)
{
        const km_config *c = m->env->cfg;
        const km_meter_config *mc = m->mc;
        /* issue 13, derived values: per meter, with the publisher */
        km_derived_options derived = {
                .timezone = mc->meter.timezone,
                .capacity = c->capacity.enabled,
                .steps = &c->capacity.steps,
                .state_dir = getenv("STATE_DIRECTORY"),
        };
        km_publisher_options po = {
                .prefix = c->mqtt.prefix,
                .qos = c->mqtt.qos,
                .measurement_qos = c->mqtt.measurement_qos,
                .discovery = c->homeassistant.discovery,
                .discovery_prefix = c->homeassistant.discovery_prefix,
                .legacy_reactive = c->homeassistant.legacy_reactive,
                .device_name = mc->meter.name,
                .list = mc->meter.list,
                .configured_id = mc->meter.id,
                .section = mc->section,
                .bridge_topic = m->env->bridge_topic,
                .stale_after = mc->meter.stale_after,
                .derived = &derived,
        };
        int r = km_publisher_new(&po, &m->pub);
        if (r < 0)
                return r;
        km_publisher_set_mqtt(m->pub, m->mqtt);
        m->stale = false;
        kmd_timer_off(m->id_timer);
        return 0;
}

int kmd_meter_new(const kmd_meter_env *env, const km_meter_config *mc, kmd_meter **ret)
{
        kmd_meter *m = calloc(1, sizeof(*m));
        if (!m)
                return -ENOMEM;
        m->dec = malloc(sizeof(*m->dec));
        if (!m->dec) {
                free(m);
                return -ENOMEM;
        }
        m->env = env;
        m->mc = mc;
        km_session_init(&m->sec, true);
        km_ratelimit_init(&m->sec_said, SECURITY_LOG_INTERVAL);
        security_configure(m);
        decoder_reset(m);
        m->src_backoff = (kmd_backoff){0, SERIAL_BACKOFF_MIN, SERIAL_BACKOFF_MAX};
        params_from_config(m);
        int r = publisher_create(m);
        if (r < 0) {
                kmd_meter_free(m);
                return r;
        }
        *ret = m;
        return 0;
}

void kmd_meter_start(kmd_meter *m)
{
        if (kmd_meter_topic(m))
                km_log_notice("%s: reading raw frames from the broker", port(m));
        serial_open(m);
}

void kmd_meter_stop(kmd_meter *m)
{
        m->stopping = true;
        m->src_timer = sd_event_source_disable_unref(m->src_timer);
        if (m->src)
                serial_close(m);
        kmd_timer_off(m->stale_timer);
        kmd_timer_off(m->id_timer);
}

static bool str_differs(const char *a, const char *b)
{
        return (a == NULL) != (b == NULL) || (a && strcmp(a, b) != 0);
}

static bool source_changed(const km_meter_config *a, const km_meter_config *b)
{
        return str_differs(a->serial.port, b->serial.port) || a->serial.baud != b->serial.baud ||
               a->serial.data_bits != b->serial.data_bits || a->serial.parity_auto != b->serial.parity_auto ||
               a->serial.parity != b->serial.parity || a->serial.transport != b->serial.transport ||
               a->serial.hex != b->serial.hex;
}

static bool naming_changed(const km_meter_config *a, const km_meter_config *b)
{
        return str_differs(a->meter.name, b->meter.name) || str_differs(a->meter.id, b->meter.id) ||
               a->meter.list != b->meter.list || a->meter.stale_after != b->meter.stale_after;
}

void kmd_meter_reconfigure(kmd_meter *m, const km_meter_config *mc, bool republish)
{
        bool reopen = source_changed(m->mc, mc) || (!m->src && !kmd_meter_topic(m));
        bool rename = republish || naming_changed(m->mc, mc);
        m->mc = mc;
        security_configure(m); /* a new key takes effect with the next frame */
        if (reopen) {
                /* also after the end of a replayed file: SIGHUP replays it again */
                km_log_info("reload: reopening %s", port(m));
                m->src_timer = sd_event_source_disable_unref(m->src_timer);
                if (m->src)
                        serial_close(m);
                decoder_reset(m);
                params_from_config(m);
                m->src_problem[0] = '\0';
                kmd_backoff_reset(&m->src_backoff);
                serial_open(m);
                if (kmd_meter_topic(m) && m->mqtt && km_mqtt_get_state(m->mqtt) == KM_MQTT_CONNECTED &&
                    km_mqtt_subscribe(m->mqtt, kmd_meter_topic(m), 0) < 0)
                        km_log_warning("%s: cannot subscribe", port(m));
        }
        if (rename) {
                kmd_meter_offline(m);
                km_publisher_free(m->pub);
                m->pub = NULL;
                if (publisher_create(m) < 0)
                        km_log_error("%s: out of memory; the meter is not published", port(m));
        }
}

void kmd_meter_set_mqtt(kmd_meter *m, km_mqtt *mqtt)
{
        m->mqtt = mqtt;
        if (m->pub)
                km_publisher_set_mqtt(m->pub, mqtt);
}

void kmd_meter_connected(kmd_meter *m)
{
        const char *topic = kmd_meter_topic(m);
        if (topic && m->mqtt && km_mqtt_subscribe(m->mqtt, topic, 0) < 0)
                km_log_warning("%s: cannot subscribe", port(m));
        if (m->pub)
                km_publisher_connected(m->pub);
}

void kmd_meter_message(kmd_meter *m, const char *topic, const char *payload, size_t len)
{
        const char *source = kmd_meter_topic(m);
        if (source && !m->stopping && km_mqtt_topic_matches(source, topic)) {
                mqtt_frame(m, payload, len);
                return;
        }
        if (m->pub)
                km_publisher_message(m->pub, topic, payload);
}

void kmd_meter_offline(kmd_meter *m)
{
        if (m->pub && m->mqtt && km_mqtt_get_state(m->mqtt) == KM_MQTT_CONNECTED)
                km_publisher_offline(m->pub);
}

const char *kmd_meter_section(const kmd_meter *m)
{
        return m->mc->section;
}

void kmd_meter_get_status(const kmd_meter *m, kmd_meter_status *ret)
{
        const km_stats *s = &m->dec->stats;
        const km_session_counters *c = &m->sec.counters;
        *ret = (kmd_meter_status){
                .readings = s->readings,
                .checksum_errors = km_checksum_errors(s),
                .decrypted = c->decrypted,
                .auth_failed = c->auth_failed,
                .decrypt_failed = c->decrypt_failed,
                .replays = c->replays,
                .no_key = c->no_key,
                .has_key = !km_keyring_empty(&m->sec.keyring),
                .waiting_for_id = m->pub && km_publisher_waiting(m->pub),
                .open = m->src || kmd_meter_topic(m),
                .stale = m->stale,
                .last_frame = m->last_frame,
        };
}

void kmd_meter_free(kmd_meter *m)
{
        if (!m)
                return;
        if (m->src)
                serial_close(m);
        m->src_timer = sd_event_source_disable_unref(m->src_timer);
        m->stale_timer = sd_event_source_disable_unref(m->stale_timer);
        m->id_timer = sd_event_source_disable_unref(m->id_timer);
        km_publisher_free(m->pub);
        km_session_clear(&m->sec);
        free(m->dec);
        free(m);
}
