/*
 * hnsw.c - hierarchical navigable small-world graph (Malkov & Yashunin,
 * "Efficient and robust approximate nearest neighbor search using HNSW
 * graphs", 2016), the approximate index type of the ANN module.
 *
 * Storage, chosen for search speed and for mmap:
 *   - level 0 is one contiguous array of fixed-size node records
 *       [u32 count][u32 links[2M]][float vector[dim_pad]]
 *     so expanding a node touches its links, and each neighbour's distance
 *     touches one record (vectors inline, as in hnswlib);
 *   - levels[] (u8) per node, and for the ~1/M nodes above level 0 a run of
 *     level lists [u32 count][u32 links[M]] for levels 1..L in one u32 pool,
 *     found through upper_off[] (u64 per node).
 * The four arrays are written to the index file as they are in memory, so a
 * read-only load maps the file and points at it.
 *
 * Insertion follows the paper with hnswlib's choices: a node's level is
 * floor(-ln(u) / ln(M)), here with u drawn from a hash of (seed, node index)
 * so levels do not depend on the thread count; greedy descent to the node's
 * level, then at each level a best-first search with ef_construction, the
 * "heuristic" neighbour selection (keep a candidate only if it is closer to
 * the new node than to every neighbour kept so far), M links per level
 * (2M on level 0), and back-links shrunk with the same heuristic when full.
 * Multi-threaded insertion (the index's pool) locks one link list at a time
 * (a striped mutex array) and holds a global lock only while inserting a node
 * that raises the top level; one thread takes no locks and is deterministic.
 *
 * Search: greedy descent through the upper levels, then a best-first search
 * on level 0. Without tombstones or a filter it keeps one sorted candidate
 * list of the ef best (the "retset" of NSG/DiskANN, see retset_insert),
 * which expands the same nodes as hnswlib's pair of heaps at a lower cost
 * and ends sorted; insertion uses it too. With tombstones or a filter it
 * runs hnswlib's algorithm (a candidate min-heap that also walks through
 * rejected nodes, and a result max-heap of ef accepted ones), so rejected
 * nodes are traversed but never returned. The visited set is a u16 array
 * with a generation tag (no clearing per query). Each expansion first
 * collects the unvisited neighbours, prefetching every cache line of their
 * vectors, then computes all their distances with one many-vector kernel
 * call (four vectors per pass), so memory latency and arithmetic overlap.
 */
#include "ann/ann_int.h"

#include "core/alloc.h"
#include "core/log.h"
#include "core/pool.h"
#include "core/rng.h"
#include <junco/error.h>

#include <math.h>
#include <stdatomic.h>
#include <string.h>

#define MAX_LEVEL    31
#define LOCK_STRIPES 4096
#define NO_OFF       0

struct jc_ann__hnsw {
    uint32_t m, m0;      /* max links on levels >= 1 / on level 0 */
    size_t node_size;    /* bytes of one level-0 record */
    size_t vec_off;      /* byte offset of the vector inside a record */
    size_t vec_bytes;    /* dim_pad * 4 */
    uint8_t *level0;     /* cap records (heap, 64-aligned) or the mapping */
    uint8_t *levels;     /* per node */
    uint64_t *upper_off; /* per node: pool index of its level-1 list */
    uint32_t *upper;     /* pool of upper-level lists */
    size_t upper_len, upper_cap;
    int max_level; /* -1 when empty */
    uint32_t entry;
    double mult; /* 1 / ln(M) */
    int owned;   /* arrays are heap (writable), not the mapping */

    /* multi-threaded insertion */
    int mt;
    pthread_mutex_t global_mu;
    pthread_mutex_t *locks;            /* LOCK_STRIPES, allocated on first parallel insert */
    struct jc_ann__scratch **wscratch; /* one per pool worker */
    int n_wscratch;
};

static inline uint32_t *links0(const struct jc_ann__hnsw *h, size_t node)
{
    return (uint32_t *)(h->level0 + node * h->node_size);
}

static inline uint32_t *links_at(const struct jc_ann__hnsw *h, size_t node, int level)
{
    if (level == 0)
        return links0(h, node);
    return h->upper + h->upper_off[node] + (size_t)(level - 1) * (1 + h->m);
}

static inline const float *nvec(const struct jc_ann__hnsw *h, size_t node)
{
    return (const float *)(h->level0 + node * h->node_size + h->vec_off);
}

