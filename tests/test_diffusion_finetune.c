/* SPDX-License-Identifier: MIT */
/* test_diffusion_finetune.c — KL-regularised reward fine-tuning through the DDPM chain (gm_diff_ft_*):
 * central-difference check of the whole batch loss w.r.t. every parameter (max and mean criteria); closed
 * forms (phi = theta with a zero reward: loss and gradient exactly 0; phi = theta + a shift delta of the
 * output bias: KL = sum_i c2_i^2 |delta|^2 / (2 sigma_i^2) and its bias gradient); a short run on gmm2
 * raising E[r] on a fixed held-out batch; bitwise identical parameters for 1 and 2 threads; bad input. */
#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "genmix/das.h"
#include "genmix/diffusion.h"
#include "genmix/rng.h"
#include "gm_test.h"

static gm_diff_schedule sch;

/* Is slab index i a real parameter of the toy MLP (2+1 -> H -> H -> 2)? Each tensor starts 16-float
 * aligned in the slab (gm_params_add); the padding floats are not parameters. */
static int is_param(size_t i, int H, size_t *last_bias) {
    const size_t sz[6] = {3 * (size_t)H, (size_t)H, (size_t)H * (size_t)H, (size_t)H, 2 * (size_t)H, 2};
    size_t off = 0;
    int in = 0;
    for (int k = 0; k < 6; k++) {
        if (i >= off && i < off + sz[k]) in = 1;
        if (k == 5 && last_bias) *last_bias = off;
        off += (sz[k] + 15) & ~(size_t)15;
    }
    return in;
}

/* A base toy model: hidden H, trained `steps` Adam steps on gmm2 draws (0 = random init). */
static gm_diff_mlp *base_model(int H, int steps) {
    gm_diff_mlp *m;
    if (gm_diff_mlp_create(&m, 2, H, &sch) != GM_OK) return NULL;
    gm_diff_mlp_init(m, 11);
    gm_gmm g;
    gm_gmm_toy(&g, "gmm2");
    enum { P = 4096, B = 256 };
    float *x = malloc(sizeof(float) * P * 2), *xb = malloc(sizeof(float) * B * 2);
    gm_gmm_sample(&g, P, 5, x);
    gm_rng r;
    gm_rng_init(&r, 5, gm_rng_stream_id(GM_STREAM_DATA, 0));
    for (int s = 0; s < steps; s++) {
        for (size_t i = 0; i < B; i++) {
            uint64_t j = gm_rng_below(&r, P);
            xb[i * 2] = x[j * 2];
            xb[i * 2 + 1] = x[j * 2 + 1];
        }
        double loss;
        gm_diff_mlp_train_step(m, xb, B, 3e-3f, 0.0f, 5, (uint64_t)s, &loss); /* ema 0: EMA = weights */
    }
    free(x);
    free(xb);
    gm_gmm_free(&g);
    return m;
}

