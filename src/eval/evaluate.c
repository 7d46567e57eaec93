/*
 * evaluate.c - the multi-threaded top-N evaluator (jc_eval_run).
 *
 * Design: the users to evaluate are fixed up front (a target item, and a
 * known item unless cold users are wanted); workers of a jc_pool take
 * chunks of them. Per user, full mode asks the scorer for all scores and
 * ranks the unmasked items (select.c: 64-bit keys encoding (score desc,
 * item asc), NaN as -infinity, built only for the items above a sampled
 * threshold that keeps at least L = max(K, N) of them, masked items dropped
 * by their mark; the top max(K) selected and sorted; the recall-layer hit
 * rate from the exact ranks of the user's targets). Sampled mode ranks each target against its
 * negatives (jc_eval_negatives). Every per-user result (metrics at each K,
 * recall-layer hits, novelty, ILD, the top-K list) is stored by user index
 * and reduced afterwards in user order, so the numbers are identical for
 * any thread count. Worker errors are captured with their message and
 * re-raised on the calling thread.
 */
#include <junco/eval.h>

#include "core/alloc.h"
#include "core/buf.h"
#include "core/json.h"
#include "core/parse.h"
#include "core/pool.h"
#include "core/rng.h"
#include "core/timeutil.h"
#include "eval/eval_int.h"
#include <junco/error.h>

#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CHUNK_USERS 8
#define MAX_CUTOFF  100000

void jc_eval_config_default(struct jc_eval_config *c)
{
    memset(c, 0, sizeof *c);
    c->mode = JC_EVAL_FULL;
    c->ks[0] = 10;
    c->ks[1] = 20;
    c->ks[2] = 50;
    c->n_ks = 3;
    c->recall_ns[0] = 100;
    c->recall_ns[1] = 200;
    c->recall_ns[2] = 500;
    c->n_recall_ns = 3;
    c->n_negatives = 99;
    c->seed = 42;
    c->skip_cold = 1;
    c->n_segments = 4;
}

/* ---- per-worker state --------------------------------------------------- */

struct wstate {
    float *buf;            /* n_items scores */
    uint32_t *known_mark;  /* n_items: user + 1 when known */
    uint32_t *target_mark; /* n_items: user + 1 when a target */
    uint32_t *pick_mark;   /* n_items: sampled case stamp */
    uint32_t pick_stamp;
    uint64_t *keys, *cand; /* n_items selection keys */
    float *sample;         /* n_items / 8 + 1 */
    uint32_t *list;        /* L: the selected items, best first (sorted part) */
    uint32_t *heap_item;   /* L + max_known: a topn scorer's answer */
    uint32_t *tlist;       /* max_targets: the user's distinct targets */
    uint32_t *trank;       /* max_targets: their ranks */
    void *tscratch;        /* select.c's scratch for target ranks */
    float *heap_score;
    uint8_t *hit; /* L or 1 + n_negatives */
    uint32_t *avail;
};

struct run {
    const struct jc_eval_config *cfg;
    const struct jc_scorer *sc;
    const struct jc_eval_part *known, *target;
    uint32_t n_items;
    uint32_t *users; /* evaluated users */
    uint32_t n_eval;
    uint32_t max_known, max_targets;
    size_t L;  /* selection length (full) */
    size_t KL; /* stored list length = max K */
    size_t nk, nn;
    struct wstate *ws;
    int n_workers;
    /* per evaluated user */
    struct jc_rank_metrics *met; /* n_eval x nk (sums over cases in sampled mode) */
    uint32_t *found;             /* n_eval x nn */
    uint32_t *lists;             /* n_eval x KL */
    uint32_t *list_len;          /* n_eval */
    uint32_t *cases;             /* n_eval */
    double *nov, *ild;           /* n_eval x nk */
    const double *self_info;
    atomic_uint done;
    atomic_int stop;
    pthread_mutex_t mu;
    int rc;
    char msg[1024];
};

static void ws_free(struct wstate *w)
{
    jc_free(w->buf);
    jc_free(w->known_mark);
    jc_free(w->target_mark);
    jc_free(w->pick_mark);
    jc_free(w->keys);
    jc_free(w->cand);
    jc_free(w->sample);
    jc_free(w->list);
    jc_free(w->tlist);
    jc_free(w->trank);
    jc_free(w->tscratch);
    jc_free(w->heap_item);
    jc_free(w->heap_score);
    jc_free(w->hit);
    jc_free(w->avail);
    memset(w, 0, sizeof *w);
}

