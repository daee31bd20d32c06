/*
 * JSON sink. Each decoded frame becomes
 *   {"data": {...}, "header": {...}, "list": "...", "maker": "..."}
 * where "data" matches the original tool's output key for key; values are
 * scaled as the meter (or its list document) says, in the unit shown.
 */
#include "sinks/json.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

json_object *km_json_number(double value)
{
        if (!isfinite(value))
                return NULL; /* JSON has no NaN or infinity: null */
        char buf[40];
        snprintf(buf, sizeof(buf), "%.15g", value);
        if (isfinite(value) && fabs(value) < 9e15 && value == (double)(int64_t)value && !strchr(buf, 'e'))
                return json_object_new_int64((int64_t)value);
        return json_object_new_double_s(value, buf);
}

static void binary_string(unsigned v, char *buf)
{
        int n = 0;
        for (int bit = 7; bit >= 0; bit--)
                if (n || (v >> bit) & 1 || bit == 0)
                        buf[n++] = (char)('0' + ((v >> bit) & 1));
        buf[n] = '\0';
}

void km_json_datetime_compat(const km_datetime *dt, char *buf, size_t size)
{
        char status[9];
        binary_string(dt->status, status);
        snprintf(buf, size, "%04u-%02u-%02u %02u:%02u:%02u,%u %+d (%s)", dt->year, dt->month, dt->day, dt->hour,
                 dt->minute, dt->second, dt->hundredths, dt->deviation, status);
}

static json_object *value_json(const km_value *v)
{
        char buf[KM_TEXT_SHOW_MAX > KM_TEXT_RAW_MAX ? KM_TEXT_SHOW_MAX : KM_TEXT_RAW_MAX];
        switch (v->kind) {
        case KM_VALUE_TEXT:
                if (v->text_hex) /* P1: the text as sent (hex digits); "decoded" has it readable */
                        return json_object_new_string(km_value_text_raw(v, buf, sizeof(buf)));
                if (km_text_is_clean(v->text, v->text_len))
                        return json_object_new_string_len(v->text, v->text_len);
                return json_object_new_string(km_value_text_show(v, buf, sizeof(buf)));
        case KM_VALUE_DATETIME:
                km_json_datetime_compat(&v->datetime, buf, sizeof(buf));
                return json_object_new_string(buf);
        default:
                return km_json_number(km_value_number(v));
        }
}

json_object *km_json_reading_data(const km_reading *r)
{
        json_object *data = json_object_new_object();
        json_object *head = NULL; /* the last value that is not a log entry */
        for (size_t i = 0; i < r->n_values; i++) {
                const km_value *v = &r->values[i];
                char code[KM_OBIS_STR_MAX];
                km_obis_format(v->obis, code, sizeof(code));
                json_object *item = json_object_new_object();
                if (v->info)
                        json_object_object_add(item, "description", json_object_new_string(v->info->description));
                json_object_object_add(item, "obis_code", json_object_new_string(code));
                if (v->unit != KM_UNIT_NONE && (v->kind == KM_VALUE_NUMBER || v->kind == KM_VALUE_FLOAT))
                        json_object_object_add(item, "unit", json_object_new_string(km_unit_symbol_compat(v->unit)));
                json_object_object_add(item, "value", value_json(v));
                if (v->kind == KM_VALUE_TEXT && v->text_hex) /* clean: decoded only when printable */
                        json_object_object_add(item, "decoded", json_object_new_string_len(v->text, v->text_len));
                if (v->has_captured) { /* P1: an M-Bus device's or a log entry's own time */
                        char when[64];
                        km_json_datetime_compat(&v->captured, when, sizeof(when));
                        json_object_object_add(item, "captured", json_object_new_string(when));
                }
                if (v->log_entry && head) { /* P1: the log's entries go in a list under it */
                        json_object *entries;
                        if (!json_object_object_get_ex(head, "entries", &entries)) {
                                entries = json_object_new_array();
                                json_object_object_add(head, "entries", entries);
                        }
                        json_object_array_add(entries, item);
                        continue;
                }
                json_object_object_add(data, v->info ? v->info->name : code, item);
                head = item;
        }
        return data;
}

static json_object *hex_json(const uint8_t *p, size_t n)
{
        char buf[2 * 8 + 1];
        if (n > 8)
                n = 8;
        for (size_t i = 0; i < n; i++)
                snprintf(buf + 2 * i, 3, "%02x", p[i]);
        buf[2 * n] = '\0';
        return json_object_new_string(buf);
}

