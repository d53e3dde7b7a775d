/* SPDX-License-Identifier: MIT */
/* test_ae.c — VAE / DVAE / AAE / DAAE on the tape: whole-model finite-difference gradient checks at tiny
 * dimensions (both likelihoods), frozen parts get no gradient, training lowers the loss, training is
 * exactly resumable from (params, Adam moments, step count), and the gm_ae_model view drives the chain. */
#include <unistd.h>

#include "gm_test.h"
#include "genmix/ae.h"
#include "genmix/mcmc.h"
#include "genmix/rng.h"
#include "genmix/tape.h"

enum { TD = 6, Td = 2, TB = 3 };

static gm_ae_config tiny_config(gm_ae_type type, int gaussian) {
    gm_ae_config c = gm_ae_config_default(type);
    c.hidden_act = GM_ACT_TANH; /* smooth: no kinks for the finite differences */
    c.data_dim = TD;
    c.latent_dim = Td;
    c.hidden[0] = 5;
    c.hidden[1] = 4;
    c.disc_hidden = 3;
    c.gaussian = gaussian;
    c.dec_sigma = 0.5;
    c.beta = 0.7;
    c.lambda_adv = 0.8;
    return c;
}

static size_t g_batch = TB;

static double loss_value(gm_ae *ae, gm_tape *t, const float *x, const gm_ae_noise *nz, int which) {
    gm_tape_reset(t);
    int prev = gm_tape_no_grad(t, 1);
    gm_var *l;
    int rc = gm_ae_loss(ae, t, x, g_batch, nz, which, &l, NULL);
    double v = rc ? (double)NAN : (double)l->val[0];
    gm_tape_no_grad(t, prev);
    gm_tape_reset(t);
    return v;
}

/* Central differences (eps 1e-2, float32 forward) against the tape over every parameter; parameters
 * outside `lo..hi` must get exactly zero gradient. Hidden layers use tanh (smooth); elements whose one-sided
 * slopes disagree and whose tape gradient equals one of them (a leaky-ReLU kink within eps) are skipped; every other
 * element must match to 1e-3 + 1e-2 relative. */
