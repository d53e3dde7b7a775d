/* SPDX-License-Identifier: MIT */
/* test_linalg.c — the shared linear algebra (genmix/linalg.h): closed-form eigenvalues/vectors, Cholesky
 * factors, SPD and LU solves and singular values on both paths (LAPACKE and the naive `_ref` twins;
 * without BLAS both names run the twin), agreement of the two paths on random matrices, the GEMM/SYRK
 * helpers against plain loops, singular / non-SPD inputs returning GM_ENUMERIC, allocation failures,
 * and the order statistics (np.percentile known answers). */
#include "gm_test.h"
#include "genmix/linalg.h"
#include "genmix/rng.h"

#include <string.h>
#ifdef _OPENMP
#include <omp.h>
#endif


typedef int (*syev_fn)(double *, size_t, double *, int);
typedef int (*svd_fn)(double *, size_t, size_t, double *);
typedef int (*chol_fn)(double *, size_t);
typedef int (*spd_fn)(double *, double *, size_t, size_t);
typedef int (*lu_fn)(double *, double *, size_t, size_t, double);

static const syev_fn SYEV[2] = {gm_la_syev, gm_la_syev_ref};
static const svd_fn SVD[2] = {gm_la_svd_values, gm_la_svd_values_ref};
static const chol_fn CHOL[2] = {gm_la_cholesky, gm_la_cholesky_ref};
static const spd_fn SPD[2] = {gm_la_spd_solve, gm_la_spd_solve_ref};
static const lu_fn LU[2] = {gm_la_lu_solve, gm_la_lu_solve_ref};

/* random n x n SPD matrix B B^T + n I */
static void random_spd(gm_rng *r, double *S, size_t n) {
    double *B = malloc(n * n * sizeof(double));
    for (size_t i = 0; i < n * n; i++) B[i] = gm_rng_normal(r);
    for (size_t i = 0; i < n; i++)
        for (size_t j = 0; j < n; j++) {
            double s = i == j ? (double)n : 0.0;
            for (size_t t = 0; t < n; t++) s += B[i * n + t] * B[j * n + t];
            S[i * n + j] = s;
        }
    free(B);
}

GM_TEST(test_syev_closed_form) {
    for (int p = 0; p < 2; p++) {
        /* [[2,1],[1,2]]: eigenvalues 1, 3 with vectors (1,-1)/sqrt2, (1,1)/sqrt2 */
        double A[4] = {2, 1, 1, 2}, w[2];
        CHECK_OK(SYEV[p](A, 2, w, 1));
        CHECK_NEAR(w[0], 1.0, 0, 1e-14);
        CHECK_NEAR(w[1], 3.0, 0, 1e-14);
        CHECK_NEAR(fabs(A[0]), sqrt(0.5), 0, 1e-14);
        CHECK_NEAR(A[0] * A[1], -0.5, 0, 1e-14); /* opposite signs */
        CHECK_NEAR(A[2] * A[3], 0.5, 0, 1e-14);  /* same sign */
        /* the 1-D Laplacian tridiag(-1, 2, -1) of order 5: 2 - 2 cos(k pi / 6), k = 1..5 */
        double L[25] = {0}, v[5];
        for (int i = 0; i < 5; i++) {
            L[i * 5 + i] = 2;
            if (i) L[i * 5 + i - 1] = L[(i - 1) * 5 + i] = -1;
        }
        CHECK_OK(SYEV[p](L, 5, v, 0));
        for (int k = 1; k <= 5; k++) CHECK_NEAR(v[k - 1], 2.0 - 2.0 * cos(k * 3.14159265358979323846 / 6.0), 0, 1e-13);
        CHECK_OK(SYEV[p](NULL, 0, NULL, 1)); /* empty: nothing to do */
    }
}

