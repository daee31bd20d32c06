/*
 * The broker connection of kaifa-meterd on the sd-event loop (see
 * mqtt_link.h). libmosquitto runs without its thread: its socket is an io
 * source of the loop, re-added whenever libmosquitto opens a new one, and
 * watched for writing only while it holds something to write.
 */
#include "daemon/mqtt_link.h"

#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <systemd/sd-login.h>
#include <unistd.h>

#include "daemon/loop.h"
#include "daemon/publish.h"
#include "sinks/homeassistant.h"
#include "util/log.h"

#define MQTT_BACKOFF_MIN (1 * USEC_PER_SEC)
#define MQTT_BACKOFF_MAX (10 * USEC_PER_SEC)
/* a broker that takes TCP but does not answer CONNECT is given up on */
#define CONNECT_TIMEOUT_USEC (15 * USEC_PER_SEC)
/* How long closing waits for the socket to take what is queued before the
 * offline messages and DISCONNECT (a burst of values may be ahead of them). */
#define CLOSE_FLUSH_USEC (2000 * USEC_PER_MSEC)

struct kmd_link {
        sd_event *ev;
        kmd_link_handlers h;
        void *userdata;
        km_mqtt *mqtt;
        char host[256];
        int port, qos, queue_limit;
        sd_event_source *io;
        int io_fd;
        sd_event_source *retry_timer;
        sd_event_source *connect_timer; /* CONNECT unanswered */
        sd_event_source *keepalive_timer;
        kmd_backoff backoff;
        char reason[128]; /* last logged problem, "" = none */
        char client_id[128];
        char bridge_topic[KM_TOPIC_MAX]; /* <prefix>/bridge/<client id>/status: the last will */
        bool stopping;
        bool done; /* stopping: nothing left to say to the broker */
        bool goodbye_waits; /* stopping: DISCONNECT waits for the last PUBACKs */
        uint64_t drops_logged, drops_log_usec;
};

static void link_connect(kmd_link *l);

static int on_io(sd_event_source *s, int fd, uint32_t revents, void *userdata)
{
        (void)s;
        (void)fd;
        kmd_link *l = userdata;
        if (revents & (EPOLLHUP | EPOLLERR))
                km_mqtt_on_hangup(l->mqtt);
        else if (revents & EPOLLIN)
                km_mqtt_on_readable(l->mqtt);
        if ((revents & EPOLLOUT) && km_mqtt_fd(l->mqtt) >= 0 && km_mqtt_get_state(l->mqtt) != KM_MQTT_DISCONNECTED)
                km_mqtt_on_writable(l->mqtt);
        kmd_link_sync(l);
        return 0;
}

static int on_keepalive(sd_event_source *s, uint64_t usec, void *userdata)
{
        (void)s;
        (void)usec;
        kmd_link *l = userdata;
        if (km_mqtt_fd(l->mqtt) >= 0)
                km_mqtt_tick(l->mqtt);
        kmd_link_sync(l);
        return 0;
}

static int on_connect_timeout(sd_event_source *s, uint64_t usec, void *userdata)
{
        (void)s;
        (void)usec;
        kmd_link *l = userdata;
        if (km_mqtt_get_state(l->mqtt) == KM_MQTT_CONNECTING)
                km_mqtt_abandon(l->mqtt, "no answer to CONNECT");
        kmd_link_sync(l);
        return 0;
}

static uint64_t unacknowledged(const kmd_link *l)
{
        km_mqtt_stats st;
        km_mqtt_get_stats(l->mqtt, &st);
        return st.queued;
}

/* The goodbye's DISCONNECT, once the broker has acknowledged what is out. */
static void goodbye_when_acknowledged(kmd_link *l)
{
        if (!l->goodbye_waits)
                return;
        if (km_mqtt_get_state(l->mqtt) != KM_MQTT_CONNECTED) {
                l->goodbye_waits = false;
                l->done = true; /* the connection went meanwhile */
                return;
        }
        if (unacknowledged(l) > 0)
                return; /* the stop's grace period bounds the wait */
        l->goodbye_waits = false;
        km_mqtt_disconnect(l->mqtt);
}

