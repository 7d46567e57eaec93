/*
 * pipeline.c - recall channels, rankers, re-rankers, scenes and similar
 * items over the catalog (the phase-1 pipeline; see pipeline.h).
 *
 * Per-request memory is a thread-local scratch area sized to the catalog
 * and reused across requests: item marks use epoch stamps (an array of
 * uint32 where "marked" means stamp == current epoch), so clearing a set is
 * one increment instead of a memset of n_items entries. Candidate lists are
 * bounded by the sum of the scene's quotas.
 *
 * A snapshot never changes, so what a request derives from the snapshot and
 * the user alone is kept in the snapshot (state.h) and reused: the user
 * vector built from the catalog history (emb_user) and the user's ranked
 * co-occurrence list outside the history (cooc; a request then only skips
 * its own unseen items). Both are filled lazily, lock-free (first writer
 * wins), bounded in size, and give exactly the uncached results. Sorting
 * by (score desc, id asc) maps each pair to one uint64 key (rank_key) and
 * sorts integers (radix sort, or quickselect + sort of the head) instead of
 * qsort with a comparison callback.
 *
 * Phase-1 components, all computed from the catalog alone:
 *   recall  genre_pref  top damped-rating items of the user's preferred genres
 *           cooc        items co-interacted with the user's recent positives
 *                       (bounded sampling: recent users x recent items)
 *           popular     most interacted items (cold-start fallback)
 *           newest      most recent release years
 *   rank    heuristic   genre affinity + damped rating + recall score
 *           recall      the merged recall score as is
 *   rerank  mmr         maximal marginal relevance on genre Jaccard
 *           genre_cap   at most N items per first genre in the page head
 *   similar cooc_genre  co-occurrence cosine blended with genre Jaccard
 *
 * Phase-2 components, over the snapshot's models, embeddings and store
 * (comps.h); a channel whose resource is absent marks itself skipped:
 *   recall  emb_user    ANN around the user vector (realtime uemb:<emb>:<user>
 *                       from the store, else the recency-weighted mean of the
 *                       vectors of the user's positives)
 *           emb_item    ANN around each of the last 5 positive items
 *                       (realtime recent positives from the store when there)
 *           mf          ANN (inner product) around the MF user factor
 *           trending    decayed nearline popularity (pop:<item>), else the
 *                       catalog's last-30-days popularity
 *   rank    model       the registry model (model:NAME), features built by
 *                       jc_featspec_build_batch from the store's realtime
 *                       user/item states, else from the catalog
 *   rules   boost / bury / filter by genre, year, count, rating, item
 *   similar emb         embedding ANN (cosine) around the item
 */
#include "serve/pipeline.h"

#include "core/alloc.h"
#include "core/buf.h"
#include "core/log.h"
#include "core/parse.h"
#include "core/timeutil.h"
#include "serve/comps.h"
#include <junco/error.h>
#include <junco/store.h>

#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Bounds of the co-occurrence sampling (work per request is at most
 * seeds * users * items). */
#define COOC_SEEDS      10
#define COOC_USERS      50
#define COOC_ITEMS      100
#define SIM_USERS       200
#define SIM_ITEMS       200
#define SIM_GENRE_CANDS 200
#define EMB_ITEM_SEEDS  5

/* ---- thread-local scratch --------------------------------------------- */

struct marks {
    uint32_t *stamp;
    uint32_t epoch;
};

struct scratch {
    uint32_t cap_items;
    struct marks skip;    /* watched or excluded */
    struct marks inset;   /* in the candidate set */
    struct marks acc_m;   /* acc[] entry valid */
    struct marks hist;    /* in the user's catalog history */
    uint32_t *slot;       /* item -> candidate index */
    float *acc;           /* co-occurrence accumulator */
    uint32_t *touched;    /* items with a valid acc entry */
    uint32_t *cnt;        /* co-occurrence counts, all zero between requests */
    uint64_t *keys;       /* sort keys (rank_key), n_items entries */
    uint64_t *ckeys;      /* sort keys of the candidates, cap_cands entries */
    struct jc_cand *ctmp; /* candidates being permuted, cap_ckeys entries */
    size_t cap_ckeys;
    size_t n_touched;
    uint32_t cap_genres;
    float *gpref;
    uint32_t *gcount;
    float *gsum;
    struct jc_cand *cands;
    size_t n_cands, cap_cands;
    float qvec[JC_EMB_MAX_DIM]; /* a query vector */
    struct jc_ann_hit *hits;    /* ANN results */
    size_t cap_hits;
    struct jc_user_state *us; /* the realtime user state from the store */
    struct jc_buf kbuf;       /* store reads */
};

static pthread_key_t scratch_key;
static pthread_once_t scratch_once = PTHREAD_ONCE_INIT;

static void scratch_free(void *p)
{
    struct scratch *s = p;
    if (s == NULL)
        return;
    jc_free(s->skip.stamp);
    jc_free(s->inset.stamp);
    jc_free(s->acc_m.stamp);
    jc_free(s->hist.stamp);
    jc_free(s->slot);
    jc_free(s->acc);
    jc_free(s->touched);
    jc_free(s->cnt);
    jc_free(s->keys);
    jc_free(s->ckeys);
    jc_free(s->ctmp);
    jc_free(s->gpref);
    jc_free(s->gcount);
    jc_free(s->gsum);
    jc_free(s->cands);
    jc_free(s->hits);
    jc_free(s->us);
    jc_buf_free(&s->kbuf);
    jc_free(s);
}

static void scratch_key_init(void)
{
    pthread_key_create(&scratch_key, scratch_free);
}

/* Frees the calling thread's scratch now (threads that exit free theirs
 * through the key destructor). */
void jc_pipeline_thread_cleanup(void);
void jc_pipeline_thread_cleanup(void)
{
    pthread_once(&scratch_once, scratch_key_init);
    scratch_free(pthread_getspecific(scratch_key));
    pthread_setspecific(scratch_key, NULL);
}

static struct scratch *scratch_get(uint32_t n_items, uint32_t n_genres)
{
    pthread_once(&scratch_once, scratch_key_init);
    struct scratch *s = pthread_getspecific(scratch_key);
    if (s && s->cap_items >= n_items && s->cap_genres >= n_genres)
        return s;
    scratch_free(s);
    pthread_setspecific(scratch_key, NULL);
    s = jc_calloc(1, sizeof *s);
    if (s == NULL)
        return NULL;
    size_t ni = n_items ? n_items : 1, ng = n_genres ? n_genres : 1;
    s->cap_items = (uint32_t)ni;
    s->cap_genres = (uint32_t)ng;
    s->skip.stamp = jc_calloc(ni, sizeof(uint32_t));
    s->inset.stamp = jc_calloc(ni, sizeof(uint32_t));
    s->acc_m.stamp = jc_calloc(ni, sizeof(uint32_t));
    s->hist.stamp = jc_calloc(ni, sizeof(uint32_t));
    s->slot = jc_malloc_array(ni, sizeof(uint32_t));
    s->acc = jc_malloc_array(ni, sizeof(float));
    s->touched = jc_malloc_array(ni + 1, sizeof(uint32_t)); /* + the branch-free append */
    s->cnt = jc_calloc(ni, sizeof(uint32_t));
    s->keys = jc_malloc_array(ni, sizeof(uint64_t));
    s->gpref = jc_calloc(ng, sizeof(float));
    s->gcount = jc_calloc(ng, sizeof(uint32_t));
    s->gsum = jc_calloc(ng, sizeof(float));
    s->us = jc_malloc(sizeof *s->us);
    jc_buf_init(&s->kbuf, (size_t)1 << 20);
    if (!s->us || !s->skip.stamp || !s->inset.stamp || !s->acc_m.stamp || !s->hist.stamp ||
        !s->slot || !s->acc || !s->touched || !s->cnt || !s->keys || !s->gpref || !s->gcount ||
        !s->gsum) {
        scratch_free(s);
        return NULL;
    }
    pthread_setspecific(scratch_key, s);
    return s;
}

static void marks_next(struct marks *m, uint32_t n)
{
    if (++m->epoch == 0) {
        memset(m->stamp, 0, sizeof(uint32_t) * n);
        m->epoch = 1;
    }
}

static inline int marked(const struct marks *m, uint32_t i)
{
    return m->stamp[i] == m->epoch;
}

static inline void mark(struct marks *m, uint32_t i)
{
    m->stamp[i] = m->epoch;
}

/* ---- request context --------------------------------------------------- */

struct jc_pipe_req {
    const struct jc_serve_state *st;
    const struct jc_catalog *cat;
    const struct jc_view *v;
    const struct jc_catidx *ix;
    const struct jc_scene *sc;
    const struct jc_reco_query *q;
    struct scratch *s;
    struct jc_interactions in;
    int has_user;
    uint32_t user;
    uint64_t hb, he; /* history range */
    float umean;
    float gpref_max;
    int oom;
    int64_t now;                       /* request time, Unix seconds */
    uint32_t skipped;                  /* channels without their resource */
    const struct jc_model_comp *model; /* for the model ranker */
    const struct jc_featspec *spec;    /* any loaded spec (store decoding) */
    int rt_found;                      /* s->us holds the store's state */
};

static int item_has_genre(const struct jc_view *v, uint32_t item, uint32_t genre)
{
    const uint16_t *g;
    uint32_t ng = jc_view_item_genres(v, item, &g);
    for (uint32_t k = 0; k < ng; k++)
        if (g[k] == genre)
            return 1;
    return 0;
}

float jc_pipeline_genre_jaccard(const struct jc_view *v, uint32_t a, uint32_t b)
{
    const uint16_t *ga, *gb;
    uint32_t na = jc_view_item_genres(v, a, &ga);
    uint32_t nb = jc_view_item_genres(v, b, &gb);
    if (na == 0 && nb == 0)
        return 0.0f;
    uint32_t inter = 0;
    for (uint32_t i = 0; i < na; i++)
        for (uint32_t k = 0; k < nb; k++)
            if (ga[i] == gb[k]) {
                inter++;
                break;
            }
    return (float)inter / (float)(na + nb - inter);
}

void jc_pipe_add(struct jc_pipe_req *rq, int ch, uint32_t item, float score)
{
    struct scratch *s = rq->s;
    if (item >= rq->ix->n_items || marked(&s->skip, item))
        return;
    if (rq->q->genre >= 0 && !item_has_genre(rq->v, item, (uint32_t)rq->q->genre))
        return;
    if (marked(&s->inset, item)) {
        struct jc_cand *c = &s->cands[s->slot[item]];
        c->channels |= 1u << ch;
        if (score > c->ch_score[ch])
            c->ch_score[ch] = score;
        return;
    }
    if (s->n_cands == s->cap_cands) {
        size_t cap = s->cap_cands ? s->cap_cands * 2 : 512;
        struct jc_cand *nc = jc_realloc_array(s->cands, cap, sizeof *nc);
        if (nc == NULL) {
            rq->oom = 1;
            return;
        }
        s->cands = nc;
        s->cap_cands = cap;
    }
    struct jc_cand *c = &s->cands[s->n_cands];
    memset(c, 0, sizeof *c);
    c->item = item;
    c->channels = 1u << ch;
    c->ch_score[ch] = score;
    s->slot[item] = (uint32_t)s->n_cands++;
    mark(&s->inset, item);
}

