/*
 * catalog_build.c - the mutable, in-memory catalog builder and the writer.
 *
 * The builder keeps append-only columns. jc_catalog_builder_write computes a
 * permutation that orders interactions by (user, time, item, arrival) with a
 * counting sort by user plus a per-user sort, then streams every section
 * straight from the builder's columns through that permutation into an
 * atomic file writer, so writing needs only 4 extra bytes per interaction
 * (the permutation) plus a scratch array for the largest user or item.
 * The body checksum is computed while streaming and the header is patched
 * in last.
 */
#include <junco/catalog.h>

#include "catalog_int.h"
#include "core/alloc.h"
#include "core/fileio.h"
#include "core/hash.h"
#include "core/log.h"
#include "core/timeutil.h"
#include "core/utf8.h"
#include <junco/error.h>

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* A growable array of fixed-size elements. */
struct vec {
    void *data;
    uint64_t n;
    uint64_t cap;
    size_t elem;
};

static int vec_reserve(struct vec *v, uint64_t need)
{
    if (need <= v->cap)
        return JC_OK;
    uint64_t cap = v->cap ? v->cap : 64;
    while (cap < need)
        cap = cap + cap / 2 + 64;
    void *d = jc_realloc_array(v->data, cap, v->elem);
    if (d == NULL)
        return JC_ENOMEM;
    v->data = d;
    v->cap = cap;
    return JC_OK;
}

static int vec_push(struct vec *v, const void *x)
{
    if (v->n == v->cap && vec_reserve(v, v->n + 1))
        return JC_ENOMEM;
    memcpy((char *)v->data + v->n * v->elem, x, v->elem);
    v->n++;
    return JC_OK;
}

#define VEC(T)                \
    {                         \
        NULL, 0, 0, sizeof(T) \
    }
#define VAT(v, T) ((T *)(v).data)

struct name_table {
    struct jc_strmap map;
    struct vec offs; /* u64 string offsets, by id */
};

struct battr {
    char *name;
    uint32_t type;
    struct vec col; /* double or u64, grown on demand */
};

struct genre_ref {
    uint32_t item;
    uint32_t gen; /* the item's genre generation when added */
    uint32_t seq;
    uint16_t genre;
};

/* External ids that are small decimal numbers (as in MovieLens) are looked
 * up in a direct array before the hash map: id value -> internal id + 1. */
#define NUMCACHE_MAX (1u << 24)

struct numcache {
    uint32_t *slot;
    uint32_t n;
};

struct jc_catalog_builder {
    struct vec pool; /* char: concatenated NUL-terminated strings; [0] = "" */
    struct jc_strmap item_map, user_map;
    struct numcache item_num, user_num;
    struct vec item_ext, item_title; /* u64 */
    struct vec item_year;            /* i32 */
    struct vec item_genre_gen;       /* u32 */
    struct vec genre_refs;           /* struct genre_ref */
    struct vec user_ext;             /* u64 */
    struct name_table genres, evtypes, tagnames;
    struct vec ix_user, ix_item, ix_value, ix_time, ix_type;
    struct vec tag_user, tag_item, tag_id, tag_time;
    struct battr *attrs[2];
    uint32_t n_attrs[2];
};

/* The numeric value of a canonical decimal id ("0" or no leading zero,
 * < NUMCACHE_MAX), or UINT32_MAX. */
static inline uint32_t numeric_id(const char *s, size_t n)
{
    if (n == 0 || n > 8 || (s[0] == '0' && n > 1))
        return UINT32_MAX;
    uint32_t v = 0;
    for (size_t i = 0; i < n; i++) {
        uint32_t d = (uint32_t)(unsigned char)s[i] - '0';
        if (d > 9)
            return UINT32_MAX;
        v = v * 10 + d;
    }
    return v < NUMCACHE_MAX ? v : UINT32_MAX;
}

static inline int numcache_get(const struct numcache *c, uint32_t v, uint32_t *id)
{
    if (v < c->n && c->slot[v]) {
        *id = c->slot[v] - 1;
        return 1;
    }
    return 0;
}

static void numcache_put(struct numcache *c, uint32_t v, uint32_t id)
{
    if (v >= c->n) {
        uint64_t n = c->n ? c->n : 1024;
        while (n <= v)
            n *= 2;
        if (n > NUMCACHE_MAX)
            n = NUMCACHE_MAX;
        uint32_t *s = jc_realloc_array(c->slot, n, sizeof *s);
        if (s == NULL) {
            jc_err_clear(); /* the cache is optional: fall back to the hash map */
            return;
        }
        memset(s + c->n, 0, (n - c->n) * sizeof *s);
        c->slot = s;
        c->n = (uint32_t)n;
    }
    c->slot[v] = id + 1;
}

static int pool_add(struct jc_catalog_builder *b, const char *s, size_t n, uint64_t *off)
{
    if (n == 0) {
        *off = 0;
        return JC_OK;
    }
    if (vec_reserve(&b->pool, b->pool.n + n + 1))
        return JC_ENOMEM;
    char *p = (char *)b->pool.data + b->pool.n;
    memcpy(p, s, n);
    p[n] = '\0';
    *off = b->pool.n;
    b->pool.n += n + 1;
    return JC_OK;
}

static int check_text(const char *s, size_t n, const char *what)
{
    size_t bad;
    if (!jc_utf8_valid(s, n, &bad))
        return jc_err_set(JC_EENCODING, "%s is not valid UTF-8 (byte %zu)", what, bad);
    if (memchr(s, '\0', n) != NULL)
        return jc_err_set(JC_EENCODING, "%s contains a NUL byte", what);
    return JC_OK;
}

static int name_table_init(struct name_table *t)
{
    t->offs = (struct vec)VEC(uint64_t);
    return jc_strmap_init(&t->map, 16);
}

static void name_table_free(struct name_table *t)
{
    jc_strmap_free(&t->map);
    jc_free(t->offs.data);
}

static int name_intern(struct jc_catalog_builder *b, struct name_table *t, const char *s, size_t n,
                       uint64_t limit, const char *what, uint32_t *id)
{
    uint32_t v;
    if (jc_strmap_get(&t->map, s, n, &v)) {
        *id = v;
        return JC_OK;
    }
    if (t->offs.n >= limit)
        return jc_err_set(JC_ELIMIT, "too many distinct %s (limit %llu)", what,
                          (unsigned long long)limit);
    int rc = check_text(s, n, what);
    if (rc)
        return rc;
    uint64_t off;
    v = (uint32_t)t->offs.n;
    if ((rc = pool_add(b, s, n, &off)) || (rc = vec_push(&t->offs, &off)) ||
        (rc = jc_strmap_put(&t->map, s, n, v, NULL, NULL)))
        return rc;
    *id = v;
    return JC_OK;
}

