/*
 * The simulator's frames against the real meter and the project's decoder.
 *
 * 1. The encoder, given the values of three real MA304T4 frames (list 1,
 *    list 2 and list 3, three-phase; protocol.md H1-H3), produces exactly
 *    the bytes that meter sent.
 * 2. Every list form (1, 2, 3 x one-phase, three-phase), encoded and fed to
 *    km_decoder one byte at a time, decodes to the values that went in.
 * 3. Three simulated hours decode to 5400 readings: 1 list 3 per hour at
 *    xx:00:10 carrying the xx:00:00 clock, list 2 at the other xx:xx:x0,
 *    and energy registers that grow with the power.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "kaifa/decoder.h"
#include "sim/kfm_encode.h"
#include "sim/meter_sim.h"

/* MA304T4-3-ok.bin at offsets 0, 123 and 72072 (robinsmidsrod/ams-han-decoder). */
static const char *const real_list1 =
        "7ea027010201105a87e6e7000f40000000090c07e10112030e1136ff800000020106000001bec1cc7e";
static const char *const real_list2 =
        "7ea07801020110c498e6e7000f40000000090c07e10112030e1200ff800000020d09074b464d5f3030"
        "3109103639373036333134303030303032333309074d41333034543406000001be0600000000060000"
        "000006000000050600000650060000039206000003b6060000056b0600000562060000056177f97e";
static const char *const real_list3 =
        "7ea09a01020110aaa5e6e7000f40000000090c07e10112030f0000ff800000021209074b464d5f3030"
        "3109103639373036333134303030303032333309074d41333034543406000000d70600000000060000"
        "00000600000005060000037c060000038006000000190600000565060000055c060000055d090c07e1"
        "0112030f0000ff80000006000c3b740600000071060002e205060000179983557e";

static size_t unhex(const char *hex, uint8_t *out, size_t size)
{
        size_t n = strlen(hex) / 2;
        assert_true(n <= size);
        for (size_t i = 0; i < n; i++) {
                unsigned b;
                assert_int_equal(sscanf(hex + 2 * i, "%2x", &b), 1);
                out[i] = (uint8_t)b;
        }
        return n;
}

static km_kfm_values ma304t4(int list)
{
        km_kfm_values v = {
                .list = list, .phases = 3,
                .obis_version = "KFM_001", .meter_id = "6970631400000233", .meter_type = "MA304T4",
        };
        if (list == 1) {
                km_kfm_datetime(2017, 1, 18, 14, 17, 54, &v.clock);
                v.p_import = 446;
        } else if (list == 2) {
                km_kfm_datetime(2017, 1, 18, 14, 18, 0, &v.clock);
                v.p_import = 446, v.q_export = 5;
                v.current[0] = 1616, v.current[1] = 914, v.current[2] = 950;
                v.voltage[0] = 1387, v.voltage[1] = 1378, v.voltage[2] = 1377;
        } else {
                km_kfm_datetime(2017, 1, 18, 15, 0, 0, &v.clock);
                v.meter_clock = v.clock;
                v.p_import = 215, v.q_export = 5;
                v.current[0] = 892, v.current[1] = 896, v.current[2] = 25;
                v.voltage[0] = 1381, v.voltage[1] = 1372, v.voltage[2] = 1373;
                v.energy[0] = 801652, v.energy[1] = 113, v.energy[2] = 188933, v.energy[3] = 6041;
        }
        return v;
}

static void check_real(int list, const char *hex)
{
        uint8_t want[KM_KFM_FRAME_MAX], got[KM_KFM_FRAME_MAX];
        size_t n = unhex(hex, want, sizeof want);
        km_kfm_values v = ma304t4(list);
        int len = km_kfm_encode(&v, got, sizeof got);
        assert_int_equal(len, (int)n);
        assert_memory_equal(got, want, n);
}

static void test_real_frames(void **state)
{
        (void)state;
        check_real(1, real_list1);
        check_real(2, real_list2);
        check_real(3, real_list3);
}

static void test_bad_input(void **state)
{
        (void)state;
        uint8_t buf[KM_KFM_FRAME_MAX];
        km_kfm_values v = ma304t4(2);
        assert_int_equal(km_kfm_encode(&v, buf, 40), -ENOBUFS);
        v.phases = 2;
        assert_int_equal(km_kfm_encode(&v, buf, sizeof buf), -EINVAL);
        v = ma304t4(4);
        assert_int_equal(km_kfm_encode(&v, buf, sizeof buf), -EINVAL);
        v = ma304t4(2);
        v.meter_id = NULL;
        assert_int_equal(km_kfm_encode(&v, buf, sizeof buf), -EINVAL);
}

