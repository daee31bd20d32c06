/*
 * Ending a command on SIGINT or SIGTERM, whatever it is blocked on.
 *
 * The handlers only set a flag, which the command checks between steps.
 * A signal interrupts a system call that is already waiting (no
 * SA_RESTART), but one that arrives just before a command starts to wait
 * (a read, a write to a full pipe or pty, poll, a sleep) would be missed:
 * so from the first stop request on, a 10 ms timer interrupts every wait
 * until the command has finished. Nothing is blocked or lost in between.
 */
#ifndef KM_CLI_STOP_H
#define KM_CLI_STOP_H

#include <stdbool.h>

/* Installs the handlers (and unblocks SIGINT and SIGTERM if the caller had
 * them blocked). Returns 0 or a negative errno. */
int km_stop_install(void);

/* True once SIGINT or SIGTERM has arrived. */
bool km_stop_requested(void);

#endif
