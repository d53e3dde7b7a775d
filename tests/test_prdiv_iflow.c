/* SPDX-License-Identifier: MIT */
/* test_prdiv_iflow.c — the multi-scale image RealNVP (src/prdiv/prdiv_iflow.c, gm_iflow_*):
 *   - gm_op_silu (the coupling nets' activation) against x σ(x) and its derivative in double;
 *   - inverse(forward(y)) = y within 1e-5 (relative to max(1, |y|)) on a 1×28×28 two-scale flow with random
 *     (non-identity) weights, and the inverse's log-det is minus the forward's;
 *   - the log-det equals log|det J| of the full Jacobian of y -> z (rows by reverse-mode, LU in double with
 *     partial pivoting) on 1×4×4 images, one and two scales, within 1e-4;
 *   - at initialisation (zero output convs) the flow is the identity up to the latent order: log p(y) = log N(y);
 *   - the pre-processing: the logit inverts to x = (pixel + u)/256 with u ∈ [0, 1), its log-det is
 *     Σ log((1 − 2a)/(p(1 − p))) recomputed from y, the noise is reproducible by stream; gm_iflow_logprob =
 *     log p(y) + that log-det; bits/dim = −log p/(D ln 2) + 8;
 *   - whole-model five-point central differences (every parameter tensor and the input logits) of the weighted
 *     log-likelihood Σ c_b log p(y_b), max AND mean criteria per tensor;
 *   - training lowers the bits/dim of a tiny data set; bitwise resume (3 + 3 steps through a checkpoint =
 *     6 steps, across epoch boundaries); samples in [0, 1], reproducible by stream;
 *   - procedure B (weighted MLE with a χ² critic's ratio): during the MLE pre-training the flow is bitwise the MLE
 *     flow while the critic moves, the weighted steps then differ from MLE; bitwise resume (critic, its Adam);
 *   - bad input: image sizes not divisible by 2^n_scales, pixels outside [0, 1] or NaN, no data, a checkpoint
 *     of another model (both ways).
 *   - PyTorch golden (tests/golden/prdiv_iflow_golden.npz from tools/gen_prdiv_iflow_golden.py): log p of a
 *     small two-scale flow and every parameter gradient within 1e-5 of the tensor's scale.
 * The allocation-failure sweep is test_alloc_sweep_iflow.c. */
#include "gm_test.h"
#include "genmix/io.h"
#include "genmix/models.h"
#include "genmix/prdiv.h"
#include "genmix/rng.h"
#include "../src/prdiv/prdiv_internal.h"
#include "gm_npz_fixture.h"

#include <stdio.h>
#include <unistd.h>

static gm_iflow_config tiny_cfg(size_t scales) {
    gm_iflow_config c = gm_iflow_config_default();
    c.height = c.width = 4;
    c.n_scales = scales;
    c.n_couplings = 2;
    c.hidden = 4;
    c.n_res = 1;
    c.batch = 4;
    c.lr = 1e-2f;
    c.seed = 5;
    return c;
}

static float *randn(size_t n, uint64_t stream, float sd) {
    float *x = malloc(n * sizeof(float));
    gm_rng r;
    gm_rng_init(&r, 11, stream);
    gm_rng_normal_fill(&r, x, n);
    for (size_t i = 0; i < n; i++) x[i] *= sd;
    return x;
}

/* log p(y) of B rows (frozen), into lp (double; the prior term summed in double from z) */
static int logp_rows(gm_iflow *f, const float *y, size_t B, double *lp) {
    const gm_iflow_config *c = gm_iflow_get_config(f);
    gm_tape *t;
    int rc = gm_tape_create(&t, 0);
    if (rc) return rc;
    int64_t sh[4] = {(int64_t)B, (int64_t)c->channels, (int64_t)c->height, (int64_t)c->width};
    gm_var *ld = NULL, *z = gm_iflow_forward(f, t, gm_tape_input(t, (float *)y, 4, sh, 0), &ld, 1);
    size_t D = gm_iflow_dim(f);
    if (!(rc = gm_tape_status(t)))
        for (size_t b = 0; b < B; b++) { /* in double: the finite differences see less rounding */
            double q = 0;
            for (size_t i = 0; i < D; i++) q += (double)z->val[b * D + i] * (double)z->val[b * D + i];
            lp[b] = -0.5 * q - 0.5 * (double)D * 1.8378770664093454836 + (double)ld->val[b];
        }
    gm_tape_free(t);
    return rc;
}

