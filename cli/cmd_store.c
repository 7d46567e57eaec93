/*
 * cmd_store.c - `junco store get KIND ID` and `junco store dump`: inspect
 * the feature store configured in [store] / [redis]. User and item states
 * are decoded and shown with the features serving would compute from them.
 */
#include "cli.h"

#include "core/alloc.h"
#include "core/buf.h"
#include "core/json.h"
#include "core/utf8.h"
#include <junco/error.h>
#include <junco/featspec.h>
#include <junco/store.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct store_env {
    struct jc_catalog *cat;
    struct jc_featspec *spec;
    struct jc_store *store;
};

static int env_open(struct jc_cli *cli, struct store_env *e, int need_catalog)
{
    memset(e, 0, sizeof *e);
    int rc = JC_OK;
    if (need_catalog) {
        struct jc_featspec_opts fo;
        jc_featspec_opts_from_config(&fo, &cli->cfg);
        rc = jc_cli_open_catalog(cli, &e->cat);
        if (rc == JC_OK)
            rc = jc_featspec_create(&e->spec, &fo, e->cat);
    }
    struct jc_store_config sc;
    char path[4096];
    if (rc == JC_OK)
        rc = jc_store_config_from(&sc, &cli->cfg, cli->home, path, sizeof path);
    if (rc == JC_OK) {
        sc.read_only = sc.backend == JC_STORE_LMDB;
        rc = jc_store_open(&e->store, &sc);
    }
    return rc;
}

static void env_close(struct store_env *e)
{
    jc_store_close(e->store);
    jc_featspec_destroy(e->spec);
    if (e->cat)
        jc_catalog_close(e->cat);
}

static void value_json(struct jc_json *j, const char *v, size_t n)
{
    if (jc_utf8_valid(v, n, NULL)) {
        jc_json_strn(j, v, n);
        return;
    }
    struct jc_buf h;
    jc_buf_init(&h, 0);
    for (size_t i = 0; i < n; i++)
        jc_buf_printf(&h, "%02x", (unsigned char)v[i]);
    jc_json_strn(j, h.data ? h.data : "", h.len);
    jc_buf_free(&h);
}

static void user_json(struct jc_json *j, const struct store_env *e, const struct jc_user_state *u)
{
    struct jc_user_feats f;
    jc_user_state_features(u, e->spec, &f);
    uint32_t ni = jc_catalog_n_items(e->cat);
    jc_json_kv_int(j, "events", (int64_t)u->n_events);
    jc_json_kv_int(j, "positives", (int64_t)u->n_pos);
    jc_json_kv_int(j, "first_time", u->first_time);
    jc_json_kv_int(j, "last_time", u->last_time);
    jc_json_kv_int(j, "window", u->window);
    jc_json_key(j, "features");
    jc_json_obj_begin(j);
    jc_json_kv_int(j, "userRatingCount", f.rating_count);
    jc_json_kv_double(j, "userAvgRating", f.avg_rating);
    jc_json_kv_double(j, "userRatingStddev", f.std_rating);
    jc_json_kv_double(j, "userAvgReleaseYear", f.avg_year);
    jc_json_kv_double(j, "userReleaseYearStddev", f.std_year);
    jc_json_key(j, "userRatedMovies");
    jc_json_arr_begin(j);
    for (uint32_t i = 0; i < f.n_rated && i < 5; i++)
        jc_json_str(j, f.rated[i] < ni ? jc_catalog_item_ext_id(e->cat, f.rated[i]) : "?");
    jc_json_arr_end(j);
    jc_json_key(j, "userGenres");
    jc_json_arr_begin(j);
    for (uint32_t i = 0; i < f.n_top_genres && i < 5; i++)
        jc_json_str(j, jc_catalog_genre_name(e->cat, f.top_genres[i]));
    jc_json_arr_end(j);
    jc_json_key(j, "userHistory");
    jc_json_arr_begin(j);
    for (uint32_t i = 0; i < f.n_hist; i++)
        jc_json_str(j, f.hist[i] < ni ? jc_catalog_item_ext_id(e->cat, f.hist[i]) : "?");
    jc_json_arr_end(j);
    jc_json_obj_end(j);
}

