/*
 * kaifa-meterd: reads a smart electricity meter's HAN port and publishes
 * every value to MQTT, with Home Assistant discovery, and optionally stores
 * every frame in PostgreSQL and a JSON-lines file. This file handles the
 * command line and the configuration; daemon.c runs the service loop,
 * outputs.c the PostgreSQL and file outputs.
 *
 *   kaifa-meterd [-c FILE] [--check-config] [--version] [--help]
 *
 * Exit codes (sysexits.h): 0 clean stop, 64 usage, 78 configuration error
 * (one line "FILE:LINE: message" on stderr), 71 cannot start.
 */
#include <errno.h>
#include <getopt.h>
#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <sysexits.h>
#include <unistd.h>

#include "daemon/config.h"
#include "daemon/daemon.h"
#include "util/log.h"

static void usage(FILE *f)
{
        fprintf(f,
                "Usage: kaifa-meterd [-c FILE] [--check-config] [--dump-config] [--version] [--help]\n"
                "\n"
                "Reads a smart meter's HAN port and publishes every value to MQTT,\n"
                "with Home Assistant discovery; optionally stores every frame in\n"
                "PostgreSQL ([postgresql]) and a JSON-lines file ([file]).\n"
                "Runs until SIGTERM; SIGHUP reloads and reopens the file.\n"
                "\n"
                "  -c, --config FILE   configuration file (default %s)\n"
                "      --check-config  check the configuration and exit (0 valid, 78 not)\n"
                "      --dump-config   print the effective configuration and exit\n"
                "  -V, --version       print the version and exit\n"
                "  -h, --help          print this help and exit\n",
                KM_CONFIG_DEFAULT_PATH);
}

/* The one line a configuration error gets: "FILE:LINE: message", with a
 * journal priority prefix when running under systemd. */
static void config_error(const char *msg)
{
        bool journal = getenv("JOURNAL_STREAM") || getenv("INVOCATION_ID");
        fprintf(stderr, "%s%s\n", journal ? "<3>" : "", msg);
}

#define SERVICE_USER "kaifa-meter"

/* As the service user (a child that drops to it): 0 or the errno of
 * opening each file for reading, one int each into fd. */
static void probe_as(const struct passwd *pw, const char *const *files, size_t n, int fd)
{
        int res[16] = {0};
        if (initgroups(pw->pw_name, pw->pw_gid) < 0 || setgid(pw->pw_gid) < 0 || setuid(pw->pw_uid) < 0)
                _exit(1);
        for (size_t i = 0; i < n; i++) {
                FILE *f = fopen(files[i], "r");
                res[i] = f ? 0 : errno;
                if (f)
                        fclose(f);
        }
        _exit(write(fd, res, n * sizeof(int)) == (ssize_t)(n * sizeof(int)) ? 0 : 1);
}

/* --check-config as root: the service runs as kaifa-meter, so a file only
 * root can read (a 0600 config, a password or key file) passes here and
 * fails at start. Each such file gets one warning saying what to do. */
static void warn_service_user(const km_config *cfg, const char *path)
{
        struct passwd *pw = getpwnam(SERVICE_USER);
        if (geteuid() != 0 || !pw)
                return;
        const char *files[16];
        size_t n = 0;
        const char *candidates[] = {path, cfg->mqtt.password_file, cfg->postgresql.password_file,
                                    cfg->mqtt.cafile, cfg->mqtt.certfile, cfg->mqtt.keyfile};
        for (size_t i = 0; i < sizeof(candidates) / sizeof(candidates[0]); i++)
                if (candidates[i])
                        files[n++] = candidates[i];
        for (size_t i = 0; i < cfg->n_meters && n < sizeof(files) / sizeof(files[0]); i++)
                if (cfg->meters[i].meter.key_file)
                        files[n++] = cfg->meters[i].meter.key_file;
        int p[2];
        if (pipe(p) < 0)
                return;
        fflush(NULL);
        pid_t pid = fork();
        if (pid == 0) {
                close(p[0]);
                probe_as(pw, files, n, p[1]);
        }
        close(p[1]);
        int res[16];
        ssize_t got = pid > 0 ? read(p[0], res, n * sizeof(int)) : -1;
        close(p[0]);
        if (pid > 0)
                waitpid(pid, NULL, 0);
        if (got != (ssize_t)(n * sizeof(int)))
                return;
        for (size_t i = 0; i < n; i++)
                if (res[i])
                        fprintf(stderr,
                                "kaifa-meterd: warning: the service user %s cannot read %s (%s); the service will "
                                "fail to start: chgrp %s %s && chmod 0640 %s (and let it into the directories)\n",
                                SERVICE_USER, files[i], strerror(res[i]), SERVICE_USER, files[i], files[i]);
}

/* Each meter holds a port or socket: the soft limit on open files (1024
 * by default, also under systemd) goes up to the hard one (524288 under
 * systemd), as systemd advises for programs that need many. select() is
 * not used anywhere, so descriptors above 1023 are fine. */
static void raise_fd_limit(void)
{
        struct rlimit rl;
        if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
                rl.rlim_cur = rl.rlim_max;
                setrlimit(RLIMIT_NOFILE, &rl);
        }
}

int main(int argc, char **argv)
{
        enum { OPT_CHECK = 0x100, OPT_DUMP };
        static const struct option options[] = {
                {"config", required_argument, NULL, 'c'},
                {"check-config", no_argument, NULL, OPT_CHECK},
                {"dump-config", no_argument, NULL, OPT_DUMP},
                {"version", no_argument, NULL, 'V'},
                {"help", no_argument, NULL, 'h'},
                {0, 0, 0, 0},
        };
        const char *path = KM_CONFIG_DEFAULT_PATH;
        bool check = false, dump = false;
        int c;
        while ((c = getopt_long(argc, argv, "c:Vh", options, NULL)) != -1) {
                switch (c) {
                case 'c':
                        path = optarg;
                        break;
                case OPT_CHECK:
                        check = true;
                        break;
                case OPT_DUMP:
                        dump = true;
                        break;
                case 'V':
                        printf("kaifa-meterd %s\n", KM_VERSION);
                        return EX_OK;
                case 'h':
                        usage(stdout);
                        return EX_OK;
                default:
                        usage(stderr);
                        return EX_USAGE;
                }
        }
        if (optind < argc) {
                fprintf(stderr, "kaifa-meterd: unexpected argument '%s'\n", argv[optind]);
                usage(stderr);
                return EX_USAGE;
        }

        km_log_setup("kaifa-meterd", LOG_INFO, -1);
        km_config cfg;
        char err[KM_CONFIG_ERR_MAX];
        if (km_config_load(path, &cfg, err, sizeof(err)) < 0) {
                config_error(err);
                return EX_CONFIG;
        }
        if (check || dump) {
                if (check)
                        warn_service_user(&cfg, path);
                if (dump)
                        km_config_dump(&cfg, stdout);
                else
                        printf("%s: configuration is valid\n", path);
                km_config_free(&cfg);
                return EX_OK;
        }
        km_log_set_level(cfg.log.level);
        raise_fd_limit();
        return km_daemon_run(&cfg, path);
}
