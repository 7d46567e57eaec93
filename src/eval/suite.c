/*
 * suite.c - the evaluation suite: protocols x models -> a report.
 *
 * For each split kind that a selected protocol needs (random, temporal,
 * loo), the split is made once. For each model the planned trials are fitted
 * on the training part and evaluated on the validation part under every
 * protocol that uses this split (loo and loo-sampled share fits). The best
 * trial per protocol gives the parameters of the final model, which is
 * refitted on train+valid (or kept, without refit) and evaluated once on
 * the test part with train+valid masked. The test part is touched exactly
 * once per (protocol, model). A model whose fit fails is recorded with its
 * error and the suite goes on; cancellation stops everything.
 */
#include <junco/eval.h>

#include "core/alloc.h"
#include "core/log.h"
#include "core/parse.h"
#include "core/timeutil.h"
#include "eval/eval_int.h"
#include <junco/catalog.h>
#include <junco/error.h>

#include <math.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

static const char *const proto_names[JC_PROTO__COUNT] = {"random", "temporal", "loo",
                                                         "loo-sampled"};
static const char *const proto_titles[JC_PROTO__COUNT] = {
    "Top-N, full ranking, per-user random 8:1:1 split",
    "Top-N, full ranking, global temporal split",
    "Top-N, full ranking, temporal leave-one-out split",
    "Top-N, SAMPLED ranking (1 held-out item + sampled negatives), temporal leave-one-out"};

const char *jc_eval_protocol_name(enum jc_eval_protocol p)
{
    return (unsigned)p < JC_PROTO__COUNT ? proto_names[p] : "?";
}

const char *jc_eval_protocol_title(enum jc_eval_protocol p)
{
    return (unsigned)p < JC_PROTO__COUNT ? proto_titles[p] : "?";
}

int jc_eval_protocol_parse(const char *s, enum jc_eval_protocol *out)
{
    for (int i = 0; i < JC_PROTO__COUNT; i++)
        if (strcmp(s, proto_names[i]) == 0) {
            *out = (enum jc_eval_protocol)i;
            return JC_OK;
        }
    return jc_err_set(JC_EINVAL, "unknown protocol '%s' (random, temporal, loo, loo-sampled, all)",
                      s);
}

void jc_eval_suite_config_default(struct jc_eval_suite_config *c)
{
    memset(c, 0, sizeof *c);
    c->protocols = (1u << JC_PROTO__COUNT) - 1;
    c->models[0] = "popularity";
    c->models[1] = "itemknn";
    c->models[2] = "ease";
    c->n_models = 3;
    jc_split_config_default(&c->split);
    jc_eval_config_default(&c->eval);
    jc_search_config_default(&c->search);
    c->refit = 1;
    c->seed = 42;
}

void jc_eval_report_destroy(struct jc_eval_report *r)
{
    if (r == NULL)
        return;
    for (size_t i = 0; i < r->n_extras; i++) {
        struct jc_eval__extra *x = &r->extras[i];
        jc_free(x->section);
        jc_free(x->svg);
        if (x->cells)
            for (size_t c = 0; c < (x->n_rows + 1) * x->n_cols; c++)
                jc_free(x->cells[c]);
        jc_free(x->cells);
    }
    jc_free(r->extras);
    jc_free(r->ctr);
    jc_free(r->protos);
    jc_free(r);
}

/* Applies "model.param=v1,v2" overrides for one model to space. */
static int apply_space(const struct jc_eval_suite_config *cfg, const struct jc_eval_model *m,
                       struct jc_eval_param *space)
{
    memcpy(space, m->params, sizeof m->params);
    if (cfg->space == NULL)
        return JC_OK;
    for (const char *const *s = cfg->space; *s; s++) {
        const char *dot = strchr(*s, '.'), *eq = strchr(*s, '=');
        if (dot == NULL || eq == NULL || eq < dot)
            return jc_err_set(JC_EINVAL, "search space '%s': expected model.param=v1,v2,...", *s);
        if ((size_t)(dot - *s) != strlen(m->name) || strncmp(*s, m->name, (size_t)(dot - *s)))
            continue;
        size_t pl = (size_t)(eq - dot - 1);
        size_t p = 0;
        while (p < m->n_params &&
               !(strlen(m->params[p].name) == pl && strncmp(m->params[p].name, dot + 1, pl) == 0))
            p++;
        if (p == m->n_params)
            return jc_err_set(JC_EINVAL, "search space '%s': model %s has no parameter '%.*s'", *s,
                              m->name, (int)pl, dot + 1);
        struct jc_eval_param *sp = &space[p];
        sp->n_values = 0;
        const char *v = eq + 1;
        while (*v) {
            const char *c = strchr(v, ',');
            size_t n = c ? (size_t)(c - v) : strlen(v);
            double x;
            if (sp->n_values == JC_EVAL_MAX_VALUES)
                return jc_err_set(JC_EINVAL, "search space '%s': more than %d values", *s,
                                  JC_EVAL_MAX_VALUES);
            if (jc_parse_f64(v, n, &x))
                return jc_err_set(JC_EINVAL, "search space '%s': '%.*s' is not a number", *s,
                                  (int)n, v);
            sp->values[sp->n_values++] = x;
            v += n + (c != NULL);
        }
        if (sp->n_values == 0)
            return jc_err_set(JC_EINVAL, "search space '%s': no values", *s);
    }
    return JC_OK;
}

