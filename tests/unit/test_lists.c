/*
 * List decoding through km_info_decode()/km_apdu_decode(): every list form of
 * the real APDUs in tests/data/captures/amshan (Kaifa NO lists 1/2/3, Kaifa
 * SE with inline OBIS codes, Aidon NO lists 1/2/3 and SE, Kamstrup NO
 * 1-phase/3-phase lists 1/2 and SE), protocol.md's H2/H3 frames from the
 * smidsrod capture, and Kaifa one-phase lists 2 (9 items) and 3 (14 items)
 * built here. Checks list name, maker, value names, OBIS codes, scaled
 * values (km_value_number) and units, the three header clock forms, the
 * error cases (unknown positional list, ciphered APDU, not a notification),
 * capacity limits, and every APDU cut at every length.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "unit_util.h"

#define AMSHAN "captures/amshan/"

static km_reading *new_reading(void)
{
        km_reading *r = malloc(sizeof(*r));
        assert_non_null(r);
        memset(r, 0xA5, sizeof(*r)); /* as dirty as a reused stack slot */
        return r;
}

static km_reading *decode_file(const char *name, km_status want)
{
        char rel[256];
        snprintf(rel, sizeof(rel), AMSHAN "%s", name);
        size_t n;
        uint8_t *p = load_data_file(rel, &n);
        km_reading *r = new_reading();
        km_status s = km_info_decode(p, n, r);
        if (s != want)
                fail_msg("%s: status %d (%s), expected %d", name, s, km_strerror(s), want);
        free(p);
        return r;
}

static const km_value *value(const km_reading *r, const char *name)
{
        const km_value *v = km_reading_find(r, name);
        if (!v)
                fail_msg("no value named %s", name);
        return v;
}

static void expect_number(const km_reading *r, const char *name, double want, km_unit unit)
{
        const km_value *v = value(r, name);
        if (v->kind != KM_VALUE_NUMBER)
                fail_msg("%s: kind %d", name, v->kind);
        double got = km_value_number(v);
        if (!(got - want <= 1e-9 * (want < 0 ? -want : want) + 1e-12 &&
              want - got <= 1e-9 * (want < 0 ? -want : want) + 1e-12))
                fail_msg("%s: %.17g, expected %.17g (raw %lld scaler %d)", name, got, want, (long long)v->raw,
                         v->scaler);
        if (v->unit != unit)
                fail_msg("%s: unit %s (%d), expected %s", name, km_unit_symbol(v->unit), v->unit,
                         km_unit_symbol(unit));
}

static void expect_text(const km_reading *r, const char *name, const char *want)
{
        const char *got = km_reading_text(r, name);
        if (!got)
                fail_msg("%s: no text value", name);
        if (strcmp(got, want) != 0)
                fail_msg("%s: \"%s\", expected \"%s\"", name, got, want);
        assert_int_equal(value(r, name)->text_len, strlen(want));
}

static void expect_obis(const km_reading *r, const char *name, const char *code)
{
        char buf[KM_OBIS_STR_MAX];
        const km_value *v = value(r, name);
        assert_string_equal(km_obis_format(v->obis, buf, sizeof(buf)), code);
        assert_non_null(v->info);
        assert_string_equal(v->info->name, name);
}

static void expect_dt(const km_datetime *dt, unsigned y, unsigned mo, unsigned d, unsigned wd, unsigned h,
                      unsigned mi, unsigned s, int dev, unsigned status)
{
        if (dt->year != y || dt->month != mo || dt->day != d || dt->weekday != wd || dt->hour != h ||
            dt->minute != mi || dt->second != s || dt->deviation != dev || dt->status != status)
                fail_msg("date-time %04u-%02u-%02u (%u) %02u:%02u:%02u dev %d status %u, expected "
                         "%04u-%02u-%02u (%u) %02u:%02u:%02u dev %d status %u",
                         dt->year, dt->month, dt->day, dt->weekday, dt->hour, dt->minute, dt->second,
                         dt->deviation, dt->status, y, mo, d, wd, h, mi, s, dev, status);
}

static void expect_meter_clock(const km_reading *r, unsigned y, unsigned mo, unsigned d, unsigned wd, unsigned h,
                               unsigned mi, unsigned s, int dev, unsigned status)
{
        const km_value *v = value(r, "meter_timestamp");
        assert_int_equal(v->kind, KM_VALUE_DATETIME);
        expect_dt(&v->datetime, y, mo, d, wd, h, mi, s, dev, status);
}

/* Every value has a known code (names come from the OBIS table). */
static void expect_all_known(const km_reading *r)
{
        char buf[KM_OBIS_STR_MAX];
        for (size_t i = 0; i < r->n_values; i++)
                if (!r->values[i].info)
                        fail_msg("value %zu (%s) has no table entry", i,
                                 km_obis_format(r->values[i].obis, buf, sizeof(buf)));
}

/* The list name of a list that names itself begins like its version text. */
static void expect_named_list(const km_reading *r, const char *version, const char *maker)
{
        assert_non_null(r->list_name);
        assert_true(strlen(r->list_name) > 0);
        assert_int_equal(strncmp(version, r->list_name, strlen(r->list_name) < strlen(version) ?
                                                                strlen(r->list_name) : strlen(version)),
                         0);
        assert_non_null(r->maker);
        assert_string_equal(r->maker, maker);
        expect_text(r, "obis_version", version);
}

/* ---- Kaifa KFM_001 (Norway, positional) --------------------------------- */

static void test_kaifa_no_list1(void **state)
{
        (void)state;
        km_reading *r = decode_file("kaifa-no-list-1.llc.bin", KM_OK);
        assert_string_equal(r->list_name, "KFM_001 list 1");
        assert_string_equal(r->maker, "Kaifa");
        assert_int_equal(r->invoke_id, 0x40000000);
        assert_true(r->has_clock); /* 09 0C form */
        expect_dt(&r->clock, 2019, 2, 4, 1, 23, 52, 22, KM_DEVIATION_UNSPECIFIED, 0);
        assert_int_equal(r->n_values, 1);
        expect_number(r, "power_active_import", 5852, KM_UNIT_W);
        expect_obis(r, "power_active_import", "1-0:1.7.0.255");
        assert_null(km_reading_find(r, "meter_id"));
        free(r);
}

static void test_kaifa_no_list2(void **state)
{
        (void)state;
        km_reading *r = decode_file("kaifa-no-list-2.llc.bin", KM_OK);
        assert_string_equal(r->list_name, "KFM_001 list 2 (3-phase)");
        assert_string_equal(r->maker, "Kaifa");
        assert_true(r->has_clock);
        expect_dt(&r->clock, 2020, 1, 25, 6, 13, 9, 30, KM_DEVIATION_UNSPECIFIED, 0);
        assert_int_equal(r->n_values, 13);
        expect_all_known(r);
        expect_text(r, "obis_version", "KFM_001");
        expect_text(r, "meter_id", "6970631402614476");
        expect_text(r, "meter_type", "MA304H3E");
        expect_obis(r, "obis_version", "1-1:0.2.129.255");
        expect_obis(r, "meter_id", "0-0:96.1.0.255");
        expect_obis(r, "meter_type", "0-0:96.1.7.255");
        expect_number(r, "power_active_import", 9745, KM_UNIT_W);
        expect_number(r, "power_active_export", 0, KM_UNIT_W);
        expect_number(r, "power_reactive_import", 0, KM_UNIT_VAR);
        expect_number(r, "power_reactive_export", 435, KM_UNIT_VAR);
        expect_number(r, "phase_current_l1", 33.813, KM_UNIT_A); /* mA */
        expect_number(r, "phase_current_l2", 28.103, KM_UNIT_A);
        expect_number(r, "phase_current_l3", 18.178, KM_UNIT_A);
        expect_number(r, "phase_voltage_l1", 216.8, KM_UNIT_V); /* 0.1 V */
        expect_number(r, "phase_voltage_l2", 0, KM_UNIT_V);
        expect_number(r, "phase_voltage_l3", 218.8, KM_UNIT_V);
        expect_obis(r, "phase_current_l2", "1-0:51.7.0.255");
        expect_obis(r, "phase_voltage_l3", "1-0:72.7.0.255");
        free(r);
}

