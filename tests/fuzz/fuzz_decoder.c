/*
 * libFuzzer target for the decoder core: the streaming HDLC framer with
 * segment reassembly and the DLMS/A-XDR parser behind it, plus the one-shot
 * entry points km_hdlc_parse_frame(), km_apdu_decode() and km_info_decode().
 *
 * Input layout: byte 0 steers, the rest is meter bytes.
 *   bit 7      decode with ignore_checksum, so mutated frames reach the
 *              APDU parser without the fuzzer having to forge CRCs;
 *   bits 0..6  push chunk size: 0 = everything at once, 1..63 = that many
 *              bytes, 64..127 = (c - 63) * 64 bytes (64 .. 4096).
 *
 * Besides the sanitizers, the target checks what every caller relies on:
 * event pointers lie inside the frame, readings respect their fixed
 * capacities, texts are terminated, status codes are in range, every input
 * byte is accounted for, and, with checksums on, the chunk size never
 * changes what is decoded (the same counters as one whole push). A broken
 * rule calls abort(), which libFuzzer reports as a crash.
 *
 * Built two ways: with -fsanitize=fuzzer (fuzz_decoder, KM_FUZZ=ON, clang)
 * and plain, linked with fuzz_replay.c, which runs the seed corpus and the
 * kept crashers under ctest.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kaifa/decoder.h"
#include "kaifa/hdlc.h"
#include "kaifa/obis.h"
#include "kaifa/reading.h"
#include "kaifa/status.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(cond)                                                                          \
        do {                                                                                 \
                if (!(cond)) {                                                               \
                        fprintf(stderr, "fuzz_decoder: %s:%d: check failed: %s\n", __FILE__, \
                                __LINE__, #cond);                                            \
                        abort();                                                             \
                }                                                                            \
        } while (0)

static km_decoder decoder; /* ~20 KB each: static, not on the stack */
static km_reading reading;
static volatile uint64_t sink;

static size_t chunk_size(uint8_t steer, size_t n)
{
        unsigned c = steer & 0x7F;
        if (c == 0)
                return n ? n : 1;
        return c < 64 ? c : (c - 63) * 64;
}

static void check_status(km_status s)
{
        CHECK(s <= 0 && s > -KM_STATUS_COUNT_);
        CHECK(km_strerror(s) != NULL);
        CHECK(km_status_name(s) != NULL);
}

/* What sinks print for a text is always clean: the text itself or its hex. */
static void check_text(const km_value *v)
{
        char show[KM_TEXT_SHOW_MAX];
        km_value_text_show(v, show, sizeof(show));
        size_t n = strlen(show);
        CHECK(n < sizeof(show));
        CHECK(km_text_is_clean(show, n));
        if (km_text_is_clean(v->text, v->text_len))
                CHECK(n == v->text_len && memcmp(show, v->text, n) == 0);
        sink += n;
}

/* Reads every field of a reading the way the sinks do. */
static void touch_reading(const km_reading *r)
{
        char buf[KM_DATETIME_STR_MAX + KM_OBIS_STR_MAX];
        CHECK(r->n_values <= KM_READING_MAX_VALUES);
        CHECK(r->list_name != NULL); /* maker is NULL for lists no family claims */
        if (r->has_clock)
                sink += strlen(km_datetime_iso8601(&r->clock, buf, sizeof(buf)));
        for (size_t i = 0; i < r->n_values; i++) {
                const km_value *v = &r->values[i];
                sink += strlen(km_obis_format(v->obis, buf, sizeof(buf)));
                CHECK(v->text_len <= KM_TEXT_MAX);
                CHECK(v->text[v->text_len] == '\0');
                CHECK((unsigned)v->unit < KM_UNIT_COUNT_);
                sink += strlen(km_unit_symbol(v->unit)) + strlen(km_unit_symbol_compat(v->unit));
                int exp = 0;
                CHECK((unsigned)km_unit_display(v->unit, &exp) < KM_UNIT_COUNT_);
                CHECK(exp >= -9 && exp <= 9);
                if (v->info) {
                        CHECK(v->info->name != NULL && v->info->description != NULL);
                        CHECK(km_obis_lookup(v->obis) == v->info);
                }
                switch (v->kind) {
                case KM_VALUE_NUMBER:
                case KM_VALUE_FLOAT:
                        sink += (uint64_t)(km_value_number(v) != 0.0);
                        break;
                case KM_VALUE_DATETIME:
                        sink += strlen(km_datetime_iso8601(&v->datetime, buf, sizeof(buf)));
                        break;
                case KM_VALUE_TEXT:
                        check_text(v);
                        break;
                default:
                        CHECK(!"unknown value kind");
                }
        }
        const char *id = km_reading_text(r, "meter_id");
        sink += id ? strlen(id) : 0;
}

