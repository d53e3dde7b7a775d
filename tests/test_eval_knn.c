/* SPDX-License-Identifier: MIT */
/* test_eval_knn.c — the k-NN engine: streaming API bit-for-bit against gm_knn (any batching, tile
 * sizes, precisions, thread counts), binary16 rounding and the fp16 P/R emulation against NumPy float16
 * fixtures (tools/gen_eval_fp16.py), the fp16 overflow fallback, and the stream's error cases. */
#include <math.h>
#include <string.h>

#include "gm_test.h"
#include "genmix/eval.h"
#include "genmix/io.h"
#include "eval_data.h"

static int same_bytes(const void *a, const void *b, size_t n) {
    if (!a || !b) return a == b;
    return memcmp(a, b, n) == 0;
}

/* Every output of two results, bit for bit. */
static void check_identical(const gm_knn_result *a, const gm_knn_result *b) {
    size_t nr = a->n_real, nf = a->n_fake;
    CHECK(nr == b->n_real && nf == b->n_fake);
    CHECK(same_bytes(&a->precision, &b->precision, sizeof(double)));
    CHECK(same_bytes(&a->recall, &b->recall, sizeof(double)));
    CHECK(same_bytes(&a->density, &b->density, sizeof(double)));
    CHECK(same_bytes(&a->coverage, &b->coverage, sizeof(double)));
    CHECK(same_bytes(a->fake_in_real, b->fake_in_real, nf));
    CHECK(same_bytes(a->real_in_fake, b->real_in_fake, nr));
    CHECK(same_bytes(a->fake_in_real_dc, b->fake_in_real_dc, nf));
    CHECK(same_bytes(a->real_in_fake_dc, b->real_in_fake_dc, nr));
    CHECK(same_bytes(a->density_count, b->density_count, nf * sizeof(uint32_t)));
    CHECK(same_bytes(a->covered, b->covered, nr));
    CHECK(same_bytes(a->realism, b->realism, nf * sizeof(double)));
    CHECK(same_bytes(a->radius_real_pr, b->radius_real_pr, nr * sizeof(double)));
    CHECK(same_bytes(a->radius_fake_pr, b->radius_fake_pr, nf * sizeof(double)));
    CHECK(same_bytes(a->radius_real_dc, b->radius_real_dc, nr * sizeof(double)));
    CHECK(same_bytes(a->radius_fake_dc, b->radius_fake_dc, nf * sizeof(double)));
    CHECK_INT_EQ(a->fp16_fallback, b->fp16_fallback);
}

/* Feed real and fake rows interleaved in batches of sizes cycling through `sizes`. */
static int run_stream(const gm_feats *r, const gm_feats *f, const gm_knn_config *c, const size_t *sizes, size_t ns,
                      gm_knn_result *out) {
    gm_knn_stream *s;
    int rc = gm_knn_stream_create(&s, r->d, c);
    if (rc) return rc;
    size_t pos[2] = {0, 0}, q = 0;
    const gm_feats *x[2] = {r, f};
    while (!rc && (pos[0] < r->n || pos[1] < f->n)) {
        for (int set = 0; set < 2 && !rc; set++) {
            size_t m = sizes[q++ % ns];
            if (m > x[set]->n - pos[set]) m = x[set]->n - pos[set];
            gm_feats v = *x[set];
            v.n = m;
            v.data = (const char *)x[set]->data + pos[set] * x[set]->d * (x[set]->is_f64 ? 8 : 4);
            rc = gm_knn_stream_feed(s, set, &v);
            pos[set] += m;
        }
    }
    if (!rc) rc = gm_knn_stream_finish(s, out);
    gm_knn_stream_free(s);
    return rc;
}

