/*
 * eval.c - quality of an embedding on the global temporal split.
 *
 * Next-item: every test positive (value >= threshold) of a user who had an
 * earlier positive is one query. The candidates are the items with a
 * trained vector minus every item the user interacted with before the
 * event; the target's rank among them is computed exactly (one score pass
 * over all items per query) for two queries: the user's last positive
 * item (cosine) and the user vector (the factor vector for ials/bpr scored
 * by inner product; otherwise the running recency-weighted mean of the
 * user's positive item vectors, scored by cosine). HR@k = share of queries
 * whose target ranks < k; NDCG@k = mean of 1 / log2(rank + 2) over hits.
 *
 * Full ranking (the top-N protocol of the benchmarks): each user with a
 * training-time user vector and a test positive not among their training
 * items gets one top-k list over all candidates with their training items
 * masked; metrics from junco/rankmetrics.h (NDCG, Recall = hits / |R|,
 * Hit).
 *
 * Users are processed in parallel blocks; per-user results are summed in
 * user order, so the figures do not depend on the thread count.
 */
#include "embed_int.h"

#include "core/alloc.h"
#include "core/pool.h"
#include "core/timeutil.h"
#include <junco/ann.h>
#include <junco/error.h>
#include <junco/rankmetrics.h>

#include <math.h>
#include <string.h>

#define USERS_PER_TASK 8

void jc_embed_eval_opts_default(struct jc_embed_eval_opts *o)
{
    memset(o, 0, sizeof *o);
    o->k = 10;
    o->threshold = 3.5;
    o->user_half_life = 0.0;
    o->ann_queries = 1000;
    o->threads = 1;
}

struct user_res {
    double hr_i, ndcg_i, hr_u, ndcg_u;
    uint32_t n_ev;
    int full; /* 1 if the user has a full-ranking list */
    double f_ndcg, f_recall, f_hit;
};

struct ev {
    const struct jc_catalog *cat;
    const struct jc_emb *e;
    const struct jc_embed_split *split;
    const struct jc_embed_eval_opts *o;
    const struct jc_embed__kernels *k;
    struct jc_interactions ix;
    uint32_t n_items, dim;
    float *unit;     /* n_items x dim: normalised item vectors (0 rows for non-vectors) */
    const float *ui; /* matrix for user-item scores: raw (ip) or unit (cosine) */
    uint8_t *cand;   /* 1 if item is a candidate (trained) */
    int ip_users;    /* factor vectors scored by inner product */
    /* per worker scratch */
    float *scores;     /* workers x n_items */
    uint8_t *seen;     /* workers x n_items: 1 seen, 2 seen in train */
    uint8_t *gt;       /* workers x n_items */
    uint32_t *gt_list; /* workers x n_items */
    float *ubuf;       /* workers x 3 dim */
    struct user_res *res;
};

static inline int better(float sa, uint32_t ia, float sb, uint32_t ib)
{
    return sa > sb || (sa == sb && ia < ib);
}

/* Rank (0-based) of target among candidates not seen; -1 if not a candidate. */
static long rank_of(const struct ev *v, const float *scores, const uint8_t *seen, uint32_t target)
{
    if (!v->cand[target] || seen[target])
        return -1;
    float ts = scores[target];
    long r = 0;
    for (uint32_t i = 0; i < v->n_items; i++)
        if (v->cand[i] && !seen[i] && better(scores[i], i, ts, target))
            r++;
    return r;
}

