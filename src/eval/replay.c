/*
 * replay.c - offline replay of recommendation policies on logged exposures
 * and clicks (junco/replay.h has the estimator and its assumptions).
 *
 * Design: one streaming pass. Every impression is looked up in the catalog,
 * its propensity read from the context, and each policy's list for the
 * slate (cached while consecutive exposures share the request id, or user
 * and time) is checked for the item; the exposure is stored as a compact
 * record (weight, policy match bits, reward) and becomes the target of the
 * (user, item) key, so a later click of that pair sets its reward once.
 * The sums are formed at the end, in exposure order, so results do not
 * depend on anything but the event order.
 */
#include <junco/replay.h>

#include "core/alloc.h"
#include "core/hash.h"
#include <junco/abtest.h>
#include <junco/catalog.h>
#include <junco/error.h>
#include <junco/eval.h>
#include <junco/event.h>

#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

struct expo {
    float weight;   /* 1 / propensity (1 when not randomised) */
    uint8_t match;  /* bit p: item in policy p's list */
    uint8_t reward; /* a click followed */
    uint8_t has_p;  /* a propensity was known */
};

struct jc_replay {
    const struct jc_catalog *cat;
    struct jc_replay_policy pol[JC_REPLAY_MAX_POLICIES];
    size_t n_pol;
    struct jc_replay_config cfg;
    struct expo *ex;
    size_t n_ex, cap_ex;
    struct jc_strmap pairs; /* "user\x1fitem" -> pair id */
    uint32_t *last;         /* pair id -> its latest exposure (index into ex) */
    size_t n_pairs, cap_pairs;
    /* the current slate */
    char slate_key[2 * JC_EVENT_MAX_ID + 32];
    size_t slate_len;
    uint32_t *lists; /* n_pol x cfg.n */
    uint32_t list_n[JC_REPLAY_MAX_POLICIES];
    uint64_t exposures, slates, unknown_items;
};

void jc_replay_config_default(struct jc_replay_config *c)
{
    memset(c, 0, sizeof *c);
    c->n = 10;
    c->confidence = 0.95;
}

int jc_replay_create(struct jc_replay **out, const struct jc_catalog *cat,
                     const struct jc_replay_policy *policies, size_t n_policies,
                     const struct jc_replay_config *cfg)
{
    if (n_policies == 0 || n_policies > JC_REPLAY_MAX_POLICIES || cfg->n == 0 || cfg->n > 100000 ||
        !(cfg->confidence > 0 && cfg->confidence < 1))
        return jc_err_set(JC_EINVAL, "replay: %zu policies (1..%d), n %u, confidence %g",
                          n_policies, JC_REPLAY_MAX_POLICIES, cfg->n, cfg->confidence);
    for (size_t i = 0; i < n_policies; i++)
        if (policies[i].recommend == NULL || policies[i].name == NULL)
            return jc_err_set(JC_EINVAL, "replay: policy %zu has no name or function", i);
    struct jc_replay *r = jc_calloc(1, sizeof *r);
    if (r == NULL)
        return JC_ENOMEM;
    r->cat = cat;
    memcpy(r->pol, policies, n_policies * sizeof *policies);
    r->n_pol = n_policies;
    r->cfg = *cfg;
    r->lists = jc_malloc_array(n_policies * cfg->n, sizeof *r->lists);
    if (r->lists == NULL || jc_strmap_init(&r->pairs, 1024) != JC_OK) {
        jc_free(r->lists);
        jc_free(r);
        return JC_ENOMEM;
    }
    *out = r;
    return JC_OK;
}

void jc_replay_destroy(struct jc_replay *r)
{
    if (r == NULL)
        return;
    jc_strmap_free(&r->pairs);
    jc_free(r->last);
    jc_free(r->lists);
    jc_free(r->ex);
    jc_free(r);
}

/* The logging propensity of an exposure: the context's "propensity", or
 * n / n_items for the uniform-random variant; 0 when unknown. */
static double propensity(const struct jc_replay *r, const struct jc_event *ev)
{
    double p = 0, slate = 1;
    if (ev->context_len) {
        cJSON *root = cJSON_ParseWithLength(ev->context, ev->context_len);
        const cJSON *x = root ? cJSON_GetObjectItemCaseSensitive(root, "propensity") : NULL;
        if (cJSON_IsNumber(x) && x->valuedouble > 0 && x->valuedouble <= 1)
            p = x->valuedouble;
        x = root ? cJSON_GetObjectItemCaseSensitive(root, "n") : NULL;
        if (cJSON_IsNumber(x) && x->valuedouble >= 1)
            slate = x->valuedouble;
        cJSON_Delete(root);
    }
    if (p == 0 && r->cfg.random_variant && ev->variant_len &&
        strlen(r->cfg.random_variant) == ev->variant_len &&
        memcmp(r->cfg.random_variant, ev->variant, ev->variant_len) == 0) {
        uint32_t ni = jc_catalog_n_items(r->cat);
        p = ni ? slate / ni : 0;
        if (p > 1)
            p = 1;
    }
    return p;
}

