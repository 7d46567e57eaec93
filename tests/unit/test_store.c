/*
 * test_store.c - the feature store: one conformance suite run against both
 * backends (LMDB, and a real redis-server started on a free loopback port),
 * typed records and `publish features`, plus backend-specific behaviour:
 * LMDB corruption and readers-never-block-writers; Redis killed mid-run
 * (bounded retries, then a clear error; restarted, works again), the LMDB
 * fallback, TTLs and server error replies. The Redis part is skipped, with
 * a visible message, only when redis-server is not installed.
 */
#include "testredis.h"
#include "testutil.h"

#include "core/alloc.h"
#include "core/buf.h"
#include "core/fileio.h"
#include "core/timeutil.h"
#include <junco/error.h>
#include <junco/featspec.h>
#include <junco/store.h>

#include <arpa/inet.h>
#include <errno.h>
#include <hiredis.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "test_feat_fixture.h"

/* ---- redis-server management ------------------------------------------------ */

static struct jc_test_redis srv;
static int have_redis;

static int group_setup(void **state)
{
    (void)state;
    return jc_test_redis_setup(&srv, &have_redis, "the Redis backend tests");
}

static int group_teardown(void **state)
{
    (void)state;
    if (have_redis && srv.pid > 0)
        jc_test_redis_stop(&srv, SIGTERM);
    return 0;
}

/* ---- the conformance suite ------------------------------------------------- */

struct backend {
    enum jc_store_backend kind;
    int n; /* per-test counter for fresh namespaces */
};

static struct backend be_lmdb = {JC_STORE_LMDB, 0}, be_redis = {JC_STORE_REDIS, 0};

/* A fresh store: a new LMDB directory, or a new Redis key prefix. */
static struct jc_store *fresh(void **state, struct jc_store_config *c, char *buf)
{
    struct backend *be = *state;
    if (be->kind == JC_STORE_REDIS && !have_redis)
        skip();
    jc_store_config_default(c);
    c->backend = be->kind;
    int n = ++be->n;
    static char prefix[64];
    snprintf(buf, 4096, "%s", jc_test_path(be->kind == JC_STORE_LMDB ? "lmdb" : "fb"));
    size_t l = strlen(buf);
    snprintf(buf + l, 4096 - l, "-%d", n);
    snprintf(prefix, sizeof prefix, "t%d:{x*}:", n); /* glob characters on purpose */
    c->path = buf;
    c->map_size = 64 << 20;
    c->sync = 0;
    c->redis_port = srv.port;
    c->redis_prefix = prefix;
    c->redis_retries = 1;
    c->redis_backoff_ms = 10;
    struct jc_store *s;
    assert_int_equal(jc_store_open(&s, c), JC_OK);
    assert_string_equal(jc_store_backend_name(s), be->kind == JC_STORE_LMDB ? "lmdb" : "redis");
    return s;
}

static void put_str(struct jc_store *s, const char *k, const char *v)
{
    assert_int_equal(jc_store_put(s, k, strlen(k), v, strlen(v)), JC_OK);
}

static void get_is(struct jc_store *s, const char *k, const char *want)
{
    struct jc_buf v;
    jc_buf_init(&v, 0);
    int rc = jc_store_get(s, k, strlen(k), &v);
    if (want == NULL) {
        assert_int_equal(rc, JC_ENOTFOUND);
    } else {
        assert_int_equal(rc, JC_OK);
        assert_int_equal(v.len, strlen(want));
        assert_memory_equal(v.data, want, v.len);
    }
    jc_buf_free(&v);
}