static void gradcheck_cfg(const gm_ae_config *cfgp, size_t B, int which) {
    gm_ae_config cfg = *cfgp;
    gm_ae_type type = cfg.type;
    int gaussian = cfg.gaussian;
    const size_t D = cfg.data_dim, dd = cfg.latent_dim;
    g_batch = B;
    gm_ae *ae;
    CHECK_OK(gm_ae_create(&ae, &cfg, 5));
    if (!ae) return;
    gm_tape *t;
    CHECK_OK(gm_tape_create(&t, 0));
    gm_rng r;
    gm_rng_init(&r, 3, gm_rng_stream_id(GM_STREAM_SIM, 0));
    float *x = malloc(B * D * sizeof(float)), *eps = malloc(B * dd * sizeof(float));
    float *cor = malloc(B * D * sizeof(float)), *pri = malloc(B * dd * sizeof(float));
    gm_rng_uniform_fill(&r, x, B * D);
    gm_rng_normal_fill(&r, eps, B * dd);
    gm_rng_normal_fill(&r, cor, B * D);
    gm_rng_normal_fill(&r, pri, B * dd);
    gm_ae_noise nz = {eps, cor, pri};
    const size_t P = gm_ae_num_params(ae);
    float *p = gm_ae_param_values(ae), *g = gm_ae_param_grads(ae);
    memset(g, 0, P * sizeof(float));
    gm_var *loss;
    CHECK_OK(gm_ae_loss(ae, t, x, B, &nz, which, &loss, NULL));
    CHECK_OK(gm_tape_backward(t, loss));
    gm_tape_reset(t);
    /* which part is trained by this loss: encoder + decoder, or the discriminator after them */
    size_t lo = which == 2 ? gm_ae_ae_size(ae) : 0, hi = which == 2 ? P : gm_ae_ae_size(ae);
    int bad = 0, zero_bad = 0, nonzero_num_outside = 0, kinks = 0, checked = 0;
    double worst = 0;
    gm_gc st; /* mean criterion over the checked (non-kink) elements */
    memset(&st, 0, sizeof st);
    for (size_t i = 0; i < P; i++) {
        float keep = p[i];
        double l0 = loss_value(ae, t, x, &nz, which);
        p[i] = keep + 1e-2f;
        double lp = loss_value(ae, t, x, &nz, which);
        p[i] = keep - 1e-2f;
        double lm = loss_value(ae, t, x, &nz, which);
        p[i] = keep;
        double num = (lp - lm) / 2e-2, ana = (double)g[i];
        if (i < lo || i >= hi) {
            zero_bad += ana != 0.0;
            nonzero_num_outside += fabs(num) > 1e-4;
            continue;
        }
        /* A kink of the discriminator's leaky ReLU (AAE types only; everything else is smooth) inside
         * [p - eps, p + eps]: the one-sided slopes disagree and the tape's gradient equals one of them.
         * Anything else must match the central difference. */
        double fwd = (lp - l0) / 1e-2, bwd = (l0 - lm) / 1e-2;
        double tol = 1e-3 + 1e-2 * fabs(num);
        double err = fabs(num - ana) / (fabs(num) + fabs(ana) + 1e-3);
        if (fabs(num - ana) <= tol) {
            checked++;
            gm_gc_add(&st, i, ana, num);
            if (err > worst) worst = err;
        } else if ((type == GM_AE_AAE || type == GM_AE_DAAE) && fabs(fwd - bwd) > tol &&
                   (fabs(ana - fwd) <= 1e-3 + 1e-2 * fabs(fwd) || fabs(ana - bwd) <= 1e-3 + 1e-2 * fabs(bwd))) {
            kinks++;
        } else {
            bad++;
            fprintf(stderr, "   param %zu: numeric %.6g (one-sided %.6g, %.6g), tape %.6g\n", i, num, fwd, bwd, ana);
        }
    }
    if (bad || zero_bad || getenv("GC_VERBOSE"))
        fprintf(stderr, "  %s gaussian=%d loss %d: %d checked, %d kinks skipped, %d mismatches, %d frozen with "
                "gradient, worst rel %.2e\n", gm_ae_type_name(type), gaussian, which, checked, kinks, bad, zero_bad,
                worst);
    CHECK_INT_EQ(bad, 0);
    char label[64];
    snprintf(label, sizeof label, "%s gaussian=%d loss %d", gm_ae_type_name(type), gaussian, which);
    /* the max rule is the per-element tolerance above; the mean: 1e-3 for the MLPs, 1e-2 for the conv models,
     * whose many tiny gradients sit at the float32 round-off of a loss summed over 784 pixels */
    CHECK(gm_gc_ok(&st, label, 1.0, cfg.conv ? 1e-2 : 1e-3));
    CHECK(kinks * 20 <= checked); /* at most ~5 % skipped */
    CHECK(checked > 20);
    CHECK_INT_EQ(zero_bad, 0);
    /* frozen parts really influence the loss (so "zero gradient" is a real check) */
    if (type == GM_AE_AAE || type == GM_AE_DAAE) CHECK(nonzero_num_outside > 0);
    gm_tape_free(t);
    gm_ae_free(ae);
    free(x), free(eps), free(cor), free(pri);
}

static void gradcheck(gm_ae_type type, int gaussian, int which) {
    gm_ae_config cfg = tiny_config(type, gaussian);
    gradcheck_cfg(&cfg, TB, which);
}

