/*
 * The service loop of kaifa-meterd: one sd-event loop that watches the meter
 * (serial port, TCP serial server, file or FIFO), the MQTT socket, timers and
 * signals, and talks to systemd with sd_notify.
 */
#ifndef KM_DAEMON_DAEMON_H
#define KM_DAEMON_DAEMON_H

#include "daemon/config.h"

/* Runs until SIGTERM/SIGINT. Takes ownership of *cfg. config_path is read
 * again on SIGHUP. Returns a sysexits.h code. */
int km_daemon_run(km_config *cfg, const char *config_path);

#endif
