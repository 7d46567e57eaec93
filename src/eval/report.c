/*
 * report.c - rendering a suite report: results.json, the text leaderboard
 * and report.html.
 *
 * Design: everything is generated from struct jc_eval_report (eval_int.h)
 * into jc_bufs with a sticky-error writer. report.html is one
 * self-contained file: inline CSS, inline SVG figures from the plot module,
 * no scripts and no external resources. It is written as XHTML-compatible
 * HTML5 (every element closed, void elements self-closed, only the XML
 * entities), so an XML parser can check it; tests/python/check_html.py does
 * that in the test suite. Each protocol gets its own section and tables:
 * protocols are never mixed, and the sampled one is labelled as such in its
 * title, its table headers and its JSON.
 */
#include <junco/eval.h>
#include <junco/plot.h>

#include "core/alloc.h"
#include "core/buf.h"
#include "core/fileio.h"
#include "core/json.h"
#include "core/timeutil.h"
#include "eval/eval_int.h"
#include <junco/error.h>

#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

/* ---- extras ------------------------------------------------------------- */

static struct jc_eval__extra *new_extra(struct jc_eval_report *r, const char *section)
{
    struct jc_eval__extra *x = jc_realloc_array(r->extras, r->n_extras + 1, sizeof *x);
    if (x == NULL)
        return NULL;
    r->extras = x;
    x = &r->extras[r->n_extras];
    memset(x, 0, sizeof *x);
    x->section = jc_strdup(section ? section : "More");
    if (x->section == NULL)
        return NULL;
    r->n_extras++;
    return x;
}

int jc_eval_report_add_plot(struct jc_eval_report *r, const char *section,
                            const struct jc_plot *plot)
{
    struct jc_buf b;
    jc_buf_init(&b, (size_t)64 << 20);
    int rc = jc_plot_svg(plot, &b);
    if (rc) {
        jc_buf_free(&b);
        return rc;
    }
    struct jc_eval__extra *x = new_extra(r, section);
    if (x == NULL) {
        jc_buf_free(&b);
        return JC_ENOMEM;
    }
    x->svg = jc_buf_detach(&b, NULL);
    return x->svg ? JC_OK : JC_ENOMEM;
}

int jc_eval_report_add_table(struct jc_eval_report *r, const char *section, size_t n_cols,
                             const char *const *header, size_t n_rows, const char *const *cells)
{
    if (n_cols == 0 || n_cols > 64 || header == NULL || (n_rows && cells == NULL) ||
        n_rows > 100000)
        return jc_err_set(JC_EINVAL, "report: table of %zu columns and %zu rows", n_cols, n_rows);
    size_t n = (n_rows + 1) * n_cols;
    char **c = jc_calloc(n, sizeof *c);
    if (c == NULL)
        return JC_ENOMEM;
    for (size_t i = 0; i < n; i++) {
        const char *s = i < n_cols ? header[i] : cells[i - n_cols];
        c[i] = jc_strdup(s ? s : "");
        if (c[i] == NULL) {
            for (size_t j = 0; j < i; j++)
                jc_free(c[j]);
            jc_free(c);
            return JC_ENOMEM;
        }
    }
    struct jc_eval__extra *x = new_extra(r, section);
    if (x == NULL) {
        for (size_t j = 0; j < n; j++)
            jc_free(c[j]);
        jc_free(c);
        return JC_ENOMEM;
    }
    x->n_cols = n_cols;
    x->n_rows = n_rows;
    x->cells = c;
    return JC_OK;
}

