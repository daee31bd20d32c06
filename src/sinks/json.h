/*
 * JSON output: one object per frame, whose "data" member has the layout of
 * the original ams-han-decoder tool (name -> {obis_code, value, unit,
 * description}). json-c is used only in json.c, as the reference the
 * streaming writer is tested against.
 */
#ifndef KM_SINK_JSON_H
#define KM_SINK_JSON_H

#include <stdbool.h>
#include <stdio.h>

#include "sinks/sink.h"
#include "sinks/textbuf.h"

typedef struct km_json_options {
        bool compact;  /* one object per line instead of pretty-printed */
        bool hex;      /* add "frame_hex" (and emit rejected frames too, with stats) */
        bool rejects;  /* emit objects for rejected frames */
        bool buffered; /* the caller flushes (km_sink_flush); else every frame is flushed */
} km_json_options;

int km_sink_json_open(FILE *out, const km_json_options *opt, km_sink **ret);

/* Appends ev's JSON text and a newline to out, as the sink writes it;
 * false when ev gets no object (a rejected frame without opt->rejects). */
bool km_json_render(const km_event *ev, const km_json_options *opt, km_textbuf *out);

/* The same text made with json-c objects (malloc'd; NULL when ev gets no
 * object): the reference for the tests. */
char *km_json_render_jsonc(const km_event *ev, const km_json_options *opt);

#endif
