/*
 * experiment.c - compiling, validating and evaluating A/B layers (see
 * experiment.h for the configuration and the assignment rule).
 *
 * Compilation runs in three passes over the raw config entries: the
 * [experiment.*] sections (layers, traffic, variants and their ranges),
 * then the [variant.*] sections (scene patches, parsed by the pipeline's
 * own scene parser so a variant accepts exactly what a scene accepts), then
 * the cross-layer check that no scene key is overridden by two layers.
 * Ranges are fixed by config order and do not depend on `enabled`, so
 * switching one experiment off or on never moves the users of another.
 */
#include "serve/experiment.h"

#include "core/alloc.h"
#include "core/hash.h"
#include "core/parse.h"
#include <junco/error.h>

#include <math.h>
#include <stdio.h>
#include <string.h>

#define SHARE_EPS 1e-6

/* Experiment keys, as bits (duplicate detection). */
enum {
    K_LAYER = 1,
    K_SALT = 2,
    K_TRAFFIC = 4,
    K_VARIANTS = 8,
    K_SCENES = 16,
    K_ENABLED = 32,
};

static int valid_name(const char *s, size_t n)
{
    if (n == 0 || n > JC_EXP_NAME_MAX)
        return 0;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '_' || c == '-'))
            return 0;
    }
    return 1;
}

double jc_experiments_bucket(uint64_t seed, const char *user, size_t n)
{
    return (double)(jc_hash64(user, n, seed) >> 11) * 0x1.0p-53;
}

void jc_experiments_destroy(struct jc_experiments *e)
{
    jc_free(e);
}

const struct jc_experiment *jc_experiments_find(const struct jc_experiments *e, const char *name)
{
    for (int i = 0; i < e->n_exp; i++)
        if (strcmp(e->exp[i].name, name) == 0)
            return &e->exp[i];
    return NULL;
}

/* Calls fn(ctx, token, len) for each trimmed, non-empty comma-separated
 * token of s; stops at the first error. */
static int each_token(const char *s, int (*fn)(void *, const char *, size_t), void *ctx)
{
    while (*s) {
        const char *e = strchr(s, ',');
        size_t n = e ? (size_t)(e - s) : strlen(s);
        const char *t = s;
        size_t tn = n;
        jc_trim(&t, &tn);
        if (tn) {
            int rc = fn(ctx, t, tn);
            if (rc)
                return rc;
        }
        if (e == NULL)
            break;
        s = e + 1;
    }
    return JC_OK;
}

struct tok_ctx {
    struct jc_experiment *x;
    const struct jc_scenes *scenes;
    const char *where;
    int with_share, without_share;
};

static int add_variant(void *p, const char *t, size_t n)
{
    struct tok_ctx *c = p;
    struct jc_experiment *x = c->x;
    const char *colon = memchr(t, ':', n);
    size_t nl = colon ? (size_t)(colon - t) : n;
    const char *nm = t;
    jc_trim(&nm, &nl);
    if (!valid_name(nm, nl))
        return jc_err_set(JC_EINVAL, "%s: variant name '%.*s' must be 1-%d bytes of [A-Za-z0-9_-]",
                          c->where, (int)(nl < 80 ? nl : 80), nm, JC_EXP_NAME_MAX);
    for (int i = 0; i < x->n_variants; i++)
        if (strlen(x->v[i].name) == nl && memcmp(x->v[i].name, nm, nl) == 0)
            return jc_err_set(JC_EINVAL, "%s: variant '%.*s' listed twice", c->where, (int)nl, nm);
    if (x->n_variants == JC_EXP_MAX_VARIANTS)
        return jc_err_set(JC_EINVAL, "%s: more than %d variants", c->where, JC_EXP_MAX_VARIANTS);
    struct jc_exp_variant *v = &x->v[x->n_variants];
    memset(v, 0, sizeof *v);
    memcpy(v->name, nm, nl);
    v->name[nl] = '\0';
    if (colon) {
        const char *q = colon + 1;
        size_t qn = n - nl - 1;
        jc_trim(&q, &qn);
        double share;
        if (jc_parse_f64(q, qn, &share) || !(share > 0) || share > 1)
            return jc_err_set(JC_EINVAL, "%s: share of variant '%s' must be a number in (0, 1]",
                              c->where, v->name);
        v->share = share;
        c->with_share++;
    } else {
        c->without_share++;
    }
    x->n_variants++;
    return JC_OK;
}

