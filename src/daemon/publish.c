/*
 * The publisher: turns each reading into retained MQTT messages under
 * <prefix>/<meter id>/, keeps the latest payload of every value it has seen
 * (the "slots") for the merged state document and for Home Assistant
 * discovery, and holds readings that carry no meter id until one does.
 */
#include "daemon/publish.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "daemon/derived.h"
#include "daemon/values.h"
#include "sinks/homeassistant.h"
#include "sinks/json_writer.h"
#include "sinks/textbuf.h"
#include "util/log.h"

#define MAX_SLOTS 96
#define MAX_HELD 8
/* kinds of publish failure remembered, each logged once per connection */
#define MAX_FAILURE_KINDS 8

typedef struct slot {
        char key[KM_KEY_MAX];
        char payload[KM_PAYLOAD_MAX];
        bool numeric;
        const km_obis_info *info;
        const char *unit;         /* static symbol */
        const char *device_class; /* static, may be NULL */
        const char *state_class;  /* static, may be NULL */
        bool derived;             /* a derived value (daemon/derived.h), not the meter's */
        bool hourly_cycle;        /* derived: state class total, a new cycle each hour */
        bool diagnostic;
        bool announced;
        /* a momentary value, sent at measurement_qos. A topic keeps one QoS:
         * libmosquitto holds QoS 1 messages back while 20 are unacknowledged
         * and sends QoS 0 at once, so a topic sent both ways could end with
         * an older payload retained. */
        bool measurement;
} slot;

struct km_publisher {
        char *prefix;
        int qos, measurement_qos;
        bool discovery;
        char *discovery_prefix;
        bool legacy_reactive;
        char *device_name;
        char *configured_id, *section, *bridge_topic;
        int stale_after;
        bool available;
        km_meter_list list;
        km_mqtt *mqtt;

        char meter_id[KM_METER_ID_MAX];
        char status_topic[KM_TOPIC_MAX];
        const char *maker; /* static, from the readings */
        char list_name[64];
        bool warned_ignored;

        slot slots[MAX_SLOTS];
        size_t n_slots;

        km_derived *derived; /* NULL: no derived values */

        km_textbuf doc; /* the state document, reused from reading to reading */

        km_reading *held; /* ring of MAX_HELD */
        size_t held_start, held_count;
        unsigned long long published;
        int failures_logged[MAX_FAILURE_KINDS]; /* negative errnos, 0 = free */
};


int km_publisher_new(const km_publisher_options *opt, km_publisher **ret)
{
        km_publisher *p = calloc(1, sizeof(*p));
        if (!p)
                return -ENOMEM;
        p->prefix = strdup(opt->prefix);
        p->discovery_prefix = strdup(opt->discovery_prefix);
        p->device_name = opt->device_name ? strdup(opt->device_name) : NULL;
        p->held = calloc(MAX_HELD, sizeof(km_reading));
        p->configured_id = opt->configured_id ? strdup(opt->configured_id) : NULL;
        p->section = strdup(opt->section ? opt->section : "meter");
        p->bridge_topic = opt->bridge_topic ? strdup(opt->bridge_topic) : NULL;
        p->stale_after = opt->stale_after;
        p->available = true;
        p->qos = opt->qos;
        p->measurement_qos = opt->measurement_qos;
        p->discovery = opt->discovery;
        p->legacy_reactive = opt->legacy_reactive;
        p->list = opt->list;
        if (opt->derived) {
                int r = km_derived_new(opt->derived, &p->derived);
                if (r == -ENOENT) /* only the default zone may be missing (config.c) */
                        km_log_warning("no derived values: time zone %s is not in /usr/share/zoneinfo "
                                       "(install tzdata, or set [meter] timezone)",
                                       opt->derived->timezone);
                else if (r < 0) {
                        km_publisher_free(p);
                        return r;
                }
        }
        if (!p->prefix || !p->discovery_prefix || !p->held || (opt->device_name && !p->device_name) || !p->section ||
            (opt->configured_id && !p->configured_id) || (opt->bridge_topic && !p->bridge_topic)) {
                km_publisher_free(p);
                return -ENOMEM;
        }
        *ret = p;
        return 0;
}

void km_publisher_free(km_publisher *p)
{
        if (!p)
                return;
        free(p->prefix);
        free(p->discovery_prefix);
        free(p->device_name);
        free(p->configured_id);
        free(p->section);
        free(p->bridge_topic);
        km_textbuf_free(&p->doc);
        free(p->held);
        km_derived_free(p->derived);
        free(p);
}

