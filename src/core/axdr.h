/*
 * A-XDR (DLMS "Data") reader: a bounds-checked cursor over a byte buffer.
 *
 * km_axdr_read() reads one item: for a scalar the whole value, for an array
 * or structure only the element count (the elements follow in the stream, so
 * nested data is walked without recursion). km_axdr_skip() skips one whole
 * Data value, nesting bounded by KM_AXDR_MAX_DEPTH.
 */
#ifndef KM_AXDR_H
#define KM_AXDR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "kaifa/status.h"

#define KM_AXDR_MAX_DEPTH 8

enum {
        KM_TAG_NULL = 0x00,
        KM_TAG_ARRAY = 0x01,
        KM_TAG_STRUCTURE = 0x02,
        KM_TAG_BOOLEAN = 0x03,
        KM_TAG_BIT_STRING = 0x04,
        KM_TAG_DOUBLE_LONG = 0x05,
        KM_TAG_DOUBLE_LONG_UNSIGNED = 0x06,
        KM_TAG_OCTET_STRING = 0x09,
        KM_TAG_VISIBLE_STRING = 0x0A,
        KM_TAG_UTF8_STRING = 0x0C,
        KM_TAG_BCD = 0x0D,
        KM_TAG_INTEGER = 0x0F,
        KM_TAG_LONG = 0x10,
        KM_TAG_UNSIGNED = 0x11,
        KM_TAG_LONG_UNSIGNED = 0x12,
        KM_TAG_COMPACT_ARRAY = 0x13,
        KM_TAG_LONG64 = 0x14,
        KM_TAG_LONG64_UNSIGNED = 0x15,
        KM_TAG_ENUM = 0x16,
        KM_TAG_FLOAT32 = 0x17,
        KM_TAG_FLOAT64 = 0x18,
        KM_TAG_DATE_TIME = 0x19,
        KM_TAG_DATE = 0x1A,
        KM_TAG_TIME = 0x1B,
};

typedef struct km_cursor {
        const uint8_t *p;
        size_t n;
        size_t pos;
} km_cursor;

typedef enum km_axdr_class {
        KM_AXDR_CONTAINER, /* array or structure: count */
        KM_AXDR_INTEGER,   /* i */
        KM_AXDR_REAL,      /* f */
        KM_AXDR_BYTES,     /* bytes/len: strings, bit-string, date, time, date-time */
        KM_AXDR_NONE,      /* null-data */
} km_axdr_class;

typedef struct km_axdr_item {
        uint8_t tag;
        km_axdr_class cls;
        uint32_t count;
        int64_t i;
        double f;
        const uint8_t *bytes;
        size_t len;
} km_axdr_item;

static inline void km_cursor_init(km_cursor *c, const uint8_t *p, size_t n)
{
        c->p = p;
        c->n = n;
        c->pos = 0;
}

static inline size_t km_cursor_left(const km_cursor *c)
{
        return c->n - c->pos;
}

/* The common HAN-port types without a detour through the general path. */
static inline __attribute__((always_inline)) bool km_axdr_read_fast(km_cursor *c, km_axdr_item *it)
{
        const uint8_t *p = c->p + c->pos;
        size_t left = c->n - c->pos;
        switch (it->tag) {
        case KM_TAG_DOUBLE_LONG_UNSIGNED:
                if (left < 4)
                        return false;
                it->cls = KM_AXDR_INTEGER;
                it->i = (int64_t)((uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3]);
                c->pos += 4;
                return true;
        case KM_TAG_LONG_UNSIGNED:
                if (left < 2)
                        return false;
                it->cls = KM_AXDR_INTEGER;
                it->i = (int64_t)((uint32_t)p[0] << 8 | p[1]);
                c->pos += 2;
                return true;
        case KM_TAG_LONG:
                if (left < 2)
                        return false;
                it->cls = KM_AXDR_INTEGER;
                it->i = (int16_t)(uint16_t)((uint32_t)p[0] << 8 | p[1]);
                c->pos += 2;
                return true;
        case KM_TAG_INTEGER:
                if (left < 1)
                        return false;
                it->cls = KM_AXDR_INTEGER;
                it->i = (int8_t)p[0];
                c->pos += 1;
                return true;
        case KM_TAG_UNSIGNED:
        case KM_TAG_ENUM:
                if (left < 1)
                        return false;
                it->cls = KM_AXDR_INTEGER;
                it->i = p[0];
                c->pos += 1;
                return true;
        case KM_TAG_OCTET_STRING:
        case KM_TAG_VISIBLE_STRING:
                if (left < 1 || p[0] >= 0x80 || left - 1 < p[0])
                        return false;
                it->cls = KM_AXDR_BYTES;
                it->count = p[0];
                it->len = p[0];
                it->bytes = p + 1;
                c->pos += 1 + (size_t)p[0];
                return true;
        case KM_TAG_STRUCTURE:
        case KM_TAG_ARRAY:
                if (left < 1 || p[0] >= 0x80 || left - 1 < p[0])
                        return false;
                it->cls = KM_AXDR_CONTAINER;
                it->count = p[0];
                c->pos += 1;
                return true;
        default:
                return false;
        }
}

/* The rest of km_axdr_read() for the types read_fast does not handle; the
 * tag has been consumed already. */
km_status km_axdr_read_general(km_cursor *c, km_axdr_item *ret_item);

/* Reads one item (see above). Inline so the common types cost a few
 * instructions at each call site. */
static inline __attribute__((always_inline)) km_status km_axdr_read(km_cursor *c, km_axdr_item *it)
{
        if (c->pos >= c->n)
                return KM_ERR_MALFORMED;
        it->tag = c->p[c->pos++];
        it->len = 0;
        if (km_axdr_read_fast(c, it))
                return KM_OK;
        return km_axdr_read_general(c, it);
}

/* A-XDR length: one byte below 0x80, else 0x8N followed by N big-endian bytes. */
km_status km_axdr_read_length(km_cursor *c, uint32_t *ret_len);
km_status km_axdr_skip(km_cursor *c, unsigned depth);
/* Skips the `count` elements of a container whose header was just read. */
km_status km_axdr_skip_elements(km_cursor *c, uint32_t count, unsigned depth);
/* Reads the next item without consuming it. */
km_status km_axdr_peek(const km_cursor *c, km_axdr_item *ret_item);

#endif
