/*
 * router.c - route table compilation and matching.
 *
 * Each pattern is split once into segments (literal text or a capture); a
 * request path is split on '/' into at most JC_ROUTE_MAX_SEGMENTS slices and
 * compared segment by segment against every route in table order. Tables are
 * a few dozen routes, so a linear scan (no allocation, no hashing) costs well
 * under a microsecond.
 */
#include "serve/router.h"

#include "core/alloc.h"
#include <junco/error.h>

#include <stdio.h>
#include <string.h>

struct seg {
    const char *text; /* literal text or capture name (into the pattern) */
    size_t len;
    int capture; /* 0 literal, 1 "{x}", 2 "{x*}" */
};

struct compiled {
    struct seg segs[JC_ROUTE_MAX_SEGMENTS];
    int n_segs;
};

struct jc_router {
    const struct jc_route *routes;
    size_t n;
    struct compiled *c;
};

static int valid_capture_name(const char *s, size_t n)
{
    if (n == 0)
        return 0;
    for (size_t i = 0; i < n; i++) {
        char ch = s[i];
        if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || ch == '_' ||
              (i && ch >= '0' && ch <= '9')))
            return 0;
    }
    return 1;
}

static int compile(const char *pat, struct compiled *c)
{
    if (pat == NULL || pat[0] != '/')
        return jc_err_set(JC_EINVAL, "route pattern '%s' must start with '/'",
                          pat ? pat : "(null)");
    c->n_segs = 0;
    int n_caps = 0;
    const char *p = pat + 1;
    if (*p == '\0')
        return JC_OK; /* "/" has no segments */
    for (;;) {
        const char *end = strchr(p, '/');
        size_t len = end ? (size_t)(end - p) : strlen(p);
        if (c->n_segs >= JC_ROUTE_MAX_SEGMENTS)
            return jc_err_set(JC_EINVAL, "route pattern '%s' has more than %d segments", pat,
                              JC_ROUTE_MAX_SEGMENTS);
        if (len == 0)
            return jc_err_set(JC_EINVAL, "route pattern '%s' has an empty segment", pat);
        struct seg *s = &c->segs[c->n_segs++];
        if (p[0] == '{') {
            if (p[len - 1] != '}' || len < 3)
                return jc_err_set(JC_EINVAL, "route pattern '%s': bad capture '%.*s'", pat,
                                  (int)len, p);
            s->text = p + 1;
            s->len = len - 2;
            s->capture = 1;
            if (s->text[s->len - 1] == '*') {
                s->len--;
                s->capture = 2;
                if (end != NULL)
                    return jc_err_set(JC_EINVAL,
                                      "route pattern '%s': '{%.*s*}' must be the last segment", pat,
                                      (int)s->len, s->text);
            }
            if (!valid_capture_name(s->text, s->len))
                return jc_err_set(JC_EINVAL, "route pattern '%s': bad capture name '%.*s'", pat,
                                  (int)s->len, s->text);
            if (++n_caps > JC_ROUTE_MAX_PARAMS)
                return jc_err_set(JC_EINVAL, "route pattern '%s' has more than %d captures", pat,
                                  JC_ROUTE_MAX_PARAMS);
        } else {
            if (memchr(p, '{', len) || memchr(p, '}', len))
                return jc_err_set(JC_EINVAL, "route pattern '%s': braces inside '%.*s'", pat,
                                  (int)len, p);
            s->text = p;
            s->len = len;
            s->capture = 0;
        }
        if (end == NULL)
            break;
        p = end + 1;
        if (*p == '\0')
            return jc_err_set(JC_EINVAL, "route pattern '%s' ends with '/'", pat);
    }
    return JC_OK;
}

int jc_router_create(struct jc_router **out, const struct jc_route *routes, size_t n)
{
    struct jc_router *r = jc_calloc(1, sizeof *r);
    if (r == NULL)
        return JC_ENOMEM;
    r->c = n ? jc_calloc(n, sizeof *r->c) : NULL;
    if (n && r->c == NULL) {
        jc_free(r);
        return JC_ENOMEM;
    }
    r->routes = routes;
    r->n = n;
    for (size_t i = 0; i < n; i++) {
        int rc = compile(routes[i].pattern, &r->c[i]);
        if (rc == JC_OK && (routes[i].fn == NULL || routes[i].method == 0 ||
                            (routes[i].method & (routes[i].method - 1)) != 0))
            rc = jc_err_set(JC_EINVAL, "route %s: needs one method and a handler",
                            routes[i].pattern);
        for (size_t k = 0; rc == JC_OK && k < i; k++)
            if (routes[k].method == routes[i].method &&
                strcmp(routes[k].pattern, routes[i].pattern) == 0)
                rc = jc_err_set(JC_EINVAL, "route %s is defined twice", routes[i].pattern);
        if (rc) {
            jc_router_destroy(r);
            return rc;
        }
    }
    *out = r;
    return JC_OK;
}

void jc_router_destroy(struct jc_router *r)
{
    if (r == NULL)
        return;
    jc_free(r->c);
    jc_free(r);
}

const struct jc_route *jc_router_route(const struct jc_router *r, int index)
{
    return index >= 0 && (size_t)index < r->n ? &r->routes[index] : NULL;
}

size_t jc_router_count(const struct jc_router *r)
{
    return r->n;
}

