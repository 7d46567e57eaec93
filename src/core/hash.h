/*
 * hash.h - hashing (xxh3) and an interning map from byte strings to dense ids.
 *
 * jc_hash64 is the project's one hash function for keys, feature hashing and
 * file checksums (xxh3-64; stable across versions of libxxhash >= 0.8).
 *
 * struct jc_strmap maps byte strings (not necessarily NUL-terminated) to
 * uint32 values with open addressing and linear probing; keys are copied into
 * an internal pool. Lookup of a present key costs one hash and usually one
 * cache line. Not thread-safe for writers; concurrent readers are fine when
 * nobody writes.
 */
#ifndef JC_HASH_H
#define JC_HASH_H

#include <stddef.h>
#include <stdint.h>

uint64_t jc_hash64(const void *p, size_t n, uint64_t seed);

/* Streaming checksum for files written in pieces. */
struct jc_hasher {
    void *state; /* owned XXH3 state */
};
int jc_hasher_init(struct jc_hasher *h);
void jc_hasher_update(struct jc_hasher *h, const void *p, size_t n);
uint64_t jc_hasher_digest(struct jc_hasher *h);
void jc_hasher_free(struct jc_hasher *h);

struct jc_strmap_slot {
    uint64_t hash; /* 0 = empty */
    uint64_t key_off;
    uint32_t key_len;
    uint32_t value;
};

struct jc_strmap {
    struct jc_strmap_slot *slots; /* owned */
    size_t n_slots;               /* power of two */
    size_t n_keys;
    char *pool; /* owned: concatenated keys */
    size_t pool_len;
    size_t pool_cap;
};

int jc_strmap_init(struct jc_strmap *m, size_t expected_keys);
void jc_strmap_free(struct jc_strmap *m);
/* Returns 1 and sets *value if present, else 0. */
int jc_strmap_get(const struct jc_strmap *m, const char *key, size_t n, uint32_t *value);
/* Inserts key -> value if absent. *inserted (may be NULL) tells which
 * happened; *value_out receives the stored value. JC_ENOMEM on failure. */
int jc_strmap_put(struct jc_strmap *m, const char *key, size_t n, uint32_t value,
                  uint32_t *value_out, int *inserted);

#endif
