/*
 * The daemon's derived values, pure parts (src/derived): hours and days in
 * Europe/Oslo across both DST changes (a 23- and a 25-hour day, the
 * repeated 02:00 hour told apart, the skipped one refused), the capacity
 * tariff's top three on distinct days, mean, step and headroom, the
 * hour/day bookkeeping with register correction, estimates and gaps, and
 * the state file (round trip bit for bit; corrupt, cut, old-version,
 * other-zone and missing files refused with their own error).
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "derived/capacity.h"
#include "derived/energy.h"
#include "derived/localtime.h"
#include "derived/state_file.h"
#include "unit_util.h"

#define OSLO "Europe/Oslo"

static int64_t utc(int y, int mo, int d, int h, int mi, int s)
{
        struct tm tm = {.tm_year = y - 1900, .tm_mon = mo - 1, .tm_mday = d, .tm_hour = h, .tm_min = mi, .tm_sec = s};
        return (int64_t)timegm(&tm);
}

static km_tz oslo(void)
{
        km_tz tz;
        assert_int_equal(km_tz_init(&tz, OSLO), 0);
        return tz;
}

static void test_tz_check(void **state)
{
        (void)state;
        assert_int_equal(km_tz_check(OSLO), 0);
        assert_int_equal(km_tz_check("Europe/Nowhere"), -ENOENT);
        assert_int_equal(km_tz_check("../etc/passwd"), -EINVAL);
        assert_int_equal(km_tz_check("/etc/localtime"), -EINVAL);
        assert_int_equal(km_tz_check(""), -EINVAL);
}

static void test_tz_restored(void **state)
{
        (void)state;
        km_tz tz = oslo();
        setenv("TZ", "UTC", 1);
        tzset();
        (void)km_tz_hour_start(&tz, utc(2026, 10, 25, 0, 30, 0));
        assert_string_equal(getenv("TZ"), "UTC");
        unsetenv("TZ");
        (void)km_tz_hour_start(&tz, utc(2026, 10, 25, 0, 30, 0));
        assert_null(getenv("TZ"));
}

static void test_tz_day_lengths(void **state)
{
        (void)state;
        km_tz tz = oslo();
        int64_t s, e;
        km_wall d;
        /* autumn: 25 hours, from 22:00Z (CEST midnight) to 23:00Z (CET) */
        km_tz_day(&tz, utc(2026, 10, 25, 12, 0, 0), &s, &e, &d);
        assert_int_equal(s, utc(2026, 10, 24, 22, 0, 0));
        assert_int_equal(e - s, 25 * 3600);
        assert_int_equal(d.day, 25);
        /* spring: 23 hours */
        km_tz_day(&tz, utc(2026, 3, 29, 12, 0, 0), &s, &e, &d);
        assert_int_equal(s, utc(2026, 3, 28, 23, 0, 0));
        assert_int_equal(e - s, 23 * 3600);
        /* an ordinary winter day, and the month of the autumn change */
        km_tz_day(&tz, utc(2026, 11, 1, 0, 0, 0), &s, &e, &d);
        assert_int_equal(s, utc(2026, 10, 31, 23, 0, 0));
        assert_int_equal(e - s, 24 * 3600);
        assert_int_equal(d.month, 11);
        km_tz_month(&tz, utc(2026, 10, 31, 22, 59, 59), &s, &e);
        assert_int_equal(s, utc(2026, 9, 30, 22, 0, 0));
        assert_int_equal(e, utc(2026, 10, 31, 23, 0, 0));
}

static void test_tz_hour_start(void **state)
{
        (void)state;
        km_tz tz = oslo();
        assert_int_equal(km_tz_hour_start(&tz, utc(2026, 10, 25, 0, 59, 59)), utc(2026, 10, 25, 0, 0, 0));
        assert_int_equal(km_tz_hour_start(&tz, utc(2026, 10, 25, 1, 0, 0)), utc(2026, 10, 25, 1, 0, 0));
        km_tz kolkata;
        assert_int_equal(km_tz_init(&kolkata, "Asia/Kolkata"), 0); /* +05:30: hours start at :30 UTC */
        assert_int_equal(km_tz_hour_start(&kolkata, utc(2026, 1, 1, 12, 10, 0)), utc(2026, 1, 1, 11, 30, 0));
}

