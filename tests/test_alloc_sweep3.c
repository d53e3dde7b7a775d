/* SPDX-License-Identifier: MIT */
/* test_alloc_sweep3.c — allocation-failure sweeps, part 3 (parts 1 and 2: test_alloc_sweep.c,
 * test_alloc_sweep2.c): the PR-divergence module (RealNVP flow and its trainer, GAN trainer and
 * checkpoints, PR curves from scores / k-NN / histograms / classifiers), its new tape ops (coupling,
 * spectral norm, GAN losses), and the functions merged after part 2 (per-class FD/KID/k-NN, FD by the
 * eigen path, eigenvalues-only Jacobi, the output-path check), and the classifier reward of `align`
 * (merged after part 3 was started; the U-Net sweeps are in test_alloc_sweep4_slow.c).
 *
 * Same contract as parts 1 and 2 (CHECK_ALLOC_SWEEP in tests/gm_test.h): the k-th allocation fails for
 * k = 1, 2, ... until the call succeeds; at each k the call must return GM_ENOMEM with a message and leave
 * nothing allocated. Every object a run uses is created inside the run; sizes are tiny so the sweeps stay
 * cheap under ASan. Thread count 1 so that the allocation order is the same at every k. What the results
 * are is checked by the module tests (test_prdiv*.c, test_eval_perclass.c). */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "genmix/classifier.h"
#include "genmix/das.h"
#include "genmix/eval.h"
#include "genmix/fileio.h"
#include "genmix/linalg.h"
#include "genmix/prdiv.h"
#include "genmix/tape.h"
#include "alloc_sweep_util.h"
#include "gm_test.h"

/* ---- nn ops of the PR module: coupling, spectral norm, GAN losses ------------------------------------ */

static int run_prdiv_ops(void *ctx) {
    (void)ctx;
    enum { B = 3, D = 2 };
    static float x[B * D], st[B * 2 * D], dst[B * 2 * D], w[4 * D], dw[4 * D], u[4], vr[B], vf[B];
    static const float mask[D] = {1, 0};
    double tmp[B * 2 * D];
    fill(tmp, B * 2 * D, 7);
    for (int i = 0; i < B * 2 * D; i++) st[i] = (float)tmp[i];
    fill(tmp, B * D, 8);
    for (int i = 0; i < B * D; i++) x[i] = (float)tmp[i];
    for (int i = 0; i < 4 * D; i++) w[i] = 0.1f * (float)(i % 5) - 0.2f;
    for (int i = 0; i < 4; i++) u[i] = 0.5f;
    for (int i = 0; i < B; i++) vr[i] = 0.3f * (float)i, vf[i] = -0.2f * (float)i;
    gm_tape *t;
    int rc = gm_tape_create(&t, 256);
    if (rc) return rc;
    float ab[2];
    gm_var *xv = gm_tape_input(t, x, 2, (int64_t[]){B, D}, 1);
    gm_var *sv = gm_tape_param(t, st, dst, 2, (int64_t[]){B, 2 * D});
    gm_var *fw = gm_op_coupling(t, xv, sv, mask, 2.0f, 1);
    gm_var *bw = gm_op_coupling(t, xv, sv, mask, 2.0f, -1);
    gm_var *wv = gm_tape_param(t, w, dw, 2, (int64_t[]){4, D});
    gm_var *sn = gm_op_linear(t, xv, gm_op_spectral_norm(t, wv, u, 1, 1e-12f), NULL); /* B x 4 */
    gm_var *r = gm_tape_input(t, vr, 2, (int64_t[]){B, 1}, 1), *f = gm_tape_input(t, vf, 2, (int64_t[]){B, 1}, 1);
    gm_var *lc = gm_op_gan_critic_loss(t, r, f, GM_GAN_PR, 1.0f);
    gm_var *lg = gm_op_gan_gen_loss(t, f, r, GM_GAN_PR, 2.0f, ab);
    gm_var *lk = gm_op_gan_gen_loss(t, f, NULL, GM_GAN_KL, 1.0f, NULL);
    gm_var *loss = gm_op_add(t, gm_op_add(t, gm_op_sum(t, fw), gm_op_sum(t, bw)),
                             gm_op_add(t, gm_op_mean(t, sn), gm_op_add(t, lc, gm_op_add(t, lg, lk))));
    if (!(rc = gm_tape_status(t))) rc = gm_tape_backward(t, loss);
    gm_tape_free(t);
    return rc;
}

