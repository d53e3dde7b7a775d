/* SPDX-License-Identifier: MIT */
/* linalg_blas.c — the GEMM/SYRK products of the shared linear algebra (genmix/linalg.h): CBLAS when
 * built with BLAS, naive loops otherwise. The linalg folder owns the dense linear algebra every module
 * uses (products, symmetric eigen, SVD, Cholesky/SPD and LU solves) and the order statistics.
 * Owns nothing. Thread safety: re-entrant; static OpenMP loops over fixed row blocks, each output element
 * computed by one thread (bitwise independent of the thread count).
 *
 * module: linalg (src/linalg/) owns dense linear algebra (GEMM/SYRK products, symmetric eigen, SVD values,
 * Cholesky/SPD and LU solves, each solver with a naive _ref twin), the kernel values (RBF, polynomial) and
 * order statistics (genmix/linalg.h). It uses core only. */
#include "genmix/linalg.h"

#include <string.h>


#ifdef GM_HAVE_BLAS
#include <cblas.h>
#endif
/* ---- GEMM / SYRK ----------------------------------------------------------------------------- */
/* OpenBLAS splits a GEMM among its threads in a way that changes the rounding of some elements with the
 * thread count. To keep results identical for any thread count, every product is cut into fixed
 * blocks of RB output rows, each computed by one single-threaded BLAS call inside our own static
 * OpenMP loop (the OpenMP OpenBLAS runs single-threaded inside a parallel region). With 256-row blocks
 * the speed equals OpenBLAS's own threading. */
#define RB 256
/* OpenBLAS runs a product single-threaded when m·n·k <= 65536·4 (SMP_THRESHOLD_MIN ·
 * GEMM_MULTITHREAD_THRESHOLD); below that our loop stays serial too (no parallel-region overhead, which
 * is large on a loaded machine), above it the blocks run in an active parallel region. */
#define PAR_MNK 262144.0

static size_t nblocks(size_t m) { return (m + RB - 1) / RB; }

void gm_la_dgemm_nt(size_t m, size_t n, size_t k, double alpha, const double *A, const double *B, double beta,
                  double *C) {
    if (m == 0 || n == 0) return;
#pragma omp parallel for schedule(static) if ((double)m * (double)n * (double)k > PAR_MNK)
    for (long b = 0; b < (long)nblocks(m); b++) {
        size_t r0 = (size_t)b * RB, r = m - r0 < RB ? m - r0 : RB;
#ifdef GM_HAVE_BLAS
        cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)r, (int)n, (int)k, alpha, A + r0 * k, (int)k, B,
                    (int)k, beta, C + r0 * n, (int)n);
#else
        for (size_t i = r0; i < r0 + r; i++)
            for (size_t j = 0; j < n; j++) {
                double s = 0;
                for (size_t t = 0; t < k; t++) s += A[i * k + t] * B[j * k + t];
                C[i * n + j] = alpha * s + (beta == 0 ? 0 : beta * C[i * n + j]);
            }
#endif
    }
}

void gm_la_sgemm_nt(size_t m, size_t n, size_t k, const float *A, const float *B, float *C) {
    if (m == 0 || n == 0) return;
#pragma omp parallel for schedule(static) if ((double)m * (double)n * (double)k > PAR_MNK)
    for (long b = 0; b < (long)nblocks(m); b++) {
        size_t r0 = (size_t)b * RB, r = m - r0 < RB ? m - r0 : RB;
#ifdef GM_HAVE_BLAS
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)r, (int)n, (int)k, 1.0f, A + r0 * k, (int)k, B,
                    (int)k, 0.0f, C + r0 * n, (int)n);
#else
        for (size_t i = r0; i < r0 + r; i++)
            for (size_t j = 0; j < n; j++) {
                float s = 0;
                for (size_t t = 0; t < k; t++) s += A[i * k + t] * B[j * k + t];
                C[i * n + j] = s;
            }