GM_TEST(test_syev_random_paths_agree) {
    /* A V^T = V^T diag(w), V orthonormal, and the two paths agree to rounding */
    const size_t n = 30;
    gm_rng r;
    gm_rng_init(&r, 11, gm_rng_stream_id(GM_STREAM_SIM, 0));
    double *A = malloc(n * n * sizeof(double)), *Q[2], w[2][30];
    for (size_t i = 0; i < n; i++)
        for (size_t j = 0; j <= i; j++) A[i * n + j] = A[j * n + i] = gm_rng_normal(&r);
    for (int p = 0; p < 2; p++) {
        Q[p] = malloc(n * n * sizeof(double));
        memcpy(Q[p], A, n * n * sizeof(double));
        CHECK_OK(SYEV[p](Q[p], n, w[p], 1));
        double res = 0, orth = 0;
        for (size_t c = 0; c < n; c++) {
            CHECK(c == 0 || w[p][c - 1] <= w[p][c]);
            for (size_t i = 0; i < n; i++) {
                double s = 0;
                for (size_t j = 0; j < n; j++) s += A[i * n + j] * Q[p][c * n + j];
                res = fmax(res, fabs(s - w[p][c] * Q[p][c * n + i]));
            }
            for (size_t e = 0; e < n; e++) {
                double s = 0;
                for (size_t j = 0; j < n; j++) s += Q[p][c * n + j] * Q[p][e * n + j];
                orth = fmax(orth, fabs(s - (c == e)));
            }
        }
        CHECK(res < 1e-12);
        CHECK(orth < 1e-12);
    }
    for (size_t c = 0; c < n; c++) CHECK_NEAR(w[0][c], w[1][c], 0, 1e-12);
    for (int p = 0; p < 2; p++) free(Q[p]);
    free(A);
}

GM_TEST(test_svd_closed_form) {
    for (int p = 0; p < 2; p++) {
        /* 3 x 2 [[3,0],[0,-4],[0,0]]: singular values 4, 3 (descending) */
        double A[6] = {3, 0, 0, -4, 0, 0}, s[2];
        CHECK_OK(SVD[p](A, 3, 2, s));
        CHECK_NEAR(s[0], 4.0, 0, 1e-13);
        CHECK_NEAR(s[1], 3.0, 0, 1e-13);
        /* 2 x 3 rank one u v^T, u = (1, 2), v = (2, -1, 2): |u| |v| = 3 sqrt5, then 0 */
        double B[6] = {2, -1, 2, 4, -2, 4}, t[2];
        CHECK_OK(SVD[p](B, 2, 3, t));
        CHECK_NEAR(t[0], 3.0 * sqrt(5.0), 0, 1e-13);
        CHECK_NEAR(t[1], 0.0, 0, 1e-7); /* the reference squares the values: sqrt of a rounding error */
    }
    /* random 25 x 40: the paths agree, and sum s^2 = |A|_F^2 */
    const size_t m = 25, n = 40;
    gm_rng r;
    gm_rng_init(&r, 12, gm_rng_stream_id(GM_STREAM_SIM, 0));
    double *A = malloc(m * n * sizeof(double)), *B = malloc(m * n * sizeof(double)), s[2][25], fro = 0;
    for (size_t i = 0; i < m * n; i++) {
        A[i] = gm_rng_normal(&r);
        fro += A[i] * A[i];
    }
    for (int p = 0; p < 2; p++) {
        memcpy(B, A, m * n * sizeof(double));
        CHECK_OK(SVD[p](B, m, n, s[p]));
        double ss = 0;
        for (size_t i = 0; i < m; i++) ss += s[p][i] * s[p][i];
        CHECK_NEAR(ss, fro, 1e-12, 0);
    }
    for (size_t i = 0; i < m; i++) CHECK_NEAR(s[0][i], s[1][i], 1e-10, 1e-12);
    free(A);
    free(B);
}

