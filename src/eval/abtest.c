/*
 * abtest.c - A/B statistics and the event tally (see junco/abtest.h).
 *
 * Numerics: the normal tail is erfc(z / sqrt 2) / 2 (accurate far into the
 * tail, unlike 1 - cdf); the normal quantile is Acklam's rational
 * approximation refined by one Halley step on erfc (relative error ~1e-15);
 * the chi-square tail is the regularised upper incomplete gamma Q(df/2,
 * x/2), by its series when x < a + 1 and by Lentz's continued fraction
 * otherwise (Numerical Recipes 6.2), both to 1e-15 relative.
 * Tally: experiments and variants are small fixed tables (names copied);
 * distinct users and a user's first-exposure variant live in one string
 * map keyed by "experiment \x1f variant/user" byte strings.
 */
#include <junco/abtest.h>

#include "core/alloc.h"
#include "core/hash.h"
#include <junco/catalog.h>
#include <junco/error.h>
#include <junco/event.h>

#include <cjson/cJSON.h>

#include <math.h>
#include <stdlib.h>
#include <string.h>

void jc_ab_config_default(struct jc_ab_config *c)
{
    c->control = 0;
    c->confidence = 0.95;
    c->ci = JC_AB_CI_WILSON;
    c->alpha = 0.05;
    c->srm_alpha = 0.001;
}

double jc_ab_normal_sf(double z)
{
    return 0.5 * erfc(z / M_SQRT2);
}

double jc_ab_normal_ppf(double p)
{
    if (!(p > 0 && p < 1))
        return NAN;
    /* Upper half by symmetry, so the refinement always works on a small
     * tail probability (no cancellation near 1). */
    if (p > 0.5)
        return -jc_ab_normal_ppf(1 - p);
    static const double a[6] = {-3.969683028665376e+01, 2.209460984245205e+02,
                                -2.759285104469687e+02, 1.383577518672690e+02,
                                -3.066479806614716e+01, 2.506628277459239e+00};
    static const double b[5] = {-5.447609879822406e+01, 1.615858368580409e+02,
                                -1.556989798598866e+02, 6.680131188771972e+01,
                                -1.328068155288572e+01};
    static const double c[6] = {-7.784894002430293e-03, -3.223964580411365e-01,
                                -2.400758277161838e+00, -2.549732539343734e+00,
                                4.374664141464968e+00,  2.938163982698783e+00};
    static const double d[4] = {7.784695709041462e-03, 3.224671290700398e-01, 2.445134137142996e+00,
                                3.754408661907416e+00};
    const double plow = 0.02425;
    double x;
    if (p < plow) {
        double q = sqrt(-2 * log(p));
        x = (((((c[0] * q + c[1]) * q + c[2]) * q + c[3]) * q + c[4]) * q + c[5]) /
            ((((d[0] * q + d[1]) * q + d[2]) * q + d[3]) * q + 1);
    } else if (p <= 1 - plow) {
        double q = p - 0.5, r = q * q;
        x = (((((a[0] * r + a[1]) * r + a[2]) * r + a[3]) * r + a[4]) * r + a[5]) * q /
            (((((b[0] * r + b[1]) * r + b[2]) * r + b[3]) * r + b[4]) * r + 1);
    } else {
        double q = sqrt(-2 * log1p(-p));
        x = -(((((c[0] * q + c[1]) * q + c[2]) * q + c[3]) * q + c[4]) * q + c[5]) /
            ((((d[0] * q + d[1]) * q + d[2]) * q + d[3]) * q + 1);
    }
    /* one Halley step: e = cdf(x) - p (x <= 0 here: cdf by erfc is exact) */
    double e = 0.5 * erfc(-x / M_SQRT2) - p;
    double u = e * sqrt(2 * M_PI) * exp(x * x / 2);
    x = x - u / (1 + x * u / 2);
    return x;
}

/* Regularised lower incomplete gamma P(a, x) by its series (x < a + 1). */
static double gamma_p_series(double a, double x)
{
    double ap = a, sum = 1.0 / a, del = sum;
    for (int n = 0; n < 10000; n++) {
        ap += 1;
        del *= x / ap;
        sum += del;
        if (fabs(del) < fabs(sum) * 1e-16)
            break;
    }
    return sum * exp(-x + a * log(x) - lgamma(a));
}

