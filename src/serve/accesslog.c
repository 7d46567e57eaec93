/*
 * accesslog.c - buffered JSON-lines access log with a background writer.
 *
 * Lines are formatted on the request thread into a stack buffer (no heap),
 * appended to a shared buffer under a mutex, and written by one writer
 * thread with write(2) on an O_APPEND descriptor. If the disk stalls and the
 * shared buffer reaches its hard cap (1 MiB), further lines are dropped and
 * counted rather than blocking requests; the count is logged on close.
 */
#include "serve/accesslog.h"

#include "core/alloc.h"
#include "core/fileio.h"
#include "core/log.h"
#include "core/utf8.h"
#include <junco/error.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define FLUSH_BYTES (64 * 1024)
#define HARD_CAP    (1024 * 1024)
#define FIELD_MAX   512

struct jc_accesslog {
    int fd;
    int own_fd;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    pthread_t thread;
    int running;
    char *buf; /* HARD_CAP bytes */
    size_t len;
    uint64_t dropped;
};

/* JSON-escapes s into out[*pos..cap), cutting at FIELD_MAX input bytes. */
static void put_str(char *out, size_t cap, size_t *pos, const char *s)
{
    static const char hex[] = "0123456789abcdef";
    size_t p = *pos;
    size_t i = 0;
    for (; s[i] && i < FIELD_MAX; i++) {
        unsigned char c = (unsigned char)s[i];
        if (p + 7 >= cap)
            break;
        if (c == '"' || c == '\\') {
            out[p++] = '\\';
            out[p++] = (char)c;
        } else if (c < 0x20 || c == 0x7f) {
            out[p++] = '\\';
            out[p++] = 'u';
            out[p++] = '0';
            out[p++] = '0';
            out[p++] = hex[c >> 4];
            out[p++] = hex[c & 15];
        } else if (c < 0x80) {
            out[p++] = (char)c;
        } else {
            /* Valid UTF-8 sequences pass through; any other byte (paths are
             * percent-decoded client bytes) becomes U+FFFD, so every line
             * stays valid UTF-8 JSON. */
            size_t sl = jc_utf8_seq_len(s + i, strnlen(s + i, 4));
            if (sl > 1) {
                memcpy(out + p, s + i, sl);
                p += sl;
                i += sl - 1;
            } else {
                memcpy(out + p, "\xef\xbf\xbd", 3);
                p += 3;
            }
        }
    }
    if (s[i] && p + 4 < cap) {
        memcpy(out + p, "...", 3);
        p += 3;
    }
    *pos = p;
}

static void put_raw(char *out, size_t cap, size_t *pos, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static void put_raw(char *out, size_t cap, size_t *pos, const char *fmt, ...)
{
    if (*pos >= cap)
        return;
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(out + *pos, cap - *pos, fmt, ap);
    va_end(ap);
    if (n > 0)
        *pos += (size_t)n < cap - *pos ? (size_t)n : cap - *pos - 1;
}

size_t jc_accesslog_format(const struct jc_access_entry *e, char *out, size_t cap)
{
    size_t p = 0;
    time_t secs = (time_t)(e->wall_ms / 1000);
    struct tm tm;
    gmtime_r(&secs, &tm);
    put_raw(out, cap, &p, "{\"ts\":\"%04d-%02d-%02dT%02d:%02d:%02d.%03dZ\",\"method\":\"",
            tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
            (int)(e->wall_ms % 1000));
    put_str(out, cap, &p, e->method ? e->method : "");
    put_raw(out, cap, &p, "\",\"path\":\"");
    put_str(out, cap, &p, e->path ? e->path : "");
    if (e->query && e->query[0]) {
        put_raw(out, cap, &p, "\",\"query\":\"");
        put_str(out, cap, &p, e->query);
    }
    put_raw(out, cap, &p, "\",\"route\":");
    if (e->route) {
        put_raw(out, cap, &p, "\"");
        put_str(out, cap, &p, e->route);
        put_raw(out, cap, &p, "\"");
    } else {
        put_raw(out, cap, &p, "null");
    }
    put_raw(out, cap, &p, ",\"status\":%d,\"bytes\":%llu,\"latency_us\":%llu", e->status,
            (unsigned long long)e->bytes, (unsigned long long)e->latency_us);
    if (e->remote) {
        put_raw(out, cap, &p, ",\"remote\":\"");
        put_str(out, cap, &p, e->remote);
        put_raw(out, cap, &p, "\"");
    }
    if (e->error) {
        put_raw(out, cap, &p, ",\"error\":\"");
        put_str(out, cap, &p, e->error);
        put_raw(out, cap, &p, "\"");
    }
    if (e->request_id) {
        put_raw(out, cap, &p, ",\"request_id\":\"");
        put_str(out, cap, &p, e->request_id);
        put_raw(out, cap, &p, "\"");
    }
    if (p + 2 >= cap)
        p = cap - 3; /* keep room for the closing brace and newline */
    out[p++] = '}';
    out[p++] = '\n';
    out[p] = '\0';
    return p;
}

static void write_all(int fd, const char *p, size_t n)
{
    while (n > 0) {
        ssize_t w = write(fd, p, n);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            return; /* the log is best effort; never fail a request */
        }
        p += w;
        n -= (size_t)w;
    }
}