GM_TEST(test_stream_matches_in_memory) {
    size_t nr = 700, nf = 530, d = 20;
    double *R = make_splitmix(31, nr, d, 1.0, 0.0, 0.2), *F = make_splitmix(32, nf, d, 1.1, 0.03, 0.0);
    float *Rf = malloc(nr * d * sizeof(float));
    for (size_t i = 0; i < nr * d; i++) Rf[i] = (float)R[i];
    gm_feats r = gm_feats_f64(R, nr, d), f = gm_feats_f64(F, nf, d), r32 = gm_feats_f32(Rf, nr, d);
    static const size_t sizes_a[] = {1, 64, 7, 300, 2, 128}, sizes_b[] = {1000};
    struct {
        size_t tile;
        int f32, fp16;
        gm_realism_kind realism;
        const gm_feats *real;
    } cases[] = {{64, 0, 0, GM_REALISM_KYNKAAT, &r}, {37, 0, 0, GM_REALISM_DGM, &r}, {128, 1, 0, GM_REALISM_DGM, &r},
                 {64, 1, 1, GM_REALISM_KYNKAAT, &r32}, {256, 0, 1, GM_REALISM_NONE, &r}};
    for (size_t ci = 0; ci < sizeof cases / sizeof cases[0]; ci++) {
        gm_knn_config c = gm_knn_config_default();
        c.tile = cases[ci].tile;
        c.f32 = cases[ci].f32;
        c.fp16 = cases[ci].fp16;
        c.realism = cases[ci].realism;
        gm_knn_result a, b, b2, t1;
        CHECK_OK(gm_knn(cases[ci].real, &f, &c, &a));
        CHECK_OK(run_stream(cases[ci].real, &f, &c, sizes_a, 6, &b));
        CHECK_OK(run_stream(cases[ci].real, &f, &c, sizes_b, 1, &b2));
        check_identical(&a, &b);
        check_identical(&a, &b2);
        gm_test_set_threads(1); /* one thread, same bits */
        CHECK_OK(gm_knn(cases[ci].real, &f, &c, &t1));
        gm_test_set_threads(2);
        check_identical(&a, &t1);
        CHECK(a.precision > 0.3 && a.recall > 0.3 && a.density > 0.3); /* overlapping sets */
        gm_knn_result_free(&a);
        gm_knn_result_free(&b);
        gm_knn_result_free(&b2);
        gm_knn_result_free(&t1);
    }
    /* the fast path agrees with the naive full-matrix reference (indicators and counts) */
    gm_knn_config c = gm_knn_config_default();
    c.tile = 50;
    gm_knn_result a, ref;
    CHECK_OK(gm_knn(&r, &f, &c, &a));
    CHECK_OK(gm_knn_ref(&r, &f, &c, &ref));
    CHECK(same_bytes(a.density_count, ref.density_count, nf * sizeof(uint32_t)));
    CHECK(same_bytes(a.covered, ref.covered, nr));
    CHECK(same_bytes(a.fake_in_real, ref.fake_in_real, nf));
    CHECK(same_bytes(a.real_in_fake, ref.real_in_fake, nr));
    for (size_t i = 0; i < nr; i++) CHECK_NEAR(a.radius_real_pr[i], ref.radius_real_pr[i], 1e-12, 0);
    gm_knn_result_free(&a);
    gm_knn_result_free(&ref);
    free(R);
    free(F);
    free(Rf);
}

GM_TEST(test_stream_known_answers) {
    /* spec §9.1 vectors and the sklearn fixture (tools/ref_eval.py) through the streaming API */
    double *G = make91(200, 16, 1, 1.0, 0.0), *R = make91(300, 16, 7, 1.2, 0.1);
    gm_feats g = gm_feats_f64(G, 200, 16), r = gm_feats_f64(R, 300, 16);
    gm_knn_config c = gm_knn_config_default();
    c.k_dc = 3;
    c.tile = 64;
    static const size_t sz[] = {90, 13};
    gm_knn_result k;
    CHECK_OK(run_stream(&r, &g, &c, sz, 2, &k));
    CHECK_NEAR(k.precision, 0.925, 0, 1e-15);
    CHECK_NEAR(k.recall, 0.58, 0, 1e-15);
    CHECK_NEAR(k.density, 0.89, 0, 1e-15);
    CHECK_NEAR(k.coverage, 0.61, 0, 1e-15);
    gm_knn_result_free(&k);
    double *R2 = make_splitmix(11, 400, 24, 1.0, 0.0, 0.3), *F2 = make_splitmix(12, 300, 24, 1.1, 0.05, 0.0);
    gm_feats r2 = gm_feats_f64(R2, 400, 24), f2 = gm_feats_f64(F2, 300, 24);
    c = gm_knn_config_default();
    c.tile = 100;
    CHECK_OK(run_stream(&r2, &f2, &c, sz, 2, &k));
    CHECK_NEAR(k.precision, golden("pr3_precision"), 0, 1e-15);
    CHECK_NEAR(k.recall, golden("pr3_recall"), 0, 1e-15);
    CHECK_NEAR(k.density, golden("prdc5_density"), 1e-15, 1e-15);
    CHECK_NEAR(k.coverage, golden("prdc5_coverage"), 0, 1e-15);
    gm_knn_result_free(&k);
    free(G);
    free(R);
    free(R2);
    free(F2);
}

