/*
 * test_serve_models.c - unit tests of serving phase 2 on the bundled
 * MovieLens data: the model-side snapshot components (registry models,
 * embeddings + ANN index, sharing between snapshots), the recall channels
 * emb_user / emb_item / mf / trending (candidates when their resource
 * exists, skipped when not), the `model` ranker (changes the order, falls
 * back to the recall score with a reason), business rules, similar items
 * through the embedding, model scoring for :predict, and the offline
 * pipeline API (same list as the pipeline serve runs).
 *
 * The fixture homes are prepared once with the junco binary of this build
 * (import, features, a 1-epoch DeepFM, a 1-epoch item2vec with an HNSW
 * index, a 3-sweep iALS), which takes about a second.
 */
#include "testutil.h"

#include "core/alloc.h"
#include "core/fileio.h"
#include "serve/comps.h"
#include "serve/pipeline.h"
#include "serve/state.h"
#include <junco/catalog.h>
#include <junco/config.h>
#include <junco/error.h>
#include <junco/featspec.h>
#include <junco/model.h>
#include <junco/serve.h>

#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void jc_pipeline_thread_cleanup(void);

static char g_full[PATH_MAX], g_bare[PATH_MAX], g_bad[PATH_MAX];

static int sh(const char *cmd)
{
    int rc = system(cmd);
    if (rc != 0)
        fprintf(stderr, "fixture command failed (%d): %s\n", rc, cmd);
    return rc;
}

static int setup_homes(void **state)
{
    (void)state;
    const char *J = JC_TEST_BINARY_DIR "/junco";
    const char *ml = jc_test_src("data/ml-latest-small");
    snprintf(g_full, sizeof g_full, "%s", jc_test_path("full"));
    snprintf(g_bare, sizeof g_bare, "%s", jc_test_path("bare"));
    snprintf(g_bad, sizeof g_bad, "%s", jc_test_path("bad"));
    char cmd[8192];
    snprintf(cmd, sizeof cmd,
             "set -e; J='%s'; H='%s'; \"$J\" --home \"$H\" -q import '%s' >/dev/null; "
             "\"$J\" --home \"$H\" -q features >/dev/null; "
             "\"$J\" --home \"$H\" -q train --model deepfm --epochs 1 --threads 1 --seed 7 "
             ">/dev/null; "
             "\"$J\" --home \"$H\" -q embed --method item2vec --epochs 1 >/dev/null; "
             "\"$J\" --home \"$H\" -q index build >/dev/null; "
             "\"$J\" --home \"$H\" -q embed --method ials --epochs 3 >/dev/null; "
             "\"$J\" --home '%s' -q import '%s' >/dev/null; "
             "mkdir -p '%s/models'; cp -r \"$H/catalog\" '%s/'; cp -r \"$H/models/deepfm\" "
             "'%s/models/'; printf 'garbage' | dd of='%s/models/deepfm/v1.jcm' bs=1 seek=200 "
             "conv=notrunc status=none",
             J, g_full, ml, g_bare, ml, g_bad, g_bad, g_bad, g_bad);
    return sh(cmd) == 0 ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    jc_pipeline_thread_cleanup();
    return 0;
}

/* A snapshot of a home with its components (no store). */
static struct jc_serve_state *open_state(const char *home, const struct jc_config *cfg,
                                         const struct jc_serve_state *prev, int *changed)
{
    char path[PATH_MAX];
    snprintf(path, sizeof path, "%s/catalog/catalog.jcat", home);
    struct jc_catalog_comp *cc = NULL;
    struct jc_data_comp *dc = NULL;
    if (prev) {
        dc = prev->data;
        jc_rc_retain(&dc->rc);
    } else {
        assert_int_equal(jc_catalog_comp_open(&cc, path), JC_OK);
        assert_int_equal(jc_data_comp_create(&dc, cc, NULL), JC_OK);
        jc_rc_release(&cc->rc);
    }
    struct jc_comps_opts o = {.home = home, .cfg = cfg, .prev = prev, .store = NULL};
    struct jc_serve_state *st = NULL;
    assert_int_equal(jc_serve_state_build(&st, dc, cfg, prev ? prev->version + 1 : 1, &o, changed),
                     JC_OK);
    jc_rc_release(&dc->rc);
    return st;
}

