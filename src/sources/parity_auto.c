/*
 * Parity auto (see parity_auto.h): which serial setting to try next, from
 * the decoder's counters of good frames, checksum failures and bytes.
 */
#include "sources/parity_auto.h"

#include "kaifa/status.h"

uint64_t km_checksum_errors(const km_stats *s)
{
        return s->rejected[-KM_ERR_HCS] + s->rejected[-KM_ERR_FCS] + s->rejected[-KM_ERR_CHECKSUM];
}

static void mark(km_parity_auto *pa, const km_stats *s)
{
        pa->good0 = s->frames_good;
        pa->bad0 = km_checksum_errors(s);
        pa->bytes0 = s->bytes_in;
}

void km_parity_auto_init(km_parity_auto *pa, const km_serial_params *base, bool try_7e1, const km_stats *s)
{
        *pa = (km_parity_auto){.params = *base, .try_7e1 = try_7e1};
        pa->params.parity = KM_PARITY_EVEN;
        pa->params.data_bits = try_7e1 ? 8 : base->data_bits;
        pa->start_bits = pa->params.data_bits;
        pa->tried = pa->params;
        mark(pa, s);
        pa->cycle_bytes0 = s->bytes_in;
}

void km_parity_auto_reopen(km_parity_auto *pa, const km_stats *s)
{
        mark(pa, s);
        pa->switches = 0;
        pa->cycle_bytes0 = s->bytes_in;
}

km_parity_auto_step km_parity_auto_check(km_parity_auto *pa, const km_stats *s)
{
        if (pa->locked)
                return KM_PARITY_AUTO_WAIT;
        if (s->frames_good > pa->good0) {
                pa->locked = true;
                return KM_PARITY_AUTO_LOCKED;
        }
        if (km_checksum_errors(s) - pa->bad0 < KM_PARITY_AUTO_MAX_BAD &&
            s->bytes_in - pa->bytes0 < KM_PARITY_AUTO_MAX_BYTES)
                return KM_PARITY_AUTO_WAIT;
        /* 8E1 -> 8N1 -> 7E1 (only when the data bits are not fixed) -> 8E1 */
        pa->tried = pa->params;
        km_serial_params *p = &pa->params;
        if (p->parity == KM_PARITY_EVEN && p->data_bits == 8) {
                p->parity = KM_PARITY_NONE;
        } else if (p->parity == KM_PARITY_NONE && pa->try_7e1) {
                p->parity = KM_PARITY_EVEN;
                p->data_bits = 7;
        } else {
                p->parity = KM_PARITY_EVEN;
                p->data_bits = pa->start_bits;
        }
        pa->switches++;
        pa->tried_bytes = s->bytes_in - pa->bytes0;
        mark(pa, s);
        if (p->parity != KM_PARITY_EVEN || p->data_bits != pa->start_bits)
                return KM_PARITY_AUTO_NEXT;
        pa->cycle_bytes = s->bytes_in - pa->cycle_bytes0;
        pa->cycle_bytes0 = s->bytes_in;
        return KM_PARITY_AUTO_CYCLE;
}

const char *km_serial_params_name(const km_serial_params *p, char buf[static 4])
{
        buf[0] = (char)('0' + (p->data_bits >= 5 && p->data_bits <= 8 ? p->data_bits : 8));
        buf[1] = p->parity == KM_PARITY_EVEN ? 'E' : p->parity == KM_PARITY_ODD ? 'O' : 'N';
        buf[2] = (char)('0' + (p->stop_bits == 2 ? 2 : 1));
        buf[3] = '\0';
        return buf;
}
