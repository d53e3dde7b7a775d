/* SPDX-License-Identifier: MIT */
/* test_smc.c — the SMC particle system: resampling unbiasedness and count bounds, ESS, log Ẑ
 * bookkeeping, the gather of every registered array, permutation invariance, tempering exponents,
 * bad input and allocation failures. (DAS-level tests, incl. the permutation-bug regression and
 * thread invariance, are in test_das.c.) */
#include <math.h>
#include <string.h>

#include "genmix/smc.h"
#include "gm_test.h"

static const gm_resample_scheme schemes[3] = {GM_RESAMPLE_SYSTEMATIC, GM_RESAMPLE_SSP, GM_RESAMPLE_MULTINOMIAL};

/* Offspring counts' mean = m W_k within 4 standard errors over R draws; systematic/ssp counts within
 * {floor(mW), ceil(mW)}; sum always m. */
static void check_unbiased(gm_resample_scheme sc, size_t n, size_t m, const double *W, int R) {
    double *sum = calloc(n, sizeof *sum), *sum2 = calloc(n, sizeof *sum2);
    size_t *anc = malloc(m * sizeof *anc), *cnt = malloc(n * sizeof *cnt);
    int bounds_ok = 1, total_ok = 1, sorted_ok = 1;
    for (int r = 0; r < R; r++) {
        gm_rng rng;
        gm_rng_init128(&rng, 7, gm_rng_stream_id(GM_STREAM_PARTICLE, 3), (uint64_t)r);
        CHECK_OK(gm_resample(sc, W, n, m, &rng, anc));
        memset(cnt, 0, n * sizeof *cnt);
        for (size_t j = 0; j < m; j++) {
            cnt[anc[j]]++;
            if (j && anc[j] < anc[j - 1]) sorted_ok = 0;
        }
        size_t tot = 0;
        for (size_t k = 0; k < n; k++) {
            tot += cnt[k];
            sum[k] += (double)cnt[k];
            sum2[k] += (double)cnt[k] * (double)cnt[k];
            double e = (double)m * W[k];
            if (sc != GM_RESAMPLE_MULTINOMIAL && ((double)cnt[k] < floor(e) - 1e-9 || (double)cnt[k] > ceil(e) + 1e-9))
                bounds_ok = 0;
        }
        if (tot != m) total_ok = 0;
    }
    CHECK(bounds_ok);
    CHECK(total_ok);
    CHECK(sorted_ok);
    for (size_t k = 0; k < n; k++) {
        double mean = sum[k] / R, var = sum2[k] / R - mean * mean;
        double se = sqrt(fmax(var, 0.0) / R);
        double e = (double)m * W[k];
        /* a deterministic count (var 0) must equal its expectation to round-off */
        CHECK_NEAR(mean, e, 0, 4.0 * se + 1e-9);
    }
    free(sum);
    free(sum2);
    free(anc);
    free(cnt);
}

GM_TEST(test_resample_unbiased) {
    enum { n = 10 };
    double W[n], s = 0.0;
    for (int k = 0; k < n; k++) s += W[k] = (k + 1.0) * (k + 1.0) + (k == 3 ? 30.0 : 0.0);
    for (int k = 0; k < n; k++) W[k] /= s;
    for (int i = 0; i < 3; i++) {
        check_unbiased(schemes[i], n, n, W, 20000);
        check_unbiased(schemes[i], n, 7, W, 20000); /* m != n */
    }
    /* many small weights, one dominant: SSP's pairwise chain over 200 particles */
    double W2[200], s2 = 0.0;
    for (int k = 0; k < 200; k++) s2 += W2[k] = k == 17 ? 50.0 : 0.5 + 0.01 * (k % 13);
    for (int k = 0; k < 200; k++) W2[k] /= s2;
    for (int i = 0; i < 3; i++) check_unbiased(schemes[i], 200, 200, W2, 3000);
}

