/* eval_linalg.c — dense linear algebra for the metrics: CBLAS/LAPACKE calls with naive fallbacks
 * (GM_BLAS=OFF, or forced for the reference paths), row conversion helpers and input checks.
 * Owns nothing. Thread safety: re-entrant; BLAS threads itself, the fallbacks use static OpenMP loops
 * in which each output element is computed by one thread (bitwise independent of the thread count). */
#include "eval_internal.h"

#include <math.h>
#include <string.h>

#ifdef GM_HAVE_BLAS
#include <cblas.h>
#include <lapacke.h>
#endif
#ifdef _OPENMP
#include <omp.h>
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

void gm__dgemm_nt(size_t m, size_t n, size_t k, double alpha, const double *A, const double *B, double beta,
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

void gm__sgemm_nt(size_t m, size_t n, size_t k, const float *A, const float *B, float *C) {
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

void gm__dgemm_nn(size_t m, size_t n, size_t k, const double *A, const double *B, double *C) {
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

static void mirror_upper(double *C, size_t n) {
    for (size_t i = 0; i < n; i++)
        for (size_t j = 0; j < i; j++) C[i * n + j] = C[j * n + i];
}

/* Upper trapezoid by row blocks: C[I, I0:] = A[:, I]^T A[:, I0:] (round-robin blocks balance the work). */
void gm__dsyrk_tn(size_t n, size_t d, const double *A, double *C) {
#pragma omp parallel for schedule(static, 1) if ((double)d * (double)d * (double)n > PAR_MNK)
    for (long b = 0; b < (long)nblocks(d); b++) {
        size_t r0 = (size_t)b * RB, r = d - r0 < RB ? d - r0 : RB;
#ifdef GM_HAVE_BLAS
        cblas_dgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (int)r, (int)(d - r0), (int)n, 1.0, A + r0, (int)d,
                    A + r0, (int)d, 0.0, C + r0 * d + r0, (int)d);
#else
        for (size_t i = r0; i < r0 + r; i++)
            for (size_t j = r0; j < d; j++) {
                double s = 0;
                for (size_t t = 0; t < n; t++) s += A[t * d + i] * A[t * d + j];
                C[i * d + j] = s;
            }
#endif
    }
    mirror_upper(C, d);
}

/* C[I, I0:] = A_I A_{I0:}^T */
void gm__dsyrk_nt(size_t n, size_t d, const double *A, double *C) {
#pragma omp parallel for schedule(static, 1) if ((double)n * (double)n * (double)d > PAR_MNK)
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
    mirror_upper(C, n);
}

void gm__ssyrk_nt(size_t n, size_t d, const float *A, float *C) {
#pragma omp parallel for schedule(static, 1) if ((double)n * (double)n * (double)d > PAR_MNK)
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

/* ---- symmetric eigenproblem ------------------------------------------------------------------- */

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

int gm__dsyev(double *A, size_t n, double *w, int vecs, int use_lapack) {
    if (n == 0) return GM_OK;
#ifdef GM_HAVE_BLAS
    if (use_lapack) {
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
        if (info != 0) GM_FAIL(GM_ENUMERIC, "dsyevd failed (info %d) on a %zu x %zu matrix", (int)info, n, n);
        return GM_OK;
    }
#else
    (void)use_lapack;
#endif
    return jacobi_eig(A, n, w, vecs);
}

int gm__dsvd_values(double *A, size_t m, size_t n, double *s, int use_lapack) {
    size_t r = m < n ? m : n;
    if (r == 0) return GM_OK;
#ifdef GM_HAVE_BLAS
    if (use_lapack) {
        lapack_int info = 0; /* row-major A = column-major A^T; single-threaded as in gm__dsyev */
#ifdef _OPENMP
#pragma omp parallel num_threads(2)
        {
#pragma omp master
            info = LAPACKE_dgesdd(LAPACK_COL_MAJOR, 'N', (lapack_int)n, (lapack_int)m, A, (lapack_int)n, s, NULL, 1,
                                  NULL, 1);
        }
#else
        info = LAPACKE_dgesdd(LAPACK_COL_MAJOR, 'N', (lapack_int)n, (lapack_int)m, A, (lapack_int)n, s, NULL, 1,
                              NULL, 1);
#endif
        if (info != 0) GM_FAIL(GM_ENUMERIC, "dgesdd failed (info %d) on a %zu x %zu matrix", (int)info, m, n);
        return GM_OK;
    }
#else
    (void)use_lapack;
#endif
    /* Reference: eigenvalues of the smaller Gram matrix (naive loops), square roots, descending. */
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

/* ---- feature rows ------------------------------------------------------------------------------ */

gm_feats gm_feats_f32(const float *x, size_t n, size_t d) {
    gm_feats f = {x, n, d, 0};
    return f;
}

gm_feats gm_feats_f64(const double *x, size_t n, size_t d) {
    gm_feats f = {x, n, d, 1};
    return f;
}

double gm_feats_at(const gm_feats *x, size_t i, size_t j) {
    return x->is_f64 ? ((const double *)x->data)[i * x->d + j] : (double)((const float *)x->data)[i * x->d + j];
}

void gm__rows_f64(const gm_feats *x, size_t r0, size_t cnt, double *dst) {
    size_t m = cnt * x->d;
    if (x->is_f64) {
        memcpy(dst, (const double *)x->data + r0 * x->d, m * sizeof(double));
    } else {
        const float *s = (const float *)x->data + r0 * x->d;
        for (size_t i = 0; i < m; i++) dst[i] = (double)s[i];
    }
}

void gm__rows_f32(const gm_feats *x, size_t r0, size_t cnt, float *dst) {
    size_t m = cnt * x->d;
    if (!x->is_f64) {
        memcpy(dst, (const float *)x->data + r0 * x->d, m * sizeof(float));
    } else {
        const double *s = (const double *)x->data + r0 * x->d;
        for (size_t i = 0; i < m; i++) dst[i] = (float)s[i];
    }
}

void gm__row_norms(const gm_feats *x, double *out) {
    size_t d = x->d;
#pragma omp parallel for schedule(static) if (x->n * d > 65536)
    for (long i = 0; i < (long)x->n; i++) {
        double s = 0;
        if (x->is_f64) {
            const double *r = (const double *)x->data + (size_t)i * d;
            for (size_t j = 0; j < d; j++) s += r[j] * r[j];
        } else {
            const float *r = (const float *)x->data + (size_t)i * d;
            for (size_t j = 0; j < d; j++) s += (double)r[j] * (double)r[j];
        }
        out[i] = s;
    }
}

int gm__check_pair(const gm_feats *a, const gm_feats *b, size_t min_n, const char *what) {
    GM_ASSERT(a && b);
    if (a->d == 0 || b->d == 0) GM_FAIL(GM_EINVAL, "%s: feature dimension is 0", what);
    if (a->d != b->d) GM_FAIL(GM_ESHAPE, "%s: feature dimensions differ (%zu vs %zu)", what, a->d, b->d);
    if (a->n < min_n || b->n < min_n)
        GM_FAIL(GM_EINVAL, "%s: needs at least %zu rows per set (got %zu and %zu)", what, min_n, a->n, b->n);
    GM_ASSERT(a->data && b->data);
    return GM_OK;
}