static inline void prefetch(const void *p)
{
    __builtin_prefetch(p, 0, 3);
}

/* Prefetches every cache line of node's vector (records are not
 * line-aligned, so a 256-byte vector spans 4 or 5 lines). */
static inline void prefetch_vec(const struct jc_ann__hnsw *h, size_t node)
{
    const char *p = (const char *)nvec(h, node);
    const char *end = p + h->vec_bytes - 1;
    for (; p <= end; p += 64)
        prefetch(p);
    prefetch(end);
}

static inline void lock_node(struct jc_ann__hnsw *h, uint32_t node)
{
    if (h->mt)
        pthread_mutex_lock(&h->locks[node % LOCK_STRIPES]);
}

static inline void unlock_node(struct jc_ann__hnsw *h, uint32_t node)
{
    if (h->mt)
        pthread_mutex_unlock(&h->locks[node % LOCK_STRIPES]);
}

/* ---- lifecycle --------------------------------------------------------- */

int jc_ann__hnsw_create(struct jc_ann *ix)
{
    struct jc_ann__hnsw *h = jc_calloc(1, sizeof *h);
    if (h == NULL)
        return JC_ENOMEM;
    h->m = ix->cfg.hnsw_m;
    h->m0 = 2 * h->m;
    h->vec_off = 4 + 4 * (size_t)h->m0;
    h->vec_bytes = (size_t)ix->dim_pad * sizeof(float);
    h->node_size = h->vec_off + h->vec_bytes;
    h->max_level = -1;
    h->entry = JC_ANN__NONE;
    h->mult = 1.0 / log((double)h->m);
    h->owned = 1;
    pthread_mutex_init(&h->global_mu, NULL);
    ix->hnsw = h;
    ix->vstride = h->node_size;
    return JC_OK;
}

void jc_ann__hnsw_destroy(struct jc_ann *ix)
{
    struct jc_ann__hnsw *h = ix->hnsw;
    if (h == NULL)
        return;
    if (h->owned) {
        jc_free_aligned(h->level0);
        jc_free(h->levels);
        jc_free(h->upper_off);
        jc_free(h->upper);
    }
    if (h->locks) {
        for (int i = 0; i < LOCK_STRIPES; i++)
            pthread_mutex_destroy(&h->locks[i]);
        jc_free(h->locks);
    }
    for (int i = 0; i < h->n_wscratch; i++)
        jc_ann__scratch_free(h->wscratch[i]);
    jc_free(h->wscratch);
    pthread_mutex_destroy(&h->global_mu);
    jc_free(h);
    ix->hnsw = NULL;
}

int jc_ann__hnsw_reserve(struct jc_ann *ix, size_t cap)
{
    struct jc_ann__hnsw *h = ix->hnsw;
    JC_ASSERT(h->owned);
    size_t bytes;
    if (jc_size_mul(cap, h->node_size, &bytes))
        return jc_err_set(JC_ENOMEM, "ann: %zu HNSW nodes overflow the address space", cap);
    uint8_t *l0 = jc_malloc_aligned(64, bytes);
    if (l0 == NULL)
        return JC_ENOMEM;
    uint8_t *lv = jc_realloc(h->levels, cap);
    if (lv == NULL) {
        jc_free_aligned(l0);
        return JC_ENOMEM;
    }
    h->levels = lv;
    uint64_t *uo = jc_realloc_array(h->upper_off, cap, sizeof *uo);
    if (uo == NULL) {
        jc_free_aligned(l0);
        return JC_ENOMEM;
    }
    h->upper_off = uo;
    if (ix->n)
        memcpy(l0, h->level0, ix->n * h->node_size);
    jc_free_aligned(h->level0);
    h->level0 = l0;
    ix->vbase = l0 + h->vec_off;
    ix->vstride = h->node_size;
    return JC_OK;
}

size_t jc_ann__hnsw_bytes(const struct jc_ann *ix)
{
    const struct jc_ann__hnsw *h = ix->hnsw;
    if (!h->owned)
        return 0; /* counted as the mapping */
    return ix->cap * (h->node_size + 1 + 8) + h->upper_cap * 4;
}

int jc_ann__hnsw_max_level(const struct jc_ann *ix)
{
    return ix->hnsw->max_level;
}

/* ---- levels --------------------------------------------------------------- */