/* A scene with one recall channel and the given ranker. */
static void one_channel(struct jc_scene *sc, const char *ch, uint32_t quota, const char *ranker)
{
    struct jc_scene_patch p;
    memset(&p, 0, sizeof p);
    char rec[64];
    snprintf(rec, sizeof rec, "%s:%u", ch, quota);
    assert_int_equal(jc_scene_patch_set(&p, "[t]", "recall", rec), JC_OK);
    assert_int_equal(jc_scene_patch_set(&p, "[t]", "ranker", ranker), JC_OK);
    assert_int_equal(jc_scene_patch_set(&p, "[t]", "rerank", ""), JC_OK);
    *sc = p.v;
    snprintf(sc->name, sizeof sc->name, "t");
}

static int in_history(const struct jc_catalog *cat, uint32_t u, uint32_t item)
{
    uint64_t b, e;
    struct jc_interactions in;
    jc_catalog_interactions(cat, &in);
    jc_catalog_user_range(cat, u, &b, &e);
    for (uint64_t k = b; k < e; k++)
        if (in.item[k] == item)
            return 1;
    return 0;
}

static void test_components(void **state)
{
    (void)state;
    struct jc_serve_state *st = open_state(g_full, NULL, NULL, NULL);
    assert_int_equal(st->n_models, 1);
    assert_string_equal(st->models[0]->name, "deepfm");
    assert_int_equal(st->models[0]->version, 1);
    assert_int_equal(st->model_default, 0);
    assert_int_equal(st->n_embs, 2);
    struct jc_emb_comp *e = jc_serve_find_emb(st, NULL);
    assert_non_null(e);
    assert_string_equal(e->name, "item2vec");
    assert_string_equal(e->index_type, "hnsw");
    assert_non_null(e->ann);
    struct jc_emb_comp *mf = jc_serve_find_emb(st, "mf");
    assert_non_null(mf);
    assert_string_equal(mf->name, "ials");
    assert_true(mf->is_mf);
    assert_null(mf->ann); /* no index built for ials: exact search */
    assert_int_equal(st->resources, JC_RES_EMB | JC_RES_MF | JC_RES_MODEL);
    assert_int_equal(st->load_errors, 0);
    assert_ptr_equal(jc_serve_find_model(st, "deepfm"), st->models[0]);
    assert_ptr_equal(jc_serve_find_model(st, "model"), st->models[0]);
    assert_null(jc_serve_find_model(st, "din"));
    assert_null(jc_serve_find_model(st, "nope"));
    /* the default scene uses every resource */
    const struct jc_scene *sc = jc_scenes_find(st->scenes, "default");
    const char *want[] = {"emb_user",   "emb_item", "mf",     "cooc",
                          "genre_pref", "trending", "popular"};
    assert_int_equal(sc->n_recall, 7);
    for (int i = 0; i < 7; i++)
        assert_string_equal(sc->recall[i].ch->name, want[i]);
    assert_string_equal(sc->ranker->name, "model");

    /* a refresh with nothing changed shares every component */
    int changed = -1;
    struct jc_serve_state *st2 = open_state(g_full, NULL, st, &changed);
    assert_int_equal(changed, 0);
    assert_ptr_equal(st2->models[0], st->models[0]);
    assert_ptr_equal(st2->embs[0], st->embs[0]);
    assert_ptr_equal(st2->trend, st->trend);
    /* publishing a new model version reloads that model only */
    char dir[PATH_MAX];
    snprintf(dir, sizeof dir, "%s/models/deepfm", g_full);
    struct jc_model *m;
    assert_int_equal(jc_model_load(&m, st->models[0]->path), JC_OK);
    uint32_t ver = 0;
    assert_int_equal(jc_model_publish(m, dir, 0, &ver), JC_OK);
    assert_int_equal(ver, 2);
    jc_model_destroy(m);
    struct jc_serve_state *st3 = open_state(g_full, NULL, st2, &changed);
    assert_int_equal(changed, 1);
    assert_int_equal(st3->models[0]->version, 2);
    assert_ptr_not_equal(st3->models[0], st2->models[0]);
    assert_ptr_equal(st3->embs[0], st2->embs[0]);
    assert_ptr_equal(st3->embs[1], st2->embs[1]);
    /* the old snapshot still scores with version 1 */
    assert_int_equal(st->models[0]->version, 1);
    jc_state_release(st3);
    jc_state_release(st2);
    jc_state_release(st);
}