GM_TEST(test_gradcheck_conv) {
    /* convolutional encoder/decoder (28x28, 2 and 3 channels, d = 2), every type. The Gaussian likelihood
     * with a wide decoder std keeps the loss O(1), so float32 central differences resolve the gradients
     * (the summed BCE over 784 pixels is ~500 and its rounding noise swamps them; the BCE kernel path
     * itself is covered by the MLP checks). */
    for (int type = 0; type < 4; type++) {
        gm_ae_config cfg = tiny_config((gm_ae_type)type, 1);
        cfg.dec_sigma = 3.0;
        cfg.conv = 1;
        cfg.data_dim = 784;
        cfg.hidden[0] = 2;
        cfg.hidden[1] = 3;
        gradcheck_cfg(&cfg, 2, 1);
        if (type >= 2) gradcheck_cfg(&cfg, 2, 2);
    }
}

GM_TEST(test_gradcheck_vae) {
    gradcheck(GM_AE_VAE, 0, 1);
    gradcheck(GM_AE_VAE, 1, 1);
}
GM_TEST(test_gradcheck_dvae) {
    gradcheck(GM_AE_DVAE, 0, 1);
    gradcheck(GM_AE_DVAE, 1, 1);
}
GM_TEST(test_gradcheck_aae) {
    gradcheck(GM_AE_AAE, 0, 1);
    gradcheck(GM_AE_AAE, 0, 2);
    gradcheck(GM_AE_AAE, 1, 1);
}
GM_TEST(test_gradcheck_daae) {
    gradcheck(GM_AE_DAAE, 0, 1);
    gradcheck(GM_AE_DAAE, 0, 2);
}

/* toy data: two prototype images with small noise */
static void toy_data(float *x, size_t n, size_t D, uint64_t seed) {
    gm_rng r;
    gm_rng_init(&r, seed, gm_rng_stream_id(GM_STREAM_SIM, 1));
    for (size_t i = 0; i < n; i++) {
        int c = (int)(i % 2);
        for (size_t j = 0; j < D; j++) {
            double v = (c ? (double)j / (double)D : 1.0 - (double)j / (double)D) + 0.05 * gm_rng_normal(&r);
            x[i * D + j] = (float)(v < 0 ? 0 : v > 1 ? 1 : v);
        }
    }
}

GM_TEST(test_training_lowers_loss_and_resumes) {
    for (int type = 0; type < 4; type++) {
        gm_ae_config cfg = gm_ae_config_default((gm_ae_type)type);
        cfg.data_dim = 16;
        cfg.latent_dim = 2;
        cfg.hidden[0] = 16;
        cfg.hidden[1] = 8;
        cfg.disc_hidden = 8;
        cfg.lr = 3e-3;
        cfg.beta1 = 0.9;
        float x[32 * 16];
        toy_data(x, 32, 16, 1);
        gm_ae *a, *b;
        CHECK_OK(gm_ae_create(&a, &cfg, 9));
        CHECK_OK(gm_ae_create(&b, &cfg, 9));
        if (!a || !b) return;
        gm_ae_stats s0, s;
        CHECK_OK(gm_ae_train_step(a, x, 32, &s0));
        for (int i = 1; i < 200; i++) CHECK_OK(gm_ae_train_step(a, x, 32, &s));
        CHECK(s.rec < 0.9 * s0.rec);
        /* resume: b trains 100 steps and is saved; the reloaded model trains 100 more and equals a */
        for (int i = 0; i < 100; i++) CHECK_OK(gm_ae_train_step(b, x, 32, NULL));
        char path[64];
        snprintf(path, sizeof path, "/tmp/gm_test_ae_%d_%ld.safetensors", type, (long)getpid());
        CHECK_OK(gm_ae_save(b, path));
        gm_ae *c = NULL;
        CHECK_OK(gm_ae_load(&c, path));
        remove(path);
        if (!c) return;
        const size_t P = gm_ae_num_params(b);
        CHECK(memcmp(gm_ae_param_values(c), gm_ae_param_values(b), P * sizeof(float)) == 0);
        CHECK_INT_EQ(gm_ae_get_config(c)->type, type);
        CHECK_INT_EQ(gm_ae_get_config(c)->hidden[1], 8);
        for (int i = 0; i < 100; i++) CHECK_OK(gm_ae_train_step(c, x, 32, NULL));
        CHECK(memcmp(gm_ae_param_values(c), gm_ae_param_values(a), P * sizeof(float)) == 0);
        CHECK_INT_EQ(gm_ae_step_count(c), 200);
        /* the model view drives the chain */
        gm_ae_model m;
        gm_ae_as_model(a, &m);
        CHECK_INT_EQ(m.enc_stochastic, type < 2);
        gm_latent_mcmc_config mc = gm_latent_mcmc_config_default();
        mc.n_chains = 50;
        mc.corrupt_sigma = gm_ae_get_config(a)->sigma_c;
        gm_latent_mcmc *s2;
        CHECK_OK(gm_latent_mcmc_create(&s2, &mc, &m));
        const size_t rec[2] = {0, 5};
        static float out[2 * 50 * 16];
        CHECK_OK(gm_latent_mcmc_run(s2, rec, 2, out));
        int in01 = 1;
        for (size_t i = 0; i < sizeof out / sizeof out[0]; i++) in01 &= out[i] >= 0.0f && out[i] <= 1.0f;
        CHECK(in01);
        gm_latent_mcmc_free(s2);
        gm_ae_free(a);
        gm_ae_free(b);
        gm_ae_free(c);
    }
}