static void test_basic(void **state)
{
    struct jc_store_config c;
    char buf[4096];
    struct jc_store *s = fresh(state, &c, buf);
    get_is(s, "uf:1", NULL);
    assert_non_null(strstr(jc_errmsg(), "no key 'uf:1'"));
    put_str(s, "uf:1", "hello");
    get_is(s, "uf:1", "hello");
    put_str(s, "uf:1", "hello again");
    get_is(s, "uf:1", "hello again");
    /* binary values, NUL bytes, empty values */
    const char bin[] = {'a', 0, 'b', 0, (char)0xff};
    assert_int_equal(jc_store_put(s, "if:x", 4, bin, sizeof bin), JC_OK);
    struct jc_buf v;
    jc_buf_init(&v, 0);
    assert_int_equal(jc_store_get(s, "if:x", 4, &v), JC_OK);
    assert_int_equal(v.len, sizeof bin);
    assert_memory_equal(v.data, bin, sizeof bin);
    assert_int_equal(jc_store_put(s, "empty", 5, "", 0), JC_OK);
    assert_int_equal(jc_store_get(s, "empty", 5, &v), JC_OK);
    assert_int_equal(v.len, 0);
    jc_buf_free(&v);
    /* delete, also of a missing key */
    assert_int_equal(jc_store_del(s, "uf:1", 4), JC_OK);
    get_is(s, "uf:1", NULL);
    assert_int_equal(jc_store_del(s, "uf:1", 4), JC_OK);
    /* key limits */
    char longkey[JC_STORE_KEY_MAX + 1];
    memset(longkey, 'k', sizeof longkey);
    assert_int_equal(jc_store_put(s, longkey, sizeof longkey, "v", 1), JC_EINVAL);
    assert_int_equal(jc_store_put(s, longkey, JC_STORE_KEY_MAX, "v", 1), JC_OK);
    assert_int_equal(jc_store_put(s, "", 0, "v", 1), JC_EINVAL);
    jc_store_close(s);
}

static void test_mget(void **state)
{
    struct jc_store_config c;
    char buf[4096];
    struct jc_store *s = fresh(state, &c, buf);
    enum { N = 3000 };
    static char kbuf[N][32];
    static const void *keys[N];
    static size_t klens[N];
    static struct jc_store_val vals[N];
    struct jc_store_batch *b;
    assert_int_equal(jc_store_batch_create(&b), JC_OK);
    for (int i = 0; i < N; i++) {
        klens[i] = (size_t)snprintf(kbuf[i], sizeof kbuf[i], "emb:v:%d", i);
        keys[i] = kbuf[i];
        if (i % 3 != 0) {
            char val[64];
            int n = snprintf(val, sizeof val, "value-%d-%0*d", i, i % 20, 0);
            assert_int_equal(jc_store_batch_put(b, kbuf[i], klens[i], val, (size_t)n), JC_OK);
        }
    }
    assert_int_equal(jc_store_write(s, b), JC_OK);
    struct jc_buf arena;
    jc_buf_init(&arena, 0);
    assert_int_equal(jc_store_mget(s, N, keys, klens, &arena, vals), JC_OK);
    for (int i = 0; i < N; i++) {
        assert_int_equal(vals[i].found, i % 3 != 0);
        if (!vals[i].found)
            continue;
        char val[64];
        int n = snprintf(val, sizeof val, "value-%d-%0*d", i, i % 20, 0);
        assert_int_equal(vals[i].len, (size_t)n);
        assert_memory_equal(arena.data + vals[i].off, val, (size_t)n);
    }
    assert_int_equal(jc_store_mget(s, 0, keys, klens, &arena, vals), JC_OK);
    jc_buf_free(&arena);
    jc_store_batch_destroy(b);
    jc_store_close(s);
}

struct scan_acc {
    int n, stop_at;
    char seen[200][32];
};

static int scan_fn(void *ctx, const char *key, size_t klen, const void *val, size_t vlen)
{
    struct scan_acc *a = ctx;
    assert_true(klen < 32 && a->n < 200);
    memcpy(a->seen[a->n], key, klen);
    a->seen[a->n][klen] = '\0';
    /* the value of uf:K is "u" + K */
    if (klen > 3 && memcmp(key, "uf:", 3) == 0) {
        assert_int_equal(vlen, klen - 2);
        assert_memory_equal((const char *)val + 1, key + 3, klen - 3);
    }
    a->n++;
    return a->stop_at && a->n >= a->stop_at;
}

static void test_scan(void **state)
{
    struct jc_store_config c;
    char buf[4096];
    struct jc_store *s = fresh(state, &c, buf);
    for (int i = 0; i < 50; i++) {
        char k[32], v[32];
        snprintf(k, sizeof k, "uf:%d", i);
        snprintf(v, sizeof v, "u%d", i);
        put_str(s, k, v);
    }
    for (int i = 0; i < 30; i++) {
        char k[32];
        snprintf(k, sizeof k, "if:%d", i);
        put_str(s, k, "item");
    }
    put_str(s, "a*b:1", "glob");
    put_str(s, "axb:1", "not glob");
    struct scan_acc a;
    memset(&a, 0, sizeof a);
    assert_int_equal(jc_store_scan(s, "uf:", 3, scan_fn, &a), JC_OK);
    assert_int_equal(a.n, 50);
    memset(&a, 0, sizeof a);
    assert_int_equal(jc_store_scan(s, "", 0, scan_fn, &a), JC_OK);
    assert_int_equal(a.n, 82);
    memset(&a, 0, sizeof a);
    assert_int_equal(jc_store_scan(s, "a*", 2, scan_fn, &a), JC_OK);
    assert_int_equal(a.n, 1);
    assert_string_equal(a.seen[0], "a*b:1");
    memset(&a, 0, sizeof a);
    a.stop_at = 5;
    assert_int_equal(jc_store_scan(s, "if:", 3, scan_fn, &a), JC_OK);
    assert_int_equal(a.n, 5);
    memset(&a, 0, sizeof a);
    assert_int_equal(jc_store_scan(s, "zz", 2, scan_fn, &a), JC_OK);
    assert_int_equal(a.n, 0);
    jc_store_close(s);
}

