/*
 * mf.c - matrix factorisation of the user x item positives: implicit ALS
 * and BPR. Both write user factors X (n_users x dim) and item factors Y
 * (n_items x dim), row-major with leading dimension dim, straight into the
 * embedding's arrays.
 *
 * iALS (Hu, Koren, Volinsky 2008) with the conjugate-gradient solver of
 * Takacs et al. (2011), as the `implicit` library does it: preference
 * p_ui = 1 for a positive, confidence c_ui = 1 + alpha (r = 1), 1 / 0
 * elsewhere. One sweep fixes Y and updates every user with `cg_steps` CG
 * iterations on (Y^T Y + reg I + Y^T (C_u - I) Y) x_u = Y^T C_u p_u, warm
 * started from the current x_u; then the same for items. The Gram matrix
 * Y^T Y is reduced from per-task partial sums in task order, and rows are
 * solved independently, so the result is bit-identical for any thread
 * count. The objective is reported after the last sweep.
 *
 * BPR (Rendle et al. 2009): each epoch draws nnz triples (u, i, j): (u, i)
 * a uniformly random positive, j a uniformly random item that u has no
 * positive for, and takes one SGD step on -log sigmoid(x_u . (y_i - y_j))
 * with L2 regularisation. As in `implicit`, the last component is an item
 * bias (users hold a constant 1 there). One thread (deterministic) unless
 * hogwild.
 */
#include "embed_int.h"

#include "core/alloc.h"
#include "core/pool.h"
#include <junco/error.h>

#include <math.h>
#include <stdio.h>
#include <string.h>

#define ROWS_PER_TASK 64

/* ---- iALS ------------------------------------------------------------------ */

struct als {
    const struct jc_embed_opts *o;
    const struct jc_embed__kernels *k;
    uint32_t dim;
    /* current side being solved */
    float *X;       /* rows being solved (n_rows x dim) */
    const float *Y; /* fixed side */
    uint32_t n_rows, n_fixed;
    const uint64_t *off; /* CSR of the rows' positives */
    const uint32_t *idx;
    float *G;       /* dim x dim: Y^T Y (+ reg I when solving) */
    float *partial; /* per task dim x dim (Gram) or 1 (loss) */
    double *loss_part;
    float conf; /* 1 + alpha */
};

static void gram_task(void *ctx, uint64_t task, int worker)
{
    (void)worker;
    struct als *a = ctx;
    uint32_t d = a->dim;
    float *G = a->partial + task * (size_t)d * d;
    memset(G, 0, (size_t)d * d * sizeof *G);
    uint64_t end = (task + 1) * ROWS_PER_TASK * 16;
    if (end > a->n_fixed)
        end = a->n_fixed;
    /* rows four at a time (zero rows - no positives - are skipped) */
    const float *blk[4];
    int nb = 0;
    for (uint64_t i = task * ROWS_PER_TASK * 16; i <= end; i++) {
        if (i < end) {
            const float *y = a->Y + i * d;
            int zero = 1;
            for (uint32_t f = 0; f < d && zero; f++)
                zero = y[f] == 0.0f;
            if (zero)
                continue;
            blk[nb++] = y;
            if (nb < 4)
                continue;
        }
        if (nb == 0)
            break;
        static const float zeros[JC_EMB_MAX_DIM];
        for (int q = nb; q < 4; q++)
            blk[q] = zeros;
        for (uint32_t r = 0; r < d; r++) {
            const float c[4] = {blk[0][r], blk[1][r], blk[2][r], blk[3][r]};
            a->k->axpy4(G + (size_t)r * d, c, blk[0], blk[1], blk[2], blk[3], d);
        }
        nb = 0;
    }
}

