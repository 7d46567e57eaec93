/*
 * test_serve.c - unit tests of the serving module's building blocks: the
 * router, the metrics registry (values, exposition text, concurrency), the
 * access log line format, static path resolution (traversal, symlinks),
 * snapshot reference counting and swaps, scene configuration, and the
 * pipeline on the bundled MovieLens catalog.
 */
#include "testutil.h"

#include "core/alloc.h"
#include "core/buf.h"
#include "core/fileio.h"
#include "serve/accesslog.h"
#include "serve/pipeline.h"
#include "serve/router.h"
#include "serve/serve_int.h"
#include "serve/state.h"
#include <junco/catalog.h>
#include <junco/error.h>
#include <junco/import.h>
#include <junco/serve.h>

#include <limits.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

void jc_pipeline_thread_cleanup(void);

/* ---- router ---------------------------------------------------------------- */

static void h_dummy(struct jc_http_req *req, struct jc_http_resp *resp)
{
    (void)req;
    (void)resp;
}

static const struct jc_route test_routes[] = {
    {JC_M_GET, "/healthz", h_dummy, 0, 0},
    {JC_M_GET, "/api/v1/items/{id}", h_dummy, 0, 0},
    {JC_M_GET, "/api/v1/items/{id}/similar", h_dummy, 0, 0},
    {JC_M_POST, "/api/v1/items/{id}", h_dummy, JC_ROUTE_AUTH, 1024},
    {JC_M_GET, "/api/v1/users/{user}/items/{item}", h_dummy, 0, 0},
    {JC_M_POST, "/api/v1/admin/reload", h_dummy, JC_ROUTE_AUTH, 0},
    {JC_M_GET, "/{path*}", h_dummy, JC_ROUTE_FALLBACK, 0},
};

static void test_router_match(void **state)
{
    (void)state;
    struct jc_router *r;
    assert_int_equal(jc_router_create(&r, test_routes, 7), JC_OK);
    struct jc_route_match m;
    size_t n;
    const char *v;

    assert_int_equal(jc_router_match(r, JC_M_GET, "/healthz", &m), JC_ROUTE_FOUND);
    assert_int_equal(m.index, 0);
    assert_int_equal(m.n_params, 0);

    assert_int_equal(jc_router_match(r, JC_M_GET, "/api/v1/items/11", &m), JC_ROUTE_FOUND);
    assert_int_equal(m.index, 1);
    v = jc_route_param(&m, "id", &n);
    assert_non_null(v);
    assert_int_equal(n, 2);
    assert_memory_equal(v, "11", 2);
    assert_null(jc_route_param(&m, "nope", &n));

    assert_int_equal(jc_router_match(r, JC_M_GET, "/api/v1/items/abc/similar", &m), JC_ROUTE_FOUND);
    assert_int_equal(m.index, 2);
    v = jc_route_param(&m, "id", &n);
    assert_int_equal(n, 3);
    assert_memory_equal(v, "abc", 3);

    /* same pattern, other method */
    assert_int_equal(jc_router_match(r, JC_M_POST, "/api/v1/items/7", &m), JC_ROUTE_FOUND);
    assert_int_equal(m.index, 3);

    /* two captures */
    assert_int_equal(jc_router_match(r, JC_M_GET, "/api/v1/users/u9/items/i3", &m), JC_ROUTE_FOUND);
    assert_int_equal(m.index, 4);
    v = jc_route_param(&m, "user", &n);
    assert_memory_equal(v, "u9", 2);
    v = jc_route_param(&m, "item", &n);
    assert_memory_equal(v, "i3", 2);

    /* HEAD matches GET routes */
    assert_int_equal(jc_router_match(r, JC_M_HEAD, "/api/v1/items/5", &m), JC_ROUTE_FOUND);
    assert_int_equal(m.index, 1);

    /* 405 with the allowed methods; the fallback route never hides it */
    assert_int_equal(jc_router_match(r, JC_M_DELETE, "/api/v1/items/5", &m), JC_ROUTE_NO_METHOD);
    assert_int_equal(m.index, -1);
    assert_int_equal(m.allowed, JC_M_GET | JC_M_HEAD | JC_M_POST);
    char methods[64];
    jc_http_methods_str(m.allowed, methods, sizeof methods);
    assert_string_equal(methods, "GET, HEAD, POST");
    assert_int_equal(jc_router_match(r, JC_M_GET, "/api/v1/admin/reload", &m), JC_ROUTE_NO_METHOD);
    assert_int_equal(m.allowed, JC_M_POST);

    /* empty capture segment does not match {id}; the fallback takes GETs */
    assert_int_equal(jc_router_match(r, JC_M_GET, "/api/v1/items/", &m), JC_ROUTE_FOUND);
    assert_int_equal(m.index, 6);
    v = jc_route_param(&m, "path", &n);
    assert_int_equal(n, strlen("api/v1/items/"));
    assert_int_equal(jc_router_match(r, JC_M_GET, "/", &m), JC_ROUTE_FOUND);
    assert_int_equal(m.index, 6);
    v = jc_route_param(&m, "path", &n);
    assert_int_equal(n, 0);
    assert_int_equal(
        jc_router_match(r, JC_M_GET, "/css/a/b/c/d/e/f/g/h/i/j/k/l/m/n/o/p/q/r.css", &m),
        JC_ROUTE_FOUND);
    assert_int_equal(m.index, 6);
    v = jc_route_param(&m, "path", &n);
    assert_memory_equal(v, "css/a/b", 7);

    /* the fallback is GET only: other methods on unknown paths are 404 */
    assert_int_equal(jc_router_match(r, JC_M_POST, "/nowhere", &m), JC_ROUTE_NO_PATH);
    assert_int_equal(jc_router_match(r, JC_M_GET, "relative", &m), JC_ROUTE_NO_PATH);
    assert_int_equal(jc_http_method_bit("GET"), JC_M_GET);
    assert_int_equal(jc_http_method_bit("BREW"), JC_M_OTHER);
    jc_router_destroy(r);
}

