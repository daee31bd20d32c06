/*
 * The simulator's P1 telegrams (src/sim/p1_encode.c) decode back to the
 * values they were made from, through the framer (CRC right) and the parser.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "kaifa/p1.h"
#include "sim/kfm_encode.h"
#include "sim/p1_encode.h"

static km_p1_sim_values sample(int phases)
{
        km_p1_sim_values v = {
                .summer = true,
                .meter_id = "E0044007382246019",
                .tariff = 2,
                .import_wh = {2130115, 245467},
                .export_wh = {12, 0},
                .p_import = 1111,
                .p_export = 0,
                .phases = phases,
                .voltage = {2299, 2292, 2229},
                .current = {4600, 1000, 0},
                .power_l = {1000, 100, 11},
                .gas_id = "G0039001936990619",
                .gas_litres = 246138,
        };
        km_kfm_datetime(2020, 4, 26, 22, 33, 25, &v.clock);
        km_kfm_datetime(2020, 4, 26, 22, 30, 0, &v.gas_time);
        return v;
}

static double number(const km_reading *r, const char *name)
{
        const km_value *v = km_reading_find(r, name);
        assert_non_null(v);
        assert_int_equal(v->kind, KM_VALUE_NUMBER);
        return km_value_number(v);
}

static void test_round_trip(void **state)
{
        (void)state;
        for (int phases = 1; phases <= 3; phases += 2) {
                km_p1_sim_values v = sample(phases);
                char t[KM_P1_SIM_MAX];
                int n = km_p1_sim_encode(&v, t, sizeof t);
                assert_true(n > 0);
                static km_p1 p;
                km_p1_init(&p);
                assert_int_equal(km_p1_push(&p, (const uint8_t *)t, (size_t)n), (size_t)n - 2);
                km_p1_out o;
                assert_int_equal(km_p1_next(&p, &o), KM_P1_TELEGRAM);
                assert_true(o.has_crc);
                static km_reading r;
                assert_int_equal(km_p1_parse(o.text, o.len, &r), KM_OK);
                assert_int_equal(r.n_unparsed, 0);
                assert_string_equal(r.maker, "Kaifa");
                assert_string_equal(r.list_name, "DSMR 5.0 P1");
                assert_string_equal(km_reading_text(&r, "meter_id"), "E0044007382246019");
                assert_true(r.has_clock);
                assert_int_equal(r.clock.minute, 33);
                assert_int_equal(r.clock.status, 0x80);
                assert_true(number(&r, "energy_active_cum_import_t1") == 2130.115);
                assert_true(number(&r, "energy_active_cum_import_t2") == 245.467);
                assert_true(number(&r, "energy_active_cum_export_t1") == 0.012);
                assert_true(number(&r, "power_active_import") == 1111);
                assert_string_equal(km_reading_text(&r, "tariff_indicator"), "0002");
                assert_true(number(&r, "phase_voltage_l1") == 229.9);
                assert_true(number(&r, "phase_current_l1") == 5);
                assert_true(number(&r, "power_active_import_l1") == 1000);
                assert_int_equal(km_reading_find(&r, "phase_voltage_l3") != NULL, phases == 3);
                const km_value *gas = km_reading_find(&r, "mbus1_delivered");
                assert_non_null(gas);
                assert_true(km_value_number(gas) == 246.138);
                assert_true(gas->has_captured);
                assert_int_equal(gas->captured.minute, 30);
                assert_string_equal(km_reading_text(&r, "mbus1_id"), "G0039001936990619");
        }
}

static void test_errors(void **state)
{
        (void)state;
        km_p1_sim_values v = sample(3);
        char t[64];
        assert_int_equal(km_p1_sim_encode(&v, t, sizeof t), -ENOBUFS);
        v.tariff = 3;
        assert_int_equal(km_p1_sim_encode(&v, t, sizeof t), -EINVAL);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_round_trip),
                cmocka_unit_test(test_errors),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
