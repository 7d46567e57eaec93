/*
 * hash.c - xxh3 wrappers and the string interning map.
 *
 * The map stores the full 64-bit hash in each slot, so probing compares keys
 * only on a hash match. Hash value 0 marks an empty slot; a real hash of 0 is
 * remapped to 1. The table doubles at 50% load.
 */
#include "hash.h"

#include "alloc.h"
#include <junco/error.h>

#include <string.h>
#include <xxhash.h>

uint64_t jc_hash64(const void *p, size_t n, uint64_t seed)
{
    return XXH3_64bits_withSeed(p, n, seed);
}

int jc_hasher_init(struct jc_hasher *h)
{
    XXH3_state_t *st = XXH3_createState();
    if (st == NULL)
        return jc_err_set(JC_ENOMEM, "out of memory for a hash state");
    XXH3_64bits_reset(st);
    h->state = st;
    return JC_OK;
}

void jc_hasher_update(struct jc_hasher *h, const void *p, size_t n)
{
    XXH3_64bits_update(h->state, p, n);
}

uint64_t jc_hasher_digest(struct jc_hasher *h)
{
    return XXH3_64bits_digest(h->state);
}

void jc_hasher_free(struct jc_hasher *h)
{
    if (h->state)
        XXH3_freeState(h->state);
    h->state = NULL;
}

static uint64_t key_hash(const char *key, size_t n)
{
    uint64_t h = XXH3_64bits(key, n);
    return h ? h : 1;
}

int jc_strmap_init(struct jc_strmap *m, size_t expected_keys)
{
    memset(m, 0, sizeof *m);
    size_t n = 16;
    while (n < expected_keys * 2)
        n <<= 1;
    m->slots = jc_calloc(n, sizeof *m->slots);
    if (m->slots == NULL)
        return JC_ENOMEM;
    m->n_slots = n;
    return JC_OK;
}

void jc_strmap_free(struct jc_strmap *m)
{
    jc_free(m->slots);
    jc_free(m->pool);
    memset(m, 0, sizeof *m);
}

int jc_strmap_get(const struct jc_strmap *m, const char *key, size_t n, uint32_t *value)
{
    uint64_t h = key_hash(key, n);
    size_t mask = m->n_slots - 1;
    for (size_t i = h & mask;; i = (i + 1) & mask) {
        const struct jc_strmap_slot *s = &m->slots[i];
        if (s->hash == 0)
            return 0;
        if (s->hash == h && s->key_len == n && memcmp(m->pool + s->key_off, key, n) == 0) {
            *value = s->value;
            return 1;
        }
    }
}

static int grow(struct jc_strmap *m)
{
    size_t n = m->n_slots * 2;
    struct jc_strmap_slot *ns = jc_calloc(n, sizeof *ns);
    if (ns == NULL)
        return JC_ENOMEM;
    for (size_t i = 0; i < m->n_slots; i++) {
        struct jc_strmap_slot *s = &m->slots[i];
        if (s->hash == 0)
            continue;
        size_t j = s->hash & (n - 1);
        while (ns[j].hash != 0)
            j = (j + 1) & (n - 1);
        ns[j] = *s;
    }
    jc_free(m->slots);
    m->slots = ns;
    m->n_slots = n;
    return JC_OK;
}

int jc_strmap_put(struct jc_strmap *m, const char *key, size_t n, uint32_t value,
                  uint32_t *value_out, int *inserted)
{
    if ((m->n_keys + 1) * 2 > m->n_slots && grow(m) != JC_OK)
        return JC_ENOMEM;
    if (n > UINT32_MAX)
        return jc_err_set(JC_ELIMIT, "key too long");
    uint64_t h = key_hash(key, n);
    size_t mask = m->n_slots - 1;
    size_t i = h & mask;
    for (;; i = (i + 1) & mask) {
        struct jc_strmap_slot *s = &m->slots[i];
        if (s->hash == 0)
            break;
        if (s->hash == h && s->key_len == n && memcmp(m->pool + s->key_off, key, n) == 0) {
            if (value_out)
                *value_out = s->value;
            if (inserted)
                *inserted = 0;
            return JC_OK;
        }
    }
    if (m->pool_len + n > m->pool_cap) {
        size_t cap = m->pool_cap ? m->pool_cap * 2 : 4096;
        while (cap < m->pool_len + n)
            cap *= 2;
        char *np = jc_realloc(m->pool, cap);
        if (np == NULL)
            return JC_ENOMEM;
        m->pool = np;
        m->pool_cap = cap;
    }
    memcpy(m->pool + m->pool_len, key, n);
    struct jc_strmap_slot *s = &m->slots[i];
    s->hash = h;
    s->key_off = m->pool_len;
    s->key_len = (uint32_t)n;
    s->value = value;
    m->pool_len += n;
    m->n_keys++;
    if (value_out)
        *value_out = value;
    if (inserted)
        *inserted = 1;
    return JC_OK;
}
