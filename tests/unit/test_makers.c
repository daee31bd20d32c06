/*
 * Lists of the makers beyond Norway, through km_apdu_decode(): the plaintext
 * APDUs of tests/data/lists (see its README: amsreader-firmware payloads and
 * the records of the shared beyond/ capture set, their framing stripped,
 * their block transfers joined, decrypted where the key is published).
 *
 * - every expected value of every beyond/ record of those (HDLC, block
 *   transfer and M-Bus framings) from manifest_expect.h, generated from the
 *   capture set's manifest.json;
 * - per maker, every value of the amsreader payloads: Iskraemeco lists of
 *   Slovenia and Croatia told apart by shape, the Austrian 0-6:25.9.0 list,
 *   Landis+Gyr capture-object lists named and unnamed, the Netz Burgenland
 *   list, EVN/Sagemcom's flat list, Kaifa MA309, Kamstrup's Danish and Swiss
 *   long lists (a current-transformer meter among them);
 * - the public family table, 64-bit values, a 12-byte ASCII meter number
 *   that is no clock, kW/kvar/kVA display, captured scaler-units, voltages
 *   brought to the mains range, lists that must stay unknown, and every APDU
 *   cut at every length.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/lists.h"
#include "kaifa/families.h"
#include "unit_util.h"

#include "manifest_expect.h"

#define LISTS "lists/"

static km_reading *new_reading(void)
{
        km_reading *r = malloc(sizeof(*r));
        assert_non_null(r);
        memset(r, 0xA5, sizeof(*r)); /* as dirty as a reused stack slot */
        return r;
}

static km_reading *decode_file(const char *name)
{
        char rel[256];
        snprintf(rel, sizeof(rel), LISTS "%s", name);
        size_t n;
        uint8_t *p = load_data_file(rel, &n);
        km_reading *r = new_reading();
        km_status s = km_apdu_decode(p, n, r);
        if (s != KM_OK)
                fail_msg("%s: status %d (%s)", name, s, km_strerror(s));
        free(p);
        return r;
}

static km_reading *decode_hex(const char *hex, km_status want)
{
        uint8_t tmp[2048];
        size_t n = hex_to_bytes(hex, tmp, sizeof(tmp));
        uint8_t *p = exact_copy(tmp, n);
        km_reading *r = new_reading();
        km_status s = km_apdu_decode(p, n, r);
        if (s != want)
                fail_msg("status %d (%s), expected %d", s, km_strerror(s), want);
        free(p);
        return r;
}

/* The value whose code is A-B:C.D.E (any F). */
static const km_value *by_code(const km_reading *r, int a, int b, int c, int d, int e)
{
        for (size_t i = 0; i < r->n_values; i++) {
                const uint8_t *o = r->values[i].obis;
                if (o[0] == a && o[1] == b && o[2] == c && o[3] == d && o[4] == e)
                        return &r->values[i];
        }
        fail_msg("no value %d-%d:%d.%d.%d", a, b, c, d, e);
        return NULL;
}

static void expect_num(const km_reading *r, int a, int b, int c, int d, int e, double want, km_unit unit)
{
        const km_value *v = by_code(r, a, b, c, d, e);
        if (v->kind != KM_VALUE_NUMBER)
                fail_msg("%d-%d:%d.%d.%d: kind %d", a, b, c, d, e, v->kind);
        double got = km_value_number(v);
        if (fabs(got - want) > 1e-9 * fabs(want) + 1e-12)
                fail_msg("%d-%d:%d.%d.%d: %.17g, expected %.17g (raw %lld scaler %d)", a, b, c, d, e, got, want,
                         (long long)v->raw, v->scaler);
        if (v->unit != unit)
                fail_msg("%d-%d:%d.%d.%d: unit \"%s\", expected \"%s\"", a, b, c, d, e, km_unit_symbol(v->unit),
                         km_unit_symbol(unit));
}

/* Electricity values, B = 0 */
#define NUM(r, c, d, e, want, unit) expect_num(r, 1, 0, c, d, e, want, unit)
/* Kamstrup numbering, B = 1 */
#define KNUM(r, c, d, e, want, unit) expect_num(r, 1, 1, c, d, e, want, unit)

static void expect_bytes(const km_reading *r, int a, int b, int c, int d, int e, const char *want, size_t n)
{
        const km_value *v = by_code(r, a, b, c, d, e);
        if (v->kind != KM_VALUE_TEXT)
                fail_msg("%d-%d:%d.%d.%d: kind %d, expected text", a, b, c, d, e, v->kind);
        assert_int_equal(v->text_len, n);
        assert_memory_equal(v->text, want, n);
}

static void expect_txt(const km_reading *r, int a, int b, int c, int d, int e, const char *want)
{
        expect_bytes(r, a, b, c, d, e, want, strlen(want));
}

static void expect_clock(const km_value *v, unsigned y, unsigned mo, unsigned d, unsigned h, unsigned mi,
                         unsigned s, int dev, unsigned status)
{
        assert_int_equal(v->kind, KM_VALUE_DATETIME);
        const km_datetime *dt = &v->datetime;
        if (dt->year != y || dt->month != mo || dt->day != d || dt->hour != h || dt->minute != mi ||
            dt->second != s || dt->deviation != dev || dt->status != status)
                fail_msg("clock %04u-%02u-%02u %02u:%02u:%02u dev %d status %02x", dt->year, dt->month, dt->day,
                         dt->hour, dt->minute, dt->second, dt->deviation, dt->status);
}

static void expect_list(const km_reading *r, const char *list, const char *maker, size_t n_values)
{
        assert_non_null(r->list_name);
        assert_string_equal(r->list_name, list);
        if (maker) {
                assert_non_null(r->maker);
                assert_string_equal(r->maker, maker);
                assert_non_null(r->family);
                assert_ptr_equal(r->family, km_family_by_name(maker));
        } else {
                assert_null(r->maker);
        }
        assert_int_equal(r->n_values, n_values);
        assert_int_equal(r->n_dropped, 0);
}

/* ---- the beyond/ manifest ------------------------------------------------ */

