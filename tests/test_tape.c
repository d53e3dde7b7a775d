/* SPDX-License-Identifier: MIT */
/* test_tape.c — the eager tape: whole-model finite-difference gradient checks (MLP and CNN built with
 * gm_seq, every parameter and the input), fan-out accumulation, no-grad mode, detach, frozen parameters,
 * gradients with respect to inputs, split/concat/reshape through the tape, and error propagation. */
#include "gm_test.h"
#include "genmix/models.h"

static float loss_of(gm_seq *s, gm_tape *t, float *x, int ndim, const int64_t *xs, const int32_t *y) {
    gm_tape_reset(t);
    int prev = gm_tape_no_grad(t, 1);
    gm_var *xv = gm_tape_input(t, x, ndim, xs, 0);
    gm_var *l = gm_op_softmax_xent(t, gm_seq_forward(s, t, xv, -1, 0, NULL), y);
    gm_tape_no_grad(t, prev);
    return l ? l->val[0] : NAN;
}

/* Gradient check of a whole model: every parameter tensor and the input, each on its own (gm_gc: max AND
 * mean). The loss is one float32 scalar, so its round-off (~1e-7 |L| / eps) sets the mean tolerance:
 * 2e-3 for smooth models at eps 1e-2 (a 1.6 % error in one tensor gives ~8e-3). */
static void model_gradcheck_eps(const char *spec, int ndim, const int64_t *in, size_t B, float eps, double max_tol,
                                double mean_tol) {
    gm_seq *s;
    CHECK_OK(gm_seq_create(&s, spec, ndim, in));
    if (!s) return;
    gm_seq_init(s, 3);
    size_t per = gm_seq_out_size(s, 0);
    float *x = malloc(B * per * sizeof(float));
    gm_rng r;
    gm_rng_init(&r, 5, 0);
    gm_rng_uniform_fill(&r, x, B * per);
    int32_t y[8];
    for (size_t i = 0; i < B; i++) y[i] = (int32_t)(i % 3);
    int64_t xs[4] = {(int64_t)B, in[0], ndim > 1 ? in[1] : 1, ndim > 2 ? in[2] : 1};
    gm_tape *t;
    CHECK_OK(gm_tape_create(&t, 0));
    gm_var *xv = gm_tape_input(t, x, ndim + 1, xs, 1);
    gm_var *l = gm_op_softmax_xent(t, gm_seq_forward(s, t, xv, -1, 0, NULL), y);
    gm_params_zero_grad(&s->params);
    CHECK_OK(gm_tape_backward(t, l));
    float *dx = malloc(B * per * sizeof(float));
    memcpy(dx, xv->grad, B * per * sizeof(float));
    float *dp = malloc(s->params.total * sizeof(float));
    memcpy(dp, s->params.grad, s->params.total * sizeof(float));
    /* one check per parameter tensor (its n real elements; the slab padding is not a parameter) and one for
     * the input; both the max and the mean criterion (gm_test.h gm_gc) must hold for each */
    const gm_params *P = &s->params;
    for (size_t k = 0; k <= P->count; k++) {
        float *v = k < P->count ? P->val + P->info[k].offset : x, *g = k < P->count ? dp + P->info[k].offset : dx;
        size_t n = k < P->count ? P->info[k].n : B * per;
        gm_gc st;
        memset(&st, 0, sizeof st);
        for (size_t i = 0; i < n; i++) {
            float v0 = v[i];
            v[i] = v0 + eps;
            double lp = loss_of(s, t, x, ndim + 1, xs, y);
            v[i] = v0 - eps;
            double lm = loss_of(s, t, x, ndim + 1, xs, y);
            v[i] = v0;
            gm_gc_add(&st, i, g[i], (lp - lm) / (2.0 * (double)eps));
        }
        char label[160];
        snprintf(label, sizeof label, "%s %s", spec, k < P->count ? P->info[k].name : "input");
        CHECK(gm_gc_ok(&st, label, max_tol, mean_tol));
    }
    gm_tape_free(t);
    gm_seq_free(s);
    free(x), free(dx), free(dp);
}
static void model_gradcheck(const char *spec, int ndim, const int64_t *in, size_t B) {
    model_gradcheck_eps(spec, ndim, in, B, 1e-2f, 1e-2, 2e-3);
}

GM_TEST(test_mlp_gradcheck) {
    int64_t in[1] = {6};
    model_gradcheck("linear:8,tanh,linear:7,gelu,layernorm,linear:3", 1, in, 4);
    model_gradcheck("linear:5,silu,linear:3", 1, in, 3);
}