/* Fills the user context: history, mean, genre preferences. */
static void user_context(struct jc_pipe_req *rq)
{
    struct scratch *s = rq->s;
    uint32_t ng = rq->ix->n_genres;
    memset(s->gpref, 0, sizeof(float) * ng);
    rq->gpref_max = 0;
    rq->hb = rq->he = 0;
    rq->umean = 0;
    if (!rq->has_user)
        return;
    jc_view_user_range(rq->v, rq->user, &rq->hb, &rq->he);
    double sum = 0;
    for (uint64_t k = rq->hb; k < rq->he; k++)
        sum += rq->in.value[k];
    uint64_t n = rq->he - rq->hb;
    rq->umean = n ? (float)(sum / (double)n) : 0.0f;
    for (uint64_t k = rq->hb; k < rq->he; k++) {
        uint32_t it = rq->in.item[k];
        /* Liked items count fully, the rest half: preference, not exposure. */
        float w = rq->in.value[k] >= rq->umean ? 1.0f : 0.5f;
        const uint16_t *g;
        uint32_t ngi = jc_view_item_genres(rq->v, it, &g);
        for (uint32_t i = 0; i < ngi; i++)
            if (g[i] < ng)
                s->gpref[g[i]] += w;
    }
    float total = 0;
    for (uint32_t g = 0; g < ng; g++)
        total += s->gpref[g];
    for (uint32_t g = 0; g < ng && total > 0; g++) {
        s->gpref[g] /= total;
        if (s->gpref[g] > rq->gpref_max)
            rq->gpref_max = s->gpref[g];
    }
}

size_t jc_pipeline_user_genres(const struct jc_serve_state *st, uint32_t user,
                               struct jc_genre_pref *out, size_t cap)
{
    const struct jc_catalog *cat = jc_state_cat(st);
    const struct jc_catidx *ix = jc_state_idx(st);
    struct scratch *s = scratch_get(ix->n_items, ix->n_genres);
    if (s == NULL || user >= ix->n_users)
        return 0;
    struct jc_reco_query q = {.has_user = 1, .user = user, .genre = -1};
    struct jc_pipe_req rq = {
        .st = st, .cat = cat, .v = jc_state_view(st), .ix = ix, .q = &q, .s = s};
    jc_catalog_interactions(cat, &rq.in);
    rq.has_user = 1;
    rq.user = user;
    user_context(&rq);
    uint32_t ng = ix->n_genres;
    memset(s->gcount, 0, sizeof(uint32_t) * ng);
    memset(s->gsum, 0, sizeof(float) * ng);
    for (uint64_t k = rq.hb; k < rq.he; k++) {
        const uint16_t *g;
        uint32_t ngi = jc_view_item_genres(rq.v, rq.in.item[k], &g);
        for (uint32_t i = 0; i < ngi; i++)
            if (g[i] < ng) {
                s->gcount[g[i]]++;
                s->gsum[g[i]] += rq.in.value[k];
            }
    }
    size_t n = 0;
    uint64_t nh = rq.he - rq.hb;
    for (uint32_t g = 0; g < ng; g++) {
        if (s->gcount[g] == 0)
            continue;
        struct jc_genre_pref p = {.genre = g,
                                  .count = s->gcount[g],
                                  .share = nh ? (float)s->gcount[g] / (float)nh : 0.0f,
                                  .mean = s->gsum[g] / (float)s->gcount[g],
                                  .score = s->gpref[g]};
        /* insertion into the top-cap list, best score first */
        size_t pos = n < cap ? n : cap;
        while (pos > 0 && (out[pos - 1].score < p.score ||
                           (out[pos - 1].score == p.score && out[pos - 1].genre > g)))
            pos--;
        if (pos >= cap)
            continue;
        size_t last = n < cap ? n : cap - 1;
        memmove(&out[pos + 1], &out[pos], sizeof *out * (last - pos));
        out[pos] = p;
        if (n < cap)
            n++;
    }
    return n;
}

/* ---- recall channels ---------------------------------------------------- */

static int recall_genre_pref(struct jc_pipe_req *rq, int ch, uint32_t quota)
{
    if (!rq->has_user || rq->gpref_max <= 0)
        return JC_OK;
    /* The three most preferred genres share the quota by preference. */
    uint32_t top[3];
    int nt = 0;
    const float *p = rq->s->gpref;
    for (uint32_t g = 0; g < rq->ix->n_genres; g++) {
        if (p[g] <= 0)
            continue;
        int pos = nt < 3 ? nt : 3;
        while (pos > 0 && p[top[pos - 1]] < p[g])
            pos--;
        if (pos >= 3)
            continue;
        int last = nt < 3 ? nt : 2;
        memmove(&top[pos + 1], &top[pos], sizeof top[0] * (size_t)(last - pos));
        top[pos] = g;
        if (nt < 3)
            nt++;
    }
    float psum = 0;
    for (int i = 0; i < nt; i++)
        psum += p[top[i]];
    for (int i = 0; i < nt; i++) {
        uint32_t g = top[i];
        uint32_t qg = (uint32_t)lrintf((float)quota * p[g] / psum);
        if (qg == 0)
            qg = 1;
        const uint32_t *items;
        size_t n = jc_catidx_list(rq->ix, (int32_t)g, JC_SORT_DAMPED, &items);
        uint32_t taken = 0;
        float gw = p[g] / rq->gpref_max;
        for (size_t k = 0; k < n && taken < qg; k++) {
            if (marked(&rq->s->skip, items[k]))
                continue;
            jc_pipe_add(rq, ch, items[k], gw * (1.0f - (float)taken / (float)qg));
            taken++;
        }
    }
    return JC_OK;
}

static int cmp_acc_desc(const void *pa, const void *pb, void *ctx)
{
    const float *acc = ctx;
    uint32_t a = *(const uint32_t *)pa, b = *(const uint32_t *)pb;
    if (acc[a] != acc[b])
        return acc[a] > acc[b] ? -1 : 1;
    return a < b ? -1 : a > b;
}

/* 1 if item a ranks below item b (lower score, then higher id). */
static inline int worse(const float *score, uint32_t a, uint32_t b)
{
    return score[a] < score[b] || (score[a] == score[b] && a > b);
}

static void sift_down(uint32_t *h, size_t n, size_t i, const float *score)
{
    for (;;) {
        size_t l = 2 * i + 1, r = l + 1, m = i;
        if (l < n && worse(score, h[l], h[m]))
            m = l;
        if (r < n && worse(score, h[r], h[m]))
            m = r;
        if (m == i)
            return;
        uint32_t t = h[i];
        h[i] = h[m];
        h[m] = t;
        i = m;
    }
}

/* top_k with comparisons: a min-heap of the best k so far, O(m log k).
 * Used when a score is NaN (the keyed version needs a total order). */
static size_t top_k_cmp(uint32_t *ids, size_t m, const float *score, size_t k)
{
    for (size_t i = k / 2; i-- > 0;)
        sift_down(ids, k, i, score);
    for (size_t i = k; i < m; i++) {
        if (worse(score, ids[0], ids[i])) {
            uint32_t t = ids[0];
            ids[0] = ids[i];
            ids[i] = t;
            sift_down(ids, k, 0, score);
        }
    }
    qsort_r(ids, k, sizeof(uint32_t), cmp_acc_desc, (void *)score);
    return k;
}

/* Ranking by (score desc, id asc) without comparison callbacks: each
 * (score, id) becomes one uint64 key whose ascending order is that order
 * (the float's bits mapped to an order-preserving unsigned integer, then
 * inverted, in the high half; the id in the low half), so that sorting and
 * selecting are plain integer operations. -0 is keyed as +0 (they compare
 * equal); NaN scores have no place in the order, and callers with a NaN
 * score use the comparison sort instead. */
static inline uint64_t rank_key(float score, uint32_t id)
{
    if (score == 0.0f)
        score = 0.0f;
    uint32_t b;
    memcpy(&b, &score, sizeof b);
    uint32_t asc = (b & 0x80000000u) ? ~b : (b | 0x80000000u);
    return ((uint64_t)~asc << 32) | id;
}

static inline void swap_u64(uint64_t *a, uint64_t *b)
{
    uint64_t t = *a;
    *a = *b;
    *b = t;
}

/* Partitions k[lo..hi] (hi - lo >= 2) around the median of three; returns
 * the pivot's final position. */
static size_t keys_partition(uint64_t *k, size_t lo, size_t hi)
{
    size_t mid = lo + (hi - lo) / 2;
    if (k[mid] < k[lo])
        swap_u64(&k[mid], &k[lo]);
    if (k[hi] < k[lo])
        swap_u64(&k[hi], &k[lo]);
    if (k[hi] < k[mid])
        swap_u64(&k[hi], &k[mid]);
    swap_u64(&k[mid], &k[hi - 1]);
    uint64_t pv = k[hi - 1];
    size_t i = lo, j = hi - 1;
    for (;;) {
        while (k[++i] < pv) {
        }
        while (pv < k[--j]) {
        }
        if (i >= j)
            break;
        swap_u64(&k[i], &k[j]);
    }
    swap_u64(&k[i], &k[hi - 1]);
    return i;
}

/* Sorts k[lo..hi) ascending where only the positions below `want` need to
 * be final (the rest is left in some order): quicksort that skips
 * partitions wholly at or past `want` and recurses into the smaller side
 * (depth <= log2 n), insertion sort below 17 keys. Keys must be distinct. */
static void keys_sort_head(uint64_t *k, size_t lo, size_t hi, size_t want)
{
    while (hi - lo > 16) {
        if (lo >= want)
            return;
        size_t p = keys_partition(k, lo, hi - 1);
        if (p - lo < hi - p - 1) {
            keys_sort_head(k, lo, p, want);
            lo = p + 1;
        } else {
            keys_sort_head(k, p + 1, hi, want);
            hi = p;
        }
    }
    if (lo >= want)
        return;
    for (size_t i = lo + 1; i < hi; i++) {
        uint64_t v = k[i];
        size_t j = i;
        while (j > lo && k[j - 1] > v) {
            k[j] = k[j - 1];
            j--;
        }
        k[j] = v;
    }
}

/* Sorts k[0..n) ascending by an LSD radix sort on bytes (skipping bytes
 * that are equal in every key); tmp: n entries of scratch. */
static void keys_radix_sort(uint64_t *k, uint64_t *tmp, size_t n)
{
    uint32_t hist[8][256];
    memset(hist, 0, sizeof hist);
    for (size_t i = 0; i < n; i++) {
        uint64_t v = k[i];
        for (int b = 0; b < 8; b++)
            hist[b][(v >> (8 * b)) & 0xff]++;
    }
    uint64_t *src = k, *dst = tmp;
    for (int b = 0; b < 8; b++) {
        uint32_t *h = hist[b];
        if (h[(src[0] >> (8 * b)) & 0xff] == n)
            continue; /* one value: the pass would not move anything */
        uint32_t sum = 0;
        for (int d = 0; d < 256; d++) {
            uint32_t c = h[d];
            h[d] = sum;
            sum += c;
        }
        for (size_t i = 0; i < n; i++)
            dst[h[(src[i] >> (8 * b)) & 0xff]++] = src[i];
        uint64_t *t = src;
        src = dst;
        dst = t;
    }
    if (src != k)
        memcpy(k, src, sizeof *k * n);
}

/* Moves the k best of ids[0..m) (by score desc, id asc) to the front in
 * order; returns min(k, m). keys: scratch of m entries. */
static size_t top_k(uint32_t *ids, size_t m, const float *score, size_t k, uint64_t *keys)
{
    if (k > m)
        k = m;
    if (k == 0)
        return 0;
    for (size_t i = 0; i < m; i++) {
        if (isnan(score[ids[i]]))
            return top_k_cmp(ids, m, score, k); /* no total order */
        keys[i] = rank_key(score[ids[i]], ids[i]);
    }
    keys_sort_head(keys, 0, m, k);
    for (size_t i = 0; i < k; i++)
        ids[i] = (uint32_t)keys[i];
    return k;
}

/* Accumulates co-occurrence counts around seed items into s->acc/touched:
 * for each seed, its most recent `users` users, and for each of them their
 * most recent `items` items. */