GM_TEST(test_epochs_resume_and_bad_checkpoint) {
    gm_ae_config cfg = tiny_config(GM_AE_DAAE, 0);
    cfg.hidden_act = GM_ACT_RELU;
    cfg.batch = 7;
    float x[40 * TD];
    toy_data(x, 40, TD, 2);
    gm_ae *a, *b, *c = NULL;
    CHECK_OK(gm_ae_create(&a, &cfg, 3));
    CHECK_OK(gm_ae_create(&b, &cfg, 3));
    for (int e = 0; e < 3; e++) CHECK_OK(gm_ae_train_epoch(a, x, 40, NULL, NULL, 0));
    CHECK_INT_EQ(gm_ae_epoch(a), 3);
    CHECK_INT_EQ(gm_ae_step_count(a), 18); /* ceil(40 / 7) = 6 steps per epoch */
    CHECK_OK(gm_ae_train_epoch(b, x, 40, NULL, NULL, 0));
    char path[64];
    snprintf(path, sizeof path, "/tmp/gm_test_ae_ep_%ld.safetensors", (long)getpid());
    CHECK_OK(gm_ae_save(b, path));
    CHECK_OK(gm_ae_load(&c, path));
    if (c) {
        CHECK_INT_EQ(gm_ae_epoch(c), 1);
        for (int e = 0; e < 2; e++) CHECK_OK(gm_ae_train_epoch(c, x, 40, NULL, NULL, 0));
        CHECK(memcmp(gm_ae_param_values(c), gm_ae_param_values(a), gm_ae_num_params(a) * sizeof(float)) == 0);
    }
    gm_ae_free(c);
    c = NULL;
    /* truncated / garbage checkpoints fail with a message naming the file */
    FILE *f = fopen(path, "r+b");
    if (f) {
        fseek(f, 0, SEEK_END);
        long len = ftell(f);
        CHECK(ftruncate(fileno(f), len / 2) == 0);
        fclose(f);
    }
    CHECK(gm_ae_load(&c, path) != GM_OK);
    CHECK(c == NULL && strstr(gm_last_error(), path) != NULL);
    f = fopen(path, "wb");
    if (f) {
        fputs("not a checkpoint", f);
        fclose(f);
    }
    CHECK(gm_ae_load(&c, path) != GM_OK);
    remove(path);
    CHECK(gm_ae_load(&c, "/nonexistent/x.safetensors") != GM_OK);
    gm_ae_free(a);
    gm_ae_free(b);
}

