/*
 * ann.c - the public face of the ANN module (include/junco/ann.h).
 *
 * Owns everything the three index types share: config validation, the
 * id -> node map and tombstones, vector validation and normalisation, the
 * search scratch pool (visited arrays and heaps reused across searches,
 * borrowed under a mutex so concurrent readers never share one), batch
 * searches on the worker pool, recall measurement, and the file frame:
 *
 *   [256-byte header][section 0][section 1]...   sections 64-byte aligned
 *   header: magic "JCANNIDX", version, layout, config, counts, section
 *           offsets/sizes, file size, xxh3 of the body, xxh3 of the header
 *   section 0: labels (n x u32), section 1: tombstones (n x u8, 0/1),
 *   sections 2..: type-specific (hnsw.c, lsh.c; FLAT: the vector matrix).
 *
 * All integers are little-endian (the loader rejects other byte orders).
 * Saving streams the sections through jc_wfile while hashing them, then
 * patches the header, so even a 1 GB index needs no extra copy.
 */
#include "ann/ann_int.h"

#include "core/alloc.h"
#include "core/log.h"
#include "core/pool.h"
#include <junco/config.h>
#include <junco/error.h>

#include <math.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define FILE_MAGIC             "JCANNIDX"
#define ENDIAN_MARK            0x01020304u
#define ADD_CHUNK              4096 /* vectors linked between progress reports */
#define BATCH_QUERIES_PER_TASK 8    /* queries per pool task in search_batch */

/* ---- config -------------------------------------------------------------- */

void jc_ann_config_default(struct jc_ann_config *cfg)
{
    memset(cfg, 0, sizeof *cfg);
    cfg->type = JC_ANN_HNSW;
    cfg->metric = JC_ANN_COSINE;
    cfg->dim = 0;
    cfg->capacity = 0;
    cfg->hnsw_m = 16;
    cfg->hnsw_ef_construction = 200;
    cfg->hnsw_ef_search = 64;
    cfg->lsh_tables = 16;
    cfg->lsh_bits = 10;
    cfg->lsh_probes = 2;
    cfg->seed = 42;
    cfg->threads = 1;
}

void jc_ann_config_from(struct jc_ann_config *cfg, const struct jc_config *j)
{
    jc_ann_config_default(cfg);
    enum jc_ann_type t;
    enum jc_ann_metric m;
    if (j->ann_type && jc_ann_parse_type(j->ann_type, &t) == JC_OK)
        cfg->type = t;
    if (j->ann_metric && jc_ann_parse_metric(j->ann_metric, &m) == JC_OK)
        cfg->metric = m;
    cfg->hnsw_m = (uint32_t)j->ann_hnsw_m;
    cfg->hnsw_ef_construction = (uint32_t)j->ann_hnsw_ef_construction;
    cfg->hnsw_ef_search = (uint32_t)j->ann_hnsw_ef_search;
    cfg->lsh_tables = (uint32_t)j->ann_lsh_tables;
    cfg->lsh_bits = (uint32_t)j->ann_lsh_bits;
    cfg->lsh_probes = (uint32_t)j->ann_lsh_probes;
    cfg->seed = (uint64_t)j->core_seed;
    cfg->threads = (int)j->core_threads;
}

const char *jc_ann_type_name(enum jc_ann_type t)
{
    switch (t) {
    case JC_ANN_FLAT:
        return "flat";
    case JC_ANN_HNSW:
        return "hnsw";
    case JC_ANN_LSH:
        return "lsh";
    }
    return "?";
}

const char *jc_ann_metric_name(enum jc_ann_metric m)
{
    switch (m) {
    case JC_ANN_IP:
        return "ip";
    case JC_ANN_COSINE:
        return "cosine";
    case JC_ANN_L2:
        return "l2";
    }
    return "?";
}

int jc_ann_parse_type(const char *s, enum jc_ann_type *out)
{
    if (s && strcmp(s, "flat") == 0)
        *out = JC_ANN_FLAT;
    else if (s && strcmp(s, "hnsw") == 0)
        *out = JC_ANN_HNSW;
    else if (s && strcmp(s, "lsh") == 0)
        *out = JC_ANN_LSH;
    else
        return jc_err_set(JC_EINVAL, "unknown index type '%s' (expected flat, hnsw or lsh)",
                          s ? s : "(null)");
    return JC_OK;
}

int jc_ann_parse_metric(const char *s, enum jc_ann_metric *out)
{
    if (s && (strcmp(s, "ip") == 0 || strcmp(s, "inner-product") == 0 || strcmp(s, "dot") == 0))
        *out = JC_ANN_IP;
    else if (s && strcmp(s, "cosine") == 0)
        *out = JC_ANN_COSINE;
    else if (s && strcmp(s, "l2") == 0)
        *out = JC_ANN_L2;
    else
        return jc_err_set(JC_EINVAL, "unknown metric '%s' (expected ip, cosine or l2)",
                          s ? s : "(null)");
    return JC_OK;
}

void jc_ann_search_opts_default(struct jc_ann_search_opts *o)
{
    memset(o, 0, sizeof *o);
    o->lsh_probes = -1;
}

void jc_ann_load_opts_default(struct jc_ann_load_opts *o)
{
    memset(o, 0, sizeof *o);
    o->threads = 1;
}

/* Validates a config; `err` is JC_EINVAL for callers and JC_ECORRUPT for
 * the loader (where a bad value means a bad file). */
static int check_config(const struct jc_ann_config *c, int err, const char *where)
{
    if ((unsigned)c->type > JC_ANN_LSH)
        return jc_err_set(err, "%sindex type %d is not flat, hnsw or lsh", where, (int)c->type);
    if ((unsigned)c->metric > JC_ANN_L2)
        return jc_err_set(err, "%smetric %d is not ip, cosine or l2", where, (int)c->metric);
    if (c->dim < 1 || c->dim > JC_ANN_MAX_DIM)
        return jc_err_set(err, "%sdim %u out of range 1..%u", where, c->dim, JC_ANN_MAX_DIM);
    if (c->capacity > JC_ANN_MAX_COUNT)
        return jc_err_set(err, "%scapacity %u above the limit %u", where, c->capacity,
                          JC_ANN_MAX_COUNT);
    if (c->hnsw_m < 2 || c->hnsw_m > 128)
        return jc_err_set(err, "%shnsw_m %u out of range 2..128", where, c->hnsw_m);
    if (c->hnsw_ef_construction < 1 || c->hnsw_ef_construction > JC_ANN_MAX_K)
        return jc_err_set(err, "%shnsw_ef_construction %u out of range 1..%u", where,
                          c->hnsw_ef_construction, JC_ANN_MAX_K);
    if (c->hnsw_ef_search < 1 || c->hnsw_ef_search > JC_ANN_MAX_K)
        return jc_err_set(err, "%shnsw_ef_search %u out of range 1..%u", where, c->hnsw_ef_search,
                          JC_ANN_MAX_K);
    if (c->lsh_tables < 1 || c->lsh_tables > 64)
        return jc_err_set(err, "%slsh_tables %u out of range 1..64", where, c->lsh_tables);
    if (c->lsh_bits < 1 || c->lsh_bits > 24)
        return jc_err_set(err, "%slsh_bits %u out of range 1..24", where, c->lsh_bits);
    if (c->lsh_probes > c->lsh_bits)
        return jc_err_set(err, "%slsh_probes %u above lsh_bits %u", where, c->lsh_probes,
                          c->lsh_bits);
    if (c->type == JC_ANN_LSH && ((uint64_t)c->lsh_tables << c->lsh_bits) > (1ull << 26))
        return jc_err_set(err, "%slsh_tables x 2^lsh_bits = %u x 2^%u exceeds 2^26 buckets", where,
                          c->lsh_tables, c->lsh_bits);
    if (c->threads < 0 || c->threads > 1024)
        return jc_err_set(err, "%sthreads %d out of range 0..1024", where, c->threads);
    return JC_OK;
}

