/*
 * json.c - streaming JSON writer.
 */
#include "json.h"

#include "utf8.h"
#include <junco/error.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void jc_json_init(struct jc_json *j, struct jc_buf *out, int pretty)
{
    memset(j, 0, sizeof *j);
    j->out = out;
    j->pretty = pretty;
}

static void put(struct jc_json *j, const char *s, size_t n)
{
    if (j->err == JC_OK)
        j->err = jc_buf_append(j->out, s, n);
}

static void newline(struct jc_json *j)
{
    if (!j->pretty)
        return;
    put(j, "\n", 1);
    for (int i = 0; i < j->depth; i++)
        put(j, "  ", 2);
}

/* Emits the separator that must precede a new value. */
static void before_value(struct jc_json *j)
{
    if (j->after_key) {
        j->after_key = 0;
        return;
    }
    if (j->depth > 0) {
        if (j->has_items[j->depth - 1])
            put(j, ",", 1);
        j->has_items[j->depth - 1] = 1;
        newline(j);
    }
}

static void open_scope(struct jc_json *j, char c)
{
    before_value(j);
    if (j->depth >= JC_JSON_MAX_DEPTH) {
        if (j->err == JC_OK)
            j->err = jc_err_set(JC_ELIMIT, "JSON nesting deeper than %d", JC_JSON_MAX_DEPTH);
        return;
    }
    put(j, &c, 1);
    j->has_items[j->depth++] = 0;
}

static void close_scope(struct jc_json *j, char c)
{
    if (j->depth == 0) {
        if (j->err == JC_OK)
            j->err = jc_err_set(JC_EINTERNAL, "JSON writer: unbalanced close");
        return;
    }
    int had = j->has_items[--j->depth];
    if (had)
        newline(j);
    put(j, &c, 1);
}

void jc_json_obj_begin(struct jc_json *j)
{
    open_scope(j, '{');
}
void jc_json_obj_end(struct jc_json *j)
{
    close_scope(j, '}');
}
void jc_json_arr_begin(struct jc_json *j)
{
    open_scope(j, '[');
}
void jc_json_arr_end(struct jc_json *j)
{
    close_scope(j, ']');
}

int jc_json_escape(struct jc_buf *b, const char *s, size_t n)
{
    static const char hex[] = "0123456789abcdef";
    size_t start = 0;
    int rc = JC_OK;
    for (size_t i = 0; i < n && rc == JC_OK;) {
        unsigned char c = (unsigned char)s[i];
        const char *esc = NULL;
        char ubuf[7];
        size_t adv = 1;
        if (c == '"')
            esc = "\\\"";
        else if (c == '\\')
            esc = "\\\\";
        else if (c == '\n')
            esc = "\\n";
        else if (c == '\r')
            esc = "\\r";
        else if (c == '\t')
            esc = "\\t";
        else if (c < 0x20) {
            ubuf[0] = '\\';
            ubuf[1] = 'u';
            ubuf[2] = '0';
            ubuf[3] = '0';
            ubuf[4] = hex[c >> 4];
            ubuf[5] = hex[c & 15];
            ubuf[6] = '\0';
            esc = ubuf;
        } else if (c >= 0x80) {
            size_t len = jc_utf8_seq_len(s + i, n - i);
            if (len == 0)
                esc = "\\ufffd";
            else
                adv = len;
        }
        if (esc) {
            rc = jc_buf_append(b, s + start, i - start);
            if (rc == JC_OK)
                rc = jc_buf_append_str(b, esc);
            i += adv;
            start = i;
        } else {
            i += adv;
        }
    }
    if (rc == JC_OK)
        rc = jc_buf_append(b, s + start, n - start);
    return rc;
}

void jc_json_key(struct jc_json *j, const char *key)
{
    before_value(j);
    put(j, "\"", 1);
    if (j->err == JC_OK)
        j->err = jc_json_escape(j->out, key, strlen(key));
    put(j, j->pretty ? "\": " : "\":", j->pretty ? 3 : 2);
    j->after_key = 1;
}

void jc_json_strn(struct jc_json *j, const char *s, size_t n)
{
    before_value(j);
    put(j, "\"", 1);
    if (j->err == JC_OK)
        j->err = jc_json_escape(j->out, s, n);
    put(j, "\"", 1);
}

void jc_json_str(struct jc_json *j, const char *s)
{
    if (s == NULL)
        jc_json_null(j);
    else
        jc_json_strn(j, s, strlen(s));
}

void jc_json_int(struct jc_json *j, int64_t v)
{
    char tmp[32];
    int n = snprintf(tmp, sizeof tmp, "%lld", (long long)v);
    before_value(j);
    put(j, tmp, (size_t)n);
}

void jc_json_uint(struct jc_json *j, uint64_t v)
{
    char tmp[32];
    int n = snprintf(tmp, sizeof tmp, "%llu", (unsigned long long)v);
    before_value(j);
    put(j, tmp, (size_t)n);
}

int jc_json_fmt_double(char *out, size_t cap, double v)
{
    if (!isfinite(v))
        return snprintf(out, cap, "null");
    int n = snprintf(out, cap, "%.15g", v);
    if (strtod(out, NULL) != v)
        n = snprintf(out, cap, "%.17g", v);
    return n;
}

void jc_json_double(struct jc_json *j, double v)
{
    char tmp[40];
    int n = jc_json_fmt_double(tmp, sizeof tmp, v);
    before_value(j);
    put(j, tmp, (size_t)n);
}

void jc_json_bool(struct jc_json *j, int v)
{
    before_value(j);
    put(j, v ? "true" : "false", v ? 4 : 5);
}

void jc_json_null(struct jc_json *j)
{
    before_value(j);
    put(j, "null", 4);
}

void jc_json_raw(struct jc_json *j, const char *json, size_t n)
{
    before_value(j);
    put(j, json, n);
}

void jc_json_kv_str(struct jc_json *j, const char *key, const char *v)
{
    jc_json_key(j, key);
    jc_json_str(j, v);
}

void jc_json_kv_int(struct jc_json *j, const char *key, int64_t v)
{
    jc_json_key(j, key);
    jc_json_int(j, v);
}

void jc_json_kv_double(struct jc_json *j, const char *key, double v)
{
    jc_json_key(j, key);
    jc_json_double(j, v);
}

void jc_json_kv_bool(struct jc_json *j, const char *key, int v)
{
    jc_json_key(j, key);
    jc_json_bool(j, v);
}

int jc_json_finish(struct jc_json *j)
{
    if (j->err == JC_OK && j->depth != 0)
        j->err = jc_err_set(JC_EINTERNAL, "JSON writer: %d scope(s) left open", j->depth);
    if (j->pretty)
        put(j, "\n", 1);
    return j->err;
}
