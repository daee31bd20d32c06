/*
 * libFuzzer target for the A-XDR / DLMS data-notification parser and the
 * list decoders on their own: km_apdu_decode() and km_info_decode() on the
 * input as it is (no framer, no checksum in the way), then
 * km_apdu_decode_again() over the reading left by the first call, as the
 * decoder does frame after frame.
 *
 * Besides ASan and UBSan, abort() fires when a reading breaks its fixed
 * capacities, a text is not terminated, or what sinks show of a text does
 * not fit its buffer.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kaifa/decoder.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(cond)                                                                                   \
        do {                                                                                          \
                if (!(cond)) {                                                                        \
                        fprintf(stderr, "fuzz_axdr: %s:%d: check failed: %s\n", __FILE__, __LINE__, #cond); \
                        abort();                                                                      \
                }                                                                                     \
        } while (0)

static km_reading reading;

static void check_reading(const km_reading *r)
{
        CHECK(r->n_values <= KM_READING_MAX_VALUES);
        for (size_t i = 0; i < r->n_values; i++) {
                const km_value *v = &r->values[i];
                CHECK(v->text_len <= KM_TEXT_MAX && v->text[v->text_len] == '\0');
                char shown[KM_TEXT_SHOW_MAX];
                if (v->kind == KM_VALUE_TEXT)
                        CHECK(strlen(km_value_text_show(v, shown, sizeof(shown))) < sizeof(shown));
                char code[KM_OBIS_STR_MAX];
                CHECK(strlen(km_obis_format(v->obis, code, sizeof(code))) < sizeof(code));
        }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        memset(&reading, 0, sizeof(reading));
        if (km_apdu_decode(data, size, &reading) == KM_OK)
                check_reading(&reading);
        if (km_apdu_decode_again(data, size, &reading) == KM_OK)
                check_reading(&reading);
        memset(&reading, 0, sizeof(reading));
        if (km_info_decode(data, size, &reading) == KM_OK)
                check_reading(&reading);
        return 0;
}
