/*
 * synth_ctr.c - a seeded synthetic CTR data set with known signal (see
 * jc_train_synth in junco/train.h), used by the model tests (quality floors
 * that a broken gradient cannot pass), `junco train --synthetic` and the
 * benchmarks.
 *
 * Ground truth: users and items have latent vectors (k = 8) built around
 * genre centroids; the label of (user, item, hour) is Bernoulli with
 *   logit = 2.0 u.v + 1.0 cos(v, mean of history items) + 0.4 genre match
 *           + item bias + user bias + 0.3 [evening] - 0.3
 * The first term needs a user x item interaction, the second an
 * item x history interaction: a linear model sees only the biases.
 */
#include "model_int.h"

#include "core/alloc.h"
#include <junco/error.h>
#include <junco/train.h>

#include <math.h>
#include <stdio.h>
#include <string.h>

#define SK   8
#define HIST 5
#define UG   3
#define IG   2

void jc_train_synth_opts_default(struct jc_train_synth_opts *o)
{
    memset(o, 0, sizeof *o);
    o->n_users = 300;
    o->n_items = 400;
    o->n_genres = 8;
    o->n_train = 20000;
    o->n_valid = 4000;
    o->n_test = 4000;
    o->seed = 42;
}

static void add_field(struct jc_feat_layout *l, const char *name, enum jc_feat_kind k,
                      enum jc_feat_side side, uint32_t vocab, uint32_t width)
{
    struct jc_feat_field *f = &l->fields[l->n_fields++];
    snprintf(f->name, sizeof f->name, "%s", name);
    f->kind = k;
    f->side = side;
    f->vocab = vocab;
    f->width = width;
    if (k == JC_FEAT_NUM) {
        f->offset = l->n_num;
        l->n_num += 1;
    } else {
        f->offset = l->n_cat;
        l->n_cat += width;
    }
}

static void add_vocab(struct jc_feat_layout *l, const char *name, uint32_t size)
{
    snprintf(l->vocabs[l->n_vocabs].name, JC_FEAT_NAME_MAX, "%s", name);
    l->vocabs[l->n_vocabs].size = size;
    l->n_vocabs++;
}

struct world {
    uint32_t nu, ni, ng;
    float *uv, *iv, *gc, *ub, *ib, *pop;
    uint32_t *ig;   /* [ni x IG] genre ids (0-based) */
    uint32_t *ug;   /* [nu x UG] */
    uint32_t *hist; /* [nu x HIST] item ids (0-based) */
    float *hmean;   /* [nu x SK] mean history vector */
};

static float dot(const float *a, const float *b)
{
    float s = 0;
    for (int k = 0; k < SK; k++)
        s += a[k] * b[k];
    return s;
}

static void top_genres(const float *g, uint32_t ng, const float *v, uint32_t *out, int k)
{
    for (int j = 0; j < k; j++) {
        float best = -1e30f;
        uint32_t bi = 0;
        for (uint32_t c = 0; c < ng; c++) {
            int used = 0;
            for (int q = 0; q < j; q++)
                used |= out[q] == c;
            float s = dot(g + (size_t)c * SK, v);
            if (!used && s > best) {
                best = s;
                bi = c;
            }
        }
        out[j] = bi;
    }
}

