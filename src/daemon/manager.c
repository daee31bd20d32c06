/*
 * The kaifa-meterd manager: one sd-event loop for the whole service (the
 * split follows systemd-timesyncd's manager and servers). It owns
 *
 *   - the configuration, read again on SIGHUP;
 *   - the meters (meter.c), one per [meter.NAME] section or the plain
 *     [serial] + [meter] pair, each with its source, decoder, keys and
 *     publisher;
 *   - the one broker connection (mqtt_link.c) all meters publish through;
 *     messages of subscribed topics go to every meter (Home Assistant's
 *     birth message; raw frames for a meter reading an mqtt:// topic);
 *   - the outputs besides MQTT, PostgreSQL and a JSON-lines file
 *     (outputs.c), which get every decoded reading;
 *   - systemd: READY=1, RELOADING=1, STOPPING=1, STATUS= (sent when it
 *     changes, at most every 5 s), and WATCHDOG=1 from the loop itself
 *     (sd_event_set_watchdog).
 *
 * Nothing ticks: every timer is a one-shot armed for a reason (a retry, a
 * stale meter, the MQTT keepalive, a STATUS= update), so a silent meter
 * costs no wake-ups but the watchdog's and the keepalive's. SIGTERM/SIGINT
 * publish "offline", disconnect, give PostgreSQL at most 500 ms to write
 * its queue and exit 0 within 1 s.
 */
#include "daemon/daemon.h"

#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>
#include <systemd/sd-daemon.h>
#include <systemd/sd-event.h>
#include <time.h>

#include "daemon/loop.h"
#include "daemon/meter.h"
#include "daemon/mqtt_link.h"
#include "daemon/outputs.h"
#include "util/log.h"

#define STOP_GRACE_USEC (700 * USEC_PER_MSEC)
/* STATUS= at most this often; a change waits for the rest of it (each
 * STATUS= is a socket, a sendmsg and a close: not one per frame) */
#define STATUS_INTERVAL_USEC (5 * USEC_PER_SEC)

typedef struct kmd {
        km_config cfg;
        const char *config_path;
        sd_event *ev;
        kmd_meter_env env; /* what every meter shares */
        kmd_meter **meters;
        size_t n_meters;
        kmd_link *link;
        kmd_outputs *out;

        sd_event_source *status_timer;
        uint64_t status_usec; /* when STATUS= was last sent */
        char last_status[512];
        bool stopping;
        sd_event_source *stop_timer;
} kmd;

static void stop_check(kmd *d);

/* ---- status --------------------------------------------------------------- */

static void status_text(kmd *d, char *buf, size_t size)
{
        kmd_meter_status sum = {0};
        bool waiting = false, closed = false, keys = false;
        size_t offline = 0;
        int64_t last = 0;
        for (size_t i = 0; i < d->n_meters; i++) {
                kmd_meter_status s;
                kmd_meter_get_status(d->meters[i], &s);
                sum.readings += s.readings;
                sum.checksum_errors += s.checksum_errors;
                sum.decrypted += s.decrypted;
                sum.auth_failed += s.auth_failed;
                sum.decrypt_failed += s.decrypt_failed;
                sum.replays += s.replays;
                sum.no_key += s.no_key;
                keys |= s.has_key || s.no_key || s.decrypt_failed || s.auth_failed;
                waiting |= s.waiting_for_id;
                closed |= !s.open;
                offline += s.stale;
                if (s.last_frame > last)
                        last = s.last_frame;
        }
        const char *state;
        km_mqtt_stats ms;
        kmd_link_status(d->link, &state, &ms);
        char since[48] = "no frame yet", sec[160] = "", meters[48] = "";
        if (last) {
                struct tm tm;
                time_t t = (time_t)last;
                localtime_r(&t, &tm);
                strftime(since, sizeof(since), "last frame at %H:%M:%S", &tm);
        }
        if (keys)
                snprintf(sec, sizeof(sec),
                         ", %" PRIu64 " decrypted, %" PRIu64 " auth failures, %" PRIu64 " decrypt failures, %" PRIu64
                         " replays, %" PRIu64 " without key",
                         sum.decrypted, sum.auth_failed, sum.decrypt_failed, sum.replays, sum.no_key);
        if (d->n_meters > 1)
                snprintf(meters, sizeof(meters), "%zu meters (%zu offline), ", d->n_meters, offline);
        else if (offline)
                snprintf(meters, sizeof(meters), "meter offline, ");
        snprintf(buf, size,
                 "%s%" PRIu64 " frames decoded, %" PRIu64 " checksum errors%s, broker %s%s, %s, %" PRIu64
                 " queued, %" PRIu64 " dropped, %" PRIu64 " waiting%s",
                 meters, sum.readings, sum.checksum_errors, sec, state, waiting ? ", waiting for a meter id" : "",
                 since, ms.queued, ms.dropped, ms.waiting, closed ? ", meter not open" : "");
        kmd_outputs_status(d->out, buf, size);
}

