/*
 * deep_train.c - the feature job and the trainer behind the evaluation's
 * deep-model scorers and CTR protocol (see deep.c and deep_int.h): builds
 * sample files with a time split and trains a model kind on them.
 */
#include "eval/deep_int.h"

#include "core/alloc.h"
#include <junco/error.h>
#include <junco/samples.h>
#include <junco/train.h>

#include <dirent.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

int jc_eval__deep_samples(const struct jc_catalog *cat, struct jc_featspec *spec, const char *dir,
                          double valid, double test, uint64_t seed, int threads, uint64_t *n_train)
{
    struct jc_samples_opts so;
    jc_samples_opts_default(&so);
    so.dir = dir;
    so.split = JC_SPLIT_TIME;
    so.valid = valid;
    so.test = test;
    so.seed = seed;
    so.threads = threads;
    struct jc_samples_report srep;
    int rc = jc_samples_build(cat, spec, &so, &srep);
    if (rc == JC_OK && n_train)
        *n_train = srep.split[JC_SPLIT_TRAIN].rows;
    return rc;
}

int jc_eval__deep_train(const char *samples_dir, enum jc_model_kind kind, uint32_t epochs,
                        int threads, uint64_t seed, int with_valid, struct jc_progress progress,
                        struct jc_model **out, struct jc_ctr_metrics *test_metrics,
                        struct jc_eval__curves *curves)
{
    struct jc_samples *s[3] = {NULL, NULL, NULL};
    struct jc_train_source src[3];
    int n_splits = with_valid ? 3 : 1;
    int rc = JC_OK;
    for (int i = 0; i < n_splits && rc == JC_OK; i++) {
        rc = jc_samples_open(&s[i], samples_dir, (enum jc_split)i, 0);
        if (rc == JC_OK)
            jc_train_source_samples(&src[i], s[i]);
    }
    struct jc_train_config tc;
    jc_train_config_default(&tc, kind);
    tc.epochs = epochs;
    tc.threads = threads;
    tc.seed = seed;
    tc.model.seed = seed;
    tc.patience = with_valid ? 1 : 0;
    tc.progress = progress;
    struct jc_train_report *rep = jc_malloc(sizeof *rep);
    if (rc == JC_OK && rep == NULL)
        rc = JC_ENOMEM;
    struct jc_model *m = NULL;
    if (rc == JC_OK && src[0].n_rows == 0)
        rc = jc_err_set(JC_EINVAL, "eval: no training rows for %s", jc_model_kind_name(kind));
    if (rc == JC_OK)
        rc = jc_train_run(&m, &tc, &src[0], with_valid && src[1].n_rows ? &src[1] : NULL, rep);
    if (rc == JC_OK && curves) {
        curves->n = rep->epochs_run < 16 ? rep->epochs_run : 16;
        for (uint32_t e = 0; e < curves->n; e++) {
            curves->train_loss[e] = rep->epoch[e].train_loss;
            curves->valid_auc[e] = rep->epoch[e].valid_auc;
        }
    }
    if (rc == JC_OK && test_metrics) {
        if (src[2].n_rows == 0)
            rc = jc_err_set(JC_EINVAL, "eval: CTR protocol: no test rows");
        else
            rc = jc_train_evaluate(m, &src[2], threads, test_metrics);
    }
    jc_free(rep);
    for (int i = 0; i < 3; i++)
        if (s[i])
            jc_samples_close(s[i]);
    if (rc) {
        jc_model_destroy(m);
        return rc;
    }
    *out = m;
    return JC_OK;
}

void jc_eval__remove_samples(const char *dir)
{
    DIR *d = opendir(dir);
    if (d == NULL)
        return;
    struct dirent *e;
    char path[4096];
    while ((e = readdir(d)) != NULL) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
            continue;
        int n = snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        if (n > 0 && (size_t)n < sizeof path)
            (void)unlink(path);
    }
    closedir(d);
    (void)rmdir(dir);
}