static void test_tz_from_wall(void **state)
{
        (void)state;
        km_tz tz = oslo();
        km_wall w = {2026, 10, 25, 2, 30, 0};
        int64_t t;
        /* 02:30 happens twice: first in CEST (00:30Z), then in CET (01:30Z) */
        assert_int_equal(km_tz_from_wall(&tz, &w, utc(2026, 10, 25, 0, 29, 58), &t), 0);
        assert_int_equal(t, utc(2026, 10, 25, 0, 30, 0));
        assert_int_equal(km_tz_from_wall(&tz, &w, utc(2026, 10, 25, 1, 29, 58), &t), 0);
        assert_int_equal(t, utc(2026, 10, 25, 1, 30, 0));
        /* 02:30 on the spring day does not exist */
        km_wall gap = {2026, 3, 29, 2, 30, 0};
        assert_int_equal(km_tz_from_wall(&tz, &gap, 0, &t), -ERANGE);
        km_wall bad = {2026, 13, 1, 0, 0, 0};
        assert_int_equal(km_tz_from_wall(&tz, &bad, 0, &t), -EINVAL);
        km_wall summer = {2026, 7, 1, 12, 0, 0};
        assert_int_equal(km_tz_from_wall(&tz, &summer, 0, &t), 0);
        assert_int_equal(t, utc(2026, 7, 1, 10, 0, 0));
        char buf[KM_ISO_MAX];
        assert_string_equal(km_tz_iso8601(&tz, utc(2026, 10, 25, 0, 0, 0), buf, sizeof(buf)),
                            "2026-10-25T02:00:00+02:00");
        assert_string_equal(km_tz_iso8601(&tz, utc(2026, 10, 25, 1, 0, 0), buf, sizeof(buf)),
                            "2026-10-25T02:00:00+01:00");
}

/* ---- capacity ----------------------------------------------------------- */

static km_cap_steps default_steps(void)
{
        km_cap_steps s;
        int bad;
        assert_int_equal(km_cap_parse_steps(KM_CAP_STEPS_DEFAULT, &s, &bad), 0);
        return s;
}

static void test_cap_steps(void **state)
{
        (void)state;
        km_cap_steps s = default_steps();
        int bad;
        char buf[32];
        assert_int_equal(s.n, 9);
        assert_int_equal(km_cap_step(&s, 0), 0);
        assert_int_equal(km_cap_step(&s, 4.999), 1);
        assert_int_equal(km_cap_step(&s, 5), 2);
        assert_int_equal(km_cap_step(&s, 100), -1);
        assert_string_equal(km_cap_step_text(&s, 2, buf, sizeof(buf)), "5-10");
        assert_string_equal(km_cap_step_text(&s, -1, buf, sizeof(buf)), "above 100");
        assert_int_equal(km_cap_parse_steps("0-2, 3-5", &s, &bad), -EINVAL); /* not contiguous */
        assert_int_equal(bad, 2);
        assert_int_equal(km_cap_parse_steps("0-2, 2-x", &s, &bad), -EINVAL);
        assert_int_equal(km_cap_parse_steps("2-2", &s, &bad), -EINVAL);
        assert_int_equal(km_cap_parse_steps("0-2,", &s, &bad), -EINVAL);
        assert_int_equal(km_cap_parse_steps("0-2.5,2.5-7", &s, &bad), 0);
        assert_true(s.hi[0] == 2.5);
}