GM_TEST(test_cholesky_and_spd_solve) {
    for (int p = 0; p < 2; p++) {
        /* [[4,2],[2,3]] = L L^T with L = [[2,0],[1,sqrt2]]; the strict upper triangle is left alone */
        double A[4] = {4, 2, 2, 3};
        CHECK_OK(CHOL[p](A, 2));
        CHECK_NEAR(A[0], 2.0, 0, 1e-15);
        CHECK_NEAR(A[2], 1.0, 0, 1e-15);
        CHECK_NEAR(A[3], sqrt(2.0), 0, 1e-15);
        CHECK_NEAR(A[1], 2.0, 0, 0);
        /* S^-1 b: [[4,2],[2,3]]^-1 (1, 2) = (3 - 4, -2 + 8) / 8 = (-1/8, 3/4) */
        double S[4] = {4, 2, 2, 3}, b[2] = {1, 2};
        CHECK_OK(SPD[p](S, b, 2, 1));
        CHECK_NEAR(b[0], -0.125, 0, 1e-15);
        CHECK_NEAR(b[1], 0.75, 0, 1e-15);
        /* several right-hand sides: S X = I gives the inverse */
        double S2[4] = {4, 2, 2, 3}, X[4] = {1, 0, 0, 1};
        CHECK_OK(SPD[p](S2, X, 2, 2));
        CHECK_NEAR(X[0], 3.0 / 8, 0, 1e-15);
        CHECK_NEAR(X[1], -2.0 / 8, 0, 1e-15);
        CHECK_NEAR(X[2], -2.0 / 8, 0, 1e-15);
        CHECK_NEAR(X[3], 4.0 / 8, 0, 1e-15);
        /* indefinite and semi-definite inputs: a status with a message, not a crash */
        double I1[4] = {1, 2, 2, 1}, I2[4] = {1, 1, 1, 1}, c[2] = {1, 1};
        CHECK_RC(CHOL[p](I1, 2), GM_ENUMERIC);
        CHECK(strstr(gm_last_error(), "positive definite") != NULL);
        CHECK_RC(SPD[p](I2, c, 2, 1), GM_ENUMERIC);
        double N1[1] = {NAN}, d1[1] = {1};
        CHECK_RC(SPD[p](N1, d1, 1, 1), GM_ENUMERIC);
    }
    /* random 60 x 60 SPD with 3 right-hand sides: residual small, paths agree */
    const size_t n = 60, k = 3;
    gm_rng r;
    gm_rng_init(&r, 13, gm_rng_stream_id(GM_STREAM_SIM, 0));
    double *S = malloc(n * n * sizeof(double)), *W = malloc(n * n * sizeof(double)), *B = malloc(n * k * sizeof(double)),
           *X[2];
    random_spd(&r, S, n);
    for (size_t i = 0; i < n * k; i++) B[i] = gm_rng_normal(&r);
    for (int p = 0; p < 2; p++) {
        X[p] = malloc(n * k * sizeof(double));
        memcpy(W, S, n * n * sizeof(double));
        memcpy(X[p], B, n * k * sizeof(double));
        CHECK_OK(SPD[p](W, X[p], n, k));
        double res = 0;
        for (size_t i = 0; i < n; i++)
            for (size_t c = 0; c < k; c++) {
                double s = -B[i * k + c];
                for (size_t j = 0; j < n; j++) s += S[i * n + j] * X[p][j * k + c];
                res = fmax(res, fabs(s));
            }
        CHECK(res < 1e-10);
    }
    for (size_t i = 0; i < n * k; i++) CHECK_NEAR(X[0][i], X[1][i], 1e-10, 1e-13);
    free(X[0]);
    free(X[1]);
    free(S);
    free(W);
    free(B);
}

