/*
 * parse.h - checked parsing of numbers and flags from text.
 *
 * Numbers that come from users (files, CLI, config, HTTP) are parsed only
 * here. Every function takes a (pointer, length) slice, since CSV fields are
 * not NUL-terminated; the whole slice must be consumed (no leading or trailing
 * garbage, no spaces). Results go through out-parameters, untouched on error.
 * Errors: JC_EPARSE (not a number of that kind), JC_ERANGE (does not fit).
 * These functions do not set the thread's error message (they are on the hot
 * path of the importers); callers add context such as file:line.
 * Pure functions, thread-safe.
 */
#ifndef JC_PARSE_H
#define JC_PARSE_H

#include <stddef.h>
#include <stdint.h>

int jc_parse_i64(const char *s, size_t n, int64_t *out);
int jc_parse_u64(const char *s, size_t n, uint64_t *out);
int jc_parse_i32(const char *s, size_t n, int32_t *out);
int jc_parse_u32(const char *s, size_t n, uint32_t *out);
/* Decimal or scientific notation; "nan" and "inf" are rejected (JC_EPARSE). */
int jc_parse_f64(const char *s, size_t n, double *out);
/* As jc_parse_f64, then JC_ERANGE if the value overflows a float. */
int jc_parse_f32(const char *s, size_t n, float *out);
/* 1/0, true/false, yes/no, on/off (case-insensitive). */
int jc_parse_bool(const char *s, size_t n, int *out);
/* A byte size with an optional K, M, G or T suffix (powers of 1024). */
int jc_parse_size(const char *s, size_t n, uint64_t *out);

/* NUL-terminated conveniences. */
int jc_parse_i64_str(const char *s, int64_t *out);
int jc_parse_f64_str(const char *s, double *out);

/* Trims ASCII spaces and tabs from both ends of a slice, in place. */
void jc_trim(const char **s, size_t *n);

#endif
