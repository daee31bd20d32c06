/*
 * Readings in, derived payloads out (see derived.h): picks the power,
 * energy registers and clock out of each reading, places the frame in
 * time, feeds src/derived/energy.c, and decides what is due: the running
 * figures (this hour, today, the projected capacity and the headroom) at
 * most every 10 s of arrival time and whenever an hour turns or is booked,
 * the hourly figures (last hour, top three, average, step) when an hour is
 * booked or the month turns.
 */
#include "daemon/derived.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "derived/energy.h"
#include "derived/localtime.h"
#include "derived/state_file.h"
#include "util/log.h"

#define LIVE_EVERY_USEC (10ULL * 1000000ULL)
#define SAVE_EVERY_USEC (60ULL * 1000000ULL)
/* A clock this much behind the last frame is the hourly list's freeze time
 * (Kaifa sends xx:00:00 at xx:00:10), not a wrong clock. */
#define FROZEN_CLOCK_MAX 60

struct km_derived {
        km_tz tz;
        bool capacity;
        km_cap_steps steps;
        char *state_dir;
        char meter_id[80];
        char state_path[4096];

        km_energy e;
        /* the local hour of the last clock and its start: the time zone
         * is asked once an hour, not per frame (never for the autumn
         * hour that comes twice) */
        bool cache_valid;
        km_wall cache_hour;
        int64_t cache_base;
        double held_w[2]; /* the last power of each direction (Kaifa list 1 has no export) */
        bool have_t;
        int64_t last_t;
        uint64_t last_usec;

        bool live_done, hourly_done;
        uint64_t live_usec, saved_usec;
        bool dirty;

        bool said_no_clock, said_bad_clock, said_save_failed, said_backwards;
        char attr_last[2][KM_DERIVED_ATTR_MAX];
        char attr_top3[KM_DERIVED_ATTR_MAX];
};

int km_derived_new(const km_derived_options *opt, km_derived **ret)
{
        km_derived *d = calloc(1, sizeof(*d));
        if (!d)
                return -ENOMEM;
        int r = km_tz_init(&d->tz, opt->timezone);
        if (r < 0) {
                free(d);
                return r;
        }
        d->capacity = opt->capacity;
        if (opt->steps)
                d->steps = *opt->steps;
        else
                km_cap_parse_steps(KM_CAP_STEPS_DEFAULT, &d->steps, &(int){0});
        if (opt->state_dir && *opt->state_dir) {
                /* StateDirectory= with several names lists them all, ':' between */
                d->state_dir = strndup(opt->state_dir, strcspn(opt->state_dir, ":"));
                if (!d->state_dir) {
                        free(d);
                        return -ENOMEM;
                }
        } /* else in memory only: the manager says so once, not once per meter */
        km_energy_init(&d->e);
        *ret = d;
        return 0;
}

static void save(km_derived *d, uint64_t now_usec)
{
        if (!d->state_path[0] || !d->dirty)
                return;
        int r = km_state_save(d->state_path, &d->e, d->tz.name);
        d->saved_usec = now_usec;
        if (r < 0) {
                if (!d->said_save_failed)
                        km_log_warning("meter %s: derived values: cannot write %s: %s (will try again; said once)",
                                       d->meter_id, d->state_path, strerror(-r));
                d->said_save_failed = true;
                return;
        }
        d->said_save_failed = false;
        d->dirty = false;
}

void km_derived_free(km_derived *d)
{
        if (!d)
                return;
        save(d, 0);
        free(d->state_dir);
        free(d);
}

/* The meter named itself: its state, from the file when there is one. */
static void open_meter(km_derived *d, const char *meter_id, uint64_t now_usec)
{
        if (d->meter_id[0])
                save(d, now_usec);
        snprintf(d->meter_id, sizeof(d->meter_id), "%s", meter_id);
        km_energy_init(&d->e);
        d->have_t = false;
        d->live_done = d->hourly_done = false;
        d->saved_usec = now_usec;
        if (!d->state_dir)
                return;
        snprintf(d->state_path, sizeof(d->state_path), "%s/%s.derived", d->state_dir, meter_id);
        km_energy e;
        int r = km_state_load(d->state_path, d->tz.name, &e);
        if (r == 0) {
                d->e = e;
                /* the last sample's time tells the repeated autumn hour apart
                 * and the hourly list's frozen clock from a wrong one */
                if (e.have_sample) {
                        d->have_t = true;
                        d->last_t = e.sample_t;
                        d->last_usec = now_usec;
                        d->held_w[0] = e.sample_w[0];
                        d->held_w[1] = e.sample_w[1];
                }
                km_log_info("meter %s: derived values: state read from %s", meter_id, d->state_path);
        } else if (r == -ENOENT) {
                km_log_info("meter %s: derived values: no state in %s yet: starting from the next frames", meter_id,
                            d->state_path);
        } else {
                km_log_warning("meter %s: derived values: state file %s %s: starting over from the next frames",
                               meter_id, d->state_path, km_state_strerror(r));
        }
}

