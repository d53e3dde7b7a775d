/* SPDX-License-Identifier: MIT */
/* genmix/smc.h — sequential Monte Carlo particle system: log-weights, ESS, resampling, tempering, log Ẑ.
 *
 * Usage (the caller owns the loop; GSL-style state machine):
 *     gm_smc_config c = gm_smc_config_default(100);  c.scheme = GM_RESAMPLE_SSP;
 *     gm_smc *s;  gm_smc_create(&s, &c);
 *     gm_smc_register(s, x, d * sizeof(float));         // every per-particle array, any row width
 *     gm_smc_register(s, twist, sizeof(double));
 *     for (...) {
 *         ... compute incremental log-weights a[0..N-1] ...
 *         int resampled;
 *         if (gm_smc_step(s, a, &resampled) != GM_OK) ...  // reweight, then resample iff ESS < tau N
 *     }
 *     double logZ = gm_smc_log_evidence(s);
 *     gm_smc_free(s);
 *
 * Semantics: log-weights are carried unnormalised in double. gm_smc_step adds a[k] to lw[k] and adds
 * LSE(lw + a) - LSE(lw) to log Ẑ (so exp(log Ẑ) is unbiased for the normalising constant of the product of
 * the potentials), records the ESS = 1 / sum W_k^2 of the new weights and, if ESS < ess_threshold * N,
 * draws ancestors with the configured scheme and gathers EVERY registered array by one ancestor vector
 * (rows move together), then resets all log-weights to 0. A log-weight may be -inf (a dead particle) but
 * never NaN or +inf; if every particle is dead the step fails with GM_ENUMERIC.
 * Randomness: resampling at step j uses Philox stream {GM_STREAM_PARTICLE, index 2^55} with counter word 3
 * = j, so results are a pure function of (seed, inputs) whatever the thread count.
 *
 * Ownership: registered arrays are borrowed (the caller keeps them alive until gm_smc_free); the system
 * owns its weights, ancestor vector and scratch rows. Thread safety: one gm_smc per thread; the free
 * functions below are reentrant.
 */
#ifndef GM_SMC_H
#define GM_SMC_H

#include "genmix/base.h"
#include "genmix/rng.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- resampling ------------------------------------------------------------------------------- */

typedef enum {
    GM_RESAMPLE_SYSTEMATIC = 0, /* one U, positions (U + n)/m, inverse CDF */
    GM_RESAMPLE_SSP = 1,        /* Srinivasan sampling process: floor(mW) + pairwise-resolved fractions */
    GM_RESAMPLE_MULTINOMIAL = 2 /* m i.i.d. draws (inverse CDF on sorted uniforms) */
} gm_resample_scheme;

/* "systematic" | "ssp" | "multinomial" -> scheme; GM_EINVAL naming the string otherwise. */
int gm_resample_parse(const char *name, gm_resample_scheme *out);
const char *gm_resample_name(gm_resample_scheme s);

/* Draw m ancestor indices anc[0..m-1] in [0, n) from normalised weights W[0..n-1] (W >= 0, sum 1 up
 * to round-off), m >= 1. Systematic and SSP give every particle floor(m W_k) or ceil(m W_k) children.
 * Ancestors come out sorted. Returns GM_OK, GM_EINVAL (bad sizes/scheme/weights), GM_ENOMEM, or
 * GM_ENUMERIC (SSP could not repair round-off). */
int gm_resample(gm_resample_scheme scheme, const double *W, size_t n, size_t m, gm_rng *rng, size_t *anc);

/* ---- weights ---------------------------------------------------------------------------------- */

/* log sum_k exp(x_k), max-shifted; -inf if every x_k is -inf (or n == 0). */
double gm_log_sum_exp(const double *x, size_t n);
/* W = softmax(lw) (max-shifted). Returns the log of the normaliser, LSE(lw). */
double gm_log_weights_normalise(const double *lw, size_t n, double *W);
/* ESS = 1 / sum W_k^2 of the normalised weights of lw (0 if all are -inf). */
double gm_ess(const double *lw, size_t n);
/* Pooling of K independent SMC runs: run k's self-normalised estimates v[k*nv .. k*nv+nv) weighted by its
 * evidence estimate, a_k = Ẑ_k / sum_l Ẑ_l (from log_z, max-shifted): mean_j = sum_k a_k v_kj. This ratio
 * estimator is consistent as K grows at any fixed N, where the equal-weight mean of the runs keeps the
 * O(1/N) bias of self-normalisation. se (may be NULL): its delta-method standard error,
 * sqrt(sum_k a_k^2 (v_kj - mean_j)^2). Runs with log Ẑ = -inf get weight 0. GM_EINVAL if a log Ẑ is NaN
 * or +inf, or none is finite. No allocation. */
