/*
 * config.c - the declarative settings table at work: defaults, INI files
 * (through inih), environment overrides, --set, validation and formatting.
 */
#include <junco/config.h>

#include "alloc.h"
#include "parse.h"
#include <junco/error.h>

#include <ctype.h>
#include <ini.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum vtype { T_STR, T_INT, T_DBL, T_BOOL, T_SIZE };

struct keydef {
    struct jc_config_keyinfo info;
    enum vtype type;
    size_t off;
};

static const struct keydef keys[] = {
#define X(sec, key, type, def, lo, hi, choices, help) \
    {{#sec, #key, #type, def, lo, hi, choices, help}, \
     T_##type,                                        \
     offsetof(struct jc_config, sec##_##key)},
#include <junco/config_keys.def>
#undef X
};

const struct jc_config_keyinfo *jc_config_keyinfo(enum jc_config_key k)
{
    if ((int)k < 0 || k >= JC_CFG__COUNT)
        return NULL;
    return &keys[k].info;
}

int jc_config_find(const char *name)
{
    const char *dot = strchr(name, '.');
    if (dot == NULL)
        return -1;
    size_t slen = (size_t)(dot - name);
    for (int i = 0; i < JC_CFG__COUNT; i++) {
        if (strlen(keys[i].info.section) == slen &&
            strncmp(keys[i].info.section, name, slen) == 0 &&
            strcmp(keys[i].info.key, dot + 1) == 0)
            return i;
    }
    return -1;
}

const char *jc_config_source_name(enum jc_config_source s)
{
    switch (s) {
    case JC_CFG_SRC_DEFAULT:
        return "default";
    case JC_CFG_SRC_FILE:
        return "file";
    case JC_CFG_SRC_ENV:
        return "env";
    case JC_CFG_SRC_CLI:
        return "--set";
    }
    return "?";
}

static int choice_ok(const char *choices, const char *v)
{
    if (choices[0] == '\0')
        return 1;
    size_t n = strlen(v);
    const char *p = choices;
    while (*p) {
        const char *bar = strchr(p, '|');
        size_t len = bar ? (size_t)(bar - p) : strlen(p);
        if (len == n && strncmp(p, v, n) == 0)
            return 1;
        if (bar == NULL)
            break;
        p = bar + 1;
    }
    return 0;
}

/* Parses and stores one value; on error sets a message naming the key. */
static int store(struct jc_config *cfg, int k, const char *value)
{
    const struct keydef *d = &keys[k];
    char *base = (char *)cfg + d->off;
    size_t n = strlen(value);
    const char *sec = d->info.section, *key = d->info.key;
    switch (d->type) {
    case T_STR: {
        if (!choice_ok(d->info.choices, value))
            return jc_err_set(JC_EINVAL, "%s.%s: '%s' is not one of %s", sec, key, value,
                              d->info.choices);
        char *copy = jc_strdup(value);
        if (copy == NULL)
            return JC_ENOMEM;
        char **slot = (char **)(void *)base;
        jc_free(*slot);
        *slot = copy;
        return JC_OK;
    }
    case T_INT: {
        int64_t v;
        int rc = jc_parse_i64(value, n, &v);
        if (rc)
            return jc_err_set(rc, "%s.%s: '%s' is not an integer", sec, key, value);
        if ((double)v < d->info.min || (double)v > d->info.max)
            return jc_err_set(JC_ERANGE, "%s.%s: %lld is outside [%.17g, %.17g]", sec, key,
                              (long long)v, d->info.min, d->info.max);
        *(int64_t *)(void *)base = v;
        return JC_OK;
    }
    case T_DBL: {
        double v;
        int rc = jc_parse_f64(value, n, &v);
        if (rc)
            return jc_err_set(rc, "%s.%s: '%s' is not a number", sec, key, value);
        if (v < d->info.min || v > d->info.max)
            return jc_err_set(JC_ERANGE, "%s.%s: %g is outside [%g, %g]", sec, key, v, d->info.min,
                              d->info.max);
        *(double *)(void *)base = v;
        return JC_OK;
    }
    case T_BOOL: {
        int v;
        if (jc_parse_bool(value, n, &v))
            return jc_err_set(JC_EPARSE, "%s.%s: '%s' is not a boolean (true/false)", sec, key,
                              value);
        *(int *)(void *)base = v;
        return JC_OK;
    }
    case T_SIZE: {
        uint64_t v;
        int rc = jc_parse_size(value, n, &v);
        if (rc)
            return jc_err_set(rc, "%s.%s: '%s' is not a size (e.g. 512M)", sec, key, value);
        if ((double)v < d->info.min || (double)v > d->info.max)
            return jc_err_set(JC_ERANGE, "%s.%s: %s is outside the allowed range", sec, key, value);
        *(uint64_t *)(void *)base = v;
        return JC_OK;
    }
    }
    return JC_EINTERNAL;
}

int jc_config_init(struct jc_config *cfg)
{
    memset(cfg, 0, sizeof *cfg);
    for (int i = 0; i < JC_CFG__COUNT; i++) {
        int rc = store(cfg, i, keys[i].info.def);
        if (rc) {
            jc_config_free(cfg);
            return rc;
        }
        cfg->source[i] = JC_CFG_SRC_DEFAULT;
    }
    return JC_OK;
}

void jc_config_free(struct jc_config *cfg)
{
    for (int i = 0; i < JC_CFG__COUNT; i++) {
        if (keys[i].type == T_STR) {
            char **slot = (char **)(void *)((char *)cfg + keys[i].off);
            jc_free(*slot);
            *slot = NULL;
        }
    }
    for (size_t i = 0; i < cfg->n_raw; i++) {
        jc_free(cfg->raw[i].section);
        jc_free(cfg->raw[i].key);
        jc_free(cfg->raw[i].value);
    }
    jc_free(cfg->raw);
    jc_free(cfg->file_path);
    cfg->raw = NULL;
    cfg->n_raw = 0;
    cfg->file_path = NULL;
}

int jc_config_set(struct jc_config *cfg, const char *name, const char *value,
                  enum jc_config_source src)
{
    int k = jc_config_find(name);
    if (k < 0)
        return jc_err_set(JC_ENOTFOUND, "unknown setting '%s' (see `junco config dump`)", name);
    int rc = store(cfg, k, value);
    if (rc == JC_OK)
        cfg->source[k] = (unsigned char)src;
    return rc;
}

int jc_config_set_assignment(struct jc_config *cfg, const char *assignment,
                             enum jc_config_source src)
{
    const char *eq = strchr(assignment, '=');
    if (eq == NULL || eq == assignment)
        return jc_err_set(JC_EINVAL, "expected section.key=value, got '%s'", assignment);
    char name[128];
    size_t n = (size_t)(eq - assignment);
    if (n >= sizeof name)
        return jc_err_set(JC_EINVAL, "setting name too long in '%s'", assignment);
    memcpy(name, assignment, n);
    name[n] = '\0';
    return jc_config_set(cfg, name, eq + 1, src);
}

static int add_raw(struct jc_config *cfg, const char *section, const char *key, const char *value)
{
    struct jc_config_raw *r = jc_realloc_array(cfg->raw, cfg->n_raw + 1, sizeof *r);
    if (r == NULL)
        return JC_ENOMEM;
    cfg->raw = r;
    struct jc_config_raw *e = &r[cfg->n_raw];
    e->section = jc_strdup(section);
    e->key = jc_strdup(key);
    e->value = jc_strdup(value);
    if (!e->section || !e->key || !e->value) {
        jc_free(e->section);
        jc_free(e->key);
        jc_free(e->value);
        return JC_ENOMEM;
    }
    cfg->n_raw++;
    return JC_OK;
}

struct ini_ctx {
    struct jc_config *cfg;
    int rc;
};

static int on_ini_entry(void *user, const char *section, const char *name, const char *value)
{
    struct ini_ctx *ctx = user;
    if (strchr(section, '.') != NULL) {
        ctx->rc = add_raw(ctx->cfg, section, name, value);
        return ctx->rc == JC_OK;
    }
    char full[160];
    snprintf(full, sizeof full, "%s.%s", section, name);
    ctx->rc = jc_config_set(ctx->cfg, full, value, JC_CFG_SRC_FILE);
    return ctx->rc == JC_OK;
}

int jc_config_load_file(struct jc_config *cfg, const char *path)
{
    FILE *f = fopen(path, "r");
    if (f == NULL)
        return jc_err_set(JC_ENOTFOUND, "cannot open config file %s", path);
    struct ini_ctx ctx = {cfg, JC_OK};
    int line = ini_parse_file(f, on_ini_entry, &ctx);
    fclose(f);
    if (line != 0) {
        if (ctx.rc != JC_OK)
            return jc_err_prefix(ctx.rc, "%s:%d", path, line);
        return jc_err_set(JC_EPARSE, "%s:%d: syntax error (expected [section] or key = value)",
                          path, line);
    }
    char *copy = jc_strdup(path);
    if (copy == NULL)
        return JC_ENOMEM;
    jc_free(cfg->file_path);
    cfg->file_path = copy;
    return JC_OK;
}

int jc_config_load_env(struct jc_config *cfg)
{
    for (int i = 0; i < JC_CFG__COUNT; i++) {
        char var[160];
        int n = snprintf(var, sizeof var, "JUNCO_%s_%s", keys[i].info.section, keys[i].info.key);
        for (int j = 0; j < n; j++)
            var[j] = (char)toupper((unsigned char)var[j]);
        const char *v = getenv(var);
        if (v == NULL)
            continue;
        int rc = store(cfg, i, v);
        if (rc)
            return jc_err_prefix(rc, "environment variable %s", var);
        cfg->source[i] = JC_CFG_SRC_ENV;
    }
    return JC_OK;
}

void jc_config_format_value(const struct jc_config *cfg, enum jc_config_key k, char *out,
                            size_t cap)
{
    const struct keydef *d = &keys[k];
    const char *base = (const char *)cfg + d->off;
    switch (d->type) {
    case T_STR:
        snprintf(out, cap, "%s", *(char *const *)(const void *)base);
        break;
    case T_INT:
        snprintf(out, cap, "%lld", (long long)*(const int64_t *)(const void *)base);
        break;
    case T_DBL:
        snprintf(out, cap, "%.15g", *(const double *)(const void *)base);
        break;
    case T_BOOL:
        snprintf(out, cap, "%s", *(const int *)(const void *)base ? "true" : "false");
        break;
    case T_SIZE:
        snprintf(out, cap, "%llu", (unsigned long long)*(const uint64_t *)(const void *)base);
        break;
    }
}

const char *jc_config_raw_get(const struct jc_config *cfg, const char *section, const char *key)
{
    for (size_t i = 0; i < cfg->n_raw; i++) {
        if (strcmp(cfg->raw[i].section, section) == 0 && strcmp(cfg->raw[i].key, key) == 0)
            return cfg->raw[i].value;
    }
    return NULL;
}