/* ---- what the reading holds -------------------------------------------- */

static bool obis_is(const km_value *v, int c, int dd, int e)
{
        return v->obis[0] == 1 && v->obis[2] == c && v->obis[3] == dd && v->obis[4] == e;
}

static bool numeric(const km_value *v)
{
        return v->kind == KM_VALUE_NUMBER || v->kind == KM_VALUE_FLOAT;
}

static double in_watts(const km_value *v)
{
        double x = km_value_number(v);
        return v->unit == KM_UNIT_KW ? x * 1000 : x;
}

static double in_wh(const km_value *v)
{
        double x = km_value_number(v);
        return v->unit == KM_UNIT_KWH ? x * 1000 : x;
}

typedef struct frame_values {
        bool has_power, has_registers;
        bool has_w[2];
        double w[2], wh[2];
} frame_values;

/* Active power import/export (1-0:1.7.0, 2.7.0) and the registers (1.8.0,
 * 2.8.0; P1's tariff registers 1.8.1 + 1.8.2 where there is no total). */
static void pick_values(const km_reading *r, frame_values *f)
{
        bool total[2] = {false, false}, tariff[2] = {false, false};
        double tariffs[2] = {0, 0};
        *f = (frame_values){0};
        for (size_t i = 0; i < r->n_values; i++) {
                const km_value *v = &r->values[i];
                if (!numeric(v) || v->log_entry)
                        continue;
                for (int dir = 0; dir < 2; dir++) {
                        int c = dir + 1;
                        if (obis_is(v, c, 7, 0) && (v->unit == KM_UNIT_W || v->unit == KM_UNIT_KW)) {
                                f->w[dir] = in_watts(v);
                                f->has_w[dir] = f->has_power = true;
                        } else if (obis_is(v, c, 8, 0) && (v->unit == KM_UNIT_WH || v->unit == KM_UNIT_KWH)) {
                                f->wh[dir] = in_wh(v);
                                total[dir] = true;
                        } else if ((obis_is(v, c, 8, 1) || obis_is(v, c, 8, 2)) &&
                                   (v->unit == KM_UNIT_WH || v->unit == KM_UNIT_KWH)) {
                                tariffs[dir] += in_wh(v);
                                tariff[dir] = true;
                        }
                }
        }
        for (int dir = 0; dir < 2; dir++)
                if (!total[dir] && tariff[dir])
                        f->wh[dir] = tariffs[dir];
        f->has_registers = total[0] || tariff[0];
}

/* The notification's clock, else the meter's clock value (0-0:1.0.0). */
static bool reading_clock(const km_reading *r, km_wall *w)
{
        const km_datetime *dt = r->has_clock ? &r->clock : NULL;
        for (size_t i = 0; !dt && i < r->n_values; i++) {
                const km_value *v = &r->values[i];
                if (v->kind == KM_VALUE_DATETIME && v->obis[0] == 0 && v->obis[2] == 1 && v->obis[3] == 0 &&
                    v->obis[4] == 0)
                        dt = &v->datetime;
        }
        if (!dt || dt->year == 0xFFFF || dt->month == 0xFF || dt->day == 0xFF || dt->hour == 0xFF)
                return false;
        *w = (km_wall){dt->year, dt->month, dt->day, dt->hour, dt->minute == 0xFF ? 0 : dt->minute,
                       dt->second == 0xFF ? 0 : dt->second};
        return true;
}

/* Receive time from the last frame on (the meter's own timeline), or the
 * system clock for the first. */
static int64_t receive_time(const km_derived *d, uint64_t now_usec)
{
        if (!d->have_t)
                return (int64_t)time(NULL);
        return d->last_t + (int64_t)((now_usec - d->last_usec + 500000) / 1000000);
}

static bool same_hour(const km_wall *a, const km_wall *b)
{
        return a->year == b->year && a->month == b->month && a->day == b->day && a->hour == b->hour;
}

