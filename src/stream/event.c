/*
 * event.c - the event model: type names, validation, JSON and the versioned
 * binary encoding (layout documented in include/junco/event.h).
 *
 * JSON parsing goes through cJSON; strings of the parsed event are copied
 * into a caller-provided scratch area so that the event is a plain view with
 * no ownership of its own. JSON output uses the project's streaming writer in
 * a fixed field order; optional fields are omitted when empty, so the JSON of
 * a decoded record re-encodes to the same bytes.
 */
#include <junco/event.h>

#include "core/buf.h"
#include "core/json.h"
#include "core/parse.h"
#include "core/timeutil.h"
#include "core/utf8.h"
#include <junco/error.h>

#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

static const char *const builtin_names[JC_EV__BUILTIN_COUNT] = {"rating", "click",    "view",
                                                                "like",   "purchase", "impression"};

static int builtin_lookup(const char *name, size_t n, uint8_t *code)
{
    for (int t = 0; t < JC_EV__BUILTIN_COUNT; t++) {
        if (strlen(builtin_names[t]) == n && memcmp(builtin_names[t], name, n) == 0) {
            *code = (uint8_t)t;
            return 1;
        }
    }
    if (n == 8 && memcmp(name, "exposure", 8) == 0) {
        *code = JC_EV_IMPRESSION;
        return 1;
    }
    return 0;
}

static int label_char_ok(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '-';
}

int jc_event_types_parse(struct jc_event_types *t, const char *list)
{
    struct jc_event_types tmp;
    memset(&tmp, 0, sizeof tmp);
    const char *p = list ? list : "";
    while (*p) {
        const char *comma = strchr(p, ',');
        const char *end = comma ? comma : p + strlen(p);
        const char *s = p;
        size_t n = (size_t)(end - p);
        jc_trim(&s, &n);
        if (n == 0)
            return jc_err_set(JC_EINVAL, "events.custom_types: empty name in '%s'", list);
        if (n > JC_EVENT_MAX_LABEL)
            return jc_err_set(JC_EINVAL, "events.custom_types: '%.*s' is longer than %d bytes",
                              (int)n, s, JC_EVENT_MAX_LABEL);
        for (size_t i = 0; i < n; i++)
            if (!label_char_ok(s[i]))
                return jc_err_set(JC_EINVAL,
                                  "events.custom_types: '%.*s' may contain only a-z, 0-9, _ "
                                  "and -",
                                  (int)n, s);
        uint8_t code;
        if (builtin_lookup(s, n, &code))
            return jc_err_set(JC_EINVAL, "events.custom_types: '%.*s' is a built-in type", (int)n,
                              s);
        for (uint32_t i = 0; i < tmp.n; i++)
            if (strlen(tmp.names[i]) == n && memcmp(tmp.names[i], s, n) == 0)
                return jc_err_set(JC_EINVAL, "events.custom_types: '%.*s' is listed twice", (int)n,
                                  s);
        if (tmp.n == JC_EVENT_MAX_CUSTOM_TYPES)
            return jc_err_set(JC_ELIMIT, "events.custom_types: more than %d types",
                              JC_EVENT_MAX_CUSTOM_TYPES);
        memcpy(tmp.names[tmp.n], s, n);
        tmp.names[tmp.n][n] = '\0';
        tmp.n++;
        if (comma == NULL)
            break;
        p = comma + 1;
    }
    *t = tmp;
    return JC_OK;
}

int jc_event_type_lookup(const struct jc_event_types *t, const char *name, size_t n, uint8_t *code)
{
    if (builtin_lookup(name, n, code))
        return 1;
    if (t != NULL) {
        for (uint32_t i = 0; i < t->n; i++) {
            if (strlen(t->names[i]) == n && memcmp(t->names[i], name, n) == 0) {
                *code = JC_EVENT_CUSTOM;
                return 1;
            }
        }
    }
    return 0;
}