GM_TEST(test_lu_solve) {
    for (int p = 0; p < 2; p++) {
        /* [[2,1,1],[4,-6,0],[-2,7,2]] x = (5,-2,9): x = (1,1,2) */
        double A[9] = {2, 1, 1, 4, -6, 0, -2, 7, 2}, b[3] = {5, -2, 9};
        CHECK_OK(LU[p](A, b, 3, 1, 0.0));
        CHECK_NEAR(b[0], 1.0, 0, 1e-14);
        CHECK_NEAR(b[1], 1.0, 0, 1e-14);
        CHECK_NEAR(b[2], 2.0, 0, 1e-14);
        /* a zero leading entry needs the pivoting: [[0,1],[1,0]] X = [[1,2],[3,4]] swaps the rows */
        double P[4] = {0, 1, 1, 0}, X[4] = {1, 2, 3, 4};
        CHECK_OK(LU[p](P, X, 2, 2, 0.0));
        CHECK_NEAR(X[0], 3.0, 0, 0);
        CHECK_NEAR(X[1], 4.0, 0, 0);
        CHECK_NEAR(X[2], 1.0, 0, 0);
        CHECK_NEAR(X[3], 2.0, 0, 0);
        /* singular, and nearly singular under a tolerance */
        double S[4] = {1, 2, 2, 4}, c[2] = {1, 1};
        CHECK_RC(LU[p](S, c, 2, 1, 0.0), GM_ENUMERIC);
        CHECK(strstr(gm_last_error(), "singular") != NULL);
        double T[4] = {1, 1, 1, 1 + 1e-12}, e[2] = {1, 1};
        CHECK_RC(LU[p](T, e, 2, 1, 1e-9), GM_ENUMERIC);
        double U[4] = {1, 1, 1, 1 + 1e-12}, f[2] = {2, 2 + 1e-12};
        CHECK_OK(LU[p](U, f, 2, 1, 0.0)); /* without the tolerance it solves: x = (1, 1) roughly */
        CHECK_NEAR(f[0] + f[1], 2.0, 0, 1e-3);
    }
    /* random 50 x 50: the paths agree */
    const size_t n = 50;
    gm_rng r;
    gm_rng_init(&r, 14, gm_rng_stream_id(GM_STREAM_SIM, 0));
    double *A = malloc(n * n * sizeof(double)), *W = malloc(n * n * sizeof(double)), b[50], x[2][50];
    for (size_t i = 0; i < n * n; i++) A[i] = gm_rng_normal(&r);
    for (size_t i = 0; i < n; i++) b[i] = gm_rng_normal(&r);
    for (int p = 0; p < 2; p++) {
        memcpy(W, A, n * n * sizeof(double));
        memcpy(x[p], b, sizeof b);
        CHECK_OK(LU[p](W, x[p], n, 1, 0.0));
        double res = 0;
        for (size_t i = 0; i < n; i++) {
            double s = -b[i];
            for (size_t j = 0; j < n; j++) s += A[i * n + j] * x[p][j];
            res = fmax(res, fabs(s));
        }
        CHECK(res < 1e-10);
    }
    for (size_t i = 0; i < n; i++) CHECK_NEAR(x[0][i], x[1][i], 1e-8, 1e-11);
    free(A);
    free(W);
}

GM_TEST(test_products_match_loops) {
    /* sizes straddle the 256-row blocks and the parallel threshold */
    const size_t m = 300, n = 270, k = 40;
    gm_rng r;
    gm_rng_init(&r, 15, gm_rng_stream_id(GM_STREAM_SIM, 0));
    double *A = malloc(m * k * sizeof(double)), *B = malloc(n * k * sizeof(double)), *C = malloc(m * n * sizeof(double)),
           *K = malloc(k * n * sizeof(double)), *G = malloc(m * m * sizeof(double)), *H = malloc(k * k * sizeof(double));
    float *Af = malloc(m * k * sizeof(float)), *Bf = malloc(n * k * sizeof(float)), *Cf = malloc(m * n * sizeof(float)),
          *Gf = malloc(m * m * sizeof(float));
    for (size_t i = 0; i < m * k; i++) Af[i] = (float)(A[i] = gm_rng_normal(&r));
    for (size_t i = 0; i < n * k; i++) Bf[i] = (float)(B[i] = gm_rng_normal(&r));
    for (size_t i = 0; i < k * n; i++) K[i] = gm_rng_normal(&r);
    for (size_t i = 0; i < m * n; i++) C[i] = 1.0;
    gm_la_dgemm_nt(m, n, k, 2.0, A, B, 0.5, C);
    gm_la_sgemm_nt(m, n, k, Af, Bf, Cf);
    double e1 = 0, e2 = 0;
    for (size_t i = 0; i < m; i++)
        for (size_t j = 0; j < n; j++) {
            double s = 0, sf = 0;
            for (size_t t = 0; t < k; t++) {
                s += A[i * k + t] * B[j * k + t];
                sf += (double)Af[i * k + t] * (double)Bf[j * k + t];
            }
            e1 = fmax(e1, fabs(C[i * n + j] - (2.0 * s + 0.5)));
            e2 = fmax(e2, fabs((double)Cf[i * n + j] - sf));
        }
    CHECK(e1 < 1e-12);
    CHECK(e2 < 1e-4);
    gm_la_dgemm_nn(m, n, k, A, K, C);
    e1 = 0;
    for (size_t i = 0; i < m; i++)
        for (size_t j = 0; j < n; j++) {
            double s = 0;
            for (size_t t = 0; t < k; t++) s += A[i * k + t] * K[t * n + j];
            e1 = fmax(e1, fabs(C[i * n + j] - s));
        }
    CHECK(e1 < 1e-12);
    gm_la_dsyrk_nt(m, k, A, G);
    gm_la_ssyrk_nt(m, k, Af, Gf);
    gm_la_dsyrk_tn(m, k, A, H);
    e1 = e2 = 0;
    double e3 = 0;
    for (size_t i = 0; i < m; i++)
        for (size_t j = 0; j < m; j++) {
            double s = 0;
            for (size_t t = 0; t < k; t++) s += A[i * k + t] * A[j * k + t];
            e1 = fmax(e1, fabs(G[i * m + j] - s));
            e2 = fmax(e2, fabs((double)Gf[i * m + j] - s));
        }
    for (size_t i = 0; i < k; i++)
        for (size_t j = 0; j < k; j++) {
            double s = 0;
            for (size_t t = 0; t < m; t++) s += A[t * k + i] * A[t * k + j];
            e3 = fmax(e3, fabs(H[i * k + j] - s));
        }
    CHECK(e1 < 1e-12);
    CHECK(e2 < 1e-3);
    CHECK(e3 < 1e-10);
    free(A), free(B), free(C), free(K), free(G), free(H), free(Af), free(Bf), free(Cf), free(Gf);
}

