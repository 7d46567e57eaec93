/*
 * features_bench.c - throughput of the feature store and latency of the
 * online batch builder; bench/features/run.sh drives it and records the
 * figures next to the pandas and redis-server peers.
 *
 *   bench_features lmdb  DIR [--keys N] [--seconds S] [--threads T]
 *       single-key gets per second (random "if:<id>" keys, 34-byte item
 *       states) from an LMDB store filled with N keys;
 *   bench_features redis PORT [--keys N] [--batch B] [--seconds S] [--threads T]
 *       pipelined multi-gets of B keys (keys/s and multi-gets/s) and single
 *       GET round trips per second against a running redis-server;
 *   bench_features batch HOME [--candidates C] [--iters N]
 *       jc_featspec_build_batch latency for one user x C candidates with the
 *       fitted spec of HOME/samples (p50/p99 in microseconds).
 * Each prints one JSON object per measurement on stdout.
 */
#include "core/alloc.h"
#include "core/buf.h"
#include "core/fileio.h"
#include "core/parse.h"
#include "core/rng.h"
#include "core/timeutil.h"
#include <junco/catalog.h>
#include <junco/error.h>
#include <junco/featspec.h>
#include <junco/samples.h>
#include <junco/store.h>

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static uint64_t opt_u64(int argc, char **argv, const char *name, uint64_t def)
{
    for (int i = 0; i + 1 < argc; i++)
        if (strcmp(argv[i], name) == 0) {
            uint64_t v;
            if (jc_parse_u64(argv[i + 1], strlen(argv[i + 1]), &v) == JC_OK)
                return v;
            fprintf(stderr, "bad value for %s\n", name);
            exit(2);
        }
    return def;
}

static int fail(int rc)
{
    fprintf(stderr, "bench_features: %s\n", jc_errmsg());
    return rc ? 1 : 0;
}

static int fill(struct jc_store *s, uint64_t keys)
{
    struct jc_store_batch *b;
    int rc = jc_store_batch_create(&b);
    uint8_t val[JC_ISTATE_ENC_SIZE];
    struct jc_item_state st;
    jc_item_state_init(&st);
    for (uint64_t i = 0; i < keys && rc == JC_OK; i++) {
        char k[32];
        int kn = snprintf(k, sizeof k, "if:%llu", (unsigned long long)i);
        st.count = i;
        size_t vn;
        jc_item_state_encode(&st, val, sizeof val, &vn);
        rc = jc_store_batch_put(b, k, (size_t)kn, val, vn);
        if (rc == JC_OK && jc_store_batch_count(b) == 20000) {
            rc = jc_store_write(s, b);
            jc_store_batch_clear(b);
        }
    }
    if (rc == JC_OK)
        rc = jc_store_write(s, b);
    jc_store_batch_destroy(b);
    return rc;
}

struct run {
    struct jc_store *s;
    uint64_t keys, batch;
    double seconds;
    int id, mode; /* mode 0: single gets, 1: multi-gets */
    uint64_t ops, items, errors;
};

static void *get_loop(void *p)
{
    struct run *r = p;
    struct jc_rng rng;
    jc_rng_stream(&rng, 42, (uint64_t)r->id);
    struct jc_buf v, arena;
    jc_buf_init(&v, 0);
    jc_buf_init(&arena, 0);
    enum { MAXB = 4096 };
    const void *keys[MAXB];
    size_t klens[MAXB];
    struct jc_store_val vals[MAXB];
    /* gets walk a pre-generated random key list, so the loop measures the
     * store and not the key formatting */
    enum { NPRE = 1 << 16 };
    char(*pre)[24] = jc_malloc_array(NPRE, sizeof *pre);
    size_t *pre_n = jc_malloc_array(NPRE, sizeof *pre_n);
    for (uint32_t i = 0; pre && pre_n && i < NPRE; i++)
        pre_n[i] = (size_t)snprintf(pre[i], sizeof pre[i], "if:%llu",
                                    (unsigned long long)jc_rng_below(&rng, r->keys));
    uint32_t next = 0;
    uint64_t t_end = jc_now_ns() + (uint64_t)(r->seconds * 1e9);
    while (jc_now_ns() < t_end) {
        for (int rep = 0; rep < (r->mode ? 1 : 1024); rep++) {
            if (r->mode == 0) {
                uint32_t i = next++ & (NPRE - 1);
                if (jc_store_get(r->s, pre[i], pre_n[i], &v) != JC_OK ||
                    v.len != JC_ISTATE_ENC_SIZE)
                    r->errors++;
                r->ops++;
                r->items++;
            } else {
                uint32_t n = (uint32_t)r->batch;
                for (uint32_t i = 0; i < n; i++) {
                    uint32_t k = next++ & (NPRE - 1);
                    keys[i] = pre[k];
                    klens[i] = pre_n[k];
                }
                if (jc_store_mget(r->s, n, keys, klens, &arena, vals) != JC_OK)
                    r->errors++;
                r->ops++;
                r->items += n;
            }
        }
    }
    jc_free(pre);
    jc_free(pre_n);
    jc_buf_free(&v);
    jc_buf_free(&arena);
    return NULL;
}

