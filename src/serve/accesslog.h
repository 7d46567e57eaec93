/*
 * accesslog.h - the structured access log of the HTTP server.
 *
 * One JSON object per line and request:
 *   {"ts":"2024-05-01T12:00:00.123Z","method":"GET","path":"/getmovie",
 *    "query":"id=1","route":"/getmovie","status":200,"bytes":812,
 *    "latency_us":143,"remote":"127.0.0.1","error":"not_found",
 *    "request_id":"5f0c2a9d41be7c03"}
 * ("query", "error" and "request_id" only when present). Request threads format a line and
 * append it to a shared buffer under a mutex; a background thread writes the
 * buffer to the file every 100 ms (or when it passes 64 KiB), so a request
 * never waits for the disk. The log is flushed on close. Lines are bounded:
 * paths and queries longer than 512 bytes are cut (marked with "...").
 *
 * Threading: jc_accesslog_write is thread-safe; open/close belong to one
 * owner thread.
 */
#ifndef JC_SERVE_ACCESSLOG_H
#define JC_SERVE_ACCESSLOG_H

#include <stddef.h>
#include <stdint.h>

struct jc_accesslog;

struct jc_access_entry {
    int64_t wall_ms; /* Unix time in milliseconds of the request start */
    const char *method;
    const char *path;
    const char *query; /* may be NULL */
    const char *route; /* matched pattern or NULL */
    int status;
    uint64_t bytes;
    uint64_t latency_us;
    const char *remote;     /* may be NULL */
    const char *error;      /* error code or NULL */
    const char *request_id; /* may be NULL */
};

/* path: a file (appended to, created 0640, parent directories created) or
 * "-" for stderr. Errors: JC_EIO with the path and OS reason. */
int jc_accesslog_open(struct jc_accesslog **out, const char *path);
void jc_accesslog_write(struct jc_accesslog *log, const struct jc_access_entry *e);
/* Writes out everything buffered so far (used by tests and on close). */
void jc_accesslog_flush(struct jc_accesslog *log);
void jc_accesslog_close(struct jc_accesslog *log);

/* Formats one line (with the trailing newline) into out; returns length. */
size_t jc_accesslog_format(const struct jc_access_entry *e, char *out, size_t cap);

#endif
