/*
 * itemknn.c - item-based k-nearest-neighbours (cosine with shrinkage).
 *
 * Fit: the training part is transposed to item -> users; for each item i
 * (items in parallel, in chunks) the co-occurrence counts c_ij with every
 * other item are accumulated through i's users, turned into
 * sim = c_ij / (sqrt(n_i n_j) + shrink) and the k best neighbours are kept
 * by (sim desc, j asc) with a bounded heap over the touched items only.
 * Each item's neighbours land in its own slot, so the model is identical
 * for any thread count. Score: a user's scores are the sums of the
 * neighbour rows of the user's training items (a copy of the training
 * CSR is kept, so the part may be freed after the fit).
 */
#include <junco/eval.h>

#include "core/alloc.h"
#include "core/pool.h"
#include <junco/error.h>

#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <string.h>

struct knn {
    uint32_t n_users, n_items, k;
    uint64_t *u_off; /* user -> training items (copy) */
    uint32_t *u_items;
    uint32_t *nb_len;  /* per item: neighbours kept (<= k) */
    uint32_t *nb_item; /* n_items x k */
    float *nb_sim;     /* n_items x k */
};

static void knn_free(void *self)
{
    struct knn *m = self;
    if (m == NULL)
        return;
    jc_free(m->u_off);
    jc_free(m->u_items);
    jc_free(m->nb_len);
    jc_free(m->nb_item);
    jc_free(m->nb_sim);
    jc_free(m);
}

static int knn_score(void *self, uint32_t user, int worker, float *buf, const float **scores)
{
    (void)worker;
    const struct knn *m = self;
    memset(buf, 0, (size_t)m->n_items * sizeof *buf);
    for (uint64_t p = m->u_off[user]; p < m->u_off[user + 1]; p++) {
        uint32_t i = m->u_items[p];
        const uint32_t *nj = m->nb_item + (size_t)i * m->k;
        const float *ns = m->nb_sim + (size_t)i * m->k;
        for (uint32_t t = 0; t < m->nb_len[i]; t++)
            buf[nj[t]] += ns[t];
    }
    *scores = buf;
    return JC_OK;
}

void jc_itemknn_config_default(struct jc_itemknn_config *c)
{
    c->k = 100;
    c->shrink = 10;
    c->threads = 0;
}

struct fit {
    struct knn *m;
    double shrink;
    const uint64_t *i_off; /* item -> users */
    const uint32_t *i_users;
    const uint32_t *n_of; /* distinct users per item */
    uint32_t **acc;       /* per worker: n_items counters */
    uint32_t **touched;   /* per worker: n_items ids */
    atomic_int failed;
};

#define CHUNK_ITEMS 32

/* (sim, item) a is worse than b */
static inline int worse(float sa, uint32_t ia, float sb, uint32_t ib)
{
    return sa < sb || (sa == sb && ia > ib);
}

static void sift(float *hs, uint32_t *hi, uint32_t n, uint32_t i)
{
    float s = hs[i];
    uint32_t it = hi[i];
    for (;;) {
        uint32_t c = 2 * i + 1;
        if (c >= n)
            break;
        if (c + 1 < n && worse(hs[c + 1], hi[c + 1], hs[c], hi[c]))
            c++;
        if (!worse(hs[c], hi[c], s, it))
            break;
        hs[i] = hs[c];
        hi[i] = hi[c];
        i = c;
    }
    hs[i] = s;
    hi[i] = it;
}

static void fit_item(struct fit *f, uint32_t i, int worker)
{
    struct knn *m = f->m;
    uint32_t *acc = f->acc[worker], *touched = f->touched[worker];
    uint32_t nt = 0;
    for (uint64_t p = f->i_off[i]; p < f->i_off[i + 1]; p++) {
        uint32_t u = f->i_users[p];
        for (uint64_t q = m->u_off[u]; q < m->u_off[u + 1]; q++) {
            uint32_t j = m->u_items[q];
            if (j == i)
                continue;
            if (acc[j]++ == 0)
                touched[nt++] = j;
        }
    }
    float *hs = m->nb_sim + (size_t)i * m->k;
    uint32_t *hi = m->nb_item + (size_t)i * m->k;
    uint32_t h = 0;
    double ni = f->n_of[i];
    for (uint32_t t = 0; t < nt; t++) {
        uint32_t j = touched[t];
        float s = (float)((double)acc[j] / (sqrt(ni * (double)f->n_of[j]) + f->shrink));
        acc[j] = 0;
        if (h < m->k) {
            hs[h] = s;
            hi[h] = j;
            h++;
            if (h == m->k)
                for (uint32_t q = h / 2; q-- > 0;)
                    sift(hs, hi, h, q);
        } else if (worse(hs[0], hi[0], s, j)) {
            hs[0] = s;
            hi[0] = j;
            sift(hs, hi, h, 0);
        }
    }
    /* order best first: sort the (small) slot by insertion */
    for (uint32_t a = 1; a < h; a++) {
        float s = hs[a];
        uint32_t it = hi[a];
        uint32_t b = a;
        while (b > 0 && worse(hs[b - 1], hi[b - 1], s, it)) {
            hs[b] = hs[b - 1];
            hi[b] = hi[b - 1];
            b--;
        }
        hs[b] = s;
        hi[b] = it;
    }
    m->nb_len[i] = h;
}

