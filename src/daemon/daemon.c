/*
 * The kaifa-meterd service loop. Everything runs on one sd-event loop and
 * nothing sleeps or blocks on the network:
 *
 *   - the meter's fd (serial port, pty, TCP serial server, file or FIFO) is
 *     read when readable and fed to the decoder; a port that is missing,
 *     vanishes or fails every read is reopened from a timer with backoff
 *     (0.5 s doubling to 30 s), reset only by a good frame, so a port that
 *     opens but never works is not reopened twice a second forever;
 *   - the MQTT socket is watched the same way (libmosquitto without its
 *     thread); a lost broker is reconnected from a timer with backoff (1 s
 *     doubling to 10 s) while QoS 1 messages queue up, bounded;
 *   - a 1 s tick drives MQTT keepalive and STATUS=; sd-event itself sends
 *     WATCHDOG=1 (sd_event_set_watchdog), only while the loop dispatches;
 *   - the optional outputs, PostgreSQL and a JSON-lines file (outputs.c),
 *     get every decoded reading; the PostgreSQL socket and retry timer are
 *     sources of the same loop;
 *   - an encrypted meter's frames are opened with the [meter] keys (or the
 *     systemd credentials); a frame whose invocation counter does not grow
 *     is dropped as a replay, and a frame that cannot be opened is counted
 *     and logged at most once a minute per meter and cause;
 *   - SIGTERM/SIGINT publish "offline", disconnect, give PostgreSQL at most
 *     500 ms to write its queue and exit 0 within 1 s; SIGHUP reloads the
 *     configuration and reopens the outputs.
 */
#include "daemon/daemon.h"

#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <stdint.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/stat.h>
#include <sysexits.h>
#include <systemd/sd-daemon.h>
#include <systemd/sd-event.h>
#include <systemd/sd-login.h>
#include <time.h>
#include <unistd.h>

#include "daemon/outputs.h"
#include "daemon/publish.h"
#include "kaifa/decoder.h"
#include "sinks/homeassistant.h"
#include "security/session.h"
#include "sinks/mqtt.h"
#include "sources/source.h"
#include "util/log.h"

#define USEC_PER_SEC UINT64_C(1000000)
#define USEC_PER_MSEC UINT64_C(1000)

#define SERIAL_BACKOFF_MIN (500 * USEC_PER_MSEC)
#define SERIAL_BACKOFF_MAX (30 * USEC_PER_SEC)
#define MQTT_BACKOFF_MIN (1 * USEC_PER_SEC)
#define MQTT_BACKOFF_MAX (10 * USEC_PER_SEC)
#define TICK_USEC (1 * USEC_PER_SEC)
/* sd-event would otherwise let a timer slip by up to 250 ms */
#define TIMER_ACCURACY (1 * USEC_PER_MSEC)
#define STOP_GRACE_USEC (700 * USEC_PER_MSEC)
/* a broker that takes TCP but does not answer CONNECT is given up on */
#define CONNECT_TIMEOUT_USEC (15 * USEC_PER_SEC)
/* parity auto: give up on a parity after this many checksum failures (or
 * bytes) without one good frame */
#define PARITY_MAX_BAD 3
#define PARITY_MAX_BYTES 4096
#define SECURITY_LOG_INTERVAL (60 * USEC_PER_SEC)

typedef struct backoff {
        uint64_t cur, min, max;
} backoff;

static uint64_t backoff_next(backoff *b)
{
        uint64_t d = b->cur ? b->cur : b->min;
        b->cur = d * 2 > b->max ? b->max : d * 2;
        return d;
}

static void backoff_reset(backoff *b)
{
        b->cur = 0;
}

typedef struct kmd {
        km_config cfg;
        const char *config_path;
        sd_event *ev;

        /* the meter */
        km_source *src;
        sd_event_source *src_io;     /* readable fd (serial, pty, TCP, FIFO) */
        sd_event_source *src_pace;   /* regular file: read in slices from a timer */
        sd_event_source *src_timer;
        backoff src_backoff;     /* reset by a good frame only */
        char src_problem[160];   /* last logged open/read problem, "" = none since a good frame */
        bool src_problem_open;   /* ... and it was an open failure (the port is back when it opens) */
        bool src_announced;      /* "reading" was logged for the open port */
        km_serial_params params;
        bool parity_locked;
        uint64_t parity_good0, parity_bad0, parity_bytes0;
        unsigned parity_switches;            /* since the open, without a good frame */
        uint64_t nogood_frames0, nogood_bytes0; /* counters at the open or the last good frame */
        bool nogood_said;                    /* the "no valid frame" hint was logged */
        km_decoder *dec;
        uint64_t last_frame_usec;
        sd_event_source *stale_timer;  /* fires stale_after after the last good frame */
        bool stale;                    /* marked offline: no good frame for stale_after */
        sd_event_source *id_timer;     /* fires id_wait after the first reading without an id */
        char system_title[17];         /* of ciphered frames (hex), "" if none seen */
        km_session sec;         /* keys, replay window, counters */
        km_ratelimit sec_said;  /* "cannot decrypt ..." at most once a minute */

        /* the broker */
        km_mqtt *mqtt;
        km_publisher *pub;
        sd_event_source *mqtt_io;
        int mqtt_io_fd;
        sd_event_source *mqtt_timer;
        backoff mqtt_backoff;
        char mqtt_reason[128]; /* last logged problem, "" = none */
        uint64_t mqtt_connect_usec; /* when the pending connect started */
        char client_id[128];
        char bridge_topic[KM_TOPIC_MAX]; /* <prefix>/bridge/<client id>/status: the last will */

        /* PostgreSQL and the JSON-lines file */
        kmd_outputs *out;

        /* housekeeping */
        sd_event_source *tick;
        uint64_t tick_count, last_tick_usec;
        bool stopping;
        bool mqtt_done; /* stopping: nothing left to say to the broker */
        sd_event_source *stop_timer;
        char last_status[512];
        uint64_t drops_logged, drops_log_usec; /* dropped messages logged so far, and when */
} kmd;

static uint64_t now_usec(void)
{
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t)ts.tv_sec * USEC_PER_SEC + (uint64_t)ts.tv_nsec / 1000;
}