#endif
    }
}

void gm_la_dgemm_nn(size_t m, size_t n, size_t k, const double *A, const double *B, double *C) {
    if (m == 0 || n == 0) return;
#pragma omp parallel for schedule(static) if ((double)m * (double)n * (double)k > PAR_MNK)
    for (long b = 0; b < (long)nblocks(m); b++) {
        size_t r0 = (size_t)b * RB, r = m - r0 < RB ? m - r0 : RB;
#ifdef GM_HAVE_BLAS
        cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)r, (int)n, (int)k, 1.0, A + r0 * k, (int)k, B,
                    (int)n, 0.0, C + r0 * n, (int)n);
#else
        for (size_t i = r0; i < r0 + r; i++) {
            double *c = C + i * n;
            for (size_t j = 0; j < n; j++) c[j] = 0;
            for (size_t t = 0; t < k; t++) {
                double a = A[i * k + t];
                const double *bb = B + t * n;
                for (size_t j = 0; j < n; j++) c[j] += a * bb[j];
            }
        }
#endif
    }
}

void gm_la_mirror_upper(double *C, size_t n) {
#pragma omp parallel for schedule(static) if (n >= 512)
    for (long b = 0; b < (long)nblocks(n); b++) /* blocks of rows; each element written once */
        for (size_t i = (size_t)b * RB; i < n && i < (size_t)(b + 1) * RB; i++)
            for (size_t j = 0; j < i; j++) C[i * n + j] = C[j * n + i];
}

/* Upper trapezoid by row blocks: C[I, I0:] = beta C[I, I0:] + A[:, I]^T A[:, I0:] (beta 0: C is not read).
 * The blocks shrink with I: a dynamic schedule (largest first) balances them; each block is two
 * single-threaded calls, so the bits do not depend on it. The diagonal block's upper triangle is one
 * DSYRK (a GEMM of the whole square spent 12% more flops at d = 2048 and 9% more CPU time), the part
 * right of it one GEMM; the lower halves of the diagonal blocks are left as they were (the callers'
 * gm_la_mirror_upper overwrites them). */
static void syrk_tn_upper(size_t n, size_t d, const double *A, double beta, double *C) {
#pragma omp parallel for schedule(dynamic, 1) if ((double)d * (double)d * (double)n > PAR_MNK)
    for (long b = 0; b < (long)nblocks(d); b++) {
        size_t r0 = (size_t)b * RB, r = d - r0 < RB ? d - r0 : RB;
#ifdef GM_HAVE_BLAS
        cblas_dsyrk(CblasRowMajor, CblasUpper, CblasTrans, (int)r, (int)n, 1.0, A + r0, (int)d, beta,
                    C + r0 * d + r0, (int)d);
        if (d > r0 + r)
            cblas_dgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (int)r, (int)(d - r0 - r), (int)n, 1.0, A + r0,
                        (int)d, A + r0 + r, (int)d, beta, C + r0 * d + r0 + r, (int)d);
#else
        for (size_t i = r0; i < r0 + r; i++)
            for (size_t j = r0; j < d; j++) {
                double s = 0;
                for (size_t t = 0; t < n; t++) s += A[t * d + i] * A[t * d + j];
                C[i * d + j] = beta == 0 ? s : beta * C[i * d + j] + s;
            }
#endif
    }
}

void gm_la_dsyrk_tn_add(size_t n, size_t d, const double *A, double *C) { syrk_tn_upper(n, d, A, 1.0, C); }

void gm_la_dsyrk_tn(size_t n, size_t d, const double *A, double *C) {
    syrk_tn_upper(n, d, A, 0.0, C);
    gm_la_mirror_upper(C, d);
}

/* M = L^T S L: first T = L^T S by fixed column blocks (the left product mixes rows), then T L by fixed
 * row blocks, each block one single-threaded triangular product (DTRMM) in place in M. */
