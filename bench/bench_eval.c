/* SPDX-License-Identifier: MIT */
/* bench_eval.c — timings of genmix eval on synthetic features, for bench/run_eval.sh.
 *
 *   bench_eval data DIR N D     write DIR/real.f32 and DIR/fake.f32 (raw float32, N x D, Philox normals)
 *   bench_eval run DIR N D      time SGEMM, PRDC (float32 GEMM, k 5), FD (float64), KID (float64, 100 x 1000)
 *   bench_eval prdc N D         PRDC on in-memory N x D sets (for the peak-RSS check)
 * Output: "key value" lines on stdout (seconds, GFLOP/s and metric values). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "genmix/eval.h"
#include "genmix/rng.h"

#ifdef GM_HAVE_BLAS
#include <cblas.h>
#endif

static float *gen(size_t n, size_t d, uint64_t stream, float scale, float shift) {
    float *x = malloc(n * d * sizeof(float));
    if (!x) return NULL;
    gm_rng r;
    gm_rng_init(&r, 1234, gm_rng_stream_id(GM_STREAM_SIM, stream));
    gm_rng_normal_fill(&r, x, n * d);
    for (size_t i = 0; i < n * d; i++) x[i] = x[i] * scale + shift;
    return x;
}

static float *load(const char *dir, const char *name, size_t n, size_t d) {
    char p[4096];
    snprintf(p, sizeof p, "%s/%s", dir, name);
    FILE *f = fopen(p, "rb");
    float *x = malloc(n * d * sizeof(float));
    if (!f || !x || fread(x, sizeof(float), n * d, f) != n * d) {
        fprintf(stderr, "bench_eval: cannot read %s\n", p);
        exit(1);
    }
    fclose(f);
    return x;
}

static void save(const char *dir, const char *name, const float *x, size_t n, size_t d) {
    char p[4096];
    snprintf(p, sizeof p, "%s/%s", dir, name);
    FILE *f = fopen(p, "wb");
    if (!f || fwrite(x, sizeof(float), n * d, f) != n * d) {
        fprintf(stderr, "bench_eval: cannot write %s\n", p);
        exit(1);
    }
    fclose(f);
}

/* GEMM flops genmix's tiled PRDC performs (src/eval/eval_knn.c): per set, blocks of tile/2 rows against column
 * tiles, upper triangle only (a block on the diagonal starts at its own first column), plus the full
 * real x fake product. */
static double prdc_flops(size_t n, size_t m, size_t d, size_t tile) {
    double f = 0;
    size_t ns[2] = {n, m}, rb = tile % 2 ? tile : tile / 2;
    for (int s = 0; s < 2; s++)
        for (size_t j0 = 0; j0 < ns[s]; j0 += tile) {
            size_t j1 = j0 + tile < ns[s] ? j0 + tile : ns[s];
            for (size_t r0 = 0; r0 + 1 < j1; r0 += rb) {
                size_t mb = ns[s] - r0 < rb ? ns[s] - r0 : rb, c0 = r0 > j0 ? r0 : j0;
                f += 2.0 * (double)mb * (double)(j1 - c0) * (double)d;
            }
        }
    return f + 2.0 * (double)n * (double)m * (double)d;
}

#ifdef GM_HAVE_BLAS
/* The machine's SGEMM rate: OpenBLAS's own threading, 4096 x 4096 x 2048, best of 3 (GFLOP/s). */
static double sgemm_rate(void) {
    size_t m = 4096, k = 2048;
    float *A = malloc(m * k * sizeof(float)), *B = malloc(m * k * sizeof(float)), *C = malloc(m * m * sizeof(float));
    for (size_t i = 0; i < m * k; i++) {
        A[i] = (float)(i % 97) * 0.01f;
        B[i] = (float)(i % 89) * 0.01f;
    }
    double best = 1e30;
    for (int rep = 0; rep < 3; rep++) {
        double t0 = gm_time_now();
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)m, (int)m, (int)k, 1.0f, A, (int)k, B, (int)k, 0.0f,
                    C, (int)m);
        double t = gm_time_now() - t0;
        if (t < best) best = t;
    }
    free(A);
    free(B);
    free(C);
    return 2.0 * (double)m * (double)m * (double)k / best / 1e9;
}

/* The machine's DGEMM rate: 2048^3, OpenBLAS threading, best of 3 (GFLOP/s). */
static double dgemm_rate(void) {
    double best = 1e30;
    double *DA = malloc(2048 * 2048 * sizeof(double)), *DC = malloc(2048 * 2048 * sizeof(double));
    for (size_t i = 0; i < 2048 * 2048; i++) DA[i] = (double)(i % 89) * 0.01;
    for (int rep = 0; rep < 3; rep++) {
        double t0 = gm_time_now();
        cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasTrans, 2048, 2048, 2048, 1.0, DA, 2048, DA, 2048, 0.0, DC, 2048);
        double t = gm_time_now() - t0;
        if (t < best) best = t;
    }
    free(DA);
    free(DC);
    return 2.0 * 2048.0 * 2048.0 * 2048.0 / best / 1e9;
}
#endif