/* A value in the unit the meter counts in: W, var, A, V, Wh, varh. */
static double base_value(const km_value *val)
{
        double x = km_value_number(val);
        if (val->unit == KM_UNIT_KWH || val->unit == KM_UNIT_KVARH)
                x *= 1000;
        return x;
}

static void expect_number(const km_reading *r, const char *name, double want)
{
        const km_value *val = km_reading_find(r, name);
        if (!val)
                fail_msg("%s missing from %s", name, r->list_name ? r->list_name : "?");
        double got = base_value(val);
        if (!(got > want - 1e-6 * (1 + want) && got < want + 1e-6 * (1 + want)))
                fail_msg("%s: decoded %.6f, encoded %.6f", name, got, want);
}

static void expect_text(const km_reading *r, const char *name, const char *want)
{
        const char *got = km_reading_text(r, name);
        if (!got || strcmp(got, want) != 0)
                fail_msg("%s: decoded '%s', encoded '%s'", name, got ? got : "(none)", want);
}

static void expect_datetime(const km_datetime *got, const km_datetime *want)
{
        assert_int_equal(got->year, want->year);
        assert_int_equal(got->month, want->month);
        assert_int_equal(got->day, want->day);
        assert_int_equal(got->weekday, want->weekday);
        assert_int_equal(got->hour, want->hour);
        assert_int_equal(got->minute, want->minute);
        assert_int_equal(got->second, want->second);
}

static void compare(const km_reading *r, const km_kfm_values *v)
{
        static const char *const currents[] = {"phase_current_l1", "phase_current_l2", "phase_current_l3"};
        static const char *const voltages[] = {"phase_voltage_l1", "phase_voltage_l2", "phase_voltage_l3"};
        static const char *const energies[] = {"energy_active_cum_import", "energy_active_cum_export",
                                               "energy_reactive_cum_import", "energy_reactive_cum_export"};
        assert_int_equal(r->n_values, km_kfm_item_count(v->list, v->phases));
        assert_true(r->has_clock);
        expect_datetime(&r->clock, &v->clock);
        expect_number(r, "power_active_import", v->p_import);
        if (v->list == 1) {
                assert_null(km_reading_find(r, "meter_id"));
                return;
        }
        expect_text(r, "obis_version", v->obis_version);
        expect_text(r, "meter_id", v->meter_id);
        expect_text(r, "meter_type", v->meter_type);
        expect_number(r, "power_active_export", v->p_export);
        expect_number(r, "power_reactive_import", v->q_import);
        expect_number(r, "power_reactive_export", v->q_export);
        for (int i = 0; i < 3; i++) {
                if (i < v->phases) {
                        expect_number(r, currents[i], v->current[i] / 1000.0);
                        expect_number(r, voltages[i], v->voltage[i] / 10.0);
                } else {
                        assert_null(km_reading_find(r, currents[i]));
                        assert_null(km_reading_find(r, voltages[i]));
                }
        }
        const km_value *ts = km_reading_find(r, "meter_timestamp");
        if (v->list == 2) {
                assert_null(ts);
                assert_null(km_reading_find(r, energies[0]));
                return;
        }
        assert_non_null(ts);
        assert_int_equal(ts->kind, KM_VALUE_DATETIME);
        expect_datetime(&ts->datetime, &v->meter_clock);
        for (int i = 0; i < 4; i++)
                expect_number(r, energies[i], v->energy[i]);
}

static km_decoder dec;
/* The encoder makes HDLC frames: decode them as such (detection would
 * hold the first frames back until it has seen enough bytes). */
static const km_decoder_options hdlc_only = {.transport = KM_TRANSPORT_HDLC};

/* Feeds bytes one at a time; returns the number of readings, each checked
 * against the next expected values. */
static size_t feed(const uint8_t *buf, size_t n, const km_kfm_values *want, size_t n_want)
{
        size_t got = 0;
        km_event ev;
        for (size_t i = 0; i < n; i++) {
                assert_int_equal(km_decoder_push(&dec, buf + i, 1), 1);
                while (km_decoder_next(&dec, &ev)) {
                        if (ev.kind != KM_EVENT_READING)
                                fail_msg("unexpected event %d (status %s) at byte %zu", ev.kind,
                                         km_strerror(ev.reject), i);
                        assert_true(got < n_want);
                        compare(ev.reading, &want[got]);
                        got++;
                }
        }
        return got;
}