const char *jc_event_type_str(const struct jc_event *ev, size_t *len)
{
    const char *s;
    size_t n;
    if (ev->type < JC_EV__BUILTIN_COUNT) {
        s = builtin_names[ev->type];
        n = strlen(s);
    } else if (ev->type == JC_EVENT_CUSTOM && ev->type_name != NULL) {
        s = ev->type_name;
        n = ev->type_name_len;
    } else {
        s = "?";
        n = 1;
    }
    if (len)
        *len = n;
    return s;
}

void jc_event_init(struct jc_event *ev)
{
    memset(ev, 0, sizeof *ev);
    ev->type = JC_EV_CLICK;
    ev->value = 1.0f;
}

/* ---- validation ---------------------------------------------------------- */

static int check_text(const char *field, const char *s, size_t n, size_t max, int required)
{
    if (n == 0 || s == NULL) {
        if (required)
            return jc_err_set(JC_EINVAL, "%s: missing or empty", field);
        return JC_OK;
    }
    if (n > max)
        return jc_err_set(JC_EINVAL, "%s: %zu bytes, the limit is %zu", field, n, max);
    size_t bad;
    if (!jc_utf8_valid(s, n, &bad))
        return jc_err_set(JC_EINVAL, "%s: not valid UTF-8 (byte %zu)", field, bad);
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
            return jc_err_set(JC_EINVAL, "%s: contains a control character (byte %zu)", field, i);
    return JC_OK;
}

#define MAX_TIME_MS ((int64_t)1 << 53)

int jc_event_validate(const struct jc_event *ev, const struct jc_event_types *types)
{
    int rc;
    if ((rc = check_text("user", ev->user, ev->user_len, JC_EVENT_MAX_ID, 1)) ||
        (rc = check_text("item", ev->item, ev->item_len, JC_EVENT_MAX_ID, 1)))
        return rc;
    if (ev->type == JC_EVENT_CUSTOM) {
        uint8_t code;
        if (ev->type_name == NULL || ev->type_name_len == 0)
            return jc_err_set(JC_EINVAL, "type: custom type without a name");
        if (!jc_event_type_lookup(types, ev->type_name, ev->type_name_len, &code) ||
            code != JC_EVENT_CUSTOM)
            return jc_err_set(JC_EINVAL,
                              "type: '%.*s' is not a known type (declare custom types in "
                              "events.custom_types)",
                              (int)(ev->type_name_len > 64 ? 64 : ev->type_name_len),
                              ev->type_name);
    } else if (ev->type >= JC_EV__BUILTIN_COUNT) {
        return jc_err_set(JC_EINVAL, "type: bad type code %u", ev->type);
    }
    if (!isfinite(ev->value))
        return jc_err_set(JC_EINVAL, "value: not a finite number");
    if (ev->time_ms < 0 || ev->time_ms >= MAX_TIME_MS)
        return jc_err_set(JC_EINVAL, "time: %lld ms is out of range", (long long)ev->time_ms);
    if ((rc = check_text("request_id", ev->request_id, ev->request_id_len, JC_EVENT_MAX_ID, 0)) ||
        (rc =
             check_text("experiment", ev->experiment, ev->experiment_len, JC_EVENT_MAX_LABEL, 0)) ||
        (rc = check_text("variant", ev->variant, ev->variant_len, JC_EVENT_MAX_LABEL, 0)))
        return rc;
    if (ev->variant_len > 0 && ev->experiment_len == 0)
        return jc_err_set(JC_EINVAL, "variant: given without an experiment");
    if (ev->context_len > 0) {
        if (ev->context_len > JC_EVENT_MAX_CONTEXT)
            return jc_err_set(JC_EINVAL, "context: %zu bytes, the limit is %d", ev->context_len,
                              JC_EVENT_MAX_CONTEXT);
        cJSON *c = cJSON_ParseWithLength(ev->context, ev->context_len);
        int ok = c != NULL && cJSON_IsObject(c);
        cJSON_Delete(c);
        if (!ok)
            return jc_err_set(JC_EINVAL, "context: not a JSON object");
    }
    return JC_OK;
}