static void cooc_accumulate(const struct jc_view *view, const struct jc_interactions *in,
                            struct scratch *s, uint32_t n_items, const uint32_t *seeds,
                            size_t n_seeds, uint32_t self_user, int has_self, uint32_t users,
                            uint32_t items)
{
    marks_next(&s->acc_m, n_items);
    /* Integer counts (all zero between calls) with a branch-free first-touch
     * append; the counts go to acc[] (exact: < 2^24) and back to zero at the
     * end. touched[] keeps the first-touch order. */
    uint32_t *cnt = s->cnt;
    size_t nt = 0;
    for (size_t si = 0; si < n_seeds; si++) {
        const uint32_t *pos;
        uint64_t np = jc_view_item_interactions(view, seeds[si], &pos);
        uint64_t from = np > users ? np - users : 0;
        for (uint64_t k = from; k < np; k++) {
            uint32_t v = in->user[pos[k]];
            if (has_self && v == self_user)
                continue;
            uint64_t b, e;
            jc_catalog_user_range(view->cat, v, &b, &e);
            if (e - b > items)
                b = e - items;
            const uint32_t *it = in->item;
            for (uint64_t t = b; t < e; t++) {
                uint32_t j = it[t];
                uint32_t c = ++cnt[j];
                s->touched[nt] = j;
                nt += c == 1;
            }
        }
    }
    for (size_t i = 0; i < nt; i++) {
        uint32_t j = s->touched[i];
        mark(&s->acc_m, j);
        s->acc[j] = (float)cnt[j];
        cnt[j] = 0;
    }
    s->n_touched = nt;
}

/* Per snapshot: at most this many co-occurrence entries per cached user
 * row and in all rows together. */
#define COOC_ROW_MAX   512
#define COOC_CACHE_MAX ((uint64_t)1 << 22)

/* The snapshot's co-occurrence row cache (state.h), created on first use;
 * NULL when out of memory. */
static struct jc_cooc_cache *cooc_cache(const struct jc_serve_state *st, uint32_t n_users)
{
    /* the caches are the only mutable part of a snapshot */
    struct jc_serve_state *mst = (struct jc_serve_state *)st;
    struct jc_cooc_cache *c = atomic_load_explicit(&mst->cooc, memory_order_acquire);
    if (c || n_users == 0)
        return c;
    c = jc_calloc(1, sizeof *c);
    if (c == NULL)
        return NULL;
    c->n_users = n_users;
    c->rows = jc_calloc(n_users, sizeof *c->rows);
    struct jc_cooc_cache *prev = NULL;
    if (c->rows == NULL || !atomic_compare_exchange_strong_explicit(
                               &mst->cooc, &prev, c, memory_order_acq_rel, memory_order_acquire)) {
        jc_free((void *)c->rows);
        jc_free(c);
        return prev;
    }
    return c;
}

/* Accumulates the user's co-occurrence counts (seeds: the most recent
 * items rated at least the user's mean) into s->acc / s->touched. */
static void cooc_user_accumulate(struct jc_pipe_req *rq)
{
    uint32_t seeds[COOC_SEEDS];
    size_t ns = 0;
    for (uint64_t k = rq->he; k > rq->hb && ns < COOC_SEEDS; k--)
        if (rq->in.value[k - 1] >= rq->umean)
            seeds[ns++] = rq->in.item[k - 1];
    cooc_accumulate(rq->v, &rq->in, rq->s, rq->ix->n_items, seeds, ns, rq->user, 1, COOC_USERS,
                    COOC_ITEMS);
}

/* The user's row (see struct jc_cooc_row) from the accumulated counts,
 * damped in s->acc: count / sqrt(item interactions). NULL when out of
 * memory (s->acc is then untouched). */
static struct jc_cooc_row *cooc_row_build(struct jc_pipe_req *rq)
{
    struct scratch *s = rq->s;
    size_t cap = s->n_touched < COOC_ROW_MAX ? s->n_touched : COOC_ROW_MAX;
    struct jc_cooc_row *row = jc_malloc(sizeof *row + cap * sizeof row->e[0]);
    if (row == NULL)
        return NULL;
    marks_next(&s->hist, rq->ix->n_items);
    for (uint64_t k = rq->hb; k < rq->he; k++)
        mark(&s->hist, rq->in.item[k]);
    size_t m = 0;
    for (size_t i = 0; i < s->n_touched; i++) {
        uint32_t j = s->touched[i];
        if (marked(&s->hist, j))
            continue;
        uint32_t cnt = rq->ix->count[j];
        s->acc[j] = s->acc[j] / sqrtf((float)(cnt ? cnt : 1));
        s->keys[m++] = rank_key(s->acc[j], j);
    }
    size_t n = m < cap ? m : cap;
    keys_sort_head(s->keys, 0, m, n);
    for (size_t i = 0; i < n; i++) {
        uint32_t j = (uint32_t)s->keys[i];
        row->e[i].item = j;
        row->e[i].score = s->acc[j];
    }
    row->n = (uint32_t)n;
    row->total = (uint32_t)m;
    return row;
}

/* Adds the first `quota` unseen items of the row, scores relative to the
 * first one's. 0 (and nothing added) when the row is cut short before
 * reaching quota, so that the caller must rank all co-occurring items. */
static int cooc_add_row(struct jc_pipe_req *rq, int ch, uint32_t quota,
                        const struct jc_cooc_row *row)
{
    struct scratch *s = rq->s;
    size_t m = 0;
    for (uint32_t i = 0; i < row->n && m < quota; i++)
        if (!marked(&s->skip, row->e[i].item))
            s->touched[m++] = i;
    if (m < quota && row->n < row->total)
        return 0;
    if (m == 0)
        return 1;
    float top = row->e[s->touched[0]].score;
    for (size_t i = 0; i < m; i++) {
        float sc = row->e[s->touched[i]].score;
        jc_pipe_add(rq, ch, row->e[s->touched[i]].item, top > 0 ? sc / top : 0.0f);
    }
    return 1;
}

/* Items co-interacted with the user's recent positives, by co-occurrence
 * count damped by popularity. The ranked list outside the user's history
 * is a function of the snapshot and the user, so it is kept per user
 * (struct jc_cooc_row) and later requests only skip their unseen items;
 * taking the first `quota` unseen items of that list gives exactly the top
 * `quota` of the unseen items. */
static int recall_cooc(struct jc_pipe_req *rq, int ch, uint32_t quota)
{
    if (!rq->has_user || rq->he == rq->hb)
        return JC_OK;
    struct scratch *s = rq->s;
    struct jc_cooc_cache *cc = cooc_cache(rq->st, rq->ix->n_users);
    if (cc && rq->user >= cc->n_users)
        cc = NULL;
    struct jc_cooc_row *row =
        cc ? atomic_load_explicit(&cc->rows[rq->user], memory_order_acquire) : NULL;
    if (row && cooc_add_row(rq, ch, quota, row))
        return JC_OK;
    cooc_user_accumulate(rq);
    if (row == NULL && (row = cooc_row_build(rq)) != NULL) {
        int kept = 0;
        if (cc && atomic_fetch_add(&cc->used, row->n) + row->n <= COOC_CACHE_MAX) {
            struct jc_cooc_row *none = NULL;
            kept = atomic_compare_exchange_strong_explicit(
                &cc->rows[rq->user], &none, row, memory_order_acq_rel, memory_order_acquire);
        }
        int done = cooc_add_row(rq, ch, quota, row);
        if (!kept)
            jc_free(row);
        if (done)
            return JC_OK;
        cooc_user_accumulate(rq); /* s->acc was damped: count again */
    }
    /* Damp popularity: count / sqrt(item interactions). */
    size_t m = 0;
    for (size_t i = 0; i < s->n_touched; i++) {
        uint32_t j = s->touched[i];
        if (marked(&s->skip, j))
            continue;
        uint32_t cnt = rq->ix->count[j];
        s->acc[j] = s->acc[j] / sqrtf((float)(cnt ? cnt : 1));
        s->touched[m++] = j;
    }
    m = top_k(s->touched, m, s->acc, quota, s->keys);
    if (m == 0)
        return JC_OK;
    float top = s->acc[s->touched[0]];
    for (size_t i = 0; i < m; i++)
        jc_pipe_add(rq, ch, s->touched[i], top > 0 ? s->acc[s->touched[i]] / top : 0.0f);
    return JC_OK;
}

static int recall_sorted(struct jc_pipe_req *rq, int ch, uint32_t quota, enum jc_sort sort)
{
    const uint32_t *items;
    size_t n = jc_catidx_list(rq->ix, rq->q->genre, sort, &items);
    float lmax = logf(1.0f + (float)rq->ix->max_count);
    uint32_t taken = 0;
    for (size_t k = 0; k < n && taken < quota; k++) {
        uint32_t it = items[k];
        if (marked(&rq->s->skip, it))
            continue;
        float score = sort == JC_SORT_POPULARITY && lmax > 0
                          ? logf(1.0f + (float)rq->ix->count[it]) / lmax
                          : 1.0f - (float)taken / (float)quota;
        jc_pipe_add(rq, ch, it, score);
        taken++;
    }
    return JC_OK;
}

static int recall_popular(struct jc_pipe_req *rq, int ch, uint32_t quota)
{
    return recall_sorted(rq, ch, quota, JC_SORT_POPULARITY);
}

static int recall_newest(struct jc_pipe_req *rq, int ch, uint32_t quota)
{
    return recall_sorted(rq, ch, quota, JC_SORT_YEAR);
}

/* ---- phase-2 recall channels (embeddings, MF, trending) ------------------ */

/* The catalog id of a served user, or UINT32_MAX for overlay users. */
static uint32_t cat_user(const struct jc_pipe_req *rq)
{
    return rq->has_user && rq->user < rq->v->cat_users ? rq->user : UINT32_MAX;
}

/* Loads the user's realtime state from the store (needs a feature spec to
 * decode it) and marks its window and recent positives as seen. */
static void load_realtime(struct jc_pipe_req *rq)
{
    rq->rt_found = 0;
    const struct jc_serve_state *st = rq->st;
    uint32_t u = cat_user(rq);
    if (st->store == NULL || rq->spec == NULL || u == UINT32_MAX)
        return;
    int found = 0;
    if (jc_store_get_user_state(st->store->store, rq->spec, u, rq->s->us, &found) != JC_OK ||
        !found)
        return;
    rq->rt_found = 1;
    const struct jc_user_state *us = rq->s->us;
    for (uint32_t i = 0; i < us->win_n && i < JC_USTATE_WINDOW_MAX; i++)
        if (us->win[i].item < rq->ix->n_items)
            mark(&rq->s->skip, us->win[i].item);
    for (uint32_t i = 0; i < us->hist_n && i < JC_USTATE_HISTORY_MAX; i++)
        if (us->hist[i] < rq->ix->n_items)
            mark(&rq->s->skip, us->hist[i]);
}

/* The user's most recent positive items, newest first (realtime state when
 * loaded, else the catalog history); returns the count (<= cap). */
static size_t recent_positives(struct jc_pipe_req *rq, uint32_t *out, size_t cap)
{
    size_t n = 0;
    if (rq->rt_found) {
        struct jc_user_feats f;
        jc_user_state_features(rq->s->us, rq->spec, &f);
        for (uint32_t i = 0; i < f.n_hist && n < cap; i++)
            if (f.hist[i] < rq->ix->n_items)
                out[n++] = f.hist[i];
        if (n > 0)
            return n;
    }
    for (uint64_t k = rq->he; k > rq->hb && n < cap; k--)
        if (rq->in.value[k - 1] >= (float)rq->st->threshold)
            out[n++] = rq->in.item[k - 1];
    return n;
}

static int keep_unseen(void *ctx, uint32_t id)
{
    const struct jc_pipe_req *rq = ctx;
    return id < rq->ix->n_items && !marked(&rq->s->skip, id);
}

/* The k nearest unseen items to q in embedding e into s->hits; returns the
 * count or a negative error. Uses the ANN index (with the unseen filter)
 * when there is one, else an exact scan asked for k + seen items. */
