/* SPDX-License-Identifier: MIT */
/* bench_das.c — share of DAS time spent in the SMC machinery (everything but denoiser and reward calls):
 * one DAS run (S = 100, N particles, full gradients) on the GMM-2 toy with (a) the exact mixture denoiser
 * and (b) the trained-size toy MLP (H = 64, untrained weights: the cost is the same). Denoiser and reward
 * calls are timed through wrappers; machinery = total - inside. Prints TSV: model, N, total ms, denoiser+
 * reward ms, machinery ms, machinery fraction.
 * Usage: bench_das [N] [repeats] */
#include <stdio.h>
#include <stdlib.h>

#include "genmix/das.h"

typedef struct {
    gm_denoiser den;
    gm_reward rw;
    double inside;
} timed;

static int t_eps(void *ctx, const float *x, size_t n, int t, float *e) {
    timed *w = ctx;
    double t0 = gm_time_now();
    int rc = w->den.eps(w->den.ctx, x, n, t, e);
    w->inside += gm_time_now() - t0;
    return rc;
}
static int t_vjp(void *ctx, const float *x, size_t n, int t, const float *u, float *e, float *v) {
    timed *w = ctx;
    double t0 = gm_time_now();
    int rc = w->den.eps_vjp(w->den.ctx, x, n, t, u, e, v);
    w->inside += gm_time_now() - t0;
    return rc;
}
static int t_rw(void *ctx, const float *x, size_t n, double *r, float *g) {
    timed *w = ctx;
    double t0 = gm_time_now();
    int rc = w->rw.eval(w->rw.ctx, x, n, r, g);
    w->inside += gm_time_now() - t0;
    return rc;
}

static void run(const char *name, const gm_diff_schedule *sch, gm_denoiser den, gm_reward rw, int N, int reps) {
    double best_total = 1e30, best_in = 0;
    for (int k = 0; k < reps; k++) {
        timed w = {den, rw, 0.0};
        gm_denoiser d2 = {den.dim, t_eps, t_vjp, &w};
        gm_reward r2 = {rw.dim, t_rw, 1, &w};
        gm_das_config c = gm_das_config_default();
        c.n_particles = N;
        c.seed = 1 + (uint64_t)k;
        gm_das *d;
        double t0 = gm_time_now();
        int rc = gm_das_create(&d, &c, sch, &d2, &r2);
        while (rc == GM_OK && !gm_das_done(d)) rc = gm_das_step(d);
        double tot = gm_time_now() - t0;
        gm_das_free(d);
        if (rc != GM_OK) {
            fprintf(stderr, "bench_das: %s\n", gm_last_error());
            exit(1);
        }
        if (tot < best_total) {
            best_total = tot;
            best_in = w.inside;
        }
    }
    printf("%s\t%d\t%.2f\t%.2f\t%.2f\t%.4f\n", name, N, 1e3 * best_total, 1e3 * best_in, 1e3 * (best_total - best_in),
           (best_total - best_in) / best_total);
}

int main(int argc, char **argv) {
    int N = argc > 1 ? atoi(argv[1]) : 1000, reps = argc > 2 ? atoi(argv[2]) : 3;
    if (N < 1 || reps < 1) return 2;
    static gm_diff_schedule sch;
    gm_diff_schedule_init(&sch, GM_BETA_LINEAR, 1000);
    gm_gmm g;
    gm_gmm_toy(&g, "gmm2");
    gm_toy_reward tr;
    gm_toy_reward_parse("gmm2", 2, &tr);
    gm_reward rw = gm_toy_reward_as_reward(&tr);
    gm_diff_mlp *m;
    if (gm_diff_mlp_create(&m, 2, 64, &sch) != GM_OK) return 1;
    gm_diff_mlp_init(m, 1);
    printf("model\tN\ttotal_ms\tdenoiser_reward_ms\tmachinery_ms\tmachinery_fraction\n");
    run("exact-gmm2", &sch, gm_gmm_denoiser(&g, &sch), rw, N, reps);
    run("mlp-h64", &sch, gm_diff_mlp_denoiser(m), rw, N, reps);
    gm_diff_mlp_free(m);
    gm_gmm_free(&g);
    return 0;
}
