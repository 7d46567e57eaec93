/*
 * junco/train.h - training ranking models: data sources, the multi-threaded
 * trainer (shuffling, validation each epoch, early stopping,
 * checkpoint/resume), batch prediction, and a seeded synthetic data set
 * with known signal for tests and benchmarks.
 *
 * Parallelism and determinism: a batch is split into `threads` fixed row
 * shards (shard s gets rows [s*n/T, (s+1)*n/T)); every shard runs forward
 * and backward into its own gradient buffers, and the gradients are reduced
 * in shard order (dense: shard 0 + 1 + ...; sparse: rows in first-touch
 * order), then one optimizer step is applied. Shuffling uses the stream
 * (seed, epoch) and dropout the stream (seed, step, shard). So one thread and
 * one seed give bit-identical models, and N threads give the same result
 * for every run with N threads. Resuming from a checkpoint after epoch k
 * gives the same model as training straight through.
 *
 * Threading: jc_train_run uses its own worker pool; the sources must allow
 * concurrent reads (both built-in sources do).
 */
#ifndef JUNCO_TRAIN_H
#define JUNCO_TRAIN_H

#include <junco/features.h>
#include <junco/metrics.h>
#include <junco/model.h>
#include <junco/progress_cb.h>

#include <stddef.h>
#include <stdint.h>

struct jc_samples;

/* Rows to train or evaluate on: random access by index into a batch. */
struct jc_train_source {
    const struct jc_feat_layout *layout; /* borrowed */
    uint64_t n_rows;
    /* Reads rows idx[0..n) into out (out->cap >= n), sets out->n. Must be
     * safe to call from several threads with distinct out batches. */
    int (*read_index)(const struct jc_train_source *s, const uint64_t *idx, uint32_t n,
                      struct jc_batch *out);
    void *ctx; /* the reader's state (borrowed) */
};

/* A source over rows [0, all->n) of an in-memory batch (borrowed). */
void jc_train_source_batch(struct jc_train_source *s, const struct jc_feat_layout *layout,
                           const struct jc_batch *all);
/* A source over an open split of a sample directory (borrowed). */
void jc_train_source_samples(struct jc_train_source *s, const struct jc_samples *smp);
/* Reads a whole source into a new batch (out is initialised here; free with
 * jc_batch_free). JC_ENOMEM, or the source's error. */
int jc_train_source_load(const struct jc_train_source *s, struct jc_batch *out);

struct jc_train_config {
    struct jc_model_config model;
    uint32_t epochs;        /* maximum epochs */
    uint32_t batch;         /* rows per optimizer step */
    int threads;            /* worker threads (>= 1) */
    uint64_t seed;          /* shuffling and dropout (model.seed: initialisation) */
    uint32_t patience;      /* stop after this many epochs without a better
                               validation AUC (0 = never stop early) */
    int preload;            /* 1: read each source into memory once (default) */
    const char *checkpoint; /* path written after every epoch, or NULL */
    int resume;             /* continue from `checkpoint` if it exists */
    struct jc_progress progress;
};

/* Defaults for a model kind: jc_model_config_default + epochs 10, batch
 * 256, threads 1, seed 42, patience 2, preload on. */
void jc_train_config_default(struct jc_train_config *c, enum jc_model_kind kind);

#define JC_TRAIN_MAX_EPOCHS    1000
#define JC_TRAIN_REPORT_EPOCHS 256

struct jc_train_epoch {
    double train_loss; /* mean over the epoch's rows */
    double valid_auc;  /* NaN without a validation source */
    double valid_logloss;
    double seconds; /* training time of the epoch (without validation) */
    double samples_per_sec;
};

struct jc_train_report {
    uint32_t epochs_run; /* epochs trained in this run (after a resume: the new ones) */
    uint32_t epoch_last; /* last epoch number reached (1-based, counting resumed ones) */
    uint32_t best_epoch; /* epoch of the returned model */
    int stopped_early;
    int resumed; /* started from a checkpoint */
    double best_valid_auc;
    double seconds; /* wall time of the training epochs */
    double samples_per_sec;
    uint64_t samples; /* rows trained on in this run */
    struct jc_train_epoch epoch[JC_TRAIN_REPORT_EPOCHS];
};

/*
 * Trains a model of c->model on `train`, validating on `valid` (may be NULL:
 * no early stopping, the last epoch's model is returned). The returned model
 * (*out, owned by the caller) is the one of the best validation epoch.
 * Errors: JC_EINVAL (config, layout mismatch of the sources), JC_ECANCELED
 * (progress callback), I/O errors of the checkpoint, the sources' errors.
 */
int jc_train_run(struct jc_model **out, const struct jc_train_config *c,
                 const struct jc_train_source *train, const struct jc_train_source *valid,
                 struct jc_train_report *rep);

/*
 * Scores every row of src with m (threads workers): scores [n_rows] and,
 * when not NULL, labels [n_rows] and users [n_rows]. Deterministic
 * whatever the thread count (rows are scored independently).
 */
int jc_train_predict(const struct jc_model *m, const struct jc_train_source *src, int threads,
                     float *scores, float *labels, uint32_t *users);

/* Predicts src and computes its metrics (with GAUC by user). */
int jc_train_evaluate(const struct jc_model *m, const struct jc_train_source *src, int threads,
                      struct jc_ctr_metrics *out);

/*
 * A seeded synthetic CTR data set with known signal, shaped like the
 * MovieLens features: fields userId (CAT, user), userHistory (SEQ 5, item
 * vocabulary, user), userGenres (MULTI 3, user), userAvgRating (NUM, user),
 * hour (CAT, context), movieId (CAT, item), movieGenres (MULTI 2, item),
 * movieAvgRating and moviePopularity (NUM, item). Labels are Bernoulli of
 * sigmoid(user . item latent factors + affinity of the item to the user's
 * history + genre match + biases), so a model needs feature interactions
 * to beat logistic regression. Writes the layout and three batches
 * (initialised here; free with jc_batch_free). Same seed, same data.
 */
struct jc_train_synth_opts {
    uint32_t n_users, n_items, n_genres;
    uint32_t n_train, n_valid, n_test;
    uint64_t seed;
};
void jc_train_synth_opts_default(struct jc_train_synth_opts *o);
int jc_train_synth(const struct jc_train_synth_opts *o, struct jc_feat_layout *layout,
                   struct jc_batch *train, struct jc_batch *valid, struct jc_batch *test);

#endif