static void test_kaifa_no_list3(void **state)
{
        (void)state;
        km_reading *r = decode_file("kaifa-no-list-3.llc.bin", KM_OK);
        assert_string_equal(r->list_name, "KFM_001 list 3 (3-phase)");
        assert_string_equal(r->maker, "Kaifa");
        expect_dt(&r->clock, 2020, 1, 25, 6, 14, 0, 10, KM_DEVIATION_UNSPECIFIED, 0);
        assert_int_equal(r->n_values, 18);
        expect_all_known(r);
        expect_text(r, "meter_type", "MA304H3E");
        expect_number(r, "power_active_import", 4904, KM_UNIT_W);
        expect_number(r, "power_reactive_export", 377, KM_UNIT_VAR);
        expect_number(r, "phase_current_l1", 14.571, KM_UNIT_A);
        expect_number(r, "phase_current_l2", 15.643, KM_UNIT_A);
        expect_number(r, "phase_current_l3", 9.525, KM_UNIT_A);
        expect_number(r, "phase_voltage_l1", 219.3, KM_UNIT_V);
        expect_number(r, "phase_voltage_l3", 220.5, KM_UNIT_V);
        expect_meter_clock(r, 2020, 1, 25, 6, 14, 0, 10, KM_DEVIATION_UNSPECIFIED, 0);
        expect_obis(r, "meter_timestamp", "0-0:1.0.0.255");
        /* energies in Wh on the wire, shown in kWh */
        expect_number(r, "energy_active_cum_import", 79591.144, KM_UNIT_KWH);
        expect_number(r, "energy_active_cum_export", 0, KM_UNIT_KWH);
        expect_number(r, "energy_reactive_cum_import", 889.389, KM_UNIT_KVARH);
        expect_number(r, "energy_reactive_cum_export", 3210.932, KM_UNIT_KVARH);
        expect_obis(r, "energy_reactive_cum_export", "1-0:4.8.0.255");
        free(r);
}

/* protocol.md H2 and H3, straight from the smidsrod capture. */
static km_reading *decode_capture_frame(const char *rel, size_t offset)
{
        size_t n;
        uint8_t *p = load_data_file(rel, &n);
        assert_true(offset + 8 < n);
        assert_int_equal(p[offset], 0x7E);
        km_hdlc_header h;
        assert_int_equal(km_hdlc_parse_frame(p + offset + 1, n - offset - 1, false, &h), KM_OK);
        km_reading *r = new_reading();
        assert_int_equal(km_info_decode(h.info, h.info_len, r), KM_OK);
        free(p);
        return r;
}

static void test_kaifa_h2_h3(void **state)
{
        (void)state;
        km_reading *r = decode_capture_frame("captures/smidsrod/KFM_001/MA304T4-3-ok.bin", 123);
        assert_string_equal(r->list_name, "KFM_001 list 2 (3-phase)");
        expect_dt(&r->clock, 2017, 1, 18, 3, 14, 18, 0, KM_DEVIATION_UNSPECIFIED, 0);
        expect_text(r, "meter_id", "6970631400000233");
        expect_text(r, "meter_type", "MA304T4");
        expect_number(r, "power_active_import", 446, KM_UNIT_W);
        expect_number(r, "power_reactive_export", 5, KM_UNIT_VAR);
        expect_number(r, "phase_current_l1", 1.616, KM_UNIT_A);
        expect_number(r, "phase_current_l2", 0.914, KM_UNIT_A);
        expect_number(r, "phase_current_l3", 0.950, KM_UNIT_A);
        expect_number(r, "phase_voltage_l1", 138.7, KM_UNIT_V);
        expect_number(r, "phase_voltage_l2", 137.8, KM_UNIT_V);
        expect_number(r, "phase_voltage_l3", 137.7, KM_UNIT_V);
        /* 1616 x 10^-3 is the double nearest 1.616, as the reference prints it */
        assert_true(km_value_number(value(r, "phase_current_l1")) == 1.616);
        assert_true(km_value_number(value(r, "phase_voltage_l1")) == 138.7);
        free(r);

        r = decode_capture_frame("captures/smidsrod/KFM_001/MA304T4-3-ok.bin", 72072);
        assert_string_equal(r->list_name, "KFM_001 list 3 (3-phase)");
        assert_int_equal(r->n_values, 18);
        expect_dt(&r->clock, 2017, 1, 18, 3, 15, 0, 0, KM_DEVIATION_UNSPECIFIED, 0);
        expect_meter_clock(r, 2017, 1, 18, 3, 15, 0, 0, KM_DEVIATION_UNSPECIFIED, 0);
        expect_number(r, "power_active_import", 215, KM_UNIT_W);
        expect_number(r, "phase_current_l3", 0.025, KM_UNIT_A);
        expect_number(r, "phase_voltage_l2", 137.2, KM_UNIT_V);
        expect_number(r, "energy_active_cum_import", 801.652, KM_UNIT_KWH);
        expect_number(r, "energy_active_cum_export", 0.113, KM_UNIT_KWH);
        expect_number(r, "energy_reactive_cum_import", 188.933, KM_UNIT_KVARH);
        expect_number(r, "energy_reactive_cum_export", 6.041, KM_UNIT_KVARH);
        assert_true(km_value_number(value(r, "energy_active_cum_import")) == 801.652);
        free(r);
}

#define KAIFA_HDR "0F 40 00 00 00 09 0C 07 E4 01 19 06 0E 00 0A FF 80 00 00 "
#define KAIFA_TEXTS "09 07 4B 46 4D 5F 30 30 31 09 10 36 39 37 30 36 33 31 34 30 32 36 31 34 34 37 36 " \
                    "09 08 4D 41 31 30 35 48 32 45 "

static km_reading *decode_hex_apdu(const char *hex, km_status want)
{
        uint8_t tmp[1024];
        size_t n = hex_to_bytes(hex, tmp, sizeof(tmp));
        uint8_t *p = exact_copy(tmp, n);
        km_reading *r = new_reading();
        km_status s = km_apdu_decode(p, n, r);
        if (s != want)
                fail_msg("status %d (%s), expected %d", s, km_strerror(s), want);
        free(p);
        return r;
}

static void test_kaifa_one_phase_list2(void **state)
{
        (void)state;
        km_reading *r = decode_hex_apdu(KAIFA_HDR "02 09 " KAIFA_TEXTS
                                        "06 00 00 04 D2 06 00 00 00 07 06 00 00 00 00 06 00 00 00 2A "
                                        "06 00 00 1F 40 06 00 00 09 06",
                                        KM_OK);
        assert_string_equal(r->list_name, "KFM_001 list 2 (1-phase)");
        assert_string_equal(r->maker, "Kaifa");
        assert_int_equal(r->n_values, 9);
        expect_all_known(r);
        expect_text(r, "meter_type", "MA105H2E");
        expect_number(r, "power_active_import", 1234, KM_UNIT_W);
        expect_number(r, "power_active_export", 7, KM_UNIT_W);
        expect_number(r, "power_reactive_export", 42, KM_UNIT_VAR);
        expect_number(r, "phase_current_l1", 8.0, KM_UNIT_A);
        expect_number(r, "phase_voltage_l1", 231.0, KM_UNIT_V); /* 0x0906 */
        assert_null(km_reading_find(r, "phase_current_l2"));
        assert_null(km_reading_find(r, "phase_voltage_l2"));
        free(r);
}

