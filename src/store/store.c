/*
 * store.c - the feature-store front end: configuration, argument checks,
 * dispatch to the backend's operations table, the Redis -> LMDB fallback,
 * and write batches.
 *
 * The fallback is deliberate and visible: only when store.fallback is set,
 * and only after the Redis backend gave up (JC_ECONN after its retries), the
 * operation is served by the embedded LMDB store at cfg.path, which is
 * opened on first need; a warning is logged once per handle.
 */
#include "store/store_int.h"

#include "core/alloc.h"
#include "core/fileio.h"
#include "core/log.h"
#include "core/timeutil.h"
#include <junco/error.h>

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

struct jc_store {
    const struct jc_store_ops *ops;
    void *impl;
    /* fallback */
    int fallback;
    pthread_mutex_t fb_lock;
    _Atomic(void *) fb_impl;
    atomic_int fb_warned;
    _Atomic uint64_t fb_until; /* monotonic ns: skip Redis until then */
    struct jc_store_config fb_cfg;
    char *fb_path;
};

void jc_store_config_default(struct jc_store_config *c)
{
    memset(c, 0, sizeof *c);
    c->backend = JC_STORE_LMDB;
    c->path = "junco-data/store";
    c->map_size = (uint64_t)8 << 30;
    c->sync = 1;
    c->redis_host = "127.0.0.1";
    c->redis_port = 6379;
    c->redis_prefix = "jc:";
    c->redis_timeout_ms = 1000;
    c->redis_retries = 3;
    c->redis_backoff_ms = 50;
}

int jc_store_config_from(struct jc_store_config *c, const struct jc_config *cfg, const char *home,
                         char *path_buf, size_t path_cap)
{
    jc_store_config_default(c);
    int rc = jc_path_join(path_buf, path_cap, home, "store");
    if (rc)
        return rc;
    c->path = path_buf;
    c->backend = strcmp(cfg->store_backend, "redis") == 0 ? JC_STORE_REDIS : JC_STORE_LMDB;
    c->map_size = cfg->store_map_size;
    c->sync = cfg->store_sync;
    c->fallback = cfg->store_fallback;
    c->redis_host = cfg->redis_host;
    c->redis_port = (int)cfg->redis_port;
    c->redis_prefix = cfg->redis_prefix;
    c->redis_ttl = cfg->redis_ttl;
    c->redis_timeout_ms = (int)cfg->redis_timeout_ms;
    c->redis_retries = (int)cfg->redis_retries;
    c->redis_backoff_ms = (int)cfg->redis_backoff_ms;
    c->redis_db = (int)cfg->redis_db;
    c->redis_password = cfg->redis_password;
    return JC_OK;
}

/* The LMDB fallback handle, opened on first use; NULL on failure. */
static void *fallback_impl(struct jc_store *s)
{
    void *fb = atomic_load(&s->fb_impl);
    if (fb)
        return fb;
    pthread_mutex_lock(&s->fb_lock);
    fb = atomic_load(&s->fb_impl);
    if (fb == NULL) {
        if (jc_store__lmdb_open(&fb, &s->fb_cfg) == JC_OK)
            atomic_store(&s->fb_impl, fb);
        else
            fb = NULL;
    }
    pthread_mutex_unlock(&s->fb_lock);
    return fb;
}

#define FALLBACK_HOLD_NS 5000000000ull

/* After a backend failure: the fallback handle to retry on, or NULL. While
 * Redis is known to be down, operations skip it for FALLBACK_HOLD_NS instead
 * of paying the retries every time. */
static void *retry_target(struct jc_store *s, int rc)
{
    if (rc != JC_ECONN || !s->fallback)
        return NULL;
    char why[512];
    snprintf(why, sizeof why, "%s", jc_errmsg());
    void *fb = fallback_impl(s);
    if (fb) {
        atomic_store(&s->fb_until, jc_now_ns() + FALLBACK_HOLD_NS);
        if (atomic_exchange(&s->fb_warned, 1) == 0)
            JC_WARN("feature store: %s; falling back to the embedded store in %s", why,
                    s->fb_cfg.path);
    } else {
        jc_err_set(JC_ECONN, "%s (and the fallback store failed: %s)", why, jc_errmsg());
    }
    return fb;
}

