/*
 * Energy per hour and per day from a meter's readings: the active power
 * integrated between frames (trapezoid), booked to the local hour it flowed
 * in, and each finished hour corrected to the difference of the energy
 * registers the meter freezes at the top of the hour; the month's best
 * hour per day for the capacity tariff (capacity.h).
 *
 * Pure: instants come in as seconds since the epoch (the caller turns the
 * meter's local clock into them), the time zone places hours and days. The
 * whole state is plain data (state_file.h writes it as it is). Energies are
 * Wh, the integral W*s; index 0 is import (A+), 1 export (A-).
 */
#ifndef KM_DERIVED_ENERGY_H
#define KM_DERIVED_ENERGY_H

#include <stdbool.h>
#include <stdint.h>

#include "derived/capacity.h"
#include "derived/localtime.h"

/* Power samples further apart than this are not joined (a gap: the meter
 * or the daemon was away); the registers book such hours. */
#define KM_ENERGY_MAX_GAP 900

typedef struct km_energy {
        /* the last power sample */
        bool have_sample;
        int64_t sample_t;
        double sample_w[2];
        /* the open hour: [hour_start, hour_start + 3600) */
        int64_t hour_start; /* 0: none yet */
        double hour_ws[2];
        /* the local day and month of the open hour */
        int64_t day_start, day_end, month_start, month_end;
        int day_mday;
        double day_wh[2]; /* finished hours of the day, as booked */
        /* the finished hour waiting for its register */
        bool pending;
        int64_t pending_start;
        int pending_mday; /* 0: not of the current month */
        double pending_ws[2];
        /* the registers at the last hour boundary */
        bool have_reg;
        int64_t reg_t;
        double reg_wh[2];
        /* the last hour booked from registers */
        bool have_last;
        int64_t last_start;
        double last_wh[2];
        km_cap_month cap;
} km_energy;

typedef struct km_energy_events {
        bool hour_rolled;  /* a new hour opened */
        bool booked;       /* a finished hour got its register difference (last_*) */
        bool estimated;    /* a finished hour was booked from its integral (no register) */
        bool day_rolled, month_rolled;
        bool reg_backwards; /* the registers went down or back in time: started over */
} km_energy_events;

void km_energy_init(km_energy *e);

/* A power sample (W) at instant t. Samples at or before the last are
 * ignored. */
void km_energy_power(km_energy *e, const km_tz *tz, int64_t t, const double w[2], km_energy_events *ev);

/* Registers (Wh) frozen at instant t (the top of an hour, or any time in
 * the hour when the meter sends them with every frame: the first of each
 * hour counts). */
void km_energy_registers(km_energy *e, const km_tz *tz, int64_t t, const double wh[2], km_energy_events *ev);

/* Wh this hour so far, and since local midnight. */
double km_energy_this_hour(const km_energy *e, int dir);
double km_energy_today(const km_energy *e, int dir);

/* The month's table with the finished hour that waits for its register
 * booked at its estimate, and the open hour's day and Wh so far: what the
 * projected capacity figures use. */
void km_energy_cap_view(const km_energy *e, km_cap_month *ret_month, int *ret_mday, double *ret_hour_wh);

#endif
