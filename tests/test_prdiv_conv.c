/* SPDX-License-Identifier: MIT */
/* test_prdiv_gan_conv.c — the Fashion-MNIST conv PR-GAN (src/prdiv/prdiv_gan_conv.c, gm_cgan_*):
 *   - PyTorch golden (tests/golden/prdiv_conv_golden.npz from tools/gen_prdiv_conv_golden.py, torch 1.13 CPU
 *     float32): generator forward/backward (output, dz, every parameter gradient), critic forward/backward
 *     with spectral norm (output, dx, gradients, updated SN vectors), and one full PR-GAN iteration (2 χ²
 *     critic steps + the PR generator step at λ = 2, Adam β1 = 0): losses, α̂/β̂, every updated tensor and
 *     the gradients of the generator step and of the last critic step, each within 1e-5 of the tensor's scale (max |a − b| / max |b|);
 *   - bitwise resume (3 + 3 steps through a checkpoint = 6 steps), a fine-tuned model's objective survives
 *     its checkpoint, samples in [0, 1] and reproducible by stream; training rows are the images mapped to
 *     2x − 1; the EMA is a copy of G up to ema_start steps and an average after;
 *   - the PR loss at λ = 100 gives no fake a gradient on a fresh critic, so G stays bitwise unchanged while
 *     the critic moves (spec §2.2);
 *   - bad input: λ <= 0, groups not dividing the width, no data, a checkpoint of another model.
 * The allocation-failure sweep is test_alloc_sweep_gan_conv_slow.c. */
#include "gm_test.h"
#include "genmix/io.h"
#include "genmix/models.h"
#include "genmix/prdiv.h"
#include "../src/prdiv/prdiv_internal.h"
#include "gm_npz_fixture.h"

#include <stdio.h>
#include <unistd.h>

#define GOLDEN "tests/golden/prdiv_conv_golden.npz"

static float *npz(const char *name, size_t *n) { return gm_npz_fixture_f32(GOLDEN, name, n); }

/* max |a − b| <= 1e-5 max |b| (floor 1e-6 for tensors that are all ~0) against fixture `name` of n floats */
static void close_to(const char *what, const float *a, const char *name, size_t n) {
    size_t m = 0;
    float *b = npz(name, &m);
    CHECK(b && m == n);
    if (!b || m != n) {
        free(b);
        return;
    }
    double mx = 0, d = 0;
    for (size_t i = 0; i < n; i++) mx = fmax(mx, fabs((double)b[i]));
    for (size_t i = 0; i < n; i++) d = fmax(d, fabs((double)a[i] - (double)b[i]));
    double rel = d / fmax(mx, 1e-6);
    printf("  %-26s max err / scale %.2e (scale %.3g)\n", what, rel, mx);
    CHECK(rel <= 1e-5);
    free(b);
}

static const char *gnames[] = {"fc.weight", "fc.bias", "gn0.weight", "gn0.bias", "ct1.weight",
                               "ct1.bias",  "gn1.weight", "gn1.bias", "ct2.weight", "ct2.bias"};
static const char *dnames[] = {"c0.weight", "c0.bias", "c1.weight", "c1.bias", "fc.weight", "fc.bias",
                               "c0.sn_u",   "c1.sn_u", "fc.sn_u"};

static float *tensor(gm_params *P, const char *name, float **grad, size_t *n) {
    long i = gm_params_find(P, name);
    CHECK(i >= 0);
    if (i < 0) return NULL;
    *n = P->info[i].n;
    if (grad) *grad = P->grad + P->info[i].offset;
    return P->val + P->info[i].offset;
}

