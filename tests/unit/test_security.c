/*
 * Ciphered APDUs: the core's header parser and plaintext checks
 * (src/core/security.c) with the real cipher behind them (keyring and
 * OpenSSL, src/security/).
 *
 * The three GCM reference vectors of captures/beyond/manifest.json
 * ("gcm_reference": the Green Book glo-get-request, the Green Book GMAC, and
 * u9n/dlms-cosem's general-glo-ciphering data-notification) are checked on
 * the bare cipher and again as 0xDB APDUs through km_security_open(); the
 * real encrypted HDLC and M-Bus captures of tests/data/captures/beyond and
 * the 2017 pilot's ECB frames of tests/data/captures/nordbo are opened and
 * decoded to their values. Every failure case (wrong EK, wrong AK, a changed
 * byte, truncation at every length, no key, a key for another meter) must
 * give its status and no plaintext.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "unit_util.h"

#include "kaifa/security.h"
#include "security/gcm.h"
#include "security/keyring.h"
#include "security/session.h"

#define OUT_MAX 4096

/* manifest.json gcm_reference[0]: greenbook_glo_get_request_0x30 */
#define V1_EK "000102030405060708090A0B0C0D0E0F"
#define V1_AK "D0D1D2D3D4D5D6D7D8D9DADBDCDDDEDF"
#define V1_IV "4D4D4D0000BC614E01234567"
#define V1_PT "C0010000080000010000FF0200"
#define V1_CT "411312FF935A47566827C467BC"
#define V1_TAG "7D825C3BE4A77C3FCC056B6B"
/* gcm_reference[1]: greenbook_gmac_0x10_tag (challenge "P6wRJ21F" in the AAD) */
#define V2_IV "4D4D4D000000000100000001"
#define V2_CHALLENGE "503677524A323146"
#define V2_TAG "1A52FE7DD3E72748973C1E28"
/* gcm_reference[2]: u9n_test_gen_glo_cipher_0x30 */
#define V3_KEY "4D5944554D4D59474C4F42414C4B4559"
#define V3_IV "2F19229199164103000001E5"
#define V3_PT "0F000001DB000922125A8591360000000049000000110000000A5A8513D014800000000D0000000A0100"
#define V3_CT "025CE9D2271FD78BE8C204211A916A9D7F587E0A7A814CADEA89E9593F01F92EA8C087B5BDFDEFEAB6BE"
#define V3_TAG "CF282DFE49C08F5BE6DC8400"

static void key16(const char *hex, uint8_t out[16])
{
        assert_int_equal(hex_to_bytes(hex, out, 16), 16);
}

/* A keyring with one default key; ak may be NULL. */
static void ring_with(km_keyring *kr, km_security *sec, const char *ek, const char *ak)
{
        km_key k;
        memset(&k, 0, sizeof(k));
        if (ek) {
                key16(ek, k.ek);
                k.has_ek = true;
        }
        if (ak) {
                key16(ak, k.ak);
                k.has_ak = true;
        }
        km_keyring_init(kr);
        assert_int_equal(km_keyring_set(kr, NULL, &k), 0);
        km_keyring_security(kr, sec);
}

/* Builds DB 08 <title> <len> <sc> <ic> <body> [tag] from an IV (title||ic). */
static size_t build_glo(uint8_t *out, size_t cap, uint8_t apdu_tag, const char *iv_hex, uint8_t sc,
                        const char *body_hex, const char *tag_hex)
{
        uint8_t iv[12], body[1024], tag[16];
        assert_int_equal(hex_to_bytes(iv_hex, iv, sizeof(iv)), 12);
        size_t nb = hex_to_bytes(body_hex, body, sizeof(body));
        size_t nt = tag_hex ? hex_to_bytes(tag_hex, tag, sizeof(tag)) : 0;
        size_t len = 5 + nb + nt;
        assert_true(cap >= len + 14);
        size_t o = 0;
        out[o++] = apdu_tag;
        out[o++] = 8;
        memcpy(out + o, iv, 8);
        o += 8;
        if (len < 0x80) {
                out[o++] = (uint8_t)len;
        } else if (len < 0x100) {
                out[o++] = 0x81;
                out[o++] = (uint8_t)len;
        } else {
                out[o++] = 0x82;
                out[o++] = (uint8_t)(len >> 8);
                out[o++] = (uint8_t)len;
        }
        out[o++] = sc;
        memcpy(out + o, iv + 8, 4);
        o += 4;
        memcpy(out + o, body, nb);
        o += nb;
        memcpy(out + o, tag, nt);
        return o + nt;
}

static void assert_bytes_hex(const uint8_t *p, size_t n, const char *hex)
{
        uint8_t want[1024];
        size_t nw = hex_to_bytes(hex, want, sizeof(want));
        assert_int_equal(n, nw);
        assert_memory_equal(p, want, n);
}

