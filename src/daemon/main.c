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
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>

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
                if (dump)
                        km_config_dump(&cfg, stdout);
                else
                        printf("%s: configuration is valid\n", path);
                km_config_free(&cfg);
                return EX_OK;
        }
        km_log_set_level(cfg.log.level);
        return km_daemon_run(&cfg, path);
}
