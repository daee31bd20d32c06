/*
 * The sinks' fast output against the way it used to be made:
 *
 * - the printf-free formatters (sinks/textbuf.c) against snprintf with the
 *   format each one stands for, over many values and the edges;
 * - the texts the streaming writer copies without escaping (keys, the OBIS
 *   table, units, transports, statuses) need no escape;
 * - the JSON sink's streaming writer against the same document built with
 *   json-c objects and printed by json_object_to_json_string_ext(), byte
 *   for byte, compact and pretty, with and without --hex and rejected
 *   frames: every event of every capture in tests/data and of the fuzz
 *   seeds (with checksums ignored too), and readings made up to reach what
 *   captures do not (repeated names, escapes, NaN, no values, P1 logs and
 *   hex texts, the security header).
 */
#include <dirent.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "unit_util.h"

#include "kaifa/security.h"
#include "sinks/json.h"
#include "sinks/textbuf.h"

#ifndef KM_FUZZ_CORPUS
#define KM_FUZZ_CORPUS KM_TEST_DATA "/../fuzz/corpus"
#endif

/* ---- formatters ----------------------------------------------------------- */

static void check_g15(const km_value *v)
{
        char fast[KM_FMT_NUMBER_MAX], slow[64];
        km_fmt_value_g15(fast, v);
        snprintf(slow, sizeof(slow), "%.15g", km_value_number(v));
        if (strcmp(fast, slow) != 0)
                fail_msg("raw %" PRId64 " real %g scaler %d: fast \"%s\", printf \"%s\"", v->raw, v->real,
                         v->scaler, fast, slow);
}

static void test_numbers(void **state)
{
        (void)state;
        static const int64_t edges[] = {0, 1, -1, 9, 10, 99, 100, 101, 999, 1000, 1001, 12345, -12345,
                                        99999, 100000, 2147483647, -2147483648LL, 999999999999999LL,
                                        -999999999999999LL, 1000000000000000LL, 9007199254740993LL,
                                        INT64_MAX, INT64_MIN, 1616, 2301, 888, 28};
        km_value v = {.kind = KM_VALUE_NUMBER};
        for (int sc = -12; sc <= 6; sc++)
                for (size_t i = 0; i < sizeof(edges) / sizeof(edges[0]); i++) {
                        v.scaler = (int8_t)sc;
                        v.raw = edges[i];
                        check_g15(&v);
                }
        prng r;
        prng_seed(&r, 14);
        for (int i = 0; i < 400000; i++) {
                v.kind = KM_VALUE_NUMBER;
                v.scaler = (int8_t)((int)prng_range(&r, 0, 18) - 12);
                int digits = (int)prng_range(&r, 1, 19);
                uint64_t x = prng_next(&r);
                for (int d = digits; d < 19; d++)
                        x /= 10;
                v.raw = prng_next(&r) & 1 ? -(int64_t)(x >> 1) : (int64_t)(x >> 1);
                check_g15(&v);
                v.kind = KM_VALUE_FLOAT;
                uint64_t bits = prng_next(&r);
                memcpy(&v.real, &bits, sizeof(v.real));
                if (i % 2)
                        v.real = (double)v.raw / 1000.0;
                check_g15(&v);
        }
        char fast[KM_FMT_NUMBER_MAX], slow[64];
        static const int64_t ints[] = {0, 1, -1, INT64_MAX, INT64_MIN, 1234567890123LL};
        for (size_t i = 0; i < sizeof(ints) / sizeof(ints[0]); i++) {
                km_fmt_i64(fast, ints[i]);
                snprintf(slow, sizeof(slow), "%" PRId64, ints[i]);
                assert_string_equal(fast, slow);
        }
}