/* Swaps the shared buffer out under the lock and writes it without it. */
static void flush_locked_swap(struct jc_accesslog *log, char *spare)
{
    size_t n = log->len;
    if (n == 0)
        return;
    memcpy(spare, log->buf, n);
    log->len = 0;
    pthread_mutex_unlock(&log->mu);
    write_all(log->fd, spare, n);
    pthread_mutex_lock(&log->mu);
}

static void *writer_main(void *arg)
{
    struct jc_accesslog *log = arg;
    char *spare = jc_malloc(HARD_CAP);
    pthread_mutex_lock(&log->mu);
    while (log->running) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_nsec += 100 * 1000 * 1000;
        if (ts.tv_nsec >= 1000000000) {
            ts.tv_sec++;
            ts.tv_nsec -= 1000000000;
        }
        pthread_cond_timedwait(&log->cv, &log->mu, &ts);
        if (spare)
            flush_locked_swap(log, spare);
    }
    if (spare)
        flush_locked_swap(log, spare);
    pthread_mutex_unlock(&log->mu);
    jc_free(spare);
    return NULL;
}

int jc_accesslog_open(struct jc_accesslog **out, const char *path)
{
    struct jc_accesslog *log = jc_calloc(1, sizeof *log);
    if (log == NULL)
        return JC_ENOMEM;
    log->buf = jc_malloc(HARD_CAP);
    if (log->buf == NULL) {
        jc_free(log);
        return JC_ENOMEM;
    }
    if (strcmp(path, "-") == 0) {
        log->fd = 2;
    } else {
        char dir[PATH_MAX];
        snprintf(dir, sizeof dir, "%s", path);
        char *slash = strrchr(dir, '/');
        if (slash && slash != dir) {
            *slash = '\0';
            int rc = jc_mkdir_p(dir);
            if (rc) {
                jc_free(log->buf);
                jc_free(log);
                return rc;
            }
        }
        log->fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0640);
        if (log->fd < 0) {
            int e = errno;
            jc_free(log->buf);
            jc_free(log);
            return jc_err_set(JC_EIO, "cannot open access log %s: %s", path, strerror(e));
        }
        log->own_fd = 1;
    }
    pthread_mutex_init(&log->mu, NULL);
    pthread_cond_init(&log->cv, NULL);
    log->running = 1;
    if (pthread_create(&log->thread, NULL, writer_main, log) != 0) {
        if (log->own_fd)
            close(log->fd);
        pthread_mutex_destroy(&log->mu);
        pthread_cond_destroy(&log->cv);
        jc_free(log->buf);
        jc_free(log);
        return jc_err_set(JC_EIO, "cannot start the access log writer thread");
    }
    *out = log;
    return JC_OK;
}

void jc_accesslog_write(struct jc_accesslog *log, const struct jc_access_entry *e)
{
    char line[4096];
    size_t n = jc_accesslog_format(e, line, sizeof line);
    pthread_mutex_lock(&log->mu);
    if (log->len + n > HARD_CAP) {
        log->dropped++;
    } else {
        memcpy(log->buf + log->len, line, n);
        log->len += n;
        if (log->len >= FLUSH_BYTES)
            pthread_cond_signal(&log->cv);
    }
    pthread_mutex_unlock(&log->mu);
}

void jc_accesslog_flush(struct jc_accesslog *log)
{
    pthread_mutex_lock(&log->mu);
    if (log->len) {
        write_all(log->fd, log->buf, log->len);
        log->len = 0;
    }
    pthread_mutex_unlock(&log->mu);
}

void jc_accesslog_close(struct jc_accesslog *log)
{
    if (log == NULL)
        return;
    pthread_mutex_lock(&log->mu);
    log->running = 0;
    pthread_cond_signal(&log->cv);
    pthread_mutex_unlock(&log->mu);
    pthread_join(log->thread, NULL);
    jc_accesslog_flush(log);
    if (log->dropped)
        JC_WARN("access log: %llu lines dropped (writer could not keep up)",
                (unsigned long long)log->dropped);
    if (log->own_fd)
        close(log->fd);
    pthread_mutex_destroy(&log->mu);
    pthread_cond_destroy(&log->cv);
    jc_free(log->buf);
    jc_free(log);
}
