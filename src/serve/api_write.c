/*
 * api_write.c - the write routes of the HTTP API: POST /api/v1/events,
 * POST /api/v1/items and POST /api/v1/users. All three are JC_ROUTE_AUTH
 * (the API key once the server listens off loopback) and have body limits
 * (the route's, capped by serve.max_body).
 *
 * POST /api/v1/events - body: one JSON event object, a JSON array of them,
 * or JSON lines (one object per line; blank lines are skipped). Each event
 * is validated with jc_event_parse_json (the event log's own rules and
 * events.custom_types; a missing time is the time of the request). The
 * valid events are appended to the event log in one call, and the response
 * is sent only after the log acknowledged them (durable per events.fsync):
 *   200 {"accepted":n,"rejected":k,"errors":[{"index","line","code",
 *        "message"}...],"errors_truncated":false,"request_id":...}
 * when at least one event was accepted (errors lists the rejected ones, at
 * most 100); 400 with the same fields plus "error" when none was (or, with
 * ?strict=1, when any event is invalid: then nothing is appended); 413 past
 * JC_SERVE_MAX_EVENTS events; 503 when the server has no event log or the
 * append failed (nothing was acknowledged: retry).
 *
 * POST /api/v1/items, POST /api/v1/users - body: one JSON record or an
 * array of at most serve.max_n; upsert by external id with the merge rules
 * of overlay.h (fields present replace, absent fields keep their value;
 * attributes merge per key; a new item needs a title). All or nothing: the
 * first invalid record gives 400 naming it, and nothing changes. On success
 * the overlay file is replaced atomically and a new snapshot is published
 * before the answer, so the next request (on any connection) sees the
 * change: 200 {"created":k,"updated":m,"records":[{"id","created"}...],
 * "snapshot_version":v}. 507 when the overlay is full (serve.overlay_max),
 * 403 when upserts are disabled (serve.overlay_max = 0).
 */
#include "serve/serve_int.h"

#include "core/alloc.h"
#include "core/buf.h"
#include "core/json.h"
#include "core/timeutil.h"
#include <junco/error.h>
#include <junco/eventlog.h>

#include <cjson/cJSON.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#define JC_SERVE_MAX_EVENTS 10000 /* events per POST */
#define MAX_ERRORS_SHOWN    100

/* ---- POST /api/v1/events --------------------------------------------------------- */

struct ingest {
    struct jc_serve *s;
    int64_t now_ms;
    char *scratch;     /* JC_EVENT_SCRATCH */
    struct jc_buf enc; /* encoded accepted events, back to back */
    struct jc_eventlog_rec *recs;
    size_t *rec_off; /* offset of each accepted event in enc */
    size_t n_acc, cap_acc;
    size_t n_rej;
    struct jc_buf errs; /* JSON array members of the rejected ones */
    size_t n_errs_shown;
};

static void add_error(struct ingest *g, size_t index, size_t line, const char *code,
                      const char *msg)
{
    g->n_rej++;
    if (g->n_errs_shown >= MAX_ERRORS_SHOWN)
        return;
    struct jc_json j;
    if (g->n_errs_shown++)
        jc_buf_append_char(&g->errs, ',');
    jc_json_init(&j, &g->errs, 0);
    jc_json_obj_begin(&j);
    jc_json_kv_int(&j, "index", (int64_t)index);
    if (line)
        jc_json_kv_int(&j, "line", (int64_t)line);
    jc_json_kv_str(&j, "code", code);
    jc_json_kv_str(&j, "message", msg);
    jc_json_obj_end(&j);
    jc_json_finish(&j);
}

