/*
 * Home Assistant MQTT discovery documents: one retained config per value,
 * under <discovery_prefix>/sensor/<node>/<object>/config, that ties the
 * value's state topic to a device (the meter) with the right device_class,
 * state_class, unit and suggested_display_precision. The caller resolves what a value means (from the
 * OBIS table) and passes plain strings; this file only shapes the JSON.
 */
#ifndef KM_SINK_HOMEASSISTANT_H
#define KM_SINK_HOMEASSISTANT_H

#include <stdbool.h>
#include <stddef.h>

typedef struct km_ha_device {
        const char *meter_id;     /* identifiers, serial_number, unique ids */
        const char *manufacturer; /* "Kaifa" */
        const char *model;        /* meter type, "MA304T4"; NULL if unknown yet */
        const char *name;         /* device name; NULL = "<manufacturer> <model>" */
        const char *sw_version;   /* list version identifier, "KFM_001" */
} km_ha_device;

typedef struct km_ha_entity {
        const char *key;          /* stable snake_case name, the last topic level */
        const char *state_topic;
        const char *unit;         /* NULL or "" for none */
        const char *device_class; /* NULL for none */
        const char *state_class;  /* NULL for none */
        bool diagnostic;          /* entity_category: diagnostic (meter id, type, ...) */
        int expire_after;         /* seconds; 0 = the value does not expire */
        bool legacy_reactive;     /* kvarh without the reactive_energy class
                                   * (Home Assistant before 2025.6 rejects it) */
        const char *json_attributes_topic; /* NULL for none */
        /* with state_class total: where the current cycle's start is read
         * (a template; NULL for none) */
        const char *last_reset_value_template;
} km_ha_entity;

/* Where availability is read: every topic must say "online" (mode all):
 * the service's bridge topic (its last will) and the meter's own status. */
typedef struct km_ha_availability {
        const char *bridge_topic; /* NULL for none */
        const char *meter_topic;
} km_ha_availability;

typedef struct km_ha_origin {
        const char *name;       /* "kaifa-meterd" */
        const char *sw_version;
        const char *support_url; /* NULL for none */
} km_ha_origin;

/* Builds the config topic and JSON for one entity. Both are heap strings the
 * caller frees. Returns 0 or a negative errno. */
int km_ha_config(const char *discovery_prefix, const km_ha_availability *avail, const km_ha_device *dev,
                 const km_ha_origin *origin, const km_ha_entity *e, char **ret_topic, char **ret_json);

/* The suggested_display_precision of a value in unit (a symbol as in the
 * config: "W", "kWh" ...) with device_class: decimals worth showing for what
 * meters resolve (W 0, V 1, A 2, kWh 3 ...); -1 for none (text values, a
 * unit this table does not know). */
int km_ha_display_precision(const char *unit, const char *device_class);

/* "power_active_import" -> "Power active import", "phase_voltage_l1" ->
 * "Phase voltage L1", "energy_active_cum_import" -> "Energy active
 * cumulative import", "meter_id" -> "Meter ID". */
void km_ha_friendly_name(const char *key, char *buf, size_t size);

/* Keeps [A-Za-z0-9_-], maps everything else to '_' (ids and topic levels). */
void km_ha_sanitize(const char *in, char *buf, size_t size);

#endif