static void item_json(struct jc_json *j, const struct jc_item_state *it)
{
    struct jc_item_feats f;
    jc_item_state_features(it, &f);
    jc_json_kv_int(j, "movieRatingCount", f.rating_count);
    jc_json_kv_double(j, "movieAvgRating", f.avg_rating);
    jc_json_kv_double(j, "movieRatingStddev", f.std_rating);
    jc_json_kv_int(j, "last_time", it->last_time);
}

static int store_get(struct jc_cli *cli, int argc, char **argv)
{
    const char *pos[2];
    int n_pos = 0;
    int rc = jc_cli_parse(cli, "store get", "KIND ID",
                          "Prints one record of the feature store as JSON. KIND is user (key\n"
                          "uf:ID), item (if:ID) or key (ID is the whole logical key, e.g.\n"
                          "emb:item2vec:1 or meta:features).",
                          NULL, argc, argv, pos, 2, &n_pos);
    if (rc >= 0)
        return rc;
    if (n_pos != 2)
        return jc_cli_usage("store get", "expected KIND and ID");
    const char *kind = pos[0], *id = pos[1];
    char key[JC_STORE_KEY_MAX + 1];
    int typed = 0;
    if (strcmp(kind, "user") == 0)
        typed = 1, snprintf(key, sizeof key, "uf:%s", id);
    else if (strcmp(kind, "item") == 0)
        typed = 2, snprintf(key, sizeof key, "if:%s", id);
    else if (strcmp(kind, "key") == 0)
        snprintf(key, sizeof key, "%s", id);
    else
        return jc_cli_usage("store get", "KIND must be user, item or key");
    struct store_env e;
    rc = env_open(cli, &e, typed == 1);
    struct jc_buf v;
    jc_buf_init(&v, JC_STORE_VALUE_MAX);
    if (rc == JC_OK)
        rc = jc_store_get(e.store, key, strlen(key), &v);
    struct jc_buf out;
    struct jc_json j;
    jc_buf_init(&out, 0);
    jc_json_init(&j, &out, 1);
    jc_json_obj_begin(&j);
    jc_json_kv_str(&j, "key", key);
    jc_json_kv_int(&j, "bytes", (int64_t)v.len);
    if (rc == JC_OK && typed == 1) {
        struct jc_user_state *u = jc_malloc(sizeof *u);
        rc = u ? jc_user_state_decode(u, e.spec, v.data, v.len) : JC_ENOMEM;
        if (rc == JC_OK)
            user_json(&j, &e, u);
        jc_free(u);
    } else if (rc == JC_OK && typed == 2) {
        struct jc_item_state it;
        rc = jc_item_state_decode(&it, v.data, v.len);
        if (rc == JC_OK)
            item_json(&j, &it);
    } else if (rc == JC_OK) {
        jc_json_key(&j, "value");
        value_json(&j, v.data ? v.data : "", v.len);
    }
    jc_json_obj_end(&j);
    if (rc == JC_OK && jc_json_finish(&j) == JC_OK)
        fwrite(out.data, 1, out.len, stdout);
    jc_buf_free(&out);
    jc_buf_free(&v);
    env_close(&e);
    return rc ? jc_cli_fail(rc) : JC_EXIT_OK;
}

struct dump_ctx {
    char **lines;
    size_t n, cap;
    uint64_t limit;
    int rc;
};

