/*
 * cmd_train.c - `junco train --model NAME [options]`: train a ranking model
 * on <home>/samples (train/valid/test from `junco features`), report
 * validation metrics per epoch and the final test metrics, write ROC/PR
 * curves under <home>/reports/, and publish the model as the next version
 * under <home>/models/<name>/ (the LIVE registry file names it).
 *
 * Settings come from the [train] section of junco.ini, overridden by the
 * options; zero/empty values fall back to the per-model defaults of
 * jc_train_config_default (docs/MODELS.md). --synthetic N trains on the
 * seeded synthetic data set of junco/train.h instead of sample files.
 */
#include "cli.h"

#include "core/buf.h"
#include "core/fileio.h"
#include "core/json.h"
#include "core/parse.h"
#include "core/pool.h"
#include "core/alloc.h"
#include <junco/error.h>
#include <junco/metrics.h>
#include <junco/model.h>
#include <junco/samples.h>
#include <junco/train.h>

#include <math.h>
#include <stdio.h>
#include <string.h>

/* "256,128" -> widths. Returns 0 or -1. */
static int parse_hidden(const char *s, struct jc_model_config *c)
{
    uint32_t n = 0;
    const char *p = s;
    while (*p) {
        const char *e = strchr(p, ',');
        size_t len = e ? (size_t)(e - p) : strlen(p);
        uint32_t v;
        if (n >= JC_MODEL_MAX_HIDDEN || jc_parse_u32(p, len, &v) || v == 0 || v > 65536)
            return -1;
        c->hidden[n++] = v;
        p += len + (e != NULL);
        if (e && *p == '\0')
            return -1;
    }
    c->n_hidden = n;
    return 0;
}

static int valid_name(const char *s)
{
    if (*s == '\0' || strlen(s) > 64)
        return 0;
    for (; *s; s++)
        if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || (*s >= '0' && *s <= '9') ||
              *s == '-' || *s == '_' || *s == '.'))
            return 0;
    return 1;
}

/* Training data: sample files or the synthetic set. */
struct data {
    struct jc_samples *s[3];
    struct jc_batch b[3];
    struct jc_feat_layout layout;
    int synthetic;
    struct jc_train_source src[3];
};

static void data_close(struct data *d)
{
    for (int i = 0; i < 3; i++) {
        if (d->s[i])
            jc_samples_close(d->s[i]);
        if (d->synthetic)
            jc_batch_free(&d->b[i]);
    }
}

static int data_open(struct jc_cli *cli, const char *samples_dir, int64_t synthetic, uint64_t seed,
                     struct data *d)
{
    memset(d, 0, sizeof *d);
    int rc;
    if (synthetic > 0) {
        struct jc_train_synth_opts o;
        jc_train_synth_opts_default(&o);
        o.n_train = (uint32_t)synthetic;
        o.n_valid = o.n_test = (uint32_t)(synthetic / 8 > 0 ? synthetic / 8 : 1);
        o.seed = seed;
        if ((rc = jc_train_synth(&o, &d->layout, &d->b[0], &d->b[1], &d->b[2])))
            return rc;
        d->synthetic = 1;
        for (int i = 0; i < 3; i++)
            jc_train_source_batch(&d->src[i], &d->layout, &d->b[i]);
        return JC_OK;
    }
    char dir[4096];
    if (samples_dir)
        snprintf(dir, sizeof dir, "%s", samples_dir);
    else if ((rc = jc_cli_path(cli, "samples", dir, sizeof dir)))
        return rc;
    for (int i = 0; i < 3; i++) {
        rc = jc_samples_open(&d->s[i], dir, (enum jc_split)i, 0);
        if (rc) {
            data_close(d);
            return rc;
        }
        jc_train_source_samples(&d->src[i], d->s[i]);
    }
    return JC_OK;
}

static void print_metrics_line(const char *what, const struct jc_ctr_metrics *m)
{
    printf("%-5s auc %.4f  gauc %.4f  logloss %.4f  pr-auc %.4f  accuracy %.4f  calibration "
           "%.3f  (%llu rows)\n",
           what, m->auc, m->gauc, m->logloss, m->pr_auc, m->accuracy, m->calibration,
           (unsigned long long)m->n);
}

