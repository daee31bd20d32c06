/*
 * libmosquitto driven from the daemon's own event loop: the socket is
 * exposed, reads and writes happen when the loop says the socket is ready,
 * keepalive and retries happen in km_mqtt_tick(). Nothing here sleeps or
 * blocks, except the host name lookup inside mosquitto_connect_async() (a
 * literal address or a name from /etc/hosts costs nothing).
 *
 * What libmosquitto 2.0 does with QoS > 0 publishes while the connection is
 * down: mosquitto_publish() answers MOSQ_ERR_NO_CONN, but the message stays
 * in the client's outgoing queue and is sent after the next successful
 * connect (also when the client has never been connected). That queue has
 * no bound of its own, so this file counts what is outstanding (published
 * and not yet acknowledged) and refuses new messages past queue_limit.
 *
 * Retained messages are state, not events: only the newest payload of a
 * topic matters. They are therefore not handed to libmosquitto while the
 * broker is away or while queue_limit messages are outstanding; they wait
 * in a table with one entry per topic (newest wins), sent in the order the
 * topics first waited once the broker is back or acknowledges. A slow or
 * absent broker costs neither memory (one entry per topic) nor the latest
 * state, and nothing retained is ever dropped; only other messages count
 * against queue_limit.
 *
 * libmosquitto reports every TLS failure as MOSQ_ERR_TLS ("A TLS error
 * occurred"); what went wrong is only in the lines it logs (on_log):
 * "host name verification failed" for a certificate of another host, and
 * OpenSSL's "certificate verify failed" for a certificate no trusted CA
 * signed (or an expired one). Those lines are turned into the reason the
 * caller logs, so OpenSSL itself stays out of this file.
 */
#include "sinks/mqtt.h"

#include <errno.h>
#include <mosquitto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <time.h>

/* A retained message waiting for the broker: one per topic. */
typedef struct pending {
        char *topic;
        char *payload;
        int qos;
        struct pending *next;  /* FIFO of topics */
        struct pending *hnext; /* hash chain */
} pending;

#define PENDING_BUCKETS 1024
/* a bound no real set of meters comes near (each has about 100 topics) */
#define PENDING_MAX 65536

struct km_mqtt {
        struct mosquitto *mosq;
        km_mqtt_options opt;
        km_mqtt_handlers h;
        void *userdata;
        km_mqtt_state state;
        km_mqtt_stats stats;
        const char *last_reason;
        bool closing; /* km_mqtt_disconnect() called: the close is not a failure */
        bool batching;          /* between km_mqtt_batch_begin() and _end() */
        bool parked;            /* hand_over() put a message back to wait */
        int corked_fd;          /* the socket TCP_CORK was set on, or -1 */
        bool tls_hostname;      /* since the connect: libmosquitto logged a host name mismatch */
        bool tls_untrusted;     /* ... OpenSSL's "certificate verify failed" */
        char tls_other[96];     /* ... another OpenSSL reason ("wrong version number") */
        char reason_buf[192];   /* a reason made here */
        uint64_t last_out_usec; /* CLOCK_MONOTONIC: the last packet handed to the socket */
        /* one bit per message id: a QoS > 0 message libmosquitto holds until
         * its PUBACK (its on_publish also comes for every QoS 0 message
         * written, which must not count as an acknowledgement) */
        uint8_t awaiting_ack[65536 / 8];
        pending *bucket[PENDING_BUCKETS];
        pending *head, *tail;
        size_t n_pending;
};

static size_t topic_hash(const char *t)
{
        uint32_t h = 2166136261u;
        for (; *t; t++)
                h = (h ^ (uint8_t)*t) * 16777619u;
        return h % PENDING_BUCKETS;
}

