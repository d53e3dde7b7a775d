/* SPDX-License-Identifier: MIT */
/* test_prdiv.c — PR curves and PR-divergences against the closed forms of spec §5 (pr_divergence.md):
 * V1 (Sajjadi's unit cases), V2–V4 tables to 1e-6, V5 mixture identity to 1e-6, V6 on a grid, V7/V8 k-NN
 * expectations within Monte-Carlo error, V9 estimator cross-checks, curve properties and bad input. */
#include "gm_test.h"
#include "genmix/prdiv.h"
#include "genmix/rng.h"

static const double PI = 3.14159265358979323846;
static const double SQ2 = 1.41421356237309504880;
static double Phi(double x) { return 0.5 * erfc(-x / SQ2); }

/* ---- V1 --------------------------------------------------------------------------------------------- */
GM_TEST(test_v1_sajjadi) {
    double P[11], R[11];
    double e1[2] = {0, 1}, r1[2] = {1, 0};
    CHECK_OK(gm_prd_from_histograms(e1, r1, 2, 11, P, R));
    for (int i = 0; i < 11; i++) CHECK(P[i] == 0 && R[i] == 0);
    double e2[2] = {1, 0};
    CHECK_OK(gm_prd_from_histograms(e2, r1, 2, 11, P, R));
    CHECK_NEAR(P[5], 1, 0, 1e-6);
    CHECK_NEAR(R[5], 1, 0, 1e-6);
    double e3[2] = {.5, .5};
    CHECK_OK(gm_prd_from_histograms(e3, r1, 2, 11, P, R));
    CHECK_NEAR(P[5], .5, 0, 1e-6);
    CHECK_NEAR(R[5], .5, 0, 1e-6);
    CHECK_NEAR(P[10], .5, 0, 1e-6);
    CHECK_NEAR(R[1], 1, 0, 1e-6);
    double r4[2] = {.5, .5};
    CHECK_OK(gm_prd_from_histograms(e2, r4, 2, 11, P, R));
    CHECK_NEAR(P[5], .5, 0, 1e-6);
    CHECK_NEAR(R[5], .5, 0, 1e-6);
    CHECK_NEAR(R[1], .5, 0, 1e-6);
    CHECK_NEAR(P[10], 1, 0, 1e-6);
    /* the same cases through gm_prcurve_discrete (real = ref, fake = eval) at λ = tan of the angles */
    double lam[3] = {tan(1e-10 + ((PI / 2) - 2e-10) * 0.1), 1, tan((PI / 2) - 1e-10)}, a[3], b[3];
    CHECK_OK(gm_prcurve_discrete(r1, e3, 2, lam, 3, a, b));
    CHECK_NEAR(a[1], .5, 0, 1e-12);
    CHECK_NEAR(b[0], 1, 0, 1e-12);
    CHECK_NEAR(a[2], .5, 0, 1e-12);
    CHECK_OK(gm_prcurve_discrete(r4, e2, 2, lam, 3, a, b));
    CHECK_NEAR(b[0], .5, 0, 1e-12);
    CHECK_NEAR(a[2], 1, 0, 1e-12);
    /* F_beta */
    double p[7] = {1, 1, 0, 0, .5, 1, .5}, r[7] = {1, 0, 1, 0, .5, .5, 1};
    double f1[7] = {1, 0, 0, 0, .5, 2. / 3, 2. / 3}, f2[7] = {1, 0, 0, 0, .5, 5. / 9, 5. / 6},
           fh[7] = {1, 0, 0, 0, .5, 5. / 6, 5. / 9};
    for (int i = 0; i < 7; i++) {
        CHECK_NEAR(gm_prd_fbeta_max(p + i, r + i, 1, 1), f1[i], 0, 1e-6);
        CHECK_NEAR(gm_prd_fbeta_max(p + i, r + i, 1, 2), f2[i], 0, 1e-6);
        CHECK_NEAR(gm_prd_fbeta_max(p + i, r + i, 1, 0.5), fh[i], 0, 1e-6);
    }
}