/* The factor from a value's unit to the manifest's (kWh, kvarh, W, var). */
static double to_manifest_unit(km_unit u)
{
        switch (u) {
        case KM_UNIT_WH:
        case KM_UNIT_VARH:
        case KM_UNIT_VAH:
                return 1e-3;
        case KM_UNIT_KW:
        case KM_UNIT_KVAR:
        case KM_UNIT_KVA:
                return 1e3;
        default:
                return 1;
        }
}

static const km_value *by_cde(const km_reading *r, const uint8_t cde[3])
{
        for (size_t i = 0; i < r->n_values; i++)
                if (memcmp(r->values[i].obis + 2, cde, 3) == 0)
                        return &r->values[i];
        return NULL;
}

static void check_manifest_value(const km_reading *r, const manifest_expect *e)
{
        const km_value *v = by_cde(r, e->cde);
        if (!v)
                fail_msg("%s: no value %u.%u.%u", e->apdu, e->cde[0], e->cde[1], e->cde[2]);
        if (e->is_text) {
                if (v->kind != KM_VALUE_TEXT || strcmp(v->text, e->text) != 0)
                        fail_msg("%s: %u.%u.%u is not the text \"%s\"", e->apdu, e->cde[0], e->cde[1], e->cde[2],
                                 e->text);
                return;
        }
        if (v->kind != KM_VALUE_NUMBER && v->kind != KM_VALUE_FLOAT)
                fail_msg("%s: %u.%u.%u is not a number", e->apdu, e->cde[0], e->cde[1], e->cde[2]);
        double got = km_value_number(v) * to_manifest_unit(v->unit);
        if (fabs(got - e->number) > e->tolerance)
                fail_msg("%s: %u.%u.%u = %.17g %s, expected %.17g", e->apdu, e->cde[0], e->cde[1], e->cde[2],
                         km_value_number(v), km_unit_symbol(v->unit), e->number);
}

static void test_manifest_values(void **state)
{
        (void)state;
        size_t n = sizeof(manifest_expected) / sizeof(manifest_expected[0]);
        size_t files = 0;
        km_reading *r = NULL;
        const char *current = NULL;
        for (size_t i = 0; i < n; i++) {
                const manifest_expect *e = &manifest_expected[i];
                if (!current || strcmp(current, e->apdu) != 0) {
                        free(r);
                        r = decode_file(e->apdu);
                        current = e->apdu;
                        files++;
                }
                check_manifest_value(r, e);
        }
        free(r);
        /* 9 + 2 Iskraemeco/Siemens Austrian lists, the Swiss AM550, 2 Kaifa
         * MA309, 2 Burgenland E450, E360, 2 E450 and the E570 */
        assert_int_equal(files, 20);
        assert_true(n >= 190);
}

/* ---- the family table ---------------------------------------------------- */

static void test_family_table(void **state)
{
        (void)state;
        size_t n = km_family_count();
        assert_int_equal(n, 5);
        for (size_t i = 0; i < n; i++) {
                const km_family *f = km_family_get(i);
                assert_non_null(f);
                assert_non_null(f->name);
                assert_non_null(f->maker);
                assert_non_null(f->countries);
                assert_non_null(f->lists);
                assert_non_null(f->ops);
                for (const char *c = f->name; *c; c++)
                        assert_true((*c >= 'a' && *c <= 'z') || *c == '-');
                assert_ptr_equal(km_family_by_name(f->name), f);
                assert_ptr_equal(km_family_by_name(f->maker), f);
                for (size_t k = 0; k < i; k++)
                        assert_string_not_equal(km_family_get(k)->name, f->name);
        }
        assert_null(km_family_get(n));
        assert_ptr_equal(km_family_by_name("KAIFA"), km_family_by_name("kaifa"));
        assert_ptr_equal(km_family_by_name("Landis+Gyr"), km_family_by_name("landis-gyr"));
        assert_string_equal(km_family_by_name("iskraemeco")->flag_id, "ISK");
        assert_null(km_family_by_name("auto"));
        assert_null(km_family_by_name(""));
        assert_null(km_family_by_name(NULL));
}

/* ---- Iskraemeco ---------------------------------------------------------- */

/* Slovenia, 3-phase instantaneous list of 18 (Elektro Ljubljana) */
static void test_iskra_si_18(void **state)
{
        (void)state;
        km_reading *r = decode_file("amsreader-iskraemeco-gh615-1.apdu");
        expect_list(r, "Iskraemeco list (18, instantaneous)", "Iskraemeco", 18);
        expect_txt(r, 0, 0, 42, 0, 0, "ISK1030789375606");
        expect_txt(r, 0, 0, 96, 1, 2, "16820005");
        NUM(r, 1, 7, 0, 1393, KM_UNIT_W);
        NUM(r, 2, 7, 0, 0, KM_UNIT_W);
        NUM(r, 3, 7, 0, 0, KM_UNIT_VAR);
        NUM(r, 4, 7, 0, 738, KM_UNIT_VAR);
        NUM(r, 32, 7, 0, 237.9, KM_UNIT_V);
        NUM(r, 52, 7, 0, 237.9, KM_UNIT_V);
        NUM(r, 72, 7, 0, 229.6, KM_UNIT_V);
        NUM(r, 31, 7, 0, 1.03, KM_UNIT_A);
        NUM(r, 51, 7, 0, 1.25, KM_UNIT_A);
        NUM(r, 71, 7, 0, 5.97, KM_UNIT_A);
        NUM(r, 21, 7, 0, 16, KM_UNIT_W);
        NUM(r, 41, 7, 0, 51, KM_UNIT_W);
        NUM(r, 61, 7, 0, 1325, KM_UNIT_W);
        NUM(r, 22, 7, 0, 0, KM_UNIT_W);
        NUM(r, 42, 7, 0, 0, KM_UNIT_W);
        NUM(r, 62, 7, 0, 0, KM_UNIT_W);
        free(r);

        r = decode_file("amsreader-iskraemeco-gh956-1.apdu");
        expect_list(r, "Iskraemeco list (18, instantaneous)", "Iskraemeco", 18);
        expect_txt(r, 0, 0, 42, 0, 0, "ISK1030792283067");
        NUM(r, 1, 7, 0, 246, KM_UNIT_W);
        NUM(r, 4, 7, 0, 286, KM_UNIT_VAR);
        NUM(r, 32, 7, 0, 232.5, KM_UNIT_V);
        NUM(r, 52, 7, 0, 232.1, KM_UNIT_V);
        NUM(r, 72, 7, 0, 232.8, KM_UNIT_V);
        NUM(r, 31, 7, 0, 1.52, KM_UNIT_A);
        NUM(r, 51, 7, 0, 0.11, KM_UNIT_A);
        NUM(r, 71, 7, 0, 0.16, KM_UNIT_A);
        NUM(r, 21, 7, 0, 216, KM_UNIT_W);
        NUM(r, 41, 7, 0, 19, KM_UNIT_W);
        NUM(r, 61, 7, 0, 10, KM_UNIT_W);
        free(r);
}

