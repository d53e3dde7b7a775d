/* SPDX-License-Identifier: MIT */
/* test_alloc_sweep2.c — allocation-failure sweeps, part 2 (test_alloc_sweep.c is part 1): linalg, SMC,
 * diffusion (schedules, samplers, exact GMM denoiser, the toy MLP and its checkpoints), DAS and its
 * baselines, external rewards, and the functions merged after part 1 (CMMD, FD-infinity, per-class Vendi,
 * classifier prediction, mix trace summary, MoE model files and simulation summary).
 *
 * Same contract as part 1 (CHECK_ALLOC_SWEEP in tests/gm_test.h): the k-th allocation fails for k = 1, 2, ...
 * until the call succeeds, and at each k the call must return GM_ENOMEM with a message and leave nothing
 * allocated. Every object a run uses is created inside the run (so that the counting allocator sees both
 * its allocation and its release); inputs are tiny so the sweeps stay cheap under ASan. Thread count 1 so
 * that the allocation order is the same at every k. What the results are is checked by the module tests. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "genmix/classifier.h"
#include "genmix/das.h"
#include "genmix/diffusion.h"
#include "genmix/eval.h"
#include "genmix/io.h"
#include "genmix/linalg.h"
#include "genmix/mix.h"
#include "genmix/moe.h"
#include "genmix/rng.h"
#include "genmix/smc.h"
#include "alloc_sweep_util.h"
#include "gm_test.h"

/* ---- linalg --------------------------------------------------------------------------------------- */

static int run_linalg(void *ctx) {
    (void)ctx;
    enum { N = 5 };
    double A[N * N], B[N * 2], w[N], S[N * 3], s[3], p;
    fill(A, N * N, 3);
    for (size_t i = 0; i < N; i++) A[i * N + i] += 3; /* well conditioned */
    fill(B, N * 2, 4);
    int rc = gm_la_lu_solve(A, B, N, 2, 0);
    if (rc) return rc;
    fill(A, N * N, 5);
    for (size_t i = 0; i < N; i++)
        for (size_t j = 0; j < i; j++) A[i * N + j] = A[j * N + i];
    if ((rc = gm_la_syev_ref(A, N, w, 1))) return rc;
    fill(S, N * 3, 6);
    if ((rc = gm_la_svd_values_ref(S, N, 3, s))) return rc;
    fill(S, N * 3, 6);
    if ((rc = gm_la_svd_values_ref(S, 3, N, s))) return rc; /* wide: the other Gram matrix */
    return gm_percentile(w, N, 90, &p);
}

GM_TEST(test_sweep_linalg) {
    gm_test_set_threads(1);
    CHECK(CHECK_ALLOC_SWEEP(run_linalg, NULL) >= 4);
}

/* ---- SMC: resampling and the particle system ------------------------------------------------------- */

static int run_resample(void *ctx) {
    gm_resample_scheme sc = *(const gm_resample_scheme *)ctx;
    double W[6] = {0.05, 0.3, 0.1, 0.25, 0.2, 0.1};
    size_t anc[9];
    gm_rng rng;
    gm_rng_init(&rng, 11, gm_rng_stream_id(GM_STREAM_PARTICLE, 0));
    int rc = gm_resample(sc, W, 6, 6, &rng, anc);
    return rc ? rc : gm_resample(sc, W, 6, 9, &rng, anc);
}

static int run_smc(void *ctx) {
    gm_smc_config c = gm_smc_config_default(6);
    c.scheme = *(const gm_resample_scheme *)ctx;
    c.ess_threshold = 1.0; /* resample at every step */
    c.seed = 5;
    gm_smc *s;
    int rc = gm_smc_create(&s, &c);
    if (rc) return rc;
    float x[6 * 3];
    double tw[6];
    for (int i = 0; i < 6 * 3; i++) x[i] = (float)i;
    for (int i = 0; i < 6; i++) tw[i] = i;
    if ((rc = gm_smc_register(s, x, 3 * sizeof(float))) || (rc = gm_smc_register(s, tw, sizeof(double)))) goto done;
    double a[6] = {0.1, -1, 0.5, -HUGE_VAL, 0.2, 1.5};
    int res;
    for (int j = 0; j < 3 && !rc; j++) rc = gm_smc_step(s, a, &res);
    if (!rc && !(rc = gm_smc_reweight(s, a))) rc = gm_smc_resample_now(s);
done:
    gm_smc_free(s);
    return rc;
}

