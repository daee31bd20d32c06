/*
 * Iskraemeco AM550 (and the IE.5 of the same maker): lists of bare values.
 *
 * Three kinds are met, none with OBIS codes per value:
 *  - Slovenia (Elektro Ljubljana, Elektro Celje): a structure that opens with
 *    the logical device name "ISK..." (or the 8-digit meter number), then
 *    values whose order depends on the list; the lists differ in length and
 *    in the type of one element, which is how they are told apart
 *    (amsreader-firmware gh615, gh869, gh956).
 *  - Austria (KELAG, and the Siemens IM350 of Wiener Netze, which sends the
 *    same list): the push setup name 0-6:25.9.0 first, then meter number,
 *    time, date, +A, -A, +R, -R, +P, -P and two info strings
 *    ("Österreichs Energie" customer interface). The maker cannot be told
 *    from the list, so these readings name none.
 *  - Croatia (IE.5-TD1): meter number, time, date, then energies by tariff,
 *    quadrant energies, powers, power factor, per-phase powers, voltages and
 *    currents (gh1072).
 * Switzerland sends capture-object-list pushes, read generically
 * (positional.c) with the scalers below.
 *
 * No push carries a scaler: Iskraemeco counts W, var, Wh, varh, 0.1 V,
 * 0.01 A and a power factor in thousandths (the lists' sums check: 1.8.0 =
 * 1.8.1 + 1.8.2, phase powers add up to the total).
 */
#include "../lists.h"


/* OBIS codes by name, B = 0 */
#define CODE(name, c, d, e) static const uint8_t name[6] = {1, 0, c, d, e, 255}
static const uint8_t ldn[6] = {0, 0, 42, 0, 0, 255};
static const uint8_t meter_id[6] = {0, 0, 96, 1, 0, 255};
static const uint8_t device_id3[6] = {0, 0, 96, 1, 2, 255}; /* "16820005", "UP_3f": a list id rather than the meter's */
static const uint8_t disconnect[6] = {0, 0, 96, 3, 10, 255};
static const uint8_t tariff[6] = {0, 0, 96, 14, 0, 255};
CODE(p_in, 1, 7, 0);
CODE(p_out, 2, 7, 0);
CODE(q_in, 3, 7, 0);
CODE(q_out, 4, 7, 0);
CODE(pf, 13, 7, 0);
CODE(p1_in, 21, 7, 0);
CODE(p2_in, 41, 7, 0);
CODE(p3_in, 61, 7, 0);
CODE(p1_out, 22, 7, 0);
CODE(p2_out, 42, 7, 0);
CODE(p3_out, 62, 7, 0);
CODE(u1, 32, 7, 0);
CODE(u2, 52, 7, 0);
CODE(u3, 72, 7, 0);
CODE(i1, 31, 7, 0);
CODE(i2, 51, 7, 0);
CODE(i3, 71, 7, 0);
CODE(a_in, 1, 8, 0);
CODE(a_in1, 1, 8, 1);
CODE(a_in2, 1, 8, 2);
CODE(a_out, 2, 8, 0);
CODE(a_out1, 2, 8, 1);
CODE(a_out2, 2, 8, 2);
CODE(r_in, 3, 8, 0);
CODE(r_in1, 3, 8, 1);
CODE(r_in2, 3, 8, 2);
CODE(r_out, 4, 8, 0);
CODE(r_out1, 4, 8, 1);
CODE(r_out2, 4, 8, 2);
CODE(r_q1, 5, 8, 0);
CODE(r_q2, 6, 8, 0);
CODE(r_q3, 7, 8, 0);
CODE(r_q4, 8, 8, 0);

/* Slovenia, 1 s / 5 s instantaneous list, 3-phase (gh615-1, gh956-1) */
static const uint8_t *const si_18[] = {ldn,  device_id3, p_in,  p_out,  q_in,   q_out,  u1,     u2,     u3,
                                       i1,   i2,       i3,    p1_in,  p2_in,  p3_in,  p1_out, p2_out, p3_out};
/* Slovenia, 15 min energy list (gh615-2, gh956-2) */
static const uint8_t *const si_12_energy[] = {ldn,    device_id3, disconnect, tariff, a_in,  a_in1,
                                              a_in2,  a_out,    a_out1,     a_out2, r_in,  r_out};
/* Slovenia, Elektro Celje instantaneous list (gh615-8/9) */
static const uint8_t *const si_12_power[] = {ldn, device_id3, u1,   u2,    u3,   i1,
                                             i2,  i3,       p_in, p_out, q_in, q_out};
/* Slovenia, 1-phase instantaneous list (gh869-8) */
static const uint8_t *const si_10_power[] = {ldn, device_id3, p_in, p_out, q_in, q_out, u1, i1, p1_in, p1_out};
/* Slovenia, energy by tariff (amsreader-firmware's decoder; no capture here) */
static const uint8_t *const si_10_energy[] = {ldn,   device_id3, a_in1, a_in2,  a_out1,
                                              a_out2, r_in1,   r_in2, r_out1, r_out2};
