/*
 * Encoder of DSMR 5 P1 telegrams for the simulated meter: given what a
 * meter would report, writes the telegram text the way a Dutch/Belgian
 * DSMR 5 meter sends it (identification line, OBIS lines with kW/kWh units,
 * hex-encoded ids, an M-Bus gas meter on channel 1, CRC-16/ARC). Used by
 * `kaifa-meter simulate --protocol p1` and by tests that need telegrams with
 * known values.
 */
#ifndef KM_SIM_P1_ENCODE_H
#define KM_SIM_P1_ENCODE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "kaifa/reading.h"

/* Longest telegram produced. */
#define KM_P1_SIM_MAX 2048

typedef struct km_p1_sim_values {
        km_datetime clock;        /* the telegram's time (0-0:1.0.0) */
        bool summer;              /* S or W after the times */
        const char *meter_id;     /* sent hex-encoded (0-0:96.1.1) */
        int tariff;               /* 1 or 2 (0-0:96.14.0) */
        uint64_t import_wh[2];    /* 1-0:1.8.1, 1-0:1.8.2 */
        uint64_t export_wh[2];    /* 1-0:2.8.1, 1-0:2.8.2 */
        uint32_t p_import;        /* W */
        uint32_t p_export;        /* W */
        int phases;               /* 1 or 3 */
        uint32_t voltage[3];      /* 0.1 V */
        uint32_t current[3];      /* mA; sent in whole A as DSMR 5 does */
        uint32_t power_l[3];      /* W import per phase */
        const char *gas_id;       /* NULL: no gas meter */
        uint64_t gas_litres;      /* 0-1:24.2.1, in m3 with 3 decimals */
        km_datetime gas_time;     /* its capture time */
} km_p1_sim_values;

/* Writes the telegram, '/' to the CRC and its CRLF, into buf. Returns its
 * length, -EINVAL for bad values, -ENOBUFS when size is too small. */
int km_p1_sim_encode(const km_p1_sim_values *v, char *buf, size_t size);

#endif
