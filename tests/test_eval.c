/* SPDX-License-Identifier: MIT */
/* test_eval.c — FD, KID/MMD, k-NN P/R and PRDC: spec §9 known answers, closed forms, NumPy/SciPy/sklearn
 * fixtures (tools/ref_eval.py -> tests/golden/eval_ref.txt), fast vs naive reference paths, tiled vs
 * untiled, thread-count invariance and bad input. */
#include "gm_test.h"
#include "genmix/eval.h"
#include "genmix/hash.h"
#include "genmix/rng.h"
#include "eval_data.h"

GM_TEST(test_mt19937_choice_vectors) {
    /* spec §4: RandomState(2020), three consecutive choice(5000, 8, replace=False) */
    static const size_t want[3][8] = {{2398, 2360, 3232, 27, 1246, 2217, 3617, 3744},
                                      {1923, 889, 1619, 2571, 4880, 4345, 1532, 265},
                                      {2229, 912, 2874, 264, 4520, 2592, 3291, 3286}};
    gm_mt19937 mt;
    gm_mt19937_seed(&mt, 2020);
    size_t out[8], *work = malloc(5000 * sizeof(size_t));
    for (int c = 0; c < 3; c++) {
        gm_mt19937_choice(&mt, 5000, 8, out, work);
        for (int i = 0; i < 8; i++) CHECK_INT_EQ(out[i], want[c][i]);
    }
    free(work);
    /* reference MT19937 (init_genrand(5489)): 10000th output is 4123659995 */
    gm_mt19937_seed(&mt, 5489);
    uint32_t v = 0;
    for (int i = 0; i < 10000; i++) v = gm_mt19937_u32(&mt);
    CHECK_INT_EQ(v, 4123659995u);
}

GM_TEST(test_fd_spec_vectors) {
    double *G = make91(200, 16, 1, 1.0, 0.0), *R = make91(300, 16, 7, 1.2, 0.1);
    CHECK_NEAR(G[0], 0.18842813754368828, 0, 0);
    double sg = 0, sr = 0;
    for (size_t i = 0; i < 200 * 16; i++) sg += G[i];
    for (size_t i = 0; i < 300 * 16; i++) sr += R[i];
    CHECK_NEAR(sg, 1603.84742296363, 1e-13, 0);
    CHECK_NEAR(sr, 3313.4522855267774, 1e-13, 0);
    gm_feats g = gm_feats_f64(G, 200, 16), r = gm_feats_f64(R, 300, 16);
    gm_fd_result fd;
    CHECK_OK(gm_fd(&g, &r, GM_COV_UNBIASED, &fd));
    CHECK_NEAR(fd.fd, 0.666995628838911, 1e-12, 0);
    CHECK_NEAR(fd.mean_term, 0.58334147348247, 1e-12, 0);
    CHECK_NEAR(fd.trace1, 1.36638706570203, 1e-12, 0);
    CHECK_NEAR(fd.trace2, 1.90978720071199, 1e-12, 0);
    CHECK_NEAR(fd.trace_sqrt, 1.59626005552879, 1e-12, 0);
    CHECK(strcmp(fd.method, "cholesky") == 0);
    CHECK(!fd.rank_deficient);
    CHECK(isnan(fd.min_eig1) && isnan(fd.cond2));
    CHECK_OK(gm_fd(&g, &r, GM_COV_BIASED, &fd));
    CHECK_NEAR(fd.fd, 0.667101016456356, 1e-12, 0);
    /* naive Jacobi reference path */
    gm_fdstats a, b;
    CHECK_OK(gm_fdstats_init(&a, 16));
    CHECK_OK(gm_fdstats_init(&b, 16));
    CHECK_OK(gm_fdstats_add(&a, &g));
    CHECK_OK(gm_fdstats_add(&b, &r));
    double S1[256], S2[256];
    gm_fdstats_cov(&a, GM_COV_UNBIASED, S1);
    gm_fdstats_cov(&b, GM_COV_UNBIASED, S2);
    gm_fd_result ref;
    CHECK_OK(gm_fd_from_moments_ref(a.mean, S1, b.mean, S2, 16, &ref));
    CHECK_NEAR(ref.fd, 0.666995628838911, 1e-12, 0);
    CHECK(strcmp(ref.method, "jacobi") == 0);
    gm_fdstats_free(&a);
    gm_fdstats_free(&b);
    free(G);
    free(R);
}

/* The Cholesky path (tr sqrt from eig(L^T S2 L)) agrees with the eigen path to 1e-10 relative on
 * correlated covariances (d = 160, n = 2000 and a near-singular S1 with n = d + 5), and falls back to it
 * when S1 is singular (a zero variance). */