int jc_catalog_builder_create(struct jc_catalog_builder **out)
{
    struct jc_catalog_builder *b = jc_calloc(1, sizeof *b);
    if (b == NULL)
        return JC_ENOMEM;
    b->pool = (struct vec)VEC(char);
    b->item_ext = b->item_title = b->user_ext = (struct vec)VEC(uint64_t);
    b->item_year = (struct vec)VEC(int32_t);
    b->item_genre_gen = (struct vec)VEC(uint32_t);
    b->genre_refs = (struct vec)VEC(struct genre_ref);
    b->ix_user = b->ix_item = (struct vec)VEC(uint32_t);
    b->ix_value = (struct vec)VEC(float);
    b->ix_time = (struct vec)VEC(int64_t);
    b->ix_type = (struct vec)VEC(uint8_t);
    b->tag_user = b->tag_item = b->tag_id = (struct vec)VEC(uint32_t);
    b->tag_time = (struct vec)VEC(int64_t);
    char nul = '\0';
    int rc = vec_push(&b->pool, &nul);
    if (rc == JC_OK)
        rc = jc_strmap_init(&b->item_map, 1024);
    if (rc == JC_OK)
        rc = jc_strmap_init(&b->user_map, 1024);
    if (rc == JC_OK)
        rc = name_table_init(&b->genres);
    if (rc == JC_OK)
        rc = name_table_init(&b->evtypes);
    if (rc == JC_OK)
        rc = name_table_init(&b->tagnames);
    for (int t = 0; rc == JC_OK && t < JC_EV__BUILTIN_COUNT; t++) {
        uint8_t id;
        const char *name = jc_event_type_builtin_name(t);
        rc = jc_cb_event_type(b, name, strlen(name), &id);
    }
    if (rc) {
        jc_catalog_builder_destroy(b);
        return rc;
    }
    *out = b;
    return JC_OK;
}

void jc_catalog_builder_destroy(struct jc_catalog_builder *b)
{
    if (b == NULL)
        return;
    struct vec *vecs[] = {&b->pool,           &b->item_ext,   &b->item_title, &b->item_year,
                          &b->item_genre_gen, &b->genre_refs, &b->user_ext,   &b->ix_user,
                          &b->ix_item,        &b->ix_value,   &b->ix_time,    &b->ix_type,
                          &b->tag_user,       &b->tag_item,   &b->tag_id,     &b->tag_time};
    for (size_t i = 0; i < sizeof vecs / sizeof vecs[0]; i++)
        jc_free(vecs[i]->data);
    jc_strmap_free(&b->item_map);
    jc_strmap_free(&b->user_map);
    jc_free(b->item_num.slot);
    jc_free(b->user_num.slot);
    name_table_free(&b->genres);
    name_table_free(&b->evtypes);
    name_table_free(&b->tagnames);
    for (int e = 0; e < 2; e++) {
        for (uint32_t a = 0; a < b->n_attrs[e]; a++) {
            jc_free(b->attrs[e][a].name);
            jc_free(b->attrs[e][a].col.data);
        }
        jc_free(b->attrs[e]);
    }
    jc_free(b);
}

int jc_cb_item(struct jc_catalog_builder *b, const char *ext, size_t n, uint32_t *id, int *created)
{
    uint32_t v, num = numeric_id(ext, n);
    if ((num != UINT32_MAX && numcache_get(&b->item_num, num, &v)) ||
        jc_strmap_get(&b->item_map, ext, n, &v)) {
        *id = v;
        if (created)
            *created = 0;
        return JC_OK;
    }
    if (n == 0)
        return jc_err_set(JC_EPARSE, "empty item id");
    if (b->item_ext.n >= UINT32_MAX - 1)
        return jc_err_set(JC_ELIMIT, "too many items (limit %u)", UINT32_MAX - 1);
    int rc = check_text(ext, n, "item id");
    if (rc)
        return rc;
    v = (uint32_t)b->item_ext.n;
    uint64_t off, zero = 0;
    int32_t year = JC_NO_YEAR;
    uint32_t gen = 0;
    if ((rc = pool_add(b, ext, n, &off)) || (rc = vec_push(&b->item_ext, &off)) ||
        (rc = vec_push(&b->item_title, &zero)) || (rc = vec_push(&b->item_year, &year)) ||
        (rc = vec_push(&b->item_genre_gen, &gen)) ||
        (rc = jc_strmap_put(&b->item_map, ext, n, v, NULL, NULL)))
        return rc;
    if (num != UINT32_MAX)
        numcache_put(&b->item_num, num, v);
    *id = v;
    if (created)
        *created = 1;
    return JC_OK;
}

int jc_cb_user(struct jc_catalog_builder *b, const char *ext, size_t n, uint32_t *id, int *created)
{
    uint32_t v, num = numeric_id(ext, n);
    if ((num != UINT32_MAX && numcache_get(&b->user_num, num, &v)) ||
        jc_strmap_get(&b->user_map, ext, n, &v)) {
        *id = v;
        if (created)
            *created = 0;
        return JC_OK;
    }
    if (n == 0)
        return jc_err_set(JC_EPARSE, "empty user id");
    if (b->user_ext.n >= UINT32_MAX - 1)
        return jc_err_set(JC_ELIMIT, "too many users (limit %u)", UINT32_MAX - 1);
    int rc = check_text(ext, n, "user id");
    if (rc)
        return rc;
    v = (uint32_t)b->user_ext.n;
    uint64_t off;
    if ((rc = pool_add(b, ext, n, &off)) || (rc = vec_push(&b->user_ext, &off)) ||
        (rc = jc_strmap_put(&b->user_map, ext, n, v, NULL, NULL)))
        return rc;
    if (num != UINT32_MAX)
        numcache_put(&b->user_num, num, v);
    *id = v;
    if (created)
        *created = 1;
    return JC_OK;
}

int jc_cb_find_item(const struct jc_catalog_builder *b, const char *ext, size_t n, uint32_t *id)
{
    return jc_strmap_get(&b->item_map, ext, n, id);
}

int jc_cb_find_user(const struct jc_catalog_builder *b, const char *ext, size_t n, uint32_t *id)
{
    return jc_strmap_get(&b->user_map, ext, n, id);
}

uint32_t jc_cb_n_items(const struct jc_catalog_builder *b)
{
    return (uint32_t)b->item_ext.n;
}
uint32_t jc_cb_n_users(const struct jc_catalog_builder *b)
{
    return (uint32_t)b->user_ext.n;
}
uint64_t jc_cb_n_interactions(const struct jc_catalog_builder *b)
{
    return b->ix_user.n;
}

int jc_cb_item_set_title(struct jc_catalog_builder *b, uint32_t item, const char *title, size_t n)
{
    if (item >= b->item_ext.n)
        return jc_err_set(JC_EINVAL, "no item %u", item);
    int rc = check_text(title, n, "title");
    if (rc)
        return rc;
    uint64_t off;
    if ((rc = pool_add(b, title, n, &off)))
        return rc;
    VAT(b->item_title, uint64_t)[item] = off;
    return JC_OK;
}

int jc_cb_item_set_year(struct jc_catalog_builder *b, uint32_t item, int32_t year)
{
    if (item >= b->item_ext.n)
        return jc_err_set(JC_EINVAL, "no item %u", item);
    VAT(b->item_year, int32_t)[item] = year;
    return JC_OK;
}