static int random_level(const struct jc_ann__hnsw *h, uint64_t seed, size_t node)
{
    uint64_t st = seed ^ ((uint64_t)node * 0xD1B54A32D192ED03ull);
    uint64_t x = jc_splitmix64(&st);
    double u = ((double)(x >> 11) + 1.0) * 0x1.0p-53; /* (0, 1] */
    double l = floor(-log(u) * h->mult);
    return l > MAX_LEVEL ? MAX_LEVEL : (int)l;
}

int jc_ann__hnsw_prepare_nodes(struct jc_ann *ix, size_t first, size_t count)
{
    struct jc_ann__hnsw *h = ix->hnsw;
    size_t need = h->upper_len;
    for (size_t i = 0; i < count; i++) {
        int l = random_level(h, ix->cfg.seed, first + i);
        need += (size_t)l * (1 + h->m);
    }
    if (need > h->upper_cap) {
        size_t cap = h->upper_cap + h->upper_cap / 2;
        if (cap < need)
            cap = need;
        uint32_t *p = jc_realloc_array(h->upper, cap, sizeof *p);
        if (p == NULL)
            return JC_ENOMEM;
        h->upper = p;
        h->upper_cap = cap;
    }
    for (size_t i = 0; i < count; i++) {
        size_t node = first + i;
        int l = random_level(h, ix->cfg.seed, node);
        h->levels[node] = (uint8_t)l;
        h->upper_off[node] = NO_OFF;
        if (l > 0) {
            size_t len = (size_t)l * (1 + h->m);
            h->upper_off[node] = h->upper_len;
            memset(h->upper + h->upper_len, 0, len * sizeof(uint32_t));
            h->upper_len += len;
        }
        memset(links0(h, node), 0, h->vec_off);
    }
    return JC_OK;
}

/* ---- building ------------------------------------------------------------- */

/* Sorts pairs ascending by (d, id): insertion sort, the lists are short. */
static void sort_pairs(struct jc_ann__pair *p, size_t n)
{
    for (size_t i = 1; i < n; i++) {
        struct jc_ann__pair x = p[i];
        size_t j = i;
        while (j > 0 && (p[j - 1].d > x.d || (p[j - 1].d == x.d && p[j - 1].id > x.id))) {
            p[j] = p[j - 1];
            j--;
        }
        p[j] = x;
    }
}

/* The neighbour-selection heuristic on candidates sorted ascending: keeps a
 * candidate only if it is closer to the base than to every kept one. The
 * kept ones are compacted to the front; returns how many (<= max). */
static size_t select_heuristic(const struct jc_ann *ix, struct jc_ann__pair *c, size_t n,
                               size_t max)
{
    if (n <= max)
        return n;
    const struct jc_ann__hnsw *h = ix->hnsw;
    size_t kept = 0;
    for (size_t i = 0; i < n && kept < max; i++) {
        const float *v = nvec(h, c[i].id);
        int good = 1;
        for (size_t r = 0; r < kept; r++) {
            if (ix->dist(v, nvec(h, c[r].id), ix->dim_pad) < c[i].d) {
                good = 0;
                break;
            }
        }
        if (good)
            c[kept++] = c[i];
    }
    return kept;
}

/* Node's list at level: in place when one thread builds, else copied into
 * buf under the node's lock (another thread may be rewriting it). */
static const uint32_t *get_links(struct jc_ann__hnsw *h, uint32_t node, int level, uint32_t *buf,
                                 uint32_t *cnt)
{
    const uint32_t *l = links_at(h, node, level);
    if (!h->mt) {
        *cnt = l[0];
        return l + 1;
    }
    lock_node(h, node);
    *cnt = l[0];
    memcpy(buf, l + 1, *cnt * sizeof(uint32_t));
    unlock_node(h, node);
    return buf;
}

static void greedy_build(const struct jc_ann *ix, const float *q, uint32_t *cur, float *cur_d,
                         int level)
{
    struct jc_ann__hnsw *h = ix->hnsw;
    uint32_t buf[256];
    for (int changed = 1; changed;) {
        changed = 0;
        uint32_t cnt;
        const uint32_t *l = get_links(h, *cur, level, buf, &cnt);
        for (uint32_t j = 0; j < cnt; j++) {
            float d = ix->dist(q, nvec(h, l[j]), ix->dim_pad);
            if (d < *cur_d) {
                *cur_d = d;
                *cur = l[j];
                changed = 1;
            }
        }
    }
}