/* ---- idmap --------------------------------------------------------------- */

static inline size_t id_slot(uint32_t id, size_t mask)
{
    return (size_t)(((uint64_t)id * 0x9E3779B97F4A7C15ull) >> 32) & mask;
}

void jc_ann__idmap_free(struct jc_ann__idmap *m)
{
    jc_free(m->keys);
    jc_free(m->vals);
    memset(m, 0, sizeof *m);
}

int jc_ann__idmap_reserve(struct jc_ann__idmap *m, size_t more)
{
    size_t need;
    if (jc_size_add(m->n, more, &need))
        return jc_err_set(JC_ENOMEM, "ann: id map size overflow");
    if (need * 2 <= m->cap)
        return JC_OK;
    size_t cap = m->cap ? m->cap : 64;
    while (cap < need * 2)
        cap *= 2;
    uint32_t *keys = jc_malloc_array(cap, sizeof *keys);
    uint32_t *vals = jc_malloc_array(cap, sizeof *vals);
    if (keys == NULL || vals == NULL) {
        jc_free(keys);
        jc_free(vals);
        return JC_ENOMEM;
    }
    memset(keys, 0xff, cap * sizeof *keys);
    for (size_t i = 0; i < m->cap; i++) {
        if (m->keys[i] == JC_ANN__NONE)
            continue;
        size_t j = id_slot(m->keys[i], cap - 1);
        while (keys[j] != JC_ANN__NONE)
            j = (j + 1) & (cap - 1);
        keys[j] = m->keys[i];
        vals[j] = m->vals[i];
    }
    jc_free(m->keys);
    jc_free(m->vals);
    m->keys = keys;
    m->vals = vals;
    m->cap = cap;
    return JC_OK;
}

uint32_t jc_ann__idmap_get(const struct jc_ann__idmap *m, uint32_t id)
{
    if (m->cap == 0)
        return JC_ANN__NONE;
    size_t mask = m->cap - 1;
    for (size_t j = id_slot(id, mask);; j = (j + 1) & mask) {
        if (m->keys[j] == id)
            return m->vals[j];
        if (m->keys[j] == JC_ANN__NONE)
            return JC_ANN__NONE;
    }
}

void jc_ann__idmap_put(struct jc_ann__idmap *m, uint32_t id, uint32_t node)
{
    JC_ASSERT(m->cap > 0 && (m->n + 1) * 2 <= m->cap);
    size_t mask = m->cap - 1;
    for (size_t j = id_slot(id, mask);; j = (j + 1) & mask) {
        if (m->keys[j] == id) {
            m->vals[j] = node;
            return;
        }
        if (m->keys[j] == JC_ANN__NONE) {
            m->keys[j] = id;
            m->vals[j] = node;
            m->n++;
            return;
        }
    }
}

/* ---- scratch --------------------------------------------------------------- */

struct jc_ann__scratch *jc_ann__scratch_new(const struct jc_ann *ix)
{
    struct jc_ann__scratch *s = jc_calloc(1, sizeof *s);
    if (s == NULL)
        return NULL;
    s->q = jc_malloc_aligned(64, (size_t)ix->dim_pad * sizeof(float));
    if (s->q == NULL) {
        jc_free(s);
        return NULL;
    }
    return s;
}

void jc_ann__scratch_free(struct jc_ann__scratch *s)
{
    if (s == NULL)
        return;
    jc_free(s->visited);
    jc_free(s->cand);
    jc_free(s->top);
    jc_free(s->tmp);
    jc_free(s->nb);
    jc_free(s->proj);
    jc_free_aligned(s->q);
    jc_free(s);
}

int jc_ann__scratch_fit(struct jc_ann__scratch *s, size_t n_nodes)
{
    if (s->visited_cap >= n_nodes)
        return JC_OK;
    size_t cap = n_nodes + n_nodes / 4 + 64;
    uint16_t *v = jc_calloc(cap, sizeof *v);
    if (v == NULL)
        return JC_ENOMEM;
    jc_free(s->visited);
    s->visited = v;
    s->visited_cap = cap;
    s->tag = 0;
    return JC_OK;
}

int jc_ann__grow_pairs(struct jc_ann__scratch *s, struct jc_ann__pair **arr, size_t *cap, size_t n)
{
    if (*cap >= n)
        return 0;
    size_t c = *cap ? *cap : 64;
    while (c < n)
        c *= 2;
    struct jc_ann__pair *p = jc_realloc_array(*arr, c, sizeof *p);
    if (p == NULL) {
        s->oom = 1;
        return -1;
    }
    *arr = p;
    *cap = c;
    return 0;
}

int jc_ann__grow_ids(struct jc_ann__scratch *s, size_t n)
{
    if (s->nb_cap >= n)
        return 0;
    size_t c = s->nb_cap ? s->nb_cap : 64;
    while (c < n)
        c *= 2;
    uint32_t *p = jc_realloc_array(s->nb, c, sizeof *p);
    if (p == NULL) {
        s->oom = 1;
        return -1;
    }
    s->nb = p;
    s->nb_cap = c;
    return 0;
}

struct jc_ann__scratch *jc_ann__scratch_get(const struct jc_ann *cix)
{
    struct jc_ann *ix = (struct jc_ann *)cix; /* the spare list is internally locked */
    struct jc_ann__scratch *s = NULL;
    pthread_mutex_lock(&ix->scratch_mu);
    if (ix->n_spare > 0)
        s = ix->spare[--ix->n_spare];
    pthread_mutex_unlock(&ix->scratch_mu);
    if (s == NULL && (s = jc_ann__scratch_new(ix)) == NULL)
        return NULL;
    if (jc_ann__scratch_fit(s, ix->n) != JC_OK) {
        jc_ann__scratch_free(s);
        return NULL;
    }
    s->oom = 0;
    return s;
}

void jc_ann__scratch_put(const struct jc_ann *cix, struct jc_ann__scratch *s)
{
    struct jc_ann *ix = (struct jc_ann *)cix;
    if (s == NULL)
        return;
    pthread_mutex_lock(&ix->scratch_mu);
    if (ix->n_spare == ix->cap_spare) {
        size_t c = ix->cap_spare ? ix->cap_spare * 2 : 8;
        struct jc_ann__scratch **p = jc_realloc_array(ix->spare, c, sizeof *p);
        if (p == NULL) {
            pthread_mutex_unlock(&ix->scratch_mu);
            jc_ann__scratch_free(s);
            return;
        }
        ix->spare = p;
        ix->cap_spare = c;
    }
    ix->spare[ix->n_spare++] = s;
    pthread_mutex_unlock(&ix->scratch_mu);
}