static int dump_one(void *ctx, const char *key, size_t klen, const void *val, size_t vlen)
{
    struct dump_ctx *d = ctx;
    struct jc_buf b;
    jc_buf_init(&b, 1 << 16);
    int rc = jc_buf_append(&b, key, klen);
    rc = rc ? rc : jc_buf_printf(&b, "\t%zu\t", vlen);
    if (rc == JC_OK && klen > 3 && memcmp(key, "if:", 3) == 0) {
        struct jc_item_state it;
        if (jc_item_state_decode(&it, val, vlen) == JC_OK) {
            struct jc_item_feats f;
            jc_item_state_features(&it, &f);
            rc = jc_buf_printf(&b, "count=%u avg=%.4f std=%.4f", f.rating_count,
                               (double)f.avg_rating, (double)f.std_rating);
        }
    } else if (rc == JC_OK && klen > 3 && memcmp(key, "uf:", 3) == 0 && vlen >= 18) {
        uint64_t events;
        memcpy(&events, (const char *)val + 10, 8);
        rc = jc_buf_printf(&b, "events=%llu", (unsigned long long)events);
    } else if (rc == JC_OK && jc_utf8_valid(val, vlen, NULL)) {
        size_t n = vlen > 120 ? 120 : vlen;
        for (size_t i = 0; i < n && rc == JC_OK; i++) {
            char ch = ((const char *)val)[i];
            rc = jc_buf_append_char(&b, ch == '\n' || ch == '\t' ? ' ' : ch);
        }
    }
    if (rc == JC_OK && d->n == d->cap) {
        size_t cap = d->cap ? d->cap * 2 : 256;
        char **l = jc_realloc_array(d->lines, cap, sizeof *l);
        if (l == NULL)
            rc = JC_ENOMEM;
        else
            d->lines = l, d->cap = cap;
    }
    if (rc == JC_OK)
        d->lines[d->n++] = jc_buf_detach(&b, NULL);
    jc_buf_free(&b);
    if (rc) {
        d->rc = rc;
        return 1;
    }
    return d->limit && d->n >= d->limit;
}

static int cmp_line(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static int store_dump(struct jc_cli *cli, int argc, char **argv)
{
    const char *prefix = "";
    int64_t limit = 0;
    const struct jc_opt opts[] = {
        {"prefix", 0, JC_OPT_STR, &prefix, "P", "only keys starting with P (e.g. uf: or if:)",
         NULL},
        {"limit", 0, JC_OPT_INT, &limit, "N", "stop after N keys (0 = all)", NULL},
        {NULL, 0, 0, NULL, NULL, NULL, NULL},
    };
    int rc = jc_cli_parse(cli, "store dump", "[--prefix P] [--limit N]",
                          "Lists the feature store's keys (sorted) with value sizes and a short\n"
                          "summary: tab-separated key, bytes, summary.",
                          opts, argc, argv, NULL, 0, NULL);
    if (rc >= 0)
        return rc;
    if (limit < 0)
        return jc_cli_usage("store dump", "--limit must be >= 0");
    struct store_env e;
    rc = env_open(cli, &e, 0);
    struct dump_ctx d = {NULL, 0, 0, (uint64_t)limit, JC_OK};
    if (rc == JC_OK)
        rc = jc_store_scan(e.store, prefix, strlen(prefix), dump_one, &d);
    if (rc == JC_OK)
        rc = d.rc;
    if (rc == JC_OK) {
        qsort(d.lines, d.n, sizeof *d.lines, cmp_line);
        for (size_t i = 0; i < d.n; i++)
            printf("%s\n", d.lines[i]);
    }
    for (size_t i = 0; i < d.n; i++)
        jc_free(d.lines[i]);
    jc_free(d.lines);
    env_close(&e);
    return rc ? jc_cli_fail(rc) : JC_EXIT_OK;
}

int jc_cmd_store(struct jc_cli *cli, int argc, char **argv)
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
    if (what == NULL || (strcmp(what, "get") != 0 && strcmp(what, "dump") != 0)) {
        int help = 0;
        for (int i = 0; i < argc; i++)
            help |= strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0;
        if (what)
            return jc_cli_usage("store", "unknown subcommand '%s' (get, dump)", what);
        FILE *f = help ? stdout : stderr;
        fprintf(f, "usage: junco store get KIND ID | junco store dump [--prefix P] [--limit N]\n"
                   "\n  get   print one record (KIND: user, item, key)\n"
                   "  dump  list keys with sizes and summaries\n");
        return help ? JC_EXIT_OK : JC_EXIT_USAGE;
    }
    char *rest[256];
    int n = 0;
    for (int k = 0; k < argc && n < 256; k++)
        if (k != at)
            rest[n++] = argv[k];
    return strcmp(what, "get") == 0 ? store_get(cli, n, rest) : store_dump(cli, n, rest);
}