static int gen_rows(const struct world *w, const struct jc_feat_layout *l, struct jc_rng *rng,
                    uint32_t n, int64_t t0, struct jc_batch *b)
{
    int rc = jc_batch_init(b, l, n);
    if (rc)
        return rc;
    for (uint32_t r = 0; r < n; r++) {
        uint32_t u = (uint32_t)jc_rng_below(rng, w->nu);
        /* popularity-skewed items: pick the more popular of two draws */
        uint32_t i1 = (uint32_t)jc_rng_below(rng, w->ni), i2 = (uint32_t)jc_rng_below(rng, w->ni);
        uint32_t i = w->pop[i1] >= w->pop[i2] ? i1 : i2;
        uint32_t hour = (uint32_t)jc_rng_below(rng, 24);
        const float *uv = w->uv + (size_t)u * SK, *iv = w->iv + (size_t)i * SK;
        const float *hm = w->hmean + (size_t)u * SK;
        float nh = sqrtf(dot(hm, hm)) + 1e-6f, ni = sqrtf(dot(iv, iv)) + 1e-6f;
        float match = 0;
        for (int a = 0; a < IG; a++)
            for (int c = 0; c < UG; c++)
                match += w->ig[(size_t)i * IG + a] == w->ug[(size_t)u * UG + c];
        float logit = 2.0f * dot(uv, iv) + 1.0f * dot(hm, iv) / (nh * ni) + 0.4f * match +
                      w->ib[i] + w->ub[u] + (hour >= 18 ? 0.3f : 0.0f) - 0.3f;
        float p = 1.0f / (1.0f + expf(-logit));
        b->label[r] = jc_rng_float(rng) < p ? 1.0f : 0.0f;
        b->value[r] = b->label[r] ? 4.5f : 2.0f;
        b->user[r] = u;
        b->item[r] = i;
        b->time[r] = t0 + r;
        uint32_t *c = b->cat + (size_t)r * l->n_cat;
        float *x = b->num + (size_t)r * l->n_num;
        c[0] = u + 2;
        for (int h = 0; h < HIST; h++) /* recent items, some rows with a shorter history */
            c[1 + h] = (h < 2 || jc_rng_below(rng, 4) != 0) ? w->hist[(size_t)u * HIST + h] + 2 : 0;
        for (int g = 0; g < UG; g++)
            c[1 + HIST + g] = w->ug[(size_t)u * UG + g] + 2;
        c[1 + HIST + UG] = hour + 2;
        c[2 + HIST + UG] = i + 2;
        for (int g = 0; g < IG; g++)
            c[3 + HIST + UG + g] = w->ig[(size_t)i * IG + g] + 2;
        x[0] = w->ub[u] * 2.0f + (float)jc_rng_normal(rng) * 0.3f;
        x[1] = w->ib[i] * 2.0f + (float)jc_rng_normal(rng) * 0.3f;
        x[2] = w->pop[i];
    }
    b->n = n;
    return JC_OK;
}

int jc_train_synth(const struct jc_train_synth_opts *o, struct jc_feat_layout *layout,
                   struct jc_batch *train, struct jc_batch *valid, struct jc_batch *test)
{
    if (o->n_users == 0 || o->n_items < HIST || o->n_genres < UG || o->n_train == 0)
        return jc_err_set(JC_EINVAL, "synth: need users, >= %d items, >= %d genres and rows", HIST,
                          UG);
    struct jc_feat_layout l;
    memset(&l, 0, sizeof l);
    add_vocab(&l, "user", o->n_users + 2);
    add_vocab(&l, "item", o->n_items + 2);
    add_vocab(&l, "genre", o->n_genres + 2);
    add_vocab(&l, "hour", 26);
    add_field(&l, "userId", JC_FEAT_CAT, JC_SIDE_USER, 0, 1);
    add_field(&l, "userHistory", JC_FEAT_SEQ, JC_SIDE_USER, 1, HIST);
    add_field(&l, "userGenres", JC_FEAT_MULTI, JC_SIDE_USER, 2, UG);
    add_field(&l, "hour", JC_FEAT_CAT, JC_SIDE_CONTEXT, 3, 1);
    add_field(&l, "movieId", JC_FEAT_CAT, JC_SIDE_ITEM, 1, 1);
    add_field(&l, "movieGenres", JC_FEAT_MULTI, JC_SIDE_ITEM, 2, IG);
    add_field(&l, "userAvgRating", JC_FEAT_NUM, JC_SIDE_USER, 0, 1);
    add_field(&l, "movieAvgRating", JC_FEAT_NUM, JC_SIDE_ITEM, 0, 1);
    add_field(&l, "moviePopularity", JC_FEAT_NUM, JC_SIDE_ITEM, 0, 1);

