/*
 * cmd_features.c - `junco features`: point-in-time features and the
 * train/valid/test sample files under <home>/samples, with optional CSV
 * (the course's 27 columns) or TSV (finished rows, for peers) exports.
 */
#include "cli.h"

#include "core/buf.h"
#include "core/fileio.h"
#include "core/json.h"
#include "core/timeutil.h"
#include <junco/error.h>
#include <junco/featspec.h>
#include <junco/samples.h>

#include <stdio.h>
#include <string.h>

struct export_done {
    enum jc_split split;
    char path[4096];
    uint64_t rows;
};

static void print_report(const struct jc_samples_report *r, const struct jc_samples_opts *so,
                         const struct jc_featspec *spec, const struct export_done *ex, int n_ex,
                         int json)
{
    const struct jc_feat_layout *L = jc_featspec_layout(spec);
    const struct jc_featspec_opts *fo = jc_featspec_options(spec);
    uint64_t total = r->split[0].rows + r->split[1].rows + r->split[2].rows;
    if (!json) {
        printf("samples: %s (split %s, seed %llu%s)\n", so->dir, jc_split_method_name(so->split),
               (unsigned long long)so->seed, fo->implicit ? ", implicit" : "");
        printf("events %llu, rows %llu, dropped (short history) %llu",
               (unsigned long long)r->events, (unsigned long long)total,
               (unsigned long long)r->dropped);
        if (fo->implicit)
            printf(", negatives %llu", (unsigned long long)r->negatives);
        printf("\nlayout: %u fields, %u categorical slots, %u numbers, %u bytes per row\n",
               L->n_fields, L->n_cat, L->n_num, r->row_size);
        for (int sp = 0; sp < JC_SPLIT__COUNT; sp++) {
            const struct jc_split_stats *st = &r->split[sp];
            char a[32] = "-", b[32] = "-";
            if (st->rows) {
                jc_fmt_utc(a, sizeof a, st->time_min);
                jc_fmt_utc(b, sizeof b, st->time_max);
            }
            printf("  %-5s %10llu rows  positive rate %.4f  %s .. %s\n",
                   jc_split_name((enum jc_split)sp), (unsigned long long)st->rows,
                   st->rows ? (double)st->positives / (double)st->rows : 0.0, a, b);
        }
        for (int i = 0; i < n_ex; i++)
            printf("exported %s: %s (%llu rows)\n", jc_split_name(ex[i].split), ex[i].path,
                   (unsigned long long)ex[i].rows);
        char dur[32];
        jc_fmt_duration(dur, sizeof dur, r->seconds);
        printf("took %s\n", dur);
        return;
    }
    struct jc_buf b;
    struct jc_json j;
    jc_buf_init(&b, 0);
    jc_json_init(&j, &b, 1);
    jc_json_obj_begin(&j);
    jc_json_kv_str(&j, "dir", so->dir);
    jc_json_kv_str(&j, "split", jc_split_method_name(so->split));
    jc_json_kv_double(&j, "valid", so->valid);
    jc_json_kv_double(&j, "test", so->test);
    jc_json_kv_int(&j, "seed", (int64_t)so->seed);
    jc_json_kv_bool(&j, "implicit", fo->implicit);
    jc_json_kv_double(&j, "label_threshold", fo->label_threshold);
    jc_json_kv_int(&j, "events", (int64_t)r->events);
    jc_json_kv_int(&j, "rows", (int64_t)total);
    jc_json_kv_int(&j, "dropped", (int64_t)r->dropped);
    jc_json_kv_int(&j, "negatives", (int64_t)r->negatives);
    if (so->split == JC_SPLIT_TIME) {
        jc_json_kv_int(&j, "cut_valid", r->cut_valid);
        jc_json_kv_int(&j, "cut_test", r->cut_test);
    }
    jc_json_key(&j, "splits");
    jc_json_obj_begin(&j);
    for (int sp = 0; sp < JC_SPLIT__COUNT; sp++) {
        const struct jc_split_stats *st = &r->split[sp];
        jc_json_key(&j, jc_split_name((enum jc_split)sp));
        jc_json_obj_begin(&j);
        jc_json_kv_int(&j, "rows", (int64_t)st->rows);
        jc_json_kv_int(&j, "positives", (int64_t)st->positives);
        jc_json_kv_double(&j, "positive_rate",
                          st->rows ? (double)st->positives / (double)st->rows : 0.0);
        if (st->rows) {
            char t[32];
            jc_json_kv_int(&j, "time_min", st->time_min);
            jc_json_kv_int(&j, "time_max", st->time_max);
            jc_fmt_utc(t, sizeof t, st->time_min);
            jc_json_kv_str(&j, "time_min_utc", t);
            jc_fmt_utc(t, sizeof t, st->time_max);
            jc_json_kv_str(&j, "time_max_utc", t);
        } else {
            jc_json_key(&j, "time_min");
            jc_json_null(&j);
            jc_json_key(&j, "time_max");
            jc_json_null(&j);
        }
        jc_json_kv_int(&j, "shards", st->shards);
        jc_json_obj_end(&j);
    }
    jc_json_obj_end(&j);
    jc_json_key(&j, "layout");
    jc_json_obj_begin(&j);
    jc_json_kv_int(&j, "fields", L->n_fields);
    jc_json_kv_int(&j, "n_cat", L->n_cat);
    jc_json_kv_int(&j, "n_num", L->n_num);
    jc_json_kv_int(&j, "row_size", r->row_size);
    jc_json_obj_end(&j);
    jc_json_key(&j, "exports");
    jc_json_arr_begin(&j);
    for (int i = 0; i < n_ex; i++) {
        jc_json_obj_begin(&j);
        jc_json_kv_str(&j, "split", jc_split_name(ex[i].split));
        jc_json_kv_str(&j, "path", ex[i].path);
        jc_json_kv_int(&j, "rows", (int64_t)ex[i].rows);
        jc_json_obj_end(&j);
    }
    jc_json_arr_end(&j);
    jc_json_kv_int(&j, "bytes", (int64_t)r->bytes);
    jc_json_kv_double(&j, "seconds", r->seconds);
    jc_json_obj_end(&j);
    if (jc_json_finish(&j) == JC_OK)
        fwrite(b.data, 1, b.len, stdout);
    jc_buf_free(&b);
}