#ifndef OUT_SCALE
#define OUT_SCALE 0.5f
#endif
GM_TEST(test_iflow_inverse) {
    gm_iflow_config c = gm_iflow_config_default();
    c.hidden = 8;
    gm_iflow *f = NULL;
    CHECK_OK(gm_iflow_create(&f, &c));
    if (!f) return;
    gm_iflow_init(f, 3, 0); /* random output convs: not the identity */
    /* output convs scaled to a trained flow's range (|s|, |t| of order 0.1–1): with raw uniform(±1/sqrt(fan_in))
     * weights 21 random couplings amplify float rounding (the conditioners' Lipschitz constants multiply) */
    gm_params *P = gm_iflow_params(f);
    for (size_t k = 0; k < P->count; k++)
        if (strstr(P->info[k].name, ".out."))
            for (size_t i = 0; i < P->info[k].n; i++) P->val[P->info[k].offset + i] *= OUT_SCALE;
    const size_t B = 2, D = 784;
    float *y = randn(B * D, 1, 1.5f);
    gm_tape *t;
    CHECK_OK(gm_tape_create(&t, 0));
    gm_tape_no_grad(t, 1);
    gm_var *ldf = NULL, *ldi = NULL;
    gm_var *z = gm_iflow_forward(f, t, gm_tape_input(t, y, 4, (int64_t[]){2, 1, 28, 28}, 0), &ldf, 1);
    gm_var *y2 = gm_iflow_inverse(f, t, z, &ldi, 1);
    CHECK_OK(gm_tape_status(t));
    if (y2) {
        double err = 0, moved = 0;
        for (size_t i = 0; i < B * D; i++) {
            err = fmax(err, fabs((double)y2->val[i] - (double)y[i]) / fmax(1, fabs((double)y[i])));
            moved = fmax(moved, fabs((double)z->val[i]));
        }
        printf("  max |f^-1(f(y)) - y| (rel) %.2e; logdet %.4f %.4f (inverse)\n", err, (double)ldf->val[0], (double)ldi->val[0]);
        CHECK(err <= 1e-5);
        for (size_t b = 0; b < B; b++) CHECK_NEAR((double)ldi->val[b], -(double)ldf->val[b], 1e-5, 1e-4);
        CHECK(fabs((double)ldf->val[0]) > 1); /* the weights are not the identity */
    }
    gm_tape_free(t);
    free(y);
    gm_iflow_free(f);
}


/* gm_op_silu (nn_gnsilu.c, the coupling nets' activation): values vs x σ(x) in double, the gradient vs
 * σ(x)(1 + x(1 − σ(x))), relative on [−87, 90], absolute below (the clamp of the vectorised exp) */
GM_TEST(test_iflow_silu_op) {
    const size_t n = 4001;
    float *x = malloc(n * sizeof(float)), *dy = malloc(n * sizeof(float));
    for (size_t i = 0; i < n; i++) x[i] = (float)(-90.0 + 180.0 * (double)i / (double)(n - 1)), dy[i] = 0.5f + (float)(i % 3);
    gm_tape *t;
    CHECK_OK(gm_tape_create(&t, 0));
    gm_var *xv = gm_tape_input(t, x, 1, (int64_t[]){(int64_t)n}, 1), *y = gm_op_silu(t, xv);
    CHECK_OK(gm_tape_status(t));
    CHECK_OK(gm_tape_backward_from(t, y, dy));
    double ev = 0, eg = 0, ea = 0;
    for (size_t i = 0; y && i < n; i++) {
        double v = (double)x[i], s = 1 / (1 + exp(-v)), ref = v * s, g = (double)dy[i] * s * (1 + v * (1 - s));
        if (v < -87) { /* below the vectorised exp's clamp: tiny absolute errors only */
            ea = fmax(ea, fmax(fabs((double)y->val[i] - ref), fabs((double)xv->grad[i] - g)));
            continue;
        }
        ev = fmax(ev, fabs((double)y->val[i] - ref) / fmax(fabs(ref), 1e-30));
        eg = fmax(eg, fabs((double)xv->grad[i] - g) / fmax(fabs(g), 1e-30));
    }
    printf("  silu max rel error %.2e, gradient %.2e on [-87, 90]; below: abs %.1e\n", ev, eg, ea);
    CHECK(ev <= 1e-6 && eg <= 1e-5 && ea <= 1e-34);
    gm_tape_free(t);
    free(x);
    free(dy);
}

