/*
 * redis.c - the Redis feature-store backend (hiredis 0.14 / 1.x common
 * subset: blocking contexts, RESP2, no TLS).
 *
 * Connections: one per thread, created on first use and kept in a
 * pthread-specific slot; every connection is also on the handle's list so
 * close frees them all (a thread that exits first frees its own through the
 * key destructor). Keys are the configured prefix + the logical key.
 *
 * Failures: every round trip runs through with_retry. An I/O error (reset,
 * EOF, timeout) drops the connection; the round trip is retried after
 * reconnecting, with backoff_ms, 2x, 4x ... (capped at 2 s) between
 * attempts, at most `retries` times; then the call fails with JC_ECONN and
 * "redis HOST:PORT: <reason> (gave up after N retries)". Every operation is
 * idempotent (GET, SET, DEL, SCAN steps, MULTI/EXEC of SET/DEL), so retrying
 * a round trip whose fate is unknown is safe. Error replies from the server
 * are JC_EIO with the server's text and are not retried.
 */
#include "store/store_int.h"

#include "core/alloc.h"
#include "core/log.h"
#include <junco/error.h>

#include <hiredis.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#define FULL_KEY_MAX (JC_STORE_KEY_MAX + 128)
#define MGET_CHUNK   1024u

struct redis_impl;

struct redis_conn {
    redisContext *c;
    char *resp; /* owned: scratch for pipelined commands */
    size_t resp_cap;
    struct redis_impl *owner;
    struct redis_conn *prev, *next;
};

struct redis_impl {
    char *host, *prefix, *password;
    size_t prefix_len;
    int port, timeout_ms, retries, backoff_ms, db;
    long long ttl;
    pthread_key_t key;
    pthread_mutex_t lock; /* guards the connection list */
    struct redis_conn *conns;
};

static void conn_unlink(struct redis_conn *cn)
{
    struct redis_impl *r = cn->owner;
    pthread_mutex_lock(&r->lock);
    if (cn->prev)
        cn->prev->next = cn->next;
    else
        r->conns = cn->next;
    if (cn->next)
        cn->next->prev = cn->prev;
    pthread_mutex_unlock(&r->lock);
}

static void conn_destructor(void *p)
{
    struct redis_conn *cn = p;
    conn_unlink(cn);
    if (cn->c)
        redisFree(cn->c);
    jc_free(cn->resp);
    jc_free(cn);
}

static struct redis_conn *thread_conn(struct redis_impl *r)
{
    struct redis_conn *cn = pthread_getspecific(r->key);
    if (cn)
        return cn;
    cn = jc_calloc(1, sizeof *cn);
    if (cn == NULL)
        return NULL;
    cn->owner = r;
    pthread_mutex_lock(&r->lock);
    cn->next = r->conns;
    if (r->conns)
        r->conns->prev = cn;
    r->conns = cn;
    pthread_mutex_unlock(&r->lock);
    if (pthread_setspecific(r->key, cn) != 0) {
        conn_unlink(cn);
        jc_free(cn);
        return NULL;
    }
    return cn;
}

static void redis_close(void *impl)
{
    struct redis_impl *r = impl;
    if (r == NULL)
        return;
    pthread_key_delete(r->key);
    struct redis_conn *cn = r->conns;
    while (cn) {
        struct redis_conn *next = cn->next;
        if (cn->c)
            redisFree(cn->c);
        jc_free(cn->resp);
        jc_free(cn);
        cn = next;
    }
    pthread_mutex_destroy(&r->lock);
    jc_free(r->host);
    jc_free(r->prefix);
    jc_free(r->password);
    jc_free(r);
}

static _Thread_local char tls_err[256];

/* Records why the connection failed (for the final message). */
static void io_reason(redisContext *c, const char *fallback)
{
    snprintf(tls_err, sizeof tls_err, "%s", c && c->err ? c->errstr : fallback);
}

