/*
 * Shapes Home Assistant MQTT discovery configs with json-c. Every config
 * carries a stable unique_id (node + key), an availability list (the
 * service's bridge topic and the meter's status, both must say online),
 * expire_after where the value has a rhythm, suggested_display_precision
 * for numbers (see precisions[]), a device block built from the meter's own
 * identification, and an origin block naming this program.
 */
#include "sinks/homeassistant.h"

#include <ctype.h>
#include <errno.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void km_ha_sanitize(const char *in, char *buf, size_t size)
{
        size_t n = 0;
        if (size == 0)
                return;
        for (; *in && n + 1 < size; in++) {
                unsigned char ch = (unsigned char)*in;
                buf[n++] = (isalnum(ch) || ch == '_' || ch == '-') ? (char)ch : '_';
        }
        buf[n] = '\0';
}

static const struct {
        const char *word;
        const char *shown;
} words[] = {
        {"cum", "cumulative"}, {"id", "ID"},   {"l1", "L1"},   {"l2", "L2"},
        {"l3", "L3"},          {"t1", "T1"},   {"t2", "T2"},   {"obis", "OBIS"},
};

void km_ha_friendly_name(const char *key, char *buf, size_t size)
{
        size_t n = 0;
        if (size == 0)
                return;
        buf[0] = '\0';
        while (*key && n + 1 < size) {
                size_t len = strcspn(key, "_");
                const char *shown = NULL;
                for (size_t i = 0; i < sizeof(words) / sizeof(words[0]); i++)
                        if (strlen(words[i].word) == len && strncmp(words[i].word, key, len) == 0)
                                shown = words[i].shown;
                char word[64];
                snprintf(word, sizeof(word), "%.*s", (int)(len < 63 ? len : 63), key);
                if (!shown)
                        shown = word;
                int w = snprintf(buf + n, size - n, "%s%s", n ? " " : "", shown);
                if (w < 0 || (size_t)w >= size - n) {
                        n = size - 1;
                        break;
                }
                if (n == 0)
                        buf[0] = (char)toupper((unsigned char)buf[0]);
                n += (size_t)w;
                key += len;
                if (*key == '_')
                        key++;
        }
        buf[n] = '\0';
}

static void add_str(json_object *o, const char *k, const char *v)
{
        if (v && *v)
                json_object_object_add(o, k, json_object_new_string(v));
}

/* Decimals per unit: what the meters resolve, not more (a Kaifa list sends
 * W and var as integers, voltages in 0.1 V, currents in 0.001 A, energy
 * registers in Wh, shown in kWh; P1 sends kW with three decimals, shown in W). */
static const struct {
        const char *unit;
        int decimals;
} precisions[] = {
        {"W", 0},   {"var", 0},   {"VA", 0},   {"kW", 3},   {"kvar", 3},  {"kVA", 3},
        {"Wh", 0},  {"varh", 0},  {"VAh", 0},  {"kWh", 3},  {"kvarh", 3}, {"kVAh", 3},
        {"V", 1},   {"A", 2},     {"Hz", 2},   {"%", 1},    {"°C", 1},    {"s", 0},
        {"m³", 3},  {"GJ", 3},
};

int km_ha_display_precision(const char *unit, const char *device_class)
{
        if (!unit || !*unit)
                /* a power factor is a plain ratio, 0.00 ... 1.00 */
                return device_class && strcmp(device_class, "power_factor") == 0 ? 2 : -1;
        for (size_t i = 0; i < sizeof(precisions) / sizeof(precisions[0]); i++)
                if (strcmp(precisions[i].unit, unit) == 0)
                        return precisions[i].decimals;
        return -1;
}