/* Keeps the io source in step with libmosquitto's socket: dropped when the
 * socket closed (right after the call that closed it, before any other fd
 * can take its number), added for a new socket, EPOLLOUT while there is
 * something to write; and the keepalive timer at the next ping. */
void kmd_link_sync(kmd_link *l)
{
        goodbye_when_acknowledged(l);
        int fd = km_mqtt_fd(l->mqtt);
        /* a socket libmosquitto keeps after a failure is closed by the next
         * connect; until then it is not watched (it would wake us forever) */
        if (km_mqtt_get_state(l->mqtt) == KM_MQTT_DISCONNECTED)
                fd = -1;
        if (l->io && (fd < 0 || fd != l->io_fd)) {
                l->io = sd_event_source_disable_unref(l->io);
                l->io_fd = -1;
        }
        if (fd >= 0 && !l->io && sd_event_add_io(l->ev, &l->io, fd, EPOLLIN, on_io, l) >= 0)
                l->io_fd = fd;
        if (l->io)
                sd_event_source_set_io_events(l->io, EPOLLIN | (km_mqtt_want_write(l->mqtt) ? EPOLLOUT : 0));
        uint64_t due = km_mqtt_tick_due(l->mqtt);
        if (due && !l->stopping)
                /* exact, not kmd_timer_arm_lazy(): an early wake-up would
                 * come just when the meter falls silent (one more wake-up
                 * in bench.sh's idle minute) */
                kmd_timer_arm_at(l->ev, &l->keepalive_timer, due, on_keepalive, l);
        else
                kmd_timer_off(l->keepalive_timer);
        if (l->stopping && km_mqtt_fd(l->mqtt) < 0)
                l->done = true;
        if (l->h.idle)
                l->h.idle(l->userdata);
}

/* Which key to check, from libmosquitto's phrase for a refusal. */
static const char *broker_hint(const char *reason)
{
        if (strcasestr(reason, "not authori") || strcasestr(reason, "user name or password"))
                return " (check [mqtt] username and password or password_file, and the broker's ACL)";
        if (strcasestr(reason, "identifier rejected"))
                return " (check [mqtt] client_id)";
        if (strcasestr(reason, "lookup error"))
                return " (check [mqtt] host: the name does not resolve)";
        if (strcasestr(reason, "connection refused"))
                return " (check [mqtt] host and port: is the broker running and listening there?)";
        return "";
}

static void link_problem(kmd_link *l, const char *reason)
{
        int len = (int)strlen(reason);
        while (len > 0 && reason[len - 1] == '.')
                len--; /* libmosquitto's phrases end with a period */
        if (strcmp(l->reason, reason) != 0)
                km_log_warning("broker %s:%d: %.*s%s; reconnecting with backoff", l->host, l->port, len, reason,
                               broker_hint(reason));
        snprintf(l->reason, sizeof(l->reason), "%s", reason);
}

static int on_retry(sd_event_source *s, uint64_t usec, void *userdata)
{
        (void)s;
        (void)usec;
        link_connect(userdata);
        return 0;
}

static void retry_later(kmd_link *l)
{
        uint64_t delay = kmd_backoff_next(&l->backoff);
        km_log_debug("broker %s:%d: connecting again in %" PRIu64 " ms", l->host, l->port, delay / USEC_PER_MSEC);
        kmd_timer_arm(l->ev, &l->retry_timer, delay, on_retry, l);
}

static void link_connect(kmd_link *l)
{
        if (l->stopping)
                return;
        const char *why = NULL;
        km_log_debug("broker %s:%d: connecting", l->host, l->port);
        int r = km_mqtt_connect(l->mqtt, &why);
        if (r < 0) {
                link_problem(l, why ? why : strerror(-r));
                retry_later(l);
        } else {
                kmd_timer_arm(l->ev, &l->connect_timer, CONNECT_TIMEOUT_USEC, on_connect_timeout, l);
        }
        kmd_link_sync(l);
}

