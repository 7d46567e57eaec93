/*
 * plot.c - SVG line, scatter and bar charts (see include/junco/plot.h).
 *
 * Design: a plot is a list of copied series plus the config. Rendering is a
 * single pass that computes the axis ranges (data range widened to nice
 * tick boundaries unless fixed), lays out the margins from the texts, and
 * prints SVG elements into a jc_buf through a small writer whose first error
 * is sticky. Coordinates are printed with two decimals and every text goes
 * through jc_plot_escape, so the output is deterministic and well-formed
 * XML for any input. Character widths are estimated (7 px per code point at
 * 12 px) to size the legend and to decide whether category labels must be
 * rotated; that is enough for the fixed sans-serif look of the reports.
 */
#include <junco/plot.h>

#include "core/alloc.h"
#include "core/buf.h"
#include "core/fileio.h"
#include "core/utf8.h"
#include <junco/error.h>

#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

enum series_kind { SERIES_LINE, SERIES_SCATTER, SERIES_REF, SERIES_BARS };

struct series {
    enum series_kind kind;
    char *label; /* owned, may be NULL */
    double *x;   /* owned; NULL for bars */
    double *y;   /* owned; bar values for bars */
    size_t n;
    int color; /* palette index (-1 for reference lines) */
};

struct jc_plot {
    int width, height;
    char *title, *x_label, *y_label; /* owned, may be NULL */
    double x_min, x_max, y_min, y_max;
    enum jc_plot_legend legend;
    char id[49];
    int markers;
    struct series series[JC_PLOT_MAX_SERIES];
    size_t n_series;
    int n_colored;
    char **categories; /* owned, n_categories strings */
    size_t n_categories;
    size_t n_points; /* total over series */
};

/* Tableau 10: distinguishable, prints well in grey. */
static const char *const palette[] = {"#4e79a7", "#f28e2b", "#e15759", "#76b7b2", "#59a14f",
                                      "#edc948", "#b07aa1", "#ff9da7", "#9c755f", "#bab0ac"};
#define N_PALETTE (sizeof palette / sizeof palette[0])
#define REF_COLOR "#888888"

#define FONT_PX         12
#define CHAR_PX         7.0
#define MAX_LABEL_CHARS 40

void jc_plot_config_default(struct jc_plot_config *cfg)
{
    memset(cfg, 0, sizeof *cfg);
    cfg->width = 640;
    cfg->height = 400;
    cfg->x_min = cfg->x_max = cfg->y_min = cfg->y_max = NAN;
    cfg->legend = JC_PLOT_LEGEND_TOP_RIGHT;
    cfg->id = "plot";
}

static int dup_opt(const char *s, char **out)
{
    *out = NULL;
    if (s == NULL)
        return JC_OK;
    *out = jc_strdup(s);
    return *out ? JC_OK : JC_ENOMEM;
}

static int valid_id(const char *id)
{
    size_t n = strlen(id);
    if (n == 0 || n > 48)
        return 0;
    for (size_t i = 0; i < n; i++) {
        char c = id[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '_' || c == '-'))
            return 0;
    }
    return 1;
}