static json_object *device_block(const km_ha_device *dev, const char *node)
{
        json_object *d = json_object_new_object();
        json_object *ids = json_object_new_array();
        json_object_array_add(ids, json_object_new_string(node));
        json_object_object_add(d, "identifiers", ids);
        add_str(d, "manufacturer", dev->manufacturer);
        add_str(d, "model", dev->model);
        char name[128];
        if (dev->name && *dev->name)
                snprintf(name, sizeof(name), "%s", dev->name);
        else if (dev->model && *dev->model)
                snprintf(name, sizeof(name), "%s %s", dev->manufacturer ? dev->manufacturer : "Meter",
                         dev->model);
        else
                snprintf(name, sizeof(name), "%s meter %s", dev->manufacturer ? dev->manufacturer : "Electricity",
                         dev->meter_id);
        add_str(d, "name", name);
        add_str(d, "sw_version", dev->sw_version);
        add_str(d, "serial_number", dev->meter_id);
        return d;
}

static json_object *origin_block(const km_ha_origin *origin)
{
        json_object *o = json_object_new_object();
        add_str(o, "name", origin->name);
        add_str(o, "sw_version", origin->sw_version);
        add_str(o, "support_url", origin->support_url);
        return o;
}

static json_object *availability_block(const km_ha_availability *avail)
{
        json_object *a = json_object_new_array();
        const char *topics[] = {avail->bridge_topic, avail->meter_topic};
        for (size_t i = 0; i < 2; i++) {
                if (!topics[i])
                        continue;
                json_object *t = json_object_new_object();
                add_str(t, "topic", topics[i]);
                add_str(t, "payload_available", "online");
                add_str(t, "payload_not_available", "offline");
                json_object_array_add(a, t);
        }
        return a;
}

int km_ha_config(const char *discovery_prefix, const km_ha_availability *avail, const km_ha_device *dev,
                 const km_ha_origin *origin, const km_ha_entity *e, char **ret_topic, char **ret_json)
{
        char id[96], node[112], object[96], unique[224], name[128];
        km_ha_sanitize(dev->meter_id, id, sizeof(id));
        snprintf(node, sizeof(node), "kaifa_%s", id);
        km_ha_sanitize(e->key, object, sizeof(object));
        snprintf(unique, sizeof(unique), "%s_%s", node, object);
        km_ha_friendly_name(e->key, name, sizeof(name));

        json_object *c = json_object_new_object();
        if (!c)
                return -ENOMEM;
        add_str(c, "name", name);
        add_str(c, "unique_id", unique);
        add_str(c, "state_topic", e->state_topic);
        json_object_object_add(c, "availability", availability_block(avail));
        add_str(c, "availability_mode", "all");
        if (e->expire_after > 0)
                json_object_object_add(c, "expire_after", json_object_new_int(e->expire_after));
        const char *device_class = e->device_class;
        if (e->legacy_reactive && device_class && strcmp(device_class, "reactive_energy") == 0)
                device_class = NULL;
        add_str(c, "device_class", device_class);
        add_str(c, "state_class", e->state_class);
        add_str(c, "unit_of_measurement", e->unit);
        add_str(c, "json_attributes_topic", e->json_attributes_topic);
        add_str(c, "last_reset_value_template", e->last_reset_value_template);
        int precision = km_ha_display_precision(e->unit, e->device_class);
        if (precision >= 0)
                json_object_object_add(c, "suggested_display_precision", json_object_new_int(precision));
        if (e->diagnostic)
                add_str(c, "entity_category", "diagnostic");
        json_object_object_add(c, "device", device_block(dev, node));
        json_object_object_add(c, "origin", origin_block(origin));

        char *topic = NULL, *json = NULL;
        if (asprintf(&topic, "%s/sensor/%s/%s/config", discovery_prefix, node, object) < 0)
                topic = NULL;
        const char *s = json_object_to_json_string_ext(c, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE);
        json = s ? strdup(s) : NULL;
        json_object_put(c);
        if (!topic || !json) {
                free(topic);
                free(json);
                return -ENOMEM;
        }
        *ret_topic = topic;
        *ret_json = json;
        return 0;
}