static void fit_task(void *ctx, uint64_t t, int worker)
{
    struct fit *f = ctx;
    uint32_t b = (uint32_t)(t * CHUNK_ITEMS), e = b + CHUNK_ITEMS;
    if (e > f->m->n_items)
        e = f->m->n_items;
    for (uint32_t i = b; i < e; i++)
        fit_item(f, i, worker);
}

int jc_scorer_itemknn(struct jc_scorer **out, const struct jc_eval_part *train,
                      const struct jc_itemknn_config *cfg)
{
    if (cfg->k == 0 || !(cfg->shrink >= 0))
        return jc_err_set(JC_EINVAL, "itemknn: k = %u and shrink = %g (need k > 0, shrink >= 0)",
                          cfg->k, cfg->shrink);
    uint32_t nu = train->n_users, ni = train->n_items;
    uint64_t n = train->offsets[nu];
    struct knn *m = jc_calloc(1, sizeof *m);
    if (m == NULL)
        return JC_ENOMEM;
    m->n_users = nu;
    m->n_items = ni;
    m->k = cfg->k < ni ? cfg->k : (ni ? ni : 1);
    int rc = JC_OK;
    uint64_t *i_off = jc_calloc((size_t)ni + 1, sizeof *i_off);
    uint32_t *i_users = jc_malloc_array(n ? n : 1, sizeof *i_users);
    uint32_t *n_of = jc_calloc(ni ? ni : 1, sizeof *n_of);
    m->u_off = jc_malloc_array((size_t)nu + 1, sizeof *m->u_off);
    m->u_items = jc_malloc_array(n ? n : 1, sizeof *m->u_items);
    m->nb_len = jc_calloc(ni ? ni : 1, sizeof *m->nb_len);
    m->nb_item = jc_malloc_array((size_t)(ni ? ni : 1) * m->k, sizeof *m->nb_item);
    m->nb_sim = jc_malloc_array((size_t)(ni ? ni : 1) * m->k, sizeof *m->nb_sim);
    struct fit f;
    memset(&f, 0, sizeof f);
    struct jc_pool *pool = NULL;
    if (!i_off || !i_users || !n_of || !m->u_off || !m->u_items || !m->nb_len || !m->nb_item ||
        !m->nb_sim) {
        rc = JC_ENOMEM;
        goto done;
    }
    memcpy(m->u_off, train->offsets, ((size_t)nu + 1) * sizeof *m->u_off);
    memcpy(m->u_items, train->items, n * sizeof *m->u_items);
    /* transpose (users in ascending order within each item) */
    for (uint64_t p = 0; p < n; p++)
        i_off[train->items[p] + 1]++;
    for (uint32_t i = 0; i < ni; i++) {
        n_of[i] = (uint32_t)i_off[i + 1];
        i_off[i + 1] += i_off[i];
    }
    {
        uint64_t *fill = jc_malloc_array((size_t)ni + 1, sizeof *fill);
        if (fill == NULL) {
            rc = JC_ENOMEM;
            goto done;
        }
        memcpy(fill, i_off, ((size_t)ni + 1) * sizeof *fill);
        for (uint32_t u = 0; u < nu; u++)
            for (uint64_t p = train->offsets[u]; p < train->offsets[u + 1]; p++)
                i_users[fill[train->items[p]]++] = u;
        jc_free(fill);
    }
    int threads = cfg->threads > 0 ? cfg->threads : jc_cpu_count();
    if ((rc = jc_pool_create(&pool, threads)))
        goto done;
    int nw = jc_pool_size(pool);
    f.m = m;
    f.shrink = cfg->shrink;
    f.i_off = i_off;
    f.i_users = i_users;
    f.n_of = n_of;
    f.acc = jc_calloc((size_t)nw, sizeof *f.acc);
    f.touched = jc_calloc((size_t)nw, sizeof *f.touched);
    if (!f.acc || !f.touched) {
        rc = JC_ENOMEM;
        goto done;
    }
    for (int w = 0; w < nw; w++) {
        f.acc[w] = jc_calloc(ni ? ni : 1, sizeof **f.acc);
        f.touched[w] = jc_malloc_array(ni ? ni : 1, sizeof **f.touched);
        if (!f.acc[w] || !f.touched[w]) {
            rc = JC_ENOMEM;
            goto done;
        }
    }
    jc_pool_run(pool, (ni + CHUNK_ITEMS - 1) / CHUNK_ITEMS, fit_task, &f);
    struct jc_scorer *s;
    if ((rc = jc_scorer_alloc(&s, "itemknn", nu, ni)))
        goto done;
    s->self = m;
    s->score = knn_score;
    s->destroy = knn_free;
    *out = s;
    m = NULL;
done:
    if (f.acc)
        for (int w = 0; pool && w < jc_pool_size(pool); w++)
            jc_free(f.acc[w]);
    if (f.touched)
        for (int w = 0; pool && w < jc_pool_size(pool); w++)
            jc_free(f.touched[w]);
    jc_free(f.acc);
    jc_free(f.touched);
    jc_pool_destroy(pool);
    jc_free(i_off);
    jc_free(i_users);
    jc_free(n_of);
    knn_free(m);
    return rc;
}