GM_TEST(test_fd_cholesky_vs_eigh) {
    size_t d = 160;
    static const size_t ns[2] = {2000, 165};
    for (int c = 0; c < 2; c++) {
        size_t n = ns[c];
        double *X = make_splitmix(31 + c, n, d, 1.0, 0.0, 0.6), *Y = make_splitmix(41 + c, n, d, 1.3, 0.1, 0.2);
        for (size_t i = 0; i < n; i++) /* correlated columns */
            for (size_t j = 1; j < d; j++) {
                X[i * d + j] += 0.7 * X[i * d + j - 1];
                Y[i * d + j] -= 0.4 * Y[i * d + j - 1];
            }
        gm_feats x = gm_feats_f64(X, n, d), y = gm_feats_f64(Y, n, d);
        gm_fdstats a, b;
        CHECK_OK(gm_fdstats_init(&a, d));
        CHECK_OK(gm_fdstats_init(&b, d));
        CHECK_OK(gm_fdstats_add(&a, &x));
        CHECK_OK(gm_fdstats_add(&b, &y));
        double *S1 = malloc(d * d * sizeof(double)), *S2 = malloc(d * d * sizeof(double));
        gm_fdstats_cov(&a, GM_COV_UNBIASED, S1);
        gm_fdstats_cov(&b, GM_COV_UNBIASED, S2);
        gm_fd_result fc, fe;
        CHECK_OK(gm_fd_from_moments(a.mean, S1, b.mean, S2, d, &fc));
        CHECK_OK(gm_fd_from_moments_eigh(a.mean, S1, b.mean, S2, d, &fe));
        CHECK(strcmp(fc.method, "cholesky") == 0 && strcmp(fe.method, "eigh") == 0);
        CHECK_NEAR(fc.trace_sqrt, fe.trace_sqrt, 1e-10, 0);
        CHECK_NEAR(fc.fd, fe.fd, 1e-10, 0);
        CHECK(fc.mean_term == fe.mean_term && fc.trace1 == fe.trace1 && fc.trace2 == fe.trace2);
        if (c == 0) { /* one zero variance: S1 singular, same answer as the eigen path */
            for (size_t j = 0; j < d; j++) S1[5 * d + j] = S1[j * d + 5] = 0;
            CHECK_OK(gm_fd_from_moments(a.mean, S1, b.mean, S2, d, &fc));
            CHECK_OK(gm_fd_from_moments_eigh(a.mean, S1, b.mean, S2, d, &fe));
            CHECK(strcmp(fc.method, "eigh") == 0);
            CHECK(fc.fd == fe.fd && fc.min_eig1 == fe.min_eig1);
        }
        gm_fdstats_free(&a);
        gm_fdstats_free(&b);
        free(S1);
        free(S2);
        free(X);
        free(Y);
    }
}

GM_TEST(test_fd_closed_forms) {
    size_t d = 256;
    double *S1 = calloc(d * d, sizeof(double)), *S2 = calloc(d * d, sizeof(double));
    double *m1 = calloc(d, sizeof(double)), *m2 = calloc(d, sizeof(double));
    for (size_t i = 0; i < d; i++) {
        S1[i * d + i] = S2[i * d + i] = 1;
        m2[i] = 1;
    }
    gm_fd_result fd;
    CHECK_OK(gm_fd_from_moments(m1, S1, m2, S2, d, &fd)); /* pytorch-fid's test: mu 0 vs 1, S = I */
    CHECK_NEAR(fd.fd, (double)d, 1e-12, 0);
    for (size_t i = 0; i < d; i++) {
        S1[i * d + i] = 2.5;
        S2[i * d + i] = 0.4;
        m2[i] = i % 2 ? 0.5 : 0;
    }
    CHECK_OK(gm_fd_from_moments(m1, S1, m2, S2, d, &fd)); /* ||Δmu||² + d(√a − √b)² */
    double want = 0.25 * (double)(d / 2) + (double)d * pow(sqrt(2.5) - sqrt(0.4), 2);
    CHECK_NEAR(fd.fd, want, 1e-12, 0);
    CHECK(fd.neg_eig_mass == 0);
    /* identical random sets: |FD| <= 1e-9 (tr S1 + tr S2) */
    double *X = make_splitmix(5, 500, 32, 1.0, 0.0, 0.0);
    gm_feats x = gm_feats_f64(X, 500, 32);
    CHECK_OK(gm_fd(&x, &x, GM_COV_UNBIASED, &fd));
    CHECK(fabs(fd.fd) <= 1e-9 * (fd.trace1 + fd.trace2));
    free(X);
    free(S1);
    free(S2);
    free(m1);
    free(m2);
}

