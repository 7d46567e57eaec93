/*
 * publish.c - writing an embedding's vectors into the feature store
 * (junco/store.h), where the online and nearline parts read them.
 *
 * Keys follow the store's schema (external catalog ids):
 *   emb:<name>:<item id>        item vector: dim float32, little-endian
 *   emb:<name>.user:<user id>   user vector (ials / bpr factor vectors)
 *   meta:emb:<name>             JSON: method, dim, counts, catalog checksum
 * Items without a vector (status NONE) are skipped; derived item vectors are
 * published too (serving may need a vector for every item). Writes go in
 * batches of 10000 records (one LMDB transaction / one Redis MULTI each).
 */
#include "embed_int.h"

#include "core/buf.h"
#include <junco/error.h>
#include <junco/store.h>

#include <stdio.h>
#include <string.h>

#define BATCH 10000

static int flush(struct jc_store *s, struct jc_store_batch *b)
{
    if (jc_store_batch_count(b) == 0)
        return JC_OK;
    int rc = jc_store_write(s, b);
    jc_store_batch_clear(b);
    return rc;
}

int jc_emb_publish(const struct jc_emb *e, const char *name, struct jc_store *s,
                   const struct jc_progress *progress, uint64_t *n_written)
{
    if (!jc_embed_name_valid(name))
        return jc_err_set(JC_EINVAL, "publish: bad embedding name '%s'", name);
    struct jc_store_batch *b;
    int rc = jc_store_batch_create(&b);
    if (rc)
        return rc;
    uint32_t d = jc_emb_dim(e);
    uint64_t n = 0;
    char key[JC_STORE_KEY_MAX + 1];
    uint32_t total = jc_emb_n_items(e) + jc_emb_n_users(e);
    for (uint32_t r = 0; r < total && rc == JC_OK; r++) {
        int user = r >= jc_emb_n_items(e);
        uint32_t id = user ? r - jc_emb_n_items(e) : r;
        const float *v =
            user ? jc_emb_user_vec(e, id)
                 : (jc_emb_item_status(e, id) != JC_EMB_NONE ? jc_emb_item_vec(e, id) : NULL);
        if (v == NULL)
            continue;
        const char *ext = user ? jc_emb_user_ext_id(e, id) : jc_emb_item_ext_id(e, id);
        int len = ext[0] ? snprintf(key, sizeof key, "emb:%s%s:%s", name, user ? ".user" : "", ext)
                         : snprintf(key, sizeof key, "emb:%s%s:%u", name, user ? ".user" : "", id);
        if (len < 0 || (size_t)len >= sizeof key) {
            rc = jc_err_set(JC_ELIMIT, "publish: key for '%s' is too long", ext);
            break;
        }
        rc = jc_store_batch_put(b, key, (size_t)len, v, d * sizeof(float));
        n++;
        if (rc == JC_OK && jc_store_batch_count(b) >= BATCH) {
            rc = flush(s, b);
            if (rc == JC_OK &&
                jc_progress_report(progress, "publish", r + 1, total, "vectors", NULL))
                rc = jc_err_set(JC_ECANCELED, "publish: canceled");
        }
    }
    if (rc == JC_OK) {
        struct jc_buf m;
        jc_buf_init(&m, 1 << 16);
        rc = jc_buf_printf(&m,
                           "{\"method\":\"%s\",\"dim\":%u,\"items\":%u,\"users\":%u,"
                           "\"vectors\":%llu,\"catalog_checksum\":\"%016llx\"}",
                           jc_embed_method_name(jc_emb_method(e)), d, jc_emb_n_items(e),
                           jc_emb_n_users(e), (unsigned long long)n,
                           (unsigned long long)jc_emb_catalog_checksum(e));
        int len = snprintf(key, sizeof key, "meta:emb:%s", name);
        if (rc == JC_OK)
            rc = jc_store_batch_put(b, key, (size_t)len, m.data, m.len);
        jc_buf_free(&m);
    }
    if (rc == JC_OK)
        rc = flush(s, b);
    jc_store_batch_destroy(b);
    if (rc == JC_OK && n_written)
        *n_written = n;
    return rc;
}