/* log|det A| of an n x n matrix (row-major, destroyed) by LU with partial pivoting */
static double logabsdet(double *A, size_t n) {
    double s = 0;
    for (size_t k = 0; k < n; k++) {
        size_t p = k;
        for (size_t i = k + 1; i < n; i++)
            if (fabs(A[i * n + k]) > fabs(A[p * n + k])) p = i;
        if (p != k)
            for (size_t j = 0; j < n; j++) {
                double tmp = A[k * n + j];
                A[k * n + j] = A[p * n + j], A[p * n + j] = tmp;
            }
        s += log(fabs(A[k * n + k]));
        for (size_t i = k + 1; i < n; i++) {
            double m = A[i * n + k] / A[k * n + k];
            for (size_t j = k; j < n; j++) A[i * n + j] -= m * A[k * n + j];
        }
    }
    return s;
}

GM_TEST(test_iflow_logdet_bruteforce) {
    for (size_t scales = 1; scales <= 2; scales++) {
        gm_iflow_config c = tiny_cfg(scales);
        gm_iflow *f = NULL;
        CHECK_OK(gm_iflow_create(&f, &c));
        if (!f) return;
        gm_iflow_init(f, 7, 0);
        const size_t D = 16;
        float *y = randn(D, 2, 1.0f);
        double *J = malloc(D * D * sizeof(double)), ld = 0;
        float e[16];
        gm_tape *t;
        CHECK_OK(gm_tape_create(&t, 0));
        for (size_t i = 0; i < D; i++) {
            gm_tape_reset(t);
            gm_var *yv = gm_tape_input(t, y, 4, (int64_t[]){1, 1, 4, 4}, 1), *l = NULL;
            gm_var *z = gm_iflow_forward(f, t, yv, &l, 1);
            CHECK_OK(gm_tape_status(t));
            if (!z) break;
            memset(e, 0, sizeof e);
            e[i] = 1;
            CHECK_OK(gm_tape_backward_from(t, z, e));
            for (size_t j = 0; j < D; j++) J[i * D + j] = yv->grad ? yv->grad[j] : 0;
            ld = l->val[0];
        }
        double bf = logabsdet(J, D);
        printf("  %zu scale(s): flow logdet %.7f, log|det J| by LU %.7f\n", scales, ld, bf);
        CHECK(fabs(ld - bf) <= 1e-4);
        CHECK(fabs(ld) > 0.1);
        gm_tape_free(t);
        free(J);
        free(y);
        gm_iflow_free(f);
    }
}

GM_TEST(test_iflow_identity_at_init) {
    gm_iflow_config c = gm_iflow_config_default();
    c.hidden = 4;
    gm_iflow *f = NULL;
    CHECK_OK(gm_iflow_create(&f, &c));
    if (!f) return;
    const size_t D = 784;
    float *y = randn(D, 3, 2.0f);
    double lp = 0, ref = -0.5 * (double)D * 1.8378770664093454836;
    for (size_t i = 0; i < D; i++) ref -= 0.5 * (double)y[i] * (double)y[i];
    CHECK_OK(logp_rows(f, y, 1, &lp));
    printf("  log p(y) %.6f, log N(y) %.6f\n", lp, ref);
    CHECK_NEAR(lp, ref, 1e-5, 1e-3);
    free(y);
    gm_iflow_free(f);
}

