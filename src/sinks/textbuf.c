/*
 * The sinks' output buffer and printf-free formatters (see textbuf.h).
 */
#include "sinks/textbuf.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>

bool km_textbuf_reserve(km_textbuf *b, size_t n)
{
        if (b->cap - b->len >= n)
                return true;
        size_t cap = b->cap ? b->cap : 4096;
        while (cap - b->len < n)
                cap *= 2;
        char *p = realloc(b->p, cap);
        if (!p) {
                b->failed = true;
                return false;
        }
        b->p = p;
        b->cap = cap;
        return true;
}

void km_textbuf_free(km_textbuf *b)
{
        free(b->p);
        *b = (km_textbuf){0};
}

void km_textbuf_pad(km_textbuf *b, const char *s, size_t width)
{
        km_textbuf_pad_n(b, s, strlen(s), width);
}

void km_textbuf_pad_n(km_textbuf *b, const char *s, size_t n, size_t width)
{
        size_t total = n < width ? width : n;
        if (!km_textbuf_reserve(b, total))
                return;
        memcpy(b->p + b->len, s, n);
        memset(b->p + b->len + n, ' ', total - n);
        b->len += total;
}

/* "00" "01" ... "99": two digits per step. */
static const char digit_pairs[201] = "00010203040506070809101112131415161718192021222324"
                                     "25262728293031323334353637383940414243444546474849"
                                     "50515253545556575859606162636465666768697071727374"
                                     "75767778798081828384858687888990919293949596979899";

static inline size_t count_digits(uint64_t v)
{
        size_t d = 1;
        for (uint64_t t = 10; d < 20 && v >= t; t *= 10)
                d++;
        return d;
}

/* Decimal digits of v, right-aligned, at least width of them (from the
 * last digit backwards, two at a time). */
static inline size_t put_u64(char *buf, uint64_t v, int width)
{
        size_t d = count_digits(v);
        size_t n = width > 0 && (size_t)width > d ? (size_t)width : d;
        char *p = buf + n;
        *p = '\0';
        while (v >= 100) {
                p -= 2;
                memcpy(p, digit_pairs + 2 * (v % 100), 2);
                v /= 100;
        }
        if (v >= 10) {
                p -= 2;
                memcpy(p, digit_pairs + 2 * v, 2);
        } else {
                *--p = (char)('0' + v);
        }
        while (p > buf)
                *--p = '0';
        return n;
}

size_t km_fmt_i64(char *buf, int64_t v)
{
        if (v >= 0)
                return put_u64(buf, (uint64_t)v, 0);
        buf[0] = '-';
        return 1 + put_u64(buf + 1, 0 - (uint64_t)v, 0);
}

size_t km_fmt_uint_pad(char *buf, unsigned v, int width)
{
        return put_u64(buf, v, width);
}

static const uint64_t pow10_u64[] = {1, 10, 100, 1000, 10000, 100000, 1000000, 10000000, 100000000, 1000000000};

/* Why this equals "%.15g": scale() in the core divides raw by an exact
 * power of ten, which gives the double nearest the decimal raw x 10^scaler;
 * a decimal of at most 15 significant digits survives the trip through the
 * nearest double and back to 15 digits (DBL_DIG), and %g drops trailing
 * zeros and uses the exponent form only below 10^-4 (or at 10^15 and up). */
size_t km_fmt_decimal(char *buf, int64_t raw, int scaler)
{
        if (scaler > -1 || scaler < -9 || raw <= -1000000000000000LL || raw >= 1000000000000000LL)
                return 0;
        unsigned k = (unsigned)-scaler;
        uint64_t mag = raw < 0 ? (uint64_t)-raw : (uint64_t)raw;
        if (mag == 0 || (k > 4 && mag < pow10_u64[k - 4]))
                return 0;
        size_t n = 0;
        if (raw < 0)
                buf[n++] = '-';
        n += put_u64(buf + n, mag / pow10_u64[k], 0);
        uint64_t frac = mag % pow10_u64[k];
        if (frac == 0)
                return n;
        while (frac % 10 == 0) {
                frac /= 10;
                k--;
        }
        buf[n++] = '.';
        n += put_u64(buf + n, frac, (int)k);
        return n;
}

