/*
 * csv.c - record splitting with RFC 4180 quoting.
 *
 * The unquoted path jumps from one "special" byte (separator, '\n', '\r',
 * '"') to the next using a bitmask of the current 64-byte block, computed 16
 * bytes at a time with SSE2 compares; quoted fields go through a slower path
 * (memchr for the closing quote) that copies into the
 * scratch buffer. Scratch offsets are recorded while the record is parsed
 * and turned into pointers at the end, because the scratch buffer may move
 * when it grows.
 */
#include "csv.h"

#include "core/alloc.h"
#include <junco/error.h>

#include <string.h>
#ifdef __SSE2__
#include <emmintrin.h>
#endif

void jc_csv_init(struct jc_csv *r, const char *data, size_t len, char sep, int quoting)
{
    memset(r, 0, sizeof *r);
    r->p = data;
    r->begin = data;
    r->end = data + len;
    r->sep = sep;
    r->quoting = quoting;
    r->line = 1;
    if (len >= 3 && memcmp(data, "\xEF\xBB\xBF", 3) == 0)
        r->p += 3;
}

/* Bitmask of special bytes in [p, p + n), n <= 64. */
static uint64_t special_mask(const struct jc_csv *r, const char *p, size_t n)
{
    uint64_t m = 0;
#ifdef __SSE2__
    if (n == 64) {
        const __m128i vs = _mm_set1_epi8(r->sep), vn = _mm_set1_epi8('\n');
        const __m128i vr = _mm_set1_epi8('\r');
        const __m128i vq = _mm_set1_epi8(r->quoting ? '"' : r->sep);
        for (int k = 0; k < 4; k++) {
            __m128i x = _mm_loadu_si128((const __m128i *)(const void *)(p + 16 * k));
            __m128i hit = _mm_or_si128(_mm_or_si128(_mm_cmpeq_epi8(x, vs), _mm_cmpeq_epi8(x, vn)),
                                       _mm_or_si128(_mm_cmpeq_epi8(x, vr), _mm_cmpeq_epi8(x, vq)));
            m |= (uint64_t)(uint16_t)_mm_movemask_epi8(hit) << (16 * k);
        }
        return m;
    }
#endif
    for (size_t i = 0; i < n; i++) {
        char c = p[i];
        if (c == r->sep || c == '\n' || c == '\r' || (c == '"' && r->quoting))
            m |= 1ull << i;
    }
    return m;
}

/* The first special byte at or after p, or end. */
static const char *next_special(struct jc_csv *r, const char *p)
{
    for (;;) {
        if (r->blk != NULL && p >= r->blk && p < r->blk + 64) {
            uint64_t m = r->blk_mask >> (p - r->blk);
            if (m)
                return p + __builtin_ctzll(m);
            p = r->blk + 64;
        }
        if (p >= r->end)
            return r->end;
        size_t n = (size_t)(r->end - p) < 64 ? (size_t)(r->end - p) : 64;
        r->blk = p;
        r->blk_mask = special_mask(r, p, n);
    }
}

void jc_csv_free(struct jc_csv *r)
{
    jc_free(r->scratch);
    r->scratch = NULL;
    r->scratch_cap = 0;
}

/* Skips to the start of the next line after an error. */
static void skip_line(struct jc_csv *r)
{
    const char *nl = memchr(r->p, '\n', (size_t)(r->end - r->p));
    if (nl == NULL) {
        r->p = r->end;
    } else {
        r->p = nl + 1;
        r->line++;
    }
}

static int scratch_put(struct jc_csv *r, size_t *len, const char *s, size_t n)
{
    if (n == 0)
        return JC_OK;
    if (*len + n > r->scratch_cap) {
        size_t cap = r->scratch_cap ? r->scratch_cap * 2 : 256;
        while (cap < *len + n)
            cap *= 2;
        char *d = jc_realloc(r->scratch, cap);
        if (d == NULL)
            return JC_ENOMEM;
        r->scratch = d;
        r->scratch_cap = cap;
    }
    memcpy(r->scratch + *len, s, n);
    *len += n;
    return JC_OK;
}

int jc_csv_find_field(const struct jc_csv *r, const char *name)
{
    size_t n = strlen(name);
    for (size_t i = 0; i < r->n_fields; i++)
        if (r->f[i].n == n && memcmp(r->f[i].p, name, n) == 0)
            return (int)i;
    return -1;
}

int jc_csv_next(struct jc_csv *r)
{
    const char *p = r->p, *end = r->end;
    const char sep = r->sep;
    /* skip blank lines */
    while (p < end && (*p == '\n' || *p == '\r')) {
        if (*p == '\n')
            r->line++;
        p++;
    }
    r->p = p;
    if (p >= end)
        return 0;
    r->record_line = r->line;
    size_t nf = 0, scratch_len = 0;
    /* bit i set: field i lives in scratch at offset stored in f[i].p */
    uint64_t in_scratch[JC_CSV_MAX_FIELDS / 64] = {0};
    for (;;) {
        if (nf == JC_CSV_MAX_FIELDS) {
            r->p = p;
            skip_line(r);
            return jc_err_set(JC_EPARSE, "line %llu: more than %d fields",
                              (unsigned long long)r->record_line, JC_CSV_MAX_FIELDS);
        }
        if (r->quoting && p < end && *p == '"') {
            size_t start = scratch_len;
            p++;
            for (;;) {
                const char *q = memchr(p, '"', (size_t)(end - p));
                if (q == NULL) {
                    r->p = end;
                    return jc_err_set(JC_EPARSE, "line %llu: unterminated quoted field",
                                      (unsigned long long)r->record_line);
                }
                for (const char *s = p; s < q; s++)
                    if (*s == '\n')
                        r->line++;
                if (scratch_put(r, &scratch_len, p, (size_t)(q - p)))
                    return JC_ENOMEM;
                if (q + 1 < end && q[1] == '"') {
                    if (scratch_put(r, &scratch_len, "\"", 1))
                        return JC_ENOMEM;
                    p = q + 2;
                    continue;
                }
                p = q + 1;
                break;
            }
            r->f[nf].p = (const char *)(uintptr_t)start;
            r->f[nf].n = scratch_len - start;
            in_scratch[nf / 64] |= 1ull << (nf % 64);
            nf++;
            if (p < end && *p != sep && *p != '\n' && *p != '\r') {
                r->p = p;
                skip_line(r);
                return jc_err_set(JC_EPARSE, "line %llu: unexpected text after a closing quote",
                                  (unsigned long long)r->record_line);
            }
        } else {
            const char *s = p;
            p = next_special(r, p);
            if (p < end && *p == '"') {
                r->p = p;
                skip_line(r);
                return jc_err_set(JC_EPARSE, "line %llu: stray quote in unquoted field %zu",
                                  (unsigned long long)r->record_line, nf + 1);
            }
            r->f[nf].p = s;
            r->f[nf].n = (size_t)(p - s);
            nf++;
        }
        if (p < end && *p == sep) {
            p++;
            continue;
        }
        break;
    }
    /* end of record */
    if (p < end && *p == '\r')
        p++;
    if (p < end && *p == '\n') {
        p++;
        r->line++;
    }
    r->p = p;
    r->n_fields = nf;
    for (size_t i = 0; i < nf; i++)
        if (in_scratch[i / 64] & (1ull << (i % 64)))
            r->f[i].p = r->scratch ? r->scratch + (uintptr_t)r->f[i].p : "";
    return 1;
}
