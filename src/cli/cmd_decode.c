/*
 * The decoding commands: `parse-file FILE|-` and `serial DEVICE`.
 *
 * Both read a byte source into the decoder and hand every event to the
 * chosen sinks: the terminal (default), JSON (--json, --compact), a file
 * (-o, appended) and, when built with libpq, PostgreSQL
 * (--dbname/--dbuser/--dbtable).
 *
 * Batch input (a regular file, or a pipe or file on stdin) is written in
 * large buffered writes, flushed whenever the input has nothing ready (so a
 * pipe that pauses still sees its frames at once) and at the end. Live input
 * (a serial port, tcp://, a FIFO or device named on the command line, a
 * terminal) is flushed frame by frame.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sysexits.h>
#include <time.h>

#include "cli/cli.h"
#include "cli/cli_security.h"
#include "cli/stop.h"
#include "sinks/json.h"
#include "sinks/terminal.h"
#include "sources/parity_auto.h"
#include "sources/source.h"
#include "util/log.h"
#ifdef KM_HAVE_PG
#include "sinks/postgresql.h"
#endif

#define MAX_SINKS 3
#define READ_CHUNK 65536
#define PG_STALL_MS 10000     /* at the end: give up when no row went out for this long */
#define PG_DRAIN_SLICE_MS 50  /* the stop flag is checked between slices */
#define PG_STOP_DRAIN_MS 50   /* after SIGINT/SIGTERM: a stop takes at most 100 ms */

typedef struct decode_opts {
        bool serial;
        const char *input;
        const char *output;
        bool json;
        bool compact;
        bool hex;
        bool stats;
        bool ignore_checksum;
        km_transport transport;
        bool hex_text;
        km_serial_params serial_params;
        bool serial_set; /* --baud or --parity given */
        bool parity_auto;    /* --parity auto: 8E1, then 8N1 (7E1) until a frame decodes */
        bool data_bits_set;  /* --data-bits given: auto keeps it */
        km_cli_security *security; /* keys: --key, --auth-key, --key-file */
#ifdef KM_HAVE_PG
        km_pg_options pg;
#endif
} decode_opts;

typedef struct decode_run {
        km_decoder decoder;
        km_sink *sinks[MAX_SINKS];
        size_t n_sinks;
        km_sink *pg; /* also in sinks[], for its event loop needs */
        FILE *out;
        bool batch; /* output is buffered, flushed before waiting for input */
        bool write_failed;
        km_cli_security security;
        /* a serial port: parity auto, and the hint when nothing decodes */
        const char *input;
        bool serial_port;
        km_serial_params params;
        km_parity_auto pa;
        bool parity_auto;
        bool hint_said;
        uint64_t hint_bytes0, hint_good0;
} decode_run;

enum {
        OPT_JSON = 1000,
        OPT_COMPACT,
        OPT_HEX,
        OPT_STATS,
        OPT_BAUD,
        OPT_PARITY,
        OPT_IGNORE_CHECKSUM,
        OPT_TRANSPORT,
        OPT_DBNAME,
        OPT_DBUSER,
        OPT_DBTABLE,
        OPT_HOST,
        OPT_PORT,
        OPT_CONNINFO,
        OPT_PASSWORD_FILE,
        OPT_DATA_BITS,
        OPT_KEY,
        OPT_AUTH_KEY,
        OPT_KEY_FILE,
};

