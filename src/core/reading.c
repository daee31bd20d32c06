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
