/*
 * catalog.c - opening, validating and reading a catalog file.
 *
 * jc_catalog_open maps the file and checks, in order: size and magic, the
 * header checksum, the version, the body checksum, then every section's
 * bounds, alignment and element count, every offset array's monotonicity and
 * every stored id's range. After that, accessors index the mapping without
 * further checks (their own arguments are the caller's responsibility and are
 * guarded by JC_ASSERT-free bounds only where cheap).
 */
#include <junco/catalog.h>

#include "catalog_int.h"
#include "core/alloc.h"
#include "core/fileio.h"
#include "core/hash.h"
#include <junco/error.h>

#include <math.h>
#include <string.h>

struct attr_col {
    const char *name;
    uint32_t type;
    const double *num;   /* type NUM */
    const uint64_t *str; /* type STR */
};

struct jc_catalog {
    struct jc_map map;
    const struct cat_header *hdr;
    const char *strings;
    uint64_t strings_len;
    const uint64_t *item_ext, *item_title, *item_genre_off, *user_ext;
    const int32_t *item_year;
    const uint16_t *item_genres;
    const uint64_t *genre_name, *evtype_name, *tag_name;
    const uint32_t *ix_user, *ix_item;
    const float *ix_value;
    const int64_t *ix_time;
    const uint8_t *ix_type;
    const uint64_t *user_off, *item_ix_off, *item_tag_off;
    const uint32_t *item_ix;
    const uint32_t *tag_user, *tag_item, *tag_id;
    const int64_t *tag_time;
    const uint32_t *item_hash, *user_hash;
    struct attr_col *attrs[2];
    uint32_t n_attrs[2];
};

static const char *const builtin_types[JC_EV__BUILTIN_COUNT] = {"rating", "click",    "view",
                                                                "like",   "purchase", "impression"};

const char *jc_event_type_builtin_name(int type)
{
    if (type < 0 || type >= JC_EV__BUILTIN_COUNT)
        return NULL;
    return builtin_types[type];
}

static int corrupt(const char *path, const char *what)
{
    return jc_err_set(JC_ECORRUPT, "%s: corrupt catalog: %s", path, what);
}

/* Finds section `id` and checks it holds exactly `count` elements of
 * `elem_size` bytes. count == UINT64_MAX accepts any whole count. */
static int get_section(const struct jc_catalog *c, const char *path, uint32_t id,
                       uint32_t elem_size, uint64_t count, const void **out, uint64_t *count_out)
{
    const struct cat_section *tab =
        (const struct cat_section *)((const char *)c->map.data + c->hdr->header_size);
    for (uint32_t i = 0; i < c->hdr->n_sections; i++) {
        if (tab[i].id != id)
            continue;
        const struct cat_section *s = &tab[i];
        if (s->elem_size != elem_size || s->offset % CAT_ALIGN != 0 || s->offset > c->map.size ||
            s->size > c->map.size - s->offset || s->size % elem_size != 0)
            return jc_err_set(JC_ECORRUPT, "%s: corrupt catalog: section %u out of bounds", path,
                              id);
        uint64_t n = s->size / elem_size;
        if (count != UINT64_MAX && n != count)
            return jc_err_set(JC_ECORRUPT,
                              "%s: corrupt catalog: section %u has %llu entries, expected %llu",
                              path, id, (unsigned long long)n, (unsigned long long)count);
        *out = n ? (const char *)c->map.data + s->offset : NULL;
        if (count_out)
            *count_out = n;
        return JC_OK;
    }
    if (count == 0 || count == UINT64_MAX) {
        *out = NULL;
        if (count_out)
            *count_out = 0;
        return JC_OK;
    }
    return jc_err_set(JC_ECORRUPT, "%s: corrupt catalog: section %u missing", path, id);
}

static int check_str_offsets(const struct jc_catalog *c, const uint64_t *offs, uint64_t n)
{
    for (uint64_t i = 0; i < n; i++)
        if (offs[i] >= c->strings_len)
            return -1;
    return 0;
}

static int check_csr(const uint64_t *off, uint64_t n, uint64_t total)
{
    if (off[0] != 0 || off[n] != total)
        return -1;
    for (uint64_t i = 0; i < n; i++)
        if (off[i] > off[i + 1])
            return -1;
    return 0;
}

static int check_ids(const uint32_t *ids, uint64_t n, uint64_t limit)
{
    uint32_t bad = 0;
    for (uint64_t i = 0; i < n; i++)
        bad |= ids[i] >= limit;
    return bad ? -1 : 0;
}

