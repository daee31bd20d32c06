/*
 * Hex text decoding (see kaifa/hex.h).
 */
#include "kaifa/hex.h"

int km_hex_digit(int c)
{
        if (c >= '0' && c <= '9')
                return c - '0';
        if (c >= 'a' && c <= 'f')
                return c - 'a' + 10;
        if (c >= 'A' && c <= 'F')
                return c - 'A' + 10;
        return -1;
}

static bool is_separator(uint8_t c)
{
        return c == ' ' || c == '\t' || c == '\r' || c == ',' || c == ':' || c == '-' || c == ';';
}

void km_hex_init(km_hex *h)
{
        h->high = 0;
        h->half = false;
        h->line_digits = false;
        h->zero_x = false;
}

size_t km_hex_decode(km_hex *h, const uint8_t *text, size_t n, uint8_t *out, size_t out_size, size_t *ret_out,
                     bool *ret_boundary)
{
        size_t i = 0, o = 0;
        *ret_boundary = false;
        while (i < n) {
                uint8_t c = text[i];
                int v = km_hex_digit(c);
                if (v >= 0) {
                        if (!h->half) {
                                h->high = (uint8_t)v;
                                h->half = true;
                                h->zero_x = v == 0;
                        } else {
                                if (o == out_size)
                                        break;
                                out[o++] = (uint8_t)(h->high << 4 | v);
                                h->half = false;
                                h->zero_x = false;
                        }
                        h->line_digits = true;
                        i++;
                        continue;
                }
                i++;
                if ((c == 'x' || c == 'X') && h->half && h->zero_x) {
                        h->half = false; /* "0x" prefix */
                        h->zero_x = false;
                        continue;
                }
                h->half = false; /* a lone digit is no byte */
                h->zero_x = false;
                if (c == '\n') {
                        bool had = h->line_digits;
                        h->line_digits = false;
                        if (had) {
                                *ret_boundary = true;
                                break;
                        }
                }
                (void)is_separator;
        }
        *ret_out = o;
        return i;
}

bool km_hex_sniff(const uint8_t *text, size_t n, size_t min_digits)
{
        size_t digits = 0;
        for (size_t i = 0; i < n; i++) {
                uint8_t c = text[i];
                if (km_hex_digit(c) >= 0)
                        digits++;
                else if (!is_separator(c) && c != '\n' && c != 'x' && c != 'X')
                        return false;
        }
        return digits >= min_digits;
}
