/*
 * Lists without an OBIS code per value.
 *
 * Capture-object-list pushes (Landis+Gyr E360/E450/E570, Iskraemeco AM550 in
 * Switzerland, IDIS meters in general) describe themselves: element 0 is the
 * push setup's object list, one {class, OBIS, attribute, data index} per
 * element of the push, so element k is attribute a of object OBIS. They are
 * walked here with two cursors (descriptors and values), keeping nothing.
 * The registers' scalers are not in the push (attribute 3 is not captured),
 * so the family named by the logical device name's FLAG id ("LGZ...",
 * "ISK...") supplies them.
 *
 * Lists of bare values are matched against the families' layouts: a shape
 * string says the type of each element (see lists.h), and only a list of
 * exactly that shape is read by it.
 */
#include "lists.h"

#include <string.h>

/* ---- layouts -------------------------------------------------------------- */

static bool is_string_tag(uint8_t tag)
{
        return tag == KM_TAG_OCTET_STRING || tag == KM_TAG_VISIBLE_STRING || tag == KM_TAG_UTF8_STRING;
}

static bool letter_fits(char letter, const km_axdr_item *it)
{
        switch (letter) {
        case 's':
                return is_string_tag(it->tag) && it->len > 0;
        case 'x':
                return is_string_tag(it->tag);
        case 'P':
                return it->tag == KM_TAG_OCTET_STRING && it->len == 6 && it->bytes[2] == 25 && it->bytes[3] == 9 &&
                       it->bytes[4] == 0;
        case 'h':
                return it->tag == KM_TAG_OCTET_STRING && it->len == 4;
        case 'd':
                return it->tag == KM_TAG_OCTET_STRING && it->len == 5;
        case 'n':
                return it->tag == KM_TAG_DOUBLE_LONG || it->tag == KM_TAG_DOUBLE_LONG_UNSIGNED;
        case 'l':
                return it->tag == KM_TAG_LONG || it->tag == KM_TAG_LONG_UNSIGNED;
        case 'w':
                return it->tag == KM_TAG_LONG64 || it->tag == KM_TAG_LONG64_UNSIGNED;
        case 'u':
                return it->tag == KM_TAG_UNSIGNED || it->tag == KM_TAG_ENUM || it->tag == KM_TAG_INTEGER;
        case 'i':
                return it->cls == KM_AXDR_INTEGER && it->tag != KM_TAG_BOOLEAN;
        case 'b':
                return it->tag == KM_TAG_BOOLEAN;
        case 'a':
                return it->cls == KM_AXDR_CONTAINER;
        case '*':
                return true;
        default:
                return false;
        }
}

bool km_layout_fits(const km_layout *l, const km_cursor *body, uint32_t count)
{
        if (strlen(l->shape) != count)
                return false;
        km_cursor c = *body;
        for (uint32_t i = 0; i < count; i++) {
                km_axdr_item it;
                if (km_axdr_read(&c, &it) != KM_OK || !letter_fits(l->shape[i], &it))
                        return false;
                if (it.cls == KM_AXDR_CONTAINER && km_axdr_skip_elements(&c, it.count, 2) != KM_OK)
                        return false;
        }
        return true;
}

static const uint8_t obis_clock[6] = {0, 0, 1, 0, 0, 255};

/* A date (5 bytes) and a time (4 bytes) sent apart, as one date-time. */
static void add_clock(km_reading *r, const uint8_t date[5], const uint8_t time[4])
{
        km_value *v = km_list_new_value(r, obis_clock);
        if (!v)
                return;
        v->kind = KM_VALUE_DATETIME;
        km_datetime *dt = &v->datetime;
        dt->year = (uint16_t)(date[0] << 8 | date[1]);
        dt->month = date[2];
        dt->day = date[3];
        dt->weekday = date[4];
        dt->hour = time[0];
        dt->minute = time[1];
        dt->second = time[2];
        dt->hundredths = time[3];
        dt->deviation = KM_DEVIATION_UNSPECIFIED;
        dt->status = 0xFF;
}