static int reply_error(const struct redis_impl *r, const redisReply *rep, const char *what)
{
    return jc_err_set(JC_EIO, "redis %s:%d: %s: %.*s", r->host, r->port, what,
                      (int)(rep->len > 300 ? 300 : rep->len), rep->str ? rep->str : "");
}

static int connect_ctx(struct redis_impl *r, redisContext **out)
{
    struct timeval tv = {r->timeout_ms / 1000, (r->timeout_ms % 1000) * 1000};
    redisContext *c = redisConnectWithTimeout(r->host, r->port, tv);
    if (c == NULL || c->err) {
        io_reason(c, "cannot allocate a connection");
        if (c)
            redisFree(c);
        return JC_ECONN;
    }
    redisSetTimeout(c, tv);
    redisEnableKeepAlive(c);
    if (r->password && r->password[0]) {
        redisReply *rep = redisCommand(c, "AUTH %s", r->password);
        if (rep == NULL) {
            io_reason(c, "AUTH failed");
            redisFree(c);
            return JC_ECONN;
        }
        int bad = rep->type == REDIS_REPLY_ERROR;
        int rc = bad ? reply_error(r, rep, "AUTH") : JC_OK;
        freeReplyObject(rep);
        if (bad) {
            redisFree(c);
            return rc;
        }
    }
    if (r->db) {
        redisReply *rep = redisCommand(c, "SELECT %d", r->db);
        if (rep == NULL) {
            io_reason(c, "SELECT failed");
            redisFree(c);
            return JC_ECONN;
        }
        int bad = rep->type == REDIS_REPLY_ERROR;
        int rc = bad ? reply_error(r, rep, "SELECT") : JC_OK;
        freeReplyObject(rep);
        if (bad) {
            redisFree(c);
            return rc;
        }
    }
    *out = c;
    return JC_OK;
}

static void sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0)
        ;
}

/* One round trip: returns JC_ECONN on an I/O failure (retryable). */
typedef int (*trip_fn)(struct redis_impl *r, redisContext *c, void *arg);

static int with_retry(struct redis_impl *r, trip_fn fn, void *arg)
{
    struct redis_conn *cn = thread_conn(r);
    if (cn == NULL)
        return JC_ENOMEM;
    int rc = JC_ECONN;
    for (int attempt = 0; attempt <= r->retries; attempt++) {
        if (attempt > 0) {
            long d = (long)r->backoff_ms << (attempt - 1 < 16 ? attempt - 1 : 16);
            sleep_ms(d > 2000 ? 2000 : (int)d);
        }
        if (cn->c == NULL) {
            rc = connect_ctx(r, &cn->c);
            if (rc == JC_ECONN)
                continue;
            if (rc)
                return rc;
        }
        rc = fn(r, cn->c, arg);
        if (rc != JC_ECONN)
            return rc;
        io_reason(cn->c, "connection lost");
        redisFree(cn->c);
        cn->c = NULL;
    }
    return jc_err_set(JC_ECONN, "redis %s:%d: %s (gave up after %d retries)", r->host, r->port,
                      tls_err[0] ? tls_err : "unreachable", r->retries);
}

/* prefix + key into out; returns the length. */
static size_t full_key(const struct redis_impl *r, const void *key, size_t klen, char *out)
{
    memcpy(out, r->prefix, r->prefix_len);
    memcpy(out + r->prefix_len, key, klen);
    return r->prefix_len + klen;
}

/* ---- operations -------------------------------------------------------------- */

struct get_arg {
    const void *key;
    size_t klen;
    struct jc_buf *val;
};

