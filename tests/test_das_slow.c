/* SPDX-License-Identifier: MIT */
/* test_das_slow.c — longer DAS known-answer tests: schedule/guidance/scheme invariance on GMM-1 against
 * the reweighting oracle (spec §7.4.5, T4), pooling many N = 16 runs by Ẑ on GMM-2, and S = 1000 runs
 * against the closed forms (spec §7.4.8).
 * Tolerances as in test_das.c: 4 combined SE + 0.02 (mode weights) / 0.03 (E[r]). */
#include "das_test_util.h"

/* Schedule/guidance/scheme invariance on GMM-1 (spec §7.4.5, T4): every variant matches the oracle. */
GM_TEST(test_das_gmm1_variants) {
    toy_setup ts;
    toy_init(&ts, "gmm1");
    gm_gmm g = ts.g;
    gm_denoiser den = ts.den;
    gm_reward rw = ts.rw;
    oracle_stats o;
    run_oracle(&g, &den, &rw, 100, 16000, &o);
    fprintf(stderr, "  oracle (M=16000, ESS %.0f): middle row %.4f %.4f %.4f, E[r] %.4f, log Z %.4f\n", o.ess, o.mode[3], o.mode[4],
            o.mode[5], o.er, o.log_z);
    const int modes[3] = {3, 4, 5};
    struct {
        const char *name;
        gm_temper_mode temper;
        gm_das_grad grad;
        gm_resample_scheme scheme;
    } v[5] = {{"full/exp/ssp", GM_TEMPER_EXP, GM_DAS_GRAD_FULL, GM_RESAMPLE_SSP},
              {"x0only/exp/multinomial", GM_TEMPER_EXP, GM_DAS_GRAD_X0ONLY, GM_RESAMPLE_MULTINOMIAL},
              {"none(bootstrap)/exp/syst", GM_TEMPER_EXP, GM_DAS_GRAD_NONE, GM_RESAMPLE_SYSTEMATIC},
              {"full/untempered(TDS)/ssp", GM_TEMPER_NONE, GM_DAS_GRAD_FULL, GM_RESAMPLE_SSP},
              {"full/adaptive/ssp", GM_TEMPER_ADAPTIVE, GM_DAS_GRAD_FULL, GM_RESAMPLE_SSP}};
    double res[5];
    for (int j = 0; j < 5; j++) {
        gm_das_config c = gm_das_config_default();
        c.n_particles = 100;
        c.temper = v[j].temper;
        c.grad = v[j].grad;
        c.scheme = v[j].scheme;
        das_stats d;
        double worst;
        CHECK_OK(run_das_many(&g, &den, &rw, c, 100, &d));
        report(v[j].name, &d, &o, modes, 3);
        CHECK(modes_match(&d, &o, g.k, &worst));
        CHECK_NEAR(d.er, o.er, 0, 4 * sqrt(d.er_se * d.er_se + o.er_se * o.er_se) + 0.03);
        res[j] = d.resamples;
    }
    CHECK(res[3] > res[0]); /* tempering reduces resampling events (spec T3: 5.4 vs 12.1) */
    gm_gmm_free(&g);
}

/* S = 1000 steps: the sampler's own target is within ~1% of the continuous one, so DAS matches the
 * closed forms of spec §7.2 (mode weights, E_tar[r], log Z). */