static void hdlc_header(json_object *o, const km_hdlc_header *h)
{
        uint8_t two[2];
        two[0] = (uint8_t)(h->format >> 8);
        two[1] = (uint8_t)h->format;
        json_object_object_add(o, "hdlc_frame_format", hex_json(two, 2));
        json_object_object_add(o, "hdlc_type", json_object_new_int(3));
        json_object_object_add(o, "hdlc_segmentation", json_object_new_int(h->segmented));
        json_object_object_add(o, "hdlc_length", json_object_new_int(h->length));
        json_object_object_add(o, "hdlc_addr_client", hex_json(h->dst, h->dst_len));
        json_object_object_add(o, "hdlc_addr_server", hex_json(h->src, h->src_len));
        json_object_object_add(o, "hdlc_control", hex_json(&h->control, 1));
        if (h->has_hcs) {
                two[0] = (uint8_t)h->hcs; /* wire order: low byte first */
                two[1] = (uint8_t)(h->hcs >> 8);
                json_object_object_add(o, "hdlc_hcs", hex_json(two, 2));
        }
        two[0] = (uint8_t)h->fcs;
        two[1] = (uint8_t)(h->fcs >> 8);
        json_object_object_add(o, "hdlc_fcs", hex_json(two, 2));
}

static void mbus_header(json_object *o, const km_frame *f)
{
        const km_mbus_header *h = &f->link.mbus;
        json_object_object_add(o, "mbus_length", json_object_new_int(h->length));
        json_object_object_add(o, "mbus_c", hex_json(&h->c, 1));
        json_object_object_add(o, "mbus_a", hex_json(&h->a, 1));
        json_object_object_add(o, "mbus_ci", hex_json(&h->ci, 1));
        if (f->has_sequence) {
                json_object_object_add(o, "mbus_sequence", json_object_new_int(f->sequence));
                json_object_object_add(o, "mbus_last", json_object_new_boolean(!f->more));
                json_object_object_add(o, "mbus_stsap", hex_json(&h->stsap, 1));
                json_object_object_add(o, "mbus_dtsap", hex_json(&h->dtsap, 1));
        }
        json_object_object_add(o, "mbus_checksum", hex_json(&h->checksum, 1));
}

/* A DSMR/P1 telegram: its length and the CRC it ends with (null for DSMR
 * 2.2/3, which sends none). */
static void p1_header(json_object *o, const km_event *ev)
{
        const char *t = (const char *)ev->bytes;
        size_t bang = ev->len;
        while (bang > 0 && t[bang - 1] != '!')
                bang--;
        json_object_object_add(o, "p1_length", json_object_new_int((int)ev->len));
        json_object_object_add(o, "p1_crc", bang && bang < ev->len
                                                    ? json_object_new_string_len(t + bang, (int)(ev->len - bang))
                                                    : NULL);
}

json_object *km_json_frame_header(const km_event *ev, const km_reading *r)
{
        json_object *o = json_object_new_object();
        const km_frame *f = ev->frame;
        json_object_object_add(o, "transport", json_object_new_string(km_transport_name(ev->transport)));
        if (f && f->header_valid && f->transport == KM_TRANSPORT_HDLC)
                hdlc_header(o, &f->link.hdlc);
        else if (f && f->header_valid && f->transport == KM_TRANSPORT_MBUS)
                mbus_header(o, f);
        else if (f && f->transport == KM_TRANSPORT_P1 && ev->bytes)
                p1_header(o, ev);
        const uint8_t *p = f ? f->payload : NULL;
        size_t n = f ? f->payload_len : 0;
        if (p && n >= 3 && p[0] == 0xE6 && f->payload_kind == KM_PAYLOAD_APDU) {
                json_object_object_add(o, "llc_dst_svc_ap", hex_json(p, 1));
                json_object_object_add(o, "llc_src_svc_ap", hex_json(p + 1, 1));
                json_object_object_add(o, "llc_control", hex_json(p + 2, 1));
        }
        if (r && f && f->payload_kind == KM_PAYLOAD_APDU) {
                char id[9];
                snprintf(id, sizeof(id), "%08" PRIx32, r->invoke_id);
                json_object_object_add(o, "apdu_tag", json_object_new_string("0f"));
                json_object_object_add(o, "apdu_invoke_id_and_priority", json_object_new_string(id));
        }
        return o;
}