GM_TEST(test_fd_golden) {
    double *R = make_splitmix(11, 400, 24, 1.0, 0.0, 0.3), *F = make_splitmix(12, 300, 24, 1.1, 0.05, 0.0);
    double sr = 0, sf = 0;
    for (size_t i = 0; i < 400 * 24; i++) sr += R[i];
    for (size_t i = 0; i < 300 * 24; i++) sf += F[i];
    CHECK_NEAR(sr, golden("sum_real"), 1e-14, 0);
    CHECK_NEAR(sf, golden("sum_fake"), 1e-14, 0);
    gm_feats r = gm_feats_f64(R, 400, 24), f = gm_feats_f64(F, 300, 24);
    gm_fd_result fd;
    CHECK_OK(gm_fd(&r, &f, GM_COV_UNBIASED, &fd));
    CHECK_NEAR(fd.fd, golden("fd_sqrtm"), 1e-10, 0);
    CHECK_NEAR(fd.fd, golden("fd_eigh"), 1e-12, 0);
    CHECK_NEAR(fd.mean_term, golden("fd_mean_term"), 1e-12, 0);
    CHECK_NEAR(fd.trace1, golden("fd_trace_real"), 1e-12, 0);
    CHECK_NEAR(fd.trace2, golden("fd_trace_fake"), 1e-12, 0);
    CHECK_OK(gm_fd(&r, &f, GM_COV_BIASED, &fd));
    CHECK_NEAR(fd.fd, golden("fd_biased"), 1e-10, 0);
    /* float32 input goes through the same float64 statistics */
    float *R32 = malloc(400 * 24 * sizeof(float)), *F32 = malloc(300 * 24 * sizeof(float));
    for (size_t i = 0; i < 400 * 24; i++) R32[i] = (float)R[i];
    for (size_t i = 0; i < 300 * 24; i++) F32[i] = (float)F[i];
    gm_feats r32 = gm_feats_f32(R32, 400, 24), f32 = gm_feats_f32(F32, 300, 24);
    CHECK_OK(gm_fd(&r32, &f32, GM_COV_UNBIASED, &fd));
    CHECK_NEAR(fd.fd, golden("fd_sqrtm"), 1e-5, 0);
    free(R32);
    free(F32);
    free(R);
    free(F);
    /* low-rank path (n < d) vs NumPy's eigh on singular covariances, and vs genmix's eigen path */
    double *A = make_splitmix(21, 20, 64, 1.0, 0.0, 0.0), *B = make_splitmix(22, 30, 64, 1.0, 0.1, 0.2);
    gm_feats a = gm_feats_f64(A, 20, 64), b = gm_feats_f64(B, 30, 64);
    CHECK_OK(gm_fd(&a, &b, GM_COV_UNBIASED, &fd));
    CHECK(strcmp(fd.method, "lowrank") == 0);
    CHECK(fd.rank_deficient);
    CHECK_NEAR(fd.fd, golden("fd_lowrank"), 1e-12, 0);
    CHECK_NEAR(fd.fd, golden("fd_lowrank_sqrtm"), 1e-6, 0);
    gm_fdstats sa, sb;
    gm_fd_result fe;
    gm_fdstats_init(&sa, 64);
    gm_fdstats_init(&sb, 64);
    gm_fdstats_add(&sa, &a);
    gm_fdstats_add(&sb, &b);
    CHECK_OK(gm_fd_from_stats(&sa, &sb, GM_COV_UNBIASED, &fe));
    /* the eigen path adds sqrt of the clipped round-off eigenvalues of a singular product (~1e-8 each) */
    CHECK_NEAR(fe.fd, fd.fd, 1e-6, 0);
    CHECK(fe.rank_deficient);
    CHECK(strcmp(fe.method, "eigh") == 0); /* singular S1: Cholesky fails, the eigen path takes over */
    CHECK(fe.min_eig1 < 1e-10);
    gm_fdstats_free(&sa);
    gm_fdstats_free(&sb);
    free(A);
    free(B);
}

GM_TEST(test_fdstats_merge) {
    double *X = make_splitmix(7, 2500, 12, 2.0, -1.0, 0.5);
    gm_fdstats whole, p1, p2;
    gm_fdstats_init(&whole, 12);
    gm_fdstats_init(&p1, 12);
    gm_fdstats_init(&p2, 12);
    gm_feats all = gm_feats_f64(X, 2500, 12), h1 = gm_feats_f64(X, 777, 12),
             h2 = gm_feats_f64(X + 777 * 12, 2500 - 777, 12);
    CHECK_OK(gm_fdstats_add(&whole, &all));
    CHECK_OK(gm_fdstats_add(&p1, &h1));
    CHECK_OK(gm_fdstats_add(&p2, &h2));
    CHECK_OK(gm_fdstats_merge(&p1, &p2));
    CHECK_INT_EQ(p1.n, 2500);
    /* naive two-pass statistics */
    double mu[12] = {0}, worst = 0;
    for (size_t i = 0; i < 2500; i++)
        for (size_t j = 0; j < 12; j++) mu[j] += X[i * 12 + j] / 2500.0;
    for (size_t j = 0; j < 12; j++) {
        CHECK_NEAR(whole.mean[j], mu[j], 1e-13, 0);
        CHECK_NEAR(p1.mean[j], mu[j], 1e-13, 0);
    }
    for (size_t a = 0; a < 12; a++)
        for (size_t b = 0; b < 12; b++) {
            double m2 = 0;
            for (size_t i = 0; i < 2500; i++) m2 += (X[i * 12 + a] - mu[a]) * (X[i * 12 + b] - mu[b]);
            /* relative to the scale sqrt(M2_aa M2_bb) of the entry */
            double sc = sqrt(whole.m2[a * 13] * whole.m2[b * 13]);
            double e1 = fabs(whole.m2[a * 12 + b] - m2) / sc, e2 = fabs(p1.m2[a * 12 + b] - m2) / sc;
            if (e1 > worst) worst = e1;
            if (e2 > worst) worst = e2;
        }
    CHECK(worst < 1e-13);
    gm_fdstats bad;
    gm_fdstats_init(&bad, 5);
    CHECK_RC(gm_fdstats_merge(&p1, &bad), GM_ESHAPE);
    gm_fdstats_free(&bad);
    gm_fdstats_free(&whole);
    gm_fdstats_free(&p1);
    gm_fdstats_free(&p2);
    free(X);
}

static double dot16(const double *a, const double *b) {
    double s = 0;
    for (int t = 0; t < 16; t++) s += a[t] * b[t];
    return s;
}