static const struct option long_options[] = {
        {"help", no_argument, NULL, 'h'},
        {"output", required_argument, NULL, 'o'},
        {"json", no_argument, NULL, OPT_JSON},
        {"compact", no_argument, NULL, OPT_COMPACT},
        {"hex", no_argument, NULL, OPT_HEX},
        {"stats", no_argument, NULL, OPT_STATS},
        {"baud", required_argument, NULL, OPT_BAUD},
        {"parity", required_argument, NULL, OPT_PARITY},
        {"data-bits", required_argument, NULL, OPT_DATA_BITS},
        {"ignore-checksum", no_argument, NULL, OPT_IGNORE_CHECKSUM},
        {"key", required_argument, NULL, OPT_KEY},
        {"auth-key", required_argument, NULL, OPT_AUTH_KEY},
        {"key-file", required_argument, NULL, OPT_KEY_FILE},
        {"transport", required_argument, NULL, OPT_TRANSPORT},
#ifdef KM_HAVE_PG
        {"dbname", required_argument, NULL, OPT_DBNAME},
        {"dbuser", required_argument, NULL, OPT_DBUSER},
        {"dbtable", required_argument, NULL, OPT_DBTABLE},
        {"host", required_argument, NULL, OPT_HOST},
        {"port", required_argument, NULL, OPT_PORT},
        {"conninfo", required_argument, NULL, OPT_CONNINFO},
        {"password-file", required_argument, NULL, OPT_PASSWORD_FILE},
#endif
        {NULL, 0, NULL, 0},
};

static void usage(FILE *out, bool serial)
{
        if (serial)
                fprintf(out, "Usage: kaifa-meter serial DEVICE [OPTIONS]\n"
                             "Decode what the meter sends to a serial port (or tcp://host:port).\n\n"
                             "  --baud N            bit rate (default 2400)\n"
                             "  --parity P          even, none, odd, or auto: 8E1, then 8N1 (and 7E1\n"
                             "                      unless --data-bits is given) until a frame decodes\n"
                             "                      (default even: 8E1; Kamstrup sends 8N1)\n"
                             "  --data-bits 7|8     character size (default 8; DSMR 2.2/3 P1 is 9600 7E1)\n");
        else
                fprintf(out, "Usage: kaifa-meter parse-file FILE|- [OPTIONS]\n"
                             "Decode a capture of what a meter sent (raw bytes as read from the port).\n\n");
        fprintf(out, "  -o, --output FILE   append the output to FILE instead of standard output\n"
                     "  --json              one JSON object per frame (pretty-printed)\n"
                     "  --compact           one JSON object per line (implies --json)\n"
                     "  --hex               also print each frame's bytes in hex\n"
                     "                      (with --stats, the rejected frames too)\n"
                     "  --stats             print frame and error counters at the end (stderr)\n"
                     "  --ignore-checksum   decode frames whose HCS/FCS fail (debugging only)\n"
                     "  --key HEX           encryption key of an encrypted meter (32 hex digits,\n"
                     "                      spaces allowed), from the grid company\n"
                     "  --auth-key HEX      its authentication key, if given: frames whose tag\n"
                     "                      does not verify are dropped\n"
                     "  --key-file FILE     the keys from a file of EK=<hex> and AK=<hex> lines\n"
                     "                      (keeps them out of the shell history)\n"
                     "  --transport T       auto (default), hdlc, mbus, raw (DLMS APDUs with no\n"
                     "                      framing), p1, or hex (a hex dump of any of these)\n"
#ifdef KM_HAVE_PG
                     "  --dbname NAME --dbuser USER --dbtable TABLE [--host H] [--port P]\n"
                     "  [--password-file FILE] [--conninfo STRING]\n"
                     "                      also insert one row per frame into PostgreSQL\n"
#endif
                     "  -h, --help          this text\n");
}

static int usage_error(const char *msg, const char *arg)
{
        fprintf(stderr, "kaifa-meter: %s%s%s (try --help)\n", msg, arg ? ": " : "", arg ? arg : "");
        return EX_USAGE;
}

static int parse_int(const char *s, int *ret)
{
        char *end;
        errno = 0;
        long v = strtol(s, &end, 10);
        if (errno || *end || end == s || v <= 0 || v > 4000000)
                return -EINVAL;
        *ret = (int)v;
        return 0;
}

