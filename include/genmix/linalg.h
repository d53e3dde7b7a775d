/* SPDX-License-Identifier: MIT */
/* genmix/linalg.h — the dense linear algebra and order statistics every module shares.
 *
 * Usage:
 *     double A[4] = {2, 1, 1, 2}, w[2];
 *     if (gm_la_syev(A, 2, w, 1) != GM_OK) puts(gm_last_error());   // w = {1, 3}; rows of A = vectors
 *     double S[4] = {4, 2, 2, 3}, b[2] = {1, 2};
 *     gm_la_spd_solve(S, b, 2, 1);                                  // b <- S^-1 b (Cholesky)
 *     double med = gm_median_sorted(sorted, n);
 *
 * All matrices are row-major doubles (the GEMM/SYRK helpers also come in float). Each solver has a naive
 * `_ref` twin that is always built (loops, cyclic Jacobi): without BLAS (GM_BLAS=OFF) the plain name
 * calls the twin; with BLAS it calls LAPACKE. Small systems are often faster on the `_ref` path
 * (OpenBLAS's threading overhead dominates), and the `_ref` path gives the same bits on every build:
 * the caller chooses. The solvers destroy their input matrix.
 * Errors: status codes, never exit(): GM_ENUMERIC with a message when a matrix is singular / not positive
 * definite or a solver fails to converge, GM_ENOMEM. Shape and NULL contracts are GM_ASSERTed.
 * Ownership: inputs and outputs are caller-owned; nothing is kept between calls.
 * Thread safety: re-entrant. LAPACK runs on one thread (of an active OpenMP region, where the OpenMP
 * OpenBLAS stays serial) and the GEMM helpers cut their work into fixed row blocks, so results are
 * bitwise the same for any thread count.
 */
#ifndef GM_LINALG_H
#define GM_LINALG_H

#include "genmix/base.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- products (CBLAS when built with BLAS, naive loops otherwise) ------------------------------- */

/* C(m,n) = alpha * A(m,k) B(n,k)^T + beta * C (lda = ldb = k, ldc = n). */
void gm_la_dgemm_nt(size_t m, size_t n, size_t k, double alpha, const double *A, const double *B, double beta,
                    double *C);
/* C(m,n) = A(m,k) B(n,k)^T in float. */
void gm_la_sgemm_nt(size_t m, size_t n, size_t k, const float *A, const float *B, float *C);
/* C(m,n) = A(m,k) B(k,n). */
void gm_la_dgemm_nn(size_t m, size_t n, size_t k, const double *A, const double *B, double *C);
/* C(d,d) = A(n,d)^T A(n,d), both triangles. */
void gm_la_dsyrk_tn(size_t n, size_t d, const double *A, double *C);
/* C(n,n) = A(n,d) A(n,d)^T, both triangles (double and float). */
void gm_la_dsyrk_nt(size_t n, size_t d, const double *A, double *C);
void gm_la_ssyrk_nt(size_t n, size_t d, const float *A, float *C);
/* C(d,d) += A(n,d)^T A(n,d) on the upper triangle (i <= j; the strict lower part is left undefined):
 * accumulate several row chunks, then gm_la_mirror_upper. */
void gm_la_dsyrk_tn_add(size_t n, size_t d, const double *A, double *C);
/* C[i][j] = C[j][i] for j < i: the lower triangle from the upper. */
void gm_la_mirror_upper(double *C, size_t n);
/* M(d,d) = L^T S L for a lower-triangular L (its strict upper part is ignored) and a general S: two
 * triangular products, d³ flops (half of two GEMMs). M is symmetric when S is, up to rounding. */
void gm_la_dcongruence_lower(size_t d, const double *L, const double *S, double *M);

/* ---- symmetric eigenproblem and singular values -------------------------------------------------- */

/* Eigenvalues w[0..n) (ascending) of the symmetric n x n matrix A (destroyed). vecs != 0: on return row
 * i of A is the unit eigenvector of w[i]. LAPACKE dsyevd / cyclic Jacobi (converged when the squared
 * off-diagonal mass is <= 1e-30 of the total; GM_ENUMERIC after 100 sweeps). */
