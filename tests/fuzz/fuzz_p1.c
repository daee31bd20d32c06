/*
 * libFuzzer target for the DSMR/P1 framer and parser: km_p1_push/next/
 * finish, km_p1_parse, km_p1_check, and the decoder with the P1 transport
 * forced (the pipeline around the same framer).
 *
 * Input layout: byte 0 steers, the rest is meter bytes.
 *   bit 7      ignore the CRC, so mutated telegrams reach the parser
 *              without the fuzzer having to forge CRCs;
 *   bits 0..6  push chunk size: 0 = everything at once, 1..63 = that many
 *              bytes, 64..127 = (c - 63) * 16 bytes (16 .. 1024).
 *
 * Besides the sanitizers, abort() fires when a rule callers rely on breaks:
 * results lie in the framer's buffer and within KM_P1_MAX, verdict and
 * status agree, the chunk size never changes the results (each compared
 * with one whole push), every byte is either in a result, skipped, or a line
 * end between telegrams, readings keep their fixed capacities, texts are
 * terminated and what sinks show of them is clean, known values point at
 * their own OBIS table row, and the raw form of a decoded hex text is twice
 * as long. Built with -fsanitize=fuzzer (fuzz_p1, KM_FUZZ=ON, clang) and
 * plain, linked with fuzz_replay.c (ctest fuzz_p1_replay).
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kaifa/decoder.h"
#include "kaifa/p1.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(cond)                                                                                \
        do {                                                                                       \
                if (!(cond)) {                                                                     \
                        fprintf(stderr, "fuzz_p1: %s:%d: check failed: %s\n", __FILE__, __LINE__, \
                                #cond);                                                            \
                        abort();                                                                   \
                }                                                                                  \
        } while (0)

#define MAX_RESULTS 4096

typedef struct result {
        km_p1_result kind;
        km_p1_verdict verdict;
        size_t len;
        uint32_t digest;
} result;

typedef struct run {
        result r[MAX_RESULTS];
        size_t n;
        size_t skipped;
        size_t in_results;
        size_t good;
} run;

static km_p1 framer;
static km_reading reading;
static km_decoder decoder;
static run whole, chunked;
static volatile uint64_t sink;

static size_t chunk_size(uint8_t steer, size_t n)
{
        unsigned c = steer & 0x7F;
        if (c == 0)
                return n ? n : 1;
        return c < 64 ? c : (c - 63) * 16;
}

static uint32_t digest(const char *p, size_t n)
{
        uint32_t h = 2166136261u;
        for (size_t i = 0; i < n; i++)
                h = (h ^ (uint8_t)p[i]) * 16777619u;
        return h;
}

static void touch_reading(const km_reading *r)
{
        char buf[KM_TEXT_RAW_MAX + KM_TEXT_SHOW_MAX + KM_DATETIME_STR_MAX];
        CHECK(r->n_values <= KM_READING_MAX_VALUES);
        CHECK(r->list_name != NULL);
        if (r->has_clock)
                sink += strlen(km_datetime_iso8601(&r->clock, buf, sizeof(buf)));
        for (size_t i = 0; i < r->n_values; i++) {
                const km_value *v = &r->values[i];
                sink += strlen(km_obis_format(v->obis, buf, sizeof(buf)));
                CHECK(v->text_len <= KM_TEXT_MAX);
                CHECK(v->text[v->text_len] == '\0');
                CHECK((unsigned)v->unit < KM_UNIT_COUNT_);
                if (v->info)
                        CHECK(km_obis_lookup(v->obis) == v->info);
                if (v->has_captured)
                        sink += strlen(km_datetime_iso8601(&v->captured, buf, sizeof(buf)));
                switch (v->kind) {
                case KM_VALUE_NUMBER:
                        CHECK(v->scaler >= -18 && v->scaler <= 3);
                        sink += (uint64_t)(km_value_number(v) != 0.0);
                        break;
                case KM_VALUE_DATETIME:
                        CHECK(v->datetime.month >= 1 && v->datetime.month <= 12);
                        sink += strlen(km_datetime_iso8601(&v->datetime, buf, sizeof(buf)));
                        break;
                case KM_VALUE_TEXT: {
                        size_t raw = strlen(km_value_text_raw(v, buf, sizeof(buf)));
                        CHECK(raw == (v->text_hex ? 2u : 1u) * v->text_len);
                        const char *shown = km_value_text_show(v, buf, KM_TEXT_SHOW_MAX);
                        CHECK(km_text_is_clean(shown, strlen(shown)));
                        break;
                }
                default:
                        CHECK(!"unexpected value kind");
                }
        }
}

static void take(run *rn, km_p1_result kind, const km_p1_out *o)
{
        rn->skipped += o->skipped;
        if (kind == KM_P1_NEED_MORE)
                return;
        CHECK(o->text == framer.buf);
        CHECK(o->len >= 1 && o->len <= KM_P1_MAX && o->text[0] == '/');
        CHECK(o->crc_len <= o->len);
        CHECK((kind == KM_P1_TELEGRAM) == (o->verdict == KM_P1_GOOD));
        CHECK(o->status == km_p1_verdict_status(o->verdict));
        sink += strlen(km_p1_verdict_name(o->verdict));
        rn->in_results += o->len;
        rn->good += kind == KM_P1_TELEGRAM;
        if (rn->n < MAX_RESULTS)
                rn->r[rn->n] = (result){kind, o->verdict, o->len, digest(o->text, o->len)};
        rn->n++;
        km_status s = km_p1_parse(o->text, o->len, &reading);
        CHECK(s == KM_OK || s == KM_ERR_MALFORMED);
        touch_reading(&reading);
}

static void frame_all(const uint8_t *p, size_t n, size_t chunk, bool ignore, run *rn)
{
        km_p1_out o;
        km_p1_result k;
        memset(rn, 0, sizeof(*rn));
        km_p1_init(&framer);
        framer.ignore_crc = ignore;
        for (size_t off = 0; off < n;) {
                size_t end = n - off < chunk ? n : off + chunk;
                while (off < end) {
                        size_t took = km_p1_push(&framer, p + off, end - off);
                        while ((k = km_p1_next(&framer, &o)) != KM_P1_NEED_MORE)
                                take(rn, k, &o);
                        take(rn, k, &o);
                        CHECK(took > 0 || framer.pending == false);
                        off += took;
                }
        }
        km_p1_finish(&framer);
        while ((k = km_p1_next(&framer, &o)) != KM_P1_NEED_MORE)
                take(rn, k, &o);
        take(rn, k, &o);
        CHECK(km_p1_next(&framer, &o) == KM_P1_NEED_MORE);
        /* every byte went somewhere: a result, skipped, or a line end
         * between telegrams (bytes after a too-long cut are skipped) */
        size_t line_ends = 0;
        for (size_t i = 0; i < n; i++)
                line_ends += p[i] == '\r' || p[i] == '\n';
        CHECK(rn->skipped + rn->in_results <= n);
        CHECK(rn->skipped + rn->in_results + line_ends >= n);
}