int jc_plot_create(struct jc_plot **out, const struct jc_plot_config *cfg)
{
    if (cfg->width < 64 || cfg->width > JC_PLOT_MAX_SIZE || cfg->height < 64 ||
        cfg->height > JC_PLOT_MAX_SIZE)
        return jc_err_set(JC_EINVAL, "plot: size %dx%d outside [64, %d]", cfg->width, cfg->height,
                          JC_PLOT_MAX_SIZE);
    const char *id = cfg->id ? cfg->id : "plot";
    if (!valid_id(id))
        return jc_err_set(JC_EINVAL, "plot: id '%.60s' must be 1-48 of [A-Za-z0-9_-]", id);
    if (!isnan(cfg->x_min) && !isnan(cfg->x_max) && !(cfg->x_min < cfg->x_max))
        return jc_err_set(JC_EINVAL, "plot: x range [%g, %g] is empty", cfg->x_min, cfg->x_max);
    if (!isnan(cfg->y_min) && !isnan(cfg->y_max) && !(cfg->y_min < cfg->y_max))
        return jc_err_set(JC_EINVAL, "plot: y range [%g, %g] is empty", cfg->y_min, cfg->y_max);
    if (isinf(cfg->x_min) || isinf(cfg->x_max) || isinf(cfg->y_min) || isinf(cfg->y_max))
        return jc_err_set(JC_EINVAL, "plot: axis limits must be finite or NAN");
    if ((unsigned)cfg->legend > JC_PLOT_LEGEND_NONE)
        return jc_err_set(JC_EINVAL, "plot: bad legend position %d", (int)cfg->legend);
    struct jc_plot *p = jc_calloc(1, sizeof *p);
    if (p == NULL)
        return JC_ENOMEM;
    p->width = cfg->width;
    p->height = cfg->height;
    p->x_min = cfg->x_min;
    p->x_max = cfg->x_max;
    p->y_min = cfg->y_min;
    p->y_max = cfg->y_max;
    p->legend = cfg->legend;
    p->markers = cfg->markers;
    snprintf(p->id, sizeof p->id, "%s", id);
    if (dup_opt(cfg->title, &p->title) || dup_opt(cfg->x_label, &p->x_label) ||
        dup_opt(cfg->y_label, &p->y_label)) {
        jc_plot_destroy(p);
        return JC_ENOMEM;
    }
    *out = p;
    return JC_OK;
}

void jc_plot_destroy(struct jc_plot *p)
{
    if (p == NULL)
        return;
    for (size_t i = 0; i < p->n_series; i++) {
        jc_free(p->series[i].label);
        jc_free(p->series[i].x);
        jc_free(p->series[i].y);
    }
    for (size_t i = 0; i < p->n_categories; i++)
        jc_free(p->categories[i]);
    jc_free(p->categories);
    jc_free(p->title);
    jc_free(p->x_label);
    jc_free(p->y_label);
    jc_free(p);
}

static int add_series(struct jc_plot *p, enum series_kind kind, const char *label, const double *x,
                      const double *y, size_t n)
{
    if (n > 0 && (y == NULL || (kind != SERIES_BARS && x == NULL)))
        return jc_err_set(JC_EINVAL, "plot: series '%s' has n = %zu but no data",
                          label ? label : "", n);
    if (p->n_series == JC_PLOT_MAX_SERIES)
        return jc_err_set(JC_ELIMIT, "plot: more than %d series", JC_PLOT_MAX_SERIES);
    if (n > JC_PLOT_MAX_POINTS || p->n_points + n > JC_PLOT_MAX_POINTS)
        return jc_err_set(JC_ELIMIT, "plot: more than %d points", JC_PLOT_MAX_POINTS);
    struct series s = {kind, NULL, NULL, NULL, n, -1};
    if (dup_opt(label, &s.label))
        return JC_ENOMEM;
    size_t cnt = n ? n : 1;
    s.y = jc_malloc_array(cnt, sizeof *s.y);
    if (kind != SERIES_BARS)
        s.x = jc_malloc_array(cnt, sizeof *s.x);
    if (s.y == NULL || (kind != SERIES_BARS && s.x == NULL)) {
        jc_free(s.label);
        jc_free(s.x);
        jc_free(s.y);
        return JC_ENOMEM;
    }
    if (n) {
        memcpy(s.y, y, n * sizeof *y);
        if (s.x)
            memcpy(s.x, x, n * sizeof *x);
    }
    if (kind != SERIES_REF)
        s.color = p->n_colored++;
    p->series[p->n_series++] = s;
    p->n_points += n;
    return JC_OK;
}

int jc_plot_line(struct jc_plot *p, const char *label, const double *x, const double *y, size_t n)
{
    if (p->categories)
        return jc_err_set(JC_ESTATE, "plot: cannot add a line to a bar chart");
    return add_series(p, SERIES_LINE, label, x, y, n);
}

int jc_plot_scatter(struct jc_plot *p, const char *label, const double *x, const double *y,
                    size_t n)
{
    if (p->categories)
        return jc_err_set(JC_ESTATE, "plot: cannot add a scatter series to a bar chart");
    return add_series(p, SERIES_SCATTER, label, x, y, n);
}

