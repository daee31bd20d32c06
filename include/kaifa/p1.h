/*
 * DSMR / P1 telegrams (IEC 62056-21 mode D style ASCII, protocol.md
 * section g): a streaming framer and a parser into the reading model.
 *
 * The framer is modelled on the HDLC framer (km_hdlc): bytes are pushed in
 * any chunk size, results are pulled out one at a time. A telegram runs from
 * '/' to '!' and the CRC digits after it; the CRC-16/ARC over '/'..'!' is
 * checked when present (DSMR 4 and later). DSMR 2.2/3 telegrams end at '!'
 * with no CRC and are accepted; so is a CRC of fewer than four digits (some
 * meters do not pad it). A '/' inside a telegram means the telegram was cut:
 * it is rejected as truncated and the '/' opens the next one. A '/' not
 * followed by a three-letter maker flag, or a candidate holding bytes that
 * are not text, is passed over as skipped bytes (binary data, noise, a 7E1
 * line read as 8N1), and '!' ends a telegram only at the start of a line.
 *
 * The parser reads one telegram (from the framer, or from decrypted GCM
 * content) into a km_reading: one value per object line, kW/kvar shown as
 * W/var through the scaler, kWh as sent, texts sent hex-encoded decoded for
 * display (the raw form stays recoverable, see km_value_text_raw()).
 */
#ifndef KAIFA_P1_H
#define KAIFA_P1_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "kaifa/frame.h"
#include "kaifa/reading.h"
#include "kaifa/status.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Longest telegram kept, '/' through the CRC digits. The longest telegram in
 * the captures is 1,059 bytes (Fluvius, two M-Bus devices); protocol.md asks
 * for 4 KiB; a DSMR 5 text message alone may be 2,048 hex digits. */
#define KM_P1_MAX 8192
/* Digits of the CRC after '!' (upper-case hex; fewer when not padded). */
#define KM_P1_CRC_DIGITS 4

typedef enum km_p1_verdict {
        KM_P1_GOOD = 0,    /* CRC right, or no CRC sent (DSMR 2.2/3), or CRC ignored */
        KM_P1_BAD_CRC,     /* the CRC sent is not the CRC of the telegram */
        KM_P1_TRUNCATED,   /* cut: a new '/' or the end of input came before '!' */
        KM_P1_TOO_LONG,    /* no '!' within KM_P1_MAX bytes */
} km_p1_verdict;

typedef enum km_p1_result {
        KM_P1_NEED_MORE = 0,
        KM_P1_TELEGRAM,    /* a good telegram */
        KM_P1_REJECT,      /* a telegram that is not to be used (verdict says why) */
} km_p1_result;

typedef struct km_p1_out {
        km_p1_verdict verdict;
        km_status status;     /* the verdict as a library status: KM_OK, KM_ERR_FCS,
                               * KM_ERR_TRUNCATED, KM_ERR_BAD_LENGTH */
        const char *text;     /* '/' .. '!' and the CRC digits, without line end */
        size_t len;
        size_t crc_len;       /* bytes the CRC covers: '/' .. '!' inclusive (0 when cut) */
        bool has_crc;         /* digits followed '!' */
        uint16_t crc;         /* CRC as sent */
        uint16_t crc_calc;    /* CRC-16/ARC of text[0..crc_len) */
        size_t skipped;       /* bytes passed over before this result (not CR/LF) */
} km_p1_out;

typedef enum km_p1_state {
        KM_P1_HUNT = 0,       /* looking for '/' */
        KM_P1_BODY,           /* inside a telegram, before '!' */
        KM_P1_CRC,            /* after '!', reading the CRC digits */
} km_p1_state;

typedef struct km_p1 {
        km_p1_state state;
        bool eof;
        bool ignore_crc;      /* debugging: accept telegrams whose CRC fails */
        bool pending;         /* out holds a result not yet pulled */
        km_p1_out out;
        size_t skipped;       /* bytes passed over since the last result */
        size_t len;           /* bytes in buf */
        unsigned crc_digits;
        uint16_t crc;
        char buf[KM_P1_MAX];
} km_p1;

void km_p1_init(km_p1 *p);
/* Takes bytes until a result is ready; returns how many were taken (0 while
 * a result waits to be pulled). */
size_t km_p1_push(km_p1 *p, const uint8_t *data, size_t n);
/* End of input: a telegram in progress is completed (after '!') or rejected
 * as truncated by the next km_p1_next(). */
void km_p1_finish(km_p1 *p);
/* Pulls the next result. Bytes passed over are reported in ret->skipped,
 * also with KM_P1_NEED_MORE. ret->text stays valid until the next push. */
km_p1_result km_p1_next(km_p1 *p, km_p1_out *ret);

/* Checks one whole telegram given as text ('/' .. '!' [CRC] [line end]):
 * its end ('!' at the start of a line) and CRC as the framer finds them.
 * (The framer's other rules, maker flag and printable text, are not
 * applied.) Returns the verdict; fills ret (may be NULL). */
km_p1_verdict km_p1_check(const char *telegram, size_t n, km_p1_out *ret);

/* The library status for a verdict. */
km_status km_p1_verdict_status(km_p1_verdict v);
/* Short name: "ok", "bad_crc", "truncated", "too_long". */
const char *km_p1_verdict_name(km_p1_verdict v);

/* CRC-16/ARC: reflected polynomial 0xA001, initial value 0, no final XOR
 * (check value 0xBB3D over "123456789"). */
uint16_t km_crc16_arc(const uint8_t *data, size_t n);

/* Parses one telegram into ret: maker and list name from the identification
 * line, one value per object (see p1.c for the forms read). Lines that do
 * not parse are counted in ret->n_unparsed and skipped. Returns KM_OK, or
 * KM_ERR_MALFORMED when the text is not a telegram (no leading '/', or no
 * line parsed at all). */
km_status km_p1_parse(const char *telegram, size_t n, km_reading *ret);

/* The P1 framer as the decoder's pipeline drives it (km_framer_get(
 * KM_TRANSPORT_P1)): frames carry the telegram as KM_PAYLOAD_TEXT. */
extern const km_framer_ops km_p1_framer_ops;

/* km_p1_parse() for the decoder: telegrams from the P1 framer and decrypted
 * GCM content that starts with '/'. The reading holds an earlier frame
 * decoded by the decoder (or has n_known = 0): table look-ups of the codes
 * it already holds are skipped, as km_apdu_decode_again() does. */
km_status km_p1_decode_text(const uint8_t *text, size_t n, km_reading *ret_reading);

/* Maker name for a three-letter P1 / FLAG identifier ("KFM" -> "Kaifa"),
 * case-insensitive; NULL when unknown. */
const char *km_p1_maker(const char flag[3]);

#ifdef __cplusplus
}
#endif

#endif