static int add_scene(void *p, const char *t, size_t n)
{
    struct tok_ctx *c = p;
    struct jc_experiment *x = c->x;
    char name[64];
    if (n >= sizeof name)
        return jc_err_set(JC_EINVAL, "%s: scene name too long", c->where);
    memcpy(name, t, n);
    name[n] = '\0';
    if (jc_scenes_find(c->scenes, name) == NULL)
        return jc_err_set(JC_EINVAL, "%s: unknown scene '%s'", c->where, name);
    for (int i = 0; i < x->n_scenes; i++)
        if (strcmp(x->scenes[i], name) == 0)
            return jc_err_set(JC_EINVAL, "%s: scene '%s' listed twice", c->where, name);
    if (x->n_scenes == JC_EXP_MAX_SCENES)
        return jc_err_set(JC_EINVAL, "%s: more than %d scenes", c->where, JC_EXP_MAX_SCENES);
    memcpy(x->scenes[x->n_scenes++], name, n + 1);
    return JC_OK;
}

/* Sets one key of an experiment section. */
static int exp_set(struct jc_experiment *x, unsigned *seen, char *layer, char *salt,
                   const struct jc_scenes *scenes, const char *key, const char *value)
{
    char where[160];
    snprintf(where, sizeof where, "[experiment.%s] %s", x->name, key);
    static const struct {
        const char *name;
        unsigned bit;
    } keys[] = {{"layer", K_LAYER},       {"salt", K_SALT},     {"traffic", K_TRAFFIC},
                {"variants", K_VARIANTS}, {"scenes", K_SCENES}, {"enabled", K_ENABLED}};
    unsigned bit = 0;
    for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++)
        if (strcmp(key, keys[i].name) == 0)
            bit = keys[i].bit;
    if (bit == 0)
        return jc_err_set(JC_EINVAL,
                          "%s: unknown key (known: layer, salt, traffic, variants, scenes, "
                          "enabled)",
                          where);
    if (*seen & bit)
        return jc_err_set(JC_EINVAL, "%s: given twice", where);
    *seen |= bit;
    size_t n = strlen(value);
    switch (bit) {
    case K_LAYER:
        if (!valid_name(value, n))
            return jc_err_set(JC_EINVAL, "%s: '%s' must be 1-%d bytes of [A-Za-z0-9_-]", where,
                              value, JC_EXP_NAME_MAX);
        memcpy(layer, value, n + 1);
        return JC_OK;
    case K_SALT:
        if (n == 0 || n > JC_EXP_NAME_MAX * 2)
            return jc_err_set(JC_EINVAL, "%s: must be 1-%d bytes", where, JC_EXP_NAME_MAX * 2);
        for (size_t i = 0; i < n; i++)
            if ((unsigned char)value[i] < 0x20)
                return jc_err_set(JC_EINVAL, "%s: contains a control character", where);
        memcpy(salt, value, n + 1);
        return JC_OK;
    case K_TRAFFIC: {
        double t;
        if (jc_parse_f64(value, n, &t) || !(t > 0) || t > 1)
            return jc_err_set(JC_EINVAL, "%s: '%s' is not a number in (0, 1]", where, value);
        x->traffic = t;
        return JC_OK;
    }
    case K_ENABLED:
        if (jc_parse_bool(value, n, &x->enabled))
            return jc_err_set(JC_EINVAL, "%s: '%s' is not a boolean", where, value);
        return JC_OK;
    case K_SCENES: {
        struct tok_ctx c = {.x = x, .scenes = scenes, .where = where};
        return each_token(value, add_scene, &c);
    }
    default: { /* K_VARIANTS */
        struct tok_ctx c = {.x = x, .scenes = scenes, .where = where};
        int rc = each_token(value, add_variant, &c);
        if (rc)
            return rc;
        if (x->n_variants == 0)
            return jc_err_set(JC_EINVAL, "%s: no variants", where);
        if (c.with_share && c.without_share)
            return jc_err_set(JC_EINVAL,
                              "%s: give a share to every variant (name:share) or to none "
                              "(equal split)",
                              where);
        double sum = 0;
        for (int i = 0; i < x->n_variants; i++) {
            if (c.without_share)
                x->v[i].share = 1.0 / x->n_variants;
            sum += x->v[i].share;
        }
        if (fabs(sum - 1.0) > SHARE_EPS)
            return jc_err_set(JC_EINVAL, "%s: shares sum to %.6g, not 1", where, sum);
        return JC_OK;
    }
    }
}

