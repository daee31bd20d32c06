/*
 * A-XDR reader. Every read is checked against the end of the buffer before
 * it happens; a value that would run past it is KM_ERR_MALFORMED.
 */
#include "axdr.h"

#include <string.h>

static inline bool have(const km_cursor *c, size_t n)
{
        return c->n - c->pos >= n;
}

static uint64_t be_uint(const uint8_t *p, size_t n)
{
        uint64_t v = 0;
        for (size_t i = 0; i < n; i++)
                v = v << 8 | p[i];
        return v;
}

km_status km_axdr_read_length(km_cursor *c, uint32_t *ret)
{
        if (!have(c, 1))
                return KM_ERR_MALFORMED;
        uint8_t b = c->p[c->pos++];
        if (b < 0x80) {
                *ret = b;
                return KM_OK;
        }
        size_t nb = b & 0x7F;
        if (nb == 0 || nb > 4 || !have(c, nb))
                return KM_ERR_MALFORMED;
        uint64_t v = be_uint(c->p + c->pos, nb);
        c->pos += nb;
        if (v > UINT32_MAX)
                return KM_ERR_MALFORMED;
        *ret = (uint32_t)v;
        return KM_OK;
}

/* Size in bytes of the fixed-size types; 0 for the others. */
static size_t fixed_size(uint8_t tag)
{
        switch (tag) {
        case KM_TAG_BOOLEAN:
        case KM_TAG_BCD:
        case KM_TAG_INTEGER:
        case KM_TAG_UNSIGNED:
        case KM_TAG_ENUM:
                return 1;
        case KM_TAG_LONG:
        case KM_TAG_LONG_UNSIGNED:
                return 2;
        case KM_TAG_DOUBLE_LONG:
        case KM_TAG_DOUBLE_LONG_UNSIGNED:
        case KM_TAG_FLOAT32:
        case KM_TAG_TIME:
                return 4;
        case KM_TAG_DATE:
                return 5;
        case KM_TAG_LONG64:
        case KM_TAG_LONG64_UNSIGNED:
        case KM_TAG_FLOAT64:
                return 8;
        case KM_TAG_DATE_TIME:
                return 12;
        default:
                return 0;
        }
}

static uint64_t be_fixed(const uint8_t *p, size_t n)
{
        switch (n) {
        case 1:
                return p[0];
        case 2:
                return (uint64_t)p[0] << 8 | p[1];
        case 4:
                return (uint64_t)p[0] << 24 | (uint64_t)p[1] << 16 | (uint64_t)p[2] << 8 | p[3];
        default:
                return be_uint(p, n);
        }
}

static void read_integer(km_axdr_item *it, const uint8_t *p, size_t n)
{
        uint64_t u = be_fixed(p, n);
        switch (it->tag) {
        case KM_TAG_INTEGER:
                it->i = (int8_t)u;
                break;
        case KM_TAG_LONG:
                it->i = (int16_t)u;
                break;
        case KM_TAG_DOUBLE_LONG:
                it->i = (int32_t)u;
                break;
        case KM_TAG_LONG64:
                it->i = (int64_t)u;
                break;
        case KM_TAG_LONG64_UNSIGNED:
                it->i = u > INT64_MAX ? INT64_MAX : (int64_t)u;
                break;
        default: /* unsigned types of up to 4 bytes, boolean, bcd, enum */
                it->i = (int64_t)u;
                break;
        }
}

static void read_real(km_axdr_item *it, const uint8_t *p)
{
        if (it->tag == KM_TAG_FLOAT32) {
                uint32_t u = (uint32_t)be_uint(p, 4);
                float f;
                memcpy(&f, &u, sizeof(f));
                it->f = f;
        } else {
                uint64_t u = be_uint(p, 8);
                double d;
                memcpy(&d, &u, sizeof(d));
                it->f = d;
        }
}

static km_status read_variable(km_cursor *c, km_axdr_item *it)
{
        uint32_t n;
        km_status s = km_axdr_read_length(c, &n);
        if (s != KM_OK)
                return s;
        if (it->tag == KM_TAG_ARRAY || it->tag == KM_TAG_STRUCTURE) {
                /* every element takes at least one byte: a larger count is a lie */
                if (n > km_cursor_left(c))
                        return KM_ERR_MALFORMED;
                it->cls = KM_AXDR_CONTAINER;
                it->count = n;
                return KM_OK;
        }
        size_t bytes = it->tag == KM_TAG_BIT_STRING ? (size_t)(((uint64_t)n + 7) / 8) : n;
        if (!have(c, bytes))
                return KM_ERR_MALFORMED;
        it->cls = KM_AXDR_BYTES;
        it->count = n;
        it->bytes = c->p + c->pos;
        it->len = bytes;
        c->pos += bytes;
        return KM_OK;
}

km_status km_axdr_read_general(km_cursor *c, km_axdr_item *it)
{
        it->count = 0;
        it->i = 0;
        it->f = 0;
        it->bytes = NULL;
        switch (it->tag) {
        case KM_TAG_NULL:
                it->cls = KM_AXDR_NONE;
                return KM_OK;
        case KM_TAG_ARRAY:
        case KM_TAG_STRUCTURE:
        case KM_TAG_BIT_STRING:
        case KM_TAG_OCTET_STRING:
        case KM_TAG_VISIBLE_STRING:
        case KM_TAG_UTF8_STRING:
                return read_variable(c, it);
        default:
                break;
        }
        size_t n = fixed_size(it->tag);
        if (n == 0 || !have(c, n))
                return KM_ERR_MALFORMED; /* unknown tag (compact-array included) or short */
        const uint8_t *p = c->p + c->pos;
        c->pos += n;
        if (it->tag == KM_TAG_FLOAT32 || it->tag == KM_TAG_FLOAT64) {
                it->cls = KM_AXDR_REAL;
                read_real(it, p);
        } else if (it->tag == KM_TAG_DATE_TIME || it->tag == KM_TAG_DATE || it->tag == KM_TAG_TIME) {
                it->cls = KM_AXDR_BYTES;
                it->bytes = p;
                it->len = n;
        } else {
                it->cls = KM_AXDR_INTEGER;
                read_integer(it, p, n);
        }
        return KM_OK;
}

km_status km_axdr_peek(const km_cursor *c, km_axdr_item *it)
{
        km_cursor copy = *c;
        return km_axdr_read(&copy, it);
}

km_status km_axdr_skip(km_cursor *c, unsigned depth)
{
        if (depth >= KM_AXDR_MAX_DEPTH)
                return KM_ERR_TOO_DEEP;
        km_axdr_item it;
        km_status s = km_axdr_read(c, &it);
        if (s != KM_OK || it.cls != KM_AXDR_CONTAINER)
                return s;
        return km_axdr_skip_elements(c, it.count, depth + 1);
}

km_status km_axdr_skip_elements(km_cursor *c, uint32_t count, unsigned depth)
{
        for (uint32_t i = 0; i < count; i++) {
                km_status s = km_axdr_skip(c, depth);
                if (s != KM_OK)
                        return s;
        }
        return KM_OK;
}
