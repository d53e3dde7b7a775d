/* SPDX-License-Identifier: MIT */
/* linalg_solve.c — Cholesky, SPD and LU solves (genmix/linalg.h): LAPACKE dpotrf/dposv/dgesv and the
 * naive reference twins (no allocation). Owns nothing. Thread safety: re-entrant. */
#include "genmix/linalg.h"

#include <math.h>

#ifdef GM_HAVE_BLAS
#include "linalg_internal.h"
#endif

int gm_la_cholesky_ref(double *A, size_t n) {
    GM_ASSERT(A || n == 0);
    for (size_t j = 0; j < n; j++) {
        double s = A[j * n + j];
        for (size_t l = 0; l < j; l++) s -= A[j * n + l] * A[j * n + l];
        if (!(s > 0.0)) GM_FAIL(GM_ENUMERIC, "Cholesky: matrix not positive definite (pivot %zu of %zu)", j, n);
        double ljj = sqrt(s);
        A[j * n + j] = ljj;
        for (size_t i = j + 1; i < n; i++) {
            double v = A[i * n + j];
            for (size_t l = 0; l < j; l++) v -= A[i * n + l] * A[j * n + l];
            A[i * n + j] = v / ljj;
        }
    }
    return GM_OK;
}

int gm_la_cholesky(double *A, size_t n) {
#ifdef GM_HAVE_BLAS
    GM_ASSERT(A || n == 0);
    if (n == 0) return GM_OK;
    lapack_int info = LAPACKE_dpotrf(LAPACK_ROW_MAJOR, 'L', (lapack_int)n, A, (lapack_int)n);
    if (info > 0) GM_FAIL(GM_ENUMERIC, "Cholesky: matrix not positive definite (pivot %d of %zu)", (int)info - 1, n);
    if (info < 0) return gm_la_lapack_fail(info, "dpotrf", n, n);
    return GM_OK;
#else
    return gm_la_cholesky_ref(A, n);
#endif
}

int gm_la_spd_solve_ref(double *A, double *B, size_t n, size_t nrhs) {
    GM_ASSERT((A && B) || n == 0);
    int rc = gm_la_cholesky_ref(A, n);
    if (rc) return rc;
    for (size_t r = 0; r < nrhs; r++) {
        for (size_t i = 0; i < n; i++) { /* L y = b */
            double v = B[i * nrhs + r];
            for (size_t l = 0; l < i; l++) v -= A[i * n + l] * B[l * nrhs + r];
            B[i * nrhs + r] = v / A[i * n + i];
        }
        for (size_t i = n; i-- > 0;) { /* L^T x = y */
            double v = B[i * nrhs + r];
            for (size_t l = i + 1; l < n; l++) v -= A[l * n + i] * B[l * nrhs + r];
            B[i * nrhs + r] = v / A[i * n + i];
        }
    }
    return GM_OK;
}

int gm_la_spd_solve(double *A, double *B, size_t n, size_t nrhs) {
#ifdef GM_HAVE_BLAS
    GM_ASSERT((A && B) || n == 0);
    if (n == 0 || nrhs == 0) return n == 0 ? GM_OK : gm_la_cholesky(A, n);
    lapack_int info =
        LAPACKE_dposv(LAPACK_ROW_MAJOR, 'L', (lapack_int)n, (lapack_int)nrhs, A, (lapack_int)n, B, (lapack_int)nrhs);
    if (info > 0) GM_FAIL(GM_ENUMERIC, "Cholesky: matrix not positive definite (pivot %d of %zu)", (int)info - 1, n);
    if (info < 0) return gm_la_lapack_fail(info, "dposv", n, n);
    return GM_OK;
#else
    return gm_la_spd_solve_ref(A, B, n, nrhs);
#endif
}

int gm_la_lu_solve_ref(double *A, double *B, size_t n, size_t nrhs, double tol) {
    GM_ASSERT((A && B) || n == 0);
    for (size_t k = 0; k < n; k++) {
        size_t p = k;
        double best = fabs(A[k * n + k]);
        for (size_t i = k + 1; i < n; i++)
            if (fabs(A[i * n + k]) > best) best = fabs(A[i * n + k]), p = i;
        if (!(best > tol)) GM_FAIL(GM_ENUMERIC, "LU: matrix singular (pivot %zu of %zu is %g)", k, n, best);
        if (p != k) {
            for (size_t j = 0; j < n; j++) {
                double t = A[k * n + j];
                A[k * n + j] = A[p * n + j];
                A[p * n + j] = t;
            }
            for (size_t r = 0; r < nrhs; r++) {
                double t = B[k * nrhs + r];
                B[k * nrhs + r] = B[p * nrhs + r];
                B[p * nrhs + r] = t;
            }
        }
        for (size_t i = k + 1; i < n; i++) {
            double f = A[i * n + k] / A[k * n + k];
            if (f == 0.0) continue;
            for (size_t j = k; j < n; j++) A[i * n + j] -= f * A[k * n + j];
            for (size_t r = 0; r < nrhs; r++) B[i * nrhs + r] -= f * B[k * nrhs + r];
        }
    }
    for (size_t r = 0; r < nrhs; r++)
        for (size_t k = n; k-- > 0;) {
            double s = B[k * nrhs + r];
            for (size_t j = k + 1; j < n; j++) s -= A[k * n + j] * B[j * nrhs + r];
            B[k * nrhs + r] = s / A[k * n + k];
        }
    return GM_OK;
}

int gm_la_lu_solve(double *A, double *B, size_t n, size_t nrhs, double tol) {
#ifdef GM_HAVE_BLAS
    GM_ASSERT((A && B) || n == 0);
    if (n == 0) return GM_OK;
    lapack_int *ipiv = gm_malloc(n * sizeof(lapack_int));
    if (!ipiv) return GM_ENOMEM;
    lapack_int info = LAPACKE_dgesv(LAPACK_ROW_MAJOR, (lapack_int)n, (lapack_int)nrhs, A, (lapack_int)n, ipiv, B,
                                    (lapack_int)(nrhs ? nrhs : 1));
    gm_free(ipiv);
    if (info < 0) return gm_la_lapack_fail(info, "dgesv", n, n);
    /* dgesv reports exact zeros only (info > 0): apply the tolerance to U's diagonal */
    for (size_t k = 0; k < n; k++)
        if (!(fabs(A[k * n + k]) > tol))
            GM_FAIL(GM_ENUMERIC, "LU: matrix singular (pivot %zu of %zu is %g)", k, n, fabs(A[k * n + k]));
    return GM_OK;
#else
    return gm_la_lu_solve_ref(A, B, n, nrhs, tol);
#endif
}