static void test_roundtrip_all_lists(void **state)
{
        (void)state;
        km_decoder_init(&dec, &hdlc_only);
        size_t frames = 0;
        for (int phases = 1; phases <= 3; phases += 2) {
                for (int list = 1; list <= 3; list++) {
                        km_kfm_values v = ma304t4(list);
                        v.phases = phases;
                        v.meter_type = phases == 3 ? "MA304H3E" : "MA105H2E";
                        v.p_export = 12, v.q_import = 345;
                        v.energy[0] = 4000000000u; /* near the top of uint32 */
                        uint8_t buf[KM_KFM_FRAME_MAX];
                        int n = km_kfm_encode(&v, buf, sizeof buf);
                        assert_true(n > 0);
                        assert_int_equal(feed(buf, (size_t)n, &v, 1), 1);
                        frames++;
                }
        }
        km_decoder_finish(&dec);
        km_event ev;
        assert_false(km_decoder_next(&dec, &ev));
        assert_int_equal(dec.stats.frames_good, frames);
        assert_int_equal(dec.stats.readings, frames);
        assert_int_equal(dec.stats.bytes_skipped, 0);
}

#define HOURS 3
#define SLOTS (HOURS * 1800)

static void test_three_hours(void **state)
{
        (void)state;
        static km_kfm_values want[SLOTS];
        static uint8_t stream[SLOTS * KM_KFM_FRAME_MAX];
        km_sim sim;
        km_sim_options opt = {.phases = 3, .seed = 42};
        assert_int_equal(km_sim_parse_time("2026-01-01T00:00:00", &opt.start), 0);
        km_sim_init(&sim, &opt);
        size_t len = 0, per_list[4] = {0};
        uint32_t last_energy = 0;
        for (size_t i = 0; i < SLOTS; i++) {
                int64_t t = km_sim_next(&sim, &want[i]);
                assert_int_equal(t, opt.start + 2 * (int64_t)i);
                int n = km_kfm_encode(&want[i], stream + len, KM_KFM_FRAME_MAX);
                assert_true(n > 0);
                len += (size_t)n;
                per_list[want[i].list]++;
                int in_hour = (int)(t % 3600);
                assert_int_equal(want[i].list, in_hour == 10 ? 3 : in_hour % 10 == 0 ? 2 : 1);
                if (want[i].list == 3) {
                        /* clock of the freeze, energies grown by the hour's power */
                        assert_int_equal(want[i].clock.minute, 0);
                        assert_int_equal(want[i].clock.second, 0);
                        assert_true(want[i].energy[0] > last_energy);
                        last_energy = want[i].energy[0];
                }
        }
        assert_int_equal(per_list[1], HOURS * 1440);
        assert_int_equal(per_list[2], HOURS * 359);
        assert_int_equal(per_list[3], HOURS);

        km_decoder_init(&dec, &hdlc_only);
        assert_int_equal(feed(stream, len, want, SLOTS), SLOTS);
        assert_int_equal(dec.stats.frames_good, SLOTS);
        assert_int_equal(dec.stats.bytes_skipped, 0);
        for (int s = 1; s < KM_STATUS_COUNT_; s++)
                assert_int_equal(dec.stats.rejected[s], 0);
}

static void test_parse_helpers(void **state)
{
        (void)state;
        int64_t v;
        assert_int_equal(km_sim_parse_duration("1h", &v), 0);
        assert_int_equal(v, 3600);
        assert_int_equal(km_sim_parse_duration("90m", &v), 0);
        assert_int_equal(v, 5400);
        assert_int_equal(km_sim_parse_duration("3600s", &v), 0);
        assert_int_equal(v, 3600);
        assert_int_equal(km_sim_parse_duration("7", &v), 0);
        assert_int_equal(v, 7);
        assert_int_equal(km_sim_parse_duration("1x", &v), -EINVAL);
        assert_int_equal(km_sim_parse_duration("-1h", &v), -EINVAL);
        assert_int_equal(km_sim_parse_time("2026-01-01T00:00:00", &v), 0);
        assert_int_equal(v, 1767225600);
        assert_int_equal(km_sim_parse_time("2026-01-01 01:02", &v), 0);
        assert_int_equal(v, 1767225600 + 3720);
        assert_int_equal(km_sim_parse_time("2026-13-01T00:00:00", &v), -EINVAL);
        assert_int_equal(km_sim_parse_time("yesterday", &v), -EINVAL);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_real_frames),
                cmocka_unit_test(test_bad_input),
                cmocka_unit_test(test_roundtrip_all_lists),
                cmocka_unit_test(test_three_hours),
                cmocka_unit_test(test_parse_helpers),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