/* ---- vectors ---------------------------------------------------------------- */

/* Checks a vector cheaply (one SIMD dot product); *norm2 receives its
 * squared norm. On failure returns JC_EINVAL with a message naming the
 * vector as "<label>", "<label> <row>" (row >= 0) or "<label> <row> (id
 * <id>)" (id >= 0); the message is only formatted then, off the fast path. */
static int check_vector(const struct jc_ann *ix, const float *v, float *norm2, const char *label,
                        long long row, long long id)
{
    float n2 = ix->kern->dot(v, v, ix->dim);
    if (isfinite(n2) && (n2 > 0.0f || ix->cfg.metric != JC_ANN_COSINE)) {
        *norm2 = n2;
        return JC_OK;
    }
    char what[96];
    if (row < 0)
        snprintf(what, sizeof what, "%s", label);
    else if (id < 0)
        snprintf(what, sizeof what, "%s %lld", label, row);
    else
        snprintf(what, sizeof what, "%s %lld (id %lld)", label, row, id);
    if (!isfinite(n2)) {
        for (uint32_t i = 0; i < ix->dim; i++)
            if (!isfinite(v[i]))
                return jc_err_set(JC_EINVAL, "ann: %s has a non-finite component at [%u]", what, i);
        return jc_err_set(JC_EINVAL, "ann: %s has a norm too large for float", what);
    }
    return jc_err_set(JC_EINVAL,
                      "ann: %s is a zero vector (or too small to normalise), which has no "
                      "cosine",
                      what);
}

int jc_ann__prepare(const struct jc_ann *ix, const float *vec, float *out, const char *what)
{
    float n2;
    int rc = check_vector(ix, vec, &n2, what, -1, -1);
    if (rc != JC_OK)
        return rc;
    if (ix->cfg.metric == JC_ANN_COSINE) {
        float inv = (float)(1.0 / sqrt((double)n2));
        for (uint32_t i = 0; i < ix->dim; i++)
            out[i] = vec[i] * inv;
    } else {
        memcpy(out, vec, (size_t)ix->dim * sizeof(float));
    }
    for (uint32_t i = ix->dim; i < ix->dim_pad; i++)
        out[i] = 0.0f;
    return JC_OK;
}

/* ---- lifecycle ---------------------------------------------------------------- */

static int init_common(struct jc_ann *ix, const struct jc_ann_config *cfg)
{
    ix->cfg = *cfg;
    if (ix->cfg.threads == 0)
        ix->cfg.threads = jc_cpu_count();
    ix->dim = cfg->dim;
    ix->dim_pad = (cfg->dim + 7u) & ~7u;
    ix->kern = jc_ann__kernels();
    ix->dist = cfg->metric == JC_ANN_L2 ? ix->kern->l2sq : ix->kern->neg_dot;
    ix->dist_many = cfg->metric == JC_ANN_L2 ? ix->kern->l2sq_many : ix->kern->neg_dot_many;
    ix->labels_owned = 1;
    pthread_mutex_init(&ix->batch_mu, NULL);
    pthread_mutex_init(&ix->scratch_mu, NULL);
    if (ix->cfg.threads > 1) {
        int rc = jc_pool_create(&ix->pool, ix->cfg.threads);
        if (rc != JC_OK)
            return rc;
    }
    return JC_OK;
}

/* Grows the per-node arrays to hold at least `need` nodes. */
static int grow(struct jc_ann *ix, size_t need)
{
    if (need <= ix->cap)
        return JC_OK;
    size_t cap = ix->cap + ix->cap / 2;
    if (cap < need)
        cap = need;
    if (cap < 16)
        cap = 16;
    uint32_t *labels = jc_realloc_array(ix->labels, cap, sizeof *labels);
    if (labels == NULL)
        return JC_ENOMEM;
    ix->labels = labels;
    uint8_t *del = jc_realloc(ix->deleted, cap);
    if (del == NULL)
        return JC_ENOMEM;
    memset(del + ix->cap, 0, cap - ix->cap);
    ix->deleted = del;
    int rc = JC_OK;
    if (ix->cfg.type == JC_ANN_HNSW) {
        rc = jc_ann__hnsw_reserve(ix, cap);
    } else {
        size_t row = (size_t)ix->dim_pad * sizeof(float), bytes;
        if (jc_size_mul(cap, row, &bytes))
            return jc_err_set(JC_ENOMEM, "ann: %zu vectors overflow the address space", cap);
        float *v = jc_malloc_aligned(64, bytes);
        if (v == NULL)
            return JC_ENOMEM;
        if (ix->n)
            memcpy(v, ix->vmem, ix->n * row);
        jc_free_aligned(ix->vmem);
        ix->vmem = v;
        ix->vbase = (uint8_t *)v;
        ix->vstride = row;
        if (ix->cfg.type == JC_ANN_LSH)
            rc = jc_ann__lsh_reserve(ix, cap);
    }
    if (rc != JC_OK)
        return rc;
    ix->cap = cap;
    return JC_OK;
}

int jc_ann_create(struct jc_ann **out, const struct jc_ann_config *cfg)
{
    if (out == NULL || cfg == NULL)
        return jc_err_set(JC_EINVAL, "ann: jc_ann_create needs out and cfg");
    int rc = check_config(cfg, JC_EINVAL, "ann config: ");
    if (rc != JC_OK)
        return rc;
    struct jc_ann *ix = jc_calloc(1, sizeof *ix);
    if (ix == NULL)
        return JC_ENOMEM;
    rc = init_common(ix, cfg);
    if (rc == JC_OK) {
        if (cfg->type == JC_ANN_HNSW)
            rc = jc_ann__hnsw_create(ix);
        else if (cfg->type == JC_ANN_LSH)
            rc = jc_ann__lsh_create(ix);
    }
    if (rc == JC_OK)
        rc = grow(ix, cfg->capacity ? cfg->capacity : 16);
    if (rc != JC_OK) {
        jc_ann_destroy(ix);
        return rc;
    }
    *out = ix;
    return JC_OK;
}

void jc_ann_destroy(struct jc_ann *ix)
{
    if (ix == NULL)
        return;
    if (ix->hnsw)
        jc_ann__hnsw_destroy(ix);
    if (ix->lsh)
        jc_ann__lsh_destroy(ix);
    if (ix->labels_owned)
        jc_free(ix->labels);
    jc_free(ix->deleted);
    jc_free_aligned(ix->vmem);
    jc_ann__idmap_free(&ix->idmap);
    for (size_t i = 0; i < ix->n_spare; i++)
        jc_ann__scratch_free(ix->spare[i]);
    jc_free(ix->spare);
    if (ix->pool)
        jc_pool_destroy(ix->pool);
    if (ix->mapped)
        jc_map_close(&ix->map);
    pthread_mutex_destroy(&ix->batch_mu);
    pthread_mutex_destroy(&ix->scratch_mu);
    jc_free(ix);
}

