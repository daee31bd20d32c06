/*
 * libFuzzer target for the daemon's configuration file parser
 * (km_config_load_string() in src/daemon/config.c: inih, the key table,
 * every value parser, the rules between keys), seeded from the example
 * configurations of config/, docs/, man/, packaging and the daemon tests
 * (corpus_config/, made by make_corpus_config.py).
 *
 * The input is the file's text. Besides ASan and UBSan, abort() fires when:
 *   - a load neither succeeds nor leaves a one-line "NAME:..." message, or
 *     leaves a message on success, or leaves strings behind on failure;
 *   - a loaded configuration lacks what the daemon relies on being set (at
 *     least one meter, each with a port and a section name of its own, the
 *     broker host, the topic prefix) or holds a value out of its range;
 *   - the same text loaded twice gives a different result (the parser must
 *     not keep state between loads);
 *   - a secret reaches a message or the --check-config dump: the text is
 *     loaded again with the letters and digits of every key=, auth_key= and
 *     password= value changed to others of the same kind (hex stays hex), and
 *     the message and the dump must be the same byte for byte.
 * The parser reads files the text names (password_file, key_file, cafile,
 * ...): they are only read, and the systemd credentials directory is unset
 * so that no key is picked up from the environment.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "daemon/config.h"

#define FUZZ_CONFIG_MAX (64 * 1024)
#define DUMP_MAX (64 * 1024)

typedef struct loaded {
        int r;
        char err[KM_CONFIG_ERR_MAX];
        char dump[DUMP_MAX];
        size_t dump_len;
} loaded;

static void need(int cond)
{
        if (!cond)
                abort();
}

/* A secret's value: letters and digits changed, class by class, so that a
 * valid value stays valid (and an invalid one invalid) and only an echo of
 * the value itself can make the messages differ. */
static char rotate(char ch)
{
        if (ch >= '0' && ch <= '9')
                return (char)('0' + (ch - '0' + 3) % 10);
        if (ch >= 'a' && ch <= 'f')
                return (char)('a' + (ch - 'a' + 1) % 6);
        if (ch >= 'A' && ch <= 'F')
                return (char)('A' + (ch - 'A' + 1) % 6);
        if (ch >= 'g' && ch <= 'z')
                return (char)('g' + (ch - 'g' + 5) % 20);
        if (ch >= 'G' && ch <= 'Z')
                return (char)('G' + (ch - 'G' + 5) % 20);
        return ch;
}

static int is_space(char ch)
{
        return ch == ' ' || ch == '\t' || ch == '\r';
}

static int is_secret_name(const char *s, size_t n)
{
        static const char *const names[] = {"key", "auth_key", "password"};
        for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
                if (strlen(names[i]) == n && memcmp(names[i], s, n) == 0)
                        return 1;
        return 0;
}

/* Rewrites in place the value of every line "NAME = VALUE" (or "NAME:
 * VALUE") whose NAME is a secret's. Returns how many were changed. */
static int hide_secrets(char *text)
{
        int changed = 0;
        for (char *line = text; *line;) {
                char *end = strchr(line, '\n');
                size_t len = end ? (size_t)(end - line) : strlen(line);
                size_t i = 0;
                while (i < len && is_space(line[i]))
                        i++;
                size_t name = i;
                while (i < len && line[i] != '=' && line[i] != ':')
                        i++;
                size_t name_end = i;
                while (name_end > name && is_space(line[name_end - 1]))
                        name_end--;
                if (i < len && is_secret_name(line + name, name_end - name)) {
                        for (size_t j = i + 1; j < len; j++)
                                line[j] = rotate(line[j]);
                        changed++;
                }
                line += len + (end ? 1 : 0);
        }
        return changed;
}

static void check_meter(const km_meter_config *m)
{
        need(m->section != NULL && m->section[0]);
        need(m->serial.port != NULL && m->serial.port[0]);
        need(m->serial.baud > 0);
        need(m->serial.data_bits == 7 || m->serial.data_bits == 8);
        need(m->meter.stale_after >= 0 && m->meter.id_wait >= 0);
        need(!m->meter.key.has_ak || m->meter.key.has_ek);
}

static void check_loaded(const km_config *cfg)
{
        need(cfg->path != NULL);
        need(cfg->n_meters >= 1 && cfg->meters != NULL);
        for (size_t i = 0; i < cfg->n_meters; i++) {
                check_meter(&cfg->meters[i]);
                for (size_t j = 0; j < i; j++) /* each meter once */
                        need(strcmp(cfg->meters[i].section, cfg->meters[j].section) != 0);
        }
        need(cfg->mqtt.host != NULL && cfg->mqtt.host[0]);
        need(cfg->mqtt.prefix != NULL);
        need(cfg->mqtt.port >= 0 && cfg->mqtt.port <= 65535);
        need(cfg->mqtt.qos >= 0 && cfg->mqtt.qos <= 2);
        need(cfg->mqtt.queue_limit > 0);
        need(!cfg->postgresql.enabled || cfg->postgresql.table != NULL);
        need(!cfg->file.enabled || (cfg->file.path != NULL && cfg->file.path[0] == '/'));
}

static void load(const char *text, loaded *out)
{
        km_config cfg;
        memset(out->err, 0, sizeof(out->err));
        out->r = km_config_load_string("fuzz.conf", text, &cfg, out->err, sizeof(out->err));
        out->dump_len = 0;
        if (out->r == 0) {
                need(out->err[0] == '\0');
                check_loaded(&cfg);
                FILE *f = fmemopen(out->dump, sizeof(out->dump), "w");
                need(f != NULL);
                km_config_dump(&cfg, f);
                fflush(f);
                out->dump_len = (size_t)ftell(f);
                fclose(f);
        } else {
                need(out->r < 0);
                size_t n = strnlen(out->err, sizeof(out->err));
                need(n > 0 && n < sizeof(out->err));
                need(strncmp(out->err, "fuzz.conf", 9) == 0);
                need(strchr(out->err, '\n') == NULL);
                /* a failed load frees what it had */
                need(cfg.path == NULL && cfg.meters == NULL && cfg.n_meters == 0 && cfg.mqtt.host == NULL);
        }
        km_config_free(&cfg);
}

static int same(const loaded *a, const loaded *b)
{
        return a->r == b->r && strcmp(a->err, b->err) == 0 && a->dump_len == b->dump_len &&
               memcmp(a->dump, b->dump, a->dump_len) == 0;
}

static loaded first, again;
static char text[FUZZ_CONFIG_MAX + 1];

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        static int once;
        if (!once) {
                unsetenv("CREDENTIALS_DIRECTORY");
                once = 1;
        }
        if (size > FUZZ_CONFIG_MAX)
                return 0;
        /* the file reader stops at a NUL byte as the string does */
        memcpy(text, data, size);
        text[size] = '\0';

        load(text, &first);
        load(text, &again);
        need(same(&first, &again));

        if (hide_secrets(text)) {
                load(text, &again);
                need(same(&first, &again));
        }
        return 0;
}