/* G = Y^T Y over the fixed side, reduced in task order. */
static void gram(struct als *a, struct jc_pool *pool)
{
    uint32_t d = a->dim;
    uint64_t n_tasks = (a->n_fixed + ROWS_PER_TASK * 16 - 1) / (ROWS_PER_TASK * 16);
    if (n_tasks == 0)
        n_tasks = 1;
    if (pool)
        jc_pool_run(pool, n_tasks, gram_task, a);
    else
        for (uint64_t t = 0; t < n_tasks; t++)
            gram_task(a, t, 0);
    memset(a->G, 0, (size_t)d * d * sizeof *a->G);
    for (uint64_t t = 0; t < n_tasks; t++) {
        const float *P = a->partial + t * (size_t)d * d;
        for (size_t q = 0; q < (size_t)d * d; q++)
            a->G[q] += P[q];
    }
}

/* out += sum over the row's positives q of (c0 + c1 * (y_q . v)) y_q, four
 * positives per pass over out. */
static void accumulate(const struct jc_embed__kernels *k, const struct als *a, float *out,
                       uint64_t b, uint64_t e, const float *v, float c0, float c1)
{
    uint32_t d = a->dim;
    uint64_t q = b;
    for (; q + 4 <= e; q += 4) {
        const float *y0 = a->Y + (size_t)a->idx[q] * d, *y1 = a->Y + (size_t)a->idx[q + 1] * d;
        const float *y2 = a->Y + (size_t)a->idx[q + 2] * d, *y3 = a->Y + (size_t)a->idx[q + 3] * d;
        const float c[4] = {c0 + c1 * k->dot(y0, v, d), c0 + c1 * k->dot(y1, v, d),
                            c0 + c1 * k->dot(y2, v, d), c0 + c1 * k->dot(y3, v, d)};
        k->axpy4(out, c, y0, y1, y2, y3, d);
    }
    for (; q < e; q++) {
        const float *y = a->Y + (size_t)a->idx[q] * d;
        k->axpy(out, c0 + c1 * k->dot(y, v, d), y, d);
    }
}

static void solve_task(void *ctx, uint64_t task, int worker)
{
    (void)worker;
    struct als *a = ctx;
    const struct jc_embed__kernels *k = a->k;
    uint32_t d = a->dim;
    float r[JC_EMB_MAX_DIM], p[JC_EMB_MAX_DIM], Ap[JC_EMB_MAX_DIM];
    float cm1 = a->conf - 1.0f;
    uint64_t end = (task + 1) * ROWS_PER_TASK;
    if (end > a->n_rows)
        end = a->n_rows;
    for (uint64_t u = task * ROWS_PER_TASK; u < end; u++) {
        float *x = a->X + u * d;
        uint64_t b = a->off[u], e = a->off[u + 1];
        if (b == e) {
            memset(x, 0, d * sizeof *x);
            continue;
        }
        /* r = b - A x = sum_i c y_i - G x - sum_i (c - 1)(y_i . x) y_i */
        k->gemv(a->G, d, d, x, d, r);
        for (uint32_t f = 0; f < d; f++)
            r[f] = -r[f];
        accumulate(k, a, r, b, e, x, a->conf, -cm1);
        memcpy(p, r, d * sizeof *p);
        float rs = k->dot(r, r, d);
        for (uint32_t it = 0; it < a->o->ials_cg_steps; it++) {
            if (rs < 1e-20f)
                break;
            k->gemv(a->G, d, d, p, d, Ap);
            accumulate(k, a, Ap, b, e, p, 0.0f, cm1);
            float pAp = k->dot(p, Ap, d);
            if (!(pAp > 0.0f))
                break;
            float alpha = rs / pAp;
            k->axpy(x, alpha, p, d);
            k->axpy(r, -alpha, Ap, d);
            float rsn = k->dot(r, r, d);
            float beta = rsn / rs;
            for (uint32_t f = 0; f < d; f++)
                p[f] = r[f] + beta * p[f];
            rs = rsn;
        }
    }
}

static void solve_side(struct als *a, struct jc_pool *pool)
{
    uint64_t n_tasks = (a->n_rows + ROWS_PER_TASK - 1) / ROWS_PER_TASK;
    if (pool)
        jc_pool_run(pool, n_tasks, solve_task, a);
    else
        for (uint64_t t = 0; t < n_tasks; t++)
            solve_task(a, t, 0);
}

