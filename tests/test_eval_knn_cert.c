/* SPDX-License-Identifier: MIT */
/* test_eval_knn_cert.c — the certified k-NN P/R engine (src/eval/eval_knn_cert.c) and its kernels
 * (src/linalg/linalg_gram_bf16.c): results bitwise identical with the AMX bf16 filter, the SGEMM filter and no
 * filter (every pair exact), for 1 and 2 threads, through gm_knn and the stream; adversarial data where
 * most pairs are undecided, exact ties and duplicates; agreement with the naive reference; the exact dot
 * product's AVX-512 and portable twins; bfloat16 rounding known answers; the AMX Gram kernel and its
 * _ref twin within the float32 accumulation bound of the exact bf16 dot products; allocation failures. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "eval_internal.h"
#include "gm_test.h"
#include "linalg_gram_bf16.h"

/* splitmix64 uniforms in [0, 1) */
static double unif(uint64_t *s) {
    uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return (double)((z ^ (z >> 31)) >> 11) * 0x1p-53;
}

/* n x d float rows: kind 0 Gaussian-like (sum of uniforms), scale/shift; 1 the same through max(0, .) */
static float *rows(uint64_t seed, size_t n, size_t d, double scale, double shift, int relu) {
    float *x = malloc(n * d * sizeof(float));
    uint64_t s = seed;
    for (size_t i = 0; i < n * d; i++) {
        double v = (unif(&s) + unif(&s) + unif(&s) - 1.5) * 2.0 * scale + shift;
        x[i] = (float)(relu && v < 0 ? 0 : v);
    }
    return x;
}

static gm_feats f32s(const float *x, size_t n, size_t d) {
    gm_feats f = {x, n, d, 0};
    return f;
}

static gm_knn_config pr_cfg(size_t k, gm_cmp cmp) {
    gm_knn_config c = gm_knn_config_default();
    c.f32 = 1;
    c.want_dc = 0;
    c.k_pr = k;
    c.cmp_pr = cmp;
    return c;
}

static int same_pr(const gm_knn_result *a, const gm_knn_result *b) {
    size_t nr = a->n_real, nf = a->n_fake;
    return nr == b->n_real && nf == b->n_fake && !memcmp(&a->precision, &b->precision, sizeof(double)) &&
           !memcmp(&a->recall, &b->recall, sizeof(double)) && !memcmp(&a->f1, &b->f1, sizeof(double)) &&
           !memcmp(a->fake_in_real, b->fake_in_real, nf) && !memcmp(a->real_in_fake, b->real_in_fake, nr) &&
           !memcmp(a->radius_real_pr, b->radius_real_pr, nr * sizeof(double)) &&
           !memcmp(a->radius_fake_pr, b->radius_fake_pr, nf * sizeof(double));
}

/* Every filter, 1 and 2 threads, gm_knn and the stream: the same bits as filter OFF. Returns the stats of
 * the AMX (or SGEMM fallback) run. */
static gm_knn_cert_stats check_all_equal(const gm_feats *r, const gm_feats *f, const gm_knn_config *c) {
    gm_knn_result off, x;
    gm_knn_cert_stats st, st0;
    memset(&st0, 0, sizeof st0);
    CHECK_OK(gm_knn_pr_cert(r, f, c, GM_KNN_FILTER_OFF, &off, &st));
    CHECK_INT_EQ(st.mode, GM_KNN_FILTER_OFF);
    for (int threads = 1; threads <= 2; threads++) {
        gm_test_set_threads(threads);
        const int modes[3] = {GM_KNN_FILTER_AMX, GM_KNN_FILTER_F32, GM_KNN_FILTER_OFF};
        for (int m = 0; m < 3; m++) {
            CHECK_OK(gm_knn_pr_cert(r, f, c, modes[m], &x, &st));
            CHECK(same_pr(&off, &x));
            if (m == 0 && threads == 2) st0 = st;
            gm_knn_result_free(&x);
        }
        CHECK_OK(gm_knn(r, f, c, &x)); /* AUTO */
        CHECK(same_pr(&off, &x));
        gm_knn_result_free(&x);
    }
    gm_knn_stream *s;
    CHECK_OK(gm_knn_stream_create(&s, r->d, c));
    gm_feats h = *r;
    h.n = r->n / 2;
    CHECK_OK(gm_knn_stream_feed(s, GM_KNN_REAL, &h));
    CHECK_OK(gm_knn_stream_feed(s, GM_KNN_FAKE, f));
    h.data = (const float *)r->data + h.n * r->d;
    h.n = r->n - h.n;
    CHECK_OK(gm_knn_stream_feed(s, GM_KNN_REAL, &h));
    CHECK_OK(gm_knn_stream_finish(s, &x));
    gm_knn_stream_free(s);
    CHECK(same_pr(&off, &x));
    gm_knn_result_free(&x);
    gm_knn_result_free(&off);
    return st0;
}