/* Slovenia, 1-phase list with export by tariff (gh869-1/2/5) */
static const uint8_t *const si_9_power[] = {ldn, device_id3, p_in, p_out, q_in, q_out, u1, a_out1, a_out2};
/* Slovenia, power and energies (gh869-6: 1.8.0 = 1.8.1 + 1.8.2) */
static const uint8_t *const si_9_energy[] = {ldn, p_in, p_out, a_in, a_in1, a_in2, a_out, a_out1, a_out2};
/* Slovenia, 1-phase instantaneous list (amsreader-firmware; no capture here) */
static const uint8_t *const si_8_power[] = {ldn, device_id3, u1, i1, p_in, p_out, q_in, q_out};
/* Slovenia, 15 min totals with the 8-digit meter number (gh869-3/7) */
static const uint8_t *const si_4_energy[] = {meter_id, NULL, a_in, a_out};
/* Austria, "Österreichs Energie" list after the 0-6:25.9.0 header */
static const uint8_t *const at_header_12[] = {NULL, meter_id, NULL, NULL, a_in, a_out,
                                              r_in, r_out,    p_in, p_out, NULL, NULL};
static const uint8_t *const at_header_10[] = {NULL, meter_id, NULL, NULL, a_in, a_out, r_in, r_out, p_in, p_out};
/* Croatia, IE.5-TD1 (gh1072-3/4); the last five elements are not known */
static const uint8_t *const hr_33[] = {meter_id, NULL,   NULL,   a_in,   a_in1,  a_in2, a_out, a_out1, a_out2,
                                       r_q1,     r_q2,   r_q3,   r_q4,   p_in,   p_out, pf,    p1_in,  p2_in,
                                       p3_in,    p1_out, p2_out, p3_out, u1,     u2,    u3,    i1,     i2,
                                       i3,       NULL,   NULL,   NULL,   NULL,   NULL};

static const km_layout layouts[] = {
        {"Iskraemeco list (18, instantaneous)", "ssnnnnllllllnnnnnn", si_18},
        {"Iskraemeco list (12, energy)", "ssuxnnnnnnnn", si_12_energy},
        {"Iskraemeco list (12, instantaneous)", "ssllllllnnnn", si_12_power},
        {"Iskraemeco list (10, instantaneous)", "ssnnnnllnn", si_10_power},
        {"Iskraemeco list (10, energy by tariff)", "ssnnnnnnnn", si_10_energy},
        {"Iskraemeco list (9, instantaneous)", "ssnnnnlnn", si_9_power},
        {"Iskraemeco list (9, energy)", "snnnnnnnn", si_9_energy},
        {"Iskraemeco list (8, instantaneous)", "ssllnnnn", si_8_power},
        {"Iskraemeco list (4, energy)", "sunn", si_4_energy},
        {"Iskraemeco list (33)", "shdnnnnnnnnnnnnlnnnnnnllllllnaaab", hr_33},
};

/* The Austrian header lists: shared with Siemens, so no maker is named. */
static const km_layout at_layouts[] = {
        {"AT 0-6:25.9.0 list", "Pshdnnnnnnxx", at_header_12},
        {"AT 0-6:25.9.0 list", "Pshdnnnnnn", at_header_10},
};

#define N(a) (sizeof(a) / sizeof((a)[0]))

/* A Slovenian list opens with the logical device name "ISK..." (or, in the
 * short energy list, the meter number in digits). */
static bool opens_like_iskra(const km_cursor *c)
{
        km_axdr_item it;
        if (km_axdr_peek(c, &it) != KM_OK || it.cls != KM_AXDR_BYTES || it.len < 3)
                return false;
        if (km_family_by_flag((const char *)it.bytes, it.len) == &km_family_iskraemeco)
                return true;
        for (size_t i = 0; i < it.len; i++)
                if (it.bytes[i] < '0' || it.bytes[i] > '9')
                        return false;
        return true;
}

static km_status iskraemeco_positional(km_cursor *c, uint32_t count, km_reading *r)
{
        km_status s = km_layouts_decode(at_layouts, N(at_layouts), &km_family_iskraemeco, c, count, r);
        if (s != KM_ERR_UNKNOWN_LIST) {
                r->maker = NULL;
                return s;
        }
        if (!opens_like_iskra(c))
                return KM_ERR_UNKNOWN_LIST;
        return km_layouts_decode(layouts, N(layouts), &km_family_iskraemeco, c, count, r);
}

static const km_scale_rule iskraemeco_scales[KM_Q_COUNT_] = {
        [KM_Q_ACTIVE_POWER] = {0, KM_UNIT_W},
        [KM_Q_REACTIVE_POWER] = {0, KM_UNIT_VAR},
        [KM_Q_CURRENT] = {-2, KM_UNIT_A},
        [KM_Q_VOLTAGE] = {-1, KM_UNIT_V},
        [KM_Q_ACTIVE_ENERGY] = {-3, KM_UNIT_KWH},
        [KM_Q_REACTIVE_ENERGY] = {-3, KM_UNIT_KVARH},
        [KM_Q_POWER_FACTOR] = {-3, KM_UNIT_NONE},
};

static const struct km_family_ops iskraemeco_ops = {
        .version_prefix = NULL,
        .scales = iskraemeco_scales,
        .verify_scalers = true,
        .adjust = NULL,
        .positional = iskraemeco_positional,
};

const km_family km_family_iskraemeco = {
        .name = "iskraemeco",
        .maker = "Iskraemeco",
        .flag_id = "ISK",
        .countries = "SI AT HR CH",
        .lists = "AM550 lists of Slovenia and Croatia (bare values by shape); Austrian 0-6:25.9.0 header "
                 "lists (also Siemens IM350); Swiss capture-object-list pushes",
        .ops = &iskraemeco_ops,
};
