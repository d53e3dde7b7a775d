/* SPDX-License-Identifier: MIT */
/* test_alloc_sweep4_slow.c — allocation-failure sweeps, part 4: the Fashion-MNIST U-Net denoiser
 * (create, train step, forward on the tape, weights and training-state checkpoints, the denoiser of a
 * loaded model). Label slow: even the narrowest U-Net (4 channels, one image) makes ~7300 allocations
 * over the three phases, so the sweep (each k a full run) takes ~25 s in a release build on a loaded
 * 2-core machine, longer under ASan. Contract as parts 1-3 (CHECK_ALLOC_SWEEP in tests/gm_test.h). */
#include <stdint.h>
#include <stdio.h>

#include "genmix/diffusion.h"
#include "genmix/rng.h"
#include "genmix/tape.h"
#include "alloc_sweep_util.h"
#include "gm_test.h"

static gm_diff_schedule g_sch;

/* Phases in separate runs (each creates its own model) to keep the sweep short: 0 = train step and a
 * forward pass on the tape, 1 = weights checkpoint and the denoiser of the loaded model, 2 = training state. */
static int run_unet(void *ctx) {
    int phase = *(const int *)ctx;
    gm_diff_unet *m, *m2 = NULL;
    int rc = gm_diff_unet_create(&m, 4, &g_sch);
    if (rc) return rc;
    gm_diff_unet_init(m, 3);
    static float x0[784], eps[784];
    for (int i = 0; i < 784; i++) x0[i] = (float)(i % 17) / 8.5f - 1.0f;
    gm_tape *t = NULL;
    const char *pw = tmp_path("unet.safetensors"), *ps = tmp_path("unet_state.safetensors");
    if (phase == 0) {
        double loss;
        if ((rc = gm_diff_unet_train_step(m, x0, 1, 1e-3f, 0.9f, 7, 0, &loss)) || (rc = gm_tape_create(&t, 256)))
            goto done;
        float tv = 10.0f;
        gm_var *e = gm_diff_unet_forward(m, t, gm_diff_unet_params(m, 1),
                                         gm_tape_input(t, x0, 4, (int64_t[]){1, 1, 28, 28}, 0),
                                         gm_tape_input(t, &tv, 1, (int64_t[]){1}, 0), 1);
        if (!e && !(rc = gm_tape_status(t))) rc = GM_ENOMEM;
    } else if (phase == 1) {
        if ((rc = gm_diff_unet_save(m, pw, 1, 7, "fashion-mnist")) || (rc = gm_diff_unet_load(&m2, pw, &g_sch)) ||
            (rc = gm_diff_unet_load_ema(m2, pw)))
            goto done;
        gm_denoiser den = gm_diff_unet_denoiser(m2);
        rc = den.eps(den.ctx, x0, 1, 10, eps);
    } else {
        gm_rng rng, rng2;
        gm_rng_init(&rng, 7, gm_rng_stream_id(GM_STREAM_DATA, 0));
        int64_t step;
        if (!(rc = gm_diff_unet_save_state(m, ps, 1, 7, &rng))) rc = gm_diff_unet_load_state(m, ps, &step, &rng2);
    }
done:
    gm_tape_free(t);
    gm_diff_unet_free(m2);
    gm_diff_unet_free(m);
    return rc;
}

GM_TEST(test_sweep_unet) {
    gm_test_set_threads(1);
    CHECK_OK(gm_diff_schedule_init(&g_sch, GM_BETA_LINEAR, 1000));
    tmp_dir_make();
    static const int phases[3] = {0, 1, 2};
    for (int i = 0; i < 3; i++) CHECK(CHECK_ALLOC_SWEEP(run_unet, (void *)&phases[i]) >= 3);
    tmp_dir_remove();
}

GM_TEST_MAIN({"sweep_unet", test_sweep_unet})