/* The FD building blocks: SYRK accumulated over two row chunks into the upper triangle, then mirrored,
 * equal to loops; L^T S L by triangular products equal to loops (the strict upper part of
 * L, here garbage, is ignored), d = 300 straddles the 256 blocks; 1 and 2 threads give the same bits. */
GM_TEST(test_fd_products_match_loops) {
    const size_t n = 70, d = 300;
    gm_rng r;
    gm_rng_init(&r, 16, gm_rng_stream_id(GM_STREAM_SIM, 0));
    double *A = malloc(n * d * sizeof(double)), *C = malloc(d * d * sizeof(double)), *L = malloc(d * d * sizeof(double)),
           *S = malloc(d * d * sizeof(double)), *M = malloc(d * d * sizeof(double)), *M2 = malloc(d * d * sizeof(double));
    for (size_t i = 0; i < n * d; i++) A[i] = gm_rng_normal(&r);
    for (size_t i = 0; i < d * d; i++) {
        C[i] = i % d >= i / d ? 1.0 : -7.0; /* upper 1 (added to), lower -7 (overwritten by the mirror) */
        L[i] = gm_rng_normal(&r);
        S[i] = gm_rng_normal(&r);
    }
    gm_la_dsyrk_tn_add(40, d, A, C);
    gm_la_dsyrk_tn_add(n - 40, d, A + 40 * d, C);
    gm_la_mirror_upper(C, d);
    double e1 = 0, e2 = 0;
    for (size_t i = 0; i < d; i++)
        for (size_t j = 0; j < d; j++) {
            double s = 1.0;
            for (size_t t = 0; t < n; t++) s += A[t * d + i] * A[t * d + j];
            e1 = fmax(e1, fabs(C[i * d + j] - s));
        }
    CHECK_NEAR(e1, 0, 0, 1e-11);
#ifdef _OPENMP
    int saved = omp_get_max_threads();
    omp_set_num_threads(1);
    gm_la_dcongruence_lower(d, L, S, M2);
    omp_set_num_threads(2);
#endif
    gm_la_dcongruence_lower(d, L, S, M);
#ifdef _OPENMP
    omp_set_num_threads(saved);
    CHECK(memcmp(M, M2, d * d * sizeof(double)) == 0);
#endif
    double *T = malloc(d * d * sizeof(double)); /* T = L^T S, lower part of L only */
    for (size_t i = 0; i < d; i++)
        for (size_t j = 0; j < d; j++) {
            double s = 0;
            for (size_t k = i; k < d; k++) s += L[k * d + i] * S[k * d + j];
            T[i * d + j] = s;
        }
    for (size_t i = 0; i < d; i++)
        for (size_t j = 0; j < d; j++) {
            double s = 0;
            for (size_t k = j; k < d; k++) s += T[i * d + k] * L[k * d + j];
            e2 = fmax(e2, fabs(M[i * d + j] - s) / (1.0 + fabs(s)));
        }
    CHECK_NEAR(e2, 0, 0, 1e-12);
    free(A), free(C), free(L), free(S), free(M), free(M2), free(T);
}

