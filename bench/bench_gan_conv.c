/* SPDX-License-Identifier: MIT */
/* bench_gan_conv.c — one iteration of the Fashion-MNIST conv PR-GAN (src/prdiv/prdiv_gan_conv.c, gm_cgan_step:
 * n_D χ² critic steps + the PR generator step, Adam, EMA) at batch 64, plus the machine's SGEMM rate for the
 * FLOP-rate fraction. Prints TSV: kernel, shape, threads, value, unit.
 * Usage: bench_gan_conv [iters] [g_width] [d_width] [n_critic] [cpu]  (best of iters after one warm-up;
 * "cpu": process CPU time, run with OMP_NUM_THREADS=1 for per-core rates). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "genmix/prdiv.h"
#include "genmix/rng.h"
#include "bench_clock.h"

#ifdef _OPENMP
#include <omp.h>
#endif

/* forward FLOPs (multiply-adds × 2) per image of the conv layers and linears of G and of the critic */
static double g_flops(double Z, double W) { return 2 * Z * 2 * W * 49 + 2.0 * 49 * 2 * W * W * 16 + 2.0 * 196 * W * 16; }
static double d_flops(double Wd) { return 2.0 * 196 * Wd * 16 + 2.0 * 49 * 2 * Wd * Wd * 16 + 2.0 * 2 * Wd * 49; }

int main(int argc, char **argv) {
    int iters = argc > 1 ? atoi(argv[1]) : 5;
    gm_cgan_config c = gm_cgan_config_default();
    if (argc > 2) c.g_width = (size_t)atoi(argv[2]);
    if (argc > 3) c.d_width = (size_t)atoi(argv[3]);
    if (argc > 4) c.n_critic = (size_t)atoi(argv[4]);
    use_cpu_time = argc > 5 && !strcmp(argv[5], "cpu");
    int threads = 1;
#ifdef _OPENMP
    threads = omp_get_max_threads();
#endif
    c.objective = GM_GAN_PR, c.seed = 1;
    gm_cgan *g = NULL;
    const size_t N = 1024;
    float *X = malloc(N * 784 * sizeof(float));
    gm_rng r;
    gm_rng_init(&r, 1, 0);
    for (size_t i = 0; i < N * 784; i++) X[i] = (float)gm_rng_uniform(&r);
    if (gm_cgan_create(&g, &c) || gm_cgan_set_data(g, X, N)) {
        fprintf(stderr, "%s\n", gm_last_error());
        return 1;
    }
    double rate = sgemm_rate(3), best = 1e9;
    for (int it = 0; it < iters + 1; it++) {
        double t0 = now();
        if (gm_cgan_step(g, NULL)) {
            fprintf(stderr, "%s\n", gm_last_error());
            return 1;
        }
        double dt = now() - t0;
        if (it >= 1 && dt < best) best = dt;
    }
    /* FLOPs of one iteration: per critic step G forward (B) + critic forward and weight/input backward on 2B
     * (≈ 3 forwards); the generator step G forward + backward (3 forwards) and the frozen critic forward +
     * input backward on 2B (2 forwards) */
    double B = (double)c.batch, gf = g_flops((double)c.dim_z, (double)c.g_width), df = d_flops((double)c.d_width);
    double f = (double)c.n_critic * (gf * B + 3 * df * 2 * B) + 3 * gf * B + 2 * df * 2 * B;
    char shape[64];
    snprintf(shape, sizeof shape, "W%zu,Wd%zu,nD%zu,B%zu", c.g_width, c.d_width, c.n_critic, c.batch);
    printf("kernel\tshape\tthreads\tvalue\tunit\n");
    printf("sgemm\t1024^3\t%d\t%.2f\tGFLOP/s\n", threads, rate);
    printf("gan_iteration\t%s\t%d\t%.4f\ts\n", shape, threads, best);
    printf("gan_iteration_flops\t%s\t%d\t%.1f\tMFLOP\n", shape, threads, f / 1e6);
    printf("gan_fraction_of_limit\t%s\t%d\t%.3f\tfraction\n", shape, threads, f / best / (rate * 1e9));
    gm_cgan_free(g);
    free(X);
    return 0;
}
