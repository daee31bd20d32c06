/*
 * DLMS security for the decoder core: the ciphered APDUs are parsed here,
 * the cipher itself is a callback the application gives (OpenSSL lives in
 * the application, never in the core).
 *
 * Two formats are understood:
 *   - general-glo-ciphering (0xDB) and general-ded-ciphering (0xDC):
 *       tag, 08, system title (8), length (A-XDR: LL, 81 LL or 82 HH LL),
 *       security byte, invocation counter (4, big-endian), ciphertext,
 *       12-byte tag when the security byte has the authentication bit 0x10.
 *     Security suites 0 and 1 (AES-128-GCM) are the same here; only the
 *     authentication (0x10) and encryption (0x20) bits are looked at.
 *   - the 2017 Norwegian pilot: AES-128-ECB over the APDU after E6 E7 00,
 *     zero padded to whole blocks, no DLMS security header. Tried only when
 *     the application says it has a key for it (km_security.pilot_ecb) and
 *     the bytes are not a plaintext APDU.
 *
 * What comes out is checked before it is handed on: without a verified tag
 * a wrong key yields random bytes, so the plaintext must parse completely as
 * a data-notification (0x0F) or be a DSMR/P1 text telegram (starts '/'),
 * otherwise the frame is KM_ERR_DECRYPT and no value is taken from it.
 */
#ifndef KAIFA_SECURITY_H
#define KAIFA_SECURITY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "kaifa/status.h"

#ifdef __cplusplus
extern "C" {
#endif

#define KM_APDU_GLO_CIPHERING 0xDB
#define KM_APDU_DED_CIPHERING 0xDC

#define KM_SYSTEM_TITLE_LEN 8
#define KM_GCM_IV_LEN 12
#define KM_GCM_TAG_LEN 12
#define KM_AES_KEY_LEN 16
#define KM_AES_BLOCK_LEN 16

/* Security control byte (DLMS Green Book 9.2.7.2.4.1). */
#define KM_SC_SUITE_MASK 0x0F
#define KM_SC_AUTHENTICATION 0x10
#define KM_SC_ENCRYPTION 0x20
#define KM_SC_BROADCAST_KEY 0x40
#define KM_SC_COMPRESSION 0x80

typedef enum km_cipher_mode {
        KM_CIPHER_NONE = 0,   /* plaintext APDU, nothing to open */
        KM_CIPHER_GCM,        /* general-glo/ded-ciphering, AES-128-GCM */
        KM_CIPHER_PILOT_ECB,  /* 2017 Norwegian pilot, AES-128-ECB */
} km_cipher_mode;

/* What the core asks the application to open. For the pilot only
 * ciphertext is set. For an authentication-only frame (0x10 without 0x20)
 * `ciphertext` is the plaintext that the tag covers: the callback checks the
 * tag (AAD = SC || AK || plaintext) and copies it to out. */
typedef struct km_cipher_request {
        km_cipher_mode mode;
        uint8_t apdu_tag;            /* 0xDB or 0xDC; 0 for the pilot */
        const uint8_t *system_title; /* KM_SYSTEM_TITLE_LEN bytes; NULL for the pilot */
        uint8_t security_byte;
        uint32_t invocation_counter;
        const uint8_t *ciphertext;
        size_t ciphertext_len;
        const uint8_t *tag;          /* KM_GCM_TAG_LEN bytes, or NULL without 0x10 */
        size_t tag_len;
} km_cipher_request;

/* The application's cipher. open() writes the plaintext (ciphertext_len
 * bytes) to out and returns KM_OK, or:
 *   KM_ERR_NO_KEY       no key for this system title (or for the pilot)
 *   KM_ERR_AUTH_FAILED  the tag was checked and does not verify
 *   KM_ERR_DECRYPT      anything else that kept it from opening the frame
 * *ret_authenticated tells whether a tag was verified (false when the frame
 * has no tag, or when no authentication key is known to check it). */
typedef struct km_security {
        km_status (*open)(void *ud, const km_cipher_request *req, uint8_t *out, size_t out_size,
                          size_t *ret_len, bool *ret_authenticated);
        void *ud;
        bool pilot_ecb; /* try the 2017 pilot's ECB on LLC payloads that are not DLMS */
} km_security;

/* Where a frame came from and how it was protected; set by km_security_open
 * as far as the header was read, also when it fails. */
typedef struct km_security_info {
        km_cipher_mode mode;
        uint8_t apdu_tag;
        uint8_t system_title[KM_SYSTEM_TITLE_LEN];
        char maker[4];              /* the system title's 3-letter FLAG id, "" if not letters */
        uint8_t security_byte;
        uint32_t invocation_counter;
        bool encrypted;             /* the body was ciphertext (false: a plaintext body) */
        bool authenticated;         /* a tag was verified with the authentication key */
} km_security_info;

/* True when apdu is general-glo- or general-ded-ciphering. */
bool km_security_is_ciphered(const uint8_t *apdu, size_t n);

/* True when the decoder should call km_security_open() for this APDU (the
 * bytes after the LLC header): a ciphered APDU (with or without a security
 * hook: without one, open says KM_ERR_NO_KEY), or, when sec->pilot_ecb is
 * set, whole AES blocks that are not a complete plaintext APDU. */
bool km_security_applies(const km_security *sec, const uint8_t *apdu, size_t n);

/* True when the bytes after an LLC header may be the 2017 pilot's
 * ciphertext, which starts with any byte: whole AES blocks that are neither
 * a data-notification (with or without the pilot's zero padding, as its
 * decrypted logs have it) nor a well-formed general-block-transfer block. */
bool km_security_pilot_candidate(const uint8_t *apdu, size_t n);

/* Reads the security header of a 0xDB/0xDC APDU into ret_req (ciphertext
 * and tag point into apdu). KM_ERR_CIPHER_HEADER when it is malformed or
 * the APDU is shorter than its length field says. */
km_status km_security_parse(const uint8_t *apdu, size_t n, km_cipher_request *ret_req);

/* Opens a ciphered APDU with the application's cipher and checks the
 * plaintext. On KM_OK out[0..*ret_len) is a data-notification or a P1 text
 * telegram (the pilot's zero padding removed). sec may be NULL (no key).
 * ret_info may be NULL. out_size must be at least n. */
km_status km_security_open(const km_security *sec, const uint8_t *apdu, size_t n, uint8_t *out,
                           size_t out_size, size_t *ret_len, km_security_info *ret_info);

/* Length of the data-notification at the start of p when it parses
 * completely (0x0F, invoke id, date-time, one Data value); 0 otherwise.
 * Bytes after it are not looked at. */
size_t km_notification_length(const uint8_t *p, size_t n);

/* True when p[0..n) looks like a DSMR/P1 text telegram: '/', then printable
 * ASCII, CR, LF and tab only, and a '!' line. */
bool km_is_p1_text(const uint8_t *p, size_t n);

/* The 3-letter maker (FLAG id) of a system title into ret (4 bytes), or ""
 * when its first three bytes are not upper-case letters. */
void km_system_title_maker(const uint8_t st[KM_SYSTEM_TITLE_LEN], char ret[4]);

/* The system title for messages: the maker letters followed by the other
 * five bytes in hex ("KFM1020029802"), or all 8 bytes in hex. ret needs 17
 * bytes. */
void km_system_title_text(const uint8_t st[KM_SYSTEM_TITLE_LEN], char ret[17]);

#ifdef __cplusplus
}
#endif

#endif
