/*
 * The OBIS table: what each code means, in one place.
 *
 * Names, descriptions, units and Home Assistant classes for every OBIS code
 * the decoder knows come from src/core/obis.c (kept in step with
 * docs/obis.tsv). Sinks never hard-code the meaning of a code.
 */
#ifndef KAIFA_OBIS_H
#define KAIFA_OBIS_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef enum km_unit {
        KM_UNIT_NONE = 0,
        KM_UNIT_W,
        KM_UNIT_VA,
        KM_UNIT_VAR,
        KM_UNIT_WH,
        KM_UNIT_KWH,
        KM_UNIT_VAH,
        KM_UNIT_KVAH,
        KM_UNIT_VARH,
        KM_UNIT_KVARH,
        KM_UNIT_A,
        KM_UNIT_V,
        KM_UNIT_HZ,
        KM_UNIT_PERCENT,
        KM_UNIT_SECOND,
        KM_UNIT_CELSIUS,
        KM_UNIT_M3,
        KM_UNIT_OTHER,
        KM_UNIT_KW,   /* P1 telegrams count power in kW, kvar and kVA; shown in W, var, VA */
        KM_UNIT_KVAR,
        KM_UNIT_KVA,
        KM_UNIT_GJ,        /* P1: heat from an M-Bus device */
        KM_UNIT_COUNT_
} km_unit;

typedef struct km_obis_info {
        uint8_t obis[6];
        const char *name;          /* stable snake_case name, e.g. "power_active_import" */
        const char *description;   /* human description (the Perl tool's wording where it had one) */
        km_unit unit;              /* display unit: W, var, V, A, kWh, kvarh ... */
        const char *device_class;  /* Home Assistant device_class, NULL for none */
        const char *state_class;   /* Home Assistant state_class, NULL for none */
} km_obis_info;

/* Looks a code up; NULL when unknown. */
const km_obis_info *km_obis_lookup(const uint8_t obis[6]);

/* The whole table, for documentation and tests. */
const km_obis_info *km_obis_table(size_t *ret_count);

/* Unit symbol as Home Assistant expects it: "W", "var", "kWh", "kvarh"; "" for none. */
const char *km_unit_symbol(km_unit u);

/* Unit symbol in the Perl ams-han-decoder's spelling: "VAr", "VArh", "kVArh". */
const char *km_unit_symbol_compat(km_unit u);

/* Maps a DLMS unit enumeration (27 = W, 30 = Wh, ...) to km_unit. */
km_unit km_unit_from_dlms(uint8_t code);

/* The unit a value is best shown in, and the decimal exponent to get there
 * (Wh -> kWh: -3, varh -> kvarh: -3; kW -> W, kvar -> var, kVA -> VA: +3;
 * others unchanged, 0). */
km_unit km_unit_display(km_unit u, int *ret_exponent);

#ifdef __cplusplus
}
#endif

#endif