static int qos_keep(const kmd_link *l)
{
        return l->qos ? l->qos : 1;
}

static void on_connected(void *userdata)
{
        kmd_link *l = userdata;
        km_log_notice("broker %s:%d: connected%s", l->host, l->port, l->reason[0] ? " again" : "");
        l->reason[0] = '\0';
        kmd_backoff_reset(&l->backoff);
        kmd_timer_off(l->connect_timer);
        km_mqtt_publish(l->mqtt, l->bridge_topic, "online", qos_keep(l), true, true);
        if (l->h.connected)
                l->h.connected(l->userdata);
}

static void on_disconnected(void *userdata, const char *reason)
{
        kmd_link *l = userdata;
        kmd_timer_off(l->connect_timer);
        if (l->stopping)
                return;
        link_problem(l, reason);
        retry_later(l);
}

static void on_message(void *userdata, const char *topic, const char *payload, size_t len)
{
        kmd_link *l = userdata;
        if (l->h.message)
                l->h.message(l->userdata, topic, payload, len);
}

/* This machine, by name or literal address (no DNS lookup: it may block). */
static bool is_loopback(const char *host)
{
        struct in_addr a4;
        struct in6_addr a6;
        if (strcasecmp(host, "localhost") == 0 || strcasecmp(host, "ip6-localhost") == 0)
                return true;
        if (inet_pton(AF_INET, host, &a4) == 1)
                return (ntohl(a4.s_addr) >> 24) == 127;
        if (inet_pton(AF_INET6, host, &a6) == 1)
                return IN6_IS_ADDR_LOOPBACK(&a6) || (IN6_IS_ADDR_V4MAPPED(&a6) && a6.s6_addr[12] == 127);
        return false;
}

static int port_of(const km_config *c)
{
        return c->mqtt.port ? c->mqtt.port : km_config_mqtt_tls(c) ? 8883 : 1883;
}

/* The instance of a template unit this runs in ("garage" for
 * kaifa-meter@garage.service), or "" when it is not one. */
static void unit_instance(char *buf, size_t size)
{
        char *unit = NULL;
        buf[0] = '\0';
        if (sd_pid_get_unit(0, &unit) < 0 || !unit)
                return;
        const char *at = strchr(unit, '@');
        const char *dot = at ? strrchr(at, '.') : NULL;
        if (strncmp(unit, "kaifa-meter@", 12) == 0 && dot && dot > at + 1)
                snprintf(buf, size, "%.*s", (int)(dot - at - 1), at + 1);
        free(unit);
}

/* FNV-1a of the config file's absolute path: two services on one host with
 * different files get different client ids. */
static uint32_t path_hash(const char *path)
{
        char *abs = realpath(path, NULL);
        const char *p = abs ? abs : path;
        uint32_t h = 2166136261u;
        for (; *p; p++)
                h = (h ^ (uint8_t)*p) * 16777619u;
        free(abs);
        return h;
}

/* [mqtt] client_id, else kaifa-meterd-HOST with the template instance, else
 * with a hash of the config path (none for the default path, as before):
 * two services sharing a client id throw each other off the broker. */
static void default_client_id(const char *config_path, char *buf, size_t size)
{
        char host[64] = "localhost", instance[64];
        gethostname(host, sizeof(host) - 1);
        host[sizeof(host) - 1] = '\0';
        unit_instance(instance, sizeof(instance));
        if (instance[0])
                snprintf(buf, size, "kaifa-meterd-%s-%s", host, instance);
        else if (config_path && strcmp(config_path, KM_CONFIG_DEFAULT_PATH) != 0)
                snprintf(buf, size, "kaifa-meterd-%s-%08" PRIx32, host, path_hash(config_path));
        else
                snprintf(buf, size, "kaifa-meterd-%s", host);
}

