/*
 * kaifa-bench: how fast the decoder core turns a meter's byte stream into
 * readings, and what it costs.
 *
 * The stream is the real captures (tests/data/captures/smidsrod and nordbo)
 * repeated in memory to 100 MiB. It is pushed into one km_decoder in 64 KiB
 * chunks and every reading is read through, best of N runs; a bare
 * CRC-16/X.25 pass over the same bytes gives the floor to compare with.
 * Allocations are counted around the decode loop only. Latency is sampled
 * over the first 16 MiB: every frame's bytes but the last are pushed, then
 * the clock runs from pushing that last byte alone until the reading event
 * is pulled (so each timed frame straddles two pushes, as on a serial line).
 * Peak RSS comes from getrusage().
 *
 * --smoke runs the same on 1 MiB and fails (exit 1) when the decode loop
 * allocates or decodes nothing; it never judges speed. Usage errors exit 64,
 * unreadable captures 66 (EX_NOINPUT).
 */
#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sysexits.h>
#include <time.h>

#include "kaifa/decoder.h"
#include "kaifa/hdlc.h"

#include "bench_alloc.h"
#include "bench_stream.h"

#ifndef KM_BENCH_CAPTURES
#define KM_BENCH_CAPTURES "tests/data/captures"
#endif

#define MIB (1024u * 1024u)
#define GOAL_MBPS 500.0
#define GOAL_CRC_RATIO 3.0
#define LATENCY_SPAN (16u * MIB) /* latency is sampled over the stream's start */

#define MAX_FILES 64

typedef struct options {
        const char *captures;
        char *files[MAX_FILES]; /* --file: these instead of the captures */
        size_t n_files;
        km_transport transport; /* --transport: AUTO detects (the default) */
        size_t size;
        size_t chunk;
        int runs;
        bool smoke;
        bool latency;
} options;

/* What one pass over the stream saw. */
typedef struct pass_result {
        double seconds;
        uint64_t frames_good;
        uint64_t readings;
        uint64_t rejected;
        uint64_t allocations;
        uint64_t touch; /* folded reading contents, so nothing is optimised away */
} pass_result;

static km_decoder decoder; /* ~20 KB: static, not on the stack */
static volatile uint64_t sink;

