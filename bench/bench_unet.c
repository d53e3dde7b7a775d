/* SPDX-License-Identifier: MIT */
/* bench_unet.c — the Fashion-MNIST diffusion U-Net (src/diffusion/diff_unet.c): one training step (noise
 * draw, forward, eps-MSE, backward, Adam, EMA) at batch 64, and one denoiser forward + input VJP (the DAS
 * "full" gradient) at batch 64, plus the machine's SGEMM rate for the FLOP-rate fraction, the time both would
 * take at that rate, and the 3x3 convolution kernels alone on the network's shapes (forward, weight gradient,
 * input gradient, summed over its 14 such layers).
 * Prints TSV: kernel, shape, threads, value, unit. Usage: bench_unet [steps] [channels] [cpu]
 * With "cpu", times are process CPU time (run with OMP_NUM_THREADS=1 for per-core rates). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "genmix/diffusion.h"
#include "genmix/nn.h"
#include "bench_clock.h"

#ifdef _OPENMP
#include <omp.h>
#endif

/* forward FLOPs per image (multiply-adds x 2) of the convolutions and linears of the U-Net with C channels */
static double unet_flops(double C) {
    double f = 0, E = 4 * C;
    double px28 = 784, px14 = 196, px7 = 49;
#define CONV(px, oc, ic, k) (2.0 * (px) * (oc) * (ic) * (k) * (k))
    f += 2 * (C * E + E * E);                                     /* time MLP */
    f += CONV(px28, C, 1, 3);                                     /* conv_in */
    f += CONV(px28, C, C, 3) * 2;                                 /* res0 */
    f += CONV(px14, C, C, 3);                                     /* down0 */
    f += CONV(px14, 2 * C, C, 3) + CONV(px14, 2 * C, 2 * C, 3) + CONV(px14, 2 * C, C, 1); /* res1 */
    f += CONV(px7, 2 * C, 2 * C, 3);                              /* down1 */
    f += CONV(px7, 2 * C, 2 * C, 3) * 2;                          /* mid */
    f += CONV(px14, 2 * C, 2 * C, 3);                             /* up1 */
    f += CONV(px14, 2 * C, 4 * C, 3) + CONV(px14, 2 * C, 2 * C, 3) + CONV(px14, 2 * C, 4 * C, 1); /* resu1 */
    f += CONV(px28, C, 2 * C, 3);                                 /* up0 */
    f += CONV(px28, C, 2 * C, 3) + CONV(px28, C, C, 3) + CONV(px28, C, 2 * C, 1); /* resu0 */
    f += CONV(px28, 1, C, 3);                                     /* conv_out */
    f += 2 * E * (C + 2 * C + 2 * C + 2 * C + C);                 /* per-block time projections */
    return f;
}

/* The 3x3 stride-1 convolutions of the U-Net (src/nn/nn_conv3.c) timed alone on the network's shapes at batch B:
 * their forward, weight-gradient and input-gradient seconds summed over the layers (best of reps), so that the
 * report can say how much of a step is convolution arithmetic and how much is everything else. */
static void conv3_times(int C, size_t B, int reps, double *tf, double *tw, double *td) {
    const int L[][4] = {{1, C, 28, 0},         {C, C, 28, 1},         {C, C, 28, 1},     {2 * C, C, 28, 1},
                        {2 * C, C, 28, 1},     {C, C, 28, 1},         {C, 1, 28, 1},     {C, 2 * C, 14, 1},
                        {2 * C, 2 * C, 14, 1}, {2 * C, 2 * C, 14, 1}, {4 * C, 2 * C, 14, 1}, {2 * C, 2 * C, 14, 1},
                        {2 * C, 2 * C, 7, 1},  {2 * C, 2 * C, 7, 1}}; /* C in, C out, size, (unused flag) */
    *tf = *tw = *td = 0;
    for (size_t l = 0; l < sizeof L / sizeof L[0]; l++) {
        gm_conv_dims d = {B, (size_t)L[l][0], (size_t)L[l][2], (size_t)L[l][2], (size_t)L[l][1], 3, 1, 1, 0, 0};
        gm_conv2d_dims(&d);
        size_t nx = d.B * d.C * d.H * d.W, ny = d.B * d.OC * d.H * d.W, nw = d.OC * d.C * 9;
        float *x = calloc(nx, 4), *y = calloc(ny, 4), *w = calloc(nw, 4), *dw = calloc(nw, 4), *dx = calloc(nx, 4);
        float *wk = calloc(gm__conv3_work_size(&d), 4);
        for (size_t i = 0; i < nx; i++) x[i] = (float)(i % 13) * 0.1f;
        for (size_t i = 0; i < nw; i++) w[i] = (float)(i % 7) * 0.1f;
        double bf = 1e9, bw = 1e9, bd = 1e9;
        for (int r = 0; r < reps; r++) {
            double t0 = now();
            gm__conv3_forward(y, x, w, NULL, &d, wk);
            double t1 = now();
            gm__conv3_backward(NULL, dw, NULL, y, x, w, &d, 0, wk);
            double t2 = now();
            gm__conv3_backward(dx, NULL, NULL, y, x, w, &d, 1, wk);
            double t3 = now();
            bf = t1 - t0 < bf ? t1 - t0 : bf, bw = t2 - t1 < bw ? t2 - t1 : bw, bd = t3 - t2 < bd ? t3 - t2 : bd;
        }
        *tf += bf, *tw += bw, *td += bd;
        free(x), free(y), free(w), free(dw), free(dx), free(wk);
    }
}