GM_TEST(test_mmd_spec_vectors) {
    double *G = make91(200, 16, 1, 1.0, 0.0), *R = make91(300, 16, 7, 1.2, 0.1);
    gm_feats g = gm_feats_f64(G, 200, 16), r = gm_feats_f64(R, 300, 16), r200 = gm_feats_f64(R, 200, 16);
    gm_kernel p3 = gm_kernel_poly3(), rb = gm_kernel_rbf_sigma(1.0);
    double v;
    CHECK_OK(gm_mmd(&g, &r, &p3, GM_MMD_UNBIASED, &v));
    CHECK_NEAR(v, 0.305770695334172, 1e-12, 0);
    CHECK_OK(gm_mmd(&g, &r, &p3, GM_MMD_BIASED, &v));
    CHECK_NEAR(v, 0.310896459889565, 1e-12, 0);
    CHECK_OK(gm_mmd(&g, &r, &rb, GM_MMD_UNBIASED, &v));
    CHECK_NEAR(v, 0.105246062832754, 1e-12, 0);
    CHECK_OK(gm_mmd(&g, &r, &rb, GM_MMD_BIASED, &v));
    CHECK_NEAR(v, 0.111628168807398, 1e-12, 0);
    CHECK_OK(gm_mmd(&g, &r200, &p3, GM_MMD_UNBIASED, &v));
    CHECK_NEAR(v, 0.287819919849651, 1e-12, 0);
    CHECK_OK(gm_mmd(&g, &r200, &p3, GM_MMD_USTAT, &v));
    CHECK_NEAR(v, 0.287743495850673, 1e-12, 0);
    CHECK_RC(gm_mmd(&g, &r, &p3, GM_MMD_USTAT, &v), GM_EINVAL);
    /* KID with one subset covering both sets = the full-set "unbiased" value */
    gm_kid_config kc = gm_kid_config_default();
    kc.subsets = 1;
    kc.subset_size = 200;
    gm_kid_result kid;
    CHECK_OK(gm_kid(&r200, &g, &kc, &kid, NULL));
    CHECK_NEAR(kid.mean, 0.287819919849651, 1e-12, 0);
    CHECK(kid.std == 0);
    /* U-statistic: the subsets are permutations of both sets, and the estimator drops the paired terms
     * k(x_i, y_i), so its exact value depends on the pairing. Recompute it naively from the same MT19937
     * choices (fake first, then real; seed 2020) with k(a, b) = (a.b / d + 1)^3. */
    kc.estimator = GM_MMD_USTAT;
    CHECK_OK(gm_kid(&r200, &g, &kc, &kid, NULL));
    {
        enum { m = 200, dd = 16 };
        size_t idf[m], idr[m], work[m];
        gm_mt19937 mt;
        gm_mt19937_seed(&mt, 2020);
        gm_mt19937_choice(&mt, m, m, idf, work);
        gm_mt19937_choice(&mt, m, m, idr, work);
        double h = 0;
#define K3(A, ia, B_, ib) pow(dot16((A) + (ia) * dd, (B_) + (ib) * dd) / dd + 1, 3)
        for (size_t i = 0; i < m; i++)
            for (size_t j = 0; j < m; j++)
                if (i != j)
                    h += K3(G, idf[i], G, idf[j]) + K3(R, idr[i], R, idr[j]) - K3(G, idf[i], R, idr[j]) -
                         K3(G, idf[j], R, idr[i]);
#undef K3
        h /= (double)m * (m - 1);
        CHECK_NEAR(kid.mean, h, 1e-11, 0);
        CHECK_NEAR(kid.mean, 0.2878560880514609, 1e-11, 0); /* the value the naive loop gives */
        CHECK(fabs(kid.mean - 0.287819919849651) > 1e-6); /* and not the unbiased one */
    }
    free(G);
    free(R);
}

GM_TEST(test_mmd_kid_golden) {
    double *R = make_splitmix(11, 400, 24, 1.0, 0.0, 0.3), *F = make_splitmix(12, 300, 24, 1.1, 0.05, 0.0);
    gm_feats r = gm_feats_f64(R, 400, 24), f = gm_feats_f64(F, 300, 24), r300 = gm_feats_f64(R, 300, 24);
    gm_kernel p3 = gm_kernel_poly3(), rb = gm_kernel_rbf_sigma(2.0);
    double v;
    CHECK_OK(gm_mmd(&r, &f, &p3, GM_MMD_UNBIASED, &v));
    CHECK_NEAR(v, golden("mmd_poly_unbiased"), 1e-12, 0);
    CHECK_OK(gm_mmd(&r, &f, &p3, GM_MMD_BIASED, &v));
    CHECK_NEAR(v, golden("mmd_poly_biased"), 1e-12, 0);
    CHECK_OK(gm_mmd(&r, &f, &rb, GM_MMD_UNBIASED, &v));
    CHECK_NEAR(v, golden("mmd_rbf2_unbiased"), 1e-12, 0);
    CHECK_OK(gm_mmd(&r, &f, &rb, GM_MMD_BIASED, &v));
    CHECK_NEAR(v, golden("mmd_rbf2_biased"), 1e-12, 0);
    CHECK_OK(gm_mmd(&r300, &f, &p3, GM_MMD_USTAT, &v));
    CHECK_NEAR(v, golden("mmd_poly_ustat"), 1e-12, 0);
    gm_kid_config kc = gm_kid_config_default();
    kc.subsets = 10;
    kc.subset_size = 100;
    gm_kid_result kid;
    double per[10];
    CHECK_OK(gm_kid(&r, &f, &kc, &kid, per));
    CHECK_NEAR(kid.mean, golden("kid_mean"), 1e-12, 0);
    CHECK_NEAR(kid.std, golden("kid_std"), 1e-10, 0);
    CHECK(per[0] != per[1]);
    /* float32 kernels agree to ~1e-6 relative */
    kc.f32 = 1;
    CHECK_OK(gm_kid(&r, &f, &kc, &kid, NULL));
    CHECK_NEAR(kid.mean, golden("kid_mean"), 1e-4, 0);
    /* subset larger than a set: shrink by default, error when strict (torch-fidelity) */
    kc.f32 = 0;
    kc.subsets = 2;
    kc.subset_size = 1000;
    CHECK_OK(gm_kid(&r, &f, &kc, &kid, NULL));
    CHECK(kid.shrunk && kid.subset_size == 300);
    kc.strict = 1;
    CHECK_RC(gm_kid(&r, &f, &kc, &kid, NULL), GM_EINVAL);
    free(R);
    free(F);
}