int jc_cb_item_clear_genres(struct jc_catalog_builder *b, uint32_t item)
{
    if (item >= b->item_ext.n)
        return jc_err_set(JC_EINVAL, "no item %u", item);
    VAT(b->item_genre_gen, uint32_t)[item]++;
    return JC_OK;
}

int jc_cb_item_add_genre(struct jc_catalog_builder *b, uint32_t item, const char *name, size_t n)
{
    if (item >= b->item_ext.n)
        return jc_err_set(JC_EINVAL, "no item %u", item);
    if (n == 0)
        return jc_err_set(JC_EPARSE, "empty genre name");
    uint32_t g;
    int rc = name_intern(b, &b->genres, name, n, UINT16_MAX, "genres", &g);
    if (rc)
        return rc;
    struct genre_ref r = {item, VAT(b->item_genre_gen, uint32_t)[item], (uint32_t)b->genre_refs.n,
                          (uint16_t)g};
    return vec_push(&b->genre_refs, &r);
}

static int attr_get(struct jc_catalog_builder *b, enum jc_entity ent, const char *name,
                    uint32_t type, struct battr **out)
{
    for (uint32_t a = 0; a < b->n_attrs[ent]; a++) {
        struct battr *at = &b->attrs[ent][a];
        if (strcmp(at->name, name) == 0) {
            if (at->type != type)
                return jc_err_set(JC_EINVAL, "attribute '%s' is a %s attribute", name,
                                  at->type == JC_ATTR_NUM ? "number" : "string");
            *out = at;
            return JC_OK;
        }
    }
    if (b->n_attrs[ent] >= CAT_MAX_ATTRS)
        return jc_err_set(JC_ELIMIT, "too many attributes (limit %d)", CAT_MAX_ATTRS);
    int rc = check_text(name, strlen(name), "attribute name");
    if (rc)
        return rc;
    struct battr *arr = jc_realloc_array(b->attrs[ent], b->n_attrs[ent] + 1, sizeof *arr);
    if (arr == NULL)
        return JC_ENOMEM;
    b->attrs[ent] = arr;
    struct battr *at = &arr[b->n_attrs[ent]];
    memset(at, 0, sizeof *at);
    at->name = jc_strdup(name);
    if (at->name == NULL)
        return JC_ENOMEM;
    at->type = type;
    at->col = type == JC_ATTR_NUM ? (struct vec)VEC(double) : (struct vec)VEC(uint64_t);
    b->n_attrs[ent]++;
    *out = at;
    return JC_OK;
}

/* Grows an attribute column to cover index id, filling with "unset". */
static int attr_extend(struct battr *at, uint64_t n)
{
    if (at->col.n >= n)
        return JC_OK;
    if (vec_reserve(&at->col, n))
        return JC_ENOMEM;
    for (uint64_t i = at->col.n; i < n; i++) {
        if (at->type == JC_ATTR_NUM)
            VAT(at->col, double)[i] = NAN;
        else
            VAT(at->col, uint64_t)[i] = 0;
    }
    at->col.n = n;
    return JC_OK;
}

static uint64_t n_entities(const struct jc_catalog_builder *b, enum jc_entity ent)
{
    return ent == JC_ENT_ITEM ? b->item_ext.n : b->user_ext.n;
}

int jc_cb_set_attr_str(struct jc_catalog_builder *b, enum jc_entity ent, uint32_t id,
                       const char *name, const char *value, size_t n)
{
    if (id >= n_entities(b, ent))
        return jc_err_set(JC_EINVAL, "no such %s: %u", ent == JC_ENT_ITEM ? "item" : "user", id);
    struct battr *at;
    int rc = attr_get(b, ent, name, JC_ATTR_STR, &at);
    if (rc == JC_OK)
        rc = check_text(value, n, name);
    if (rc == JC_OK)
        rc = attr_extend(at, (uint64_t)id + 1);
    uint64_t off;
    if (rc == JC_OK)
        rc = pool_add(b, value, n, &off);
    if (rc == JC_OK)
        VAT(at->col, uint64_t)[id] = off;
    return rc;
}

int jc_cb_set_attr_num(struct jc_catalog_builder *b, enum jc_entity ent, uint32_t id,
                       const char *name, double value)
{
    if (id >= n_entities(b, ent))
        return jc_err_set(JC_EINVAL, "no such %s: %u", ent == JC_ENT_ITEM ? "item" : "user", id);
    struct battr *at;
    int rc = attr_get(b, ent, name, JC_ATTR_NUM, &at);
    if (rc == JC_OK)
        rc = attr_extend(at, (uint64_t)id + 1);
    if (rc == JC_OK)
        VAT(at->col, double)[id] = value;
    return rc;
}

int jc_cb_event_type(struct jc_catalog_builder *b, const char *name, size_t n, uint8_t *type)
{
    if (n == 0)
        return jc_err_set(JC_EPARSE, "empty event type");
    uint32_t id;
    int rc = name_intern(b, &b->evtypes, name, n, 256, "event types", &id);
    if (rc == JC_OK)
        *type = (uint8_t)id;
    return rc;
}

int jc_cb_add_interaction(struct jc_catalog_builder *b, uint32_t user, uint32_t item, float value,
                          int64_t time, uint8_t type)
{
    if (user >= b->user_ext.n || item >= b->item_ext.n || type >= b->evtypes.offs.n)
        return jc_err_set(JC_EINVAL, "interaction refers to an unknown user, item or type");
    if (b->ix_user.n >= UINT32_MAX)
        return jc_err_set(JC_ELIMIT, "too many interactions (limit %u)", UINT32_MAX);
    if (b->ix_user.n == b->ix_user.cap) {
        uint64_t need = b->ix_user.n + 1;
        if (vec_reserve(&b->ix_user, need) || vec_reserve(&b->ix_item, need) ||
            vec_reserve(&b->ix_value, need) || vec_reserve(&b->ix_time, need) ||
            vec_reserve(&b->ix_type, need))
            return JC_ENOMEM;
    }
    uint64_t i = b->ix_user.n;
    VAT(b->ix_user, uint32_t)[i] = user;
    VAT(b->ix_item, uint32_t)[i] = item;
    VAT(b->ix_value, float)[i] = value;
    VAT(b->ix_time, int64_t)[i] = time;
    VAT(b->ix_type, uint8_t)[i] = type;
    b->ix_user.n = b->ix_item.n = b->ix_value.n = b->ix_time.n = b->ix_type.n = i + 1;
    return JC_OK;
}

