/*
 * DSMR / P1 telegrams: the streaming framer and the parser (see p1.h).
 *
 * The framer is a byte-at-a-time state machine over a fixed buffer, so any
 * chunking gives the same results: it hunts for '/', copies the telegram,
 * and after '!' reads up to four hex digits of CRC. A line end (or any other
 * byte) after '!' ends a telegram with fewer digits; none means DSMR 2.2/3,
 * which has no CRC. Push stops at the byte that completes a result, so the
 * buffer is never refilled while the caller still reads a telegram in it.
 *
 * The parser reads object lines `A-B:C.D.E(group)(group)...`; groups may
 * continue on the next line (DSMR 2.2 gas). The forms understood:
 *   (value*unit)              a number: kW, kvar, kVA become W, var, VA
 *                             through the scaler; kWh, Wh, V, A, m3, GJ, s
 *                             stay as sent
 *   (text)                    a text, kept as sent; equipment ids and
 *                             messages (96.1.x, 96.13.x, 42.0.0) sent as
 *                             hex-encoded ASCII are held decoded (text_hex)
 *   (YYMMDDhhmmssX)           a time, X = S summer / W winter
 *   (time)(value)             a value with its own capture time (M-Bus
 *                             devices 24.2.x, maximum demand 1.6.0)
 *   (time)(..)(..)(..)(code)(unit)(value)   DSMR 2.2/3 gas 24.3.0
 *   (count)(code)(entries)    a buffer: power failures 99.97.0, maximum
 *                             demand history 98.1.0. The count is one
 *                             value; each entry (times, value) is a value
 *                             under the code the buffer names, with its
 *                             capture time and no table entry (so it is not
 *                             mistaken for the current value of that code).
 * Anything else on a line counts in n_unparsed and is skipped.
 */
#include "kaifa/p1.h"
#include "kaifa/hex.h"

#include <string.h>

#include "kaifa/frame.h"
#include "crc16_slice.h"
#include "crc16_arc_table.h"

/* ---- CRC-16/ARC ---------------------------------------------------------- */

static uint16_t crc16_arc_update(uint16_t crc, const uint8_t *p, size_t n)
{
        return km_crc16_slice8(crc16_arc_table, crc, p, n);
}

uint16_t km_crc16_arc(const uint8_t *data, size_t n)
{
        return crc16_arc_update(0, data, n);
}

/* ---- verdicts ------------------------------------------------------------ */

km_status km_p1_verdict_status(km_p1_verdict v)
{
        switch (v) {
        case KM_P1_GOOD:
                return KM_OK;
        case KM_P1_BAD_CRC:
                return KM_ERR_CHECKSUM;
        case KM_P1_TRUNCATED:
                return KM_ERR_TRUNCATED;
        default:
                return KM_ERR_BAD_LENGTH;
        }
}

const char *km_p1_verdict_name(km_p1_verdict v)
{
        switch (v) {
        case KM_P1_GOOD:
                return "ok";
        case KM_P1_BAD_CRC:
                return "bad_crc";
        case KM_P1_TRUNCATED:
                return "truncated";
        case KM_P1_TOO_LONG:
                return "too_long";
        default:
                return "unknown";
        }
}

/* ---- the framer ---------------------------------------------------------- */

static bool is_line_end(int c)
{
        return c == '\r' || c == '\n';
}

static bool is_printable(char c)
{
        return (uint8_t)c >= 0x20 && (uint8_t)c < 0x7F;
}

void km_p1_init(km_p1 *p)
{
        p->state = KM_P1_HUNT;
        p->eof = false;
        p->ignore_crc = false;
        p->pending = false;
        memset(&p->out, 0, sizeof(p->out));
        p->skipped = 0;
        p->len = 0;
        p->crc_digits = 0;
        p->crc = 0;
}

/* Makes the telegram in buf the pending result with this verdict. */
static void set_result(km_p1 *p, km_p1_verdict verdict, size_t crc_len)
{
        km_p1_out *o = &p->out;
        o->verdict = verdict;
        o->status = km_p1_verdict_status(verdict);
        o->text = p->buf;
        o->len = p->len;
        o->crc_len = crc_len;
        o->has_crc = false;
        o->crc = 0;
        o->crc_calc = 0;
        p->pending = true;
        p->state = KM_P1_HUNT;
}

/* '!' and the CRC digits are in: checks the CRC when one was sent.
 * well_ended: the CRC line ended as it should (digits, or a line end right
 * after '!'); a CRC field that is neither is taken as a wrong CRC. */