/* One timer source per purpose, re-armed as a one-shot. */
static int arm_timer(kmd *d, sd_event_source **s, uint64_t delay, sd_event_time_handler_t cb)
{
        if (!*s)
                return sd_event_add_time_relative(d->ev, s, CLOCK_MONOTONIC, delay, TIMER_ACCURACY, cb, d);
        int r = sd_event_source_set_time_relative(*s, delay);
        if (r >= 0)
                r = sd_event_source_set_enabled(*s, SD_EVENT_ONESHOT);
        return r;
}

static bool timer_pending(sd_event_source *s)
{
        int enabled = SD_EVENT_OFF;
        return s && sd_event_source_get_enabled(s, &enabled) >= 0 && enabled != SD_EVENT_OFF;
}

static void mqtt_sync(kmd *d);
static void stop_check(kmd *d);
static void serial_open(kmd *d);
static int on_mqtt_retry(sd_event_source *s, uint64_t usec, void *userdata);

/* ---- the meter ---------------------------------------------------------- */

static uint64_t checksum_errors(const km_stats *s)
{
        return s->rejected[-KM_ERR_HCS] + s->rejected[-KM_ERR_FCS] + s->rejected[-KM_ERR_CHECKSUM]; /* M-Bus, P1 */
}

static void parity_mark(kmd *d)
{
        d->parity_good0 = d->dec->stats.frames_good;
        d->parity_bad0 = checksum_errors(&d->dec->stats);
        d->parity_bytes0 = d->dec->stats.bytes_in;
}

/* ---- availability and identity ------------------------------------------ */

static int on_stale(sd_event_source *s, uint64_t usec, void *userdata)
{
        (void)s;
        (void)usec;
        kmd *d = userdata;
        if (d->stale || !km_publisher_meter_id(d->pub)[0])
                return 0;
        d->stale = true;
        km_log_warning("%s: no good frame for %d s; meter %s marked offline (check the cable and the meter's "
                       "HAN port)", d->cfg.serial.port, d->cfg.meter.stale_after, km_publisher_meter_id(d->pub));
        km_publisher_set_available(d->pub, false);
        mqtt_sync(d);
        return 0;
}

/* A good frame: online again if it was stale; the stale timer starts over. */
static void meter_alive(kmd *d)
{
        if (d->stale) {
                d->stale = false;
                km_log_notice("%s: frames again; meter %s online", d->cfg.serial.port, km_publisher_meter_id(d->pub));
                km_publisher_set_available(d->pub, true);
        }
        arm_timer(d, &d->stale_timer, (uint64_t)d->cfg.meter.stale_after * USEC_PER_SEC, on_stale);
}

static int on_id_wait(sd_event_source *s, uint64_t usec, void *userdata)
{
        (void)s;
        (void)usec;
        kmd *d = userdata;
        km_publisher_stop_waiting(d->pub, d->system_title);
        mqtt_sync(d);
        return 0;
}

/* The sender of ciphered frames ("KFM1020029802"), a name for a meter that
 * sends no id. */
static void note_system_title(kmd *d, const km_event *ev)
{
        if (ev->security && ev->security->mode != KM_CIPHER_NONE)
                km_system_title_text(ev->security->system_title, d->system_title);
}

/* Logs a problem of the meter's port once per kind: not again while every
 * retry fails the same way, again after a good frame or another problem. */
