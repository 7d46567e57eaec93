/*
 * metrics_ctr.c - CTR metrics (junco/metrics.h).
 *
 * Everything starts from one sort of (score, label) pairs by descending
 * score; ties form groups that move together, which gives the exact AUC
 * with ties (average ranks, i.e. a tie between a positive and a negative
 * counts one half) and the threshold lists of the ROC/PR curves. GAUC sorts
 * by (user, score) instead and runs the same group walk per user. Sums are
 * accumulated in double.
 */
#include <junco/metrics.h>

#include "core/alloc.h"
#include "core/buf.h"
#include "core/json.h"
#include <junco/error.h>
#include <junco/plot.h>

#include <math.h>
#include <stdlib.h>
#include <string.h>

struct pair {
    float s;
    uint32_t u;
    uint8_t y;
};

static int cmp_desc(const void *a, const void *b)
{
    const struct pair *x = a, *y = b;
    if (x->s > y->s)
        return -1;
    if (x->s < y->s)
        return 1;
    return 0;
}

static int cmp_user_desc(const void *a, const void *b)
{
    const struct pair *x = a, *y = b;
    if (x->u != y->u)
        return x->u < y->u ? -1 : 1;
    return cmp_desc(a, b);
}

static struct pair *make_pairs(const float *score, const float *label, const uint32_t *user,
                               size_t n)
{
    struct pair *p = jc_malloc_array(n ? n : 1, sizeof *p);
    if (p == NULL)
        return NULL;
    for (size_t i = 0; i < n; i++) {
        p[i].s = score[i];
        p[i].y = label[i] > 0.5f;
        p[i].u = user ? user[i] : 0;
    }
    return p;
}

/* AUC of sorted-descending pairs p[0..n): walks tie groups; each positive
 * outranks the negatives below its group and ties half of its group's. */
static double auc_sorted(const struct pair *p, size_t n)
{
    double npos = 0, nneg = 0, acc = 0;
    size_t i = 0;
    double neg_below_total = 0;
    for (size_t k = 0; k < n; k++)
        nneg += !p[k].y;
    for (size_t k = 0; k < n; k++)
        npos += p[k].y;
    if (npos == 0 || nneg == 0)
        return NAN;
    neg_below_total = nneg;
    while (i < n) {
        size_t j = i;
        double gp = 0, gn = 0;
        while (j < n && p[j].s == p[i].s) {
            gp += p[j].y;
            gn += !p[j].y;
            j++;
        }
        neg_below_total -= gn;
        acc += gp * (neg_below_total + 0.5 * gn);
        i = j;
    }
    return acc / (npos * nneg);
}

int jc_ctr_auc(const float *score, const float *label, size_t n, double *auc)
{
    struct pair *p = make_pairs(score, label, NULL, n);
    if (p == NULL)
        return JC_ENOMEM;
    qsort(p, n, sizeof *p, cmp_desc);
    *auc = auc_sorted(p, n);
    jc_free(p);
    return JC_OK;
}

double jc_ctr_logloss(const float *score, const float *label, size_t n)
{
    const double eps = 1e-15;
    double s = 0;
    for (size_t i = 0; i < n; i++) {
        double q = score[i];
        q = q < eps ? eps : q > 1 - eps ? 1 - eps : q;
        s -= label[i] > 0.5f ? log(q) : log(1 - q);
    }
    return n ? s / (double)n : NAN;
}

/* Average precision over sorted-descending pairs. */
static double ap_sorted(const struct pair *p, size_t n, double npos)
{
    if (npos == 0)
        return NAN;
    double tp = 0, fp = 0, ap = 0, prev_r = 0;
    size_t i = 0;
    while (i < n) {
        size_t j = i;
        while (j < n && p[j].s == p[i].s) {
            tp += p[j].y;
            fp += !p[j].y;
            j++;
        }
        double r = tp / npos, prec = tp / (tp + fp);
        ap += (r - prev_r) * prec;
        prev_r = r;
        i = j;
    }
    return ap;
}