GM_TEST(test_iflow_dequant) {
    const size_t D = 300;
    float img[300], y[300], y2[300];
    for (size_t i = 0; i < D; i++) img[i] = (float)(i % 256) / 255.0f;
    const double a = 0.05;
    double ld = gm_iflow_dequant((float)a, img, D, 9, 123, y), ref = 0, umin = 1, umax = 0;
    for (size_t i = 0; i < D; i++) {
        double p = 1 / (1 + exp(-(double)y[i])), x = (p - a) / (1 - 2 * a), u = x * 256 - (double)(i % 256);
        umin = fmin(umin, u), umax = fmax(umax, u);
        ref += log((1 - 2 * a) / (p * (1 - p)));
    }
    printf("  u in [%.4f, %.4f], logdet %.6f (recomputed %.6f)\n", umin, umax, ld, ref);
    CHECK(umin >= -1e-4 && umax <= 1 + 1e-4 && umax - umin > 0.9);
    CHECK_NEAR(ld, ref, 1e-5, 1e-3);
    CHECK_NEAR(gm_iflow_dequant((float)a, img, D, 9, 123, y2), ld, 0, 0);
    CHECK(!memcmp(y, y2, sizeof y));
    gm_iflow_dequant((float)a, img, D, 9, 124, y2);
    CHECK(memcmp(y, y2, sizeof y) != 0);
    /* gm_iflow_logprob = log p(y) + the pre-processing log-det, y from stream (seed, EVAL, s·2^32 + i) */
    gm_iflow_config c = tiny_cfg(1);
    gm_iflow *f = NULL;
    CHECK_OK(gm_iflow_create(&f, &c));
    if (!f) return;
    gm_iflow_init(f, 2, 0);
    double lp[2], lpy;
    CHECK_OK(gm_iflow_logprob(f, img, 2, 6, lp));
    double l1 = gm_iflow_dequant((float)a, img + 16, 16, c.seed, gm_rng_stream_id(GM_STREAM_EVAL, ((uint64_t)6 << 32) | 1), y);
    CHECK_OK(logp_rows(f, y, 1, &lpy));
    CHECK_NEAR(lp[1], lpy + l1, 1e-6, 1e-4);
    CHECK_NEAR(gm_iflow_bits_per_dim(f, lp[1]), -lp[1] / (16 * log(2.0)) + 8, 1e-12, 0);
    gm_iflow_free(f);
}

/* d/dv of Σ_b cw_b log p(y_b) by the five-point central difference (error O(h^4)) */
static double fd5(gm_iflow *f, const float *y, size_t B, const float *cw, float *v, double h) {
    const double k[4] = {-2, -1, 1, 2}, c[4] = {1, -8, 8, -1};
    float old = *v;
    double s = 0, l[8];
    for (int j = 0; j < 4; j++) {
        *v = (float)((double)old + k[j] * h);
        CHECK_OK(logp_rows(f, y, B, l));
        for (size_t b = 0; b < B; b++) s += c[j] * (double)cw[b] * l[b];
    }
    *v = old;
    return s / (12 * h);
}

GM_TEST(test_iflow_gradcheck) {
    for (size_t scales = 1; scales <= 2; scales++) {
        gm_iflow_config c = tiny_cfg(scales);
        gm_iflow *f = NULL;
        CHECK_OK(gm_iflow_create(&f, &c));
        if (!f) return;
        gm_iflow_init(f, 4, 0);
        gm_params *P = gm_iflow_params(f);
        const size_t B = 3, D = 16;
        float *y = randn(B * D, 4, 1.0f);
        /* the bits/dim NLL of the batch, −Σ log p(y_b) / (B D ln 2), with rows weighted 0.5, −0.3, 0.8 (so a
         * gradient that ignores the row weights fails) */
        const float u = (float)(-1.0 / (3 * 16 * 0.69314718055994530942));
        float cw[3] = {0.5f * u, -0.3f * u, 0.8f * u};
        gm_tape *t;
        CHECK_OK(gm_tape_create(&t, 0));
        /* analytic: L = Σ c_b log p(y_b) */
        gm_var *yv = gm_tape_input(t, y, 4, (int64_t[]){3, 1, 4, 4}, 1);
        gm_var *lp = gm_iflow_logprob_logit(f, t, yv, 0);
        CHECK_OK(gm_tape_status(t));
        gm_params_zero_grad(P);
        CHECK_OK(gm_tape_backward_from(t, lp, cw));
        float *gy = malloc(B * D * sizeof(float));
        memcpy(gy, yv->grad, B * D * sizeof(float));
        const double h = getenv("GC_H") ? atof(getenv("GC_H")) : 2e-2;
        int ok = 1;
        for (size_t k = 0; k < P->count; k++) {
            gm_gc g = {0};
            float *v = P->val + P->info[k].offset, *a = P->grad + P->info[k].offset;
            for (size_t i = 0; i < P->info[k].n; i++) {
                gm_gc_add(&g, i, (double)a[i], fd5(f, y, B, cw, &v[i], h));
            }
            ok &= gm_gc_ok(&g, P->info[k].name, 2e-2, 2e-3);
        }
        gm_gc g = {0};
        for (size_t i = 0; i < B * D; i++) {
            gm_gc_add(&g, i, (double)gy[i], fd5(f, y, B, cw, &y[i], h));
        }
        ok &= gm_gc_ok(&g, "input logits", 2e-2, 2e-3);
        printf("  %zu scale(s): %zu tensors + input checked\n", scales, P->count);
        CHECK(ok);
        gm_tape_free(t);
        free(gy);
        free(y);
        gm_iflow_free(f);
    }
}