/* ---- V2 --------------------------------------------------------------------------------------------- */
static double v2p[4] = {.1, .2, .3, .4}, v2q[4] = {.4, .3, .2, .1};
static double v2_D(double lam, void *ctx) {
    (void)ctx;
    double a;
    gm_prcurve_discrete(v2p, v2q, 4, &lam, 1, &a, NULL);
    return gm_prdiv_from_alpha(lam, a);
}
GM_TEST(test_v2_discrete) {
    double lam[5] = {.25, .5, 1, 2, 4}, A[5] = {.25, .4, .6, .8, 1}, Bt[5] = {1, .8, .6, .4, .25},
           D[5] = {0, .1, .4, .2, 0}, a[5], b[5];
    CHECK_OK(gm_prcurve_discrete(v2p, v2q, 4, lam, 5, a, b));
    for (int i = 0; i < 5; i++) {
        CHECK_NEAR(a[i], A[i], 0, 1e-6);
        CHECK_NEAR(b[i], Bt[i], 0, 1e-6);
        CHECK_NEAR(gm_prdiv_from_alpha(lam[i], a[i]), D[i], 0, 1e-6);
        /* D = E_Q f_λ(p/q) */
        double d = 0;
        for (int j = 0; j < 4; j++) d += v2q[j] * gm_prdiv_f(lam[i], v2p[j] / v2q[j]);
        CHECK_NEAR(d, D[i], 0, 1e-12);
    }
    CHECK_NEAR(gm_fdiv_discrete(GM_FDIV_KL, v2p, v2q, 4), 0.456435, 0, 1e-6);
    /* mixture identity for every f; D is piecewise linear in λ (kinks at q_i/p_i), Simpson converges as h^2 */
    for (int f = 0; f < GM_FDIV_COUNT; f++) {
        double m;
        CHECK_OK(gm_prdiv_mixture((gm_fdiv)f, v2_D, NULL, -8, 8, 64000, &m));
        CHECK_NEAR(m, gm_fdiv_discrete((gm_fdiv)f, v2p, v2q, 4), 1e-6, 1e-7);
    }
}

/* ---- V3 / V4 ---------------------------------------------------------------------------------------- */
GM_TEST(test_v3_v4_gauss) {
    double lam[5] = {.1, .5, 1, 2, 10};
    double A[5] = {0.098962, 0.404695, 0.617075, 0.809390, 0.989621}, D[5] = {0.001038, 0.095305, 0.382925, 0.190610, 0.010379};
    for (int i = 0; i < 5; i++) {
        double a = gm_prcurve_gauss1d(0, 1, 1, 1, lam[i]);
        CHECK_NEAR(a, A[i], 0, 1e-6);
        CHECK_NEAR(a / lam[i], A[4 - i], 0, 1e-6);
        CHECK_NEAR(gm_prdiv_gauss1d(0, 1, 1, 1, lam[i]), D[i], 0, 1e-6);
        CHECK_NEAR(gm_prdiv_from_alpha(lam[i], a), D[i], 0, 1e-6);
        /* the closed form of the spec: t = ln λ/μ + μ/2, α = λ(1 − Φ(t)) + Φ(t − μ)  (μ = 1) */
        double t = log(lam[i]) + 0.5;
        CHECK_NEAR(a, lam[i] * (1 - Phi(t)) + Phi(t - 1), 0, 1e-12);
    }
    CHECK_NEAR(gm_prdiv_gauss1d(0, 1, 1, 1, 1), 2 * Phi(0.5) - 1, 0, 1e-12); /* TV */
    double l4[6] = {.25, .5, 1, 1.5, 2, 4}, A4[6] = {0.208774, 0.386330, 0.677325, 0.888951, 1, 1},
           B4[6] = {0.835095, 0.772659, 0.677325, 0.592634, 0.5, 0.25}, D4[6] = {0.041226, 0.113670, 0.322675, 0.111049, 0, 0};
    for (int i = 0; i < 6; i++) {
        double a = gm_prcurve_gauss1d(0, 1, 0, 0.5, l4[i]);
        CHECK_NEAR(a, A4[i], 0, 1e-6);
        CHECK_NEAR(a / l4[i], B4[i], 0, 1e-6);
        CHECK_NEAR(gm_prdiv_gauss1d(0, 1, 0, 0.5, l4[i]), D4[i], 0, 1e-6);
    }
}

