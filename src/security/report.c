/*
 * Replay protection, failure messages and their rate limit (see report.h).
 */
#include "security/report.h"

#include <stdio.h>
#include <string.h>

void km_replay_init(km_replay *r)
{
        memset(r, 0, sizeof(*r));
}

static km_replay_entry *replay_slot(km_replay *r, const uint8_t title[KM_SYSTEM_TITLE_LEN], bool *ret_new)
{
        *ret_new = false;
        for (size_t i = 0; i < r->n; i++)
                if (memcmp(r->entries[i].title, title, KM_SYSTEM_TITLE_LEN) == 0)
                        return &r->entries[i];
        *ret_new = true;
        if (r->n < KM_REPLAY_MAX)
                return &r->entries[r->n++];
        km_replay_entry *oldest = &r->entries[0];
        for (size_t i = 1; i < r->n; i++)
                if (r->entries[i].seen < oldest->seen)
                        oldest = &r->entries[i];
        return oldest;
}

km_status km_replay_check(km_replay *r, const uint8_t title[KM_SYSTEM_TITLE_LEN], uint32_t ic, uint32_t *ret_last)
{
        bool is_new;
        km_replay_entry *e = replay_slot(r, title, &is_new);
        if (!is_new && ic <= e->last_ic) {
                if (ret_last)
                        *ret_last = e->last_ic;
                return KM_ERR_REPLAY;
        }
        memcpy(e->title, title, KM_SYSTEM_TITLE_LEN);
        e->last_ic = ic;
        e->seen = ++r->clock;
        return KM_OK;
}

void km_security_message(km_status s, const km_security_info *info, const char *key_hint, char *buf, size_t size)
{
        char title[17] = "";
        bool has_title = info && info->mode == KM_CIPHER_GCM;
        if (has_title)
                km_system_title_text(info->system_title, title);
        const char *from = has_title ? "frames from system title " : "pilot-encrypted frames";
        switch (s) {
        case KM_ERR_NO_KEY:
                snprintf(buf, size, "encrypted %s%s and no key for them: give the key from the grid company with %s",
                         from, title, key_hint ? key_hint : "--key");
                break;
        case KM_ERR_DECRYPT:
                snprintf(buf, size, "cannot decrypt %s%s: wrong key?", from, title);
                break;
        case KM_ERR_AUTH_FAILED:
                snprintf(buf, size, "%s%s fail authentication: wrong authentication key (AK) or key?", from, title);
                break;
        case KM_ERR_REPLAY:
                snprintf(buf, size, "replayed frame from system title %s dropped: invocation counter %u is not above "
                         "the last one seen",
                         title, info ? (unsigned)info->invocation_counter : 0u);
                break;
        case KM_ERR_CIPHER_HEADER:
                snprintf(buf, size, "ciphered APDU with a malformed or truncated security header");
                break;
        default:
                snprintf(buf, size, "%s%s: %s", from, title, km_strerror(s));
                break;
        }
}

void km_ratelimit_init(km_ratelimit *rl, uint64_t interval_usec)
{
        memset(rl, 0, sizeof(*rl));
        rl->interval_usec = interval_usec;
}

static km_ratelimit_slot *rate_slot(km_ratelimit *rl, const uint8_t *title, km_status s, bool *ret_new)
{
        *ret_new = false;
        for (size_t i = 0; i < rl->n; i++)
                if (rl->slots[i].status == s && memcmp(rl->slots[i].title, title, KM_SYSTEM_TITLE_LEN) == 0)
                        return &rl->slots[i];
        *ret_new = true;
        if (rl->n < KM_RATELIMIT_SLOTS)
                return &rl->slots[rl->n++];
        km_ratelimit_slot *oldest = &rl->slots[0];
        for (size_t i = 1; i < rl->n; i++)
                if (rl->slots[i].last_usec < oldest->last_usec)
                        oldest = &rl->slots[i];
        return oldest;
}

bool km_ratelimit_allow(km_ratelimit *rl, const uint8_t title[KM_SYSTEM_TITLE_LEN], km_status s, uint64_t now_usec,
                        uint64_t *ret_suppressed)
{
        bool is_new;
        km_ratelimit_slot *slot = rate_slot(rl, title, s, &is_new);
        if (!is_new && now_usec - slot->last_usec < rl->interval_usec) {
                slot->suppressed++;
                return false;
        }
        if (ret_suppressed)
                *ret_suppressed = is_new ? 0 : slot->suppressed;
        memcpy(slot->title, title, KM_SYSTEM_TITLE_LEN);
        slot->status = s;
        slot->last_usec = now_usec;
        slot->suppressed = 0;
        return true;
}