int jc_plot_refline(struct jc_plot *p, double x0, double y0, double x1, double y1,
                    const char *label)
{
    if (p->categories)
        return jc_err_set(JC_ESTATE, "plot: cannot add a reference line to a bar chart");
    if (!isfinite(x0) || !isfinite(y0) || !isfinite(x1) || !isfinite(y1))
        return jc_err_set(JC_EINVAL, "plot: reference line endpoints must be finite");
    double x[2] = {x0, x1}, y[2] = {y0, y1};
    return add_series(p, SERIES_REF, label, x, y, 2);
}

int jc_plot_set_categories(struct jc_plot *p, const char *const *names, size_t n)
{
    if (p->categories)
        return jc_err_set(JC_ESTATE, "plot: categories already set");
    if (p->n_series)
        return jc_err_set(JC_ESTATE, "plot: cannot make a bar chart of a plot with series");
    if (n == 0 || names == NULL)
        return jc_err_set(JC_EINVAL, "plot: a bar chart needs at least one category");
    if (n > JC_PLOT_MAX_CATEGORIES)
        return jc_err_set(JC_ELIMIT, "plot: %zu categories (max %d)", n, JC_PLOT_MAX_CATEGORIES);
    for (size_t i = 0; i < n; i++)
        if (names[i] == NULL)
            return jc_err_set(JC_EINVAL, "plot: category %zu has no name", i);
    char **c = jc_calloc(n, sizeof *c);
    if (c == NULL)
        return JC_ENOMEM;
    for (size_t i = 0; i < n; i++) {
        c[i] = jc_strdup(names[i]);
        if (c[i] == NULL) {
            for (size_t j = 0; j < i; j++)
                jc_free(c[j]);
            jc_free(c);
            return JC_ENOMEM;
        }
    }
    p->categories = c;
    p->n_categories = n;
    return JC_OK;
}

int jc_plot_bars(struct jc_plot *p, const char *label, const double *values, size_t n)
{
    if (p->categories == NULL)
        return jc_err_set(JC_ESTATE, "plot: set the categories before adding bars");
    if (n != p->n_categories)
        return jc_err_set(JC_EINVAL, "plot: bar series '%s' has %zu values for %zu categories",
                          label ? label : "", n, p->n_categories);
    return add_series(p, SERIES_BARS, label, NULL, values, n);
}

/* ---- text ------------------------------------------------------------- */

int jc_plot_escape(struct jc_buf *out, const char *s, size_t n)
{
    static const char repl[] = "\xEF\xBF\xBD"; /* U+FFFD */
    size_t i = 0;
    while (i < n) {
        size_t run = i;
        /* Copy plain printable ASCII in one go. */
        while (run < n) {
            unsigned char c = (unsigned char)s[run];
            if (c < 0x20 || c >= 0x7F || c == '&' || c == '<' || c == '>' || c == '"' || c == '\'')
                break;
            run++;
        }
        if (run > i) {
            int rc = jc_buf_append(out, s + i, run - i);
            if (rc)
                return rc;
            i = run;
            if (i == n)
                break;
        }
        unsigned char c = (unsigned char)s[i];
        const char *rep = NULL;
        size_t len = 1;
        switch (c) {
        case '&':
            rep = "&amp;";
            break;
        case '<':
            rep = "&lt;";
            break;
        case '>':
            rep = "&gt;";
            break;
        case '"':
            rep = "&quot;";
            break;
        case '\'':
            rep = "&#39;";
            break;
        case '\t':
        case '\n':
        case '\r':
            rep = NULL;
            break;
        default:
            if (c < 0x20 || c == 0x7F) {
                rep = repl;
            } else {
                len = jc_utf8_seq_len(s + i, n - i);
                if (len == 0) {
                    rep = repl;
                    len = 1;
                } else if (len == 3 && (unsigned char)s[i] == 0xEF &&
                           (unsigned char)s[i + 1] == 0xBF &&
                           ((unsigned char)s[i + 2] == 0xBE || (unsigned char)s[i + 2] == 0xBF)) {
                    rep = repl; /* U+FFFE / U+FFFF are not XML characters */
                }
            }
        }
        int rc = rep ? jc_buf_append_str(out, rep) : jc_buf_append(out, s + i, len);
        if (rc)
            return rc;
        i += len;
    }
    /* Make sure the buffer exists (and is NUL-terminated) even for "". */
    return jc_buf_reserve(out, 0);
}