/* Regularised upper incomplete gamma Q(a, x) by continued fraction (x >= a + 1). */
static double gamma_q_cf(double a, double x)
{
    const double tiny = 1e-300;
    double b = x + 1 - a, c = 1 / tiny, d = 1 / b, h = d;
    for (int i = 1; i < 10000; i++) {
        double an = -i * (i - a);
        b += 2;
        d = an * d + b;
        if (fabs(d) < tiny)
            d = tiny;
        c = b + an / c;
        if (fabs(c) < tiny)
            c = tiny;
        d = 1 / d;
        double del = d * c;
        h *= del;
        if (fabs(del - 1) < 1e-16)
            break;
    }
    return exp(-x + a * log(x) - lgamma(a)) * h;
}

double jc_ab_chi2_sf(double x, double df)
{
    if (!(df > 0) || isnan(x))
        return NAN;
    if (x <= 0)
        return 1.0;
    double a = df / 2, y = x / 2;
    if (y < a + 1)
        return 1.0 - gamma_p_series(a, y);
    return gamma_q_cf(a, y);
}

void jc_ab_wilson(uint64_t k, uint64_t n, double z, double *lo, double *hi)
{
    double nn = (double)n, p = (double)k / nn, z2 = z * z;
    double den = 1 + z2 / nn;
    double center = (p + z2 / (2 * nn)) / den;
    double half = z / den * sqrt(p * (1 - p) / nn + z2 / (4 * nn * nn));
    *lo = center - half;
    *hi = center + half;
    if (*lo < 0)
        *lo = 0;
    if (*hi > 1)
        *hi = 1;
}

int jc_ab_analyze(const struct jc_ab_variant *v, size_t n, const struct jc_ab_config *cfg,
                  struct jc_ab_result *out)
{
    if (n < 2 || n > JC_AB_MAX_VARIANTS)
        return jc_err_set(JC_EINVAL, "ab: %zu variants (need 2..%d)", n, JC_AB_MAX_VARIANTS);
    if (cfg->control >= n)
        return jc_err_set(JC_EINVAL, "ab: control index %zu of %zu variants", cfg->control, n);
    if (!(cfg->confidence > 0 && cfg->confidence < 1) || !(cfg->alpha > 0 && cfg->alpha < 1) ||
        !(cfg->srm_alpha > 0 && cfg->srm_alpha < 1))
        return jc_err_set(JC_EINVAL, "ab: confidence, alpha and srm_alpha must be in (0, 1)");
    int shares = 0, units = 1;
    double share_sum = 0;
    for (size_t i = 0; i < n; i++) {
        const char *nm = v[i].name ? v[i].name : "?";
        if (v[i].exposures == 0)
            return jc_err_set(JC_EINVAL, "ab: variant '%s' has no exposures", nm);
        if (v[i].clicks > v[i].exposures)
            return jc_err_set(JC_EINVAL, "ab: variant '%s' has %llu clicks for %llu exposures", nm,
                              (unsigned long long)v[i].clicks, (unsigned long long)v[i].exposures);
        if (!(v[i].expected_share >= 0) || !isfinite(v[i].expected_share))
            return jc_err_set(JC_EINVAL, "ab: variant '%s': bad expected share", nm);
        shares |= v[i].expected_share > 0;
        share_sum += v[i].expected_share;
        units &= v[i].units > 0;
    }
    if (shares && fabs(share_sum - 1) > 1e-6)
        return jc_err_set(JC_EINVAL, "ab: expected shares sum to %g, not 1", share_sum);
    if (shares)
        for (size_t i = 0; i < n; i++)
            if (v[i].expected_share <= 0)
                return jc_err_set(JC_EINVAL, "ab: variant '%s' has no expected share",
                                  v[i].name ? v[i].name : "?");
    struct jc_ab_result r;
    memset(&r, 0, sizeof r);
    r.n_variants = n;
    r.control = cfg->control;
    double zq = jc_ab_normal_ppf(1 - (1 - cfg->confidence) / 2);
    const struct jc_ab_variant *c = &v[cfg->control];
    double pc = (double)c->clicks / (double)c->exposures;
    for (size_t i = 0; i < n; i++) {
        struct jc_ab_variant_stats *s = &r.v[i];
        double ni = (double)v[i].exposures, p = (double)v[i].clicks / ni;
        s->ctr = p;
        if (cfg->ci == JC_AB_CI_WILSON) {
            jc_ab_wilson(v[i].clicks, v[i].exposures, zq, &s->ci_low, &s->ci_high);
        } else {
            double half = zq * sqrt(p * (1 - p) / ni);
            s->ci_low = p - half < 0 ? 0 : p - half;
            s->ci_high = p + half > 1 ? 1 : p + half;
        }
        s->lift = s->z = s->p_value = NAN;
        if (i == cfg->control)
            continue;
        if (pc > 0)
            s->lift = (p - pc) / pc;
        double nc = (double)c->exposures;
        double pool = ((double)v[i].clicks + (double)c->clicks) / (ni + nc);
        double se = sqrt(pool * (1 - pool) * (1 / ni + 1 / nc));
        if (se > 0) {
            s->z = (p - pc) / se;
            s->p_value = erfc(fabs(s->z) / M_SQRT2);
            s->significant = s->p_value < cfg->alpha;
        }
    }
    /* sample ratio mismatch */
    r.srm_on_units = units;
    double total = 0;
    for (size_t i = 0; i < n; i++)
        total += (double)(units ? v[i].units : v[i].exposures);
    double chi2 = 0;
    for (size_t i = 0; i < n; i++) {
        double obs = (double)(units ? v[i].units : v[i].exposures);
        double exp_i = total * (shares ? v[i].expected_share : 1.0 / (double)n);
        chi2 += (obs - exp_i) * (obs - exp_i) / exp_i;
    }
    r.srm_chi2 = chi2;
    r.srm_df = (int)n - 1;
    r.srm_p = jc_ab_chi2_sf(chi2, (double)r.srm_df);
    r.srm_flag = r.srm_p < cfg->srm_alpha;
    *out = r;
    return JC_OK;
}