/* ---- writing ------------------------------------------------------------------ */

int jc_ann_add(struct jc_ann *ix, uint32_t id, const float *vec)
{
    return jc_ann_add_batch(ix, &id, vec, 1, NULL);
}

int jc_ann_add_batch(struct jc_ann *ix, const uint32_t *ids, const float *vecs, size_t n,
                     const struct jc_progress *progress)
{
    if (ix == NULL || (n > 0 && (ids == NULL || vecs == NULL)))
        return jc_err_set(JC_EINVAL, "ann: add needs an index, ids and vectors");
    if (ix->mapped)
        return jc_err_set(JC_ESTATE, "ann: index is a read-only mapping; load it with "
                                     "writable = 1 to add vectors");
    if (n == 0)
        return JC_OK;
    if (n > JC_ANN_MAX_COUNT || ix->n + n > JC_ANN_MAX_COUNT)
        return jc_err_set(JC_ELIMIT, "ann: %zu + %zu vectors exceed the limit of %u", ix->n, n,
                          JC_ANN_MAX_COUNT);
    /* Validate everything before changing anything. */
    struct jc_ann__idmap batch = {0};
    int rc = n > 1 ? jc_ann__idmap_reserve(&batch, n) : JC_OK;
    for (size_t i = 0; rc == JC_OK && i < n; i++) {
        uint32_t id = ids[i];
        float n2;
        if (id == JC_ANN_NO_ID)
            rc = jc_err_set(JC_EINVAL, "ann: vector %zu: id %u is reserved", i, id);
        else if (jc_ann_contains(ix, id))
            rc = jc_err_set(JC_EEXISTS, "ann: vector %zu: id %u is already in the index", i, id);
        else if (n > 1 && jc_ann__idmap_get(&batch, id) != JC_ANN__NONE)
            rc = jc_err_set(JC_EEXISTS, "ann: vector %zu: id %u appears twice in the batch", i, id);
        else
            rc = check_vector(ix, vecs + i * ix->dim, &n2, "vector", (long long)i, id);
        if (rc == JC_OK && n > 1)
            jc_ann__idmap_put(&batch, id, (uint32_t)i);
    }
    jc_ann__idmap_free(&batch);
    if (rc != JC_OK)
        return rc;
    rc = grow(ix, ix->n + n);
    if (rc == JC_OK)
        rc = jc_ann__idmap_reserve(&ix->idmap, n);
    if (rc != JC_OK)
        return rc;

    for (size_t done = 0; done < n;) {
        size_t c = n - done < ADD_CHUNK ? n - done : ADD_CHUNK;
        size_t first = ix->n;
        if (ix->hnsw && (rc = jc_ann__hnsw_prepare_nodes(ix, first, c)) != JC_OK)
            return rc;
        for (size_t i = 0; i < c; i++) {
            size_t node = first + i;
            float *dst = (float *)(ix->vbase + node * ix->vstride);
            /* validated above: cannot fail */
            JC_ASSERT(jc_ann__prepare(ix, vecs + (done + i) * ix->dim, dst, "vector") == JC_OK);
            ix->labels[node] = ids[done + i];
            ix->deleted[node] = 0;
            jc_ann__idmap_put(&ix->idmap, ids[done + i], (uint32_t)node);
        }
        ix->n += c;
        if (ix->hnsw)
            rc = jc_ann__hnsw_insert(ix, first, c);
        else if (ix->lsh)
            rc = jc_ann__lsh_insert(ix, first, c);
        if (rc != JC_OK)
            return rc;
        done += c;
        if (jc_progress_report(progress, "ann build", done, n, "vectors", NULL))
            return jc_err_set(JC_ECANCELED, "ann: build canceled after %zu of %zu vectors", done,
                              n);
    }
    return JC_OK;
}

int jc_ann_remove(struct jc_ann *ix, uint32_t id)
{
    uint32_t node = jc_ann__idmap_get(&ix->idmap, id);
    if (node == JC_ANN__NONE || ix->deleted[node])
        return jc_err_set(JC_ENOTFOUND, "ann: id %u is not in the index", id);
    ix->deleted[node] = 1;
    ix->n_removed++;
    return JC_OK;
}

int jc_ann_contains(const struct jc_ann *ix, uint32_t id)
{
    uint32_t node = jc_ann__idmap_get(&ix->idmap, id);
    return node != JC_ANN__NONE && !ix->deleted[node];
}

size_t jc_ann_count(const struct jc_ann *ix)
{
    return ix->n - ix->n_removed;
}

int jc_ann_get_vector(const struct jc_ann *ix, uint32_t id, float *out)
{
    uint32_t node = jc_ann__idmap_get(&ix->idmap, id);
    if (node == JC_ANN__NONE || ix->deleted[node])
        return jc_err_set(JC_ENOTFOUND, "ann: id %u is not in the index", id);
    memcpy(out, jc_ann__vec(ix, node), (size_t)ix->dim * sizeof(float));
    return JC_OK;
}

void jc_ann_info(const struct jc_ann *ix, struct jc_ann_info *o)
{
    memset(o, 0, sizeof *o);
    o->type = ix->cfg.type;
    o->metric = ix->cfg.metric;
    o->dim = ix->dim;
    o->n_live = jc_ann_count(ix);
    o->n_removed = ix->n_removed;
    o->mapped = ix->mapped;
    o->hnsw_m = ix->cfg.hnsw_m;
    o->hnsw_ef_construction = ix->cfg.hnsw_ef_construction;
    o->hnsw_ef_search = ix->cfg.hnsw_ef_search;
    o->hnsw_max_level = ix->hnsw ? jc_ann__hnsw_max_level(ix) : -1;
    o->lsh_tables = ix->cfg.lsh_tables;
    o->lsh_bits = ix->cfg.lsh_bits;
    o->lsh_probes = ix->cfg.lsh_probes;
    o->seed = ix->cfg.seed;
    o->threads = ix->cfg.threads;
    size_t b = sizeof *ix + ix->cap * (ix->mapped ? 1 : 5) + ix->idmap.cap * 8;
    if (ix->hnsw)
        b += jc_ann__hnsw_bytes(ix);
    else
        b += ix->cap * ix->vstride;
    if (ix->lsh)
        b += jc_ann__lsh_bytes(ix);
    if (ix->mapped)
        b += ix->map.size;
    o->bytes = b;
}

/* ---- searching ------------------------------------------------------------------- */

static int cmp_hits(const void *a, const void *b)
{
    const struct jc_ann__pair *x = a, *y = b;
    if (x->d != y->d)
        return x->d > y->d ? -1 : 1;
    return x->id < y->id ? -1 : x->id > y->id;
}

#define RADIX_HITS_MAX 256 /* sort_hits_radix works on the stack up to this */

struct keyed_pair {
    uint64_t key;
    struct jc_ann__pair p;
};

/* The order of cmp_hits (score desc, id asc) as an ascending uint64: the
 * score's bits mapped to an order-preserving unsigned integer (-0 keyed as
 * +0, which compare equal), inverted, above the id. Not for NaN. */