static void test_batch(void **state)
{
    struct jc_store_config c;
    char buf[4096];
    struct jc_store *s = fresh(state, &c, buf);
    put_str(s, "k1", "old");
    put_str(s, "k2", "old");
    struct jc_store_batch *b;
    assert_int_equal(jc_store_batch_create(&b), JC_OK);
    assert_int_equal(jc_store_write(s, b), JC_OK); /* empty */
    assert_int_equal(jc_store_batch_put(b, "k1", 2, "new", 3), JC_OK);
    assert_int_equal(jc_store_batch_del(b, "k2", 2), JC_OK);
    assert_int_equal(jc_store_batch_put(b, "k3", 2, "three", 5), JC_OK);
    assert_int_equal(jc_store_batch_del(b, "k4", 2), JC_OK); /* absent */
    assert_int_equal(jc_store_batch_put(b, "", 0, "x", 1), JC_EINVAL);
    assert_int_equal(jc_store_batch_count(b), 4);
    assert_int_equal(jc_store_write(s, b), JC_OK);
    get_is(s, "k1", "new");
    get_is(s, "k2", NULL);
    get_is(s, "k3", "three");
    jc_store_batch_clear(b);
    assert_int_equal(jc_store_batch_count(b), 0);
    jc_store_batch_destroy(b);
    jc_store_close(s);
}

struct worker {
    struct jc_store *s;
    int id;
    atomic_int *errors;
};

static void *worker_run(void *p)
{
    struct worker *w = p;
    struct jc_buf v;
    jc_buf_init(&v, 0);
    for (int i = 0; i < 1500; i++) {
        char k[64], val[64];
        int kn = snprintf(k, sizeof k, "w%d:%d", w->id, i);
        int vn = snprintf(val, sizeof val, "v%d-%d", w->id, i * 7);
        if (jc_store_put(w->s, k, (size_t)kn, val, (size_t)vn) != JC_OK ||
            jc_store_get(w->s, k, (size_t)kn, &v) != JC_OK || v.len != (size_t)vn ||
            memcmp(v.data, val, v.len) != 0)
            atomic_fetch_add(w->errors, 1);
    }
    jc_buf_free(&v);
    return NULL;
}

static void test_threads(void **state)
{
    struct jc_store_config c;
    char buf[4096];
    struct jc_store *s = fresh(state, &c, buf);
    atomic_int errors = 0;
    pthread_t t[3];
    struct worker w[3];
    for (int i = 0; i < 3; i++) {
        w[i] = (struct worker){s, i, &errors};
        pthread_create(&t[i], NULL, worker_run, &w[i]);
    }
    for (int i = 0; i < 3; i++)
        pthread_join(t[i], NULL);
    assert_int_equal(atomic_load(&errors), 0);
    get_is(s, "w2:1499", "v2-10493");
    jc_store_close(s);
}

