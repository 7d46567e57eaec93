/*
 * linalg.c - the only file of the evaluation module that calls LAPACK/BLAS.
 *
 * EASE needs the inverse of a symmetric positive definite Gram matrix. We
 * take OpenBLAS's LAPACK (spotrf + spotri, single precision). Debian's
 * OpenBLAS ships no lapacke.h, so the Fortran prototypes are declared here.
 * LAPACK is column-major; a symmetric matrix is its own transpose, so the
 * row-major buffer is passed as is: the "L" triangle of the column-major
 * view is the upper triangle of the row-major one, and after spotri the
 * result is mirrored so that both triangles hold the inverse.
 * The Gram matrix X^T X is accumulated from dense row blocks with ssyrk
 * into the same triangle. A plain Gauss-Jordan inverse in double backs the
 * tests.
 */
#include "eval/eval_int.h"

#include "core/alloc.h"
#include <junco/error.h>

#include <math.h>
#include <string.h>

/* LAPACK, Fortran ABI (LP64: 32-bit integers in Debian's OpenBLAS). The
 * trailing size_t is gfortran's hidden length of the CHARACTER argument;
 * passing it keeps the call correct under gfortran's tail-call rules. */
extern void spotrf_(const char *uplo, const int *n, float *a, const int *lda, int *info,
                    size_t uplo_len);
extern void spotri_(const char *uplo, const int *n, float *a, const int *lda, int *info,
                    size_t uplo_len);
extern void ssyrk_(const char *uplo, const char *trans, const int *n, const int *k,
                   const float *alpha, const float *a, const int *lda, const float *beta, float *c,
                   const int *ldc, size_t uplo_len, size_t trans_len);

extern void dpotrf_(const char *uplo, const int *n, double *a, const int *lda, int *info,
                    size_t uplo_len);
extern void dpotri_(const char *uplo, const int *n, double *a, const int *lda, int *info,
                    size_t uplo_len);
extern void sgemm_(const char *ta, const char *tb, const int *m, const int *n, const int *k,
                   const float *alpha, const float *a, const int *lda, const float *b,
                   const int *ldb, const float *beta, float *c, const int *ldc, size_t ta_len,
                   size_t tb_len);

int jc_eval__ease_dual(const uint64_t *u_off, const uint32_t *u_idx, uint32_t nu, uint32_t m,
                       double lambda, float *b)
{
    if (nu == 0 || m == 0)
        return JC_OK;
    if (m > 46340 || nu > 46340)
        return jc_err_set(JC_ELIMIT, "linalg: EASE dual form of %u x %u is too large", nu, m);
    size_t un = nu, mn = m;
    float *x = jc_calloc(un * mn, sizeof *x);
    float *y = jc_malloc_array(un * mn, sizeof *y);
    double *k = jc_calloc(un * un, sizeof *k);
    float *kf = jc_malloc_array(un * un, sizeof *kf);
    double *q = jc_malloc_array(mn, sizeof *q);
    int rc = JC_OK;
    if (!x || !y || !k || !kf || !q) {
        rc = JC_ENOMEM;
        goto done;
    }
    for (uint32_t a = 0; a < nu; a++)
        for (uint64_t p = u_off[a]; p < u_off[a + 1]; p++)
            x[(size_t)a * mn + u_idx[p]] = 1.0f;
    /* K = lambda I + X X^T (exact integer counts), lower triangle a >= c */
    for (uint32_t a = 0; a < nu; a++) {
        const float *xa = x + (size_t)a * mn;
        for (uint32_t c = 0; c <= a; c++) {
            double s = 0;
            for (uint64_t p = u_off[c]; p < u_off[c + 1]; p++)
                s += xa[u_idx[p]];
            k[(size_t)a * un + c] = s + (a == c ? lambda : 0.0);
        }
    }
    /* row-major lower = column-major upper */
    int n = (int)nu, info = 0;
    const char up = 'U';
    dpotrf_(&up, &n, k, &n, &info, 1);
    if (info != 0) {
        rc = jc_err_set(JC_EINTERNAL, "linalg: EASE dual Cholesky failed (dpotrf info %d)", info);
        goto done;
    }
    dpotri_(&up, &n, k, &n, &info, 1);
    if (info != 0) {
        rc = jc_err_set(JC_EINTERNAL, "linalg: EASE dual inverse failed (dpotri info %d)", info);
        goto done;
    }
    for (size_t a = 0; a < un; a++)
        for (size_t c = 0; c <= a; c++)
            kf[a * un + c] = kf[c * un + a] = (float)k[a * un + c];
    /* Y = K^-1 X: column-major Yc (m x nu) = Xc (m x nu) * Kinv (nu x nu) */
    const float one = 1.0f, zero = 0.0f;
    const char nn = 'N', tt = 'T';
    int mi = (int)m;
    sgemm_(&nn, &nn, &mi, &n, &n, &one, x, &mi, kf, &n, &zero, y, &mi, 1, 1);
    /* q_j = x_j^T K^-1 x_j in double */
    for (size_t j = 0; j < mn; j++)
        q[j] = 0;
    for (uint32_t a = 0; a < nu; a++)
        for (uint64_t p = u_off[a]; p < u_off[a + 1]; p++)
            q[u_idx[p]] += (double)y[(size_t)a * mn + u_idx[p]];
    /* b = X^T Y (m x m): column-major = Yc * Xc^T */
    sgemm_(&nn, &tt, &mi, &mi, &n, &one, y, &mi, x, &mi, &zero, b, &mi, 1, 1);
    /* P = (I - X^T Y) / lambda; B_ij = -P_ij / P_jj = (X^T Y)_ij / (1 - q_j) */
    for (size_t j = 0; j < mn; j++) {
        double d = 1.0 - q[j];
        if (!(d > 0)) {
            rc = jc_err_set(JC_EINTERNAL, "linalg: EASE dual: diagonal %g of item %zu", d, j);
            goto done;
        }
        q[j] = 1.0 / d;
    }
    for (size_t i = 0; i < mn; i++) {
        float *row = b + i * mn;
        for (size_t j = 0; j < mn; j++)
            row[j] = i == j ? 0.0f : (float)((double)row[j] * q[j]);
    }
done:
    jc_free(x);
    jc_free(y);
    jc_free(k);
    jc_free(kf);
    jc_free(q);
    return rc;
}

