/*
 * flat.c - exact nearest-neighbour search: a scan over every stored vector
 * with the dispatched SIMD distance and a bounded top-k heap.
 *
 * The heap is ordered by (distance, id) so the answer is the unique exact
 * top-k under "higher score first, then lower id", whatever order the rows
 * are visited in; that is what lets the blocked multi-query scan (which
 * visits rows block by block for several queries, to reuse each block from
 * cache) return exactly what the single-query scan returns. Tombstones and
 * the filter callback are checked only for rows that would enter the heap,
 * so a filter costs nothing for the bulk of the rows.
 *
 * Serves JC_ANN_FLAT indexes, the `exact` search option of every type, and
 * the reference side of jc_ann_recall.
 */
#include "ann/ann_int.h"

#include "core/alloc.h"
#include <junco/error.h>

#define ROW_BLOCK_BYTES (24u * 1024u) /* rows per block in multi mode: stays in L1 */
#define SCAN_ROWS       64            /* rows per many-vector kernel call */

/* worse(a, b): a ranks after b (larger distance, or equal and larger id). */
static inline int worse(const struct jc_ann *ix, float da, uint32_t na, float db, uint32_t nb)
{
    return da > db || (da == db && ix->labels[na] > ix->labels[nb]);
}

/* A bounded max-heap on (d, label): root = the worst kept. */
struct topk {
    struct jc_ann__pair *h;
    size_t n, k;
};

static void topk_sift_down(const struct jc_ann *ix, struct topk *t, size_t i)
{
    struct jc_ann__pair x = t->h[i];
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= t->n)
            break;
        if (c + 1 < t->n && worse(ix, t->h[c + 1].d, t->h[c + 1].id, t->h[c].d, t->h[c].id))
            c++;
        if (!worse(ix, t->h[c].d, t->h[c].id, x.d, x.id))
            break;
        t->h[i] = t->h[c];
        i = c;
    }
    t->h[i] = x;
}

static inline void topk_offer(const struct jc_ann *ix, struct topk *t, float d, uint32_t node,
                              const struct jc_ann_search_opts *o)
{
    if (t->n == t->k && !worse(ix, t->h[0].d, t->h[0].id, d, node))
        return;
    if (!jc_ann__accept(ix, node, o))
        return;
    if (t->n < t->k) {
        size_t i = t->n++;
        while (i > 0) {
            size_t p = (i - 1) >> 1;
            if (!worse(ix, d, node, t->h[p].d, t->h[p].id))
                break;
            t->h[i] = t->h[p];
            i = p;
        }
        t->h[i].d = d;
        t->h[i].id = node;
    } else {
        t->h[0].d = d;
        t->h[0].id = node;
        topk_sift_down(ix, t, 0);
    }
}

/* Heap -> hits sorted by (score desc, id asc). */
static uint32_t topk_emit(const struct jc_ann *ix, struct topk *t, struct jc_ann_hit *out)
{
    size_t n = t->n;
    /* pop the worst to the back: a heap sort, ascending by (d, label) */
    while (t->n > 1) {
        struct jc_ann__pair w = t->h[0];
        t->h[0] = t->h[--t->n];
        topk_sift_down(ix, t, 0);
        t->h[t->n] = w;
    }
    for (size_t i = 0; i < n; i++) {
        out[i].id = ix->labels[t->h[i].id];
        out[i].score = -t->h[i].d;
    }
    return (uint32_t)n;
}

int jc_ann__flat_search(const struct jc_ann *ix, struct jc_ann__scratch *s, const float *q,
                        uint32_t k, const struct jc_ann_search_opts *o, struct jc_ann_hit *out,
                        uint32_t *n_out)
{
    if (jc_ann__grow_pairs(s, &s->top, &s->top_cap, k) != 0)
        return JC_ENOMEM;
    struct topk t = {s->top, 0, k};
    size_t n = ix->n, dp = ix->dim_pad;
    float dd[SCAN_ROWS];
    for (size_t lo = 0; lo < n; lo += SCAN_ROWS) {
        size_t cnt = n - lo < SCAN_ROWS ? n - lo : SCAN_ROWS;
        ix->dist_many(q, ix->vbase + lo * ix->vstride, ix->vstride, NULL, cnt, dp, dd);
        for (size_t j = 0; j < cnt; j++)
            if (t.n < t.k || dd[j] <= t.h[0].d)
                topk_offer(ix, &t, dd[j], (uint32_t)(lo + j), o);
    }
    *n_out = topk_emit(ix, &t, out);
    return JC_OK;
}

int jc_ann__flat_search_multi(const struct jc_ann *ix, const float *qs, size_t nq, uint32_t k,
                              const struct jc_ann_search_opts *o, struct jc_ann_hit *out,
                              uint32_t *n_out)
{
    struct jc_ann__pair *mem = jc_malloc_array(nq, (size_t)k * sizeof *mem);
    struct topk *t = jc_malloc_array(nq, sizeof *t);
    if (mem == NULL || t == NULL) {
        jc_free(mem);
        jc_free(t);
        return JC_ENOMEM;
    }
    for (size_t j = 0; j < nq; j++) {
        t[j].h = mem + j * k;
        t[j].n = 0;
        t[j].k = k;
    }
    size_t n = ix->n, dp = ix->dim_pad;
    size_t block = ROW_BLOCK_BYTES / ix->vstride;
    if (block < 16)
        block = 16;
    float dd[SCAN_ROWS];
    for (size_t lo = 0; lo < n; lo += block) {
        size_t hi = lo + block < n ? lo + block : n;
        for (size_t j = 0; j < nq; j++) {
            const float *q = qs + j * dp;
            struct topk *tj = &t[j];
            for (size_t i = lo; i < hi; i += SCAN_ROWS) {
                size_t cnt = hi - i < SCAN_ROWS ? hi - i : SCAN_ROWS;
                ix->dist_many(q, ix->vbase + i * ix->vstride, ix->vstride, NULL, cnt, dp, dd);
                for (size_t r = 0; r < cnt; r++)
                    if (tj->n < tj->k || dd[r] <= tj->h[0].d)
                        topk_offer(ix, tj, dd[r], (uint32_t)(i + r), o);
            }
        }
    }
    for (size_t j = 0; j < nq; j++)
        n_out[j] = topk_emit(ix, &t[j], out + j * k);
    jc_free(mem);
    jc_free(t);
    return JC_OK;
}