/* The candidate list of a best-first search ("retset", as in NSG and
 * DiskANN): the best <= ef nodes seen so far, sorted by distance, each
 * flagged once expanded (bit 31 of the id; node ids stay below 2^31). It
 * replaces hnswlib's two heaps: the list is both the result set and the
 * queue (the next node to expand is the first unexpanded entry), and it
 * ends sorted, ready for neighbour selection or for the top-k answer. The
 * search expands exactly the nodes hnswlib's loop expands: those among the
 * ef best found so far, nearest first, until all of them are expanded. */
#define EXPANDED 0x80000000u

/* Inserts (d, id) into r[0..len) (sorted; capacity len + 1) after any equal
 * distances; returns the position. */
static inline size_t retset_insert(struct jc_ann__pair *r, size_t len, float d, uint32_t id)
{
    size_t lo = 0, hi = len;
    while (lo < hi) {
        size_t mid = (lo + hi) >> 1;
        if (r[mid].d > d)
            hi = mid;
        else
            lo = mid + 1;
    }
    memmove(r + lo + 1, r + lo, (len - lo) * sizeof *r);
    r[lo].d = d;
    r[lo].id = id;
    return lo;
}

/* Best-first search of one level for insertion: leaves up to ef nearest
 * pairs, ascending, in s->tmp (returns the count). */
static size_t search_layer_build(const struct jc_ann *ix, struct jc_ann__scratch *s, const float *q,
                                 uint32_t ep, float ep_d, int level, size_t ef)
{
    struct jc_ann__hnsw *h = ix->hnsw;
    uint16_t tag = jc_ann__visit_begin(s);
    uint16_t *vis = s->visited;
    if (jc_ann__grow_pairs(s, &s->tmp, &s->tmp_cap, ef + 1) != 0)
        return 0;
    struct jc_ann__pair *r = s->tmp;
    size_t len = 1, k = 0;
    r[0].d = ep_d;
    r[0].id = ep;
    vis[ep] = tag;
    uint32_t buf[256], nb[256];
    float dd[256];
    while (k < len) {
        size_t nk = len;
        if (!(r[k].id & EXPANDED)) {
            uint32_t node = r[k].id;
            r[k].id |= EXPANDED;
            uint32_t cnt, m = 0;
            const uint32_t *l = get_links(h, node, level, buf, &cnt);
            for (uint32_t j = 0; j < cnt; j++) {
                uint32_t id = l[j];
                if (vis[id] != tag) {
                    vis[id] = tag;
                    nb[m++] = id;
                    prefetch_vec(h, id);
                }
            }
            ix->dist_many(q, h->level0 + h->vec_off, h->node_size, nb, m, ix->dim_pad, dd);
            for (uint32_t j = 0; j < m; j++) {
                float d = dd[j];
                if (len == ef && d >= r[len - 1].d)
                    continue;
                size_t pos = retset_insert(r, len, d, nb[j]);
                if (len < ef)
                    len++;
                if (pos < nk)
                    nk = pos;
            }
        }
        if (nk <= k)
            k = nk;
        else
            k++;
    }
    for (size_t i = 0; i < len; i++)
        r[i].id &= ~EXPANDED;
    return len;
}

/* Adds `node` (at distance d from e) to e's list at level, shrinking it with
 * the heuristic when full. */
static void connect_back(const struct jc_ann *ix, uint32_t e, uint32_t node, int level)
{
    struct jc_ann__hnsw *h = ix->hnsw;
    uint32_t maxc = level ? h->m : h->m0;
    lock_node(h, e);
    uint32_t *l = links_at(h, e, level);
    uint32_t cnt = l[0];
    int present = 0;
    for (uint32_t j = 0; j < cnt; j++)
        present |= l[1 + j] == node;
    if (!present) {
        if (cnt < maxc) {
            l[1 + cnt] = node;
            l[0] = cnt + 1;
        } else {
            struct jc_ann__pair c[257];
            float dd[257];
            const float *ev = nvec(h, e);
            c[0].d = ix->dist(ev, nvec(h, node), ix->dim_pad);
            c[0].id = node;
            ix->dist_many(ev, h->level0 + h->vec_off, h->node_size, l + 1, cnt, ix->dim_pad, dd);
            for (uint32_t j = 0; j < cnt; j++) {
                c[1 + j].d = dd[j];
                c[1 + j].id = l[1 + j];
            }
            sort_pairs(c, cnt + 1);
            size_t kept = select_heuristic(ix, c, cnt + 1, maxc);
            for (size_t j = 0; j < kept; j++)
                l[1 + j] = c[j].id;
            for (size_t j = kept; j < maxc; j++)
                l[1 + j] = 0;
            l[0] = (uint32_t)kept;
        }
    }
    unlock_node(h, e);
}