/* ---- tally -------------------------------------------------------------- */

#define MAX_EXPERIMENTS 64
#define NAME_CAP        (JC_EVENT_MAX_LABEL + 1)

struct variant_counts {
    char name[NAME_CAP];
    uint64_t exposures, clicks, users;
};

struct experiment {
    char name[NAME_CAP];
    size_t n_variants;
    struct variant_counts v[JC_AB_MAX_VARIANTS];
    uint64_t unattributed;
};

struct jc_ab_tally {
    size_t n_exp;
    struct experiment *exp; /* MAX_EXPERIMENTS */
    struct jc_strmap seen;  /* "e\x1fv\x1fuser" -> 1 (distinct users per variant) */
    struct jc_strmap first; /* "e\x1fuser" -> variant index of first exposure */
};

int jc_ab_tally_create(struct jc_ab_tally **out)
{
    struct jc_ab_tally *t = jc_calloc(1, sizeof *t);
    if (t == NULL)
        return JC_ENOMEM;
    t->exp = jc_calloc(MAX_EXPERIMENTS, sizeof *t->exp);
    if (t->exp == NULL || jc_strmap_init(&t->seen, 1024) != JC_OK) {
        jc_free(t->exp);
        jc_free(t);
        return JC_ENOMEM;
    }
    if (jc_strmap_init(&t->first, 1024) != JC_OK) {
        jc_strmap_free(&t->seen);
        jc_free(t->exp);
        jc_free(t);
        return JC_ENOMEM;
    }
    *out = t;
    return JC_OK;
}

void jc_ab_tally_destroy(struct jc_ab_tally *t)
{
    if (t == NULL)
        return;
    jc_strmap_free(&t->seen);
    jc_strmap_free(&t->first);
    jc_free(t->exp);
    jc_free(t);
}

