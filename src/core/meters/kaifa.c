/*
 * Kaifa, OBIS list "KFM_001" (MA105H2E, MA304H3E, MA304H4, MA304T3, MA304T4).
 *
 * Norwegian Kaifa meters send structures of bare values: the element count
 * says which list it is (1 = list 1, 9/13 = list 2 one/three-phase, 14/18 =
 * list 3) and the position says what each value is. The raw integers are W,
 * var, mA, 0.1 V and Wh/varh (the KFM_001 sheet's units are wrong; the
 * captures confirm this). Swedish Kaifa meters send the same quantities with
 * OBIS codes inline and no scaler-unit; the same scaling applies to them.
 * Values are decoded by the tag actually present, never by assumed type.
 */
#include <string.h>

#include "../lists.h"

#define O(a, b, c, d, e, f) {a, b, c, d, e, f}

static const uint8_t pos_version[6] = O(1, 1, 0, 2, 129, 255);
static const uint8_t pos_meter_id[6] = O(0, 0, 96, 1, 0, 255);
static const uint8_t pos_meter_type[6] = O(0, 0, 96, 1, 7, 255);
static const uint8_t pos_p_import[6] = O(1, 0, 1, 7, 0, 255);
static const uint8_t pos_p_export[6] = O(1, 0, 2, 7, 0, 255);
static const uint8_t pos_q_import[6] = O(1, 0, 3, 7, 0, 255);
static const uint8_t pos_q_export[6] = O(1, 0, 4, 7, 0, 255);
static const uint8_t pos_il1[6] = O(1, 0, 31, 7, 0, 255);
static const uint8_t pos_il2[6] = O(1, 0, 51, 7, 0, 255);
static const uint8_t pos_il3[6] = O(1, 0, 71, 7, 0, 255);
static const uint8_t pos_ul1[6] = O(1, 0, 32, 7, 0, 255);
static const uint8_t pos_ul2[6] = O(1, 0, 52, 7, 0, 255);
static const uint8_t pos_ul3[6] = O(1, 0, 72, 7, 0, 255);
static const uint8_t pos_clock[6] = O(0, 0, 1, 0, 0, 255);
static const uint8_t pos_a_import[6] = O(1, 0, 1, 8, 0, 255);
static const uint8_t pos_a_export[6] = O(1, 0, 2, 8, 0, 255);
static const uint8_t pos_r_import[6] = O(1, 0, 3, 8, 0, 255);
static const uint8_t pos_r_export[6] = O(1, 0, 4, 8, 0, 255);

typedef struct kaifa_layout {
        uint32_t count;
        const char *name;
        const uint8_t *const *codes;
} kaifa_layout;

static const uint8_t *const list1[] = {pos_p_import};
static const uint8_t *const list2_1p[] = {pos_version, pos_meter_id, pos_meter_type, pos_p_import, pos_p_export,
                                          pos_q_import, pos_q_export, pos_il1,       pos_ul1};
static const uint8_t *const list2_3p[] = {pos_version,  pos_meter_id, pos_meter_type, pos_p_import, pos_p_export,
                                          pos_q_import, pos_q_export, pos_il1,        pos_il2,      pos_il3,
                                          pos_ul1,      pos_ul2,      pos_ul3};
static const uint8_t *const list3_1p[] = {pos_version,  pos_meter_id, pos_meter_type, pos_p_import, pos_p_export,
                                          pos_q_import, pos_q_export, pos_il1,        pos_ul1,      pos_clock,
                                          pos_a_import, pos_a_export, pos_r_import,   pos_r_export};
static const uint8_t *const list3_3p[] = {pos_version,  pos_meter_id, pos_meter_type, pos_p_import, pos_p_export,
                                          pos_q_import, pos_q_export, pos_il1,        pos_il2,      pos_il3,
                                          pos_ul1,      pos_ul2,      pos_ul3,        pos_clock,    pos_a_import,
                                          pos_a_export, pos_r_import, pos_r_export};

