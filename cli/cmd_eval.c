/*
 * cmd_eval.c - `junco eval`: offline evaluation of recommenders.
 *
 *   junco eval [--protocol P,...] [--model M,...] [--report DIR] [--json]
 *       runs the suite (every protocol x model, tuned on validation, tested
 *       once) and prints the leaderboard; writes report.html + results.json
 *       to DIR (default <home>/reports/eval).
 *   junco eval --export DIR --protocol P [--model M]
 *       writes the protocol's split (TSV + manifest with SHA-256) and, with
 *       a model, its test scores (scores.f32, default parameters, fitted on
 *       train+valid) and, for loo-sampled, the sampled negatives.
 *   junco eval --split DIR --scores FILE [--protocol P]
 *       evaluates a fixed score file against an exported split (known =
 *       train+valid, target = test) and prints the metrics as JSON: the
 *       junco side of the NumPy cross-check and of the benchmark.
 * Settings come from the [eval] section; options override them.
 */
#include "cli.h"

#include "core/alloc.h"
#include "core/buf.h"
#include "core/fileio.h"
#include "core/json.h"
#include "core/parse.h"
#include <junco/catalog.h>
#include <junco/error.h>
#include <junco/eval.h>
#include <junco/event.h>
#include <junco/model.h>
#include <junco/replay.h>
#include <junco/serve.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Parses "10,20,50" into ascending u32s. */
static int parse_u32_list(const char *s, uint32_t *out, size_t cap, size_t *n, const char *what)
{
    *n = 0;
    while (*s) {
        const char *c = strchr(s, ',');
        size_t len = c ? (size_t)(c - s) : strlen(s);
        uint32_t v;
        if (*n == cap || jc_parse_u32(s, len, &v) || v == 0 || (*n && v <= out[*n - 1]))
            return jc_cli_usage("eval", "%s must be at most %zu ascending positive integers: %s",
                                what, cap, s);
        out[(*n)++] = v;
        s += len + (c != NULL);
    }
    return 0;
}

static int parse_protocols(const char *s, unsigned *out)
{
    *out = 0;
    char buf[256];
    snprintf(buf, sizeof buf, "%s", s);
    for (char *t = buf; *t;) {
        char *c = strchr(t, ',');
        if (c)
            *c = '\0';
        if (strcmp(t, "all") == 0) {
            *out = (1u << JC_PROTO__COUNT) - 1;
        } else {
            enum jc_eval_protocol p;
            if (jc_eval_protocol_parse(t, &p))
                return jc_cli_usage("eval", "%s", jc_errmsg());
            *out |= 1u << p;
        }
        if (!c)
            break;
        t = c + 1;
    }
    return *out ? 0 : jc_cli_usage("eval", "no protocol given");
}

/* Splits a comma list into pointers into buf. */
static size_t split_list(char *buf, const char **out, size_t cap)
{
    size_t n = 0;
    char *t = buf;
    while (*t && n < cap) {
        char *c = strchr(t, ',');
        if (c)
            *c = '\0';
        if (*t)
            out[n++] = t;
        if (!c)
            break;
        t = c + 1;
    }
    return n;
}

static int eval_scores(struct jc_cli *cli, const char *split_dir, const char *scores_path,
                       const struct jc_eval_config *ec, int json)
{
    (void)cli;
    struct jc_split *split;
    int rc = jc_split_load(&split, split_dir);
    if (rc)
        return jc_cli_fail(rc);
    struct jc_scorefile *sf;
    const float *scores;
    uint32_t nu, ni;
    if ((rc = jc_scorefile_open(&sf, scores_path, &scores, &nu, &ni))) {
        jc_split_destroy(split);
        return jc_cli_fail(rc);
    }
    struct jc_eval_part known, test;
    jc_split_part(split, JC_PART_TRAIN_VALID, &known);
    jc_split_part(split, JC_PART_TEST, &test);
    struct jc_scorer *sc = NULL;
    struct jc_eval_result res;
    rc = jc_scorer_matrix(&sc, scores, nu, ni);
    if (rc == JC_OK)
        rc = jc_eval_run(ec, sc, &known, &test, &res);
    jc_scorer_destroy(sc);
    jc_scorefile_close(sf);
    jc_split_destroy(split);
    if (rc)
        return jc_cli_fail(rc);
    struct jc_buf b;
    jc_buf_init(&b, 1 << 24);
    rc = jc_eval_result_json(&res, &b);
    if (rc == JC_OK) {
        fwrite(b.data, 1, b.len, stdout);
        fputc('\n', stdout);
    }
    jc_buf_free(&b);
    if (!json)
        fprintf(stderr, "junco eval: %u users evaluated in %.3f s\n", res.n_users, res.seconds);
    return rc ? jc_cli_fail(rc) : JC_EXIT_OK;
}

