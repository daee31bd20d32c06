/*
 * Unit checks of the daemon's pure parts, no broker needed: exact decimal
 * payloads, Home Assistant names and ids, a discovery document, and the
 * config parser fed from strings (line numbers, defaults, combinations),
 * and the publisher on a real libmosquitto client that is not connected:
 * a publish failure is logged once per kind, not once per message.
 * Prints one line per failure and "N passed, N failed".
 */
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "daemon/config.h"
#include "daemon/publish.h"
#include "daemon/values.h"
#include "kaifa/obis.h"
#include "sinks/homeassistant.h"
#include "sinks/mqtt.h"
#include "util/log.h"

static int passed, failed;

static void check(int ok, const char *what, const char *got)
{
        if (ok) {
                passed++;
        } else {
                failed++;
                printf("FAIL - %s (got '%s')\n", what, got ? got : "(null)");
        }
}

static void decimal(long long raw, int exp, const char *want)
{
        char buf[64], what[96];
        km_decimal_format(raw, exp, buf, sizeof(buf));
        snprintf(what, sizeof(what), "%lld x 10^%d = %s", raw, exp, want);
        check(strcmp(buf, want) == 0, what, buf);
}

static void friendly(const char *key, const char *want)
{
        char buf[128];
        km_ha_friendly_name(key, buf, sizeof(buf));
        check(strcmp(buf, want) == 0, want, buf);
}

static void config_error(const char *text, const char *want_prefix)
{
        km_config cfg;
        char err[KM_CONFIG_ERR_MAX] = "";
        int r = km_config_load_string("t.conf", text, &cfg, err, sizeof(err));
        check(r < 0 && strncmp(err, want_prefix, strlen(want_prefix)) == 0, want_prefix, err);
        if (r == 0)
                km_config_free(&cfg);
}

/* [postgresql] and [file]: off unless present, required keys, defaults. */
static void test_config_outputs(void)
{
        km_config cfg;
        char err[KM_CONFIG_ERR_MAX] = "";
        int r = km_config_load_string("t.conf", "", &cfg, err, sizeof(err));
        check(r == 0 && !cfg.postgresql.enabled && !cfg.file.enabled && cfg.postgresql.queue_size == 10000,
              "no [postgresql] or [file]: both off, queue_size 10000", err);
        if (r == 0)
                km_config_free(&cfg);
        r = km_config_load_string("t.conf",
                                  "[postgresql]\nhost = /run/postgresql\nport = 5433\ntable = Meter \"A\"\n"
                                  "queue_size = 50\n[file]\npath = /var/log/kaifa-meter/r.jsonl\n",
                                  &cfg, err, sizeof(err));
        check(r == 0, "[postgresql] and [file] load", err);
        if (r == 0) {
                check(cfg.postgresql.enabled && cfg.file.enabled, "present means on", NULL);
                check(strcmp(cfg.postgresql.host, "/run/postgresql") == 0 && strcmp(cfg.postgresql.port, "5433") == 0 &&
                              cfg.postgresql.queue_size == 50 && !cfg.postgresql.dbname && !cfg.postgresql.conninfo,
                      "postgresql values taken, unset ones NULL", cfg.postgresql.host);
                check(strcmp(cfg.postgresql.table, "Meter \"A\"") == 0, "a table name that needs quoting",
                      cfg.postgresql.table);
                check(strcmp(cfg.file.path, "/var/log/kaifa-meter/r.jsonl") == 0, "file path", cfg.file.path);
                km_config_free(&cfg);
        }
        config_error("[serial]\n\n[postgresql]\nuser = meter\n", "t.conf:3: [postgresql] table is required");
        config_error("[postgresql]\ntable = t\nport = 0\n", "t.conf:3: [postgresql] port: 0 is out of range");
        config_error("[file]\npath = ./x.jsonl\n", "t.conf:2: [file] path: './x.jsonl' is not an absolute path");
        config_error("[file]\n", "t.conf:1: [file] path is required");
}