/* An event's pointers stay inside the frame it describes. */
static void check_event(const km_event *ev)
{
        CHECK(ev->len <= KM_RAW_BUF);
        CHECK(ev->bytes != NULL || ev->len == 0);
        CHECK(ev->frame != NULL && ev->frame->transport == ev->transport);
        CHECK(ev->header == NULL || ev->transport == KM_TRANSPORT_HDLC);
        if (ev->frame->payload)
                CHECK(ev->frame->payload >= ev->bytes && ev->frame->payload + ev->frame->payload_len <= ev->bytes + ev->len);
        if (ev->header) {
                const km_hdlc_header *h = ev->header;
                CHECK(h->dst_len >= 1 && h->dst_len <= 4 && h->src_len >= 1 && h->src_len <= 4);
                CHECK(h->info >= ev->bytes && h->info + h->info_len <= ev->bytes + ev->len);
        }
        switch (ev->kind) {
        case KM_EVENT_READING:
                CHECK(ev->reading != NULL && ev->reject == KM_OK);
                touch_reading(ev->reading);
                break;
        case KM_EVENT_SEGMENT:
                CHECK(ev->reject == KM_OK && ev->reading == NULL);
                break;
        case KM_EVENT_REJECT:
                CHECK(ev->reject < 0 && ev->reading == NULL);
                check_status(ev->reject);
                break;
        default:
                CHECK(!"unknown event kind");
        }
}

static void drain(km_decoder *d)
{
        km_event ev;
        while (km_decoder_next(d, &ev))
                check_event(&ev);
}

/* Pushes data in chunk-sized pieces, pulling events after every push, then
 * finishes; leaves the counters in d->stats. */
static void stream_decode(km_decoder *d, const uint8_t *data, size_t n, size_t chunk, bool ignore, km_transport t,
                          km_hex_mode hex)
{
        km_decoder_options opt = {.ignore_checksum = ignore, .transport = t, .hex = hex};
        km_decoder_init(d, &opt);
        for (size_t off = 0; off < n;) {
                size_t end = n - off < chunk ? n : off + chunk;
                while (off < end) {
                        size_t took = km_decoder_push(d, data + off, end - off);
                        drain(d);
                        if (took == 0) {
                                /* only while events waited, and they were pulled */
                                took = km_decoder_push(d, data + off, end - off);
                                CHECK(took > 0);
                                drain(d);
                        }
                        off += took;
                }
        }
        km_decoder_finish(d);
        drain(d);
        drain(d);
        CHECK(d->stats.bytes_in == n);
        CHECK(d->stats.readings + d->stats.segments <= d->stats.frames_good);
        CHECK(d->stats.bytes_skipped <= n);
}

static void one_shot(const uint8_t *p, size_t n, bool ignore)
{
        km_hdlc_header h;
        km_status s = km_hdlc_parse_frame(p, n, ignore, &h);
        check_status(s);
        if (s == KM_OK) {
                CHECK(h.info >= p && h.info + h.info_len <= p + n);
                s = km_info_decode(h.info, h.info_len, &reading);
                check_status(s);
                if (s == KM_OK)
                        touch_reading(&reading);
        }
        s = km_apdu_decode(p, n, &reading);
        check_status(s);
        if (s == KM_OK)
                touch_reading(&reading);
        s = km_info_decode(p, n, &reading);
        check_status(s);
        if (s == KM_OK)
                touch_reading(&reading);
        sink += km_info_has_llc(p, n);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        if (size == 0)
                return 0;
        bool ignore = (data[0] & 0x80) != 0;
        const uint8_t *p = data + 1;
        size_t n = size - 1;

        /* Each framer alone must give the same counts however the input is
         * chunked. Detection (AUTO) may lock later when a live chunk ends
         * short of a frame of a higher-priority transport, so it is only
         * run for its invariants. */
        static const km_transport forced[] = {KM_TRANSPORT_HDLC, KM_TRANSPORT_MBUS, KM_TRANSPORT_RAW};
        for (size_t i = 0; i < sizeof(forced) / sizeof(forced[0]); i++) {
                stream_decode(&decoder, p, n, chunk_size(data[0], n), ignore, forced[i], KM_HEX_NO);
                if (ignore)
                        continue;
                km_stats chunked = decoder.stats;
                stream_decode(&decoder, p, n, n ? n : 1, false, forced[i], KM_HEX_NO);
                CHECK(chunked.frames_good == decoder.stats.frames_good);
                CHECK(chunked.readings == decoder.stats.readings);
                CHECK(chunked.segments == decoder.stats.segments);
                CHECK(chunked.bytes_skipped == decoder.stats.bytes_skipped);
                CHECK(memcmp(chunked.rejected, decoder.stats.rejected, sizeof(chunked.rejected)) == 0);
        }
        stream_decode(&decoder, p, n, chunk_size(data[0], n), ignore, KM_TRANSPORT_AUTO, KM_HEX_AUTO);
        stream_decode(&decoder, p, n, chunk_size(data[0], n), ignore, KM_TRANSPORT_AUTO, KM_HEX_YES);

        one_shot(p, n, ignore);
        if (n > 0 && p[0] == KM_HDLC_FLAG)
                one_shot(p + 1, n - 1, ignore);
        return 0;
}
