/*
 * ann_int.h - internals shared by the files of the ANN module.
 *
 * ann.c owns the handle: configuration, the id <-> node mapping, tombstones,
 * vector validation and normalisation, search scratch, batch calls on the
 * worker pool, and the file frame (header, sections, checksums). The index
 * types plug in below it:
 *   flat.c  exact scan with a top-k heap (also the `exact` option and the
 *           recall reference of every type);
 *   hnsw.c  the graph;
 *   lsh.c   random-projection tables.
 *
 * Nodes. Every stored vector is a node with a dense internal index
 * 0..n-1 in insertion order; labels[node] is the caller's id, deleted[node]
 * its tombstone. The idmap maps an id to its newest node. Node i's vector
 * (dim_pad floats: dim values then zeros up to a multiple of 8, normalised
 * for COSINE) is at vbase + i * vstride; for HNSW it lives inline in the
 * level-0 node record, for FLAT and LSH in a plain matrix.
 *
 * Distances. Internally smaller is closer: d = -dot (IP, COSINE) or the
 * squared L2 distance; a hit's score is -d.
 */
#ifndef JC_ANN_INT_H
#define JC_ANN_INT_H

#include "ann/distance.h"
#include "core/fileio.h"
#include "core/hash.h"
#include <junco/ann.h>

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

#define JC_ANN__NONE UINT32_MAX

struct jc_pool;
struct jc_ann__hnsw;
struct jc_ann__lsh;

/* (distance, node) pairs for heaps and result lists. */
struct jc_ann__pair {
    float d;
    uint32_t id;
};

/* id -> node, open addressing with linear probing; keys are never removed
 * (a removed id keeps pointing at its tombstoned node until re-added). */
struct jc_ann__idmap {
    uint32_t *keys; /* JC_ANN__NONE = empty slot */
    uint32_t *vals;
    size_t cap; /* power of two, or 0 */
    size_t n;
};

/* Per-search working memory; one per concurrent search. */
struct jc_ann__scratch {
    uint16_t *visited; /* visited[node] == tag: seen in this search */
    size_t visited_cap;
    uint16_t tag;
    struct jc_ann__pair *cand; /* min-heap of candidates to expand */
    size_t cand_cap;
    struct jc_ann__pair *top; /* max-heap of the best found so far */
    size_t top_cap;
    struct jc_ann__pair *tmp; /* heuristic / sorting workspace */
    size_t tmp_cap;
    uint32_t *nb; /* neighbour ids */
    size_t nb_cap;
    float *q;    /* the query, padded to dim_pad and normalised (aligned) */
    float *proj; /* LSH projections of the query */
    size_t proj_cap;
    int oom;         /* a workspace could not grow: the search is incomplete */
    uint64_t n_dist; /* distances computed by the last search (tests, tuning) */
};

struct jc_ann {
    struct jc_ann_config cfg; /* validated; threads resolved to >= 1 */
    uint32_t dim, dim_pad;
    const struct jc_ann__kernels *kern;
    jc_ann__dist_fn dist;      /* internal distance: kern->neg_dot or kern->l2sq */
    jc_ann__many_fn dist_many; /* the same for many vectors at once */

    size_t n;         /* nodes, tombstones included */
    size_t cap;       /* capacity of the per-node arrays */
    uint32_t *labels; /* [cap]; points into the mapping when mapped */
    uint8_t *deleted; /* [cap], always heap (remove works on mappings) */
    size_t n_removed;
    struct jc_ann__idmap idmap;

    uint8_t *vbase; /* vector of node i at vbase + i * vstride */
    size_t vstride;
    float *vmem; /* FLAT / LSH vector matrix (aligned heap), cap x dim_pad */

    struct jc_ann__hnsw *hnsw;
    struct jc_ann__lsh *lsh;

    struct jc_map map; /* the file mapping of a read-only HNSW load */
    int mapped;
    int labels_owned;

    struct jc_pool *pool; /* NULL when threads == 1 */
    pthread_mutex_t batch_mu;
    pthread_mutex_t scratch_mu;
    struct jc_ann__scratch **spare; /* idle scratch objects */
    size_t n_spare, cap_spare;
};

static inline const float *jc_ann__vec(const struct jc_ann *ix, size_t node)
{
    return (const float *)(ix->vbase + node * ix->vstride);
}

