/* SPDX-License-Identifier: MIT */
/* test_alloc_sweep_iflow.c — allocation-failure sweep of the image RealNVP (src/prdiv/prdiv_iflow.c): create
 * (procedure B: with the critic), set_data, two steps (one MLE pre-training step, one weighted), the tape ops
 * forward / inverse / logprob_logit and gm_op_silu (nn_gnsilu.c), logprob, sample, save and load, on a 1×4×4 flow with one coupling per
 * group. Same contract as test_alloc_sweep.c (CHECK_ALLOC_SWEEP in tests/gm_test.h): the k-th allocation fails
 * for k = 1, 2, ... until the run succeeds; at each k the run must return GM_ENOMEM with a message and leave
 * nothing allocated. What the results are is checked by test_prdiv_iflow. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "genmix/prdiv.h"
#include "genmix/rng.h"
#include "gm_test.h"

static int run_iflow_all(void *ctx) {
    const float *X = ctx;
    gm_iflow_config c = gm_iflow_config_default();
    c.height = c.width = 4, c.n_scales = 1, c.n_couplings = 1, c.hidden = 4, c.n_res = 0, c.batch = 4, c.seed = 5;
    c.objective = GM_FLOW_PR, c.pretrain = 1, c.critic_width = 2;
    gm_iflow *f = NULL, *g = NULL;
    gm_tape *t = NULL;
    double lp[2];
    float s[2 * 16];
    char path[64];
    snprintf(path, sizeof path, "/tmp/gm_iflow_oom_%d.safetensors", (int)getpid());
    int rc = gm_iflow_create(&f, &c);
    if (!rc) rc = gm_iflow_set_data(f, X, 10);
    for (int i = 0; i < 2 && !rc; i++) rc = gm_iflow_step(f, NULL);
    if (!rc && !(rc = gm_tape_create(&t, 0))) { /* the tape ops on a caller's tape */
        gm_var *y = gm_tape_input(t, (float *)X, 4, (int64_t[]){2, 1, 4, 4}, 1), *ld = NULL;
        gm_var *z = gm_iflow_forward(f, t, y, &ld, 0);
        gm_iflow_inverse(f, t, z, NULL, 0);
        gm_var *l = gm_op_add(t, gm_op_sum(t, gm_iflow_logprob_logit(f, t, y, 0)), gm_op_sum(t, gm_op_silu(t, y)));
        if (!(rc = gm_tape_status(t))) rc = gm_tape_backward(t, l);
    }
    if (!rc) rc = gm_iflow_logprob(f, X, 2, 0, lp);
    if (!rc) rc = gm_iflow_sample(f, s, 2, 1, 0);
    if (!rc) rc = gm_iflow_save(f, path);
    if (!rc) rc = gm_iflow_load(&g, path);
    remove(path);
    gm_tape_free(t);
    gm_iflow_free(f);
    gm_iflow_free(g);
    return rc;
}

GM_TEST(test_alloc_sweep_iflow) {
    gm_test_set_threads(1);
    float *X = malloc(10 * 16 * sizeof(float));
    for (size_t i = 0; i < 10 * 16; i++) X[i] = (float)((i * 37) % 256) / 255.0f;
    long k = CHECK_ALLOC_SWEEP(run_iflow_all, X);
    printf("  %ld allocation sites swept\n", k);
    free(X);
}

GM_TEST_MAIN({"alloc_sweep_iflow", test_alloc_sweep_iflow})
