/*
 * Streaming wired M-Bus long-frame framer (EN 13757-2), as DLMS meters push
 * it (IEC 62056-7-3 style): 68 L L 68 | C A CI | STSAP DTSAP | APDU part |
 * CS 16. The CI byte is a segmentation header: bits 3..0 count the frames of
 * one APDU from 0, bit 4 marks the last.
 */
#ifndef KAIFA_MBUS_H
#define KAIFA_MBUS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "kaifa/status.h"

#ifdef __cplusplus
extern "C" {
#endif

#define KM_MBUS_START 0x68
#define KM_MBUS_STOP 0x16
/* L counts C through the last data byte; Sagemcom T210-D sends 257 such
 * bytes with L cut to one byte (0x01), so two hundred and more are possible
 * beyond 255. */
#define KM_MBUS_MAX_L (255 + 256)
#define KM_MBUS_MAX_FRAME (KM_MBUS_MAX_L + 6)
#define KM_MBUS_BUF (2 * KM_MBUS_MAX_FRAME)

typedef struct km_mbus_header {
        uint16_t length;    /* user data length: C through the last data byte */
        uint8_t c;          /* control field (0x53 SND_UD) */
        uint8_t a;          /* address (0xFF broadcast) */
        uint8_t ci;         /* segmentation: sequence in bits 3..0, last in bit 4 */
        uint8_t stsap;
        uint8_t dtsap;
        uint8_t checksum;
        bool length_wrapped; /* L was sent modulo 256 (Sagemcom) */
} km_mbus_header;

typedef struct km_mbus {
        uint8_t buf[KM_MBUS_BUF];
        size_t len;
        size_t pos;
        bool eof;
        bool ignore_checksum;
} km_mbus;

struct km_frame;
void km_mbus_init(km_mbus *m, bool ignore_checksum);
size_t km_mbus_push(km_mbus *m, const uint8_t *data, size_t n);
void km_mbus_finish(km_mbus *m);
/* Returns a km_frame_result (see kaifa/frame.h). */
int km_mbus_next(km_mbus *m, struct km_frame *ret_frame);

/* Checks one frame from its 0x68 on: KM_OK and the header, or why not. */
km_status km_mbus_parse_frame(const uint8_t *p, size_t n, bool ignore_checksum, km_mbus_header *ret_header,
                              size_t *ret_len);

#ifdef __cplusplus
}
#endif

#endif
