/*
 * log.c - level filter and pluggable sink. Messages are formatted into a stack
 * buffer and handed to the sink in one call, so lines from several threads
 * never interleave mid-line with the default sink (one fputs per line).
 */
#include "log.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum jc_log_level jc_log__level = JC_LOG_WARN;

static jc_log_sink_fn sink_fn;
static void *sink_ctx;

static const char *const level_names[] = {"error", "warning", "info", "debug"};

static void default_sink(void *ctx, enum jc_log_level level, const char *msg)
{
    (void)ctx;
    char line[1200];
    snprintf(line, sizeof line, "junco: %s: %s\n", level_names[level], msg);
    fputs(line, stderr);
}

void jc_log_set_level(enum jc_log_level level)
{
    jc_log__level = level;
}

enum jc_log_level jc_log_get_level(void)
{
    return jc_log__level;
}

void jc_log_set_sink(jc_log_sink_fn fn, void *ctx)
{
    sink_fn = fn;
    sink_ctx = ctx;
}

int jc_log_parse_level(const char *s, enum jc_log_level *out)
{
    static const char *const names[] = {"error", "warn", "info", "debug"};
    for (int i = 0; i < 4; i++) {
        if (strcmp(s, names[i]) == 0) {
            *out = (enum jc_log_level)i;
            return 0;
        }
    }
    return -1;
}

void jc_log__write(enum jc_log_level level, const char *fmt, ...)
{
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (sink_fn)
        sink_fn(sink_ctx, level, msg);
    else
        default_sink(NULL, level, msg);
}

void jc_log__assert_fail(const char *expr, const char *file, int line)
{
    fprintf(stderr, "junco: internal error: assertion `%s' failed at %s:%d\n", expr, file, line);
    abort();
}
