/*
 * ease.c - EASE^R (Steck, "Embarrassingly Shallow Autoencoders", 2019).
 *
 * Fit: the modelled items are those with at least min_count training users
 * (dense indices 0..m-1 in item order). The Gram matrix G = X^T X is
 * accumulated from dense blocks of users' binary rows with BLAS syrk (one
 * triangle; about 64 MB per block), lambda is added to the diagonal, P = G^-1 comes from
 * linalg.c (Cholesky), and B = I - P / diag(P) is formed in place:
 * B[i][j] = -P[i][j] / P[j][j] for i != j and B[j][j] = 0.
 * Score: the user's row is the sum of the B rows of the user's modelled
 * training items (a contiguous m-float accumulation per worker), scattered
 * to catalogue ids; items outside the model score -infinity (last, ties by
 * id). Memory: one m x m float matrix.
 * With far fewer users than items (ml-latest-small: 610 x ~9000) the fit
 * uses the dual form instead (linalg.c, jc_eval__ease_dual: Woodbury
 * identity, an nu x nu inverse and one sgemm), the same B up to rounding,
 * about 10x faster than the m x m Cholesky inverse.
 */
#include <junco/eval.h>

#include "core/alloc.h"
#include "eval/eval_int.h"
#include <junco/error.h>

#include <math.h>
#include <string.h>

/* The dual (Woodbury) form is used when the training part has at most this
 * many users and at most half as many users as modelled items. */
#define JC_EASE_DUAL_MAX_USERS 8192u

struct ease {
    uint32_t n_users, n_items, m;
    uint32_t *items; /* m modelled catalogue ids */
    int32_t *index;  /* n_items: model index or -1 */
    float *b;        /* m x m */
    uint64_t *u_off; /* user -> model indices of training items */
    uint32_t *u_idx;
    float **tmp; /* per worker m floats */
    int n_workers;
};

static void ease_free(void *self)
{
    struct ease *e = self;
    if (e == NULL)
        return;
    for (int w = 0; w < e->n_workers; w++)
        jc_free(e->tmp[w]);
    jc_free(e->tmp);
    jc_free(e->items);
    jc_free(e->index);
    jc_free(e->b);
    jc_free(e->u_off);
    jc_free(e->u_idx);
    jc_free(e);
}

static int ease_prepare(void *self, int n_workers)
{
    struct ease *e = self;
    if (n_workers <= e->n_workers)
        return JC_OK;
    float **t = jc_realloc_array(e->tmp, (size_t)n_workers, sizeof *t);
    if (t == NULL)
        return JC_ENOMEM;
    e->tmp = t;
    for (int w = e->n_workers; w < n_workers; w++) {
        t[w] = jc_malloc_array(e->m ? e->m : 1, sizeof **t);
        if (t[w] == NULL) {
            e->n_workers = w;
            return JC_ENOMEM;
        }
    }
    e->n_workers = n_workers;
    return JC_OK;
}

static int ease_score(void *self, uint32_t user, int worker, float *buf, const float **scores)
{
    struct ease *e = self;
    if (worker >= e->n_workers)
        return jc_err_set(JC_ESTATE, "ease: scorer not prepared for worker %d", worker);
    float *acc = e->tmp[worker];
    uint32_t m = e->m;
    memset(acc, 0, (size_t)m * sizeof *acc);
    for (uint64_t p = e->u_off[user]; p < e->u_off[user + 1]; p++) {
        const float *row = e->b + (size_t)e->u_idx[p] * m;
        for (uint32_t j = 0; j < m; j++)
            acc[j] += row[j];
    }
    for (uint32_t i = 0; i < e->n_items; i++)
        buf[i] = -INFINITY;
    for (uint32_t j = 0; j < m; j++)
        buf[e->items[j]] = acc[j];
    *scores = buf;
    return JC_OK;
}

void jc_ease_config_default(struct jc_ease_config *c)
{
    memset(c, 0, sizeof *c);
    c->lambda = 500;
    c->min_count = 1;
    c->max_items = 20000;
}