static void test_dates_codes_hex(void **state)
{
        (void)state;
        prng r;
        prng_seed(&r, 8);
        for (int i = 0; i < 200000; i++) {
                km_datetime dt = {
                        .year = (uint16_t)(i < 1000 ? prng_range(&r, 0, 65535) : prng_range(&r, 1990, 2040)),
                        .month = (uint8_t)prng_range(&r, 0, 255),
                        .day = (uint8_t)prng_range(&r, 0, 255),
                        .hour = (uint8_t)prng_range(&r, 0, 255),
                        .minute = (uint8_t)prng_range(&r, 0, 255),
                        .second = (uint8_t)prng_range(&r, 0, 255),
                        .hundredths = (uint8_t)prng_range(&r, 0, 255),
                        .deviation = (int16_t)(prng_range(&r, 0, 65535) - 32768),
                        .status = (uint8_t)prng_range(&r, 0, 255),
                };
                char fast[KM_FMT_CLOCK_MAX], slow[KM_FMT_CLOCK_MAX + 16], status[9];
                km_fmt_iso8601(fast, &dt);
                assert_string_equal(fast, km_datetime_iso8601(&dt, slow, sizeof(slow)));
                int n = 0;
                for (int bit = 7; bit >= 0; bit--)
                        if (n || (dt.status >> bit) & 1 || bit == 0)
                                status[n++] = (char)('0' + ((dt.status >> bit) & 1));
                status[n] = '\0';
                km_fmt_clock_compat(fast, &dt);
                snprintf(slow, sizeof(slow), "%04u-%02u-%02u %02u:%02u:%02u,%u %+d (%s)", dt.year, dt.month,
                         dt.day, dt.hour, dt.minute, dt.second, dt.hundredths, dt.deviation, status);
                assert_string_equal(fast, slow);

                uint8_t obis[6];
                prng_fill(&r, obis, sizeof(obis));
                km_fmt_obis(fast, obis);
                assert_string_equal(fast, km_obis_format(obis, slow, sizeof(slow)));
                km_fmt_hex(fast, obis, sizeof(obis));
                snprintf(slow, sizeof(slow), "%02x%02x%02x%02x%02x%02x", obis[0], obis[1], obis[2], obis[3],
                         obis[4], obis[5]);
                assert_string_equal(fast, slow);
        }
}

/* ---- JSON: the streaming writer against json-c ------------------------------ */

typedef struct compare_run {
        km_textbuf buf;
        size_t events, compared;
} compare_run;

static const km_json_options json_modes[] = {
        {.compact = true},
        {.compact = false},
        {.compact = true, .hex = true, .rejects = true},
        {.compact = false, .hex = true, .rejects = true},
};

static void compare_event(const km_event *ev, void *userdata)
{
        compare_run *run = userdata;
        run->events++;
        for (size_t m = 0; m < sizeof(json_modes) / sizeof(json_modes[0]); m++) {
                run->buf.len = 0;
                bool made = km_json_render(ev, &json_modes[m], &run->buf);
                char *ref = km_json_render_jsonc(ev, &json_modes[m]);
                assert_false(run->buf.failed);
                assert_int_equal(made, ref != NULL);
                if (ref) {
                        if (run->buf.len != strlen(ref) || memcmp(run->buf.p, ref, run->buf.len) != 0)
                                fail_msg("event %zu, mode %zu: writer\n%.*s\njson-c\n%s", run->events, m,
                                         (int)run->buf.len, run->buf.p, ref);
                        run->compared++;
                }
                free(ref);
        }
}

static km_decoder decoder;

static void compare_file(const char *path, compare_run *run)
{
        FILE *f = fopen(path, "rb");
        assert_non_null(f);
        static uint8_t data[1 << 16];
        for (int pass = 0; pass < 2; pass++) {
                km_decoder_options opt = {.ignore_checksum = pass == 1};
                km_decoder_init(&decoder, &opt);
                rewind(f);
                size_t n;
                while ((n = fread(data, 1, sizeof(data), f)) > 0)
                        km_decoder_feed(&decoder, data, n, compare_event, run);
                km_decoder_end(&decoder, compare_event, run);
        }
        fclose(f);
}

static void compare_tree(const char *dir, compare_run *run, size_t *files)
{
        DIR *d = opendir(dir);
        if (!d)
                return;
        struct dirent *e;
        while ((e = readdir(d)) != NULL) {
                if (e->d_name[0] == '.')
                        continue;
                char path[4096];
                snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
                struct stat st;
                if (stat(path, &st) != 0)
                        continue;
                if (S_ISDIR(st.st_mode)) {
                        compare_tree(path, run, files);
                } else if (S_ISREG(st.st_mode) && !strstr(e->d_name, ".json") && !strstr(e->d_name, ".gz") &&
                           !strstr(e->d_name, ".md") && !strstr(e->d_name, ".py")) {
                        compare_file(path, run);
                        (*files)++;
                }
        }
        closedir(d);
}

static void test_json_captures(void **state)
{
        (void)state;
        compare_run run = {0};
        size_t files = 0;
        compare_tree(KM_TEST_DATA, &run, &files);
        compare_tree(KM_FUZZ_CORPUS, &run, &files);
        compare_tree(KM_FUZZ_CORPUS "_p1", &run, &files);
        print_message("json: %zu files, %zu events, %zu documents identical\n", files, run.events, run.compared);
        assert_true(files > 100);
        assert_true(run.compared > 100000);
        km_textbuf_free(&run.buf);
}

/* The streaming writer copies keys and the texts of the program's tables
 * without looking for bytes to escape (json.c add_const): none may hold one. */
static void assert_needs_no_escape(const char *s)
{
        for (const char *p = s; *p; p++)
                if ((unsigned char)*p < 0x20 || *p == '"' || *p == '\\')
                        fail_msg("\"%s\" needs a JSON escape", s);
}