int jc_eval_report_add_ctr(struct jc_eval_report *r, const struct jc_eval_ctr_result *res, size_t n)
{
    if (n == 0 || n > JC_EVAL_MAX_MODELS)
        return jc_err_set(JC_EINVAL, "report: %zu CTR rows", n);
    struct jc_eval_ctr_result *c = jc_malloc_array(n, sizeof *c);
    if (c == NULL)
        return JC_ENOMEM;
    memcpy(c, res, n * sizeof *c);
    char cells[JC_EVAL_MAX_MODELS][7][64];
    const char *ptr[JC_EVAL_MAX_MODELS * 7];
    static const char *const header[7] = {"model",     "AUC",        "GAUC",   "logloss",
                                          "test rows", "train rows", "seconds"};
    for (size_t i = 0; i < n; i++) {
        const struct jc_eval_ctr_result *x = &res[i];
        snprintf(cells[i][0], 64, "%s", x->model);
        if (x->failed) {
            snprintf(cells[i][1], 64, "failed");
            for (int k = 2; k < 7; k++)
                cells[i][k][0] = '\0';
        } else {
            snprintf(cells[i][1], 64, "%.4f", x->test.auc);
            snprintf(cells[i][2], 64, "%.4f", x->test.gauc);
            snprintf(cells[i][3], 64, "%.4f", x->test.logloss);
            snprintf(cells[i][4], 64, "%" PRIu64, x->test.n);
            snprintf(cells[i][5], 64, "%" PRIu64, x->n_train);
            snprintf(cells[i][6], 64, "%.1f", x->seconds);
        }
        for (int k = 0; k < 7; k++)
            ptr[i * 7 + (size_t)k] = cells[i][k];
    }
    int rc = jc_eval_report_add_table(
        r,
        "CTR protocol: ranking models on the temporal split (explicit labels rating >= 3.5, "
        "point-in-time features; AUC, GAUC by user, logloss on the test rows)",
        7, header, n, ptr);
    if (rc) {
        jc_free(c);
        return rc;
    }
    jc_free(r->ctr);
    r->ctr = c;
    r->n_ctr = n;
    /* training curves: validation AUC and training loss per epoch */
    static const char *const what[2] = {"validation AUC", "training loss"};
    static const char *const ids[2] = {"ctr-auc", "ctr-loss"};
    for (int k = 0; k < 2 && rc == JC_OK; k++) {
        struct jc_plot_config pc;
        jc_plot_config_default(&pc);
        pc.title = what[k];
        pc.x_label = "epoch";
        pc.y_label = what[k];
        pc.id = ids[k];
        pc.markers = 1;
        pc.legend = k ? JC_PLOT_LEGEND_TOP_RIGHT : JC_PLOT_LEGEND_BOTTOM_RIGHT;
        struct jc_plot *pl;
        if ((rc = jc_plot_create(&pl, &pc)))
            break;
        size_t lines = 0;
        for (size_t i = 0; i < n && rc == JC_OK; i++) {
            const struct jc_eval_ctr_result *x = &res[i];
            double ex[16], ey[16];
            size_t m = 0;
            for (uint32_t e = 0; e < x->n_epochs && e < 16; e++) {
                double v = k ? x->train_loss[e] : x->valid_auc[e];
                if (isfinite(v)) {
                    ex[m] = e + 1;
                    ey[m++] = v;
                }
            }
            if (x->failed || m == 0)
                continue;
            rc = jc_plot_line(pl, x->model, ex, ey, m);
            lines++;
        }
        if (rc == JC_OK && lines)
            rc = jc_eval_report_add_plot(r, "CTR protocol: training curves", pl);
        jc_plot_destroy(pl);
    }
    return rc;
}

/* ---- helpers ------------------------------------------------------------ */

static void fmt_params(const struct jc_eval__model_run *m, char *out, size_t cap)
{
    size_t w = 0;
    out[0] = '\0';
    for (size_t p = 0; p < m->n_params && w < cap; p++) {
        int n = snprintf(out + w, cap - w, "%s%s=%g", p ? ", " : "", m->model->params[p].name,
                         m->params[p]);
        if (n < 0)
            break;
        w += (size_t)n;
    }
    if (m->n_params == 0)
        snprintf(out, cap, "-");
}

static void hex64(uint64_t v, char out[17])
{
    snprintf(out, 17, "%016" PRIx64, v);
}

/* ---- JSON --------------------------------------------------------------- */

static void json_split(struct jc_json *j, const struct jc_split_info *s)
{
    char hex[17];
    jc_json_obj_begin(j);
    jc_json_kv_str(j, "kind", jc_split_kind_name(s->kind));
    hex64(s->checksum, hex);
    jc_json_kv_str(j, "checksum", hex);
    jc_json_kv_int(j, "seed", (int64_t)s->seed);
    if (s->kind != JC_SPLIT_LOO) {
        jc_json_kv_double(j, "valid_frac", s->valid_frac);
        jc_json_kv_double(j, "test_frac", s->test_frac);
    }
    if (isfinite(s->min_value))
        jc_json_kv_double(j, "min_value", s->min_value);
    jc_json_kv_int(j, "events_in", (int64_t)s->n_input);
    jc_json_kv_int(j, "dropped", (int64_t)s->n_dropped);
    jc_json_kv_int(j, "duplicates", (int64_t)s->n_duplicates);
    jc_json_kv_int(j, "train", (int64_t)s->n_events[JC_PART_TRAIN]);
    jc_json_kv_int(j, "valid", (int64_t)s->n_events[JC_PART_VALID]);
    jc_json_kv_int(j, "test", (int64_t)s->n_events[JC_PART_TEST]);
    jc_json_kv_int(j, "users_train", s->n_users_with[JC_PART_TRAIN]);
    jc_json_kv_int(j, "users_test", s->n_users_with[JC_PART_TEST]);
    if (s->kind == JC_SPLIT_TEMPORAL) {
        jc_json_kv_int(j, "valid_from", s->valid_from);
        jc_json_kv_int(j, "test_from", s->test_from);
    }
    jc_json_obj_end(j);
}

