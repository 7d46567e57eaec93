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
#include "core/parse.h"
#include <junco/catalog.h>
#include <junco/error.h>
#include <junco/eval.h>

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

int jc_cmd_eval(struct jc_cli *cli, int argc, char **argv)
{
    const char *protocol = NULL, *models = NULL, *ks = NULL, *recall_ns = NULL;
    const char *report = NULL, *search = NULL, *metric = NULL;
    const char *export_dir = NULL, *split_dir = NULL, *scores = NULL, *model1 = NULL;
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
    jc_cli_progress_done(cli);
    jc_catalog_close(cat);
    if (rc)
        return jc_cli_fail(rc);
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