static void test_reference_vectors_bare_cipher(void **state)
{
        (void)state;
        uint8_t ek[16], ak[16], iv[12], ct[64], tag[12], out[64], aad[64];
        /* vector 1: AAD = 30 || AK */
        key16(V1_EK, ek);
        key16(V1_AK, ak);
        hex_to_bytes(V1_IV, iv, 12);
        size_t n = hex_to_bytes(V1_CT, ct, sizeof(ct));
        hex_to_bytes(V1_TAG, tag, 12);
        aad[0] = 0x30;
        memcpy(aad + 1, ak, 16);
        assert_int_equal(km_gcm_open(ek, iv, aad, 17, ct, n, tag, 12, out), KM_OK);
        assert_bytes_hex(out, n, V1_PT);
        /* without the tag (counter mode from J0 + 1): the same plaintext */
        memset(out, 0, sizeof(out));
        assert_int_equal(km_gcm_decrypt_untagged(ek, iv, ct, n, out), KM_OK);
        assert_bytes_hex(out, n, V1_PT);
        /* vector 2: GMAC, AAD = 10 || AK || challenge, nothing encrypted */
        hex_to_bytes(V2_IV, iv, 12);
        aad[0] = 0x10;
        size_t na = 17 + hex_to_bytes(V2_CHALLENGE, aad + 17, sizeof(aad) - 17);
        hex_to_bytes(V2_TAG, tag, 12);
        assert_int_equal(km_gcm_open(ek, iv, aad, na, NULL, 0, tag, 12, out), KM_OK);
        aad[na - 1] ^= 1;
        assert_int_equal(km_gcm_open(ek, iv, aad, na, NULL, 0, tag, 12, out), KM_ERR_AUTH_FAILED);
        /* vector 3 */
        key16(V3_KEY, ek);
        hex_to_bytes(V3_IV, iv, 12);
        n = hex_to_bytes(V3_CT, ct, sizeof(ct));
        hex_to_bytes(V3_TAG, tag, 12);
        aad[0] = 0x30;
        memcpy(aad + 1, ek, 16); /* AK = EK in this vector */
        assert_int_equal(km_gcm_open(ek, iv, aad, 17, ct, n, tag, 12, out), KM_OK);
        assert_bytes_hex(out, n, V3_PT);
        /* a wrong tag leaves no plaintext behind */
        tag[11] ^= 0x80;
        assert_int_equal(km_gcm_open(ek, iv, aad, 17, ct, n, tag, 12, out), KM_ERR_AUTH_FAILED);
        for (size_t i = 0; i < n; i++)
                assert_int_equal(out[i], 0);
}

static void test_reference_vectors_as_apdus(void **state)
{
        (void)state;
        km_keyring kr;
        km_security sec;
        uint8_t apdu[256], out[OUT_MAX];
        size_t n, len;
        km_security_info info;
        /* vector 1 as general-glo-ciphering: authenticated, so any APDU passes */
        ring_with(&kr, &sec, V1_EK, V1_AK);
        n = build_glo(apdu, sizeof(apdu), 0xDB, V1_IV, 0x30, V1_CT, V1_TAG);
        assert_int_equal(km_security_open(&sec, apdu, n, out, sizeof(out), &len, &info), KM_OK);
        assert_bytes_hex(out, len, V1_PT);
        assert_true(info.authenticated);
        assert_true(info.encrypted);
        assert_int_equal(info.invocation_counter, 0x01234567);
        assert_string_equal(info.maker, "MMM");
        assert_int_equal(info.security_byte, 0x30);
        assert_int_equal(info.mode, KM_CIPHER_GCM);
        /* ... as general-ded-ciphering: same layout */
        n = build_glo(apdu, sizeof(apdu), 0xDC, V1_IV, 0x30, V1_CT, V1_TAG);
        assert_int_equal(km_security_open(&sec, apdu, n, out, sizeof(out), &len, &info), KM_OK);
        assert_int_equal(info.apdu_tag, 0xDC);
        /* vector 1 without the AK: decrypted but not a data-notification, so
         * it cannot be told from noise: rejected */
        km_keyring_clear(&kr);
        ring_with(&kr, &sec, V1_EK, NULL);
        n = build_glo(apdu, sizeof(apdu), 0xDB, V1_IV, 0x30, V1_CT, V1_TAG);
        assert_int_equal(km_security_open(&sec, apdu, n, out, sizeof(out), &len, &info), KM_ERR_DECRYPT);
        assert_int_equal(len, 0);
        /* vector 2: authentication only (0x10), the challenge is the body */
        km_keyring_clear(&kr);
        ring_with(&kr, &sec, V1_EK, V1_AK);
        n = build_glo(apdu, sizeof(apdu), 0xDB, V2_IV, 0x10, V2_CHALLENGE, V2_TAG);
        assert_int_equal(km_security_open(&sec, apdu, n, out, sizeof(out), &len, &info), KM_OK);
        assert_bytes_hex(out, len, V2_CHALLENGE);
        assert_true(info.authenticated);
        assert_false(info.encrypted);
        apdu[n - 1] ^= 1;
        assert_int_equal(km_security_open(&sec, apdu, n, out, sizeof(out), &len, &info), KM_ERR_AUTH_FAILED);
        /* vector 3 with EK and AK: authenticated data-notification */
        km_keyring_clear(&kr);
        ring_with(&kr, &sec, V3_KEY, V3_KEY);
        n = build_glo(apdu, sizeof(apdu), 0xDB, V3_IV, 0x30, V3_CT, V3_TAG);
        assert_int_equal(km_security_open(&sec, apdu, n, out, sizeof(out), &len, &info), KM_OK);
        assert_bytes_hex(out, len, V3_PT);
        assert_true(info.authenticated);
        assert_int_equal(km_notification_length(out, len), len);
        /* vector 3 with the EK only: decrypted, not authenticated */
        km_keyring_clear(&kr);
        ring_with(&kr, &sec, V3_KEY, NULL);
        assert_int_equal(km_security_open(&sec, apdu, n, out, sizeof(out), &len, &info), KM_OK);
        assert_bytes_hex(out, len, V3_PT);
        assert_false(info.authenticated);
        assert_true(info.encrypted);
        km_keyring_clear(&kr);
}

