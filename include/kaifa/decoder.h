/*
 * The decoder: bytes from a meter in, readings out.
 *
 * A km_decoder joins the HDLC framer, segment reassembly, the DLMS
 * data-notification parser and the list decoders. It is a plain struct the
 * caller owns (static, stack or heap): no allocation, no I/O, no globals.
 *
 * Bytes are pushed in any chunk size; events are pulled out:
 *
 *     km_decoder_init(&d, NULL);
 *     while ((n = read(fd, buf, sizeof buf)) > 0) {
 *             size_t off = 0;
 *             while (off < (size_t)n) {
 *                     off += km_decoder_push(&d, buf + off, n - off);
 *                     km_event ev;
 *                     while (km_decoder_next(&d, &ev))
 *                             handle(&ev);
 *             }
 *     }
 *     km_decoder_finish(&d);           // end of input: flush what is left
 *     while (km_decoder_next(&d, &ev)) handle(&ev);
 *
 * Pointers in an event stay valid until the next push/next/finish call.
 */
#ifndef KAIFA_DECODER_H
#define KAIFA_DECODER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "kaifa/hdlc.h"
#include "kaifa/reading.h"
#include "kaifa/status.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Largest APDU reassembled from HDLC segments. */
#define KM_APDU_MAX 8192

typedef enum km_event_kind {
        KM_EVENT_NONE = 0,
        KM_EVENT_READING,  /* a good frame decoded: header, bytes and reading are set */
        KM_EVENT_SEGMENT,  /* a good frame that is a non-final segment: header, bytes */
        KM_EVENT_REJECT,   /* a frame that was not used: reject, bytes (candidate bytes) */
} km_event_kind;

typedef struct km_event {
        km_event_kind kind;
        km_status reject;            /* why, for KM_EVENT_REJECT */
        const uint8_t *bytes;        /* frame bytes between the flags */
        size_t len;
        const km_hdlc_header *header; /* NULL for rejects that never had a header */
        const km_reading *reading;   /* KM_EVENT_READING only */
} km_event;

/* Counters; every rejected frame is counted once under its reason. */
typedef struct km_stats {
        uint64_t bytes_in;
        uint64_t bytes_skipped;     /* bytes that were neither part of a good frame nor a flag */
        uint64_t frames_good;       /* HCS and FCS correct */
        uint64_t readings;          /* frames (or reassembled APDUs) decoded to a reading */
        uint64_t segments;          /* good frames that were non-final segments */
        uint64_t rejected[KM_STATUS_COUNT_]; /* indexed by -status */
} km_stats;

typedef struct km_decoder_options {
        bool ignore_checksum; /* debugging only: decode frames whose HCS/FCS fail */
} km_decoder_options;

typedef struct km_decoder {
        km_decoder_options opt;
        km_hdlc hdlc;
        km_stats stats;
        km_hdlc_out out;               /* the frame behind the current event */
        size_t apdu_len;
        bool assembling;
        km_hdlc_header segment_header; /* header of the first segment */
        uint8_t apdu[KM_APDU_MAX];
        km_reading reading;
} km_decoder;

void km_decoder_init(km_decoder *d, const km_decoder_options *opt);

/* Takes up to n bytes; returns how many were taken (0 only when n is 0 or
 * events are waiting to be pulled). */
size_t km_decoder_push(km_decoder *d, const uint8_t *data, size_t n);

/* Pulls the next event; returns false when more input is needed. */
bool km_decoder_next(km_decoder *d, km_event *ret_event);

/* Marks the end of input: a frame cut short by the end is rejected and the
 * bytes after its start are searched again. */
void km_decoder_finish(km_decoder *d);

/* Decodes one APDU (data-notification, starting 0x0F) into a reading. The
 * entry point for raw DLMS input without HDLC, and for tests. */
km_status km_apdu_decode(const uint8_t *apdu, size_t n, km_reading *ret_reading);

/* Same, for an information field that may start with the LLC header E6 E7 00
 * (or E6 E6 00). */
km_status km_info_decode(const uint8_t *info, size_t n, km_reading *ret_reading);

/* The same, for a reading that holds an earlier frame decoded by these
 * functions (or has n_known = 0): table look-ups of the codes it already
 * holds are skipped. The decoder uses these. */
km_status km_apdu_decode_again(const uint8_t *apdu, size_t n, km_reading *reading);
km_status km_info_decode_again(const uint8_t *info, size_t n, km_reading *reading);

/* True when an information field starts with the LLC header. */
bool km_info_has_llc(const uint8_t *info, size_t n);

#ifdef __cplusplus
}
#endif

#endif
