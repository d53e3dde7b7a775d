/* SPDX-License-Identifier: MIT */
/* genmix/mcmc.h — latent decode->encode Markov chains for generative autoencoders, chain diagnostics
 * (ESS, split R-hat), slerp, and the linear-Gaussian autoencoder whose chain has closed-form stationary
 * moments. Two-sample statistics between latent sets (MMD, C2ST, SWD, ...) are in eval.h (spec: latent_mcmc.md, sections 1.2-1.5, 3, 4.3).
 *
 * Usage (the caller owns the loop, GSL style):
 *     gm_ae_model m = ...;                       // function pointers + params (neural or linear AE)
 *     gm_latent_mcmc_config cfg = gm_latent_mcmc_config_default();
 *     cfg.n_chains = 10000; cfg.dec_mode = GM_LATENT_DECODE_MEAN; cfg.seed = 42;
 *     gm_latent_mcmc *s;
 *     if (gm_latent_mcmc_create(&s, &cfg, &m) != GM_OK) { puts(gm_last_error()); return 1; }
 *     for (int t = 0; t < 10; t++) if (gm_latent_mcmc_step(s) != GM_OK) break;  // z_{t+1} ~ T(.|z_t)
 *     gm_latent_mcmc_decode(s, images);          // decoder means of the current states (n x D)
 *     gm_latent_mcmc_free(s);
 *
 * The transition (one step, per chain):  x ~ P(x|z) (or its mean),  x~ = x + sigma_c N(0,I) (optional),
 * z' ~ Q(z|x~) (or its mean). All noise is drawn by the chain from one Philox stream per chain
 * (seed, GM_STREAM_CHAIN, chain index); the model functions are deterministic. Draw order per chain and
 * step: decoder noise (D uniforms for Bernoulli / D normals for Gaussian, only when sampling), corruption
 * (D normals, only when sigma_c > 0), encoder noise (d normals, or enc_noise_dim normals for a custom
 * reparameterised encoder, only when sampling). The result is therefore identical for any batch size
 * and any thread count.
 *
 * Ownership: the chain borrows the gm_ae_model (and whatever its params point to) until
 * gm_latent_mcmc_free; it owns its state buffers, allocated once at create (step never allocates).
 * Pointers returned by gm_latent_mcmc_z stay valid until free. The diagnostics functions borrow their
 * inputs and allocate only where stated.
 * Thread safety: one chain object per thread; the model callbacks are called from the calling thread
 * only (they may use OpenMP/BLAS inside). Errors: int status + gm_last_error() (base.h).
 */
#ifndef GM_MCMC_H
#define GM_MCMC_H

#include "genmix/ae.h" /* the autoencoder interface gm_ae_model */
#include "genmix/base.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ==== the decode->encode chain =================================================================== */

typedef enum { GM_LATENT_DECODE_MEAN = 0, GM_LATENT_DECODE_SAMPLE = 1 } gm_latent_decode_mode;
typedef enum { GM_LATENT_ENCODE_MEAN = 0, GM_LATENT_ENCODE_SAMPLE = 1 } gm_latent_encode_mode;

typedef struct {
    size_t n_chains;                /* number of independent chains (>= 1) */
    size_t batch;                   /* chains per model call; 0 = min(n_chains, 1024) */
    gm_latent_decode_mode dec_mode; /* default MEAN (all public code); SAMPLE = paper eq. 1 */
    gm_latent_encode_mode enc_mode; /* default SAMPLE (ignored for deterministic encoders) */
    double corrupt_sigma;           /* sigma_c of the denoising variant (0 = none); no clipping */
    double z0_std;                  /* z_0 ~ N(0, z0_std^2 I); default 1 */
    uint64_t seed;
} gm_latent_mcmc_config;

gm_latent_mcmc_config gm_latent_mcmc_config_default(void);

typedef struct gm_latent_mcmc gm_latent_mcmc;

/* Running diagnostics of the current states (double, fixed-order sums; identical for any thread
 * count). Chain-averaged: step_sq = E||z_t - z_{t-1}||^2, drift_sq = E||z_t - z_0||^2, norm_mean =
 * E||z_t||, norm_max = max ||z_t||. */
typedef struct {
    size_t t;
    double step_sq;
    double drift_sq;
    double norm_mean;
    double norm_max;
} gm_latent_mcmc_stats;

/* Create n_chains chains at z_0 ~ N(0, z0_std^2 I) (drawn from each chain's stream). Checks the
 * configuration and the model (GM_EINVAL naming the field). On failure *out = NULL. */
int gm_latent_mcmc_create(gm_latent_mcmc **out, const gm_latent_mcmc_config *cfg, const gm_ae_model *model);
/* One transition for every chain. Never allocates. GM_ENUMERIC (naming the chain and step) if a
 * state becomes NaN/Inf; a model error is passed on. */
int gm_latent_mcmc_step(gm_latent_mcmc *s);
/* Replace the states by z (n_chains x d, copied), reset t to 0 and z_0 := z. The random streams
 * continue where they were (a fresh chain object gives a fresh start). */
int gm_latent_mcmc_set_z(gm_latent_mcmc *s, const float *z);
/* Current states, n_chains x d, row-major. Borrowed; valid until free, updated by step. */
const float *gm_latent_mcmc_z(const gm_latent_mcmc *s);
/* Decoder means of the current states into x_out (n_chains x D, caller-owned). */
int gm_latent_mcmc_decode(gm_latent_mcmc *s, float *x_out);
gm_latent_mcmc_stats gm_latent_mcmc_get_stats(const gm_latent_mcmc *s);
size_t gm_latent_mcmc_n_chains(const gm_latent_mcmc *s);
void gm_latent_mcmc_free(gm_latent_mcmc *s);

