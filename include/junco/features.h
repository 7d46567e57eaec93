/*
 * junco/features.h - the feature layout and sample batches: the contract
 * between the feature pipeline (src/feature/), the models (src/model/),
 * training, and online serving.
 *
 * A feature spec (declared in junco.ini or a spec file; see
 * docs/FEATURES.md) is compiled into a struct jc_feat_layout:
 *   - vocabularies: dense id spaces shared by fields (e.g. "item" is used by
 *     movieId, ratedItem1..5 and the history sequence; "genre" by genre1..3
 *     and topGenre1..5). Id 0 means "missing / padding", id 1 means
 *     "out of vocabulary"; real values start at 2.
 *   - fields: each has a kind, a vocabulary (categorical kinds), a width
 *     (1, or the number of slots of a multi-valued field), an offset into
 *     the row's categorical slots or numeric values, and a side (user, item
 *     or context) that tells serving which fields are computed once per
 *     request and which per candidate.
 * A sample row is fixed-size: label, raw value, user and item (catalog ids),
 * timestamp, n_cat uint32 categorical slots and n_num float numeric values
 * (already normalised with statistics of the training split). Multi-valued
 * fields (MULTI, SEQ) fill their slots from the left, newest first for SEQ,
 * and pad with 0; models mask padding by testing for 0.
 *
 * Threading: layouts are immutable after construction; batches belong to
 * one thread.
 */
#ifndef JUNCO_FEATURES_H
#define JUNCO_FEATURES_H

#include <stddef.h>
#include <stdint.h>

#define JC_FEAT_NAME_MAX   32
#define JC_FEAT_MAX_FIELDS 64
#define JC_FEAT_MAX_VOCABS 16
#define JC_FEAT_PAD        0u /* padding / missing */
#define JC_FEAT_OOV        1u /* out of vocabulary */

enum jc_feat_kind {
    JC_FEAT_CAT = 1,   /* one categorical id */
    JC_FEAT_MULTI = 2, /* a set of ids (genres, tags), width slots */
    JC_FEAT_NUM = 3,   /* one float */
    JC_FEAT_SEQ = 4,   /* ordered ids, newest first (recent positives), width slots */
};

enum jc_feat_side {
    JC_SIDE_USER = 0,    /* depends on the user (and time) only */
    JC_SIDE_ITEM = 1,    /* depends on the candidate item (and time) only */
    JC_SIDE_CONTEXT = 2, /* depends on the request (hour, weekday) */
};

struct jc_feat_vocab {
    char name[JC_FEAT_NAME_MAX];
    uint32_t size; /* ids are 0..size-1, including PAD and OOV */
};

struct jc_feat_field {
    char name[JC_FEAT_NAME_MAX];
    enum jc_feat_kind kind;
    enum jc_feat_side side;
    uint32_t vocab;  /* index into layout.vocabs (CAT, MULTI, SEQ) */
    uint32_t width;  /* 1 for CAT and NUM */
    uint32_t offset; /* first slot in cat[] (CAT, MULTI, SEQ) or num[] (NUM) */
};

struct jc_feat_layout {
    uint32_t n_fields;
    struct jc_feat_field fields[JC_FEAT_MAX_FIELDS];
    uint32_t n_vocabs;
    struct jc_feat_vocab vocabs[JC_FEAT_MAX_VOCABS];
    uint32_t n_cat; /* categorical slots per row */
    uint32_t n_num; /* numeric values per row */
};

/*
 * A batch of rows in struct-of-arrays form. cat is n x n_cat (row-major),
 * num is n x n_num (row-major). The arrays are owned by whoever filled the
 * batch (a sample reader, the serving feature builder) unless stated.
 */
struct jc_batch {
    uint32_t n;
    uint32_t cap;
    float *label;   /* 0/1 */
    float *value;   /* raw interaction value (rating) */
    uint32_t *user; /* catalog user id */
    uint32_t *item; /* catalog item id */
    int64_t *time;  /* Unix seconds */
    uint32_t *cat;  /* n x layout.n_cat */
    float *num;     /* n x layout.n_num */
};

/* Index of the field with this name, or -1. */
int jc_feat_layout_find(const struct jc_feat_layout *l, const char *name);
/* Index of the vocabulary with this name, or -1. */
int jc_feat_layout_find_vocab(const struct jc_feat_layout *l, const char *name);

/* Allocates a batch able to hold cap rows of this layout. JC_ENOMEM. */
int jc_batch_init(struct jc_batch *b, const struct jc_feat_layout *l, uint32_t cap);
void jc_batch_free(struct jc_batch *b);

#endif