GM_TEST(test_resample_edge_cases) {
    enum { n = 16 };
    double W[n];
    size_t anc[n];
    gm_rng rng;
    gm_rng_init(&rng, 1, 0);
    for (int i = 0; i < 3; i++) {
        for (int k = 0; k < n; k++) W[k] = 1.0 / n;
        if (schemes[i] != GM_RESAMPLE_MULTINOMIAL) {
            CHECK_OK(gm_resample(schemes[i], W, n, n, &rng, anc));
            int id = 1;
            for (int k = 0; k < n; k++) id &= anc[k] == (size_t)k;
            CHECK(id); /* uniform weights: identity */
        }
        for (int k = 0; k < n; k++) W[k] = k == 5 ? 1.0 : 0.0;
        CHECK_OK(gm_resample(schemes[i], W, n, n, &rng, anc));
        int one = 1;
        for (int k = 0; k < n; k++) one &= anc[k] == 5;
        CHECK(one); /* one-hot: one parent */
        /* round-off: weights summing to 1 - 1e-12 still give n valid children */
        for (int k = 0; k < n; k++) W[k] = (1.0 - 1e-12) / n;
        CHECK_OK(gm_resample(schemes[i], W, n, n, &rng, anc));
        int valid = 1;
        for (int k = 0; k < n; k++) valid &= anc[k] < (size_t)n;
        CHECK(valid);
    }
    W[0] = NAN;
    CHECK_RC(gm_resample(GM_RESAMPLE_SYSTEMATIC, W, n, n, &rng, anc), GM_EINVAL);
    W[0] = -0.1;
    CHECK_RC(gm_resample(GM_RESAMPLE_SSP, W, n, n, &rng, anc), GM_EINVAL);
    CHECK_RC(gm_resample(GM_RESAMPLE_SSP, W, 0, n, &rng, anc), GM_EINVAL);
    gm_resample_scheme sc;
    CHECK_RC(gm_resample_parse("stratified-ish", &sc), GM_EINVAL);
    CHECK(strstr(gm_last_error(), "stratified-ish") != NULL);
    CHECK_OK(gm_resample_parse("ssp", &sc));
    CHECK_INT_EQ(sc, GM_RESAMPLE_SSP);
}

GM_TEST(test_ess_formula) {
    double lw[4] = {0, 0, 0, 0};
    CHECK_NEAR(gm_ess(lw, 4), 4.0, 1e-14, 0);
    double one[4] = {-HUGE_VAL, 3.0, -HUGE_VAL, -HUGE_VAL};
    CHECK_NEAR(gm_ess(one, 4), 1.0, 1e-14, 0);
    /* W = (0.5, 0.25, 0.25): ESS = 1/0.375, invariant to a shift of 1000 */
    double lw3[3] = {1000 + log(0.5), 1000 + log(0.25), 1000 + log(0.25)};
    CHECK_NEAR(gm_ess(lw3, 3), 1.0 / 0.375, 1e-12, 0);
    CHECK_NEAR(gm_log_sum_exp(lw3, 3), 1000.0, 1e-14, 0);
    /* huge log-weights (|lw| > 2^53): W = exp(lw - max)/sum still sums to 1 (exp(lw - LSE) gave 1 + 1; SSP
     * then produced 2N children) */
    double big[4] = {1e20, 1e20, -HUGE_VAL, 1e20 - 1e6}, Wb[4];
    gm_log_weights_normalise(big, 4, Wb);
    CHECK_NEAR(Wb[0], 0.5, 1e-15, 0);
    CHECK_NEAR(Wb[0] + Wb[1] + Wb[2] + Wb[3], 1.0, 1e-15, 0);
    CHECK_NEAR(gm_ess(big, 4), 2.0, 1e-14, 0);
    size_t anc4[4];
    gm_rng rb;
    gm_rng_init(&rb, 1, 0);
    CHECK_OK(gm_resample(GM_RESAMPLE_SSP, Wb, 4, 4, &rb, anc4));
    CHECK(anc4[0] == 0 && anc4[1] == 0 && anc4[2] == 1 && anc4[3] == 1);
    double all_dead[2] = {-HUGE_VAL, -HUGE_VAL};
    CHECK(gm_log_sum_exp(all_dead, 2) == -HUGE_VAL);
    CHECK(gm_ess(all_dead, 2) == 0.0);
}

