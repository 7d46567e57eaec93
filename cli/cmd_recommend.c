/*
 * cmd_recommend.c - `junco recommend USER [--n N] [--now T] [--json]`: the
 * served pipeline (recall -> ranking -> re-ranking of the default scene,
 * with the live models, embeddings, indexes and feature store of the home)
 * run in-process through jc_pipeline_offline_*, without a server. Prints
 * the same list as GET /api/v1/users/USER/recommendations?n=N of a
 * `junco serve` on the same home (without A/B variants).
 */
#include "cli.h"

#include "core/alloc.h"
#include "core/buf.h"
#include "core/json.h"
#include <junco/error.h>
#include <junco/serve.h>

#include <stdio.h>
#include <string.h>

int jc_cmd_recommend(struct jc_cli *cli, int argc, char **argv)
{
    int64_t n = 10, now = 0;
    int json = 0;
    const struct jc_opt opts[] = {
        {"n", 'n', JC_OPT_INT, &n, "N", "how many items (default 10)", NULL},
        {"now", 0, JC_OPT_INT, &now, "T", "request time, Unix seconds (default: now)", NULL},
        {"json", 0, JC_OPT_FLAG, &json, NULL, "machine-readable output", NULL},
        {NULL, 0, 0, NULL, NULL, NULL, NULL},
    };
    const char *pos[1];
    int n_pos = 0;
    int rc = jc_cli_parse(cli, "recommend", "USER [--n 10] [--json]",
                          "Runs the serving pipeline of `junco serve` in-process for one user\n"
                          "(external id): multi-channel recall, ranking with the live model,\n"
                          "re-ranking of the default scene. Items the user interacted with are\n"
                          "never returned.",
                          opts, argc, argv, pos, 1, &n_pos);
    if (rc >= 0)
        return rc;
    if (n_pos != 1)
        return jc_cli_usage("recommend", "give one USER (an external user id)");
    if (n < 1 || n > 100000)
        return jc_cli_usage("recommend", "--n must be in [1, 100000]");
    if (now < 0)
        return jc_cli_usage("recommend", "--now must be >= 0");
    struct jc_catalog *cat;
    if ((rc = jc_cli_open_catalog(cli, &cat)))
        return jc_cli_fail(rc);
    uint32_t user;
    if (!jc_catalog_find_user(cat, pos[0], strlen(pos[0]), &user)) {
        jc_catalog_close(cat);
        return jc_cli_fail(jc_err_set(JC_ENOTFOUND, "no user with id '%s'", pos[0]));
    }
    struct jc_pipeline_offline *p;
    if ((rc = jc_pipeline_offline_open(&p, cli->home, &cli->cfg))) {
        jc_catalog_close(cat);
        return jc_cli_fail(rc);
    }
    uint32_t *items = jc_malloc_array((size_t)n, sizeof *items);
    float *scores = jc_malloc_array((size_t)n, sizeof *scores);
    size_t got = 0;
    rc = items && scores
             ? jc_pipeline_offline_recommend(p, user, now, (uint32_t)n, items, scores, &got)
             : JC_ENOMEM;
    if (rc == JC_OK && json) {
        struct jc_buf b;
        jc_buf_init(&b, 0);
        struct jc_json j;
        jc_json_init(&j, &b, 0);
        jc_json_obj_begin(&j);
        jc_json_kv_str(&j, "user", pos[0]);
        jc_json_key(&j, "items");
        jc_json_arr_begin(&j);
        for (size_t i = 0; i < got; i++) {
            jc_json_obj_begin(&j);
            jc_json_kv_str(&j, "id", jc_catalog_item_ext_id(cat, items[i]));
            jc_json_kv_str(&j, "title", jc_catalog_item_title(cat, items[i]));
            jc_json_kv_double(&j, "score", scores[i]);
            jc_json_obj_end(&j);
        }
        jc_json_arr_end(&j);
        jc_json_obj_end(&j);
        rc = jc_json_finish(&j);
        if (rc == JC_OK)
            printf("%s\n", b.data);
        jc_buf_free(&b);
    } else if (rc == JC_OK) {
        for (size_t i = 0; i < got; i++)
            printf("%3zu  %.4f  %-8s %s\n", i + 1, (double)scores[i],
                   jc_catalog_item_ext_id(cat, items[i]), jc_catalog_item_title(cat, items[i]));
    }
    jc_free(items);
    jc_free(scores);
    jc_pipeline_offline_close(p);
    jc_catalog_close(cat);
    return rc ? jc_cli_fail(rc) : JC_EXIT_OK;
}