int main(int argc, char **argv) {
    int steps = argc > 1 ? atoi(argv[1]) : 5, C = argc > 2 ? atoi(argv[2]) : 16;
    use_cpu_time = argc > 3 && !strcmp(argv[3], "cpu");
    int threads = 1;
#ifdef _OPENMP
    threads = omp_get_max_threads();
#endif
    const size_t B = 64;
    gm_diff_schedule *sch = malloc(sizeof *sch);
    gm_diff_schedule_init(sch, GM_BETA_LINEAR, 1000);
    gm_diff_unet *m;
    if (gm_diff_unet_create(&m, C, sch) != GM_OK) {
        fprintf(stderr, "%s\n", gm_last_error());
        return 1;
    }
    gm_diff_unet_init(m, 1);
    float *x = malloc(B * 784 * 4), *u = malloc(B * 784 * 4), *e = malloc(B * 784 * 4), *v = malloc(B * 784 * 4);
    gm_rng r;
    gm_rng_init(&r, 1, 0);
    for (size_t i = 0; i < B * 784; i++) x[i] = (float)(2.0 * gm_rng_uniform(&r) - 1.0);
    gm_rng_normal_fill(&r, u, B * 784);
    double g = sgemm_rate(3), best_t = 1e9, best_v = 1e9, loss;
    for (int it = 0; it < steps + 1; it++) { /* best-of: the machine is shared; first call warms up */
        double t0 = now();
        gm_diff_unet_train_step(m, x, B, 1e-4f, 0.999f, 1, (uint64_t)it, &loss);
        double dt = now() - t0;
        if (it >= 1 && dt < best_t) best_t = dt;
    }
    gm_denoiser den = gm_diff_unet_denoiser(m);
    for (int it = 0; it < steps + 1; it++) {
        double t0 = now();
        den.eps_vjp(den.ctx, x, B, 500, u, e, v);
        double dt = now() - t0;
        if (it >= 1 && dt < best_v) best_v = dt;
    }
    double f = unet_flops(C);
    printf("kernel\tshape\tthreads\tvalue\tunit\n");
    printf("sgemm\t1024^3\t%d\t%.2f\tGFLOP/s\n", threads, g);
    printf("unet_train_step\tC%d,B64\t%d\t%.4f\ts\n", C, threads, best_t);
    printf("unet_eps_vjp\tC%d,B64\t%d\t%.4f\ts\n", C, threads, best_v);
    printf("unet_forward_flops\tC%d\t%d\t%.1f\tMFLOP/image\n", C, threads, f / 1e6);
    /* training = 3x forward FLOPs; forward + input VJP = 2x (no weight gradients) */
    printf("train_fraction_of_limit\tC%d\t%d\t%.3f\tfraction\n", C, threads, 3 * f * B / best_t / (g * 1e9));
    printf("vjp_fraction_of_limit\tC%d\t%d\t%.3f\tfraction\n", C, threads, 2 * f * B / best_v / (g * 1e9));
    /* where the time goes: all FLOPs at the SGEMM rate (a lower bound), and the 3x3 convolution kernels alone */
    printf("train_step_at_sgemm_rate\tC%d,B64\t%d\t%.4f\ts\n", C, threads, 3 * f * B / (g * 1e9));
    printf("eps_vjp_at_sgemm_rate\tC%d,B64\t%d\t%.4f\ts\n", C, threads, 2 * f * B / (g * 1e9));
    if (C <= 64) {
        double tf, tw, td;
        conv3_times(C, B, steps < 3 ? 3 : steps, &tf, &tw, &td);
        printf("conv3x3_forward\tC%d,B64\t%d\t%.4f\ts\n", C, threads, tf);
        printf("conv3x3_weight_grad\tC%d,B64\t%d\t%.4f\ts\n", C, threads, tw);
        printf("conv3x3_input_grad\tC%d,B64\t%d\t%.4f\ts\n", C, threads, td);
    }
    free(x), free(u), free(e), free(v);
    gm_diff_unet_free(m);
    free(sch);
    return 0;
}
