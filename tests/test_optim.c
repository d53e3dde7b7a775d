/* SPDX-License-Identifier: MIT */
/* test_optim.c — optimisers against closed forms (first Adam step, SGD momentum, AdamW decay), gradient
 * clipping, EMA, LR schedules, and thread invariance of the update. (The PyTorch Adam golden step is in
 * test_nn_golden.c.) */
#include "gm_test.h"
#include "genmix/optim.h"

GM_TEST(test_adam_first_steps) {
    gm_optim_config c = gm_optim_config_default();
    gm_optim o;
    CHECK_OK(gm_optim_init(&o, &c, 3));
    float p[3] = {1.0f, -2.0f, 0.5f}, g[3] = {0.1f, -3.0f, 0.0f};
    gm_optim_step(&o, p, g, 0.01f);
    /* step 1: m_hat = g, v_hat = g^2 -> update = lr g / (|g| + eps) */
    CHECK_NEAR(p[0], 1.0 - 0.01 * 0.1 / (0.1 + 1e-8), 1e-6, 0);
    CHECK_NEAR(p[1], -2.0 + 0.01, 1e-6, 0);
    CHECK(p[2] == 0.5f);
    CHECK_INT_EQ(o.step, 1);
    /* step 2 with the same gradient: m_hat = g, v_hat = g^2 again */
    gm_optim_step(&o, p, g, 0.01f);
    CHECK_NEAR(p[1], -2.0 + 0.02, 1e-6, 0);
    gm_optim_free(&o);
    /* AdamW: decoupled decay multiplies p by (1 - lr wd) first */
    c.kind = GM_OPT_ADAMW;
    c.weight_decay = 0.5f;
    CHECK_OK(gm_optim_init(&o, &c, 1));
    float q = 2.0f, gq = 0.0f;
    gm_optim_step(&o, &q, &gq, 0.1f);
    CHECK_NEAR(q, 2.0 * 0.95, 1e-7, 0);
    gm_optim_free(&o);
    gm_optim_free(NULL);
    c.beta1 = 1.0f;
    CHECK_RC(gm_optim_init(&o, &c, 1), GM_EINVAL);
}

GM_TEST(test_sgd_momentum) {
    gm_optim_config c = gm_optim_config_default();
    c.kind = GM_OPT_SGD;
    c.momentum = 0.9f;
    gm_optim o;
    CHECK_OK(gm_optim_init(&o, &c, 1));
    float p = 1.0f, g = 1.0f;
    gm_optim_step(&o, &p, &g, 0.1f); /* buf = 1 */
    CHECK_NEAR(p, 0.9, 1e-7, 0);
    gm_optim_step(&o, &p, &g, 0.1f); /* buf = 1.9 */
    CHECK_NEAR(p, 0.9 - 0.19, 1e-6, 0);
    gm_optim_free(&o);
    c.nesterov = 1;
    CHECK_OK(gm_optim_init(&o, &c, 1));
    p = 1.0f;
    gm_optim_step(&o, &p, &g, 0.1f); /* buf = 1, d = 1 + 0.9 */
    CHECK_NEAR(p, 1.0 - 0.19, 1e-6, 0);
    gm_optim_free(&o);
    CHECK_INT_EQ(gm_opt_from_name("adamw"), GM_OPT_ADAMW);
    CHECK_INT_EQ(gm_opt_from_name("rmsprop"), -1);
}