GM_TEST(test_filters_identical) {
    size_t nr = 420, nf = 350, d = 70; /* odd d: padding of the 32-column chunks; n not multiples of 32 */
    for (int relu = 0; relu < 2; relu++) {
        uint64_t sd = (uint64_t)relu;
        float *R = rows(11 + sd, nr, d, 1.0, 0.0, relu), *F = rows(21 + sd, nf, d, 1.05, 0.02, relu);
        gm_feats r = f32s(R, nr, d), f = f32s(F, nf, d);
        for (size_t k = 1; k <= 5; k += 4)
            for (int cmp = relu; cmp < 2; cmp++) {
                gm_knn_config c = pr_cfg(k, cmp ? GM_CMP_LT : GM_CMP_LE);
                gm_knn_cert_stats st = check_all_equal(&r, &f, &c);
                /* the filter decides nearly everything on such data */
                double pairs = (double)nr * nr + (double)nf * nf + (double)nr * nf;
                CHECK(st.mode != GM_KNN_FILTER_OFF);
                CHECK((double)(st.exact_radii + st.exact_cross) < 0.05 * pairs);
            }
        free(R);
        free(F);
    }
    gm_test_set_threads(2);
}

/* Two tight clusters far from each other and from the origin: the centre (midpoint) leaves a large offset,
 * the bf16 bound dwarfs the within-cluster distances, so most radius pairs are undecided; plus exact
 * duplicates (distance 0, radius 0 when k duplicates exist) and small-integer rows with many exact ties. */
GM_TEST(test_adversarial_ties) {
    size_t n = 300, d = 48;
    float *R = malloc(n * d * sizeof(float)), *F = malloc(n * d * sizeof(float));
    uint64_t s = 5;
    for (size_t i = 0; i < n; i++)
        for (size_t t = 0; t < d; t++) {
            double off = (i % 2 ? 100.0 : -100.0) + (double)t;
            R[i * d + t] = (float)(off + 1e-3 * (unif(&s) - 0.5));
            F[i * d + t] = (float)(off + 1.2e-3 * (unif(&s) - 0.5));
        }
    gm_feats r = f32s(R, n, d), f = f32s(F, n, d);
    gm_knn_config c = pr_cfg(3, GM_CMP_LE);
    gm_knn_cert_stats st = check_all_equal(&r, &f, &c);
    CHECK(st.mode != GM_KNN_FILTER_OFF);
    CHECK(st.exact_radii > (size_t)(0.25 * (double)n * (double)n)); /* mostly undecided */
    /* duplicates: every third real row repeated, every fake row equal to some real row */
    for (size_t i = 0; i < n; i++)
        if (i % 3 == 1) memcpy(R + i * d, R + (i - 1) * d, d * sizeof(float));
    for (size_t i = 0; i < n; i++) memcpy(F + i * d, R + ((i * 7) % n) * d, d * sizeof(float));
    for (int cmp = 0; cmp < 2; cmp++) {
        c = pr_cfg(1, cmp ? GM_CMP_LT : GM_CMP_LE);
        check_all_equal(&r, &f, &c);
        gm_knn_result k;
        CHECK_OK(gm_knn(&r, &f, &c, &k));
        CHECK(k.radius_real_pr[0] == 0 && k.radius_real_pr[1] == 0); /* k = 1 and a duplicate */
        if (cmp == 0) CHECK(k.precision == 1.0); /* every fake equals a real: distance 0 <= radius */
        gm_knn_result_free(&k);
    }
    /* points on the diagonal s·(1, ..., 1): after centring every coordinate of a row is the same number, so
     * the bf16 rounding errors add up coherently and the error reaches the Cauchy–Schwarz bound; the
     * neighbours' distances are tiny against the norms: the filter must leave them to the exact path */
    for (size_t i = 0; i < n; i++) {
        double sr = 3.0 + 4.0 * unif(&s), sf = 3.1 + 4.2 * unif(&s);
        for (size_t t = 0; t < d; t++) {
            R[i * d + t] = (float)sr;
            F[i * d + t] = (float)sf;
        }
    }
    for (int cmp = 0; cmp < 2; cmp++) {
        c = pr_cfg(3, cmp ? GM_CMP_LT : GM_CMP_LE);
        check_all_equal(&r, &f, &c);
    }
    /* small integers: squared distances are exact integers, ties everywhere */
    for (size_t i = 0; i < n * d; i++) {
        R[i] = (float)(int)(3 * unif(&s));
        F[i] = (float)(int)(3 * unif(&s) + 0.5 * (i % 2));
    }
    for (int cmp = 0; cmp < 2; cmp++) {
        c = pr_cfg(4, cmp ? GM_CMP_LT : GM_CMP_LE);
        check_all_equal(&r, &f, &c);
    }
    free(R);
    free(F);
    gm_test_set_threads(2);
}

