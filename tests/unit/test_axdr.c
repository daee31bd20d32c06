/*
 * The A-XDR reader (src/core/axdr.h): every type of protocol.md's table with
 * signed, unsigned, boundary and special values; the long length forms
 * (81 LL, 82 HH LL, up to 84); nested arrays and structures and skipping
 * them; the nesting limit; rejected tags (compact-array, unknown ones); and
 * every vector cut at every length, in an exact-size heap block, which must
 * give KM_ERR_MALFORMED and never read past the end.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/axdr.h"
#include "unit_util.h"

typedef struct vec {
        const char *name;
        const char *hex;
        uint8_t tag;
        km_axdr_class cls;
        uint32_t count; /* containers: elements; strings: length; bit-string: bits */
        int64_t i;
        double f;
        size_t len;      /* BYTES: content bytes (at the end of what read takes) */
        size_t read_len; /* bytes km_axdr_read() takes */
} vec;

#define DT12 "07 E1 01 12 03 0E 11 36 FF 80 00 00"

static const vec scalars[] = {
        {"null", "00", 0x00, KM_AXDR_NONE, 0, 0, 0, 0, 1},
        {"boolean true", "03 01", 0x03, KM_AXDR_INTEGER, 0, 1, 0, 0, 2},
        {"boolean false", "03 00", 0x03, KM_AXDR_INTEGER, 0, 0, 0, 0, 2},
        {"bit-string 12 bits", "04 0C AB C0", 0x04, KM_AXDR_BYTES, 12, 0, 0, 2, 4},
        {"bit-string 8 bits", "04 08 5A", 0x04, KM_AXDR_BYTES, 8, 0, 0, 1, 3},
        {"bit-string 1 bit", "04 01 80", 0x04, KM_AXDR_BYTES, 1, 0, 0, 1, 3},
        {"bit-string empty", "04 00", 0x04, KM_AXDR_BYTES, 0, 0, 0, 0, 2},
        {"double-long -2", "05 FF FF FF FE", 0x05, KM_AXDR_INTEGER, 0, -2, 0, 0, 5},
        {"double-long min", "05 80 00 00 00", 0x05, KM_AXDR_INTEGER, 0, INT32_MIN, 0, 0, 5},
        {"double-long max", "05 7F FF FF FF", 0x05, KM_AXDR_INTEGER, 0, INT32_MAX, 0, 0, 5},
        {"double-long-unsigned 446", "06 00 00 01 BE", 0x06, KM_AXDR_INTEGER, 0, 446, 0, 0, 5},
        {"double-long-unsigned max", "06 FF FF FF FF", 0x06, KM_AXDR_INTEGER, 0, 4294967295, 0, 0, 5},
        {"octet-string OBIS", "09 06 01 00 01 07 00 FF", 0x09, KM_AXDR_BYTES, 6, 0, 0, 6, 8},
        {"octet-string empty", "09 00", 0x09, KM_AXDR_BYTES, 0, 0, 0, 0, 2},
        {"visible-string", "0A 07 4B 46 4D 5F 30 30 31", 0x0A, KM_AXDR_BYTES, 7, 0, 0, 7, 9},
        {"utf8-string", "0C 04 C3 A6 C3 B8", 0x0C, KM_AXDR_BYTES, 4, 0, 0, 4, 6},
        {"bcd", "0D 42", 0x0D, KM_AXDR_INTEGER, 0, 0x42, 0, 0, 2},
        {"integer -1", "0F FF", 0x0F, KM_AXDR_INTEGER, 0, -1, 0, 0, 2},
        {"integer -128", "0F 80", 0x0F, KM_AXDR_INTEGER, 0, -128, 0, 0, 2},
        {"integer 127", "0F 7F", 0x0F, KM_AXDR_INTEGER, 0, 127, 0, 0, 2},
        {"long -200", "10 FF 38", 0x10, KM_AXDR_INTEGER, 0, -200, 0, 0, 3},
        {"long min", "10 80 00", 0x10, KM_AXDR_INTEGER, 0, INT16_MIN, 0, 0, 3},
        {"long 48", "10 00 30", 0x10, KM_AXDR_INTEGER, 0, 48, 0, 0, 3},
        {"unsigned 255", "11 FF", 0x11, KM_AXDR_INTEGER, 0, 255, 0, 0, 2},
        {"long-unsigned 65535", "12 FF FF", 0x12, KM_AXDR_INTEGER, 0, 65535, 0, 0, 3},
        {"long-unsigned 2377", "12 09 49", 0x12, KM_AXDR_INTEGER, 0, 2377, 0, 0, 3},
        {"long64 -2", "14 FF FF FF FF FF FF FF FE", 0x14, KM_AXDR_INTEGER, 0, -2, 0, 0, 9},
        {"long64 min", "14 80 00 00 00 00 00 00 00", 0x14, KM_AXDR_INTEGER, 0, INT64_MIN, 0, 0, 9},
        {"long64 big", "14 01 23 45 67 89 AB CD EF", 0x14, KM_AXDR_INTEGER, 0, 0x0123456789ABCDEF, 0, 0, 9},
        {"long64-unsigned", "15 00 00 00 01 00 00 00 00", 0x15, KM_AXDR_INTEGER, 0, 4294967296, 0, 0, 9},
        {"long64-unsigned energy", "15 00 00 00 00 00 49 0B 23", 0x15, KM_AXDR_INTEGER, 0, 4786979, 0, 0, 9},
        {"enum W", "16 1B", 0x16, KM_AXDR_INTEGER, 0, 27, 0, 0, 2},
        {"enum 255", "16 FF", 0x16, KM_AXDR_INTEGER, 0, 255, 0, 0, 2},
        {"float32 1.5", "17 3F C0 00 00", 0x17, KM_AXDR_REAL, 0, 0, 1.5, 0, 5},
        {"float32 -10", "17 C1 20 00 00", 0x17, KM_AXDR_REAL, 0, 0, -10.0, 0, 5},
        {"float32 49.98", "17 42 47 EB 85", 0x17, KM_AXDR_REAL, 0, 0, (double)49.98f, 0, 5},
        {"float64 pi", "18 40 09 21 FB 54 44 2D 18", 0x18, KM_AXDR_REAL, 0, 0, 3.141592653589793, 0, 9},
        {"float64 -0.001", "18 BF 50 62 4D D2 F1 A9 FC", 0x18, KM_AXDR_REAL, 0, 0, -0.001, 0, 9},
        {"date-time", "19 " DT12, 0x19, KM_AXDR_BYTES, 0, 0, 0, 12, 13},
        {"date", "1A 07 E1 01 12 03", 0x1A, KM_AXDR_BYTES, 0, 0, 0, 5, 6},
        {"time", "1B 0E 11 36 FF", 0x1B, KM_AXDR_BYTES, 0, 0, 0, 4, 5},
};

