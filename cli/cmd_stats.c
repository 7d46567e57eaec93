/*
 * cmd_stats.c - `junco stats [--json] [--top N]`: describe the catalog.
 */
#include "cli.h"

#include "core/buf.h"
#include <junco/error.h>
#include <junco/stats.h>

#include <stdio.h>

int jc_cmd_stats(struct jc_cli *cli, int argc, char **argv)
{
    int json = 0;
    int64_t top = 10;
    const struct jc_opt opts[] = {
        {"json", 0, JC_OPT_FLAG, &json, NULL, "machine-readable output", NULL},
        {"top", 0, JC_OPT_INT, &top, "N", "how many top items to list (default 10)", NULL},
        {NULL, 0, 0, NULL, NULL, NULL, NULL},
    };
    int rc = jc_cli_parse(cli, "stats", "[--json] [--top N]",
                          "Describes the catalog: users, items, interactions, density, value\n"
                          "distribution, time range, per-genre counts and the top items.",
                          opts, argc, argv, NULL, 0, NULL);
    if (rc >= 0)
        return rc;
    if (top < 0 || top > 100000)
        return jc_cli_usage("stats", "--top must be in [0, 100000]");
    struct jc_catalog *cat;
    if ((rc = jc_cli_open_catalog(cli, &cat)))
        return jc_cli_fail(rc);
    struct jc_stats st;
    rc = jc_stats_compute(cat, (uint32_t)top, &st);
    if (rc) {
        jc_catalog_close(cat);
        return jc_cli_fail(rc);
    }
    struct jc_buf out;
    jc_buf_init(&out, 0);
    rc = json ? jc_stats_write_json(&st, cat, &out) : jc_stats_write_text(&st, cat, &out);
    if (rc == JC_OK)
        fwrite(out.data, 1, out.len, stdout);
    jc_buf_free(&out);
    jc_stats_free(&st);
    jc_catalog_close(cat);
    return rc ? jc_cli_fail(rc) : JC_EXIT_OK;
}