/* Keeps the newest payload of a retained topic. Returns 0 or -ENOMEM. */
static int pending_put(km_mqtt *m, const char *topic, const char *payload, int qos)
{
        size_t b = topic_hash(topic);
        for (pending *e = m->bucket[b]; e; e = e->hnext)
                if (strcmp(e->topic, topic) == 0) {
                        char *copy = strdup(payload);
                        if (!copy)
                                return -ENOMEM;
                        free(e->payload);
                        e->payload = copy;
                        e->qos = qos;
                        m->stats.coalesced++;
                        return 0;
                }
        if (m->n_pending >= PENDING_MAX)
                return -ENOBUFS;
        pending *e = calloc(1, sizeof(*e));
        if (!e || !(e->topic = strdup(topic)) || !(e->payload = strdup(payload))) {
                if (e)
                        free(e->topic);
                free(e);
                return -ENOMEM;
        }
        e->qos = qos;
        e->hnext = m->bucket[b];
        m->bucket[b] = e;
        if (m->tail)
                m->tail->next = e;
        else
                m->head = e;
        m->tail = e;
        m->n_pending++;
        return 0;
}

/* Takes the oldest waiting topic off the table; the caller frees it. */
static pending *pending_pop(km_mqtt *m)
{
        pending *e = m->head;
        if (!e)
                return NULL;
        m->head = e->next;
        if (!m->head)
                m->tail = NULL;
        pending **pp = &m->bucket[topic_hash(e->topic)];
        while (*pp != e)
                pp = &(*pp)->hnext;
        *pp = e->hnext;
        m->n_pending--;
        return e;
}

static void pending_free(pending *e)
{
        if (!e)
                return;
        free(e->topic);
        free(e->payload);
        free(e);
}

/* Drops the waiting payload of a topic, if any. */
static void pending_forget(km_mqtt *m, const char *topic)
{
        pending **pp = &m->bucket[topic_hash(topic)];
        while (*pp && strcmp((*pp)->topic, topic) != 0)
                pp = &(*pp)->hnext;
        pending *e = *pp;
        if (!e)
                return;
        *pp = e->hnext;
        pending **fp = &m->head, *prev = NULL;
        while (*fp != e) {
                prev = *fp;
                fp = &(*fp)->next;
        }
        *fp = e->next;
        if (m->tail == e)
                m->tail = prev;
        m->n_pending--;
        pending_free(e);
}

static bool pending_must_wait(const km_mqtt *m, int qos)
{
        return m->state != KM_MQTT_CONNECTED || (qos > 0 && m->stats.queued >= (uint64_t)m->opt.queue_limit);
}

static int hand_over(km_mqtt *m, const char *topic, const char *payload, int qos, bool retain);

/* Sends waiting retained topics while the broker is there and the
 * outstanding count is under queue_limit. */
static void pending_flush(km_mqtt *m)
{
        while (m->head && !pending_must_wait(m, m->head->qos)) {
                pending *e = pending_pop(m);
                m->parked = false;
                hand_over(m, e->topic, e->payload, e->qos, true);
                pending_free(e);
                if (m->parked)
                        break; /* the connection is going: the rest waits for the next */
        }
}

/* The system's CA store (Debian's ca-certificates), for TLS without cafile. */
#define SYSTEM_CA_PATH "/etc/ssl/certs"

static int errno_of(int rc)
{
        switch (rc) {
        case MOSQ_ERR_SUCCESS: return 0;
        case MOSQ_ERR_NOMEM: return -ENOMEM;
        case MOSQ_ERR_INVAL: return -EINVAL;
        case MOSQ_ERR_NO_CONN: return -ENOTCONN;
        case MOSQ_ERR_CONN_LOST: return -ECONNRESET;
        case MOSQ_ERR_CONN_REFUSED: return -ECONNREFUSED;
        case MOSQ_ERR_PAYLOAD_SIZE: return -EMSGSIZE;
        case MOSQ_ERR_EAI: return -EHOSTUNREACH;
        case MOSQ_ERR_ERRNO: return errno > 0 ? -errno : -EIO;
        case MOSQ_ERR_TLS: return -EPROTO;
        case MOSQ_ERR_MALFORMED_UTF8: return -EILSEQ;
        case MOSQ_ERR_OVERSIZE_PACKET: return -EMSGSIZE;
        default: return -EIO;
        }
}