/* Genre bit masks for intra-list diversity (NULL when the catalogue has none). */
static uint64_t *genre_masks(const struct jc_catalog *cat)
{
    if (jc_catalog_n_genres(cat) == 0)
        return NULL;
    uint32_t ni = jc_catalog_n_items(cat);
    uint64_t *m = jc_calloc(ni ? ni : 1, sizeof *m);
    if (m == NULL)
        return NULL;
    for (uint32_t i = 0; i < ni; i++) {
        const uint16_t *g;
        uint32_t n = jc_catalog_item_genres(cat, i, &g);
        for (uint32_t k = 0; k < n; k++)
            m[i] |= 1ull << (g[k] % 64);
    }
    return m;
}

struct ctx {
    const struct jc_catalog *cat;
    const struct jc_eval_suite_config *cfg;
    struct jc_eval_report *rep;
    uint64_t *genres;
};

static void note(const struct ctx *c, const char *stage, uint64_t done, uint64_t total,
                 const char *what)
{
    jc_progress_report(&c->cfg->progress, stage, done, total, "trials", what);
}

/* Runs every model for the protocols (1 or 2) sharing one split. */
static int run_split(struct ctx *c, enum jc_split_kind kind, const enum jc_eval_protocol *protos,
                     size_t n_protos)
{
    const struct jc_eval_suite_config *cfg = c->cfg;
    struct jc_split_config sc = cfg->split;
    sc.kind = kind;
    struct jc_split *split;
    int rc = jc_split_create(&split, c->cat, &sc);
    if (rc)
        return rc;
    struct jc_eval_part train, valid, test, trval;
    jc_split_part(split, JC_PART_TRAIN, &train);
    jc_split_part(split, JC_PART_VALID, &valid);
    jc_split_part(split, JC_PART_TEST, &test);
    jc_split_part(split, JC_PART_TRAIN_VALID, &trval);
    struct jc_eval__proto_run *pr[2];
    struct jc_eval_config ec[2];
    for (size_t p = 0; p < n_protos; p++) {
        pr[p] = &c->rep->protos[c->rep->n_protos++];
        memset(pr[p], 0, sizeof *pr[p]);
        pr[p]->proto = protos[p];
        jc_split_get_info(split, &pr[p]->split);
        ec[p] = cfg->eval;
        ec[p].mode = protos[p] == JC_PROTO_LOO_SAMPLED ? JC_EVAL_SAMPLED : JC_EVAL_FULL;
        ec[p].threads = cfg->threads;
        ec[p].seed = cfg->seed;
        ec[p].item_genres = c->genres;
        ec[p].progress.fn = NULL;
    }
    struct jc_eval_fit_ctx fit = {&train, c->cat, cfg->work_dir, cfg->threads, cfg->seed, {0}};
    char stage[96];
    for (size_t mi = 0; mi < cfg->n_models && rc != JC_ECANCELED; mi++) {
        const struct jc_eval_model *m = jc_eval_model_find(cfg->models[mi]);
        if (m == NULL) {
            rc = jc_err_set(JC_ENOTFOUND, "eval: unknown model '%s'", cfg->models[mi]);
            break;
        }
        struct jc_eval__model_run *mr[2];
        for (size_t p = 0; p < n_protos; p++) {
            mr[p] = &pr[p]->models[pr[p]->n_models++];
            memset(mr[p], 0, sizeof *mr[p]);
            mr[p]->model = m;
            mr[p]->n_params = m->n_params;
        }
        struct jc_eval_param space[JC_EVAL_MAX_PARAMS];
        if ((rc = apply_space(cfg, m, space)))
            break;
        double plan[JC_EVAL_MAX_TRIALS][JC_EVAL_MAX_PARAMS];
        size_t nt = jc_search_plan(space, m->n_params, &cfg->search, plan);
        uint64_t t_model = jc_now_ns();
        double best[2] = {-INFINITY, -INFINITY};
        int fail_rc = 0;
        /* a top-n-only scorer (the serving pipeline) cannot be ranked
         * against sampled negatives: that protocol is recorded as not
         * supported, the other one of the split goes on */
        int skip[2] = {0, 0};
        for (size_t t = 0; t < nt && !fail_rc; t++) {
            snprintf(stage, sizeof stage, "%s/%s", jc_split_kind_name(kind), m->name);
            note(c, stage, t, nt, "search");
            fit.train = &train;
            uint64_t t0 = jc_now_ns();
            struct jc_scorer *s;
            fail_rc = m->fit(&fit, plan[t], &s);
            if (fail_rc)
                break;
            double fs = (double)(jc_now_ns() - t0) * 1e-9;
            for (size_t p = 0; p < n_protos && !fail_rc; p++) {
                if (!skip[p] && ec[p].mode == JC_EVAL_SAMPLED && s->score == NULL) {
                    skip[p] = 1;
                    mr[p]->failed = JC_EINVAL;
                    snprintf(mr[p]->error, sizeof mr[p]->error,
                             "not supported: sampled ranking needs scores of arbitrary items and "
                             "%s only returns its top-n list",
                             m->name);
                }
                if (skip[p])
                    continue;
                struct jc_eval_result r;
                struct jc_search_trial *tr = &mr[p]->search.trials[t];
                memcpy(tr->params, plan[t], sizeof tr->params);
                fail_rc = jc_eval_run(&ec[p], s, &train, &valid, &r);
                if (fail_rc == JC_OK)
                    fail_rc = jc_eval_metric(&r, cfg->search.metric, &tr->objective);
                if (fail_rc)
                    break;
                tr->fit_seconds = fs;
                tr->eval_seconds = r.seconds;
                mr[p]->search.n_trials = t + 1;
                if (tr->objective > best[p]) {
                    best[p] = tr->objective;
                    mr[p]->search.best = t;
                }
            }
            jc_scorer_destroy(s);
        }
        /* Final models: one fit per distinct parameter set. */
        struct jc_scorer *final[2] = {NULL, NULL};
        double final_fit[2] = {0, 0};
        for (size_t p = 0; p < n_protos && !fail_rc; p++) {
            memcpy(mr[p]->params, plan[mr[p]->search.best], sizeof mr[p]->params);
            mr[p]->valid_objective = best[p];
            if (skip[p])
                continue;
            if (p == 1 && !skip[0] &&
                memcmp(mr[1]->params, mr[0]->params, sizeof mr[0]->params) == 0) {
                final[1] = final[0];
                final_fit[1] = final_fit[0];
                continue;
            }
            snprintf(stage, sizeof stage, "%s/%s", jc_split_kind_name(kind), m->name);
            note(c, stage, nt, nt, "final fit");
            fit.train = cfg->refit ? &trval : &train;
            uint64_t t0 = jc_now_ns();
            fail_rc = m->fit(&fit, mr[p]->params, &final[p]);
            final_fit[p] = (double)(jc_now_ns() - t0) * 1e-9;
        }
        for (size_t p = 0; p < n_protos && !fail_rc; p++) {
            mr[p]->fit_seconds = final_fit[p];
            if (!skip[p])
                fail_rc = jc_eval_run(&ec[p], final[p], &trval, &test, &mr[p]->test);
        }
        if (final[1] != final[0])
            jc_scorer_destroy(final[1]);
        jc_scorer_destroy(final[0]);
        double total = (double)(jc_now_ns() - t_model) * 1e-9;
        for (size_t p = 0; p < n_protos; p++) {
            mr[p]->total_seconds = total;
            if (fail_rc && !skip[p]) {
                mr[p]->failed = fail_rc;
                snprintf(mr[p]->error, sizeof mr[p]->error, "%s",
                         jc_errcode() == fail_rc ? jc_errmsg() : jc_strerror(fail_rc));
            }
        }
        if (fail_rc == JC_ECANCELED)
            rc = fail_rc;
        else if (fail_rc)
            JC_WARN("eval: %s on the %s split failed: %s", m->name, jc_split_kind_name(kind),
                    mr[0]->error);
    }
    jc_split_destroy(split);
    return rc;
}