/* The fallback handle when Redis is being skipped, else NULL. */
static void *bypass(struct jc_store *s)
{
    if (!s->fallback || jc_now_ns() >= atomic_load(&s->fb_until))
        return NULL;
    return atomic_load(&s->fb_impl);
}

int jc_store_open(struct jc_store **out, const struct jc_store_config *cfg)
{
    struct jc_store *s = jc_calloc(1, sizeof *s);
    if (s == NULL)
        return JC_ENOMEM;
    pthread_mutex_init(&s->fb_lock, NULL);
    int rc;
    if (cfg->backend == JC_STORE_REDIS) {
        s->ops = &jc_store__redis_ops;
        s->fallback = cfg->fallback;
        if (s->fallback) {
            if (cfg->path == NULL || (s->fb_path = jc_strdup(cfg->path)) == NULL) {
                rc = cfg->path ? JC_ENOMEM
                               : jc_err_set(JC_EINVAL, "store: fallback needs an LMDB path");
                goto fail;
            }
            s->fb_cfg = *cfg;
            s->fb_cfg.backend = JC_STORE_LMDB;
            s->fb_cfg.path = s->fb_path;
        }
        /* on JC_ECONN the handle exists and reconnects later */
        rc = jc_store__redis_open(&s->impl, cfg);
        if (rc == JC_ECONN && s->fallback && s->impl)
            rc = retry_target(s, rc) ? JC_OK : rc;
    } else {
        s->ops = &jc_store__lmdb_ops;
        if (cfg->path == NULL || cfg->path[0] == '\0') {
            rc = jc_err_set(JC_EINVAL, "store: no LMDB path");
            goto fail;
        }
        rc = jc_store__lmdb_open(&s->impl, cfg);
    }
    if (rc)
        goto fail;
    *out = s;
    return JC_OK;
fail:
    jc_store_close(s);
    return rc;
}

void jc_store_close(struct jc_store *s)
{
    if (s == NULL)
        return;
    if (s->impl)
        s->ops->close(s->impl);
    void *fb = atomic_load(&s->fb_impl);
    if (fb)
        jc_store__lmdb_ops.close(fb);
    pthread_mutex_destroy(&s->fb_lock);
    jc_free(s->fb_path);
    jc_free(s);
}

const char *jc_store_backend_name(const struct jc_store *s)
{
    if (s->ops == &jc_store__redis_ops && atomic_load(&((struct jc_store *)s)->fb_warned))
        return "lmdb";
    return s->ops->name;
}

static int check_key(const void *key, size_t klen)
{
    if (key == NULL || klen == 0 || klen > JC_STORE_KEY_MAX)
        return jc_err_set(JC_EINVAL, "store: key length %zu outside [1, %d]", klen,
                          JC_STORE_KEY_MAX);
    return JC_OK;
}

int jc_store_get(struct jc_store *s, const void *key, size_t klen, struct jc_buf *val)
{
    int rc = check_key(key, klen);
    if (rc)
        return rc;
    void *fb = bypass(s);
    rc = fb ? JC_ECONN : s->ops->get(s->impl, key, klen, val);
    fb = fb ? fb : retry_target(s, rc);
    return fb ? jc_store__lmdb_ops.get(fb, key, klen, val) : rc;
}

int jc_store_put(struct jc_store *s, const void *key, size_t klen, const void *val, size_t vlen)
{
    int rc = check_key(key, klen);
    if (rc)
        return rc;
    if (vlen > JC_STORE_VALUE_MAX)
        return jc_err_set(JC_ELIMIT, "store: value of %zu bytes (limit %u)", vlen,
                          JC_STORE_VALUE_MAX);
    void *fb = bypass(s);
    rc = fb ? JC_ECONN : s->ops->put(s->impl, key, klen, val, vlen);
    fb = fb ? fb : retry_target(s, rc);
    return fb ? jc_store__lmdb_ops.put(fb, key, klen, val, vlen) : rc;
}

int jc_store_del(struct jc_store *s, const void *key, size_t klen)
{
    int rc = check_key(key, klen);
    if (rc)
        return rc;
    void *fb = bypass(s);
    rc = fb ? JC_ECONN : s->ops->del(s->impl, key, klen);
    fb = fb ? fb : retry_target(s, rc);
    return fb ? jc_store__lmdb_ops.del(fb, key, klen) : rc;
}

