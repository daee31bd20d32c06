/*
 * Streaming HDLC frame format type 3 framer.
 *
 * Bytes go into a fixed buffer; km_hdlc_next() hunts for a flag followed by a
 * frame format byte 0xA?, reads the 11-bit length, parses the variable-length
 * addresses and checks HCS and FCS (one CRC pass: the FCS continues from the
 * HCS state). Meters do not byte-stuff, so the length field, never the next
 * flag, ends a frame. Any failure resumes the hunt one byte after the opening
 * flag that was tried, so a good frame that starts inside a damaged one is
 * still found (protocol.md section b, step 5).
 */
#include "kaifa/hdlc.h"

#include <string.h>

void km_hdlc_init(km_hdlc *h)
{
        h->view = h->buf;
        h->len = 0;
        h->pos = 0;
        h->external = false;
        h->eof = false;
        h->ignore_checksum = false;
}

/* Moves the unexamined bytes to the start of the own buffer. The caller
 * ensures they fit (at most one frame is ever left over). */
static void keep_rest(km_hdlc *h)
{
        size_t rest = h->len - h->pos;
        if (rest)
                memmove(h->buf, h->view + h->pos, rest);
        h->view = h->buf;
        h->len = rest;
        h->pos = 0;
        h->external = false;
}

size_t km_hdlc_push(km_hdlc *h, const uint8_t *data, size_t n)
{
        if (h->external || n == 0)
                return 0; /* the previous chunk has not been pulled through, or nothing came */
        h->eof = false;
        if (h->pos == h->len) {
                h->view = data; /* nothing buffered: read the chunk in place */
                h->len = n;
                h->pos = 0;
                h->external = true;
                return n;
        }
        if (h->pos > 0)
                keep_rest(h);
        size_t room = sizeof(h->buf) - h->len;
        size_t take = n < room ? n : room;
        if (take)
                memcpy(h->buf + h->len, data, take);
        h->len += take;
        return take;
}

void km_hdlc_finish(km_hdlc *h)
{
        h->eof = true;
}

/* Reads one address field (1..4 bytes, last byte has bit 0 set). Returns its
 * length, 0 when more bytes are needed, -1 when it is longer than 4 bytes. */
static int address_length(const uint8_t *p, size_t avail)
{
        for (size_t i = 0; i < 4; i++) {
                if (i >= avail)
                        return 0;
                if (p[i] & 1)
                        return (int)i + 1;
        }
        return -1;
}

static inline uint16_t le16(const uint8_t *p)
{
        return (uint16_t)(p[0] | (p[1] << 8));
}

typedef enum { PARSE_OK, PARSE_NEED_MORE, PARSE_FAIL } parse_result;

/* Parses the header of a candidate frame fr[0..avail) whose length field says
 * len bytes. On PARSE_FAIL *status says why. *crc_state is the CRC register
 * after the header and HCS (the initial value when there is no HCS), ready to
 * continue over the information field. */