static size_t pair_key(const struct jc_event *ev, char *key, size_t cap)
{
    size_t ul = ev->user_len < JC_EVENT_MAX_ID ? ev->user_len : JC_EVENT_MAX_ID;
    size_t il = ev->item_len < JC_EVENT_MAX_ID ? ev->item_len : JC_EVENT_MAX_ID;
    if (ul + il + 1 > cap)
        return 0;
    memcpy(key, ev->user, ul);
    key[ul] = 0x1f;
    memcpy(key + ul + 1, ev->item, il);
    return ul + 1 + il;
}

/* Asks every policy for the slate of ev unless it is the current one. */
static int slate(struct jc_replay *r, const struct jc_event *ev)
{
    char key[sizeof r->slate_key];
    int n;
    if (ev->request_id_len)
        n = snprintf(key, sizeof key, "r\x1f%.*s\x1f%.*s", (int)ev->request_id_len, ev->request_id,
                     (int)(ev->user_len < 200 ? ev->user_len : 200), ev->user);
    else
        n = snprintf(key, sizeof key, "t\x1f%lld\x1f%.*s", (long long)ev->time_ms,
                     (int)(ev->user_len < 200 ? ev->user_len : 200), ev->user);
    if (n < 0)
        n = 0;
    size_t kl = (size_t)n < sizeof key ? (size_t)n : sizeof key - 1;
    if (r->slates && kl == r->slate_len && memcmp(key, r->slate_key, kl) == 0)
        return JC_OK;
    memcpy(r->slate_key, key, kl);
    r->slate_len = kl;
    uint32_t user = UINT32_MAX, u;
    if (jc_catalog_find_user(r->cat, ev->user, ev->user_len, &u))
        user = u;
    for (size_t p = 0; p < r->n_pol; p++) {
        uint32_t got = 0;
        int rc = r->pol[p].recommend(r->pol[p].self, user, ev->time_ms, r->cfg.n,
                                     r->lists + p * r->cfg.n, &got);
        if (rc) {
            r->slate_len = 0;
            return jc_err_prefix(rc, "replay: policy %s", r->pol[p].name);
        }
        r->list_n[p] = got < r->cfg.n ? got : r->cfg.n;
    }
    r->slates++;
    return JC_OK;
}

int jc_replay_add(struct jc_replay *r, const struct jc_event *ev)
{
    int is_exp = ev->type == JC_EV_IMPRESSION, is_click = ev->type == JC_EV_CLICK;
    if ((!is_exp && !is_click) || ev->user_len == 0 || ev->item_len == 0)
        return JC_OK;
    char key[2 * JC_EVENT_MAX_ID + 2];
    size_t kl = pair_key(ev, key, sizeof key);
    if (is_click) {
        uint32_t pid;
        if (jc_strmap_get(&r->pairs, key, kl, &pid))
            r->ex[r->last[pid]].reward = 1;
        return JC_OK;
    }
    r->exposures++;
    int rc = slate(r, ev);
    if (rc)
        return rc;
    if (r->n_ex == r->cap_ex) {
        size_t nc = r->cap_ex ? r->cap_ex * 2 : 4096;
        struct expo *x = jc_realloc_array(r->ex, nc, sizeof *x);
        if (x == NULL)
            return JC_ENOMEM;
        r->ex = x;
        r->cap_ex = nc;
    }
    struct expo *e = &r->ex[r->n_ex];
    memset(e, 0, sizeof *e);
    double p = propensity(r, ev);
    e->has_p = p > 0;
    e->weight = p > 0 ? (float)(1.0 / p) : 1.0f;
    uint32_t item;
    if (jc_catalog_find_item(r->cat, ev->item, ev->item_len, &item)) {
        for (size_t q = 0; q < r->n_pol; q++)
            for (uint32_t k = 0; k < r->list_n[q]; k++)
                if (r->lists[q * r->cfg.n + k] == item) {
                    e->match |= (uint8_t)(1u << q);
                    break;
                }
    } else {
        r->unknown_items++;
    }
    if (r->n_pairs == r->cap_pairs) {
        size_t nc = r->cap_pairs ? r->cap_pairs * 2 : 4096;
        uint32_t *x = jc_realloc_array(r->last, nc, sizeof *x);
        if (x == NULL)
            return JC_ENOMEM;
        r->last = x;
        r->cap_pairs = nc;
    }
    uint32_t pid;
    int inserted;
    if ((rc = jc_strmap_put(&r->pairs, key, kl, (uint32_t)r->n_pairs, &pid, &inserted)))
        return rc;
    r->n_pairs += inserted;
    r->last[pid] = (uint32_t)r->n_ex;
    r->n_ex++;
    return JC_OK;
}

