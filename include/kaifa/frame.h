/*
 * Link frames: what a framer hands to the rest of the decoder.
 *
 * Each transport (HDLC, wired M-Bus, raw DLMS APDUs, DSMR/P1 text) has a
 * framer: bytes in, in any chunk size; link frames out, each with its own
 * checksum verdict. A km_frame is transport-neutral: the payload for the
 * next stage, where the frame sits in a segmented APDU, and the link header
 * of its transport in a union. Only the framer of a transport and the sinks
 * that print its header look inside that union.
 */
#ifndef KAIFA_FRAME_H
#define KAIFA_FRAME_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "kaifa/hdlc.h"
#include "kaifa/mbus.h"
#include "kaifa/status.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum km_transport {
        KM_TRANSPORT_AUTO = 0, /* detect: the first framer whose checksums pass */
        KM_TRANSPORT_HDLC,
        KM_TRANSPORT_MBUS,
        KM_TRANSPORT_RAW,      /* DLMS APDUs (with or without LLC header), no link framing */
        KM_TRANSPORT_P1,       /* DSMR/P1 ASCII telegrams */
        KM_TRANSPORT_COUNT_
} km_transport;

/* "auto", "hdlc", "mbus", "raw", "p1". */
const char *km_transport_name(km_transport t);
/* Parses a name given by a user; "hex" is not a transport but an encoding
 * (see km_decoder_options.hex). Returns false for an unknown name. */
bool km_transport_from_name(const char *name, km_transport *ret);

typedef enum km_payload_kind {
        KM_PAYLOAD_APDU = 0, /* DLMS: LLC header and/or APDU (or a segment of one) */
        KM_PAYLOAD_TEXT,     /* a DSMR/P1 telegram */
} km_payload_kind;

typedef struct km_frame {
        km_transport transport;
        km_payload_kind payload_kind;
        km_status status;        /* KM_OK, or why the frame was rejected */
        const uint8_t *bytes;    /* whole frame (HDLC: between the flags) */
        size_t len;
        const uint8_t *payload;  /* the part for the next stage */
        size_t payload_len;
        size_t skipped;          /* bytes passed over before this frame */
        bool header_valid;       /* link header parsed (also for some rejects) */
        /* Segmentation as the link says it: more segments follow; this frame
         * opens a new APDU (HDLC: LLC header; M-Bus: sequence 0). */
        bool more;
        bool opens;
        bool has_sequence;       /* M-Bus: sequence numbers count 0, 1, 2 ... */
        uint8_t sequence;
        union {
                km_hdlc_header hdlc;
                km_mbus_header mbus;
        } link;
} km_frame;

typedef enum km_frame_result {
        KM_FRAME_NEED_MORE = 0,
        KM_FRAME_GOOD,   /* a frame whose checksum (or, for raw APDUs, whose parse) passed */
        KM_FRAME_REJECT, /* a candidate that failed: frame->status says why */
} km_frame_result;

/* One framer: its state lives in the decoder (a union of all framers). The
 * contract is km_hdlc's: push takes bytes (0 while frames are waiting to be
 * pulled), next pulls frames until NEED_MORE, finish marks the end of input
 * so a frame cut short is rejected. Bytes handed to push may be read in
 * place until next returns NEED_MORE. */
typedef struct km_framer_ops {
        km_transport transport;
        const char *name;
        void (*init)(void *state, bool ignore_checksum);
        size_t (*push)(void *state, const uint8_t *data, size_t n);
        km_frame_result (*next)(void *state, km_frame *ret_frame);
        void (*finish)(void *state);
        /* Optional: a record boundary in the input (a line of a hex dump). */
        void (*boundary)(void *state);
} km_framer_ops;

/* The framer of a transport, or NULL (AUTO, or one not built in). */
const km_framer_ops *km_framer_get(km_transport t);

#ifdef __cplusplus
}
#endif

#endif