/* n tiny 4x4 images with pixel values k/255 */
static float *tiny_images(size_t n) {
    float *x = malloc(n * 16 * sizeof(float));
    gm_rng r;
    gm_rng_init(&r, 1, 77);
    for (size_t i = 0; i < n * 16; i++) {
        size_t k = i % 16, row = k / 4;
        double base = (i / 16) % 2 ? (double)row / 3.0 : 1.0 - (double)row / 3.0;
        long pix = lround(base * 200 + 20 + 10 * gm_rng_uniform(&r));
        x[i] = (float)pix / 255.0f;
    }
    return x;
}

static int same_params(gm_iflow *a, gm_iflow *b) {
    gm_params *p = gm_iflow_params(a), *q = gm_iflow_params(b);
    return p->total == q->total && !memcmp(p->val, q->val, p->total * sizeof(float));
}

GM_TEST(test_iflow_train_resume) {
    float *X = tiny_images(10);
    gm_iflow_config c = tiny_cfg(1);
    gm_iflow *a = NULL, *b = NULL, *r = NULL;
    CHECK_OK(gm_iflow_create(&a, &c));
    CHECK_OK(gm_iflow_create(&b, &c));
    if (!a || !b) goto out;
    CHECK_OK(gm_iflow_set_data(a, X, 10));
    CHECK_OK(gm_iflow_set_data(b, X, 10));
    char path[64];
    snprintf(path, sizeof path, "/tmp/gm_iflow_%d.safetensors", (int)getpid());
    for (int i = 0; i < 6; i++) CHECK_OK(gm_iflow_step(a, NULL));
    for (int i = 0; i < 3; i++) CHECK_OK(gm_iflow_step(b, NULL));
    CHECK_OK(gm_iflow_save(b, path));
    CHECK_OK(gm_iflow_load(&r, path));
    if (!r) goto out;
    CHECK(gm_iflow_get_step(r) == 3);
    CHECK(same_params(b, r));
    CHECK_OK(gm_iflow_set_data(r, X, 10));
    for (int i = 0; i < 3; i++) CHECK_OK(gm_iflow_step(r, NULL));
    CHECK(same_params(a, r));
    /* samples: in [0, 1], reproducible by stream */
    float s1[5 * 16], s2[5 * 16];
    CHECK_OK(gm_iflow_sample(r, s1, 5, 1, 3));
    CHECK_OK(gm_iflow_sample(a, s2, 5, 1, 3));
    CHECK(!memcmp(s1, s2, sizeof s1));
    int inside = 1;
    for (size_t i = 0; i < 5 * 16; i++) inside &= s1[i] >= 0 && s1[i] <= 1;
    CHECK(inside);
    CHECK_OK(gm_iflow_sample(a, s2, 5, 1, 4));
    CHECK(memcmp(s1, s2, sizeof s1) != 0);
    /* training lowers the bits/dim of the training images (mean over 10 images, fixed noise stream) */
    gm_iflow *fresh = NULL;
    CHECK_OK(gm_iflow_create(&fresh, &c));
    double lp0[10], lp1[10], m0 = 0, m1 = 0;
    CHECK_OK(gm_iflow_logprob(fresh, X, 10, 0, lp0));
    for (int i = 0; i < 60; i++) CHECK_OK(gm_iflow_step(a, NULL));
    CHECK_OK(gm_iflow_logprob(a, X, 10, 0, lp1));
    for (int i = 0; i < 10; i++) m0 += gm_iflow_bits_per_dim(a, lp0[i]) / 10, m1 += gm_iflow_bits_per_dim(a, lp1[i]) / 10;
    printf("  bits/dim %.3f at init -> %.3f after 66 steps\n", m0, m1);
    CHECK(m1 < m0 - 0.5);
    gm_iflow_free(fresh);
    remove(path);
out:
    gm_iflow_free(a);
    gm_iflow_free(b);
    gm_iflow_free(r);
    free(X);
}

