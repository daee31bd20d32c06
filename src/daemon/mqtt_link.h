/*
 * kaifa-meterd's one connection to the broker, shared by every meter: it
 * connects at start (a wrong host or password shows before any frame),
 * reconnects with backoff (1 s doubling to 10 s), keeps libmosquitto's
 * socket watched on the manager's sd-event loop, sends keepalive pings from
 * a timer armed keepalive seconds after the last packet (an idle link wakes
 * once per keepalive, never once a second), and owns the service's
 * availability: the last will, a retained "offline" on
 * <prefix>/bridge/<client id>/status, and "online" on every CONNACK.
 */
#ifndef KM_DAEMON_MQTT_LINK_H
#define KM_DAEMON_MQTT_LINK_H

#include <stdbool.h>
#include <stddef.h>
#include <systemd/sd-event.h>

#include "daemon/config.h"
#include "sinks/mqtt.h"

typedef struct kmd_link kmd_link;

typedef struct kmd_link_handlers {
        /* CONNACK: the meters publish their availability and discovery. */
        void (*connected)(void *userdata);
        /* A message on a subscribed topic. */
        void (*message)(void *userdata, const char *topic, const char *payload, size_t len);
        /* After socket activity: the manager checks whether a stop is done. */
        void (*idle)(void *userdata);
} kmd_link_handlers;

/* cfg is read now (a copy is kept of what is needed); config_path names
 * the default client id. */
int kmd_link_new(sd_event *ev, const km_config *cfg, const char *config_path, const kmd_link_handlers *h,
                 void *userdata, kmd_link **ret);

/* Connects (from a timer: at once). */
void kmd_link_start(kmd_link *l);

km_mqtt *kmd_link_mqtt(kmd_link *l);
const char *kmd_link_bridge_topic(const kmd_link *l);

/* After publishing: the socket is watched for writing while something
 * waits, and the keepalive timer follows the last packet. */
void kmd_link_sync(kmd_link *l);

/* Stopping: bridge "offline" and DISCONNECT when connected. Afterwards
 * kmd_link_done() tells when the broker has it (or the socket is gone). */
void kmd_link_goodbye(kmd_link *l);
bool kmd_link_done(const kmd_link *l);

/* SIGHUP with new [mqtt] settings: offline, DISCONNECT, pushed out now. */
void kmd_link_close_now(kmd_link *l);

/* For STATUS=: the state's name ("connected") and the counters. */
void kmd_link_status(const kmd_link *l, const char **ret_state, km_mqtt_stats *ret_stats);

/* Dropped messages: one line a minute at most, with the count. */
void kmd_link_log_drops(kmd_link *l);

void kmd_link_free(kmd_link *l);

/* Whether two configurations connect the same way. */
bool kmd_link_settings_changed(const km_config *a, const km_config *b);

#endif
