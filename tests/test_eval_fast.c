/* SPDX-License-Identifier: MIT */
/* test_eval_fast.c — the fast paths of the torch-fidelity profile: the float32 KID kernel sums (8 interleaved
 * partial sums per Gram row) against a naive float32 double loop, for the polynomial and RBF kernels and
 * both the one-subset and the parallel-subsets paths, and their thread invariance; the k-NN P/R-only
 * pass (tile-diagonal SYRK items, per-item early exit once every row and column is inside a ball) against
 * the naive full-matrix reference, against the general pass (density/coverage on), across thread counts,
 * and through the streaming API. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "gm_test.h"
#include "genmix/eval.h"
#include "eval_data.h"

/* Float32 kernel value of rows a, b (d columns) as the KID profile computes it: the dot product rounded
 * to float, then (gamma g + coef0)^3 or exp(-(|a|² + |b|² - 2g) / 2σ²) in float. */
static float naive_k32(const float *a, const float *b, size_t d, const gm_kernel *k) {
    double g = 0, na = 0, nb = 0;
    for (size_t t = 0; t < d; t++) {
        g += (double)a[t] * (double)b[t];
        na += (double)a[t] * (double)a[t];
        nb += (double)b[t] * (double)b[t];
    }
    if (k->kind == GM_KERNEL_RBF)
        return expf(-((float)na + (float)nb - 2.0f * (float)g) / (float)(2 * k->sigma * k->sigma));
    float x = (1.0f / (float)d) * (float)g + 1.0f;
    return x * x * x;
}

/* Unbiased MMD² (torch-fidelity's) over all rows of x (fake) and y (real), n rows each. */
static double naive_mmd32(const float *x, const float *y, size_t n, size_t d, const gm_kernel *k) {
    double sxx = 0, syy = 0, sxy = 0;
    for (size_t i = 0; i < n; i++)
        for (size_t j = 0; j < n; j++) {
            if (i != j) {
                sxx += (double)naive_k32(x + i * d, x + j * d, d, k);
                syy += (double)naive_k32(y + i * d, y + j * d, d, k);
            }
            sxy += (double)naive_k32(x + i * d, y + j * d, d, k);
        }
    double m = (double)n;
    return (sxx + syy) / (m * (m - 1)) - 2 * sxy / (m * m);
}

static float *to_f32(const double *x, size_t n) {
    float *o = malloc(n * sizeof(float));
    for (size_t i = 0; i < n; i++) o[i] = (float)x[i];
    return o;
}

GM_TEST(test_kid_f32_naive) {
    size_t n = 301, d = 24; /* rows of every length mod 8 */
    double *R = make_splitmix(41, n, d, 1.0, 0.0, 0.2), *F = make_splitmix(42, n, d, 1.2, 0.15, 0.0);
    float *R32 = to_f32(R, n * d), *F32 = to_f32(F, n * d);
    gm_feats r = gm_feats_f32(R32, n, d), f = gm_feats_f32(F32, n, d);
    gm_kernel kernels[2] = {gm_kernel_poly3(), gm_kernel_rbf_sigma(1.5)};
    for (int ki = 0; ki < 2; ki++) {
        double want = naive_mmd32(F32, R32, n, d, &kernels[ki]);
        CHECK(fabs(want) > 1e-3); /* shifted sets: a value that cancellation does not swamp */
        gm_kid_config kc = gm_kid_config_default();
        kc.f32 = 1;
        kc.kernel = kernels[ki];
        kc.subset_size = n; /* every subset is a permutation of all rows: the full-set value */
        double per[2];
        for (size_t S = 1; S <= 2; S++) { /* 1: one subset, blocked helpers; 2: parallel subsets, BLAS calls */
            kc.subsets = S;
            gm_kid_result kid;
            CHECK_OK(gm_kid(&r, &f, &kc, &kid, per));
            for (size_t s = 0; s < S; s++) CHECK_NEAR(per[s], want, 2e-6, 0);
        }
    }
    free(R);
    free(F);
    free(R32);
    free(F32);
}

GM_TEST(test_kid_f32_threads) {
    size_t n = 420, d = 33;
    double *R = make_splitmix(43, n, d, 1.0, 0.0, 0.2), *F = make_splitmix(44, n, d, 1.1, 0.05, 0.0);
    float *R32 = to_f32(R, n * d), *F32 = to_f32(F, n * d);
    gm_feats r = gm_feats_f32(R32, n, d), f = gm_feats_f32(F32, n, d);
    gm_kid_config kc = gm_kid_config_default();
    kc.f32 = 1;
    kc.subsets = 5;
    kc.subset_size = 211;
    gm_kid_result kid[2];
    double per[2][5];
    for (int t = 0; t < 2; t++) {
        gm_test_set_threads(t + 1);
        CHECK_OK(gm_kid(&r, &f, &kc, &kid[t], per[t]));
    }
    gm_test_set_threads(2);
    CHECK(memcmp(&kid[0].mean, &kid[1].mean, sizeof(double)) == 0);
    CHECK(memcmp(&kid[0].std, &kid[1].std, sizeof(double)) == 0);
    CHECK(memcmp(per[0], per[1], sizeof per[0]) == 0);
    CHECK(kid[0].std > 0);
    free(R);
    free(F);
    free(R32);
    free(F32);
}

