/*
 * The cipher behind the decoder's security hook, with OpenSSL's EVP API
 * (libcrypto); the only file of the project that includes OpenSSL.
 *
 * DLMS general-glo/ded-ciphering (protocol.md section f): AES-128-GCM with
 * IV = system title || invocation counter and a 12-byte tag over
 * AAD = security byte || AK (|| the plaintext, for authentication-only
 * frames). When the frame has no tag, or no AK is known to check it, the
 * frame is decrypted as counter mode, which is GCM without its tag: EVP's
 * GCM wants a tag before it finishes. The 2017 Norwegian pilot is plain
 * AES-128-ECB.
 */
#include "security/gcm.h"
#include "security/keyring.h"

#include <limits.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>

/* AAD: security byte, AK, and for authentication-only frames the plaintext. */
#define AAD_FIXED_LEN (1 + KM_AES_KEY_LEN)

static bool fits_int(size_t n)
{
        return n <= INT_MAX;
}

/* GCM with a tag check over AAD = aad1 || aad2 (aad2 may be empty). */
static km_status gcm_run(const uint8_t *key, const uint8_t *iv, const uint8_t *aad1, size_t aad1_len,
                         const uint8_t *aad2, size_t aad2_len, const uint8_t *ct, size_t n, const uint8_t *tag,
                         size_t tag_len, uint8_t *out)
{
        if (!fits_int(n) || !fits_int(aad1_len) || !fits_int(aad2_len) || tag_len < 4 || tag_len > 16)
                return KM_ERR_DECRYPT;
        EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
        if (!ctx)
                return KM_ERR_DECRYPT;
        km_status s = KM_ERR_DECRYPT;
        int len = 0;
        uint8_t last[KM_AES_BLOCK_LEN]; /* GCM's final writes nothing; room anyway */
        if (EVP_DecryptInit_ex(ctx, EVP_aes_128_gcm(), NULL, NULL, NULL) != 1 ||
            EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_IVLEN, KM_GCM_IV_LEN, NULL) != 1 ||
            EVP_DecryptInit_ex(ctx, NULL, NULL, key, iv) != 1)
                goto out;
        if (aad1_len > 0 && EVP_DecryptUpdate(ctx, NULL, &len, aad1, (int)aad1_len) != 1)
                goto out;
        if (aad2_len > 0 && EVP_DecryptUpdate(ctx, NULL, &len, aad2, (int)aad2_len) != 1)
                goto out;
        if (n > 0 && EVP_DecryptUpdate(ctx, out, &len, ct, (int)n) != 1)
                goto out;
        if (EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_TAG, (int)tag_len, (void *)tag) != 1)
                goto out;
        if (EVP_DecryptFinal_ex(ctx, last, &len) == 1) {
                s = KM_OK;
        } else {
                s = KM_ERR_AUTH_FAILED;
                if (n > 0)
                        OPENSSL_cleanse(out, n); /* nothing of an unauthenticated frame is used */
        }
out:
        EVP_CIPHER_CTX_free(ctx);
        return s;
}

km_status km_gcm_open(const uint8_t key[KM_AES_KEY_LEN], const uint8_t iv[KM_GCM_IV_LEN], const uint8_t *aad,
                      size_t aad_len, const uint8_t *ct, size_t n, const uint8_t *tag, size_t tag_len,
                      uint8_t *out)
{
        return gcm_run(key, iv, aad, aad_len, NULL, 0, ct, n, tag, tag_len, out);
}

/* One cipher run without a tag: CTR or ECB, no padding. */
static km_status run_cipher(const EVP_CIPHER *cipher, const uint8_t *key, const uint8_t *iv, const uint8_t *in,
                            size_t n, uint8_t *out)
{
        if (!fits_int(n))
                return KM_ERR_DECRYPT;
        if (n == 0)
                return KM_OK;
        EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
        if (!ctx)
                return KM_ERR_DECRYPT;
        km_status s = KM_ERR_DECRYPT;
        int len = 0, fin = 0;
        if (EVP_DecryptInit_ex(ctx, cipher, NULL, key, iv) == 1 && EVP_CIPHER_CTX_set_padding(ctx, 0) == 1 &&
            EVP_DecryptUpdate(ctx, out, &len, in, (int)n) == 1 &&
            EVP_DecryptFinal_ex(ctx, out + len, &fin) == 1 && (size_t)len + (size_t)fin == n)
                s = KM_OK;
        EVP_CIPHER_CTX_free(ctx);
        return s;
}

