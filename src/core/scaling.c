/*
 * Scaling of values a meter sends without a scaler-unit.
 *
 * Registers that carry their scaler-unit inline are taken as they are. For
 * the others the family's rule for the kind of quantity applies (Kaifa's
 * mA, Kamstrup's 10 Wh, ...), else the OBIS base unit with scaler 0. A
 * plausibility pass then checks what was assumed against physics, because
 * one maker's lists differ between models and markets (the Swiss E450 sends
 * whole volts where the E360 sends tenths; an E570 on current transformers
 * counts amperes where the E450 counts hundredths):
 *  - a voltage must be a mains voltage: 50..500 V, or 0;
 *  - the currents must carry the power: the apparent power U x I summed over
 *    the phases is at least the active power, and not ten times the
 *    apparent power P/Q give.
 * Only whole decades are corrected, so a value is never bent to fit.
 */
#include "lists.h"

#include <math.h>
#include <string.h>

/* Kinds by OBIS C for D = 7 (instantaneous) and D = 8 (energy); per-phase
 * codes are the total's plus 20, 40 and 60. */
#define P KM_Q_ACTIVE_POWER
#define Q KM_Q_REACTIVE_POWER
#define S KM_Q_APPARENT_POWER
#define I KM_Q_CURRENT
#define U KM_Q_VOLTAGE
#define F KM_Q_POWER_FACTOR
#define E KM_Q_ACTIVE_ENERGY
#define R KM_Q_REACTIVE_ENERGY
static const uint8_t kind7[92] = {
        [1] = P, [2] = P, [3] = Q, [4] = Q, [9] = S, [10] = S, [11] = I, [12] = U, [13] = F,
        [14] = KM_Q_FREQUENCY,
        [21] = P, [22] = P, [23] = Q, [24] = Q, [29] = S, [30] = S, [31] = I, [32] = U, [33] = F,
        [41] = P, [42] = P, [43] = Q, [44] = Q, [49] = S, [50] = S, [51] = I, [52] = U, [53] = F,
        [61] = P, [62] = P, [63] = Q, [64] = Q, [69] = S, [70] = S, [71] = I, [72] = U, [73] = F,
        [91] = I,
};
static const uint8_t kind8[65] = {
        [1] = E, [2] = E, [3] = R, [4] = R, [5] = R, [6] = R, [7] = R, [8] = R, [15] = E, [16] = E,
        [21] = E, [22] = E, [23] = R, [24] = R, [41] = E, [42] = E, [43] = R, [44] = R,
        [61] = E, [62] = E, [63] = R, [64] = R,
};
#undef P
#undef Q
#undef S
#undef I
#undef U
#undef F
#undef E
#undef R

km_quantity km_quantity_of(const uint8_t o[6])
{
        if (o[0] != 1)
                return KM_Q_OTHER;
        if (o[3] == 7)
                return o[2] < sizeof(kind7) ? (km_quantity)kind7[o[2]] : KM_Q_OTHER;
        if (o[3] == 8)
                return o[2] < sizeof(kind8) ? (km_quantity)kind8[o[2]] : KM_Q_OTHER;
        return KM_Q_OTHER;
}

/* The unit a kind of quantity is counted in when nothing says otherwise. */
static km_unit base_unit(km_quantity q)
{
        switch (q) {
        case KM_Q_ACTIVE_POWER: return KM_UNIT_W;
        case KM_Q_REACTIVE_POWER: return KM_UNIT_VAR;
        case KM_Q_APPARENT_POWER: return KM_UNIT_VA;
        case KM_Q_CURRENT: return KM_UNIT_A;
        case KM_Q_VOLTAGE: return KM_UNIT_V;
        case KM_Q_ACTIVE_ENERGY: return KM_UNIT_WH;
        case KM_Q_REACTIVE_ENERGY: return KM_UNIT_VARH;
        case KM_Q_FREQUENCY: return KM_UNIT_HZ;
        default: return KM_UNIT_NONE;
        }
}

/* The display unit of a known code with its kilo taken off (kWh -> Wh), or
 * the base unit of its kind for codes the table does not know. */
static void default_scale(km_value *v, km_quantity q)
{
        v->scaler = 0;
        if (!v->info) {
                v->unit = base_unit(q);
                return;
        }
        switch (v->info->unit) {
        case KM_UNIT_KWH:
                v->unit = KM_UNIT_WH;
                break;
        case KM_UNIT_KVARH:
                v->unit = KM_UNIT_VARH;
                break;
        case KM_UNIT_KVAH:
                v->unit = KM_UNIT_VAH;
                break;
        default:
                v->unit = v->info->unit;
                break;
        }
}

