/*
 * The MQTT connection: a thin owner of one libmosquitto client that runs in
 * the caller's event loop (no thread). The caller watches km_mqtt_fd() for
 * input, and for output while km_mqtt_want_write() is true, calls
 * km_mqtt_tick() at km_mqtt_tick_due() (keepalive), and reconnects with its
 * own backoff when told the connection is down.
 *
 * Retained messages (state) wait while the broker is away or busy, one per
 * topic, newest wins, and are never dropped. Other publishes with QoS > 0
 * made while the broker is away are kept by libmosquitto and sent after the
 * reconnect; this module bounds and counts them (queue_limit): past the
 * limit, ordinary messages are dropped and counted, "keep" messages get a
 * second allowance of the same size. QoS 0 messages made while disconnected
 * are dropped and counted.
 *
 * This is the only file of the project that includes mosquitto.h.
 */
#ifndef KM_SINK_MQTT_H
#define KM_SINK_MQTT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct km_mqtt km_mqtt;

typedef enum km_mqtt_state {
        KM_MQTT_IDLE = 0,     /* never asked to connect */
        KM_MQTT_CONNECTING,   /* TCP/TLS/CONNECT under way */
        KM_MQTT_CONNECTED,    /* CONNACK accepted */
        KM_MQTT_DISCONNECTED, /* lost or refused; the caller retries */
} km_mqtt_state;

typedef struct km_mqtt_options {
        const char *host;
        int port;
        const char *client_id;
        const char *username; /* NULL: none */
        const char *password;
        bool tls;             /* TLS; with cafile NULL, trusting the system's CA store */
        const char *cafile;   /* the CA to trust (turns TLS on too) */
        const char *certfile;
        const char *keyfile;
        int keepalive;
        int queue_limit;
} km_mqtt_options;

typedef struct km_mqtt_handlers {
        /* CONNACK accepted: subscribe and publish birth messages here. */
        void (*connected)(void *userdata);
        /* The connection ended or was refused; reason is a short phrase. */
        void (*disconnected)(void *userdata, const char *reason);
        /* A message arrived on a subscribed topic. */
        void (*message)(void *userdata, const char *topic, const char *payload, size_t len);
} km_mqtt_handlers;

typedef struct km_mqtt_stats {
        uint64_t published; /* handed to libmosquitto */
        uint64_t delivered; /* QoS > 0 acknowledged by the broker */
        uint64_t dropped;   /* not sent: queue full, or QoS 0 while disconnected */
        uint64_t queued;    /* QoS > 0 not yet acknowledged (now) */
        uint64_t connects;  /* successful connections so far */
        uint64_t waiting;   /* retained topics waiting for the broker (now), one per topic */
        uint64_t coalesced; /* retained payloads replaced by a newer one while waiting */
} km_mqtt_stats;

/* Library setup; once per process. */
int km_mqtt_lib_init(void);
void km_mqtt_lib_cleanup(void);

/* Creates the client (no network yet). Returns 0 or a negative errno. */
int km_mqtt_new(const km_mqtt_options *opt, const km_mqtt_handlers *h, void *userdata,
                km_mqtt **ret_mqtt);

/* The last will, used from the next connection on. */
int km_mqtt_set_will(km_mqtt *m, const char *topic, const char *payload, int qos, bool retain);

/* Starts a connection (or a reconnection). Returns 0 when under way, or a
 * negative errno when it failed at once; *ret_reason then says why. */
int km_mqtt_connect(km_mqtt *m, const char **ret_reason);

/* Socket to watch, or -1. */
int km_mqtt_fd(km_mqtt *m);
bool km_mqtt_want_write(km_mqtt *m);

/* Event handlers; each returns 0, or a negative errno when the connection
 * was lost during the call (the disconnected handler has run). */
int km_mqtt_on_readable(km_mqtt *m);
int km_mqtt_on_writable(km_mqtt *m);
/* The socket hung up or has an error (EPOLLHUP/EPOLLERR): the connection is
 * reported lost even where libmosquitto would keep retrying a dead socket. */
int km_mqtt_on_hangup(km_mqtt *m);
/* Gives up on the connection (a broker that never answers CONNECT): the
 * disconnected handler runs with reason; the next connect closes the socket. */
void km_mqtt_abandon(km_mqtt *m, const char *reason);
int km_mqtt_tick(km_mqtt *m);

/* When km_mqtt_tick() should run next (CLOCK_MONOTONIC usec): keepalive
 * seconds after the last packet sent, so an idle link wakes once per
 * keepalive; 0 while not connected. */
uint64_t km_mqtt_tick_due(const km_mqtt *m);

/* Whether topic matches the subscription sub (+ and # wildcards). */
bool km_mqtt_topic_matches(const char *sub, const char *topic);

km_mqtt_state km_mqtt_get_state(const km_mqtt *m);
const char *km_mqtt_state_name(km_mqtt_state s);

/* Publishes (queues while disconnected, see above). keep marks a message
 * worth keeping past the ordinary queue limit. Returns 0, -ENOBUFS when
 * dropped, or another negative errno. */
int km_mqtt_publish(km_mqtt *m, const char *topic, const char *payload, int qos, bool retain,
                    bool keep);

int km_mqtt_subscribe(km_mqtt *m, const char *topic, int qos);

/* The messages published between these two leave the socket together
 * (TCP_CORK): a frame's values cost the broker one wake-up, not one each. */
void km_mqtt_batch_begin(km_mqtt *m);
void km_mqtt_batch_end(km_mqtt *m);

/* Sends DISCONNECT (the will is not sent); the socket closes when written. */
int km_mqtt_disconnect(km_mqtt *m);

void km_mqtt_get_stats(const km_mqtt *m, km_mqtt_stats *ret_stats);

/* Frees the client; accepts NULL. */
void km_mqtt_free(km_mqtt *m);

#endif
