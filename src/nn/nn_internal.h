/* SPDX-License-Identifier: MIT */
/* nn_internal.h — private helpers of the nn kernels (never installed): fixed-block partitions for
 * thread-count-independent reductions, and an sgemm wrapper (CBLAS or a naive OpenMP fallback). */
#ifndef GM_NN_INTERNAL_H
#define GM_NN_INTERNAL_H

#include <stddef.h>

#ifdef _OPENMP
#include <omp.h>
#endif

/* Reductions split [0, N) into NB <= GM__NB_MAX fixed blocks that depend on N only; each block is summed
 * (in double) by one thread and the partials are added in block order. */
#define GM__NB_MAX 256
#define GM__BLOCK_MIN 1024
static inline size_t gm__nblocks(size_t N, size_t min_block) {
    size_t nb = (N + min_block - 1) / min_block;
    if (nb > GM__NB_MAX) nb = GM__NB_MAX;
    return nb ? nb : 1;
}
static inline size_t gm__block_lo(size_t N, size_t nb, size_t k) { return (size_t)((unsigned long long)N * k / nb); }

/* Loops shorter than this stay serial (OpenMP start-up costs more than the work). */
#define GM__PAR_MIN 32768

/* C(M,N) = alpha op(A) op(B) + beta C, row-major; lda/ldb/ldc are row strides. */
void gm__sgemm(int transA, int transB, size_t M, size_t N, size_t K, float alpha, const float *A, size_t lda,
               const float *B, size_t ldb, float beta, float *C, size_t ldc);
/* The same product on the calling thread only (for kernels that parallelise over chunks of the batch). */
void gm__sgemm_serial(int transA, int transB, size_t M, size_t N, size_t K, float alpha, const float *A, size_t lda,
                      const float *B, size_t ldb, float beta, float *C, size_t ldc);

#endif
