/* SPDX-License-Identifier: MIT */
/* bench_das.c — share of DAS time spent in the SMC machinery (everything but denoiser and reward calls):
 * one DAS run (S = 100, N particles, full gradients) on the GMM-2 toy with (a) the exact mixture denoiser
 * and (b) the trained-size toy MLP (H = 64, untrained weights: the cost is the same); optionally (c) the
 * Fashion-MNIST U-Net (C channels, random weights: same cost as trained) with N = 16, S_unet steps and
 * either the classifier reward of a checkpoint (log p(trouser, bag, sneaker | x)) or, without one, a
 * quadratic reward -0.01 |x|^2 (cheaper than any network reward: the machinery share is then an upper
 * bound). Denoiser and reward calls are timed through wrappers; machinery = total - inside. The clock is
 * the process CPU time (run with OMP_NUM_THREADS=1 on a loaded machine). Prints TSV: model, N, total ms,
 * denoiser+reward ms, machinery ms, machinery fraction (best of the repeats by total).
 * Usage: bench_das [N] [repeats] [unet_channels (0: skip)] [unet_steps] [classifier.safetensors] */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "genmix/das.h"

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

typedef struct {
    gm_denoiser den;
    gm_reward rw;
    double inside;
} timed;

static int t_eps(void *ctx, const float *x, size_t n, int t, float *e) {
    timed *w = ctx;
    double t0 = now();
    int rc = w->den.eps(w->den.ctx, x, n, t, e);
    w->inside += now() - t0;
    return rc;
}
static int t_vjp(void *ctx, const float *x, size_t n, int t, const float *u, float *e, float *v) {
    timed *w = ctx;
    double t0 = now();
    int rc = w->den.eps_vjp(w->den.ctx, x, n, t, u, e, v);
    w->inside += now() - t0;
    return rc;
}
static int t_rw(void *ctx, const float *x, size_t n, double *r, float *g) {
    timed *w = ctx;
    double t0 = now();
    int rc = w->rw.eval(w->rw.ctx, x, n, r, g);
    w->inside += now() - t0;
    return rc;
}

static int quad784(void *ctx, const float *x, size_t n, double *r, float *g) {
    (void)ctx;
    for (size_t i = 0; i < n; i++) {
        double s = 0.0;
        for (size_t j = 0; j < 784; j++) {
            s += (double)x[i * 784 + j] * x[i * 784 + j];
            if (g) g[i * 784 + j] = -0.02f * x[i * 784 + j];
        }
        r[i] = -0.01 * s;
    }
    return GM_OK;
}

static void run(const char *name, const gm_diff_schedule *sch, gm_denoiser den, gm_reward rw, int N, int S, int reps) {
    double best_total = 1e30, best_in = 0;
    for (int k = 0; k < reps; k++) {
        timed w = {den, rw, 0.0};
        gm_denoiser d2 = {den.dim, t_eps, t_vjp, &w};
        gm_reward r2 = {rw.dim, t_rw, 1, &w};
        gm_das_config c = gm_das_config_default();
        c.n_particles = N;
        c.n_steps = S;
        c.seed = 1 + (uint64_t)k;
        gm_das *d;
        double t0 = now();
        int rc = gm_das_create(&d, &c, sch, &d2, &r2);
        while (rc == GM_OK && !gm_das_done(d)) rc = gm_das_step(d);
        double tot = now() - t0;
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
    int C = argc > 3 ? atoi(argv[3]) : 0, Su = argc > 4 ? atoi(argv[4]) : 10;
    if (N < 1 || reps < 1 || C < 0 || Su < 1) return 2;
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
    run("exact-gmm2", &sch, gm_gmm_denoiser(&g, &sch), rw, N, 100, reps);
    run("mlp-h64", &sch, gm_diff_mlp_denoiser(m), rw, N, 100, reps);
    gm_diff_mlp_free(m);
    if (C > 0) {
        gm_diff_unet *u;
        if (gm_diff_unet_create(&u, C, &sch) != GM_OK) return 1;
        gm_diff_unet_init(u, 1);
        gm_reward_clf *rc = NULL;
        gm_reward urw = {784, quad784, 1, NULL};
        if (argc > 5 && gm_reward_clf_open(&rc, argv[5], "trouser,bag,sneaker", 784, &urw) != GM_OK) {
            fprintf(stderr, "bench_das: %s\n", gm_last_error());
            return 1;
        }
        char name[64];
        snprintf(name, sizeof name, "unet-c%d-%s-S%d", C, rc ? "clf" : "quad", Su);
        run(name, &sch, gm_diff_unet_denoiser(u), urw, 16, Su, reps);
        gm_reward_clf_free(rc);
        gm_diff_unet_free(u);
    }
    gm_gmm_free(&g);
    return 0;
}