static void test_config(void)
{
        km_config cfg;
        char err[KM_CONFIG_ERR_MAX] = "";
        int r = km_config_load_string("t.conf", "", &cfg, err, sizeof(err));
        check(r == 0, "an empty file is all defaults", err);
        if (r == 0) {
                check(strcmp(cfg.meters[0].serial.port, "/dev/ttyUSB0") == 0, "default port", cfg.meters[0].serial.port);
                check(cfg.meters[0].serial.baud == 2400 && cfg.meters[0].serial.parity_auto, "default 2400 auto", NULL);
                check(strcmp(cfg.mqtt.host, "localhost") == 0 && cfg.mqtt.port == 0 && cfg.mqtt.qos == 1 &&
                              cfg.mqtt.keepalive == 60 && cfg.mqtt.queue_limit == 10000,
                      "mqtt defaults", cfg.mqtt.host);
                check(strcmp(cfg.mqtt.prefix, "kaifa") == 0, "default prefix", cfg.mqtt.prefix);
                check(cfg.homeassistant.discovery && strcmp(cfg.homeassistant.discovery_prefix, "homeassistant") == 0 &&
                              !cfg.homeassistant.legacy_reactive,
                      "discovery defaults", NULL);
                km_config_free(&cfg);
        }
        r = km_config_load_string("t.conf",
                                  "[serial]\nport = tcp://ser2net:3333\nparity = even\n[mqtt]\nport=8883\nqos = 2\n"
                                  "[meter]\nlist = Aidon\n[homeassistant]\nlegacy_reactive = yes\n",
                                  &cfg, err, sizeof(err));
        check(r == 0, "a small file loads", err);
        if (r == 0) {
                check(strcmp(cfg.meters[0].serial.port, "tcp://ser2net:3333") == 0 && !cfg.meters[0].serial.parity_auto &&
                              cfg.meters[0].serial.parity == KM_PARITY_EVEN && cfg.mqtt.port == 8883 && cfg.mqtt.qos == 2 &&
                              cfg.meters[0].meter.list == km_family_by_name("aidon") && cfg.homeassistant.legacy_reactive,
                      "values are taken", cfg.meters[0].serial.port);
                km_config_free(&cfg);
        }
        config_error("\n\n[mqtt]\nqos=9\n", "t.conf:4: [mqtt] qos: 9 is out of range");
        config_error("[serial]\n[nope]\n", "t.conf:2: unknown section [nope]");
        config_error("[log]\nlevel = info\nlevel = debug\n", "t.conf:3: 'level' in [log] is set twice");
        /* TLS material must be a PEM file: one made here */
        char pem[] = "/tmp/unit_daemon-XXXXXX", text[160];
        int fd = mkstemp(pem);
        FILE *f = fd >= 0 ? fdopen(fd, "w") : NULL;
        check(f != NULL, "a temporary PEM file", pem);
        if (f) {
                fputs("-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n", f);
                fclose(f);
        }
        snprintf(text, sizeof(text), "[mqtt]\ncertfile = %s\nkeyfile = %s\n", pem, pem);
        config_error(text, "t.conf:3: [mqtt] certfile needs TLS");
        config_error("[mqtt]\ncafile = /etc/hostname\n", "t.conf:2: [mqtt] cafile: /etc/hostname is not a PEM file");
        unlink(pem);
        config_error("[homeassistant]\nlegacy_reactive = 2025\n", "t.conf:2: [homeassistant] legacy_reactive:");
        config_error("[homeassistant]\ndiscovery_prefix = +\n", "t.conf:2: [homeassistant] discovery_prefix: '+' contains");
        test_config_outputs();
}

/* Lines of what fn writes to stderr that contain word. */
static int stderr_lines_with(void (*fn)(void *), void *arg, const char *word)
{
        fflush(stderr);
        int saved = dup(STDERR_FILENO);
        FILE *tmp = tmpfile();
        if (saved < 0 || !tmp)
                return -1;
        dup2(fileno(tmp), STDERR_FILENO);
        fn(arg);
        fflush(stderr);
        dup2(saved, STDERR_FILENO);
        close(saved);
        rewind(tmp);
        char line[1024];
        int n = 0;
        while (fgets(line, sizeof(line), tmp))
                if (strstr(line, word))
                        n++;
        fclose(tmp);
        return n;
}

typedef struct publish_run {
        km_publisher *pub;
        const km_reading *reading;
        int times;
} publish_run;

static void publish_many(void *arg)
{
        publish_run *run = arg;
        for (int i = 0; i < run->times; i++)
                km_publisher_reading(run->pub, run->reading);
}

/* A prefix the config would refuse (not UTF-8) makes every publish fail in
 * libmosquitto: 200 readings of 2 values give one log line, not hundreds. */