/* The SYRK row blocks (a DSYRK on each 256-row diagonal block, a GEMM right of it): d = 600 gives two full
 * blocks and a partial one; C starts as NaN (beta 0 must not read it, the mirror overwrites the lower
 * halves), the result equals loops, and 1 and 2 threads give the same bits. */
GM_TEST(test_syrk_blocks_threads) {
    const size_t n = 50, d = 600;
    gm_rng r;
    gm_rng_init(&r, 17, gm_rng_stream_id(GM_STREAM_SIM, 0));
    double *A = malloc(n * d * sizeof(double)), *C = malloc(d * d * sizeof(double)), *C2 = malloc(d * d * sizeof(double));
    for (size_t i = 0; i < n * d; i++) A[i] = gm_rng_normal(&r);
    for (size_t i = 0; i < d * d; i++) C[i] = C2[i] = NAN;
#ifdef _OPENMP
    int saved = omp_get_max_threads();
    omp_set_num_threads(1);
#endif
    gm_la_dsyrk_tn(n, d, A, C2);
#ifdef _OPENMP
    omp_set_num_threads(2);
#endif
    gm_la_dsyrk_tn(n, d, A, C);
#ifdef _OPENMP
    omp_set_num_threads(saved);
#endif
    CHECK(memcmp(C, C2, d * d * sizeof(double)) == 0);
    double e = 0;
    for (size_t i = 0; i < d; i++)
        for (size_t j = 0; j < d; j++) {
            double s = 0;
            for (size_t t = 0; t < n; t++) s += A[t * d + i] * A[t * d + j];
            e = fmax(e, fabs(C[i * d + j] - s)); /* NaN left anywhere makes e NaN and fails */
            if (isnan(C[i * d + j])) e = INFINITY;
        }
    CHECK_NEAR(e, 0, 0, 1e-11);
    free(A), free(C), free(C2);
}

GM_TEST(test_alloc_failure) {
    /* the Jacobi reference allocates: every failure point returns GM_ENOMEM and nothing leaks (ASan) */
    for (long k = 1;; k++) {
        double A[9] = {2, 1, 0, 1, 2, 1, 0, 1, 2}, w[3];
        gm_alloc_fail_nth(k, 0);
        int rc = gm_la_syev_ref(A, 3, w, 1);
        gm_alloc_fail_nth(0, 0);
        if (rc == GM_OK) {
            CHECK(k > 1);
            CHECK_NEAR(w[1], 2.0, 0, 1e-14);
            break;
        }
        CHECK_RC(rc, GM_ENOMEM);
        if (k > 10) break;
    }
    for (long k = 1;; k++) {
        double A[6] = {1, 2, 3, 4, 5, 6}, s[2];
        gm_alloc_fail_nth(k, 0);
        int rc = gm_la_svd_values_ref(A, 2, 3, s);
        gm_alloc_fail_nth(0, 0);
        if (rc == GM_OK) break;
        CHECK_RC(rc, GM_ENOMEM);
        if (k > 10) break;
    }
    double v[3] = {3, 1, 2}, q;
    gm_alloc_fail_nth(1, 0);
    CHECK_RC(gm_percentile(v, 3, 50, &q), GM_ENOMEM);
    gm_alloc_fail_nth(0, 0);
}