km_status km_layout_decode(const km_layout *l, const km_family *fam, km_cursor *c, km_reading *r)
{
        const uint8_t *date = NULL, *time = NULL;
        for (size_t i = 0; l->shape[i]; i++) {
                km_status s;
                if (l->shape[i] == 'd' || l->shape[i] == 'h') {
                        km_axdr_item it;
                        if ((s = km_axdr_read(c, &it)) != KM_OK)
                                return s;
                        *(l->shape[i] == 'd' ? &date : &time) = it.bytes;
                        continue;
                }
                if (!l->codes[i]) {
                        if ((s = km_axdr_skip(c, 1)) != KM_OK)
                                return s;
                        continue;
                }
                size_t before = r->n_values;
                if ((s = km_list_read_value(c, l->codes[i], r)) != KM_OK)
                        return s;
                if (r->n_values > before) {
                        km_value *v = &r->values[r->n_values - 1];
                        if (v->kind == KM_VALUE_NUMBER || v->kind == KM_VALUE_FLOAT)
                                km_family_scale(fam, v, r);
                }
        }
        if (date && time)
                add_clock(r, date, time);
        r->list_name = l->name;
        return KM_OK;
}

km_status km_layouts_decode(const km_layout *layouts, size_t n, const km_family *fam, km_cursor *c,
                            uint32_t count, km_reading *r)
{
        for (size_t i = 0; i < n; i++)
                if (km_layout_fits(&layouts[i], c, count))
                        return km_layout_decode(&layouts[i], fam, c, r);
        return KM_ERR_UNKNOWN_LIST;
}

/* ---- capture-object lists ------------------------------------------------- */

enum {
        CLASS_DATA = 1,
        CLASS_REGISTER = 3,
        CLASS_EXTENDED_REGISTER = 4,
        CLASS_DEMAND_REGISTER = 5,
        CLASS_CLOCK = 8,
        CLASS_PUSH_SETUP = 40,
};

typedef struct capture_object {
        uint16_t class_id;
        uint8_t obis[6];
        int8_t attribute;
} capture_object;

/* Element 0 is an array with one entry per element of the body, each a
 * structure of 4 starting with a long-unsigned class id. */
static bool is_capture_list(const km_cursor *body, uint32_t count)
{
        km_cursor c = *body;
        km_axdr_item arr, st, cls;
        return count >= 2 && km_axdr_read(&c, &arr) == KM_OK && arr.tag == KM_TAG_ARRAY && arr.count == count &&
               km_axdr_read(&c, &st) == KM_OK && st.tag == KM_TAG_STRUCTURE && st.count == 4 &&
               km_axdr_read(&c, &cls) == KM_OK && cls.tag == KM_TAG_LONG_UNSIGNED;
}

static km_status read_descriptor(km_cursor *c, capture_object *o)
{
        km_axdr_item st, cls, name, attr, index;
        km_status s;
        if ((s = km_axdr_read(c, &st)) != KM_OK || (s = km_axdr_read(c, &cls)) != KM_OK ||
            (s = km_axdr_read(c, &name)) != KM_OK || (s = km_axdr_read(c, &attr)) != KM_OK ||
            (s = km_axdr_read(c, &index)) != KM_OK)
                return s;
        if (st.tag != KM_TAG_STRUCTURE || st.count != 4 || cls.cls != KM_AXDR_INTEGER ||
            name.tag != KM_TAG_OCTET_STRING || name.len != 6 || attr.cls != KM_AXDR_INTEGER ||
            index.cls != KM_AXDR_INTEGER)
                return KM_ERR_MALFORMED;
        o->class_id = (uint16_t)cls.i;
        memcpy(o->obis, name.bytes, 6);
        o->attribute = (int8_t)attr.i;
        return KM_OK;
}

/* Attribute 2 is the value of data, register and clock objects. */
static bool carries_value(const capture_object *o)
{
        return o->attribute == 2 && (o->class_id == CLASS_DATA || o->class_id == CLASS_REGISTER ||
                                     o->class_id == CLASS_EXTENDED_REGISTER || o->class_id == CLASS_CLOCK);
}

/* Attribute 3 of a register is its scaler-unit, when a meter captures it. */
static bool carries_scaler_unit(const capture_object *o)
{
        return o->attribute == 3 && (o->class_id == CLASS_REGISTER || o->class_id == CLASS_EXTENDED_REGISTER);
}