static void test_wrong_keys(void **state)
{
        (void)state;
        km_keyring kr;
        km_security sec;
        uint8_t apdu[256], out[OUT_MAX];
        size_t n, len = 99;
        n = build_glo(apdu, sizeof(apdu), 0xDB, V3_IV, 0x30, V3_CT, V3_TAG);
        /* wrong EK, no AK: the noise does not parse, KM_ERR_DECRYPT */
        ring_with(&kr, &sec, "00112233445566778899AABBCCDDEEFF", NULL);
        assert_int_equal(km_security_open(&sec, apdu, n, out, sizeof(out), &len, NULL), KM_ERR_DECRYPT);
        assert_int_equal(len, 0);
        km_keyring_clear(&kr);
        /* right EK, wrong AK: the tag fails */
        ring_with(&kr, &sec, V3_KEY, "00112233445566778899AABBCCDDEEFF");
        assert_int_equal(km_security_open(&sec, apdu, n, out, sizeof(out), &len, NULL), KM_ERR_AUTH_FAILED);
        assert_int_equal(len, 0);
        km_keyring_clear(&kr);
        /* wrong EK, right AK: the tag fails too */
        ring_with(&kr, &sec, "00112233445566778899AABBCCDDEEFF", V3_KEY);
        assert_int_equal(km_security_open(&sec, apdu, n, out, sizeof(out), &len, NULL), KM_ERR_AUTH_FAILED);
        km_keyring_clear(&kr);
        /* every single-bit change of the ciphertext, counter or tag is caught */
        ring_with(&kr, &sec, V3_KEY, V3_KEY);
        for (size_t i = 10; i < n; i++) {
                for (int b = 0; b < 8; b++) {
                        apdu[i] ^= (uint8_t)(1 << b);
                        km_status s = km_security_open(&sec, apdu, n, out, sizeof(out), &len, NULL);
                        if (i == 10) /* the length byte: the header no longer adds up */
                                assert_true(s == KM_ERR_CIPHER_HEADER || s == KM_ERR_AUTH_FAILED);
                        else if (i == 11) /* the security byte: a different AAD or layout */
                                assert_true(s != KM_OK);
                        else
                                assert_int_equal(s, KM_ERR_AUTH_FAILED);
                        apdu[i] ^= (uint8_t)(1 << b);
                }
        }
        km_keyring_clear(&kr);
}