static int export_protocol(struct jc_cli *cli, const char *dir, unsigned protos, const char *model,
                           const struct jc_split_config *splc, const struct jc_eval_config *ec)
{
    int n = __builtin_popcount(protos);
    if (n != 1)
        return jc_cli_usage("eval", "--export needs exactly one --protocol");
    enum jc_eval_protocol p = (enum jc_eval_protocol)__builtin_ctz(protos);
    struct jc_catalog *cat;
    int rc = jc_cli_open_catalog(cli, &cat);
    if (rc)
        return jc_cli_fail(rc);
    struct jc_split_config sc = *splc;
    sc.kind = p == JC_PROTO_RANDOM     ? JC_SPLIT_RANDOM
              : p == JC_PROTO_TEMPORAL ? JC_SPLIT_TEMPORAL
                                       : JC_SPLIT_LOO;
    struct jc_split *split = NULL;
    struct jc_scorer *s = NULL;
    float *scores = NULL;
    char path[4096];
    FILE *f = NULL;
    if ((rc = jc_split_create(&split, cat, &sc)) || (rc = jc_split_export(split, cat, dir)))
        goto done;
    struct jc_split_info info;
    jc_split_get_info(split, &info);
    fprintf(stderr, "junco eval: exported %s split (checksum %016llx) to %s\n",
            jc_split_kind_name(info.kind), (unsigned long long)info.checksum, dir);
    if (model == NULL)
        goto done;
    const struct jc_eval_model *m = jc_eval_model_find(model);
    if (m == NULL) {
        rc = jc_err_set(JC_ENOTFOUND, "unknown model '%s'", model);
        goto done;
    }
    struct jc_eval_part known, test;
    jc_split_part(split, JC_PART_TRAIN_VALID, &known);
    jc_split_part(split, JC_PART_TEST, &test);
    double params[JC_EVAL_MAX_PARAMS];
    for (size_t i = 0; i < m->n_params; i++)
        params[i] = m->params[i].values[0];
    struct jc_eval_fit_ctx fit = {
        &known, cat, NULL, (int)cli->cfg.core_threads, (uint64_t)cli->cfg.core_seed, cli->progress};
    if ((rc = m->fit(&fit, params, &s)))
        goto done;
    size_t nu = info.n_users, ni = info.n_items;
    scores = jc_malloc_array(nu * ni, sizeof *scores);
    if (scores == NULL) {
        rc = JC_ENOMEM;
        goto done;
    }
    if (s->prepare && (rc = s->prepare(s->self, 1)))
        goto done;
    for (uint32_t u = 0; u < nu && rc == JC_OK; u++) {
        const float *row;
        if (s->score == NULL) {
            rc = jc_err_set(JC_EUNSUPPORTED, "model %s has no full scores", model);
            break;
        }
        rc = s->score(s->self, u, 0, scores + (size_t)u * ni, &row);
        if (rc == JC_OK && row != scores + (size_t)u * ni)
            memcpy(scores + (size_t)u * ni, row, ni * sizeof *row);
    }
    if (rc == JC_OK && (rc = jc_path_join(path, sizeof path, dir, "scores.f32")) == JC_OK)
        rc = jc_scorefile_write(path, scores, (uint32_t)nu, (uint32_t)ni);
    if (rc || p != JC_PROTO_LOO_SAMPLED)
        goto done;
    /* The sampled negatives, so a reference ranks the same candidates. */
    if ((rc = jc_path_join(path, sizeof path, dir, "negatives.tsv")))
        goto done;
    f = fopen(path, "w");
    if (f == NULL) {
        rc = jc_err_set(JC_EIO, "%s: cannot create", path);
        goto done;
    }
    fprintf(f, "user\ttarget\tnegatives\n");
    uint32_t *negs = jc_malloc_array((size_t)ec->n_negatives * 64 + 1, sizeof *negs);
    if (negs == NULL) {
        rc = JC_ENOMEM;
        goto done;
    }
    for (uint32_t u = 0; u < nu && rc == JC_OK; u++) {
        uint64_t nt = test.offsets[u + 1] - test.offsets[u];
        if (nt == 0 || known.offsets[u + 1] == known.offsets[u] || nt > 64)
            continue;
        size_t each;
        rc = jc_eval_negatives(ec, &known, &test, u, negs, (size_t)ec->n_negatives * 64, &each);
        for (uint64_t t = 0; t < nt && rc == JC_OK; t++) {
            fprintf(f, "%u\t%u\t", u, test.items[test.offsets[u] + t]);
            for (size_t k = 0; k < each; k++)
                fprintf(f, "%s%u", k ? "," : "", negs[t * each + k]);
            fputc('\n', f);
        }
    }
    jc_free(negs);
done:
    if (f && fclose(f) != 0 && rc == JC_OK)
        rc = jc_err_set(JC_EIO, "%s: write failed", path);
    jc_free(scores);
    jc_scorer_destroy(s);
    jc_split_destroy(split);
    jc_catalog_close(cat);
    return rc ? jc_cli_fail(rc) : JC_EXIT_OK;
}