int kmd_link_new(sd_event *ev, const km_config *c, const char *config_path, const kmd_link_handlers *h,
                 void *userdata, kmd_link **ret)
{
        kmd_link *l = calloc(1, sizeof(*l));
        if (!l)
                return -ENOMEM;
        l->ev = ev;
        l->h = *h;
        l->userdata = userdata;
        l->io_fd = -1;
        l->backoff = (kmd_backoff){0, MQTT_BACKOFF_MIN, MQTT_BACKOFF_MAX};
        snprintf(l->host, sizeof(l->host), "%s", c->mqtt.host);
        l->port = port_of(c);
        l->qos = c->mqtt.qos;
        l->queue_limit = c->mqtt.queue_limit;
        if (c->mqtt.client_id)
                snprintf(l->client_id, sizeof(l->client_id), "%s", c->mqtt.client_id);
        else
                default_client_id(config_path, l->client_id, sizeof(l->client_id));
        char level[KM_METER_ID_MAX];
        km_ha_sanitize(l->client_id, level, sizeof(level));
        snprintf(l->bridge_topic, sizeof(l->bridge_topic), "%s/bridge/%s/status", c->mqtt.prefix, level);
        bool tls = km_config_mqtt_tls(c);
        if ((c->mqtt.username || c->mqtt.password) && !tls && !is_loopback(c->mqtt.host))
                km_log_warning("broker %s:%d: the username and password go over plain MQTT, readable on the "
                               "network; set cafile or tls = yes for TLS", l->host, l->port);
        km_mqtt_options o = {
                .host = c->mqtt.host,
                .port = l->port,
                .client_id = l->client_id,
                .username = c->mqtt.username,
                .password = c->mqtt.password,
                .tls = tls,
                .cafile = c->mqtt.cafile,
                .certfile = c->mqtt.certfile,
                .keyfile = c->mqtt.keyfile,
                .keepalive = c->mqtt.keepalive,
                .queue_limit = c->mqtt.queue_limit,
        };
        km_mqtt_handlers mh = {.connected = on_connected, .disconnected = on_disconnected, .message = on_message};
        int r = km_mqtt_new(&o, &mh, l, &l->mqtt);
        if (r < 0) {
                km_log_error("MQTT client: %s", strerror(-r));
                free(l);
                return r;
        }
        /* the service's will: Home Assistant shows every meter unavailable
         * when this says offline (availability mode all) */
        km_mqtt_set_will(l->mqtt, l->bridge_topic, "offline", qos_keep(l), true);
        km_log_info("MQTT client id %s", l->client_id);
        *ret = l;
        return 0;
}

void kmd_link_start(kmd_link *l)
{
        kmd_timer_arm(l->ev, &l->retry_timer, 0, on_retry, l);
}

km_mqtt *kmd_link_mqtt(kmd_link *l)
{
        return l->mqtt;
}

const char *kmd_link_bridge_topic(const kmd_link *l)
{
        return l->bridge_topic;
}

void kmd_link_goodbye(kmd_link *l)
{
        l->stopping = true;
        kmd_timer_off(l->retry_timer);
        kmd_timer_off(l->keepalive_timer);
        if (km_mqtt_get_state(l->mqtt) != KM_MQTT_CONNECTED) {
                l->done = true;
                return;
        }
        km_mqtt_publish(l->mqtt, l->bridge_topic, "offline", qos_keep(l), true, true);
        /* DISCONNECT after the PUBACKs of what is out, these offlines among
         * it: sent before them, it closes the socket while mosquitto answers;
         * mosquitto takes that for a lost connection and publishes the last
         * will, "offline" a second time */
        l->goodbye_waits = true;
        kmd_link_sync(l);
}

bool kmd_link_done(const kmd_link *l)
{
        return l->done;
}

/* Writes what libmosquitto holds until it is all out, the connection is gone,
 * or CLOSE_FLUSH_USEC passed. */