/* log Ẑ: without resampling, the product of potentials' mean; constant potentials add exactly. */
GM_TEST(test_smc_log_evidence) {
    enum { n = 5 };
    gm_smc_config c = gm_smc_config_default(n);
    c.ess_threshold = 0.0; /* never resample */
    gm_smc *s;
    CHECK_OK(gm_smc_create(&s, &c));
    double a1[n] = {0.1, -2.0, 0.7, 1.5, -HUGE_VAL}, a2[n] = {-0.3, 0.2, 0.4, -1.0, 5.0};
    CHECK_OK(gm_smc_step(s, a1, NULL));
    CHECK_OK(gm_smc_step(s, a2, NULL));
    double ref = 0.0;
    for (int k = 0; k < 4; k++) ref += exp(a1[k] + a2[k]);
    CHECK_NEAR(gm_smc_log_evidence(s), log(ref / n), 1e-13, 1e-13);
    CHECK(gm_smc_log_weights(s)[4] == -HUGE_VAL);
    gm_smc_free(s);

    /* always resample; constant increments c add c to log Ẑ exactly each step */
    c.ess_threshold = 2.0;
    CHECK_OK(gm_smc_create(&s, &c));
    double cst[n] = {-0.25, -0.25, -0.25, -0.25, -0.25};
    int res = 0;
    for (int i = 0; i < 4; i++) CHECK_OK(gm_smc_step(s, cst, &res));
    CHECK(res == 1);
    CHECK_INT_EQ(gm_smc_n_resamples(s), 4);
    CHECK_NEAR(gm_smc_log_evidence(s), -1.0, 1e-14, 0);
    gm_smc_free(s);
}

/* Resampling gathers every registered array (three widths and types) by the same ancestors. */
GM_TEST(test_smc_gather_all_arrays) {
    enum { n = 64 };
    float x[n * 3];
    double tw[n];
    int32_t tag[n * 5];
    for (int k = 0; k < n; k++) {
        for (int j = 0; j < 3; j++) x[k * 3 + j] = (float)(k * 10 + j);
        tw[k] = -k;
        for (int j = 0; j < 5; j++) tag[k * 5 + j] = k * 100 + j;
    }
    for (int sc = 0; sc < 3; sc++) {
        gm_smc_config c = gm_smc_config_default(n);
        c.scheme = schemes[sc];
        gm_smc *s;
        CHECK_OK(gm_smc_create(&s, &c));
        float xs[n * 3];
        double tws[n];
        int32_t tags[n * 5];
        memcpy(xs, x, sizeof x);
        memcpy(tws, tw, sizeof tw);
        memcpy(tags, tag, sizeof tag);
        CHECK_OK(gm_smc_register(s, xs, 3 * sizeof(float)));
        CHECK_OK(gm_smc_register(s, tws, sizeof(double)));
        CHECK_OK(gm_smc_register(s, tags, 5 * sizeof(int32_t)));
        double a[n];
        for (int k = 0; k < n; k++) a[k] = -0.05 * (k - 20) * (k - 20); /* peaked: ESS << N/2 */
        int res = 0;
        CHECK_OK(gm_smc_step(s, a, &res));
        CHECK(res == 1);
        const size_t *anc = gm_smc_ancestors(s);
        int ok = 1, moved = 0;
        for (int k = 0; k < n; k++) {
            size_t p = anc[k];
            moved |= p != (size_t)k;
            for (int j = 0; j < 3; j++) ok &= xs[k * 3 + j] == x[p * 3 + j];
            ok &= tws[k] == tw[p];
            for (int j = 0; j < 5; j++) ok &= tags[k * 5 + j] == tag[p * 5 + j];
            ok &= gm_smc_log_weights(s)[k] == 0.0;
        }
        CHECK(ok);
        CHECK(moved);
        gm_smc_free(s);
    }
}

