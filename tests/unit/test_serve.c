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
#include "core/hash.h"
#include "serve/accesslog.h"
#include "serve/experiment.h"
#include "serve/exposure.h"
#include "serve/overlay.h"
#include "serve/pipeline.h"
#include "serve/router.h"
#include "serve/serve_int.h"
#include "serve/state.h"
#include <junco/catalog.h>
#include <junco/error.h>
#include <junco/event.h>
#include <junco/eventlog.h>
#include <junco/import.h>
#include <junco/serve.h>

#include <arpa/inet.h>
#include <errno.h>
#include <limits.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

void jc_pipeline_thread_cleanup(void);

/* Assignments of users 1-7 and 610 under the config of
 * test_experiments_bucketing (see there). */
#define PINNED_ASSIGNMENTS                                                                 \
    "1:rank/treat 1:div/high 2:rank/treat 2:div/high 3:rank/control 3:div/high 4:other/a " \
    "4:div/high 5:other/a 5:div/low 6:rank/control 6:div/high 7:other/b 7:div/low "        \
    "610:rank/treat 610:div/high "

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
static struct jc_data_comp *g_data; /* g_comp with an empty overlay */

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
    if (jc_catalog_comp_open(&g_comp, path) != JC_OK)
        return -1;
    return jc_data_comp_create(&g_data, g_comp, NULL) == JC_OK ? 0 : -1;
}

static int teardown_catalog(void **state)
{
    (void)state;
    jc_rc_release(&g_data->rc);
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
    assert_int_equal(atomic_load(&g_comp->rc.refs), 2); /* ours + g_data's */
    assert_int_equal(jc_serve_state_create(&a, g_data, NULL, 1), JC_OK);
    assert_int_equal(atomic_load(&g_data->rc.refs), 2);
    jc_state_slot_swap(&slot, a);
    struct jc_serve_state *held = jc_state_acquire(&slot);
    assert_ptr_equal(held, a);
    assert_int_equal(atomic_load(&a->rc.refs), 2);
    /* publish b while a request still holds a: a survives until released */
    assert_int_equal(jc_serve_state_create(&b, g_data, NULL, 2), JC_OK);
    assert_int_equal(atomic_load(&g_data->rc.refs), 3);
    jc_state_slot_swap(&slot, b);
    assert_int_equal(atomic_load(&a->rc.refs), 1);
    assert_int_equal(held->version, 1);
    assert_int_equal(jc_catalog_n_items(jc_state_cat(held)), 9742);
    struct jc_serve_state *now = jc_state_acquire(&slot);
    assert_int_equal(now->version, 2);
    jc_state_release(now);
    jc_state_release(held); /* frees a and its data reference */
    assert_int_equal(atomic_load(&g_data->rc.refs), 2);
    jc_state_slot_free(&slot);
    assert_int_equal(atomic_load(&g_data->rc.refs), 1);
    assert_int_equal(atomic_load(&g_comp->rc.refs), 2);
}