int gm_la_syev(double *A, size_t n, double *w, int vecs);
int gm_la_syev_ref(double *A, size_t n, double *w, int vecs);
/* Eigenvalues only, w[0..n) ascending, of the symmetric n x n matrix A (both triangles; destroyed): a
 * two-stage reduction, dense -> band of half-width 32 by genmix's blocked Householder panels (the
 * products run on every OpenMP thread in fixed row blocks), then LAPACK's dsbev_2stage (band ->
 * tridiagonal -> dsterf) on one thread. Bitwise the same for any thread count; GM_ENOMEM if a buffer
 * cannot be allocated. The `_ref` twin is the Jacobi solver. */
int gm_la_syev_values(double *A, size_t n, double *w);
int gm_la_syev_values_ref(double *A, size_t n, double *w);
/* Singular values s[0..min(m,n)) (descending) of the m x n matrix A (destroyed). LAPACKE dgesdd / square
 * roots of the Jacobi eigenvalues of the smaller Gram matrix. */
int gm_la_svd_values(double *A, size_t m, size_t n, double *s);
int gm_la_svd_values_ref(double *A, size_t m, size_t n, double *s);

/* ---- factorisations and solves -------------------------------------------------------------------- */

/* Cholesky A = L L^T of the SPD n x n matrix A: L overwrites the lower triangle (the strict upper
 * triangle is left as it was). GM_ENUMERIC if A is not (numerically) positive definite. LAPACKE dpotrf. */
int gm_la_cholesky(double *A, size_t n);
int gm_la_cholesky_ref(double *A, size_t n);
/* Solve A X = B for SPD A (n x n, destroyed: holds L) and B (n x nrhs, overwritten by X) by Cholesky.
 * GM_ENUMERIC if A is not positive definite. LAPACKE dposv. */
int gm_la_spd_solve(double *A, double *B, size_t n, size_t nrhs);
int gm_la_spd_solve_ref(double *A, double *B, size_t n, size_t nrhs);
/* Solve A X = B for a general square A (n x n, destroyed) and B (n x nrhs, overwritten by X) by LU with
 * partial pivoting. GM_ENUMERIC if a pivot of U has |u_kk| <= tol (tol = 0: exactly singular only).
 * LAPACKE dgesv. The `_ref` elimination skips zero multipliers; it allocates nothing. */
int gm_la_lu_solve(double *A, double *B, size_t n, size_t nrhs, double tol);
int gm_la_lu_solve_ref(double *A, double *B, size_t n, size_t nrhs, double tol);

/* ---- kernel values (the one implementation every module calls) ---------------------------------- */

/* Polynomial kernel value from a dot product: (gamma * dot + coef0)^degree (repeated multiplication). */
double gm_kernel_poly(double dot, double gamma, double coef0, int degree);
/* RBF kernel value from a squared distance: exp(-d2 / (2 sigma^2)). */
double gm_kernel_rbf(double d2, double sigma);

/* ---- order statistics ------------------------------------------------------------------------------ */

/* Sort v[0..n) ascending in place (NaNs are not ordered: check finiteness first). */
void gm_sort_f64(double *v, size_t n);
/* np.percentile(s, p) with linear interpolation of the ascending array s (p in [0, 100]); NaN if n = 0. */
double gm_percentile_sorted(const double *s, size_t n, double p);
/* Median of the ascending array s: the middle element, or the mean 0.5 (a + b) of the two middle ones
 * (equal to gm_percentile_sorted(s, n, 50) up to one rounding); NaN if n = 0. */
double gm_median_sorted(const double *s, size_t n);
/* np.percentile(v, p) of an unsorted array (v is not modified; a sorted copy is gm_malloc'd):
 * GM_ENOMEM, else GM_OK and *out (NaN if n = 0). */
int gm_percentile(const double *v, size_t n, double p, double *out);

#ifdef __cplusplus
}
#endif
#endif /* GM_LINALG_H */
