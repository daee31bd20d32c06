/*
 * Terminal sink: pretty-printed frames, values in display units. A frame's
 * text is built in a reused buffer without printf where that is exact, and
 * written to the FILE per frame (flushed) or, with opt.buffered, in large
 * pieces when the caller flushes.
 *
 *   2017-01-18 15:00:10  KFM_001 list 3 (3-phase)  Kaifa
 *     power_active_import            215 W          Active power import (Q1+Q4)
 */
#include "sinks/terminal.h"

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "sinks/textbuf.h"

#define FLUSH_AT (256 * 1024) /* buffered output goes out in pieces of about this size */

typedef struct terminal_sink {
        km_sink base;
        FILE *out;
        km_terminal_options opt;
        km_textbuf buf; /* text not yet handed to out */
} terminal_sink;

void km_value_display(const km_value *v, char *buf, size_t size)
{
        switch (v->kind) {
        case KM_VALUE_TEXT: {
                char shown[KM_TEXT_SHOW_MAX];
                snprintf(buf, size, "%s", km_value_text_show(v, shown, sizeof(shown)));
                return;
        }
        case KM_VALUE_DATETIME:
                km_datetime_iso8601(&v->datetime, buf, size);
                return;
        default: {
                int exp;
                km_unit u = km_unit_display(v->unit, &exp);
                double x = km_scale10(km_value_number(v), exp);
                const char *sym = km_unit_symbol(u);
                snprintf(buf, size, "%.15g%s%s", x, *sym ? " " : "", sym);
                return;
        }
        }
}

/* km_value_display() without printf where that is exact: the value in its
 * own unit (no display conversion) and dates. */
static void put_value(km_textbuf *b, const km_value *v, size_t width)
{
        char shown[KM_TEXT_SHOW_MAX + 8];
        int exp = 0;
        km_unit u = v->kind == KM_VALUE_NUMBER || v->kind == KM_VALUE_FLOAT ? km_unit_display(v->unit, &exp)
                                                                             : KM_UNIT_NONE;
        if (v->kind == KM_VALUE_TEXT && km_text_is_clean(v->text, v->text_len)) {
                km_textbuf_pad_n(b, v->text, v->text_len, width); /* clean text holds no NUL */
                return;
        } else if (v->kind == KM_VALUE_DATETIME) {
                km_fmt_iso8601(shown, &v->datetime);
        } else if (v->kind == KM_VALUE_TEXT || exp != 0) {
                km_value_display(v, shown, sizeof(shown));
        } else {
                size_t n = km_fmt_value_g15(shown, v);
                const char *sym = km_unit_symbol(u);
                size_t k = strlen(sym);
                if (k && n + 1 + k < sizeof(shown)) {
                        shown[n] = ' ';
                        memcpy(shown + n + 1, sym, k + 1);
                }
        }
        km_textbuf_pad(b, shown, width);
}

static void put_hex(km_textbuf *b, const km_event *ev)
{
        bool flags = ev->transport == KM_TRANSPORT_HDLC; /* the flags are not in the frame bytes */
        km_textbuf_puts(b, flags ? "  hex: 7e" : "  hex: ");
        if (km_textbuf_reserve(b, 2 * ev->len + 1))
                b->len += km_fmt_hex(b->p + b->len, ev->bytes, ev->len);
        km_textbuf_puts(b, flags ? "7e\n" : "\n");
}

/* Hands the text over to the FILE. */
static int hand_over(terminal_sink *ts)
{
        size_t n = ts->buf.len;
        ts->buf.len = 0;
        if (n && fwrite(ts->buf.p, 1, n, ts->out) != n)
                return errno ? -errno : -EIO;
        return 0;
}

static int terminal_flush(km_sink *s)
{
        terminal_sink *ts = (terminal_sink *)s;
        int r = hand_over(ts);
        if (fflush(ts->out) != 0 && r == 0)
                r = errno ? -errno : -EIO;
        return r;
}

/* After a frame's text: out of memory, flushed, or kept for later. */
static int frame_done(terminal_sink *ts, bool flush)
{
        if (ts->buf.failed) {
                ts->buf.failed = false;
                ts->buf.len = 0;
                return -ENOMEM;
        }
        if (ts->opt.buffered)
                return ts->buf.len >= FLUSH_AT ? hand_over(ts) : 0;
        return flush ? terminal_flush(&ts->base) : hand_over(ts);
}

