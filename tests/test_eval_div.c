/* SPDX-License-Identifier: MIT */
/* test_eval_div.c — Vendi, RKE/RRKE, Inception Score and PRD: spec §9 vectors, the public README cases,
 * closed forms (identical / orthogonal points, separated clusters), NumPy fixtures and thread invariance. */
#include "gm_test.h"
#include "genmix/eval.h"
#include "eval_data.h"

GM_TEST(test_vendi_known) {
    double K6[36];
    double x[6] = {0, 0, 10, 10, 20, 20};
    for (int i = 0; i < 6; i++)
        for (int j = 0; j < 6; j++) K6[i * 6 + j] = exp(-fabs(x[i] - x[j]));
    double v;
    CHECK_OK(gm_vendi_from_kernel(K6, 6, 1, &v));
    CHECK_NEAR(v, 2.9999999958777006, 1e-12, 0);
    double K3[9] = {1, .9, 0, .9, 1, 0, 0, 0, 1};
    CHECK_OK(gm_vendi_from_kernel(K3, 3, 1, &v));
    CHECK_NEAR(v, 2.1573004833739833, 1e-12, 0);
    CHECK_OK(gm_vendi_from_kernel(K3, 3, 2, &v));
    CHECK_NEAR(v, 1.948051948051948, 1e-12, 0);
    CHECK_OK(gm_vendi_from_kernel(K3, 3, INFINITY, &v));
    CHECK_NEAR(v, 1.5789473684210527, 1e-12, 0);
    /* identical points -> 1, orthogonal points -> n (cosine, primal n <= d and dual n > d) */
    double X[8 * 8] = {0}, Y[12 * 3];
    for (int i = 0; i < 8; i++) X[i * 8 + i] = 1 + i;
    gm_feats fx = gm_feats_f64(X, 8, 8);
    gm_kernel cs = {GM_KERNEL_COSINE, 0, 0, 0, 0};
    for (double q = 0.5; q < 4; q += 1.5) {
        CHECK_OK(gm_vendi(&fx, &cs, q, &v, NULL));
        CHECK_NEAR(v, 8, 1e-12, 0);
    }
    for (int i = 0; i < 12; i++) {
        Y[i * 3] = 2;
        Y[i * 3 + 1] = -1;
        Y[i * 3 + 2] = 0.5;
    }
    gm_feats fy = gm_feats_f64(Y, 12, 3);
    size_t clamped = 0;
    CHECK_OK(gm_vendi(&fy, &cs, 1, &v, &clamped));
    CHECK_NEAR(v, 1, 1e-12, 0);
    CHECK_INT_EQ(clamped, 2);
    gm_kernel rb = gm_kernel_rbf_sigma(1.0);
    CHECK_OK(gm_vendi(&fy, &rb, 2, &v, NULL));
    CHECK_NEAR(v, 1, 1e-12, 0);
    CHECK_RC(gm_vendi(&fy, &cs, -1, &v, NULL), GM_EINVAL);
}