GM_TEST(test_ft_gradcheck) {
    gm_diff_schedule_init(&sch, GM_BETA_LINEAR, 1000);
    omp_set_num_threads(1);
    gm_diff_mlp *base = base_model(8, 200); /* trained a little: x_0 of moderate size */
    CHECK(base != NULL);
    gm_toy_reward toy;
    CHECK_OK(gm_toy_reward_parse("gmm2", 2, &toy));
    gm_reward rw = gm_toy_reward_as_reward(&toy);
    gm_diff_ft_config c = gm_diff_ft_config_default();
    c.alpha = 0.5;
    c.n_steps = 4;
    c.batch = 8;
    c.seed = 3;
    gm_diff_ft *f;
    CHECK_OK(gm_diff_ft_create(&f, &c, base, rw.eval, rw.ctx));
    size_t n;
    float *p = gm_diff_ft_params(f, &n);
    /* move phi away from theta so the KL term and its gradient are not zero */
    gm_rng r;
    gm_rng_init(&r, 9, 0);
    for (size_t i = 0; i < n; i++) p[i] += 0.01f * (float)gm_rng_normal(&r);
    float *g = malloc(n * sizeof *g);
    double l0;
    CHECK_OK(gm_diff_ft_loss(f, 2, &l0, g));
    CHECK(gm_diff_ft_last(f)->kl > 0);
    /* the chain is float32 and stiff (the last step's sigma^2 is ~1e-4, so the loss curves sharply): errors
     * are relative to |fd| + 1 % of the largest gradient component, the float noise floor of the differences */
    double gscale = 0;
    for (size_t i = 0; i < n; i++) gscale = fmax(gscale, fabs((double)g[i]));
    gscale *= 1e-2;
    double maxe = 0, sume = 0, gmax = 0;
    size_t np = 0, worst = 0;
    for (size_t i = 0; i < n; i++) {
        if (!is_param(i, 8, NULL)) {
            CHECK(g[i] == 0.0f);
            continue;
        }
        np++;
        const float h = 1e-4f;
        /* five-point stencil (error O(h^4)): the loss curves sharply, see above */
        float keep = p[i];
        double lv[4];
        const float off[4] = {2 * h, h, -h, -2 * h};
        for (int k = 0; k < 4; k++) {
            p[i] = keep + off[k];
            CHECK_OK(gm_diff_ft_loss(f, 2, &lv[k], NULL));
        }
        p[i] = keep;
        double fd = (8.0 * (lv[1] - lv[2]) - (lv[0] - lv[3])) / (12.0 * (double)h);
        double err = fabs(fd - (double)g[i]) / (gscale + fabs(fd));
        if (err > maxe) worst = i;
        maxe = fmax(maxe, err);
        sume += err;
        gmax = fmax(gmax, fabs((double)g[i]));
    }
    fprintf(stderr, "  loss %.5f, %zu params, |grad|max %.3f: FD rel err max %.2e (index %zu) mean %.2e\n", l0, np, gmax, maxe, worst,
            sume / (double)np);
    CHECK(gmax > 0.1);
    /* measured: max 1.4e-2, mean 1.5e-3 (a wrong step coefficient or a missing KL factor gives O(1)) */
    CHECK(maxe < 5e-2);
    CHECK(sume / (double)np < 5e-3);
    free(g);
    gm_diff_ft_free(f);
    gm_diff_mlp_free(base);
}

