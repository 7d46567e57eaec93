/*
 * buf.c - growable buffer: geometric growth, capped, always NUL-terminated.
 */
#include "buf.h"

#include "alloc.h"
#include <junco/error.h>

#include <stdio.h>
#include <string.h>

void jc_buf_init(struct jc_buf *b, size_t cap)
{
    b->data = NULL;
    b->len = 0;
    b->alloc = 0;
    b->cap = cap ? cap : JC_BUF_CAP_DEFAULT;
}

void jc_buf_free(struct jc_buf *b)
{
    jc_free(b->data);
    b->data = NULL;
    b->len = b->alloc = 0;
}

void jc_buf_reset(struct jc_buf *b)
{
    b->len = 0;
    if (b->data)
        b->data[0] = '\0';
}

int jc_buf_reserve(struct jc_buf *b, size_t extra)
{
    size_t need;
    if (jc_size_add(b->len, extra, &need) || need > b->cap)
        return jc_err_set(JC_ELIMIT, "buffer limit of %zu bytes exceeded", b->cap);
    if (need + 1 <= b->alloc)
        return JC_OK;
    size_t n = b->alloc ? b->alloc : 64;
    while (n < need + 1)
        n = n > ((size_t)-1) / 2 ? need + 1 : n * 2;
    if (n > b->cap + 1)
        n = b->cap + 1;
    char *d = jc_realloc(b->data, n);
    if (d == NULL)
        return JC_ENOMEM;
    b->data = d;
    b->alloc = n;
    return JC_OK;
}

int jc_buf_append(struct jc_buf *b, const void *p, size_t n)
{
    int rc = jc_buf_reserve(b, n);
    if (rc)
        return rc;
    if (n)
        memcpy(b->data + b->len, p, n);
    b->len += n;
    b->data[b->len] = '\0';
    return JC_OK;
}

int jc_buf_append_str(struct jc_buf *b, const char *s)
{
    return jc_buf_append(b, s, strlen(s));
}

int jc_buf_append_char(struct jc_buf *b, char c)
{
    return jc_buf_append(b, &c, 1);
}

int jc_buf_vprintf(struct jc_buf *b, const char *fmt, va_list ap)
{
    va_list ap2;
    va_copy(ap2, ap);
    char small[256];
    int n = vsnprintf(small, sizeof small, fmt, ap2);
    va_end(ap2);
    if (n < 0)
        return jc_err_set(JC_EINVAL, "bad format string");
    if ((size_t)n < sizeof small)
        return jc_buf_append(b, small, (size_t)n);
    int rc = jc_buf_reserve(b, (size_t)n);
    if (rc)
        return rc;
    vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
    b->len += (size_t)n;
    return JC_OK;
}

int jc_buf_printf(struct jc_buf *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int rc = jc_buf_vprintf(b, fmt, ap);
    va_end(ap);
    return rc;
}

char *jc_buf_detach(struct jc_buf *b, size_t *len_out)
{
    if (b->data == NULL && jc_buf_reserve(b, 0) != JC_OK)
        return NULL;
    if (b->len == 0)
        b->data[0] = '\0';
    char *d = b->data;
    if (len_out)
        *len_out = b->len;
    b->data = NULL;
    b->len = b->alloc = 0;
    return d;
}