GM_TEST(test_vendi_spec_and_golden) {
    double *G = make91(200, 16, 1, 1.0, 0.0);
    gm_feats g = gm_feats_f64(G, 200, 16);
    gm_kernel cs = {GM_KERNEL_COSINE, 0, 0, 0, 0};
    double v;
    CHECK_OK(gm_vendi(&g, &cs, 1, &v, NULL));
    CHECK_NEAR(v, 3.37730110488354, 1e-10, 0);
    CHECK_OK(gm_vendi(&g, &cs, 2, &v, NULL));
    CHECK_NEAR(v, 1.74702250739073, 1e-10, 0);
    CHECK_OK(gm_vendi(&g, &cs, INFINITY, &v, NULL));
    CHECK_NEAR(v, 1.32674975128072, 1e-10, 0);
    CHECK_OK(gm_vendi(&g, &cs, 0.5, &v, NULL));
    CHECK_NEAR(v, 7.69646343734785, 1e-6, 0);
    free(G);
    double *F = make_splitmix(12, 300, 24, 1.1, 0.05, 0.0);
    gm_feats f = gm_feats_f64(F, 300, 24);
    CHECK_OK(gm_vendi(&f, &cs, 1, &v, NULL));
    CHECK_NEAR(v, golden("vendi_cos_q1"), 1e-10, 0);
    CHECK_OK(gm_vendi(&f, &cs, 2, &v, NULL));
    CHECK_NEAR(v, golden("vendi_cos_q2"), 1e-10, 0);
    CHECK_OK(gm_vendi(&f, &cs, INFINITY, &v, NULL));
    CHECK_NEAR(v, golden("vendi_cos_qinf"), 1e-10, 0);
    CHECK_OK(gm_vendi(&f, &cs, 0.5, &v, NULL));
    CHECK_NEAR(v, golden("vendi_cos_q0.5"), 1e-6, 0);
    gm_kernel rb = gm_kernel_rbf_sigma(2.0);
    CHECK_OK(gm_vendi(&f, &rb, 1, &v, NULL));
    CHECK_NEAR(v, golden("vendi_rbf2_q1"), 1e-6, 0);
    free(F);
}

GM_TEST(test_rke_spec_and_golden) {
    double *G = make91(200, 16, 1, 1.0, 0.0), *R = make91(300, 16, 7, 1.2, 0.1);
    gm_feats g = gm_feats_f64(G, 200, 16), r = gm_feats_f64(R, 300, 16);
    double sig[2] = {1.0, 0.5}, fr[2], v;
    CHECK_OK(gm_rke_frobenius(&g, sig, 2, 64, fr));
    CHECK_NEAR(fr[0], 0.0923500366173219, 1e-12, 0);
    CHECK_NEAR(fr[1], 0.00770753674622604, 1e-12, 0);
    CHECK_NEAR(1 / fr[0], 10.828366036754, 1e-12, 0);
    CHECK_NEAR(1 / fr[1], 129.743137519214, 1e-12, 0);
    CHECK_OK(gm_rrke(&g, &r, 1.0, &v));
    CHECK_NEAR(v, 0.846352054412646, 1e-12, 0);
    CHECK_OK(gm_rrke(&g, &r, 0.5, &v));
    CHECK_NEAR(v, 3.15504905955973, 1e-12, 0);
    /* Vendi q = 2 with the same Gaussian kernel is the RKE mode count */
    gm_kernel rb = gm_kernel_rbf_sigma(1.0);
    CHECK_OK(gm_vendi(&g, &rb, 2, &v, NULL));
    CHECK_NEAR(v, 1 / fr[0], 1e-12, 0);
    /* Monte-Carlo variant: 1 / mean of P uniform-pair terms exp(-d^2/sigma^2), whose exact mean is fr[0] and
     * whose second moment is the same Frobenius figure at sigma / sqrt 2. Delta method:
     * SE(1/mean) = sqrt((E[k^4] - fr^2) / P) / fr^2; the estimate must lie within 5 SE (seed fixed). */
    {
        const size_t P = 4000000;
        double s4 = 1 / sqrt(2.0), m2;
        CHECK_OK(gm_rke_frobenius(&g, &s4, 1, 64, &m2));
        double se = sqrt((m2 - fr[0] * fr[0]) / (double)P) / (fr[0] * fr[0]);
        CHECK(se > 0 && se < 0.002 / fr[0]); /* the bound is tighter than 0.2 % */
        CHECK_OK(gm_rke_mc(&g, 1.0, P, 7, &v));
        CHECK_NEAR(v, 1 / fr[0], 0, 5 * se);
        if (getenv("GC_VERBOSE")) fprintf(stderr, "  rke_mc %.6f exact %.6f se %.2e\n", v, 1 / fr[0], se);
    }
    free(G);
    free(R);
    double *F = make_splitmix(12, 300, 24, 1.1, 0.05, 0.0), *RR = make_splitmix(11, 400, 24, 1.0, 0.0, 0.3);
    gm_feats f = gm_feats_f64(F, 300, 24), rr = gm_feats_f64(RR, 400, 24);
    double s2[2] = {1.0, 2.0};
    CHECK_OK(gm_rke_frobenius(&f, s2, 2, 0, fr));
    CHECK_NEAR(fr[0], golden("rke_frob_s1"), 1e-12, 0);
    CHECK_NEAR(fr[1], golden("rke_frob_s2"), 1e-12, 0);
    CHECK_OK(gm_rrke(&f, &rr, 1.0, &v));
    CHECK_NEAR(v, golden("rrke_s1"), 1e-10, 0);
    CHECK_OK(gm_rrke(&f, &rr, 2.0, &v));
    CHECK_NEAR(v, golden("rrke_s2"), 1e-10, 0);
    free(F);
    free(RR);
}