GM_TEST(test_iflow_bad_input) {
    gm_iflow_config c = tiny_cfg(2);
    gm_iflow *f = NULL;
    c.height = 6;
    CHECK_RC(gm_iflow_create(&f, &c), GM_ESHAPE);
    CHECK(f == NULL);
    c = tiny_cfg(1);
    c.alpha = 0.5f;
    CHECK_RC(gm_iflow_create(&f, &c), GM_EINVAL);
    c = tiny_cfg(1);
    CHECK_OK(gm_iflow_create(&f, &c));
    if (!f) return;
    CHECK_RC(gm_iflow_step(f, NULL), GM_EINVAL); /* no data */
    float *X = tiny_images(3);
    X[20] = 1.5f;
    CHECK_RC(gm_iflow_set_data(f, X, 3), GM_EINVAL);
    CHECK(strstr(gm_last_error(), "image 1 pixel 4") != NULL);
    X[20] = NAN;
    CHECK_RC(gm_iflow_set_data(f, X, 3), GM_EINVAL);
    double lp[3];
    CHECK_RC(gm_iflow_logprob(f, X, 3, 0, lp), GM_EINVAL);
    X[20] = 0.5f;
    CHECK_RC(gm_iflow_logprob(f, X, 3, (uint64_t)1 << 24, lp), GM_EINVAL);
    float s[16];
    CHECK_RC(gm_iflow_sample(f, s, 1, -1, 0), GM_EINVAL);
    /* checkpoints of another model, both ways */
    char p1[64], p2[64];
    snprintf(p1, sizeof p1, "/tmp/gm_iflow_a_%d.safetensors", (int)getpid());
    snprintf(p2, sizeof p2, "/tmp/gm_iflow_b_%d.safetensors", (int)getpid());
    gm_flowtrain_config tc = gm_flowtrain_config_default();
    gm_flowtrain *ft = NULL;
    CHECK_OK(gm_flowtrain_create(&ft, &tc));
    CHECK_OK(gm_flowtrain_save(ft, p1));
    CHECK_OK(gm_iflow_save(f, p2));
    gm_iflow *g = NULL;
    gm_flowtrain *h = NULL;
    CHECK_RC(gm_iflow_load(&g, p1), GM_EFORMAT);
    CHECK(strstr(gm_last_error(), p1) != NULL);
    CHECK_RC(gm_flowtrain_load(&h, p2), GM_EFORMAT);
    CHECK(g == NULL && h == NULL);
    remove(p1);
    remove(p2);
    gm_flowtrain_free(ft);
    free(X);
    gm_iflow_free(f);
}


/* procedure B: during the MLE pre-training the flow is bitwise the MLE flow while the critic trains; after it
 * the weighted steps move the flow elsewhere; bitwise resume with the critic and its Adam state; bad configs */
