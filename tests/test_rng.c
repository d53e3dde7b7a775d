/* SPDX-License-Identifier: MIT */
/* test_rng.c — Philox4x64-10 known answers (Random123 KAT vectors, NumPy raw streams) and
 * statistical checks of the samplers (fixed seeds, thresholds >= 5 sigma). */
#include "gm_test.h"
#include "genmix/rng.h"

#include <inttypes.h>

GM_TEST(test_philox_kat) {
    /* DEShawResearch/random123 tests/kat_vectors, philox4x64-10 */
    uint64_t out[4];
    uint64_t c0[4] = {0, 0, 0, 0}, k0[2] = {0, 0};
    gm_philox4x64_10(c0, k0, out);
    CHECK(out[0] == 0x16554d9eca36314cULL && out[1] == 0xdb20fe9d672d0fdcULL);
    CHECK(out[2] == 0xd7e772cee186176bULL && out[3] == 0x7e68b68aec7ba23bULL);
    uint64_t c1[4] = {~0ULL, ~0ULL, ~0ULL, ~0ULL}, k1[2] = {~0ULL, ~0ULL};
    gm_philox4x64_10(c1, k1, out);
    CHECK(out[0] == 0x87b092c3013fe90bULL && out[1] == 0x438c3c67be8d0224ULL);
    CHECK(out[2] == 0x9cc7d7c69cd777b6ULL && out[3] == 0xa09caebf594f0ba0ULL);
    uint64_t c2[4] = {0x243f6a8885a308d3ULL, 0x13198a2e03707344ULL, 0xa4093822299f31d0ULL, 0x082efa98ec4e6c89ULL};
    uint64_t k2[2] = {0x452821e638d01377ULL, 0xbe5466cf34e90c6cULL};
    gm_philox4x64_10(c2, k2, out);
    CHECK(out[0] == 0xa528f45403e61d95ULL && out[1] == 0x38c72dbd566e9788ULL);
    CHECK(out[2] == 0xa5a1610e72fd18b5ULL && out[3] == 0x57bd43b5e52b7fe6ULL);
}

GM_TEST(test_numpy_parity) {
    FILE *f = fopen("tests/golden/philox_numpy.txt", "r");
    CHECK(f != NULL);
    if (!f) return;
    char line[2048];
    int cases = 0;
    while (fgets(line, sizeof line, f)) {
        if (strncmp(line, "doubles", 7) == 0) {
            uint64_t seed, lo, hi, first;
            int count, pos;
            CHECK(sscanf(line + 8, "%" SCNu64 " %" SCNu64 " %" SCNu64 " %" SCNu64 " %d%n", &seed, &lo, &hi,
                         &first, &count, &pos) == 5);
            gm_rng r;
            gm_rng_init128(&r, seed, lo, hi);
            gm_rng_seek(&r, first);
            const char *p = line + 8 + pos;
            for (int i = 0; i < count; i++) {
                char *end;
                double want = strtod(p, &end);
                p = end;
                CHECK(gm_rng_uniform(&r) == want);
            }
            cases++;
            continue;
        }
        uint64_t seed, lo, hi, first;
        int count, pos;
        if (sscanf(line, "%" SCNu64 " %" SCNu64 " %" SCNu64 " %" SCNu64 " %d%n", &seed, &lo, &hi, &first, &count,
                   &pos) != 5)
            continue;
        gm_rng r;
        gm_rng_init128(&r, seed, lo, hi);
        gm_rng_seek(&r, first);
        const char *p = line + pos;
        for (int i = 0; i < count; i++) {
            char *end;
            uint64_t want = strtoull(p, &end, 16);
            p = end;
            uint64_t got = gm_rng_u64(&r);
            if (got != want) {
                fprintf(stderr, "  seed %" PRIu64 " word %d: %016" PRIx64 " vs %016" PRIx64 "\n", seed, i, got, want);
                CHECK(got == want);
            }
        }
        cases++;
    }
    fclose(f);
    CHECK_INT_EQ(cases, 6);
}