void km_publisher_set_mqtt(km_publisher *p, km_mqtt *m)
{
        p->mqtt = m;
}

const char *km_publisher_meter_id(const km_publisher *p)
{
        return p->meter_id;
}

const char *km_publisher_status_topic(const km_publisher *p)
{
        return p->status_topic;
}

size_t km_publisher_held(const km_publisher *p)
{
        return p->held_count;
}

unsigned long long km_publisher_published(const km_publisher *p)
{
        return p->published;
}

static const char *failure_text(int r)
{
        switch (r) {
        case -ENOBUFS: return "queue full, or QoS 0 while the broker is away";
        case -EILSEQ: return "the topic is not valid UTF-8";
        case -EINVAL: return "not a valid MQTT topic";
        case -EMSGSIZE: return "the message is too big";
        default: return strerror(-r);
        }
}

/* A failed publish is logged once per kind (and connection), then only
 * counted (STATUS= shows the drops): a failure that hits every message must
 * not write a line per message. */
static void publish_failed(km_publisher *p, const char *topic, int r)
{
        size_t i = 0;
        while (i < MAX_FAILURE_KINDS && p->failures_logged[i] && p->failures_logged[i] != r)
                i++;
        if (r == -ENOBUFS)
                return; /* drops: the daemon logs their count, at most once a minute */
        if (i == MAX_FAILURE_KINDS || p->failures_logged[i] == r)
                return;
        p->failures_logged[i] = r;
        km_log(r == -ENOBUFS ? LOG_NOTICE : LOG_WARNING,
               "publish %s: %s; messages failing this way are counted in STATUS=, not logged", topic,
               failure_text(r));
}

static void publish_with(km_publisher *p, const char *topic, const char *payload, int qos, bool keep)
{
        if (!p->mqtt)
                return;
        int r = km_mqtt_publish(p->mqtt, topic, payload, qos, true, keep);
        if (r == 0)
                p->published++;
        else
                publish_failed(p, topic, r);
}

static void publish(km_publisher *p, const char *topic, const char *payload, bool keep)
{
        publish_with(p, topic, payload, p->qos, keep);
}

/* ---- slots and discovery ------------------------------------------------ */

/* "<prefix>/<meter id>/<key>" into buf (KM_TOPIC_MAX): the topic of every
 * value, built for each value of each frame, so without printf. */
static const char *value_topic(const km_publisher *p, const char *key, char *buf)
{
        size_t n = km_copy_str(buf, KM_TOPIC_MAX, p->prefix);
        if (n + 1 < KM_TOPIC_MAX)
                buf[n++] = '/';
        n += km_copy_str(buf + n, KM_TOPIC_MAX - n, p->meter_id);
        if (n + 1 < KM_TOPIC_MAX)
                buf[n++] = '/';
        km_copy_str(buf + n, KM_TOPIC_MAX - n, key);
        return buf;
}

static slot *find_slot(km_publisher *p, const char *key)
{
        for (size_t i = 0; i < p->n_slots; i++)
                if (strcmp(p->slots[i].key, key) == 0)
                        return &p->slots[i];
        return NULL;
}

static const char *slot_text(km_publisher *p, const char *key)
{
        slot *s = find_slot(p, key);
        return s ? s->payload : NULL;
}

/* Values a meter sends with every list expire once it has been silent for
 * stale_after; hourly energy registers get an hour more; identification
 * (diagnostic) does not expire; derived values, the slowest of which
 * change once an hour, get the hour too. */
static int expire_after(const km_publisher *p, const slot *s)
{
        if (s->diagnostic || p->stale_after <= 0)
                return 0;
        if (s->derived) /* the slowest are booked once an hour */
                return 3600 + p->stale_after;
        if (s->state_class && strcmp(s->state_class, "total_increasing") == 0)
                return 3600 + p->stale_after;
        return p->stale_after;
}

