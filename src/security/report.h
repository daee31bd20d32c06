/*
 * What the application does around the cipher: replay protection (the
 * invocation counter of each system title must grow), the one-line messages
 * for frames that could not be opened, and a limit of one such message per
 * system title and kind per interval (the daemon's "at most once a minute").
 * Plain C, no OpenSSL, no I/O; time is passed in by the caller.
 */
#ifndef KM_SECURITY_REPORT_H
#define KM_SECURITY_REPORT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "kaifa/security.h"

/* Meters seen per decoder: one normally; more are tracked, the oldest
 * forgotten first. */
#define KM_REPLAY_MAX 8

typedef struct km_replay_entry {
        uint8_t title[KM_SYSTEM_TITLE_LEN];
        uint32_t last_ic;
        uint64_t seen; /* order of last use, for eviction */
} km_replay_entry;

typedef struct km_replay {
        km_replay_entry entries[KM_REPLAY_MAX];
        size_t n;
        uint64_t clock;
} km_replay;

void km_replay_init(km_replay *r);

/* KM_OK and remembers ic when it is above the last counter seen from this
 * system title (or the title is new); KM_ERR_REPLAY otherwise, and
 * *ret_last (may be NULL) is the counter it had to beat. */
km_status km_replay_check(km_replay *r, const uint8_t title[KM_SYSTEM_TITLE_LEN], uint32_t ic, uint32_t *ret_last);

/* One line for a frame that could not be opened (status from
 * km_security_open or km_replay_check) from the meter in info: e.g.
 * "cannot decrypt frames from system title KFM1020029802: wrong key?".
 * key_hint says where a key is given (e.g. "--key or --key-file") and
 * is used in the message for a missing key. Never contains a key. */
void km_security_message(km_status s, const km_security_info *info, const char *key_hint, char *buf,
                         size_t size);

/* Limits messages to one per system title and status per interval. */
#define KM_RATELIMIT_SLOTS 16

typedef struct km_ratelimit_slot {
        uint8_t title[KM_SYSTEM_TITLE_LEN];
        km_status status;
        uint64_t last_usec;
        uint64_t suppressed; /* messages not shown since the last one */
} km_ratelimit_slot;

typedef struct km_ratelimit {
        uint64_t interval_usec;
        km_ratelimit_slot slots[KM_RATELIMIT_SLOTS];
        size_t n;
} km_ratelimit;

void km_ratelimit_init(km_ratelimit *rl, uint64_t interval_usec);

/* True when a message for (title, status) may be shown at now_usec; then
 * *ret_suppressed (may be NULL) is how many were held back since the last. */
bool km_ratelimit_allow(km_ratelimit *rl, const uint8_t title[KM_SYSTEM_TITLE_LEN], km_status s, uint64_t now_usec,
                        uint64_t *ret_suppressed);

#endif
