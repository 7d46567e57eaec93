/*
 * static.c - the web UI's files, served only from below the web root.
 *
 * The request path (already percent-decoded by the HTTP library, so "%2e%2e"
 * arrives as "..") is checked segment by segment before touching the file
 * system: no "." or ".." segments, no hidden names, no backslashes or control
 * bytes. The candidate path is then resolved with realpath(3) and must still
 * lie inside the web root's real path, which rejects symlinks that point out
 * of the root. Files are read whole (the UI is small; the cap is 4 MiB) and
 * sent with a content type from a fixed extension table and
 * "Cache-Control: no-cache" so a reloaded UI is picked up at once.
 * The same checks serve <home>/reports/ under /reports/ (the evaluation
 * report of `junco eval`, its SVG plots and the training curves), so the
 * UI can link the latest report.
 */
#include "serve/serve_int.h"

#include "core/alloc.h"
#include "core/fileio.h"
#include <junco/error.h>

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define STATIC_MAX_FILE ((size_t)4 << 20)

const char *jc_serve_mime(const char *name)
{
    static const struct {
        const char *ext;
        const char *type;
    } tab[] = {
        {".html", "text/html; charset=utf-8"},
        {".css", "text/css; charset=utf-8"},
        {".js", "text/javascript; charset=utf-8"},
        {".json", "application/json"},
        {".svg", "image/svg+xml"},
        {".png", "image/png"},
        {".ico", "image/x-icon"},
        {".txt", "text/plain; charset=utf-8"},
        {".woff2", "font/woff2"},
    };
    const char *dot = strrchr(name, '.');
    const char *slash = strrchr(name, '/');
    if (dot && (slash == NULL || dot > slash))
        for (size_t i = 0; i < sizeof tab / sizeof tab[0]; i++)
            if (strcmp(dot, tab[i].ext) == 0)
                return tab[i].type;
    return "application/octet-stream";
}

int jc_serve_resolve_static(const char *root_real, const char *rel, char *out, size_t cap)
{
    if (root_real == NULL || root_real[0] == '\0')
        return 404;
    /* Segment checks on the decoded path. */
    const char *p = rel;
    while (*p == '/')
        p++;
    size_t len = strlen(p);
    if (len > 1024)
        return 400;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)p[i];
        if (c < 0x20 || c == 0x7f || c == '\\')
            return 400;
    }
    const char *seg = p;
    while (*seg) {
        const char *end = strchr(seg, '/');
        size_t n = end ? (size_t)(end - seg) : strlen(seg);
        if (n == 0)
            return 400; /* "//" */
        if (seg[0] == '.')
            return n <= 2 && (n == 1 || seg[1] == '.') ? 400 : 404; /* ., .., hidden */
        if (end == NULL)
            break;
        seg = end + 1;
    }
    char cand[PATH_MAX];
    int w;
    if (len == 0 || p[len - 1] == '/')
        w = snprintf(cand, sizeof cand, "%s/%sindex.html", root_real, p);
    else
        w = snprintf(cand, sizeof cand, "%s/%s", root_real, p);
    if (w < 0 || (size_t)w >= sizeof cand)
        return 400;
    char real[PATH_MAX];
    if (realpath(cand, real) == NULL)
        return 404;
    size_t rl = strlen(root_real);
    if (strncmp(real, root_real, rl) != 0 || (real[rl] != '/' && real[rl] != '\0'))
        return 403; /* a symlink that leads out of the root */
    struct stat sb;
    if (stat(real, &sb) != 0)
        return 404;
    if (S_ISDIR(sb.st_mode)) {
        w = snprintf(cand, sizeof cand, "%s/index.html", real);
        if (w < 0 || (size_t)w >= sizeof cand || realpath(cand, real) == NULL)
            return 404;
        if (strncmp(real, root_real, rl) != 0 || real[rl] != '/')
            return 403;
        if (stat(real, &sb) != 0)
            return 404;
    }
    if (!S_ISREG(sb.st_mode))
        return 404;
    if (snprintf(out, cap, "%s", real) >= (int)cap)
        return 400;
    return 0;
}

/* Serves the file `path` route parameter below root_real (a resolved
 * directory, or "" for none). */
static void serve_below(struct jc_http_req *req, struct jc_http_resp *resp, const char *root_real)
{
    size_t n = 0;
    const char *rel = jc_route_param(&req->match, "path", &n);
    char relbuf[1100];
    if (rel == NULL)
        rel = "";
    if (n >= sizeof relbuf) {
        jc_http_error(resp, 400, "bad_request", "path too long");
        return;
    }
    memcpy(relbuf, rel, n);
    relbuf[n] = '\0';
    char path[PATH_MAX];
    int status = jc_serve_resolve_static(root_real, relbuf, path, sizeof path);
    if (status == 400) {
        jc_http_error(resp, 400, "bad_path", "invalid path");
        return;
    }
    if (status == 403) {
        jc_http_error(resp, 403, "forbidden", "path leaves the web root");
        return;
    }
    if (status) {
        jc_http_error(resp, 404, "not_found", "no such page");
        return;
    }
    char *data = NULL;
    size_t len = 0;
    int rc = jc_file_read_all(path, STATIC_MAX_FILE, &data, &len);
    if (rc) {
        jc_http_error(resp, rc == JC_ELIMIT ? 403 : 404, "not_found", "cannot read page");
        return;
    }
    resp->status = 200;
    resp->content_type = jc_serve_mime(path);
    jc_buf_reset(&resp->body);
    rc = jc_buf_append(&resp->body, data, len);
    jc_free(data);
    if (rc) {
        jc_http_error(resp, 500, "internal", "out of memory");
        return;
    }
    jc_resp_header(resp, "Cache-Control", "no-cache");
}

void jc_serve_static(struct jc_http_req *req, struct jc_http_resp *resp)
{
    serve_below(req, resp, req->srv->web_root_real);
}

void jc_serve_reports(struct jc_http_req *req, struct jc_http_resp *resp)
{
    char dir[PATH_MAX], real[PATH_MAX];
    int w = snprintf(dir, sizeof dir, "%s/reports", req->srv->home);
    if (w < 0 || (size_t)w >= sizeof dir || realpath(dir, real) == NULL || !jc_is_dir(real)) {
        jc_http_error(resp, 404, "not_found", "no reports yet: run `junco eval` to write one");
        return;
    }
    serve_below(req, resp, real);
}
