/*
 * Keys for encrypted meters: a small keyring keyed by system title, with one
 * default entry for the usual single meter, and the ways a key reaches the
 * program (command line hex, key file, systemd credentials).
 *
 * A key is 32 hex digits (16 bytes); spaces and tabs between the digits are
 * allowed ("39 43 6F 51 ..."). Error messages never contain key material:
 * they say what is wrong (length, position of a bad character, file and
 * line), not what was read. Keys are wiped when the keyring is cleared.
 *
 * km_keyring_security() turns a keyring into the decoder's km_security hook;
 * the cipher behind it is in gcm_openssl.c.
 */
#ifndef KM_SECURITY_KEYRING_H
#define KM_SECURITY_KEYRING_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "kaifa/security.h"

#define KM_KEYRING_MAX 16

/* Names of the systemd credentials (LoadCredential=kaifa-meter-key:...). */
#define KM_CREDENTIAL_KEY "kaifa-meter-key"
#define KM_CREDENTIAL_AUTH_KEY "kaifa-meter-auth-key"

typedef struct km_key {
        uint8_t ek[KM_AES_KEY_LEN]; /* encryption key (GUEK) */
        uint8_t ak[KM_AES_KEY_LEN]; /* authentication key (GAK) */
        bool has_ek;
        bool has_ak;
} km_key;

typedef struct km_keyring_entry {
        bool any_title; /* the default entry: any system title, and the pilot */
        uint8_t title[KM_SYSTEM_TITLE_LEN];
        km_key key;
} km_keyring_entry;

typedef struct km_keyring {
        km_keyring_entry entries[KM_KEYRING_MAX];
        size_t n;
} km_keyring;

void km_keyring_init(km_keyring *kr);

/* Wipes every key (explicit_bzero) and empties the keyring. NULL is fine. */
void km_keyring_clear(km_keyring *kr);

/* Sets the key for one system title, or the default when title is NULL.
 * Returns 0, or -ENOSPC when the keyring is full. */
int km_keyring_set(km_keyring *kr, const uint8_t *title, const km_key *key);

/* The entry for a system title, else the default; NULL when neither. */
const km_key *km_keyring_find(const km_keyring *kr, const uint8_t *title);

bool km_keyring_empty(const km_keyring *kr);

/* The decoder hook for this keyring (kr must outlive the decoder). The
 * pilot's ECB is tried only when a default encryption key is set. */
void km_keyring_security(km_keyring *kr, km_security *ret_sec);

/* The cipher behind the hook (gcm_openssl.c): ud is a km_keyring. */
km_status km_keyring_open(void *ud, const km_cipher_request *req, uint8_t *out, size_t out_size,
                          size_t *ret_len, bool *ret_authenticated);

/* Parses 32 hex digits (spaces and tabs allowed, surrounding white space
 * ignored). Returns 0, or -EINVAL with a one-line reason in err. */
int km_key_parse_hex(const char *text, uint8_t ret_key[KM_AES_KEY_LEN], char *err, size_t err_size);

/* Reads a key file: lines EK=<hex> and AK=<hex> (KEY= and AUTH_KEY= too),
 * blank lines and # comments. A file holding nothing but 32 hex digits is
 * taken as the encryption key. Returns 0, or a negative errno with
 * "FILE:LINE: reason" (or "FILE: reason") in err. */
int km_key_file_load(const char *path, km_key *ret_key, char *err, size_t err_size);

/* Same from a string (the file's content), for tests; name is used in
 * messages. */
int km_key_text_load(const char *name, const char *text, km_key *ret_key, char *err, size_t err_size);

/* Reads the systemd credentials kaifa-meter-key and kaifa-meter-auth-key
 * from dir (normally $CREDENTIALS_DIRECTORY). Either may be missing;
 * *ret_found says whether a key was read. Each file holds one key (32 hex
 * digits). Returns 0 or a negative errno with a message in err. */
int km_key_credentials_load(const char *dir, km_key *key, bool *ret_found, char *err, size_t err_size);

#endif