/* Slovenia, the two lists of 12: energies (third element an enum) and
 * instantaneous values (third element a voltage, Elektro Celje) */
static void test_iskra_si_12(void **state)
{
        (void)state;
        km_reading *r = decode_file("amsreader-iskraemeco-gh615-2.apdu");
        expect_list(r, "Iskraemeco list (12, energy)", "Iskraemeco", 12);
        expect_txt(r, 0, 0, 96, 1, 2, "16820006");
        expect_num(r, 0, 0, 96, 3, 10, 1, KM_UNIT_NONE);
        expect_bytes(r, 0, 0, 96, 14, 0, "\x00\x01", 2); /* tariff 1, as two bytes */
        NUM(r, 1, 8, 0, 52.837, KM_UNIT_KWH);
        NUM(r, 1, 8, 1, 13.593, KM_UNIT_KWH);
        NUM(r, 1, 8, 2, 39.244, KM_UNIT_KWH);
        NUM(r, 2, 8, 0, 177.927, KM_UNIT_KWH);
        NUM(r, 2, 8, 1, 78.615, KM_UNIT_KWH);
        NUM(r, 2, 8, 2, 99.312, KM_UNIT_KWH);
        NUM(r, 3, 8, 0, 107.882, KM_UNIT_KVARH);
        NUM(r, 4, 8, 0, 43.253, KM_UNIT_KVARH);
        free(r);

        r = decode_file("amsreader-iskraemeco-gh956-2.apdu");
        expect_list(r, "Iskraemeco list (12, energy)", "Iskraemeco", 12);
        NUM(r, 1, 8, 0, 471.547, KM_UNIT_KWH);
        NUM(r, 1, 8, 1, 210.163, KM_UNIT_KWH);
        NUM(r, 1, 8, 2, 261.384, KM_UNIT_KWH);
        NUM(r, 2, 8, 0, 44.62, KM_UNIT_KWH);
        NUM(r, 2, 8, 1, 28.535, KM_UNIT_KWH);
        NUM(r, 2, 8, 2, 16.085, KM_UNIT_KWH);
        NUM(r, 3, 8, 0, 20.507, KM_UNIT_KVARH);
        NUM(r, 4, 8, 0, 313.837, KM_UNIT_KVARH);
        free(r);

        r = decode_file("amsreader-iskraemeco-gh615-8.apdu");
        expect_list(r, "Iskraemeco list (12, instantaneous)", "Iskraemeco", 12);
        expect_txt(r, 0, 0, 42, 0, 0, "ISK1030789014731");
        expect_txt(r, 0, 0, 96, 1, 2, "UP_3f");
        NUM(r, 32, 7, 0, 231.4, KM_UNIT_V);
        NUM(r, 52, 7, 0, 230.3, KM_UNIT_V);
        NUM(r, 72, 7, 0, 234.8, KM_UNIT_V);
        NUM(r, 31, 7, 0, 4.51, KM_UNIT_A);
        NUM(r, 51, 7, 0, 5.25, KM_UNIT_A);
        NUM(r, 71, 7, 0, 0.88, KM_UNIT_A);
        NUM(r, 1, 7, 0, 2399, KM_UNIT_W);
        NUM(r, 2, 7, 0, 0, KM_UNIT_W);
        NUM(r, 3, 7, 0, 4, KM_UNIT_VAR);
        NUM(r, 4, 7, 0, 264, KM_UNIT_VAR);
        free(r);
}