static int emb_search(struct jc_pipe_req *rq, const struct jc_emb_comp *e, const float *q,
                      uint32_t k)
{
    struct scratch *s = rq->s;
    uint32_t extra = (uint32_t)(rq->he - rq->hb) + (rq->rt_found ? JC_USTATE_WINDOW_MAX : 0) + 1;
    uint32_t want = e->ann ? k : k + extra;
    if (want > JC_ANN_MAX_K)
        want = JC_ANN_MAX_K;
    if (s->cap_hits < want) {
        struct jc_ann_hit *h = jc_realloc_array(s->hits, want, sizeof *h);
        if (h == NULL)
            return JC_ENOMEM;
        s->hits = h;
        s->cap_hits = want;
    }
    uint32_t n = 0;
    int rc;
    if (e->ann) {
        struct jc_ann_search_opts o;
        jc_ann_search_opts_default(&o);
        o.keep = keep_unseen;
        o.keep_ctx = rq;
        rc = jc_ann_search(e->ann, q, want, &o, s->hits, &n);
    } else {
        struct jc_emb_search_opts o;
        jc_emb_search_opts_default(&o);
        o.cosine = !e->is_mf;
        rc = jc_emb_search(e->emb, q, want, &o, (struct jc_emb_hit *)s->hits, &n);
    }
    return rc ? rc : (int)n;
}

/* Adds the hits (best first) with scores in [0, 1]: cosine as is (clipped
 * at 0), inner products relative to the best; times w. */
static void add_hits(struct jc_pipe_req *rq, int ch, int n, uint32_t quota, int ip, float w)
{
    float top = n > 0 ? rq->s->hits[0].score : 0.0f;
    uint32_t taken = 0;
    for (int i = 0; i < n && taken < quota; i++) {
        uint32_t it = rq->s->hits[i].id;
        if (!keep_unseen(rq, it))
            continue;
        float sc = rq->s->hits[i].score;
        sc = ip ? (top > 0 ? sc / top : 0.0f) : sc;
        if (sc < 0)
            sc = 0;
        if (sc > 1)
            sc = 1;
        jc_pipe_add(rq, ch, it, w * sc);
        taken++;
    }
}

/* At most this many floats of cached user vectors per embedding and
 * snapshot (larger catalogs rebuild the vector on every request). */
#define UVEC_CACHE_MAX_FLOATS ((uint64_t)1 << 24)

/* The snapshot's cache of catalog-history user vectors of e (state.h),
 * created on first use; NULL when it would be too large or out of memory. */
static struct jc_uvec_cache *uvec_cache(const struct jc_serve_state *st,
                                        const struct jc_emb_comp *e, uint32_t n_users, uint32_t dim)
{
    int ei = -1;
    for (int i = 0; i < st->n_embs && ei < 0; i++)
        if (st->embs[i] == e)
            ei = i;
    if (ei < 0 || n_users == 0 || (uint64_t)n_users * dim > UVEC_CACHE_MAX_FLOATS)
        return NULL;
    /* the cache is the only mutable part of a snapshot */
    struct jc_serve_state *mst = (struct jc_serve_state *)st;
    struct jc_uvec_cache *c = atomic_load_explicit(&mst->uvec[ei], memory_order_acquire);
    if (c)
        return c;
    c = jc_calloc(1, sizeof *c);
    if (c == NULL)
        return NULL;
    c->n_users = n_users;
    c->dim = dim;
    c->status = jc_calloc(n_users, sizeof *c->status);
    c->vec = jc_malloc_array((size_t)n_users * dim, sizeof(float));
    struct jc_uvec_cache *prev = NULL;
    if (c->status == NULL || c->vec == NULL ||
        !atomic_compare_exchange_strong_explicit(&mst->uvec[ei], &prev, c, memory_order_acq_rel,
                                                 memory_order_acquire)) {
        jc_free((void *)c->status);
        jc_free(c->vec);
        jc_free(c);
        return prev;
    }
    return c;
}

/* The vector of catalog user u built from the catalog history (the
 * snapshot's cache when filled, else computed and cached). 1 if found. */
static int history_user_vector(struct jc_pipe_req *rq, const struct jc_emb_comp *e, uint32_t u,
                               uint32_t dim, float *out)
{
    struct jc_uvec_cache *c = uvec_cache(rq->st, e, jc_catalog_n_users(rq->cat), dim);
    if (c && (u >= c->n_users || c->dim != dim))
        c = NULL;
    if (c) {
        uint8_t stt = atomic_load_explicit(&c->status[u], memory_order_acquire);
        if (stt == JC_UVEC_READY) {
            memcpy(out, c->vec + (size_t)u * dim, sizeof(float) * dim);
            return 1;
        }
        if (stt == JC_UVEC_NONE)
            return 0;
    }
    int ok = jc_emb_user_vector_for(e->emb, rq->cat, u, rq->st->threshold, rq->st->half_life_s,
                                    INT64_MAX, out) == JC_OK;
    uint8_t unknown = JC_UVEC_UNKNOWN;
    if (c && atomic_compare_exchange_strong_explicit(&c->status[u], &unknown, JC_UVEC_BUSY,
                                                     memory_order_acquire, memory_order_relaxed)) {
        if (ok)
            memcpy(c->vec + (size_t)u * dim, out, sizeof(float) * dim);
        atomic_store_explicit(&c->status[u], ok ? JC_UVEC_READY : JC_UVEC_NONE,
                              memory_order_release);
    }
    return ok;
}

/* The user vector of embedding e: the store's realtime uemb:<name>:<user>,
 * else built from the catalog history. 1 if found. */
static int user_vector(struct jc_pipe_req *rq, const struct jc_emb_comp *e, float *out)
{
    uint32_t dim = jc_emb_dim(e->emb);
    uint32_t u = cat_user(rq);
    if (u == UINT32_MAX)
        return 0;
    if (rq->st->store) {
        char key[JC_STORE_KEY_MAX + 1];
        int kl =
            snprintf(key, sizeof key, "uemb:%s:%s", e->name, jc_catalog_user_ext_id(rq->cat, u));
        if (kl > 0 && kl < (int)sizeof key &&
            jc_store_get(rq->st->store->store, key, (size_t)kl, &rq->s->kbuf) == JC_OK &&
            rq->s->kbuf.len == (size_t)dim * sizeof(float)) {
            memcpy(out, rq->s->kbuf.data, rq->s->kbuf.len);
            for (uint32_t i = 0; i < dim; i++)
                if (out[i] != 0.0f) {
                    JC_DEBUG("emb_user: realtime vector %s", key);
                    return 1;
                }
        }
    }
    return history_user_vector(rq, e, u, dim, out);
}

static int recall_emb_user(struct jc_pipe_req *rq, int ch, uint32_t quota)
{
    const struct jc_emb_comp *e = jc_serve_find_emb(rq->st, NULL);
    if (e == NULL) {
        rq->skipped |= 1u << ch;
        return JC_OK;
    }
    if (!user_vector(rq, e, rq->s->qvec))
        return JC_OK;
    int n = emb_search(rq, e, rq->s->qvec, quota);
    if (n < 0)
        return n;
    add_hits(rq, ch, n, quota, 0, 1.0f);
    return JC_OK;
}

static int recall_emb_item(struct jc_pipe_req *rq, int ch, uint32_t quota)
{
    const struct jc_emb_comp *e = jc_serve_find_emb(rq->st, NULL);
    if (e == NULL) {
        rq->skipped |= 1u << ch;
        return JC_OK;
    }
    if (!rq->has_user)
        return JC_OK;
    uint32_t seeds[EMB_ITEM_SEEDS];
    size_t ns = recent_positives(rq, seeds, EMB_ITEM_SEEDS);
    if (ns == 0)
        return JC_OK;
    uint32_t per = (uint32_t)((quota + ns - 1) / ns);
    for (size_t i = 0; i < ns; i++) {
        const float *v = jc_emb_item_vec(e->emb, seeds[i]);
        if (v == NULL || jc_emb_item_status(e->emb, seeds[i]) == JC_EMB_NONE)
            continue;
        int n = emb_search(rq, e, v, per);
        if (n < 0)
            return n;
        /* newer seeds weigh more: 1, 0.9, 0.8, ... */
        add_hits(rq, ch, n, per, 0, 1.0f - 0.1f * (float)i);
    }
    return JC_OK;
}

static int recall_mf(struct jc_pipe_req *rq, int ch, uint32_t quota)
{
    const struct jc_emb_comp *e = jc_serve_find_emb(rq->st, "mf");
    if (e == NULL) {
        rq->skipped |= 1u << ch;
        return JC_OK;
    }
    uint32_t u = cat_user(rq);
    const float *uv = u != UINT32_MAX ? jc_emb_user_vec(e->emb, u) : NULL;
    if (uv == NULL)
        return JC_OK;
    int n = emb_search(rq, e, uv, quota);
    if (n < 0)
        return n;
    add_hits(rq, ch, n, quota, 1, 1.0f);
    return JC_OK;
}

/* Adds unseen items of a ranked list (not yet added by channel ch) with
 * score w * scores[i] until `taken` reaches quota; returns taken. */
static uint32_t add_ranked(struct jc_pipe_req *rq, int ch, const uint32_t *items,
                           const float *scores, uint32_t n, uint32_t quota, uint32_t taken, float w)
{
    struct scratch *s = rq->s;
    for (uint32_t i = 0; i < n && taken < quota; i++) {
        uint32_t it = items[i];
        if (!keep_unseen(rq, it) ||
            (marked(&s->inset, it) && ((s->cands[s->slot[it]].channels >> ch) & 1u)))
            continue;
        jc_pipe_add(rq, ch, it, w * scores[i]);
        taken++;
    }
    return taken;
}

/* The store's decayed popularity first (scores relative to the best),
 * topped up from the catalog's last-30-days list at half weight. */
static int recall_trending(struct jc_pipe_req *rq, int ch, uint32_t quota)
{
    const struct jc_serve_state *st = rq->st;
    uint32_t items[JC_TREND_MAX];
    float scores[JC_TREND_MAX];
    uint32_t n = 0, taken = 0;
    if (st->store)
        n = jc_store_comp_trending(st->store, rq->cat, rq->now * 1000, items, scores, JC_TREND_MAX);
    if (n == 0 && (st->trend == NULL || st->trend->n == 0)) {
        rq->skipped |= 1u << ch;
        return JC_OK;
    }
    taken = add_ranked(rq, ch, items, scores, n, quota, taken, 1.0f);
    if (st->trend)
        add_ranked(rq, ch, st->trend->item, st->trend->score, st->trend->n, quota, taken,
                   n ? 0.5f : 1.0f);
    return JC_OK;
}

static const struct jc_recall_channel channels[] = {
    {"genre_pref", "top damped-rating items of the user's three preferred genres",
     recall_genre_pref},
    {"cooc", "items co-interacted with the user's recent positive items", recall_cooc},
    {"popular", "most interacted items (cold-start fallback)", recall_popular},
    {"newest", "most recent release years", recall_newest},
    {"emb_user", "embedding ANN around the user vector", recall_emb_user},
    {"emb_item", "embedding ANN around the user's last positive items", recall_emb_item},
    {"mf", "MF (ials/bpr) ANN around the user factor", recall_mf},
    {"trending", "decayed nearline popularity, else recent catalog popularity", recall_trending},
};

const struct jc_recall_channel *jc_pipeline_channel(const char *name)
{
    for (size_t i = 0; i < sizeof channels / sizeof channels[0]; i++)
        if (strcmp(channels[i].name, name) == 0)
            return &channels[i];
    return NULL;
}

/* ---- rankers ------------------------------------------------------------ */

static int rank_recall(struct jc_pipe_req *rq, struct jc_cand *c, size_t n)
{
    (void)rq;
    for (size_t i = 0; i < n; i++)
        c[i].rank = c[i].recall;
    return JC_OK;
}

/* 0.4 genre affinity + 0.35 damped rating + 0.25 recall, each in [0, 1]. */
static int rank_heuristic(struct jc_pipe_req *rq, struct jc_cand *c, size_t n)
{
    float rmax = 0;
    for (size_t i = 0; i < n; i++)
        if (c[i].recall > rmax)
            rmax = c[i].recall;
    const float *p = rq->s->gpref;
    float vmax = (float)rq->ix->max_value;
    for (size_t i = 0; i < n; i++) {
        float aff = 0;
        if (rq->gpref_max > 0) {
            const uint16_t *g;
            uint32_t ng = jc_view_item_genres(rq->v, c[i].item, &g);
            float sum = 0;
            for (uint32_t k = 0; k < ng; k++)
                if (g[k] < rq->ix->n_genres)
                    sum += p[g[k]];
            aff = ng ? sum / (rq->gpref_max * sqrtf((float)ng)) : 0.0f;
            if (aff > 1)
                aff = 1;
        }
        float quality = rq->ix->damped[c[i].item] / vmax;
        float rec = rmax > 0 ? c[i].recall / rmax : 0.0f;
        c[i].rank = 0.4f * aff + 0.35f * quality + 0.25f * rec;
    }
    return JC_OK;
}