/* Typed records and `publish features` on the fixture. */
static void test_publish(void **state)
{
    struct jc_store_config c;
    char buf[4096];
    struct jc_store *s = fresh(state, &c, buf);
    struct backend *be = *state;
    char cpath[64];
    snprintf(cpath, sizeof cpath, "fx-store-%d-%d.jcat", (int)be->kind, be->n);
    struct jc_catalog *cat = fx_catalog(jc_test_path(cpath), 0);
    struct jc_featspec_opts o;
    jc_featspec_opts_default(&o);
    struct jc_featspec *spec;
    assert_int_equal(jc_featspec_create(&spec, &o, cat), JC_OK);
    struct jc_publish_report rep;
    assert_int_equal(jc_store_publish_features(s, spec, NULL, &rep), JC_OK);
    assert_int_equal(rep.users, 3);
    assert_int_equal(rep.items, 5);
    /* user 1's state equals a replay of all its events */
    struct jc_user_state got, want;
    int found = -1;
    assert_int_equal(jc_store_get_user_state(s, spec, 0, &got, &found), JC_OK);
    assert_int_equal(found, 1);
    jc_user_state_init(&want, spec);
    for (int k = 0; k < 5; k++) {
        const struct fx_event *e = &fx_events[k];
        uint32_t item;
        assert_true(jc_catalog_find_item(cat, e->item, strlen(e->item), &item));
        jc_user_state_add(&want, spec, item, e->value, e->time);
    }
    struct jc_user_feats fg, fw;
    memset(&fg, 0, sizeof fg);
    memset(&fw, 0, sizeof fw);
    jc_user_state_features(&got, spec, &fg);
    jc_user_state_features(&want, spec, &fw);
    assert_memory_equal(&fg, &fw, sizeof fg);
    assert_int_equal(fg.rating_count, 5);
    assert_int_equal(got.last_time, 400);
    /* item states through one multi-get: 10 (4.0, 2.0), 50 (3.0, 5.0, 2.0), unknown */
    uint32_t items[3] = {0, 4, JC_ID_NONE};
    struct jc_item_state st[3];
    struct jc_buf arena;
    jc_buf_init(&arena, 0);
    struct jc_store_val vals[3];
    assert_int_equal(jc_store_get_item_states(s, spec, 3, items, st, &arena, vals), JC_OK);
    assert_int_equal(st[0].count, 2);
    assert_true(st[0].sum == 6.0);
    assert_int_equal(st[1].count, 3);
    assert_true(st[1].sum == 10.0 && st[1].sumsq == 38.0);
    assert_int_equal(st[2].count, 0);
    /* a user without a record gets an empty state; a new state can be put */
    assert_int_equal(jc_store_del(s, "uf:3", 4), JC_OK);
    assert_int_equal(jc_store_get_user_state(s, spec, 2, &got, &found), JC_OK);
    assert_int_equal(found, 0);
    assert_int_equal(got.n_events, 0);
    jc_user_state_add(&got, spec, 1, 5.0f, 600);
    assert_int_equal(jc_store_put_user_state(s, spec, 2, &got), JC_OK);
    assert_int_equal(jc_store_get_user_state(s, spec, 2, &want, &found), JC_OK);
    assert_int_equal(want.n_events, 1);
    assert_int_equal(jc_store_put_item_state(s, spec, 1, &st[1]), JC_OK);
    /* a damaged record is an error naming the key */
    put_str(s, "uf:2", "garbage");
    assert_int_equal(jc_store_get_user_state(s, spec, 1, &got, &found), JC_ECORRUPT);
    assert_non_null(strstr(jc_errmsg(), "store key uf:2"));
    struct jc_buf m;
    jc_buf_init(&m, 0);
    assert_int_equal(jc_store_get(s, "meta:features", 13, &m), JC_OK);
    assert_non_null(strstr(m.data, "\"users\":3,\"items\":5"));
    jc_buf_free(&m);
    jc_buf_free(&arena);
    jc_featspec_destroy(spec);
    jc_catalog_close(cat);
    jc_store_close(s);
}

/* ---- LMDB specifics -------------------------------------------------------------- */

static void test_lmdb_corrupt(void **state)
{
    (void)state;
    const char *dir = jc_test_path("lmdb-corrupt");
    jc_mkdir_p(dir);
    char file[4096];
    snprintf(file, sizeof file, "%s/data.mdb", dir);
    char junk[8192];
    for (size_t i = 0; i < sizeof junk; i++)
        junk[i] = (char)(i * 131 + 7);
    jc_test_write_bytes(file, junk, sizeof junk);
    struct jc_store_config c;
    jc_store_config_default(&c);
    c.path = dir;
    c.map_size = 64 << 20;
    struct jc_store *s = NULL;
    assert_int_equal(jc_store_open(&s, &c), JC_ECORRUPT);
    assert_null(s);
    assert_non_null(strstr(jc_errmsg(), dir));
    assert_non_null(strstr(jc_errmsg(), "not a valid LMDB environment"));
    /* a missing directory opened read-only */
    c.path = jc_test_path("lmdb-missing");
    c.read_only = 1;
    assert_int_equal(jc_store_open(&s, &c), JC_ENOTFOUND);
}

struct writer_arg {
    struct jc_store *s;
    atomic_int done;
};

