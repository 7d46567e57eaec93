/*
 * log.h - the logging module. Library code never prints; it logs here.
 *
 * JC_LOG(level, fmt, ...) checks the level before evaluating its arguments,
 * so debug logging on a hot path costs one load and a branch. The default
 * sink writes "junco: <level>: message" lines to stderr; embedders replace it
 * with jc_log_set_sink. The level and the sink are process-wide; set them
 * before starting threads. Sinks must be thread-safe.
 */
#ifndef JC_LOG_H
#define JC_LOG_H

enum jc_log_level {
    JC_LOG_ERROR = 0,
    JC_LOG_WARN = 1,
    JC_LOG_INFO = 2,
    JC_LOG_DEBUG = 3,
};

typedef void (*jc_log_sink_fn)(void *ctx, enum jc_log_level level, const char *msg);

extern enum jc_log_level jc_log__level;

void jc_log_set_level(enum jc_log_level level);
enum jc_log_level jc_log_get_level(void);
/* NULL restores the default stderr sink. */
void jc_log_set_sink(jc_log_sink_fn fn, void *ctx);
/* Parses "error|warn|info|debug"; returns 0 or -1 if unknown. */
int jc_log_parse_level(const char *s, enum jc_log_level *out);

void jc_log__write(enum jc_log_level level, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

#define JC_LOG(level, ...)                       \
    do {                                         \
        if ((level) <= jc_log__level)            \
            jc_log__write((level), __VA_ARGS__); \
    } while (0)

#define JC_ERROR(...) JC_LOG(JC_LOG_ERROR, __VA_ARGS__)
#define JC_WARN(...)  JC_LOG(JC_LOG_WARN, __VA_ARGS__)
#define JC_INFO(...)  JC_LOG(JC_LOG_INFO, __VA_ARGS__)
#define JC_DEBUG(...) JC_LOG(JC_LOG_DEBUG, __VA_ARGS__)

/* Always-on invariant check (never for bad input: that is an error return). */
#define JC_ASSERT(cond)                                     \
    do {                                                    \
        if (!(cond))                                        \
            jc_log__assert_fail(#cond, __FILE__, __LINE__); \
    } while (0)

_Noreturn void jc_log__assert_fail(const char *expr, const char *file, int line);

#endif