static int measure(struct jc_store *s, const char *backend, int threads, uint64_t keys,
                   uint64_t batch, double seconds, int mode)
{
    struct run r[64];
    pthread_t t[64];
    if (threads < 1 || threads > 64 || batch > 4096)
        return 2;
    uint64_t t0 = jc_now_ns();
    for (int i = 0; i < threads; i++) {
        r[i] = (struct run){s, keys, batch, seconds, i, mode, 0, 0, 0};
        pthread_create(&t[i], NULL, get_loop, &r[i]);
    }
    uint64_t ops = 0, items = 0, errors = 0;
    for (int i = 0; i < threads; i++) {
        pthread_join(t[i], NULL);
        ops += r[i].ops;
        items += r[i].items;
        errors += r[i].errors;
    }
    double el = (double)(jc_now_ns() - t0) * 1e-9;
    printf("{\"task\":\"store_%s\",\"backend\":\"%s\",\"threads\":%d,\"keys\":%llu,"
           "\"batch\":%llu,\"seconds\":%.3f,\"ops\":%llu,\"items\":%llu,\"errors\":%llu,"
           "\"ops_per_s\":%.0f,\"items_per_s\":%.0f}\n",
           mode ? "mget" : "get", backend, threads, (unsigned long long)keys,
           (unsigned long long)(mode ? batch : 1), el, (unsigned long long)ops,
           (unsigned long long)items, (unsigned long long)errors, (double)ops / el,
           (double)items / el);
    fflush(stdout);
    return errors ? 1 : 0;
}

static int cmd_lmdb(int argc, char **argv)
{
    if (argc < 1)
        return 2;
    uint64_t keys = opt_u64(argc, argv, "--keys", 1000000);
    double seconds = (double)opt_u64(argc, argv, "--seconds", 5);
    int threads = (int)opt_u64(argc, argv, "--threads", 1);
    struct jc_store_config c;
    jc_store_config_default(&c);
    c.path = argv[0];
    c.map_size = (uint64_t)4 << 30;
    c.sync = 0;
    struct jc_store *s;
    int rc = jc_store_open(&s, &c);
    if (rc)
        return fail(rc);
    struct jc_buf v;
    jc_buf_init(&v, 0);
    char last[32];
    int ln = snprintf(last, sizeof last, "if:%llu", (unsigned long long)(keys - 1));
    if (jc_store_get(s, last, (size_t)ln, &v) != JC_OK && (rc = fill(s, keys)))
        return fail(rc);
    jc_buf_free(&v);
    rc = measure(s, "lmdb", threads, keys, 1, seconds, 0);
    if (rc == 0)
        rc = measure(s, "lmdb", threads, keys, 500, seconds, 1);
    jc_store_close(s);
    return rc;
}