static void complete(km_p1 *p, bool well_ended)
{
        size_t crc_len = p->len - p->crc_digits;
        uint16_t calc = km_crc16_arc((const uint8_t *)p->buf, crc_len);
        bool has_crc = p->crc_digits > 0;
        bool good = (well_ended && (!has_crc || calc == p->crc)) || p->ignore_crc;
        set_result(p, good ? KM_P1_GOOD : KM_P1_BAD_CRC, crc_len);
        p->out.has_crc = has_crc;
        p->out.crc = p->crc;
        p->out.crc_calc = calc;
}

static void start(km_p1 *p)
{
        p->buf[0] = '/';
        p->len = 1;
        p->state = KM_P1_BODY;
}

/* A telegram is printable ASCII in lines, opened by '/' and a three-letter
 * maker flag. A candidate that breaks this was a stray '/' in other data
 * (binary frames, noise, a 7E1 line read as 8N1): it is passed over as
 * skipped bytes rather than rejected, so noise does not count as telegrams. */
static bool fits_telegram(const km_p1 *p, uint8_t c)
{
        if (p->len >= 1 && p->len <= 3)
                return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z');
        return (c >= 0x20 && c < 0x7F) || is_line_end(c) || c == '\t';
}

static void abandon(km_p1 *p)
{
        p->skipped += p->len;
        p->len = 0;
        p->state = KM_P1_HUNT;
}

/* Handles one byte; false when the byte was not taken (it belongs to what
 * comes after the result just made pending). */
static bool take_byte(km_p1 *p, uint8_t c)
{
        switch (p->state) {
        case KM_P1_HUNT:
                if (c == '/')
                        start(p);
                else if (!is_line_end(c))
                        p->skipped++; /* line ends between telegrams are not garbage */
                return true;
        case KM_P1_BODY:
                if (c == '/') {
                        if (p->len < 4)
                                abandon(p); /* not even a maker flag: a stray '/' */
                        else
                                set_result(p, KM_P1_TRUNCATED, 0);
                        return false; /* the '/' opens the next telegram */
                }
                if (!fits_telegram(p, c)) {
                        abandon(p);
                        return false; /* hunted over like any byte between telegrams */
                }
                if (p->len == sizeof(p->buf)) {
                        set_result(p, KM_P1_TOO_LONG, 0);
                        return false; /* the rest is hunted over (and counted) */
                }
                /* '!' ends a telegram only at the start of a line: random
                 * text must not end one (DSMR puts it on a line of its own) */
                bool at_line_start = is_line_end((uint8_t)p->buf[p->len - 1]);
                p->buf[p->len++] = (char)c;
                if (c == '!' && at_line_start) {
                        p->state = KM_P1_CRC;
                        p->crc_digits = 0;
                        p->crc = 0;
                }
                return true;
        case KM_P1_CRC: {
                int v = km_hex_digit(c);
                if (v < 0 || p->len == sizeof(p->buf)) {
                        /* without digits only a line end may follow '!' */
                        complete(p, p->crc_digits > 0 || is_line_end(c));
                        return false; /* a line end, the next '/', or garbage */
                }
                p->buf[p->len++] = (char)c;
                p->crc = (uint16_t)(p->crc << 4 | (unsigned)v);
                if (++p->crc_digits == KM_P1_CRC_DIGITS)
                        complete(p, true);
                return true;
        }
        }
        return true;
}

/* Bytes that take_byte() would only append to a telegram body past its
 * maker flag: printable ASCII and line ends, but not '/' (a new telegram)
 * or '!' (the end). */
static const uint8_t plain_body[256] = {
        0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 0, 0, 1, 0, 0, /* 0x00 */
        0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, /* 0x10 */
        1, 0, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, /* 0x20 */
        1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, /* 0x30 */
        1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, /* 0x40 */
        1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, /* 0x50 */
        1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, /* 0x60 */
        1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, /* 0x70 */
        0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, /* 0x80 */
        0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, /* 0x90 */
        0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, /* 0xa0 */
        0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, /* 0xb0 */
        0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, /* 0xc0 */
        0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, /* 0xd0 */
        0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, /* 0xe0 */
        0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, /* 0xf0 */
};

/* The body's run of plain bytes at data, copied as take_byte() would one by
 * one (so the framer's results do not depend on it); returns its length. */