static int find_exp(struct jc_ab_tally *t, const char *s, size_t n, size_t *out)
{
    for (size_t i = 0; i < t->n_exp; i++)
        if (strlen(t->exp[i].name) == n && memcmp(t->exp[i].name, s, n) == 0) {
            *out = i;
            return JC_OK;
        }
    if (t->n_exp == MAX_EXPERIMENTS)
        return jc_err_set(JC_ELIMIT, "ab: more than %d experiments", MAX_EXPERIMENTS);
    if (n >= NAME_CAP)
        return jc_err_set(JC_EINVAL, "ab: experiment name of %zu bytes", n);
    struct experiment *e = &t->exp[t->n_exp];
    memcpy(e->name, s, n);
    e->name[n] = '\0';
    *out = t->n_exp++;
    return JC_OK;
}

static int find_variant(struct experiment *e, const char *s, size_t n, size_t *out)
{
    for (size_t i = 0; i < e->n_variants; i++)
        if (strlen(e->v[i].name) == n && memcmp(e->v[i].name, s, n) == 0) {
            *out = i;
            return JC_OK;
        }
    if (e->n_variants == JC_AB_MAX_VARIANTS)
        return jc_err_set(JC_ELIMIT, "ab: experiment %s has more than %d variants", e->name,
                          JC_AB_MAX_VARIANTS);
    if (n >= NAME_CAP)
        return jc_err_set(JC_EINVAL, "ab: variant name of %zu bytes", n);
    struct variant_counts *v = &e->v[e->n_variants];
    memset(v, 0, sizeof *v);
    memcpy(v->name, s, n);
    v->name[n] = '\0';
    *out = e->n_variants++;
    return JC_OK;
}

/* Counts one (experiment, variant) assignment of an exposure or a click
 * (variant_len 0: a click credited through the user's first exposure). */
static int count_one(struct jc_ab_tally *t, const struct jc_event *ev, int is_exp, const char *exp,
                     size_t exp_len, const char *var, size_t var_len)
{
    size_t ei = 0, vi = 0;
    int rc = find_exp(t, exp, exp_len, &ei);
    if (rc)
        return rc;
    struct experiment *e = &t->exp[ei];
    /* keys: experiment index, separator, [variant, separator,] user */
    char key[16 + NAME_CAP + JC_EVENT_MAX_ID + 4];
    size_t ul = ev->user_len > JC_EVENT_MAX_ID ? JC_EVENT_MAX_ID : ev->user_len;
    size_t kl = 0;
    key[kl++] = (char)('A' + ei % 64);
    key[kl++] = 0x1f;
    size_t ukey = kl;
    memcpy(key + kl, ev->user, ul);
    kl += ul;
    int has_variant = var_len > 0;
    if (has_variant && (rc = find_variant(e, var, var_len, &vi)))
        return rc;
    if (is_exp) {
        if (!has_variant)
            return JC_OK; /* an exposure outside any variant cannot be analysed */
        e->v[vi].exposures++;
        uint32_t stored;
        if ((rc = jc_strmap_put(&t->first, key, kl, (uint32_t)vi, &stored, NULL)))
            return rc;
        char k2[sizeof key + NAME_CAP];
        size_t k2l = 0;
        memcpy(k2, key, ukey);
        k2l = ukey;
        memcpy(k2 + k2l, e->v[vi].name, strlen(e->v[vi].name));
        k2l += strlen(e->v[vi].name);
        k2[k2l++] = 0x1f;
        memcpy(k2 + k2l, ev->user, ul);
        k2l += ul;
        int inserted = 0;
        if ((rc = jc_strmap_put(&t->seen, k2, k2l, 1, &stored, &inserted)))
            return rc;
        e->v[vi].users += inserted;
        return JC_OK;
    }
    if (has_variant) {
        e->v[vi].clicks++;
        return JC_OK;
    }
    uint32_t first;
    if (jc_strmap_get(&t->first, key, kl, &first))
        e->v[first].clicks++;
    else
        e->unattributed++;
    return JC_OK;
}

/* The "ab" object of an event's context ({"ab":{"exp":"variant",...}}), as
 * the serving layer writes it into exposures: every layer's assignment.
 * Returns the parsed root (caller deletes) and sets *ab, or NULL. */
