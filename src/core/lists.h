/*
 * List decoding: from the body of a data-notification to reading values.
 *
 * Three shapes exist, told apart by the body itself:
 *  - lists that name their objects (Aidon, Kamstrup, Swedish Kaifa, Kaifa
 *    MA309, EVN/Sagemcom): register structures {OBIS, value[, scaler-unit]},
 *    OBIS/value pairs (with a scaler-unit after the value in EVN's flat
 *    list), and a few bare elements (a list version first, a clock, a meter
 *    number last); one generic walker reads them all (lists.c);
 *  - capture-object-list pushes (IDIS: Landis+Gyr, Swiss Iskraemeco): the
 *    push setup's object list, then one value per object (positional.c);
 *  - structures of bare values (Norwegian Kaifa, Slovenian and Austrian
 *    lists, Netz Burgenland): read by the family whose layout fits.
 *
 * A meter family (src/core/meters/<family>.c, registered in families.c and
 * public through kaifa/families.h) supplies what the frame does not say:
 * positions of bare values and the scaler/unit of quantities sent without a
 * scaler-unit. Adding a family is one file and one registry line.
 */
#ifndef KM_LISTS_H
#define KM_LISTS_H

#include "axdr.h"
#include "kaifa/families.h"
#include "kaifa/reading.h"

/* The kinds of quantity whose scaling a list document fixes. */
typedef enum km_quantity {
        KM_Q_OTHER = 0,
        KM_Q_ACTIVE_POWER,
        KM_Q_REACTIVE_POWER,
        KM_Q_APPARENT_POWER,
        KM_Q_CURRENT,
        KM_Q_VOLTAGE,
        KM_Q_ACTIVE_ENERGY,
        KM_Q_REACTIVE_ENERGY,
        KM_Q_POWER_FACTOR,
        KM_Q_FREQUENCY,
        KM_Q_COUNT_
} km_quantity;

km_quantity km_quantity_of(const uint8_t obis[6]);

/* How a family counts one kind of quantity: value = raw x 10^scaler, in
 * unit. A rule with unit KM_UNIT_NONE means "no rule". */
typedef struct km_scale_rule {
        int8_t scaler;
        km_unit unit;
} km_scale_rule;

/* The decoding side of a family (the public side is km_family in
 * kaifa/families.h). */
struct km_family_ops {
        /* The list version text (x-x:0.2.129) that names the family; NULL
         * when its lists carry none. */
        const char *version_prefix;
        /* Scaling of quantities sent without a scaler-unit, by kind; NULL
         * (or no rule) = the generic default (OBIS base unit, scaler 0). */
        const km_scale_rule *scales; /* KM_Q_COUNT_ entries */
        /* True when the family's models depart from its scales (whole volts
         * here, tenths there): km_plausibility_pass() checks them. */
        bool verify_scalers;
        /* Optional: corrects a rule for one meter (e.g. by meter type). */
        void (*adjust)(km_value *v, km_quantity q, const km_reading *r);
        /* Decodes a structure of `count` bare values (no OBIS codes) and
         * scales them; KM_ERR_UNKNOWN_LIST when the list is not the
         * family's (nothing consumed then); NULL when the family sends none.
         * r->maker is set to the family's maker before the call. */
        km_status (*positional)(km_cursor *c, uint32_t count, km_reading *r);
};

/* The usual counting of values pushed without a scaler (W, var, VA; 0.01 A;
 * V; Wh shown as kWh; power factor in thousandths): capture-object-list
 * pushes of makers that name none, and Landis+Gyr (positional.c). */
extern const km_scale_rule km_idis_scales[KM_Q_COUNT_];

extern const km_family km_family_kaifa;
extern const km_family km_family_aidon;
extern const km_family km_family_kamstrup;
extern const km_family km_family_iskraemeco;
extern const km_family km_family_landis_gyr;

/* The family whose FLAG id opens this text ("LGZ1030163598905"), or NULL. */
const km_family *km_family_by_flag(const char *text, size_t len);

/* Decodes the notification body at c into r (values appended). */
km_status km_list_decode(km_cursor *c, km_reading *r);

/* Reads one Data value for obis into a new slot of r (for family decoders).
 * Containers are skipped and leave no value. */
km_status km_list_read_value(km_cursor *c, const uint8_t obis[6], km_reading *r);

/* A new value slot for obis (its table entry looked up), or NULL when the
 * reading is full (counted in n_dropped). */
km_value *km_list_new_value(km_reading *r, const uint8_t obis[6]);

/* Scales every number sent without a scaler-unit by fam's rules. */
void km_list_scale_assumed(km_reading *r, const km_family *fam);

/* Gives a value sent without scaler-unit the family's scaler and unit for
 * its kind of quantity (or the generic default). */
void km_family_scale(const km_family *fam, km_value *v, const km_reading *r);

/* Positional layouts: one letter per element says what the element must be,
 * codes[i] what it is (NULL: not kept). Letters:
 *   s  text (octet, visible or UTF-8 string, not empty)
 *   x  octet or visible string, may be empty
 *   P  push setup name: octet string of 6 holding x-x:25.9.0.x
 *   h  time as an octet string of 4 (hour, minute, second, hundredths)
 *   d  date as an octet string of 5 (year hi, year lo, month, day, weekday)
 *   n  32-bit integer, l 16-bit, w 64-bit, u 8-bit or enum, i any integer
 *   b  boolean, a array or structure (skipped), * anything
 * A time and a date in one list become one meter_timestamp value. */
typedef struct km_layout {
        const char *name;  /* the reading's list_name */
        const char *shape;
        const uint8_t *const *codes;
} km_layout;

/* True when the `count` elements at c have the layout's shape. */
bool km_layout_fits(const km_layout *l, const km_cursor *c, uint32_t count);

/* Decodes a list that fits l, scaling by fam. */
km_status km_layout_decode(const km_layout *l, const km_family *fam, km_cursor *c, km_reading *r);

/* Tries each layout in turn; KM_ERR_UNKNOWN_LIST when none fits. */
km_status km_layouts_decode(const km_layout *layouts, size_t n, const km_family *fam, km_cursor *c,
                            uint32_t count, km_reading *r);

/* Walks a capture-object-list push (element 0 = the push setup's object
 * list, one value per object after it): c is after the body's structure
 * header. KM_ERR_UNKNOWN_LIST when the body is not one. */
km_status km_capture_list_decode(km_cursor *c, uint32_t count, km_reading *r);

/* True when the 12 bytes can be a COSEM date-time (fields in range or "not
 * specified"): a 12-character ASCII meter number cannot. */
bool km_datetime_plausible(const uint8_t p[12]);

/* Checks and corrects scalers that a family assumed (values without an
 * inline scaler-unit): voltages into the mains range, currents to the
 * power they carry. */
void km_plausibility_pass(km_reading *r);

/* Parses a 12-byte COSEM date-time. */
void km_datetime_parse(const uint8_t p[12], km_datetime *ret);

#endif