static int ws_init(struct wstate *w, uint32_t n_items, size_t max_known, size_t max_targets,
                   size_t L, uint32_t n_neg)
{
    memset(w, 0, sizeof *w);
    size_t hl = L + max_known + 1;
    size_t nc = (size_t)n_neg + 2;
    w->buf = jc_malloc_array(n_items, sizeof *w->buf);
    w->known_mark = jc_calloc(n_items, sizeof *w->known_mark);
    w->target_mark = jc_calloc(n_items, sizeof *w->target_mark);
    w->pick_mark = jc_calloc(n_items, sizeof *w->pick_mark);
    w->keys = jc_malloc_array(n_items, sizeof *w->keys);
    w->cand = jc_malloc_array(n_items, sizeof *w->cand);
    w->sample = jc_malloc_array((size_t)n_items / 8 + 1, sizeof *w->sample);
    w->list = jc_malloc_array(hl, sizeof *w->list);
    w->tlist = jc_malloc_array(max_targets + 1, sizeof *w->tlist);
    w->trank = jc_malloc_array(max_targets + 1, sizeof *w->trank);
    w->tscratch = jc_malloc_array(max_targets + 1, 24);
    w->heap_item = jc_malloc_array(hl, sizeof *w->heap_item);
    w->heap_score = jc_malloc_array(hl, sizeof *w->heap_score);
    w->hit = jc_malloc_array(hl > nc ? hl : nc, 1);
    w->avail = jc_malloc_array(n_items, sizeof *w->avail);
    if (!w->buf || !w->known_mark || !w->target_mark || !w->pick_mark || !w->keys || !w->cand ||
        !w->sample || !w->list || !w->tlist || !w->trank || !w->tscratch || !w->heap_item ||
        !w->heap_score || !w->hit || !w->avail) {
        ws_free(w);
        return JC_ENOMEM;
    }
    return JC_OK;
}

static void fail(struct run *r, int rc)
{
    pthread_mutex_lock(&r->mu);
    if (r->rc == JC_OK) {
        r->rc = rc;
        snprintf(r->msg, sizeof r->msg, "%s", jc_errcode() == rc ? jc_errmsg() : jc_strerror(rc));
    }
    pthread_mutex_unlock(&r->mu);
    atomic_store(&r->stop, 1);
}

static int cmp_u32(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return x < y ? -1 : x > y;
}

/* ---- negatives ---------------------------------------------------------- */

/*
 * Draws n_draws lists of negatives for user into out (n_draws x n_each,
 * n_each = min(n_neg, n_items - n_excluded)). known_mark/target_mark mark
 * the user's excluded items with stamp (n_excluded distinct items);
 * pick_mark/avail are scratch of n_items. Returns n_each.
 */
static size_t draw_negatives(uint32_t n_items, uint32_t user, uint32_t stamp,
                             const uint32_t *known_mark, const uint32_t *target_mark,
                             uint32_t *pick_mark, uint32_t *pick_stamp, uint32_t *avail,
                             uint64_t n_excluded, uint64_t n_draws, uint32_t n_neg, uint64_t seed,
                             uint32_t *out)
{
    uint64_t available = n_items > n_excluded ? n_items - n_excluded : 0;
    size_t n_each = available < n_neg ? (size_t)available : n_neg;
    struct jc_rng rng;
    jc_rng_stream(&rng, seed, user);
    /* Few candidates: enumerate them and draw without rejection. */
    int enumerate = available < 2 * (uint64_t)n_neg + 16;
    size_t n_avail = 0;
    if (enumerate)
        for (uint32_t i = 0; i < n_items; i++)
            if (known_mark[i] != stamp && target_mark[i] != stamp)
                avail[n_avail++] = i;
    for (uint64_t t = 0; t < n_draws; t++) {
        uint32_t *o = out + t * n_each;
        if (enumerate) {
            /* partial Fisher-Yates over the available items */
            for (size_t k = 0; k < n_each; k++) {
                size_t j = k + (size_t)jc_rng_below(&rng, n_avail - k);
                uint32_t x = avail[k];
                avail[k] = avail[j];
                avail[j] = x;
                o[k] = avail[k];
            }
            continue;
        }
        if (++*pick_stamp == 0) {
            memset(pick_mark, 0, (size_t)n_items * sizeof *pick_mark);
            *pick_stamp = 1;
        }
        size_t k = 0;
        while (k < n_each) {
            uint32_t i = (uint32_t)jc_rng_below(&rng, n_items);
            if (known_mark[i] == stamp || target_mark[i] == stamp || pick_mark[i] == *pick_stamp)
                continue;
            pick_mark[i] = *pick_stamp;
            o[k++] = i;
        }
    }
    return n_each;
}

/* Marks the user's known and target items with stamp; returns the number
 * of distinct excluded items (known, plus targets that are not known). */
static uint64_t mark_user(const struct jc_eval_part *kn, const struct jc_eval_part *tg, uint32_t u,
                          uint32_t stamp, uint32_t *known_mark, uint32_t *target_mark,
                          uint64_t *n_known_distinct, uint64_t *n_target_distinct)
{
    uint64_t nk = 0, nt = 0;
    for (uint64_t i = kn->offsets[u]; i < kn->offsets[u + 1]; i++)
        if (known_mark[kn->items[i]] != stamp) {
            known_mark[kn->items[i]] = stamp;
            nk++;
        }
    for (uint64_t i = tg->offsets[u]; i < tg->offsets[u + 1]; i++) {
        uint32_t it = tg->items[i];
        if (target_mark[it] != stamp && known_mark[it] != stamp) {
            target_mark[it] = stamp;
            nt++;
        }
    }
    *n_known_distinct = nk;
    *n_target_distinct = nt;
    return nk + nt;
}