GM_TEST(test_order_statistics) {
    /* np.percentile([5, 1, 4, 2, 3], q): q = 50 -> 3, 2.5 -> 1.1, 100 -> 5, 0 -> 1 */
    double v[5] = {5, 1, 4, 2, 3}, q;
    CHECK_OK(gm_percentile(v, 5, 50, &q));
    CHECK_NEAR(q, 3.0, 0, 0);
    CHECK_OK(gm_percentile(v, 5, 2.5, &q));
    CHECK_NEAR(q, 1.1, 1e-14, 0);
    CHECK_OK(gm_percentile(v, 5, 100, &q));
    CHECK_NEAR(q, 5.0, 0, 0);
    CHECK_OK(gm_percentile(v, 5, 0, &q));
    CHECK_NEAR(q, 1.0, 0, 0);
    CHECK(v[0] == 5 && v[1] == 1); /* input untouched */
    CHECK_OK(gm_percentile(v, 0, 50, &q));
    CHECK(isnan(q));
    /* median of an even count: the mean of the two middle values */
    double s[4] = {4, 1, 3, 2};
    gm_sort_f64(s, 4);
    CHECK(s[0] == 1 && s[1] == 2 && s[2] == 3 && s[3] == 4);
    CHECK_NEAR(gm_median_sorted(s, 4), 2.5, 0, 0);
    CHECK_NEAR(gm_median_sorted(s, 3), 2.0, 0, 0);
    CHECK_NEAR(gm_percentile_sorted(s, 4, 50), 2.5, 0, 0);
    CHECK(isnan(gm_median_sorted(s, 0)));
    CHECK(isnan(gm_percentile_sorted(s, 0, 10)));
}

/* eigenvalues only (two-stage reduction) vs dsyevd on a random symmetric 300 x 300 matrix, and the
 * closed form of diag(1..n) under an orthogonal similarity (a Householder reflection) */
GM_TEST(test_syev_values) {
    const size_t n = 300;
    gm_rng r;
    gm_rng_init(&r, 5, gm_rng_stream_id(GM_STREAM_SIM, 0));
    double *A = malloc(n * n * sizeof(double)), *B = malloc(n * n * sizeof(double)), *u = malloc(n * sizeof(double));
    double *w1 = malloc(n * sizeof(double)), *w2 = malloc(n * sizeof(double));
    for (size_t i = 0; i < n; i++)
        for (size_t j = 0; j <= i; j++) A[i * n + j] = A[j * n + i] = gm_rng_normal(&r);
    memcpy(B, A, n * n * sizeof(double));
    CHECK_OK(gm_la_syev(A, n, w1, 0));
    CHECK_OK(gm_la_syev_values(B, n, w2));
    for (size_t i = 0; i < n; i++) CHECK_NEAR(w2[i], w1[i], 0, 1e-12 * fabs(w1[n - 1]));
    double nu = 0; /* H diag(1..n) H with H = I - 2 u u^T / u^T u */
    for (size_t i = 0; i < n; i++) {
        u[i] = gm_rng_normal(&r);
        nu += u[i] * u[i];
    }
    for (size_t i = 0; i < n; i++)
        for (size_t j = 0; j < n; j++) {
            double s = 0;
            for (size_t k = 0; k < n; k++) {
                double hik = (i == k) - 2 * u[i] * u[k] / nu, hkj = (k == j) - 2 * u[k] * u[j] / nu;
                s += hik * (double)(k + 1) * hkj;
            }
            A[i * n + j] = s;
        }
    CHECK_OK(gm_la_syev_values(A, n, w2));
    for (size_t i = 0; i < n; i++) CHECK_NEAR(w2[i], (double)(i + 1), 0, 1e-11);
    CHECK_OK(gm_la_syev_values(A, 0, w2));
    free(A);
    free(B);
    free(u);
    free(w1);
    free(w2);
}

/* The eigenvalues-only path reduces to a band of half-width 32 by its own blocked Householder panels
 * (src/linalg/linalg_eig.c): sizes around the panel width and the row-block size (1, 2, 32, 33, 64, 65,
 * 97, 161), matrices with widely spread eigenvalues (Q diag(10^k) Q^T, Q a product of two reflections,
 * known to 1e-13 of the largest), agreement with dsyevd, and the same bits for 1 and 2 threads. */