static const kaifa_layout layouts[] = {
        {1, "KFM_001 list 1", list1},
        {9, "KFM_001 list 2 (1-phase)", list2_1p},
        {13, "KFM_001 list 2 (3-phase)", list2_3p},
        {14, "KFM_001 list 3 (1-phase)", list3_1p},
        {18, "KFM_001 list 3 (3-phase)", list3_3p},
};

static const kaifa_layout *layout_for(uint32_t count)
{
        for (size_t i = 0; i < sizeof(layouts) / sizeof(layouts[0]); i++)
                if (layouts[i].count == count)
                        return &layouts[i];
        return NULL;
}

/* The first element must match the layout: a number for list 1, the list
 * version text "KFM_..." for the others. Other makers (Iskraemeco, L+G) also
 * send bare structures of 9 or 18 values, in their own order. */
static bool first_element_fits(const km_cursor *c, uint32_t count)
{
        km_axdr_item it;
        if (km_axdr_peek(c, &it) != KM_OK)
                return false;
        if (count == 1)
                return it.cls == KM_AXDR_INTEGER;
        const char *prefix = km_family_kaifa.ops->version_prefix;
        size_t n = strlen(prefix);
        return it.cls == KM_AXDR_BYTES && it.tag != KM_TAG_DATE_TIME && it.len >= n && memcmp(it.bytes, prefix, n) == 0;
}

/* The clock of list 3 is a 12-byte octet string. */
static bool clock_fits(const km_cursor *c)
{
        km_axdr_item it;
        return km_axdr_peek(c, &it) == KM_OK && it.cls == KM_AXDR_BYTES && it.len == 12;
}

static km_status kaifa_positional(km_cursor *c, uint32_t count, km_reading *r)
{
        const kaifa_layout *layout = layout_for(count);
        if (!layout || !first_element_fits(c, count))
                return KM_ERR_UNKNOWN_LIST;
        for (uint32_t i = 0; i < count; i++) {
                if (layout->codes[i] == pos_clock && !clock_fits(c))
                        return KM_ERR_UNKNOWN_LIST;
                size_t before = r->n_values;
                km_status s = km_list_read_value(c, layout->codes[i], r);
                if (s != KM_OK)
                        return s;
                if (r->n_values == before)
                        continue;
                km_value *v = &r->values[r->n_values - 1];
                if (v->kind == KM_VALUE_NUMBER || v->kind == KM_VALUE_FLOAT)
                        km_family_scale(&km_family_kaifa, v, r);
        }
        r->list_name = layout->name;
        return KM_OK;
}

/* Raw integers are W, var, mA, 0.1 V and Wh/varh; energies are shown in
 * kWh/kvarh, as the original tool printed them. */
static const km_scale_rule kaifa_scales[KM_Q_COUNT_] = {
        [KM_Q_ACTIVE_POWER] = {0, KM_UNIT_W},
        [KM_Q_REACTIVE_POWER] = {0, KM_UNIT_VAR},
        [KM_Q_CURRENT] = {-3, KM_UNIT_A},
        [KM_Q_VOLTAGE] = {-1, KM_UNIT_V},
        [KM_Q_ACTIVE_ENERGY] = {-3, KM_UNIT_KWH},
        [KM_Q_REACTIVE_ENERGY] = {-3, KM_UNIT_KVARH},
};

static const struct km_family_ops kaifa_ops = {
        .version_prefix = "KFM_",
        .scales = kaifa_scales,
        .verify_scalers = false,
        .adjust = NULL,
        .positional = kaifa_positional,
};

const km_family km_family_kaifa = {
        .name = "kaifa",
        .maker = "Kaifa",
        .flag_id = "KFM",
        .countries = "NO SE AT PL",
        .lists = "KFM_001 lists 1-3 (bare values by position; OBIS codes inline in Sweden); "
                 "MA309 lists of Austria and Poland (OBIS codes and scalers inline)",
        .ops = &kaifa_ops,
};