GM_TEST(test_cnn_gradcheck) {
    int64_t in[3] = {2, 6, 6};
    model_gradcheck("conv:3:3:1:1,tanh,avgpool:2,conv:4:3:1:1,softplus,flatten,linear:3", 3, in, 2);
    model_gradcheck("conv:4:3:2:1,groupnorm:2,sigmoid,convT:2:4:2:1,upsample:2,maxpool:2,flatten,linear:3", 3, in, 2);
    /* conv -> relu -> maxpool:2 runs as the fused node (the second block has an odd 3x3 conv output) */
    /* (a smaller step: with +-1e-2 the two stacked ReLU/max-pool layers cross kinks; the round-off of the
     * smaller step needs the wider tolerances) */
    model_gradcheck_eps("conv:3:3:1:1,relu,maxpool:2,conv:4:3:1:1,relu,maxpool:2,flatten,linear:3", 3, in, 2, 1e-3f, 5e-2, 5e-3);
}

/* gm_op_conv_relu_pool == gm_op_maxpool2d(gm_op_act(gm_op_conv2d)): values and all three gradients */
GM_TEST(test_fused_block) {
    const int64_t xs[4] = {4, 3, 9, 8}, ws[4] = {5, 3, 3, 3}, bs[1] = {5};
    float x[4 * 3 * 72], w[5 * 27], b[5];
    gm_rng r;
    gm_rng_init(&r, 11, 0);
    for (size_t i = 0; i < sizeof x / 4; i++) x[i] = (float)(2.0 * gm_rng_uniform(&r) - 1.0);
    for (size_t i = 0; i < sizeof w / 4; i++) w[i] = (float)(gm_rng_uniform(&r) - 0.5);
    for (size_t i = 0; i < 5; i++) b[i] = (float)(gm_rng_uniform(&r) - 0.7);
    float *out[2], *grad[2][3];
    for (int k = 0; k < 2; k++) {
        gm_tape *t;
        CHECK_OK(gm_tape_create(&t, 0));
        float gw[5 * 27] = {0}, gb[5] = {0};
        gm_var *xv = gm_tape_input(t, x, 4, xs, 1), *wv = gm_tape_param(t, w, gw, 4, ws), *bv = gm_tape_param(t, b, gb, 1, bs);
        gm_var *y = k ? gm_op_maxpool2d(t, gm_op_act(t, gm_op_conv2d(t, xv, wv, bv, 1, 1), GM_ACT_RELU, 0.0f), 2, 2)
                      : gm_op_conv_relu_pool(t, xv, wv, bv, 1, 1);
        CHECK(y && y->shape[2] == 4 && y->shape[3] == 4);
        if (!y) return;
        float *dy = malloc(y->n * 4);
        for (size_t i = 0; i < y->n; i++) dy[i] = (float)((i * 7) % 11) - 5.0f;
        CHECK_OK(gm_tape_backward_from(t, y, dy));
        out[k] = malloc(y->n * 4);
        memcpy(out[k], y->val, y->n * 4);
        grad[k][0] = malloc(sizeof x), grad[k][1] = malloc(sizeof w), grad[k][2] = malloc(sizeof b);
        memcpy(grad[k][0], xv->grad, sizeof x), memcpy(grad[k][1], gw, sizeof w), memcpy(grad[k][2], gb, sizeof b);
        free(dy);
        gm_tape_free(t);
    }
    size_t sz[3] = {sizeof x / 4, sizeof w / 4, 5};
    for (size_t i = 0; i < 4 * 5 * 16; i++) CHECK_NEAR(out[0][i], out[1][i], 1e-6, 1e-7);
    for (int j = 0; j < 3; j++)
        for (size_t i = 0; i < sz[j]; i++) CHECK_NEAR(grad[0][j][i], grad[1][j][i], 1e-5, 1e-6);
    for (int k = 0; k < 2; k++) {
        free(out[k]);
        for (int j = 0; j < 3; j++) free(grad[k][j]);
    }
}

