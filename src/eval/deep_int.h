/*
 * deep_int.h - the part of the deep-model adapter that talks to the feature
 * job and the trainer (deep_train.c). Kept apart from junco/eval.h because
 * junco/samples.h and junco/eval.h both name a `jc_split` (an enum there, a
 * struct here) and cannot share a translation unit.
 */
#ifndef JC_EVAL_DEEP_INT_H
#define JC_EVAL_DEEP_INT_H

#include <junco/catalog.h>
#include <junco/featspec.h>
#include <junco/metrics.h>
#include <junco/model.h>
#include <junco/progress_cb.h>

#include <stdint.h>

/* Runs the feature job on cat with spec (fitted on success) into dir with a
 * time split of the given valid/test fractions; *n_train (may be NULL) gets
 * the training rows. Errors of jc_samples_build. */
int jc_eval__deep_samples(const struct jc_catalog *cat, struct jc_featspec *spec, const char *dir,
                          double valid, double test, uint64_t seed, int threads, uint64_t *n_train);

/* Per-epoch training curves (may be NULL where accepted). */
struct jc_eval__curves {
    uint32_t n; /* epochs run, at most 16 recorded */
    double train_loss[16], valid_auc[16];
};

/* Trains a model of kind on the samples in dir (train split; with_valid:
 * early stopping on the valid split with patience 1, and the test split
 * measured into *test_metrics when not NULL; curves may be NULL). *out
 * owned by the caller. */
int jc_eval__deep_train(const char *samples_dir, enum jc_model_kind kind, uint32_t epochs,
                        int threads, uint64_t seed, int with_valid, struct jc_progress progress,
                        struct jc_model **out, struct jc_ctr_metrics *test_metrics,
                        struct jc_eval__curves *curves);

/* Removes the regular files of a sample directory and the directory (not
 * recursive; best effort: scratch space only). */
void jc_eval__remove_samples(const char *dir);

#endif
