/*
 * junco/error.h - the project-wide error codes.
 *
 * Every fallible library function returns an int: JC_OK (0) on success or a
 * negative JC_E... code. Results travel through out-parameters, which are left
 * untouched on failure. Besides the code, the failing call records a detailed
 * human-readable message (file:line, offending value, ...) in a thread-local
 * buffer that jc_errmsg() returns; the CLI prints that message.
 *
 * The codes come from one X-macro table so that the enum, jc_strerror() and the
 * CLI exit-code mapping can never drift apart.
 *
 * Threading: the last-error message is per thread; everything else is pure.
 */
#ifndef JUNCO_ERROR_H
#define JUNCO_ERROR_H

#include <stdarg.h>

#define JC_ERR_MAP(X)                                  \
    X(OK, 0, "success")                                \
    X(NOMEM, -1, "out of memory")                      \
    X(IO, -2, "input/output error")                    \
    X(NOTFOUND, -3, "not found")                       \
    X(INVAL, -4, "invalid argument")                   \
    X(PARSE, -5, "malformed input")                    \
    X(CORRUPT, -6, "corrupt or truncated file")        \
    X(VERSION, -7, "unsupported format version")       \
    X(RANGE, -8, "value out of range")                 \
    X(EXISTS, -9, "already exists")                    \
    X(LIMIT, -10, "size limit exceeded")               \
    X(UNSUPPORTED, -11, "not supported")               \
    X(BUSY, -12, "resource busy")                      \
    X(TIMEOUT, -13, "timed out")                       \
    X(CONN, -14, "connection failed")                  \
    X(NOSPACE, -15, "no space left on device")         \
    X(STATE, -16, "operation not valid in this state") \
    X(ENCODING, -17, "invalid text encoding")          \
    X(CANCELED, -18, "canceled")                       \
    X(INTERNAL, -19, "internal error")

enum jc_err {
#define JC_ERR_ENUM(name, val, text) JC_E##name = (val),
    JC_ERR_MAP(JC_ERR_ENUM)
#undef JC_ERR_ENUM
};

/* JC_OK is the success value of every fallible function. */
#define JC_OK JC_EOK

/* Returns a static, never-NULL description of an error code. */
const char *jc_strerror(int err);

/* Returns the symbolic name of a code ("JC_ECORRUPT"); static, never NULL. */
const char *jc_errname(int err);

/*
 * Records a detailed message for the calling thread and returns err, so that a
 * failing function can `return jc_err_set(JC_EPARSE, "%s:%zu: ...", ...)`.
 * The message is truncated to 1 KiB.
 */
int jc_err_set(int err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
int jc_err_setv(int err, const char *fmt, va_list ap);

/* Prefixes the current message with "prefix: " (used to add context, such as
 * the file name, while an error travels up). Returns err. */
int jc_err_prefix(int err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* The calling thread's last detailed message; valid until the next jc_err_set
 * on this thread. Falls back to jc_strerror(code) when no message was set. */
const char *jc_errmsg(void);

/* The code passed to the most recent jc_err_set on this thread. */
int jc_errcode(void);

/* Clears the calling thread's message. */
void jc_err_clear(void);

#endif