static int parse_options(int argc, char **argv, bool serial, decode_opts *o)
{
        km_serial_params def = KM_SERIAL_PARAMS_DEFAULT;
        km_cli_security *security = o->security;
        memset(o, 0, sizeof(*o));
        o->security = security;
        o->serial = serial;
        o->serial_params = def;
        optind = 1;
        opterr = 0;
        int c;
        while ((c = getopt_long(argc, argv, ":ho:", long_options, NULL)) != -1) {
                switch (c) {
                case 'h':
                        usage(stdout, serial);
                        return -1;
                case 'o':
                        o->output = optarg;
                        break;
                case OPT_JSON:
                        o->json = true;
                        break;
                case OPT_COMPACT:
                        o->json = o->compact = true;
                        break;
                case OPT_HEX:
                        o->hex = true;
                        break;
                case OPT_STATS:
                        o->stats = true;
                        break;
                case OPT_IGNORE_CHECKSUM:
                        o->ignore_checksum = true;
                        break;
                case OPT_KEY:
                case OPT_AUTH_KEY: {
                        int r = km_cli_security_key_arg(o->security, optarg, c == OPT_AUTH_KEY);
                        if (r)
                                return r;
                        break;
                }
                case OPT_KEY_FILE:
                        o->security->key_file = optarg;
                        break;
                case OPT_TRANSPORT:
                        if (strcmp(optarg, "hex") == 0)
                                o->hex_text = true;
                        else if (!km_transport_from_name(optarg, &o->transport))
                                return usage_error("unknown --transport (auto, hdlc, mbus, raw, p1 or hex)", optarg);
                        break;
                case OPT_BAUD:
                        if (parse_int(optarg, &o->serial_params.baud) < 0)
                                return usage_error("bad --baud", optarg);
                        o->serial_set = true;
                        break;
                case OPT_PARITY:
                        o->parity_auto = strcmp(optarg, "auto") == 0;
                        if (o->parity_auto)
                                o->serial_params.parity = KM_PARITY_EVEN;
                        else if (km_parity_parse(optarg, &o->serial_params.parity) < 0)
                                return usage_error("bad --parity (even, none, odd or auto)", optarg);
                        o->serial_set = true;
                        break;
                case OPT_DATA_BITS:
                        if (strcmp(optarg, "7") != 0 && strcmp(optarg, "8") != 0)
                                return usage_error("bad --data-bits (7 or 8)", optarg);
                        o->serial_params.data_bits = optarg[0] - '0';
                        o->serial_set = o->data_bits_set = true;
                        break;
#ifdef KM_HAVE_PG
                case OPT_DBNAME:
                        o->pg.dbname = optarg;
                        break;
                case OPT_DBUSER:
                        o->pg.user = optarg;
                        break;
                case OPT_DBTABLE:
                        o->pg.table = optarg;
                        break;
                case OPT_HOST:
                        o->pg.host = optarg;
                        break;
                case OPT_PORT:
                        o->pg.port = optarg;
                        break;
                case OPT_CONNINFO:
                        o->pg.conninfo = optarg;
                        break;
                case OPT_PASSWORD_FILE:
                        o->pg.password_file = optarg;
                        break;
#endif
                case ':':
                        return usage_error("option needs a value", argv[optind - 1]);
                default:
                        return usage_error("unknown option", argv[optind - 1]);
                }
        }
        if (optind != argc - 1)
                return usage_error(optind >= argc ? (serial ? "missing DEVICE" : "missing FILE")
                                                  : "too many arguments",
                                   optind < argc - 1 ? argv[optind + 1] : NULL);
        o->input = argv[optind];
        if (!serial && o->serial_set)
                return usage_error("--baud, --parity and --data-bits apply to the serial command", NULL);
#ifdef KM_HAVE_PG
        if ((o->pg.dbname || o->pg.user || o->pg.host || o->pg.port || o->pg.conninfo || o->pg.password_file) &&
            !o->pg.table)
                return usage_error("--dbtable is needed with the database options", NULL);
        if (o->pg.table && !o->pg.dbname && !o->pg.conninfo)
                return usage_error("--dbname (or --conninfo) is needed with --dbtable", NULL);
#endif
        return 0;
}

static int add_sink(decode_run *run, km_sink *s)
{
        if (run->n_sinks >= MAX_SINKS) {
                km_sink_close(s);
                return -ENOSPC;
        }
        run->sinks[run->n_sinks++] = s;
        return 0;
}

/* Input that is all there (a file) or comes as fast as its writer can (a
 * pipe or file on stdin), as opposed to a meter's pace. */