json_object *km_json_security(const km_security_info *sec)
{
        json_object *o = json_object_new_object();
        if (sec->mode == KM_CIPHER_PILOT_ECB) {
                json_object_object_add(o, "cipher", json_object_new_string("aes-128-ecb-pilot-2017"));
                json_object_object_add(o, "authenticated", json_object_new_boolean(false));
                return o;
        }
        json_object_object_add(o, "cipher", json_object_new_string(sec->encrypted ? "aes-128-gcm" : "none"));
        json_object_object_add(o, "system_title", hex_json(sec->system_title, KM_SYSTEM_TITLE_LEN));
        if (sec->maker[0])
                json_object_object_add(o, "system_title_maker", json_object_new_string(sec->maker));
        json_object_object_add(o, "security_byte", hex_json(&sec->security_byte, 1));
        json_object_object_add(o, "invocation_counter", json_object_new_int64(sec->invocation_counter));
        json_object_object_add(o, "authenticated", json_object_new_boolean(sec->authenticated));
        return o;
}

typedef struct json_sink {
        km_sink base;
        FILE *out;
        km_json_options opt;
} json_sink;

static json_object *frame_hex(const km_event *ev)
{
        size_t n = ev->len;
        char *buf = malloc(2 * n + 5);
        if (!buf)
                return NULL;
        char *p = buf;
        bool hdlc = ev->transport == KM_TRANSPORT_HDLC; /* the flags were not part of the frame bytes */
        *p = '\0';
        if (hdlc)
                p += sprintf(p, "7e");
        for (size_t i = 0; i < n; i++)
                p += sprintf(p, "%02x", ev->bytes[i]);
        if (hdlc)
                sprintf(p, "7e");
        json_object *s = json_object_new_string(buf);
        free(buf);
        return s;
}

static int emit(json_sink *js, json_object *o)
{
        int flags = JSON_C_TO_STRING_NOSLASHESCAPE |
                    (js->opt.compact ? JSON_C_TO_STRING_PLAIN : JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_SPACED);
        int r = fprintf(js->out, "%s\n", json_object_to_json_string_ext(o, flags)) < 0 ? -EIO : 0;
        json_object_put(o);
        if (r == 0 && fflush(js->out) != 0)
                r = -errno;
        return r;
}

static int json_reading(km_sink *s, const km_event *ev)
{
        json_sink *js = (json_sink *)s;
        const km_reading *r = ev->reading;
        json_object *o = json_object_new_object();
        json_object_object_add(o, "data", km_json_reading_data(r));
        json_object *header = km_json_frame_header(ev, r);
        if (ev->security)
                json_object_object_add(header, "security", km_json_security(ev->security));
        json_object_object_add(o, "header", header);
        if (r->list_name)
                json_object_object_add(o, "list", json_object_new_string(r->list_name));
        if (r->maker)
                json_object_object_add(o, "maker", json_object_new_string(r->maker));
        if (r->has_clock) {
                char buf[64];
                km_json_datetime_compat(&r->clock, buf, sizeof(buf));
                json_object_object_add(o, "notification_time", json_object_new_string(buf));
        }
        if (js->opt.hex)
                json_object_object_add(o, "frame_hex", frame_hex(ev));
        return emit(js, o);
}

static int json_other(km_sink *s, const km_event *ev)
{
        json_sink *js = (json_sink *)s;
        if (!js->opt.rejects)
                return 0;
        json_object *o = json_object_new_object();
        if (ev->kind == KM_EVENT_SEGMENT) /* a good frame; its APDU continues in the next one */
                json_object_object_add(o, "segment", json_object_new_boolean(1));
        else
                json_object_object_add(o, "rejected", json_object_new_string(km_status_name(ev->reject)));
        json_object_object_add(o, "frame_hex", frame_hex(ev));
        return emit(js, o);
}

static void json_close(km_sink *s)
{
        free(s);
}

int km_sink_json_open(FILE *out, const km_json_options *opt, km_sink **ret)
{
        json_sink *js = calloc(1, sizeof(*js));
        if (!js)
                return -ENOMEM;
        js->base.name = "json";
        js->base.reading = json_reading;
        js->base.other = json_other;
        js->base.close = json_close;
        js->out = out;
        js->opt = *opt;
        *ret = &js->base;
        return 0;
}