static void test_kaifa_one_phase_list3(void **state)
{
        (void)state;
        km_reading *r = decode_hex_apdu(KAIFA_HDR "02 0E " KAIFA_TEXTS
                                        "06 00 00 04 D2 06 00 00 00 07 06 00 00 00 00 06 00 00 00 2A "
                                        "06 00 00 1F 40 06 00 00 09 06 "
                                        "09 0C 07 E4 01 19 06 0E 00 00 FF 80 00 00 "
                                        "06 00 0C 3B 74 06 00 00 00 71 06 00 02 E2 05 06 00 00 17 99",
                                        KM_OK);
        assert_string_equal(r->list_name, "KFM_001 list 3 (1-phase)");
        assert_int_equal(r->n_values, 14);
        expect_all_known(r);
        expect_number(r, "phase_voltage_l1", 231.0, KM_UNIT_V); /* 0x0906 */
        expect_meter_clock(r, 2020, 1, 25, 6, 14, 0, 0, KM_DEVIATION_UNSPECIFIED, 0);
        expect_number(r, "energy_active_cum_import", 801.652, KM_UNIT_KWH);
        expect_number(r, "energy_active_cum_export", 0.113, KM_UNIT_KWH);
        expect_number(r, "energy_reactive_cum_import", 188.933, KM_UNIT_KVARH);
        expect_number(r, "energy_reactive_cum_export", 6.041, KM_UNIT_KVARH);
        assert_null(km_reading_find(r, "phase_current_l3"));
        free(r);
}

/* Values are decoded by the tag on the wire: a signed current (0x10), an
 * unsigned 16-bit voltage (0x12) and 64-bit energies (0x15, Swedish CT). */
static void test_kaifa_types_by_tag(void **state)
{
        (void)state;
        km_reading *r = decode_hex_apdu(KAIFA_HDR "02 0E " KAIFA_TEXTS
                                        "05 FF FF FF F6 06 00 00 00 00 06 00 00 00 00 06 00 00 00 00 "
                                        "10 FF 38 12 09 06 "
                                        "09 0C 07 E4 01 19 06 0E 00 00 FF 80 00 00 "
                                        "15 00 00 00 01 00 00 00 00 15 00 00 00 00 00 00 00 71 "
                                        "06 00 02 E2 05 06 00 00 17 99",
                                        KM_OK);
        expect_number(r, "power_active_import", -10, KM_UNIT_W);
        expect_number(r, "phase_current_l1", -0.2, KM_UNIT_A);
        expect_number(r, "phase_voltage_l1", 231.0, KM_UNIT_V); /* 0x0906 */
        expect_number(r, "energy_active_cum_import", 4294967.296, KM_UNIT_KWH);
        expect_number(r, "energy_active_cum_export", 0.113, KM_UNIT_KWH);
        free(r);
}

static void test_kaifa_se_inline_obis(void **state)
{
        (void)state;
        km_reading *r = decode_file("kaifa-se-list.llc.bin", KM_OK);
        assert_false(r->has_clock); /* 00 form */
        expect_named_list(r, "KFM_001", "Kaifa");
        assert_int_equal(r->n_values, 18);
        expect_all_known(r);
        expect_obis(r, "obis_version", "1-0:0.2.129.255");
        expect_text(r, "meter_id", "7340734073407340");
        expect_text(r, "meter_type", "MA304H4");
        expect_number(r, "power_active_import", 2816, KM_UNIT_W);
        expect_number(r, "power_reactive_export", 66, KM_UNIT_VAR);
        expect_number(r, "phase_current_l1", 6.781, KM_UNIT_A);
        expect_number(r, "phase_current_l2", 0.790, KM_UNIT_A);
        expect_number(r, "phase_current_l3", 6.125, KM_UNIT_A);
        expect_number(r, "phase_voltage_l1", 232.2, KM_UNIT_V);
        expect_number(r, "phase_voltage_l2", 230.0, KM_UNIT_V);
        expect_number(r, "phase_voltage_l3", 228.9, KM_UNIT_V);
        expect_meter_clock(r, 2021, 9, 22, 3, 17, 35, 30, -60, 0);
        assert_int_equal(value(r, "meter_timestamp")->datetime.hundredths, 0xFF);
        expect_number(r, "energy_active_cum_import", 4786.979, KM_UNIT_KWH);
        expect_number(r, "energy_active_cum_export", 0, KM_UNIT_KWH);
        expect_number(r, "energy_reactive_cum_import", 26.228, KM_UNIT_KVARH);
        expect_number(r, "energy_reactive_cum_export", 578.528, KM_UNIT_KVARH);
        free(r);
}

/* ---- Aidon AIDON_V0001 (registers with inline scaler-unit) -------------- */

static void test_aidon_no_list1(void **state)
{
        (void)state;
        km_reading *r = decode_file("aidon-no-list-1.llc.bin", KM_OK);
        assert_false(r->has_clock);
        assert_int_equal(r->n_values, 1);
        expect_number(r, "power_active_import", 280, KM_UNIT_W);
        expect_obis(r, "power_active_import", "1-0:1.7.0.255");
        assert_true(r->values[0].scaler_inline);
        /* nothing in a list 1 names the maker; the sinks treat NULL as unknown */
        assert_non_null(r->list_name);
        assert_null(r->maker);
        free(r);
}

static void expect_aidon_list2_values(const km_reading *r)
{
        expect_text(r, "meter_id", "7359992892587665");
        expect_text(r, "meter_type", "6525");
        expect_number(r, "power_active_import", 280, KM_UNIT_W);
        expect_number(r, "power_active_export", 0, KM_UNIT_W);
        expect_number(r, "power_reactive_import", 0, KM_UNIT_VAR);
        expect_number(r, "power_reactive_export", 128, KM_UNIT_VAR);
        expect_number(r, "phase_current_l1", 1.3, KM_UNIT_A); /* scaler -1 */
        expect_number(r, "phase_current_l3", 0.9, KM_UNIT_A);
        assert_null(km_reading_find(r, "phase_current_l2")); /* 3-wire meter: no IL2 */
        assert_int_equal(value(r, "phase_current_l1")->scaler, -1);
        assert_int_equal(value(r, "phase_current_l1")->raw, 13);
}

static void test_aidon_no_list2(void **state)
{
        (void)state;
        km_reading *r = decode_file("aidon-no-list-2.llc.bin", KM_OK);
        assert_false(r->has_clock);
        expect_named_list(r, "AIDON_V0001", "Aidon");
        assert_int_equal(r->n_values, 12);
        expect_all_known(r);
        expect_aidon_list2_values(r);
        expect_number(r, "phase_voltage_l1", 227.4, KM_UNIT_V);
        expect_number(r, "phase_voltage_l2", 230.1, KM_UNIT_V);
        expect_number(r, "phase_voltage_l3", 230.8, KM_UNIT_V);
        free(r);
}