/* Parses, validates and encodes one event (text of n bytes). */
static int ingest_one(struct ingest *g, const char *text, size_t n, size_t index, size_t line)
{
    struct jc_event ev;
    int rc = jc_event_parse_json(text, n, &g->s->event_types, g->now_ms, &ev, g->scratch);
    if (rc) {
        add_error(g, index, line, rc == JC_EPARSE ? "invalid_json" : "invalid_event",
                  jc_errcode() == rc ? jc_errmsg() : jc_strerror(rc));
        return JC_OK;
    }
    if (g->n_acc == g->cap_acc) {
        size_t cap = g->cap_acc ? g->cap_acc * 2 : 64;
        struct jc_eventlog_rec *r = jc_realloc_array(g->recs, cap, sizeof *r);
        if (r == NULL)
            return JC_ENOMEM;
        g->recs = r;
        size_t *o = jc_realloc_array(g->rec_off, cap, sizeof *o);
        if (o == NULL)
            return JC_ENOMEM;
        g->rec_off = o;
        g->cap_acc = cap;
    }
    size_t need = jc_event_bin_size(&ev);
    if ((rc = jc_buf_reserve(&g->enc, need)))
        return rc;
    size_t len;
    rc = jc_event_encode(&ev, g->enc.data + g->enc.len, need, &len);
    if (rc) {
        add_error(g, index, line, "invalid_event", jc_errcode() == rc ? jc_errmsg() : "too large");
        return JC_OK;
    }
    g->rec_off[g->n_acc] = g->enc.len;
    g->recs[g->n_acc].partition = jc_eventlog_partition_of(g->s->eventlog, ev.user, ev.user_len);
    g->recs[g->n_acc].len = len;
    g->enc.len += len;
    g->n_acc++;
    return JC_OK;
}

/* Writes the ingest summary; with an error code it is a 4xx with "error". */
static void ingest_answer(struct jc_http_req *req, struct jc_http_resp *resp, struct ingest *g,
                          int status, const char *code, const char *msg)
{
    struct jc_json j;
    jc_resp_json(resp, &j);
    resp->status = status;
    jc_json_obj_begin(&j);
    if (code) {
        resp->error_code = code;
        jc_json_key(&j, "error");
        jc_json_obj_begin(&j);
        jc_json_kv_str(&j, "code", code);
        jc_json_kv_str(&j, "message", msg);
        jc_json_kv_int(&j, "status", status);
        jc_json_obj_end(&j);
    }
    jc_json_kv_int(&j, "accepted", code ? 0 : (int64_t)g->n_acc);
    jc_json_kv_int(&j, "rejected", (int64_t)g->n_rej);
    jc_json_key(&j, "errors");
    jc_json_arr_begin(&j);
    if (g->errs.len)
        jc_json_raw(&j, g->errs.data, g->errs.len);
    jc_json_arr_end(&j);
    jc_json_kv_bool(&j, "errors_truncated", g->n_rej > g->n_errs_shown);
    jc_json_kv_str(&j, "request_id", req->request_id);
    jc_json_obj_end(&j);
    jc_resp_json_done(resp, &j);
}

static size_t count_lines(const char *b, size_t n)
{
    size_t lines = 0;
    const char *p = b, *end = b + n;
    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        const char *e = nl ? nl : end;
        for (const char *q = p; q < e; q++)
            if (*q != ' ' && *q != '\t' && *q != '\r') {
                lines++;
                break;
            }
        p = nl ? nl + 1 : end;
    }
    return lines;
}

