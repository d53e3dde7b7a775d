/* SPDX-License-Identifier: MIT */
/* bench_moe.c — EM fit time of genmix moe on the spec's designs A and B (data from the LCG generator shared
 * with R), k = 2 experts, random-partition restarts. Prints TSV: kernel shape threads ns_per_call gflops
 * (gflops column unused: "-") plus the best log-likelihood, so bench/run_moe.sh can compare with flexmix.
 * usage: bench_moe [restarts] [repeats] */
#include <stdio.h>
#include <stdlib.h>

#include "genmix/moe.h"

#ifdef _OPENMP
#include <omp.h>
#endif

static void design(gm_moe *m, int b) {
    if (!b) {
        gm_moe_init(m, 2, 3, 1, GM_MOE_GATE_IDENTITY);
        m->W[0] = 0.5, m->W[2] = 3.0;
        double *v1 = m->V, *v2 = m->V + 6;
        v1[0] = 1.0, v1[1] = 0.5, v1[3] = 2.0, v1[4] = -1.0;
        v2[0] = -0.5, v2[1] = 1.0, v2[3] = -2.0, v2[4] = 1.5;
    } else {
        gm_moe_init(m, 2, 2, 1, GM_MOE_GATE_IDENTITY);
        m->W[0] = 0.0, m->W[2] = 1.5;
        m->V[0] = 0.5, m->V[2] = 1.0, m->V[4] = -0.5, m->V[6] = -1.5;
    }
}

static int cmp(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

int main(int argc, char **argv) {
    size_t restarts = argc > 1 ? (size_t)atoi(argv[1]) : 5;
    int repeats = argc > 2 ? atoi(argv[2]) : 3;
    int threads = 1;
#ifdef _OPENMP
    threads = omp_get_max_threads();
#endif
    printf("kernel\tshape\tthreads\tns_per_call\tgflops\tbest_loglik\n");
    for (int b = 0; b < 2; b++) {
        gm_moe m;
        design(&m, b);
        size_t n = b ? 5000 : 2000;
        double *X = malloc(n * sizeof(double));
        int *y = malloc(n * sizeof(int));
        gm_moe_sample_lcg(&m, n, 20240521u, b ? 3.0 : 1.0, X, y, NULL);
        gm_moe_fit_config cfg = gm_moe_fit_config_default();
        cfg.n_restarts = restarts;
        cfg.seed = 1;
        cfg.tol = 1e-8;
        cfg.max_iter = 1000; /* flexmix run: iter.max 1000, tolerance 1e-8 */
        double t[16], best = -1e300;
        if (repeats > 16) repeats = 16;
        for (int r = 0; r < repeats; r++) {
            gm_moe_fit_result res;
            double t0 = gm_time_now();
            if (gm_moe_fit(&cfg, X, y, n, 1, m.n_classes, NULL, &res) != GM_OK) {
                fprintf(stderr, "fit failed: %s\n", gm_last_error());
                return 1;
            }
            t[r] = gm_time_now() - t0;
            for (size_t i = 0; i < res.n_restarts; i++)
                if (res.restart_loglik[i] > best) best = res.restart_loglik[i];
            gm_moe_fit_result_free(&res);
        }
        qsort(t, (size_t)repeats, sizeof(double), cmp);
        printf("moe_fit_design_%c\tn=%zu,k=2,restarts=%zu\t%d\t%.0f\t-\t%.10f\n", b ? 'B' : 'A', n, restarts, threads,
               t[repeats / 2] * 1e9, best);
        free(X);
        free(y);
        gm_moe_free(&m);
    }
    return 0;
}