GM_TEST(test_stream_errors) {
    double *R = make_splitmix(41, 20, 4, 1.0, 0.0, 0.0), *X = make_splitmix(42, 20, 5, 1.0, 0.0, 0.0);
    gm_knn_config c = gm_knn_config_default();
    gm_knn_stream *s;
    gm_knn_result out;
    gm_feats r = gm_feats_f64(R, 20, 4), x = gm_feats_f64(X, 20, 5), r3 = gm_feats_f64(R, 3, 4);
    CHECK_RC(gm_knn_stream_create(&s, 0, &c), GM_EINVAL);
    CHECK_OK(gm_knn_stream_create(&s, 4, &c));
    CHECK_RC(gm_knn_stream_feed(s, GM_KNN_REAL, &x), GM_ESHAPE); /* wrong width: refused, stream still usable */
    CHECK_OK(gm_knn_stream_feed(s, GM_KNN_REAL, &r));
    CHECK_RC(gm_knn_stream_finish(s, &out), GM_EINVAL); /* no fake rows */
    gm_knn_stream_free(s);
    CHECK_OK(gm_knn_stream_create(&s, 4, &c));
    CHECK_OK(gm_knn_stream_feed(s, GM_KNN_REAL, &r));
    CHECK_OK(gm_knn_stream_feed(s, GM_KNN_FAKE, &r3));
    CHECK_RC(gm_knn_stream_finish(s, &out), GM_EINVAL); /* k 5 >= 3 fake rows */
    CHECK(strstr(gm_last_error(), "must be in 1..n-1") != NULL);
    gm_knn_stream_free(s);
    CHECK_OK(gm_knn_stream_create(&s, 4, &c));
    CHECK_OK(gm_knn_stream_feed(s, GM_KNN_REAL, &r));
    CHECK_OK(gm_knn_stream_feed(s, GM_KNN_FAKE, &r));
    CHECK_OK(gm_knn_stream_finish(s, &out));
    CHECK(out.precision == 1 && out.recall == 1 && out.coverage == 1); /* identical sets */
    gm_knn_result_free(&out);
    CHECK_RC(gm_knn_stream_finish(s, &out), GM_EINVAL);
    CHECK_RC(gm_knn_stream_feed(s, GM_KNN_REAL, &r), GM_EINVAL);
    gm_knn_stream_free(s);
    gm_knn_stream_free(NULL);
    free(R);
    free(X);
}

static int load64(const char *name, gm_array *a) {
    char p[256];
    snprintf(p, sizeof p, "tests/golden/%s", name);
    return gm_npy_read(p, a);
}

GM_TEST(test_round_half_numpy) {
    gm_array in, out;
    CHECK_OK(load64("eval_half_in.npy", &in));
    CHECK_OK(load64("eval_half_out.npy", &out));
    const double *x = in.data, *y = out.data;
    size_t n = gm_array_numel(&in);
    CHECK(n > 300 && n == gm_array_numel(&out));
    size_t bad = 0;
    for (size_t i = 0; i < n; i++) {
        double v = gm_round_half(x[i]);
        if (memcmp(&v, &y[i], sizeof v) != 0) bad++; /* bitwise, signed zeros and inf included */
    }
    CHECK_INT_EQ(bad, 0);
    CHECK(gm_round_half(65519.0) == 65504.0 && isinf(gm_round_half(65520.0)));
    CHECK(gm_round_half(1.0 + 0x1p-11) == 1.0 && gm_round_half(1.0 + 3 * 0x1p-11) == 1.0 + 0x1p-9); /* ties to even */
    gm_array_free(&in);
    gm_array_free(&out);
}

