/*
 * cmd_publish.c - `junco publish WHAT`: make offline results visible to
 * online serving. Subcommands live in a table; `features` writes the latest
 * user and item states (as of the end of the catalog) to the feature store
 * configured in [store] / [redis].
 */
#include "cli.h"

#include "core/buf.h"
#include "core/json.h"
#include <junco/error.h>
#include <junco/featspec.h>
#include <junco/store.h>

#include <stdio.h>
#include <string.h>

static int publish_features(struct jc_cli *cli, int argc, char **argv)
{
    int json = 0;
    const struct jc_opt opts[] = {
        {"json", 0, JC_OPT_FLAG, &json, NULL, "print the result as JSON", NULL},
        {NULL, 0, 0, NULL, NULL, NULL, NULL},
    };
    int rc = jc_cli_parse(cli, "publish features", "[--json]",
                          "Replays the catalog through the feature state code and writes every\n"
                          "user's state (uf:<user>) and item's state (if:<item>) as of the last\n"
                          "event, plus meta:features, to the feature store (store.backend: the\n"
                          "embedded LMDB store under <home>/store, or Redis).",
                          opts, argc, argv, NULL, 0, NULL);
    if (rc >= 0)
        return rc;
    struct jc_catalog *cat;
    if ((rc = jc_cli_open_catalog(cli, &cat)))
        return jc_cli_fail(rc);
    struct jc_featspec_opts fo;
    jc_featspec_opts_from_config(&fo, &cli->cfg);
    struct jc_featspec *spec = NULL;
    struct jc_store *store = NULL;
    struct jc_store_config sc;
    char path[4096];
    struct jc_publish_report rep;
    rc = jc_featspec_create(&spec, &fo, cat);
    if (rc == JC_OK)
        rc = jc_store_config_from(&sc, &cli->cfg, cli->home, path, sizeof path);
    if (rc == JC_OK && sc.backend == JC_STORE_LMDB)
        rc = jc_cli_ensure_home(cli, NULL);
    if (rc == JC_OK)
        rc = jc_store_open(&store, &sc);
    if (rc == JC_OK)
        rc = jc_store_publish_features(store, spec, &cli->progress, &rep);
    jc_cli_progress_done(cli);
    if (rc == JC_OK) {
        if (json) {
            struct jc_buf b;
            struct jc_json j;
            jc_buf_init(&b, 0);
            jc_json_init(&j, &b, 1);
            jc_json_obj_begin(&j);
            jc_json_kv_str(&j, "backend", jc_store_backend_name(store));
            jc_json_kv_int(&j, "users", (int64_t)rep.users);
            jc_json_kv_int(&j, "items", (int64_t)rep.items);
            jc_json_kv_int(&j, "bytes", (int64_t)rep.bytes);
            jc_json_kv_double(&j, "seconds", rep.seconds);
            jc_json_obj_end(&j);
            if (jc_json_finish(&j) == JC_OK)
                fwrite(b.data, 1, b.len, stdout);
            jc_buf_free(&b);
        } else {
            printf("published %llu users and %llu items (%llu bytes) to the %s store in %.2fs\n",
                   (unsigned long long)rep.users, (unsigned long long)rep.items,
                   (unsigned long long)rep.bytes, jc_store_backend_name(store), rep.seconds);
        }
    }
    jc_store_close(store);
    jc_featspec_destroy(spec);
    jc_catalog_close(cat);
    return rc ? jc_cli_fail(rc) : JC_EXIT_OK;
}

static const struct jc_cli_command subcommands[] = {
    {"features", publish_features, "write the latest user and item features to the store"},
};
#define N_SUB (sizeof subcommands / sizeof subcommands[0])

int jc_cmd_publish(struct jc_cli *cli, int argc, char **argv)
{
    const char *what = NULL;
    int at = -1;
    for (int i = 0; i < argc; i++) {
        if (argv[i][0] != '-') {
            what = argv[i];
            at = i;
            break;
        }
        if (strcmp(argv[i], "--home") == 0 || strcmp(argv[i], "--set") == 0)
            i++;
    }
    if (what == NULL) {
        int help = 0;
        for (int i = 0; i < argc; i++)
            help |= strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0;
        FILE *f = help ? stdout : stderr;
        fprintf(f, "usage: junco publish WHAT [options]\n\n");
        for (size_t i = 0; i < N_SUB; i++)
            fprintf(f, "  %-10s %s\n", subcommands[i].name, subcommands[i].summary);
        return help ? JC_EXIT_OK : JC_EXIT_USAGE;
    }
    for (size_t i = 0; i < N_SUB; i++)
        if (strcmp(subcommands[i].name, what) == 0) {
            /* drop the subcommand word, keep everything else */
            char *rest[256];
            int n = 0;
            for (int k = 0; k < argc && n < 256; k++)
                if (k != at)
                    rest[n++] = argv[k];
            return subcommands[i].run(cli, n, rest);
        }
    return jc_cli_usage("publish", "unknown target '%s' (features)", what);
}
