/* SPDX-License-Identifier: MIT */
/* test_eval_twosample.c — the two-sample statistics of float point sets (eval_twosample.c): RBF MMD^2
 * (hand value, the Gaussian closed form of spec latent_mcmc.md 5.3, thread-count invariance), median
 * distance, sliced Wasserstein, log P-hat, C2ST, P-hat moments, nearest squared distances, bad input. */
#include "gm_test.h"
#include "genmix/eval.h"
#include "genmix/rng.h"

#ifdef _OPENMP
#include <omp.h>
#endif

GM_TEST(test_mmd_known_answers) {
    /* hand computation: x = {0, 1}, y = {0, 2} in 1-D, h = 1 */
    float x[2] = {0, 1}, y[2] = {0, 2};
    double v;
    CHECK_OK(gm_latent_mmd2_rbf(x, 2, y, 2, 1, 1.0, &v));
    double want = exp(-0.5) + exp(-2.0) - 2.0 * (1.0 + exp(-2.0) + exp(-0.5) + exp(-0.5)) / 4.0;
    CHECK_NEAR(v, want, 1e-12, 1e-15);
    /* Gaussians N(0, s1^2 I_d) vs N(0, s2^2 I_d) (spec 5.3 closed form) */
    const size_t n = 3000, d = 2;
    const double s1 = 1.0, s2 = 1.5, h = 1.0;
    float *a = malloc(n * d * sizeof(float)), *b = malloc(n * d * sizeof(float));
    gm_rng r;
    gm_rng_init(&r, 5, gm_rng_stream_id(GM_STREAM_SIM, 0));
    for (size_t i = 0; i < n * d; i++) a[i] = (float)(s1 * gm_rng_normal(&r));
    for (size_t i = 0; i < n * d; i++) b[i] = (float)(s2 * gm_rng_normal(&r));
    double h2 = h * h, e = (double)d / 2.0;
    double closed = pow(h2 / (h2 + 2 * s1 * s1), e) + pow(h2 / (h2 + 2 * s2 * s2), e) -
                    2.0 * pow(h2 / (h2 + s1 * s1 + s2 * s2), e);
    CHECK_OK(gm_latent_mmd2_rbf(a, n, b, n, d, h, &v));
    CHECK_NEAR(v, closed, 0, 0.008);
    CHECK(closed > 0.04);
    /* same law: MMD^2 near 0 (unbiased: may be negative) */
    for (size_t i = 0; i < n * d; i++) b[i] = (float)(s1 * gm_rng_normal(&r));
    CHECK_OK(gm_latent_mmd2_rbf(a, n, b, n, d, h, &v));
    CHECK_NEAR(v, 0.0, 0, 0.003);
#ifdef _OPENMP
    double v1, v2;
    int saved = omp_get_max_threads();
    omp_set_num_threads(1);
    CHECK_OK(gm_latent_mmd2_rbf(a, 500, b, 400, d, h, &v1));
    omp_set_num_threads(2);
    CHECK_OK(gm_latent_mmd2_rbf(a, 500, b, 400, d, h, &v2));
    omp_set_num_threads(saved);
    CHECK(v1 == v2);
#endif
    CHECK_RC(gm_latent_mmd2_rbf(a, 1, b, n, d, h, &v), GM_EINVAL);
    CHECK_RC(gm_latent_mmd2_rbf(a, n, b, n, d, 0.0, &v), GM_EINVAL);
    a[3] = NAN;
    CHECK_RC(gm_latent_mmd2_rbf(a, 10, b, 10, d, h, &v), GM_ENUMERIC);
    free(a);
    free(b);
}

GM_TEST(test_median_distance) {
    float x[3] = {0, 1, 3}, y[1] = {7};
    double h;
    CHECK_OK(gm_latent_median_distance(x, 3, NULL, 0, 1, 0, &h)); /* 1, 3, 2 -> 2 */
    CHECK_NEAR(h, 2.0, 0, 0);
    CHECK_OK(gm_latent_median_distance(x, 3, y, 1, 1, 0, &h)); /* 1 3 7 2 6 4 -> (3+4)/2 */
    CHECK_NEAR(h, 3.5, 0, 0);
    CHECK_OK(gm_latent_median_distance(x, 3, y, 1, 1, 2, &h)); /* rows 0 and 2 of the pool: |0-3| */
    CHECK_NEAR(h, 3.0, 0, 0);
    CHECK_RC(gm_latent_median_distance(x, 1, NULL, 0, 1, 0, &h), GM_EINVAL);
}

