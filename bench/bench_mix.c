/* SPDX-License-Identifier: MIT */
/* bench_mix.c — one full Mixture-UCB-CAB run (RKE, T = 3000, m = 5, d = 784, sigma = 5) on synthetic
 * pixel-like arms (arm i: centre c_i ~ U[0, 0.5]^d plus N(0, (0.1 + 0.03 i)^2) noise, pools of T rows).
 * Prints TSV: name, shape, threads, ms (median of repeats), final RKE, pull frequencies.
 * Usage: bench_mix [T] [repeats] [lookahead]   (bench/run_mix.sh compares it with tools/ref_mix.py) */
#include <stdio.h>
#include <stdlib.h>

#include "genmix/mix.h"
#include "genmix/rng.h"

#ifdef _OPENMP
#include <omp.h>
#endif

static int cmp_d(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

int main(int argc, char **argv) {
    size_t T = argc > 1 ? (size_t)atol(argv[1]) : 3000, m = 5, d = 784;
    int reps = argc > 2 ? atoi(argv[2]) : 3;
    size_t look = argc > 3 ? (size_t)atol(argv[3]) : 32;
    if (reps < 1 || reps > 50) reps = 3;
    float *pool[5];
    size_t pn[5];
    gm_rng r;
    for (size_t i = 0; i < m; i++) {
        gm_rng_init(&r, 1, gm_rng_stream_id(GM_STREAM_SIM, i));
        float *c = malloc(d * sizeof *c);
        pool[i] = malloc(T * d * sizeof *pool[i]);
        pn[i] = T;
        if (!c || !pool[i]) return 1;
        for (size_t k = 0; k < d; k++) c[k] = (float)(0.5 * gm_rng_uniform(&r));
        for (size_t j = 0; j < T; j++)
            for (size_t k = 0; k < d; k++) pool[i][j * d + k] = c[k] + (float)((0.1 + 0.03 * (double)i) * gm_rng_normal(&r));
        free(c);
    }
    gm_mix_config cfg;
    gm_mix_config_default(&cfg, m, d, T, GM_MIX_QUAD_RKE, 0);
    cfg.sigma = 5.0;
    cfg.algo = GM_MIX_CAB;
    cfg.lookahead = look;
    double ms[50];
    gm_mix_trace tr = {0};
    for (int k = 0; k < reps; k++) {
        gm_mix_trace_free(&tr);
        double t0 = gm_time_now();
        if (gm_mix_simulate(&cfg, NULL, (const float *const *)pool, pn, NULL, 1, &tr) != GM_OK) {
            fprintf(stderr, "bench_mix: %s\n", gm_last_error());
            return 1;
        }
        ms[k] = (gm_time_now() - t0) * 1e3;
    }
    qsort(ms, (size_t)reps, sizeof *ms, cmp_d);
    int threads = 1;
#ifdef _OPENMP
    threads = omp_get_max_threads();
#endif
    printf("mix_cab_run\tT=%zu,m=%zu,d=%zu,lookahead=%zu\t%d\t%.1f\tRKE=%.3f\tfreq=", T, m, d, look, threads,
           ms[reps / 2], tr.score[T - 1]);
    for (size_t i = 0; i < m; i++) printf("%s%.3f", i ? "," : "", tr.freq[(T - 1) * m + i]);
    printf("\n");
    gm_mix_trace_free(&tr);
    for (size_t i = 0; i < m; i++) free(pool[i]);
    return 0;
}