/* Number of code points (invalid bytes count as one). */
static size_t text_chars(const char *s)
{
    size_t n = strlen(s), i = 0, k = 0;
    while (i < n) {
        size_t l = jc_utf8_seq_len(s + i, n - i);
        i += l ? l : 1;
        k++;
    }
    return k;
}

/* Byte length of the first max_chars code points of s. */
static size_t text_prefix(const char *s, size_t max_chars, int *truncated)
{
    size_t n = strlen(s), i = 0, k = 0;
    while (i < n && k < max_chars) {
        size_t l = jc_utf8_seq_len(s + i, n - i);
        i += l ? l : 1;
        k++;
    }
    *truncated = i < n;
    return i;
}

/* ---- ticks ------------------------------------------------------------ */

/* The {1, 2, 5} x 10^k step nearest to raw (round = 1) or at least raw. */
static double nice_step(double raw, int round_it)
{
    double mag = pow(10.0, floor(log10(raw)));
    double norm = raw / mag, m;
    if (round_it)
        m = norm < 1.5 ? 1.0 : norm < 3.0 ? 2.0 : norm < 7.0 ? 5.0 : 10.0;
    else
        m = norm <= 1.0 ? 1.0 : norm <= 2.0 ? 2.0 : norm <= 5.0 ? 5.0 : 10.0;
    return m * mag;
}

size_t jc_plot_nice_ticks(double lo, double hi, size_t max_ticks, double *ticks, double *step)
{
    if (!isfinite(lo) || !isfinite(hi) || lo > hi || max_ticks < 2)
        return 0;
    if (lo == hi) {
        ticks[0] = lo;
        *step = 0;
        return 1;
    }
    double st = nice_step((hi - lo) / (double)(max_ticks - 1), 1);
    for (int attempt = 0; attempt < 8; attempt++) {
        double first = ceil(lo / st - 1e-9);
        double last = floor(hi / st + 1e-9);
        if (last - first + 1 <= (double)max_ticks) {
            size_t n = 0;
            for (double k = first; k <= last; k += 1.0) {
                double v = k * st;
                if (fabs(v) < st * 1e-9)
                    v = 0.0; /* no "-0" */
                ticks[n++] = v;
            }
            *step = st;
            return n;
        }
        st = nice_step(st * 1.5, 0);
    }
    return 0;
}

static void fmt_tick(char *out, size_t cap, double v, double step)
{
    double a = fabs(v);
    if ((a >= 1e6 && step >= 1) || (a > 0 && a < 1e-4) || (step > 0 && step < 1e-4)) {
        snprintf(out, cap, "%.3g", v);
        return;
    }
    int dec = 0;
    if (step > 0 && step < 1)
        dec = (int)ceil(-log10(step) - 1e-9);
    if (dec > 6)
        dec = 6;
    snprintf(out, cap, "%.*f", dec, v);
}

/* ---- writer ----------------------------------------------------------- */

struct w {
    struct jc_buf *b;
    int rc;
};

