/*
 * Logging for the executables (never the core library): one line per event
 * to stderr. Under systemd (JOURNAL_STREAM set, or forced) each line gets an
 * sd-daemon "<N>" priority prefix so journald keeps the level.
 */
#ifndef KM_LOG_H
#define KM_LOG_H

#include <stdbool.h>
#include <syslog.h>

void km_log_setup(const char *progname, int max_level, int prefix_mode /* -1 auto, 0 off, 1 on */);
void km_log_set_level(int max_level);
int km_log_get_level(void);
/* Parses "debug", "info", "notice", "warning", "err"/"error", "crit"; -1 if unknown. */
int km_log_level_parse(const char *s);
void km_log(int priority, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#define km_log_debug(...) km_log(LOG_DEBUG, __VA_ARGS__)
#define km_log_info(...) km_log(LOG_INFO, __VA_ARGS__)
#define km_log_notice(...) km_log(LOG_NOTICE, __VA_ARGS__)
#define km_log_warning(...) km_log(LOG_WARNING, __VA_ARGS__)
#define km_log_error(...) km_log(LOG_ERR, __VA_ARGS__)

#endif