static void test_publish_failure_logged_once(void)
{
        static km_reading r;
        static const uint8_t id_code[6] = {0, 0, 96, 1, 0, 255};
        static const uint8_t power_code[6] = {1, 0, 1, 7, 0, 255};
        memset(&r, 0, sizeof(r));
        r.maker = "Kaifa";
        r.list_name = "KFM_001 list 2 (3-phase)";
        r.n_values = 2;
        memcpy(r.values[0].obis, id_code, 6);
        r.values[0].info = km_obis_lookup(id_code);
        r.values[0].kind = KM_VALUE_TEXT;
        snprintf(r.values[0].text, sizeof(r.values[0].text), "6970631400000233");
        r.values[0].text_len = 16;
        memcpy(r.values[1].obis, power_code, 6);
        r.values[1].info = km_obis_lookup(power_code);
        r.values[1].kind = KM_VALUE_NUMBER;
        r.values[1].unit = KM_UNIT_W;
        r.values[1].raw = 1234;
        check(r.values[0].info && r.values[1].info, "the OBIS table knows meter_id and power", NULL);

        km_mqtt *m = NULL;
        km_publisher *p = NULL;
        km_mqtt_options o = {.host = "127.0.0.1", .port = 1, .client_id = "unit-daemon", .keepalive = 60,
                             .queue_limit = 100000};
        km_publisher_options po = {.prefix = "kaifa\xff", .qos = 1, .discovery = true,
                                   .discovery_prefix = "homeassistant"};
        km_mqtt_lib_init();
        int rc = km_mqtt_new(&o, NULL, NULL, &m);
        if (rc == 0)
                rc = km_publisher_new(&po, &p);
        check(rc == 0, "a libmosquitto client and a publisher", NULL);
        if (rc == 0) {
                km_publisher_set_mqtt(p, m);
                km_log_setup("unit_daemon", LOG_DEBUG, 0);
                publish_run run = {p, &r, 200};
                int lines = stderr_lines_with(publish_many, &run, "publish");
                km_mqtt_stats st;
                km_mqtt_get_stats(m, &st);
                char got[64];
                snprintf(got, sizeof(got), "%d lines, %llu dropped", lines, (unsigned long long)st.dropped);
                check(lines == 1 && st.dropped >= 400, "a publish failing 400 times is logged once", got);
        }
        km_publisher_free(p);
        km_mqtt_free(m);
        km_mqtt_lib_cleanup();
}

static void test_discovery(void)
{
        km_ha_device dev = {"6970631400000233", "Kaifa", "MA304T4", NULL, "KFM_001"};
        km_ha_origin origin = {"kaifa-meterd", "1.2.3", NULL};
        km_ha_entity e = {"energy_active_cum_import", "kaifa/6970631400000233/energy_active_cum_import", "kWh",
                          "energy", "total_increasing", false, 0, false, NULL, NULL};
        char *topic = NULL, *json = NULL;
        km_ha_availability avail = {"kaifa/bridge/kmd/status", "kaifa/6970631400000233/status"};
        e.expire_after = 3660;
        int r = km_ha_config("homeassistant", &avail, &dev, &origin, &e, &topic, &json);
        check(r == 0, "discovery config builds", NULL);
        if (r < 0)
                return;
        check(strcmp(topic, "homeassistant/sensor/kaifa_6970631400000233/energy_active_cum_import/config") == 0,
              "discovery topic", topic);
        json_object *o = json_tokener_parse(json);
        check(o != NULL, "discovery payload is JSON", json);
        json_object *v, *d;
        check(json_object_object_get_ex(o, "unique_id", &v) &&
                      strcmp(json_object_get_string(v), "kaifa_6970631400000233_energy_active_cum_import") == 0,
              "unique_id", json);
        check(json_object_object_get_ex(o, "unit_of_measurement", &v) && strcmp(json_object_get_string(v), "kWh") == 0,
              "unit", json);
        check(json_object_object_get_ex(o, "device", &d) && json_object_object_get_ex(d, "name", &v) &&
                      strcmp(json_object_get_string(v), "Kaifa MA304T4") == 0,
              "device name from maker and type", json);
        check(!json_object_object_get_ex(o, "entity_category", &v), "a measurement is not diagnostic", json);
        check(json_object_object_get_ex(o, "availability", &v) && json_object_array_length(v) == 2 &&
                      strcmp(json_object_get_string(json_object_object_get(json_object_array_get_idx(v, 0), "topic")),
                             "kaifa/bridge/kmd/status") == 0,
              "availability: the bridge and the meter", json);
        check(json_object_object_get_ex(o, "availability_mode", &v) && strcmp(json_object_get_string(v), "all") == 0,
              "availability_mode all", json);
        check(json_object_object_get_ex(o, "expire_after", &v) && json_object_get_int(v) == 3660, "expire_after", json);
        check(json_object_object_get_ex(o, "suggested_display_precision", &v) && json_object_get_int(v) == 3,
              "kWh: suggested_display_precision 3", json);
        json_object_put(o);
        free(topic);
        free(json);
        topic = json = NULL;
}

/* The class of a kvarh register, in the current and the legacy form, as
 * the OBIS table gives it. */
