/* SPDX-License-Identifier: MIT */
/* smc_das.c — DAS state machine (spec das.md §3.2): tempered twisted SMC over a diffusion sampler, with
 * the stable incremental weight -sigma^2|g|^2/2 - sigma<g,z>, ESS-triggered resampling that gathers x,
 * eps^, x0^, g, the twist and r̂ together, the exact terminal reweighting, and the plain-guidance baseline.
 *
 * Owns: particle arrays (float N x D: x, eps, x0, g, reward gradient, G), per-particle doubles (twist,
 * previous twist, r̂, inc, a), the gm_smc system and the traces. Borrows schedule, denoiser, reward.
 * Thread safety: single owner. The proposal loop is OpenMP-parallel over particles with per-particle
 * Philox streams; every reduction (LSE, ESS, log Ẑ) is serial in particle order, so results do not depend
 * on the thread count. Numerics: log-weights, log Ẑ, inc and <g, z> in double. */
#include <math.h>
#include <string.h>

#include "genmix/das.h"
#include "genmix/rng.h"

struct gm_das {
    gm_das_config cfg;
    const gm_diff_schedule *sch;
    gm_denoiser den;
    gm_reward rw;
    size_t n, d;
    int S, i, *t;
    double gamma, lambda_prev;
    float *x, *eps, *x0, *g, *rg, *G, *vjp;
    double *tw, *tw_prev, *rhat, *inc, *a, *base, *slope, *r_final;
    gm_smc *smc;
    gm_das_trace tr;
    long eps_rows, vjp_rows, reward_rows;
};

gm_das_config gm_das_config_default(void) {
    gm_das_config c;
    memset(&c, 0, sizeof c);
    c.n_particles = 16;
    c.n_steps = 100;
    c.alpha = 1.0;
    c.temper = GM_TEMPER_EXP;
    c.gamma = 0.0;
    c.ess_threshold = 0.5;
    c.adapt_target_ess = 0.5;
    c.scheme = GM_RESAMPLE_SSP;
    c.grad = GM_DAS_GRAD_FULL;
    c.eta = 1.0;
    c.spacing = GM_SPACING_LEADING;
    c.guidance_scale = 1.0;
    c.seed = 42;
    return c;
}

int gm_das_grad_parse(const char *name, gm_das_grad *out) {
    if (!strcmp(name, "full")) *out = GM_DAS_GRAD_FULL;
    else if (!strcmp(name, "x0only")) *out = GM_DAS_GRAD_X0ONLY;
    else if (!strcmp(name, "none")) *out = GM_DAS_GRAD_NONE;
    else GM_FAIL(GM_EINVAL, "unknown gradient mode '%s' (full|x0only|none)", name);
    return GM_OK;
}

void gm_das_free(gm_das *d) {
    if (!d) return;
    void *p[] = {d->t, d->x, d->eps, d->x0, d->g, d->rg, d->G, d->vjp, d->tw, d->tw_prev, d->rhat, d->inc, d->a,
                 d->base, d->slope, d->r_final, d->tr.lambda, d->tr.ess, d->tr.resampled, d->tr.log_z};
    for (size_t j = 0; j < sizeof p / sizeof p[0]; j++) gm_free(p[j]);
    gm_smc_free(d->smc);
    gm_free(d);
}

