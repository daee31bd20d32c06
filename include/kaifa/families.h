/*
 * The meter families: what the decoder knows about each maker's lists, in
 * one public table (like rtl_433's r_device list).
 *
 * A family is the knowledge a frame does not carry: the positions of lists
 * sent without OBIS codes, and the scaler and unit of quantities sent without
 * a scaler-unit. Each lives in src/core/meters/<family>.c; lists that name
 * their objects and carry their scalers decode without any family. The CLI
 * and the daemon read names and makers from here instead of copying them
 * (config values such as `[meter] list = kaifa`, --help texts, README).
 */
#ifndef KAIFA_FAMILIES_H
#define KAIFA_FAMILIES_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

struct km_family_ops; /* the decoding side, private to the core (src/core/lists.h) */

typedef struct km_family {
        const char *name;        /* stable lower-case id: "kaifa", "landis-gyr" */
        const char *maker;       /* as a reading shows it: "Kaifa", "Landis+Gyr" */
        const char *flag_id;     /* 3-letter manufacturer (FLAG) id that opens its logical
                                  * device names and system titles: "KFM", "LGZ"; NULL if none */
        const char *countries;   /* where its lists were captured: "NO SE AT PL" */
        const char *lists;       /* the lists it reads, for people */
        const struct km_family_ops *ops;
} km_family;

/* Number of families, and the i-th (NULL past the end). Order is stable. */
size_t km_family_count(void);
const km_family *km_family_get(size_t i);

/* The family with this name or maker, case-insensitively ("kaifa",
 * "Landis+Gyr"); NULL when there is none. */
const km_family *km_family_by_name(const char *name);

#ifdef __cplusplus
}
#endif

#endif