GM_TEST(test_sweep_smc) {
    gm_test_set_threads(1);
    for (int k = 0; k < 3; k++) {
        gm_resample_scheme sc = (gm_resample_scheme)k;
        CHECK_ALLOC_SWEEP(run_resample, &sc);
        CHECK_ALLOC_SWEEP(run_smc, &sc);
    }
}

/* ---- diffusion: mixtures, samplers, closed forms ---------------------------------------------------- */

static gm_diff_schedule g_sch; /* ~160 kB: static, initialised once */

static int run_diffusion(void *ctx) {
    (void)ctx;
    gm_gmm g, h;
    memset(&h, 0, sizeof h);
    int rc = gm_gmm_toy(&g, "gmm2");
    if (rc) return rc;
    gm_denoiser den = gm_gmm_denoiser(&g, &g_sch);
    float x[5 * 2];
    gm_diff_sampler *s = NULL;
    if ((rc = gm_diff_sampler_create(&s, &g_sch, &den, 3, 1.0, GM_SPACING_LEADING, 5, 9))) goto done;
    while (!gm_diff_sampler_done(s) && !rc) rc = gm_diff_sampler_step(s);
    if (rc || (rc = gm_diff_sample(&g_sch, &den, 4, 0.5, GM_SPACING_LINSPACE, 5, 10, x))) goto done;
    double mean, var;
    if ((rc = gm_diff_gauss_marginal(&g_sch, 5, 0.7, GM_SPACING_LEADING, 0.3, 0.5, &mean, &var))) goto done;
    if ((rc = gm_gmm_init(&h, 2, 3))) goto done;
    gm_gmm_free(&h);
    gm_toy_reward tr;
    if ((rc = gm_toy_reward_parse("gmm2", 2, &tr))) goto done;
    double lz, w[8], m[16], v[16], er;
    rc = gm_gmm_tilt(&g, &tr, 0.5, &lz, w, m, v, &er);
done:
    gm_diff_sampler_free(s);
    gm_gmm_free(&g);
    return rc;
}

/* The toy MLP: create, train, checkpoint round trips, its denoiser driving the sampler. */
static int run_diff_mlp(void *ctx) {
    (void)ctx;
    gm_diff_mlp *m, *m2 = NULL;
    int rc = gm_diff_mlp_create(&m, 2, 8, &g_sch);
    if (rc) return rc;
    gm_diff_mlp_init(m, 3);
    float x0[4 * 2] = {0.1f, -0.2f, 0.5f, 0.4f, -1, 0.3f, 0.2f, 0.9f};
    double loss;
    for (uint64_t st = 0; st < 2 && !rc; st++) rc = gm_diff_mlp_train_step(m, x0, 4, 1e-3f, 0.9f, 7, st, &loss);
    if (rc) goto done;
    const char *pw = tmp_path("mlp.safetensors"), *ps = tmp_path("mlp_state.safetensors");
    gm_rng rng, rng2;
    gm_rng_init(&rng, 7, gm_rng_stream_id(GM_STREAM_DATA, 0));
    int64_t step;
    if ((rc = gm_diff_mlp_save(m, pw, 2, 7, "toy:gmm2")) || (rc = gm_diff_mlp_save_state(m, ps, 2, 7, &rng)) ||
        (rc = gm_diff_mlp_load(&m2, pw, &g_sch)) || (rc = gm_diff_mlp_load_state(m2, ps, &step, &rng2)) ||
        (rc = gm_diff_mlp_load_ema(m2, pw)))
        goto done;
    gm_denoiser den = gm_diff_mlp_denoiser(m2);
    float x[3 * 2];
    rc = gm_diff_sample(&g_sch, &den, 2, 1.0, GM_SPACING_LEADING, 3, 4, x);
done:
    gm_diff_mlp_free(m2);
    gm_diff_mlp_free(m);
    return rc;
}

