/*
 * The streaming JSON writer (see json_writer.h): json-c's layout without
 * json-c's objects.
 */
#include "sinks/json_writer.h"

void km_jw_init(km_jw *w, km_textbuf *out, bool pretty)
{
        w->out = out;
        w->pretty = pretty;
        w->depth = 0;
        w->has_members[0] = false;
        w->in_array[0] = false;
}

static void indent(km_jw *w, int level)
{
        static const char spaces[] = "                ";
        size_t n = 2 * (size_t)level;
        while (n > sizeof(spaces) - 1) {
                km_textbuf_put(w->out, spaces, sizeof(spaces) - 1);
                n -= sizeof(spaces) - 1;
        }
        km_textbuf_put(w->out, spaces, n);
}

/* Bytes json-c escapes: below 0x20, '"' and '\\'. */
#define T8 true, true, true, true, true, true, true, true
static const bool needs_escape[256] = {T8, T8, T8, T8, ['"'] = true, ['\\'] = true};
#undef T8

/* True when one of the 8 bytes in x is below 0x20, '"' or '\\': the "has
 * a byte less than" bit trick on x, and on x xor each of the two characters
 * (exact as a whole: a borrow only spreads above a byte that matched). */
static inline bool word_needs_escape(uint64_t x)
{
        const uint64_t ones = 0x0101010101010101ULL, highs = 0x8080808080808080ULL;
        uint64_t quote = x ^ (ones * '"'), backslash = x ^ (ones * '\\');
        uint64_t t = ((x - ones * 0x20) & ~x) | ((quote - ones) & ~quote) | ((backslash - ones) & ~backslash);
        return (t & highs) != 0;
}

/* How many bytes from the start of s surely need no escape. */
static inline size_t clean_prefix(const char *s, size_t n)
{
        size_t i = 0;
        for (; i + 8 <= n; i += 8) {
                uint64_t x;
                memcpy(&x, s + i, 8);
                if (word_needs_escape(x))
                        return i;
        }
        while (i < n && !needs_escape[(unsigned char)s[i]])
                i++;
        return i;
}

/* json-c's json_escape_str() with JSON_C_TO_STRING_NOSLASHESCAPE. */
static void escaped(km_textbuf *b, const char *s, size_t n)
{
        static const char hex[] = "0123456789abcdef";
        size_t start = 0, i = clean_prefix(s, n);
        if (i == n) {
                km_textbuf_put(b, s, n);
                return;
        }
        for (; i < n; i++) {
                unsigned char c = (unsigned char)s[i];
                if (!needs_escape[c])
                        continue;
                km_textbuf_put(b, s + start, i - start);
                start = i + 1;
                char esc[6] = {'\\', 0};
                switch (c) {
                case '\b': esc[1] = 'b'; break;
                case '\n': esc[1] = 'n'; break;
                case '\r': esc[1] = 'r'; break;
                case '\t': esc[1] = 't'; break;
                case '\f': esc[1] = 'f'; break;
                case '"': esc[1] = '"'; break;
                case '\\': esc[1] = '\\'; break;
                default:
                        memcpy(esc + 1, "u00", 3);
                        esc[4] = hex[c >> 4];
                        esc[5] = hex[c & 15];
                        km_textbuf_put(b, esc, 6);
                        continue;
                }
                km_textbuf_put(b, esc, 2);
        }
        km_textbuf_put(b, s + start, n - start);
}

static void quoted(km_textbuf *b, const char *s, size_t n)
{
        if (!km_textbuf_reserve(b, n + 2))
                return;
        if (clean_prefix(s, n) == n) { /* nearly always */
                char *p = b->p + b->len;
                p[0] = '"';
                memcpy(p + 1, s, n);
                p[n + 1] = '"';
                b->len += n + 2;
                return;
        }
        km_textbuf_putc(b, '"');
        escaped(b, s, n);
        km_textbuf_putc(b, '"');
}

/* What comes before a member's value: separator, indent, key (none in an
 * array). Keys need no escape (see km_jw_begin()): they are copied. */
static void member(km_jw *w, const char *key)
{
        if (w->depth == 0)
                return; /* the top-level value */
        km_textbuf *b = w->out;
        size_t k = w->in_array[w->depth] ? 0 : strlen(key);
        if (!km_textbuf_reserve(b, 6 + 2 * (size_t)w->depth + k))
                return;
        char *p = b->p + b->len;
        if (w->has_members[w->depth])
                *p++ = ',';
        w->has_members[w->depth] = true;
        if (w->pretty) {
                *p++ = '\n';
                memset(p, ' ', 2 * (size_t)w->depth);
                p += 2 * (size_t)w->depth;
        }
        if (!w->in_array[w->depth]) {
                *p++ = '"';
                memcpy(p, key, k);
                p += k;
                *p++ = '"';
                *p++ = ':';
                if (w->pretty)
                        *p++ = ' ';
        }
        b->len = (size_t)(p - b->p);
}

static void open_level(km_jw *w, const char *key, char bracket, bool array)
{
        member(w, key);
        km_textbuf_putc(w->out, bracket);
        if (w->depth < KM_JW_MAX_DEPTH)
                w->depth++;
        w->has_members[w->depth] = false;
        w->in_array[w->depth] = array;
}

void km_jw_begin(km_jw *w, const char *key)
{
        open_level(w, key, '{', false);
}

void km_jw_begin_array(km_jw *w, const char *key)
{
        open_level(w, key, '[', true);
}

void km_jw_end(km_jw *w)
{
        char bracket = w->in_array[w->depth] ? ']' : '}';
        if (w->depth > 0)
                w->depth--;
        if (w->pretty) {
                km_textbuf_putc(w->out, '\n');
                indent(w, w->depth);
        }
        km_textbuf_putc(w->out, bracket);
}

void km_jw_string(km_jw *w, const char *key, const char *s, size_t n)
{
        member(w, key);
        quoted(w->out, s, n);
}

void km_jw_const(km_jw *w, const char *key, const char *s, size_t n)
{
        member(w, key);
        km_textbuf *b = w->out;
        if (!km_textbuf_reserve(b, n + 2))
                return;
        char *p = b->p + b->len;
        p[0] = '"';
        memcpy(p + 1, s, n);
        p[n + 1] = '"';
        b->len += n + 2;
}

void km_jw_int(km_jw *w, const char *key, int64_t v)
{
        char buf[KM_FMT_NUMBER_MAX];
        member(w, key);
        km_textbuf_put(w->out, buf, km_fmt_i64(buf, v));
}

void km_jw_raw(km_jw *w, const char *key, const char *text, size_t n)
{
        member(w, key);
        km_textbuf_put(w->out, text, n);
}

void km_jw_bool(km_jw *w, const char *key, bool v)
{
        member(w, key);
        if (v)
                km_textbuf_put(w->out, "true", 4);
        else
                km_textbuf_put(w->out, "false", 5);
}

void km_jw_null(km_jw *w, const char *key)
{
        member(w, key);
        km_textbuf_put(w->out, "null", 4);
}