static void insert_one(const struct jc_ann *ix, struct jc_ann__scratch *s, uint32_t node)
{
    struct jc_ann__hnsw *h = ix->hnsw;
    const float *q = nvec(h, node);
    int level = h->levels[node];
    int hold = 0;
    if (h->mt)
        pthread_mutex_lock(&h->global_mu);
    int maxl = h->max_level;
    uint32_t ep = h->entry;
    if (h->mt) {
        if (level > maxl)
            hold = 1;
        else
            pthread_mutex_unlock(&h->global_mu);
    }
    if (maxl < 0) {
        h->entry = node;
        h->max_level = level;
        if (hold)
            pthread_mutex_unlock(&h->global_mu);
        return;
    }
    uint32_t cur = ep;
    float cur_d = ix->dist(q, nvec(h, cur), ix->dim_pad);
    for (int lev = maxl; lev > level; lev--)
        greedy_build(ix, q, &cur, &cur_d, lev);
    size_t efc = ix->cfg.hnsw_ef_construction;
    for (int lev = level < maxl ? level : maxl; lev >= 0; lev--) {
        size_t found = search_layer_build(ix, s, q, cur, cur_d, lev, efc);
        if (found == 0)
            break; /* out of memory */
        size_t kept = select_heuristic(ix, s->tmp, found, h->m);
        lock_node(h, node);
        uint32_t *l = links_at(h, node, lev);
        for (size_t j = 0; j < kept; j++)
            l[1 + j] = s->tmp[j].id;
        l[0] = (uint32_t)kept;
        unlock_node(h, node);
        for (size_t j = 0; j < kept; j++)
            connect_back(ix, s->tmp[j].id, node, lev);
        if (kept > 0) {
            cur = s->tmp[0].id;
            cur_d = s->tmp[0].d;
        }
    }
    if (!h->mt || hold) {
        if (level > h->max_level) {
            h->max_level = level;
            h->entry = node;
        }
    }
    if (hold)
        pthread_mutex_unlock(&h->global_mu);
}

struct insert_job {
    const struct jc_ann *ix;
    size_t first;
    atomic_int oom;
};

static void insert_task(void *ctx, uint64_t task, int worker)
{
    struct insert_job *j = ctx;
    struct jc_ann__scratch *s = j->ix->hnsw->wscratch[worker];
    s->oom = 0;
    insert_one(j->ix, s, (uint32_t)(j->first + task));
    if (s->oom)
        atomic_store(&j->oom, 1);
}

int jc_ann__hnsw_insert(struct jc_ann *ix, size_t first, size_t count)
{
    struct jc_ann__hnsw *h = ix->hnsw;
    int workers = ix->pool ? jc_pool_size(ix->pool) : 1;
    if (h->n_wscratch < workers) {
        struct jc_ann__scratch **w = jc_realloc_array(h->wscratch, (size_t)workers, sizeof *w);
        if (w == NULL)
            return JC_ENOMEM;
        h->wscratch = w;
        for (; h->n_wscratch < workers; h->n_wscratch++) {
            w[h->n_wscratch] = jc_ann__scratch_new(ix);
            if (w[h->n_wscratch] == NULL)
                return JC_ENOMEM;
        }
    }
    for (int i = 0; i < workers; i++)
        if (jc_ann__scratch_fit(h->wscratch[i], ix->n) != JC_OK)
            return JC_ENOMEM;
    struct insert_job job = {ix, first, 0};
    size_t start = 0;
    if (h->max_level < 0 && count > 0) {
        insert_task(&job, 0, 0); /* the first node needs no search */
        start = 1;
    }
    if (ix->pool && count - start >= 16) {
        if (h->locks == NULL) {
            h->locks = jc_malloc_array(LOCK_STRIPES, sizeof *h->locks);
            if (h->locks == NULL)
                return JC_ENOMEM;
            for (int i = 0; i < LOCK_STRIPES; i++)
                pthread_mutex_init(&h->locks[i], NULL);
        }
        job.first = first + start;
        h->mt = 1;
        jc_pool_run(ix->pool, count - start, insert_task, &job);
        h->mt = 0;
    } else {
        for (size_t i = start; i < count; i++)
            insert_task(&job, i, 0);
    }
    if (atomic_load(&job.oom))
        return jc_err_set(JC_ENOMEM, "ann: out of memory while linking HNSW nodes; the "
                                     "affected nodes have fewer links");
    return JC_OK;
}