/* KL-regularised reward fine-tuning through the chain (diff_finetune.c): create, two epochs, a loss with
 * gradient, the fine-tuned copy's denoiser. */
static int run_diff_ft(void *ctx) {
    (void)ctx;
    gm_diff_mlp *m;
    gm_diff_ft *f = NULL;
    int rc = gm_diff_mlp_create(&m, 2, 8, &g_sch);
    if (rc) return rc;
    gm_diff_mlp_init(m, 3);
    gm_toy_reward tr;
    if ((rc = gm_toy_reward_parse("gmm2", 2, &tr))) goto done;
    gm_reward rw = gm_toy_reward_as_reward(&tr);
    gm_diff_ft_config c = gm_diff_ft_config_default();
    c.n_steps = 3;
    c.batch = 5;
    c.epochs = 2;
    if ((rc = gm_diff_ft_create(&f, &c, m, rw.eval, rw.ctx))) goto done;
    while (!rc && !gm_diff_ft_done(f)) rc = gm_diff_ft_step(f);
    size_t n;
    gm_diff_ft_params(f, &n);
    float *g = malloc(n * sizeof *g);
    double loss;
    if (!rc) rc = g ? gm_diff_ft_loss(f, 7, &loss, g) : GM_ENOMEM;
    free(g);
    if (rc) goto done;
    gm_denoiser den = gm_diff_mlp_denoiser(gm_diff_ft_model(f));
    float x[3 * 2];
    rc = gm_diff_sample(&g_sch, &den, 2, 1.0, GM_SPACING_LEADING, 3, 4, x);
done:
    gm_diff_ft_free(f);
    gm_diff_mlp_free(m);
    return rc;
}

GM_TEST(test_sweep_diffusion) {
    gm_test_set_threads(1);
    CHECK_OK(gm_diff_schedule_init(&g_sch, GM_BETA_LINEAR, 1000));
    tmp_dir_make();
    CHECK_ALLOC_SWEEP(run_diffusion, NULL);
    CHECK_ALLOC_SWEEP(run_diff_mlp, NULL);
    CHECK_ALLOC_SWEEP(run_diff_ft, NULL);
    tmp_dir_remove();
}

/* ---- DAS and its baselines -------------------------------------------------------------------------- */

typedef struct {
    gm_das_config c;
    int with_mlp; /* denoiser: the toy MLP (eps VJP through the tape) instead of the exact GMM one */
} das_case;

static int run_das(void *ctx) {
    const das_case *dc = ctx;
    gm_gmm g;
    int rc = gm_gmm_toy(&g, "gmm2");
    if (rc) return rc;
    gm_diff_mlp *mlp = NULL;
    gm_das *d = NULL;
    gm_denoiser den = gm_gmm_denoiser(&g, &g_sch);
    if (dc->with_mlp) {
        if ((rc = gm_diff_mlp_create(&mlp, 2, 8, &g_sch))) goto done;
        gm_diff_mlp_init(mlp, 1);
        den = gm_diff_mlp_denoiser(mlp);
    }
    gm_toy_reward tr;
    if ((rc = gm_toy_reward_parse("gmm2", 2, &tr))) goto done;
    gm_reward rw = gm_toy_reward_as_reward(&tr);
    if ((rc = gm_das_create(&d, &dc->c, &g_sch, &den, &rw))) goto done;
    while (!rc && !gm_das_done(d)) rc = gm_das_step(d);
    if (rc) goto done;
    double w[8];
    float out[7 * 2];
    if ((rc = nan_to_status(gm_das_mean_reward(d))) || (rc = gm_das_mode_weights(d, &g, w)) ||
        (rc = gm_das_output_samples(d, GM_DAS_OUT_WEIGHTED, gm_das_size(d), out)) ||
        (rc = gm_das_output_samples(d, GM_DAS_OUT_RESAMPLE, 7, out)))
        goto done;
    rc = gm_das_output_samples(d, GM_DAS_OUT_ARGMAX, 3, out);
done:
    gm_das_free(d);
    gm_diff_mlp_free(mlp);
    gm_gmm_free(&g);
    return rc;
}

