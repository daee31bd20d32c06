/*
 * CRC-16/X.25, the HDLC HCS and FCS: reflected polynomial 0x8408, initial
 * value 0xFFFF, final XOR 0xFFFF. Eight bytes per step (slicing-by-8) so the
 * framer's checksum pass costs little more than reading the bytes.
 */
#include <stdint.h>
#include <string.h>

#include "kaifa/hdlc.h"
#include "crc16_slice.h"
#include "crc16_table.h"

uint16_t km_crc16_x25_update(uint16_t crc, const uint8_t *p, size_t n)
{
        return km_crc16_slice8(crc16_x25_table, crc, p, n);
}

uint16_t km_crc16_x25(const uint8_t *p, size_t n)
{
        return km_crc16_x25_update(0xFFFF, p, n) ^ 0xFFFF;
}
