/*
 * The decoder: HDLC frames -> segment reassembly -> APDU -> reading.
 *
 * Every frame the framer yields becomes exactly one event, so a caller that
 * prints events sees each good frame, each segment and each rejected
 * candidate once. One counter has no event of its own: an unfinished
 * segmented APDU dropped because a new APDU began (rejected[SEGMENT]).
 */
#include "kaifa/decoder.h"

#include <string.h>

void km_decoder_init(km_decoder *d, const km_decoder_options *opt)
{
        memset(&d->opt, 0, sizeof(d->opt));
        if (opt)
                d->opt = *opt;
        km_hdlc_init(&d->hdlc);
        d->hdlc.ignore_checksum = d->opt.ignore_checksum;
        memset(&d->stats, 0, sizeof(d->stats));
        d->apdu_len = 0;
        d->assembling = false;
        d->reading.n_values = 0;
        d->reading.n_known = 0;
}

size_t km_decoder_push(km_decoder *d, const uint8_t *data, size_t n)
{
        size_t taken = km_hdlc_push(&d->hdlc, data, n);
        d->stats.bytes_in += taken;
        return taken;
}

void km_decoder_finish(km_decoder *d)
{
        km_hdlc_finish(&d->hdlc);
}

static void count_reject(km_decoder *d, km_status s)
{
        int i = -(int)s;
        if (i > 0 && i < KM_STATUS_COUNT_)
                d->stats.rejected[i]++;
}

static bool append_segment(km_decoder *d, const uint8_t *p, size_t n)
{
        if (n > sizeof(d->apdu) - d->apdu_len)
                return false;
        memcpy(d->apdu + d->apdu_len, p, n);
        d->apdu_len += n;
        return true;
}

/* Drops an APDU being assembled whose remaining segments were lost. */
static void drop_assembly(km_decoder *d)
{
        if (d->assembling) {
                count_reject(d, KM_ERR_SEGMENT);
                d->assembling = false;
        }
}

/* True when an information field opens an APDU: the LLC header, or an APDU
 * tag (for meters that leave the LLC out). A continuation segment starts in
 * the middle of the APDU's data. */
static bool opens_apdu(const uint8_t *p, size_t n)
{
        return km_info_has_llc(p, n) || (n > 0 && (p[0] == 0x0F || p[0] == 0xDB || p[0] == 0xDF));
}

/* A non-final segment: the first one carries the LLC header, which is
 * dropped; the APDU grows until the segment with S = 0 arrives. A
 * continuation with no APDU begun (its start was lost) is rejected. */
static km_status take_segment(km_decoder *d)
{
        const km_hdlc_header *h = &d->out.header;
        const uint8_t *p = h->info;
        size_t n = h->info_len;
        if (d->assembling && km_info_has_llc(p, n))
                drop_assembly(d); /* a new APDU begins: the one being assembled lost its end */
        if (!d->assembling) {
                if (!opens_apdu(p, n))
                        return KM_ERR_SEGMENT;
                d->apdu_len = 0;
                d->assembling = true;
                if (km_info_has_llc(p, n)) {
                        p += 3;
                        n -= 3;
                }
        }
        if (!append_segment(d, p, n)) {
                d->assembling = false;
                return KM_ERR_SEGMENT;
        }
        return KM_OK;
}

static km_status decode_frame(km_decoder *d)
{
        const km_hdlc_header *h = &d->out.header;
        if (d->assembling && km_info_has_llc(h->info, h->info_len))
                drop_assembly(d); /* a whole APDU of its own: the one being assembled lost its end */
        if (!d->assembling)
                return km_info_decode_again(h->info, h->info_len, &d->reading);
        d->assembling = false;
        if (!append_segment(d, h->info, h->info_len))
                return KM_ERR_SEGMENT;
        return km_apdu_decode_again(d->apdu, d->apdu_len, &d->reading);
}

static bool frame_event(km_decoder *d, const km_hdlc_out *out, km_event *ev)
{
        d->stats.frames_good++;
        ev->bytes = out->bytes;
        ev->len = out->len;
        ev->header = &out->header;
        ev->reading = NULL;
        ev->reject = KM_OK;
        km_status s;
        if (out->header.segmented) {
                s = take_segment(d);
                if (s == KM_OK) {
                        d->stats.segments++;
                        ev->kind = KM_EVENT_SEGMENT;
                        return true;
                }
        } else {
                s = decode_frame(d);
                if (s == KM_OK) {
                        d->stats.readings++;
                        ev->kind = KM_EVENT_READING;
                        ev->reading = &d->reading;
                        return true;
                }
        }
        count_reject(d, s);
        ev->kind = KM_EVENT_REJECT;
        ev->reject = s;
        return true;
}

bool km_decoder_next(km_decoder *d, km_event *ev)
{
        km_hdlc_out *out = &d->out;
        km_hdlc_result r = km_hdlc_next(&d->hdlc, out);
        d->stats.bytes_skipped += out->skipped;
        switch (r) {
        case KM_HDLC_FRAME:
                return frame_event(d, out, ev);
        case KM_HDLC_REJECT:
                if (out->header_valid)
                        drop_assembly(d); /* a damaged frame may be a lost segment */
                count_reject(d, out->status);
                ev->kind = KM_EVENT_REJECT;
                ev->reject = out->status;
                ev->bytes = out->bytes;
                ev->len = out->len;
                ev->header = NULL;
                ev->reading = NULL;
                return true;
        default:
                if (d->hdlc.eof)
                        drop_assembly(d); /* input ended before the last segment */
                return false;
        }
}