static void test_aidon_no_list3(void **state)
{
        (void)state;
        km_reading *r = decode_file("aidon-no-list-3.llc.bin", KM_OK);
        expect_named_list(r, "AIDON_V0001", "Aidon");
        assert_int_equal(r->n_values, 17);
        expect_all_known(r);
        expect_aidon_list2_values(r);
        expect_number(r, "phase_voltage_l1", 227.6, KM_UNIT_V);
        expect_number(r, "phase_voltage_l3", 230.9, KM_UNIT_V);
        expect_meter_clock(r, 2020, 1, 21, 2, 16, 0, 0, 0, 0);
        /* energies: raw x 10 (scaler 1) in Wh, as the meter says */
        expect_number(r, "energy_active_cum_import", 22721380, KM_UNIT_WH);
        expect_number(r, "energy_active_cum_export", 0, KM_UNIT_WH);
        expect_number(r, "energy_reactive_cum_import", 582430, KM_UNIT_VARH);
        expect_number(r, "energy_reactive_cum_export", 1708430, KM_UNIT_VARH);
        const km_value *v = value(r, "energy_active_cum_import");
        assert_int_equal(v->scaler, 1);
        assert_true(v->scaler_inline);
        /* and the display unit conversion the sinks apply */
        int exp = 0;
        assert_int_equal(km_unit_display(v->unit, &exp), KM_UNIT_KWH);
        assert_int_equal(exp, -3);
        assert_double_near(km_scale10(km_value_number(v), exp), 22721.38);
        free(r);
}

static void test_aidon_se(void **state)
{
        (void)state;
        km_reading *r = decode_file("aidon-se-list.llc.bin", KM_OK);
        assert_false(r->has_clock);
        assert_int_equal(r->n_values, 27);
        expect_all_known(r);
        expect_meter_clock(r, 2019, 12, 16, 1, 7, 59, 40, KM_DEVIATION_UNSPECIFIED, 0xFF);
        expect_number(r, "power_active_import", 1122, KM_UNIT_W);
        expect_number(r, "power_reactive_import", 1507, KM_UNIT_VAR);
        expect_number(r, "phase_current_l2", 7.5, KM_UNIT_A);
        expect_number(r, "phase_voltage_l2", 249.9, KM_UNIT_V);
        expect_number(r, "power_active_import_l1", 0, KM_UNIT_W);
        expect_number(r, "power_active_import_l2", 1122, KM_UNIT_W);
        expect_number(r, "power_reactive_import_l2", 1506, KM_UNIT_VAR);
        expect_obis(r, "power_reactive_import_l2", "1-0:43.7.0.255");
        expect_number(r, "energy_active_cum_import", 10049926, KM_UNIT_WH); /* scaler 0 here */
        expect_number(r, "energy_active_cum_export", 8, KM_UNIT_WH);
        expect_number(r, "energy_reactive_cum_import", 6614347, KM_UNIT_VARH);
        expect_number(r, "energy_reactive_cum_export", 5, KM_UNIT_VARH);
        assert_null(r->maker); /* no list version in the Swedish list */
        free(r);
}

/* ---- Kamstrup Kamstrup_V0001 (OBIS/value pairs, scaling from the list) --- */

static void test_kamstrup_list1_three_phase(void **state)
{
        (void)state;
        km_reading *r = decode_file("kamstrup-no-list-1-three-phase.llc.bin", KM_OK);
        assert_true(r->has_clock); /* 0C form, without the 09 */
        expect_dt(&r->clock, 2000, 1, 1, 6, 22, 33, 0, KM_DEVIATION_UNSPECIFIED, 1);
        expect_named_list(r, "Kamstrup_V0001", "Kamstrup");
        assert_int_equal(r->n_values, 13);
        expect_all_known(r);
        expect_obis(r, "meter_id", "1-1:0.0.5.255");
        expect_obis(r, "meter_type", "1-1:96.1.1.255");
        expect_obis(r, "power_active_import", "1-1:1.7.0.255");
        expect_text(r, "meter_id", "5706567000000000");
        expect_text(r, "meter_type", "000000000000000000");
        expect_number(r, "phase_voltage_l3", 0, KM_UNIT_V);
        free(r);
}

static void test_kamstrup_list1_single_phase_real(void **state)
{
        (void)state;
        km_reading *r = decode_file("kamstrup-no-list-1-single-phase-real-sample.llc.bin", KM_OK);
        expect_dt(&r->clock, 2022, 1, 17, 1, 12, 44, 40, KM_DEVIATION_UNSPECIFIED, 0);
        expect_named_list(r, "Kamstrup_V0001", "Kamstrup");
        assert_int_equal(r->n_values, 9); /* null placeholders leave no values */
        expect_all_known(r);
        expect_text(r, "meter_id", "5705705705705702");
        expect_text(r, "meter_type", "6861111BN242101040");
        expect_number(r, "power_active_import", 1896, KM_UNIT_W);
        expect_number(r, "power_reactive_export", 493, KM_UNIT_VAR);
        expect_number(r, "phase_current_l1", 8.96, KM_UNIT_A); /* 0.01 A */
        expect_number(r, "phase_voltage_l1", 225, KM_UNIT_V);  /* 1 V */
        assert_int_equal(value(r, "phase_current_l1")->scaler, -2);
        assert_null(km_reading_find(r, "phase_current_l2"));
        free(r);
}

static void test_kamstrup_list2_single_phase_real(void **state)
{
        (void)state;
        km_reading *r = decode_file("kamstrup-no-list-2-single-phase-real-sample.llc.bin", KM_OK);
        expect_dt(&r->clock, 2021, 11, 24, 3, 0, 0, 25, KM_DEVIATION_UNSPECIFIED, 0);
        expect_named_list(r, "Kamstrup_V0001", "Kamstrup");
        assert_int_equal(r->n_values, 14);
        expect_all_known(r);
        expect_number(r, "power_active_import", 10050, KM_UNIT_W);
        expect_number(r, "power_reactive_export", 279, KM_UNIT_VAR);
        expect_number(r, "phase_current_l1", 45.12, KM_UNIT_A);
        expect_number(r, "phase_voltage_l1", 223, KM_UNIT_V);
        expect_meter_clock(r, 2021, 11, 24, 3, 0, 0, 25, KM_DEVIATION_UNSPECIFIED, 0);
        expect_obis(r, "meter_timestamp", "0-1:1.0.0.255");
        /* energies in 10 Wh, shown in kWh (scaler -2) */
        expect_number(r, "energy_active_cum_import", 77452.50, KM_UNIT_KWH);
        expect_number(r, "energy_active_cum_export", 0, KM_UNIT_KWH);
        expect_number(r, "energy_reactive_cum_import", 137.31, KM_UNIT_KVARH);
        expect_number(r, "energy_reactive_cum_export", 11415.87, KM_UNIT_KVARH);
        assert_int_equal(value(r, "energy_active_cum_import")->scaler, -2);
        expect_obis(r, "energy_active_cum_import", "1-1:1.8.0.255");
        free(r);
}

static void test_kamstrup_list2_single_and_three_phase(void **state)
{
        (void)state;
        km_reading *r = decode_file("kamstrup-no-list-2-single-phase.llc.bin", KM_OK);
        expect_dt(&r->clock, 2017, 8, 16, 3, 16, 0, 5, KM_DEVIATION_UNSPECIFIED, 0);
        expect_named_list(r, "Kamstrup_V0001", "Kamstrup");
        assert_int_equal(r->n_values, 8);
        expect_all_known(r);
        expect_meter_clock(r, 2017, 8, 16, 3, 16, 0, 5, KM_DEVIATION_UNSPECIFIED, 0);
        expect_number(r, "energy_active_cum_import", 0, KM_UNIT_KWH);
        expect_number(r, "phase_current_l1", 0, KM_UNIT_A);
        free(r);

        r = decode_file("kamstrup-no-list-2-three-phase.llc.bin", KM_OK);
        expect_named_list(r, "Kamstrup_V0001", "Kamstrup");
        assert_int_equal(r->n_values, 18);
        expect_all_known(r);
        expect_number(r, "phase_current_l3", 0, KM_UNIT_A);
        expect_number(r, "energy_reactive_cum_export", 0, KM_UNIT_KVARH);
        free(r);
}

