/*
 * List decoding (see lists.h): the generic walker for lists that carry OBIS
 * codes, the dispatch between the three list shapes, and the family
 * identification by list version.
 */
#include "lists.h"

#include <math.h>
#include <string.h>

static const uint8_t obis_list_version[6] = {1, 1, 0, 2, 129, 255};
static const uint8_t obis_clock[6] = {0, 0, 1, 0, 0, 255};
static const uint8_t obis_meter_id[6] = {0, 0, 96, 1, 0, 255};

void km_datetime_parse(const uint8_t p[12], km_datetime *dt)
{
        dt->year = (uint16_t)(p[0] << 8 | p[1]);
        dt->month = p[2];
        dt->day = p[3];
        dt->weekday = p[4];
        dt->hour = p[5];
        dt->minute = p[6];
        dt->second = p[7];
        dt->hundredths = p[8];
        dt->deviation = (int16_t)(uint16_t)(p[9] << 8 | p[10]);
        dt->status = p[11];
}

static bool is_clock_code(const uint8_t o[6])
{
        return o[2] == 1 && o[3] == 0; /* x-x:1.0.x: clock */
}

static bool in_range(uint8_t x, uint8_t lo, uint8_t hi)
{
        return (x >= lo && x <= hi) || x == 0xFF;
}

bool km_datetime_plausible(const uint8_t p[12])
{
        unsigned year = (unsigned)p[0] << 8 | p[1];
        bool year_ok = year == 0xFFFF || (year >= 1970 && year <= 2200);
        bool month_ok = in_range(p[2], 1, 12) || p[2] == 0xFD || p[2] == 0xFE;
        bool day_ok = in_range(p[3], 1, 31) || p[3] == 0xFD || p[3] == 0xFE;
        return year_ok && month_ok && day_ok && in_range(p[4], 1, 7) && in_range(p[5], 0, 23) &&
               in_range(p[6], 0, 59) && in_range(p[7], 0, 59) && in_range(p[8], 0, 99);
}

static km_value *new_value(km_reading *r)
{
        if (r->n_values >= KM_READING_MAX_VALUES) {
                r->n_dropped++;
                return NULL;
        }
        km_value *v = &r->values[r->n_values++];
        v->scaler = 0;
        v->scaler_inline = false;
        v->unit = KM_UNIT_NONE;
        v->raw = 0;
        v->text_len = 0;
        v->text[0] = '\0';
        v->has_captured = false;
        v->text_hex = false;
        v->log_entry = false;
        return v;
}

static void set_text(km_value *v, const uint8_t *p, size_t n)
{
        if (n > KM_TEXT_MAX) {
                n = KM_TEXT_MAX;
                while (n > 0 && (p[n] & 0xC0) == 0x80)
                        n--; /* cut before a UTF-8 continuation byte, not inside a character */
        }
        memcpy(v->text, p, n);
        v->text[n] = '\0';
        v->text_len = (uint8_t)n;
}

/* Fills v from a scalar item; false for items that carry no value. */
static bool fill_value(km_value *v, const km_axdr_item *it)
{
        switch (it->cls) {
        case KM_AXDR_INTEGER:
                v->kind = KM_VALUE_NUMBER;
                v->raw = it->i;
                return true;
        case KM_AXDR_REAL:
                if (!isfinite(it->f))
                        return false; /* NaN and infinities measure nothing */
                v->kind = KM_VALUE_FLOAT;
                v->real = it->f;
                return true;
        case KM_AXDR_BYTES:
                if (it->len == 12 && (it->tag == KM_TAG_DATE_TIME ||
                                      (it->tag == KM_TAG_OCTET_STRING && is_clock_code(v->obis) &&
                                       km_datetime_plausible(it->bytes)))) {
                        v->kind = KM_VALUE_DATETIME;
                        km_datetime_parse(it->bytes, &v->datetime);
                } else {
                        v->kind = KM_VALUE_TEXT;
                        set_text(v, it->bytes, it->len);
                }
                return true;
        default:
                return false;
        }
}