int jc_eval_report_json(const struct jc_eval_report *r, struct jc_buf *out)
{
    struct jc_json j;
    jc_json_init(&j, out, 1);
    char hex[17];
    jc_json_obj_begin(&j);
    jc_json_kv_str(&j, "format", "junco-eval-results");
    jc_json_kv_int(&j, "version", 1);
    jc_json_kv_int(&j, "created", r->created);
    jc_json_key(&j, "dataset");
    jc_json_obj_begin(&j);
    hex64(r->catalog_checksum, hex);
    jc_json_kv_str(&j, "catalog_checksum", hex);
    jc_json_kv_int(&j, "users", r->n_users);
    jc_json_kv_int(&j, "items", r->n_items);
    jc_json_kv_int(&j, "interactions", (int64_t)r->n_interactions);
    jc_json_obj_end(&j);
    jc_json_key(&j, "config");
    jc_json_obj_begin(&j);
    jc_json_kv_int(&j, "seed", (int64_t)r->seed);
    jc_json_key(&j, "ks");
    jc_json_arr_begin(&j);
    for (size_t k = 0; k < r->eval.n_ks; k++)
        jc_json_int(&j, r->eval.ks[k]);
    jc_json_arr_end(&j);
    jc_json_key(&j, "recall_ns");
    jc_json_arr_begin(&j);
    for (size_t k = 0; k < r->eval.n_recall_ns; k++)
        jc_json_int(&j, r->eval.recall_ns[k]);
    jc_json_arr_end(&j);
    jc_json_kv_int(&j, "negatives", r->eval.n_negatives);
    jc_json_kv_bool(&j, "skip_cold", r->eval.skip_cold);
    jc_json_kv_str(&j, "search", r->strategy == JC_SEARCH_RANDOM ? "random" : "grid");
    jc_json_kv_int(&j, "budget", r->budget);
    jc_json_kv_str(&j, "objective", r->metric);
    jc_json_kv_bool(&j, "refit", r->refit);
    jc_json_obj_end(&j);
    jc_json_kv_double(&j, "seconds", r->seconds);
    jc_json_key(&j, "protocols");
    jc_json_arr_begin(&j);
    for (size_t p = 0; p < r->n_protos; p++) {
        const struct jc_eval__proto_run *pr = &r->protos[p];
        jc_json_obj_begin(&j);
        jc_json_kv_str(&j, "name", jc_eval_protocol_name(pr->proto));
        jc_json_kv_str(&j, "title", jc_eval_protocol_title(pr->proto));
        jc_json_kv_bool(&j, "sampled", pr->proto == JC_PROTO_LOO_SAMPLED);
        jc_json_key(&j, "split");
        json_split(&j, &pr->split);
        jc_json_key(&j, "models");
        jc_json_arr_begin(&j);
        for (size_t m = 0; m < pr->n_models; m++) {
            const struct jc_eval__model_run *mr = &pr->models[m];
            jc_json_obj_begin(&j);
            jc_json_kv_str(&j, "model", mr->model->name);
            if (mr->failed) {
                jc_json_kv_str(&j, "error", mr->error);
                jc_json_obj_end(&j);
                continue;
            }
            jc_json_key(&j, "params");
            jc_json_obj_begin(&j);
            for (size_t q = 0; q < mr->n_params; q++)
                jc_json_kv_double(&j, mr->model->params[q].name, mr->params[q]);
            jc_json_obj_end(&j);
            jc_json_kv_double(&j, "valid_objective", mr->valid_objective);
            jc_json_kv_double(&j, "fit_seconds", mr->fit_seconds);
            jc_json_kv_double(&j, "total_seconds", mr->total_seconds);
            jc_json_key(&j, "trials");
            jc_json_arr_begin(&j);
            for (size_t t = 0; t < mr->search.n_trials; t++) {
                const struct jc_search_trial *tr = &mr->search.trials[t];
                jc_json_obj_begin(&j);
                jc_json_key(&j, "params");
                jc_json_obj_begin(&j);
                for (size_t q = 0; q < mr->n_params; q++)
                    jc_json_kv_double(&j, mr->model->params[q].name, tr->params[q]);
                jc_json_obj_end(&j);
                jc_json_kv_double(&j, "objective", tr->objective);
                jc_json_kv_double(&j, "fit_seconds", tr->fit_seconds);
                jc_json_kv_double(&j, "eval_seconds", tr->eval_seconds);
                jc_json_obj_end(&j);
            }
            jc_json_arr_end(&j);
            jc_json_key(&j, "test");
            jc_eval__result_json(&j, &mr->test);
            jc_json_obj_end(&j);
        }
        jc_json_arr_end(&j);
        jc_json_obj_end(&j);
    }
    jc_json_arr_end(&j);
    if (r->n_ctr) {
        jc_json_key(&j, "ctr");
        jc_json_arr_begin(&j);
        for (size_t i = 0; i < r->n_ctr; i++) {
            const struct jc_eval_ctr_result *x = &r->ctr[i];
            jc_json_obj_begin(&j);
            jc_json_kv_str(&j, "model", x->model);
            if (x->failed) {
                jc_json_kv_str(&j, "error", x->error);
            } else {
                jc_json_kv_double(&j, "auc", x->test.auc);
                jc_json_kv_double(&j, "gauc", x->test.gauc);
                jc_json_kv_double(&j, "logloss", x->test.logloss);
                jc_json_kv_int(&j, "test_rows", (int64_t)x->test.n);
                jc_json_kv_int(&j, "train_rows", (int64_t)x->n_train);
                jc_json_kv_double(&j, "seconds", x->seconds);
                jc_json_key(&j, "valid_auc_by_epoch");
                jc_json_arr_begin(&j);
                for (uint32_t e = 0; e < x->n_epochs && e < 16; e++)
                    jc_json_double(&j, x->valid_auc[e]);
                jc_json_arr_end(&j);
                jc_json_key(&j, "train_loss_by_epoch");
                jc_json_arr_begin(&j);
                for (uint32_t e = 0; e < x->n_epochs && e < 16; e++)
                    jc_json_double(&j, x->train_loss[e]);
                jc_json_arr_end(&j);
            }
            jc_json_obj_end(&j);
        }
        jc_json_arr_end(&j);
    }
    jc_json_obj_end(&j);
    return jc_json_finish(&j);
}

