/*
 * The sink interface: where readings go (terminal, JSON, MQTT, PostgreSQL...).
 *
 * A sink sees only decoded events, never the framer. Each sink embeds a
 * km_sink as its first member and fills in the operations it supports.
 * Operations return 0 or a negative errno; a failing sink logs once itself.
 */
#ifndef KM_SINK_H
#define KM_SINK_H

#include "kaifa/decoder.h"

typedef struct km_sink km_sink;

struct km_sink {
        const char *name;
        /* A decoded frame: ev->kind == KM_EVENT_READING. */
        int (*reading)(km_sink *s, const km_event *ev);
        /* Optional: a rejected frame or non-final segment (for --hex). */
        int (*other)(km_sink *s, const km_event *ev);
        /* Optional: end of input, with the decoder counters (for --stats). */
        int (*finish)(km_sink *s, const km_stats *stats);
        /* Optional: writes out what the sink holds back (buffered output). */
        int (*flush)(km_sink *s);
        /* Frees the sink (writing out what it holds); accepts NULL via km_sink_close(). */
        void (*close)(km_sink *s);
};

static inline int km_sink_flush(km_sink *s)
{
        return s && s->flush ? s->flush(s) : 0;
}

static inline void km_sink_close(km_sink *s)
{
        if (s && s->close)
                s->close(s);
}

#endif