int jc_eval_suite_run(const struct jc_catalog *cat, const struct jc_eval_suite_config *cfg,
                      struct jc_eval_report **out)
{
    if (cfg->n_models == 0 || cfg->n_models > JC_EVAL_MAX_MODELS)
        return jc_err_set(JC_EINVAL, "eval: %zu models (need 1..%d)", cfg->n_models,
                          JC_EVAL_MAX_MODELS);
    if ((cfg->protocols & ((1u << JC_PROTO__COUNT) - 1)) == 0)
        return jc_err_set(JC_EINVAL, "eval: no protocol selected");
    for (size_t i = 0; i < cfg->n_models; i++) {
        if (jc_eval_model_find(cfg->models[i]) == NULL)
            return jc_err_set(JC_ENOTFOUND, "eval: unknown model '%s'", cfg->models[i]);
        for (size_t j = 0; j < i; j++)
            if (strcmp(cfg->models[i], cfg->models[j]) == 0)
                return jc_err_set(JC_EINVAL, "eval: model '%s' listed twice", cfg->models[i]);
    }
    struct jc_eval_result dummy;
    memset(&dummy, 0, sizeof dummy);
    /* validate the objective name against the configured cut-offs */
    dummy.n_ks = cfg->eval.n_ks;
    for (size_t k = 0; k < cfg->eval.n_ks; k++)
        dummy.at[k].k = cfg->eval.ks[k];
    dummy.n_recall_ns = cfg->eval.n_recall_ns;
    memcpy(dummy.recall_ns, cfg->eval.recall_ns, sizeof dummy.recall_ns);
    double v;
    int rc = jc_eval_metric(&dummy, cfg->search.metric, &v);
    if (rc)
        return jc_err_prefix(rc, "eval: search objective");
    struct jc_eval_report *rep = jc_calloc(1, sizeof *rep);
    if (rep == NULL)
        return JC_ENOMEM;
    rep->protos = jc_calloc(JC_PROTO__COUNT, sizeof *rep->protos);
    if (rep->protos == NULL) {
        jc_free(rep);
        return JC_ENOMEM;
    }
    uint64_t t0 = jc_now_ns();
    rep->catalog_checksum = jc_catalog_checksum(cat);
    rep->n_users = jc_catalog_n_users(cat);
    rep->n_items = jc_catalog_n_items(cat);
    rep->n_interactions = jc_catalog_n_interactions(cat);
    rep->created = (int64_t)time(NULL);
    rep->seed = cfg->seed;
    snprintf(rep->metric, sizeof rep->metric, "%s", cfg->search.metric);
    rep->refit = cfg->refit;
    rep->strategy = cfg->search.strategy;
    rep->budget = cfg->search.budget;
    rep->eval = cfg->eval;
    rep->eval.item_genres = NULL;
    rep->eval.item_emb = NULL;
    rep->split = cfg->split;
    struct ctx c = {cat, cfg, rep, genre_masks(cat)};
    unsigned P = cfg->protocols;
    if (P & (1u << JC_PROTO_RANDOM)) {
        enum jc_eval_protocol p[1] = {JC_PROTO_RANDOM};
        rc = run_split(&c, JC_SPLIT_RANDOM, p, 1);
    }
    if (rc == JC_OK && (P & (1u << JC_PROTO_TEMPORAL))) {
        enum jc_eval_protocol p[1] = {JC_PROTO_TEMPORAL};
        rc = run_split(&c, JC_SPLIT_TEMPORAL, p, 1);
    }
    if (rc == JC_OK && (P & (3u << JC_PROTO_LOO))) {
        enum jc_eval_protocol p[2];
        size_t n = 0;
        if (P & (1u << JC_PROTO_LOO))
            p[n++] = JC_PROTO_LOO;
        if (P & (1u << JC_PROTO_LOO_SAMPLED))
            p[n++] = JC_PROTO_LOO_SAMPLED;
        rc = run_split(&c, JC_SPLIT_LOO, p, n);
    }
    jc_free(c.genres);
    if (rc) {
        jc_eval_report_destroy(rep);
        return rc;
    }
    rep->seconds = (double)(jc_now_ns() - t0) * 1e-9;
    *out = rep;
    return JC_OK;
}