GM_TEST(test_bad_config) {
    gm_ae_config c = gm_ae_config_default(GM_AE_VAE);
    gm_ae *ae = (gm_ae *)&c;
    c.latent_dim = 0;
    CHECK_RC(gm_ae_create(&ae, &c, 1), GM_EINVAL);
    CHECK(ae == NULL);
    c = gm_ae_config_default(GM_AE_VAE);
    c.gaussian = 1;
    c.dec_sigma = 0;
    CHECK_RC(gm_ae_create(&ae, &c, 1), GM_EINVAL);
    c = gm_ae_config_default(GM_AE_AAE);
    c.beta1 = 1.0;
    CHECK_RC(gm_ae_create(&ae, &c, 1), GM_EINVAL);
    CHECK_INT_EQ(gm_ae_type_from_name("daae"), GM_AE_DAAE);
    CHECK_INT_EQ(gm_ae_type_from_name("gan"), -1);
    /* the VAE has no discriminator */
    c = tiny_config(GM_AE_VAE, 0);
    CHECK_OK(gm_ae_create(&ae, &c, 1));
    gm_tape *t;
    CHECK_OK(gm_tape_create(&t, 0));
    float x[TB * TD] = {0}, e[TB * Td] = {0};
    gm_ae_noise nz = {e, x, e};
    gm_var *l;
    CHECK_RC(gm_ae_loss(ae, t, x, TB, &nz, 2, &l, NULL), GM_EINVAL);
    /* NaN input: the training step stops with GM_ENUMERIC naming the step */
    x[4] = NAN;
    CHECK_RC(gm_ae_train_step(ae, x, TB, NULL), GM_ENUMERIC);
    CHECK(strstr(gm_last_error(), "step 0") != NULL);
    gm_tape_free(t);
    gm_ae_free(ae);
}

/* ==== hand-computed objectives on a tiny fixed model ================================================ */

/* Slab offset of tensor k when every tensor starts on a 16-float boundary (models.h gm_params layout). */
static size_t slab_offset(const size_t *sizes, int k) {
    size_t off = 0;
    for (int i = 0; i < k; i++) off += (sizes[i] + 15) / 16 * 16;
    return off;
}
static double softplus_d(double v) { return v > 0 ? v + log1p(exp(-v)) : log1p(exp(v)); }

/* All weights zero and tanh hidden layers: every layer outputs its bias, so the encoder gives the code (or
 * mu | logvar) in enc.out.bias, the decoder the logits in dec.out.bias and the discriminator the logit
 * disc.out.bias whatever the input. The objectives then have closed forms:
 *   VAE:  sum_j BCE(l_j, x_ij) averaged over rows  +  beta * 0.5 sum_k (mu_k^2 + e^lv_k - 1 - lv_k)
 *         (Gaussian decoder: sum_j (sigmoid(l_j) - x_ij)^2 / (2 s^2) for the first term)
 *   AAE:  reconstruction + lambda * BCE(c, 1) = ... + lambda softplus(-c);  discriminator: softplus(-c) + softplus(c). */