void jc_pipeline_replay_user(struct jc_user_state *us, const struct jc_featspec *spec,
                             const struct jc_interactions *in, uint64_t b, uint64_t e)
{
    /* A state is its lifetime counters, the window ring (last `window`
     * events) and the positives ring (last `history` positives); every
     * derived field is a function of the rings (featspec.h). So replaying
     * the shortest suffix that fills both rings and then setting the
     * lifetime counters gives the state of the full replay. */
    const struct jc_featspec_opts *fo = jc_featspec_options(spec);
    uint64_t k = e, n_pos = 0;
    uint32_t nw = 0, nh = 0;
    while (k > b && (nw < us->window || nh < us->history)) {
        k--;
        nw++;
        nh += fo->implicit || in->value[k] >= fo->label_threshold;
    }
    for (uint64_t t = k; t < e; t++)
        jc_user_state_add(us, spec, in->item[t], in->value[t], in->time[t]);
    if (k == b)
        return;
    for (uint64_t t = b; t < e; t++)
        n_pos += fo->implicit || in->value[t] >= fo->label_threshold;
    us->n_events = e - b;
    us->n_pos = n_pos;
    us->first_time = in->time[b];
}

/*
 * Scores every candidate with the request's registry model: the user
 * state (the store's realtime record, else a replay of the catalog
 * history through the same jc_user_state_add as the offline job), the item
 * states (the store's records, else the catalog statistics) and the
 * request context go through jc_featspec_build_batch, then one batched
 * jc_model_score. Errors: JC_ENOTFOUND (no model), the scorer's.
 */
static int rank_model(struct jc_pipe_req *rq, struct jc_cand *c, size_t n)
{
    const struct jc_model_comp *mcc = rq->model;
    if (mcc == NULL)
        return jc_err_set(JC_ENOTFOUND, "no ranking model is loaded");
    if (n == 0)
        return JC_OK;
    if (n > UINT32_MAX / 2)
        return jc_err_set(JC_ELIMIT, "%zu candidates", n);
    struct jc_model_comp *mc = (struct jc_model_comp *)mcc; /* the pool is mutable */
    struct jc_model_worker *w = jc_model_comp_get(mc, (uint32_t)n);
    if (w == NULL)
        return JC_ENOMEM;
    const struct jc_catalog *cat = mc->catalog->cat;
    uint32_t n_items = jc_catalog_n_items(cat);
    for (size_t i = 0; i < n; i++)
        w->items[i] = c[i].item < n_items ? c[i].item : JC_ID_NONE;
    uint32_t u = cat_user(rq);
    if (u >= jc_catalog_n_users(cat))
        u = JC_ID_NONE;
    struct jc_store *store = rq->st->store ? rq->st->store->store : NULL;
    int found = 0;
    if (store && u != JC_ID_NONE &&
        jc_store_get_user_state(store, mc->spec, u, &w->ustate, &found) != JC_OK)
        found = 0;
    if (!found) {
        jc_user_state_init(&w->ustate, mc->spec);
        if (u != JC_ID_NONE) {
            uint64_t b, e;
            jc_catalog_user_range(cat, u, &b, &e);
            jc_pipeline_replay_user(&w->ustate, mc->spec, &rq->in, b, e);
        }
    }
    /* item states: the catalog statistics, replaced by store records */
    const struct jc_catidx *ix = rq->ix;
    for (size_t i = 0; i < n; i++) {
        struct jc_item_state *s = &w->ist[i];
        jc_item_state_init(s);
        uint32_t it = c[i].item;
        if (it < ix->n_items && ix->count[it] > 0) {
            double cnt = ix->count[it], m = ix->mean[it], sd = ix->stddev[it];
            s->count = ix->count[it];
            s->sum = m * cnt;
            s->sumsq = (sd * sd + m * m) * cnt;
        }
    }
    if (store) {
        /* only items of the catalog have records; batch the lookups */
        int all_cat = 1;
        for (size_t i = 0; i < n; i++)
            all_cat &= w->items[i] != JC_ID_NONE;
        if (all_cat && jc_store_get_item_states(store, mc->spec, (uint32_t)n, w->items, w->ist_rt,
                                                &w->arena, w->vals) == JC_OK) {
            for (size_t i = 0; i < n; i++)
                if (w->vals[i].found)
                    w->ist[i] = w->ist_rt[i];
        }
    }
    struct jc_feat_context fc;
    jc_feat_context_from_time(&fc, rq->now);
    int rc = jc_featspec_build_batch(mc->spec, u, &w->ustate, &fc, (uint32_t)n, w->items, w->ist,
                                     &w->batch);
    if (rc == JC_OK)
        rc = jc_model_score(w->scorer, &w->batch, w->scores);
    if (rc == JC_OK)
        for (size_t i = 0; i < n; i++)
            c[i].rank = w->scores[i];
    jc_model_comp_put(mc, w);
    return rc;
}

static const struct jc_ranker rankers[] = {
    {"heuristic", "genre affinity + damped rating + recall score (no model)", rank_heuristic},
    {"recall", "the merged recall score", rank_recall},
    {"model", "the live registry model (model:NAME picks one) on feature-spec features",
     rank_model},
};

const struct jc_ranker *jc_pipeline_ranker(const char *name)
{
    for (size_t i = 0; i < sizeof rankers / sizeof rankers[0]; i++)
        if (strcmp(rankers[i].name, name) == 0)
            return &rankers[i];
    return NULL;
}

int jc_pipeline_model_known(const char *name)
{
    static const char *const models[] = {
        "emb",      "item2vec", "graph",     "deepwalk", "node2vec", "mf",       "als",
        "bpr",      "lr",       "fm",        "mlp",      "embmlp",   "widedeep", "wide_deep",
        "nerualcf", "neuralcf", "ncf",       "twotower", "deepfm",   "din",      "dien",
        "default",  "popular",  "heuristic", "recall"};
    for (size_t i = 0; i < sizeof models / sizeof models[0]; i++)
        if (strcmp(models[i], name) == 0)
            return 1;
    return 0;
}

/* ---- re-rankers ---------------------------------------------------------- */

static int rerank_mmr(struct jc_pipe_req *rq, struct jc_cand *c, size_t n, size_t k)
{
    double lambda = rq->sc->diversity;
    if (lambda <= 0 || n < 2) {
        for (size_t i = 0; i < n; i++)
            c[i].final = c[i].rank;
        return JC_OK;
    }
    size_t w = k * 4 < 50 ? 50 : k * 4;
    if (w > n)
        w = n;
    if (k > w)
        k = w;
    float *maxsim = jc_calloc(w, sizeof *maxsim);
    if (maxsim == NULL)
        return JC_ENOMEM;
    float rmax = 0;
    for (size_t i = 0; i < w; i++)
        if (c[i].rank > rmax)
            rmax = c[i].rank;
    /* Genre sets as bit masks when they fit (they do for MovieLens), so a
     * Jaccard similarity is two popcounts. */
    uint64_t *mask = rq->ix->n_genres <= 64 ? jc_malloc_array(w, sizeof *mask) : NULL;
    for (size_t i = 0; mask && i < w; i++) {
        const uint16_t *g;
        uint32_t ng = jc_view_item_genres(rq->v, c[i].item, &g);
        mask[i] = 0;
        for (uint32_t t = 0; t < ng; t++)
            mask[i] |= (uint64_t)1 << (g[t] & 63);
    }
    /* Greedy: position p gets the best remaining candidate of the window. */
    for (size_t pos = 0; pos < k; pos++) {
        size_t best = pos;
        float best_v = -INFINITY;
        for (size_t i = pos; i < w; i++) {
            float rel = rmax > 0 ? c[i].rank / rmax : 0.0f;
            float v = (float)(1.0 - lambda) * rel - (float)lambda * maxsim[i];
            if (v > best_v) {
                best_v = v;
                best = i;
            }
        }
        if (best != pos) {
            struct jc_cand tc = c[pos];
            c[pos] = c[best];
            c[best] = tc;
            float tm = maxsim[pos];
            maxsim[pos] = maxsim[best];
            maxsim[best] = tm;
            if (mask) {
                uint64_t tb = mask[pos];
                mask[pos] = mask[best];
                mask[best] = tb;
            }
        }
        c[pos].final = best_v;
        for (size_t i = pos + 1; i < w; i++) {
            float sim;
            if (mask) {
                int un = __builtin_popcountll(mask[i] | mask[pos]);
                sim = un ? (float)__builtin_popcountll(mask[i] & mask[pos]) / (float)un : 0.0f;
            } else {
                sim = jc_pipeline_genre_jaccard(rq->v, c[i].item, c[pos].item);
            }
            if (sim > maxsim[i])
                maxsim[i] = sim;
        }
    }
    for (size_t i = k; i < n; i++)
        c[i].final = c[i].rank;
    jc_free(maxsim);
    jc_free(mask);
    return JC_OK;
}

static int rerank_genre_cap(struct jc_pipe_req *rq, struct jc_cand *c, size_t n, size_t k)
{
    uint32_t cap = rq->sc->genre_cap;
    if (cap == 0 || n == 0)
        return JC_OK;
    uint32_t ng = rq->ix->n_genres;
    uint32_t *cnt = jc_calloc((size_t)ng + 1, sizeof *cnt);
    struct jc_cand *tmp = jc_malloc_array(n, sizeof *tmp);
    if (cnt == NULL || tmp == NULL) {
        jc_free(cnt);
        jc_free(tmp);
        return JC_ENOMEM;
    }
    /* Stable partition: the first k that respect the cap, then the rest. */
    size_t head = 0, tail = 0;
    struct jc_cand *deferred = tmp;
    for (size_t i = 0; i < n; i++) {
        const uint16_t *g;
        uint32_t gi = jc_view_item_genres(rq->v, c[i].item, &g) ? g[0] : ng;
        if (gi > ng)
            gi = ng;
        if (head < k && cnt[gi] < cap) {
            cnt[gi]++;
            c[head++] = c[i];
        } else {
            deferred[tail++] = c[i];
        }
    }
    memcpy(c + head, deferred, sizeof *c * tail);
    jc_free(cnt);
    jc_free(tmp);
    return JC_OK;
}

static const struct jc_reranker rerankers[] = {
    {"mmr", "maximal marginal relevance on genre Jaccard (weight: diversity)", rerank_mmr},
    {"genre_cap", "at most genre_cap items per first genre in the page", rerank_genre_cap},
};

const struct jc_reranker *jc_pipeline_reranker(const char *name)
{
    for (size_t i = 0; i < sizeof rerankers / sizeof rerankers[0]; i++)
        if (strcmp(rerankers[i].name, name) == 0)
            return &rerankers[i];
    return NULL;
}

/* ---- scenes --------------------------------------------------------------- */

struct chan_def {
    const char *name;
    uint32_t quota;
    float weight;
    unsigned needs; /* JC_RES_* bits the channel needs in the default scene */
};