static int run_baselines(void *ctx) {
    (void)ctx;
    gm_toy_reward tr;
    int rc = gm_toy_reward_parse("quad:1,0.5,0.2,-0.3", 2, &tr);
    if (rc) return rc;
    gm_reward rw = gm_toy_reward_as_reward(&tr);
    float x[6 * 2] = {0, 1, 2, -1, 0.5f, 0.5f, -2, 0, 1, 1, 0.1f, -0.1f};
    double W[6], lz, ess, r[6], br;
    size_t best;
    if ((rc = gm_sir_oracle(&rw, x, 6, 0.7, W, &lz, &ess, r)) || (rc = gm_sir_oracle(&rw, x, 6, 0.7, W, NULL, NULL, NULL)))
        return rc; /* without r the rewards go to a scratch array */
    return gm_best_of_n(&rw, x, 6, &best, &br);
}

GM_TEST(test_sweep_das) {
    gm_test_set_threads(1);
    CHECK_OK(gm_diff_schedule_init(&g_sch, GM_BETA_LINEAR, 1000));
    das_case dc = {gm_das_config_default(), 0};
    dc.c.n_particles = 5;
    dc.c.n_steps = 4;
    dc.c.ess_threshold = 1.0; /* resample at every step: the gather paths run */
    dc.c.seed = 3;
    CHECK_ALLOC_SWEEP(run_das, &dc); /* full gradient through the exact eps VJP */
    dc.c.temper = GM_TEMPER_ADAPTIVE;
    dc.c.grad = GM_DAS_GRAD_X0ONLY;
    dc.c.scheme = GM_RESAMPLE_MULTINOMIAL;
    dc.c.debug_permutation_bug = 1;
    CHECK_ALLOC_SWEEP(run_das, &dc);
    dc.c = gm_das_config_default();
    dc.c.n_particles = 3;
    dc.c.n_steps = 3;
    dc.c.guidance_only = 1;
    dc.with_mlp = 1; /* full gradient through the MLP's tape VJP */
    CHECK_ALLOC_SWEEP(run_das, &dc);
    dc.c.guidance_only = 0;
    dc.c.grad = GM_DAS_GRAD_NONE;
    dc.c.temper = GM_TEMPER_NONE;
    CHECK_ALLOC_SWEEP(run_das, &dc);
    CHECK_ALLOC_SWEEP(run_baselines, NULL);
}

/* ---- external rewards -------------------------------------------------------------------------------- */

/* The command `cp {in} {out}` turns the N x 1 float32 rows into N rewards (shape (N, 1), converted). */
static int run_reward_cmd(void *ctx) {
    (void)ctx;
    gm_reward_ext *e;
    gm_reward rw;
    int rc = gm_reward_cmd_open(&e, "cp {in} {out}", 1, &rw);
    if (rc) return rc;
    const float x[3] = {0.5f, -1, 2};
    double r[3];
    rc = rw.eval(rw.ctx, x, 3, r, NULL);
    if (!rc && (r[0] != 0.5 || r[2] != 2)) rc = gm_set_error(GM_EINVAL, "cp reward gave %g %g", r[0], r[2]);
    gm_reward_ext_free(e);
    return rc;
}

static char g_plugin[512];
static int run_reward_plugin(void *ctx) {
    (void)ctx;
    gm_reward_ext *e;
    gm_reward rw;
    int rc = gm_reward_plugin_open(&e, g_plugin, 2, &rw);
    if (rc) return rc;
    const float x[4] = {0, 1, 2, 0};
    double r[2];
    float gr[4];
    rc = rw.eval(rw.ctx, x, 2, r, rw.has_grad ? gr : NULL);
    gm_reward_ext_free(e);
    return rc;
}

