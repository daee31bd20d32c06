/*
 * The decoder's decrypt callback for an application: a keyring, the core's
 * km_security_open() (header, cipher, plaintext check), replay protection
 * when asked for, counters, and the security details of the last ciphered
 * APDU for the event that follows it (the JSON "security" object, and the
 * system title in messages).
 *
 *     km_session s;
 *     km_session_init(&s, false);
 *     km_keyring_set(&s.keyring, NULL, &key);
 *     km_decoder_options opt = {0};
 *     km_session_decoder_options(&s, &opt);
 *     ... in the event callback: km_session_take(&s, &info, &status)
 *     km_session_clear(&s);             // wipes the keys
 */
#ifndef KM_SECURITY_SESSION_H
#define KM_SECURITY_SESSION_H

#include <stdbool.h>
#include <stdint.h>

#include "kaifa/decoder.h"
#include "kaifa/security.h"
#include "security/keyring.h"
#include "security/report.h"

typedef struct km_session_counters {
        uint64_t decrypted;       /* opened and handed on */
        uint64_t authenticated;   /* of those, with a verified tag */
        uint64_t auth_failed;
        uint64_t decrypt_failed;  /* wrong key (or damage) without a tag to tell */
        uint64_t replays;
        uint64_t no_key;
        uint64_t bad_header;
} km_session_counters;

typedef struct km_session {
        km_keyring keyring;
        km_security sec;
        bool replay_protection;
        km_replay replay;
        km_session_counters counters;
        /* the last call, until taken */
        bool have_last;
        km_status last_status;
        km_security_info last;
} km_session;

void km_session_init(km_session *s, bool replay_protection);

/* Wipes the keys and forgets everything. NULL is fine. */
void km_session_clear(km_session *s);

/* Points the decoder options' decrypt hook at the session (after the keys
 * are in the keyring: the pilot is enabled by a default key). */
void km_session_decoder_options(km_session *s, km_decoder_options *opt);

/* The km_decrypt_fn: userdata is the km_session. */
km_status km_session_decrypt(void *userdata, const uint8_t *apdu, size_t n, uint8_t *out, size_t out_size,
                             size_t *ret_len);

/* The details of the ciphered APDU behind the current event, once: true and
 * ret_info and ret_status set when the last decrypt call has not been taken. */
bool km_session_take(km_session *s, km_security_info *ret_info, km_status *ret_status);

#endif
