/*
 * junco/online.h - online updates of the live ranking model from the event
 * stream, with a loss guard and atomic snapshots to the model registry.
 *
 * The learner loads the LIVE version of a registry directory
 * (<home>/models/<name>/, junco/model.h) and keeps two copies: the learning
 * model and the last good snapshot. Labelled examples arrive one at a time
 * (jc_online_observe, from the nearline worker: the user's and item's
 * states BEFORE the event, as the offline job builds a training row) or as
 * finished rows (jc_online_learn_rows). Each example is first scored
 * (progressive validation: the loss is measured before the model learns
 * from it) and then buffered; every `batch` examples one optimizer step
 * runs (jc_model_learn: the model's own optimizers on every part, sparse
 * embedding rows and the wide/linear part included; FTRL-proximal where the
 * model was configured with it), with the learning rates of the config.
 *
 * Guard. The rolling logloss over the last `window` examples is compared
 * with the baseline: the rolling loss when the last good snapshot was taken
 * (at first, when the window first fills). When it exceeds
 * baseline * (1 + guard_threshold), the guard trips (counted):
 *   rollback: the learning model is replaced by the last good snapshot,
 *             the window starts afresh, and updates are held until a full
 *             window scored by the restored model is back under the limit
 *             (so the same bad data is not learned again);
 *   skip:     updates are suspended (examples are still scored) until the
 *             rolling loss is back under the limit;
 *   off:      nothing happens.
 * Snapshots are taken only while the guard is not tripped.
 *
 * Snapshots. Every snapshot_s seconds (or every snapshot_every examples)
 * the learning model is published as the next version of the registry with
 * its optimizer state (jc_model_publish: the version file is written
 * atomically, then the LIVE file is replaced atomically), becomes the last
 * good snapshot, and its rolling loss the new baseline. A server that polls
 * jc_model_registry_live sees the new version and loads it; it never sees
 * a partial file. If the registry's LIVE version changes under the learner
 * (an offline `junco train` published), the learner switches to it at the
 * next snapshot time.
 *
 * Labels (jc_online_label): rating -> value >= label_threshold; click,
 * like, purchase -> 1; impression -> 0; view and custom types -> no label.
 *
 * Model updates are at-most-once across restarts: the learner restarts
 * from the last published snapshot, and events applied after it but before
 * a crash are not learned again (feature state is exactly-once, see
 * junco/nearline.h).
 *
 * Threading: one thread uses a learner (the nearline worker's); stats and
 * metrics may be read from any thread.
 */
#ifndef JUNCO_ONLINE_H
#define JUNCO_ONLINE_H

#include <junco/config.h>
#include <junco/features.h>

#include <stddef.h>
#include <stdint.h>

struct jc_buf;
struct jc_catalog;
struct jc_featspec;
struct jc_item_state;
struct jc_model;
struct jc_user_state;
struct jc_online;

enum jc_online_guard {
    JC_GUARD_ROLLBACK = 0,
    JC_GUARD_SKIP = 1,
    JC_GUARD_OFF = 2,
};

struct jc_online_config {
    const char *registry_dir;     /* <home>/models/<name> (required) */
    const struct jc_catalog *cat; /* for the spec of the model file (may be NULL:
                                     rows only, jc_online_observe unavailable) */
    float lr;                     /* step size of embeddings and deep parts; 0 = the model's */
    float lr_wide;                /* step size of the linear/wide parts; 0 = the model's */
    uint32_t batch;               /* examples per optimizer step (default 32) */
    uint32_t window;              /* rolling loss window in examples (default 1000) */
    double guard_threshold;       /* tolerated relative loss increase (default 0.2) */
    int guard;                    /* enum jc_online_guard (default rollback) */
    double snapshot_s;            /* seconds between snapshots (default 60; 0 = off) */
    uint64_t snapshot_every;      /* examples between snapshots (0 = off) */
    float label_threshold;        /* rating label threshold (default 3.5) */
    int publish;                  /* 1: snapshots are published (default); 0: kept in memory */
};

void jc_online_config_default(struct jc_online_config *c);
/* Overlays the [online] settings and features.label_threshold. The
 * registry_dir is not set here (it depends on the home). */
void jc_online_config_from(struct jc_online_config *c, const struct jc_config *cfg);

/*
 * Loads the live model of cfg->registry_dir (JC_ENOTFOUND if nothing was
 * published: train and publish a model first), and, with cfg->cat and a
 * spec blob in the model file, its fitted feature spec. Errors: those of
 * jc_model_load / jc_featspec_load_blob, JC_EINVAL for a bad config.
 */
int jc_online_open(struct jc_online **out, const struct jc_online_config *cfg);
/* Frees everything (does not publish). NULL is a no-op. */
void jc_online_close(struct jc_online *o);

/* The fitted spec of the model (NULL when the model has none or no catalog
 * was given). The nearline worker should use it, so that the states it
 * keeps are those the model's features read. Valid until close. */
const struct jc_featspec *jc_online_spec(const struct jc_online *o);
/* The current learning model (borrowed; changes on rollback/reload). */
const struct jc_model *jc_online_model(const struct jc_online *o);

/* The label of an event type/value: 1 or 0 in *label and returns 1, or
 * returns 0 when the event carries no label. */
int jc_online_label(const struct jc_online *o, uint8_t type, float value, float *label);

/*
 * One labelled example from states: builds the row with the model's spec
 * (jc_featspec_build_batch: user and item are catalog ids or JC_ID_NONE;
 * us / is are the states before the event; time in Unix seconds), scores
 * it, updates the rolling loss, and learns when a batch is full. Errors:
 * JC_ESTATE without a spec, the model's errors.
 */
int jc_online_observe(struct jc_online *o, uint32_t user, const struct jc_user_state *us,
                      uint32_t item, const struct jc_item_state *is, int64_t time, float label);
/* The same for finished rows of the model's layout (labels in b->label). */
int jc_online_learn_rows(struct jc_online *o, const struct jc_batch *b);

/* Takes a snapshot if one is due (time or count) and the guard allows it.
 * *published (may be NULL) is set to 1 when a version was published. */
int jc_online_maybe_snapshot(struct jc_online *o, int *published);
/* Takes a snapshot now (learning pending rows first) if the guard allows
 * it. JC_ESTATE when the guard is tripped (nothing published). */
int jc_online_snapshot(struct jc_online *o, uint32_t *version);

struct jc_online_stats {
    uint64_t examples; /* examples observed */
    uint64_t updates;  /* optimizer steps */
    uint64_t skipped;  /* examples not learned (guard skip) */
    uint64_t guard_trips;
    uint64_t rollbacks;
    uint64_t snapshots;      /* versions published (or kept, publish = 0) */
    uint64_t reloads;        /* switches to a version published by someone else */
    double rolling_logloss;  /* over the window (NaN until the first example) */
    double baseline_logloss; /* NaN until set */
    uint32_t window_fill;    /* examples in the window */
    uint32_t live_version;   /* registry version the learner started from / published */
    int tripped;             /* 1 while the guard holds updates back (skip) */
};
void jc_online_get_stats(struct jc_online *o, struct jc_online_stats *out);

/* Prometheus text: junco_online_examples_total, junco_online_updates_total,
 * junco_online_guard_trips_total, junco_online_rollbacks_total,
 * junco_online_snapshots_total, junco_online_rolling_logloss,
 * junco_online_baseline_logloss, junco_online_model_version. */
int jc_online_metrics_write(struct jc_online *o, struct jc_buf *out);

#endif