/* The default scene for the resources found (see jc_scenes_build_for). */
static void scene_default_for(struct jc_scene *sc, const char *name, unsigned res)
{
    memset(sc, 0, sizeof *sc);
    snprintf(sc->name, sizeof sc->name, "%s", name);
    static const struct chan_def basic[] = {
        {"genre_pref", 200, 1.0f, 0}, {"cooc", 200, 1.0f, 0}, {"popular", 100, 0.5f, 0}};
    static const struct chan_def multi[] = {{"emb_user", 200, 1.0f, JC_RES_EMB},
                                            {"emb_item", 150, 1.0f, JC_RES_EMB},
                                            {"mf", 150, 1.0f, JC_RES_MF},
                                            {"cooc", 150, 1.0f, 0},
                                            {"genre_pref", 100, 0.8f, 0},
                                            {"trending", 50, 0.5f, 0},
                                            {"popular", 50, 0.3f, 0}};
    const struct chan_def *def = (res & JC_RES_EMB) ? multi : basic;
    size_t nd =
        (res & JC_RES_EMB) ? sizeof multi / sizeof multi[0] : sizeof basic / sizeof basic[0];
    sc->n_recall = 0;
    for (size_t i = 0; i < nd; i++) {
        if ((def[i].needs & res) != def[i].needs)
            continue;
        sc->recall[sc->n_recall].ch = jc_pipeline_channel(def[i].name);
        sc->recall[sc->n_recall].quota = def[i].quota;
        sc->recall[sc->n_recall].weight = def[i].weight;
        sc->n_recall++;
    }
    sc->ranker = jc_pipeline_ranker((res & JC_RES_MODEL) ? "model" : "heuristic");
    sc->rerank[0] = jc_pipeline_reranker("mmr");
    sc->rerank[1] = jc_pipeline_reranker("genre_cap");
    sc->n_rerank = 2;
    sc->diversity = 0.2;
    sc->genre_cap = 0;
}

static void scene_default(struct jc_scene *sc, const char *name)
{
    scene_default_for(sc, name, 0);
}

/* Splits s on ',' into trimmed tokens; calls fn for each. */
static int parse_list(const char *s, const char *where,
                      int (*fn)(struct jc_scene *, const char *, size_t, const char *),
                      struct jc_scene *sc)
{
    while (*s) {
        const char *e = strchr(s, ',');
        size_t n = e ? (size_t)(e - s) : strlen(s);
        const char *t = s;
        size_t tn = n;
        jc_trim(&t, &tn);
        if (tn) {
            int rc = fn(sc, t, tn, where);
            if (rc)
                return rc;
        }
        if (e == NULL)
            break;
        s = e + 1;
    }
    return JC_OK;
}

static int add_recall(struct jc_scene *sc, const char *t, size_t n, const char *where)
{
    char name[64];
    const char *c1 = memchr(t, ':', n);
    size_t nl = c1 ? (size_t)(c1 - t) : n;
    snprintf(name, sizeof name, "%.*s", (int)nl, t);
    const struct jc_recall_channel *ch = jc_pipeline_channel(name);
    if (ch == NULL)
        return jc_err_set(JC_EINVAL,
                          "%s: unknown recall channel '%s' (known: genre_pref, "
                          "cooc, popular, newest, emb_user, emb_item, mf, trending)",
                          where, name);
    if (sc->n_recall >= JC_PIPE_MAX_CHANNELS)
        return jc_err_set(JC_EINVAL, "%s: more than %d recall channels", where,
                          JC_PIPE_MAX_CHANNELS);
    uint32_t quota = 100;
    float weight = 1.0f;
    if (c1) {
        const char *q = c1 + 1;
        const char *c2 = memchr(q, ':', n - nl - 1);
        size_t qn = c2 ? (size_t)(c2 - q) : n - nl - 1;
        if (jc_parse_u32(q, qn, &quota) || quota == 0 || quota > 10000)
            return jc_err_set(JC_EINVAL, "%s: quota of '%s' must be in [1, 10000]", where, name);
        if (c2 && (jc_parse_f32(c2 + 1, n - nl - 2 - qn, &weight) || weight < 0))
            return jc_err_set(JC_EINVAL, "%s: weight of '%s' must be a number >= 0", where, name);
    }
    for (int i = 0; i < sc->n_recall; i++)
        if (sc->recall[i].ch == ch)
            return jc_err_set(JC_EINVAL, "%s: channel '%s' listed twice", where, name);
    sc->recall[sc->n_recall].ch = ch;
    sc->recall[sc->n_recall].quota = quota;
    sc->recall[sc->n_recall].weight = weight;
    sc->n_recall++;
    return JC_OK;
}

static int add_rerank(struct jc_scene *sc, const char *t, size_t n, const char *where)
{
    char name[64];
    snprintf(name, sizeof name, "%.*s", (int)n, t);
    const struct jc_reranker *r = jc_pipeline_reranker(name);
    if (r == NULL)
        return jc_err_set(JC_EINVAL, "%s: unknown re-ranker '%s' (known: mmr, genre_cap)", where,
                          name);
    if (sc->n_rerank >= JC_PIPE_MAX_RERANKERS)
        return jc_err_set(JC_EINVAL, "%s: more than %d re-rankers", where, JC_PIPE_MAX_RERANKERS);
    sc->rerank[sc->n_rerank++] = r;
    return JC_OK;
}

/* Parses "ACTION:COND[:FACTOR]" (see struct jc_rule). */
static int add_rule(struct jc_scene *sc, const char *t, size_t n, const char *where)
{
    char buf[160];
    if (n >= sizeof buf)
        return jc_err_set(JC_EINVAL, "%s: rule too long (%zu bytes)", where, n);
    memcpy(buf, t, n);
    buf[n] = '\0';
    if (sc->n_rules >= JC_PIPE_MAX_RULES)
        return jc_err_set(JC_EINVAL, "%s: more than %d rules", where, JC_PIPE_MAX_RULES);
    struct jc_rule r;
    memset(&r, 0, sizeof r);
    char *c1 = strchr(buf, ':');
    if (c1 == NULL)
        return jc_err_set(JC_EINVAL, "%s: rule '%s' is not ACTION:CONDITION[:FACTOR]", where, buf);
    *c1 = '\0';
    if (strcmp(buf, "boost") == 0) {
        r.action = JC_RULE_BOOST;
        r.factor = 1.5f;
    } else if (strcmp(buf, "bury") == 0) {
        r.action = JC_RULE_BURY;
        r.factor = 0.5f;
    } else if (strcmp(buf, "filter") == 0) {
        r.action = JC_RULE_FILTER;
        r.factor = 0.0f;
    } else {
        return jc_err_set(JC_EINVAL, "%s: unknown rule action '%s' (known: boost, bury, filter)",
                          where, buf);
    }
    char *cond = c1 + 1;
    char *c2 = strrchr(cond, ':');
    if (c2) {
        *c2 = '\0';
        if (r.action == JC_RULE_FILTER)
            return jc_err_set(JC_EINVAL, "%s: a filter rule takes no factor", where);
        if (jc_parse_f32(c2 + 1, strlen(c2 + 1), &r.factor) || !(r.factor > 0) || r.factor > 1000)
            return jc_err_set(JC_EINVAL, "%s: rule factor '%s' must be a number in (0, 1000]",
                              where, c2 + 1);
    }
    static const struct {
        const char *name;
        enum jc_rule_field f;
    } fields[] = {{"genre", JC_RF_GENRE},
                  {"year", JC_RF_YEAR},
                  {"count", JC_RF_COUNT},
                  {"rating", JC_RF_RATING},
                  {"item", JC_RF_ITEM}};
    size_t fl = strcspn(cond, "=!<>");
    size_t fi = 0, nf = sizeof fields / sizeof fields[0];
    for (; fi < nf; fi++)
        if (strlen(fields[fi].name) == fl && strncmp(cond, fields[fi].name, fl) == 0)
            break;
    if (fi == nf)
        return jc_err_set(JC_EINVAL,
                          "%s: rule condition '%s': unknown field (known: genre, year, count, "
                          "rating, item)",
                          where, cond);
    r.field = fields[fi].f;
    const char *op = cond + fl;
    size_t ol;
    if (strncmp(op, "!=", 2) == 0) {
        r.op = JC_OP_NE;
        ol = 2;
    } else if (strncmp(op, "<=", 2) == 0) {
        r.op = JC_OP_LE;
        ol = 2;
    } else if (strncmp(op, ">=", 2) == 0) {
        r.op = JC_OP_GE;
        ol = 2;
    } else if (op[0] == '<') {
        r.op = JC_OP_LT;
        ol = 1;
    } else if (op[0] == '>') {
        r.op = JC_OP_GT;
        ol = 1;
    } else if (op[0] == '=') {
        r.op = JC_OP_EQ;
        ol = op[1] == '=' ? 2 : 1;
    } else {
        return jc_err_set(JC_EINVAL, "%s: rule condition '%s' has no operator", where, cond);
    }
    const char *val = op + ol;
    if (val[0] == '\0')
        return jc_err_set(JC_EINVAL, "%s: rule condition '%s' has no value", where, cond);
    if (r.field == JC_RF_GENRE || r.field == JC_RF_ITEM) {
        if (r.op != JC_OP_EQ && r.op != JC_OP_NE)
            return jc_err_set(JC_EINVAL, "%s: rule condition '%s': %s takes = or !=", where, cond,
                              fields[fi].name);
        if (strlen(val) >= sizeof r.text)
            return jc_err_set(JC_EINVAL, "%s: rule value '%s' too long", where, val);
        snprintf(r.text, sizeof r.text, "%s", val);
    } else if (jc_parse_f64(val, strlen(val), &r.num)) {
        return jc_err_set(JC_EINVAL, "%s: rule condition '%s': '%s' is not a number", where, cond,
                          val);
    }
    sc->rules[sc->n_rules++] = r;
    return JC_OK;
}

/* Sets one scene key; *bit (may be NULL) gets its JC_SCENE_SET_* bit.
 * Messages start with `where` (e.g. "[scene.home] recall"). */
static int scene_set(struct jc_scene *sc, const char *where, const char *key, const char *value,
                     unsigned *bit)
{
    unsigned b = 0;
    int rc = JC_OK;
    if (strcmp(key, "recall") == 0) {
        b = JC_SCENE_SET_RECALL;
        sc->n_recall = 0;
        rc = parse_list(value, where, add_recall, sc);
        if (rc == JC_OK && sc->n_recall == 0)
            rc = jc_err_set(JC_EINVAL, "%s: no recall channel", where);
    } else if (strcmp(key, "ranker") == 0) {
        b = JC_SCENE_SET_RANKER;
        const struct jc_ranker *r = NULL;
        sc->model[0] = '\0';
        if (strncmp(value, "model:", 6) == 0 && value[6] && strlen(value + 6) < sizeof sc->model) {
            r = jc_pipeline_ranker("model");
            snprintf(sc->model, sizeof sc->model, "%s", value + 6);
        } else {
            r = jc_pipeline_ranker(value);
        }
        if (r == NULL)
            rc = jc_err_set(JC_EINVAL,
                            "%s: unknown ranker '%s' (known: heuristic, recall, model, "
                            "model:NAME)",
                            where, value);
        else
            sc->ranker = r;
    } else if (strcmp(key, "rerank") == 0) {
        b = JC_SCENE_SET_RERANK;
        sc->n_rerank = 0;
        rc = parse_list(value, where, add_rerank, sc);
    } else if (strcmp(key, "diversity") == 0) {
        b = JC_SCENE_SET_DIVERSITY;
        double d;
        if (jc_parse_f64(value, strlen(value), &d) || d < 0 || d > 1)
            rc = jc_err_set(JC_EINVAL, "%s: '%s' is not a number in [0, 1]", where, value);
        else
            sc->diversity = d;
    } else if (strcmp(key, "rules") == 0) {
        b = JC_SCENE_SET_RULES;
        sc->n_rules = 0;
        rc = parse_list(value, where, add_rule, sc);
    } else if (strcmp(key, "genre_cap") == 0) {
        b = JC_SCENE_SET_GENRE_CAP;
        uint32_t v;
        if (jc_parse_u32(value, strlen(value), &v) || v > 1000)
            rc = jc_err_set(JC_EINVAL, "%s: '%s' is not an integer in [0, 1000]", where, value);
        else
            sc->genre_cap = v;
    } else {
        rc = jc_err_set(JC_EINVAL,
                        "%s: unknown key (known: recall, ranker, rerank, diversity, genre_cap, "
                        "rules)",
                        where);
    }
    if (rc == JC_OK && bit)
        *bit = b;
    return rc;
}