size_t km_fmt_value_g15(char *buf, const km_value *v)
{
        if (v->kind == KM_VALUE_NUMBER) { /* the common cases without a double */
                if (v->scaler == 0 && v->raw > -1000000000000000LL && v->raw < 1000000000000000LL)
                        return km_fmt_i64(buf, v->raw); /* exact as a double, no exponent */
                size_t n = km_fmt_decimal(buf, v->raw, v->scaler);
                if (n)
                        return n;
        }
        double x = km_value_number(v);
        if (isfinite(x) && fabs(x) < 1e15 && x == (double)(int64_t)x)
                return km_fmt_i64(buf, (int64_t)x);
        size_t n = v->kind == KM_VALUE_NUMBER ? km_fmt_decimal(buf, v->raw, v->scaler) : 0;
        if (n)
                return n;
        int r = snprintf(buf, KM_FMT_NUMBER_MAX, "%.15g", x);
        return r > 0 ? (size_t)r : 0;
}

/* Decimal digits of a byte. */
static inline size_t put_u8(char *buf, unsigned v)
{
        if (v >= 100) {
                buf[0] = (char)('0' + v / 100);
                memcpy(buf + 1, digit_pairs + 2 * (v % 100), 2);
                return 3;
        }
        if (v >= 10) {
                memcpy(buf, digit_pairs + 2 * v, 2);
                return 2;
        }
        buf[0] = (char)('0' + v);
        return 1;
}

size_t km_fmt_obis(char *buf, const uint8_t o[6])
{
        static const char sep[6] = {'-', ':', '.', '.', '.', '\0'};
        size_t n = 0;
        for (int i = 0; i < 6; i++) {
                n += put_u8(buf + n, o[i]);
                buf[n++] = sep[i];
        }
        return n - 1;
}

/* "%02u" of a byte */
static inline size_t put_2(char *buf, unsigned v)
{
        if (v < 100) {
                memcpy(buf, digit_pairs + 2 * v, 2);
                return 2;
        }
        return put_u8(buf, v);
}

/* "YYYY-MM-DD" sep "hh:mm:ss" */
static size_t put_date_time(char *buf, const km_datetime *dt, char sep, unsigned second)
{
        size_t n;
        if (dt->year >= 1000 && dt->year < 10000) {
                memcpy(buf, digit_pairs + 2 * (dt->year / 100), 2);
                memcpy(buf + 2, digit_pairs + 2 * (dt->year % 100), 2);
                n = 4;
        } else {
                n = put_u64(buf, dt->year, 4);
        }
        buf[n++] = '-';
        n += put_2(buf + n, dt->month);
        buf[n++] = '-';
        n += put_2(buf + n, dt->day);
        buf[n++] = sep;
        n += put_2(buf + n, dt->hour);
        buf[n++] = ':';
        n += put_2(buf + n, dt->minute);
        buf[n++] = ':';
        n += put_2(buf + n, second);
        buf[n] = '\0';
        return n;
}

size_t km_fmt_iso8601(char *buf, const km_datetime *dt)
{
        return put_date_time(buf, dt, 'T', dt->second == 0xFF ? 0 : dt->second);
}

size_t km_fmt_clock_compat(char *buf, const km_datetime *dt)
{
        size_t n = put_date_time(buf, dt, ' ', dt->second);
        buf[n++] = ',';
        n += put_u64(buf + n, dt->hundredths, 0);
        buf[n++] = ' ';
        buf[n++] = dt->deviation < 0 ? '-' : '+';
        n += put_u64(buf + n, dt->deviation < 0 ? (uint64_t)-(int)dt->deviation : (uint64_t)dt->deviation, 0);
        buf[n++] = ' ';
        buf[n++] = '(';
        bool started = false;
        for (int bit = 7; bit >= 0; bit--) {
                bool set = (dt->status >> bit) & 1;
                if (started || set || bit == 0) {
                        buf[n++] = set ? '1' : '0';
                        started = true;
                }
        }
        buf[n++] = ')';
        buf[n] = '\0';
        return n;
}

size_t km_fmt_hex(char *buf, const uint8_t *p, size_t n)
{
        static const char digits[] = "0123456789abcdef";
        for (size_t i = 0; i < n; i++) {
                buf[2 * i] = digits[p[i] >> 4];
                buf[2 * i + 1] = digits[p[i] & 15];
        }
        buf[2 * n] = '\0';
        return 2 * n;
}
