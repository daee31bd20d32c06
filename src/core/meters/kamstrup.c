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

static bool kamstrup_scale(const km_value *v, const km_reading *r, int8_t *scaler, km_unit *unit)
{
        const uint8_t *o = v->obis;
        if (o[0] != 1 || o[4] != 0)
                return false;
        if (o[3] == 7) {
                switch (o[2] % 20) {
                case 11: /* 31, 51, 71: current */
                        *scaler = is_ct_meter(r) ? -3 : -2;
                        *unit = KM_UNIT_A;
                        return true;
                case 12: /* 32, 52, 72: voltage */
                        *scaler = 0;
                        *unit = KM_UNIT_V;
                        return true;
                default:
                        return false;
                }
        }
        if (o[3] == 8 && o[2] >= 1 && o[2] <= 4) {
                *scaler = -2; /* 10 Wh counted, kWh shown */
                *unit = o[2] <= 2 ? KM_UNIT_KWH : KM_UNIT_KVARH;
                return true;
        }
        return false;
}

const km_family km_family_kamstrup = {
        .maker = "Kamstrup",
        .version_prefix = "Kamstrup_",
        .scale = kamstrup_scale,
        .positional = NULL,
};
