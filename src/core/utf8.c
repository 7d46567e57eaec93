/*
 * utf8.c - strict UTF-8 validation (RFC 3629) and Latin-1 decoding.
 */
#include "utf8.h"

#include <junco/error.h>

#include <stdint.h>

size_t jc_utf8_seq_len(const char *s, size_t n)
{
    const unsigned char *p = (const unsigned char *)s;
    if (n == 0)
        return 0;
    unsigned char c = p[0];
    if (c < 0x80)
        return 1;
    if (c >= 0xc2 && c <= 0xdf)
        return n >= 2 && (p[1] & 0xc0) == 0x80 ? 2 : 0;
    if (c >= 0xe0 && c <= 0xef) {
        if (n < 3 || (p[1] & 0xc0) != 0x80 || (p[2] & 0xc0) != 0x80)
            return 0;
        if (c == 0xe0 && p[1] < 0xa0)
            return 0; /* overlong */
        if (c == 0xed && p[1] >= 0xa0)
            return 0; /* surrogate */
        return 3;
    }
    if (c >= 0xf0 && c <= 0xf4) {
        if (n < 4 || (p[1] & 0xc0) != 0x80 || (p[2] & 0xc0) != 0x80 || (p[3] & 0xc0) != 0x80)
            return 0;
        if (c == 0xf0 && p[1] < 0x90)
            return 0; /* overlong */
        if (c == 0xf4 && p[1] >= 0x90)
            return 0; /* > U+10FFFF */
        return 4;
    }
    return 0;
}

int jc_utf8_valid(const char *s, size_t n, size_t *bad_off)
{
    size_t i = 0;
    while (i < n) {
        /* ASCII fast path, 8 bytes at a time. */
        while (i + 8 <= n) {
            uint64_t w;
            __builtin_memcpy(&w, s + i, 8);
            if (w & 0x8080808080808080ull)
                break;
            i += 8;
        }
        if (i >= n)
            break;
        size_t len = jc_utf8_seq_len(s + i, n - i);
        if (len == 0) {
            if (bad_off)
                *bad_off = i;
            return 0;
        }
        i += len;
    }
    return 1;
}

int jc_latin1_to_utf8(struct jc_buf *b, const char *s, size_t n)
{
    int rc = jc_buf_reserve(b, n * 2);
    if (rc)
        return rc;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c < 0x80) {
            b->data[b->len++] = (char)c;
        } else {
            b->data[b->len++] = (char)(0xc0 | (c >> 6));
            b->data[b->len++] = (char)(0x80 | (c & 0x3f));
        }
    }
    b->data[b->len] = '\0';
    return JC_OK;
}