static size_t take_plain_run(km_p1 *p, const uint8_t *data, size_t n)
{
        size_t room = sizeof(p->buf) - p->len;
        size_t m = n < room ? n : room;
        char *dst = p->buf + p->len;
        size_t i = 0;
        while (i < m && plain_body[data[i]]) {
                dst[i] = (char)data[i];
                i++;
        }
        p->len += i;
        return i;
}

size_t km_p1_push(km_p1 *p, const uint8_t *data, size_t n)
{
        if (p->pending)
                return 0;
        p->eof = false;
        for (size_t i = 0; i < n; i++) {
                if (p->state == KM_P1_BODY && p->len > 3) {
                        i += take_plain_run(p, data + i, n - i);
                        if (i == n)
                                break;
                }
                bool taken = take_byte(p, data[i]);
                if (p->pending)
                        return taken ? i + 1 : i;
                if (!taken)
                        take_byte(p, data[i]); /* the candidate was abandoned: hunt from this byte */
        }
        return n;
}

void km_p1_finish(km_p1 *p)
{
        p->eof = true;
}

km_p1_result km_p1_next(km_p1 *p, km_p1_out *ret)
{
        if (!p->pending && p->eof) {
                if (p->state == KM_P1_CRC)
                        complete(p, true); /* the end of input ends the CRC line */
                else if (p->state == KM_P1_BODY)
                        set_result(p, KM_P1_TRUNCATED, 0);
        }
        if (!p->pending) {
                memset(ret, 0, sizeof(*ret));
                ret->skipped = p->skipped;
                p->skipped = 0;
                return KM_P1_NEED_MORE;
        }
        *ret = p->out;
        ret->skipped = p->skipped;
        p->skipped = 0;
        p->pending = false;
        return ret->verdict == KM_P1_GOOD ? KM_P1_TELEGRAM : KM_P1_REJECT;
}

km_p1_verdict km_p1_check(const char *telegram, size_t n, km_p1_out *ret)
{
        /* the framer's rules on a whole text, without its buffer */
        km_p1_out o;
        memset(&o, 0, sizeof(o));
        o.text = telegram;
        o.verdict = KM_P1_TRUNCATED;
        const char *bang = NULL;
        for (size_t i = 1; n && telegram[0] == '/' && i < n && !bang; i++)
                if (telegram[i] == '!' && is_line_end(telegram[i - 1]))
                        bang = telegram + i;
        if (bang && !memchr(telegram + 1, '/', (size_t)(bang - telegram) - 1)) {
                o.crc_len = (size_t)(bang - telegram) + 1;
                size_t i = o.crc_len;
                unsigned digits = 0;
                while (i < n && digits < KM_P1_CRC_DIGITS && km_hex_digit(telegram[i]) >= 0) {
                        o.crc = (uint16_t)(o.crc << 4 | (unsigned)km_hex_digit(telegram[i++]));
                        digits++;
                }
                o.len = i;
                o.has_crc = digits > 0;
                o.crc_calc = km_crc16_arc((const uint8_t *)telegram, o.crc_len);
                bool well_ended = digits > 0 || i == n || is_line_end(telegram[i]);
                o.verdict = !well_ended || (o.has_crc && o.crc != o.crc_calc) ? KM_P1_BAD_CRC : KM_P1_GOOD;
        } else {
                o.len = n;
        }
        if (o.len > KM_P1_MAX)
                o.verdict = KM_P1_TOO_LONG;
        o.status = km_p1_verdict_status(o.verdict);
        if (ret)
                *ret = o;
        return o.verdict;
}

/* ---- makers -------------------------------------------------------------- */

static const struct {
        char flag[4];
        const char *maker;
} makers[] = {
        {"ADN", "Aidon"},       {"AID", "Aidon"},       {"EGM", "Elgama"},
        {"ELL", "Elgama"},      {"FLU", "Fluvius"},     {"ISK", "Iskraemeco"},
        {"KAM", "Kamstrup"},    {"KFM", "Kaifa"},       {"LGB", "Landis+Gyr"},
        {"LGF", "Landis+Gyr"},  {"LGZ", "Landis+Gyr"},  {"SAG", "Sagemcom"},
        {"XMX", "Xemex"},
};

static int upper(int c)
{
        return c >= 'a' && c <= 'z' ? c - 'a' + 'A' : c;
}

const char *km_p1_maker(const char flag[3])
{
        for (size_t i = 0; i < sizeof(makers) / sizeof(makers[0]); i++)
                if (upper(flag[0]) == makers[i].flag[0] && upper(flag[1]) == makers[i].flag[1] &&
                    upper(flag[2]) == makers[i].flag[2])
                        return makers[i].maker;
        return NULL;
}

