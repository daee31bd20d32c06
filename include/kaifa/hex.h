/*
 * Hex text: a capture pasted from a forum post or another tool's log ("7E A0
 * 2A 41 ...", "0x7e,0xa0", "7e:a0:2a", one frame or APDU per line or one
 * long dump) read as the bytes it spells. A line end after some digits is a
 * record boundary (the end of one frame or APDU).
 */
#ifndef KAIFA_HEX_H
#define KAIFA_HEX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct km_hex {
        uint8_t high;     /* first digit of a byte, when half */
        bool half;
        bool line_digits; /* the current line has digits */
        bool zero_x;      /* the last digit was a lone 0 that an x may turn into "0x" */
} km_hex;

/* The value of one hex digit (either case), or -1. */
int km_hex_digit(int c);

void km_hex_init(km_hex *h);

/* Decodes text into out; stops after a line end that closes a line with
 * digits (*ret_boundary = true) or when out is full. Returns the text bytes
 * consumed; *ret_out the bytes written. Characters that are neither digits
 * nor separators are skipped (they break a byte in half). */
size_t km_hex_decode(km_hex *h, const uint8_t *text, size_t n, uint8_t *out, size_t out_size, size_t *ret_out,
                     bool *ret_boundary);

/* True when text looks like a hex dump: only digits, spaces, line ends and
 * the separators , : - x, with at least min_digits digits. */
bool km_hex_sniff(const uint8_t *text, size_t n, size_t min_digits);

#ifdef __cplusplus
}
#endif

#endif