/* Objective terms of a block of users: x^T G0 x + sum_obs [c (1 - s)^2 - s^2]. */
static void loss_task(void *ctx, uint64_t task, int worker)
{
    (void)worker;
    struct als *a = ctx;
    const struct jc_embed__kernels *k = a->k;
    uint32_t d = a->dim;
    float gx[JC_EMB_MAX_DIM];
    double sum = 0.0;
    uint64_t end = (task + 1) * ROWS_PER_TASK;
    if (end > a->n_rows)
        end = a->n_rows;
    for (uint64_t u = task * ROWS_PER_TASK; u < end; u++) {
        const float *x = a->X + u * d;
        k->gemv(a->G, d, d, x, d, gx);
        sum += k->dot(gx, x, d);
        for (uint64_t q = a->off[u]; q < a->off[u + 1]; q++) {
            double s = k->dot(a->Y + (size_t)a->idx[q] * d, x, d);
            sum += a->conf * (1.0 - s) * (1.0 - s) - s * s;
        }
    }
    a->loss_part[task] = sum;
}

static void init_normal(float *m, size_t n, double scale, uint64_t seed, uint64_t stream)
{
    struct jc_rng r;
    jc_rng_stream(&r, seed, stream);
    for (size_t i = 0; i < n; i++)
        m[i] = (float)(jc_rng_normal(&r) * scale);
}

int jc_embed__ials(const struct jc_embed__matrix *m, const struct jc_embed_opts *o,
                   struct jc_emb *e, double *final_loss)
{
    uint32_t d = jc_emb_dim(e);
    if (!(o->ials_alpha >= 0) || !(o->ials_reg >= 0) || o->ials_cg_steps < 1)
        return jc_err_set(JC_EINVAL, "ials: alpha %g, reg %g, cg_steps %u invalid", o->ials_alpha,
                          o->ials_reg, o->ials_cg_steps);
    float *X = jc_emb_user_vec_mut(e, 0);
    float *Y = jc_emb_item_vec_mut(e, 0);
    init_normal(X, (size_t)m->n_users * d, 0.01, o->seed, 1);
    init_normal(Y, (size_t)m->n_items * d, 0.01, o->seed, 2);
    struct als a;
    memset(&a, 0, sizeof a);
    a.o = o;
    a.k = jc_embed__kernels();
    a.dim = d;
    a.conf = (float)(1.0 + o->ials_alpha);
    uint32_t nmax = m->n_users > m->n_items ? m->n_users : m->n_items;
    uint64_t n_gram_tasks = (nmax + ROWS_PER_TASK * 16 - 1) / (ROWS_PER_TASK * 16) + 1;
    a.G = jc_malloc_array((size_t)d * d, sizeof *a.G);
    a.partial = jc_malloc_array(n_gram_tasks * d * d, sizeof *a.partial);
    a.loss_part = jc_malloc_array(m->n_users / ROWS_PER_TASK + 1, sizeof *a.loss_part);
    int threads = jc_embed__threads(o->threads);
    struct jc_pool *pool = NULL;
    int rc = JC_OK;
    if (!a.G || !a.partial || !a.loss_part)
        rc = JC_ENOMEM;
    else if (threads > 1)
        rc = jc_pool_create(&pool, threads);
    uint32_t sweeps = o->mf_epochs ? o->mf_epochs : 15;
    for (uint32_t it = 0; rc == JC_OK && it < sweeps; it++) {
        for (int side = 0; side < 2; side++) {
            a.X = side == 0 ? X : Y;
            a.Y = side == 0 ? Y : X;
            a.n_rows = side == 0 ? m->n_users : m->n_items;
            a.n_fixed = side == 0 ? m->n_items : m->n_users;
            a.off = side == 0 ? m->u_off : m->i_off;
            a.idx = side == 0 ? m->u_items : m->i_users;
            gram(&a, pool);
            for (uint32_t f = 0; f < d; f++)
                a.G[(size_t)f * d + f] += (float)o->ials_reg;
            solve_side(&a, pool);
        }
        char note[64];
        snprintf(note, sizeof note, "sweep %u/%u", it + 1, sweeps);
        if (jc_progress_report(&o->progress, "ials", it + 1, sweeps, "sweeps", note))
            rc = jc_err_set(JC_ECANCELED, "ials: training canceled");
    }
    if (rc == JC_OK && final_loss) {
        a.X = X;
        a.Y = Y;
        a.n_rows = m->n_users;
        a.n_fixed = m->n_items;
        a.off = m->u_off;
        a.idx = m->u_items;
        gram(&a, pool);
        uint64_t n_tasks = (m->n_users + ROWS_PER_TASK - 1) / ROWS_PER_TASK;
        if (pool)
            jc_pool_run(pool, n_tasks, loss_task, &a);
        else
            for (uint64_t t = 0; t < n_tasks; t++)
                loss_task(&a, t, 0);
        double loss = 0.0;
        for (uint64_t t = 0; t < n_tasks; t++)
            loss += a.loss_part[t];
        double reg = 0.0;
        for (size_t q = 0; q < (size_t)m->n_users * d; q++)
            reg += (double)X[q] * X[q];
        for (size_t q = 0; q < (size_t)m->n_items * d; q++)
            reg += (double)Y[q] * Y[q];
        *final_loss = loss + o->ials_reg * reg;
    }
    jc_pool_destroy(pool);
    jc_free(a.G);
    jc_free(a.partial);
    jc_free(a.loss_part);
    return rc;
}