/* The bounded pair records: with tiny caps the radius sweeps are redone with known thresholds, or without
 * the filter; the results do not change. */
GM_TEST(test_pair_cap_fallbacks) {
    size_t nr = 300, nf = 260, d = 40;
    float *R = rows(31, nr, d, 1.0, 0.0, 0), *F = rows(32, nf, d, 1.05, 0.02, 0);
    gm_feats r = f32s(R, nr, d), f = f32s(F, nf, d);
    gm_knn_config c = pr_cfg(3, GM_CMP_LE);
    gm_knn_result off, x;
    gm_knn_cert_stats st;
    CHECK_OK(gm_knn_pr_cert(&r, &f, &c, GM_KNN_FILTER_OFF, &off, NULL));
    size_t resweeps = 0, exact = 0;
    const size_t caps[] = {0, 1, 400, 1500, 3000, 6000};
    for (int threads = 1; threads <= 2; threads++) {
        gm_test_set_threads(threads);
        for (size_t q = 0; q < sizeof caps / sizeof caps[0]; q++) {
            gm_knn_cert_test_pair_cap(caps[q]);
            CHECK_OK(gm_knn_pr_cert(&r, &f, &c, GM_KNN_FILTER_AUTO, &x, &st));
            CHECK(same_pr(&off, &x));
            if (caps[q] == 0) CHECK(st.resweeps == 0 && st.exact_sweeps == 0);
            resweeps += st.resweeps;
            exact += st.exact_sweeps;
            gm_knn_result_free(&x);
        }
    }
    gm_knn_cert_test_pair_cap(0);
    CHECK(resweeps > exact && exact > 0); /* both fallbacks ran, and some second sweep fitted */
    gm_knn_result_free(&off);
    free(R);
    free(F);
    gm_test_set_threads(2);
}

