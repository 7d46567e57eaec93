/*
 * cmd_similar.c - `junco similar ITEM` (items whose vectors are nearest to
 * the item's) and `junco recommend-emb USER` (items nearest to the user
 * vector, excluding what the user already rated), over a saved embedding.
 *
 * ITEM is an external id or a title: an exact (case-insensitive) title
 * match wins, else the most-rated item whose title contains the text.
 * Search goes through the embedding's ANN index when one exists (auto:
 * hnsw, then flat, then lsh) and its metric fits, else an exact scan.
 */
#include "cli.h"

#include "core/alloc.h"
#include "core/buf.h"
#include "core/json.h"
#include <junco/ann.h>
#include <junco/embed.h>
#include <junco/error.h>

#include <stdio.h>
#include <string.h>
#include <strings.h>

static int find_item(const struct jc_catalog *cat, const char *q, uint32_t *out, int *n_matches)
{
    *n_matches = 0;
    if (jc_catalog_find_item(cat, q, strlen(q), out)) {
        *n_matches = 1;
        return 1;
    }
    uint32_t n = jc_catalog_n_items(cat), best = UINT32_MAX;
    uint64_t best_n = 0;
    for (uint32_t i = 0; i < n; i++) {
        const char *t = jc_catalog_item_title(cat, i);
        if (strcasecmp(t, q) == 0) {
            *out = i;
            *n_matches = 1;
            return 1;
        }
    }
    for (uint32_t i = 0; i < n; i++) {
        if (strcasestr(jc_catalog_item_title(cat, i), q) == NULL)
            continue;
        const uint32_t *pos;
        uint64_t c = jc_catalog_item_interactions(cat, i, &pos);
        (*n_matches)++;
        if (best == UINT32_MAX || c > best_n) {
            best = i;
            best_n = c;
        }
    }
    if (best == UINT32_MAX)
        return 0;
    *out = best;
    return 1;
}

static void genres_text(const struct jc_catalog *cat, uint32_t it, char *out, size_t cap)
{
    const uint16_t *g;
    uint32_t ng = jc_catalog_item_genres(cat, it, &g);
    size_t len = 0;
    out[0] = '\0';
    for (uint32_t k = 0; k < ng && len < cap; k++)
        len += (size_t)snprintf(out + len, cap - len, "%s%s", k ? "|" : "",
                                jc_catalog_genre_name(cat, g[k]));
}

static void item_json(struct jc_json *j, const struct jc_catalog *cat, uint32_t it)
{
    jc_json_kv_str(j, "id", jc_catalog_item_ext_id(cat, it));
    jc_json_kv_str(j, "title", jc_catalog_item_title(cat, it));
    jc_json_key(j, "genres");
    jc_json_arr_begin(j);
    const uint16_t *g;
    uint32_t ng = jc_catalog_item_genres(cat, it, &g);
    for (uint32_t k = 0; k < ng; k++)
        jc_json_str(j, jc_catalog_genre_name(cat, g[k]));
    jc_json_arr_end(j);
}

static void print_hits(const struct jc_catalog *cat, const struct jc_emb_hit *hits, uint32_t n,
                       int json, struct jc_json *j)
{
    char genres[512];
    if (json) {
        jc_json_key(j, "results");
        jc_json_arr_begin(j);
    }
    for (uint32_t r = 0; r < n; r++) {
        uint32_t it = hits[r].item;
        if (json) {
            jc_json_obj_begin(j);
            jc_json_kv_int(j, "rank", r + 1);
            item_json(j, cat, it);
            jc_json_kv_double(j, "score", hits[r].score);
            jc_json_obj_end(j);
        } else {
            genres_text(cat, it, genres, sizeof genres);
            printf("%3u  %.4f  %-8s %s  [%s]\n", r + 1, (double)hits[r].score,
                   jc_catalog_item_ext_id(cat, it), jc_catalog_item_title(cat, it), genres);
        }
    }
    if (json)
        jc_json_arr_end(j);
}

struct common {
    const char *embedding;
    const char *index;
    int64_t n;
    int json;
    int include_derived;
    uint32_t ef;
};