static const char *const scene_key_names[] = {"recall",    "ranker",    "rerank",
                                              "diversity", "genre_cap", "rules"};

const char *jc_scene_key_name(unsigned bit)
{
    for (unsigned i = 0; i < sizeof scene_key_names / sizeof scene_key_names[0]; i++)
        if (bit == 1u << i)
            return scene_key_names[i];
    return "?";
}

int jc_scene_patch_set(struct jc_scene_patch *p, const char *where, const char *key,
                       const char *value)
{
    if (p->set == 0)
        scene_default(&p->v, "patch");
    unsigned bit = 0;
    int rc = scene_set(&p->v, where, key, value, &bit);
    if (rc == JC_OK)
        p->set |= bit;
    return rc;
}

void jc_scene_patch_apply(struct jc_scene *sc, const struct jc_scene_patch *p)
{
    if (p->set & JC_SCENE_SET_RECALL) {
        sc->n_recall = p->v.n_recall;
        memcpy(sc->recall, p->v.recall, sizeof sc->recall);
    }
    if (p->set & JC_SCENE_SET_RANKER) {
        sc->ranker = p->v.ranker;
        memcpy(sc->model, p->v.model, sizeof sc->model);
    }
    if (p->set & JC_SCENE_SET_RULES) {
        sc->n_rules = p->v.n_rules;
        memcpy(sc->rules, p->v.rules, sizeof sc->rules);
    }
    if (p->set & JC_SCENE_SET_RERANK) {
        sc->n_rerank = p->v.n_rerank;
        memcpy(sc->rerank, p->v.rerank, sizeof sc->rerank);
    }
    if (p->set & JC_SCENE_SET_DIVERSITY)
        sc->diversity = p->v.diversity;
    if (p->set & JC_SCENE_SET_GENRE_CAP)
        sc->genre_cap = p->v.genre_cap;
}

void jc_scenes_destroy(struct jc_scenes *s)
{
    if (s == NULL)
        return;
    jc_free(s->v);
    jc_free(s);
}

const struct jc_scene *jc_scenes_find(const struct jc_scenes *s, const char *name)
{
    for (int i = 0; i < s->n; i++)
        if (strcmp(s->v[i].name, name) == 0)
            return &s->v[i];
    return NULL;
}

int jc_scenes_build(struct jc_scenes **out, const struct jc_config *cfg)
{
    return jc_scenes_build_for(out, cfg, 0);
}

int jc_scenes_build_for(struct jc_scenes **out, const struct jc_config *cfg, unsigned resources)
{
    struct jc_scenes *s = jc_calloc(1, sizeof *s);
    if (s == NULL)
        return JC_ENOMEM;
    size_t n_raw = cfg ? cfg->n_raw : 0;
    s->v = jc_calloc(n_raw + 1, sizeof *s->v);
    if (s->v == NULL) {
        jc_free(s);
        return JC_ENOMEM;
    }
    scene_default_for(&s->v[0], "default", resources);
    s->n = 1;
    for (size_t i = 0; i < n_raw; i++) {
        const struct jc_config_raw *r = &cfg->raw[i];
        if (strncmp(r->section, "scene.", 6) != 0)
            continue;
        const char *name = r->section + 6;
        if (name[0] == '\0' || strlen(name) >= sizeof s->v[0].name) {
            jc_scenes_destroy(s);
            return jc_err_set(JC_EINVAL, "[%s]: bad scene name", r->section);
        }
        struct jc_scene *sc = (struct jc_scene *)jc_scenes_find(s, name);
        if (sc == NULL) {
            sc = &s->v[s->n++];
            scene_default_for(sc, name, resources);
        }
        char where[160];
        snprintf(where, sizeof where, "[scene.%s] %s", sc->name, r->key);
        int rc = scene_set(sc, where, r->key, r->value, NULL);
        if (rc) {
            jc_scenes_destroy(s);
            return rc;
        }
    }
    *out = s;
    return JC_OK;
}

/* ---- the pipeline ------------------------------------------------------- */

static int cmp_num(double a, enum jc_rule_op op, double b)
{
    switch (op) {
    case JC_OP_EQ:
        return a == b;
    case JC_OP_NE:
        return a != b;
    case JC_OP_LT:
        return a < b;
    case JC_OP_LE:
        return a <= b;
    case JC_OP_GT:
        return a > b;
    case JC_OP_GE:
        return a >= b;
    }
    return 0;
}

/* Applies the scene's rules to c[0..*n): filters compact the array,
 * boost/bury scale the rank score (dividing negative scores, so a boost
 * always moves an item up). */
static void apply_rules(struct jc_pipe_req *rq, struct jc_cand *c, size_t *n)
{
    const struct jc_scene *sc = rq->sc;
    for (int r = 0; r < sc->n_rules; r++) {
        const struct jc_rule *ru = &sc->rules[r];
        uint32_t g = UINT32_MAX, target = UINT32_MAX;
        if (ru->field == JC_RF_GENRE && !jc_view_find_genre(rq->v, ru->text, &g))
            g = UINT32_MAX; /* a genre the catalog lacks matches no item */
        if (ru->field == JC_RF_ITEM &&
            !jc_view_find_item(rq->v, ru->text, strlen(ru->text), &target))
            target = UINT32_MAX;
        size_t m = 0;
        for (size_t i = 0; i < *n; i++) {
            uint32_t it = c[i].item;
            int match;
            switch (ru->field) {
            case JC_RF_GENRE:
                match = g != UINT32_MAX && item_has_genre(rq->v, it, g);
                if (ru->op == JC_OP_NE)
                    match = !match;
                break;
            case JC_RF_ITEM:
                match = (it == target) == (ru->op == JC_OP_EQ);
                break;
            case JC_RF_YEAR:
                /* unknown years (<= 0) match no year condition */
                match = jc_view_item_year(rq->v, it) > 0 &&
                        cmp_num(jc_view_item_year(rq->v, it), ru->op, ru->num);
                break;
            case JC_RF_COUNT:
                match = cmp_num(rq->ix->count[it], ru->op, ru->num);
                break;
            default:
                match = cmp_num(rq->ix->damped[it], ru->op, ru->num);
                break;
            }
            if (match && ru->action == JC_RULE_FILTER)
                continue;
            if (match)
                c[i].rank = c[i].rank >= 0 ? c[i].rank * ru->factor : c[i].rank / ru->factor;
            c[m++] = c[i];
        }
        *n = m;
    }
}

static int cmp_rank_desc(const void *pa, const void *pb)
{
    const struct jc_cand *a = pa, *b = pb;
    if (a->rank != b->rank)
        return a->rank > b->rank ? -1 : 1;
    return a->item < b->item ? -1 : a->item > b->item;
}

/* Sorts s->cands by rank desc, item asc (the order of cmp_rank_desc; the
 * items are distinct, so the order is total) through rank_key keys, or
 * with qsort when a rank is NaN. Errors: JC_ENOMEM. */
static int sort_cands(struct scratch *s)
{
    size_t n = s->n_cands;
    struct jc_cand *c = s->cands;
    for (size_t i = 0; i < n; i++)
        if (isnan(c[i].rank)) {
            qsort(c, n, sizeof *c, cmp_rank_desc);
            return JC_OK;
        }
    if (s->cap_ckeys < n) {
        uint64_t *k = jc_realloc_array(s->ckeys, 2 * n, sizeof *k); /* keys + radix tmp */
        if (k == NULL)
            return JC_ENOMEM;
        s->ckeys = k;
        struct jc_cand *t = jc_realloc_array(s->ctmp, n, sizeof *t);
        if (t == NULL)
            return JC_ENOMEM;
        s->ctmp = t;
        s->cap_ckeys = n;
    }
    /* slot[] maps an item to its position (rules may have compacted c) */
    for (size_t i = 0; i < n; i++) {
        s->slot[c[i].item] = (uint32_t)i;
        s->ckeys[i] = rank_key(c[i].rank, c[i].item);
    }
    keys_radix_sort(s->ckeys, s->ckeys + n, n);
    for (size_t i = 0; i < n; i++)
        s->ctmp[i] = c[s->slot[(uint32_t)s->ckeys[i]]];
    memcpy(c, s->ctmp, sizeof *c * n);
    return JC_OK;
}

void jc_reco_result_free(struct jc_reco_result *res)
{
    jc_free(res->items);
    res->items = NULL;
    res->n = 0;
}

int jc_pipeline_recommend(const struct jc_serve_state *st, const struct jc_scene *sc,
                          const struct jc_reco_query *q, struct jc_reco_result *res)
{
    memset(res, 0, sizeof *res);
    const struct jc_catalog *cat = jc_state_cat(st);
    const struct jc_catidx *ix = jc_state_idx(st);
    struct scratch *s = scratch_get(ix->n_items, ix->n_genres);
    if (s == NULL)
        return JC_ENOMEM;
    struct jc_pipe_req rq = {
        .st = st, .cat = cat, .v = jc_state_view(st), .ix = ix, .sc = sc, .q = q, .s = s};
    jc_catalog_interactions(cat, &rq.in);
    rq.has_user = q->has_user && q->user < ix->n_users;
    rq.user = q->user;
    rq.now = q->now > 0 ? q->now : jc_wall_s();
    if (st->n_models > 0)
        rq.spec = st->models[st->model_default >= 0 ? st->model_default : 0]->spec;
    uint64_t t0 = jc_now_ns();
    user_context(&rq);
    marks_next(&s->skip, ix->n_items);
    marks_next(&s->inset, ix->n_items);
    s->n_cands = 0;
    for (uint64_t k = rq.hb; k < rq.he; k++)
        mark(&s->skip, rq.in.item[k]);
    for (size_t i = 0; i < q->n_exclude; i++)
        if (q->exclude[i] < ix->n_items)
            mark(&s->skip, q->exclude[i]);
    load_realtime(&rq);

    /* 1. recall; a failing channel is skipped and reported */
    for (int c = 0; c < sc->n_recall; c++) {
        size_t before = s->n_cands;
        int rc = sc->recall[c].ch->recall(&rq, c, sc->recall[c].quota);
        if (rc == JC_ENOMEM)
            return rc;
        if (rc) {
            JC_DEBUG("recall channel %s failed: %s", sc->recall[c].ch->name, jc_errmsg());
            res->channel_failed |= 1u << c;
        }
        res->channel_counts[c] = (uint32_t)(s->n_cands - before);
    }
    res->channel_skipped = rq.skipped;
    res->realtime = rq.rt_found;
    if (rq.oom)
        return jc_err_set(JC_ENOMEM, "out of memory collecting candidates");
    for (size_t i = 0; i < s->n_cands; i++) {
        struct jc_cand *c = &s->cands[i];
        float r = 0;
        for (int ch = 0; ch < sc->n_recall; ch++)
            if (c->channels & (1u << ch))
                r += sc->recall[ch].weight * c->ch_score[ch];
        c->recall = r;
        /* recount: channel_counts are "recalled by", not "added by" */
    }
    for (int ch = 0; ch < sc->n_recall; ch++) {
        uint32_t cnt = 0;
        for (size_t i = 0; i < s->n_cands; i++)
            cnt += (s->cands[i].channels >> ch) & 1u;
        res->channel_counts[ch] = cnt;
    }
    uint64_t t1 = jc_now_ns();

    /* 2. rank. A requested model that is not loaded falls back to the
     * scene's ranker; a model ranker that cannot score (no model, error)
     * falls back to the recall score. */
    const struct jc_ranker *model_rk = jc_pipeline_ranker("model");
    const struct jc_ranker *recall_rk = jc_pipeline_ranker("recall");
    const struct jc_ranker *rk = sc->ranker;
    const char *mname = sc->model[0] ? sc->model : NULL;
    const char *label = mname ? mname : "model";
    if (q->model && q->model[0] && strcmp(q->model, "default") != 0) {
        const struct jc_ranker *want = jc_pipeline_ranker(q->model);
        if (jc_serve_find_model(st, q->model) && (want == NULL || want == model_rk)) {
            rk = model_rk;
            mname = label = q->model;
        } else if (want && want != model_rk) {
            rk = want;
        } else if (want == model_rk) {
            rk = model_rk;
            mname = NULL;
            label = "model";
        } else {
            res->fallback = 1;
            res->fallback_code = "not_loaded";
            res->fallback_model = q->model;
            snprintf(res->fallback_reason, sizeof res->fallback_reason,
                     "model '%s' is not loaded; ranked by '%s'", q->model, sc->ranker->name);
        }
    }
    rq.model = rk == model_rk ? jc_serve_find_model(st, mname) : NULL;
    int rc = rk->score(&rq, s->cands, s->n_cands);
    if (rc == JC_OK && rq.model) {
        res->model_name = rq.model->name;
        res->model_version = rq.model->version;
    }
    if (rc) { /* any failure, out of memory included: the recall score */
        res->fallback = 1;
        res->fallback_code = rk == model_rk && rq.model == NULL ? "not_loaded" : "error";
        res->fallback_model = rk == model_rk ? label : rk->name;
        snprintf(res->fallback_reason, sizeof res->fallback_reason,
                 "ranker '%s' failed (%s); ranked by the recall score", rk->name,
                 jc_errcode() == rc ? jc_errmsg() : jc_strerror(rc));
        rk = recall_rk;
        rc = rk->score(&rq, s->cands, s->n_cands);
    }
    if (rc)
        return rc;
    res->ranker = rk->name;
    apply_rules(&rq, s->cands, &s->n_cands);
    if (s->n_cands > 1 && sort_cands(s) != JC_OK)
        return JC_ENOMEM;
    for (size_t i = 0; i < s->n_cands; i++) {
        s->cands[i].rank_pos = (uint32_t)i;
        s->cands[i].final = s->cands[i].rank;
    }
    uint64_t t2 = jc_now_ns();

    /* 3. re-rank the head that the page needs */
    size_t want_n = (size_t)q->offset + q->n;
    if (want_n > s->n_cands)
        want_n = s->n_cands;
    for (int r = 0; r < sc->n_rerank; r++) {
        rc = sc->rerank[r]->rerank(&rq, s->cands, s->n_cands, want_n);
        if (rc)
            return rc;
    }
    uint64_t t3 = jc_now_ns();

    res->n_candidates = s->n_cands;
    size_t from = q->offset < s->n_cands ? q->offset : s->n_cands;
    size_t n = want_n > from ? want_n - from : 0;
    res->items = jc_malloc_array(n ? n : 1, sizeof *res->items);
    if (res->items == NULL)
        return JC_ENOMEM;
    if (n)
        memcpy(res->items, s->cands + from, sizeof *res->items * n);
    res->n = n;
    res->stage_ns[0] = t1 - t0;
    res->stage_ns[1] = t2 - t1;
    res->stage_ns[2] = t3 - t2;
    return JC_OK;
}