GM_TEST(test_sweep_prdiv_ops) {
    gm_test_set_threads(1);
    CHECK(CHECK_ALLOC_SWEEP(run_prdiv_ops, NULL) >= 3);
}

/* ---- RealNVP flow: tape passes, sampling, log densities, α against a toy ---------------------------- */

static int run_flow(void *ctx) {
    (void)ctx;
    enum { B = 3 };
    gm_flow *f;
    int rc = gm_flow_create(&f, 2, 2, 4, 3);
    if (rc) return rc;
    gm_flow_init(f, 3, 0);
    static float z[B * 2];
    double tmp[B * 2];
    fill(tmp, B * 2, 9);
    for (int i = 0; i < B * 2; i++) z[i] = (float)tmp[i];
    gm_tape *t;
    if ((rc = gm_tape_create(&t, 256))) {
        gm_flow_free(f);
        return rc;
    }
    gm_params_zero_grad(&f->params);
    gm_var *ld = NULL, *li = NULL;
    gm_var *x = gm_flow_forward(f, t, gm_tape_input(t, z, 2, (int64_t[]){B, 2}, 0), &ld, 0);
    gm_var *zz = gm_flow_inverse(f, t, x, &li, 0);
    gm_var *lp = gm_flow_logprob(f, t, gm_tape_input(t, z, 2, (int64_t[]){B, 2}, 0), 0);
    gm_var *loss = gm_op_add(t, gm_op_add(t, gm_op_sum(t, zz), gm_op_sum(t, ld)),
                             gm_op_add(t, gm_op_sum(t, li), gm_op_mean(t, lp)));
    if (!(rc = gm_tape_status(t))) rc = gm_tape_backward(t, loss);
    gm_tape_free(t);
    float xs[B * 2];
    double lq[B], lam[2] = {0.5, 2}, al[2], ap[2], aq[2];
    if (!rc) rc = gm_flow_sample(f, xs, B, 4, 1);
    if (!rc) rc = gm_flow_logprob_eval(f, xs, B, lq);
    if (!rc) rc = gm_flow_toy_alpha(f, GM_TOY_8GAUSS, lam, 2, 4, 5, al, ap, aq);
    gm_flow_free(f);
    return rc;
}

GM_TEST(test_sweep_flow) {
    gm_test_set_threads(1);
    CHECK(CHECK_ALLOC_SWEEP(run_flow, NULL) >= 3);
}

/* ---- flow trainer: MLE pretraining then the PR objective, checkpoint round trip ---------------------- */

static int run_flowtrain(void *ctx) {
    char proc = *(const char *)ctx;
    gm_flowtrain_config c = gm_flowtrain_config_default();
    c.procedure = proc;
    c.n_layers = 2, c.hidden = 4, c.batch = 4, c.pretrain = 1, c.seed = 2;
    gm_flowtrain *f, *g = NULL;
    int rc = gm_flowtrain_create(&f, &c);
    if (rc) return rc;
    double loss;
    for (int i = 0; i < 2 && !rc; i++) rc = gm_flowtrain_step(f, &loss); /* step 0 MLE, step 1 PR */
    const char *p = tmp_path(proc == 'B' ? "flowB.safetensors" : proc == 'A' ? "flowA.safetensors" : "flowC.safetensors");
    if (!rc) rc = gm_flowtrain_save(f, p);
    if (!rc) rc = gm_flowtrain_load(&g, p);
    if (!rc && !gm_flowtrain_flow(g)) rc = GM_EINVAL;
    gm_flowtrain_free(g);
    gm_flowtrain_free(f);
    return rc;
}

GM_TEST(test_sweep_flowtrain) {
    gm_test_set_threads(1);
    tmp_dir_make();
    static const char procs[3] = {'C', 'B', 'A'};
    for (int i = 0; i < 3; i++) CHECK(CHECK_ALLOC_SWEEP(run_flowtrain, (void *)&procs[i]) >= 5);
    tmp_dir_remove();
}

/* ---- GAN trainer: steps (χ² pretraining, then the objective), samples, critic, checkpoints ----------- */

