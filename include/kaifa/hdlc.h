/*
 * Streaming HDLC frame format type 3 framer (IEC 62056-46), as DLMS meters
 * push it: no byte stuffing, the 11-bit length field finds the frame end,
 * HCS and FCS are CRC-16/X.25.
 */
#ifndef KAIFA_HDLC_H
#define KAIFA_HDLC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "kaifa/status.h"

#ifdef __cplusplus
extern "C" {
#endif

#define KM_HDLC_FLAG 0x7E
#define KM_HDLC_MAX_LEN 2047 /* largest value of the 11-bit length field */
#define KM_HDLC_MIN_LEN 7    /* format(2) + dst(1) + src(1) + control(1) + FCS(2) */
/* Buffer: room for one longest frame plus its flags, twice, so a frame that
 * starts late in the buffer can complete after compaction. */
#define KM_HDLC_BUF (2 * (KM_HDLC_MAX_LEN + 2))

typedef struct km_hdlc_header {
        uint16_t format;      /* frame format word: type, S bit, length */
        uint16_t length;      /* bytes between the flags */
        bool segmented;       /* S bit: more segments follow */
        uint8_t dst[4];
        uint8_t dst_len;
        uint8_t src[4];
        uint8_t src_len;
        uint8_t control;
        bool has_hcs;         /* false for frames without information field */
        uint16_t hcs;         /* as a number (sent low byte first) */
        uint16_t fcs;
        bool closing_flag;    /* a 0x7E followed the frame */
        bool checksum_ok;     /* HCS and FCS right (false only with ignore_checksum) */
        const uint8_t *info;  /* information field, within the frame bytes */
        size_t info_len;
} km_hdlc_header;

/* The framer examines either the caller's chunk in place (zero copy, the
 * common case) or its own buffer, which holds a frame that straddles two
 * chunks. */
typedef struct km_hdlc {
        const uint8_t *view; /* bytes being examined: buf or the caller's chunk */
        size_t len;          /* bytes in view */
        size_t pos;          /* first byte not yet examined */
        bool external;       /* view is the caller's chunk */
        bool eof;
        bool ignore_checksum;
        uint8_t buf[KM_HDLC_BUF];
} km_hdlc;

typedef enum km_hdlc_result {
        KM_HDLC_NEED_MORE = 0,
        KM_HDLC_FRAME,     /* a frame with good HCS and FCS */
        KM_HDLC_REJECT,    /* a candidate frame that failed (status says why) */
} km_hdlc_result;

typedef struct km_hdlc_out {
        km_status status;       /* for KM_HDLC_REJECT */
        const uint8_t *bytes;   /* frame (or candidate) bytes without flags */
        size_t len;
        size_t skipped;         /* bytes passed over before this result */
        km_hdlc_header header;  /* valid for KM_HDLC_FRAME, and for HCS-good rejects */
        bool header_valid;
} km_hdlc_out;

void km_hdlc_init(km_hdlc *h);
/* Takes bytes: the whole chunk when nothing is buffered (it is then read in
 * place, so it must stay valid until km_hdlc_next() returns NEED_MORE), else
 * as much as the buffer holds. Returns 0 while results are waiting. */
size_t km_hdlc_push(km_hdlc *h, const uint8_t *data, size_t n);
void km_hdlc_finish(km_hdlc *h);
/* Finds the next frame or rejected candidate. Bytes passed over (garbage
 * between frames, never flags) are reported in ret->skipped, also when the
 * result is KM_HDLC_NEED_MORE. */
km_hdlc_result km_hdlc_next(km_hdlc *h, km_hdlc_out *ret);
/* The same with the header written to *ret_header instead of
 * ret->header (valid when ret->header_valid; scribbled on otherwise). The
 * decoder has it parsed straight into its frame: copying the header out of
 * a km_hdlc_out made the compiler store it field by field and reload it in
 * wide words, a store-forwarding stall per frame. */
km_hdlc_result km_hdlc_next_into(km_hdlc *h, km_hdlc_out *ret, km_hdlc_header *ret_header);

/* Parses and checks one frame given without its flags (for tests and tools). */
km_status km_hdlc_parse_frame(const uint8_t *frame, size_t n, bool ignore_checksum,
                              km_hdlc_header *ret_header);

/* The CRC register (before the final XOR) after data followed by its own
 * correct CRC-16/X.25, low byte first. */
#define KM_CRC16_X25_RESIDUE 0xF0B8

/* CRC-16/X.25 (check value 0x906E over "123456789"). */
uint16_t km_crc16_x25(const uint8_t *data, size_t n);
/* Incremental form: start with 0xFFFF, finish with ^ 0xFFFF. */
uint16_t km_crc16_x25_update(uint16_t crc, const uint8_t *data, size_t n);

#ifdef __cplusplus
}
#endif

#endif
