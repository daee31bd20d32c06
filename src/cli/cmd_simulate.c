/*
 * `kaifa-meter simulate`: a Kaifa KFM_001 meter on stdout, in a file or on a
 * new pseudo-terminal, in real time or faster; or the replay of a capture at
 * the pace its meter sent it.
 *
 * The frames come from src/sim (timetable, load model, encoder). Pacing uses
 * absolute CLOCK_MONOTONIC deadlines, so a slow reader never makes the
 * simulated clock drift. On a pty nobody may be reading: the master is
 * non-blocking and a frame that does not fit is dropped (and counted), as
 * the real meter's would be.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <math.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sysexits.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include "cli/cli.h"
#include "cli/stop.h"
#include "kaifa/decoder.h"
#include "sim/kfm_encode.h"
#include "sim/meter_sim.h"
#include "sim/p1_encode.h"
#include "util/log.h"

typedef struct sim_args {
        int phases;
        double speed;         /* 0: as fast as the output takes it */
        int64_t duration;     /* simulated seconds; -1: forever */
        const char *output;   /* NULL or "-": stdout */
        bool pty;
        const char *link;     /* symlink to the pty */
        const char *replay;
        int64_t start;
        bool have_start;
        uint64_t seed;
        const char *meter_id;
        const char *meter_type;
        bool stats;
        bool p1;              /* --protocol p1: DSMR 5 telegrams instead of HDLC frames */
        const char *timezone; /* --timezone: the clock in this zone's local time, DST included */
} sim_args;

typedef struct sim_out {
        int fd;
        int pty_slave;        /* kept open so the line stays raw and never hangs up */
        bool pty;
        struct timespec t0;   /* monotonic time of simulated second 0 */
        int64_t origin;       /* simulated time at t0 */
        uint64_t written;
        uint64_t dropped;
        uint64_t per_list[4]; /* frames written of list 1, 2, 3 (0: segments) */
} sim_out;

static void usage(FILE *f)
{
        fputs("Usage: kaifa-meter simulate [OPTIONS]\n"
              "Writes the frames of a simulated Kaifa KFM_001 meter (list 1 every 2 s, list 2\n"
              "every 10 s, list 3 at xx:00:10), or replays a capture at its meter's pace.\n"
              "\n"
              "  --phases 1|3        one-phase (MA105H2E) or three-phase meter (default 3)\n"
              "  --speed N           N times faster than real time; 0 = no waiting (default 1)\n"
              "  --duration D        simulated time to run: 3600, 3600s, 90m, 1h, 2d (default: forever)\n"
              "  --start TIME        meter clock of the first frame, 2026-01-01T00:00:00\n"
              "                      (default: the local time now)\n"
              "  --seed N            seed of the load model (default 1): the same seed and start\n"
              "                      give the same frames\n"
              "  --timezone ZONE     the meter's clock shows local time in ZONE (tzdata, e.g.\n"
              "                      Europe/Oslo) with its DST changes; --start is then local\n"
              "                      time there (default: a plain clock without DST)\n"
              "  --meter-id ID       16-digit meter id (default 7359992890941742)\n"
              "  --meter-type TYPE   meter type (default MA304H3E, or MA105H2E for 1 phase)\n"
              "  -o, --output FILE   write to FILE (truncated; a FIFO works) or - for stdout\n"
              "  --pty               create a pseudo-terminal, print its name, write there\n"
              "  --link PATH         with --pty: also make PATH a symlink to it\n"
              "  --replay CAPTURE    replay the good frames of a capture instead of simulating\n"
              "  --protocol kfm|p1   kfm: Kaifa HDLC frames (default); p1: a DSMR 5 P1 telegram\n"
              "                      every 10 s from the same meter (tariffs, gas on channel 1)\n"
              "  --stats             print the number of frames written to stderr at the end\n"
              "  -h, --help          show this help\n",
              f);
}

enum { OPT_PHASES = 256, OPT_SPEED, OPT_DURATION, OPT_START, OPT_SEED, OPT_METER_ID,
       OPT_METER_TYPE, OPT_PTY, OPT_LINK, OPT_REPLAY, OPT_STATS, OPT_PROTOCOL, OPT_TIMEZONE };

static int usage_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static int usage_error(const char *fmt, ...)
{
        char msg[256];
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(msg, sizeof msg, fmt, ap);
        va_end(ap);
        km_log_error("simulate: %s (see kaifa-meter simulate --help)", msg);
        return EX_USAGE;
}