static void apply_captured_scaler(km_reading *r, const uint8_t obis[6], int64_t scaler, int64_t unit)
{
        if (scaler < INT8_MIN || scaler > INT8_MAX || unit < 0 || unit > UINT8_MAX)
                return;
        for (size_t k = 0; k < r->n_values; k++) {
                km_value *v = &r->values[k];
                if (memcmp(v->obis, obis, 6) == 0 && (v->kind == KM_VALUE_NUMBER || v->kind == KM_VALUE_FLOAT)) {
                        v->scaler = (int8_t)scaler;
                        v->unit = km_unit_from_dlms((uint8_t)unit);
                        v->scaler_inline = true;
                }
        }
}

/* A scaler-unit captured as a value {integer, enum}: applied to the
 * register's value if it came before (meters capture value, then scaler). */
static km_status read_captured_scaler(km_cursor *c, const capture_object *o, km_reading *r)
{
        km_axdr_item st, sc, un;
        km_status s = km_axdr_read(c, &st);
        if (s != KM_OK)
                return s;
        if (st.tag != KM_TAG_STRUCTURE || st.count != 2)
                return st.cls == KM_AXDR_CONTAINER ? km_axdr_skip_elements(c, st.count, 2) : KM_OK;
        if ((s = km_axdr_read(c, &sc)) != KM_OK || (s = km_axdr_read(c, &un)) != KM_OK)
                return s;
        if (sc.cls == KM_AXDR_INTEGER && un.cls == KM_AXDR_INTEGER)
                apply_captured_scaler(r, o->obis, sc.i, un.i);
        return KM_OK;
}

/* The family named by the FLAG id of the logical device name or meter id. */
static const km_family *family_of(const km_reading *r)
{
        static const char *const names[] = {"logical_device_name", "meter_id"};
        for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
                const char *text = km_reading_text(r, names[i]);
                const km_family *f = text ? km_family_by_flag(text, strlen(text)) : NULL;
                if (f)
                        return f;
        }
        return NULL;
}

/* Registers of a capture list whose maker is not named: the IDIS meters'
 * usual counting (the Landis+Gyr and Iskraemeco convention), checked by the
 * plausibility pass like theirs. Not registered: it names no maker. */
const km_scale_rule km_idis_scales[KM_Q_COUNT_] = {
        [KM_Q_ACTIVE_POWER] = {0, KM_UNIT_W},
        [KM_Q_REACTIVE_POWER] = {0, KM_UNIT_VAR},
        [KM_Q_APPARENT_POWER] = {0, KM_UNIT_VA},
        [KM_Q_CURRENT] = {-2, KM_UNIT_A},
        [KM_Q_VOLTAGE] = {0, KM_UNIT_V},
        [KM_Q_ACTIVE_ENERGY] = {-3, KM_UNIT_KWH},
        [KM_Q_REACTIVE_ENERGY] = {-3, KM_UNIT_KVARH},
        [KM_Q_POWER_FACTOR] = {-3, KM_UNIT_NONE},
};

static const struct km_family_ops idis_ops = {
        .version_prefix = NULL,
        .scales = km_idis_scales,
        .verify_scalers = true,
        .adjust = NULL,
        .positional = NULL,
};

static const km_family idis_unnamed = {
        .name = "idis",
        .maker = "",
        .flag_id = NULL,
        .countries = "",
        .lists = "capture-object lists of an unnamed maker",
        .ops = &idis_ops,
};

km_status km_capture_list_decode(km_cursor *c, uint32_t count, km_reading *r)
{
        if (!is_capture_list(c, count))
                return KM_ERR_UNKNOWN_LIST;
        km_cursor desc = *c, values = *c;
        km_axdr_item arr;
        km_status s = km_axdr_read(&desc, &arr);
        if (s == KM_OK)
                s = km_axdr_skip(&values, 1); /* element 0: the object list itself */
        for (uint32_t i = 0; i < count && s == KM_OK; i++) {
                capture_object o;
                if ((s = read_descriptor(&desc, &o)) != KM_OK || i == 0)
                        continue;
                if (carries_value(&o))
                        s = km_list_read_value(&values, o.obis, r);
                else if (carries_scaler_unit(&o))
                        s = read_captured_scaler(&values, &o, r);
                else
                        s = km_axdr_skip(&values, 1); /* push setup name, other attributes */
        }
        if (s != KM_OK)
                return s;
        *c = values;
        const km_family *fam = family_of(r);
        r->family = fam;
        r->maker = fam ? fam->maker : NULL;
        r->list_name = "DLMS push (capture objects)";
        km_list_scale_assumed(r, fam ? fam : &idis_unnamed);
        return KM_OK;
}
