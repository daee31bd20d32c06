/*
 * The decoder: the pipeline that joins the stages (see kaifa/decoder.h).
 *
 * Input flows through up to three places, in this order, and the decoder
 * takes no new bytes from the caller before what it holds has moved on:
 *   1. hex text decoding (when the input is a hex dump) into hex_out;
 *   2. the detection buffer, while no transport is locked;
 *   3. the framer of the locked transport.
 * Every frame the framer yields becomes exactly one event, so a caller that
 * prints events sees each good frame, each segment and each rejected
 * candidate once. One counter has no event of its own: an unfinished APDU
 * dropped because its end was lost (rejected[SEGMENT], rejected[BLOCK]).
 */
#include "kaifa/decoder.h"
#include "kaifa/security.h"

#include <string.h>

#define TAG_DATA_NOTIFICATION 0x0F
#define TAG_GENERAL_GLO_CIPHERING 0xDB
#define TAG_GENERAL_DED_CIPHERING 0xDC
#define TAG_GENERAL_BLOCK_TRANSFER 0xE0
/* Hex is decided from the first bytes: this many, or all of a shorter input. */
#define HEX_SNIFF 64
#define HEX_MIN_DIGITS 8
/* A caller's chunk of at least this many bytes is scanned when it ends. */
#define KM_DETECT_CHUNK_SCAN 16

/* The framers tried by detection, in order; raw APDUs are handled apart. */
static const km_transport detect_order[] = {KM_TRANSPORT_HDLC, KM_TRANSPORT_MBUS, KM_TRANSPORT_P1};

static void count_reject(km_decoder *d, km_status s)
{
        int i = -(int)s;
        if (i > 0 && i < KM_STATUS_COUNT_)
                d->stats.rejected[i]++;
}

static void lock_framer(km_decoder *d, const km_framer_ops *ops)
{
        d->framer = ops;
        ops->init(&d->fs, d->opt.ignore_checksum);
        d->framer_finished = false;
}

void km_decoder_init(km_decoder *d, const km_decoder_options *opt)
{
        memset(&d->opt, 0, sizeof(d->opt));
        if (opt)
                d->opt = *opt;
        memset(&d->stats, 0, sizeof(d->stats));
        d->framer = NULL;
        d->eof = false;
        d->framer_finished = false;
        d->hex_decided = d->opt.hex != KM_HEX_AUTO;
        d->hex = d->opt.hex == KM_HEX_YES;
        km_hex_init(&d->hexs);
        d->pend = NULL;
        d->pend_len = 0;
        d->pend_boundary = false;
        d->boundary_due = false;
        d->detect_len = 0;
        d->detect_unscanned = 0;
        d->detect_chunk = 0;
        d->detect_dropped = false;
        d->n_marks = 0;
        d->replay_pos = d->replay_len = 0;
        d->replay_mark = 0;
        km_segments_init(&d->segments);
        km_gbt_init(&d->gbt);
        d->reading.n_values = 0;
        d->reading.n_known = 0;
        const km_framer_ops *ops = km_framer_get(d->opt.transport);
        if (ops)
                lock_framer(d, ops);
}

km_transport km_decoder_transport(const km_decoder *d)
{
        return d->framer ? d->framer->transport : KM_TRANSPORT_AUTO;
}

/* ---- detection ---------------------------------------------------------- */

/* A good frame, or a frame whose header passed its own checksum (an HDLC
 * HCS: some captures were written with every FCS wrong), shows the
 * transport. The values still come only from frames whose checksums pass. */
static bool frame_shows_transport(km_frame_result r, const km_frame *f)
{
        return r == KM_FRAME_GOOD || (r == KM_FRAME_REJECT && f->header_valid);
}

/* Runs a framer over the detection buffer; true when it finds a good frame. */
static bool framer_finds_frame(km_decoder *d, const km_framer_ops *ops)
{
        ops->init(&d->fs, false); /* only a checksum that passes tells the transport */
        size_t off = 0;
        km_frame f;
        for (;;) {
                km_frame_result r;
                while ((r = ops->next(&d->fs, &f)) != KM_FRAME_NEED_MORE)
                        if (frame_shows_transport(r, &f))
                                return true;
                if (off == d->detect_len) {
                        if (!d->eof)
                                return false;
                        ops->finish(&d->fs);
                        while ((r = ops->next(&d->fs, &f)) != KM_FRAME_NEED_MORE)
                                if (frame_shows_transport(r, &f))
                                        return true;
                        return false;
                }
                off += ops->push(&d->fs, d->detect + off, d->detect_len - off);
        }
}

/* A raw APDU at the very start of the input, parsed to its end and followed
 * by the end of input, a record boundary or another whole APDU. */