/* ---- the parser ---------------------------------------------------------- */

/* Groups of one object kept at most: a buffer of 13 months of maximum demand
 * (Fluvius 98.1.0) takes 41; a power failure log of 10 entries, 22. */
#define MAX_GROUPS 64

typedef struct span {
        const char *p;
        size_t n;
} span;

typedef struct object {
        uint8_t obis[6];
        size_t n_groups;
        span groups[MAX_GROUPS];
} object;

static bool same_code(const uint8_t a[6], const uint8_t b[6])
{
        uint32_t a4, b4;
        uint16_t a2, b2;
        memcpy(&a4, a, 4);
        memcpy(&b4, b, 4);
        memcpy(&a2, a + 4, 2);
        memcpy(&b2, b + 4, 2);
        return a4 == b4 && a2 == b2;
}

/* The slot's code and table entry. A meter sends its objects in the same
 * order in every telegram, so the slot usually held this code in the
 * previous one: the slots below r->n_known hold km_obis_lookup() of their
 * code (lists.c keeps the same rule), and the look-up is skipped. A value
 * kept without its table entry (look_up false) ends that run. */
static void set_code(km_reading *r, size_t slot, const uint8_t obis[6], bool look_up)
{
        km_value *v = &r->values[slot];
        if (!look_up) {
                memcpy(v->obis, obis, 6);
                v->info = NULL;
                if (slot < r->n_known)
                        r->n_known = slot;
                return;
        }
        if (slot >= r->n_known || !same_code(v->obis, obis)) {
                memcpy(v->obis, obis, 6);
                v->info = km_obis_lookup(obis);
        }
        if (slot == r->n_known)
                r->n_known = slot + 1;
}

static km_value *new_value(km_reading *r, const uint8_t obis[6], bool look_up)
{
        if (r->n_values >= KM_READING_MAX_VALUES) {
                r->n_dropped++;
                return NULL;
        }
        size_t slot = r->n_values++;
        set_code(r, slot, obis, look_up);
        km_value *v = &r->values[slot];
        /* every field a kind reads is set by the code that sets the kind */
        v->kind = KM_VALUE_TEXT;
        v->unit = KM_UNIT_NONE;
        v->scaler = 0;
        v->scaler_inline = false;
        v->raw = 0;
        v->real = 0;
        v->text_len = 0;
        v->text[0] = '\0';
        v->has_captured = false;
        v->text_hex = false;
        v->log_entry = false;
        return v;
}

/* The value of a decimal digit, or a number above 9 for any other byte. */
static inline unsigned digit_value(char c)
{
        return (unsigned)(uint8_t)c - '0';
}

/* Reads a decimal 0..255 of at most 3 digits (a 4th digit fails it);
 * advances *p. */
static bool read_byte_number(const char **p, const char *end, uint8_t *ret)
{
        const char *s = *p;
        size_t left = (size_t)(end - s), k = 0;
        unsigned v = 0, d;
        while (k < left && k < 4 && (d = digit_value(s[k])) <= 9) {
                v = v * 10 + d;
                k++;
        }
        if (k == 0 || k == 4 || v > 255)
                return false;
        *ret = (uint8_t)v;
        *p = s + k;
        return true;
}

/* Parses "A-B:C.D.E" (an optional ".F" or "*F" is read too) at [*p, end). */
static bool parse_obis(const char **p, const char *end, uint8_t obis[6])
{
        static const char seps[] = "-:..";
        const char *s = *p;
        for (int i = 0; i < 5; i++) {
                if (!read_byte_number(&s, end, &obis[i]))
                        return false;
                if (i < 4) {
                        if (s >= end || *s != seps[i])
                                return false;
                        s++;
                }
        }
        obis[5] = 255;
        if (s < end && (*s == '.' || *s == '*')) {
                s++;
                if (!read_byte_number(&s, end, &obis[5]))
                        return false;
        }
        *p = s;
        return true;
}

static bool span_is_obis(span g)
{
        uint8_t o[6];
        const char *s = g.p;
        return parse_obis(&s, g.p + g.n, o) && s == g.p + g.n;
}

static bool all_digits(const char *p, size_t n)
{
        for (size_t i = 0; i < n; i++)
                if (p[i] < '0' || p[i] > '9')
                        return false;
        return n > 0;
}

static unsigned two_digits(const char *p)
{
        return (unsigned)(p[0] - '0') * 10 + (unsigned)(p[1] - '0');
}