static void test_catidx(void **state)
{
    (void)state;
    const struct jc_catidx *ix = g_data->idx;
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
    assert_int_equal(jc_serve_state_create(&st, g_data, NULL, 1), JC_OK);
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

/* ---- A/B experiments ------------------------------------------------------------ */

/* A config whose raw entries are the given (section, key, value) triples. */
static void cfg_raw(struct jc_config *cfg, struct jc_config_raw *raw, size_t n)
{
    cfg->raw = raw;
    cfg->n_raw = n;
}

static void test_experiments_config(void **state)
{
    (void)state;
    struct jc_config cfg;
    assert_int_equal(jc_config_init(&cfg), JC_OK);
    struct jc_config_raw ok[] = {
        {"scene.home", "ranker", "recall"},
        {"experiment.rank", "layer", "ranking"},
        {"experiment.rank", "salt", "s1"},
        {"experiment.rank", "traffic", "0.8"},
        {"experiment.rank", "variants", "control:0.25, treat:0.75"},
        {"experiment.other", "layer", "ranking"},
        {"experiment.other", "variants", "a, b"},
        {"experiment.other", "traffic", "0.2"},
        {"experiment.other", "scenes", "home"},
        {"experiment.div", "variants", "low:0.5,high:0.5"},
        {"variant.rank.treat", "ranker", "recall"},
        {"variant.rank.treat", "recall", "popular:50"},
        {"variant.div.high", "diversity", "0.6"},
        {"variant.div.high", "genre_cap", "2"},
    };
    cfg_raw(&cfg, ok, sizeof ok / sizeof ok[0]);
    struct jc_scenes *sc;
    struct jc_experiments *e;
    assert_int_equal(jc_scenes_build(&sc, &cfg), JC_OK);
    assert_int_equal(jc_experiments_build(&e, &cfg, sc), JC_OK);
    assert_int_equal(e->n_layers, 2);
    assert_string_equal(e->layers[0].name, "ranking");
    assert_string_equal(e->layers[0].salt, "s1");
    assert_string_equal(e->layers[1].name, "div"); /* default: own layer */
    assert_string_equal(e->layers[1].salt, "div");
    assert_int_equal(e->n_exp, 3);
    const struct jc_experiment *rank = jc_experiments_find(e, "rank");
    const struct jc_experiment *other = jc_experiments_find(e, "other");
    assert_non_null(rank);
    assert_non_null(other);
    assert_null(jc_experiments_find(e, "nope"));
    assert_double_near(rank->lo, 0.0, 1e-12);
    assert_double_near(rank->hi, 0.8, 1e-12);
    assert_double_near(rank->v[0].hi, 0.2, 1e-12);
    assert_double_near(rank->v[1].lo, 0.2, 1e-12);
    assert_double_near(other->lo, 0.8, 1e-12);
    assert_double_near(other->hi, 1.0, 1e-12);
    assert_double_near(other->v[0].share, 0.5, 1e-12);
    assert_int_equal(other->n_scenes, 1);
    assert_int_equal(rank->v[0].patch.set, 0);
    assert_int_equal(rank->v[1].patch.set, JC_SCENE_SET_RANKER | JC_SCENE_SET_RECALL);
    /* a variant overlays only its keys */
    struct jc_scene s = sc->v[0];
    jc_scene_patch_apply(&s, &rank->v[1].patch);
    assert_string_equal(s.ranker->name, "recall");
    assert_int_equal(s.n_recall, 1);
    assert_int_equal(s.recall[0].quota, 50);
    assert_double_near(s.diversity, sc->v[0].diversity, 0);
    assert_int_equal(s.n_rerank, sc->v[0].n_rerank);
    jc_experiments_destroy(e);

    struct {
        struct jc_config_raw raw[4];
        size_t n;
        const char *msg;
    } bad[] = {
        {{{"experiment.x", "variants", "a:0.5, b:0.4"}}, 1, "shares sum to 0.9, not 1"},
        {{{"experiment.x", "variants", "a, b"}, {"experiment.x", "colour", "red"}},
         2,
         "[experiment.x] colour: unknown key"},
        {{{"experiment.x", "variants", "a, a"}}, 1, "variant 'a' listed twice"},
        {{{"experiment.x", "variants", "a:0.5, b"}}, 1, "give a share to every variant"},
        {{{"experiment.x", "variants", "a, b"}, {"variant.x.c", "ranker", "recall"}},
         2,
         "[variant.x.c]: experiment 'x' has no variant 'c' (its variants: a, b)"},
        {{{"experiment.x", "variants", "a, b"}, {"variant.y.a", "ranker", "recall"}},
         2,
         "unknown experiment 'y'"},
        {{{"experiment.x", "variants", "a, b"}, {"variant.x.a", "ranker", "oracle"}},
         2,
         "[variant.x.a] ranker: unknown ranker 'oracle'"},
        {{{"experiment.x", "variants", "a, b"},
          {"variant.x.a", "ranker", "recall"},
          {"variant.x.a", "ranker", "heuristic"}},
         3,
         "[variant.x.a] ranker: given twice"},
        {{{"experiment.x", "variants", "a, b"},
          {"experiment.y", "variants", "c, d"},
          {"variant.x.a", "ranker", "recall"},
          {"variant.y.d", "ranker", "recall"}},
         4,
         "override 'ranker', which experiment 'x' of layer 'x' overrides too"},
        {{{"experiment.x", "layer", "L"}, {"experiment.x", "traffic", "0.6"}},
         2,
         "[experiment.x] variants: missing"},
        {{{"experiment.x", "variants", "a"},
          {"experiment.x", "traffic", "0.6"},
          {"experiment.y", "variants", "b"},
          {"experiment.y", "traffic", "0.6"}},
         4,
         NULL}, /* different layers: fine */
        {{{"experiment.x", "variants", "a"},
          {"experiment.x", "layer", "L"},
          {"experiment.y", "variants", "b"},
          {"experiment.y", "layer", "L"}},
         4,
         "the experiments of layer 'L' take 2 of its users, more than 1: x (1), y (1)"},
        {{{"experiment.x", "variants", "a"},
          {"experiment.x", "salt", "one"},
          {"experiment.y", "variants", "b"},
          {"experiment.y", "salt", "two"}},
         4,
         NULL},
        {{{"experiment.x", "variants", "a"},
          {"experiment.x", "layer", "L"},
          {"experiment.x", "salt", "one"},
          {"experiment.x", "traffic", "0.5"}},
         4,
         NULL},
        {{{"experiment.a b", "variants", "a"}}, 1, "experiment name must be 1-64 bytes"},
        {{{"experiment.x", "variants", "a"}, {"experiment.x", "scenes", "nope"}},
         2,
         "[experiment.x] scenes: unknown scene 'nope'"},
        {{{"experiment.x", "variants", "a"}, {"experiment.x", "traffic", "0"}},
         2,
         "[experiment.x] traffic: '0' is not a number in (0, 1]"},
        {{{"experiment.x", "variants", "a"},
          {"experiment.x", "layer", "L"},
          {"experiment.x", "layer", "M"}},
         3,
         "[experiment.x] layer: given twice"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        cfg_raw(&cfg, bad[i].raw, bad[i].n);
        struct jc_scenes *sc2;
        assert_int_equal(jc_scenes_build(&sc2, &cfg), JC_OK);
        int rc = jc_experiments_build(&e, &cfg, sc2);
        if (bad[i].msg == NULL) {
            assert_int_equal(rc, JC_OK);
            jc_experiments_destroy(e);
        } else {
            if (rc != JC_EINVAL || strstr(jc_errmsg(), bad[i].msg) == NULL)
                fail_msg("case %zu: rc %d, message '%s', want '%s'", i, rc, jc_errmsg(),
                         bad[i].msg);
        }
        jc_scenes_destroy(sc2);
    }
    /* two salts for one layer */
    struct jc_config_raw salts[] = {
        {"experiment.x", "variants", "a"}, {"experiment.x", "layer", "L"},
        {"experiment.x", "salt", "one"},   {"experiment.x", "traffic", "0.5"},
        {"experiment.y", "variants", "b"}, {"experiment.y", "layer", "L"},
        {"experiment.y", "salt", "two"},   {"experiment.y", "traffic", "0.5"},
    };
    cfg_raw(&cfg, salts, 8);
    assert_int_equal(jc_experiments_build(&e, &cfg, sc), JC_EINVAL);
    assert_non_null(strstr(jc_errmsg(), "one salt per layer"));
    jc_scenes_destroy(sc);
    cfg_raw(&cfg, NULL, 0);
    jc_config_free(&cfg);
}

/* Index of an assignment's variant in a flat list of "exp/variant". */
static int cell_of(const struct jc_assignment *a, const char *const *cells, int n)
{
    char name[160];
    snprintf(name, sizeof name, "%s/%s", a->exp->name, a->variant->name);
    for (int i = 0; i < n; i++)
        if (strcmp(cells[i], name) == 0)
            return i;
    return -1;
}

static void test_experiments_bucketing(void **state)
{
    (void)state;
    struct jc_config cfg;
    assert_int_equal(jc_config_init(&cfg), JC_OK);
    struct jc_config_raw raw[] = {
        {"scene.home", "ranker", "recall"},
        {"experiment.rank", "layer", "ranking"},
        {"experiment.rank", "salt", "s1"},
        {"experiment.rank", "traffic", "0.8"},
        {"experiment.rank", "variants", "control:0.25, treat:0.75"},
        {"experiment.other", "layer", "ranking"},
        {"experiment.other", "traffic", "0.15"},
        {"experiment.other", "variants", "a, b"},
        {"experiment.div", "variants", "low:0.5, high:0.5"},
        {"experiment.div", "scenes", "default"},
    };
    cfg_raw(&cfg, raw, sizeof raw / sizeof raw[0]);
    struct jc_scenes *sc;
    struct jc_experiments *e, *e2;
    assert_int_equal(jc_scenes_build(&sc, &cfg), JC_OK);
    assert_int_equal(jc_experiments_build(&e, &cfg, sc), JC_OK);
    assert_int_equal(jc_experiments_build(&e2, &cfg, sc), JC_OK);
    /* the same layer with another salt */
    raw[2].value = "s2";
    struct jc_experiments *e3;
    assert_int_equal(jc_experiments_build(&e3, &cfg, sc), JC_OK);

    static const char *const rank_cells[] = {"rank/control", "rank/treat", "other/a", "other/b"};
    const double rank_want[5] = {0.2, 0.6, 0.075, 0.075, 0.05}; /* last: no experiment */
    enum { N = 100000 };
    uint32_t rank_n[5] = {0}, div_n[2] = {0}, joint[5][2] = {{0}};
    uint32_t same_salt_agree = 0;
    for (int i = 0; i < N; i++) {
        char id[32];
        int n = snprintf(id, sizeof id, "user-%d", i);
        struct jc_assignment a[JC_EXP_MAX_LAYERS], b[JC_EXP_MAX_LAYERS], c[JC_EXP_MAX_LAYERS];
        size_t na = jc_experiments_assign(e, id, (size_t)n, "default", a, JC_EXP_MAX_LAYERS);
        size_t nb = jc_experiments_assign(e2, id, (size_t)n, "default", b, JC_EXP_MAX_LAYERS);
        /* deterministic: an independently built config assigns the same */
        assert_int_equal(na, nb);
        for (size_t k = 0; k < na; k++) {
            assert_string_equal(a[k].exp->name, b[k].exp->name);
            assert_string_equal(a[k].variant->name, b[k].variant->name);
        }
        /* at most one experiment per layer, in layer order */
        int rc_cell = 4, dc = -1;
        for (size_t k = 0; k < na; k++) {
            if (a[k].layer == &e->layers[0]) {
                assert_int_equal(k, 0);
                rc_cell = cell_of(&a[k], rank_cells, 4);
                assert_true(rc_cell >= 0);
            } else {
                assert_ptr_equal(a[k].layer, &e->layers[1]);
                dc = strcmp(a[k].variant->name, "low") == 0 ? 0 : 1;
            }
        }
        assert_true(dc >= 0); /* div takes all of its layer */
        rank_n[rc_cell]++;
        div_n[dc]++;
        joint[rc_cell][dc]++;
        size_t nc = jc_experiments_assign(e3, id, (size_t)n, "default", c, JC_EXP_MAX_LAYERS);
        int c_cell = 4;
        for (size_t k = 0; k < nc; k++)
            if (c[k].layer == &e3->layers[0])
                c_cell = cell_of(&c[k], rank_cells, 4);
        same_salt_agree += c_cell == rc_cell;
        /* scenes: div applies to "default" only */
        struct jc_assignment h[JC_EXP_MAX_LAYERS];
        size_t nh = jc_experiments_assign(e, id, (size_t)n, "home", h, JC_EXP_MAX_LAYERS);
        for (size_t k = 0; k < nh; k++)
            assert_string_not_equal(h[k].exp->name, "div");
    }
    /* shares match the config within 1% */
    for (int i = 0; i < 5; i++)
        if (fabs((double)rank_n[i] / N - rank_want[i]) > 0.01)
            fail_msg("ranking cell %d: %.4f, want %.4f", i, (double)rank_n[i] / N, rank_want[i]);
    for (int i = 0; i < 2; i++)
        assert_double_near((double)div_n[i] / N, 0.5, 0.01);
    /* layers are independent: joint = product of marginals (within 0.5%),
     * and a chi-square test of independence with (5-1)(2-1) = 4 degrees of
     * freedom stays below its 0.1% critical value 18.47 */
    double chi2 = 0;
    for (int i = 0; i < 5; i++)
        for (int k = 0; k < 2; k++) {
            double expct = (double)rank_n[i] * div_n[k] / N;
            double d = joint[i][k] - expct;
            chi2 += d * d / expct;
            assert_double_near((double)joint[i][k] / N, expct / N, 0.005);
        }
    if (chi2 > 18.47)
        fail_msg("layers are not independent: chi2 = %.2f", chi2);
    print_message("ranking layer: %u %u %u %u %u; div: %u %u; chi2 %.2f; other salt agrees %u\n",
                  rank_n[0], rank_n[1], rank_n[2], rank_n[3], rank_n[4], div_n[0], div_n[1], chi2,
                  same_salt_agree);
    /* another salt reshuffles the layer: agreement ~ sum of squared shares */
    double agree_want = 0;
    for (int i = 0; i < 5; i++)
        agree_want += rank_want[i] * rank_want[i];
    assert_double_near((double)same_salt_agree / N, agree_want, 0.01);
    /* pinned assignments: changing the hash or the layout would silently
     * move every user of every running experiment */
    assert_double_near(jc_experiments_bucket(e->layers[0].seed, "1", 1),
                       jc_experiments_bucket(jc_hash64("s1", 2, 0), "1", 1), 0);
    struct jc_assignment a[JC_EXP_MAX_LAYERS];
    const char *ids[] = {"1", "2", "3", "4", "5", "6", "7", "610"};
    char got[512] = "";
    for (size_t i = 0; i < 8; i++) {
        size_t na = jc_experiments_assign(e, ids[i], strlen(ids[i]), "default", a, 4);
        for (size_t k = 0; k < na; k++) {
            size_t l = strlen(got);
            snprintf(got + l, sizeof got - l, "%s:%s/%s ", ids[i], a[k].exp->name,
                     a[k].variant->name);
        }
    }
    assert_string_equal(got, PINNED_ASSIGNMENTS);
    jc_experiments_destroy(e);
    jc_experiments_destroy(e2);
    jc_experiments_destroy(e3);
    jc_scenes_destroy(sc);
    cfg_raw(&cfg, NULL, 0);
    jc_config_free(&cfg);
}

/* ---- exposure logging ------------------------------------------------------------- */

struct logged {
    size_t n;
    struct jc_event ev[64];
    char store[64][2048];
};

/* Reads every event of the log (decoded copies in out). */
static void read_all(struct jc_eventlog *log, struct logged *out)
{
    out->n = 0;
    struct jc_eventlog_batch b;
    jc_eventlog_batch_init(&b);
    for (uint32_t p = 0; p < jc_eventlog_n_partitions(log); p++) {
        assert_int_equal(jc_eventlog_read(log, p, 0, 1000, 1 << 20, 0, &b), JC_OK);
        for (size_t i = 0; i < b.n && out->n < 64; i++) {
            assert_true(b.recs[i].len <= sizeof out->store[0]);
            memcpy(out->store[out->n], b.recs[i].data, b.recs[i].len);
            assert_int_equal(jc_event_decode(out->store[out->n], b.recs[i].len, &out->ev[out->n]),
                             JC_OK);
            out->n++;
        }
    }
    jc_eventlog_batch_free(&b);
}

static const struct jc_event *find_ev(const struct logged *l, const char *user, const char *item)
{
    for (size_t i = 0; i < l->n; i++)
        if (l->ev[i].user_len == strlen(user) &&
            memcmp(l->ev[i].user, user, l->ev[i].user_len) == 0 &&
            l->ev[i].item_len == strlen(item) &&
            memcmp(l->ev[i].item, item, l->ev[i].item_len) == 0)
            return &l->ev[i];
    return NULL;
}

static int view_eq(const char *p, size_t n, const char *want)
{
    return n == strlen(want) && memcmp(p, want, n) == 0;
}

void jc_eventlog__fail_write_after(long n, int err);

static void test_exposure_log(void **state)
{
    (void)state;
    struct jc_eventlog_config lc;
    jc_eventlog_config_default(&lc);
    lc.dir = jc_test_path("exposure-events");
    struct jc_eventlog *log;
    assert_int_equal(jc_eventlog_open(&log, &lc), JC_OK);
    struct jc_exposure_config xc;
    jc_exposure_config_default(&xc);
    xc.log = log;
    xc.capacity = 12;
    xc.batch = 4; /* lists span batches */
    struct jc_exposure *x;
    assert_int_equal(jc_exposure_open(&x, &xc), JC_OK);
    const char *items1[] = {"10", "20", "30"};
    struct jc_exposure_list l = {.user = "7",
                                 .request_id = "req-1",
                                 .experiment = "rank",
                                 .variant = "treat",
                                 .context_tail =
                                     "\"scene\":\"default\",\"ab\":{\"rank\":\"treat\"}",
                                 .time_ms = 1700000000123LL,
                                 .offset = 5,
                                 .n = 3,
                                 .items = items1};
    assert_int_equal(jc_exposure_submit(x, &l), JC_OK);
    const char *items2[] = {"11", "21", "31", "41", "51", "61"};
    struct jc_exposure_list l2 = {.user = "8", .time_ms = 1700000000999LL, .n = 6, .items = items2};
    assert_int_equal(jc_exposure_submit(x, &l2), JC_OK);
    jc_exposure_flush(x);
    struct jc_exposure_stats st;
    jc_exposure_get_stats(x, &st);
    assert_int_equal(st.lists, 2);
    assert_int_equal(st.appended, 9);
    assert_int_equal(st.depth, 0);
    assert_int_equal(st.dropped_full + st.dropped_error + st.dropped_invalid, 0);
    assert_true(st.batches >= 3); /* 9 events in batches of at most 4 */

    /* a list that does not fit in the queue is dropped whole, never waits */
    const char *many[13];
    for (int i = 0; i < 13; i++)
        many[i] = "99";
    struct jc_exposure_list big = {.user = "9", .time_ms = 1, .n = 13, .items = many};
    assert_int_equal(jc_exposure_submit(x, &big), JC_ELIMIT);
    /* an append failure drops its events, counted; the logger goes on */
    jc_eventlog__fail_write_after(1, EIO);
    const char *one[] = {"5"};
    struct jc_exposure_list l3 = {.user = "7", .time_ms = 2, .n = 1, .items = one};
    assert_int_equal(jc_exposure_submit(x, &l3), JC_OK);
    jc_exposure_flush(x);
    jc_eventlog__fail_write_after(0, 0);
    jc_exposure_get_stats(x, &st);
    assert_int_equal(st.dropped_full, 13);
    assert_int_equal(st.dropped_error, 1);
    assert_int_equal(st.appended, 9);
    jc_exposure_close(x);
    jc_eventlog_close(log);

    /* read back: one impression per item with ids, positions and the variant */
    lc.read_only = 1;
    assert_int_equal(jc_eventlog_open(&log, &lc), JC_OK);
    struct logged *got = jc_malloc(sizeof *got);
    assert_non_null(got);
    read_all(log, got);
    assert_int_equal(got->n, 9);
    const struct jc_event *ev = find_ev(got, "7", "20");
    assert_non_null(ev);
    assert_int_equal(ev->type, JC_EV_IMPRESSION);
    assert_int_equal(ev->time_ms, 1700000000123LL);
    assert_true(view_eq(ev->request_id, ev->request_id_len, "req-1"));
    assert_true(view_eq(ev->experiment, ev->experiment_len, "rank"));
    assert_true(view_eq(ev->variant, ev->variant_len, "treat"));
    assert_true(view_eq(ev->context, ev->context_len,
                        "{\"pos\":7,\"n\":3,\"scene\":\"default\",\"ab\":{\"rank\":\"treat\"}}"));
    ev = find_ev(got, "8", "61");
    assert_non_null(ev);
    assert_int_equal(ev->experiment_len, 0);
    assert_int_equal(ev->request_id_len, 0);
    assert_true(view_eq(ev->context, ev->context_len, "{\"pos\":6,\"n\":6}"));
    assert_null(find_ev(got, "9", "99"));
    jc_free(got);
    jc_eventlog_close(log);

    /* without a log every list is counted as dropped */
    xc.log = NULL;
    assert_int_equal(jc_exposure_open(&x, &xc), JC_OK);
    assert_int_equal(jc_exposure_submit(x, &l), JC_ESTATE);
    jc_exposure_flush(x);
    jc_exposure_get_stats(x, &st);
    assert_int_equal(st.dropped_no_log, 3);
    jc_exposure_close(x);
    xc.capacity = 0;
    assert_int_equal(jc_exposure_open(&x, &xc), JC_EINVAL);
}

/* ---- the upsert overlay -------------------------------------------------------------- */

static void parse_ok(enum jc_ov_kind kind, const char *body, struct jc_ov_patches *p)
{
    int rc = jc_ov_parse(kind, body, strlen(body), 100, p);
    if (rc)
        fail_msg("parse of %s: %s", body, jc_errmsg());
}

static void test_overlay_records(void **state)
{
    (void)state;
    struct jc_ov_patches p;
    /* bad bodies, with the message naming the record and field */
    struct {
        enum jc_ov_kind kind;
        const char *body;
        int rc;
        const char *msg;
    } bad[] = {
        {JC_OV_ITEM, "{\"id\": 1, \"title\": ", JC_EPARSE, "malformed JSON near byte"},
        {JC_OV_ITEM, "[]", JC_EINVAL, "empty array"},
        {JC_OV_ITEM, "42", JC_EINVAL, "expected a JSON object"},
        {JC_OV_ITEM, "{\"title\": \"x\"}", JC_EINVAL, "records[0]: id: missing"},
        {JC_OV_ITEM, "{\"id\": \"\"}", JC_EINVAL, "records[0]: id: empty"},
        {JC_OV_ITEM, "[{\"id\": \"a\"}, {\"id\": \"b\", \"title\": 7}]", JC_EINVAL,
         "records[1] (id 'b'): title: not a string"},
        {JC_OV_ITEM, "{\"id\": \"a\", \"year\": 1.5}", JC_EINVAL,
         "year: must be an integer in [1, 9999] or null"},
        {JC_OV_ITEM, "{\"id\": \"a\", \"genres\": [\"X\", \"X\"]}", JC_EINVAL,
         "genres: 'X' given twice"},
        {JC_OV_ITEM, "{\"id\": \"a\", \"genres\": \"X\"}", JC_EINVAL, "genres: not an array"},
        {JC_OV_ITEM, "{\"id\": \"a\", \"colour\": \"red\"}", JC_EINVAL,
         "colour: unknown field (known: id, title, year, genres, attributes)"},
        {JC_OV_USER, "{\"id\": \"u\", \"title\": \"x\"}", JC_EINVAL,
         "title: unknown field (known: id, attributes)"},
        {JC_OV_USER, "{\"id\": \"u\", \"attributes\": {\"a b\": 1}}", JC_EINVAL,
         "name 'a b' must be"},
        {JC_OV_USER, "{\"id\": \"u\", \"attributes\": {\"a\": [1]}}", JC_EINVAL,
         "value of 'a' must be a string, a number or null"},
        {JC_OV_ITEM, "{\"id\": \"a\\u0001\"}", JC_EINVAL, "id: contains a control character"},
        {JC_OV_ITEM, "[{\"id\":\"a\"},{\"id\":\"b\"},{\"id\":\"c\"}]", JC_ELIMIT,
         "3 records in one request; at most 2"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        size_t max = bad[i].rc == JC_ELIMIT ? 2 : 100;
        int rc = jc_ov_parse(bad[i].kind, bad[i].body, strlen(bad[i].body), max, &p);
        if (rc != bad[i].rc || strstr(jc_errmsg(), bad[i].msg) == NULL)
            fail_msg("case %zu: rc %d '%s', want %d '%s'", i, rc, jc_errmsg(), bad[i].rc,
                     bad[i].msg);
        assert_int_equal(p.n, 0);
    }

    /* merge rules */
    struct jc_overlay *o0, *o1, *o2;
    assert_int_equal(jc_overlay_create(&o0), JC_OK);
    parse_ok(JC_OV_ITEM,
             "[{\"id\": 900001, \"title\": \"New One\", \"year\": 2024, \"genres\": [\"Drama\", "
             "\"Space Opera\"], \"attributes\": {\"imdbId\": \"123\", \"tmdbId\": 456}},"
             " {\"id\": \"no-title\", \"year\": 2000}]",
             &p);
    uint8_t created[2];
    assert_int_equal(jc_overlay_apply(o0, &p, NULL, 100, 1000, &o1, created), JC_EINVAL);
    assert_non_null(strstr(jc_errmsg(), "records[1] (id 'no-title'): title: required"));
    jc_ov_patches_free(&p);
    parse_ok(JC_OV_ITEM,
             "{\"id\": 900001, \"title\": \"New One\", \"year\": 2024, \"genres\": [\"Drama\", "
             "\"Space Opera\"], \"attributes\": {\"imdbId\": \"123\", \"tmdbId\": 456}}",
             &p);
    assert_int_equal(jc_overlay_apply(o0, &p, NULL, 100, 1000, &o1, created), JC_OK);
    assert_int_equal(created[0], 1);
    jc_ov_patches_free(&p);
    /* a partial update: title and one attribute change, the rest stays */
    parse_ok(JC_OV_ITEM,
             "[{\"id\": \"900001\", \"title\": \"New One (Director's Cut)\", \"attributes\": "
             "{\"tmdbId\": null, \"studio\": \"X\"}}]",
             &p);
    assert_int_equal(jc_overlay_apply(o1, &p, NULL, 100, 2000, &o2, created), JC_OK);
    assert_int_equal(created[0], 0);
    jc_ov_patches_free(&p);
    assert_int_equal(o2->version, 2);
    assert_int_equal(o2->n_items, 1);
    const struct jc_ov_rec *r = jc_overlay_find(o2, JC_OV_ITEM, "900001", 6);
    assert_non_null(r);
    assert_string_equal(r->title, "New One (Director's Cut)");
    assert_int_equal(r->year, 2024);
    assert_int_equal(r->n_genres, 2);
    assert_string_equal(r->genres[1], "Space Opera");
    assert_int_equal(r->n_attrs, 3); /* sorted by name */
    assert_string_equal(r->attrs[0].name, "imdbId");
    assert_string_equal(r->attrs[0].value, "123");
    assert_string_equal(r->attrs[1].name, "studio");
    assert_string_equal(r->attrs[2].name, "tmdbId");
    assert_string_equal(r->attrs[2].value, ""); /* cleared */
    assert_int_equal(r->updated_ms, 2000);
    /* the old version is untouched */
    r = jc_overlay_find(o1, JC_OV_ITEM, "900001", 6);
    assert_string_equal(r->title, "New One");
    assert_string_equal(r->attrs[1].value, "456");
    /* the limit counts items and users */
    parse_ok(JC_OV_USER, "[{\"id\": \"u1\"}, {\"id\": \"u2\", \"attributes\": {\"age\": 30}}]", &p);
    struct jc_overlay *o3;
    assert_int_equal(jc_overlay_apply(o2, &p, NULL, 2, 3000, &o3, NULL), JC_ELIMIT);
    assert_non_null(strstr(jc_errmsg(), "serve.overlay_max"));
    assert_int_equal(jc_overlay_apply(o2, &p, NULL, 3, 3000, &o3, NULL), JC_OK);
    jc_ov_patches_free(&p);
    assert_int_equal(o3->n_users, 2);
    jc_rc_release(&o1->rc);
    jc_rc_release(&o2->rc);

    /* the file: round trip byte for byte, corruption rejected */
    const char *path = jc_test_path("overlay/catalog.jov");
    assert_int_equal(jc_overlay_save(o3, path), JC_OK);
    struct jc_overlay *back;
    assert_int_equal(jc_overlay_load(&back, path), JC_OK);
    assert_int_equal(back->n_items, 1);
    assert_int_equal(back->n_users, 2);
    r = jc_overlay_find(back, JC_OV_USER, "u2", 2);
    assert_non_null(r);
    assert_string_equal(r->attrs[0].value, "30");
    assert_int_equal(r->updated_ms, 3000);
    const char *path2 = jc_test_path("overlay/again.jov");
    assert_int_equal(jc_overlay_save(back, path2), JC_OK);
    char *a, *b;
    size_t na, nb;
    assert_int_equal(jc_file_read_all(path, 1 << 20, &a, &na), JC_OK);
    assert_int_equal(jc_file_read_all(path2, 1 << 20, &b, &nb), JC_OK);
    assert_int_equal(na, nb);
    assert_memory_equal(a, b, na);
    const char *want_line =
        "{\"kind\":\"item\",\"id\":\"900001\",\"title\":\"New One (Director's Cut)\",\"year\":"
        "2024,\"genres\":[\"Drama\",\"Space Opera\"],\"attributes\":{\"imdbId\":\"123\","
        "\"studio\":\"X\",\"tmdbId\":null},\"updated_ms\":2000}\n";
    assert_memory_equal(a + 32, want_line, strlen(want_line));
    jc_rc_release(&back->rc);
    const char *bad_path = jc_test_path("overlay/bad.jov");
    a[40] ^= 1; /* a payload byte */
    jc_test_write_bytes(bad_path, a, na);
    assert_int_equal(jc_overlay_load(&back, bad_path), JC_ECORRUPT);
    assert_non_null(strstr(jc_errmsg(), "checksum mismatch"));
    a[40] ^= 1;
    jc_test_write_bytes(bad_path, a, na - 5);
    assert_int_equal(jc_overlay_load(&back, bad_path), JC_ECORRUPT);
    assert_non_null(strstr(jc_errmsg(), "truncated"));
    a[8] = 9; /* format version */
    jc_test_write_bytes(bad_path, a, na);
    assert_int_equal(jc_overlay_load(&back, bad_path), JC_EVERSION);
    jc_test_write_bytes(bad_path, "JUNK", 4);
    assert_int_equal(jc_overlay_load(&back, bad_path), JC_ECORRUPT);
    assert_non_null(strstr(jc_errmsg(), "bad magic"));
    jc_free(a);
    jc_free(b);
    /* a missing file is an empty overlay */
    assert_int_equal(jc_overlay_load(&back, jc_test_path("overlay/none.jov")), JC_OK);
    assert_int_equal(back->n_items + back->n_users, 0);
    jc_rc_release(&back->rc);
    /* a failed write leaves the previous file */
    jc_fileio_fail_write_after(1);
    assert_int_not_equal(jc_overlay_save(o0, path), JC_OK);
    jc_fileio_fail_write_after(0);
    assert_int_equal(jc_overlay_load(&back, path), JC_OK);
    assert_int_equal(back->n_users, 2);
    jc_rc_release(&back->rc);
    jc_rc_release(&o3->rc);
    jc_rc_release(&o0->rc);
}

/* The served view over MovieLens with new and updated items and users. */
static void test_overlay_view(void **state)
{
    (void)state;
    const struct jc_catalog *cat = g_comp->cat;
    struct jc_overlay *o0, *ov;
    struct jc_ov_patches p;
    assert_int_equal(jc_overlay_create(&o0), JC_OK);
    parse_ok(JC_OV_ITEM,
             "[{\"id\": \"900001\", \"title\": \"Brand New (2030)\", \"year\": 2030, "
             "\"genres\": [\"Drama\", \"Space Opera\"]},"
             " {\"id\": \"1\", \"title\": \"Toy Story (Remastered)\", \"attributes\": "
             "{\"imdbId\": null}}]",
             &p);
    uint8_t created[2];
    assert_int_equal(jc_overlay_apply(o0, &p, cat, 100, 5, &ov, created), JC_OK);
    assert_int_equal(created[0], 1);
    assert_int_equal(created[1], 0); /* in the catalog: an update */
    jc_ov_patches_free(&p);
    parse_ok(JC_OV_USER, "[{\"id\": \"new-user\", \"attributes\": {\"age\": 31}}]", &p);
    struct jc_overlay *ov2;
    assert_int_equal(jc_overlay_apply(ov, &p, cat, 100, 6, &ov2, NULL), JC_OK);
    jc_ov_patches_free(&p);
    struct jc_data_comp *dc;
    assert_int_equal(jc_data_comp_create(&dc, g_comp, ov2), JC_OK);
    jc_rc_release(&ov2->rc);
    jc_rc_release(&ov->rc);
    jc_rc_release(&o0->rc);
    const struct jc_view *v = &dc->view;
    assert_int_equal(v->n_items, 9743);
    assert_int_equal(v->n_users, 611);
    assert_int_equal(v->n_genres, jc_catalog_n_genres(cat) + 1);
    uint32_t it, toy, u, g;
    assert_true(jc_view_find_item(v, "900001", 6, &it));
    assert_int_equal(it, 9742);
    assert_string_equal(jc_view_item_ext_id(v, it), "900001");
    assert_string_equal(jc_view_item_title(v, it), "Brand New (2030)");
    assert_int_equal(jc_view_item_year(v, it), 2030);
    const uint16_t *gs;
    assert_int_equal(jc_view_item_genres(v, it, &gs), 2);
    assert_string_equal(jc_view_genre_name(v, gs[0]), "Drama");
    assert_string_equal(jc_view_genre_name(v, gs[1]), "Space Opera");
    assert_true(jc_view_find_genre(v, "Space Opera", &g));
    assert_int_equal(g, jc_catalog_n_genres(cat));
    assert_true(jc_view_find_item(v, "1", 1, &toy));
    assert_string_equal(jc_view_item_title(v, toy), "Toy Story (Remastered)");
    assert_int_equal(jc_view_item_year(v, toy), 1995);            /* kept */
    assert_int_equal(jc_view_item_genres(v, toy, &gs), 5);        /* kept */
    assert_string_equal(jc_view_item_attr(v, toy, "imdbId"), ""); /* cleared */
    assert_string_equal(jc_view_item_attr(v, toy, "tmdbId"), "862");
    assert_true(jc_view_item_overlaid(v, toy));
    assert_true(jc_view_find_user(v, "new-user", 8, &u));
    assert_int_equal(u, 610);
    uint64_t b, e;
    jc_view_user_range(v, u, &b, &e);
    assert_int_equal(e - b, 0);
    /* the index: the new item is in its genres' lists and first by year */
    const struct jc_catidx *ix = dc->idx;
    assert_int_equal(ix->count[it], 0);
    assert_double_near(ix->damped[it], ix->global_mean, 1e-12);
    const uint32_t *items;
    assert_int_equal(jc_catidx_list(ix, (int32_t)g, JC_SORT_YEAR, &items), 1);
    assert_int_equal(items[0], it);
    jc_catidx_list(ix, -1, JC_SORT_YEAR, &items);
    assert_int_equal(items[0], it);
    /* the pipeline: a cold-start list for the new user, and the new item
     * recalled by "newest" and similar to Drama items */
    struct jc_serve_state *st;
    assert_int_equal(jc_serve_state_create(&st, dc, NULL, 1), JC_OK);
    const struct jc_scene *sc = jc_scenes_find(st->scenes, "default");
    struct jc_reco_query q = {.has_user = 1, .user = u, .n = 10, .genre = -1};
    struct jc_reco_result res;
    assert_int_equal(jc_pipeline_recommend(st, sc, &q, &res), JC_OK);
    assert_int_equal(res.n, 10);
    assert_int_equal(res.channel_counts[0], 0); /* no genre preferences */
    jc_reco_result_free(&res);
    struct jc_scene newest = *sc;
    struct jc_scene_patch patch = {0};
    assert_int_equal(jc_scene_patch_set(&patch, "test", "recall", "newest:5"), JC_OK);
    jc_scene_patch_apply(&newest, &patch);
    uint32_t u1;
    assert_true(jc_view_find_user(v, "1", 1, &u1));
    q.user = u1;
    assert_int_equal(jc_pipeline_recommend(st, &newest, &q, &res), JC_OK);
    int found = 0;
    for (size_t i = 0; i < res.n; i++)
        found |= res.items[i].item == it;
    assert_true(found);
    jc_reco_result_free(&res);
    struct jc_sim_result sim;
    assert_int_equal(jc_pipeline_similar(st, it, 5, NULL, &sim), JC_OK);
    assert_int_equal(sim.n, 5);
    for (size_t i = 0; i < sim.n; i++) {
        assert_int_not_equal(sim.items[i].item, it);
        assert_true(sim.items[i].jaccard > 0); /* shares Drama */
    }
    jc_sim_result_free(&sim);
    jc_state_release(st);
    jc_rc_release(&dc->rc);
}

/* ---- the server in process: write paths under injected failures ------------------------ */

/* One HTTP/1.1 request with Connection: close; returns the status and
 * copies the body (NUL-terminated) into body. */
static int http(int port, const char *method, const char *path, const char *body, char *out,
                size_t cap)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(fd >= 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(connect(fd, (struct sockaddr *)&a, sizeof a), 0);
    char req[8192];
    int n = snprintf(req, sizeof req,
                     "%s %s HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
                     "Content-Type: application/json\r\nContent-Length: %zu\r\n\r\n%s",
                     method, path, body ? strlen(body) : 0, body ? body : "");
    assert_true(n > 0 && (size_t)n < sizeof req);
    assert_int_equal(write(fd, req, (size_t)n), n);
    /* not jc_malloc: allocation failures are injected process-wide */
    static char buf[1 << 20];
    size_t got = 0;
    ssize_t k;
    while (got < (1 << 20) - 1 && (k = read(fd, buf + got, (1 << 20) - 1 - got)) > 0)
        got += (size_t)k;
    close(fd);
    buf[got] = '\0';
    int status = 0; /* 0: closed without an answer */
    if (sscanf(buf, "HTTP/1.1 %d", &status) != 1)
        status = 0;
    const char *b = strstr(buf, "\r\n\r\n");
    snprintf(out, cap, "%s", b ? b + 4 : "");
    return status;
}

static void test_server_write_failures(void **state)
{
    (void)state;
    struct jc_serve_config c;
    jc_serve_config_default(&c);
    c.home = jc_test_path("srv-home");
    c.catalog_path = jc_test_path("catalog.jcat");
    c.port = 0;
    c.threads = 2;
    struct jc_serve *s;
    assert_int_equal(jc_serve_open(&s, &c), JC_OK);
    int port = jc_serve_port(s);
    char body[4096];
    const char *ev = "{\"user\":\"1\",\"item\":\"1\",\"type\":\"click\"}";
    assert_int_equal(http(port, "POST", "/api/v1/events", ev, body, sizeof body), 200);
    assert_non_null(strstr(body, "\"accepted\":1"));
    /* the log fails a write: nothing is acknowledged, the client hears 503 */
    jc_eventlog__fail_write_after(1, ENOSPC);
    assert_int_equal(http(port, "POST", "/api/v1/events", ev, body, sizeof body), 503);
    assert_non_null(strstr(body, "\"code\":\"append_failed\""));
    assert_non_null(strstr(body, "retry"));
    jc_eventlog__fail_write_after(0, 0);
    /* the overlay file cannot be written: 500, and nothing changed */
    const char *item = "{\"id\":\"x-1\",\"title\":\"X\"}";
    jc_fileio_fail_write_after(1);
    assert_int_equal(http(port, "POST", "/api/v1/items", item, body, sizeof body), 500);
    jc_fileio_fail_write_after(0);
    assert_non_null(strstr(body, "\"code\":\"upsert_failed\""));
    assert_int_equal(http(port, "GET", "/api/v1/items/x-1", NULL, body, sizeof body), 404);
    assert_int_equal(http(port, "POST", "/api/v1/items", item, body, sizeof body), 200);
    assert_int_equal(http(port, "GET", "/api/v1/items/x-1", NULL, body, sizeof body), 200);
    assert_non_null(strstr(body, "\"title\":\"X\""));
    /* allocation failures while serving: success, a 500 JSON error, or
     * (when the request context itself cannot be allocated) a closed
     * connection - never a crash, and the server keeps serving */
    int seen[3] = {0};
    for (long k = 1; k < 60; k += 2) {
        jc_alloc_fail_after(k);
        int st = http(port, "GET", "/api/v1/users/1/recommendations?n=5", NULL, body, sizeof body);
        jc_alloc_fail_after(0);
        if (st != 0 && st != 200 && st != 500)
            fail_msg("allocation %ld failing: status %d", k, st);
        if (st == 500)
            assert_non_null(strstr(body, "\"error\""));
        seen[st == 0 ? 0 : st == 200 ? 1 : 2]++;
    }
    print_message("injected allocation failures: %d closed, %d ok, %d errors\n", seen[0], seen[1],
                  seen[2]);
    assert_true(seen[2] > 0);
    assert_int_equal(
        http(port, "GET", "/api/v1/users/1/recommendations?n=5", NULL, body, sizeof body), 200);
    assert_int_equal(jc_serve_stop(s), 0);
    jc_serve_close(s);
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
        cmocka_unit_test(test_experiments_config),
        cmocka_unit_test(test_experiments_bucketing),
        cmocka_unit_test(test_exposure_log),
        cmocka_unit_test(test_overlay_records),
    };
    const struct CMUnitTest ml_tests[] = {
        cmocka_unit_test(test_state_swap),
        cmocka_unit_test(test_catidx),
        cmocka_unit_test(test_pipeline),
        cmocka_unit_test(test_overlay_view),
        cmocka_unit_test(test_server_write_failures),
    };
    int failed = cmocka_run_group_tests_name("serve", tests, NULL, NULL);
    failed +=
        cmocka_run_group_tests_name("serve-movielens", ml_tests, setup_catalog, teardown_catalog);
    return failed;
}
