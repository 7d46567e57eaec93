/*
 * models.c - the registry of evaluable model families, the built-in
 * baselines' fit functions, and the hyper-parameter search.
 *
 * Design: a model family is a name, a small discrete search space and a
 * fit function (struct jc_eval_model). The registry is a fixed array under
 * a mutex; the built-ins are registered on first use, other modules add
 * theirs with jc_eval_model_register (ials/bpr come from src/eval/mf.c,
 * which adapts the embeddings module, src/eval/mf_adapter.c). The search enumerates points of the
 * space (grid in odometer order, or distinct random points from a seeded
 * generator), fits each on the training part and scores it on the
 * validation part only; the test part is never looked at here.
 */
#include <junco/eval.h>

#include "core/alloc.h"
#include "core/rng.h"
#include "core/timeutil.h"
#include "eval/eval_int.h"
#include <junco/error.h>

#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

static struct jc_eval_model registry[JC_EVAL_MAX_MODELS];
static size_t n_registry;
static pthread_mutex_t registry_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_once_t builtin_once = PTHREAD_ONCE_INIT;

static int valid_name(const char *s)
{
    if (s == NULL || *s == '\0' || strlen(s) > 32)
        return 0;
    for (; *s; s++)
        if (!((*s >= 'a' && *s <= 'z') || (*s >= '0' && *s <= '9') || *s == '_' || *s == '-'))
            return 0;
    return 1;
}

int jc_eval__model_add(const struct jc_eval_model *m)
{
    if (!valid_name(m->name) || m->fit == NULL || m->n_params > JC_EVAL_MAX_PARAMS)
        return jc_err_set(JC_EINVAL, "eval: bad model entry '%s'", m->name ? m->name : "");
    for (size_t i = 0; i < m->n_params; i++)
        if (m->params[i].name == NULL || m->params[i].n_values == 0 ||
            m->params[i].n_values > JC_EVAL_MAX_VALUES)
            return jc_err_set(JC_EINVAL, "eval: model %s: parameter %zu has no values", m->name, i);
    pthread_mutex_lock(&registry_mu);
    int rc = JC_OK;
    for (size_t i = 0; i < n_registry; i++)
        if (strcmp(registry[i].name, m->name) == 0)
            rc = jc_err_set(JC_EEXISTS, "eval: model '%s' is already registered", m->name);
    if (rc == JC_OK && n_registry == JC_EVAL_MAX_MODELS)
        rc = jc_err_set(JC_ELIMIT, "eval: more than %d models", JC_EVAL_MAX_MODELS);
    if (rc == JC_OK)
        registry[n_registry++] = *m;
    pthread_mutex_unlock(&registry_mu);
    return rc;
}

static void builtins(void)
{
    jc_eval__builtin_models();
}

int jc_eval_model_register(const struct jc_eval_model *m)
{
    pthread_once(&builtin_once, builtins);
    return jc_eval__model_add(m);
}

const struct jc_eval_model *jc_eval_model_find(const char *name)
{
    pthread_once(&builtin_once, builtins);
    const struct jc_eval_model *r = NULL;
    pthread_mutex_lock(&registry_mu);
    for (size_t i = 0; i < n_registry && r == NULL; i++)
        if (strcmp(registry[i].name, name) == 0)
            r = &registry[i];
    pthread_mutex_unlock(&registry_mu);
    return r;
}

size_t jc_eval_model_count(void)
{
    pthread_once(&builtin_once, builtins);
    pthread_mutex_lock(&registry_mu);
    size_t n = n_registry;
    pthread_mutex_unlock(&registry_mu);
    return n;
}

const struct jc_eval_model *jc_eval_model_at(size_t i)
{
    pthread_once(&builtin_once, builtins);
    pthread_mutex_lock(&registry_mu);
    const struct jc_eval_model *r = i < n_registry ? &registry[i] : NULL;
    pthread_mutex_unlock(&registry_mu);
    return r;
}

/* ---- built-in fits ------------------------------------------------------ */

static int fit_popularity(const struct jc_eval_fit_ctx *ctx, const double *params,
                          struct jc_scorer **out)
{
    (void)params;
    return jc_scorer_popularity(out, ctx->train);
}

static int fit_itemknn(const struct jc_eval_fit_ctx *ctx, const double *params,
                       struct jc_scorer **out)
{
    struct jc_itemknn_config c;
    jc_itemknn_config_default(&c);
    if (!(params[0] >= 1 && params[0] <= 100000))
        return jc_err_set(JC_EINVAL, "itemknn: k = %g must be in [1, 100000]", params[0]);
    c.k = (uint32_t)params[0];
    c.shrink = params[1];
    c.threads = ctx->threads;
    return jc_scorer_itemknn(out, ctx->train, &c);
}