GM_TEST(test_ft_closed_form) {
    gm_diff_schedule_init(&sch, GM_BETA_LINEAR, 1000);
    gm_diff_mlp *base = base_model(8, 0);
    gm_toy_reward zero;
    CHECK_OK(gm_toy_reward_parse("linear:0,0", 2, &zero));
    gm_reward rw = gm_toy_reward_as_reward(&zero);
    gm_diff_ft_config c = gm_diff_ft_config_default();
    c.n_steps = 10;
    c.batch = 16;
    gm_diff_ft *f;
    CHECK_OK(gm_diff_ft_create(&f, &c, base, rw.eval, rw.ctx));
    size_t n;
    float *p = gm_diff_ft_params(f, &n);
    float *g = malloc(n * sizeof *g);
    /* phi = theta, r = 0: the KL part is exactly 0 with exactly zero gradient */
    double l;
    CHECK_OK(gm_diff_ft_loss(f, 0, &l, g));
    CHECK(l == 0.0);
    int nz = 0;
    for (size_t i = 0; i < n; i++) nz += g[i] != 0.0f;
    CHECK(nz == 0);
    /* phi = theta + delta on the output bias: eps_phi - eps_theta = delta everywhere */
    const double d0 = 0.3, d1 = -0.2;
    size_t ob = 0;
    is_param(0, 8, &ob);
    p += ob + 2 - n; /* p[n - 2], p[n - 1] are the two output biases below */
    float *gb = g + ob + 2 - n;
    p[n - 2] += (float)d0;
    p[n - 1] += (float)d1;
    double dd0 = (double)p[n - 2] - (double)(p[n - 2] - (float)d0), dd1 = (double)p[n - 1] - (double)(p[n - 1] - (float)d1);
    int t[10];
    CHECK_OK(gm_diff_timesteps(&sch, 10, GM_SPACING_LEADING, t));
    double w = 0; /* sum_i c2_i^2 / sigma_i^2 */
    for (int i = 0; i < 10; i++) {
        double ab = gm_diff_abar(&sch, t[i]), abp = gm_diff_abar(&sch, i + 1 < 10 ? t[i + 1] : -1);
        double s2 = gm_diff_sigma2(ab, abp, 1.0);
        /* mean of the step as a function of eps^: sqrt(abp) (x - sqrt(1-ab) e)/sqrt(ab) + sqrt(1-abp-s2) e */
        double c2 = sqrt(1.0 - abp - s2) - sqrt(abp) * sqrt(1.0 - ab) / sqrt(ab);
        w += c2 * c2 / s2;
    }
    CHECK_OK(gm_diff_ft_loss(f, 0, &l, g));
    double want = 0.5 * w * (dd0 * dd0 + dd1 * dd1);
    fprintf(stderr, "  bias shift: KL %.6f (closed form %.6f), dL/db %.5f %.5f (closed form %.5f %.5f)\n", l, want,
            (double)gb[n - 2], (double)gb[n - 1], w * dd0, w * dd1);
    CHECK(fabs(l - want) < 1e-4 * want);
    CHECK(fabs((double)gb[n - 2] - w * dd0) < 1e-4 * w);
    CHECK(fabs((double)gb[n - 1] - w * dd1) < 1e-4 * w);
    free(g);
    gm_diff_ft_free(f);
    gm_diff_mlp_free(base);
}

/* Train `epochs` epochs; returns phi (malloc'd copy). */
static float *run_ft(gm_diff_mlp *base, const gm_reward *rw, int epochs, double *r_before, double *r_after, size_t *np) {
    gm_diff_ft_config c = gm_diff_ft_config_default();
    c.n_steps = 20;
    c.batch = 64;
    c.epochs = epochs;
    c.lr = 2e-3;
    c.seed = 1;
    gm_diff_ft *f;
    if (gm_diff_ft_create(&f, &c, base, rw->eval, rw->ctx) != GM_OK) return NULL;
    const uint64_t held_out = 1000000; /* a batch never used for training */
    CHECK_OK(gm_diff_ft_loss(f, held_out, NULL, NULL));
    *r_before = gm_diff_ft_last(f)->mean_r;
    while (!gm_diff_ft_done(f)) CHECK_OK(gm_diff_ft_step(f));
    CHECK(gm_diff_ft_step(f) == GM_EINVAL); /* finished */
    CHECK_OK(gm_diff_ft_loss(f, held_out, NULL, NULL));
    *r_after = gm_diff_ft_last(f)->mean_r;
    size_t n;
    float *p = gm_diff_ft_params(f, &n), *cp = malloc(n * sizeof *cp);
    memcpy(cp, p, n * sizeof *cp);
    *np = n;
    gm_diff_ft_free(f);
    return cp;
}

GM_TEST(test_ft_short_run_threads) {
    gm_diff_schedule_init(&sch, GM_BETA_LINEAR, 1000);
    int nthreads = omp_get_max_threads();
    omp_set_num_threads(1);
    gm_diff_mlp *base = base_model(32, 300);
    CHECK(base != NULL);
    gm_toy_reward toy;
    CHECK_OK(gm_toy_reward_parse("gmm2", 2, &toy));
    gm_reward rw = gm_toy_reward_as_reward(&toy);
    double b1, a1, b2, a2;
    size_t n1, n2;
    float *p1 = run_ft(base, &rw, 30, &b1, &a1, &n1);
    omp_set_num_threads(2);
    float *p2 = run_ft(base, &rw, 30, &b2, &a2, &n2);
    omp_set_num_threads(nthreads);
    fprintf(stderr, "  gmm2, alpha 1, 30 epochs: held-out E[r] %.3f -> %.3f\n", b1, a1);
    /* measured -6.32 -> -2.99 (S = 20 base on this held-out batch); required: a rise of more than 2.5 */
    CHECK(b1 < -5.0);
    CHECK(a1 > b1 + 2.5);
    CHECK(n1 == n2 && p1 && p2 && memcmp(p1, p2, n1 * sizeof *p1) == 0);
    CHECK(a1 == a2 && b1 == b2);
    free(p1);
    free(p2);
    gm_diff_mlp_free(base);
}