static parse_result parse_header(const uint8_t *fr, size_t avail, size_t len, bool ignore_checksum,
                                 km_hdlc_header *hd, uint16_t *crc_state, km_status *status)
{
        int dl = address_length(fr + 2, avail - 2);
        if (dl == 0)
                return PARSE_NEED_MORE;
        if (dl < 0)
                goto bad_length;
        int sl = address_length(fr + 2 + dl, avail - 2 - (size_t)dl);
        if (sl == 0)
                return PARSE_NEED_MORE;
        if (sl < 0)
                goto bad_length;
        size_t hdr_len = 2 + (size_t)dl + (size_t)sl + 1;
        /* no information field: header + FCS; otherwise header + HCS + info + FCS */
        if (len != hdr_len + 2 && len < hdr_len + 4)
                goto bad_length;
        hd->has_hcs = len != hdr_len + 2;
        size_t need = hd->has_hcs ? hdr_len + 2 : hdr_len;
        if (avail < need)
                return PARSE_NEED_MORE;

        hd->format = (uint16_t)(fr[0] << 8 | fr[1]);
        hd->length = (uint16_t)len;
        hd->segmented = (fr[0] & 0x08) != 0;
        for (int i = 0; i < dl && i < 4; i++) /* 1..4 bytes (the bound tells gcc so): a loop beats memcpy */
                hd->dst[i] = fr[2 + i];
        hd->dst_len = (uint8_t)dl;
        for (int i = 0; i < sl && i < 4; i++)
                hd->src[i] = fr[2 + dl + i];
        hd->src_len = (uint8_t)sl;
        hd->control = fr[hdr_len - 1];
        hd->hcs = 0;
        uint16_t crc = 0xFFFF;
        if (hd->has_hcs) {
                /* header and HCS in one pass: a correct HCS leaves the residue */
                crc = km_crc16_x25_update(crc, fr, hdr_len + 2);
                hd->hcs = le16(fr + hdr_len);
                hd->checksum_ok = crc == KM_CRC16_X25_RESIDUE;
                if (!hd->checksum_ok && !ignore_checksum) {
                        *status = KM_ERR_HCS;
                        return PARSE_FAIL;
                }
                hd->info = fr + hdr_len + 2;
                hd->info_len = len - hdr_len - 4;
        } else {
                hd->checksum_ok = true;
                hd->info = fr + hdr_len;
                hd->info_len = 0;
        }
        *crc_state = crc;
        return PARSE_OK;

bad_length:
        *status = KM_ERR_BAD_LENGTH;
        return PARSE_FAIL;
}

/* The FCS covers everything from the frame format on, HCS included. The
 * register after the header and HCS goes on over the information field and
 * the FCS itself; a correct FCS leaves the residue. (A frame without
 * information field starts from the initial value over header and FCS.) */
static km_status check_fcs(const uint8_t *fr, size_t len, km_hdlc_header *hd, uint16_t crc,
                           bool ignore_checksum)
{
        size_t done = hd->has_hcs ? (size_t)(hd->info - fr) : 0;
        crc = km_crc16_x25_update(crc, fr + done, len - done);
        hd->fcs = le16(fr + len - 2);
        if (crc != KM_CRC16_X25_RESIDUE)
                hd->checksum_ok = false;
        return crc == KM_CRC16_X25_RESIDUE || ignore_checksum ? KM_OK : KM_ERR_FCS;
}

static km_hdlc_result reject(km_hdlc *h, km_hdlc_out *out, size_t flag_pos, km_status status,
                             size_t len)
{
        size_t avail = h->len - flag_pos - 1;
        out->status = status;
        out->bytes = h->view + flag_pos + 1;
        out->len = len < avail ? len : avail;
        h->pos = flag_pos + 1; /* hunt again right after the flag we tried */
        return KM_HDLC_REJECT;
}

/* Advances h->pos to the next flag, counting the bytes passed over. */
static bool seek_flag(km_hdlc *h, km_hdlc_out *out)
{
        if (h->view[h->pos] == KM_HDLC_FLAG)
                return true;
        const uint8_t *f = memchr(h->view + h->pos, KM_HDLC_FLAG, h->len - h->pos);
        size_t fpos = f ? (size_t)(f - h->view) : h->len;
        out->skipped += fpos - h->pos;
        h->pos = fpos;
        return f != NULL;
}

/* No complete result in view: keep what is left of the caller's chunk.
 * That is never more than one frame; should it be, the oldest bytes are
 * passed over rather than overflow the buffer. */
static km_hdlc_result need_more(km_hdlc *h, km_hdlc_out *out)
{
        if (h->external) {
                size_t rest = h->len - h->pos;
                if (rest > sizeof(h->buf)) {
                        out->skipped += rest - sizeof(h->buf);
                        h->pos = h->len - sizeof(h->buf);
                }
                keep_rest(h);
        }
        return KM_HDLC_NEED_MORE;
}