int jc_eval__gram_update(const float *x, size_t rows, size_t m, float *g)
{
    if (rows == 0 || m == 0)
        return JC_OK;
    if (m > 46340 || rows > 46340)
        return jc_err_set(JC_ELIMIT, "linalg: Gram update of %zu x %zu is too large", rows, m);
    /* Column-major view: x is A (m x rows, lda m); G += A A^T, lower triangle
     * of the column-major G = upper triangle (j >= i) of the row-major one. */
    int n = (int)m, k = (int)rows;
    const float one = 1.0f;
    const char uplo = 'L', trans = 'N';
    ssyrk_(&uplo, &trans, &n, &k, &one, x, &n, &one, g, &n, 1, 1);
    return JC_OK;
}

int jc_eval__spd_inverse(float *a, size_t n)
{
    if (n == 0)
        return JC_OK;
    if (n > 46340) /* n * n must fit LAPACK's 32-bit int indexing */
        return jc_err_set(JC_ELIMIT, "linalg: matrix of order %zu is too large", n);
    int ni = (int)n, info = 0;
    const char uplo = 'L';
    spotrf_(&uplo, &ni, a, &ni, &info, 1);
    if (info != 0)
        return jc_err_set(JC_EINTERNAL, "linalg: Cholesky factorisation failed (spotrf info %d%s)",
                          info, info > 0 ? ": matrix not positive definite" : "");
    spotri_(&uplo, &ni, a, &ni, &info, 1);
    if (info != 0)
        return jc_err_set(JC_EINTERNAL, "linalg: inverse from Cholesky failed (spotri info %d)",
                          info);
    /* Column-major "L" = row-major upper triangle (j >= i) holds the result. */
    for (size_t i = 0; i < n; i++)
        for (size_t j = i + 1; j < n; j++)
            a[j * n + i] = a[i * n + j];
    return JC_OK;
}

int jc_eval__spd_inverse_ref(const float *a, size_t n, double *out)
{
    double *m = jc_malloc_array(n * n, sizeof *m);
    if (m == NULL)
        return JC_ENOMEM;
    for (size_t i = 0; i < n * n; i++)
        m[i] = a[i];
    for (size_t i = 0; i < n; i++)
        for (size_t j = 0; j < n; j++)
            out[i * n + j] = i == j;
    for (size_t c = 0; c < n; c++) {
        size_t p = c;
        for (size_t r = c + 1; r < n; r++)
            if (fabs(m[r * n + c]) > fabs(m[p * n + c]))
                p = r;
        if (m[p * n + c] == 0) {
            jc_free(m);
            return jc_err_set(JC_EINTERNAL, "linalg: singular matrix");
        }
        if (p != c)
            for (size_t k = 0; k < n; k++) {
                double t = m[c * n + k];
                m[c * n + k] = m[p * n + k];
                m[p * n + k] = t;
                t = out[c * n + k];
                out[c * n + k] = out[p * n + k];
                out[p * n + k] = t;
            }
        double d = m[c * n + c];
        for (size_t k = 0; k < n; k++) {
            m[c * n + k] /= d;
            out[c * n + k] /= d;
        }
        for (size_t r = 0; r < n; r++) {
            if (r == c)
                continue;
            double f = m[r * n + c];
            if (f == 0)
                continue;
            for (size_t k = 0; k < n; k++) {
                m[r * n + k] -= f * m[c * n + k];
                out[r * n + k] -= f * out[c * n + k];
            }
        }
    }
    jc_free(m);
    return JC_OK;
}