GM_TEST(test_swd) {
    /* y = x + c: every projection is shifted by u.c, so SW2^2 = mean_u (u.c)^2 -> |c|^2 / d */
    const size_t n = 500, d = 4;
    float *x = malloc(n * d * sizeof(float)), *y = malloc(n * d * sizeof(float));
    gm_rng r;
    gm_rng_init(&r, 8, gm_rng_stream_id(GM_STREAM_SIM, 0));
    for (size_t i = 0; i < n * d; i++) x[i] = (float)gm_rng_normal(&r);
    const float c[4] = {1, -2, 0.5f, 2};
    for (size_t i = 0; i < n * d; i++) y[i] = x[i] + c[i % d];
    double v, v2;
    CHECK_OK(gm_latent_swd(x, y, n, d, 2000, 1, &v));
    CHECK_NEAR(v * v, (1 + 4 + 0.25 + 4) / 4.0, 0.06, 0); /* Monte-Carlo over 2000 directions */
    CHECK_OK(gm_latent_swd(x, x, n, d, 10, 1, &v));
    CHECK_NEAR(v, 0.0, 0, 0);
    /* scale: N(0, I) vs N(0, 4 I): each projection W2 = |1 - 2| (up to sampling error) */
    for (size_t i = 0; i < n * d; i++) y[i] = 2.0f * (float)gm_rng_normal(&r);
    CHECK_OK(gm_latent_swd(x, y, n, d, 256, 2, &v));
    CHECK_NEAR(v, 1.0, 0.15, 0);
    CHECK_OK(gm_latent_swd(x, y, n, d, 256, 2, &v2));
    CHECK(v == v2); /* seeded */
    CHECK_RC(gm_latent_swd(x, y, n, d, 0, 2, &v), GM_EINVAL);
    free(x);
    free(y);
}

GM_TEST(test_log_phat) {
    /* N = 1: the Gaussian log-density; N = 2: hand log-sum-exp */
    float z[2] = {0.5f, -1.0f}, mu[4] = {0, 0, 1, -1}, lv[4] = {0, 0, logf(4.0f), 0};
    double out[1];
    CHECK_OK(gm_latent_log_phat(out, z, 1, mu, lv, 1, 2));
    double l1 = gm_normal_logpdf(0.5, 0, 1) + gm_normal_logpdf(-1.0, 0, 1);
    CHECK_NEAR(out[0], l1, 1e-12, 0);
    CHECK_OK(gm_latent_log_phat(out, z, 1, mu, lv, 2, 2));
    double l2 = gm_normal_logpdf(0.5, 1, 2) + gm_normal_logpdf(-1.0, -1, 1);
    CHECK_NEAR(out[0], log(0.5 * exp(l1) + 0.5 * exp(l2)), 1e-6, 0);
    /* far away from every component: log-sum-exp stays finite */
    float zf[2] = {300, 300};
    CHECK_OK(gm_latent_log_phat(out, zf, 1, mu, lv, 2, 2));
    CHECK(isfinite(out[0]) && out[0] < -1e4);
    CHECK_RC(gm_latent_log_phat(out, z, 0, mu, lv, 2, 2), GM_EINVAL);
}