static int trip_get(struct redis_impl *r, redisContext *c, void *p)
{
    struct get_arg *a = p;
    char k[FULL_KEY_MAX];
    size_t kn = full_key(r, a->key, a->klen, k);
    redisReply *rep = redisCommand(c, "GET %b", k, kn);
    if (rep == NULL)
        return JC_ECONN;
    int rc = JC_OK;
    if (rep->type == REDIS_REPLY_STRING) {
        jc_buf_reset(a->val);
        rc = jc_buf_append(a->val, rep->str, rep->len);
        if (rc == JC_OK && rep->len == 0)
            rc = jc_buf_reserve(a->val, 1);
    } else if (rep->type == REDIS_REPLY_NIL) {
        rc = jc_err_set(JC_ENOTFOUND, "store: no key '%.*s'", (int)(a->klen > 200 ? 200 : a->klen),
                        (const char *)a->key);
    } else if (rep->type == REDIS_REPLY_ERROR) {
        rc = reply_error(r, rep, "GET");
    } else {
        rc = jc_err_set(JC_EIO, "redis %s:%d: GET: unexpected reply type %d", r->host, r->port,
                        rep->type);
    }
    freeReplyObject(rep);
    return rc;
}

static int redis_get(void *impl, const void *key, size_t klen, struct jc_buf *val)
{
    struct get_arg a = {key, klen, val};
    return with_retry(impl, trip_get, &a);
}

/* Appends SET (with EX when a TTL is configured) to the pipeline. */
static int append_set(struct redis_impl *r, redisContext *c, const void *key, size_t klen,
                      const void *val, size_t vlen)
{
    char k[FULL_KEY_MAX];
    size_t kn = full_key(r, key, klen, k);
    int e = r->ttl > 0 ? redisAppendCommand(c, "SET %b %b EX %lld", k, kn, val, vlen, r->ttl)
                       : redisAppendCommand(c, "SET %b %b", k, kn, val, vlen);
    return e == REDIS_OK ? JC_OK : JC_ENOMEM;
}

static int append_del(struct redis_impl *r, redisContext *c, const void *key, size_t klen)
{
    char k[FULL_KEY_MAX];
    size_t kn = full_key(r, key, klen, k);
    return redisAppendCommand(c, "DEL %b", k, kn) == REDIS_OK ? JC_OK : JC_ENOMEM;
}

/* Reads one reply; JC_ECONN on I/O error, JC_EIO on an error reply. */
static int read_reply(struct redis_impl *r, redisContext *c, redisReply **out, const char *what)
{
    void *p = NULL;
    if (redisGetReply(c, &p) != REDIS_OK || p == NULL)
        return JC_ECONN;
    redisReply *rep = p;
    if (rep->type == REDIS_REPLY_ERROR) {
        int rc = reply_error(r, rep, what);
        freeReplyObject(rep);
        return rc;
    }
    *out = rep;
    return JC_OK;
}

struct put_arg {
    const void *key, *val;
    size_t klen, vlen;
    int del;
};

static int trip_put(struct redis_impl *r, redisContext *c, void *p)
{
    struct put_arg *a = p;
    int rc = a->del ? append_del(r, c, a->key, a->klen)
                    : append_set(r, c, a->key, a->klen, a->val, a->vlen);
    if (rc)
        return rc;
    redisReply *rep;
    rc = read_reply(r, c, &rep, a->del ? "DEL" : "SET");
    if (rc == JC_OK)
        freeReplyObject(rep);
    return rc;
}

static int redis_put(void *impl, const void *key, size_t klen, const void *val, size_t vlen)
{
    struct put_arg a = {key, val, klen, vlen, 0};
    return with_retry(impl, trip_put, &a);
}

static int redis_del(void *impl, const void *key, size_t klen)
{
    struct put_arg a = {key, NULL, klen, 0, 1};
    return with_retry(impl, trip_put, &a);
}

struct mget_arg {
    uint32_t n;
    const void *const *keys;
    const size_t *klens;
    struct jc_buf *arena;
    struct jc_store_val *vals;
};