static void test_kamstrup_se(void **state)
{
        (void)state;
        km_reading *r = decode_file("kamstrup-se-list-real-sample.llc.bin", KM_OK);
        expect_dt(&r->clock, 2022, 1, 24, 1, 18, 58, 50, KM_DEVIATION_UNSPECIFIED, 0);
        expect_named_list(r, "Kamstrup_V0001", "Kamstrup");
        assert_int_equal(r->n_values, 13);
        expect_all_known(r);
        expect_text(r, "meter_id", "5705705705705707");
        expect_text(r, "meter_type", "6841138BN245101090");
        expect_number(r, "power_active_import", 826, KM_UNIT_W);
        expect_number(r, "power_reactive_import", 104, KM_UNIT_VAR);
        expect_number(r, "power_reactive_export", 176, KM_UNIT_VAR);
        expect_number(r, "phase_current_l1", 2.37, KM_UNIT_A);
        expect_number(r, "phase_current_l2", 0.89, KM_UNIT_A);
        expect_number(r, "phase_current_l3", 0.75, KM_UNIT_A);
        expect_number(r, "phase_voltage_l1", 232, KM_UNIT_V);
        expect_number(r, "phase_voltage_l2", 233, KM_UNIT_V);
        expect_number(r, "phase_voltage_l3", 236, KM_UNIT_V);
        free(r);
}

/* A generic DLMS list as Polish/Austrian meters send it after decryption
 * (protocol.md section f): an OBIS/clock pair, then {OBIS, text} and
 * {OBIS, value, scaler-unit} structures, in one body. */
static void test_generic_dlms_list(void **state)
{
        (void)state;
        km_reading *r = decode_hex_apdu(
                "0F 00 00 18 CF 0C 07 E5 09 1B 01 14 38 00 00 FF 88 80 02 09"
                " 09 06 00 00 01 00 00 FF 09 0C 07 E5 09 1B 01 14 38 00 00 FF 88 80"
                " 02 02 09 06 00 00 60 01 00 FF 09 0E 31 4B 46 4D 30 32 30 30 31 36 39 39 38 36"
                " 02 02 09 06 00 00 2A 00 00 FF 09 10 4B 46 4D 31 32 30 30 32 30 30 31 36 39 39 38 36"
                " 02 03 09 06 01 00 20 07 00 FF 12 08 DF 02 02 0F FF 16 23"
                " 02 03 09 06 01 00 1F 07 00 FF 12 04 D9 02 02 0F FE 16 21"
                " 02 03 09 06 01 00 01 07 00 FF 06 00 00 0B 33 02 02 0F 00 16 1B"
                " 02 03 09 06 01 00 01 08 00 FF 06 00 04 3E 19 02 02 0F 00 16 1E"
                " 02 03 09 06 01 00 04 08 00 FF 06 00 00 96 B8 02 02 0F 00 16 20",
                KM_OK);
        assert_non_null(r->list_name);
        assert_null(r->maker); /* no family claims it */
        assert_int_equal(r->n_values, 8);
        expect_all_known(r);
        expect_dt(&r->clock, 2021, 9, 27, 1, 20, 56, 0, -120, 0x80);
        expect_meter_clock(r, 2021, 9, 27, 1, 20, 56, 0, -120, 0x80);
        expect_text(r, "meter_id", "1KFM0200169986");
        expect_text(r, "logical_device_name", "KFM1200200169986");
        expect_number(r, "phase_voltage_l1", 227.1, KM_UNIT_V);
        expect_number(r, "phase_current_l1", 12.41, KM_UNIT_A);
        expect_number(r, "power_active_import", 2867, KM_UNIT_W);
        expect_number(r, "energy_active_cum_import", 278041, KM_UNIT_WH);
        expect_number(r, "energy_reactive_cum_export", 38584, KM_UNIT_VARH);
        free(r);
}

/* Kamstrup CT meters (type numbers starting 685) count current in mA. */
static void test_kamstrup_ct_meter_current(void **state)
{
        (void)state;
        km_reading *r = decode_hex_apdu("0F 00 00 00 00 00 02 07 0A 0E 4B 61 6D 73 74 72 75 70 5F 56 30 30 30 31"
                                        " 09 06 01 01 60 01 01 FF 0A 04 36 38 35 31"
                                        " 09 06 01 01 1F 07 00 FF 06 00 00 04 D2"
                                        " 09 06 01 01 20 07 00 FF 12 00 E6",
                                        KM_OK);
        expect_named_list(r, "Kamstrup_V0001", "Kamstrup");
        expect_text(r, "meter_type", "6851");
        expect_number(r, "phase_current_l1", 1.234, KM_UNIT_A);
        expect_number(r, "phase_voltage_l1", 230, KM_UNIT_V);
        free(r);
}

/* Generic registers: a float value with its inline scaler-unit, an unknown
 * code (kept, without a name), unit codes mapped from the DLMS enumeration. */
static void test_generic_registers(void **state)
{
        (void)state;
        km_reading *r = decode_hex_apdu("0F 40 00 00 00 00 01 04"
                                        " 02 03 09 06 01 00 0E 07 00 FF 17 42 47 EB 85 02 02 0F 00 16 2C"
                                        " 02 03 09 06 01 00 0D 07 00 FF 12 03 DE 02 02 0F FD 16 FF"
                                        " 02 03 09 06 01 00 63 63 63 FF 10 FF 9C 02 02 0F 02 16 23"
                                        " 02 03 09 06 01 00 01 07 00 FF 05 FF FF FF 9C 02 02 0F 03 16 1B",
                                        KM_OK);
        assert_int_equal(r->n_values, 4);
        const km_value *f = value(r, "frequency");
        assert_int_equal(f->kind, KM_VALUE_FLOAT);
        assert_int_equal(f->unit, KM_UNIT_HZ);
        assert_double_near(km_value_number(f), (double)49.98f);
        expect_number(r, "power_factor", 0.99, KM_UNIT_NONE);
        const km_value *u = &r->values[2];
        assert_null(u->info); /* 1-0:99.99.99.255 is in no table */
        assert_int_equal(u->unit, KM_UNIT_V);
        assert_double_near(km_value_number(u), -10000);
        expect_number(r, "power_active_import", -100000, KM_UNIT_W); /* signed, scaler +3 */
        free(r);
}

/* The OBIS table: sorted look-ups find every row, electricity quantities are
 * found under any channel B, identification rows only exactly. */