km_status km_gcm_decrypt_untagged(const uint8_t key[KM_AES_KEY_LEN], const uint8_t iv[KM_GCM_IV_LEN],
                                  const uint8_t *ct, size_t n, uint8_t *out)
{
        /* GCM's first keystream block is E(K, inc32(J0)) with J0 = IV || 00000001 */
        uint8_t counter[KM_AES_BLOCK_LEN];
        memcpy(counter, iv, KM_GCM_IV_LEN);
        counter[12] = 0;
        counter[13] = 0;
        counter[14] = 0;
        counter[15] = 2;
        /* OpenSSL's CTR carries into all 128 bits, GCM's only into the low 32:
         * the same as long as the low word does not wrap, i.e. below 64 GiB */
        return run_cipher(EVP_aes_128_ctr(), key, counter, ct, n, out);
}

km_status km_ecb_decrypt(const uint8_t key[KM_AES_KEY_LEN], const uint8_t *ct, size_t n, uint8_t *out)
{
        if (n % KM_AES_BLOCK_LEN != 0)
                return KM_ERR_DECRYPT;
        return run_cipher(EVP_aes_128_ecb(), key, NULL, ct, n, out);
}

static void make_iv(const km_cipher_request *req, uint8_t iv[KM_GCM_IV_LEN])
{
        memcpy(iv, req->system_title, KM_SYSTEM_TITLE_LEN);
        iv[8] = (uint8_t)(req->invocation_counter >> 24);
        iv[9] = (uint8_t)(req->invocation_counter >> 16);
        iv[10] = (uint8_t)(req->invocation_counter >> 8);
        iv[11] = (uint8_t)req->invocation_counter;
}

/* Tag check with the AK: AAD = SC || AK, and for an authentication-only
 * frame the plaintext too (it is then in req->ciphertext, and out gets a
 * copy once the tag verifies). */
static km_status open_tagged(const km_key *key, const km_cipher_request *req, uint8_t *out)
{
        uint8_t iv[KM_GCM_IV_LEN];
        make_iv(req, iv);
        uint8_t aad[AAD_FIXED_LEN];
        aad[0] = req->security_byte;
        memcpy(aad + 1, key->ak, KM_AES_KEY_LEN);
        km_status s;
        if (req->security_byte & KM_SC_ENCRYPTION) {
                s = gcm_run(key->ek, iv, aad, sizeof(aad), NULL, 0, req->ciphertext, req->ciphertext_len, req->tag,
                            req->tag_len, out);
        } else {
                /* GMAC: the plaintext is part of the AAD, nothing is decrypted */
                s = gcm_run(key->ek, iv, aad, sizeof(aad), req->ciphertext, req->ciphertext_len, NULL, 0, req->tag,
                            req->tag_len, out);
                if (s == KM_OK)
                        memcpy(out, req->ciphertext, req->ciphertext_len);
        }
        OPENSSL_cleanse(aad, sizeof(aad));
        return s;
}

static km_status open_gcm(const km_keyring *kr, const km_cipher_request *req, uint8_t *out, bool *ret_auth)
{
        const km_key *key = km_keyring_find(kr, req->system_title);
        bool encrypted = (req->security_byte & KM_SC_ENCRYPTION) != 0;
        bool tagged = (req->security_byte & KM_SC_AUTHENTICATION) != 0 && req->tag;
        if (!key || !key->has_ek)
                return KM_ERR_NO_KEY; /* GMAC needs the EK as well */
        if (tagged && key->has_ak) {
                km_status s = open_tagged(key, req, out);
                *ret_auth = s == KM_OK;
                return s;
        }
        if (!encrypted) {
                /* authentication only and no AK to check it: the body is plaintext */
                memcpy(out, req->ciphertext, req->ciphertext_len);
                return KM_OK;
        }
        uint8_t iv[KM_GCM_IV_LEN];
        make_iv(req, iv);
        return km_gcm_decrypt_untagged(key->ek, iv, req->ciphertext, req->ciphertext_len, out);
}

km_status km_keyring_open(void *ud, const km_cipher_request *req, uint8_t *out, size_t out_size, size_t *ret_len,
                          bool *ret_authenticated)
{
        const km_keyring *kr = ud;
        *ret_len = 0;
        *ret_authenticated = false;
        if (req->ciphertext_len > out_size)
                return KM_ERR_DECRYPT;
        km_status s;
        if (req->mode == KM_CIPHER_PILOT_ECB) {
                const km_key *key = km_keyring_find(kr, NULL);
                if (!key || !key->has_ek)
                        return KM_ERR_NO_KEY;
                s = km_ecb_decrypt(key->ek, req->ciphertext, req->ciphertext_len, out);
        } else if (req->mode == KM_CIPHER_GCM && req->system_title) {
                s = open_gcm(kr, req, out, ret_authenticated);
        } else {
                return KM_ERR_DECRYPT;
        }
        if (s == KM_OK)
                *ret_len = req->ciphertext_len;
        return s;
}