static void announce(km_publisher *p, slot *s)
{
        if (!p->discovery || !p->mqtt || km_mqtt_get_state(p->mqtt) != KM_MQTT_CONNECTED || !p->meter_id[0])
                return;
        char state_topic[KM_TOPIC_MAX];
        value_topic(p, s->key, state_topic);
        char attr_topic[KM_TOPIC_MAX + 16];
        bool attributes = p->derived && km_derived_attributes(p->derived, s->key);
        snprintf(attr_topic, sizeof(attr_topic), "%s/attributes", state_topic);
        km_ha_device dev = {
                .meter_id = p->meter_id,
                .manufacturer = p->maker ? p->maker : "Unknown",
                .model = slot_text(p, "meter_type"),
                .name = p->device_name,
                .sw_version = slot_text(p, "obis_version"),
        };
        km_ha_origin origin = {.name = "kaifa-meterd", .sw_version = KM_VERSION, .support_url = NULL};
        km_ha_entity e = {
                .key = s->key,
                .state_topic = state_topic,
                .unit = s->unit,
                .device_class = s->device_class,
                .state_class = s->state_class,
                .diagnostic = s->diagnostic,
                .json_attributes_topic = attributes ? attr_topic : NULL,
                /* the hour's start, from the attributes published before each value */
                .last_reset_value_template = s->hourly_cycle ? "{{ state_attr(entity_id, 'start') }}" : NULL,
                .expire_after = expire_after(p, s),
                .legacy_reactive = p->legacy_reactive,
        };
        km_ha_availability avail = {.bridge_topic = p->bridge_topic, .meter_topic = p->status_topic};
        char *topic = NULL, *json = NULL;
        if (km_ha_config(p->discovery_prefix, &avail, &dev, &origin, &e, &topic, &json) < 0)
                return;
        /* discovery configs are kept like energy values: HA needs them */
        publish(p, topic, json, true);
        s->announced = true;
        free(topic);
        free(json);
}

static void announce_all(km_publisher *p)
{
        for (size_t i = 0; i < p->n_slots; i++)
                announce(p, &p->slots[i]);
}

/* Updates the slot of one value; returns it, or NULL when full. */
static slot *update_slot(km_publisher *p, const km_value *v, const char *key, const char *payload, bool numeric,
                         bool *ret_new)
{
        slot *s = find_slot(p, key);
        *ret_new = false;
        if (!s) {
                if (p->n_slots >= MAX_SLOTS)
                        return NULL;
                s = &p->slots[p->n_slots++];
                memset(s, 0, sizeof(*s));
                km_copy_str(s->key, sizeof(s->key), key);
                *ret_new = true;
        }
        km_copy_str(s->payload, sizeof(s->payload), payload);
        s->numeric = numeric;
        s->info = v->info;
        s->unit = numeric ? km_value_unit(v) : NULL;
        s->device_class = v->info ? v->info->device_class : NULL;
        s->state_class = v->info ? v->info->state_class : NULL;
        /* Home Assistant's timestamp class needs a time zone; the meter may not send one */
        if (v->kind == KM_VALUE_DATETIME && v->datetime.deviation == KM_DEVIATION_UNSPECIFIED)
                s->device_class = NULL;
        /* text, and numbers that are no measurement (limiter thresholds,
         * event counters: no state_class) describe the meter */
        s->diagnostic = !numeric || !(v->info && v->info->state_class);
        return s;
}

/* ---- readings ----------------------------------------------------------- */

/* The OBIS table gives a P1 M-Bus device's reading (0-n:24.2.x, 24.3.0) the
 * classes of gas, the usual device. Heat sent in GJ is energy; a device
 * whose type (0-n:24.1.0 in the same telegram) is 7 is a water meter. */
static const char *mbus_device_class(const km_reading *r, const km_value *v, const char *dc)
{
        const uint8_t *o = v->obis;
        if (o[0] != 0 || o[1] == 0 || o[2] != 24 || (o[3] != 2 && o[3] != 3))
                return dc;
        if (v->unit == KM_UNIT_GJ)
                return "energy";
        for (size_t i = 0; i < r->n_values; i++) {
                const km_value *t = &r->values[i];
                if (t->obis[0] == 0 && t->obis[1] == o[1] && t->obis[2] == 24 && t->obis[3] == 1 &&
                    t->obis[4] == 0 && t->kind == KM_VALUE_TEXT && atoi(t->text) == 7)
                        return "water";
        }
        return v->unit == KM_UNIT_M3 ? dc : NULL;
}

/* ---- derived values (daemon/derived.h) ---------------------------------- */

static uint64_t monotonic_usec(void)
{
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t)ts.tv_sec * 1000000ULL + (uint64_t)ts.tv_nsec / 1000;
}

