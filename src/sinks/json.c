/*
 * JSON sink. Each decoded frame becomes
 *   {"data": {...}, "header": {...}, "list": "...", "maker": "..."}
 * where "data" matches the original tool's output key for key; values are
 * scaled as the meter (or its list document) says, in the unit shown.
 *
 * The document of a frame is described once (describe_reading(),
 * describe_other()) to a builder. The sink's builder is the streaming writer
 * (json_writer.c: no tree, no allocation per value, formatting without
 * printf); the other builds json-c objects and prints them with
 * json_object_to_json_string_ext(), as this sink did before: the tests
 * (test_sinks) check that both give the same bytes on every capture.
 *
 * Output is written to the FILE in large pieces; with opt.buffered the
 * caller says when to flush (km_sink_flush), otherwise every frame is.
 */
#include "sinks/json.h"

#include <errno.h>
#include <inttypes.h>
#include <json-c/json.h>
#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "kaifa/security.h"
#include "sinks/json_writer.h"

#define FLUSH_AT (256 * 1024) /* buffered output goes out in pieces of about this size */

/* ---- what a frame's document holds ---------------------------------------- */

typedef struct builder builder;
struct builder {
        void (*begin)(builder *b, const char *key); /* an object; key NULL at the top or in an array */
        void (*begin_array)(builder *b, const char *key);
        void (*end)(builder *b);                    /* of an object or array */
        void (*string)(builder *b, const char *key, const char *s, size_t n);
        /* a string that needs no escape: the program's own words and the
         * texts of its tables (unit_sinks checks them) */
        void (*constant)(builder *b, const char *key, const char *s);
        void (*integer)(builder *b, const char *key, int64_t v);
        void (*boolean)(builder *b, const char *key, bool v);
        void (*null)(builder *b, const char *key);
        void (*number)(builder *b, const char *key, const km_value *v); /* NUMBER or FLOAT */
        void (*clock)(builder *b, const char *key, const km_datetime *dt);
        void (*obis)(builder *b, const char *key, const uint8_t obis[6]);
        /* bytes in hex; flags: "7e" before and after (an HDLC frame) */
        void (*hex)(builder *b, const char *key, const uint8_t *p, size_t n, bool flags);
};

static void add_str(builder *b, const char *key, const char *s)
{
        b->string(b, key, s, strlen(s));
}

static void add_const(builder *b, const char *key, const char *s)
{
        b->constant(b, key, s);
}

/* At most 8 bytes, as the original tool's header fields. */
static void add_hex(builder *b, const char *key, const uint8_t *p, size_t n)
{
        b->hex(b, key, p, n > 8 ? 8 : n, false);
}

static void describe_value(builder *b, const km_value *v)
{
        char buf[KM_TEXT_SHOW_MAX > KM_TEXT_RAW_MAX ? KM_TEXT_SHOW_MAX : KM_TEXT_RAW_MAX];
        switch (v->kind) {
        case KM_VALUE_TEXT:
                if (v->text_hex) /* P1: the text as sent (hex digits); "decoded" has it readable */
                        add_str(b, "value", km_value_text_raw(v, buf, sizeof(buf)));
                else if (km_text_is_clean(v->text, v->text_len))
                        b->string(b, "value", v->text, v->text_len);
                else
                        add_str(b, "value", km_value_text_show(v, buf, sizeof(buf)));
                return;
        case KM_VALUE_DATETIME:
                b->clock(b, "value", &v->datetime);
                return;
        default:
                b->number(b, "value", v);
                return;
        }
}

/* A value's member name: its stable name, or its OBIS code when unknown. */
static const char *value_key(const km_value *v, char code[KM_OBIS_STR_MAX])
{
        if (v->info)
                return v->info->name;
        km_fmt_obis(code, v->obis);
        return code;
}

/* Table entries that share a name (meter_id has several codes) share a
 * class: the index of the first of them. Worked out once. */
static const km_obis_info *obis_table;
static size_t obis_count;
static uint16_t *name_class;
static pthread_once_t name_class_once = PTHREAD_ONCE_INIT;

