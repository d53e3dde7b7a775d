/* SPDX-License-Identifier: MIT */
/* bench_clock.h — shared by the nn benchmarks (bench_nn.c, bench_unet.c): the clock (wall, or process CPU
 * time when use_cpu_time is set, for a loaded machine) and the single-SGEMM FLOP rate that the benchmarks
 * report their FLOP-rate fractions against. Header-only; each benchmark is one translation unit. */
#ifndef GM_BENCH_CLOCK_H
#define GM_BENCH_CLOCK_H

#include <stdlib.h>
#include <time.h>

#include "nn_internal.h"

static int use_cpu_time;

static double now(void) {
    if (use_cpu_time) {
        struct timespec ts;
        clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
        return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
    }
    return gm_time_now();
}

/* GFLOP/s of a 1024^3 SGEMM through the engine's gm__sgemm, best of `reps` runs */
static double sgemm_rate(int reps) {
    const size_t n = 1024;
    float *a = malloc(n * n * 4), *b = malloc(n * n * 4), *c = malloc(n * n * 4);
    for (size_t i = 0; i < n * n; i++) a[i] = (float)(i % 7) * 0.1f, b[i] = (float)(i % 5) * 0.1f;
    double best = 1e9;
    for (int r = 0; r < reps; r++) {
        double t0 = now();
        gm__sgemm(0, 0, n, n, n, 1.0f, a, n, b, n, 0.0f, c, n);
        double dt = now() - t0;
        if (dt < best) best = dt;
    }
    free(a), free(b), free(c);
    return 2.0 * (double)n * n * n / best / 1e9;
}

#endif