/* The instant of the meter's wall clock, through the cache. */
static int clock_instant(km_derived *d, const km_wall *w, int64_t hint, int64_t *ret)
{
        int into = w->minute * 60 + w->second;
        if (d->cache_valid && same_hour(&d->cache_hour, w)) {
                *ret = d->cache_base + into;
                return 0;
        }
        int r = km_tz_from_wall(&d->tz, w, hint, ret);
        if (r < 0)
                return r;
        /* a wall time the zone shows twice gets no cache entry */
        int64_t early, late;
        km_tz_from_wall(&d->tz, w, INT64_MIN / 4, &early);
        km_tz_from_wall(&d->tz, w, INT64_MAX / 4, &late);
        d->cache_valid = early == late;
        d->cache_hour = *w;
        d->cache_base = *ret - into;
        return 0;
}

/* Places the frame: *ret_t its time (for the power), *ret_reg_t the time
 * its registers belong to; *ret_power false when its power is not a new
 * sample (the hourly list's frozen clock). */
static void place_frame(km_derived *d, const km_reading *r, uint64_t now_usec, int64_t *ret_t, int64_t *ret_reg_t,
                        bool *ret_power)
{
        km_wall w;
        int64_t recv = receive_time(d, now_usec), ct;
        *ret_power = true;
        if (!reading_clock(r, &w) || clock_instant(d, &w, recv, &ct) < 0) {
                if (!d->said_no_clock)
                        km_log_notice("meter %s: derived values: frames without a usable clock: placing them by "
                                      "receive time (said once)",
                                      d->meter_id);
                d->said_no_clock = true;
                *ret_t = *ret_reg_t = recv;
                return;
        }
        *ret_reg_t = ct;
        if (!d->have_t || ct >= d->last_t) {
                *ret_t = ct;
        } else if (ct >= d->last_t - FROZEN_CLOCK_MAX) {
                *ret_t = d->last_t;
                *ret_power = false;
        } else {
                if (!d->said_bad_clock)
                        km_log_notice("meter %s: derived values: its clock went back %lld s: placing frames by "
                                      "receive time while it is behind (said once)",
                                      d->meter_id, (long long)(d->last_t - ct));
                d->said_bad_clock = true;
                *ret_t = *ret_reg_t = recv;
        }
}

/* ---- payloads ----------------------------------------------------------- */

static km_derived_out *add(km_derived_out *out, size_t *n, const char *key, double value, const char *unit,
                           const char *device_class, const char *state_class)
{
        km_derived_out *o = &out[(*n)++];
        *o = (km_derived_out){.key = key, .unit = unit, .device_class = device_class, .state_class = state_class};
        snprintf(o->payload, sizeof(o->payload), "%.3f", value);
        return o;
}

static void add_live(km_derived *d, km_derived_out *out, size_t *n)
{
        const km_energy *e = &d->e;
        add(out, n, "energy_import_this_hour", km_energy_this_hour(e, 0) / 1000, "kWh", "energy", "total_increasing");
        add(out, n, "energy_export_this_hour", km_energy_this_hour(e, 1) / 1000, "kWh", "energy", "total_increasing");
        add(out, n, "energy_import_today", km_energy_today(e, 0) / 1000, "kWh", "energy", "total_increasing");
        add(out, n, "energy_export_today", km_energy_today(e, 1) / 1000, "kWh", "energy", "total_increasing");
        if (!d->capacity)
                return;
        km_cap_month view;
        int mday;
        double hour_wh;
        km_cap_top top;
        km_energy_cap_view(e, &view, &mday, &hour_wh);
        km_cap_top3(&view, mday, hour_wh, &top);
        add(out, n, "capacity_average_projected", km_cap_average(&top), "kW", "power", "measurement");
        double room = km_cap_headroom(&view, &d->steps, mday, hour_wh);
        if (room >= 0)
                /* an energy budget left, as Home Assistant's energy_storage is */
                add(out, n, "capacity_headroom", room / 1000, "kWh", "energy_storage", "measurement");
}

static void hour_attributes(const km_derived *d, int64_t start, char *buf, size_t size)
{
        char a[KM_ISO_MAX], b[KM_ISO_MAX];
        snprintf(buf, size, "{\"start\":\"%s\",\"end\":\"%s\"}", km_tz_iso8601(&d->tz, start, a, sizeof(a)),
                 km_tz_iso8601(&d->tz, start + 3600, b, sizeof(b)));
}