static void test_bare_home(void **state)
{
    (void)state;
    struct jc_serve_state *st = open_state(g_bare, NULL, NULL, NULL);
    assert_int_equal(st->n_models, 0);
    assert_int_equal(st->n_embs, 0);
    assert_int_equal(st->resources, 0);
    /* the phase-1 default scene */
    const struct jc_scene *sc = jc_scenes_find(st->scenes, "default");
    assert_int_equal(sc->n_recall, 3);
    assert_string_equal(sc->recall[0].ch->name, "genre_pref");
    assert_string_equal(sc->recall[1].ch->name, "cooc");
    assert_string_equal(sc->recall[2].ch->name, "popular");
    assert_string_equal(sc->ranker->name, "heuristic");
    /* channels without their resource are skipped; trending uses the catalog */
    const char *chans[] = {"emb_user", "emb_item", "mf", "trending"};
    for (int i = 0; i < 4; i++) {
        struct jc_scene one;
        one_channel(&one, chans[i], 50, "recall");
        struct jc_reco_query q = {.has_user = 1, .user = 0, .n = 10, .genre = -1};
        struct jc_reco_result res;
        assert_int_equal(jc_pipeline_recommend(st, &one, &q, &res), JC_OK);
        if (i < 3) {
            assert_int_equal(res.channel_skipped, 1);
            assert_int_equal(res.channel_counts[0], 0);
            assert_int_equal(res.n, 0);
        } else {
            assert_int_equal(res.channel_skipped, 0);
            assert_int_equal(res.channel_counts[0], 50);
            assert_int_equal(res.n, 10);
        }
        jc_reco_result_free(&res);
    }
    /* ranker model without a model: the recall score, with the reason */
    struct jc_scene one;
    one_channel(&one, "popular", 50, "model");
    struct jc_reco_query q = {.has_user = 1, .user = 0, .n = 10, .genre = -1};
    struct jc_reco_result res;
    assert_int_equal(jc_pipeline_recommend(st, &one, &q, &res), JC_OK);
    assert_int_equal(res.fallback, 1);
    assert_string_equal(res.fallback_code, "not_loaded");
    assert_string_equal(res.fallback_model, "model");
    assert_string_equal(res.ranker, "recall");
    assert_null(res.model_name);
    for (size_t i = 1; i < res.n; i++)
        assert_true(res.items[i - 1].rank >= res.items[i].rank);
    jc_reco_result_free(&res);
    /* similar: no embedding, the co-occurrence provider; asking for one is a fallback */
    struct jc_sim_result sr;
    assert_int_equal(jc_pipeline_similar(st, 0, 5, NULL, &sr), JC_OK);
    assert_string_equal(sr.provider, "cooc_genre");
    assert_int_equal(sr.fallback, 0);
    assert_int_equal(sr.n, 5);
    jc_sim_result_free(&sr);
    assert_int_equal(jc_pipeline_similar(st, 0, 5, "emb", &sr), JC_OK);
    assert_string_equal(sr.provider, "cooc_genre");
    assert_int_equal(sr.fallback, 1);
    jc_sim_result_free(&sr);
    jc_state_release(st);
}

