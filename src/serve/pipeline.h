/*
 * pipeline.h - the recommendation pipeline: recall -> rank -> re-rank.
 *
 * A scene (configured in junco.ini as [scene.NAME], "default" built in)
 * names an ordered list of recall channels with quotas and weights, one
 * ranker and a list of re-rankers. A request runs:
 *   1. user context: history range, mean value, genre preferences, and the
 *      set of items to skip (watched + the request's exclude list);
 *   2. recall: each channel appends up to `quota` candidates to one
 *      de-duplicated set, recording its own score per candidate; the merged
 *      recall score is the weighted sum of the channel scores;
 *   3. ranking: the ranker writes one score per candidate; if the requested
 *      model is not loaded, the scene's ranker runs; if the ranker fails
 *      (the `model` ranker without a model, a scoring error, out of
 *      memory) the merged recall score ranks; either way the result says
 *      so (fallback, fallback_code "not_loaded" / "error"); then the
 *      scene's business rules (struct jc_rule) boost, bury or filter;
 *   4. re-ranking: each re-ranker reorders a window at the head of the
 *      ranked list (MMR diversity, per-genre caps), then the page
 *      [offset, offset + n) is returned.
 * Every candidate keeps its channel bits and per-stage scores, which is what
 * explain=1 shows.
 *
 * Extension points (phase 2): add a struct jc_recall_channel (ANN around
 * the user vector / recent items), a struct jc_ranker that scores with a
 * registry model, or a struct jc_reranker to the tables in pipeline.c;
 * their resources come from the snapshot (req->st), never from globals, so
 * hot reload swaps them with the snapshot. Similar items go through struct
 * jc_similar_provider the same way.
 *
 * Threading: functions are reentrant; per-request scratch memory is
 * thread-local and reused between requests of one thread.
 */
#ifndef JC_SERVE_PIPELINE_H
#define JC_SERVE_PIPELINE_H

#include "serve/state.h"

#include <junco/config.h>

#include <stddef.h>
#include <stdint.h>

#define JC_PIPE_MAX_CHANNELS  8
#define JC_PIPE_MAX_RERANKERS 4
#define JC_PIPE_MAX_EXCLUDE   1000
#define JC_PIPE_MAX_RULES     8

struct jc_cand {
    uint32_t item;
    uint32_t channels;                    /* bit c: channel c recalled it */
    float ch_score[JC_PIPE_MAX_CHANNELS]; /* per-channel score in [0, 1] */
    float recall;                         /* weighted sum of channel scores */
    float rank;                           /* ranker score */
    float final;                          /* re-ranker objective (or rank) */
    uint32_t rank_pos;                    /* position after ranking */
};

struct jc_pipe_req;

struct jc_recall_channel {
    const char *name;
    const char *help;
    /* Adds up to quota candidates with jc_pipe_add(). JC_OK or an error
     * (the channel is then skipped and counted as failed). */
    int (*recall)(struct jc_pipe_req *rq, int ch, uint32_t quota);
};

struct jc_ranker {
    const char *name;
    const char *help;
    /* Writes c[i].rank for i < n. Errors make the pipeline fall back. */
    int (*score)(struct jc_pipe_req *rq, struct jc_cand *c, size_t n);
};

struct jc_reranker {
    const char *name;
    const char *help;
    /* Reorders c[0..n) so that the first k are the best page head;
     * sets c[i].final. */
    int (*rerank)(struct jc_pipe_req *rq, struct jc_cand *c, size_t n, size_t k);
};

/*
 * A business rule of a scene (key `rules`): "ACTION:COND[:FACTOR]", e.g.
 * "bury:genre=Horror:0.5", "boost:year>=2000:1.5", "filter:year<1950".
 * ACTION: boost / bury multiply the rank score of matching candidates by
 * FACTOR (> 0; default 1.5 for boost, 0.5 for bury), filter drops them.
 * COND: FIELD OP VALUE with FIELD genre (OP = or !=, VALUE a genre name),
 * year, count (interactions), rating (damped mean) (OP = != < <= > >=,
 * VALUE a number), item (OP = or !=, VALUE an external item id).
 * Rules apply after ranking and before re-ranking, in order.
 */
enum jc_rule_action { JC_RULE_BOOST = 0, JC_RULE_BURY = 1, JC_RULE_FILTER = 2 };
enum jc_rule_field { JC_RF_GENRE = 0, JC_RF_YEAR, JC_RF_COUNT, JC_RF_RATING, JC_RF_ITEM };
enum jc_rule_op { JC_OP_EQ = 0, JC_OP_NE, JC_OP_LT, JC_OP_LE, JC_OP_GT, JC_OP_GE };