static void *late_writer(void *p)
{
    struct writer_arg *w = p;
    if (jc_store_put(w->s, "k", 1, "v2", 2) == JC_OK)
        atomic_store(&w->done, 1);
    return NULL;
}

static int hold_read(void *ctx, const char *key, size_t klen, const void *val, size_t vlen)
{
    (void)key, (void)klen;
    struct writer_arg *w = ctx;
    /* a read transaction is open here; a writer must still commit */
    pthread_t t;
    pthread_create(&t, NULL, late_writer, w);
    for (int i = 0; i < 200 && !atomic_load(&w->done); i++)
        usleep(10000);
    assert_int_equal(atomic_load(&w->done), 1);
    pthread_join(t, NULL);
    /* and this reader still sees its snapshot */
    assert_int_equal(vlen, 2);
    assert_memory_equal(val, "v1", 2);
    return 1;
}

static void test_lmdb_readers_never_block(void **state)
{
    struct jc_store_config c;
    char buf[4096];
    struct jc_store *s = fresh(state, &c, buf);
    put_str(s, "k", "v1");
    struct writer_arg w = {s, 0};
    assert_int_equal(jc_store_scan(s, "k", 1, hold_read, &w), JC_OK);
    get_is(s, "k", "v2");
    jc_store_close(s);
    /* data survives reopening */
    assert_int_equal(jc_store_open(&s, &c), JC_OK);
    get_is(s, "k", "v2");
    jc_store_close(s);
}

/* Allocation failures anywhere in opening the store and publishing: clean
 * JC_ENOMEM, no crash, no leak (ASan). */
static void test_lmdb_alloc_failures(void **state)
{
    (void)state;
    struct jc_catalog *cat = fx_catalog(jc_test_path("fx-store-alloc.jcat"), 1);
    struct jc_featspec_opts o;
    jc_featspec_opts_default(&o);
    struct jc_featspec *spec;
    assert_int_equal(jc_featspec_create(&spec, &o, cat), JC_OK);
    struct jc_store_config c;
    jc_store_config_default(&c);
    c.path = jc_test_path("lmdb-alloc");
    c.map_size = 64 << 20;
    c.sync = 0;
    int ok = 0, failed = 0;
    for (long n = 1; n < 200 && !ok; n++) {
        struct jc_store *s = NULL;
        struct jc_publish_report rep;
        jc_alloc_fail_after(n);
        int rc = jc_store_open(&s, &c);
        if (rc == JC_OK)
            rc = jc_store_publish_features(s, spec, NULL, &rep);
        jc_alloc_fail_after(0);
        jc_store_close(s);
        if (rc == JC_OK)
            ok = 1;
        else
            assert_int_equal(rc, JC_ENOMEM), failed++;
    }
    assert_true(ok && failed > 3);
    jc_featspec_destroy(spec);
    jc_catalog_close(cat);
}

/* ---- Redis specifics --------------------------------------------------------------- */

static void test_redis_killed_and_restarted(void **state)
{
    (void)state;
    if (!have_redis)
        skip();
    struct jc_test_redis r2;
    memset(&r2, 0, sizeof r2);
    r2.port = jc_test_free_port();
    snprintf(r2.dir, sizeof r2.dir, "%s", jc_test_path("redis-kill"));
    jc_mkdir_p(r2.dir);
    snprintf(r2.pidfile, sizeof r2.pidfile, "%s/redis.pid", r2.dir);
    assert_int_equal(jc_test_redis_start(&r2), 0);
    struct jc_store_config c;
    jc_store_config_default(&c);
    c.backend = JC_STORE_REDIS;
    c.redis_port = r2.port;
    c.redis_retries = 2;
    c.redis_backoff_ms = 20;
    c.redis_timeout_ms = 300;
    struct jc_store *s;
    assert_int_equal(jc_store_open(&s, &c), JC_OK);
    put_str(s, "uf:1", "before");
    get_is(s, "uf:1", "before");
    jc_test_redis_stop(&r2, SIGKILL);
    /* bounded retries, then a clear error */
    uint64_t t0 = jc_now_ns();
    struct jc_buf v;
    jc_buf_init(&v, 0);
    assert_int_equal(jc_store_get(s, "uf:1", 4, &v), JC_ECONN);
    double el = (double)(jc_now_ns() - t0) * 1e-9;
    assert_true(el < 2.0);
    char want[128];
    snprintf(want, sizeof want, "redis 127.0.0.1:%d: ", r2.port);
    assert_non_null(strstr(jc_errmsg(), want));
    assert_non_null(strstr(jc_errmsg(), "(gave up after 2 retries)"));
    assert_int_equal(jc_store_put(s, "uf:1", 4, "x", 1), JC_ECONN);
    /* restarted (empty: no persistence): the same handle works again */
    assert_int_equal(jc_test_redis_start(&r2), 0);
    assert_int_equal(jc_store_get(s, "uf:1", 4, &v), JC_ENOTFOUND);
    put_str(s, "uf:1", "after");
    get_is(s, "uf:1", "after");
    jc_buf_free(&v);
    jc_store_close(s);
    jc_test_redis_stop(&r2, SIGTERM);
    assert_false(jc_test_redis_ping(r2.port));
    /* opening against a dead server fails the same way */
    assert_int_equal(jc_store_open(&s, &c), JC_ECONN);
}