/* ---- JSON ------------------------------------------------------------------ */

struct scratch {
    char *p;
    size_t used;
};

static int keep(struct scratch *sc, const char *field, const char *s, size_t n, size_t max,
                const char **out, size_t *out_len)
{
    if (n > max)
        return jc_err_set(JC_EINVAL, "%s: %zu bytes, the limit is %zu", field, n, max);
    if (sc->used + n > JC_EVENT_SCRATCH)
        return jc_err_set(JC_EINVAL, "%s: event too large", field);
    memcpy(sc->p + sc->used, s, n);
    *out = sc->p + sc->used;
    *out_len = n;
    sc->used += n;
    return JC_OK;
}

/* A string field; ids may also be given as integers. */
static int get_str(struct scratch *sc, const cJSON *v, const char *field, size_t max, int allow_int,
                   const char **out, size_t *out_len)
{
    if (cJSON_IsString(v))
        return keep(sc, field, v->valuestring, strlen(v->valuestring), max, out, out_len);
    if (allow_int && cJSON_IsNumber(v)) {
        double d = v->valuedouble;
        if (d != floor(d) || fabs(d) >= 9007199254740992.0)
            return jc_err_set(JC_EINVAL, "%s: a number id must be an integer", field);
        char tmp[32];
        int k = snprintf(tmp, sizeof tmp, "%lld", (long long)d);
        return keep(sc, field, tmp, (size_t)k, max, out, out_len);
    }
    if (cJSON_IsNull(v))
        return JC_OK;
    return jc_err_set(JC_EINVAL, "%s: expected a string", field);
}