static void make_name_class(void)
{
        obis_table = km_obis_table(&obis_count);
        name_class = calloc(obis_count ? obis_count : 1, sizeof(*name_class));
        for (size_t i = 0; name_class && i < obis_count; i++) {
                size_t j = 0;
                while (strcmp(obis_table[j].name, obis_table[i].name) != 0)
                        j++;
                name_class[i] = (uint16_t)j;
        }
}

/* Values a and b have the same member name: equal OBIS codes, or known
 * codes whose names are one. */
static bool same_key(const km_value *a, const km_value *b, uint16_t class_a, uint16_t class_b)
{
        if (!a->info != !b->info)
                return false;
        if (a->info)
                return a->info == b->info || class_a == class_b;
        return memcmp(a->obis, b->obis, sizeof(a->obis)) == 0;
}

/* The name class of a known value (see name_class); a class of its own for
 * an entry that is not in the table. */
static uint16_t key_class(const km_value *v, size_t i)
{
        const km_obis_info *t = obis_table;
        if (!v->info || !name_class || v->info < t || v->info >= t + obis_count)
                return (uint16_t)(obis_count + i);
        return name_class[v->info - t];
}

/* One value's object: code, unit, value, and for P1 the text as decoded,
 * its own capture time, and the entries of a log (the log_entry values
 * that follow it, from first on). */
static void describe_item(builder *b, const km_reading *r, const km_value *v, size_t first)
{
        if (v->info)
                add_const(b, "description", v->info->description);
        b->obis(b, "obis_code", v->obis);
        if (v->unit != KM_UNIT_NONE && (v->kind == KM_VALUE_NUMBER || v->kind == KM_VALUE_FLOAT))
                add_const(b, "unit", km_unit_symbol_compat(v->unit));
        describe_value(b, v);
        if (v->kind == KM_VALUE_TEXT && v->text_hex)
                b->string(b, "decoded", v->text, v->text_len);
        if (v->has_captured) /* P1: an M-Bus device's or a log entry's own time */
                b->clock(b, "captured", &v->captured);
        if (first >= r->n_values || !r->values[first].log_entry)
                return;
        b->begin_array(b, "entries");
        for (size_t i = first; i < r->n_values && r->values[i].log_entry; i++) {
                b->begin(b, NULL);
                describe_item(b, r, &r->values[i], r->n_values); /* entries have no entries */
                b->end(b);
        }
        b->end(b);
}

/* A value is a member of "data" unless it is an entry of the log before it. */
static bool is_member(const km_reading *r, size_t i)
{
        return i == 0 || !r->values[i].log_entry;
}

/* json-c keeps a repeated member where it first came, with the last value:
 * so do we. */
static void describe_data(builder *b, const km_reading *r)
{
        uint16_t cls[KM_READING_MAX_VALUES];
        size_t n = r->n_values < KM_READING_MAX_VALUES ? r->n_values : KM_READING_MAX_VALUES;
        pthread_once(&name_class_once, make_name_class);
        for (size_t i = 0; i < n; i++)
                cls[i] = key_class(&r->values[i], i);
        b->begin(b, "data");
        for (size_t i = 0; i < n; i++) {
                if (!is_member(r, i))
                        continue;
                bool repeat = false;
                for (size_t j = 0; j < i && !repeat; j++)
                        repeat = is_member(r, j) && same_key(&r->values[j], &r->values[i], cls[j], cls[i]);
                if (repeat)
                        continue;
                size_t last = i;
                for (size_t j = i + 1; j < n; j++)
                        if (is_member(r, j) && same_key(&r->values[j], &r->values[i], cls[j], cls[i]))
                                last = j;
                char code[KM_OBIS_STR_MAX];
                b->begin(b, value_key(&r->values[last], code));
                describe_item(b, r, &r->values[last], last + 1);
                b->end(b);
        }
        b->end(b);
}