static void test_json_constants(void **state)
{
        (void)state;
        size_t count = 0;
        const km_obis_info *table = km_obis_table(&count);
        for (size_t i = 0; i < count; i++) {
                assert_needs_no_escape(table[i].name);
                assert_needs_no_escape(table[i].description);
        }
        for (int u = 0; u < KM_UNIT_COUNT_; u++)
                assert_needs_no_escape(km_unit_symbol_compat((km_unit)u));
        for (int t = 0; t < KM_TRANSPORT_COUNT_; t++)
                assert_needs_no_escape(km_transport_name((km_transport)t));
        for (int i = 0; i < KM_STATUS_COUNT_; i++)
                assert_needs_no_escape(km_status_name((km_status)-i));
}

static void test_json_made_up(void **state)
{
        (void)state;
        static km_reading r;
        memset(&r, 0, sizeof(r));
        compare_run run = {0};
        uint8_t bytes[] = {0xa0, 0x27, 0x01, 0x02, 0x01, 0x10, '"', '\\', 0x00};
        km_event ev = {.kind = KM_EVENT_READING, .transport = KM_TRANSPORT_RAW, .bytes = bytes,
                       .len = sizeof(bytes), .reading = &r};
        compare_event(&ev, &run); /* no values, no list, no clock */

        size_t count = 0;
        const km_obis_info *table = km_obis_table(&count);
        assert_true(count > 2);
        r.list_name = "made \"up\" list\\ \t\x01 /";
        r.maker = "Maker/é";
        r.has_clock = true;
        r.clock = (km_datetime){.year = 2017, .month = 1, .day = 18, .hour = 15, .second = 255,
                                .deviation = INT16_MIN, .status = 0x81};
        /* the same name twice (two codes of meter_id, and a repeated unknown
         * code), texts that need escapes or hex, NaN and infinity, a date */
        static const char *texts[] = {"plain", "quote\" back\\slash", "tab\tnew\nline", "\x7f del",
                                      "bad \xff utf8"};
        for (size_t i = 0; i < KM_READING_MAX_VALUES; i++) {
                km_value *v = &r.values[r.n_values++];
                memset(v, 0, sizeof(*v));
                v->info = i % 7 == 3 ? NULL : &table[i % count];
                memcpy(v->obis, i % 7 == 3 ? table[0].obis : v->info->obis, 6);
                if (i % 7 == 3)
                        v->obis[5] = 7;
                v->unit = v->info ? v->info->unit : KM_UNIT_NONE;
                switch (i % 5) {
                case 0:
                        v->kind = KM_VALUE_TEXT;
                        snprintf(v->text, sizeof(v->text), "%s", texts[(i / 5) % 5]);
                        v->text_len = (uint8_t)strlen(v->text);
                        break;
                case 1:
                        v->kind = KM_VALUE_FLOAT;
                        v->real = i % 3 == 0 ? NAN : i % 3 == 1 ? INFINITY : 0.1 * (double)i;
                        break;
                case 2:
                        v->kind = KM_VALUE_DATETIME;
                        v->datetime = r.clock;
                        break;
                default:
                        v->kind = KM_VALUE_NUMBER;
                        v->raw = (int64_t)(i * 123457) - 1000000;
                        v->scaler = (int8_t)((int)(i % 11) - 7);
                        break;
                }
                /* P1: texts sent in hex, values with their own time, a log
                 * and its entries (two runs of them, one after a repeated name) */
                v->text_hex = v->kind == KM_VALUE_TEXT && i % 2 == 0;
                v->has_captured = i % 4 == 1;
                v->captured = r.clock;
                v->log_entry = (i >= 20 && i <= 23) || (i >= 40 && i <= 41) || i == 0;
        }
        compare_event(&ev, &run);
        km_security_info sec = {.mode = KM_CIPHER_PILOT_ECB};
        ev.security = &sec;
        compare_event(&ev, &run);
        sec = (km_security_info){.encrypted = true, .system_title = {'K', 'F', 'M', 1, 2, 3, 4, 5},
                                 .maker = "KFM", .security_byte = 0x30, .invocation_counter = 4000000000u,
                                 .authenticated = true};
        compare_event(&ev, &run);
        ev.security = NULL;
        km_event rej = {.kind = KM_EVENT_REJECT, .reject = KM_ERR_FCS, .transport = KM_TRANSPORT_HDLC,
                        .bytes = bytes, .len = sizeof(bytes)};
        compare_event(&rej, &run);
        rej.kind = KM_EVENT_SEGMENT;
        compare_event(&rej, &run);
        assert_int_equal(run.compared, 4 + 3 * 4 + 2 + 2);
        km_textbuf_free(&run.buf);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_numbers),
                cmocka_unit_test(test_dates_codes_hex),
                cmocka_unit_test(test_json_constants),
                cmocka_unit_test(test_json_made_up),
                cmocka_unit_test(test_json_captures),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