/* "YYMMDDhhmmssX" (X = S or W), or with want_bare also the 12 digits alone
 * (DSMR 2.2/3). The DST flag goes into status bit 0x80; the offset from UTC
 * is not in the telegram, so the deviation stays unspecified. */
static bool parse_time(span g, bool want_bare, km_datetime *dt)
{
        bool flagged = g.n == 13 && (upper(g.p[12]) == 'S' || upper(g.p[12]) == 'W');
        if (!(flagged || (want_bare && g.n == 12)) || !all_digits(g.p, 12))
                return false;
        unsigned mon = two_digits(g.p + 2), day = two_digits(g.p + 4);
        unsigned h = two_digits(g.p + 6), mi = two_digits(g.p + 8), s = two_digits(g.p + 10);
        if (mon < 1 || mon > 12 || day < 1 || day > 31 || h > 23 || mi > 59 || s > 60)
                return false;
        dt->year = (uint16_t)(2000 + two_digits(g.p));
        dt->month = (uint8_t)mon;
        dt->day = (uint8_t)day;
        dt->weekday = 0xFF;
        dt->hour = (uint8_t)h;
        dt->minute = (uint8_t)mi;
        dt->second = (uint8_t)s;
        dt->hundredths = 0xFF;
        dt->deviation = KM_DEVIATION_UNSPECIFIED;
        dt->status = flagged && upper(g.p[12]) == 'S' ? 0x80 : 0x00;
        return true;
}

/* p[0..n) is word (of n letters), in any case. */
static bool same_word(const char *p, size_t n, const char *word)
{
        for (size_t i = 0; i < n; i++)
                if (upper(p[i]) != upper(word[i]))
                        return false;
        return true;
}

/* A unit as P1 spells it; *ret_exp is the decimal exponent to the unit the
 * value is held in (kW -> W: 3). False for an unknown unit. */
static bool parse_unit(const char *p, size_t n, km_unit *ret, int *ret_exp)
{
#define UNIT(name, unit, exp) {name, sizeof(name) - 1, unit, exp}
        static const struct {
                const char *name;
                size_t len;
                km_unit unit;
                int exp;
        } units[] = {
                UNIT("kWh", KM_UNIT_KWH, 0),  UNIT("Wh", KM_UNIT_WH, 0),       UNIT("kW", KM_UNIT_W, 3),
                UNIT("W", KM_UNIT_W, 0),      UNIT("kvarh", KM_UNIT_KVARH, 0), UNIT("varh", KM_UNIT_VARH, 0),
                UNIT("kvar", KM_UNIT_VAR, 3), UNIT("var", KM_UNIT_VAR, 0),     UNIT("kVAh", KM_UNIT_KVAH, 0),
                UNIT("VAh", KM_UNIT_VAH, 0),  UNIT("kVA", KM_UNIT_VA, 3),      UNIT("VA", KM_UNIT_VA, 0),
                UNIT("V", KM_UNIT_V, 0),      UNIT("A", KM_UNIT_A, 0),         UNIT("m3", KM_UNIT_M3, 0),
                UNIT("GJ", KM_UNIT_GJ, 0),    UNIT("s", KM_UNIT_SECOND, 0),    UNIT("Hz", KM_UNIT_HZ, 0),
        };
#undef UNIT
        for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++)
                if (n == units[i].len && same_word(p, n, units[i].name)) {
                        *ret = units[i].unit;
                        *ret_exp = units[i].exp;
                        return true;
                }
        return false;
}

/* A decimal "[-]digits[.digits]" into raw and a scaler. At most 18 digits,
 * so raw fits an int64. */
static bool parse_decimal(const char *p, size_t n, int64_t *ret_raw, int *ret_scaler)
{
        size_t i = 0;
        bool neg = n > 0 && p[0] == '-';
        if (neg)
                i++;
        int64_t raw = 0;
        int digits = 0, frac = -1;
        for (; i < n; i++) {
                if (p[i] == '.' && frac < 0) {
                        frac = 0;
                        continue;
                }
                if (p[i] < '0' || p[i] > '9' || digits == 18)
                        return false;
                raw = raw * 10 + (p[i] - '0');
                digits++;
                if (frac >= 0)
                        frac++;
        }
        if (digits == 0)
                return false;
        *ret_raw = neg ? -raw : raw;
        *ret_scaler = frac > 0 ? -frac : 0;
        return true;
}

/* Fills v with a number "value*unit", using unit_hint (a unit sent in a
 * group of its own) when the value has none. False when it is not one. */
