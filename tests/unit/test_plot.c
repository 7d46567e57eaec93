/*
 * test_plot.c - the SVG plot module: ticks, escaping, exact coordinates,
 * well-formedness of every kind of plot, thinning of long curves, error
 * returns, allocation and write failure injection, determinism.
 */
#include "testutil.h"

#include "core/alloc.h"
#include "core/buf.h"
#include "core/fileio.h"
#include <junco/error.h>
#include <junco/plot.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A small XML well-formedness checker: balanced tags, quoted attributes,
 * only the five predefined or numeric entities, no raw '<' or '&' in text.
 * Returns 0 when well-formed, else the byte offset + 1 of the problem. */
static size_t xml_check(const char *s, size_t n)
{
    char stack[64][32];
    int depth = 0, roots = 0;
    size_t i = 0;
    while (i < n) {
        if (s[i] == '&') {
            static const char *ents[] = {"&amp;", "&lt;", "&gt;", "&quot;", "&#39;", "&#"};
            int ok = 0;
            for (size_t k = 0; k < 6 && !ok; k++)
                ok = strncmp(s + i, ents[k], strlen(ents[k])) == 0;
            if (!ok)
                return i + 1;
            i++;
            continue;
        }
        if (s[i] != '<') {
            i++;
            continue;
        }
        if (strncmp(s + i, "<?", 2) == 0) {
            const char *e = strstr(s + i, "?>");
            if (!e)
                return i + 1;
            i = (size_t)(e - s) + 2;
            continue;
        }
        int closing = s[i + 1] == '/';
        size_t j = i + 1 + (size_t)closing, ns = j;
        while (j < n && s[j] != ' ' && s[j] != '>' && s[j] != '/' && s[j] != '\n')
            j++;
        size_t nl = j - ns;
        if (nl == 0 || nl >= 32)
            return i + 1;
        /* attributes */
        while (j < n && s[j] != '>' && !(s[j] == '/' && s[j + 1] == '>')) {
            if (s[j] == ' ' || s[j] == '\n') {
                j++;
                continue;
            }
            while (j < n && s[j] != '=' && s[j] != '>')
                j++;
            if (s[j] != '=' || s[j + 1] != '"')
                return j + 1;
            j += 2;
            while (j < n && s[j] != '"') {
                if (s[j] == '<')
                    return j + 1;
                j++;
            }
            if (j == n)
                return j;
            j++;
        }
        if (j >= n)
            return i + 1;
        int self = s[j] == '/';
        if (closing) {
            if (depth == 0 || strncmp(stack[depth - 1], s + ns, nl) != 0 ||
                stack[depth - 1][nl] != '\0')
                return i + 1;
            depth--;
        } else if (!self) {
            if (depth == 0)
                roots++;
            if (depth == 64)
                return i + 1;
            memcpy(stack[depth], s + ns, nl);
            stack[depth][nl] = '\0';
            depth++;
        } else if (depth == 0) {
            roots++;
        }
        i = j + (self ? 2 : 1);
    }
    return depth == 0 && roots == 1 ? 0 : n + 1;
}

static size_t count_str(const char *s, const char *needle)
{
    size_t k = 0;
    for (const char *p = strstr(s, needle); p; p = strstr(p + 1, needle))
        k++;
    return k;
}

static char *render(struct jc_plot *p)
{
    struct jc_buf b;
    jc_buf_init(&b, JC_BUF_CAP_DEFAULT);
    assert_int_equal(jc_plot_svg(p, &b), JC_OK);
    assert_int_equal(xml_check(b.data, b.len), 0);
    return jc_buf_detach(&b, NULL);
}