/* Loads catalog, embedding and (maybe) index. */
static int open_all(struct jc_cli *cli, const char *cmd, struct common *c, struct jc_catalog **cat,
                    struct jc_emb **e, struct jc_ann **ix, char *itype, size_t cap)
{
    int rc;
    if ((rc = jc_cli_open_catalog(cli, cat)))
        return rc;
    if ((rc = jc_cli_load_embedding(cli, c->embedding, *cat, e))) {
        jc_catalog_close(*cat);
        return rc;
    }
    if ((rc = jc_cli_open_index(cli, c->embedding, c->index, ix, itype, cap))) {
        jc_emb_destroy(*e);
        jc_catalog_close(*cat);
        return rc;
    }
    (void)cmd;
    return JC_OK;
}

int jc_cmd_similar(struct jc_cli *cli, int argc, char **argv)
{
    struct common c = {NULL, "auto", 10, 0, 0, 0};
    int64_t ef = 0;
    const struct jc_opt opts[] = {
        {"n", 'n', JC_OPT_INT, &c.n, "N", "how many items (default 10)", NULL},
        {"embedding", 'E', JC_OPT_STR, &c.embedding, "NAME", "embedding to use (embed.name)", NULL},
        {"index", 0, JC_OPT_STR, &c.index, "T",
         "auto | none | hnsw | flat | lsh (default auto: an index if one exists)", NULL},
        {"ef", 0, JC_OPT_INT, &ef, "N", "HNSW search list (default: the index's)", NULL},
        {"include-derived", 0, JC_OPT_FLAG, &c.include_derived, NULL,
         "also return items whose vector was derived (below min-count)", NULL},
        {"json", 0, JC_OPT_FLAG, &c.json, NULL, "machine-readable output", NULL},
        {NULL, 0, 0, NULL, NULL, NULL, NULL},
    };
    const char *pos[1];
    int n_pos = 0;
    int rc = jc_cli_parse(cli, "similar", "ITEM [--n 10] [--embedding NAME] [--json]",
                          "Prints the items most similar (cosine) to ITEM in an embedding.\n"
                          "ITEM is an external id (e.g. 1) or a title or part of one\n"
                          "(\"Toy Story (1995)\"; the most-rated match wins).",
                          opts, argc, argv, pos, 1, &n_pos);
    if (rc >= 0)
        return rc;
    if (n_pos != 1)
        return jc_cli_usage("similar", "give one ITEM (an id or a title)");
    if (c.n < 1 || c.n > 10000)
        return jc_cli_usage("similar", "--n must be in [1, 10000]");
    if (ef < 0 || ef > 100000)
        return jc_cli_usage("similar", "--ef must be in [0, 100000]");
    if (c.embedding == NULL)
        c.embedding = cli->cfg.embed_name;
    struct jc_catalog *cat;
    struct jc_emb *e;
    struct jc_ann *ix;
    char itype[16];
    if ((rc = open_all(cli, "similar", &c, &cat, &e, &ix, itype, sizeof itype)))
        return jc_cli_fail(rc);
    if (ix) {
        struct jc_ann_info in;
        jc_ann_info(ix, &in);
        if (in.metric != JC_ANN_COSINE) {
            jc_ann_destroy(ix);
            ix = NULL;
            snprintf(itype, sizeof itype, "exact");
        }
    }
    uint32_t item;
    int n_matches;
    if (!find_item(cat, pos[0], &item, &n_matches)) {
        rc = jc_err_set(JC_ENOTFOUND, "no item with id or title '%s'", pos[0]);
    } else {
        if (n_matches > 1 && !cli->quiet)
            fprintf(stderr, "junco: note: %d titles contain '%s'; using %s (%s)\n", n_matches,
                    pos[0], jc_catalog_item_title(cat, item), jc_catalog_item_ext_id(cat, item));
        if (jc_emb_item_status(e, item) == JC_EMB_NONE)
            rc = jc_err_set(
                JC_ENOTFOUND, "item %s (%s) has no vector in embedding '%s' (no positive event)",
                jc_catalog_item_ext_id(cat, item), jc_catalog_item_title(cat, item), c.embedding);
    }
    struct jc_emb_hit *hits = NULL;
    uint32_t nh = 0;
    if (rc == JC_OK) {
        hits = jc_malloc_array((size_t)c.n, sizeof *hits);
        struct jc_emb_search_opts so;
        jc_emb_search_opts_default(&so);
        so.include_derived = c.include_derived;
        so.index = ix;
        so.ef = (uint32_t)ef;
        rc = hits ? jc_emb_similar(e, item, (uint32_t)c.n, &so, hits, &nh) : JC_ENOMEM;
    }
    if (rc == JC_OK) {
        struct jc_buf b;
        struct jc_json j;
        if (c.json) {
            jc_buf_init(&b, 0);
            jc_json_init(&j, &b, 0);
            jc_json_obj_begin(&j);
            jc_json_kv_str(&j, "embedding", c.embedding);
            jc_json_kv_str(&j, "method", jc_embed_method_name(jc_emb_method(e)));
            jc_json_kv_str(&j, "search", itype);
            jc_json_key(&j, "query");
            jc_json_obj_begin(&j);
            item_json(&j, cat, item);
            jc_json_kv_str(&j, "vector",
                           jc_emb_item_status(e, item) == JC_EMB_TRAINED ? "trained" : "derived");
            jc_json_obj_end(&j);
        } else {
            char genres[512];
            genres_text(cat, item, genres, sizeof genres);
            printf("similar to %s  %s  [%s]  (embedding %s, %s, %s search)\n",
                   jc_catalog_item_ext_id(cat, item), jc_catalog_item_title(cat, item), genres,
                   c.embedding, jc_embed_method_name(jc_emb_method(e)), itype);
        }
        print_hits(cat, hits, nh, c.json, &j);
        if (c.json) {
            jc_json_obj_end(&j);
            if (jc_json_finish(&j) == JC_OK)
                printf("%s\n", b.data);
            jc_buf_free(&b);
        }
    }
    jc_free(hits);
    jc_ann_destroy(ix);
    jc_emb_destroy(e);
    jc_catalog_close(cat);
    return rc ? jc_cli_fail(rc) : JC_EXIT_OK;
}