void km_family_scale(const km_family *fam, km_value *v, const km_reading *r)
{
        km_quantity q = km_quantity_of(v->obis);
        const km_scale_rule *rule = fam && fam->ops->scales ? &fam->ops->scales[q] : NULL;
        /* a rule is a unit or a scaler; power factors have only a scaler */
        if (q != KM_Q_OTHER && rule && (rule->unit != KM_UNIT_NONE || rule->scaler != 0)) {
                v->scaler = rule->scaler;
                v->unit = rule->unit;
                if (fam->ops->adjust)
                        fam->ops->adjust(v, q, r);
        } else {
                default_scale(v, q);
        }
}

/* ---- plausibility -------------------------------------------------------- */

#define MAINS_MIN_V 50.0
#define MAINS_MAX_V 500.0
#define NOMINAL_V 230.0
/* Below these the evidence is too weak to correct anything. */
#define MIN_POWER_UP_W 100.0
#define MIN_POWER_DOWN_VA 1000.0

/* A rough value (x 10^scaler by multiplication): enough to compare. */
static double approx(const km_value *v)
{
        static const double p10[] = {1e-6, 1e-5, 1e-4, 1e-3, 1e-2, 1e-1, 1, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6};
        double x = v->kind == KM_VALUE_FLOAT ? v->real : (double)v->raw;
        x = x < 0 ? -x : x;
        int s = v->scaler;
        return s >= -6 && s <= 6 ? x * p10[s + 6] : x * pow(10, s);
}

static void fix_voltage(km_value *v)
{
        double x = approx(v);
        if (x == 0)
                return;
        while (x > MAINS_MAX_V && v->scaler > -3) {
                v->scaler--;
                x /= 10;
        }
        if (x < MAINS_MIN_V && x * 10 <= MAINS_MAX_V && x * 10 >= MAINS_MIN_V)
                v->scaler++;
}

/* The phase (1..3) of a per-phase code, 0 for totals. */
static int phase_of(uint8_t c)
{
        return c >= 21 && c <= 80 ? (c - 1) / 20 : 0;
}

typedef struct power_sums {
        double p_total, p_phases, q_total;
        bool have_q;
        double u[4];    /* phase voltages; [0] unused */
        km_value *i[4]; /* phase currents with assumed scalers */
        bool any_current;
} power_sums;

/* Moves the scalers of the assumed currents by k decades so that U x I
 * matches the power the list reports. */
static void fix_currents(power_sums *s)
{
        double ui = 0;
        for (int ph = 1; ph <= 3; ph++)
                if (s->i[ph])
                        ui += (s->u[ph] > 0 ? s->u[ph] : NOMINAL_V) * approx(s->i[ph]);
        double p = s->p_total > s->p_phases ? s->p_total : s->p_phases;
        int k = 0;
        if (ui > 0 && p >= MIN_POWER_UP_W && p > ui * sqrt(10.0)) {
                k = (int)lround(log10(p / ui)); /* too little current for the power */
        } else if (s->have_q && ui > 0) {
                double apparent = sqrt(p * p + s->q_total * s->q_total);
                if (apparent >= MIN_POWER_DOWN_VA && ui > 5 * apparent)
                        k = -(int)lround(log10(ui / apparent)); /* ten times the power carried */
        }
        if (k == 0)
                return;
        for (int ph = 1; ph <= 3; ph++)
                if (s->i[ph])
                        s->i[ph]->scaler = (int8_t)(s->i[ph]->scaler + k);
}

static void account(power_sums *s, km_value *v, km_quantity q)
{
        bool assumed = !v->scaler_inline && v->kind == KM_VALUE_NUMBER;
        int ph = phase_of(v->obis[2]);
        switch (q) {
        case KM_Q_VOLTAGE:
                if (assumed)
                        fix_voltage(v);
                s->u[ph] = approx(v);
                break;
        case KM_Q_CURRENT:
                if (assumed && ph && !s->i[ph]) {
                        s->i[ph] = v;
                        s->any_current = true;
                }
                break;
        case KM_Q_ACTIVE_POWER:
                *(ph ? &s->p_phases : &s->p_total) += approx(v);
                break;
        case KM_Q_REACTIVE_POWER:
                if (!ph) {
                        s->q_total += approx(v);
                        s->have_q = true;
                }
                break;
        default:
                break;
        }
}

void km_plausibility_pass(km_reading *r)
{
        if (r->family && !r->family->ops->verify_scalers)
                return; /* a convention no model of the family departs from */
        power_sums s;
        memset(&s, 0, sizeof(s));
        for (size_t k = 0; k < r->n_values; k++) {
                km_value *v = &r->values[k];
                if ((v->kind == KM_VALUE_NUMBER || v->kind == KM_VALUE_FLOAT) && v->obis[0] == 1 &&
                    v->obis[3] == 7)
                        account(&s, v, km_quantity_of(v->obis));
        }
        if (s.any_current)
                fix_currents(&s);
}