int gm_das_create(gm_das **out, const gm_das_config *cfg, const gm_diff_schedule *sch, const gm_denoiser *den,
                  const gm_reward *rw) {
    *out = NULL;
    if (!(cfg->alpha > 0.0) || !isfinite(cfg->alpha)) GM_FAIL(GM_EINVAL, "das: alpha must be a finite number > 0 (got %g)", cfg->alpha);
    if (cfg->n_particles < 1) GM_FAIL(GM_EINVAL, "das: number of particles must be >= 1 (got %d)", cfg->n_particles);
    if (cfg->n_steps < 1 || cfg->n_steps > sch->T)
        GM_FAIL(GM_EINVAL, "das: steps must be in 1..%d (got %d)", sch->T, cfg->n_steps);
    if (den->dim != rw->dim) GM_FAIL(GM_ESHAPE, "das: reward dimension %zu != model dimension %zu", rw->dim, den->dim);
    if (cfg->grad != GM_DAS_GRAD_NONE && !rw->has_grad)
        GM_FAIL(GM_EINVAL, "das: the reward has no gradient; use grad none");
    if (cfg->grad == GM_DAS_GRAD_FULL && !den->eps_vjp)
        GM_FAIL(GM_EINVAL, "das: grad full needs the denoiser's input VJP; use x0only or none");
    if ((unsigned)cfg->grad > GM_DAS_GRAD_NONE) GM_FAIL(GM_EINVAL, "das: unknown gradient mode %d", (int)cfg->grad);
    if ((unsigned)cfg->temper > GM_TEMPER_ADAPTIVE) GM_FAIL(GM_EINVAL, "das: unknown tempering mode %d", (int)cfg->temper);
    if (!(cfg->eta >= 0.0 && cfg->eta <= 1.0)) GM_FAIL(GM_EINVAL, "das: eta must be in [0, 1] (got %g)", cfg->eta);
    if (cfg->temper == GM_TEMPER_ADAPTIVE && !(cfg->adapt_target_ess > 0.0 && cfg->adapt_target_ess <= 1.0))
        GM_FAIL(GM_EINVAL, "das: adaptive target ESS fraction must be in (0, 1] (got %g)", cfg->adapt_target_ess);
    gm_das *d = gm_calloc(1, sizeof *d);
    if (!d) return GM_ENOMEM;
    d->cfg = *cfg;
    d->sch = sch;
    d->den = *den;
    d->rw = *rw;
    d->n = (size_t)cfg->n_particles;
    d->d = den->dim;
    d->S = cfg->n_steps;
    d->gamma = cfg->gamma > 0.0 ? cfg->gamma : gm_temper_default_gamma(cfg->n_steps);
    size_t nd = d->n * d->d, n = d->n, ns = (size_t)d->S + 1;
    d->t = gm_malloc((size_t)d->S * sizeof *d->t);
    float **fa[] = {&d->x, &d->eps, &d->x0, &d->g, &d->rg, &d->G, &d->vjp};
    double **da[] = {&d->tw, &d->tw_prev, &d->rhat, &d->inc, &d->a, &d->base, &d->slope, &d->r_final};
    int ok = d->t != NULL;
    for (size_t j = 0; j < sizeof fa / sizeof fa[0]; j++) ok &= (*fa[j] = gm_calloc(nd, sizeof(float))) != NULL;
    for (size_t j = 0; j < sizeof da / sizeof da[0]; j++) ok &= (*da[j] = gm_calloc(n, sizeof(double))) != NULL;
    d->tr.lambda = gm_calloc(ns, sizeof(double));
    d->tr.ess = gm_calloc(ns, sizeof(double));
    d->tr.resampled = gm_calloc(ns, sizeof(int));
    d->tr.log_z = gm_calloc(ns, sizeof(double));
    ok &= d->tr.lambda && d->tr.ess && d->tr.resampled && d->tr.log_z;
    if (!ok) {
        gm_das_free(d);
        return GM_ENOMEM;
    }
    int rc = gm_diff_timesteps(sch, d->S, cfg->spacing, d->t);
    gm_smc_config sc = gm_smc_config_default(n);
    sc.ess_threshold = cfg->guidance_only ? 0.0 : cfg->ess_threshold;
    sc.scheme = cfg->scheme;
    sc.seed = cfg->seed;
    if (rc == GM_OK) rc = gm_smc_create(&d->smc, &sc);
    /* every per-particle array moves with its particle (the official code's bug skips g and the twist) */
    if (rc == GM_OK) rc = gm_smc_register(d->smc, d->x, d->d * sizeof(float));
    if (rc == GM_OK) rc = gm_smc_register(d->smc, d->eps, d->d * sizeof(float));
    if (rc == GM_OK) rc = gm_smc_register(d->smc, d->x0, d->d * sizeof(float));
    if (rc == GM_OK) rc = gm_smc_register(d->smc, d->rhat, sizeof(double));
    if (rc == GM_OK && !cfg->debug_permutation_bug) rc = gm_smc_register(d->smc, d->g, d->d * sizeof(float));
    if (rc == GM_OK && !cfg->debug_permutation_bug) rc = gm_smc_register(d->smc, d->tw, sizeof(double));
    if (rc != GM_OK) {
        gm_das_free(d);
        return rc;
    }
    for (size_t k = 0; k < n; k++) {
        gm_rng r;
        gm_rng_init128(&r, cfg->seed, gm_rng_stream_id(GM_STREAM_PARTICLE, k), 0);
        gm_rng_normal_fill(&r, d->x + k * d->d, d->d);
    }
    *out = d;
    return GM_OK;
}