GM_TEST(test_iflow_procedure_b) {
    float *X = tiny_images(10);
    gm_iflow_config cm = tiny_cfg(1), cp = cm;
    cp.objective = GM_FLOW_PR, cp.lambda = 2, cp.pretrain = 3, cp.n_critic = 2, cp.critic_width = 3;
    gm_iflow *m = NULL, *a = NULL, *b = NULL, *r = NULL;
    CHECK_OK(gm_iflow_create(&m, &cm));
    CHECK_OK(gm_iflow_create(&a, &cp));
    CHECK_OK(gm_iflow_create(&b, &cp));
    if (!m || !a || !b) goto out;
    CHECK_OK(gm_iflow_set_data(m, X, 10));
    CHECK_OK(gm_iflow_set_data(a, X, 10));
    CHECK_OK(gm_iflow_set_data(b, X, 10));
    gm_params *Pm = gm_iflow_params(m), *Pa = gm_iflow_params(a);
    long c0 = gm_params_find(Pa, "critic.0.weight");
    CHECK(c0 >= 0 && gm_params_find(Pm, "critic.0.weight") < 0);
    if (c0 < 0) goto out;
    size_t nflow = Pa->info[c0].offset; /* the flow's tensors come first, in the same layout */
    float *crit0 = malloc(Pa->info[c0].n * sizeof(float));
    memcpy(crit0, Pa->val + Pa->info[c0].offset, Pa->info[c0].n * sizeof(float));
    for (int i = 0; i < 3; i++) {
        CHECK_OK(gm_iflow_step(m, NULL));
        CHECK_OK(gm_iflow_step(a, NULL));
    }
    CHECK(!memcmp(Pm->val, Pa->val, nflow * sizeof(float)));
    CHECK(memcmp(crit0, Pa->val + Pa->info[c0].offset, Pa->info[c0].n * sizeof(float)) != 0);
    free(crit0);
    double bpd = 0;
    CHECK_OK(gm_iflow_step(m, NULL));
    CHECK_OK(gm_iflow_step(a, &bpd));
    CHECK(memcmp(Pm->val, Pa->val, nflow * sizeof(float)) != 0);
    float ld = NAN, wz = NAN;
    gm_iflow_pr_status(a, &ld, &wz);
    printf("  after the first PR step: bits/dim %.3f, critic loss %.4f, %.0f %% of rows with weight 0\n", bpd, (double)ld,
           100 * (double)wz);
    CHECK(isfinite(ld) && wz >= 0 && wz <= 1 && isfinite(bpd));
    for (int i = 0; i < 2; i++) CHECK_OK(gm_iflow_step(a, NULL));
    /* resume: 4 steps + checkpoint + 2 = 6 */
    char path[64];
    snprintf(path, sizeof path, "/tmp/gm_iflow_b_%d.safetensors", (int)getpid());
    for (int i = 0; i < 4; i++) CHECK_OK(gm_iflow_step(b, NULL));
    CHECK_OK(gm_iflow_save(b, path));
    CHECK_OK(gm_iflow_load(&r, path));
    if (r) {
        const gm_iflow_config *rc = gm_iflow_get_config(r);
        CHECK(rc->objective == GM_FLOW_PR && rc->lambda == 2 && rc->pretrain == 3 && rc->n_critic == 2 && rc->critic_width == 3);
        CHECK_OK(gm_iflow_set_data(r, X, 10));
        for (int i = 0; i < 2; i++) CHECK_OK(gm_iflow_step(r, NULL));
        CHECK(same_params(a, r)); /* flow, critic and the critic's Adam moments */
    }
    remove(path);
    gm_iflow *bad = NULL;
    gm_iflow_config cb = cp;
    cb.lambda = 0;
    CHECK_RC(gm_iflow_create(&bad, &cb), GM_EINVAL);
    cb = cp, cb.height = cb.width = 6, cb.n_scales = 1;
    CHECK_RC(gm_iflow_create(&bad, &cb), GM_ESHAPE);
    cb = cp, cb.n_critic = 0;
    CHECK_RC(gm_iflow_create(&bad, &cb), GM_EINVAL);
    CHECK(bad == NULL);
out:
    gm_iflow_free(m);
    gm_iflow_free(a);
    gm_iflow_free(b);
    gm_iflow_free(r);
    free(X);
}


/* ---- PyTorch golden ---- */
#define GOLDEN "tests/golden/prdiv_iflow_golden.npz"
static float *npz(const char *name, size_t *n) { return gm_npz_fixture_f32(GOLDEN, name, n); }