static bool is_batch_input(const decode_opts *o, km_source *src)
{
        struct stat st;
        if (o->serial || km_source_get_kind(src) != KM_SOURCE_FILE || fstat(km_source_fd(src), &st) < 0)
                return false;
        return S_ISREG(st.st_mode) || (strcmp(o->input, "-") == 0 && S_ISFIFO(st.st_mode));
}

static int open_sinks(const decode_opts *o, decode_run *run)
{
        run->out = stdout;
        if (o->output) {
                run->out = fopen(o->output, "ae");
                if (!run->out) {
                        km_log_error("cannot open %s: %s", o->output, strerror(errno));
                        return EX_CANTCREAT;
                }
        }
        /* Batch input: the sinks gather their text in pieces of about 256
         * KiB themselves; stdio would only copy each piece once more. */
        if (run->batch)
                setvbuf(run->out, NULL, _IONBF, 0);
        km_sink *s = NULL;
        int r;
        if (o->json) {
                km_json_options jo = {.compact = o->compact, .hex = o->hex, .rejects = o->hex && o->stats,
                                      .buffered = run->batch};
                r = km_sink_json_open(run->out, &jo, &s);
        } else {
                km_terminal_options to = {.hex = o->hex, .rejects = o->hex && o->stats, .buffered = run->batch};
                r = km_sink_terminal_open(run->out, &to, &s);
        }
        if (r < 0 || add_sink(run, s) < 0)
                return EX_OSERR;
#ifdef KM_HAVE_PG
        if (o->pg.table) {
                r = km_sink_postgresql_open(&o->pg, &run->pg);
                if (r < 0) {
                        if (r != -ELIBACC) /* else the sink said what to install */
                                km_log_error("PostgreSQL: %s", strerror(-r));
                        return r == -EINVAL ? EX_USAGE : EX_UNAVAILABLE;
                }
                if (add_sink(run, run->pg) < 0)
                        return EX_OSERR;
        }
#endif
        return EX_OK;
}

/* A write that SIGINT/SIGTERM cut short: the end the user asked for, not an
 * output error. */
static bool cut_by_stop(int r)
{
        return r == -EINTR && km_stop_requested();
}

/* The first output error is logged (a stop cutting a write short is none). */
static void output_result(decode_run *run, int r)
{
        if (r < 0 && !run->write_failed && !cut_by_stop(r)) {
                km_log_error("write failed: %s", strerror(-r));
                run->write_failed = true;
        }
}

/* Writes out what the output sink holds back (batch input). */
static void flush_output(decode_run *run)
{
        if (run->batch && run->n_sinks)
                output_result(run, km_sink_flush(run->sinks[0]));
}

static void dispatch(decode_run *run, const km_event *event)
{
        km_event copy;
        const km_event *ev = km_cli_security_event(&run->security, event, &copy);
        /* Once stopping, the rest of the chunk is not written: each write
         * to a reader that does not read would wait for the stop ticker. */
        if (km_stop_requested())
                return;
        for (size_t i = 0; i < run->n_sinks; i++) {
                km_sink *s = run->sinks[i];
                int r = 0;
                if (ev->kind == KM_EVENT_READING)
                        r = s->reading(s, ev);
                else if (s->other)
                        r = s->other(s, ev);
                if (i == 0)
                        output_result(run, r);
        }
}

static void on_event(const km_event *ev, void *userdata)
{
        dispatch(userdata, ev);
}

static void feed(decode_run *run, const uint8_t *buf, size_t n)
{
        km_decoder_feed(&run->decoder, buf, n, on_event, run);
}

static void no_frame_hint(decode_run *run, km_source *src);

/* A serial port that gives no good frame: with --parity auto the next
 * setting is tried (and the one that works is named); with a fixed setting
 * one line says what to try, once (again after a good frame). */
