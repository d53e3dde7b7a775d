/* SPDX-License-Identifier: MIT */
/* test_alloc_sweep_gan_conv_slow.c — allocation-failure sweep of the Fashion-MNIST conv GAN (src/prdiv/prdiv_gan_conv.c):
 * every allocation of create, 2 training steps, sample, save and load made to fail in turn must give
 * GM_ENOMEM (never another status, never a crash), and the run succeeds once no allocation fails.
 * 1647 allocation sites; 17 s to 130 s on the shared machine depending on its load, hence the slow label. */
#include "gm_test.h"
#include "genmix/prdiv.h"

#include <stdio.h>
#include <unistd.h>

GM_TEST(test_conv_alloc_failure_sweep) {
    /* every allocation of create + 2 steps + sample + save + load, made to fail in turn: GM_ENOMEM each time */
    float *X = malloc(8 * 784 * sizeof(float)), x[2 * 784];
    for (size_t i = 0; i < 8 * 784; i++) X[i] = (float)((i * 7) % 13) / 12.0f;
    gm_cgan_config c = gm_cgan_config_default();
    c.dim_z = 8, c.g_width = 4, c.d_width = 4, c.groups = 2, c.n_critic = 1, c.batch = 4, c.ema_start = 1;
    char path[64];
    snprintf(path, sizeof path, "/tmp/gm_cgan_sweep_%d.safetensors", (int)getpid());
    int done = 0, bad = 0;
    long n;
    for (n = 1; n < 5000 && !done; n++) {
        gm_alloc_fail_nth(n, 1);
        gm_cgan *g = NULL, *h = NULL;
        int rc = gm_cgan_create(&g, &c);
        if (!rc) rc = gm_cgan_set_data(g, X, 8);
        for (int i = 0; !rc && i < 2; i++) rc = gm_cgan_step(g, NULL);
        if (!rc) rc = gm_cgan_sample(g, x, 2, 1, 0);
        if (!rc) rc = gm_cgan_save(g, path);
        if (!rc) rc = gm_cgan_load(&h, path);
        gm_cgan_free(g);
        gm_cgan_free(h);
        gm_alloc_fail_nth(0, 0);
        if (rc == GM_OK) done = 1;
        else if (rc != GM_ENOMEM) bad++, fprintf(stderr, "  allocation %ld: status %d (%s)\n", n, rc, gm_last_error());
    }
    printf("  %ld allocation sites swept\n", n - 2);
    CHECK(done);
    CHECK_INT_EQ(bad, 0);
    remove(path);
    free(X);
}

GM_TEST_MAIN({"conv_alloc_failure_sweep", test_conv_alloc_failure_sweep})
