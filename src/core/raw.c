/*
 * Raw DLMS framer (see kaifa/raw.h): finds where each APDU ends from its own
 * encoding. There is no checksum, so an APDU counts as a frame only when its
 * encoding holds together to its last byte; the APDU stage then decodes it
 * completely or rejects it.
 */
#include "kaifa/raw.h"

#include <string.h>

#include "copy_buffer.h"

#include "axdr.h"
#include "kaifa/frame.h"

#define TAG_DATA_NOTIFICATION 0x0F
#define TAG_GENERAL_GLO_CIPHERING 0xDB
#define TAG_GENERAL_DED_CIPHERING 0xDC
#define TAG_GENERAL_BLOCK_TRANSFER 0xE0

static bool has_llc(const uint8_t *p, size_t n)
{
        return n >= 3 && p[0] == 0xE6 && (p[1] == 0xE7 || p[1] == 0xE6) && p[2] == 0x00;
}

/* A notification: tag, invoke id (4), date-time (00 | 0C+12 | 09 0C+12), one Data value. */
static km_status notification_length(const uint8_t *p, size_t n, size_t *ret)
{
        km_cursor c;
        km_cursor_init(&c, p, n);
        if (n < 6)
                return KM_ERR_TRUNCATED;
        c.pos = 5;
        if (p[c.pos] == KM_TAG_OCTET_STRING)
                c.pos++;
        uint32_t dl;
        if (km_axdr_read_length(&c, &dl) != KM_OK)
                return KM_ERR_TRUNCATED;
        if (dl != 0 && dl != 12)
                return KM_ERR_MALFORMED;
        if (dl > km_cursor_left(&c))
                return KM_ERR_TRUNCATED;
        c.pos += dl;
        if (km_cursor_left(&c) == 0)
                return KM_ERR_TRUNCATED;
        /* The body runs past the bytes at hand or is malformed: only more
         * bytes (or the end of the record) tell which. */
        if (km_axdr_skip(&c, 0) != KM_OK)
                return KM_ERR_TRUNCATED;
        *ret = c.pos;
        return KM_OK;
}

/* An APDU whose length is stated after a fixed head of `head` bytes. */
static km_status stated_length(const uint8_t *p, size_t n, size_t head, size_t *ret)
{
        if (n <= head)
                return KM_ERR_TRUNCATED;
        km_cursor c;
        km_cursor_init(&c, p, n);
        c.pos = head;
        uint32_t len;
        if (km_axdr_read_length(&c, &len) != KM_OK)
                return n - head > 5 ? KM_ERR_MALFORMED : KM_ERR_TRUNCATED;
        if (len > KM_RAW_MAX)
                return KM_ERR_MALFORMED;
        if (len > km_cursor_left(&c))
                return KM_ERR_TRUNCATED;
        *ret = c.pos + len;
        return KM_OK;
}

km_status km_raw_apdu_length(const uint8_t *p, size_t n, size_t *ret)
{
        size_t llc = has_llc(p, n) ? 3 : 0;
        if (n <= llc)
                return n == 0 || llc || (n < 3 && p[0] == 0xE6) ? KM_ERR_TRUNCATED : KM_ERR_NOT_DLMS;
        const uint8_t *a = p + llc;
        size_t an = n - llc;
        size_t len = 0;
        km_status s;
        switch (a[0]) {
        case TAG_DATA_NOTIFICATION:
                s = notification_length(a, an, &len);
                break;
        case TAG_GENERAL_GLO_CIPHERING:
        case TAG_GENERAL_DED_CIPHERING:
                if (an < 2)
                        return KM_ERR_TRUNCATED;
                if (a[1] == 0 || a[1] > 16)
                        return KM_ERR_MALFORMED;
                s = stated_length(a, an, 2 + (size_t)a[1], &len);
                break;
        case TAG_GENERAL_BLOCK_TRANSFER:
                s = stated_length(a, an, 6, &len);
                break;
        default:
                return KM_ERR_NOT_DLMS;
        }
        if (s == KM_OK)
                *ret = llc + len;
        return s;
}