static void on_event(const km_event *ev, void *ud)
{
        (void)ud;
        CHECK(ev->transport == KM_TRANSPORT_P1);
        if (ev->kind == KM_EVENT_READING) {
                CHECK(ev->reading != NULL && ev->header == NULL);
                touch_reading(ev->reading);
        } else {
                CHECK(ev->kind == KM_EVENT_REJECT && ev->reject < 0 && ev->reject > -KM_STATUS_COUNT_);
        }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        if (size == 0)
                return 0;
        bool ignore = (data[0] & 0x80) != 0;
        const uint8_t *p = data + 1;
        size_t n = size - 1;

        frame_all(p, n, n ? n : 1, ignore, &whole);
        frame_all(p, n, chunk_size(data[0], n), ignore, &chunked);
        CHECK(whole.n == chunked.n && whole.skipped == chunked.skipped);
        for (size_t i = 0; i < whole.n && i < MAX_RESULTS; i++)
                CHECK(memcmp(&whole.r[i], &chunked.r[i], sizeof(result)) == 0);

        /* the whole input as one telegram text */
        km_status s = km_p1_parse((const char *)p, n, &reading);
        CHECK(s == KM_OK || s == KM_ERR_MALFORMED);
        touch_reading(&reading);
        km_p1_out o;
        km_p1_verdict v = km_p1_check((const char *)p, n, &o);
        CHECK(o.verdict == v && o.len <= n && o.crc_len <= o.len);

        /* the pipeline with the P1 transport forced: one event per result */
        km_decoder_options opt = {.ignore_checksum = ignore, .transport = KM_TRANSPORT_P1, .hex = KM_HEX_NO};
        km_decoder_init(&decoder, &opt);
        size_t chunk = chunk_size(data[0], n);
        for (size_t off = 0; off < n; off += chunk)
                km_decoder_feed(&decoder, p + off, n - off < chunk ? n - off : chunk, on_event, NULL);
        km_decoder_end(&decoder, on_event, NULL);
        CHECK(decoder.stats.bytes_in == n);
        CHECK(decoder.stats.frames_good == whole.good);
        return 0;
}
