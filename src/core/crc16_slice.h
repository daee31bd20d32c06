/*
 * Slicing-by-8 for the reflected CRC-16s (X.25 in crc16.c, ARC in p1.c):
 * eight bytes folded into the register per step with eight tables (made by
 * scripts/gen_crc16_tables.py), the rest a byte at a time.
 */
#ifndef KM_CRC16_SLICE_H
#define KM_CRC16_SLICE_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

static inline uint16_t km_crc16_slice8(const uint16_t t[8][256], uint16_t crc, const uint8_t *p, size_t n)
{
        while (n >= 8) {
                uint32_t lo;
                uint32_t hi;
                memcpy(&lo, p, 4);
                memcpy(&hi, p + 4, 4);
#if __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
                lo = __builtin_bswap32(lo);
                hi = __builtin_bswap32(hi);
#endif
                lo ^= crc;
                crc = t[7][lo & 0xFF] ^ t[6][(lo >> 8) & 0xFF] ^ t[5][(lo >> 16) & 0xFF] ^ t[4][lo >> 24] ^
                      t[3][hi & 0xFF] ^ t[2][(hi >> 8) & 0xFF] ^ t[1][(hi >> 16) & 0xFF] ^ t[0][hi >> 24];
                p += 8;
                n -= 8;
        }
        while (n--)
                crc = (uint16_t)((crc >> 8) ^ t[0][(crc ^ *p++) & 0xFF]);
        return crc;
}

#endif
