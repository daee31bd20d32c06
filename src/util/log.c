/*
 * stderr logging with optional sd-daemon priority prefixes.
 */
#include "util/log.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

static const char *log_progname = "kaifa-meter";
static int log_max_level = LOG_INFO;
static bool log_prefix;

/* systemd sets JOURNAL_STREAM to the device and inode of the stream it
 * connected; a child whose stderr went elsewhere must not use prefixes. */
static bool stderr_is_journal(void)
{
        const char *e = getenv("JOURNAL_STREAM");
        unsigned long long dev, ino;
        struct stat st;
        if (!e || sscanf(e, "%llu:%llu", &dev, &ino) != 2 || fstat(STDERR_FILENO, &st) < 0)
                return false;
        return (unsigned long long)st.st_dev == dev && (unsigned long long)st.st_ino == ino;
}

void km_log_setup(const char *progname, int max_level, int prefix_mode)
{
        if (progname)
                log_progname = progname;
        log_max_level = max_level;
        if (prefix_mode < 0)
                log_prefix = stderr_is_journal();
        else
                log_prefix = prefix_mode != 0;
}

void km_log_set_level(int max_level)
{
        log_max_level = max_level;
}

int km_log_get_level(void)
{
        return log_max_level;
}

int km_log_level_parse(const char *s)
{
        static const struct {
                const char *name;
                int level;
        } names[] = {
                {"debug", LOG_DEBUG}, {"info", LOG_INFO},       {"notice", LOG_NOTICE}, {"warning", LOG_WARNING},
                {"warn", LOG_WARNING}, {"err", LOG_ERR},        {"error", LOG_ERR},     {"crit", LOG_CRIT},
        };
        for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
                if (strcasecmp(s, names[i].name) == 0)
                        return names[i].level;
        return -1;
}

void km_log(int priority, const char *fmt, ...)
{
        if (priority > log_max_level)
                return;
        char line[1024];
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(line, sizeof(line), fmt, ap);
        va_end(ap);
        if (log_prefix)
                fprintf(stderr, "<%d>%s\n", priority, line);
        else
                fprintf(stderr, "%s: %s\n", log_progname, line);
}