/* Slovenia, the short lists of 10, 9 and 4 elements */
static void test_iskra_si_short(void **state)
{
        (void)state;
        km_reading *r = decode_file("amsreader-iskraemeco-gh869-8.apdu");
        expect_list(r, "Iskraemeco list (10, instantaneous)", "Iskraemeco", 10);
        expect_txt(r, 0, 0, 42, 0, 0, "ISK1020785766649");
        expect_txt(r, 0, 0, 96, 1, 2, "ISK85766649");
        NUM(r, 1, 7, 0, 540, KM_UNIT_W);
        NUM(r, 2, 7, 0, 0, KM_UNIT_W);
        NUM(r, 3, 7, 0, 0, KM_UNIT_VAR);
        NUM(r, 4, 7, 0, 282, KM_UNIT_VAR);
        NUM(r, 32, 7, 0, 233.6, KM_UNIT_V);
        NUM(r, 31, 7, 0, 2.78, KM_UNIT_A);
        NUM(r, 21, 7, 0, 540, KM_UNIT_W);
        NUM(r, 22, 7, 0, 0, KM_UNIT_W);
        free(r);

        r = decode_file("amsreader-iskraemeco-gh869-1.apdu");
        expect_list(r, "Iskraemeco list (9, instantaneous)", "Iskraemeco", 9);
        expect_txt(r, 0, 0, 42, 0, 0, "ISK1020784605887");
        NUM(r, 1, 7, 0, 373, KM_UNIT_W);
        NUM(r, 4, 7, 0, 0, KM_UNIT_VAR);
        NUM(r, 32, 7, 0, 230.1, KM_UNIT_V);
        NUM(r, 2, 8, 1, 0, KM_UNIT_KWH);
        NUM(r, 2, 8, 2, 0, KM_UNIT_KWH);
        free(r);

        /* 1.8.0 = 1.8.1 + 1.8.2 and 2.8.0 = 2.8.1 + 2.8.2 confirm the order */
        r = decode_file("amsreader-iskraemeco-gh869-6.apdu");
        expect_list(r, "Iskraemeco list (9, energy)", "Iskraemeco", 9);
        expect_txt(r, 0, 0, 42, 0, 0, "ISK1030777478586");
        NUM(r, 1, 7, 0, 625, KM_UNIT_W);
        NUM(r, 2, 7, 0, 0, KM_UNIT_W);
        NUM(r, 1, 8, 0, 12789.95, KM_UNIT_KWH);
        NUM(r, 1, 8, 1, 5732.902, KM_UNIT_KWH);
        NUM(r, 1, 8, 2, 7057.048, KM_UNIT_KWH);
        NUM(r, 2, 8, 0, 0.25, KM_UNIT_KWH);
        NUM(r, 2, 8, 1, 0.112, KM_UNIT_KWH);
        NUM(r, 2, 8, 2, 0.138, KM_UNIT_KWH);
        free(r);

        r = decode_file("amsreader-iskraemeco-gh869-7.apdu");
        expect_list(r, "Iskraemeco list (4, energy)", "Iskraemeco", 3);
        expect_txt(r, 0, 0, 96, 1, 0, "77478586");
        NUM(r, 1, 8, 0, 12789.949, KM_UNIT_KWH);
        NUM(r, 2, 8, 0, 0.25, KM_UNIT_KWH);
        free(r);

        r = decode_file("amsreader-iskraemeco-gh869-3.apdu");
        expect_list(r, "Iskraemeco list (4, energy)", "Iskraemeco", 3);
        expect_txt(r, 0, 0, 96, 1, 0, "84605887");
        NUM(r, 1, 8, 0, 7924.641, KM_UNIT_KWH);
        NUM(r, 2, 8, 0, 0, KM_UNIT_KWH);
        free(r);
}

/* Croatia, IE.5-TD1: 33 elements with time and date apart */
static void test_iskra_hr_33(void **state)
{
        (void)state;
        km_reading *r = decode_file("amsreader-iskraemeco-gh1072-3.apdu");
        expect_list(r, "Iskraemeco list (33)", "Iskraemeco", 27);
        expect_txt(r, 0, 0, 96, 1, 0, "92029691");
        expect_clock(by_code(r, 0, 0, 1, 0, 0), 2025, 12, 3, 15, 53, 30, KM_DEVIATION_UNSPECIFIED, 0xFF);
        NUM(r, 1, 8, 0, 6844.432, KM_UNIT_KWH);
        NUM(r, 1, 8, 1, 4770.804, KM_UNIT_KWH);
        NUM(r, 1, 8, 2, 2073.628, KM_UNIT_KWH);
        NUM(r, 2, 8, 0, 5759.375, KM_UNIT_KWH);
        NUM(r, 2, 8, 1, 5708.359, KM_UNIT_KWH);
        NUM(r, 2, 8, 2, 51.016, KM_UNIT_KWH);
        NUM(r, 5, 8, 0, 1510.658, KM_UNIT_KVARH);
        NUM(r, 6, 8, 0, 1228.222, KM_UNIT_KVARH);
        NUM(r, 7, 8, 0, 55.401, KM_UNIT_KVARH);
        NUM(r, 8, 8, 0, 1345.708, KM_UNIT_KVARH);
        NUM(r, 1, 7, 0, 499, KM_UNIT_W);
        NUM(r, 2, 7, 0, 0, KM_UNIT_W);
        NUM(r, 13, 7, 0, 0.746, KM_UNIT_NONE);
        NUM(r, 21, 7, 0, 27, KM_UNIT_W);
        NUM(r, 41, 7, 0, 295, KM_UNIT_W);
        NUM(r, 61, 7, 0, 176, KM_UNIT_W);
        NUM(r, 22, 7, 0, 0, KM_UNIT_W);
        NUM(r, 42, 7, 0, 0, KM_UNIT_W);
        NUM(r, 62, 7, 0, 0, KM_UNIT_W);
        NUM(r, 32, 7, 0, 233.6, KM_UNIT_V);
        NUM(r, 52, 7, 0, 235.4, KM_UNIT_V);
        NUM(r, 72, 7, 0, 235.5, KM_UNIT_V);
        NUM(r, 31, 7, 0, 0.29, KM_UNIT_A);
        NUM(r, 51, 7, 0, 1.72, KM_UNIT_A);
        NUM(r, 71, 7, 0, 1.09, KM_UNIT_A);
        assert_non_null(by_code(r, 1, 0, 5, 8, 0)->info);
        free(r);

        r = decode_file("amsreader-iskraemeco-gh1072-4.apdu");
        expect_list(r, "Iskraemeco list (33)", "Iskraemeco", 27);
        expect_clock(by_code(r, 0, 0, 1, 0, 0), 2025, 12, 19, 23, 55, 40, KM_DEVIATION_UNSPECIFIED, 0xFF);
        NUM(r, 1, 8, 0, 7088.218, KM_UNIT_KWH);
        NUM(r, 13, 7, 0, 0.889, KM_UNIT_NONE);
        NUM(r, 32, 7, 0, 238.8, KM_UNIT_V);
        NUM(r, 71, 7, 0, 0.77, KM_UNIT_A);
        free(r);
}

/* Austria: the 0-6:25.9.0 header list names no maker (Siemens sends it too);
 * its time and date become the meter clock */
