/*
 * junco/model.h - the ranking model zoo, the model file, the registry and
 * the scoring API used by serving and online learning.
 *
 * A model is built from a feature layout (junco/features.h) and a
 * struct jc_model_config: LR, FM, Embedding-MLP, Wide&Deep, NeuralCF
 * (NeuMF), two-tower, DeepFM and DIN (and DCN-v2). Every categorical field
 * embeds through one table per vocabulary (fields that share a vocabulary,
 * such as movieId and the recent-items sequence, share the table);
 * multi-valued fields are mean-pooled over their non-padding slots; numeric
 * fields enter the networks as values. The input of every network is
 * ordered [user+context side | item side], which lets the scorer compute
 * the user side once per request (see jc_model_score).
 *
 * Ownership and threading: a struct jc_model is immutable while it is being
 * scored, so any number of threads may score one model, each with its own
 * struct jc_model_scorer (a per-thread workspace). jc_model_learn mutates the
 * model: serialise it against scoring (e.g. learn on a jc_model_clone and
 * swap it in). No function here prints; errors come with jc_errmsg().
 */
#ifndef JUNCO_MODEL_H
#define JUNCO_MODEL_H

#include <junco/features.h>
#include <junco/nn.h>

#include <stddef.h>
#include <stdint.h>

enum jc_model_kind {
    JC_MODEL_LR = 1,
    JC_MODEL_FM = 2,
    JC_MODEL_MLP = 3,      /* Embedding-MLP ("embedding + MLP") */
    JC_MODEL_WIDEDEEP = 4, /* Wide&Deep with hashed crossed features */
    JC_MODEL_NEUMF = 5,    /* NeuralCF: GMF + MLP towers */
    JC_MODEL_TWOTOWER = 6, /* user tower . item tower */
    JC_MODEL_DEEPFM = 7,
    JC_MODEL_DIN = 8, /* attention over the recent-positive sequence */
    JC_MODEL_DCN = 9, /* DCN-v2: cross network + deep network */
};
#define JC_MODEL_KIND_MAX 9

/* "lr", "fm", "mlp", "widedeep", "neumf", "twotower", "deepfm", "din",
 * "dcn" (aliases accepted by parse: "embmlp", "wide_deep", "wdl",
 * "neuralcf", "ncf", "two_tower", "dcnv2"). Parse returns 0 or -1. */
const char *jc_model_kind_name(enum jc_model_kind k);
int jc_model_kind_parse(const char *s, enum jc_model_kind *out);

enum jc_model_loss {
    JC_LOSS_BCE = 0,     /* binary cross-entropy on the label */
    JC_LOSS_SOFTMAX = 1, /* two-tower: in-batch sampled softmax over positives */
};

#define JC_MODEL_MAX_HIDDEN 8

struct jc_model_config {
    enum jc_model_kind kind;
    uint32_t emb_dim;                     /* embedding size of every field */
    uint32_t n_hidden;                    /* hidden layers of the deep part */
    uint32_t hidden[JC_MODEL_MAX_HIDDEN]; /* their widths */
    enum jc_nn_act act;                   /* hidden activation (relu; DIN prelu/dice) */
    float dropout;                        /* on hidden layers while training */
    int layer_norm;                       /* layer normalisation after each hidden dense */
    uint32_t tower_dim;                   /* two-tower output size */
    uint32_t att_hidden;                  /* DIN attention unit width */
    uint32_t cross_buckets;               /* Wide&Deep hashed crosses (power of two) */
    uint32_t cross_layers;                /* DCN-v2 cross layers */
    enum jc_model_loss loss;              /* two-tower only */
    float temperature;                    /* two-tower softmax temperature */
    struct jc_optim_config opt;           /* embeddings and deep parts */
    struct jc_optim_config opt_wide;      /* linear / wide parts (LR, FM 1st order, wide) */
    uint64_t seed;                        /* initialisation and dropout */
};

/*
 * Defaults for a model kind: the settings documented in docs/MODELS.md that
 * work well on ml-latest-small (embedding 16, hidden 128,64 ReLU, Adam
 * lr 1e-3; per-model adjustments there). Fills every field.
 */
void jc_model_config_default(struct jc_model_config *c, enum jc_model_kind kind);

struct jc_model;

/*
 * Builds a freshly initialised model for this layout (copied). Validates the
 * config and that the layout has what the kind needs (e.g. DIN needs an
 * item-side CAT field and a user-side SEQ field of the same vocabulary; the
 * two-tower model needs fields on both sides): JC_EINVAL with the reason.
 */
int jc_model_create(struct jc_model **out, const struct jc_model_config *cfg,
                    const struct jc_feat_layout *layout);
void jc_model_destroy(struct jc_model *m);
/* A deep copy (weights and optimizer state). */
int jc_model_clone(struct jc_model **out, const struct jc_model *m);