int jc_ctr_metrics_compute(const float *score, const float *label, const uint32_t *user, size_t n,
                           struct jc_ctr_metrics *out)
{
    if (n == 0)
        return jc_err_set(JC_EINVAL, "metrics: no samples");
    struct pair *p = make_pairs(score, label, user, n);
    if (p == NULL)
        return JC_ENOMEM;
    struct jc_ctr_metrics m;
    memset(&m, 0, sizeof m);
    m.n = n;
    double sp = 0, correct = 0;
    for (size_t i = 0; i < n; i++) {
        m.n_pos += p[i].y;
        sp += score[i];
        correct += (score[i] > 0.5f) == (p[i].y != 0);
    }
    m.mean_pred = sp / (double)n;
    m.pos_rate = (double)m.n_pos / (double)n;
    m.calibration = m.n_pos ? m.mean_pred / m.pos_rate : NAN;
    m.accuracy = correct / (double)n;
    m.logloss = jc_ctr_logloss(score, label, n);
    qsort(p, n, sizeof *p, cmp_desc);
    m.auc = auc_sorted(p, n);
    m.pr_auc = ap_sorted(p, n, (double)m.n_pos);
    m.gauc = NAN;
    if (user) {
        qsort(p, n, sizeof *p, cmp_user_desc);
        double wsum = 0, acc = 0;
        size_t i = 0;
        while (i < n) {
            size_t j = i;
            while (j < n && p[j].u == p[i].u)
                j++;
            double a = auc_sorted(p + i, j - i);
            if (!isnan(a)) {
                acc += a * (double)(j - i);
                wsum += (double)(j - i);
                m.gauc_users++;
            }
            i = j;
        }
        if (wsum > 0)
            m.gauc = acc / wsum;
    }
    jc_free(p);
    *out = m;
    return JC_OK;
}

int jc_ctr_metrics_json(const struct jc_ctr_metrics *m, struct jc_buf *out)
{
    struct jc_json j;
    jc_json_init(&j, out, 0);
    jc_json_obj_begin(&j);
    jc_json_kv_int(&j, "n", (int64_t)m->n);
    jc_json_kv_int(&j, "n_pos", (int64_t)m->n_pos);
    jc_json_kv_double(&j, "auc", m->auc);
    jc_json_kv_double(&j, "gauc", m->gauc);
    jc_json_kv_int(&j, "gauc_users", (int64_t)m->gauc_users);
    jc_json_kv_double(&j, "logloss", m->logloss);
    jc_json_kv_double(&j, "pr_auc", m->pr_auc);
    jc_json_kv_double(&j, "accuracy", m->accuracy);
    jc_json_kv_double(&j, "mean_pred", m->mean_pred);
    jc_json_kv_double(&j, "pos_rate", m->pos_rate);
    jc_json_kv_double(&j, "calibration", m->calibration);
    jc_json_obj_end(&j);
    return jc_json_finish(&j);
}

/* Calls fn for every distinct threshold (descending) with cumulative tp/fp. */
struct curve {
    double *thr, *tp, *fp;
    size_t k;
    double npos, nneg;
};

static int curve_build(const float *score, const float *label, size_t n, struct curve *c)
{
    memset(c, 0, sizeof *c);
    struct pair *p = make_pairs(score, label, NULL, n);
    c->thr = jc_malloc_array(n + 1, sizeof(double));
    c->tp = jc_malloc_array(n + 1, sizeof(double));
    c->fp = jc_malloc_array(n + 1, sizeof(double));
    if (!p || !c->thr || !c->tp || !c->fp) {
        jc_free(p);
        jc_free(c->thr);
        jc_free(c->tp);
        jc_free(c->fp);
        return JC_ENOMEM;
    }
    qsort(p, n, sizeof *p, cmp_desc);
    double tp = 0, fp = 0;
    size_t i = 0;
    while (i < n) {
        size_t j = i;
        while (j < n && p[j].s == p[i].s) {
            tp += p[j].y;
            fp += !p[j].y;
            j++;
        }
        c->thr[c->k] = p[i].s;
        c->tp[c->k] = tp;
        c->fp[c->k] = fp;
        c->k++;
        i = j;
    }
    c->npos = tp;
    c->nneg = fp;
    jc_free(p);
    return JC_OK;
}

static void curve_free(struct curve *c)
{
    jc_free(c->thr);
    jc_free(c->tp);
    jc_free(c->fp);
}

int jc_ctr_roc_csv(const float *score, const float *label, size_t n, struct jc_buf *out)
{
    struct curve c;
    int rc = curve_build(score, label, n, &c);
    if (rc)
        return rc;
    rc = jc_buf_append_str(out, "threshold,fpr,tpr\ninf,0,0\n");
    for (size_t i = 0; i < c.k && rc == JC_OK; i++)
        rc = jc_buf_printf(out, "%.9g,%.9g,%.9g\n", c.thr[i], c.nneg ? c.fp[i] / c.nneg : 0.0,
                           c.npos ? c.tp[i] / c.npos : 0.0);
    curve_free(&c);
    return rc;
}