/* ---- text --------------------------------------------------------------- */

int jc_eval_report_text(const struct jc_eval_report *r, struct jc_buf *out)
{
    int rc = JC_OK;
    char hex[17], params[160];
    uint32_t k0 = r->eval.n_ks ? r->eval.ks[0] : 10;
    for (size_t p = 0; p < r->n_protos && rc == JC_OK; p++) {
        const struct jc_eval__proto_run *pr = &r->protos[p];
        int sampled = pr->proto == JC_PROTO_LOO_SAMPLED;
        hex64(pr->split.checksum, hex);
        rc = jc_buf_printf(out,
                           "== %s [%s]\n   split %s checksum %s seed %" PRIu64 ": train %" PRIu64
                           ", valid %" PRIu64 ", test %" PRIu64 " events\n",
                           jc_eval_protocol_title(pr->proto), jc_eval_protocol_name(pr->proto),
                           jc_split_kind_name(pr->split.kind), hex, pr->split.seed,
                           pr->split.n_events[0], pr->split.n_events[1], pr->split.n_events[2]);
        if (rc == JC_OK && sampled)
            rc = jc_buf_printf(out,
                               "   SAMPLED: each held-out item ranked against %u sampled "
                               "negatives; not comparable with full ranking\n",
                               r->eval.n_negatives);
        if (rc == JC_OK)
            rc = jc_buf_printf(out, "   %-12s %-40s %9s %9s %9s %9s %9s %9s %6s\n", "model",
                               "params", "ndcg@K", "recall@K", "hr@K", "mrr@K", "prec@K", "map@K",
                               "users");
        for (size_t m = 0; m < pr->n_models && rc == JC_OK; m++) {
            const struct jc_eval__model_run *mr = &pr->models[m];
            if (mr->failed) {
                rc = jc_buf_printf(out, "   %-12s failed: %s\n", mr->model->name, mr->error);
                continue;
            }
            fmt_params(mr, params, sizeof params);
            const struct jc_rank_metrics *x = &mr->test.at[0].m;
            rc = jc_buf_printf(out, "   %-12s %-40.40s %9.4f %9.4f %9.4f %9.4f %9.4f %9.4f %6u\n",
                               mr->model->name, params, x->ndcg, x->recall, x->hit, x->mrr,
                               x->precision, x->map, mr->test.n_users);
        }
        if (rc == JC_OK)
            rc = jc_buf_printf(out, "   (K = %u%s)\n\n", k0, sampled ? ", sampled" : "");
    }
    if (rc == JC_OK && r->n_ctr)
        rc = jc_buf_printf(out,
                           "== CTR protocol: ranking models, temporal split [ctr]\n"
                           "   %-12s %9s %9s %9s %9s\n",
                           "model", "auc", "gauc", "logloss", "rows");
    for (size_t i = 0; i < r->n_ctr && rc == JC_OK; i++) {
        const struct jc_eval_ctr_result *x = &r->ctr[i];
        if (x->failed)
            rc = jc_buf_printf(out, "   %-12s failed: %s\n", x->model, x->error);
        else
            rc = jc_buf_printf(out, "   %-12s %9.4f %9.4f %9.4f %9" PRIu64 "\n", x->model,
                               x->test.auc, x->test.gauc, x->test.logloss, x->test.n);
    }
    if (rc == JC_OK && r->n_ctr)
        rc = jc_buf_printf(out, "\n");
    return rc;
}

/* ---- HTML --------------------------------------------------------------- */

struct hw {
    struct jc_buf *b;
    int rc;
};