int jc_event_parse_json(const char *text, size_t n, const struct jc_event_types *types,
                        int64_t now_ms, struct jc_event *ev, char *scratch)
{
    cJSON *root = cJSON_ParseWithLength(text, n);
    if (root == NULL)
        return jc_err_set(JC_EPARSE, "not valid JSON (near byte %zu)",
                          cJSON_GetErrorPtr() && cJSON_GetErrorPtr() >= text &&
                                  cJSON_GetErrorPtr() <= text + n
                              ? (size_t)(cJSON_GetErrorPtr() - text)
                              : (size_t)0);
    if (!cJSON_IsObject(root)) {
        cJSON_Delete(root);
        return jc_err_set(JC_EPARSE, "expected a JSON object");
    }
    struct scratch sc = {scratch, 0};
    struct jc_event e;
    jc_event_init(&e);
    int have_type = 0, have_time = 0;
    int rc = JC_OK;
    for (const cJSON *f = root->child; f != NULL && rc == JC_OK; f = f->next) {
        const char *k = f->string;
        if (strcmp(k, "user") == 0) {
            rc = get_str(&sc, f, "user", JC_EVENT_MAX_ID, 1, &e.user, &e.user_len);
        } else if (strcmp(k, "item") == 0) {
            rc = get_str(&sc, f, "item", JC_EVENT_MAX_ID, 1, &e.item, &e.item_len);
        } else if (strcmp(k, "type") == 0) {
            if (!cJSON_IsString(f)) {
                rc = jc_err_set(JC_EINVAL, "type: expected a string");
                break;
            }
            const char *s = f->valuestring;
            size_t len = strlen(s);
            uint8_t code;
            if (!jc_event_type_lookup(types, s, len, &code)) {
                rc = jc_err_set(JC_EINVAL,
                                "type: '%.64s' is not a known type (impression, exposure, "
                                "click, view, rating, like, purchase, or events.custom_types)",
                                s);
                break;
            }
            e.type = code;
            if (code == JC_EVENT_CUSTOM)
                rc = keep(&sc, "type", s, len, JC_EVENT_MAX_LABEL, &e.type_name, &e.type_name_len);
            have_type = 1;
        } else if (strcmp(k, "value") == 0) {
            if (!cJSON_IsNumber(f)) {
                rc = jc_err_set(JC_EINVAL, "value: expected a number");
                break;
            }
            double d = f->valuedouble;
            if (!isfinite(d) || fabs(d) > 3.4e38) {
                rc = jc_err_set(JC_EINVAL, "value: %g does not fit a float", d);
                break;
            }
            e.value = (float)d;
        } else if (strcmp(k, "time_ms") == 0) {
            double d = cJSON_IsNumber(f) ? f->valuedouble : -1;
            if (!cJSON_IsNumber(f) || d != floor(d) || d < 0 || d >= (double)MAX_TIME_MS) {
                rc = jc_err_set(JC_EINVAL, "time_ms: expected a non-negative integer");
                break;
            }
            e.time_ms = (int64_t)d;
            have_time = 1;
        } else if (strcmp(k, "time") == 0) {
            if (cJSON_IsNumber(f)) {
                double d = f->valuedouble;
                if (!(d >= 0 && d < (double)MAX_TIME_MS / 1000.0)) {
                    rc = jc_err_set(JC_EINVAL, "time: %g is out of range", d);
                    break;
                }
                e.time_ms = (int64_t)floor(d * 1000.0 + 0.5);
            } else if (cJSON_IsString(f)) {
                int64_t s;
                if (jc_parse_timestamp(f->valuestring, strlen(f->valuestring), &s) || s < 0 ||
                    s >= MAX_TIME_MS / 1000) {
                    rc = jc_err_set(JC_EINVAL,
                                    "time: '%.64s' is not a timestamp (Unix seconds or ISO "
                                    "8601)",
                                    f->valuestring);
                    break;
                }
                e.time_ms = s * 1000;
            } else {
                rc = jc_err_set(JC_EINVAL, "time: expected a number or a string");
                break;
            }
            have_time = 1;
        } else if (strcmp(k, "request_id") == 0) {
            rc =
                get_str(&sc, f, "request_id", JC_EVENT_MAX_ID, 1, &e.request_id, &e.request_id_len);
        } else if (strcmp(k, "experiment") == 0) {
            rc = get_str(&sc, f, "experiment", JC_EVENT_MAX_LABEL, 0, &e.experiment,
                         &e.experiment_len);
        } else if (strcmp(k, "variant") == 0) {
            rc = get_str(&sc, f, "variant", JC_EVENT_MAX_LABEL, 0, &e.variant, &e.variant_len);
        } else if (strcmp(k, "context") == 0) {
            if (cJSON_IsNull(f))
                continue;
            if (!cJSON_IsObject(f)) {
                rc = jc_err_set(JC_EINVAL, "context: expected a JSON object");
                break;
            }
            char *txt = cJSON_PrintUnformatted(f);
            if (txt == NULL) {
                rc = jc_err_set(JC_ENOMEM, "context: out of memory");
                break;
            }
            if (strcmp(txt, "{}") != 0)
                rc = keep(&sc, "context", txt, strlen(txt), JC_EVENT_MAX_CONTEXT, &e.context,
                          &e.context_len);
            cJSON_free(txt);
        } else {
            rc = jc_err_set(JC_EINVAL,
                            "%.64s: unknown field (user, item, type, value, time, time_ms, "
                            "request_id, experiment, variant, context)",
                            k);
        }
    }
    cJSON_Delete(root);
    if (rc)
        return rc;
    if (!have_type)
        return jc_err_set(JC_EINVAL, "type: missing");
    if (!have_time)
        e.time_ms = now_ms;
    if ((rc = jc_event_validate(&e, types)))
        return rc;
    *ev = e;
    return JC_OK;
}

