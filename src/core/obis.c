/*
 * The OBIS table and unit helpers.
 *
 * One row per quantity, keyed by its code with B = 0 (channel); electricity
 * codes sent with another channel (Kamstrup numbers everything 1-1:...) are
 * looked up with B folded to 0, so one row serves both numberings. Rows whose
 * meaning depends on B (Kamstrup's meter id 1-1:0.0.5, the 0-1 clock) are
 * listed with their exact code and matched first. Descriptions keep the Perl
 * ams-han-decoder's wording where it had one, for output compatibility.
 */
#include "kaifa/obis.h"

#include <string.h>

#define DESC_P_IMPORT "Active power import (Q1+Q4)"
#define DESC_P_EXPORT "Active power export (Q2+Q3)"
#define DESC_Q_IMPORT "Reactive power import (Q1+Q2)"
#define DESC_Q_EXPORT "Reactive power export (Q3+Q4)"
#define DESC_U "Phase voltage 4W meter, line voltage 3W meter"

/* The objects of the M-Bus device on channel n (gas, water or heat meter read
 * by the electricity meter). 24.2.1 is the DSMR 4/5 reading with its own
 * capture time, 24.2.3 Fluvius' gas reading, 24.3.0 the DSMR 2.2/3 form. The
 * HA classes are those of gas (the usual device); a sink that knows the
 * device type (24.1.0: 3 gas, 7 water, 4 heat) or sees GJ may change them. */