static void test_channels(void **state)
{
    (void)state;
    struct jc_serve_state *st = open_state(g_full, NULL, NULL, NULL);
    const struct jc_catalog *cat = jc_state_cat(st);
    const char *chans[] = {"emb_user", "emb_item", "mf", "trending", "cooc", "genre_pref"};
    for (uint32_t u = 0; u < 3; u++)
        for (int i = 0; i < 6; i++) {
            struct jc_scene one;
            one_channel(&one, chans[i], 60, "recall");
            struct jc_reco_query q = {.has_user = 1, .user = u, .n = 60, .genre = -1};
            struct jc_reco_result res;
            assert_int_equal(jc_pipeline_recommend(st, &one, &q, &res), JC_OK);
            assert_int_equal(res.channel_skipped, 0);
            assert_int_equal(res.channel_failed, 0);
            assert_true(res.channel_counts[0] >= 30);
            assert_true(res.channel_counts[0] <= 60);
            assert_int_equal(res.n, res.channel_counts[0]);
            for (size_t k = 0; k < res.n; k++) {
                assert_false(in_history(cat, u, res.items[k].item));
                assert_true(res.items[k].ch_score[0] >= 0 && res.items[k].ch_score[0] <= 1);
                if (k > 0) /* the recall ranker keeps the channel's order */
                    assert_true(res.items[k - 1].rank >= res.items[k].rank);
            }
            jc_reco_result_free(&res);
        }
    /* emb_user and mf have the best neighbour first with score 1 (mf) */
    struct jc_scene one;
    one_channel(&one, "mf", 10, "recall");
    struct jc_reco_query q = {.has_user = 1, .user = 0, .n = 10, .genre = -1};
    struct jc_reco_result res;
    assert_int_equal(jc_pipeline_recommend(st, &one, &q, &res), JC_OK);
    assert_double_near(res.items[0].ch_score[0], 1.0, 1e-6);
    jc_reco_result_free(&res);
    /* the whole default scene: 7 channels, model ranking */
    const struct jc_scene *sc = jc_scenes_find(st->scenes, "default");
    q.n = 20;
    assert_int_equal(jc_pipeline_recommend(st, sc, &q, &res), JC_OK);
    assert_int_equal(res.n, 20);
    assert_string_equal(res.ranker, "model");
    assert_string_equal(res.model_name, "deepfm");
    assert_int_equal(res.fallback, 0);
    assert_true(res.n_candidates > 400);
    for (int c = 0; c < 7; c++)
        assert_true(res.channel_counts[c] > 0);
    jc_reco_result_free(&res);
    jc_state_release(st);
}

