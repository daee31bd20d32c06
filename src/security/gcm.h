/*
 * AES-128 for DLMS frames (gcm_openssl.c, the only file that includes
 * OpenSSL): GCM with a tag check, GCM without one (as counter mode), and the
 * 2017 pilot's ECB. Each returns KM_OK or a km_status; none keeps state.
 */
#ifndef KM_SECURITY_GCM_H
#define KM_SECURITY_GCM_H

#include <stddef.h>
#include <stdint.h>

#include "kaifa/security.h"

/* GCM decryption and tag check: n bytes of ct to out (n may be 0, GMAC).
 * KM_ERR_AUTH_FAILED when the tag does not verify; out is wiped then. */
km_status km_gcm_open(const uint8_t key[KM_AES_KEY_LEN], const uint8_t iv[KM_GCM_IV_LEN], const uint8_t *aad,
                      size_t aad_len, const uint8_t *ct, size_t n, const uint8_t *tag, size_t tag_len,
                      uint8_t *out);

/* GCM decryption without a tag: AES-128-CTR from the counter block
 * IV || 00000002 (the block after J0), which is what GCM encrypts with. */
km_status km_gcm_decrypt_untagged(const uint8_t key[KM_AES_KEY_LEN], const uint8_t iv[KM_GCM_IV_LEN],
                                  const uint8_t *ct, size_t n, uint8_t *out);

/* AES-128-ECB of whole blocks (n a multiple of 16), no padding removed. */
km_status km_ecb_decrypt(const uint8_t key[KM_AES_KEY_LEN], const uint8_t *ct, size_t n, uint8_t *out);

#endif