/* ---- --replay ------------------------------------------------------------ */

/* A serving configuration as a replay policy: the pipeline over the data
 * home with that junco.ini (or the built-in defaults). */
struct pipe_policy {
    struct jc_pipeline_offline *p;
    struct jc_config cfg;
    int has_cfg;
};

static int pipe_recommend(void *self, uint32_t user, int64_t time_ms, uint32_t n, uint32_t *items,
                          uint32_t *n_out)
{
    struct pipe_policy *pp = self;
    *n_out = 0;
    if (user == UINT32_MAX)
        return JC_OK; /* unknown users: nothing to compare */
    size_t got = 0;
    int64_t now = time_ms / 1000;
    int rc = jc_pipeline_offline_recommend(pp->p, user, now > 0 ? now : 1, n, items, NULL, &got);
    *n_out = (uint32_t)got;
    return rc;
}

struct replay_side {
    char name[256];
    struct jc_replay_policy pol;
    struct jc_scorer *scorer;
    struct pipe_policy *pipe;
};

static int replay_open_side(struct jc_cli *cli, const char *spec, const struct jc_catalog *cat,
                            const struct jc_eval_part *all, struct replay_side *side)
{
    memset(side, 0, sizeof *side);
    snprintf(side->name, sizeof side->name, "%s", spec);
    int rc;
    if (strncmp(spec, "model:", 6) == 0) {
        const struct jc_eval_model *m = jc_eval_model_find(spec + 6);
        if (m == NULL)
            return jc_err_set(JC_ENOTFOUND, "--replay: unknown model '%s'", spec + 6);
        double params[JC_EVAL_MAX_PARAMS];
        for (size_t i = 0; i < m->n_params; i++)
            params[i] = m->params[i].values[0];
        char work[4096];
        if ((rc = jc_cli_path(cli, "tmp", work, sizeof work)))
            return rc;
        struct jc_eval_fit_ctx fit = {
            all,          cat, work, (int)cli->cfg.core_threads, (uint64_t)cli->cfg.core_seed,
            cli->progress};
        if ((rc = m->fit(&fit, params, &side->scorer)))
            return rc;
        return jc_replay_scorer_policy(&side->pol, side->name, side->scorer, all);
    }
    /* a serving configuration: junco.ini path, or "pipeline" for the
     * defaults of the data home's own configuration */
    struct pipe_policy *pp = jc_calloc(1, sizeof *pp);
    if (pp == NULL)
        return JC_ENOMEM;
    side->pipe = pp;
    const struct jc_config *cfg = &cli->cfg;
    if (strcmp(spec, "pipeline") != 0) {
        if ((rc = jc_config_init(&pp->cfg)))
            return rc;
        pp->has_cfg = 1;
        if ((rc = jc_config_load_file(&pp->cfg, spec)))
            return rc;
        cfg = &pp->cfg;
    }
    if ((rc = jc_pipeline_offline_open(&pp->p, cli->home, cfg)))
        return rc;
    side->pol.name = side->name;
    side->pol.self = pp;
    side->pol.recommend = pipe_recommend;
    return JC_OK;
}

