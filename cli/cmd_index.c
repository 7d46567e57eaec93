/*
 * cmd_index.c - `junco index build|info`: nearest-neighbour indexes over an
 * embedding's item vectors, saved as <home>/indexes/<embedding>.<type>.jann
 * (junco/ann.h). Also the helpers that similar/recommend-emb share with it:
 * loading an embedding by name and finding its index.
 */
#include "cli.h"

#include "core/alloc.h"
#include "core/buf.h"
#include "core/fileio.h"
#include "core/json.h"
#include "core/timeutil.h"
#include <junco/ann.h>
#include <junco/embed.h>
#include <junco/error.h>

#include <math.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

int jc_cli_embedding_path(const struct jc_cli *cli, const char *name, char *out, size_t cap)
{
    if (!jc_embed_name_valid(name))
        return jc_err_set(JC_EINVAL, "bad embedding name '%s'", name);
    char rel[128];
    snprintf(rel, sizeof rel, "embeddings/%s.jemb", name);
    return jc_cli_path(cli, rel, out, cap);
}

int jc_cli_index_path(const struct jc_cli *cli, const char *name, const char *type, char *out,
                      size_t cap)
{
    if (!jc_embed_name_valid(name))
        return jc_err_set(JC_EINVAL, "bad embedding name '%s'", name);
    char rel[160];
    snprintf(rel, sizeof rel, "indexes/%s.%s.jann", name, type);
    return jc_cli_path(cli, rel, out, cap);
}

int jc_cli_load_embedding(const struct jc_cli *cli, const char *name, const struct jc_catalog *cat,
                          struct jc_emb **out)
{
    char path[4096];
    int rc = jc_cli_embedding_path(cli, name, path, sizeof path);
    if (rc)
        return rc;
    if (!jc_path_exists(path))
        return jc_err_set(JC_ENOTFOUND, "no embedding '%s' (%s): run `junco embed --name %s` first",
                          name, path, name);
    struct jc_emb *e;
    if ((rc = jc_emb_load(&e, path)))
        return rc;
    if (cat && (rc = jc_emb_check_catalog(e, cat)) != JC_OK) {
        jc_emb_destroy(e);
        return rc;
    }
    *out = e;
    return JC_OK;
}

static int64_t mtime_ns(const char *path)
{
    struct stat sb;
    if (stat(path, &sb) != 0)
        return -1;
    return (int64_t)sb.st_mtim.tv_sec * 1000000000 + sb.st_mtim.tv_nsec;
}

int jc_cli_open_index(const struct jc_cli *cli, const char *name, const char *want,
                      struct jc_ann **out, char *type_out, size_t cap)
{
    static const char *const order[] = {"hnsw", "flat", "lsh"};
    char epath[4096], ipath[4096];
    int rc = jc_cli_embedding_path(cli, name, epath, sizeof epath);
    if (rc)
        return rc;
    *out = NULL;
    snprintf(type_out, cap, "exact");
    if (strcmp(want, "none") == 0 || strcmp(want, "exact") == 0)
        return JC_OK;
    int is_auto = strcmp(want, "auto") == 0;
    for (int i = 0; i < 3; i++) {
        if (!is_auto && strcmp(want, order[i]) != 0)
            continue;
        if ((rc = jc_cli_index_path(cli, name, order[i], ipath, sizeof ipath)))
            return rc;
        if (!jc_path_exists(ipath)) {
            if (!is_auto)
                return jc_err_set(JC_ENOTFOUND,
                                  "no %s index for '%s': run `junco index build --embedding %s "
                                  "--type %s`",
                                  order[i], name, name, order[i]);
            continue;
        }
        if (mtime_ns(ipath) < mtime_ns(epath)) {
            if (!cli->quiet)
                fprintf(stderr, "junco: note: %s is older than the embedding; %s\n", ipath,
                        is_auto ? "ignoring it" : "rebuild it with `junco index build`");
            if (is_auto)
                continue;
        }
        struct jc_ann_load_opts lo;
        jc_ann_load_opts_default(&lo);
        if ((rc = jc_ann_load(out, ipath, &lo)))
            return rc;
        snprintf(type_out, cap, "%s", order[i]);
        return JC_OK;
    }
    if (!is_auto)
        return jc_err_set(JC_EINVAL, "unknown index type '%s' (auto, none, hnsw, flat, lsh)", want);
    return JC_OK;
}