static void test_redis_fallback(void **state)
{
    (void)state;
    int dead = jc_test_free_port();
    struct jc_store_config c;
    jc_store_config_default(&c);
    c.backend = JC_STORE_REDIS;
    c.redis_port = dead;
    c.redis_retries = 1;
    c.redis_backoff_ms = 5;
    c.fallback = 1;
    c.path = jc_test_path("fallback-lmdb");
    c.map_size = 64 << 20;
    struct jc_store *s;
    assert_int_equal(jc_store_open(&s, &c), JC_OK);
    assert_string_equal(jc_store_backend_name(s), "lmdb");
    put_str(s, "uf:9", "kept");
    get_is(s, "uf:9", "kept");
    jc_store_close(s);
    /* it went to the embedded store */
    c.backend = JC_STORE_LMDB;
    assert_int_equal(jc_store_open(&s, &c), JC_OK);
    get_is(s, "uf:9", "kept");
    jc_store_close(s);
    /* without fallback the same situation is an error */
    c.backend = JC_STORE_REDIS;
    c.fallback = 0;
    assert_int_equal(jc_store_open(&s, &c), JC_ECONN);
}

static void test_redis_ttl_and_errors(void **state)
{
    (void)state;
    if (!have_redis)
        skip();
    struct jc_store_config c;
    jc_store_config_default(&c);
    c.backend = JC_STORE_REDIS;
    c.redis_port = srv.port;
    c.redis_prefix = "ttl:";
    c.redis_ttl = 100;
    struct jc_store *s;
    assert_int_equal(jc_store_open(&s, &c), JC_OK);
    put_str(s, "uf:1", "x");
    struct jc_store_batch *b;
    assert_int_equal(jc_store_batch_create(&b), JC_OK);
    assert_int_equal(jc_store_batch_put(b, "uf:2", 4, "y", 1), JC_OK);
    assert_int_equal(jc_store_write(s, b), JC_OK);
    jc_store_batch_destroy(b);
    redisContext *rc = redisConnect("127.0.0.1", srv.port);
    assert_non_null(rc);
    for (int k = 1; k <= 2; k++) {
        redisReply *r = redisCommand(rc, "TTL ttl:uf:%d", k);
        assert_non_null(r);
        assert_int_equal(r->type, REDIS_REPLY_INTEGER);
        assert_true(r->integer > 90 && r->integer <= 100);
        freeReplyObject(r);
    }
    /* a server error reply is reported, not retried */
    redisReply *r = redisCommand(rc, "LPUSH ttl:wrong a");
    freeReplyObject(r);
    redisFree(rc);
    struct jc_buf v;
    jc_buf_init(&v, 0);
    assert_int_equal(jc_store_get(s, "wrong", 5, &v), JC_EIO);
    assert_non_null(strstr(jc_errmsg(), "WRONGTYPE"));
    jc_buf_free(&v);
    jc_store_close(s);
}

#define SUITE(fn) cmocka_unit_test_prestate(fn, &be_lmdb), cmocka_unit_test_prestate(fn, &be_redis)

int main(void)
{
    const struct CMUnitTest tests[] = {
        SUITE(test_basic),
        SUITE(test_mget),
        SUITE(test_scan),
        SUITE(test_batch),
        SUITE(test_threads),
        SUITE(test_publish),
        cmocka_unit_test(test_lmdb_corrupt),
        cmocka_unit_test_prestate(test_lmdb_readers_never_block, &be_lmdb),
        cmocka_unit_test(test_lmdb_alloc_failures),
        cmocka_unit_test(test_redis_killed_and_restarted),
        cmocka_unit_test(test_redis_fallback),
        cmocka_unit_test(test_redis_ttl_and_errors),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
