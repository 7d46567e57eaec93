/*
 * comps.h - the model-side components of a served snapshot: ranking models
 * from the registry (with their feature spec and a pool of scorers),
 * embeddings with their ANN index, the feature-store handle with a cached
 * trending list, and the catalog-based trending fallback.
 *
 * Every component is reference counted (rc.h) and immutable once loaded
 * (the scorer pool and the trending cache are the only mutable parts, both
 * under their own mutex). jc_serve_comps_load fills a new snapshot root:
 * for each model / embedding found under the home it reuses the component
 * of the previous snapshot when the file is unchanged (same live version,
 * path, size and mtime, and the same catalog component), and loads it
 * otherwise. So publishing a new model version re-reads only that model;
 * requests in flight keep scoring with the old one until they release the
 * old snapshot.
 *
 * Discovery (the CLI conventions of junco train / embed / index):
 *   <home>/models/<name>/LIVE                 live version of registry <name>
 *   <home>/embeddings/<name>.jemb             embedding <name>
 *   <home>/indexes/<name>.{hnsw,flat}.jann    its ANN index (first found that
 *                                             is not older than the embedding)
 *   <home>/store/data.mdb                     the LMDB feature store
 * A file that fails to load is skipped with a warning (the snapshot
 * degrades, the server keeps serving) and counted in st->load_errors.
 */
#ifndef JC_SERVE_COMPS_H
#define JC_SERVE_COMPS_H

#include "core/buf.h"
#include "serve/rc.h"

#include <junco/ann.h>
#include <junco/config.h>
#include <junco/embed.h>
#include <junco/featspec.h>
#include <junco/model.h>
#include <junco/store.h>

#include <limits.h>
#include <pthread.h>
#include <stdint.h>

#define JC_SERVE_MAX_MODELS 16
#define JC_SERVE_MAX_EMBS   16
#define JC_TREND_MAX        1000 /* items kept in a trending list */

struct jc_serve_state;
struct jc_catalog_comp;

/* One worker's scoring workspace (taken from a model's pool per request). */
struct jc_model_worker {
    struct jc_model_worker *next;
    struct jc_model_scorer *scorer;
    uint32_t cap; /* rows of the batch and buffers */
    struct jc_batch batch;
    float *scores;                /* [cap] */
    uint32_t *items;              /* [cap] catalog ids (JC_ID_NONE for overlay items) */
    struct jc_item_state *ist;    /* [cap] */
    struct jc_item_state *ist_rt; /* [cap] the store's item records before the merge */
    struct jc_store_val *vals;    /* [cap] */
    struct jc_buf arena;          /* store multi-get values */
    struct jc_user_state ustate;  /* the request's user state */
};

/* A live registry model. */
struct jc_model_comp {
    struct jc_rc rc;
    char name[64];       /* registry name (directory under models/) */
    char path[PATH_MAX]; /* the live file */
    uint32_t version;    /* registry version */
    int64_t mtime_ns, size;
    struct jc_catalog_comp *catalog; /* a reference: the spec borrows its catalog */
    struct jc_model *model;
    struct jc_featspec *spec; /* from the model's spec blob, over catalog */
    pthread_mutex_t mu;
    struct jc_model_worker *free_list; /* idle workspaces */
};

/* Takes a workspace able to score n rows (creating or growing one); NULL
 * on JC_ENOMEM (jc_err_set). Return it with jc_model_comp_put. */
struct jc_model_worker *jc_model_comp_get(struct jc_model_comp *m, uint32_t n);
void jc_model_comp_put(struct jc_model_comp *m, struct jc_model_worker *w);

/* An embedding and its index. */
struct jc_emb_comp {
    struct jc_rc rc;
    char name[JC_EMB_NAME_MAX + 1];
    char path[PATH_MAX];
    int64_t mtime_ns, size;
    char index_path[PATH_MAX]; /* "" without an index */
    int64_t index_mtime_ns, index_size;
    const char *index_type;          /* "hnsw", "flat" or "exact" */
    struct jc_catalog_comp *catalog; /* a reference (ids are its dense ids) */
    struct jc_emb *emb;
    struct jc_ann *ann; /* NULL: exact scan */
    int is_mf;          /* ials / bpr: user factor vectors, inner product */
};

/* The feature store, shared by every snapshot of a server, and a trending
 * list built from its pop:<item> records at most every trend_ttl_ms. */
struct jc_store_comp {
    struct jc_rc rc;
    struct jc_store *store;
    double trend_half_life_s;
    int64_t trend_ttl_ms;
    pthread_mutex_t mu; /* guards the trending cache */
    int64_t trend_built_ms;
    const struct jc_catalog *trend_cat; /* catalog the ids resolve in */
    uint32_t n_trend;
    uint32_t trend_item[JC_TREND_MAX];
    float trend_score[JC_TREND_MAX];
};

/* Opens the store of cfg's [store] section under home when it exists (LMDB:
 * <home>/store/data.mdb; Redis: always tried). *out = NULL and JC_OK when
 * there is no store; a store that exists but fails to open is an error. */
int jc_store_comp_open(struct jc_store_comp **out, const char *home, const struct jc_config *cfg,
                       int read_only);

/*
 * Up to cap trending items (dense ids of cat, best first, scores in (0, 1]
 * relative to the best) from the store's pop: records at time now_ms.
 * Returns the count (0 when the store has no popularity records).
 */
uint32_t jc_store_comp_trending(struct jc_store_comp *s, const struct jc_catalog *cat,
                                int64_t now_ms, uint32_t *items, float *scores, uint32_t cap);

/* The catalog's recent popularity: interactions per item within the last
 * 30 days of the catalog's time range, best first (shared by snapshots of
 * one catalog). */
struct jc_trend_comp {
    struct jc_rc rc;
    struct jc_catalog_comp *catalog; /* a reference */
    uint32_t n;
    uint32_t item[JC_TREND_MAX];
    float score[JC_TREND_MAX];
};

/* Options of jc_serve_comps_load. */
struct jc_comps_opts {
    const char *home;
    const struct jc_config *cfg;       /* [serve] models / embeddings / model keys */
    const struct jc_serve_state *prev; /* components to reuse; may be NULL */
    struct jc_store_comp *store;       /* may be NULL; a new reference is taken */
};

/*
 * Fills the model-side components of st (whose data component is set):
 * models, embeddings, trending fallback, store; reusing prev's unchanged
 * components. *changed (may be NULL) = 1 when any component differs from
 * prev's. Errors: JC_ENOMEM only (files that fail to load are skipped).
 */
int jc_serve_comps_load(struct jc_serve_state *st, const struct jc_comps_opts *o, int *changed);
/* Releases the components of st. */
void jc_serve_comps_release(struct jc_serve_state *st);

/* The loaded model for a request name: a registry name, or a model kind
 * name / alias ("deepfm", "neuralcf", "nerualcf", ...) matching the kind of
 * a loaded model (the default model first). NULL when none. */
struct jc_model_comp *jc_serve_find_model(const struct jc_serve_state *st, const char *name);
/* An embedding by name; "emb" / NULL / "" = the default one. NULL if none. */
struct jc_emb_comp *jc_serve_find_emb(const struct jc_serve_state *st, const char *name);

/* Resource bits for the default scene (jc_scenes_build_for). */
#define JC_RES_EMB   1u /* an item embedding (non-MF) */
#define JC_RES_MF    2u /* an MF embedding with user vectors */
#define JC_RES_MODEL 4u /* a ranking model */
#define JC_RES_STORE 8u /* the feature store */

#endif