static void test_nice_ticks(void **state)
{
    (void)state;
    double t[16], step;
    assert_int_equal(jc_plot_nice_ticks(0, 1, 8, t, &step), 6);
    assert_double_near(step, 0.2, 1e-12);
    assert_double_near(t[0], 0, 0);
    assert_double_near(t[5], 1.0, 1e-12);
    assert_int_equal(jc_plot_nice_ticks(0, 100, 8, t, &step), 6);
    assert_double_near(step, 20, 0);
    assert_int_equal(jc_plot_nice_ticks(-3.7, 12.2, 8, t, &step), 8);
    assert_double_near(step, 2, 0);
    assert_double_near(t[0], -2, 0);
    assert_double_near(t[7], 12, 0);
    /* -0.2..0.2: the middle tick is exactly 0, never "-0" */
    assert_int_equal(jc_plot_nice_ticks(-0.2, 0.2, 8, t, &step), 5);
    assert_true(t[2] == 0.0 && !signbit(t[2]));
    assert_int_equal(jc_plot_nice_ticks(5, 5, 8, t, &step), 1);
    assert_int_equal(jc_plot_nice_ticks(NAN, 5, 8, t, &step), 0);
    assert_int_equal(jc_plot_nice_ticks(2, 1, 8, t, &step), 0);
    assert_int_equal(jc_plot_nice_ticks(0, 1e-9, 8, t, &step), 6);
}

static void test_escape(void **state)
{
    (void)state;
    struct jc_buf b;
    jc_buf_init(&b, 1024);
    const char in[] = "a<b & \"c\" 'd'>";
    assert_int_equal(jc_plot_escape(&b, in, strlen(in)), JC_OK);
    assert_string_equal(b.data, "a&lt;b &amp; &quot;c&quot; &#39;d&#39;&gt;");
    jc_buf_reset(&b);
    const char bad[] = "x\x01y\xffz\xC3\xA9\xEF\xBF\xBF";
    assert_int_equal(jc_plot_escape(&b, bad, strlen(bad)), JC_OK);
    assert_string_equal(b.data, "x\xEF\xBF\xBDy\xEF\xBF\xBDz\xC3\xA9\xEF\xBF\xBD");
    jc_buf_reset(&b);
    assert_int_equal(jc_plot_escape(&b, "", 0), JC_OK);
    assert_string_equal(b.data, "");
    /* the buffer cap is an error, not an overflow */
    struct jc_buf small;
    jc_buf_init(&small, 8);
    assert_int_equal(jc_plot_escape(&small, "&&&", 3), JC_ELIMIT);
    jc_buf_free(&small);
    jc_buf_free(&b);
}

/* Hand-computed layout: no title or labels, fixed [0,1]x[0,1]:
 * tick labels "0.0".."1.0" are 3 chars -> left = 16 + 3*7 = 37, right 18,
 * top 14, bottom 30 -> plot area 585 x 356 at (37, 14). */
static void test_line_coordinates(void **state)
{
    (void)state;
    struct jc_plot_config cfg;
    jc_plot_config_default(&cfg);
    cfg.x_min = 0;
    cfg.x_max = 1;
    cfg.y_min = 0;
    cfg.y_max = 1;
    struct jc_plot *p;
    assert_int_equal(jc_plot_create(&p, &cfg), JC_OK);
    double x[] = {0, 0.5, 1}, y[] = {0, 0.5, 1};
    assert_int_equal(jc_plot_line(p, NULL, x, y, 3), JC_OK);
    char *svg = render(p);
    assert_non_null(strstr(svg, "points=\"37.0,370.0 329.5,192.0 622.0,14.0\""));
    /* six y ticks labelled 0.0 .. 1.0, six x tick labels */
    assert_non_null(strstr(svg, ">0.0</text>"));
    assert_non_null(strstr(svg, ">0.6</text>"));
    assert_int_equal(count_str(svg, ">1.0</text>"), 2);
    assert_null(strstr(svg, "class=\"legend\"")); /* no labels, no legend */
    assert_non_null(strstr(svg, "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"640\""));
    jc_free(svg);
    jc_plot_destroy(p);
}

