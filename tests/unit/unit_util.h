/*
 * Helpers shared by the unit tests: hex strings to bytes, capture files from
 * tests/data, HDLC frames built with correct HCS/FCS, a seeded PRNG, and a
 * recorder that feeds bytes to a km_decoder in a chosen chunking and keeps a
 * digest of every event so runs can be compared with each other.
 *
 * Everything here fails the current cmocka test on misuse (missing file,
 * buffer too small) rather than returning an error.
 */
#ifndef KM_UNIT_UTIL_H
#define KM_UNIT_UTIL_H

#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "kaifa/decoder.h"

#ifndef KM_TEST_DATA
#error "KM_TEST_DATA must name the tests/data directory"
#endif

/* Parses hex digits into out, ignoring spaces and newlines; returns the byte
 * count. Fails the test on odd digits or overflow. */
size_t hex_to_bytes(const char *hex, uint8_t *out, size_t cap);

/* Reads KM_TEST_DATA/<rel> into a malloc'ed buffer (free() it). */
uint8_t *load_data_file(const char *rel, size_t *ret_len);

/* A copy of p[0..n) in a heap block of exactly n bytes (at least 1), so that
 * ASan and valgrind catch a read past the end. */
uint8_t *exact_copy(const uint8_t *p, size_t n);

/* Builds 7E <frame> 7E: format word (S bit as asked, length computed),
 * addresses, control, HCS (when info is present), info, FCS. Returns the
 * bytes written including both flags. */
size_t build_frame(uint8_t *out, size_t cap, bool segmented, const uint8_t *dst, size_t dst_len,
                   const uint8_t *src, size_t src_len, uint8_t control, const uint8_t *info,
                   size_t info_len);

/* Same with the Kaifa addresses 01 / 02 01 and control 0x10. */
size_t build_kaifa_frame(uint8_t *out, size_t cap, bool segmented, const uint8_t *info, size_t info_len);

/* xorshift64*: deterministic across platforms. */
typedef struct prng {
        uint64_t s;
} prng;
void prng_seed(prng *r, uint64_t seed);
uint64_t prng_next(prng *r);
/* Uniform in [lo, hi]. */
size_t prng_range(prng *r, size_t lo, size_t hi);
void prng_fill(prng *r, uint8_t *p, size_t n);

/* One recorded event. */
typedef struct ev_rec {
        km_event_kind kind;
        km_status reject;
        size_t len;          /* frame bytes (readings and segments) */
        uint16_t bytes_crc;  /* CRC of the frame bytes (readings and segments) */
        size_t n_values;
        uint32_t digest;     /* reading_digest() for readings */
        bool has_header;
} ev_rec;

typedef struct ev_log {
        ev_rec *ev;
        size_t n;
        size_t cap;
        km_stats stats;
} ev_log;

/* Chunking for feed(): 0 = everything at once, 1 = one byte at a time,
 * CHUNK_RANDOM = random sizes 1..600 from the seed, other = fixed size. */
#define CHUNK_RANDOM ((size_t)-1)

/* Feeds data to a fresh decoder in the given chunking, pulling events after
 * every push; calls km_decoder_finish() at the end when finish is set.
 * Fills log (free with ev_log_free). */
/* The decoder as the HDLC tests use it: the HDLC framer, no detection. */
extern const km_decoder_options km_test_hdlc_only;

/* Feeds data through a decoder set for HDLC (see feed_opt for others). */
void feed(const uint8_t *data, size_t n, size_t chunk, uint64_t seed, bool finish, ev_log *log);

/* Same on a caller's decoder, appending to log (log->stats is updated to
 * d->stats at the end). */
/* The same with decoder options of the caller's choosing. */
void feed_opt(const km_decoder_options *opt, const uint8_t *data, size_t n, size_t chunk, uint64_t seed, bool finish,
              ev_log *log);
void feed_into(km_decoder *d, const uint8_t *data, size_t n, size_t chunk, uint64_t seed, ev_log *log);
void drain(km_decoder *d, ev_log *log);
void ev_log_free(ev_log *log);

/* Counts events of a kind (and, for rejects, a status; 0 = any). */
size_t ev_count(const ev_log *log, km_event_kind kind, km_status status);

/* Asserts two logs hold the same events and the same counters. */
void assert_logs_equal(const ev_log *a, const ev_log *b);

/* A digest of the decoded content of a reading: list, maker, clock and for
 * each value its code, kind, unit, scaler, raw value, text or date-time. */
uint32_t reading_digest(const km_reading *r);


/* True when KM_UNIT_QUICK=1 (valgrind runs): heavy loops are shortened. */
bool quick_mode(void);

/* Asserts |a - b| <= 1e-9 * max(1, |b|), printing both on failure. */
#define assert_double_near(a, b) _assert_double_near((a), (b), #a, __FILE__, __LINE__)
void _assert_double_near(double a, double b, const char *expr, const char *file, int line);

#endif