/* Containers: km_axdr_read takes the header, km_axdr_skip the whole. */
static const vec containers[] = {
        {"array of 2", "01 02 11 05 11 06", 0x01, KM_AXDR_CONTAINER, 2, 0, 0, 0, 2},
        {"empty array", "01 00", 0x01, KM_AXDR_CONTAINER, 0, 0, 0, 0, 2},
        {"structure of 3", "02 03 0F FF 16 1B 09 02 AB CD", 0x02, KM_AXDR_CONTAINER, 3, 0, 0, 0, 2},
        {"Aidon register", "02 03 09 06 01 00 1F 07 00 FF 10 00 30 02 02 0F FF 16 21", 0x02, KM_AXDR_CONTAINER,
         3, 0, 0, 0, 2},
        {"Aidon clock item", "02 02 09 06 00 00 01 00 00 FF 09 0C " DT12, 0x02, KM_AXDR_CONTAINER, 2, 0, 0, 0, 2},
        {"nested", "02 02 01 02 02 02 11 01 12 00 02 02 02 11 03 12 00 04 01 01 00", 0x02, KM_AXDR_CONTAINER, 2, 0,
         0, 0, 2},
        {"every type inside", "02 0F 00 03 01 04 03 E0 05 80 00 00 00 06 00 00 00 01 09 01 AA 0A 01 41 0C 01 42"
                              " 0D 99 0F 80 10 80 00 12 FF FF 15 00 00 00 00 00 00 00 01 17 3F 80 00 00"
                              " 19 " DT12,
         0x02, KM_AXDR_CONTAINER, 15, 0, 0, 0, 2},
};