/* ---- BPR -------------------------------------------------------------------- */

struct bpr {
    const struct jc_embed__matrix *m;
    const struct jc_embed_opts *o;
    uint32_t *row_of; /* nnz: user of each positive */
    float *X, *Y;
    uint32_t dim;
    uint32_t epoch;
    int n_tasks;
    double *loss_part;
    uint64_t *skipped;
};

static int has_pos(const struct jc_embed__matrix *m, uint32_t u, uint32_t j)
{
    const uint32_t *a = m->u_items + m->u_off[u];
    uint64_t lo = 0, hi = m->u_off[u + 1] - m->u_off[u];
    while (lo < hi) {
        uint64_t mid = lo + (hi - lo) / 2;
        if (a[mid] < j)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo < m->u_off[u + 1] - m->u_off[u] && a[lo] == j;
}

static void bpr_task(void *ctx, uint64_t task, int worker)
{
    (void)worker;
    struct bpr *b = ctx;
    const struct jc_embed__matrix *m = b->m;
    uint32_t d = b->dim;
    float lr = (float)b->o->bpr_lr, reg = (float)b->o->bpr_reg;
    const struct jc_embed__kernels *k = jc_embed__kernels();
    float old[JC_EMB_MAX_DIM];
    struct jc_rng r;
    jc_rng_stream(&r, b->o->seed, ((uint64_t)b->epoch << 16) + task + 3);
    uint64_t n = m->nnz / (uint64_t)b->n_tasks + (task < m->nnz % (uint64_t)b->n_tasks);
    double loss = 0.0;
    uint64_t skipped = 0;
    for (uint64_t s = 0; s < n; s++) {
        uint64_t p = jc_rng_below(&r, m->nnz);
        uint32_t u = b->row_of[p], i = m->u_items[p], j = 0;
        int tries = 0;
        do {
            j = (uint32_t)jc_rng_below(&r, m->n_items);
        } while (has_pos(m, u, j) && ++tries < 64);
        if (tries == 64) {
            skipped++;
            continue;
        }
        float *xu = b->X + (size_t)u * d, *yi = b->Y + (size_t)i * d, *yj = b->Y + (size_t)j * d;
        float x = k->dot(xu, yi, d) - k->dot(xu, yj, d);
        float z = 1.0f / (1.0f + expf(x)); /* sigmoid(-x) */
        loss += x > 0 ? log1pf(expf(-x)) : -x + log1pf(expf(x));
        /* gradient steps from the old values: x_u first (its bias slot stays
         * 1), then y_i and y_j against the saved x_u */
        float keep = 1.0f - lr * reg;
        memcpy(old, xu, d * sizeof *old);
        k->axpby(xu, keep, lr * z, yi, d - 1);
        k->axpy(xu, -lr * z, yj, d - 1);
        k->axpby(yi, keep, lr * z, old, d);
        k->axpby(yj, keep, -lr * z, old, d);
    }
    b->loss_part[task] = loss;
    b->skipped[task] = skipped;
}

int jc_embed__bpr(const struct jc_embed__matrix *m, const struct jc_embed_opts *o, struct jc_emb *e,
                  double *final_loss)
{
    uint32_t d = jc_emb_dim(e);
    if (d < 2)
        return jc_err_set(JC_EINVAL, "bpr: dim must be at least 2 (one is the item bias)");
    if (!(o->bpr_lr > 0) || !(o->bpr_reg >= 0) || !isfinite(o->bpr_lr))
        return jc_err_set(JC_EINVAL, "bpr: lr %g / reg %g invalid", o->bpr_lr, o->bpr_reg);
    if (m->nnz == 0)
        return jc_err_set(JC_EINVAL, "bpr: no positives");
    struct bpr b;
    memset(&b, 0, sizeof b);
    b.m = m;
    b.o = o;
    b.dim = d;
    b.X = jc_emb_user_vec_mut(e, 0);
    b.Y = jc_emb_item_vec_mut(e, 0);
    struct jc_rng r;
    jc_rng_stream(&r, o->seed, 1);
    for (size_t q = 0; q < (size_t)m->n_users * d; q++)
        b.X[q] = (jc_rng_float(&r) - 0.5f) / (float)d;
    for (uint32_t u = 0; u < m->n_users; u++)
        b.X[(size_t)u * d + d - 1] = 1.0f;
    jc_rng_stream(&r, o->seed, 2);
    for (size_t q = 0; q < (size_t)m->n_items * d; q++)
        b.Y[q] = (jc_rng_float(&r) - 0.5f) / (float)d;
    for (uint32_t i = 0; i < m->n_items; i++)
        b.Y[(size_t)i * d + d - 1] = 0.0f;
    int threads = o->hogwild ? jc_embed__threads(o->threads) : 1;
    b.n_tasks = threads;
    b.row_of = jc_malloc_array(m->nnz, sizeof *b.row_of);
    b.loss_part = jc_calloc((size_t)threads, sizeof *b.loss_part);
    b.skipped = jc_calloc((size_t)threads, sizeof *b.skipped);
    struct jc_pool *pool = NULL;
    int rc = JC_OK;
    if (!b.row_of || !b.loss_part || !b.skipped)
        rc = JC_ENOMEM;
    else if (threads > 1)
        rc = jc_pool_create(&pool, threads);
    if (rc == JC_OK)
        for (uint32_t u = 0; u < m->n_users; u++)
            for (uint64_t p = m->u_off[u]; p < m->u_off[u + 1]; p++)
                b.row_of[p] = u;
    uint32_t epochs = o->mf_epochs ? o->mf_epochs : 30;
    double loss = 0.0;
    for (uint32_t ep = 0; rc == JC_OK && ep < epochs; ep++) {
        b.epoch = ep;
        if (pool)
            jc_pool_run(pool, (uint64_t)threads, bpr_task, &b);
        else
            bpr_task(&b, 0, 0);
        loss = 0.0;
        uint64_t skipped = 0;
        for (int t = 0; t < threads; t++) {
            loss += b.loss_part[t];
            skipped += b.skipped[t];
        }
        loss /= (double)(m->nnz - skipped ? m->nnz - skipped : 1);
        char note[64];
        snprintf(note, sizeof note, "epoch %u/%u loss %.4f", ep + 1, epochs, loss);
        if (jc_progress_report(&o->progress, "bpr", ep + 1, epochs, "epochs", note))
            rc = jc_err_set(JC_ECANCELED, "bpr: training canceled");
    }
    if (rc == JC_OK && final_loss)
        *final_loss = loss;
    jc_pool_destroy(pool);
    jc_free(b.row_of);
    jc_free(b.loss_part);
    jc_free(b.skipped);
    return rc;
}
