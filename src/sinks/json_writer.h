/*
 * A streaming JSON writer: objects, members and scalars appended to a
 * km_textbuf as they come, with no tree and no allocation per value.
 *
 * It lays text out byte for byte as json-c's json_object_to_json_string_ext()
 * does with JSON_C_TO_STRING_NOSLASHESCAPE and either JSON_C_TO_STRING_PLAIN
 * (compact) or JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_SPACED (pretty):
 * two-space indents, "key": value, an empty object as "{\n<indent>}" (and an
 * empty array likewise), and
 * json-c's string escapes (\b \f \n \r \t \" \\, other bytes below 0x20 as
 * \u00xx, '/' and bytes from 0x7f on as they are). The caller never writes
 * the same key twice in one object (json-c would replace the first value).
 */
#ifndef KM_SINK_JSON_WRITER_H
#define KM_SINK_JSON_WRITER_H

#include <stdbool.h>
#include <stdint.h>

#include "sinks/textbuf.h"

#define KM_JW_MAX_DEPTH 8

typedef struct km_jw {
        km_textbuf *out;
        bool pretty;
        int depth;
        bool has_members[KM_JW_MAX_DEPTH + 1];
        bool in_array[KM_JW_MAX_DEPTH + 1];
} km_jw;

void km_jw_init(km_jw *w, km_textbuf *out, bool pretty);

/* Opens an object: the top-level one, a member, or an array element (key
 * NULL for the first and the last; every key is ignored inside an array).
 * Keys are written as they are: they must need no escape (the JSON sink's
 * keys are its own words, OBIS table names and OBIS codes). */
void km_jw_begin(km_jw *w, const char *key);
void km_jw_end(km_jw *w);
/* Opens an array (closed by km_jw_end()); json-c lays it out as an object. */
void km_jw_begin_array(km_jw *w, const char *key);

void km_jw_string(km_jw *w, const char *key, const char *s, size_t n);
/* A string that needs no escape (a constant of the program or of its
 * tables), copied as it is. */
void km_jw_const(km_jw *w, const char *key, const char *s, size_t n);
void km_jw_int(km_jw *w, const char *key, int64_t v);
/* A number already formatted as JSON wants it. */
void km_jw_raw(km_jw *w, const char *key, const char *text, size_t n);
void km_jw_bool(km_jw *w, const char *key, bool v);
void km_jw_null(km_jw *w, const char *key);

#endif