/* Why a TLS connection failed, from what libmosquitto logged meanwhile. */
static const char *tls_reason(km_mqtt *m)
{
        const char *trust = m->opt.cafile ? "cafile" : "the system's CA store";
        if (m->tls_hostname)
                snprintf(m->reason_buf, sizeof(m->reason_buf),
                         "TLS: the broker's certificate is not for host %s (host name mismatch)", m->opt.host);
        else if (m->tls_untrusted)
                snprintf(m->reason_buf, sizeof(m->reason_buf),
                         "TLS: the broker's certificate is not trusted (unknown CA: no CA in %s signed it; "
                         "or it expired)", trust);
        else if (m->tls_other[0])
                snprintf(m->reason_buf, sizeof(m->reason_buf), "TLS: %s", m->tls_other);
        else
                return mosquitto_strerror(MOSQ_ERR_TLS);
        return m->reason_buf;
}

static const char *reason_of(km_mqtt *m, int rc)
{
        if (rc == MOSQ_ERR_ERRNO)
                return strerror(errno);
        if (rc == MOSQ_ERR_TLS)
                return tls_reason(m);
        return mosquitto_strerror(rc);
}

/* ---- callbacks (run inside the loop_* calls) --------------------------- */

/* libmosquitto's error lines during a TLS handshake, e.g.
 *   "Error: host name verification failed."
 *   "OpenSSL Error[0]: error:0A000086:SSL routines::certificate verify failed" */
static void on_log(struct mosquitto *mosq, void *obj, int level, const char *str)
{
        (void)mosq;
        km_mqtt *m = obj;
        if (!(level & (MOSQ_LOG_ERR | MOSQ_LOG_WARNING)) || !str)
                return;
        if (strstr(str, "host name verification failed")) {
                m->tls_hostname = true;
        } else if (strstr(str, "certificate verify failed")) {
                m->tls_untrusted = true;
        } else if (strncmp(str, "OpenSSL Error", 13) == 0 && !m->tls_other[0]) {
                /* the reason is the text after OpenSSL's last ':' */
                const char *why = strrchr(str, ':');
                snprintf(m->tls_other, sizeof(m->tls_other), "%s", why && why[1] ? why + 1 : str);
        }
}

static void on_connect(struct mosquitto *mosq, void *obj, int rc)
{
        km_mqtt *m = obj;
        if (rc != 0) {
                /* refused: bad credentials, client id, protocol */
                m->state = KM_MQTT_DISCONNECTED;
                m->last_reason = mosquitto_connack_string(rc);
                mosquitto_disconnect(mosq);
                if (m->h.disconnected)
                        m->h.disconnected(m->userdata, m->last_reason);
                return;
        }
        /* The log callback is for the TLS handshake's reasons. Once connected
         * it only costs: libmosquitto formats a DEBUG line into a malloc'd
         * buffer for every PUBLISH when a callback is set (a fifth of the
         * daemon's instructions per frame, callgrind), and on_log drops it. */
        mosquitto_log_callback_set(mosq, NULL);
        m->state = KM_MQTT_CONNECTED;
        m->stats.connects++;
        pending_flush(m);
        if (m->h.connected)
                m->h.connected(m->userdata);
}

static void on_disconnect(struct mosquitto *mosq, void *obj, int rc)
{
        (void)mosq;
        km_mqtt *m = obj;
        bool was_down = m->state == KM_MQTT_DISCONNECTED;
        m->state = KM_MQTT_DISCONNECTED;
        if (m->closing) {
                m->closing = false;
                m->last_reason = "disconnected";
                return; /* asked for */
        }
        if (was_down)
                return; /* already reported (refused CONNACK) */
        m->last_reason = rc == 0 ? "disconnected" : reason_of(m, rc);
        if (m->h.disconnected)
                m->h.disconnected(m->userdata, m->last_reason);
}

