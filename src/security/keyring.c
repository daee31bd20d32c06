/*
 * The keyring and key input (see keyring.h): hex parsing, key files and
 * systemd credentials. Nothing here prints or logs; every message is built
 * for the caller and never quotes what was read from a key.
 */
#include "security/keyring.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Key files and credentials are a few lines; anything longer is not one. */
#define KEY_FILE_MAX 4096

void km_keyring_init(km_keyring *kr)
{
        memset(kr, 0, sizeof(*kr));
}

void km_keyring_clear(km_keyring *kr)
{
        if (!kr)
                return;
        explicit_bzero(kr, sizeof(*kr));
}

static km_keyring_entry *entry_for(km_keyring *kr, const uint8_t *title)
{
        for (size_t i = 0; i < kr->n; i++) {
                km_keyring_entry *e = &kr->entries[i];
                if (title ? !e->any_title && memcmp(e->title, title, KM_SYSTEM_TITLE_LEN) == 0 : e->any_title)
                        return e;
        }
        return NULL;
}

int km_keyring_set(km_keyring *kr, const uint8_t *title, const km_key *key)
{
        km_keyring_entry *e = entry_for(kr, title);
        if (!e) {
                if (kr->n >= KM_KEYRING_MAX)
                        return -ENOSPC;
                e = &kr->entries[kr->n++];
                e->any_title = title == NULL;
                if (title)
                        memcpy(e->title, title, KM_SYSTEM_TITLE_LEN);
        }
        e->key = *key;
        return 0;
}

const km_key *km_keyring_find(const km_keyring *kr, const uint8_t *title)
{
        km_keyring *k = (km_keyring *)kr;
        km_keyring_entry *e = title ? entry_for(k, title) : NULL;
        if (!e)
                e = entry_for(k, NULL);
        return e ? &e->key : NULL;
}

bool km_keyring_empty(const km_keyring *kr)
{
        return kr->n == 0;
}

void km_keyring_security(km_keyring *kr, km_security *sec)
{
        const km_key *def = km_keyring_find(kr, NULL);
        sec->open = km_keyring_open;
        sec->ud = kr;
        sec->pilot_ecb = def && def->has_ek;
}

static int hex_value(char c)
{
        if (c >= '0' && c <= '9')
                return c - '0';
        if (c >= 'a' && c <= 'f')
                return c - 'a' + 10;
        if (c >= 'A' && c <= 'F')
                return c - 'A' + 10;
        return -1;
}

