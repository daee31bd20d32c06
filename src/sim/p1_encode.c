/*
 * DSMR 5 P1 telegrams for the simulated meter (see p1_encode.h). The lines
 * and their order follow the DSMR 5.0.2 P1 companion standard's example
 * telegram; the CRC is CRC-16/ARC over '/' .. '!' as the core checks it.
 */
#include "sim/p1_encode.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "kaifa/p1.h"

typedef struct out {
        char *buf;
        size_t size;
        size_t len;
        bool overflow;
} out;

static void put(out *o, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void put(out *o, const char *fmt, ...)
{
        va_list ap;
        va_start(ap, fmt);
        int n = vsnprintf(o->buf + o->len, o->size - o->len, fmt, ap);
        va_end(ap);
        if (n < 0 || (size_t)n >= o->size - o->len) {
                o->overflow = true;
                return;
        }
        o->len += (size_t)n;
}

static void put_time(out *o, const char *code, const km_datetime *dt, bool summer)
{
        put(o, "%s(%02u%02u%02u%02u%02u%02u%c)", code, dt->year % 100u, dt->month, dt->day, dt->hour,
            dt->minute, dt->second, summer ? 'S' : 'W');
}

static void put_hex_text(out *o, const char *code, const char *text)
{
        put(o, "%s(", code);
        for (const char *p = text; *p; p++)
                put(o, "%02X", (unsigned char)*p);
        put(o, ")\r\n");
}

/* Wh as kWh with three decimals, as DSMR sends energies. */
static void put_kwh(out *o, const char *code, uint64_t wh)
{
        put(o, "%s(%06" PRIu64 ".%03" PRIu64 "*kWh)\r\n", code, wh / 1000, wh % 1000);
}

static void put_kw(out *o, const char *code, uint32_t w)
{
        put(o, "%s(%02" PRIu32 ".%03" PRIu32 "*kW)\r\n", code, w / 1000, w % 1000);
}

int km_p1_sim_encode(const km_p1_sim_values *v, char *buf, size_t size)
{
        if (!v->meter_id || (v->phases != 1 && v->phases != 3) || (v->tariff != 1 && v->tariff != 2))
                return -EINVAL;
        out o = {.buf = buf, .size = size};
        if (size == 0)
                return -ENOBUFS;
        put(&o, "/KFM5KAIFA-METER\r\n\r\n");
        put(&o, "1-3:0.2.8(50)\r\n");
        put_time(&o, "0-0:1.0.0", &v->clock, v->summer);
        put(&o, "\r\n");
        put_hex_text(&o, "0-0:96.1.1", v->meter_id);
        put_kwh(&o, "1-0:1.8.1", v->import_wh[0]);
        put_kwh(&o, "1-0:1.8.2", v->import_wh[1]);
        put_kwh(&o, "1-0:2.8.1", v->export_wh[0]);
        put_kwh(&o, "1-0:2.8.2", v->export_wh[1]);
        put(&o, "0-0:96.14.0(%04d)\r\n", v->tariff);
        put_kw(&o, "1-0:1.7.0", v->p_import);
        put_kw(&o, "1-0:2.7.0", v->p_export);
        put(&o, "0-0:96.7.21(00003)\r\n0-0:96.7.9(00001)\r\n");
        put(&o, "1-0:99.97.0(1)(0-0:96.7.19)(200101120000W)(0000000240*s)\r\n");
        put(&o, "0-0:96.13.0()\r\n");
        static const char *const volt[] = {"1-0:32.7.0", "1-0:52.7.0", "1-0:72.7.0"};
        static const char *const amp[] = {"1-0:31.7.0", "1-0:51.7.0", "1-0:71.7.0"};
        static const char *const pw[] = {"1-0:21.7.0", "1-0:41.7.0", "1-0:61.7.0"};
        for (int i = 0; i < v->phases; i++)
                put(&o, "%s(%03" PRIu32 ".%" PRIu32 "*V)\r\n", volt[i], v->voltage[i] / 10, v->voltage[i] % 10);
        for (int i = 0; i < v->phases; i++)
                put(&o, "%s(%03" PRIu32 "*A)\r\n", amp[i], (v->current[i] + 500) / 1000);
        for (int i = 0; i < v->phases; i++)
                put_kw(&o, pw[i], v->power_l[i]);
        if (v->gas_id) {
                put(&o, "0-1:24.1.0(003)\r\n");
                put_hex_text(&o, "0-1:96.1.0", v->gas_id);
                put_time(&o, "0-1:24.2.1", &v->gas_time, v->summer);
                put(&o, "(%05" PRIu64 ".%03" PRIu64 "*m3)\r\n", v->gas_litres / 1000, v->gas_litres % 1000);
        }
        put(&o, "!");
        if (o.overflow)
                return -ENOBUFS;
        uint16_t crc = km_crc16_arc((const uint8_t *)buf, o.len);
        put(&o, "%04X\r\n", crc);
        return o.overflow ? -ENOBUFS : (int)o.len;
}
