/*
 * Kaifa KFM_001 frame encoder: see kfm_encode.h. The layout follows
 * protocol.md sections (b), (c) and (d) and the worked examples H1-H3; every
 * number goes out as double-long-unsigned (tag 06), like the real meters.
 */
#include "sim/kfm_encode.h"

#include <errno.h>
#include <stdbool.h>
#include <string.h>
#include <time.h>

#include "kaifa/hdlc.h"

/* A bounded byte writer; overflow is remembered and checked once at the end. */
typedef struct writer {
        uint8_t *buf;
        size_t size;
        size_t len;
        bool overflow;
} writer;

static void put(writer *w, uint8_t b)
{
        if (w->len < w->size)
                w->buf[w->len] = b;
        else
                w->overflow = true;
        w->len++;
}

static void put_u16(writer *w, uint16_t v)
{
        put(w, (uint8_t)(v >> 8));
        put(w, (uint8_t)v);
}

static void put_u32(writer *w, uint32_t v)
{
        put_u16(w, (uint16_t)(v >> 16));
        put_u16(w, (uint16_t)v);
}

static void put_number(writer *w, uint32_t v)
{
        put(w, 0x06); /* double-long-unsigned */
        put_u32(w, v);
}

static void put_octets(writer *w, const char *s)
{
        size_t n = strlen(s);
        put(w, 0x09);
        put(w, (uint8_t)n);
        for (size_t i = 0; i < n; i++)
                put(w, (uint8_t)s[i]);
}

static void put_datetime(writer *w, const km_datetime *dt)
{
        put(w, 0x09);
        put(w, 12);
        put_u16(w, dt->year);
        put(w, dt->month);
        put(w, dt->day);
        put(w, dt->weekday);
        put(w, dt->hour);
        put(w, dt->minute);
        put(w, dt->second);
        put(w, dt->hundredths);
        put_u16(w, (uint16_t)dt->deviation);
        put(w, dt->status);
}

/* CRC-16/X.25 of bytes [from, len) of the frame, appended low byte first. */
static void put_crc(writer *w, size_t from)
{
        uint16_t crc = w->overflow ? 0 : km_crc16_x25(w->buf + from, w->len - from);
        put(w, (uint8_t)crc);
        put(w, (uint8_t)(crc >> 8));
}

int km_kfm_item_count(int list, int phases)
{
        if (phases != 1 && phases != 3)
                return 0;
        switch (list) {
        case 1:
                return 1;
        case 2:
                return phases == 3 ? 13 : 9;
        case 3:
                return phases == 3 ? 18 : 14;
        default:
                return 0;
        }
}

void km_kfm_datetime(int year, int month, int day, int hour, int minute, int second,
                     km_datetime *ret_dt)
{
        struct tm tm = {.tm_year = year - 1900, .tm_mon = month - 1, .tm_mday = day,
                        .tm_hour = hour, .tm_min = minute, .tm_sec = second};
        time_t t = timegm(&tm);
        struct tm norm;
        gmtime_r(&t, &norm);
        *ret_dt = (km_datetime){
                .year = (uint16_t)(norm.tm_year + 1900),
                .month = (uint8_t)(norm.tm_mon + 1),
                .day = (uint8_t)norm.tm_mday,
                .weekday = (uint8_t)(norm.tm_wday == 0 ? 7 : norm.tm_wday),
                .hour = (uint8_t)norm.tm_hour,
                .minute = (uint8_t)norm.tm_min,
                .second = (uint8_t)norm.tm_sec,
                .hundredths = 0xFF,
                .deviation = KM_DEVIATION_UNSPECIFIED,
                .status = 0,
        };
}

static void put_body(writer *w, const km_kfm_values *v, int items)
{
        put(w, 0x02); /* structure */
        put(w, (uint8_t)items);
        if (v->list == 1) {
                put_number(w, v->p_import);
                return;
        }
        int n = v->phases == 3 ? 3 : 1;
        put_octets(w, v->obis_version);
        put_octets(w, v->meter_id);
        put_octets(w, v->meter_type);
        put_number(w, v->p_import);
        put_number(w, v->p_export);
        put_number(w, v->q_import);
        put_number(w, v->q_export);
        for (int i = 0; i < n; i++)
                put_number(w, v->current[i]);
        for (int i = 0; i < n; i++)
                put_number(w, v->voltage[i]);
        if (v->list == 3) {
                put_datetime(w, &v->meter_clock);
                for (int i = 0; i < 4; i++)
                        put_number(w, v->energy[i]);
        }
}

static bool texts_valid(const km_kfm_values *v)
{
        if (v->list == 1)
                return true;
        const char *t[] = {v->obis_version, v->meter_id, v->meter_type};
        for (size_t i = 0; i < 3; i++)
                if (!t[i] || strlen(t[i]) > 127)
                        return false;
        return true;
}

int km_kfm_encode(const km_kfm_values *v, uint8_t *buf, size_t size)
{
        int items = km_kfm_item_count(v->list, v->phases);
        if (items == 0 || !texts_valid(v))
                return -EINVAL;

        writer w = {.buf = buf, .size = size};
        put(&w, KM_HDLC_FLAG);
        put_u16(&w, 0xA000); /* format type 3, length patched below */
        put(&w, 0x01);       /* client address */
        put(&w, 0x02);       /* server address, 2 bytes */
        put(&w, 0x01);
        put(&w, 0x10);       /* control, as Kaifa sends it */
        size_t hcs_at = w.len;
        put_u16(&w, 0);      /* HCS, patched below */
        put(&w, 0xE6);       /* LLC */
        put(&w, 0xE7);
        put(&w, 0x00);
        put(&w, 0x0F);       /* data-notification */
        put_u32(&w, 0x40000000);
        put_datetime(&w, &v->clock);
        put_body(&w, v, items);

        /* frame length: from the format field to the FCS, both included */
        size_t length = w.len - 1 + 2;
        if (w.overflow || length > KM_HDLC_MAX_LEN || w.len + 3 > size)
                return -ENOBUFS;
        buf[1] = (uint8_t)(0xA0 | (length >> 8));
        buf[2] = (uint8_t)length;
        uint16_t hcs = km_crc16_x25(buf + 1, hcs_at - 1);
        buf[hcs_at] = (uint8_t)hcs;
        buf[hcs_at + 1] = (uint8_t)(hcs >> 8);
        put_crc(&w, 1);
        put(&w, KM_HDLC_FLAG);
        return w.overflow ? -ENOBUFS : (int)w.len;
}