/* A tzdata zone name: relative, no "..", a file under the zone directory. */
static bool zone_exists(const char *name)
{
        if (!*name || name[0] == '/' || strstr(name, ".."))
                return false;
        const char *dir = getenv("TZDIR");
        char path[512];
        snprintf(path, sizeof path, "%s/%s", dir && *dir ? dir : "/usr/share/zoneinfo", name);
        struct stat st;
        return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

/* Returns -1 to go on, or an exit code (0 after --help). */
static int parse_args(int argc, char **argv, sim_args *a)
{
        static const struct option longopts[] = {
                {"phases", required_argument, NULL, OPT_PHASES},
                {"speed", required_argument, NULL, OPT_SPEED},
                {"duration", required_argument, NULL, OPT_DURATION},
                {"start", required_argument, NULL, OPT_START},
                {"seed", required_argument, NULL, OPT_SEED},
                {"meter-id", required_argument, NULL, OPT_METER_ID},
                {"meter-type", required_argument, NULL, OPT_METER_TYPE},
                {"output", required_argument, NULL, 'o'},
                {"pty", no_argument, NULL, OPT_PTY},
                {"link", required_argument, NULL, OPT_LINK},
                {"replay", required_argument, NULL, OPT_REPLAY},
                {"stats", no_argument, NULL, OPT_STATS},
                {"protocol", required_argument, NULL, OPT_PROTOCOL},
                {"timezone", required_argument, NULL, OPT_TIMEZONE},
                {"help", no_argument, NULL, 'h'},
                {NULL, 0, NULL, 0},
        };
        *a = (sim_args){.phases = 3, .speed = 1.0, .duration = -1, .seed = 1};
        optind = 0;
        opterr = 0;
        int c;
        char *end;
        while ((c = getopt_long(argc, argv, ":o:h", longopts, NULL)) != -1) {
                switch (c) {
                case OPT_PHASES:
                        if (strcmp(optarg, "1") != 0 && strcmp(optarg, "3") != 0)
                                return usage_error("--phases must be 1 or 3, not '%s'", optarg);
                        a->phases = atoi(optarg);
                        break;
                case OPT_SPEED:
                        errno = 0;
                        a->speed = strtod(optarg, &end);
                        if (end == optarg || *end || errno || !(a->speed >= 0) || isinf(a->speed))
                                return usage_error("--speed needs a number >= 0, not '%s'", optarg);
                        break;
                case OPT_DURATION:
                        if (km_sim_parse_duration(optarg, &a->duration) < 0)
                                return usage_error("bad --duration '%s' (try 3600s, 90m, 1h)", optarg);
                        break;
                case OPT_START:
                        if (km_sim_parse_time(optarg, &a->start) < 0)
                                return usage_error("bad --start '%s' (try 2026-01-01T00:00:00)", optarg);
                        a->have_start = true;
                        break;
                case OPT_SEED:
                        errno = 0;
                        a->seed = strtoull(optarg, &end, 0);
                        if (end == optarg || *end || errno)
                                return usage_error("bad --seed '%s'", optarg);
                        break;
                case OPT_METER_ID:
                        if (strlen(optarg) == 0 || strlen(optarg) > 32)
                                return usage_error("--meter-id needs 1 to 32 characters");
                        a->meter_id = optarg;
                        break;
                case OPT_METER_TYPE:
                        if (strlen(optarg) == 0 || strlen(optarg) > 32)
                                return usage_error("--meter-type needs 1 to 32 characters");
                        a->meter_type = optarg;
                        break;
                case 'o':
                        a->output = optarg;
                        break;
                case OPT_PTY:
                        a->pty = true;
                        break;
                case OPT_LINK:
                        a->link = optarg;
                        break;
                case OPT_REPLAY:
                        a->replay = optarg;
                        break;
                case OPT_STATS:
                        a->stats = true;
                        break;
                case OPT_PROTOCOL:
                        if (strcmp(optarg, "kfm") != 0 && strcmp(optarg, "p1") != 0)
                                return usage_error("--protocol must be kfm or p1, not '%s'", optarg);
                        a->p1 = strcmp(optarg, "p1") == 0;
                        break;
                case OPT_TIMEZONE:
                        if (!zone_exists(optarg))
                                return usage_error("--timezone: no zone '%s' in /usr/share/zoneinfo (try Europe/Oslo)",
                                                   optarg);
                        a->timezone = optarg;
                        break;
                case 'h':
                        usage(stdout);
                        return 0;
                case ':':
                        return usage_error("option %s needs a value", argv[optind - 1]);
                default:
                        return usage_error("unknown option '%s'", argv[optind - 1]);
                }
        }
        if (optind < argc)
                return usage_error("unexpected argument '%s'", argv[optind]);
        if (a->pty && a->output)
                return usage_error("--pty and --output exclude each other");
        if (a->link && !a->pty)
                return usage_error("--link needs --pty");
        if (a->p1 && a->replay)
                return usage_error("--protocol p1 simulates; --replay replays a capture as it is");
        if (a->timezone && a->replay)
                return usage_error("--timezone is for the simulated meter; --replay keeps the capture's clock");
        return -1;
}

/* Creates the pty, makes its line raw (no echo, no CR/LF mapping, no
 * XON/XOFF, no line editing: the frames are binary) and prints its name. */
static int open_pty(const sim_args *a, sim_out *o)
{
        int m = posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC);
        if (m < 0 || grantpt(m) < 0 || unlockpt(m) < 0) {
                km_log_error("simulate: cannot create a pty: %s", strerror(errno));
                if (m >= 0)
                        close(m);
                return -errno;
        }
        const char *name = ptsname(m);
        int s = name ? open(name, O_RDWR | O_NOCTTY | O_CLOEXEC) : -1;
        struct termios tio;
        if (s < 0 || tcgetattr(s, &tio) < 0) {
                km_log_error("simulate: cannot open the pty: %s", strerror(errno));
                close(m);
                if (s >= 0)
                        close(s);
                return -EIO;
        }
        cfmakeraw(&tio);
        cfsetispeed(&tio, B2400);
        cfsetospeed(&tio, B2400);
        tcsetattr(s, TCSANOW, &tio);
        fcntl(m, F_SETFL, fcntl(m, F_GETFL) | O_NONBLOCK);
        if (a->link) {
                unlink(a->link);
                if (symlink(name, a->link) < 0) {
                        km_log_error("simulate: cannot link %s: %s", a->link, strerror(errno));
                        close(m);
                        close(s);
                        return -EIO;
                }
        }
        printf("%s\n", name);
        fflush(stdout);
        o->fd = m;
        o->pty_slave = s;
        o->pty = true;
        return 0;
}