GM_TEST(test_objectives_hand_computed) {
    enum { D = 3, d = 2, B = 2 };
    const float x[B * D] = {0.0f, 0.25f, 1.0f, 0.5f, 0.75f, 0.1f};
    const float logit[D] = {0.3f, -1.2f, 2.0f}, mu[d] = {0.5f, -1.5f}, lv[d] = {0.4f, -0.8f}, code[d] = {0.2f, -0.7f};
    const float c = 0.9f;
    const float eps[B * d] = {0.3f, -0.2f, 1.1f, 0.4f}, cor[B * D] = {0}, pri[B * d] = {0.5f, 0.1f, -0.3f, 0.2f};
    gm_ae_noise nz = {eps, cor, pri};
    for (int kind = 0; kind < 3; kind++) { /* VAE Bernoulli, VAE Gaussian, AAE Bernoulli */
        gm_ae_type type = kind < 2 ? GM_AE_VAE : GM_AE_AAE;
        gm_ae_config cfg = tiny_config(type, kind == 1);
        cfg.data_dim = D, cfg.latent_dim = d, cfg.beta = 0.35, cfg.lambda_adv = 0.6, cfg.dec_sigma = 0.5;
        const size_t h0 = cfg.hidden[0], h1 = cfg.hidden[1], dh = cfg.disc_hidden, eo = type == GM_AE_VAE ? 2 * d : d;
        const size_t sizes[18] = {h0 * D, h0, h1 * h0, h1, eo * h1, eo, h1 * d, h1, h0 * h1, h0, D * h0, D,
                                  dh * d, dh, dh * dh, dh, dh, 1};
        gm_ae *ae;
        CHECK_OK(gm_ae_create(&ae, &cfg, 1));
        if (!ae) return;
        CHECK_INT_EQ(gm_ae_num_params(ae), slab_offset(sizes, type == GM_AE_VAE ? 12 : 18));
        float *p = gm_ae_param_values(ae);
        memset(p, 0, gm_ae_num_params(ae) * sizeof(float));
        float *enc_b = p + slab_offset(sizes, 5), *dec_b = p + slab_offset(sizes, 11);
        for (int j = 0; j < D; j++) dec_b[j] = logit[j];
        double rec = 0;
        for (int i = 0; i < B; i++)
            for (int j = 0; j < D; j++) {
                double l = logit[j], xi = x[i * D + j], s = 1 / (1 + exp(-l));
                rec += kind == 1 ? (s - xi) * (s - xi) / (2 * 0.25) : softplus_d(l) - xi * l;
            }
        rec /= B;
        double want, kl = 0, adv = 0;
        if (type == GM_AE_VAE) {
            for (int k = 0; k < d; k++) {
                enc_b[k] = mu[k], enc_b[d + k] = lv[k];
                kl += 0.5 * ((double)mu[k] * (double)mu[k] + exp((double)lv[k]) - 1 - (double)lv[k]);
            }
            want = rec + 0.35 * kl;
        } else {
            for (int k = 0; k < d; k++) enc_b[k] = code[k];
            p[slab_offset(sizes, 17)] = c;
            adv = softplus_d(-c);
            want = rec + 0.6 * adv;
        }
        gm_tape *t;
        CHECK_OK(gm_tape_create(&t, 0));
        gm_var *loss;
        gm_ae_stats st;
        memset(&st, 0, sizeof st);
        CHECK_OK(gm_ae_loss(ae, t, x, B, &nz, 1, &loss, &st));
        CHECK_NEAR(st.loss, want, 1e-5, 1e-6);
        CHECK_NEAR(st.rec, rec, 1e-5, 1e-6);
        if (type == GM_AE_VAE) CHECK_NEAR(st.kl, kl, 1e-5, 1e-6);
        if (type == GM_AE_AAE) {
            CHECK_NEAR(st.adv, adv, 1e-5, 1e-6);
            gm_tape_reset(t);
            CHECK_OK(gm_ae_loss(ae, t, x, B, &nz, 2, &loss, &st));
            CHECK_NEAR(st.disc, softplus_d(-c) + softplus_d(c), 1e-5, 1e-6);
            CHECK_NEAR(loss->val[0], st.disc, 0, 0);
        }
        gm_tape_free(t);
        gm_ae_free(ae);
    }
}

GM_TEST_MAIN({"objectives_hand_computed", test_objectives_hand_computed}, {"gradcheck_vae", test_gradcheck_vae}, {"gradcheck_conv", test_gradcheck_conv}, {"gradcheck_dvae", test_gradcheck_dvae},
             {"gradcheck_aae", test_gradcheck_aae}, {"gradcheck_daae", test_gradcheck_daae},
             {"training_lowers_loss_and_resumes", test_training_lowers_loss_and_resumes},
             {"epochs_resume_and_bad_checkpoint", test_epochs_resume_and_bad_checkpoint}, {"bad_config", test_bad_config})