static double run_prdc(const float *R, const float *F, size_t n, size_t d, gm_knn_result *r) {
    gm_feats fr = gm_feats_f32(R, n, d), ff = gm_feats_f32(F, n, d);
    gm_knn_config c = gm_knn_config_default();
    c.want_pr = 0; /* the clovaai computation: k 5, strict <, input dtype (float32) */
    c.f32 = 1;
    double t0 = gm_time_now();
    if (gm_knn(&fr, &ff, &c, r) != GM_OK) {
        fprintf(stderr, "bench_eval: %s\n", gm_last_error());
        exit(1);
    }
    return gm_time_now() - t0;
}

int main(int argc, char **argv) {
    if (argc < 4) {
        fprintf(stderr, "usage: bench_eval data|run DIR N D | prdc N D\n");
        return 2;
    }
    if (!strcmp(argv[1], "prdc")) {
        size_t n = (size_t)atol(argv[2]), d = (size_t)atol(argv[3]);
        float *R = gen(n, d, 1, 1.0f, 0.0f), *F = gen(n, d, 2, 1.05f, 0.02f);
        gm_knn_result r;
        double t = run_prdc(R, F, n, d, &r);
        printf("prdc_big_n %zu\nprdc_big_s %.3f\nprdc_big_gemm_gflop %.1f\n", n, t, prdc_flops(n, n, d, 1024) / 1e9);
        printf("prdc_big_values %.6f %.6f %.6f %.6f\n", r.dc_precision, r.dc_recall, r.density, r.coverage);
        gm_knn_result_free(&r);
        free(R);
        free(F);
        return 0;
    }
    const char *dir = argv[2];
    size_t n = (size_t)atol(argv[3]), d = (size_t)atol(argv[4]);
    if (!strcmp(argv[1], "data")) {
        float *R = gen(n, d, 1, 1.0f, 0.0f), *F = gen(n, d, 2, 1.05f, 0.02f);
        save(dir, "real.f32", R, n, d);
        save(dir, "fake.f32", F, n, d);
        free(R);
        free(F);
        return 0;
    }
    float *R = load(dir, "real.f32", n, d), *F = load(dir, "fake.f32", n, d);
#ifdef GM_HAVE_BLAS
    printf("sgemm_gflops %.1f\n", sgemm_rate());
    printf("dgemm_gflops %.1f\n", dgemm_rate());
#endif
    gm_knn_result r;
    double t = run_prdc(R, F, n, d, &r);
#ifdef GM_HAVE_BLAS
    printf("sgemm_gflops_after %.1f\n", sgemm_rate()); /* again right after PRDC: load drift check */
#endif
    printf("prdc_s %.3f\nprdc_gemm_gflop %.1f\nprdc_min_gemm_gflop %.1f\n", t, prdc_flops(n, n, d, 1024) / 1e9,
           4.0 * (double)n * (double)n * (double)d / 1e9);
    printf("prdc_values %.6f %.6f %.6f %.6f\n", r.dc_precision, r.dc_recall, r.density, r.coverage);
    gm_knn_result_free(&r);

    gm_feats fr = gm_feats_f32(R, n, d), ff = gm_feats_f32(F, n, d);
    gm_fdstats a, b;
    gm_fdstats_init(&a, d);
    gm_fdstats_init(&b, d);
    double t0 = gm_time_now();
    gm_fdstats_add(&a, &fr);
    gm_fdstats_add(&b, &ff);
    double t_stats = gm_time_now() - t0;
    double *S1 = malloc(d * d * sizeof(double)), *S2 = malloc(d * d * sizeof(double));
    gm_fdstats_cov(&a, GM_COV_UNBIASED, S1);
    gm_fdstats_cov(&b, GM_COV_UNBIASED, S2);
    gm_fd_result fd;
    t0 = gm_time_now();
    if (gm_fd_from_moments(a.mean, S1, b.mean, S2, d, &fd) != GM_OK) {
        fprintf(stderr, "bench_eval: %s\n", gm_last_error());
        return 1;
    }
    double t_fd = gm_time_now() - t0;
    printf("fd_stats_s %.3f\nfd_sqrt_s %.3f\nfd_value %.12g\n", t_stats, t_fd, fd.fd);
    free(S1);
    free(S2);
    gm_fdstats_free(&a);
    gm_fdstats_free(&b);

    gm_kid_config kc = gm_kid_config_default();
    gm_kid_result kid;
    t0 = gm_time_now();
    if (gm_kid(&fr, &ff, &kc, &kid, NULL) != GM_OK) {
        fprintf(stderr, "bench_eval: %s\n", gm_last_error());
        return 1;
    }
    printf("kid_s %.3f\nkid_value %.12g %.6g\n", gm_time_now() - t0, kid.mean, kid.std);
    printf("kid_gemm_gflop %.1f\n", 4.0 * (double)kc.subsets * (double)kid.subset_size * (double)kid.subset_size * (double)d / 1e9);
#ifdef GM_HAVE_BLAS
    printf("dgemm_gflops_after %.1f\n", dgemm_rate()); /* right after KID: load drift check */
#endif
    free(R);
    free(F);
    return 0;
}
