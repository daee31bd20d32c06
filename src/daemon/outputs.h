/*
 * kaifa-meterd's outputs besides MQTT: the PostgreSQL sink ([postgresql])
 * and the JSON-lines file ([file]), driven from the daemon's sd-event loop.
 * Every decoded reading goes to both, independent of the MQTT side (no
 * meter-id hold). Neither ever blocks the loop: the PostgreSQL sink is
 * non-blocking and queues rows while the server is away; the file is a
 * local append, flushed per frame.
 */
#ifndef KM_DAEMON_OUTPUTS_H
#define KM_DAEMON_OUTPUTS_H

#include <stdbool.h>
#include <stddef.h>
#include <systemd/sd-event.h>

#include "daemon/config.h"
#include "kaifa/decoder.h"

typedef struct kmd_outputs kmd_outputs;

/* changed(userdata) is called whenever an output finished closing while
 * stopping (see kmd_outputs_stop()). */
int kmd_outputs_new(sd_event *ev, void (*changed)(void *userdata), void *userdata, kmd_outputs **ret);

/* Opens, keeps or reopens the outputs for cfg. At start and on every SIGHUP:
 * the file is always reopened (logrotate); the PostgreSQL sink is kept when
 * none of its settings (nor the password file) changed, otherwise a new one
 * is opened and the old one writes what it still holds for up to 5 s. */
void kmd_outputs_configure(kmd_outputs *o, const km_config *cfg);

/* A decoded frame (ev->kind == KM_EVENT_READING). */
void kmd_outputs_reading(kmd_outputs *o, const km_event *ev);

/* Appends ", postgresql connected, 0 pending, 0 dropped" (and a note on a
 * file that cannot be written) to buf for STATUS=; nothing when unused. */
void kmd_outputs_status(kmd_outputs *o, char *buf, size_t size);

/* SIGTERM: the PostgreSQL sink writes what it holds for at most 500 ms,
 * then everything is closed. */
void kmd_outputs_stop(kmd_outputs *o);

/* True once everything is closed after kmd_outputs_stop(). */
bool kmd_outputs_stopped(const kmd_outputs *o);

/* Closes what is open (rows not yet written are logged); accepts NULL. */
void kmd_outputs_free(kmd_outputs *o);

#endif