static void test_router_bad_tables(void **state)
{
    (void)state;
    struct jc_router *r = NULL;
    const struct jc_route bad1[] = {{JC_M_GET, "nope", h_dummy, 0, 0}};
    assert_int_equal(jc_router_create(&r, bad1, 1), JC_EINVAL);
    assert_non_null(strstr(jc_errmsg(), "must start with '/'"));
    const struct jc_route bad2[] = {{JC_M_GET, "/a/{x*}/b", h_dummy, 0, 0}};
    assert_int_equal(jc_router_create(&r, bad2, 1), JC_EINVAL);
    assert_non_null(strstr(jc_errmsg(), "must be the last segment"));
    const struct jc_route bad3[] = {{JC_M_GET, "/a/{}", h_dummy, 0, 0}};
    assert_int_equal(jc_router_create(&r, bad3, 1), JC_EINVAL);
    const struct jc_route bad4[] = {{JC_M_GET, "/a//b", h_dummy, 0, 0}};
    assert_int_equal(jc_router_create(&r, bad4, 1), JC_EINVAL);
    assert_non_null(strstr(jc_errmsg(), "empty segment"));
    const struct jc_route bad5[] = {{JC_M_GET, "/a", h_dummy, 0, 0},
                                    {JC_M_GET, "/a", h_dummy, 0, 0}};
    assert_int_equal(jc_router_create(&r, bad5, 2), JC_EINVAL);
    assert_non_null(strstr(jc_errmsg(), "defined twice"));
    const struct jc_route bad6[] = {{JC_M_GET | JC_M_POST, "/a", h_dummy, 0, 0}};
    assert_int_equal(jc_router_create(&r, bad6, 1), JC_EINVAL);
    const struct jc_route bad7[] = {{JC_M_GET, "/a/{1x}", h_dummy, 0, 0}};
    assert_int_equal(jc_router_create(&r, bad7, 1), JC_EINVAL);
    assert_null(r);
    /* the production table compiles */
    assert_int_equal(jc_router_create(&r, jc_serve_routes, jc_serve_n_routes), JC_OK);
    jc_router_destroy(r);
}

/* ---- metrics ---------------------------------------------------------------- */

