/*
 * overlay.c - upsert records, overlay versions, their file, and the merged
 * catalog view (see overlay.h for the merge rules and the file format).
 *
 * Records are built through a small "draft" of (pointer, length) views -
 * into a cJSON tree while parsing, into existing records while merging -
 * and packed into one heap block, so a record is one allocation and one
 * free. Overlay versions share records by reference count; the id maps are
 * rebuilt per version (jc_strmap has no delete and no copy, and a rebuild is
 * O(entries) like the pointer copy that a version needs anyway).
 */
#include "serve/overlay.h"

#include "core/alloc.h"
#include "core/buf.h"
#include "core/fileio.h"
#include "core/json.h"
#include "core/utf8.h"
#include <junco/error.h>

#include <cjson/cJSON.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define OV_MAGIC       "JCOVRLAY"
#define OV_HEADER      32
#define OV_FILE_MAX    ((size_t)1 << 30)
#define OV_INITIAL_MAP 64

/* ---- records -------------------------------------------------------------------- */

struct span {
    const char *p;
    size_t n;
};

struct draft {
    enum jc_ov_kind kind;
    unsigned has;
    int32_t year;
    struct span id, title;
    uint32_t n_genres;
    struct span genres[JC_OV_MAX_GENRES];
    uint32_t n_attrs;
    struct span an[JC_OV_MAX_ATTRS], av[JC_OV_MAX_ATTRS];
    int64_t updated_ms;
};

void jc_ov_rec_retain(struct jc_ov_rec *r)
{
    atomic_fetch_add_explicit(&r->refs, 1, memory_order_relaxed);
}

void jc_ov_rec_release(struct jc_ov_rec *r)
{
    if (r && atomic_fetch_sub_explicit(&r->refs, 1, memory_order_acq_rel) == 1)
        jc_free(r);
}

static int span_cmp(struct span a, struct span b)
{
    size_t n = a.n < b.n ? a.n : b.n;
    int c = memcmp(a.p, b.p, n);
    return c ? c : (a.n > b.n) - (a.n < b.n);
}

/* Sorts the attributes of a draft by name (insertion sort: at most 32). */
static void draft_sort_attrs(struct draft *d)
{
    for (uint32_t i = 1; i < d->n_attrs; i++) {
        struct span n = d->an[i], v = d->av[i];
        uint32_t k = i;
        while (k > 0 && span_cmp(d->an[k - 1], n) > 0) {
            d->an[k] = d->an[k - 1];
            d->av[k] = d->av[k - 1];
            k--;
        }
        d->an[k] = n;
        d->av[k] = v;
    }
}

/* Packs a draft into one block: struct, genre pointers, attrs, strings. */
static struct jc_ov_rec *draft_pack(const struct draft *d)
{
    size_t strings = d->id.n + 1 + ((d->has & JC_OV_HAS_TITLE) ? d->title.n + 1 : 0);
    for (uint32_t i = 0; i < d->n_genres; i++)
        strings += d->genres[i].n + 1;
    for (uint32_t i = 0; i < d->n_attrs; i++)
        strings += d->an[i].n + d->av[i].n + 2;
    size_t size = sizeof(struct jc_ov_rec) + sizeof(const char *) * d->n_genres +
                  sizeof(struct jc_ov_attr) * d->n_attrs + strings;
    struct jc_ov_rec *r = jc_malloc(size);
    if (r == NULL)
        return NULL;
    memset(r, 0, sizeof *r);
    atomic_init(&r->refs, 1);
    r->kind = d->kind;
    r->has = d->has;
    r->year = d->year;
    r->updated_ms = d->updated_ms;
    char *at = (char *)(r + 1);
    r->genres = (const char **)(void *)at;
    at += sizeof(const char *) * d->n_genres;
    r->attrs = (struct jc_ov_attr *)(void *)at;
    at += sizeof(struct jc_ov_attr) * d->n_attrs;
#define PUT(dst, sp)                \
    do {                            \
        memcpy(at, (sp).p, (sp).n); \
        at[(sp).n] = '\0';          \
        (dst) = at;                 \
        at += (sp).n + 1;           \
    } while (0)
    PUT(r->id, d->id);
    if (d->has & JC_OV_HAS_TITLE)
        PUT(r->title, d->title);
    for (uint32_t i = 0; i < d->n_genres; i++)
        PUT(r->genres[i], d->genres[i]);
    for (uint32_t i = 0; i < d->n_attrs; i++) {
        PUT(r->attrs[i].name, d->an[i]);
        PUT(r->attrs[i].value, d->av[i]);
    }
#undef PUT
    r->n_genres = d->n_genres;
    r->n_attrs = d->n_attrs;
    return r;
}

static struct span sp(const char *s)
{
    return (struct span){s, s ? strlen(s) : 0};
}

/* A draft with every field of r (views into r). */
static void draft_from_rec(struct draft *d, const struct jc_ov_rec *r)
{
    memset(d, 0, sizeof *d);
    d->kind = r->kind;
    d->has = r->has;
    d->year = r->year;
    d->id = sp(r->id);
    if (r->has & JC_OV_HAS_TITLE)
        d->title = sp(r->title);
    d->n_genres = r->n_genres;
    for (uint32_t i = 0; i < r->n_genres; i++)
        d->genres[i] = sp(r->genres[i]);
    d->n_attrs = r->n_attrs;
    for (uint32_t i = 0; i < r->n_attrs; i++) {
        d->an[i] = sp(r->attrs[i].name);
        d->av[i] = sp(r->attrs[i].value);
    }
    d->updated_ms = r->updated_ms;
}