static void test_no_key(void **state)
{
        (void)state;
        uint8_t apdu[256], out[OUT_MAX];
        size_t len;
        km_security_info info;
        size_t n = build_glo(apdu, sizeof(apdu), 0xDB, V3_IV, 0x30, V3_CT, V3_TAG);
        /* no hook at all */
        assert_true(km_security_applies(NULL, apdu, n));
        assert_int_equal(km_security_open(NULL, apdu, n, out, sizeof(out), &len, &info), KM_ERR_NO_KEY);
        /* the header is still reported: the caller names the meter */
        assert_int_equal(info.invocation_counter, 0x000001E5);
        uint8_t title[8];
        hex_to_bytes("2F19229199164103", title, 8);
        assert_memory_equal(info.system_title, title, 8);
        assert_string_equal(info.maker, "");
        char text[17];
        km_system_title_text(info.system_title, text);
        assert_string_equal(text, "2F19229199164103");
        /* a key for another system title only */
        km_keyring kr;
        km_security sec;
        km_key k;
        memset(&k, 0, sizeof(k));
        key16(V3_KEY, k.ek);
        k.has_ek = true;
        km_keyring_init(&kr);
        uint8_t other[8] = {'K', 'F', 'M', 1, 2, 3, 4, 5};
        assert_int_equal(km_keyring_set(&kr, other, &k), 0);
        km_keyring_security(&kr, &sec);
        assert_false(sec.pilot_ecb); /* no default key: no pilot */
        assert_int_equal(km_security_open(&sec, apdu, n, out, sizeof(out), &len, NULL), KM_ERR_NO_KEY);
        /* ... and for this one: found by its title */
        assert_int_equal(km_keyring_set(&kr, title, &k), 0);
        assert_int_equal(km_security_open(&sec, apdu, n, out, sizeof(out), &len, NULL), KM_OK);
        km_system_title_text(other, text);
        assert_string_equal(text, "KFM0102030405");
        km_keyring_clear(&kr);
        assert_true(km_keyring_empty(&kr));
        km_keyring_clear(NULL);
}

static void test_truncated(void **state)
{
        (void)state;
        km_keyring kr;
        km_security sec;
        uint8_t apdu[256], out[OUT_MAX];
        size_t len;
        size_t n = build_glo(apdu, sizeof(apdu), 0xDB, V3_IV, 0x30, V3_CT, V3_TAG);
        ring_with(&kr, &sec, V3_KEY, V3_KEY);
        for (size_t cut = 0; cut < n; cut++) {
                uint8_t *p = exact_copy(apdu, cut);
                km_status s = km_security_open(&sec, p, cut, out, sizeof(out), &len, NULL);
                assert_true(s == KM_ERR_CIPHER_HEADER || (cut == 0 && s == KM_ERR_NOT_DLMS));
                assert_int_equal(len, 0);
                free(p);
        }
        /* the length byte shortened to match a cut: the tag no longer verifies */
        apdu[10] = (uint8_t)(apdu[10] - 1);
        assert_int_equal(km_security_open(&sec, apdu, n - 1, out, sizeof(out), &len, NULL), KM_ERR_AUTH_FAILED);
        /* shorter than a tag with the authentication bit */
        static const char short_tag[] = "DB 08 4B 46 4D 00 00 00 00 01 0A 30 00 00 00 01 AA BB CC DD EE";
        uint8_t b[64];
        size_t nb = hex_to_bytes(short_tag, b, sizeof(b));
        assert_int_equal(km_security_open(&sec, b, nb, out, sizeof(out), &len, NULL), KM_ERR_CIPHER_HEADER);
        /* system title length other than 8 */
        nb = hex_to_bytes("DB 07 4B 46 4D 00 00 00 00 05 20 00 00 00 01", b, sizeof(b));
        assert_int_equal(km_security_open(&sec, b, nb, out, sizeof(out), &len, NULL), KM_ERR_CIPHER_HEADER);
        /* a length form longer than four bytes */
        nb = hex_to_bytes("DB 08 4B 46 4D 00 00 00 00 01 85 00 00 00 00 05 20 00 00 00 01", b, sizeof(b));
        assert_int_equal(km_security_open(&sec, b, nb, out, sizeof(out), &len, NULL), KM_ERR_CIPHER_HEADER);
        /* an output buffer smaller than the APDU */
        n = build_glo(apdu, sizeof(apdu), 0xDB, V3_IV, 0x30, V3_CT, V3_TAG);
        assert_int_equal(km_security_open(&sec, apdu, n, out, n - 1, &len, NULL), KM_ERR_DECRYPT);
        km_keyring_clear(&kr);
}

/* Finds the information field of each good HDLC frame in a capture and
 * calls fn on the APDU after the LLC header. */
typedef void (*apdu_fn)(const uint8_t *apdu, size_t n, void *ud);

static size_t each_hdlc_apdu(const char *rel, apdu_fn fn, void *ud)
{
        size_t len;
        uint8_t *data = load_data_file(rel, &len);
        km_decoder *d = malloc(sizeof(*d));
        assert_non_null(d);
        km_decoder_init(d, NULL);
        size_t frames = 0, off = 0;
        km_event ev;
        for (;;) {
                while (km_decoder_next(d, &ev)) {
                        if (!ev.header || ev.kind == KM_EVENT_SEGMENT)
                                continue;
                        const uint8_t *info = ev.header->info;
                        size_t n = ev.header->info_len;
                        if (km_info_has_llc(info, n)) {
                                info += 3;
                                n -= 3;
                        }
                        fn(info, n, ud);
                        frames++;
                }
                if (off >= len)
                        break;
                off += km_decoder_push(d, data + off, len - off);
                if (off >= len)
                        km_decoder_finish(d);
        }
        free(d);
        free(data);
        return frames;
}