int jc_cb_add_tag(struct jc_catalog_builder *b, uint32_t user, uint32_t item, const char *tag,
                  size_t n, int64_t time)
{
    if (user >= b->user_ext.n || item >= b->item_ext.n)
        return jc_err_set(JC_EINVAL, "tag refers to an unknown user or item");
    if (n == 0)
        return jc_err_set(JC_EPARSE, "empty tag");
    if (b->tag_user.n >= UINT32_MAX)
        return jc_err_set(JC_ELIMIT, "too many tag events");
    uint32_t id;
    int rc = name_intern(b, &b->tagnames, tag, n, UINT32_MAX, "tags", &id);
    if (rc == JC_OK)
        rc = vec_push(&b->tag_user, &user);
    if (rc == JC_OK)
        rc = vec_push(&b->tag_item, &item);
    if (rc == JC_OK)
        rc = vec_push(&b->tag_id, &id);
    if (rc == JC_OK)
        rc = vec_push(&b->tag_time, &time);
    return rc;
}

/* ---- copy an existing catalog into a builder (for --append) ---------- */

int jc_catalog_builder_from_catalog(struct jc_catalog_builder **out, const struct jc_catalog *cat)
{
    struct jc_catalog_builder *b;
    int rc = jc_catalog_builder_create(&b);
    if (rc)
        return rc;
    uint32_t n_items = jc_catalog_n_items(cat), n_users = jc_catalog_n_users(cat);
    for (uint32_t i = 0; i < n_items && rc == JC_OK; i++) {
        uint32_t id;
        const char *ext = jc_catalog_item_ext_id(cat, i);
        const char *title = jc_catalog_item_title(cat, i);
        rc = jc_cb_item(b, ext, strlen(ext), &id, NULL);
        if (rc == JC_OK)
            rc = jc_cb_item_set_title(b, id, title, strlen(title));
        if (rc == JC_OK)
            rc = jc_cb_item_set_year(b, id, jc_catalog_item_year(cat, i));
        const uint16_t *g;
        uint32_t ng = jc_catalog_item_genres(cat, i, &g);
        for (uint32_t k = 0; k < ng && rc == JC_OK; k++) {
            const char *name = jc_catalog_genre_name(cat, g[k]);
            rc = jc_cb_item_add_genre(b, id, name, strlen(name));
        }
    }
    for (uint32_t u = 0; u < n_users && rc == JC_OK; u++) {
        uint32_t id;
        const char *ext = jc_catalog_user_ext_id(cat, u);
        rc = jc_cb_user(b, ext, strlen(ext), &id, NULL);
    }
    for (int e = 0; e < 2 && rc == JC_OK; e++) {
        enum jc_entity ent = (enum jc_entity)e;
        uint32_t n_ent = ent == JC_ENT_ITEM ? n_items : n_users;
        for (uint32_t a = 0; a < jc_catalog_n_attrs(cat, ent) && rc == JC_OK; a++) {
            const char *name = jc_catalog_attr_name(cat, ent, a);
            int is_num = jc_catalog_attr_type(cat, ent, a) == JC_ATTR_NUM;
            for (uint32_t id = 0; id < n_ent && rc == JC_OK; id++) {
                if (is_num) {
                    double v = jc_catalog_attr_num(cat, ent, a, id);
                    if (!isnan(v))
                        rc = jc_cb_set_attr_num(b, ent, id, name, v);
                } else {
                    const char *v = jc_catalog_attr_str(cat, ent, a, id);
                    if (v[0] != '\0')
                        rc = jc_cb_set_attr_str(b, ent, id, name, v, strlen(v));
                }
            }
        }
    }
    uint8_t type_map[256];
    for (uint32_t t = 0; t < jc_catalog_n_event_types(cat) && rc == JC_OK; t++) {
        const char *name = jc_catalog_event_type_name(cat, t);
        rc = jc_cb_event_type(b, name, strlen(name), &type_map[t]);
    }
    struct jc_interactions ix;
    jc_catalog_interactions(cat, &ix);
    for (uint64_t i = 0; i < ix.n && rc == JC_OK; i++)
        rc = jc_cb_add_interaction(b, ix.user[i], ix.item[i], ix.value[i], ix.time[i],
                                   type_map[ix.type[i]]);
    for (uint32_t i = 0; i < n_items && rc == JC_OK; i++) {
        const uint32_t *tu, *tt;
        const int64_t *tm;
        uint64_t nt = jc_catalog_item_tags(cat, i, &tu, &tt, &tm);
        for (uint64_t k = 0; k < nt && rc == JC_OK; k++) {
            const char *name = jc_catalog_tag_name(cat, tt[k]);
            rc = jc_cb_add_tag(b, tu[k], i, name, strlen(name), tm[k]);
        }
    }
    if (rc) {
        jc_catalog_builder_destroy(b);
        return rc;
    }
    *out = b;
    return JC_OK;
}

/* ---- writing ----------------------------------------------------------- */

struct out {
    struct jc_wfile f;
    struct jc_hasher h;
    uint64_t pos;
    int rc;
};

static void out_write(struct out *o, const void *p, size_t n)
{
    if (o->rc || n == 0)
        return;
    o->rc = jc_wfile_write(&o->f, p, n);
    if (o->rc == JC_OK) {
        jc_hasher_update(&o->h, p, n);
        o->pos += n;
    }
}

static void out_pad(struct out *o)
{
    static const char zeros[CAT_ALIGN];
    uint64_t r = o->pos % CAT_ALIGN;
    if (r)
        out_write(o, zeros, CAT_ALIGN - r);
}

struct sort_key {
    int64_t time;
    uint32_t other; /* item (by-user order) or user (by-item order) */
    uint32_t idx;   /* tie-break: arrival order or position */
};

static int cmp_key(const void *a, const void *b)
{
    const struct sort_key *x = a, *y = b;
    if (x->time != y->time)
        return x->time < y->time ? -1 : 1;
    if (x->other != y->other)
        return x->other < y->other ? -1 : 1;
    return x->idx < y->idx ? -1 : x->idx > y->idx;
}

static int key_sorted(const struct sort_key *k, uint64_t n)
{
    for (uint64_t i = 1; i < n; i++)
        if (cmp_key(&k[i - 1], &k[i]) > 0)
            return 0;
    return 1;
}

#define RADIX_BITS 11
#define RADIX_SIZE (1u << RADIX_BITS)

/* One stable LSD pass on RADIX_BITS bits of key >> shift (key = time - tmin
 * or other); skipped when every key has the same digit. Returns 1 if it
 * moved the data into dst. */
static int radix_pass(const struct sort_key *src, struct sort_key *dst, uint64_t n, int use_time,
                      int64_t tmin, int shift, uint64_t *count)
{
    memset(count, 0, RADIX_SIZE * sizeof *count);
    for (uint64_t i = 0; i < n; i++) {
        uint64_t key = use_time ? (uint64_t)(src[i].time - tmin) : src[i].other;
        count[(key >> shift) & (RADIX_SIZE - 1)]++;
    }
    for (uint32_t d = 0; d < RADIX_SIZE; d++)
        if (count[d] == n)
            return 0;
    uint64_t sum = 0;
    for (uint32_t d = 0; d < RADIX_SIZE; d++) {
        uint64_t c = count[d];
        count[d] = sum;
        sum += c;
    }
    for (uint64_t i = 0; i < n; i++) {
        uint64_t key = use_time ? (uint64_t)(src[i].time - tmin) : src[i].other;
        dst[count[(key >> shift) & (RADIX_SIZE - 1)]++] = src[i];
    }
    return 1;
}