static int check_hash(const uint32_t *tab, uint64_t slots, uint64_t n)
{
    if (slots == 0 ? n != 0 : (slots & (slots - 1)) != 0 || slots < n + 1)
        return -1;
    for (uint64_t i = 0; i < slots; i++)
        if (tab[i] > n)
            return -1;
    return 0;
}

static int load_attrs(struct jc_catalog *c, const char *path, int ent)
{
    uint64_t n = ent == JC_ENT_ITEM ? c->hdr->n_item_attrs : c->hdr->n_user_attrs;
    uint64_t n_ent = ent == JC_ENT_ITEM ? c->hdr->n_items : c->hdr->n_users;
    if (n > CAT_MAX_ATTRS)
        return corrupt(path, "too many attributes");
    const struct cat_attr_meta *meta;
    int rc = get_section(c, path, ent == JC_ENT_ITEM ? SEC_ITEM_ATTR_META : SEC_USER_ATTR_META,
                         sizeof *meta, n, (const void **)&meta, NULL);
    if (rc)
        return rc;
    if (n == 0)
        return JC_OK;
    c->attrs[ent] = jc_calloc(n, sizeof(struct attr_col));
    if (c->attrs[ent] == NULL)
        return JC_ENOMEM;
    c->n_attrs[ent] = (uint32_t)n;
    for (uint64_t a = 0; a < n; a++) {
        struct attr_col *col = &c->attrs[ent][a];
        if (meta[a].name_off >= c->strings_len ||
            (meta[a].type != JC_ATTR_NUM && meta[a].type != JC_ATTR_STR))
            return corrupt(path, "bad attribute descriptor");
        col->name = c->strings + meta[a].name_off;
        col->type = meta[a].type;
        uint32_t id = (ent == JC_ENT_ITEM ? SEC_ITEM_ATTR_BASE : SEC_USER_ATTR_BASE) + (uint32_t)a;
        if (col->type == JC_ATTR_NUM) {
            rc = get_section(c, path, id, 8, n_ent, (const void **)&col->num, NULL);
        } else {
            rc = get_section(c, path, id, 8, n_ent, (const void **)&col->str, NULL);
            if (rc == JC_OK && check_str_offsets(c, col->str, n_ent))
                rc = corrupt(path, "attribute string offset out of range");
        }
        if (rc)
            return rc;
    }
    return JC_OK;
}