typedef struct open_check {
        km_security sec;
        const char *meter_id;  /* expected meter_id text (96.1.0), or NULL */
        uint8_t security_byte; /* expected */
        bool authenticated;
        size_t opened;
        double import_power;   /* of the last one */
} open_check;

static void open_and_decode(const uint8_t *apdu, size_t n, void *ud)
{
        open_check *c = ud;
        uint8_t out[OUT_MAX];
        size_t len;
        km_security_info info;
        assert_true(km_security_applies(&c->sec, apdu, n));
        km_status s = km_security_open(&c->sec, apdu, n, out, sizeof(out), &len, &info);
        assert_int_equal(s, KM_OK);
        assert_int_equal(info.security_byte, c->security_byte);
        assert_int_equal(info.authenticated, c->authenticated);
        assert_int_equal(km_notification_length(out, len), len);
        km_reading *r = calloc(1, sizeof(*r));
        assert_non_null(r);
        /* the list decoders may not know every layout yet: the APDU itself
         * must parse, which km_notification_length checked above */
        if (km_apdu_decode(out, len, r) == KM_OK) {
                const km_value *p = km_reading_find(r, "power_active_import");
                if (p)
                        c->import_power = km_value_number(p);
        }
        free(r);
        c->opened++;
}

static void test_hdlc_captures(void **state)
{
        (void)state;
        static const struct {
                const char *file, *ek, *ak;
                uint8_t sc;
        } cases[] = {
                {"captures/beyond/landis-gyr/ams_gh501-1_e450_at_hdlc_enc30.bin", "34743677397A24432646294A404E6352",
                 "C0C1C2C3C4C5C6C7C8C9CACBCCCDCECF", 0x30},
                {"captures/beyond/landis-gyr/ams_gh501-2_e450_at_hdlc_enc30.bin", "34743677397A24432646294A404E6352",
                 "C0C1C2C3C4C5C6C7C8C9CACBCCCDCECF", 0x30},
                {"captures/beyond/iskraemeco/ams_gh787-1_am550_at_hdlc_enc20.bin", "F9897984D43D3108AAFC4DE19DA85713",
                 NULL, 0x20},
                {"captures/beyond/iskraemeco/ams_gh787-9_am550_at_hdlc_enc20.bin", "F9897984D43D3108AAFC4DE19DA85713",
                 NULL, 0x20},
                {"captures/beyond/iskraemeco/shrdzm_am550_1.bin", "62F9445B069BA866068B8036F2612030", NULL, 0x20},
                {"captures/beyond/siemens/shrdzm_im350_1.bin", "612888F59306A7855AC5C08CB3A96B39",
                 "D0D1D2D3D4D5D6D7D8D9DADBDCDDDEDF", 0x20},
        };
        for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
                km_keyring kr;
                open_check c;
                memset(&c, 0, sizeof(c));
                ring_with(&kr, &c.sec, cases[i].ek, cases[i].ak);
                c.security_byte = cases[i].sc;
                c.authenticated = cases[i].ak && (cases[i].sc & KM_SC_AUTHENTICATION);
                assert_int_equal(each_hdlc_apdu(cases[i].file, open_and_decode, &c), 1);
                assert_int_equal(c.opened, 1);
                km_keyring_clear(&kr);
        }
}

/* Joins the user data of the M-Bus long frames of a capture (68 L L 68 C A
 * CI STSAP DTSAP data CS 16): the Kaifa MA309's APDU spans two frames. */
static size_t join_mbus(const uint8_t *p, size_t n, uint8_t *out, size_t cap)
{
        size_t o = 0;
        for (size_t i = 0; i + 6 <= n;) {
                if (p[i] != 0x68 || p[i + 3] != 0x68 || p[i + 1] != p[i + 2]) {
                        i++;
                        continue;
                }
                size_t l = p[i + 1];
                assert_true(i + 4 + l + 2 <= n);
                uint8_t cs = 0;
                for (size_t k = 0; k < l; k++)
                        cs = (uint8_t)(cs + p[i + 4 + k]);
                assert_int_equal(cs, p[i + 4 + l]);
                assert_int_equal(p[i + 5 + l], 0x16);
                assert_true(o + l - 5 <= cap);
                memcpy(out + o, p + i + 9, l - 5);
                o += l - 5;
                i += 6 + l;
        }
        return o;
}

