/*
 * libFuzzer target for one framer with its transport forced: built as
 * fuzz_mbus (wired M-Bus telegrams, their reassembly) and fuzz_raw (raw DLMS
 * APDUs and general-block-transfer), FUZZ_TRANSPORT naming the transport.
 * The whole pipeline after the framer runs too (APDU, A-XDR, lists).
 *
 * Input layout, as fuzz_decoder.c: byte 0 steers, the rest is meter bytes.
 *   bit 7      ignore checksums, so mutated frames reach the parsers;
 *   bits 0..6  push chunk size: 0 = everything at once, 1..63 bytes,
 *              64..127 = (c - 63) x 64 bytes.
 *
 * Besides ASan and UBSan, abort() fires when a rule callers rely on breaks:
 * event bytes are present when they have a length, readings keep their
 * fixed capacities and terminated texts, every byte is counted, and with
 * checksums on the counters do not depend on the chunking (compared with
 * one whole push).
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kaifa/decoder.h"

#ifndef FUZZ_TRANSPORT
#error "FUZZ_TRANSPORT must name the transport (KM_TRANSPORT_MBUS, KM_TRANSPORT_RAW)"
#endif

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(cond)                                                                                        \
        do {                                                                                               \
                if (!(cond)) {                                                                             \
                        fprintf(stderr, "fuzz_transport: %s:%d: check failed: %s\n", __FILE__, __LINE__, #cond); \
                        abort();                                                                           \
                }                                                                                          \
        } while (0)

static km_decoder decoder;

static void check_event(const km_event *ev, void *userdata)
{
        (void)userdata;
        CHECK(ev->len == 0 || ev->bytes != NULL);
        CHECK(ev->kind == KM_EVENT_READING || ev->kind == KM_EVENT_SEGMENT || ev->kind == KM_EVENT_REJECT);
        if (ev->kind != KM_EVENT_READING)
                return;
        const km_reading *r = ev->reading;
        CHECK(r != NULL && r->n_values <= KM_READING_MAX_VALUES);
        for (size_t i = 0; i < r->n_values; i++) {
                const km_value *v = &r->values[i];
                CHECK(v->text_len <= KM_TEXT_MAX && v->text[v->text_len] == '\0');
                char shown[KM_TEXT_SHOW_MAX];
                if (v->kind == KM_VALUE_TEXT)
                        CHECK(strlen(km_value_text_show(v, shown, sizeof(shown))) < sizeof(shown));
                (void)km_value_number(v);
        }
}

static size_t chunk_size(uint8_t c)
{
        c &= 0x7F;
        return c == 0 ? (size_t)-1 : c < 64 ? c : (size_t)(c - 63) * 64;
}

static km_stats run(const uint8_t *p, size_t n, size_t chunk, bool ignore)
{
        km_decoder_options opt = {.transport = FUZZ_TRANSPORT, .ignore_checksum = ignore};
        km_decoder_init(&decoder, &opt);
        for (size_t off = 0; off < n;) {
                size_t k = n - off < chunk ? n - off : chunk;
                km_decoder_feed(&decoder, p + off, k, check_event, NULL);
                off += k;
        }
        km_decoder_end(&decoder, check_event, NULL);
        CHECK(decoder.stats.bytes_in == n);
        return decoder.stats;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        if (size < 1)
                return 0;
        bool ignore = data[0] & 0x80;
        size_t chunk = chunk_size(data[0]);
        km_stats a = run(data + 1, size - 1, chunk, ignore);
        if (!ignore && chunk != (size_t)-1) {
                km_stats b = run(data + 1, size - 1, (size_t)-1, false);
                CHECK(a.frames_good == b.frames_good && a.readings == b.readings && a.segments == b.segments);
                CHECK(a.bytes_skipped == b.bytes_skipped);
                CHECK(memcmp(a.rejected, b.rejected, sizeof(a.rejected)) == 0);
        }
        return 0;
}
