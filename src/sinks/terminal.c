/*
 * Terminal sink: pretty-printed frames, values in display units.
 *
 *   2017-01-18 15:00:10  KFM_001 list 3 (3-phase)  Kaifa
 *     power_active_import            215 W          Active power import (Q1+Q4)
 */
#include "sinks/terminal.h"

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>


typedef struct terminal_sink {
        km_sink base;
        FILE *out;
        km_terminal_options opt;
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

static void print_hex(FILE *out, const km_event *ev)
{
        bool flags = ev->transport == KM_TRANSPORT_HDLC; /* the flags are not in the frame bytes */
        fputs(flags ? "  hex: 7e" : "  hex: ", out);
        for (size_t i = 0; i < ev->len; i++)
                fprintf(out, "%02x", ev->bytes[i]);
        fputs(flags ? "7e\n" : "\n", out);
}

static int terminal_reading(km_sink *s, const km_event *ev)
{
        terminal_sink *ts = (terminal_sink *)s;
        const km_reading *r = ev->reading;
        char when[KM_DATETIME_STR_MAX] = "-";
        if (r->has_clock)
                km_datetime_iso8601(&r->clock, when, sizeof(when));
        fprintf(ts->out, "%s  %s  %s\n", when, r->list_name ? r->list_name : "list", r->maker ? r->maker : "");
        for (size_t i = 0; i < r->n_values; i++) {
                const km_value *v = &r->values[i];
                char code[KM_OBIS_STR_MAX], shown[KM_TEXT_SHOW_MAX + 8];
                km_obis_format(v->obis, code, sizeof(code));
                km_value_display(v, shown, sizeof(shown));
                char at[KM_DATETIME_STR_MAX + 8] = "";
                if (v->has_captured) { /* P1: an M-Bus device's or a log entry's own time */
                        char when_v[KM_DATETIME_STR_MAX];
                        snprintf(at, sizeof(at), " (at %s)", km_datetime_iso8601(&v->captured, when_v, sizeof(when_v)));
                }
                if (v->log_entry) /* P1: one entry of the log printed just before */
                        fprintf(ts->out, "    %-26s %-20s %s%s\n", code, shown, "entry", at);
                else
                        fprintf(ts->out, "  %-28s %-20s %s%s\n", v->info ? v->info->name : code, shown,
                                v->info ? v->info->description : code, at);
        }
        if (ts->opt.hex)
                print_hex(ts->out, ev);
        fputc('\n', ts->out);
        return fflush(ts->out) == 0 ? 0 : -errno;
}

static int terminal_other(km_sink *s, const km_event *ev)
{
        terminal_sink *ts = (terminal_sink *)s;
        if (!ts->opt.rejects)
                return 0;
        fprintf(ts->out, "rejected: %s (%zu bytes)\n",
                ev->kind == KM_EVENT_SEGMENT ? "segment (waiting for the rest)" : km_strerror(ev->reject), ev->len);
        if (ts->opt.hex)
                print_hex(ts->out, ev);
        fputc('\n', ts->out);
        return 0;
}

static void terminal_close(km_sink *s)
{
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