static int validate(struct jc_catalog *c, const char *path)
{
    const struct cat_header *h = c->hdr;
    int rc;
#define SEC(id, type, count, dst)                                                            \
    do {                                                                                     \
        rc = get_section(c, path, (id), sizeof(type), (count), (const void **)&(dst), NULL); \
        if (rc)                                                                              \
            return rc;                                                                       \
    } while (0)
    if (h->n_users > UINT32_MAX || h->n_items > UINT32_MAX || h->n_interactions > UINT32_MAX ||
        h->n_tag_events > UINT32_MAX || h->n_genres > UINT16_MAX || h->n_event_types > 256 ||
        h->n_tag_names > UINT32_MAX)
        return corrupt(path, "counts out of range");
    rc = get_section(c, path, SEC_STRINGS, 1, UINT64_MAX, (const void **)&c->strings,
                     &c->strings_len);
    if (rc)
        return rc;
    if (c->strings_len == 0 || c->strings[c->strings_len - 1] != '\0' || c->strings[0] != '\0')
        return corrupt(path, "string table not terminated");
    SEC(SEC_ITEM_EXT, uint64_t, h->n_items, c->item_ext);
    SEC(SEC_ITEM_TITLE, uint64_t, h->n_items, c->item_title);
    SEC(SEC_ITEM_YEAR, int32_t, h->n_items, c->item_year);
    SEC(SEC_ITEM_GENRE_OFF, uint64_t, h->n_items + 1, c->item_genre_off);
    uint64_t n_genre_refs = c->item_genre_off[h->n_items];
    SEC(SEC_ITEM_GENRES, uint16_t, n_genre_refs, c->item_genres);
    SEC(SEC_USER_EXT, uint64_t, h->n_users, c->user_ext);
    SEC(SEC_GENRE_NAME, uint64_t, h->n_genres, c->genre_name);
    SEC(SEC_EVTYPE_NAME, uint64_t, h->n_event_types, c->evtype_name);
    SEC(SEC_TAG_NAME, uint64_t, h->n_tag_names, c->tag_name);
    SEC(SEC_IX_USER, uint32_t, h->n_interactions, c->ix_user);
    SEC(SEC_IX_ITEM, uint32_t, h->n_interactions, c->ix_item);
    SEC(SEC_IX_VALUE, float, h->n_interactions, c->ix_value);
    SEC(SEC_IX_TIME, int64_t, h->n_interactions, c->ix_time);
    SEC(SEC_IX_TYPE, uint8_t, h->n_interactions, c->ix_type);
    SEC(SEC_USER_OFF, uint64_t, h->n_users + 1, c->user_off);
    SEC(SEC_ITEM_IX_OFF, uint64_t, h->n_items + 1, c->item_ix_off);
    SEC(SEC_ITEM_IX, uint32_t, h->n_interactions, c->item_ix);
    SEC(SEC_TAG_USER, uint32_t, h->n_tag_events, c->tag_user);
    SEC(SEC_TAG_ITEM, uint32_t, h->n_tag_events, c->tag_item);
    SEC(SEC_TAG_ID, uint32_t, h->n_tag_events, c->tag_id);
    SEC(SEC_TAG_TIME, int64_t, h->n_tag_events, c->tag_time);
    SEC(SEC_ITEM_TAG_OFF, uint64_t, h->n_items + 1, c->item_tag_off);
    SEC(SEC_ITEM_HASH, uint32_t, h->item_hash_slots, c->item_hash);
    SEC(SEC_USER_HASH, uint32_t, h->user_hash_slots, c->user_hash);
#undef SEC
    if (check_str_offsets(c, c->item_ext, h->n_items) ||
        check_str_offsets(c, c->item_title, h->n_items) ||
        check_str_offsets(c, c->user_ext, h->n_users) ||
        check_str_offsets(c, c->genre_name, h->n_genres) ||
        check_str_offsets(c, c->evtype_name, h->n_event_types) ||
        check_str_offsets(c, c->tag_name, h->n_tag_names))
        return corrupt(path, "string offset out of range");
    if (check_csr(c->item_genre_off, h->n_items, n_genre_refs) ||
        check_csr(c->user_off, h->n_users, h->n_interactions) ||
        check_csr(c->item_ix_off, h->n_items, h->n_interactions) ||
        check_csr(c->item_tag_off, h->n_items, h->n_tag_events))
        return corrupt(path, "index offsets inconsistent");
    for (uint64_t i = 0; i < n_genre_refs; i++)
        if (c->item_genres[i] >= h->n_genres)
            return corrupt(path, "genre id out of range");
    if (check_ids(c->ix_user, h->n_interactions, h->n_users) ||
        check_ids(c->ix_item, h->n_interactions, h->n_items) ||
        check_ids(c->item_ix, h->n_interactions, h->n_interactions) ||
        check_ids(c->tag_user, h->n_tag_events, h->n_users) ||
        check_ids(c->tag_item, h->n_tag_events, h->n_items) ||
        check_ids(c->tag_id, h->n_tag_events, h->n_tag_names))
        return corrupt(path, "id out of range");
    for (uint64_t i = 0; i < h->n_interactions; i++)
        if (c->ix_type[i] >= h->n_event_types)
            return corrupt(path, "event type out of range");
    if (check_hash(c->item_hash, h->item_hash_slots, h->n_items) ||
        check_hash(c->user_hash, h->user_hash_slots, h->n_users))
        return corrupt(path, "id hash table malformed");
    rc = load_attrs(c, path, JC_ENT_ITEM);
    if (rc == JC_OK)
        rc = load_attrs(c, path, JC_ENT_USER);
    return rc;
}

