/*
 * nearline_bench.c - event -> feature-store latency and throughput of the
 * nearline worker, with the LMDB store or Redis.
 *
 *   bench_nearline latency    lmdb|redis DIR RATE SECONDS [PORT]
 *   bench_nearline throughput lmdb|redis DIR EVENTS [PORT]
 *
 * DIR receives a synthetic catalog (5000 users, 3000 items), an embedded
 * event log (2 partitions, fsync per batch: every append is durable) and,
 * for lmdb, the store (sync on: every worker write is durable). Events are
 * ratings of random catalog users and items.
 *
 * latency: a producer thread appends one event every 1/RATE s for SECONDS
 * while the worker runs on its own thread (poll 100 ms, batch 1000). The
 * latency of an event is exact: from the instant before its append call
 * (CLOCK_MONOTONIC) to the instant right after the store write that
 * committed it (the worker's on_commit callback). Prints one JSON line with
 * p50/p99/max in ms.
 * throughput: EVENTS events are appended first, then the worker drains them
 * on the calling thread; prints events/s of the drain.
 */
#include "core/alloc.h"
#include "core/parse.h"
#include "core/timeutil.h"
#include <junco/catalog.h>
#include <junco/error.h>
#include <junco/eventlog.h>
#include <junco/featspec.h>
#include <junco/import.h>
#include <junco/nearline.h>
#include <junco/store.h>
#include <junco/synth.h>

#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define N_USERS 5000
#define N_ITEMS 3000

static void die(const char *what)
{
    fprintf(stderr, "bench_nearline: %s: %s\n", what, jc_errmsg());
    exit(1);
}

struct env {
    struct jc_catalog *cat;
    struct jc_featspec *spec;
    struct jc_store *store;
    struct jc_eventlog *log;
};

static void setup(struct env *e, const char *backend, const char *dir, int port)
{
    char path[4096], data[4096];
    snprintf(data, sizeof data, "%s/data", dir);
    snprintf(path, sizeof path, "%s/catalog.jcat", dir);
    struct jc_synth_opts so;
    jc_synth_opts_default(&so);
    so.users = N_USERS;
    so.items = N_ITEMS;
    so.interactions = 20000;
    struct jc_synth_result sr;
    struct jc_import_opts io;
    jc_import_opts_default(&io);
    struct jc_import_result ir;
    if (jc_synth_write(data, &so, &sr) || jc_import(data, path, &io, &ir))
        die("catalog");
    jc_import_result_free(&ir);
    if (jc_catalog_open(&e->cat, path))
        die("catalog");
    struct jc_featspec_opts fo;
    jc_featspec_opts_default(&fo);
    if (jc_featspec_create(&e->spec, &fo, e->cat))
        die("spec");
    struct jc_store_config sc;
    jc_store_config_default(&sc);
    char spath[4096];
    snprintf(spath, sizeof spath, "%s/store", dir);
    sc.path = spath;
    sc.map_size = 1ull << 30;
    sc.sync = 1;
    if (strcmp(backend, "redis") == 0) {
        sc.backend = JC_STORE_REDIS;
        sc.redis_port = port;
    }
    if (jc_store_open(&e->store, &sc))
        die("store");
    struct jc_eventlog_config lc;
    jc_eventlog_config_default(&lc);
    char ldir[4096];
    snprintf(ldir, sizeof ldir, "%s/events", dir);
    lc.dir = ldir;
    lc.n_partitions = 2;
    lc.fsync = JC_FSYNC_BATCH;
    if (jc_eventlog_open(&e->log, &lc))
        die("log");
}

static void make_event(struct jc_event *ev, char *user, char *item, uint64_t *x, int64_t t)
{
    *x ^= *x << 13;
    *x ^= *x >> 7;
    *x ^= *x << 17;
    snprintf(user, 16, "%" PRIu64, *x % N_USERS + 1);
    snprintf(item, 16, "%" PRIu64, (*x >> 24) % N_ITEMS + 1);
    jc_event_init(ev);
    ev->user = user;
    ev->user_len = strlen(user);
    ev->item = item;
    ev->item_len = strlen(item);
    ev->type = JC_EV_RATING;
    ev->value = (float)((*x >> 40) % 10 + 1) / 2.0f;
    ev->time_ms = t;
}

/* ---- latency ------------------------------------------------------------------- */

struct lat {
    uint64_t *t_append[2]; /* per partition, by offset */
    uint64_t *t_commit[2];
    uint64_t cap;
};