/* Sorts keys by (time, other), stable with respect to the input order (which
 * is ascending idx): insertion sort for small inputs, LSD radix otherwise
 * (the `other` passes are skipped when the input is already ordered by it,
 * as the by-item index always is). */
static inline int key_less(const struct sort_key *x, const struct sort_key *y)
{
    return x->time < y->time || (x->time == y->time && (x->other < y->other ||
                                                        (x->other == y->other && x->idx < y->idx)));
}

/* Stable bottom-up merge sort: insertion-sorted runs of 16, then merges. */
static void merge_sort_keys(struct sort_key *k, struct sort_key *tmp, uint64_t n)
{
    for (uint64_t r = 0; r < n; r += 16) {
        uint64_t e = r + 16 < n ? r + 16 : n;
        for (uint64_t i = r + 1; i < e; i++) {
            struct sort_key x = k[i];
            uint64_t j = i;
            while (j > r && key_less(&x, &k[j - 1])) {
                k[j] = k[j - 1];
                j--;
            }
            k[j] = x;
        }
    }
    struct sort_key *a = k, *b = tmp, *t;
    for (uint64_t w = 16; w < n; w *= 2) {
        for (uint64_t lo = 0; lo < n; lo += 2 * w) {
            uint64_t mid = lo + w < n ? lo + w : n, hi = lo + 2 * w < n ? lo + 2 * w : n;
            uint64_t i = lo, j = mid, o = lo;
            while (i < mid && j < hi)
                b[o++] = key_less(&a[j], &a[i]) ? a[j++] : a[i++];
            while (i < mid)
                b[o++] = a[i++];
            while (j < hi)
                b[o++] = a[j++];
        }
        t = a;
        a = b;
        b = t;
    }
    if (a != k)
        memcpy(k, a, n * sizeof *k);
}

static void sort_keys(struct sort_key *k, struct sort_key *tmp, uint64_t n, uint64_t *count)
{
    if (n < 4096) {
        merge_sort_keys(k, tmp, n);
        return;
    }
    int64_t tmin = k[0].time, tmax = k[0].time;
    int other_sorted = 1;
    for (uint64_t i = 1; i < n; i++) {
        if (k[i].time < tmin)
            tmin = k[i].time;
        if (k[i].time > tmax)
            tmax = k[i].time;
        other_sorted &= k[i - 1].other <= k[i].other;
    }
    uint64_t range = (uint64_t)tmax - (uint64_t)tmin;
    struct sort_key *a = k, *b = tmp, *t;
    for (int shift = 0; !other_sorted && shift < 32; shift += RADIX_BITS)
        if (radix_pass(a, b, n, 0, 0, shift, count)) {
            t = a;
            a = b;
            b = t;
        }
    for (int shift = 0; shift < 64 && (range >> shift) != 0; shift += RADIX_BITS)
        if (radix_pass(a, b, n, 1, tmin, shift, count)) {
            t = a;
            a = b;
            b = t;
        }
    if (a != k)
        memcpy(k, a, n * sizeof *k);
}

/* Counting sort of row indices by group id (stable), producing offsets. */
static int group_rows(const uint32_t *group, uint64_t n_rows, uint64_t n_groups,
                      uint32_t **perm_out, uint64_t **off_out)
{
    uint64_t *off = jc_calloc(n_groups + 1, sizeof *off);
    uint32_t *perm = jc_malloc_array(n_rows ? n_rows : 1, sizeof *perm);
    if (off == NULL || perm == NULL) {
        jc_free(off);
        jc_free(perm);
        return JC_ENOMEM;
    }
    for (uint64_t i = 0; i < n_rows; i++)
        off[group[i] + 1]++;
    for (uint64_t g = 0; g < n_groups; g++)
        off[g + 1] += off[g];
    uint64_t *cursor = jc_malloc_array(n_groups ? n_groups : 1, sizeof *cursor);
    if (cursor == NULL) {
        jc_free(off);
        jc_free(perm);
        return JC_ENOMEM;
    }
    memcpy(cursor, off, n_groups * sizeof *cursor);
    for (uint64_t i = 0; i < n_rows; i++)
        perm[cursor[group[i]]++] = (uint32_t)i;
    jc_free(cursor);
    *perm_out = perm;
    *off_out = off;
    return JC_OK;
}

/* Sorts each group's rows by (time, other, idx). perm holds row indices;
 * time/other are indexed through perm_inner (NULL = identity). */
static int sort_groups(uint32_t *perm, const uint64_t *off, uint64_t n_groups, const int64_t *time,
                       const uint32_t *other, const uint32_t *inner)
{
    uint64_t max = 0;
    for (uint64_t g = 0; g < n_groups; g++)
        if (off[g + 1] - off[g] > max)
            max = off[g + 1] - off[g];
    if (max < 2)
        return JC_OK;
    struct sort_key *k = jc_malloc_array(max, sizeof *k);
    struct sort_key *tmp = jc_malloc_array(max, sizeof *tmp);
    uint64_t *count = jc_malloc_array(RADIX_SIZE, sizeof *count);
    if (k == NULL || tmp == NULL || count == NULL) {
        jc_free(k);
        jc_free(tmp);
        jc_free(count);
        return JC_ENOMEM;
    }
    for (uint64_t g = 0; g < n_groups; g++) {
        uint64_t b = off[g], n = off[g + 1] - b;
        if (n < 2)
            continue;
        for (uint64_t i = 0; i < n; i++) {
            uint32_t r = perm[b + i];
            uint32_t src = inner ? inner[r] : r;
            k[i].time = time[src];
            k[i].other = other[src];
            k[i].idx = r;
        }
        if (key_sorted(k, n))
            continue;
        sort_keys(k, tmp, n, count);
        for (uint64_t i = 0; i < n; i++)
            perm[b + i] = k[i].idx;
    }
    jc_free(k);
    jc_free(tmp);
    jc_free(count);
    return JC_OK;
}

/* ---- the by-item index ------------------------------------------------ */

struct tpos {
    uint32_t t; /* time - tmin (ranges beyond 2^32 s fall back to the generic sort) */
    uint32_t pos;
};

