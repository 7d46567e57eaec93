/*
 * junco/plot.h - SVG plots written by the project: line, scatter and bar charts.
 *
 * Every figure junco produces (ROC and PR curves, metric@K curves, training
 * curves, leaderboard bars, per-segment breakdowns) is drawn by this module
 * as plain SVG text, so reports are self-contained files that any browser
 * shows and that a test can parse. A plot is built in steps:
 *
 *     struct jc_plot_config cfg;
 *     jc_plot_config_default(&cfg);
 *     cfg.title = "ROC"; cfg.x_min = 0; cfg.x_max = 1; ...
 *     struct jc_plot *p;
 *     jc_plot_create(&p, &cfg);
 *     jc_plot_line(p, "DeepFM", fpr, tpr, n);
 *     jc_plot_refline(p, 0, 0, 1, 1, "random");
 *     jc_plot_save(p, "roc.svg");      (or jc_plot_svg(p, &buf) to inline it)
 *     jc_plot_destroy(p);
 *
 * Design: the plot copies everything it is given (labels and data), so the
 * caller's arrays may be freed right after each call. Axes get "nice" ticks
 * (1, 2, 5 x 10^k) over the data range (or the range fixed in the config);
 * non-finite points are skipped (a line breaks there). Long curves are
 * thinned at drawing time: consecutive points that fall on the same
 * half-pixel are merged, so a 100k-point ROC curve stays a small file. All
 * text (title, labels, legend, categories) is XML-escaped and invalid UTF-8
 * or control bytes are replaced, so any string is safe. Output is
 * deterministic: the same calls give byte-identical SVG.
 *
 * A plot holds either categorical bars (jc_plot_set_categories +
 * jc_plot_bars, grouped when there are several series) or numeric x/y series
 * (jc_plot_line, jc_plot_scatter, jc_plot_refline); mixing them is JC_ESTATE.
 *
 * Threading: a jc_plot belongs to one thread; distinct plots are independent.
 */
#ifndef JUNCO_PLOT_H
#define JUNCO_PLOT_H

#include <stddef.h>

struct jc_plot;
struct jc_buf;

/* Hard limits (bad input beyond these is JC_ELIMIT, never a crash). */
#define JC_PLOT_MAX_SERIES     64
#define JC_PLOT_MAX_POINTS     10000000
#define JC_PLOT_MAX_CATEGORIES 4096
#define JC_PLOT_MAX_SIZE       8192 /* width and height in pixels */

enum jc_plot_legend {
    JC_PLOT_LEGEND_TOP_RIGHT = 0,
    JC_PLOT_LEGEND_TOP_LEFT,
    JC_PLOT_LEGEND_BOTTOM_RIGHT,
    JC_PLOT_LEGEND_BOTTOM_LEFT,
    JC_PLOT_LEGEND_NONE
};

struct jc_plot_config {
    int width, height; /* pixels of the whole figure (default 640 x 400) */
    const char *title; /* borrowed during jc_plot_create, copied; NULL = none */
    const char *x_label;
    const char *y_label;
    /* Axis range; NAN (the default) takes the range from the data (bars
     * always include 0). Fixed ranges clip what lies outside. */
    double x_min, x_max, y_min, y_max;
    enum jc_plot_legend legend; /* where the legend box goes (inside the axes) */
    /* Prefix of the element ids in the SVG (clip path): [A-Za-z0-9_-], at
     * most 48 bytes. Give each plot inlined into one HTML page its own id. */
    const char *id;
    int markers; /* 1: draw a dot at every point of line series */
};

/* Fills *cfg with the defaults: 640 x 400, no texts, automatic ranges,
 * legend top right, id "plot", no markers. */
void jc_plot_config_default(struct jc_plot_config *cfg);

/* Creates an empty plot. Errors: JC_EINVAL (size outside [64, JC_PLOT_MAX_SIZE],
 * bad id, x_min >= x_max or y_min >= y_max when both are fixed), JC_ENOMEM.
 * *out is set only on success; free with jc_plot_destroy. */
int jc_plot_create(struct jc_plot **out, const struct jc_plot_config *cfg);
void jc_plot_destroy(struct jc_plot *p);

/* Adds a line series of n points (x[i], y[i]); label may be NULL (no legend
 * entry). Points need not be sorted. Errors: JC_EINVAL (NULL data with n > 0),
 * JC_ESTATE (plot has bars), JC_ELIMIT (too many series or points), JC_ENOMEM. */
int jc_plot_line(struct jc_plot *p, const char *label, const double *x, const double *y, size_t n);

/* Adds a scatter series (dots, no connecting line). Errors as jc_plot_line. */
int jc_plot_scatter(struct jc_plot *p, const char *label, const double *x, const double *y,
                    size_t n);

/* Adds a dashed grey reference segment from (x0, y0) to (x1, y1), such as
 * the diagonal of a ROC plot; label NULL = no legend entry. It does not
 * widen automatic ranges. Errors: JC_EINVAL (non-finite), JC_ESTATE, JC_ELIMIT. */
int jc_plot_refline(struct jc_plot *p, double x0, double y0, double x1, double y1,
                    const char *label);

/* Sets the categories of a bar chart (x-axis labels, in order); call once,
 * before jc_plot_bars. Errors: JC_ESTATE (already set, or numeric series
 * present), JC_EINVAL (n == 0 or a NULL name), JC_ELIMIT, JC_ENOMEM. */
int jc_plot_set_categories(struct jc_plot *p, const char *const *names, size_t n);

/* Adds one bar series with one value per category (n must equal the number
 * of categories; non-finite values draw no bar). Several series are drawn
 * as grouped bars. Errors: JC_ESTATE (no categories), JC_EINVAL (n mismatch),
 * JC_ELIMIT, JC_ENOMEM. */
int jc_plot_bars(struct jc_plot *p, const char *label, const double *values, size_t n);

/* Appends the plot as one <svg> element (with xmlns, no XML prolog) to out,
 * ready to be inlined into HTML or written to a file. A plot without data
 * draws its axes and a "no data" note. Errors: JC_ENOMEM, JC_ELIMIT (out's
 * cap); out may then hold a partial element. */
int jc_plot_svg(const struct jc_plot *p, struct jc_buf *out);

/* Writes a standalone .svg file (XML prolog + the element) atomically.
 * Errors: those of jc_plot_svg and of the file writer (JC_EIO, JC_ENOSPACE);
 * the previous file at path is intact on failure. */
int jc_plot_save(const struct jc_plot *p, const char *path);

/* Appends s[0..n) to out escaped for XML/HTML text and attribute values
 * (& < > " ' become entities; control bytes other than tab/newline and
 * invalid UTF-8 bytes become U+FFFD). Used by the report writers too. */
int jc_plot_escape(struct jc_buf *out, const char *s, size_t n);

/* Computes nice axis ticks covering [lo, hi]: at most max_ticks values
 * (>= 2) from {1, 2, 5} x 10^k steps, written to ticks; returns the count
 * (0 if lo/hi are not finite or lo > hi). *step receives the spacing.
 * Exposed for tests and for other text renderers. */
size_t jc_plot_nice_ticks(double lo, double hi, size_t max_ticks, double *ticks, double *step);

#endif