static void on_publish(struct mosquitto *mosq, void *obj, int mid)
{
        (void)mosq;
        km_mqtt *m = obj;
        uint8_t bit = (uint8_t)(1u << (mid & 7));
        if (mid >= 0 && mid < 65536 && (m->awaiting_ack[mid >> 3] & bit)) {
                m->awaiting_ack[mid >> 3] &= (uint8_t)~bit;
                if (m->stats.queued > 0)
                        m->stats.queued--;
        }
        m->stats.delivered++;
        pending_flush(m);
}

static void on_message(struct mosquitto *mosq, void *obj, const struct mosquitto_message *msg)
{
        (void)mosq;
        km_mqtt *m = obj;
        if (!m->h.message || !msg->topic)
                return;
        /* libmosquitto ends every payload with a NUL byte past payloadlen,
         * so texts ("online") can be read as strings; raw frames use len */
        static const char empty[] = "";
        size_t n = msg->payloadlen > 0 ? (size_t)msg->payloadlen : 0;
        m->h.message(m->userdata, msg->topic, n ? (const char *)msg->payload : empty, n);
}

/* ---- public ------------------------------------------------------------ */

int km_mqtt_lib_init(void)
{
        return errno_of(mosquitto_lib_init());
}

void km_mqtt_lib_cleanup(void)
{
        mosquitto_lib_cleanup();
}

int km_mqtt_new(const km_mqtt_options *opt, const km_mqtt_handlers *h, void *userdata,
                km_mqtt **ret_mqtt)
{
        km_mqtt *m = calloc(1, sizeof(*m));
        if (!m)
                return -ENOMEM;
        m->opt = *opt;
        if (h)
                m->h = *h;
        m->userdata = userdata;
        m->corked_fd = -1;
        m->mosq = mosquitto_new(opt->client_id, true, m);
        if (!m->mosq) {
                int e = errno ? -errno : -ENOMEM;
                free(m);
                return e;
        }
        mosquitto_int_option(m->mosq, MOSQ_OPT_PROTOCOL_VERSION, MQTT_PROTOCOL_V311);
        mosquitto_connect_callback_set(m->mosq, on_connect);
        mosquitto_disconnect_callback_set(m->mosq, on_disconnect);
        mosquitto_publish_callback_set(m->mosq, on_publish);
        mosquitto_message_callback_set(m->mosq, on_message);
        int rc = MOSQ_ERR_SUCCESS;
        if (opt->username)
                rc = mosquitto_username_pw_set(m->mosq, opt->username, opt->password);
        if (rc == MOSQ_ERR_SUCCESS && opt->tls && !opt->cafile) {
                /* the system's CA store: OpenSSL's default paths (which
                 * honour SSL_CERT_FILE and SSL_CERT_DIR), and Debian's
                 * directory for libmosquitto, which wants a cafile or capath */
                rc = mosquitto_int_option(m->mosq, MOSQ_OPT_TLS_USE_OS_CERTS, 1);
                if (rc == MOSQ_ERR_SUCCESS)
                        rc = mosquitto_tls_set(m->mosq, NULL, SYSTEM_CA_PATH, opt->certfile, opt->keyfile, NULL);
        } else if (rc == MOSQ_ERR_SUCCESS && opt->cafile) {
                rc = mosquitto_tls_set(m->mosq, opt->cafile, NULL, opt->certfile, opt->keyfile, NULL);
        }
        if (rc != MOSQ_ERR_SUCCESS) {
                int e = errno_of(rc);
                km_mqtt_free(m);
                return e;
        }
        *ret_mqtt = m;
        return 0;
}

