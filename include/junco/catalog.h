/*
 * junco/catalog.h - the data catalog: items, users and their interactions.
 *
 * A catalog is one binary file (<home>/catalog/catalog.jcat) that is mapped
 * read-only into memory; opening it costs one checksum pass and no parsing.
 * It holds:
 *   - items: external id, title, release year, genres, tags, and named
 *     string/number attributes (imdbId, tmdbId, ...);
 *   - users: external id and named attributes (age, gender, ...);
 *   - interactions: (user, item, value, timestamp, event type) in
 *     struct-of-arrays form, sorted by user, then time, then item (the
 *     by-user, time-ordered index is a CSR offset array), plus a by-item
 *     index (interaction positions per item, ordered by time);
 *   - tag events (user, item, tag, timestamp), ordered by item then time.
 * Internal ids are dense: users 0..n_users-1 and items 0..n_items-1, in order
 * of first appearance in the imported data.
 *
 * The file starts with a magic, a format version and checksums of the header
 * and the body; every section is bounds- and range-checked on open, so a
 * truncated, corrupt or hostile file fails with JC_ECORRUPT and a message,
 * never a crash. Catalogs are written only through a jc_catalog_builder,
 * atomically (temporary file, fsync, rename).
 *
 * Threading: an open catalog is immutable; any number of threads may read it.
 * Pointers returned by accessors point into the mapping and stay valid until
 * jc_catalog_close. Limits: < 2^32 users, items and interactions.
 */
#ifndef JUNCO_CATALOG_H
#define JUNCO_CATALOG_H

#include <junco/progress_cb.h>

#include <stddef.h>
#include <stdint.h>

#define JC_CATALOG_FORMAT_VERSION 1
#define JC_NO_YEAR                0

struct jc_catalog;
struct jc_catalog_builder;

enum jc_entity { JC_ENT_ITEM = 0, JC_ENT_USER = 1 };
enum jc_attr_type { JC_ATTR_NUM = 1, JC_ATTR_STR = 2 };

/* Built-in event types; catalogs may add custom types after these. */
enum jc_event_type {
    JC_EV_RATING = 0,
    JC_EV_CLICK,
    JC_EV_VIEW,
    JC_EV_LIKE,
    JC_EV_PURCHASE,
    JC_EV_IMPRESSION,
    JC_EV__BUILTIN_COUNT
};
/* Name of a built-in type ("rating", "click", ...), NULL if out of range. */
const char *jc_event_type_builtin_name(int type);

/* ---- reading ---------------------------------------------------------- */

/* Opens and validates a catalog file. Errors: JC_ENOTFOUND, JC_ECORRUPT,
 * JC_EVERSION, JC_EIO. */
int jc_catalog_open(struct jc_catalog **out, const char *path);
void jc_catalog_close(struct jc_catalog *cat);

uint32_t jc_catalog_n_users(const struct jc_catalog *cat);
uint32_t jc_catalog_n_items(const struct jc_catalog *cat);
uint64_t jc_catalog_n_interactions(const struct jc_catalog *cat);
uint32_t jc_catalog_n_genres(const struct jc_catalog *cat);
uint32_t jc_catalog_n_event_types(const struct jc_catalog *cat);
uint64_t jc_catalog_n_tag_events(const struct jc_catalog *cat);
uint32_t jc_catalog_n_tag_names(const struct jc_catalog *cat);
/* Unix time when the catalog was written. */
int64_t jc_catalog_created(const struct jc_catalog *cat);
/* The body checksum (identifies the catalog's content). */
uint64_t jc_catalog_checksum(const struct jc_catalog *cat);

/* Strings are NUL-terminated UTF-8 inside the mapping ("" when absent). */
const char *jc_catalog_item_ext_id(const struct jc_catalog *cat, uint32_t item);
const char *jc_catalog_item_title(const struct jc_catalog *cat, uint32_t item);
int32_t jc_catalog_item_year(const struct jc_catalog *cat, uint32_t item);
/* Genre ids of an item (in source order); returns the count. */
uint32_t jc_catalog_item_genres(const struct jc_catalog *cat, uint32_t item,
                                const uint16_t **genres);
const char *jc_catalog_user_ext_id(const struct jc_catalog *cat, uint32_t user);
const char *jc_catalog_genre_name(const struct jc_catalog *cat, uint32_t genre);
const char *jc_catalog_event_type_name(const struct jc_catalog *cat, uint32_t type);
const char *jc_catalog_tag_name(const struct jc_catalog *cat, uint32_t tag);

/* External id -> internal id. Return 1 if found (and set *out), else 0. */
int jc_catalog_find_item(const struct jc_catalog *cat, const char *ext, size_t n, uint32_t *out);
int jc_catalog_find_user(const struct jc_catalog *cat, const char *ext, size_t n, uint32_t *out);
int jc_catalog_find_genre(const struct jc_catalog *cat, const char *name, uint32_t *out);
int jc_catalog_find_event_type(const struct jc_catalog *cat, const char *name, uint32_t *out);