GM_TEST(test_syev_values_band_sizes) {
    const size_t sizes[] = {1, 2, 32, 33, 64, 65, 97, 161};
    gm_rng r;
    gm_rng_init(&r, 11, gm_rng_stream_id(GM_STREAM_SIM, 1));
    for (size_t t = 0; t < sizeof sizes / sizeof sizes[0]; t++) {
        size_t n = sizes[t];
        double *A = malloc(n * n * sizeof(double)), *B = malloc(n * n * sizeof(double));
        double *u = malloc(n * sizeof(double)), *v = malloc(n * sizeof(double)), *lam = malloc(n * sizeof(double));
        double *w1 = malloc(n * sizeof(double)), *w2 = malloc(n * sizeof(double));
        double nu = 0, nv = 0;
        for (size_t i = 0; i < n; i++) {
            u[i] = gm_rng_normal(&r);
            v[i] = gm_rng_normal(&r);
            nu += u[i] * u[i];
            nv += v[i] * v[i];
            lam[i] = (i % 2 ? -1.0 : 1.0) * pow(10.0, -6.0 + 8.0 * (double)i / (double)(n > 1 ? n - 1 : 1));
        }
        /* A = Hu Hv diag(lam) Hv Hu, entry by entry from the two reflections */
        for (size_t i = 0; i < n; i++)
            for (size_t j = 0; j < n; j++) {
                double s = 0;
                for (size_t k = 0; k < n; k++) {
                    double qik = 0, qjk = 0; /* (Hu Hv)[i][k] = Hv[i][k] - 2 u_i (u . Hv[:,k]) / nu */
                    double uhk = 0;
                    for (size_t l = 0; l < n; l++) uhk += u[l] * ((l == k) - 2 * v[l] * v[k] / nv);
                    qik = ((i == k) - 2 * v[i] * v[k] / nv) - 2 * u[i] * uhk / nu;
                    qjk = ((j == k) - 2 * v[j] * v[k] / nv) - 2 * u[j] * uhk / nu;
                    s += qik * lam[k] * qjk;
                }
                A[i * n + j] = s;
            }
        for (size_t i = 0; i < n; i++) /* exactly symmetric input */
            for (size_t j = 0; j < i; j++) A[j * n + i] = A[i * n + j];
        double lmax = 100.0;
        memcpy(B, A, n * n * sizeof(double));
        CHECK_OK(gm_la_syev(B, n, w1, 0)); /* dsyevd */
#ifdef _OPENMP
        int saved = omp_get_max_threads();
        omp_set_num_threads(1);
#endif
        memcpy(B, A, n * n * sizeof(double));
        CHECK_OK(gm_la_syev_values(B, n, w2));
#ifdef _OPENMP
        double *w3 = malloc(n * sizeof(double));
        omp_set_num_threads(2);
        memcpy(B, A, n * n * sizeof(double));
        CHECK_OK(gm_la_syev_values(B, n, w3));
        omp_set_num_threads(saved);
        CHECK(memcmp(w2, w3, n * sizeof(double)) == 0);
        free(w3);
#endif
        gm_sort_f64(lam, n);
        double md = 0, ml = 0;
        for (size_t i = 0; i < n; i++) {
            md = fmax(md, fabs(w2[i] - w1[i]));
            ml = fmax(ml, fabs(w2[i] - lam[i]));
        }
        CHECK_NEAR(md, 0, 0, 1e-13 * lmax);
        CHECK_NEAR(ml, 0, 0, 1e-13 * lmax);
        if (md > 1e-13 * lmax || ml > 1e-13 * lmax) printf("  n = %zu: max |w - dsyevd| %.3g, max |w - lambda| %.3g\n", n, md, ml);
        free(A);
        free(B);
        free(u);
        free(v);
        free(lam);
        free(w1);
        free(w2);
    }
}

GM_TEST_MAIN({"syev_values", test_syev_values}, {"syev_values_band_sizes", test_syev_values_band_sizes}, {"syev_closed_form", test_syev_closed_form}, {"syev_random_paths_agree", test_syev_random_paths_agree},
             {"svd_closed_form", test_svd_closed_form}, {"cholesky_and_spd_solve", test_cholesky_and_spd_solve},
             {"lu_solve", test_lu_solve}, {"products_match_loops", test_products_match_loops}, {"fd_products_match_loops", test_fd_products_match_loops}, {"syrk_blocks_threads", test_syrk_blocks_threads},
             {"alloc_failure", test_alloc_failure}, {"order_statistics", test_order_statistics})
