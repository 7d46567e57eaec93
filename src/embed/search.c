/*
 * search.c - nearest items of a query vector: the one place where the
 * embed module chooses between the exact scan and an ANN index.
 *
 * Exact: one SIMD pass of dot products over the item matrix (vec.c gemv,
 * in blocks so the scores stay in L1), cosine by dividing by the row norms
 * computed in the same blocks, then a bounded min-heap keeps the top k
 * (ties: lower item id first, the order junco/ann.h uses too). With an
 * index (junco/ann.h), the same filters run as the index's keep callback.
 */
#include "embed_int.h"

#include "core/alloc.h"
#include <junco/ann.h>
#include <junco/error.h>

#include <math.h>
#include <stdlib.h>
#include <string.h>

void jc_emb_search_opts_default(struct jc_emb_search_opts *o)
{
    memset(o, 0, sizeof *o);
    o->cosine = 1;
}

/* "a ranks before b": higher score, then lower id. */
static inline int better(float sa, uint32_t ia, float sb, uint32_t ib)
{
    return sa > sb || (sa == sb && ia < ib);
}

/* Min-heap of the current top k (root = worst kept hit). */
static void heap_push(struct jc_emb_hit *h, uint32_t *n, uint32_t k, uint32_t item, float s)
{
    if (*n < k) {
        uint32_t i = (*n)++;
        while (i > 0) {
            uint32_t p = (i - 1) / 2;
            if (!better(h[p].score, h[p].item, s, item))
                break;
            h[i] = h[p];
            i = p;
        }
        h[i].item = item;
        h[i].score = s;
        return;
    }
    if (!better(s, item, h[0].score, h[0].item))
        return;
    uint32_t i = 0;
    for (;;) {
        uint32_t l = 2 * i + 1, r = l + 1, w = i;
        float ws = s;
        uint32_t wi = item;
        if (l < k && better(ws, wi, h[l].score, h[l].item)) {
            w = l;
            ws = h[l].score;
            wi = h[l].item;
        }
        if (r < k && better(ws, wi, h[r].score, h[r].item))
            w = r;
        if (w == i)
            break;
        h[i] = h[w];
        i = w;
    }
    h[i].item = item;
    h[i].score = s;
}

static int cmp_hit(const void *a, const void *b)
{
    const struct jc_emb_hit *x = a, *y = b;
    if (better(x->score, x->item, y->score, y->item))
        return -1;
    return better(y->score, y->item, x->score, x->item) ? 1 : 0;
}

static inline int allowed(const struct jc_emb *e, const struct jc_emb_search_opts *o, uint32_t item)
{
    enum jc_emb_status s = jc_emb_item_status(e, item);
    if (s == JC_EMB_NONE || (s != JC_EMB_TRAINED && !o->include_derived))
        return 0;
    return o->exclude == NULL || !(o->exclude[item >> 3] & (1u << (item & 7)));
}

struct keep_ctx {
    const struct jc_emb *e;
    const struct jc_emb_search_opts *o;
};

static int keep_fn(void *ctx, uint32_t id)
{
    struct keep_ctx *k = ctx;
    return id < jc_emb_n_items(k->e) && allowed(k->e, k->o, id);
}

#define BLOCK 256

static int search_exact(const struct jc_emb *e, const float *query, uint32_t k,
                        const struct jc_emb_search_opts *o, struct jc_emb_hit *out, uint32_t *n_out)
{
    const struct jc_embed__kernels *kr = jc_embed__kernels();
    uint32_t d = jc_emb_dim(e), n = jc_emb_n_items(e);
    float q[JC_EMB_MAX_DIM];
    memcpy(q, query, d * sizeof *q);
    if (o->cosine) {
        float nq = sqrtf(kr->dot(q, q, d));
        if (!(nq > 0))
            return jc_err_set(JC_EINVAL, "search: zero query vector with cosine similarity");
        for (uint32_t f = 0; f < d; f++)
            q[f] /= nq;
    }
    struct jc_emb_hit *heap = jc_malloc_array(k, sizeof *heap);
    if (heap == NULL)
        return JC_ENOMEM;
    uint32_t nh = 0;
    float scores[BLOCK];
    const float *base = jc_emb_item_vec(e, 0);
    for (uint32_t b = 0; b < n; b += BLOCK) {
        uint32_t m = n - b < BLOCK ? n - b : BLOCK;
        kr->gemv(base + (size_t)b * d, m, d, q, d, scores);
        for (uint32_t r = 0; r < m; r++) {
            uint32_t it = b + r;
            if (!allowed(e, o, it))
                continue;
            float s = scores[r];
            if (o->cosine) {
                const float *v = base + (size_t)it * d;
                float nv = sqrtf(kr->dot(v, v, d));
                if (!(nv > 0))
                    continue;
                s /= nv;
            }
            heap_push(heap, &nh, k, it, s);
        }
    }
    qsort(heap, nh, sizeof *heap, cmp_hit);
    memcpy(out, heap, nh * sizeof *out);
    *n_out = nh;
    jc_free(heap);
    return JC_OK;
}