static bool is_blank(char c)
{
        return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

int km_key_parse_hex(const char *text, uint8_t ret_key[KM_AES_KEY_LEN], char *err, size_t err_size)
{
        uint8_t key[KM_AES_KEY_LEN];
        size_t digits = 0;
        int r = 0;
        for (size_t i = 0; text[i]; i++) {
                if (is_blank(text[i]))
                        continue;
                int v = hex_value(text[i]);
                if (v < 0) {
                        snprintf(err, err_size,
                                 "key has a character that is not a hex digit (character %zu); "
                                 "give 32 hex digits, spaces allowed",
                                 i + 1);
                        r = -EINVAL;
                        goto out;
                }
                if (digits < 2 * KM_AES_KEY_LEN)
                        key[digits / 2] = (uint8_t)(digits % 2 ? key[digits / 2] | v : v << 4);
                digits++;
        }
        if (digits != 2 * KM_AES_KEY_LEN) {
                snprintf(err, err_size, "key must be 32 hex digits (16 bytes), not %zu", digits);
                r = -EINVAL;
                goto out;
        }
        memcpy(ret_key, key, sizeof(key));
out:
        explicit_bzero(key, sizeof(key));
        return r;
}

/* Splits "NAME=value" at the '=': returns the value, or NULL without '='. */
static char *split_assignment(char *line, char **ret_name)
{
        char *eq = strchr(line, '=');
        if (!eq)
                return NULL;
        *eq = '\0';
        char *name = line;
        while (is_blank(*name))
                name++;
        char *end = name + strlen(name);
        while (end > name && is_blank(end[-1]))
                *--end = '\0';
        *ret_name = name;
        return eq + 1;
}

static bool name_is(const char *name, const char *a, const char *b)
{
        return strcasecmp(name, a) == 0 || strcasecmp(name, b) == 0;
}

static bool line_is_empty(const char *line)
{
        while (is_blank(*line))
                line++;
        return *line == '\0' || *line == '#' || *line == ';';
}

/* One line of a key file into key; 0 or -EINVAL with the reason in err. */
static int key_file_line(char *line, km_key *key, bool *ret_bare, char *err, size_t err_size)
{
        char *name;
        char *value = split_assignment(line, &name);
        if (!value) {
                /* a file of nothing but the key */
                *ret_bare = true;
                key->has_ek = km_key_parse_hex(line, key->ek, err, err_size) == 0;
                if (!key->has_ek)
                        return -EINVAL;
                return 0;
        }
        if (name_is(name, "EK", "KEY")) {
                if (km_key_parse_hex(value, key->ek, err, err_size) < 0)
                        return -EINVAL;
                key->has_ek = true;
        } else if (name_is(name, "AK", "AUTH_KEY")) {
                if (km_key_parse_hex(value, key->ak, err, err_size) < 0)
                        return -EINVAL;
                key->has_ak = true;
        } else {
                snprintf(err, err_size, "unknown name before '=' (expected EK= or AK=)");
                return -EINVAL;
        }
        return 0;
}

int km_key_text_load(const char *name, const char *text, km_key *ret_key, char *err, size_t err_size)
{
        km_key key;
        memset(&key, 0, sizeof(key));
        char line[KEY_FILE_MAX];
        char why[160];
        unsigned lineno = 0;
        size_t bare = 0, lines = 0;
        int r = 0;
        const char *p = text;
        while (*p) {
                const char *nl = strchr(p, '\n');
                size_t len = nl ? (size_t)(nl - p) : strlen(p);
                lineno++;
                if (len >= sizeof(line)) {
                        snprintf(err, err_size, "%s:%u: line too long for a key file", name, lineno);
                        r = -EINVAL;
                        goto out;
                }
                memcpy(line, p, len);
                line[len] = '\0';
                p += len + (nl ? 1 : 0);
                if (line_is_empty(line))
                        continue;
                lines++;
                bool is_bare = false;
                if (key_file_line(line, &key, &is_bare, why, sizeof(why)) < 0) {
                        snprintf(err, err_size, "%s:%u: %s", name, lineno, why);
                        r = -EINVAL;
                        goto out;
                }
                bare += is_bare;
        }
        if (!key.has_ek && !key.has_ak) {
                snprintf(err, err_size, "%s: no key in it (expected a line EK=<32 hex digits>)", name);
                r = -EINVAL;
                goto out;
        }
        if (bare && lines > 1) {
                snprintf(err, err_size, "%s: a bare key must be the only line; use EK= and AK= lines", name);
                r = -EINVAL;
                goto out;
        }
        *ret_key = key;
out:
        explicit_bzero(&key, sizeof(key));
        explicit_bzero(line, sizeof(line));
        return r;
}

/* Reads a small file whole into buf (NUL-terminated); -EFBIG if too long. */
static int read_small_file(const char *path, char *buf, size_t size)
{
        FILE *f = fopen(path, "re");
        if (!f)
                return -errno;
        size_t n = fread(buf, 1, size - 1, f);
        int r = ferror(f) ? -EIO : 0;
        if (r == 0 && n == size - 1 && fgetc(f) != EOF)
                r = -EFBIG;
        fclose(f);
        buf[n] = '\0';
        if (r == 0 && strlen(buf) != n)
                r = -EINVAL; /* a NUL byte: not a text file */
        return r;
}

int km_key_file_load(const char *path, km_key *ret_key, char *err, size_t err_size)
{
        char buf[KEY_FILE_MAX];
        int r = read_small_file(path, buf, sizeof(buf));
        if (r == -EFBIG || r == -EINVAL)
                snprintf(err, err_size, "%s: not a key file (expected EK=/AK= lines of 32 hex digits)", path);
        else if (r < 0)
                snprintf(err, err_size, "%s: cannot read key file: %s", path, strerror(-r));
        else
                r = km_key_text_load(path, buf, ret_key, err, err_size);
        explicit_bzero(buf, sizeof(buf));
        return r;
}

/* One credential file holding one key; 0 and *ret_found = false when the
 * file does not exist. */
static int credential_key(const char *dir, const char *name, uint8_t ret_key[KM_AES_KEY_LEN], bool *ret_found,
                          char *err, size_t err_size)
{
        char path[4096];
        char buf[KEY_FILE_MAX];
        char why[160];
        *ret_found = false;
        if (snprintf(path, sizeof(path), "%s/%s", dir, name) >= (int)sizeof(path)) {
                snprintf(err, err_size, "credentials directory path too long");
                return -ENAMETOOLONG;
        }
        int r = read_small_file(path, buf, sizeof(buf));
        if (r == -ENOENT)
                return 0;
        if (r < 0) {
                snprintf(err, err_size, "credential %s: cannot read it: %s", path,
                         r == -EFBIG || r == -EINVAL ? "not a key" : strerror(-r));
        } else if (km_key_parse_hex(buf, ret_key, why, sizeof(why)) < 0) {
                snprintf(err, err_size, "credential %s: %s", path, why);
                r = -EINVAL;
        } else {
                *ret_found = true;
        }
        explicit_bzero(buf, sizeof(buf));
        return r;
}

int km_key_credentials_load(const char *dir, km_key *key, bool *ret_found, char *err, size_t err_size)
{
        bool ek = false, ak = false;
        *ret_found = false;
        if (!dir || !*dir)
                return 0;
        int r = credential_key(dir, KM_CREDENTIAL_KEY, key->ek, &ek, err, err_size);
        if (r < 0)
                return r;
        r = credential_key(dir, KM_CREDENTIAL_AUTH_KEY, key->ak, &ak, err, err_size);
        if (r < 0)
                return r;
        key->has_ek |= ek;
        key->has_ak |= ak;
        *ret_found = ek || ak;
        return 0;
}
