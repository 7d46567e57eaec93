/*
 * featstore.c - typed records of the feature store (user and item states
 * under "uf:<id>" / "if:<id>") and `junco publish features`.
 *
 * Publishing replays the catalog through jc_user_state_add and
 * jc_item_state_add, the functions the offline job and the nearline worker
 * use, so the states in the store are exactly what the offline job would
 * hold after the last event, and online rows match training rows.
 */
#include "core/alloc.h"
#include "core/buf.h"
#include "core/json.h"
#include "core/timeutil.h"
#include <junco/error.h>
#include <junco/store.h>

#include <stdio.h>
#include <string.h>

#define PUBLISH_BATCH 10000u

static size_t make_key(const char *kind, const char *id, char *out, size_t cap)
{
    int n = snprintf(out, cap, "%s:%s", kind, id);
    return n > 0 && (size_t)n < cap && (size_t)n <= JC_STORE_KEY_MAX ? (size_t)n : 0;
}

size_t jc_store_user_key(const struct jc_catalog *cat, uint32_t user, char *out, size_t cap)
{
    if (user >= jc_catalog_n_users(cat))
        return 0;
    return make_key("uf", jc_catalog_user_ext_id(cat, user), out, cap);
}

size_t jc_store_item_key(const struct jc_catalog *cat, uint32_t item, char *out, size_t cap)
{
    if (item >= jc_catalog_n_items(cat))
        return 0;
    return make_key("if", jc_catalog_item_ext_id(cat, item), out, cap);
}

static const struct jc_catalog *spec_cat(const struct jc_featspec *spec)
{
    return jc_featspec_catalog(spec);
}

int jc_store_get_user_state(struct jc_store *s, const struct jc_featspec *spec, uint32_t user,
                            struct jc_user_state *out, int *found)
{
    const struct jc_catalog *cat = spec_cat(spec);
    if (cat == NULL)
        return jc_err_set(JC_ESTATE, "store: the feature spec has no catalog");
    char key[JC_STORE_KEY_MAX + 1];
    size_t kn = jc_store_user_key(cat, user, key, sizeof key);
    if (kn == 0)
        return jc_err_set(JC_ERANGE, "store: user %u is not in the catalog", user);
    struct jc_buf v;
    jc_buf_init(&v, JC_USTATE_ENC_MAX);
    int rc = jc_store_get(s, key, kn, &v);
    if (rc == JC_ENOTFOUND) {
        jc_user_state_init(out, spec);
        if (found)
            *found = 0;
        rc = JC_OK;
    } else if (rc == JC_OK) {
        rc = jc_user_state_decode(out, spec, v.data, v.len);
        if (rc)
            jc_err_prefix(rc, "store key %.*s", (int)kn, key);
        else if (found)
            *found = 1;
    }
    jc_buf_free(&v);
    return rc;
}

int jc_store_put_user_state(struct jc_store *s, const struct jc_featspec *spec, uint32_t user,
                            const struct jc_user_state *st)
{
    const struct jc_catalog *cat = spec_cat(spec);
    if (cat == NULL)
        return jc_err_set(JC_ESTATE, "store: the feature spec has no catalog");
    char key[JC_STORE_KEY_MAX + 1];
    size_t kn = jc_store_user_key(cat, user, key, sizeof key);
    if (kn == 0)
        return jc_err_set(JC_ERANGE, "store: user %u is not in the catalog", user);
    uint8_t enc[JC_USTATE_ENC_MAX];
    size_t len;
    int rc = jc_user_state_encode(st, enc, sizeof enc, &len);
    return rc ? rc : jc_store_put(s, key, kn, enc, len);
}

int jc_store_put_item_state(struct jc_store *s, const struct jc_featspec *spec, uint32_t item,
                            const struct jc_item_state *st)
{
    const struct jc_catalog *cat = spec_cat(spec);
    if (cat == NULL)
        return jc_err_set(JC_ESTATE, "store: the feature spec has no catalog");
    char key[JC_STORE_KEY_MAX + 1];
    size_t kn = jc_store_item_key(cat, item, key, sizeof key);
    if (kn == 0)
        return jc_err_set(JC_ERANGE, "store: item %u is not in the catalog", item);
    uint8_t enc[JC_ISTATE_ENC_SIZE];
    size_t len;
    int rc = jc_item_state_encode(st, enc, sizeof enc, &len);
    return rc ? rc : jc_store_put(s, key, kn, enc, len);
}

#define ITEM_KEYS_CHUNK 256u

int jc_store_get_item_states(struct jc_store *s, const struct jc_featspec *spec, uint32_t n,
                             const uint32_t *items, struct jc_item_state *out, struct jc_buf *arena,
                             struct jc_store_val *vals)
{
    const struct jc_catalog *cat = spec_cat(spec);
    if (cat == NULL)
        return jc_err_set(JC_ESTATE, "store: the feature spec has no catalog");
    /* keys are built in chunks in a stack buffer, values fetched per chunk */
    char kbuf[ITEM_KEYS_CHUNK][96]; /* ids longer than 92 bytes read as empty states */
    const void *keys[ITEM_KEYS_CHUNK];
    size_t klens[ITEM_KEYS_CHUNK];
    uint32_t slot[ITEM_KEYS_CHUNK];
    for (uint32_t base = 0; base < n; base += ITEM_KEYS_CHUNK) {
        uint32_t m = n - base < ITEM_KEYS_CHUNK ? n - base : ITEM_KEYS_CHUNK, nk = 0;
        for (uint32_t i = 0; i < m; i++) {
            jc_item_state_init(&out[base + i]);
            size_t kn = jc_store_item_key(cat, items[base + i], kbuf[nk], sizeof kbuf[nk]);
            if (kn == 0)
                continue; /* unknown or long id: an empty state */
            keys[nk] = kbuf[nk];
            klens[nk] = kn;
            slot[nk] = base + i;
            nk++;
        }
        int rc = jc_store_mget(s, nk, keys, klens, arena, vals);
        if (rc)
            return rc;
        for (uint32_t k = 0; k < nk; k++) {
            if (!vals[k].found)
                continue;
            rc = jc_item_state_decode(&out[slot[k]], arena->data + vals[k].off, vals[k].len);
            if (rc)
                return jc_err_prefix(rc, "store key %.*s", (int)klens[k], kbuf[k]);
        }
    }
    return JC_OK;
}

