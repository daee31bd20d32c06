/*
 * Hour and day bookkeeping (see energy.h). The open hour collects the
 * integral of the power; at the hour's end it waits ("pending") for the
 * register difference, which replaces the estimate when it comes. A
 * finished hour that never gets one (the meter sends no registers, or a
 * gap) is booked at its estimate when the next hour finishes.
 */
#include "derived/energy.h"

#include <string.h>

#define HOUR 3600

void km_energy_init(km_energy *e)
{
        memset(e, 0, sizeof(*e));
}

static bool in_day(const km_energy *e, int64_t t)
{
        return t >= e->day_start && t < e->day_end;
}

static bool in_month(const km_energy *e, int64_t t)
{
        return t >= e->month_start && t < e->month_end;
}

/* Day of month of a finished hour: 0 when it is not of the current month. */
static int mday_of(const km_energy *e, const km_tz *tz, int64_t hour)
{
        if (!in_month(e, hour))
                return 0;
        if (in_day(e, hour))
                return e->day_mday;
        if (e->pending && hour == e->pending_start)
                return e->pending_mday;
        int64_t s, end;
        km_wall date;
        km_tz_day(tz, hour, &s, &end, &date);
        return date.day;
}

static void book(km_energy *e, int64_t hour, int mday, const double wh[2])
{
        if (in_day(e, hour)) {
                e->day_wh[0] += wh[0];
                e->day_wh[1] += wh[1];
        }
        if (mday > 0)
                km_cap_book(&e->cap, mday, wh[0], hour);
}

static void book_pending_estimate(km_energy *e, km_energy_events *ev)
{
        if (!e->pending)
                return;
        double wh[2] = {e->pending_ws[0] / HOUR, e->pending_ws[1] / HOUR};
        book(e, e->pending_start, e->pending_mday, wh);
        e->pending = false;
        ev->estimated = true;
}

static void open_day(km_energy *e, const km_tz *tz, int64_t t, km_energy_events *ev)
{
        km_wall date;
        km_tz_day(tz, t, &e->day_start, &e->day_end, &date);
        e->day_mday = date.day;
        e->day_wh[0] = e->day_wh[1] = 0;
        ev->day_rolled = true;
        if (t >= e->month_end || t < e->month_start) {
                km_tz_month(tz, t, &e->month_start, &e->month_end);
                memset(&e->cap, 0, sizeof(e->cap));
                if (e->pending)
                        e->pending_mday = 0; /* last month's hour */
                ev->month_rolled = true;
        }
}

/* Moves the open hour to the one holding t (no-op when it does). The hour
 * that ends waits for its register; one that still waited is booked at its
 * estimate. */
static void advance(km_energy *e, const km_tz *tz, int64_t t, km_energy_events *ev)
{
        if (e->hour_start && t >= e->hour_start && t < e->hour_start + HOUR)
                return;
        int64_t hs = km_tz_hour_start(tz, t);
        if (e->hour_start && hs < e->hour_start)
                return; /* the past: the caller ignores it */
        if (e->hour_start) {
                book_pending_estimate(e, ev);
                e->pending = true;
                e->pending_start = e->hour_start;
                e->pending_mday = e->day_mday;
                e->pending_ws[0] = e->hour_ws[0];
                e->pending_ws[1] = e->hour_ws[1];
        }
        e->hour_start = hs;
        e->hour_ws[0] = e->hour_ws[1] = 0;
        ev->hour_rolled = true;
        if (hs >= e->day_end || hs < e->day_start)
                open_day(e, tz, hs, ev);
}

void km_energy_power(km_energy *e, const km_tz *tz, int64_t t, const double w[2], km_energy_events *ev)
{
        if (e->have_sample && t <= e->sample_t)
                return;
        bool join = e->have_sample && t - e->sample_t <= KM_ENERGY_MAX_GAP && e->hour_start &&
                    e->sample_t >= e->hour_start;
        if (!join) {
                advance(e, tz, t, ev);
        } else {
                int64_t t0 = e->sample_t, b = e->hour_start + HOUR;
                for (int i = 0; i < 2; i++) {
                        double p0 = e->sample_w[i], p1 = w[i];
                        if (t < b) {
                                e->hour_ws[i] += (p0 + p1) * 0.5 * (double)(t - t0);
                        } else {
                                /* the hour ends between the samples: the
                                 * straight line between them is cut there */
                                double pb = p0 + (p1 - p0) * (double)(b - t0) / (double)(t - t0);
                                e->hour_ws[i] += (p0 + pb) * 0.5 * (double)(b - t0);
                                e->sample_w[i] = pb;
                        }
                }
                if (t >= b) {
                        advance(e, tz, t, ev);
                        for (int i = 0; i < 2; i++)
                                e->hour_ws[i] += (e->sample_w[i] + w[i]) * 0.5 * (double)(t - b);
                }
        }
        e->have_sample = true;
        e->sample_t = t;
        e->sample_w[0] = w[0];
        e->sample_w[1] = w[1];
}

void km_energy_registers(km_energy *e, const km_tz *tz, int64_t t, const double wh[2], km_energy_events *ev)
{
        int64_t boundary = e->hour_start && t >= e->hour_start && t < e->hour_start + HOUR
                                   ? e->hour_start
                                   : km_tz_hour_start(tz, t);
        if (!e->hour_start || boundary > e->hour_start)
                advance(e, tz, boundary, ev);
        if (e->have_reg && boundary == e->reg_t)
                return; /* registers sent again within the hour */
        bool backwards = e->have_reg && (boundary < e->reg_t || wh[0] < e->reg_wh[0] || wh[1] < e->reg_wh[1]);
        if (e->have_reg && !backwards && boundary == e->reg_t + HOUR) {
                int64_t hour = e->reg_t;
                double diff[2] = {wh[0] - e->reg_wh[0], wh[1] - e->reg_wh[1]};
                if (e->pending && e->pending_start != hour)
                        book_pending_estimate(e, ev);
                int mday = mday_of(e, tz, hour);
                if (e->pending && e->pending_start == hour)
                        e->pending = false;
                book(e, hour, mday, diff);
                e->have_last = true;
                e->last_start = hour;
                e->last_wh[0] = diff[0];
                e->last_wh[1] = diff[1];
                ev->booked = true;
        } else if (e->pending && e->pending_start < boundary) {
                /* no register at the hour's start: its estimate stands */
                book_pending_estimate(e, ev);
        }
        ev->reg_backwards |= backwards;
        e->have_reg = true;
        e->reg_t = boundary;
        e->reg_wh[0] = wh[0];
        e->reg_wh[1] = wh[1];
}

double km_energy_this_hour(const km_energy *e, int dir)
{
        return e->hour_ws[dir] / HOUR;
}

double km_energy_today(const km_energy *e, int dir)
{
        double wh = e->day_wh[dir] + e->hour_ws[dir] / HOUR;
        if (e->pending && in_day(e, e->pending_start))
                wh += e->pending_ws[dir] / HOUR;
        return wh;
}

void km_energy_cap_view(const km_energy *e, km_cap_month *ret_month, int *ret_mday, double *ret_hour_wh)
{
        *ret_month = e->cap;
        if (e->pending && e->pending_mday > 0)
                km_cap_book(ret_month, e->pending_mday, e->pending_ws[0] / HOUR, e->pending_start);
        *ret_mday = e->day_mday;
        *ret_hour_wh = e->hour_ws[0] / HOUR;
}
