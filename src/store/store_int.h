/*
 * store_int.h - what the feature-store front end (store.c) and its backends
 * (lmdb.c, redis.c) share: the backend operations table and the layout of a
 * write batch.
 *
 * A backend implements every operation of struct jc_store_ops on its own
 * opaque handle. Keys reaching a backend are logical keys, already checked
 * for length (1..JC_STORE_KEY_MAX); backends add their own namespace (Redis:
 * the configured prefix). Backend functions follow the library's error
 * conventions (return JC_OK or a negative code with jc_err_set) and must be
 * callable from any thread; the Redis backend returns JC_ECONN exactly when
 * the server stayed unreachable after its retries, which is what the front
 * end's fallback reacts to.
 */
#ifndef JC_STORE_INT_H
#define JC_STORE_INT_H

#include "core/buf.h"
#include <junco/store.h>

#include <stddef.h>
#include <stdint.h>

struct jc_store_op {
    int del;
    size_t koff, klen; /* into batch->data */
    size_t voff, vlen;
};

struct jc_store_batch {
    struct jc_buf data;      /* concatenated keys and values */
    struct jc_store_op *ops; /* owned */
    uint32_t n, cap;
};

struct jc_store_ops {
    const char *name;
    int (*get)(void *impl, const void *key, size_t klen, struct jc_buf *val);
    int (*put)(void *impl, const void *key, size_t klen, const void *val, size_t vlen);
    int (*del)(void *impl, const void *key, size_t klen);
    int (*mget)(void *impl, uint32_t n, const void *const *keys, const size_t *klens,
                struct jc_buf *arena, struct jc_store_val *vals);
    int (*scan)(void *impl, const void *prefix, size_t plen, jc_store_scan_fn fn, void *ctx);
    int (*write)(void *impl, const struct jc_store_batch *b);
    void (*close)(void *impl);
};

extern const struct jc_store_ops jc_store__lmdb_ops;
extern const struct jc_store_ops jc_store__redis_ops;

int jc_store__lmdb_open(void **impl, const struct jc_store_config *cfg);
int jc_store__redis_open(void **impl, const struct jc_store_config *cfg);

#endif