static void test_metrics_values_and_text(void **state)
{
    (void)state;
    struct jc_metrics *m;
    assert_int_equal(jc_metrics_create(&m), JC_OK);
    struct jc_metric *c, *g, *h1, *h2, *same;
    struct jc_metric_family *fam, *hist;
    assert_int_equal(jc_metrics_simple(m, JC_METRIC_COUNTER, "t_requests_total",
                                       "Requests.\nSecond line \\ end", &c),
                     JC_OK);
    jc_metric_inc(c);
    jc_metric_add(c, 2.5);
    jc_metric_add(c, -7); /* ignored: counters only go up */
    assert_double_near(jc_metric_value(c), 3.5, 1e-12);
    assert_int_equal(jc_metrics_simple(m, JC_METRIC_GAUGE, "t_gauge", "A gauge.", &g), JC_OK);
    jc_metric_set(g, 42);
    jc_metric_add(g, -2);
    assert_double_near(jc_metric_value(g), 40, 1e-12);
    const char *labels[] = {"route", "code"};
    assert_int_equal(jc_metrics_family(m, JC_METRIC_COUNTER, "t_by_route", "By route.", labels, 2,
                                       NULL, 0, &fam),
                     JC_OK);
    struct jc_metric *a, *b;
    assert_int_equal(jc_metrics_series(fam, (const char *const[]){"/x\"y\\z\n", "200"}, &a), JC_OK);
    assert_int_equal(jc_metrics_series(fam, (const char *const[]){"/x\"y\\z\n", "404"}, &b), JC_OK);
    assert_ptr_not_equal(a, b);
    assert_int_equal(jc_metrics_series(fam, (const char *const[]){"/x\"y\\z\n", "200"}, &same),
                     JC_OK);
    assert_ptr_equal(a, same);
    jc_metric_inc(a);
    jc_metric_inc(a);
    jc_metric_inc(b);
    const double bounds[] = {0.1, 1, 10};
    assert_int_equal(jc_metrics_family(m, JC_METRIC_HISTOGRAM, "t_latency_seconds", "Latency.",
                                       (const char *const[]){"route"}, 1, bounds, 3, &hist),
                     JC_OK);
    assert_int_equal(jc_metrics_series(hist, (const char *const[]){"/a"}, &h1), JC_OK);
    assert_int_equal(jc_metrics_series(hist, (const char *const[]){"/b"}, &h2), JC_OK);
    jc_metric_observe(h1, 0.05);
    jc_metric_observe(h1, 0.1); /* le is inclusive */
    jc_metric_observe(h1, 5);
    jc_metric_observe(h1, 100);
    jc_metric_observe(h1, NAN); /* ignored */
    assert_int_equal(jc_metric_bucket_count(h1, 0), 2);
    assert_int_equal(jc_metric_bucket_count(h1, 1), 2);
    assert_int_equal(jc_metric_bucket_count(h1, 2), 3);
    assert_int_equal(jc_metric_bucket_count(h1, 3), 4);
    assert_double_near(jc_metric_value(h1), 4, 0);

    struct jc_buf out;
    jc_buf_init(&out, 0);
    assert_int_equal(jc_metrics_render(m, &out), JC_OK);
    const char *want = "# HELP t_by_route By route.\n"
                       "# TYPE t_by_route counter\n"
                       "t_by_route{route=\"/x\\\"y\\\\z\\n\",code=\"200\"} 2\n"
                       "t_by_route{route=\"/x\\\"y\\\\z\\n\",code=\"404\"} 1\n"
                       "# HELP t_gauge A gauge.\n"
                       "# TYPE t_gauge gauge\n"
                       "t_gauge 40\n"
                       "# HELP t_latency_seconds Latency.\n"
                       "# TYPE t_latency_seconds histogram\n"
                       "t_latency_seconds_bucket{route=\"/a\",le=\"0.1\"} 2\n"
                       "t_latency_seconds_bucket{route=\"/a\",le=\"1\"} 2\n"
                       "t_latency_seconds_bucket{route=\"/a\",le=\"10\"} 3\n"
                       "t_latency_seconds_bucket{route=\"/a\",le=\"+Inf\"} 4\n"
                       "t_latency_seconds_sum{route=\"/a\"} 105.15\n"
                       "t_latency_seconds_count{route=\"/a\"} 4\n"
                       "t_latency_seconds_bucket{route=\"/b\",le=\"0.1\"} 0\n"
                       "t_latency_seconds_bucket{route=\"/b\",le=\"1\"} 0\n"
                       "t_latency_seconds_bucket{route=\"/b\",le=\"10\"} 0\n"
                       "t_latency_seconds_bucket{route=\"/b\",le=\"+Inf\"} 0\n"
                       "t_latency_seconds_sum{route=\"/b\"} 0\n"
                       "t_latency_seconds_count{route=\"/b\"} 0\n"
                       "# HELP t_requests_total Requests.\\nSecond line \\\\ end\n"
                       "# TYPE t_requests_total counter\n"
                       "t_requests_total 3.5\n";
    assert_string_equal(out.data, want);
    jc_buf_free(&out);
    jc_metrics_destroy(m);
}