/* The one switch between exact and ANN search. */
static int search_ann(const struct jc_emb *e, const float *query, uint32_t k,
                      const struct jc_emb_search_opts *o, struct jc_emb_hit *out, uint32_t *n_out)
{
    struct jc_ann_info info;
    jc_ann_info(o->index, &info);
    if (info.dim != jc_emb_dim(e))
        return jc_err_set(JC_EINVAL, "search: index dimension %u does not match embedding %u",
                          info.dim, jc_emb_dim(e));
    struct jc_ann_hit *hits = jc_malloc_array(k, sizeof *hits);
    if (hits == NULL)
        return JC_ENOMEM;
    struct keep_ctx kc = {e, o};
    struct jc_ann_search_opts so;
    jc_ann_search_opts_default(&so);
    so.ef = o->ef;
    so.keep = keep_fn;
    so.keep_ctx = &kc;
    uint32_t n = 0;
    int rc = jc_ann_search(o->index, query, k, &so, hits, &n);
    if (rc == JC_OK) {
        for (uint32_t i = 0; i < n; i++) {
            out[i].item = hits[i].id;
            out[i].score = hits[i].score;
        }
        *n_out = n;
    }
    jc_free(hits);
    return rc;
}

int jc_emb_search(const struct jc_emb *e, const float *query, uint32_t k,
                  const struct jc_emb_search_opts *opts, struct jc_emb_hit *out, uint32_t *n_out)
{
    struct jc_emb_search_opts def;
    if (opts == NULL) {
        jc_emb_search_opts_default(&def);
        opts = &def;
    }
    if (k < 1 || k > 100000)
        return jc_err_set(JC_EINVAL, "search: k = %u out of range [1, 100000]", k);
    for (uint32_t f = 0; f < jc_emb_dim(e); f++)
        if (!isfinite(query[f]))
            return jc_err_set(JC_EINVAL, "search: non-finite query component %u", f);
    if (opts->index)
        return search_ann(e, query, k, opts, out, n_out);
    return search_exact(e, query, k, opts, out, n_out);
}

int jc_emb_similar(const struct jc_emb *e, uint32_t item, uint32_t k,
                   const struct jc_emb_search_opts *opts, struct jc_emb_hit *out, uint32_t *n_out)
{
    if (item >= jc_emb_n_items(e) || jc_emb_item_status(e, item) == JC_EMB_NONE)
        return jc_err_set(JC_ENOTFOUND, "item %u has no vector in this embedding", item);
    struct jc_emb_search_opts o;
    if (opts)
        o = *opts;
    else
        jc_emb_search_opts_default(&o);
    /* Exclude the item itself: one more hit, then drop it. */
    struct jc_emb_hit *tmp = jc_malloc_array((size_t)k + 1, sizeof *tmp);
    if (tmp == NULL)
        return JC_ENOMEM;
    uint32_t n = 0;
    int rc = jc_emb_search(e, jc_emb_item_vec(e, item), k + 1, &o, tmp, &n);
    if (rc == JC_OK) {
        uint32_t w = 0;
        for (uint32_t i = 0; i < n && w < k; i++)
            if (tmp[i].item != item)
                out[w++] = tmp[i];
        *n_out = w;
    }
    jc_free(tmp);
    return rc;
}