static int open_output(const sim_args *a, sim_out *o)
{
        *o = (sim_out){.fd = STDOUT_FILENO, .pty_slave = -1};
        if (a->pty)
                return open_pty(a, o);
        if (!a->output || strcmp(a->output, "-") == 0)
                return 0;
        int fd = open(a->output, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        if (fd < 0) {
                km_log_error("simulate: cannot open %s: %s", a->output, strerror(errno));
                return -errno;
        }
        o->fd = fd;
        return 0;
}

static void close_output(const sim_args *a, sim_out *o)
{
        if (o->fd != STDOUT_FILENO)
                close(o->fd);
        if (o->pty_slave >= 0)
                close(o->pty_slave);
        if (a->link)
                unlink(a->link);
}

/* Waits until simulated time t is due. Returns false when asked to stop. */
static bool pace(const sim_out *o, double speed, int64_t t)
{
        if (speed <= 0)
                return !km_stop_requested();
        double delay = (double)(t - o->origin) / speed;
        if (delay < 0)
                delay = 0;
        struct timespec due = o->t0;
        double whole = floor(delay);
        due.tv_sec += (time_t)whole;
        due.tv_nsec += (long)((delay - whole) * 1e9);
        if (due.tv_nsec >= 1000000000L) {
                due.tv_sec++;
                due.tv_nsec -= 1000000000L;
        }
        while (!km_stop_requested() && clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &due, NULL) == EINTR)
                ;
        return !km_stop_requested();
}

/* Writes one frame. Returns 0, or -EPIPE when the reader went away or -EINTR
 * on SIGINT/SIGTERM (the end), or another negative errno. A pty that cannot
 * take the frame drops it. A write blocked on a reader that does not read
 * ends with the stop (cli/stop.h), mid-frame if need be. */
