/*
 * rng.h - the randomness module: seeded, explicit, splittable.
 *
 * Every random choice in junco takes a struct jc_rng passed explicitly; there
 * is no global generator. The generator is xoshiro256** seeded through
 * splitmix64, so any 64-bit seed gives a good state. jc_rng_stream derives
 * independent per-thread streams from one seed (stream i of seed s is always
 * the same sequence), which is how multi-threaded jobs stay deterministic.
 * A jc_rng is a plain value: copy it to fork, never share it across threads.
 */
#ifndef JC_RNG_H
#define JC_RNG_H

#include <stdint.h>

struct jc_rng {
    uint64_t s[4];
};

void jc_rng_seed(struct jc_rng *r, uint64_t seed);
/* Stream `stream` of `seed`: independent of other streams of the same seed. */
void jc_rng_stream(struct jc_rng *r, uint64_t seed, uint64_t stream);

static inline uint64_t jc_rng__rotl(uint64_t x, int k)
{
    return (x << k) | (x >> (64 - k));
}

static inline uint64_t jc_rng_u64(struct jc_rng *r)
{
    uint64_t *s = r->s;
    uint64_t result = jc_rng__rotl(s[1] * 5, 7) * 9;
    uint64_t t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = jc_rng__rotl(s[3], 45);
    return result;
}

static inline uint32_t jc_rng_u32(struct jc_rng *r)
{
    return (uint32_t)(jc_rng_u64(r) >> 32);
}

/* Uniform in [0, n) without modulo bias (Lemire); n must be > 0. */
static inline uint64_t jc_rng_below(struct jc_rng *r, uint64_t n)
{
    unsigned __int128 m = (unsigned __int128)jc_rng_u64(r) * n;
    uint64_t l = (uint64_t)m;
    if (l < n) {
        uint64_t t = -n % n;
        while (l < t) {
            m = (unsigned __int128)jc_rng_u64(r) * n;
            l = (uint64_t)m;
        }
    }
    return (uint64_t)(m >> 64);
}

/* Uniform double in [0, 1) with 53 random bits. */
static inline double jc_rng_double(struct jc_rng *r)
{
    return (double)(jc_rng_u64(r) >> 11) * 0x1.0p-53;
}

/* Uniform float in [0, 1) with 24 random bits. */
static inline float jc_rng_float(struct jc_rng *r)
{
    return (float)(jc_rng_u64(r) >> 40) * 0x1.0p-24f;
}

/* Standard normal (Box-Muller, one value per call; deterministic). */
double jc_rng_normal(struct jc_rng *r);

/* Gamma(shape, 1) for shape > 0 (Marsaglia-Tsang). */
double jc_rng_gamma(struct jc_rng *r, double shape);

/* Fisher-Yates shuffle of n uint32 values. */
void jc_rng_shuffle_u32(struct jc_rng *r, uint32_t *a, uint64_t n);

/* splitmix64 step, also useful as a cheap integer mixer. */
uint64_t jc_splitmix64(uint64_t *state);

#endif