static bool raw_at_start(const km_decoder *d)
{
        if (d->detect_dropped || d->detect_len == 0)
                return false;
        size_t len;
        if (km_raw_apdu_length(d->detect, d->detect_len, &len) != KM_OK)
                return false;
        if (len == d->detect_len)
                return d->eof || (d->n_marks > 0 && d->marks[0] == len);
        if (d->n_marks > 0 && d->marks[0] == len)
                return true;
        size_t next;
        return km_raw_apdu_length(d->detect + len, d->detect_len - len, &next) == KM_OK;
}

static void start_replay(km_decoder *d)
{
        d->replay_pos = 0;
        d->replay_len = d->detect_len;
        d->replay_mark = 0;
}

/* Drops the older half of a full detection buffer that holds no frame. */
static void drop_detect_half(km_decoder *d)
{
        size_t half = d->detect_len / 2;
        memmove(d->detect, d->detect + half, d->detect_len - half);
        d->detect_len -= half;
        d->stats.bytes_skipped += half;
        d->detect_dropped = true;
        size_t k = 0;
        for (size_t i = 0; i < d->n_marks; i++)
                if (d->marks[i] > half)
                        d->marks[k++] = d->marks[i] - half;
        d->n_marks = k;
}

/* Turns the hex text in the detection buffer into the bytes it spells. */
static void decode_detect_as_hex(km_decoder *d)
{
        size_t in = 0, out = 0;
        d->n_marks = 0;
        while (in < d->detect_len) {
                size_t wrote;
                bool boundary;
                in += km_hex_decode(&d->hexs, d->detect + in, d->detect_len - in, d->detect + out, in - out,
                                    &wrote, &boundary);
                out += wrote;
                if (boundary && d->n_marks < KM_DETECT_MARKS)
                        d->marks[d->n_marks++] = out;
        }
        d->detect_len = out;
}

static void decide_hex(km_decoder *d)
{
        if (d->hex_decided)
                return;
        size_t n = d->detect_len < HEX_SNIFF ? d->detect_len : HEX_SNIFF;
        if (n < HEX_SNIFF && !d->eof && km_hex_sniff(d->detect, n, 0))
                return; /* hex so far: wait for more before deciding */
        d->hex_decided = true;
        d->hex = km_hex_sniff(d->detect, n, n < HEX_MIN_DIGITS ? n : HEX_MIN_DIGITS) && n > 0;
        if (d->hex)
                decode_detect_as_hex(d);
}

/* Looks for a transport in the detection buffer; locks onto it and starts
 * replaying the buffer through its framer. */
static void detect_scan(km_decoder *d)
{
        d->detect_unscanned = 0;
        decide_hex(d);
        if (!d->hex_decided)
                return;
        for (size_t i = 0; i < sizeof(detect_order) / sizeof(detect_order[0]); i++) {
                const km_framer_ops *ops = km_framer_get(detect_order[i]);
                if (ops && framer_finds_frame(d, ops)) {
                        lock_framer(d, ops);
                        start_replay(d);
                        return;
                }
        }
        if (raw_at_start(d)) {
                lock_framer(d, km_framer_get(KM_TRANSPORT_RAW));
                start_replay(d);
                return;
        }
        if (d->detect_len == sizeof(d->detect))
                drop_detect_half(d);
}

/* Takes bytes into the detection buffer, up to the next scan point so that
 * scans happen at the same places however the input is chunked; and scans
 * at the end of a caller's chunk of some size, so that a live source that
 * sent one short frame and paused is not kept waiting. */
static size_t detect_take(km_decoder *d, const uint8_t *p, size_t n, bool chunk_end)
{
        size_t next_scan = (d->detect_len / KM_DETECT_STEP + 1) * KM_DETECT_STEP;
        if (next_scan > sizeof(d->detect))
                next_scan = sizeof(d->detect);
        size_t take = next_scan - d->detect_len;
        if (take > n)
                take = n;
        memcpy(d->detect + d->detect_len, p, take);
        d->detect_len += take;
        d->detect_unscanned += take;
        d->detect_chunk += take;
        /* the end of a chunk of some size, or of chunks that brought enough
         * since the last scan: a whole frame may end here (single bytes
         * are not scanned each) */
        bool at_end = chunk_end && take == n;
        if (d->detect_len == next_scan ||
            (at_end && (d->detect_chunk >= KM_DETECT_CHUNK_SCAN || d->detect_unscanned >= KM_DETECT_CHUNK_SCAN)))
                detect_scan(d);
        if (at_end)
                d->detect_chunk = 0;
        return take;
}

/* ---- input routing ------------------------------------------------------ */

/* Hands binary bytes to detection or to the framer; returns how many went. */
static size_t route(km_decoder *d, const uint8_t *p, size_t n, bool chunk_end)
{
        if (!d->framer)
                return detect_take(d, p, n, chunk_end);
        return d->framer->push(&d->fs, p, n);
}