static inline uint64_t hit_key(struct jc_ann__pair p)
{
    float d = p.d == 0.0f ? 0.0f : p.d;
    uint32_t b;
    memcpy(&b, &d, sizeof b);
    uint32_t asc = (b & 0x80000000u) ? ~b : (b | 0x80000000u);
    return ((uint64_t)~asc << 32) | p.id;
}

/* Sorts pairs[0..n) (n <= RADIX_HITS_MAX, no NaN score) in the order of
 * cmp_hits without comparison callbacks: a stable LSD radix sort over the
 * bytes of hit_key, skipping bytes that are equal in every key. */
static void sort_hits_radix(struct jc_ann__pair *pairs, size_t n)
{
    struct keyed_pair a[RADIX_HITS_MAX], b[RADIX_HITS_MAX];
    uint32_t hist[8][256];
    memset(hist, 0, sizeof hist);
    for (size_t i = 0; i < n; i++) {
        a[i].p = pairs[i];
        a[i].key = hit_key(pairs[i]);
        for (int d = 0; d < 8; d++)
            hist[d][(a[i].key >> (8 * d)) & 0xff]++;
    }
    struct keyed_pair *src = a, *dst = b;
    for (int d = 0; d < 8; d++) {
        uint32_t *h = hist[d];
        if (h[(src[0].key >> (8 * d)) & 0xff] == n)
            continue;
        uint32_t sum = 0;
        for (int v = 0; v < 256; v++) {
            uint32_t c = h[v];
            h[v] = sum;
            sum += c;
        }
        for (size_t i = 0; i < n; i++)
            dst[h[(src[i].key >> (8 * d)) & 0xff]++] = src[i];
        struct keyed_pair *t = src;
        src = dst;
        dst = t;
    }
    for (size_t i = 0; i < n; i++)
        pairs[i] = src[i].p;
}

uint32_t jc_ann__finish(const struct jc_ann *ix, struct jc_ann__pair *pairs, size_t have,
                        uint32_t k, struct jc_ann_hit *out)
{
    /* pairs is a max-heap on d. For have > k, select the k nearest with a
     * k-sized max-heap built in place at the front (cheaper than popping
     * have - k times from the big heap). */
    if (have > k) {
        size_t n = 0;
        for (size_t i = 0; i < have; i++) {
            struct jc_ann__pair x = pairs[i];
            if (n < k) {
                jc_ann__maxheap_push(pairs, &n, x.d, x.id);
            } else if (x.d < pairs[0].d) {
                jc_ann__maxheap_pop(pairs, &n);
                jc_ann__maxheap_push(pairs, &n, x.d, x.id);
            }
        }
        have = n;
    }
    for (size_t i = 0; i < have; i++) {
        pairs[i].d = -pairs[i].d;
        pairs[i].id = ix->labels[pairs[i].id];
    }
    /* by (score desc, id asc): insertion sort for the usual small k */
    if (have > 32) {
        int nan = 0;
        for (size_t i = 0; i < have; i++)
            nan |= isnan(pairs[i].d);
        if (have <= RADIX_HITS_MAX && !nan)
            sort_hits_radix(pairs, have);
        else
            qsort(pairs, have, sizeof *pairs, cmp_hits);
    }
    for (size_t i = 1; i < have; i++) {
        struct jc_ann__pair x = pairs[i];
        size_t j = i;
        while (j > 0 &&
               (pairs[j - 1].d < x.d || (pairs[j - 1].d == x.d && pairs[j - 1].id > x.id))) {
            pairs[j] = pairs[j - 1];
            j--;
        }
        pairs[j] = x;
    }
    for (size_t i = 0; i < have; i++) {
        out[i].id = pairs[i].id;
        out[i].score = pairs[i].d;
    }
    return (uint32_t)have;
}

static int check_k(uint32_t k)
{
    if (k < 1 || k > JC_ANN_MAX_K)
        return jc_err_set(JC_EINVAL, "ann: k = %u out of range 1..%u", k, JC_ANN_MAX_K);
    return JC_OK;
}

/* One search with a prepared query in s->q. */
static int search_prepared(const struct jc_ann *ix, struct jc_ann__scratch *s, uint32_t k,
                           const struct jc_ann_search_opts *o, struct jc_ann_hit *out,
                           uint32_t *n_out)
{
    if (ix->n == ix->n_removed) {
        *n_out = 0;
        return JC_OK;
    }
    if (o->exact || ix->cfg.type == JC_ANN_FLAT)
        return jc_ann__flat_search(ix, s, s->q, k, o, out, n_out);
    if (ix->cfg.type == JC_ANN_HNSW) {
        uint32_t ef = o->ef ? o->ef : ix->cfg.hnsw_ef_search;
        if (ef < k)
            ef = k;
        if (ef > JC_ANN_MAX_K)
            ef = JC_ANN_MAX_K;
        return jc_ann__hnsw_search(ix, s, s->q, k, ef, o, out, n_out);
    }
    int probes = o->lsh_probes < 0 ? (int)ix->cfg.lsh_probes : o->lsh_probes;
    if (probes > (int)ix->cfg.lsh_bits)
        probes = (int)ix->cfg.lsh_bits;
    return jc_ann__lsh_search(ix, s, s->q, k, probes, o, out, n_out);
}

int jc_ann_search(const struct jc_ann *ix, const float *query, uint32_t k,
                  const struct jc_ann_search_opts *opts, struct jc_ann_hit *out, uint32_t *n_out)
{
    if (ix == NULL || query == NULL || out == NULL || n_out == NULL)
        return jc_err_set(JC_EINVAL, "ann: search needs an index, a query and outputs");
    int rc = check_k(k);
    if (rc != JC_OK)
        return rc;
    struct jc_ann_search_opts def;
    if (opts == NULL) {
        jc_ann_search_opts_default(&def);
        opts = &def;
    }
    struct jc_ann__scratch *s = jc_ann__scratch_get(ix);
    if (s == NULL)
        return JC_ENOMEM;
    rc = jc_ann__prepare(ix, query, s->q, "query");
    if (rc == JC_OK)
        rc = search_prepared(ix, s, k, opts, out, n_out);
    jc_ann__scratch_put(ix, s);
    return rc;
}

struct batch_job {
    const struct jc_ann *ix;
    const float *queries;
    size_t n;
    uint32_t k;
    const struct jc_ann_search_opts *o;
    struct jc_ann_hit *out;
    uint32_t *n_out;
    atomic_int rc;
};

