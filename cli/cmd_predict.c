/*
 * cmd_predict.c - `junco predict`: score one split of the sample files with
 * a trained model (the live version of a registry name, or a model file)
 * and write "user<TAB>item<TAB>label<TAB>score" lines (catalog ids; stdout
 * or --out, written atomically), then report the CTR metrics of the scores
 * on stderr (or as JSON with --json). --synthetic N --seed S scores the
 * test split of the synthetic data set `junco train --synthetic N` used.
 */
#include "cli.h"

#include "core/alloc.h"
#include "core/buf.h"
#include "core/fileio.h"
#include "core/pool.h"
#include <junco/error.h>
#include <junco/metrics.h>
#include <junco/model.h>
#include <junco/samples.h>
#include <junco/train.h>

#include <stdio.h>
#include <string.h>

int jc_cmd_predict(struct jc_cli *cli, int argc, char **argv)
{
    const char *name = NULL, *file = NULL, *split_name = "test", *samples = NULL, *out = NULL;
    int64_t threads = 0, synthetic = 0, seed = -1;
    int json = 0, no_scores = 0;
    const struct jc_opt opts[] = {
        {"model", 'm', JC_OPT_STR, &name, "NAME", "registry name under <home>/models", NULL},
        {"file", 'f', JC_OPT_STR, &file, "PATH", "a model file instead of the registry", NULL},
        {"split", 's', JC_OPT_STR, &split_name, "SPLIT", "train, valid or test (default)", NULL},
        {"samples", 0, JC_OPT_STR, &samples, "DIR", "sample directory (default <home>/samples)",
         NULL},
        {"out", 'o', JC_OPT_STR, &out, "FILE", "write the scores here (default stdout)", NULL},
        {"no-scores", 0, JC_OPT_FLAG, &no_scores, NULL, "only report the metrics", NULL},
        {"threads", 't', JC_OPT_INT, &threads, "N", "scoring threads (default core.threads)", NULL},
        {"synthetic", 0, JC_OPT_INT, &synthetic, "N", "score the synthetic data set of N rows",
         NULL},
        {"seed", 0, JC_OPT_INT, &seed, "N", "seed of the synthetic data set (core.seed)", NULL},
        {"json", 0, JC_OPT_FLAG, &json, NULL, "print the metrics as JSON on stdout", NULL},
        {NULL, 0, 0, NULL, NULL, NULL, NULL},
    };
    int rc = jc_cli_parse(cli, "predict", "(--model NAME | --file PATH) [options]",
                          "Scores one split of the sample files with a trained model, writes\n"
                          "user, item, label and score per row (TSV), and reports AUC, GAUC,\n"
                          "logloss, PR-AUC, accuracy and calibration of the scores.",
                          opts, argc, argv, NULL, 0, NULL);
    if (rc >= 0)
        return rc;
    if (!name == !file)
        return jc_cli_usage("predict", "give exactly one of --model and --file");
    enum jc_split split;
    if (jc_split_parse(split_name, &split))
        return jc_cli_usage("predict", "unknown split '%s'", split_name);
    if (threads < 0 || threads > 256)
        return jc_cli_usage("predict", "--threads must be in [1, 256]");
    int nthreads = threads > 0                 ? (int)threads
                   : cli->cfg.core_threads > 0 ? (int)cli->cfg.core_threads
                                               : jc_cpu_count();
    if (json && !out && !no_scores)
        return jc_cli_usage("predict", "--json prints metrics on stdout: add --out or --no-scores");
    char path[4096];
    if (name) {
        char rel[256], dir[4096];
        snprintf(rel, sizeof rel, "models/%s", name);
        if ((rc = jc_cli_path(cli, rel, dir, sizeof dir)) ||
            (rc = jc_model_registry_live(dir, path, sizeof path, NULL)))
            return jc_cli_fail(rc);
    } else {
        snprintf(path, sizeof path, "%s", file);
    }
    struct jc_model *m;
    if ((rc = jc_model_load(&m, path)))
        return jc_cli_fail(rc);
    /* the rows */
    struct jc_samples *smp = NULL;
    struct jc_feat_layout sl;
    struct jc_batch sb[3];
    memset(sb, 0, sizeof sb);
    struct jc_train_source src;
    if (synthetic > 0) {
        struct jc_train_synth_opts o;
        jc_train_synth_opts_default(&o);
        o.n_train = (uint32_t)synthetic;
        o.n_valid = o.n_test = (uint32_t)(synthetic / 8 > 0 ? synthetic / 8 : 1);
        o.seed = seed >= 0 ? (uint64_t)seed : (uint64_t)cli->cfg.core_seed;
        rc = jc_train_synth(&o, &sl, &sb[0], &sb[1], &sb[2]);
        if (rc == JC_OK)
            jc_train_source_batch(&src, &sl, &sb[split]);
    } else {
        char dir[4096];
        if (samples)
            snprintf(dir, sizeof dir, "%s", samples);
        else
            rc = jc_cli_path(cli, "samples", dir, sizeof dir);
        if (rc == JC_OK)
            rc = jc_samples_open(&smp, dir, split, 0);
        if (rc == JC_OK) {
            /* the model must have been trained on these features */
            size_t ml, nl;
            const void *mb = jc_model_spec(m, &ml), *nb;
            jc_samples_spec_blob(smp, &nb, &nl);
            if (mb && (ml != nl || memcmp(mb, nb, ml) != 0))
                rc = jc_err_set(JC_EINVAL,
                                "%s: the model was trained with another feature "
                                "spec than %s (run junco train again)",
                                path, dir);
            jc_train_source_samples(&src, smp);
        }
    }
    size_t n = rc == JC_OK ? (size_t)src.n_rows : 0;
    float *s = NULL, *y = NULL;
    uint32_t *u = NULL, *items = NULL;
    if (rc == JC_OK) {
        s = jc_malloc_array(n ? n : 1, sizeof *s);
        y = jc_malloc_array(n ? n : 1, sizeof *y);
        u = jc_malloc_array(n ? n : 1, sizeof *u);
        items = jc_malloc_array(n ? n : 1, sizeof *items);
        rc = (!s || !y || !u || !items) ? JC_ENOMEM : jc_train_predict(m, &src, nthreads, s, y, u);
    }
    /* item ids: read in chunks (the prediction API returns users only) */
    if (rc == JC_OK && !no_scores) {
        struct jc_batch b;
        uint64_t idx[4096];
        if ((rc = jc_batch_init(&b, src.layout, 4096)) == JC_OK) {
            for (uint64_t r = 0; r < n && rc == JC_OK; r += 4096) {
                uint32_t k = (uint32_t)(n - r < 4096 ? n - r : 4096);
                for (uint32_t i = 0; i < k; i++)
                    idx[i] = r + i;
                rc = src.read_index(&src, idx, k, &b);
                for (uint32_t i = 0; i < k && rc == JC_OK; i++)
                    items[r + i] = b.item[i];
            }
            jc_batch_free(&b);
        }
    }
    struct jc_ctr_metrics cm;
    if (rc == JC_OK)
        rc = jc_ctr_metrics_compute(s, y, u, n, &cm);
    if (rc == JC_OK && !no_scores) {
        struct jc_buf b;
        jc_buf_init(&b, (size_t)1 << 34);
        rc = jc_buf_append_str(&b, "user\titem\tlabel\tscore\n");
        for (size_t i = 0; i < n && rc == JC_OK; i++)
            rc = jc_buf_printf(&b, "%u\t%u\t%g\t%.9g\n", u[i], items[i], y[i], s[i]);
        if (rc == JC_OK) {
            if (out)
                rc = jc_file_write_atomic(out, b.data, b.len);
            else if (fwrite(b.data, 1, b.len, stdout) != b.len)
                rc = jc_err_set(JC_EIO, "writing the scores to stdout failed");
        }
        jc_buf_free(&b);
    }
    if (rc == JC_OK) {
        if (json) {
            struct jc_buf b;
            jc_buf_init(&b, 4096);
            jc_ctr_metrics_json(&cm, &b);
            printf("%s\n", b.data);
            jc_buf_free(&b);
        } else if (!cli->quiet) {
            fprintf(stderr,
                    "%s: %s split, %zu rows: auc %.4f  gauc %.4f  logloss %.4f  pr-auc %.4f  "
                    "accuracy %.4f  calibration %.3f\n",
                    path, split_name, n, cm.auc, cm.gauc, cm.logloss, cm.pr_auc, cm.accuracy,
                    cm.calibration);
        }
    }
    jc_free(s);
    jc_free(y);
    jc_free(u);
    jc_free(items);
    if (smp)
        jc_samples_close(smp);
    for (int i = 0; i < 3; i++)
        if (sb[i].label)
            jc_batch_free(&sb[i]);
    jc_model_destroy(m);
    return rc ? jc_cli_fail(rc) : JC_EXIT_OK;
}