static int terminal_reading(km_sink *s, const km_event *ev)
{
        terminal_sink *ts = (terminal_sink *)s;
        km_textbuf *b = &ts->buf;
        const km_reading *r = ev->reading;
        char when[KM_DATETIME_STR_MAX] = "-";
        if (r->has_clock)
                km_fmt_iso8601(when, &r->clock);
        km_textbuf_puts(b, when);
        km_textbuf_put(b, "  ", 2);
        km_textbuf_puts(b, r->list_name ? r->list_name : "list");
        km_textbuf_put(b, "  ", 2);
        km_textbuf_puts(b, r->maker ? r->maker : "");
        km_textbuf_putc(b, '\n');
        for (size_t i = 0; i < r->n_values; i++) {
                const km_value *v = &r->values[i];
                char code[KM_OBIS_STR_MAX];
                if (v->log_entry || !v->info) /* the code stands in for the name */
                        km_fmt_obis(code, v->obis);
                if (v->log_entry) { /* P1: one entry of the log printed just before */
                        km_textbuf_put(b, "    ", 4);
                        km_textbuf_pad(b, code, 26);
                } else {
                        km_textbuf_put(b, "  ", 2);
                        km_textbuf_pad(b, v->info ? v->info->name : code, 28);
                }
                km_textbuf_putc(b, ' ');
                put_value(b, v, 20);
                km_textbuf_putc(b, ' ');
                km_textbuf_puts(b, v->log_entry ? "entry" : v->info ? v->info->description : code);
                if (v->has_captured) { /* P1: an M-Bus device's or a log entry's own time */
                        char at[KM_DATETIME_STR_MAX];
                        km_fmt_iso8601(at, &v->captured);
                        km_textbuf_puts(b, " (at ");
                        km_textbuf_puts(b, at);
                        km_textbuf_putc(b, ')');
                }
                km_textbuf_putc(b, '\n');
        }
        if (ts->opt.hex)
                put_hex(b, ev);
        km_textbuf_putc(b, '\n');
        return frame_done(ts, true);
}

static int terminal_other(km_sink *s, const km_event *ev)
{
        terminal_sink *ts = (terminal_sink *)s;
        if (!ts->opt.rejects)
                return 0;
        km_textbuf *b = &ts->buf;
        char len[KM_FMT_NUMBER_MAX];
        km_fmt_i64(len, (int64_t)ev->len);
        km_textbuf_puts(b, "rejected: ");
        km_textbuf_puts(b, ev->kind == KM_EVENT_SEGMENT ? "segment (waiting for the rest)" : km_strerror(ev->reject));
        km_textbuf_puts(b, " (");
        km_textbuf_puts(b, len);
        km_textbuf_puts(b, " bytes)\n");
        if (ts->opt.hex)
                put_hex(b, ev);
        km_textbuf_putc(b, '\n');
        return frame_done(ts, false); /* as before: rejects were not flushed on their own */
}

static void terminal_close(km_sink *s)
{
        terminal_sink *ts = (terminal_sink *)s;
        if (ts->buf.len)
                terminal_flush(s);
        km_textbuf_free(&ts->buf);
        free(s);
}

int km_sink_terminal_open(FILE *out, const km_terminal_options *opt, km_sink **ret)
{
        terminal_sink *ts = calloc(1, sizeof(*ts));
        if (!ts)
                return -ENOMEM;
        ts->base.name = "terminal";
        ts->base.reading = terminal_reading;
        ts->base.other = terminal_other;
        ts->base.flush = terminal_flush;
        ts->base.close = terminal_close;
        ts->out = out;
        ts->opt = *opt;
        *ret = &ts->base;
        return 0;
}

void km_stats_print(FILE *out, const km_stats *st)
{
        uint64_t checksum = st->rejected[-KM_ERR_HCS] + st->rejected[-KM_ERR_FCS];
        fprintf(out, "bytes read: %" PRIu64 "\n", st->bytes_in);
        fprintf(out, "good frames: %" PRIu64 "\n", st->frames_good);
        fprintf(out, "decoded frames: %" PRIu64 "\n", st->readings);
        fprintf(out, "segments: %" PRIu64 "\n", st->segments);
        fprintf(out, "checksum failures: %" PRIu64 " (hcs %" PRIu64 ", fcs %" PRIu64 ")\n", checksum,
                st->rejected[-KM_ERR_HCS], st->rejected[-KM_ERR_FCS]);
        fprintf(out, "skipped bytes: %" PRIu64 "\n", st->bytes_skipped);
        for (int i = 1; i < KM_STATUS_COUNT_; i++)
                if (i != -KM_ERR_HCS && i != -KM_ERR_FCS && st->rejected[i])
                        fprintf(out, "rejected %s: %" PRIu64 "\n", km_status_name((km_status)-i), st->rejected[i]);
}