static void batch_task(void *ctx, uint64_t task, int worker)
{
    (void)worker;
    struct batch_job *j = ctx;
    const struct jc_ann *ix = j->ix;
    size_t lo = (size_t)task * BATCH_QUERIES_PER_TASK;
    size_t hi = lo + BATCH_QUERIES_PER_TASK < j->n ? lo + BATCH_QUERIES_PER_TASK : j->n;
    if (atomic_load(&j->rc) != JC_OK)
        return;
    int rc = JC_OK;
    if (j->o->exact || ix->cfg.type == JC_ANN_FLAT) {
        /* prepare the block's queries, then one blocked scan */
        float *qs = jc_malloc_aligned(64, (hi - lo) * ix->dim_pad * sizeof(float));
        if (qs == NULL) {
            rc = JC_ENOMEM;
        } else {
            for (size_t i = lo; i < hi && rc == JC_OK; i++)
                rc = jc_ann__prepare(ix, j->queries + i * ix->dim, qs + (i - lo) * ix->dim_pad,
                                     "query");
            if (rc == JC_OK)
                rc = jc_ann__flat_search_multi(ix, qs, hi - lo, j->k, j->o, j->out + lo * j->k,
                                               j->n_out + lo);
            jc_free_aligned(qs);
        }
    } else {
        struct jc_ann__scratch *s = jc_ann__scratch_get(ix);
        if (s == NULL)
            rc = JC_ENOMEM;
        for (size_t i = lo; i < hi && rc == JC_OK; i++) {
            rc = jc_ann__prepare(ix, j->queries + i * ix->dim, s->q, "query");
            if (rc == JC_OK)
                rc = search_prepared(ix, s, j->k, j->o, j->out + i * j->k, j->n_out + i);
        }
        jc_ann__scratch_put(ix, s);
    }
    if (rc != JC_OK) {
        int expect = JC_OK;
        atomic_compare_exchange_strong(&j->rc, &expect, rc);
    }
}

int jc_ann_search_batch(const struct jc_ann *ix, const float *queries, size_t n, uint32_t k,
                        const struct jc_ann_search_opts *opts, struct jc_ann_hit *out,
                        uint32_t *n_out)
{
    if (ix == NULL || (n > 0 && (queries == NULL || out == NULL || n_out == NULL)))
        return jc_err_set(JC_EINVAL, "ann: search_batch needs an index, queries and outputs");
    int rc = check_k(k);
    if (rc != JC_OK)
        return rc;
    struct jc_ann_search_opts def;
    if (opts == NULL) {
        jc_ann_search_opts_default(&def);
        opts = &def;
    }
    for (size_t i = 0; i < n; i++) {
        float n2;
        if ((rc = check_vector(ix, queries + i * ix->dim, &n2, "query", (long long)i, -1)) != JC_OK)
            return rc;
    }
    struct batch_job j = {ix, queries, n, k, opts, out, n_out, JC_OK};
    uint64_t tasks = (n + BATCH_QUERIES_PER_TASK - 1) / BATCH_QUERIES_PER_TASK;
    struct jc_ann *mix = (struct jc_ann *)ix; /* the pool is serialised by batch_mu */
    pthread_mutex_lock(&mix->batch_mu);
    if (ix->pool && tasks > 1) {
        jc_pool_run(ix->pool, tasks, batch_task, &j);
    } else {
        for (uint64_t t = 0; t < tasks; t++)
            batch_task(&j, t, 0);
    }
    pthread_mutex_unlock(&mix->batch_mu);
    rc = atomic_load(&j.rc);
    if (rc == JC_ENOMEM)
        return jc_err_set(JC_ENOMEM, "ann: out of memory in a batch search of %zu queries", n);
    return rc;
}

int jc_ann_recall(const struct jc_ann *ix, const float *queries, size_t n, uint32_t k,
                  const struct jc_ann_search_opts *opts, double *recall)
{
    if (ix == NULL || recall == NULL || (n > 0 && queries == NULL))
        return jc_err_set(JC_EINVAL, "ann: recall needs an index, queries and an output");
    int rc = check_k(k);
    if (rc != JC_OK)
        return rc;
    struct jc_ann_search_opts a, e;
    if (opts)
        a = *opts;
    else
        jc_ann_search_opts_default(&a);
    a.exact = 0;
    e = a;
    e.exact = 1;
    struct jc_ann_hit *ha = jc_malloc_array(n ? n : 1, (size_t)k * 2 * sizeof *ha);
    uint32_t *na = jc_malloc_array(n ? n : 1, 2 * sizeof *na);
    if (ha == NULL || na == NULL) {
        jc_free(ha);
        jc_free(na);
        return JC_ENOMEM;
    }
    struct jc_ann_hit *he = ha + n * k;
    uint32_t *ne = na + n;
    rc = jc_ann_search_batch(ix, queries, n, k, &a, ha, na);
    if (rc == JC_OK)
        rc = jc_ann_search_batch(ix, queries, n, k, &e, he, ne);
    if (rc == JC_OK) {
        double sum = 0.0;
        size_t counted = 0;
        for (size_t i = 0; i < n; i++) {
            if (ne[i] == 0)
                continue;
            uint32_t hit = 0;
            for (uint32_t x = 0; x < ne[i]; x++)
                for (uint32_t y = 0; y < na[i]; y++)
                    if (he[i * k + x].id == ha[i * k + y].id) {
                        hit++;
                        break;
                    }
            sum += (double)hit / ne[i];
            counted++;
        }
        *recall = counted ? sum / (double)counted : 1.0;
    }
    jc_free(ha);
    jc_free(na);
    return rc;
}

/* ---- files ------------------------------------------------------------------------ */

static void put32(uint8_t *p, uint32_t v)
{
    memcpy(p, &v, 4);
}
static void put64(uint8_t *p, uint64_t v)
{
    memcpy(p, &v, 8);
}
static uint32_t get32(const uint8_t *p)
{
    uint32_t v;
    memcpy(&v, p, 4);
    return v;
}
static uint64_t get64(const uint8_t *p)
{
    uint64_t v;
    memcpy(&v, p, 8);
    return v;
}

/* Header layout (byte offsets). */
enum {
    H_MAGIC = 0,
    H_VERSION = 8,
    H_HSIZE = 12,
    H_ENDIAN = 16,
    H_TYPE = 20,
    H_METRIC = 24,
    H_DIM = 28,
    H_DIMPAD = 32,
    H_M = 36,
    H_EFC = 40,
    H_EFS = 44,
    H_LSHT = 48,
    H_LSHB = 52,
    H_LSHP = 56,
    H_MAXLEV = 60,
    H_ENTRY = 64,
    H_NODESZ = 68,
    H_SEED = 72,
    H_N = 80,
    H_NREM = 88,
    H_AUX = 96,
    H_NSEC = 104,
    H_SECOFF = 112,  /* 7 x u64 */
    H_SECSIZE = 168, /* 7 x u64 */
    H_FSIZE = 224,
    H_BODYSUM = 240,
    H_HDRSUM = 248,
};
#define FILE_SECTIONS 7

