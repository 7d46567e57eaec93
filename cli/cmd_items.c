/*
 * cmd_items.c - `junco items [ID...] [--search TEXT]`: look items up in the
 * catalog by external id or by a case-insensitive title substring.
 */
#include "cli.h"

#include "core/buf.h"
#include "core/json.h"
#include <junco/error.h>

#include <math.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

static void item_json(struct jc_json *j, const struct jc_catalog *cat, uint32_t it)
{
    jc_json_obj_begin(j);
    jc_json_kv_str(j, "id", jc_catalog_item_ext_id(cat, it));
    jc_json_kv_str(j, "title", jc_catalog_item_title(cat, it));
    int32_t y = jc_catalog_item_year(cat, it);
    jc_json_key(j, "year");
    if (y)
        jc_json_int(j, y);
    else
        jc_json_null(j);
    jc_json_key(j, "genres");
    jc_json_arr_begin(j);
    const uint16_t *g;
    uint32_t ng = jc_catalog_item_genres(cat, it, &g);
    for (uint32_t k = 0; k < ng; k++)
        jc_json_str(j, jc_catalog_genre_name(cat, g[k]));
    jc_json_arr_end(j);
    const uint32_t *pos;
    uint64_t n = jc_catalog_item_interactions(cat, it, &pos);
    struct jc_interactions ix;
    jc_catalog_interactions(cat, &ix);
    double sum = 0;
    for (uint64_t k = 0; k < n; k++)
        sum += ix.value[pos[k]];
    jc_json_kv_int(j, "interactions", (int64_t)n);
    jc_json_key(j, "mean_value");
    if (n)
        jc_json_double(j, sum / (double)n);
    else
        jc_json_null(j);
    jc_json_key(j, "attributes");
    jc_json_obj_begin(j);
    for (uint32_t a = 0; a < jc_catalog_n_attrs(cat, JC_ENT_ITEM); a++) {
        const char *name = jc_catalog_attr_name(cat, JC_ENT_ITEM, a);
        if (jc_catalog_attr_type(cat, JC_ENT_ITEM, a) == JC_ATTR_STR) {
            const char *v = jc_catalog_attr_str(cat, JC_ENT_ITEM, a, it);
            if (v[0])
                jc_json_kv_str(j, name, v);
        } else {
            double v = jc_catalog_attr_num(cat, JC_ENT_ITEM, a, it);
            if (!isnan(v))
                jc_json_kv_double(j, name, v);
        }
    }
    jc_json_obj_end(j);
    jc_json_obj_end(j);
}

int jc_cmd_items(struct jc_cli *cli, int argc, char **argv)
{
    const char *search = NULL;
    int64_t limit = 20;
    const struct jc_opt opts[] = {
        {"search", 's', JC_OPT_STR, &search, "TEXT", "case-insensitive title search", NULL},
        {"limit", 'n', JC_OPT_INT, &limit, "N", "at most N search results (default 20)", NULL},
        {NULL, 0, 0, NULL, NULL, NULL, NULL},
    };
    const char *pos[64];
    int n_pos = 0;
    int rc = jc_cli_parse(cli, "items", "[ID...] [--search TEXT]",
                          "Prints items of the catalog as JSON lines: by external id, or\n"
                          "those whose title contains TEXT.",
                          opts, argc, argv, pos, 64, &n_pos);
    if (rc >= 0)
        return rc;
    if (n_pos == 0 && search == NULL)
        return jc_cli_usage("items", "give item ids or --search TEXT");
    if (limit < 1)
        return jc_cli_usage("items", "--limit must be at least 1");
    struct jc_catalog *cat;
    if ((rc = jc_cli_open_catalog(cli, &cat)))
        return jc_cli_fail(rc);
    struct jc_buf b;
    jc_buf_init(&b, 0);
    int missing = 0;
    for (int i = 0; i < n_pos; i++) {
        uint32_t it;
        if (!jc_catalog_find_item(cat, pos[i], strlen(pos[i]), &it)) {
            fprintf(stderr, "junco: error: no item with id '%s'\n", pos[i]);
            missing = 1;
            continue;
        }
        struct jc_json j;
        jc_buf_reset(&b);
        jc_json_init(&j, &b, 0);
        item_json(&j, cat, it);
        if (jc_json_finish(&j) == JC_OK)
            printf("%s\n", b.data);
    }
    if (search) {
        int64_t shown = 0;
        for (uint32_t it = 0; it < jc_catalog_n_items(cat) && shown < limit; it++) {
            if (strcasestr(jc_catalog_item_title(cat, it), search) == NULL)
                continue;
            struct jc_json j;
            jc_buf_reset(&b);
            jc_json_init(&j, &b, 0);
            item_json(&j, cat, it);
            if (jc_json_finish(&j) == JC_OK)
                printf("%s\n", b.data);
            shown++;
        }
    }
    jc_buf_free(&b);
    jc_catalog_close(cat);
    return missing ? JC_EXIT_ERROR : JC_EXIT_OK;
}