int jc_eval_negatives(const struct jc_eval_config *cfg, const struct jc_eval_part *known,
                      const struct jc_eval_part *target, uint32_t user, uint32_t *out, size_t cap,
                      size_t *n_per_target)
{
    if (user >= known->n_users || user >= target->n_users || known->n_items != target->n_items)
        return jc_err_set(JC_EINVAL, "eval: user %u out of range or shapes differ", user);
    uint32_t n_items = known->n_items;
    uint32_t *km = jc_calloc(n_items, sizeof *km), *tm = jc_calloc(n_items, sizeof *tm);
    uint32_t *pm = jc_calloc(n_items, sizeof *pm), *av = jc_malloc_array(n_items, sizeof *av);
    int rc = JC_OK;
    if (!km || !tm || !pm || !av) {
        rc = JC_ENOMEM;
        goto done;
    }
    uint32_t stamp = user + 1, ps = 0;
    uint64_t nkd, ntd;
    uint64_t excl = mark_user(known, target, user, stamp, km, tm, &nkd, &ntd);
    uint64_t n_t = target->offsets[user + 1] - target->offsets[user];
    uint64_t avail = n_items > excl ? n_items - excl : 0;
    size_t each = avail < cfg->n_negatives ? (size_t)avail : cfg->n_negatives;
    if (each * n_t > cap) {
        rc =
            jc_err_set(JC_ELIMIT, "eval: %zu negatives do not fit in %zu", each * (size_t)n_t, cap);
        goto done;
    }
    *n_per_target = draw_negatives(n_items, user, stamp, km, tm, pm, &ps, av, excl, n_t,
                                   cfg->n_negatives, cfg->seed, out);
done:
    jc_free(km);
    jc_free(tm);
    jc_free(pm);
    jc_free(av);
    return rc;
}

/* ---- per-user work ------------------------------------------------------ */

static int eval_full_user(struct run *r, struct wstate *w, uint32_t e, int worker)
{
    const struct jc_eval_config *cfg = r->cfg;
    uint32_t u = r->users[e], stamp = u + 1;
    const struct jc_eval_part *kn = r->known, *tg = r->target;
    uint64_t kb = kn->offsets[u], ke = kn->offsets[u + 1];
    uint64_t tb = tg->offsets[u], te = tg->offsets[u + 1];
    size_t nkn = 0;
    for (uint64_t i = kb; i < ke; i++) {
        uint32_t it = kn->items[i];
        if (w->known_mark[it] != stamp) {
            w->known_mark[it] = stamp;
            nkn++;
        }
    }
    size_t n_rel = 0;
    for (uint64_t i = tb; i < te; i++) {
        uint32_t it = tg->items[i];
        if (w->target_mark[it] != stamp && w->known_mark[it] != stamp) {
            w->target_mark[it] = stamp;
            w->tlist[n_rel++] = it;
        }
    }
    size_t n_list = 0; /* selected items (the first min(KL, n_list) sorted) */
    int rc;
    uint32_t *list = w->list;
    if (r->sc->score) {
        const float *scores = NULL;
        rc = r->sc->score(r->sc->self, u, worker, w->buf, &scores);
        if (rc)
            return rc;
        const uint64_t *keys;
        n_list =
            jc_eval__select(scores, r->n_items, w->known_mark, stamp, nkn, r->L, r->KL, w->tlist,
                            n_rel, w->trank, w->keys, w->cand, w->sample, w->tscratch, &keys);
        for (size_t i = 0; i < n_list; i++)
            list[i] = jc_eval__key_item(keys[i]);
        /* recall layer from the targets' ranks */
        for (size_t j = 0; j < r->nn; j++) {
            uint32_t f = 0;
            for (size_t t = 0; t < n_rel; t++)
                f += w->trank[t] < cfg->recall_ns[j];
            r->found[(size_t)e * r->nn + j] = f;
        }
    } else {
        uint32_t got = 0;
        rc = r->sc->topn(r->sc->self, u, worker, (uint32_t)(r->L + nkn), w->heap_item,
                         w->heap_score, &got);
        if (rc)
            return rc;
        if (got > r->L + nkn)
            return jc_err_set(JC_EINTERNAL, "eval: scorer %s returned %u items for %zu",
                              r->sc->name, got, r->L + nkn);
        for (uint32_t i = 0; i < got && n_list < r->L; i++) {
            uint32_t it = w->heap_item[i];
            if (it >= r->n_items)
                return jc_err_set(JC_ERANGE, "eval: scorer %s returned item %u (of %u)",
                                  r->sc->name, it, r->n_items);
            if (w->known_mark[it] == stamp || w->pick_mark[it] == stamp)
                continue; /* masked, or a duplicate in the candidate list */
            w->pick_mark[it] = stamp;
            list[n_list++] = it;
        }
        /* recall layer from the candidate list's order */
        for (size_t j = 0; j < r->nn; j++) {
            size_t len = n_list < cfg->recall_ns[j] ? n_list : cfg->recall_ns[j];
            uint32_t f = 0;
            for (size_t i = 0; i < len; i++)
                f += w->target_mark[list[i]] == stamp;
            r->found[(size_t)e * r->nn + j] = f;
        }
    }
    size_t n_sorted = n_list < r->KL ? n_list : r->KL;
    for (size_t i = 0; i < n_sorted; i++)
        w->hit[i] = w->target_mark[list[i]] == stamp;
    for (size_t k = 0; k < r->nk; k++) {
        jc_rank_metrics_at(w->hit, n_sorted, n_rel, cfg->ks[k], &r->met[(size_t)e * r->nk + k]);
        size_t len = n_sorted < cfg->ks[k] ? n_sorted : cfg->ks[k];
        r->nov[(size_t)e * r->nk + k] = jc_rank_novelty(list, len, r->self_info);
        double ild = NAN;
        if (cfg->item_genres)
            ild = jc_rank_ild_genres(list, len, cfg->item_genres);
        else if (cfg->item_emb)
            ild = jc_rank_ild_cosine(list, len, cfg->item_emb, cfg->emb_dim);
        r->ild[(size_t)e * r->nk + k] = len >= 2 ? ild : NAN;
    }
    memcpy(r->lists + (size_t)e * r->KL, list, n_sorted * sizeof *list);
    r->list_len[e] = (uint32_t)n_sorted;
    r->cases[e] = 1;
    return JC_OK;
}