static void test_mbus_suite1_capture(void **state)
{
        (void)state;
        static const struct {
                const char *file, *ek, *meter_id;
        } cases[] = {
                {"captures/beyond/kaifa/ams_gh905-1_ma309_pl_mbus2_enc.bin", "39436F513777354C4D466F4C5333674A",
                 "1KFM0200169986"},
                {"captures/beyond/kaifa/tinetz_example_ma309_at_mbus2_enc21.bin", "101112131415161718191A1B1C1D1E1F",
                 "1KFM0100000035"},
        };
        for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
                size_t len;
                uint8_t *data = load_data_file(cases[i].file, &len);
                uint8_t apdu[OUT_MAX], out[OUT_MAX];
                size_t n = join_mbus(data, len, apdu, sizeof(apdu));
                free(data);
                km_keyring kr;
                km_security sec;
                ring_with(&kr, &sec, cases[i].ek, NULL);
                km_security_info info;
                size_t plen;
                assert_int_equal(km_security_open(&sec, apdu, n, out, sizeof(out), &plen, &info), KM_OK);
                /* security suite 1 (0x21): only the bits matter */
                assert_int_equal(info.security_byte, 0x21);
                assert_string_equal(info.maker, "KFM");
                assert_false(info.authenticated);
                km_reading *r = calloc(1, sizeof(*r));
                assert_non_null(r);
                assert_int_equal(km_apdu_decode(out, plen, r), KM_OK);
                bool found = false;
                for (size_t v = 0; v < r->n_values; v++)
                        if (r->values[v].kind == KM_VALUE_TEXT && strcmp(r->values[v].text, cases[i].meter_id) == 0)
                                found = true;
                assert_true(found);
                free(r);
                /* the wrong key for this meter: decrypt failure, nothing out */
                km_keyring_clear(&kr);
                ring_with(&kr, &sec, "000102030405060708090A0B0C0D0E0F", NULL);
                assert_int_equal(km_security_open(&sec, apdu, n, out, sizeof(out), &plen, NULL), KM_ERR_DECRYPT);
                assert_int_equal(plen, 0);
                km_keyring_clear(&kr);
        }
}

/* The Luxembourg Smarty's plaintext is a P1 telegram (raw APDU file). */
static void test_smarty_p1_in_gcm(void **state)
{
        (void)state;
        size_t n;
        uint8_t *apdu = load_data_file("captures/beyond/sagemcom/nexxtlab_smarty_lux5_gcm30.bin", &n);
        size_t plain_len;
        uint8_t *plain = load_data_file("captures/beyond/sagemcom/nexxtlab_smarty_lux5_plaintext.txt", &plain_len);
        uint8_t *out = malloc(n);
        assert_non_null(out);
        km_keyring kr;
        km_security sec;
        km_security_info info;
        size_t len;
        ring_with(&kr, &sec, "D491470F47126332B07D1923B3504188", "00112233445566778899AABBCCDDEEFF");
        assert_int_equal(km_security_open(&sec, apdu, n, out, n, &len, &info), KM_OK);
        assert_true(info.authenticated);
        assert_string_equal(info.maker, "SAG");
        assert_true(km_is_p1_text(out, len));
        assert_int_equal(len, plain_len);
        assert_memory_equal(out, plain, len);
        km_keyring_clear(&kr);
        /* without the (published) AK: decrypted, a P1 text, not authenticated */
        ring_with(&kr, &sec, "D491470F47126332B07D1923B3504188", NULL);
        assert_int_equal(km_security_open(&sec, apdu, n, out, n, &len, &info), KM_OK);
        assert_false(info.authenticated);
        assert_int_equal(len, plain_len);
        km_keyring_clear(&kr);
        free(out);
        free(plain);
        free(apdu);
}

typedef struct pilot_check {
        km_security sec;
        size_t opened, failed, plain;
        size_t list1, list2;
        char meter_id[32];
} pilot_check;

static void open_pilot_frame(const uint8_t *apdu, size_t n, void *ud)
{
        pilot_check *c = ud;
        uint8_t out[OUT_MAX];
        size_t len;
        km_security_info info;
        if (!km_security_applies(&c->sec, apdu, n)) {
                c->plain++;
                return;
        }
        if (km_security_open(&c->sec, apdu, n, out, sizeof(out), &len, &info) != KM_OK) {
                c->failed++;
                return;
        }
        assert_int_equal(info.mode, KM_CIPHER_PILOT_ECB);
        km_reading *r = calloc(1, sizeof(*r));
        assert_non_null(r);
        assert_int_equal(km_apdu_decode(out, len, r), KM_OK);
        if (r->n_values == 1)
                c->list1++;
        else
                c->list2++;
        const char *id = km_reading_text(r, "meter_id");
        if (id)
                snprintf(c->meter_id, sizeof(c->meter_id), "%s", id);
        free(r);
        c->opened++;
}

