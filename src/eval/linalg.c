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