int jc_pipeline_score_items(const struct jc_serve_state *st, const char *model, uint32_t user,
                            const uint32_t *items, size_t n, int64_t now, float *out,
                            const struct jc_model_comp **used)
{
    const struct jc_model_comp *mc = jc_serve_find_model(st, model);
    if (mc == NULL)
        return jc_err_set(JC_ENOTFOUND, "model '%s' is not loaded", model ? model : "(default)");
    const struct jc_catidx *ix = jc_state_idx(st);
    for (size_t i = 0; i < n; i++)
        if (items[i] >= ix->n_items)
            return jc_err_set(JC_EINVAL, "item %u out of range", items[i]);
    struct scratch *s = scratch_get(ix->n_items, ix->n_genres);
    struct jc_cand *c = jc_calloc(n ? n : 1, sizeof *c);
    if (s == NULL || c == NULL) {
        jc_free(c);
        return JC_ENOMEM;
    }
    struct jc_reco_query q = {.has_user = user != UINT32_MAX, .user = user, .genre = -1};
    struct jc_pipe_req rq = {.st = st,
                             .cat = jc_state_cat(st),
                             .v = jc_state_view(st),
                             .ix = ix,
                             .q = &q,
                             .s = s,
                             .model = mc};
    jc_catalog_interactions(rq.cat, &rq.in);
    rq.has_user = user != UINT32_MAX && user < ix->n_users;
    rq.user = user;
    rq.now = now > 0 ? now : jc_wall_s();
    for (size_t i = 0; i < n; i++)
        c[i].item = items[i];
    int rc = rank_model(&rq, c, n);
    if (rc == JC_OK)
        for (size_t i = 0; i < n; i++)
            out[i] = c[i].rank;
    jc_free(c);
    if (rc == JC_OK && used)
        *used = mc;
    return rc;
}

/* ---- similar items -------------------------------------------------------- */

/* 0.6 * co-occurrence cosine (normalised by the best candidate) + 0.4 *
 * genre Jaccard, over co-interacted items plus the best items of the
 * item's genres (so items without interactions still get neighbours). */
static int similar_cooc_genre(const struct jc_serve_state *st, uint32_t item, uint32_t n,
                              struct jc_sim *out, size_t *n_out)
{
    const struct jc_catalog *cat = jc_state_cat(st);
    const struct jc_view *v = jc_state_view(st);
    const struct jc_catidx *ix = jc_state_idx(st);
    struct scratch *s = scratch_get(ix->n_items, ix->n_genres);
    if (s == NULL)
        return JC_ENOMEM;
    struct jc_interactions in;
    jc_catalog_interactions(cat, &in);
    cooc_accumulate(v, &in, s, ix->n_items, &item, 1, 0, 0, SIM_USERS, SIM_ITEMS);
    /* Genre candidates join with a zero count. */
    const uint16_t *g;
    uint32_t ng = jc_view_item_genres(v, item, &g);
    for (uint32_t k = 0; k < ng; k++) {
        const uint32_t *items;
        size_t cnt = jc_catidx_list(ix, g[k], JC_SORT_DAMPED, &items);
        for (size_t i = 0; i < cnt && i < SIM_GENRE_CANDS / (ng ? ng : 1) + 1; i++) {
            uint32_t j = items[i];
            if (!marked(&s->acc_m, j)) {
                mark(&s->acc_m, j);
                s->acc[j] = 0;
                s->touched[s->n_touched++] = j;
            }
        }
    }
    /* Pass 1: co-occurrence cosine into acc[] and its maximum; pass 2: the
     * blended score into acc[]; then the top n by a bounded heap. */
    float ci = (float)(ix->count[item] < SIM_USERS ? ix->count[item] : SIM_USERS);
    float cmax = 0;
    size_t m = 0;
    for (size_t i = 0; i < s->n_touched; i++) {
        uint32_t j = s->touched[i];
        if (j == item)
            continue;
        float cj = (float)ix->count[j];
        float cos = s->acc[j] > 0 ? s->acc[j] / sqrtf(ci * (cj > 0 ? cj : 1)) : 0.0f;
        s->acc[j] = cos;
        if (cos > cmax)
            cmax = cos;
        s->touched[m++] = j;
    }
    for (size_t i = 0; i < m; i++) {
        uint32_t j = s->touched[i];
        float cooc = cmax > 0 ? s->acc[j] / cmax : 0.0f;
        s->acc[j] = 0.6f * cooc + 0.4f * jc_pipeline_genre_jaccard(v, item, j);
    }
    size_t k = top_k(s->touched, m, s->acc, n, s->keys);
    for (size_t i = 0; i < k; i++) {
        uint32_t j = s->touched[i];
        out[i].item = j;
        out[i].score = s->acc[j];
        out[i].jaccard = jc_pipeline_genre_jaccard(v, item, j);
        out[i].cooc = (out[i].score - 0.4f * out[i].jaccard) / 0.6f;
    }
    *n_out = k;
    return JC_OK;
}

static const struct {
    const char *name;
    struct jc_similar_provider p;
} similar_providers[] = {
    {"cooc_genre", {"cooc_genre", similar_cooc_genre}},
    {"cooc", {"cooc_genre", similar_cooc_genre}},
    {"genre", {"cooc_genre", similar_cooc_genre}},
    {"default", {"cooc_genre", similar_cooc_genre}},
};

void jc_sim_result_free(struct jc_sim_result *res)
{
    jc_free(res->items);
    res->items = NULL;
    res->n = 0;
}

/* Nearest items of `item` in embedding e (cosine; inner product for MF
 * embeddings), through its ANN index when there is one. JC_ENOTFOUND when
 * the item has no vector. */
static int similar_emb(const struct jc_serve_state *st, const struct jc_emb_comp *e, uint32_t item,
                       uint32_t n, struct jc_sim *out, size_t *n_out)
{
    const struct jc_view *v = jc_state_view(st);
    if (item >= jc_emb_n_items(e->emb) || jc_emb_item_status(e->emb, item) == JC_EMB_NONE)
        return jc_err_set(JC_ENOTFOUND, "item %u has no vector in embedding '%s'", item, e->name);
    struct jc_emb_hit *hits = jc_malloc_array((size_t)n + 1, sizeof *hits);
    if (hits == NULL)
        return JC_ENOMEM;
    struct jc_emb_search_opts o;
    jc_emb_search_opts_default(&o);
    o.cosine = !e->is_mf;
    o.index = e->ann;
    uint32_t k = 0;
    int rc = jc_emb_similar(e->emb, item, n, &o, hits, &k);
    if (rc == JC_OK) {
        for (uint32_t i = 0; i < k; i++) {
            out[i].item = hits[i].item;
            out[i].score = hits[i].score;
            out[i].cooc = 0;
            out[i].jaccard =
                hits[i].item < v->n_items ? jc_pipeline_genre_jaccard(v, item, hits[i].item) : 0.0f;
        }
        *n_out = k;
    }
    jc_free(hits);
    return rc;
}

int jc_pipeline_similar(const struct jc_serve_state *st, uint32_t item, uint32_t n,
                        const char *model, struct jc_sim_result *res)
{
    memset(res, 0, sizeof *res);
    const struct jc_similar_provider *p = &similar_providers[0].p;
    /* Embeddings first: no name or "emb" = the default embedding, else an
     * embedding by name; items without a vector fall back to cooc_genre. */
    int named = model && model[0];
    int emb_name = !named || strcmp(model, "emb") == 0 || strcmp(model, "item2vec") == 0 ||
                   strcmp(model, "mf") == 0 || jc_serve_find_emb(st, model) != NULL;
    const struct jc_emb_comp *e = NULL;
    if (emb_name) {
        e = jc_serve_find_emb(st, named && strcmp(model, "item2vec") != 0 ? model : NULL);
        if (e == NULL && named && strcmp(model, "item2vec") == 0)
            e = jc_serve_find_emb(st, "item2vec");
    }
    if (e) {
        res->items = jc_malloc_array(n ? n : 1, sizeof *res->items);
        if (res->items == NULL)
            return JC_ENOMEM;
        int rc = similar_emb(st, e, item, n, res->items, &res->n);
        if (rc == JC_OK) {
            res->provider = e->name;
            return JC_OK;
        }
        jc_sim_result_free(res);
        if (rc == JC_ENOMEM)
            return rc;
        if (named)
            res->fallback = 1;
        named = 0; /* served by cooc_genre below */
    }
    if (named) {
        size_t i = 0;
        size_t np = sizeof similar_providers / sizeof similar_providers[0];
        for (; i < np; i++)
            if (strcmp(similar_providers[i].name, model) == 0)
                break;
        if (i < np)
            p = &similar_providers[i].p;
        else
            res->fallback = 1;
    }
    int fb = res->fallback;
    res->items = jc_malloc_array(n ? n : 1, sizeof *res->items);
    res->fallback = fb;
    if (res->items == NULL)
        return JC_ENOMEM;
    int rc = p->similar(st, item, n, res->items, &res->n);
    if (rc) {
        jc_sim_result_free(res);
        return rc;
    }
    res->provider = p->name;
    return JC_OK;
}
