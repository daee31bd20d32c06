/*
 * DLMS general-block-transfer (tag 0xE0) reassembly, as Landis+Gyr pushes
 * span several HDLC frames:
 *   E0 | control (bit 7 last block, bit 6 streaming, bits 5..0 window) |
 *   block number (2) | acknowledged block number (2) | length | raw data
 * Blocks count from 1. A gap or a repeated block drops the transfer
 * (counted); block 1 always starts a new one.
 */
#include "kaifa/reassembly.h"

#include <string.h>

#include "axdr.h"

#define GBT_LAST_BLOCK 0x80

void km_gbt_init(km_gbt *g)
{
        g->len = 0;
        g->active = false;
        g->next_block = 1;
        g->dropped = 0;
}

static void drop(km_gbt *g)
{
        if (g->active) {
                g->dropped++;
                g->active = false;
        }
}

int km_gbt_add(km_gbt *g, const uint8_t *apdu, size_t n, const uint8_t **ret_apdu, size_t *ret_len)
{
        if (n < 7 || apdu[0] != 0xE0)
                return KM_ERR_MALFORMED;
        uint8_t control = apdu[1];
        uint16_t block = (uint16_t)(apdu[2] << 8 | apdu[3]);
        km_cursor c;
        km_cursor_init(&c, apdu, n);
        c.pos = 6;
        uint32_t len;
        if (km_axdr_read_length(&c, &len) != KM_OK || len != km_cursor_left(&c))
                return KM_ERR_MALFORMED;
        if (block == 1) {
                drop(g);
                g->active = true;
                g->len = 0;
        } else if (!g->active || block != g->next_block) {
                drop(g); /* a gap, a repeat, or a transfer whose start was lost */
                return KM_ERR_BLOCK;
        }
        if (len > sizeof(g->buf) - g->len) {
                g->active = false;
                return KM_ERR_BLOCK;
        }
        memcpy(g->buf + g->len, apdu + c.pos, len);
        g->len += len;
        g->next_block = (uint16_t)(block + 1);
        if (!(control & GBT_LAST_BLOCK))
                return KM_ASSEMBLY_WAIT;
        g->active = false;
        *ret_apdu = g->buf;
        *ret_len = g->len;
        return KM_ASSEMBLY_DONE;
}