static void sort_tpos(struct tpos *k, struct tpos *tmp, uint64_t n, uint64_t *count)
{
    /* stable by t; the input is in ascending position (= user) order */
    if (n < 2048) {
        for (uint64_t r = 0; r < n; r += 16) {
            uint64_t e = r + 16 < n ? r + 16 : n;
            for (uint64_t i = r + 1; i < e; i++) {
                struct tpos x = k[i];
                uint64_t j = i;
                while (j > r && x.t < k[j - 1].t) {
                    k[j] = k[j - 1];
                    j--;
                }
                k[j] = x;
            }
        }
        struct tpos *a = k, *b = tmp, *t;
        for (uint64_t w = 16; w < n; w *= 2) {
            for (uint64_t lo = 0; lo < n; lo += 2 * w) {
                uint64_t mid = lo + w < n ? lo + w : n, hi = lo + 2 * w < n ? lo + 2 * w : n;
                uint64_t i = lo, j = mid, o = lo;
                while (i < mid && j < hi)
                    b[o++] = a[j].t < a[i].t ? a[j++] : a[i++];
                while (i < mid)
                    b[o++] = a[i++];
                while (j < hi)
                    b[o++] = a[j++];
            }
            t = a;
            a = b;
            b = t;
        }
        if (a != k)
            memcpy(k, a, n * sizeof *k);
        return;
    }
    uint32_t tmax = 0;
    for (uint64_t i = 0; i < n; i++)
        if (k[i].t > tmax)
            tmax = k[i].t;
    struct tpos *a = k, *b = tmp, *t;
    for (int shift = 0; shift < 32 && (tmax >> shift) != 0; shift += RADIX_BITS) {
        memset(count, 0, RADIX_SIZE * sizeof *count);
        for (uint64_t i = 0; i < n; i++)
            count[(a[i].t >> shift) & (RADIX_SIZE - 1)]++;
        uint64_t sum = 0;
        for (uint32_t d = 0; d < RADIX_SIZE; d++) {
            uint64_t c = count[d];
            count[d] = sum;
            sum += c;
        }
        for (uint64_t i = 0; i < n; i++)
            b[count[(a[i].t >> shift) & (RADIX_SIZE - 1)]++] = a[i];
        t = a;
        a = b;
        b = t;
    }
    if (a != k)
        memcpy(k, a, n * sizeof *k);
}

/* Positions of each item's interactions, ordered by (time, user). One
 * sequential pass scatters (time, position) into item buckets, so each
 * bucket is then sorted from contiguous memory; positions arrive in user
 * order, so a stable sort by time alone gives the (time, user) order. */
static int build_item_index(const struct jc_catalog_builder *b, const uint32_t *perm,
                            uint32_t **pos_out, uint64_t **off_out)
{
    uint64_t n = b->ix_user.n, n_items = b->item_ext.n;
    const uint32_t *items = b->ix_item.data;
    const int64_t *time = b->ix_time.data;
    uint64_t *off = jc_calloc(n_items + 1, sizeof *off);
    uint64_t *cursor = jc_malloc_array(n_items + 1, sizeof *cursor);
    uint32_t *pos = jc_malloc_array(n ? n : 1, sizeof *pos);
    struct tpos *tp = jc_malloc_array(n ? n : 1, sizeof *tp);
    uint64_t *count = jc_malloc_array(RADIX_SIZE, sizeof *count);
    struct tpos *tmp = NULL;
    int rc = JC_OK;
    if (!off || !cursor || !pos || !tp || !count) {
        rc = JC_ENOMEM;
        goto out;
    }
    int64_t tmin = INT64_MAX, tmax = INT64_MIN;
    for (uint64_t p = 0; p < n; p++) {
        off[items[perm[p]] + 1]++;
        if (time[p] < tmin)
            tmin = time[p];
        if (time[p] > tmax)
            tmax = time[p];
    }
    if (n > 0 && (uint64_t)tmax - (uint64_t)tmin > UINT32_MAX) {
        /* a time range over 136 years: use the generic (slower) path */
        jc_free(off);
        jc_free(cursor);
        jc_free(pos);
        jc_free(tp);
        jc_free(count);
        uint32_t *item_of_pos = jc_malloc_array(n, sizeof *item_of_pos);
        if (item_of_pos == NULL)
            return JC_ENOMEM;
        for (uint64_t p = 0; p < n; p++)
            item_of_pos[p] = items[perm[p]];
        rc = group_rows(item_of_pos, n, n_items, pos_out, off_out);
        jc_free(item_of_pos);
        if (rc == JC_OK)
            rc = sort_groups(*pos_out, *off_out, n_items, time, b->ix_user.data, perm);
        return rc;
    }
    uint64_t max = 0;
    for (uint64_t it = 0; it < n_items; it++) {
        if (off[it + 1] > max)
            max = off[it + 1];
        off[it + 1] += off[it];
    }
    memcpy(cursor, off, (n_items + 1) * sizeof *cursor);
    for (uint64_t p = 0; p < n; p++) {
        uint32_t r = perm[p];
        uint64_t slot = cursor[items[r]]++;
        tp[slot].t = (uint32_t)(time[r] - tmin);
        tp[slot].pos = (uint32_t)p;
    }
    tmp = jc_malloc_array(max ? max : 1, sizeof *tmp);
    if (tmp == NULL) {
        rc = JC_ENOMEM;
        goto out;
    }
    for (uint64_t it = 0; it < n_items; it++) {
        uint64_t lo = off[it], cnt = off[it + 1] - lo;
        if (cnt > 1)
            sort_tpos(tp + lo, tmp, cnt, count);
    }
    for (uint64_t i = 0; i < n; i++)
        pos[i] = tp[i].pos;
out:
    jc_free(cursor);
    jc_free(tp);
    jc_free(tmp);
    jc_free(count);
    if (rc) {
        jc_free(off);
        jc_free(pos);
        return rc;
    }
    *pos_out = pos;
    *off_out = off;
    return JC_OK;
}

#define GATHER_CHUNK 8192

/* Streams column[perm[i]] for all i. */
static void write_gather(struct out *o, const void *col, size_t elem, const uint32_t *perm,
                         uint64_t n)
{
    char buf[GATHER_CHUNK * 8];
    const char *src = col;
    for (uint64_t i = 0; i < n && o->rc == JC_OK;) {
        uint64_t k = n - i < GATHER_CHUNK ? n - i : GATHER_CHUNK;
        switch (elem) {
        case 1:
            for (uint64_t j = 0; j < k; j++)
                buf[j] = src[perm[i + j]];
            break;
        case 4:
            for (uint64_t j = 0; j < k; j++)
                memcpy(buf + j * 4, src + (size_t)perm[i + j] * 4, 4);
            break;
        default:
            for (uint64_t j = 0; j < k; j++)
                memcpy(buf + j * 8, src + (size_t)perm[i + j] * 8, 8);
            break;
        }
        out_write(o, buf, k * elem);
        i += k;
    }
}

static uint64_t hash_slots(uint64_t n)
{
    uint64_t s = 16;
    while (s < 2 * n + 1)
        s <<= 1;
    return s;
}

static int build_hash(const struct jc_catalog_builder *b, const uint64_t *ext, uint64_t n,
                      uint32_t **out, uint64_t *slots_out)
{
    uint64_t slots = hash_slots(n);
    uint32_t *t = jc_calloc(slots, sizeof *t);
    if (t == NULL)
        return JC_ENOMEM;
    const char *pool = b->pool.data;
    for (uint64_t i = 0; i < n; i++) {
        const char *s = pool + ext[i];
        uint64_t j = jc_hash64(s, strlen(s), 0) & (slots - 1);
        while (t[j] != 0)
            j = (j + 1) & (slots - 1);
        t[j] = (uint32_t)i + 1;
    }
    *out = t;
    *slots_out = slots;
    return JC_OK;
}

