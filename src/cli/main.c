/*
 * kaifa-meter: decode a meter's HAN port output from a serial port or a
 * capture file, to the terminal, JSON, a file or PostgreSQL.
 */
#include <stdio.h>
#include <string.h>
#include <sysexits.h>

#include "cli/cli.h"
#include "util/log.h"

static const struct {
        const char *name;
        int (*run)(int argc, char **argv);
        const char *summary;
} commands[] = {
        {"parse-file", km_cmd_parse_file, "decode a capture file (or - for stdin)"},
        {"serial", km_cmd_serial, "decode what a meter sends to a serial port"},
#ifdef KM_HAVE_PG
        {"initdb", km_cmd_initdb, "create the PostgreSQL table if it is missing"},
#endif
#ifdef KM_HAVE_SIMULATE
        {"simulate", km_cmd_simulate, "write frames of a simulated Kaifa meter"},
#endif
};

#define N_COMMANDS (sizeof(commands) / sizeof(commands[0]))

static void usage(FILE *out)
{
        fprintf(out, "Usage: kaifa-meter COMMAND [OPTIONS]\n\nCommands:\n");
        for (size_t i = 0; i < N_COMMANDS; i++)
                fprintf(out, "  %-12s %s\n", commands[i].name, commands[i].summary);
        fprintf(out, "\n'kaifa-meter COMMAND --help' describes each command's options.\n"
                     "  --help       this text\n  --version    print the version\n");
}

int main(int argc, char **argv)
{
        km_log_setup("kaifa-meter", LOG_INFO, -1);
        if (argc < 2) {
                fprintf(stderr, "kaifa-meter: missing command (try --help)\n");
                return EX_USAGE;
        }
        if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
                usage(stdout);
                return EX_OK;
        }
        if (strcmp(argv[1], "--version") == 0 || strcmp(argv[1], "-V") == 0) {
                printf("kaifa-meter %s\n", KM_VERSION);
                return EX_OK;
        }
        for (size_t i = 0; i < N_COMMANDS; i++)
                if (strcmp(argv[1], commands[i].name) == 0)
                        return commands[i].run(argc - 1, argv + 1);
        fprintf(stderr, "kaifa-meter: unknown command '%s' (try --help)\n", argv[1]);
        return EX_USAGE;
}