static void check_knn_counts(const gm_knn_result *a, const gm_knn_result *b) {
    for (size_t j = 0; j < a->n_fake; j++) {
        CHECK_INT_EQ(a->fake_in_real[j], b->fake_in_real[j]);
        CHECK_INT_EQ(a->density_count[j], b->density_count[j]);
    }
    for (size_t i = 0; i < a->n_real; i++) {
        CHECK_INT_EQ(a->real_in_fake[i], b->real_in_fake[i]);
        CHECK_INT_EQ(a->real_in_fake_dc[i], b->real_in_fake_dc[i]);
        CHECK_INT_EQ(a->covered[i], b->covered[i]);
    }
}

GM_TEST(test_prdc_spec_vectors) {
    double *G = make91(200, 16, 1, 1.0, 0.0), *R = make91(300, 16, 7, 1.2, 0.1);
    gm_feats g = gm_feats_f64(G, 200, 16), r = gm_feats_f64(R, 300, 16);
    gm_knn_config c = gm_knn_config_default();
    gm_knn_result k;
    c.k_dc = 3;
    CHECK_OK(gm_knn(&r, &g, &c, &k));
    CHECK_NEAR(k.precision, 0.925, 0, 1e-15); /* k-NN P/R, k 3, <= on squared distances */
    CHECK_NEAR(k.recall, 0.58, 0, 1e-15);
    CHECK_NEAR(k.dc_precision, 0.925, 0, 1e-15); /* PRDC k 3, < */
    CHECK_NEAR(k.dc_recall, 0.58, 0, 1e-15);
    CHECK_NEAR(k.density, 0.89, 0, 1e-15);
    CHECK_NEAR(k.coverage, 0.61, 0, 1e-15);
    gm_knn_result_free(&k);
    c.k_dc = 5;
    c.tile = 64;
    CHECK_OK(gm_knn(&r, &g, &c, &k));
    CHECK_NEAR(k.dc_precision, 0.97, 0, 1e-15);
    CHECK_NEAR(k.dc_recall, 200.0 / 300.0, 0, 1e-15);
    CHECK_NEAR(k.density, 0.955, 0, 1e-15);
    CHECK_NEAR(k.coverage, 0.79, 0, 1e-15);
    gm_knn_result ref;
    CHECK_OK(gm_knn_ref(&r, &g, &c, &ref));
    check_knn_counts(&k, &ref);
    gm_knn_result_free(&ref);
    gm_knn_result_free(&k);
    free(G);
    free(R);
}

GM_TEST(test_prdc_golden_and_tiles) {
    double *R = make_splitmix(11, 400, 24, 1.0, 0.0, 0.3), *F = make_splitmix(12, 300, 24, 1.1, 0.05, 0.0);
    gm_feats r = gm_feats_f64(R, 400, 24), f = gm_feats_f64(F, 300, 24);
    gm_knn_config c = gm_knn_config_default();
    c.realism = GM_REALISM_DGM;
    gm_knn_result k, k2, ref, k32;
    CHECK_OK(gm_knn(&r, &f, &c, &k));
    CHECK_NEAR(k.precision, golden("pr3_precision"), 0, 1e-15);
    CHECK_NEAR(k.recall, golden("pr3_recall"), 0, 1e-15);
    CHECK_NEAR(k.dc_precision, golden("prdc5_precision"), 0, 1e-15);
    CHECK_NEAR(k.dc_recall, golden("prdc5_recall"), 0, 1e-15);
    CHECK_NEAR(k.density, golden("prdc5_density"), 1e-15, 1e-15);
    CHECK_NEAR(k.coverage, golden("prdc5_coverage"), 0, 1e-15);
    c.tile = 37; /* tiled (many partial tiles) == untiled == naive */
    CHECK_OK(gm_knn(&r, &f, &c, &k2));
    check_knn_counts(&k, &k2);
    for (size_t j = 0; j < 300; j++) CHECK_NEAR(k.realism[j], k2.realism[j], 1e-12, 0); /* GEMM shapes differ */
    CHECK_OK(gm_knn_ref(&r, &f, &c, &ref));
    check_knn_counts(&k, &ref);
    for (size_t j = 0; j < 300; j++) CHECK_NEAR(k.realism[j], ref.realism[j], 1e-9, 0);
    c.f32 = 1;
    CHECK_OK(gm_knn(&r, &f, &c, &k32));
    CHECK_NEAR(k32.dc_precision, k.dc_precision, 0, 0.01);
    CHECK_NEAR(k32.density, k.density, 0, 0.01);
    gm_knn_result_free(&k32);
    gm_knn_result_free(&k);
    gm_knn_result_free(&k2);
    gm_knn_result_free(&ref);
    c = gm_knn_config_default();
    c.k_dc = 3;
    CHECK_OK(gm_knn(&r, &f, &c, &k));
    CHECK_NEAR(k.dc_precision, golden("prdc3_precision"), 0, 1e-15);
    CHECK_NEAR(k.dc_recall, golden("prdc3_recall"), 0, 1e-15);
    CHECK_NEAR(k.density, golden("prdc3_density"), 1e-15, 1e-15);
    CHECK_NEAR(k.coverage, golden("prdc3_coverage"), 0, 1e-15);
    gm_knn_result_free(&k);
    free(R);
    free(F);
}

