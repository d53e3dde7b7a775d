/* test_alloc_sweep.c — allocation-failure sweeps over the public API (issue 12, "robust error paths").
 *
 * Every public function that allocates (tools/list_allocating.py lists them from the call graph) runs
 * under CHECK_ALLOC_SWEEP (tests/gm_test.h): the k-th allocation fails for k = 1, 2, ... until the call
 * succeeds, and at each k the call must return GM_ENOMEM and leave nothing allocated. Inputs are tiny
 * so that the sweeps stay cheap under ASan; what the results are is checked by the module tests, here only
 * that the failure paths clean up. Thread count 1 so that the allocation order is the same at every k.
 * Functions that return a value instead of a status (NaN/NULL on failure) are wrapped to a status. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "genmix/eval.h"
#include "gm_test.h"

/* Deterministic pseudo-random fill (no library allocation involved). */
static void fill(double *x, size_t n, uint64_t seed) {
    uint64_t s = seed * 0x9E3779B97F4A7C15ull + 1;
    for (size_t i = 0; i < n; i++) {
        s ^= s << 13, s ^= s >> 7, s ^= s << 17;
        x[i] = (double)(s >> 11) / 9007199254740992.0 - 0.5;
    }
}

/* ---- eval ---------------------------------------------------------------------------------------- */

enum { NR = 40, NF = 36, D = 5 };
static double g_real[NR * D], g_fake[NF * D];
static gm_feats R, F;

static void eval_data(void) {
    fill(g_real, NR * D, 1);
    fill(g_fake, NF * D, 2);
    for (size_t i = 0; i < NF * D; i++) g_fake[i] += 0.1;
    R = gm_feats_f64(g_real, NR, D);
    F = gm_feats_f64(g_fake, NF, D);
}

static int run_knn(void *ctx) {
    gm_knn_config c = *(const gm_knn_config *)ctx;
    gm_knn_result r;
    int rc = gm_knn(&R, &F, &c, &r);
    if (!rc) gm_knn_result_free(&r); /* on failure the call owns the cleanup */
    return rc;
}
static int run_knn_ref(void *ctx) {
    gm_knn_result r;
    int rc = gm_knn_ref(&R, &F, (const gm_knn_config *)ctx, &r);
    if (!rc) gm_knn_result_free(&r);
    return rc;
}
static int run_knn_radii(void *ctx) {
    double rad[NR * 3];
    return gm_knn_radii(&R, 3, 16, *(int *)ctx, rad);
}
static int run_knn_stream(void *ctx) {
    gm_knn_stream *s;
    int rc = gm_knn_stream_create(&s, D, (const gm_knn_config *)ctx);
    if (rc) return rc;
    gm_feats a = gm_feats_f64(g_real, 20, D), b = gm_feats_f64(g_real + 20 * D, NR - 20, D);
    gm_knn_result r;
    memset(&r, 0, sizeof r);
    if (!(rc = gm_knn_stream_feed(s, GM_KNN_REAL, &a)) && !(rc = gm_knn_stream_feed(s, GM_KNN_FAKE, &F)) &&
        !(rc = gm_knn_stream_feed(s, GM_KNN_REAL, &b)))
        rc = gm_knn_stream_finish(s, &r);
    if (!rc) gm_knn_result_free(&r);
    gm_knn_stream_free(s);
    return rc;
}

GM_TEST(test_sweep_knn) {
    gm_test_set_threads(1);
    eval_data();
    gm_knn_config c = gm_knn_config_default();
    c.tile = 16;
    c.want_pr = c.want_dc = 1;
    CHECK(CHECK_ALLOC_SWEEP(run_knn, &c) >= 20);
    c.realism = GM_REALISM_KYNKAAT;
    CHECK_ALLOC_SWEEP(run_knn, &c);
    c.realism = GM_REALISM_DGM;
    c.f32 = 1;
    CHECK_ALLOC_SWEEP(run_knn, &c);
    c.fp16 = 1;
    CHECK_ALLOC_SWEEP(run_knn, &c);
    CHECK_ALLOC_SWEEP(run_knn_ref, &c);
    int f32 = 0;
    CHECK_ALLOC_SWEEP(run_knn_radii, &f32);
    f32 = 1;
    CHECK_ALLOC_SWEEP(run_knn_radii, &f32);
    c = gm_knn_config_default();
    c.tile = 8;
    CHECK_ALLOC_SWEEP(run_knn_stream, &c);
}

GM_TEST_MAIN({"sweep_knn", test_sweep_knn})