static int write_curves(struct jc_cli *cli, const struct jc_model *m, struct data *d,
                        const char *name, int threads, char *roc_svg, size_t cap)
{
    const struct jc_train_source *te = &d->src[2];
    size_t n = (size_t)te->n_rows;
    float *s = jc_malloc_array(n ? n : 1, sizeof *s), *y = jc_malloc_array(n ? n : 1, sizeof *y);
    int rc = (!s || !y) ? JC_ENOMEM : jc_train_predict(m, te, threads, s, y, NULL);
    char dir[4096], path[4096], file[160];
    if (rc == JC_OK)
        rc = jc_cli_ensure_home(cli, "reports");
    if (rc == JC_OK)
        rc = jc_cli_path(cli, "reports", dir, sizeof dir);
    struct jc_buf b;
    jc_buf_init(&b, (size_t)1 << 30);
    if (rc == JC_OK) {
        snprintf(file, sizeof file, "%s-roc.csv", name);
        if ((rc = jc_ctr_roc_csv(s, y, n, &b)) == JC_OK &&
            (rc = jc_path_join(path, sizeof path, dir, file)) == JC_OK)
            rc = jc_file_write_atomic(path, b.data, b.len);
    }
    if (rc == JC_OK) {
        jc_buf_reset(&b);
        snprintf(file, sizeof file, "%s-pr.csv", name);
        if ((rc = jc_ctr_pr_csv(s, y, n, &b)) == JC_OK &&
            (rc = jc_path_join(path, sizeof path, dir, file)) == JC_OK)
            rc = jc_file_write_atomic(path, b.data, b.len);
    }
    if (rc == JC_OK) {
        char pr[4096];
        snprintf(file, sizeof file, "%s-roc.svg", name);
        jc_path_join(roc_svg, cap, dir, file);
        snprintf(file, sizeof file, "%s-pr.svg", name);
        jc_path_join(pr, sizeof pr, dir, file);
        rc = jc_ctr_curves_svg(s, y, n, name, roc_svg, pr);
    }
    jc_buf_free(&b);
    jc_free(s);
    jc_free(y);
    return rc;
}