km_hdlc_result km_hdlc_next_into(km_hdlc *h, km_hdlc_out *out, km_hdlc_header *hd)
{
        out->skipped = 0;
        out->header_valid = false;
        for (;;) {
                if (h->pos >= h->len || !seek_flag(h, out))
                        return need_more(h, out);
                size_t fp = h->pos;
                const uint8_t *fr = h->view + fp + 1;
                size_t avail = h->len - fp - 1;
                if (avail == 0) {
                        if (h->eof)
                                h->pos = h->len;
                        return need_more(h, out);
                }
                if (fr[0] == KM_HDLC_FLAG || (fr[0] & 0xF0) != 0xA0) {
                        h->pos = fp + 1; /* repeated flag, or a flag that opens nothing */
                        continue;
                }
                if (avail < 2) {
                        if (!h->eof)
                                return need_more(h, out);
                        return reject(h, out, fp, KM_ERR_TRUNCATED, avail);
                }
                size_t len = (size_t)((fr[0] & 0x07) << 8 | fr[1]);
                if (len < KM_HDLC_MIN_LEN)
                        return reject(h, out, fp, KM_ERR_BAD_LENGTH, 2);

                uint16_t crc = 0;
                km_status status = KM_OK;
                parse_result pr = parse_header(fr, avail < len ? avail : len, len, h->ignore_checksum,
                                               hd, &crc, &status);
                if (pr == PARSE_FAIL)
                        return reject(h, out, fp, status, len);
                if (pr == PARSE_NEED_MORE && avail >= len) /* addresses run past the frame */
                        return reject(h, out, fp, KM_ERR_BAD_LENGTH, len);
                if (pr == PARSE_NEED_MORE || avail < len) {
                        if (!h->eof)
                                return need_more(h, out);
                        return reject(h, out, fp, KM_ERR_TRUNCATED, len);
                }
                out->header_valid = true;
                status = check_fcs(fr, len, hd, crc, h->ignore_checksum);
                if (status != KM_OK)
                        return reject(h, out, fp, status, len);
                hd->closing_flag = avail > len && fr[len] == KM_HDLC_FLAG;
                /* with checksums ignored, a damaged frame must at least end where
                 * its length says, or it would swallow the good frames after it */
                if (!hd->checksum_ok && !hd->closing_flag) {
                        if (avail == len && !h->eof)
                                return need_more(h, out); /* the byte that tells is still to come */
                        if (avail > len)
                                return reject(h, out, fp, KM_ERR_FCS, len);
                }
                out->status = KM_OK;
                out->bytes = fr;
                out->len = len;
                h->pos = fp + 1 + len; /* the closing flag may open the next frame */
                return KM_HDLC_FRAME;
        }
}

km_hdlc_result km_hdlc_next(km_hdlc *h, km_hdlc_out *out)
{
        return km_hdlc_next_into(h, out, &out->header);
}

km_status km_hdlc_parse_frame(const uint8_t *frame, size_t n, bool ignore_checksum, km_hdlc_header *ret)
{
        if (n < KM_HDLC_MIN_LEN || (frame[0] & 0xF0) != 0xA0)
                return KM_ERR_BAD_LENGTH;
        size_t len = (size_t)((frame[0] & 0x07) << 8 | frame[1]);
        if (len < KM_HDLC_MIN_LEN)
                return KM_ERR_BAD_LENGTH;
        if (n < len)
                return KM_ERR_TRUNCATED;
        uint16_t crc = 0;
        km_status status = KM_OK;
        parse_result pr = parse_header(frame, len, len, ignore_checksum, ret, &crc, &status);
        if (pr == PARSE_NEED_MORE) /* the whole frame is there: its addresses run past it */
                return KM_ERR_BAD_LENGTH;
        if (pr == PARSE_FAIL)
                return status;
        ret->closing_flag = n > len && frame[len] == KM_HDLC_FLAG;
        return check_fcs(frame, len, ret, crc, ignore_checksum);
}