GM_TEST(test_das_closed_form_s1000) {
    init_sch();
    const char *names[2] = {"gmm1", "gmm2"};
    for (int j = 0; j < 2; j++) {
        gm_gmm g;
        CHECK_OK(gm_gmm_toy(&g, names[j]));
        gm_denoiser den = gm_gmm_denoiser(&g, &sch);
        gm_toy_reward tr;
        CHECK_OK(gm_toy_reward_parse(names[j], 2, &tr));
        gm_reward rw = gm_toy_reward_as_reward(&tr);
        double lz, w[9], er;
        CHECK_OK(gm_gmm_tilt(&g, &tr, 1.0, &lz, w, NULL, NULL, &er));
        gm_das_config c = gm_das_config_default();
        c.n_particles = 100;
        c.n_steps = 1000;
        das_stats d;
        CHECK_OK(run_das_many(&g, &den, &rw, c, 60, &d));
        fprintf(stderr, "  %s S=1000: E[r] %.4f±%.4f (closed %.4f), log mean Z^ %.4f (closed %.4f; sd log Z^ %.3f), modes", names[j],
                d.er, d.er_se, er, d.zhat_log, lz, d.logz_sd);
        int ok = 1;
        for (size_t k = 0; k < g.k; k++) {
            fprintf(stderr, " %.3f/%.3f", d.mode[k], w[k]);
            ok &= fabs(d.mode[k] - w[k]) <= 4 * d.mode_se[k] + 0.02;
        }
        fprintf(stderr, "\n");
        CHECK(ok);
        CHECK_NEAR(d.er, er, 0, 4 * d.er_se + 0.03);
        /* GMM-1's Ẑ is unbiased but heavy-tailed (twist r(x0^) far below the soft value between modes: rare
         * runs give Ẑ ~ 20 Z), so 60 runs do not pin log mean Ẑ; 400 runs at S = 100 give -1.466 vs the
         * oracle's -1.393 (bootstrap -1.433). Check GMM-2 only. */
        if (j == 1) CHECK_NEAR(d.zhat_log, lz, 0, 4 * d.zhat_rel_se + 0.05);
        gm_gmm_free(&g);
    }
}

/* Pooling runs by their evidence (gm_smc_pool_runs) removes the small-N bias that averaging the runs'
 * self-normalised estimates keeps: GMM-2 with N = 16 particles, 2000 runs. The Ẑ-pooled weight of the top
 * mode matches the oracle (M = 12000) within 4 combined SE + 0.01; the equal-weight mean of the runs is
 * farther from it (measured: equal 0.759 +- 0.006, pooled 0.800, oracle 0.795). */
GM_TEST(test_das_pool_runs_small_n) {
    toy_setup ts;
    toy_init(&ts, "gmm2");
    gm_gmm g = ts.g;
    oracle_stats o;
    run_oracle(&g, &ts.den, &ts.rw, 100, 12000, &o);
    enum { R = 2000, N = 16 };
    double *lz = malloc(sizeof(double) * R), *v = calloc(R, sizeof(double)), W[N], eq = 0, eq2 = 0;
    int comp[N];
    gm_das_config c = gm_das_config_default();
    c.n_particles = N;
    c.n_steps = 100;
    for (int k = 0; k < R; k++) {
        c.seed = 5000 + (uint64_t)k;
        gm_das *d;
        CHECK_OK(das_run(&d, &c, &ts.den, &ts.rw));
        gm_das_weights(d, W);
        gm_gmm_assign(&g, gm_das_particles(d), N, comp);
        for (int i = 0; i < N; i++) v[k] += comp[i] == 2 ? W[i] : 0.0; /* mode (0, 4) */
        lz[k] = gm_das_log_evidence(d);
        eq += v[k] / R;
        eq2 += v[k] * v[k] / R;
        gm_das_free(d);
    }
    double pm, pse, eq_se = sqrt((eq2 - eq * eq) / (R - 1));
    CHECK_OK(gm_smc_pool_runs(lz, v, R, 1, &pm, &pse));
    fprintf(stderr, "  top mode, N = 16 x %d runs: equal-weight %.4f +- %.4f, pooled by Z^ %.4f +- %.4f, oracle %.4f +- %.4f\n",
            R, eq, eq_se, pm, pse, o.mode[2], o.mode_se[2]);
    CHECK_NEAR(pm, o.mode[2], 0, 4 * sqrt(pse * pse + o.mode_se[2] * o.mode_se[2]) + 0.01);
    CHECK(fabs(eq - o.mode[2]) > fabs(pm - o.mode[2]));
    free(lz);
    free(v);
    gm_gmm_free(&g);
}

GM_TEST_MAIN({"das_gmm1_variants", test_das_gmm1_variants}, {"das_pool_runs_small_n", test_das_pool_runs_small_n}, {"das_closed_form_s1000", test_das_closed_form_s1000})
