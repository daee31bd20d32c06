/*
 * Fault test: a stream of more than 100,000 real frames (the three long
 * nordbo captures x 12, 245,472 frames) with 1 % of its bytes corrupted at
 * random (seeded). Every reading that comes out of the damaged stream must
 * equal, as the JSON sink prints it, the clean stream's reading of the
 * frame at the same offset; and every frame whose bytes and flags were all
 * left alone must still come out.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "unit_util.h"

#include "sinks/json.h"

#define COPIES 12
#define CORRUPT_PER_MILLE 10

static const char *const files[] = {
        "captures/nordbo/han-data-MA304H3E-2017-01-20_1202-1608.bin",
        "captures/nordbo/han-data-MA304T4-2017-01-23_0835-1258.bin",
        "captures/nordbo/han-data-MA304T3-2017-01-23_1303-1557.bin",
};

/* A reading seen at a frame offset: where, how long, and a hash of its JSON. */
typedef struct seen {
        size_t offset, len;
        uint64_t hash;
} seen;

typedef struct record {
        const uint8_t *base;
        size_t size;
        seen *v;
        size_t n, cap;
        km_textbuf json;
} record;

static uint64_t fnv1a(const char *p, size_t n)
{
        uint64_t h = 14695981039346656037ULL;
        for (size_t i = 0; i < n; i++)
                h = (h ^ (uint8_t)p[i]) * 1099511628211ULL;
        return h;
}

static void on_event(const km_event *ev, void *userdata)
{
        record *rec = userdata;
        if (ev->kind != KM_EVENT_READING)
                return;
        /* fed in one piece, the framer hands out frames in place */
        assert_true(ev->bytes >= rec->base && ev->bytes + ev->len <= rec->base + rec->size);
        static const km_json_options compact = {.compact = true};
        rec->json.len = 0;
        assert_true(km_json_render(ev, &compact, &rec->json));
        if (rec->n == rec->cap) {
                rec->cap = rec->cap ? 2 * rec->cap : 1 << 16;
                rec->v = realloc(rec->v, rec->cap * sizeof(*rec->v));
                assert_non_null(rec->v);
        }
        rec->v[rec->n++] = (seen){(size_t)(ev->bytes - rec->base), ev->len, fnv1a(rec->json.p, rec->json.len)};
}

static km_decoder decoder;

static void decode(const uint8_t *p, size_t n, record *rec)
{
        static const km_decoder_options hdlc = {.transport = KM_TRANSPORT_HDLC};
        rec->base = p;
        rec->size = n;
        km_decoder_init(&decoder, &hdlc);
        km_decoder_feed(&decoder, p, n, on_event, rec);
        km_decoder_end(&decoder, on_event, rec);
}

static void test_one_percent_corrupted(void **state)
{
        (void)state;
        size_t size = 0, cap = 0;
        uint8_t *stream = NULL;
        for (int c = 0; c < COPIES; c++)
                for (size_t f = 0; f < sizeof(files) / sizeof(files[0]); f++) {
                        size_t n;
                        uint8_t *b = load_data_file(files[f], &n);
                        if (size + n > cap) {
                                cap = 2 * (size + n);
                                stream = realloc(stream, cap);
                                assert_non_null(stream);
                        }
                        memcpy(stream + size, b, n);
                        size += n;
                        free(b);
                }
        record clean = {0}, damaged = {0};
        decode(stream, size, &clean);
        assert_true(clean.n >= 100000);

        uint8_t *bad = malloc(size);
        bool *touched = calloc(size, sizeof(bool));
        assert_true(bad && touched);
        memcpy(bad, stream, size);
        prng r;
        prng_seed(&r, 1401);
        size_t corrupted = 0;
        for (size_t i = 0; i < size; i++)
                if (prng_range(&r, 0, 999) < CORRUPT_PER_MILLE) {
                        bad[i] ^= (uint8_t)prng_range(&r, 1, 255); /* always a different byte */
                        touched[i] = true;
                        corrupted++;
                }
        decode(bad, size, &damaged);

        /* both lists are in stream order: walk them side by side */
        size_t j = 0, untouched = 0, missing = 0, wrong = 0;
        for (size_t i = 0; i < damaged.n; i++) {
                while (j < clean.n && clean.v[j].offset < damaged.v[i].offset)
                        j++;
                if (j == clean.n || clean.v[j].offset != damaged.v[i].offset ||
                    clean.v[j].len != damaged.v[i].len || clean.v[j].hash != damaged.v[i].hash)
                        wrong++;
        }
        j = 0;
        for (size_t i = 0; i < clean.n; i++) {
                const seen *s = &clean.v[i];
                bool hit = false; /* the frame and its two flags */
                for (size_t k = s->offset ? s->offset - 1 : 0; k <= s->offset + s->len && k < size && !hit; k++)
                        hit = touched[k];
                if (hit)
                        continue;
                untouched++;
                while (j < damaged.n && damaged.v[j].offset < s->offset)
                        j++;
                if (j == damaged.n || damaged.v[j].offset != s->offset)
                        missing++;
        }
        print_message("faults: %zu bytes, %zu corrupted; clean %zu readings, damaged %zu; %zu frames untouched, "
                      "%zu of them missing; %zu readings out of the damaged stream differ from the clean one\n",
                      size, corrupted, clean.n, damaged.n, untouched, missing, wrong);
        assert_int_equal(wrong, 0);
        assert_int_equal(missing, 0);
        assert_true(untouched > clean.n / 2);
        free(bad);
        free(touched);
        free(stream);
        free(clean.v);
        free(damaged.v);
        km_textbuf_free(&clean.json);
        km_textbuf_free(&damaged.json);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_one_percent_corrupted),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
