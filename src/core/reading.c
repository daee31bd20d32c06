/*
 * Small helpers over the reading model.
 */
#include "kaifa/reading.h"

#include <stdio.h>
#include <string.h>

static const double pow10_table[] = {1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9};

/* Dividing by a power of ten (not multiplying by 0.001) gives the double
 * nearest the decimal value, so 1616 x 10^-3 prints as 1.616. */
static double scale(double x, int e)
{
        if (e >= 0)
                return e < 10 ? x * pow10_table[e] : x * 1e10 * scale(1, e - 10);
        return -e < 10 ? x / pow10_table[-e] : scale(x / 1e10, e + 10);
}

double km_scale10(double x, int exponent)
{
        return scale(x, exponent);
}

double km_value_number(const km_value *v)
{
        if (v->kind == KM_VALUE_FLOAT)
                return scale(v->real, v->scaler);
        return scale((double)v->raw, v->scaler);
}

void km_value_power_in_watts(km_value *v)
{
        int e;
        km_unit u = km_unit_display(v->unit, &e);
        if (e > 0 && (v->kind == KM_VALUE_NUMBER || v->kind == KM_VALUE_FLOAT)) {
                v->unit = u; /* kW, kvar, kVA: the only units shown with a positive exponent */
                v->scaler = (int8_t)(v->scaler + e);
        }
}

const km_value *km_reading_find(const km_reading *r, const char *name)
{
        for (size_t i = 0; i < r->n_values; i++)
                if (r->values[i].info && strcmp(r->values[i].info->name, name) == 0)
                        return &r->values[i];
        return NULL;
}

const char *km_reading_text(const km_reading *r, const char *name)
{
        const km_value *v = km_reading_find(r, name);
        return v && v->kind == KM_VALUE_TEXT ? v->text : NULL;
}

const char *km_obis_format(const uint8_t o[6], char *buf, size_t size)
{
        snprintf(buf, size, "%u-%u:%u.%u.%u.%u", o[0], o[1], o[2], o[3], o[4], o[5]);
        return buf;
}

const char *km_datetime_iso8601(const km_datetime *dt, char *buf, size_t size)
{
        unsigned sec = dt->second == 0xFF ? 0 : dt->second;
        snprintf(buf, size, "%04u-%02u-%02uT%02u:%02u:%02u", dt->year, dt->month, dt->day, dt->hour,
                 dt->minute, sec);
        return buf;
}

/* Length of the UTF-8 sequence starting with b, 0 when b cannot start one. */
static size_t utf8_length(uint8_t b)
{
        if (b < 0x80)
                return 1;
        if (b >= 0xC2 && b <= 0xDF)
                return 2;
        if (b >= 0xE0 && b <= 0xEF)
                return 3;
        if (b >= 0xF0 && b <= 0xF4)
                return 4;
        return 0;
}

bool km_text_is_clean(const char *text, size_t n)
{
        const uint8_t *p = (const uint8_t *)text;
        for (size_t i = 0; i < n;) {
                size_t len = utf8_length(p[i]);
                if (len == 0 || len > n - i)
                        return false;
                if (len == 1 && (p[i] < 0x20 || p[i] == 0x7F))
                        return false;
                for (size_t k = 1; k < len; k++)
                        if ((p[i + k] & 0xC0) != 0x80)
                                return false;
                /* overlong 3/4-byte forms and surrogates */
                if ((p[i] == 0xE0 && p[i + 1] < 0xA0) || (p[i] == 0xED && p[i + 1] >= 0xA0) ||
                    (p[i] == 0xF0 && p[i + 1] < 0x90) || (p[i] == 0xF4 && p[i + 1] >= 0x90))
                        return false;
                i += len;
        }
        return true;
}

const char *km_value_text_show(const km_value *v, char *buf, size_t size)
{
        if (size == 0)
                return buf;
        if (km_text_is_clean(v->text, v->text_len)) {
                snprintf(buf, size, "%s", v->text);
                return buf;
        }
        size_t o = 0;
        buf[0] = '\0';
        for (size_t i = 0; i < v->text_len && o + 4 <= size; i++)
                o += (size_t)snprintf(buf + o, size - o, i ? " %02x" : "%02x", (uint8_t)v->text[i]);
        return buf;
}

const char *km_value_text_raw(const km_value *v, char *buf, size_t size)
{
        static const char digits[] = "0123456789ABCDEF";
        if (size == 0)
                return buf;
        if (!v->text_hex) {
                snprintf(buf, size, "%s", v->text);
                return buf;
        }
        size_t o = 0;
        for (size_t i = 0; i < v->text_len && o + 3 <= size; i++) {
                uint8_t b = (uint8_t)v->text[i];
                buf[o++] = digits[b >> 4];
                buf[o++] = digits[b & 15];
        }
        buf[o] = '\0';
        return buf;
}
