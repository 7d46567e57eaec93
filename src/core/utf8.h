/*
 * utf8.h - UTF-8 validation and Latin-1 conversion for imported text.
 *
 * Importers validate every text field: the catalog stores only valid UTF-8,
 * so every consumer (JSON, HTML, terminals) can trust it. Pure functions.
 */
#ifndef JC_UTF8_H
#define JC_UTF8_H

#include "buf.h"

#include <stddef.h>

/* Length (1-4) of the valid UTF-8 sequence starting at s, or 0 if the bytes
 * there are not valid UTF-8 (overlong forms and surrogates are invalid). */
size_t jc_utf8_seq_len(const char *s, size_t n);

/* 1 if s[0..n) is valid UTF-8; otherwise 0 and *bad_off (may be NULL) gets
 * the offset of the first invalid byte. */
int jc_utf8_valid(const char *s, size_t n, size_t *bad_off);

/* Appends the UTF-8 form of Latin-1 (ISO-8859-1) text to b. */
int jc_latin1_to_utf8(struct jc_buf *b, const char *s, size_t n);

#endif
