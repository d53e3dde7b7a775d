/* SPDX-License-Identifier: MIT */
/* linalg_eig.c — symmetric eigenproblem and singular values (genmix/linalg.h): LAPACKE dsyevd/dgesdd
 * run on one thread, eigenvalues only by a two-stage reduction whose first (d³) stage is genmix's own and
 * uses every thread, and the cyclic Jacobi reference twins. Owns nothing. Thread safety: re-entrant. */
#include "genmix/linalg.h"

#include <math.h>
#include <string.h>

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

#ifdef GM_HAVE_BLAS
#include <cblas.h>

/* Eigenvalues only, by a two-stage reduction whose first stage is genmix's own:
 *   1. dense -> band of half-width KD: for each panel of KD columns, a Householder QR of the part below
 *      the band (dgeqrf), its block reflector Q = I - V T V^T (dlarft), and the two-sided update of the
 *      trailing matrix, A22 <- Q^T A22 Q = A22 - V W^T - W V^T with X = A22 V T, W = X - ½ V (T^T V^T X);
 *   2. band -> tridiagonal -> eigenvalues by LAPACK (dsbev_2stage: dsytrd_sb2st + dsterf).
 * The d³ work of stage 1 (A22 V and the rank-2·KD update) runs in fixed blocks of SB_RB rows, each one
 * single-threaded BLAS call inside our OpenMP loop; the panel work and stage 2 run on one thread of the
 * team. So the bits do not depend on the thread count (OpenBLAS's own threaded dsyevd changes them),
 * while stage 1 uses every core (LAPACK's dsytrd_sy2sb on one thread took 0.25 s of the 0.40 s at
 * n = 2048). Only the lower trapezoid of the trailing matrix and its diagonal blocks are updated (4/3 n³
 * flops); a block's Y rows come from its rows left of the diagonal and its column below it. */
#define SB_KD 32
#define SB_RB 64

typedef struct {
    double *Pc, *V, *Y, *X, *W, *C1, *B, *T, *Mm, *Z, *tau, *qrwork;
    size_t lqr;
} sb_work;

/* One panel (columns c0 .. c0+KD-1, rows r0 = c0+KD .. n-1 below the band, m = n - r0 of them): its QR,
 * the diagonal block and R into the band, V (unit lower trapezoidal) and T. Runs on one thread. */
static int sb_panel_qr(const double *A, size_t n, size_t c0, size_t m, double *AB, sb_work *ws) {
    const size_t kd = SB_KD, r0 = c0 + kd, kk = m < kd ? m : kd, ldab = kd + 1;
    for (size_t j = 0; j < kd; j++) /* column-major copy of the m x KD panel */
        for (size_t i = 0; i < m; i++) ws->Pc[j * m + i] = A[(r0 + i) * n + c0 + j];
    lapack_int info = LAPACKE_dgeqrf_work(LAPACK_COL_MAJOR, (lapack_int)m, (lapack_int)kd, ws->Pc, (lapack_int)m,
                                          ws->tau, ws->qrwork, (lapack_int)ws->lqr);
    if (info != 0) return gm_la_lapack_fail(info, "dgeqrf", m, kd);
    for (size_t j = 0; j < kd; j++) { /* band: the diagonal block from A, below it R */
        double *col = AB + (c0 + j) * ldab;
        for (size_t i = c0 + j; i < r0; i++) col[i - (c0 + j)] = A[i * n + c0 + j];
        for (size_t p = 0; p <= j && p < m; p++) col[r0 + p - (c0 + j)] = ws->Pc[j * m + p];
    }
    for (size_t i = 0; i < m; i++) /* V, unit lower trapezoidal, row-major m x kk */
        for (size_t j = 0; j < kk; j++) ws->V[i * kk + j] = i > j ? ws->Pc[j * m + i] : (i == j ? 1.0 : 0.0);
    info = LAPACKE_dlarft_work(LAPACK_COL_MAJOR, 'F', 'C', (lapack_int)m, (lapack_int)kk, ws->Pc, (lapack_int)m,
                               ws->tau, ws->Mm, (lapack_int)kk);
    if (info != 0) return gm_la_lapack_fail(info, "dlarft", m, kk);
    for (size_t i = 0; i < kk; i++) /* T row-major, upper triangular */
        for (size_t j = 0; j < kk; j++) ws->T[i * kk + j] = j >= i ? ws->Mm[j * kk + i] : 0.0;
    return GM_OK;
}