/* a gm_cgan of the fixture's configuration with the fixture's weights and SN vectors */
static gm_cgan *golden_gan(size_t *B, size_t *ND) {
    size_t nc = 0;
    float *cf = npz("cfg", &nc);
    if (!cf || nc != 8) {
        free(cf);
        return NULL;
    }
    gm_cgan_config c = gm_cgan_config_default();
    c.dim_z = (size_t)cf[0], c.g_width = (size_t)cf[1], c.d_width = (size_t)cf[2], c.groups = (size_t)cf[3];
    c.batch = *B = (size_t)cf[4], c.n_critic = *ND = (size_t)cf[5], c.lambda = cf[6], c.lr_g = c.lr_d = cf[7];
    free(cf);
    gm_cgan *g = NULL;
    CHECK_OK(gm_cgan_create(&g, &c));
    if (!g) return NULL;
    gm_params *P = gm__cgan_params(g);
    char key[64];
    for (int net = 0; net < 2; net++)
        for (size_t j = 0; j < (net ? 9u : 10u); j++) {
            snprintf(key, sizeof key, "%s.%s", net ? "D" : "G", net ? dnames[j] : gnames[j]);
            size_t n = 0, m = 0;
            float *p = tensor(P, key, NULL, &n), *w = npz(key, &m);
            CHECK(p && w && n == m);
            if (p && w && n == m) memcpy(p, w, n * sizeof(float));
            free(w);
        }
    return g;
}

GM_TEST(test_conv_golden_generator) {
    size_t B, ND, nz, nd;
    gm_cgan *g = golden_gan(&B, &ND);
    float *z = npz("z", &nz), *dout = npz("g.dout", &nd);
    if (!g || !z || !dout) goto out;
    size_t Z = gm_cgan_get_config(g)->dim_z;
    float *x = malloc(B * 784 * sizeof(float)), *dz = malloc(B * Z * sizeof(float));
    CHECK(nd == B * 784);
    CHECK_OK(gm__cgan_fwd_bwd(g, 0, z, B, dout, x, dz));
    close_to("G(z)", x, "g.out", B * 784);
    close_to("dL/dz", dz, "g.dz", B * Z);
    char key[64], what[64];
    for (size_t j = 0; j < 10; j++) {
        size_t n = 0;
        float *gr = NULL;
        snprintf(key, sizeof key, "G.%s", gnames[j]);
        tensor(gm__cgan_params(g), key, &gr, &n);
        snprintf(key, sizeof key, "g.d.%s", gnames[j]);
        snprintf(what, sizeof what, "dG.%s", gnames[j]);
        if (gr) close_to(what, gr, key, n);
    }
    free(x);
    free(dz);
out:
    free(z);
    free(dout);
    gm_cgan_free(g);
}

GM_TEST(test_conv_golden_critic) {
    size_t B, ND, nx, nd;
    gm_cgan *g = golden_gan(&B, &ND);
    float *xr = npz("xr", &nx), *dout = npz("d.dout", &nd);
    if (!g || !xr || !dout) goto out;
    float v[64], *dx = malloc(B * 784 * sizeof(float));
    CHECK(nd == B && B <= 64);
    CHECK_OK(gm__cgan_fwd_bwd(g, 1, xr, B, dout, v, dx));
    close_to("D(x)", v, "d.out", B);
    close_to("dL/dx", dx, "d.dx", B * 784);
    char key[64], what[64];
    for (size_t j = 0; j < 9; j++) {
        size_t n = 0;
        float *gr = NULL, *val;
        snprintf(key, sizeof key, "D.%s", dnames[j]);
        val = tensor(gm__cgan_params(g), key, &gr, &n);
        if (j < 6) snprintf(key, sizeof key, "d.d.%s", dnames[j]);
        else snprintf(key, sizeof key, "d.u.%.2s", dnames[j]);
        snprintf(what, sizeof what, j < 6 ? "dD.%s" : "D.%s after 1 iter", dnames[j]);
        if (val) close_to(what, j < 6 ? gr : val, key, n);
    }
    free(dx);
out:
    free(xr);
    free(dout);
    gm_cgan_free(g);
}