int gm_smc_pool_runs(const double *log_z, const double *v, size_t runs, size_t nv, double *mean, double *se);

/* ---- tempering -------------------------------------------------------------------------------- */

typedef enum {
    GM_TEMPER_EXP = 0,      /* lambda_i = min((1 + gamma)^i - 1, 1) */
    GM_TEMPER_NONE = 1,     /* lambda_i = 1 at every step (TDS) */
    GM_TEMPER_ADAPTIVE = 2  /* bisection on ESS (gm_temper_adapt) */
} gm_temper_mode;

int gm_temper_parse(const char *name, gm_temper_mode *out); /* "exp" | "none" | "adaptive" */
/* min((1+gamma)^i - 1, 1). */
double gm_temper_exp(int i, double gamma);
/* The genmix default gamma(S) = 2^(1/(0.87 S)) - 1 (0.00800 at S = 100; lambda reaches 1 at ~87% of S). */
double gm_temper_default_gamma(int n_steps);
/* Adaptive exponent: with a_k(l) = base[k] + l * slope[k] (base = inc - previous twist, slope = r̂/alpha),
 * find l in [lo, 1] with ESS(lw + a(l))/N = rho by bisection (tolerance 1e-4, <= 100 iterations):
 * returns 1 if ESS(1)/N >= rho, lo if ESS(lo)/N < rho, else the lower end of the final bracket.
 * Entries with base or slope non-finite count as dead. */
double gm_temper_adapt(const double *lw, const double *base, const double *slope, size_t n, double lo,
                       double rho);

/* ---- the particle system ---------------------------------------------------------------------- */

typedef struct {
    size_t n_particles;          /* N >= 1 */
    double ess_threshold;        /* tau: resample iff ESS < tau N; >= 1 always; <= 0 never (default 0.5) */
    gm_resample_scheme scheme;   /* default GM_RESAMPLE_SSP */
    uint64_t seed;
} gm_smc_config;

gm_smc_config gm_smc_config_default(size_t n_particles);

typedef struct gm_smc gm_smc;

int gm_smc_create(gm_smc **out, const gm_smc_config *cfg);
void gm_smc_free(gm_smc *s);
/* Register a per-particle array of N rows of row_bytes bytes each (borrowed). Up to 32 arrays. */
int gm_smc_register(gm_smc *s, void *data, size_t row_bytes);
/* lw += a, log Ẑ += LSE(lw + a) - LSE(lw), ESS recorded; then resample iff ESS < tau N.
 * `a` may hold -inf (kill), never NaN/+inf (GM_ENUMERIC naming the particle). *resampled may be NULL. */
int gm_smc_step(gm_smc *s, const double *a, int *resampled);
/* The reweighting half of gm_smc_step only (no resampling), e.g. for a terminal potential. */
int gm_smc_reweight(gm_smc *s, const double *a);
/* Force a resampling now (e.g. the final one of an output mode); same gather/reset as in step. */
int gm_smc_resample_now(gm_smc *s);

size_t gm_smc_size(const gm_smc *s);
const double *gm_smc_log_weights(const gm_smc *s);   /* N unnormalised log-weights */
void gm_smc_weights(const gm_smc *s, double *W);     /* normalised weights into W[0..N-1] */
double gm_smc_ess(const gm_smc *s);                  /* ESS after the last step's reweighting */
double gm_smc_log_evidence(const gm_smc *s);         /* log Ẑ accumulated so far */
const size_t *gm_smc_ancestors(const gm_smc *s);     /* last resampling's ancestors (identity if none) */
int gm_smc_n_steps(const gm_smc *s);
int gm_smc_n_resamples(const gm_smc *s);

#ifdef __cplusplus
}
#endif
#endif /* GM_SMC_H */