/* Interaction columns, each of length n_interactions, in by-user order. */
struct jc_interactions {
    const uint32_t *user;
    const uint32_t *item;
    const float *value;
    const int64_t *time;
    const uint8_t *type;
    uint64_t n;
};
void jc_catalog_interactions(const struct jc_catalog *cat, struct jc_interactions *out);

/* By-user index: the user's interactions are positions [begin, end) of the
 * columns above, ordered by time (ties by item). */
void jc_catalog_user_range(const struct jc_catalog *cat, uint32_t user, uint64_t *begin,
                           uint64_t *end);
/* By-item index: positions of the item's interactions, ordered by time
 * (ties by user); returns the count. */
uint64_t jc_catalog_item_interactions(const struct jc_catalog *cat, uint32_t item,
                                      const uint32_t **positions);

/* Tag events of an item, ordered by time: returns the count and sets the
 * arrays (user, tag id, time), each of that length. */
uint64_t jc_catalog_item_tags(const struct jc_catalog *cat, uint32_t item, const uint32_t **user,
                              const uint32_t **tag, const int64_t **time);

/* Attributes. */
uint32_t jc_catalog_n_attrs(const struct jc_catalog *cat, enum jc_entity ent);
const char *jc_catalog_attr_name(const struct jc_catalog *cat, enum jc_entity ent, uint32_t attr);
enum jc_attr_type jc_catalog_attr_type(const struct jc_catalog *cat, enum jc_entity ent,
                                       uint32_t attr);
/* 1 and *out if the entity has an attribute of that name, else 0. */
int jc_catalog_find_attr(const struct jc_catalog *cat, enum jc_entity ent, const char *name,
                         uint32_t *out);
/* String value ("" when unset); NULL if attr is not a string attribute. */
const char *jc_catalog_attr_str(const struct jc_catalog *cat, enum jc_entity ent, uint32_t attr,
                                uint32_t id);
/* Number value (NaN when unset or not a number attribute). */
double jc_catalog_attr_num(const struct jc_catalog *cat, enum jc_entity ent, uint32_t attr,
                           uint32_t id);

/* ---- building --------------------------------------------------------- */

/* An empty builder; or one holding a copy of an open catalog (for --append). */
int jc_catalog_builder_create(struct jc_catalog_builder **out);
int jc_catalog_builder_from_catalog(struct jc_catalog_builder **out, const struct jc_catalog *cat);
void jc_catalog_builder_destroy(struct jc_catalog_builder *b);

/* Interns an external id; creates the entity if new. *created may be NULL. */
int jc_cb_item(struct jc_catalog_builder *b, const char *ext, size_t n, uint32_t *id, int *created);
int jc_cb_user(struct jc_catalog_builder *b, const char *ext, size_t n, uint32_t *id, int *created);
/* Looks up without creating: 1 if found. */
int jc_cb_find_item(const struct jc_catalog_builder *b, const char *ext, size_t n, uint32_t *id);
int jc_cb_find_user(const struct jc_catalog_builder *b, const char *ext, size_t n, uint32_t *id);
uint32_t jc_cb_n_items(const struct jc_catalog_builder *b);
uint32_t jc_cb_n_users(const struct jc_catalog_builder *b);
uint64_t jc_cb_n_interactions(const struct jc_catalog_builder *b);

/* Item fields; text must be valid UTF-8 (checked: JC_EENCODING). Setting the
 * genres replaces the previous list. */
int jc_cb_item_set_title(struct jc_catalog_builder *b, uint32_t item, const char *title, size_t n);
int jc_cb_item_set_year(struct jc_catalog_builder *b, uint32_t item, int32_t year);
int jc_cb_item_clear_genres(struct jc_catalog_builder *b, uint32_t item);
int jc_cb_item_add_genre(struct jc_catalog_builder *b, uint32_t item, const char *name, size_t n);
/* Named attributes; an attribute's type is fixed by its first use. */
int jc_cb_set_attr_str(struct jc_catalog_builder *b, enum jc_entity ent, uint32_t id,
                       const char *name, const char *value, size_t n);
int jc_cb_set_attr_num(struct jc_catalog_builder *b, enum jc_entity ent, uint32_t id,
                       const char *name, double value);
/* Event type by name (built-ins pre-registered); creates custom types. */
int jc_cb_event_type(struct jc_catalog_builder *b, const char *name, size_t n, uint8_t *type);
int jc_cb_add_interaction(struct jc_catalog_builder *b, uint32_t user, uint32_t item, float value,
                          int64_t time, uint8_t type);
int jc_cb_add_tag(struct jc_catalog_builder *b, uint32_t user, uint32_t item, const char *tag,
                  size_t n, int64_t time);

/* Sorts, builds the indexes and writes the catalog atomically to path. The
 * builder stays usable. On failure the previous file at path is intact. */
int jc_catalog_builder_write(struct jc_catalog_builder *b, const char *path,
                             const struct jc_progress *progress);

#endif
