/* SPDX-License-Identifier: MIT */
/* linalg_eig.c — symmetric eigenproblem and singular values (genmix/linalg.h): LAPACKE dsyevd/dgesdd
 * run on one thread, and the cyclic Jacobi reference twins. Owns nothing. Thread safety: re-entrant. */
#include "genmix/linalg.h"

#include <math.h>

#ifdef GM_HAVE_BLAS
#include "linalg_internal.h"
#endif
/* Cyclic Jacobi: A <- J^T A J until the off-diagonal mass is negligible; V accumulates the rotations. */
static int jacobi_eig(double *A, size_t n, double *w, int vecs) {
    double *V = gm_calloc((n * n) != 0 ? n * n : 1, sizeof(double));
    size_t *order = gm_malloc((n ? n : 1) * sizeof(size_t));
    if (!V || !order) {
        gm_free(V);
        gm_free(order);
        return GM_ENOMEM;
    }
    for (size_t i = 0; i < n; i++) V[i * n + i] = 1;
    double total = 0;
    for (size_t i = 0; i < n * n; i++) total += A[i] * A[i];
    int converged = 0;
    for (int sweep = 0; sweep < 100 && !converged; sweep++) {
        double off = 0;
        for (size_t p = 0; p < n; p++)
            for (size_t q = p + 1; q < n; q++) off += A[p * n + q] * A[p * n + q];
        if (off <= 1e-30 * total || off == 0) {
            converged = 1;
            break;
        }
        for (size_t p = 0; p < n; p++)
            for (size_t q = p + 1; q < n; q++) {
                double apq = A[p * n + q];
                if (apq == 0) continue;
                double theta = (A[q * n + q] - A[p * n + p]) / (2 * apq);
                double t = (theta >= 0 ? 1.0 : -1.0) / (fabs(theta) + sqrt(theta * theta + 1));
                double c = 1 / sqrt(t * t + 1), s = t * c;
                for (size_t k = 0; k < n; k++) {
                    double akp = A[k * n + p], akq = A[k * n + q];
                    A[k * n + p] = c * akp - s * akq;
                    A[k * n + q] = s * akp + c * akq;
                }
                for (size_t k = 0; k < n; k++) {
                    double apk = A[p * n + k], aqk = A[q * n + k];
                    A[p * n + k] = c * apk - s * aqk;
                    A[q * n + k] = s * apk + c * aqk;
                }
                for (size_t k = 0; k < n; k++) {
                    double vkp = V[k * n + p], vkq = V[k * n + q];
                    V[k * n + p] = c * vkp - s * vkq;
                    V[k * n + q] = s * vkp + c * vkq;
                }
            }
    }
    if (!converged) {
        gm_free(V);
        gm_free(order);
        GM_FAIL(GM_ENUMERIC, "Jacobi eigen solver did not converge (n = %zu)", n);
    }
    /* sort ascending (insertion sort on indices; n is small on this path) */
    for (size_t i = 0; i < n; i++) order[i] = i;
    for (size_t i = 1; i < n; i++) {
        size_t v = order[i], j = i;
        while (j > 0 && A[order[j - 1] * n + order[j - 1]] > A[v * n + v]) {
            order[j] = order[j - 1];
            j--;
        }
        order[j] = v;
    }
    for (size_t i = 0; i < n; i++) w[i] = A[order[i] * n + order[i]];
    if (vecs)
        for (size_t i = 0; i < n; i++)
            for (size_t k = 0; k < n; k++) A[i * n + k] = V[k * n + order[i]];
    gm_free(V);
    gm_free(order);
    return GM_OK;
}


int gm_la_syev_ref(double *A, size_t n, double *w, int vecs) {
    GM_ASSERT((A && w) || n == 0);
    if (n == 0) return GM_OK;
    return jacobi_eig(A, n, w, vecs);
}

