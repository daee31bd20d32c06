/*
 * The daemon's configuration: an INI file read with inih into one plain
 * struct, every key described once in a table (section, name, parser, field,
 * default). Unknown sections and keys, bad values and contradictions are
 * reported as "FILE:LINE: message"; the caller exits with EX_CONFIG (78).
 *
 * Adding a section is one edit in config.c: a row in the section table, rows
 * in the key table, and fields here. [postgresql] and [file] are optional
 * outputs: present in the file means enabled.
 */
#ifndef KM_DAEMON_CONFIG_H
#define KM_DAEMON_CONFIG_H

#include "kaifa/families.h"
#include "kaifa/frame.h"
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "derived/capacity.h"
#include "security/keyring.h"
#include "sources/source.h"

#define KM_CONFIG_DEFAULT_PATH "/etc/kaifa-meter/kaifa-meter.conf"
#define KM_CONFIG_ERR_MAX 512

/* [meter] list: a family of the decoder's table (kaifa/families.h), or NULL
 * for any. */
typedef const km_family *km_meter_list;

/* One meter: where its bytes come from ([serial] keys) and how it is named
 * and decoded ([meter] keys). */
typedef struct km_meter_config {
        char *section; /* "meter" for [serial] + [meter], NAME for [meter.NAME] */

        struct {
                char *port;       /* device, tcp://host:port, mqtt://topic, file or FIFO */
                int baud;
                int data_bits;    /* 8, or 7 for DSMR 2.2/3 P1 (9600 7E1) */
                bool parity_auto; /* try 8E1, then 8N1 */
                km_parity parity; /* when !parity_auto */
                km_transport transport; /* KM_TRANSPORT_AUTO detects */
                bool hex;               /* the source sends hex text */
        } serial;

        struct {
                km_meter_list list;
                char *name; /* device name in Home Assistant; NULL = maker and type */
                char *id;   /* device id when the data carries none; NULL = derived */
                int stale_after; /* seconds without a good frame before status = offline */
                int id_wait;     /* seconds readings wait for an id in the data */
                /* Keys of an encrypted meter: key= and auth_key= (32 hex
                 * digits), or key_file= (EK=/AK= lines), or the systemd
                 * credentials kaifa-meter-key and kaifa-meter-auth-key in
                 * $CREDENTIALS_DIRECTORY when the file names none (one
                 * meter only). */
                km_key key;
                char *key_file;
                bool key_from_credentials;
                char *timezone;  /* tzdata name: places the hours of the derived values */
        } meter;
} km_meter_config;

/* The prefix of a source that is an MQTT topic on the [mqtt] broker. */
#define KM_MQTT_SOURCE_PREFIX "mqtt://"

typedef struct km_config {
        char *path; /* the file read */

        /* At least one: the plain [serial] + [meter] sections, and/or one
         * per [meter.NAME] section, in the order first seen. */
        km_meter_config *meters;
        size_t n_meters;

        struct {
                bool enabled;      /* the capacity tariff figures */
                char *steps_text;  /* as written */
                km_cap_steps steps;
        } capacity;

        struct {
                char *host;
                int port;      /* 0 = 1883, or 8883 with TLS */
                char *client_id;
                char *username;
                char *password; /* from password= or the first line of password_file */
                char *password_file;
                int tls;        /* -1 auto (on with cafile), 0 no, 1 yes (no cafile: the system's CA store) */
                char *cafile;
                char *certfile;
                char *keyfile;
                int keepalive;
                int qos;
                int measurement_qos; /* momentary values, repeated within seconds */
                char *prefix;
                int queue_limit;
        } mqtt;

        struct {
                bool discovery;
                char *discovery_prefix;
                bool legacy_reactive; /* kvarh without the reactive_energy class (HA before 2025.6) */
        } homeassistant;

        struct {
                bool enabled; /* the section is in the file */
                char *conninfo; /* libpq connection string or URI; the parts below override it */
                char *dbname;
                char *user;
                char *host;     /* host name, IP address or unix socket directory */
                char *port;     /* checked to be 1 ... 65535 */
                char *password_file;
                char *table;    /* required when enabled */
                int queue_size; /* rows held while the server is away */
        } postgresql;

        struct {
                bool enabled; /* the section is in the file */
                char *path;   /* JSON-lines file, absolute; required when enabled */
        } file;

        struct {
                int level; /* syslog priority */
        } log;
} km_config;

/* Fills *cfg with the defaults (strings are heap copies), one meter. */
int km_config_defaults(km_config *cfg);

/* Reads path over the defaults, then the drop-ins conf.d/NAME.conf files of path's
 * directory in name order (a key set again there wins). Returns 0, or
 * -EINVAL (bad content) or a negative errno (file unreadable) with
 * "FILE:LINE: message" in err. */
int km_config_load(const char *path, km_config *ret_cfg, char *err, size_t err_size);

/* Same, from a string (tests); name is used in messages. */
int km_config_load_string(const char *name, const char *text, km_config *ret_cfg, char *err,
                          size_t err_size);

/* The meter whose source is an MQTT topic (mqtt://TOPIC): its topic, or NULL. */
const char *km_meter_config_topic(const km_meter_config *m);

/* Frees the strings; accepts a zeroed struct. */
void km_config_free(km_config *cfg);

const char *km_meter_list_name(km_meter_list l);

/* Whether MQTT uses TLS: tls = yes, or tls = auto with a cafile. */
bool km_config_mqtt_tls(const km_config *cfg);

/* Writes the effective configuration as INI (password masked), for
 * --check-config with -v and for the docs test. */
void km_config_dump(const km_config *cfg, FILE *f);

#endif
