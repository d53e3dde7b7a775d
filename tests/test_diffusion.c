/* SPDX-License-Identifier: MIT */
/* test_diffusion.c — schedules, timesteps, the exact GMM denoiser (finite-difference VJP check) and the
 * DDPM/DDIM samplers on exactly known targets.
 *
 * Gaussian target: the exact denoiser is affine in x, so the S-step sampler's output is Gaussian with a
 * mean/variance given by a per-dimension recursion (mean' = a mean + b, var' = a^2 var + sigma^2). The
 * Monte-Carlo samples must match that recursion (4 SE), and the recursion at S = T = 1000 must match the
 * target itself (discretisation). */
#include <math.h>
#include <string.h>

#include "genmix/diffusion.h"
#include "gm_test.h"

static gm_diff_schedule sch_lin, sch_cos;
static void init_sch(void) {
    if (sch_lin.T == 0) gm_diff_schedule_init(&sch_lin, GM_BETA_LINEAR, 1000);
}

GM_TEST(test_schedules) {
    CHECK_OK(gm_diff_schedule_init(&sch_lin, GM_BETA_LINEAR, 1000));
    CHECK_NEAR(sch_lin.alpha_bar[0], 0.9999, 1e-12, 0);
    CHECK_NEAR(sch_lin.alpha_bar[999], 4.0358e-5, 1e-3, 0); /* the DDPM linear schedule's final abar */
    CHECK_OK(gm_diff_schedule_init(&sch_cos, GM_BETA_COSINE, 1000));
    int mono = 1;
    for (int t = 1; t < 1000; t++) mono &= sch_cos.alpha_bar[t] < sch_cos.alpha_bar[t - 1];
    CHECK(mono);
    /* f(t)/f(0) with s = 0.008 at t = T/2 */
    double pi = 3.14159265358979323846, f0 = cos(0.008 / 1.008 * pi / 2), fh = cos(0.508 / 1.008 * pi / 2);
    CHECK_NEAR(sch_cos.alpha_bar[499], fh * fh / (f0 * f0), 1e-9, 0);
    int t[100];
    CHECK_OK(gm_diff_timesteps(&sch_lin, 100, GM_SPACING_LEADING, t));
    CHECK_INT_EQ(t[0], 991);
    CHECK_INT_EQ(t[99], 1);
    CHECK(gm_diff_sigma2(gm_diff_abar(&sch_lin, 1), gm_diff_abar(&sch_lin, -9), 1.0) > 0.0);
    CHECK_OK(gm_diff_timesteps(&sch_lin, 100, GM_SPACING_LINSPACE, t));
    CHECK_INT_EQ(t[0], 999);
    CHECK_INT_EQ(t[99], 0);
    CHECK(gm_diff_sigma2(gm_diff_abar(&sch_lin, 0), gm_diff_abar(&sch_lin, -1), 1.0) == 0.0);
    /* DDIM variance (spec das.md §2): eta^2 (1 - ab') / (1 - ab) (1 - ab / ab'); ab = 0.5, ab' = 0.8 by hand:
     * 0.4 * 0.375 = 0.15 at eta = 1, a quarter of it at eta = 0.5, 0 at eta = 0 */
    CHECK_NEAR(gm_diff_sigma2(0.5, 0.8, 1.0), 0.15, 1e-14, 0);
    CHECK_NEAR(gm_diff_sigma2(0.5, 0.8, 0.5), 0.0375, 1e-14, 0);
    CHECK(gm_diff_sigma2(0.5, 0.8, 0.0) == 0.0);
    int t3[300];
    CHECK_OK(gm_diff_timesteps(&sch_lin, 300, GM_SPACING_LEADING, t3)); /* any S */
    CHECK_INT_EQ(t3[0], 997);
    CHECK_INT_EQ(t3[299], 1);
    int dec = 1;
    for (int i = 1; i < 300; i++) dec &= t3[i] < t3[i - 1];
    CHECK(dec);
    CHECK_RC(gm_diff_timesteps(&sch_lin, 1001, GM_SPACING_LEADING, t), GM_EINVAL);
    CHECK_RC(gm_diff_schedule_init(&sch_cos, GM_BETA_LINEAR, 0), GM_EINVAL);
    CHECK_OK(gm_diff_schedule_init(&sch_cos, GM_BETA_COSINE, 1000));
}