static void test_obis_table(void **state)
{
        (void)state;
        size_t n;
        const km_obis_info *t = km_obis_table(&n);
        assert_true(n >= 30);
        for (size_t i = 0; i < n; i++) {
                const km_obis_info *got = km_obis_lookup(t[i].obis);
                if (got != &t[i])
                        fail_msg("row %zu (%s) not found by its own code", i, t[i].name);
                assert_non_null(t[i].name);
                assert_non_null(t[i].description);
                for (const char *c = t[i].name; *c; c++)
                        assert_true((*c >= 'a' && *c <= 'z') || (*c >= '0' && *c <= '9') || *c == '_');
                if (t[i].obis[0] == 1 && t[i].obis[1] == 0 && t[i].state_class) {
                        uint8_t b1[6];
                        memcpy(b1, t[i].obis, 6);
                        b1[1] = 1;
                        const km_obis_info *f = km_obis_lookup(b1);
                        assert_non_null(f);
                        assert_string_equal(f->name, t[i].name);
                }
        }
        static const uint8_t unknown[6] = {1, 0, 99, 99, 99, 255};
        assert_null(km_obis_lookup(unknown));
        static const uint8_t kamstrup_id[6] = {1, 1, 0, 0, 5, 255};
        assert_string_equal(km_obis_lookup(kamstrup_id)->name, "meter_id");
        static const uint8_t p_import[6] = {1, 0, 1, 7, 0, 255};
        const km_obis_info *p = km_obis_lookup(p_import);
        assert_string_equal(p->name, "power_active_import");
        assert_int_equal(p->unit, KM_UNIT_W);
        assert_string_equal(p->device_class, "power");
        assert_string_equal(p->state_class, "measurement");
        static const uint8_t a_import[6] = {1, 0, 1, 8, 0, 255};
        p = km_obis_lookup(a_import);
        assert_string_equal(p->name, "energy_active_cum_import");
        assert_int_equal(p->unit, KM_UNIT_KWH);
        assert_string_equal(p->state_class, "total_increasing");
}

static void test_units(void **state)
{
        (void)state;
        static const struct {
                uint8_t dlms;
                km_unit unit;
                const char *symbol;
        } map[] = {
                {27, KM_UNIT_W, "W"},    {28, KM_UNIT_VA, "VA"}, {29, KM_UNIT_VAR, "var"}, {30, KM_UNIT_WH, "Wh"},
                {31, KM_UNIT_VAH, "VAh"}, {32, KM_UNIT_VARH, "varh"}, {33, KM_UNIT_A, "A"}, {35, KM_UNIT_V, "V"},
                {44, KM_UNIT_HZ, "Hz"},  {56, KM_UNIT_PERCENT, "%"}, {255, KM_UNIT_NONE, ""},
        };
        for (size_t i = 0; i < sizeof(map) / sizeof(map[0]); i++) {
                assert_int_equal(km_unit_from_dlms(map[i].dlms), map[i].unit);
                assert_string_equal(km_unit_symbol(map[i].unit), map[i].symbol);
        }
        assert_string_equal(km_unit_symbol_compat(KM_UNIT_VAR), "VAr");
        assert_string_equal(km_unit_symbol_compat(KM_UNIT_KVARH), "kVArh");
        assert_string_equal(km_unit_symbol(KM_UNIT_KWH), "kWh");
        int e = 99;
        assert_int_equal(km_unit_display(KM_UNIT_WH, &e), KM_UNIT_KWH);
        assert_int_equal(e, -3);
        assert_int_equal(km_unit_display(KM_UNIT_VARH, &e), KM_UNIT_KVARH);
        assert_int_equal(e, -3);
        assert_int_equal(km_unit_display(KM_UNIT_W, &e), KM_UNIT_W);
        assert_int_equal(e, 0);
        assert_int_equal(km_unit_display(KM_UNIT_KWH, &e), KM_UNIT_KWH);
        assert_int_equal(e, 0);
}

/* Formatting helpers of the reading model. */
static void test_formatting(void **state)
{
        (void)state;
        char buf[KM_DATETIME_STR_MAX];
        static const uint8_t o[6] = {1, 0, 31, 7, 0, 255};
        char ob[KM_OBIS_STR_MAX];
        assert_string_equal(km_obis_format(o, ob, sizeof(ob)), "1-0:31.7.0.255");
        static const uint8_t big[6] = {255, 255, 255, 255, 255, 255};
        assert_string_equal(km_obis_format(big, ob, sizeof(ob)), "255-255:255.255.255.255");
        km_datetime dt = {2017, 1, 18, 3, 15, 0, 0, 0xFF, KM_DEVIATION_UNSPECIFIED, 0};
        assert_string_equal(km_datetime_iso8601(&dt, buf, sizeof(buf)), "2017-01-18T15:00:00");
        dt.second = 0xFF; /* not specified */
        assert_string_equal(km_datetime_iso8601(&dt, buf, sizeof(buf)), "2017-01-18T15:00:00");
        assert_double_near(km_scale10(1616, -3), 1.616);
        assert_true(km_scale10(1616, -3) == 1.616);
        assert_true(km_scale10(2272138, 1) == 22721380);
        assert_true(km_scale10(7745250, -2) == 77452.5);
        assert_double_near(km_scale10(5, -12), 5e-12);
        assert_double_near(km_scale10(5, 12), 5e12);
}

/* ---- header, errors, limits --------------------------------------------- */

static void test_header_clock_forms(void **state)
{
        (void)state;
        static const char body[] = "02 01 06 00 00 01 BE";
        static const char *const forms[] = {
                "0F 40 00 00 00 09 0C 07 E1 01 12 03 0E 11 36 FF 80 00 00 ",
                "0F 40 00 00 00 0C 07 E1 01 12 03 0E 11 36 FF 80 00 00 ",
                "0F 40 00 00 00 00 ",
        };
        for (size_t i = 0; i < 3; i++) {
                char hex[256];
                snprintf(hex, sizeof(hex), "%s%s", forms[i], body);
                km_reading *r = decode_hex_apdu(hex, KM_OK);
                assert_string_equal(r->list_name, "KFM_001 list 1");
                expect_number(r, "power_active_import", 446, KM_UNIT_W);
                if (i < 2) {
                        assert_true(r->has_clock);
                        expect_dt(&r->clock, 2017, 1, 18, 3, 14, 17, 54, KM_DEVIATION_UNSPECIFIED, 0);
                        assert_int_equal(r->clock.hundredths, 0xFF);
                } else {
                        assert_false(r->has_clock);
                }
                free(r);
        }
        /* deviation and status as sent: -120 minutes, DST */
        km_reading *r = decode_hex_apdu("0F 00 00 18 CF 0C 07 E5 09 1B 01 14 38 00 00 FF 88 80 02 01 06 00 00 00 01",
                                        KM_OK);
        expect_dt(&r->clock, 2021, 9, 27, 1, 20, 56, 0, -120, 0x80);
        assert_int_equal(r->invoke_id, 0x000018CF);
        free(r);
}

static void test_llc_forms(void **state)
{
        (void)state;
        uint8_t info[64];
        size_t n = hex_to_bytes("E6 E6 00 0F 40 00 00 00 00 02 01 06 00 00 00 2A", info, sizeof(info));
        km_reading *r = new_reading();
        assert_true(km_info_has_llc(info, n));
        assert_int_equal(km_info_decode(info, n, r), KM_OK); /* E6 E6 00 accepted too */
        expect_number(r, "power_active_import", 42, KM_UNIT_W);
        assert_int_equal(km_info_decode(info + 3, n - 3, r), KM_OK); /* raw APDU, no LLC */
        expect_number(r, "power_active_import", 42, KM_UNIT_W);
        assert_false(km_info_has_llc(info, 2));
        free(r);
}