static void status_send(kmd *d)
{
        char status[512];
        status_text(d, status, sizeof(status));
        d->status_usec = kmd_now_usec();
        kmd_link_log_drops(d->link);

        if (strcmp(status, d->last_status) != 0) {
                sd_notifyf(0, "STATUS=%s", status);
                snprintf(d->last_status, sizeof(d->last_status), "%s", status);
        }
}

static int on_status(sd_event_source *s, uint64_t usec, void *userdata)
{
        (void)s;
        (void)usec;
        status_send(userdata);
        return 0;
}

/* Something may have changed: STATUS= now, or at the end of the interval;
 * nothing (no timer, no wake-up) when the text is the same. */
static void status_later(kmd *d)
{
        if (d->stopping || kmd_timer_pending(d->status_timer))
                return;
        char status[512];
        status_text(d, status, sizeof(status));
        if (strcmp(status, d->last_status) == 0)
                return;
        uint64_t now = kmd_now_usec();
        if (now - d->status_usec >= STATUS_INTERVAL_USEC)
                status_send(d);
        else
                kmd_timer_arm_at(d->ev, &d->status_timer, d->status_usec + STATUS_INTERVAL_USEC, on_status, d);
}

/* ---- meters and the broker -------------------------------------------------- */

static void on_meter_changed(void *userdata)
{
        kmd *d = userdata;
        kmd_link_sync(d->link);
        status_later(d);
}

static void on_link_connected(void *userdata)
{
        kmd *d = userdata;
        for (size_t i = 0; i < d->n_meters; i++)
                kmd_meter_connected(d->meters[i]);
}

static void on_link_message(void *userdata, const char *topic, const char *payload, size_t len)
{
        kmd *d = userdata;
        for (size_t i = 0; i < d->n_meters; i++)
                kmd_meter_message(d->meters[i], topic, payload, len);
}

static void on_link_idle(void *userdata)
{
        kmd *d = userdata;
        status_later(d);
        stop_check(d);
}

static int link_create(kmd *d)
{
        kmd_link_handlers h = {.connected = on_link_connected, .message = on_link_message, .idle = on_link_idle};
        int r = kmd_link_new(d->ev, &d->cfg, d->config_path, &h, d, &d->link);
        if (r < 0)
                return r;
        d->env.bridge_topic = kmd_link_bridge_topic(d->link);
        return 0;
}

static int meter_add(kmd *d, const km_meter_config *mc)
{
        kmd_meter **meters = realloc(d->meters, (d->n_meters + 1) * sizeof(*meters));
        if (!meters)
                return -ENOMEM;
        d->meters = meters;
        int r = kmd_meter_new(&d->env, mc, &d->meters[d->n_meters]);
        if (r < 0)
                return r;
        kmd_meter_set_mqtt(d->meters[d->n_meters], kmd_link_mqtt(d->link));
        d->n_meters++;
        return 0;
}

static const km_meter_config *config_meter(const km_config *cfg, const char *section)
{
        for (size_t i = 0; i < cfg->n_meters; i++)
                if (strcmp(cfg->meters[i].section, section) == 0)
                        return &cfg->meters[i];
        return NULL;
}

static void env_configure(kmd *d)
{
        d->env.cfg = &d->cfg;
        d->env.several = d->cfg.n_meters > 1;
}

/* ---- stop ------------------------------------------------------------------- */