struct build {
    struct jc_experiments *e;
    char layer[JC_EXP_MAX_EXPERIMENTS][JC_EXP_NAME_MAX + 1];
    char salt[JC_EXP_MAX_EXPERIMENTS][JC_EXP_NAME_MAX * 2 + 1];
    unsigned seen[JC_EXP_MAX_EXPERIMENTS];
};

static int scenes_intersect(const struct jc_experiment *a, const struct jc_experiment *b)
{
    if (a->n_scenes == 0 || b->n_scenes == 0)
        return 1;
    for (int i = 0; i < a->n_scenes; i++)
        for (int k = 0; k < b->n_scenes; k++)
            if (strcmp(a->scenes[i], b->scenes[k]) == 0)
                return 1;
    return 0;
}

static unsigned overridden_keys(const struct jc_experiment *x)
{
    unsigned keys = 0;
    for (int i = 0; i < x->n_variants; i++)
        keys |= x->v[i].patch.set;
    return keys;
}

/* Pass 1: experiments; layers and ranges. */
static int build_experiments(struct build *b, const struct jc_config *cfg,
                             const struct jc_scenes *scenes)
{
    struct jc_experiments *e = b->e;
    for (size_t i = 0; i < cfg->n_raw; i++) {
        const struct jc_config_raw *r = &cfg->raw[i];
        if (strncmp(r->section, "experiment.", 11) != 0)
            continue;
        const char *name = r->section + 11;
        size_t nn = strlen(name);
        if (!valid_name(name, nn))
            return jc_err_set(JC_EINVAL,
                              "[%s]: experiment name must be 1-%d bytes of [A-Za-z0-9_-]",
                              r->section, JC_EXP_NAME_MAX);
        int k = 0;
        while (k < e->n_exp && strcmp(e->exp[k].name, name) != 0)
            k++;
        if (k == e->n_exp) {
            if (e->n_exp == JC_EXP_MAX_EXPERIMENTS)
                return jc_err_set(JC_EINVAL, "[%s]: more than %d experiments", r->section,
                                  JC_EXP_MAX_EXPERIMENTS);
            struct jc_experiment *x = &e->exp[e->n_exp++];
            memcpy(x->name, name, nn + 1);
            x->traffic = 1.0;
            x->enabled = 1;
        }
        int rc =
            exp_set(&e->exp[k], &b->seen[k], b->layer[k], b->salt[k], scenes, r->key, r->value);
        if (rc)
            return rc;
    }
    for (int k = 0; k < e->n_exp; k++) {
        struct jc_experiment *x = &e->exp[k];
        if (!(b->seen[k] & K_VARIANTS))
            return jc_err_set(JC_EINVAL,
                              "[experiment.%s] variants: missing (e.g. variants = control:0.5, "
                              "test:0.5)",
                              x->name);
        const char *lname = (b->seen[k] & K_LAYER) ? b->layer[k] : x->name;
        int l = 0;
        while (l < e->n_layers && strcmp(e->layers[l].name, lname) != 0)
            l++;
        if (l == e->n_layers) {
            if (e->n_layers == JC_EXP_MAX_LAYERS)
                return jc_err_set(JC_EINVAL, "[experiment.%s] layer: more than %d layers", x->name,
                                  JC_EXP_MAX_LAYERS);
            struct jc_exp_layer *ly = &e->layers[e->n_layers++];
            snprintf(ly->name, sizeof ly->name, "%s", lname);
            snprintf(ly->salt, sizeof ly->salt, "%s", lname);
        }
        struct jc_exp_layer *ly = &e->layers[l];
        if (b->seen[k] & K_SALT) {
            if (ly->salt_explicit && strcmp(ly->salt, b->salt[k]) != 0)
                return jc_err_set(JC_EINVAL,
                                  "[experiment.%s] salt: '%s' differs from the salt '%s' that "
                                  "another experiment gives layer '%s' (one salt per layer)",
                                  x->name, b->salt[k], ly->salt, ly->name);
            snprintf(ly->salt, sizeof ly->salt, "%s", b->salt[k]);
            ly->salt_explicit = 1;
        }
        x->layer = l;
        x->lo = ly->used;
        x->hi = ly->used + x->traffic;
        ly->used = x->hi;
        if (ly->used > 1.0 + SHARE_EPS) {
            char list[512];
            size_t at = 0;
            for (int j = 0; j <= k && at < sizeof list; j++)
                if (e->exp[j].layer == l)
                    at += (size_t)snprintf(list + at, sizeof list - at, "%s%s (%.4g)",
                                           at ? ", " : "", e->exp[j].name, e->exp[j].traffic);
            return jc_err_set(JC_EINVAL,
                              "[experiment.%s] traffic: the experiments of layer '%s' take %.6g "
                              "of its users, more than 1: %s",
                              x->name, ly->name, ly->used, list);
        }
        if (x->hi > 1.0)
            x->hi = 1.0;
        double cum = x->lo;
        for (int v = 0; v < x->n_variants; v++) {
            x->v[v].lo = cum;
            cum += x->v[v].share * x->traffic;
            x->v[v].hi = v + 1 == x->n_variants ? x->hi : cum;
        }
    }
    for (int l = 0; l < e->n_layers; l++)
        e->layers[l].seed = jc_hash64(e->layers[l].salt, strlen(e->layers[l].salt), 0);
    return JC_OK;
}