int km_mqtt_set_will(km_mqtt *m, const char *topic, const char *payload, int qos, bool retain)
{
        return errno_of(mosquitto_will_set(m->mosq, topic, (int)strlen(payload), payload, qos, retain));
}

static uint64_t monotonic_usec(void)
{
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

/* Something went out (libmosquitto writes at once when it can): the
 * keepalive ping is due keepalive seconds after the last of these. */
static void sent(km_mqtt *m)
{
        m->last_out_usec = monotonic_usec();
}

uint64_t km_mqtt_tick_due(const km_mqtt *m)
{
        if (m->state != KM_MQTT_CONNECTED || mosquitto_socket(m->mosq) < 0)
                return 0;
        return m->last_out_usec + (uint64_t)m->opt.keepalive * 1000000u;
}

bool km_mqtt_topic_matches(const char *sub, const char *topic)
{
        bool result = false;
        return mosquitto_topic_matches_sub(sub, topic, &result) == MOSQ_ERR_SUCCESS && result;
}

int km_mqtt_connect(km_mqtt *m, const char **ret_reason)
{
        sent(m);
        errno = 0;
        m->closing = false;
        m->tls_hostname = m->tls_untrusted = false;
        m->tls_other[0] = '\0';
        /* listen to libmosquitto's log only until the CONNACK (see on_connect) */
        mosquitto_log_callback_set(m->mosq, on_log);
        int rc = mosquitto_connect_async(m->mosq, m->opt.host, m->opt.port, m->opt.keepalive);
        if (rc != MOSQ_ERR_SUCCESS) {
                m->state = KM_MQTT_DISCONNECTED;
                m->last_reason = reason_of(m, rc);
                if (ret_reason)
                        *ret_reason = m->last_reason;
                return errno_of(rc) ? errno_of(rc) : -EIO;
        }
        m->state = KM_MQTT_CONNECTING;
        return 0;
}

int km_mqtt_fd(km_mqtt *m)
{
        return mosquitto_socket(m->mosq);
}

bool km_mqtt_want_write(km_mqtt *m)
{
        return mosquitto_want_write(m->mosq);
}

static int after(km_mqtt *m, int rc)
{
        if (rc == MOSQ_ERR_SUCCESS)
                return 0;
        /* loop_read/loop_write have closed the socket and run on_disconnect;
         * make sure the state says so even when they did not */
        if (m->closing) {
                m->closing = false;
                m->state = KM_MQTT_DISCONNECTED;
        } else if (m->state != KM_MQTT_DISCONNECTED) {
                m->state = KM_MQTT_DISCONNECTED;
                m->last_reason = reason_of(m, rc);
                if (m->h.disconnected)
                        m->h.disconnected(m->userdata, m->last_reason);
        }
        return errno_of(rc) ? errno_of(rc) : -EIO;
}

int km_mqtt_on_readable(km_mqtt *m)
{
        if (mosquitto_socket(m->mosq) < 0)
                return -ENOTCONN;
        return after(m, mosquitto_loop_read(m->mosq, 1));
}

int km_mqtt_on_hangup(km_mqtt *m)
{
        int fd = mosquitto_socket(m->mosq);
        if (fd < 0)
                return -ENOTCONN;
        int rc = mosquitto_loop_read(m->mosq, 1); /* libmosquitto usually notices here */
        if (rc != MOSQ_ERR_SUCCESS)
                return after(m, rc);
        if (mosquitto_socket(m->mosq) < 0 || m->state == KM_MQTT_DISCONNECTED)
                return -ECONNRESET;
        /* It did not: a TLS handshake under way retries its write forever.
         * The socket is dead; the next km_mqtt_connect() closes it. */
        int err = 0;
        socklen_t len = sizeof(err);
        if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0)
                err = errno;
        m->state = KM_MQTT_DISCONNECTED;
        if (m->closing) {
                m->closing = false;
                return -ECONNRESET;
        }
        m->last_reason = err ? strerror(err) : "connection closed by the broker";
        if (m->h.disconnected)
                m->h.disconnected(m->userdata, m->last_reason);
        return err ? -err : -ECONNRESET;
}