/* ---- idmap --------------------------------------------------------------- */
void jc_ann__idmap_free(struct jc_ann__idmap *m);
/* Makes room for `more` additional keys. JC_ENOMEM. */
int jc_ann__idmap_reserve(struct jc_ann__idmap *m, size_t more);
/* The node of id, or JC_ANN__NONE. */
uint32_t jc_ann__idmap_get(const struct jc_ann__idmap *m, uint32_t id);
/* Sets id -> node (room must have been reserved). */
void jc_ann__idmap_put(struct jc_ann__idmap *m, uint32_t id, uint32_t node);

/* ---- scratch ------------------------------------------------------------- */
/* Borrows a scratch sized for the index's current node count (NULL and
 * JC_ENOMEM on failure); give it back with jc_ann__scratch_put. */
struct jc_ann__scratch *jc_ann__scratch_get(const struct jc_ann *ix);
void jc_ann__scratch_put(const struct jc_ann *ix, struct jc_ann__scratch *s);
struct jc_ann__scratch *jc_ann__scratch_new(const struct jc_ann *ix);
void jc_ann__scratch_free(struct jc_ann__scratch *s);
/* Sizes the visited array for n nodes; JC_ENOMEM. */
int jc_ann__scratch_fit(struct jc_ann__scratch *s, size_t n_nodes);
/* Starts a new visited generation and returns its tag. */
static inline uint16_t jc_ann__visit_begin(struct jc_ann__scratch *s)
{
    if (++s->tag == 0) {
        for (size_t i = 0; i < s->visited_cap; i++)
            s->visited[i] = 0;
        s->tag = 1;
    }
    return s->tag;
}
/* Grows s->tmp / s->cand / s->top / s->nb to at least n entries; sets
 * s->oom and returns -1 on failure. */
int jc_ann__grow_pairs(struct jc_ann__scratch *s, struct jc_ann__pair **arr, size_t *cap, size_t n);
int jc_ann__grow_ids(struct jc_ann__scratch *s, size_t n);

/* Copies vec (dim floats) to out (dim_pad floats), zero padding, normalised
 * for COSINE. Returns JC_OK or JC_EINVAL (non-finite, zero with COSINE) with a
 * message using `what` ("vector for id 7", "query", ...). */
int jc_ann__prepare(const struct jc_ann *ix, const float *vec, float *out, const char *what);

/* Whether node may be returned: not tombstoned and accepted by the filter. */
static inline int jc_ann__accept(const struct jc_ann *ix, uint32_t node,
                                 const struct jc_ann_search_opts *o)
{
    if (ix->deleted[node])
        return 0;
    return o->keep == NULL || o->keep(o->keep_ctx, ix->labels[node]);
}

/* ---- heaps of pairs ------------------------------------------------------- */
/* Max-heap on d (root = farthest). */
static inline void jc_ann__maxheap_push(struct jc_ann__pair *h, size_t *n, float d, uint32_t id)
{
    size_t i = (*n)++;
    while (i > 0) {
        size_t p = (i - 1) >> 1;
        if (h[p].d >= d)
            break;
        h[i] = h[p];
        i = p;
    }
    h[i].d = d;
    h[i].id = id;
}

static inline void jc_ann__maxheap_pop(struct jc_ann__pair *h, size_t *n)
{
    size_t m = --(*n);
    if (m == 0)
        return;
    struct jc_ann__pair last = h[m];
    size_t i = 0;
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= m)
            break;
        if (c + 1 < m && h[c + 1].d > h[c].d)
            c++;
        if (h[c].d <= last.d)
            break;
        h[i] = h[c];
        i = c;
    }
    h[i] = last;
}

/* Min-heap on d (root = nearest). */
static inline void jc_ann__minheap_push(struct jc_ann__pair *h, size_t *n, float d, uint32_t id)
{
    size_t i = (*n)++;
    while (i > 0) {
        size_t p = (i - 1) >> 1;
        if (h[p].d <= d)
            break;
        h[i] = h[p];
        i = p;
    }
    h[i].d = d;
    h[i].id = id;
}

static inline void jc_ann__minheap_pop(struct jc_ann__pair *h, size_t *n)
{
    size_t m = --(*n);
    if (m == 0)
        return;
    struct jc_ann__pair last = h[m];
    size_t i = 0;
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= m)
            break;
        if (c + 1 < m && h[c + 1].d < h[c].d)
            c++;
        if (h[c].d >= last.d)
            break;
        h[i] = h[c];
        i = c;
    }
    h[i] = last;
}

/* Turns up to `have` (distance, node) pairs into at most k hits sorted by
 * descending score, ties by ascending id. Sorts `pairs` in place. */
uint32_t jc_ann__finish(const struct jc_ann *ix, struct jc_ann__pair *pairs, size_t have,
                        uint32_t k, struct jc_ann_hit *out);