struct plan {
    uint32_t id;
    uint32_t elem;
    uint64_t count;
    const void *ptr;      /* contiguous source, or */
    const uint32_t *perm; /* gather ptr[perm[i]] when set */
};

static int cmp_genre_ref(const void *a, const void *b)
{
    const struct genre_ref *x = a, *y = b;
    if (x->item != y->item)
        return x->item < y->item ? -1 : 1;
    return x->seq < y->seq ? -1 : x->seq > y->seq;
}

int jc_catalog_builder_write(struct jc_catalog_builder *b, const char *path,
                             const struct jc_progress *progress)
{
    uint64_t n_items = b->item_ext.n, n_users = b->user_ext.n, n_ix = b->ix_user.n;
    uint64_t n_tags = b->tag_user.n;
    uint32_t *perm = NULL, *item_pos = NULL, *tag_perm = NULL;
    uint64_t *user_off = NULL, *item_off = NULL, *tag_off = NULL, *genre_off = NULL;
    uint16_t *genres = NULL;
    uint32_t *item_hash = NULL, *user_hash = NULL;
    uint64_t item_slots = 0, user_slots = 0;
    struct plan *plans = NULL;
    struct cat_attr_meta *metas[2] = {NULL, NULL};
    int rc;
    struct out o;
    memset(&o, 0, sizeof o);
    uint64_t t_start = jc_now_ns();

    jc_progress_report(progress, "sort", 0, 4, "steps", NULL);
    /* By-user order. */
    rc = group_rows(b->ix_user.data, n_ix, n_users, &perm, &user_off);
    if (rc == JC_OK)
        rc = sort_groups(perm, user_off, n_users, b->ix_time.data, b->ix_item.data, NULL);
    jc_progress_report(progress, "sort", 1, 4, "steps", NULL);
    JC_DEBUG("catalog: sort step 1 at %.2f s", (double)(jc_now_ns() - t_start) * 1e-9);
    /* By-item index over final positions, ordered by (time, user). */
    if (rc == JC_OK)
        rc = build_item_index(b, perm, &item_pos, &item_off);
    jc_progress_report(progress, "sort", 2, 4, "steps", NULL);
    JC_DEBUG("catalog: sort step 2 at %.2f s", (double)(jc_now_ns() - t_start) * 1e-9);
    /* Tags by (item, time, user). */
    if (rc == JC_OK)
        rc = group_rows(b->tag_item.data, n_tags, n_items, &tag_perm, &tag_off);
    if (rc == JC_OK)
        rc = sort_groups(tag_perm, tag_off, n_items, b->tag_time.data, b->tag_user.data, NULL);
    /* Genres: keep the current generation of each item, in insertion order. */
    if (rc == JC_OK) {
        struct genre_ref *refs = b->genre_refs.data;
        if (b->genre_refs.n > 1)
            qsort(refs, b->genre_refs.n, sizeof *refs, cmp_genre_ref);
        genre_off = jc_calloc(n_items + 1, sizeof *genre_off);
        genres = jc_malloc_array(b->genre_refs.n + 1, sizeof *genres);
        if (genre_off == NULL || genres == NULL) {
            rc = JC_ENOMEM;
        } else {
            const uint32_t *gen = b->item_genre_gen.data;
            uint64_t k = 0;
            for (uint64_t i = 0; i < b->genre_refs.n; i++) {
                if (refs[i].gen != gen[refs[i].item])
                    continue;
                /* drop a repeated genre on the same item */
                int dup = 0;
                for (uint64_t j = genre_off[refs[i].item + 1]; j > 0; j--) {
                    if (genres[k - j] == refs[i].genre) {
                        dup = 1;
                        break;
                    }
                }
                if (dup)
                    continue;
                genres[k++] = refs[i].genre;
                genre_off[refs[i].item + 1]++;
            }
            for (uint64_t i = 0; i < n_items; i++)
                genre_off[i + 1] += genre_off[i];
        }
    }
    JC_DEBUG("catalog: tags and genres at %.2f s", (double)(jc_now_ns() - t_start) * 1e-9);
    if (rc == JC_OK)
        rc = build_hash(b, b->item_ext.data, n_items, &item_hash, &item_slots);
    if (rc == JC_OK)
        rc = build_hash(b, b->user_ext.data, n_users, &user_hash, &user_slots);
    for (int e = 0; e < 2 && rc == JC_OK; e++) {
        uint64_t n_ent = n_entities(b, (enum jc_entity)e);
        if (b->n_attrs[e] == 0)
            continue;
        metas[e] = jc_calloc(b->n_attrs[e], sizeof *metas[e]);
        if (metas[e] == NULL) {
            rc = JC_ENOMEM;
            break;
        }
        for (uint32_t a = 0; a < b->n_attrs[e] && rc == JC_OK; a++) {
            struct battr *at = &b->attrs[e][a];
            rc = attr_extend(at, n_ent);
            if (rc == JC_OK)
                rc = pool_add(b, at->name, strlen(at->name), &metas[e][a].name_off);
            metas[e][a].type = at->type;
        }
    }
    /* Data that arrives in final order (as generated data often does) is
     * streamed without a gather. */
    int perm_identity = 1, tag_identity = 1;
    for (uint64_t i = 0; rc == JC_OK && i < n_ix && perm_identity; i++)
        perm_identity = perm[i] == i;
    for (uint64_t i = 0; rc == JC_OK && i < n_tags && tag_identity; i++)
        tag_identity = tag_perm[i] == i;
    jc_progress_report(progress, "sort", 3, 4, "steps", NULL);
    JC_INFO("catalog: indexes built in %.2f s", (double)(jc_now_ns() - t_start) * 1e-9);
    if (rc)
        goto done;

    size_t max_plans = SEC__FIXED_COUNT + b->n_attrs[0] + b->n_attrs[1];
    plans = jc_calloc(max_plans, sizeof *plans);
    if (plans == NULL) {
        rc = JC_ENOMEM;
        goto done;
    }
    size_t np = 0;
#define PLAN(id_, T, count_, ptr_, perm_) \
    plans[np++] = (struct plan){(id_), sizeof(T), (count_), (ptr_), (perm_)}
    PLAN(SEC_STRINGS, char, b->pool.n, b->pool.data, NULL);
    PLAN(SEC_ITEM_EXT, uint64_t, n_items, b->item_ext.data, NULL);
    PLAN(SEC_ITEM_TITLE, uint64_t, n_items, b->item_title.data, NULL);
    PLAN(SEC_ITEM_YEAR, int32_t, n_items, b->item_year.data, NULL);
    PLAN(SEC_ITEM_GENRE_OFF, uint64_t, n_items + 1, genre_off, NULL);
    PLAN(SEC_ITEM_GENRES, uint16_t, genre_off[n_items], genres, NULL);
    PLAN(SEC_USER_EXT, uint64_t, n_users, b->user_ext.data, NULL);
    PLAN(SEC_GENRE_NAME, uint64_t, b->genres.offs.n, b->genres.offs.data, NULL);
    PLAN(SEC_EVTYPE_NAME, uint64_t, b->evtypes.offs.n, b->evtypes.offs.data, NULL);
    PLAN(SEC_TAG_NAME, uint64_t, b->tagnames.offs.n, b->tagnames.offs.data, NULL);
    PLAN(SEC_IX_USER, uint32_t, n_ix, b->ix_user.data, perm);
    PLAN(SEC_IX_ITEM, uint32_t, n_ix, b->ix_item.data, perm);
    PLAN(SEC_IX_VALUE, float, n_ix, b->ix_value.data, perm);
    PLAN(SEC_IX_TIME, int64_t, n_ix, b->ix_time.data, perm);
    PLAN(SEC_IX_TYPE, uint8_t, n_ix, b->ix_type.data, perm);
    PLAN(SEC_USER_OFF, uint64_t, n_users + 1, user_off, NULL);
    PLAN(SEC_ITEM_IX_OFF, uint64_t, n_items + 1, item_off, NULL);
    PLAN(SEC_ITEM_IX, uint32_t, n_ix, item_pos, NULL);
    PLAN(SEC_TAG_USER, uint32_t, n_tags, b->tag_user.data, tag_perm);
    PLAN(SEC_TAG_ITEM, uint32_t, n_tags, b->tag_item.data, tag_perm);
    PLAN(SEC_TAG_ID, uint32_t, n_tags, b->tag_id.data, tag_perm);
    PLAN(SEC_TAG_TIME, int64_t, n_tags, b->tag_time.data, tag_perm);
    PLAN(SEC_ITEM_TAG_OFF, uint64_t, n_items + 1, tag_off, NULL);
    PLAN(SEC_ITEM_HASH, uint32_t, item_slots, item_hash, NULL);
    PLAN(SEC_USER_HASH, uint32_t, user_slots, user_hash, NULL);
    PLAN(SEC_ITEM_ATTR_META, struct cat_attr_meta, b->n_attrs[0], metas[0], NULL);
    PLAN(SEC_USER_ATTR_META, struct cat_attr_meta, b->n_attrs[1], metas[1], NULL);
    for (int e = 0; e < 2; e++) {
        for (uint32_t a = 0; a < b->n_attrs[e]; a++) {
            uint32_t id = (e == JC_ENT_ITEM ? SEC_ITEM_ATTR_BASE : SEC_USER_ATTR_BASE) + a;
            PLAN(id, uint64_t, n_entities(b, (enum jc_entity)e), b->attrs[e][a].col.data, NULL);
        }
    }
#undef PLAN

    /* Layout: header, section table, then aligned sections. */
    struct cat_section *tab = jc_calloc(np, sizeof *tab);
    if (tab == NULL) {
        rc = JC_ENOMEM;
        goto done;
    }
    uint64_t pos = sizeof(struct cat_header) + np * sizeof *tab;
    for (size_t i = 0; i < np; i++) {
        pos = (pos + CAT_ALIGN - 1) / CAT_ALIGN * CAT_ALIGN;
        tab[i].id = plans[i].id;
        tab[i].elem_size = plans[i].elem;
        tab[i].offset = pos;
        tab[i].size = plans[i].count * plans[i].elem;
        pos += tab[i].size;
    }
    uint64_t file_size = pos;

    struct cat_header hdr;
    memset(&hdr, 0, sizeof hdr);
    memcpy(hdr.magic, CAT_MAGIC, 8);
    hdr.version = JC_CATALOG_FORMAT_VERSION;
    hdr.header_size = sizeof hdr;
    hdr.file_size = file_size;
    hdr.n_sections = (uint32_t)np;
    hdr.n_users = n_users;
    hdr.n_items = n_items;
    hdr.n_interactions = n_ix;
    hdr.n_genres = b->genres.offs.n;
    hdr.n_event_types = b->evtypes.offs.n;
    hdr.n_tag_events = n_tags;
    hdr.n_tag_names = b->tagnames.offs.n;
    hdr.n_item_attrs = b->n_attrs[0];
    hdr.n_user_attrs = b->n_attrs[1];
    hdr.item_hash_slots = item_slots;
    hdr.user_hash_slots = user_slots;
    hdr.created = jc_wall_s();

    rc = jc_hasher_init(&o.h);
    if (rc == JC_OK)
        rc = jc_wfile_open(&o.f, path);
    if (rc) {
        jc_hasher_free(&o.h);
        jc_free(tab);
        goto done;
    }
    /* Placeholder header (not hashed), then the hashed body. */
    o.rc = jc_wfile_write(&o.f, &hdr, sizeof hdr);
    o.pos = sizeof hdr;
    out_write(&o, tab, np * sizeof *tab);
    for (size_t i = 0; i < np && o.rc == JC_OK; i++) {
        out_pad(&o);
        if (o.pos != tab[i].offset) {
            o.rc = jc_err_set(JC_EINTERNAL, "catalog writer: layout mismatch");
            break;
        }
        if (plans[i].perm && !(plans[i].perm == perm && perm_identity) &&
            !(plans[i].perm == tag_perm && tag_identity))
            write_gather(&o, plans[i].ptr, plans[i].elem, plans[i].perm, plans[i].count);
        else
            out_write(&o, plans[i].ptr, plans[i].count * plans[i].elem);
        jc_progress_report(progress, "write", o.pos, file_size, "bytes", NULL);
    }
    jc_free(tab);
    rc = o.rc;
    if (rc == JC_OK && o.pos != file_size)
        rc = jc_err_set(JC_EINTERNAL, "catalog writer: size mismatch");
    if (rc == JC_OK) {
        hdr.body_checksum = jc_hasher_digest(&o.h);
        hdr.header_checksum = 0;
        hdr.header_checksum = jc_hash64(&hdr, sizeof hdr, 0);
        rc = jc_wfile_pwrite(&o.f, &hdr, sizeof hdr, 0);
    }
    jc_hasher_free(&o.h);
    JC_INFO("catalog: %llu bytes streamed at %.2f s", (unsigned long long)o.pos,
            (double)(jc_now_ns() - t_start) * 1e-9);
    if (rc == JC_OK)
        rc = jc_wfile_commit(&o.f);
    else
        jc_wfile_abort(&o.f);
    JC_INFO("catalog: committed (fsync + rename) at %.2f s",
            (double)(jc_now_ns() - t_start) * 1e-9);
    if (rc == JC_OK)
        jc_progress_report(progress, "write", file_size, file_size, "bytes", NULL);
done:
    jc_free(perm);
    jc_free(item_pos);
    jc_free(tag_perm);
    jc_free(user_off);
    jc_free(item_off);
    jc_free(tag_off);
    jc_free(genre_off);
    jc_free(genres);
    jc_free(item_hash);
    jc_free(user_hash);
    jc_free(plans);
    jc_free(metas[0]);
    jc_free(metas[1]);
    return rc;
}