static void publish_attributes(km_publisher *p, const char *key, const char *json)
{
        char topic[KM_TOPIC_MAX];
        snprintf(topic, sizeof(topic), "%s/%s/%s/attributes", p->prefix, p->meter_id, key);
        publish(p, topic, json, true);
}

/* A derived value's slot: classes from the derived module, not the OBIS table. */
static slot *derived_slot(km_publisher *p, const km_derived_out *o, bool *ret_new)
{
        slot *s = find_slot(p, o->key);
        *ret_new = false;
        if (!s) {
                if (p->n_slots >= MAX_SLOTS)
                        return NULL;
                s = &p->slots[p->n_slots++];
                memset(s, 0, sizeof(*s));
                km_copy_str(s->key, sizeof(s->key), o->key);
                *ret_new = true;
        }
        km_copy_str(s->payload, sizeof(s->payload), o->payload);
        s->numeric = o->unit != NULL;
        s->unit = o->unit;
        s->device_class = o->device_class;
        s->state_class = o->state_class;
        s->derived = true;
        s->hourly_cycle = o->hourly_cycle;
        return s;
}

static void publish_derived(km_publisher *p, const km_reading *r)
{
        if (!p->derived)
                return;
        km_derived_out out[KM_DERIVED_MAX_OUT];
        size_t n = km_derived_reading(p->derived, p->meter_id, r, monotonic_usec(), out);
        char topic[KM_TOPIC_MAX];
        for (size_t i = 0; i < n; i++) {
                bool is_new;
                slot *s = derived_slot(p, &out[i], &is_new);
                /* attributes first: Home Assistant reads them with the state */
                if (out[i].attributes)
                        publish_attributes(p, out[i].key, out[i].attributes);
                value_topic(p, out[i].key, topic);
                publish(p, topic, out[i].payload, true);
                if (s && (is_new || !s->announced))
                        announce(p, s);
        }
}

/* strftime's "%Y-%m-%dT%H:%M:%SZ" of t into buf (>= 32 bytes), without
 * strftime (once per frame); returns the length. */
static size_t utc_timestamp(time_t t, char *buf)
{
        struct tm tm;
        if (!gmtime_r(&t, &tm))
                return km_copy_str(buf, 32, "1970-01-01T00:00:00Z");
        const int field[6] = {tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec};
        static const char after[6] = {'-', '-', 'T', ':', ':', 'Z'};
        size_t n = 0;
        for (int i = 0; i < 6; i++) {
                n += km_fmt_uint_pad(buf + n, (unsigned)field[i], i == 0 ? 4 : 2);
                buf[n++] = after[i];
        }
        buf[n] = '\0';
        return n;
}

/* Every value's latest payload in one JSON object, written into the
 * publisher's reused buffer (no allocation once it has grown); NULL when
 * out of memory. Numbers go as the payload text, as their topics have them. */
static const char *state_document(km_publisher *p)
{
        char now[32];
        size_t now_len = utc_timestamp(time(NULL), now);
        km_jw w;
        p->doc.len = 0;
        p->doc.failed = false;
        km_jw_init(&w, &p->doc, false);
        km_jw_begin(&w, NULL);
        km_jw_string(&w, "meter_id", p->meter_id, strlen(p->meter_id));
        km_jw_string(&w, "list", p->list_name, strlen(p->list_name));
        km_jw_const(&w, "received", now, now_len);
        for (size_t i = 0; i < p->n_slots; i++) {
                const slot *s = &p->slots[i];
                if (strcmp(s->key, "meter_id") == 0)
                        continue;
                if (s->numeric)
                        km_jw_raw(&w, s->key, s->payload, strlen(s->payload));
                else
                        km_jw_string(&w, s->key, s->payload, strlen(s->payload));
        }
        km_jw_end(&w);
        km_textbuf_putc(&p->doc, '\0');
        return p->doc.failed ? NULL : p->doc.p;
}

/* At measurement_qos always: it goes with every frame (see slot.measurement). */
static void publish_state_document(km_publisher *p, bool keep)
{
        char topic[KM_TOPIC_MAX];
        const char *doc = state_document(p);
        if (!doc)
                return;
        value_topic(p, "state", topic);
        publish_with(p, topic, doc, p->measurement_qos, keep);
}

/* Momentary values are sent again within seconds: one lost on a broken
 * connection is replaced by the next (and the latest goes out again on the
 * reconnect), so they can go at measurement_qos, without an
 * acknowledgement each. Registers and text go at qos. */