/* ---- searching -------------------------------------------------------------- */

/* Level-0 search without tombstones or filter: one sorted candidate list
 * (see retset_insert), which ends as the answer. */
static int search0_plain(const struct jc_ann *ix, struct jc_ann__scratch *s, const float *q,
                         uint32_t ep, float ep_d, uint32_t k, uint32_t ef, struct jc_ann_hit *out,
                         uint32_t *n_out)
{
    const struct jc_ann__hnsw *h = ix->hnsw;
    const size_t dp = ix->dim_pad;
    if (jc_ann__grow_pairs(s, &s->top, &s->top_cap, (size_t)ef + 1) != 0)
        return JC_ENOMEM;
    uint16_t tag = jc_ann__visit_begin(s);
    uint16_t *vis = s->visited;
    struct jc_ann__pair *r = s->top;
    size_t len = 1, i = 0;
    r[0].d = ep_d;
    r[0].id = ep;
    vis[ep] = tag;
    uint32_t nb[256];
    float dd[256];
    const uint8_t *vbase = h->level0 + h->vec_off;
    uint64_t n_dist = 0;
    while (i < len) {
        size_t nk = len;
        if (!(r[i].id & EXPANDED)) {
            const uint32_t *l = links0(h, r[i].id);
            r[i].id |= EXPANDED;
            uint32_t cnt = l[0], m = 0;
            for (uint32_t j = 0; j < cnt; j++) {
                uint32_t id = l[1 + j];
                if (vis[id] != tag) {
                    vis[id] = tag;
                    nb[m++] = id;
                    prefetch_vec(h, id);
                }
            }
            n_dist += m;
            ix->dist_many(q, vbase, h->node_size, nb, m, dp, dd);
            for (uint32_t j = 0; j < m; j++) {
                float d = dd[j];
                if (len == ef && d >= r[len - 1].d)
                    continue;
                size_t pos = retset_insert(r, len, d, nb[j]);
                if (len < ef)
                    len++;
                if (pos < nk)
                    nk = pos;
            }
        }
        if (nk <= i)
            i = nk;
        else
            i++;
    }
    s->n_dist += n_dist;
    size_t have = len < k ? len : k;
    for (size_t j = 0; j < have; j++)
        r[j].id &= ~EXPANDED;
    *n_out = jc_ann__finish(ix, r, have, k, out);
    return JC_OK;
}

/* Level-0 search with tombstones or a filter (hnswlib's algorithm): a
 * candidate min-heap that also holds rejected nodes, so the search walks
 * through them, and a result max-heap of ef accepted nodes. */