static uint8_t *vec_bytes(const vec *v, size_t *ret_n)
{
        uint8_t tmp[512];
        size_t n = hex_to_bytes(v->hex, tmp, sizeof(tmp));
        *ret_n = n;
        return exact_copy(tmp, n);
}

static void check_item(const vec *v, const uint8_t *buf, const km_axdr_item *it)
{
        if (it->tag != v->tag || it->cls != v->cls)
                fail_msg("%s: tag %02x class %d", v->name, it->tag, it->cls);
        switch (v->cls) {
        case KM_AXDR_INTEGER:
                if (it->i != v->i)
                        fail_msg("%s: %lld != %lld", v->name, (long long)it->i, (long long)v->i);
                break;
        case KM_AXDR_REAL:
                assert_double_near(it->f, v->f);
                break;
        case KM_AXDR_BYTES:
                assert_int_equal(it->len, v->len);
                if (v->len)
                        assert_ptr_equal(it->bytes, buf + v->read_len - v->len);
                if (v->tag == 0x04 || v->tag == 0x09 || v->tag == 0x0A || v->tag == 0x0C)
                        assert_int_equal(it->count, v->count);
                break;
        case KM_AXDR_CONTAINER:
                assert_int_equal(it->count, v->count);
                break;
        case KM_AXDR_NONE:
                break;
        }
}

static void test_every_type(void **state)
{
        (void)state;
        for (size_t k = 0; k < sizeof(scalars) / sizeof(scalars[0]); k++) {
                const vec *v = &scalars[k];
                size_t n;
                uint8_t *buf = vec_bytes(v, &n);
                assert_int_equal(n, v->read_len);
                km_cursor c;
                km_axdr_item it;
                km_cursor_init(&c, buf, n);
                if (km_axdr_read(&c, &it) != KM_OK)
                        fail_msg("%s: read failed", v->name);
                check_item(v, buf, &it);
                assert_int_equal(c.pos, v->read_len);
                km_cursor_init(&c, buf, n);
                assert_int_equal(km_axdr_skip(&c, 0), KM_OK);
                assert_int_equal(c.pos, n);
                free(buf);
        }
}

static void test_containers(void **state)
{
        (void)state;
        for (size_t k = 0; k < sizeof(containers) / sizeof(containers[0]); k++) {
                const vec *v = &containers[k];
                size_t n;
                uint8_t *buf = vec_bytes(v, &n);
                km_cursor c;
                km_axdr_item it;
                km_cursor_init(&c, buf, n);
                if (km_axdr_read(&c, &it) != KM_OK)
                        fail_msg("%s: read failed", v->name);
                check_item(v, buf, &it);
                assert_int_equal(c.pos, v->read_len);
                km_cursor_init(&c, buf, n);
                if (km_axdr_skip(&c, 0) != KM_OK)
                        fail_msg("%s: skip failed", v->name);
                assert_int_equal(c.pos, n);
                free(buf);
        }
}

/* Walks the "every type inside" structure item by item. */
static void test_walk_structure(void **state)
{
        (void)state;
        size_t n;
        uint8_t *buf = vec_bytes(&containers[6], &n);
        static const uint8_t tags[] = {0x00, 0x03, 0x04, 0x05, 0x06, 0x09, 0x0A, 0x0C,
                                       0x0D, 0x0F, 0x10, 0x12, 0x15, 0x17, 0x19};
        static const int64_t ints[] = {0, 1, 0, INT32_MIN, 1, 0, 0, 0, 0x99, -128, INT16_MIN, 65535, 1, 0, 0};
        km_cursor c;
        km_axdr_item it;
        km_cursor_init(&c, buf, n);
        assert_int_equal(km_axdr_read(&c, &it), KM_OK);
        assert_int_equal(it.count, 15);
        for (size_t i = 0; i < 15; i++) {
                km_axdr_item peeked;
                size_t pos = c.pos;
                assert_int_equal(km_axdr_peek(&c, &peeked), KM_OK);
                assert_int_equal(c.pos, pos); /* peek does not move */
                assert_int_equal(km_axdr_read(&c, &it), KM_OK);
                assert_int_equal(it.tag, tags[i]);
                assert_int_equal(peeked.tag, it.tag);
                if (it.cls == KM_AXDR_INTEGER)
                        assert_int_equal(it.i, ints[i]);
        }
        assert_int_equal(c.pos, n);
        assert_int_equal(km_axdr_read(&c, &it), KM_ERR_MALFORMED); /* nothing left */
        free(buf);
}

