/*
 * Aidon, OBIS list "AIDON_V0001" (65xx meters).
 *
 * Aidon lists are self-describing: an array of register structures, each
 * with OBIS code, value and (for quantities) an inline scaler-unit, so the
 * generic walker needs nothing from this family but its name.
 */
#include "../lists.h"

const km_family km_family_aidon = {
        .maker = "Aidon",
        .version_prefix = "AIDON_",
        .scales = NULL,
        .adjust = NULL,
        .positional = NULL,
};
