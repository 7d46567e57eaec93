/*
 * test_nearline.c - the nearline worker: event log -> feature store.
 *
 * The central check is train/serve consistency: the user and item states
 * the worker writes after consuming a catalog's interactions from the log
 * are byte-identical to what the offline code (jc_store_publish_features,
 * the same replay the sample builder uses) computes from the catalog, on
 * the LMDB store and on a real redis-server. Then exactly-once effects:
 * re-delivery after a lost group commit, restart from the stored offsets,
 * cycles failing at every allocation (rewind and retry), and a worker
 * process killed with SIGKILL at random points and restarted - each ends
 * in the same bytes. Also unknown entities (create / reject), the decayed
 * popularity record, realtime user vectors, partition assignment and locks,
 * metrics, and the acceptance test: a rating appended to the log changes
 * the user's state in the store and the online feature batch within one
 * second, with the worker running on its own thread.
 */
#include "testredis.h"
#include "testutil.h"

#include "core/alloc.h"
#include "core/buf.h"
#include "core/fileio.h"
#include "core/timeutil.h"
#include <junco/embed.h>
#include <junco/error.h>
#include <junco/eventlog.h>
#include <junco/featspec.h>
#include <junco/import.h>
#include <junco/nearline.h>
#include <junco/samples.h>
#include <junco/serve.h>
#include <junco/store.h>
#include <junco/synth.h>

#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "test_feat_fixture.h"

/* ---- redis-server (testredis.h) ------------------------------------------------- */

static struct jc_test_redis redis;
static int have_redis;

static int group_setup(void **state)
{
    (void)state;
    return jc_test_redis_setup(&redis, &have_redis, "Redis variants");
}

static int group_teardown(void **state)
{
    (void)state;
    if (have_redis && redis.pid > 0)
        jc_test_redis_stop(&redis, SIGTERM);
    return 0;
}

/* ---- environment ----------------------------------------------------------------- */

struct env {
    struct jc_catalog *cat;
    struct jc_featspec *spec;
    struct jc_store *store;
    struct jc_eventlog *log;
    struct jc_store_config sc;
    char store_path[4096], log_dir[4096], prefix[64];
};

static int n_env;

static void open_store(struct env *e)
{
    assert_int_equal(jc_store_open(&e->store, &e->sc), JC_OK);
}

static void open_log(struct env *e, int read_only)
{
    struct jc_eventlog_config lc;
    jc_eventlog_config_default(&lc);
    lc.dir = e->log_dir;
    lc.n_partitions = 2;
    lc.fsync = JC_FSYNC_OFF;
    lc.read_only = read_only;
    assert_int_equal(jc_eventlog_open(&e->log, &lc), JC_OK);
}

/* A fresh store (LMDB dir or Redis prefix) and log for cat (borrowed). */
static void env_open(struct env *e, struct jc_catalog *cat, enum jc_store_backend be)
{
    if (be == JC_STORE_REDIS && !have_redis)
        skip();
    memset(e, 0, sizeof *e);
    e->cat = cat;
    int n = ++n_env;
    char name[64];
    snprintf(name, sizeof name, "store-%d", n);
    snprintf(e->store_path, sizeof e->store_path, "%s", jc_test_path(name));
    snprintf(name, sizeof name, "log-%d", n);
    snprintf(e->log_dir, sizeof e->log_dir, "%s", jc_test_path(name));
    snprintf(e->prefix, sizeof e->prefix, "nl%d:", n);
    jc_store_config_default(&e->sc);
    e->sc.backend = be;
    e->sc.path = e->store_path;
    e->sc.map_size = 256 << 20;
    e->sc.sync = 0;
    e->sc.redis_port = redis.port;
    e->sc.redis_prefix = e->prefix;
    e->sc.redis_retries = 1;
    e->sc.redis_backoff_ms = 10;
    open_store(e);
    open_log(e, 0);
    struct jc_featspec_opts o;
    jc_featspec_opts_default(&o);
    assert_int_equal(jc_featspec_create(&e->spec, &o, cat), JC_OK);
}

static void env_close(struct env *e)
{
    jc_featspec_destroy(e->spec);
    jc_store_close(e->store);
    jc_eventlog_close(e->log);
}

static void worker_cfg(struct env *e, struct jc_nearline_config *c)
{
    jc_nearline_config_default(c);
    c->log = e->log;
    c->store = e->store;
    c->cat = e->cat;
    c->spec = e->spec;
    c->commit_group_ms = 0;
}

static struct jc_nearline *worker(struct env *e, uint32_t batch)
{
    struct jc_nearline_config c;
    worker_cfg(e, &c);
    c.batch = batch;
    struct jc_nearline *w;
    assert_int_equal(jc_nearline_create(&w, &c), JC_OK);
    return w;
}

/* Every record under prefix as "key=hex\n" lines in key order (sorted for
 * Redis, whose SCAN order is arbitrary). */
struct dump {
    char **lines;
    size_t n, cap;
};

