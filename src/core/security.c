/*
 * Ciphered APDUs (see kaifa/security.h): the general-glo/ded-ciphering
 * header, the 2017 Norwegian pilot's ECB, and the check that what the
 * application's cipher returned is an APDU and not the noise a wrong key
 * makes. No cipher here: the core stays free of OpenSSL.
 */
#include "kaifa/security.h"

#include <string.h>

#include "axdr.h"

#define TAG_DATA_NOTIFICATION 0x0F
/* data-notification: tag, long-invoke-id-and-priority (4) */
#define NOTIFICATION_HEADER_LEN 5

bool km_security_is_ciphered(const uint8_t *apdu, size_t n)
{
        return n > 0 && (apdu[0] == KM_APDU_GLO_CIPHERING || apdu[0] == KM_APDU_DED_CIPHERING);
}

size_t km_notification_length(const uint8_t *p, size_t n)
{
        if (n < NOTIFICATION_HEADER_LEN + 1 || p[0] != TAG_DATA_NOTIFICATION)
                return 0;
        km_cursor c;
        km_cursor_init(&c, p, n);
        c.pos = NOTIFICATION_HEADER_LEN;
        /* date-time: 00 (none), 0C + 12 bytes, or 09 0C + 12 bytes (as apdu.c reads it) */
        if (c.p[c.pos] == KM_TAG_OCTET_STRING)
                c.pos++;
        uint32_t len;
        if (km_axdr_read_length(&c, &len) != KM_OK || len > km_cursor_left(&c))
                return 0;
        c.pos += len;
        if (km_axdr_skip(&c, 0) != KM_OK)
                return 0;
        return c.pos;
}

bool km_is_p1_text(const uint8_t *p, size_t n)
{
        if (n < 2 || p[0] != '/')
                return false;
        bool bang = false;
        for (size_t i = 0; i < n; i++) {
                uint8_t b = p[i];
                if ((b < 0x20 || b > 0x7E) && b != '\r' && b != '\n' && b != '\t')
                        return false;
                if (b == '!' && i > 0 && p[i - 1] == '\n')
                        bang = true;
        }
        return bang;
}

static bool is_upper(uint8_t b)
{
        return b >= 'A' && b <= 'Z';
}

void km_system_title_maker(const uint8_t st[KM_SYSTEM_TITLE_LEN], char ret[4])
{
        if (is_upper(st[0]) && is_upper(st[1]) && is_upper(st[2])) {
                memcpy(ret, st, 3);
                ret[3] = '\0';
        } else {
                ret[0] = '\0';
        }
}

void km_system_title_text(const uint8_t st[KM_SYSTEM_TITLE_LEN], char ret[17])
{
        static const char hex[] = "0123456789ABCDEF";
        char maker[4];
        km_system_title_maker(st, maker);
        size_t start = maker[0] ? 3 : 0;
        size_t o = 0;
        for (size_t i = 0; i < start; i++)
                ret[o++] = (char)st[i];
        for (size_t i = start; i < KM_SYSTEM_TITLE_LEN && o + 2 <= 16; i++) { /* the bound tells gcc it fits */
                ret[o++] = hex[st[i] >> 4];
                ret[o++] = hex[st[i] & 15];
        }
        ret[o < 16 ? o : 16] = '\0';
}

/* Length of a data-notification followed by the pilot's zero padding (fewer
 * than 16 zero bytes), 0 when p[0..n) is not that. */
static size_t padded_notification_length(const uint8_t *p, size_t n)
{
        size_t used = km_notification_length(p, n);
        if (used == 0 || n - used >= KM_AES_BLOCK_LEN)
                return 0;
        for (size_t i = used; i < n; i++)
                if (p[i] != 0)
                        return 0;
        return used;
}

/* A general-block-transfer block whose length field matches its size:
 * E0, control, block number (2), acknowledged block (2), length, data. */
static bool is_gbt_block(const uint8_t *p, size_t n)
{
        if (n < 7 || p[0] != 0xE0)
                return false;
        km_cursor c;
        km_cursor_init(&c, p, n);
        c.pos = 6;
        uint32_t len;
        return km_axdr_read_length(&c, &len) == KM_OK && len == km_cursor_left(&c);
}