static void replay_close_side(struct replay_side *side)
{
    if (side->scorer)
        jc_replay_scorer_policy_free(&side->pol);
    jc_scorer_destroy(side->scorer);
    if (side->pipe) {
        jc_pipeline_offline_close(side->pipe->p);
        if (side->pipe->has_cfg)
            jc_config_free(&side->pipe->cfg);
        jc_free(side->pipe);
    }
}

static int replay_event(void *ctx, const struct jc_event *ev)
{
    return jc_replay_add(ctx, ev);
}

static int run_replay(struct jc_cli *cli, const char *specs, int64_t n, const char *random_variant,
                      int json)
{
    char buf[1024];
    snprintf(buf, sizeof buf, "%s", specs);
    const char *sp[JC_REPLAY_MAX_POLICIES];
    size_t ns = split_list(buf, sp, JC_REPLAY_MAX_POLICIES);
    if (ns < 1)
        return jc_cli_usage("eval", "--replay needs one or two configurations (A,B)");
    if (n == 0 || n > 64)
        return jc_cli_usage("eval", "--replay-n must be in [1, 64]");
    struct jc_catalog *cat;
    int rc = jc_cli_open_catalog(cli, &cat);
    if (rc)
        return jc_cli_fail(rc);
    /* every catalog interaction: what the policies know (by-user order) */
    uint32_t nu = jc_catalog_n_users(cat);
    uint64_t *off = jc_malloc_array((size_t)nu + 1, sizeof *off);
    struct jc_interactions ia;
    jc_catalog_interactions(cat, &ia);
    struct jc_eval_part all = {nu, jc_catalog_n_items(cat), off, ia.item, ia.value, ia.time};
    struct replay_side side[JC_REPLAY_MAX_POLICIES];
    size_t opened = 0;
    struct jc_replay *r = NULL;
    if (off == NULL) {
        rc = JC_ENOMEM;
        goto done;
    }
    for (uint32_t u = 0; u < nu; u++) {
        uint64_t b, e;
        jc_catalog_user_range(cat, u, &b, &e);
        off[u] = b;
        off[u + 1] = e;
    }
    for (; opened < ns && rc == JC_OK; opened++)
        rc = replay_open_side(cli, sp[opened], cat, &all, &side[opened]);
    if (rc) {
        opened++;
        goto done;
    }
    struct jc_replay_policy pol[JC_REPLAY_MAX_POLICIES];
    for (size_t i = 0; i < ns; i++)
        pol[i] = side[i].pol;
    struct jc_replay_config rcfg;
    jc_replay_config_default(&rcfg);
    if (n > 0)
        rcfg.n = (uint32_t)n;
    rcfg.random_variant = random_variant;
    if ((rc = jc_replay_create(&r, cat, pol, ns, &rcfg)))
        goto done;
    uint64_t n_events = 0;
    if ((rc = jc_cli_each_event(cli, replay_event, r, &n_events)))
        goto done;
    struct jc_replay_result res;
    if ((rc = jc_replay_result(r, &res)))
        goto done;
    if (json) {
        struct jc_buf jb;
        jc_buf_init(&jb, 1 << 20);
        struct jc_json j;
        jc_json_init(&j, &jb, 0);
        jc_json_obj_begin(&j);
        jc_json_kv_int(&j, "events", (int64_t)n_events);
        jc_json_kv_int(&j, "exposures", (int64_t)res.exposures);
        jc_json_kv_int(&j, "used", (int64_t)res.used);
        jc_json_kv_int(&j, "clicks", (int64_t)res.clicks);
        jc_json_kv_bool(&j, "randomised", res.randomised);
        jc_json_kv_str(&j, "estimator",
                       res.randomised ? "rejection-sampling replay (self-normalised IPS)"
                                      : "matched impressions (NOT randomised: biased)");
        jc_json_kv_double(&j, "logged_ctr", res.logged_ctr);
        jc_json_kv_int(&j, "n", rcfg.n);
        jc_json_key(&j, "policies");
        jc_json_arr_begin(&j);
        for (size_t i = 0; i < res.n_policies; i++) {
            const struct jc_replay_policy_result *x = &res.policy[i];
            jc_json_obj_begin(&j);
            jc_json_kv_str(&j, "name", x->name);
            jc_json_kv_int(&j, "matched", (int64_t)x->matched);
            jc_json_kv_int(&j, "clicks", (int64_t)x->clicks);
            jc_json_kv_double(&j, "ctr", x->ctr); /* NaN -> null */
            jc_json_kv_double(&j, "ci_low", x->ci_low);
            jc_json_kv_double(&j, "ci_high", x->ci_high);
            jc_json_kv_double(&j, "ess", x->ess);
            jc_json_obj_end(&j);
        }
        jc_json_arr_end(&j);
        jc_json_obj_end(&j);
        rc = jc_json_finish(&j);
        if (rc == JC_OK) {
            fwrite(jb.data, 1, jb.len, stdout);
            fputc('\n', stdout);
        }
        jc_buf_free(&jb);
    } else {
        printf("replay of %zu configuration(s) on %llu events: %llu exposures (%llu used), "
               "%llu clicks, logged CTR %.5f, lists of %u\n",
               res.n_policies, (unsigned long long)n_events, (unsigned long long)res.exposures,
               (unsigned long long)res.used, (unsigned long long)res.clicks, res.logged_ctr,
               rcfg.n);
        if (res.randomised)
            printf("the log is randomised (propensities%s): rejection-sampling replay (Li et al. "
                   "2011), self-normalised by 1/propensity%s\n",
                   random_variant ? " or the uniform-random variant" : "",
                   res.no_propensity ? "; exposures without a propensity skipped" : "");
        else
            printf("WARNING: the log is NOT randomised (no exposure carries a propensity%s): "
                   "only the matched-impression estimate is given, which is biased towards what "
                   "the logging policy chose to show; do not read it as an unbiased CTR\n",
                   random_variant ? " and no exposure is in the random variant" : "");
        printf("%-32s %10s %8s %9s  %-21s %10s\n", "configuration", "matched", "clicks", "CTR",
               "95% CI", "eff. n");
        for (size_t i = 0; i < res.n_policies; i++) {
            const struct jc_replay_policy_result *x = &res.policy[i];
            if (x->matched == 0)
                printf("%-32.32s %10s %8s %9s  (no logged exposure matches its lists)\n", x->name,
                       "0", "0", "n/a");
            else
                printf("%-32.32s %10llu %8llu %9.5f  [%.5f, %.5f] %10.0f\n", x->name,
                       (unsigned long long)x->matched, (unsigned long long)x->clicks, x->ctr,
                       x->ci_low, x->ci_high, x->ess);
        }
        if (res.n_policies == 2 && res.policy[0].matched && res.policy[1].matched &&
            res.policy[0].ctr > 0)
            printf("relative difference B vs A: %+.2f%%\n",
                   100 * (res.policy[1].ctr - res.policy[0].ctr) / res.policy[0].ctr);
    }
done:
    jc_replay_destroy(r);
    for (size_t i = 0; i < opened && i < ns; i++)
        replay_close_side(&side[i]);
    jc_free(off);
    jc_catalog_close(cat);
    return rc ? jc_cli_fail(rc) : JC_EXIT_OK;
}

