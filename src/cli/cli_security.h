/*
 * Keys for the decoding commands: --key, --auth-key and --key-file (and the
 * systemd credentials when run as a service), the decrypt session behind
 * the decoder, the one-line messages for frames that cannot be opened (each
 * kind once per meter and run), and the --stats lines.
 */
#ifndef KM_CLI_SECURITY_H
#define KM_CLI_SECURITY_H

#include <stdbool.h>
#include <stdio.h>

#include "kaifa/decoder.h"
#include "security/session.h"

typedef struct km_cli_security {
        km_key key;           /* from --key / --auth-key, parsed at once */
        const char *key_file; /* --key-file */
        km_session session;
        km_ratelimit said;    /* messages already shown */
        km_security_info info; /* of the event being dispatched */
} km_cli_security;

void km_cli_security_init(km_cli_security *cs);

/* An option value: parses the key into cs->key and overwrites the argument
 * in argv so that it does not stay in /proc/PID/cmdline. Returns 0, or
 * EX_USAGE after printing a one-line error. */
int km_cli_security_key_arg(km_cli_security *cs, char *arg, bool auth);

/* After the options: reads --key-file (or the credentials), fills the
 * keyring and sets the decoder's decrypt hook. Returns EX_OK or an exit
 * code after printing the error. */
int km_cli_security_setup(km_cli_security *cs, km_decoder_options *opt);

/* The event to hand to the sinks: ev itself, or a copy in *copy with
 * ->security set for a ciphered APDU. Prints the message for a frame that
 * could not be opened, once per meter and kind. */
const km_event *km_cli_security_event(km_cli_security *cs, const km_event *ev, km_event *copy);

/* The security lines of --stats (nothing when no ciphered frame was seen
 * and no key given). */
void km_cli_security_stats(const km_cli_security *cs, FILE *out);

/* Wipes the keys. */
void km_cli_security_free(km_cli_security *cs);

#endif