/* A record boundary after the bytes routed so far. */
static void route_boundary(km_decoder *d)
{
        if (!d->framer) {
                if (d->n_marks < KM_DETECT_MARKS)
                        d->marks[d->n_marks++] = d->detect_len;
                if (d->n_marks == 1)
                        detect_scan(d); /* a raw APDU may end here */
        } else {
                d->boundary_due = true;
        }
}

static bool holding_input(const km_decoder *d)
{
        return d->pend_len > 0 || d->replay_pos < d->replay_len || d->boundary_due;
}

size_t km_decoder_push(km_decoder *d, const uint8_t *data, size_t n)
{
        if (n == 0 || holding_input(d))
                return 0;
        d->eof = false;
        size_t taken;
        if (d->hex) {
                size_t wrote;
                taken = km_hex_decode(&d->hexs, data, n, d->hex_out, sizeof(d->hex_out), &wrote, &d->pend_boundary);
                d->pend = d->hex_out;
                d->pend_len = wrote;
                if (!wrote && d->pend_boundary) {
                        d->pend_boundary = false;
                        route_boundary(d);
                }
        } else {
                taken = route(d, data, n, true);
        }
        d->stats.bytes_in += taken;
        return taken;
}

void km_decoder_finish(km_decoder *d)
{
        d->eof = true;
}

/* Moves held input one step on. Returns false when there was none. */
static bool move_held_input(km_decoder *d)
{
        if (d->boundary_due) {
                d->boundary_due = false;
                if (d->framer->boundary)
                        d->framer->boundary(&d->fs);
                return true;
        }
        if (d->replay_pos < d->replay_len) {
                size_t end = d->replay_len;
                bool mark = d->replay_mark < d->n_marks && d->marks[d->replay_mark] <= end;
                if (mark)
                        end = d->marks[d->replay_mark];
                if (end > d->replay_pos)
                        d->replay_pos += d->framer->push(&d->fs, d->detect + d->replay_pos, end - d->replay_pos);
                if (mark && d->replay_pos == end) {
                        d->replay_mark++;
                        d->boundary_due = true;
                }
                if (d->replay_pos == d->replay_len && !d->boundary_due)
                        d->replay_pos = d->replay_len = 0;
                return true;
        }
        if (d->pend_len > 0) {
                size_t t = route(d, d->pend, d->pend_len, false);
                d->pend += t;
                d->pend_len -= t;
                if (d->pend_len == 0 && d->pend_boundary) {
                        d->pend_boundary = false;
                        route_boundary(d);
                }
                return true;
        }
        return false;
}

/* ---- the stages after the framer ---------------------------------------- */

static bool has_llc(const uint8_t *p, size_t n)
{
        return n >= 3 && p[0] == 0xE6 && (p[1] == 0xE7 || p[1] == 0xE6) && p[2] == 0x00;
}

static bool is_ciphered(uint8_t tag)
{
        return tag == TAG_GENERAL_GLO_CIPHERING || tag == TAG_GENERAL_DED_CIPHERING;
}

static km_status decode_text(km_decoder *d, const uint8_t *text, size_t n)
{
        return km_p1_decode_text(text, n, &d->reading);
}

/* Security: a ciphered APDU is opened by the application's callback. The
 * plaintext is a data-notification or a DSMR/P1 telegram. A frame with no
 * DLMS tag after the LLC header is the 2017 Norwegian pilot's ciphertext
 * when a key is given. */
static km_status decode_ciphered(km_decoder *d, const uint8_t *apdu, size_t n)
{
        if (!d->opt.decrypt)
                return KM_ERR_ENCRYPTED;
        size_t plain_len = 0;
        km_status s = d->opt.decrypt(d->opt.decrypt_userdata, apdu, n, d->plain, sizeof(d->plain), &plain_len);
        if (s != KM_OK)
                return s;
        if (plain_len > 0 && d->plain[0] == '/')
                return decode_text(d, d->plain, plain_len);
        return km_apdu_decode_again(d->plain, plain_len, &d->reading);
}

/* From a reassembled APDU (with or without LLC header) to a reading, or to
 * KM_ASSEMBLY_WAIT when it is one block of a transfer still going on. */
