/*
 * Aidon, OBIS list "AIDON_V0001" (65xx meters).
 *
 * Aidon lists are self-describing: an array of register structures, each
 * with OBIS code, value and (for quantities) an inline scaler-unit, so the
 * generic walker needs nothing from this family but its name.
 */
#include "../lists.h"

static const struct km_family_ops aidon_ops = {
        .version_prefix = "AIDON_",
        .scales = NULL,
        .verify_scalers = false,
        .adjust = NULL,
        .positional = NULL,
};

const km_family km_family_aidon = {
        .name = "aidon",
        .maker = "Aidon",
        .flag_id = NULL, /* lists carry the version text; no FLAG id seen in a capture */
        .countries = "NO SE",
        .lists = "AIDON_V0001 lists 1-3 and the Swedish long list (OBIS codes and scalers inline)",
        .ops = &aidon_ops,
};