/* Against gm_knn_ref (naive double loops over the same float32 values): same flags, radii to 1e-12. */
GM_TEST(test_matches_ref) {
    size_t nr = 260, nf = 230, d = 33;
    float *R = rows(3, nr, d, 1.0, 0.0, 0), *F = rows(4, nf, d, 1.1, 0.05, 0);
    gm_feats r = f32s(R, nr, d), f = f32s(F, nf, d);
    for (int cmp = 0; cmp < 2; cmp++) {
        gm_knn_config c = pr_cfg(3, cmp ? GM_CMP_LT : GM_CMP_LE);
        gm_knn_result a, ref;
        CHECK_OK(gm_knn(&r, &f, &c, &a));
        CHECK_OK(gm_knn_ref(&r, &f, &c, &ref));
        CHECK(!memcmp(a.fake_in_real, ref.fake_in_real, nf) && !memcmp(a.real_in_fake, ref.real_in_fake, nr));
        CHECK(a.precision == ref.precision && a.recall == ref.recall);
        for (size_t i = 0; i < nr; i++) CHECK_NEAR(a.radius_real_pr[i], ref.radius_real_pr[i], 1e-12, 0);
        for (size_t j = 0; j < nf; j++) CHECK_NEAR(a.radius_fake_pr[j], ref.radius_fake_pr[j], 1e-12, 0);
        gm_knn_result_free(&a);
        gm_knn_result_free(&ref);
    }
    /* float64 input: the engine reads the rows rounded to float32, like the SGEMM engine's f32 */
    double *R64 = malloc(nr * d * sizeof(double)), *F64 = malloc(nf * d * sizeof(double));
    for (size_t i = 0; i < nr * d; i++) R64[i] = (double)R[i];
    for (size_t i = 0; i < nf * d; i++) F64[i] = (double)F[i];
    gm_feats r64 = {R64, nr, d, 1}, f64 = {F64, nf, d, 1};
    gm_knn_config c = pr_cfg(3, GM_CMP_LE);
    gm_knn_result a, b;
    CHECK_OK(gm_knn(&r, &f, &c, &a));
    CHECK_OK(gm_knn(&r64, &f64, &c, &b));
    CHECK(same_pr(&a, &b));
    gm_knn_result_free(&a);
    gm_knn_result_free(&b);
    free(R64);
    free(F64);
    free(R);
    free(F);
}

GM_TEST(test_cert_dot_twins) {
    size_t dmax = 2100;
    float *a = malloc(dmax * sizeof(float)), *b = malloc(dmax * sizeof(float));
    uint64_t s = 9;
    for (size_t i = 0; i < dmax; i++) {
        a[i] = (float)((unif(&s) - 0.5) * 1e3);
        b[i] = (float)((unif(&s) - 0.5) * 1e-2);
    }
    const size_t ds[] = {1, 7, 8, 9, 15, 16, 17, 63, 2048, 2100};
    for (size_t q = 0; q < sizeof ds / sizeof ds[0]; q++) {
        double x = gm_cert_dot(a, b, ds[q]), y = gm_cert_dot_ref(a, b, ds[q]);
        CHECK(!memcmp(&x, &y, sizeof x));
        long double e = 0; /* order and precision independent check */
        for (size_t t = 0; t < ds[q]; t++) e += (long double)a[t] * (long double)b[t];
        CHECK_NEAR(x, (double)e, 0, 1e-13 * 1e3 * 1e-2 * (double)ds[q]);
    }
    /* the fixed order: lane t mod 32 (the tail too), then lanes u, u+8, u+16, u+24, then the tree of eight:
     * lane 1 gets 2^60 and -2^60 (t = 1, 33) and cancels exactly, lane 0 keeps the 1; a tail summed into
     * another lane loses it */
    float u[34], v[34];
    for (size_t t = 0; t < 34; t++) u[t] = v[t] = 0;
    u[0] = v[0] = u[1] = u[33] = 1;
    v[1] = 0x1p60f;
    v[33] = -0x1p60f;
    CHECK(gm_cert_dot(u, v, 34) == 1.0 && gm_cert_dot_ref(u, v, 34) == 1.0);
    /* lanes 0 and 8 meet first: (2^60 + 1) rounds to 2^60 before lane 16's -2^60 arrives */
    u[8] = u[16] = 1;
    v[0] = 0x1p60f;
    v[8] = 1;
    v[16] = -0x1p60f;
    u[1] = u[33] = 0;
    CHECK(gm_cert_dot(u, v, 34) == 0.0 && gm_cert_dot_ref(u, v, 34) == 0.0);
    free(a);
    free(b);
}

GM_TEST(test_bf16_round) {
    CHECK_INT_EQ(gm_bf16_round(1.0f), 0x3f80);
    CHECK_INT_EQ(gm_bf16_round(1.0f + 0x1p-8f), 0x3f80);           /* tie, to even */
    CHECK_INT_EQ(gm_bf16_round(1.0f + 3 * 0x1p-8f), 0x3f82);       /* tie, to even (up) */
    CHECK_INT_EQ(gm_bf16_round(1.0f + 0x1p-8f + 0x1p-20f), 0x3f81); /* above the tie */
    CHECK_INT_EQ(gm_bf16_round(-2.5f), 0xc020);
    CHECK_INT_EQ(gm_bf16_round(1e-40f), 0x0000);  /* subnormal: zero, as the AMX unit reads it */
    CHECK_INT_EQ(gm_bf16_round(-1e-40f), 0x8000);
    CHECK_INT_EQ(gm_bf16_round(0x1p-126f), 0x0080); /* smallest normal stays */
    CHECK_INT_EQ(gm_bf16_round(3.4e38f), 0x7f80);   /* rounds up to +Inf */
    CHECK(gm_bf16_to_float(0x3f81) == 1.0f + 0x1p-7f);
}

