/*
 * Local time in a named time zone ([meter] timezone, tzdata), for placing
 * hours and days: which local hour and day an instant belongs to, the
 * meter's local wall clock back to an instant, and ISO 8601 with offset.
 *
 * glibc has no per-call time zone. This module switches the process's TZ
 * (setenv + tzset) around each call and restores it, which is safe because
 * the daemon is single-threaded; the callers cache hour and day boundaries,
 * so the switch happens a few times an hour, not per frame.
 */
#ifndef KM_DERIVED_LOCALTIME_H
#define KM_DERIVED_LOCALTIME_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define KM_TZ_NAME_MAX 64
#define KM_ISO_MAX 32

typedef struct km_tz {
        char name[KM_TZ_NAME_MAX]; /* "Europe/Oslo" */
} km_tz;

/* Local wall-clock fields, as a meter sends them. */
typedef struct km_wall {
        int year, month, day, hour, minute, second;
} km_wall;

/* Whether the zone exists as a tzdata file (TZDIR or /usr/share/zoneinfo).
 * Returns 0, -ENOENT, or -EINVAL for a name that is not a zone path. */
int km_tz_check(const char *name);

/* Sets tz to the zone name (checked with km_tz_check). */
int km_tz_init(km_tz *tz, const char *name);

/* The start of the local hour that holds t (seconds since the epoch). */
int64_t km_tz_hour_start(const km_tz *tz, int64_t t);

/* The local day that holds t: its midnight and the next (23, 24 or 25
 * hours later), its date. */
void km_tz_day(const km_tz *tz, int64_t t, int64_t *ret_start, int64_t *ret_end, km_wall *ret_date);

/* The local month that holds t: midnight of its first day and of the next month's. */
void km_tz_month(const km_tz *tz, int64_t t, int64_t *ret_start, int64_t *ret_end);

/* The instant of a local wall clock. A time the autumn change shows twice
 * gives the one nearer hint; a time the spring change skips is -ERANGE,
 * fields out of range -EINVAL. */
int km_tz_from_wall(const km_tz *tz, const km_wall *w, int64_t hint, int64_t *ret_t);

/* "2026-10-25T02:00:00+01:00". Returns buf (size >= KM_ISO_MAX). */
const char *km_tz_iso8601(const km_tz *tz, int64_t t, char *buf, size_t size);

#endif