static void flush_for_close(kmd_link *l)
{
        uint64_t end = kmd_now_usec() + CLOSE_FLUSH_USEC;
        while (km_mqtt_fd(l->mqtt) >= 0 && km_mqtt_want_write(l->mqtt) && kmd_now_usec() < end) {
                struct pollfd p = {.fd = km_mqtt_fd(l->mqtt), .events = POLLOUT};
                if (poll(&p, 1, 10) < 0 && errno != EINTR)
                        break;
                if (p.revents & (POLLERR | POLLHUP | POLLNVAL))
                        break;
                if (p.revents & POLLOUT)
                        km_mqtt_on_writable(l->mqtt);
        }
}

void kmd_link_close_now(kmd_link *l)
{
        l->stopping = true;
        if (km_mqtt_get_state(l->mqtt) == KM_MQTT_CONNECTED) {
                km_mqtt_publish(l->mqtt, l->bridge_topic, "offline", qos_keep(l), true, true);
                km_mqtt_disconnect(l->mqtt);
                flush_for_close(l);
        }
}

void kmd_link_status(const kmd_link *l, const char **ret_state, km_mqtt_stats *ret_stats)
{
        *ret_state = km_mqtt_state_name(km_mqtt_get_state(l->mqtt));
        km_mqtt_get_stats(l->mqtt, ret_stats);
}

/* Messages dropped (queue full, QoS 0 while away): one line a minute at
 * most, with the count. Retained state is never dropped (see mqtt.c). */
void kmd_link_log_drops(kmd_link *l)
{
        km_mqtt_stats ms;
        km_mqtt_get_stats(l->mqtt, &ms);
        uint64_t now = kmd_now_usec();
        if (ms.dropped <= l->drops_logged || (l->drops_log_usec && now - l->drops_log_usec < 60 * USEC_PER_SEC))
                return;
        km_log_warning("broker %s:%d: %" PRIu64 " MQTT messages dropped (queue_limit %d reached, or QoS 0 while "
                       "disconnected); raise [mqtt] queue_limit or check the broker",
                       l->host, l->port, ms.dropped - l->drops_logged, l->queue_limit);
        l->drops_logged = ms.dropped;
        l->drops_log_usec = now;
}

void kmd_link_free(kmd_link *l)
{
        if (!l)
                return;
        l->io = sd_event_source_disable_unref(l->io);
        l->retry_timer = sd_event_source_disable_unref(l->retry_timer);
        l->connect_timer = sd_event_source_disable_unref(l->connect_timer);
        l->keepalive_timer = sd_event_source_disable_unref(l->keepalive_timer);
        km_mqtt_free(l->mqtt);
        free(l);
}

static bool str_differs(const char *a, const char *b)
{
        return (a == NULL) != (b == NULL) || (a && strcmp(a, b) != 0);
}

bool kmd_link_settings_changed(const km_config *a, const km_config *b)
{
        const char *sa[] = {a->mqtt.host, a->mqtt.client_id, a->mqtt.username, a->mqtt.password, a->mqtt.cafile,
                            a->mqtt.certfile, a->mqtt.keyfile, a->mqtt.prefix, a->homeassistant.discovery_prefix};
        const char *sb[] = {b->mqtt.host, b->mqtt.client_id, b->mqtt.username, b->mqtt.password, b->mqtt.cafile,
                            b->mqtt.certfile, b->mqtt.keyfile, b->mqtt.prefix, b->homeassistant.discovery_prefix};
        for (size_t i = 0; i < sizeof(sa) / sizeof(sa[0]); i++)
                if (str_differs(sa[i], sb[i]))
                        return true;
        return port_of(a) != port_of(b) || km_config_mqtt_tls(a) != km_config_mqtt_tls(b) ||
               a->mqtt.keepalive != b->mqtt.keepalive || a->mqtt.qos != b->mqtt.qos ||
               a->mqtt.measurement_qos != b->mqtt.measurement_qos ||
               a->mqtt.queue_limit != b->mqtt.queue_limit || a->homeassistant.discovery != b->homeassistant.discovery ||
               a->homeassistant.legacy_reactive != b->homeassistant.legacy_reactive;
}
