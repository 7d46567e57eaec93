/*
 * lmdb.c - the embedded feature-store backend: one LMDB environment, the
 * unnamed database, logical keys as they are.
 *
 * The environment is opened with MDB_NOTLS, so read transactions are not
 * tied to threads. Single-key gets and multi-gets reuse a cached read
 * transaction per thread (mdb_txn_renew / mdb_txn_reset), which takes the
 * cost of a get down to the B-tree lookup and a copy. The cache is a small
 * thread-local table keyed by a generation number unique to each open
 * handle, so a closed handle's transactions are never touched again; every
 * cached transaction is registered with its handle and aborted by close.
 * Scans use their own short transaction (the callback may call get).
 * Writers serialise on LMDB's writer lock; readers never block them.
 */
#include "store/store_int.h"

#include "core/alloc.h"
#include "core/fileio.h"
#include <junco/error.h>

#include <errno.h>
#include <lmdb.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

#define TLS_SLOTS 4

struct lmdb_impl {
    MDB_env *env;
    MDB_dbi dbi;
    uint64_t gen;
    int read_only;
    uint64_t map_size;
    pthread_mutex_t lock; /* guards txns */
    MDB_txn **txns;       /* cached read transactions of all threads */
    size_t n_txns, cap_txns;
    char path[4096];
};

struct tls_slot {
    uint64_t gen;
    MDB_txn *txn;
};

static _Thread_local struct tls_slot tls[TLS_SLOTS];
static atomic_uint_fast64_t next_gen = 1;

static int lmdb_err(const struct lmdb_impl *l, int e, const char *what)
{
    switch (e) {
    case MDB_INVALID:
    case MDB_CORRUPTED:
    case MDB_PAGE_NOTFOUND:
        return jc_err_set(JC_ECORRUPT,
                          "store %s: %s: %s (not a valid LMDB environment, or "
                          "damaged)",
                          l->path, what, mdb_strerror(e));
    case MDB_VERSION_MISMATCH:
        return jc_err_set(JC_EVERSION, "store %s: %s: %s", l->path, what, mdb_strerror(e));
    case MDB_MAP_FULL:
        return jc_err_set(JC_ENOSPACE,
                          "store %s: %s: the map is full (store.map_size = %llu bytes; raise "
                          "it)",
                          l->path, what, (unsigned long long)l->map_size);
    case MDB_BAD_VALSIZE:
        return jc_err_set(JC_EINVAL, "store %s: %s: key or value size not supported by LMDB",
                          l->path, what);
    case MDB_READERS_FULL:
        return jc_err_set(JC_EBUSY, "store %s: %s: too many reader threads", l->path, what);
    case ENOSPC:
        return jc_err_set(JC_ENOSPACE, "store %s: %s: no space left on device", l->path, what);
    case ENOENT:
        return jc_err_set(JC_ENOTFOUND, "store %s: %s: %s", l->path, what, mdb_strerror(e));
    case EACCES:
    case EROFS:
        return jc_err_set(JC_EIO, "store %s: %s: permission denied", l->path, what);
    default:
        return jc_err_set(JC_EIO, "store %s: %s: %s", l->path, what, mdb_strerror(e));
    }
}

static void lmdb_close(void *impl)
{
    struct lmdb_impl *l = impl;
    if (l == NULL)
        return;
    for (size_t i = 0; i < l->n_txns; i++)
        mdb_txn_abort(l->txns[i]);
    for (int i = 0; i < TLS_SLOTS; i++)
        if (tls[i].gen == l->gen)
            tls[i].gen = 0, tls[i].txn = NULL;
    jc_free(l->txns);
    if (l->env)
        mdb_env_close(l->env);
    pthread_mutex_destroy(&l->lock);
    jc_free(l);
}

