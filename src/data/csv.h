/*
 * csv.h - a fast reader of delimited text (CSV per RFC 4180, TSV, '|').
 *
 * The reader walks a memory buffer (usually a mapped file) and yields one
 * record at a time as (pointer, length) fields. Unquoted fields point into
 * the input; quoted fields ("a ""b"", c") are unescaped into a per-reader
 * scratch buffer, so field pointers stay valid only until the next call.
 * Quoted fields may span lines. With quoting off, '"' is an ordinary byte
 * (the MovieLens 100K/1M files). A UTF-8 byte-order mark at the start is
 * skipped; "\r\n" and "\n" both end records; blank lines are skipped.
 *
 * Errors (JC_EPARSE with "line N: ..." in the message): an unterminated
 * quote, a stray quote in an unquoted field, garbage after a closing quote,
 * more than JC_CSV_MAX_FIELDS fields. After an error the reader resumes at
 * the next line, so callers may skip bad records.
 * One reader per thread; the input buffer must outlive the reader.
 */
#ifndef JC_CSV_H
#define JC_CSV_H

#include <stddef.h>
#include <stdint.h>

#define JC_CSV_MAX_FIELDS 256

struct jc_csv_field {
    const char *p;
    size_t n;
};

struct jc_csv {
    const char *p;   /* next unread byte */
    const char *end; /* end of input */
    const char *begin;
    char sep;
    int quoting;
    uint64_t line;        /* line number (1-based) of the next record */
    uint64_t record_line; /* line of the record just returned */
    size_t n_fields;
    struct jc_csv_field f[JC_CSV_MAX_FIELDS];
    char *scratch; /* owned: unescaped quoted fields */
    size_t scratch_cap;
    /* bitmask of "special" bytes (separator, CR, LF, quote) of the 64-byte
     * block starting at blk: the unquoted path jumps between them */
    const char *blk;
    uint64_t blk_mask;
};

void jc_csv_init(struct jc_csv *r, const char *data, size_t len, char sep, int quoting);
void jc_csv_free(struct jc_csv *r);
/* 1: a record is in r->f[0..n_fields); 0: end of input; <0: error code
 * (the message names the line). */
int jc_csv_next(struct jc_csv *r);
/* Bytes consumed so far (for progress). */
static inline uint64_t jc_csv_offset(const struct jc_csv *r)
{
    return (uint64_t)(r->p - r->begin);
}
/* Index of the field equal to name (exact match) or -1. */
int jc_csv_find_field(const struct jc_csv *r, const char *name);

#endif