/* Appends the decimal form of v. */
static char *put_dec(char *p, size_t v)
{
    char tmp[24];
    int n = 0;
    do {
        tmp[n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    while (n)
        *p++ = tmp[--n];
    return p;
}

/* The GET commands of one chunk, as raw RESP in one buffer, handed to
 * hiredis in a single append (hiredis' printf-style formatting per command
 * costs more than the round trip's share per key). */
static int append_gets(struct redis_impl *r, redisContext *c, const void *const *keys,
                       const size_t *klens, uint32_t m)
{
    struct redis_conn *cn = pthread_getspecific(r->key);
    size_t need = 0;
    for (uint32_t i = 0; i < m; i++)
        need += 40 + r->prefix_len + klens[i];
    if (need > cn->resp_cap) {
        char *b = jc_realloc(cn->resp, need);
        if (b == NULL)
            return JC_ENOMEM;
        cn->resp = b;
        cn->resp_cap = need;
    }
    char *resp_buf = cn->resp;
    char *p = resp_buf;
    for (uint32_t i = 0; i < m; i++) {
        static const char head[] = "*2\r\n$3\r\nGET\r\n$";
        memcpy(p, head, sizeof head - 1);
        p = put_dec(p + sizeof head - 1, r->prefix_len + klens[i]);
        *p++ = '\r';
        *p++ = '\n';
        memcpy(p, r->prefix, r->prefix_len);
        memcpy(p + r->prefix_len, keys[i], klens[i]);
        p += r->prefix_len + klens[i];
        *p++ = '\r';
        *p++ = '\n';
    }
    return redisAppendFormattedCommand(c, resp_buf, (size_t)(p - resp_buf)) == REDIS_OK ? JC_OK
                                                                                        : JC_ENOMEM;
}

static int trip_mget(struct redis_impl *r, redisContext *c, void *p)
{
    struct mget_arg *a = p;
    jc_buf_reset(a->arena);
    for (uint32_t base = 0; base < a->n; base += MGET_CHUNK) {
        uint32_t m = a->n - base < MGET_CHUNK ? a->n - base : MGET_CHUNK;
        int erc = append_gets(r, c, a->keys + base, a->klens + base, m);
        if (erc)
            return erc;
        int rc = JC_OK;
        for (uint32_t i = 0; i < m; i++) {
            redisReply *rep = NULL;
            int e = read_reply(r, c, &rep, "GET");
            if (e == JC_ECONN)
                return JC_ECONN; /* the connection is dropped; nothing to drain */
            if (e) {
                rc = rc ? rc : e;
                continue;
            }
            struct jc_store_val *v = &a->vals[base + i];
            v->off = a->arena->len;
            v->len = 0;
            v->found = 0;
            if (rep->type == REDIS_REPLY_STRING && rc == JC_OK) {
                rc = jc_buf_append(a->arena, rep->str, rep->len);
                v->len = rep->len;
                v->found = 1;
            }
            freeReplyObject(rep);
        }
        if (rc)
            return rc;
    }
    return JC_OK;
}

static int redis_mget(void *impl, uint32_t n, const void *const *keys, const size_t *klens,
                      struct jc_buf *arena, struct jc_store_val *vals)
{
    struct mget_arg a = {n, keys, klens, arena, vals};
    return with_retry(impl, trip_mget, &a);
}

/* SCAN step: one SCAN call plus a pipelined GET of the keys it returned. */
struct scan_arg {
    char cursor[32];
    const char *pattern;
    size_t pattern_len;
    redisReply *keys;  /* the SCAN key array (owned until consumed) */
    redisReply **vals; /* GET replies */
    size_t vals_cap;
};

static int trip_scan(struct redis_impl *r, redisContext *c, void *p)
{
    struct scan_arg *a = p;
    redisReply *rep =
        redisCommand(c, "SCAN %s MATCH %b COUNT 1000", a->cursor, a->pattern, a->pattern_len);
    if (rep == NULL)
        return JC_ECONN;
    if (rep->type == REDIS_REPLY_ERROR) {
        int rc = reply_error(r, rep, "SCAN");
        freeReplyObject(rep);
        return rc;
    }
    if (rep->type != REDIS_REPLY_ARRAY || rep->elements != 2 ||
        rep->element[0]->type != REDIS_REPLY_STRING || rep->element[1]->type != REDIS_REPLY_ARRAY) {
        freeReplyObject(rep);
        return jc_err_set(JC_EIO, "redis %s:%d: SCAN: unexpected reply", r->host, r->port);
    }
    redisReply *keys = rep->element[1];
    if (keys->elements > a->vals_cap) {
        redisReply **v = jc_realloc_array(a->vals, keys->elements, sizeof *v);
        if (v == NULL) {
            freeReplyObject(rep);
            return JC_ENOMEM;
        }
        a->vals = v;
        a->vals_cap = keys->elements;
    }
    for (size_t i = 0; i < keys->elements; i++)
        if (keys->element[i]->type != REDIS_REPLY_STRING ||
            redisAppendCommand(c, "GET %b", keys->element[i]->str, (size_t)keys->element[i]->len) !=
                REDIS_OK) {
            freeReplyObject(rep);
            return JC_ECONN;
        }
    for (size_t i = 0; i < keys->elements; i++) {
        void *v = NULL;
        if (redisGetReply(c, &v) != REDIS_OK || v == NULL) {
            for (size_t j = 0; j < i; j++)
                freeReplyObject(a->vals[j]);
            freeReplyObject(rep);
            return JC_ECONN;
        }
        a->vals[i] = v;
    }
    snprintf(a->cursor, sizeof a->cursor, "%.*s", (int)rep->element[0]->len, rep->element[0]->str);
    a->keys = rep;
    return JC_OK;
}

static int redis_scan(void *impl, const void *prefix, size_t plen, jc_store_scan_fn fn, void *ctx)
{
    struct redis_impl *r = impl;
    /* glob pattern: configured prefix + escaped logical prefix + "*" */
    char pat[2 * FULL_KEY_MAX + 2];
    size_t pn = 0;
    const char *parts[2] = {r->prefix, prefix};
    size_t lens[2] = {r->prefix_len, plen};
    for (int part = 0; part < 2; part++)
        for (size_t i = 0; i < lens[part]; i++) {
            char ch = parts[part][i];
            if (ch == '*' || ch == '?' || ch == '[' || ch == ']' || ch == '\\')
                pat[pn++] = '\\';
            pat[pn++] = ch;
        }
    pat[pn++] = '*';
    struct scan_arg a;
    memset(&a, 0, sizeof a);
    snprintf(a.cursor, sizeof a.cursor, "0");
    a.pattern = pat;
    a.pattern_len = pn;
    int rc = JC_OK, stop = 0;
    do {
        rc = with_retry(r, trip_scan, &a);
        if (rc)
            break;
        redisReply *keys = a.keys->element[1];
        for (size_t i = 0; i < keys->elements; i++) {
            redisReply *v = a.vals[i];
            if (!stop && v->type == REDIS_REPLY_STRING && keys->element[i]->len >= r->prefix_len)
                stop = fn(ctx, keys->element[i]->str + r->prefix_len,
                          keys->element[i]->len - r->prefix_len, v->str, v->len);
            freeReplyObject(v);
        }
        freeReplyObject(a.keys);
        a.keys = NULL;
    } while (!stop && strcmp(a.cursor, "0") != 0);
    jc_free(a.vals);
    return rc;
}

static int trip_write(struct redis_impl *r, redisContext *c, void *p)
{
    const struct jc_store_batch *b = p;
    if (redisAppendCommand(c, "MULTI") != REDIS_OK)
        return JC_ECONN;
    const char *base = b->data.data;
    for (uint32_t i = 0; i < b->n; i++) {
        const struct jc_store_op *op = &b->ops[i];
        int rc = op->del ? append_del(r, c, base + op->koff, op->klen)
                         : append_set(r, c, base + op->koff, op->klen, base + op->voff, op->vlen);
        if (rc)
            return JC_ECONN;
    }
    if (redisAppendCommand(c, "EXEC") != REDIS_OK)
        return JC_ECONN;
    int rc = JC_OK;
    for (uint32_t i = 0; i < b->n + 2; i++) {
        void *v = NULL;
        if (redisGetReply(c, &v) != REDIS_OK || v == NULL)
            return JC_ECONN;
        redisReply *rep = v;
        if (rc == JC_OK && rep->type == REDIS_REPLY_ERROR)
            rc = reply_error(r, rep, i == b->n + 1 ? "EXEC" : "MULTI/queue");
        if (rc == JC_OK && i == b->n + 1 && rep->type != REDIS_REPLY_ARRAY)
            rc = jc_err_set(JC_EIO, "redis %s:%d: EXEC: the transaction was aborted", r->host,
                            r->port);
        freeReplyObject(rep);
    }
    return rc;
}

static int redis_write(void *impl, const struct jc_store_batch *b)
{
    return with_retry(impl, trip_write, (void *)b);
}

static int trip_ping(struct redis_impl *r, redisContext *c, void *p)
{
    (void)p;
    redisReply *rep = redisCommand(c, "PING");
    if (rep == NULL)
        return JC_ECONN;
    int rc = rep->type == REDIS_REPLY_ERROR ? reply_error(r, rep, "PING") : JC_OK;
    freeReplyObject(rep);
    return rc;
}

int jc_store__redis_open(void **out, const struct jc_store_config *cfg)
{
    *out = NULL;
    const char *prefix = cfg->redis_prefix ? cfg->redis_prefix : "";
    if (strlen(prefix) > 64)
        return jc_err_set(JC_EINVAL, "redis.prefix is longer than 64 bytes");
    if (cfg->redis_host == NULL || cfg->redis_host[0] == '\0' || cfg->redis_port <= 0 ||
        cfg->redis_port > 65535)
        return jc_err_set(JC_EINVAL, "redis: bad address %s:%d",
                          cfg->redis_host ? cfg->redis_host : "", cfg->redis_port);
    struct redis_impl *r = jc_calloc(1, sizeof *r);
    if (r == NULL)
        return JC_ENOMEM;
    r->host = jc_strdup(cfg->redis_host);
    r->prefix = jc_strdup(prefix);
    r->password = jc_strdup(cfg->redis_password ? cfg->redis_password : "");
    if (!r->host || !r->prefix || !r->password) {
        jc_free(r->host);
        jc_free(r->prefix);
        jc_free(r->password);
        jc_free(r);
        return JC_ENOMEM;
    }
    r->prefix_len = strlen(prefix);
    r->port = cfg->redis_port;
    r->timeout_ms = cfg->redis_timeout_ms > 0 ? cfg->redis_timeout_ms : 1000;
    r->retries = cfg->redis_retries >= 0 ? cfg->redis_retries : 0;
    r->backoff_ms = cfg->redis_backoff_ms >= 0 ? cfg->redis_backoff_ms : 0;
    r->db = cfg->redis_db;
    r->ttl = cfg->redis_ttl;
    pthread_mutex_init(&r->lock, NULL);
    if (pthread_key_create(&r->key, conn_destructor) != 0) {
        pthread_mutex_destroy(&r->lock);
        jc_free(r->host);
        jc_free(r->prefix);
        jc_free(r->password);
        jc_free(r);
        return jc_err_set(JC_ELIMIT, "redis: no thread-specific keys left");
    }
    int rc = with_retry(r, trip_ping, NULL);
    if (rc && rc != JC_ECONN) {
        redis_close(r);
        return rc;
    }
    *out = r; /* on JC_ECONN too: the handle reconnects on the next call */
    return rc;
}

const struct jc_store_ops jc_store__redis_ops = {
    "redis", redis_get, redis_put, redis_del, redis_mget, redis_scan, redis_write, redis_close,
};
