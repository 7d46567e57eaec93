/*
 * json.h - a streaming JSON writer into a jc_buf.
 *
 * Used for every JSON the project emits (CLI --json output, HTTP responses,
 * manifests, reports). Commas and nesting are handled by the writer; strings
 * are escaped (control characters as \u00XX; invalid UTF-8 bytes become
 * U+FFFD, so the output is always valid JSON). Doubles are written in the
 * shortest of %.15g / %.17g that round-trips; non-finite values become null.
 * Errors (buffer cap, nesting deeper than 64) are sticky: check
 * jc_json_finish() once at the end. Parsing JSON is cJSON's job, not this.
 */
#ifndef JC_JSON_H
#define JC_JSON_H

#include "buf.h"

#include <stddef.h>
#include <stdint.h>

#define JC_JSON_MAX_DEPTH 64

struct jc_json {
    struct jc_buf *out; /* borrowed */
    int depth;
    int pretty;
    int err;
    int after_key;
    uint8_t has_items[JC_JSON_MAX_DEPTH];
};

void jc_json_init(struct jc_json *j, struct jc_buf *out, int pretty);
void jc_json_obj_begin(struct jc_json *j);
void jc_json_obj_end(struct jc_json *j);
void jc_json_arr_begin(struct jc_json *j);
void jc_json_arr_end(struct jc_json *j);
void jc_json_key(struct jc_json *j, const char *key);
void jc_json_str(struct jc_json *j, const char *s);
void jc_json_strn(struct jc_json *j, const char *s, size_t n);
void jc_json_int(struct jc_json *j, int64_t v);
void jc_json_uint(struct jc_json *j, uint64_t v);
void jc_json_double(struct jc_json *j, double v);
void jc_json_bool(struct jc_json *j, int v);
void jc_json_null(struct jc_json *j);
/* Appends already-serialised JSON as one value. */
void jc_json_raw(struct jc_json *j, const char *json, size_t n);

/* key + value conveniences */
void jc_json_kv_str(struct jc_json *j, const char *key, const char *v);
void jc_json_kv_int(struct jc_json *j, const char *key, int64_t v);
void jc_json_kv_double(struct jc_json *j, const char *key, double v);
void jc_json_kv_bool(struct jc_json *j, const char *key, int v);

/* Returns the first error (JC_OK if none); adds a trailing newline when
 * pretty. */
int jc_json_finish(struct jc_json *j);

/* Appends the JSON-escaped form of s[0..n) (without quotes) to b. */
int jc_json_escape(struct jc_buf *b, const char *s, size_t n);

/* Formats a double the way the writer does ("null" if non-finite) into out
 * (at least 32 bytes); returns the length. */
int jc_json_fmt_double(char *out, size_t cap, double v);

#endif