GM_TEST(test_knn_p_equals_q) {
    /* Two independent draws of one distribution: density ≈ 1, coverage ≈ 1 − 2^−k (Naeem et al.) */
    size_t n = 2000, d = 8;
    double *A = make_splitmix(101, n, d, 1.0, 0.0, 0.0), *B = make_splitmix(202, n, d, 1.0, 0.0, 0.0);
    gm_feats a = gm_feats_f64(A, n, d), b = gm_feats_f64(B, n, d);
    gm_knn_config c = gm_knn_config_default();
    gm_knn_result k;
    CHECK_OK(gm_knn(&a, &b, &c, &k));
    CHECK_NEAR(k.density, 1.0, 0, 0.1);
    CHECK_NEAR(k.coverage, 1.0 - pow(0.5, 5), 0, 0.03);
    CHECK(k.precision > 0.6 && k.recall > 0.6);
    gm_knn_result_free(&k);
    /* identical sets with <=: every point is inside (its own copy at distance 0) */
    c.cmp_dc = GM_CMP_LE;
    CHECK_OK(gm_knn(&a, &a, &c, &k));
    CHECK(k.precision == 1 && k.recall == 1 && k.coverage == 1 && k.dc_precision == 1);
    gm_knn_result_free(&k);
    free(A);
    free(B);
}

GM_TEST(test_thread_invariance) {
    double *R = make_splitmix(11, 1500, 40, 1.0, 0.0, 0.3), *F = make_splitmix(12, 1300, 40, 1.1, 0.05, 0.0);
    gm_feats r = gm_feats_f64(R, 1500, 40), f = gm_feats_f64(F, 1300, 40);
    gm_fd_result fd[2];
    gm_kid_result kid[2];
    gm_knn_result kn[2];
    double mmd[2];
    gm_kid_config kc = gm_kid_config_default();
    kc.subsets = 5;
    kc.subset_size = 500;
    gm_knn_config nc = gm_knn_config_default();
    nc.tile = 512; /* > 65536 elements per tile: the parallel loops run */
    nc.realism = GM_REALISM_KYNKAAT;
    gm_kernel rb = gm_kernel_rbf_sigma(1.5);
    for (int t = 0; t < 2; t++) {
        gm_test_set_threads(t + 1);
        CHECK_OK(gm_fd(&r, &f, GM_COV_UNBIASED, &fd[t]));
        CHECK_OK(gm_kid(&r, &f, &kc, &kid[t], NULL));
        CHECK_OK(gm_knn(&r, &f, &nc, &kn[t]));
        CHECK_OK(gm_mmd(&r, &f, &rb, GM_MMD_UNBIASED, &mmd[t]));
    }
    gm_test_set_threads(2);
    CHECK(memcmp(&fd[0].fd, &fd[1].fd, sizeof(double)) == 0);
    CHECK(memcmp(&fd[0].trace_sqrt, &fd[1].trace_sqrt, sizeof(double)) == 0);
    CHECK(memcmp(&kid[0].mean, &kid[1].mean, sizeof(double)) == 0);
    CHECK(memcmp(&kid[0].std, &kid[1].std, sizeof(double)) == 0);
    CHECK(memcmp(&mmd[0], &mmd[1], sizeof(double)) == 0);
    check_knn_counts(&kn[0], &kn[1]);
    CHECK(memcmp(kn[0].realism, kn[1].realism, 1300 * sizeof(double)) == 0);
    CHECK(kn[0].density == kn[1].density);
    gm_knn_result_free(&kn[0]);
    gm_knn_result_free(&kn[1]);
    free(R);
    free(F);
}