GM_TEST(test_tape_semantics) {
    gm_tape *t;
    CHECK_OK(gm_tape_create(&t, 0));
    float a[3] = {1, 2, 3}, b[3] = {4, 5, 6}, gb[3] = {0, 0, 0};
    int64_t s3[1] = {3};
    /* fan-out: y = sum(a*a + a) -> dy/da = 2a + 1 */
    gm_var *av = gm_tape_input(t, a, 1, s3, 1);
    gm_var *y = gm_op_sum(t, gm_op_add(t, gm_op_mul(t, av, av), av));
    CHECK_OK(gm_tape_backward(t, y));
    CHECK(av->grad && av->grad[0] == 3.0f && av->grad[1] == 5.0f && av->grad[2] == 7.0f);
    CHECK(y->val[0] == 1 + 4 + 9 + 6);
    /* frozen parameter: no grad pointer, no gradient; the other input still gets one */
    gm_tape_reset(t);
    gm_var *bv = gm_tape_param(t, b, NULL, 1, s3), *av2 = gm_tape_input(t, a, 1, s3, 1);
    CHECK(!bv->requires_grad);
    CHECK_OK(gm_tape_backward(t, gm_op_sum(t, gm_op_mul(t, av2, bv))));
    CHECK(av2->grad[0] == 4.0f && av2->grad[2] == 6.0f);
    /* a trainable parameter accumulates into the caller's buffer */
    gm_tape_reset(t);
    bv = gm_tape_param(t, b, gb, 1, s3);
    gm_var *l = gm_op_sum(t, gm_op_scale(t, bv, 2.0f, 1.0f));
    CHECK_OK(gm_tape_backward(t, l));
    CHECK_OK(gm_tape_backward(t, l)); /* twice: += semantics */
    CHECK(gb[0] == 4.0f && gb[1] == 4.0f);
    /* detach stops gradients */
    gm_tape_reset(t);
    av = gm_tape_input(t, a, 1, s3, 1);
    gm_var *d = gm_var_detach(t, av);
    CHECK(!d->requires_grad && d->val == av->val);
    y = gm_op_sum(t, gm_op_add(t, gm_op_mul(t, d, d), av));
    CHECK_OK(gm_tape_backward(t, y));
    CHECK(av->grad[0] == 1.0f && av->grad[1] == 1.0f);
    /* no-grad records nothing */
    gm_tape_reset(t);
    CHECK(gm_tape_no_grad(t, 1) == 0);
    av = gm_tape_input(t, a, 1, s3, 1);
    y = gm_op_sum(t, gm_op_mul(t, av, av));
    CHECK(gm_tape_node_count(t) == 0 && !y->requires_grad && y->val[0] == 14.0f);
    CHECK(gm_tape_backward(t, y) == GM_EINVAL);
    gm_tape_no_grad(t, 0);
    /* split / concat / reshape round trip keeps gradients */
    gm_tape_reset(t);
    float m[6] = {1, 2, 3, 4, 5, 6};
    int64_t s23[2] = {2, 3}, s32[2] = {3, 2};
    gm_var *mv = gm_tape_input(t, m, 2, s23, 1), *p, *q;
    CHECK_OK(gm_op_split(t, mv, 1, 1, &p, &q));
    CHECK(p->n == 2 && q->n == 4 && p->val[1] == 4.0f && q->val[0] == 2.0f);
    gm_var *cat = gm_op_concat(t, gm_op_scale(t, p, 3.0f, 0.0f), q, 1);
    gm_var *rs = gm_op_reshape(t, cat, 2, s32);
    CHECK(rs->val[0] == 3.0f && rs->val[3] == 12.0f);
    CHECK_OK(gm_tape_backward(t, gm_op_sum(t, rs)));
    CHECK(mv->grad[0] == 3.0f && mv->grad[1] == 1.0f && mv->grad[3] == 3.0f);
    /* vector-Jacobian product from a non-scalar output */
    gm_tape_reset(t);
    av = gm_tape_input(t, a, 1, s3, 1);
    gm_var *sq = gm_op_mul(t, av, av);
    float seed[3] = {1, 0, 2};
    CHECK_OK(gm_tape_backward_from(t, sq, seed));
    CHECK(av->grad[0] == 2.0f && av->grad[1] == 0.0f && av->grad[2] == 12.0f);
    /* errors: shape mismatch is recorded and propagates as NULL */
    gm_tape_reset(t);
    float w[4] = {0};
    int64_t s22[2] = {2, 2};
    gm_var *wv = gm_tape_param(t, w, NULL, 2, s22);
    gm_var *bad = gm_op_linear(t, gm_tape_input(t, a, 2, (int64_t[]){1, 3}, 0), wv, NULL);
    CHECK(bad == NULL && gm_tape_status(t) == GM_ESHAPE);
    CHECK(strstr(gm_last_error(), "linear") != NULL);
    CHECK(gm_op_act(t, bad, GM_ACT_RELU, 0) == NULL);
    CHECK(gm_tape_backward(t, bad) == GM_ESHAPE);
    gm_tape_reset(t);
    CHECK_OK(gm_tape_status(t));
    int32_t lab = 7;
    gm_var *lg = gm_tape_input(t, a, 2, (int64_t[]){1, 3}, 1);
    CHECK(gm_op_softmax_xent(t, lg, &lab) == NULL && gm_tape_status(t) == GM_EINVAL);
    gm_tape_free(t);
    gm_tape_free(NULL);
}

