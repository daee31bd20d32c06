/*
 * The table of framers, one per transport, and their names. The HDLC and
 * M-Bus framers have typed APIs of their own (kaifa/hdlc.h, kaifa/mbus.h);
 * the adapters here give every framer the one shape the decoder drives.
 */
#include <string.h>

#include "kaifa/frame.h"
#include "kaifa/hdlc.h"
#include "kaifa/mbus.h"
#include "kaifa/p1.h"
#include "kaifa/raw.h"

static bool has_llc(const uint8_t *p, size_t n)
{
        return n >= 3 && p[0] == 0xE6 && (p[1] == 0xE7 || p[1] == 0xE6) && p[2] == 0x00;
}

/* ---- HDLC --------------------------------------------------------------- */

static void hdlc_init(void *state, bool ignore_checksum)
{
        km_hdlc *h = state;
        km_hdlc_init(h);
        h->ignore_checksum = ignore_checksum;
}

static size_t hdlc_push(void *state, const uint8_t *data, size_t n)
{
        return km_hdlc_push(state, data, n);
}

static void hdlc_finish(void *state)
{
        km_hdlc_finish(state);
}

static km_frame_result hdlc_next(void *state, km_frame *f)
{
        km_hdlc_out out;
        km_hdlc_result r = km_hdlc_next_into(state, &out, &f->link.hdlc);
        f->skipped = out.skipped;
        if (r == KM_HDLC_NEED_MORE)
                return KM_FRAME_NEED_MORE;
        f->transport = KM_TRANSPORT_HDLC;
        f->payload_kind = KM_PAYLOAD_APDU;
        f->bytes = out.bytes;
        f->len = out.len;
        f->header_valid = out.header_valid;
        f->has_sequence = false;
        f->sequence = 0;
        if (r == KM_HDLC_REJECT) {
                f->status = out.status;
                f->payload = NULL;
                f->payload_len = 0;
                f->more = false;
                f->opens = false;
                return KM_FRAME_REJECT;
        }
        f->status = KM_OK;
        f->payload = f->link.hdlc.info;
        f->payload_len = f->link.hdlc.info_len;
        f->more = f->link.hdlc.segmented;
        f->opens = has_llc(f->link.hdlc.info, f->link.hdlc.info_len);
        return KM_FRAME_GOOD;
}

static const km_framer_ops hdlc_ops = {
        .transport = KM_TRANSPORT_HDLC,
        .name = "hdlc",
        .init = hdlc_init,
        .push = hdlc_push,
        .next = hdlc_next,
        .finish = hdlc_finish,
        .boundary = NULL,
};

/* ---- M-Bus -------------------------------------------------------------- */

static void mbus_init(void *state, bool ignore_checksum)
{
        km_mbus_init(state, ignore_checksum);
}

static size_t mbus_push(void *state, const uint8_t *data, size_t n)
{
        return km_mbus_push(state, data, n);
}

static km_frame_result mbus_next(void *state, km_frame *f)
{
        return (km_frame_result)km_mbus_next(state, f);
}

static void mbus_finish(void *state)
{
        km_mbus_finish(state);
}

static const km_framer_ops mbus_ops = {
        .transport = KM_TRANSPORT_MBUS,
        .name = "mbus",
        .init = mbus_init,
        .push = mbus_push,
        .next = mbus_next,
        .finish = mbus_finish,
        .boundary = NULL,
};

/* ---- raw APDUs ---------------------------------------------------------- */

static void raw_init(void *state, bool ignore_checksum)
{
        km_raw_init(state, ignore_checksum);
}

static size_t raw_push(void *state, const uint8_t *data, size_t n)
{
        return km_raw_push(state, data, n);
}

static km_frame_result raw_next(void *state, km_frame *f)
{
        return (km_frame_result)km_raw_next(state, f);
}

static void raw_finish(void *state)
{
        km_raw_finish(state);
}

static void raw_boundary(void *state)
{
        km_raw_boundary(state);
}

static const km_framer_ops raw_ops = {
        .transport = KM_TRANSPORT_RAW,
        .name = "raw",
        .init = raw_init,
        .push = raw_push,
        .next = raw_next,
        .finish = raw_finish,
        .boundary = raw_boundary,
};

/* ---- the table ---------------------------------------------------------- */

const km_framer_ops *km_framer_get(km_transport t)
{
        switch (t) {
        case KM_TRANSPORT_HDLC:
                return &hdlc_ops;
        case KM_TRANSPORT_MBUS:
                return &mbus_ops;
        case KM_TRANSPORT_RAW:
                return &raw_ops;
        case KM_TRANSPORT_P1:
                return &km_p1_framer_ops; /* p1.c */
        default:
                return NULL;
        }
}

static const char *const transport_names[KM_TRANSPORT_COUNT_] = {
        [KM_TRANSPORT_AUTO] = "auto", [KM_TRANSPORT_HDLC] = "hdlc", [KM_TRANSPORT_MBUS] = "mbus",
        [KM_TRANSPORT_RAW] = "raw",   [KM_TRANSPORT_P1] = "p1",
};

const char *km_transport_name(km_transport t)
{
        return (unsigned)t < KM_TRANSPORT_COUNT_ ? transport_names[t] : "unknown";
}

bool km_transport_from_name(const char *name, km_transport *ret)
{
        for (int t = 0; t < KM_TRANSPORT_COUNT_; t++) {
                if (strcmp(name, transport_names[t]) == 0) {
                        *ret = (km_transport)t;
                        return true;
                }
        }
        return false;
}
