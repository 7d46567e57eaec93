/*
 * offline.c - the serving pipeline without HTTP (junco/serve.h,
 * jc_pipeline_offline_*): builds the same snapshot as `junco serve` (catalog
 * component, data component without overlay, models, embeddings and
 * indexes, the feature store read-only when present, scenes from the
 * config) and answers "top n for this user" through jc_pipeline_recommend
 * with the default scene, so offline evaluation scores exactly what the
 * daemon serves (minus A/B variants and exposures).
 */
#include "core/alloc.h"
#include "core/fileio.h"
#include "serve/comps.h"
#include "serve/pipeline.h"
#include "serve/state.h"
#include <junco/error.h>
#include <junco/serve.h>

#include <limits.h>
#include <stdio.h>
#include <string.h>

struct jc_pipeline_offline {
    struct jc_serve_state *st;
};

/* Frees the calling thread's pipeline scratch (pipeline.c). */
void jc_pipeline_thread_cleanup(void);

int jc_pipeline_offline_open(struct jc_pipeline_offline **out, const char *home,
                             const struct jc_config *cfg)
{
    if (home == NULL)
        home = ".";
    char path[PATH_MAX];
    int rc = jc_path_join(path, sizeof path, home, "catalog/catalog.jcat");
    if (rc)
        return rc;
    struct jc_pipeline_offline *p = jc_calloc(1, sizeof *p);
    if (p == NULL)
        return JC_ENOMEM;
    struct jc_catalog_comp *cc = NULL;
    struct jc_data_comp *dc = NULL;
    struct jc_store_comp *store = NULL;
    rc = jc_catalog_comp_open(&cc, path);
    if (rc == JC_OK)
        rc = jc_data_comp_create(&dc, cc, NULL);
    if (rc == JC_OK)
        rc = jc_store_comp_open(&store, home, cfg, 1);
    if (rc == JC_OK) {
        struct jc_comps_opts o = {.home = home, .cfg = cfg, .prev = NULL, .store = store};
        rc = jc_serve_state_build(&p->st, dc, cfg, 1, &o, NULL);
    }
    if (store)
        jc_rc_release(&store->rc);
    if (dc)
        jc_rc_release(&dc->rc);
    if (cc)
        jc_rc_release(&cc->rc);
    if (rc) {
        jc_free(p);
        return rc;
    }
    *out = p;
    return JC_OK;
}

int jc_pipeline_offline_recommend(struct jc_pipeline_offline *p, uint32_t user, int64_t now,
                                  uint32_t n, uint32_t *items_out, float *scores_out, size_t *n_out)
{
    const struct jc_serve_state *st = p->st;
    uint32_t n_users = jc_catalog_n_users(jc_state_cat(st));
    if (user >= n_users)
        return jc_err_set(JC_EINVAL, "user %u is not a catalog user (the catalog has %u)", user,
                          n_users);
    if (n < 1 || n > 100000)
        return jc_err_set(JC_EINVAL, "n %u is not in [1, 100000]", n);
    const struct jc_scene *sc = jc_scenes_find(st->scenes, "default");
    struct jc_reco_query q = {.has_user = 1, .user = user, .n = n, .genre = -1, .now = now};
    struct jc_reco_result res;
    int rc = jc_pipeline_recommend(st, sc, &q, &res);
    if (rc)
        return rc;
    for (size_t i = 0; i < res.n; i++) {
        items_out[i] = res.items[i].item;
        if (scores_out)
            scores_out[i] = res.items[i].final;
    }
    *n_out = res.n;
    jc_reco_result_free(&res);
    return JC_OK;
}

void jc_pipeline_offline_close(struct jc_pipeline_offline *p)
{
    if (p == NULL)
        return;
    jc_state_release(p->st);
    jc_free(p);
    jc_pipeline_thread_cleanup();
}