GM_TEST(test_gan_style_steps) {
    /* G: z -> x = W_g z ; D: x -> logit = w_d . x.  D step: detach G's output, G frozen.
     * G step: D frozen (NULL grads), gradient reaches G's weights only. */
    float Wg[4] = {1, 0, 0, 1}, dWg[4] = {0}, wd[2] = {1, -1}, dwd[2] = {0}, z[2] = {0.5f, 2.0f}, one = 1.0f;
    gm_tape *t;
    CHECK_OK(gm_tape_create(&t, 0));
    int64_t s22[2] = {2, 2}, s12[2] = {1, 2}, s1[1] = {1};
    gm_var *x = gm_op_linear(t, gm_tape_input(t, z, 2, s12, 0), gm_tape_param(t, Wg, dWg, 2, s22), NULL);
    gm_var *lg = gm_op_linear(t, gm_var_detach(t, x), gm_tape_param(t, wd, dwd, 2, s12), NULL);
    CHECK_OK(gm_tape_backward(t, gm_op_bce_logits(t, lg, gm_tape_input(t, &one, 1, s1, 0))));
    CHECK(dWg[0] == 0.0f && dwd[0] != 0.0f);
    gm_tape_reset(t);
    memset(dwd, 0, sizeof dwd);
    x = gm_op_linear(t, gm_tape_input(t, z, 2, s12, 0), gm_tape_param(t, Wg, dWg, 2, s22), NULL);
    lg = gm_op_linear(t, x, gm_tape_param(t, wd, NULL, 2, s12), NULL);
    CHECK_OK(gm_tape_backward(t, gm_op_bce_logits(t, lg, gm_tape_input(t, &one, 1, s1, 0))));
    CHECK(dwd[0] == 0.0f && dwd[1] == 0.0f && dWg[0] != 0.0f);
    /* d/dWg of bce(w.(Wg z), 1) = (sigmoid(l) - 1) w z^T ; l = 0.5 - 2 = -1.5 */
    double s = 1.0 / (1.0 + exp(1.5)) - 1.0;
    CHECK_NEAR(dWg[0], s * 1 * 0.5, 1e-6, 1e-7);
    CHECK_NEAR(dWg[3], s * -1 * 2.0, 1e-6, 1e-7);
    gm_tape_free(t);
}

GM_TEST(test_seq_spec_errors) {
    gm_seq *s;
    int64_t in[3] = {1, 28, 28};
    CHECK_RC(gm_seq_create(&s, "conv:8:3,bogus,linear:10", 3, in), GM_EINVAL);
    CHECK(strstr(gm_last_error(), "bogus") != NULL);
    CHECK(s == NULL);
    CHECK_RC(gm_seq_create(&s, "conv:8:50", 3, in), GM_ESHAPE);
    CHECK_RC(gm_seq_create(&s, "linear:x", 3, in), GM_EINVAL);
    CHECK_OK(gm_seq_create(&s, GM_CNN_SPEC, 3, in));
    CHECK_INT_EQ(s->params.count, 8);
    CHECK_INT_EQ(gm_seq_out_size(s, -1), 10);
    CHECK_INT_EQ(gm_seq_out_size(s, 9), 128);
    CHECK(gm_params_find(&s->params, "0.weight") == 0 && gm_params_find(&s->params, "7.bias") >= 0);
    CHECK_INT_EQ(s->params.info[gm_params_find(&s->params, "7.weight")].shape[1], 64 * 7 * 7);
    gm_seq_free(s);
    char buf[256];
    int hid[2] = {512, 256};
    CHECK(!strcmp(gm_mlp_spec(buf, sizeof buf, hid, 2, 10, GM_ACT_RELU), "linear:512,relu,linear:256,relu,linear:10"));
}

GM_TEST_MAIN({"mlp_gradcheck", test_mlp_gradcheck}, {"cnn_gradcheck", test_cnn_gradcheck}, {"fused_block", test_fused_block},
             {"tape_semantics", test_tape_semantics}, {"gan_style_steps", test_gan_style_steps},
             {"seq_spec_errors", test_seq_spec_errors})
