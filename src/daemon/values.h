/*
 * How one decoded value is shown on MQTT: its topic key (the stable name of
 * its OBIS code, or the code itself), its payload in display units (W, var,
 * V, A, kWh, kvarh; text as text; date-times as ISO 8601), and its unit.
 */
#ifndef KM_DAEMON_VALUES_H
#define KM_DAEMON_VALUES_H

#include <stdbool.h>
#include <stddef.h>

#include "kaifa/reading.h"

#define KM_KEY_MAX 48
#define KM_PAYLOAD_MAX 96

/* "power_active_import", or "1-0:99.7.0.255" for a code the table lacks. */
const char *km_value_key(const km_value *v, char *buf, size_t size);

/* The payload: "801.652", "230.2", "MA304T4", "2017-01-18T15:00:00". Numbers
 * are exact decimal (no float rounding) with trailing zeros removed.
 * *ret_numeric tells whether it is a JSON number. */
const char *km_value_payload(const km_value *v, char *buf, size_t size, bool *ret_numeric);

/* Display unit symbol ("kWh"), "" for none. */
const char *km_value_unit(const km_value *v);

/* Formats raw x 10^exp exactly: (801652, -3) -> "801.652", (5, 1) -> "50". */
const char *km_decimal_format(long long raw, int exp, char *buf, size_t size);

#endif