static int eval_sampled_user(struct run *r, struct wstate *w, uint32_t e, int worker)
{
    const struct jc_eval_config *cfg = r->cfg;
    uint32_t u = r->users[e], stamp = u + 1;
    const struct jc_eval_part *kn = r->known, *tg = r->target;
    uint64_t nkd, ntd;
    uint64_t excl = mark_user(kn, tg, u, stamp, w->known_mark, w->target_mark, &nkd, &ntd);
    uint64_t n_t = tg->offsets[u + 1] - tg->offsets[u];
    /* Negatives for all targets, drawn in target order from the user's stream. */
    uint64_t avail = r->n_items > excl ? r->n_items - excl : 0;
    size_t each = avail < cfg->n_negatives ? (size_t)avail : cfg->n_negatives;
    uint32_t *negs = jc_malloc_array(n_t * each + 1, sizeof *negs);
    if (negs == NULL)
        return JC_ENOMEM;
    draw_negatives(r->n_items, u, stamp, w->known_mark, w->target_mark, w->pick_mark,
                   &w->pick_stamp, w->avail, excl, n_t, cfg->n_negatives, cfg->seed, negs);
    const float *scores = NULL;
    int rc = r->sc->score(r->sc->self, u, worker, w->buf, &scores);
    if (rc) {
        jc_free(negs);
        return rc;
    }
    uint32_t cases = 0;
    for (size_t k = 0; k < r->nk; k++)
        memset(&r->met[(size_t)e * r->nk + k], 0, sizeof(struct jc_rank_metrics));
    for (uint64_t t = 0; t < n_t; t++) {
        uint32_t ti = tg->items[tg->offsets[u] + t];
        if (w->known_mark[ti] == stamp)
            continue; /* a target that is also known cannot be ranked */
        float st = scores[ti];
        if (st != st)
            st = -INFINITY;
        size_t rank = 0;
        const uint32_t *o = negs + t * each;
        for (size_t k = 0; k < each; k++) {
            float s = scores[o[k]];
            if (s != s)
                s = -INFINITY;
            rank += s > st || (s == st && o[k] < ti);
        }
        size_t n_cand = each + 1;
        memset(w->hit, 0, n_cand);
        w->hit[rank] = 1;
        for (size_t k = 0; k < r->nk; k++) {
            struct jc_rank_metrics m;
            jc_rank_metrics_at(w->hit, n_cand, 1, cfg->ks[k], &m);
            struct jc_rank_metrics *acc = &r->met[(size_t)e * r->nk + k];
            acc->precision += m.precision;
            acc->recall += m.recall;
            acc->ndcg += m.ndcg;
            acc->map += m.map;
            acc->mrr += m.mrr;
            acc->hit += m.hit;
        }
        cases++;
    }
    jc_free(negs);
    r->cases[e] = cases;
    return JC_OK;
}

static void task(void *ctx, uint64_t t, int worker)
{
    struct run *r = ctx;
    struct wstate *w = &r->ws[worker];
    uint64_t b = t * CHUNK_USERS, end = b + CHUNK_USERS;
    if (end > r->n_eval)
        end = r->n_eval;
    for (uint64_t e = b; e < end; e++) {
        if (atomic_load(&r->stop))
            return;
        int rc = r->cfg->mode == JC_EVAL_FULL ? eval_full_user(r, w, (uint32_t)e, worker)
                                              : eval_sampled_user(r, w, (uint32_t)e, worker);
        if (rc) {
            fail(r, rc);
            return;
        }
        unsigned d = atomic_fetch_add(&r->done, 1) + 1;
        if (worker == 0 && (d % 64 == 0 || d == r->n_eval)) {
            if (jc_progress_report(&r->cfg->progress, "evaluate", d, r->n_eval, "users",
                                   r->sc->name)) {
                fail(r, jc_err_set(JC_ECANCELED, "eval: canceled"));
                return;
            }
        }
    }
}

/* ---- configuration checks and reduction --------------------------------- */

