/*
 * Value naming and formatting for the MQTT topics. The meaning of a value
 * (name, unit, classes) comes from the OBIS table through v->info and
 * km_unit_display(); nothing here knows a particular code.
 */
#include "daemon/values.h"

#include "sinks/textbuf.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

const char *km_value_key(const km_value *v, char *buf, size_t size)
{
        if (v->info && v->info->name)
                km_copy_str(buf, size, v->info->name);
        else
                km_obis_format(v->obis, buf, size);
        return buf;
}

const char *km_decimal_format(long long raw, int exp, char *buf, size_t size)
{
        /* digits of |raw|, then the decimal point placed by exp, all in one
         * scratch buffer: no float, so 801652 x 10^-3 is exactly "801.652" */
        char out[96];
        size_t n = 0;
        bool neg = raw < 0;
        char signed_digits[KM_FMT_NUMBER_MAX];
        int len = (int)km_fmt_i64(signed_digits, (int64_t)raw) - neg;
        const char *digits = signed_digits + neg; /* |raw| */
        if (raw == 0) {
                neg = false;
                exp = 0;
        }
        if (exp > 24)
                exp = 24;
        if (exp < -24)
                exp = -24;
        if (neg)
                out[n++] = '-';
        if (exp >= 0) {
                memcpy(out + n, digits, (size_t)len);
                n += (size_t)len;
                for (int i = 0; i < exp; i++)
                        out[n++] = '0';
        } else {
                int frac = -exp;
                int whole = len - frac;
                if (whole <= 0) {
                        out[n++] = '0';
                } else {
                        memcpy(out + n, digits, (size_t)whole);
                        n += (size_t)whole;
                }
                size_t point = n;
                out[n++] = '.';
                for (int i = whole; i < 0; i++)
                        out[n++] = '0';
                int from = whole > 0 ? whole : 0;
                memcpy(out + n, digits + from, (size_t)(len - from));
                n += (size_t)(len - from);
                while (n > point + 1 && out[n - 1] == '0')
                        n--; /* trailing zeros */
                if (n == point + 1)
                        n = point; /* and a lone point */
        }
        out[n] = '\0';
        km_copy_str(buf, size, out);
        return buf;
}

const char *km_value_unit(const km_value *v)
{
        int exp;
        return km_unit_symbol(km_unit_display(v->unit, &exp));
}

const char *km_value_payload(const km_value *v, char *buf, size_t size, bool *ret_numeric)
{
        int exp = 0;
        bool numeric = false;
        switch (v->kind) {
        case KM_VALUE_NUMBER:
                km_unit_display(v->unit, &exp);
                km_decimal_format((long long)v->raw, v->scaler + exp, buf, size);
                numeric = true;
                break;
        case KM_VALUE_FLOAT: {
                km_unit_display(v->unit, &exp);
                double d = km_scale10(km_value_number(v), exp); /* the value's scaler, then kilo */
                snprintf(buf, size, "%.10g", d);
                numeric = true;
                break;
        }
        case KM_VALUE_DATETIME:
                km_datetime_iso8601(&v->datetime, buf, size);
                break;
        case KM_VALUE_TEXT:
        default:
                km_value_text_show(v, buf, size); /* hex when not printable UTF-8 */
                break;
        }
        if (ret_numeric)
                *ret_numeric = numeric;
        return buf;
}
