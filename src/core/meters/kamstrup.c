/*
 * Kamstrup, OBIS list "Kamstrup_V0001" (Omnipower).
 *
 * OBIS/value pairs with no scaler-unit; the scaling is fixed by Kamstrup's
 * HAN-NVE description: W/var as sent, current in 0.01 A, voltage in 1 V and
 * energy in 10 Wh/10 varh. The 10 Wh unit is confirmed by the smidsrod
 * capture: between its two hourly lists A+ grows by 203 while the 360 power
 * readings in between average 2033 W. CT meters (type numbers starting
 * "685") count current in mA according to toreamun/amshan (no capture here
 * confirms it).
 */
#include <string.h>

#include "../lists.h"

static bool is_ct_meter(const km_reading *r)
{
        const char *type = km_reading_text(r, "meter_type");
        return type && strncmp(type, "685", 3) == 0;
}

static const km_scale_rule kamstrup_scales[KM_Q_COUNT_] = {
        [KM_Q_ACTIVE_POWER] = {0, KM_UNIT_W},
        [KM_Q_REACTIVE_POWER] = {0, KM_UNIT_VAR},
        [KM_Q_CURRENT] = {-2, KM_UNIT_A},
        [KM_Q_VOLTAGE] = {0, KM_UNIT_V},
        [KM_Q_ACTIVE_ENERGY] = {-2, KM_UNIT_KWH},   /* 10 Wh counted, kWh shown */
        [KM_Q_REACTIVE_ENERGY] = {-2, KM_UNIT_KVARH},
        [KM_Q_POWER_FACTOR] = {-2, KM_UNIT_NONE},   /* Danish long list: 90 = 0.90 */
};

static void kamstrup_adjust(km_value *v, km_quantity q, const km_reading *r)
{
        if (q == KM_Q_CURRENT && is_ct_meter(r))
                v->scaler = -3;
}

static const struct km_family_ops kamstrup_ops = {
        .version_prefix = "Kamstrup_",
        .scales = kamstrup_scales,
        .verify_scalers = true,
        .adjust = kamstrup_adjust,
        .positional = NULL,
};

const km_family km_family_kamstrup = {
        .name = "kamstrup",
        .maker = "Kamstrup",
        .flag_id = "KAM",
        .countries = "NO SE DK CH",
        .lists = "Kamstrup_V0001 lists 1/2 and the Danish/Swiss long list (OBIS/value pairs, fixed scalers)",
        .ops = &kamstrup_ops,
};