static bool fill_number(km_value *v, span g, span unit_hint)
{
        const char *star = memchr(g.p, '*', g.n);
        size_t vn = star ? (size_t)(star - g.p) : g.n;
        span u = star ? (span){star + 1, g.n - vn - 1} : unit_hint;
        km_unit unit;
        int exp;
        int64_t raw;
        int scaler;
        if (u.p == NULL || !parse_unit(u.p, u.n, &unit, &exp) || !parse_decimal(g.p, vn, &raw, &scaler))
                return false;
        v->kind = KM_VALUE_NUMBER;
        v->raw = raw;
        v->scaler = (int8_t)(scaler + exp);
        v->unit = unit;
        v->scaler_inline = true;
        return true;
}

/* Codes whose texts meters send as hex-encoded ASCII: equipment ids
 * (96.1.x), messages (96.13.x), the logical device name (42.0.0). */
static bool hex_text_code(const uint8_t o[6])
{
        return (o[2] == 96 && (o[3] == 1 || o[3] == 13)) || (o[2] == 42 && o[3] == 0 && o[4] == 0);
}

/* Decodes upper-case hex digits that spell printable ASCII. Only those are
 * taken as encoded, so the digits can be given back exactly. */
static bool decode_hex_text(km_value *v, span g)
{
        if (g.n == 0 || g.n % 2 != 0)
                return false;
        size_t n = g.n / 2 > KM_TEXT_MAX ? KM_TEXT_MAX : g.n / 2;
        for (size_t i = 0; i < g.n; i++)
                if (km_hex_digit(g.p[i]) < 0 || (g.p[i] >= 'a' && g.p[i] <= 'f'))
                        return false;
        for (size_t i = 0; i < g.n / 2; i++) {
                int b = km_hex_digit(g.p[2 * i]) << 4 | km_hex_digit(g.p[2 * i + 1]);
                if (b < 0x20 || b > 0x7E)
                        return false;
                if (i < n)
                        v->text[i] = (char)b;
        }
        v->text[n] = '\0';
        v->text_len = (uint8_t)n;
        v->text_hex = true;
        return true;
}

static void fill_text(km_value *v, span g)
{
        v->kind = KM_VALUE_TEXT;
        if (hex_text_code(v->obis) && decode_hex_text(v, g))
                return;
        size_t n = g.n > KM_TEXT_MAX ? KM_TEXT_MAX : g.n;
        memcpy(v->text, g.p, n);
        v->text[n] = '\0';
        v->text_len = (uint8_t)n;
}

/* One value group: a number with unit, a time, or a text. */
static bool fill_value(km_value *v, span g, span unit_hint)
{
        if (memchr(g.p, '*', g.n) || unit_hint.p)
                return fill_number(v, g, unit_hint);
        km_datetime dt;
        bool clock = v->obis[2] == 1 && v->obis[3] == 0 && v->obis[4] == 0;
        if (parse_time(g, clock, &dt)) {
                v->kind = KM_VALUE_DATETIME;
                v->datetime = dt;
                return true;
        }
        fill_text(v, g);
        return true;
}

/* Adds one value; false when its group does not parse (the value is
 * withdrawn). look_up = false leaves it without table entry. */
static bool add_value(km_reading *r, const uint8_t obis[6], bool look_up, span g, span unit_hint,
                      const km_datetime *captured)
{
        size_t slot = r->n_values;
        km_value *v = new_value(r, obis, look_up);
        if (!v)
                return true; /* counted in n_dropped */
        if (!fill_value(v, g, unit_hint)) {
                r->n_values = slot;
                return false;
        }
        if (captured) {
                v->has_captured = true;
                v->captured = *captured;
        }
        return true;
}

/* (count)(code...)(time...)(value)...: the count, then each entry under the
 * last code named. */
static bool add_buffer(km_reading *r, const object *o)
{
        const span none = {NULL, 0};
        int64_t count;
        int scaler;
        if (!parse_decimal(o->groups[0].p, o->groups[0].n, &count, &scaler) || scaler != 0)
                return false;
        km_value *v = new_value(r, o->obis, true);
        if (v) {
                v->kind = KM_VALUE_NUMBER;
                v->raw = count;
        }
        size_t i = 1;
        uint8_t code[6];
        while (i < o->n_groups && span_is_obis(o->groups[i])) {
                const char *s = o->groups[i].p;
                parse_obis(&s, s + o->groups[i].n, code);
                i++;
        }
        bool ok = true, have_time = false;
        km_datetime when;
        for (; i < o->n_groups; i++) {
                if (parse_time(o->groups[i], false, &when)) {
                        have_time = true; /* the last time of an entry is its capture time */
                        continue;
                }
                size_t slot = r->n_values;
                ok &= add_value(r, code, false, o->groups[i], none, have_time ? &when : NULL);
                if (slot < r->n_values)
                        r->values[slot].log_entry = true;
                have_time = false;
        }
        return ok && !have_time;
}