static int search0_filtered(const struct jc_ann *ix, struct jc_ann__scratch *s, const float *q,
                            uint32_t cur, float cur_d, uint32_t k, uint32_t ef,
                            const struct jc_ann_search_opts *o, struct jc_ann_hit *out,
                            uint32_t *n_out)
{
    const struct jc_ann__hnsw *h = ix->hnsw;
    const size_t dp = ix->dim_pad;
    if (jc_ann__grow_pairs(s, &s->top, &s->top_cap, (size_t)ef + 1) != 0 ||
        jc_ann__grow_pairs(s, &s->cand, &s->cand_cap, 256) != 0)
        return JC_ENOMEM;
    uint16_t tag = jc_ann__visit_begin(s);
    uint16_t *vis = s->visited;
    struct jc_ann__pair *top = s->top, *cand = s->cand;
    size_t top_n = 0, cand_n = 0;
    float lower = INFINITY;
    if (jc_ann__accept(ix, cur, o)) {
        jc_ann__maxheap_push(top, &top_n, cur_d, cur);
        lower = cur_d;
    }
    jc_ann__minheap_push(cand, &cand_n, cur_d, cur);
    vis[cur] = tag;
    uint32_t nb[256];
    float dd[256];
    while (cand_n > 0) {
        struct jc_ann__pair c = cand[0];
        if (c.d > lower && top_n == ef)
            break;
        jc_ann__minheap_pop(cand, &cand_n);
        const uint32_t *l = links0(h, c.id);
        uint32_t cnt = l[0], m = 0;
        for (uint32_t j = 0; j < cnt; j++) {
            uint32_t id = l[1 + j];
            if (vis[id] != tag) {
                vis[id] = tag;
                nb[m++] = id;
                prefetch_vec(h, id);
            }
        }
        s->n_dist += m;
        ix->dist_many(q, h->level0 + h->vec_off, h->node_size, nb, m, dp, dd);
        for (uint32_t j = 0; j < m; j++) {
            uint32_t id = nb[j];
            float d = dd[j];
            if (top_n < ef || d < lower) {
                if (cand_n + 1 > s->cand_cap) {
                    if (jc_ann__grow_pairs(s, &s->cand, &s->cand_cap, cand_n + 1) != 0)
                        return JC_ENOMEM;
                    cand = s->cand;
                }
                jc_ann__minheap_push(cand, &cand_n, d, id);
                if (jc_ann__accept(ix, id, o)) {
                    jc_ann__maxheap_push(top, &top_n, d, id);
                    if (top_n > ef)
                        jc_ann__maxheap_pop(top, &top_n);
                }
                if (top_n > 0)
                    lower = top[0].d;
            }
        }
    }
    *n_out = jc_ann__finish(ix, top, top_n, k, out);
    return JC_OK;
}

int jc_ann__hnsw_search(const struct jc_ann *ix, struct jc_ann__scratch *s, const float *q,
                        uint32_t k, uint32_t ef, const struct jc_ann_search_opts *o,
                        struct jc_ann_hit *out, uint32_t *n_out)
{
    const struct jc_ann__hnsw *h = ix->hnsw;
    if (h->max_level < 0) {
        *n_out = 0;
        return JC_OK;
    }
    const size_t dp = ix->dim_pad;
    const jc_ann__dist_fn dist = ix->dist;
    /* greedy descent */
    s->n_dist = 0;
    uint32_t cur = h->entry;
    float cur_d = dist(q, nvec(h, cur), dp);
    for (int lev = h->max_level; lev > 0; lev--) {
        for (int changed = 1; changed;) {
            changed = 0;
            const uint32_t *l = links_at(h, cur, lev);
            uint32_t cnt = l[0];
            for (uint32_t j = 0; j < cnt; j++)
                prefetch(nvec(h, l[1 + j]));
            for (uint32_t j = 0; j < cnt; j++) {
                float d = dist(q, nvec(h, l[1 + j]), dp);
                if (d < cur_d) {
                    cur_d = d;
                    cur = l[1 + j];
                    changed = 1;
                }
            }
        }
    }
    if (ix->n_removed == 0 && o->keep == NULL)
        return search0_plain(ix, s, q, cur, cur_d, k, ef, out, n_out);
    return search0_filtered(ix, s, q, cur, cur_d, k, ef, o, out, n_out);
}

/* ---- files -------------------------------------------------------------------- */

void jc_ann__hnsw_save_parts(const struct jc_ann *ix, struct jc_ann__fhdr *hd,
                             struct jc_ann__wsec *sec)
{
    const struct jc_ann__hnsw *h = ix->hnsw;
    hd->max_level = h->max_level;
    hd->entry = h->max_level < 0 ? JC_ANN__NONE : h->entry;
    hd->node_size = (uint32_t)h->node_size;
    hd->aux = h->upper_len;
    sec[2].data = h->level0;
    sec[2].size = ix->n * h->node_size;
    sec[3].data = h->levels;
    sec[3].size = ix->n;
    sec[4].data = h->upper_off;
    sec[4].size = ix->n * sizeof(uint64_t);
    sec[5].data = h->upper;
    sec[5].size = h->upper_len * sizeof(uint32_t);
    hd->n_sections = 6;
}

