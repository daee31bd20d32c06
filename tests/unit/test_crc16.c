/*
 * CRC-16/X.25 (the HDLC HCS and FCS): the catalogue check value, the residue
 * property, the worked HCS example of protocol.md, incremental against
 * one-shot computation at every split point, and the slicing-by-8 table code
 * against a bit-serial reference written here from the definition
 * (reflected polynomial 0x8408, initial 0xFFFF, final XOR 0xFFFF).
 */
#include <stdlib.h>
#include <string.h>

#include "unit_util.h"

/* Bit by bit, straight from the definition in protocol.md section b. */
static uint16_t ref_crc_update(uint16_t crc, const uint8_t *p, size_t n)
{
        for (size_t i = 0; i < n; i++) {
                crc ^= p[i];
                for (int b = 0; b < 8; b++)
                        crc = (crc & 1) ? (uint16_t)((crc >> 1) ^ 0x8408) : (uint16_t)(crc >> 1);
        }
        return crc;
}

static uint16_t ref_crc(const uint8_t *p, size_t n)
{
        return ref_crc_update(0xFFFF, p, n) ^ 0xFFFF;
}

static void test_check_value(void **state)
{
        (void)state;
        const uint8_t *s = (const uint8_t *)"123456789";
        assert_int_equal(km_crc16_x25(s, 9), 0x906E);
        assert_int_equal(ref_crc(s, 9), 0x906E); /* the reference itself is right */
        assert_int_equal(km_crc16_x25_update(0xFFFF, s, 9) ^ 0xFFFF, 0x906E);
}

static void test_empty_input(void **state)
{
        (void)state;
        assert_int_equal(km_crc16_x25((const uint8_t *)"", 0), 0x0000);
        assert_int_equal(km_crc16_x25_update(0xFFFF, NULL, 0), 0xFFFF);
        assert_int_equal(km_crc16_x25_update(0x1234, NULL, 0), 0x1234);
}

static void test_hcs_example(void **state)
{
        (void)state;
        static const uint8_t hdr[] = {0xA0, 0x27, 0x01, 0x02, 0x01, 0x10};
        assert_int_equal(km_crc16_x25(hdr, sizeof(hdr)), 0x875A);
}

/* The H1 frame of protocol.md: its HCS 0x875A and FCS 0xCCC1 as sent. */
static void test_h1_frame_checksums(void **state)
{
        (void)state;
        uint8_t f[64];
        size_t n = hex_to_bytes("A0 27 01 02 01 10 5A 87 E6 E7 00 0F 40 00 00 00"
                                "09 0C 07 E1 01 12 03 0E 11 36 FF 80 00 00 02 01 06 00 00 01 BE C1 CC",
                                f, sizeof(f));
        assert_int_equal(n, 39);
        assert_int_equal(km_crc16_x25(f, 6), 0x875A);
        assert_int_equal(km_crc16_x25(f, 37), 0xCCC1);
        /* whole frame including its FCS: the residue */
        assert_int_equal(km_crc16_x25(f, 39), 0x0F47);
}

static void test_residue(void **state)
{
        (void)state;
        prng r;
        prng_seed(&r, 42);
        uint8_t buf[300];
        for (size_t n = 0; n <= 256; n++) {
                prng_fill(&r, buf, n);
                uint16_t fcs = km_crc16_x25(buf, n);
                buf[n] = (uint8_t)(fcs & 0xFF); /* low byte first, as on the wire */
                buf[n + 1] = (uint8_t)(fcs >> 8);
                assert_int_equal(km_crc16_x25_update(0xFFFF, buf, n + 2), 0xF0B8);
                assert_int_equal(km_crc16_x25(buf, n + 2), 0x0F47);
        }
}