/* A bare unit in a group of its own (DSMR 2.2/3: ...(0-1:24.2.1)(m3)). */
static span unit_group(const object *o)
{
        km_unit u;
        int e;
        for (size_t i = 1; i + 1 < o->n_groups; i++)
                if (parse_unit(o->groups[i].p, o->groups[i].n, &u, &e))
                        return o->groups[i];
        return (span){NULL, 0};
}

static bool add_object(km_reading *r, const object *o)
{
        const span none = {NULL, 0};
        if (o->n_groups == 1) {
                size_t slot = r->n_values;
                if (!add_value(r, o->obis, true, o->groups[0], none, NULL))
                        return false;
                const km_value *v = slot < r->n_values ? &r->values[slot] : NULL;
                if (v && v->kind == KM_VALUE_DATETIME && o->obis[1] == 0 && o->obis[2] == 1 &&
                    o->obis[3] == 0 && o->obis[4] == 0 && !r->has_clock) {
                        r->clock = v->datetime; /* 0-0:1.0.0, the telegram's time */
                        r->has_clock = true;
                }
                return true;
        }
        if (o->n_groups >= 2 && all_digits(o->groups[0].p, o->groups[0].n) &&
            span_is_obis(o->groups[1]))
                return add_buffer(r, o);
        km_datetime when;
        if (parse_time(o->groups[0], o->n_groups > 2, &when)) {
                span last = o->groups[o->n_groups - 1];
                return add_value(r, o->obis, true, last, o->n_groups > 2 ? unit_group(o) : none, &when);
        }
        return false;
}

/* Bytes a group's text may hold: printable, not '(' or ')'. */
static const uint8_t in_group[256] = {
        0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, /* 0x00 */
        0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, /* 0x10 */
        1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 1, 1, 1, 1, 1, 1, /* 0x20 */
        1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, /* 0x30 */
        1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, /* 0x40 */
        1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, /* 0x50 */
        1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, /* 0x60 */
        1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, /* 0x70 */
        0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, /* 0x80 */
        0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, /* 0x90 */
        0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, /* 0xa0 */
        0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, /* 0xb0 */
        0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, /* 0xc0 */
        0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, /* 0xd0 */
        0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, /* 0xe0 */
        0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, /* 0xf0 */
};

/* Reads the groups of an object starting at p ('('); groups may be split
 * over lines. Returns the end, or NULL when they do not parse. */
static const char *read_groups(const char *p, const char *end, object *o)
{
        o->n_groups = 0;
        while (p < end && *p == '(') {
                const char *q = p + 1;
                while (q < end && in_group[(uint8_t)*q])
                        q++;
                if (q >= end || *q != ')' || o->n_groups == MAX_GROUPS)
                        return NULL; /* also a line end or a byte that is no text */
                o->groups[o->n_groups++] = (span){p + 1, (size_t)(q - p - 1)};
                p = q + 1;
                const char *next = p;
                while (next < end && is_line_end(*next))
                        next++;
                if (next < end && *next == '(')
                        p = next; /* the groups go on on the next line */
        }
        return o->n_groups ? p : NULL;
}

static const char *line_end(const char *p, const char *end)
{
        while (p < end && !is_line_end(*p))
                p++;
        return p;
}

/* The identification line: '/', three-letter maker flag, baud rate
 * character, then the meter's own text (kept as meter_type 0-0:96.1.7, the
 * object DLMS lists use for the type). */
static void read_identification(const char *p, const char *end, km_reading *r)
{
        static const uint8_t meter_type[6] = {0, 0, 96, 1, 7, 255};
        size_t n = (size_t)(end - p);
        r->maker = n >= 4 ? km_p1_maker(p + 1) : NULL;
        for (size_t i = 0; i < n; i++)
                if (!is_printable(p[i]))
                        return; /* not text: no type to keep */
        if (n > 5) {
                km_value *v = new_value(r, meter_type, true);
                if (v)
                        fill_text(v, (span){p + 5, n - 5});
        }
}

