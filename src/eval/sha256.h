/*
 * sha256.h - SHA-256 (FIPS 180-4) for the manifests of exported files.
 *
 * The project checksums its own files with xxh3 (core/hash.h); manifests
 * that peers read (split exports, benchmark inputs) also carry SHA-256,
 * which every language's standard library can verify. Streaming interface,
 * caller-allocated state, no allocation, pure.
 */
#ifndef JC_EVAL_SHA256_H
#define JC_EVAL_SHA256_H

#include <stddef.h>
#include <stdint.h>

struct jc_sha256 {
    uint32_t h[8];
    uint64_t len; /* bytes hashed so far */
    uint8_t block[64];
    size_t n_block;
};

void jc_sha256_init(struct jc_sha256 *s);
void jc_sha256_update(struct jc_sha256 *s, const void *p, size_t n);
/* Finishes and writes the 32-byte digest; the state must be re-initialised
 * before reuse. */
void jc_sha256_final(struct jc_sha256 *s, uint8_t digest[32]);
/* Lower-case hex of a digest into out (65 bytes, NUL-terminated). */
void jc_sha256_hex(const uint8_t digest[32], char out[65]);

#endif