static int emit(sim_out *o, const uint8_t *buf, size_t n)
{
        if (o->pty) {
                struct pollfd p = {.fd = o->fd, .events = POLLOUT};
                if (poll(&p, 1, 0) != 1 || !(p.revents & POLLOUT)) {
                        o->dropped++;
                        return 0;
                }
        }
        size_t off = 0;
        while (off < n) {
                ssize_t w = write(o->fd, buf + off, n - off);
                if (w > 0) {
                        off += (size_t)w;
                        continue;
                }
                if (km_stop_requested())
                        return -EINTR;
                if (w < 0 && errno == EINTR)
                        continue;
                if (w < 0 && errno == EAGAIN) {
                        struct pollfd p = {.fd = o->fd, .events = POLLOUT};
                        if (poll(&p, 1, 1000) == 1 || km_stop_requested())
                                continue;
                        o->dropped++; /* a reader stuck mid-frame: give up on it */
                        return 0;
                }
                return w < 0 ? -errno : -EIO;
        }
        o->written++;
        return 0;
}

/* emit(), counting the frame under its list (1-3, 0 for none) when it went out. */
static int emit_list(sim_out *o, const uint8_t *buf, size_t n, int list)
{
        uint64_t before = o->written;
        int r = emit(o, buf, n);
        if (o->written > before)
                o->per_list[list]++;
        return r;
}

static void start_clock(sim_out *o, int64_t origin)
{
        clock_gettime(CLOCK_MONOTONIC, &o->t0);
        o->origin = origin;
}

static int64_t local_now(void)
{
        time_t now = time(NULL);
        struct tm tm;
        localtime_r(&now, &tm);
        return (int64_t)timegm(&tm);
}

/* The P1 side of the simulated meter: the same load and registers, the
 * energy split into tariff 1 (23:00-07:00, low) and tariff 2, and a gas
 * meter on M-Bus channel 1 that reports every 5 minutes. */
typedef struct p1_state {
        uint64_t import_wh[2];
        uint64_t export_wh[2];
        double last_import;
        double last_export;
        int64_t start;
} p1_state;

static void p1_values(const km_sim *sim, const km_kfm_values *v, int64_t t, p1_state *ps,
                      km_p1_sim_values *ret)
{
        /* the slot's own time: a list 3 carries the freeze time instead */
        km_datetime now;
        km_sim_clock(sim, t, &now);
        int tariff = now.hour >= 23 || now.hour < 7 ? 1 : 2;
        ps->import_wh[tariff - 1] += (uint64_t)(sim->energy[0] - ps->last_import);
        ps->export_wh[tariff - 1] += (uint64_t)(sim->energy[1] - ps->last_export);
        ps->last_import = (double)(uint64_t)sim->energy[0];
        ps->last_export = (double)(uint64_t)sim->energy[1];
        *ret = (km_p1_sim_values){
                .clock = now,
                .summer = now.month >= 4 && now.month <= 10,
                .meter_id = v->meter_id,
                .tariff = tariff,
                .p_import = v->p_import,
                .p_export = v->p_export,
                .phases = v->phases,
                .gas_id = "G0039001936990619",
                /* 0.3 m3 an hour, as the gas meter counted it at its last report */
                .gas_litres = 1234567 + (uint64_t)(t - t % 300 > ps->start ? t - t % 300 - ps->start : 0) * 300 / 3600,
        };
        memcpy(ret->import_wh, ps->import_wh, sizeof(ps->import_wh));
        memcpy(ret->export_wh, ps->export_wh, sizeof(ps->export_wh));
        for (int i = 0; i < v->phases; i++) {
                ret->voltage[i] = v->voltage[i];
                ret->current[i] = v->current[i];
                ret->power_l[i] = (uint32_t)(v->p_import * (v->phases == 1 ? 1.0 : sim->share[i]));
        }
        ret->gas_time = now; /* the gas meter reports every 5 minutes */
        ret->gas_time.minute = (uint8_t)(now.minute - now.minute % 5);
        ret->gas_time.second = 0;
}