/* Every vector cut at every length: a read or skip that would need bytes
 * past the end reports KM_ERR_MALFORMED (and ASan/valgrind see no over-read,
 * since each cut lives in a heap block of exactly its size). */
static void check_cuts(const vec *v, bool container)
{
        size_t n;
        uint8_t *whole = vec_bytes(v, &n);
        for (size_t k = 0; k < n; k++) {
                uint8_t *cut = exact_copy(whole, k);
                km_cursor c;
                km_axdr_item it;
                km_cursor_init(&c, cut, k);
                km_status s = km_axdr_skip(&c, 0);
                if (s != KM_ERR_MALFORMED)
                        fail_msg("%s cut at %zu: skip gave %d", v->name, k, s);
                if (!container || k < v->read_len) {
                        km_cursor_init(&c, cut, k);
                        s = km_axdr_read(&c, &it);
                        if (s != KM_ERR_MALFORMED)
                                fail_msg("%s cut at %zu: read gave %d", v->name, k, s);
                        km_cursor_init(&c, cut, k);
                        assert_int_equal(km_axdr_peek(&c, &it), KM_ERR_MALFORMED);
                }
                free(cut);
        }
        free(whole);
}

static void test_every_cut_is_malformed(void **state)
{
        (void)state;
        for (size_t k = 0; k < sizeof(scalars) / sizeof(scalars[0]); k++)
                check_cuts(&scalars[k], false);
        for (size_t k = 0; k < sizeof(containers) / sizeof(containers[0]); k++)
                check_cuts(&containers[k], true);
}

static void test_length_encodings(void **state)
{
        (void)state;
        static const struct {
                const char *hex;
                km_status status;
                uint32_t len;
                size_t used;
        } cases[] = {
                {"00", KM_OK, 0, 1},
                {"7F", KM_OK, 127, 1},
                {"81 80", KM_OK, 128, 2},
                {"81 FF", KM_OK, 255, 2},
                {"82 01 55", KM_OK, 341, 3},
                {"82 FF FF", KM_OK, 65535, 3},
                {"83 01 00 00", KM_OK, 65536, 4},
                {"84 FF FF FF FF", KM_OK, 4294967295u, 5},
                {"80", KM_ERR_MALFORMED, 0, 0},          /* no length bytes */
                {"85 00 00 00 00 01", KM_ERR_MALFORMED, 0, 0}, /* more than 32 bits */
                {"81", KM_ERR_MALFORMED, 0, 0},
                {"82 01", KM_ERR_MALFORMED, 0, 0},
                {"84 00 00 00", KM_ERR_MALFORMED, 0, 0},
                {"", KM_ERR_MALFORMED, 0, 0},
        };
        for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
                uint8_t tmp[16];
                size_t n = hex_to_bytes(cases[i].hex, tmp, sizeof(tmp));
                uint8_t *buf = exact_copy(tmp, n);
                km_cursor c;
                km_cursor_init(&c, buf, n);
                uint32_t len = 0;
                km_status s = km_axdr_read_length(&c, &len);
                if (s != cases[i].status)
                        fail_msg("length '%s': status %d", cases[i].hex, s);
                if (s == KM_OK) {
                        assert_int_equal(len, cases[i].len);
                        assert_int_equal(c.pos, cases[i].used);
                }
                free(buf);
        }
}