int jc_catalog_open(struct jc_catalog **out, const char *path)
{
    struct jc_catalog *c = jc_calloc(1, sizeof *c);
    if (c == NULL)
        return JC_ENOMEM;
    int rc = jc_map_open(&c->map, path);
    if (rc) {
        jc_free(c);
        if (rc == JC_ENOTFOUND)
            return jc_err_set(JC_ENOTFOUND, "no catalog at %s (run `junco import` first)", path);
        return rc;
    }
    const struct cat_header *h = c->map.data;
    if (c->map.size < sizeof *h || memcmp(h->magic, CAT_MAGIC, 8) != 0) {
        rc = c->map.size < 8 || memcmp(h->magic, CAT_MAGIC, 8) != 0
                 ? jc_err_set(JC_ECORRUPT, "%s: not a junco catalog (bad magic)", path)
                 : corrupt(path, "truncated header");
        goto fail;
    }
    struct cat_header copy = *h;
    copy.header_checksum = 0;
    if (jc_hash64(&copy, sizeof copy, 0) != h->header_checksum) {
        rc = corrupt(path, "header checksum mismatch");
        goto fail;
    }
    if (h->version != JC_CATALOG_FORMAT_VERSION) {
        rc = jc_err_set(JC_EVERSION, "%s: catalog format version %u, this junco reads %u", path,
                        h->version, JC_CATALOG_FORMAT_VERSION);
        goto fail;
    }
    if (h->file_size != c->map.size) {
        rc = jc_err_set(JC_ECORRUPT,
                        "%s: corrupt catalog: size %zu bytes, expected %llu "
                        "(truncated?)",
                        path, c->map.size, (unsigned long long)h->file_size);
        goto fail;
    }
    if (h->header_size != sizeof *h || h->n_sections > CAT_MAX_SECTIONS ||
        (uint64_t)h->n_sections * sizeof(struct cat_section) > c->map.size - sizeof *h) {
        rc = corrupt(path, "bad section table");
        goto fail;
    }
    if (jc_hash64((const char *)c->map.data + sizeof *h, c->map.size - sizeof *h, 0) !=
        h->body_checksum) {
        rc = corrupt(path, "checksum mismatch");
        goto fail;
    }
    c->hdr = h;
    rc = validate(c, path);
    if (rc)
        goto fail;
    *out = c;
    return JC_OK;
fail:
    jc_catalog_close(c);
    return rc;
}

void jc_catalog_close(struct jc_catalog *c)
{
    if (c == NULL)
        return;
    jc_free(c->attrs[0]);
    jc_free(c->attrs[1]);
    jc_map_close(&c->map);
    jc_free(c);
}

uint32_t jc_catalog_n_users(const struct jc_catalog *c)
{
    return (uint32_t)c->hdr->n_users;
}
uint32_t jc_catalog_n_items(const struct jc_catalog *c)
{
    return (uint32_t)c->hdr->n_items;
}
uint64_t jc_catalog_n_interactions(const struct jc_catalog *c)
{
    return c->hdr->n_interactions;
}
uint32_t jc_catalog_n_genres(const struct jc_catalog *c)
{
    return (uint32_t)c->hdr->n_genres;
}
uint32_t jc_catalog_n_event_types(const struct jc_catalog *c)
{
    return (uint32_t)c->hdr->n_event_types;
}
uint64_t jc_catalog_n_tag_events(const struct jc_catalog *c)
{
    return c->hdr->n_tag_events;
}
uint32_t jc_catalog_n_tag_names(const struct jc_catalog *c)
{
    return (uint32_t)c->hdr->n_tag_names;
}
int64_t jc_catalog_created(const struct jc_catalog *c)
{
    return c->hdr->created;
}
uint64_t jc_catalog_checksum(const struct jc_catalog *c)
{
    return c->hdr->body_checksum;
}

const char *jc_catalog_item_ext_id(const struct jc_catalog *c, uint32_t item)
{
    return c->strings + c->item_ext[item];
}
const char *jc_catalog_item_title(const struct jc_catalog *c, uint32_t item)
{
    return c->strings + c->item_title[item];
}
int32_t jc_catalog_item_year(const struct jc_catalog *c, uint32_t item)
{
    return c->item_year[item];
}
uint32_t jc_catalog_item_genres(const struct jc_catalog *c, uint32_t item, const uint16_t **genres)
{
    uint64_t b = c->item_genre_off[item], e = c->item_genre_off[item + 1];
    *genres = c->item_genres ? c->item_genres + b : NULL;
    return (uint32_t)(e - b);
}
const char *jc_catalog_user_ext_id(const struct jc_catalog *c, uint32_t user)
{
    return c->strings + c->user_ext[user];
}
const char *jc_catalog_genre_name(const struct jc_catalog *c, uint32_t genre)
{
    return genre < c->hdr->n_genres ? c->strings + c->genre_name[genre] : "";
}
const char *jc_catalog_event_type_name(const struct jc_catalog *c, uint32_t type)
{
    return type < c->hdr->n_event_types ? c->strings + c->evtype_name[type] : "";
}
const char *jc_catalog_tag_name(const struct jc_catalog *c, uint32_t tag)
{
    return tag < c->hdr->n_tag_names ? c->strings + c->tag_name[tag] : "";
}