static void test_cap_top3_distinct_days(void **state)
{
        (void)state;
        km_cap_month m = {0};
        km_cap_book(&m, 3, 6000, 30);
        km_cap_book(&m, 3, 7000, 31); /* the day's best: replaces 6000 */
        km_cap_book(&m, 3, 6500, 32);
        km_cap_book(&m, 5, 4000, 50);
        km_cap_book(&m, 9, 2000, 90);
        km_cap_book(&m, 12, 3000, 120);
        km_cap_top t;
        km_cap_top3(&m, 0, 0, &t);
        assert_int_equal(t.n, 3);
        assert_int_equal(t.mday[0], 3);
        assert_true(t.wh[0] == 7000);
        assert_int_equal(t.hour_start[0], 31);
        assert_int_equal(t.mday[1], 5);
        assert_int_equal(t.mday[2], 12);
        assert_true(fabs(km_cap_average(&t) - 14.0 / 3) < 1e-12);
        /* the open hour of day 9 at 5 kWh comes in as day 9's best */
        km_cap_top3(&m, 9, 5000, &t);
        assert_int_equal(t.mday[1], 9);
        assert_true(fabs(km_cap_average(&t) - 16.0 / 3) < 1e-12);
}

static void test_cap_headroom(void **state)
{
        (void)state;
        km_cap_steps s = default_steps();
        km_cap_month m = {0};
        /* nothing yet: the first hour may take up to 2 kWh in the first step */
        assert_true(km_cap_headroom(&m, &s, 1, 500) == 1500);
        km_cap_book(&m, 1, 4000, 0);
        km_cap_book(&m, 2, 3000, 0);
        km_cap_book(&m, 3, 2000, 0);
        /* mean 3 kW, step 2-5: day 4's hour enters with days 1 and 2, and
         * reaches 5 kW at 15 - 7 = 8 kWh */
        assert_true(km_cap_headroom(&m, &s, 4, 1000) == 7000);
        /* day 2's own hours: the other days are 1 and 3 */
        assert_true(km_cap_headroom(&m, &s, 2, 0) == 15000 - 6000);
        /* two days so far: the mean is over two */
        km_cap_month two = {0};
        km_cap_book(&two, 1, 4000, 0);
        assert_true(km_cap_headroom(&two, &s, 2, 0) == 6000);
        /* already above the last step: no next step */
        km_cap_month big = {0};
        km_cap_book(&big, 1, 200000, 0);
        assert_true(km_cap_headroom(&big, &s, 1, 0) < 0);
}

/* ---- energy ------------------------------------------------------------- */

/* Feeds constant power w (W) every 2 s over [from, to) and registers at
 * each hour start whose count the meter kept exactly; returns the hours booked. */
static int run_constant(km_energy *e, const km_tz *tz, int64_t from, int64_t to, double w, double *reg)
{
        int booked = 0;
        for (int64_t t = from; t < to; t += 2) {
                km_energy_events ev = {0};
                double p[2] = {w, 0};
                km_energy_power(e, tz, t, p, &ev);
                if (t % 3600 == 10) { /* the hourly list, frozen at xx:00:00 */
                        double r[2] = {*reg + (double)(t - 10 - from) * w / 3600, 100};
                        km_energy_registers(e, tz, t - 10, r, &ev);
                }
                booked += ev.booked;
        }
        return booked;
}

static void test_energy_25_hour_day(void **state)
{
        (void)state;
        km_tz tz = oslo();
        km_energy e;
        km_energy_init(&e);
        double reg = 1e6;
        int64_t from = utc(2026, 10, 24, 22, 0, 0), to = utc(2026, 10, 25, 23, 0, 20);
        int booked = run_constant(&e, &tz, from, to, 3600, &reg);
        /* 25 hours of the 25th booked, the first had no register before it */
        assert_int_equal(booked, 25);
        assert_int_equal(e.last_start, utc(2026, 10, 25, 22, 0, 0));
        assert_true(e.last_wh[0] == 3600);
        assert_true(e.last_wh[1] == 0);
        /* the new day (26th) holds its first 20 s only */
        assert_int_equal(e.day_start, utc(2026, 10, 25, 23, 0, 0));
        assert_int_equal(e.day_mday, 26);
        assert_true(fabs(km_energy_today(&e, 0) - 18 * 1.0) < 1e-9);
        /* the 25th: every hour at 3.6 kWh on one day of the table */
        assert_true(e.cap.day[24].has && e.cap.day[24].wh == 3600);
}