static void watch_serial(decode_run *run, km_source *src)
{
        const km_stats *s = &run->decoder.stats;
        char was[4], now[4];
        if (!run->serial_port)
                return;
        if (run->parity_auto) {
                /* the first round of settings is told step by step, later
                 * rounds are not: a dead line must not flood the terminal */
                bool first_round = run->pa.switches < (run->pa.try_7e1 ? 3u : 2u);
                switch (km_parity_auto_check(&run->pa, s)) {
                case KM_PARITY_AUTO_WAIT:
                        return;
                case KM_PARITY_AUTO_LOCKED:
                        km_log_notice("%s: %d %s gives good frames; keeping it", run->input, run->pa.params.baud,
                                      km_serial_params_name(&run->pa.params, now));
                        return;
                case KM_PARITY_AUTO_CYCLE:
                        if (first_round)
                                km_log_warning("%s: no valid frame in %" PRIu64 " bytes at %d baud with any of %dE1, %dN1%s; "
                                       "check --baud (HAN ports send 2400, P1 115200) and the wiring; trying again",
                                       run->input, run->pa.cycle_bytes, run->pa.params.baud, run->pa.start_bits, run->pa.start_bits,
                                       run->pa.try_7e1 ? ", 7E1" : "");
                        /* fall through */
                case KM_PARITY_AUTO_NEXT:
                        if (first_round)
                                km_log_notice("%s: no valid frame in %" PRIu64 " bytes at %d %s; trying %s",
                                              run->input, run->pa.tried_bytes, run->pa.params.baud,
                                              km_serial_params_name(&run->pa.tried, was),
                                              km_serial_params_name(&run->pa.params, now));
                        int r = km_source_set_params(src, &run->pa.params);
                        if (r < 0)
                                km_log_warning("%s: cannot set %s: %s", run->input,
                                               km_serial_params_name(&run->pa.params, now), strerror(-r));
                        return;
                }
                return;
        }
        if (s->frames_good > run->hint_good0) {
                run->hint_good0 = s->frames_good;
                run->hint_bytes0 = s->bytes_in;
                run->hint_said = false;
                return;
        }
        if (!run->hint_said && s->bytes_in - run->hint_bytes0 >= KM_PARITY_AUTO_MAX_BYTES)
                no_frame_hint(run, src);
}

/* At the end: bytes came but not one frame decoded, and nothing said so. */
static void end_hint(decode_run *run, km_source *src)
{
        const km_stats *s = &run->decoder.stats;
        char now[4];
        if (!run->serial_port)
                return;
        if (run->parity_auto && !run->pa.locked && s->bytes_in > 0)
                km_log_warning("%s: no valid frame in %" PRIu64 " bytes with --parity auto (last tried %d %s); "
                               "check --baud (HAN ports send 2400, P1 115200) and the wiring",
                               run->input, s->bytes_in, run->pa.params.baud,
                               km_serial_params_name(&run->pa.params, now));
        else if (!run->parity_auto && !run->hint_said && s->frames_good == run->hint_good0 &&
                 s->bytes_in > run->hint_bytes0)
                no_frame_hint(run, src);
}

static void no_frame_hint(decode_run *run, km_source *src)
{
        const km_stats *s = &run->decoder.stats;
        char now[4];
        run->hint_said = true;
        uint64_t n = s->bytes_in - run->hint_bytes0;
        if (km_source_get_kind(src) != KM_SOURCE_SERIAL) {
                km_log_warning("%s: no valid frame in %" PRIu64 " bytes; is it a meter's HAN/P1 stream? "
                               "(--transport auto detects HDLC, M-Bus, raw APDUs and P1)",
                               run->input, n);
                return;
        }
        km_log_warning("%s: no valid frame in %" PRIu64 " bytes at %d %s: Kaifa and Aidon use 8E1, Kamstrup 8N1; "
                       "try --parity %s (or auto), and check --baud",
                       run->input, n, run->params.baud, km_serial_params_name(&run->params, now),
                       run->params.parity == KM_PARITY_NONE ? "even" : "none");
}

static void finish(decode_run *run)
{
        km_decoder_end(&run->decoder, on_event, run);
}

/* Waits until the source is readable, serving the PostgreSQL sink meanwhile.
 * SIGINT or SIGTERM ends the wait (EINTR), also one that came just before
 * it (see cli/stop.h). Buffered output is flushed before a wait that
 * would block. */