static int check_config(const struct jc_eval_config *c, const struct jc_scorer *sc,
                        const struct jc_eval_part *known, const struct jc_eval_part *target)
{
    if (c->n_ks == 0 || c->n_ks > JC_EVAL_MAX_K)
        return jc_err_set(JC_EINVAL, "eval: %zu cut-offs (need 1..%d)", c->n_ks, JC_EVAL_MAX_K);
    if (c->n_recall_ns > JC_EVAL_MAX_K)
        return jc_err_set(JC_EINVAL, "eval: %zu recall cut-offs (max %d)", c->n_recall_ns,
                          JC_EVAL_MAX_K);
    for (size_t i = 0; i < c->n_ks; i++)
        if (c->ks[i] == 0 || c->ks[i] > MAX_CUTOFF || (i && c->ks[i] <= c->ks[i - 1]))
            return jc_err_set(JC_EINVAL, "eval: cut-offs must be ascending in [1, %d] (K = %u)",
                              MAX_CUTOFF, c->ks[i]);
    for (size_t i = 0; i < c->n_recall_ns; i++)
        if (c->recall_ns[i] == 0 || c->recall_ns[i] > MAX_CUTOFF ||
            (i && c->recall_ns[i] <= c->recall_ns[i - 1]))
            return jc_err_set(JC_EINVAL,
                              "eval: recall cut-offs must be ascending in [1, %d] (N = %u)",
                              MAX_CUTOFF, c->recall_ns[i]);
    if ((unsigned)c->mode > JC_EVAL_SAMPLED)
        return jc_err_set(JC_EINVAL, "eval: bad mode %d", (int)c->mode);
    if (c->mode == JC_EVAL_SAMPLED && (c->n_negatives == 0 || c->n_negatives > MAX_CUTOFF))
        return jc_err_set(JC_EINVAL, "eval: %u negatives (need 1..%d)", c->n_negatives, MAX_CUTOFF);
    if (c->n_segments > JC_EVAL_MAX_SEGMENTS)
        return jc_err_set(JC_EINVAL, "eval: %u segments (max %d)", c->n_segments,
                          JC_EVAL_MAX_SEGMENTS);
    if (c->item_emb && c->emb_dim == 0)
        return jc_err_set(JC_EINVAL, "eval: item embeddings with dimension 0");
    if (sc->score == NULL && sc->topn == NULL)
        return jc_err_set(JC_EINVAL, "eval: scorer %s has neither score nor topn", sc->name);
    if (c->mode == JC_EVAL_SAMPLED && sc->score == NULL)
        return jc_err_set(JC_EINVAL,
                          "eval: sampled ranking needs item scores; scorer %s only has topn",
                          sc->name);
    if (known->n_users != target->n_users || known->n_items != target->n_items ||
        known->n_users != sc->n_users || known->n_items != sc->n_items)
        return jc_err_set(JC_EINVAL,
                          "eval: shapes differ: known %ux%u, target %ux%u, scorer %s %ux%u",
                          known->n_users, known->n_items, target->n_users, target->n_items,
                          sc->name, sc->n_users, sc->n_items);
    if (known->n_items == 0)
        return jc_err_set(JC_EINVAL, "eval: no items");
    return JC_OK;
}

/* User-activity segments: quantiles of the known counts of evaluated users. */
static int make_segments(struct run *r, struct jc_eval_result *out, const uint32_t *kcount)
{
    uint32_t S = r->cfg->n_segments;
    out->n_segments = 0;
    if (S == 0 || r->n_eval == 0 || r->cfg->mode != JC_EVAL_FULL)
        return JC_OK;
    uint32_t *sorted = jc_malloc_array(r->n_eval, sizeof *sorted);
    if (sorted == NULL)
        return JC_ENOMEM;
    memcpy(sorted, kcount, r->n_eval * sizeof *sorted);
    qsort(sorted, r->n_eval, sizeof *sorted, cmp_u32);
    uint32_t lo = sorted[0];
    for (uint32_t s = 0; s < S; s++) {
        size_t at = ((size_t)(s + 1) * r->n_eval) / S;
        uint32_t hi = sorted[at ? at - 1 : 0];
        if (s == S - 1)
            hi = sorted[r->n_eval - 1];
        if (out->n_segments && hi < lo)
            continue;
        struct jc_eval_segment *g = &out->segments[out->n_segments];
        memset(g, 0, sizeof *g);
        g->min_known = lo;
        g->max_known = hi;
        snprintf(g->label, sizeof g->label, "%u-%u known", lo, hi);
        out->n_segments++;
        lo = hi + 1;
        if (hi == sorted[r->n_eval - 1])
            break;
    }
    jc_free(sorted);
    for (uint32_t e = 0; e < r->n_eval; e++) {
        for (size_t s = 0; s < out->n_segments; s++) {
            struct jc_eval_segment *g = &out->segments[s];
            if (kcount[e] < g->min_known || kcount[e] > g->max_known)
                continue;
            g->n_users++;
            for (size_t k = 0; k < r->nk; k++) {
                const struct jc_rank_metrics *m = &r->met[(size_t)e * r->nk + k];
                g->at[k].precision += m->precision;
                g->at[k].recall += m->recall;
                g->at[k].ndcg += m->ndcg;
                g->at[k].map += m->map;
                g->at[k].mrr += m->mrr;
                g->at[k].hit += m->hit;
            }
            break;
        }
    }
    for (size_t s = 0; s < out->n_segments; s++) {
        struct jc_eval_segment *g = &out->segments[s];
        double d = g->n_users ? (double)g->n_users : 1.0;
        for (size_t k = 0; k < r->nk; k++) {
            g->at[k].precision /= d;
            g->at[k].recall /= d;
            g->at[k].ndcg /= d;
            g->at[k].map /= d;
            g->at[k].mrr /= d;
            g->at[k].hit /= d;
        }
    }
    return JC_OK;
}

