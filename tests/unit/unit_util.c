/*
 * Helpers shared by the unit tests (see unit_util.h): hex parsing, capture
 * files, frame building with real checksums, a PRNG, and the event recorder
 * that lets a test compare decoder runs fed in different chunk sizes.
 */
#include "unit_util.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int hex_digit(char c)
{
        if (c >= '0' && c <= '9')
                return c - '0';
        if (c >= 'a' && c <= 'f')
                return c - 'a' + 10;
        if (c >= 'A' && c <= 'F')
                return c - 'A' + 10;
        return -1;
}

size_t hex_to_bytes(const char *hex, uint8_t *out, size_t cap)
{
        size_t n = 0;
        int hi = -1;
        for (const char *p = hex; *p; p++) {
                if (*p == ' ' || *p == '\n' || *p == '\t' || *p == '|')
                        continue;
                int d = hex_digit(*p);
                if (d < 0)
                        fail_msg("bad hex digit '%c' in test vector", *p);
                if (hi < 0) {
                        hi = d;
                        continue;
                }
                if (n >= cap)
                        fail_msg("hex vector longer than %zu bytes", cap);
                out[n++] = (uint8_t)(hi << 4 | d);
                hi = -1;
        }
        if (hi >= 0)
                fail_msg("odd number of hex digits in test vector");
        return n;
}

uint8_t *load_data_file(const char *rel, size_t *ret_len)
{
        char path[1024];
        snprintf(path, sizeof(path), "%s/%s", KM_TEST_DATA, rel);
        FILE *f = fopen(path, "rb");
        if (!f)
                fail_msg("cannot open test data %s", path);
        fseek(f, 0, SEEK_END);
        long size = ftell(f);
        fseek(f, 0, SEEK_SET);
        assert_true(size >= 0);
        uint8_t *buf = malloc((size_t)size + 1);
        assert_non_null(buf);
        size_t got = fread(buf, 1, (size_t)size, f);
        fclose(f);
        assert_int_equal(got, (size_t)size);
        *ret_len = (size_t)size;
        return buf;
}

uint8_t *exact_copy(const uint8_t *p, size_t n)
{
        uint8_t *c = malloc(n ? n : 1);
        assert_non_null(c);
        if (n)
                memcpy(c, p, n);
        return c;
}

size_t build_frame(uint8_t *out, size_t cap, bool segmented, const uint8_t *dst, size_t dst_len,
                   const uint8_t *src, size_t src_len, uint8_t control, const uint8_t *info,
                   size_t info_len)
{
        size_t hdr = 2 + dst_len + src_len + 1;
        size_t len = hdr + (info_len ? 2 + info_len : 0) + 2;
        assert_true(len <= KM_HDLC_MAX_LEN);
        assert_true(len + 2 <= cap);
        uint8_t *f = out + 1;
        out[0] = KM_HDLC_FLAG;
        f[0] = (uint8_t)(0xA0 | (segmented ? 0x08 : 0) | (len >> 8));
        f[1] = (uint8_t)(len & 0xFF);
        memcpy(f + 2, dst, dst_len);
        memcpy(f + 2 + dst_len, src, src_len);
        f[hdr - 1] = control;
        size_t at = hdr;
        if (info_len) {
                uint16_t hcs = km_crc16_x25(f, hdr);
                f[at++] = (uint8_t)(hcs & 0xFF);
                f[at++] = (uint8_t)(hcs >> 8);
                memcpy(f + at, info, info_len);
                at += info_len;
        }
        uint16_t fcs = km_crc16_x25(f, at);
        f[at++] = (uint8_t)(fcs & 0xFF);
        f[at++] = (uint8_t)(fcs >> 8);
        assert_int_equal(at, len);
        out[1 + len] = KM_HDLC_FLAG;
        return len + 2;
}

size_t build_kaifa_frame(uint8_t *out, size_t cap, bool segmented, const uint8_t *info, size_t info_len)
{
        static const uint8_t dst[] = {0x01};
        static const uint8_t src[] = {0x02, 0x01};
        return build_frame(out, cap, segmented, dst, 1, src, 2, 0x10, info, info_len);
}