static void test_pilot_ecb(void **state)
{
        (void)state;
        km_keyring kr;
        pilot_check c;
        memset(&c, 0, sizeof(c));
        ring_with(&kr, &c.sec, "00112233445566778899AABBCCDDEEFF", NULL);
        assert_true(c.sec.pilot_ecb);
        /* han-data-crypted: 7 list-1 frames and one list 2 */
        assert_int_equal(each_hdlc_apdu("captures/nordbo/han-data-crypted.bin", open_pilot_frame, &c), 8);
        assert_int_equal(c.opened, 8);
        assert_int_equal(c.list1, 7);
        assert_int_equal(c.list2, 1);
        assert_string_equal(c.meter_id, "6970631400000035");
        /* a wrong key: every frame fails, none decodes */
        km_keyring_clear(&kr);
        memset(&c, 0, sizeof(c));
        ring_with(&kr, &c.sec, "00112233445566778899AABBCCDDEEFE", NULL);
        assert_int_equal(each_hdlc_apdu("captures/nordbo/han-data-crypted.bin", open_pilot_frame, &c), 8);
        assert_int_equal(c.opened, 0);
        assert_int_equal(c.failed, 8);
        km_keyring_clear(&kr);
        /* plaintext frames with a key given are left alone (padded ones too) */
        memset(&c, 0, sizeof(c));
        ring_with(&kr, &c.sec, "00112233445566778899AABBCCDDEEFF", NULL);
        size_t frames = each_hdlc_apdu("captures/nordbo/han-data-clear.bin", open_pilot_frame, &c);
        assert_int_equal(frames, 3);
        assert_int_equal(c.plain, 3);
        km_keyring_clear(&kr);
}

static void test_pilot_capture_all_frames(void **state)
{
        (void)state;
        km_keyring kr;
        pilot_check c;
        memset(&c, 0, sizeof(c));
        ring_with(&kr, &c.sec, "00112233445566778899AABBCCDDEEFF", NULL);
        size_t frames = each_hdlc_apdu(
                "captures/nordbo/han-data-MA105H2E-C00112233445566778899AABBCCDDEEFF-2017-01-25_0800-1200.bin",
                open_pilot_frame, &c);
        print_message("pilot capture: %zu frames, %zu opened (%zu list 1, %zu list 2), %zu failed, %zu plain\n",
                      frames, c.opened, c.list1, c.list2, c.failed, c.plain);
        assert_true(frames >= 6700);
        assert_int_equal(c.opened, frames);
        assert_string_equal(c.meter_id, "6970631400000035");
        km_keyring_clear(&kr);
}

static void test_plaintext_checks(void **state)
{
        (void)state;
        uint8_t b[64];
        size_t n = hex_to_bytes("0F 40 00 00 00 00 02 01 06 00 00 00 01", b, sizeof(b));
        assert_int_equal(km_notification_length(b, n), n);
        assert_int_equal(km_notification_length(b, n - 1), 0);
        n = hex_to_bytes("0F 40 00 00 00 0C 07 E1 01 17 01 0D 03 36 FF 80 00 00 02 01 06 00 00 00 D5", b, sizeof(b));
        assert_int_equal(km_notification_length(b, n), n);
        n = hex_to_bytes("0F 40 00 00 00 09 0C 07 E1 01 17 01 0D 03 36 FF 80 00 00 02 01 06 00 00 00 D5 00 00", b,
                         sizeof(b));
        assert_int_equal(km_notification_length(b, n), n - 2);
        n = hex_to_bytes("C0 01 00 00 08", b, sizeof(b));
        assert_int_equal(km_notification_length(b, n), 0);
        static const char p1[] = "/KFM5KAIFA-METER\r\n\r\n1-0:1.8.0(000001.000*kWh)\r\n!1234\r\n";
        assert_true(km_is_p1_text((const uint8_t *)p1, strlen(p1)));
        assert_false(km_is_p1_text((const uint8_t *)p1, 20)); /* no '!' line */
        char bad[sizeof(p1)];
        memcpy(bad, p1, sizeof(p1));
        bad[10] = (char)0x80;
        assert_false(km_is_p1_text((const uint8_t *)bad, strlen(p1)));
        /* the Kamstrup quirk: encryption bit set, plaintext body; no key */
        n = hex_to_bytes("DB 08 4B 41 4D 00 00 00 00 01 0F 20 00 00 00 01 0F 40 00 00 00 00 02 01 11 05", b,
                         sizeof(b));
        uint8_t out[64];
        size_t len;
        km_security_info info;
        assert_int_equal(km_security_open(NULL, b, n, out, sizeof(out), &len, &info), KM_OK);
        assert_int_equal(len, 10);
        assert_false(info.encrypted);
        assert_string_equal(info.maker, "KAM");
        /* compression is not supported */
        b[11] = 0xA0;
        assert_int_equal(km_security_open(NULL, b, n, out, sizeof(out), &len, &info), KM_ERR_DECRYPT);
        /* neither bit: the body is the APDU */
        b[11] = 0x00;
        assert_int_equal(km_security_open(NULL, b, n, out, sizeof(out), &len, &info), KM_OK);
        assert_int_equal(len, 10);
}