static double lambda_fixed(const gm_das *d, int i) {
    if (d->cfg.temper == GM_TEMPER_NONE) return 1.0;
    return gm_temper_exp(i, d->gamma);
}

/* Reward on the n rows of x (with gradient into rg if want_grad). */
static int reward_eval(gm_das *d, const float *x, double *r, int want_grad) {
    d->reward_rows += (long)d->n;
    int rc = d->rw.eval(d->rw.ctx, x, d->n, r, want_grad ? d->rg : NULL);
    return rc == GM_OK ? rc : gm_error_prefix(rc, "reward");
}

static int das_final(gm_das *d) {
    size_t n = d->n;
    int rc = reward_eval(d, d->x, d->r_final, 0);
    if (rc != GM_OK) return rc;
    double lam = 1.0 / d->cfg.alpha;
    for (size_t k = 0; k < n; k++) {
        double r = d->r_final[k];
        d->a[k] = (!isfinite(r) || !isfinite(d->tw_prev[k])) ? -HUGE_VAL : d->inc[k] + r * lam - d->tw_prev[k];
    }
    d->tr.lambda[d->S] = 1.0;
    if (!d->cfg.guidance_only) {
        rc = gm_smc_reweight(d->smc, d->a);
        if (rc != GM_OK) return rc;
    }
    d->tr.ess[d->S] = d->cfg.guidance_only ? (double)n : gm_smc_ess(d->smc);
    d->tr.log_z[d->S] = d->cfg.guidance_only ? nan("") : gm_smc_log_evidence(d->smc);
    d->tr.n = d->S + 1;
    d->i++;
    return GM_OK;
}