GM_TEST(test_rke_separated_clusters) {
    /* 4 tight clusters of 50 points, 100 apart, sigma 1: K is block-diagonal ones, mode count 4 */
    size_t n = 200, d = 3;
    double *X = make_splitmix(9, n, d, 0.01, 0.0, 0.0);
    for (size_t i = 0; i < n; i++) X[i * d] += 100.0 * (double)(i / 50);
    gm_feats x = gm_feats_f64(X, n, d);
    double s = 1.0, fr, v;
    CHECK_OK(gm_rke_frobenius(&x, &s, 1, 16, &fr));
    CHECK_NEAR(1 / fr, 4.0, 1e-3, 0);
    gm_kernel rb = gm_kernel_rbf_sigma(1.0);
    CHECK_OK(gm_vendi(&x, &rb, 1, &v, NULL));
    CHECK_NEAR(v, 4.0, 1e-3, 0);
    free(X);
}

/* A tile at least the row count is one tile: the same bits for any larger tile, and no allocation of its
 * size (tile = 2^62 wrapped tile² x 8 bytes to a few bytes and overran the heap). */
GM_TEST(test_rke_tile_beyond_n) {
    size_t n = 90, d = 3;
    double *X = make_splitmix(19, n, d, 1.0, 0.0, 0.0);
    gm_feats x = gm_feats_f64(X, n, d);
    double s[2] = {0.5, 2.0}, want[2], got[2];
    CHECK_OK(gm_rke_frobenius(&x, s, 2, n, want));
    static const size_t tiles[] = {91, 4096, (size_t)1 << 33, (size_t)1 << 62, SIZE_MAX};
    for (int i = 0; i < 5; i++) {
        CHECK_OK(gm_rke_frobenius(&x, s, 2, tiles[i], got));
        CHECK(got[0] == want[0] && got[1] == want[1]);
    }
    free(X);
}