void prng_seed(prng *r, uint64_t seed)
{
        r->s = seed ? seed : 0x9E3779B97F4A7C15ull;
}

uint64_t prng_next(prng *r)
{
        r->s ^= r->s >> 12;
        r->s ^= r->s << 25;
        r->s ^= r->s >> 27;
        return r->s * 0x2545F4914F6CDD1Dull;
}

size_t prng_range(prng *r, size_t lo, size_t hi)
{
        return lo + (size_t)(prng_next(r) % (uint64_t)(hi - lo + 1));
}

void prng_fill(prng *r, uint8_t *p, size_t n)
{
        for (size_t i = 0; i < n; i++)
                p[i] = (uint8_t)(prng_next(r) >> 56);
}

static void crc_mix(uint16_t *crc, const void *p, size_t n)
{
        *crc = km_crc16_x25_update(*crc, p, n);
}

/* Field by field: the struct has padding bytes. */
static void mix_datetime(uint16_t *crc, const km_datetime *dt)
{
        uint8_t f[12] = {(uint8_t)(dt->year >> 8), (uint8_t)dt->year, dt->month, dt->day, dt->weekday, dt->hour,
                         dt->minute, dt->second, dt->hundredths, (uint8_t)((uint16_t)dt->deviation >> 8),
                         (uint8_t)dt->deviation, dt->status};
        crc_mix(crc, f, sizeof(f));
}

uint32_t reading_digest(const km_reading *r)
{
        /* Two CRC-16 registers over different orders make a 32-bit digest
         * that is plenty for telling readings apart in tests. */
        uint16_t a = 0xFFFF;
        uint16_t b = 0x1234;
        const char *list = r->list_name ? r->list_name : "(null)";
        const char *maker = r->maker ? r->maker : "(null)";
        crc_mix(&a, list, strlen(list));
        crc_mix(&a, maker, strlen(maker));
        crc_mix(&a, &r->has_clock, sizeof(r->has_clock));
        if (r->has_clock)
                mix_datetime(&a, &r->clock);
        crc_mix(&a, &r->n_values, sizeof(r->n_values));
        for (size_t i = 0; i < r->n_values; i++) {
                const km_value *v = &r->values[i];
                uint16_t *c = (i & 1) ? &b : &a;
                crc_mix(c, v->obis, 6);
                crc_mix(c, &v->kind, sizeof(v->kind));
                crc_mix(c, &v->unit, sizeof(v->unit));
                crc_mix(c, &v->scaler, sizeof(v->scaler));
                switch (v->kind) {
                case KM_VALUE_NUMBER:
                        crc_mix(c, &v->raw, sizeof(v->raw));
                        break;
                case KM_VALUE_FLOAT:
                        crc_mix(c, &v->real, sizeof(v->real));
                        break;
                case KM_VALUE_TEXT:
                        crc_mix(c, v->text, v->text_len);
                        break;
                case KM_VALUE_DATETIME:
                        mix_datetime(c, &v->datetime);
                        break;
                }
        }
        return (uint32_t)a << 16 | b;
}

static void record(ev_log *log, const km_event *ev)
{
        if (log->n == log->cap) {
                log->cap = log->cap ? log->cap * 2 : 64;
                log->ev = realloc(log->ev, log->cap * sizeof(*log->ev));
                assert_non_null(log->ev);
        }
        ev_rec *e = &log->ev[log->n++];
        memset(e, 0, sizeof(*e));
        e->kind = ev->kind;
        e->reject = ev->reject;
        e->has_header = ev->header != NULL;
        if (ev->kind == KM_EVENT_READING || ev->kind == KM_EVENT_SEGMENT ||
            (ev->kind == KM_EVENT_REJECT && ev->header)) {
                /* whole good frames only: a rejected candidate's byte count
                 * depends on how much input was buffered when it failed */
                e->len = ev->len;
                e->bytes_crc = km_crc16_x25(ev->bytes, ev->len);
        }
        if (ev->kind == KM_EVENT_READING) {
                assert_non_null(ev->reading);
                assert_non_null(ev->frame);
                if (ev->transport == KM_TRANSPORT_HDLC)
                        assert_non_null(ev->header);
                e->n_values = ev->reading->n_values;
                e->digest = reading_digest(ev->reading);
        }
}

