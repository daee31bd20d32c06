/*
 * The decoder: bytes from a meter in, readings out.
 *
 * A km_decoder is a pipeline of stages, each in its own file:
 *
 *   bytes -> [hex text] -> framer (hdlc, mbus, raw, p1; detected or chosen)
 *         -> link reassembly (HDLC segments, M-Bus sequences)
 *         -> block transfer (0xE0) -> security (a callback: ciphers live in
 *            the application) -> APDU -> lists (meters/<maker>.c)
 *
 * It is a plain struct the caller owns (static, stack or heap): no
 * allocation, no I/O, no globals. One call drives it:
 *
 *     km_decoder_init(&d, NULL);
 *     while ((n = read(fd, buf, sizeof buf)) > 0)
 *             km_decoder_feed(&d, buf, n, handle, userdata);
 *     km_decoder_end(&d, handle, userdata);    // end of input: flush
 *
 * (km_decoder_push() and km_decoder_next() are the same thing pulled one
 * event at a time.) Pointers in an event stay valid until the callback
 * returns (or the next push/next/finish call).
 *
 * Transport detection (transport = KM_TRANSPORT_AUTO): input is held in a
 * detection buffer until a framer finds a frame whose checksum passes there;
 * the decoder then locks onto that transport and replays the buffer through
 * it, so the first frame is not lost. Raw APDUs have no checksum: they are
 * taken only from the start of the input, and only when the APDU there
 * parses to its end and is followed by the end of input, a line end of a
 * hex dump, or another APDU. Hex text is recognised from the first bytes.
 * The decisions depend only on the bytes, never on how they were chunked.
 */
#ifndef KAIFA_DECODER_H
#define KAIFA_DECODER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "kaifa/frame.h"
#include "kaifa/hdlc.h"
#include "kaifa/hex.h"
#include "kaifa/mbus.h"
#include "kaifa/p1.h"
#include "kaifa/raw.h"
#include "kaifa/reading.h"
#include "kaifa/reassembly.h"
#include "kaifa/status.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Detection looks at up to this many bytes at a time, every KM_DETECT_STEP. */
#define KM_DETECT_BUF 8192
#define KM_DETECT_STEP 64
#define KM_DETECT_MARKS 32
#define KM_HEX_CHUNK 1024

typedef enum km_event_kind {
        KM_EVENT_NONE = 0,
        KM_EVENT_READING,  /* a good frame decoded: frame, bytes and reading are set */
        KM_EVENT_SEGMENT,  /* a good frame that is part of an APDU still being assembled */
        KM_EVENT_REJECT,   /* a frame that was not used: reject, bytes (candidate bytes) */
} km_event_kind;

typedef struct km_event {
        km_event_kind kind;
        km_status reject;            /* why, for KM_EVENT_REJECT */
        km_transport transport;
        const uint8_t *bytes;        /* frame bytes (HDLC: between the flags) */
        size_t len;
        const km_frame *frame;       /* the link frame; frame->header_valid says if its header is */
        const km_hdlc_header *header; /* HDLC frames with a valid header, else NULL */
        const km_reading *reading;   /* KM_EVENT_READING only */
        /* How the APDU was protected (system title, counter, authenticated),
         * for a ciphered one. The cipher is the application's, so the core
         * leaves this NULL and the application fills it in, in its copy of
         * the event, from its decrypt callback (src/security/session.h). */
        const struct km_security_info *security;
} km_event;

typedef void (*km_event_cb)(const km_event *ev, void *userdata);

/* Counters; every rejected frame is counted once under its reason. */
typedef struct km_stats {
        uint64_t bytes_in;
        uint64_t bytes_skipped;     /* bytes that were neither part of a good frame nor a flag */
        uint64_t frames_good;       /* link frames whose checksum passed */
        uint64_t readings;          /* frames (or reassembled APDUs) decoded to a reading */
        uint64_t segments;          /* good frames that were parts of an APDU (segments, blocks) */
        uint64_t rejected[KM_STATUS_COUNT_]; /* indexed by -status */
} km_stats;

/* Opens a ciphered APDU (0xDB/0xDC general ciphering, or the 2017 Norwegian
 * pilot's bare ciphertext): writes the plaintext to out. Returns KM_OK, or
 * the reason it could not (no key, authentication failed ...). Set by the
 * application; the core has no cipher of its own. */
typedef km_status (*km_decrypt_fn)(void *userdata, const uint8_t *apdu, size_t n, uint8_t *out, size_t out_size,
                                   size_t *ret_len);

typedef enum km_hex_mode {
        KM_HEX_AUTO = 0, /* hex text when the input starts like a hex dump */
        KM_HEX_NO,
        KM_HEX_YES,
} km_hex_mode;

typedef struct km_decoder_options {
        bool ignore_checksum;   /* debugging only: decode frames whose checksums fail */
        km_transport transport; /* KM_TRANSPORT_AUTO (0) detects */
        km_hex_mode hex;
        km_decrypt_fn decrypt;  /* NULL: ciphered APDUs are counted as encrypted */
        void *decrypt_userdata;
} km_decoder_options;

typedef struct km_decoder {
        km_decoder_options opt;
        km_stats stats;
        const km_framer_ops *framer; /* NULL while detecting */
        union {
                km_hdlc hdlc;
                km_mbus mbus;
                km_raw raw;
                km_p1 p1;
        } fs;
        km_frame frame; /* the frame behind the current event */
        bool eof;
        bool framer_finished;
        /* hex text */
        bool hex_decided;
        bool hex;
        km_hex hexs;
        uint8_t hex_out[KM_HEX_CHUNK];
        const uint8_t *pend; /* decoded bytes not yet handed on */
        size_t pend_len;
        bool pend_boundary;  /* a record boundary follows them */
        bool boundary_due;   /* tell the framer once it has drained */
        /* detection */
        size_t detect_len;
        size_t detect_unscanned; /* bytes taken since the last scan */
        size_t detect_chunk;     /* bytes taken of the caller's current chunk */
        bool detect_dropped;  /* bytes were dropped from the front: raw no longer possible */
        size_t n_marks;
        size_t marks[KM_DETECT_MARKS]; /* record boundaries in the detection buffer */
        size_t replay_pos;    /* replaying the detection buffer into the framer */
        size_t replay_len;
        size_t replay_mark;
        uint8_t detect[KM_DETECT_BUF];
        /* reassembly, security */
        km_segments segments;
        km_gbt gbt;
        uint8_t plain[KM_APDU_MAX];
        km_reading reading;
} km_decoder;

void km_decoder_init(km_decoder *d, const km_decoder_options *opt);

/* Feeds n bytes and calls cb for every event they complete. */
void km_decoder_feed(km_decoder *d, const uint8_t *data, size_t n, km_event_cb cb, void *userdata);
/* End of input: frames cut short are rejected, buffered bytes examined. */
void km_decoder_end(km_decoder *d, km_event_cb cb, void *userdata);

/* The transport in use: the one chosen, the one detected, or AUTO while
 * still detecting. */
km_transport km_decoder_transport(const km_decoder *d);

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