static void describe_hdlc(builder *b, const km_hdlc_header *h)
{
        uint8_t two[2];
        two[0] = (uint8_t)(h->format >> 8);
        two[1] = (uint8_t)h->format;
        add_hex(b, "hdlc_frame_format", two, 2);
        b->integer(b, "hdlc_type", 3);
        b->integer(b, "hdlc_segmentation", h->segmented);
        b->integer(b, "hdlc_length", h->length);
        add_hex(b, "hdlc_addr_client", h->dst, h->dst_len);
        add_hex(b, "hdlc_addr_server", h->src, h->src_len);
        add_hex(b, "hdlc_control", &h->control, 1);
        if (h->has_hcs) {
                two[0] = (uint8_t)h->hcs; /* wire order: low byte first */
                two[1] = (uint8_t)(h->hcs >> 8);
                add_hex(b, "hdlc_hcs", two, 2);
        }
        two[0] = (uint8_t)h->fcs;
        two[1] = (uint8_t)(h->fcs >> 8);
        add_hex(b, "hdlc_fcs", two, 2);
}

static void describe_mbus(builder *b, const km_frame *f)
{
        const km_mbus_header *h = &f->link.mbus;
        b->integer(b, "mbus_length", h->length);
        add_hex(b, "mbus_c", &h->c, 1);
        add_hex(b, "mbus_a", &h->a, 1);
        add_hex(b, "mbus_ci", &h->ci, 1);
        if (f->has_sequence) {
                b->integer(b, "mbus_sequence", f->sequence);
                b->boolean(b, "mbus_last", !f->more);
                add_hex(b, "mbus_stsap", &h->stsap, 1);
                add_hex(b, "mbus_dtsap", &h->dtsap, 1);
        }
        add_hex(b, "mbus_checksum", &h->checksum, 1);
}

/* A DSMR/P1 telegram: its length and the CRC it ends with (null for DSMR
 * 2.2/3, which sends none). */
static void describe_p1(builder *b, const km_event *ev)
{
        const char *t = (const char *)ev->bytes;
        size_t bang = ev->len;
        while (bang > 0 && t[bang - 1] != '!')
                bang--;
        b->integer(b, "p1_length", (int)ev->len);
        if (bang && bang < ev->len)
                b->string(b, "p1_crc", t + bang, ev->len - bang);
        else
                b->null(b, "p1_crc");
}

/* How a ciphered frame was protected: cipher, system title (hex, and its
 * 3-letter maker), security byte, invocation counter, authenticated. Never
 * a key. */
static void describe_security(builder *b, const km_security_info *sec)
{
        b->begin(b, "security");
        if (sec->mode == KM_CIPHER_PILOT_ECB) {
                add_const(b, "cipher", "aes-128-ecb-pilot-2017");
                b->boolean(b, "authenticated", false);
                b->end(b);
                return;
        }
        add_const(b, "cipher", sec->encrypted ? "aes-128-gcm" : "none");
        add_hex(b, "system_title", sec->system_title, KM_SYSTEM_TITLE_LEN);
        if (sec->maker[0])
                add_str(b, "system_title_maker", sec->maker);
        add_hex(b, "security_byte", &sec->security_byte, 1);
        b->integer(b, "invocation_counter", sec->invocation_counter);
        b->boolean(b, "authenticated", sec->authenticated);
        b->end(b);
}

static void describe_header(builder *b, const km_event *ev, const km_reading *r)
{
        const km_frame *f = ev->frame;
        b->begin(b, "header");
        add_const(b, "transport", km_transport_name(ev->transport));
        if (f && f->header_valid && f->transport == KM_TRANSPORT_HDLC)
                describe_hdlc(b, &f->link.hdlc);
        else if (f && f->header_valid && f->transport == KM_TRANSPORT_MBUS)
                describe_mbus(b, f);
        else if (f && f->transport == KM_TRANSPORT_P1 && ev->bytes)
                describe_p1(b, ev);
        const uint8_t *p = f ? f->payload : NULL;
        size_t n = f ? f->payload_len : 0;
        if (p && n >= 3 && p[0] == 0xE6 && f->payload_kind == KM_PAYLOAD_APDU) {
                add_hex(b, "llc_dst_svc_ap", p, 1);
                add_hex(b, "llc_src_svc_ap", p + 1, 1);
                add_hex(b, "llc_control", p + 2, 1);
        }
        if (r && f && f->payload_kind == KM_PAYLOAD_APDU) {
                uint8_t id[4] = {(uint8_t)(r->invoke_id >> 24), (uint8_t)(r->invoke_id >> 16),
                                 (uint8_t)(r->invoke_id >> 8), (uint8_t)r->invoke_id};
                add_const(b, "apdu_tag", "0f");
                add_hex(b, "apdu_invoke_id_and_priority", id, 4);
        }
        if (ev->security)
                describe_security(b, ev->security);
        b->end(b);
}

