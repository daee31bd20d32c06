/*
 * Byte sources: a serial port (libserialport), a TCP serial server
 * ("tcp://host:port", e.g. ser2net), a file or FIFO, or "-" for stdin.
 *
 * Every source exposes a file descriptor to poll and a non-blocking read, so
 * the daemon's event loop and the CLI's blocking loop share one interface.
 */
#ifndef KM_SOURCE_H
#define KM_SOURCE_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

typedef enum km_parity { KM_PARITY_NONE, KM_PARITY_EVEN, KM_PARITY_ODD } km_parity;

typedef struct km_serial_params {
        int baud;          /* default 2400 */
        int data_bits;     /* default 8 */
        km_parity parity;  /* default even (8E1) */
        int stop_bits;     /* default 1 */
} km_serial_params;

#define KM_SERIAL_PARAMS_DEFAULT {2400, 8, KM_PARITY_EVEN, 1}

typedef enum km_source_kind { KM_SOURCE_SERIAL, KM_SOURCE_TCP, KM_SOURCE_FILE } km_source_kind;

typedef struct km_source km_source;

/* Opens spec: "tcp://host:port", "-" (stdin), a character device (serial),
 * or any other path (file/FIFO). Returns 0 or a negative errno; on failure
 * *ret_errmsg (static or owned by nobody) may explain. */
int km_source_open(const char *spec, const km_serial_params *params, bool nonblocking,
                   km_source **ret_source);

/* Opens spec forcing its kind (e.g. a pty path as KM_SOURCE_SERIAL). */
int km_source_open_kind(const char *spec, km_source_kind kind, const km_serial_params *params,
                        bool nonblocking, km_source **ret_source);

km_source_kind km_source_get_kind(const km_source *s);
int km_source_fd(const km_source *s);

/* Reads up to n bytes. Returns the count, 0 at end of input (file end, TCP
 * closed, serial port gone), -EAGAIN when nothing is ready (non-blocking), -EINTR when a
 * signal came, or another negative errno. */
ssize_t km_source_read(km_source *s, void *buf, size_t n);

/* Changes the serial settings of an open serial source (parity auto-detect). */
int km_source_set_params(km_source *s, const km_serial_params *params);

void km_source_close(km_source *s);

const char *km_parity_name(km_parity p);
/* Parses "none", "even", "odd" (and "n", "e", "o"); returns -EINVAL otherwise. */
int km_parity_parse(const char *s, km_parity *ret);

#endif
