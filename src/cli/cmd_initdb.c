/*
 * `kaifa-meter initdb`: creates the PostgreSQL table that parse-file,
 * serial and the daemon insert into, with the original tool's columns, if
 * it is missing, and says so either way. Running it again is harmless.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <string.h>
#include <sysexits.h>

#include "cli/cli.h"
#include "sinks/postgresql.h"
#include "util/log.h"

enum { OPT_DBNAME = 256, OPT_DBUSER, OPT_DBTABLE, OPT_HOST, OPT_PORT, OPT_PASSWORD_FILE, OPT_CONNINFO };

static void usage(FILE *f)
{
        fputs("Usage: kaifa-meter initdb --dbname NAME --dbtable TABLE [OPTIONS]\n"
              "Creates the table readings are stored in, if it does not exist yet.\n"
              "\n"
              "  --dbname NAME          database\n"
              "  --dbuser USER          user to connect as (default: libpq's, your login name)\n"
              "  --dbtable TABLE        table to create\n"
              "  --host H               server host name, IP address or unix socket directory\n"
              "  --port P               server port (default 5432)\n"
              "  --password-file FILE   file whose first line is the password\n"
              "  --conninfo STRING      libpq connection string or URI (instead of the parts)\n"
              "  -h, --help             show this help\n"
              "\n"
              "PGHOST, PGPORT, PGUSER, PGPASSWORD and ~/.pgpass work as for psql.\n",
              f);
}

static int usage_error(const char *what, const char *arg)
{
        km_log_error("initdb: %s%s%s (see kaifa-meter initdb --help)", what, arg ? ": " : "",
                     arg ? arg : "");
        return EX_USAGE;
}

/* Returns -1 to go on, or an exit code (0 after --help). */
static int parse_args(int argc, char **argv, km_pg_options *o)
{
        static const struct option longopts[] = {
                {"dbname", required_argument, NULL, OPT_DBNAME},
                {"dbuser", required_argument, NULL, OPT_DBUSER},
                {"dbtable", required_argument, NULL, OPT_DBTABLE},
                {"host", required_argument, NULL, OPT_HOST},
                {"port", required_argument, NULL, OPT_PORT},
                {"password-file", required_argument, NULL, OPT_PASSWORD_FILE},
                {"conninfo", required_argument, NULL, OPT_CONNINFO},
                {"help", no_argument, NULL, 'h'},
                {NULL, 0, NULL, 0},
        };
        memset(o, 0, sizeof *o);
        optind = 0;
        opterr = 0;
        int c;
        while ((c = getopt_long(argc, argv, ":h", longopts, NULL)) != -1) {
                switch (c) {
                case OPT_DBNAME:
                        o->dbname = optarg;
                        break;
                case OPT_DBUSER:
                        o->user = optarg;
                        break;
                case OPT_DBTABLE:
                        o->table = optarg;
                        break;
                case OPT_HOST:
                        o->host = optarg;
                        break;
                case OPT_PORT:
                        o->port = optarg;
                        break;
                case OPT_PASSWORD_FILE:
                        o->password_file = optarg;
                        break;
                case OPT_CONNINFO:
                        o->conninfo = optarg;
                        break;
                case 'h':
                        usage(stdout);
                        return 0;
                case ':':
                        return usage_error("option needs a value", argv[optind - 1]);
                default:
                        return usage_error("unknown option", argv[optind - 1]);
                }
        }
        if (optind < argc)
                return usage_error("unexpected argument", argv[optind]);
        if (!o->table || !*o->table)
                return usage_error("--dbtable is required", NULL);
        if (strlen(o->table) > 63)
                return usage_error("--dbtable is longer than 63 characters", NULL);
        if ((!o->dbname || !*o->dbname) && !o->conninfo)
                return usage_error("--dbname is required", NULL);
        return -1;
}

int km_cmd_initdb(int argc, char **argv)
{
        km_pg_options o;
        int code = parse_args(argc, argv, &o);
        if (code >= 0)
                return code;
        int r = km_pg_initdb(&o, stdout);
        fflush(stdout);
        switch (r) {
        case 0:
                return EX_OK;
        case -ECONNREFUSED:
                return EX_UNAVAILABLE;
        case -EINVAL:
                return EX_USAGE;
        case -ELIBACC: /* libpq is not installed */
                return EX_UNAVAILABLE;
        case -EIO:
                return EX_IOERR;
        default:
                return r == -ENOENT || r == -EACCES ? EX_NOINPUT : EX_OSERR;
        }
}