GM_TEST(test_curve_properties) {
    /* monotone, bounded, α = min(λ,1) for P = Q, 0 for disjoint supports, α_∞ = Q(supp P), β_0 = P(supp Q) */
    double prev_a = 0, prev_b = INFINITY;
    for (double s = -6; s <= 6; s += 0.05) {
        double lam = exp(s), a = gm_prcurve_gauss1d(0, 1, 0.7, 1.3, lam), b = a / lam;
        CHECK(a >= prev_a - 1e-15 && b <= prev_b + 1e-15);
        CHECK(a <= fmin(lam, 1) + 1e-15 && b <= fmin(1, 1 / lam) + 1e-15);
        CHECK_NEAR(gm_prcurve_gauss1d(0.3, 2, 0.3, 2, lam), fmin(lam, 1), 0, 1e-12);
        prev_a = a;
        prev_b = b;
    }
    double p[4] = {.5, .5, 0, 0}, q[4] = {0, 0, .25, .75}, q2[4] = {.2, 0, .8, 0}, l[2] = {1e-9, 1e9}, a[2], b[2];
    CHECK_OK(gm_prcurve_discrete(p, q, 4, l, 2, a, b));
    CHECK(a[0] == 0 && a[1] == 0 && b[0] == 0 && b[1] == 0);
    CHECK_OK(gm_prcurve_discrete(p, q2, 4, l, 2, a, b));
    CHECK_NEAR(a[1], 0.2, 0, 1e-12); /* Q(supp P) */
    CHECK_NEAR(b[0], 0.5, 0, 1e-12); /* P(supp Q) */
}

/* ---- V5 --------------------------------------------------------------------------------------------- */
static double v3_D(double lam, void *ctx) {
    (void)ctx;
    return gm_prdiv_gauss1d(0, 1, 1, 1, lam);
}
GM_TEST(test_v5_mixture) {
    double want[5] = {0.5, 0.5, exp(1.0) - 1, 2 * (1 - exp(-0.125)), 0.222843};
    gm_fdiv fs[5] = {GM_FDIV_KL, GM_FDIV_RKL, GM_FDIV_PEARSON, GM_FDIV_HELLINGER, GM_FDIV_JS2};
    for (int i = 0; i < 5; i++) {
        double m;
        CHECK_OK(gm_prdiv_mixture(fs[i], v3_D, NULL, -30, 30, 6000, &m));
        CHECK_NEAR(m, want[i], 0, i == 4 ? 1e-6 : 1e-9);
    }
    double m;
    CHECK_RC(gm_prdiv_mixture(GM_FDIV_KL, v3_D, NULL, 1, 1, 10, &m), GM_EINVAL);
}

/* ---- V6 on a grid ----------------------------------------------------------------------------------- */
static double npdf(double x, double m, double s) { return exp(-0.5 * (x - m) * (x - m) / (s * s)) / (s * 2.5066282746310002); }
GM_TEST(test_v6_grid) {
    enum { NG = 40000 };
    static double p[NG], q[NG];
    const double lo = -20, h = 40.0 / NG;
    double ms[4][2] = {{0, 2}, {0, 1}, {2, .5}, {2, .25}};
    double lam[5] = {.1, .5, 1, 2, 10};
    double A[4][5] = {{.1000, .3928, .4847, .5601, .7030},
                      {.0928, .2127, .2736, .3389, .5025},
                      {.0500, .2500, .5000, 1, 1},
                      {.0459, .2088, .3863, .6773, 1}};
    for (int i = 0; i < NG; i++) {
        double x = lo + (i + 0.5) * h;
        p[i] = 0.5 * npdf(x, -2, .5) + 0.5 * npdf(x, 2, .5);
    }
    for (int m = 0; m < 4; m++) {
        for (int i = 0; i < NG; i++) q[i] = npdf(lo + (i + 0.5) * h, ms[m][0], ms[m][1]);
        double a[5], b[5];
        CHECK_OK(gm_prcurve_grid(p, q, NG, h, lam, 5, a, b));
        for (int l = 0; l < 5; l++) CHECK_NEAR(a[l], A[m][l], 0, 6e-5);
    }
}