GM_TEST(test_eval_bad_input) {
    double *A = make_splitmix(1, 10, 4, 1, 0, 0), *B = make_splitmix(2, 10, 5, 1, 0, 0);
    gm_feats a = gm_feats_f64(A, 10, 4), b = gm_feats_f64(B, 10, 5), a1 = gm_feats_f64(A, 1, 4),
             e = gm_feats_f64(A, 0, 4);
    gm_fd_result fd;
    CHECK_RC(gm_fd(&a, &b, GM_COV_UNBIASED, &fd), GM_ESHAPE);
    CHECK_RC(gm_fd(&a, &a1, GM_COV_UNBIASED, &fd), GM_EINVAL);
    CHECK_RC(gm_fd(&a, &e, GM_COV_UNBIASED, &fd), GM_EINVAL);
    gm_knn_config c = gm_knn_config_default();
    gm_knn_result k;
    CHECK_RC(gm_knn(&a, &b, &c, &k), GM_ESHAPE);
    c.k_dc = 10; /* k >= n */
    CHECK_RC(gm_knn(&a, &a, &c, &k), GM_EINVAL);
    CHECK(strstr(gm_last_error(), "k = 10") != NULL);
    c.k_dc = 0;
    CHECK_RC(gm_knn(&a, &a, &c, &k), GM_EINVAL);
    gm_kid_config kc = gm_kid_config_default();
    gm_kid_result kid;
    CHECK_RC(gm_kid(&a, &b, &kc, &kid, NULL), GM_ESHAPE);
    kc.subsets = 0;
    CHECK_RC(gm_kid(&a, &a, &kc, &kid, NULL), GM_EINVAL);
    double nanS[4] = {NAN, 0, 0, 1}, I2[4] = {1, 0, 0, 1}, z[2] = {0, 0};
    CHECK(gm_fd_from_moments(z, nanS, z, I2, 2, &fd) != GM_OK);
    /* a dimension whose square overflows size_t (d*d wraps to 0 for d = 2^(bits/2)): a clear error before
     * any allocation, never a d x d buffer of the wrapped size */
    gm_fdstats s;
    size_t big = (size_t)1 << (sizeof(size_t) * 4);
    for (int i = 0; i < 2; i++) {
        gm_alloc_fail_nth(0, 0);
        CHECK_RC(gm_fdstats_init(&s, big + (size_t)i), GM_EINVAL);
        CHECK(gm_alloc_count() == 0);
        CHECK(strstr(gm_last_error(), "overflows") != NULL);
        CHECK(s.mean == NULL && s.m2 == NULL && s.d == 0);
    }
    free(A);
    free(B);
}

GM_TEST(test_bootstrap_and_profiles) {
    double *R = make_splitmix(11, 400, 24, 1.0, 0.0, 0.3), *F = make_splitmix(12, 300, 24, 1.1, 0.05, 0.0);
    gm_feats r = gm_feats_f64(R, 400, 24), f = gm_feats_f64(F, 300, 24);
    gm_knn_config c = gm_knn_config_default();
    gm_knn_result k;
    gm_knn_ci ci[2];
    CHECK_OK(gm_knn(&r, &f, &c, &k));
    for (int t = 0; t < 2; t++) {
        gm_test_set_threads(t + 1);
        CHECK_OK(gm_knn_bootstrap(&k, &c, 200, 5, 0.95, &ci[t]));
    }
    gm_test_set_threads(2);
    CHECK(memcmp(&ci[0], &ci[1], sizeof ci[0]) == 0);
    CHECK(ci[0].precision.lo < k.precision && k.precision < ci[0].precision.hi);
    CHECK(ci[0].coverage.lo < k.coverage && k.coverage < ci[0].coverage.hi);
    CHECK(ci[0].density.lo < k.density && k.density < ci[0].density.hi);
    /* width ~ 2·1.96·sqrt(p(1-p)/n) for a proportion */
    double se = sqrt(k.precision * (1 - k.precision) / 300.0);
    CHECK_NEAR(ci[0].precision.hi - ci[0].precision.lo, 2 * 1.96 * se, 0.3, 0);
    gm_knn_result_free(&k);
    double v[5] = {1, 2, 3, 4, 5};
    CHECK_NEAR(gm_eval_percentile(v, 5, 50), 3, 0, 0);
    CHECK_NEAR(gm_eval_percentile(v, 5, 2.5), 1.1, 1e-14, 0);
    gm_ci mci;
    CHECK_OK(gm_mean_bootstrap(v, 5, 500, 1, 0.9, &mci));
    CHECK(mci.lo < 3 && 3 < mci.hi && mci.lo >= 1 && mci.hi <= 5);
    double fdb[20];
    gm_fd_result fd;
    CHECK_OK(gm_fd(&r, &f, GM_COV_UNBIASED, &fd));
    CHECK_OK(gm_fd_bootstrap(&r, &f, GM_COV_UNBIASED, 20, 9, fdb));
    double m = 0;
    for (int b = 0; b < 20; b++) m += fdb[b] / 20;
    CHECK(fabs(m - fd.fd) < 0.2 * fd.fd && fdb[0] != fdb[1]);
    gm_ci fci = gm_ci_bias_corrected(fdb, 20, fd.fd, 0.9);
    CHECK(fci.lo < fd.fd && fd.fd < fci.hi);
    gm_ci raw = {gm_eval_percentile(fdb, 20, 5), gm_eval_percentile(fdb, 20, 95)};
    CHECK_NEAR(fci.hi - fci.lo, raw.hi - raw.lo, 1e-12, 0);
    gm_eval_profile p;
    CHECK_OK(gm_eval_profile_get("torch-fidelity", &p));
    CHECK(p.kid.strict && p.kid.f32 && p.knn.k_pr == 3 && p.knn.cmp_pr == GM_CMP_LE && p.is_shuffle == GM_IS_SHUFFLE_MT2020);
    CHECK_OK(gm_eval_profile_get("prdc", &p));
    CHECK(p.knn.k_dc == 5 && p.knn.cmp_dc == GM_CMP_LT);
    CHECK_OK(gm_eval_profile_get("nvidia", &p));
    CHECK(p.cov_norm == GM_COV_BIASED);
    CHECK_RC(gm_eval_profile_get("nope", &p), GM_EINVAL);
    free(R);
    free(F);
}