static void user_task(void *ctx, uint64_t task, int worker)
{
    struct ev *v = ctx;
    const struct jc_embed__kernels *k = v->k;
    uint32_t n_users = jc_catalog_n_users(v->cat);
    uint32_t d = v->dim, K = v->o->k;
    float *scores = v->scores + (size_t)worker * v->n_items;
    uint8_t *seen = v->seen + (size_t)worker * v->n_items;
    uint8_t *gt = v->gt + (size_t)worker * v->n_items;
    uint32_t *gt_list = v->gt_list + (size_t)worker * v->n_items;
    float *sum = v->ubuf + (size_t)worker * 3 * d;
    float *uq = sum + d, *ufull = uq + d;
    uint8_t hit[1024];
    for (uint64_t u64 = task * USERS_PER_TASK; u64 < (task + 1) * USERS_PER_TASK && u64 < n_users;
         u64++) {
        uint32_t u = (uint32_t)u64;
        struct user_res *r = &v->res[u];
        memset(r, 0, sizeof *r);
        uint64_t b, e;
        jc_catalog_user_range(v->cat, u, &b, &e);
        const float *fv = jc_emb_user_vec(v->e, u);
        struct jc_emb_user_state st;
        jc_emb_user_state_init(&st, sum, d);
        uint32_t last = UINT32_MAX, n_gt = 0;
        int have_full = 0, split_seen = 0;
        for (uint64_t p = b; p < e; p++) {
            uint32_t it = v->ix.item[p];
            float val = v->ix.value[p];
            int test = jc_embed_split_is_test(v->split, v->ix.time[p], u, it);
            if (test && !split_seen) {
                split_seen = 1;
                if (fv) {
                    memcpy(ufull, fv, d * sizeof *ufull);
                    have_full = 1;
                } else if (jc_emb_user_vector(&st, ufull) == JC_OK) {
                    have_full = 1;
                }
            }
            if (test && val >= v->o->threshold && !seen[it]) {
                if (!(seen[it] & 2) && !gt[it]) {
                    gt[it] = 1;
                    gt_list[n_gt++] = it;
                }
                if (last != UINT32_MAX) {
                    r->n_ev++;
                    /* neighbours of the last positive item */
                    if (jc_emb_item_status(v->e, last) != JC_EMB_NONE) {
                        k->gemv(v->unit, v->n_items, d, v->unit + (size_t)last * d, d, scores);
                        long rk = rank_of(v, scores, seen, it);
                        if (rk >= 0 && rk < (long)K) {
                            r->hr_i += 1.0;
                            r->ndcg_i += jc_rank_discount((size_t)rk);
                        }
                    }
                    /* neighbours of the user vector */
                    int have_u = 0;
                    if (fv) {
                        memcpy(uq, fv, d * sizeof *uq);
                        have_u = 1;
                    } else {
                        have_u = jc_emb_user_vector(&st, uq) == JC_OK;
                    }
                    if (have_u) {
                        k->gemv(v->ui, v->n_items, d, uq, d, scores);
                        long rk = rank_of(v, scores, seen, it);
                        if (rk >= 0 && rk < (long)K) {
                            r->hr_u += 1.0;
                            r->ndcg_u += jc_rank_discount((size_t)rk);
                        }
                    }
                }
            }
            seen[it] |= (uint8_t)(test ? 1 : 3);
            if (val >= v->o->threshold) {
                last = it;
                if (jc_emb_item_status(v->e, it) != JC_EMB_NONE)
                    jc_emb_user_update(&st, jc_emb_item_vec(v->e, it), v->ix.time[p],
                                       v->o->user_half_life);
            }
        }
        /* Full ranking with training items masked. */
        uint32_t n_rel = 0;
        for (uint32_t g = 0; g < n_gt; g++)
            n_rel += !(seen[gt_list[g]] & 2);
        if (have_full && n_rel > 0) {
            k->gemv(v->ui, v->n_items, d, ufull, d, scores);
            /* top K by selection: K passes would be O(nK); use a small
             * insertion list since K is small (<= 1024). */
            uint32_t top[1024];
            float tops[1024];
            uint32_t nt = 0;
            for (uint32_t i = 0; i < v->n_items; i++) {
                if (!v->cand[i] || (seen[i] & 2))
                    continue;
                float s = scores[i];
                if (nt == K && !better(s, i, tops[nt - 1], top[nt - 1]))
                    continue;
                uint32_t pos = nt < K ? nt++ : K - 1;
                while (pos > 0 && better(s, i, tops[pos - 1], top[pos - 1])) {
                    tops[pos] = tops[pos - 1];
                    top[pos] = top[pos - 1];
                    pos--;
                }
                tops[pos] = s;
                top[pos] = i;
            }
            for (uint32_t t = 0; t < nt; t++)
                hit[t] = gt[top[t]] && !(seen[top[t]] & 2);
            struct jc_rank_metrics m;
            jc_rank_metrics_at(hit, nt, n_rel, K, &m);
            r->full = 1;
            r->f_ndcg = m.ndcg;
            r->f_recall = m.recall;
            r->f_hit = m.hit;
        }
        for (uint64_t p = b; p < e; p++) {
            seen[v->ix.item[p]] = 0;
            gt[v->ix.item[p]] = 0;
        }
    }
}