/* J^T u of the exact GMM denoiser against central differences of u . eps^(x). */
GM_TEST(test_gmm_denoiser_vjp) {
    init_sch();
    gm_gmm g;
    CHECK_OK(gm_gmm_toy(&g, "gmm2"));
    g.var[3] = 0.7; /* make one component anisotropic */
    gm_denoiser den = gm_gmm_denoiser(&g, &sch_lin);
    const int ts[4] = {5, 100, 400, 900};
    double max_err = 0, sum_err = 0;
    int cnt = 0;
    for (int ti = 0; ti < 4; ti++)
        for (int p = 0; p < 8; p++) {
            float x[2] = {(float)(3.0 * cos(p * 0.9) * sqrt(gm_diff_abar(&sch_lin, ts[ti]))), (float)(2.5 * sin(p * 1.3))};
            float u[2] = {(float)(0.3 + 0.1 * p), (float)(-0.7 + 0.05 * p)}, e[2], v[2];
            CHECK_OK(den.eps_vjp(den.ctx, x, 1, ts[ti], u, e, v));
            float e2[2];
            CHECK_OK(den.eps(den.ctx, x, 1, ts[ti], e2));
            CHECK(e2[0] == e[0] && e2[1] == e[1]);
            for (int j = 0; j < 2; j++) {
                const double h = 1e-2;
                float xp[2] = {x[0], x[1]}, xm[2] = {x[0], x[1]}, ep[2], em[2];
                xp[j] += (float)h;
                xm[j] -= (float)h;
                den.eps(den.ctx, xp, 1, ts[ti], ep);
                den.eps(den.ctx, xm, 1, ts[ti], em);
                double fd = ((double)u[0] * (double)(ep[0] - em[0]) + (double)u[1] * (double)(ep[1] - em[1])) / ((double)xp[j] - (double)xm[j]);
                double err = fabs(fd - (double)v[j]) / (1.0 + fabs(fd));
                if (err > max_err) max_err = err;
                sum_err += err;
                cnt++;
            }
        }
    fprintf(stderr, "  gmm vjp: max rel err %.2e, mean %.2e\n", max_err, sum_err / cnt);
    CHECK(max_err < 5e-3);
    CHECK(sum_err / cnt < 1e-3);
    gm_gmm_free(&g);
}

GM_TEST(test_sampler_gaussian_target) {
    init_sch();
    gm_gmm g;
    CHECK_OK(gm_gmm_init(&g, 1, 2));
    g.weight[0] = 1.0;
    g.mean[0] = 1.0;
    g.mean[1] = -2.0;
    g.var[0] = 0.5;
    g.var[1] = 2.0;
    gm_denoiser den = gm_gmm_denoiser(&g, &sch_lin);
    struct {
        int S;
        double eta;
        gm_spacing sp;
    } cases[4] = {{1000, 1.0, GM_SPACING_LEADING}, {100, 1.0, GM_SPACING_LEADING}, {50, 0.0, GM_SPACING_LEADING},
                  {20, 0.5, GM_SPACING_LINSPACE}};
    enum { n = 10000 };
    float *x = malloc(sizeof(float) * n * 2);
    for (int c = 0; c < 4; c++) {
        CHECK_OK(gm_diff_sample(&sch_lin, &den, cases[c].S, cases[c].eta, cases[c].sp, n, 11 + c, x));
        for (int j = 0; j < 2; j++) {
            double em, ev;
            CHECK_OK(gm_diff_gauss_marginal(&sch_lin, cases[c].S, cases[c].eta, cases[c].sp, g.mean[j], g.var[j], &em, &ev));
            double s = 0, s2 = 0;
            for (int i = 0; i < n; i++) s += (double)x[i * 2 + j];
            s /= n;
            for (int i = 0; i < n; i++) s2 += ((double)x[i * 2 + j] - s) * ((double)x[i * 2 + j] - s);
            s2 /= n - 1;
            fprintf(stderr, "  S=%d eta=%.1f dim %d: mean %.4f (exact %.4f, target %.1f) var %.4f (exact %.4f, target %.1f)\n",
                    cases[c].S, cases[c].eta, j, s, em, g.mean[j], s2, ev, g.var[j]);
            CHECK_NEAR(s, em, 0, 4 * sqrt(ev / n));
            CHECK_NEAR(s2, ev, 0, 4 * ev * sqrt(2.0 / (n - 1)));
            if (cases[c].S == 1000) { /* the full-length chain reproduces the target itself */
                CHECK_NEAR(em, g.mean[j], 0, 2e-3);
                CHECK_NEAR(ev, g.var[j], 0.02, 0); /* 1000-step DDPM: ~1% under-dispersed */
            }
        }
    }
    free(x);
    gm_gmm_free(&g);
}