GM_TEST(test_fp16_pr_numpy) {
    gm_array R, F, E, FL;
    CHECK_OK(load64("eval_fp16_real.npy", &R));
    CHECK_OK(load64("eval_fp16_fake.npy", &F));
    CHECK_OK(load64("eval_fp16_expect.npy", &E));
    CHECK_OK(load64("eval_fp16_flags.npy", &FL));
    gm_feats r = gm_feats_f64(R.data, (size_t)R.shape[0], (size_t)R.shape[1]);
    gm_feats f = gm_feats_f64(F.data, (size_t)F.shape[0], (size_t)F.shape[1]);
    const int64_t *e = E.data;
    const uint8_t *fl = FL.data;
    gm_knn_config c = gm_knn_config_default();
    c.fp16 = 1;
    c.tile = 40;
    gm_knn_result k, k32, plain;
    CHECK_OK(gm_knn(&r, &f, &c, &k));
    CHECK_INT_EQ(k.fp16_fallback, 0);
    CHECK_NEAR(k.precision, (double)e[0] / 120.0, 0, 1e-15);
    CHECK_NEAR(k.recall, (double)e[1] / 150.0, 0, 1e-15);
    CHECK_NEAR(k.dc_precision, (double)e[2] / 120.0, 0, 1e-15);
    CHECK_NEAR(k.dc_recall, (double)e[3] / 150.0, 0, 1e-15);
    CHECK_NEAR(k.density, (double)e[4] / (5.0 * 120.0), 0, 1e-15);
    CHECK_NEAR(k.coverage, (double)e[5] / 150.0, 0, 1e-15);
    CHECK(memcmp(k.fake_in_real, fl, 120) == 0 && memcmp(k.real_in_fake, fl + 120, 150) == 0);
    for (size_t i = 0; i < 150; i++) CHECK(gm_round_half(k.radius_real_pr[i]) == k.radius_real_pr[i]);
    c.f32 = 1; /* float32 GEMM of fp16 values: the same binary16 distances here */
    CHECK_OK(gm_knn(&r, &f, &c, &k32));
    CHECK(memcmp(k32.fake_in_real, fl, 120) == 0 && memcmp(k32.real_in_fake, fl + 120, 150) == 0);
    c.fp16 = 0; /* the emulation changes the answer on these tie-rich sets */
    c.f32 = 0;
    CHECK_OK(gm_knn(&r, &f, &c, &plain));
    CHECK(plain.density != k.density || plain.precision != k.precision || plain.recall != k.recall);
    gm_knn_result_free(&k);
    gm_knn_result_free(&k32);
    gm_knn_result_free(&plain);
    gm_array_free(&R);
    gm_array_free(&F);
    gm_array_free(&E);
    gm_array_free(&FL);
}

GM_TEST(test_fp16_overflow_fallback) {
    size_t n = 120, d = 8;
    double *R = make_splitmix(51, n, d, 200.0, 0.0, 0.0), *F = make_splitmix(52, n, d, 210.0, 5.0, 0.0);
    gm_feats r = gm_feats_f64(R, n, d), f = gm_feats_f64(F, n, d);
    gm_knn_config c = gm_knn_config_default();
    c.fp16 = 1;
    c.tile = 32;
    gm_knn_result a, b, s;
    CHECK_OK(gm_knn(&r, &f, &c, &a)); /* squared distances ~ 1e5 > 65504: recomputed without fp16 */
    CHECK_INT_EQ(a.fp16_fallback, 1);
    c.fp16 = 0;
    CHECK_OK(gm_knn(&r, &f, &c, &b));
    CHECK_INT_EQ(b.fp16_fallback, 0);
    b.fp16_fallback = 1;
    check_identical(&a, &b);
    c.fp16 = 1;
    static const size_t sz[] = {33, 1, 50};
    CHECK_OK(run_stream(&r, &f, &c, sz, 3, &s));
    check_identical(&a, &s);
    gm_knn_result_free(&a);
    gm_knn_result_free(&b);
    gm_knn_result_free(&s);
    free(R);
    free(F);
}

GM_TEST(test_radii_api) {
    size_t n = 300, d = 6;
    double *X = make_splitmix(61, n, d, 1.0, 0.0, 0.0);
    gm_feats x = gm_feats_f64(X, n, d);
    double *rad = malloc(n * 4 * sizeof(double));
    CHECK_OK(gm_knn_radii(&x, 4, 64, 0, rad));
    for (size_t i = 0; i < n; i += 17) { /* brute force, self excluded */
        double best[4] = {INFINITY, INFINITY, INFINITY, INFINITY};
        for (size_t j = 0; j < n; j++) {
            if (j == i) continue;
            double s = 0;
            for (size_t t = 0; t < d; t++) s += (X[i * d + t] - X[j * d + t]) * (X[i * d + t] - X[j * d + t]);
            for (int p = 0; p < 4; p++)
                if (s < best[p]) {
                    for (int q = 3; q > p; q--) best[q] = best[q - 1];
                    best[p] = s;
                    break;
                }
        }
        for (int p = 0; p < 4; p++) CHECK_NEAR(rad[i * 4 + (size_t)p], best[p], 1e-12, 1e-14);
    }
    CHECK_RC(gm_knn_radii(&x, 300, 64, 0, rad), GM_EINVAL);
    free(rad);
    free(X);
}

