/*
 * One meter of kaifa-meterd: its source (serial port, pty, TCP serial
 * server, file, FIFO, or an MQTT topic of raw frames fed by the manager),
 * its decoder with parity and transport detection, its keys, its
 * publisher (id, values, availability, discovery) and what it tells the
 * log. A meter never talks to the broker's socket itself: it publishes
 * through the manager's one connection and calls changed() so the manager
 * can write what was queued.
 */
#ifndef KM_DAEMON_METER_H
#define KM_DAEMON_METER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <systemd/sd-event.h>

#include "daemon/config.h"
#include "daemon/outputs.h"
#include "daemon/publish.h"
#include "kaifa/decoder.h"
#include "security/session.h"
#include "sinks/mqtt.h"

typedef struct kmd_meter kmd_meter;

/* What a meter shares with the others, owned by the manager. */
typedef struct kmd_meter_env {
        sd_event *ev;
        const km_config *cfg;     /* the shared sections ([mqtt], [homeassistant]) */
        kmd_outputs *out;
        const char *bridge_topic; /* the service's availability */
        bool several;             /* more than one meter: log lines name the meter */
        /* Something was published or the meter's state changed. */
        void (*changed)(void *userdata);
        void *userdata;
} kmd_meter_env;

/* env is kept by pointer; mc until kmd_meter_reconfigure() gives another. */
int kmd_meter_new(const kmd_meter_env *env, const km_meter_config *mc, kmd_meter **ret);
void kmd_meter_free(kmd_meter *m);

/* Opens the source (a retry timer when it does not open). */
void kmd_meter_start(kmd_meter *m);

/* Stopping: the source is closed, nothing more is read. */
void kmd_meter_stop(kmd_meter *m);

/* SIGHUP: the meter's new section (same name). The source is reopened
 * when its settings changed or it had ended; the publisher is made anew
 * when the meter's naming changed or republish is set (new shared MQTT
 * settings): the old one says offline first. */
void kmd_meter_reconfigure(kmd_meter *m, const km_meter_config *mc, bool republish);

/* The broker connection, NULL while there is none. */
void kmd_meter_set_mqtt(kmd_meter *m, km_mqtt *mqtt);

/* CONNACK: availability, discovery, subscriptions. */
void kmd_meter_connected(kmd_meter *m);

/* A message of a subscribed topic: Home Assistant's birth message, or a raw
 * frame when topic matches the meter's mqtt:// source. */
void kmd_meter_message(kmd_meter *m, const char *topic, const char *payload, size_t len);

/* "offline" for the meter (before a clean stop or a new publisher). */
void kmd_meter_offline(kmd_meter *m);

/* The MQTT topic the meter reads raw frames from, or NULL. */
const char *kmd_meter_topic(const kmd_meter *m);

const char *kmd_meter_section(const kmd_meter *m);

/* For STATUS=: the decoder's counters, the security counters, the time of
 * the last good frame (CLOCK_REALTIME seconds, 0 = none). */
typedef struct kmd_meter_status {
        uint64_t readings, checksum_errors;
        uint64_t decrypted, auth_failed, decrypt_failed, replays, no_key;
        bool has_key;
        bool waiting_for_id;
        bool open; /* the source is open (always for an MQTT source) */
        bool stale;
        int64_t last_frame; /* realtime seconds */
} kmd_meter_status;

void kmd_meter_get_status(const kmd_meter *m, kmd_meter_status *ret);

#endif