static bool wait_input(decode_run *run, km_source *src)
{
        struct pollfd fds[2] = {{.fd = km_source_fd(src), .events = POLLIN}};
        nfds_t n = 1;
        struct timespec ts, *timeout = NULL;
#ifdef KM_HAVE_PG
        if (run->pg) {
                fds[1].fd = km_sink_postgresql_fd(run->pg);
                fds[1].events = km_sink_postgresql_events(run->pg);
                n = fds[1].fd >= 0 ? 2 : 1;
                int ms = km_sink_postgresql_timeout_ms(run->pg);
                if (ms >= 0) {
                        ts.tv_sec = ms / 1000;
                        ts.tv_nsec = (long)(ms % 1000) * 1000000L;
                        timeout = &ts;
                }
        }
#else
        (void)run;
        (void)ts;
#endif
        static const struct timespec now = {0, 0};
        int r = run->batch ? ppoll(fds, n, &now, NULL) : 0;
        if (r == 0) {
                flush_output(run);
                r = ppoll(fds, n, timeout, NULL);
        }
#ifdef KM_HAVE_PG
        if (run->pg)
                km_sink_postgresql_process(run->pg);
#endif
        return r > 0 && fds[0].revents != 0;
}

/* Reads until the input ends or SIGINT/SIGTERM; the stop flag is checked
 * before every wait and every chunk, so input that is always ready
 * (/dev/zero, a huge file) cannot hold a stop off. */
static int read_loop(decode_run *run, km_source *src, const char *input)
{
        static uint8_t buf[READ_CHUNK];
        for (;;) {
                if (km_stop_requested())
                        return EX_OK;
                if (!wait_input(run, src))
                        continue;
                ssize_t n = km_source_read(src, buf, sizeof(buf));
                if (n > 0) {
                        feed(run, buf, (size_t)n);
                        watch_serial(run, src);
                } else if (n == 0) {
                        switch (km_source_get_kind(src)) {
                        case KM_SOURCE_SERIAL:
                                km_log_error("%s: the port went away (adapter unplugged?)", input);
                                return EX_IOERR;
                        case KM_SOURCE_TCP:
                                km_log_notice("%s: connection closed by the server", input);
                                return EX_OK;
                        default:
                                return EX_OK;
                        }
                } else if (n != -EAGAIN && n != -EINTR) {
                        km_log_error("%s: read failed: %s", input, strerror((int)-n));
                        return EX_IOERR;
                }
        }
}

/* sysexits.h code for a source that could not be opened. */
static int open_error_status(int err)
{
        switch (err) {
        case ENOENT:
                return EX_NOINPUT;
        case EACCES:
        case EPERM:
                return EX_NOPERM;
        case EINVAL:
        case ENOTTY:
                return EX_USAGE;
        case ECONNREFUSED:
        case EHOSTUNREACH:
        case ENETUNREACH:
        case ETIMEDOUT:
                return EX_UNAVAILABLE;
        default:
                return EX_IOERR;
        }
}

static const char *open_error_text(int err, bool serial)
{
        if (err == ENOTTY)
                return serial ? "not a serial port" : strerror(err);
        if (err == EINVAL)
                return serial ? "bad address or serial setting (tcp://HOST:PORT; --baud one of 1200..115200)"
                              : strerror(err);
        if (err == EHOSTUNREACH)
                return "host unknown or unreachable";
        return strerror(err);
}

#ifdef KM_HAVE_PG
static uint64_t pg_rows_done(km_sink *pg)
{
        km_pg_stats st;
        km_sink_postgresql_stats(pg, &st);
        return st.inserted + st.failed + st.dropped;
}

/* Waits for the queued rows to be written as long as the server keeps
 * taking them (a busy machine inserts slowly, and a fixed deadline lost
 * rows there); gives up after PG_STALL_MS without a row written (server
 * down or hung), or PG_STOP_DRAIN_MS after SIGINT/SIGTERM. Returns 0 or
 * -ETIMEDOUT. */