int jc_cmd_features(struct jc_cli *cli, int argc, char **argv)
{
    const char *split = NULL, *spec_path = NULL, *columns = NULL, *out = NULL, *export = NULL;
    const char *sampling = NULL;
    double valid = -1, test = -1;
    int64_t seed = -1, threads = -1, negatives = -1;
    int json = 0, implicit = 0;
    const struct jc_opt opts[] = {
        {"split", 0, JC_OPT_STR, &split, "METHOD",
         "time (global temporal quantiles, default), loo (per-user last out) or random", NULL},
        {"valid", 0, JC_OPT_DBL, &valid, "F", "validation fraction (default features.valid)", NULL},
        {"test", 0, JC_OPT_DBL, &test, "F", "test fraction (default features.test)", NULL},
        {"seed", 0, JC_OPT_INT, &seed, "S", "random seed (default core.seed)", NULL},
        {"threads", 0, JC_OPT_INT, &threads, "N", "worker threads (default core.threads)", NULL},
        {"spec", 0, JC_OPT_STR, &spec_path, "FILE", "feature spec file (default features.spec)",
         NULL},
        {"columns", 0, JC_OPT_STR, &columns, "LIST", "comma-separated subset of the columns", NULL},
        {"implicit", 0, JC_OPT_FLAG, &implicit, NULL,
         "implicit feedback: all events positive, plus sampled negatives", NULL},
        {"negatives", 0, JC_OPT_INT, &negatives, "N", "implicit mode: negatives per positive",
         NULL},
        {"sampling", 0, JC_OPT_STR, &sampling, "HOW", "implicit mode: uniform or popularity", NULL},
        {"out", 'o', JC_OPT_STR, &out, "DIR", "output directory (default <home>/samples)", NULL},
        {"export", 0, JC_OPT_STR, &export, "FMT",
         "also write <dir>/<split>.csv (course's 27 columns) or .tsv (finished rows)", NULL},
        {"json", 0, JC_OPT_FLAG, &json, NULL, "print the report as JSON", NULL},
        {NULL, 0, 0, NULL, NULL, NULL, NULL},
    };
    int rc =
        jc_cli_parse(cli, "features", "[options]",
                     "Computes point-in-time features for every event of the catalog (each row\n"
                     "sees only events with a strictly smaller timestamp), splits the rows into\n"
                     "train/valid/test, fits vocabularies and normalisation on train, and writes\n"
                     "sharded binary sample files with a manifest. The columns come from the\n"
                     "feature spec (default: the course's reference set plus the DIN history and\n"
                     "hour/weekday context; see docs/FEATURES.md).",
                     opts, argc, argv, NULL, 0, NULL);
    if (rc >= 0)
        return rc;
    const struct jc_config *c = &cli->cfg;
    struct jc_samples_opts so;
    jc_samples_opts_default(&so);
    if (jc_split_method_parse(split ? split : c->features_split, &so.split))
        return jc_cli_usage("features", "--split must be time, loo or random");
    so.valid = valid >= 0 ? valid : c->features_valid;
    so.test = test >= 0 ? test : c->features_test;
    if (so.valid < 0 || so.test < 0 || so.valid + so.test >= 1.0 || valid > 1 || test > 1)
        return jc_cli_usage("features", "--valid and --test must be >= 0 and sum to < 1");
    so.seed = (uint64_t)(seed >= 0 ? seed : c->core_seed);
    so.threads = (int)(threads >= 0 ? threads : c->core_threads);
    so.shard_rows = (uint64_t)c->features_shard_rows;
    so.progress = cli->progress;
    enum jc_export_format fmt = JC_EXPORT_CSV;
    if (export) {
        if (strcmp(export, "csv") == 0)
            fmt = JC_EXPORT_CSV;
        else if (strcmp(export, "tsv") == 0)
            fmt = JC_EXPORT_TSV;
        else
            return jc_cli_usage("features", "--export must be csv or tsv");
    }
    if (negatives > 1000 ||
        (sampling && strcmp(sampling, "uniform") != 0 && strcmp(sampling, "popularity") != 0))
        return jc_cli_usage("features", "--negatives must be <= 1000 and --sampling uniform or "
                                        "popularity");
    char dir[4096];
    if (out)
        snprintf(dir, sizeof dir, "%s", out);
    else if ((rc = jc_cli_path(cli, "samples", dir, sizeof dir)))
        return jc_cli_fail(rc);
    so.dir = dir;

    struct jc_featspec_opts fo;
    jc_featspec_opts_from_config(&fo, c);
    if (spec_path)
        fo.spec_path = spec_path;
    if (columns)
        fo.columns = columns;
    if (implicit)
        fo.implicit = 1;
    if (negatives >= 0)
        fo.negatives = (uint32_t)negatives;
    if (sampling)
        fo.neg_popularity = strcmp(sampling, "popularity") == 0;

    struct jc_catalog *cat;
    if ((rc = jc_cli_open_catalog(cli, &cat)))
        return jc_cli_fail(rc);
    struct jc_featspec *spec = NULL;
    rc = jc_featspec_create(&spec, &fo, cat);
    if (rc == JC_OK && export)
        rc = jc_samples_export_check(spec, fmt);
    if (rc == JC_OK && !out)
        rc = jc_cli_ensure_home(cli, NULL);
    struct jc_samples_report rep;
    if (rc == JC_OK)
        rc = jc_samples_build(cat, spec, &so, &rep);
    jc_cli_progress_done(cli);
    struct export_done ex[JC_SPLIT__COUNT];
    int n_ex = 0;
    for (int sp = 0; export && rc == JC_OK && sp < JC_SPLIT__COUNT; sp++) {
        struct jc_samples *s;
        rc =
            jc_samples_open(&s, dir, (enum jc_split)sp, c->features_verify ? JC_SAMPLES_VERIFY : 0);
        if (rc)
            break;
        char name[32];
        snprintf(name, sizeof name, "%s.%s", jc_split_name((enum jc_split)sp), export);
        ex[n_ex].split = (enum jc_split)sp;
        rc = jc_path_join(ex[n_ex].path, sizeof ex[n_ex].path, dir, name);
        if (rc == JC_OK)
            rc = jc_samples_export(s, cat, fmt, ex[n_ex].path, &ex[n_ex].rows);
        jc_samples_close(s);
        if (rc == JC_OK)
            n_ex++;
    }
    if (rc == JC_OK)
        print_report(&rep, &so, spec, ex, n_ex, json);
    jc_featspec_destroy(spec);
    jc_catalog_close(cat);
    return rc ? jc_cli_fail(rc) : JC_EXIT_OK;
}
