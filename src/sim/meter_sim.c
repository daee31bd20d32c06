/*
 * The simulated Kaifa meter: slot timetable, load model and energy
 * registers (see meter_sim.h). All randomness comes from one splitmix64
 * stream seeded by the caller, so runs are reproducible.
 */
#include "sim/meter_sim.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define SLOT_SECONDS 2
#define HOUR 3600
#define DEFAULT_METER_ID "7359992890941742"

static uint64_t next_u64(km_sim *s)
{
        uint64_t z = (s->rng += 0x9E3779B97F4A7C15ULL);
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
        return z ^ (z >> 31);
}

/* Uniform in [0, 1). */
static double uniform(km_sim *s)
{
        return (double)(next_u64(s) >> 11) / 9007199254740992.0;
}

/* Roughly normal, mean 0, standard deviation 1 (Irwin-Hall of 12). */
static double noise(km_sim *s)
{
        double sum = 0;
        for (int i = 0; i < 12; i++)
                sum += uniform(s);
        return sum - 6.0;
}

static double clamp(double v, double lo, double hi)
{
        return v < lo ? lo : v > hi ? hi : v;
}

static uint32_t to_u32(double v)
{
        v = clamp(v + 0.5, 0, 4294967295.0);
        return (uint32_t)v;
}

static int64_t floor_div(int64_t a, int64_t b)
{
        int64_t q = a / b;
        return (a % b != 0 && (a < 0) != (b < 0)) ? q - 1 : q;
}

static void freeze(km_sim *s, int64_t at)
{
        for (int i = 0; i < 4; i++)
                s->frozen[i] = to_u32(s->energy[i]);
        s->frozen_at = at;
}

void km_sim_init(km_sim *s, const km_sim_options *opt)
{
        memset(s, 0, sizeof *s);
        s->opt = *opt;
        if (s->opt.phases != 1)
                s->opt.phases = 3;
        if (!s->opt.meter_id)
                s->opt.meter_id = DEFAULT_METER_ID;
        if (!s->opt.meter_type)
                s->opt.meter_type = s->opt.phases == 3 ? "MA304H3E" : "MA105H2E";
        s->rng = opt->seed;
        s->t = floor_div(opt->start + 1, SLOT_SECONDS) * SLOT_SECONDS;

        s->load_w = 400 + 1600 * uniform(s);
        s->target_w = s->load_w;
        double sum = 0;
        for (int i = 0; i < 3; i++) {
                s->share[i] = 0.8 + 0.4 * uniform(s);
                sum += s->share[i];
                s->volt[i] = 228 + 4 * uniform(s);
        }
        for (int i = 0; i < 3; i++)
                s->share[i] /= sum;
        if (s->opt.phases == 1)
                s->share[0] = 1.0;
        s->energy[0] = 5e6 + 45e6 * uniform(s);
        s->energy[1] = 1000 * uniform(s);
        s->energy[2] = s->energy[0] * (0.1 + 0.1 * uniform(s));
        s->energy[3] = 2e5 * uniform(s);
        freeze(s, floor_div(s->t, HOUR) * HOUR);
}

/* Moves the load model on by one slot. */
static void step_load(km_sim *s)
{
        if (uniform(s) < 0.01) /* an appliance switches: a new level to drift to */
                s->target_w = 200 + 7000 * uniform(s) * uniform(s);
        s->load_w += 0.15 * (s->target_w - s->load_w) + 15 * noise(s);
        s->load_w = clamp(s->load_w, 40, 17000);
        for (int i = 0; i < 3; i++)
                s->volt[i] = clamp(s->volt[i] + 0.3 * noise(s), 220, 240);
}