/* The whole frame: HDLC frames with their flags, which are not in ev->bytes. */
static void describe_frame_hex(builder *b, const km_event *ev)
{
        b->hex(b, "frame_hex", ev->bytes, ev->len, ev->transport == KM_TRANSPORT_HDLC);
}

static void describe_reading(builder *b, const km_event *ev, const km_json_options *opt)
{
        const km_reading *r = ev->reading;
        b->begin(b, NULL);
        describe_data(b, r);
        describe_header(b, ev, r);
        if (r->list_name)
                add_str(b, "list", r->list_name);
        if (r->maker)
                add_str(b, "maker", r->maker);
        if (r->has_clock)
                b->clock(b, "notification_time", &r->clock);
        if (opt->hex)
                describe_frame_hex(b, ev);
        b->end(b);
}

static void describe_other(builder *b, const km_event *ev)
{
        b->begin(b, NULL);
        if (ev->kind == KM_EVENT_SEGMENT) /* a good frame; its APDU continues in the next one */
                b->boolean(b, "segment", true);
        else
                add_const(b, "rejected", km_status_name(ev->reject));
        describe_frame_hex(b, ev);
        b->end(b);
}

/* Describes ev's object, if it gets one. */
static bool describe(builder *b, const km_event *ev, const km_json_options *opt)
{
        if (ev->kind == KM_EVENT_READING)
                describe_reading(b, ev, opt);
        else if (opt->rejects)
                describe_other(b, ev);
        else
                return false;
        return true;
}

/* ---- the streaming builder ------------------------------------------------ */

typedef struct stream_builder {
        builder b;
        km_jw w;
} stream_builder;

#define SW(b) (&((stream_builder *)(b))->w)

static void sw_begin(builder *b, const char *key)
{
        km_jw_begin(SW(b), key);
}

static void sw_begin_array(builder *b, const char *key)
{
        km_jw_begin_array(SW(b), key);
}

static void sw_null(builder *b, const char *key)
{
        km_jw_null(SW(b), key);
}

static void sw_end(builder *b)
{
        km_jw_end(SW(b));
}

static void sw_string(builder *b, const char *key, const char *s, size_t n)
{
        km_jw_string(SW(b), key, s, n);
}

static void sw_constant(builder *b, const char *key, const char *s)
{
        km_jw_const(SW(b), key, s, strlen(s));
}

static void sw_integer(builder *b, const char *key, int64_t v)
{
        km_jw_int(SW(b), key, v);
}

static void sw_boolean(builder *b, const char *key, bool v)
{
        km_jw_bool(SW(b), key, v);
}

/* JSON has no NaN or infinity (null); integers print without a decimal
 * point, other numbers as "%.15g" (what the reference builder gives). */
static void sw_number(builder *b, const char *key, const km_value *v)
{
        double x = km_value_number(v);
        if (!isfinite(x)) {
                km_jw_null(SW(b), key);
                return;
        }
        char buf[KM_FMT_NUMBER_MAX];
        km_jw_raw(SW(b), key, buf, km_fmt_value_g15(buf, v));
}

/* A string member whose text needs no escape (digits and punctuation),
 * formatted in place by fmt into at most max bytes. */
#define SW_PLAIN_STRING(b, key, max, fmt)                                        \
        do {                                                                      \
                km_jw *w_ = SW(b);                                                \
                km_jw_raw(w_, key, "\"", 1);                                      \
                if (km_textbuf_reserve(w_->out, (max) + 2)) {                     \
                        char *buf = w_->out->p + w_->out->len;                    \
                        w_->out->len += (fmt);                                    \
                        w_->out->p[w_->out->len++] = '"';                         \
                }                                                                 \
        } while (0)

