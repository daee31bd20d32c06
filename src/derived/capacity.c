/*
 * Capacity tariff arithmetic (see capacity.h). Energies are Wh; an hour's
 * kWh is its mean kW, so steps in kW compare with kWh / 1 h.
 */
#include "derived/capacity.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *skip_space(const char *p)
{
        while (*p == ' ' || *p == '\t')
                p++;
        return p;
}

/* One "lo-hi" item; returns the position after it, or NULL. */
static const char *parse_step(const char *p, double *lo, double *hi)
{
        char *end;
        p = skip_space(p);
        *lo = strtod(p, &end);
        if (end == p)
                return NULL;
        p = skip_space(end);
        if (*p != '-')
                return NULL;
        p = skip_space(p + 1);
        *hi = strtod(p, &end);
        if (end == p)
                return NULL;
        return skip_space(end);
}

int km_cap_parse_steps(const char *text, km_cap_steps *ret, int *ret_bad)
{
        km_cap_steps s = {0};
        const char *p = text;
        *ret_bad = 0;
        for (;;) {
                double lo, hi;
                if (s.n == KM_CAP_MAX_STEPS) {
                        *ret_bad = (int)s.n + 1;
                        return -EINVAL;
                }
                const char *next = parse_step(p, &lo, &hi);
                bool ok = next && isfinite(lo) && isfinite(hi) && lo >= 0 && lo < hi &&
                          (s.n == 0 || lo == s.hi[s.n - 1]);
                if (!ok || (*next != ',' && *next != '\0')) {
                        *ret_bad = (int)s.n + 1;
                        return -EINVAL;
                }
                s.lo[s.n] = lo;
                s.hi[s.n] = hi;
                s.n++;
                if (*next == '\0')
                        break;
                p = next + 1;
        }
        *ret = s;
        return 0;
}

void km_cap_book(km_cap_month *m, int mday, double wh, int64_t hour_start)
{
        if (mday < 1 || mday > KM_CAP_DAYS)
                return;
        km_cap_day *d = &m->day[mday - 1];
        if (!d->has || wh > d->wh)
                *d = (km_cap_day){.has = true, .wh = wh, .hour_start = hour_start};
}

void km_cap_top3(const km_cap_month *m, int extra_mday, double extra_wh, km_cap_top *ret)
{
        km_cap_month w = *m;
        if (extra_mday > 0)
                km_cap_book(&w, extra_mday, extra_wh, 0);
        *ret = (km_cap_top){0};
        /* selection of the three largest; ties go to the earlier day */
        bool used[KM_CAP_DAYS] = {false};
        for (size_t k = 0; k < 3; k++) {
                int best = -1;
                for (int i = 0; i < KM_CAP_DAYS; i++)
                        if (w.day[i].has && !used[i] && (best < 0 || w.day[i].wh > w.day[best].wh))
                                best = i;
                if (best < 0)
                        break;
                used[best] = true;
                ret->mday[k] = best + 1;
                ret->wh[k] = w.day[best].wh;
                ret->hour_start[k] = w.day[best].hour_start;
                ret->n++;
        }
}

double km_cap_average(const km_cap_top *top)
{
        if (top->n == 0)
                return 0;
        double sum = 0;
        for (size_t i = 0; i < top->n; i++)
                sum += top->wh[i];
        return sum / (double)top->n / 1000.0;
}

int km_cap_step(const km_cap_steps *s, double avg_kw)
{
        for (size_t i = 0; i < s->n; i++)
                if (avg_kw < s->hi[i])
                        return (int)i;
        return -1;
}

const char *km_cap_step_text(const km_cap_steps *s, int i, char *buf, size_t size)
{
        if (i < 0)
                snprintf(buf, size, "above %g", s->n ? s->hi[s->n - 1] : 0.0);
        else
                snprintf(buf, size, "%g-%g", s->lo[i], s->hi[i]);
        return buf;
}

/* Wh: the other days' best hours, largest first (at most 3). */
static size_t others_top(const km_cap_month *m, int mday, double out[3])
{
        km_cap_month w = *m;
        if (mday >= 1 && mday <= KM_CAP_DAYS)
                w.day[mday - 1].has = false;
        km_cap_top t;
        km_cap_top3(&w, 0, 0, &t);
        for (size_t i = 0; i < t.n; i++)
                out[i] = t.wh[i];
        return t.n;
}

double km_cap_headroom(const km_cap_month *m, const km_cap_steps *s, int mday, double hour_wh)
{
        km_cap_top now;
        km_cap_top3(m, mday, hour_wh, &now);
        int step = km_cap_step(s, km_cap_average(&now));
        if (step < 0)
                return -1;
        double limit_kw = s->hi[step];
        double o[3];
        size_t k = others_top(m, mday, o);
        size_t n = k + 1 < 3 ? k + 1 : 3;
        /* the hour enters the mean with the n-1 best other days: the
         * largest hour that keeps the mean below the limit */
        double others = 0;
        for (size_t i = 0; i + 1 < n; i++)
                others += o[i];
        double most = (double)n * limit_kw * 1000.0 - others;
        double room = most - hour_wh;
        return room > 0 ? room : 0;
}