static void test_full_plot_roc_like(void **state)
{
    (void)state;
    struct jc_plot_config cfg;
    jc_plot_config_default(&cfg);
    cfg.title = "ROC <test> & \"quotes\"";
    cfg.x_label = "false positive rate";
    cfg.y_label = "true positive rate";
    cfg.x_min = cfg.y_min = 0;
    cfg.x_max = cfg.y_max = 1;
    cfg.legend = JC_PLOT_LEGEND_BOTTOM_RIGHT;
    cfg.id = "roc-1";
    cfg.markers = 1;
    struct jc_plot *p;
    assert_int_equal(jc_plot_create(&p, &cfg), JC_OK);
    double x[] = {0, 0.1, 0.3, 1}, y[] = {0, 0.6, 0.9, 1};
    assert_int_equal(jc_plot_line(p, "model A<B", x, y, 4), JC_OK);
    assert_int_equal(jc_plot_scatter(p, "points", x, y, 4), JC_OK);
    assert_int_equal(jc_plot_refline(p, 0, 0, 1, 1, "random"), JC_OK);
    char *svg = render(p);
    assert_non_null(strstr(svg, "<title>ROC &lt;test&gt; &amp; &quot;quotes&quot;</title>"));
    assert_non_null(strstr(svg, ">model A&lt;B</text>"));
    assert_non_null(strstr(svg, "clipPath id=\"roc-1-clip\""));
    assert_non_null(strstr(svg, "clip-path=\"url(#roc-1-clip)\""));
    assert_int_equal(count_str(svg, "stroke-dasharray"), 2); /* ref line + legend */
    /* 4 markers + 4 scatter dots + 1 legend dot */
    assert_int_equal(count_str(svg, "<circle"), 9);
    assert_non_null(strstr(svg, ">true positive rate</text>"));
    /* deterministic */
    char *again = render(p);
    assert_string_equal(svg, again);
    jc_free(again);
    jc_free(svg);
    jc_plot_destroy(p);
}

static void test_auto_range_and_gaps(void **state)
{
    (void)state;
    struct jc_plot_config cfg;
    jc_plot_config_default(&cfg);
    struct jc_plot *p;
    assert_int_equal(jc_plot_create(&p, &cfg), JC_OK);
    double x[] = {1, 2, 3, 4, 5}, y[] = {0.31, 0.42, NAN, 0.47, INFINITY};
    assert_int_equal(jc_plot_line(p, "ndcg", x, y, 5), JC_OK);
    char *svg = render(p);
    /* the NaN splits the line: two polylines (the second a single point) */
    assert_int_equal(count_str(svg, "<polyline"), 2);
    /* y range widened to nice ticks around 0.31..0.47: 0.30 .. 0.48 by 0.02 */
    assert_non_null(strstr(svg, ">0.30</text>"));
    assert_non_null(strstr(svg, ">0.48</text>"));
    assert_null(strstr(svg, "nan"));
    assert_null(strstr(svg, "inf"));
    jc_free(svg);
    jc_plot_destroy(p);

    /* constant data and empty plots still render valid axes */
    assert_int_equal(jc_plot_create(&p, &cfg), JC_OK);
    double c[] = {2, 2};
    assert_int_equal(jc_plot_line(p, "flat", c, c, 2), JC_OK);
    svg = render(p);
    jc_free(svg);
    jc_plot_destroy(p);
    assert_int_equal(jc_plot_create(&p, &cfg), JC_OK);
    svg = render(p);
    assert_non_null(strstr(svg, ">no data</text>"));
    jc_free(svg);
    jc_plot_destroy(p);
}

