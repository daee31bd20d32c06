/*
 * Keys, decrypt session and messages of the decoding commands (see
 * cli_security.h). Keys are parsed as soon as they are read and their text
 * is overwritten; no message quotes one.
 */
#include "cli/cli_security.h"

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>

#include "util/log.h"

#define KEY_HINT "--key (or --key-file)"

void km_cli_security_init(km_cli_security *cs)
{
        memset(cs, 0, sizeof(*cs));
        km_session_init(&cs->session, false);
        km_ratelimit_init(&cs->said, UINT64_MAX); /* once per run */
}

int km_cli_security_key_arg(km_cli_security *cs, char *arg, bool auth)
{
        char why[160];
        int r = km_key_parse_hex(arg, auth ? cs->key.ak : cs->key.ek, why, sizeof(why));
        explicit_bzero(arg, strlen(arg));
        if (r < 0) {
                fprintf(stderr, "kaifa-meter: %s: %s (try --help)\n", auth ? "--auth-key" : "--key", why);
                return EX_USAGE;
        }
        if (auth)
                cs->key.has_ak = true;
        else
                cs->key.has_ek = true;
        return 0;
}

static int load_keys(km_cli_security *cs, km_key *key)
{
        char why[600];
        if (cs->key_file && (cs->key.has_ek || cs->key.has_ak)) {
                fprintf(stderr, "kaifa-meter: give the keys with --key-file or with --key/--auth-key, not both "
                                "(try --help)\n");
                return EX_USAGE;
        }
        if (cs->key_file) {
                int r = km_key_file_load(cs->key_file, key, why, sizeof(why));
                if (r < 0) {
                        km_log_error("%s", why);
                        return r == -ENOENT ? EX_NOINPUT : r == -EACCES ? EX_NOPERM : EX_DATAERR;
                }
                return EX_OK;
        }
        *key = cs->key;
        if (key->has_ek || key->has_ak)
                return EX_OK;
        /* run as a service with LoadCredential=kaifa-meter-key:... */
        bool found;
        if (km_key_credentials_load(getenv("CREDENTIALS_DIRECTORY"), key, &found, why, sizeof(why)) < 0) {
                km_log_error("%s", why);
                return EX_DATAERR;
        }
        return EX_OK;
}

int km_cli_security_setup(km_cli_security *cs, km_decoder_options *opt)
{
        km_key key;
        memset(&key, 0, sizeof(key));
        int status = load_keys(cs, &key);
        explicit_bzero(&cs->key, sizeof(cs->key));
        if (status == EX_OK && key.has_ak && !key.has_ek) {
                fprintf(stderr, "kaifa-meter: an authentication key needs the encryption key too (--key) "
                                "(try --help)\n");
                status = EX_USAGE;
        }
        if (status == EX_OK && key.has_ek && km_keyring_set(&cs->session.keyring, NULL, &key) < 0)
                status = EX_SOFTWARE;
        explicit_bzero(&key, sizeof(key));
        /* Installed with or without a key: a ciphered push then says which
         * meter it came from and how to give a key. */
        if (status == EX_OK)
                km_session_decoder_options(&cs->session, opt);
        return status;
}

static bool is_security_status(km_status s)
{
        return s == KM_ERR_NO_KEY || s == KM_ERR_DECRYPT || s == KM_ERR_AUTH_FAILED || s == KM_ERR_REPLAY ||
               s == KM_ERR_CIPHER_HEADER;
}

const km_event *km_cli_security_event(km_cli_security *cs, const km_event *ev, km_event *copy)
{
        km_status st;
        if (!km_session_take(&cs->session, &cs->info, &st))
                return ev;
        if (ev->kind == KM_EVENT_REJECT && is_security_status(ev->reject) &&
            km_ratelimit_allow(&cs->said, cs->info.system_title, ev->reject, 0, NULL)) {
                char msg[300];
                km_security_message(ev->reject, &cs->info, KEY_HINT, msg, sizeof(msg));
                km_log_error("%s", msg);
        }
        if (cs->info.mode == KM_CIPHER_NONE)
                return ev;
        *copy = *ev;
        copy->security = &cs->info;
        return copy;
}

void km_cli_security_stats(const km_cli_security *cs, FILE *out)
{
        const km_session_counters *c = &cs->session.counters;
        if (km_keyring_empty(&cs->session.keyring) && !c->decrypted && !c->no_key && !c->auth_failed &&
            !c->decrypt_failed && !c->bad_header)
                return;
        fprintf(out, "decrypted frames: %" PRIu64 "\n", c->decrypted);
        fprintf(out, "authenticated frames: %" PRIu64 "\n", c->authenticated);
        fprintf(out, "authentication failures: %" PRIu64 "\n", c->auth_failed);
        fprintf(out, "decrypt failures: %" PRIu64 "\n", c->decrypt_failed);
        fprintf(out, "replayed frames: %" PRIu64 "\n", c->replays);
        fprintf(out, "no key: %" PRIu64 "\n", c->no_key);
}

void km_cli_security_free(km_cli_security *cs)
{
        km_session_clear(&cs->session);
        explicit_bzero(&cs->key, sizeof(cs->key));
}