int jc_store__lmdb_open(void **out, const struct jc_store_config *cfg)
{
    struct lmdb_impl *l = jc_calloc(1, sizeof *l);
    if (l == NULL)
        return JC_ENOMEM;
    pthread_mutex_init(&l->lock, NULL);
    l->gen = atomic_fetch_add(&next_gen, 1);
    l->read_only = cfg->read_only;
    l->map_size = cfg->map_size;
    snprintf(l->path, sizeof l->path, "%s", cfg->path);
    int rc;
    if (!cfg->read_only && (rc = jc_mkdir_p(cfg->path)))
        goto fail;
    if (!jc_is_dir(cfg->path)) {
        if (jc_path_exists(cfg->path))
            rc = jc_err_set(JC_EINVAL, "store %s: not a directory", cfg->path);
        else
            rc = jc_err_set(JC_ENOTFOUND,
                            "store %s: no feature store here (run `junco publish features`)",
                            cfg->path);
        goto fail;
    }
    int e = mdb_env_create(&l->env);
    if (e) {
        rc = lmdb_err(l, e, "create environment");
        goto fail;
    }
    mdb_env_set_maxreaders(l->env, 1024);
    mdb_env_set_mapsize(l->env, (size_t)cfg->map_size);
    unsigned flags = MDB_NOTLS | (cfg->sync ? 0 : MDB_NOSYNC) | (cfg->read_only ? MDB_RDONLY : 0);
    e = mdb_env_open(l->env, cfg->path, flags, 0644);
    if (e) {
        rc = lmdb_err(l, e, "open");
        goto fail;
    }
    MDB_txn *txn;
    e = mdb_txn_begin(l->env, NULL, cfg->read_only ? MDB_RDONLY : 0, &txn);
    if (e == 0) {
        e = mdb_dbi_open(txn, NULL, 0, &l->dbi);
        if (e == 0)
            e = mdb_txn_commit(txn);
        else
            mdb_txn_abort(txn);
    }
    if (e) {
        rc = lmdb_err(l, e, "open database");
        goto fail;
    }
    *out = l;
    return JC_OK;
fail:
    lmdb_close(l);
    return rc;
}

/* A read transaction for this thread: cached (renewed) or one-shot. */
static int read_begin(struct lmdb_impl *l, MDB_txn **txn, int *cached)
{
    struct tls_slot *free_slot = NULL;
    for (int i = 0; i < TLS_SLOTS; i++) {
        if (tls[i].gen == l->gen) {
            int e = mdb_txn_renew(tls[i].txn);
            if (e)
                return lmdb_err(l, e, "read");
            *txn = tls[i].txn;
            *cached = 1;
            return JC_OK;
        }
        if (free_slot == NULL && tls[i].gen == 0)
            free_slot = &tls[i];
    }
    int e = mdb_txn_begin(l->env, NULL, MDB_RDONLY, txn);
    if (e)
        return lmdb_err(l, e, "read");
    *cached = 0;
    if (free_slot) {
        pthread_mutex_lock(&l->lock);
        if (l->n_txns == l->cap_txns) {
            size_t cap = l->cap_txns ? l->cap_txns * 2 : 16;
            MDB_txn **t = jc_realloc_array(l->txns, cap, sizeof *t);
            if (t) {
                l->txns = t;
                l->cap_txns = cap;
            }
        }
        if (l->n_txns < l->cap_txns) {
            l->txns[l->n_txns++] = *txn;
            free_slot->gen = l->gen;
            free_slot->txn = *txn;
            *cached = 1;
        }
        pthread_mutex_unlock(&l->lock);
    }
    return JC_OK;
}

static void read_end(MDB_txn *txn, int cached)
{
    if (cached)
        mdb_txn_reset(txn);
    else
        mdb_txn_abort(txn);
}

static int lmdb_get(void *impl, const void *key, size_t klen, struct jc_buf *val)
{
    struct lmdb_impl *l = impl;
    MDB_txn *txn;
    int cached;
    int rc = read_begin(l, &txn, &cached);
    if (rc)
        return rc;
    MDB_val k = {klen, (void *)key}, v;
    int e = mdb_get(txn, l->dbi, &k, &v);
    if (e == 0) {
        jc_buf_reset(val);
        rc = jc_buf_append(val, v.mv_data, v.mv_size);
        if (rc == JC_OK && v.mv_size == 0)
            rc = jc_buf_reserve(val, 1);
    } else if (e == MDB_NOTFOUND) {
        rc = jc_err_set(JC_ENOTFOUND, "store: no key '%.*s'", (int)(klen > 200 ? 200 : klen),
                        (const char *)key);
    } else {
        rc = lmdb_err(l, e, "get");
    }
    read_end(txn, cached);
    return rc;
}

static int write_txn(struct lmdb_impl *l, MDB_txn **txn)
{
    if (l->read_only)
        return jc_err_set(JC_ESTATE, "store %s: opened read-only", l->path);
    int e = mdb_txn_begin(l->env, NULL, 0, txn);
    return e ? lmdb_err(l, e, "begin write") : JC_OK;
}

static int commit(struct lmdb_impl *l, MDB_txn *txn)
{
    int e = mdb_txn_commit(txn);
    return e ? lmdb_err(l, e, "commit") : JC_OK;
}