static void fill_values(km_sim *s, int list, km_kfm_values *v)
{
        int n = s->opt.phases;
        memset(v, 0, sizeof *v);
        v->list = list;
        v->phases = n;
        v->obis_version = "KFM_001";
        v->meter_id = s->opt.meter_id;
        v->meter_type = s->opt.meter_type;
        v->p_import = to_u32(s->load_w);
        v->p_export = 0;
        v->q_import = to_u32(s->load_w * 0.08);
        v->q_export = to_u32(5 + 3 * uniform(s));
        for (int i = 0; i < n; i++) {
                v->current[i] = to_u32(s->load_w * s->share[i] / s->volt[i] * 1000);
                v->voltage[i] = to_u32(s->volt[i] * 10);
        }
}

void km_sim_clock(const km_sim *s, int64_t t, km_datetime *ret)
{
        time_t tt = (time_t)t;
        struct tm tm;
        if (s->opt.local_time)
                localtime_r(&tt, &tm);
        else
                gmtime_r(&tt, &tm);
        km_kfm_datetime(tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min,
                        tm.tm_sec, ret);
}

int64_t km_sim_next(km_sim *s, km_kfm_values *ret_values)
{
        int64_t t = s->t;
        int64_t in_hour = t - floor_div(t, HOUR) * HOUR;
        if (in_hour == 0)
                freeze(s, t);
        step_load(s);

        int list = in_hour == 10 ? 3 : t % 10 == 0 ? 2 : 1;
        fill_values(s, list, ret_values);
        if (list == 3) {
                /* header and clock carry the freeze time, xx:00:00 */
                km_sim_clock(s, s->frozen_at, &ret_values->clock);
                ret_values->meter_clock = ret_values->clock;
                memcpy(ret_values->energy, s->frozen, sizeof s->frozen);
        } else {
                km_sim_clock(s, t, &ret_values->clock);
        }

        /* the registers count what flows until the next slot */
        double hours = SLOT_SECONDS / 3600.0;
        s->energy[0] += ret_values->p_import * hours;
        s->energy[1] += ret_values->p_export * hours;
        s->energy[2] += ret_values->q_import * hours;
        s->energy[3] += ret_values->q_export * hours;
        s->t += SLOT_SECONDS;
        return t;
}

int km_sim_parse_time(const char *text, int64_t *ret_time)
{
        struct tm tm = {0};
        int n = 0, sec = 0;
        char sep;
        int got = sscanf(text, "%4d-%2d-%2d%c%2d:%2d%n", &tm.tm_year, &tm.tm_mon, &tm.tm_mday,
                         &sep, &tm.tm_hour, &tm.tm_min, &n);
        if (got != 6 || (sep != 'T' && sep != ' '))
                return -EINVAL;
        const char *rest = text + n;
        if (*rest == ':') {
                int m = 0;
                if (sscanf(rest, ":%2d%n", &sec, &m) != 1)
                        return -EINVAL;
                rest += m;
        }
        if (*rest != '\0' || tm.tm_mon < 1 || tm.tm_mon > 12 || tm.tm_mday < 1 ||
            tm.tm_mday > 31 || tm.tm_hour > 23 || tm.tm_min > 59 || sec > 59 || tm.tm_year < 1970)
                return -EINVAL;
        tm.tm_year -= 1900;
        tm.tm_mon -= 1;
        tm.tm_sec = sec;
        *ret_time = (int64_t)timegm(&tm);
        return 0;
}

int km_sim_parse_duration(const char *text, int64_t *ret_seconds)
{
        char *end;
        errno = 0;
        long long v = strtoll(text, &end, 10);
        if (end == text || errno || v < 0)
                return -EINVAL;
        long long mul;
        if (strcmp(end, "") == 0 || strcmp(end, "s") == 0)
                mul = 1;
        else if (strcmp(end, "m") == 0 || strcmp(end, "min") == 0)
                mul = 60;
        else if (strcmp(end, "h") == 0)
                mul = 3600;
        else if (strcmp(end, "d") == 0)
                mul = 86400;
        else
                return -EINVAL;
        if (v > INT64_MAX / mul)
                return -EINVAL;
        *ret_seconds = v * mul;
        return 0;
}