int jc_store_mget(struct jc_store *s, uint32_t n, const void *const *keys, const size_t *klens,
                  struct jc_buf *arena, struct jc_store_val *vals)
{
    for (uint32_t i = 0; i < n; i++) {
        int rc = check_key(keys[i], klens[i]);
        if (rc)
            return rc;
    }
    jc_buf_reset(arena);
    if (n == 0)
        return JC_OK;
    void *fb = bypass(s);
    int rc = fb ? JC_ECONN : s->ops->mget(s->impl, n, keys, klens, arena, vals);
    fb = fb ? fb : retry_target(s, rc);
    if (fb) {
        jc_buf_reset(arena);
        rc = jc_store__lmdb_ops.mget(fb, n, keys, klens, arena, vals);
    }
    return rc;
}

int jc_store_scan(struct jc_store *s, const void *prefix, size_t plen, jc_store_scan_fn fn,
                  void *ctx)
{
    if (plen > JC_STORE_KEY_MAX)
        return jc_err_set(JC_EINVAL, "store: prefix of %zu bytes", plen);
    void *fb = bypass(s);
    int rc = fb ? JC_ECONN : s->ops->scan(s->impl, prefix, plen, fn, ctx);
    fb = fb ? fb : retry_target(s, rc);
    return fb ? jc_store__lmdb_ops.scan(fb, prefix, plen, fn, ctx) : rc;
}

int jc_store_write(struct jc_store *s, const struct jc_store_batch *b)
{
    if (b->n == 0)
        return JC_OK;
    void *fb = bypass(s);
    int rc = fb ? JC_ECONN : s->ops->write(s->impl, b);
    fb = fb ? fb : retry_target(s, rc);
    return fb ? jc_store__lmdb_ops.write(fb, b) : rc;
}

/* ---- batches -------------------------------------------------------------- */

int jc_store_batch_create(struct jc_store_batch **out)
{
    struct jc_store_batch *b = jc_calloc(1, sizeof *b);
    if (b == NULL)
        return JC_ENOMEM;
    jc_buf_init(&b->data, (size_t)1 << 34);
    *out = b;
    return JC_OK;
}

void jc_store_batch_destroy(struct jc_store_batch *b)
{
    if (b == NULL)
        return;
    jc_buf_free(&b->data);
    jc_free(b->ops);
    jc_free(b);
}

static int batch_add(struct jc_store_batch *b, int del, const void *key, size_t klen,
                     const void *val, size_t vlen)
{
    int rc = check_key(key, klen);
    if (rc)
        return rc;
    if (vlen > JC_STORE_VALUE_MAX)
        return jc_err_set(JC_ELIMIT, "store: value of %zu bytes (limit %u)", vlen,
                          JC_STORE_VALUE_MAX);
    if (b->n == b->cap) {
        uint32_t cap = b->cap ? b->cap * 2 : 256;
        struct jc_store_op *ops = jc_realloc_array(b->ops, cap, sizeof *ops);
        if (ops == NULL)
            return JC_ENOMEM;
        b->ops = ops;
        b->cap = cap;
    }
    struct jc_store_op op = {del, b->data.len, klen, 0, 0};
    size_t before = b->data.len;
    rc = jc_buf_append(&b->data, key, klen);
    if (rc == JC_OK && !del && vlen) {
        op.voff = b->data.len;
        op.vlen = vlen;
        rc = jc_buf_append(&b->data, val, vlen);
    } else {
        op.voff = b->data.len;
    }
    if (rc) {
        b->data.len = before;
        return rc;
    }
    b->ops[b->n++] = op;
    return JC_OK;
}

int jc_store_batch_put(struct jc_store_batch *b, const void *key, size_t klen, const void *val,
                       size_t vlen)
{
    return batch_add(b, 0, key, klen, val, vlen);
}

int jc_store_batch_del(struct jc_store_batch *b, const void *key, size_t klen)
{
    return batch_add(b, 1, key, klen, NULL, 0);
}

uint32_t jc_store_batch_count(const struct jc_store_batch *b)
{
    return b->n;
}

void jc_store_batch_clear(struct jc_store_batch *b)
{
    jc_buf_reset(&b->data);
    b->n = 0;
}