static void test_metrics_errors(void **state)
{
    (void)state;
    struct jc_metrics *m;
    struct jc_metric_family *f;
    struct jc_metric *s;
    assert_int_equal(jc_metrics_create(&m), JC_OK);
    assert_int_equal(jc_metrics_simple(m, JC_METRIC_COUNTER, "9bad", "x", &s), JC_EINVAL);
    assert_non_null(strstr(jc_errmsg(), "9bad"));
    assert_int_equal(jc_metrics_simple(m, JC_METRIC_COUNTER, "has space", "x", &s), JC_EINVAL);
    assert_int_equal(jc_metrics_family(m, JC_METRIC_COUNTER, "ok", "x", (const char *const[]){"le"},
                                       1, NULL, 0, &f),
                     JC_EINVAL);
    assert_int_equal(
        jc_metrics_family(m, JC_METRIC_HISTOGRAM, "h", "x", NULL, 0, (const double[]){1, 1}, 2, &f),
        JC_EINVAL);
    assert_non_null(strstr(jc_errmsg(), "increasing"));
    assert_int_equal(jc_metrics_simple(m, JC_METRIC_COUNTER, "dup", "x", &s), JC_OK);
    struct jc_metric *s2;
    assert_int_equal(jc_metrics_simple(m, JC_METRIC_COUNTER, "dup", "x", &s2), JC_OK);
    assert_ptr_equal(s, s2);
    assert_int_equal(jc_metrics_simple(m, JC_METRIC_GAUGE, "dup", "x", &s2), JC_EEXISTS);
    /* allocation failure while creating a series leaves the registry usable */
    assert_int_equal(jc_metrics_family(m, JC_METRIC_COUNTER, "lab", "x", (const char *const[]){"a"},
                                       1, NULL, 0, &f),
                     JC_OK);
    jc_alloc_fail_after(1);
    assert_int_equal(jc_metrics_series(f, (const char *const[]){"v"}, &s), JC_ENOMEM);
    jc_alloc_fail_after(0);
    assert_int_equal(jc_metrics_series(f, (const char *const[]){"v"}, &s), JC_OK);
    /* the per-family series cap */
    char v[32];
    int rc = JC_OK;
    for (int i = 0; i < 10001 && rc == JC_OK; i++) {
        snprintf(v, sizeof v, "s%d", i);
        rc = jc_metrics_series(f, (const char *const[]){v}, &s);
    }
    assert_int_equal(rc, JC_ELIMIT);
    jc_metrics_destroy(m);
}

struct hammer {
    struct jc_metric *c, *h;
};

static void *hammer_main(void *arg)
{
    struct hammer *hm = arg;
    for (int i = 0; i < 100000; i++) {
        jc_metric_inc(hm->c);
        jc_metric_observe(hm->h, (i % 10) * 0.001);
    }
    return NULL;
}

static void test_metrics_concurrent(void **state)
{
    (void)state;
    struct jc_metrics *m;
    assert_int_equal(jc_metrics_create(&m), JC_OK);
    struct hammer hm;
    assert_int_equal(jc_metrics_simple(m, JC_METRIC_COUNTER, "c_total", "x", &hm.c), JC_OK);
    assert_int_equal(jc_metrics_simple(m, JC_METRIC_HISTOGRAM, "h_seconds", "x", &hm.h), JC_OK);
    pthread_t t[4];
    for (int i = 0; i < 4; i++)
        pthread_create(&t[i], NULL, hammer_main, &hm);
    for (int i = 0; i < 4; i++)
        pthread_join(t[i], NULL);
    assert_double_near(jc_metric_value(hm.c), 400000, 0);
    assert_int_equal(jc_metric_bucket_count(hm.h, jc_metrics_n_latency_buckets), 400000);
    jc_metrics_destroy(m);
}