/* Strings and containers with the long length forms. */
static void test_long_lengths(void **state)
{
        (void)state;
        static const struct {
                uint8_t tag;
                const char *len_hex;
                size_t len;
        } cases[] = {
                {0x09, "81 80", 128}, {0x0A, "81 FF", 255}, {0x09, "82 01 00", 256},
                {0x0C, "82 01 55", 341}, {0x09, "82 07 F0", 2032}, {0x0A, "83 00 01 00", 256},
        };
        for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
                uint8_t hdr[8];
                size_t nh = hex_to_bytes(cases[i].len_hex, hdr, sizeof(hdr));
                size_t n = 1 + nh + cases[i].len;
                uint8_t *buf = malloc(n);
                assert_non_null(buf);
                buf[0] = cases[i].tag;
                memcpy(buf + 1, hdr, nh);
                memset(buf + 1 + nh, 'a', cases[i].len);
                km_cursor c;
                km_axdr_item it;
                km_cursor_init(&c, buf, n);
                assert_int_equal(km_axdr_read(&c, &it), KM_OK);
                assert_int_equal(it.cls, KM_AXDR_BYTES);
                assert_int_equal(it.len, cases[i].len);
                assert_ptr_equal(it.bytes, buf + 1 + nh);
                assert_int_equal(c.pos, n);
                /* one byte short */
                km_cursor_init(&c, buf, n - 1);
                assert_int_equal(km_axdr_read(&c, &it), KM_ERR_MALFORMED);
                free(buf);
        }

        /* an array of 300 unsigned values: count 82 01 2C */
        enum { COUNT = 300 };
        size_t n = 4 + 2 * COUNT;
        uint8_t *buf = malloc(n);
        assert_non_null(buf);
        buf[0] = 0x01;
        buf[1] = 0x82;
        buf[2] = COUNT >> 8;
        buf[3] = COUNT & 0xFF;
        for (size_t i = 0; i < COUNT; i++) {
                buf[4 + 2 * i] = 0x11;
                buf[5 + 2 * i] = (uint8_t)i;
        }
        km_cursor c;
        km_axdr_item it;
        km_cursor_init(&c, buf, n);
        assert_int_equal(km_axdr_read(&c, &it), KM_OK);
        assert_int_equal(it.cls, KM_AXDR_CONTAINER);
        assert_int_equal(it.count, COUNT);
        assert_int_equal(c.pos, 4);
        km_cursor_init(&c, buf, n);
        assert_int_equal(km_axdr_skip(&c, 0), KM_OK);
        assert_int_equal(c.pos, n);
        km_cursor_init(&c, buf, n - 1);
        assert_int_equal(km_axdr_skip(&c, 0), KM_ERR_MALFORMED);
        free(buf);
}

/* A count or length larger than what is left is an error, not a huge loop
 * or an over-read. */
static void test_lying_counts(void **state)
{
        (void)state;
        static const char *const bad[] = {
                "01 05 11 01",             /* 5 elements, 2 bytes left */
                "02 84 FF FF FF FF 00",    /* 4 billion elements */
                "01 82 FF FF 00 00 00",
                "09 84 FF FF FF FF AA",    /* 4 GiB string */
                "0A 82 01 00 41 42",
                "0C 81 80 41",
                "04 84 00 00 00 11 AA BB", /* 17 bits need 3 bytes */
                "04 09 AA",                /* 9 bits need 2 bytes */
        };
        for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
                uint8_t tmp[16];
                size_t n = hex_to_bytes(bad[i], tmp, sizeof(tmp));
                uint8_t *buf = exact_copy(tmp, n);
                km_cursor c;
                km_cursor_init(&c, buf, n);
                km_status s = km_axdr_skip(&c, 0);
                if (s != KM_ERR_MALFORMED)
                        fail_msg("'%s': skip gave %d", bad[i], s);
                free(buf);
        }
}

/* A bit-string whose bit count is near 2^32: the byte count must not wrap.
 * Regression (found by this test, fixed in the core): axdr.c read_variable() computes (n + 7u) / 8u in 32 bits, so
 * 0xFFFFFFF9..0xFFFFFFFF bits become 0 bytes and the item is accepted
 * (KM_OK, count = 4 billion bits, no content). Expected KM_ERR_MALFORMED. */