static int index_build(struct jc_cli *cli, int argc, char **argv)
{
    const char *name = NULL, *type_s = NULL, *metric_s = NULL;
    int include_derived = 0, json = 0;
    int64_t m = 0, efc = 0, tables = 0, bits = 0, threads = 0;
    int s_m = 0, s_efc = 0, s_tables = 0, s_bits = 0, s_thr = 0;
    const struct jc_opt opts[] = {
        {"embedding", 'E', JC_OPT_STR, &name, "NAME", "embedding to index (embed.name)", NULL},
        {"type", 0, JC_OPT_STR, &type_s, "T", "hnsw | lsh | flat (ann.type)", NULL},
        {"metric", 0, JC_OPT_STR, &metric_s, "M",
         "cosine | ip | l2 (default: ip for ials/bpr, else ann.metric)", NULL},
        {"include-derived", 0, JC_OPT_FLAG, &include_derived, NULL,
         "also index items whose vector was derived (below min-count)", NULL},
        {"m", 0, JC_OPT_INT, &m, "N", "HNSW links per node (ann.hnsw_m)", &s_m},
        {"ef-construction", 0, JC_OPT_INT, &efc, "N", "HNSW build list (ann.hnsw_ef_construction)",
         &s_efc},
        {"tables", 0, JC_OPT_INT, &tables, "N", "LSH tables (ann.lsh_tables)", &s_tables},
        {"bits", 0, JC_OPT_INT, &bits, "N", "LSH bits per table (ann.lsh_bits)", &s_bits},
        {"threads", 't', JC_OPT_INT, &threads, "N", "build threads (core.threads)", &s_thr},
        {"json", 0, JC_OPT_FLAG, &json, NULL, "machine-readable output", NULL},
        {NULL, 0, 0, NULL, NULL, NULL, NULL},
    };
    int rc = jc_cli_parse(cli, "index build", "[--embedding NAME] [--type hnsw|lsh|flat]",
                          "Builds a nearest-neighbour index over the item vectors of an\n"
                          "embedding and saves it as <home>/indexes/NAME.TYPE.jann; `junco\n"
                          "similar` uses it. Prints the build time and recall@10 against exact\n"
                          "search on up to 500 items.",
                          opts, argc, argv, NULL, 0, NULL);
    if (rc >= 0)
        return rc;
    if (name == NULL)
        name = cli->cfg.embed_name;
    struct jc_ann_config ac;
    jc_ann_config_from(&ac, &cli->cfg);
    if (type_s && jc_ann_parse_type(type_s, &ac.type) != JC_OK)
        return jc_cli_usage("index build", "%s", jc_errmsg());
    if (metric_s && jc_ann_parse_metric(metric_s, &ac.metric) != JC_OK)
        return jc_cli_usage("index build", "%s", jc_errmsg());
    if (s_m)
        ac.hnsw_m = (uint32_t)m;
    if (s_efc)
        ac.hnsw_ef_construction = (uint32_t)efc;
    if (s_tables)
        ac.lsh_tables = (uint32_t)tables;
    if (s_bits)
        ac.lsh_bits = (uint32_t)bits;
    if (s_thr) {
        if (threads < 0 || threads > 1024)
            return jc_cli_usage("index build", "--threads must be in [0, 1024]");
        ac.threads = (int)threads;
    }
    struct jc_catalog *cat;
    if ((rc = jc_cli_open_catalog(cli, &cat)))
        return jc_cli_fail(rc);
    struct jc_emb *e = NULL;
    if ((rc = jc_cli_load_embedding(cli, name, cat, &e))) {
        jc_catalog_close(cat);
        return jc_cli_fail(rc);
    }
    enum jc_embed_method meth = jc_emb_method(e);
    if (metric_s == NULL && (meth == JC_EMBED_IALS || meth == JC_EMBED_BPR))
        ac.metric = JC_ANN_IP;
    uint32_t d = jc_emb_dim(e), n = jc_emb_n_items(e), cnt = 0;
    ac.dim = d;
    ac.capacity = n;
    uint32_t *ids = jc_malloc_array((size_t)n + 1, sizeof *ids);
    float *vecs = jc_malloc_array((size_t)n * d + 1, sizeof *vecs);
    struct jc_ann *ix = NULL;
    if (!ids || !vecs)
        rc = JC_ENOMEM;
    for (uint32_t i = 0; rc == JC_OK && i < n; i++) {
        enum jc_emb_status s = jc_emb_item_status(e, i);
        if (s == JC_EMB_NONE || (s != JC_EMB_TRAINED && !include_derived))
            continue;
        const float *v = jc_emb_item_vec(e, i);
        double nv = 0;
        for (uint32_t f = 0; f < d; f++)
            nv += (double)v[f] * v[f];
        if (!(nv > 0))
            continue;
        memcpy(vecs + (size_t)cnt * d, v, d * sizeof *vecs);
        ids[cnt++] = i;
    }
    uint64_t t0 = jc_now_ns();
    if (rc == JC_OK)
        rc = jc_ann_create(&ix, &ac);
    if (rc == JC_OK)
        rc = jc_ann_add_batch(ix, ids, vecs, cnt, &cli->progress);
    double build_s = (double)(jc_now_ns() - t0) * 1e-9;
    jc_cli_progress_done(cli);
    char path[4096];
    if (rc == JC_OK && (rc = jc_cli_ensure_home(cli, "indexes")) == JC_OK &&
        (rc = jc_cli_index_path(cli, name, jc_ann_type_name(ac.type), path, sizeof path)) == JC_OK)
        rc = jc_ann_save(ix, path);
    double recall = -1;
    uint32_t nq = cnt < 500 ? cnt : 500;
    if (rc == JC_OK && nq > 0) {
        /* evenly spaced indexed items as queries */
        for (uint32_t q = 0; q < nq; q++)
            memmove(vecs + (size_t)q * d, vecs + (size_t)((uint64_t)q * cnt / nq) * d,
                    d * sizeof *vecs);
        rc = jc_ann_recall(ix, vecs, nq, 10, NULL, &recall);
    }
    struct jc_ann_info info;
    if (rc == JC_OK)
        jc_ann_info(ix, &info);
    jc_free(ids);
    jc_free(vecs);
    jc_ann_destroy(ix);
    jc_emb_destroy(e);
    jc_catalog_close(cat);
    if (rc)
        return jc_cli_fail(rc);
    if (json) {
        struct jc_buf b;
        jc_buf_init(&b, 0);
        struct jc_json j;
        jc_json_init(&j, &b, 0);
        jc_json_obj_begin(&j);
        jc_json_kv_str(&j, "embedding", name);
        jc_json_kv_str(&j, "type", jc_ann_type_name(ac.type));
        jc_json_kv_str(&j, "metric", jc_ann_metric_name(ac.metric));
        jc_json_kv_str(&j, "path", path);
        jc_json_kv_int(&j, "vectors", cnt);
        jc_json_kv_int(&j, "dim", d);
        jc_json_kv_int(&j, "bytes", (int64_t)info.bytes);
        jc_json_kv_double(&j, "build_seconds", build_s);
        jc_json_key(&j, "recall_at_10");
        if (recall >= 0)
            jc_json_double(&j, recall);
        else
            jc_json_null(&j);
        jc_json_obj_end(&j);
        if (jc_json_finish(&j) == JC_OK)
            printf("%s\n", b.data);
        jc_buf_free(&b);
    } else {
        printf("index %s (%s, %s): %u vectors of dim %u, built in %.2fs, %.1f MiB\n", path,
               jc_ann_type_name(ac.type), jc_ann_metric_name(ac.metric), cnt, d, build_s,
               (double)info.bytes / 1048576.0);
        if (recall >= 0)
            printf("recall@10 vs exact search (%u queries): %.4f\n", nq, recall);
    }
    return JC_EXIT_OK;
}

