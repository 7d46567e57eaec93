/*
 * lsh.c - multi-table random-projection LSH, the course's ANN method.
 *
 * Each of `tables` tables draws `bits` random hyperplanes (Gaussian normals,
 * from the index seed); a vector's code in a table is the bit string of the
 * signs of its projections (SimHash / sign random projection: two vectors
 * agree on a bit with probability 1 - angle/pi). A query gathers the nodes
 * of its bucket in every table, plus up to `probes` neighbouring buckets per
 * table (multi-probe: flip the bits whose projections are closest to zero,
 * i.e. the least certain ones, one at a time), and re-ranks all candidates
 * exactly with the index's metric. Sign projections measure angles, so LSH
 * is natural for COSINE; for IP and L2 it is a candidate generator whose
 * exact re-ranking fixes the order.
 *
 * Buckets are singly linked lists threaded through next[] (one entry per
 * node and table) with heads[] per bucket, so inserting is O(tables) and
 * the index grows without rehashing. Files keep the planes and the codes;
 * the lists are rebuilt on load in node order, which reproduces them
 * exactly.
 */
#include "ann/ann_int.h"

#include "core/alloc.h"
#include "core/rng.h"
#include <junco/error.h>

#include <math.h>
#include <string.h>

struct jc_ann__lsh {
    uint32_t tables, bits;
    size_t n_buckets; /* 2^bits */
    float *planes;    /* (tables * bits) x dim_pad, aligned */
    uint32_t *codes;  /* cap x tables */
    uint32_t *next;   /* cap x tables: next node of the same bucket */
    uint32_t *heads;  /* tables x n_buckets */
};

int jc_ann__lsh_create(struct jc_ann *ix)
{
    struct jc_ann__lsh *l = jc_calloc(1, sizeof *l);
    if (l == NULL)
        return JC_ENOMEM;
    ix->lsh = l;
    l->tables = ix->cfg.lsh_tables;
    l->bits = ix->cfg.lsh_bits;
    l->n_buckets = (size_t)1 << l->bits;
    size_t np = (size_t)l->tables * l->bits;
    l->planes = jc_malloc_aligned(64, np * ix->dim_pad * sizeof(float));
    l->heads = jc_malloc_array(l->tables * l->n_buckets, sizeof(uint32_t));
    if (l->planes == NULL || l->heads == NULL)
        return JC_ENOMEM;
    memset(l->heads, 0xff, l->tables * l->n_buckets * sizeof(uint32_t));
    struct jc_rng r;
    jc_rng_stream(&r, ix->cfg.seed, 0x15a);
    for (size_t p = 0; p < np; p++)
        for (uint32_t i = 0; i < ix->dim; i++)
            l->planes[p * ix->dim_pad + i] = (float)jc_rng_normal(&r);
    return JC_OK;
}

void jc_ann__lsh_destroy(struct jc_ann *ix)
{
    struct jc_ann__lsh *l = ix->lsh;
    if (l == NULL)
        return;
    jc_free_aligned(l->planes);
    jc_free(l->codes);
    jc_free(l->next);
    jc_free(l->heads);
    jc_free(l);
    ix->lsh = NULL;
}

int jc_ann__lsh_reserve(struct jc_ann *ix, size_t cap)
{
    struct jc_ann__lsh *l = ix->lsh;
    uint32_t *c = jc_realloc_array(l->codes, cap, (size_t)l->tables * sizeof *c);
    if (c == NULL)
        return JC_ENOMEM;
    l->codes = c;
    uint32_t *nx = jc_realloc_array(l->next, cap, (size_t)l->tables * sizeof *nx);
    if (nx == NULL)
        return JC_ENOMEM;
    l->next = nx;
    return JC_OK;
}

size_t jc_ann__lsh_bytes(const struct jc_ann *ix)
{
    const struct jc_ann__lsh *l = ix->lsh;
    return (size_t)l->tables * l->bits * ix->dim_pad * 4 + ix->cap * l->tables * 8 +
           l->tables * l->n_buckets * 4;
}

/* Projections of v onto all planes -> proj[tables * bits]. */
static void project(const struct jc_ann *ix, const float *v, float *proj)
{
    const struct jc_ann__lsh *l = ix->lsh;
    size_t np = (size_t)l->tables * l->bits;
    for (size_t p = 0; p < np; p++)
        proj[p] = ix->kern->dot(v, l->planes + p * ix->dim_pad, ix->dim_pad);
}

static uint32_t code_of(const float *proj, uint32_t bits)
{
    uint32_t c = 0;
    for (uint32_t b = 0; b < bits; b++)
        c |= (uint32_t)(proj[b] >= 0.0f) << b;
    return c;
}

static void link_node(struct jc_ann__lsh *l, size_t node)
{
    for (uint32_t t = 0; t < l->tables; t++) {
        uint32_t *head = &l->heads[t * l->n_buckets + l->codes[node * l->tables + t]];
        l->next[node * l->tables + t] = *head;
        *head = (uint32_t)node;
    }
}