int jc_cmd_eval(struct jc_cli *cli, int argc, char **argv)
{
    const char *protocol = NULL, *models = NULL, *ks = NULL, *recall_ns = NULL;
    const char *report = NULL, *search = NULL, *metric = NULL;
    const char *export_dir = NULL, *split_dir = NULL, *scores = NULL, *model1 = NULL;
    const char *ctr = NULL, *replay = NULL, *replay_random = NULL;
    int64_t replay_n = -1;
    int64_t ctr_epochs = -1;
    int64_t negatives = -1, budget = -1, threads = -1, seed = -1;
    int json = 0, no_refit = 0, no_report = 0;
    struct jc_opt_list space = {{0}, 0};
    const struct jc_opt opts[] = {
        {"protocol", 'p', JC_OPT_STR, &protocol, "LIST",
         "random, temporal, loo, loo-sampled or all (default eval.protocols)", NULL},
        {"model", 'm', JC_OPT_STR, &models, "LIST",
         "models in leaderboard order (default eval.models)", NULL},
        {"k", 'k', JC_OPT_STR, &ks, "LIST", "cut-offs K (default eval.ks: 10,20,50)", NULL},
        {"recall-n", 0, JC_OPT_STR, &recall_ns, "LIST",
         "recall-layer cut-offs N (default eval.recall_ns)", NULL},
        {"negatives", 0, JC_OPT_INT, &negatives, "N",
         "sampled protocol: negatives per held-out item (default 99)", NULL},
        {"search", 0, JC_OPT_STR, &search, "grid|random", "search strategy (default grid)", NULL},
        {"budget", 0, JC_OPT_INT, &budget, "N", "most trials per model (default 16)", NULL},
        {"metric", 0, JC_OPT_STR, &metric, "NAME", "search objective (default ndcg@10)", NULL},
        {"space", 0, JC_OPT_LIST, &space, "MODEL.PARAM=V1,V2",
         "override a search space (repeatable)", NULL},
        {"no-refit", 0, JC_OPT_FLAG, &no_refit, NULL,
         "test the model fitted on train (no refit on train+valid)", NULL},
        {"report", 'o', JC_OPT_STR, &report, "DIR",
         "write report.html + results.json here (default <home>/reports/eval)", NULL},
        {"no-report", 0, JC_OPT_FLAG, &no_report, NULL, "do not write the report files", NULL},
        {"json", 0, JC_OPT_FLAG, &json, NULL, "print results.json to stdout", NULL},
        {"threads", 't', JC_OPT_INT, &threads, "N", "worker threads (default core.threads)", NULL},
        {"seed", 0, JC_OPT_INT, &seed, "S", "seed (default core.seed)", NULL},
        {"ctr", 0, JC_OPT_STR, &ctr, "LIST",
         "CTR protocol (AUC/GAUC/logloss, temporal split) for these ranking models; 'none' to "
         "skip (default: the ranking models among --model)",
         NULL},
        {"ctr-epochs", 0, JC_OPT_INT, &ctr_epochs, "N",
         "CTR protocol: most epochs, early stopping on valid (default 3)", NULL},
        {"replay", 0, JC_OPT_STR, &replay, "A,B",
         "replay configurations on the logged exposures/clicks: junco.ini paths (the serving "
         "pipeline with that config), 'pipeline' (this home's config) or model:NAME",
         NULL},
        {"replay-n", 0, JC_OPT_INT, &replay_n, "N", "replay: list length per request (default 10)",
         NULL},
        {"replay-random-variant", 0, JC_OPT_STR, &replay_random, "VARIANT",
         "replay: exposures of this variant were uniform-random over the catalogue", NULL},
        {"export", 0, JC_OPT_STR, &export_dir, "DIR",
         "export one protocol's split (and --model's scores) for reference evaluators", NULL},
        {"split", 0, JC_OPT_STR, &split_dir, "DIR", "an exported split (with --scores)", NULL},
        {"scores", 0, JC_OPT_STR, &scores, "FILE",
         "evaluate this score file on --split and print the metrics as JSON", NULL},
        {NULL, 0, 0, NULL, NULL, NULL, NULL},
    };
    int rc = jc_cli_parse(
        cli, "eval", "[options]",
        "Evaluates recommenders under the top-N protocols and prints the leaderboard:\n"
        "  random       full ranking, per-user random 8:1:1 split\n"
        "  temporal     full ranking, global temporal split\n"
        "  loo          full ranking, temporal leave-one-out\n"
        "  loo-sampled  SAMPLED ranking: held-out item vs 99 sampled negatives (NCF protocol)\n"
        "Every model is tuned on the validation part (seeded, budgeted grid or random search)\n"
        "and tested once. Models: popularity, itemknn, ease, ials, bpr (and registered ones).\n"
        "With --export / --split --scores it exchanges fixed splits and score files with\n"
        "reference evaluators (tests/python/ref_eval.py).",
        opts, argc, argv, NULL, 0, NULL);
    if (rc >= 0)
        return rc;
    const struct jc_config *c = &cli->cfg;
    struct jc_eval_suite_config sc;
    jc_eval_suite_config_default(&sc);
    if (parse_protocols(protocol ? protocol : c->eval_protocols, &sc.protocols))
        return JC_EXIT_USAGE;
    if (parse_u32_list(ks ? ks : c->eval_ks, sc.eval.ks, JC_EVAL_MAX_K, &sc.eval.n_ks, "--k") ||
        parse_u32_list(recall_ns ? recall_ns : c->eval_recall_ns, sc.eval.recall_ns, JC_EVAL_MAX_K,
                       &sc.eval.n_recall_ns, "--recall-n"))
        return JC_EXIT_USAGE;
    if (sc.eval.n_ks == 0)
        return jc_cli_usage("eval", "--k needs at least one cut-off");
    if (negatives == 0 || negatives > 100000)
        return jc_cli_usage("eval", "--negatives must be in [1, 100000]");
    sc.eval.n_negatives = (uint32_t)(negatives > 0 ? negatives : c->eval_negatives);
    sc.eval.skip_cold = c->eval_skip_cold;
    sc.eval.n_segments = (uint32_t)c->eval_segments;
    const char *strat = search ? search : c->eval_search;
    if (strcmp(strat, "grid") == 0)
        sc.search.strategy = JC_SEARCH_GRID;
    else if (strcmp(strat, "random") == 0)
        sc.search.strategy = JC_SEARCH_RANDOM;
    else
        return jc_cli_usage("eval", "--search must be grid or random");
    if (budget == 0 || budget > JC_EVAL_MAX_TRIALS)
        return jc_cli_usage("eval", "--budget must be in [1, %d]", JC_EVAL_MAX_TRIALS);
    sc.search.budget = (uint32_t)(budget > 0 ? budget : c->eval_budget);
    snprintf(sc.search.metric, sizeof sc.search.metric, "%s", metric ? metric : c->eval_metric);
    if (threads < -1 || threads > 1024)
        return jc_cli_usage("eval", "--threads must be in [0, 1024]");
    sc.threads = (int)(threads >= 0 ? threads : c->core_threads);
    sc.seed = (uint64_t)(seed >= 0 ? seed : c->core_seed);
    sc.search.seed = sc.seed;
    sc.split.seed = sc.seed;
    sc.split.valid_frac = c->eval_valid_frac;
    sc.split.test_frac = c->eval_test_frac;
    sc.split.min_value = c->eval_min_value <= -1e300 ? -INFINITY : c->eval_min_value;
    sc.eval.seed = sc.seed;
    sc.eval.threads = sc.threads;
    sc.refit = no_refit ? 0 : c->eval_refit;
    const char *space_v[JC_OPT_LIST_MAX + 1];
    for (int i = 0; i < space.n; i++)
        space_v[i] = space.v[i];
    space_v[space.n] = NULL;
    sc.space = space.n ? space_v : NULL;

    if (replay)
        return run_replay(cli, replay, replay_n, replay_random, json);
    if (scores || split_dir) {
        if (!scores || !split_dir)
            return jc_cli_usage("eval", "--scores and --split go together");
        if (protocol && strcmp(protocol, "loo-sampled") == 0)
            sc.eval.mode = JC_EVAL_SAMPLED;
        return eval_scores(cli, split_dir, scores, &sc.eval, json);
    }
    char model_buf[512];
    snprintf(model_buf, sizeof model_buf, "%s", models ? models : c->eval_models);
    sc.n_models = split_list(model_buf, sc.models, JC_EVAL_MAX_MODELS);
    if (sc.n_models == 0)
        return jc_cli_usage("eval", "no model given");
    if (export_dir) {
        model1 = models ? sc.models[0] : NULL;
        return export_protocol(cli, export_dir, sc.protocols, model1, &sc.split, &sc.eval);
    }

    struct jc_catalog *cat;
    if ((rc = jc_cli_open_catalog(cli, &cat)))
        return jc_cli_fail(rc);
    char work[4096];
    if ((rc = jc_cli_path(cli, "tmp", work, sizeof work)) == JC_OK)
        sc.work_dir = work;
    sc.progress = cli->progress;
    struct jc_eval_report *rep = NULL;
    rc = jc_eval_suite_run(cat, &sc, &rep);
    /* the CTR protocol for the ranking models */
    struct jc_eval_ctr_config cc;
    jc_eval_ctr_config_default(&cc);
    char ctr_buf[512] = "";
    if (ctr && strcmp(ctr, "none") != 0) {
        snprintf(ctr_buf, sizeof ctr_buf, "%s", ctr);
        cc.n_models = split_list(ctr_buf, cc.models, JC_EVAL_MAX_MODELS);
    } else if (!ctr) {
        for (size_t i = 0; i < sc.n_models; i++) {
            enum jc_model_kind k;
            if (jc_model_kind_parse(sc.models[i], &k) == 0)
                cc.models[cc.n_models++] = sc.models[i];
        }
    }
    if (rc == JC_OK && cc.n_models) {
        if (ctr_epochs == 0 || ctr_epochs > 1000) {
            jc_eval_report_destroy(rep);
            jc_catalog_close(cat);
            return jc_cli_usage("eval", "--ctr-epochs must be in [1, 1000]");
        }
        if (ctr_epochs > 0)
            cc.epochs = (uint32_t)ctr_epochs;
        cc.valid_frac = sc.split.valid_frac;
        cc.test_frac = sc.split.test_frac;
        cc.work_dir = sc.work_dir;
        cc.threads = sc.threads;
        cc.seed = sc.seed;
        cc.progress = cli->progress;
        struct jc_eval_ctr_result res[JC_EVAL_MAX_MODELS];
        rc = jc_eval_ctr_run(cat, &cc, res);
        if (rc == JC_OK)
            rc = jc_eval_report_add_ctr(rep, res, cc.n_models);
    }
    jc_cli_progress_done(cli);
    jc_catalog_close(cat);
    if (rc) {
        jc_eval_report_destroy(rep);
        return jc_cli_fail(rc);
    }
    struct jc_buf b;
    jc_buf_init(&b, (size_t)1 << 30);
    rc = json ? jc_eval_report_json(rep, &b) : jc_eval_report_text(rep, &b);
    if (rc == JC_OK)
        fwrite(b.data, 1, b.len, stdout);
    jc_buf_free(&b);
    char dir[4096];
    if (rc == JC_OK && !no_report) {
        if (report)
            snprintf(dir, sizeof dir, "%s", report);
        else
            rc = jc_cli_path(cli, "reports/eval", dir, sizeof dir);
        if (rc == JC_OK)
            rc = jc_eval_report_write(rep, dir);
        if (rc == JC_OK && !cli->quiet)
            fprintf(stderr, "junco eval: report written to %s/report.html\n", dir);
    }
    jc_eval_report_destroy(rep);
    return rc ? jc_cli_fail(rc) : JC_EXIT_OK;
}
