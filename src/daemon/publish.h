/*
 * From readings to MQTT messages: per-value retained topics, the merged
 * state document, the availability topic and Home Assistant discovery.
 *
 * The publisher remembers the meter id. Readings that carry none (Kaifa and
 * Aidon list 1) are held until a reading names the meter, then published in
 * order. Meters that never send an id (Swedish Aidon, Danish Kamstrup CT
 * lists) would be held forever: after [meter] id_wait the caller calls
 * km_publisher_stop_waiting(), which names the device from the config id,
 * else the system title, else the meter's section name, and says so once.
 */
#ifndef KM_DAEMON_PUBLISH_H
#define KM_DAEMON_PUBLISH_H

#include <stdbool.h>
#include <stddef.h>

#include "daemon/config.h"
#include "daemon/derived.h"
#include "kaifa/reading.h"
#include "sinks/mqtt.h"

#define KM_METER_ID_MAX 64
#define KM_TOPIC_MAX 256

typedef struct km_publisher km_publisher;

typedef struct km_publisher_options {
        const char *prefix;
        int qos;             /* registers, identification, discovery, availability */
        int measurement_qos; /* momentary values (power, voltage, current) */
        bool discovery;
        const char *discovery_prefix;
        bool legacy_reactive;    /* discovery: kvarh without the reactive_energy class */
        const char *device_name; /* [meter] name, NULL for maker + type */
        km_meter_list list;      /* readings of another maker are ignored */
        const char *configured_id; /* [meter] id, NULL for none */
        const char *section;       /* the meter's section name, "meter" for [serial] + [meter] */
        const char *bridge_topic;  /* the service's availability (its last will) */
        int stale_after;           /* seconds; Home Assistant's expire_after follows from it */
        const km_derived_options *derived; /* energy per hour/day, capacity tariff; NULL: none */
} km_publisher_options;

/* Copies the option strings. */
int km_publisher_new(const km_publisher_options *opt, km_publisher **ret_publisher);
void km_publisher_free(km_publisher *p);

/* Where messages go; NULL until the connection exists. */
void km_publisher_set_mqtt(km_publisher *p, km_mqtt *m);

typedef enum km_publish_result {
        KM_PUBLISH_DONE = 0,     /* published (or queued) */
        KM_PUBLISH_HELD,         /* no meter id yet: held */
        KM_PUBLISH_IGNORED,      /* another maker than [meter] list */
        KM_PUBLISH_NEW_METER,    /* the meter id became known or changed: the
                                  * caller sets the will and (re)connects */
} km_publish_result;

km_publish_result km_publisher_reading(km_publisher *p, const km_reading *r);

/* No id in the data after waiting: names the device (see above), publishes
 * what was held. system_title is the ciphered frames' sender (hex), or NULL.
 * Returns KM_PUBLISH_NEW_METER, or KM_PUBLISH_DONE when nothing waited. */
km_publish_result km_publisher_stop_waiting(km_publisher *p, const char *system_title);

/* Whether readings are held waiting for an id. */
bool km_publisher_waiting(const km_publisher *p);

/* The meter's availability (<prefix>/<id>/status, retained): offline when
 * it went silent for stale_after, online again with the next frame. */
void km_publisher_set_available(km_publisher *p, bool online);

/* The meter id ("" while unknown) and the availability topic built from it. */
const char *km_publisher_meter_id(const km_publisher *p);
const char *km_publisher_status_topic(const km_publisher *p);

/* On each CONNACK: online, subscription to <discovery_prefix>/status,
 * discovery for every value seen so far. */
void km_publisher_connected(km_publisher *p);

/* A message on a subscribed topic (Home Assistant's birth message). */
void km_publisher_message(km_publisher *p, const char *topic, const char *payload);

/* Publishes "offline" (before a clean shutdown). Returns 0 or negative errno. */
int km_publisher_offline(km_publisher *p);

/* Counts for STATUS=: readings held now, readings published. */
size_t km_publisher_held(const km_publisher *p);
unsigned long long km_publisher_published(const km_publisher *p);

#endif