/* Relabelling the particles relabels the weights; log Ẑ, ESS and weighted estimates are unchanged. */
GM_TEST(test_smc_permutation_invariance) {
    enum { n = 50 };
    double a[n], ap[n], f[n], fp[n];
    size_t perm[n];
    gm_rng r;
    gm_rng_init(&r, 3, 0);
    gm_rng_permutation(&r, perm, n);
    for (int k = 0; k < n; k++) {
        a[k] = 2.0 * gm_rng_normal(&r);
        f[k] = gm_rng_normal(&r);
    }
    for (int k = 0; k < n; k++) {
        ap[k] = a[perm[k]];
        fp[k] = f[perm[k]];
    }
    gm_smc_config c = gm_smc_config_default(n);
    c.ess_threshold = 0.0;
    gm_smc *s1, *s2;
    CHECK_OK(gm_smc_create(&s1, &c));
    CHECK_OK(gm_smc_create(&s2, &c));
    CHECK_OK(gm_smc_step(s1, a, NULL));
    CHECK_OK(gm_smc_step(s2, ap, NULL));
    double W1[n], W2[n], e1 = 0, e2 = 0;
    gm_smc_weights(s1, W1);
    gm_smc_weights(s2, W2);
    for (int k = 0; k < n; k++) {
        e1 += W1[k] * f[k];
        e2 += W2[k] * fp[k];
        CHECK_NEAR(W2[k], W1[perm[k]], 1e-14, 0); /* the normaliser is summed in another order */
    }
    CHECK_NEAR(e2, e1, 1e-12, 1e-14);
    CHECK_NEAR(gm_smc_log_evidence(s2), gm_smc_log_evidence(s1), 1e-13, 1e-14);
    CHECK_NEAR(gm_smc_ess(s2), gm_smc_ess(s1), 1e-12, 0);
    gm_smc_free(s1);
    gm_smc_free(s2);
}

GM_TEST(test_tempering) {
    /* spec §3.1 values for gamma = 0.008 */
    CHECK(gm_temper_exp(0, 0.008) == 0.0);
    CHECK_NEAR(gm_temper_exp(1, 0.008), 0.008, 1e-12, 0);
    CHECK_NEAR(gm_temper_exp(25, 0.008), 0.220, 0, 5e-4);
    CHECK_NEAR(gm_temper_exp(50, 0.008), 0.489, 0, 5e-4);
    CHECK_NEAR(gm_temper_exp(86, 0.008), 0.984, 0, 5e-4);
    CHECK(gm_temper_exp(87, 0.008) == 1.0);
    CHECK_NEAR(gm_temper_default_gamma(100), 0.00800, 0, 5e-6);
    gm_temper_mode m;
    CHECK_RC(gm_temper_parse("linear", &m), GM_EINVAL);
    CHECK_OK(gm_temper_parse("adaptive", &m));

    /* adaptive: the chosen exponent puts ESS/N at rho (bisection tolerance 1e-4 in lambda) */
    enum { n = 200 };
    double lw[n], base[n], slope[n];
    gm_rng r;
    gm_rng_init(&r, 5, 0);
    for (int k = 0; k < n; k++) {
        lw[k] = 0.0;
        base[k] = 0.0;
        slope[k] = 5.0 * gm_rng_normal(&r);
    }
    double l = gm_temper_adapt(lw, base, slope, n, 0.0, 0.5);
    CHECK(l > 0.0 && l < 1.0);
    double a[n], a2[n];
    for (int k = 0; k < n; k++) {
        a[k] = l * slope[k];
        a2[k] = (l + 1e-4) * slope[k];
    }
    CHECK(gm_ess(a, n) / n >= 0.5);
    CHECK(gm_ess(a2, n) / n < 0.5);
    for (int k = 0; k < n; k++) slope[k] *= 1e-3; /* tiny reward: jump straight to 1 */
    CHECK(gm_temper_adapt(lw, base, slope, n, 0.0, 0.5) == 1.0);
    for (int k = 0; k < n; k++) slope[k] *= 1e5; /* already degenerate at lo: stay at lo */
    CHECK(gm_temper_adapt(lw, base, slope, n, 0.3, 0.5) == 0.3);
}