static int index_info(struct jc_cli *cli, int argc, char **argv)
{
    const char *name = NULL, *type_s = "auto";
    int json = 0;
    const struct jc_opt opts[] = {
        {"embedding", 'E', JC_OPT_STR, &name, "NAME", "embedding (embed.name)", NULL},
        {"type", 0, JC_OPT_STR, &type_s, "T", "auto | hnsw | lsh | flat (default auto)", NULL},
        {"json", 0, JC_OPT_FLAG, &json, NULL, "machine-readable output", NULL},
        {NULL, 0, 0, NULL, NULL, NULL, NULL},
    };
    int rc = jc_cli_parse(cli, "index info", "[--embedding NAME] [--type T]",
                          "Describes the index of an embedding.", opts, argc, argv, NULL, 0, NULL);
    if (rc >= 0)
        return rc;
    if (name == NULL)
        name = cli->cfg.embed_name;
    struct jc_ann *ix = NULL;
    char type[16];
    if ((rc = jc_cli_open_index(cli, name, type_s, &ix, type, sizeof type)))
        return jc_cli_fail(rc);
    if (ix == NULL)
        return jc_cli_fail(jc_err_set(JC_ENOTFOUND, "no index for embedding '%s'", name));
    struct jc_ann_info in;
    jc_ann_info(ix, &in);
    if (json) {
        printf("{\"embedding\":\"%s\",\"type\":\"%s\",\"metric\":\"%s\",\"dim\":%u,"
               "\"vectors\":%zu,\"removed\":%zu,\"bytes\":%zu,\"mapped\":%s}\n",
               name, jc_ann_type_name(in.type), jc_ann_metric_name(in.metric), in.dim, in.n_live,
               in.n_removed, in.bytes, in.mapped ? "true" : "false");
    } else {
        printf("%s index of '%s': %zu vectors of dim %u, metric %s, %.1f MiB%s\n",
               jc_ann_type_name(in.type), name, in.n_live, in.dim, jc_ann_metric_name(in.metric),
               (double)in.bytes / 1048576.0, in.mapped ? " (mapped)" : "");
    }
    jc_ann_destroy(ix);
    return JC_EXIT_OK;
}