static int nan_reward(void *ctx, const float *x, size_t n, double *r, float *grad) {
    (void)ctx;
    (void)x;
    for (size_t i = 0; i < n; i++) r[i] = NAN;
    if (grad) memset(grad, 0, n * 2 * sizeof *grad);
    return GM_OK;
}

GM_TEST(test_ft_bad_input) {
    gm_diff_schedule_init(&sch, GM_BETA_LINEAR, 1000);
    gm_diff_mlp *base = base_model(4, 0);
    gm_toy_reward toy;
    CHECK_OK(gm_toy_reward_parse("gmm2", 2, &toy));
    gm_reward rw = gm_toy_reward_as_reward(&toy);
    gm_diff_ft *f = (gm_diff_ft *)&toy;
    gm_diff_ft_config c = gm_diff_ft_config_default();
    c.alpha = 0;
    CHECK(gm_diff_ft_create(&f, &c, base, rw.eval, rw.ctx) == GM_EINVAL && f == NULL);
    CHECK(strstr(gm_last_error(), "alpha") != NULL);
    c.alpha = -1;
    CHECK(gm_diff_ft_create(&f, &c, base, rw.eval, rw.ctx) == GM_EINVAL);
    c.alpha = NAN;
    CHECK(gm_diff_ft_create(&f, &c, base, rw.eval, rw.ctx) == GM_EINVAL);
    c = gm_diff_ft_config_default();
    c.batch = 0;
    CHECK(gm_diff_ft_create(&f, &c, base, rw.eval, rw.ctx) == GM_EINVAL);
    c = gm_diff_ft_config_default();
    c.n_steps = 1001;
    CHECK(gm_diff_ft_create(&f, &c, base, rw.eval, rw.ctx) == GM_EINVAL);
    c = gm_diff_ft_config_default();
    CHECK(gm_diff_ft_create(&f, &c, NULL, rw.eval, rw.ctx) == GM_EINVAL);
    CHECK(gm_diff_ft_create(&f, &c, base, NULL, NULL) == GM_EINVAL);
    /* a NaN reward is a numerical failure, not a silent update */
    c.n_steps = 3;
    c.batch = 4;
    CHECK_OK(gm_diff_ft_create(&f, &c, base, nan_reward, NULL));
    CHECK(gm_diff_ft_step(f) == GM_ENUMERIC);
    CHECK(gm_diff_ft_epoch(f) == 0);
    gm_diff_ft_free(f);
    /* another model type: the checkpoint loader refuses it (genmix train ddpm-finetune exits 2) */
    char path[] = "/tmp/gm_ft_XXXXXX";
    int fd = mkstemp(path);
    CHECK(fd >= 0);
    close(fd);
    gm_diff_unet *u;
    CHECK_OK(gm_diff_unet_create(&u, 4, &sch));
    CHECK_OK(gm_diff_unet_save(u, path, 0, 0, "fashion-mnist"));
    gm_diff_mlp *m2 = NULL;
    CHECK(gm_diff_mlp_load(&m2, path, &sch) == GM_EFORMAT && m2 == NULL);
    unlink(path);
    gm_diff_unet_free(u);
    gm_diff_mlp_free(base);
}

GM_TEST_MAIN({"ft_gradcheck", test_ft_gradcheck}, {"ft_closed_form", test_ft_closed_form},
             {"ft_short_run_threads", test_ft_short_run_threads}, {"ft_bad_input", test_ft_bad_input})
