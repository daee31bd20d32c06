/*
 * DLMS APDU entry points: the LLC header, the data-notification header
 * (tag 0x0F, long-invoke-id-and-priority, optional date-time) and the body.
 *
 * Three date-time encodings occur after the invoke id (protocol.md section c):
 * 00 (none), 0C + 12 bytes, and 09 0C + 12 bytes. All are accepted.
 */
#include "kaifa/decoder.h"
#include "lists.h"

#define TAG_DATA_NOTIFICATION 0x0F
#define TAG_GENERAL_GLO_CIPHERING 0xDB
#define TAG_GENERAL_DED_CIPHERING 0xDC /* 0xDF is general-signing, not a cipher */

static void reading_reset(km_reading *r)
{
        r->list_name = NULL;
        r->maker = NULL;
        r->family = NULL;
        r->invoke_id = 0;
        r->has_clock = false;
        r->n_values = 0;
        r->n_dropped = 0;
        r->n_unparsed = 0;
}

static km_status read_header_clock(km_cursor *c, km_reading *r)
{
        if (km_cursor_left(c) < 1)
                return KM_ERR_MALFORMED;
        if (c->p[c->pos] == KM_TAG_OCTET_STRING)
                c->pos++;
        uint32_t len;
        km_status s = km_axdr_read_length(c, &len);
        if (s != KM_OK)
                return s;
        if (len > km_cursor_left(c))
                return KM_ERR_MALFORMED;
        if (len == 12) {
                km_datetime_parse(c->p + c->pos, &r->clock);
                r->has_clock = true;
        }
        c->pos += len;
        return KM_OK;
}

km_status km_apdu_decode(const uint8_t *apdu, size_t n, km_reading *r)
{
        r->n_known = 0; /* r may be new: nothing in it can be trusted */
        return km_apdu_decode_again(apdu, n, r);
}

km_status km_apdu_decode_again(const uint8_t *apdu, size_t n, km_reading *r)
{
        reading_reset(r);
        if (n == 0)
                return KM_ERR_EMPTY;
        if (apdu[0] == TAG_GENERAL_GLO_CIPHERING || apdu[0] == TAG_GENERAL_DED_CIPHERING)
                return KM_ERR_ENCRYPTED;
        if (apdu[0] != TAG_DATA_NOTIFICATION)
                return KM_ERR_NOT_NOTIFICATION;
        if (n < 6)
                return KM_ERR_MALFORMED;
        r->invoke_id = (uint32_t)apdu[1] << 24 | (uint32_t)apdu[2] << 16 | (uint32_t)apdu[3] << 8 | apdu[4];
        km_cursor c;
        km_cursor_init(&c, apdu, n);
        c.pos = 5;
        km_status s = read_header_clock(&c, r);
        if (s != KM_OK)
                return s;
        s = km_list_decode(&c, r);
        if (s != KM_OK)
                reading_reset(r);
        return s;
}

bool km_info_has_llc(const uint8_t *info, size_t n)
{
        return n >= 3 && info[0] == 0xE6 && (info[1] == 0xE7 || info[1] == 0xE6) && info[2] == 0x00;
}

km_status km_info_decode(const uint8_t *info, size_t n, km_reading *r)
{
        r->n_known = 0;
        return km_info_decode_again(info, n, r);
}

km_status km_info_decode_again(const uint8_t *info, size_t n, km_reading *r)
{
        if (n == 0) {
                reading_reset(r);
                return KM_ERR_EMPTY;
        }
        if (km_info_has_llc(info, n))
                return km_apdu_decode_again(info + 3, n - 3, r);
        if (info[0] == TAG_DATA_NOTIFICATION || info[0] == TAG_GENERAL_GLO_CIPHERING ||
            info[0] == TAG_GENERAL_DED_CIPHERING)
                return km_apdu_decode_again(info, n, r);
        reading_reset(r);
        return KM_ERR_NOT_DLMS;
}