GM_TEST(test_clip_ema) {
    float g[2] = {3.0f, 4.0f};
    CHECK_NEAR(gm_grad_norm(g, 2), 5.0, 1e-12, 0);
    double n = gm_clip_grad_norm(g, 2, 1.0);
    CHECK_NEAR(n, 5.0, 1e-12, 0);
    CHECK_NEAR(g[0], 0.6, 1e-5, 0);
    CHECK_NEAR(g[1], 0.8, 1e-5, 0);
    n = gm_clip_grad_norm(g, 2, 10.0); /* below the threshold: unchanged */
    CHECK_NEAR(g[0], 0.6, 1e-5, 0);
    float bad[2] = {NAN, 1.0f};
    CHECK(isnan(gm_clip_grad_norm(bad, 2, 1.0)));
    float e[2] = {0.0f, 1.0f}, p[2] = {1.0f, 1.0f};
    gm_ema_update(e, p, 2, 0.9f);
    CHECK_NEAR(e[0], 0.1, 1e-6, 0);
    CHECK(e[1] == 1.0f);
    /* large norm: fixed-block reduction equals a double loop */
    size_t N = 100000;
    float *x = malloc(N * sizeof(float));
    double ref = 0;
    for (size_t i = 0; i < N; i++) x[i] = (float)((i % 13) - 6) * 0.01f, ref += (double)x[i] * (double)x[i];
    CHECK_NEAR(gm_grad_norm(x, N), sqrt(ref), 1e-12, 0);
    free(x);
}

GM_TEST(test_schedules) {
    gm_lr_schedule s = gm_lr_schedule_default();
    CHECK(gm_lr_at(&s, 0) == 1e-3 && gm_lr_at(&s, 1000) == 1e-3);
    s.warmup = 10;
    CHECK_NEAR(gm_lr_at(&s, 0), 1e-4, 1e-12, 0);
    CHECK_NEAR(gm_lr_at(&s, 9), 1e-3, 1e-12, 0);
    s.kind = GM_LR_COSINE;
    s.total = 100;
    s.min = 1e-5;
    CHECK_NEAR(gm_lr_at(&s, 10), 1e-3, 1e-12, 0);
    CHECK_NEAR(gm_lr_at(&s, 60), 0.5 * (1e-3 + 1e-5), 1e-12, 0);
    CHECK_NEAR(gm_lr_at(&s, 110), 1e-5, 1e-12, 0);
    CHECK_NEAR(gm_lr_at(&s, 500), 1e-5, 1e-12, 0);
    s.kind = GM_LR_STEP;
    s.warmup = 0;
    s.step_size = 30;
    s.gamma = 0.5;
    CHECK_NEAR(gm_lr_at(&s, 29), 1e-3, 1e-12, 0);
    CHECK_NEAR(gm_lr_at(&s, 30), 5e-4, 1e-12, 0);
    CHECK_NEAR(gm_lr_at(&s, 95), 1.25e-4, 1e-12, 0);
}

/* Weight decay, closed forms of the first step: SGD and Adam add wd p to the gradient (L2), AdamW shrinks p
 * by (1 - lr wd) and then takes the plain Adam step. g is chosen smaller than wd p so the sign of the
 * coupled gradient differs from the sign of g. */
GM_TEST(test_weight_decay_closed_forms) {
    gm_optim_config c = gm_optim_config_default();
    gm_optim o;
    c.kind = GM_OPT_SGD;
    c.momentum = 0.0f;
    c.weight_decay = 0.5f;
    CHECK_OK(gm_optim_init(&o, &c, 2));
    float p[2] = {1.0f, -2.0f}, g[2] = {-0.1f, 0.3f};
    gm_optim_step(&o, p, g, 0.1f);
    CHECK_NEAR(p[0], 1.0 - 0.1 * (-0.1 + 0.5 * 1.0), 1e-6, 0);
    CHECK_NEAR(p[1], -2.0 - 0.1 * (0.3 + 0.5 * -2.0), 1e-6, 0);
    gm_optim_free(&o);
    c.kind = GM_OPT_ADAM;
    CHECK_OK(gm_optim_init(&o, &c, 2));
    p[0] = 1.0f, p[1] = -2.0f;
    gm_optim_step(&o, p, g, 0.01f); /* step 1: update = lr gi / (|gi| + eps), gi = g + wd p */
    CHECK_NEAR(p[0], 1.0 - 0.01 * 0.4 / (0.4 + 1e-8), 1e-6, 0);
    CHECK_NEAR(p[1], -2.0 - 0.01 * -0.7 / (0.7 + 1e-8), 1e-6, 0);
    gm_optim_free(&o);
    c.kind = GM_OPT_ADAMW;
    CHECK_OK(gm_optim_init(&o, &c, 2));
    p[0] = 1.0f, p[1] = -2.0f;
    gm_optim_step(&o, p, g, 0.01f);
    CHECK_NEAR(p[0], 1.0 * (1 - 0.01 * 0.5) - 0.01 * -0.1 / (0.1 + 1e-8), 1e-6, 0);
    CHECK_NEAR(p[1], -2.0 * (1 - 0.01 * 0.5) - 0.01 * 0.3 / (0.3 + 1e-8), 1e-6, 0);
    gm_optim_free(&o);
}