static void sw_clock(builder *b, const char *key, const km_datetime *dt)
{
        SW_PLAIN_STRING(b, key, KM_FMT_CLOCK_MAX, km_fmt_clock_compat(buf, dt));
}

static void sw_obis(builder *b, const char *key, const uint8_t obis[6])
{
        SW_PLAIN_STRING(b, key, KM_OBIS_STR_MAX, km_fmt_obis(buf, obis));
}

/* p's bytes in hex, with "7e" before and after when flags */
static size_t fmt_frame_hex(char *buf, const uint8_t *p, size_t n, bool flags)
{
        size_t k = 0;
        if (flags) {
                memcpy(buf, "7e", 2);
                k = 2;
        }
        k += km_fmt_hex(buf + k, p, n);
        if (flags) {
                memcpy(buf + k, "7e", 2);
                k += 2;
        }
        return k;
}

static void sw_hex(builder *b, const char *key, const uint8_t *p, size_t n, bool flags)
{
        SW_PLAIN_STRING(b, key, 2 * n + 5, fmt_frame_hex(buf, p, n, flags));
}

bool km_json_render(const km_event *ev, const km_json_options *opt, km_textbuf *out)
{
        stream_builder sb = {
                .b = {sw_begin, sw_begin_array, sw_end, sw_string, sw_constant, sw_integer, sw_boolean, sw_null,
                      sw_number, sw_clock, sw_obis, sw_hex},
        };
        km_jw_init(&sb.w, out, !opt->compact);
        if (!describe(&sb.b, ev, opt))
                return false;
        km_textbuf_putc(out, '\n');
        return true;
}

/* ---- the json-c builder: the reference ------------------------------------ */

#define JC_MAX_DEPTH 8

typedef struct jsonc_builder {
        builder b;
        json_object *stack[JC_MAX_DEPTH];
        int depth;
        json_object *root;
} jsonc_builder;

static void jc_add(builder *b, const char *key, json_object *v)
{
        jsonc_builder *jb = (jsonc_builder *)b;
        json_object *parent = jb->stack[jb->depth - 1];
        if (json_object_is_type(parent, json_type_array))
                json_object_array_add(parent, v);
        else
                json_object_object_add(parent, key, v);
}

static void jc_open(builder *b, const char *key, json_object *o)
{
        jsonc_builder *jb = (jsonc_builder *)b;
        if (jb->depth == 0)
                jb->root = o;
        else
                jc_add(b, key, o);
        if (jb->depth < JC_MAX_DEPTH)
                jb->stack[jb->depth++] = o;
}

static void jc_begin(builder *b, const char *key)
{
        jc_open(b, key, json_object_new_object());
}

static void jc_begin_array(builder *b, const char *key)
{
        jc_open(b, key, json_object_new_array());
}

static void jc_null(builder *b, const char *key)
{
        jc_add(b, key, NULL);
}

static void jc_end(builder *b)
{
        ((jsonc_builder *)b)->depth--;
}

static void jc_string(builder *b, const char *key, const char *s, size_t n)
{
        jc_add(b, key, json_object_new_string_len(s, (int)n));
}

static void jc_constant(builder *b, const char *key, const char *s)
{
        jc_add(b, key, json_object_new_string(s));
}

static void jc_integer(builder *b, const char *key, int64_t v)
{
        jc_add(b, key, json_object_new_int64(v));
}

static void jc_boolean(builder *b, const char *key, bool v)
{
        jc_add(b, key, json_object_new_boolean(v));
}

/* The sink's original number rule, with printf. */
static void jc_number(builder *b, const char *key, const km_value *v)
{
        double value = km_value_number(v);
        json_object *o = NULL; /* JSON has no NaN or infinity: null */
        if (isfinite(value)) {
                char buf[40];
                snprintf(buf, sizeof(buf), "%.15g", value);
                if (fabs(value) < 9e15 && value == (double)(int64_t)value && !strchr(buf, 'e'))
                        o = json_object_new_int64((int64_t)value);
                else
                        o = json_object_new_double_s(value, buf);
        }
        jc_add(b, key, o);
}

