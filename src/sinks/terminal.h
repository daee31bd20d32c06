/*
 * Terminal output: a short, aligned block per frame for people to read.
 */
#ifndef KM_SINK_TERMINAL_H
#define KM_SINK_TERMINAL_H

#include <stdbool.h>
#include <stdio.h>

#include "sinks/sink.h"

typedef struct km_terminal_options {
        bool hex;     /* print each frame's bytes */
        bool rejects; /* also print rejected frames (with --hex --stats) */
        bool buffered; /* the caller flushes (km_sink_flush); else every frame is flushed */
} km_terminal_options;

int km_sink_terminal_open(FILE *out, const km_terminal_options *opt, km_sink **ret);

/* The value in its display unit (Wh -> kWh ...), formatted: "801.652 kWh". */
void km_value_display(const km_value *v, char *buf, size_t size);

/* Prints the counters, one per line, "good frames: 1475" etc. */
void km_stats_print(FILE *out, const km_stats *st);

#endif