static int run_gan(void *ctx) {
    gm_gan_config c = gm_gan_config_default();
    c.objective = *(const gm_gan_objective *)ctx;
    c.dim_z = 2, c.hidden = 4, c.batch = 4, c.n_critic = 1, c.ema_start = 1, c.pretrain = 1, c.seed = 6;
    gm_gan *g, *h = NULL;
    int rc = gm_gan_create(&g, &c);
    if (rc) return rc;
    gm_gan_status st;
    for (int i = 0; i < 2 && !rc; i++) rc = gm_gan_step(g, &st);
    float x[3 * 2], v[3];
    if (!rc) rc = gm_gan_sample(g, x, 3, 1, 7);
    if (!rc) rc = gm_gan_sample(g, x, 3, 0, 7);
    if (!rc) rc = gm_gan_critic(g, x, 3, v);
    const char *p = tmp_path("gan.safetensors");
    if (!rc) rc = gm_gan_save(g, p);
    if (!rc) rc = gm_gan_load(&h, p);
    if (!rc) { /* fine-tuning the loaded run: more critic steps (a larger real buffer), the KL-ratio PR loss */
        gm_gan_config r = *gm_gan_get_config(h);
        r.n_critic = 3, r.objective = GM_GAN_PR_KL;
        rc = gm_gan_reconfigure(h, &r);
    }
    if (!rc) rc = gm_gan_step(h, &st);
    gm_gan_free(h);
    gm_gan_free(g);
    return rc;
}

GM_TEST(test_sweep_gan) {
    gm_test_set_threads(1);
    tmp_dir_make();
    static const gm_gan_objective objs[2] = {GM_GAN_PR, GM_GAN_HINGE};
    for (int i = 0; i < 2; i++) CHECK(CHECK_ALLOC_SWEEP(run_gan, (void *)&objs[i]) >= 5);
    tmp_dir_remove();
}

/* ---- PR curves from scores and from samples ---------------------------------------------------------- */

enum { P_NR = 12, P_NF = 10, P_D = 3 };
static double g_pr[P_NR * P_D], g_pf[P_NF * P_D];

static int run_prcurve(void *ctx) {
    (void)ctx;
    gm_feats R = gm_feats_f64(g_pr, P_NR, P_D), F = gm_feats_f64(g_pf, P_NF, P_D);
    double lam[3] = {0.25, 1, 4}, a[3], b[3], lr[P_NR], lf[P_NF];
    int rc = gm_prcurve_from_scores(g_pr, P_NR, g_pf, P_NF, lam, 3, a, b);
    if (!rc) rc = gm_prcurve_knn(&R, &F, 2, lam, 3, a, b);
    if (!rc) rc = gm_prcurve_knn_logratio(&R, &F, 2, lr, lf);
    gm_prcurve_config c = gm_prcurve_config_default();
    c.runs = 2, c.epochs = 1, c.batch = 4, c.hidden = 3, c.k = 2, c.seed = 1;
    c.prd.num_clusters = 3, c.prd.num_angles = 11, c.prd.num_runs = 2, c.prd.n_init = 1, c.prd.max_iter = 3;
    if (!rc) rc = gm_prcurve_hist(&R, &F, &c.prd, lam, 3, a, b);
    if (!rc) rc = gm_prcurve_classifier(&R, &F, &c, lam, 3, a, b);
    for (int e = 0; e < 3 && !rc; e++) rc = gm_prcurve_estimate(&R, &F, (gm_prcurve_estimator)e, &c, lam, 3, a, b);
    return rc;
}

GM_TEST(test_sweep_prcurve) {
    gm_test_set_threads(1);
    fill(g_pr, P_NR * P_D, 21);
    fill(g_pf, P_NF * P_D, 22);
    for (size_t i = 0; i < P_NF * P_D; i++) g_pf[i] += 0.2;
    CHECK(CHECK_ALLOC_SWEEP(run_prcurve, NULL) >= 5);
}

/* ---- merged after part 2: per-class metrics, FD eigen path, Jacobi eigenvalues, output check -------- */

enum { C_NR = 12, C_NF = 12, C_D = 2 };
static double g_cr[C_NR * C_D], g_cf[C_NF * C_D];

static int run_perclass(void *ctx) {
    (void)ctx;
    gm_feats R = gm_feats_f64(g_cr, C_NR, C_D), F = gm_feats_f64(g_cf, C_NF, C_D);
    int64_t lr[C_NR], lf[C_NF];
    for (size_t i = 0; i < C_NR; i++) lr[i] = (int64_t)(i % 2);
    for (size_t i = 0; i < C_NF; i++) lf[i] = (int64_t)((i * 5) % 2);
    gm_class_metrics m;
    int rc = gm_fd_per_class(&R, lr, &F, lf, GM_COV_UNBIASED, &m);
    if (rc) return rc;
    gm_class_metrics_free(&m);
    gm_kid_config kc = gm_kid_config_default();
    kc.subsets = 2, kc.subset_size = 3;
    if ((rc = gm_kid_per_class(&R, lr, &F, lf, &kc, &m))) return rc;
    gm_class_metrics_free(&m);
    gm_knn_config nc = gm_knn_config_default();
    nc.k_pr = 2, nc.k_dc = 2;
    if ((rc = gm_knn_per_class(&R, lr, &F, lf, &nc, &m))) return rc;
    gm_class_metrics_free(&m);
    return GM_OK;
}

