/*
 * parse.c - checked number parsing.
 *
 * Integers are parsed by hand (overflow-checked). Floats take a fast path for
 * plain decimals with at most 15 significant digits and a small exponent,
 * where mantissa / 10^k is exactly rounded in double arithmetic (both
 * operands are exact, one division rounds once); everything else goes to
 * strtod on a bounded copy.
 */
#include "parse.h"

#include <junco/error.h>

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static int parse_digits_u64(const char *s, size_t n, uint64_t *out)
{
    if (n == 0)
        return JC_EPARSE;
    uint64_t v = 0;
    if (n <= 19) {
        /* at most 19 digits cannot overflow 64 bits: no per-digit check */
        for (size_t i = 0; i < n; i++) {
            unsigned d = (unsigned)(unsigned char)s[i] - '0';
            if (d > 9)
                return JC_EPARSE;
            v = v * 10 + d;
        }
        *out = v;
        return JC_OK;
    }
    for (size_t i = 0; i < n; i++) {
        unsigned d = (unsigned)(unsigned char)s[i] - '0';
        if (d > 9)
            return JC_EPARSE;
        if (v > (UINT64_MAX - d) / 10)
            return JC_ERANGE;
        v = v * 10 + d;
    }
    *out = v;
    return JC_OK;
}

int jc_parse_u64(const char *s, size_t n, uint64_t *out)
{
    if (n > 0 && s[0] == '+') {
        s++;
        n--;
    }
    return parse_digits_u64(s, n, out);
}

int jc_parse_i64(const char *s, size_t n, int64_t *out)
{
    int neg = 0;
    if (n > 0 && (s[0] == '-' || s[0] == '+')) {
        neg = s[0] == '-';
        s++;
        n--;
    }
    uint64_t v;
    int rc = parse_digits_u64(s, n, &v);
    if (rc)
        return rc;
    if (neg) {
        if (v > (uint64_t)INT64_MAX + 1)
            return JC_ERANGE;
        *out = v == (uint64_t)INT64_MAX + 1 ? INT64_MIN : -(int64_t)v;
    } else {
        if (v > (uint64_t)INT64_MAX)
            return JC_ERANGE;
        *out = (int64_t)v;
    }
    return JC_OK;
}

int jc_parse_i32(const char *s, size_t n, int32_t *out)
{
    int64_t v;
    int rc = jc_parse_i64(s, n, &v);
    if (rc)
        return rc;
    if (v < INT32_MIN || v > INT32_MAX)
        return JC_ERANGE;
    *out = (int32_t)v;
    return JC_OK;
}

int jc_parse_u32(const char *s, size_t n, uint32_t *out)
{
    uint64_t v;
    int rc = jc_parse_u64(s, n, &v);
    if (rc)
        return rc;
    if (v > UINT32_MAX)
        return JC_ERANGE;
    *out = (uint32_t)v;
    return JC_OK;
}

static const double pow10_tab[] = {1e0,  1e1,  1e2,  1e3,  1e4,  1e5,  1e6,  1e7,
                                   1e8,  1e9,  1e10, 1e11, 1e12, 1e13, 1e14, 1e15,
                                   1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22};

/* Fast path: [+-]digits[.digits] with <= 15 significant digits. Returns 1 if
 * handled (result in *out), 0 to fall back, -1 on a definite syntax error. */
static int parse_f64_fast(const char *s, size_t n, double *out)
{
    size_t i = 0;
    int neg = 0;
    if (i < n && (s[i] == '-' || s[i] == '+')) {
        neg = s[i] == '-';
        i++;
    }
    uint64_t mant = 0;
    int digits = 0, frac = 0, seen_digit = 0, seen_dot = 0;
    for (; i < n; i++) {
        char c = s[i];
        if (c >= '0' && c <= '9') {
            seen_digit = 1;
            if (mant == 0 && c == '0') {
                if (seen_dot)
                    frac++;
                continue;
            }
            if (++digits > 15)
                return 0;
            mant = mant * 10 + (uint64_t)(c - '0');
            if (seen_dot)
                frac++;
        } else if (c == '.' && !seen_dot) {
            seen_dot = 1;
        } else {
            return 0; /* exponent or garbage: let strtod decide */
        }
    }
    if (!seen_digit)
        return -1;
    if (frac > 22)
        return 0;
    double v = (double)mant / pow10_tab[frac];
    *out = neg ? -v : v;
    return 1;
}