/* base (may be NULL) with the fields that patch sets. */
static int merge(const struct jc_ov_rec *base, const struct jc_ov_rec *patch, int64_t now_ms,
                 struct jc_ov_rec **out)
{
    struct draft d;
    if (base)
        draft_from_rec(&d, base);
    else {
        memset(&d, 0, sizeof d);
        d.kind = patch->kind;
        d.id = sp(patch->id);
        d.year = JC_NO_YEAR;
    }
    if (patch->has & JC_OV_HAS_TITLE) {
        d.has |= JC_OV_HAS_TITLE;
        d.title = sp(patch->title);
    }
    if (patch->has & JC_OV_HAS_YEAR) {
        d.has |= JC_OV_HAS_YEAR;
        d.year = patch->year;
    }
    if (patch->has & JC_OV_HAS_GENRES) {
        d.has |= JC_OV_HAS_GENRES;
        d.n_genres = patch->n_genres;
        for (uint32_t i = 0; i < patch->n_genres; i++)
            d.genres[i] = sp(patch->genres[i]);
    }
    for (uint32_t i = 0; i < patch->n_attrs; i++) {
        struct span n = sp(patch->attrs[i].name), v = sp(patch->attrs[i].value);
        uint32_t k = 0;
        while (k < d.n_attrs && span_cmp(d.an[k], n) != 0)
            k++;
        if (k == d.n_attrs) {
            if (d.n_attrs == JC_OV_MAX_ATTRS)
                return jc_err_set(JC_ELIMIT, "id '%s': attributes: more than %d", patch->id,
                                  JC_OV_MAX_ATTRS);
            d.an[d.n_attrs++] = n;
        }
        d.av[k] = v;
    }
    draft_sort_attrs(&d);
    d.updated_ms = now_ms;
    *out = draft_pack(&d);
    return *out ? JC_OK : JC_ENOMEM;
}

/* ---- parsing ------------------------------------------------------------------------ */

/* Text rules: 1..max bytes (0 allowed when allow_empty), valid UTF-8, no
 * control characters. Returns a reason or NULL. */
static const char *bad_text(const char *s, size_t n, size_t max, int allow_empty)
{
    if (n == 0 && !allow_empty)
        return "empty";
    if (n > max)
        return "too long";
    if (!jc_utf8_valid(s, n, NULL))
        return "not valid UTF-8";
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
            return "contains a control character";
    return NULL;
}

static int bad_name(const char *s, size_t n)
{
    if (n == 0 || n > JC_OV_MAX_NAME)
        return 1;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '_' || c == '-' || c == '.'))
            return 1;
    }
    return 0;
}

/* Number -> text: integers exactly, others with 17 significant digits. */
static void num_text(double v, char *buf, size_t cap)
{
    if (v == floor(v) && fabs(v) < 9007199254740992.0)
        snprintf(buf, cap, "%.0f", v);
    else
        snprintf(buf, cap, "%.17g", v);
}

#define NUMBUF 32

struct parse_ctx {
    char where[96];
    /* number texts referenced by the draft (id and attribute values) */
    char id_num[NUMBUF];
    char attr_num[JC_OV_MAX_ATTRS][NUMBUF];
};

#define FAIL(field, ...) return field_err(ctx, field, __VA_ARGS__)