typedef struct session_run {
        km_session *s;
        size_t readings, replays, others;
        km_security_info last;
} session_run;

static void on_session_event(const km_event *ev, void *ud)
{
        session_run *r = ud;
        km_status st;
        km_security_info info;
        if (!km_session_take(r->s, &info, &st))
                return;
        if (ev->kind == KM_EVENT_READING) {
                r->readings++;
                r->last = info;
        } else if (ev->kind == KM_EVENT_REJECT && ev->reject == KM_ERR_REPLAY) {
                r->replays++;
        } else {
                r->others++;
                r->last = info;
        }
}

/* The decoder with the session as its hook: the MA309 push (two M-Bus
 * frames) decodes once; the same bytes again are a replay; the session
 * counts both. */
static void test_session_replay_through_decoder(void **state)
{
        (void)state;
        size_t len;
        uint8_t *data = load_data_file("captures/beyond/kaifa/ams_gh905-1_ma309_pl_mbus2_enc.bin", &len);
        km_session *s = malloc(sizeof(*s));
        km_decoder *d = malloc(sizeof(*d));
        assert_non_null(s);
        assert_non_null(d);
        km_session_init(s, true);
        km_key k;
        memset(&k, 0, sizeof(k));
        key16("39436F513777354C4D466F4C5333674A", k.ek);
        k.has_ek = true;
        assert_int_equal(km_keyring_set(&s->keyring, NULL, &k), 0);
        km_decoder_options opt;
        memset(&opt, 0, sizeof(opt));
        km_session_decoder_options(s, &opt);
        km_decoder_init(d, &opt);
        session_run r = {.s = s};
        km_decoder_feed(d, data, len, on_session_event, &r);
        km_decoder_feed(d, data, len, on_session_event, &r);
        km_decoder_end(d, on_session_event, &r);
        assert_int_equal(r.readings, 1);
        assert_int_equal(r.replays, 1);
        assert_int_equal(r.others, 0);
        assert_int_equal(r.last.invocation_counter, 0x0A28);
        assert_int_equal(s->counters.decrypted, 1);
        assert_int_equal(s->counters.replays, 1);
        assert_int_equal(d->stats.rejected[-KM_ERR_REPLAY], 1);
        assert_int_equal(d->stats.readings, 1);
        /* without replay protection (the CLI), the same push decodes twice */
        km_session_clear(s);
        km_session_init(s, false);
        assert_int_equal(km_keyring_set(&s->keyring, NULL, &k), 0);
        km_session_decoder_options(s, &opt);
        km_decoder_init(d, &opt);
        memset(&r, 0, sizeof(r));
        r.s = s;
        km_decoder_feed(d, data, len, on_session_event, &r);
        km_decoder_feed(d, data, len, on_session_event, &r);
        km_decoder_end(d, on_session_event, &r);
        assert_int_equal(r.readings, 2);
        /* no key at all: counted as no key, the header still names the meter */
        km_session_clear(s);
        km_session_init(s, true);
        km_session_decoder_options(s, &opt);
        km_decoder_init(d, &opt);
        memset(&r, 0, sizeof(r));
        r.s = s;
        km_decoder_feed(d, data, len, on_session_event, &r);
        km_decoder_end(d, on_session_event, &r);
        assert_int_equal(r.others, 1);
        assert_int_equal(s->counters.no_key, 1);
        assert_string_equal(r.last.maker, "KFM"); /* the reject still names the meter */
        assert_int_equal(d->stats.rejected[-KM_ERR_NO_KEY], 1);
        km_session_clear(s);
        explicit_bzero(&k, sizeof(k));
        free(d);
        free(s);
        free(data);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_reference_vectors_bare_cipher),
                cmocka_unit_test(test_reference_vectors_as_apdus),
                cmocka_unit_test(test_wrong_keys),
                cmocka_unit_test(test_no_key),
                cmocka_unit_test(test_truncated),
                cmocka_unit_test(test_hdlc_captures),
                cmocka_unit_test(test_mbus_suite1_capture),
                cmocka_unit_test(test_smarty_p1_in_gcm),
                cmocka_unit_test(test_pilot_ecb),
                cmocka_unit_test(test_pilot_capture_all_frames),
                cmocka_unit_test(test_plaintext_checks),
                cmocka_unit_test(test_session_replay_through_decoder),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