static int run_model_p1(const sim_args *a, sim_out *o, km_sim *sim, int64_t first)
{
        p1_state ps = {.import_wh = {(uint64_t)sim->energy[0] / 2, (uint64_t)sim->energy[0] / 2},
                       .export_wh = {(uint64_t)sim->energy[1] / 2, (uint64_t)sim->energy[1] / 2},
                       .last_import = (double)(uint64_t)sim->energy[0],
                       .last_export = (double)(uint64_t)sim->energy[1],
                       .start = first};
        ps.import_wh[1] += (uint64_t)sim->energy[0] % 2;
        ps.export_wh[1] += (uint64_t)sim->energy[1] % 2;
        while (a->duration < 0 || sim->t < first + a->duration) {
                km_kfm_values v;
                int64_t t = km_sim_next(sim, &v);
                if (v.list == 1)
                        continue; /* a telegram every 10 s, in the list 2/3 slots */
                km_p1_sim_values pv;
                p1_values(sim, &v, t, &ps, &pv);
                char telegram[KM_P1_SIM_MAX];
                int n = km_p1_sim_encode(&pv, telegram, sizeof telegram);
                if (n < 0)
                        return n;
                if (!pace(o, a->speed, t))
                        break;
                int r = emit(o, (const uint8_t *)telegram, (size_t)n);
                if (r < 0)
                        return r;
                o->per_list[0]++;
        }
        return 0;
}

/* --timezone: TZ for the clock; --start (read as a plain wall clock) is
 * local time there. The first of a time the autumn change shows twice;
 * a time the spring change skips moves on by the hour mktime adds. */
static int64_t zone_start(const sim_args *a)
{
        char tz[300];
        snprintf(tz, sizeof tz, ":%s", a->timezone);
        setenv("TZ", tz, 1);
        tzset();
        if (!a->have_start)
                return (int64_t)time(NULL);
        time_t wall = (time_t)a->start;
        struct tm tm;
        gmtime_r(&wall, &tm);
        tm.tm_isdst = 1; /* summer time first: the earlier of a repeated hour */
        struct tm want = tm;
        time_t t = mktime(&tm);
        if (tm.tm_hour != want.tm_hour || tm.tm_mday != want.tm_mday) {
                tm = want;
                tm.tm_isdst = 0;
                t = mktime(&tm);
        }
        return (int64_t)t;
}

static int run_model(const sim_args *a, sim_out *o)
{
        km_sim_options opt = {
                .phases = a->phases,
                .start = a->timezone ? zone_start(a) : a->have_start ? a->start : local_now(),
                .local_time = a->timezone != NULL,
                .seed = a->seed,
                .meter_id = a->meter_id,
                .meter_type = a->meter_type,
        };
        km_sim sim;
        km_sim_init(&sim, &opt);
        start_clock(o, opt.start);
        int64_t first = sim.t;
        if (a->p1)
                return run_model_p1(a, o, &sim, first);
        while (a->duration < 0 || sim.t < first + a->duration) {
                km_kfm_values v;
                int64_t t = km_sim_next(&sim, &v);
                uint8_t frame[KM_KFM_FRAME_MAX];
                int n = km_kfm_encode(&v, frame, sizeof frame);
                if (n < 0)
                        return n;
                if (!pace(o, a->speed, t))
                        break;
                int r = emit_list(o, frame, (size_t)n, v.list);
                if (r < 0)
                        return r;
        }
        return 0;
}

static int64_t datetime_seconds(const km_datetime *dt)
{
        struct tm tm = {.tm_year = dt->year - 1900, .tm_mon = dt->month - 1, .tm_mday = dt->day,
                        .tm_hour = dt->hour, .tm_min = dt->minute, .tm_sec = dt->second};
        return (int64_t)timegm(&tm);
}

/* Simulated send time of a replayed frame: its clock when that moves
 * forward, otherwise the meter's 2 s after the previous frame (frames
 * without a clock, and the Kaifa list 3 whose clock is the freeze time). */
static int64_t replay_time(const km_event *ev, int64_t prev, bool first)
{
        const km_reading *r = ev->reading;
        bool clock_ok = r && r->has_clock && r->clock.year != 0xFFFF && r->clock.month <= 12 &&
                        r->clock.day <= 31 && r->clock.hour < 24 && r->clock.minute < 60 &&
                        r->clock.second < 60;
        int64_t t = clock_ok ? datetime_seconds(&r->clock) : 0;
        if (first)
                return clock_ok ? t : 0;
        if (ev->kind == KM_EVENT_SEGMENT)
                return prev;
        return clock_ok && t > prev && t - prev < 3600 ? t : prev + 2;
}

/* Which list a replayed reading is, in the Norwegian numbering the model
 * uses: 3 carries the energy registers (hourly), 1 the active power alone
 * (Kaifa every 2 s, Aidon every 2.5 s), 2 the instantaneous values. So a
 * Kamstrup's 10 s list counts as list 2 and its hourly one as list 3. */