static void test_energy_23_hour_day(void **state)
{
        (void)state;
        km_tz tz = oslo();
        km_energy e;
        km_energy_init(&e);
        double reg = 1e6;
        int64_t from = utc(2026, 3, 28, 23, 0, 0), to = utc(2026, 3, 29, 22, 0, 0);
        int booked = run_constant(&e, &tz, from, to, 1800, &reg);
        assert_int_equal(booked, 22);
        /* just before midnight: 22 finished hours (registers) and the open one */
        assert_true(fabs(km_energy_today(&e, 0) - (22 * 1800 + 1800.0 * 3598 / 3600)) < 1e-6);
        assert_int_equal(e.day_end - e.day_start, 23 * 3600);
}

static void test_energy_register_corrects(void **state)
{
        (void)state;
        km_tz tz = oslo();
        km_energy e;
        km_energy_init(&e);
        km_energy_events ev = {0};
        int64_t h0 = utc(2026, 1, 10, 11, 0, 0);
        double r0[2] = {5000, 10};
        km_energy_registers(&e, &tz, h0, r0, &ev);
        for (int64_t t = h0; t <= h0 + 3600 + 8; t += 2) {
                double p[2] = {1000, 0};
                km_energy_power(&e, &tz, t, p, &ev);
        }
        /* the integral says 1 kWh for the finished hour; still pending */
        assert_true(e.pending);
        assert_true(fabs(km_energy_today(&e, 0) - (1000 + 1000.0 * 8 / 3600)) < 1e-9);
        double r1[2] = {6100, 12};
        memset(&ev, 0, sizeof(ev));
        km_energy_registers(&e, &tz, h0 + 3600, r1, &ev);
        assert_true(ev.booked);
        assert_false(e.pending);
        assert_true(e.last_wh[0] == 1100 && e.last_wh[1] == 2);
        assert_true(fabs(km_energy_today(&e, 0) - (1100 + 1000.0 * 8 / 3600)) < 1e-9);
        assert_true(fabs(km_energy_this_hour(&e, 0) - 1000.0 * 8 / 3600) < 1e-9);
        /* sent again within the hour (P1 sends them every telegram): nothing new */
        memset(&ev, 0, sizeof(ev));
        double r2[2] = {6102, 12};
        km_energy_registers(&e, &tz, h0 + 3610, r2, &ev);
        assert_false(ev.booked);
        /* a register that goes down is a new start, not a negative hour */
        memset(&ev, 0, sizeof(ev));
        double r3[2] = {10, 0};
        km_energy_registers(&e, &tz, h0 + 7200, r3, &ev);
        assert_true(ev.reg_backwards);
        assert_false(ev.booked);
}

static void test_energy_missing_register_estimate(void **state)
{
        (void)state;
        km_tz tz = oslo();
        km_energy e;
        km_energy_init(&e);
        km_energy_events ev = {0};
        int64_t h0 = utc(2026, 1, 10, 11, 0, 0);
        /* 2 kW for two hours and a bit, no registers at all */
        for (int64_t t = h0; t <= h0 + 7200 + 100; t += 2) {
                double p[2] = {2000, 0};
                km_energy_power(&e, &tz, t, p, &ev);
        }
        assert_true(ev.estimated); /* the first hour: its estimate stands */
        assert_true(e.cap.day[9].has && fabs(e.cap.day[9].wh - 2000) < 1e-9);
        assert_true(fabs(km_energy_today(&e, 0) - 2000.0 * 7300 / 3600) < 1e-9);
        /* a gap longer than KM_ENERGY_MAX_GAP is not bridged */
        double before = km_energy_today(&e, 0);
        double p[2] = {2000, 0};
        km_energy_power(&e, &tz, h0 + 7300 + KM_ENERGY_MAX_GAP + 2, p, &ev);
        assert_true(km_energy_today(&e, 0) == before);
}