static const char *reactive_energy_class(bool legacy, char *precision, size_t size)
{
        static char got[64];
        const uint8_t code[6] = {1, 0, 3, 8, 0, 255};
        const km_obis_info *info = km_obis_lookup(code);
        km_ha_device dev = {"6970631400000233", "Kaifa", "MA304T4", NULL, "KFM_001"};
        km_ha_origin origin = {"kaifa-meterd", "1.2.3", NULL};
        km_ha_availability avail = {"kaifa/bridge/kmd/status", "kaifa/6970631400000233/status"};
        km_ha_entity e = {"energy_reactive_cum_import", "kaifa/6970631400000233/energy_reactive_cum_import",
                          km_unit_symbol(info ? info->unit : KM_UNIT_NONE), info ? info->device_class : NULL,
                          info ? info->state_class : NULL, false, 3660, legacy, NULL, NULL};
        char *topic = NULL, *json = NULL;
        snprintf(got, sizeof(got), "(no config)");
        snprintf(precision, size, "(none)");
        if (km_ha_config("homeassistant", &avail, &dev, &origin, &e, &topic, &json) == 0) {
                json_object *o = json_tokener_parse(json), *v;
                snprintf(got, sizeof(got), "%s",
                         o && json_object_object_get_ex(o, "device_class", &v) ? json_object_get_string(v) : "(none)");
                if (o && json_object_object_get_ex(o, "suggested_display_precision", &v))
                        snprintf(precision, size, "%d", json_object_get_int(v));
                json_object_put(o);
        }
        free(topic);
        free(json);
        return got;
}

static void test_reactive_and_precision(void)
{
        char precision[16];
        const char *dc = reactive_energy_class(false, precision, sizeof(precision));
        check(strcmp(dc, "reactive_energy") == 0, "kvarh: device_class reactive_energy", dc);
        check(strcmp(precision, "3") == 0, "kvarh: suggested_display_precision 3", precision);
        dc = reactive_energy_class(true, precision, sizeof(precision));
        check(strcmp(dc, "(none)") == 0, "legacy_reactive: kvarh without a device_class", dc);
        check(strcmp(precision, "3") == 0, "legacy_reactive: precision kept", precision);

        static const struct {
                const char *unit, *dc;
                int want;
        } cases[] = {
                {"W", "power", 0},     {"var", "reactive_power", 0}, {"VA", "apparent_power", 0},
                {"V", "voltage", 1},   {"A", "current", 2},          {"Hz", "frequency", 2},
                {"kWh", "energy", 3},  {"m³", "gas", 3},             {"GJ", "energy", 3},
                {"", "power_factor", 2}, {"", NULL, -1},             {NULL, "timestamp", -1},
                {"furlongs", NULL, -1},
        };
        for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
                char what[64], got[16];
                int n = km_ha_display_precision(cases[i].unit, cases[i].dc);
                snprintf(what, sizeof(what), "precision of '%s' (%s) is %d", cases[i].unit ? cases[i].unit : "NULL",
                         cases[i].dc ? cases[i].dc : "no class", cases[i].want);
                snprintf(got, sizeof(got), "%d", n);
                check(n == cases[i].want, what, got);
        }
}

int main(void)
{
        decimal(801652, -3, "801.652");
        decimal(2302, -1, "230.2");
        decimal(2300, -1, "230");
        decimal(5, -3, "0.005");
        decimal(-5, -3, "-0.005");
        decimal(0, -3, "0");
        decimal(-1234, -2, "-12.34");
        decimal(5, 1, "50");
        decimal(100, -2, "1");
        decimal(950, -3, "0.95");
        decimal(-9223372036854775807LL - 1, 0, "-9223372036854775808");
        decimal(9223372036854775807LL, -18, "9.223372036854775807");
        decimal(7, 0, "7");
        decimal(10, 0, "10");
        decimal(1000000, -6, "1");
        {
                /* a short buffer keeps what fits, as snprintf did */
                char small[5];
                km_decimal_format(801652, -3, small, sizeof(small));
                check(strcmp(small, "801.") == 0, "801652 x 10^-3 into 5 bytes = 801.", small);
        }

        friendly("power_active_import", "Power active import");
        friendly("phase_voltage_l1", "Phase voltage L1");
        friendly("energy_active_cum_import", "Energy active cumulative import");
        friendly("meter_id", "Meter ID");
        friendly("obis_version", "OBIS version");

        char buf[64];
        km_ha_sanitize("1-0:99.7.0.255", buf, sizeof(buf));
        check(strcmp(buf, "1-0_99_7_0_255") == 0, "sanitize an OBIS code", buf);
        km_ha_sanitize("a/b+c#d e", buf, sizeof(buf));
        check(strcmp(buf, "a_b_c_d_e") == 0, "sanitize topic characters", buf);

        test_discovery();
        test_reactive_and_precision();
        test_publish_failure_logged_once();
        test_config();
        printf("%d passed, %d failed\n", passed, failed);
        return failed ? 1 : 0;
}