static int drain_pg(km_sink *pg)
{
        uint64_t done = pg_rows_done(pg);
        int stalled_ms = 0;
        while (!km_stop_requested()) {
                if (km_sink_postgresql_drain(pg, PG_DRAIN_SLICE_MS) == 0)
                        return 0;
                uint64_t now = pg_rows_done(pg);
                stalled_ms = now > done ? 0 : stalled_ms + PG_DRAIN_SLICE_MS;
                done = now;
                if (stalled_ms >= PG_STALL_MS)
                        return -ETIMEDOUT;
        }
        return km_sink_postgresql_drain(pg, PG_STOP_DRAIN_MS);
}
#endif

static int close_run(decode_run *run, int status)
{
#ifdef KM_HAVE_PG
        if (run->pg && drain_pg(run->pg) < 0) {
                /* the sink says how many rows are lost when it is closed */
                if (!km_stop_requested())
                        km_log_error("PostgreSQL: the server took no row for %d s", PG_STALL_MS / 1000);
                if (status == EX_OK)
                        status = EX_UNAVAILABLE;
        }
#endif
        for (size_t i = 0; i < run->n_sinks; i++)
                km_sink_close(run->sinks[i]);
        if (run->out && run->out != stdout && fclose(run->out) != 0 && status == EX_OK && !cut_by_stop(-errno))
                status = EX_IOERR;
        if (run->write_failed && status == EX_OK)
                status = EX_IOERR;
        return status;
}

static int run_decode(int argc, char **argv, bool serial)
{
        static decode_run run;
        memset(&run, 0, sizeof(run));
        km_cli_security_init(&run.security);
        decode_opts o = {.security = &run.security};
        int r = parse_options(argc, argv, serial, &o);
        if (r == 0) {
                km_decoder_options dopt = {
                        .ignore_checksum = o.ignore_checksum,
                        .transport = o.transport,
                        .hex = o.hex_text ? KM_HEX_YES : KM_HEX_AUTO,
                };
                r = km_cli_security_setup(&run.security, &dopt);
                if (r == EX_OK)
                        km_decoder_init(&run.decoder, &dopt);
        }
        if (r != 0) {
                km_cli_security_free(&run.security);
                return r < 0 ? EX_OK : r;
        }

        /* Sources are read blocking (after poll says they are ready), so
         * O_NONBLOCK is never left on a descriptor shared with the caller. */
        km_source *src = NULL;
        r = serial ? km_source_open_kind(o.input, strncmp(o.input, "tcp://", 6) == 0 ? KM_SOURCE_TCP : KM_SOURCE_SERIAL,
                                         &o.serial_params, false, &src)
                   : km_source_open_kind(o.input, KM_SOURCE_FILE, NULL, false, &src);
        if (r < 0) {
                km_log_error("cannot open %s: %s", o.input, open_error_text(-r, serial));
                km_cli_security_free(&run.security);
                return open_error_status(-r);
        }
        run.batch = is_batch_input(&o, src);
        run.input = o.input;
        run.serial_port = serial;
        run.params = o.serial_params;
        /* parity does not travel over TCP: auto applies to a serial port */
        run.parity_auto = o.parity_auto && km_source_get_kind(src) == KM_SOURCE_SERIAL;
        if (run.parity_auto)
                km_parity_auto_init(&run.pa, &o.serial_params, !o.data_bits_set, &run.decoder.stats);
        int status = open_sinks(&o, &run);
        if (status == EX_OK && (r = km_stop_install()) < 0) {
                km_log_error("cannot handle SIGINT and SIGTERM: %s", strerror(-r));
                status = EX_OSERR;
        }
        if (status == EX_OK) {
                status = read_loop(&run, src, o.input);
                finish(&run);
                flush_output(&run);
                end_hint(&run, src);
                if (o.stats) {
                        km_stats_print(stderr, &run.decoder.stats);
                        km_cli_security_stats(&run.security, stderr);
                }
        }
        km_source_close(src);
        km_cli_security_free(&run.security);
        return close_run(&run, status);
}

int km_cmd_parse_file(int argc, char **argv)
{
        return run_decode(argc, argv, false);
}

int km_cmd_serial(int argc, char **argv)
{
        return run_decode(argc, argv, true);
}