int jc_event_write_json(const struct jc_event *ev, struct jc_buf *out)
{
    struct jc_json j;
    jc_json_init(&j, out, 0);
    jc_json_obj_begin(&j);
    jc_json_key(&j, "user");
    jc_json_strn(&j, ev->user, ev->user_len);
    jc_json_key(&j, "item");
    jc_json_strn(&j, ev->item, ev->item_len);
    size_t tn;
    const char *ts = jc_event_type_str(ev, &tn);
    jc_json_key(&j, "type");
    jc_json_strn(&j, ts, tn);
    jc_json_kv_double(&j, "value", (double)ev->value);
    jc_json_kv_int(&j, "time_ms", ev->time_ms);
    if (ev->request_id_len) {
        jc_json_key(&j, "request_id");
        jc_json_strn(&j, ev->request_id, ev->request_id_len);
    }
    if (ev->experiment_len) {
        jc_json_key(&j, "experiment");
        jc_json_strn(&j, ev->experiment, ev->experiment_len);
    }
    if (ev->variant_len) {
        jc_json_key(&j, "variant");
        jc_json_strn(&j, ev->variant, ev->variant_len);
    }
    if (ev->context_len) {
        jc_json_key(&j, "context");
        jc_json_raw(&j, ev->context, ev->context_len);
    }
    jc_json_obj_end(&j);
    return jc_json_finish(&j);
}

/* ---- binary ---------------------------------------------------------------- */

static void put_u16(unsigned char *p, uint16_t v)
{
    p[0] = (unsigned char)v;
    p[1] = (unsigned char)(v >> 8);
}

static uint16_t get_u16(const unsigned char *p)
{
    return (uint16_t)(p[0] | (p[1] << 8));
}

static void put_u64(unsigned char *p, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        p[i] = (unsigned char)(v >> (8 * i));
}

static uint64_t get_u64(const unsigned char *p)
{
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--)
        v = (v << 8) | p[i];
    return v;
}

size_t jc_event_bin_size(const struct jc_event *ev)
{
    size_t tn = ev->type == JC_EVENT_CUSTOM ? ev->type_name_len : 0;
    return JC_EVENT_BIN_HEADER + tn + ev->user_len + ev->item_len + ev->request_id_len +
           ev->experiment_len + ev->variant_len + ev->context_len;
}

int jc_event_encode(const struct jc_event *ev, void *out, size_t cap, size_t *len)
{
    size_t tn = ev->type == JC_EVENT_CUSTOM ? ev->type_name_len : 0;
    if (ev->user_len > JC_EVENT_MAX_ID || ev->item_len > JC_EVENT_MAX_ID ||
        ev->request_id_len > JC_EVENT_MAX_ID || ev->experiment_len > JC_EVENT_MAX_LABEL ||
        ev->variant_len > JC_EVENT_MAX_LABEL || tn > JC_EVENT_MAX_LABEL ||
        ev->context_len > JC_EVENT_MAX_CONTEXT)
        return jc_err_set(JC_EINVAL, "event field exceeds its size limit");
    /* Whatever encodes must decode: the decoder rejects these. */
    if (ev->user_len == 0 || ev->item_len == 0)
        return jc_err_set(JC_EINVAL, "%s: missing or empty", ev->user_len ? "item" : "user");
    if (ev->type == JC_EVENT_CUSTOM ? tn == 0 : ev->type >= JC_EV__BUILTIN_COUNT)
        return jc_err_set(JC_EINVAL, "type: bad type code %u or custom type without a name",
                          ev->type);
    size_t need = jc_event_bin_size(ev);
    if (need > cap)
        return jc_err_set(JC_ELIMIT, "encoded event needs %zu bytes, buffer has %zu", need, cap);
    unsigned char *p = out;
    p[0] = JC_EVENT_BIN_VERSION;
    p[1] = ev->type;
    p[2] = (unsigned char)ev->user_len;
    p[3] = (unsigned char)ev->item_len;
    p[4] = (unsigned char)ev->request_id_len;
    p[5] = (unsigned char)ev->experiment_len;
    p[6] = (unsigned char)ev->variant_len;
    p[7] = (unsigned char)tn;
    put_u16(p + 8, (uint16_t)ev->context_len);
    put_u64(p + 10, (uint64_t)ev->time_ms);
    uint32_t fbits;
    memcpy(&fbits, &ev->value, 4);
    for (int i = 0; i < 4; i++)
        p[18 + i] = (unsigned char)(fbits >> (8 * i));
    unsigned char *q = p + JC_EVENT_BIN_HEADER;
#define PUT(s, n)                \
    do {                         \
        if (n)                   \
            memcpy(q, (s), (n)); \
        q += (n);                \
    } while (0)
    PUT(ev->type_name, tn);
    PUT(ev->user, ev->user_len);
    PUT(ev->item, ev->item_len);
    PUT(ev->request_id, ev->request_id_len);
    PUT(ev->experiment, ev->experiment_len);
    PUT(ev->variant, ev->variant_len);
    PUT(ev->context, ev->context_len);
#undef PUT
    *len = need;
    return JC_OK;
}