int jc_cmd_train(struct jc_cli *cli, int argc, char **argv)
{
    const struct jc_config *cfg = &cli->cfg;
    const char *model_name = NULL, *optimizer = NULL, *wide_opt = NULL, *hidden = NULL, *act = NULL,
               *name = NULL, *samples = NULL, *loss = NULL;
    int64_t epochs = -1, batch = -1, emb = -1, threads = -1, seed = -1, patience = -1,
            synthetic = 0;
    double lr = -1, dropout = -2;
    int json = 0, resume = 0, no_publish = 0, layer_norm = 0, stream = 0;
    const struct jc_opt opts[] = {
        {"model", 'm', JC_OPT_STR, &model_name, "NAME",
         "lr, fm, mlp, widedeep, neumf, twotower, deepfm, din or dcn (train.model)", NULL},
        {"epochs", 'e', JC_OPT_INT, &epochs, "N", "maximum epochs (train.epochs)", NULL},
        {"batch", 'b', JC_OPT_INT, &batch, "N", "rows per step (train.batch)", NULL},
        {"lr", 0, JC_OPT_DBL, &lr, "X", "learning rate of every part (train.lr)", NULL},
        {"optimizer", 0, JC_OPT_STR, &optimizer, "OPT", "sgd, adagrad, adam or ftrl", NULL},
        {"wide-optimizer", 0, JC_OPT_STR, &wide_opt, "OPT", "optimizer of the linear parts", NULL},
        {"emb-dim", 0, JC_OPT_INT, &emb, "N", "embedding size (train.emb_dim)", NULL},
        {"hidden", 0, JC_OPT_STR, &hidden, "W1,W2,..", "hidden layer widths, e.g. 256,128", NULL},
        {"act", 0, JC_OPT_STR, &act, "ACT", "relu, prelu, dice, tanh or sigmoid", NULL},
        {"dropout", 0, JC_OPT_DBL, &dropout, "P", "dropout on hidden layers", NULL},
        {"layer-norm", 0, JC_OPT_FLAG, &layer_norm, NULL, "layer normalisation in the MLPs", NULL},
        {"loss", 0, JC_OPT_STR, &loss, "LOSS", "two-tower loss: bce or softmax (in-batch)", NULL},
        {"threads", 't', JC_OPT_INT, &threads, "N", "training threads (train.threads)", NULL},
        {"seed", 0, JC_OPT_INT, &seed, "N", "seed of initialisation, shuffling, dropout", NULL},
        {"patience", 0, JC_OPT_INT, &patience, "N", "early stopping patience (0 = off)", NULL},
        {"name", 0, JC_OPT_STR, &name, "NAME", "registry name (default: the model kind)", NULL},
        {"samples", 0, JC_OPT_STR, &samples, "DIR", "sample directory (default <home>/samples)",
         NULL},
        {"synthetic", 0, JC_OPT_INT, &synthetic, "N",
         "train on N rows of the seeded synthetic data set instead", NULL},
        {"resume", 0, JC_OPT_FLAG, &resume, NULL, "continue from the model's checkpoint", NULL},
        {"stream", 0, JC_OPT_FLAG, &stream, NULL,
         "read shuffled rows from the mapped sample files at every step instead of loading "
         "the splits into memory first",
         NULL},
        {"no-publish", 0, JC_OPT_FLAG, &no_publish, NULL, "do not write a new model version", NULL},
        {"json", 0, JC_OPT_FLAG, &json, NULL, "print the result as JSON", NULL},
        {NULL, 0, 0, NULL, NULL, NULL, NULL},
    };
    int rc = jc_cli_parse(
        cli, "train", "--model NAME [options]",
        "Trains a ranking model on the sample files of `junco features` (train split),\n"
        "validates after every epoch (AUC, logloss; early stopping on AUC), evaluates the\n"
        "best epoch on the test split, writes ROC/PR curves to <home>/reports/ and publishes\n"
        "the model as the next version under <home>/models/<name>/. Deterministic with\n"
        "--threads 1 and a seed. Per-model defaults: docs/MODELS.md.",
        opts, argc, argv, NULL, 0, NULL);
    if (rc >= 0)
        return rc;
    if (!model_name)
        model_name = cfg->train_model;
    enum jc_model_kind kind;
    if (jc_model_kind_parse(model_name, &kind))
        return jc_cli_usage("train", "unknown model '%s'", model_name);
    struct jc_train_config tc;
    jc_train_config_default(&tc, kind);
    struct jc_model_config *mc = &tc.model;
    /* config file, then options */
    if (cfg->train_epochs > 0)
        tc.epochs = (uint32_t)cfg->train_epochs;
    if (cfg->train_batch > 0)
        tc.batch = (uint32_t)cfg->train_batch;
    if (cfg->train_emb_dim > 0)
        mc->emb_dim = (uint32_t)cfg->train_emb_dim;
    if (cfg->train_dropout >= 0)
        mc->dropout = (float)cfg->train_dropout;
    tc.patience = (uint32_t)cfg->train_patience;
    tc.threads = (int)(cfg->train_threads > 0  ? cfg->train_threads
                       : cfg->core_threads > 0 ? cfg->core_threads
                                               : jc_cpu_count());
    tc.seed = mc->seed = (uint64_t)cfg->core_seed;
    if (!optimizer && cfg->train_optimizer[0])
        optimizer = cfg->train_optimizer;
    if (!wide_opt && cfg->train_wide_optimizer[0])
        wide_opt = cfg->train_wide_optimizer;
    if (!hidden && cfg->train_hidden[0])
        hidden = cfg->train_hidden;
    double lr_all = lr > 0 ? lr : cfg->train_lr;
    if (epochs >= 0) {
        if (epochs < 1 || epochs > JC_TRAIN_MAX_EPOCHS)
            return jc_cli_usage("train", "--epochs must be in [1, %d]", JC_TRAIN_MAX_EPOCHS);
        tc.epochs = (uint32_t)epochs;
    }
    if (batch >= 0) {
        if (batch < 1 || batch > (1 << 20))
            return jc_cli_usage("train", "--batch must be in [1, 1048576]");
        tc.batch = (uint32_t)batch;
    }
    if (emb >= 0) {
        if (emb < 1 || emb > 1024)
            return jc_cli_usage("train", "--emb-dim must be in [1, 1024]");
        mc->emb_dim = (uint32_t)emb;
    }
    if (threads >= 0) {
        if (threads < 1 || threads > 256)
            return jc_cli_usage("train", "--threads must be in [1, 256]");
        tc.threads = (int)threads;
    }
    if (seed >= 0)
        tc.seed = mc->seed = (uint64_t)seed;
    if (patience >= 0)
        tc.patience = (uint32_t)patience;
    if (dropout > -2) {
        if (!(dropout >= 0 && dropout < 1))
            return jc_cli_usage("train", "--dropout must be in [0, 1)");
        mc->dropout = (float)dropout;
    }
    if (lr >= 0 && !(lr > 0 && lr <= 10))
        return jc_cli_usage("train", "--lr must be in (0, 10]");
    if (optimizer) {
        enum jc_optim_kind k;
        if (jc_optim_parse(optimizer, &k))
            return jc_cli_usage("train", "unknown optimizer '%s'", optimizer);
        float keep = mc->opt.lr;
        jc_optim_config_default(&mc->opt, k);
        mc->opt.lr = k == JC_OPTIM_ADAM ? keep : mc->opt.lr;
    }
    if (wide_opt) {
        enum jc_optim_kind k;
        if (jc_optim_parse(wide_opt, &k))
            return jc_cli_usage("train", "unknown optimizer '%s'", wide_opt);
        float keep = mc->opt_wide.lr;
        jc_optim_config_default(&mc->opt_wide, k);
        mc->opt_wide.lr = k == JC_OPTIM_ADAM ? keep : mc->opt_wide.lr;
    }
    if (lr_all > 0)
        mc->opt.lr = mc->opt_wide.lr = (float)lr_all;
    if (hidden && parse_hidden(hidden, mc))
        return jc_cli_usage("train", "--hidden wants comma-separated widths such as 256,128");
    if (act && jc_nn_act_parse(act, &mc->act))
        return jc_cli_usage("train", "unknown activation '%s'", act);
    if (layer_norm)
        mc->layer_norm = 1;
    if (loss) {
        if (strcmp(loss, "bce") == 0)
            mc->loss = JC_LOSS_BCE;
        else if (strcmp(loss, "softmax") == 0)
            mc->loss = JC_LOSS_SOFTMAX;
        else
            return jc_cli_usage("train", "--loss must be bce or softmax");
    }
    if (synthetic < 0 || synthetic > 100000000)
        return jc_cli_usage("train", "--synthetic must be in [1, 100000000]");
    if (!name)
        name = jc_model_kind_name(kind);
    if (!valid_name(name))
        return jc_cli_usage("train", "--name may use letters, digits, '-', '_' and '.'");

    struct data d;
    if ((rc = data_open(cli, samples, synthetic, tc.seed, &d)))
        return jc_cli_fail(rc);
    char rel[256], mdir[4096], ckpt[4096];
    snprintf(rel, sizeof rel, "models/%s", name);
    if ((rc = jc_cli_ensure_home(cli, rel)) || (rc = jc_cli_path(cli, rel, mdir, sizeof mdir)) ||
        (rc = jc_path_join(ckpt, sizeof ckpt, mdir, "checkpoint.jcm"))) {
        data_close(&d);
        return jc_cli_fail(rc);
    }
    tc.checkpoint = ckpt;
    tc.resume = resume;
    tc.preload = !stream;
    tc.progress = cli->progress;
    struct jc_model *m = NULL;
    struct jc_train_report rep;
    rc = jc_train_run(&m, &tc, &d.src[0], d.src[1].n_rows ? &d.src[1] : NULL, &rep);
    if (rc) {
        data_close(&d);
        return jc_cli_fail(rc);
    }
    jc_cli_progress_done(cli);
    struct jc_ctr_metrics vm, tm;
    memset(&vm, 0, sizeof vm);
    memset(&tm, 0, sizeof tm);
    vm.auc = tm.auc = NAN;
    if (d.src[1].n_rows)
        rc = jc_train_evaluate(m, &d.src[1], tc.threads, &vm);
    if (rc == JC_OK && d.src[2].n_rows)
        rc = jc_train_evaluate(m, &d.src[2], tc.threads, &tm);
    char roc_svg[4096] = "";
    if (rc == JC_OK && d.src[2].n_rows)
        rc = write_curves(cli, m, &d, name, tc.threads, roc_svg, sizeof roc_svg);
    /* facts stored in the model file */
    struct jc_buf info;
    jc_buf_init(&info, 1 << 20);
    struct jc_json j;
    jc_json_init(&j, &info, 0);
    jc_json_obj_begin(&j);
    jc_json_kv_str(&j, "name", name);
    jc_json_kv_str(&j, "data", d.synthetic ? "synthetic" : "samples");
    jc_json_kv_int(&j, "train_rows", (int64_t)d.src[0].n_rows);
    jc_json_kv_int(&j, "epochs", rep.epoch_last);
    jc_json_kv_int(&j, "best_epoch", rep.best_epoch);
    jc_json_kv_int(&j, "batch", tc.batch);
    jc_json_kv_int(&j, "threads", tc.threads);
    jc_json_key(&j, "seed");
    jc_json_uint(&j, tc.seed);
    jc_json_kv_double(&j, "valid_auc", vm.auc);
    jc_json_kv_double(&j, "test_auc", tm.auc);
    jc_json_kv_double(&j, "test_logloss", tm.logloss);
    jc_json_obj_end(&j);
    if (rc == JC_OK)
        rc = jc_json_finish(&j);
    if (rc == JC_OK)
        rc = jc_model_set_info(m, info.data);
    jc_buf_free(&info);
    if (rc == JC_OK && !d.synthetic) {
        const void *blob;
        size_t bl;
        jc_samples_spec_blob(d.s[0], &blob, &bl);
        rc = jc_model_set_spec(m, blob, bl);
    }
    uint32_t version = 0;
    char live[4096] = "";
    if (rc == JC_OK && !no_publish) {
        rc = jc_model_publish(m, mdir, 1, &version);
        if (rc == JC_OK)
            rc = jc_model_registry_live(mdir, live, sizeof live, NULL);
    }
    if (rc) {
        jc_model_destroy(m);
        data_close(&d);
        return jc_cli_fail(rc);
    }
    if (json) {
        struct jc_buf b;
        jc_buf_init(&b, 1 << 20);
        jc_json_init(&j, &b, 0);
        jc_json_obj_begin(&j);
        jc_json_kv_str(&j, "model", jc_model_kind_name(kind));
        jc_json_kv_str(&j, "name", name);
        jc_json_kv_int(&j, "version", version);
        jc_json_kv_str(&j, "path", live);
        jc_json_kv_int(&j, "weights", (int64_t)jc_model_n_weights(m));
        jc_json_kv_int(&j, "epochs", rep.epoch_last);
        jc_json_kv_int(&j, "best_epoch", rep.best_epoch);
        jc_json_kv_bool(&j, "stopped_early", rep.stopped_early);
        jc_json_kv_bool(&j, "resumed", rep.resumed);
        jc_json_kv_double(&j, "train_seconds", rep.seconds);
        jc_json_kv_double(&j, "samples_per_sec", rep.samples_per_sec);
        jc_json_key(&j, "history");
        jc_json_arr_begin(&j);
        for (uint32_t e = 0; e < rep.epochs_run && e < JC_TRAIN_REPORT_EPOCHS; e++) {
            jc_json_obj_begin(&j);
            jc_json_kv_double(&j, "train_loss", rep.epoch[e].train_loss);
            jc_json_kv_double(&j, "valid_auc", rep.epoch[e].valid_auc);
            jc_json_kv_double(&j, "valid_logloss", rep.epoch[e].valid_logloss);
            jc_json_kv_double(&j, "samples_per_sec", rep.epoch[e].samples_per_sec);
            jc_json_obj_end(&j);
        }
        jc_json_arr_end(&j);
        struct jc_buf mv, mt;
        jc_buf_init(&mv, 4096);
        jc_buf_init(&mt, 4096);
        jc_ctr_metrics_json(&vm, &mv);
        jc_ctr_metrics_json(&tm, &mt);
        jc_json_key(&j, "valid");
        jc_json_raw(&j, mv.data, mv.len);
        jc_json_key(&j, "test");
        jc_json_raw(&j, mt.data, mt.len);
        jc_json_obj_end(&j);
        jc_json_finish(&j);
        printf("%s\n", b.data);
        jc_buf_free(&mv);
        jc_buf_free(&mt);
        jc_buf_free(&b);
    } else {
        printf("model %s (%s): %llu weights, %u epochs (best %u%s%s), %.1f s, %.0f samples/s "
               "on %d thread%s\n",
               name, jc_model_kind_name(kind), (unsigned long long)jc_model_n_weights(m),
               rep.epoch_last, rep.best_epoch, rep.stopped_early ? ", stopped early" : "",
               rep.resumed ? ", resumed" : "", rep.seconds, rep.samples_per_sec, tc.threads,
               tc.threads == 1 ? "" : "s");
        for (uint32_t e = 0; e < rep.epochs_run && e < JC_TRAIN_REPORT_EPOCHS; e++)
            printf("  epoch %u: train loss %.5f  valid auc %.4f  logloss %.5f\n",
                   rep.epoch_last - rep.epochs_run + e + 1, rep.epoch[e].train_loss,
                   rep.epoch[e].valid_auc, rep.epoch[e].valid_logloss);
        if (d.src[1].n_rows)
            print_metrics_line("valid", &vm);
        if (d.src[2].n_rows)
            print_metrics_line("test", &tm);
        if (roc_svg[0])
            printf("curves: %s (and -pr.svg, -roc.csv, -pr.csv)\n", roc_svg);
        if (!no_publish)
            printf("published: %s (version %u)\n", live, version);
    }
    jc_model_destroy(m);
    data_close(&d);
    return JC_EXIT_OK;
}
