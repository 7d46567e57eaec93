/*
 * rng.c - seeding, streams and distributions on top of xoshiro256**.
 *
 * Streams: the stream index is mixed into the seed with splitmix64 before
 * seeding, rather than using jump polynomials; with 256 bits of state the
 * chance that two streams overlap within any practical run is negligible,
 * and deriving stream i costs O(1) regardless of i.
 */
#include "rng.h"

#include <math.h>

uint64_t jc_splitmix64(uint64_t *state)
{
    uint64_t z = (*state += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

void jc_rng_seed(struct jc_rng *r, uint64_t seed)
{
    uint64_t sm = seed;
    for (int i = 0; i < 4; i++)
        r->s[i] = jc_splitmix64(&sm);
    if ((r->s[0] | r->s[1] | r->s[2] | r->s[3]) == 0)
        r->s[0] = 1;
}

void jc_rng_stream(struct jc_rng *r, uint64_t seed, uint64_t stream)
{
    uint64_t sm = stream ^ 0x6a09e667f3bcc909ull;
    uint64_t mix = jc_splitmix64(&sm);
    jc_rng_seed(r, seed ^ mix);
}

double jc_rng_normal(struct jc_rng *r)
{
    double u1 = jc_rng_double(r);
    double u2 = jc_rng_double(r);
    if (u1 < 1e-300)
        u1 = 1e-300;
    return sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2);
}

double jc_rng_gamma(struct jc_rng *r, double shape)
{
    if (shape < 1.0) {
        double u = jc_rng_double(r);
        return jc_rng_gamma(r, shape + 1.0) * pow(u < 1e-300 ? 1e-300 : u, 1.0 / shape);
    }
    double d = shape - 1.0 / 3.0, c = 1.0 / sqrt(9.0 * d);
    for (;;) {
        double x, v;
        do {
            x = jc_rng_normal(r);
            v = 1.0 + c * x;
        } while (v <= 0.0);
        v = v * v * v;
        double u = jc_rng_double(r);
        if (u < 1.0 - 0.0331 * x * x * x * x)
            return d * v;
        if (log(u) < 0.5 * x * x + d * (1.0 - v + log(v)))
            return d * v;
    }
}

void jc_rng_shuffle_u32(struct jc_rng *r, uint32_t *a, uint64_t n)
{
    for (uint64_t i = n; i > 1; i--) {
        uint64_t j = jc_rng_below(r, i);
        uint32_t t = a[i - 1];
        a[i - 1] = a[j];
        a[j] = t;
    }
}