static void test_energy_split_at_hour(void **state)
{
        (void)state;
        km_tz tz = oslo();
        km_energy e;
        km_energy_init(&e);
        km_energy_events ev = {0};
        int64_t h1 = utc(2026, 1, 10, 12, 0, 0);
        double a[2] = {1000, 0}, b[2] = {3000, 0};
        km_energy_power(&e, &tz, h1 - 100, a, &ev);
        km_energy_power(&e, &tz, h1 + 100, b, &ev);
        /* the line from 1000 W to 3000 W is cut at 2000 W on the hour */
        assert_true(e.pending && fabs(e.pending_ws[0] - 150000) < 1e-9);
        assert_true(fabs(e.hour_ws[0] - 250000) < 1e-9);
}

static void test_energy_month_rolls(void **state)
{
        (void)state;
        km_tz tz = oslo();
        km_energy e;
        km_energy_init(&e);
        double reg = 1e6;
        int64_t from = utc(2026, 10, 31, 20, 0, 0), to = utc(2026, 11, 1, 2, 0, 20);
        run_constant(&e, &tz, from, to, 3000, &reg);
        /* the 31st's last hour came after the reset: not in November's table */
        assert_false(e.cap.day[30].has);
        assert_true(e.cap.day[0].has && e.cap.day[0].wh == 3000);
        assert_int_equal(e.month_start, utc(2026, 10, 31, 23, 0, 0));
        km_cap_top t;
        km_cap_top3(&e.cap, 0, 0, &t);
        assert_int_equal(t.n, 1);
}

/* ---- state file --------------------------------------------------------- */

static char state_path[256];

static km_energy sample_state(void)
{
        km_tz tz = oslo();
        km_energy e;
        km_energy_init(&e);
        double reg = 12345678;
        run_constant(&e, &tz, utc(2026, 10, 24, 21, 0, 0), utc(2026, 10, 25, 5, 17, 0), 1234.5678, &reg);
        return e;
}

static void assert_same(const km_energy *a, const km_energy *b)
{
        assert_int_equal(a->have_sample, b->have_sample);
        assert_int_equal(a->sample_t, b->sample_t);
        assert_memory_equal(a->sample_w, b->sample_w, sizeof(a->sample_w));
        assert_int_equal(a->hour_start, b->hour_start);
        assert_memory_equal(a->hour_ws, b->hour_ws, sizeof(a->hour_ws));
        assert_int_equal(a->day_start, b->day_start);
        assert_int_equal(a->day_end, b->day_end);
        assert_int_equal(a->month_start, b->month_start);
        assert_int_equal(a->month_end, b->month_end);
        assert_int_equal(a->day_mday, b->day_mday);
        assert_memory_equal(a->day_wh, b->day_wh, sizeof(a->day_wh));
        assert_int_equal(a->pending, b->pending);
        assert_int_equal(a->pending_start, b->pending_start);
        assert_int_equal(a->pending_mday, b->pending_mday);
        assert_memory_equal(a->pending_ws, b->pending_ws, sizeof(a->pending_ws));
        assert_int_equal(a->have_reg, b->have_reg);
        assert_int_equal(a->reg_t, b->reg_t);
        assert_memory_equal(a->reg_wh, b->reg_wh, sizeof(a->reg_wh));
        assert_int_equal(a->have_last, b->have_last);
        assert_int_equal(a->last_start, b->last_start);
        assert_memory_equal(a->last_wh, b->last_wh, sizeof(a->last_wh));
        for (int i = 0; i < KM_CAP_DAYS; i++) {
                assert_int_equal(a->cap.day[i].has, b->cap.day[i].has);
                assert_memory_equal(&a->cap.day[i].wh, &b->cap.day[i].wh, sizeof(double));
                assert_int_equal(a->cap.day[i].hour_start, b->cap.day[i].hour_start);
        }
}

