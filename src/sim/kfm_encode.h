/*
 * Encoder of Kaifa KFM_001 push frames, the inverse of the decoder's Kaifa
 * list family: given the values a meter would send, builds the complete HDLC
 * frame (flags, addresses 01 / 02 01, control 0x10, HCS, LLC, data-notification
 * with a typed 09 0C date-time, positional structure, FCS) byte for byte the
 * way a Norwegian MA304/MA105 meter does. Used by `kaifa-meter simulate` and
 * by tests that need frames with known values.
 */
#ifndef KM_SIM_KFM_ENCODE_H
#define KM_SIM_KFM_ENCODE_H

#include <stddef.h>
#include <stdint.h>

#include "kaifa/reading.h"

/* Longest frame produced (list 3 three-phase is 156 bytes with its flags). */
#define KM_KFM_FRAME_MAX 256

typedef struct km_kfm_values {
        int list;                 /* 1, 2 or 3 */
        int phases;               /* 1 or 3 */
        km_datetime clock;        /* notification header date-time */
        const char *obis_version; /* "KFM_001" */
        const char *meter_id;     /* 16 digits */
        const char *meter_type;   /* "MA304H3E" */
        uint32_t p_import;        /* W (list 1 carries only this) */
        uint32_t p_export;        /* W */
        uint32_t q_import;        /* var */
        uint32_t q_export;        /* var */
        uint32_t current[3];      /* mA; one-phase sends only [0] */
        uint32_t voltage[3];      /* 0.1 V; one-phase sends only [0] */
        km_datetime meter_clock;  /* list 3: time the energies were frozen */
        uint32_t energy[4];       /* list 3: A+ Wh, A- Wh, R+ varh, R- varh */
} km_kfm_values;

/* Number of elements of the list's structure: 1, 9, 13, 14 or 18; 0 if the
 * list/phases pair is invalid. */
int km_kfm_item_count(int list, int phases);

/* Fills a COSEM date-time the way Kaifa sends it (hundredths 0xFF,
 * deviation unspecified, status 0) from a broken-down wall-clock time. */
void km_kfm_datetime(int year, int month, int day, int hour, int minute, int second,
                     km_datetime *ret_dt);

/* Encodes one frame, with its opening and closing flags, into buf. Returns
 * its length, -EINVAL for a bad list/phases or missing text, -ENOBUFS when
 * size is too small. */
int km_kfm_encode(const km_kfm_values *v, uint8_t *buf, size_t size);

#endif