static int decode_apdu(km_decoder *d, const uint8_t *p, size_t n)
{
        bool llc = has_llc(p, n);
        if (llc) {
                p += 3;
                n -= 3;
        }
        if (n == 0)
                return KM_ERR_EMPTY;
        /* the pilot's ciphertext starts with any byte, 0x0F and 0xE0 too */
        bool pilot = llc && d->opt.decrypt && km_security_pilot_candidate(p, n);
        if (p[0] == TAG_GENERAL_BLOCK_TRANSFER && !pilot) {
                int r = km_gbt_add(&d->gbt, p, n, &p, &n);
                d->stats.rejected[-KM_ERR_BLOCK] += d->gbt.dropped;
                d->gbt.dropped = 0;
                if (r != KM_ASSEMBLY_DONE)
                        return r;
                if (n == 0)
                        return KM_ERR_EMPTY;
        }
        if (is_ciphered(p[0]))
                return decode_ciphered(d, p, n);
        if (p[0] == TAG_DATA_NOTIFICATION && !pilot)
                return km_apdu_decode_again(p, n, &d->reading);
        if (llc && d->opt.decrypt)
                return decode_ciphered(d, p, n); /* the pilot: ciphertext right after the LLC header */
        if (!llc && d->framer && d->framer->transport != KM_TRANSPORT_RAW)
                return KM_ERR_NOT_DLMS;
        return km_apdu_decode_again(p, n, &d->reading);
}

static void set_event(km_event *ev, km_event_kind kind, km_status s, const km_frame *f)
{
        ev->kind = kind;
        ev->reject = s;
        ev->transport = f->transport;
        ev->bytes = f->bytes;
        ev->len = f->len;
        ev->frame = f;
        ev->header = f->transport == KM_TRANSPORT_HDLC && f->header_valid ? &f->link.hdlc : NULL;
        ev->reading = NULL;
        ev->security = NULL;
}

static void good_frame_event(km_decoder *d, km_event *ev)
{
        const km_frame *f = &d->frame;
        d->stats.frames_good++;
        int r;
        if (f->payload_kind == KM_PAYLOAD_TEXT) {
                r = decode_text(d, f->payload, f->payload_len);
        } else {
                const uint8_t *apdu = NULL;
                size_t n = 0;
                r = km_segments_add(&d->segments, f, &apdu, &n);
                d->stats.rejected[-KM_ERR_SEGMENT] += d->segments.dropped;
                d->segments.dropped = 0;
                if (r == KM_ASSEMBLY_DONE)
                        r = decode_apdu(d, apdu, n);
        }
        if (r == KM_ASSEMBLY_WAIT) {
                d->stats.segments++;
                set_event(ev, KM_EVENT_SEGMENT, KM_OK, f);
        } else if (r == KM_OK) {
                d->stats.readings++;
                set_event(ev, KM_EVENT_READING, KM_OK, f);
                ev->reading = &d->reading;
        } else {
                count_reject(d, (km_status)r);
                set_event(ev, KM_EVENT_REJECT, (km_status)r, f);
        }
}

static void reject_event(km_decoder *d, km_event *ev)
{
        const km_frame *f = &d->frame;
        if (f->header_valid)
                km_segments_break(&d->segments); /* a damaged frame may be a lost segment */
        d->stats.rejected[-KM_ERR_SEGMENT] += d->segments.dropped;
        d->segments.dropped = 0;
        count_reject(d, f->status);
        set_event(ev, KM_EVENT_REJECT, f->status, f);
}

static void end_of_input(km_decoder *d)
{
        km_segments_break(&d->segments);
        d->stats.rejected[-KM_ERR_SEGMENT] += d->segments.dropped;
        d->segments.dropped = 0;
}

bool km_decoder_next(km_decoder *d, km_event *ev)
{
        for (;;) {
                if (d->framer) {
                        km_frame_result r = d->framer->next(&d->fs, &d->frame);
                        d->stats.bytes_skipped += d->frame.skipped;
                        if (r == KM_FRAME_GOOD) {
                                good_frame_event(d, ev);
                                return true;
                        }
                        if (r == KM_FRAME_REJECT) {
                                reject_event(d, ev);
                                return true;
                        }
                        if (move_held_input(d))
                                continue;
                        if (d->eof && !d->framer_finished) {
                                d->framer->finish(&d->fs);
                                d->framer_finished = true;
                                continue;
                        }
                        if (d->eof)
                                end_of_input(d);
                        return false;
                }
                if (move_held_input(d))
                        continue;
                if (d->eof) {
                        detect_scan(d);
                        if (d->framer)
                                continue;
                        d->stats.bytes_skipped += d->detect_len; /* no transport found: nothing was usable */
                        d->detect_len = 0;
                        d->n_marks = 0;
                }
                return false;
        }
}

/* ---- the one way to drive it -------------------------------------------- */

static void drain(km_decoder *d, km_event_cb cb, void *ud)
{
        km_event ev;
        while (km_decoder_next(d, &ev))
                cb(&ev, ud);
}

void km_decoder_feed(km_decoder *d, const uint8_t *data, size_t n, km_event_cb cb, void *ud)
{
        size_t off = 0;
        while (off < n) {
                off += km_decoder_push(d, data + off, n - off);
                drain(d, cb, ud);
        }
}

void km_decoder_end(km_decoder *d, km_event_cb cb, void *ud)
{
        km_decoder_finish(d);
        drain(d, cb, ud);
}