/* Stopping ends once the broker has the goodbye and the outputs are closed
 * (the stop timer ends it anyway). */
static void stop_check(kmd *d)
{
        if (d->stopping && kmd_link_done(d->link) && kmd_outputs_stopped(d->out))
                sd_event_exit(d->ev, 0);
}

static void on_outputs_changed(void *userdata)
{
        stop_check(userdata);
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
        kmd_timer_off(d->status_timer);
        kmd_timer_arm(d->ev, &d->stop_timer, STOP_GRACE_USEC, on_stop_timeout, d);
        kmd_outputs_stop(d->out);
        for (size_t i = 0; i < d->n_meters; i++) {
                kmd_meter_stop(d->meters[i]);
                kmd_meter_offline(d->meters[i]);
        }
        kmd_link_goodbye(d->link);
        stop_check(d);
        return 0;
}

/* ---- reload ----------------------------------------------------------------- */

/* New [mqtt] or [homeassistant] settings: every meter says offline, the
 * connection closes, a new one is made and every meter gets a new
 * publisher on it. */
static int link_replace(kmd *d)
{
        km_log_info("reload: new MQTT settings; connecting again");
        for (size_t i = 0; i < d->n_meters; i++)
                kmd_meter_offline(d->meters[i]);
        kmd_link_close_now(d->link);
        for (size_t i = 0; i < d->n_meters; i++)
                kmd_meter_set_mqtt(d->meters[i], NULL);
        kmd_link_free(d->link);
        d->link = NULL;
        int r = link_create(d);
        if (r < 0)
                return r;
        for (size_t i = 0; i < d->n_meters; i++)
                kmd_meter_set_mqtt(d->meters[i], kmd_link_mqtt(d->link));
        kmd_link_start(d->link);
        return 0;
}

/* Meters by section name: gone ones say offline and are freed, kept ones
 * take their new section, new ones start. */
static int meters_apply(kmd *d, bool republish)
{
        size_t kept = 0;
        for (size_t i = 0; i < d->n_meters; i++) {
                const km_meter_config *mc = config_meter(&d->cfg, kmd_meter_section(d->meters[i]));
                if (!mc) {
                        km_log_info("reload: meter [%s] removed", kmd_meter_section(d->meters[i]));
                        kmd_meter_offline(d->meters[i]);
                        kmd_meter_free(d->meters[i]);
                        continue;
                }
                kmd_meter_reconfigure(d->meters[i], mc, republish);
                d->meters[kept++] = d->meters[i];
        }
        d->n_meters = kept;
        for (size_t i = 0; i < d->cfg.n_meters; i++) {
                bool have = false;
                for (size_t j = 0; j < d->n_meters && !have; j++)
                        have = strcmp(kmd_meter_section(d->meters[j]), d->cfg.meters[i].section) == 0;
                if (have)
                        continue;
                km_log_info("reload: meter [%s] added", d->cfg.meters[i].section);
                int r = meter_add(d, &d->cfg.meters[i]);
                if (r < 0)
                        return r;
                kmd_meter_start(d->meters[d->n_meters - 1]);
                if (km_mqtt_get_state(kmd_link_mqtt(d->link)) == KM_MQTT_CONNECTED)
                        kmd_meter_connected(d->meters[d->n_meters - 1]);
        }
        return 0;
}

static int on_reload(sd_event_source *s, const struct signalfd_siginfo *si, void *userdata)
{
        (void)s;
        (void)si;
        kmd *d = userdata;
        if (d->stopping)
                return 0;
        sd_notifyf(0, "RELOADING=1\nMONOTONIC_USEC=%" PRIu64, kmd_now_usec());
        km_config next;
        char err[KM_CONFIG_ERR_MAX];
        if (km_config_load(d->config_path, &next, err, sizeof(err)) < 0) {
                km_log_error("%s; keeping the running configuration", err);
                sd_notify(0, "READY=1");
                return 0;
        }
        km_log_set_level(next.log.level);
        bool relink = kmd_link_settings_changed(&d->cfg, &next);
        km_config old = d->cfg;
        d->cfg = next;
        env_configure(d);
        int r = relink ? link_replace(d) : 0;
        if (r >= 0)
                r = meters_apply(d, relink); /* every meter now points into the new configuration */
        km_config_free(&old);
        if (r < 0) {
                km_log_error("reload: %s", strerror(-r));
                sd_event_exit(d->ev, EX_SOFTWARE);
                return 0;
        }
        kmd_outputs_configure(d->out, &d->cfg);
        kmd_link_sync(d->link);
        km_log_info("configuration reloaded");
        sd_notify(0, "READY=1");
        return 0;
}