static int dump_fn(void *ctx, const char *key, size_t klen, const void *val, size_t vlen)
{
    struct dump *d = ctx;
    if (d->n == d->cap) {
        d->cap = d->cap ? 2 * d->cap : 256;
        d->lines = realloc(d->lines, d->cap * sizeof *d->lines);
    }
    char *s = malloc(klen + 2 * vlen + 2);
    memcpy(s, key, klen);
    s[klen] = '=';
    for (size_t i = 0; i < vlen; i++)
        snprintf(s + klen + 1 + 2 * i, 3, "%02x", ((const unsigned char *)val)[i]);
    s[klen + 1 + 2 * vlen] = '\0';
    d->lines[d->n++] = s;
    return 0;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static char *dump_store(struct jc_store *s, const char *prefix)
{
    struct dump d = {0};
    assert_int_equal(jc_store_scan(s, prefix, strlen(prefix), dump_fn, &d), JC_OK);
    qsort(d.lines, d.n, sizeof *d.lines, cmp_str);
    size_t total = 1;
    for (size_t i = 0; i < d.n; i++)
        total += strlen(d.lines[i]) + 1;
    char *out = malloc(total);
    out[0] = '\0';
    size_t at = 0;
    for (size_t i = 0; i < d.n; i++) {
        size_t l = strlen(d.lines[i]);
        memcpy(out + at, d.lines[i], l);
        out[at + l] = '\n';
        at += l + 1;
        free(d.lines[i]);
    }
    out[at] = '\0';
    free(d.lines);
    return out;
}

/* Every uf:/if: record the worker wrote equals the offline state of the
 * catalog (jc_store_publish_features into a second LMDB store); returns the
 * number of records compared. */
static size_t check_offline(struct env *e)
{
    struct jc_store_config c;
    jc_store_config_default(&c);
    char path[4096];
    snprintf(path, sizeof path, "%s-offline", e->store_path);
    c.path = path;
    c.map_size = 256 << 20;
    c.sync = 0;
    struct jc_store *off;
    assert_int_equal(jc_store_open(&off, &c), JC_OK);
    assert_int_equal(jc_store_publish_features(off, e->spec, NULL, NULL), JC_OK);
    size_t compared = 0;
    const char *prefixes[] = {"uf:", "if:"};
    for (int p = 0; p < 2; p++) {
        struct dump d = {0};
        assert_int_equal(jc_store_scan(e->store, prefixes[p], 3, dump_fn, &d), JC_OK);
        for (size_t i = 0; i < d.n; i++) {
            char *eq = strchr(d.lines[i], '=');
            struct jc_buf v;
            jc_buf_init(&v, 1 << 20);
            assert_int_equal(jc_store_get(off, d.lines[i], (size_t)(eq - d.lines[i]), &v), JC_OK);
            char *want = malloc(2 * v.len + 1);
            for (size_t k = 0; k < v.len; k++)
                snprintf(want + 2 * k, 3, "%02x", (unsigned char)v.data[k]);
            want[2 * v.len] = '\0';
            if (strcmp(eq + 1, want) != 0)
                fail_msg("%.*s differs from the offline state", (int)(eq - d.lines[i]), d.lines[i]);
            free(want);
            jc_buf_free(&v);
            free(d.lines[i]);
            compared++;
        }
        free(d.lines);
    }
    jc_store_close(off);
    return compared;
}

/* Users and items of a catalog that have at least one interaction. */
static size_t active_entities(const struct jc_catalog *cat)
{
    size_t n = 0;
    for (uint32_t u = 0; u < jc_catalog_n_users(cat); u++) {
        uint64_t b, e;
        jc_catalog_user_range(cat, u, &b, &e);
        n += e > b;
    }
    for (uint32_t i = 0; i < jc_catalog_n_items(cat); i++) {
        const uint32_t *pos;
        n += jc_catalog_item_interactions(cat, i, &pos) > 0;
    }
    return n;
}

static struct jc_catalog *g_synth; /* a synthetic catalog shared by tests */

static struct jc_catalog *synth_catalog(void)
{
    if (g_synth)
        return g_synth;
    const char *dir = jc_test_path("synth");
    struct jc_synth_opts so;
    jc_synth_opts_default(&so);
    so.users = 150;
    so.items = 120;
    so.interactions = 4000;
    so.seed = 7;
    struct jc_synth_result sr;
    assert_int_equal(jc_synth_write(dir, &so, &sr), JC_OK);
    struct jc_import_opts io;
    jc_import_opts_default(&io);
    struct jc_import_result res;
    const char *cp = jc_test_path("synth.jcat");
    assert_int_equal(jc_import(dir, cp, &io, &res), JC_OK);
    jc_import_result_free(&res);
    assert_int_equal(jc_catalog_open(&g_synth, cp), JC_OK);
    return g_synth;
}

static void replay(struct env *e)
{
    uint64_t n;
    assert_int_equal(jc_eventlog_replay_catalog(e->log, e->cat, 97, NULL, &n), JC_OK);
    assert_int_equal(n, jc_catalog_n_interactions(e->cat));
}

static void append_one(struct env *e, const char *user, const char *item, uint8_t type, float value,
                       int64_t time_ms)
{
    struct jc_event ev;
    jc_event_init(&ev);
    ev.user = user;
    ev.user_len = strlen(user);
    ev.item = item;
    ev.item_len = strlen(item);
    ev.type = type;
    ev.value = value;
    ev.time_ms = time_ms;
    assert_int_equal(jc_eventlog_append(e->log, &ev, 1, NULL), JC_OK);
}

/* ---- tests ----------------------------------------------------------------------- */

static void test_pop_record(void **state)
{
    (void)state;
    struct jc_item_pop p;
    jc_item_pop_init(&p);
    jc_item_pop_add(&p, 1.0, 0, 1000);       /* score 1 at t 0 */
    jc_item_pop_add(&p, 1.0, 1000000, 1000); /* one half-life later: 0.5 + 1 */
    assert_double_near(p.score, 1.5, 1e-12);
    assert_int_equal(p.t_ref_ms, 1000000);
    jc_item_pop_add(&p, 1.0, 0, 1000); /* an old event: + 0.5 */
    assert_double_near(p.score, 2.0, 1e-12);
    assert_int_equal(p.count, 3);
    assert_double_near(jc_item_pop_score_at(&p, 3000000, 1000), 0.5, 1e-12);
    assert_double_near(jc_item_pop_score_at(&p, 0, 1000), 2.0, 1e-12);
    jc_item_pop_add(&p, 2.0, 3000000, 0); /* no decay */
    assert_double_near(p.score, 4.0, 1e-12);
    uint8_t buf[JC_ITEM_POP_ENC_SIZE];
    size_t len;
    assert_int_equal(jc_item_pop_encode(&p, buf, 10, &len), JC_ELIMIT);
    assert_int_equal(jc_item_pop_encode(&p, buf, sizeof buf, &len), JC_OK);
    assert_int_equal(len, JC_ITEM_POP_ENC_SIZE);
    struct jc_item_pop q;
    assert_int_equal(jc_item_pop_decode(&q, buf, len), JC_OK);
    assert_int_equal(q.count, p.count);
    assert_true(q.score == p.score && q.t_ref_ms == p.t_ref_ms);
    buf[20] ^= 1;
    assert_int_equal(jc_item_pop_decode(&q, buf, len), JC_ECORRUPT);
    assert_non_null(strstr(jc_errmsg(), "checksum"));
    buf[20] ^= 1;
    buf[4] = 9;
    assert_int_equal(jc_item_pop_decode(&q, buf, len), JC_EVERSION);
    assert_int_equal(jc_item_pop_decode(&q, buf, len - 1), JC_ECORRUPT);
}

/* The fixture catalog through the log equals the offline states. */
static void run_consistency(enum jc_store_backend be, struct jc_catalog *cat, uint32_t batch)
{
    struct env e;
    env_open(&e, cat, be);
    replay(&e);
    struct jc_nearline *w = worker(&e, batch);
    uint64_t n;
    int rc = jc_nearline_drain(w, &n);
    if (rc)
        fail_msg("drain: %s", jc_errmsg());
    assert_int_equal(n, jc_catalog_n_interactions(cat));
    struct jc_nearline_stats st;
    jc_nearline_get_stats(w, &st);
    assert_int_equal(st.events_in, n);
    assert_int_equal(st.events_out, n);
    assert_int_equal(st.rejected_unknown + st.rejected_bad, 0);
    assert_int_equal(st.n_parts, 2);
    assert_int_equal(st.lag[0] + st.lag[1], 0);
    assert_true(st.commits >= (n + batch - 1) / batch);
    /* offsets stored with the state */
    for (uint32_t p = 0; p < 2; p++) {
        uint64_t off, b, end;
        assert_int_equal(jc_nearline_stored_offset(e.store, "nearline", p, &off), JC_OK);
        assert_int_equal(jc_eventlog_offsets(e.log, p, &b, &end), JC_OK);
        assert_int_equal(off, end);
        assert_int_equal(jc_eventlog_committed(e.log, "nearline", p, &b), JC_OK);
        assert_int_equal(b, end);
    }
    assert_int_equal(check_offline(&e), active_entities(cat));
    jc_nearline_destroy(w);
    env_close(&e);
}

static void test_consistency_fixture(void **state)
{
    (void)state;
    struct jc_catalog *cat = fx_catalog(jc_test_path("fx.jcat"), 1);
    run_consistency(JC_STORE_LMDB, cat, 3);
    run_consistency(JC_STORE_LMDB, cat, 1000);
    jc_catalog_close(cat);
}

static void test_consistency_synth(void **state)
{
    (void)state;
    run_consistency(JC_STORE_LMDB, synth_catalog(), 256);
}

static void test_consistency_redis(void **state)
{
    (void)state;
    run_consistency(JC_STORE_REDIS, synth_catalog(), 500);
}

/* At-least-once delivery: the group's committed offsets are lost (reset
 * to 0, as after a crash between the store write and the group commit);
 * the worker seeks to the offsets stored with the state and applies
 * nothing twice. */
static void test_redelivery_is_idempotent(void **state)
{
    (void)state;
    struct env e;
    env_open(&e, synth_catalog(), JC_STORE_LMDB);
    replay(&e);
    struct jc_nearline *w = worker(&e, 300);
    assert_int_equal(jc_nearline_drain(w, NULL), JC_OK);
    jc_nearline_destroy(w);
    char *before = dump_store(e.store, "");
    for (uint32_t p = 0; p < 2; p++)
        assert_int_equal(jc_eventlog_commit(e.log, "nearline", p, 0), JC_OK);
    struct jc_nearline_config c;
    worker_cfg(&e, &c);
    c.start = JC_START_COMMITTED;
    assert_int_equal(jc_nearline_create(&w, &c), JC_OK);
    uint64_t n = 99;
    assert_int_equal(jc_nearline_drain(w, &n), JC_OK);
    assert_int_equal(n, 0);
    char *after = dump_store(e.store, "");
    assert_string_equal(before, after);
    jc_nearline_destroy(w);
    free(before);
    free(after);
    env_close(&e);
}

/* Stop after two cycles, restart: the new worker starts at the stored
 * offsets and the final state is the offline one. */
static void test_restart_from_stored_offsets(void **state)
{
    (void)state;
    struct env e;
    env_open(&e, synth_catalog(), JC_STORE_LMDB);
    replay(&e);
    struct jc_nearline *w = worker(&e, 100);
    uint64_t n1, n2;
    assert_int_equal(jc_nearline_run_once(w, 0, &n1), JC_OK);
    assert_int_equal(jc_nearline_run_once(w, 0, &n2), JC_OK);
    assert_int_equal(n1, 100);
    assert_int_equal(n2, 100);
    struct jc_nearline_stats st;
    jc_nearline_get_stats(w, &st);
    jc_nearline_destroy(w);
    w = worker(&e, 100);
    struct jc_nearline_stats st2;
    jc_nearline_get_stats(w, &st2);
    assert_int_equal(st2.position[0], st.position[0]);
    assert_int_equal(st2.position[1], st.position[1]);
    assert_int_equal(st.position[0] + st.position[1], 200);
    uint64_t n;
    assert_int_equal(jc_nearline_drain(w, &n), JC_OK);
    assert_int_equal(n, jc_catalog_n_interactions(e.cat) - 200);
    assert_int_equal(check_offline(&e), active_entities(e.cat));
    jc_nearline_destroy(w);
    env_close(&e);
}

/* Every allocation of a cycle fails in turn: the cycle errors, the
 * consumer is rewound, the retry applies the events exactly once. */
static void test_failing_cycles_rewind(void **state)
{
    (void)state;
    struct catalog_holder {
        struct jc_catalog *cat;
    } h = {fx_catalog(jc_test_path("fx-fail.jcat"), 1)};
    struct env e;
    env_open(&e, h.cat, JC_STORE_LMDB);
    replay(&e);
    struct jc_nearline *w = worker(&e, 4);
    int failures = 0;
    for (long k = 1; k < 400; k++) {
        jc_alloc_fail_after(k);
        uint64_t n = 0;
        int rc = jc_nearline_run_once(w, 0, &n);
        jc_alloc_fail_after(0);
        if (rc != JC_OK) {
            failures++;
            assert_true(rc == JC_ENOMEM);
        }
        uint64_t lag = 0;
        struct jc_nearline_stats st;
        jc_nearline_get_stats(w, &st);
        lag = st.lag[0] + st.lag[1];
        if (lag == 0)
            break;
    }
    assert_true(failures > 0);
    assert_int_equal(jc_nearline_drain(w, NULL), JC_OK);
    struct jc_nearline_stats st;
    jc_nearline_get_stats(w, &st);
    assert_int_equal(st.commit_errors, (uint64_t)failures);
    assert_int_equal(st.events_out, jc_catalog_n_interactions(h.cat));
    assert_int_equal(check_offline(&e), active_entities(h.cat));
    jc_nearline_destroy(w);
    env_close(&e);
    jc_catalog_close(h.cat);
}

/* A worker process killed with SIGKILL at random points, then restarted:
 * the store ends byte-identical to the offline state. */
static void test_kill9_and_restart(void **state)
{
    (void)state;
    struct env e;
    env_open(&e, synth_catalog(), JC_STORE_LMDB);
    e.sc.sync = 1; /* a killed process must not lose acknowledged writes */
    replay(&e);
    jc_store_close(e.store);
    e.store = NULL;
    uint64_t seed = 12345;
    int killed_mid = 0;
    for (int trial = 0; trial < 6; trial++) {
        fflush(NULL);
        pid_t pid = fork();
        assert_true(pid >= 0);
        if (pid == 0) {
            struct env c = e;
            jc_store_config_default(&c.sc);
            c.sc = e.sc;
            if (jc_store_open(&c.store, &c.sc) != JC_OK)
                _exit(3);
            struct jc_eventlog_config lc;
            jc_eventlog_config_default(&lc);
            lc.dir = e.log_dir;
            lc.read_only = 1;
            if (jc_eventlog_open(&c.log, &lc) != JC_OK)
                _exit(4);
            struct jc_nearline_config nc;
            worker_cfg(&c, &nc);
            nc.batch = 37;
            struct jc_nearline *w;
            if (jc_nearline_create(&w, &nc) != JC_OK)
                _exit(5);
            for (;;) {
                uint64_t n;
                if (jc_nearline_run_once(w, 5, &n) != JC_OK)
                    _exit(6);
            }
        }
        seed = seed * 6364136223846793005ull + 1442695040888963407ull;
        usleep((useconds_t)(2000 + (seed >> 33) % 25000));
        kill(pid, SIGKILL);
        int status;
        assert_int_equal(waitpid(pid, &status, 0), pid);
        assert_true(WIFSIGNALED(status));
        /* how far did it get? */
        open_store(&e);
        uint64_t o0 = 0, o1 = 0;
        jc_nearline_stored_offset(e.store, "nearline", 0, &o0);
        jc_nearline_stored_offset(e.store, "nearline", 1, &o1);
        if (o0 + o1 > 0 && o0 + o1 < jc_catalog_n_interactions(e.cat))
            killed_mid++;
        jc_store_close(e.store);
        e.store = NULL;
    }
    print_message("# %d of 6 kills landed mid-stream\n", killed_mid);
    open_store(&e);
    struct jc_nearline *w = worker(&e, 37);
    assert_int_equal(jc_nearline_drain(w, NULL), JC_OK);
    assert_int_equal(check_offline(&e), active_entities(e.cat));
    jc_nearline_destroy(w);
    env_close(&e);
}

static void test_unknown_entities(void **state)
{
    (void)state;
    struct jc_catalog *cat = fx_catalog(jc_test_path("fx-unk.jcat"), 0);
    for (int create = 0; create <= 1; create++) {
        struct env e;
        env_open(&e, cat, JC_STORE_LMDB);
        append_one(&e, "u999", "10", JC_EV_RATING, 4.0f, 2000000);
        append_one(&e, "1", "m999", JC_EV_RATING, 5.0f, 2000000);
        append_one(&e, "1", "10", JC_EV_RATING, 3.0f, 2001000);
        struct jc_nearline_config c;
        worker_cfg(&e, &c);
        c.unknown_create = create;
        struct jc_nearline *w;
        assert_int_equal(jc_nearline_create(&w, &c), JC_OK);
        assert_int_equal(jc_nearline_drain(w, NULL), JC_OK);
        struct jc_nearline_stats st;
        jc_nearline_get_stats(w, &st);
        assert_int_equal(st.events_in, 3);
        assert_int_equal(st.events_out, create ? 3 : 1);
        assert_int_equal(st.rejected_unknown, create ? 0 : 2);
        assert_int_equal(st.lag[0] + st.lag[1], 0); /* rejected events are consumed */
        struct jc_buf v;
        jc_buf_init(&v, 1 << 20);
        assert_int_equal(jc_store_get(e.store, "uf:u999", 7, &v), create ? JC_OK : JC_ENOTFOUND);
        if (create) {
            struct jc_user_state *us = jc_malloc(sizeof *us);
            assert_int_equal(jc_user_state_decode(us, e.spec, v.data, v.len), JC_OK);
            assert_int_equal(us->n_events, 1);
            assert_int_equal(us->n_pos, 1);
            assert_int_equal(us->last_time, 2000);
            jc_free(us);
        }
        assert_int_equal(jc_store_get(e.store, "if:m999", 7, &v), create ? JC_OK : JC_ENOTFOUND);
        if (create) {
            struct jc_item_state is;
            assert_int_equal(jc_item_state_decode(&is, v.data, v.len), JC_OK);
            assert_int_equal(is.count, 1);
            assert_double_near(is.sum, 5.0, 0);
        }
        /* user 1 (known) got its rating of 10 in both modes; of m999 only with create */
        struct jc_user_state *us = jc_malloc(sizeof *us);
        assert_int_equal(jc_store_get(e.store, "uf:1", 4, &v), JC_OK);
        assert_int_equal(jc_user_state_decode(us, e.spec, v.data, v.len), JC_OK);
        assert_int_equal(us->n_events, create ? 2 : 1);
        jc_free(us);
        jc_buf_free(&v);
        jc_nearline_destroy(w);
        env_close(&e);
    }
    jc_catalog_close(cat);
}

/* Popularity with decay, event types and the item's last time. */
static void test_decayed_counters_and_types(void **state)
{
    (void)state;
    struct jc_catalog *cat = fx_catalog(jc_test_path("fx-pop.jcat"), 0);
    struct env e;
    env_open(&e, cat, JC_STORE_LMDB);
    int64_t h = 3600; /* half-life seconds */
    append_one(&e, "1", "20", JC_EV_RATING, 4.0f, 1000000000);
    append_one(&e, "2", "20", JC_EV_CLICK, 1.0f, 1000000000 + h * 1000);
    append_one(&e, "3", "20", JC_EV_IMPRESSION, 1.0f, 1000000000 + 2 * h * 1000);
    append_one(&e, "3", "20", JC_EV_LIKE, 1.0f, 1000000000 + 2 * h * 1000);
    struct jc_nearline_config c;
    worker_cfg(&e, &c);
    c.trend_half_life_s = (double)h;
    struct jc_nearline *w;
    assert_int_equal(jc_nearline_create(&w, &c), JC_OK);
    assert_int_equal(jc_nearline_drain(w, NULL), JC_OK);
    struct jc_buf v;
    jc_buf_init(&v, 1 << 20);
    assert_int_equal(jc_store_get(e.store, "pop:20", 6, &v), JC_OK);
    struct jc_item_pop p;
    assert_int_equal(jc_item_pop_decode(&p, v.data, v.len), JC_OK);
    assert_int_equal(p.count, 3); /* the impression does not count */
    /* 1 at t0, +1 at t0+h, +1 at t0+2h, seen at t0+2h: 0.25 + 0.5 + 1 */
    assert_double_near(p.score, 1.75, 1e-9);
    assert_int_equal(p.t_ref_ms, 1000000000 + 2 * h * 1000);
    assert_int_equal(jc_store_get(e.store, "if:20", 5, &v), JC_OK);
    struct jc_item_state is;
    assert_int_equal(jc_item_state_decode(&is, v.data, v.len), JC_OK);
    assert_int_equal(is.count, 3);
    assert_double_near(is.sum, 6.0, 0);
    assert_int_equal(is.last_time, 1000000 + 2 * h);
    /* the click is a positive for user 2 although its value is 1 */
    struct jc_user_state *us = jc_malloc(sizeof *us);
    assert_int_equal(jc_store_get(e.store, "uf:2", 4, &v), JC_OK);
    assert_int_equal(jc_user_state_decode(us, e.spec, v.data, v.len), JC_OK);
    assert_int_equal(us->n_events, 1);
    assert_int_equal(us->n_pos, 1);
    /* user 3: the like only */
    assert_int_equal(jc_store_get(e.store, "uf:3", 4, &v), JC_OK);
    assert_int_equal(jc_user_state_decode(us, e.spec, v.data, v.len), JC_OK);
    assert_int_equal(us->n_events, 1);
    jc_free(us);
    jc_buf_free(&v);
    jc_nearline_destroy(w);
    env_close(&e);
    jc_catalog_close(cat);
}

/* Realtime user vectors: the mean of the liked items' vectors. */
static void test_user_vectors(void **state)
{
    (void)state;
    struct jc_catalog *cat = fx_catalog(jc_test_path("fx-emb.jcat"), 0);
    struct env e;
    env_open(&e, cat, JC_STORE_LMDB);
    struct jc_emb *emb;
    assert_int_equal(jc_emb_create(&emb, jc_catalog_n_items(cat), 0, 3), JC_OK);
    for (uint32_t i = 0; i < jc_catalog_n_items(cat); i++) {
        float *v = jc_emb_item_vec_mut(emb, i);
        v[0] = (float)i;
        v[1] = 1.0f;
        v[2] = -(float)i;
        jc_emb_set_item_status(emb, i, JC_EMB_TRAINED);
    }
    uint32_t i10, i20, i30;
    assert_true(jc_catalog_find_item(cat, "10", 2, &i10));
    assert_true(jc_catalog_find_item(cat, "20", 2, &i20));
    assert_true(jc_catalog_find_item(cat, "30", 2, &i30));
    append_one(&e, "7", "10", JC_EV_RATING, 5.0f, 1000);
    append_one(&e, "7", "20", JC_EV_RATING, 1.0f, 2000); /* negative: not folded in */
    append_one(&e, "7", "30", JC_EV_LIKE, 1.0f, 3000);
    struct jc_nearline_config c;
    worker_cfg(&e, &c);
    c.emb = emb;
    c.emb_name = "test";
    struct jc_nearline *w;
    assert_int_equal(jc_nearline_create(&w, &c), JC_OK);
    assert_int_equal(jc_nearline_drain(w, NULL), JC_OK);
    struct jc_buf v;
    jc_buf_init(&v, 1 << 20);
    assert_int_equal(jc_store_get(e.store, "uemb:test:7", 11, &v), JC_OK);
    assert_int_equal(v.len, 12);
    float got[3];
    memcpy(got, v.data, 12);
    assert_double_near(got[0], ((double)i10 + i30) / 2.0, 1e-6);
    assert_double_near(got[1], 1.0, 1e-6);
    assert_double_near(got[2], -((double)i10 + i30) / 2.0, 1e-6);
    assert_int_equal(jc_store_get(e.store, "nl:ues:test:7", 13, &v), JC_OK);
    assert_int_equal(v.len, 32 + 12 + 8);
    jc_buf_free(&v);
    jc_nearline_destroy(w);
    jc_emb_destroy(emb);
    env_close(&e);
    jc_catalog_close(cat);
}

static void test_assignment_and_locks(void **state)
{
    (void)state;
    struct env e;
    env_open(&e, synth_catalog(), JC_STORE_LMDB);
    replay(&e);
    const char *lockdir = jc_test_path("locks");
    jc_mkdir_p(lockdir);
    struct jc_nearline *w[2];
    for (uint32_t i = 0; i < 2; i++) {
        struct jc_nearline_config c;
        worker_cfg(&e, &c);
        c.proc_index = i;
        c.proc_count = 2;
        c.lock_dir = lockdir;
        assert_int_equal(jc_nearline_create(&w[i], &c), JC_OK);
    }
    /* a second owner of partition 1 is refused */
    struct jc_nearline_config c;
    worker_cfg(&e, &c);
    c.proc_index = 1;
    c.proc_count = 2;
    c.lock_dir = lockdir;
    struct jc_nearline *dup;
    assert_int_equal(jc_nearline_create(&dup, &c), JC_EBUSY);
    assert_non_null(strstr(jc_errmsg(), "partition 1 of group 'nearline'"));
    /* bad assignments */
    c.lock_dir = NULL;
    c.proc_index = 2;
    assert_int_equal(jc_nearline_create(&dup, &c), JC_EINVAL);
    c.proc_count = 5;
    c.proc_index = 3; /* the log has 2 partitions */
    assert_int_equal(jc_nearline_create(&dup, &c), JC_EINVAL);
    assert_non_null(strstr(jc_errmsg(), "gets no partition"));
    /* the two processes together give the offline state */
    for (int i = 0; i < 2; i++) {
        assert_int_equal(jc_nearline_drain(w[i], NULL), JC_OK);
        struct jc_nearline_stats st;
        jc_nearline_get_stats(w[i], &st);
        assert_int_equal(st.n_parts, 1);
        assert_int_equal(st.partition[0], (uint32_t)i);
    }
    assert_int_equal(check_offline(&e), active_entities(e.cat));
    jc_nearline_destroy(w[0]);
    jc_nearline_destroy(w[1]);
    /* locks are released with the worker */
    worker_cfg(&e, &c);
    c.lock_dir = lockdir;
    assert_int_equal(jc_nearline_create(&dup, &c), JC_OK);
    jc_nearline_destroy(dup);
    env_close(&e);
}

static void test_metrics(void **state)
{
    (void)state;
    struct jc_catalog *cat = fx_catalog(jc_test_path("fx-met.jcat"), 0);
    struct env e;
    env_open(&e, cat, JC_STORE_LMDB);
    replay(&e);
    append_one(&e, "zz", "10", JC_EV_RATING, 4.0f, 5000000);
    struct jc_metrics *reg;
    assert_int_equal(jc_metrics_create(&reg), JC_OK);
    struct jc_nearline_config c;
    worker_cfg(&e, &c);
    c.unknown_create = 0;
    c.metrics = reg;
    struct jc_nearline *w;
    assert_int_equal(jc_nearline_create(&w, &c), JC_OK);
    assert_int_equal(jc_nearline_drain(w, NULL), JC_OK);
    struct jc_buf b;
    jc_buf_init(&b, 1 << 20);
    assert_int_equal(jc_nearline_metrics_write(w, &b), JC_OK);
    assert_non_null(strstr(b.data, "\njunco_nearline_events_in_total 13\n"));
    assert_non_null(strstr(b.data, "\njunco_nearline_events_out_total 12\n"));
    assert_non_null(
        strstr(b.data, "junco_nearline_events_rejected_total{reason=\"unknown_entity\"} 1\n"));
    assert_non_null(strstr(b.data, "junco_nearline_consumer_lag{partition=\"0\"} 0\n"));
    assert_non_null(strstr(b.data, "junco_nearline_store_latency_seconds_count 12\n"));
    assert_non_null(
        strstr(b.data, "junco_nearline_store_latency_seconds_bucket{le=\"+Inf\"} 12\n"));
    /* the same through the serve registry */
    jc_buf_reset(&b);
    assert_int_equal(jc_metrics_render(reg, &b), JC_OK);
    assert_non_null(strstr(b.data, "junco_nearline_events_in_total 13\n"));
    assert_non_null(strstr(b.data, "junco_nearline_events_out_total 12\n"));
    assert_non_null(strstr(b.data, "junco_nearline_store_latency_seconds_count 12\n"));
    assert_non_null(strstr(b.data, "junco_nearline_consumer_lag{partition=\"1\"} 0\n"));
    /* append one more: lag shows up before the worker runs */
    append_one(&e, "1", "10", JC_EV_RATING, 4.0f, 6000000);
    jc_buf_reset(&b);
    assert_int_equal(jc_nearline_metrics_write(w, &b), JC_OK);
    uint32_t p = jc_eventlog_partition_of(e.log, "1", 1);
    char want[128];
    snprintf(want, sizeof want, "junco_nearline_consumer_lag{partition=\"%u\"} 1\n", p);
    assert_non_null(strstr(b.data, want));
    jc_buf_free(&b);
    jc_nearline_destroy(w);
    jc_metrics_destroy(reg);
    env_close(&e);
    jc_catalog_close(cat);
}

/* Acceptance: with the worker on its own thread, a rating appended to the
 * log changes the user's state in the store and the online feature batch
 * (jc_featspec_build_batch, what serving scores) within one second. */
static void test_acceptance_new_rating_within_1s(void **state)
{
    (void)state;
    struct jc_catalog *cat = fx_catalog(jc_test_path("fx-acc.jcat"), 1);
    struct env e;
    env_open(&e, cat, JC_STORE_LMDB);
    /* a fitted spec, as serving has it (fitted by the offline sample job) */
    struct jc_samples_opts so;
    jc_samples_opts_default(&so);
    so.dir = jc_test_path("fx-samples");
    so.threads = 1;
    jc_featspec_destroy(e.spec);
    struct jc_featspec_opts fo;
    jc_featspec_opts_default(&fo);
    fo.min_history = 0;
    assert_int_equal(jc_featspec_create(&e.spec, &fo, cat), JC_OK);
    assert_int_equal(jc_samples_build(cat, e.spec, &so, NULL), JC_OK);
    assert_true(jc_featspec_is_fitted(e.spec));
    replay(&e);
    struct jc_nearline_config c;
    worker_cfg(&e, &c);
    c.poll_ms = 20;
    struct jc_nearline *w;
    assert_int_equal(jc_nearline_create(&w, &c), JC_OK);
    assert_int_equal(jc_nearline_start(w), JC_OK);
    /* wait for the replayed catalog */
    uint64_t t_wait = jc_now_ns();
    for (;;) {
        struct jc_nearline_stats st;
        jc_nearline_get_stats(w, &st);
        if (st.events_out == jc_catalog_n_interactions(cat))
            break;
        assert_true(jc_now_ns() - t_wait < 10000000000ull);
        usleep(1000);
    }
    uint32_t user, items[2];
    assert_true(jc_catalog_find_user(cat, "3", 1, &user));
    assert_true(jc_catalog_find_item(cat, "10", 2, &items[0]));
    assert_true(jc_catalog_find_item(cat, "30", 2, &items[1]));
    const struct jc_feat_layout *l = jc_featspec_layout(e.spec);
    struct jc_batch before, after;
    assert_int_equal(jc_batch_init(&before, l, 2), JC_OK);
    assert_int_equal(jc_batch_init(&after, l, 2), JC_OK);
    struct jc_user_state *us = jc_malloc(sizeof *us);
    struct jc_item_state is[2];
    struct jc_buf arena;
    jc_buf_init(&arena, 1 << 20);
    struct jc_store_val vals[2];
    struct jc_feat_context ctx;
    jc_feat_context_from_time(&ctx, 2000);
    int found;
    assert_int_equal(jc_store_get_user_state(e.store, e.spec, user, us, &found), JC_OK);
    assert_true(found);
    uint64_t n_before = us->n_events;
    assert_int_equal(n_before, 3); /* fixture user 3: two events + one extra */
    assert_int_equal(jc_store_get_item_states(e.store, e.spec, 2, items, is, &arena, vals), JC_OK);
    assert_int_equal(jc_featspec_build_batch(e.spec, user, us, &ctx, 2, items, is, &before), JC_OK);
    /* the new rating */
    uint64_t t0 = jc_now_ns();
    append_one(&e, "3", "10", JC_EV_RATING, 5.0f, 1500000);
    double seconds = 0;
    for (;;) {
        assert_int_equal(jc_store_get_user_state(e.store, e.spec, user, us, &found), JC_OK);
        if (us->n_events == n_before + 1)
            break;
        seconds = (double)(jc_now_ns() - t0) * 1e-9;
        assert_true(seconds < 1.0);
        usleep(500);
    }
    seconds = (double)(jc_now_ns() - t0) * 1e-9;
    print_message("# new rating -> store in %.1f ms\n", seconds * 1e3);
    assert_true(seconds < 1.0);
    assert_int_equal(us->last_time, 1500);
    assert_int_equal(jc_store_get_item_states(e.store, e.spec, 2, items, is, &arena, vals), JC_OK);
    assert_int_equal(jc_featspec_build_batch(e.spec, user, us, &ctx, 2, items, is, &after), JC_OK);
    /* the user's recommendation input changed: user-side fields and the
     * rated item's side */
    assert_true(memcmp(before.num, after.num, 2 * l->n_num * sizeof(float)) != 0 ||
                memcmp(before.cat, after.cat, 2 * l->n_cat * sizeof(uint32_t)) != 0);
    int hist = jc_feat_layout_find(l, "userRatingCount");
    assert_true(hist >= 0);
    assert_true(after.num[l->fields[hist].offset] != before.num[l->fields[hist].offset]);
    assert_int_equal(jc_nearline_stop(w), JC_OK);
    struct jc_nearline_stats st;
    jc_nearline_get_stats(w, &st);
    assert_true(jc_nearline_stats_quantile(&st, 0.99) < 1.0);
    jc_buf_free(&arena);
    jc_free(us);
    jc_batch_free(&before);
    jc_batch_free(&after);
    jc_nearline_destroy(w);
    env_close(&e);
    jc_catalog_close(cat);
}

static void test_bad_config(void **state)
{
    (void)state;
    struct jc_catalog *cat = fx_catalog(jc_test_path("fx-cfg.jcat"), 0);
    struct env e;
    env_open(&e, cat, JC_STORE_LMDB);
    struct jc_nearline_config c;
    struct jc_nearline *w;
    worker_cfg(&e, &c);
    c.store = NULL;
    assert_int_equal(jc_nearline_create(&w, &c), JC_EINVAL);
    worker_cfg(&e, &c);
    c.group = "bad group!";
    assert_int_equal(jc_nearline_create(&w, &c), JC_EINVAL);
    assert_non_null(strstr(jc_errmsg(), "bad group name"));
    worker_cfg(&e, &c);
    c.batch = 0;
    assert_int_equal(jc_nearline_create(&w, &c), JC_EINVAL);
    /* a corrupt stored offset is an error naming the key */
    assert_int_equal(jc_store_put(e.store, "nl:off:nearline:000", 19, "garbage", 7), JC_OK);
    worker_cfg(&e, &c);
    assert_int_equal(jc_nearline_create(&w, &c), JC_ECORRUPT);
    assert_non_null(strstr(jc_errmsg(), "nl:off:nearline:000"));
    /* a record that does not decode is skipped and counted */
    assert_int_equal(jc_store_del(e.store, "nl:off:nearline:000", 19), JC_OK);
    struct jc_eventlog_rec r = {0, "not an event", 12};
    assert_int_equal(jc_eventlog_append_raw(e.log, &r, 1, NULL), JC_OK);
    assert_int_equal(jc_nearline_create(&w, &c), JC_OK);
    assert_int_equal(jc_nearline_drain(w, NULL), JC_OK);
    struct jc_nearline_stats st;
    jc_nearline_get_stats(w, &st);
    assert_int_equal(st.rejected_bad, 1);
    assert_int_equal(st.events_out, 0);
    assert_int_equal(st.position[0], 1);
    jc_nearline_destroy(w);
    env_close(&e);
    jc_catalog_close(cat);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_pop_record),
        cmocka_unit_test(test_consistency_fixture),
        cmocka_unit_test(test_consistency_synth),
        cmocka_unit_test(test_consistency_redis),
        cmocka_unit_test(test_redelivery_is_idempotent),
        cmocka_unit_test(test_restart_from_stored_offsets),
        cmocka_unit_test(test_failing_cycles_rewind),
        cmocka_unit_test(test_kill9_and_restart),
        cmocka_unit_test(test_unknown_entities),
        cmocka_unit_test(test_decayed_counters_and_types),
        cmocka_unit_test(test_user_vectors),
        cmocka_unit_test(test_assignment_and_locks),
        cmocka_unit_test(test_metrics),
        cmocka_unit_test(test_acceptance_new_rating_within_1s),
        cmocka_unit_test(test_bad_config),
    };
    int rc = cmocka_run_group_tests(tests, group_setup, group_teardown);
    if (g_synth)
        jc_catalog_close(g_synth);
    return rc;
}
