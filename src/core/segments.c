/*
 * Link-segment reassembly: one APDU from the payloads of consecutive good
 * frames (HDLC frames with the segmentation bit, M-Bus frames whose CI
 * counts 0, 1, 2 ... with the last marked). Never joins across a damaged
 * frame or a skipped sequence number: a lost middle would glue two halves
 * of different pushes into one wrong reading.
 */
#include "kaifa/reassembly.h"

#include <string.h>

void km_segments_init(km_segments *s)
{
        s->len = 0;
        s->assembling = false;
        s->next_sequence = 0;
        s->dropped = 0;
}

void km_segments_break(km_segments *s)
{
        if (s->assembling) {
                s->dropped++;
                s->assembling = false;
        }
}

/* True when a payload can open an APDU: the LLC header or an APDU tag (for
 * meters that leave the LLC out). A continuation starts mid-APDU. */
static bool opens_apdu(const uint8_t *p, size_t n)
{
        if (n >= 3 && p[0] == 0xE6 && (p[1] == 0xE7 || p[1] == 0xE6) && p[2] == 0x00)
                return true;
        return n > 0 && (p[0] == 0x0F || p[0] == 0xDB || p[0] == 0xDC || p[0] == 0xE0);
}

static bool append(km_segments *s, const uint8_t *p, size_t n)
{
        if (n > sizeof(s->buf) - s->len) {
                s->assembling = false;
                return false;
        }
        memcpy(s->buf + s->len, p, n);
        s->len += n;
        return true;
}

int km_segments_add(km_segments *s, const km_frame *f, const uint8_t **ret_apdu, size_t *ret_len)
{
        if (s->assembling && (f->opens || (f->has_sequence && f->sequence != s->next_sequence)))
                km_segments_break(s); /* the APDU being assembled lost its end */
        if (!s->assembling) {
                if (!f->more && (!f->has_sequence || f->sequence == 0)) {
                        *ret_apdu = f->payload; /* a whole APDU: no copy */
                        *ret_len = f->payload_len;
                        return KM_ASSEMBLY_DONE;
                }
                bool can_open = f->has_sequence ? f->sequence == 0 : opens_apdu(f->payload, f->payload_len);
                if (!can_open)
                        return KM_ERR_SEGMENT; /* a continuation whose start was lost */
                s->len = 0;
                s->assembling = true;
        }
        if (!append(s, f->payload, f->payload_len))
                return KM_ERR_SEGMENT;
        s->next_sequence = (uint8_t)((f->sequence + 1) & 0x0F);
        if (f->more)
                return KM_ASSEMBLY_WAIT;
        s->assembling = false;
        *ret_apdu = s->buf;
        *ret_len = s->len;
        return KM_ASSEMBLY_DONE;
}