/* ---- V7 / V9c: mode dropping --------------------------------------------------------------------------- */
/* n points per mode around 8 centres on a circle of radius 10 (σ 0.1); modes listed in `which`. */
static float *ring(size_t per, const int *which, int nm, uint64_t stream) {
    float *x = malloc(per * (size_t)nm * 2 * sizeof(float));
    gm_rng r;
    gm_rng_init(&r, 7, gm_rng_stream_id(GM_STREAM_SIM, stream));
    for (int m = 0; m < nm; m++)
        for (size_t i = 0; i < per; i++) {
            double th = 2 * PI * which[m] / 8;
            x[2 * (m * per + i)] = (float)(10 * cos(th) + 0.1 * gm_rng_normal(&r));
            x[2 * (m * per + i) + 1] = (float)(10 * sin(th) + 0.1 * gm_rng_normal(&r));
        }
    return x;
}
GM_TEST(test_v7_mode_dropping) {
    int all[8] = {0, 1, 2, 3, 4, 5, 6, 7}, half[4] = {0, 2, 4, 6};
    double p[8], q[8], lam[6] = {.25, .5, 1, 2, 4, 8}, a[6], b[6];
    for (int i = 0; i < 8; i++) {
        p[i] = 1. / 8;
        q[i] = i % 2 ? 0 : 0.25;
    }
    CHECK_OK(gm_prcurve_discrete(p, q, 8, lam, 6, a, b));
    for (int l = 0; l < 6; l++) {
        CHECK_NEAR(a[l], fmin(lam[l] / 2, 1), 0, 1e-12);
        CHECK_NEAR(b[l], fmin(0.5, 1 / lam[l]), 0, 1e-12);
    }
    float *R = ring(250, all, 8, 1), *F = ring(500, half, 4, 2);
    gm_feats fr = gm_feats_f32(R, 2000, 2), ff = gm_feats_f32(F, 2000, 2);
    gm_knn_config kc = gm_knn_config_default();
    gm_knn_result kr;
    CHECK_OK(gm_knn(&fr, &ff, &kc, &kr));
    fprintf(stderr, "    V7 k-NN: P %.4f R %.4f C %.4f\n", kr.precision, kr.recall, kr.coverage);
    CHECK(kr.precision > 0.95);
    CHECK_NEAR(kr.recall, 0.5, 0, 0.02);
    CHECK_NEAR(kr.coverage, 0.5, 0, 0.02);
    gm_knn_result_free(&kr);
    /* V9c: histogram PRD with clusters = modes reproduces V7 (away from the kink at λ = 2) */
    gm_prd_config pc = gm_prd_config_default();
    pc.num_clusters = 8;
    pc.num_runs = 2;
    double lh[5] = {.25, .5, 1, 4, 8};
    CHECK_OK(gm_prcurve_hist(&fr, &ff, &pc, lh, 5, a, b));
    for (int l = 0; l < 5; l++) {
        CHECK_NEAR(a[l], fmin(lh[l] / 2, 1), 0, 1e-9);
        CHECK_NEAR(b[l], fmin(0.5, 1 / lh[l]), 0, 1e-9);
    }
    /* the k-NN density-ratio curve sees the dropped modes too */
    CHECK_OK(gm_prcurve_knn(&fr, &ff, 5, lh, 5, a, b));
    for (int l = 0; l < 5; l++) CHECK_NEAR(a[l], fmin(lh[l] / 2, 1), 0, 0.05);
    free(R);
    free(F);
}

/* ---- V8: density and coverage when P = Q ------------------------------------------------------------ */
GM_TEST(test_v8_knn_expectations) {
    enum { REPS = 12, N = 1000 };
    double dens[REPS], cov[REPS];
    float *X = malloc(2 * N * 2 * sizeof(float));
    for (int rep = 0; rep < REPS; rep++) {
        gm_rng r;
        gm_rng_init(&r, 11, gm_rng_stream_id(GM_STREAM_SIM, 100 + rep));
        gm_rng_normal_fill(&r, X, 2 * N * 2);
        gm_feats a = gm_feats_f32(X, N, 2), b = gm_feats_f32(X + N * 2, N, 2);
        gm_knn_config kc = gm_knn_config_default();
        kc.want_pr = 0;
        gm_knn_result kr;
        CHECK_OK(gm_knn(&a, &b, &kc, &kr));
        dens[rep] = kr.density;
        cov[rep] = kr.coverage;
        gm_knn_result_free(&kr);
    }
    double md = 0, mc = 0, vd = 0, vc = 0;
    for (int i = 0; i < REPS; i++) md += dens[i] / REPS, mc += cov[i] / REPS;
    for (int i = 0; i < REPS; i++) vd += (dens[i] - md) * (dens[i] - md), vc += (cov[i] - mc) * (cov[i] - mc);
    double sed = sqrt(vd / (REPS - 1) / REPS), sec = sqrt(vc / (REPS - 1) / REPS);
    fprintf(stderr, "    V8: density %.4f ± %.4f (1), coverage %.5f ± %.5f (0.968984)\n", md, sed, mc, sec);
    CHECK(fabs(md - 1) < 4 * sed + 1e-3);
    CHECK(fabs(mc - 0.968984) < 4 * sec + 1e-4);
    free(X);
}

