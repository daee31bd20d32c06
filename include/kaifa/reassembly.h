/*
 * Reassembly stages of the decoder: link segments into APDUs
 * (HDLC segmentation, M-Bus telegram sequences), and DLMS
 * general-block-transfer blocks into the APDU they carry.
 */
#ifndef KAIFA_REASSEMBLY_H
#define KAIFA_REASSEMBLY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "kaifa/frame.h"
#include "kaifa/status.h"

/* Largest APDU reassembled from segments or blocks. */
#define KM_APDU_MAX 8192

typedef enum km_assembly_result {
        KM_ASSEMBLY_WAIT = 1, /* a part was stored; the rest is to come */
        KM_ASSEMBLY_DONE = 2, /* the whole APDU is in *ret_apdu */
} km_assembly_result;

typedef struct km_segments {
        size_t len;
        bool assembling;
        uint8_t next_sequence;
        uint32_t dropped; /* unfinished APDUs dropped since the last call (the caller counts them) */
        uint8_t buf[KM_APDU_MAX];
} km_segments;

void km_segments_init(km_segments *s);
/* Takes a good frame's payload. Returns KM_ASSEMBLY_WAIT, KM_ASSEMBLY_DONE
 * (the APDU in *ret_apdu, valid until the next call) or a negative status
 * for a frame that cannot be used (a continuation whose start was lost, an
 * overflow). An APDU being assembled that loses its end (a new one begins, a
 * sequence number is skipped) is dropped and counted in s->dropped. */
int km_segments_add(km_segments *s, const km_frame *f, const uint8_t **ret_apdu, size_t *ret_len);
/* A damaged frame, or the end of input: an APDU being assembled is lost. */
void km_segments_break(km_segments *s);

typedef struct km_gbt {
        size_t len;
        bool active;
        uint16_t next_block;
        uint32_t dropped; /* transfers dropped (gap, repeat) since the last call */
        uint8_t buf[KM_APDU_MAX];
} km_gbt;

void km_gbt_init(km_gbt *g);
/* Takes one general-block-transfer APDU (tag 0xE0). Same results as
 * km_segments_add(); a gap or repeated block drops the transfer. */
int km_gbt_add(km_gbt *g, const uint8_t *apdu, size_t n, const uint8_t **ret_apdu, size_t *ret_len);

#endif