/* Checks the whole graph: counts, neighbour ids, neighbour levels. */
static int validate_graph(const struct jc_ann__hnsw *h, size_t n, const char *path)
{
    const char *pre = "corrupt index file";
    if (n == 0) {
        if (h->max_level != -1)
            return jc_err_set(JC_ECORRUPT, "%s: %s: empty graph with top level %d", path, pre,
                              h->max_level);
        return JC_OK;
    }
    if (h->max_level < 0 || h->max_level > MAX_LEVEL)
        return jc_err_set(JC_ECORRUPT, "%s: %s: top level %d out of range 0..%d", path, pre,
                          h->max_level, MAX_LEVEL);
    if (h->entry >= n || h->levels[h->entry] != h->max_level)
        return jc_err_set(JC_ECORRUPT, "%s: %s: entry point %u is not a node of the top level",
                          path, pre, h->entry);
    for (size_t i = 0; i < n; i++) {
        int lvl = h->levels[i];
        if (lvl > h->max_level)
            return jc_err_set(JC_ECORRUPT, "%s: %s: node %zu has level %d above the top level %d",
                              path, pre, i, lvl, h->max_level);
        if (lvl > 0) {
            uint64_t off = h->upper_off[i];
            uint64_t len = (uint64_t)lvl * (1 + h->m);
            if (off > h->upper_len || len > h->upper_len - off)
                return jc_err_set(JC_ECORRUPT, "%s: %s: node %zu: upper links out of bounds", path,
                                  pre, i);
        }
        for (int lev = 0; lev <= lvl; lev++) {
            const uint32_t *l = links_at(h, i, lev);
            uint32_t maxc = lev ? h->m : h->m0;
            if (l[0] > maxc)
                return jc_err_set(JC_ECORRUPT,
                                  "%s: %s: node %zu has %u links on level %d, "
                                  "more than %u",
                                  path, pre, i, l[0], lev, maxc);
            for (uint32_t j = 0; j < l[0]; j++) {
                uint32_t nbr = l[1 + j];
                if (nbr >= n)
                    return jc_err_set(JC_ECORRUPT,
                                      "%s: %s: node %zu links to node %u, past "
                                      "the last node %zu",
                                      path, pre, i, nbr, n - 1);
                if (h->levels[nbr] < lev)
                    return jc_err_set(JC_ECORRUPT,
                                      "%s: %s: node %zu links to node %u on "
                                      "level %d, which that node lacks",
                                      path, pre, i, nbr, lev);
            }
        }
    }
    return JC_OK;
}

int jc_ann__hnsw_load(struct jc_ann *ix, const struct jc_ann__fhdr *hd, const uint8_t *base,
                      int writable, const char *path)
{
    int rc = jc_ann__hnsw_create(ix);
    if (rc != JC_OK)
        return rc;
    struct jc_ann__hnsw *h = ix->hnsw;
    size_t n = hd->n;
    if (hd->n_sections != 6 || hd->node_size != h->node_size ||
        hd->sec_size[2] != n * h->node_size || hd->sec_size[3] != n || hd->sec_size[4] != n * 8 ||
        hd->sec_size[5] != hd->aux * 4)
        return jc_err_set(JC_ECORRUPT,
                          "%s: corrupt index file: HNSW section sizes do not "
                          "match %zu nodes of %zu bytes",
                          path, n, h->node_size);
    h->max_level = hd->max_level;
    h->entry = hd->entry;
    h->upper_len = hd->aux;
    if (!writable) {
        h->owned = 0;
        h->level0 = (uint8_t *)(base + hd->sec_off[2]);
        h->levels = (uint8_t *)(base + hd->sec_off[3]);
        h->upper_off = (uint64_t *)(base + hd->sec_off[4]);
        h->upper = (uint32_t *)(base + hd->sec_off[5]);
        h->upper_cap = h->upper_len;
        ix->vbase = h->level0 + h->vec_off;
        ix->vstride = h->node_size;
    } else {
        size_t keep_n = ix->n;
        ix->n = 0; /* nothing to copy while reserving */
        rc = jc_ann__hnsw_reserve(ix, ix->cap);
        ix->n = keep_n;
        if (rc != JC_OK)
            return rc;
        size_t ucap = h->upper_len ? h->upper_len : 16;
        h->upper = jc_malloc_array(ucap, sizeof(uint32_t));
        if (h->upper == NULL)
            return JC_ENOMEM;
        h->upper_cap = ucap;
        if (n) {
            memcpy(h->level0, base + hd->sec_off[2], n * h->node_size);
            memcpy(h->levels, base + hd->sec_off[3], n);
            memcpy(h->upper_off, base + hd->sec_off[4], n * 8);
        }
        if (h->upper_len)
            memcpy(h->upper, base + hd->sec_off[5], h->upper_len * 4);
    }
    return validate_graph(h, n, path);
}