static void h(struct hw *w, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void h(struct hw *w, const char *fmt, ...)
{
    if (w->rc)
        return;
    va_list ap;
    va_start(ap, fmt);
    w->rc = jc_buf_vprintf(w->b, fmt, ap);
    va_end(ap);
}

static void esc(struct hw *w, const char *s)
{
    if (w->rc == 0)
        w->rc = jc_plot_escape(w->b, s, strlen(s));
}

static void plot_into(struct hw *w, struct jc_plot *p)
{
    if (w->rc == 0)
        w->rc = jc_plot_svg(p, w->b);
}

static const char css[] =
    "body{font-family:'DejaVu Sans',Arial,sans-serif;margin:24px auto;max-width:1200px;"
    "color:#222;line-height:1.4}"
    "h1{font-size:26px}h2{font-size:20px;border-bottom:2px solid #4e79a7;padding-bottom:4px;"
    "margin-top:40px}h3{font-size:16px;margin-top:24px}"
    "table{border-collapse:collapse;margin:8px 0 16px 0;font-size:13px}"
    "th,td{border:1px solid #ccc;padding:4px 8px;text-align:right}"
    "th{background:#f0f3f7}td.l,th.l{text-align:left}"
    "td.best{font-weight:bold;background:#eef6ee}"
    ".meta{color:#555;font-size:13px}.warn{background:#fff3cd;border:1px solid #e0c36b;"
    "padding:6px 10px;font-weight:bold}"
    ".figs{display:flex;flex-wrap:wrap;gap:12px}.err{color:#b00}"
    "code{background:#f4f4f4;padding:1px 4px}";

/* The six accuracy metrics in table order. */
static double metric_of(const struct jc_rank_metrics *m, int i)
{
    switch (i) {
    case 0:
        return m->ndcg;
    case 1:
        return m->recall;
    case 2:
        return m->hit;
    case 3:
        return m->mrr;
    case 4:
        return m->precision;
    default:
        return m->map;
    }
}
static const char *const metric_label[6] = {"NDCG", "Recall", "HR", "MRR", "Precision", "MAP"};

static void leaderboard(struct hw *w, const struct jc_eval_report *r,
                        const struct jc_eval__proto_run *pr)
{
    int sampled = pr->proto == JC_PROTO_LOO_SAMPLED;
    const char *tag = sampled ? " (sampled)" : "";
    size_t nk = r->eval.n_ks;
    char params[200];
    for (size_t k = 0; k < nk; k++) {
        uint32_t K = r->eval.ks[k];
        /* best per column */
        double best[6 + 4];
        size_t ncol = 6 + (sampled ? 0 : 4);
        for (size_t c = 0; c < ncol; c++)
            best[c] = -INFINITY;
        for (size_t m = 0; m < pr->n_models; m++) {
            const struct jc_eval__model_run *mr = &pr->models[m];
            if (mr->failed)
                continue;
            for (int c = 0; c < 6; c++)
                if (metric_of(&mr->test.at[k].m, c) > best[c])
                    best[c] = metric_of(&mr->test.at[k].m, c);
            if (!sampled) {
                double v[4] = {mr->test.at[k].coverage, -mr->test.at[k].gini,
                               mr->test.at[k].novelty, mr->test.at[k].ild};
                for (int c = 0; c < 4; c++)
                    if (v[c] > best[6 + c])
                        best[6 + c] = v[c];
            }
        }
        h(w,
          "<h3>Leaderboard at K = %u%s</h3>\n<table class=\"leaderboard\">\n<tr>"
          "<th class=\"l\">model</th><th class=\"l\">parameters (tuned on valid)</th>",
          K, tag);
        for (int c = 0; c < 6; c++)
            h(w, "<th>%s@%u%s</th>", metric_label[c], K, tag);
        if (!sampled) {
            h(w, "<th>Coverage@%u</th><th>Gini@%u</th><th>Novelty@%u</th><th>ILD@%u</th>", K, K, K,
              K);
        }
        h(w, "<th>users</th></tr>\n");
        for (size_t m = 0; m < pr->n_models; m++) {
            const struct jc_eval__model_run *mr = &pr->models[m];
            h(w, "<tr><td class=\"l\">");
            esc(w, mr->model->name);
            h(w, "</td>");
            if (mr->failed) {
                h(w, "<td class=\"l err\" colspan=\"%zu\">failed: ", ncol + 2);
                esc(w, mr->error);
                h(w, "</td></tr>\n");
                continue;
            }
            fmt_params(mr, params, sizeof params);
            h(w, "<td class=\"l\">");
            esc(w, params);
            h(w, "</td>");
            for (int c = 0; c < 6; c++) {
                double v = metric_of(&mr->test.at[k].m, c);
                h(w, "<td%s>%.4f</td>", v == best[c] ? " class=\"best\"" : "", v);
            }
            if (!sampled) {
                const struct jc_eval_at *a = &mr->test.at[k];
                double v[4] = {a->coverage, -a->gini, a->novelty, a->ild};
                for (int c = 0; c < 4; c++) {
                    if (isnan(v[c]))
                        h(w, "<td>n/a</td>");
                    else
                        h(w, "<td%s>%.4f</td>", v[c] == best[6 + c] ? " class=\"best\"" : "",
                          c == 1 ? -v[c] : v[c]);
                }
            }
            h(w, "<td>%u</td></tr>\n", mr->test.n_users);
        }
        h(w, "</table>\n");
    }
    if (sampled || r->eval.n_recall_ns == 0)
        return;
    h(w, "<h3>Recall layer: share of held-out items inside the top N</h3>\n<table>\n<tr>"
         "<th class=\"l\">model</th>");
    for (size_t n = 0; n < r->eval.n_recall_ns; n++)
        h(w, "<th>hit rate@%u</th>", r->eval.recall_ns[n]);
    h(w, "</tr>\n");
    for (size_t m = 0; m < pr->n_models; m++) {
        const struct jc_eval__model_run *mr = &pr->models[m];
        if (mr->failed)
            continue;
        h(w, "<tr><td class=\"l\">");
        esc(w, mr->model->name);
        h(w, "</td>");
        for (size_t n = 0; n < mr->test.n_recall_ns; n++)
            h(w, "<td>%.4f</td>", mr->test.recall_hit[n]);
        h(w, "</tr>\n");
    }
    h(w, "</table>\n");
}

static void search_table(struct hw *w, const struct jc_eval__proto_run *pr, const char *metric)
{
    char params[200];
    h(w, "<h3>Hyper-parameter search (validation part only)</h3>\n<table>\n<tr>"
         "<th class=\"l\">model</th><th>trials</th><th class=\"l\">chosen</th><th>valid ");
    esc(w, metric);
    h(w, "</th><th>final fit s</th><th>total s</th><th class=\"l\">all trials (objective)</th>"
         "</tr>\n");
    for (size_t m = 0; m < pr->n_models; m++) {
        const struct jc_eval__model_run *mr = &pr->models[m];
        if (mr->failed)
            continue;
        fmt_params(mr, params, sizeof params);
        h(w, "<tr><td class=\"l\">");
        esc(w, mr->model->name);
        h(w, "</td><td>%zu</td><td class=\"l\">", mr->search.n_trials);
        esc(w, params);
        h(w, "</td><td>%.4f</td><td>%.2f</td><td>%.2f</td><td class=\"l\">", mr->valid_objective,
          mr->fit_seconds, mr->total_seconds);
        for (size_t t = 0; t < mr->search.n_trials; t++) {
            const struct jc_search_trial *tr = &mr->search.trials[t];
            h(w, "%s(", t ? "; " : "");
            for (size_t q = 0; q < mr->n_params; q++)
                h(w, "%s%g", q ? ", " : "", tr->params[q]);
            h(w, ") %.4f", tr->objective);
        }
        h(w, "</td></tr>\n");
    }
    h(w, "</table>\n");
}

static int make_plot(struct jc_plot **p, const char *id, const char *title, const char *xl,
                     const char *yl, int w, int hgt)
{
    struct jc_plot_config c;
    jc_plot_config_default(&c);
    c.id = id;
    c.title = title;
    c.x_label = xl;
    c.y_label = yl;
    c.width = w;
    c.height = hgt;
    c.markers = 1;
    c.y_min = 0;
    return jc_plot_create(p, &c);
}

static void figures(struct hw *w, const struct jc_eval_report *r,
                    const struct jc_eval__proto_run *pr, size_t pi)
{
    int sampled = pr->proto == JC_PROTO_LOO_SAMPLED;
    size_t nk = r->eval.n_ks;
    char id[48], title[128];
    h(w, "<h3>Figures</h3>\n<div class=\"figs\">\n");
    /* metric@K curves */
    for (int c = 0; c < 2 && w->rc == JC_OK; c++) {
        int mi = c == 0 ? 0 : (sampled ? 2 : 1); /* NDCG, then Recall (HR when sampled) */
        struct jc_plot *p;
        snprintf(id, sizeof id, "p%zu-k%d", pi, c);
        snprintf(title, sizeof title, "%s@K%s", metric_label[mi], sampled ? " (sampled)" : "");
        if ((w->rc = make_plot(&p, id, title, "K", metric_label[mi], 560, 340)))
            break;
        for (size_t m = 0; m < pr->n_models && w->rc == JC_OK; m++) {
            const struct jc_eval__model_run *mr = &pr->models[m];
            if (mr->failed)
                continue;
            double x[JC_EVAL_MAX_K], y[JC_EVAL_MAX_K];
            for (size_t k = 0; k < nk; k++) {
                x[k] = r->eval.ks[k];
                y[k] = metric_of(&mr->test.at[k].m, mi);
            }
            w->rc = jc_plot_line(p, mr->model->name, x, y, nk);
        }
        plot_into(w, p);
        jc_plot_destroy(p);
    }
    /* per-segment breakdown at the first K */
    const struct jc_eval__model_run *ref = NULL;
    for (size_t m = 0; m < pr->n_models && ref == NULL; m++)
        if (!pr->models[m].failed && pr->models[m].test.n_segments)
            ref = &pr->models[m];
    if (ref && w->rc == JC_OK) {
        struct jc_plot *p;
        const char *names[JC_EVAL_MAX_SEGMENTS];
        for (size_t s = 0; s < ref->test.n_segments; s++)
            names[s] = ref->test.segments[s].label;
        snprintf(id, sizeof id, "p%zu-seg", pi);
        snprintf(title, sizeof title, "NDCG@%u by user activity (training items)", r->eval.ks[0]);
        w->rc = make_plot(&p, id, title, NULL, "NDCG", 560, 340);
        if (w->rc == JC_OK) {
            w->rc = jc_plot_set_categories(p, names, ref->test.n_segments);
            for (size_t m = 0; m < pr->n_models && w->rc == JC_OK; m++) {
                const struct jc_eval__model_run *mr = &pr->models[m];
                if (mr->failed || mr->test.n_segments != ref->test.n_segments)
                    continue;
                double v[JC_EVAL_MAX_SEGMENTS];
                for (size_t s = 0; s < mr->test.n_segments; s++)
                    v[s] = mr->test.segments[s].at[0].ndcg;
                w->rc = jc_plot_bars(p, mr->model->name, v, mr->test.n_segments);
            }
            plot_into(w, p);
            jc_plot_destroy(p);
        }
    }
    /* recall layer */
    if (!sampled && r->eval.n_recall_ns && w->rc == JC_OK) {
        struct jc_plot *p;
        snprintf(id, sizeof id, "p%zu-rl", pi);
        w->rc = make_plot(&p, id, "Recall layer: held-out items in the top N", "N", "hit rate", 560,
                          340);
        for (size_t m = 0; m < pr->n_models && w->rc == JC_OK; m++) {
            const struct jc_eval__model_run *mr = &pr->models[m];
            if (mr->failed)
                continue;
            double x[JC_EVAL_MAX_K], y[JC_EVAL_MAX_K];
            for (size_t n = 0; n < mr->test.n_recall_ns; n++) {
                x[n] = mr->test.recall_ns[n];
                y[n] = mr->test.recall_hit[n];
            }
            w->rc = jc_plot_line(p, mr->model->name, x, y, mr->test.n_recall_ns);
        }
        if (w->rc == JC_OK)
            plot_into(w, p);
        jc_plot_destroy(p);
    }
    h(w, "</div>\n");
    /* segment table */
    if (ref) {
        h(w, "<h3>Per-segment breakdown (users by number of training items)</h3>\n<table>\n"
             "<tr><th class=\"l\">model</th>");
        for (size_t s = 0; s < ref->test.n_segments; s++) {
            h(w, "<th>NDCG@%u ", r->eval.ks[0]);
            esc(w, ref->test.segments[s].label);
            h(w, " (%u users)</th>", ref->test.segments[s].n_users);
        }
        h(w, "</tr>\n");
        for (size_t m = 0; m < pr->n_models; m++) {
            const struct jc_eval__model_run *mr = &pr->models[m];
            if (mr->failed || mr->test.n_segments != ref->test.n_segments)
                continue;
            h(w, "<tr><td class=\"l\">");
            esc(w, mr->model->name);
            h(w, "</td>");
            for (size_t s = 0; s < mr->test.n_segments; s++)
                h(w, "<td>%.4f</td>", mr->test.segments[s].at[0].ndcg);
            h(w, "</tr>\n");
        }
        h(w, "</table>\n");
    }
}

static int render_html(const struct jc_eval_report *r, struct jc_buf *out)
{
    struct hw w = {out, 0};
    char hex[17], when[64];
    hex64(r->catalog_checksum, hex);
    jc_fmt_utc(when, sizeof when, r->created);
    h(&w,
      "<!DOCTYPE html>\n<html xmlns=\"http://www.w3.org/1999/xhtml\" lang=\"en\">\n<head>\n"
      "<meta charset=\"utf-8\"/>\n<title>junco evaluation report</title>\n<style>%s</style>\n"
      "</head>\n<body>\n<h1>junco evaluation report</h1>\n",
      css);
    h(&w,
      "<p class=\"meta\">Catalog <code>%s</code>: %u users, %u items, %" PRIu64
      " interactions. Created %s. Seed %" PRIu64 ". Cut-offs K =",
      hex, r->n_users, r->n_items, r->n_interactions, when, r->seed);
    for (size_t k = 0; k < r->eval.n_ks; k++)
        h(&w, "%s %u", k ? "," : "", r->eval.ks[k]);
    h(&w, ". Hyper-parameters: %s search, at most %u trials, objective <code>",
      r->strategy == JC_SEARCH_RANDOM ? "random" : "grid", r->budget);
    esc(&w, r->metric);
    h(&w,
      "</code> on the validation part; final models %s, evaluated once on the test part. "
      "Total time %.1f s.</p>\n",
      r->refit ? "refitted on train+valid (train+valid masked)" : "fitted on train only",
      r->seconds);
    h(&w, "<p class=\"meta\">Interactions are implicit feedback (repeated user-item pairs keep "
          "the first). Full ranking ranks every item with the user's known items masked; ties "
          "go to the lower item id. Protocols are never mixed in one table.</p>\n<ul>\n");
    for (size_t p = 0; p < r->n_protos; p++)
        h(&w, "<li><a href=\"#proto-%s\">%s</a></li>\n", jc_eval_protocol_name(r->protos[p].proto),
          jc_eval_protocol_title(r->protos[p].proto));
    h(&w, "<li><a href=\"#more\">More: ROC / PR and training curves</a></li>\n</ul>\n");
    /* what each model is and how it was trained (deep models, pipeline) */
    if (r->n_protos) {
        h(&w, "<p class=\"meta\">Models:</p>\n<ul class=\"meta\">\n");
        const struct jc_eval__proto_run *p0 = &r->protos[0];
        for (size_t m = 0; m < p0->n_models; m++) {
            h(&w, "<li><b>");
            esc(&w, p0->models[m].model->name);
            h(&w, "</b>: ");
            esc(&w, p0->models[m].model->description ? p0->models[m].model->description : "");
            h(&w, "</li>\n");
        }
        h(&w, "</ul>\n");
    }
    for (size_t p = 0; p < r->n_protos && w.rc == JC_OK; p++) {
        const struct jc_eval__proto_run *pr = &r->protos[p];
        const struct jc_split_info *s = &pr->split;
        hex64(s->checksum, hex);
        h(&w, "<section id=\"proto-%s\">\n<h2>%s</h2>\n", jc_eval_protocol_name(pr->proto),
          jc_eval_protocol_title(pr->proto));
        if (pr->proto == JC_PROTO_LOO_SAMPLED)
            h(&w,
              "<p class=\"warn\">SAMPLED ranking: each user's held-out item is ranked against "
              "%u negatives sampled uniformly from the items the user never interacted "
              "with (the NCF paper protocol). These numbers are much higher than full-ranking "
              "numbers and are only comparable with papers that use the same protocol.</p>\n",
              r->eval.n_negatives);
        h(&w,
          "<p class=\"meta\">Split <b>%s</b>, checksum <code>%s</code>, seed %" PRIu64
          ": train %" PRIu64 ", valid %" PRIu64 ", test %" PRIu64 " events (%" PRIu64
          " duplicates removed); %u users with test items.",
          jc_split_kind_name(s->kind), hex, s->seed, s->n_events[0], s->n_events[1], s->n_events[2],
          s->n_duplicates, s->n_users_with[JC_PART_TEST]);
        if (pr->n_models && !pr->models[0].failed)
            h(&w, " Evaluated users: %u; cold users skipped (no training item): %u.",
              pr->models[0].test.n_users, pr->models[0].test.n_cold_skipped);
        h(&w, "</p>\n");
        leaderboard(&w, r, pr);
        figures(&w, r, pr, p);
        search_table(&w, pr, r->metric);
        h(&w, "</section>\n");
    }
    h(&w, "<section id=\"more\">\n<h2>More: ROC / PR and training curves</h2>\n");
    if (r->n_extras == 0)
        h(&w, "<p class=\"meta\">No CTR models or training runs were attached to this report. "
              "Ranking models add their ROC / PR curves and training curves here "
              "(jc_eval_report_add_plot / jc_eval_report_add_table).</p>\n");
    const char *last = NULL;
    for (size_t i = 0; i < r->n_extras && w.rc == JC_OK; i++) {
        const struct jc_eval__extra *x = &r->extras[i];
        if (last == NULL || strcmp(last, x->section) != 0) {
            h(&w, "<h3>");
            esc(&w, x->section);
            h(&w, "</h3>\n");
            last = x->section;
        }
        if (x->svg) {
            h(&w, "<div class=\"figs\">\n%s</div>\n", x->svg);
            continue;
        }
        h(&w, "<table>\n");
        for (size_t row = 0; row <= x->n_rows; row++) {
            h(&w, "<tr>");
            for (size_t c = 0; c < x->n_cols; c++) {
                h(&w, row ? "<td class=\"l\">" : "<th class=\"l\">");
                esc(&w, x->cells[row * x->n_cols + c]);
                h(&w, row ? "</td>" : "</th>");
            }
            h(&w, "</tr>\n");
        }
        h(&w, "</table>\n");
    }
    h(&w,
      "</section>\n<p class=\"meta\">Generated by junco %s. Metric definitions: "
      "include/junco/rankmetrics.h.</p>\n</body>\n</html>\n",
#ifdef JUNCO_VERSION_STRING
      JUNCO_VERSION_STRING
#else
      "?"
#endif
    );
    return w.rc;
}

int jc_eval_report_write(const struct jc_eval_report *r, const char *dir)
{
    int rc = jc_mkdir_p(dir);
    if (rc)
        return rc;
    char path[4096];
    struct jc_buf b;
    jc_buf_init(&b, (size_t)1 << 30);
    rc = render_html(r, &b);
    if (rc == JC_OK)
        rc = jc_path_join(path, sizeof path, dir, "report.html");
    if (rc == JC_OK)
        rc = jc_file_write_atomic(path, b.data, b.len);
    jc_buf_reset(&b);
    if (rc == JC_OK)
        rc = jc_eval_report_json(r, &b);
    if (rc == JC_OK)
        rc = jc_path_join(path, sizeof path, dir, "results.json");
    if (rc == JC_OK)
        rc = jc_file_write_atomic(path, b.data, b.len);
    jc_buf_free(&b);
    return rc;
}