int jc_event_decode(const void *data, size_t n, struct jc_event *ev)
{
    const unsigned char *p = data;
    if (n < JC_EVENT_BIN_HEADER)
        return jc_err_set(JC_ECORRUPT, "event record of %zu bytes is shorter than its header", n);
    if (p[0] != JC_EVENT_BIN_VERSION)
        return jc_err_set(JC_EVERSION, "event record version %u (this build reads %d)", p[0],
                          JC_EVENT_BIN_VERSION);
    uint8_t type = p[1];
    size_t tn = p[7];
    if (type >= JC_EV__BUILTIN_COUNT && type != JC_EVENT_CUSTOM)
        return jc_err_set(JC_ECORRUPT, "event record has bad type code %u", type);
    if ((type == JC_EVENT_CUSTOM) != (tn > 0))
        return jc_err_set(JC_ECORRUPT, "event record type name does not match its code");
    size_t lens[7] = {tn, p[2], p[3], p[4], p[5], p[6], get_u16(p + 8)};
    if (lens[1] == 0 || lens[2] == 0 || lens[0] > JC_EVENT_MAX_LABEL ||
        lens[4] > JC_EVENT_MAX_LABEL || lens[5] > JC_EVENT_MAX_LABEL ||
        lens[6] > JC_EVENT_MAX_CONTEXT)
        return jc_err_set(JC_ECORRUPT, "event record has bad field lengths");
    size_t total = JC_EVENT_BIN_HEADER;
    for (int i = 0; i < 7; i++)
        total += lens[i];
    if (total != n)
        return jc_err_set(JC_ECORRUPT, "event record length %zu, its fields say %zu", n, total);
    struct jc_event e;
    memset(&e, 0, sizeof e);
    e.type = type;
    e.time_ms = (int64_t)get_u64(p + 10);
    uint32_t fbits = 0;
    for (int i = 3; i >= 0; i--)
        fbits = (fbits << 8) | p[18 + i];
    memcpy(&e.value, &fbits, 4);
    const char *q = (const char *)p + JC_EVENT_BIN_HEADER;
    const char **ptrs[7] = {&e.type_name,  &e.user,    &e.item,   &e.request_id,
                            &e.experiment, &e.variant, &e.context};
    size_t *lp[7] = {&e.type_name_len,  &e.user_len,    &e.item_len,   &e.request_id_len,
                     &e.experiment_len, &e.variant_len, &e.context_len};
    for (int i = 0; i < 7; i++) {
        *ptrs[i] = lens[i] ? q : NULL;
        *lp[i] = lens[i];
        q += lens[i];
    }
    *ev = e;
    return JC_OK;
}
