/* SPDX-License-Identifier: MIT */
/* test_prdiv_v10_slow.c — spec V10: linear critics trained on 1e5 V3 samples (P = N(0,1), Q = N(1,1)) with
 * the KL critic loss and with BCE converge to the optimal linear critics 1.5 − x and 0.5 − x (slope and
 * intercept within 0.05). Full-batch Adam over 1e5 rows: slow on a loaded machine, hence the label. */
#include "gm_test.h"
#include "genmix/optim.h"
#include "genmix/prdiv.h"
#include "genmix/rng.h"

enum { NV = 100000 };

static void v3(float *xr, float *xf) {
    gm_rng r;
    gm_rng_init(&r, 21, gm_rng_stream_id(GM_STREAM_SIM, 21));
    for (int i = 0; i < NV; i++) xr[i] = (float)gm_rng_normal(&r), xf[i] = (float)(1 + gm_rng_normal(&r));
}

/* Full-batch Adam on a linear critic v = w x + b; kind 0: the KL critic loss, 1: BCE (real = 1). */
static void linear_critic(int kind, const float *xr, const float *xf, float *w, float *b) {
    float p[2] = {0, 0}, gr[2];
    gm_optim o;
    gm_optim_config oc = gm_optim_config_default();
    oc.kind = GM_OPT_ADAM;
    CHECK_OK(gm_optim_init(&o, &oc, 2));
    gm_tape *t;
    CHECK_OK(gm_tape_create(&t, 0));
    static float ones[NV], zeros[NV];
    for (int i = 0; i < NV; i++) ones[i] = 1, zeros[i] = 0;
    for (int it = 0; it < 500; it++) {
        gm_tape_reset(t);
        gm_var *wv = gm_tape_param(t, p, gr, 2, (int64_t[]){1, 1}), *bv = gm_tape_param(t, p + 1, gr + 1, 1, (int64_t[]){1});
        gm_var *vr = gm_op_linear(t, gm_tape_input(t, (float *)xr, 2, (int64_t[]){NV, 1}, 0), wv, bv);
        gm_var *vf = gm_op_linear(t, gm_tape_input(t, (float *)xf, 2, (int64_t[]){NV, 1}, 0), wv, bv);
        gm_var *loss;
        if (kind == 0) loss = gm_op_gan_critic_loss(t, vr, vf, GM_GAN_KL, 1);
        else
            loss = gm_op_add(t, gm_op_bce_logits(t, vr, gm_tape_input(t, ones, 2, (int64_t[]){NV, 1}, 0)),
                             gm_op_bce_logits(t, vf, gm_tape_input(t, zeros, 2, (int64_t[]){NV, 1}, 0)));
        gr[0] = gr[1] = 0;
        CHECK_OK(gm_tape_backward(t, loss));
        gm_optim_step(&o, p, gr, it < 350 ? 0.05f : 0.005f);
    }
    *w = p[0], *b = p[1];
    gm_tape_free(t);
    gm_optim_free(&o);
}

GM_TEST(test_v10_linear_critics) {
    static float xr[NV], xf[NV];
    v3(xr, xf);
    float w, b;
    linear_critic(0, xr, xf, &w, &b);
    fprintf(stderr, "    V10 KL critic: %.4f x + %.4f (optimum 1.5 - x)\n", (double)w, (double)b);
    CHECK_NEAR(w, -1, 0, 0.05);
    CHECK_NEAR(b, 1.5, 0, 0.05);
    linear_critic(1, xr, xf, &w, &b);
    fprintf(stderr, "    V10 BCE critic: %.4f x + %.4f (optimum 0.5 - x)\n", (double)w, (double)b);
    CHECK_NEAR(w, -1, 0, 0.05);
    CHECK_NEAR(b, 0.5, 0, 0.05);
}

GM_TEST_MAIN({"v10_linear_critics", test_v10_linear_critics})