static void test_bars(void **state)
{
    (void)state;
    struct jc_plot_config cfg;
    jc_plot_config_default(&cfg);
    cfg.title = "NDCG@10 by model";
    struct jc_plot *p;
    assert_int_equal(jc_plot_create(&p, &cfg), JC_OK);
    const char *cats[] = {"pop", "itemknn", "ease & co"};
    double a[] = {0.1, 0.25, 0.3}, b[] = {0.12, NAN, -0.05};
    assert_int_equal(jc_plot_bars(p, "x", a, 3), JC_ESTATE);
    assert_int_equal(jc_plot_set_categories(p, cats, 3), JC_OK);
    assert_int_equal(jc_plot_set_categories(p, cats, 3), JC_ESTATE);
    assert_int_equal(jc_plot_bars(p, "valid", a, 2), JC_EINVAL);
    assert_int_equal(jc_plot_bars(p, "valid", a, 3), JC_OK);
    assert_int_equal(jc_plot_bars(p, "test", b, 3), JC_OK);
    assert_int_equal(jc_plot_line(p, "l", a, a, 3), JC_ESTATE);
    assert_int_equal(jc_plot_refline(p, 0, 0, 1, 1, NULL), JC_ESTATE);
    char *svg = render(p);
    /* 3 + 2 bars (NaN draws none) + 2 legend swatches + background */
    assert_int_equal(count_str(svg, "<rect x="), 3 + 2 + 2 + 1 /* legend box */ + 1 /* clip */);
    assert_non_null(strstr(svg, ">ease &amp; co</text>"));
    assert_non_null(strstr(svg, "<title>ease &amp; co: -0.05</title>"));
    assert_non_null(strstr(svg, ">0.00</text>")); /* zero line is included */
    jc_free(svg);
    jc_plot_destroy(p);

    /* many long category names are rotated */
    assert_int_equal(jc_plot_create(&p, &cfg), JC_OK);
    const char *longc[12];
    for (int i = 0; i < 12; i++)
        longc[i] = "a rather long category name";
    assert_int_equal(jc_plot_set_categories(p, longc, 12), JC_OK);
    double v[12] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12};
    assert_int_equal(jc_plot_bars(p, NULL, v, 12), JC_OK);
    svg = render(p);
    assert_int_equal(count_str(svg, "transform=\"rotate(-35"), 12);
    assert_non_null(strstr(svg, "a rather long category n\xE2\x80\xA6</text>"));
    jc_free(svg);
    jc_plot_destroy(p);
}

static void test_thinning(void **state)
{
    (void)state;
    size_t n = 100000;
    double *x = malloc(n * sizeof *x), *y = malloc(n * sizeof *y);
    for (size_t i = 0; i < n; i++) {
        x[i] = (double)i / (double)(n - 1);
        y[i] = sqrt(x[i]);
    }
    struct jc_plot_config cfg;
    jc_plot_config_default(&cfg);
    struct jc_plot *p;
    assert_int_equal(jc_plot_create(&p, &cfg), JC_OK);
    assert_int_equal(jc_plot_line(p, "curve", x, y, n), JC_OK);
    free(x);
    free(y);
    char *svg = render(p);
    size_t pts = count_str(svg, ",") - 0;
    assert_true(pts < 2500); /* about 2 per horizontal pixel at most */
    assert_true(pts > 500);  /* still a curve */
    assert_true(strlen(svg) < 60000);
    assert_non_null(strstr(svg, " 622.0,14.0\"/>")); /* the last point is kept */
    jc_free(svg);
    jc_plot_destroy(p);
}

static void test_errors(void **state)
{
    (void)state;
    struct jc_plot_config cfg;
    struct jc_plot *p = NULL;
    jc_plot_config_default(&cfg);
    cfg.width = 10;
    assert_int_equal(jc_plot_create(&p, &cfg), JC_EINVAL);
    assert_non_null(strstr(jc_errmsg(), "size 10x400"));
    assert_null(p);
    jc_plot_config_default(&cfg);
    cfg.id = "bad id";
    assert_int_equal(jc_plot_create(&p, &cfg), JC_EINVAL);
    jc_plot_config_default(&cfg);
    cfg.x_min = 1;
    cfg.x_max = 1;
    assert_int_equal(jc_plot_create(&p, &cfg), JC_EINVAL);
    assert_non_null(strstr(jc_errmsg(), "x range [1, 1] is empty"));
    jc_plot_config_default(&cfg);
    cfg.y_max = INFINITY;
    assert_int_equal(jc_plot_create(&p, &cfg), JC_EINVAL);
    jc_plot_config_default(&cfg);
    assert_int_equal(jc_plot_create(&p, &cfg), JC_OK);
    assert_int_equal(jc_plot_line(p, "x", NULL, NULL, 3), JC_EINVAL);
    assert_int_equal(jc_plot_refline(p, 0, NAN, 1, 1, NULL), JC_EINVAL);
    double v = 1;
    for (int i = 0; i < JC_PLOT_MAX_SERIES; i++)
        assert_int_equal(jc_plot_scatter(p, NULL, &v, &v, 1), JC_OK);
    assert_int_equal(jc_plot_scatter(p, NULL, &v, &v, 1), JC_ELIMIT);
    char *svg = render(p); /* 64 series cycle through the palette */
    jc_free(svg);
    jc_plot_destroy(p);
}