static void encode_header(uint8_t *b, const struct jc_ann__fhdr *h, uint64_t file_size,
                          uint64_t body_sum)
{
    memset(b, 0, JC_ANN__HEADER_SIZE);
    memcpy(b + H_MAGIC, FILE_MAGIC, 8);
    put32(b + H_VERSION, JC_ANN_FORMAT_VERSION);
    put32(b + H_HSIZE, JC_ANN__HEADER_SIZE);
    put32(b + H_ENDIAN, ENDIAN_MARK);
    put32(b + H_TYPE, h->type);
    put32(b + H_METRIC, h->metric);
    put32(b + H_DIM, h->dim);
    put32(b + H_DIMPAD, h->dim_pad);
    put32(b + H_M, h->hnsw_m);
    put32(b + H_EFC, h->hnsw_efc);
    put32(b + H_EFS, h->hnsw_efs);
    put32(b + H_LSHT, h->lsh_tables);
    put32(b + H_LSHB, h->lsh_bits);
    put32(b + H_LSHP, h->lsh_probes);
    put32(b + H_MAXLEV, (uint32_t)h->max_level);
    put32(b + H_ENTRY, h->entry);
    put32(b + H_NODESZ, h->node_size);
    put64(b + H_SEED, h->seed);
    put64(b + H_N, h->n);
    put64(b + H_NREM, h->n_removed);
    put64(b + H_AUX, h->aux);
    put32(b + H_NSEC, h->n_sections);
    for (int i = 0; i < FILE_SECTIONS; i++) {
        put64(b + H_SECOFF + 8 * i, h->sec_off[i]);
        put64(b + H_SECSIZE + 8 * i, h->sec_size[i]);
    }
    put64(b + H_FSIZE, file_size);
    put64(b + H_BODYSUM, body_sum);
    put64(b + H_HDRSUM, jc_hash64(b, H_HDRSUM, 0));
}

int jc_ann_save(const struct jc_ann *ix, const char *path)
{
    if (ix == NULL || path == NULL)
        return jc_err_set(JC_EINVAL, "ann: save needs an index and a path");
    struct jc_ann__fhdr h;
    memset(&h, 0, sizeof h);
    h.type = ix->cfg.type;
    h.metric = ix->cfg.metric;
    h.dim = ix->dim;
    h.dim_pad = ix->dim_pad;
    h.hnsw_m = ix->cfg.hnsw_m;
    h.hnsw_efc = ix->cfg.hnsw_ef_construction;
    h.hnsw_efs = ix->cfg.hnsw_ef_search;
    h.lsh_tables = ix->cfg.lsh_tables;
    h.lsh_bits = ix->cfg.lsh_bits;
    h.lsh_probes = ix->cfg.lsh_probes;
    h.max_level = -1;
    h.entry = JC_ANN__NONE;
    h.seed = ix->cfg.seed;
    h.n = ix->n;
    h.n_removed = ix->n_removed;
    struct jc_ann__wsec sec[JC_ANN__MAX_SECTIONS];
    memset(sec, 0, sizeof sec);
    sec[0].data = ix->labels;
    sec[0].size = ix->n * sizeof(uint32_t);
    sec[1].data = ix->deleted;
    sec[1].size = ix->n;
    h.n_sections = 3;
    if (ix->cfg.type == JC_ANN_HNSW) {
        jc_ann__hnsw_save_parts(ix, &h, sec);
    } else {
        sec[2].data = ix->vmem;
        sec[2].size = ix->n * ix->vstride;
        if (ix->cfg.type == JC_ANN_LSH)
            jc_ann__lsh_save_parts(ix, &h, sec);
    }
    JC_ASSERT(h.n_sections <= FILE_SECTIONS);
    uint64_t off = JC_ANN__HEADER_SIZE;
    for (uint32_t i = 0; i < h.n_sections; i++) {
        h.sec_off[i] = off;
        h.sec_size[i] = sec[i].size;
        off = (off + sec[i].size + 63) & ~(uint64_t)63;
    }
    uint64_t file_size = off;

    struct jc_wfile w;
    struct jc_hasher hs = {0};
    int rc = jc_hasher_init(&hs);
    if (rc != JC_OK)
        return rc;
    rc = jc_wfile_open(&w, path);
    if (rc != JC_OK) {
        jc_hasher_free(&hs);
        return rc;
    }
    uint8_t hdr[JC_ANN__HEADER_SIZE];
    static const uint8_t zeros[64];
    memset(hdr, 0, sizeof hdr);
    rc = jc_wfile_write(&w, hdr, sizeof hdr);
    uint64_t pos = JC_ANN__HEADER_SIZE;
    for (uint32_t i = 0; i < h.n_sections && rc == JC_OK; i++) {
        if (sec[i].size)
            rc = jc_wfile_write(&w, sec[i].data, sec[i].size);
        jc_hasher_update(&hs, sec[i].data, sec[i].size);
        pos += sec[i].size;
        uint64_t pad = ((pos + 63) & ~(uint64_t)63) - pos;
        if (rc == JC_OK && pad) {
            rc = jc_wfile_write(&w, zeros, pad);
            jc_hasher_update(&hs, zeros, pad);
            pos += pad;
        }
    }
    if (rc == JC_OK) {
        JC_ASSERT(pos == file_size);
        encode_header(hdr, &h, file_size, jc_hasher_digest(&hs));
        rc = jc_wfile_pwrite(&w, hdr, sizeof hdr, 0);
    }
    jc_hasher_free(&hs);
    if (rc == JC_OK)
        rc = jc_wfile_commit(&w);
    else
        jc_wfile_abort(&w);
    if (rc != JC_OK)
        return jc_err_prefix(rc, "saving index %s", path);
    return JC_OK;
}

static int corrupt(const char *path, const char *what)
{
    return jc_err_set(JC_ECORRUPT, "%s: corrupt index file: %s", path, what);
}

/* Decodes and checks the frame (magic, sizes, checksums, section table). */
static int decode_frame(const uint8_t *b, size_t size, const char *path, struct jc_ann__fhdr *h)
{
    if (size < JC_ANN__HEADER_SIZE)
        return jc_err_set(JC_ECORRUPT,
                          "%s: truncated index file: %zu bytes, smaller than the %d-byte header",
                          path, size, JC_ANN__HEADER_SIZE);
    if (memcmp(b + H_MAGIC, FILE_MAGIC, 8) != 0)
        return corrupt(path, "bad magic (not a junco ANN index)");
    if (get64(b + H_HDRSUM) != jc_hash64(b, H_HDRSUM, 0))
        return corrupt(path, "header checksum mismatch");
    uint32_t version = get32(b + H_VERSION);
    if (version != JC_ANN_FORMAT_VERSION)
        return jc_err_set(JC_EVERSION, "%s: index format version %u, this junco reads %u", path,
                          version, JC_ANN_FORMAT_VERSION);
    if (get32(b + H_HSIZE) != JC_ANN__HEADER_SIZE || get32(b + H_ENDIAN) != ENDIAN_MARK)
        return corrupt(path, "unexpected header size or byte order");
    uint64_t fsize = get64(b + H_FSIZE);
    if (fsize != size)
        return jc_err_set(JC_ECORRUPT,
                          "%s: truncated or extended index file: %zu bytes, header says %llu", path,
                          size, (unsigned long long)fsize);
    if (get64(b + H_BODYSUM) != jc_hash64(b + JC_ANN__HEADER_SIZE, size - JC_ANN__HEADER_SIZE, 0))
        return corrupt(path, "body checksum mismatch");
    memset(h, 0, sizeof *h);
    h->type = get32(b + H_TYPE);
    h->metric = get32(b + H_METRIC);
    h->dim = get32(b + H_DIM);
    h->dim_pad = get32(b + H_DIMPAD);
    h->hnsw_m = get32(b + H_M);
    h->hnsw_efc = get32(b + H_EFC);
    h->hnsw_efs = get32(b + H_EFS);
    h->lsh_tables = get32(b + H_LSHT);
    h->lsh_bits = get32(b + H_LSHB);
    h->lsh_probes = get32(b + H_LSHP);
    h->max_level = (int32_t)get32(b + H_MAXLEV);
    h->entry = get32(b + H_ENTRY);
    h->node_size = get32(b + H_NODESZ);
    h->seed = get64(b + H_SEED);
    h->n = get64(b + H_N);
    h->n_removed = get64(b + H_NREM);
    h->aux = get64(b + H_AUX);
    h->n_sections = get32(b + H_NSEC);
    if (h->n_sections < 3 || h->n_sections > FILE_SECTIONS)
        return corrupt(path, "bad section count");
    uint64_t prev_end = JC_ANN__HEADER_SIZE;
    for (uint32_t i = 0; i < h->n_sections; i++) {
        h->sec_off[i] = get64(b + H_SECOFF + 8 * i);
        h->sec_size[i] = get64(b + H_SECSIZE + 8 * i);
        if (h->sec_off[i] % 64 != 0 || h->sec_off[i] < prev_end || h->sec_size[i] > size ||
            h->sec_off[i] > size - h->sec_size[i])
            return corrupt(path, "section table out of bounds");
        prev_end = h->sec_off[i] + h->sec_size[i];
    }
    if (h->n > JC_ANN_MAX_COUNT || h->n_removed > h->n)
        return corrupt(path, "bad vector counts");
    if (h->dim_pad != ((h->dim + 7u) & ~7u))
        return corrupt(path, "bad padded dimension");
    if (h->sec_size[0] != h->n * 4 || h->sec_size[1] != h->n)
        return corrupt(path, "label or tombstone section has the wrong size");
    return JC_OK;
}