#define MBUS_ROWS(n)                                                                              \
        {{0, n, 24, 1, 0, 255}, "mbus" #n "_device_type", "M-Bus channel " #n " device type", KM_UNIT_NONE, NULL, NULL}, \
        {{0, n, 24, 2, 1, 255}, "mbus" #n "_delivered", "M-Bus channel " #n " reading (gas, water or heat)", KM_UNIT_M3, "gas", "total_increasing"}, \
        {{0, n, 24, 2, 3, 255}, "mbus" #n "_delivered", "M-Bus channel " #n " reading, not temperature corrected", KM_UNIT_M3, "gas", "total_increasing"}, \
        {{0, n, 24, 3, 0, 255}, "mbus" #n "_delivered", "M-Bus channel " #n " reading (DSMR 2.2/3)", KM_UNIT_M3, "gas", "total_increasing"}, \
        {{0, n, 24, 4, 0, 255}, "mbus" #n "_valve", "M-Bus channel " #n " valve position", KM_UNIT_NONE, NULL, NULL}, \
        {{0, n, 96, 1, 0, 255}, "mbus" #n "_id", "M-Bus channel " #n " equipment identifier", KM_UNIT_NONE, NULL, NULL}, \
        {{0, n, 96, 1, 1, 255}, "mbus" #n "_id", "M-Bus channel " #n " equipment identifier", KM_UNIT_NONE, NULL, NULL}

static const km_obis_info obis_table[] = {
        /* sorted by code: km_obis_lookup() searches it by halves */
        {{0, 0, 1, 0, 0, 255}, "meter_timestamp", "Meter timestamp", KM_UNIT_NONE, "timestamp", NULL},
        {{0, 0, 17, 0, 0, 255}, "power_limit", "Power threshold of the limiter (P1)", KM_UNIT_W, "power", NULL},
        {{0, 0, 42, 0, 0, 255}, "logical_device_name", "COSEM logical device name", KM_UNIT_NONE, NULL, NULL},
        {{0, 0, 96, 1, 0, 255}, "meter_id", "Meter ID (GIAI GS1)", KM_UNIT_NONE, NULL, NULL},
        {{0, 0, 96, 1, 1, 255}, "meter_id", "Equipment identifier", KM_UNIT_NONE, NULL, NULL},
        {{0, 0, 96, 1, 4, 255}, "p1_version_be", "Belgian P1 version (P1)", KM_UNIT_NONE, NULL, NULL},
        {{0, 0, 96, 1, 7, 255}, "meter_type", "Meter type", KM_UNIT_NONE, NULL, NULL},
        {{0, 0, 96, 3, 10, 255}, "disconnect_control", "Disconnect control state", KM_UNIT_NONE, NULL, NULL},
        {{0, 0, 96, 7, 9, 255}, "power_failures_long", "Number of long power failures, any phase (P1)", KM_UNIT_NONE, NULL, NULL},
        {{0, 0, 96, 7, 21, 255}, "power_failures", "Number of power failures, any phase (P1)", KM_UNIT_NONE, NULL, NULL},
        {{0, 0, 96, 13, 0, 255}, "text_message", "Text message (P1)", KM_UNIT_NONE, NULL, NULL},
        {{0, 0, 96, 13, 1, 255}, "text_message_code", "Numeric message (P1)", KM_UNIT_NONE, NULL, NULL},
        {{0, 0, 96, 14, 0, 255}, "tariff_indicator", "Active tariff number", KM_UNIT_NONE, NULL, NULL},
        {{0, 1, 1, 0, 0, 255}, "meter_timestamp", "Meter timestamp", KM_UNIT_NONE, "timestamp", NULL},
        MBUS_ROWS(1),
        MBUS_ROWS(2),
        MBUS_ROWS(3),
        MBUS_ROWS(4),
        {{1, 0, 0, 2, 129, 255}, "obis_version", "OBIS list version identifier", KM_UNIT_NONE, NULL, NULL},
        {{1, 0, 1, 4, 0, 255}, "power_active_import_avg", "Active power import, current average demand (P1)", KM_UNIT_W, "power", "measurement"},
        {{1, 0, 1, 6, 0, 255}, "power_active_import_max", "Active power import, maximum demand this month (P1)", KM_UNIT_W, "power", "measurement"},
        {{1, 0, 1, 7, 0, 255}, "power_active_import", DESC_P_IMPORT, KM_UNIT_W, "power", "measurement"},
        {{1, 0, 1, 8, 0, 255}, "energy_active_cum_import", "Cumulative hourly active import energy (A+) (Q1+Q4)", KM_UNIT_KWH, "energy", "total_increasing"},
        {{1, 0, 1, 8, 1, 255}, "energy_active_cum_import_t1", "Active import energy, tariff 1", KM_UNIT_KWH, "energy", "total_increasing"},
        {{1, 0, 1, 8, 2, 255}, "energy_active_cum_import_t2", "Active import energy, tariff 2", KM_UNIT_KWH, "energy", "total_increasing"},
        {{1, 0, 1, 8, 3, 255}, "energy_active_cum_import_t3", "Active import energy, tariff 3", KM_UNIT_KWH, "energy", "total_increasing"},
        {{1, 0, 1, 8, 4, 255}, "energy_active_cum_import_t4", "Active import energy, tariff 4", KM_UNIT_KWH, "energy", "total_increasing"},
        {{1, 0, 2, 7, 0, 255}, "power_active_export", DESC_P_EXPORT, KM_UNIT_W, "power", "measurement"},
        {{1, 0, 2, 8, 0, 255}, "energy_active_cum_export", "Cumulative hourly active export energy (A-) (Q2+Q3)", KM_UNIT_KWH, "energy", "total_increasing"},
        {{1, 0, 2, 8, 1, 255}, "energy_active_cum_export_t1", "Active export energy, tariff 1", KM_UNIT_KWH, "energy", "total_increasing"},
        {{1, 0, 2, 8, 2, 255}, "energy_active_cum_export_t2", "Active export energy, tariff 2", KM_UNIT_KWH, "energy", "total_increasing"},
        {{1, 0, 2, 8, 3, 255}, "energy_active_cum_export_t3", "Active export energy, tariff 3", KM_UNIT_KWH, "energy", "total_increasing"},
        {{1, 0, 2, 8, 4, 255}, "energy_active_cum_export_t4", "Active export energy, tariff 4", KM_UNIT_KWH, "energy", "total_increasing"},
        {{1, 0, 3, 7, 0, 255}, "power_reactive_import", DESC_Q_IMPORT, KM_UNIT_VAR, "reactive_power", "measurement"},
        {{1, 0, 3, 8, 0, 255}, "energy_reactive_cum_import", "Cumulative hourly reactive import energy (R+) (Q1+Q2)", KM_UNIT_KVARH, "reactive_energy", "total_increasing"},
        {{1, 0, 3, 8, 1, 255}, "energy_reactive_cum_import_t1", "Reactive import energy, tariff 1", KM_UNIT_KVARH, "reactive_energy", "total_increasing"},
        {{1, 0, 3, 8, 2, 255}, "energy_reactive_cum_import_t2", "Reactive import energy, tariff 2", KM_UNIT_KVARH, "reactive_energy", "total_increasing"},
        {{1, 0, 4, 7, 0, 255}, "power_reactive_export", DESC_Q_EXPORT, KM_UNIT_VAR, "reactive_power", "measurement"},
        {{1, 0, 4, 8, 0, 255}, "energy_reactive_cum_export", "Cumulative hourly reactive export energy (R-) (Q3+Q4)", KM_UNIT_KVARH, "reactive_energy", "total_increasing"},
        {{1, 0, 4, 8, 1, 255}, "energy_reactive_cum_export_t1", "Reactive export energy, tariff 1", KM_UNIT_KVARH, "reactive_energy", "total_increasing"},
        {{1, 0, 4, 8, 2, 255}, "energy_reactive_cum_export_t2", "Reactive export energy, tariff 2", KM_UNIT_KVARH, "reactive_energy", "total_increasing"},
        {{1, 0, 5, 8, 0, 255}, "energy_reactive_cum_q1", "Reactive energy, quadrant 1 (Q1)", KM_UNIT_KVARH, "reactive_energy", "total_increasing"},
        {{1, 0, 5, 8, 1, 255}, "energy_reactive_cum_q1_t1", "Reactive energy, quadrant 1, tariff 1", KM_UNIT_KVARH, "reactive_energy", "total_increasing"},
        {{1, 0, 5, 8, 2, 255}, "energy_reactive_cum_q1_t2", "Reactive energy, quadrant 1, tariff 2", KM_UNIT_KVARH, "reactive_energy", "total_increasing"},
        {{1, 0, 6, 8, 0, 255}, "energy_reactive_cum_q2", "Reactive energy, quadrant 2 (Q2)", KM_UNIT_KVARH, "reactive_energy", "total_increasing"},
        {{1, 0, 6, 8, 1, 255}, "energy_reactive_cum_q2_t1", "Reactive energy, quadrant 2, tariff 1", KM_UNIT_KVARH, "reactive_energy", "total_increasing"},
        {{1, 0, 6, 8, 2, 255}, "energy_reactive_cum_q2_t2", "Reactive energy, quadrant 2, tariff 2", KM_UNIT_KVARH, "reactive_energy", "total_increasing"},
        {{1, 0, 7, 8, 0, 255}, "energy_reactive_cum_q3", "Reactive energy, quadrant 3 (Q3)", KM_UNIT_KVARH, "reactive_energy", "total_increasing"},
        {{1, 0, 7, 8, 1, 255}, "energy_reactive_cum_q3_t1", "Reactive energy, quadrant 3, tariff 1", KM_UNIT_KVARH, "reactive_energy", "total_increasing"},
        {{1, 0, 7, 8, 2, 255}, "energy_reactive_cum_q3_t2", "Reactive energy, quadrant 3, tariff 2", KM_UNIT_KVARH, "reactive_energy", "total_increasing"},
        {{1, 0, 8, 8, 0, 255}, "energy_reactive_cum_q4", "Reactive energy, quadrant 4 (Q4)", KM_UNIT_KVARH, "reactive_energy", "total_increasing"},
        {{1, 0, 8, 8, 1, 255}, "energy_reactive_cum_q4_t1", "Reactive energy, quadrant 4, tariff 1", KM_UNIT_KVARH, "reactive_energy", "total_increasing"},
        {{1, 0, 8, 8, 2, 255}, "energy_reactive_cum_q4_t2", "Reactive energy, quadrant 4, tariff 2", KM_UNIT_KVARH, "reactive_energy", "total_increasing"},
        {{1, 0, 9, 7, 0, 255}, "power_apparent_import", "Apparent power import", KM_UNIT_VA, "apparent_power", "measurement"},
        {{1, 0, 10, 7, 0, 255}, "power_apparent_export", "Apparent power export", KM_UNIT_VA, "apparent_power", "measurement"},
        {{1, 0, 13, 7, 0, 255}, "power_factor", "Power factor, total", KM_UNIT_NONE, "power_factor", "measurement"},
        {{1, 0, 14, 7, 0, 255}, "frequency", "Supply frequency", KM_UNIT_HZ, "frequency", "measurement"},
        {{1, 0, 21, 7, 0, 255}, "power_active_import_l1", "Active power import L1", KM_UNIT_W, "power", "measurement"},
        {{1, 0, 21, 8, 0, 255}, "energy_active_cum_import_l1", "Active import energy L1", KM_UNIT_KWH, "energy", "total_increasing"},
        {{1, 0, 22, 7, 0, 255}, "power_active_export_l1", "Active power export L1", KM_UNIT_W, "power", "measurement"},
        {{1, 0, 22, 8, 0, 255}, "energy_active_cum_export_l1", "Active export energy L1", KM_UNIT_KWH, "energy", "total_increasing"},
        {{1, 0, 23, 7, 0, 255}, "power_reactive_import_l1", "Reactive power import L1", KM_UNIT_VAR, "reactive_power", "measurement"},
        {{1, 0, 24, 7, 0, 255}, "power_reactive_export_l1", "Reactive power export L1", KM_UNIT_VAR, "reactive_power", "measurement"},
        {{1, 0, 31, 4, 0, 255}, "current_limit_l1", "Current threshold L1 (P1)", KM_UNIT_A, "current", NULL},
        {{1, 0, 31, 7, 0, 255}, "phase_current_l1", "IL1 Current phase L1", KM_UNIT_A, "current", "measurement"},
        {{1, 0, 32, 7, 0, 255}, "phase_voltage_l1", "UL1 " DESC_U, KM_UNIT_V, "voltage", "measurement"},
        {{1, 0, 32, 32, 0, 255}, "voltage_sags_l1", "Number of voltage sags L1 (P1)", KM_UNIT_NONE, NULL, NULL},
        {{1, 0, 32, 36, 0, 255}, "voltage_swells_l1", "Number of voltage swells L1 (P1)", KM_UNIT_NONE, NULL, NULL},
        {{1, 0, 33, 7, 0, 255}, "power_factor_l1", "Power factor L1", KM_UNIT_NONE, "power_factor", "measurement"},
        {{1, 0, 41, 7, 0, 255}, "power_active_import_l2", "Active power import L2", KM_UNIT_W, "power", "measurement"},
        {{1, 0, 41, 8, 0, 255}, "energy_active_cum_import_l2", "Active import energy L2", KM_UNIT_KWH, "energy", "total_increasing"},
        {{1, 0, 42, 7, 0, 255}, "power_active_export_l2", "Active power export L2", KM_UNIT_W, "power", "measurement"},
        {{1, 0, 42, 8, 0, 255}, "energy_active_cum_export_l2", "Active export energy L2", KM_UNIT_KWH, "energy", "total_increasing"},
        {{1, 0, 43, 7, 0, 255}, "power_reactive_import_l2", "Reactive power import L2", KM_UNIT_VAR, "reactive_power", "measurement"},
        {{1, 0, 44, 7, 0, 255}, "power_reactive_export_l2", "Reactive power export L2", KM_UNIT_VAR, "reactive_power", "measurement"},
        {{1, 0, 51, 7, 0, 255}, "phase_current_l2", "IL2 Current phase L2", KM_UNIT_A, "current", "measurement"},
        {{1, 0, 52, 7, 0, 255}, "phase_voltage_l2", "UL2 " DESC_U, KM_UNIT_V, "voltage", "measurement"},
        {{1, 0, 52, 32, 0, 255}, "voltage_sags_l2", "Number of voltage sags L2 (P1)", KM_UNIT_NONE, NULL, NULL},
        {{1, 0, 52, 36, 0, 255}, "voltage_swells_l2", "Number of voltage swells L2 (P1)", KM_UNIT_NONE, NULL, NULL},
        {{1, 0, 53, 7, 0, 255}, "power_factor_l2", "Power factor L2", KM_UNIT_NONE, "power_factor", "measurement"},
        {{1, 0, 61, 7, 0, 255}, "power_active_import_l3", "Active power import L3", KM_UNIT_W, "power", "measurement"},
        {{1, 0, 61, 8, 0, 255}, "energy_active_cum_import_l3", "Active import energy L3", KM_UNIT_KWH, "energy", "total_increasing"},
        {{1, 0, 62, 7, 0, 255}, "power_active_export_l3", "Active power export L3", KM_UNIT_W, "power", "measurement"},
        {{1, 0, 62, 8, 0, 255}, "energy_active_cum_export_l3", "Active export energy L3", KM_UNIT_KWH, "energy", "total_increasing"},
        {{1, 0, 63, 7, 0, 255}, "power_reactive_import_l3", "Reactive power import L3", KM_UNIT_VAR, "reactive_power", "measurement"},
        {{1, 0, 64, 7, 0, 255}, "power_reactive_export_l3", "Reactive power export L3", KM_UNIT_VAR, "reactive_power", "measurement"},
        {{1, 0, 71, 7, 0, 255}, "phase_current_l3", "IL3 Current phase L3", KM_UNIT_A, "current", "measurement"},
        {{1, 0, 72, 7, 0, 255}, "phase_voltage_l3", "UL3 " DESC_U, KM_UNIT_V, "voltage", "measurement"},
        {{1, 0, 72, 32, 0, 255}, "voltage_sags_l3", "Number of voltage sags L3 (P1)", KM_UNIT_NONE, NULL, NULL},
        {{1, 0, 72, 36, 0, 255}, "voltage_swells_l3", "Number of voltage swells L3 (P1)", KM_UNIT_NONE, NULL, NULL},
        {{1, 0, 73, 7, 0, 255}, "power_factor_l3", "Power factor L3", KM_UNIT_NONE, "power_factor", "measurement"},
        {{1, 0, 99, 97, 0, 255}, "power_failure_log", "Power failure event log, entries held by the meter (P1)", KM_UNIT_NONE, NULL, NULL},
        {{1, 1, 0, 0, 5, 255}, "meter_id", "Meter ID (GIAI GS1)", KM_UNIT_NONE, NULL, NULL},
        {{1, 1, 0, 2, 129, 255}, "obis_version", "OBIS list version identifier", KM_UNIT_NONE, NULL, NULL},
        {{1, 1, 96, 1, 1, 255}, "meter_type", "Meter type", KM_UNIT_NONE, NULL, NULL},
        {{1, 3, 0, 2, 8, 255}, "dsmr_version", "DSMR version", KM_UNIT_NONE, NULL, NULL},
};

#define N_ROWS (sizeof(obis_table) / sizeof(obis_table[0]))

/* A code as one number that sorts as the code does (memcmp order). */
static inline uint64_t code_key(const uint8_t o[6])
{
        return (uint64_t)o[0] << 40 | (uint64_t)o[1] << 32 | (uint64_t)o[2] << 24 | (uint64_t)o[3] << 16 |
               (uint64_t)o[4] << 8 | o[5];
}

static const km_obis_info *find_exact(const uint8_t obis[6])
{
        uint64_t key = code_key(obis);
        size_t lo = 0, hi = N_ROWS;
        while (lo < hi) {
                size_t mid = (lo + hi) / 2;
                uint64_t k = code_key(obis_table[mid].obis);
                if (k == key)
                        return &obis_table[mid];
                if (k < key)
                        lo = mid + 1;
                else
                        hi = mid;
        }
        return NULL;
}

const km_obis_info *km_obis_lookup(const uint8_t obis[6])
{
        const km_obis_info *info = find_exact(obis);
        if (info || obis[0] != 1 || obis[1] == 0)
                return info;
        uint8_t folded[6];
        memcpy(folded, obis, 6);
        folded[1] = 0;
        info = find_exact(folded);
        /* only quantity rows fold; identification rows are matched exactly */
        return info && info->state_class ? info : NULL;
}

const km_obis_info *km_obis_table(size_t *ret_count)
{
        *ret_count = N_ROWS;
        return obis_table;
}

static const char *const unit_symbols[KM_UNIT_COUNT_] = {
        [KM_UNIT_NONE] = "",   [KM_UNIT_W] = "W",       [KM_UNIT_VA] = "VA",     [KM_UNIT_VAR] = "var",
        [KM_UNIT_WH] = "Wh",   [KM_UNIT_KWH] = "kWh",   [KM_UNIT_VAH] = "VAh",   [KM_UNIT_KVAH] = "kVAh",
        [KM_UNIT_VARH] = "varh", [KM_UNIT_KVARH] = "kvarh", [KM_UNIT_A] = "A",    [KM_UNIT_V] = "V",
        [KM_UNIT_HZ] = "Hz",   [KM_UNIT_PERCENT] = "%", [KM_UNIT_SECOND] = "s",  [KM_UNIT_CELSIUS] = "°C",
        [KM_UNIT_M3] = "m³",   [KM_UNIT_OTHER] = "",  [KM_UNIT_KW] = "kW",     [KM_UNIT_KVAR] = "kvar",
        [KM_UNIT_KVA] = "kVA", [KM_UNIT_GJ] = "GJ",
};

const char *km_unit_symbol(km_unit u)
{
        return (unsigned)u < KM_UNIT_COUNT_ ? unit_symbols[u] : "";
}

const char *km_unit_symbol_compat(km_unit u)
{
        switch (u) {
        case KM_UNIT_VAR:
                return "VAr";
        case KM_UNIT_VARH:
                return "VArh";
        case KM_UNIT_KVARH:
                return "kVArh";
        case KM_UNIT_KVAR:
                return "kVAr";
        default:
                return km_unit_symbol(u);
        }
}

km_unit km_unit_from_dlms(uint8_t code)
{
        switch (code) {
        case 7: return KM_UNIT_SECOND;
        case 9: return KM_UNIT_CELSIUS;
        case 13: return KM_UNIT_M3;
        case 27: return KM_UNIT_W;
        case 28: return KM_UNIT_VA;
        case 29: return KM_UNIT_VAR;
        case 30: return KM_UNIT_WH;
        case 31: return KM_UNIT_VAH;
        case 32: return KM_UNIT_VARH;
        case 33: return KM_UNIT_A;
        case 35: return KM_UNIT_V;
        case 44: return KM_UNIT_HZ;
        case 56: return KM_UNIT_PERCENT;
        case 255: return KM_UNIT_NONE;
        default: return KM_UNIT_OTHER;
        }
}

km_unit km_unit_display(km_unit u, int *ret_exponent)
{
        *ret_exponent = 0;
        switch (u) {
        case KM_UNIT_WH:
                *ret_exponent = -3;
                return KM_UNIT_KWH;
        case KM_UNIT_VARH:
                *ret_exponent = -3;
                return KM_UNIT_KVARH;
        case KM_UNIT_VAH:
                *ret_exponent = -3;
                return KM_UNIT_KVAH;
        case KM_UNIT_KW:
                *ret_exponent = 3;
                return KM_UNIT_W;
        case KM_UNIT_KVAR:
                *ret_exponent = 3;
                return KM_UNIT_VAR;
        case KM_UNIT_KVA:
                *ret_exponent = 3;
                return KM_UNIT_VA;
        default:
                return u;
        }
}