static void test_state_round_trip(void **state)
{
        (void)state;
        km_energy e = sample_state(), back;
        assert_true(e.pending || e.have_last);
        assert_int_equal(km_state_save(state_path, &e, OSLO), 0);
        assert_int_equal(km_state_load(state_path, OSLO, &back), 0);
        assert_same(&e, &back);
        char tmp[300];
        snprintf(tmp, sizeof(tmp), "%s.tmp", state_path);
        assert_int_equal(access(tmp, F_OK), -1); /* renamed into place */
}

static void rewrite(const char *text, size_t n)
{
        FILE *f = fopen(state_path, "wb");
        assert_non_null(f);
        fwrite(text, 1, n, f);
        fclose(f);
}

static size_t slurp(char *buf, size_t size)
{
        FILE *f = fopen(state_path, "rb");
        assert_non_null(f);
        size_t n = fread(buf, 1, size, f);
        fclose(f);
        return n;
}

static void test_state_refused(void **state)
{
        (void)state;
        km_energy e = sample_state(), back;
        km_energy_init(&back);
        back.hour_start = 42; /* untouched on every failure */
        static char good[8192], bad[8192];
        assert_int_equal(km_state_save(state_path, &e, OSLO), 0);
        size_t n = slurp(good, sizeof(good));
        /* every single flipped byte is seen */
        for (size_t i = 0; i < n; i += 7) {
                memcpy(bad, good, n);
                bad[i] ^= 0x01;
                rewrite(bad, n);
                int r = km_state_load(state_path, OSLO, &back);
                assert_true(r == -EBADMSG || r == -EPROTO || r == -ESTALE);
        }
        for (size_t cut = 0; cut < n; cut += 13) {
                rewrite(good, cut);
                assert_int_equal(km_state_load(state_path, OSLO, &back), -EBADMSG);
        }
        assert_int_equal(back.hour_start, 42);
        /* another zone, another version (with a valid check) */
        assert_int_equal(km_state_save(state_path, &e, "Europe/Stockholm"), 0);
        assert_int_equal(km_state_load(state_path, OSLO, &back), -ESTALE);
        unlink(state_path);
        assert_int_equal(km_state_load(state_path, OSLO, &back), -ENOENT);
        rewrite("garbage\n", 8);
        assert_int_equal(km_state_load(state_path, OSLO, &back), -EBADMSG);
        assert_int_equal(back.hour_start, 42);
        assert_string_equal(km_state_strerror(-EBADMSG), "is corrupt");
}

int main(void)
{
        char dir[] = "/tmp/km-derived-XXXXXX";
        if (!mkdtemp(dir))
                return 1;
        snprintf(state_path, sizeof(state_path), "%s/meter.state", dir);
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_tz_check),
                cmocka_unit_test(test_tz_restored),
                cmocka_unit_test(test_tz_day_lengths),
                cmocka_unit_test(test_tz_hour_start),
                cmocka_unit_test(test_tz_from_wall),
                cmocka_unit_test(test_cap_steps),
                cmocka_unit_test(test_cap_top3_distinct_days),
                cmocka_unit_test(test_cap_headroom),
                cmocka_unit_test(test_energy_25_hour_day),
                cmocka_unit_test(test_energy_23_hour_day),
                cmocka_unit_test(test_energy_register_corrects),
                cmocka_unit_test(test_energy_missing_register_estimate),
                cmocka_unit_test(test_energy_split_at_hour),
                cmocka_unit_test(test_energy_month_rolls),
                cmocka_unit_test(test_state_round_trip),
                cmocka_unit_test(test_state_refused),
        };
        int failed = cmocka_run_group_tests(tests, NULL, NULL);
        unlink(state_path);
        rmdir(dir);
        return failed;
}
