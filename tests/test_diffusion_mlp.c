/* SPDX-License-Identifier: MIT */
/* test_diffusion_mlp.c — the 2-D toy diffusion model: finite-difference check of the denoiser's input VJP
 * (max and mean criteria), the eps-MSE falling under training, checkpoint round trip and refusal of
 * another model type. (Sampling quality of a fully trained model: docs/das.md, measured via genmix align.) */
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "genmix/diffusion.h"
#include "genmix/models.h"
#include "genmix/rng.h"
#include "gm_test.h"

static gm_diff_schedule sch;

/* Train `steps` Adam steps on gmm2 draws; returns the mean loss of the last 20 steps. */
static double train(gm_diff_mlp *m, int steps, size_t B, uint64_t seed) {
    gm_gmm g;
    gm_gmm_toy(&g, "gmm2");
    enum { P = 4096 };
    float *x = malloc(sizeof(float) * P * 2), *xb = malloc(sizeof(float) * B * 2);
    gm_gmm_sample(&g, P, seed, x);
    gm_rng r;
    gm_rng_init(&r, seed, gm_rng_stream_id(GM_STREAM_DATA, 0));
    double last = 0;
    for (int s = 0; s < steps; s++) {
        for (size_t i = 0; i < B; i++) {
            uint64_t j = gm_rng_below(&r, P);
            xb[i * 2] = x[j * 2];
            xb[i * 2 + 1] = x[j * 2 + 1];
        }
        double loss;
        CHECK_OK(gm_diff_mlp_train_step(m, xb, B, 3e-3f, 0.9f, seed, (uint64_t)s, &loss));
        if (s >= steps - 20) last += loss / 20;
    }
    free(x);
    free(xb);
    gm_gmm_free(&g);
    return last;
}

GM_TEST(test_mlp_training_and_vjp) {
    gm_diff_schedule_init(&sch, GM_BETA_LINEAR, 1000);
    gm_diff_mlp *m;
    CHECK_OK(gm_diff_mlp_create(&m, 2, 32, &sch));
    gm_diff_mlp_init(m, 7);
    double l0 = train(m, 20, 256, 1);
    double l1 = train(m, 400, 256, 2);
    fprintf(stderr, "  eps-MSE: first 20 steps %.4f, after 420 steps %.4f\n", l0, l1);
    CHECK(l1 < 0.75 * l0);
    /* input VJP of the (EMA) denoiser vs central differences of u . eps(x) */
    gm_denoiser den = gm_diff_mlp_denoiser(m);
    enum { n = 16 };
    float x[n * 2], u[n * 2], e[n * 2], v[n * 2], e2[n * 2];
    gm_rng r;
    gm_rng_init(&r, 3, 0);
    gm_rng_normal_fill(&r, x, n * 2);
    gm_rng_normal_fill(&r, u, n * 2);
    double maxe = 0, sume = 0;
    const int ts[3] = {10, 300, 900};
    for (int ti = 0; ti < 3; ti++) {
        CHECK_OK(den.eps_vjp(den.ctx, x, n, ts[ti], u, e, v));
        CHECK_OK(den.eps(den.ctx, x, n, ts[ti], e2));
        CHECK(memcmp(e, e2, sizeof e) == 0);
        for (int i = 0; i < n; i++)
            for (int j = 0; j < 2; j++) {
                const float h = 1e-3f;
                float xp[2] = {x[i * 2], x[i * 2 + 1]}, xm[2] = {x[i * 2], x[i * 2 + 1]}, ep[2], em[2];
                xp[j] += h;
                xm[j] -= h;
                den.eps(den.ctx, xp, 1, ts[ti], ep);
                den.eps(den.ctx, xm, 1, ts[ti], em);
                double fd = ((double)u[i * 2] * (double)(ep[0] - em[0]) + (double)u[i * 2 + 1] * (double)(ep[1] - em[1])) /
                            ((double)xp[j] - (double)xm[j]);
                double err = fabs(fd - (double)v[i * 2 + j]) / (1.0 + fabs(fd));
                maxe = fmax(maxe, err);
                sume += err;
            }
    }
    fprintf(stderr, "  mlp vjp: max rel err %.2e, mean %.2e\n", maxe, sume / (3 * n * 2));
    /* float network, h = 1e-3: measured max 8.5e-3 (a ReLU breakpoint inside [x-h, x+h]), mean 1.3e-4 */
    CHECK(maxe < 2e-2);
    CHECK(sume / (3 * n * 2) < 1e-3);

    /* checkpoint round trip: same eps bits; another model type is refused */
    char path[96]; /* /tmp, not build/: the test also runs from trees whose build folder is elsewhere */
    snprintf(path, sizeof path, "/tmp/gm_test_diffusion_mlp_%ld.safetensors", (long)getpid());
    CHECK_OK(gm_diff_mlp_save(m, path, 420, 7, "toy:gmm2"));
    gm_diff_mlp *m2;
    CHECK_OK(gm_diff_mlp_load(&m2, path, &sch));
    CHECK(strcmp(gm_diff_mlp_data(m2), "toy:gmm2") == 0);
    gm_denoiser den2 = gm_diff_mlp_denoiser(m2);
    float e3[n * 2];
    CHECK_OK(den2.eps(den2.ctx, x, n, 300, e3));
    CHECK_OK(den.eps(den.ctx, x, n, 300, e2));
    CHECK(memcmp(e2, e3, sizeof e2) == 0);
    gm_diff_mlp_free(m2);
    gm_params p;
    gm_params_init(&p);
    int64_t sh[1] = {3};
    gm_params_add(&p, "w", 1, sh);
    CHECK_OK(gm_params_alloc(&p));
    gm_checkpoint_meta meta;
    memset(&meta, 0, sizeof meta);
    meta.model = "classifier";
    meta.config = "{}";
    CHECK_OK(gm_checkpoint_save(path, &p, NULL, &meta));
    CHECK_RC(gm_diff_mlp_load(&m2, path, &sch), GM_EFORMAT);
    CHECK(strstr(gm_last_error(), "classifier") != NULL);
    gm_params_free(&p);
    remove(path);
    gm_diff_mlp_free(m);
}

GM_TEST_MAIN({"mlp_training_and_vjp", test_mlp_training_and_vjp})