static void test_incremental_every_split(void **state)
{
        (void)state;
        enum { N = 1000 };
        uint8_t *buf = malloc(N);
        assert_non_null(buf);
        prng r;
        prng_seed(&r, 0xC0FFEE);
        prng_fill(&r, buf, N);
        uint16_t whole = km_crc16_x25(buf, N);
        assert_int_equal(whole, ref_crc(buf, N));
        for (size_t k = 0; k <= N; k++) {
                uint16_t c = km_crc16_x25_update(0xFFFF, buf, k);
                c = km_crc16_x25_update(c, buf + k, N - k);
                uint16_t got = (uint16_t)(c ^ 0xFFFFu);
                if (got != whole)
                        fail_msg("split at %zu: 0x%04x != 0x%04x", k, got, whole);
        }
        /* three pieces, random split points */
        for (int t = 0; t < 2000; t++) {
                size_t a = prng_range(&r, 0, N);
                size_t b = prng_range(&r, a, N);
                uint16_t c = km_crc16_x25_update(0xFFFF, buf, a);
                c = km_crc16_x25_update(c, buf + a, b - a);
                c = km_crc16_x25_update(c, buf + b, N - b);
                assert_int_equal(c ^ 0xFFFF, whole);
        }
        free(buf);
}

/* Lengths 0..17 cover no 8-byte block, one and two blocks, each with every
 * tail length; each input starts at every alignment 0..7, and each buffer is
 * an exact heap block so an over-read shows under ASan/valgrind. */
static void test_short_lengths_against_reference(void **state)
{
        (void)state;
        prng r;
        prng_seed(&r, 7);
        uint8_t src[32];
        for (int round = 0; round < 50; round++) {
                prng_fill(&r, src, sizeof(src));
                for (size_t align = 0; align < 8; align++) {
                        for (size_t n = 0; n <= 17; n++) {
                                uint8_t *block = malloc(align + n + 1);
                                assert_non_null(block);
                                memcpy(block + align, src, n);
                                uint16_t got = km_crc16_x25(block + align, n);
                                uint16_t want = ref_crc(src, n);
                                if (got != want)
                                        fail_msg("n=%zu align=%zu: 0x%04x != 0x%04x", n, align, got, want);
                                /* and continuing from a non-initial register */
                                uint16_t seed = (uint16_t)prng_next(&r);
                                assert_int_equal(km_crc16_x25_update(seed, block + align, n),
                                                 ref_crc_update(seed, src, n));
                                free(block);
                        }
                }
        }
}

static void test_long_buffers_against_reference(void **state)
{
        (void)state;
        prng r;
        prng_seed(&r, 99);
        enum { MAX = 4100 };
        uint8_t *buf = malloc(MAX);
        assert_non_null(buf);
        for (size_t n = 18; n < MAX; n += prng_range(&r, 1, 97)) {
                prng_fill(&r, buf, n);
                assert_int_equal(km_crc16_x25(buf, n), ref_crc(buf, n));
        }
        /* all-zero and all-one inputs (table rows 0 and 255) */
        memset(buf, 0, MAX);
        assert_int_equal(km_crc16_x25(buf, MAX), ref_crc(buf, MAX));
        memset(buf, 0xFF, MAX);
        assert_int_equal(km_crc16_x25(buf, MAX), ref_crc(buf, MAX));
        free(buf);
}

/* A single flipped bit anywhere in a frame must change the CRC (CRC-16
 * detects every 1- and 2-bit error in frames this short). */
static void test_detects_bit_errors(void **state)
{
        (void)state;
        uint8_t f[122];
        prng r;
        prng_seed(&r, 3);
        prng_fill(&r, f, sizeof(f));
        uint16_t good = km_crc16_x25(f, sizeof(f));
        for (size_t i = 0; i < sizeof(f) * 8; i++) {
                f[i / 8] ^= (uint8_t)(1u << (i % 8));
                assert_int_not_equal(km_crc16_x25(f, sizeof(f)), good);
                for (size_t j = i + 1; j < sizeof(f) * 8; j += 37) {
                        f[j / 8] ^= (uint8_t)(1u << (j % 8));
                        assert_int_not_equal(km_crc16_x25(f, sizeof(f)), good);
                        f[j / 8] ^= (uint8_t)(1u << (j % 8));
                }
                f[i / 8] ^= (uint8_t)(1u << (i % 8));
        }
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_check_value),
                cmocka_unit_test(test_empty_input),
                cmocka_unit_test(test_hcs_example),
                cmocka_unit_test(test_h1_frame_checksums),
                cmocka_unit_test(test_residue),
                cmocka_unit_test(test_incremental_every_split),
                cmocka_unit_test(test_short_lengths_against_reference),
                cmocka_unit_test(test_long_buffers_against_reference),
                cmocka_unit_test(test_detects_bit_errors),
        };
        return cmocka_run_group_tests_name("crc16", tests, NULL, NULL);
}