static void test_at_header_list(void **state)
{
        (void)state;
        km_reading *r = decode_file("beyond-iskraemeco-ams_gh787-1_am550_at_hdlc_enc20.apdu");
        expect_list(r, "AT 0-6:25.9.0 list", NULL, 8);
        expect_txt(r, 0, 0, 96, 1, 0, "1121378381199");
        expect_clock(by_code(r, 0, 0, 1, 0, 0), 2024, 5, 7, 21, 11, 17, KM_DEVIATION_UNSPECIFIED, 0xFF);
        NUM(r, 1, 8, 0, 14370.048, KM_UNIT_KWH);
        NUM(r, 3, 8, 0, 1455.864, KM_UNIT_KVARH);
        NUM(r, 1, 7, 0, 9, KM_UNIT_W);
        free(r);

        r = decode_file("beyond-siemens-shrdzm_im350_1.apdu");
        expect_list(r, "AT 0-6:25.9.0 list", NULL, 8);
        expect_txt(r, 0, 0, 96, 1, 0, "2221202033801");
        expect_clock(by_code(r, 0, 0, 1, 0, 0), 2021, 3, 7, 14, 55, 33, KM_DEVIATION_UNSPECIFIED, 0xFF);
        free(r);
}

/* ---- Landis+Gyr ---------------------------------------------------------- */

/* Capture-object lists whose meter number names no maker: the IDIS
 * convention applies all the same (E450, Switzerland, block transfer joined) */
static void test_lg_unnamed_capture_lists(void **state)
{
        (void)state;
        km_reading *r = decode_file("amsreader-landis-gyr-gh740.apdu");
        expect_list(r, "DLMS push (capture objects)", NULL, 12);
        assert_null(r->family);
        expect_txt(r, 0, 0, 96, 1, 0, "63326413");
        NUM(r, 1, 7, 0, 362, KM_UNIT_W);
        NUM(r, 2, 7, 0, 0, KM_UNIT_W);
        expect_num(r, 1, 1, 1, 8, 0, 2302.502, KM_UNIT_KWH);
        expect_num(r, 1, 1, 2, 8, 0, 1.048, KM_UNIT_KWH);
        expect_num(r, 1, 1, 5, 8, 0, 34.671, KM_UNIT_KVARH);
        expect_num(r, 1, 1, 6, 8, 0, 0, KM_UNIT_KVARH);
        expect_num(r, 1, 1, 7, 8, 0, 2.675, KM_UNIT_KVARH);
        expect_num(r, 1, 1, 8, 8, 0, 706.216, KM_UNIT_KVARH);
        NUM(r, 31, 7, 0, 0.51, KM_UNIT_A);
        NUM(r, 51, 7, 0, 1.05, KM_UNIT_A);
        NUM(r, 71, 7, 0, 0.52, KM_UNIT_A);
        free(r);

        r = decode_file("amsreader-landis-gyr-gh934-1.apdu");
        expect_list(r, "DLMS push (capture objects)", NULL, 12);
        expect_txt(r, 0, 0, 96, 1, 0, "63316890");
        NUM(r, 1, 7, 0, 331, KM_UNIT_W);
        expect_num(r, 1, 1, 1, 8, 0, 4912.257, KM_UNIT_KWH);
        NUM(r, 31, 7, 0, 0.49, KM_UNIT_A);
        NUM(r, 51, 7, 0, 1.67, KM_UNIT_A);
        NUM(r, 71, 7, 0, 0.23, KM_UNIT_A);
        NUM(r, 32, 7, 0, 234, KM_UNIT_V);
        NUM(r, 52, 7, 0, 235, KM_UNIT_V);
        NUM(r, 72, 7, 0, 233, KM_UNIT_V);
        NUM(r, 21, 7, 0, 14, KM_UNIT_W);
        NUM(r, 41, 7, 0, 289, KM_UNIT_W);
        NUM(r, 61, 7, 0, 28, KM_UNIT_W);
        free(r);
}

/* Named by "LGZ": E570 with 64-bit values and currents in whole amperes, E360
 * with tenths of a volt, E450 with whole volts; 13.7.0 in thousandths */
static void test_lg_named_capture_lists(void **state)
{
        (void)state;
        km_reading *r = decode_file("beyond-landis-gyr-scs_lg_e570_unencrypted_valid_data_load_cfg2026.apdu");
        expect_list(r, "DLMS push (capture objects)", "Landis+Gyr", 13);
        expect_txt(r, 0, 0, 42, 0, 0, "LGZ1030769231250");
        NUM(r, 1, 7, 0, 258874, KM_UNIT_W);
        NUM(r, 31, 7, 0, 400, KM_UNIT_A);
        NUM(r, 51, 7, 0, 200, KM_UNIT_A);
        NUM(r, 71, 7, 0, 601, KM_UNIT_A);
        NUM(r, 32, 7, 0, 229, KM_UNIT_V);
        free(r);

        r = decode_file("beyond-landis-gyr-scs_lg_e360_unencrypted_valid_data_cfg2026.apdu");
        expect_list(r, "DLMS push (capture objects)", "Landis+Gyr", 13);
        NUM(r, 32, 7, 0, 235.7, KM_UNIT_V);
        NUM(r, 52, 7, 0, 0, KM_UNIT_V);
        NUM(r, 31, 7, 0, 0.06, KM_UNIT_A);
        free(r);

        r = decode_file("beyond-landis-gyr-scs_lg_e450_unencrypted_valid_data.apdu");
        expect_list(r, "DLMS push (capture objects)", "Landis+Gyr", 14);
        expect_txt(r, 0, 0, 96, 1, 1, "1935912");
        expect_clock(by_code(r, 0, 0, 1, 0, 0), 2021, 7, 6, 14, 58, 18, KM_DEVIATION_UNSPECIFIED, 0x81);
        NUM(r, 13, 7, 0, 0.941, KM_UNIT_NONE);
        NUM(r, 4, 7, 0, 10, KM_UNIT_VAR);
        expect_num(r, 1, 1, 8, 8, 0, 291.341, KM_UNIT_KVARH);
        free(r);
}