GM_TEST(test_streams_independent_of_order) {
    /* draw j of stream s does not depend on other streams' draws */
    gm_rng a, b;
    gm_rng_init(&a, 99, gm_rng_stream_id(GM_STREAM_PARTICLE, 5));
    for (int i = 0; i < 7; i++) gm_rng_u64(&a);
    uint64_t x = gm_rng_u64(&a);
    gm_rng_init(&b, 99, gm_rng_stream_id(GM_STREAM_PARTICLE, 4));
    for (int i = 0; i < 100; i++) gm_rng_u64(&b);
    gm_rng_init(&b, 99, gm_rng_stream_id(GM_STREAM_PARTICLE, 5));
    gm_rng_seek(&b, 1); /* words 4..7 */
    for (int i = 0; i < 3; i++) gm_rng_u64(&b);
    CHECK(gm_rng_u64(&b) == x);
    gm_rng_init(&b, 100, gm_rng_stream_id(GM_STREAM_PARTICLE, 5));
    gm_rng_seek(&b, 1);
    for (int i = 0; i < 3; i++) gm_rng_u64(&b);
    CHECK(gm_rng_u64(&b) != x);
}

GM_TEST(test_uniform_normal_moments) {
    gm_rng r;
    gm_rng_init(&r, 1, 0);
    const int n = 400000;
    double s = 0, s2 = 0, zs = 0, zs2 = 0, zs3 = 0, zs4 = 0, umin = 1, umax = 0;
    for (int i = 0; i < n; i++) {
        double u = gm_rng_uniform(&r);
        s += u;
        s2 += u * u;
        if (u < umin) umin = u;
        if (u > umax) umax = u;
        double z = gm_rng_normal(&r);
        zs += z;
        zs2 += z * z;
        zs3 += z * z * z;
        zs4 += z * z * z * z;
    }
    CHECK(umin >= 0 && umax < 1);
    /* mean 1/2 (sd of mean 0.2887/sqrt(n) = 4.6e-4), var 1/12 */
    CHECK_NEAR(s / n, 0.5, 0, 5 * 4.6e-4);
    CHECK_NEAR(s2 / n - (s / n) * (s / n), 1.0 / 12, 0, 5 * 1.2e-4);
    CHECK_NEAR(zs / n, 0.0, 0, 5 * 1.6e-3);
    CHECK_NEAR(zs2 / n, 1.0, 0, 5 * 2.3e-3);
    CHECK_NEAR(zs3 / n, 0.0, 0, 5 * 3.9e-3);
    CHECK_NEAR(zs4 / n, 3.0, 0, 5 * 1.6e-2);
}

GM_TEST(test_below_and_permutation) {
    gm_rng r;
    gm_rng_init(&r, 3, 0);
    int counts[7] = {0};
    const int n = 70000;
    for (int i = 0; i < n; i++) counts[gm_rng_below(&r, 7)]++;
    for (int k = 0; k < 7; k++) CHECK_NEAR(counts[k], n / 7.0, 0, 5 * sqrt(n * (1 / 7.0) * (6 / 7.0)));
    size_t perm[50];
    gm_rng_permutation(&r, perm, 50);
    int seen[50] = {0};
    for (int i = 0; i < 50; i++) seen[perm[i]]++;
    for (int i = 0; i < 50; i++) CHECK_INT_EQ(seen[i], 1);
    size_t ch[10];
    CHECK_OK(gm_rng_choice(&r, 20, 10, ch));
    int seen2[20] = {0};
    for (int i = 0; i < 10; i++) {
        CHECK(ch[i] < 20);
        seen2[ch[i]]++;
    }
    for (int i = 0; i < 20; i++) CHECK(seen2[i] <= 1);
    CHECK_RC(gm_rng_choice(&r, 3, 4, ch), GM_EINVAL);
    /* position 0 of a uniform permutation of 4 is uniform */
    int first[4] = {0};
    for (int i = 0; i < 40000; i++) {
        size_t p4[4];
        gm_rng_permutation(&r, p4, 4);
        first[p4[0]]++;
    }
    for (int k = 0; k < 4; k++) CHECK_NEAR(first[k], 10000, 0, 5 * sqrt(40000 * 0.25 * 0.75));
}

GM_TEST(test_gamma_beta_dirichlet) {
    gm_rng r;
    gm_rng_init(&r, 11, 0);
    const double shapes[3] = {0.3, 1.0, 4.5};
    const int n = 200000;
    for (int j = 0; j < 3; j++) {
        double a = shapes[j], s = 0, s2 = 0;
        for (int i = 0; i < n; i++) {
            double g = gm_rng_gamma(&r, a);
            s += g;
            s2 += g * g;
        }
        double m = s / n, v = s2 / n - m * m;
        /* mean a (sd sqrt(a/n)), variance a (sd of sample var ~ sqrt((m4 - a^2)/n), m4 = 3a^2+6a) */
        CHECK_NEAR(m, a, 0, 5 * sqrt(a / n));
        CHECK_NEAR(v, a, 0, 5 * sqrt((3 * a * a + 6 * a - a * a) / n));
    }
    double s = 0;
    for (int i = 0; i < n; i++) s += gm_rng_beta(&r, 2.0, 5.0);
    CHECK_NEAR(s / n, 2.0 / 7.0, 0, 5 * sqrt(10.0 / (49.0 * 8.0) / n));
    double alpha[3] = {1.0, 2.0, 3.0}, x[3], acc[3] = {0, 0, 0};
    for (int i = 0; i < n; i++) {
        gm_rng_dirichlet(&r, alpha, 3, x);
        CHECK_NEAR(x[0] + x[1] + x[2], 1.0, 0, 1e-12);
        for (int k = 0; k < 3; k++) acc[k] += x[k];
    }
    for (int k = 0; k < 3; k++) CHECK_NEAR(acc[k] / n, alpha[k] / 6.0, 0, 5 * 0.2 / sqrt(n));
}