int gm_das_step(gm_das *d) {
    if (d->i > d->S) GM_FAIL(GM_EINVAL, "das: already finished");
    if (d->i == d->S) return das_final(d);
    size_t n = d->n, D = d->d, nd = n * D;
    int i = d->i, t = d->t[i], tp = i + 1 < d->S ? d->t[i + 1] : -1;
    double ab = gm_diff_abar(d->sch, t), abp = gm_diff_abar(d->sch, tp);
    double s2 = gm_diff_sigma2(ab, abp, d->cfg.eta), sig = sqrt(s2);
    double sa = sqrt(ab), s1a = sqrt(1.0 - ab), ce = sqrt(fmax(1.0 - abp - s2, 0.0)), sap = sqrt(abp);
    const double alpha = d->cfg.alpha;
    int want_grad = d->cfg.grad != GM_DAS_GRAD_NONE && s2 > 0.0;

    /* 1. eps^, Tweedie x0^, reward (and its gradient) at x0^, then G = d r(x0^(x_t)) / d x_t */
    int rc = d->den.eps(d->den.ctx, d->x, n, t, d->eps);
    d->eps_rows += (long)n;
    if (rc != GM_OK) return gm_error_prefix(rc, "denoiser");
    for (size_t j = 0; j < nd; j++) d->x0[j] = (float)(((double)d->x[j] - s1a * (double)d->eps[j]) / sa);
    rc = reward_eval(d, d->x0, d->rhat, want_grad);
    if (rc != GM_OK) return rc;
    if (want_grad && d->cfg.grad == GM_DAS_GRAD_FULL) {
        for (size_t j = 0; j < nd; j++)
            if (!isfinite(d->rg[j])) d->rg[j] = 0.0f;
        rc = d->den.eps_vjp(d->den.ctx, d->x, n, t, d->rg, d->eps, d->vjp);
        d->vjp_rows += (long)n;
        if (rc != GM_OK) return gm_error_prefix(rc, "denoiser VJP");
        for (size_t j = 0; j < nd; j++) d->G[j] = (float)(((double)d->rg[j] - s1a * (double)d->vjp[j]) / sa);
    } else if (want_grad) {
        for (size_t j = 0; j < nd; j++) d->G[j] = (float)((double)d->rg[j] / sa);
    }

    /* 2. tempering exponent of this step */
    double lam;
    if (d->cfg.temper == GM_TEMPER_ADAPTIVE && i > 0 && !d->cfg.guidance_only) {
        for (size_t k = 0; k < n; k++) {
            d->base[k] = isfinite(d->tw_prev[k]) ? d->inc[k] - d->tw_prev[k] : -HUGE_VAL;
            d->slope[k] = isfinite(d->rhat[k]) ? d->rhat[k] / alpha : 0.0;
            if (!isfinite(d->rhat[k])) d->base[k] = -HUGE_VAL;
        }
        lam = gm_temper_adapt(gm_smc_log_weights(d->smc), d->base, d->slope, n, d->lambda_prev, d->cfg.adapt_target_ess);
    } else if (d->cfg.temper == GM_TEMPER_ADAPTIVE && !d->cfg.guidance_only) {
        lam = 0.0; /* i = 0: pure noise */
    } else if (d->cfg.temper == GM_TEMPER_ADAPTIVE) {
        lam = gm_temper_exp(i, d->gamma); /* guidance has no weights to adapt on: the exp schedule */
    } else {
        lam = lambda_fixed(d, i);
    }
    /* guidance strength: lambda_{i+1} for a fixed schedule, lambda_i when adaptive (spec §5) */
    double lam_g = d->cfg.temper == GM_TEMPER_ADAPTIVE && !d->cfg.guidance_only ? lam : lambda_fixed(d, i + 1);
    double gscale = lam_g / alpha * (d->cfg.guidance_only ? d->cfg.guidance_scale : 1.0);

    /* 3. twist, incremental weight, guidance vector */
    for (size_t k = 0; k < n; k++) {
        int dead = !isfinite(d->rhat[k]) || !isfinite(d->tw_prev[k]);
        d->tw[k] = dead ? -HUGE_VAL : lam * d->rhat[k] / alpha;
        d->a[k] = dead ? -HUGE_VAL : d->inc[k] + d->tw[k] - d->tw_prev[k];
        for (size_t j = 0; j < D; j++) {
            double gv = want_grad ? gscale * (double)d->G[k * D + j] : 0.0;
            d->g[k * D + j] = isfinite(gv) ? (float)gv : 0.0f;
        }
    }

    /* 4. reweight, resample iff ESS < tau N (gathering every registered array) */
    int res = 0;
    if (!d->cfg.guidance_only) {
        rc = gm_smc_step(d->smc, d->a, &res);
        if (rc != GM_OK) return rc;
    }
    d->tr.lambda[i] = lam;
    d->tr.ess[i] = d->cfg.guidance_only ? (double)n : gm_smc_ess(d->smc);
    d->tr.resampled[i] = res;
    d->tr.log_z[i] = d->cfg.guidance_only ? nan("") : gm_smc_log_evidence(d->smc);
    memcpy(d->tw_prev, d->tw, n * sizeof *d->tw);
    d->lambda_prev = lam;

    /* 5. propose x' ~ N(mu + sigma^2 g, sigma^2 I); inc = log p - log q = -sigma^2|g|^2/2 - sigma<g, z> */
    uint64_t block = (uint64_t)i + 1;
#pragma omp parallel for schedule(static) if (nd > 65536)
    for (size_t k = 0; k < n; k++) {
        gm_rng r;
        gm_rng_init128(&r, d->cfg.seed, gm_rng_stream_id(GM_STREAM_PARTICLE, k), block);
        float *x = d->x + k * D;
        const float *x0 = d->x0 + k * D, *e = d->eps + k * D, *g = d->g + k * D;
        double gg = 0.0, gz = 0.0;
        for (size_t j = 0; j < D; j++) {
            double mu = sap * (double)x0[j] + ce * (double)e[j];
            if (s2 > 0.0) {
                double z = gm_rng_normal(&r), gj = (double)g[j];
                x[j] = (float)(mu + s2 * gj + sig * z);
                gg += gj * gj;
                gz += gj * z;
            } else {
                x[j] = (float)mu; /* sigma^2 = 0: deterministic, no guidance */
            }
        }
        d->inc[k] = s2 > 0.0 ? -0.5 * s2 * gg - sig * gz : 0.0;
    }
    d->i++;
    return GM_OK;
}