GM_TEST(test_conv_golden_iteration) {
    size_t B, ND, nx, nz;
    gm_cgan *g = golden_gan(&B, &ND);
    float *xr = npz("xr", &nx), *z = npz("z", &nz);
    if (!g || !xr || !z) goto out;
    CHECK(nx == ND * B * 784 && nz == (ND + 1) * B * gm_cgan_get_config(g)->dim_z);
    gm_gan_status st;
    CHECK_OK(gm__cgan_step_with(g, xr, z, &st));
    close_to("L_D (last critic step)", &st.loss_d, "it.loss_d", 1);
    close_to("L_G", &st.loss_g, "it.loss_g", 1);
    float ab[2] = {st.alpha_hat, st.beta_hat};
    close_to("alpha^, beta^", ab, "it.alpha_beta", 2);
    CHECK(st.frac_active > 0 && st.frac_active < 1); /* the fixture mixes fakes with and without a gradient */
    char key[64];
    for (int net = 0; net < 2; net++)
        for (size_t j = 0; j < (net ? 9u : 10u); j++) {
            size_t n = 0;
            snprintf(key, sizeof key, "%s.%s", net ? "D" : "G", net ? dnames[j] : gnames[j]);
            float *p = tensor(gm__cgan_params(g), key, NULL, &n);
            snprintf(key, sizeof key, "new.%s.%s", net ? "D" : "G", net ? dnames[j] : gnames[j]);
            if (p) close_to(key, p, key, n);
            if (j >= 6 && net) continue;
            /* Adam's first step with β1 = 0 moves a weight by lr·sign(grad): the gradients themselves (the
             * generator step's, the last critic step's, left in the grad slab) are checked too */
            float *gr = NULL;
            snprintf(key, sizeof key, "%s.%s", net ? "D" : "G", net ? dnames[j] : gnames[j]);
            tensor(gm__cgan_params(g), key, &gr, &n);
            snprintf(key, sizeof key, "grad.%s.%s", net ? "D" : "G", net ? dnames[j] : gnames[j]);
            if (gr) close_to(key, gr, key, n);
        }
out:
    free(xr);
    free(z);
    gm_cgan_free(g);
}

/* ---- behaviour on synthetic images (no Fashion-MNIST needed) ---- */
static float *fake_images(size_t n) {
    float *x = malloc(n * 784 * sizeof(float));
    for (size_t i = 0; i < n; i++) /* a bright square whose place depends on i */
        for (size_t p = 0; p < 784; p++) {
            size_t r = p / 28, c = p % 28, o = 4 + (i % 5) * 3;
            x[i * 784 + p] = (r >= o && r < o + 8 && c >= o && c < o + 8) ? 0.9f : 0.05f;
        }
    return x;
}

static gm_cgan_config small_cfg(void) {
    gm_cgan_config c = gm_cgan_config_default();
    c.dim_z = 8, c.g_width = 4, c.d_width = 4, c.groups = 2, c.batch = 8, c.n_critic = 2, c.seed = 7;
    c.ema_start = 2;
    return c;
}

static int same_params(gm_cgan *a, gm_cgan *b) {
    gm_params *p = gm__cgan_params(a), *q = gm__cgan_params(b);
    return p->total == q->total && !memcmp(p->val, q->val, p->total * sizeof(float));
}