void km_mqtt_abandon(km_mqtt *m, const char *reason)
{
        if (m->state == KM_MQTT_DISCONNECTED)
                return;
        m->state = KM_MQTT_DISCONNECTED;
        m->closing = false;
        m->last_reason = reason;
        if (m->h.disconnected)
                m->h.disconnected(m->userdata, reason);
}

int km_mqtt_on_writable(km_mqtt *m)
{
        if (mosquitto_socket(m->mosq) < 0)
                return -ENOTCONN;
        sent(m);
        return after(m, mosquitto_loop_write(m->mosq, 1));
}

int km_mqtt_tick(km_mqtt *m)
{
        if (mosquitto_socket(m->mosq) < 0)
                return m->state == KM_MQTT_CONNECTED ? after(m, MOSQ_ERR_NO_CONN) : 0;
        sent(m); /* a ping now, or none needed for keepalive from now */
        int rc = mosquitto_loop_misc(m->mosq);
        if (rc == MOSQ_ERR_NO_CONN && m->state != KM_MQTT_CONNECTED)
                return 0;
        return after(m, rc);
}

km_mqtt_state km_mqtt_get_state(const km_mqtt *m)
{
        return m->state;
}

const char *km_mqtt_state_name(km_mqtt_state s)
{
        switch (s) {
        case KM_MQTT_IDLE: return "idle";
        case KM_MQTT_CONNECTING: return "connecting";
        case KM_MQTT_CONNECTED: return "connected";
        case KM_MQTT_DISCONNECTED: return "disconnected";
        }
        return "?";
}

/* libmosquitto writes every packet with a write() of its own. On a TCP
 * socket each write is a segment, and on loopback or a LAN the broker is
 * woken for each: a frame of 15 values costs 15 trips through the network
 * stack and 15 wake-ups of mosquitto. Corked, the packets of one batch wait
 * in the socket buffer (the writes stay, each a copy) and leave together
 * when the batch ends. Corked only once something is written: a batch that
 * publishes nothing costs no system call. On a socket that is not TCP the
 * option fails, and nothing changes. */
static void cork(km_mqtt *m, bool on)
{
        int fd = on ? mosquitto_socket(m->mosq) : m->corked_fd;
        int v = on;
        if (fd < 0 || setsockopt(fd, IPPROTO_TCP, TCP_CORK, &v, sizeof(v)) < 0)
                fd = -1;
        m->corked_fd = on ? fd : -1;
}

void km_mqtt_batch_begin(km_mqtt *m)
{
        m->batching = true;
}

void km_mqtt_batch_end(km_mqtt *m)
{
        m->batching = false;
        if (m->corked_fd >= 0)
                cork(m, false);
}

/* Gives a message to libmosquitto. Returns 0 or a negative errno. */
static int hand_over(km_mqtt *m, const char *topic, const char *payload, int qos, bool retain)
{
        if (m->batching && m->corked_fd < 0 && m->state == KM_MQTT_CONNECTED)
                cork(m, true);
        int mid = -1;
        int rc = mosquitto_publish(m->mosq, &mid, topic, (int)strlen(payload), payload, qos, retain);
        if (rc == MOSQ_ERR_SUCCESS)
                sent(m);
        if (rc == MOSQ_ERR_SUCCESS || (rc == MOSQ_ERR_NO_CONN && qos > 0)) {
                /* NO_CONN with QoS > 0: kept in libmosquitto's queue (see above) */
                m->stats.published++;
                if (qos > 0 && mid >= 0 && mid < 65536) {
                        m->awaiting_ack[mid >> 3] |= (uint8_t)(1u << (mid & 7));
                        m->stats.queued++;
                }
                return 0;
        }
        if (qos == 0 && retain && (rc == MOSQ_ERR_NO_CONN || rc == MOSQ_ERR_CONN_LOST || rc == MOSQ_ERR_ERRNO)) {
                /* state at QoS 0 the connection did not take (it broke before
                 * we heard): it waits for the next connect like any state
                 * made while the broker is away, newest per topic */
                int r = pending_put(m, topic, payload, qos);
                m->parked = r == 0;
                if (r == 0)
                        return 0;
        }
        m->stats.dropped++;
        return errno_of(rc);
}

