/*
 * blas.c - the only file of junco that calls BLAS.
 *
 * jc_nn_gemm maps the row-major contract of junco/nn.h onto cblas_sgemm
 * (OpenBLAS). OpenBLAS is forced to one thread on first use: junco
 * parallelises at the training level (row shards on src/core/pool.h), and a
 * threaded BLAS inside those workers would oversubscribe the cores.
 */
#include <junco/nn.h>

#include <cblas.h>
#include <stdatomic.h>

/* Declared by OpenBLAS (cblas.h of libopenblas-dev has it, but not every
 * cblas.h does). */
void openblas_set_num_threads(int num_threads);

static atomic_int g_blas_init;
static atomic_ullong g_calls;

static void blas_init_once(void)
{
    if (atomic_load_explicit(&g_blas_init, memory_order_acquire))
        return;
    int expected = 0;
    if (atomic_compare_exchange_strong(&g_blas_init, &expected, 1))
        openblas_set_num_threads(1);
}

void jc_nn_gemm(int ta, int tb, int m, int n, int k, float alpha, const float *A, int lda,
                const float *B, int ldb, float beta, float *C, int ldc)
{
    if (m <= 0 || n <= 0)
        return;
    if (k <= 0) {
        for (int i = 0; i < m; i++)
            for (int j = 0; j < n; j++)
                C[(size_t)i * ldc + j] = beta == 0.0f ? 0.0f : beta * C[(size_t)i * ldc + j];
        return;
    }
    blas_init_once();
    atomic_fetch_add_explicit(&g_calls, 1, memory_order_relaxed);
    cblas_sgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans, m, n,
                k, alpha, A, lda, B, ldb, beta, C, ldc);
}

uint64_t jc_nn_gemm_calls(void)
{
    return atomic_load_explicit(&g_calls, memory_order_relaxed);
}