/* Pass 2: variant sections. */
static int build_variants(struct build *b, const struct jc_config *cfg)
{
    struct jc_experiments *e = b->e;
    for (size_t i = 0; i < cfg->n_raw; i++) {
        const struct jc_config_raw *r = &cfg->raw[i];
        if (strncmp(r->section, "variant.", 8) != 0)
            continue;
        const char *en = r->section + 8;
        const char *dot = strchr(en, '.');
        if (dot == NULL)
            return jc_err_set(JC_EINVAL, "[%s]: expected [variant.EXPERIMENT.VARIANT]", r->section);
        size_t el = (size_t)(dot - en);
        int k = 0;
        while (k < e->n_exp &&
               !(strlen(e->exp[k].name) == el && memcmp(e->exp[k].name, en, el) == 0))
            k++;
        if (k == e->n_exp)
            return jc_err_set(JC_EINVAL, "[%s]: unknown experiment '%.*s' (no [experiment.%.*s])",
                              r->section, (int)el, en, (int)el, en);
        struct jc_experiment *x = &e->exp[k];
        int v = 0;
        while (v < x->n_variants && strcmp(x->v[v].name, dot + 1) != 0)
            v++;
        if (v == x->n_variants) {
            char list[256];
            size_t at = 0;
            for (int j = 0; j < x->n_variants && at < sizeof list; j++)
                at += (size_t)snprintf(list + at, sizeof list - at, "%s%s", j ? ", " : "",
                                       x->v[j].name);
            return jc_err_set(JC_EINVAL,
                              "[%s]: experiment '%s' has no variant '%s' (its variants: %s)",
                              r->section, x->name, dot + 1, list);
        }
        char where[200];
        snprintf(where, sizeof where, "[%s] %s", r->section, r->key);
        unsigned before = x->v[v].patch.set;
        struct jc_scene_patch probe = {0};
        int rc = jc_scene_patch_set(&probe, where, r->key, r->value);
        if (rc)
            return rc;
        if (before & probe.set)
            return jc_err_set(JC_EINVAL, "%s: given twice", where);
        rc = jc_scene_patch_set(&x->v[v].patch, where, r->key, r->value);
        if (rc)
            return rc;
    }
    return JC_OK;
}