static int lmdb_put(void *impl, const void *key, size_t klen, const void *val, size_t vlen)
{
    struct lmdb_impl *l = impl;
    MDB_txn *txn;
    int rc = write_txn(l, &txn);
    if (rc)
        return rc;
    MDB_val k = {klen, (void *)key}, v = {vlen, (void *)val};
    int e = mdb_put(txn, l->dbi, &k, &v, 0);
    if (e) {
        mdb_txn_abort(txn);
        return lmdb_err(l, e, "put");
    }
    return commit(l, txn);
}

static int lmdb_del(void *impl, const void *key, size_t klen)
{
    struct lmdb_impl *l = impl;
    MDB_txn *txn;
    int rc = write_txn(l, &txn);
    if (rc)
        return rc;
    MDB_val k = {klen, (void *)key};
    int e = mdb_del(txn, l->dbi, &k, NULL);
    if (e && e != MDB_NOTFOUND) {
        mdb_txn_abort(txn);
        return lmdb_err(l, e, "delete");
    }
    return commit(l, txn);
}

static int lmdb_mget(void *impl, uint32_t n, const void *const *keys, const size_t *klens,
                     struct jc_buf *arena, struct jc_store_val *vals)
{
    struct lmdb_impl *l = impl;
    MDB_txn *txn;
    int cached;
    int rc = read_begin(l, &txn, &cached);
    if (rc)
        return rc;
    for (uint32_t i = 0; i < n && rc == JC_OK; i++) {
        MDB_val k = {klens[i], (void *)keys[i]}, v;
        int e = mdb_get(txn, l->dbi, &k, &v);
        vals[i].off = arena->len;
        vals[i].len = 0;
        vals[i].found = 0;
        if (e == 0) {
            rc = jc_buf_append(arena, v.mv_data, v.mv_size);
            vals[i].len = v.mv_size;
            vals[i].found = 1;
        } else if (e != MDB_NOTFOUND) {
            rc = lmdb_err(l, e, "multi-get");
        }
    }
    read_end(txn, cached);
    return rc;
}

static int lmdb_scan(void *impl, const void *prefix, size_t plen, jc_store_scan_fn fn, void *ctx)
{
    struct lmdb_impl *l = impl;
    MDB_txn *txn;
    int e = mdb_txn_begin(l->env, NULL, MDB_RDONLY, &txn);
    if (e)
        return lmdb_err(l, e, "scan");
    MDB_cursor *cur;
    e = mdb_cursor_open(txn, l->dbi, &cur);
    if (e) {
        mdb_txn_abort(txn);
        return lmdb_err(l, e, "scan");
    }
    MDB_val k = {plen, (void *)prefix}, v;
    int rc = JC_OK;
    e = plen ? mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE) : mdb_cursor_get(cur, &k, &v, MDB_FIRST);
    while (e == 0) {
        if (k.mv_size < plen || memcmp(k.mv_data, prefix, plen) != 0)
            break;
        if (fn(ctx, k.mv_data, k.mv_size, v.mv_data, v.mv_size))
            break;
        e = mdb_cursor_get(cur, &k, &v, MDB_NEXT);
    }
    if (e && e != MDB_NOTFOUND)
        rc = lmdb_err(l, e, "scan");
    mdb_cursor_close(cur);
    mdb_txn_abort(txn);
    return rc;
}

static int lmdb_write(void *impl, const struct jc_store_batch *b)
{
    struct lmdb_impl *l = impl;
    MDB_txn *txn;
    int rc = write_txn(l, &txn);
    if (rc)
        return rc;
    const char *base = b->data.data;
    for (uint32_t i = 0; i < b->n; i++) {
        const struct jc_store_op *op = &b->ops[i];
        MDB_val k = {op->klen, (void *)(base + op->koff)};
        int e;
        if (op->del) {
            e = mdb_del(txn, l->dbi, &k, NULL);
            if (e == MDB_NOTFOUND)
                e = 0;
        } else {
            MDB_val v = {op->vlen, (void *)(base + op->voff)};
            e = mdb_put(txn, l->dbi, &k, &v, 0);
        }
        if (e) {
            mdb_txn_abort(txn);
            return lmdb_err(l, e, "batch write");
        }
    }
    return commit(l, txn);
}

const struct jc_store_ops jc_store__lmdb_ops = {
    "lmdb", lmdb_get, lmdb_put, lmdb_del, lmdb_mget, lmdb_scan, lmdb_write, lmdb_close,
};