GM_TEST(test_inception_score) {
    double *L = malloc(1000 * 10 * sizeof(double));
    for (int i = 0; i < 1000; i++)
        for (int c = 0; c < 10; c++) L[i * 10 + c] = feat91(i, c, 3, 6.0, -3.0);
    gm_feats l = gm_feats_f64(L, 1000, 10);
    double m, s;
    CHECK_OK(gm_inception_score(&l, 0, 10, GM_IS_SHUFFLE_NONE, 0, &m, &s));
    CHECK_NEAR(m, 2.05588127607553, 1e-10, 0);
    CHECK_NEAR(s, 0.0155848648547273, 1e-10, 0);
    CHECK_OK(gm_inception_score(&l, 0, 10, GM_IS_SHUFFLE_MT2020, 0, &m, &s));
    CHECK_NEAR(m, 2.05497874245396, 1e-10, 0);
    CHECK_NEAR(s, 0.0648870291603368, 1e-10, 0);
    free(L);
    double *Z = make_splitmix(31, 1000, 10, 6.0, -3.0, 0.0);
    gm_feats z = gm_feats_f64(Z, 1000, 10);
    CHECK_OK(gm_inception_score(&z, 0, 10, GM_IS_SHUFFLE_NONE, 0, &m, &s));
    CHECK_NEAR(m, golden("is_mean"), 1e-10, 0);
    CHECK_NEAR(s, golden("is_std"), 1e-10, 0);
    CHECK_OK(gm_inception_score(&z, 0, 10, GM_IS_SHUFFLE_MT2020, 0, &m, &s));
    CHECK_NEAR(m, golden("is_perm_mean"), 1e-10, 0);
    CHECK_NEAR(s, golden("is_perm_std"), 1e-10, 0);
    /* probabilities: one-hot uniform over 10 classes -> IS = 10; bad rows rejected */
    double P[100 * 10] = {0};
    for (int i = 0; i < 100; i++) P[i * 10 + i % 10] = 1;
    gm_feats p = gm_feats_f64(P, 100, 10);
    CHECK_OK(gm_inception_score(&p, 1, 1, GM_IS_SHUFFLE_NONE, 0, &m, &s));
    CHECK_NEAR(m, 10, 1e-12, 0);
    P[5] = 0.5;
    CHECK_RC(gm_inception_score(&p, 1, 1, GM_IS_SHUFFLE_NONE, 0, &m, &s), GM_EINVAL);
    free(Z);
}

GM_TEST(test_prd_reference_cases) {
    double P[11], R[11];
    double e1[2] = {0, 1}, r1[2] = {1, 0}, e2[2] = {1, 0}, e3[2] = {.5, .5};
    CHECK_OK(gm_prd_from_histograms(e1, r1, 2, 11, P, R));
    for (int i = 0; i < 11; i++) CHECK(P[i] == 0 && R[i] == 0);
    CHECK_OK(gm_prd_from_histograms(e2, r1, 2, 11, P, R));
    CHECK_NEAR(P[5], 1, 1e-7, 0);
    CHECK_NEAR(R[5], 1, 1e-7, 0);
    CHECK_OK(gm_prd_from_histograms(e3, r1, 2, 11, P, R));
    CHECK_NEAR(P[5], .5, 1e-7, 0);
    CHECK_NEAR(R[5], .5, 1e-7, 0);
    CHECK_NEAR(P[10], .5, 1e-7, 0);
    CHECK_NEAR(R[1], 1, 1e-7, 0);
    CHECK_OK(gm_prd_from_histograms(r1, e3, 2, 11, P, R));
    CHECK_NEAR(P[5], .5, 1e-7, 0);
    CHECK_NEAR(R[5], .5, 1e-7, 0);
    CHECK_NEAR(R[1], .5, 1e-7, 0);
    CHECK_NEAR(P[10], 1, 1e-7, 0);
    double pp[7] = {1, 1, 0, 0, .5, 1, .5}, rr[7] = {1, 0, 1, 0, .5, .5, 1};
    double f1[7] = {1, 0, 0, 0, .5, 2.0 / 3, 2.0 / 3};
    for (int i = 0; i < 7; i++) CHECK_NEAR(gm_prd_fbeta_max(pp + i, rr + i, 1, 1), f1[i], 1e-9, 0);
    CHECK_NEAR(gm_prd_fbeta_max(pp + 5, rr + 5, 1, 2), 5.0 / 9, 1e-9, 0);
    CHECK_NEAR(gm_prd_fbeta_max(pp + 6, rr + 6, 1, 2), 5.0 / 6, 1e-9, 0);
    CHECK_NEAR(gm_prd_fbeta_max(pp + 5, rr + 5, 1, 0.5), 5.0 / 6, 1e-9, 0);
    CHECK_NEAR(gm_prd_fbeta_max(pp + 6, rr + 6, 1, 0.5), 5.0 / 9, 1e-9, 0);
}