static void binary_string(unsigned v, char *buf)
{
        int n = 0;
        for (int bit = 7; bit >= 0; bit--)
                if (n || (v >> bit) & 1 || bit == 0)
                        buf[n++] = (char)('0' + ((v >> bit) & 1));
        buf[n] = '\0';
}

static void jc_clock(builder *b, const char *key, const km_datetime *dt)
{
        char status[9], buf[KM_FMT_CLOCK_MAX];
        binary_string(dt->status, status);
        snprintf(buf, sizeof(buf), "%04u-%02u-%02u %02u:%02u:%02u,%u %+d (%s)", dt->year, dt->month, dt->day,
                 dt->hour, dt->minute, dt->second, dt->hundredths, dt->deviation, status);
        jc_add(b, key, json_object_new_string(buf));
}

static void jc_obis(builder *b, const char *key, const uint8_t obis[6])
{
        char code[KM_OBIS_STR_MAX];
        jc_add(b, key, json_object_new_string(km_obis_format(obis, code, sizeof(code))));
}

static void jc_hex(builder *b, const char *key, const uint8_t *p, size_t n, bool flags)
{
        char *buf = malloc(2 * n + 5);
        if (!buf)
                return;
        char *q = buf;
        *q = '\0';
        if (flags)
                q += sprintf(q, "7e");
        for (size_t i = 0; i < n; i++)
                q += sprintf(q, "%02x", p[i]);
        if (flags)
                sprintf(q, "7e");
        jc_add(b, key, json_object_new_string(buf));
        free(buf);
}

char *km_json_render_jsonc(const km_event *ev, const km_json_options *opt)
{
        jsonc_builder jb = {
                .b = {jc_begin, jc_begin_array, jc_end, jc_string, jc_constant, jc_integer, jc_boolean, jc_null,
                      jc_number, jc_clock, jc_obis, jc_hex},
        };
        if (!describe(&jb.b, ev, opt))
                return NULL;
        int flags = JSON_C_TO_STRING_NOSLASHESCAPE |
                    (opt->compact ? JSON_C_TO_STRING_PLAIN : JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_SPACED);
        const char *s = json_object_to_json_string_ext(jb.root, flags);
        size_t n = strlen(s);
        char *text = malloc(n + 2);
        if (text) {
                memcpy(text, s, n);
                memcpy(text + n, "\n", 2);
        }
        json_object_put(jb.root);
        return text;
}

/* ---- the sink --------------------------------------------------------------- */

typedef struct json_sink {
        km_sink base;
        FILE *out;
        km_json_options opt;
        km_textbuf buf; /* text not yet handed to out */
} json_sink;

/* Hands the text over to the FILE. */
static int hand_over(json_sink *js)
{
        size_t n = js->buf.len;
        js->buf.len = 0;
        if (n && fwrite(js->buf.p, 1, n, js->out) != n)
                return errno ? -errno : -EIO;
        return 0;
}

static int json_flush(km_sink *s)
{
        json_sink *js = (json_sink *)s;
        int r = hand_over(js);
        if (fflush(js->out) != 0 && r == 0)
                r = errno ? -errno : -EIO;
        return r;
}

static int json_event(km_sink *s, const km_event *ev)
{
        json_sink *js = (json_sink *)s;
        if (!km_json_render(ev, &js->opt, &js->buf))
                return 0;
        if (js->buf.failed) {
                js->buf.failed = false;
                js->buf.len = 0;
                return -ENOMEM;
        }
        if (!js->opt.buffered)
                return json_flush(s);
        return js->buf.len >= FLUSH_AT ? hand_over(js) : 0;
}

static void json_close(km_sink *s)
{
        json_sink *js = (json_sink *)s;
        if (js->buf.len)
                json_flush(s);
        km_textbuf_free(&js->buf);
        free(s);
}

int km_sink_json_open(FILE *out, const km_json_options *opt, km_sink **ret)
{
        json_sink *js = calloc(1, sizeof(*js));
        if (!js)
                return -ENOMEM;
        js->base.name = "json";
        js->base.reading = json_event;
        js->base.other = json_event;
        js->base.flush = json_flush;
        js->base.close = json_close;
        js->out = out;
        js->opt = *opt;
        *ret = &js->base;
        return 0;
}