GM_TEST(test_sweep_rewards) {
    gm_test_set_threads(1);
    CHECK_ALLOC_SWEEP(run_reward_cmd, NULL);
    /* ctest sets GM_GENMIX to build/genmix; CMake builds the plugin as build/tests/genmix_reward_test.so */
    const char *bin = getenv("GM_GENMIX");
    if (bin && strrchr(bin, '/')) snprintf(g_plugin, sizeof g_plugin, "%.*s/tests/genmix_reward_test.so",
                                           (int)(strrchr(bin, '/') - bin), bin);
    else snprintf(g_plugin, sizeof g_plugin, "build/tests/genmix_reward_test.so");
    CHECK(access(g_plugin, R_OK) == 0);
    CHECK_ALLOC_SWEEP(run_reward_plugin, NULL);
}

/* ---- eval: CMMD, FD-infinity, per-class Vendi; classifier prediction ------------------------------ */

enum { E_NR = 24, E_NF = 20, E_D = 4 };
static double g_er[E_NR * E_D], g_ef[E_NF * E_D];

static int run_eval2(void *ctx) {
    (void)ctx;
    gm_feats R = gm_feats_f64(g_er, E_NR, E_D), F = gm_feats_f64(g_ef, E_NF, E_D);
    double v, fd_inf, slope, fds[3];
    size_t ns[3];
    int rc = gm_cmmd(&R, &F, 1.0, GM_MMD_UNBIASED, &v);
    if (rc || (rc = gm_cmmd(&R, &F, 1.0, GM_MMD_BIASED, &v))) return rc;
    gm_fdstats st;
    if ((rc = gm_fdstats_init(&st, E_D))) return rc;
    if (!(rc = gm_fdstats_add(&st, &R)) &&
        !(rc = gm_fd_infinity(&st, &F, GM_COV_UNBIASED, 8, 3, 5, 1, &fd_inf, &slope, ns, fds)))
        rc = gm_fd_infinity(&st, &F, GM_COV_BIASED, 10, 2, 5, 0, &fd_inf, &slope, NULL, NULL);
    gm_fdstats_free(&st);
    if (rc) return rc;
    int64_t lab[E_NR];
    for (size_t i = 0; i < E_NR; i++) lab[i] = (int64_t)(i * 7 % 3) - 1; /* classes -1, 0, 1 */
    gm_kernel k = gm_kernel_rbf_sigma(0.8);
    gm_vendi_classes vc;
    if ((rc = gm_vendi_per_class(&R, lab, &k, 1.0, &vc))) return rc;
    gm_vendi_per_class_free(&vc);
    return GM_OK;
}

static int run_clf_predict(void *ctx) {
    (void)ctx;
    gm_clf_config c = gm_clf_config_default();
    c.spec = "conv:2:3:1:1,relu,maxpool:2,flatten,linear:3,relu,linear:10";
    gm_clf *m;
    int rc = gm_clf_create(&m, &c);
    if (rc) return rc;
    static float X[2 * 784];
    for (size_t i = 0; i < 2 * 784; i++) X[i] = (float)(i % 13) / 13.0f;
    uint8_t lab[2];
    rc = gm_clf_predict(m, X, 2, lab);
    gm_clf_free(m);
    return rc;
}

GM_TEST(test_sweep_eval2) {
    gm_test_set_threads(1);
    fill(g_er, E_NR * E_D, 31);
    fill(g_ef, E_NF * E_D, 32);
    for (size_t i = 0; i < E_NF * E_D; i++) g_ef[i] += 0.2;
    CHECK_ALLOC_SWEEP(run_eval2, NULL);
    CHECK_ALLOC_SWEEP(run_clf_predict, NULL);
}

/* ---- mix trace summary; MoE model files and simulation summary ------------------------------------- */

enum { T2_M = 2, T2_N = 8, T2_T = 6 };
static float g_p2[T2_M][T2_N * 2];

static int run_mix_summary(void *ctx) {
    (void)ctx;
    gm_mix_config cfg;
    gm_mix_config_default(&cfg, T2_M, 2, T2_T, GM_MIX_QUAD_RKE, 0);
    cfg.sigma = 1.0;
    const float *pool[T2_M] = {g_p2[0], g_p2[1]};
    size_t pn[T2_M] = {T2_N, T2_N};
    gm_mix_trace tr;
    int rc = gm_mix_simulate(&cfg, NULL, pool, pn, NULL, 2, &tr);
    if (rc) return rc;
    gm_mix_trace_summary s;
    if (!(rc = gm_mix_trace_summarize(&tr, &s))) gm_mix_trace_summary_free(&s);
    gm_mix_trace_free(&tr);
    return rc;
}