static int reduce(struct run *r, struct jc_eval_result *out)
{
    const struct jc_eval_config *cfg = r->cfg;
    uint64_t cases = 0;
    for (uint32_t e = 0; e < r->n_eval; e++)
        cases += r->cases[e];
    out->n_cases = cases;
    double dc = cases ? (double)cases : 1.0;
    for (size_t k = 0; k < r->nk; k++) {
        struct jc_eval_at *a = &out->at[k];
        a->k = cfg->ks[k];
        struct jc_rank_metrics s = {0, 0, 0, 0, 0, 0};
        for (uint32_t e = 0; e < r->n_eval; e++) {
            const struct jc_rank_metrics *m = &r->met[(size_t)e * r->nk + k];
            s.precision += m->precision;
            s.recall += m->recall;
            s.ndcg += m->ndcg;
            s.map += m->map;
            s.mrr += m->mrr;
            s.hit += m->hit;
        }
        a->m.precision = s.precision / dc;
        a->m.recall = s.recall / dc;
        a->m.ndcg = s.ndcg / dc;
        a->m.map = s.map / dc;
        a->m.mrr = s.mrr / dc;
        a->m.hit = s.hit / dc;
        a->coverage = a->gini = a->novelty = a->ild = NAN;
    }
    out->n_ks = r->nk;
    if (cfg->mode == JC_EVAL_SAMPLED) {
        out->n_recall_ns = 0;
        return JC_OK;
    }
    out->n_recall_ns = r->nn;
    for (size_t j = 0; j < r->nn; j++) {
        uint64_t f = 0;
        for (uint32_t e = 0; e < r->n_eval; e++)
            f += r->found[(size_t)e * r->nn + j];
        out->recall_ns[j] = cfg->recall_ns[j];
        out->recall_hit[j] = out->n_targets ? (double)f / (double)out->n_targets : 0.0;
    }
    uint64_t *counts = jc_calloc(r->n_items, sizeof *counts);
    if (counts == NULL)
        return JC_ENOMEM;
    for (size_t k = 0; k < r->nk; k++) {
        memset(counts, 0, (size_t)r->n_items * sizeof *counts);
        size_t K = cfg->ks[k];
        double nov = 0, ild = 0;
        uint32_t n_ild = 0, distinct = 0;
        for (uint32_t e = 0; e < r->n_eval; e++) {
            size_t len = r->list_len[e] < K ? r->list_len[e] : K;
            const uint32_t *l = r->lists + (size_t)e * r->KL;
            for (size_t i = 0; i < len; i++)
                distinct += counts[l[i]]++ == 0;
            nov += r->nov[(size_t)e * r->nk + k];
            double v = r->ild[(size_t)e * r->nk + k];
            if (!isnan(v)) {
                ild += v;
                n_ild++;
            }
        }
        struct jc_eval_at *a = &out->at[k];
        a->coverage = (double)distinct / (double)r->n_items;
        int rc = jc_rank_gini(counts, r->n_items, &a->gini);
        if (rc) {
            jc_free(counts);
            return rc;
        }
        a->novelty = r->n_eval ? nov / (double)r->n_eval : 0.0;
        a->ild = n_ild ? ild / (double)n_ild : NAN;
    }
    jc_free(counts);
    return JC_OK;
}

static void run_free(struct run *r)
{
    if (r->ws)
        for (int w = 0; w < r->n_workers; w++)
            ws_free(&r->ws[w]);
    jc_free(r->ws);
    jc_free(r->users);
    jc_free(r->met);
    jc_free(r->found);
    jc_free(r->lists);
    jc_free(r->list_len);
    jc_free(r->cases);
    jc_free(r->nov);
    jc_free(r->ild);
    jc_free((void *)r->self_info);
}

int jc_eval_run(const struct jc_eval_config *cfg, const struct jc_scorer *scorer,
                const struct jc_eval_part *known, const struct jc_eval_part *target,
                struct jc_eval_result *out)
{
    int rc = check_config(cfg, scorer, known, target);
    if (rc)
        return rc;
    uint64_t t0 = jc_now_ns();
    struct run r;
    memset(&r, 0, sizeof r);
    r.cfg = cfg;
    r.sc = scorer;
    r.known = known;
    r.target = target;
    r.n_items = known->n_items;
    r.nk = cfg->n_ks;
    r.nn = cfg->mode == JC_EVAL_FULL ? cfg->n_recall_ns : 0;
    r.KL = cfg->ks[cfg->n_ks - 1];
    r.L = r.KL;
    if (r.nn && cfg->recall_ns[r.nn - 1] > r.L)
        r.L = cfg->recall_ns[r.nn - 1];
    atomic_init(&r.done, 0);
    atomic_init(&r.stop, 0);
    pthread_mutex_init(&r.mu, NULL);
    struct jc_eval_result res;
    memset(&res, 0, sizeof res);
    res.mode = cfg->mode;
    res.n_negatives = cfg->mode == JC_EVAL_SAMPLED ? cfg->n_negatives : 0;

