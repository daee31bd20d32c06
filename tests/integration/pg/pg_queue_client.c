/*
 * Drives the PostgreSQL sink directly for test_pg.py's "queue" test: shows
 * that a hung server never blocks the caller and that the queue is bounded.
 *
 * Usage: pg_queue_client SOCKET_DIR DBNAME USER TABLE
 * Talks with the harness line by line on stdin/stdout:
 *   1. sends one reading (P = 1000 W) and drains it: prints "drained 1".
 *   2. waits for "go" (the harness has frozen the server with SIGSTOP),
 *      sends 12 readings (P = 1001..1012 W) with a queue of 5, timing each
 *      reading() and process() call: prints "slowest_ms N" and the counters.
 *   3. waits for "go" (server thawed), drains: prints the counters again.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "kaifa/decoder.h"
#include "sim/kfm_encode.h"
#include "sinks/postgresql.h"

static km_decoder dec;

static double now_ms(void)
{
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

/* Encodes a list 1 frame with this power, decodes it, hands it to the sink.
 * Returns how long reading() took, in ms. */
static double send_reading(km_sink *sink, uint32_t watts)
{
        km_kfm_values v = {.list = 1, .phases = 3, .p_import = watts};
        km_kfm_datetime(2026, 1, 1, 0, 0, (int)(watts % 60), &v.clock);
        uint8_t frame[KM_KFM_FRAME_MAX];
        int n = km_kfm_encode(&v, frame, sizeof frame);
        double worst = 0;
        size_t off = 0;
        km_event ev;
        while (off < (size_t)n) {
                off += km_decoder_push(&dec, frame + off, (size_t)n - off);
                while (km_decoder_next(&dec, &ev)) {
                        if (ev.kind != KM_EVENT_READING)
                                continue;
                        double t0 = now_ms();
                        sink->reading(sink, &ev);
                        double dt = now_ms() - t0;
                        worst = dt > worst ? dt : worst;
                }
        }
        return worst;
}

static void print_stats(km_sink *sink)
{
        km_pg_stats st;
        km_sink_postgresql_stats(sink, &st);
        printf("queued %llu inserted %llu dropped %llu failed %llu pending %zu\n",
               (unsigned long long)st.queued, (unsigned long long)st.inserted,
               (unsigned long long)st.dropped, (unsigned long long)st.failed, st.pending);
        fflush(stdout);
}

static void wait_go(void)
{
        char line[64];
        if (!fgets(line, sizeof line, stdin) || strncmp(line, "go", 2) != 0)
                exit(2);
}

int main(int argc, char **argv)
{
        if (argc != 5) {
                fprintf(stderr, "usage: %s SOCKET_DIR DBNAME USER TABLE\n", argv[0]);
                return 64;
        }
        km_pg_options opt = {.host = argv[1], .dbname = argv[2], .user = argv[3], .table = argv[4],
                             .queue_max = 5};
        km_sink *sink;
        if (km_sink_postgresql_open(&opt, &sink) < 0)
                return 1;
        km_decoder_init(&dec, NULL);

        send_reading(sink, 1000);
        printf("drained %d\n", km_sink_postgresql_drain(sink, 10000) == 0 ? 1 : 0);
        fflush(stdout);

        wait_go();
        double slowest = 0;
        for (uint32_t w = 1001; w <= 1012; w++) {
                double dt = send_reading(sink, w);
                double t0 = now_ms();
                km_sink_postgresql_process(sink);
                double dp = now_ms() - t0;
                dt = dp > dt ? dp : dt;
                slowest = dt > slowest ? dt : slowest;
                struct timespec pause = {0, 100 * 1000000L};
                nanosleep(&pause, NULL);
        }
        printf("slowest_ms %.1f\n", slowest);
        print_stats(sink);

        wait_go();
        int r = km_sink_postgresql_drain(sink, 20000);
        printf("drain %d\n", r);
        print_stats(sink);
        km_sink_close(sink);
        return 0;
}
