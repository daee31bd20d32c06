/*
 * Internal: the source object shared by source.c (files, stdin, TCP) and
 * serial.c (serial ports).
 */
#ifndef KM_SOURCE_IMPL_H
#define KM_SOURCE_IMPL_H

#include "sources/source.h"

struct sp_port;

struct km_source {
        km_source_kind kind;
        int fd;
        bool owns_fd;
        bool nonblocking;
        struct sp_port *port; /* libserialport handle; NULL for ptys and non-serial */
};

int km_serial_open(const char *path, const km_serial_params *params, bool nonblocking, km_source *s);
int km_serial_configure(km_source *s, const km_serial_params *params);
void km_serial_close(km_source *s);

#endif