int jc_parse_f64(const char *s, size_t n, double *out)
{
    if (n == 0)
        return JC_EPARSE;
    int fast = parse_f64_fast(s, n, out);
    if (fast == 1)
        return JC_OK;
    if (fast < 0)
        return JC_EPARSE;
    char tmp[128];
    if (n >= sizeof tmp)
        return JC_EPARSE;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        /* Only the characters of a decimal float: keeps out "nan", "inf",
         * hex floats and embedded spaces or NULs. */
        if (!((c >= '0' && c <= '9') || c == '.' || c == '-' || c == '+' || c == 'e' || c == 'E'))
            return JC_EPARSE;
        tmp[i] = c;
    }
    tmp[n] = '\0';
    char *end;
    errno = 0;
    double v = strtod(tmp, &end);
    if (end != tmp + n)
        return JC_EPARSE;
    if (errno == ERANGE && (v == HUGE_VAL || v == -HUGE_VAL))
        return JC_ERANGE;
    if (!isfinite(v))
        return JC_ERANGE;
    *out = v;
    return JC_OK;
}

int jc_parse_f32(const char *s, size_t n, float *out)
{
    double v;
    int rc = jc_parse_f64(s, n, &v);
    if (rc)
        return rc;
    if (v > 3.4028234663852886e38 || v < -3.4028234663852886e38)
        return JC_ERANGE;
    *out = (float)v;
    return JC_OK;
}

int jc_parse_bool(const char *s, size_t n, int *out)
{
    static const char *const t[] = {"1", "true", "yes", "on"};
    static const char *const f[] = {"0", "false", "no", "off"};
    for (int i = 0; i < 4; i++) {
        if (strlen(t[i]) == n && strncasecmp(s, t[i], n) == 0) {
            *out = 1;
            return JC_OK;
        }
        if (strlen(f[i]) == n && strncasecmp(s, f[i], n) == 0) {
            *out = 0;
            return JC_OK;
        }
    }
    return JC_EPARSE;
}

int jc_parse_size(const char *s, size_t n, uint64_t *out)
{
    uint64_t mult = 1;
    if (n > 0) {
        switch (s[n - 1]) {
        case 'k':
        case 'K':
            mult = 1ull << 10;
            break;
        case 'm':
        case 'M':
            mult = 1ull << 20;
            break;
        case 'g':
        case 'G':
            mult = 1ull << 30;
            break;
        case 't':
        case 'T':
            mult = 1ull << 40;
            break;
        default:
            break;
        }
        if (mult != 1)
            n--;
    }
    uint64_t v;
    int rc = jc_parse_u64(s, n, &v);
    if (rc)
        return rc;
    if (v > UINT64_MAX / mult)
        return JC_ERANGE;
    *out = v * mult;
    return JC_OK;
}

int jc_parse_i64_str(const char *s, int64_t *out)
{
    return jc_parse_i64(s, strlen(s), out);
}

int jc_parse_f64_str(const char *s, double *out)
{
    return jc_parse_f64(s, strlen(s), out);
}

void jc_trim(const char **s, size_t *n)
{
    const char *p = *s;
    size_t len = *n;
    while (len > 0 && (p[0] == ' ' || p[0] == '\t')) {
        p++;
        len--;
    }
    while (len > 0 && (p[len - 1] == ' ' || p[len - 1] == '\t'))
        len--;
    *s = p;
    *n = len;
}