/* Six steps of each optimiser with weight decay on a quadratic, against torch.optim (fixture from
 * tools/gen_optim_golden.py). Tolerance 2e-6 relative + 1e-7: float32 rounding of a few operations. */
GM_TEST(test_optim_torch_golden) {
    static const float P0[5] = {1.0f, -2.0f, 0.5f, 3.0f, -0.25f}, A[5] = {1.0f, 0.5f, 2.0f, 0.1f, 4.0f},
                       C[5] = {0.5f, 1.0f, -1.0f, 0.0f, 0.3f};
    static const struct {
        const char *name;
        gm_opt_kind kind;
        float mom, wd, b1, b2;
        int nesterov;
    } cfgs[4] = {{"sgd_wd", GM_OPT_SGD, 0.9f, 0.1f, 0, 0, 0},
                 {"sgd_nesterov_wd", GM_OPT_SGD, 0.9f, 0.2f, 0, 0, 1},
                 {"adam_wd", GM_OPT_ADAM, 0, 0.5f, 0.9f, 0.999f, 0},
                 {"adamw_wd", GM_OPT_ADAMW, 0, 0.5f, 0.8f, 0.99f, 0}};
    FILE *f = fopen("tests/golden/optim_steps.txt", "r");
    CHECK(f != NULL);
    if (!f) return;
    int lines = 0;
    for (int k = 0; k < 4; k++) {
        gm_optim_config c = gm_optim_config_default();
        c.kind = cfgs[k].kind, c.momentum = cfgs[k].mom, c.weight_decay = cfgs[k].wd, c.nesterov = cfgs[k].nesterov;
        if (c.kind != GM_OPT_SGD) c.beta1 = cfgs[k].b1, c.beta2 = cfgs[k].b2;
        gm_optim o;
        CHECK_OK(gm_optim_init(&o, &c, 5));
        float p[5], g[5];
        memcpy(p, P0, sizeof p);
        for (int step = 1; step <= 6; step++) {
            for (int i = 0; i < 5; i++) g[i] = A[i] * (p[i] - C[i]);
            gm_optim_step(&o, p, g, 0.05f);
            char name[32];
            int s;
            float want[5];
            CHECK(fscanf(f, "%31s %d %f %f %f %f %f", name, &s, &want[0], &want[1], &want[2], &want[3],
                         &want[4]) == 7);
            CHECK(!strcmp(name, cfgs[k].name) && s == step);
            for (int i = 0; i < 5; i++) CHECK_NEAR(p[i], want[i], 2e-6, 1e-7);
            lines++;
        }
        gm_optim_free(&o);
    }
    CHECK_INT_EQ(lines, 24);
    fclose(f);
}

GM_TEST_MAIN({"adam_first_steps", test_adam_first_steps}, {"sgd_momentum", test_sgd_momentum},
             {"clip_ema", test_clip_ema}, {"schedules", test_schedules},
             {"weight_decay_closed_forms", test_weight_decay_closed_forms},
             {"optim_torch_golden", test_optim_torch_golden})
