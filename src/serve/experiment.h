/*
 * experiment.h - A/B experiments in layers: configuration, validation and
 * deterministic assignment of users to variants.
 *
 * Configuration (junco.ini, dynamic sections):
 *
 *     [experiment.ranker_test]
 *     layer    = ranking             ; default: the experiment's own name
 *     salt     = ranking-2024        ; hash salt of the layer (default: its name)
 *     traffic  = 0.5                 ; share of the layer's users (default 1)
 *     variants = control:0.5, recall_only:0.5   ; shares sum to 1; "a, b" = equal
 *     scenes   = default             ; scenes it applies to (default: all)
 *     enabled  = true                ; false: validated but assigns nobody
 *
 *     [variant.ranker_test.recall_only]
 *     ranker = recall                ; any scene key: recall, ranker, rerank,
 *     diversity = 0.5                ; diversity, genre_cap
 *
 * Assignment. Each layer hashes the user's external id with its own salt:
 * b = xxh3(user, seed = xxh3(salt)) mapped to a uniform number in [0, 1).
 * The experiments of a layer take consecutive ranges of [0, 1) by their
 * traffic (in config order) and split their range among their variants by
 * share; users whose b falls outside every range are in no experiment of
 * that layer. So experiments within a layer are mutually exclusive, while
 * different layers use independent hashes (different salts) and a user is
 * in at most one experiment per layer - the orthogonal layers of Tang et
 * al., "Overlapping Experiment Infrastructure" (KDD 2010). The assignment is
 * a pure function of (user id, config): no state, identical on every
 * replica and across restarts; changing a layer's salt reshuffles it.
 *
 * A variant overlays the scene of the request: the request runs on a copy
 * of the scene with the variant's keys applied (one variant per layer).
 * Because layers must be independent, two layers may not override the same
 * key of the same scene; validation rejects that.
 *
 * Validation (at startup, JC_EINVAL naming the section and key): unknown
 * keys; names (1-64 bytes of [A-Za-z0-9_-]); shares that are not positive
 * or do not sum to 1 (within 1e-6); a layer whose experiments take more
 * than all of its traffic; a variant listed twice; a [variant.E.V] section
 * whose experiment or variant does not exist; unknown scenes; layers with
 * different salts given for one layer; keys overridden by two layers;
 * more than JC_EXP_MAX_LAYERS layers / JC_EXP_MAX_EXPERIMENTS experiments /
 * JC_EXP_MAX_VARIANTS variants per experiment.
 *
 * Threading: built once per snapshot, then read-only.
 */
#ifndef JC_SERVE_EXPERIMENT_H
#define JC_SERVE_EXPERIMENT_H

#include "serve/pipeline.h"

#include <junco/config.h>

#include <stddef.h>
#include <stdint.h>

#define JC_EXP_MAX_LAYERS      16
#define JC_EXP_MAX_EXPERIMENTS 64
#define JC_EXP_MAX_VARIANTS    16
#define JC_EXP_MAX_SCENES      8
#define JC_EXP_NAME_MAX        64 /* = JC_EVENT_MAX_LABEL: names go into events */

struct jc_metric;

struct jc_exp_variant {
    char name[JC_EXP_NAME_MAX + 1];
    double share;  /* of the experiment */
    double lo, hi; /* its range of the layer's [0, 1) */
    struct jc_scene_patch patch;
    struct jc_metric *m_assigned; /* set by the server: assignments counter */
};

struct jc_experiment {
    char name[JC_EXP_NAME_MAX + 1];
    int layer; /* index into layers */
    double traffic;
    double lo, hi;
    int enabled;
    int n_scenes; /* 0 = every scene */
    char scenes[JC_EXP_MAX_SCENES][64];
    int n_variants;
    struct jc_exp_variant v[JC_EXP_MAX_VARIANTS];
};

struct jc_exp_layer {
    char name[JC_EXP_NAME_MAX + 1];
    char salt[JC_EXP_NAME_MAX * 2 + 1];
    uint64_t seed; /* xxh3(salt) */
    int salt_explicit;
    double used; /* traffic taken by its experiments */
};

struct jc_experiments {
    int n_layers;
    struct jc_exp_layer layers[JC_EXP_MAX_LAYERS];
    int n_exp;
    struct jc_experiment exp[JC_EXP_MAX_EXPERIMENTS];
};

/* Compiles and validates the [experiment.*] and [variant.*] sections of cfg
 * (NULL: none) against the compiled scenes. Layers are numbered in order of
 * first appearance. Errors: JC_EINVAL (see above), JC_ENOMEM. */
int jc_experiments_build(struct jc_experiments **out, const struct jc_config *cfg,
                         const struct jc_scenes *scenes);
void jc_experiments_destroy(struct jc_experiments *e);

/* A layer's bucket of a user: a uniform number in [0, 1) from 53 bits of
 * xxh3(user, seed). */
double jc_experiments_bucket(uint64_t seed, const char *user, size_t n);

struct jc_assignment {
    const struct jc_exp_layer *layer;
    const struct jc_experiment *exp;
    const struct jc_exp_variant *variant;
};

/* Assigns a user (external id) in every layer, in layer order, keeping
 * experiments that are enabled and apply to `scene` (NULL: any scene).
 * Writes at most cap assignments (one per layer at most); returns the
 * count. Pure and thread-safe. */
size_t jc_experiments_assign(const struct jc_experiments *e, const char *user, size_t n,
                             const char *scene, struct jc_assignment *out, size_t cap);

/* The experiment named name, or NULL. */
const struct jc_experiment *jc_experiments_find(const struct jc_experiments *e, const char *name);

#endif