int jc_cmd_recommend_emb(struct jc_cli *cli, int argc, char **argv)
{
    struct common c = {NULL, "auto", 10, 0, 0, 0};
    int64_t ef = 0;
    double half_life = -1;
    const struct jc_opt opts[] = {
        {"n", 'n', JC_OPT_INT, &c.n, "N", "how many items (default 10)", NULL},
        {"embedding", 'E', JC_OPT_STR, &c.embedding, "NAME", "embedding to use (embed.name)", NULL},
        {"index", 0, JC_OPT_STR, &c.index, "T",
         "auto | none | hnsw | flat | lsh (default auto: an index if one exists)", NULL},
        {"ef", 0, JC_OPT_INT, &ef, "N", "HNSW search list (default: the index's)", NULL},
        {"half-life", 0, JC_OPT_DBL, &half_life, "DAYS",
         "recency half-life of a derived user vector (embed.user_half_life)", NULL},
        {"include-derived", 0, JC_OPT_FLAG, &c.include_derived, NULL,
         "also return items whose vector was derived (below min-count)", NULL},
        {"json", 0, JC_OPT_FLAG, &c.json, NULL, "machine-readable output", NULL},
        {NULL, 0, 0, NULL, NULL, NULL, NULL},
    };
    const char *pos[1];
    int n_pos = 0;
    int rc = jc_cli_parse(cli, "recommend-emb", "USER [--n 10] [--embedding NAME] [--json]",
                          "Recommends the items nearest to USER's vector (the factor vector of\n"
                          "ials/bpr, else the mean of the vectors of the items the user rated\n"
                          ">= embed.threshold), excluding every item the user already rated.",
                          opts, argc, argv, pos, 1, &n_pos);
    if (rc >= 0)
        return rc;
    if (n_pos != 1)
        return jc_cli_usage("recommend-emb", "give one USER id");
    if (c.n < 1 || c.n > 10000)
        return jc_cli_usage("recommend-emb", "--n must be in [1, 10000]");
    if (ef < 0 || ef > 100000)
        return jc_cli_usage("recommend-emb", "--ef must be in [0, 100000]");
    if (c.embedding == NULL)
        c.embedding = cli->cfg.embed_name;
    if (half_life < 0)
        half_life = cli->cfg.embed_user_half_life;
    struct jc_catalog *cat;
    struct jc_emb *e;
    struct jc_ann *ix;
    char itype[16];
    if ((rc = open_all(cli, "recommend-emb", &c, &cat, &e, &ix, itype, sizeof itype)))
        return jc_cli_fail(rc);
    enum jc_embed_method meth = jc_emb_method(e);
    int ip = meth == JC_EMBED_IALS || meth == JC_EMBED_BPR;
    if (ix) {
        struct jc_ann_info in;
        jc_ann_info(ix, &in);
        if (in.metric != (ip ? JC_ANN_IP : JC_ANN_COSINE)) {
            jc_ann_destroy(ix);
            ix = NULL;
            snprintf(itype, sizeof itype, "exact");
        }
    }
    uint32_t user;
    float *uvec = jc_malloc_array(jc_emb_dim(e), sizeof *uvec);
    uint8_t *excl = jc_calloc(jc_emb_n_items(e) / 8 + 1, 1);
    struct jc_emb_hit *hits = jc_malloc_array((size_t)c.n, sizeof *hits);
    uint32_t nh = 0, n_rated = 0;
    if (!uvec || !excl || !hits)
        rc = JC_ENOMEM;
    else if (!jc_catalog_find_user(cat, pos[0], strlen(pos[0]), &user))
        rc = jc_err_set(JC_ENOTFOUND, "no user with id '%s'", pos[0]);
    else
        rc = jc_emb_user_vector_for(e, cat, user, cli->cfg.embed_threshold, half_life * 86400.0,
                                    INT64_MAX, uvec);
    if (rc == JC_OK) {
        struct jc_interactions ixs;
        jc_catalog_interactions(cat, &ixs);
        uint64_t b, end;
        jc_catalog_user_range(cat, user, &b, &end);
        for (uint64_t p = b; p < end; p++) {
            uint32_t it = ixs.item[p];
            if (it < jc_emb_n_items(e)) {
                n_rated += !(excl[it >> 3] & (1u << (it & 7)));
                excl[it >> 3] |= (uint8_t)(1u << (it & 7));
            }
        }
        struct jc_emb_search_opts so;
        jc_emb_search_opts_default(&so);
        so.cosine = !ip;
        so.include_derived = c.include_derived;
        so.exclude = excl;
        so.index = ix;
        so.ef = (uint32_t)(ef ? (uint64_t)ef : (uint64_t)c.n + n_rated + 64);
        rc = jc_emb_search(e, uvec, (uint32_t)c.n, &so, hits, &nh);
    }
    if (rc == JC_OK) {
        struct jc_buf b;
        struct jc_json j;
        int has_factor = jc_emb_user_vec(e, user) != NULL;
        if (c.json) {
            jc_buf_init(&b, 0);
            jc_json_init(&j, &b, 0);
            jc_json_obj_begin(&j);
            jc_json_kv_str(&j, "user", jc_catalog_user_ext_id(cat, user));
            jc_json_kv_str(&j, "embedding", c.embedding);
            jc_json_kv_str(&j, "method", jc_embed_method_name(meth));
            jc_json_kv_str(&j, "user_vector", has_factor ? "factor" : "mean of items");
            jc_json_kv_int(&j, "excluded", n_rated);
            jc_json_kv_str(&j, "search", itype);
        } else {
            printf("recommendations for user %s  (embedding %s, %s, user vector: %s, %u rated "
                   "items excluded, %s search)\n",
                   jc_catalog_user_ext_id(cat, user), c.embedding, jc_embed_method_name(meth),
                   has_factor ? "factor" : "mean of items", n_rated, itype);
        }
        print_hits(cat, hits, nh, c.json, &j);
        if (c.json) {
            jc_json_obj_end(&j);
            if (jc_json_finish(&j) == JC_OK)
                printf("%s\n", b.data);
            jc_buf_free(&b);
        }
    }
    jc_free(uvec);
    jc_free(excl);
    jc_free(hits);
    jc_ann_destroy(ix);
    jc_emb_destroy(e);
    jc_catalog_close(cat);
    return rc ? jc_cli_fail(rc) : JC_EXIT_OK;
}