/* Netz Burgenland: 14 bare values, currents in 0.01 A */
static void test_lg_burgenland(void **state)
{
        (void)state;
        km_reading *r = decode_file("beyond-landis-gyr-ams_gh501-1_e450_at_hdlc_enc30.apdu");
        expect_list(r, "Landis+Gyr E450 Netz Burgenland list", "Landis+Gyr", 11);
        NUM(r, 31, 7, 0, 0, KM_UNIT_A);
        NUM(r, 51, 7, 0, 0.04, KM_UNIT_A);
        NUM(r, 71, 7, 0, 0.26, KM_UNIT_A);
        NUM(r, 2, 8, 0, 7.619, KM_UNIT_KWH);
        expect_txt(r, 0, 0, 96, 1, 0, "30137181");
        free(r);
}

/* ---- EVN / Sagemcom, Kaifa MA309 ------------------------------------------ */

/* One flat structure of 35: a bare clock, 11 x (OBIS, value, scaler-unit), a
 * bare 12-character meter number that is no date-time */
static void test_sagemcom_flat_list(void **state)
{
        (void)state;
        km_reading *r = decode_file("amsreader-sagemcom-gh867-2.apdu");
        expect_list(r, "DLMS list", NULL, 13);
        expect_clock(by_code(r, 0, 0, 1, 0, 0), 2024, 11, 15, 14, 45, 45, -60, 0x02);
        NUM(r, 1, 8, 0, 4752026, KM_UNIT_WH);
        NUM(r, 2, 8, 0, 5157273, KM_UNIT_WH);
        NUM(r, 1, 7, 0, 0, KM_UNIT_W);
        NUM(r, 2, 7, 0, 9, KM_UNIT_W);
        NUM(r, 32, 7, 0, 233.4, KM_UNIT_V);
        NUM(r, 52, 7, 0, 232.5, KM_UNIT_V);
        NUM(r, 72, 7, 0, 232.1, KM_UNIT_V);
        NUM(r, 31, 7, 0, 0.02, KM_UNIT_A);
        NUM(r, 51, 7, 0, 0.48, KM_UNIT_A);
        NUM(r, 71, 7, 0, 0.83, KM_UNIT_A);
        NUM(r, 13, 7, 0, 0.094, KM_UNIT_NONE);
        expect_txt(r, 0, 0, 96, 1, 0, "178210128502");
        assert_true(by_code(r, 1, 0, 13, 7, 0)->scaler_inline);
        free(r);

        /* the same layout from a Kaifa MA309 of the same grid (EVN) */
        r = decode_file("amsreader-kaifa-gh247-1.apdu");
        expect_list(r, "DLMS list", NULL, 13);
        expect_clock(by_code(r, 0, 0, 1, 0, 0), 2022, 3, 15, 10, 6, 40, -60, 0);
        NUM(r, 1, 8, 0, 2590324, KM_UNIT_WH);
        NUM(r, 2, 8, 0, 8538254, KM_UNIT_WH);
        NUM(r, 1, 7, 0, 0, KM_UNIT_W);
        NUM(r, 2, 7, 0, 4863, KM_UNIT_W);
        NUM(r, 32, 7, 0, 239, KM_UNIT_V);
        NUM(r, 52, 7, 0, 237.5, KM_UNIT_V);
        NUM(r, 72, 7, 0, 239, KM_UNIT_V);
        NUM(r, 31, 7, 0, 6.91, KM_UNIT_A);
        NUM(r, 51, 7, 0, 6.78, KM_UNIT_A);
        NUM(r, 71, 7, 0, 6.78, KM_UNIT_A);
        NUM(r, 13, 7, 0, 0.999, KM_UNIT_NONE);
        expect_txt(r, 0, 0, 96, 1, 0, "181210096387");
        free(r);
}

static void test_kaifa_ma309_at(void **state)
{
        (void)state;
        km_reading *r = decode_file("amsreader-kaifa-gh539-4.apdu");
        expect_list(r, "DLMS list", NULL, 15);
        expect_clock(by_code(r, 0, 0, 1, 0, 0), 2023, 4, 25, 10, 59, 30, -120, 0x80);
        expect_txt(r, 0, 0, 96, 1, 0, "1KFM0200182517");
        expect_txt(r, 0, 0, 42, 0, 0, "KFM1200200182517");
        NUM(r, 32, 7, 0, 233, KM_UNIT_V);
        NUM(r, 52, 7, 0, 232.5, KM_UNIT_V);
        NUM(r, 72, 7, 0, 233, KM_UNIT_V);
        NUM(r, 31, 7, 0, 0.45, KM_UNIT_A);
        NUM(r, 51, 7, 0, 0.43, KM_UNIT_A);
        NUM(r, 71, 7, 0, 0.81, KM_UNIT_A);
        NUM(r, 1, 7, 0, 0, KM_UNIT_W);
        NUM(r, 2, 7, 0, 24, KM_UNIT_W);
        NUM(r, 1, 8, 0, 1403036, KM_UNIT_WH);
        NUM(r, 2, 8, 0, 1103174, KM_UNIT_WH);
        NUM(r, 3, 8, 0, 132305, KM_UNIT_VARH);
        NUM(r, 4, 8, 0, 512810, KM_UNIT_VARH);
        free(r);
}

/* ---- Kamstrup (Denmark, Switzerland) --------------------------------------- */

/* The long list: fixed scalers (10 Wh, 0.01 A, power factor in hundredths),
 * an unknown code kept as it is; on this current-transformer meter the
 * currents are in mA, which the power they carry shows (S = 63.4 kVA) */