static int field_err(const struct parse_ctx *ctx, const char *field, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int field_err(const struct parse_ctx *ctx, const char *field, const char *fmt, ...)
{
    char reason[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(reason, sizeof reason, fmt, ap);
    va_end(ap);
    return jc_err_set(JC_EINVAL, "%s: %s: %s", ctx->where, field, reason);
}

/* Parses one record object into d (views into obj and ctx). From a body,
 * kind says what it is. From the file (file_meta), the record's "kind" and
 * "updated_ms" are read too; the loader passes JC_OV_ITEM so that item
 * fields parse, and rejects user records that carry them. */
static int parse_record(const cJSON *obj, enum jc_ov_kind kind, int file_meta, size_t index,
                        struct parse_ctx *ctx, struct draft *d)
{
    memset(d, 0, sizeof *d);
    d->kind = kind;
    d->year = JC_NO_YEAR;
    snprintf(ctx->where, sizeof ctx->where, "records[%zu]", index);
    if (!cJSON_IsObject(obj))
        return jc_err_set(JC_EINVAL, "%s: not a JSON object", ctx->where);
    const cJSON *id = cJSON_GetObjectItemCaseSensitive(obj, "id");
    if (cJSON_IsString(id)) {
        d->id = sp(id->valuestring);
    } else if (cJSON_IsNumber(id) && id->valuedouble == floor(id->valuedouble) &&
               fabs(id->valuedouble) < 9007199254740992.0) {
        num_text(id->valuedouble, ctx->id_num, sizeof ctx->id_num);
        d->id = sp(ctx->id_num);
    } else {
        FAIL("id", "missing, or not a string or integer");
    }
    const char *why = bad_text(d->id.p, d->id.n, JC_OV_MAX_ID, 0);
    if (why)
        FAIL("id", "%s", why);
    snprintf(ctx->where, sizeof ctx->where, "records[%zu] (id '%.40s')", index, d->id.p);
    const cJSON *f;
    cJSON_ArrayForEach(f, obj)
    {
        const char *k = f->string;
        if (strcmp(k, "id") == 0)
            continue;
        if (file_meta && strcmp(k, "kind") == 0) {
            if (!cJSON_IsString(f) ||
                (strcmp(f->valuestring, "item") != 0 && strcmp(f->valuestring, "user") != 0))
                FAIL("kind", "must be \"item\" or \"user\"");
            d->kind = strcmp(f->valuestring, "item") == 0 ? JC_OV_ITEM : JC_OV_USER;
        } else if (file_meta && strcmp(k, "updated_ms") == 0) {
            if (!cJSON_IsNumber(f))
                FAIL("updated_ms", "not a number");
            d->updated_ms = (int64_t)f->valuedouble;
        } else if (strcmp(k, "attributes") == 0) {
            if (!cJSON_IsObject(f))
                FAIL("attributes", "not an object");
            const cJSON *a;
            cJSON_ArrayForEach(a, f)
            {
                size_t nl = strlen(a->string);
                if (bad_name(a->string, nl))
                    FAIL("attributes", "name '%.64s' must be 1-%d bytes of [A-Za-z0-9_.-]",
                         a->string, JC_OV_MAX_NAME);
                if (d->n_attrs == JC_OV_MAX_ATTRS)
                    FAIL("attributes", "more than %d", JC_OV_MAX_ATTRS);
                for (uint32_t i = 0; i < d->n_attrs; i++)
                    if (span_cmp(d->an[i], (struct span){a->string, nl}) == 0)
                        FAIL("attributes", "'%s' given twice", a->string);
                struct span v;
                if (cJSON_IsString(a)) {
                    v = sp(a->valuestring);
                    if ((why = bad_text(v.p, v.n, JC_OV_MAX_VALUE, 1)))
                        FAIL("attributes", "value of '%s': %s", a->string, why);
                } else if (cJSON_IsNumber(a)) {
                    num_text(a->valuedouble, ctx->attr_num[d->n_attrs], NUMBUF);
                    v = sp(ctx->attr_num[d->n_attrs]);
                } else if (cJSON_IsNull(a)) {
                    v = (struct span){"", 0};
                } else {
                    FAIL("attributes", "value of '%s' must be a string, a number or null",
                         a->string);
                }
                d->an[d->n_attrs] = (struct span){a->string, nl};
                d->av[d->n_attrs++] = v;
            }
        } else if (kind == JC_OV_ITEM && strcmp(k, "title") == 0) {
            if (!cJSON_IsString(f))
                FAIL("title", "not a string");
            d->title = sp(f->valuestring);
            if ((why = bad_text(d->title.p, d->title.n, JC_OV_MAX_TITLE, 0)))
                FAIL("title", "%s", why);
            d->has |= JC_OV_HAS_TITLE;
        } else if (kind == JC_OV_ITEM && strcmp(k, "year") == 0) {
            if (cJSON_IsNull(f)) {
                d->year = JC_NO_YEAR;
            } else if (cJSON_IsNumber(f) && f->valuedouble == floor(f->valuedouble) &&
                       f->valuedouble >= 1 && f->valuedouble <= 9999) {
                d->year = (int32_t)f->valuedouble;
            } else {
                FAIL("year", "must be an integer in [1, 9999] or null");
            }
            d->has |= JC_OV_HAS_YEAR;
        } else if (kind == JC_OV_ITEM && strcmp(k, "genres") == 0) {
            if (!cJSON_IsArray(f))
                FAIL("genres", "not an array of names");
            const cJSON *g;
            cJSON_ArrayForEach(g, f)
            {
                if (!cJSON_IsString(g))
                    FAIL("genres", "not an array of names");
                struct span s = sp(g->valuestring);
                if ((why = bad_text(s.p, s.n, JC_OV_MAX_NAME, 0)))
                    FAIL("genres", "'%.64s': %s", s.p, why);
                if (d->n_genres == JC_OV_MAX_GENRES)
                    FAIL("genres", "more than %d", JC_OV_MAX_GENRES);
                for (uint32_t i = 0; i < d->n_genres; i++)
                    if (span_cmp(d->genres[i], s) == 0)
                        FAIL("genres", "'%s' given twice", s.p);
                d->genres[d->n_genres++] = s;
            }
            d->has |= JC_OV_HAS_GENRES;
        } else {
            FAIL(k, "unknown field (%s)",
                 kind == JC_OV_ITEM ? "known: id, title, year, genres, attributes"
                                    : "known: id, attributes");
        }
    }
    draft_sort_attrs(d);
    return JC_OK;
}

void jc_ov_patches_free(struct jc_ov_patches *p)
{
    for (size_t i = 0; i < p->n; i++)
        jc_ov_rec_release(p->recs[i]);
    jc_free(p->recs);
    p->recs = NULL;
    p->n = 0;
}

static int json_error(const char *body, size_t len)
{
    size_t at = 0;
    const char *e = cJSON_GetErrorPtr();
    if (e && e >= body && e <= body + len)
        at = (size_t)(e - body);
    return jc_err_set(JC_EPARSE, "malformed JSON near byte %zu", at);
}

int jc_ov_parse(enum jc_ov_kind kind, const char *body, size_t len, size_t max,
                struct jc_ov_patches *out)
{
    memset(out, 0, sizeof *out);
    if (body == NULL || len == 0)
        return jc_err_set(JC_EINVAL, "empty body: expected a JSON object or an array of them");
    cJSON *root = cJSON_ParseWithLength(body, len);
    if (root == NULL)
        return json_error(body, len);
    int rc = JC_OK;
    size_t n = cJSON_IsArray(root) ? (size_t)cJSON_GetArraySize(root) : 1;
    if (!cJSON_IsArray(root) && !cJSON_IsObject(root))
        rc = jc_err_set(JC_EINVAL, "expected a JSON object or an array of objects");
    else if (n == 0)
        rc = jc_err_set(JC_EINVAL, "empty array: nothing to upsert");
    else if (n > max)
        rc = jc_err_set(JC_ELIMIT, "%zu records in one request; at most %zu", n, max);
    if (rc == JC_OK && (out->recs = jc_calloc(n, sizeof *out->recs)) == NULL)
        rc = JC_ENOMEM;
    struct parse_ctx *ctx = rc == JC_OK ? jc_malloc(sizeof *ctx) : NULL;
    if (rc == JC_OK && ctx == NULL)
        rc = JC_ENOMEM;
    const cJSON *obj = cJSON_IsArray(root) ? root->child : root;
    for (size_t i = 0; rc == JC_OK && i < n; i++, obj = obj->next) {
        struct draft d;
        rc = parse_record(obj, kind, 0, i, ctx, &d);
        if (rc == JC_OK && (out->recs[i] = draft_pack(&d)) == NULL)
            rc = JC_ENOMEM;
        if (rc == JC_OK)
            out->n = i + 1;
    }
    jc_free(ctx);
    cJSON_Delete(root);
    if (rc)
        jc_ov_patches_free(out);
    return rc;
}

/* ---- overlay versions ------------------------------------------------------------------ */

static void overlay_destroy(struct jc_rc *rc)
{
    struct jc_overlay *ov = (struct jc_overlay *)rc;
    for (uint32_t i = 0; i < ov->n_items; i++)
        jc_ov_rec_release(ov->items[i]);
    for (uint32_t i = 0; i < ov->n_users; i++)
        jc_ov_rec_release(ov->users[i]);
    jc_free(ov->items);
    jc_free(ov->users);
    jc_strmap_free(&ov->item_map);
    jc_strmap_free(&ov->user_map);
    jc_free(ov);
}

/* An overlay with room for cap_items / cap_users records. */
static int overlay_alloc(struct jc_overlay **out, size_t cap_items, size_t cap_users)
{
    struct jc_overlay *ov = jc_calloc(1, sizeof *ov);
    if (ov == NULL)
        return JC_ENOMEM;
    jc_rc_init(&ov->rc, overlay_destroy);
    ov->items = jc_malloc_array(cap_items ? cap_items : 1, sizeof *ov->items);
    ov->users = jc_malloc_array(cap_users ? cap_users : 1, sizeof *ov->users);
    int rc = ov->items && ov->users ? JC_OK : JC_ENOMEM;
    if (rc == JC_OK)
        rc = jc_strmap_init(&ov->item_map, cap_items > OV_INITIAL_MAP ? cap_items : OV_INITIAL_MAP);
    if (rc == JC_OK)
        rc = jc_strmap_init(&ov->user_map, cap_users > OV_INITIAL_MAP ? cap_users : OV_INITIAL_MAP);
    if (rc) {
        overlay_destroy(&ov->rc);
        return rc;
    }
    *out = ov;
    return JC_OK;
}

/* Appends r (taking the caller's reference) and maps its id. */
static int overlay_push(struct jc_overlay *ov, struct jc_ov_rec *r)
{
    int item = r->kind == JC_OV_ITEM;
    uint32_t idx = item ? ov->n_items : ov->n_users;
    uint32_t got;
    int inserted;
    int rc = jc_strmap_put(item ? &ov->item_map : &ov->user_map, r->id, strlen(r->id), idx, &got,
                           &inserted);
    if (rc)
        return rc;
    if (!inserted)
        return jc_err_set(JC_EEXISTS, "%s '%s' twice", item ? "item" : "user", r->id);
    if (item)
        ov->items[ov->n_items++] = r;
    else
        ov->users[ov->n_users++] = r;
    return JC_OK;
}

int jc_overlay_create(struct jc_overlay **out)
{
    return overlay_alloc(out, 0, 0);
}

const struct jc_ov_rec *jc_overlay_find(const struct jc_overlay *ov, enum jc_ov_kind kind,
                                        const char *id, size_t n)
{
    if (ov == NULL)
        return NULL;
    uint32_t idx;
    if (kind == JC_OV_ITEM)
        return jc_strmap_get(&ov->item_map, id, n, &idx) ? ov->items[idx] : NULL;
    return jc_strmap_get(&ov->user_map, id, n, &idx) ? ov->users[idx] : NULL;
}

int jc_overlay_apply(const struct jc_overlay *base, const struct jc_ov_patches *p,
                     const struct jc_catalog *cat, size_t max_entries, int64_t now_ms,
                     struct jc_overlay **out, uint8_t *created)
{
    size_t bi = base ? base->n_items : 0, bu = base ? base->n_users : 0;
    struct jc_overlay *ov;
    int rc = overlay_alloc(&ov, bi + p->n, bu + p->n);
    if (rc)
        return rc;
    ov->version = (base ? base->version : 0) + 1;
    for (size_t i = 0; rc == JC_OK && i < bi; i++) {
        jc_ov_rec_retain(base->items[i]);
        if ((rc = overlay_push(ov, base->items[i])))
            jc_ov_rec_release(base->items[i]);
    }
    for (size_t i = 0; rc == JC_OK && i < bu; i++) {
        jc_ov_rec_retain(base->users[i]);
        if ((rc = overlay_push(ov, base->users[i])))
            jc_ov_rec_release(base->users[i]);
    }
    for (size_t i = 0; rc == JC_OK && i < p->n; i++) {
        const struct jc_ov_rec *patch = p->recs[i];
        int item = patch->kind == JC_OV_ITEM;
        size_t idlen = strlen(patch->id);
        uint32_t idx, dummy;
        int in_ov = jc_strmap_get(item ? &ov->item_map : &ov->user_map, patch->id, idlen, &idx);
        int in_cat = cat && (item ? jc_catalog_find_item(cat, patch->id, idlen, &dummy)
                                  : jc_catalog_find_user(cat, patch->id, idlen, &dummy));
        if (created)
            created[i] = !in_ov && !in_cat;
        struct jc_ov_rec *merged;
        if (in_ov) {
            struct jc_ov_rec **slot = item ? &ov->items[idx] : &ov->users[idx];
            if ((rc = merge(*slot, patch, now_ms, &merged)))
                break;
            jc_ov_rec_release(*slot);
            *slot = merged;
            continue;
        }
        if (item && !in_cat && !(patch->has & JC_OV_HAS_TITLE)) {
            rc = jc_err_set(JC_EINVAL, "records[%zu] (id '%.40s'): title: required for a new item",
                            i, patch->id);
            break;
        }
        if ((size_t)ov->n_items + ov->n_users >= max_entries) {
            rc = jc_err_set(JC_ELIMIT,
                            "the overlay holds %zu items and users, its limit "
                            "(serve.overlay_max); import the data into the catalog instead",
                            max_entries);
            break;
        }
        if ((rc = merge(NULL, patch, now_ms, &merged)))
            break;
        if ((rc = overlay_push(ov, merged)))
            jc_ov_rec_release(merged);
    }
    if (rc) {
        overlay_destroy(&ov->rc);
        return rc;
    }
    *out = ov;
    return JC_OK;
}

/* ---- the file ---------------------------------------------------------------------------- */

int jc_ov_rec_write_json(const struct jc_ov_rec *r, struct jc_buf *out)
{
    struct jc_json j;
    jc_json_init(&j, out, 0);
    jc_json_obj_begin(&j);
    jc_json_kv_str(&j, "kind", r->kind == JC_OV_ITEM ? "item" : "user");
    jc_json_kv_str(&j, "id", r->id);
    if (r->has & JC_OV_HAS_TITLE)
        jc_json_kv_str(&j, "title", r->title);
    if (r->has & JC_OV_HAS_YEAR) {
        jc_json_key(&j, "year");
        r->year != JC_NO_YEAR ? jc_json_int(&j, r->year) : jc_json_null(&j);
    }
    if (r->has & JC_OV_HAS_GENRES) {
        jc_json_key(&j, "genres");
        jc_json_arr_begin(&j);
        for (uint32_t i = 0; i < r->n_genres; i++)
            jc_json_str(&j, r->genres[i]);
        jc_json_arr_end(&j);
    }
    if (r->n_attrs) {
        jc_json_key(&j, "attributes");
        jc_json_obj_begin(&j);
        for (uint32_t i = 0; i < r->n_attrs; i++) {
            jc_json_key(&j, r->attrs[i].name);
            r->attrs[i].value[0] ? jc_json_str(&j, r->attrs[i].value) : jc_json_null(&j);
        }
        jc_json_obj_end(&j);
    }
    jc_json_kv_int(&j, "updated_ms", r->updated_ms);
    jc_json_obj_end(&j);
    return jc_json_finish(&j);
}

static void put_u32(unsigned char *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (unsigned char)(v >> (8 * i));
}

static void put_u64(unsigned char *p, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        p[i] = (unsigned char)(v >> (8 * i));
}

static uint32_t get_u32(const unsigned char *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint64_t get_u64(const unsigned char *p)
{
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--)
        v = v << 8 | p[i];
    return v;
}

static int parent_dir(const char *path)
{
    char dir[4096];
    snprintf(dir, sizeof dir, "%s", path);
    char *slash = strrchr(dir, '/');
    if (slash == NULL || slash == dir)
        return JC_OK;
    *slash = '\0';
    return jc_mkdir_p(dir);
}

int jc_overlay_save(const struct jc_overlay *ov, const char *path)
{
    struct jc_buf b;
    jc_buf_init(&b, OV_FILE_MAX);
    int rc = jc_buf_append(&b, "\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0",
                           OV_HEADER);
    for (int pass = 0; pass < 2 && rc == JC_OK; pass++) {
        uint32_t n = pass == 0 ? ov->n_items : ov->n_users;
        struct jc_ov_rec *const *recs = pass == 0 ? ov->items : ov->users;
        for (uint32_t i = 0; i < n && rc == JC_OK; i++) {
            rc = jc_ov_rec_write_json(recs[i], &b);
            if (rc == JC_OK)
                rc = jc_buf_append_char(&b, '\n');
        }
    }
    if (rc == JC_OK) {
        unsigned char *h = (unsigned char *)b.data;
        size_t plen = b.len - OV_HEADER;
        memcpy(h, OV_MAGIC, 8);
        put_u32(h + 8, JC_OV_FORMAT_VERSION);
        put_u32(h + 12, 0);
        put_u64(h + 16, plen);
        put_u64(h + 24, jc_hash64(b.data + OV_HEADER, plen, 0));
        rc = parent_dir(path);
    }
    if (rc == JC_OK)
        rc = jc_file_write_atomic(path, b.data, b.len);
    jc_buf_free(&b);
    return rc;
}

int jc_overlay_load(struct jc_overlay **out, const char *path)
{
    if (!jc_path_exists(path))
        return jc_overlay_create(out);
    char *data;
    size_t len;
    int rc = jc_file_read_all(path, OV_FILE_MAX, &data, &len);
    if (rc)
        return rc;
    const unsigned char *h = (const unsigned char *)data;
    if (len < OV_HEADER || memcmp(h, OV_MAGIC, 8) != 0) {
        jc_free(data);
        return jc_err_set(JC_ECORRUPT, "%s: not a junco overlay file (bad magic or too short)",
                          path);
    }
    uint32_t ver = get_u32(h + 8);
    uint64_t plen = get_u64(h + 16);
    if (ver != JC_OV_FORMAT_VERSION) {
        jc_free(data);
        return jc_err_set(JC_EVERSION, "%s: overlay format version %u (this junco reads %u)", path,
                          ver, JC_OV_FORMAT_VERSION);
    }
    if (plen != len - OV_HEADER) {
        jc_free(data);
        return jc_err_set(JC_ECORRUPT,
                          "%s: payload is %zu bytes, the header says %llu (truncated?)", path,
                          len - OV_HEADER, (unsigned long long)plen);
    }
    const char *p = data + OV_HEADER;
    if (jc_hash64(p, (size_t)plen, 0) != get_u64(h + 24)) {
        jc_free(data);
        return jc_err_set(JC_ECORRUPT, "%s: checksum mismatch", path);
    }
    /* count lines to size the overlay */
    size_t lines = 0;
    for (size_t i = 0; i < plen; i++)
        lines += p[i] == '\n';
    struct jc_overlay *ov;
    if ((rc = overlay_alloc(&ov, lines, lines))) {
        jc_free(data);
        return rc;
    }
    struct parse_ctx *ctx = jc_malloc(sizeof *ctx);
    if (ctx == NULL)
        rc = JC_ENOMEM;
    size_t line = 0;
    const char *end = p + plen;
    while (rc == JC_OK && p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        size_t n = nl ? (size_t)(nl - p) : (size_t)(end - p);
        line++;
        cJSON *obj = cJSON_ParseWithLength(p, n);
        struct draft d;
        struct jc_ov_rec *r = NULL;
        if (obj == NULL)
            rc = jc_err_set(JC_EPARSE, "malformed JSON");
        else
            rc = parse_record(obj, JC_OV_ITEM, 1, line - 1, ctx, &d);
        if (rc == JC_OK && d.kind == JC_OV_USER && (d.has || d.title.n))
            rc = jc_err_set(JC_EINVAL, "a user record with item fields");
        if (rc == JC_OK && (r = draft_pack(&d)) == NULL)
            rc = JC_ENOMEM;
        if (rc == JC_OK && (rc = overlay_push(ov, r)))
            jc_ov_rec_release(r);
        cJSON_Delete(obj);
        if (rc && rc != JC_ENOMEM)
            rc = jc_err_set(JC_ECORRUPT, "%s:%zu: bad overlay record: %s", path, line, jc_errmsg());
        p += n + (nl ? 1 : 0);
    }
    jc_free(ctx);
    jc_free(data);
    if (rc) {
        overlay_destroy(&ov->rc);
        return rc;
    }
    ov->version = 1;
    *out = ov;
    return JC_OK;
}

/* ---- the view --------------------------------------------------------------------------- */

void jc_view_free(struct jc_view *v)
{
    jc_free(v->item_rec);
    jc_free(v->user_rec);
    jc_free(v->ov_item_id);
    jc_free(v->ov_user_id);
    jc_free(v->extra_genres);
    jc_strmap_free(&v->extra_genre_map);
    jc_free(v->genre_off);
    jc_free(v->genres);
    memset(v, 0, sizeof *v);
}

/* Genre id of a name: the catalog's, else an extra one (added when add). */
static int genre_id(struct jc_view *v, const char *name, int add, uint32_t *out)
{
    if (jc_catalog_find_genre(v->cat, name, out))
        return 1;
    uint32_t x;
    if (jc_strmap_get(&v->extra_genre_map, name, strlen(name), &x)) {
        *out = v->cat_genres + x;
        return 1;
    }
    if (!add)
        return 0;
    if (v->n_extra_genres >= JC_OV_MAX_NEW_GENRES ||
        (size_t)v->cat_genres + v->n_extra_genres >= 65535)
        return -1;
    if (jc_strmap_put(&v->extra_genre_map, name, strlen(name), v->n_extra_genres, &x, NULL))
        return -2;
    v->extra_genres[v->n_extra_genres] = name;
    *out = v->cat_genres + v->n_extra_genres++;
    return 1;
}

int jc_view_build(struct jc_view *v, const struct jc_catalog *cat, const struct jc_overlay *ov)
{
    memset(v, 0, sizeof *v);
    v->cat = cat;
    v->ov = ov;
    v->cat_items = jc_catalog_n_items(cat);
    v->cat_users = jc_catalog_n_users(cat);
    v->cat_genres = jc_catalog_n_genres(cat);
    uint32_t oi = ov ? ov->n_items : 0, ou = ov ? ov->n_users : 0;
    v->ov_item_id = jc_malloc_array(oi ? oi : 1, sizeof *v->ov_item_id);
    v->ov_user_id = jc_malloc_array(ou ? ou : 1, sizeof *v->ov_user_id);
    v->extra_genres = jc_malloc_array(JC_OV_MAX_NEW_GENRES, sizeof *v->extra_genres);
    int rc = v->ov_item_id && v->ov_user_id && v->extra_genres ? JC_OK : JC_ENOMEM;
    if (rc == JC_OK)
        rc = jc_strmap_init(&v->extra_genre_map, 16);
    if (rc) {
        jc_view_free(v);
        return rc;
    }
    /* dense ids: catalog entities keep theirs, new ones follow */
    uint32_t ni = v->cat_items, nu = v->cat_users;
    for (uint32_t i = 0; i < oi; i++) {
        uint32_t id;
        const char *ext = ov->items[i]->id;
        v->ov_item_id[i] = jc_catalog_find_item(cat, ext, strlen(ext), &id) ? id : ni++;
    }
    for (uint32_t i = 0; i < ou; i++) {
        uint32_t id;
        const char *ext = ov->users[i]->id;
        v->ov_user_id[i] = jc_catalog_find_user(cat, ext, strlen(ext), &id) ? id : nu++;
    }
    v->n_items = ni;
    v->n_users = nu;
    v->item_rec = jc_calloc(ni ? ni : 1, sizeof *v->item_rec);
    v->user_rec = jc_calloc(nu ? nu : 1, sizeof *v->user_rec);
    v->genre_off = jc_malloc_array((size_t)ni + 1, sizeof *v->genre_off);
    if (!v->item_rec || !v->user_rec || !v->genre_off) {
        jc_view_free(v);
        return JC_ENOMEM;
    }
    for (uint32_t i = 0; i < oi; i++)
        v->item_rec[v->ov_item_id[i]] = ov->items[i];
    for (uint32_t i = 0; i < ou; i++)
        v->user_rec[v->ov_user_id[i]] = ov->users[i];
    /* extra genres, in overlay order (deterministic ids) */
    for (uint32_t i = 0; i < oi; i++) {
        const struct jc_ov_rec *r = ov->items[i];
        if (!(r->has & JC_OV_HAS_GENRES))
            continue;
        for (uint32_t k = 0; k < r->n_genres; k++) {
            uint32_t g;
            int got = genre_id(v, r->genres[k], 1, &g);
            if (got == -1) {
                jc_view_free(v);
                return jc_err_set(JC_ELIMIT, "the overlay adds more than %d genres",
                                  JC_OV_MAX_NEW_GENRES);
            }
            if (got == -2) {
                jc_view_free(v);
                return JC_ENOMEM;
            }
        }
    }
    v->n_genres = v->cat_genres + v->n_extra_genres;
    /* merged genres CSR: count, then fill */
    uint64_t total = 0;
    for (uint32_t it = 0; it < ni; it++) {
        v->genre_off[it] = total;
        const struct jc_ov_rec *r = v->item_rec[it];
        if (r && (r->has & JC_OV_HAS_GENRES)) {
            total += r->n_genres;
        } else if (it < v->cat_items) {
            const uint16_t *g;
            total += jc_catalog_item_genres(cat, it, &g);
        }
    }
    v->genre_off[ni] = total;
    v->genres = jc_malloc_array(total ? (size_t)total : 1, sizeof *v->genres);
    if (v->genres == NULL) {
        jc_view_free(v);
        return JC_ENOMEM;
    }
    for (uint32_t it = 0; it < ni; it++) {
        uint16_t *dst = v->genres + v->genre_off[it];
        const struct jc_ov_rec *r = v->item_rec[it];
        if (r && (r->has & JC_OV_HAS_GENRES)) {
            for (uint32_t k = 0; k < r->n_genres; k++) {
                uint32_t g = 0;
                genre_id(v, r->genres[k], 0, &g);
                dst[k] = (uint16_t)g;
            }
        } else if (it < v->cat_items) {
            const uint16_t *g;
            uint32_t n = jc_catalog_item_genres(cat, it, &g);
            memcpy(dst, g, sizeof *dst * n);
        }
    }
    return JC_OK;
}

const char *jc_view_item_ext_id(const struct jc_view *v, uint32_t it)
{
    return it < v->cat_items ? jc_catalog_item_ext_id(v->cat, it) : v->item_rec[it]->id;
}

const char *jc_view_item_title(const struct jc_view *v, uint32_t it)
{
    const struct jc_ov_rec *r = v->item_rec[it];
    if (r && (r->has & JC_OV_HAS_TITLE))
        return r->title;
    return it < v->cat_items ? jc_catalog_item_title(v->cat, it) : "";
}

int32_t jc_view_item_year(const struct jc_view *v, uint32_t it)
{
    const struct jc_ov_rec *r = v->item_rec[it];
    if (r && (r->has & JC_OV_HAS_YEAR))
        return r->year;
    return it < v->cat_items ? jc_catalog_item_year(v->cat, it) : JC_NO_YEAR;
}

static const struct jc_ov_attr *rec_attr(const struct jc_ov_rec *r, const char *name)
{
    for (uint32_t i = 0; r && i < r->n_attrs; i++)
        if (strcmp(r->attrs[i].name, name) == 0)
            return &r->attrs[i];
    return NULL;
}

const char *jc_view_item_attr(const struct jc_view *v, uint32_t it, const char *name)
{
    const struct jc_ov_attr *a = rec_attr(v->item_rec[it], name);
    if (a)
        return a->value;
    uint32_t id;
    if (it >= v->cat_items || !jc_catalog_find_attr(v->cat, JC_ENT_ITEM, name, &id))
        return "";
    const char *s = jc_catalog_attr_str(v->cat, JC_ENT_ITEM, id, it);
    return s ? s : "";
}

const char *jc_view_user_ext_id(const struct jc_view *v, uint32_t u)
{
    return u < v->cat_users ? jc_catalog_user_ext_id(v->cat, u) : v->user_rec[u]->id;
}

const char *jc_view_genre_name(const struct jc_view *v, uint32_t g)
{
    if (g < v->cat_genres)
        return jc_catalog_genre_name(v->cat, g);
    return g - v->cat_genres < v->n_extra_genres ? v->extra_genres[g - v->cat_genres] : "";
}

int jc_view_item_overlaid(const struct jc_view *v, uint32_t it)
{
    return v->item_rec[it] != NULL;
}

int jc_view_user_overlaid(const struct jc_view *v, uint32_t u)
{
    return v->user_rec[u] != NULL;
}

int jc_view_find_item(const struct jc_view *v, const char *ext, size_t n, uint32_t *out)
{
    if (jc_catalog_find_item(v->cat, ext, n, out))
        return 1;
    uint32_t idx;
    if (v->ov && jc_strmap_get(&v->ov->item_map, ext, n, &idx)) {
        *out = v->ov_item_id[idx];
        return 1;
    }
    return 0;
}

int jc_view_find_user(const struct jc_view *v, const char *ext, size_t n, uint32_t *out)
{
    if (jc_catalog_find_user(v->cat, ext, n, out))
        return 1;
    uint32_t idx;
    if (v->ov && jc_strmap_get(&v->ov->user_map, ext, n, &idx)) {
        *out = v->ov_user_id[idx];
        return 1;
    }
    return 0;
}

int jc_view_find_genre(const struct jc_view *v, const char *name, uint32_t *out)
{
    return genre_id((struct jc_view *)v, name, 0, out) == 1;
}

void jc_view_user_range(const struct jc_view *v, uint32_t u, uint64_t *b, uint64_t *e)
{
    if (u < v->cat_users) {
        jc_catalog_user_range(v->cat, u, b, e);
    } else {
        *b = 0;
        *e = 0;
    }
}

uint64_t jc_view_item_interactions(const struct jc_view *v, uint32_t it, const uint32_t **pos)
{
    if (it < v->cat_items)
        return jc_catalog_item_interactions(v->cat, it, pos);
    *pos = NULL;
    return 0;
}

void jc_view_attrs(const struct jc_view *v, enum jc_ov_kind kind, uint32_t id,
                   void (*fn)(void *ctx, const char *name, const char *value), void *ctx)
{
    const struct jc_ov_rec *r = kind == JC_OV_ITEM ? v->item_rec[id] : v->user_rec[id];
    enum jc_entity ent = kind == JC_OV_ITEM ? JC_ENT_ITEM : JC_ENT_USER;
    uint32_t in_cat = kind == JC_OV_ITEM ? v->cat_items : v->cat_users;
    if (id < in_cat) {
        uint32_t na = jc_catalog_n_attrs(v->cat, ent);
        for (uint32_t a = 0; a < na; a++) {
            const char *name = jc_catalog_attr_name(v->cat, ent, a);
            if (rec_attr(r, name))
                continue;
            char num[NUMBUF];
            const char *val;
            if (jc_catalog_attr_type(v->cat, ent, a) == JC_ATTR_STR) {
                val = jc_catalog_attr_str(v->cat, ent, a, id);
            } else {
                double x = jc_catalog_attr_num(v->cat, ent, a, id);
                if (isnan(x))
                    continue;
                num_text(x, num, sizeof num);
                val = num;
            }
            if (val && val[0])
                fn(ctx, name, val);
        }
    }
    for (uint32_t i = 0; r && i < r->n_attrs; i++)
        if (r->attrs[i].value[0])
            fn(ctx, r->attrs[i].name, r->attrs[i].value);
}
