/*
 * Value naming and formatting for the MQTT topics. The meaning of a value
 * (name, unit, classes) comes from the OBIS table through v->info and
 * km_unit_display(); nothing here knows a particular code.
 */
#include "daemon/values.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

const char *km_value_key(const km_value *v, char *buf, size_t size)
{
        if (v->info && v->info->name)
                snprintf(buf, size, "%s", v->info->name);
        else
                km_obis_format(v->obis, buf, size);
        return buf;
}

const char *km_decimal_format(long long raw, int exp, char *buf, size_t size)
{
        char digits[48];
        bool neg = raw < 0;
        unsigned long long mag = neg ? 0ULL - (unsigned long long)raw : (unsigned long long)raw;
        snprintf(digits, sizeof(digits), "%llu", mag);
        if (exp >= 0) {
                if (mag == 0 || exp > 18)
                        exp = mag == 0 ? 0 : exp;
                snprintf(buf, size, "%s%s%.*s", neg ? "-" : "", digits, exp, "000000000000000000000000");
                return buf;
        }
        int frac = -exp;
        size_t len = strlen(digits);
        char whole[48], part[48];
        if ((size_t)frac >= len) {
                snprintf(whole, sizeof(whole), "0");
                snprintf(part, sizeof(part), "%.*s%s", (int)((size_t)frac - len), "000000000000000000000000",
                         digits);
        } else {
                snprintf(whole, sizeof(whole), "%.*s", (int)(len - (size_t)frac), digits);
                snprintf(part, sizeof(part), "%s", digits + len - (size_t)frac);
        }
        size_t plen = strlen(part);
        while (plen > 0 && part[plen - 1] == '0')
                part[--plen] = '\0';
        if (mag == 0)
                neg = false;
        if (plen)
                snprintf(buf, size, "%s%s.%s", neg ? "-" : "", whole, part);
        else
                snprintf(buf, size, "%s%s", neg ? "-" : "", whole);
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
                double d = v->real;
                for (int i = 0; i < -exp; i++)
                        d /= 10.0;
                snprintf(buf, size, "%.10g", d);
                numeric = true;
                break;
        }
        case KM_VALUE_DATETIME:
                km_datetime_iso8601(&v->datetime, buf, size);
                break;
        case KM_VALUE_TEXT:
        default:
                snprintf(buf, size, "%s", v->text);
                break;
        }
        if (ret_numeric)
                *ret_numeric = numeric;
        return buf;
}