GM_TEST(test_categorical) {
    gm_rng r;
    gm_rng_init(&r, 5, 0);
    double w[4] = {1.0, 0.0, 3.0, 6.0};
    int c[4] = {0};
    const int n = 100000;
    for (int i = 0; i < n; i++) c[gm_rng_categorical(&r, w, 4)]++;
    CHECK_INT_EQ(c[1], 0);
    for (int k = 0; k < 4; k++) {
        double p = w[k] / 10.0;
        CHECK_NEAR(c[k], n * p, 0, 5 * sqrt(n * p * (1 - p)) + 1e-9);
    }
}

GM_TEST(test_logpdfs) {
    CHECK_NEAR(gm_normal_logpdf(0, 0, 1), -0.91893853320467274, 1e-14, 0);
    CHECK_NEAR(gm_normal_logpdf(1, 0, 2), -1.737085713764618, 1e-12, 0);
    CHECK_NEAR(gm_gamma_logpdf(2.0, 3.0), log(2.0 * exp(-2.0)), 1e-12, 0); /* x^2 e^-x / 2 */
    CHECK_NEAR(gm_beta_logpdf(0.5, 2.0, 2.0), log(1.5), 1e-12, 0);
    double x[3] = {0.2, 0.3, 0.5}, a[3] = {1, 1, 1};
    CHECK_NEAR(gm_dirichlet_logpdf(x, a, 3), log(2.0), 1e-12, 0);
    /* numerical normalisation of the gamma density, shape 2.5 */
    double s = 0, h = 1e-3;
    for (double t = h / 2; t < 60; t += h) s += exp(gm_gamma_logpdf(t, 2.5)) * h;
    CHECK_NEAR(s, 1.0, 0, 1e-6);
}

GM_TEST(test_fill) {
    gm_rng r1, r2;
    gm_rng_init(&r1, 8, 1);
    r2 = r1;
    float a[5];
    gm_rng_normal_fill(&r1, a, 5);
    for (int i = 0; i < 5; i++) CHECK(a[i] == (float)gm_rng_normal(&r2));
    float u[1000];
    r2 = r1;
    gm_rng_uniform_fill(&r1, u, 1000);
    /* every value is the top 24 bits of one 64-bit draw, in [0, 1): exact */
    int exact = 0;
    for (int i = 0; i < 1000; i++) exact += u[i] == (float)((double)(gm_rng_u64(&r2) >> 40) / 16777216.0);
    CHECK_INT_EQ(exact, 1000);
    /* and it covers [0, 1): mean within 5 SE of 1/2, both ends reached, half above 1/2 (5 SE) */
    double m = 0, lo = 1, hi = 0;
    int above = 0;
    for (int i = 0; i < 1000; i++) {
        CHECK(u[i] >= 0.0f && u[i] < 1.0f);
        double ui = (double)u[i];
        m += ui / 1000.0, lo = fmin(lo, ui), hi = fmax(hi, ui), above += ui >= 0.5;
    }
    CHECK_NEAR(m, 0.5, 0, 5 * sqrt(1.0 / 12 / 1000));
    CHECK(lo < 0.01 && hi > 0.99);
    CHECK_NEAR(above, 500, 0, 5 * sqrt(250.0));
}

GM_TEST_MAIN({"philox_kat", test_philox_kat}, {"numpy_parity", test_numpy_parity},
             {"streams", test_streams_independent_of_order}, {"uniform_normal", test_uniform_normal_moments},
             {"below_permutation", test_below_and_permutation}, {"gamma_beta_dirichlet", test_gamma_beta_dirichlet},
             {"categorical", test_categorical}, {"logpdfs", test_logpdfs}, {"fill", test_fill})
