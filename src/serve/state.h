/*
 * state.h - the served state as reference-counted, atomically swapped
 * snapshots.
 *
 * A struct jc_serve_state is everything a request reads: the catalog with
 * the overlay of upserted items and users and the indexes derived from
 * them, the compiled scenes (pipelines) and A/B experiments, and in phase 2
 * the ranking models, embeddings and ANN indexes. It is immutable once
 * published. The server holds the current snapshot in a jc_state_slot; a
 * request calls jc_state_acquire() once when it starts (one reference
 * count increment under a short mutex) and jc_state_release() when it is
 * done, so every request sees one consistent version from start to end.
 * Publishing (jc_state_slot_swap) replaces the pointer and drops the slot's
 * reference to the old snapshot; the old snapshot is destroyed by whoever
 * drops the last reference, typically the last request that was using it.
 *
 * Components that are expensive to rebuild (a catalog mapping, a model)
 * are themselves reference counted (struct jc_rc), so a new snapshot can
 * share the components that did not change with the old one: publishing a
 * model builds a new root that references the same catalog. Today:
 * catalog comp (catalog + statistics) <- data comp (overlay, view, index)
 * <- state (scenes, experiments); an upsert builds a new data comp over the
 * same catalog comp, a catalog reload a new catalog comp.
 */
#ifndef JC_SERVE_STATE_H
#define JC_SERVE_STATE_H

#include "serve/catidx.h"
#include "serve/comps.h"
#include "serve/overlay.h"
#include "serve/rc.h"

#include <junco/catalog.h>
#include <junco/config.h>

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>

/* The catalog and its per-item statistics, shared between snapshots. */
struct jc_catalog_comp {
    struct jc_rc rc;
    struct jc_catalog *cat;
    struct jc_catstats *stats;
    char path[4096];
    int64_t loaded_at; /* Unix seconds */
};

/* Opens a catalog and computes its statistics. */
int jc_catalog_comp_open(struct jc_catalog_comp **out, const char *path);

/* The served data: a catalog, an overlay version (overlay.h), the merged
 * view of both and its index. Rebuilt when either changes; shared by
 * snapshots that differ only in other components (scenes, later models). */
struct jc_data_comp {
    struct jc_rc rc;
    struct jc_catalog_comp *catalog; /* a reference */
    struct jc_overlay *overlay;      /* a reference (an empty overlay at least) */
    struct jc_view view;
    struct jc_catidx *idx;
};

/* Builds the view and index of catalog + overlay (overlay NULL: empty);
 * takes new references to both. JC_ENOMEM, JC_ELIMIT (view). */
int jc_data_comp_create(struct jc_data_comp **out, struct jc_catalog_comp *catalog,
                        struct jc_overlay *overlay);

struct jc_scenes;      /* pipeline.h */
struct jc_experiments; /* experiment.h */

struct jc_serve_state {
    struct jc_rc rc;
    uint64_t version; /* increases with every publish */
    int64_t published_at;
    struct jc_data_comp *data;          /* a reference */
    struct jc_scenes *scenes;           /* owned */
    struct jc_experiments *experiments; /* owned; never NULL (maybe empty) */
    /* Model-side components (comps.h), each a reference; all may be absent. */
    struct jc_store_comp *store; /* feature store (shared by every snapshot) */
    struct jc_trend_comp *trend; /* catalog trending fallback */
    int n_models;
    struct jc_model_comp *models[JC_SERVE_MAX_MODELS];
    int model_default; /* index into models of the `model` ranker's model, -1 */
    int n_embs;
    struct jc_emb_comp *embs[JC_SERVE_MAX_EMBS];
    int emb_default;      /* the embedding of emb_user / emb_item / similar, -1 */
    int emb_mf;           /* an MF (ials/bpr) embedding for `mf`, -1 */
    unsigned resources;   /* JC_RES_* bits */
    uint32_t load_errors; /* files skipped because they failed to load */
    double threshold;     /* positives: value >= threshold (embed.threshold) */
    double half_life_s;   /* recency half-life of user vectors */
    /* Per embedding (index into embs): the users' vectors built from the
     * catalog history, filled lazily by the pipeline (pipeline.c) and freed
     * with the snapshot; NULL until first used. */
    _Atomic(struct jc_uvec_cache *) uvec[JC_SERVE_MAX_EMBS];
    /* The users' co-occurrence recall lists (pipeline.c), filled lazily
     * and freed with the snapshot; NULL until first used. */
    _Atomic(struct jc_cooc_cache *) cooc;
};

