/*
 * The decrypt callback with its bookkeeping (see session.h).
 */
#include "security/session.h"

#include <string.h>

void km_session_init(km_session *s, bool replay_protection)
{
        memset(s, 0, sizeof(*s));
        km_keyring_init(&s->keyring);
        km_replay_init(&s->replay);
        s->replay_protection = replay_protection;
}

void km_session_clear(km_session *s)
{
        if (!s)
                return;
        km_keyring_clear(&s->keyring);
        memset(s, 0, sizeof(*s));
}

void km_session_decoder_options(km_session *s, km_decoder_options *opt)
{
        km_keyring_security(&s->keyring, &s->sec);
        opt->decrypt = km_session_decrypt;
        opt->decrypt_userdata = s;
}

static void count(km_session_counters *c, km_status st, bool authenticated)
{
        switch (st) {
        case KM_OK:
                c->decrypted++;
                c->authenticated += authenticated;
                break;
        case KM_ERR_AUTH_FAILED:
                c->auth_failed++;
                break;
        case KM_ERR_DECRYPT:
                c->decrypt_failed++;
                break;
        case KM_ERR_REPLAY:
                c->replays++;
                break;
        case KM_ERR_NO_KEY:
                c->no_key++;
                break;
        case KM_ERR_CIPHER_HEADER:
                c->bad_header++;
                break;
        default:
                break;
        }
}

km_status km_session_decrypt(void *userdata, const uint8_t *apdu, size_t n, uint8_t *out, size_t out_size,
                             size_t *ret_len)
{
        km_session *s = userdata;
        km_status st = km_security_open(&s->sec, apdu, n, out, out_size, ret_len, &s->last);
        /* Only an opened frame moves the counter: a forged or damaged one
         * must not lock the real meter out. */
        if (st == KM_OK && s->replay_protection && s->last.mode == KM_CIPHER_GCM &&
            km_replay_check(&s->replay, s->last.system_title, s->last.invocation_counter, NULL) != KM_OK) {
                st = KM_ERR_REPLAY;
                memset(out, 0, *ret_len);
                *ret_len = 0;
        }
        if (st == KM_ERR_NOT_DLMS)
                s->last.mode = KM_CIPHER_NONE; /* not ours: a plain frame the pilot check passed on */
        count(&s->counters, st, s->last.authenticated);
        s->have_last = st != KM_ERR_NOT_DLMS;
        s->last_status = st;
        return st;
}

bool km_session_take(km_session *s, km_security_info *ret_info, km_status *ret_status)
{
        if (!s || !s->have_last)
                return false;
        s->have_last = false;
        if (ret_info)
                *ret_info = s->last;
        if (ret_status)
                *ret_status = s->last_status;
        return true;
}
