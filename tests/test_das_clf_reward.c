/* SPDX-License-Identifier: MIT */
/* test_das_clf_reward.c — the classifier reward r(x) = log sum_{c in S} p(c | (x+1)/2) (spec das.md §8):
 * values against a direct evaluation of the classifier's logits, its input gradient against central
 * differences (max AND mean criteria), the ten log-probabilities (gm_reward_clf_log_probs) against the
 * logits' log-softmax, S = all classes gives r = 0 and a zero gradient, class names and
 * indices, and bad input (unknown class, wrong dimension, a checkpoint that is not a classifier). */
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "genmix/classifier.h"
#include "genmix/das.h"
#include "genmix/rng.h"
#include "gm_test.h"

/* the checkpoint lives in /tmp (per process), so the test runs from any build folder name */
static char CLF[64];

GM_TEST(test_clf_reward) {
    gm_clf_config cfg = gm_clf_config_default();
    cfg.seed = 21;
    /* a smooth network (SiLU, average pooling) so that central differences are meaningful; the default
     * CNN's ReLU/max-pool kinks are hit by most h = 1e-2 perturbations of noise images. The reward code
     * only sees logits, whatever the architecture. */
    cfg.spec = "conv:8:3:1:1,silu,avgpool:2,conv:8:3:1:1,silu,avgpool:2,flatten,linear:32,tanh,linear:10";
    snprintf(CLF, sizeof CLF, "/tmp/gm_test_das_clf_reward_%ld.safetensors", (long)getpid());
    gm_clf *c;
    CHECK_OK(gm_clf_create(&c, &cfg));
    CHECK_OK(gm_clf_save(c, CLF));
    enum { n = 3 };
    float *x = malloc(n * 784 * sizeof(float)), *g = malloc(n * 784 * sizeof(float)), *x01 = malloc(n * 784 * sizeof(float));
    gm_rng r;
    gm_rng_init(&r, 4, 0);
    for (size_t i = 0; i < n * 784; i++) x[i] = (float)(2.0 * gm_rng_uniform(&r) - 1.0);
    for (size_t i = 0; i < n * 784; i++) x01[i] = 0.5f * (x[i] + 1.0f);
    /* reference: logits of the same network on (x+1)/2, then log sum_{S} softmax in double */
    gm_tape *t;
    CHECK_OK(gm_tape_create(&t, 0));
    int64_t xs[4] = {n, 1, 28, 28};
    gm_var *z = gm_seq_forward_frozen(c->net, t, gm_tape_input(t, x01, 4, xs, 0), -1, 0, NULL);
    CHECK_OK(gm_tape_status(t));
    const int S[3] = {1, 7, 8}; /* trouser, sneaker, bag */
    double ref[n];
    for (int i = 0; i < n; i++) {
        double a = 0, b = 0;
        for (int k = 0; k < 10; k++) a += exp((double)z->val[i * 10 + k]);
        for (int k = 0; k < 3; k++) b += exp((double)z->val[i * 10 + S[k]]);
        ref[i] = log(b / a);
    }
    gm_reward_clf *R;
    gm_reward rw;
    char spec[96];
    snprintf(spec, sizeof spec, "%s:Trouser,sneaker,8", CLF);
    CHECK_OK(gm_reward_clf_parse(&R, spec, 784, &rw));
    CHECK(rw.has_grad && rw.dim == 784);
    if (!(rw.has_grad && rw.dim == 784)) return; /* nothing below can run without the reward */
    double rv[n], rp, rm;
    CHECK_OK(rw.eval(rw.ctx, x, n, rv, g));
    for (int i = 0; i < n; i++) CHECK_NEAR(rv[i], ref[i], 1e-6, 1e-6);
    /* gradient vs central differences on 200 pixels per row, h = 1e-2  */
    double mx = 0, sum = 0, gs = 0;
    int cnt = 0, over = 0;
    for (size_t i = 0; i < n * 784; i++) gs += fabs((double)g[i]);
    /* difference quotients carry ~3e-7 of float32 round-off (gradients are ~3e-4 for this untrained net) */
    const double floor_ = 1e-5;
    fprintf(stderr, "  mean |dr/dx| %.3g\n", gs / (n * 784));
    for (int i = 0; i < n; i++)
        for (int q = 0; q < 200; q++) {
            size_t j = (size_t)i * 784 + (size_t)(q * 784 / 200);
            float x0 = x[j], xp = x0 + 1e-2f, xm = x0 - 1e-2f;
            x[j] = xp;
            CHECK_OK(rw.eval(rw.ctx, x + (size_t)i * 784, 1, &rp, NULL));
            x[j] = xm;
            CHECK_OK(rw.eval(rw.ctx, x + (size_t)i * 784, 1, &rm, NULL));
            x[j] = x0;
            double num = (rp - rm) / ((double)xp - (double)xm), an = (double)g[j];
            double rel = fabs(num - an) / (fabs(num) + fabs(an) + floor_);
            over += rel > 5e-2;
            mx = fmax(mx, rel);
            sum += rel;
            cnt++;
        }
    fprintf(stderr, "  classifier reward gradient: max rel %.2e, mean rel %.2e over %d pixels, %d above 5e-2\n", mx,
            sum / cnt, cnt, over);
    /* measured: max 2.0e-2, mean 1.7e-3 */
    CHECK(mx < 5e-2);
    CHECK(over == 0);
    CHECK(sum / cnt < 5e-3);
    /* all ten log-probabilities (the independent-classifier scores of genmix align --eval-clf) against the
     * reference logits' log-softmax; probabilities sum to 1; the class set is reported as given */
    double lp[n * 10];
    CHECK_OK(gm_reward_clf_log_probs(R, x, n, lp));
    for (int i = 0; i < n; i++) {
        double a = 0, ps = 0;
        for (int k = 0; k < 10; k++) a += exp((double)z->val[i * 10 + k]);
        for (int k = 0; k < 10; k++) CHECK_NEAR(lp[i * 10 + k], (double)z->val[i * 10 + k] - log(a), 1e-9, 1e-9);
        for (int k = 0; k < 10; k++) ps += exp(lp[i * 10 + k]);
        CHECK_NEAR(ps, 1.0, 0, 1e-12);
        CHECK_NEAR(log(exp(lp[i * 10 + 1]) + exp(lp[i * 10 + 7]) + exp(lp[i * 10 + 8])), rv[i], 1e-9, 1e-9);
    }
    int in_set[10];
    gm_reward_clf_classes(R, in_set);
    for (int k = 0; k < 10; k++) CHECK(in_set[k] == (k == 1 || k == 7 || k == 8));
    gm_reward_clf_free(R);
    /* every class: r = 0 exactly up to round-off, gradient ~ 0 */
    CHECK_OK(gm_reward_clf_open(&R, CLF, "0,1,2,3,4,5,6,7,8,9", 784, &rw));
    CHECK_OK(rw.eval(rw.ctx, x, n, rv, g));
    double gmax = 0;
    for (size_t i = 0; i < n * 784; i++) gmax = fmax(gmax, fabs((double)g[i]));
    for (int i = 0; i < n; i++) CHECK_NEAR(rv[i], 0.0, 0, 1e-12);
    CHECK(gmax < 1e-6);
    gm_reward_clf_free(R);
    /* bad input */
    CHECK_RC(gm_reward_clf_open(&R, CLF, "trouser,hat", 784, &rw), GM_EINVAL);
    CHECK(strstr(gm_last_error(), "hat") != NULL);
    CHECK_RC(gm_reward_clf_open(&R, CLF, "bag", 2, &rw), GM_EINVAL);
    CHECK_RC(gm_reward_clf_open(&R, CLF, "", 784, &rw), GM_EINVAL);
    CHECK_RC(gm_reward_clf_parse(&R, "nocolon", 784, &rw), GM_EINVAL);
    CHECK(gm_reward_clf_open(&R, "/tmp/gm_test_das_clf_reward_does_not_exist.safetensors", "bag", 784, &rw) != GM_OK);
    CHECK(R == NULL);
    remove(CLF);
    gm_tape_free(t);
    gm_clf_free(c);
    free(x), free(g), free(x01);
}

GM_TEST_MAIN({"clf_reward", test_clf_reward})