/* GMM-2 target, 1000-step DDPM with the exact denoiser: equal mode weights (4 SE), within-mode variance 0.3. */
GM_TEST(test_sampler_gmm_modes) {
    init_sch();
    gm_gmm g;
    CHECK_OK(gm_gmm_toy(&g, "gmm2"));
    gm_denoiser den = gm_gmm_denoiser(&g, &sch_lin);
    enum { n = 4000, nt = 40000 }; /* nt rows: above the OpenMP threshold */
    float *x = malloc(sizeof(float) * nt * 2), *x2 = malloc(sizeof(float) * nt * 2);
    int *comp = malloc(sizeof(int) * n);
    gm_test_set_threads(2);
    CHECK_OK(gm_diff_sample(&sch_lin, &den, 1000, 1.0, GM_SPACING_LEADING, n, 3, x));
    gm_gmm_assign(&g, x, n, comp);
    int cnt[8] = {0};
    double vr = 0;
    for (int i = 0; i < n; i++) {
        cnt[comp[i]]++;
        double dx = (double)x[i * 2] - g.mean[comp[i] * 2];
        vr += dx * dx;
    }
    for (int c = 0; c < 8; c++) CHECK_NEAR(cnt[c] / (double)n, 0.125, 0, 4 * sqrt(0.125 * 0.875 / n));
    fprintf(stderr, "  gmm2 S=1000: within-mode var(x) %.4f (target 0.3)\n", vr / n);
    CHECK_NEAR(vr / n, 0.3, 0.06, 0); /* 4 SE (0.027) + ~1% discretisation */
    /* thread invariance: 1 thread gives the same bits on a shorter run */
    CHECK_OK(gm_diff_sample(&sch_lin, &den, 4, 1.0, GM_SPACING_LEADING, nt, 4, x));
    gm_test_set_threads(1);
    CHECK_OK(gm_diff_sample(&sch_lin, &den, 4, 1.0, GM_SPACING_LEADING, nt, 4, x2));
    gm_test_set_threads(2);
    CHECK(memcmp(x, x2, sizeof(float) * nt * 2) == 0);
    free(x);
    free(x2);
    free(comp);
    gm_gmm_free(&g);
}

GM_TEST(test_sampler_bad_input) {
    init_sch();
    gm_gmm g;
    CHECK_RC(gm_gmm_toy(&g, "gmm9"), GM_EINVAL);
    CHECK(strstr(gm_last_error(), "gmm9") != NULL);
    CHECK_OK(gm_gmm_toy(&g, "gmm1"));
    gm_denoiser den = gm_gmm_denoiser(&g, &sch_lin);
    gm_diff_sampler *s;
    CHECK_RC(gm_diff_sampler_create(&s, &sch_lin, &den, 100, 1.5, GM_SPACING_LEADING, 4, 1), GM_EINVAL);
    CHECK_RC(gm_diff_sampler_create(&s, &sch_lin, &den, 0, 1.0, GM_SPACING_LEADING, 4, 1), GM_EINVAL);
    CHECK_RC(gm_diff_sampler_create(&s, &sch_lin, &den, 10, 1.0, GM_SPACING_LEADING, 0, 1), GM_EINVAL);
    for (long nth = 1; nth < 10; nth++) {
        gm_alloc_fail_nth(nth, 0);
        int rc = gm_diff_sampler_create(&s, &sch_lin, &den, 10, 1.0, GM_SPACING_LEADING, 4, 1);
        while (rc == GM_OK && !gm_diff_sampler_done(s)) rc = gm_diff_sampler_step(s);
        CHECK(rc == GM_OK || rc == GM_ENOMEM);
        if (s) gm_diff_sampler_free(s);
        s = NULL;
    }
    gm_alloc_fail_nth(0, 0);
    gm_gmm_free(&g);
}

GM_TEST_MAIN({"schedules", test_schedules}, {"gmm_denoiser_vjp", test_gmm_denoiser_vjp},
             {"sampler_gaussian_target", test_sampler_gaussian_target}, {"sampler_gmm_modes", test_sampler_gmm_modes},
             {"sampler_bad_input", test_sampler_bad_input})