GM_TEST(test_conv_resume_bitwise) {
    float *X = fake_images(40);
    gm_cgan_config c = small_cfg();
    c.objective = GM_GAN_CHI2;
    gm_cgan *a = NULL, *b = NULL, *r = NULL;
    CHECK_OK(gm_cgan_create(&a, &c));
    CHECK_OK(gm_cgan_create(&b, &c));
    if (!a || !b) goto out;
    CHECK_OK(gm_cgan_set_data(a, X, 40));
    CHECK_OK(gm_cgan_set_data(b, X, 40));
    char path[64];
    snprintf(path, sizeof path, "/tmp/gm_cgan_%d.safetensors", (int)getpid());
    for (int i = 0; i < 6; i++) CHECK_OK(gm_cgan_step(a, NULL));
    for (int i = 0; i < 3; i++) CHECK_OK(gm_cgan_step(b, NULL));
    CHECK_OK(gm_cgan_save(b, path));
    CHECK_OK(gm_cgan_load(&r, path));
    if (!r) goto out;
    CHECK(gm_cgan_get_step(r) == 3);
    CHECK(same_params(b, r));
    CHECK_OK(gm_cgan_set_data(r, X, 40));
    for (int i = 0; i < 3; i++) CHECK_OK(gm_cgan_step(r, NULL));
    CHECK(same_params(a, r)); /* G, D, EMA, SN vectors and both Adam states */
    /* samples: in [0, 1], the same stream gives the same bits, another stream other images, EMA != raw */
    float *s1 = malloc(5 * 784 * sizeof(float)), *s2 = malloc(5 * 784 * sizeof(float));
    CHECK_OK(gm_cgan_sample(r, s1, 5, 1, 3));
    CHECK_OK(gm_cgan_sample(a, s2, 5, 1, 3));
    CHECK(!memcmp(s1, s2, 5 * 784 * sizeof(float)));
    int inside = 1;
    for (size_t i = 0; i < 5 * 784; i++) inside &= s1[i] >= 0 && s1[i] <= 1;
    CHECK(inside);
    CHECK_OK(gm_cgan_sample(a, s2, 5, 1, 4));
    CHECK(memcmp(s1, s2, 5 * 784 * sizeof(float)) != 0);
    CHECK_OK(gm_cgan_sample(a, s2, 5, 0, 3));
    CHECK(memcmp(s1, s2, 5 * 784 * sizeof(float)) != 0);
    free(s1);
    free(s2);
    /* fine-tuning: the new objective and λ are what a checkpoint stores */
    CHECK_OK(gm_cgan_set_objective(r, GM_GAN_PR, 5));
    CHECK_OK(gm_cgan_save(r, path));
    gm_cgan_free(b);
    b = NULL;
    CHECK_OK(gm_cgan_load(&b, path));
    if (b) CHECK(gm_cgan_get_config(b)->objective == GM_GAN_PR && gm_cgan_get_config(b)->lambda == 5);
    remove(path);
out:
    gm_cgan_free(a);
    gm_cgan_free(b);
    gm_cgan_free(r);
    free(X);
}

GM_TEST(test_conv_data_scale_and_ema) {
    /* the training rows are the images mapped to 2x − 1: with one constant image c in the data set, a step
     * equals a step on caller-given rows 2c − 1 (same noise streams), bit for bit */
    const size_t B = 8, ND = 2;
    float *X = malloc(784 * sizeof(float)), *rows = malloc(ND * B * 784 * sizeof(float));
    for (size_t p = 0; p < 784; p++) X[p] = (float)(p % 29) / 28.0f;
    for (size_t i = 0; i < ND * B * 784; i++) rows[i] = 2 * X[i % 784] - 1;
    gm_cgan_config c = small_cfg();
    gm_cgan *a = NULL, *b = NULL;
    CHECK_OK(gm_cgan_create(&a, &c));
    CHECK_OK(gm_cgan_create(&b, &c));
    if (a && b) {
        CHECK_OK(gm_cgan_set_data(a, X, 1));
        CHECK_OK(gm_cgan_step(a, NULL));
        CHECK_OK(gm__cgan_step_with(b, rows, NULL, NULL));
        CHECK(same_params(a, b));
        /* EMA: a copy of G up to ema_start (2) steps, a decayed average after */
        float *se = malloc(3 * 784 * sizeof(float)), *sr = malloc(3 * 784 * sizeof(float));
        CHECK_OK(gm_cgan_step(a, NULL));
        CHECK(gm_cgan_get_step(a) == 2);
        CHECK_OK(gm_cgan_sample(a, se, 3, 1, 0));
        CHECK_OK(gm_cgan_sample(a, sr, 3, 0, 0));
        CHECK(!memcmp(se, sr, 3 * 784 * sizeof(float)));
        CHECK_OK(gm_cgan_step(a, NULL));
        CHECK_OK(gm_cgan_sample(a, se, 3, 1, 0));
        CHECK_OK(gm_cgan_sample(a, sr, 3, 0, 0));
        CHECK(memcmp(se, sr, 3 * 784 * sizeof(float)) != 0);
        free(se);
        free(sr);
    }
    gm_cgan_free(a);
    gm_cgan_free(b);
    free(X);
    free(rows);
}