/* MOSQ_ERR_SUCCESS, or why the broker would refuse the topic: the check
 * mosquitto_publish() makes, for a message that waits instead. */
static int topic_check(const char *topic)
{
        if (mosquitto_validate_utf8(topic, (int)strlen(topic)) != MOSQ_ERR_SUCCESS)
                return MOSQ_ERR_MALFORMED_UTF8;
        if (mosquitto_pub_topic_check(topic) != MOSQ_ERR_SUCCESS)
                return MOSQ_ERR_INVAL;
        return MOSQ_ERR_SUCCESS;
}

/* A message handed over at once is checked by mosquitto_publish() (hand_over
 * counts the refusal); one that waits is checked here, so a topic the broker
 * would refuse fails now, not when it is sent. */
int km_mqtt_publish(km_mqtt *m, const char *topic, const char *payload, int qos, bool retain, bool keep)
{
        if (retain && keep && m->state == KM_MQTT_CONNECTED && m->stats.queued < 2 * (uint64_t)m->opt.queue_limit) {
                /* availability and the like: now, past any backlog (a stop
                 * says offline before DISCONNECT); an older waiting payload
                 * of the topic must not follow it */
                pending_forget(m, topic);
                return hand_over(m, topic, payload, qos, true);
        }
        if (retain) {
                /* state: the newest per topic waits while the broker cannot take it */
                if (!pending_must_wait(m, qos) && !m->head)
                        return hand_over(m, topic, payload, qos, true);
                int bad = topic_check(topic);
                if (bad != MOSQ_ERR_SUCCESS) {
                        m->stats.dropped++;
                        return errno_of(bad);
                }
                int r = pending_put(m, topic, payload, qos);
                if (r < 0)
                        m->stats.dropped++;
                pending_flush(m);
                return r;
        }
        bool connected = m->state == KM_MQTT_CONNECTED;
        uint64_t limit = (uint64_t)m->opt.queue_limit * (keep ? 2 : 1);
        if ((qos == 0 && !connected) || (qos > 0 && m->stats.queued >= limit)) {
                m->stats.dropped++;
                return -ENOBUFS;
        }
        return hand_over(m, topic, payload, qos, retain);
}

int km_mqtt_subscribe(km_mqtt *m, const char *topic, int qos)
{
        sent(m);
        return errno_of(mosquitto_subscribe(m->mosq, NULL, topic, qos));
}

int km_mqtt_disconnect(km_mqtt *m)
{
        /* DISCONNECT is queued (libmosquitto writes it at once when it can);
         * the socket closes once it is out, and that is not a failure */
        m->closing = true; /* set first: the close may happen inside the call */
        int rc = mosquitto_disconnect(m->mosq);
        if (rc != MOSQ_ERR_SUCCESS || mosquitto_socket(m->mosq) < 0) {
                m->closing = false;
                m->state = KM_MQTT_DISCONNECTED;
        }
        return errno_of(rc);
}

void km_mqtt_get_stats(const km_mqtt *m, km_mqtt_stats *ret_stats)
{
        *ret_stats = m->stats;
        ret_stats->waiting = m->n_pending;
}

void km_mqtt_free(km_mqtt *m)
{
        if (!m)
                return;
        if (m->mosq)
                mosquitto_destroy(m->mosq);
        while (m->head)
                pending_free(pending_pop(m));
        free(m);
}