unsigned jc_http_method_bit(const char *m)
{
    static const struct {
        const char *name;
        unsigned bit;
    } tab[] = {{"GET", JC_M_GET},    {"HEAD", JC_M_HEAD},     {"POST", JC_M_POST},
               {"PUT", JC_M_PUT},    {"DELETE", JC_M_DELETE}, {"OPTIONS", JC_M_OPTIONS},
               {"PATCH", JC_M_PATCH}};
    for (size_t i = 0; m && i < sizeof tab / sizeof tab[0]; i++)
        if (strcmp(m, tab[i].name) == 0)
            return tab[i].bit;
    return JC_M_OTHER;
}

void jc_http_methods_str(unsigned bits, char *out, size_t cap)
{
    static const char *const names[] = {"GET", "HEAD", "POST", "PUT", "DELETE", "OPTIONS", "PATCH"};
    size_t len = 0;
    if (cap)
        out[0] = '\0';
    for (int i = 0; i < 7; i++) {
        if (!(bits & (1u << i)))
            continue;
        int w = snprintf(out + len, cap > len ? cap - len : 0, "%s%s", len ? ", " : "", names[i]);
        if (w < 0 || (size_t)w >= cap - len)
            return;
        len += (size_t)w;
    }
}

struct pseg {
    const char *p;
    size_t len;
    const char *rest; /* the path from this segment on (for {x*}) */
};

static int split_path(const char *path, struct pseg *segs, int max, int *n_out)
{
    int n = 0;
    const char *p = path + 1;
    if (*p == '\0') {
        *n_out = 0;
        return 0;
    }
    for (;;) {
        if (n >= max)
            return -1;
        const char *end = strchr(p, '/');
        segs[n].p = p;
        segs[n].rest = p;
        segs[n].len = end ? (size_t)(end - p) : strlen(p);
        n++;
        if (end == NULL)
            break;
        p = end + 1;
    }
    *n_out = n;
    return 0;
}

/* Matches one compiled pattern; fills captures into m on success. */
static int match_one(const struct compiled *c, const struct pseg *ps, int n_ps,
                     struct jc_route_match *m)
{
    int n_params = 0;
    for (int i = 0; i < c->n_segs; i++) {
        const struct seg *s = &c->segs[i];
        if (s->capture == 2) {
            /* rest of the path (may be empty: "/static/" or "/static") */
            const char *v = i < n_ps ? ps[i].rest : "";
            m->params[n_params].name = s->text;
            m->params[n_params].name_len = s->len;
            m->params[n_params].value = v;
            m->params[n_params].len = strlen(v);
            n_params++;
            m->n_params = n_params;
            return 1;
        }
        if (i >= n_ps)
            return 0;
        if (s->capture == 1) {
            if (ps[i].len == 0)
                return 0;
            m->params[n_params].name = s->text;
            m->params[n_params].name_len = s->len;
            m->params[n_params].value = ps[i].p;
            m->params[n_params].len = ps[i].len;
            n_params++;
        } else if (s->len != ps[i].len || memcmp(s->text, ps[i].p, s->len) != 0) {
            return 0;
        }
    }
    if (c->n_segs != n_ps)
        return 0;
    m->n_params = n_params;
    return 1;
}

enum jc_route_result jc_router_match(const struct jc_router *r, unsigned method, const char *path,
                                     struct jc_route_match *m)
{
    m->index = -1;
    m->n_params = 0;
    m->allowed = 0;
    struct pseg ps[JC_ROUTE_MAX_SEGMENTS + 1];
    int n_ps;
    if (path == NULL || path[0] != '/')
        return JC_ROUTE_NO_PATH;
    /* Paths deeper than any pattern can still match a trailing {x*}. */
    int too_deep = split_path(path, ps, JC_ROUTE_MAX_SEGMENTS, &n_ps) != 0;
    if (too_deep)
        n_ps = JC_ROUTE_MAX_SEGMENTS;
    unsigned want = method == JC_M_HEAD ? (JC_M_HEAD | JC_M_GET) : method;
    for (size_t i = 0; i < r->n; i++) {
        const struct compiled *c = &r->c[i];
        if (too_deep && (c->n_segs == 0 || c->segs[c->n_segs - 1].capture != 2))
            continue;
        struct jc_route_match tmp;
        if (!match_one(c, ps, n_ps, &tmp))
            continue;
        if ((r->routes[i].flags & JC_ROUTE_FALLBACK) == 0) {
            m->allowed |= r->routes[i].method;
            if (r->routes[i].method == JC_M_GET)
                m->allowed |= JC_M_HEAD;
        }
        if (m->index < 0 && (r->routes[i].method & want)) {
            *m = (struct jc_route_match){.index = (int)i, .allowed = m->allowed};
            m->n_params = tmp.n_params;
            memcpy(m->params, tmp.params, sizeof tmp.params[0] * (size_t)tmp.n_params);
        }
    }
    /* A real route with another method beats the fallback: 405, not 404. */
    if (m->index >= 0 && (r->routes[m->index].flags & JC_ROUTE_FALLBACK) && m->allowed) {
        m->index = -1;
        m->n_params = 0;
    }
    if (m->index >= 0)
        return JC_ROUTE_FOUND;
    return m->allowed ? JC_ROUTE_NO_METHOD : JC_ROUTE_NO_PATH;
}

const char *jc_route_param(const struct jc_route_match *m, const char *name, size_t *len)
{
    size_t n = strlen(name);
    for (int i = 0; i < m->n_params; i++) {
        if (m->params[i].name_len == n && memcmp(m->params[i].name, name, n) == 0) {
            *len = m->params[i].len;
            return m->params[i].value;
        }
    }
    return NULL;
}
