/*
 * catalog_int.h - the on-disk format of a catalog, shared by the reader
 * (catalog.c) and the writer (catalog_build.c).
 *
 * Layout (all integers little-endian, as on every supported host):
 *   [struct cat_header, 256 bytes]
 *   [section table: n_sections x struct cat_section]
 *   [sections, each starting at a multiple of 64 bytes]
 * header.body_checksum = xxh3-64 of bytes [sizeof header, file_size);
 * header.header_checksum = xxh3-64 of the header with that field zeroed.
 * String sections (JC_SEC_STRINGS) are one blob of NUL-terminated UTF-8
 * strings; "string" columns hold uint64 offsets into it; offset 0 is "".
 * Hash sections are open-addressing tables of uint32 (internal id + 1; 0 is
 * empty) indexed by jc_hash64(ext id, 0) with linear probing.
 */
#ifndef JC_CATALOG_INT_H
#define JC_CATALOG_INT_H

#include <stdint.h>

#define CAT_MAGIC "JUNCOCAT"
#define CAT_ALIGN 64

enum cat_section_id {
    SEC_STRINGS = 1,
    SEC_ITEM_EXT,       /* u64 string offsets [n_items] */
    SEC_ITEM_TITLE,     /* u64 [n_items] */
    SEC_ITEM_YEAR,      /* i32 [n_items] */
    SEC_ITEM_GENRE_OFF, /* u64 [n_items + 1] */
    SEC_ITEM_GENRES,    /* u16 [total genre refs] */
    SEC_USER_EXT,       /* u64 [n_users] */
    SEC_GENRE_NAME,     /* u64 [n_genres] */
    SEC_EVTYPE_NAME,    /* u64 [n_event_types] */
    SEC_TAG_NAME,       /* u64 [n_tag_names] */
    SEC_IX_USER,        /* u32 [n_interactions] */
    SEC_IX_ITEM,        /* u32 [n_interactions] */
    SEC_IX_VALUE,       /* f32 [n_interactions] */
    SEC_IX_TIME,        /* i64 [n_interactions] */
    SEC_IX_TYPE,        /* u8  [n_interactions] */
    SEC_USER_OFF,       /* u64 [n_users + 1] */
    SEC_ITEM_IX_OFF,    /* u64 [n_items + 1] */
    SEC_ITEM_IX,        /* u32 [n_interactions] */
    SEC_TAG_USER,       /* u32 [n_tag_events] */
    SEC_TAG_ITEM,       /* u32 [n_tag_events] */
    SEC_TAG_ID,         /* u32 [n_tag_events] */
    SEC_TAG_TIME,       /* i64 [n_tag_events] */
    SEC_ITEM_TAG_OFF,   /* u64 [n_items + 1] */
    SEC_ITEM_HASH,      /* u32 [item_hash_slots] */
    SEC_USER_HASH,      /* u32 [user_hash_slots] */
    SEC_ITEM_ATTR_META, /* struct cat_attr_meta [n_item_attrs] */
    SEC_USER_ATTR_META, /* struct cat_attr_meta [n_user_attrs] */
    SEC__FIXED_COUNT,
    /* attribute columns: base + attribute index; f64 (NaN = unset) or u64
     * string offsets, per the attribute's type */
    SEC_ITEM_ATTR_BASE = 0x1000,
    SEC_USER_ATTR_BASE = 0x2000,
};

struct cat_header {
    char magic[8];
    uint32_t version;
    uint32_t header_size;
    uint64_t file_size;
    uint64_t body_checksum;
    uint32_t n_sections;
    uint32_t flags;
    uint64_t n_users;
    uint64_t n_items;
    uint64_t n_interactions;
    uint64_t n_genres;
    uint64_t n_event_types;
    uint64_t n_tag_events;
    uint64_t n_tag_names;
    uint64_t n_item_attrs;
    uint64_t n_user_attrs;
    uint64_t item_hash_slots;
    uint64_t user_hash_slots;
    int64_t created;
    uint64_t reserved[14];
    uint64_t header_checksum;
};

struct cat_section {
    uint32_t id;
    uint32_t elem_size;
    uint64_t offset;
    uint64_t size; /* bytes */
};

struct cat_attr_meta {
    uint64_t name_off; /* string offset */
    uint32_t type;     /* enum jc_attr_type */
    uint32_t reserved;
};

_Static_assert(sizeof(struct cat_header) == 256, "catalog header is 256 bytes");
_Static_assert(sizeof(struct cat_section) == 24, "section entry is 24 bytes");

#define CAT_MAX_SECTIONS (SEC__FIXED_COUNT + 2 * 1024)
#define CAT_MAX_ATTRS    1024

#endif