/* Ties at the radius: real {0, 1, 3, 6} (1-D) with k = 1 has radii 1, 1, 2, 3; fake -1 lies exactly at the
 * radius of real 0 and fake 10 is outside every ball. "<=" (GM_CMP_LE, improved P/R) counts the tie:
 * precision 1/2; "<" (GM_CMP_LT, PRDC) does not: precision 0. Recall is 1 either way (fake radius 11). */
GM_TEST(test_radius_ties) {
    double R[4] = {0, 1, 3, 6}, F[2] = {-1, 10};
    gm_feats r = gm_feats_f64(R, 4, 1), f = gm_feats_f64(F, 2, 1);
    for (int cmp = 0; cmp < 2; cmp++) {
        gm_knn_config c = gm_knn_config_default();
        c.k_pr = 1;
        c.cmp_pr = cmp ? GM_CMP_LT : GM_CMP_LE;
        c.want_dc = 0;
        gm_knn_result k;
        CHECK_OK(gm_knn(&r, &f, &c, &k));
        CHECK_NEAR(k.precision, cmp ? 0.0 : 0.5, 0, 0);
        CHECK_NEAR(k.recall, 1.0, 0, 0);
        gm_knn_result_free(&k);
    }
}

/* A tile so large that tile² or tile·d bytes wrap size_t: in memory (gm_knn, gm_knn_radii) the tile is cut to
 * the larger row count, so the run succeeds with bitwise the default tile's results (both are one block
 * here); a stream, which does not know its rows, fails with an out-of-memory error naming the tile (the
 * wrapped size used to allocate a few bytes and overrun the heap). */
GM_TEST(test_huge_tile_fails_cleanly) {
    size_t n = 40, d = 4;
    double *X = make_splitmix(71, n, d, 1.0, 0.0, 0.0), *Y = make_splitmix(72, n, d, 1.0, 0.1, 0.0);
    gm_feats x = gm_feats_f64(X, n, d), y = gm_feats_f64(Y, n, d);
    double *rad = malloc(n * 3 * sizeof(double)), *rad0 = malloc(n * 3 * sizeof(double));
    static const size_t tiles[] = {(size_t)1 << 62, (size_t)1 << 33, SIZE_MAX / 2, 65536};
    for (int f32 = 0; f32 < 2; f32++) {
        gm_knn_config c0 = gm_knn_config_default();
        c0.f32 = f32;
        gm_knn_result r0;
        CHECK_OK(gm_knn(&x, &y, &c0, &r0));
        CHECK_OK(gm_knn_radii(&x, 3, 0, f32, rad0));
        for (int i = 0; i < 4; i++) {
            gm_knn_config c = c0;
            c.tile = tiles[i];
            gm_knn_result r;
            CHECK_OK(gm_knn(&x, &y, &c, &r));
            CHECK(r.precision == r0.precision && r.recall == r0.recall && r.density == r0.density &&
                  r.coverage == r0.coverage && r.dc_precision == r0.dc_precision && r.dc_recall == r0.dc_recall);
            gm_knn_result_free(&r);
            CHECK_OK(gm_knn_radii(&x, 3, tiles[i], f32, rad));
            CHECK(memcmp(rad, rad0, n * sizeof(double)) == 0);
            if (i == 3) continue; /* 65536² doubles fit in size_t: a stream would really allocate 32 GiB */
            gm_knn_stream *st = NULL;
            CHECK_RC(gm_knn_stream_create(&st, d, &c), GM_ENOMEM);
            CHECK(strstr(gm_last_error(), "tile") != NULL);
            CHECK(st == NULL);
        }
        gm_knn_result_free(&r0);
    }
    free(rad);
    free(rad0);
    free(X);
    free(Y);
}

GM_TEST_MAIN({"stream_matches_in_memory", test_stream_matches_in_memory}, {"stream_errors", test_stream_errors},
             {"stream_known_answers", test_stream_known_answers},
             {"round_half_numpy", test_round_half_numpy}, {"fp16_pr_numpy", test_fp16_pr_numpy},
             {"fp16_overflow_fallback", test_fp16_overflow_fallback}, {"radii_api", test_radii_api},
             {"radius_ties", test_radius_ties}, {"huge_tile_fails_cleanly", test_huge_tile_fails_cleanly})