static void wp(struct w *w, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void wp(struct w *w, const char *fmt, ...)
{
    if (w->rc)
        return;
    va_list ap;
    va_start(ap, fmt);
    w->rc = jc_buf_vprintf(w->b, fmt, ap);
    va_end(ap);
}

static void wtext(struct w *w, const char *s)
{
    if (w->rc == 0)
        w->rc = jc_plot_escape(w->b, s, strlen(s));
}

/* Escaped text shortened to max_chars code points (with an ellipsis). */
static void wtext_short(struct w *w, const char *s, size_t max_chars)
{
    int trunc;
    size_t len = text_prefix(s, max_chars, &trunc);
    if (w->rc == 0)
        w->rc = jc_plot_escape(w->b, s, len);
    if (trunc)
        wp(w, "\xE2\x80\xA6");
}

/* ---- layout and drawing ----------------------------------------------- */

struct frame {
    double left, top, w, h; /* plot area in pixels */
    double xmin, xmax, ymin, ymax;
    double xt[32], yt[32];
    double xstep, ystep;
    size_t nxt, nyt;
};

static double clamp_px(double v)
{
    if (v < -10000.0)
        return -10000.0;
    if (v > 20000.0)
        return 20000.0;
    return v;
}

static double px(const struct frame *f, double x)
{
    return clamp_px(f->left + (x - f->xmin) / (f->xmax - f->xmin) * f->w);
}

static double py(const struct frame *f, double y)
{
    return clamp_px(f->top + f->h - (y - f->ymin) / (f->ymax - f->ymin) * f->h);
}

static void data_range(const struct jc_plot *p, int axis_x, double *lo, double *hi)
{
    double mn = INFINITY, mx = -INFINITY;
    for (size_t s = 0; s < p->n_series; s++) {
        const struct series *se = &p->series[s];
        if (se->kind == SERIES_REF)
            continue;
        const double *v = axis_x ? se->x : se->y;
        for (size_t i = 0; i < se->n; i++) {
            if (se->kind != SERIES_BARS && !(isfinite(se->x[i]) && isfinite(se->y[i])))
                continue;
            if (!isfinite(v[i]))
                continue;
            if (v[i] < mn)
                mn = v[i];
            if (v[i] > mx)
                mx = v[i];
        }
    }
    *lo = mn;
    *hi = mx;
}

/* Resolves one axis range: fixed ends stay, automatic ends come from the
 * data and are widened to the enclosing ticks. */
static void axis_range(double fix_lo, double fix_hi, double dlo, double dhi, int with_zero,
                       double *lo, double *hi, double *ticks, size_t *nt, double *step)
{
    double a = isnan(fix_lo) ? dlo : fix_lo;
    double b = isnan(fix_hi) ? dhi : fix_hi;
    if (!isfinite(a) && !isfinite(b)) {
        a = 0;
        b = 1;
    } else if (!isfinite(a)) {
        a = b - 1;
    } else if (!isfinite(b)) {
        b = a + 1;
    }
    if (with_zero) {
        if (isnan(fix_lo) && a > 0)
            a = 0;
        if (isnan(fix_hi) && b < 0)
            b = 0;
    }
    if (a > b) { /* one fixed end beyond the data: follow the fixed end */
        if (isnan(fix_lo))
            a = b - 1;
        else
            b = a + 1;
    }
    if (a == b) {
        double d = a == 0 ? 1.0 : fabs(a) * 0.1;
        if (isnan(fix_lo))
            a -= d;
        if (isnan(fix_hi))
            b += d;
    }
    *nt = jc_plot_nice_ticks(a, b, 8, ticks, step);
    if (*nt >= 1 && *step > 0) {
        if (isnan(fix_lo))
            a = floor(a / *step + 1e-9) * *step;
        if (isnan(fix_hi))
            b = ceil(b / *step - 1e-9) * *step;
        *nt = jc_plot_nice_ticks(a, b, 10, ticks, step);
    }
    *lo = a;
    *hi = b;
}

static size_t max_label_chars(const struct jc_plot *p, size_t *n_labels)
{
    size_t m = 0, k = 0;
    for (size_t s = 0; s < p->n_series; s++) {
        if (p->series[s].label == NULL)
            continue;
        size_t c = text_chars(p->series[s].label);
        if (c > MAX_LABEL_CHARS)
            c = MAX_LABEL_CHARS + 1;
        if (c > m)
            m = c;
        k++;
    }
    *n_labels = k;
    return m;
}

static const char *series_color(const struct series *s)
{
    return s->color < 0 ? REF_COLOR : palette[(size_t)s->color % N_PALETTE];
}

static void draw_polyline(struct w *w, const struct frame *f, const struct series *s,
                          const char *extra)
{
    int open = 0;
    double lx = NAN, ly = NAN;
    for (size_t i = 0; i < s->n; i++) {
        if (!isfinite(s->x[i]) || !isfinite(s->y[i])) {
            if (open)
                wp(w, "\"/>\n");
            open = 0;
            continue;
        }
        double x = round(px(f, s->x[i]) * 2) / 2, y = round(py(f, s->y[i]) * 2) / 2;
        if (open && x == lx && y == ly && i + 1 < s->n)
            continue; /* same half-pixel as the previous point */
        if (!open) {
            wp(w, "<polyline fill=\"none\" stroke=\"%s\" stroke-width=\"%s\"%s points=\"",
               series_color(s), s->kind == SERIES_REF ? "1" : "1.8", extra);
            open = 1;
        } else {
            wp(w, " ");
        }
        wp(w, "%.1f,%.1f", x, y);
        lx = x;
        ly = y;
    }
    if (open)
        wp(w, "\"/>\n");
}

static void draw_dots(struct w *w, const struct frame *f, const struct series *s, double r)
{
    wp(w, "<g fill=\"%s\">\n", series_color(s));
    double lx = NAN, ly = NAN;
    for (size_t i = 0; i < s->n; i++) {
        if (!isfinite(s->x[i]) || !isfinite(s->y[i]))
            continue;
        double x = round(px(f, s->x[i]) * 2) / 2, y = round(py(f, s->y[i]) * 2) / 2;
        if (x == lx && y == ly)
            continue;
        wp(w, "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"%.1f\"/>\n", x, y, r);
        lx = x;
        ly = y;
    }
    wp(w, "</g>\n");
}

static void draw_legend(struct w *w, const struct jc_plot *p, const struct frame *f)
{
    size_t n_labels, maxc = max_label_chars(p, &n_labels);
    if (n_labels == 0 || p->legend == JC_PLOT_LEGEND_NONE)
        return;
    double bw = 34 + (double)maxc * CHAR_PX, bh = 8 + 18.0 * (double)n_labels;
    double x = p->legend == JC_PLOT_LEGEND_TOP_LEFT || p->legend == JC_PLOT_LEGEND_BOTTOM_LEFT
                   ? f->left + 8
                   : f->left + f->w - bw - 8;
    double y = p->legend == JC_PLOT_LEGEND_TOP_LEFT || p->legend == JC_PLOT_LEGEND_TOP_RIGHT
                   ? f->top + 8
                   : f->top + f->h - bh - 8;
    wp(w,
       "<g class=\"legend\">\n<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" "
       "fill=\"#ffffff\" fill-opacity=\"0.85\" stroke=\"#cccccc\"/>\n",
       x, y, bw, bh);
    double ey = y + 4 + 9;
    for (size_t s = 0; s < p->n_series; s++) {
        const struct series *se = &p->series[s];
        if (se->label == NULL)
            continue;
        const char *c = series_color(se);
        if (se->kind == SERIES_BARS)
            wp(w, "<rect x=\"%.1f\" y=\"%.1f\" width=\"14\" height=\"10\" fill=\"%s\"/>\n", x + 8,
               ey - 5, c);
        else if (se->kind == SERIES_SCATTER)
            wp(w, "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"3.5\" fill=\"%s\"/>\n", x + 15, ey, c);
        else
            wp(w,
               "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"%s\" "
               "stroke-width=\"2\"%s/>\n",
               x + 6, ey, x + 24, ey, c, se->kind == SERIES_REF ? " stroke-dasharray=\"4 3\"" : "");
        wp(w, "<text x=\"%.1f\" y=\"%.1f\">", x + 30, ey + 4);
        wtext_short(w, se->label, MAX_LABEL_CHARS);
        wp(w, "</text>\n");
        ey += 18;
    }
    wp(w, "</g>\n");
}

int jc_plot_svg(const struct jc_plot *p, struct jc_buf *out)
{
    struct w w = {out, 0};
    struct frame f;
    memset(&f, 0, sizeof f);
    int bars = p->categories != NULL;

    /* Axis ranges. */
    double dlo, dhi;
    if (bars) {
        f.xmin = 0;
        f.xmax = (double)p->n_categories;
    } else {
        data_range(p, 1, &dlo, &dhi);
        axis_range(p->x_min, p->x_max, dlo, dhi, 0, &f.xmin, &f.xmax, f.xt, &f.nxt, &f.xstep);
    }
    data_range(p, 0, &dlo, &dhi);
    axis_range(p->y_min, p->y_max, dlo, dhi, bars, &f.ymin, &f.ymax, f.yt, &f.nyt, &f.ystep);

    /* Margins: room for the title, tick labels, axis labels, and rotated
     * category labels when they do not fit side by side. */
    size_t ylab_chars = 0;
    char tb[64];
    for (size_t i = 0; i < f.nyt; i++) {
        fmt_tick(tb, sizeof tb, f.yt[i], f.ystep);
        if (strlen(tb) > ylab_chars)
            ylab_chars = strlen(tb);
    }
    double left = 16 + (double)ylab_chars * CHAR_PX + (p->y_label ? 22 : 0);
    double top = p->title ? 34 : 14;
    double bottom = 30 + (p->x_label ? 20 : 0);
    double right = 18;
    int rotate = 0;
    if (bars) {
        size_t maxc = 0;
        for (size_t i = 0; i < p->n_categories; i++) {
            size_t c = text_chars(p->categories[i]);
            if (c > maxc)
                maxc = c;
        }
        if (maxc > 24)
            maxc = 25;
        double band = ((double)p->width - left - right) / (double)p->n_categories;
        if ((double)maxc * CHAR_PX > band * 0.95) {
            rotate = 1;
            bottom += (double)maxc * CHAR_PX * 0.6;
        }
    }
    if (left + right + 32 > p->width)
        left = 8;
    if (top + bottom + 32 > p->height)
        bottom = 8;
    f.left = left;
    f.top = top;
    f.w = (double)p->width - left - right;
    f.h = (double)p->height - top - bottom;

    wp(&w,
       "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" "
       "viewBox=\"0 0 %d %d\" font-family=\"DejaVu Sans, Arial, sans-serif\" "
       "font-size=\"%d\">\n",
       p->width, p->height, p->width, p->height, FONT_PX);
    if (p->title) {
        wp(&w, "<title>");
        wtext(&w, p->title);
        wp(&w, "</title>\n");
    }
    wp(&w, "<rect width=\"%d\" height=\"%d\" fill=\"#ffffff\"/>\n", p->width, p->height);
    if (p->title) {
        wp(&w,
           "<text x=\"%.1f\" y=\"22\" text-anchor=\"middle\" font-size=\"14\" "
           "font-weight=\"bold\">",
           (double)p->width / 2);
        wtext_short(&w, p->title, 90);
        wp(&w, "</text>\n");
    }
    wp(&w,
       "<defs><clipPath id=\"%s-clip\"><rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" "
       "height=\"%.1f\"/></clipPath></defs>\n",
       p->id, f.left - 6, f.top - 6, f.w + 12, f.h + 12);

    /* Grid and y ticks. */
    wp(&w, "<g stroke=\"#e6e6e6\" stroke-width=\"1\">\n");
    for (size_t i = 0; i < f.nyt; i++)
        wp(&w, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\"/>\n", f.left, py(&f, f.yt[i]),
           f.left + f.w, py(&f, f.yt[i]));
    if (!bars)
        for (size_t i = 0; i < f.nxt; i++)
            wp(&w, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\"/>\n", px(&f, f.xt[i]),
               f.top, px(&f, f.xt[i]), f.top + f.h);
    wp(&w, "</g>\n");
    wp(&w,
       "<g stroke=\"#333333\" stroke-width=\"1\">\n"
       "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\"/>\n"
       "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\"/>\n",
       f.left, f.top + f.h, f.left + f.w, f.top + f.h, f.left, f.top, f.left, f.top + f.h);
    for (size_t i = 0; i < f.nyt; i++)
        wp(&w, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\"/>\n", f.left - 4,
           py(&f, f.yt[i]), f.left, py(&f, f.yt[i]));
    if (!bars)
        for (size_t i = 0; i < f.nxt; i++)
            wp(&w, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\"/>\n", px(&f, f.xt[i]),
               f.top + f.h, px(&f, f.xt[i]), f.top + f.h + 4);
    wp(&w, "</g>\n");

    /* Tick labels. */
    wp(&w, "<g fill=\"#333333\">\n");
    for (size_t i = 0; i < f.nyt; i++) {
        fmt_tick(tb, sizeof tb, f.yt[i], f.ystep);
        wp(&w, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"end\">%s</text>\n", f.left - 7,
           py(&f, f.yt[i]) + 4, tb);
    }
    if (bars) {
        double band = f.w / (double)p->n_categories;
        for (size_t i = 0; i < p->n_categories; i++) {
            double cx = f.left + band * ((double)i + 0.5), cy = f.top + f.h + 16;
            if (rotate)
                wp(&w,
                   "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"end\" "
                   "transform=\"rotate(-35 %.1f %.1f)\">",
                   cx, cy, cx, cy);
            else
                wp(&w, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\">", cx, cy);
            wtext_short(&w, p->categories[i], 24);
            wp(&w, "</text>\n");
        }
    } else {
        for (size_t i = 0; i < f.nxt; i++) {
            fmt_tick(tb, sizeof tb, f.xt[i], f.xstep);
            wp(&w, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\">%s</text>\n",
               px(&f, f.xt[i]), f.top + f.h + 17, tb);
        }
    }
    wp(&w, "</g>\n");

    /* Axis labels. */
    if (p->x_label) {
        wp(&w, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\">", f.left + f.w / 2,
           (double)p->height - 8);
        wtext_short(&w, p->x_label, 80);
        wp(&w, "</text>\n");
    }
    if (p->y_label) {
        double cx = 14, cy = f.top + f.h / 2;
        wp(&w,
           "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\" "
           "transform=\"rotate(-90 %.1f %.1f)\">",
           cx, cy, cx, cy);
        wtext_short(&w, p->y_label, 60);
        wp(&w, "</text>\n");
    }

    /* Data. */
    wp(&w, "<g clip-path=\"url(#%s-clip)\">\n", p->id);
    if (bars) {
        size_t nb = p->n_series;
        double band = f.w / (double)p->n_categories;
        double bw = nb ? band * 0.8 / (double)nb : 0;
        double base = f.ymin > 0 ? f.ymin : (f.ymax < 0 ? f.ymax : 0);
        for (size_t s = 0; s < p->n_series; s++) {
            const struct series *se = &p->series[s];
            wp(&w, "<g fill=\"%s\">\n", series_color(se));
            for (size_t i = 0; i < se->n; i++) {
                if (!isfinite(se->y[i]))
                    continue;
                double x0 = f.left + band * (double)i + band * 0.1 + bw * (double)s;
                double y0 = py(&f, se->y[i]), y1 = py(&f, base);
                double yt = y0 < y1 ? y0 : y1, h = fabs(y1 - y0);
                wp(&w, "<rect x=\"%.2f\" y=\"%.2f\" width=\"%.2f\" height=\"%.2f\"><title>", x0, yt,
                   bw, h);
                wtext_short(&w, p->categories[i], 60);
                char vb[40];
                snprintf(vb, sizeof vb, ": %.6g", se->y[i]);
                wp(&w, "%s</title></rect>\n", vb);
            }
            wp(&w, "</g>\n");
        }
    } else {
        for (size_t s = 0; s < p->n_series; s++) {
            const struct series *se = &p->series[s];
            if (se->kind == SERIES_REF)
                draw_polyline(&w, &f, se, " stroke-dasharray=\"4 3\"");
            else if (se->kind == SERIES_LINE) {
                draw_polyline(&w, &f, se, " stroke-linejoin=\"round\"");
                if (p->markers)
                    draw_dots(&w, &f, se, 2.5);
            } else {
                draw_dots(&w, &f, se, 3.0);
            }
        }
    }
    wp(&w, "</g>\n");
    if (p->n_points == 0 || (!bars && p->n_colored == 0))
        wp(&w,
           "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\" fill=\"#999999\">no "
           "data</text>\n",
           f.left + f.w / 2, f.top + f.h / 2);
    draw_legend(&w, p, &f);
    wp(&w, "</svg>\n");
    return w.rc;
}

int jc_plot_save(const struct jc_plot *p, const char *path)
{
    struct jc_buf b;
    jc_buf_init(&b, JC_BUF_CAP_DEFAULT);
    int rc = jc_buf_append_str(&b, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    if (rc == JC_OK)
        rc = jc_plot_svg(p, &b);
    if (rc == JC_OK)
        rc = jc_file_write_atomic(path, b.data, b.len);
    jc_buf_free(&b);
    return rc;
}
