/*
 * libFuzzer target for ciphered APDUs: the core's security header parser
 * and plaintext checks (src/core/security.c) with the real keyring and
 * OpenSSL cipher behind them (src/security/), alone and as the decoder's
 * hook.
 *
 * Input layout: byte 0 steers, the rest is an APDU (or, with bit 7, meter
 * bytes for the decoder).
 *   bits 0..1  keys: none, the published EK of the Kaifa MA309 (Poland),
 *              the L+G E450's EK and AK (Netz Burgenland), the pilot's key
 *   bit 2      replay protection in the session
 *   bit 7      feed the rest to a decoder with the session as its hook
 *              instead of calling km_security_open() once
 *
 * Rules checked (abort() on a break): a status in range; on success the
 * plaintext fits the output and the input length, and when no tag was
 * verified it is a whole data-notification or a P1 telegram; on failure
 * nothing is returned; the session's counters add up to its calls.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kaifa/decoder.h"
#include "kaifa/security.h"
#include "security/session.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(cond)                                                                           \
        do {                                                                                  \
                if (!(cond)) {                                                                \
                        fprintf(stderr, "fuzz_security: %s:%d: check failed: %s\n", __FILE__, \
                                __LINE__, #cond);                                             \
                        abort();                                                              \
                }                                                                             \
        } while (0)

static km_session session;
static km_decoder decoder;
static uint8_t out[KM_APDU_MAX];

static const uint8_t ek_ma309[16] = {0x39, 0x43, 0x6F, 0x51, 0x37, 0x77, 0x35, 0x4C,
                                     0x4D, 0x46, 0x6F, 0x4C, 0x53, 0x33, 0x67, 0x4A};
static const uint8_t ek_e450[16] = {0x34, 0x74, 0x36, 0x77, 0x39, 0x7A, 0x24, 0x43,
                                    0x26, 0x46, 0x29, 0x4A, 0x40, 0x4E, 0x63, 0x52};
static const uint8_t ak_e450[16] = {0xC0, 0xC1, 0xC2, 0xC3, 0xC4, 0xC5, 0xC6, 0xC7,
                                    0xC8, 0xC9, 0xCA, 0xCB, 0xCC, 0xCD, 0xCE, 0xCF};
static const uint8_t ek_pilot[16] = {0x00, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77,
                                     0x88, 0x99, 0xAA, 0xBB, 0xCC, 0xDD, 0xEE, 0xFF};

static void setup(uint8_t steer)
{
        km_session_clear(&session);
        km_session_init(&session, (steer & 4) != 0);
        km_key k;
        memset(&k, 0, sizeof(k));
        switch (steer & 3) {
        case 1:
                memcpy(k.ek, ek_ma309, 16);
                k.has_ek = true;
                break;
        case 2:
                memcpy(k.ek, ek_e450, 16);
                memcpy(k.ak, ak_e450, 16);
                k.has_ek = k.has_ak = true;
                break;
        case 3:
                memcpy(k.ek, ek_pilot, 16);
                k.has_ek = true;
                break;
        default:
                break;
        }
        if (k.has_ek)
                CHECK(km_keyring_set(&session.keyring, NULL, &k) == 0);
        km_keyring_security(&session.keyring, &session.sec);
}

static void check_open(const uint8_t *apdu, size_t n)
{
        size_t len = 12345;
        km_security_info info;
        km_status s = km_security_open(&session.sec, apdu, n, out, sizeof(out), &len, &info);
        CHECK(s <= 0 && s > -KM_STATUS_COUNT_);
        if (s != KM_OK) {
                CHECK(len == 0);
                return;
        }
        CHECK(len <= n && len <= sizeof(out));
        if (!info.authenticated)
                CHECK((len > 0 && km_notification_length(out, len) == len) || km_is_p1_text(out, len) ||
                      (info.mode == KM_CIPHER_GCM && !(info.security_byte & KM_SC_ENCRYPTION)));
        CHECK(info.maker[3] == '\0');
}

static uint64_t events;

static void on_event(const km_event *ev, void *ud)
{
        (void)ud;
        km_status st;
        km_security_info info;
        CHECK(ev->reject <= 0 && ev->reject > -KM_STATUS_COUNT_);
        if (km_session_take(&session, &info, &st) && ev->kind == KM_EVENT_READING)
                CHECK(st == KM_OK);
        events++;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        if (size < 1)
                return 0;
        uint8_t steer = data[0];
        setup(steer);
        if (steer & 0x80) {
                km_decoder_options opt;
                memset(&opt, 0, sizeof(opt));
                km_session_decoder_options(&session, &opt);
                km_decoder_init(&decoder, &opt);
                km_decoder_feed(&decoder, data + 1, size - 1, on_event, NULL);
                km_decoder_end(&decoder, on_event, NULL);
        } else {
                check_open(data + 1, size - 1);
        }
        const km_session_counters *c = &session.counters;
        CHECK(c->authenticated <= c->decrypted);
        return 0;
}