/* list_name from the DSMR version object 1-3:0.2.8 when sent. */
static const char *list_name_of(const km_reading *r)
{
        for (size_t i = 0; i < r->n_values; i++) {
                const km_value *v = &r->values[i];
                if (v->obis[2] == 0 && v->obis[3] == 2 && v->obis[4] == 8 && v->kind == KM_VALUE_TEXT) {
                        if (strcmp(v->text, "40") == 0)
                                return "DSMR 4.0 P1";
                        if (strcmp(v->text, "42") == 0)
                                return "DSMR 4.2 P1";
                        if (strcmp(v->text, "50") == 0)
                                return "DSMR 5.0 P1";
                }
        }
        return "DSMR P1";
}

static void reading_reset(km_reading *r)
{
        r->list_name = "DSMR P1";
        r->maker = NULL;
        r->invoke_id = 0;
        r->has_clock = false;
        r->n_values = 0;
        r->n_dropped = 0;
        r->n_unparsed = 0;
}

/* km_p1_parse() into a reading whose slots below n_known hold their codes'
 * table entries (see set_code()). */
static km_status parse_again(const char *telegram, size_t n, km_reading *ret)
{
        object o;
        reading_reset(ret);
        if (n == 0 || telegram[0] != '/')
                return KM_ERR_MALFORMED;
        const char *end = telegram + n;
        const char *p = line_end(telegram, end);
        read_identification(telegram, p, ret);
        size_t parsed = 0;
        while (p < end) {
                if (is_line_end(*p)) {
                        p++;
                        continue;
                }
                if (*p == '!')
                        break;
                const char *q = p;
                const char *after = NULL;
                size_t slot = ret->n_values;
                if (parse_obis(&q, end, o.obis) && (after = read_groups(q, end, &o)) != NULL &&
                    (after == end || is_line_end(*after))) {
                        if (add_object(ret, &o)) {
                                parsed++;
                                p = after;
                                continue;
                        }
                        ret->n_values = slot; /* no half objects */
                }
                ret->n_unparsed++;
                p = line_end(after ? after : p, end);
        }
        ret->list_name = list_name_of(ret);
        return parsed || ret->n_unparsed == 0 ? KM_OK : KM_ERR_MALFORMED;
}

km_status km_p1_parse(const char *telegram, size_t n, km_reading *ret)
{
        ret->n_known = 0; /* ret may be new: nothing in it can be trusted */
        return parse_again(telegram, n, ret);
}

/* ---- the pipeline's view ------------------------------------------------- */

static void framer_init(void *state, bool ignore_checksum)
{
        km_p1 *p = state;
        km_p1_init(p);
        p->ignore_crc = ignore_checksum;
}

static size_t framer_push(void *state, const uint8_t *data, size_t n)
{
        return km_p1_push(state, data, n);
}

static void framer_finish(void *state)
{
        km_p1_finish(state);
}

static km_frame_result framer_next(void *state, km_frame *f)
{
        km_p1_out out;
        km_p1_result r = km_p1_next(state, &out);
        f->skipped = out.skipped;
        if (r == KM_P1_NEED_MORE)
                return KM_FRAME_NEED_MORE;
        f->transport = KM_TRANSPORT_P1;
        f->payload_kind = KM_PAYLOAD_TEXT;
        f->status = out.status;
        f->bytes = (const uint8_t *)out.text;
        f->len = out.len;
        f->payload = r == KM_P1_TELEGRAM ? f->bytes : NULL;
        f->payload_len = r == KM_P1_TELEGRAM ? out.len : 0;
        /* a telegram whose CRC fails, or that the end of input cut, still
         * shows the transport (detection locks on it; no value comes from it) */
        f->header_valid = r == KM_P1_TELEGRAM || out.status == KM_ERR_CHECKSUM || out.status == KM_ERR_TRUNCATED;
        f->more = false;
        f->opens = true;
        f->has_sequence = false;
        f->sequence = 0;
        return r == KM_P1_TELEGRAM ? KM_FRAME_GOOD : KM_FRAME_REJECT;
}

/* Registered in the framer table (transports.c) and tried by detection. */
const km_framer_ops km_p1_framer_ops = {
        .transport = KM_TRANSPORT_P1,
        .name = "p1",
        .init = framer_init,
        .push = framer_push,
        .next = framer_next,
        .finish = framer_finish,
        .boundary = NULL,
};

/* The decoder's entry for text telegrams: from the P1 framer, and from
 * decrypted GCM content that starts with '/'. */
km_status km_p1_decode_text(const uint8_t *text, size_t n, km_reading *ret_reading)
{
        return parse_again((const char *)text, n, ret_reading);
}