struct jc_rule {
    enum jc_rule_action action;
    enum jc_rule_field field;
    enum jc_rule_op op;
    float factor;
    double num;    /* numeric fields */
    char text[64]; /* genre name or external item id */
};

struct jc_scene {
    char name[64];
    int n_recall;
    struct {
        const struct jc_recall_channel *ch;
        uint32_t quota;
        float weight;
    } recall[JC_PIPE_MAX_CHANNELS];
    const struct jc_ranker *ranker;
    char model[64]; /* ranker "model:NAME": the registry model; "" = default */
    int n_rerank;
    const struct jc_reranker *rerank[JC_PIPE_MAX_RERANKERS];
    double diversity;   /* MMR: weight of (1 - max similarity), 0..1 */
    uint32_t genre_cap; /* at most this many items per first genre, 0 = off */
    int n_rules;
    struct jc_rule rules[JC_PIPE_MAX_RULES];
};

/* Keys of a scene, as bits of struct jc_scene_patch. */
#define JC_SCENE_SET_RECALL    1u
#define JC_SCENE_SET_RANKER    2u
#define JC_SCENE_SET_RERANK    4u
#define JC_SCENE_SET_DIVERSITY 8u
#define JC_SCENE_SET_GENRE_CAP 16u
#define JC_SCENE_SET_RULES     32u

/* A set of scene keys with values: what an A/B variant overrides. The
 * values are parsed and validated once, when the config is compiled;
 * applying a patch to a request's copy of a scene is a few assignments. */
struct jc_scene_patch {
    unsigned set;      /* JC_SCENE_SET_* bits */
    struct jc_scene v; /* values of the keys in set */
};

/* Parses one scene key (recall, ranker, rerank, diversity, genre_cap) into
 * p (start from a zeroed patch). Errors are JC_EINVAL with messages that
 * start with `where`, e.g. "[variant.x.b] ranker: unknown ranker 'y'". */
int jc_scene_patch_set(struct jc_scene_patch *p, const char *where, const char *key,
                       const char *value);
/* Overwrites the keys that p sets. */
void jc_scene_patch_apply(struct jc_scene *sc, const struct jc_scene_patch *p);
/* The key name of one JC_SCENE_SET_* bit ("?" otherwise). */
const char *jc_scene_key_name(unsigned bit);

struct jc_scenes {
    int n;
    struct jc_scene *v; /* v[0] is "default" */
};

/* Compiles the built-in default scene plus every [scene.NAME] section of
 * cfg (keys: recall = "chan:quota[:weight],...", ranker, rerank = "a,b",
 * diversity, genre_cap). Unknown keys, channels or rankers are JC_EINVAL
 * naming the section and key. cfg may be NULL. */
int jc_scenes_build(struct jc_scenes **out, const struct jc_config *cfg);
/* The same with the default scene chosen for the resources found
 * (JC_RES_* bits of comps.h): with an item embedding, recall is
 * emb_user:200, emb_item:150, mf:150 (with an MF embedding), cooc:150,
 * genre_pref:100:0.8, trending:50:0.5, popular:50:0.3; with a model the
 * ranker is `model`. Without them, the phase-1 default (genre_pref:200,
 * cooc:200, popular:100:0.5, heuristic). */
int jc_scenes_build_for(struct jc_scenes **out, const struct jc_config *cfg, unsigned resources);
void jc_scenes_destroy(struct jc_scenes *s);
const struct jc_scene *jc_scenes_find(const struct jc_scenes *s, const char *name);

/* Tables of what can be named in scenes and requests. */
const struct jc_recall_channel *jc_pipeline_channel(const char *name);
const struct jc_ranker *jc_pipeline_ranker(const char *name);
const struct jc_reranker *jc_pipeline_reranker(const char *name);

/* Recognised model names in requests (the reference's names, including
 * its misspelling "nerualcf"); 1 if known. Models that are known but not
 * loaded fall back to the scene's ranker. */
int jc_pipeline_model_known(const char *name);

struct jc_reco_query {
    int has_user; /* 0: anonymous (cold start) */
    uint32_t user;
    uint32_t n, offset;
    const uint32_t *exclude; /* items to skip */
    size_t n_exclude;
    int32_t genre;     /* only items of this genre; -1 = any */
    const char *model; /* ranker/model name requested, NULL = scene's */
    int64_t now;       /* request time (Unix s) for features; 0 = wall clock */
};