GM_TEST(test_smc_bad_input) {
    gm_smc_config c = gm_smc_config_default(0);
    gm_smc *s;
    CHECK_RC(gm_smc_create(&s, &c), GM_EINVAL);
    c.n_particles = 3;
    CHECK_OK(gm_smc_create(&s, &c));
    double nan3[3] = {0, NAN, 0}, dead[3] = {-HUGE_VAL, -HUGE_VAL, -HUGE_VAL}, inf3[3] = {0, HUGE_VAL, 0};
    CHECK_RC(gm_smc_step(s, nan3, NULL), GM_ENUMERIC);
    CHECK(strstr(gm_last_error(), "particle 1") != NULL);
    CHECK_RC(gm_smc_step(s, inf3, NULL), GM_ENUMERIC);
    CHECK_RC(gm_smc_step(s, dead, NULL), GM_ENUMERIC);
    CHECK(strstr(gm_last_error(), "every particle") != NULL);
    CHECK_RC(gm_smc_register(s, NULL, 4), GM_EINVAL);
    gm_smc_free(s);
}

GM_TEST(test_smc_alloc_failures) {
    float x[8 * 2];
    for (long nth = 1; nth < 20; nth++) {
        gm_alloc_fail_nth(nth, 0);
        gm_smc_config c = gm_smc_config_default(8);
        c.ess_threshold = 2.0;
        gm_smc *s = NULL;
        int rc = gm_smc_create(&s, &c);
        if (rc == GM_OK) rc = gm_smc_register(s, x, 2 * sizeof(float));
        double a[8] = {0, 1, 2, 3, 4, 5, 6, 7};
        if (rc == GM_OK) rc = gm_smc_step(s, a, NULL);
        CHECK(rc == GM_OK || rc == GM_ENOMEM);
        gm_smc_free(s);
    }
    gm_alloc_fail_nth(0, 0);
}

/* Pooling runs by Ẑ: a hand example (weights 1/3, 2/3, 0 from log Ẑ = 0, log 2, -inf); the same to 1e-12
 * after adding 700 to every log Ẑ (max-shifted, no overflow); the delta-method SE by hand; bad input. */
GM_TEST(test_smc_pool_runs) {
    const double lz[3] = {0.0, log(2.0), -HUGE_VAL};
    const double v[6] = {0.3, 1.0, 0.6, -2.0, 5.0, 7.0}; /* 3 runs x 2 values; run 3 must not count */
    double m[2], se[2], m2[2], se2[2];
    CHECK_OK(gm_smc_pool_runs(lz, v, 3, 2, m, se));
    CHECK_NEAR(m[0], (0.3 + 2 * 0.6) / 3, 0, 1e-15);
    CHECK_NEAR(m[1], (1.0 - 2 * 2.0) / 3, 0, 1e-15);
    double s0 = sqrt(pow(1.0 / 3, 2) * pow(0.3 - m[0], 2) + pow(2.0 / 3, 2) * pow(0.6 - m[0], 2));
    CHECK_NEAR(se[0], s0, 0, 1e-15);
    const double lz2[3] = {700.0, 700.0 + log(2.0), -HUGE_VAL};
    CHECK_OK(gm_smc_pool_runs(lz2, v, 3, 2, m2, se2));
    CHECK(fabs(m2[0] - m[0]) < 1e-12 && fabs(m2[1] - m[1]) < 1e-12); /* 700 + log 2 is rounded */
    CHECK_OK(gm_smc_pool_runs(lz, v, 3, 2, m2, NULL));
    CHECK(m2[0] == m[0] && m2[1] == m[1]);
    const double bad1[2] = {0.0, NAN}, bad2[2] = {-HUGE_VAL, -HUGE_VAL}, bad3[2] = {0.0, HUGE_VAL};
    CHECK_RC(gm_smc_pool_runs(bad1, v, 2, 2, m, se), GM_EINVAL);
    CHECK_RC(gm_smc_pool_runs(bad2, v, 2, 2, m, se), GM_EINVAL);
    CHECK_RC(gm_smc_pool_runs(bad3, v, 2, 2, m, se), GM_EINVAL);
}

GM_TEST_MAIN({"resample_unbiased", test_resample_unbiased}, {"smc_pool_runs", test_smc_pool_runs}, {"resample_edge_cases", test_resample_edge_cases},
             {"ess_formula", test_ess_formula}, {"smc_log_evidence", test_smc_log_evidence},
             {"smc_gather_all_arrays", test_smc_gather_all_arrays},
             {"smc_permutation_invariance", test_smc_permutation_invariance}, {"tempering", test_tempering},
             {"smc_bad_input", test_smc_bad_input}, {"smc_alloc_failures", test_smc_alloc_failures})