static cJSON *context_ab(const struct jc_event *ev, const cJSON **ab)
{
    *ab = NULL;
    if (ev->context_len == 0 || ev->context == NULL)
        return NULL;
    cJSON *root = cJSON_ParseWithLength(ev->context, ev->context_len);
    if (root == NULL)
        return NULL;
    const cJSON *x = cJSON_GetObjectItemCaseSensitive(root, "ab");
    if (cJSON_IsObject(x) && x->child)
        *ab = x;
    return root;
}

int jc_ab_tally_add(struct jc_ab_tally *t, const struct jc_event *ev)
{
    int is_exp = ev->type == JC_EV_IMPRESSION, is_click = ev->type == JC_EV_CLICK;
    if ((!is_exp && !is_click) || ev->experiment_len == 0)
        return JC_OK;
    const cJSON *ab;
    cJSON *root = context_ab(ev, &ab);
    int rc = JC_OK, own_seen = 0;
    /* every layer's assignment carried by the context */
    for (const cJSON *m = ab ? ab->child : NULL; m && rc == JC_OK; m = m->next) {
        if (!cJSON_IsString(m) || m->string == NULL || m->string[0] == '\0')
            continue;
        size_t el = strlen(m->string), vl = strlen(m->valuestring);
        if (el >= NAME_CAP || vl >= NAME_CAP)
            continue;
        own_seen |= el == ev->experiment_len && memcmp(m->string, ev->experiment, el) == 0;
        rc = count_one(t, ev, is_exp, m->string, el, m->valuestring, vl);
    }
    cJSON_Delete(root);
    if (rc || own_seen)
        return rc;
    /* the event's own experiment (the first layer) */
    if ((rc = count_one(t, ev, is_exp, ev->experiment, ev->experiment_len, ev->variant,
                        ev->variant_len)) ||
        !is_click || ab)
        return rc;
    /* a click without the layers: credited in every other experiment in
     * which the user was exposed, to the variant of the first exposure */
    size_t ul = ev->user_len > JC_EVENT_MAX_ID ? JC_EVENT_MAX_ID : ev->user_len;
    for (size_t i = 0; i < t->n_exp; i++) {
        struct experiment *e = &t->exp[i];
        if (strlen(e->name) == ev->experiment_len &&
            memcmp(e->name, ev->experiment, ev->experiment_len) == 0)
            continue;
        char key[4 + JC_EVENT_MAX_ID];
        key[0] = (char)('A' + i % 64);
        key[1] = 0x1f;
        memcpy(key + 2, ev->user, ul);
        uint32_t first;
        if (jc_strmap_get(&t->first, key, 2 + ul, &first))
            e->v[first].clicks++;
    }
    return JC_OK;
}

size_t jc_ab_tally_n_experiments(const struct jc_ab_tally *t)
{
    return t->n_exp;
}

const char *jc_ab_tally_experiment(const struct jc_ab_tally *t, size_t i)
{
    return i < t->n_exp ? t->exp[i].name : NULL;
}

static int cmp_variant(const void *a, const void *b)
{
    return strcmp(((const struct jc_ab_variant *)a)->name, ((const struct jc_ab_variant *)b)->name);
}

size_t jc_ab_tally_variants(const struct jc_ab_tally *t, const char *experiment,
                            struct jc_ab_variant *out, size_t cap, uint64_t *unattributed)
{
    for (size_t i = 0; i < t->n_exp; i++) {
        const struct experiment *e = &t->exp[i];
        if (strcmp(e->name, experiment) != 0)
            continue;
        size_t n = e->n_variants < cap ? e->n_variants : cap;
        for (size_t k = 0; k < n; k++) {
            out[k].name = e->v[k].name;
            out[k].units = e->v[k].users;
            out[k].exposures = e->v[k].exposures;
            out[k].clicks = e->v[k].clicks;
            out[k].expected_share = 0;
        }
        qsort(out, n, sizeof *out, cmp_variant);
        if (unattributed)
            *unattributed = e->unattributed;
        return n;
    }
    if (unattributed)
        *unattributed = 0;
    return 0;
}
