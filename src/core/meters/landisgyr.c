/*
 * Landis+Gyr E450, E360 and E570.
 *
 * Swiss meters push capture-object lists (read generically in positional.c):
 * the object list says what each value is, but registers come without their
 * scaler. The convention, checked against the captures' stated values: power
 * in W, energy in Wh, current in 0.01 A, power factor in thousandths and
 * voltage in volts; where a meter sends tenths of a volt (E360: 2357) or
 * whole amperes (E570 on current transformers) the plausibility pass in
 * scaling.c moves the decade.
 *
 * Netz Burgenland (Austria) E450 pushes 14 bare values in its own order
 * (amsreader-firmware gh501): U1-U3, I1-I3, +P, -P, +A, -A, three values not
 * documented, and the meter number.
 */
#include "../lists.h"

#define CODE(name, c, d, e) static const uint8_t name[6] = {1, 0, c, d, e, 255}
static const uint8_t meter_id[6] = {0, 0, 96, 1, 0, 255};
CODE(p_in, 1, 7, 0);
CODE(p_out, 2, 7, 0);
CODE(u1, 32, 7, 0);
CODE(u2, 52, 7, 0);
CODE(u3, 72, 7, 0);
CODE(i1, 31, 7, 0);
CODE(i2, 51, 7, 0);
CODE(i3, 71, 7, 0);
CODE(a_in, 1, 8, 0);
CODE(a_out, 2, 8, 0);

static const uint8_t *const burgenland_14[] = {u1,    u2,   u3,   i1,   i2,   i3,   p_in,
                                               p_out, a_in, a_out, NULL, NULL, NULL, meter_id};

static const km_layout layouts[] = {
        {"Landis+Gyr E450 Netz Burgenland list", "llllllnnnnllls", burgenland_14},
};

static km_status landis_gyr_positional(km_cursor *c, uint32_t count, km_reading *r)
{
        return km_layouts_decode(layouts, sizeof(layouts) / sizeof(layouts[0]), &km_family_landis_gyr, c, count, r);
}

static const struct km_family_ops landis_gyr_ops = {
        .version_prefix = NULL,
        .scales = km_idis_scales, /* Landis+Gyr counts as the IDIS convention does */
        .verify_scalers = true,
        .adjust = NULL,
        .positional = landis_gyr_positional,
};

const km_family km_family_landis_gyr = {
        .name = "landis-gyr",
        .maker = "Landis+Gyr",
        .flag_id = "LGZ",
        .countries = "CH AT",
        .lists = "E360/E450/E570 capture-object-list pushes (block transfer); E450 Netz Burgenland list",
        .ops = &landis_gyr_ops,
};