static void on_commit(void *ctx, const struct jc_nearline_commit *c)
{
    struct lat *l = ctx;
    for (uint32_t i = 0; i < c->n_parts; i++)
        for (uint64_t o = c->from[i]; o < c->to[i] && o < l->cap; o++)
            l->t_commit[c->partition[i]][o] = c->commit_ns;
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

static int run_latency(struct env *e, double rate, double seconds)
{
    struct lat l;
    l.cap = (uint64_t)(rate * seconds) + 16;
    for (int p = 0; p < 2; p++) {
        l.t_append[p] = jc_calloc(l.cap, sizeof(uint64_t));
        l.t_commit[p] = jc_calloc(l.cap, sizeof(uint64_t));
    }
    struct jc_nearline_config nc;
    jc_nearline_config_default(&nc);
    nc.log = e->log;
    nc.store = e->store;
    nc.cat = e->cat;
    nc.spec = e->spec;
    nc.start = JC_START_LATEST;
    nc.on_commit = on_commit;
    nc.on_commit_ctx = &l;
    struct jc_nearline *w;
    if (jc_nearline_create(&w, &nc) || jc_nearline_start(w))
        die("worker");
    uint64_t x = 88172645463325252ull, n = (uint64_t)(rate * seconds);
    uint64_t t0 = jc_now_ns(), period = (uint64_t)(1e9 / rate);
    for (uint64_t k = 0; k < n; k++) {
        uint64_t due = t0 + k * period, now = jc_now_ns();
        if (due > now) {
            struct timespec ts = {(time_t)((due - now) / 1000000000u),
                                  (long)((due - now) % 1000000000u)};
            nanosleep(&ts, NULL);
        }
        char user[16], item[16];
        struct jc_event ev;
        make_event(&ev, user, item, &x, 1700000000000ll + (int64_t)k);
        struct jc_eventlog_pos pos;
        uint64_t ta = jc_now_ns();
        if (jc_eventlog_append(e->log, &ev, 1, &pos))
            die("append");
        if (pos.offset < l.cap)
            l.t_append[pos.partition][pos.offset] = ta;
    }
    /* wait for the worker to commit the last events */
    uint64_t t_end = jc_now_ns();
    for (;;) {
        struct jc_nearline_stats st;
        jc_nearline_get_stats(w, &st);
        if (st.events_out >= n || jc_now_ns() - t_end > 10000000000ull)
            break;
        struct timespec ts = {0, 1000000};
        nanosleep(&ts, NULL);
    }
    jc_nearline_stop(w);
    uint64_t *lat = jc_malloc_array(n + 1, sizeof *lat);
    size_t m = 0;
    for (int p = 0; p < 2; p++)
        for (uint64_t o = 0; o < l.cap; o++)
            if (l.t_append[p][o] && l.t_commit[p][o] >= l.t_append[p][o])
                lat[m++] = l.t_commit[p][o] - l.t_append[p][o];
    qsort(lat, m, sizeof *lat, cmp_u64);
    struct jc_nearline_stats st;
    jc_nearline_get_stats(w, &st);
    double p50 = m ? lat[m / 2] / 1e6 : 0, p99 = m ? lat[(size_t)(m * 0.99)] / 1e6 : 0;
    double mx = m ? lat[m - 1] / 1e6 : 0;
    printf("{\"mode\": \"latency\", \"store\": \"%s\", \"rate\": %.0f, \"events\": %" PRIu64
           ", \"measured\": %zu, \"p50_ms\": %.3f, \"p99_ms\": %.3f, \"max_ms\": %.3f, "
           "\"commits\": %" PRIu64 ", \"worker_p99_ms\": %.3f}\n",
           jc_store_backend_name(e->store), rate, n, m, p50, p99, mx, st.commits,
           1e3 * jc_nearline_stats_quantile(&st, 0.99));
    jc_nearline_destroy(w);
    jc_free(lat);
    for (int p = 0; p < 2; p++) {
        jc_free(l.t_append[p]);
        jc_free(l.t_commit[p]);
    }
    return m == n ? 0 : 1;
}

/* ---- throughput ---------------------------------------------------------------- */

static int run_throughput(struct env *e, uint64_t n)
{
    uint64_t x = 88172645463325252ull;
    struct jc_event evs[1000];
    char users[1000][16], items[1000][16];
    for (uint64_t k = 0; k < n; k += 1000) {
        size_t m = n - k < 1000 ? (size_t)(n - k) : 1000;
        for (size_t i = 0; i < m; i++)
            make_event(&evs[i], users[i], items[i], &x, 1700000000000ll + (int64_t)(k + i));
        if (jc_eventlog_append(e->log, evs, m, NULL))
            die("append");
    }
    struct jc_nearline_config nc;
    jc_nearline_config_default(&nc);
    nc.log = e->log;
    nc.store = e->store;
    nc.cat = e->cat;
    nc.spec = e->spec;
    struct jc_nearline *w;
    if (jc_nearline_create(&w, &nc))
        die("worker");
    uint64_t t0 = jc_now_ns(), done;
    if (jc_nearline_drain(w, &done))
        die("drain");
    double s = (double)(jc_now_ns() - t0) * 1e-9;
    struct jc_nearline_stats st;
    jc_nearline_get_stats(w, &st);
    printf("{\"mode\": \"throughput\", \"store\": \"%s\", \"events\": %" PRIu64
           ", \"seconds\": %.3f, \"events_per_s\": %.0f, \"commits\": %" PRIu64 "}\n",
           jc_store_backend_name(e->store), done, s, (double)done / s, st.commits);
    jc_nearline_destroy(w);
    return done == n ? 0 : 1;
}

int main(int argc, char **argv)
{
    if (argc < 5) {
        fprintf(stderr, "usage: bench_nearline latency lmdb|redis DIR RATE SECONDS [PORT]\n"
                        "       bench_nearline throughput lmdb|redis DIR EVENTS [PORT]\n");
        return 2;
    }
    int lat = strcmp(argv[1], "latency") == 0;
    int port = 6379;
    int pi = lat ? 6 : 5;
    double a = 0, b = 0;
    if (jc_parse_f64(argv[4], strlen(argv[4]), &a) || a <= 0 ||
        (lat && (argc < 6 || jc_parse_f64(argv[5], strlen(argv[5]), &b) || b <= 0))) {
        fprintf(stderr, "bench_nearline: bad numbers\n");
        return 2;
    }
    if (argc > pi) {
        int64_t p;
        if (jc_parse_i64(argv[pi], strlen(argv[pi]), &p) || p < 1 || p > 65535)
            return 2;
        port = (int)p;
    }
    struct env e;
    setup(&e, argv[2], argv[3], port);
    int rc = lat ? run_latency(&e, a, b) : run_throughput(&e, (uint64_t)a);
    jc_eventlog_close(e.log);
    jc_store_close(e.store);
    jc_featspec_destroy(e.spec);
    jc_catalog_close(e.cat);
    return rc;
}