static void test_unknown_lists(void **state)
{
        (void)state;
        static const char *const bodies[] = {
                /* five bare numbers: no Kaifa list has five elements */
                "02 05 06 00 00 00 01 06 00 00 00 02 06 00 00 00 03 06 00 00 00 04 06 00 00 00 05",
                /* 13 elements, but the first is a number, not the list version */
                "02 0D 06 00 00 00 01 06 00 00 00 01 06 00 00 00 01 06 00 00 00 01 06 00 00 00 01"
                " 06 00 00 00 01 06 00 00 00 01 06 00 00 00 01 06 00 00 00 01 06 00 00 00 01"
                " 06 00 00 00 01 06 00 00 00 01 06 00 00 00 01",
                /* list 1 shape with a text value */
                "02 01 09 03 41 42 43",
                /* a bare number as the body */
                "06 00 00 00 01",
                /* an empty structure */
                "02 00",
        };
        for (size_t i = 0; i < sizeof(bodies) / sizeof(bodies[0]); i++) {
                char hex[600];
                snprintf(hex, sizeof(hex), "0F 40 00 00 00 00 %s", bodies[i]);
                km_reading *r = decode_hex_apdu(hex, KM_ERR_UNKNOWN_LIST);
                assert_int_equal(r->n_values, 0);
                free(r);
        }
}

static void test_encrypted_and_other_apdus(void **state)
{
        (void)state;
        /* protocol.md section f: general-glo-ciphering from a Kaifa MA309 */
        static const char glo[] = "DB 08 4B 46 4D 10 20 02 98 02 82 01 55 21 00 00 0A 28 11 22 33 44";
        km_reading *r = decode_hex_apdu(glo, KM_ERR_ENCRYPTED);
        free(r);
        /* general-ded-ciphering is 0xDC (DLMS tag 220); protocol.md's 0xDF is
         * general-signing (223), which carries no cipher */
        r = decode_hex_apdu("DC 08 4B 41 4D 00 00 00 00 01 10 30 00 00 00 01 AA", KM_ERR_ENCRYPTED);
        free(r);
        r = decode_hex_apdu("DF 08 4B 41 4D 00 00 00 00 01 10 30 00 00 00 01 AA", KM_ERR_NOT_NOTIFICATION);
        free(r);
        uint8_t info[64];
        size_t n = hex_to_bytes("E6 E7 00", info, sizeof(info));
        n += hex_to_bytes(glo, info + n, sizeof(info) - n);
        r = new_reading();
        assert_int_equal(km_info_decode(info, n, r), KM_ERR_ENCRYPTED);
        assert_int_equal(km_info_decode(info + 3, n - 3, r), KM_ERR_ENCRYPTED);
        /* not a data-notification */
        n = hex_to_bytes("E6 E7 00 C4 01 C1 00 06 00 00 00 01", info, sizeof(info));
        assert_int_equal(km_info_decode(info, n, r), KM_ERR_NOT_NOTIFICATION);
        /* not DLMS at all, and nothing */
        n = hex_to_bytes("02 01 06 00 00 00 01", info, sizeof(info));
        assert_int_equal(km_info_decode(info, n, r), KM_ERR_NOT_DLMS);
        assert_int_equal(km_info_decode(info, 0, r), KM_ERR_EMPTY);
        assert_int_equal(km_apdu_decode(info, 0, r), KM_ERR_EMPTY);
        assert_int_equal(r->n_values, 0);
        free(r);
}

/* More values than a reading holds: the rest are counted in n_dropped. */
static void test_value_capacity(void **state)
{
        (void)state;
        enum { N = KM_READING_MAX_VALUES + 6 };
        size_t cap = 16 + N * 21;
        uint8_t *apdu = malloc(cap);
        assert_non_null(apdu);
        size_t n = hex_to_bytes("0F 40 00 00 00 00 01", apdu, cap);
        apdu[n++] = N; /* array count < 0x80 */
        for (size_t i = 0; i < N; i++) {
                /* {1-0:1.7.0.255, double-long-unsigned i, {0, W}} */
                n += hex_to_bytes("02 03 09 06 01 00 01 07 00 FF 06 00 00 00", apdu + n, cap - n);
                apdu[n++] = (uint8_t)i;
                n += hex_to_bytes("02 02 0F 00 16 1B", apdu + n, cap - n);
        }
        km_reading *r = new_reading();
        assert_int_equal(km_apdu_decode(apdu, n, r), KM_OK);
        assert_int_equal(r->n_values, KM_READING_MAX_VALUES);
        assert_int_equal(r->n_dropped, 6);
        assert_int_equal(r->values[KM_READING_MAX_VALUES - 1].raw, KM_READING_MAX_VALUES - 1);
        assert_int_equal(r->values[KM_READING_MAX_VALUES - 1].unit, KM_UNIT_W);
        free(r);
        free(apdu);
}

/* A text longer than KM_TEXT_MAX is cut, NUL-terminated. */
static void test_long_text(void **state)
{
        (void)state;
        uint8_t apdu[300];
        size_t n = hex_to_bytes("0F 40 00 00 00 00 01 01 02 02 09 06 00 00 60 01 00 FF 0A 81 C8", apdu, sizeof(apdu));
        memset(apdu + n, 'Z', 200);
        n += 200;
        km_reading *r = new_reading();
        assert_int_equal(km_apdu_decode(apdu, n, r), KM_OK);
        const km_value *v = value(r, "meter_id");
        assert_int_equal(v->kind, KM_VALUE_TEXT);
        assert_int_equal(v->text_len, KM_TEXT_MAX);
        assert_int_equal(strlen(v->text), KM_TEXT_MAX);
        assert_int_equal(v->text[0], 'Z');
        free(r);
}

/* Every APDU of tests/data cut at every length: an error (never a crash,
 * never a partial reading), and the whole one decodes. Each cut lives in an
 * exact-size heap block; the second pass decodes into a reading that holds
 * the previous frame, as the decoder does (km_info_decode_again). */
static void test_every_apdu_cut_at_every_length(void **state)
{
        (void)state;
        static const char *const files[] = {
                "kaifa-no-list-1.llc.bin",
                "kaifa-no-list-2.llc.bin",
                "kaifa-no-list-3.llc.bin",
                "kaifa-se-list.llc.bin",
                "aidon-no-list-1.llc.bin",
                "aidon-no-list-2.llc.bin",
                "aidon-no-list-3.llc.bin",
                "aidon-se-list.llc.bin",
                "kamstrup-no-list-1-single-phase-real-sample.llc.bin",
                "kamstrup-no-list-1-three-phase.llc.bin",
                "kamstrup-no-list-2-single-phase-real-sample.llc.bin",
                "kamstrup-no-list-2-single-phase.llc.bin",
                "kamstrup-no-list-2-three-phase.llc.bin",
                "kamstrup-se-list-real-sample.llc.bin",
        };
        km_reading *r = new_reading();
        km_reading *again = new_reading();
        for (size_t f = 0; f < sizeof(files) / sizeof(files[0]); f++) {
                char rel[256];
                snprintf(rel, sizeof(rel), AMSHAN "%s", files[f]);
                size_t n;
                uint8_t *p = load_data_file(rel, &n);
                assert_int_equal(km_info_decode(p, n, r), KM_OK);
                uint32_t whole = reading_digest(r);
                assert_int_equal(km_info_decode(p, n, again), KM_OK);
                for (size_t k = 0; k < n; k++) {
                        uint8_t *cut = exact_copy(p, k);
                        km_status s = km_info_decode(cut, k, r);
                        if (s >= 0)
                                fail_msg("%s cut at %zu of %zu decoded (status %d)", files[f], k, n, s);
                        assert_int_equal(r->n_values, 0);
                        assert_null(r->list_name);
                        s = km_info_decode_again(cut, k, again);
                        assert_true(s < 0);
                        /* and the next whole frame is right again */
                        assert_int_equal(km_info_decode_again(p, n, again), KM_OK);
                        assert_int_equal(reading_digest(again), whole);
                        free(cut);
                }
                free(p);
        }
        free(again);
        free(r);
}

/* A reading reused across different lists (the decoder's cached look-ups)
 * gives the same result as a fresh one for every order of the files. */