static inline bool same_code(const uint8_t a[6], const uint8_t b[6])
{
        uint32_t a4, b4;
        uint16_t a2, b2;
        memcpy(&a4, a, 4);
        memcpy(&b4, b, 4);
        memcpy(&a2, a + 4, 2);
        memcpy(&b2, b + 4, 2);
        return a4 == b4 && a2 == b2;
}

static inline km_value *value_slot(km_reading *r, const uint8_t obis[6])
{
        size_t slot = r->n_values;
        km_value *v = new_value(r);
        if (!v)
                return NULL;
        /* Meters repeat their lists: the slot usually held this code in the
         * previous frame, so its table entry need not be looked up again. */
        if (slot >= r->n_known || !same_code(v->obis, obis)) {
                memcpy(v->obis, obis, 6);
                v->info = km_obis_lookup(obis);
                if (slot >= r->n_known)
                        r->n_known = slot + 1;
        }
        return v;
}

km_value *km_list_new_value(km_reading *r, const uint8_t obis[6])
{
        return value_slot(r, obis);
}

/* Stores the scalar item it (already read) as the value of obis. Containers
 * are skipped and leave no value. */
static km_status store_value(km_cursor *c, const km_axdr_item *it, const uint8_t obis[6], km_reading *r)
{
        if (it->cls == KM_AXDR_CONTAINER)
                return km_axdr_skip_elements(c, it->count, 2);
        if (it->cls == KM_AXDR_NONE)
                return KM_OK;
        km_value *v = value_slot(r, obis);
        if (v && !fill_value(v, it))
                r->n_values--;
        return KM_OK;
}

km_status km_list_read_value(km_cursor *c, const uint8_t obis[6], km_reading *r)
{
        km_axdr_item it;
        km_status s = km_axdr_read(c, &it);
        if (s != KM_OK)
                return s;
        return store_value(c, &it, obis, r);
}


static bool is_obis_item(const km_axdr_item *it)
{
        return it->tag == KM_TAG_OCTET_STRING && it->len == 6;
}

/* x-x:25.9.0.x, the push setup: names the list that follows, not a value */
static bool is_push_setup(const uint8_t o[6])
{
        return o[2] == 25 && o[3] == 9 && o[4] == 0;
}

static bool is_text_item(const km_axdr_item *it)
{
        return it->tag == KM_TAG_OCTET_STRING || it->tag == KM_TAG_VISIBLE_STRING ||
               it->tag == KM_TAG_UTF8_STRING;
}

/* Skips what is left of an item just read: the elements of a container. */
static km_status skip_rest(km_cursor *c, const km_axdr_item *it)
{
        return it->cls == KM_AXDR_CONTAINER ? km_axdr_skip_elements(c, it->count, 2) : KM_OK;
}

/* Reads the scaler-unit structure {integer scaler, enum unit} that follows a
 * register value, and applies it to the value read just before (if any). */
static inline __attribute__((always_inline)) km_status read_scaler_unit(km_cursor *c, km_reading *r,
                                                                      size_t values_before)
{
        km_axdr_item su, sc, un;
        km_status s = km_axdr_read(c, &su);
        if (s != KM_OK)
                return s;
        if (su.tag != KM_TAG_STRUCTURE || su.count != 2)
                return skip_rest(c, &su);
        if ((s = km_axdr_read(c, &sc)) != KM_OK || (s = km_axdr_read(c, &un)) != KM_OK)
                return s;
        if (sc.cls != KM_AXDR_INTEGER || un.cls != KM_AXDR_INTEGER || sc.i < INT8_MIN || sc.i > INT8_MAX ||
            un.i < 0 || un.i > UINT8_MAX)
                return KM_ERR_MALFORMED;
        if (r->n_values > values_before) {
                km_value *v = &r->values[r->n_values - 1];
                v->scaler = (int8_t)sc.i;
                v->unit = km_unit_from_dlms((uint8_t)un.i);
                v->scaler_inline = true;
        }
        return KM_OK;
}