/* Pass 3: a key of a scene is overridden by at most one layer. */
static int check_layers(const struct jc_experiments *e)
{
    for (int a = 0; a < e->n_exp; a++) {
        for (int b = a + 1; b < e->n_exp; b++) {
            const struct jc_experiment *x = &e->exp[a], *y = &e->exp[b];
            if (x->layer == y->layer || !scenes_intersect(x, y))
                continue;
            unsigned both = overridden_keys(x) & overridden_keys(y);
            if (both == 0)
                continue;
            unsigned bit = both & -both;
            return jc_err_set(JC_EINVAL,
                              "[experiment.%s]: its variants override '%s', which experiment "
                              "'%s' of layer '%s' overrides too; layers must override disjoint "
                              "keys (put both experiments in one layer, or split the keys)",
                              y->name, jc_scene_key_name(bit), x->name, e->layers[x->layer].name);
        }
    }
    return JC_OK;
}

int jc_experiments_build(struct jc_experiments **out, const struct jc_config *cfg,
                         const struct jc_scenes *scenes)
{
    struct build *b = jc_calloc(1, sizeof *b);
    struct jc_experiments *e = jc_calloc(1, sizeof *e);
    if (b == NULL || e == NULL) {
        jc_free(b);
        jc_free(e);
        return JC_ENOMEM;
    }
    b->e = e;
    int rc = JC_OK;
    if (cfg) {
        rc = build_experiments(b, cfg, scenes);
        if (rc == JC_OK)
            rc = build_variants(b, cfg);
        if (rc == JC_OK)
            rc = check_layers(e);
    }
    jc_free(b);
    if (rc) {
        jc_free(e);
        return rc;
    }
    *out = e;
    return JC_OK;
}

static int applies(const struct jc_experiment *x, const char *scene)
{
    if (scene == NULL || x->n_scenes == 0)
        return 1;
    for (int i = 0; i < x->n_scenes; i++)
        if (strcmp(x->scenes[i], scene) == 0)
            return 1;
    return 0;
}

size_t jc_experiments_assign(const struct jc_experiments *e, const char *user, size_t n,
                             const char *scene, struct jc_assignment *out, size_t cap)
{
    double bucket[JC_EXP_MAX_LAYERS];
    const struct jc_experiment *hit[JC_EXP_MAX_LAYERS] = {0};
    for (int l = 0; l < e->n_layers; l++)
        bucket[l] = jc_experiments_bucket(e->layers[l].seed, user, n);
    for (int k = 0; k < e->n_exp; k++) {
        const struct jc_experiment *x = &e->exp[k];
        double b = bucket[x->layer];
        if (b >= x->lo && b < x->hi && x->enabled && applies(x, scene))
            hit[x->layer] = x;
    }
    size_t m = 0;
    for (int l = 0; l < e->n_layers && m < cap; l++) {
        const struct jc_experiment *x = hit[l];
        if (x == NULL)
            continue;
        int v = 0;
        while (v + 1 < x->n_variants && bucket[l] >= x->v[v].hi)
            v++;
        out[m].layer = &e->layers[l];
        out[m].exp = x;
        out[m].variant = &x->v[v];
        m++;
    }
    return m;
}