/* ---- V9a / V9b: estimators on V3 samples ---------------------------------------------------------------- */
static double *v3_samples(size_t n, double mu, uint64_t stream) {
    double *x = malloc(n * sizeof(double));
    gm_rng r;
    gm_rng_init(&r, 3, gm_rng_stream_id(GM_STREAM_SIM, stream));
    for (size_t i = 0; i < n; i++) x[i] = mu + gm_rng_normal(&r);
    return x;
}
GM_TEST(test_v9_logratio_scores) {
    enum { N = 100000 };
    double *xr = v3_samples(N, 0, 1), *xf = v3_samples(N, 1, 2);
    double *lr = malloc(N * sizeof(double)), *lf = malloc(N * sizeof(double)), *sr = malloc(N * sizeof(double)),
           *sf = malloc(N * sizeof(double));
    for (size_t i = 0; i < N; i++) {
        lr[i] = 0.5 - xr[i]; /* log r(x) = ½ − x */
        lf[i] = 0.5 - xf[i];
        sr[i] = -xr[i];
        sf[i] = -xf[i];
    }
    double lam[5] = {.1, .5, 1, 2, 10}, A[5] = {0.098962, 0.404695, 0.617075, 0.809390, 0.989621};
    double a[5], b[5], ap[5], aq[5];
    CHECK_OK(gm_prcurve_from_logratio(lr, N, lf, N, lam, 5, a, b, ap, aq));
    for (int l = 0; l < 5; l++) {
        /* each half has per-sample values in [0, min(λ,1)]: standard error <= min(λ,1)/(2 sqrt N) */
        double se = fmin(lam[l], 1) / (2 * sqrt((double)N));
        CHECK_NEAR(ap[l], A[l], 0, 4 * se);
        CHECK_NEAR(aq[l], A[l], 0, 4 * se);
        CHECK_NEAR(ap[l], aq[l], 0, 6 * se);
    }
    CHECK_OK(gm_prcurve_from_scores(sr, N, sf, N, lam, 5, a, b));
    for (int l = 0; l < 5; l++) CHECK_NEAR(a[l], A[l], 0, 0.005);
    free(xr), free(xf), free(lr), free(lf), free(sr), free(sf);
}

GM_TEST(test_v9_estimators) {
    enum { N = 10000 };
    double *xr = v3_samples(N, 0, 3), *xf = v3_samples(N, 1, 4);
    gm_feats fr = gm_feats_f64(xr, N, 1), ff = gm_feats_f64(xf, N, 1);
    double lam[5] = {.1, .5, 1, 2, 10}, A[5] = {0.098962, 0.404695, 0.617075, 0.809390, 0.989621}, a[5], b[5];
    gm_prcurve_config pc = gm_prcurve_config_default();
    pc.weight_decay = 0; /* 1-D with a bias: the optimal logit 0.5 − x is linear */
    CHECK_OK(gm_prcurve_classifier(&fr, &ff, &pc, lam, 5, a, b));
    for (int l = 0; l < 5; l++) {
        fprintf(stderr, "    classifier λ=%g: %.4f (%.4f)\n", lam[l], a[l], A[l]);
        CHECK_NEAR(a[l], A[l], 0, 0.015);
    }
    CHECK_OK(gm_prcurve_knn(&fr, &ff, 10, lam, 5, a, b));
    for (int l = 0; l < 5; l++) {
        fprintf(stderr, "    knn λ=%g: %.4f (%.4f)\n", lam[l], a[l], A[l]);
        CHECK_NEAR(a[l], A[l], 0, 0.02);
    }
    free(xr), free(xf);
}

