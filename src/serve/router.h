/*
 * router.h - the declarative HTTP route table and its matcher.
 *
 * A route is (method, pattern, handler, flags, body limit). Patterns are
 * absolute paths whose segments are literals or captures: "{name}" matches
 * one non-empty segment, "{name*}" (last segment only) matches the rest of
 * the path, possibly empty. Routes are tried in table order; the first whose
 * method and pattern match wins. A path that matches some route but none with
 * the request's method is a 405, and the matcher reports the allowed methods;
 * HEAD matches GET routes. Capture values point into the caller's path
 * buffer (not copied), so they live as long as that buffer.
 *
 * jc_router_create validates the table (pattern syntax, capture names,
 * duplicate routes) and keeps a borrowed pointer to it: the table must
 * outlive the router (it is static in practice). Matching is read-only and
 * thread-safe.
 */
#ifndef JC_SERVE_ROUTER_H
#define JC_SERVE_ROUTER_H

#include <stddef.h>
#include <stdint.h>

#define JC_ROUTE_MAX_PARAMS   8
#define JC_ROUTE_MAX_SEGMENTS 16

/* Route flags. */
#define JC_ROUTE_AUTH     1u /* write/admin: needs the API key off loopback */
#define JC_ROUTE_CORS     2u /* add Access-Control-Allow-Origin */
#define JC_ROUTE_DEBUG    4u /* only when debug routes are enabled */
#define JC_ROUTE_FALLBACK 8u /* matched last resort: never makes a 405 */

/* Methods as bits (allowed-method sets). */
enum jc_http_method {
    JC_M_GET = 1,
    JC_M_HEAD = 2,
    JC_M_POST = 4,
    JC_M_PUT = 8,
    JC_M_DELETE = 16,
    JC_M_OPTIONS = 32,
    JC_M_PATCH = 64,
    JC_M_OTHER = 128,
};

struct jc_http_req;
struct jc_http_resp;
typedef void (*jc_route_fn)(struct jc_http_req *req, struct jc_http_resp *resp);

struct jc_route {
    unsigned method;     /* one JC_M_* bit */
    const char *pattern; /* e.g. "/api/v1/items/{id}" */
    jc_route_fn fn;
    unsigned flags;    /* JC_ROUTE_* */
    size_t body_limit; /* max request body; 0 = no body accepted */
};

struct jc_route_param {
    const char *name; /* borrowed from the compiled pattern */
    size_t name_len;
    const char *value; /* points into the matched path */
    size_t len;
};

struct jc_route_match {
    int index; /* route index, -1 if none */
    int n_params;
    struct jc_route_param params[JC_ROUTE_MAX_PARAMS];
    unsigned allowed; /* JC_M_* bits of routes whose pattern matched */
};

struct jc_router;

/* Compiles a table of n routes. JC_EINVAL with the route's pattern in the
 * message for a malformed pattern or a duplicate (method, pattern). */
int jc_router_create(struct jc_router **out, const struct jc_route *routes, size_t n);
void jc_router_destroy(struct jc_router *r);
const struct jc_route *jc_router_route(const struct jc_router *r, int index);
size_t jc_router_count(const struct jc_router *r);

/* Method name -> JC_M_* bit (JC_M_OTHER for unknown names). */
unsigned jc_http_method_bit(const char *method);
/* "GET, HEAD, POST" for a set of bits into out. */
void jc_http_methods_str(unsigned bits, char *out, size_t cap);

enum jc_route_result {
    JC_ROUTE_FOUND = 0,
    JC_ROUTE_NO_PATH = 1,   /* 404 */
    JC_ROUTE_NO_METHOD = 2, /* 405; m->allowed says what would match */
};

/* Matches (method, path). path is a NUL-terminated absolute path without
 * the query string. Always fills *m. */
enum jc_route_result jc_router_match(const struct jc_router *r, unsigned method, const char *path,
                                     struct jc_route_match *m);

/* The value of capture `name`, or NULL (and *len untouched). */
const char *jc_route_param(const struct jc_route_match *m, const char *name, size_t *len);

#endif