static int build_and_render(struct jc_buf *b)
{
    struct jc_plot_config cfg;
    jc_plot_config_default(&cfg);
    cfg.title = "t";
    cfg.x_label = "x";
    struct jc_plot *p;
    int rc = jc_plot_create(&p, &cfg);
    if (rc)
        return rc;
    double x[] = {1, 2, 3}, y[] = {3, 1, 2};
    if ((rc = jc_plot_line(p, "a", x, y, 3)) == JC_OK &&
        (rc = jc_plot_scatter(p, "b", y, x, 3)) == JC_OK &&
        (rc = jc_plot_refline(p, 1, 1, 3, 3, "r")) == JC_OK)
        rc = jc_plot_svg(p, b);
    jc_plot_destroy(p);
    return rc;
}

static void test_alloc_failures(void **state)
{
    (void)state;
    struct jc_buf ref;
    jc_buf_init(&ref, JC_BUF_CAP_DEFAULT);
    assert_int_equal(build_and_render(&ref), JC_OK);
    int failures = 0;
    for (long k = 1; k < 40; k++) {
        struct jc_buf b;
        jc_buf_init(&b, JC_BUF_CAP_DEFAULT);
        jc_alloc_fail_after(k);
        int rc = build_and_render(&b);
        jc_alloc_fail_after(0);
        if (rc == JC_OK) {
            assert_int_equal(b.len, ref.len);
            assert_memory_equal(b.data, ref.data, ref.len);
        } else {
            assert_int_equal(rc, JC_ENOMEM);
            failures++;
        }
        jc_buf_free(&b);
    }
    assert_true(failures >= 8); /* every allocation of the sequence was hit */
    jc_buf_free(&ref);
}

static void test_save_and_write_failure(void **state)
{
    (void)state;
    struct jc_plot_config cfg;
    jc_plot_config_default(&cfg);
    struct jc_plot *p;
    assert_int_equal(jc_plot_create(&p, &cfg), JC_OK);
    double x[] = {0, 1}, y[] = {1, 0};
    assert_int_equal(jc_plot_line(p, "a", x, y, 2), JC_OK);
    const char *path = jc_test_path("plot.svg");
    assert_int_equal(jc_plot_save(p, path), JC_OK);
    char *data;
    size_t len;
    assert_int_equal(jc_file_read_all(path, 1 << 20, &data, &len), JC_OK);
    assert_memory_equal(data, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<svg ", 44);
    assert_int_equal(xml_check(data, len), 0);
    /* a failing write leaves the previous file intact */
    const char *path2 = jc_test_path("plot2.svg");
    jc_test_write_file(path2, "old");
    jc_fileio_fail_write_after(1);
    assert_int_not_equal(jc_plot_save(p, path2), JC_OK);
    jc_fileio_fail_write_after(0);
    char *old;
    assert_int_equal(jc_file_read_all(path2, 1 << 20, &old, &len), JC_OK);
    assert_string_equal(old, "old");
    jc_free(old);
    jc_free(data);
    jc_plot_destroy(p);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_nice_ticks),
        cmocka_unit_test(test_escape),
        cmocka_unit_test(test_line_coordinates),
        cmocka_unit_test(test_full_plot_roc_like),
        cmocka_unit_test(test_auto_range_and_gaps),
        cmocka_unit_test(test_bars),
        cmocka_unit_test(test_thinning),
        cmocka_unit_test(test_errors),
        cmocka_unit_test(test_alloc_failures),
        cmocka_unit_test(test_save_and_write_failure),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
