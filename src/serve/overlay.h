/*
 * overlay.h - items and users upserted over HTTP (POST /api/v1/items,
 * POST /api/v1/users), and the merged catalog view the server answers from.
 *
 * The catalog file is immutable (mmap-ed, rebuilt only by `junco import`),
 * so new and updated entities live in an overlay: a set of records keyed by
 * external id. An overlay is an immutable, reference-counted version; an
 * upsert builds the next version (records are shared between versions by
 * their own reference counts, so an upsert costs O(overlay entries) pointer
 * copies, not a deep copy), persists it atomically under the data home, and
 * the server publishes a new snapshot over it. A restart loads the file, so
 * upserts survive; a catalog reload re-applies the overlay to the new
 * catalog (an overlay item that the new catalog now contains simply becomes
 * an update of that item).
 *
 * Merge rules (documented for API users in api_write.c as well):
 *   - an item or user is identified by its external id ("id"), the same
 *     string the catalog and the event log use;
 *   - a record names only the fields it sets; a field that is absent keeps
 *     its current value (the overlay's if an earlier upsert set it, else the
 *     catalog's). Item fields: "title" (string), "year" (integer, or null =
 *     no year), "genres" (array of names; [] = none; replaces the whole
 *     list), "attributes" (object of name -> string/number/null, merged key
 *     by key; null clears the attribute, hiding the catalog's value). User
 *     fields: "attributes" only;
 *   - a new item needs a "title"; everything else defaults to empty;
 *   - the overlay wins over the catalog for every field it sets, also after
 *     the catalog is re-imported; genres unknown to the catalog are added
 *     after the catalog's genres (ids n_genres, n_genres + 1, ...);
 *   - rating statistics and histories come from the catalog only: a new item
 *     has no ratings and a new user no history (events posted to
 *     /api/v1/events reach the feature store through the nearline worker,
 *     not the catalog), so a new user gets cold-start recommendations.
 *
 * File <home>/overlay/catalog.jov (written with jc_wfile, atomically):
 *     0  8  magic "JCOVRLAY"
 *     8  u32 format version (1)        12 u32 reserved (0)
 *    16  u64 payload bytes             24 u64 jc_hash64(payload, seed 0)
 *    32  payload: one canonical JSON record per line ("kind":"item"|"user")
 * A bad magic, length or checksum is JC_ECORRUPT, a newer version
 * JC_EVERSION; the server refuses to start rather than drop upserts.
 *
 * The view (struct jc_view) numbers entities densely as the pipeline needs:
 * catalog items keep their ids 0..n_cat_items-1 and overlay items that the
 * catalog does not have follow in overlay order (users likewise). Every
 * serving read of titles, years, genres, attributes and ids goes through
 * the jc_view_* accessors; item genres are precomputed into one CSR array,
 * as hot loops (MMR, genre affinity) read them.
 *
 * Threading: overlays and views are immutable after creation and safe to
 * read from any thread; creation belongs to one thread (the server
 * serialises upserts under its reload mutex).
 */
#ifndef JC_SERVE_OVERLAY_H
#define JC_SERVE_OVERLAY_H

#include "core/hash.h"
#include "serve/rc.h"

#include <junco/catalog.h>

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

struct jc_buf;

#define JC_OV_FORMAT_VERSION 1
#define JC_OV_MAX_ID         255  /* bytes of an external id (as events) */
#define JC_OV_MAX_TITLE      1024 /* bytes of a title */
#define JC_OV_MAX_GENRES     32   /* genres per item */
#define JC_OV_MAX_NAME       64   /* bytes of a genre or attribute name */
#define JC_OV_MAX_ATTRS      32   /* attributes per record */
#define JC_OV_MAX_VALUE      1024 /* bytes of an attribute value */
#define JC_OV_MAX_NEW_GENRES 1024 /* genres the overlay may add */

enum jc_ov_kind { JC_OV_ITEM = 0, JC_OV_USER = 1 };

/* Which fields a record sets. */
#define JC_OV_HAS_TITLE  1u
#define JC_OV_HAS_YEAR   2u
#define JC_OV_HAS_GENRES 4u

struct jc_ov_attr {
    const char *name;
    const char *value; /* "" = cleared */
};

/* One item or user: the merged result of every upsert of that id. One heap
 * block (the strings follow the struct), shared by overlay versions. */
struct jc_ov_rec {
    atomic_long refs;
    enum jc_ov_kind kind;
    unsigned has;        /* JC_OV_HAS_* */
    int32_t year;        /* JC_NO_YEAR when null */
    const char *id;      /* NUL-terminated */
    const char *title;   /* items with JC_OV_HAS_TITLE */
    uint32_t n_genres;   /* with JC_OV_HAS_GENRES */
    const char **genres; /* [n_genres] */
    uint32_t n_attrs;
    struct jc_ov_attr *attrs; /* [n_attrs], sorted by name */
    int64_t updated_ms;       /* Unix ms of the last upsert */
};

void jc_ov_rec_retain(struct jc_ov_rec *r);
void jc_ov_rec_release(struct jc_ov_rec *r);

struct jc_overlay {
    struct jc_rc rc;
    uint64_t version; /* 0 = empty, +1 per applied upsert batch */
    uint32_t n_items, n_users;
    struct jc_ov_rec **items;  /* [n_items], in order of creation */
    struct jc_ov_rec **users;  /* [n_users] */
    struct jc_strmap item_map; /* id -> index in items */
    struct jc_strmap user_map;
};

/* An empty overlay (one reference). JC_ENOMEM only. */
int jc_overlay_create(struct jc_overlay **out);