/* AMX kernel (when present) and _ref twin: C within γ·Σ|a b| of the exact dot of the bf16 rows, the
 * blocks below the diagonal untouched with upper = 1, and the packing read back correctly. */
GM_TEST(test_amx_gram) {
    size_t n = 96, d = 100, ld = 96;
    uint16_t *x = malloc(n * d * sizeof(uint16_t));
    uint64_t s = 17;
    for (size_t i = 0; i < n * d; i++) x[i] = gm_bf16_round((float)((unif(&s) - 0.3) * 8.0));
    size_t ps = gm_bf16_panel_size(n, d);
    CHECK_INT_EQ(ps, 96 * 128);
    uint16_t *pa = calloc(ps, sizeof(uint16_t)), *pb = calloc(ps, sizeof(uint16_t));
    for (size_t i = 0; i < n; i++) {
        gm_bf16_pack_row(x + i * d, i, d, GM_BF16_A, pa);
        gm_bf16_pack_row(x + i * d, i, d, GM_BF16_B, pb);
    }
    float *C = malloc(n * ld * sizeof(float));
    for (int impl = 0; impl < 2; impl++) {
        if (impl == 1 && !gm_amx_available()) continue;
        for (int upper = 0; upper < 2; upper++) {
            for (size_t i = 0; i < n * ld; i++) C[i] = NAN;
            /* rows [32, 96) against columns [0, 96) */
            if (impl == 0)
                gm_amx_gram_ref(pa, 32, 64, pb, 0, 96, d, upper, C, ld);
            else
                gm_amx_gram(pa, 32, 64, pb, 0, 96, d, upper, C, ld);
            for (size_t i = 0; i < 64; i++)
                for (size_t j = 0; j < 96; j++) {
                    size_t gi = 32 + i;
                    int skipped = upper && j / 32 < gi / 32;
                    if (skipped) {
                        CHECK(isnan(C[i * ld + j]));
                        continue;
                    }
                    double e = 0, a = 0;
                    for (size_t t = 0; t < d; t++) {
                        double p = (double)gm_bf16_to_float(x[gi * d + t]) * (double)gm_bf16_to_float(x[j * d + t]);
                        e += p;
                        a += fabs(p);
                    }
                    double gam = 2.0 * ((double)d + 2) * 0x1p-24;
                    CHECK_NEAR(C[i * ld + j], e, 0, gam * a);
                }
        }
    }
    free(x);
    free(pa);
    free(pb);
    free(C);
}

static int run_cert(void *ctx) {
    const gm_feats *rf = ctx;
    gm_knn_config c = pr_cfg(3, GM_CMP_LE);
    gm_knn_result r;
    int rc = gm_knn(&rf[0], &rf[1], &c, &r);
    if (!rc) gm_knn_result_free(&r);
    return rc;
}

GM_TEST(test_alloc_failures) {
    gm_test_set_threads(1);
    size_t n = 40, d = 9;
    float *R = rows(1, n, d, 1, 0, 0), *F = rows(2, n, d, 1, 0.1, 0);
    gm_feats rf[2] = {f32s(R, n, d), f32s(F, n, d)};
    CHECK(CHECK_ALLOC_SWEEP(run_cert, rf) >= 10);
    free(R);
    free(F);
    gm_test_set_threads(2);
}

GM_TEST_MAIN({"filters_identical", test_filters_identical}, {"adversarial_ties", test_adversarial_ties},
             {"pair_cap_fallbacks", test_pair_cap_fallbacks}, {"matches_ref", test_matches_ref}, {"cert_dot_twins", test_cert_dot_twins},
             {"bf16_round", test_bf16_round}, {"amx_gram", test_amx_gram}, {"alloc_failures", test_alloc_failures})
