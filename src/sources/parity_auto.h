/*
 * Serial settings found by trying: parity auto. A HAN port is 8E1 (Kaifa,
 * Aidon, Landis+Gyr ...) or 8N1 (Kamstrup), a DSMR 2.2/3 P1 port 7E1. The
 * reader starts at 8E1; while no good frame comes, a setting is given up
 * after a few checksum failures or a pile of bytes and the next is tried,
 * 8E1 -> 8N1 (-> 7E1 when the data bits were not fixed) -> 8E1 ...; the first
 * setting that yields a good frame is kept. Pure logic on the decoder's
 * counters: the caller applies the settings and says what happened.
 */
#ifndef KM_PARITY_AUTO_H
#define KM_PARITY_AUTO_H

#include <stdbool.h>
#include <stdint.h>

#include "kaifa/decoder.h"
#include "sources/source.h"

/* a setting is given up after this many checksum failures, or this many
 * bytes, without one good frame */
#define KM_PARITY_AUTO_MAX_BAD 3
#define KM_PARITY_AUTO_MAX_BYTES 4096

typedef struct km_parity_auto {
        km_serial_params params; /* the setting being tried, or kept */
        km_serial_params tried;  /* after KM_PARITY_AUTO_NEXT: the one given up */
        uint64_t tried_bytes;    /* ... and the bytes read with it */
        bool try_7e1;            /* data bits not fixed by the user */
        int start_bits;          /* the cycle starts (and ends) at start_bits E 1 */
        bool locked;             /* a good frame came: params stay */
        uint64_t good0, bad0, bytes0; /* counters when params were set */
        uint64_t cycle_bytes0;   /* bytes_in when the cycle began at 8E1 */
        uint64_t cycle_bytes;    /* after KM_PARITY_AUTO_CYCLE: bytes the cycle read */
        unsigned switches;
} km_parity_auto;

typedef enum km_parity_auto_step {
        KM_PARITY_AUTO_WAIT,   /* nothing to do yet */
        KM_PARITY_AUTO_LOCKED, /* this call saw the first good frame: params stay */
        KM_PARITY_AUTO_NEXT,   /* give up tried, apply params */
        KM_PARITY_AUTO_CYCLE,  /* as NEXT, and every setting failed once: back at 8E1 */
} km_parity_auto_step;

/* Starts at 8E1 with base's baud rate; try_7e1 when the data bits are not fixed. */
void km_parity_auto_init(km_parity_auto *pa, const km_serial_params *base, bool try_7e1, const km_stats *s);

/* The same port opened again (a pty or adapter that came back): the
 * setting being tried or kept stays, the counters start from here. */
void km_parity_auto_reopen(km_parity_auto *pa, const km_stats *s);

/* Looks at the counters after the decoder was fed. */
km_parity_auto_step km_parity_auto_check(km_parity_auto *pa, const km_stats *s);

/* Checksum failures counted by the decoder (HDLC HCS/FCS, M-Bus, P1 CRC). */
uint64_t km_checksum_errors(const km_stats *s);

/* "8E1", "8N1", "7E1": buf of at least 4 bytes. */
const char *km_serial_params_name(const km_serial_params *p, char buf[static 4]);

#endif