/* Borrowed views, valid for the model's lifetime. */
const struct jc_model_config *jc_model_config(const struct jc_model *m);
const struct jc_feat_layout *jc_model_layout(const struct jc_model *m);
/* Number of trainable floats (dense + tables). */
uint64_t jc_model_n_weights(const struct jc_model *m);

/*
 * Metadata stored in the model file: an opaque feature-spec blob (the
 * compiled spec of junco/featspec.h, so serving rebuilds the exact features)
 * and a JSON object of training facts (metrics, data checksum, ...). Both
 * are copied. The getters return borrowed pointers (NULL/0 when unset).
 */
int jc_model_set_spec(struct jc_model *m, const void *blob, size_t len);
const void *jc_model_spec(const struct jc_model *m, size_t *len);
int jc_model_set_info(struct jc_model *m, const char *json);
const char *jc_model_info(const struct jc_model *m);

/*
 * The model file: magic "JCMODEL\0", format version, a JSON header (kind,
 * config, layout, seed, step, info), the spec blob, the named tensors (and,
 * with with_state, the optimizer state so training can resume and online
 * learning can continue), and an xxh3 checksum of everything. Written
 * atomically. Loading validates magic, version, checksum, the layout and
 * every tensor's name and shape: JC_ECORRUPT / JC_EVERSION with a message
 * naming the path and the problem.
 */
int jc_model_save(const struct jc_model *m, const char *path, int with_state);
int jc_model_load(struct jc_model **out, const char *path);

/*
 * Registry of versioned models in a directory (<home>/models/<name>/):
 * jc_model_publish writes the next version "v<N>.jcm" and then atomically
 * replaces the file "LIVE" (magic, version, file name, checksum) that names
 * it, so a reader sees the old or the new version, never a mix.
 * jc_model_registry_live gives the path of the live file (JC_ENOTFOUND if
 * nothing was published) and its version number.
 */
int jc_model_publish(const struct jc_model *m, const char *dir, int with_state,
                     uint32_t *version_out);
int jc_model_registry_live(const char *dir, char *path_out, size_t cap, uint32_t *version_out);

/*
 * Changes the step sizes of the two parameter groups of a (loaded) model
 * for further training or online learning: lr for embeddings and deep
 * parts, lr_wide for the linear/wide parts; a value <= 0 keeps the current
 * one. Optimizer kinds and state are unchanged. JC_EINVAL for NaN/inf.
 * Not thread-safe against concurrent learning on the same model.
 */
int jc_model_set_lr(struct jc_model *m, float lr, float lr_wide);

/* ---- scoring (the serving hot path) ------------------------------------ */

struct jc_model_scorer;

/*
 * A per-thread workspace for scoring batches of up to max_rows rows with m.
 * Buffers grow on first use ("warm-up") and are reused: after one call with
 * the largest batch, scoring does not allocate. The scorer borrows m, which
 * must outlive it.
 */
int jc_model_scorer_create(struct jc_model_scorer **out, const struct jc_model *m,
                           uint32_t max_rows);
void jc_model_scorer_destroy(struct jc_model_scorer *s);

/*
 * Scores one request: b holds one row per candidate whose user- and
 * context-side fields are identical (only row 0's are read, once); item-side
 * fields vary per row. Writes probabilities scores[0..b->n). JC_ELIMIT if
 * b->n > max_rows, JC_ERANGE for an id outside its vocabulary.
 */
int jc_model_score(struct jc_model_scorer *s, const struct jc_batch *b, float *scores);
/* Scores independent rows (each its own user): probabilities. */
int jc_model_score_rows(struct jc_model_scorer *s, const struct jc_batch *b, float *scores);

/*
 * Two-tower retrieval vectors (tower_dim floats each, before the dot
 * product): the user vector of row `row`, and the item vectors of every row
 * of b into out [b->n x tower_dim]. JC_EINVAL for other kinds.
 */
int jc_model_user_vector(struct jc_model_scorer *s, const struct jc_batch *b, uint32_t row,
                         float *out);
int jc_model_item_vectors(struct jc_model_scorer *s, const struct jc_batch *b, float *out);

/*
 * Online learning: one optimizer step of m on the rows of b (n = 1 applies
 * one example's update), with the model's own optimizers (FTRL-proximal for
 * the wide/linear parts when cfg.opt_wide is FTRL). The scorer provides the
 * workspace (gradient buffers are allocated on its first learn call).
 * Needs the optimizer state: a model loaded from a file saved without it
 * starts from fresh state. *loss (may be NULL) receives the mean loss.
 */
int jc_model_learn(struct jc_model *m, struct jc_model_scorer *s, const struct jc_batch *b,
                   double *loss);

#endif