/*
 * Loads the overlay file at path; a missing file is an empty overlay.
 * Errors: JC_ECORRUPT (magic, length, checksum, a bad record: the message
 * names the file and the line), JC_EVERSION, JC_EIO, JC_ENOMEM.
 */
int jc_overlay_load(struct jc_overlay **out, const char *path);
/* Writes ov atomically to path (parent directories created). JC_EIO /
 * JC_ENOSPACE name the path; the previous file is untouched on failure. */
int jc_overlay_save(const struct jc_overlay *ov, const char *path);
/* Appends the canonical JSON of one record (no newline) to out. */
int jc_ov_rec_write_json(const struct jc_ov_rec *r, struct jc_buf *out);

/* A parsed upsert request: patches (records with only the given fields). */
struct jc_ov_patches {
    size_t n;
    struct jc_ov_rec **recs; /* owned: released by jc_ov_patches_free */
};
void jc_ov_patches_free(struct jc_ov_patches *p);

/*
 * Parses an upsert body: one JSON object or an array of 1..max objects of
 * the given kind (merge rules above). Errors: JC_EPARSE (not JSON; the
 * message gives the byte offset), JC_EINVAL ("record 3 (id 'x'): title: not
 * a string"), JC_ELIMIT (more than max records). Duplicate ids in one body
 * are applied in order.
 */
int jc_ov_parse(enum jc_ov_kind kind, const char *body, size_t len, size_t max,
                struct jc_ov_patches *out);

/*
 * Builds the next version: base with every patch merged in (new ids are
 * appended). created[i] (may be NULL, p->n entries) tells whether patch i
 * created its id. cat (may be NULL) is consulted only for the rule "a new
 * item needs a title": an item the catalog has is an update. max_entries
 * bounds n_items + n_users (JC_ELIMIT naming the limit). now_ms stamps the
 * touched records. Errors: JC_EINVAL (a new item without a title),
 * JC_ELIMIT, JC_ENOMEM; base is never modified.
 */
int jc_overlay_apply(const struct jc_overlay *base, const struct jc_ov_patches *p,
                     const struct jc_catalog *cat, size_t max_entries, int64_t now_ms,
                     struct jc_overlay **out, uint8_t *created);

/* Record lookup by external id, NULL if the overlay does not have it. */
const struct jc_ov_rec *jc_overlay_find(const struct jc_overlay *ov, enum jc_ov_kind kind,
                                        const char *id, size_t n);

/* ---- the merged view --------------------------------------------------------- */

struct jc_view {
    const struct jc_catalog *cat; /* borrowed */
    const struct jc_overlay *ov;  /* borrowed; may be NULL */
    uint32_t cat_items, cat_users, cat_genres;
    uint32_t n_items, n_users, n_genres;
    const struct jc_ov_rec **item_rec; /* [n_items]: overlay record or NULL */
    const struct jc_ov_rec **user_rec; /* [n_users] */
    uint32_t *ov_item_id;              /* [ov->n_items]: dense id of each */
    uint32_t *ov_user_id;              /* [ov->n_users] */
    uint32_t n_extra_genres;
    const char **extra_genres; /* names of genres cat_genres.. (in records) */
    struct jc_strmap extra_genre_map;
    uint64_t *genre_off; /* [n_items + 1] merged item genres (CSR) */
    uint16_t *genres;
};

/* Builds the view of cat with ov (may be NULL). Both must outlive it.
 * Errors: JC_ENOMEM, JC_ELIMIT (more than 65535 genres in total). */
int jc_view_build(struct jc_view *v, const struct jc_catalog *cat, const struct jc_overlay *ov);
void jc_view_free(struct jc_view *v);

/* Accessors; ids must be < n_items / n_users. Returned strings live as long
 * as the view. */
const char *jc_view_item_ext_id(const struct jc_view *v, uint32_t it);
const char *jc_view_item_title(const struct jc_view *v, uint32_t it);
int32_t jc_view_item_year(const struct jc_view *v, uint32_t it);
static inline uint32_t jc_view_item_genres(const struct jc_view *v, uint32_t it, const uint16_t **g)
{
    *g = v->genres + v->genre_off[it];
    return (uint32_t)(v->genre_off[it + 1] - v->genre_off[it]);
}
/* Attribute value ("" when absent or cleared). */
const char *jc_view_item_attr(const struct jc_view *v, uint32_t it, const char *name);
const char *jc_view_user_ext_id(const struct jc_view *v, uint32_t u);
const char *jc_view_genre_name(const struct jc_view *v, uint32_t g);
/* 1 when in the overlay (new or updated). */
int jc_view_item_overlaid(const struct jc_view *v, uint32_t it);
int jc_view_user_overlaid(const struct jc_view *v, uint32_t u);

/* External id -> dense id; 1 if found. */
int jc_view_find_item(const struct jc_view *v, const char *ext, size_t n, uint32_t *out);
int jc_view_find_user(const struct jc_view *v, const char *ext, size_t n, uint32_t *out);
int jc_view_find_genre(const struct jc_view *v, const char *name, uint32_t *out);

/* Catalog interactions, empty for entities that exist only in the overlay. */
void jc_view_user_range(const struct jc_view *v, uint32_t u, uint64_t *b, uint64_t *e);
uint64_t jc_view_item_interactions(const struct jc_view *v, uint32_t it, const uint32_t **pos);

/*
 * Calls fn for every attribute of an item or user: the catalog's (string
 * and numeric, numbers formatted with %.17g) overridden and extended by the
 * overlay's, skipping cleared ones; in name order for the overlay part.
 */
void jc_view_attrs(const struct jc_view *v, enum jc_ov_kind kind, uint32_t id,
                   void (*fn)(void *ctx, const char *name, const char *value), void *ctx);

#endif