struct jc_reco_result {
    struct jc_cand *items; /* owned (jc_free): the page */
    size_t n;
    size_t n_candidates; /* after recall, de-duplication and filters */
    const char *ranker;  /* the ranker that produced the scores */
    int fallback;        /* 1: the requested model was not used */
    char fallback_reason[128];
    const char *fallback_code;  /* metric label: not_loaded, error (NULL if none) */
    const char *fallback_model; /* the model label of the fallback metric */
    const char *model_name;     /* registry model that ranked, or NULL */
    uint32_t model_version;
    uint32_t channel_skipped;                      /* bit c: channel c lacked its resource */
    uint32_t channel_failed;                       /* bit c: channel c failed (error) */
    int realtime;                                  /* 1: the store's realtime user state was used */
    uint64_t stage_ns[3];                          /* recall, rank, rerank */
    uint32_t channel_counts[JC_PIPE_MAX_CHANNELS]; /* candidates per channel */
};

/* Runs the pipeline of scene sc for q. Errors: JC_ENOMEM. */
int jc_pipeline_recommend(const struct jc_serve_state *st, const struct jc_scene *sc,
                          const struct jc_reco_query *q, struct jc_reco_result *res);
void jc_reco_result_free(struct jc_reco_result *res);

/*
 * Scores items for one user with the loaded registry model named `model`
 * (registry name or kind, NULL = the default model), exactly as the
 * `model` ranker does: out[i] is the probability for items[i] (view ids).
 * user is a view user id, or UINT32_MAX for an anonymous user. now: Unix
 * seconds (0 = wall clock). *used (may be NULL) gets the model component.
 * Errors: JC_ENOTFOUND (no such model loaded), JC_EINVAL (an item out of
 * range), JC_ENOMEM, the scorer's.
 */
struct jc_model_comp;
struct jc_user_state;
struct jc_featspec;
struct jc_interactions;
/*
 * The user state of interactions [b, e) of one user (time order) after
 * jc_user_state_init: identical to calling jc_user_state_add for every
 * event, but replays only the suffix that fills the window and positives
 * rings and sets the lifetime counters directly (O(e - b) compares plus
 * O(window + span of the last `history` positives) adds).
 */
void jc_pipeline_replay_user(struct jc_user_state *us, const struct jc_featspec *spec,
                             const struct jc_interactions *in, uint64_t b, uint64_t e);
int jc_pipeline_score_items(const struct jc_serve_state *st, const char *model, uint32_t user,
                            const uint32_t *items, size_t n, int64_t now, float *out,
                            const struct jc_model_comp **used);

/* ---- similar items ---------------------------------------------------- */

struct jc_sim {
    uint32_t item;
    float score;
    float cooc;    /* normalised co-occurrence in [0, 1] */
    float jaccard; /* genre Jaccard */
};

struct jc_similar_provider {
    const char *name;
    int (*similar)(const struct jc_serve_state *st, uint32_t item, uint32_t n, struct jc_sim *out,
                   size_t *n_out);
};

struct jc_sim_result {
    struct jc_sim *items; /* owned (jc_free) */
    size_t n;
    const char *provider;
    int fallback;
};

/* Items similar to `item` with the provider named by model (NULL or an
 * unavailable one: the co-occurrence + genre provider, fallback = 1 when a
 * name was given but not served). */
int jc_pipeline_similar(const struct jc_serve_state *st, uint32_t item, uint32_t n,
                        const char *model, struct jc_sim_result *res);
void jc_sim_result_free(struct jc_sim_result *res);

/* ---- user profile ------------------------------------------------------ */

struct jc_genre_pref {
    uint32_t genre;
    uint32_t count; /* interactions with items of this genre */
    float share;    /* count / interactions */
    float mean;     /* mean value on this genre */
    float score;    /* preference used by the pipeline */
};

/* The user's genre preferences, best first (at most cap). Returns the
 * number written. */
size_t jc_pipeline_user_genres(const struct jc_serve_state *st, uint32_t user,
                               struct jc_genre_pref *out, size_t cap);

/* Genre Jaccard similarity of two items of the served view. */
float jc_pipeline_genre_jaccard(const struct jc_view *v, uint32_t a, uint32_t b);

/* Used by channels: adds item to the candidate set with this channel's
 * score (ignored when the item is filtered or already scored higher). */
void jc_pipe_add(struct jc_pipe_req *rq, int ch, uint32_t item, float score);

#endif
