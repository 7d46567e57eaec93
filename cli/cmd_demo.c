/*
 * cmd_demo.c - `junco demo`: the whole pipeline on the bundled MovieLens
 * data. It imports data/ml-latest-small into the data home and describes
 * the result.
 */
#include "cli.h"

#include "core/buf.h"
#include "core/fileio.h"
#include <junco/error.h>
#include <junco/import.h>
#include <junco/stats.h>

#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

/* The bundled data: ./data/ml-latest-small, or next to the executable's
 * source tree (<exe>/../data/...), or the installed share directory. */
static int find_data(const char *argv0, char *out, size_t cap)
{
    const char *rel = "data/ml-latest-small";
    if (jc_is_dir(rel)) {
        snprintf(out, cap, "%s", rel);
        return 1;
    }
    char exe[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (n > 0) {
        exe[n] = '\0';
        for (int up = 0; up < 3; up++) {
            char *slash = strrchr(exe, '/');
            if (slash == NULL)
                break;
            *slash = '\0';
            char cand[PATH_MAX + 64];
            snprintf(cand, sizeof cand, "%s/%s", exe, rel);
            if (jc_is_dir(cand)) {
                snprintf(out, cap, "%s", cand);
                return 1;
            }
            snprintf(cand, sizeof cand, "%s/share/junco/ml-latest-small", exe);
            if (jc_is_dir(cand)) {
                snprintf(out, cap, "%s", cand);
                return 1;
            }
        }
    }
    (void)argv0;
    return 0;
}

int jc_cmd_demo(struct jc_cli *cli, int argc, char **argv)
{
    const char *data = NULL;
    const struct jc_opt opts[] = {
        {"data", 0, JC_OPT_STR, &data, "DIR",
         "MovieLens directory to use (default: the bundled data/ml-latest-small)", NULL},
        {NULL, 0, 0, NULL, NULL, NULL, NULL},
    };
    int rc = jc_cli_parse(cli, "demo", "[--data DIR]",
                          "Runs the pipeline on the bundled MovieLens data: import into the\n"
                          "data home, then describe the catalog.",
                          opts, argc, argv, NULL, 0, NULL);
    if (rc >= 0)
        return rc;
    char dir[PATH_MAX];
    if (data) {
        snprintf(dir, sizeof dir, "%s", data);
    } else if (!find_data(cli->argv0, dir, sizeof dir)) {
        fprintf(stderr, "junco: error: cannot find the bundled data (data/ml-latest-small); "
                        "pass --data DIR\n");
        return JC_EXIT_ERROR;
    }
    if ((rc = jc_cli_ensure_home(cli, "catalog")))
        return jc_cli_fail(rc);
    char path[4096];
    if ((rc = jc_cli_path(cli, "catalog/catalog.jcat", path, sizeof path)))
        return jc_cli_fail(rc);
    printf("== 1. import %s into %s\n", dir, cli->home);
    struct jc_import_opts io;
    jc_import_opts_default(&io);
    io.progress = cli->progress;
    struct jc_import_result res;
    rc = jc_import(dir, path, &io, &res);
    jc_cli_progress_done(cli);
    if (rc) {
        jc_import_result_free(&res);
        return jc_cli_fail(rc);
    }
    printf("   %u items, %u users, %llu interactions, %llu tags in %.2f s\n", res.n_items,
           res.n_users, (unsigned long long)res.n_interactions, (unsigned long long)res.tags_added,
           res.seconds);
    jc_import_result_free(&res);

    printf("== 2. junco stats\n");
    struct jc_catalog *cat;
    if ((rc = jc_catalog_open(&cat, path)))
        return jc_cli_fail(rc);
    struct jc_stats st;
    rc = jc_stats_compute(cat, 10, &st);
    if (rc == JC_OK) {
        struct jc_buf out;
        jc_buf_init(&out, 0);
        rc = jc_stats_write_text(&st, cat, &out);
        if (rc == JC_OK)
            fwrite(out.data, 1, out.len, stdout);
        jc_buf_free(&out);
        jc_stats_free(&st);
    }
    jc_catalog_close(cat);
    if (rc)
        return jc_cli_fail(rc);
    return JC_EXIT_OK;
}
