/*
 * The fixed buffer of a framer that copies its input (M-Bus and raw APDUs
 * arrive slowly, so a copy costs nothing): the unexamined bytes move to the
 * front, then as many new bytes as fit are appended.
 */
#ifndef KM_COPY_BUFFER_H
#define KM_COPY_BUFFER_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

/* Appends up to n bytes to buf[0..*len) (capacity cap), first dropping the
 * *pos bytes already examined; returns how many were taken. */
static inline size_t km_copy_buffer_take(uint8_t *buf, size_t cap, size_t *len, size_t *pos, const uint8_t *data,
                                         size_t n)
{
        if (*pos > 0) {
                memmove(buf, buf + *pos, *len - *pos);
                *len -= *pos;
                *pos = 0;
        }
        size_t room = cap - *len;
        size_t take = n < room ? n : room;
        memcpy(buf + *len, data, take);
        *len += take;
        return take;
}

#endif