void drain(km_decoder *d, ev_log *log)
{
        km_event ev;
        while (km_decoder_next(d, &ev))
                record(log, &ev);
}

void feed_into(km_decoder *d, const uint8_t *data, size_t n, size_t chunk, uint64_t seed, ev_log *log)
{
        prng r;
        prng_seed(&r, seed);
        size_t off = 0;
        while (off < n) {
                size_t want = n - off;
                if (chunk == CHUNK_RANDOM)
                        want = prng_range(&r, 1, 600);
                else if (chunk > 0)
                        want = chunk;
                if (want > n - off)
                        want = n - off;
                size_t end = off + want;
                while (off < end) {
                        size_t took = km_decoder_push(d, data + off, end - off);
                        off += took;
                        size_t before = log->n;
                        drain(d, log);
                        /* no progress and no event would loop forever */
                        assert_true(took > 0 || log->n > before);
                }
        }
        log->stats = d->stats;
}

const km_decoder_options km_test_hdlc_only = {.transport = KM_TRANSPORT_HDLC};

void feed(const uint8_t *data, size_t n, size_t chunk, uint64_t seed, bool finish, ev_log *log)
{
        feed_opt(&km_test_hdlc_only, data, n, chunk, seed, finish, log);
}

void feed_opt(const km_decoder_options *opt, const uint8_t *data, size_t n, size_t chunk, uint64_t seed, bool finish,
              ev_log *log)
{
        km_decoder *d = malloc(sizeof(*d));
        assert_non_null(d);
        km_decoder_init(d, opt);
        memset(log, 0, sizeof(*log));
        feed_into(d, data, n, chunk, seed, log);
        if (finish) {
                km_decoder_finish(d);
                drain(d, log);
        }
        log->stats = d->stats;
        free(d);
}

void ev_log_free(ev_log *log)
{
        free(log->ev);
        memset(log, 0, sizeof(*log));
}

size_t ev_count(const ev_log *log, km_event_kind kind, km_status status)
{
        size_t c = 0;
        for (size_t i = 0; i < log->n; i++)
                if (log->ev[i].kind == kind && (status == KM_OK || log->ev[i].reject == status))
                        c++;
        return c;
}

void assert_logs_equal(const ev_log *a, const ev_log *b)
{
        assert_int_equal(a->n, b->n);
        for (size_t i = 0; i < a->n; i++) {
                const ev_rec *x = &a->ev[i];
                const ev_rec *y = &b->ev[i];
                if (x->kind != y->kind || x->reject != y->reject || x->len != y->len ||
                    x->bytes_crc != y->bytes_crc || x->n_values != y->n_values || x->digest != y->digest ||
                    x->has_header != y->has_header)
                        fail_msg("event %zu differs: kind %d/%d status %d/%d len %zu/%zu digest %08x/%08x", i,
                                 x->kind, y->kind, x->reject, y->reject, x->len, y->len, x->digest, y->digest);
        }
        assert_int_equal(a->stats.bytes_in, b->stats.bytes_in);
        assert_int_equal(a->stats.bytes_skipped, b->stats.bytes_skipped);
        assert_int_equal(a->stats.frames_good, b->stats.frames_good);
        assert_int_equal(a->stats.readings, b->stats.readings);
        assert_int_equal(a->stats.segments, b->stats.segments);
        for (int i = 0; i < KM_STATUS_COUNT_; i++)
                assert_int_equal(a->stats.rejected[i], b->stats.rejected[i]);
}

bool quick_mode(void)
{
        const char *e = getenv("KM_UNIT_QUICK");
        return e && strcmp(e, "1") == 0;
}

void _assert_double_near(double a, double b, const char *expr, const char *file, int line)
{
        double tol = 1e-9 * (fabs(b) > 1 ? fabs(b) : 1);
        if (!(fabs(a - b) <= tol)) {
                print_error("%s = %.17g, expected %.17g\n", expr, a, b);
                _fail(file, line);
        }
}