bool km_security_pilot_candidate(const uint8_t *apdu, size_t n)
{
        return n > 0 && n % KM_AES_BLOCK_LEN == 0 && padded_notification_length(apdu, n) == 0 &&
               !is_gbt_block(apdu, n);
}

static bool looks_like_pilot(const uint8_t *apdu, size_t n)
{
        return km_security_pilot_candidate(apdu, n);
}

static bool pilot_enabled(const km_security *sec)
{
        return sec && sec->pilot_ecb && sec->open;
}

bool km_security_applies(const km_security *sec, const uint8_t *apdu, size_t n)
{
        if (km_security_is_ciphered(apdu, n))
                return true;
        return pilot_enabled(sec) && looks_like_pilot(apdu, n);
}

static uint32_t be32(const uint8_t *p)
{
        return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

km_status km_security_parse(const uint8_t *apdu, size_t n, km_cipher_request *req)
{
        memset(req, 0, sizeof(*req));
        if (!km_security_is_ciphered(apdu, n))
                return KM_ERR_CIPHER_HEADER;
        req->mode = KM_CIPHER_GCM;
        req->apdu_tag = apdu[0];
        km_cursor c;
        km_cursor_init(&c, apdu, n);
        c.pos = 1;
        if (km_cursor_left(&c) < 1 + KM_SYSTEM_TITLE_LEN || apdu[c.pos] != KM_SYSTEM_TITLE_LEN)
                return KM_ERR_CIPHER_HEADER;
        req->system_title = apdu + c.pos + 1;
        c.pos += 1 + KM_SYSTEM_TITLE_LEN;
        uint32_t len;
        if (km_axdr_read_length(&c, &len) != KM_OK)
                return KM_ERR_CIPHER_HEADER;
        /* the length covers SC, IC, ciphertext and tag; bytes after it are not ours */
        if (len < 5 || len > km_cursor_left(&c))
                return KM_ERR_CIPHER_HEADER;
        const uint8_t *p = apdu + c.pos;
        req->security_byte = p[0];
        req->invocation_counter = be32(p + 1);
        size_t body = len - 5;
        if (req->security_byte & KM_SC_AUTHENTICATION) {
                if (body < KM_GCM_TAG_LEN)
                        return KM_ERR_CIPHER_HEADER;
                body -= KM_GCM_TAG_LEN;
                req->tag = p + 5 + body;
                req->tag_len = KM_GCM_TAG_LEN;
        }
        req->ciphertext = p + 5;
        req->ciphertext_len = body;
        return KM_OK;
}

static void info_from_request(km_security_info *info, const km_cipher_request *req)
{
        info->mode = req->mode;
        info->apdu_tag = req->apdu_tag;
        info->security_byte = req->security_byte;
        info->invocation_counter = req->invocation_counter;
        if (req->system_title) {
                memcpy(info->system_title, req->system_title, KM_SYSTEM_TITLE_LEN);
                km_system_title_maker(req->system_title, info->maker);
        }
}

/* An unauthenticated GCM plaintext must be one whole data-notification or
 * a P1 telegram: what a wrong key gives is neither. */
static bool plaintext_plausible(const uint8_t *p, size_t n)
{
        return (n > 0 && km_notification_length(p, n) == n) || km_is_p1_text(p, n);
}

/* Some Kamstrup meters (amsreader gh247-2, protocol.md pitfall 14) set the
 * encryption bit and send a plaintext body. */
static bool body_is_plaintext(const km_cipher_request *req)
{
        size_t n = req->ciphertext_len;
        size_t used = km_notification_length(req->ciphertext, n + req->tag_len);
        return used > 0 && (used == n || used == n + req->tag_len);
}

static km_status take_plaintext_body(const km_cipher_request *req, uint8_t *out, size_t out_size,
                                     size_t *ret_len)
{
        size_t n = km_notification_length(req->ciphertext, req->ciphertext_len + req->tag_len);
        if (n > out_size)
                return KM_ERR_DECRYPT;
        memcpy(out, req->ciphertext, n);
        *ret_len = n;
        return KM_OK;
}

static km_status open_gcm(const km_security *sec, const km_cipher_request *req, uint8_t *out,
                          size_t out_size, size_t *ret_len, km_security_info *info)
{
        if (req->security_byte & KM_SC_COMPRESSION)
                return KM_ERR_DECRYPT; /* compressed APDUs: not used on HAN ports */
        if (!(req->security_byte & (KM_SC_ENCRYPTION | KM_SC_AUTHENTICATION))) {
                /* security byte without protection: the body is the APDU */
                if (req->ciphertext_len > out_size)
                        return KM_ERR_DECRYPT;
                memcpy(out, req->ciphertext, req->ciphertext_len);
                *ret_len = req->ciphertext_len;
                return KM_OK;
        }
        km_status s = KM_ERR_NO_KEY;
        bool authenticated = false;
        if (sec && sec->open)
                s = sec->open(sec->ud, req, out, out_size, ret_len, &authenticated);
        if (s == KM_OK && !authenticated && !plaintext_plausible(out, *ret_len))
                s = KM_ERR_DECRYPT;
        if (s == KM_OK) {
                info->encrypted = (req->security_byte & KM_SC_ENCRYPTION) != 0;
                info->authenticated = authenticated;
                return KM_OK;
        }
        if (s == KM_ERR_NO_KEY && !(req->security_byte & KM_SC_ENCRYPTION)) {
                /* authentication only and no key to check it: the body is the APDU */
                memcpy(out, req->ciphertext, req->ciphertext_len);
                *ret_len = req->ciphertext_len;
                return KM_OK;
        }
        if (s != KM_ERR_AUTH_FAILED && (req->security_byte & KM_SC_ENCRYPTION) && body_is_plaintext(req))
                return take_plaintext_body(req, out, out_size, ret_len);
        return s;
}

/* The pilot pads the APDU with zeros to whole blocks: the plaintext is one
 * data-notification followed by fewer than 16 zero bytes. */
static km_status open_pilot(const km_security *sec, const uint8_t *apdu, size_t n, uint8_t *out,
                            size_t out_size, size_t *ret_len, km_security_info *info)
{
        km_cipher_request req;
        memset(&req, 0, sizeof(req));
        req.mode = KM_CIPHER_PILOT_ECB;
        req.ciphertext = apdu;
        req.ciphertext_len = n;
        info->mode = KM_CIPHER_PILOT_ECB;
        bool authenticated = false;
        km_status s = sec->open(sec->ud, &req, out, out_size, ret_len, &authenticated);
        if (s != KM_OK)
                return s;
        size_t used = padded_notification_length(out, *ret_len);
        if (used == 0) {
                *ret_len = 0;
                return KM_ERR_DECRYPT;
        }
        *ret_len = used;
        info->encrypted = true;
        return KM_OK;
}

km_status km_security_open(const km_security *sec, const uint8_t *apdu, size_t n, uint8_t *out,
                           size_t out_size, size_t *ret_len, km_security_info *ret_info)
{
        km_security_info scratch;
        km_security_info *info = ret_info ? ret_info : &scratch;
        memset(info, 0, sizeof(*info));
        *ret_len = 0;
        if (out_size < n)
                return KM_ERR_DECRYPT;
        if (!km_security_is_ciphered(apdu, n)) {
                if (!km_security_applies(sec, apdu, n))
                        return KM_ERR_NOT_DLMS;
                return open_pilot(sec, apdu, n, out, out_size, ret_len, info);
        }
        km_cipher_request req;
        km_status s = km_security_parse(apdu, n, &req);
        info_from_request(info, &req);
        if (s == KM_OK)
                s = open_gcm(sec, &req, out, out_size, ret_len, info);
        if (s != KM_OK && s != KM_ERR_AUTH_FAILED && pilot_enabled(sec) && looks_like_pilot(apdu, n)) {
                /* pilot ciphertext that happens to start with 0xDB or 0xDC */
                km_security_info pilot;
                memset(&pilot, 0, sizeof(pilot));
                km_status ps = open_pilot(sec, apdu, n, out, out_size, ret_len, &pilot);
                bool no_title = n < 2 || apdu[1] != KM_SYSTEM_TITLE_LEN;
                if (ps == KM_OK || (s == KM_ERR_CIPHER_HEADER && no_title)) {
                        /* no DLMS header there: the pilot's verdict stands */
                        *info = pilot;
                        if (ps != KM_OK)
                                *ret_len = 0;
                        return ps;
                }
        }
        if (s != KM_OK)
                *ret_len = 0;
        return s;
}
