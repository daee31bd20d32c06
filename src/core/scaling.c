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

km_quantity km_quantity_of(const uint8_t o[6])
{
        if (o[0] != 1)
                return KM_Q_OTHER;
        uint8_t c = o[2];
        if (o[3] == 7) {
                if (c == 14)
                        return KM_Q_FREQUENCY;
                if (c == 11 || c == 31 || c == 51 || c == 71 || c == 91)
                        return KM_Q_CURRENT;
                if (c == 12 || c == 32 || c == 52 || c == 72)
                        return KM_Q_VOLTAGE;
                if (c == 13 || c == 33 || c == 53 || c == 73)
                        return KM_Q_POWER_FACTOR;
                if (c > 80)
                        return KM_Q_OTHER;
                switch (c % 20) { /* L1/L2/L3 codes are the total's plus 20/40/60 */
                case 1: case 2:
                        return KM_Q_ACTIVE_POWER;
                case 3: case 4:
                        return KM_Q_REACTIVE_POWER;
                case 9: case 10:
                        return KM_Q_APPARENT_POWER;
                default:
                        return KM_Q_OTHER;
                }
        }
        if (o[3] == 8) {
                if (c == 15 || c == 16)
                        return KM_Q_ACTIVE_ENERGY;
                if (c >= 5 && c <= 8)
                        return KM_Q_REACTIVE_ENERGY; /* quadrants I..IV */
                if (c > 80)
                        return KM_Q_OTHER;
                switch (c % 20) {
                case 1: case 2:
                        return KM_Q_ACTIVE_ENERGY;
                case 3: case 4:
                        return KM_Q_REACTIVE_ENERGY;
                default:
                        return KM_Q_OTHER;
                }
        }
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

static bool assumed_number(const km_value *v)
{
        return v->kind == KM_VALUE_NUMBER && !v->scaler_inline;
}

static void fix_voltage(km_value *v)
{
        double x = fabs(km_value_number(v));
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
        double u[4];          /* phase voltages; [0] unused */
        km_value *i[4];       /* phase currents (assumed scalers only) */
        int n_currents;
} power_sums;

static void collect(km_reading *r, power_sums *s)
{
        for (size_t k = 0; k < r->n_values; k++) {
                km_value *v = &r->values[k];
                if (v->kind != KM_VALUE_NUMBER && v->kind != KM_VALUE_FLOAT)
                        continue;
                double x = fabs(km_value_number(v));
                int ph = phase_of(v->obis[2]);
                switch (km_quantity_of(v->obis)) {
                case KM_Q_ACTIVE_POWER:
                        if (ph)
                                s->p_phases += x;
                        else
                                s->p_total += x;
                        break;
                case KM_Q_REACTIVE_POWER:
                        if (!ph) {
                                s->q_total += x;
                                s->have_q = true;
                        }
                        break;
                case KM_Q_VOLTAGE:
                        if (ph)
                                s->u[ph] = x;
                        break;
                case KM_Q_CURRENT:
                        if (ph && assumed_number(v) && !s->i[ph]) {
                                s->i[ph] = v;
                                s->n_currents++;
                        }
                        break;
                default:
                        break;
                }
        }
}

/* Moves the scalers of the assumed currents by k decades so that U x I
 * matches the power the list reports. */
static void fix_currents(power_sums *s)
{
        double ui = 0;
        for (int ph = 1; ph <= 3; ph++)
                if (s->i[ph])
                        ui += (s->u[ph] > 0 ? s->u[ph] : NOMINAL_V) * fabs(km_value_number(s->i[ph]));
        double p = s->p_total > s->p_phases ? s->p_total : s->p_phases;
        int k = 0;
        if (ui > 0 && p >= MIN_POWER_UP_W && p / ui > sqrt(10.0)) {
                k = (int)lround(log10(p / ui)); /* too little current for the power */
        } else if (s->have_q && ui > 0) {
                double apparent = sqrt(p * p + s->q_total * s->q_total);
                if (apparent >= MIN_POWER_DOWN_VA && ui / apparent > 5)
                        k = -(int)lround(log10(ui / apparent)); /* ten times the power carried */
        }
        if (k == 0)
                return;
        for (int ph = 1; ph <= 3; ph++)
                if (s->i[ph])
                        s->i[ph]->scaler = (int8_t)(s->i[ph]->scaler + k);
}

void km_plausibility_pass(km_reading *r)
{
        bool any = false;
        for (size_t k = 0; k < r->n_values; k++) {
                km_value *v = &r->values[k];
                if (!assumed_number(v))
                        continue;
                km_quantity q = km_quantity_of(v->obis);
                if (q == KM_Q_VOLTAGE)
                        fix_voltage(v);
                else if (q == KM_Q_CURRENT)
                        any = true;
        }
        if (!any)
                return;
        power_sums s = {0};
        collect(r, &s);
        if (s.n_currents > 0)
                fix_currents(&s);
}
