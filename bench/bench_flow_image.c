/* SPDX-License-Identifier: MIT */
/* bench_flow_image.c — one training step of the Fashion-MNIST multi-scale RealNVP (src/prdiv/prdiv_iflow.c,
 * gm_iflow_step: dequantisation + logit, forward through every coupling, backward, gradient clip, Adam) at
 * batch 64 with the default architecture (2 scales × 3 couplings per group, hidden 32, 1 residual block), plus
 * the machine's SGEMM rate for the FLOP-rate fraction. Prints TSV: kernel, shape, threads, value, unit.
 * Usage: bench_flow_image [iters] [hidden] [n_res] [cpu]  (best of iters after one warm-up; "cpu": process CPU
 * time, run with OMP_NUM_THREADS=1 for per-core rates). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "genmix/prdiv.h"
#include "genmix/rng.h"
#include "bench_clock.h"

#ifdef _OPENMP
#include <omp.h>
#endif

/* forward FLOPs (multiply-adds × 2) of the 3×3 convs of every coupling net, per image */
static double flow_flops(const gm_iflow_config *c) {
    double f = 0, C = (double)c->channels, H = (double)c->height, W = (double)c->width, Hd = (double)c->hidden;
    double K = (double)c->n_couplings, R = (double)c->n_res;
    for (size_t s = 0; s <= c->n_scales; s++) {
        double px = H * W, net = 2 * 9 * px * (Hd * C + 2 * R * Hd * Hd + 2 * C * Hd);
        f += K * net; /* checkerboard couplings */
        if (s == c->n_scales) break;
        C *= 4, H /= 2, W /= 2, px = H * W;
        f += K * 2 * 9 * px * (Hd * C + 2 * R * Hd * Hd + 2 * C * Hd); /* channel couplings */
        C /= 2;
    }
    return f;
}

int main(int argc, char **argv) {
    int iters = argc > 1 ? atoi(argv[1]) : 5;
    gm_iflow_config c = gm_iflow_config_default();
    if (argc > 2) c.hidden = (size_t)atoi(argv[2]);
    if (argc > 3) c.n_res = (size_t)atoi(argv[3]);
    use_cpu_time = argc > 4 && !strcmp(argv[4], "cpu");
    int threads = 1;
#ifdef _OPENMP
    threads = omp_get_max_threads();
#endif
    c.seed = 1;
    gm_iflow *f = NULL;
    const size_t N = 1024;
    float *X = malloc(N * 784 * sizeof(float));
    gm_rng r;
    gm_rng_init(&r, 1, 0);
    for (size_t i = 0; i < N * 784; i++) X[i] = (float)gm_rng_below(&r, 256) / 255.0f;
    if (gm_iflow_create(&f, &c) || gm_iflow_set_data(f, X, N)) {
        fprintf(stderr, "%s\n", gm_last_error());
        return 1;
    }
    double rate = sgemm_rate(3), best = 1e9;
    for (int it = 0; it < iters + 1; it++) {
        double t0 = now();
        if (gm_iflow_step(f, NULL)) {
            fprintf(stderr, "%s\n", gm_last_error());
            return 1;
        }
        double dt = now() - t0;
        if (it >= 1 && dt < best) best = dt;
    }
    /* one step ≈ 3 forwards of the convs (forward, input gradient, weight gradient) */
    double fl = 3 * flow_flops(&c) * (double)c.batch;
    char shape[64];
    snprintf(shape, sizeof shape, "L%zu,K%zu,H%zu,R%zu,B%zu", c.n_scales, c.n_couplings, c.hidden, c.n_res, c.batch);
    printf("kernel\tshape\tthreads\tvalue\tunit\n");
    printf("sgemm\t1024^3\t%d\t%.2f\tGFLOP/s\n", threads, rate);
    printf("flow_step\t%s\t%d\t%.4f\ts\n", shape, threads, best);
    printf("flow_step_flops\t%s\t%d\t%.1f\tMFLOP\n", shape, threads, fl / 1e6);
    printf("flow_fraction_of_limit\t%s\t%d\t%.3f\tfraction\n", shape, threads, fl / best / (rate * 1e9));
    gm_iflow_free(f);
    free(X);
    return 0;
}