static void test_kamstrup_dk_ct(void **state)
{
        (void)state;
        km_reading *r = decode_file("amsreader-kamstrup-gh216-1.apdu");
        expect_list(r, "Kamstrup_", "Kamstrup", 33);
        KNUM(r, 1, 8, 0, 127676, KM_UNIT_KWH);
        KNUM(r, 4, 8, 0, 791.33, KM_UNIT_KVARH);
        KNUM(r, 2, 7, 0, 2585, KM_UNIT_W);
        KNUM(r, 3, 7, 0, 63364, KM_UNIT_VAR);
        KNUM(r, 32, 7, 0, 233, KM_UNIT_V);
        KNUM(r, 31, 7, 0, 90.999, KM_UNIT_A);
        KNUM(r, 51, 7, 0, 93.955, KM_UNIT_A);
        KNUM(r, 71, 7, 0, 92.645, KM_UNIT_A);
        KNUM(r, 33, 7, 0, 0.02, KM_UNIT_NONE);
        KNUM(r, 13, 7, 0, 0.04, KM_UNIT_NONE);
        KNUM(r, 22, 7, 0, 448, KM_UNIT_W);
        KNUM(r, 22, 8, 0, 73110.06, KM_UNIT_KWH);
        KNUM(r, 61, 8, 0, 64514.36, KM_UNIT_KWH);
        const km_value *unknown = by_code(r, 1, 1, 0, 0, 1);
        assert_null(unknown->info);
        assert_int_equal(unknown->raw, 26733640);
        expect_clock(by_code(r, 0, 1, 1, 0, 0), 2022, 2, 1, 9, 17, 20, KM_DEVIATION_UNSPECIFIED, 0);
        free(r);
}

static void test_kamstrup_ch_dk(void **state)
{
        (void)state;
        km_reading *r = decode_file("amsreader-kamstrup-gh350-2.apdu");
        expect_list(r, "Kamstrup_", "Kamstrup", 33);
        KNUM(r, 1, 8, 0, 1717.35, KM_UNIT_KWH);
        KNUM(r, 2, 7, 0, 528, KM_UNIT_W);
        KNUM(r, 31, 7, 0, 1.47, KM_UNIT_A);
        KNUM(r, 51, 7, 0, 1.62, KM_UNIT_A);
        KNUM(r, 71, 7, 0, 1.71, KM_UNIT_A);
        KNUM(r, 52, 7, 0, 236, KM_UNIT_V);
        KNUM(r, 33, 7, 0, 0.9, KM_UNIT_NONE);
        KNUM(r, 13, 7, 0, 0.99, KM_UNIT_NONE);
        free(r);

        r = decode_file("amsreader-kamstrup-gh517-2.apdu");
        expect_list(r, "Kamstrup_", "Kamstrup", 19);
        KNUM(r, 1, 8, 0, 13529.97, KM_UNIT_KWH);
        KNUM(r, 1, 7, 0, 485, KM_UNIT_W);
        KNUM(r, 4, 7, 0, 172, KM_UNIT_VAR);
        KNUM(r, 32, 7, 0, 232, KM_UNIT_V);
        KNUM(r, 31, 7, 0, 2.44, KM_UNIT_A);
        KNUM(r, 13, 7, 0, 0.94, KM_UNIT_NONE);
        free(r);
}

/* ---- synthetic cases ------------------------------------------------------ */

#define NOTIFICATION "0F 00 00 00 01 00 "
#define CAPTURE(cls, c0, c1, c2, c3, c4, c5, attr)                                                            \
        "02 04 12 00 " cls " 09 06 " c0 " " c1 " " c2 " " c3 " " c4 " " c5 " 0F " attr " 12 00 00 "

/* 64-bit counters past 2^32, a scaler-unit captured as attribute 3, a
 * 12-byte ASCII id under a clock-like position that must stay text */
static void test_capture_list_details(void **state)
{
        (void)state;
        km_reading *r = decode_hex(NOTIFICATION "02 05 01 05 "
                                   CAPTURE("28", "00", "08", "19", "09", "00", "FF", "02")
                                   CAPTURE("01", "00", "00", "60", "01", "00", "FF", "02")
                                   CAPTURE("03", "01", "00", "01", "08", "00", "FF", "02")
                                   CAPTURE("03", "01", "00", "01", "07", "00", "FF", "02")
                                   CAPTURE("03", "01", "00", "01", "07", "00", "FF", "03")
                                   "09 0C 31 37 38 32 31 30 31 32 38 35 30 32"
                                   "15 00 00 00 12 34 56 78 9A"
                                   "14 FF FF FF FF FF FF FF FE"
                                   "02 02 0F 03 16 1B",
                                   KM_OK);
        expect_list(r, "DLMS push (capture objects)", NULL, 3);
        expect_txt(r, 0, 0, 96, 1, 0, "178210128502");
        NUM(r, 1, 8, 0, 78187493.53, KM_UNIT_KWH); /* 0x123456789A Wh */
        assert_int_equal(by_code(r, 1, 0, 1, 8, 0)->raw, 0x123456789ALL);
        NUM(r, 1, 7, 0, -2000, KM_UNIT_W); /* -2 with a captured scaler 3 */
        assert_true(by_code(r, 1, 0, 1, 7, 0)->scaler_inline);
        free(r);

        /* a 12-byte octet string under the clock code is a date-time only when
         * its fields are in range */
        r = decode_hex(NOTIFICATION "02 02 09 06 00 00 01 00 00 FF 09 0C 31 37 38 32 31 30 31 32 38 35 30 32",
                       KM_OK);
        expect_txt(r, 0, 0, 1, 0, 0, "178210128502");
        free(r);
        uint8_t id[12], dt[12];
        memcpy(id, "178210128502", 12);
        hex_to_bytes("07 E8 0B 0F 05 0E 2D 2D 00 FF C4 02", dt, sizeof(dt));
        assert_false(km_datetime_plausible(id));
        assert_true(km_datetime_plausible(dt));
}