int jc_cmd_index(struct jc_cli *cli, int argc, char **argv)
{
    /* The subcommand is the first word that is neither an option nor the
     * value of a global option (global options may come before it). */
    int at = -1;
    for (int i = 0; i < argc; i++) {
        if (argv[i][0] != '-') {
            at = i;
            break;
        }
        if (strcmp(argv[i], "--home") == 0 || strcmp(argv[i], "--set") == 0)
            i++;
    }
    if (at < 0) {
        for (int i = 0; i < argc; i++)
            if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
                printf("usage: junco index build [--embedding NAME] [--type hnsw|lsh|flat] "
                       "[options]\n"
                       "       junco index info [--embedding NAME] [--type T]\n\n"
                       "Nearest-neighbour indexes over embedding item vectors "
                       "(<home>/indexes/NAME.TYPE.jann).\n"
                       "Run `junco index build --help` for the options.\n");
                return JC_EXIT_OK;
            }
        return jc_cli_usage("index", "expected a subcommand: build or info");
    }
    char *sub = argv[at];
    char *rest[256];
    int n = 0;
    for (int i = 0; i < argc && n < 255; i++)
        if (i != at)
            rest[n++] = argv[i];
    rest[n] = NULL;
    if (strcmp(sub, "build") == 0)
        return index_build(cli, n, rest);
    if (strcmp(sub, "info") == 0)
        return index_info(cli, n, rest);
    return jc_cli_usage("index", "unknown subcommand '%s' (build, info)", sub);
}