    struct world w;
    memset(&w, 0, sizeof w);
    w.nu = o->n_users;
    w.ni = o->n_items;
    w.ng = o->n_genres;
    w.uv = jc_malloc_array((size_t)w.nu * SK, sizeof(float));
    w.iv = jc_malloc_array((size_t)w.ni * SK, sizeof(float));
    w.gc = jc_malloc_array((size_t)w.ng * SK, sizeof(float));
    w.ub = jc_malloc_array(w.nu, sizeof(float));
    w.ib = jc_malloc_array(w.ni, sizeof(float));
    w.pop = jc_malloc_array(w.ni, sizeof(float));
    w.ig = jc_malloc_array((size_t)w.ni * IG, sizeof(uint32_t));
    w.ug = jc_malloc_array((size_t)w.nu * UG, sizeof(uint32_t));
    w.hist = jc_malloc_array((size_t)w.nu * HIST, sizeof(uint32_t));
    w.hmean = jc_calloc((size_t)w.nu * SK, sizeof(float));
    int rc = JC_ENOMEM;
    memset(train, 0, sizeof *train);
    memset(valid, 0, sizeof *valid);
    memset(test, 0, sizeof *test);
    if (!w.uv || !w.iv || !w.gc || !w.ub || !w.ib || !w.pop || !w.ig || !w.ug || !w.hist ||
        !w.hmean)
        goto out;
    struct jc_rng rng;
    jc_rng_seed(&rng, o->seed);
    for (size_t k = 0; k < (size_t)w.ng * SK; k++)
        w.gc[k] = (float)jc_rng_normal(&rng);
    for (uint32_t i = 0; i < w.ni; i++) {
        uint32_t g = (uint32_t)jc_rng_below(&rng, w.ng);
        for (int k = 0; k < SK; k++)
            w.iv[(size_t)i * SK + k] =
                (0.5f * w.gc[(size_t)g * SK + k] + 0.5f * (float)jc_rng_normal(&rng)) / sqrtf(SK);
        w.ib[i] = (float)jc_rng_normal(&rng) * 0.5f;
        w.pop[i] = (float)jc_rng_normal(&rng);
        top_genres(w.gc, w.ng, w.iv + (size_t)i * SK, w.ig + (size_t)i * IG, IG);
    }
    for (uint32_t u = 0; u < w.nu; u++) {
        uint32_t g = (uint32_t)jc_rng_below(&rng, w.ng);
        float *uv = w.uv + (size_t)u * SK;
        for (int k = 0; k < SK; k++)
            uv[k] =
                (0.6f * w.gc[(size_t)g * SK + k] + 0.6f * (float)jc_rng_normal(&rng)) / sqrtf(SK);
        w.ub[u] = (float)jc_rng_normal(&rng) * 0.3f;
        top_genres(w.gc, w.ng, uv, w.ug + (size_t)u * UG, UG);
        /* history: the best of a few random items each */
        for (int h = 0; h < HIST; h++) {
            uint32_t bi = 0;
            float bs = -1e30f;
            for (int t = 0; t < 6; t++) {
                uint32_t i = (uint32_t)jc_rng_below(&rng, w.ni);
                float s = dot(uv, w.iv + (size_t)i * SK);
                if (s > bs) {
                    bs = s;
                    bi = i;
                }
            }
            w.hist[(size_t)u * HIST + h] = bi;
            for (int k = 0; k < SK; k++)
                w.hmean[(size_t)u * SK + k] += w.iv[(size_t)bi * SK + k] / HIST;
        }
    }
    struct jc_rng r1, r2, r3;
    jc_rng_stream(&r1, o->seed, 1);
    jc_rng_stream(&r2, o->seed, 2);
    jc_rng_stream(&r3, o->seed, 3);
    if ((rc = gen_rows(&w, &l, &r1, o->n_train, 1000000000, train)) ||
        (rc = gen_rows(&w, &l, &r2, o->n_valid ? o->n_valid : 1, 1100000000, valid)) ||
        (rc = gen_rows(&w, &l, &r3, o->n_test ? o->n_test : 1, 1200000000, test))) {
        jc_batch_free(train);
        jc_batch_free(valid);
        jc_batch_free(test);
        goto out;
    }
    *layout = l;
out:
    jc_free(w.uv);
    jc_free(w.iv);
    jc_free(w.gc);
    jc_free(w.ub);
    jc_free(w.ib);
    jc_free(w.pop);
    jc_free(w.ig);
    jc_free(w.ug);
    jc_free(w.hist);
    jc_free(w.hmean);
    return rc;
}
