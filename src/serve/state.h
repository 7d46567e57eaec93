/*
 * state.h - the served state as reference-counted, atomically swapped
 * snapshots.
 *
 * A struct jc_serve_state is everything a request reads: the catalog, the
 * indexes derived from it, the compiled scenes (pipelines), and in phase 2
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
 * model builds a new root that references the same catalog.
 */
#ifndef JC_SERVE_STATE_H
#define JC_SERVE_STATE_H

#include "serve/catidx.h"

#include <junco/catalog.h>
#include <junco/config.h>

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>

/* A reference-counted component: embed as the first member. */
struct jc_rc {
    atomic_long refs;
    void (*destroy)(struct jc_rc *self);
};

void jc_rc_init(struct jc_rc *rc, void (*destroy)(struct jc_rc *));
void jc_rc_retain(struct jc_rc *rc);
/* Drops a reference; destroys the object at zero. NULL is a no-op. */
void jc_rc_release(struct jc_rc *rc);

/* The catalog and the indexes derived from it, shared between snapshots. */
struct jc_catalog_comp {
    struct jc_rc rc;
    struct jc_catalog *cat;
    struct jc_catidx *idx;
    char path[4096];
    int64_t loaded_at; /* Unix seconds */
};

/* Opens a catalog and builds its indexes. */
int jc_catalog_comp_open(struct jc_catalog_comp **out, const char *path);

struct jc_scenes; /* pipeline.h */

struct jc_serve_state {
    struct jc_rc rc;
    uint64_t version; /* increases with every publish */
    int64_t published_at;
    struct jc_catalog_comp *catalog; /* a reference */
    struct jc_scenes *scenes;        /* owned */
    /* phase 2: models, embeddings, ANN indexes, feature-store handle,
     * experiments; each a reference-counted component. */
};

/* Builds a root over a catalog component (takes a new reference to it)
 * with scenes compiled from cfg's [scene.*] sections (cfg may be NULL). */
int jc_serve_state_create(struct jc_serve_state **out, struct jc_catalog_comp *catalog,
                          const struct jc_config *cfg, uint64_t version);

/* Convenience accessors. */
static inline const struct jc_catalog *jc_state_cat(const struct jc_serve_state *st)
{
    return st->catalog->cat;
}
static inline const struct jc_catidx *jc_state_idx(const struct jc_serve_state *st)
{
    return st->catalog->idx;
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
