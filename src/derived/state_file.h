/*
 * The derived values' state (energy.h) in a small versioned text file, one
 * per meter, so a restart loses nothing: written atomically (temporary
 * file, fsync, rename, fsync of the directory), read back whole or not at
 * all. Doubles are written in hex (%a) so they come back bit for bit.
 *
 * Library code: returns negative errno, never logs (the caller says once
 * what went wrong and starts from nothing).
 */
#ifndef KM_DERIVED_STATE_FILE_H
#define KM_DERIVED_STATE_FILE_H

#include "derived/energy.h"

#define KM_STATE_VERSION 1

/* Writes e to path. Returns 0 or a negative errno. */
int km_state_save(const char *path, const km_energy *e, const char *tz_name);

/* Reads path into *ret_e (untouched on failure). Returns 0, -ENOENT (no
 * file), -EPROTO (another format version), -ESTALE (written for another
 * time zone), -EBADMSG (corrupt: unreadable, cut short, check fails), or
 * another negative errno. */
int km_state_load(const char *path, const char *tz_name, km_energy *ret_e);

/* Words for a km_state_load() failure: "is corrupt", "has another format version"... */
const char *km_state_strerror(int r);

#endif