GM_TEST(test_conv_pr_gradient_gate) {
    /* spec §2.2: a fake gets a PR gradient only if −2 < v < 2/λ − 2. A fresh SN critic keeps |v| small, so at
     * λ = 100 (threshold −1.98) no fake is pushed: G must stay bitwise where it was, while the critic moves;
     * at λ = 0.1 (threshold 18) every fake is pushed and G moves. */
    float *X = fake_images(16);
    for (int k = 0; k < 2; k++) {
        gm_cgan_config c = small_cfg();
        c.objective = GM_GAN_PR, c.lambda = k ? 0.1f : 100.0f;
        gm_cgan *g = NULL;
        CHECK_OK(gm_cgan_create(&g, &c));
        if (!g) continue;
        CHECK_OK(gm_cgan_set_data(g, X, 16));
        gm_params *P = gm__cgan_params(g);
        size_t ng = 0, nd = 0;
        float *G = tensor(P, "G.fc.weight", NULL, &ng), *D = tensor(P, "D.c0.weight", NULL, &nd);
        float *g0 = malloc(ng * sizeof(float)), *d0 = malloc(nd * sizeof(float));
        memcpy(g0, G, ng * sizeof(float));
        memcpy(d0, D, nd * sizeof(float));
        gm_gan_status st;
        CHECK_OK(gm_cgan_step(g, &st));
        printf("  lambda %-5g fakes with a PR gradient %.0f%%, v_f median %.3f\n", (double)c.lambda,
               100.0 * (double)st.frac_active, (double)st.vf_median);
        CHECK(st.frac_active == (k ? 1.0f : 0.0f));
        CHECK((memcmp(G, g0, ng * sizeof(float)) != 0) == k);
        CHECK(memcmp(D, d0, nd * sizeof(float)) != 0);
        free(g0);
        free(d0);
        gm_cgan_free(g);
    }
    free(X);
}

GM_TEST(test_conv_bad_input) {
    gm_cgan *g = NULL;
    gm_cgan_config c = small_cfg();
    c.lambda = 0;
    CHECK(gm_cgan_create(&g, &c) == GM_EINVAL && g == NULL);
    CHECK(strstr(gm_last_error(), "lambda") != NULL);
    c = small_cfg();
    c.groups = 3; /* does not divide g_width 4 */
    CHECK(gm_cgan_create(&g, &c) == GM_EINVAL && g == NULL);
    c = small_cfg();
    CHECK_OK(gm_cgan_create(&g, &c));
    if (!g) return;
    CHECK(gm_cgan_step(g, NULL) == GM_EINVAL); /* no data set */
    CHECK(gm_cgan_set_data(g, NULL, 10) == GM_EINVAL);
    CHECK(gm_cgan_set_objective(g, GM_GAN_PR, -1) == GM_EINVAL);
    CHECK(gm_cgan_set_objective(g, GM_GAN_COUNT, 1) == GM_EINVAL);
    CHECK(gm_cgan_get_config(g)->objective == GM_GAN_PR && gm_cgan_get_config(g)->lambda == 1);
    gm_cgan_free(g);
    /* a 2-D toy GAN checkpoint is not a conv-GAN checkpoint, and vice versa */
    char path[64];
    snprintf(path, sizeof path, "/tmp/gm_cgan_toy_%d.safetensors", (int)getpid());
    gm_gan_config tc = gm_gan_config_default();
    tc.hidden = 8, tc.batch = 4;
    gm_gan *t = NULL;
    CHECK_OK(gm_gan_create(&t, &tc));
    if (t) CHECK_OK(gm_gan_save(t, path));
    gm_gan_free(t);
    g = NULL;
    CHECK(gm_cgan_load(&g, path) == GM_EFORMAT && g == NULL);
    CHECK(strstr(gm_last_error(), path) != NULL);
    CHECK_OK(gm_cgan_create(&g, &c));
    if (g) CHECK_OK(gm_cgan_save(g, path));
    gm_cgan_free(g);
    t = NULL;
    CHECK(gm_gan_load(&t, path) == GM_EFORMAT && t == NULL);
    remove(path);
}

GM_TEST_MAIN({"conv_golden_generator", test_conv_golden_generator}, {"conv_golden_critic", test_conv_golden_critic},
             {"conv_golden_iteration", test_conv_golden_iteration}, {"conv_resume_bitwise", test_conv_resume_bitwise},
             {"conv_data_scale_and_ema", test_conv_data_scale_and_ema},
             {"conv_pr_gradient_gate", test_conv_pr_gradient_gate}, {"conv_bad_input", test_conv_bad_input})
