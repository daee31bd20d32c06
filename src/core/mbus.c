/*
 * Streaming wired M-Bus long-frame framer.
 *
 * Hunts for 68 L L 68, then trusts the checksum rather than the length
 * alone: L counts the user data modulo 256 on Sagemcom T210-D meters (a
 * first frame headed 68 01 01 68 carries 257 bytes), so a frame whose
 * checksum fails at L is tried again at L + 256. Any failure resumes the
 * hunt one byte after the start byte that was tried. Bytes are copied into
 * a fixed buffer: M-Bus runs at 2400 baud, so a copy costs nothing.
 */
#include "kaifa/mbus.h"

#include <string.h>

#include "copy_buffer.h"

#include "kaifa/frame.h"

void km_mbus_init(km_mbus *m, bool ignore_checksum)
{
        m->len = 0;
        m->pos = 0;
        m->eof = false;
        m->ignore_checksum = ignore_checksum;
}

size_t km_mbus_push(km_mbus *m, const uint8_t *data, size_t n)
{
        if (n == 0)
                return 0;
        m->eof = false;
        return km_copy_buffer_take(m->buf, sizeof(m->buf), &m->len, &m->pos, data, n);
}

void km_mbus_finish(km_mbus *m)
{
        m->eof = true;
}

static bool checksum_ok(const uint8_t *p, size_t l)
{
        uint8_t sum = 0;
        for (size_t i = 0; i < l; i++)
                sum = (uint8_t)(sum + p[4 + i]);
        return sum == p[4 + l];
}

/* Checks the frame at p as having l user-data bytes; avail >= l + 6. */
static km_status check_frame(const uint8_t *p, size_t l, bool ignore_checksum)
{
        if (p[l + 5] != KM_MBUS_STOP)
                return KM_ERR_BAD_LENGTH;
        if (!checksum_ok(p, l) && !ignore_checksum)
                return KM_ERR_CHECKSUM;
        return KM_OK;
}

static void fill_header(const uint8_t *p, size_t l, km_mbus_header *h)
{
        h->length = (uint16_t)l;
        h->length_wrapped = l != p[1];
        h->c = p[4];
        h->a = p[5];
        h->ci = p[6];
        h->stsap = l >= 5 ? p[7] : 0;
        h->dtsap = l >= 5 ? p[8] : 0;
        h->checksum = p[4 + l];
}

/* The lengths a frame with this L byte may have, in the order to try. */
static size_t candidate_lengths(uint8_t l_byte, size_t ret[2])
{
        size_t n = 0;
        if (l_byte >= 3)
                ret[n++] = l_byte;
        ret[n++] = (size_t)l_byte + 256;
        return n;
}

typedef enum { TRY_FRAME, TRY_NEED_MORE, TRY_FAIL } try_result;

static try_result try_at(const uint8_t *p, size_t avail, bool eof, bool ignore_checksum, size_t *ret_l,
                         km_status *ret_status)
{
        size_t lens[2];
        size_t n = candidate_lengths(p[1], lens);
        *ret_status = KM_ERR_BAD_LENGTH;
        for (size_t i = 0; i < n; i++) {
                if (avail < lens[i] + 6) {
                        if (!eof)
                                return TRY_NEED_MORE;
                        if (*ret_status == KM_ERR_BAD_LENGTH)
                                *ret_status = KM_ERR_TRUNCATED;
                        return TRY_FAIL;
                }
                km_status s = check_frame(p, lens[i], ignore_checksum);
                if (s == KM_OK) {
                        *ret_l = lens[i];
                        return TRY_FRAME;
                }
                if (s == KM_ERR_CHECKSUM || *ret_status == KM_ERR_BAD_LENGTH)
                        *ret_status = s;
        }
        return TRY_FAIL;
}

/* Where the payload (the APDU part) starts: after C A CI, and after the two
 * transport SAPs when CI is a DLMS segmentation header. */
static void set_segmentation(km_frame *f, const uint8_t *p, size_t l)
{
        const km_mbus_header *h = &f->link.mbus;
        bool dlms = (h->ci & 0xE0) == 0 && l >= 5;
        size_t head = dlms ? 5 : 3;
        f->payload = p + 4 + head;
        f->payload_len = l - head;
        f->has_sequence = dlms;
        f->sequence = (uint8_t)(h->ci & 0x0F);
        f->more = dlms && !(h->ci & 0x10);
        f->opens = !dlms || f->sequence == 0;
}

int km_mbus_next(km_mbus *m, km_frame *f)
{
        f->skipped = 0;
        f->header_valid = false;
        for (;;) {
                const uint8_t *start = memchr(m->buf + m->pos, KM_MBUS_START, m->len - m->pos);
                size_t sp = start ? (size_t)(start - m->buf) : m->len;
                f->skipped += sp - m->pos;
                m->pos = sp;
                if (!start)
                        return KM_FRAME_NEED_MORE;
                const uint8_t *p = m->buf + sp;
                size_t avail = m->len - sp;
                if (avail < 4) {
                        if (m->eof) {
                                f->skipped += avail;
                                m->pos = m->len;
                        }
                        return KM_FRAME_NEED_MORE;
                }
                if (p[1] != p[2] || p[3] != KM_MBUS_START) {
                        m->pos++;
                        f->skipped++;
                        continue;
                }
                size_t l = 0;
                km_status status;
                try_result tr = try_at(p, avail, m->eof, m->ignore_checksum, &l, &status);
                if (tr == TRY_NEED_MORE) {
                        return KM_FRAME_NEED_MORE;
                }
                f->transport = KM_TRANSPORT_MBUS;
                f->payload_kind = KM_PAYLOAD_APDU;
                f->bytes = p;
                if (tr == TRY_FAIL) {
                        f->status = status;
                        f->len = 4; /* the start of the candidate; its length is unknown */
                        f->payload = NULL;
                        f->payload_len = 0;
                        m->pos = sp + 1;
                        return KM_FRAME_REJECT;
                }
                fill_header(p, l, &f->link.mbus);
                f->header_valid = true;
                f->status = KM_OK;
                f->len = l + 6;
                set_segmentation(f, p, l);
                m->pos = sp + l + 6;
                return KM_FRAME_GOOD;
        }
}

km_status km_mbus_parse_frame(const uint8_t *p, size_t n, bool ignore_checksum, km_mbus_header *ret, size_t *ret_len)
{
        if (n < 4 || p[0] != KM_MBUS_START || p[1] != p[2] || p[3] != KM_MBUS_START)
                return KM_ERR_BAD_LENGTH;
        size_t l = 0;
        km_status status;
        if (try_at(p, n, true, ignore_checksum, &l, &status) != TRY_FRAME)
                return status;
        fill_header(p, l, ret);
        *ret_len = l + 6;
        return KM_OK;
}