static void test_bug_bitstring_length_wraps(void **state)
{
        (void)state;
        static const char *const bad[] = {"04 84 FF FF FF FF", "04 84 FF FF FF F9 00"};
        for (size_t i = 0; i < 2; i++) {
                uint8_t tmp[16];
                size_t n = hex_to_bytes(bad[i], tmp, sizeof(tmp));
                uint8_t *buf = exact_copy(tmp, n);
                km_cursor c;
                km_axdr_item it;
                km_cursor_init(&c, buf, n);
                km_status s = km_axdr_read(&c, &it);
                free(buf);
                if (s != KM_ERR_MALFORMED)
                        fail_msg("'%s': read gave %d (count %u, len %zu)", bad[i], s, it.count, it.len);
        }
}

static void test_rejected_tags(void **state)
{
        (void)state;
        /* compact-array is not used on HAN ports: rejected, like unknown tags */
        static const uint8_t tags[] = {0x13, 0x07, 0x08, 0x0B, 0x0E, 0x1C, 0x1D, 0x20, 0x7E, 0x80, 0xFF};
        for (size_t i = 0; i < sizeof(tags); i++) {
                uint8_t buf[8] = {tags[i], 0x02, 0x11, 0x01, 0x11, 0x02, 0x00, 0x00};
                km_cursor c;
                km_axdr_item it;
                km_cursor_init(&c, buf, sizeof(buf));
                if (km_axdr_read(&c, &it) != KM_ERR_MALFORMED)
                        fail_msg("tag 0x%02x accepted", tags[i]);
                km_cursor_init(&c, buf, sizeof(buf));
                assert_int_equal(km_axdr_skip(&c, 0), KM_ERR_MALFORMED);
        }
        /* a rejected tag deep inside a structure fails the whole skip */
        uint8_t nested[] = {0x02, 0x02, 0x11, 0x01, 0x01, 0x01, 0x13, 0x00};
        km_cursor c;
        km_cursor_init(&c, nested, sizeof(nested));
        assert_int_equal(km_axdr_skip(&c, 0), KM_ERR_MALFORMED);
}

/* n arrays of one element each around an unsigned: 01 01 ... 01 01 11 2A */
static uint8_t *nested_arrays(size_t depth, size_t *ret_n)
{
        size_t n = 2 * depth + 2;
        uint8_t *buf = malloc(n);
        assert_non_null(buf);
        for (size_t i = 0; i < depth; i++) {
                buf[2 * i] = 0x01;
                buf[2 * i + 1] = 0x01;
        }
        buf[2 * depth] = 0x11;
        buf[2 * depth + 1] = 0x2A;
        *ret_n = n;
        return buf;
}

static void test_depth_limit(void **state)
{
        (void)state;
        /* shallow nesting is fine */
        for (size_t depth = 0; depth < KM_AXDR_MAX_DEPTH; depth++) {
                size_t n;
                uint8_t *buf = nested_arrays(depth, &n);
                km_cursor c;
                km_cursor_init(&c, buf, n);
                if (km_axdr_skip(&c, 0) != KM_OK)
                        fail_msg("depth %zu refused", depth);
                assert_int_equal(c.pos, n);
                free(buf);
        }
        /* deeper than the limit: refused, also absurdly deep (no stack blow-up) */
        static const size_t deep[] = {KM_AXDR_MAX_DEPTH + 1, KM_AXDR_MAX_DEPTH + 5, 100, 100000};
        for (size_t i = 0; i < sizeof(deep) / sizeof(deep[0]); i++) {
                size_t n;
                uint8_t *buf = nested_arrays(deep[i], &n);
                km_cursor c;
                km_cursor_init(&c, buf, n);
                if (km_axdr_skip(&c, 0) != KM_ERR_TOO_DEEP)
                        fail_msg("depth %zu accepted", deep[i]);
                free(buf);
        }
        /* same with structures, and with the limit reached in a later element */
        uint8_t mixed[64];
        size_t n = hex_to_bytes("02 02 11 01 02 01 02 01 02 01 02 01 02 01 02 01 02 01 02 01 02 01 02 01 11 00",
                                mixed, sizeof(mixed));
        km_cursor c;
        km_cursor_init(&c, mixed, n);
        assert_int_equal(km_axdr_skip(&c, 0), KM_ERR_TOO_DEEP);
        /* starting deeper counts: what is fine at depth 0 is too deep near the limit */
        size_t n3;
        uint8_t *three = nested_arrays(3, &n3);
        km_cursor_init(&c, three, n3);
        assert_int_equal(km_axdr_skip(&c, KM_AXDR_MAX_DEPTH - 2), KM_ERR_TOO_DEEP);
        km_cursor_init(&c, three, n3);
        assert_int_equal(km_axdr_skip(&c, 0), KM_OK);
        free(three);
}