void gm_la_dcongruence_lower(size_t d, const double *L, const double *S, double *M) {
    if (d == 0) return;
    memcpy(M, S, d * d * sizeof(double));
#ifdef GM_HAVE_BLAS
    int par = (double)d * (double)d * (double)d > PAR_MNK;
#pragma omp parallel if (par)
    {
#pragma omp for schedule(static)
        for (long b = 0; b < (long)nblocks(d); b++) {
            size_t c0 = (size_t)b * RB, c = d - c0 < RB ? d - c0 : RB;
            cblas_dtrmm(CblasRowMajor, CblasLeft, CblasLower, CblasTrans, CblasNonUnit, (int)d, (int)c, 1.0, L, (int)d,
                        M + c0, (int)d);
        }
#pragma omp for schedule(static)
        for (long b = 0; b < (long)nblocks(d); b++) {
            size_t r0 = (size_t)b * RB, r = d - r0 < RB ? d - r0 : RB;
            cblas_dtrmm(CblasRowMajor, CblasRight, CblasLower, CblasNoTrans, CblasNonUnit, (int)r, (int)d, 1.0, L,
                        (int)d, M + r0 * d, (int)d);
        }
    }
#else
    /* in place, no buffer: row i of L^T S needs only rows k >= i (ascending i), element j of row i of
     * T L only elements k >= j of that row (ascending j) */
    for (size_t i = 0; i < d; i++)
        for (size_t j = 0; j < d; j++) {
            double acc = 0;
            for (size_t k = i; k < d; k++) acc += L[k * d + i] * M[k * d + j];
            M[i * d + j] = acc;
        }
    for (size_t i = 0; i < d; i++)
        for (size_t j = 0; j < d; j++) {
            double acc = 0;
            for (size_t k = j; k < d; k++) acc += M[i * d + k] * L[k * d + j];
            M[i * d + j] = acc;
        }
#endif
}

/* C[I, I0:] = A_I A_{I0:}^T */
void gm_la_dsyrk_nt(size_t n, size_t d, const double *A, double *C) {
#pragma omp parallel for schedule(dynamic, 1) if ((double)n * (double)n * (double)d > PAR_MNK)
    for (long b = 0; b < (long)nblocks(n); b++) {
        size_t r0 = (size_t)b * RB, r = n - r0 < RB ? n - r0 : RB;
#ifdef GM_HAVE_BLAS
        cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)r, (int)(n - r0), (int)d, 1.0, A + r0 * d, (int)d,
                    A + r0 * d, (int)d, 0.0, C + r0 * n + r0, (int)n);
#else
        for (size_t i = r0; i < r0 + r; i++)
            for (size_t j = r0; j < n; j++) {
                double s = 0;
                for (size_t t = 0; t < d; t++) s += A[i * d + t] * A[j * d + t];
                C[i * n + j] = s;
            }
#endif
    }
    gm_la_mirror_upper(C, n);
}

void gm_la_ssyrk_nt(size_t n, size_t d, const float *A, float *C) {
#pragma omp parallel for schedule(dynamic, 1) if ((double)n * (double)n * (double)d > PAR_MNK)
    for (long b = 0; b < (long)nblocks(n); b++) {
        size_t r0 = (size_t)b * RB, r = n - r0 < RB ? n - r0 : RB;
#ifdef GM_HAVE_BLAS
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)r, (int)(n - r0), (int)d, 1.0f, A + r0 * d, (int)d,
                    A + r0 * d, (int)d, 0.0f, C + r0 * n + r0, (int)n);
#else
        for (size_t i = r0; i < r0 + r; i++)
            for (size_t j = r0; j < n; j++) {
                float s = 0;
                for (size_t t = 0; t < d; t++) s += A[i * d + t] * A[j * d + t];
                C[i * n + j] = s;
            }
#endif
    }
    for (size_t i = 0; i < n; i++)
        for (size_t j = 0; j < i; j++) C[i * n + j] = C[j * n + i];
}