static void close_to(const char *what, const float *a, const float *b, size_t n) {
    double mx = 0, d = 0;
    for (size_t i = 0; i < n; i++) mx = fmax(mx, fabs((double)b[i]));
    for (size_t i = 0; i < n; i++) d = fmax(d, fabs((double)a[i] - (double)b[i]));
    double rel = d / fmax(mx, 1e-6);
    if (rel > 1e-5 || getenv("GC_VERBOSE")) printf("  %-24s max err / scale %.2e (scale %.3g)\n", what, rel, mx);
    CHECK(rel <= 1e-5);
}

GM_TEST(test_iflow_golden) {
    size_t nc = 0;
    float *cf = npz("cfg", &nc);
    if (!cf || nc != 8) {
        CHECK(0);
        free(cf);
        return;
    }
    gm_iflow_config c = gm_iflow_config_default();
    c.channels = (size_t)cf[0], c.height = (size_t)cf[1], c.width = (size_t)cf[2], c.n_scales = (size_t)cf[3];
    c.n_couplings = (size_t)cf[4], c.hidden = (size_t)cf[5], c.n_res = (size_t)cf[6], c.scale = cf[7];
    gm_iflow *f = NULL;
    CHECK_OK(gm_iflow_create(&f, &c));
    if (!f) {
        free(cf);
        return;
    }
    gm_params *P = gm_iflow_params(f);
    for (size_t k = 0; k < P->count; k++) {
        size_t m = 0;
        float *w = npz(P->info[k].name, &m);
        CHECK(w && m == P->info[k].n);
        if (w && m == P->info[k].n) memcpy(P->val + P->info[k].offset, w, m * sizeof(float));
        free(w);
    }
    size_t ny = 0, nl = 0;
    float *y = npz("y", &ny), *lpg = npz("logp", &nl);
    size_t D = gm_iflow_dim(f), B = ny / D;
    CHECK(y && lpg && nl == B && B * D == ny);
    if (y && lpg && nl == B) {
        gm_tape *t;
        CHECK_OK(gm_tape_create(&t, 0));
        int64_t sh[4] = {(int64_t)B, (int64_t)c.channels, (int64_t)c.height, (int64_t)c.width};
        gm_var *yv = gm_tape_input(t, y, 4, sh, 1);
        gm_var *lp = gm_iflow_logprob_logit(f, t, yv, 0), *loss = gm_op_mean(t, lp);
        CHECK_OK(gm_tape_status(t));
        gm_params_zero_grad(P);
        CHECK_OK(gm_tape_backward(t, loss));
        if (lp) close_to("log p", lp->val, lpg, B);
        size_t m = 0;
        float *gy = npz("y.grad", &m);
        if (gy && m == ny && yv->grad) close_to("d mean log p / dy", yv->grad, gy, ny);
        free(gy);
        int checked = 0;
        for (size_t k = 0; k < P->count; k++) {
            char name[128];
            snprintf(name, sizeof name, "%s.grad", P->info[k].name);
            float *g = npz(name, &m);
            CHECK(g && m == P->info[k].n);
            if (g && m == P->info[k].n) close_to(name, P->grad + P->info[k].offset, g, m), checked++;
            free(g);
        }
        printf("  log p of %zu images and %d parameter gradients match PyTorch\n", B, checked);
        gm_tape_free(t);
    }
    free(y);
    free(lpg);
    free(cf);
    gm_iflow_free(f);
}

GM_TEST_MAIN({"iflow_silu_op", test_iflow_silu_op}, {"iflow_inverse", test_iflow_inverse}, {"iflow_logdet_bruteforce", test_iflow_logdet_bruteforce},
             {"iflow_identity_at_init", test_iflow_identity_at_init}, {"iflow_dequant", test_iflow_dequant},
             {"iflow_gradcheck", test_iflow_gradcheck}, {"iflow_train_resume", test_iflow_train_resume},
             {"iflow_bad_input", test_iflow_bad_input}, {"iflow_procedure_b", test_iflow_procedure_b},
             {"iflow_golden", test_iflow_golden})