static int cmd_redis(int argc, char **argv)
{
    if (argc < 1)
        return 2;
    uint64_t port;
    if (jc_parse_u64(argv[0], strlen(argv[0]), &port) != JC_OK)
        return 2;
    uint64_t keys = opt_u64(argc, argv, "--keys", 1000000);
    uint64_t batch = opt_u64(argc, argv, "--batch", 500);
    double seconds = (double)opt_u64(argc, argv, "--seconds", 5);
    int threads = (int)opt_u64(argc, argv, "--threads", 1);
    struct jc_store_config c;
    jc_store_config_default(&c);
    c.backend = JC_STORE_REDIS;
    c.redis_port = (int)port;
    c.redis_prefix = "bench:";
    struct jc_store *s;
    int rc = jc_store_open(&s, &c);
    if (rc)
        return fail(rc);
    struct jc_buf v;
    jc_buf_init(&v, 0);
    char last[32];
    int ln = snprintf(last, sizeof last, "if:%llu", (unsigned long long)(keys - 1));
    if (jc_store_get(s, last, (size_t)ln, &v) != JC_OK && (rc = fill(s, keys)))
        return fail(rc);
    jc_buf_free(&v);
    rc = measure(s, "redis", threads, keys, batch, seconds, 1);
    if (rc == 0)
        rc = measure(s, "redis", threads, keys, 1, seconds, 0);
    jc_store_close(s);
    return rc;
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

static int cmd_batch(int argc, char **argv)
{
    if (argc < 1)
        return 2;
    uint32_t cand = (uint32_t)opt_u64(argc, argv, "--candidates", 500);
    uint64_t iters = opt_u64(argc, argv, "--iters", 20000);
    char path[4096];
    struct jc_catalog *cat;
    jc_path_join(path, sizeof path, argv[0], "catalog/catalog.jcat");
    int rc = jc_catalog_open(&cat, path);
    if (rc)
        return fail(rc);
    jc_path_join(path, sizeof path, argv[0], "samples");
    struct jc_samples *sm;
    if ((rc = jc_samples_open(&sm, path, JC_SPLIT_TEST, 0)))
        return fail(rc);
    const void *blob;
    size_t bn;
    jc_samples_spec_blob(sm, &blob, &bn);
    struct jc_featspec *spec;
    if ((rc = jc_featspec_load_blob(&spec, blob, bn, cat)))
        return fail(rc);
    uint32_t n_items = jc_catalog_n_items(cat), n_users = jc_catalog_n_users(cat);
    struct jc_interactions ia;
    jc_catalog_interactions(cat, &ia);
    struct jc_rng rng;
    jc_rng_seed(&rng, 1);
    uint32_t *items = jc_malloc_array(cand, sizeof *items);
    struct jc_item_state *st = jc_malloc_array(cand, sizeof *st);
    uint64_t *lat = jc_malloc_array(iters, sizeof *lat);
    struct jc_user_state *us = jc_malloc(sizeof *us);
    struct jc_batch b;
    if (!items || !st || !lat || !us || jc_batch_init(&b, jc_featspec_layout(spec), cand))
        return fail(JC_ENOMEM);
    for (uint32_t i = 0; i < cand; i++) {
        jc_item_state_init(&st[i]);
        for (int k = 0; k < 50; k++)
            jc_item_state_add(&st[i], 3.5f, 0);
    }
    for (uint64_t it = 0; it < iters; it++) {
        uint32_t u = (uint32_t)jc_rng_below(&rng, n_users);
        if (it % 64 == 0 || it < 64) {
            /* a realistic user state: the user's full history */
            uint64_t beg, end;
            jc_catalog_user_range(cat, u, &beg, &end);
            jc_user_state_init(us, spec);
            for (uint64_t q = beg; q < end; q++)
                jc_user_state_add(us, spec, ia.item[q], ia.value[q], ia.time[q]);
        }
        for (uint32_t i = 0; i < cand; i++)
            items[i] = (uint32_t)jc_rng_below(&rng, n_items);
        struct jc_feat_context cx;
        jc_feat_context_from_time(&cx, 1500000000 + (int64_t)it);
        uint64_t t0 = jc_now_ns();
        rc = jc_featspec_build_batch(spec, u, us, &cx, cand, items, st, &b);
        lat[it] = jc_now_ns() - t0;
        if (rc)
            return fail(rc);
    }
    qsort(lat, iters, sizeof *lat, cmp_u64);
    printf("{\"task\":\"build_batch\",\"candidates\":%u,\"iters\":%llu,\"p50_us\":%.2f,"
           "\"p99_us\":%.2f,\"n_cat\":%u,\"n_num\":%u}\n",
           cand, (unsigned long long)iters, (double)lat[iters / 2] * 1e-3,
           (double)lat[iters * 99 / 100] * 1e-3, jc_featspec_layout(spec)->n_cat,
           jc_featspec_layout(spec)->n_num);
    jc_batch_free(&b);
    jc_free(items);
    jc_free(st);
    jc_free(lat);
    jc_free(us);
    jc_featspec_destroy(spec);
    jc_samples_close(sm);
    jc_catalog_close(cat);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc >= 2 && strcmp(argv[1], "lmdb") == 0)
        return cmd_lmdb(argc - 2, argv + 2);
    if (argc >= 2 && strcmp(argv[1], "redis") == 0)
        return cmd_redis(argc - 2, argv + 2);
    if (argc >= 2 && strcmp(argv[1], "batch") == 0)
        return cmd_batch(argc - 2, argv + 2);
    fprintf(stderr, "usage: bench_features lmdb DIR | redis PORT | batch HOME [options]\n");
    return 2;
}