/* A register structure {OBIS, value[, scaler-unit][, ...]}; structures that
 * do not start with an OBIS code are skipped. */
static km_status read_register(km_cursor *c, const km_axdr_item *st, km_reading *r)
{
        if (st->count == 0)
                return KM_OK;
        km_axdr_item first;
        km_status s = km_axdr_read(c, &first);
        if (s != KM_OK)
                return s;
        uint32_t done = 1;
        if (st->count >= 2 && is_obis_item(&first)) {
                size_t before = r->n_values;
                if ((s = km_list_read_value(c, first.bytes, r)) != KM_OK)
                        return s;
                done = 2;
                if (st->count >= 3) {
                        if ((s = read_scaler_unit(c, r, before)) != KM_OK)
                                return s;
                        done = 3;
                }
        } else if ((s = skip_rest(c, &first)) != KM_OK) {
                return s;
        }
        return km_axdr_skip_elements(c, st->count - done, 2);
}

/* True when the next item is a scaler-unit structure {integer, enum}. */
static bool scaler_unit_follows(const km_cursor *c)
{
        return km_cursor_left(c) >= 6 && c->p[c->pos] == KM_TAG_STRUCTURE && c->p[c->pos + 1] == 2 &&
               c->p[c->pos + 2] == KM_TAG_INTEGER && c->p[c->pos + 4] == KM_TAG_ENUM;
}

/* An OBIS/value pair in a flat list, with the scaler-unit that follows the
 * value in the EVN/Sagemcom layout (OBIS, value, scaler-unit, OBIS, ...). */
static km_status read_pair(km_cursor *c, const uint8_t obis[6], km_reading *r, uint32_t *i, uint32_t count)
{
        size_t before = r->n_values;
        km_status s = km_list_read_value(c, obis, r);
        *i += 1;
        if (s == KM_OK && *i + 1 < count && scaler_unit_follows(c)) {
                s = read_scaler_unit(c, r, before);
                *i += 1;
        }
        return s;
}

/* An element that comes without an OBIS code in a list that names the
 * others: the list version text first (Kamstrup), a date-time (the clock,
 * EVN/Sagemcom first element), a text last (the EVN/Sagemcom meter number).
 * A 12-byte text is a date-time only when its fields are in range. */
static km_status read_bare(km_cursor *c, const km_axdr_item *it, uint32_t i, uint32_t count, km_reading *r)
{
        if (it->cls == KM_AXDR_CONTAINER)
                return km_axdr_skip_elements(c, it->count, 2);
        bool is_dt = it->cls == KM_AXDR_BYTES && it->len == 12 &&
                     (it->tag == KM_TAG_DATE_TIME || (it->tag == KM_TAG_OCTET_STRING && km_datetime_plausible(it->bytes)));
        if (is_dt)
                return store_value(c, it, obis_clock, r);
        if (i == 0 && is_text_item(it))
                return store_value(c, it, obis_list_version, r);
        if (i + 1 == count && i > 0 && is_text_item(it) && it->len > 0)
                return store_value(c, it, obis_meter_id, r);
        return KM_OK;
}

/* Lists that name their objects: register structures, OBIS/value pairs
 * (with or without a scaler-unit after the value), and bare elements (see
 * read_bare), in any mix. Anything else (null placeholders, stray values
 * and containers) is passed over. */
static km_status decode_named(km_cursor *c, uint32_t count, km_reading *r)
{
        for (uint32_t i = 0; i < count; i++) {
                km_axdr_item it;
                km_status s = km_axdr_read(c, &it);
                if (s != KM_OK)
                        return s;
                if (it.tag == KM_TAG_STRUCTURE)
                        s = read_register(c, &it, r);
                else if (is_obis_item(&it) && i + 1 < count)
                        s = read_pair(c, it.bytes, r, &i, count);
                else
                        s = read_bare(c, &it, i, count, r);
                if (s != KM_OK)
                        return s;
        }
        return KM_OK;
}