/* Deep nesting reaching the list decoder through a whole APDU is refused
 * with KM_ERR_TOO_DEEP, not decoded and not a crash. */
static void test_depth_limit_through_apdu(void **state)
{
        (void)state;
        uint8_t apdu[256];
        /* Aidon-style: array(1) of register {OBIS, value = deeply nested arrays} */
        size_t n = hex_to_bytes("0F 40 00 00 00 00 01 01 02 02 09 06 01 00 01 07 00 FF", apdu, sizeof(apdu));
        for (int i = 0; i < 40; i++) {
                apdu[n++] = 0x01;
                apdu[n++] = 0x01;
        }
        apdu[n++] = 0x11;
        apdu[n++] = 0x00;
        km_reading *r = malloc(sizeof(*r));
        assert_non_null(r);
        assert_int_equal(km_apdu_decode(apdu, n, r), KM_ERR_TOO_DEEP);
        assert_int_equal(r->n_values, 0);
        free(r);
}

static void test_peek(void **state)
{
        (void)state;
        uint8_t buf[16];
        size_t n = hex_to_bytes("12 09 49 0A 02 41 42", buf, sizeof(buf));
        km_cursor c;
        km_axdr_item a, b;
        km_cursor_init(&c, buf, n);
        assert_int_equal(km_axdr_peek(&c, &a), KM_OK);
        assert_int_equal(c.pos, 0);
        assert_int_equal(km_axdr_read(&c, &b), KM_OK);
        assert_int_equal(a.tag, b.tag);
        assert_int_equal(a.i, 2377);
        assert_int_equal(b.i, 2377);
        assert_int_equal(km_axdr_peek(&c, &a), KM_OK);
        assert_int_equal(a.len, 2);
        assert_memory_equal(a.bytes, "AB", 2);
        assert_int_equal(c.pos, 3);
}

/* Special float values pass through unchanged. */
static void test_float_specials(void **state)
{
        (void)state;
        uint8_t buf[16];
        km_cursor c;
        km_axdr_item it;
        size_t n = hex_to_bytes("17 7F C0 00 00", buf, sizeof(buf));
        km_cursor_init(&c, buf, n);
        assert_int_equal(km_axdr_read(&c, &it), KM_OK);
        assert_true(isnan(it.f));
        n = hex_to_bytes("18 FF F0 00 00 00 00 00 00", buf, sizeof(buf));
        km_cursor_init(&c, buf, n);
        assert_int_equal(km_axdr_read(&c, &it), KM_OK);
        assert_true(isinf(it.f) && it.f < 0);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_every_type),
                cmocka_unit_test(test_containers),
                cmocka_unit_test(test_walk_structure),
                cmocka_unit_test(test_every_cut_is_malformed),
                cmocka_unit_test(test_length_encodings),
                cmocka_unit_test(test_long_lengths),
                cmocka_unit_test(test_lying_counts),
                cmocka_unit_test(test_bug_bitstring_length_wraps),
                cmocka_unit_test(test_rejected_tags),
                cmocka_unit_test(test_depth_limit),
                cmocka_unit_test(test_depth_limit_through_apdu),
                cmocka_unit_test(test_peek),
                cmocka_unit_test(test_float_specials),
        };
        return cmocka_run_group_tests_name("axdr", tests, NULL, NULL);
}