static double now(void)
{
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static uint64_t now_ns(void)
{
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* Reads every value of a reading, as a sink would. */
static uint64_t touch_reading(const km_reading *r)
{
        uint64_t h = r->n_values;
        for (size_t i = 0; i < r->n_values; i++) {
                const km_value *v = &r->values[i];
                h = h * 31 + (uint64_t)v->raw + (uint64_t)v->kind + (uint64_t)v->unit +
                    (uint64_t)v->scaler + (v->info != NULL) + v->text_len + v->obis[3];
        }
        return h;
}

/* Byte-exact timing needs the framer from the first byte on (detection
 * would hold the first frames back until it has seen enough bytes). */
static const km_decoder_options hdlc_only = {.transport = KM_TRANSPORT_HDLC};

static void on_bench_event(const km_event *ev, void *userdata)
{
        if (ev->kind == KM_EVENT_READING)
                *(uint64_t *)userdata += touch_reading(ev->reading);
}

/* One timed pass: the whole stream in chunk-sized pushes. */
static pass_result decode_pass(const bench_stream *s, size_t chunk, km_transport transport)
{
        pass_result res = {0};
        km_decoder_options opt = {.transport = transport};
        uint64_t a0 = bench_alloc_count();
        double t0 = now();
        km_decoder_init(&decoder, &opt);
        for (size_t off = 0; off < s->size; off += chunk) {
                size_t n = s->size - off < chunk ? s->size - off : chunk;
                km_decoder_feed(&decoder, s->bytes + off, n, on_bench_event, &res.touch);
        }
        km_decoder_end(&decoder, on_bench_event, &res.touch);
        res.seconds = now() - t0;
        res.allocations = bench_alloc_count() - a0;
        res.frames_good = decoder.stats.frames_good;
        res.readings = decoder.stats.readings;
        for (int i = 0; i < KM_STATUS_COUNT_; i++)
                res.rejected += decoder.stats.rejected[i];
        return res;
}

static double crc_pass(const bench_stream *s)
{
        double t0 = now();
        sink += km_crc16_x25(s->bytes, s->size);
        return now() - t0;
}

/* Stream offsets just past each frame that yields a reading: the first n
 * bytes of the stream pushed one byte at a time (untimed), so each reading
 * event names the byte that completed its frame. Uses only the public API. */
static size_t *reading_ends(const bench_stream *s, size_t n, size_t *ret_count)
{
        size_t cap = 1024, count = 0;
        size_t *ends = malloc(cap * sizeof(*ends));
        if (!ends)
                return NULL;
        km_decoder_init(&decoder, &hdlc_only);
        km_event ev;
        for (size_t i = 0; i < n; i++) {
                while (km_decoder_push(&decoder, s->bytes + i, 1) == 0)
                        while (km_decoder_next(&decoder, &ev))
                                ;
                while (km_decoder_next(&decoder, &ev)) {
                        /* a reading held back behind a longer candidate frame comes
                         * out on the same byte as the one before: time only the first */
                        if (ev.kind != KM_EVENT_READING || (count && ends[count - 1] == i + 1))
                                continue;
                        if (count == cap) {
                                size_t *more = realloc(ends, 2 * cap * sizeof(*ends));
                                if (!more) {
                                        free(ends);
                                        return NULL;
                                }
                                ends = more;
                                cap *= 2;
                        }
                        ends[count++] = i + 1;
                }
        }
        *ret_count = count;
        return ends;
}

static int cmp_u64(const void *a, const void *b)
{
        uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
        return x < y ? -1 : x > y;
}

/* Feeds the stream frame by frame: everything up to a reading frame's last
 * byte untimed, then the clock runs from pushing that byte until the
 * reading event is pulled. Returns the sorted latencies in ns. */
static uint64_t *measure_latency(const bench_stream *s, const size_t *ends, size_t n_ends,
                                 size_t *ret_n, size_t *ret_missed)
{
        uint64_t *lat = malloc((n_ends ? n_ends : 1) * sizeof(*lat));
        if (!lat)
                return NULL;
        uint64_t touch = 0;
        size_t n = 0, missed = 0, fed = 0;
        km_decoder_init(&decoder, &hdlc_only);
        for (size_t i = 0; i < n_ends; i++) {
                size_t last = ends[i] - 1;
                km_decoder_feed(&decoder, s->bytes + fed, last - fed, on_bench_event, &touch);
                uint64_t t0 = now_ns();
                size_t took = km_decoder_push(&decoder, s->bytes + last, 1);
                km_event ev;
                bool got = false;
                while (!got && km_decoder_next(&decoder, &ev))
                        got = ev.kind == KM_EVENT_READING;
                uint64_t t1 = now_ns();
                if (got) {
                        touch += touch_reading(ev.reading);
                        lat[n++] = t1 - t0;
                } else {
                        missed++;
                }
                while (km_decoder_next(&decoder, &ev))
                        on_bench_event(&ev, &touch);
                fed = last + took;
        }
        sink += touch;
        qsort(lat, n, sizeof(*lat), cmp_u64);
        *ret_n = n;
        *ret_missed = missed;
        return lat;
}

static uint64_t percentile(const uint64_t *sorted, size_t n, double p)
{
        if (n == 0)
                return 0;
        size_t i = (size_t)(p * (double)(n - 1) + 0.5);
        return sorted[i < n ? i : n - 1];
}

static void usage(FILE *f)
{
        fprintf(f,
                "usage: kaifa-bench [--smoke] [--size MIB] [--runs N] [--chunk BYTES] [--no-latency]\n"
                "                   [--transport auto|hdlc|mbus|raw|p1] [--file PATH]... [CAPTURES_DIR]\n"
                "Decodes the captures in CAPTURES_DIR (default %s), or the files\n"
                "given with --file, repeated to MIB MiB (default 100; --smoke: 1 and exit 1\n"
                "unless zero allocations per frame). Latency is measured on HDLC only.\n",
                KM_BENCH_CAPTURES);
}

static bool parse_size(const char *s, size_t min, size_t *ret)
{
        char *end;
        errno = 0;
        unsigned long long v = strtoull(s, &end, 10);
        if (errno || end == s || *end || v < min || v > SIZE_MAX / MIB)
                return false;
        *ret = (size_t)v;
        return true;
}

static int parse_options(int argc, char **argv, options *o)
{
        size_t mib = 0, runs = 0;
        o->captures = KM_BENCH_CAPTURES;
        o->chunk = 65536;
        o->n_files = 0;
        o->transport = KM_TRANSPORT_AUTO;
        o->runs = 0;
        o->smoke = false;
        o->latency = true;
        for (int i = 1; i < argc; i++) {
                const char *a = argv[i];
                bool has_arg = i + 1 < argc;
                if (!strcmp(a, "--smoke")) {
                        o->smoke = true;
                } else if (!strcmp(a, "--no-latency")) {
                        o->latency = false;
                } else if (!strcmp(a, "--size") && has_arg) {
                        if (!parse_size(argv[++i], 1, &mib))
                                return -1;
                } else if (!strcmp(a, "--runs") && has_arg) {
                        if (!parse_size(argv[++i], 1, &runs) || runs > 1000)
                                return -1;
                } else if (!strcmp(a, "--file") && has_arg) {
                        if (o->n_files == MAX_FILES)
                                return -1;
                        o->files[o->n_files++] = argv[++i];
                } else if (!strcmp(a, "--transport") && has_arg) {
                        if (!km_transport_from_name(argv[++i], &o->transport))
                                return -1;
                } else if (!strcmp(a, "--chunk") && has_arg) {
                        if (!parse_size(argv[++i], 1, &o->chunk))
                                return -1;
                } else if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
                        usage(stdout);
                        exit(0);
                } else if (a[0] != '-' && i == argc - 1) {
                        o->captures = a;
                } else {
                        return -1;
                }
        }
        o->size = (mib ? mib : o->smoke ? 1 : 100) * MIB;
        o->runs = runs ? (int)runs : o->smoke ? 2 : 5;
        return 0;
}

/* Best-of-N decode and CRC passes; allocations summed over all runs. */
static void run_throughput(const bench_stream *s, const options *o, pass_result *best,
                           uint64_t *allocs, uint64_t *frames_all, double *crc_best)
{
        *allocs = 0;
        *frames_all = 0;
        for (int r = 0; r < o->runs; r++) {
                pass_result p = decode_pass(s, o->chunk, o->transport);
                *allocs += p.allocations;
                *frames_all += p.frames_good;
                sink += p.touch;
                if (r == 0 || p.seconds < best->seconds)
                        *best = p;
        }
        for (int r = 0; r < o->runs; r++) {
                double t = crc_pass(s);
                if (r == 0 || t < *crc_best)
                        *crc_best = t;
        }
}

static void report_latency(const bench_stream *s)
{
        size_t n_ends = 0, n = 0, missed = 0;
        size_t span = s->size < LATENCY_SPAN ? s->size : LATENCY_SPAN;
        size_t *ends = reading_ends(s, span, &n_ends);
        uint64_t *lat = ends ? measure_latency(s, ends, n_ends, &n, &missed) : NULL;
        if (!lat) {
                printf("latency:     not measured (out of memory)\n");
        } else {
                printf("latency:     p50 %" PRIu64 " ns   p99 %" PRIu64 " ns   max %" PRIu64
                       " ns   (%zu readings in the first %.1f MiB fed frame by frame; last byte"
                       " pushed alone -> reading pulled",
                       percentile(lat, n, 0.50), percentile(lat, n, 0.99), n ? lat[n - 1] : 0, n,
                       (double)span / MIB);
                if (missed)
                        printf("; %zu frames gave no reading on their last byte", missed);
                printf(")\n");
        }
        free(lat);
        free(ends);
}

int main(int argc, char **argv)
{
        options o;
        if (parse_options(argc, argv, &o) < 0) {
                usage(stderr);
                return EX_USAGE;
        }
        bench_stream s;
        int r = o.n_files ? bench_stream_from_files(o.files, o.n_files, o.size, &s)
                          : bench_stream_build(o.captures, o.size, &s);
        if (r < 0) {
                fprintf(stderr, "kaifa-bench: cannot read %s: %s\n",
                        o.n_files ? "the --file inputs" : o.captures, strerror(-r));
                return EX_NOINPUT;
        }
        /* latency is timed on HDLC frame ends only */
        if (o.transport != KM_TRANSPORT_AUTO && o.transport != KM_TRANSPORT_HDLC)
                o.latency = false;
        bool counting = bench_alloc_start();

        pass_result best = {0};
        uint64_t allocs = 0, frames_all = 0;
        double crc_best = 0;
        run_throughput(&s, &o, &best, &allocs, &frames_all, &crc_best);

        double mb = (double)s.size / 1e6;
        double per_frame = frames_all ? (double)allocs / (double)frames_all : 0.0;
        double ratio = crc_best > 0 ? best.seconds / crc_best : 0.0;
        printf("stream:      %zu bytes (%.1f MiB) from %zu captures (%zu bytes, %.1f copies)\n", s.size,
               (double)s.size / MIB, s.n_files, s.base_size, (double)s.size / (double)s.base_size);
        printf("setup:       sizeof(km_decoder) %zu bytes, push chunk %zu bytes, best of %d runs, "
               "MB = 10^6 bytes, transport %s\n",
               sizeof(km_decoder), o.chunk, o.runs, km_transport_name(o.transport));
        printf("decode:      %.1f MB/s   %.0f frames/s   (%" PRIu64 " good frames, %" PRIu64
               " readings, %" PRIu64 " rejected per pass, %.3f s)\n",
               mb / best.seconds, (double)best.frames_good / best.seconds, best.frames_good,
               best.readings, best.rejected, best.seconds);
        printf("crc16-x25:   %.1f MB/s   (bare km_crc16_x25 over the same bytes, %.3f s)\n",
               mb / crc_best, crc_best);
        printf("ratio:       %.2fx   (decode time / CRC time)\n", ratio);
        if (counting)
                printf("allocations: %" PRIu64 " in %d decode loops = %.6f per frame   (%s)\n", allocs,
                       o.runs, per_frame, bench_alloc_method());
        else
                printf("allocations: not counted (%s)\n", bench_alloc_method());
        if (o.latency)
                report_latency(&s);
        struct rusage ru;
        getrusage(RUSAGE_SELF, &ru);
        printf("peak RSS:    %ld KiB   (of which the stream buffer %zu KiB)\n", ru.ru_maxrss,
               s.size / 1024);
        bool fast = mb / best.seconds >= GOAL_MBPS, near_crc = ratio <= GOAL_CRC_RATIO;
        bool no_alloc = counting && allocs == 0;
        printf("goals:       >= %.0f MB/s: %s   decode <= %.0fx CRC: %s   zero allocations per frame: %s\n",
               GOAL_MBPS, fast ? "met" : "MISSED", GOAL_CRC_RATIO, near_crc ? "met" : "MISSED",
               no_alloc ? "met" : "MISSED");
        bench_stream_free(&s);

        if (o.smoke && (!no_alloc || best.readings == 0)) {
                fprintf(stderr, "kaifa-bench: smoke failed: %s\n",
                        !counting       ? "allocations cannot be counted in this build"
                        : allocs != 0   ? "the decode loop allocated"
                                        : "no frame was decoded");
                return 1;
        }
        return 0;
}
