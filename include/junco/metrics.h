/*
 * junco/metrics.h - CTR / ranking-model metrics over (score, label) pairs:
 * AUC (exact, ties get average ranks), GAUC (per-user AUC weighted by the
 * user's number of samples, users with a single class skipped), logloss
 * (probabilities clipped to [1e-15, 1 - 1e-15], as scikit-learn),
 * PR-AUC as average precision (scikit-learn's average_precision_score),
 * accuracy at threshold 0.5 (prediction 1 when score > 0.5), and
 * calibration (mean prediction / positive rate). ROC, PR and reliability
 * curves are written as CSV, and ROC/PR as SVG through junco/plot.h.
 * Cross-checked against scikit-learn to 1e-6 (tests/unit/test_metrics_ctr.c).
 *
 * Scores are probabilities in [0, 1] for logloss/accuracy/calibration;
 * AUC, GAUC and PR-AUC only use their order. Labels are 0/1 (> 0.5 = 1).
 * Functions are pure, thread-safe, and allocate O(n) scratch memory.
 */
#ifndef JUNCO_METRICS_H
#define JUNCO_METRICS_H

#include <stddef.h>
#include <stdint.h>

struct jc_buf;

struct jc_ctr_metrics {
    uint64_t n, n_pos;
    double auc;          /* NaN when only one class is present */
    double gauc;         /* NaN without users or when no user has both classes */
    uint64_t gauc_users; /* users that entered the GAUC */
    double logloss;
    double pr_auc; /* average precision; NaN without positives */
    double accuracy;
    double mean_pred, pos_rate;
    double calibration; /* mean_pred / pos_rate (NaN without positives) */
};

/* Every metric of n pairs; user (may be NULL: no GAUC) gives each row's
 * user for GAUC. JC_EINVAL for n == 0, JC_ENOMEM. */
int jc_ctr_metrics_compute(const float *score, const float *label, const uint32_t *user, size_t n,
                           struct jc_ctr_metrics *out);
/* AUC alone (NaN with one class). JC_ENOMEM. */
int jc_ctr_auc(const float *score, const float *label, size_t n, double *auc);
/* Mean logloss alone. */
double jc_ctr_logloss(const float *score, const float *label, size_t n);

/* Appends the metrics as one JSON object (keys as the struct's fields). */
int jc_ctr_metrics_json(const struct jc_ctr_metrics *m, struct jc_buf *out);

/*
 * Curves as CSV with a header line, one row per distinct score threshold,
 * thresholds descending:
 *   ROC: "threshold,fpr,tpr" starting with the row "inf,0,0";
 *   PR:  "threshold,precision,recall";
 *   calibration: "bin,lo,hi,n,mean_pred,pos_rate" over `bins` equal-width
 *   bins of the score.
 */
int jc_ctr_roc_csv(const float *score, const float *label, size_t n, struct jc_buf *out);
int jc_ctr_pr_csv(const float *score, const float *label, size_t n, struct jc_buf *out);
int jc_ctr_calibration_csv(const float *score, const float *label, size_t n, uint32_t bins,
                           struct jc_buf *out);

/* ROC and PR curves as SVG files (junco/plot.h); either path may be NULL.
 * `label` names the series (the model). */
int jc_ctr_curves_svg(const float *score, const float *label, size_t n, const char *name,
                      const char *roc_path, const char *pr_path);

#endif