int jc_scorer_ease(struct jc_scorer **out, const struct jc_eval_part *train,
                   const struct jc_ease_config *cfg)
{
    if (!(cfg->lambda > 0) || !isfinite(cfg->lambda))
        return jc_err_set(JC_EINVAL, "ease: lambda %g must be > 0", cfg->lambda);
    uint32_t nu = train->n_users, ni = train->n_items;
    uint64_t n = train->offsets[nu];
    struct ease *e = jc_calloc(1, sizeof *e);
    if (e == NULL)
        return JC_ENOMEM;
    e->n_users = nu;
    e->n_items = ni;
    int rc = JC_OK;
    uint32_t *cnt = jc_calloc(ni ? ni : 1, sizeof *cnt);
    e->index = jc_malloc_array(ni ? ni : 1, sizeof *e->index);
    if (!cnt || !e->index) {
        rc = JC_ENOMEM;
        goto fail;
    }
    for (uint64_t p = 0; p < n; p++)
        cnt[train->items[p]]++;
    uint32_t m = 0;
    uint32_t min_count = cfg->min_count ? cfg->min_count : 1;
    for (uint32_t i = 0; i < ni; i++)
        m += cnt[i] >= min_count;
    if (m > cfg->max_items) {
        rc = jc_err_set(JC_ELIMIT,
                        "ease: %u items have >= %u training users (max_items %u; raise "
                        "min_count or max_items)",
                        m, min_count, cfg->max_items);
        goto fail;
    }
    e->m = m;
    e->items = jc_malloc_array(m ? m : 1, sizeof *e->items);
    e->b = jc_calloc((size_t)(m ? m : 1) * (m ? m : 1), sizeof *e->b);
    e->u_off = jc_malloc_array((size_t)nu + 1, sizeof *e->u_off);
    e->u_idx = jc_malloc_array(n ? n : 1, sizeof *e->u_idx);
    if (!e->items || !e->b || !e->u_off || !e->u_idx) {
        rc = JC_ENOMEM;
        goto fail;
    }
    for (uint32_t i = 0, k = 0; i < ni; i++) {
        e->index[i] = cnt[i] >= min_count ? (int32_t)k : -1;
        if (cnt[i] >= min_count)
            e->items[k++] = i;
    }
    /* users' modelled items, sorted by model index for the Gram pass */
    uint64_t w = 0;
    for (uint32_t u = 0; u < nu; u++) {
        e->u_off[u] = w;
        for (uint64_t p = train->offsets[u]; p < train->offsets[u + 1]; p++) {
            int32_t x = e->index[train->items[p]];
            if (x >= 0)
                e->u_idx[w++] = (uint32_t)x;
        }
    }
    e->u_off[nu] = w;
    float *g = e->b;
    if (nu <= JC_EASE_DUAL_MAX_USERS && (uint64_t)nu * 2 <= m) {
        /* fewer users than items: the dual form inverts nu x nu only */
        jc_progress_report(&cfg->progress, "ease dual", 1, 2, "steps", NULL);
        if ((rc = jc_eval__ease_dual(e->u_off, e->u_idx, nu, m, cfg->lambda, g)))
            goto fail;
        goto built;
    }
    /* G = X^T X from dense blocks of users (BLAS syrk), upper triangle. */
    size_t block = ((size_t)64 << 20) / ((size_t)(m ? m : 1) * sizeof(float));
    if (block < 16)
        block = 16;
    if (block > nu)
        block = nu ? nu : 1;
    float *x = jc_malloc_array(block * (m ? m : 1), sizeof *x);
    if (x == NULL) {
        rc = JC_ENOMEM;
        goto fail;
    }
    for (uint32_t u0 = 0; u0 < nu && rc == JC_OK; u0 += (uint32_t)block) {
        uint32_t u1 = u0 + (uint32_t)block < nu ? u0 + (uint32_t)block : nu;
        memset(x, 0, (size_t)(u1 - u0) * m * sizeof *x);
        for (uint32_t u = u0; u < u1; u++)
            for (uint64_t p = e->u_off[u]; p < e->u_off[u + 1]; p++)
                x[(size_t)(u - u0) * m + e->u_idx[p]] = 1.0f;
        rc = jc_eval__gram_update(x, u1 - u0, m, g);
    }
    jc_free(x);
    if (rc)
        goto fail;
    for (uint32_t i = 0; i < m; i++)
        g[(size_t)i * m + i] += (float)cfg->lambda;
    jc_progress_report(&cfg->progress, "ease gram", 1, 3, "steps", NULL);
    if ((rc = jc_eval__spd_inverse(g, m)))
        goto fail;
    jc_progress_report(&cfg->progress, "ease inverse", 2, 3, "steps", NULL);
    float *diag = jc_malloc_array(m ? m : 1, sizeof *diag);
    if (diag == NULL) {
        rc = JC_ENOMEM;
        goto fail;
    }
    for (uint32_t j = 0; j < m; j++)
        diag[j] = g[(size_t)j * m + j];
    for (uint32_t i = 0; i < m; i++) {
        float *row = g + (size_t)i * m;
        for (uint32_t j = 0; j < m; j++)
            row[j] = i == j ? 0.0f : -row[j] / diag[j];
    }
    jc_free(diag);
built:
    jc_free(cnt);
    cnt = NULL;
    struct jc_scorer *s;
    if ((rc = jc_scorer_alloc(&s, "ease", nu, ni)))
        goto fail;
    s->self = e;
    s->prepare = ease_prepare;
    s->score = ease_score;
    s->destroy = ease_free;
    *out = s;
    return JC_OK;
fail:
    jc_free(cnt);
    ease_free(e);
    return rc;
}

int jc_scorer_ease_weights(const struct jc_scorer *s, const float **b, const uint32_t **items,
                           uint32_t *m)
{
    if (s == NULL || s->destroy != ease_free)
        return jc_err_set(JC_EINVAL, "ease: not an EASE scorer");
    const struct ease *e = s->self;
    *b = e->b;
    *items = e->items;
    *m = e->m;
    return JC_OK;
}