/* ---- access log ------------------------------------------------------------ */

static void test_accesslog(void **state)
{
    (void)state;
    struct jc_access_entry e = {.wall_ms = 1700000000123LL,
                                .method = "GET",
                                .path = "/getmovie",
                                .query = "id=1\"\n",
                                .route = "/getmovie",
                                .status = 200,
                                .bytes = 812,
                                .latency_us = 143,
                                .remote = "127.0.0.1",
                                .error = NULL};
    char line[1024];
    size_t n = jc_accesslog_format(&e, line, sizeof line);
    const char *want = "{\"ts\":\"2023-11-14T22:13:20.123Z\",\"method\":\"GET\",\"path\":"
                       "\"/getmovie\",\"query\":\"id=1\\\"\\u000a\",\"route\":\"/getmovie\","
                       "\"status\":200,\"bytes\":812,\"latency_us\":143,\"remote\":\"127.0.0.1\"}"
                       "\n";
    assert_string_equal(line, want);
    assert_int_equal(n, strlen(want));
    /* long fields are cut and the line stays valid */
    char big[2000];
    memset(big, 'a', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    e.path = big;
    e.query = NULL;
    e.route = NULL;
    e.error = "not_found";
    n = jc_accesslog_format(&e, line, sizeof line);
    assert_non_null(strstr(line, "aaa...\",\"route\":null,\"status\":200"));
    assert_non_null(strstr(line, "\"error\":\"not_found\"}\n"));
    /* writing through the background writer */
    const char *path = jc_test_path("logs/access.log");
    struct jc_accesslog *log;
    assert_int_equal(jc_accesslog_open(&log, path), JC_OK);
    e.path = "/x";
    for (int i = 0; i < 1000; i++)
        jc_accesslog_write(log, &e);
    jc_accesslog_close(log);
    char *data;
    size_t len;
    assert_int_equal(jc_file_read_all(path, 1 << 24, &data, &len), JC_OK);
    size_t lines = 0;
    for (size_t i = 0; i < len; i++)
        lines += data[i] == '\n';
    assert_int_equal(lines, 1000);
    jc_free(data);
    assert_int_not_equal(jc_accesslog_open(&log, "/proc/nope/access.log"), JC_OK);
}

/* ---- static files ------------------------------------------------------------ */

static void test_static_resolve(void **state)
{
    (void)state;
    char root[PATH_MAX], real_root[PATH_MAX], out[PATH_MAX];
    snprintf(root, sizeof root, "%s", jc_test_path("web"));
    assert_int_equal(jc_mkdir_p(root), JC_OK);
    char p[PATH_MAX + 64];
    snprintf(p, sizeof p, "%s/index.html", root);
    jc_test_write_file(p, "<html>home</html>");
    snprintf(p, sizeof p, "%s/css", root);
    assert_int_equal(jc_mkdir_p(p), JC_OK);
    snprintf(p, sizeof p, "%s/css/a.css", root);
    jc_test_write_file(p, "body{}");
    snprintf(p, sizeof p, "%s/.secret", root);
    jc_test_write_file(p, "key");
    const char *outside = jc_test_path("outside.txt");
    jc_test_write_file(outside, "secret");
    snprintf(p, sizeof p, "%s/link.txt", root);
    unlink(p);
    assert_int_equal(symlink(outside, p), 0);
    snprintf(p, sizeof p, "%s/dirlink", root);
    unlink(p);
    assert_int_equal(symlink("/etc", p), 0);
    assert_non_null(realpath(root, real_root));

    assert_int_equal(jc_serve_resolve_static(real_root, "", out, sizeof out), 0);
    assert_non_null(strstr(out, "/web/index.html"));
    assert_int_equal(jc_serve_resolve_static(real_root, "css/a.css", out, sizeof out), 0);
    assert_int_equal(jc_serve_resolve_static(real_root, "css/", out, sizeof out), 404);
    assert_int_equal(jc_serve_resolve_static(real_root, "missing.html", out, sizeof out), 404);
    /* traversal and odd names */
    assert_int_equal(jc_serve_resolve_static(real_root, "../outside.txt", out, sizeof out), 400);
    assert_int_equal(jc_serve_resolve_static(real_root, "css/../../outside.txt", out, sizeof out),
                     400);
    assert_int_equal(jc_serve_resolve_static(real_root, "./index.html", out, sizeof out), 400);
    assert_int_equal(jc_serve_resolve_static(real_root, "css//a.css", out, sizeof out), 400);
    assert_int_equal(jc_serve_resolve_static(real_root, "css\\a.css", out, sizeof out), 400);
    assert_int_equal(jc_serve_resolve_static(real_root, "a\x01", out, sizeof out), 400);
    assert_int_equal(jc_serve_resolve_static(real_root, ".secret", out, sizeof out), 404);
    /* symlinks out of the root */
    assert_int_equal(jc_serve_resolve_static(real_root, "link.txt", out, sizeof out), 403);
    assert_int_equal(jc_serve_resolve_static(real_root, "dirlink/passwd", out, sizeof out), 403);
    assert_int_equal(jc_serve_resolve_static("", "index.html", out, sizeof out), 404);
    assert_string_equal(jc_serve_mime("a/b.css"), "text/css; charset=utf-8");
    assert_string_equal(jc_serve_mime("x.js"), "text/javascript; charset=utf-8");
    assert_string_equal(jc_serve_mime("noext"), "application/octet-stream");
    assert_string_equal(jc_serve_mime("dir.v/noext"), "application/octet-stream");
}

/* ---- snapshots and the pipeline on MovieLens -------------------------------- */

static struct jc_catalog_comp *g_comp;

static int setup_catalog(void **state)
{
    (void)state;
    const char *path = jc_test_path("catalog.jcat");
    struct jc_import_opts o;
    jc_import_opts_default(&o);
    struct jc_import_result res;
    int rc = jc_import(jc_test_src("data/ml-latest-small"), path, &o, &res);
    if (rc)
        return -1;
    jc_import_result_free(&res);
    return jc_catalog_comp_open(&g_comp, path) == JC_OK ? 0 : -1;
}

static int teardown_catalog(void **state)
{
    (void)state;
    jc_rc_release(&g_comp->rc);
    jc_pipeline_thread_cleanup();
    return 0;
}

static void test_state_swap(void **state)
{
    (void)state;
    struct jc_state_slot slot;
    jc_state_slot_init(&slot);
    assert_null(jc_state_acquire(&slot));
    struct jc_serve_state *a, *b;
    assert_int_equal(jc_serve_state_create(&a, g_comp, NULL, 1), JC_OK);
    assert_int_equal(atomic_load(&g_comp->rc.refs), 2);
    jc_state_slot_swap(&slot, a);
    struct jc_serve_state *held = jc_state_acquire(&slot);
    assert_ptr_equal(held, a);
    assert_int_equal(atomic_load(&a->rc.refs), 2);
    /* publish b while a request still holds a: a survives until released */
    assert_int_equal(jc_serve_state_create(&b, g_comp, NULL, 2), JC_OK);
    assert_int_equal(atomic_load(&g_comp->rc.refs), 3);
    jc_state_slot_swap(&slot, b);
    assert_int_equal(atomic_load(&a->rc.refs), 1);
    assert_int_equal(held->version, 1);
    assert_int_equal(jc_catalog_n_items(jc_state_cat(held)), 9742);
    struct jc_serve_state *now = jc_state_acquire(&slot);
    assert_int_equal(now->version, 2);
    jc_state_release(now);
    jc_state_release(held); /* frees a and its catalog reference */
    assert_int_equal(atomic_load(&g_comp->rc.refs), 2);
    jc_state_slot_free(&slot);
    assert_int_equal(atomic_load(&g_comp->rc.refs), 1);
}

static void test_catidx(void **state)
{
    (void)state;
    const struct jc_catidx *ix = g_comp->idx;
    const struct jc_catalog *cat = g_comp->cat;
    uint32_t it;
    assert_true(jc_catalog_find_item(cat, "11", 2, &it));
    assert_int_equal(ix->count[it], 70);
    assert_double_near(ix->mean[it], 257.0 / 70.0, 1e-12);
    const uint32_t *items;
    size_t n = jc_catidx_list(ix, -1, JC_SORT_POPULARITY, &items);
    assert_int_equal(n, 9742);
    assert_string_equal(jc_catalog_item_title(cat, items[0]), "Forrest Gump (1994)");
    assert_int_equal(ix->count[items[0]], 329);
    for (size_t k = 1; k < n; k++)
        assert_true(ix->count[items[k - 1]] >= ix->count[items[k]]);
    uint32_t drama;
    assert_true(jc_catalog_find_genre(cat, "Drama", &drama));
    n = jc_catidx_list(ix, (int32_t)drama, JC_SORT_YEAR, &items);
    assert_int_equal(n, 4361);
    for (size_t k = 1; k < n; k++)
        assert_true(jc_catalog_item_year(cat, items[k - 1]) >= jc_catalog_item_year(cat, items[k]));
    enum jc_sort s;
    assert_true(jc_sort_parse("rating", &s));
    assert_int_equal(s, JC_SORT_DAMPED);
    assert_false(jc_sort_parse("bogus", &s));
}

static void test_pipeline(void **state)
{
    (void)state;
    struct jc_serve_state *st;
    assert_int_equal(jc_serve_state_create(&st, g_comp, NULL, 1), JC_OK);
    const struct jc_catalog *cat = jc_state_cat(st);
    const struct jc_scene *sc = jc_scenes_find(st->scenes, "default");
    assert_non_null(sc);
    uint32_t u;
    assert_true(jc_catalog_find_user(cat, "1", 1, &u));
    struct jc_reco_query q = {.has_user = 1, .user = u, .n = 20, .genre = -1};
    struct jc_reco_result res;
    assert_int_equal(jc_pipeline_recommend(st, sc, &q, &res), JC_OK);
    assert_int_equal(res.n, 20);
    assert_string_equal(res.ranker, "heuristic");
    assert_false(res.fallback);
    assert_true(res.n_candidates > 100);
    /* nothing the user watched; no duplicates */
    uint64_t b, e;
    struct jc_interactions in;
    jc_catalog_interactions(cat, &in);
    jc_catalog_user_range(cat, u, &b, &e);
    for (size_t i = 0; i < res.n; i++) {
        for (uint64_t k = b; k < e; k++)
            assert_int_not_equal(res.items[i].item, in.item[k]);
        for (size_t j = 0; j < i; j++)
            assert_int_not_equal(res.items[i].item, res.items[j].item);
        assert_true(res.items[i].channels != 0);
    }
    uint32_t first = res.items[0].item;
    /* determinism: the same query gives the same list */
    struct jc_reco_result again;
    assert_int_equal(jc_pipeline_recommend(st, sc, &q, &again), JC_OK);
    for (size_t i = 0; i < res.n; i++)
        assert_int_equal(res.items[i].item, again.items[i].item);
    jc_reco_result_free(&again);
    /* exclude, unknown model (fallback), genre filter, paging */
    q.exclude = &first;
    q.n_exclude = 1;
    q.model = "deepfm";
    uint32_t comedy;
    assert_true(jc_catalog_find_genre(cat, "Comedy", &comedy));
    q.genre = (int32_t)comedy;
    assert_int_equal(jc_pipeline_recommend(st, sc, &q, &again), JC_OK);
    assert_true(again.fallback);
    assert_non_null(strstr(again.fallback_reason, "deepfm"));
    for (size_t i = 0; i < again.n; i++) {
        assert_int_not_equal(again.items[i].item, first);
        const uint16_t *g;
        uint32_t ng = jc_catalog_item_genres(cat, again.items[i].item, &g);
        int has = 0;
        for (uint32_t k = 0; k < ng; k++)
            has |= g[k] == comedy;
        assert_true(has);
    }
    jc_reco_result_free(&again);
    q.exclude = NULL;
    q.n_exclude = 0;
    q.model = "recall";
    q.genre = -1;
    q.n = 10;
    q.offset = 5;
    assert_int_equal(jc_pipeline_recommend(st, sc, &q, &again), JC_OK);
    assert_false(again.fallback);
    assert_string_equal(again.ranker, "recall");
    assert_int_equal(again.n, 10);
    jc_reco_result_free(&again);
    jc_reco_result_free(&res);

    /* similar items of Toy Story: Toy Story 2 first */
    uint32_t toy;
    assert_true(jc_catalog_find_item(cat, "1", 1, &toy));
    struct jc_sim_result sim;
    assert_int_equal(jc_pipeline_similar(st, toy, 10, "emb", &sim), JC_OK);
    assert_int_equal(sim.n, 10);
    assert_true(sim.fallback);
    assert_string_equal(jc_catalog_item_title(cat, sim.items[0].item), "Toy Story 2 (1999)");
    for (size_t i = 0; i < sim.n; i++) {
        assert_int_not_equal(sim.items[i].item, toy);
        if (i)
            assert_true(sim.items[i - 1].score >= sim.items[i].score);
    }
    jc_sim_result_free(&sim);

    /* genre preferences of user 1 */
    struct jc_genre_pref gp[32];
    size_t ng = jc_pipeline_user_genres(st, u, gp, 32);
    assert_true(ng >= 10);
    assert_string_equal(jc_catalog_genre_name(cat, gp[0].genre), "Action");
    assert_int_equal(gp[0].count, 90);
    for (size_t i = 1; i < ng; i++)
        assert_true(gp[i - 1].score >= gp[i].score);
    jc_state_release(st);
}

static void test_scenes_config(void **state)
{
    (void)state;
    struct jc_config cfg;
    assert_int_equal(jc_config_init(&cfg), JC_OK);
    struct jc_config_raw raw[] = {
        {"scene.home", "recall", "popular:50:2, cooc:100"},
        {"scene.home", "ranker", "recall"},
        {"scene.home", "diversity", "0.5"},
        {"scene.home", "genre_cap", "2"},
        {"other.section", "x", "y"},
    };
    cfg.raw = raw;
    cfg.n_raw = 5;
    struct jc_scenes *sc;
    assert_int_equal(jc_scenes_build(&sc, &cfg), JC_OK);
    assert_int_equal(sc->n, 2);
    const struct jc_scene *h = jc_scenes_find(sc, "home");
    assert_non_null(h);
    assert_int_equal(h->n_recall, 2);
    assert_string_equal(h->recall[0].ch->name, "popular");
    assert_int_equal(h->recall[0].quota, 50);
    assert_double_near(h->recall[0].weight, 2.0, 1e-9);
    assert_string_equal(h->recall[1].ch->name, "cooc");
    assert_int_equal(h->recall[1].quota, 100);
    assert_string_equal(h->ranker->name, "recall");
    assert_double_near(h->diversity, 0.5, 1e-12);
    assert_int_equal(h->genre_cap, 2);
    assert_null(jc_scenes_find(sc, "nope"));
    jc_scenes_destroy(sc);

    struct jc_config_raw bad[][1] = {
        {{"scene.x", "recall", "telepathy:10"}}, {{"scene.x", "recall", "popular:0"}},
        {{"scene.x", "ranker", "oracle"}},       {{"scene.x", "diversity", "1.5"}},
        {{"scene.x", "colour", "red"}},          {{"scene.x", "rerank", "shuffle"}},
    };
    const char *msgs[] = {"unknown recall channel 'telepathy'",
                          "quota of 'popular'",
                          "unknown ranker 'oracle'",
                          "not a number in [0, 1]",
                          "[scene.x] colour: unknown key",
                          "unknown re-ranker 'shuffle'"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        cfg.raw = bad[i];
        cfg.n_raw = 1;
        assert_int_equal(jc_scenes_build(&sc, &cfg), JC_EINVAL);
        assert_non_null(strstr(jc_errmsg(), msgs[i]));
    }
    cfg.raw = NULL;
    cfg.n_raw = 0;
    jc_config_free(&cfg);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_router_match),
        cmocka_unit_test(test_router_bad_tables),
        cmocka_unit_test(test_metrics_values_and_text),
        cmocka_unit_test(test_metrics_errors),
        cmocka_unit_test(test_metrics_concurrent),
        cmocka_unit_test(test_accesslog),
        cmocka_unit_test(test_static_resolve),
        cmocka_unit_test(test_scenes_config),
    };
    const struct CMUnitTest ml_tests[] = {
        cmocka_unit_test(test_state_swap),
        cmocka_unit_test(test_catidx),
        cmocka_unit_test(test_pipeline),
    };
    int failed = cmocka_run_group_tests_name("serve", tests, NULL, NULL);
    failed +=
        cmocka_run_group_tests_name("serve-movielens", ml_tests, setup_catalog, teardown_catalog);
    return failed;
}