int gm_la_syev(double *A, size_t n, double *w, int vecs) {
#ifdef GM_HAVE_BLAS
    GM_ASSERT((A && w) || n == 0);
    if (n == 0) return GM_OK;
    /* Column-major view of a symmetric matrix is the same matrix; eigenvectors come back as columns
     * of the column-major array, i.e. rows of our row-major buffer. */
    /* OpenBLAS's threaded BLAS-2 inside LAPACK rounds differently for different thread counts: run
     * the solver on one thread of an active parallel region, where OpenBLAS stays single-threaded. */
    lapack_int info = 0;
#ifdef _OPENMP
#pragma omp parallel num_threads(2)
    {
#pragma omp master
        info = LAPACKE_dsyevd(LAPACK_COL_MAJOR, vecs ? 'V' : 'N', 'U', (lapack_int)n, A, (lapack_int)n, w);
    }
#else
    info = LAPACKE_dsyevd(LAPACK_COL_MAJOR, vecs ? 'V' : 'N', 'U', (lapack_int)n, A, (lapack_int)n, w);
#endif
    if (info != 0) return gm_la_lapack_fail(info, "dsyevd", n, n);
    return GM_OK;
#else
    return gm_la_syev_ref(A, n, w, vecs);
#endif
}

int gm_la_syev_values_ref(double *A, size_t n, double *w) { return gm_la_syev_ref(A, n, w, 0); }

int gm_la_syev_values(double *A, size_t n, double *w) {
#ifdef GM_HAVE_BLAS
    GM_ASSERT((A && w) || n == 0);
    if (n == 0) return GM_OK;
    lapack_int info = 0; /* one thread of an active parallel region, as in gm_la_syev */
#ifdef _OPENMP
#pragma omp parallel num_threads(2)
    {
#pragma omp master
        info = LAPACKE_dsyevd_2stage(LAPACK_COL_MAJOR, 'N', 'U', (lapack_int)n, A, (lapack_int)n, w);
    }
#else
    info = LAPACKE_dsyevd_2stage(LAPACK_COL_MAJOR, 'N', 'U', (lapack_int)n, A, (lapack_int)n, w);
#endif
    if (info != 0) GM_FAIL(GM_ENUMERIC, "dsyevd_2stage failed (info %d) on a %zu x %zu matrix", (int)info, n, n);
    return GM_OK;
#else
    return gm_la_syev_values_ref(A, n, w);
#endif
}

int gm_la_svd_values_ref(double *A, size_t m, size_t n, double *s) {
    size_t r = m < n ? m : n;
    if (r == 0) return GM_OK;
    GM_ASSERT(A && s);
    /* eigenvalues of the smaller Gram matrix (naive loops), square roots, descending */
    double *G = gm_malloc(r * r * sizeof(double));
    double *w = gm_malloc(r * sizeof(double));
    if (!G || !w) {
        gm_free(G);
        gm_free(w);
        return GM_ENOMEM;
    }
    for (size_t i = 0; i < r; i++)
        for (size_t j = 0; j < r; j++) {
            double acc = 0;
            if (m <= n)
                for (size_t t = 0; t < n; t++) acc += A[i * n + t] * A[j * n + t];
            else
                for (size_t t = 0; t < m; t++) acc += A[t * n + i] * A[t * n + j];
            G[i * r + j] = acc;
        }
    int rc = jacobi_eig(G, r, w, 0);
    if (rc == GM_OK)
        for (size_t i = 0; i < r; i++) s[i] = sqrt(fmax(w[r - 1 - i], 0.0));
    gm_free(G);
    gm_free(w);
    return rc;
}

int gm_la_svd_values(double *A, size_t m, size_t n, double *s) {
#ifdef GM_HAVE_BLAS
    size_t r = m < n ? m : n;
    if (r == 0) return GM_OK;
    GM_ASSERT(A && s);
    lapack_int info = 0; /* row-major A = column-major A^T; single-threaded as in gm_la_syev */
#ifdef _OPENMP
#pragma omp parallel num_threads(2)
    {
#pragma omp master
        info = LAPACKE_dgesdd(LAPACK_COL_MAJOR, 'N', (lapack_int)n, (lapack_int)m, A, (lapack_int)n, s, NULL, 1, NULL,
                              1);
    }
#else
    info = LAPACKE_dgesdd(LAPACK_COL_MAJOR, 'N', (lapack_int)n, (lapack_int)m, A, (lapack_int)n, s, NULL, 1, NULL, 1);
#endif
    if (info != 0) return gm_la_lapack_fail(info, "dgesdd", m, n);
    return GM_OK;
#else
    return gm_la_svd_values_ref(A, m, n, s);
#endif
}
