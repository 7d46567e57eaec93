/*
 * junco/replay.h - offline replay: estimating, from logged exposures and
 * clicks, the click-through rate that another recommendation policy would
 * have had (Li, Chu, Langford, Wang, "Unbiased offline evaluation of
 * contextual-bandit-based news article recommendation algorithms", WSDM
 * 2011), to compare two serving configurations without an online test.
 *
 * Events are fed in log order (per user in time order, which the event log
 * guarantees within a partition). An exposure (impression event) is one
 * logged (context, shown item) pair; its reward is 1 when a click on the
 * same item by the same user follows it (before the next exposure of that
 * pair), else 0. Exposures of one request (same request id, or same user
 * and time without one) form the logged slate; each policy is asked once
 * per slate for its top-n list at the slate's time.
 *
 * Matching is per item: an exposure matches a policy when the shown item is
 * in the policy's top-n list (position is ignored, i.e. CTR is assumed not
 * to depend on the slot). The estimate of a policy is the self-normalised
 * inverse-propensity mean of the rewards of its matched exposures,
 *     CTR = sum_matched r_e / p_e  /  sum_matched 1 / p_e,
 * where p_e is the probability that the logging policy showed the item in
 * that slate. When the log is uniformly randomised (every p_e equal) this
 * is exactly rejection-sampling replay: the plain CTR of the accepted
 * exposures, unbiased for the policy's per-shown-item CTR. Propensities
 * come from the exposure's context ({"propensity": p}, 0 < p <= 1), or, for
 * exposures of the configured uniform-random variant, p = n / n_items with
 * n the logged slate size ({"n": n} in the context, else 1).
 *
 * A log in which no exposure carries a propensity is NOT randomised: the
 * result says so (randomised = 0) and the estimate is the plain CTR of the
 * matched exposures ("matched-impression estimate"), which is biased
 * towards what the logging policy chose to show. Callers must print that
 * caveat.
 *
 * Threading: a replay belongs to one thread; policies are called from it.
 */
#ifndef JUNCO_REPLAY_H
#define JUNCO_REPLAY_H

#include <stddef.h>
#include <stdint.h>

struct jc_catalog;
struct jc_event;

#define JC_REPLAY_MAX_POLICIES 8

/* A policy to evaluate: its top-n catalog items for a user (catalog id, or
 * UINT32_MAX for a user unknown to the catalog) at time_ms. Writes at most
 * n items and *n_out. Errors are returned as is. */
struct jc_replay_policy {
    const char *name; /* borrowed */
    void *self;
    int (*recommend)(void *self, uint32_t user, int64_t time_ms, uint32_t n, uint32_t *items,
                     uint32_t *n_out);
};

struct jc_replay_config {
    uint32_t n;                 /* policy list length (default 10) */
    const char *random_variant; /* exposures of this variant were uniform-random
                                   over the catalogue (NULL: none) */
    double confidence;          /* of the intervals (default 0.95) */
};
void jc_replay_config_default(struct jc_replay_config *c);

struct jc_replay_policy_result {
    char name[256];         /* the policy's name (truncated) */
    uint64_t matched;       /* exposures whose item was in the policy's list */
    uint64_t clicks;        /* rewards among them (unweighted) */
    double ctr;             /* the estimate (NaN without matches) */
    double ci_low, ci_high; /* normal interval on the effective sample size */
    double ess;             /* (sum w)^2 / sum w^2 of the matched weights */
};

struct jc_replay_result {
    int randomised;         /* 1: propensities used; 0: matched-impression only */
    uint64_t exposures;     /* exposures read (with a known user string) */
    uint64_t used;          /* exposures used (randomised: with a propensity) */
    uint64_t no_propensity; /* randomised log: exposures skipped for lacking one */
    uint64_t clicks;        /* rewards of the used exposures */
    uint64_t slates;        /* policy calls per policy */
    uint64_t unknown_items; /* exposures of items not in the catalog (never match) */
    double logged_ctr;      /* clicks / used */
    size_t n_policies;
    struct jc_replay_policy_result policy[JC_REPLAY_MAX_POLICIES];
};

struct jc_replay;

/* Creates a replay of n_policies (1..JC_REPLAY_MAX_POLICIES) policies
 * (copied; their self pointers are borrowed) over cat (borrowed, for id
 * lookups). Errors: JC_EINVAL (no policy, n == 0, bad confidence), JC_ENOMEM. */
int jc_replay_create(struct jc_replay **out, const struct jc_catalog *cat,
                     const struct jc_replay_policy *policies, size_t n_policies,
                     const struct jc_replay_config *cfg);
void jc_replay_destroy(struct jc_replay *r);

/* Feeds one event (others than impressions and clicks are ignored).
 * Errors: the policies' errors, JC_ENOMEM. */
int jc_replay_add(struct jc_replay *r, const struct jc_event *ev);

/* The estimates so far. JC_ENOTFOUND when no exposure was read. */
int jc_replay_result(const struct jc_replay *r, struct jc_replay_result *out);

struct jc_scorer;
struct jc_eval_part;

/*
 * A policy from an evaluation scorer (junco/eval.h): the user's top-n items
 * by score, the user's items in `known` excluded (ties: lower id), nothing
 * for users unknown to the catalog; at most 64 items. s and known are
 * borrowed; the scorer is
 * prepared for one worker here. Free with jc_replay_scorer_policy_free.
 * Errors: JC_ENOMEM, the scorer's prepare error, JC_EINVAL (a scorer
 * without full scores).
 */
int jc_replay_scorer_policy(struct jc_replay_policy *out, const char *name, struct jc_scorer *s,
                            const struct jc_eval_part *known);
void jc_replay_scorer_policy_free(struct jc_replay_policy *p);

#endif