static int hash_find(const struct jc_catalog *c, const uint32_t *tab, uint64_t slots,
                     const uint64_t *ext, const char *key, size_t n, uint32_t *out)
{
    if (slots == 0)
        return 0;
    uint64_t mask = slots - 1;
    for (uint64_t i = jc_hash64(key, n, 0) & mask;; i = (i + 1) & mask) {
        uint32_t v = tab[i];
        if (v == 0)
            return 0;
        const char *s = c->strings + ext[v - 1];
        if (strncmp(s, key, n) == 0 && s[n] == '\0') {
            *out = v - 1;
            return 1;
        }
    }
}

int jc_catalog_find_item(const struct jc_catalog *c, const char *ext, size_t n, uint32_t *out)
{
    return hash_find(c, c->item_hash, c->hdr->item_hash_slots, c->item_ext, ext, n, out);
}

int jc_catalog_find_user(const struct jc_catalog *c, const char *ext, size_t n, uint32_t *out)
{
    return hash_find(c, c->user_hash, c->hdr->user_hash_slots, c->user_ext, ext, n, out);
}

static int find_name(const struct jc_catalog *c, const uint64_t *names, uint64_t count,
                     const char *name, uint32_t *out)
{
    for (uint64_t i = 0; i < count; i++) {
        if (strcmp(c->strings + names[i], name) == 0) {
            *out = (uint32_t)i;
            return 1;
        }
    }
    return 0;
}

int jc_catalog_find_genre(const struct jc_catalog *c, const char *name, uint32_t *out)
{
    return find_name(c, c->genre_name, c->hdr->n_genres, name, out);
}

int jc_catalog_find_event_type(const struct jc_catalog *c, const char *name, uint32_t *out)
{
    return find_name(c, c->evtype_name, c->hdr->n_event_types, name, out);
}

void jc_catalog_interactions(const struct jc_catalog *c, struct jc_interactions *out)
{
    out->user = c->ix_user;
    out->item = c->ix_item;
    out->value = c->ix_value;
    out->time = c->ix_time;
    out->type = c->ix_type;
    out->n = c->hdr->n_interactions;
}

void jc_catalog_user_range(const struct jc_catalog *c, uint32_t user, uint64_t *begin,
                           uint64_t *end)
{
    *begin = c->user_off[user];
    *end = c->user_off[user + 1];
}

uint64_t jc_catalog_item_interactions(const struct jc_catalog *c, uint32_t item,
                                      const uint32_t **positions)
{
    uint64_t b = c->item_ix_off[item], e = c->item_ix_off[item + 1];
    *positions = c->item_ix ? c->item_ix + b : NULL;
    return e - b;
}

uint64_t jc_catalog_item_tags(const struct jc_catalog *c, uint32_t item, const uint32_t **user,
                              const uint32_t **tag, const int64_t **time)
{
    uint64_t b = c->item_tag_off[item], e = c->item_tag_off[item + 1];
    if (e == b) {
        *user = *tag = NULL;
        *time = NULL;
        return 0;
    }
    *user = c->tag_user + b;
    *tag = c->tag_id + b;
    *time = c->tag_time + b;
    return e - b;
}

uint32_t jc_catalog_n_attrs(const struct jc_catalog *c, enum jc_entity ent)
{
    return c->n_attrs[ent];
}

const char *jc_catalog_attr_name(const struct jc_catalog *c, enum jc_entity ent, uint32_t attr)
{
    return attr < c->n_attrs[ent] ? c->attrs[ent][attr].name : "";
}

enum jc_attr_type jc_catalog_attr_type(const struct jc_catalog *c, enum jc_entity ent,
                                       uint32_t attr)
{
    return (enum jc_attr_type)c->attrs[ent][attr].type;
}

int jc_catalog_find_attr(const struct jc_catalog *c, enum jc_entity ent, const char *name,
                         uint32_t *out)
{
    for (uint32_t i = 0; i < c->n_attrs[ent]; i++) {
        if (strcmp(c->attrs[ent][i].name, name) == 0) {
            *out = i;
            return 1;
        }
    }
    return 0;
}

const char *jc_catalog_attr_str(const struct jc_catalog *c, enum jc_entity ent, uint32_t attr,
                                uint32_t id)
{
    if (attr >= c->n_attrs[ent] || c->attrs[ent][attr].type != JC_ATTR_STR)
        return NULL;
    return c->strings + c->attrs[ent][attr].str[id];
}

double jc_catalog_attr_num(const struct jc_catalog *c, enum jc_entity ent, uint32_t attr,
                           uint32_t id)
{
    if (attr >= c->n_attrs[ent] || c->attrs[ent][attr].type != JC_ATTR_NUM)
        return NAN;
    return c->attrs[ent][attr].num[id];
}
