/*
 * A simulated Kaifa meter: decides which list goes out in each 2-second slot
 * and with which values, the way a Norwegian KFM_001 meter does it.
 *
 * List 1 every 2 s, list 2 at every xx:xx:x0, and at xx:00:10 the hourly
 * list 3 in place of list 2, carrying the clock and energies frozen at
 * xx:00:00 (protocol.md section i). So one simulated hour is 1800 frames.
 * The load follows a seeded random walk, and the energy registers integrate
 * the powers, so the same seed and start always give the same frames.
 * Time is seconds since the epoch. The meter's clock shows it either as a
 * plain wall clock (no time zone, no DST: timegm()'s reading) or, with
 * local_time, in the process's time zone (TZ) the way a meter set to local
 * time shows it: 02:00-03:00 twice on the autumn DST day, never on the
 * spring one. The lists keep to the real hours either way.
 */
#ifndef KM_SIM_METER_SIM_H
#define KM_SIM_METER_SIM_H

#include <stdbool.h>
#include <stdint.h>

#include "sim/kfm_encode.h"

typedef struct km_sim_options {
        int phases;             /* 1 or 3 */
        int64_t start;          /* wall clock of the first slot; rounded up to even seconds */
        uint64_t seed;
        const char *meter_id;   /* NULL: a fixed 16-digit id */
        const char *meter_type; /* NULL: "MA304H3E" (3-phase) or "MA105H2E" (1-phase) */
        bool local_time;        /* the clock in TZ's local time (see above) */
} km_sim_options;

typedef struct km_sim {
        km_sim_options opt;
        uint64_t rng;
        int64_t t;              /* wall clock of the next slot */
        double load_w;          /* active import the house draws */
        double target_w;        /* where the load drifts to */
        double share[3];        /* fraction of the load on each phase */
        double volt[3];         /* V */
        double energy[4];       /* registers: A+ Wh, A- Wh, R+ varh, R- varh */
        uint32_t frozen[4];     /* registers at the last full hour */
        int64_t frozen_at;
} km_sim;

void km_sim_init(km_sim *s, const km_sim_options *opt);

/* The frame for the slot at s->t: fills ret_values (whose text pointers
 * stay valid while s lives) and moves on by 2 s. Returns the slot's time. */
int64_t km_sim_next(km_sim *s, km_kfm_values *ret_values);

/* The meter's clock at t (plain or local, per the options). */
void km_sim_clock(const km_sim *s, int64_t t, km_datetime *ret_dt);

/* Parses "2026-01-01T00:00:00" (or with a space, or without seconds) as a
 * wall clock. Returns 0 or -EINVAL. */
int km_sim_parse_time(const char *text, int64_t *ret_time);

/* Parses a duration "3600", "3600s", "90m", "1h", "2d" into seconds.
 * Returns 0 or -EINVAL. */
int km_sim_parse_duration(const char *text, int64_t *ret_seconds);

#endif