/* After Y = A22 V: X = Y T, W = X - ½ V (T^T V^T X) and the factors C1 = [V W], B = [W V] of the update
 * A22 -= C1 B^T. Runs on one thread (m x KD work). */
static void sb_panel_w(size_t m, size_t kk, sb_work *ws) {
    cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)m, (int)kk, (int)kk, 1.0, ws->Y, (int)kk, ws->T,
                (int)kk, 0.0, ws->X, (int)kk); /* X = A22 V T */
    cblas_dgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (int)kk, (int)kk, (int)m, 1.0, ws->V, (int)kk, ws->X,
                (int)kk, 0.0, ws->Mm, (int)kk); /* V^T X */
    cblas_dgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (int)kk, (int)kk, (int)kk, 1.0, ws->T, (int)kk, ws->Mm,
                (int)kk, 0.0, ws->Z, (int)kk); /* Z = T^T V^T X */
    memcpy(ws->W, ws->X, m * kk * sizeof(double));
    cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)m, (int)kk, (int)kk, -0.5, ws->V, (int)kk, ws->Z,
                (int)kk, 1.0, ws->W, (int)kk); /* W = X - ½ V Z */
    for (size_t i = 0; i < m; i++) { /* C1 = [V W], B = [W V]: A22 -= C1 B^T */
        memcpy(ws->C1 + i * 2 * kk, ws->V + i * kk, kk * sizeof(double));
        memcpy(ws->C1 + i * 2 * kk + kk, ws->W + i * kk, kk * sizeof(double));
        memcpy(ws->B + i * 2 * kk, ws->W + i * kk, kk * sizeof(double));
        memcpy(ws->B + i * 2 * kk + kk, ws->V + i * kk, kk * sizeof(double));
    }
}

/* Row block b of the trailing matrix that starts at absolute row r0, in its own coordinates [*i0, *i1):
 * blocks are aligned to absolute multiples of SB_RB, so each diagonal block of a later panel lies inside
 * a diagonal block of an earlier one (only the lower trapezoid and the diagonal blocks are kept). */
static void sb_block(size_t r0, size_t n, size_t b, size_t *i0, size_t *i1) {
    size_t k = r0 / SB_RB + b, a0 = k * SB_RB, a1 = (k + 1) * SB_RB;
    *i0 = (a0 > r0 ? a0 : r0) - r0;
    *i1 = (a1 < n ? a1 : n) - r0;
}

