/*
 * buf.h - growable byte buffer with a hard size cap (after curl's dynbuf).
 *
 * A jc_buf is caller-allocated: jc_buf_init(&b, cap) then appends, then
 * jc_buf_free. The data is always NUL-terminated (the NUL is not counted in
 * len), so b.data can be used as a C string when only text was appended.
 * Appending beyond `cap` bytes fails with JC_ELIMIT and leaves the buffer as
 * it was. Not thread-safe; one owner at a time.
 */
#ifndef JC_BUF_H
#define JC_BUF_H

#include <stdarg.h>
#include <stddef.h>

struct jc_buf {
    char *data; /* owned; NULL until the first append */
    size_t len;
    size_t alloc;
    size_t cap; /* maximum len */
};

#define JC_BUF_CAP_DEFAULT ((size_t)1 << 30)

void jc_buf_init(struct jc_buf *b, size_t cap);
void jc_buf_free(struct jc_buf *b);
/* Sets len to 0, keeping the allocation. */
void jc_buf_reset(struct jc_buf *b);
/* Makes room for `extra` more bytes; JC_ELIMIT past cap, JC_ENOMEM. */
int jc_buf_reserve(struct jc_buf *b, size_t extra);
int jc_buf_append(struct jc_buf *b, const void *p, size_t n);
int jc_buf_append_str(struct jc_buf *b, const char *s);
int jc_buf_append_char(struct jc_buf *b, char c);
int jc_buf_printf(struct jc_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
int jc_buf_vprintf(struct jc_buf *b, const char *fmt, va_list ap);
/* Transfers ownership of the data to the caller (free with jc_free); the
 * buffer is left empty. Never NULL on success (an empty string). */
char *jc_buf_detach(struct jc_buf *b, size_t *len_out);

#endif