/* Step the chain and record the decoder means after the steps listed in `record` (strictly
 * increasing, relative to the current t; 0 = the current states): out is n_record x n_chains x D,
 * caller-owned. On return the chain stands at the last recorded step. */
int gm_latent_mcmc_run(gm_latent_mcmc *s, const size_t *record, size_t n_record, float *out);

/* Interpolation with MCMC refinement (spec 4.4): n_points codes z_i = slerp (or linear when
 * use_slerp = 0) between za and zb (d each) at mu = i / (n_points - 1); one chain per point (cfg
 * n_chains is overridden); rows of decoder means after the steps in `record`:
 * out is n_record x n_points x D. Allocates one chain object. */
int gm_latent_interpolate(const gm_ae_model *model, const gm_latent_mcmc_config *cfg, const float *za,
                          const float *zb, size_t n_points, int use_slerp, const size_t *record, size_t n_record,
                          float *out);

/* ==== diagnostics ================================================================================ */

/* Effective sample size of a scalar quantity over m chains of n draws each (draws chain-major:
 * x[c * n + i]), following Gelman et al. BDA3 section 11.5 / Stan: combined autocorrelation
 * rho_t = 1 - (W - mean_c acov_c(t)) / var_plus, truncated by Geyer's initial monotone positive
 * sequence; ESS = m n / tau. Needs n >= 4. O(m n L) time for L kept lags; allocates O(n).
 * A constant input gives ESS = m n. */
int gm_mcmc_ess(const double *x, size_t m, size_t n, double *ess);
/* Split R-hat (BDA3): each chain is split into halves (the middle draw of an odd n is dropped),
 * R = sqrt(var_plus / W) over the 2m half-chains. Needs n >= 4; constant input gives 1. */
int gm_mcmc_rhat(const double *x, size_t m, size_t n, double *rhat);

/* Spherical interpolation slerp(a, b; mu) = [sin((1-mu) th) a + sin(mu th) b] / sin th with
 * th = angle(a, b) (White 2016); linear interpolation when th < 1e-6 or a vector is zero.
 * out may alias neither a nor b. */
void gm_latent_slerp(float *out, const float *a, const float *b, size_t d, double mu);

/* ==== linear-Gaussian autoencoders (closed forms, spec section 3) ================================ */

/* Encoder q(z|x) = N(A x + b, diag(enc_std^2)); decoder p(x|z) = N(W z + c, diag(dec_std^2)).
 * All arrays row-major double and borrowed. b, c may be NULL (zero); enc_std NULL = deterministic
 * encoder (S = 0); dec_std NULL = noiseless decoder (Psi = 0). */
typedef struct {
    size_t D, d;
    const double *A;       /* d x D */
    const double *b;       /* d */
    const double *enc_std; /* d */
    const double *W;       /* D x d */
    const double *c;       /* D */
    const double *dec_std; /* D */
} gm_linear_ae;

/* The gm_ae_model view of a linear AE (Gaussian likelihood); borrows `ae` (params = ae). */
gm_ae_model gm_linear_ae_model(const gm_linear_ae *ae);

/* One-step law of the chain: z' = M z + m + eta, eta ~ N(0, Q), with M = A W (d x d), m = A c + b (d),
 * Q = A (Psi 1[dec sample] + sigma_c^2 I) A^T + S 1[enc sample] (d x d). Outputs caller-owned. */
void gm_linear_ae_transition(const gm_linear_ae *ae, gm_latent_decode_mode dm, gm_latent_encode_mode em,
                             double sigma_c, double *M, double *m, double *Q);
/* Moments after t steps from z_0 ~ N(mu0, Sigma0): mu_t = M mu_{t-1} + m, Sigma_t = M Sigma_{t-1} M^T + Q.
 * mu0 NULL = 0, Sigma0 NULL = 0 (a fixed start). Allocates O(d^2). */
int gm_linear_ae_moments_at(const gm_linear_ae *ae, gm_latent_decode_mode dm, gm_latent_encode_mode em,
                            double sigma_c, const double *mu0, const double *Sigma0, size_t t, double *mu_t,
                            double *Sigma_t);
/* Stationary law: mu_inf = (I - M)^{-1} m and the solution of Sigma = M Sigma M^T + Q (doubling
 * algorithm). GM_ENUMERIC "no stationary law" when the spectral radius of M is >= 1 (to within
 * ~1e-9). Allocates O(d^2). Either output may be NULL. rho_out (optional) gets the spectral radius
 * estimate. */
int gm_linear_ae_stationary(const gm_linear_ae *ae, gm_latent_decode_mode dm, gm_latent_encode_mode em,
                            double sigma_c, double *mu_inf, double *Sigma_inf, double *rho_out);
/* Aggregated posterior for Gaussian data N(mu_x, Sigma_x) (D, D x D): mean A mu_x + b, covariance
 * A (Sigma_x + sigma_c^2 I) A^T + S (sigma_c = 0: the clean P-hat; > 0: the corrupted one). */
void gm_linear_ae_aggregated_posterior(const gm_linear_ae *ae, const double *mu_x, const double *Sigma_x,
                                       double sigma_c, double *mean, double *cov);

#ifdef __cplusplus
}
#endif
#endif /* GM_MCMC_H */