static int syev_values_band(double *A, size_t n, double *w) {
    const size_t kd = SB_KD, ldab = kd + 1;
    sb_work ws = {0};
    ws.lqr = kd * 64;
    double *AB = gm_calloc(ldab * n, sizeof(double));
    ws.Pc = gm_malloc(n * kd * sizeof(double));
    ws.V = gm_malloc(n * kd * sizeof(double));
    ws.Y = gm_malloc(n * kd * sizeof(double));
    ws.X = gm_malloc(n * kd * sizeof(double));
    ws.W = gm_malloc(n * kd * sizeof(double));
    ws.C1 = gm_malloc(2 * n * kd * sizeof(double));
    ws.B = gm_malloc(2 * n * kd * sizeof(double));
    ws.T = gm_malloc(kd * kd * sizeof(double));
    ws.Mm = gm_malloc(kd * kd * sizeof(double));
    ws.Z = gm_malloc(kd * kd * sizeof(double));
    ws.tau = gm_malloc(kd * sizeof(double));
    ws.qrwork = gm_malloc(ws.lqr * sizeof(double));
    double *work = NULL;
    int rc = GM_ENOMEM;
    if (!AB || !ws.Pc || !ws.V || !ws.Y || !ws.X || !ws.W || !ws.C1 || !ws.B || !ws.T || !ws.Mm || !ws.Z || !ws.tau ||
        !ws.qrwork)
        goto done;
    rc = GM_OK;
    size_t cend = 0; /* first column of the last diagonal block (no panel below it) */
#pragma omp parallel
    {
        for (size_t c0 = 0; c0 + kd < n; c0 += kd) {
            const size_t r0 = c0 + kd, m = n - r0, kk = m < kd ? m : kd, nb = (n - 1) / SB_RB - r0 / SB_RB + 1;
            double *A22 = A + r0 * n + r0;
#pragma omp single
            {
                if (rc == GM_OK) rc = sb_panel_qr(A, n, c0, m, AB, &ws);
                cend = r0;
            }
            if (rc != GM_OK) break; /* every thread reads rc after the same barrier */
#pragma omp for schedule(dynamic, 1)
            for (long t = 0; t < (long)nb; t++) { /* Y = A22 V from the lower trapezoid */
                size_t i0, i1;
                sb_block(r0, n, nb - 1 - (size_t)t, &i0, &i1);
                size_t r = i1 - i0;
                cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)r, (int)kk, (int)i1, 1.0, A22 + i0 * n,
                            (int)n, ws.V, (int)kk, 0.0, ws.Y + i0 * kk, (int)kk);
                if (i1 < m) /* the part right of the diagonal block: A22[i1:, i0:i1]^T V[i1:] */
                    cblas_dgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (int)r, (int)kk, (int)(m - i1), 1.0,
                                A22 + i1 * n + i0, (int)n, ws.V + i1 * kk, (int)kk, 1.0, ws.Y + i0 * kk, (int)kk);
            }
#pragma omp single
            sb_panel_w(m, kk, &ws);
#pragma omp for schedule(dynamic, 1)
            for (long t = 0; t < (long)nb; t++) { /* lower trapezoid of A22 -= [V W] [W V]^T, largest first */
                size_t i0, i1;
                sb_block(r0, n, nb - 1 - (size_t)t, &i0, &i1);
                cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)(i1 - i0), (int)i1, (int)(2 * kk), -1.0,
                            ws.C1 + i0 * 2 * kk, (int)(2 * kk), ws.B, (int)(2 * kk), 1.0, A22 + i0 * n, (int)n);
            }
        }
#pragma omp single
        if (rc == GM_OK) {
            for (size_t j = cend; j < n; j++) /* the last diagonal block (at most KD rows) lies inside the band */
                for (size_t i = j; i < n; i++) AB[j * ldab + (i - j)] = A[i * n + j];
            double q = 0;
            lapack_int info = LAPACKE_dsbev_2stage_work(LAPACK_COL_MAJOR, 'N', 'L', (lapack_int)n, (lapack_int)kd, AB,
                                                        (lapack_int)ldab, w, NULL, 1, &q, -1);
            size_t lw = info == 0 ? (size_t)q + 1 : 0;
            work = info == 0 ? gm_malloc(lw * sizeof(double)) : NULL;
            if (info != 0) rc = gm_la_lapack_fail(info, "dsbev_2stage", n, n);
            else if (!work) rc = GM_ENOMEM;
            else {
                info = LAPACKE_dsbev_2stage_work(LAPACK_COL_MAJOR, 'N', 'L', (lapack_int)n, (lapack_int)kd, AB,
                                                 (lapack_int)ldab, w, NULL, 1, work, (lapack_int)lw);
                if (info != 0) rc = gm_la_lapack_fail(info, "dsbev_2stage", n, n);
            }
        }
    }
done:
    gm_free(AB);
    gm_free(ws.Pc);
    gm_free(ws.V);
    gm_free(ws.Y);
    gm_free(ws.X);
    gm_free(ws.W);
    gm_free(ws.C1);
    gm_free(ws.B);
    gm_free(ws.T);
    gm_free(ws.Mm);
    gm_free(ws.Z);
    gm_free(ws.tau);
    gm_free(ws.qrwork);
    gm_free(work);
    return rc;
}
#endif

int gm_la_syev_values(double *A, size_t n, double *w) {
#ifdef GM_HAVE_BLAS
    GM_ASSERT((A && w) || n == 0);
    if (n == 0) return GM_OK;
    return syev_values_band(A, n, w);
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