static int flush(struct jc_store *s, struct jc_store_batch *b)
{
    int rc = jc_store_write(s, b);
    jc_store_batch_clear(b);
    return rc;
}

int jc_store_publish_features(struct jc_store *s, const struct jc_featspec *spec,
                              const struct jc_progress *progress, struct jc_publish_report *rep)
{
    const struct jc_catalog *cat = spec_cat(spec);
    if (cat == NULL)
        return jc_err_set(JC_ESTATE, "publish: the feature spec has no catalog");
    uint64_t t0 = jc_now_ns();
    struct jc_publish_report r;
    memset(&r, 0, sizeof r);
    struct jc_store_batch *b;
    int rc = jc_store_batch_create(&b);
    if (rc)
        return rc;
    struct jc_user_state *us = jc_malloc(sizeof *us);
    if (us == NULL) {
        jc_store_batch_destroy(b);
        return JC_ENOMEM;
    }
    struct jc_interactions ia;
    jc_catalog_interactions(cat, &ia);
    uint32_t nu = jc_catalog_n_users(cat), ni = jc_catalog_n_items(cat);
    uint8_t enc[JC_USTATE_ENC_MAX];
    char key[JC_STORE_KEY_MAX + 1];
    for (uint32_t u = 0; u < nu && rc == JC_OK; u++) {
        uint64_t beg, end;
        jc_catalog_user_range(cat, u, &beg, &end);
        jc_user_state_init(us, spec);
        for (uint64_t q = beg; q < end; q++)
            jc_user_state_add(us, spec, ia.item[q], ia.value[q], ia.time[q]);
        size_t len, kn = jc_store_user_key(cat, u, key, sizeof key);
        if (kn == 0)
            continue;
        rc = jc_user_state_encode(us, enc, sizeof enc, &len);
        rc = rc ? rc : jc_store_batch_put(b, key, kn, enc, len);
        r.users++;
        r.bytes += len;
        if (rc == JC_OK && jc_store_batch_count(b) >= PUBLISH_BATCH) {
            rc = flush(s, b);
            if (jc_progress_report(progress, "publish users", u + 1, nu, "users", NULL))
                rc = rc ? rc : jc_err_set(JC_ECANCELED, "publish: canceled");
        }
    }
    for (uint32_t j = 0; j < ni && rc == JC_OK; j++) {
        const uint32_t *pos;
        uint64_t m = jc_catalog_item_interactions(cat, j, &pos);
        struct jc_item_state st;
        jc_item_state_init(&st);
        for (uint64_t k = 0; k < m; k++)
            jc_item_state_add(&st, ia.value[pos[k]], ia.time[pos[k]]);
        size_t len, kn = jc_store_item_key(cat, j, key, sizeof key);
        if (kn == 0)
            continue;
        rc = jc_item_state_encode(&st, enc, sizeof enc, &len);
        rc = rc ? rc : jc_store_batch_put(b, key, kn, enc, len);
        r.items++;
        r.bytes += len;
        if (rc == JC_OK && jc_store_batch_count(b) >= PUBLISH_BATCH) {
            rc = flush(s, b);
            if (jc_progress_report(progress, "publish items", j + 1, ni, "items", NULL))
                rc = rc ? rc : jc_err_set(JC_ECANCELED, "publish: canceled");
        }
    }
    if (rc == JC_OK) {
        struct jc_buf jb;
        struct jc_json j;
        jc_buf_init(&jb, 0);
        jc_json_init(&j, &jb, 0);
        jc_json_obj_begin(&j);
        char hex[32];
        snprintf(hex, sizeof hex, "%016llx", (unsigned long long)jc_featspec_id(spec));
        jc_json_kv_str(&j, "spec_id", hex);
        snprintf(hex, sizeof hex, "%016llx", (unsigned long long)jc_catalog_checksum(cat));
        jc_json_kv_str(&j, "catalog_checksum", hex);
        jc_json_kv_int(&j, "published", jc_wall_s());
        jc_json_kv_int(&j, "users", (int64_t)r.users);
        jc_json_kv_int(&j, "items", (int64_t)r.items);
        jc_json_kv_int(&j, "window", jc_featspec_options(spec)->window);
        jc_json_kv_int(&j, "history", jc_featspec_options(spec)->history);
        jc_json_obj_end(&j);
        rc = jc_json_finish(&j);
        if (rc == JC_OK)
            rc = jc_store_batch_put(b, "meta:features", 13, jb.data, jb.len);
        jc_buf_free(&jb);
    }
    if (rc == JC_OK)
        rc = flush(s, b);
    jc_free(us);
    jc_store_batch_destroy(b);
    if (rc == JC_OK && rep) {
        r.seconds = (double)(jc_now_ns() - t0) * 1e-9;
        *rep = r;
    }
    return rc;
}
