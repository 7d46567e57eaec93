/*
 * csv.c - record splitting with RFC 4180 quoting.
 *
 * The unquoted path is a tight byte loop that stops at the separator, '\n',
 * '\r' or '"'; quoted fields go through a slower path that copies into the
 * scratch buffer. Scratch offsets are recorded while the record is parsed
 * and turned into pointers at the end, because the scratch buffer may move
 * when it grows.
 */
#include "csv.h"

#include "core/alloc.h"
#include <junco/error.h>

#include <string.h>

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
            while (p < end) {
                char c = *p;
                if (c == sep || c == '\n' || c == '\r')
                    break;
                if (c == '"' && r->quoting) {
                    r->p = p;
                    skip_line(r);
                    return jc_err_set(JC_EPARSE, "line %llu: stray quote in unquoted field %zu",
                                      (unsigned long long)r->record_line, nf + 1);
                }
                p++;
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