void km_raw_init(km_raw *r, bool ignore_checksum)
{
        (void)ignore_checksum;
        r->len = 0;
        r->pos = 0;
        r->eof = false;
        r->record_start = true;
        r->cut = false;
}

size_t km_raw_push(km_raw *r, const uint8_t *data, size_t n)
{
        if (n == 0)
                return 0;
        r->eof = false;
        return km_copy_buffer_take(r->buf, sizeof(r->buf), &r->len, &r->pos, data, n);
}

void km_raw_finish(km_raw *r)
{
        r->eof = true;
}

void km_raw_boundary(km_raw *r)
{
        if (r->pos < r->len)
                r->cut = true;
        else
                r->record_start = true;
}

/* Moves pos to the next LLC header, counting the bytes passed over. */
static bool seek_llc(km_raw *r, km_frame *f)
{
        for (size_t i = r->pos; i + 3 <= r->len; i++) {
                if (has_llc(r->buf + i, r->len - i)) {
                        f->skipped += i - r->pos;
                        r->pos = i;
                        return true;
                }
        }
        /* keep a possible start of an LLC header at the end */
        size_t keep = r->len - r->pos < 2 ? r->len - r->pos : 2;
        f->skipped += r->len - r->pos - keep;
        r->pos = r->len - keep;
        return false;
}

static int reject(km_raw *r, km_frame *f, km_status s, size_t len)
{
        f->status = s;
        f->bytes = r->buf + r->pos;
        f->len = len;
        f->payload = NULL;
        f->payload_len = 0;
        r->pos += len ? len : 1;
        r->record_start = false;
        return KM_FRAME_REJECT;
}

/* Everything before a record boundary that did not make an APDU. */
static int cut_record(km_raw *r, km_frame *f)
{
        r->cut = false;
        size_t rest = r->len - r->pos;
        bool opened = r->record_start || has_llc(r->buf + r->pos, rest);
        int res = KM_FRAME_NEED_MORE;
        if (opened && rest) {
                res = reject(r, f, KM_ERR_TRUNCATED, rest);
        } else {
                f->skipped += rest;
        }
        r->pos = r->len;
        r->record_start = true;
        return res;
}

int km_raw_next(km_raw *r, km_frame *f)
{
        f->skipped = 0;
        f->header_valid = false;
        f->transport = KM_TRANSPORT_RAW;
        f->payload_kind = KM_PAYLOAD_APDU;
        for (;;) {
                if (r->pos >= r->len) {
                        if (r->cut) {
                                r->cut = false;
                                r->record_start = true;
                        }
                        return KM_FRAME_NEED_MORE;
                }
                if (!r->record_start && !seek_llc(r, f)) {
                        if (r->cut || r->eof)
                                return cut_record(r, f);
                        return KM_FRAME_NEED_MORE;
                }
                size_t avail = r->len - r->pos;
                size_t len = 0;
                km_status s = km_raw_apdu_length(r->buf + r->pos, avail, &len);
                if (s == KM_ERR_TRUNCATED) {
                        if (r->cut || r->eof || avail == sizeof(r->buf))
                                return cut_record(r, f);
                        return KM_FRAME_NEED_MORE;
                }
                if (s == KM_ERR_NOT_DLMS) {
                        if (!r->record_start) { /* an LLC header with no APDU after it */
                                r->pos++;
                                f->skipped++;
                        }
                        r->record_start = false; /* garbage: hunt for an LLC header */
                        continue;
                }
                if (s != KM_OK)
                        return reject(r, f, s, 1);
                f->status = KM_OK;
                f->bytes = r->buf + r->pos;
                f->len = len;
                f->payload = f->bytes;
                f->payload_len = len;
                f->more = false;
                f->opens = true;
                f->has_sequence = false;
                f->sequence = 0;
                r->pos += len;
                r->record_start = true; /* APDUs may follow each other back to back */
                return KM_FRAME_GOOD;
        }
}
