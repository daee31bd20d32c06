/*
 * CRC-16/X.25, the HDLC HCS and FCS: reflected polynomial 0x8408, initial
 * value 0xFFFF, final XOR 0xFFFF. Eight bytes per step (slicing-by-8) so the
 * framer's checksum pass costs little more than reading the bytes.
 */
#include <stdint.h>
#include <string.h>

#include "kaifa/hdlc.h"
#include "crc16_table.h"

uint16_t km_crc16_x25_update(uint16_t crc, const uint8_t *p, size_t n)
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
                crc = crc16_x25_table[7][lo & 0xFF] ^ crc16_x25_table[6][(lo >> 8) & 0xFF] ^
                      crc16_x25_table[5][(lo >> 16) & 0xFF] ^ crc16_x25_table[4][lo >> 24] ^
                      crc16_x25_table[3][hi & 0xFF] ^ crc16_x25_table[2][(hi >> 8) & 0xFF] ^
                      crc16_x25_table[1][(hi >> 16) & 0xFF] ^ crc16_x25_table[0][hi >> 24];
                p += 8;
                n -= 8;
        }
        while (n--)
                crc = (uint16_t)((crc >> 8) ^ crc16_x25_table[0][(crc ^ *p++) & 0xFF]);
        return crc;
}

uint16_t km_crc16_x25(const uint8_t *p, size_t n)
{
        return km_crc16_x25_update(0xFFFF, p, n) ^ 0xFFFF;
}