/* ---- flat (exact) ----------------------------------------------------------- */
/* Exact top-k over all accepted nodes of any index type. Bit-identical
 * results whatever the caller (single or batch). */
int jc_ann__flat_search(const struct jc_ann *ix, struct jc_ann__scratch *s, const float *q,
                        uint32_t k, const struct jc_ann_search_opts *o, struct jc_ann_hit *out,
                        uint32_t *n_out);
/* Exact top-k for nq prepared queries (row-major nq x dim_pad) at once,
 * scanning the vectors in cache-sized blocks; hits of query i at out + i*k. */
int jc_ann__flat_search_multi(const struct jc_ann *ix, const float *qs, size_t nq, uint32_t k,
                              const struct jc_ann_search_opts *o, struct jc_ann_hit *out,
                              uint32_t *n_out);

/* ---- file frame ------------------------------------------------------------ */
#define JC_ANN__MAX_SECTIONS 8
#define JC_ANN__HEADER_SIZE  256

/* The decoded header of an index file (fixed little-endian layout). */
struct jc_ann__fhdr {
    uint32_t type, metric, dim, dim_pad;
    uint32_t hnsw_m, hnsw_efc, hnsw_efs;
    uint32_t lsh_tables, lsh_bits, lsh_probes;
    int32_t max_level;
    uint32_t entry;
    uint32_t node_size;
    uint64_t seed;
    uint64_t n, n_removed;
    uint64_t aux; /* HNSW: upper-level link pool length (uint32 entries) */
    uint32_t n_sections;
    uint64_t sec_off[JC_ANN__MAX_SECTIONS];
    uint64_t sec_size[JC_ANN__MAX_SECTIONS];
};

/* A section to write: `size` bytes from `data`. */
struct jc_ann__wsec {
    const void *data;
    uint64_t size;
};

/* ---- HNSW ------------------------------------------------------------------- */
int jc_ann__hnsw_create(struct jc_ann *ix);
void jc_ann__hnsw_destroy(struct jc_ann *ix);
/* Grows the node arrays to hold cap nodes (writable only). */
int jc_ann__hnsw_reserve(struct jc_ann *ix, size_t cap);
/* Prepares nodes [first, first + count): draws levels and reserves upper
 * link space. Vectors are written by the caller afterwards. */
int jc_ann__hnsw_prepare_nodes(struct jc_ann *ix, size_t first, size_t count);
/* Links nodes [first, first + count) into the graph (on the pool if any). */
int jc_ann__hnsw_insert(struct jc_ann *ix, size_t first, size_t count);
int jc_ann__hnsw_search(const struct jc_ann *ix, struct jc_ann__scratch *s, const float *q,
                        uint32_t k, uint32_t ef, const struct jc_ann_search_opts *o,
                        struct jc_ann_hit *out, uint32_t *n_out);
size_t jc_ann__hnsw_bytes(const struct jc_ann *ix);
int jc_ann__hnsw_max_level(const struct jc_ann *ix);
/* Fills HNSW header fields and sections 2.. for saving. */
void jc_ann__hnsw_save_parts(const struct jc_ann *ix, struct jc_ann__fhdr *h,
                             struct jc_ann__wsec *sec);
/* Attaches (mapped) or copies (writable) the HNSW sections of a validated
 * frame; validates the graph. `path` is for messages. */
int jc_ann__hnsw_load(struct jc_ann *ix, const struct jc_ann__fhdr *h, const uint8_t *base,
                      int writable, const char *path);

/* ---- LSH ---------------------------------------------------------------------- */
int jc_ann__lsh_create(struct jc_ann *ix);
void jc_ann__lsh_destroy(struct jc_ann *ix);
int jc_ann__lsh_reserve(struct jc_ann *ix, size_t cap);
/* Hashes nodes [first, first + count) (vectors already stored) into the tables. */
int jc_ann__lsh_insert(struct jc_ann *ix, size_t first, size_t count);
int jc_ann__lsh_search(const struct jc_ann *ix, struct jc_ann__scratch *s, const float *q,
                       uint32_t k, int probes, const struct jc_ann_search_opts *o,
                       struct jc_ann_hit *out, uint32_t *n_out);
size_t jc_ann__lsh_bytes(const struct jc_ann *ix);
void jc_ann__lsh_save_parts(const struct jc_ann *ix, struct jc_ann__fhdr *h,
                            struct jc_ann__wsec *sec);
int jc_ann__lsh_load(struct jc_ann *ix, const struct jc_ann__fhdr *h, const uint8_t *base,
                     const char *path);

#endif