static int run_moe_io(void *ctx) {
    (void)ctx;
    gm_moe m, l1, l2;
    gm_moe_meta m1, m2;
    memset(&l1, 0, sizeof l1);
    memset(&l2, 0, sizeof l2);
    memset(&m1, 0, sizeof m1);
    memset(&m2, 0, sizeof m2);
    int rc = gm_moe_spec_design(&m, 'A', 0, GM_MOE_GATE_IDENTITY, NULL);
    if (rc) return rc;
    char *feat[8] = {"x1", "x2", "x3", "x4", "x5", "x6", "x7", "x8"};
    double cv[16];
    for (int s = 0; s < 16; s++) cv[s] = 10.0 * s;
    gm_moe_meta meta = {m.dim, m.n_classes, feat, cv, "label"};
    const char *pj = tmp_path("moe.json"), *ps = tmp_path("moe.safetensors");
    void *buf = NULL;
    size_t len;
    if (m.dim > 8 || m.n_classes > 16) {
        rc = gm_set_error(GM_EINVAL, "design larger than the test's names");
        goto done;
    }
    if ((rc = gm_moe_save(pj, GM_MOE_FILE_JSON, &m, &meta, NULL, 42)) ||
        (rc = gm_moe_save(ps, GM_MOE_FILE_SAFETENSORS, &m, &meta, NULL, 42)) || (rc = gm_moe_load(pj, &l1, &m1)) ||
        (rc = gm_read_file(ps, &buf, &len)))
        goto done;
    rc = gm_moe_load_mem(buf, len, "moe.safetensors", &l2, &m2);
done:
    gm_free(buf);
    gm_moe_meta_free(&m1);
    gm_moe_meta_free(&m2);
    gm_moe_free(&l1);
    gm_moe_free(&l2);
    gm_moe_free(&m);
    return rc;
}

static gm_moe_sim_record g_rec[4];
static const double g_ns[2] = {40, 50};
static int run_moe_summary(void *ctx) {
    (void)ctx;
    gm_moe_sim_summary s;
    return gm_moe_sim_summarize(g_rec, g_ns, 2, 2, &s);
}

GM_TEST(test_sweep_mix_moe2) {
    gm_test_set_threads(1);
    double t[T2_M * T2_N * 2];
    fill(t, sizeof t / sizeof t[0], 41);
    for (size_t i = 0; i < T2_M; i++)
        for (size_t j = 0; j < T2_N * 2; j++) g_p2[i][j] = (float)(t[i * T2_N * 2 + j] + 0.5 * (double)i);
    CHECK_ALLOC_SWEEP(run_mix_summary, NULL);
    tmp_dir_make();
    CHECK_ALLOC_SWEEP(run_moe_io, NULL);
    tmp_dir_remove();
    /* the summary's input: two replications at two sample sizes of a tiny simulation (outside the sweep) */
    gm_moe truth;
    CHECK_OK(gm_moe_spec_design(&truth, 'B', 0, GM_MOE_GATE_IDENTITY, NULL));
    gm_moe_sim_config sc = gm_moe_sim_config_default();
    sc.truth = &truth;
    sc.k_fit = 2;
    sc.xr = 3.0;
    sc.ns = g_ns;
    sc.n_grid = 2;
    sc.reps = 2;
    sc.seed = 2024;
    sc.fit.max_iter = 3;
    CHECK_OK(gm_moe_simulate(&sc, g_rec, NULL, NULL));
    gm_moe_free(&truth);
    CHECK_ALLOC_SWEEP(run_moe_summary, NULL);
}

GM_TEST_MAIN({"sweep_linalg", test_sweep_linalg}, {"sweep_smc", test_sweep_smc},
             {"sweep_diffusion", test_sweep_diffusion}, {"sweep_das", test_sweep_das},
             {"sweep_rewards", test_sweep_rewards}, {"sweep_eval2", test_sweep_eval2},
             {"sweep_mix_moe2", test_sweep_mix_moe2})