int jc_replay_result(const struct jc_replay *r, struct jc_replay_result *out)
{
    if (r->n_ex == 0)
        return jc_err_set(JC_ENOTFOUND, "replay: no exposure events in the log");
    struct jc_replay_result res;
    memset(&res, 0, sizeof res);
    uint64_t with_p = 0;
    for (size_t i = 0; i < r->n_ex; i++)
        with_p += r->ex[i].has_p;
    res.randomised = with_p > 0;
    res.exposures = r->exposures;
    res.slates = r->slates;
    res.unknown_items = r->unknown_items;
    res.no_propensity = res.randomised ? r->n_ex - with_p : 0;
    res.n_policies = r->n_pol;
    double z = jc_ab_normal_ppf(0.5 + r->cfg.confidence / 2);
    double sw[JC_REPLAY_MAX_POLICIES] = {0}, swr[JC_REPLAY_MAX_POLICIES] = {0},
           sw2[JC_REPLAY_MAX_POLICIES] = {0};
    for (size_t i = 0; i < r->n_ex; i++) {
        const struct expo *e = &r->ex[i];
        if (res.randomised && !e->has_p)
            continue;
        res.used++;
        res.clicks += e->reward;
        double w = res.randomised ? e->weight : 1.0;
        for (size_t q = 0; q < r->n_pol; q++) {
            if (!(e->match & (1u << q)))
                continue;
            res.policy[q].matched++;
            res.policy[q].clicks += e->reward;
            sw[q] += w;
            sw2[q] += w * w;
            swr[q] += w * e->reward;
        }
    }
    res.logged_ctr = res.used ? (double)res.clicks / (double)res.used : NAN;
    for (size_t q = 0; q < r->n_pol; q++) {
        struct jc_replay_policy_result *x = &res.policy[q];
        snprintf(x->name, sizeof x->name, "%s", r->pol[q].name);
        if (x->matched == 0) {
            x->ctr = x->ci_low = x->ci_high = NAN;
            continue;
        }
        x->ctr = swr[q] / sw[q];
        x->ess = sw[q] * sw[q] / sw2[q];
        double half = z * sqrt(x->ctr * (1 - x->ctr) / x->ess);
        x->ci_low = x->ctr - half < 0 ? 0 : x->ctr - half;
        x->ci_high = x->ctr + half > 1 ? 1 : x->ctr + half;
    }
    *out = res;
    return JC_OK;
}

/* ---- scorers as policies -------------------------------------------------- */

struct scorer_policy {
    struct jc_scorer *s;
    const struct jc_eval_part *known;
    float *buf;
    uint8_t *mask;
};

static int scorer_recommend(void *self, uint32_t user, int64_t time_ms, uint32_t n, uint32_t *items,
                            uint32_t *n_out)
{
    (void)time_ms;
    struct scorer_policy *sp = self;
    *n_out = 0;
    if (user >= sp->s->n_users)
        return JC_OK;
    const float *sc;
    int rc = sp->s->score(sp->s->self, user, 0, sp->buf, &sc);
    if (rc)
        return rc;
    const struct jc_eval_part *k = sp->known;
    for (uint64_t p = k->offsets[user]; p < k->offsets[user + 1]; p++)
        sp->mask[k->items[p]] = 1;
    /* top-n by (score desc, id asc): insertion into a sorted prefix */
    float best[64];
    uint32_t m = 0, cap = n < 64 ? n : 64;
    for (uint32_t i = 0; i < sp->s->n_items; i++) {
        float v = sc[i];
        if (sp->mask[i] || v != v)
            continue;
        if (m == cap && !(v > best[m - 1]))
            continue;
        uint32_t j = m < cap ? m++ : cap - 1;
        while (j > 0 && v > best[j - 1]) {
            best[j] = best[j - 1];
            items[j] = items[j - 1];
            j--;
        }
        best[j] = v;
        items[j] = i;
    }
    for (uint64_t p = k->offsets[user]; p < k->offsets[user + 1]; p++)
        sp->mask[k->items[p]] = 0;
    *n_out = m;
    return JC_OK;
}

int jc_replay_scorer_policy(struct jc_replay_policy *out, const char *name, struct jc_scorer *s,
                            const struct jc_eval_part *known)
{
    if (s->score == NULL || known->n_users != s->n_users || known->n_items != s->n_items)
        return jc_err_set(JC_EINVAL, "replay: scorer %s: no full scores or shape differs", name);
    struct scorer_policy *sp = jc_calloc(1, sizeof *sp);
    if (sp == NULL)
        return JC_ENOMEM;
    sp->s = s;
    sp->known = known;
    sp->buf = jc_malloc_array(s->n_items ? s->n_items : 1, sizeof *sp->buf);
    sp->mask = jc_calloc(s->n_items ? s->n_items : 1, 1);
    int rc = (!sp->buf || !sp->mask) ? JC_ENOMEM : JC_OK;
    if (rc == JC_OK && s->prepare)
        rc = s->prepare(s->self, 1);
    if (rc) {
        jc_free(sp->buf);
        jc_free(sp->mask);
        jc_free(sp);
        return rc;
    }
    out->name = name;
    out->self = sp;
    out->recommend = scorer_recommend;
    return JC_OK;
}

void jc_replay_scorer_policy_free(struct jc_replay_policy *p)
{
    struct scorer_policy *sp = p->self;
    if (sp == NULL)
        return;
    jc_free(sp->buf);
    jc_free(sp->mask);
    jc_free(sp);
    p->self = NULL;
}