int jc_embed_evaluate(const struct jc_catalog *cat, const struct jc_emb *e,
                      const struct jc_embed_split *split, const struct jc_embed_eval_opts *o,
                      struct jc_embed_eval *out)
{
    if (split == NULL || !split->active)
        return jc_err_set(JC_EINVAL, "evaluate: a temporal split is required");
    if (o->k < 1 || o->k > 1024)
        return jc_err_set(JC_EINVAL, "evaluate: k = %u out of range [1, 1024]", o->k);
    if (jc_emb_n_items(e) != jc_catalog_n_items(cat))
        return jc_err_set(JC_EINVAL, "evaluate: embedding has %u items, catalog %u",
                          jc_emb_n_items(e), jc_catalog_n_items(cat));
    uint64_t t0 = jc_now_ns();
    struct ev v;
    memset(&v, 0, sizeof v);
    v.cat = cat;
    v.e = e;
    v.split = split;
    v.o = o;
    v.k = jc_embed__kernels();
    jc_catalog_interactions(cat, &v.ix);
    v.n_items = jc_emb_n_items(e);
    v.dim = jc_emb_dim(e);
    enum jc_embed_method m = jc_emb_method(e);
    v.ip_users = m == JC_EMBED_IALS || m == JC_EMBED_BPR;
    int threads = jc_embed__threads(o->threads);
    uint32_t n_users = jc_catalog_n_users(cat);
    size_t nd = (size_t)v.n_items * v.dim;
    v.unit = jc_malloc_array(nd ? nd : 1, sizeof *v.unit);
    v.cand = jc_calloc((size_t)v.n_items + 1, 1);
    v.scores = jc_malloc_array((size_t)threads * v.n_items + 1, sizeof *v.scores);
    v.seen = jc_calloc((size_t)threads * v.n_items + 1, 1);
    v.gt = jc_calloc((size_t)threads * v.n_items + 1, 1);
    v.gt_list = jc_malloc_array((size_t)threads * v.n_items + 1, sizeof *v.gt_list);
    v.ubuf = jc_malloc_array((size_t)threads * 3 * v.dim, sizeof *v.ubuf);
    v.res = jc_calloc((size_t)n_users + 1, sizeof *v.res);
    int rc = JC_OK;
    if (!v.unit || !v.cand || !v.scores || !v.seen || !v.gt || !v.gt_list || !v.ubuf || !v.res)
        rc = JC_ENOMEM;
    struct jc_embed_eval r;
    memset(&r, 0, sizeof r);
    r.k = o->k;
    r.ann_recall = -1.0;
    if (rc == JC_OK) {
        for (uint32_t i = 0; i < v.n_items; i++) {
            const float *x = jc_emb_item_vec(e, i);
            float *y = v.unit + (size_t)i * v.dim;
            float nx = sqrtf(v.k->dot(x, x, v.dim));
            enum jc_emb_status s = jc_emb_item_status(e, i);
            if (s == JC_EMB_NONE || !(nx > 0)) {
                memset(y, 0, v.dim * sizeof *y);
                continue;
            }
            for (uint32_t f = 0; f < v.dim; f++)
                y[f] = x[f] / nx;
            v.cand[i] = s == JC_EMB_TRAINED;
        }
        v.ui = v.ip_users ? jc_emb_item_vec(e, 0) : v.unit;
        struct jc_pool *pool = NULL;
        uint64_t n_tasks = (n_users + USERS_PER_TASK - 1) / USERS_PER_TASK;
        if (threads > 1)
            rc = jc_pool_create(&pool, threads);
        if (rc == JC_OK) {
            if (pool)
                jc_pool_run(pool, n_tasks, user_task, &v);
            else
                for (uint64_t t = 0; t < n_tasks; t++)
                    user_task(&v, t, 0);
        }
        jc_pool_destroy(pool);
    }
    if (rc == JC_OK) {
        double hi = 0, ni = 0, hu = 0, nu = 0, fn = 0, fr = 0, fh = 0;
        for (uint32_t u = 0; u < n_users; u++) {
            const struct user_res *x = &v.res[u];
            r.n_events += x->n_ev;
            hi += x->hr_i;
            ni += x->ndcg_i;
            hu += x->hr_u;
            nu += x->ndcg_u;
            if (x->full) {
                r.n_users++;
                fn += x->f_ndcg;
                fr += x->f_recall;
                fh += x->f_hit;
            }
        }
        if (r.n_events) {
            r.hr_item = hi / (double)r.n_events;
            r.ndcg_item = ni / (double)r.n_events;
            r.hr_user = hu / (double)r.n_events;
            r.ndcg_user = nu / (double)r.n_events;
        }
        if (r.n_users) {
            r.ndcg_full = fn / r.n_users;
            r.recall_full = fr / r.n_users;
            r.hr_full = fh / r.n_users;
        }
    }
    if (rc == JC_OK && o->index) {
        /* ANN recall@k on (up to) ann_queries trained items, evenly spaced. */
        uint32_t n_tr = 0;
        for (uint32_t i = 0; i < v.n_items; i++)
            n_tr += v.cand[i];
        uint32_t nq = o->ann_queries < n_tr ? o->ann_queries : n_tr;
        if (nq > 0) {
            float *q = jc_malloc_array((size_t)nq * v.dim, sizeof *q);
            if (q == NULL) {
                rc = JC_ENOMEM;
            } else {
                uint32_t seen_tr = 0, w = 0;
                for (uint32_t i = 0; i < v.n_items && w < nq; i++) {
                    if (!v.cand[i])
                        continue;
                    if ((uint64_t)seen_tr * nq / n_tr == w) {
                        memcpy(q + (size_t)w * v.dim, jc_emb_item_vec(e, i), v.dim * sizeof *q);
                        w++;
                    }
                    seen_tr++;
                }
                rc = jc_ann_recall(o->index, q, w, o->k, NULL, &r.ann_recall);
                jc_free(q);
            }
        }
    }
    r.seconds = (double)(jc_now_ns() - t0) * 1e-9;
    jc_free(v.unit);
    jc_free(v.cand);
    jc_free(v.scores);
    jc_free(v.seen);
    jc_free(v.gt);
    jc_free(v.gt_list);
    jc_free(v.ubuf);
    jc_free(v.res);
    if (rc == JC_OK)
        *out = r;
    return rc;
}