static void test_model_ranking(void **state)
{
    (void)state;
    struct jc_serve_state *st = open_state(g_full, NULL, NULL, NULL);
    struct jc_scene by_recall, by_model;
    one_channel(&by_recall, "emb_user", 200, "recall");
    one_channel(&by_model, "emb_user", 200, "model:deepfm");
    assert_string_equal(by_model.model, "deepfm");
    struct jc_reco_query q = {.has_user = 1, .user = 4, .n = 200, .genre = -1, .now = 1537800000};
    struct jc_reco_result a, b;
    assert_int_equal(jc_pipeline_recommend(st, &by_recall, &q, &a), JC_OK);
    assert_int_equal(jc_pipeline_recommend(st, &by_model, &q, &b), JC_OK);
    assert_int_equal(a.n, b.n);
    assert_string_equal(b.ranker, "model");
    assert_int_equal(b.model_version, st->models[0]->version);
    /* same candidates, another order, probabilities sorted */
    size_t moved = 0;
    for (size_t i = 0; i < a.n; i++) {
        moved += a.items[i].item != b.items[i].item;
        assert_true(b.items[i].rank > 0 && b.items[i].rank < 1);
        if (i)
            assert_true(b.items[i - 1].rank >= b.items[i].rank);
    }
    assert_true(moved > a.n / 2);
    /* the batch scores equal scoring each item alone (user side computed once) */
    float p1;
    uint32_t it = b.items[7].item;
    assert_int_equal(jc_pipeline_score_items(st, "deepfm", 4, &it, 1, q.now, &p1, NULL), JC_OK);
    assert_double_near(p1, b.items[7].rank, 1e-5);
    jc_reco_result_free(&a);
    jc_reco_result_free(&b);
    /* a requested model that is not loaded: the scene's ranker, with a reason */
    q.model = "din";
    assert_int_equal(jc_pipeline_recommend(st, &by_model, &q, &b), JC_OK);
    assert_int_equal(b.fallback, 1);
    assert_string_equal(b.fallback_code, "not_loaded");
    assert_string_equal(b.fallback_model, "din");
    assert_string_equal(b.ranker, "model");
    jc_reco_result_free(&b);
    /* by kind name: the loaded deepfm */
    q.model = "deepfm";
    assert_int_equal(jc_pipeline_recommend(st, &by_recall, &q, &b), JC_OK);
    assert_int_equal(b.fallback, 0);
    assert_string_equal(b.ranker, "model");
    jc_reco_result_free(&b);
    /* scene model:NAME of a model that does not exist: recall score */
    q.model = NULL;
    struct jc_scene missing;
    one_channel(&missing, "emb_user", 50, "model:nope");
    assert_int_equal(jc_pipeline_recommend(st, &missing, &q, &b), JC_OK);
    assert_int_equal(b.fallback, 1);
    assert_string_equal(b.fallback_code, "not_loaded");
    assert_string_equal(b.fallback_model, "nope");
    assert_string_equal(b.ranker, "recall");
    jc_reco_result_free(&b);
    assert_int_equal(jc_pipeline_score_items(st, "nope", 4, &it, 1, 0, &p1, NULL), JC_ENOTFOUND);
    jc_state_release(st);
}

/* A model that fails while scoring (its workspace cannot be allocated):
 * the recall score, reason "error". */
static void test_model_error(void **state)
{
    (void)state;
    struct jc_serve_state *st = open_state(g_full, NULL, NULL, NULL); /* empty scorer pool */
    struct jc_scene sc;
    one_channel(&sc, "popular", 100, "model");
    struct jc_reco_query q = {.has_user = 1, .user = 3, .n = 10, .genre = -1};
    struct jc_reco_result res;
    /* warm the thread's scratch so that the scorer workspace is the first
     * allocation of the next request */
    one_channel(&sc, "popular", 100, "recall");
    assert_int_equal(jc_pipeline_recommend(st, &sc, &q, &res), JC_OK);
    jc_reco_result_free(&res);
    one_channel(&sc, "popular", 100, "model");
    jc_alloc_fail_after(1);
    int rc = jc_pipeline_recommend(st, &sc, &q, &res);
    jc_alloc_fail_after(0);
    assert_int_equal(rc, JC_OK);
    assert_int_equal(res.fallback, 1);
    assert_string_equal(res.fallback_code, "error");
    assert_string_equal(res.fallback_model, "model");
    assert_string_equal(res.ranker, "recall");
    assert_non_null(strstr(res.fallback_reason, "no memory for a scoring workspace"));
    assert_int_equal(res.n, 10);
    jc_reco_result_free(&res);
    /* and the next request scores with the model again */
    assert_int_equal(jc_pipeline_recommend(st, &sc, &q, &res), JC_OK);
    assert_int_equal(res.fallback, 0);
    assert_string_equal(res.ranker, "model");
    jc_reco_result_free(&res);
    jc_state_release(st);
}

static void test_corrupt_model(void **state)
{
    (void)state;
    struct jc_serve_state *st = open_state(g_bad, NULL, NULL, NULL);
    assert_int_equal(st->n_models, 0);
    assert_int_equal(st->load_errors, 1);
    struct jc_scene one;
    one_channel(&one, "popular", 30, "model");
    struct jc_reco_query q = {.has_user = 1, .user = 2, .n = 10, .genre = -1};
    struct jc_reco_result res;
    assert_int_equal(jc_pipeline_recommend(st, &one, &q, &res), JC_OK);
    assert_int_equal(res.fallback, 1);
    assert_string_equal(res.ranker, "recall");
    assert_non_null(strstr(res.fallback_reason, "no ranking model is loaded"));
    jc_reco_result_free(&res);
    jc_state_release(st);
}