static int run_eigh(void *ctx) {
    (void)ctx;
    enum { N = 4 };
    double A[N * N], S1[N * N], S2[N * N], mu1[N], mu2[N], w[N];
    fill(A, N * N, 31);
    for (size_t i = 0; i < N; i++)
        for (size_t j = 0; j <= i; j++) {
            double s1 = 0, s2 = 0;
            for (size_t k = 0; k < N; k++) s1 += A[i * N + k] * A[j * N + k], s2 += A[k * N + i] * A[k * N + j];
            S1[i * N + j] = S1[j * N + i] = s1 + (i == j);
            S2[i * N + j] = S2[j * N + i] = s2 + (i == j);
        }
    fill(mu1, N, 32);
    fill(mu2, N, 33);
    gm_fd_result r;
    int rc = gm_fd_from_moments_eigh(mu1, S1, mu2, S2, N, &r);
    memcpy(A, S1, sizeof A);
    if (!rc) rc = gm_la_syev_values_ref(A, N, w);
    memcpy(A, S1, sizeof A);
    if (!rc) rc = gm_la_syev_values(A, N, w); /* band path: its buffers and dsbev_2stage's work */
    if (!rc) rc = gm_output_check(tmp_path("out.npy"));
    return rc;
}

GM_TEST(test_sweep_perclass_eigh) {
    gm_test_set_threads(1);
    tmp_dir_make();
    fill(g_cr, C_NR * C_D, 41);
    fill(g_cf, C_NF * C_D, 42);
    CHECK(CHECK_ALLOC_SWEEP(run_perclass, NULL) >= 3);
    CHECK(CHECK_ALLOC_SWEEP(run_eigh, NULL) >= 14);
    tmp_dir_remove();
}

/* ---- the classifier reward of `align` (a tiny CNN checkpoint written before the sweep) --------------- */

static int run_reward_clf(void *ctx) {
    const char *path = ctx;
    gm_reward_clf *r;
    gm_reward rw;
    int rc = gm_reward_clf_open(&r, path, "0,bag", 784, &rw);
    if (rc) return rc;
    static float x[784], g[784];
    for (int i = 0; i < 784; i++) x[i] = (float)(i % 11) / 5.5f - 1.0f;
    double v;
    rc = rw.eval(rw.ctx, x, 1, &v, g);
    static double lp[10];
    if (rc == GM_OK) rc = gm_reward_clf_log_probs(r, x, 1, lp); /* the --eval-clf scores */
    gm_reward_clf_free(r);
    if (rc) return rc;
    char spec[160];
    snprintf(spec, sizeof spec, "%s:trouser", path);
    if ((rc = gm_reward_clf_parse(&r, spec, 784, &rw))) return rc;
    rc = rw.eval(rw.ctx, x, 1, &v, NULL);
    gm_reward_clf_free(r);
    return rc;
}

GM_TEST(test_sweep_reward_clf) {
    gm_test_set_threads(1);
    tmp_dir_make();
    gm_clf_config c = gm_clf_config_default();
    c.spec = "conv:2:3:1:1,relu,maxpool:2,flatten,linear:3,relu,linear:10";
    gm_clf *m;
    CHECK_OK(gm_clf_create(&m, &c));
    const char *cp = tmp_path("clf.safetensors");
    CHECK_OK(gm_clf_save(m, cp));
    gm_clf_free(m);
    CHECK(CHECK_ALLOC_SWEEP(run_reward_clf, (void *)cp) >= 3);
    tmp_dir_remove();
}

GM_TEST_MAIN({"sweep_prdiv_ops", test_sweep_prdiv_ops}, {"sweep_flow", test_sweep_flow},
             {"sweep_flowtrain", test_sweep_flowtrain}, {"sweep_gan", test_sweep_gan},
             {"sweep_prcurve", test_sweep_prcurve}, {"sweep_perclass_eigh", test_sweep_perclass_eigh},
             {"sweep_reward_clf", test_sweep_reward_clf})