static int fit_ease(const struct jc_eval_fit_ctx *ctx, const double *params, struct jc_scorer **out)
{
    struct jc_ease_config c;
    jc_ease_config_default(&c);
    c.lambda = params[0];
    c.threads = ctx->threads;
    c.progress = ctx->progress;
    return jc_scorer_ease(out, ctx->train, &c);
}

void jc_eval__builtin_models(void)
{
    static const struct jc_eval_model pop = {"popularity",
                                             "most popular training items (same list for everyone)",
                                             0,
                                             {{0}},
                                             fit_popularity};
    static const struct jc_eval_model knn = {
        "itemknn",
        "item-based kNN, cosine with shrinkage, top-k neighbours",
        2,
        {{"k", {100, 50, 200, 400}, 4}, {"shrink", {10, 0, 50, 100}, 4}},
        fit_itemknn};
    static const struct jc_eval_model ease = {"ease",
                                              "EASE^R closed-form linear autoencoder",
                                              1,
                                              {{"lambda", {500, 100, 200, 1000, 2000, 5000}, 6}},
                                              fit_ease};
    jc_eval__model_add(&pop);
    jc_eval__model_add(&knn);
    jc_eval__model_add(&ease);
    jc_eval__register_mf();
    jc_eval__register_deep();
    jc_eval__register_pipeline();
}

/* ---- search ------------------------------------------------------------- */

void jc_search_config_default(struct jc_search_config *c)
{
    memset(c, 0, sizeof *c);
    c->strategy = JC_SEARCH_GRID;
    c->budget = 16;
    c->seed = 42;
    snprintf(c->metric, sizeof c->metric, "ndcg@10");
}

static void decode(const struct jc_eval_param *space, size_t n_params, uint64_t index, double *out)
{
    for (size_t p = n_params; p-- > 0;) {
        out[p] = space[p].values[index % space[p].n_values];
        index /= space[p].n_values;
    }
}

size_t jc_search_plan(const struct jc_eval_param *space, size_t n_params,
                      const struct jc_search_config *c, double out[][JC_EVAL_MAX_PARAMS])
{
    uint64_t total = 1;
    for (size_t p = 0; p < n_params; p++)
        total *= space[p].n_values ? space[p].n_values : 1;
    uint64_t n = total;
    if (c->budget && n > c->budget)
        n = c->budget;
    if (n > JC_EVAL_MAX_TRIALS)
        n = JC_EVAL_MAX_TRIALS;
    if (c->strategy == JC_SEARCH_GRID || n == total) {
        for (uint64_t i = 0; i < n; i++)
            decode(space, n_params, i, out[i]);
        return (size_t)n;
    }
    struct jc_rng r;
    jc_rng_seed(&r, c->seed);
    uint64_t picked[JC_EVAL_MAX_TRIALS];
    size_t k = 0;
    while (k < n) {
        uint64_t x = jc_rng_below(&r, total);
        int dup = 0;
        for (size_t j = 0; j < k && !dup; j++)
            dup = picked[j] == x;
        if (dup)
            continue;
        picked[k] = x;
        decode(space, n_params, x, out[k]);
        k++;
    }
    return k;
}

int jc_eval_search(const struct jc_eval_model *model, const struct jc_eval_param *space,
                   const struct jc_search_config *scfg, const struct jc_eval_fit_ctx *fit,
                   const struct jc_eval_config *ecfg, const struct jc_eval_part *valid,
                   struct jc_search_result *out)
{
    const struct jc_eval_param *sp = space ? space : model->params;
    double plan[JC_EVAL_MAX_TRIALS][JC_EVAL_MAX_PARAMS];
    size_t n = jc_search_plan(sp, model->n_params, scfg, plan);
    struct jc_search_result res;
    memset(&res, 0, sizeof res);
    double best = -INFINITY;
    for (size_t t = 0; t < n; t++) {
        struct jc_search_trial *tr = &res.trials[t];
        memcpy(tr->params, plan[t], sizeof tr->params);
        uint64_t t0 = jc_now_ns();
        struct jc_scorer *sc;
        int rc = model->fit(fit, plan[t], &sc);
        if (rc)
            return jc_err_prefix(rc, "%s trial %zu", model->name, t + 1);
        uint64_t t1 = jc_now_ns();
        struct jc_eval_result r;
        rc = jc_eval_run(ecfg, sc, fit->train, valid, &r);
        jc_scorer_destroy(sc);
        if (rc)
            return rc;
        if ((rc = jc_eval_metric(&r, scfg->metric, &tr->objective)))
            return rc;
        tr->fit_seconds = (double)(t1 - t0) * 1e-9;
        tr->eval_seconds = r.seconds;
        if (tr->objective > best) {
            best = tr->objective;
            res.best = t;
        }
        res.n_trials = t + 1;
    }
    *out = res;
    return JC_OK;
}