static bool is_measurement(const km_value *v)
{
        return v->info && v->info->state_class && strcmp(v->info->state_class, "measurement") == 0;
}

static void publish_reading(km_publisher *p, const km_reading *r)
{
        bool keep = false, device_changed = false;
        char topic[KM_TOPIC_MAX];
        if (r->maker)
                p->maker = r->maker;
        if (r->list_name)
                km_copy_str(p->list_name, sizeof(p->list_name), r->list_name);
        for (size_t i = 0; i < r->n_values; i++) {
                const km_value *v = &r->values[i];
                char key[KM_KEY_MAX], payload[KM_PAYLOAD_MAX];
                bool numeric, is_new;
                if (v->log_entry)
                        continue; /* P1 log entries (power failures, demand history) are not sensors */
                km_value_key(v, key, sizeof(key));
                km_value_payload(v, payload, sizeof(payload), &numeric);
                bool energy = v->info && v->info->state_class && strcmp(v->info->state_class, "total_increasing") == 0;
                keep |= energy;
                slot *s = find_slot(p, key);
                bool same = s && strcmp(s->payload, payload) == 0;
                if (s && !same && (strcmp(key, "meter_type") == 0 || strcmp(key, "obis_version") == 0))
                        device_changed = true;
                /* identification (id, type, firmware) never expires in Home
                 * Assistant and is retained: sent when it changes and after
                 * each connect, not with every list */
                if (same && s->diagnostic && (s->announced || !p->discovery))
                        continue;
                s = update_slot(p, v, key, payload, numeric, &is_new);
                bool measurement = is_measurement(v);
                if (s) {
                        s->device_class = mbus_device_class(r, v, s->device_class);
                        s->measurement = measurement;
                }
                value_topic(p, key, topic);
                publish_with(p, topic, payload, measurement ? p->measurement_qos : p->qos, energy);
                if (s && (is_new || !s->announced))
                        announce(p, s);
        }
        publish_derived(p, r);
        if (device_changed)
                announce_all(p);
        publish_state_document(p, keep);
}

static void hold(km_publisher *p, const km_reading *r)
{
        size_t idx = (p->held_start + p->held_count) % MAX_HELD;
        if (p->held_count == MAX_HELD) {
                p->held_start = (p->held_start + 1) % MAX_HELD; /* the oldest goes */
                idx = (p->held_start + p->held_count - 1) % MAX_HELD;
        } else {
                p->held_count++;
        }
        p->held[idx] = *r;
}

static void flush_held(km_publisher *p)
{
        while (p->held_count > 0) {
                publish_reading(p, &p->held[p->held_start]);
                p->held_start = (p->held_start + 1) % MAX_HELD;
                p->held_count--;
        }
}

static void set_meter_quietly(km_publisher *p, const char *id)
{
        km_ha_sanitize(id, p->meter_id, sizeof(p->meter_id));
        snprintf(p->status_topic, sizeof(p->status_topic), "%s/%s/status", p->prefix, p->meter_id);
        p->available = true;
        publish(p, p->status_topic, "online", true);
}

/* identification first, so discovery of held values names the device */
static void flush_held_after_id(km_publisher *p, const km_reading *r)
{
        for (size_t i = 0; r && i < r->n_values; i++) {
                char key[KM_KEY_MAX], payload[KM_PAYLOAD_MAX];
                bool numeric, is_new;
                km_value_key(&r->values[i], key, sizeof(key));
                if (strcmp(key, "meter_type") != 0 && strcmp(key, "obis_version") != 0)
                        continue;
                km_value_payload(&r->values[i], payload, sizeof(payload), &numeric);
                update_slot(p, &r->values[i], key, payload, numeric, &is_new);
        }
        flush_held(p);
}

bool km_publisher_waiting(const km_publisher *p)
{
        return !p->meter_id[0] && p->held_count > 0;
}

km_publish_result km_publisher_stop_waiting(km_publisher *p, const char *system_title)
{
        if (!km_publisher_waiting(p))
                return KM_PUBLISH_DONE;
        const char *id, *from, *how;
        if (p->configured_id) {
                id = p->configured_id;
                from = "[meter] id";
                how = "";
        } else if (system_title && *system_title) {
                id = system_title;
                from = "the system title of its frames";
                how = "; set [meter] id to choose another";
        } else {
                id = p->section;
                from = "the meter's section name";
                how = "; set [meter] id to the meter's number to use that instead";
        }
        km_log_notice("the meter sends no id: publishing under %s/%s/ (%s%s)", p->prefix, id, from, how);
        set_meter_quietly(p, id);
        flush_held_after_id(p, NULL);
        return KM_PUBLISH_NEW_METER;
}