/* Units: kW, kvar and kVA are shown in W, var and VA */
static void test_kilo_units(void **state)
{
        (void)state;
        int e;
        assert_int_equal(km_unit_display(KM_UNIT_KW, &e), KM_UNIT_W);
        assert_int_equal(e, 3);
        assert_int_equal(km_unit_display(KM_UNIT_KVAR, &e), KM_UNIT_VAR);
        assert_int_equal(e, 3);
        assert_int_equal(km_unit_display(KM_UNIT_KVA, &e), KM_UNIT_VA);
        assert_int_equal(e, 3);
        assert_string_equal(km_unit_symbol(KM_UNIT_KW), "kW");
        assert_string_equal(km_unit_symbol(KM_UNIT_KVAR), "kvar");
        assert_string_equal(km_unit_symbol(KM_UNIT_KVA), "kVA");
        assert_int_equal(km_unit_display(KM_UNIT_W, &e), KM_UNIT_W);
        assert_int_equal(e, 0);

        km_value v;
        memset(&v, 0, sizeof(v));
        v.kind = KM_VALUE_NUMBER;
        v.raw = 1193;
        v.scaler = -3;
        v.unit = KM_UNIT_KW; /* 1.193 kW as a P1 telegram says it */
        km_value_power_in_watts(&v);
        assert_int_equal(v.unit, KM_UNIT_W);
        assert_int_equal(v.scaler, 0);
        assert_true(km_value_number(&v) == 1193.0);
        v.unit = KM_UNIT_KVAR;
        km_value_power_in_watts(&v);
        assert_int_equal(v.unit, KM_UNIT_VAR);
        assert_true(km_value_number(&v) == 1193000.0);
        v.unit = KM_UNIT_KWH; /* energy stays in kWh */
        km_value_power_in_watts(&v);
        assert_int_equal(v.unit, KM_UNIT_KWH);
        assert_int_equal(v.scaler, 3);
}

/* Voltages come out as mains voltages whatever the assumed scaler: an
 * Iskraemeco list (tenths by convention) that sends whole volts */
static void test_voltage_brought_to_mains(void **state)
{
        (void)state;
        km_reading *r = decode_hex(NOTIFICATION "02 09 09 03 49 53 4B 09 02 49 44"
                                   " 06 00 00 00 64 06 00 00 00 00 06 00 00 00 00 06 00 00 00 00"
                                   " 12 00 EA 06 00 00 00 00 06 00 00 00 00",
                                   KM_OK);
        expect_list(r, "Iskraemeco list (9, instantaneous)", "Iskraemeco", 9);
        NUM(r, 32, 7, 0, 234, KM_UNIT_V);
        free(r);
}

/* Shapes close to a known layout but not it stay unknown lists */
static void test_near_misses_stay_unknown(void **state)
{
        (void)state;
        static const char *const bodies[] = {
                /* the Slovenian 9-list shape, but the name is not Iskraemeco's */
                "02 09 09 03 4B 46 4D 09 02 49 44 06 00 00 00 64 06 00 00 00 00 06 00 00 00 00"
                " 06 00 00 00 00 12 00 EA 06 00 00 00 00 06 00 00 00 00",
                /* Burgenland's 14 with a number where the meter number goes */
                "02 0E 12 00 EC 12 00 ED 12 00 EC 12 00 00 12 00 04 12 00 1A 06 00 00 00 1D"
                " 06 00 00 00 00 06 01 DE 7E 8E 06 00 00 1D C3 12 01 90 12 00 35 12 01 27 06 00 00 00 01",
                /* a capture list whose object list is shorter than the body */
                "02 03 01 02 " CAPTURE("28", "00", "08", "19", "09", "00", "FF", "02")
                CAPTURE("03", "01", "00", "01", "07", "00", "FF", "02") "06 00 00 00 01 06 00 00 00 02",
        };
        for (size_t i = 0; i < sizeof(bodies) / sizeof(bodies[0]); i++) {
                char hex[1500];
                snprintf(hex, sizeof(hex), NOTIFICATION "%s", bodies[i]);
                km_reading *r = decode_hex(hex, KM_ERR_UNKNOWN_LIST);
                assert_int_equal(r->n_values, 0);
                free(r);
        }
}

/* Every APDU of tests/data/lists cut at every length: no crash, no read past
 * the end (valgrind and ASan watch), and a cut list is never taken whole */
static void test_every_cut(void **state)
{
        (void)state;
        static const char *const files[] = {
                "amsreader-iskraemeco-gh1072-3.apdu", "amsreader-iskraemeco-gh615-2.apdu",
                "amsreader-landis-gyr-gh740.apdu",    "amsreader-sagemcom-gh867-2.apdu",
                "amsreader-kamstrup-gh216-1.apdu",    "beyond-landis-gyr-ams_gh501-1_e450_at_hdlc_enc30.apdu",
                "beyond-iskraemeco-ams_gh787-1_am550_at_hdlc_enc20.apdu",
                "beyond-landis-gyr-scs_lg_e570_unencrypted_valid_data_load_cfg2026.apdu",
        };
        km_reading *r = new_reading();
        for (size_t f = 0; f < sizeof(files) / sizeof(files[0]); f++) {
                char rel[256];
                snprintf(rel, sizeof(rel), LISTS "%s", files[f]);
                size_t n;
                uint8_t *p = load_data_file(rel, &n);
                for (size_t k = 0; k < n; k++) {
                        uint8_t *cut = exact_copy(p, k);
                        km_status s = km_apdu_decode(cut, k, r);
                        if (s == KM_OK)
                                assert_true(r->n_values <= KM_READING_MAX_VALUES);
                        free(cut);
                }
                assert_int_equal(km_apdu_decode(p, n, r), KM_OK);
                free(p);
        }
        free(r);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_manifest_values),
                cmocka_unit_test(test_family_table),
                cmocka_unit_test(test_iskra_si_18),
                cmocka_unit_test(test_iskra_si_12),
                cmocka_unit_test(test_iskra_si_short),
                cmocka_unit_test(test_iskra_hr_33),
                cmocka_unit_test(test_at_header_list),
                cmocka_unit_test(test_lg_unnamed_capture_lists),
                cmocka_unit_test(test_lg_named_capture_lists),
                cmocka_unit_test(test_lg_burgenland),
                cmocka_unit_test(test_sagemcom_flat_list),
                cmocka_unit_test(test_kaifa_ma309_at),
                cmocka_unit_test(test_kamstrup_dk_ct),
                cmocka_unit_test(test_kamstrup_ch_dk),
                cmocka_unit_test(test_capture_list_details),
                cmocka_unit_test(test_kilo_units),
                cmocka_unit_test(test_voltage_brought_to_mains),
                cmocka_unit_test(test_near_misses_stay_unknown),
                cmocka_unit_test(test_every_cut),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
