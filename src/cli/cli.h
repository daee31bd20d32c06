/*
 * Subcommands of the kaifa-meter command line tool. Each returns a
 * sysexits.h exit code.
 */
#ifndef KM_CLI_H
#define KM_CLI_H

int km_cmd_parse_file(int argc, char **argv);
int km_cmd_serial(int argc, char **argv);
#ifdef KM_HAVE_PG
int km_cmd_initdb(int argc, char **argv);
#endif
#ifdef KM_HAVE_SIMULATE
int km_cmd_simulate(int argc, char **argv);
#endif

#endif
