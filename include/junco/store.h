/*
 * junco/store.h - the feature store: a small key-value interface with two
 * backends, and typed helpers for the records junco keeps in it.
 *
 * Backends (struct jc_store_ops inside src/store/):
 *   - lmdb (default): one LMDB environment in <home>/store/ (data.mdb +
 *     lock.mdb), one database, keys as below. Readers never block writers
 *     (MVCC); single-key reads reuse a per-thread read transaction, so a get
 *     costs well under a microsecond. A file that is not a valid LMDB
 *     environment fails to open with JC_ECORRUPT naming the path.
 *   - redis: hiredis, one connection per thread (created on first use),
 *     every key prefixed with redis.prefix ("jc:"), optional TTL, pipelined
 *     multi-gets, batches as MULTI/EXEC. On a connection error the command is
 *     retried redis.retries times, reconnecting with exponential backoff
 *     (redis.backoff_ms doubling, capped at 2 s); then it fails with
 *     JC_ECONN "redis HOST:PORT: ..." - or, with store.fallback, the
 *     operation goes to the embedded LMDB store instead (logged once).
 *
 * Key schema (logical keys; Redis adds the prefix, e.g. "jc:uf:42"):
 *   uf:<user id>         user state (jc_user_state_encode)
 *   if:<item id>         item state (jc_item_state_encode)
 *   emb:<name>:<id>      an embedding: float32 little-endian vector
 *   list:<name>:<id>     a precomputed list (format owned by its writer)
 *   meta:<name>          small metadata records (e.g. meta:features)
 * Ids are the external ids of the catalog. docs/FEATURES.md has the details.
 *
 * Values are opaque bytes. Threading: a store handle may be used from any
 * number of threads at once; jc_store_close must be called once, after all
 * other calls have returned. Batches belong to one thread.
 */
#ifndef JUNCO_STORE_H
#define JUNCO_STORE_H

#include <junco/catalog.h>
#include <junco/config.h>
#include <junco/featspec.h>
#include <junco/progress_cb.h>

#include <stddef.h>
#include <stdint.h>

#define JC_STORE_KEY_MAX   511         /* bytes of a logical key (LMDB's key limit) */
#define JC_STORE_VALUE_MAX (64u << 20) /* bytes of one value */

struct jc_buf;
struct jc_store;
struct jc_store_batch;

enum jc_store_backend { JC_STORE_LMDB = 0, JC_STORE_REDIS = 1 };

struct jc_store_config {
    enum jc_store_backend backend;
    const char *path;  /* LMDB directory (created if missing); also the fallback */
    uint64_t map_size; /* LMDB map size in bytes */
    int sync;          /* LMDB: fsync on commit */
    int read_only;     /* LMDB: open read-only */
    int fallback;      /* redis: use LMDB at path when Redis is unreachable */
    const char *redis_host;
    int redis_port;
    const char *redis_prefix;
    int64_t redis_ttl; /* seconds, 0 = none */
    int redis_timeout_ms;
    int redis_retries;
    int redis_backoff_ms;
    int redis_db;
    const char *redis_password; /* NULL or "" = no AUTH */
};

/* Defaults: lmdb, 8 GiB map, sync on, redis 127.0.0.1:6379 prefix "jc:". */
void jc_store_config_default(struct jc_store_config *c);
/* From [store] and [redis]; path = <home>/store. path_buf (>= 4096 bytes)
 * holds the path; strings are borrowed from cfg. */
int jc_store_config_from(struct jc_store_config *c, const struct jc_config *cfg, const char *home,
                         char *path_buf, size_t path_cap);

/*
 * Opens a store. LMDB: creates the directory and environment if needed;
 * JC_ECORRUPT for a file that is not an LMDB environment, JC_EIO otherwise.
 * Redis: connects once to check the server (JC_ECONN unless fallback is
 * set, in which case the LMDB store is opened and used).
 */
int jc_store_open(struct jc_store **out, const struct jc_store_config *cfg);
void jc_store_close(struct jc_store *s);
/* "lmdb" or "redis" (the backend in use, "lmdb" after a fallback). */
const char *jc_store_backend_name(const struct jc_store *s);

