/*
 * A growable output buffer and the formatters the text sinks use instead of
 * printf: the JSON and terminal sinks build a frame's text in a km_textbuf
 * that is reused from frame to frame (it grows a few times at the start,
 * then never allocates again), and write it out in large pieces.
 *
 * Each formatter prints exactly what the printf format named in its comment
 * prints (tests/unit/test_sinks.c compares them over many values).
 */
#ifndef KM_SINK_TEXTBUF_H
#define KM_SINK_TEXTBUF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "kaifa/reading.h"

typedef struct km_textbuf {
        char *p;
        size_t len, cap;
        bool failed; /* an allocation failed: the text is incomplete */
} km_textbuf;

/* Makes room for n more bytes; false (and failed set) when out of memory. */
bool km_textbuf_reserve(km_textbuf *b, size_t n);
void km_textbuf_free(km_textbuf *b);

static inline void km_textbuf_put(km_textbuf *b, const void *s, size_t n)
{
        if (b->cap - b->len < n && !km_textbuf_reserve(b, n))
                return;
        memcpy(b->p + b->len, s, n);
        b->len += n;
}

static inline void km_textbuf_puts(km_textbuf *b, const char *s)
{
        km_textbuf_put(b, s, strlen(s));
}

static inline void km_textbuf_putc(km_textbuf *b, char c)
{
        if (b->cap == b->len && !km_textbuf_reserve(b, 1))
                return;
        b->p[b->len++] = c;
}

/* snprintf(dst, size, "%s", src) without printf's cost (it shows in the
 * daemon's instructions per frame): copies what fits, NUL-terminates, and
 * returns the length copied. */
static inline size_t km_copy_str(char *dst, size_t size, const char *src)
{
        if (size == 0)
                return 0;
        size_t n = strnlen(src, size - 1);
        memcpy(dst, src, n);
        dst[n] = '\0';
        return n;
}

/* s, then spaces up to width: "%-*s". */
void km_textbuf_pad(km_textbuf *b, const char *s, size_t width);
/* The same for the n bytes at s. */
void km_textbuf_pad_n(km_textbuf *b, const char *s, size_t n, size_t width);

/* Formatters into buf; each returns the length written (buf is NUL-terminated). */
#define KM_FMT_NUMBER_MAX 40
/* "%" PRId64 */
size_t km_fmt_i64(char *buf, int64_t v);
/* "%0*u" with width 0..5 */
size_t km_fmt_uint_pad(char *buf, unsigned v, int width);
/* "%.15g" of raw x 10^scaler (the double km_value_number() computes), for
 * the cases where that is the plain decimal: a scaler of -9..-1, |raw| <
 * 10^15 and a value of at least 10^-4. Returns 0 in every other case (the
 * caller then uses snprintf). */
size_t km_fmt_decimal(char *buf, int64_t raw, int scaler);
/* "%.15g" of a NUMBER or FLOAT value's km_value_number(); "nan", "inf" as printf. */
size_t km_fmt_value_g15(char *buf, const km_value *v);
/* km_obis_format(): "%u-%u:%u.%u.%u.%u" (buf of KM_OBIS_STR_MAX) */
size_t km_fmt_obis(char *buf, const uint8_t obis[6]);
/* km_datetime_iso8601(): "%04u-%02u-%02uT%02u:%02u:%02u" (KM_DATETIME_STR_MAX) */
size_t km_fmt_iso8601(char *buf, const km_datetime *dt);
/* The original tool's clock text "2017-01-18 15:00:00,255 -32768 (0)":
 * "%04u-%02u-%02u %02u:%02u:%02u,%u %+d (%s)" with the status bits in binary. */
#define KM_FMT_CLOCK_MAX 64
size_t km_fmt_clock_compat(char *buf, const km_datetime *dt);
/* "%02x" of each byte */
size_t km_fmt_hex(char *buf, const uint8_t *p, size_t n);

#endif