GM_TEST(test_sha256) {
    char h[65];
    gm_sha256_hex("", 0, h);
    CHECK(strcmp(h, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855") == 0);
    gm_sha256_hex("abc", 3, h);
    CHECK(strcmp(h, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad") == 0);
    const char *m = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
    gm_sha256_hex(m, strlen(m), h);
    CHECK(strcmp(h, "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1") == 0);
    CHECK_RC(gm_sha256_file("tests/golden/no_such_file", h), GM_EIO);
    CHECK_OK(gm_sha256_file("tests/golden/eval_real.npy", h)); /* sha256sum of the committed fixture */
    CHECK(strcmp(h, "cb9d56a13a370ee49003e88c6cabcdbc2f186483677896e079c76e1ff3a3db0e") == 0);
}

/* Bootstrap replay: gm_knn_bootstrap / gm_mean_bootstrap intervals against NumPy percentiles of the same
 * resamples (tools/gen_boot_fixtures.py reproduces the Philox streams), at two levels each. Tolerance 1e-12:
 * the same sums in a different order. */
static int read_vec(FILE *f, const char *want, double *v, size_t cap, size_t *n) {
    char name[64];
    if (fscanf(f, " data %63s %zu", name, n) != 2 || strcmp(name, want) || *n > cap) return 0;
    for (size_t i = 0; i < *n; i++)
        if (fscanf(f, "%lf", &v[i]) != 1) return 0;
    return 1;
}

GM_TEST(test_bootstrap_numpy_replay) {
    FILE *f = fopen("tests/golden/eval_boot.txt", "r");
    CHECK(f != NULL);
    if (!f) return;
    static const char *const names[6] = {"fake_in_real", "real_in_fake", "real_in_fake_dc", "density_count",
                                         "covered", "values"};
    double v[6][64];
    size_t n[6];
    for (int k = 0; k < 6; k++) CHECK(read_vec(f, names[k], v[k], 64, &n[k]));
    size_t nf = n[0], nr = n[1];
    uint8_t fir[64], rif[64], rifdc[64], cov[64];
    uint32_t dc[64];
    for (size_t i = 0; i < 64; i++) {
        fir[i] = (uint8_t)v[0][i], rif[i] = (uint8_t)v[1][i], rifdc[i] = (uint8_t)v[2][i];
        dc[i] = (uint32_t)v[3][i], cov[i] = (uint8_t)v[4][i];
    }
    gm_knn_result r;
    memset(&r, 0, sizeof r);
    r.n_real = nr, r.n_fake = nf;
    r.fake_in_real = fir, r.real_in_fake = rif, r.real_in_fake_dc = rifdc, r.density_count = dc, r.covered = cov;
    int cases = 0;
    for (int c = 0; c < 2; c++) {
        size_t B, kdc;
        unsigned long long seed;
        double level, want[12];
        CHECK(fscanf(f, " knn %zu %llu %lf %zu", &B, &seed, &level, &kdc) == 4);
        for (int m = 0; m < 12; m++) CHECK(fscanf(f, "%lf", &want[m]) == 1);
        gm_knn_config cfg = gm_knn_config_default();
        cfg.want_pr = cfg.want_dc = 1;
        cfg.k_dc = kdc;
        gm_knn_ci ci;
        CHECK_OK(gm_knn_bootstrap(&r, &cfg, B, seed, level, &ci));
        const gm_ci got[6] = {ci.precision, ci.recall, ci.dc_precision, ci.dc_recall, ci.density, ci.coverage};
        for (int m = 0; m < 6; m++) {
            CHECK_NEAR(got[m].lo, want[2 * m], 1e-12, 1e-15);
            CHECK_NEAR(got[m].hi, want[2 * m + 1], 1e-12, 1e-15);
        }
        cases++;
    }
    for (int c = 0; c < 2; c++) {
        size_t B;
        unsigned long long seed;
        double level, lo, hi;
        CHECK(fscanf(f, " mean %zu %llu %lf %lf %lf", &B, &seed, &level, &lo, &hi) == 5);
        gm_ci ci;
        CHECK_OK(gm_mean_bootstrap(v[5], n[5], B, seed, level, &ci));
        CHECK_NEAR(ci.lo, lo, 1e-12, 1e-15);
        CHECK_NEAR(ci.hi, hi, 1e-12, 1e-15);
        cases++;
    }
    CHECK_INT_EQ(cases, 4);
    fclose(f);
}

GM_TEST_MAIN({"bootstrap_numpy_replay", test_bootstrap_numpy_replay}, {"sha256", test_sha256}, {"bootstrap_and_profiles", test_bootstrap_and_profiles}, {"mt19937_choice_vectors", test_mt19937_choice_vectors}, {"fd_spec_vectors", test_fd_spec_vectors},
             {"fd_closed_forms", test_fd_closed_forms}, {"fd_cholesky_vs_eigh", test_fd_cholesky_vs_eigh}, {"fd_golden", test_fd_golden},
             {"fdstats_merge", test_fdstats_merge}, {"mmd_spec_vectors", test_mmd_spec_vectors},
             {"mmd_kid_golden", test_mmd_kid_golden}, {"prdc_spec_vectors", test_prdc_spec_vectors},
             {"prdc_golden_and_tiles", test_prdc_golden_and_tiles}, {"knn_p_equals_q", test_knn_p_equals_q},
             {"thread_invariance", test_thread_invariance}, {"eval_bad_input", test_eval_bad_input})