GM_TEST(test_c2st) {
    /* two unit Gaussians with mean difference delta along one axis: the best linear classifier has
     * accuracy Phi(delta / 2); identical laws give 0.5 */
    const size_t n = 4000, d = 3;
    float *a = malloc(n * d * sizeof(float)), *b = malloc(n * d * sizeof(float));
    gm_rng r;
    gm_rng_init(&r, 12, gm_rng_stream_id(GM_STREAM_SIM, 0));
    for (size_t i = 0; i < n * d; i++) a[i] = (float)gm_rng_normal(&r);
    for (size_t i = 0; i < n * d; i++) b[i] = (float)gm_rng_normal(&r);
    double acc, se = 0.5 / sqrt((double)n);
    CHECK_OK(gm_latent_c2st(a, n, b, n, d, 1, &acc));
    CHECK_NEAR(acc, 0.5, 0, 5 * se);
    for (size_t i = 0; i < n; i++) b[i * d + 1] += 1.0f;
    CHECK_OK(gm_latent_c2st(a, n, b, n, d, 1, &acc));
    double want = 0.5 * erfc(-0.5 / sqrt(2.0)); /* Phi(0.5) = 0.6915 */
    CHECK_NEAR(acc, want, 0, 5 * sqrt(want * (1 - want) / (double)n) + 0.01);
    /* separable sets: accuracy 1 (the L2 penalty keeps Newton finite) */
    for (size_t i = 0; i < n; i++) b[i * d] = 50.0f + fabsf(b[i * d]);
    CHECK_OK(gm_latent_c2st(a, n, b, n, d, 1, &acc));
    CHECK_NEAR(acc, 1.0, 0, 0);
    CHECK_RC(gm_latent_c2st(a, 3, b, n, d, 1, &acc), GM_EINVAL);
    free(a);
    free(b);
}

GM_TEST(test_phat_moments) {
    /* mu = (i, 0), logvar = (0, log 4) for i = 0..3: mean (1.5, 0), var (1 + 5/3, 4), 1 active dim */
    float mu[8], lv[8];
    for (int i = 0; i < 4; i++) {
        mu[i * 2] = (float)i;
        mu[i * 2 + 1] = 0.0f;
        lv[i * 2] = 0.0f;
        lv[i * 2 + 1] = logf(4.0f);
    }
    double mean[2], var[2];
    size_t act;
    CHECK_OK(gm_latent_phat_moments(mu, lv, 4, 2, 0.01, mean, var, &act));
    CHECK_NEAR(mean[0], 1.5, 1e-12, 0);
    CHECK_NEAR(var[0], 1.0 + 5.0 / 3.0, 1e-12, 0);
    CHECK_NEAR(var[1], 4.0, 1e-6, 0);
    CHECK_INT_EQ(act, 1);
    CHECK_OK(gm_latent_phat_moments(mu, NULL, 4, 2, 0.01, NULL, var, NULL));
    CHECK_NEAR(var[0], 5.0 / 3.0, 1e-12, 0);
    CHECK_RC(gm_latent_phat_moments(mu, lv, 1, 2, 0.01, mean, var, &act), GM_EINVAL);
}

GM_TEST(test_nearest_sqdist) {
    /* against brute force on random points; an exact copy of a reference row has distance ~0 */
    const size_t m = 300, n = 700, d = 20;
    float *q = malloc(m * d * sizeof(float)), *r = malloc(n * d * sizeof(float)), *o = malloc(m * sizeof(float));
    gm_rng g;
    gm_rng_init(&g, 4, gm_rng_stream_id(GM_STREAM_SIM, 0));
    gm_rng_uniform_fill(&g, q, m * d);
    gm_rng_uniform_fill(&g, r, n * d);
    memcpy(q + 5 * d, r + 17 * d, d * sizeof(float));
    CHECK_OK(gm_latent_nearest_sqdist(q, m, r, n, d, o));
    int bad = 0;
    for (size_t i = 0; i < m; i++) {
        double best = HUGE_VAL;
        for (size_t j = 0; j < n; j++) {
            double s = 0;
            for (size_t k = 0; k < d; k++) s += pow((double)q[i * d + k] - (double)r[j * d + k], 2);
            best = fmin(best, s);
        }
        bad += fabs((double)o[i] - best) > 1e-4 * (1 + best);
    }
    CHECK_INT_EQ(bad, 0);
    CHECK(o[5] < 1e-5f);
    CHECK_RC(gm_latent_nearest_sqdist(q, 0, r, n, d, o), GM_EINVAL);
    free(q);
    free(r);
    free(o);
}

GM_TEST_MAIN({"mmd_known_answers", test_mmd_known_answers}, {"median_distance", test_median_distance},
             {"swd", test_swd}, {"nearest_sqdist", test_nearest_sqdist}, {"c2st", test_c2st},
             {"phat_moments", test_phat_moments}, {"log_phat", test_log_phat})