static void source_problem(kmd *d, bool at_open, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void source_problem(kmd *d, bool at_open, const char *fmt, ...)
{
        char text[sizeof(d->src_problem)];
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(text, sizeof(text), fmt, ap);
        va_end(ap);
        if (strcmp(text, d->src_problem) != 0)
                km_log_warning("%s: %s", d->cfg.serial.port, text);
        snprintf(d->src_problem, sizeof(d->src_problem), "%s", text);
        d->src_problem_open = at_open;
}

/* A good frame: the port works; the next failure starts the backoff anew
 * and is logged again. */
static void source_works(kmd *d)
{
        if (!d->src_problem[0])
                return;
        if (!d->src_announced)
                km_log_notice("%s: receiving frames again", d->cfg.serial.port);
        d->src_announced = true;
        d->src_problem[0] = '\0';
        backoff_reset(&d->src_backoff);
}


/* ---- encrypted meters ---------------------------------------------------- */

/* The keyring from the configuration (its keys are copied; the session
 * wipes them when cleared). The replay window survives a reload. */
static void security_configure(kmd *d)
{
        km_keyring_clear(&d->sec.keyring);
        km_keyring_init(&d->sec.keyring);
        if (d->cfg.meter.key.has_ek && km_keyring_set(&d->sec.keyring, NULL, &d->cfg.meter.key) < 0)
                km_log_error("cannot hold the key"); /* cannot happen: one entry */
        km_keyring_security(&d->sec.keyring, &d->sec.sec); /* the pilot follows the key */
}

static bool is_security_status(km_status s)
{
        return s == KM_ERR_NO_KEY || s == KM_ERR_DECRYPT || s == KM_ERR_AUTH_FAILED || s == KM_ERR_REPLAY ||
               s == KM_ERR_CIPHER_HEADER;
}

static void security_reject(kmd *d, km_status s, const km_security_info *info)
{
        uint64_t held = 0;
        if (!km_ratelimit_allow(&d->sec_said, info->system_title, s, now_usec(), &held))
                return;
        char msg[300];
        km_security_message(s, info, "[meter] key, key_file or the credential " KM_CREDENTIAL_KEY, msg, sizeof(msg));
        if (held)
                km_log_warning("%s (%" PRIu64 " more since the last message)", msg, held);
        else
                km_log_warning("%s", msg);
}

/* The event with its security details, for a ciphered APDU. */
static const km_event *security_event(kmd *d, const km_event *ev, km_event *copy, km_security_info *info)
{
        km_status st;
        if (!km_session_take(&d->sec, info, &st))
                return ev;
        if (ev->kind == KM_EVENT_REJECT && is_security_status(ev->reject))
                security_reject(d, ev->reject, info);
        if (info->mode == KM_CIPHER_NONE)
                return ev;
        *copy = *ev;
        copy->security = info;
        return copy;
}

static void handle_event(kmd *d, const km_event *event)
{
        km_event copy;
        km_security_info info;
        const km_event *ev = security_event(d, event, &copy, &info);
        if (ev->kind != KM_EVENT_READING)
                return;
        d->last_frame_usec = now_usec();
        source_works(d);
        note_system_title(d, ev);
        km_publish_result res = km_publisher_reading(d->pub, ev->reading);
        if (res == KM_PUBLISH_HELD && !timer_pending(d->id_timer))
                arm_timer(d, &d->id_timer, (uint64_t)d->cfg.meter.id_wait * USEC_PER_SEC, on_id_wait);
        if (res != KM_PUBLISH_IGNORED)
                meter_alive(d);
        /* every frame of the configured family, held for MQTT or not */
        if (res != KM_PUBLISH_IGNORED)
                kmd_outputs_reading(d->out, ev);
}

static void on_event(const km_event *ev, void *userdata)
{
        handle_event(userdata, ev);
}

static void feed(kmd *d, const uint8_t *buf, size_t n)
{
        km_decoder_feed(d->dec, buf, n, on_event, d);
}

/* A fresh decoder for the configured transport. */
static void decoder_reset(kmd *d)
{
        km_decoder_options opt = {
                .transport = d->cfg.serial.transport,
                .hex = d->cfg.serial.hex ? KM_HEX_YES : KM_HEX_AUTO,
        };
        km_session_decoder_options(&d->sec, &opt); /* the security hook */
        km_decoder_init(d->dec, &opt);
}

/* Parity auto: 8E1 first; no good frame and checksum failures (or a pile of
 * bytes) -> try the other; the first parity that yields a good frame stays. */
static void parity_check(kmd *d)
{
        if (!d->cfg.serial.parity_auto || d->parity_locked || !d->src ||
            km_source_get_kind(d->src) != KM_SOURCE_SERIAL)
                return;
        const km_stats *s = &d->dec->stats;
        if (s->frames_good > d->parity_good0) {
                d->parity_locked = true;
                km_log_info("%s: parity %s gives good frames; keeping it", d->cfg.serial.port,
                            km_parity_name(d->params.parity));
                return;
        }
        if (checksum_errors(s) - d->parity_bad0 < PARITY_MAX_BAD && s->bytes_in - d->parity_bytes0 < PARITY_MAX_BYTES)
                return;
        /* 8E1 -> 8N1 -> 7E1 (DSMR 2.2/3 P1; only when data_bits is left at 8) -> 8E1 */
        km_parity next = d->params.parity == KM_PARITY_EVEN ? KM_PARITY_NONE : KM_PARITY_EVEN;
        int bits = d->params.data_bits;
        if (d->cfg.serial.data_bits == 8 && (bits == 7 || d->params.parity == KM_PARITY_NONE)) {
                bits = bits == 7 ? 8 : 7;
                next = KM_PARITY_EVEN;
        }
        /* the first switch is news; later ones are the loop, summed up
         * once per cycle (back at 8E1) */
        int level = d->parity_switches == 0 ? LOG_INFO : LOG_DEBUG;
        if (bits != d->params.data_bits)
                km_log(level, "%s: no good frame with %d%c1; trying %dE1", d->cfg.serial.port, d->params.data_bits,
                       d->params.parity == KM_PARITY_NONE ? 'N' : 'E', bits);
        else
                km_log(level, "%s: no good frame with parity %s; trying %s", d->cfg.serial.port,
                       km_parity_name(d->params.parity), km_parity_name(next));
        d->parity_switches++;
        if (next == KM_PARITY_EVEN && bits == 8)
                km_log_warning("%s: no valid frame in %" PRIu64 " bytes at %d baud with 8E1, 8N1%s; check [serial] "
                               "baud (HAN ports send 2400, P1 115200) and the wiring; trying again",
                               d->cfg.serial.port, d->dec->stats.bytes_in - d->nogood_bytes0, d->params.baud,
                               d->cfg.serial.data_bits == 8 ? " or 7E1" : "");
        d->params.parity = next;
        d->params.data_bits = bits;
        int r = km_source_set_params(d->src, &d->params);
        if (r < 0)
                km_log_warning("%s: cannot set %d data bits, parity %s: %s", d->cfg.serial.port, bits,
                               km_parity_name(next), strerror(-r));
        parity_mark(d);
}

static char parity_letter(km_parity p)
{
        return p == KM_PARITY_EVEN ? 'E' : p == KM_PARITY_ODD ? 'O' : 'N';
}

/* A fixed setting that gives no frame at all: one line saying what to try,
 * once per open (again after a good frame). */
static void frame_hint(kmd *d)
{
        const km_stats *s = &d->dec->stats;
        if (s->frames_good > d->nogood_frames0) {
                d->nogood_frames0 = s->frames_good;
                d->nogood_bytes0 = s->bytes_in;
                d->nogood_said = false;
                return;
        }
        if (d->nogood_said || d->cfg.serial.parity_auto || !d->src || s->bytes_in - d->nogood_bytes0 < PARITY_MAX_BYTES)
                return;
        d->nogood_said = true;
        uint64_t n = s->bytes_in - d->nogood_bytes0;
        if (km_source_get_kind(d->src) != KM_SOURCE_SERIAL) {
                km_log_warning("%s: no valid frame in %" PRIu64 " bytes; is it a meter's HAN/P1 stream? "
                               "[serial] transport = auto detects HDLC, M-Bus, raw APDUs and P1",
                               d->cfg.serial.port, n);
                return;
        }
        const char *other = d->params.parity == KM_PARITY_NONE ? "even" : "none";
        km_log_warning("%s: no valid frame in %" PRIu64 " bytes at %d %d%c1: Kaifa and Aidon use 8E1, Kamstrup "
                       "8N1; try parity = %s (or auto), and check baud",
                       d->cfg.serial.port, n, d->params.baud, d->params.data_bits, parity_letter(d->params.parity),
                       other);
}

static void serial_close(kmd *d)
{
        d->src_io = sd_event_source_disable_unref(d->src_io);
        d->src_pace = sd_event_source_disable_unref(d->src_pace);
        km_source_close(d->src);
        d->src = NULL;
        /* a frame cut short by the loss is dropped; counters are kept */
        km_stats keep = d->dec->stats;
        decoder_reset(d);
        d->dec->stats = keep;
}

static int on_serial_retry(sd_event_source *s, uint64_t usec, void *userdata)
{
        (void)s;
        (void)usec;
        serial_open(userdata);
        return 0;
}

static void serial_retry_later(kmd *d)
{
        uint64_t delay = backoff_next(&d->src_backoff);
        km_log_debug("%s: next try in %" PRIu64 " ms", d->cfg.serial.port, delay / USEC_PER_MSEC);
        arm_timer(d, &d->src_timer, delay, on_serial_retry);
}

static bool is_regular_file(const char *path)
{
        struct stat st;
        return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

/* End of input (0) or a read error (negative errno). */
static void serial_lost(kmd *d, ssize_t r)
{
        km_source_kind kind = d->src ? km_source_get_kind(d->src) : KM_SOURCE_SERIAL;
        bool replay_done = kind == KM_SOURCE_FILE && is_regular_file(d->cfg.serial.port);
        const char *gone = kind == KM_SOURCE_TCP    ? "connection closed"
                           : kind == KM_SOURCE_FILE ? "end of input (FIFO writer gone)"
                                                    : "closed or unplugged";
        serial_close(d);
        if (replay_done) {
                km_log_notice("%s: end of file; waiting for SIGHUP or SIGTERM", d->cfg.serial.port);
                return;
        }
        source_problem(d, false, "%s; reopening with backoff (up to 30 s)", r == 0 ? gone : strerror((int)-r));
        serial_retry_later(d);
}

static int on_serial_io(sd_event_source *s, int fd, uint32_t revents, void *userdata)
{
        (void)s;
        (void)fd;
        kmd *d = userdata;
        uint8_t buf[4096];
        bool got = false;
        for (int i = 0; i < 16 && d->src; i++) {
                ssize_t n = km_source_read(d->src, buf, sizeof(buf));
                if (n == -EAGAIN)
                        break;
                if (n == -EINTR)
                        continue;
                if (n <= 0) {
                        serial_lost(d, n);
                        break;
                }
                got = true;
                feed(d, buf, (size_t)n);
                if ((size_t)n < sizeof(buf))
                        break;
        }
        /* a hang-up with nothing to read would wake us forever */
        if (d->src && !got && (revents & (EPOLLHUP | EPOLLERR)))
                serial_lost(d, 0);
        parity_check(d);
        frame_hint(d);
        mqtt_sync(d);
        return 0;
}

/* epoll cannot watch a regular file (it is always readable): a replayed
 * capture is read in slices of FILE_SLICE bytes every FILE_PACE_USEC, about
 * 50 kB/s, so a long capture does not arrive as one burst. */
#define FILE_SLICE 1024
#define FILE_PACE_USEC (20 * USEC_PER_MSEC)

static int on_file_pace(sd_event_source *s, uint64_t usec, void *userdata)
{
        (void)usec;
        kmd *d = userdata;
        uint8_t buf[FILE_SLICE];
        ssize_t n = km_source_read(d->src, buf, sizeof(buf));
        if (n == -EAGAIN || n == -EINTR)
                n = 1; /* try again at the next slice */
        else if (n <= 0)
                serial_lost(d, n);
        else
                feed(d, buf, (size_t)n);
        if (d->src_pace == s) {
                sd_event_source_set_time_relative(s, FILE_PACE_USEC);
                sd_event_source_set_enabled(s, SD_EVENT_ONESHOT);
        }
        mqtt_sync(d);
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

static void serial_open(kmd *d)
{
        if (d->src || d->stopping)
                return;
        km_source *src = NULL;
        int r = km_source_open(d->cfg.serial.port, &d->params, true, &src);
        if (r < 0) {
                source_problem(d, true, "cannot open: %s%s; retrying with backoff (up to 30 s)", strerror(-r),
                               open_hint(r));
                serial_retry_later(d);
                return;
        }
        r = sd_event_add_io(d->ev, &d->src_io, km_source_fd(src), EPOLLIN, on_serial_io, d);
        if (r == -EPERM) {
                d->src = src; /* a regular file */
                r = sd_event_add_time_relative(d->ev, &d->src_pace, CLOCK_MONOTONIC, 0, TIMER_ACCURACY, on_file_pace, d);
                d->src = NULL;
        }
        if (r < 0) {
                source_problem(d, true, "cannot watch: %s; retrying with backoff (up to 30 s)", strerror(-r));
                km_source_close(src);
                serial_retry_later(d);
                return;
        }
        d->src = src;
        parity_mark(d);
        d->parity_switches = 0;
        d->nogood_frames0 = d->dec->stats.frames_good;
        d->nogood_bytes0 = d->dec->stats.bytes_in;
        d->nogood_said = false;
        /* Opened after a failed read (not after a failed open): it may fail
         * the same way again; the first good frame says it is back. */
        d->src_announced = !d->src_problem[0] || d->src_problem_open;
        if (!d->src_announced)
                return;
        if (km_source_get_kind(src) == KM_SOURCE_SERIAL)
                km_log_notice("%s: reading at %d baud, parity %s%s", d->cfg.serial.port, d->params.baud,
                              km_parity_name(d->params.parity),
                              d->cfg.serial.parity_auto && !d->parity_locked ? " (auto)" : "");
        else
                km_log_notice("%s: reading", d->cfg.serial.port);
}

/* ---- the broker --------------------------------------------------------- */

static int on_mqtt_io(sd_event_source *s, int fd, uint32_t revents, void *userdata)
{
        (void)s;
        (void)fd;
        kmd *d = userdata;
        if (revents & (EPOLLHUP | EPOLLERR))
                km_mqtt_on_hangup(d->mqtt);
        else if (revents & EPOLLIN)
                km_mqtt_on_readable(d->mqtt);
        if ((revents & EPOLLOUT) && km_mqtt_fd(d->mqtt) >= 0 && km_mqtt_get_state(d->mqtt) != KM_MQTT_DISCONNECTED)
                km_mqtt_on_writable(d->mqtt);
        mqtt_sync(d);
        return 0;
}

/* Keeps the io source in step with libmosquitto's socket: dropped when the
 * socket closed (right after the call that closed it, before any other fd
 * can take its number), added for a new socket, EPOLLOUT while there is
 * something to write. */
static void mqtt_sync(kmd *d)
{
        int fd = d->mqtt ? km_mqtt_fd(d->mqtt) : -1;
        /* a socket libmosquitto keeps after a failure is closed by the next
         * connect; until then it is not watched (it would wake us forever) */
        if (d->mqtt && km_mqtt_get_state(d->mqtt) == KM_MQTT_DISCONNECTED)
                fd = -1;
        if (d->mqtt_io && (fd < 0 || fd != d->mqtt_io_fd)) {
                d->mqtt_io = sd_event_source_disable_unref(d->mqtt_io);
                d->mqtt_io_fd = -1;
        }
        if (fd >= 0 && !d->mqtt_io) {
                if (sd_event_add_io(d->ev, &d->mqtt_io, fd, EPOLLIN, on_mqtt_io, d) >= 0)
                        d->mqtt_io_fd = fd;
        }
        if (d->mqtt_io)
                sd_event_source_set_io_events(d->mqtt_io, EPOLLIN | (km_mqtt_want_write(d->mqtt) ? EPOLLOUT : 0));
        if (d->stopping && d->mqtt && km_mqtt_fd(d->mqtt) < 0)
                d->mqtt_done = true;
        stop_check(d);
}

/* Stopping ends once the broker has the goodbye and the outputs are closed
 * (the stop timer ends it anyway). */
static void stop_check(kmd *d)
{
        if (d->stopping && (d->mqtt_done || !d->mqtt) && kmd_outputs_stopped(d->out))
                sd_event_exit(d->ev, 0);
}

static void on_outputs_changed(void *userdata)
{
        stop_check(userdata);
}

/* Which key to check, from libmosquitto's phrase for a refusal. */
static const char *broker_hint(const char *reason)
{
        if (strcasestr(reason, "not authori") || strcasestr(reason, "user name or password"))
                return " (check [mqtt] username and password or password_file, and the broker's ACL)";
        if (strcasestr(reason, "identifier rejected"))
                return " (check [mqtt] client_id)";
        if (strcasestr(reason, "lookup error"))
                return " (check [mqtt] host: the name does not resolve)";
        if (strcasestr(reason, "connection refused"))
                return " (check [mqtt] host and port: is the broker running and listening there?)";
        return "";
}

static void mqtt_problem(kmd *d, const char *reason)
{
        int len = (int)strlen(reason);
        while (len > 0 && reason[len - 1] == '.')
                len--; /* libmosquitto's phrases end with a period */
        if (strcmp(d->mqtt_reason, reason) != 0)
                km_log_warning("broker %s:%d: %.*s%s; reconnecting with backoff", d->cfg.mqtt.host,
                               d->cfg.mqtt.port, len, reason, broker_hint(reason));
        snprintf(d->mqtt_reason, sizeof(d->mqtt_reason), "%s", reason);
}

static void mqtt_connect(kmd *d)
{
        if (d->stopping)
                return;
        const char *why = NULL;
        km_log_debug("broker %s:%d: connecting", d->cfg.mqtt.host, d->cfg.mqtt.port);
        d->mqtt_connect_usec = now_usec();
        int r = km_mqtt_connect(d->mqtt, &why);
        if (r < 0) {
                mqtt_problem(d, why ? why : strerror(-r));
                arm_timer(d, &d->mqtt_timer, backoff_next(&d->mqtt_backoff), on_mqtt_retry);
        }
        mqtt_sync(d);
}

static int on_mqtt_retry(sd_event_source *s, uint64_t usec, void *userdata)
{
        (void)s;
        (void)usec;
        mqtt_connect(userdata);
        return 0;
}

static void mqtt_connected(void *userdata)
{
        kmd *d = userdata;
        km_log_notice("broker %s:%d: connected%s", d->cfg.mqtt.host, d->cfg.mqtt.port,
                      d->mqtt_reason[0] ? " again" : "");
        d->mqtt_reason[0] = '\0';
        backoff_reset(&d->mqtt_backoff);
        km_mqtt_publish(d->mqtt, d->bridge_topic, "online", d->cfg.mqtt.qos ? d->cfg.mqtt.qos : 1, true, true);
        km_publisher_connected(d->pub);
}

static void mqtt_disconnected(void *userdata, const char *reason)
{
        kmd *d = userdata;
        if (d->stopping)
                return;
        mqtt_problem(d, reason);
        uint64_t delay = backoff_next(&d->mqtt_backoff);
        km_log_debug("broker %s:%d: next try in %" PRIu64 " ms", d->cfg.mqtt.host, d->cfg.mqtt.port,
                     delay / USEC_PER_MSEC);
        arm_timer(d, &d->mqtt_timer, delay, on_mqtt_retry);
}

static void mqtt_message(void *userdata, const char *topic, const char *payload, size_t len)
{
        (void)len;
        kmd *d = userdata;
        km_publisher_message(d->pub, topic, payload);
}

/* This machine, by name or literal address (no DNS lookup: it may block). */
static bool is_loopback(const char *host)
{
        struct in_addr a4;
        struct in6_addr a6;
        if (strcasecmp(host, "localhost") == 0 || strcasecmp(host, "ip6-localhost") == 0)
                return true;
        if (inet_pton(AF_INET, host, &a4) == 1)
                return (ntohl(a4.s_addr) >> 24) == 127;
        if (inet_pton(AF_INET6, host, &a6) == 1)
                return IN6_IS_ADDR_LOOPBACK(&a6) ||
                       (IN6_IS_ADDR_V4MAPPED(&a6) && a6.s6_addr[12] == 127);
        return false;
}

static int mqtt_default_port(const km_config *c)
{
        return km_config_mqtt_tls(c) ? 8883 : 1883;
}

/* The instance of a template unit this runs in ("garage" for
 * kaifa-meter@garage.service), or "" when it is not one. */
static void unit_instance(char *buf, size_t size)
{
        char *unit = NULL;
        buf[0] = '\0';
        if (sd_pid_get_unit(0, &unit) < 0 || !unit)
                return;
        const char *at = strchr(unit, '@');
        const char *dot = at ? strrchr(at, '.') : NULL;
        if (strncmp(unit, "kaifa-meter@", 12) == 0 && dot && dot > at + 1)
                snprintf(buf, size, "%.*s", (int)(dot - at - 1), at + 1);
        free(unit);
}

/* FNV-1a of the config file's absolute path: two services on one host with
 * different files get different client ids. */
static uint32_t path_hash(const char *path)
{
        char *abs = realpath(path, NULL);
        const char *p = abs ? abs : path;
        uint32_t h = 2166136261u;
        for (; *p; p++)
                h = (h ^ (uint8_t)*p) * 16777619u;
        free(abs);
        return h;
}

/* [mqtt] client_id, else kaifa-meterd-HOST with the template instance, else
 * with a hash of the config path (none for the default path, as before):
 * two services sharing a client id throw each other off the broker. */
static void default_client_id(const char *config_path, char *buf, size_t size)
{
        char host[64] = "localhost", instance[64];
        gethostname(host, sizeof(host) - 1);
        host[sizeof(host) - 1] = '\0';
        unit_instance(instance, sizeof(instance));
        if (instance[0])
                snprintf(buf, size, "kaifa-meterd-%s-%s", host, instance);
        else if (config_path && strcmp(config_path, KM_CONFIG_DEFAULT_PATH) != 0)
                snprintf(buf, size, "kaifa-meterd-%s-%08" PRIx32, host, path_hash(config_path));
        else
                snprintf(buf, size, "kaifa-meterd-%s", host);
}

static int mqtt_create(kmd *d)
{
        const km_config *c = &d->cfg;
        if (c->mqtt.client_id)
                snprintf(d->client_id, sizeof(d->client_id), "%s", c->mqtt.client_id);
        else
                default_client_id(d->config_path, d->client_id, sizeof(d->client_id));
        char level[KM_METER_ID_MAX];
        km_ha_sanitize(d->client_id, level, sizeof(level));
        snprintf(d->bridge_topic, sizeof(d->bridge_topic), "%s/bridge/%s/status", c->mqtt.prefix, level);
        if (!c->mqtt.port)
                d->cfg.mqtt.port = mqtt_default_port(c);
        bool tls = km_config_mqtt_tls(c);
        if ((c->mqtt.username || c->mqtt.password) && !tls && !is_loopback(c->mqtt.host))
                km_log_warning("broker %s:%d: the username and password go over plain MQTT, readable on the "
                               "network; set cafile or tls = yes for TLS", c->mqtt.host, c->mqtt.port);
        km_mqtt_options o = {
                .host = c->mqtt.host,
                .port = c->mqtt.port,
                .client_id = d->client_id,
                .username = c->mqtt.username,
                .password = c->mqtt.password,
                .tls = tls,
                .cafile = c->mqtt.cafile,
                .certfile = c->mqtt.certfile,
                .keyfile = c->mqtt.keyfile,
                .keepalive = c->mqtt.keepalive,
                .queue_limit = c->mqtt.queue_limit,
        };
        km_mqtt_handlers h = {.connected = mqtt_connected, .disconnected = mqtt_disconnected, .message = mqtt_message};
        /* issue 13, derived values: per meter, with the publisher */
        km_derived_options derived = {
                .timezone = c->meter.timezone,
                .capacity = c->capacity.enabled,
                .steps = &c->capacity.steps,
                .state_dir = getenv("STATE_DIRECTORY"),
        };
        km_publisher_options po = {
                .prefix = c->mqtt.prefix,
                .qos = c->mqtt.qos,
                .discovery = c->homeassistant.discovery,
                .discovery_prefix = c->homeassistant.discovery_prefix,
                .device_name = c->meter.name,
                .list = c->meter.list,
                .configured_id = c->meter.id,
                .section = "meter",
                .bridge_topic = d->bridge_topic,
                .stale_after = c->meter.stale_after,
                .derived = &derived,
        };
        int r = km_mqtt_new(&o, &h, d, &d->mqtt);
        if (r < 0) {
                km_log_error("MQTT client: %s", strerror(-r));
                return r;
        }
        r = km_publisher_new(&po, &d->pub);
        if (r < 0)
                return r;
        km_publisher_set_mqtt(d->pub, d->mqtt);
        /* the service's will: Home Assistant shows every meter unavailable
         * when this says offline (availability mode all) */
        km_mqtt_set_will(d->mqtt, d->bridge_topic, "offline", c->mqtt.qos ? c->mqtt.qos : 1, true);
        km_log_info("MQTT client id %s", d->client_id);
        d->mqtt_backoff = (backoff){0, MQTT_BACKOFF_MIN, MQTT_BACKOFF_MAX};
        d->mqtt_reason[0] = '\0';
        return 0;
}

static void bridge_offline(kmd *d)
{
        km_mqtt_publish(d->mqtt, d->bridge_topic, "offline", d->cfg.mqtt.qos ? d->cfg.mqtt.qos : 1, true, true);
}

/* How long a stop waits for the socket to take what is queued before the
 * offline messages and DISCONNECT (a burst of values may be ahead of them). */
#define STOP_FLUSH_MS 2000

/* Writes what libmosquitto holds until it is all out, the connection is gone,
 * or STOP_FLUSH_MS passed. */
static void mqtt_flush_for_stop(kmd *d)
{
        uint64_t end = now_usec() + STOP_FLUSH_MS * USEC_PER_MSEC;
        while (km_mqtt_fd(d->mqtt) >= 0 && km_mqtt_want_write(d->mqtt) && now_usec() < end) {
                struct pollfd p = {.fd = km_mqtt_fd(d->mqtt), .events = POLLOUT};
                if (poll(&p, 1, 10) < 0 && errno != EINTR)
                        break;
                if (p.revents & (POLLERR | POLLHUP | POLLNVAL))
                        break;
                if (p.revents & POLLOUT)
                        km_mqtt_on_writable(d->mqtt);
        }
}

/* Publishes offline, says DISCONNECT and pushes it out now, then frees the
 * client. */
static void mqtt_destroy(kmd *d)
{
        if (d->mqtt && km_mqtt_get_state(d->mqtt) == KM_MQTT_CONNECTED) {
                km_publisher_offline(d->pub);
                bridge_offline(d);
                km_mqtt_disconnect(d->mqtt);
                mqtt_flush_for_stop(d);
        }
        d->mqtt_io = sd_event_source_disable_unref(d->mqtt_io);
        d->mqtt_io_fd = -1;
        d->mqtt_timer = sd_event_source_disable_unref(d->mqtt_timer);
        km_publisher_free(d->pub);
        d->pub = NULL;
        km_mqtt_free(d->mqtt);
        d->mqtt = NULL;
}

/* ---- status, watchdog, signals ------------------------------------------ */

static void notify_status(kmd *d)
{
        km_mqtt_stats ms;
        km_mqtt_get_stats(d->mqtt, &ms);
        const km_stats *s = &d->dec->stats;
        char since[48], broker[64];
        if (d->last_frame_usec)
                snprintf(since, sizeof(since), "%" PRIu64 " s since last frame",
                         (now_usec() - d->last_frame_usec) / USEC_PER_SEC);
        else
                snprintf(since, sizeof(since), "no frame yet");
        if (km_publisher_waiting(d->pub))
                snprintf(broker, sizeof(broker), "broker %s, waiting for a meter id",
                         km_mqtt_state_name(km_mqtt_get_state(d->mqtt)));
        else
                snprintf(broker, sizeof(broker), "broker %s", km_mqtt_state_name(km_mqtt_get_state(d->mqtt)));
        char status[512], sec[160] = "";
        const km_session_counters *c = &d->sec.counters;
        if (!km_keyring_empty(&d->sec.keyring) || c->no_key || c->decrypt_failed || c->auth_failed)
                snprintf(sec, sizeof(sec),
                         ", %" PRIu64 " decrypted, %" PRIu64 " auth failures, %" PRIu64 " decrypt failures, %" PRIu64
                         " replays, %" PRIu64 " without key",
                         c->decrypted, c->auth_failed, c->decrypt_failed, c->replays, c->no_key);
        snprintf(status, sizeof(status),
                 "%" PRIu64 " frames decoded, %" PRIu64 " checksum errors%s, %s, %s, %" PRIu64 " queued, %" PRIu64
                 " dropped, %" PRIu64 " waiting%s",
                 s->readings, checksum_errors(s), sec, broker, since, ms.queued, ms.dropped, ms.waiting,
                 d->src ? "" : ", meter not open");
        kmd_outputs_status(d->out, status, sizeof(status));
        if (strcmp(status, d->last_status) != 0) {
                sd_notifyf(0, "STATUS=%s", status);
                snprintf(d->last_status, sizeof(d->last_status), "%s", status);
        }
}

/* Messages dropped (queue full, QoS 0 while away): one line a minute at
 * most, with the count. Retained state is never dropped (see mqtt.c). */
static void log_drops(kmd *d)
{
        km_mqtt_stats ms;
        km_mqtt_get_stats(d->mqtt, &ms);
        uint64_t now = now_usec();
        if (ms.dropped <= d->drops_logged || (d->drops_log_usec && now - d->drops_log_usec < 60 * USEC_PER_SEC))
                return;
        km_log_warning("broker %s:%d: %" PRIu64 " MQTT messages dropped (queue_limit %d reached, or QoS 0 while "
                       "disconnected); raise [mqtt] queue_limit or check the broker",
                       d->cfg.mqtt.host, d->cfg.mqtt.port, ms.dropped - d->drops_logged, d->cfg.mqtt.queue_limit);
        d->drops_logged = ms.dropped;
        d->drops_log_usec = now;
}

static int on_tick(sd_event_source *s, uint64_t usec, void *userdata)
{
        (void)usec;
        kmd *d = userdata;
        d->tick_count++;
        d->last_tick_usec = now_usec();
        if (d->mqtt && km_mqtt_fd(d->mqtt) >= 0)
                km_mqtt_tick(d->mqtt);
        if (d->mqtt && km_mqtt_get_state(d->mqtt) == KM_MQTT_CONNECTING &&
            d->last_tick_usec - d->mqtt_connect_usec > CONNECT_TIMEOUT_USEC)
                km_mqtt_abandon(d->mqtt, "no answer to CONNECT");
        mqtt_sync(d);
        if (d->mqtt) {
                log_drops(d);
                notify_status(d);
        }
        sd_event_source_set_time_relative(s, TICK_USEC);
        sd_event_source_set_enabled(s, SD_EVENT_ONESHOT);
        return 0;
}

static int on_stop_timeout(sd_event_source *s, uint64_t usec, void *userdata)
{
        (void)s;
        (void)usec;
        kmd *d = userdata;
        km_log_debug("broker did not take the goodbye in time; exiting anyway");
        sd_event_exit(d->ev, 0);
        return 0;
}

static int on_stop(sd_event_source *s, const struct signalfd_siginfo *si, void *userdata)
{
        (void)s;
        (void)si;
        kmd *d = userdata;
        if (d->stopping)
                return 0;
        d->stopping = true;
        sd_notify(0, "STOPPING=1");
        km_log_info("stopping");
        d->src_timer = sd_event_source_disable_unref(d->src_timer);
        if (d->src)
                serial_close(d);
        arm_timer(d, &d->stop_timer, STOP_GRACE_USEC, on_stop_timeout);
        kmd_outputs_stop(d->out);
        if (d->mqtt && km_mqtt_get_state(d->mqtt) == KM_MQTT_CONNECTED) {
                km_publisher_offline(d->pub);
                bridge_offline(d);
                km_mqtt_disconnect(d->mqtt);
                mqtt_sync(d);
                return 0;
        }
        d->mqtt_done = true;
        stop_check(d);
        return 0;
}

static bool str_differs(const char *a, const char *b)
{
        return (a == NULL) != (b == NULL) || (a && strcmp(a, b) != 0);
}

static bool serial_changed(const km_config *a, const km_config *b)
{
        return str_differs(a->serial.port, b->serial.port) || a->serial.baud != b->serial.baud ||
               a->serial.data_bits != b->serial.data_bits ||
               a->serial.parity_auto != b->serial.parity_auto || a->serial.parity != b->serial.parity;
}

static bool publishing_changed(const km_config *a, const km_config *b)
{
        const char *sa[] = {a->mqtt.host, a->mqtt.client_id, a->mqtt.username, a->mqtt.password, a->mqtt.cafile,
                            a->mqtt.certfile, a->mqtt.keyfile, a->mqtt.prefix, a->homeassistant.discovery_prefix,
                            a->meter.name, a->meter.id};
        const char *sb[] = {b->mqtt.host, b->mqtt.client_id, b->mqtt.username, b->mqtt.password, b->mqtt.cafile,
                            b->mqtt.certfile, b->mqtt.keyfile, b->mqtt.prefix, b->homeassistant.discovery_prefix,
                            b->meter.name, b->meter.id};
        for (size_t i = 0; i < sizeof(sa) / sizeof(sa[0]); i++)
                if (str_differs(sa[i], sb[i]))
                        return true;
        int pa = a->mqtt.port ? a->mqtt.port : mqtt_default_port(a);
        int pb = b->mqtt.port ? b->mqtt.port : mqtt_default_port(b);
        return pa != pb || km_config_mqtt_tls(a) != km_config_mqtt_tls(b) || a->mqtt.keepalive != b->mqtt.keepalive || a->mqtt.qos != b->mqtt.qos ||
               a->mqtt.queue_limit != b->mqtt.queue_limit || a->homeassistant.discovery != b->homeassistant.discovery ||
               a->meter.list != b->meter.list || a->meter.stale_after != b->meter.stale_after;
}

static int on_reload(sd_event_source *s, const struct signalfd_siginfo *si, void *userdata)
{
        (void)s;
        (void)si;
        kmd *d = userdata;
        if (d->stopping)
                return 0;
        sd_notifyf(0, "RELOADING=1\nMONOTONIC_USEC=%" PRIu64, now_usec());
        km_config next;
        char err[KM_CONFIG_ERR_MAX];
        if (km_config_load(d->config_path, &next, err, sizeof(err)) < 0) {
                km_log_error("%s; keeping the running configuration", err);
                sd_notify(0, "READY=1");
                return 0;
        }
        km_log_set_level(next.log.level);
        bool serial = serial_changed(&d->cfg, &next);
        bool publishing = publishing_changed(&d->cfg, &next);
        km_config_free(&d->cfg);
        d->cfg = next;
        security_configure(d); /* a new key takes effect with the next frame */
        if (!d->cfg.mqtt.port && d->mqtt && !publishing)
                d->cfg.mqtt.port = mqtt_default_port(&d->cfg);
        if (serial || !d->src) {
                /* also after the end of a replayed file: SIGHUP replays it again */
                km_log_info("reload: reopening %s", d->cfg.serial.port);
                if (d->src)
                        serial_close(d);
                d->params = (km_serial_params)KM_SERIAL_PARAMS_DEFAULT;
                d->params.baud = d->cfg.serial.baud;
                d->params.data_bits = d->cfg.serial.data_bits;
                d->params.parity = d->cfg.serial.parity_auto ? KM_PARITY_EVEN : d->cfg.serial.parity;
                d->parity_locked = false;
                d->src_problem[0] = '\0';
                backoff_reset(&d->src_backoff);
                serial_open(d);
        }
        if (publishing) {
                km_log_info("reload: new MQTT settings; connecting again");
                mqtt_destroy(d);
                if (mqtt_create(d) < 0) {
                        sd_event_exit(d->ev, EX_SOFTWARE);
                        return 0;
                }
                d->stale = false;
                arm_timer(d, &d->mqtt_timer, 0, on_mqtt_retry);
        }
        kmd_outputs_configure(d->out, &d->cfg);
        km_log_info("configuration reloaded");
        sd_notify(0, "READY=1");
        return 0;
}

/* ---- setup -------------------------------------------------------------- */

static int setup(kmd *d)
{
        int r = sd_event_default(&d->ev);
        if (r < 0)
                return r;
        int sigs[] = {SIGTERM, SIGINT};
        for (size_t i = 0; i < 2; i++)
                if ((r = sd_event_add_signal(d->ev, NULL, sigs[i] | SD_EVENT_SIGNAL_PROCMASK, on_stop, d)) < 0)
                        return r;
        if ((r = sd_event_add_signal(d->ev, NULL, SIGHUP | SD_EVENT_SIGNAL_PROCMASK, on_reload, d)) < 0)
                return r;
        signal(SIGPIPE, SIG_IGN);
        if ((r = sd_event_add_time_relative(d->ev, &d->tick, CLOCK_MONOTONIC, TICK_USEC, TIMER_ACCURACY, on_tick, d)) < 0)
                return r;
        d->last_tick_usec = now_usec();
        /* WATCHDOG=1 from the loop itself, between a quarter and a half of
         * WATCHDOG_USEC: a loop stuck in a callback stops feeding it */
        if ((r = sd_event_set_watchdog(d->ev, true)) < 0)
                return r;
        return 0;
}

int km_daemon_run(km_config *cfg, const char *config_path)
{
        kmd *d = calloc(1, sizeof(*d));
        if (!d)
                return EX_OSERR;
        d->dec = malloc(sizeof(*d->dec));
        if (!d->dec) {
                free(d);
                return EX_OSERR;
        }
        d->cfg = *cfg;
        memset(cfg, 0, sizeof(*cfg));
        d->config_path = config_path;
        d->mqtt_io_fd = -1;
        km_session_init(&d->sec, true);
        km_ratelimit_init(&d->sec_said, SECURITY_LOG_INTERVAL);
        security_configure(d);
        decoder_reset(d);
        d->src_backoff = (backoff){0, SERIAL_BACKOFF_MIN, SERIAL_BACKOFF_MAX};
        d->params = (km_serial_params)KM_SERIAL_PARAMS_DEFAULT;
        d->params.baud = d->cfg.serial.baud;
        d->params.data_bits = d->cfg.serial.data_bits;
        d->params.parity = d->cfg.serial.parity_auto ? KM_PARITY_EVEN : d->cfg.serial.parity;

        int ret = EX_OK;
        int r = km_mqtt_lib_init();
        if (r >= 0)
                r = setup(d);
        if (r >= 0)
                r = kmd_outputs_new(d->ev, on_outputs_changed, d, &d->out);
        if (r >= 0)
                r = mqtt_create(d);
        if (r < 0) {
                km_log_error("cannot start: %s", strerror(-r));
                ret = EX_OSERR;
                goto out;
        }
        kmd_outputs_configure(d->out, &d->cfg);
        /* the broker at once: a wrong password or host shows before any frame */
        arm_timer(d, &d->mqtt_timer, 0, on_mqtt_retry);
        serial_open(d);
        notify_status(d);
        sd_notify(0, "READY=1");
        km_log_info("running (config %s)", config_path);
        r = sd_event_loop(d->ev);
        if (r < 0) {
                km_log_error("event loop: %s", strerror(-r));
                ret = EX_SOFTWARE;
        } else {
                ret = r;
        }
out:
        if (d->src)
                serial_close(d);
        d->src_timer = sd_event_source_disable_unref(d->src_timer);
        d->mqtt_io = sd_event_source_disable_unref(d->mqtt_io);
        d->mqtt_timer = sd_event_source_disable_unref(d->mqtt_timer);
        d->tick = sd_event_source_disable_unref(d->tick);
        d->stop_timer = sd_event_source_disable_unref(d->stop_timer);
        d->stale_timer = sd_event_source_disable_unref(d->stale_timer);
        d->id_timer = sd_event_source_disable_unref(d->id_timer);
        kmd_outputs_free(d->out);
        km_publisher_free(d->pub);
        km_mqtt_free(d->mqtt);
        km_mqtt_lib_cleanup();
        sd_event_unref(d->ev);
        km_config_free(&d->cfg);
        km_session_clear(&d->sec);
        free(d->dec);
        free(d);
        return ret;
}