/* ---- setup ------------------------------------------------------------------ */

static int setup(kmd *d)
{
        /* sd_event_new, not sd_event_default: the default loop checks with
         * gettid() on every iteration that it runs in its own thread, one
         * system call per frame for nothing in a single-threaded daemon. */
        int r = sd_event_new(&d->ev);
        if (r < 0)
                return r;
        int sigs[] = {SIGTERM, SIGINT};
        for (size_t i = 0; i < 2; i++)
                if ((r = sd_event_add_signal(d->ev, NULL, sigs[i] | SD_EVENT_SIGNAL_PROCMASK, on_stop, d)) < 0)
                        return r;
        if ((r = sd_event_add_signal(d->ev, NULL, SIGHUP | SD_EVENT_SIGNAL_PROCMASK, on_reload, d)) < 0)
                return r;
        signal(SIGPIPE, SIG_IGN);
        /* WATCHDOG=1 from the loop itself, between a quarter and a half of
         * WATCHDOG_USEC: a loop stuck in a callback stops feeding it */
        if ((r = sd_event_set_watchdog(d->ev, true)) < 0)
                return r;
        d->env.ev = d->ev;
        d->env.changed = on_meter_changed;
        d->env.userdata = d;
        env_configure(d);
        if ((r = kmd_outputs_new(d->ev, on_outputs_changed, d, &d->out)) < 0)
                return r;
        d->env.out = d->out;
        if ((r = link_create(d)) < 0)
                return r;
        for (size_t i = 0; i < d->cfg.n_meters; i++)
                if ((r = meter_add(d, &d->cfg.meters[i])) < 0)
                        return r;
        return 0;
}

static void teardown(kmd *d)
{
        for (size_t i = 0; i < d->n_meters; i++)
                kmd_meter_free(d->meters[i]);
        free(d->meters);
        d->status_timer = sd_event_source_disable_unref(d->status_timer);
        d->stop_timer = sd_event_source_disable_unref(d->stop_timer);
        kmd_outputs_free(d->out);
        kmd_link_free(d->link);
        km_mqtt_lib_cleanup();
        sd_event_unref(d->ev);
        km_config_free(&d->cfg);
        free(d);
}

int km_daemon_run(km_config *cfg, const char *config_path)
{
        kmd *d = calloc(1, sizeof(*d));
        if (!d)
                return EX_OSERR;
        d->cfg = *cfg;
        memset(cfg, 0, sizeof(*cfg));
        d->config_path = config_path;

        int ret = EX_OK;
        int r = km_mqtt_lib_init();
        if (r >= 0)
                r = setup(d);
        if (r < 0) {
                km_log_error("cannot start: %s", strerror(-r));
                teardown(d);
                return EX_OSERR;
        }
        kmd_outputs_configure(d->out, &d->cfg);
        /* the broker at once: a wrong password or host shows before any frame */
        kmd_link_start(d->link);
        for (size_t i = 0; i < d->n_meters; i++)
                kmd_meter_start(d->meters[i]);
        if (d->n_meters > 1)
                km_log_info("%zu meters", d->n_meters);
        status_send(d);
        sd_notify(0, "READY=1");
        const char *state_dir = getenv("STATE_DIRECTORY");
        if (!state_dir || !*state_dir)
                km_log_notice("derived values: $STATE_DIRECTORY is not set: their state is kept in memory only "
                              "(a restart starts this hour, today and the month's capacity figures over)");
        km_log_info("running (config %s)", config_path);
        r = sd_event_loop(d->ev);
        if (r < 0) {
                km_log_error("event loop: %s", strerror(-r));
                ret = EX_SOFTWARE;
        } else {
                ret = r;
        }
        teardown(d);
        return ret;
}
