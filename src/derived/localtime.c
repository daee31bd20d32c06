/*
 * Time zone arithmetic through the C library's own tzdata reader: TZ is set
 * to the zone for the length of one call and put back after (see
 * localtime.h for why this is safe here). Nothing is kept between calls.
 */
#include "derived/localtime.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

/* The TZ the process had, restored after each call. */
typedef struct tz_saved {
        bool had;
        char value[256];
} tz_saved;

static void tz_enter(const km_tz *tz, tz_saved *saved)
{
        const char *old = getenv("TZ");
        saved->had = old != NULL;
        if (old)
                snprintf(saved->value, sizeof(saved->value), "%s", old);
        char want[KM_TZ_NAME_MAX + 2];
        snprintf(want, sizeof(want), ":%s", tz->name);
        setenv("TZ", want, 1);
        tzset();
}

static void tz_leave(const tz_saved *saved)
{
        if (saved->had)
                setenv("TZ", saved->value, 1);
        else
                unsetenv("TZ");
        tzset();
}

int km_tz_check(const char *name)
{
        if (!name || !*name || name[0] == '/' || strstr(name, "..") || strlen(name) >= KM_TZ_NAME_MAX)
                return -EINVAL;
        const char *dir = getenv("TZDIR");
        char path[512];
        snprintf(path, sizeof(path), "%s/%s", dir && *dir ? dir : "/usr/share/zoneinfo", name);
        struct stat st;
        if (stat(path, &st) < 0 || !S_ISREG(st.st_mode))
                return -ENOENT;
        return 0;
}

int km_tz_init(km_tz *tz, const char *name)
{
        int r = km_tz_check(name);
        if (r < 0)
                return r;
        snprintf(tz->name, sizeof(tz->name), "%s", name);
        return 0;
}

static void local_fields(int64_t t, struct tm *ret)
{
        time_t tt = (time_t)t;
        localtime_r(&tt, ret);
}

int64_t km_tz_hour_start(const km_tz *tz, int64_t t)
{
        tz_saved s;
        struct tm tm;
        tz_enter(tz, &s);
        local_fields(t, &tm);
        tz_leave(&s);
        /* minutes and seconds past the local hour; offsets are whole minutes */
        return t - (tm.tm_min * 60 + tm.tm_sec);
}

/* The instant of local midnight starting y-m-d (mktime normalises the date);
 * called between tz_enter and tz_leave. Midnight is never skipped or
 * repeated in the zones the meters live in; where it is, mktime picks one. */
static int64_t local_midnight(int year, int month, int day)
{
        struct tm tm = {.tm_year = year - 1900, .tm_mon = month - 1, .tm_mday = day, .tm_isdst = -1};
        return (int64_t)mktime(&tm);
}

void km_tz_day(const km_tz *tz, int64_t t, int64_t *ret_start, int64_t *ret_end, km_wall *ret_date)
{
        tz_saved s;
        struct tm tm;
        tz_enter(tz, &s);
        local_fields(t, &tm);
        int y = tm.tm_year + 1900, m = tm.tm_mon + 1, d = tm.tm_mday;
        *ret_start = local_midnight(y, m, d);
        *ret_end = local_midnight(y, m, d + 1);
        tz_leave(&s);
        if (ret_date)
                *ret_date = (km_wall){.year = y, .month = m, .day = d};
}

void km_tz_month(const km_tz *tz, int64_t t, int64_t *ret_start, int64_t *ret_end)
{
        tz_saved s;
        struct tm tm;
        tz_enter(tz, &s);
        local_fields(t, &tm);
        *ret_start = local_midnight(tm.tm_year + 1900, tm.tm_mon + 1, 1);
        *ret_end = local_midnight(tm.tm_year + 1900, tm.tm_mon + 2, 1);
        tz_leave(&s);
}

static bool wall_valid(const km_wall *w)
{
        return w->year >= 1970 && w->year <= 9999 && w->month >= 1 && w->month <= 12 && w->day >= 1 &&
               w->day <= 31 && w->hour >= 0 && w->hour <= 23 && w->minute >= 0 && w->minute <= 59 &&
               w->second >= 0 && w->second <= 59;
}

/* mktime with a guess of isdst; the result counts only if it shows the
 * same wall clock again (mktime moves times the zone skips). */
static bool candidate(const km_wall *w, int isdst, int64_t *ret)
{
        struct tm tm = {.tm_year = w->year - 1900, .tm_mon = w->month - 1, .tm_mday = w->day,
                        .tm_hour = w->hour, .tm_min = w->minute, .tm_sec = w->second, .tm_isdst = isdst};
        time_t t = mktime(&tm);
        if (t == (time_t)-1)
                return false;
        struct tm back;
        localtime_r(&t, &back);
        if (back.tm_year != w->year - 1900 || back.tm_mon != w->month - 1 || back.tm_mday != w->day ||
            back.tm_hour != w->hour || back.tm_min != w->minute || back.tm_sec != w->second)
                return false;
        *ret = (int64_t)t;
        return true;
}

static int64_t distance(int64_t a, int64_t b)
{
        return a > b ? a - b : b - a;
}

int km_tz_from_wall(const km_tz *tz, const km_wall *w, int64_t hint, int64_t *ret_t)
{
        if (!wall_valid(w))
                return -EINVAL;
        tz_saved s;
        int64_t a = 0, b = 0;
        tz_enter(tz, &s);
        bool ok_a = candidate(w, 0, &a), ok_b = candidate(w, 1, &b);
        tz_leave(&s);
        if (!ok_a && !ok_b)
                return -ERANGE;
        if (ok_a && ok_b && a != b)
                *ret_t = distance(a, hint) <= distance(b, hint) ? a : b;
        else
                *ret_t = ok_a ? a : b;
        return 0;
}

const char *km_tz_iso8601(const km_tz *tz, int64_t t, char *buf, size_t size)
{
        tz_saved s;
        struct tm tm;
        tz_enter(tz, &s);
        local_fields(t, &tm);
        tz_leave(&s);
        long off = tm.tm_gmtoff;
        char sign = off < 0 ? '-' : '+';
        if (off < 0)
                off = -off;
        snprintf(buf, size, "%04d-%02d-%02dT%02d:%02d:%02d%c%02ld:%02ld", tm.tm_year + 1900, tm.tm_mon + 1,
                 tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, sign, off / 3600, off % 3600 / 60);
        return buf;
}