void jc_serve__post_events(struct jc_http_req *req, struct jc_http_resp *resp)
{
    struct jc_serve *s = req->srv;
    if (s->eventlog == NULL) {
        jc_http_error(resp, 503, "events_unavailable", "the server has no event log: %s",
                      s->eventlog_error[0] ? s->eventlog_error : "not open");
        return;
    }
    if (req->body == NULL || req->body_len == 0) {
        jc_http_error(resp, 400, "invalid_body",
                      "expected a JSON event object, an array of them, or JSON lines");
        return;
    }
    int strict = 0;
    const char *sv = jc_req_query(req, "strict");
    if (sv && (sv[0] == '\0' || strcmp(sv, "1") == 0 || strcmp(sv, "true") == 0))
        strict = 1;
    else if (sv && strcmp(sv, "0") != 0 && strcmp(sv, "false") != 0) {
        jc_http_error(resp, 400, "invalid_parameter",
                      "parameter 'strict' must be 1/0 or true/false");
        return;
    }
    struct ingest g;
    memset(&g, 0, sizeof g);
    g.s = s;
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    g.now_ms = (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
    g.scratch = jc_malloc(JC_EVENT_SCRATCH);
    /* encoded events are never larger than their JSON text plus a header */
    jc_buf_init(&g.enc, req->body_len + (size_t)JC_SERVE_MAX_EVENTS * JC_EVENT_BIN_HEADER + 64);
    jc_buf_init(&g.errs, (size_t)1 << 20);
    int rc = g.scratch ? JC_OK : JC_ENOMEM;

    /* One object, an array, or JSON lines. */
    const char *b = req->body;
    size_t blen = req->body_len;
    size_t k = 0;
    while (k < blen && (b[k] == ' ' || b[k] == '\t' || b[k] == '\r' || b[k] == '\n'))
        k++;
    cJSON *root = NULL;
    if (k < blen && (b[k] == '{' || b[k] == '[')) {
        /* One JSON value spanning the whole body; anything after the first
         * value (a second line) means JSON lines. */
        const char *end = NULL;
        root = cJSON_ParseWithLengthOpts(b, blen, &end, 0);
        while (root && end && end < b + blen &&
               (*end == ' ' || *end == '\t' || *end == '\r' || *end == '\n' || *end == '\0'))
            end++;
        if (root && end != b + blen) {
            cJSON_Delete(root);
            root = NULL;
        }
    }
    size_t n_events;
    if (root && cJSON_IsArray(root))
        n_events = (size_t)cJSON_GetArraySize(root);
    else if (root)
        n_events = 1;
    else
        n_events = count_lines(b, blen);
    if (rc == JC_OK && n_events > JC_SERVE_MAX_EVENTS) {
        cJSON_Delete(root);
        jc_http_error(resp, 413, "too_many_events", "%zu events in one request; at most %d",
                      n_events, JC_SERVE_MAX_EVENTS);
        goto out;
    }
    if (rc == JC_OK && n_events == 0) {
        cJSON_Delete(root);
        jc_http_error(resp, 400, "invalid_body", "no events in the body");
        goto out;
    }
    if (root && cJSON_IsArray(root)) {
        size_t i = 0;
        const cJSON *e;
        cJSON_ArrayForEach(e, root)
        {
            if (rc)
                break;
            if (!cJSON_IsObject(e)) {
                add_error(&g, i++, 0, "invalid_event", "not a JSON object");
                continue;
            }
            char *text = cJSON_PrintUnformatted(e);
            if (text == NULL) {
                rc = JC_ENOMEM;
                break;
            }
            rc = ingest_one(&g, text, strlen(text), i++, 0);
            cJSON_free(text);
        }
    } else if (root) {
        rc = ingest_one(&g, b, blen, 0, 0);
    } else {
        const char *p = b, *end = b + blen;
        size_t line = 0, idx = 0;
        while (rc == JC_OK && p < end) {
            const char *nl = memchr(p, '\n', (size_t)(end - p));
            const char *e = nl ? nl : end;
            line++;
            const char *t = p;
            while (t < e && (*t == ' ' || *t == '\t' || *t == '\r'))
                t++;
            const char *te = e;
            while (te > t && (te[-1] == ' ' || te[-1] == '\t' || te[-1] == '\r'))
                te--;
            if (te > t)
                rc = ingest_one(&g, t, (size_t)(te - t), idx++, line);
            p = nl ? nl + 1 : end;
        }
    }
    cJSON_Delete(root);
    if (rc) {
        jc_http_error(resp, 500, "internal", "cannot read the events: %s", jc_strerror(rc));
        goto out;
    }
    jc_metric_add(s->m_ingest[1], (double)g.n_rej);
    if (g.n_acc == 0 || (strict && g.n_rej)) {
        char msg[160];
        snprintf(msg, sizeof msg, "%zu of %zu events are invalid%s", g.n_rej, g.n_rej + g.n_acc,
                 g.n_acc ? "; nothing was appended (strict)" : "");
        ingest_answer(req, resp, &g, 400, "invalid_event", msg);
        goto out;
    }
    for (size_t i = 0; i < g.n_acc; i++)
        g.recs[i].data = g.enc.data + g.rec_off[i];
    rc = jc_eventlog_append_raw(s->eventlog, g.recs, g.n_acc, NULL);
    if (rc) {
        jc_http_error(resp, 503, "append_failed",
                      "the event log did not accept the events (nothing was acknowledged; "
                      "retry): %s",
                      jc_errcode() == rc ? jc_errmsg() : jc_strerror(rc));
        goto out;
    }
    jc_metric_add(s->m_ingest[0], (double)g.n_acc);
    ingest_answer(req, resp, &g, 200, NULL, NULL);
out:
    jc_free(g.scratch);
    jc_free(g.recs);
    jc_free(g.rec_off);
    jc_buf_free(&g.enc);
    jc_buf_free(&g.errs);
}

/* ---- POST /api/v1/items, /api/v1/users ---------------------------------------------- */

static void post_upsert(struct jc_http_req *req, struct jc_http_resp *resp, enum jc_ov_kind kind)
{
    struct jc_serve *s = req->srv;
    if (s->cfg.overlay_max == 0) {
        jc_http_error(resp, 403, "upserts_disabled",
                      "upserts are disabled (serve.overlay_max = 0)");
        return;
    }
    struct jc_ov_patches p;
    int rc = jc_ov_parse(kind, req->body, req->body_len, (size_t)s->cfg.max_n, &p);
    if (rc) {
        const char *msg = jc_errcode() == rc ? jc_errmsg() : jc_strerror(rc);
        jc_http_error(resp, 400, rc == JC_EPARSE ? "invalid_json" : "invalid_body", "%s", msg);
        return;
    }
    uint8_t *created = jc_calloc(p.n, 1);
    uint64_t version = 0;
    rc = created ? jc_serve__upsert(s, &p, created, &version) : JC_ENOMEM;
    if (rc) {
        const char *msg = jc_errcode() == rc ? jc_errmsg() : jc_strerror(rc);
        if (rc == JC_EINVAL)
            jc_http_error(resp, 400, "invalid_body", "%s", msg);
        else if (rc == JC_ELIMIT)
            jc_http_error(resp, 507, "overlay_full", "%s", msg);
        else
            jc_http_error(resp, 500, "upsert_failed", "nothing changed: %s", msg);
        jc_free(created);
        jc_ov_patches_free(&p);
        return;
    }
    size_t n_created = 0;
    for (size_t i = 0; i < p.n; i++)
        n_created += created[i] != 0;
    struct jc_json j;
    jc_resp_json(resp, &j);
    jc_json_obj_begin(&j);
    jc_json_kv_int(&j, "created", (int64_t)n_created);
    jc_json_kv_int(&j, "updated", (int64_t)(p.n - n_created));
    jc_json_key(&j, "records");
    jc_json_arr_begin(&j);
    for (size_t i = 0; i < p.n; i++) {
        jc_json_obj_begin(&j);
        jc_json_kv_str(&j, "id", p.recs[i]->id);
        jc_json_kv_bool(&j, "created", created[i]);
        jc_json_obj_end(&j);
    }
    jc_json_arr_end(&j);
    jc_json_kv_int(&j, "snapshot_version", (int64_t)version);
    jc_json_obj_end(&j);
    jc_resp_json_done(resp, &j);
    jc_free(created);
    jc_ov_patches_free(&p);
}

void jc_serve__post_items(struct jc_http_req *req, struct jc_http_resp *resp)
{
    post_upsert(req, resp, JC_OV_ITEM);
}

void jc_serve__post_users(struct jc_http_req *req, struct jc_http_resp *resp)
{
    post_upsert(req, resp, JC_OV_USER);
}