int jc_ctr_pr_csv(const float *score, const float *label, size_t n, struct jc_buf *out)
{
    struct curve c;
    int rc = curve_build(score, label, n, &c);
    if (rc)
        return rc;
    rc = jc_buf_append_str(out, "threshold,precision,recall\n");
    for (size_t i = 0; i < c.k && rc == JC_OK; i++)
        rc = jc_buf_printf(out, "%.9g,%.9g,%.9g\n", c.thr[i], c.tp[i] / (c.tp[i] + c.fp[i]),
                           c.npos ? c.tp[i] / c.npos : 0.0);
    curve_free(&c);
    return rc;
}

int jc_ctr_calibration_csv(const float *score, const float *label, size_t n, uint32_t bins,
                           struct jc_buf *out)
{
    if (bins == 0 || bins > 10000)
        return jc_err_set(JC_EINVAL, "calibration: %u bins", bins);
    double *sum = jc_calloc(bins, sizeof *sum), *pos = jc_calloc(bins, sizeof *pos);
    uint64_t *cnt = jc_calloc(bins, sizeof *cnt);
    int rc = JC_ENOMEM;
    if (sum && pos && cnt) {
        for (size_t i = 0; i < n; i++) {
            double s = score[i];
            uint32_t b = s <= 0 ? 0 : s >= 1 ? bins - 1 : (uint32_t)(s * bins);
            if (b >= bins)
                b = bins - 1;
            sum[b] += s;
            pos[b] += label[i] > 0.5f;
            cnt[b]++;
        }
        rc = jc_buf_append_str(out, "bin,lo,hi,n,mean_pred,pos_rate\n");
        for (uint32_t b = 0; b < bins && rc == JC_OK; b++)
            rc = jc_buf_printf(out, "%u,%.6g,%.6g,%llu,%.9g,%.9g\n", b, (double)b / bins,
                               (double)(b + 1) / bins, (unsigned long long)cnt[b],
                               cnt[b] ? sum[b] / cnt[b] : 0.0, cnt[b] ? pos[b] / cnt[b] : 0.0);
    }
    jc_free(sum);
    jc_free(pos);
    jc_free(cnt);
    return rc;
}

static int save_plot(const char *path, const char *title, const char *xl, const char *yl,
                     const char *name, const double *x, const double *y, size_t k, int diag)
{
    struct jc_plot_config cfg;
    jc_plot_config_default(&cfg);
    cfg.title = title;
    cfg.x_label = xl;
    cfg.y_label = yl;
    cfg.x_min = 0;
    cfg.x_max = 1;
    cfg.y_min = 0;
    cfg.y_max = 1;
    struct jc_plot *p;
    int rc = jc_plot_create(&p, &cfg);
    if (rc)
        return rc;
    rc = jc_plot_line(p, name, x, y, k);
    if (rc == JC_OK && diag)
        rc = jc_plot_refline(p, 0, 0, 1, 1, "random");
    if (rc == JC_OK)
        rc = jc_plot_save(p, path);
    jc_plot_destroy(p);
    return rc;
}

int jc_ctr_curves_svg(const float *score, const float *label, size_t n, const char *name,
                      const char *roc_path, const char *pr_path)
{
    struct curve c;
    int rc = curve_build(score, label, n, &c);
    if (rc)
        return rc;
    double *x = jc_malloc_array(c.k + 1, sizeof *x), *y = jc_malloc_array(c.k + 1, sizeof *y);
    if (!x || !y) {
        rc = JC_ENOMEM;
        goto out;
    }
    if (roc_path) {
        x[0] = y[0] = 0;
        for (size_t i = 0; i < c.k; i++) {
            x[i + 1] = c.nneg ? c.fp[i] / c.nneg : 0;
            y[i + 1] = c.npos ? c.tp[i] / c.npos : 0;
        }
        rc = save_plot(roc_path, "ROC", "false positive rate", "true positive rate", name, x, y,
                       c.k + 1, 1);
    }
    if (rc == JC_OK && pr_path) {
        for (size_t i = 0; i < c.k; i++) {
            x[i] = c.npos ? c.tp[i] / c.npos : 0;
            y[i] = c.tp[i] / (c.tp[i] + c.fp[i]);
        }
        rc = save_plot(pr_path, "Precision-recall", "recall", "precision", name, x, y, c.k, 0);
    }
out:
    jc_free(x);
    jc_free(y);
    curve_free(&c);
    return rc;
}