int jc_ann__lsh_insert(struct jc_ann *ix, size_t first, size_t count)
{
    struct jc_ann__lsh *l = ix->lsh;
    float *proj = jc_malloc_array((size_t)l->tables * l->bits, sizeof *proj);
    if (proj == NULL)
        return JC_ENOMEM;
    for (size_t i = 0; i < count; i++) {
        size_t node = first + i;
        project(ix, jc_ann__vec(ix, node), proj);
        for (uint32_t t = 0; t < l->tables; t++)
            l->codes[node * l->tables + t] = code_of(proj + t * l->bits, l->bits);
        link_node(l, node);
    }
    jc_free(proj);
    return JC_OK;
}

int jc_ann__lsh_search(const struct jc_ann *ix, struct jc_ann__scratch *s, const float *q,
                       uint32_t k, int probes, const struct jc_ann_search_opts *o,
                       struct jc_ann_hit *out, uint32_t *n_out)
{
    const struct jc_ann__lsh *l = ix->lsh;
    size_t np = (size_t)l->tables * l->bits;
    if (s->proj_cap < np) {
        float *p = jc_realloc_array(s->proj, np, sizeof *p);
        if (p == NULL)
            return JC_ENOMEM;
        s->proj = p;
        s->proj_cap = np;
    }
    if (jc_ann__grow_pairs(s, &s->top, &s->top_cap, (size_t)k + 1) != 0)
        return JC_ENOMEM;
    project(ix, q, s->proj);
    uint16_t tag = jc_ann__visit_begin(s);
    uint16_t *vis = s->visited;
    struct jc_ann__pair *top = s->top;
    size_t top_n = 0;
    uint64_t n_dist = 0;
    for (uint32_t t = 0; t < l->tables; t++) {
        const float *pr = s->proj + (size_t)t * l->bits;
        uint32_t code = code_of(pr, l->bits);
        /* the probe sequence: the bucket itself, then single-bit flips of
         * the least certain bits (smallest |projection|) */
        uint32_t flips[25];
        uint32_t used = 0;
        for (int p = 0; p < probes; p++) {
            int best = -1;
            for (uint32_t b = 0; b < l->bits; b++) {
                if (used & (1u << b))
                    continue;
                if (best < 0 || fabsf(pr[b]) < fabsf(pr[best]))
                    best = (int)b;
            }
            used |= 1u << best;
            flips[p] = 1u << best;
        }
        for (int p = -1; p < probes; p++) {
            uint32_t bucket = p < 0 ? code : code ^ flips[p];
            uint32_t node = l->heads[t * l->n_buckets + bucket];
            while (node != JC_ANN__NONE) {
                if (vis[node] != tag) {
                    vis[node] = tag;
                    n_dist++;
                    float d = ix->dist(q, jc_ann__vec(ix, node), ix->dim_pad);
                    if ((top_n < k || d < top[0].d) && jc_ann__accept(ix, node, o)) {
                        jc_ann__maxheap_push(top, &top_n, d, node);
                        if (top_n > k)
                            jc_ann__maxheap_pop(top, &top_n);
                    }
                }
                node = l->next[(size_t)node * l->tables + t];
            }
        }
    }
    s->n_dist = n_dist;
    *n_out = jc_ann__finish(ix, top, top_n, k, out);
    return JC_OK;
}

void jc_ann__lsh_save_parts(const struct jc_ann *ix, struct jc_ann__fhdr *h,
                            struct jc_ann__wsec *sec)
{
    const struct jc_ann__lsh *l = ix->lsh;
    sec[3].data = l->planes;
    sec[3].size = (uint64_t)l->tables * l->bits * ix->dim_pad * sizeof(float);
    sec[4].data = l->codes;
    sec[4].size = (uint64_t)ix->n * l->tables * sizeof(uint32_t);
    h->n_sections = 5;
}

int jc_ann__lsh_load(struct jc_ann *ix, const struct jc_ann__fhdr *h, const uint8_t *base,
                     const char *path)
{
    int rc = jc_ann__lsh_create(ix);
    if (rc != JC_OK)
        return rc;
    struct jc_ann__lsh *l = ix->lsh;
    uint64_t plane_bytes = (uint64_t)l->tables * l->bits * ix->dim_pad * sizeof(float);
    if (h->n_sections != 5 || h->sec_size[3] != plane_bytes ||
        h->sec_size[4] != (uint64_t)h->n * l->tables * sizeof(uint32_t))
        return jc_err_set(JC_ECORRUPT,
                          "%s: corrupt index file: LSH section sizes do not "
                          "match %llu vectors in %u tables",
                          path, (unsigned long long)h->n, l->tables);
    rc = jc_ann__lsh_reserve(ix, ix->cap);
    if (rc != JC_OK)
        return rc;
    memcpy(l->planes, base + h->sec_off[3], plane_bytes);
    if (h->n)
        memcpy(l->codes, base + h->sec_off[4], h->n * l->tables * sizeof(uint32_t));
    for (size_t i = 0; i < h->n * l->tables; i++)
        if (l->codes[i] >= l->n_buckets)
            return jc_err_set(JC_ECORRUPT,
                              "%s: corrupt index file: LSH code %u of node %zu "
                              "exceeds %u bits",
                              path, l->codes[i], i / l->tables, l->bits);
    for (size_t i = 0; i < h->n; i++)
        link_node(l, i);
    return JC_OK;
}