/* Reads key into val (reset first). JC_ENOTFOUND if absent. */
int jc_store_get(struct jc_store *s, const void *key, size_t klen, struct jc_buf *val);
int jc_store_put(struct jc_store *s, const void *key, size_t klen, const void *val, size_t vlen);
/* Deleting an absent key is not an error. */
int jc_store_del(struct jc_store *s, const void *key, size_t klen);

/* One result of a multi-get: the value is arena->data[off .. off + len). */
struct jc_store_val {
    size_t off;
    size_t len;
    int found;
};
/*
 * Reads n keys in one round trip (LMDB: one read transaction; Redis: one
 * pipeline). arena is reset and receives the values; vals[i] says where.
 * Missing keys are found = 0, not an error. After warm-up (arena large
 * enough) no allocation happens on the LMDB path.
 */
int jc_store_mget(struct jc_store *s, uint32_t n, const void *const *keys, const size_t *klens,
                  struct jc_buf *arena, struct jc_store_val *vals);

/*
 * Calls fn for every key starting with prefix (LMDB: in key order; Redis:
 * SCAN order) with the logical key and value; fn returns nonzero to stop
 * (then scan returns JC_OK). The pointers are valid during the call only.
 */
typedef int (*jc_store_scan_fn)(void *ctx, const char *key, size_t klen, const void *val,
                                size_t vlen);
int jc_store_scan(struct jc_store *s, const void *prefix, size_t plen, jc_store_scan_fn fn,
                  void *ctx);

/* Write batches: applied atomically by jc_store_write (one LMDB write
 * transaction; one Redis MULTI/EXEC). The batch keeps copies of the bytes. */
int jc_store_batch_create(struct jc_store_batch **out);
void jc_store_batch_destroy(struct jc_store_batch *b);
int jc_store_batch_put(struct jc_store_batch *b, const void *key, size_t klen, const void *val,
                       size_t vlen);
int jc_store_batch_del(struct jc_store_batch *b, const void *key, size_t klen);
uint32_t jc_store_batch_count(const struct jc_store_batch *b);
void jc_store_batch_clear(struct jc_store_batch *b);
int jc_store_write(struct jc_store *s, const struct jc_store_batch *b);

/* ---- typed records --------------------------------------------------------- */

/* "uf:<ext id>" / "if:<ext id>" for a catalog user/item into out (cap bytes);
 * returns the length, or 0 if it does not fit or the id is out of range. */
size_t jc_store_user_key(const struct jc_catalog *cat, uint32_t user, char *out, size_t cap);
size_t jc_store_item_key(const struct jc_catalog *cat, uint32_t item, char *out, size_t cap);

/* Loads a user's state; a user without a record gets an empty state
 * (*found = 0). JC_ECORRUPT / JC_EVERSION for a bad record. */
int jc_store_get_user_state(struct jc_store *s, const struct jc_featspec *spec, uint32_t user,
                            struct jc_user_state *out, int *found);
int jc_store_put_user_state(struct jc_store *s, const struct jc_featspec *spec, uint32_t user,
                            const struct jc_user_state *st);
/* Loads n item states with one multi-get (missing items: empty states).
 * arena and vals (n entries) are caller scratch, reusable across calls. */
int jc_store_get_item_states(struct jc_store *s, const struct jc_featspec *spec, uint32_t n,
                             const uint32_t *items, struct jc_item_state *out, struct jc_buf *arena,
                             struct jc_store_val *vals);
int jc_store_put_item_state(struct jc_store *s, const struct jc_featspec *spec, uint32_t item,
                            const struct jc_item_state *st);

struct jc_publish_report {
    uint64_t users, items; /* records written */
    uint64_t bytes;        /* value bytes written */
    double seconds;
};

/*
 * `junco publish features`: replays every interaction of the catalog through
 * the same add functions as the offline job (users in time order, items in
 * time order) and writes the final user and item states, plus meta:features
 * (spec id, catalog checksum, time), in batches of 10000 records.
 */
int jc_store_publish_features(struct jc_store *s, const struct jc_featspec *spec,
                              const struct jc_progress *progress, struct jc_publish_report *rep);

#endif
