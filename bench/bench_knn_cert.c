/* SPDX-License-Identifier: MIT */
/* bench_knn_cert.c — the certified k-NN P/R filter (src/eval/eval_knn_cert.c) against the SGEMM engine
 * (src/eval/eval_knn.c) on the same in-memory data, interleaved, best of REPS each.
 *
 *   bench_knn_cert N D KIND REPS    KIND: gauss (real N(0, I), fake 1.05·N(0, I) + 0.02, the bench's data),
 *                                   relu (both sets passed through max(0, ·): non-negative like CNN features)
 * k = 3, <=, float32 (the torch-fidelity profile). Prints, per side, the best time, and for the filter the
 * split (preparation, radii, real x fake), the filter in use, the recorded and exactly evaluated pairs,
 * the precision/recall of both sides and whether every output is bitwise equal to filter OFF (N <= 4000
 * only: OFF costs n² exact dot products). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "eval_internal.h"
#include "genmix/rng.h"

static float *gen(size_t n, size_t d, uint64_t stream, float scale, float shift, int relu) {
    float *x = malloc(n * d * sizeof(float));
    if (!x) return NULL;
    gm_rng r;
    gm_rng_init(&r, 1234, gm_rng_stream_id(GM_STREAM_SIM, stream));
    gm_rng_normal_fill(&r, x, n * d);
    for (size_t i = 0; i < n * d; i++) {
        x[i] = x[i] * scale + shift;
        if (relu && x[i] < 0) x[i] = 0;
    }
    return x;
}

static int same(const gm_knn_result *a, const gm_knn_result *b) {
    return a->precision == b->precision && a->recall == b->recall &&
           !memcmp(a->fake_in_real, b->fake_in_real, a->n_fake) && !memcmp(a->real_in_fake, b->real_in_fake, a->n_real) &&
           !memcmp(a->radius_real_pr, b->radius_real_pr, a->n_real * sizeof(double)) &&
           !memcmp(a->radius_fake_pr, b->radius_fake_pr, a->n_fake * sizeof(double));
}

int main(int argc, char **argv) {
    size_t n = argc > 1 ? (size_t)atol(argv[1]) : 10000, d = argc > 2 ? (size_t)atol(argv[2]) : 2048;
    const char *kind = argc > 3 ? argv[3] : "gauss";
    int reps = argc > 4 ? atoi(argv[4]) : 2, relu = !strcmp(kind, "relu");
    const char *filt = getenv("FILTER"); /* amx (default), f32 */
    int mode = filt && !strcmp(filt, "f32") ? GM_KNN_FILTER_F32 : GM_KNN_FILTER_AUTO;
    float *xr = gen(n, d, 1, 1.0f, 0.0f, relu), *xf = gen(n, d, 2, 1.05f, 0.02f, relu);
    if (!xr || !xf) return 1;
    gm_feats r = {xr, n, d, 0}, f = {xf, n, d, 0};
    gm_knn_config c = gm_knn_config_default();
    c.f32 = 1;
    c.want_dc = 0;
    c.k_pr = 3;
    c.cmp_pr = GM_CMP_LE;
    double best_old = 1e30, best_new = 1e30;
    gm_knn_result ro, rn;
    gm_knn_cert_stats st, bst;
    memset(&bst, 0, sizeof bst);
    for (int q = 0; q < reps; q++) {
        double t0 = gm_time_now();
        if (gm_knn_sgemm(&r, &f, &c, &ro)) return 1;
        double t1 = gm_time_now();
        if (gm_knn_pr_cert(&r, &f, &c, mode, &rn, &st)) return 1;
        double t2 = gm_time_now();
        if (t1 - t0 < best_old) best_old = t1 - t0;
        if (t2 - t1 < best_new) {
            best_new = t2 - t1;
            bst = st;
        }
        if (q + 1 < reps) {
            gm_knn_result_free(&ro);
            gm_knn_result_free(&rn);
        }
    }
    double pairs = (double)n * (double)(n - 1) + (double)n * (double)n;
    printf("n %zu d %zu kind %s reps %d\n", n, d, kind, reps);
    printf("sgemm_engine_s %.3f  P %.6f R %.6f\n", best_old, ro.precision, ro.recall);
    printf("cert_s %.3f  P %.6f R %.6f  filter %s\n", best_new, rn.precision, rn.recall,
           bst.mode == GM_KNN_FILTER_AMX ? "amx-bf16" : bst.mode == GM_KNN_FILTER_F32 ? "sgemm-f32" : "off");
    printf("cert_split prep %.3f radii %.3f cross %.3f  (Gram kernel %.3f thread-s, %.0f GFLOP/thread-s)\n",
           bst.prep_s, bst.radii_s, bst.cross_s, bst.gram_s,
           ((double)n * (double)n / 2 * 2 + (double)n * (double)n) * 2.0 * (double)d / bst.gram_s * 1e-9);
    printf("pairs_recorded %zu exact_radii %zu exact_cross %zu  exact fraction %.2e of %.3g pairs\n", bst.recorded,
           bst.exact_radii, bst.exact_cross, (double)(bst.exact_radii + bst.exact_cross) / pairs, pairs);
    printf("radius resweeps %zu exact sweeps %zu\n", bst.resweeps, bst.exact_sweeps);
    printf("speedup %.2fx\n", best_old / best_new);
    size_t dr = 0, df = 0;
    for (size_t i = 0; i < n; i++) dr += ro.real_in_fake[i] != rn.real_in_fake[i];
    for (size_t j = 0; j < n; j++) df += ro.fake_in_real[j] != rn.fake_in_real[j];
    printf("flags differing from the sgemm engine: real %zu fake %zu\n", dr, df);
    if (n <= 4000) {
        gm_knn_result ref;
        if (gm_knn_pr_cert(&r, &f, &c, GM_KNN_FILTER_OFF, &ref, NULL)) return 1;
        printf("bitwise_equal_to_filter_off %d\n", same(&ref, &rn));
        gm_knn_result_free(&ref);
    }
    gm_knn_result_free(&ro);
    gm_knn_result_free(&rn);
    free(xr);
    free(xf);
    return 0;
}
