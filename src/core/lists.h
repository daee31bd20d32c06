/*
 * List decoding: from the body of a data-notification to reading values.
 *
 * Two shapes exist. Lists that name their objects (Aidon, Kamstrup, Swedish
 * Kaifa, Austrian and Polish meters) carry OBIS codes inline, either as
 * register structures {OBIS, value[, scaler-unit]} or as OBIS/value pairs;
 * one generic walker reads them all. Lists of bare values (Norwegian Kaifa)
 * are read by the family that knows the positions.
 *
 * A meter family (src/core/meters/<family>.c) supplies what the frame does
 * not say: positions of bare values and the scaler/unit of quantities sent
 * without a scaler-unit. Adding a family is one file and one registry line.
 */
#ifndef KM_LISTS_H
#define KM_LISTS_H

#include "axdr.h"
#include "kaifa/reading.h"

/* The kinds of quantity whose scaling a list document fixes. */
typedef enum km_quantity {
        KM_Q_OTHER = 0,
        KM_Q_ACTIVE_POWER,
        KM_Q_REACTIVE_POWER,
        KM_Q_CURRENT,
        KM_Q_VOLTAGE,
        KM_Q_ACTIVE_ENERGY,
        KM_Q_REACTIVE_ENERGY,
        KM_Q_COUNT_
} km_quantity;

km_quantity km_quantity_of(const uint8_t obis[6]);

/* How a family counts one kind of quantity: value = raw x 10^scaler, in
 * unit. A rule with unit KM_UNIT_NONE means "no rule". */
typedef struct km_scale_rule {
        int8_t scaler;
        km_unit unit;
} km_scale_rule;

typedef struct km_family {
        const char *maker;
        const char *version_prefix; /* the list version text names the family */
        /* Scaling of quantities sent without a scaler-unit, by kind; NULL
         * (or no rule) = the generic default (OBIS base unit, scaler 0). */
        const km_scale_rule *scales; /* KM_Q_COUNT_ entries */
        /* Optional: corrects a rule for one meter (e.g. by meter type). */
        void (*adjust)(km_value *v, km_quantity q, const km_reading *r);
        /* Decodes `count` bare values and gives each its scaler and unit (the
         * list decoder does not scale them again); KM_ERR_UNKNOWN_LIST when
         * the list is not the family's; NULL when the family sends none. */
        km_status (*positional)(km_cursor *c, uint32_t count, km_reading *r);
} km_family;

extern const km_family km_family_kaifa;
extern const km_family km_family_aidon;
extern const km_family km_family_kamstrup;

/* Decodes the notification body at c into r (values appended). */
km_status km_list_decode(km_cursor *c, km_reading *r);

/* Reads one Data value for obis into a new slot of r (for family decoders).
 * Containers are skipped and leave no value. */
km_status km_list_read_value(km_cursor *c, const uint8_t obis[6], km_reading *r);

/* Gives a value sent without scaler-unit the family's scaler and unit for
 * its kind of quantity (or the generic default). */
void km_family_scale(const km_family *fam, km_value *v, const km_reading *r);

/* Parses a 12-byte COSEM date-time. */
void km_datetime_parse(const uint8_t p[12], km_datetime *ret);

#endif
