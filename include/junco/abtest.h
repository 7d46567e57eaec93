/*
 * junco/abtest.h - A/B test statistics on exposures and clicks.
 *
 * Two layers:
 *   1. jc_ab_analyze: pure statistics on per-variant counts. For every
 *      variant: CTR = clicks / exposures with a 95% (configurable) Wilson
 *      score interval (default; the normal "Wald" interval on request),
 *      relative lift over the control, (ctr - ctr_c) / ctr_c, and the
 *      two-sided p-value of the pooled two-proportion z-test against the
 *      control. Across variants: the sample-ratio-mismatch (SRM) check, a
 *      chi-square goodness-of-fit test of the observed units (users, or
 *      exposures when no user counts are given) against the expected split
 *      (equal unless given), with k - 1 degrees of freedom; p < srm_alpha
 *      (default 0.001, the usual SRM threshold) flags broken bucketing, and
 *      then the other numbers should not be trusted.
 *   2. struct jc_ab_tally: counts exposures (impression/exposure events),
 *      clicks and distinct exposed users per (experiment, variant) from
 *      events (junco/event.h), as `junco ab report` reads them from the
 *      event log. A click without a variant is credited to the variant in
 *      which the same user was first exposed in that experiment; clicks that
 *      cannot be attributed are counted separately. Experiment layers: an
 *      event's context may carry every layer's assignment as
 *      {"ab":{"<experiment>":"<variant>",...}} (serving writes it into each
 *      exposure); each pair is counted in its experiment. A click without
 *      that object counts in its own experiment and, in every other
 *      experiment in which the user was exposed, for the variant of the
 *      user's first exposure there.
 *
 * The distribution functions (normal tail, chi-square tail, normal
 * quantile) are implemented here (erfc from libm; the regularised
 * incomplete gamma by series / continued fraction) and tested against
 * SciPy values in tests/unit/test_abtest.c.
 *
 * Threading: jc_ab_analyze and the distribution functions are pure; a tally
 * belongs to one thread.
 */
#ifndef JUNCO_ABTEST_H
#define JUNCO_ABTEST_H

#include <stddef.h>
#include <stdint.h>

struct jc_event;

#define JC_AB_MAX_VARIANTS 32

enum jc_ab_ci { JC_AB_CI_WILSON = 0, JC_AB_CI_NORMAL = 1 };

struct jc_ab_variant {
    const char *name;      /* borrowed */
    uint64_t units;        /* users assigned/exposed (SRM); 0 = use exposures */
    uint64_t exposures;    /* trials */
    uint64_t clicks;       /* successes (<= exposures) */
    double expected_share; /* expected traffic share; 0 for all = equal */
};

struct jc_ab_config {
    size_t control;    /* index of the control variant (default 0) */
    double confidence; /* of the CTR intervals (default 0.95) */
    enum jc_ab_ci ci;  /* default JC_AB_CI_WILSON */
    double alpha;      /* significance level of the z-tests (default 0.05) */
    double srm_alpha;  /* SRM flag threshold on the p-value (default 0.001) */
};
void jc_ab_config_default(struct jc_ab_config *c);

struct jc_ab_variant_stats {
    double ctr, ci_low, ci_high;
    double lift;     /* relative to the control; NaN for the control or a 0 control CTR */
    double z;        /* z statistic vs the control (NaN for the control) */
    double p_value;  /* two-sided (NaN for the control or an undefined test) */
    int significant; /* p_value < alpha */
};

struct jc_ab_result {
    size_t n_variants;
    size_t control;
    struct jc_ab_variant_stats v[JC_AB_MAX_VARIANTS];
    int srm_on_units; /* 1: SRM tested on units, 0: on exposures */
    double srm_chi2;
    int srm_df;
    double srm_p;
    int srm_flag; /* srm_p < srm_alpha */
};

/*
 * Analyses n variants (2..JC_AB_MAX_VARIANTS). Errors: JC_EINVAL (too few or
 * too many variants, clicks > exposures, a variant without exposures,
 * expected shares negative or not summing to 1 when given, bad config),
 * with the variant named. *out is written only on success.
 */
int jc_ab_analyze(const struct jc_ab_variant *v, size_t n, const struct jc_ab_config *cfg,
                  struct jc_ab_result *out);

/* Upper tail of the standard normal, P(Z > z). */
double jc_ab_normal_sf(double z);
/* Standard normal quantile for p in (0, 1) (NaN outside). */
double jc_ab_normal_ppf(double p);
/* Upper tail of the chi-square distribution with df > 0 degrees of freedom. */
double jc_ab_chi2_sf(double x, double df);
/* Wilson score interval of k successes in n > 0 trials at quantile z. */
void jc_ab_wilson(uint64_t k, uint64_t n, double z, double *lo, double *hi);

/* ---- counting from events ------------------------------------------------ */

struct jc_ab_tally;

int jc_ab_tally_create(struct jc_ab_tally **out);
void jc_ab_tally_destroy(struct jc_ab_tally *t);

/* Counts one event: impressions/exposures and clicks that carry an
 * experiment (clicks may instead be attributed through the user's last
 * exposure); other events are ignored. Errors: JC_ELIMIT (more than
 * JC_AB_MAX_VARIANTS variants in one experiment, or 64 experiments),
 * JC_ENOMEM. */
int jc_ab_tally_add(struct jc_ab_tally *t, const struct jc_event *ev);

/* Experiments seen, in order of first appearance; the name is valid until
 * the tally is destroyed. NULL when i is out of range. */
size_t jc_ab_tally_n_experiments(const struct jc_ab_tally *t);
const char *jc_ab_tally_experiment(const struct jc_ab_tally *t, size_t i);

/* The variants of an experiment, sorted by name, with units = distinct
 * exposed users; names point into the tally. Returns the count (0 for an
 * unknown experiment). *unattributed (may be NULL) receives the clicks of
 * the experiment that could not be credited to a variant. */
size_t jc_ab_tally_variants(const struct jc_ab_tally *t, const char *experiment,
                            struct jc_ab_variant *out, size_t cap, uint64_t *unattributed);

#endif
