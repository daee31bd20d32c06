/*
 * JSON output (json-c is used only here): one object per frame, whose
 * "data" member has the layout of the original ams-han-decoder tool
 * (name -> {obis_code, value, unit, description}).
 */
#ifndef KM_SINK_JSON_H
#define KM_SINK_JSON_H

#include <json-c/json.h>
#include <stdbool.h>
#include <stdio.h>

#include "kaifa/security.h"
#include "sinks/sink.h"

/* The "data" object of a reading. */
json_object *km_json_reading_data(const km_reading *r);
/* The "header" object of a frame (HDLC, LLC and APDU header fields). */
json_object *km_json_frame_header(const km_event *ev, const km_reading *r);
/* The "security" object of a ciphered frame's header: cipher, system title
 * (hex, and its 3-letter maker), security byte, invocation counter,
 * authenticated. Never a key. */
json_object *km_json_security(const km_security_info *sec);
/* A JSON number for v's value in its own unit, printed like the original tool
 * (at most 15 significant digits, integers without a decimal point). */
json_object *km_json_number(double value);
/* "2017-01-18 15:00:00,255 -32768 (0)": the original tool's clock format. */
void km_json_datetime_compat(const km_datetime *dt, char *buf, size_t size);

typedef struct km_json_options {
        bool compact; /* one object per line instead of pretty-printed */
        bool hex;     /* add "frame_hex" (and emit rejected frames too, with stats) */
        bool rejects; /* emit objects for rejected frames */
} km_json_options;

int km_sink_json_open(FILE *out, const km_json_options *opt, km_sink **ret);

#endif