/* P/R flags of a against b, byte for byte. */
static void check_same_pr(const gm_knn_result *a, const gm_knn_result *b) {
    CHECK(a->precision == b->precision && a->recall == b->recall);
    CHECK(memcmp(a->fake_in_real, b->fake_in_real, a->n_fake) == 0);
    CHECK(memcmp(a->real_in_fake, b->real_in_fake, a->n_real) == 0);
}

/* A P/R-only run (the torch-fidelity profile: k 3, <=, no density/coverage) of real r and fake f. */
static void check_pr_only(const gm_feats *r, const gm_feats *f, size_t tile, int f32) {
    gm_knn_config c = gm_knn_config_default();
    c.want_dc = 0;
    c.tile = tile;
    c.f32 = f32;
    gm_knn_result a, ref, gen, t1, st;
    CHECK_OK(gm_knn(r, f, &c, &a));
    CHECK_OK(gm_knn_ref(r, f, &c, &ref));
    check_same_pr(&a, &ref);
    for (size_t i = 0; i < r->n; i++) CHECK_NEAR(a.radius_real_pr[i], ref.radius_real_pr[i], f32 ? 1e-5 : 1e-12, 0);
    for (size_t j = 0; j < f->n; j++) CHECK_NEAR(a.radius_fake_pr[j], ref.radius_fake_pr[j], f32 ? 1e-5 : 1e-12, 0);
    /* the general pass (no early exit) finds the same P/R flags and radii */
    gm_knn_config cg = c;
    cg.want_dc = 1;
    CHECK_OK(gm_knn(r, f, &cg, &gen));
    check_same_pr(&a, &gen);
    if (f32) { /* float32 P/R alone is the certified engine (exact double distances of the float32 rows,
                  eval_knn_cert.c); the general pass keeps float32 SGEMM dot products: same flags, radii
                  equal up to the SGEMM rounding */
        for (size_t i = 0; i < r->n; i++) CHECK_NEAR(gen.radius_real_pr[i], a.radius_real_pr[i], 1e-5, 0);
    } else {
        CHECK(memcmp(a.radius_real_pr, gen.radius_real_pr, r->n * sizeof(double)) == 0);
    }
    gm_test_set_threads(1);
    CHECK_OK(gm_knn(r, f, &c, &t1));
    gm_test_set_threads(2);
    check_same_pr(&a, &t1);
    CHECK(memcmp(a.radius_fake_pr, t1.radius_fake_pr, f->n * sizeof(double)) == 0);
    gm_knn_stream *s;
    CHECK_OK(gm_knn_stream_create(&s, r->d, &c));
    CHECK_OK(gm_knn_stream_feed(s, GM_KNN_REAL, r));
    CHECK_OK(gm_knn_stream_feed(s, GM_KNN_FAKE, f));
    CHECK_OK(gm_knn_stream_finish(s, &st));
    gm_knn_stream_free(s);
    check_same_pr(&a, &st);
    gm_knn_result_free(&a);
    gm_knn_result_free(&ref);
    gm_knn_result_free(&gen);
    gm_knn_result_free(&t1);
    gm_knn_result_free(&st);
}

GM_TEST(test_pr_only_pass) {
    size_t nr = 520, nf = 410, d = 16;
    double *R = make_splitmix(51, nr, d, 1.0, 0.0, 0.2), *F = make_splitmix(52, nf, d, 1.1, 0.03, 0.0);
    gm_feats r = gm_feats_f64(R, nr, d), f = gm_feats_f64(F, nf, d);
    check_pr_only(&r, &f, 64, 0);
    check_pr_only(&r, &f, 37, 1); /* odd tile: ragged diagonal SYRK items */
    /* fakes = the first reals: every item of a real block meets its own rows at distance 0, so later items
     * are skipped; all inside */
    gm_feats same = gm_feats_f64(R, 300, d);
    check_pr_only(&r, &same, 50, 0);
    gm_knn_config c = gm_knn_config_default();
    c.want_dc = 0;
    c.tile = 50;
    gm_knn_result k;
    CHECK_OK(gm_knn(&r, &same, &c, &k));
    CHECK(k.precision == 1.0 && k.recall < 1.0);
    gm_knn_result_free(&k);
    /* fakes squeezed into the middle of the reals: fakes covered early, reals far from the fakes are not */
    double *S = malloc(nf * d * sizeof(double));
    for (size_t i = 0; i < nf * d; i++) S[i] = 0.5 + 0.3 * (F[i] - 0.55);
    gm_feats sq = gm_feats_f64(S, nf, d);
    check_pr_only(&r, &sq, 40, 0);
    free(S);
    free(R);
    free(F);
}

GM_TEST_MAIN({"kid_f32_naive", test_kid_f32_naive}, {"kid_f32_threads", test_kid_f32_threads},
             {"pr_only_pass", test_pr_only_pass})