static int list_of(const km_event *ev)
{
        if (ev->kind != KM_EVENT_READING || !ev->reading)
                return 0;
        if (km_reading_find(ev->reading, "energy_active_cum_import"))
                return 3;
        return ev->reading->n_values == 1 ? 1 : 2;
}

static int replay_event(const sim_args *a, sim_out *o, const km_event *ev, int64_t *t, bool *first)
{
        if (ev->kind != KM_EVENT_READING && ev->kind != KM_EVENT_SEGMENT)
                return 0;
        *t = replay_time(ev, *t, *first);
        if (*first) {
                start_clock(o, *t);
                *first = false;
        }
        if (a->duration >= 0 && *t >= o->origin + a->duration)
                return 1;
        if (!pace(o, a->speed, *t))
                return 1;
        if (ev->transport != KM_TRANSPORT_HDLC)
                return emit(o, ev->bytes, ev->len); /* M-Bus and raw frames carry their own delimiters */
        uint8_t buf[KM_HDLC_MAX_LEN + 2];
        if (ev->len > KM_HDLC_MAX_LEN)
                return 0;
        buf[0] = KM_HDLC_FLAG;
        memcpy(buf + 1, ev->bytes, ev->len);
        buf[ev->len + 1] = KM_HDLC_FLAG;
        return emit_list(o, buf, ev->len + 2, list_of(ev));
}

typedef struct replay_ctx {
        const sim_args *a;
        sim_out *o;
        int64_t t;
        bool first;
        int r; /* non-zero: stop (1 = done, < 0 = error) */
} replay_ctx;

static void on_replay_event(const km_event *ev, void *userdata)
{
        replay_ctx *c = userdata;
        if (c->r == 0)
                c->r = replay_event(c->a, c->o, ev, &c->t, &c->first);
}

static int run_replay(const sim_args *a, sim_out *o)
{
        FILE *f = fopen(a->replay, "rb");
        if (!f) {
                km_log_error("simulate: cannot open %s: %s", a->replay, strerror(errno));
                return -errno;
        }
        static km_decoder d; /* about 20 KB: keep it off the stack */
        km_decoder_init(&d, NULL);
        uint8_t buf[4096];
        replay_ctx c = {.a = a, .o = o, .t = 0, .first = true, .r = 0};
        while (c.r == 0) {
                size_t n = fread(buf, 1, sizeof buf, f);
                if (n == 0) {
                        km_decoder_end(&d, on_replay_event, &c);
                        break;
                }
                km_decoder_feed(&d, buf, n, on_replay_event, &c);
        }
        int r = c.r;
        if (ferror(f)) {
                km_log_error("simulate: reading %s: %s", a->replay, strerror(errno));
                r = -EIO;
        }
        fclose(f);
        return r < 0 ? r : 0;
}

int km_cmd_simulate(int argc, char **argv)
{
        sim_args a;
        int code = parse_args(argc, argv, &a);
        if (code >= 0)
                return code;
        if (a.replay && access(a.replay, R_OK) < 0) {
                km_log_error("simulate: cannot read %s: %s", a.replay, strerror(errno));
                return EX_NOINPUT;
        }
        sim_out o;
        if (open_output(&a, &o) < 0)
                return a.pty ? EX_OSERR : EX_CANTCREAT;
        signal(SIGPIPE, SIG_IGN);
        int r = km_stop_install();
        if (r < 0) {
                km_log_error("simulate: cannot handle SIGINT and SIGTERM: %s", strerror(-r));
                close_output(&a, &o);
                return EX_OSERR;
        }
        r = a.replay ? run_replay(&a, &o) : run_model(&a, &o);
        if (r == -EINTR) /* stopped by a signal */
                r = 0;
        if (r < 0 && r != -EPIPE)
                km_log_error("simulate: writing failed: %s", strerror(-r));
        if (a.stats && a.p1)
                fprintf(stderr, "telegrams written: %llu, dropped: %llu\n", (unsigned long long)o.written,
                        (unsigned long long)o.dropped);
        else if (a.stats)
                fprintf(stderr,
                        "frames written: %llu (list 1: %llu, list 2: %llu, list 3: %llu), dropped: %llu\n",
                        (unsigned long long)o.written, (unsigned long long)o.per_list[1],
                        (unsigned long long)o.per_list[2], (unsigned long long)o.per_list[3],
                        (unsigned long long)o.dropped);
        close_output(&a, &o);
        return r < 0 && r != -EPIPE ? EX_IOERR : 0;
}
