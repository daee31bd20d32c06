/*
 * The derived values of one meter (issue 13): energy this hour, last hour
 * and today, and the capacity tariff, worked out from its readings by
 * src/derived and handed to the publisher (publish.c) as ready MQTT
 * payloads, with the Home Assistant classes each one needs.
 *
 * Time: the meter's clock is local time in [meter] timezone (its own
 * offset is not trusted); a frame without a usable clock, or a clock that
 * runs backwards, is placed by receive time instead (said once). The
 * hourly list's clock is the time its registers were frozen, not the
 * time it was sent.
 *
 * State: kept in $STATE_DIRECTORY/<meter id>.derived (state_file.h), read
 * when the meter names itself, written at most once a minute and when the
 * publisher is freed (the daemon's stop and reload). Without
 * $STATE_DIRECTORY the state lives in memory only (said once).
 */
#ifndef KM_DAEMON_DERIVED_H
#define KM_DAEMON_DERIVED_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "derived/capacity.h"
#include "kaifa/reading.h"

typedef struct km_derived km_derived;

typedef struct km_derived_options {
        const char *timezone;  /* tzdata name, checked */
        bool capacity;         /* [capacity] enabled */
        const km_cap_steps *steps;
        const char *state_dir; /* NULL: in memory only */
} km_derived_options;

#define KM_DERIVED_ATTR_MAX 768
#define KM_DERIVED_MAX_OUT 12

/* One value to publish under <prefix>/<id>/<key>. */
typedef struct km_derived_out {
        const char *key;          /* static */
        char payload[32];
        const char *unit;         /* static */
        const char *device_class; /* static or NULL */
        const char *state_class;  /* static or NULL */
        bool hourly_cycle;        /* state class total, each hour a new cycle (last_reset = its start) */
        const char *attributes;   /* JSON for <key>/attributes, or NULL; valid until the next call */
} km_derived_out;

int km_derived_new(const km_derived_options *opt, km_derived **ret);

/* Writes the state (when there is a state directory) and frees. */
void km_derived_free(km_derived *d);

/* One reading of the meter meter_id at monotonic time now_usec: fills out
 * with what is due for publishing and returns how many. */
size_t km_derived_reading(km_derived *d, const char *meter_id, const km_reading *r, uint64_t now_usec,
                          km_derived_out out[KM_DERIVED_MAX_OUT]);

/* The attributes JSON last published for key, or NULL (for republishing
 * after a reconnect). */
const char *km_derived_attributes(const km_derived *d, const char *key);

#endif