    /* Users to evaluate, and the item popularity for novelty. */
    uint32_t nu = known->n_users;
    r.users = jc_malloc_array(nu ? nu : 1, sizeof *r.users);
    uint32_t *item_users = jc_calloc(r.n_items, sizeof *item_users);
    double *self_info = jc_malloc_array(r.n_items, sizeof *self_info);
    r.self_info = self_info;
    if (!r.users || !item_users || !self_info) {
        jc_free(item_users);
        rc = JC_ENOMEM;
        goto done;
    }
    uint32_t users_known = 0;
    for (uint32_t u = 0; u < nu; u++) {
        uint64_t nk = known->offsets[u + 1] - known->offsets[u];
        uint64_t nt = target->offsets[u + 1] - target->offsets[u];
        users_known += nk > 0;
        for (uint64_t i = known->offsets[u]; i < known->offsets[u + 1]; i++)
            item_users[known->items[i]]++;
        if (nt == 0)
            continue;
        if (nk == 0 && cfg->skip_cold) {
            res.n_cold_skipped++;
            continue;
        }
        if (nk > r.max_known)
            r.max_known = (uint32_t)nk;
        if (nt > r.max_targets)
            r.max_targets = (uint32_t)nt;
        r.users[r.n_eval++] = u;
        res.n_targets += nt;
    }
    jc_rank_self_info(item_users, r.n_items, users_known ? users_known : 1, self_info);
    jc_free(item_users);

    size_t ne = r.n_eval ? r.n_eval : 1;
    r.met = jc_calloc(ne * r.nk, sizeof *r.met);
    r.found = jc_calloc(ne * (r.nn ? r.nn : 1), sizeof *r.found);
    r.lists = jc_malloc_array(ne * r.KL, sizeof *r.lists);
    r.list_len = jc_calloc(ne, sizeof *r.list_len);
    r.cases = jc_calloc(ne, sizeof *r.cases);
    r.nov = jc_calloc(ne * r.nk, sizeof *r.nov);
    r.ild = jc_calloc(ne * r.nk, sizeof *r.ild);
    if (!r.met || !r.found || !r.lists || !r.list_len || !r.cases || !r.nov || !r.ild) {
        rc = JC_ENOMEM;
        goto done;
    }

    int threads = cfg->threads > 0 ? cfg->threads : jc_cpu_count();
    uint64_t n_tasks = (r.n_eval + CHUNK_USERS - 1) / CHUNK_USERS;
    if ((uint64_t)threads > n_tasks)
        threads = n_tasks ? (int)n_tasks : 1;
    struct jc_pool *pool = NULL;
    if ((rc = jc_pool_create(&pool, threads)))
        goto done;
    r.n_workers = jc_pool_size(pool);
    r.ws = jc_calloc((size_t)r.n_workers, sizeof *r.ws);
    if (r.ws == NULL) {
        jc_pool_destroy(pool);
        rc = JC_ENOMEM;
        goto done;
    }
    for (int w = 0; w < r.n_workers && rc == JC_OK; w++)
        rc = ws_init(&r.ws[w], r.n_items, r.max_known, r.max_targets, r.L,
                     cfg->mode == JC_EVAL_SAMPLED ? cfg->n_negatives : 0);
    if (rc == JC_OK && scorer->prepare)
        rc = scorer->prepare(scorer->self, r.n_workers);
    if (rc) {
        /* ws entries after a failed init are zeroed; ws_free handles them */
        jc_pool_destroy(pool);
        goto done;
    }
    jc_pool_run(pool, n_tasks, task, &r);
    jc_pool_destroy(pool);
    if (r.rc) {
        rc = jc_err_set(r.rc, "%s", r.msg);
        goto done;
    }
    res.n_users = 0;
    for (uint32_t e = 0; e < r.n_eval; e++)
        res.n_users += r.cases[e] > 0;
    if ((rc = reduce(&r, &res)))
        goto done;
    {
        uint32_t *kcount = jc_malloc_array(ne, sizeof *kcount);
        if (kcount == NULL) {
            rc = JC_ENOMEM;
            goto done;
        }
        for (uint32_t e = 0; e < r.n_eval; e++) {
            uint32_t u = r.users[e];
            kcount[e] = (uint32_t)(known->offsets[u + 1] - known->offsets[u]);
        }
        rc = make_segments(&r, &res, kcount);
        jc_free(kcount);
        if (rc)
            goto done;
    }
    res.seconds = (double)(jc_now_ns() - t0) * 1e-9;
    *out = res;
done:
    pthread_mutex_destroy(&r.mu);
    run_free(&r);
    return rc;
}

/* ---- metric lookup and JSON --------------------------------------------- */