static void test_rules(void **state)
{
    (void)state;
    struct jc_serve_state *st = open_state(g_full, NULL, NULL, NULL);
    const struct jc_view *v = jc_state_view(st);
    uint32_t drama, comedy;
    assert_true(jc_view_find_genre(v, "Drama", &drama));
    assert_true(jc_view_find_genre(v, "Comedy", &comedy));
    struct jc_scene sc;
    one_channel(&sc, "popular", 300, "recall");
    struct jc_scene_patch p;
    memset(&p, 0, sizeof p);
    assert_int_equal(jc_scene_patch_set(&p, "[t]", "rules", "filter:genre=Drama, filter:year<1990"),
                     JC_OK);
    assert_int_equal(p.v.n_rules, 2);
    jc_scene_patch_apply(&sc, &p);
    struct jc_reco_query q = {.has_user = 1, .user = 0, .n = 100, .genre = -1};
    struct jc_reco_result res;
    assert_int_equal(jc_pipeline_recommend(st, &sc, &q, &res), JC_OK);
    assert_int_equal(res.n, 100);
    for (size_t i = 0; i < res.n; i++) {
        const uint16_t *g;
        uint32_t ng = jc_view_item_genres(v, res.items[i].item, &g);
        for (uint32_t k = 0; k < ng; k++)
            assert_int_not_equal(g[k], drama);
        assert_true(jc_view_item_year(v, res.items[i].item) >= 1990);
    }
    jc_reco_result_free(&res);
    /* bury Comedy to the bottom: the first items are not comedies, and every
     * comedy's rank is a hundredth of its popularity score */
    memset(&p, 0, sizeof p);
    assert_int_equal(jc_scene_patch_set(&p, "[t]", "rules", "bury:genre=Comedy:0.01"), JC_OK);
    one_channel(&sc, "popular", 50, "recall");
    jc_scene_patch_apply(&sc, &p);
    q.n = 50;
    assert_int_equal(jc_pipeline_recommend(st, &sc, &q, &res), JC_OK);
    int seen_comedy = 0;
    for (size_t i = 0; i < res.n; i++) {
        const uint16_t *g;
        uint32_t ng = jc_view_item_genres(v, res.items[i].item, &g);
        int is_comedy = 0;
        for (uint32_t k = 0; k < ng; k++)
            is_comedy |= g[k] == comedy;
        if (is_comedy) {
            seen_comedy = 1;
            assert_double_near(res.items[i].rank, res.items[i].recall * 0.01f, 1e-6);
        } else {
            assert_false(seen_comedy); /* no non-comedy after a comedy */
        }
    }
    assert_true(seen_comedy);
    jc_reco_result_free(&res);
    /* boost an item to the top */
    memset(&p, 0, sizeof p);
    assert_int_equal(jc_scene_patch_set(&p, "[t]", "rules", "boost:item=2571:100"), JC_OK);
    jc_scene_patch_apply(&sc, &p);
    uint32_t matrix;
    assert_true(jc_view_find_item(v, "2571", 4, &matrix));
    q.user = 0; /* the first user who has not rated 2571 (The Matrix) */
    while (in_history(jc_state_cat(st), q.user, matrix))
        q.user++;
    assert_int_equal(jc_pipeline_recommend(st, &sc, &q, &res), JC_OK);
    assert_int_equal(res.items[0].item, matrix);
    jc_reco_result_free(&res);
    /* parse errors name the rule */
    static const struct {
        const char *rule, *msg;
    } bad[] = {
        {"zap:genre=Drama", "unknown rule action 'zap'"},
        {"bury:genre>Drama", "genre takes = or !="},
        {"filter:year<abc", "'abc' is not a number"},
        {"filter:color=red", "unknown field"},
        {"boost:year>2000:-1", "must be a number in (0, 1000]"},
        {"filter:year<1950:0.5", "takes no factor"},
        {"bury", "is not ACTION:CONDITION"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        memset(&p, 0, sizeof p);
        assert_int_equal(jc_scene_patch_set(&p, "[scene.x] rules", "rules", bad[i].rule),
                         JC_EINVAL);
        if (strstr(jc_errmsg(), bad[i].msg) == NULL || strstr(jc_errmsg(), "[scene.x]") == NULL)
            fail_msg("rule '%s': message '%s' lacks '%s'", bad[i].rule, jc_errmsg(), bad[i].msg);
    }
    jc_state_release(st);
}

static void test_similar_emb(void **state)
{
    (void)state;
    struct jc_serve_state *st = open_state(g_full, NULL, NULL, NULL);
    uint32_t toy;
    assert_true(jc_view_find_item(jc_state_view(st), "1", 1, &toy));
    struct jc_sim_result a, b;
    assert_int_equal(jc_pipeline_similar(st, toy, 10, NULL, &a), JC_OK);
    assert_string_equal(a.provider, "item2vec");
    assert_int_equal(a.n, 10);
    /* the HNSW answer matches the exact scan on the top hits */
    const struct jc_emb_comp *e = jc_serve_find_emb(st, NULL);
    struct jc_emb_search_opts o;
    jc_emb_search_opts_default(&o);
    struct jc_emb_hit exact[10];
    uint32_t ne = 0;
    assert_int_equal(jc_emb_similar(e->emb, toy, 10, &o, exact, &ne), JC_OK);
    assert_int_equal(ne, 10);
    size_t common = 0;
    for (size_t i = 0; i < 10; i++)
        for (size_t k = 0; k < 10; k++)
            common += a.items[i].item == exact[k].item;
    assert_true(common >= 8);
    assert_int_equal(a.items[0].item, exact[0].item);
    for (size_t i = 0; i < a.n; i++)
        assert_int_not_equal(a.items[i].item, toy);
    /* by name, and the MF embedding, and a fallback to co-occurrence */
    assert_int_equal(jc_pipeline_similar(st, toy, 10, "ials", &b), JC_OK);
    assert_string_equal(b.provider, "ials");
    assert_int_equal(b.fallback, 0);
    jc_sim_result_free(&b);
    assert_int_equal(jc_pipeline_similar(st, toy, 10, "cooc", &b), JC_OK);
    assert_string_equal(b.provider, "cooc_genre");
    assert_int_equal(b.fallback, 0);
    jc_sim_result_free(&b);
    assert_int_equal(jc_pipeline_similar(st, toy, 10, "nope", &b), JC_OK);
    assert_string_equal(b.provider, "cooc_genre");
    assert_int_equal(b.fallback, 1);
    jc_sim_result_free(&b);
    jc_sim_result_free(&a);
    jc_state_release(st);
}

static void test_offline_api(void **state)
{
    (void)state;
    struct jc_pipeline_offline *p;
    assert_int_equal(jc_pipeline_offline_open(&p, g_full, NULL), JC_OK);
    struct jc_serve_state *st = open_state(g_full, NULL, NULL, NULL);
    const struct jc_scene *sc = jc_scenes_find(st->scenes, "default");
    for (uint32_t u = 0; u < 20; u += 3) {
        uint32_t items[25], items2[25];
        float scores[25], scores2[25];
        size_t n = 0, n2 = 0;
        assert_int_equal(jc_pipeline_offline_recommend(p, u, 1537800000, 25, items, scores, &n),
                         JC_OK);
        assert_int_equal(n, 25);
        /* The second call reads the snapshot's caches (user vectors,
         * co-occurrence rows) the first one filled: exactly the same list. */
        assert_int_equal(jc_pipeline_offline_recommend(p, u, 1537800000, 25, items2, scores2, &n2),
                         JC_OK);
        assert_int_equal(n2, 25);
        assert_memory_equal(items, items2, sizeof items);
        assert_memory_equal(scores, scores2, sizeof scores);
        /* the same list as the pipeline serve runs */
        struct jc_reco_query q = {
            .has_user = 1, .user = u, .n = 25, .genre = -1, .now = 1537800000};
        struct jc_reco_result res;
        assert_int_equal(jc_pipeline_recommend(st, sc, &q, &res), JC_OK);
        assert_int_equal(res.n, 25);
        for (size_t i = 0; i < n; i++) {
            assert_int_equal(items[i], res.items[i].item);
            assert_double_near(scores[i], res.items[i].final, 1e-6);
            assert_false(in_history(jc_state_cat(st), u, items[i]));
        }
        jc_reco_result_free(&res);
    }
    uint32_t it[4];
    size_t n;
    assert_int_equal(jc_pipeline_offline_recommend(p, 610, 0, 4, it, NULL, &n), JC_EINVAL);
    assert_non_null(strstr(jc_errmsg(), "user 610"));
    assert_int_equal(jc_pipeline_offline_recommend(p, 1, 0, 0, it, NULL, &n), JC_EINVAL);
    jc_pipeline_offline_close(p);
    jc_state_release(st);
    assert_int_equal(jc_pipeline_offline_open(&p, jc_test_path("nowhere"), NULL), JC_ENOTFOUND);
}

/* The suffix replay of the model ranker equals replaying every event. */
static void test_replay_user(void **state)
{
    (void)state;
    struct jc_serve_state *st = open_state(g_full, NULL, NULL, NULL);
    const struct jc_featspec *spec = st->models[0]->spec;
    const struct jc_catalog *cat = jc_state_cat(st);
    struct jc_interactions in;
    jc_catalog_interactions(cat, &in);
    struct jc_user_state *a = jc_malloc(sizeof *a), *b = jc_malloc(sizeof *b);
    uint8_t *ea = jc_malloc(JC_USTATE_ENC_MAX), *eb = jc_malloc(JC_USTATE_ENC_MAX);
    assert_non_null(a);
    assert_non_null(b);
    uint32_t n_long = 0;
    for (uint32_t u = 0; u < jc_catalog_n_users(cat); u++) {
        uint64_t lo, hi;
        jc_catalog_user_range(cat, u, &lo, &hi);
        jc_user_state_init(a, spec);
        jc_user_state_init(b, spec);
        for (uint64_t k = lo; k < hi; k++)
            jc_user_state_add(a, spec, in.item[k], in.value[k], in.time[k]);
        jc_pipeline_replay_user(b, spec, &in, lo, hi);
        n_long += hi - lo > a->window + 50;
        size_t la, lb;
        assert_int_equal(jc_user_state_encode(a, ea, JC_USTATE_ENC_MAX, &la), JC_OK);
        assert_int_equal(jc_user_state_encode(b, eb, JC_USTATE_ENC_MAX, &lb), JC_OK);
        assert_int_equal(la, lb);
        assert_memory_equal(ea, eb, la);
        struct jc_user_feats fa, fb;
        memset(&fa, 0, sizeof fa);
        memset(&fb, 0, sizeof fb);
        jc_user_state_features(a, spec, &fa);
        jc_user_state_features(b, spec, &fb);
        assert_memory_equal(&fa, &fb, sizeof fa);
        assert_int_equal(a->n_pos, b->n_pos);
        assert_int_equal(a->first_time, b->first_time);
        assert_int_equal(a->last_time, b->last_time);
    }
    assert_true(n_long > 100); /* the suffix path really ran */
    jc_free(a);
    jc_free(b);
    jc_free(ea);
    jc_free(eb);
    jc_state_release(st);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_components),    cmocka_unit_test(test_bare_home),
        cmocka_unit_test(test_channels),      cmocka_unit_test(test_model_ranking),
        cmocka_unit_test(test_corrupt_model), cmocka_unit_test(test_rules),
        cmocka_unit_test(test_similar_emb),   cmocka_unit_test(test_offline_api),
        cmocka_unit_test(test_replay_user),   cmocka_unit_test(test_model_error),
    };
    return cmocka_run_group_tests(tests, setup_homes, teardown);
}