void km_publisher_set_available(km_publisher *p, bool online)
{
        if (p->available == online)
                return;
        p->available = online;
        if (p->meter_id[0])
                publish(p, p->status_topic, online ? "online" : "offline", true);
}

static void set_meter(km_publisher *p, const char *id)
{
        if (p->meter_id[0]) {
                km_log_notice("meter id changed from %s to %s", p->meter_id, id);
                km_publisher_offline(p);
                p->n_slots = 0;
        } else {
                km_log_notice("meter id %s", id);
        }
        set_meter_quietly(p, id);
}

km_publish_result km_publisher_reading(km_publisher *p, const km_reading *r)
{
        const char *want = p->list ? p->list->maker : NULL;
        /* a list that does not name its maker (Aidon list 1) is not another meter's */
        if (want && r->maker && strcasecmp(r->maker, want) != 0) {
                if (!p->warned_ignored)
                        km_log_warning("ignoring %s readings: [meter] list = %s",
                                       r->maker ? r->maker : "unknown", km_meter_list_name(p->list));
                p->warned_ignored = true;
                return KM_PUBLISH_IGNORED;
        }
        const char *id = km_reading_text(r, "meter_id");
        km_publish_result res = KM_PUBLISH_DONE;
        if (id && *id) {
                char clean[KM_METER_ID_MAX];
                km_ha_sanitize(id, clean, sizeof(clean));
                if (strcmp(clean, p->meter_id) != 0) {
                        set_meter(p, id);
                        res = KM_PUBLISH_NEW_METER;
                }
        }
        if (!p->meter_id[0]) {
                hold(p, r);
                return KM_PUBLISH_HELD;
        }
        if (res == KM_PUBLISH_NEW_METER && r->maker)
                p->maker = r->maker;
        if (p->held_count)
                flush_held_after_id(p, r);
        publish_reading(p, r);
        return res;
}

/* The latest value of everything, retained, once more. Messages queued
 * while the connection was down are delivered, but libmosquitto 2.0 sends
 * those made before its first CONNACK without the retain flag, and a
 * restarted broker may have lost its retained store: this puts the retained
 * state right after every (re)connect, after the queued messages. */
static void republish_latest(km_publisher *p)
{
        char topic[KM_TOPIC_MAX];
        if (p->n_slots == 0)
                return;
        for (size_t i = 0; i < p->n_slots; i++) {
                const char *attributes = p->derived ? km_derived_attributes(p->derived, p->slots[i].key) : NULL;
                if (attributes)
                        publish_attributes(p, p->slots[i].key, attributes);
                const slot *s = &p->slots[i];
                value_topic(p, s->key, topic);
                publish_with(p, topic, s->payload, s->measurement ? p->measurement_qos : p->qos, true);
        }
        publish_state_document(p, true);
}

void km_publisher_connected(km_publisher *p)
{
        memset(p->failures_logged, 0, sizeof(p->failures_logged));
        if (!p->mqtt)
                return;
        if (p->discovery) {
                char topic[KM_TOPIC_MAX];
                snprintf(topic, sizeof(topic), "%s/status", p->discovery_prefix);
                km_mqtt_subscribe(p->mqtt, topic, 1);
        }
        /* the connection comes before the meter names itself */
        if (!p->meter_id[0])
                return;
        /* availability is worth keeping past the ordinary queue limit */
        publish(p, p->status_topic, p->available ? "online" : "offline", true);
        republish_latest(p);
        announce_all(p);
}

void km_publisher_message(km_publisher *p, const char *topic, const char *payload)
{
        char want[KM_TOPIC_MAX];
        snprintf(want, sizeof(want), "%s/status", p->discovery_prefix);
        if (strcmp(topic, want) == 0 && strcmp(payload, "online") == 0) {
                km_log_info("Home Assistant is online: sending discovery again");
                announce_all(p);
        }
}

int km_publisher_offline(km_publisher *p)
{
        if (!p->mqtt || !p->meter_id[0])
                return -ENOTCONN;
        int r = km_mqtt_publish(p->mqtt, p->status_topic, "offline", p->qos ? p->qos : 1, true, true);
        if (r == 0)
                p->published++;
        return r;
}
