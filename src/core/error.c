/*
 * error.c - error codes and the per-thread detailed message.
 *
 * The message buffer is thread-local so that worker threads can fail
 * independently; the CLI and the HTTP layer copy it out right after a failure.
 */
#include <junco/error.h>

#include <stdio.h>
#include <string.h>

#define MSG_CAP 1024

static _Thread_local char last_msg[MSG_CAP];
static _Thread_local int last_code;

const char *jc_strerror(int err)
{
    switch (err) {
#define JC_ERR_CASE(name, val, text) \
    case (val):                      \
        return text;
        JC_ERR_MAP(JC_ERR_CASE)
#undef JC_ERR_CASE
    default:
        return "unknown error";
    }
}

const char *jc_errname(int err)
{
    switch (err) {
#define JC_ERR_CASE(name, val, text) \
    case (val):                      \
        return "JC_E" #name;
        JC_ERR_MAP(JC_ERR_CASE)
#undef JC_ERR_CASE
    default:
        return "JC_E?";
    }
}

int jc_err_setv(int err, const char *fmt, va_list ap)
{
    last_code = err;
    if (fmt == NULL) {
        last_msg[0] = '\0';
        return err;
    }
    vsnprintf(last_msg, sizeof last_msg, fmt, ap);
    return err;
}

int jc_err_set(int err, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    jc_err_setv(err, fmt, ap);
    va_end(ap);
    return err;
}

int jc_err_prefix(int err, const char *fmt, ...)
{
    char prefix[256];
    char old[MSG_CAP];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(prefix, sizeof prefix, fmt, ap);
    va_end(ap);
    if (last_msg[0] == '\0' || last_code != err)
        snprintf(old, sizeof old, "%s", jc_strerror(err));
    else
        memcpy(old, last_msg, sizeof old);
    snprintf(last_msg, sizeof last_msg, "%s: %s", prefix, old);
    last_code = err;
    return err;
}

const char *jc_errmsg(void)
{
    if (last_msg[0] == '\0')
        return jc_strerror(last_code);
    return last_msg;
}

int jc_errcode(void)
{
    return last_code;
}

void jc_err_clear(void)
{
    last_msg[0] = '\0';
    last_code = JC_OK;
}