static void top3_attributes(const km_derived *d, const km_cap_top *top, char *buf, size_t size)
{
        size_t len = (size_t)snprintf(buf, size, "{\"hours\":[");
        for (size_t i = 0; i < top->n && len < size; i++) {
                char a[KM_ISO_MAX], b[KM_ISO_MAX];
                int64_t s = top->hour_start[i];
                len += (size_t)snprintf(buf + len, size - len,
                                        "%s{\"day\":\"%.10s\",\"start\":\"%s\",\"end\":\"%s\",\"kwh\":%.3f}",
                                        i ? "," : "", km_tz_iso8601(&d->tz, s, a, sizeof(a)), a,
                                        km_tz_iso8601(&d->tz, s + 3600, b, sizeof(b)), top->wh[i] / 1000);
        }
        if (len < size)
                snprintf(buf + len, size - len, "]}");
}

static void add_hourly(km_derived *d, km_derived_out *out, size_t *n)
{
        const km_energy *e = &d->e;
        if (e->have_last) {
                static const char *const keys[2] = {"energy_import_last_hour", "energy_export_last_hour"};
                for (int dir = 0; dir < 2; dir++) {
                        hour_attributes(d, e->last_start, d->attr_last[dir], sizeof(d->attr_last[dir]));
                        km_derived_out *o = add(out, n, keys[dir], e->last_wh[dir] / 1000, "kWh", "energy", "total");
                        o->attributes = d->attr_last[dir];
                        o->hourly_cycle = true;
                }
        }
        if (!d->capacity || !e->hour_start)
                return;
        km_cap_top top;
        km_cap_top3(&e->cap, 0, 0, &top);
        top3_attributes(d, &top, d->attr_top3, sizeof(d->attr_top3));
        /* the state: the lowest of the three (its kWh in one hour: kW), the hour to beat */
        add(out, n, "capacity_top3", top.n ? top.wh[top.n - 1] / 1000 : 0, "kW", "power", "measurement")->attributes =
                d->attr_top3;
        double avg = km_cap_average(&top);
        add(out, n, "capacity_average", avg, "kW", "power", "measurement");
        km_derived_out *step = &out[(*n)++];
        *step = (km_derived_out){.key = "capacity_step"};
        km_cap_step_text(&d->steps, km_cap_step(&d->steps, avg), step->payload, sizeof(step->payload));
}

size_t km_derived_reading(km_derived *d, const char *meter_id, const km_reading *r, uint64_t now_usec,
                          km_derived_out out[KM_DERIVED_MAX_OUT])
{
        if (strcmp(meter_id, d->meter_id) != 0)
                open_meter(d, meter_id, now_usec);
        frame_values f;
        pick_values(r, &f);
        if (!f.has_power && !f.has_registers)
                return 0;
        int64_t t, reg_t;
        bool power;
        place_frame(d, r, now_usec, &t, &reg_t, &power);
        /* a frame without one direction's power (Kaifa and Aidon list 1:
         * import only) keeps that direction's last value */
        for (int dir = 0; dir < 2; dir++) {
                if (f.has_w[dir])
                        d->held_w[dir] = f.w[dir];
                f.w[dir] = d->held_w[dir];
        }
        km_energy_events ev = {0};
        if (f.has_power && power)
                km_energy_power(&d->e, &d->tz, t, f.w, &ev);
        if (f.has_registers)
                km_energy_registers(&d->e, &d->tz, reg_t, f.wh, &ev);
        if (ev.reg_backwards && !d->said_backwards)
                km_log_notice("meter %s: derived values: its energy registers went back: counting from the "
                              "new values (said once)",
                              d->meter_id);
        d->said_backwards |= ev.reg_backwards;
        d->have_t = true;
        d->last_t = t;
        d->last_usec = now_usec;
        d->dirty = true;

        size_t n = 0;
        bool turned = ev.hour_rolled || ev.booked || ev.estimated;
        if (!d->live_done || turned || now_usec - d->live_usec >= LIVE_EVERY_USEC) {
                add_live(d, out, &n);
                d->live_done = true;
                d->live_usec = now_usec;
        }
        if (!d->hourly_done || ev.booked || ev.estimated || ev.month_rolled) {
                add_hourly(d, out, &n);
                d->hourly_done = true;
        }
        if (d->state_path[0] && now_usec - d->saved_usec >= SAVE_EVERY_USEC)
                save(d, now_usec);
        return n;
}

const char *km_derived_attributes(const km_derived *d, const char *key)
{
        if (strcmp(key, "energy_import_last_hour") == 0)
                return d->attr_last[0][0] ? d->attr_last[0] : NULL;
        if (strcmp(key, "energy_export_last_hour") == 0)
                return d->attr_last[1][0] ? d->attr_last[1] : NULL;
        if (strcmp(key, "capacity_top3") == 0)
                return d->attr_top3[0] ? d->attr_top3 : NULL;
        return NULL;
}