GM_TEST(test_prd_kmeans) {
    /* same distribution -> F8 and F1/8 near 1; disjoint half of the modes -> recall-side F drops */
    size_t n = 400, d = 4;
    double *A = make_splitmix(41, n, d, 0.1, 0.0, 0.0), *B = make_splitmix(42, n, d, 0.1, 0.0, 0.0);
    for (size_t i = 0; i < n; i++) {
        A[i * d + (i % 4)] += 10;
        B[i * d + (i % 4)] += 10;
    }
    gm_feats a = gm_feats_f64(A, n, d), b = gm_feats_f64(B, n, d);
    gm_prd_config c = gm_prd_config_default();
    c.num_runs = 2;
    c.n_init = 2;
    c.num_clusters = 8;
    c.seed = 3;
    double *P = malloc(c.num_angles * sizeof(double)), *R = malloc(c.num_angles * sizeof(double)), f8, f18, g8, g18;
    CHECK_OK(gm_prd(&a, &b, &c, P, R, &f8, &f18));
    CHECK(f8 > 0.9 && f18 > 0.9);
    /* generated set covers only modes 0 and 1 */
    for (size_t i = 0; i < n; i++)
        if (i % 4 >= 2) {
            B[i * d + (i % 4)] -= 10;
            B[i * d + (i % 2)] += 10;
        }
    CHECK_OK(gm_prd(&a, &b, &c, P, R, &g8, &g18));
    CHECK(g8 < 0.7);    /* F_8 weighs recall: half the real modes are missed */
    CHECK(g18 > 0.9);   /* F_1/8 weighs precision: every generated point is on a real mode */
    /* deterministic for a seed and the thread count */
    double h8, h18;
    gm_test_set_threads(1);
    CHECK_OK(gm_prd(&a, &b, &c, P, R, &h8, &h18));
    gm_test_set_threads(2);
    CHECK(h8 == g8 && h18 == g18);
    free(P);
    free(R);
    free(A);
    free(B);
}

GM_TEST(test_div_thread_invariance) {
    double *F = make_splitmix(12, 700, 24, 1.1, 0.05, 0.0);
    gm_feats f = gm_feats_f64(F, 700, 24);
    double fr[2][2], v[2], mc[2], s[2] = {1.0, 2.0};
    gm_kernel cs = {GM_KERNEL_COSINE, 0, 0, 0, 0};
    for (int t = 0; t < 2; t++) {
        gm_test_set_threads(t + 1);
        CHECK_OK(gm_rke_frobenius(&f, s, 2, 512, fr[t]));
        CHECK_OK(gm_vendi(&f, &cs, 1, &v[t], NULL));
        CHECK_OK(gm_rke_mc(&f, 1.0, 100000, 3, &mc[t]));
    }
    CHECK(memcmp(fr[0], fr[1], sizeof fr[0]) == 0);
    CHECK(v[0] == v[1] && mc[0] == mc[1]);
    free(F);
    /* large enough that the parallel row normalisation and the parallel SYRK blocks run (n·d > 1e6) */
    double *G = make_splitmix(13, 2400, 600, 1.0, 0.0, 0.2), vg[2];
    gm_feats g = gm_feats_f64(G, 2400, 600);
    for (int t = 0; t < 2; t++) {
        gm_test_set_threads(t + 1);
        CHECK_OK(gm_vendi(&g, &cs, 1, &vg[t], NULL));
    }
    gm_test_set_threads(2);
    CHECK(memcmp(&vg[0], &vg[1], sizeof(double)) == 0);
    CHECK(vg[0] > 1 && vg[0] < 600);
    free(G);
}

GM_TEST_MAIN({"vendi_known", test_vendi_known}, {"vendi_spec_and_golden", test_vendi_spec_and_golden},
             {"rke_spec_and_golden", test_rke_spec_and_golden}, {"rke_separated_clusters", test_rke_separated_clusters},
             {"rke_tile_beyond_n", test_rke_tile_beyond_n},
             {"inception_score", test_inception_score}, {"prd_reference_cases", test_prd_reference_cases},
             {"prd_kmeans", test_prd_kmeans}, {"div_thread_invariance", test_div_thread_invariance})