/* One user's co-occurrence candidates in one snapshot: the best n of the
 * `total` co-occurring items outside the user's catalog history, by damped
 * score desc then item asc; complete: n == total. */
struct jc_cooc_row {
    uint32_t n, total;
    struct {
        uint32_t item;
        float score;
    } e[];
};
struct jc_cooc_cache {
    uint32_t n_users;
    _Atomic uint64_t used;               /* entries in all rows (bounded) */
    _Atomic(struct jc_cooc_row *) *rows; /* [n_users], NULL: not yet built */
};

/* User vectors of one embedding computed from the (immutable) catalog
 * history of one snapshot: status[u] is JC_UVEC_UNKNOWN, _BUSY (a thread is
 * writing vec), _READY (vec[u * dim ..] holds the vector) or _NONE (the user
 * has no vector); a thread that finds UNKNOWN or BUSY computes the vector
 * itself, and only the thread that moves UNKNOWN to BUSY writes it. */
enum { JC_UVEC_UNKNOWN = 0, JC_UVEC_BUSY, JC_UVEC_READY, JC_UVEC_NONE };
struct jc_uvec_cache {
    uint32_t n_users, dim;
    _Atomic uint8_t *status; /* [n_users] */
    float *vec;              /* [n_users x dim], row-major */
};

/* Builds a root over a data component (takes a new reference to it) with
 * scenes and A/B experiments compiled from cfg's [scene.*], [experiment.*]
 * and [variant.*] sections (cfg may be NULL). Errors: JC_EINVAL naming the
 * section and key, JC_ENOMEM. */
int jc_serve_state_create(struct jc_serve_state **out, struct jc_data_comp *data,
                          const struct jc_config *cfg, uint64_t version);

/* Like jc_serve_state_create, and also loads the model-side components
 * (comps.h: models, embeddings, store, trending) per o, reusing o->prev's
 * unchanged ones, and compiles the default scene for what was found.
 * *changed (may be NULL): 1 if a component differs from o->prev's. */
int jc_serve_state_build(struct jc_serve_state **out, struct jc_data_comp *data,
                         const struct jc_config *cfg, uint64_t version,
                         const struct jc_comps_opts *o, int *changed);

/* Convenience accessors. */
static inline const struct jc_catalog *jc_state_cat(const struct jc_serve_state *st)
{
    return st->data->catalog->cat;
}
static inline const struct jc_catidx *jc_state_idx(const struct jc_serve_state *st)
{
    return st->data->idx;
}
static inline const struct jc_view *jc_state_view(const struct jc_serve_state *st)
{
    return &st->data->view;
}

struct jc_state_slot {
    pthread_mutex_t mu;
    struct jc_serve_state *cur; /* the slot's reference */
};

void jc_state_slot_init(struct jc_state_slot *s);
/* Releases the current snapshot. */
void jc_state_slot_free(struct jc_state_slot *s);
/* A new reference to the current snapshot, or NULL if none is published. */
struct jc_serve_state *jc_state_acquire(struct jc_state_slot *s);
void jc_state_release(struct jc_serve_state *st);
/* Publishes st (the slot takes over the caller's reference) and releases
 * the previous snapshot. */
void jc_state_slot_swap(struct jc_state_slot *s, struct jc_serve_state *st);

#endif