int gm_das_done(const gm_das *d) { return d->i > d->S; }
size_t gm_das_size(const gm_das *d) { return d->n; }
const float *gm_das_particles(const gm_das *d) { return d->x; }
const double *gm_das_rewards(const gm_das *d) { return d->r_final; }
void gm_das_weights(const gm_das *d, double *W) {
    if (d->cfg.guidance_only) {
        for (size_t k = 0; k < d->n; k++) W[k] = 1.0 / (double)d->n;
        return;
    }
    gm_smc_weights(d->smc, W);
}
double gm_das_log_evidence(const gm_das *d) { return d->cfg.guidance_only ? nan("") : gm_smc_log_evidence(d->smc); }
const gm_das_trace *gm_das_get_trace(const gm_das *d) { return &d->tr; }
int gm_das_n_resamples(const gm_das *d) { return gm_smc_n_resamples(d->smc); }
void gm_das_costs(const gm_das *d, long *eps_rows, long *vjp_rows, long *reward_rows) {
    if (eps_rows) *eps_rows = d->eps_rows;
    if (vjp_rows) *vjp_rows = d->vjp_rows;
    if (reward_rows) *reward_rows = d->reward_rows;
}

/* W_k = exp(lw_k - LSE(lw)) computed on the fly: no scratch, so no allocation failure to report (the
 * result is a plain double that callers print). */
double gm_das_mean_reward(const gm_das *d) {
    const double *lw = gm_smc_log_weights(d->smc);
    double l = gm_log_sum_exp(lw, d->n), s = 0.0;
    for (size_t k = 0; k < d->n; k++) {
        double w = d->cfg.guidance_only ? 1.0 / (double)d->n : l == -HUGE_VAL ? 0.0 : exp(lw[k] - l);
        if (w > 0.0) s += w * d->r_final[k];
    }
    return s;
}

int gm_das_mode_weights(const gm_das *d, const gm_gmm *g, double *w) {
    if (g->dim != d->d) GM_FAIL(GM_ESHAPE, "das: mixture dimension %zu != particle dimension %zu", g->dim, d->d);
    double *W = gm_malloc(d->n * sizeof *W);
    int *c = gm_malloc(d->n * sizeof *c);
    if (!W || !c) {
        gm_free(W);
        gm_free(c);
        return GM_ENOMEM;
    }
    gm_das_weights(d, W);
    gm_gmm_assign(g, d->x, d->n, c);
    for (size_t k = 0; k < g->k; k++) w[k] = 0.0;
    for (size_t k = 0; k < d->n; k++) w[c[k]] += W[k];
    gm_free(W);
    gm_free(c);
    return GM_OK;
}

int gm_das_output_samples(const gm_das *d, gm_das_output mode, size_t m, float *out) {
    size_t n = d->n, D = d->d;
    if (!gm_das_done(d)) GM_FAIL(GM_EINVAL, "das: output requested before the last step");
    if (m < 1) GM_FAIL(GM_EINVAL, "das: need at least one output sample");
    double *W = gm_malloc(n * sizeof *W);
    size_t *anc = gm_malloc(m * sizeof *anc);
    if (!W || !anc) {
        gm_free(W);
        gm_free(anc);
        return GM_ENOMEM;
    }
    gm_das_weights(d, W);
    int rc = GM_OK;
    if (mode == GM_DAS_OUT_WEIGHTED) {
        if (m != n) rc = gm_set_error(GM_EINVAL, "das: weighted output has N = %zu rows (asked %zu)", n, m);
        for (size_t k = 0; k < m && rc == GM_OK; k++) anc[k] = k;
    } else if (mode == GM_DAS_OUT_RESAMPLE) {
        gm_rng r;
        gm_rng_init(&r, d->cfg.seed, gm_rng_stream_id(GM_STREAM_PARTICLE, ((uint64_t)1 << 55) + 1));
        rc = gm_resample(GM_RESAMPLE_SYSTEMATIC, W, n, m, &r, anc);
    } else if (mode == GM_DAS_OUT_ARGMAX) {
        size_t best = 0;
        for (size_t k = 1; k < n; k++)
            if (W[k] > W[best]) best = k;
        for (size_t k = 0; k < m; k++) anc[k] = best;
    } else {
        rc = gm_set_error(GM_EINVAL, "das: unknown output mode %d", (int)mode);
    }
    if (rc == GM_OK)
        for (size_t k = 0; k < m; k++) memcpy(out + k * D, d->x + anc[k] * D, D * sizeof *out);
    gm_free(W);
    gm_free(anc);
    return rc;
}