/* True when the body's elements carry OBIS codes: the first element is a
 * register structure or an OBIS code, or the second one is (after a list
 * version string). */
static bool names_objects(const km_cursor *body, uint32_t count)
{
        km_cursor c = *body;
        for (uint32_t i = 0; i < count && i < 2; i++) {
                km_axdr_item it;
                if (km_axdr_read(&c, &it) != KM_OK)
                        return false;
                if (is_obis_item(&it))
                        return !is_push_setup(it.bytes); /* a header, then bare values */
                if (it.tag == KM_TAG_STRUCTURE) {
                        km_axdr_item first;
                        return it.count >= 2 && km_axdr_read(&c, &first) == KM_OK && is_obis_item(&first);
                }
                if (it.cls == KM_AXDR_CONTAINER || !is_text_item(&it))
                        return false;
        }
        return false;
}

static const char *list_version(const km_reading *r)
{
        for (size_t i = 0; i < r->n_values; i++) {
                const uint8_t *o = r->values[i].obis; /* x-x:0.2.129.x */
                if (o[2] == 0 && o[3] == 2 && o[4] == 129 && r->values[i].kind == KM_VALUE_TEXT)
                        return r->values[i].text;
        }
        return NULL;
}

static const km_family *family_by_version(const km_reading *r)
{
        const char *version = list_version(r);
        if (!version)
                return NULL;
        for (size_t i = 0; i < km_family_count(); i++) {
                const km_family *f = km_family_get(i);
                const char *prefix = f->ops->version_prefix;
                if (prefix && strncmp(version, prefix, strlen(prefix)) == 0)
                        return f;
        }
        return NULL;
}

void km_list_scale_assumed(km_reading *r, const km_family *fam)
{
        for (size_t i = 0; i < r->n_values; i++) {
                km_value *v = &r->values[i];
                if (!v->scaler_inline && (v->kind == KM_VALUE_NUMBER || v->kind == KM_VALUE_FLOAT))
                        km_family_scale(fam, v, r);
        }
}

/* Bare values: the first family whose layout fits reads them. */
static km_status decode_positional(km_cursor *c, uint32_t count, km_reading *r)
{
        for (size_t i = 0; i < km_family_count(); i++) {
                const km_family *f = km_family_get(i);
                if (!f->ops->positional)
                        continue;
                km_cursor start = *c;
                r->maker = f->maker;
                r->family = f;
                km_status s = f->ops->positional(c, count, r);
                if (s != KM_ERR_UNKNOWN_LIST)
                        return s;
                *c = start;
                r->n_values = 0;
        }
        r->maker = NULL;
        r->family = NULL;
        return KM_ERR_UNKNOWN_LIST;
}

/* A list that names its objects: decoded by the generic walker, scaled by
 * the family its list version names (if any). */
static km_status decode_self_describing(km_cursor *c, uint32_t count, km_reading *r)
{
        km_status s = decode_named(c, count, r);
        if (s != KM_OK)
                return s;
        const km_family *fam = family_by_version(r);
        r->list_name = fam ? fam->ops->version_prefix : "DLMS list";
        r->maker = fam ? fam->maker : NULL;
        r->family = fam;
        km_list_scale_assumed(r, fam);
        return KM_OK;
}

km_status km_list_decode(km_cursor *c, km_reading *r)
{
        km_axdr_item top;
        km_status s = km_axdr_read(c, &top);
        if (s != KM_OK)
                return s;
        if (top.cls != KM_AXDR_CONTAINER)
                return KM_ERR_UNKNOWN_LIST;
        r->family = NULL;
        if (names_objects(c, top.count))
                s = decode_self_describing(c, top.count, r);
        else if ((s = km_capture_list_decode(c, top.count, r)) == KM_ERR_UNKNOWN_LIST)
                s = decode_positional(c, top.count, r);
        if (s != KM_OK)
                return s;
        km_plausibility_pass(r);
        return KM_OK;
}