int jc_eval_metric(const struct jc_eval_result *r, const char *name, double *out)
{
    const char *at = strchr(name, '@');
    if (at == NULL)
        return jc_err_set(JC_ENOTFOUND, "unknown metric '%s' (expected name@K)", name);
    size_t nl = (size_t)(at - name);
    uint32_t k;
    if (jc_parse_u32(at + 1, strlen(at + 1), &k))
        return jc_err_set(JC_ENOTFOUND, "bad cut-off in metric '%s'", name);
#define IS(s) (nl == sizeof(s) - 1 && strncmp(name, s, nl) == 0)
    if (IS("recall_hit")) {
        for (size_t j = 0; j < r->n_recall_ns; j++)
            if (r->recall_ns[j] == k) {
                *out = r->recall_hit[j];
                return JC_OK;
            }
        return jc_err_set(JC_ENOTFOUND, "metric '%s': N = %u was not computed", name, k);
    }
    for (size_t i = 0; i < r->n_ks; i++) {
        if (r->at[i].k != k)
            continue;
        const struct jc_eval_at *a = &r->at[i];
        double v;
        if (IS("precision"))
            v = a->m.precision;
        else if (IS("recall"))
            v = a->m.recall;
        else if (IS("ndcg"))
            v = a->m.ndcg;
        else if (IS("map"))
            v = a->m.map;
        else if (IS("mrr"))
            v = a->m.mrr;
        else if (IS("hit") || IS("hr"))
            v = a->m.hit;
        else if (IS("coverage"))
            v = a->coverage;
        else if (IS("gini"))
            v = a->gini;
        else if (IS("novelty"))
            v = a->novelty;
        else if (IS("ild"))
            v = a->ild;
        else
            return jc_err_set(JC_ENOTFOUND, "unknown metric '%.*s'", (int)nl, name);
        *out = v;
        return JC_OK;
    }
#undef IS
    return jc_err_set(JC_ENOTFOUND, "metric '%s': K = %u was not computed", name, k);
}

static void json_metrics(struct jc_json *j, const struct jc_rank_metrics *m, uint32_t k)
{
    char key[48];
    static const char *names[6] = {"precision", "recall", "ndcg", "map", "mrr", "hit"};
    double v[6] = {m->precision, m->recall, m->ndcg, m->map, m->mrr, m->hit};
    for (int i = 0; i < 6; i++) {
        snprintf(key, sizeof key, "%s@%u", names[i], k);
        jc_json_kv_double(j, key, v[i]);
    }
}

void jc_eval__result_json(struct jc_json *j, const struct jc_eval_result *r)
{
    jc_json_obj_begin(j);
    jc_json_kv_str(j, "mode", r->mode == JC_EVAL_SAMPLED ? "sampled" : "full");
    jc_json_kv_bool(j, "sampled", r->mode == JC_EVAL_SAMPLED);
    if (r->mode == JC_EVAL_SAMPLED)
        jc_json_kv_int(j, "negatives", r->n_negatives);
    jc_json_kv_int(j, "users", r->n_users);
    jc_json_kv_int(j, "cases", (int64_t)r->n_cases);
    jc_json_kv_int(j, "targets", (int64_t)r->n_targets);
    jc_json_kv_int(j, "cold_users_skipped", r->n_cold_skipped);
    jc_json_kv_double(j, "seconds", r->seconds);
    jc_json_key(j, "metrics");
    jc_json_obj_begin(j);
    char key[48];
    for (size_t k = 0; k < r->n_ks; k++) {
        const struct jc_eval_at *a = &r->at[k];
        json_metrics(j, &a->m, a->k);
        if (r->mode == JC_EVAL_FULL) {
            snprintf(key, sizeof key, "coverage@%u", a->k);
            jc_json_kv_double(j, key, a->coverage);
            snprintf(key, sizeof key, "gini@%u", a->k);
            jc_json_kv_double(j, key, a->gini);
            snprintf(key, sizeof key, "novelty@%u", a->k);
            jc_json_kv_double(j, key, a->novelty);
            snprintf(key, sizeof key, "ild@%u", a->k);
            jc_json_kv_double(j, key, a->ild);
        }
    }
    for (size_t i = 0; i < r->n_recall_ns; i++) {
        snprintf(key, sizeof key, "recall_hit@%u", r->recall_ns[i]);
        jc_json_kv_double(j, key, r->recall_hit[i]);
    }
    jc_json_obj_end(j);
    if (r->n_segments) {
        jc_json_key(j, "segments");
        jc_json_arr_begin(j);
        for (size_t s = 0; s < r->n_segments; s++) {
            const struct jc_eval_segment *g = &r->segments[s];
            jc_json_obj_begin(j);
            jc_json_kv_str(j, "label", g->label);
            jc_json_kv_int(j, "min_known", g->min_known);
            jc_json_kv_int(j, "max_known", g->max_known);
            jc_json_kv_int(j, "users", g->n_users);
            jc_json_key(j, "metrics");
            jc_json_obj_begin(j);
            for (size_t k = 0; k < r->n_ks; k++)
                json_metrics(j, &g->at[k], r->at[k].k);
            jc_json_obj_end(j);
            jc_json_obj_end(j);
        }
        jc_json_arr_end(j);
    }
    jc_json_obj_end(j);
}

int jc_eval_result_json(const struct jc_eval_result *r, struct jc_buf *out)
{
    struct jc_json j;
    jc_json_init(&j, out, 0);
    jc_eval__result_json(&j, r);
    return jc_json_finish(&j);
}