int jc_ann_load(struct jc_ann **out, const char *path, const struct jc_ann_load_opts *opts)
{
    if (out == NULL || path == NULL)
        return jc_err_set(JC_EINVAL, "ann: load needs an output and a path");
    struct jc_ann_load_opts lo;
    if (opts)
        lo = *opts;
    else
        jc_ann_load_opts_default(&lo);
    struct jc_map map;
    int rc = jc_map_open(&map, path);
    if (rc != JC_OK)
        return rc;
    const uint8_t *b = map.data;
    struct jc_ann__fhdr h;
    rc = decode_frame(b, map.size, path, &h);
    if (rc != JC_OK) {
        jc_map_close(&map);
        return rc;
    }
    struct jc_ann_config cfg;
    jc_ann_config_default(&cfg);
    cfg.type = (enum jc_ann_type)h.type;
    cfg.metric = (enum jc_ann_metric)h.metric;
    cfg.dim = h.dim;
    cfg.hnsw_m = h.hnsw_m;
    cfg.hnsw_ef_construction = h.hnsw_efc;
    cfg.hnsw_ef_search = h.hnsw_efs;
    cfg.lsh_tables = h.lsh_tables;
    cfg.lsh_bits = h.lsh_bits;
    cfg.lsh_probes = h.lsh_probes;
    cfg.seed = h.seed;
    char where[512];
    snprintf(where, sizeof where, "%s: corrupt index file: ", path);
    rc = check_config(&cfg, JC_ECORRUPT, where);
    if (rc != JC_OK) {
        jc_map_close(&map);
        return rc;
    }
    if (lo.ef_search > JC_ANN_MAX_K) {
        jc_map_close(&map);
        return jc_err_set(JC_EINVAL, "ann: load ef_search %u above %u", lo.ef_search, JC_ANN_MAX_K);
    }
    if (lo.ef_search)
        cfg.hnsw_ef_search = lo.ef_search;
    cfg.threads = lo.threads;
    if (cfg.threads < 0 || cfg.threads > 1024)
        cfg.threads = 1;

    struct jc_ann *ix = jc_calloc(1, sizeof *ix);
    if (ix == NULL) {
        jc_map_close(&map);
        return JC_ENOMEM;
    }
    int keep_map = cfg.type == JC_ANN_HNSW && !lo.writable;
    if (keep_map) {
        ix->map = map;
        ix->mapped = 1;
    }
    rc = init_common(ix, &cfg);
    /* labels and tombstones */
    const uint32_t *labels = (const uint32_t *)(b + h.sec_off[0]);
    const uint8_t *del = b + h.sec_off[1];
    size_t cap = h.n ? h.n : 16;
    if (rc == JC_OK) {
        ix->deleted = jc_calloc(cap, 1);
        if (ix->deleted == NULL)
            rc = JC_ENOMEM;
    }
    if (rc == JC_OK) {
        if (keep_map) {
            ix->labels = (uint32_t *)labels;
            ix->labels_owned = 0;
        } else {
            ix->labels = jc_malloc_array(cap, sizeof(uint32_t));
            if (ix->labels == NULL)
                rc = JC_ENOMEM;
            else if (h.n)
                memcpy(ix->labels, labels, h.n * 4);
        }
    }
    if (rc == JC_OK)
        rc = jc_ann__idmap_reserve(&ix->idmap, h.n);
    size_t removed = 0;
    for (size_t i = 0; rc == JC_OK && i < h.n; i++) {
        if (del[i] > 1) {
            rc = corrupt(path, "tombstone flag not 0 or 1");
            break;
        }
        ix->deleted[i] = del[i];
        removed += del[i];
        uint32_t id = labels[i];
        if (id == JC_ANN_NO_ID) {
            rc = corrupt(path, "reserved id in the label table");
            break;
        }
        uint32_t prev = jc_ann__idmap_get(&ix->idmap, id);
        if (prev != JC_ANN__NONE && !ix->deleted[prev]) {
            if (!del[i]) {
                rc =
                    jc_err_set(JC_ECORRUPT, "%s: corrupt index file: id %u stored twice", path, id);
                break;
            }
            continue; /* a tombstone never hides a live node */
        }
        jc_ann__idmap_put(&ix->idmap, id, (uint32_t)i);
    }
    if (rc == JC_OK && removed != h.n_removed)
        rc = corrupt(path, "tombstone count does not match the header");
    if (rc == JC_OK) {
        ix->n = h.n;
        ix->n_removed = removed;
        ix->cap = cap;
        if (cfg.type == JC_ANN_HNSW) {
            rc = jc_ann__hnsw_load(ix, &h, b, lo.writable, path);
        } else {
            if (h.sec_size[2] != h.n * (uint64_t)h.dim_pad * 4) {
                rc = corrupt(path, "vector section has the wrong size");
            } else {
                ix->vstride = (size_t)ix->dim_pad * sizeof(float);
                ix->vmem = jc_malloc_aligned(64, cap * ix->vstride);
                if (ix->vmem == NULL) {
                    rc = JC_ENOMEM;
                } else {
                    ix->vbase = (uint8_t *)ix->vmem;
                    if (h.n)
                        memcpy(ix->vmem, b + h.sec_off[2], h.n * ix->vstride);
                }
            }
            if (rc == JC_OK && cfg.type == JC_ANN_LSH)
                rc = jc_ann__lsh_load(ix, &h, b, path);
        }
    }
    if (!keep_map)
        jc_map_close(&map);
    if (rc != JC_OK) {
        jc_ann_destroy(ix);
        return rc;
    }
    *out = ix;
    return JC_OK;
}
