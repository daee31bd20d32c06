/*
 * The reading: one decoded meter push, the neutral record every sink consumes.
 *
 * A reading is fixed-capacity (no pointers to the wire buffer, no heap) so the
 * decoder can fill one in place for every frame and sinks can copy it freely.
 * Each value carries its OBIS code, the raw integer the meter sent, the decimal
 * scaler and unit that apply to it, and a pointer to its static OBIS table
 * entry (name, description, Home Assistant classes) when the code is known.
 */
#ifndef KAIFA_READING_H
#define KAIFA_READING_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "kaifa/obis.h"

#ifdef __cplusplus
extern "C" {
#endif

/* The longest list seen in the wild is the Swedish Aidon 27-item list; 64
 * leaves room for generic DLMS lists. Items past this are counted, not kept. */
#define KM_READING_MAX_VALUES 64
/* Longest DLMS text value seen: Kamstrup meter type, 18 characters. P1
 * telegrams send equipment ids and messages as hex digits (a DSMR 3 message
 * of 160 digits in the captures, held as its 80 characters decoded); longer
 * texts are cut. */
#define KM_TEXT_MAX 127

/* A COSEM date-time (12 bytes on the wire). Fields keep the wire values,
 * including the "not specified" markers (0xFF, deviation 0x8000). */
typedef struct km_datetime {
        uint16_t year;
        uint8_t month;
        uint8_t day;
        uint8_t weekday;
        uint8_t hour;
        uint8_t minute;
        uint8_t second;
        uint8_t hundredths;
        int16_t deviation; /* minutes, UTC = local + deviation; INT16_MIN = unspecified */
        uint8_t status;    /* clock status bits; 0x80 = daylight saving */
} km_datetime;

#define KM_DEVIATION_UNSPECIFIED INT16_MIN

typedef enum km_value_kind {
        KM_VALUE_NUMBER = 0, /* raw x 10^scaler, in unit */
        KM_VALUE_TEXT,       /* text / text_len (octet or visible string) */
        KM_VALUE_DATETIME,   /* datetime */
        KM_VALUE_FLOAT,      /* real, in unit (float32/float64 on the wire) */
} km_value_kind;

typedef struct km_value {
        uint8_t obis[6];
        const km_obis_info *info; /* NULL when the code is not in the table */
        km_value_kind kind;
        km_unit unit;
        int8_t scaler;       /* decimal exponent applied to raw */
        bool scaler_inline;  /* scaler/unit came from the frame, not a list table */
        int64_t raw;         /* NUMBER: the integer the meter sent */
        double real;         /* FLOAT: the value the meter sent */
        km_datetime datetime;
        uint8_t text_len;
        char text[KM_TEXT_MAX + 1]; /* NUL-terminated; non-printable bytes kept */
        /* P1: the value's own capture time, e.g. an M-Bus device's last
         * reading 0-n:24.2.1(time)(value) or a power failure's end. The OBIS
         * B field (obis[1]) is the M-Bus channel. */
        bool has_captured;
        km_datetime captured;
        /* P1: text was sent as hex-encoded ASCII (upper-case digits) and is
         * held decoded; km_value_text_raw() gives the digits back. */
        bool text_hex;
        /* P1: an entry of the log (buffer) value just before it, e.g. one
         * power failure of 1-0:99.97.0: its code is the one the log names,
         * captured its time; it has no table entry of its own. */
        bool log_entry;
} km_value;

typedef struct km_reading {
        const char *list_name;  /* static: "KFM_001 list 2 (3-phase)" for positional lists; the
                                 * family's list version prefix ("AIDON_", "Kamstrup_") or
                                 * "DLMS list" for lists that name their objects */
        const char *maker;      /* "Kaifa", "Aidon", "Kamstrup"; NULL when the list does not say */
        const struct km_family *family; /* kaifa/families.h: the family that read or scaled
                                         * the list; NULL when the list needed none */
        uint32_t invoke_id;     /* long-invoke-id-and-priority as sent */
        bool has_clock;         /* header date-time of the notification */
        km_datetime clock;
        size_t n_values;
        size_t n_dropped;       /* values past KM_READING_MAX_VALUES */
        size_t n_unparsed;      /* P1: lines that did not parse (skipped) */
        size_t n_known;         /* internal: slots whose obis/info are left from an
                                 * earlier frame and may be reused (0 = none) */
        km_value values[KM_READING_MAX_VALUES];
} km_reading;

/* The value as a double in its own unit (NUMBER and FLOAT kinds). */
double km_value_number(const km_value *v);

/* Power sent in kW, kvar or kVA (P1 telegrams) is kept in W, var or VA:
 * the scaler takes the kilo (1.193 kW = 1193 W). Other units unchanged. */
void km_value_power_in_watts(km_value *v);

/* x x 10^exponent, rounded as the decimal value would be. */
double km_scale10(double x, int exponent);

/* Finds the first value with this stable name ("meter_id"), or NULL. */
const km_value *km_reading_find(const km_reading *r, const char *name);

/* Text of the first value with this name, or NULL if absent or not text. */
const char *km_reading_text(const km_reading *r, const char *name);

/* True when text is valid UTF-8 without control characters, i.e. safe to
 * print or put in JSON as it is. Meters send octet strings that may hold
 * anything. */
bool km_text_is_clean(const char *text, size_t n);

/* A TEXT value for people and JSON: the text itself when clean, otherwise
 * its bytes in hex ("ff fe 80"). Returns buf; size >= 3 * KM_TEXT_MAX + 1. */
#define KM_TEXT_SHOW_MAX (3 * KM_TEXT_MAX + 1)
const char *km_value_text_show(const km_value *v, char *buf, size_t size);

/* A TEXT value as the meter sent it: the hex digits for a text sent
 * hex-encoded (text_hex), else the text itself. Returns buf; size >=
 * KM_TEXT_RAW_MAX. */
#define KM_TEXT_RAW_MAX (2 * KM_TEXT_MAX + 1)
const char *km_value_text_raw(const km_value *v, char *buf, size_t size);

/* Formats a.b.c.d.e.f as "A-B:C.D.E.F" into buf (at least KM_OBIS_STR_MAX). */
#define KM_OBIS_STR_MAX 24
const char *km_obis_format(const uint8_t obis[6], char *buf, size_t size);

/* ISO 8601 local wall-clock time "2017-01-18T15:00:00", without an offset:
 * meters send the deviation unspecified (Kaifa) or with the wrong sign
 * (Aidon), so it is not trusted. Returns buf. size >= KM_DATETIME_STR_MAX. */
#define KM_DATETIME_STR_MAX 40
const char *km_datetime_iso8601(const km_datetime *dt, char *buf, size_t size);

#ifdef __cplusplus
}
#endif

#endif