GM_TEST(test_bad_input) {
    double p[2] = {.5, .5}, l[2] = {1, 0}, a[2], b[2];
    CHECK_RC(gm_prcurve_discrete(p, p, 2, l, 2, a, b), GM_EINVAL);
    l[1] = NAN;
    CHECK_RC(gm_prcurve_discrete(p, p, 2, l, 2, a, b), GM_EINVAL);
    l[1] = -1;
    CHECK_RC(gm_prcurve_check_lambdas(l, 2), GM_EINVAL);
    double bad[2] = {.7, .7};
    l[1] = 2;
    CHECK_RC(gm_prcurve_discrete(p, bad, 2, l, 2, a, b), GM_EINVAL);
    float x[8] = {0, 1, 2, 3, 4, 5, 6, 7};
    gm_feats f2 = gm_feats_f32(x, 4, 2), f1 = gm_feats_f32(x, 8, 1);
    CHECK_RC(gm_prcurve_knn(&f2, &f1, 1, l, 2, a, b), GM_ESHAPE);
    CHECK_RC(gm_prcurve_knn(&f2, &f2, 4, l, 2, a, b), GM_EINVAL);
    gm_prcurve_config pc = gm_prcurve_config_default();
    CHECK_RC(gm_prcurve_estimate(&f2, &f2, (gm_prcurve_estimator)7, &pc, l, 2, a, b), GM_EINVAL);
    CHECK_INT_EQ(gm_prcurve_estimator_from_name("knn"), GM_PRCURVE_KNN);
    CHECK_INT_EQ(gm_prcurve_estimator_from_name("nope"), -1);
    double s[1] = {NAN};
    CHECK_RC(gm_prcurve_from_scores(s, 1, s, 1, l, 2, a, b), GM_ENUMERIC);
}


/* every allocation of the estimators may fail: the call returns GM_ENOMEM (or succeeds), never crashes */
GM_TEST(test_alloc_failure_sweep) {
    enum { N = 300 };
    double *xr = v3_samples(N, 0, 5), *xf = v3_samples(N, 1, 6);
    gm_feats fr = gm_feats_f64(xr, N, 1), ff = gm_feats_f64(xf, N, 1);
    double lam[3] = {.5, 1, 2}, a[3], b[3], want[3];
    gm_prcurve_config pc = gm_prcurve_config_default();
    pc.runs = 2, pc.epochs = 1;
    for (int est = 0; est < 3; est++) {
        pc.prd.num_runs = 1, pc.prd.n_init = 1, pc.prd.num_clusters = 5, pc.prd.num_angles = 101;
        CHECK_OK(gm_prcurve_estimate(&fr, &ff, (gm_prcurve_estimator)est, &pc, lam, 3, want, NULL));
        int failed = 0, done = 0;
        for (long n = 1; n < 400 && !done; n++) {
            gm_alloc_fail_nth(n, 1);
            int rc = gm_prcurve_estimate(&fr, &ff, (gm_prcurve_estimator)est, &pc, lam, 3, a, b);
            gm_alloc_fail_nth(0, 0);
            if (rc == GM_OK) {
                done = 1;
                for (int l = 0; l < 3; l++) CHECK(a[l] == want[l]);
            } else if (rc != GM_ENOMEM) {
                failed++;
            }
        }
        CHECK(done);
        CHECK_INT_EQ(failed, 0);
    }
    free(xr), free(xf);
}

GM_TEST_MAIN({"v1_sajjadi", test_v1_sajjadi}, {"v2_discrete", test_v2_discrete}, {"v3_v4_gauss", test_v3_v4_gauss},
             {"curve_properties", test_curve_properties}, {"v5_mixture", test_v5_mixture}, {"v6_grid", test_v6_grid},
             {"v7_mode_dropping", test_v7_mode_dropping}, {"v8_knn_expectations", test_v8_knn_expectations},
             {"v9_logratio_scores", test_v9_logratio_scores}, {"v9_estimators", test_v9_estimators},
             {"bad_input", test_bad_input},
             {"alloc_failure_sweep", test_alloc_failure_sweep})