static void test_reused_reading_any_order(void **state)
{
        (void)state;
        static const char *const files[] = {
                "kaifa-no-list-3.llc.bin", "aidon-se-list.llc.bin", "kaifa-no-list-1.llc.bin",
                "kamstrup-no-list-2-three-phase.llc.bin", "kaifa-se-list.llc.bin", "aidon-no-list-3.llc.bin",
                "kamstrup-no-list-1-single-phase-real-sample.llc.bin", "kaifa-no-list-2.llc.bin",
        };
        enum { NF = sizeof(files) / sizeof(files[0]) };
        uint8_t *p[NF];
        size_t n[NF];
        uint32_t want[NF];
        km_reading *fresh = new_reading();
        for (size_t i = 0; i < NF; i++) {
                char rel[256];
                snprintf(rel, sizeof(rel), AMSHAN "%s", files[i]);
                p[i] = load_data_file(rel, &n[i]);
                assert_int_equal(km_info_decode(p[i], n[i], fresh), KM_OK);
                want[i] = reading_digest(fresh);
        }
        km_reading *r = new_reading();
        r->n_known = 0;
        prng g;
        prng_seed(&g, 11);
        for (int t = 0; t < 500; t++) {
                size_t i = prng_range(&g, 0, NF - 1);
                assert_int_equal(km_info_decode_again(p[i], n[i], r), KM_OK);
                if (reading_digest(r) != want[i])
                        fail_msg("round %d: %s differs after reuse", t, files[i]);
        }
        for (size_t i = 0; i < NF; i++)
                free(p[i]);
        free(r);
        free(fresh);
}

/* Seeded mutations of the real APDUs (bit flips, byte changes, inserted
 * and deleted bytes, cuts): never a crash or an over-read (each input is an
 * exact heap block), and a reading that decodes is well formed. */
static void check_well_formed(const km_reading *r)
{
        assert_non_null(r->list_name);
        assert_true(r->n_values <= KM_READING_MAX_VALUES);
        for (size_t i = 0; i < r->n_values; i++) {
                const km_value *v = &r->values[i];
                assert_true(v->kind == KM_VALUE_NUMBER || v->kind == KM_VALUE_TEXT || v->kind == KM_VALUE_DATETIME ||
                            v->kind == KM_VALUE_FLOAT);
                assert_true((unsigned)v->unit < KM_UNIT_COUNT_);
                if (v->kind == KM_VALUE_TEXT) {
                        assert_true(v->text_len <= KM_TEXT_MAX);
                        assert_int_equal(v->text[v->text_len], '\0');
                }
                if (v->info)
                        assert_ptr_equal(v->info, km_obis_lookup(v->obis));
                (void)km_value_number(v);
        }
}

static void test_mutated_apdus(void **state)
{
        (void)state;
        static const char *const files[] = {
                "kaifa-no-list-2.llc.bin", "kaifa-no-list-3.llc.bin", "kaifa-se-list.llc.bin",
                "aidon-no-list-3.llc.bin", "aidon-se-list.llc.bin", "kamstrup-no-list-2-three-phase.llc.bin",
                "kamstrup-no-list-1-single-phase-real-sample.llc.bin",
        };
        enum { NF = sizeof(files) / sizeof(files[0]) };
        uint8_t *src[NF];
        size_t len[NF];
        for (size_t i = 0; i < NF; i++) {
                char rel[256];
                snprintf(rel, sizeof(rel), AMSHAN "%s", files[i]);
                src[i] = load_data_file(rel, &len[i]);
        }
        km_reading *r = new_reading();
        km_reading *again = new_reading();
        again->n_known = 0;
        prng g;
        prng_seed(&g, 31337);
        uint8_t buf[1024];
        size_t ok = 0;
        for (int t = 0; t < 30000; t++) {
                size_t f = prng_range(&g, 0, NF - 1);
                size_t n = len[f];
                memcpy(buf, src[f], n);
                int edits = (int)prng_range(&g, 1, 4);
                for (int e = 0; e < edits; e++) {
                        size_t at = prng_range(&g, 0, n - 1);
                        switch (prng_range(&g, 0, 4)) {
                        case 0:
                                buf[at] ^= (uint8_t)(1u << prng_range(&g, 0, 7));
                                break;
                        case 1:
                                buf[at] = (uint8_t)prng_next(&g);
                                break;
                        case 2: /* insert */
                                if (n < sizeof(buf)) {
                                        memmove(buf + at + 1, buf + at, n - at);
                                        buf[at] = (uint8_t)prng_next(&g);
                                        n++;
                                }
                                break;
                        case 3: /* delete */
                                if (n > 1) {
                                        memmove(buf + at, buf + at + 1, n - at - 1);
                                        n--;
                                }
                                break;
                        default: /* a length/count byte turned long */
                                buf[at] = (uint8_t)(0x80 | prng_range(&g, 0, 5));
                                break;
                        }
                }
                uint8_t *in = exact_copy(buf, n);
                km_status s = km_info_decode(in, n, r);
                if (s == KM_OK) {
                        check_well_formed(r);
                        ok++;
                } else {
                        assert_true(s < 0 && s > -KM_STATUS_COUNT_);
                        assert_int_equal(r->n_values, 0);
                }
                /* the reused reading gives the same answer */
                km_status s2 = km_info_decode_again(in, n, again);
                assert_int_equal(s2, s);
                if (s == KM_OK)
                        assert_int_equal(reading_digest(again), reading_digest(r));
                free(in);
        }
        assert_true(ok > 100); /* many mutations still decode */
        for (size_t i = 0; i < NF; i++)
                free(src[i]);
        free(again);
        free(r);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_kaifa_no_list1),
                cmocka_unit_test(test_kaifa_no_list2),
                cmocka_unit_test(test_kaifa_no_list3),
                cmocka_unit_test(test_kaifa_h2_h3),
                cmocka_unit_test(test_kaifa_one_phase_list2),
                cmocka_unit_test(test_kaifa_one_phase_list3),
                cmocka_unit_test(test_kaifa_types_by_tag),
                cmocka_unit_test(test_kaifa_se_inline_obis),
                cmocka_unit_test(test_aidon_no_list1),
                cmocka_unit_test(test_aidon_no_list2),
                cmocka_unit_test(test_aidon_no_list3),
                cmocka_unit_test(test_aidon_se),
                cmocka_unit_test(test_kamstrup_list1_three_phase),
                cmocka_unit_test(test_kamstrup_list1_single_phase_real),
                cmocka_unit_test(test_kamstrup_list2_single_phase_real),
                cmocka_unit_test(test_kamstrup_list2_single_and_three_phase),
                cmocka_unit_test(test_kamstrup_se),
                cmocka_unit_test(test_generic_dlms_list),
                cmocka_unit_test(test_kamstrup_ct_meter_current),
                cmocka_unit_test(test_generic_registers),
                cmocka_unit_test(test_obis_table),
                cmocka_unit_test(test_units),
                cmocka_unit_test(test_formatting),
                cmocka_unit_test(test_header_clock_forms),
                cmocka_unit_test(test_llc_forms),
                cmocka_unit_test(test_unknown_lists),
                cmocka_unit_test(test_encrypted_and_other_apdus),
                cmocka_unit_test(test_value_capacity),
                cmocka_unit_test(test_long_text),
                cmocka_unit_test(test_every_apdu_cut_at_every_length),
                cmocka_unit_test(test_reused_reading_any_order),
                cmocka_unit_test(test_mutated_apdus),
        };
        return cmocka_run_group_tests_name("lists", tests, NULL, NULL);
}
